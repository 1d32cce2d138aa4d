// SPDX-License-Identifier: Apache-2.0
/*
 * Device access rules (linux.resources.devices).
 *
 * Semantics, the same on v1 and v2: rules are read in order and, for each access type (mknod,
 * read, write) separately, the last rule that matches the device decides; nothing matching
 * means deny. An access asking for several types (open O_RDWR) needs all of them allowed.
 * runc's always-allowed devices are appended after the config's rules.
 *
 * v1 keeps a default (allow/deny) plus a list of exceptions and its deny/allow writes only
 * touch exactly matching entries, so the rules are first folded into that form here and then
 * written; a rule that would need a hole in a wider exception (deny c 1:3 after allow c 1:*)
 * has no v1 form and is refused rather than silently ignored. v2 has no devices files: a
 * BPF_PROG_TYPE_CGROUP_DEVICE program generated from the rules is attached to the cgroup.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/bpf.h>
#include "runtime/cgroup-internal.h"
#include "util/cleanup.h"

#define ACC_M 1u /* = BPF_DEVCG_ACC_MKNOD */
#define ACC_R 2u /* = BPF_DEVCG_ACC_READ */
#define ACC_W 4u /* = BPF_DEVCG_ACC_WRITE */
#define ACC_ALL 7u
#define MAX_RULES 4096

#define RULE(t, maj, min, acc)                                                      \
	{                                                                           \
		.allow = true, .type = t, .major = maj, .minor = min, .access = acc \
	}

/* What runc 1.1 always allows (libcontainer/specconv AllowedDevices): mknod of any node, the
 * standard character devices, ptys and /dev/net/tun. /dev/console (5:1) is not among them:
 * a container's console is a pty (136:*). */
static const struct rt_device_rule default_rules[] = {
	RULE('c', -1, -1, "m"),	   /* mknod of any character device */
	RULE('b', -1, -1, "m"),	   /* mknod of any block device */
	RULE('c', 1, 3, "rwm"),	   /* /dev/null */
	RULE('c', 1, 8, "rwm"),	   /* /dev/random */
	RULE('c', 1, 7, "rwm"),	   /* /dev/full */
	RULE('c', 5, 0, "rwm"),	   /* /dev/tty */
	RULE('c', 1, 5, "rwm"),	   /* /dev/zero */
	RULE('c', 1, 9, "rwm"),	   /* /dev/urandom */
	RULE('c', 136, -1, "rwm"), /* /dev/pts/N */
	RULE('c', 5, 2, "rwm"),	   /* /dev/ptmx */
	RULE('c', 10, 200, "rwm"), /* /dev/net/tun */
};

const struct rt_device_rule *rt_cgroup_default_device_rules(size_t *n)
{
	*n = ARRAY_SIZE(default_rules);
	return default_rules;
}

struct rt_device_rule *rt_cg_device_rules(const struct rt_resources *res, size_t *n)
{
	size_t user = res ? res->n_devices : 0;
	struct rt_device_rule *r = xcalloc(user + ARRAY_SIZE(default_rules), sizeof(*r));

	if (user)
		memcpy(r, res->devices, user * sizeof(*r));
	memcpy(r + user, default_rules, sizeof(default_rules));
	*n = user + ARRAY_SIZE(default_rules);
	return r;
}

static unsigned access_mask(const char *a)
{
	unsigned m = 0;
	for (; *a; a++)
		m |= *a == 'm' ? ACC_M : *a == 'r' ? ACC_R : *a == 'w' ? ACC_W : 0;
	return m ? m : ACC_ALL;
}

static void access_str(unsigned m, char out[4])
{
	char *p = out;
	if (m & ACC_R)
		*p++ = 'r';
	if (m & ACC_W)
		*p++ = 'w';
	if (m & ACC_M)
		*p++ = 'm';
	*p = '\0';
}

