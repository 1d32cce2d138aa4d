// SPDX-License-Identifier: Apache-2.0
/*
 * seccomp: libseccomp turns the profile into BPF in the runtime (before fork), and the
 * container's init loads that raw BPF with seccomp(2). Loading it ourselves, rather than
 * through seccomp_load(), lets the init ask for SECCOMP_FILTER_FLAG_NEW_LISTENER and the other
 * flags without carrying a libseccomp context across the fork, and keeps libseccomp from
 * setting no_new_privs behind the config's back.
 */
#include <errno.h>
#include <stddef.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>
#include "runtime/names.h"
#include "runtime/seccomp.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/strv.h"

#ifndef SECCOMP_FILTER_FLAG_TSYNC_ESRCH
#define SECCOMP_FILTER_FLAG_TSYNC_ESRCH (1UL << 4)
#endif
#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif

/* The kernel's limit on one filter (BPF_MAXINSNS); the count goes in an unsigned short. */
#define RT_SECCOMP_MAX_INSNS 4096

struct rt_seccomp_prog {
	struct sock_filter *insns;
	unsigned short len;
	unsigned int flags; /* SECCOMP_FILTER_FLAG_* for seccomp(2) */
};

static const char *const known_actions[] = {
	"SCMP_ACT_ALLOW",	"SCMP_ACT_ERRNO",
	"SCMP_ACT_KILL",	"SCMP_ACT_KILL_PROCESS",
	"SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG",
	"SCMP_ACT_NOTIFY",	"SCMP_ACT_TRACE",
	"SCMP_ACT_TRAP",	NULL,
};

static const char *const known_ops[] = {
	"SCMP_CMP_EQ", "SCMP_CMP_GE",	     "SCMP_CMP_GT", "SCMP_CMP_LE",
	"SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE", NULL,
};

/* Every name is "SCMP_ARCH_" + libseccomp's own name in upper case. */
static const char *const known_archs[] = {
	"SCMP_ARCH_X86",     "SCMP_ARCH_X86_64",   "SCMP_ARCH_X32",	    "SCMP_ARCH_ARM",
	"SCMP_ARCH_AARCH64", "SCMP_ARCH_MIPS",	   "SCMP_ARCH_MIPS64",	    "SCMP_ARCH_MIPS64N32",
	"SCMP_ARCH_MIPSEL",  "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC",
	"SCMP_ARCH_PPC64",   "SCMP_ARCH_PPC64LE",  "SCMP_ARCH_S390",	    "SCMP_ARCH_S390X",
	"SCMP_ARCH_PARISC",  "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64",	    NULL,
};

