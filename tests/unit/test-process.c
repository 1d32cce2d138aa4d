// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for lib/runtime/process.c, hooks.c and terminal.c. Anything that changes the
 * process (limits, identity, controlling terminal) runs in a forked child, which either sends
 * what it saw back over a pipe for the parent to check or reports through its exit status.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include "runtime/hooks.h"
#include "runtime/process.h"
#include "runtime/terminal.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/strv.h"

/* The spec structs hold mutable strings; these literals are never written. */
#define S(x) ((char *)(x))

#define CHILD_CHECK(cond)                                                                     \
	do {                                                                                  \
		if (!(cond)) {                                                                \
			dprintf(2, "child check failed (line %d): %s (errno %d)\n", __LINE__, \
				#cond, errno);                                                \
			_exit(100);                                                           \
		}                                                                             \
	} while (0)

static char tmpdir[64];

static int setup(void **state)
{
	strcpy(tmpdir, "/tmp/rune-process-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	struct cc_error *err = NULL;
	assert_int_equal(cc_rm_rf(tmpdir, &err), 0);
	cc_error_free(&err);
	return 0;
}

static char *tmp_path(const char *name)
{
	return cc_path_join(tmpdir, name);
}

static void write_script(const char *path, const char *text, mode_t mode)
{
	struct cc_error *err = NULL;
	unlink(path);
	if (cc_write_file(path, text, strlen(text), mode, &err) < 0)
		fail_msg("%s", err->msg);
	chmod(path, mode);
}

static void assert_exit0(int ws)
{
	if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0)
		fail_msg("child: %s %d", WIFEXITED(ws) ? "exit" : "signal",
			 WIFEXITED(ws) ? WEXITSTATUS(ws) : WTERMSIG(ws));
}

static int wait_child(pid_t pid)
{
	int ws;
	assert_int_equal(waitpid(pid, &ws, 0), pid);
	return ws;
}

/* Read fd to EOF (or EIO, for a pty master whose last slave closed). */
static char *read_all(int fd)
{
	size_t len = 0, cap = 4096;
	char *buf = xmalloc(cap);
	ssize_t n;
	for (;;) {
		if (len + 1 == cap)
			buf = xrealloc(buf, cap *= 2);
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	return buf;
}

/* ---- rlimits, oom_score_adj ---- */

static void test_rlimits(void **state)
{
	struct rt_rlimit limits[] = {
		{ .resource = RLIMIT_NOFILE, .soft = 512, .hard = 1024 },
		{ .resource = RLIMIT_CORE, .soft = 0, .hard = 0 },
	};
	struct rt_process p = { .rlimits = limits, .n_rlimits = ARRAY_SIZE(limits) };
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct cc_error *err = NULL;
		struct rlimit rl;
		CHILD_CHECK(rt_process_set_rlimits(&p, &err) == 0);
		CHILD_CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
		CHILD_CHECK(rl.rlim_cur == 512 && rl.rlim_max == 1024);
		CHILD_CHECK(getrlimit(RLIMIT_CORE, &rl) == 0);
		CHILD_CHECK(rl.rlim_cur == 0 && rl.rlim_max == 0);
		_exit(0);
	}
	assert_exit0(wait_child(pid));
}

static void test_rlimit_error(void **state)
{
	/* Above fs.nr_open: refused even with CAP_SYS_RESOURCE. */
	struct rt_rlimit limits[] = {
		{ .resource = RLIMIT_NOFILE, .soft = UINT64_C(1) << 40, .hard = UINT64_C(1) << 40 },
	};
	struct rt_process p = { .rlimits = limits, .n_rlimits = 1 };
	struct cc_error *err = NULL;
	assert_int_equal(rt_process_set_rlimits(&p, &err), -1);
	assert_non_null(strstr(err->msg, "RLIMIT_NOFILE"));
	cc_error_free(&err);
}

static void test_oom_score_adj(void **state)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct cc_error *err = NULL;
		/* Raising needs no privilege (lowering needs CAP_SYS_RESOURCE). */
		CHILD_CHECK(rt_process_set_oom_score_adj(0, 500, &err) == 0);
		char *v = cc_read_file("/proc/self/oom_score_adj", 0, NULL, &err);
		CHILD_CHECK(v && atoi(v) == 500);
		CHILD_CHECK(rt_process_set_oom_score_adj(getpid(), 600, &err) == 0);
		v = cc_read_file("/proc/self/oom_score_adj", 0, NULL, &err);
		CHILD_CHECK(v && atoi(v) == 600);
		CHILD_CHECK(rt_process_set_oom_score_adj(0, 5000, &err) == -1);
		CHILD_CHECK(strstr(err->msg, "oom_score_adj") != NULL);
		_exit(0);
	}
	assert_exit0(wait_child(pid));
}