static int check_rule(const struct rt_device_rule *r, size_t i, struct cc_error **err)
{
	if (r->type != 'a' && r->type != 'b' && r->type != 'c')
		return cc_error_set(err, EINVAL, "cgroup: devices[%zu]: bad type '%c'", i, r->type);
	if (r->major < -1 || r->major > UINT32_MAX || r->minor < -1 || r->minor > UINT32_MAX)
		return cc_error_set(err, EINVAL, "cgroup: devices[%zu]: bad device number", i);
	if (strspn(r->access, "rwm") != strlen(r->access))
		return cc_error_set(err, EINVAL, "cgroup: devices[%zu]: bad access \"%.4s\"", i,
				    r->access);
	return 0;
}

static int check_rules(const struct rt_device_rule *rules, size_t n, struct cc_error **err)
{
	if (n > MAX_RULES)
		return cc_error_set(err, E2BIG, "cgroup: %zu device rules (at most %d)", n,
				    MAX_RULES);
	for (size_t i = 0; i < n; i++)
		if (check_rule(&rules[i], i, err) < 0)
			return -1;
	return 0;
}

static void fmt_num(int64_t v, char *buf, size_t len)
{
	if (v < 0)
		snprintf(buf, len, "*");
	else
		snprintf(buf, len, "%lld", (long long)v);
}

/* "c 1:3 rwm" (the devices.allow / devices.list syntax). */
static void fmt_rule(char type, int64_t major, int64_t minor, unsigned mask, char *buf, size_t len)
{
	char ma[24], mi[24], acc[4];
	fmt_num(major, ma, sizeof(ma));
	fmt_num(minor, mi, sizeof(mi));
	access_str(mask, acc);
	snprintf(buf, len, "%c %s:%s %s", type, ma, mi, acc);
}

/* ---- v1: fold the rules into default + exceptions ---- */

struct dev_ex {
	char type; /* 'b' or 'c' */
	int64_t major, minor;
	unsigned mask;
};

struct dev_state {
	bool default_allow;
	struct dev_ex *ex;
	size_t n;
};

/* a matches every device b matches (and maybe more). */
static bool covers(const struct dev_ex *a, const struct dev_ex *b)
{
	return a->type == b->type && (a->major == -1 || a->major == b->major) &&
	       (a->minor == -1 || a->minor == b->minor);
}

static void ex_add(struct dev_state *st, const struct dev_ex *r)
{
	for (size_t i = 0; i < st->n; i++) {
		if (st->ex[i].type == r->type && st->ex[i].major == r->major &&
		    st->ex[i].minor == r->minor) {
			st->ex[i].mask |= r->mask;
			return;
		}
	}
	st->ex = xreallocarray(st->ex, st->n + 1, sizeof(*st->ex));
	st->ex[st->n++] = *r;
}

static int ex_remove(struct dev_state *st, const struct dev_ex *r, size_t idx,
		     struct cc_error **err)
{
	size_t out = 0;

	for (size_t i = 0; i < st->n; i++) {
		struct dev_ex *e = &st->ex[i];
		if (covers(e, r) && !covers(r, e) && (e->mask & r->mask)) {
			char a[48], b[48];
			fmt_rule(r->type, r->major, r->minor, r->mask, a, sizeof(a));
			fmt_rule(e->type, e->major, e->minor, e->mask, b, sizeof(b));
			return cc_error_set(
			    err, EINVAL,
			    "cgroup: devices[%zu] (%s) cannot be expressed on cgroup "
			    "v1: it would punch a hole in the wider rule %s",
			    idx, a, b);
		}
	}
	for (size_t i = 0; i < st->n; i++) {
		if (covers(r, &st->ex[i]))
			st->ex[i].mask &= ~r->mask;
		if (st->ex[i].mask)
			st->ex[out++] = st->ex[i];
	}
	st->n = out;
	return 0;
}

static int fold_rule(struct dev_state *st, const struct rt_device_rule *r, size_t idx,
		     struct cc_error **err)
{
	unsigned mask = access_mask(r->access);

	if (r->type == 'a' && r->major == -1 && r->minor == -1 && mask == ACC_ALL) {
		st->default_allow = r->allow;
		st->n = 0;
		return 0;
	}
	/* "a" with numbers or a partial access means both kinds of node. */
	for (int k = 0; k < 2; k++) {
		char t = r->type == 'a' ? (k ? 'c' : 'b') : r->type;
		if (r->type != 'a' && k)
			break;
		struct dev_ex e = { .type = t, .major = r->major, .minor = r->minor, .mask = mask };
		if (r->allow != st->default_allow)
			ex_add(st, &e);
		else if (ex_remove(st, &e, idx, err) < 0)
			return -1;
	}
	return 0;
}