static const struct {
	const char *name;
	unsigned int flag;
	enum scmp_filter_attr attr; /* 0: no libseccomp attribute to probe support with */
} known_flags[] = {
	{ "SECCOMP_FILTER_FLAG_TSYNC", SECCOMP_FILTER_FLAG_TSYNC, SCMP_FLTATR_CTL_TSYNC },
	{ "SECCOMP_FILTER_FLAG_LOG", SECCOMP_FILTER_FLAG_LOG, SCMP_FLTATR_CTL_LOG },
	{ "SECCOMP_FILTER_FLAG_SPEC_ALLOW", SECCOMP_FILTER_FLAG_SPEC_ALLOW, SCMP_FLTATR_CTL_SSB },
	{ "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, 0 },
};

static const char *const known_flag_names[] = {
	"SECCOMP_FILTER_FLAG_TSYNC",
	"SECCOMP_FILTER_FLAG_LOG",
	"SECCOMP_FILTER_FLAG_SPEC_ALLOW",
	"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
	NULL,
};

const char *const *rt_seccomp_known_actions(void)
{
	return known_actions;
}

const char *const *rt_seccomp_known_archs(void)
{
	return known_archs;
}

const char *const *rt_seccomp_known_flags(void)
{
	return known_flag_names;
}

const char *const *rt_seccomp_known_ops(void)
{
	return known_ops;
}

static const char *action_name(enum rt_seccomp_action a)
{
	const char *name = rt_seccomp_action_name(a);
	return name ? name : "unknown";
}

/* ERRNO and TRACE default to EPERM when errnoRet is absent, as runc does. */
static int to_scmp_action(enum rt_seccomp_action a, bool has_ret, unsigned ret, uint32_t *out,
			  struct cc_error **err)
{
	uint32_t value = has_ret ? ret : EPERM;

	switch (a) {
	case RT_SCMP_KILL:
	case RT_SCMP_KILL_THREAD:
		*out = SCMP_ACT_KILL_THREAD;
		return 0;
	case RT_SCMP_KILL_PROCESS:
		*out = SCMP_ACT_KILL_PROCESS;
		return 0;
	case RT_SCMP_TRAP:
		*out = SCMP_ACT_TRAP;
		return 0;
	case RT_SCMP_ERRNO:
		*out = SCMP_ACT_ERRNO(value);
		return 0;
	case RT_SCMP_TRACE:
		*out = SCMP_ACT_TRACE(value);
		return 0;
	case RT_SCMP_ALLOW:
		*out = SCMP_ACT_ALLOW;
		return 0;
	case RT_SCMP_LOG:
		*out = SCMP_ACT_LOG;
		return 0;
	case RT_SCMP_NOTIFY:
		*out = SCMP_ACT_NOTIFY;
		return 0;
	}
	return cc_error_set(err, 0, "unknown action %d", (int)a);
}

static int to_scmp_op(enum rt_seccomp_op op, enum scmp_compare *out, struct cc_error **err)
{
	switch (op) {
	case RT_SCMP_OP_NE:
		*out = SCMP_CMP_NE;
		return 0;
	case RT_SCMP_OP_LT:
		*out = SCMP_CMP_LT;
		return 0;
	case RT_SCMP_OP_LE:
		*out = SCMP_CMP_LE;
		return 0;
	case RT_SCMP_OP_EQ:
		*out = SCMP_CMP_EQ;
		return 0;
	case RT_SCMP_OP_GE:
		*out = SCMP_CMP_GE;
		return 0;
	case RT_SCMP_OP_GT:
		*out = SCMP_CMP_GT;
		return 0;
	case RT_SCMP_OP_MASKED_EQ:
		*out = SCMP_CMP_MASKED_EQ;
		return 0;
	}
	return cc_error_set(err, 0, "unknown operator %d", (int)op);
}

static int add_arch(scmp_filter_ctx ctx, const char *name, struct cc_error **err)
{
	bool known = false;
	for (size_t i = 0; known_archs[i]; i++)
		known = known || !strcmp(known_archs[i], name);
	if (!known)
		return cc_error_set(err, 0, "unknown architecture \"%s\"", name);

	/* "SCMP_ARCH_X86_64" -> "x86_64", libseccomp's name. */
	_cleanup_free_ char *lower = xstrdup(name + strlen("SCMP_ARCH_"));
	for (char *c = lower; *c; c++)
		*c = (char)(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
	uint32_t arch = seccomp_arch_resolve_name(lower);
	if (!arch)
		return cc_error_set(err, 0, "architecture \"%s\" is not supported by libseccomp",
				    name);
	int r = seccomp_arch_add(ctx, arch);
	/* The native architecture is in every new context already. */
	if (r == -EDOM)
		return cc_error_set(
		    err, EDOM, "architecture \"%s\" has another byte order than the native one",
		    name);
	if (r < 0 && r != -EEXIST)
		return cc_error_set(err, -r, "add architecture \"%s\"", name);
	return 0;
}

static int set_flags(scmp_filter_ctx ctx, char *const *flags, unsigned int *out,
		     struct cc_error **err)
{
	for (size_t i = 0; flags && flags[i]; i++) {
		size_t k;
		for (k = 0; k < ARRAY_SIZE(known_flags); k++)
			if (!strcmp(known_flags[k].name, flags[i]))
				break;
		if (k == ARRAY_SIZE(known_flags))
			return cc_error_set(err, 0, "flag \"%s\" is not supported", flags[i]);
		/* The attribute does not change the exported BPF; setting it makes libseccomp
		 * check that this kernel supports the flag, so the error comes before fork. */
		if (known_flags[k].attr) {
			int r = seccomp_attr_set(ctx, known_flags[k].attr, 1);
			if (r < 0)
				return cc_error_set(err, -r, "flag \"%s\"", flags[i]);
		}
		*out |= known_flags[k].flag;
	}
	return 0;
}

/*
 * Like runc: when two conditions test the same argument, libseccomp cannot AND them in one rule,
 * so each condition becomes a rule of its own (any of them matching triggers the action).
 */
static int add_rule_args(scmp_filter_ctx ctx, uint32_t action, int nr,
			 const struct rt_seccomp_rule *rule, struct cc_error **err)
{
	_cleanup_free_ struct scmp_arg_cmp *conds = xcalloc(rule->n_args, sizeof(*conds));
	unsigned seen[6] = { 0 };
	bool repeated = false;

	for (size_t i = 0; i < rule->n_args; i++) {
		const struct rt_seccomp_arg *a = &rule->args[i];
		enum scmp_compare op = SCMP_CMP_EQ;
		if (a->index >= ARRAY_SIZE(seen))
			return cc_error_set(err, 0, "argument index %u out of range (0-5)",
					    a->index);
		if (to_scmp_op(a->op, &op, err) < 0)
			return -1;
		conds[i] = (struct scmp_arg_cmp){ a->index, op, a->value, a->value_two };
		repeated = repeated || seen[a->index]++;
	}
	if (!repeated) {
		int r = seccomp_rule_add_array(ctx, action, nr, (unsigned)rule->n_args, conds);
		return r < 0 ? cc_error_set(err, -r, "add rule") : 0;
	}
	for (size_t i = 0; i < rule->n_args; i++) {
		int r = seccomp_rule_add_array(ctx, action, nr, 1, &conds[i]);
		if (r < 0)
			return cc_error_set(err, -r, "add rule for argument %u", conds[i].arg);
	}
	return 0;
}

static int add_rule(scmp_filter_ctx ctx, uint32_t def_action, const struct rt_seccomp_rule *rule,
		    size_t idx, int *max_nr, struct cc_error **err)
{
	uint32_t action;

	if (to_scmp_action(rule->action, rule->has_errno_ret, rule->errno_ret, &action, err) < 0)
		return cc_error_prefix(err, "syscalls[%zu]", idx);
	for (size_t i = 0; rule->names && rule->names[i]; i++) {
		const char *name = rule->names[i];
		if (!*name)
			return cc_error_set(err, 0, "syscalls[%zu]: empty syscall name", idx);
		int nr = seccomp_syscall_resolve_name(name);
		if (nr == __NR_SCMP_ERROR) {
			cc_debug("seccomp: unknown syscall \"%s\" ignored", name);
			continue;
		}
		if (nr > *max_nr)
			*max_nr = nr;
		/* libseccomp refuses a rule that repeats the default action; it is a no-op. */
		if (action == def_action)
			continue;
		int r = 0;
		if (rule->n_args == 0) {
			r = seccomp_rule_add(ctx, action, nr, 0);
			if (r < 0)
				cc_error_set(err, -r, "add rule");
		} else {
			r = add_rule_args(ctx, action, nr, rule, err);
		}
		if (r < 0)
			return cc_error_prefix(err, "syscalls[%zu] (%s, %s)", idx, name,
					       action_name(rule->action));
	}
	return 0;
}

/* libseccomp 2.5 exports only to an fd: go through a memfd and read the program back. */
static int export_bpf(scmp_filter_ctx ctx, struct rt_seccomp_prog *p, struct cc_error **err)
{
	_cleanup_close_ int fd = memfd_create("rune-seccomp", MFD_CLOEXEC);
	struct stat st;

	if (fd < 0)
		return cc_error_errno(err, "memfd_create");
	int r = seccomp_export_bpf(ctx, fd);
	if (r < 0)
		return cc_error_set(err, -r, "export BPF");
	if (fstat(fd, &st) < 0)
		return cc_error_errno(err, "stat exported BPF");
	size_t n = (size_t)st.st_size / sizeof(struct sock_filter);
	if (st.st_size <= 0 || (size_t)st.st_size % sizeof(struct sock_filter))
		return cc_error_set(err, 0, "exported BPF has a bad size (%lld bytes)",
				    (long long)st.st_size);
	if (n > RT_SECCOMP_MAX_INSNS)
		return cc_error_set(err, 0,
				    "filter too large: %zu instructions (the kernel takes %d)", n,
				    RT_SECCOMP_MAX_INSNS);
	p->insns = xcalloc(n, sizeof(struct sock_filter));
	if (pread(fd, p->insns, (size_t)st.st_size, 0) != st.st_size)
		return cc_error_errno(err, "read exported BPF");
	p->len = (unsigned short)n;
	return 0;
}

/*
 * A profile written before a syscall existed blocks it with the default action, typically
 * EPERM, and C libraries fall back to an older syscall only on ENOSYS (clone3, close_range,
 * faccessat2, openat2...). Like runc, answer ENOSYS for every native syscall numbered above
 * the highest one the profile names: those are newer than the profile. Other architectures
 * and all older syscalls go through the profile's own program unchanged.
 */
static int prepend_enosys(struct rt_seccomp_prog *p, uint32_t max_nr, struct cc_error **err)
{
	const struct sock_filter prefix[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, seccomp_arch_native(), 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, max_nr, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)),
	};
	size_t n = ARRAY_SIZE(prefix) + p->len;
	if (n > RT_SECCOMP_MAX_INSNS)
		return cc_error_set(err, 0,
				    "filter too large: %zu instructions (the kernel takes %d)", n,
				    RT_SECCOMP_MAX_INSNS);
	struct sock_filter *insns = xcalloc(n, sizeof(*insns));
	memcpy(insns, prefix, sizeof(prefix));
	memcpy(insns + ARRAY_SIZE(prefix), p->insns, p->len * sizeof(*insns));
	free(p->insns);
	p->insns = insns;
	p->len = (unsigned short)n;
	return 0;
}