/* ---- identity ---- */

#define BIT(n) (UINT64_C(1) << (n))

/* Apply the identity in a child, then let it run `fn` and send back what fn writes. */
static char *identity_child(const struct rt_process *p, void (*fn)(const struct rt_process *))
{
	int pfd[2];
	assert_int_equal(pipe(pfd), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct cc_error *err = NULL;
		close(pfd[0]);
		dup2(pfd[1], 1);
		if (rt_process_set_identity(p, &err) < 0) {
			dprintf(2, "identity: %s\n", err->msg);
			_exit(101);
		}
		fn(p);
		_exit(0);
	}
	close(pfd[1]);
	char *out = read_all(pfd[0]);
	close(pfd[0]);
	assert_exit0(wait_child(pid));
	return out;
}

static void print_status(const struct rt_process *p)
{
	char *s = cc_read_file("/proc/self/status", 0, NULL, NULL);
	CHILD_CHECK(s);
	CHILD_CHECK(cc_write_all(1, s, strlen(s)) == 0);
}

/* Value of a "Key:\tvalue" line of /proc/<pid>/status, whitespace squeezed. */
static char *status_field(const char *status, const char *key)
{
	_cleanup_free_ char *pat = xasprintf("\n%s:", key);
	const char *at = strstr(status, pat);
	if (!strncmp(status, pat + 1, strlen(pat + 1)))
		at = status - 1; /* the first line */
	if (!at)
		return xstrdup("<missing>");
	at += strlen(pat);
	const char *end = strchr(at, '\n');
	char *v = xstrndup(at, end ? (size_t)(end - at) : strlen(at));
	size_t j = 0;
	for (size_t i = 0; v[i]; i++)
		if ((v[i] != ' ' && v[i] != '\t') || (j && v[j - 1] != ' ' && v[i + 1]))
			v[j++] = v[i] == '\t' ? ' ' : v[i];
	while (j && v[j - 1] == ' ')
		j--;
	v[j] = '\0';
	return v;
}

#define assert_field(status, key, want)                              \
	do {                                                         \
		_cleanup_free_ char *v_ = status_field(status, key); \
		assert_string_equal(v_, want);                       \
	} while (0)

static void test_identity(void **state)
{
	gid_t groups[] = { 10, 20 };
	struct rt_process p = {
		.user = { .uid = 1000,
			  .gid = 1000,
			  .has_umask = true,
			  .umask = 027,
			  .additional_gids = groups,
			  .n_additional_gids = 2 },
		.caps = { .present = true,
			  .bounding = BIT(0) | BIT(5) | BIT(10), /* CHOWN, KILL, NET_BIND_SERVICE */
			  .effective = BIT(5) | BIT(10),
			  .permitted = BIT(5) | BIT(10),
			  .inheritable = BIT(10),
			  .ambient = BIT(10) },
		.no_new_privileges = true,
	};
	_cleanup_free_ char *st = identity_child(&p, print_status);
	assert_field(st, "Uid", "1000 1000 1000 1000");
	assert_field(st, "Gid", "1000 1000 1000 1000");
	assert_field(st, "Groups", "10 20");
	assert_field(st, "CapInh", "0000000000000400");
	assert_field(st, "CapPrm", "0000000000000420");
	assert_field(st, "CapEff", "0000000000000420");
	assert_field(st, "CapBnd", "0000000000000421");
	assert_field(st, "CapAmb", "0000000000000400");
	assert_field(st, "NoNewPrivs", "1");
	assert_field(st, "Umask", "0027");
}

