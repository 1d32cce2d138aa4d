// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for lib/runtime/seccomp.c: every filter is compiled here and installed in a forked
 * child, which reports what it observed through its exit status (0 = as expected).
 */
#include <errno.h>
#include <linux/seccomp.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include "runtime/seccomp.h"
#include "util/cleanup.h"
#include "util/error.h"

/* The spec structs hold mutable strings; these literals are never written. */
#define S(x) ((char *)(x))

/* si_code of a SIGSYS raised by SECCOMP_RET_TRAP (asm-generic/siginfo.h, hidden by glibc). */
#ifndef SYS_SECCOMP
#define SYS_SECCOMP 1
#endif

/* In a child: report the failed check on stderr and exit non-zero (cmocka cannot run there). */
#define CHILD_CHECK(cond)                                                                     \
	do {                                                                                  \
		if (!(cond)) {                                                                \
			dprintf(2, "child check failed (line %d): %s (errno %d)\n", __LINE__, \
				#cond, errno);                                                \
			_exit(100);                                                           \
		}                                                                             \
	} while (0)

static char *names_mkdir[] = { S("mkdir"), NULL };
static char *names_rmdir[] = { S("rmdir"), NULL };
static char *names_getppid[] = { S("getppid"), NULL };
static char *names_getpriority[] = { S("getpriority"), NULL };
static char *names_umask[] = { S("umask"), NULL };
static char *names_exit[] = { S("exit_group"), S("exit"), NULL };

static struct rt_seccomp_prog *compile_ok(const struct rt_seccomp *s)
{
	struct cc_error *err = NULL;
	struct rt_seccomp_prog *p = rt_seccomp_compile(s, &err);
	if (!p)
		fail_msg("compile: %s", err->msg);
	return p;
}

static char *compile_err(const struct rt_seccomp *s)
{
	struct cc_error *err = NULL;
	struct rt_seccomp_prog *p = rt_seccomp_compile(s, &err);
	assert_null(p);
	assert_non_null(err);
	char *msg = xstrdup(err->msg);
	cc_error_free(&err);
	return msg;
}

/* Install p in a child, run fn there and return the child's wait status. */
static int in_child(const struct rt_seccomp_prog *p, bool nnp, void (*fn)(void))
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct cc_error *err = NULL;
		signal(SIGSYS, SIG_DFL); /* cmocka catches it in the test process */
		if (nnp)
			CHILD_CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0);
		if (rt_seccomp_install(p, &err) < 0) {
			dprintf(2, "install: %s\n", err->msg);
			_exit(101);
		}
		fn();
		/* Not _exit(): a sanitizer's exit hook makes syscalls the filter may refuse. */
		syscall(SYS_exit_group, 0);
	}
	int ws;
	assert_int_equal(waitpid(pid, &ws, 0), pid);
	return ws;
}

static void assert_exit0(int ws)
{
	if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0)
		fail_msg("child: %s %d", WIFEXITED(ws) ? "exit" : "signal",
			 WIFEXITED(ws) ? WEXITSTATUS(ws) : WTERMSIG(ws));
}

static void errno_child(void)
{
	errno = 0;
	CHILD_CHECK(syscall(SYS_mkdir, "/nonexistent/x", 0700) == -1 && errno == 42);
	CHILD_CHECK(syscall(SYS_rmdir, "/nonexistent/x") == -1 && errno == EPERM);
	CHILD_CHECK(syscall(SYS_getppid) > 0);
}

static void test_errno_ret(void **state)
{
	struct rt_seccomp_rule rules[] = {
		{ .names = names_mkdir,
		  .action = RT_SCMP_ERRNO,
		  .has_errno_ret = true,
		  .errno_ret = 42 },
		{ .names = names_rmdir, .action = RT_SCMP_ERRNO }, /* errnoRet defaults to EPERM */
	};
	struct rt_seccomp s = { .default_action = RT_SCMP_ALLOW,
				.syscalls = rules,
				.n_syscalls = ARRAY_SIZE(rules) };
	struct rt_seccomp_prog *p = compile_ok(&s);
	/* Root with CAP_SYS_ADMIN may install without no_new_privs, as runc's init does. */
	assert_exit0(in_child(p, false, errno_child));
	assert_exit0(in_child(p, true, errno_child));
	rt_seccomp_prog_free(p);
}