/* Exceptions in the order the config lists them, the defaults after (runc appends its
 * AllowedDevices too): written in that order, devices.list shows the config's rules first,
 * in order, which is what the spec asks ("apply entries in the listed order"). */
static int fold_rules(struct dev_state *st, const struct rt_device_rule *rules, size_t n,
		      struct cc_error **err)
{
	st->default_allow = false;
	for (size_t i = 0; i < n; i++)
		if (fold_rule(st, &rules[i], i, err) < 0)
			return -1;
	return 0;
}

static int write_ex(const char *dir, const char *file, const struct dev_ex *e, unsigned mask,
		    struct cc_error **err)
{
	char buf[64];
	fmt_rule(e->type, e->major, e->minor, mask, buf, sizeof(buf));
	return rt_cg_write(dir, file, buf, err);
}

static bool parse_list_line(const char *line, struct dev_ex *e)
{
	char type, ma[16], mi[16], acc[8];

	if (sscanf(line, "%c %15[0-9*]:%15[0-9*] %7s", &type, ma, mi, acc) != 4)
		return false;
	e->type = type;
	e->major = ma[0] == '*' ? -1 : strtoll(ma, NULL, 10);
	e->minor = mi[0] == '*' ? -1 : strtoll(mi, NULL, 10);
	e->mask = access_mask(acc);
	return true;
}

/* A running container already in deny-by-default mode is moved to the new exception list
 * without the deny-everything moment a reset would cause: add first, then take away. */
static int update_deny_mode(const char *dir, const struct dev_state *st, const char *list,
			    struct cc_error **err)
{
	for (size_t i = 0; i < st->n; i++)
		if (write_ex(dir, "devices.allow", &st->ex[i], st->ex[i].mask, err) < 0)
			return -1;
	_cleanup_free_ char *copy = xstrdup(list);
	char *save = NULL;
	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		struct dev_ex cur;
		unsigned keep = 0;
		if (!parse_list_line(l, &cur))
			continue;
		for (size_t i = 0; i < st->n; i++)
			if (st->ex[i].type == cur.type && st->ex[i].major == cur.major &&
			    st->ex[i].minor == cur.minor)
				keep = st->ex[i].mask;
		if ((cur.mask & ~keep) &&
		    write_ex(dir, "devices.deny", &cur, cur.mask & ~keep, err) < 0)
			return -1;
	}
	return 0;
}

int rt_cg1_set_devices(const char *dir, const struct rt_device_rule *rules, size_t n,
		       struct cc_error **err)
{
	struct dev_state st = { 0 };
	_cleanup_free_ char *list = NULL;
	int ret = -1;

	if (check_rules(rules, n, err) < 0 || fold_rules(&st, rules, n, err) < 0)
		goto out;
	list = rt_cg_read(dir, "devices.list", err);
	if (!list)
		goto out;
	if (!st.default_allow && !strstr(list, "a *:* rwm")) {
		ret = update_deny_mode(dir, &st, list, err);
		goto out;
	}
	/* Reset: "a" in devices.deny (or .allow) sets the default and clears the exceptions. */
	if (rt_cg_write(dir, st.default_allow ? "devices.allow" : "devices.deny", "a", err) < 0)
		goto out;
	for (size_t i = 0; i < st.n; i++)
		if (write_ex(dir, st.default_allow ? "devices.deny" : "devices.allow", &st.ex[i],
			     st.ex[i].mask, err) < 0)
			goto out;
	ret = 0;
out:
	free(st.ex);
	return ret;
}

/* ---- v2: a generated eBPF program ---- */

struct prog {
	struct bpf_insn *v;
	size_t n;
};

static size_t emit(struct prog *p, uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm)
{
	p->v = xreallocarray(p->v, p->n + 1, sizeof(*p->v));
	p->v[p->n] = (struct bpf_insn){
		.code = code, .dst_reg = dst, .src_reg = src, .off = off, .imm = imm
	};
	return p->n++;
}