static void test_identity_defaults(void **state)
{
	/* Root, no capabilities object: everything dropped, no groups, umask 0022. */
	struct rt_process p = { .user = { .uid = 0, .gid = 0 } };
	umask(0077);
	_cleanup_free_ char *st = identity_child(&p, print_status);
	umask(0022);
	assert_field(st, "Uid", "0 0 0 0");
	assert_field(st, "Groups", "");
	assert_field(st, "CapPrm", "0000000000000000");
	assert_field(st, "CapEff", "0000000000000000");
	assert_field(st, "CapBnd", "0000000000000000");
	assert_field(st, "NoNewPrivs", "0");
	assert_field(st, "Umask", "0022");
}

static void exec_status(const struct rt_process *p)
{
	struct cc_error *err = NULL;
	rt_process_exec(p, &err);
	dprintf(2, "exec: %s\n", err ? err->msg : "?");
	_exit(102);
}

static void test_identity_then_exec(void **state)
{
	/* Ambient capabilities survive execve of a non-root program. */
	char *args[] = { S("cat"), S("/proc/self/status"), NULL };
	char *env[] = { S("PATH=/nonexistent:/usr/bin:/bin"), NULL };
	struct rt_process p = {
		.user = { .uid = 1000, .gid = 1000 },
		.caps = { .present = true,
			  .bounding = BIT(10),
			  .effective = BIT(10),
			  .permitted = BIT(10),
			  .inheritable = BIT(10),
			  .ambient = BIT(10) },
		.args = args,
		.env = env,
	};
	_cleanup_free_ char *st = identity_child(&p, exec_status);
	assert_field(st, "Name", "cat");
	assert_field(st, "Uid", "1000 1000 1000 1000");
	assert_field(st, "CapEff", "0000000000000400");
	assert_field(st, "CapPrm", "0000000000000400");
	assert_field(st, "CapAmb", "0000000000000400");
}

/* ---- exec lookup ---- */

static char *lookup_error(char **args, char **env)
{
	struct rt_process p = { .args = args, .env = env };
	struct cc_error *err = NULL;
	char *path = rt_process_find_executable(&p, &err);
	assert_null(path);
	assert_non_null(err);
	char *msg = xstrdup(err->msg);
	cc_error_free(&err);
	return msg;
}

static char *lookup_ok(char **args, char **env)
{
	struct rt_process p = { .args = args, .env = env };
	struct cc_error *err = NULL;
	char *path = rt_process_find_executable(&p, &err);
	if (!path)
		fail_msg("lookup %s: %s", args[0], err->msg);
	return path;
}

static void test_exec_lookup(void **state)
{
	_cleanup_free_ char *d1 = tmp_path("bin1"), *d2 = tmp_path("bin2");
	_cleanup_free_ char *plain = tmp_path("bin1/prog"), *exe = tmp_path("bin2/prog");
	assert_int_equal(mkdir(d1, 0755), 0);
	assert_int_equal(mkdir(d2, 0755), 0);
	write_script(plain, "#!/bin/sh\n", 0644);
	write_script(exe, "#!/bin/sh\n", 0755);

	/* The process env's PATH, not ours; a non-executable match is passed over. */
	_cleanup_free_ char *pathvar = xasprintf("PATH=/nonexistent:%s:%s", d1, d2);
	char *env[] = { S("A=1"), pathvar, NULL };
	char *prog[] = { S("prog"), NULL };
	_cleanup_free_ char *found = lookup_ok(prog, env);
	assert_string_equal(found, exe);

	/* No PATH in the env: the default one. */
	char *sh[] = { S("sh"), S("-c"), S("true"), NULL };
	_cleanup_free_ char *shp = lookup_ok(sh, NULL);
	assert_non_null(strstr(shp, "/sh"));
	assert_true(shp[0] == '/');

	char *missing[] = { S("definitely-not-here"), NULL };
	_cleanup_free_ char *m1 = lookup_error(missing, env);
	assert_string_equal(m1,
			    "exec: \"definitely-not-here\": executable file not found in $PATH");

	char *noexec[] = { plain, NULL };
	_cleanup_free_ char *m2 = lookup_error(noexec, env);
	_cleanup_free_ char *want2 = xasprintf("exec: \"%s\": permission denied", plain);
	assert_string_equal(m2, want2);

	char *dir[] = { d1, NULL };
	_cleanup_free_ char *m3 = lookup_error(dir, env);
	_cleanup_free_ char *want3 = xasprintf("exec: \"%s\": permission denied", d1);
	assert_string_equal(m3, want3);

	char *gone[] = { S("/nonexistent/x"), NULL };
	_cleanup_free_ char *m4 = lookup_error(gone, env);
	assert_string_equal(
	    m4, "exec: \"/nonexistent/x\": stat /nonexistent/x: no such file or directory");
}

