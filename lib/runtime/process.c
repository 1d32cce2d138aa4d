// SPDX-License-Identifier: Apache-2.0
/* The last per-process steps before execve: limits, identity, privileges, fds, PATH lookup. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "runtime/process.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strv.h"

/* Used when the process env has no PATH (the same list runc's default spec sets). */
#define RT_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static const char *rlimit_name(int resource)
{
	static const char *const names[] = {
		[RLIMIT_CPU] = "RLIMIT_CPU",	       [RLIMIT_FSIZE] = "RLIMIT_FSIZE",
		[RLIMIT_DATA] = "RLIMIT_DATA",	       [RLIMIT_STACK] = "RLIMIT_STACK",
		[RLIMIT_CORE] = "RLIMIT_CORE",	       [RLIMIT_RSS] = "RLIMIT_RSS",
		[RLIMIT_NPROC] = "RLIMIT_NPROC",       [RLIMIT_NOFILE] = "RLIMIT_NOFILE",
		[RLIMIT_MEMLOCK] = "RLIMIT_MEMLOCK",   [RLIMIT_AS] = "RLIMIT_AS",
		[RLIMIT_LOCKS] = "RLIMIT_LOCKS",       [RLIMIT_SIGPENDING] = "RLIMIT_SIGPENDING",
		[RLIMIT_MSGQUEUE] = "RLIMIT_MSGQUEUE", [RLIMIT_NICE] = "RLIMIT_NICE",
		[RLIMIT_RTPRIO] = "RLIMIT_RTPRIO",     [RLIMIT_RTTIME] = "RLIMIT_RTTIME",
	};
	if (resource >= 0 && (size_t)resource < ARRAY_SIZE(names) && names[resource])
		return names[resource];
	return "unknown";
}

int rt_process_set_rlimits(const struct rt_process *p, struct cc_error **err)
{
	for (size_t i = 0; i < p->n_rlimits; i++) {
		const struct rt_rlimit *l = &p->rlimits[i];
		struct rlimit rl = { .rlim_cur = (rlim_t)l->soft, .rlim_max = (rlim_t)l->hard };
		/* prlimit(2) on ourselves: setrlimit's glibc wrapper may clamp on 32-bit. */
		if (prlimit(0, (__rlimit_resource_t)l->resource, &rl, NULL) < 0)
			return cc_error_errno(err, "set rlimit %s (soft %llu, hard %llu)",
					      rlimit_name(l->resource), (unsigned long long)l->soft,
					      (unsigned long long)l->hard);
	}
	return 0;
}

int rt_process_set_oom_score_adj(pid_t pid, int value, struct cc_error **err)
{
	_cleanup_free_ char *path = pid ? xasprintf("/proc/%d/oom_score_adj", (int)pid)
					: xstrdup("/proc/self/oom_score_adj");
	_cleanup_free_ char *text = xasprintf("%d", value);
	if (cc_write_file(path, text, strlen(text), 0, err) < 0)
		return cc_error_prefix(err, "set oom_score_adj to %d", value);
	return 0;
}

/* Number of capabilities this kernel knows (cap_last_cap + 1). */
static int cap_count(void)
{
	int n = (int)cap_max_bits();
	return n > 64 ? 64 : n;
}

static int drop_bounding(uint64_t keep, struct cc_error **err)
{
	for (int c = 0; c < cap_count(); c++) {
		if (keep & (UINT64_C(1) << c))
			continue;
		/* Dropping needs CAP_SETPCAP; skip what is already gone so that a process
		 * without it can still ask for a set it already has. */
		int in = prctl(PR_CAPBSET_READ, c, 0, 0, 0);
		if (in < 0 && errno == EINVAL)
			continue;
		if (in == 0)
			continue;
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0)
			return cc_error_errno(err, "drop capability %d from the bounding set", c);
	}
	return 0;
}