static void getppid_child(void)
{
	syscall(SYS_getppid);
	_exit(0); /* not reached when the filter kills */
}

static void test_kill_process(void **state)
{
	struct rt_seccomp_rule rules[] = { { .names = names_getppid,
					     .action = RT_SCMP_KILL_PROCESS } };
	struct rt_seccomp s = { .default_action = RT_SCMP_ALLOW,
				.syscalls = rules,
				.n_syscalls = 1 };
	struct rt_seccomp_prog *p = compile_ok(&s);
	int ws = in_child(p, true, getppid_child);
	assert_true(WIFSIGNALED(ws));
	assert_int_equal(WTERMSIG(ws), SIGSYS);
	rt_seccomp_prog_free(p);

	rules[0].action = RT_SCMP_KILL; /* kills the (only) thread */
	p = compile_ok(&s);
	ws = in_child(p, true, getppid_child);
	assert_true(WIFSIGNALED(ws));
	assert_int_equal(WTERMSIG(ws), SIGSYS);
	rt_seccomp_prog_free(p);
}

static volatile sig_atomic_t trapped_nr = -1;

static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
	if (si->si_code == SYS_SECCOMP)
		trapped_nr = si->si_syscall;
}

static void trap_child(void)
{
	struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO };
	CHILD_CHECK(sigaction(SIGSYS, &sa, NULL) == 0);
	syscall(SYS_getppid);
	CHILD_CHECK(trapped_nr == SYS_getppid);
}

static void test_trap(void **state)
{
	struct rt_seccomp_rule rules[] = { { .names = names_getppid, .action = RT_SCMP_TRAP } };
	struct rt_seccomp s = { .default_action = RT_SCMP_ALLOW,
				.syscalls = rules,
				.n_syscalls = 1 };
	struct rt_seccomp_prog *p = compile_ok(&s);
	/* With a handler the child survives and sees which syscall trapped... */
	assert_exit0(in_child(p, true, trap_child));
	/* ...without one, SIGSYS kills it. */
	int ws = in_child(p, true, getppid_child);
	assert_true(WIFSIGNALED(ws));
	assert_int_equal(WTERMSIG(ws), SIGSYS);
	rt_seccomp_prog_free(p);
}

static void log_child(void)
{
	CHILD_CHECK(syscall(SYS_getppid) == getppid());
	CHILD_CHECK(syscall(SYS_mkdir, "/nonexistent/x", 0700) == -1 && errno == ENOENT);
}

static void test_log_and_allow(void **state)
{
	struct rt_seccomp_rule rules[] = {
		{ .names = names_getppid, .action = RT_SCMP_LOG },
		{ .names = names_mkdir, .action = RT_SCMP_ALLOW }, /* same as default: skipped */
	};
	char *flags[] = { S("SECCOMP_FILTER_FLAG_LOG"), S("SECCOMP_FILTER_FLAG_SPEC_ALLOW"), NULL };
	struct rt_seccomp s = { .default_action = RT_SCMP_ALLOW,
				.flags = flags,
				.syscalls = rules,
				.n_syscalls = ARRAY_SIZE(rules) };
	struct rt_seccomp_prog *p = compile_ok(&s);
	assert_exit0(in_child(p, true, log_child));
	rt_seccomp_prog_free(p);
}

static void args_child(void)
{
	/* EQ on arg 0 alone. */
	CHILD_CHECK(syscall(SYS_getpriority, PRIO_PROCESS, 0) >= 0);
	CHILD_CHECK(syscall(SYS_getpriority, PRIO_PGRP, 0) == -1 && errno == 50);
	/* Two conditions on arg 0 (PRIO_USER or the other): split into two rules. */
	CHILD_CHECK(syscall(SYS_getpriority, PRIO_USER, 0) == -1 && errno == 50);
	/* MASKED_EQ: (mask & 007) == 007 is refused, other masks pass. */
	CHILD_CHECK(syscall(SYS_umask, 022) >= 0);
	CHILD_CHECK(syscall(SYS_umask, 077) == -1 && errno == 51);
	CHILD_CHECK(syscall(SYS_umask, 070) >= 0);
}