/* Registers: r1 = ctx, then w2 = device type, w3 = requested access, w4 = major, w5 = minor,
 * r1 is reused as scratch. */
static void emit_prologue(struct prog *p)
{
	emit(p, BPF_LDX | BPF_MEM | BPF_W, 2, 1, offsetof(struct bpf_cgroup_dev_ctx, access_type),
	     0);
	emit(p, BPF_ALU | BPF_AND | BPF_K, 2, 0, 0, 0xffff);
	emit(p, BPF_LDX | BPF_MEM | BPF_W, 3, 1, offsetof(struct bpf_cgroup_dev_ctx, access_type),
	     0);
	emit(p, BPF_ALU | BPF_RSH | BPF_K, 3, 0, 0, 16);
	emit(p, BPF_LDX | BPF_MEM | BPF_W, 4, 1, offsetof(struct bpf_cgroup_dev_ctx, major), 0);
	emit(p, BPF_LDX | BPF_MEM | BPF_W, 5, 1, offsetof(struct bpf_cgroup_dev_ctx, minor), 0);
}

static void emit_return(struct prog *p, int32_t v)
{
	emit(p, BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, v);
	emit(p, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
}

/* One rule: fall through to the next one unless type, major and minor all match; a match
 * allows this access type (jump to `done`, patched later) or denies the whole access. */
static void emit_rule(struct prog *p, const struct rt_device_rule *r, size_t *jumps,
		      size_t *n_jumps)
{
	int ncond = (r->type != 'a') + (r->major >= 0) + (r->minor >= 0);
	int action = r->allow ? 1 : 2, k = 0;

	if (r->type != 'a')
		emit(p, BPF_JMP32 | BPF_JNE | BPF_K, 2, 0, (int16_t)(ncond - ++k + action),
		     r->type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR);
	if (r->major >= 0)
		emit(p, BPF_JMP32 | BPF_JNE | BPF_K, 4, 0, (int16_t)(ncond - ++k + action),
		     (int32_t)(uint32_t)r->major);
	if (r->minor >= 0)
		emit(p, BPF_JMP32 | BPF_JNE | BPF_K, 5, 0, (int16_t)(ncond - ++k + action),
		     (int32_t)(uint32_t)r->minor);
	if (r->allow)
		jumps[(*n_jumps)++] = emit(p, BPF_JMP | BPF_JA, 0, 0, 0, 0);
	else
		emit_return(p, 0);
}

/* The decision for one access type: skipped when not requested, else the rules carrying it
 * from last to first, first match wins; none matching denies. */
static int emit_access(struct prog *p, const struct rt_device_rule *rules, size_t n, unsigned bit,
		       struct cc_error **err)
{
	_cleanup_free_ size_t *jumps = xcalloc(n + 1, sizeof(size_t));
	size_t n_jumps = 0;

	emit(p, BPF_ALU | BPF_MOV | BPF_X, 1, 3, 0, 0);
	emit(p, BPF_ALU | BPF_AND | BPF_K, 1, 0, 0, (int32_t)bit);
	jumps[n_jumps++] = emit(p, BPF_JMP32 | BPF_JEQ | BPF_K, 1, 0, 0, 0);
	bool decided = false;
	for (size_t i = n; i-- > 0 && !decided;) {
		if (!(access_mask(rules[i].access) & bit))
			continue;
		emit_rule(p, &rules[i], jumps, &n_jumps);
		/* A rule matching every device makes the earlier ones (and the default)
		 * unreachable, and the verifier refuses unreachable code. */
		decided = rules[i].type == 'a' && rules[i].major < 0 && rules[i].minor < 0;
	}
	if (!decided)
		emit_return(p, 0);
	for (size_t i = 0; i < n_jumps; i++) {
		size_t off = p->n - jumps[i] - 1;
		if (off > INT16_MAX)
			return cc_error_set(err, E2BIG, "cgroup: too many device rules for eBPF");
		p->v[jumps[i]].off = (int16_t)off;
	}
	return 0;
}

static int build_prog(struct prog *p, const struct rt_device_rule *rules, size_t n,
		      struct cc_error **err)
{
	emit_prologue(p);
	for (unsigned bit = ACC_M; bit <= ACC_W; bit <<= 1)
		if (emit_access(p, rules, n, bit, err) < 0)
			return -1;
	emit_return(p, 1);
	return 0;
}

static int sys_bpf(int cmd, union bpf_attr *attr)
{
	return (int)syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

static int load_prog(const struct prog *p, struct cc_error **err)
{
	union bpf_attr a;
	static char log[16384];

	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
	a.insns = (uintptr_t)p->v;
	a.insn_cnt = (uint32_t)p->n;
	a.license = (uintptr_t) "Apache";
	int fd = sys_bpf(BPF_PROG_LOAD, &a);
	if (fd >= 0)
		return fd;
	int e = errno;
	/* Load again with the verifier's log to say why. */
	log[0] = '\0';
	a.log_level = 1;
	a.log_buf = (uintptr_t)log;
	a.log_size = sizeof(log);
	fd = sys_bpf(BPF_PROG_LOAD, &a);
	if (fd >= 0)
		return fd;
	size_t len = strnlen(log, sizeof(log) - 1);
	while (len > 0 && log[len - 1] == '\n')
		log[--len] = '\0';
	/* The first line says why; the last one is a summary. */
	char *nl = strchr(log, '\n');
	if (nl)
		*nl = '\0';
	errno = e;
	return cc_error_errno(err, "cgroup: load device eBPF program (%zu insns)%s%s", p->n,
			      len ? ": " : "", log);
}

/* Ids of the device programs attached directly to the cgroup. */
static int query_progs(int dirfd, uint32_t *ids, uint32_t *n)
{
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.query.target_fd = (uint32_t)dirfd;
	a.query.attach_type = BPF_CGROUP_DEVICE;
	a.query.prog_ids = (uintptr_t)ids;
	a.query.prog_cnt = *n;
	if (sys_bpf(BPF_PROG_QUERY, &a) < 0)
		return -1;
	*n = a.query.prog_cnt;
	return 0;
}

static int detach_prog(int dirfd, uint32_t id)
{
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.prog_id = id;
	_cleanup_close_ int fd = sys_bpf(BPF_PROG_GET_FD_BY_ID, &a);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	memset(&a, 0, sizeof(a));
	a.target_fd = (uint32_t)dirfd;
	a.attach_bpf_fd = (uint32_t)fd;
	a.attach_type = BPF_CGROUP_DEVICE;
	return sys_bpf(BPF_PROG_DETACH, &a) < 0 && errno != ENOENT ? -1 : 0;
}

/* The new program is attached next to the old ones before they go: with several attached,
 * all must allow, so the cgroup is never without a filter. */
int rt_cg2_set_devices(int dirfd, const char *dir, const struct rt_device_rule *rules, size_t n,
		       struct cc_error **err)
{
	struct prog p = { 0 };
	uint32_t old[64], n_old = ARRAY_SIZE(old);
	union bpf_attr a;
	_cleanup_close_ int fd = -1;
	int ret = -1;

	if (check_rules(rules, n, err) < 0 || build_prog(&p, rules, n, err) < 0)
		goto out;
	if (query_progs(dirfd, old, &n_old) < 0) {
		cc_error_errno(err, "cgroup: query device programs of %s", dir);
		goto out;
	}
	fd = load_prog(&p, err);
	if (fd < 0)
		goto out;
	memset(&a, 0, sizeof(a));
	a.target_fd = (uint32_t)dirfd;
	a.attach_bpf_fd = (uint32_t)fd;
	a.attach_type = BPF_CGROUP_DEVICE;
	a.attach_flags = BPF_F_ALLOW_MULTI;
	if (sys_bpf(BPF_PROG_ATTACH, &a) < 0) {
		cc_error_errno(err, "cgroup: attach device eBPF program to %s", dir);
		goto out;
	}
	for (uint32_t i = 0; i < n_old; i++)
		if (detach_prog(dirfd, old[i]) < 0) {
			cc_error_errno(err, "cgroup: detach old device program %u from %s", old[i],
				       dir);
			goto out;
		}
	ret = 0;
out:
	free(p.v);
	return ret;
}