static void test_exec_failure(void **state)
{
	/* Found and executable, but the kernel cannot run it. */
	_cleanup_free_ char *bad = tmp_path("badformat");
	write_script(bad,
		     "\x7f"
		     "ELF garbage",
		     0755);
	char *args[] = { bad, NULL };
	struct rt_process p = { .args = args };
	struct cc_error *err = NULL;
	assert_int_equal(rt_process_exec(&p, &err), -1);
	_cleanup_free_ char *want = xasprintf("exec %s: ", bad);
	assert_true(!strncmp(err->msg, want, strlen(want)));
	assert_int_equal(err->errnum, ENOEXEC);
	cc_error_free(&err);
}

/* ---- fds ---- */

static bool fd_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

static bool fd_cloexec(int fd)
{
	return (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0;
}

static void test_close_fds(void **state)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);
		CHILD_CHECK(null >= 0);
		int fds[] = { 40, 41, 42, 50, 60 };
		for (size_t i = 0; i < ARRAY_SIZE(fds); i++)
			CHILD_CHECK(dup2(null, fds[i]) == fds[i]);
		CHILD_CHECK(dup2(null, 30) == 30);
		int keep[] = { 50, 41, 5 }; /* unsorted, one below `first` */
		rt_close_fds_from(40, keep, ARRAY_SIZE(keep));
		CHILD_CHECK(fd_open(30) && fd_open(41) && fd_open(50));
		CHILD_CHECK(!fd_open(40) && !fd_open(42) && !fd_open(60));

		CHILD_CHECK(dup2(null, 70) == 70);
		rt_cloexec_fds_from(41);
		CHILD_CHECK(!fd_cloexec(30) && fd_cloexec(41) && fd_cloexec(50) && fd_cloexec(70));
		rt_close_fds_from(31, NULL, 0);
		CHILD_CHECK(fd_open(30) && !fd_open(41) && !fd_open(70));
		_exit(0);
	}
	assert_exit0(wait_child(pid));
}

/* ---- hooks ---- */

static struct rt_hooks one_kind(enum rt_hook_kind kind, struct rt_hook *list, size_t n)
{
	struct rt_hooks h = { 0 };
	h.list[kind] = list;
	h.count[kind] = n;
	return h;
}

static void test_hook_state_args_env(void **state)
{
	_cleanup_free_ char *out = tmp_path("hook-state");
	/* argv[0] is visible in /proc/$$/cmdline; $1 is the output file. */
	char *args[] = { S("custom-argv0"),
			 S("-c"),
			 S("cat > \"$1\"; tr '\\0' ' ' < /proc/$$/cmdline > \"$1.argv\"; "
			   "env > \"$1.env\""),
			 S("sh"),
			 out,
			 NULL };
	char *env[] = { S("FOO=bar baz"), S("HOOK=1"), NULL };
	struct rt_hook hook = { .path = S("/bin/sh"), .args = args, .env = env, .timeout = 5 };
	struct rt_hooks hooks = one_kind(RT_HOOK_CREATE_RUNTIME, &hook, 1);
	struct cc_error *err = NULL;
	setenv("RUNE_TEST_LEAK", "1", 1);
	int r = rt_hooks_run(&hooks, RT_HOOK_CREATE_RUNTIME, "{\"id\":\"c1\"}", &err);
	unsetenv("RUNE_TEST_LEAK");
	if (r < 0)
		fail_msg("%s", err->msg);

	_cleanup_free_ char *got = cc_read_file(out, 0, NULL, NULL);
	assert_string_equal(got, "{\"id\":\"c1\"}");
	_cleanup_free_ char *argv_path = xasprintf("%s.argv", out);
	_cleanup_free_ char *argv = cc_read_file(argv_path, 0, NULL, NULL);
	_cleanup_free_ char *want = xasprintf("custom-argv0 -c %s sh %s ", args[2], out);
	assert_string_equal(argv, want);
	_cleanup_free_ char *env_path = xasprintf("%s.env", out);
	_cleanup_free_ char *envs = cc_read_file(env_path, 0, NULL, NULL);
	assert_non_null(strstr(envs, "FOO=bar baz\n"));
	assert_non_null(strstr(envs, "HOOK=1\n"));
	assert_null(strstr(envs, "RUNE_TEST_LEAK"));
}