static void test_arg_conditions(void **state)
{
	struct rt_seccomp_arg prio_args[] = {
		{ .index = 0, .value = PRIO_PGRP, .op = RT_SCMP_OP_EQ },
		{ .index = 0, .value = PRIO_USER, .op = RT_SCMP_OP_EQ },
	};
	struct rt_seccomp_arg umask_args[] = {
		{ .index = 0, .value = 007, .value_two = 007, .op = RT_SCMP_OP_MASKED_EQ },
	};
	struct rt_seccomp_rule rules[] = {
		{ .names = names_getpriority,
		  .action = RT_SCMP_ERRNO,
		  .has_errno_ret = true,
		  .errno_ret = 50,
		  .args = prio_args,
		  .n_args = 2 },
		{ .names = names_umask,
		  .action = RT_SCMP_ERRNO,
		  .has_errno_ret = true,
		  .errno_ret = 51,
		  .args = umask_args,
		  .n_args = 1 },
	};
	struct rt_seccomp s = { .default_action = RT_SCMP_ALLOW,
				.syscalls = rules,
				.n_syscalls = ARRAY_SIZE(rules) };
	struct rt_seccomp_prog *p = compile_ok(&s);
	assert_exit0(in_child(p, true, args_child));
	rt_seccomp_prog_free(p);
}

static void and_child(void)
{
	/* Conditions on different arguments are ANDed in one rule. */
	CHILD_CHECK(syscall(SYS_getpriority, PRIO_PROCESS, 0) >= 0);
	CHILD_CHECK(syscall(SYS_getpriority, PRIO_PROCESS, 123456) == -1 && errno == 52);
	CHILD_CHECK(syscall(SYS_getpriority, PRIO_PGRP, 123456) == -1 && errno == ESRCH);
}

static void test_arg_conditions_and(void **state)
{
	struct rt_seccomp_arg args[] = {
		{ .index = 0, .value = PRIO_PROCESS, .op = RT_SCMP_OP_EQ },
		{ .index = 1, .value = 123456, .op = RT_SCMP_OP_EQ },
	};
	struct rt_seccomp_rule rules[] = {
		{ .names = names_getpriority,
		  .action = RT_SCMP_ERRNO,
		  .has_errno_ret = true,
		  .errno_ret = 52,
		  .args = args,
		  .n_args = 2 },
	};
	struct rt_seccomp s = { .default_action = RT_SCMP_ALLOW,
				.syscalls = rules,
				.n_syscalls = 1 };
	struct rt_seccomp_prog *p = compile_ok(&s);
	assert_exit0(in_child(p, true, and_child));
	rt_seccomp_prog_free(p);
}

static void default_errno_child(void)
{
	CHILD_CHECK(syscall(SYS_getppid) == -1 && errno == 77);
	CHILD_CHECK(syscall(SYS_getuid) == -1 && errno == 77);
	CHILD_CHECK(syscall(SYS_rmdir, "/nonexistent/x") == -1 && errno == EPERM);
	CHILD_CHECK(syscall(SYS_mkdir, "/nonexistent/x", 0700) == -1 && errno == 42);
}

static void test_default_errno(void **state)
{
	static char *unknown_and_mkdir[] = { S("no_such_syscall_xyz"), S("mkdir"), NULL };
	static char *getuid[] = { S("getuid"), NULL };
	struct rt_seccomp_rule rules[] = {
		{ .names = names_exit, .action = RT_SCMP_ALLOW },
		{ .names = names_rmdir, .action = RT_SCMP_ERRNO },
		/* An unknown name is skipped, the rest of the rule still applies. */
		{ .names = unknown_and_mkdir,
		  .action = RT_SCMP_ERRNO,
		  .has_errno_ret = true,
		  .errno_ret = 42 },
		/* Same action as the default: skipped rather than refused by libseccomp. */
		{ .names = getuid,
		  .action = RT_SCMP_ERRNO,
		  .has_errno_ret = true,
		  .errno_ret = 77 },
	};
	char *archs[] = { S("SCMP_ARCH_X86_64"), S("SCMP_ARCH_X86"), S("SCMP_ARCH_X32"), NULL };
	struct rt_seccomp s = { .default_action = RT_SCMP_ERRNO,
				.has_default_errno_ret = true,
				.default_errno_ret = 77,
				.architectures = archs,
				.syscalls = rules,
				.n_syscalls = ARRAY_SIZE(rules) };
	struct rt_seccomp_prog *p = compile_ok(&s);
	assert_exit0(in_child(p, true, default_errno_child));
	rt_seccomp_prog_free(p);
}