static bool uses_notify(const struct rt_seccomp *s)
{
	for (size_t i = 0; i < s->n_syscalls; i++)
		if (s->syscalls[i].action == RT_SCMP_NOTIFY)
			return true;
	return false;
}

static int build(scmp_filter_ctx ctx, const struct rt_seccomp *s, uint32_t def_action,
		 struct rt_seccomp_prog *p, struct cc_error **err)
{
	for (size_t i = 0; s->architectures && s->architectures[i]; i++)
		if (add_arch(ctx, s->architectures[i], err) < 0)
			return -1;
	if (set_flags(ctx, s->flags, &p->flags, err) < 0)
		return -1;
	int max_nr = -1;
	for (size_t i = 0; i < s->n_syscalls; i++)
		if (add_rule(ctx, def_action, &s->syscalls[i], i, &max_nr, err) < 0)
			return -1;
	if (export_bpf(ctx, p, err) < 0)
		return -1;
	if (def_action != SCMP_ACT_ALLOW && def_action != SCMP_ACT_LOG && max_nr >= 0)
		return prepend_enosys(p, (uint32_t)max_nr, err);
	return 0;
}

/* What libseccomp would accept but runc refuses, plus the default action's value. */
static int check_profile(const struct rt_seccomp *s, uint32_t *def_action, struct cc_error **err)
{
	if (s->default_action == RT_SCMP_NOTIFY)
		return cc_error_set(err, 0, "SCMP_ACT_NOTIFY cannot be used as the default action");
	if (to_scmp_action(s->default_action, s->has_default_errno_ret, s->default_errno_ret,
			   def_action, err) < 0)
		return cc_error_prefix(err, "defaultAction");
	if (uses_notify(s) && (!s->listener_path || !*s->listener_path))
		return cc_error_set(err, 0, "SCMP_ACT_NOTIFY is used but listenerPath is not set");
	/* Between installing the filter and execve the init may still write (an error report);
	 * with nobody answering yet that write would hang forever. */
	for (size_t i = 0; i < s->n_syscalls; i++)
		if (s->syscalls[i].action == RT_SCMP_NOTIFY &&
		    cc_strv_contains(s->syscalls[i].names, "write"))
			return cc_error_set(err, 0,
					    "syscalls[%zu]: SCMP_ACT_NOTIFY cannot be used for the "
					    "write syscall",
					    i);
	return 0;
}