static void test_hook_no_args(void **state)
{
	/* Without args the hook gets argv = [path]; without env it inherits the runtime's
	 * environment, as a Go exec.Cmd with a nil Env does in runc. */
	_cleanup_free_ char *script = tmp_path("noargs.sh");
	_cleanup_free_ char *out = tmp_path("noargs.out");
	_cleanup_free_ char *text =
	    xasprintf("#!/bin/sh\necho \"$# ${FOO:-unset}\" > %s\nexit 0\n", out);
	write_script(script, text, 0755);
	struct rt_hook hook = { .path = script };
	struct rt_hooks hooks = one_kind(RT_HOOK_POSTSTOP, &hook, 1);
	struct cc_error *err = NULL;
	setenv("FOO", "inherited", 1);
	int r = rt_hooks_run(&hooks, RT_HOOK_POSTSTOP, "{}", &err);
	unsetenv("FOO");
	if (r < 0)
		fail_msg("%s", err->msg);
	_cleanup_free_ char *got = cc_read_file(out, 0, NULL, NULL);
	assert_string_equal(got, "0 inherited\n");
}

static void test_hook_failure(void **state)
{
	_cleanup_free_ char *marker = tmp_path("not-run");
	char *ok[] = { S("sh"), S("-c"), S("exit 0"), NULL };
	char *bad[] = { S("sh"), S("-c"), S("echo some output; echo oops >&2; exit 3"), NULL };
	char *later[] = { S("sh"), S("-c"), S("touch \"$0\""), marker, NULL };
	struct rt_hook list[] = {
		{ .path = S("/bin/sh"), .args = ok },
		{ .path = S("/bin/sh"), .args = bad },
		{ .path = S("/bin/sh"), .args = later },
	};
	struct rt_hooks hooks = one_kind(RT_HOOK_CREATE_RUNTIME, list, 3);
	struct cc_error *err = NULL;
	assert_int_equal(rt_hooks_run(&hooks, RT_HOOK_CREATE_RUNTIME, "{}", &err), -1);
	assert_string_equal(err->msg,
			    "createRuntime hook #1 (/bin/sh): exit status 3: some output; oops");
	assert_false(cc_path_exists(marker));
	cc_error_free(&err);
}

static void test_hook_signal_and_missing(void **state)
{
	char *killself[] = { S("sh"), S("-c"), S("kill -TERM $$"), NULL };
	struct rt_hook list[] = { { .path = S("/bin/sh"), .args = killself } };
	struct rt_hooks hooks = one_kind(RT_HOOK_POSTSTART, list, 1);
	struct cc_error *err = NULL;
	assert_int_equal(rt_hooks_run(&hooks, RT_HOOK_POSTSTART, "{}", &err), -1);
	assert_non_null(strstr(err->msg, "poststart hook #0 (/bin/sh): killed by signal 15"));
	cc_error_free(&err);

	struct rt_hook missing[] = { { .path = S("/nonexistent/hook") } };
	hooks = one_kind(RT_HOOK_PRESTART, missing, 1);
	assert_int_equal(rt_hooks_run(&hooks, RT_HOOK_PRESTART, "{}", &err), -1);
	assert_string_equal(err->msg, "prestart hook #0 (/nonexistent/hook): exit status 127: "
				      "exec /nonexistent/hook: No such file or directory");
	cc_error_free(&err);
}