#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef SYS_faccessat2
#define SYS_faccessat2 439
#endif

static void newer_child(void)
{
	/* Above the profile's highest syscall (exit_group): newer than the profile, ENOSYS so
	 * that libc falls back. */
	CHILD_CHECK(syscall(SYS_close_range, 1000, 1001, 0) == -1 && errno == ENOSYS);
	CHILD_CHECK(syscall(SYS_faccessat2, -1, "/", 0, 0) == -1 && errno == ENOSYS);
	/* Below it and not named: the default action. */
	CHILD_CHECK(syscall(SYS_getppid) == -1 && errno == 77);
	CHILD_CHECK(syscall(SYS_rmdir, "/nonexistent/x") == -1 && errno == EPERM);
}

static void allow_child(void)
{
	/* A permissive default gets no ENOSYS prefix: the syscall really runs. */
	CHILD_CHECK(syscall(SYS_close_range, 1000, 1001, 0) == 0);
	CHILD_CHECK(syscall(SYS_rmdir, "/nonexistent/x") == -1 && errno == EPERM);
}

static void test_newer_syscalls_get_enosys(void **state)
{
	struct rt_seccomp_rule rules[] = {
		{ .names = names_exit, .action = RT_SCMP_ALLOW },
		{ .names = names_rmdir, .action = RT_SCMP_ERRNO },
	};
	struct rt_seccomp s = { .default_action = RT_SCMP_ERRNO,
				.has_default_errno_ret = true,
				.default_errno_ret = 77,
				.syscalls = rules,
				.n_syscalls = ARRAY_SIZE(rules) };
	struct rt_seccomp_prog *p = compile_ok(&s);
	assert_exit0(in_child(p, true, newer_child));
	rt_seccomp_prog_free(p);

	struct rt_seccomp allow = { .default_action = RT_SCMP_ALLOW,
				    .syscalls = rules + 1,
				    .n_syscalls = 1 };
	p = compile_ok(&allow);
	assert_exit0(in_child(p, true, allow_child));
	rt_seccomp_prog_free(p);
}

static void test_compile_errors(void **state)
{
	char *bad_arch[] = { S("SCMP_ARCH_X86_64"), S("SCMP_ARCH_FOO"), NULL };
	char *bad_flag[] = { S("SECCOMP_FILTER_FLAG_BOGUS"), NULL };
	struct rt_seccomp_rule notify[] = { { .names = names_getppid, .action = RT_SCMP_NOTIFY } };
	struct rt_seccomp s = { .default_action = RT_SCMP_ALLOW, .architectures = bad_arch };
	_cleanup_free_ char *m1 = compile_err(&s);
	assert_non_null(strstr(m1, "SCMP_ARCH_FOO"));

	s.architectures = NULL;
	s.flags = bad_flag;
	_cleanup_free_ char *m2 = compile_err(&s);
	assert_non_null(strstr(m2, "SECCOMP_FILTER_FLAG_BOGUS"));

	s.flags = NULL;
	s.default_action = RT_SCMP_NOTIFY;
	_cleanup_free_ char *m3 = compile_err(&s);
	assert_non_null(strstr(m3, "default action"));

	s.default_action = RT_SCMP_ALLOW;
	s.syscalls = notify;
	s.n_syscalls = 1;
	_cleanup_free_ char *m4 = compile_err(&s);
	assert_non_null(strstr(m4, "listenerPath"));

	static char *write_names[] = { S("read"), S("write"), NULL };
	struct rt_seccomp_rule notify_write[] = { { .names = write_names,
						    .action = RT_SCMP_NOTIFY } };
	s.listener_path = S("/run/agent.sock");
	s.syscalls = notify_write;
	_cleanup_free_ char *m6 = compile_err(&s);
	assert_non_null(strstr(m6, "write syscall"));
	s.listener_path = NULL;

	struct rt_seccomp_arg bad_index[] = { { .index = 6, .op = RT_SCMP_OP_EQ } };
	struct rt_seccomp_rule rules[] = {
		{ .names = names_getppid, .action = RT_SCMP_ERRNO, .args = bad_index, .n_args = 1 }
	};
	s.syscalls = rules;
	_cleanup_free_ char *m5 = compile_err(&s);
	assert_non_null(strstr(m5, "syscalls[0]"));
	assert_non_null(strstr(m5, "argument index 6"));
}