struct rt_seccomp_prog *rt_seccomp_compile(const struct rt_seccomp *s, struct cc_error **err)
{
	uint32_t def_action;

	if (check_profile(s, &def_action, err) < 0)
		return NULL;
	scmp_filter_ctx ctx = seccomp_init(def_action);
	if (!ctx) {
		cc_error_set(err, 0, "cannot initialise libseccomp with defaultAction %s",
			     action_name(s->default_action));
		return NULL;
	}
	struct rt_seccomp_prog *p = xzalloc(sizeof(*p));
	int r = build(ctx, s, def_action, p, err);
	seccomp_release(ctx);
	if (r < 0) {
		rt_seccomp_prog_free(p);
		return NULL;
	}
	if (uses_notify(s)) {
		p->flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
		/* The kernel refuses TSYNC with a listener unless told to report ESRCH. */
		if (p->flags & SECCOMP_FILTER_FLAG_TSYNC)
			p->flags |= SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
	} else {
		/* Only meaningful with a listener; the kernel rejects it without one. */
		p->flags &= ~(unsigned int)SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
	}
	return p;
}

void rt_seccomp_prog_free(struct rt_seccomp_prog *p)
{
	if (!p)
		return;
	free(p->insns);
	free(p);
}

int rt_seccomp_install(const struct rt_seccomp_prog *p, struct cc_error **err)
{
	struct sock_fprog prog = { .len = p->len, .filter = p->insns };

	long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, p->flags, &prog);
	if (r < 0) {
		if (errno == EACCES)
			return cc_error_set(err, EACCES,
					    "seccomp: cannot install the filter: no_new_privileges "
					    "is not set and the process lacks CAP_SYS_ADMIN");
		return cc_error_errno(err, "seccomp: install filter (flags 0x%x)", p->flags);
	}
	return p->flags & SECCOMP_FILTER_FLAG_NEW_LISTENER ? (int)r : 0;
}