static void test_hook_ignores_stdin(void **state)
{
	/* More than a pipe buffer of state, and a hook that never reads it: no SIGPIPE. */
	size_t len = 1 << 20;
	_cleanup_free_ char *big = xmalloc(len + 1);
	memset(big, 'x', len);
	big[len] = '\0';
	char *args[] = { S("sh"), S("-c"), S("exit 0"), NULL };
	struct rt_hook hook = { .path = S("/bin/sh"), .args = args };
	struct rt_hooks hooks = one_kind(RT_HOOK_START_CONTAINER, &hook, 1);
	struct cc_error *err = NULL;
	if (rt_hooks_run(&hooks, RT_HOOK_START_CONTAINER, big, &err) < 0)
		fail_msg("%s", err->msg);

	/* And one that reads it all slowly while printing a lot (both pipes full at times). */
	_cleanup_free_ char *out = tmp_path("big-state");
	char *reader[] = { S("sh"), S("-c"), S("seq 1 100000; cat > \"$0\""), out, NULL };
	hook.args = reader;
	if (rt_hooks_run(&hooks, RT_HOOK_START_CONTAINER, big, &err) < 0)
		fail_msg("%s", err->msg);
	struct stat st;
	assert_int_equal(stat(out, &st), 0);
	assert_int_equal(st.st_size, (off_t)len);
}

static void test_hook_timeout(void **state)
{
	char *args[] = { S("sh"), S("-c"), S("echo started; exec sleep 10"), NULL };
	struct rt_hook hook = { .path = S("/bin/sh"), .args = args, .timeout = 1 };
	struct rt_hooks hooks = one_kind(RT_HOOK_CREATE_CONTAINER, &hook, 1);
	struct cc_error *err = NULL;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(rt_hooks_run(&hooks, RT_HOOK_CREATE_CONTAINER, "{}", &err), -1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true(t1.tv_sec - t0.tv_sec < 4);
	assert_string_equal(
	    err->msg,
	    "createContainer hook #0 (/bin/sh): timeout: killed after 1 seconds: started");
	cc_error_free(&err);
}

static void test_hook_kind_names(void **state)
{
	static const char *const want[] = { "prestart",	      "createRuntime", "createContainer",
					    "startContainer", "poststart",     "poststop" };
	for (int k = 0; k < RT_HOOK_KINDS; k++)
		assert_string_equal(rt_hook_kind_name((enum rt_hook_kind)k), want[k]);
}

/* ---- terminal ---- */

static void test_terminal_send_recv(void **state)
{
	struct cc_error *err = NULL;
	int master, slave, sv[2];
	assert_int_equal(rt_terminal_open("/dev/ptmx", 24, 80, &master, &slave, &err), 0);
	struct winsize ws;
	assert_int_equal(ioctl(slave, TIOCGWINSZ, &ws), 0);
	assert_int_equal(ws.ws_row, 24);
	assert_int_equal(ws.ws_col, 80);
	assert_true(fd_cloexec(master) && fd_cloexec(slave));

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(rt_terminal_send_fd(sv[0], master, "/dev/ptmx", &err), 0);
	close(master);
	int got = rt_terminal_recv_fd(sv[1], &err);
	assert_true(got >= 0);
	unsigned ptn;
	assert_int_equal(ioctl(got, TIOCGPTN, &ptn), 0); /* it is a pty master */

	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		CHILD_CHECK(rt_terminal_make_controlling(slave, &err) == 0);
		CHILD_CHECK(isatty(0) && isatty(1) && isatty(2));
		CHILD_CHECK(tcgetsid(0) == getpid());
		CHILD_CHECK(write(1, "hello\n", 6) == 6);
		_exit(0);
	}
	close(slave);
	_cleanup_free_ char *out = read_all(got);
	assert_exit0(wait_child(pid));
	assert_string_equal(out, "hello\r\n");
	close(got);

	/* A peer that closes without sending is an error, not a hang or fd -1 success. */
	close(sv[0]);
	assert_int_equal(rt_terminal_recv_fd(sv[1], &err), -1);
	assert_non_null(strstr(err->msg, "closed"));
	cc_error_free(&err);
	close(sv[1]);
}