static void test_all_known_archs(void **state)
{
	const char *const *known = rt_seccomp_known_archs();
	size_t n_edom = 0, n;
	for (n = 0; known[n]; n++)
		;
	for (size_t i = 0; known[i]; i++) {
		char *archs[] = { S(known[i]), NULL };
		struct rt_seccomp_rule rules[] = { { .names = names_mkdir,
						     .action = RT_SCMP_ERRNO } };
		struct rt_seccomp s = { .default_action = RT_SCMP_ALLOW,
					.architectures = archs,
					.syscalls = rules,
					.n_syscalls = 1 };
		struct cc_error *err = NULL;
		struct rt_seccomp_prog *p = rt_seccomp_compile(&s, &err);
		/* libseccomp cannot mix byte orders in one filter: big-endian ones fail on x86. */
		if (!p && err->errnum == EDOM)
			n_edom++;
		else if (!p)
			fail_msg("%s: %s", known[i], err->msg);
		cc_error_free(&err);
		rt_seccomp_prog_free(p);
	}
	assert_true(n_edom < n); /* the little-endian half compiled */
}

static void no_privilege_child(void)
{
	/* Lose CAP_SYS_ADMIN (effective is enough), keep no_new_privs off: the kernel says no. */
	cap_t caps = cap_get_proc();
	cap_value_t admin = CAP_SYS_ADMIN;
	CHILD_CHECK(cap_set_flag(caps, CAP_EFFECTIVE, 1, &admin, CAP_CLEAR) == 0);
	CHILD_CHECK(cap_set_proc(caps) == 0);
	cap_free(caps);
}

static void test_install_needs_privilege(void **state)
{
	struct rt_seccomp_rule rules[] = { { .names = names_mkdir, .action = RT_SCMP_ERRNO } };
	struct rt_seccomp s = { .default_action = RT_SCMP_ALLOW,
				.syscalls = rules,
				.n_syscalls = 1 };
	struct rt_seccomp_prog *p = compile_ok(&s);
	int pipefd[2];
	assert_int_equal(pipe(pipefd), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct cc_error *err = NULL;
		no_privilege_child();
		int r = rt_seccomp_install(p, &err);
		CHILD_CHECK(r == -1 && err);
		dprintf(pipefd[1], "%s", err->msg);
		_exit(0);
	}
	close(pipefd[1]);
	char buf[512] = "";
	ssize_t n = read(pipefd[0], buf, sizeof(buf) - 1);
	close(pipefd[0]);
	int ws;
	waitpid(pid, &ws, 0);
	assert_exit0(ws);
	assert_true(n > 0);
	assert_non_null(strstr(buf, "no_new_privileges"));
	assert_non_null(strstr(buf, "CAP_SYS_ADMIN"));
	rt_seccomp_prog_free(p);
}

/* ---- SCMP_ACT_NOTIFY: the child sends its listener, we answer getppid() with 4242 ---- */

static const char *notify_state = "{\"ociVersion\":\"1.1.0\",\"fds\":[\"seccompFd\"],\"pid\":1}";

static int recv_listener(int conn, char *buf, size_t len)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct iovec iov = { buf, len - 1 };
	struct msghdr msg = { .msg_iov = &iov,
			      .msg_iovlen = 1,
			      .msg_control = ctl.b,
			      .msg_controllen = sizeof(ctl.b) };
	ssize_t n = recvmsg(conn, &msg, MSG_CMSG_CLOEXEC);
	assert_true(n > 0);
	buf[n] = '\0';
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	assert_non_null(c);
	assert_int_equal(c->cmsg_type, SCM_RIGHTS);
	int fd;
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