static bool setgroups_denied(void)
{
	char buf[16] = "";
	_cleanup_close_ int fd = open("/proc/self/setgroups", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	return n >= 4 && !strncmp(buf, "deny", 4);
}

static int set_user(const struct rt_user *u, struct cc_error **err)
{
	if (u->n_additional_gids) {
		if (setgroups(u->n_additional_gids, u->additional_gids) < 0)
			return cc_error_errno(err, "setgroups (%zu additional gids)",
					      u->n_additional_gids);
	} else if (!setgroups_denied() && setgroups(0, NULL) < 0) {
		/* An unprivileged user namespace denies setgroups; with nothing asked for there
		 * is nothing to clear, which is why "deny" is not an error above. */
		return cc_error_errno(err, "setgroups (clear supplementary groups)");
	}
	if (setresgid(u->gid, u->gid, u->gid) < 0)
		return cc_error_errno(err, "setresgid %u", (unsigned)u->gid);
	if (setresuid(u->uid, u->uid, u->uid) < 0)
		return cc_error_errno(err, "setresuid %u", (unsigned)u->uid);
	return 0;
}

static int set_flag_mask(cap_t caps, cap_flag_t flag, uint64_t mask)
{
	for (int c = 0; c < cap_count(); c++) {
		cap_value_t v = c;
		if ((mask & (UINT64_C(1) << c)) && cap_set_flag(caps, flag, 1, &v, CAP_SET) < 0)
			return -1;
	}
	return 0;
}

static int set_caps(const struct rt_caps *rc, struct cc_error **err)
{
	cap_t caps = cap_init();
	if (!caps)
		return cc_error_errno(err, "cap_init");
	int r = set_flag_mask(caps, CAP_EFFECTIVE, rc->effective);
	if (r == 0)
		r = set_flag_mask(caps, CAP_PERMITTED, rc->permitted);
	if (r == 0)
		r = set_flag_mask(caps, CAP_INHERITABLE, rc->inheritable);
	if (r < 0) {
		cap_free(caps);
		return cc_error_errno(err, "build capability sets");
	}
	r = cap_set_proc(caps);
	int saved = errno;
	cap_free(caps);
	if (r < 0)
		return cc_error_set(
		    err, saved, "capset (effective 0x%llx, permitted 0x%llx, inheritable 0x%llx)",
		    (unsigned long long)rc->effective, (unsigned long long)rc->permitted,
		    (unsigned long long)rc->inheritable);
	return 0;
}

static int set_ambient(const struct rt_caps *rc, struct cc_error **err)
{
	/* The kernel raises only what is both permitted and inheritable; like runc, an ambient
	 * capability outside those sets is left out rather than failing the container (runc's
	 * own default spec asks for ambient capabilities without inheritable ones). */
	uint64_t mask = rc->ambient & rc->permitted & rc->inheritable;

	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
		return cc_error_errno(err, "clear ambient capabilities");
	for (int c = 0; c < cap_count(); c++) {
		if (!(mask & (UINT64_C(1) << c)))
			continue;
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0)
			return cc_error_errno(err, "raise ambient capability %d", c);
	}
	return 0;
}