static void test_console_socket(void **state)
{
	struct cc_error *err = NULL;
	_cleanup_free_ char *path = tmp_path("console.sock");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	strcpy(sa.sun_path, path);
	int lsock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(lsock, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lsock, 1), 0);

	int c = rt_console_socket_connect(path, &err);
	assert_true(c >= 0);
	int s = accept4(lsock, NULL, NULL, SOCK_CLOEXEC);
	assert_true(s >= 0);
	int master, slave;
	assert_int_equal(rt_terminal_open("/dev/ptmx", 0, 0, &master, &slave, &err), 0);
	assert_int_equal(rt_terminal_send_fd(c, master, "/dev/ptmx", &err), 0);
	/* runc's recvtty reads the name as the message body. */
	char name[64] = "";
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct iovec iov = { name, sizeof(name) - 1 };
	struct msghdr msg = { .msg_iov = &iov,
			      .msg_iovlen = 1,
			      .msg_control = ctl.b,
			      .msg_controllen = sizeof(ctl.b) };
	assert_int_equal(recvmsg(s, &msg, MSG_CMSG_CLOEXEC), 9);
	assert_string_equal(name, "/dev/ptmx");
	int fd;
	memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&msg)), sizeof(int));
	assert_true(fd >= 0);
	close(fd);
	close(master);
	close(slave);
	close(s);
	close(c);
	close(lsock);

	assert_int_equal(rt_console_socket_connect("/nonexistent/sock", &err), -1);
	assert_non_null(strstr(err->msg, "/nonexistent/sock"));
	cc_error_free(&err);
}

/* The proxy's process: stdin/stdout are pipes to the test; its child is the "container". */
static __attribute__((noreturn)) void proxy_side(int in, int out)
{
	struct cc_error *err = NULL;
	int master, slave;
	CHILD_CHECK(rt_terminal_open("/dev/ptmx", 0, 0, &master, &slave, &err) == 0);
	pid_t pid = fork();
	CHILD_CHECK(pid >= 0);
	if (pid == 0) {
		char line[64] = "";
		CHILD_CHECK(rt_terminal_make_controlling(slave, &err) == 0);
		dprintf(1, "from-container\n");
		CHILD_CHECK(fgets(line, sizeof(line), stdin) != NULL);
		dprintf(1, "got:%s", line);
		_exit(0);
	}
	close(slave);
	CHILD_CHECK(dup2(in, 0) == 0 && dup2(out, 1) == 1);
	close(in);
	close(out);
	CHILD_CHECK(rt_terminal_proxy(master, &err) == 0);
	int ws;
	CHILD_CHECK(waitpid(pid, &ws, 0) == pid && WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
	_exit(0);
}

static void test_terminal_proxy(void **state)
{
	int in[2], out[2];
	assert_int_equal(pipe(in), 0);
	assert_int_equal(pipe(out), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(in[1]);
		close(out[0]);
		proxy_side(in[0], out[1]);
	}
	close(in[0]);
	close(out[1]);
	assert_int_equal(write(in[1], "ping\n", 5), 5);
	close(in[1]);
	_cleanup_free_ char *got = read_all(out[0]);
	close(out[0]);
	assert_exit0(wait_child(pid));
	assert_non_null(strstr(got, "from-container\n"));
	assert_non_null(strstr(got, "got:ping\n"));
	assert_null(strstr(got, "\r\n")); /* ONLCR cleared on the master, as runc does */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rlimits),
		cmocka_unit_test(test_rlimit_error),
		cmocka_unit_test(test_oom_score_adj),
		cmocka_unit_test(test_identity),
		cmocka_unit_test(test_identity_defaults),
		cmocka_unit_test(test_identity_then_exec),
		cmocka_unit_test(test_exec_lookup),
		cmocka_unit_test(test_exec_failure),
		cmocka_unit_test(test_close_fds),
		cmocka_unit_test(test_hook_state_args_env),
		cmocka_unit_test(test_hook_no_args),
		cmocka_unit_test(test_hook_failure),
		cmocka_unit_test(test_hook_signal_and_missing),
		cmocka_unit_test(test_hook_ignores_stdin),
		cmocka_unit_test(test_hook_timeout),
		cmocka_unit_test(test_hook_kind_names),
		cmocka_unit_test(test_terminal_send_recv),
		cmocka_unit_test(test_console_socket),
		cmocka_unit_test(test_terminal_proxy),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