static int unix_connect(const char *path, struct cc_error **err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (strlen(path) >= sizeof(sa.sun_path))
		return cc_error_set(err, ENAMETOOLONG, "connect %s", path);
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return cc_error_errno(err, "socket");
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		cc_error_errno(err, "connect %s", path);
		close(fd);
		return -1;
	}
	return fd;
}

int rt_seccomp_send_listener(const char *path, int listener_fd, const char *process_state_json,
			     struct cc_error **err)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl = { 0 };
	size_t len = strlen(process_state_json);
	struct iovec iov = { (void *)process_state_json, len };
	struct msghdr msg = { .msg_iov = &iov,
			      .msg_iovlen = 1,
			      .msg_control = ctl.buf,
			      .msg_controllen = sizeof(ctl.buf) };

	_cleanup_close_ int fd = unix_connect(path, err);
	if (fd < 0)
		return cc_error_prefix(err, "seccomp listener");
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &listener_fd, sizeof(int));

	ssize_t n;
	while ((n = sendmsg(fd, &msg, MSG_NOSIGNAL)) < 0 && errno == EINTR)
		;
	if (n < 0)
		return cc_error_errno(err, "seccomp listener %s: send", path);
	/* A stream socket may take the state in pieces; the fd went with the first one. */
	for (size_t off = (size_t)n; off < len; off += (size_t)n) {
		n = send(fd, process_state_json + off, len - off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR) {
			n = 0;
			continue;
		}
		if (n < 0)
			return cc_error_errno(err, "seccomp listener %s: send", path);
	}
	return 0;
}