int rt_process_set_identity(const struct rt_process *p, struct cc_error **err)
{
	static const struct rt_caps none;
	const struct rt_caps *caps = p->caps.present ? &p->caps : &none;

	if (drop_bounding(caps->bounding, err) < 0)
		return -1;
	/* setuid away from 0 clears the permitted set unless told to keep it; capset below
	 * then narrows it to what the config asks for. */
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return cc_error_errno(err, "prctl(PR_SET_KEEPCAPS)");
	if (set_user(&p->user, err) < 0)
		return -1;
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		return cc_error_errno(err, "prctl(PR_SET_KEEPCAPS)");
	if (set_caps(caps, err) < 0 || set_ambient(caps, err) < 0)
		return -1;
	umask(p->user.has_umask ? p->user.umask : 0022);
	if (p->no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return cc_error_errno(err, "prctl(PR_SET_NO_NEW_PRIVS)");
	return 0;
}

/* Go's error strings are strerror in lower case; runc's messages carry them. */
static const char *go_strerror(int e, char *buf, size_t len)
{
	snprintf(buf, len, "%s", strerror(e));
	if (buf[0] >= 'A' && buf[0] <= 'Z')
		buf[0] = (char)(buf[0] - 'A' + 'a');
	return buf;
}

/* 0 if path is a non-directory the caller may execute, else an errno value. */
static int check_executable(const char *path, bool *stat_failed)
{
	struct stat st;
	*stat_failed = false;
	if (stat(path, &st) < 0) {
		*stat_failed = true;
		return errno;
	}
	if (S_ISDIR(st.st_mode))
		return EACCES;
	if (faccessat(AT_FDCWD, path, X_OK, AT_EACCESS) < 0)
		return errno;
	return 0;
}

static const char *env_path(char *const *env)
{
	for (size_t i = 0; env && env[i]; i++)
		if (!strncmp(env[i], "PATH=", 5))
			return env[i] + 5;
	return RT_DEFAULT_PATH;
}

char *rt_process_find_executable(const struct rt_process *p, struct cc_error **err)
{
	const char *file = p->args && p->args[0] ? p->args[0] : "";
	char ebuf[128];
	bool stat_failed;

	if (!*file)
		return cc_error_set(err, 0, "exec: \"\": executable file not found in $PATH"), NULL;
	if (strchr(file, '/')) {
		int e = check_executable(file, &stat_failed);
		if (!e)
			return xstrdup(file);
		if (stat_failed)
			cc_error_set(err, 0, "exec: \"%s\": stat %s: %s", file, file,
				     go_strerror(e, ebuf, sizeof(ebuf)));
		else
			cc_error_set(err, 0, "exec: \"%s\": %s", file,
				     go_strerror(e, ebuf, sizeof(ebuf)));
		(*err)->errnum = e;
		return NULL;
	}
	_cleanup_strv_ char **dirs = cc_strv_split(env_path(p->env), ':');
	for (size_t i = 0; dirs[i]; i++) {
		_cleanup_free_ char *cand = cc_path_join(*dirs[i] ? dirs[i] : ".", file);
		if (check_executable(cand, &stat_failed) == 0)
			return steal_pointer(&cand);
	}
	cc_error_set(err, 0, "exec: \"%s\": executable file not found in $PATH", file);
	(*err)->errnum = ENOENT;
	return NULL;
}

int rt_process_exec(const struct rt_process *p, struct cc_error **err)
{
	static char *const empty[] = { NULL };
	_cleanup_free_ char *path = rt_process_find_executable(p, err);
	if (!path)
		return -1;
	execve(path, p->args, p->env ? p->env : empty);
	return cc_error_errno(err, "exec %s", path);
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

/* For kernels without close_range(2): walk /proc/self/fd. */
static void each_fd_from(int first, const int *keep, size_t n, bool cloexec)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	if (!d)
		return;
	while ((e = readdir(d))) {
		char *end;
		long fd = strtol(e->d_name, &end, 10);
		if (*end || e->d_name[0] == '.' || fd < first || fd == dirfd(d))
			continue;
		bool kept = false;
		for (size_t i = 0; i < n && !kept; i++)
			kept = keep[i] == fd;
		if (kept)
			continue;
		if (cloexec)
			fcntl((int)fd, F_SETFD, FD_CLOEXEC);
		else
			close((int)fd);
	}
	closedir(d);
}

static int close_range_sys(unsigned lo, unsigned hi, unsigned flags)
{
	return (int)syscall(SYS_close_range, lo, hi, flags);
}

void rt_close_fds_from(int first, const int *keep, size_t n)
{
	_cleanup_free_ int *k = xcalloc(n, sizeof(int));
	size_t m = 0;
	unsigned lo = first < 0 ? 0 : (unsigned)first;

	for (size_t i = 0; i < n; i++)
		if (keep[i] >= first)
			k[m++] = keep[i];
	qsort(k, m, sizeof(int), cmp_int);
	/* Close the gaps between the kept fds, then everything above the last one. */
	for (size_t i = 0; i < m; i++) {
		if ((unsigned)k[i] > lo && close_range_sys(lo, (unsigned)k[i] - 1, 0) < 0)
			goto fallback;
		lo = (unsigned)k[i] + 1;
	}
	if (close_range_sys(lo, ~0U, 0) == 0)
		return;
fallback:
	each_fd_from(first, keep, n, false);
}

void rt_cloexec_fds_from(int first)
{
	if (close_range_sys(first < 0 ? 0 : (unsigned)first, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		each_fd_from(first, NULL, 0, true);
}