static void answer_one(int listener)
{
	struct seccomp_notif req;
	struct seccomp_notif_resp resp;
	memset(&req, 0, sizeof(req));
	assert_int_equal(ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &req), 0);
	assert_int_equal(req.data.nr, SYS_getppid);
	memset(&resp, 0, sizeof(resp));
	resp.id = req.id;
	resp.val = 4242;
	assert_int_equal(ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp), 0);
}

static void notify_child(const struct rt_seccomp_prog *p, const char *path)
{
	struct cc_error *err = NULL;
	CHILD_CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0);
	int fd = rt_seccomp_install(p, &err);
	CHILD_CHECK(fd > 0 && !err);
	if (rt_seccomp_send_listener(path, fd, notify_state, &err) < 0) {
		dprintf(2, "send: %s\n", err->msg);
		_exit(102);
	}
	close(fd);
	CHILD_CHECK(syscall(SYS_getppid) == 4242);
	_exit(0);
}

static void test_notify(void **state)
{
	char dir[] = "/tmp/rune-seccomp-XXXXXX";
	assert_non_null(mkdtemp(dir));
	_cleanup_free_ char *path = xasprintf("%s/listener.sock", dir);
	char *flags[] = { S("SECCOMP_FILTER_FLAG_TSYNC"), NULL };
	struct rt_seccomp_rule rules[] = { { .names = names_getppid, .action = RT_SCMP_NOTIFY } };
	struct rt_seccomp s = { .default_action = RT_SCMP_ALLOW,
				.flags = flags,
				.listener_path = path,
				.syscalls = rules,
				.n_syscalls = 1 };
	struct rt_seccomp_prog *p = compile_ok(&s);

	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	strcpy(sa.sun_path, path);
	int lsock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(lsock >= 0);
	assert_int_equal(bind(lsock, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lsock, 1), 0);

	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		notify_child(p, path);
	int conn = accept4(lsock, NULL, NULL, SOCK_CLOEXEC);
	assert_true(conn >= 0);
	char buf[256];
	int listener = recv_listener(conn, buf, sizeof(buf));
	assert_string_equal(buf, notify_state);
	answer_one(listener);
	int ws;
	assert_int_equal(waitpid(pid, &ws, 0), pid);
	assert_exit0(ws);
	close(listener);
	close(conn);
	close(lsock);
	unlink(path);
	rmdir(dir);
	rt_seccomp_prog_free(p);
}

static bool contains(const char *const *v, const char *s)
{
	for (; *v; v++)
		if (!strcmp(*v, s))
			return true;
	return false;
}

static void test_known_names(void **state)
{
	assert_true(contains(rt_seccomp_known_actions(), "SCMP_ACT_NOTIFY"));
	assert_true(contains(rt_seccomp_known_actions(), "SCMP_ACT_KILL_PROCESS"));
	assert_true(contains(rt_seccomp_known_archs(), "SCMP_ARCH_X86_64"));
	assert_true(contains(rt_seccomp_known_archs(), "SCMP_ARCH_RISCV64"));
	assert_true(contains(rt_seccomp_known_flags(), "SECCOMP_FILTER_FLAG_SPEC_ALLOW"));
	assert_true(contains(rt_seccomp_known_ops(), "SCMP_CMP_MASKED_EQ"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_errno_ret),
		cmocka_unit_test(test_kill_process),
		cmocka_unit_test(test_trap),
		cmocka_unit_test(test_log_and_allow),
		cmocka_unit_test(test_arg_conditions),
		cmocka_unit_test(test_arg_conditions_and),
		cmocka_unit_test(test_default_errno),
		cmocka_unit_test(test_newer_syscalls_get_enosys),
		cmocka_unit_test(test_compile_errors),
		cmocka_unit_test(test_all_known_archs),
		cmocka_unit_test(test_install_needs_privilege),
		cmocka_unit_test(test_notify),
		cmocka_unit_test(test_known_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
