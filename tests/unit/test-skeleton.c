// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for liberpal-skeleton (pal/skeleton), loaded with dlopen from the paths in
 * TEST_SKELETON_V1/V2/V3 and called through the PAL API typedefs, as rune calls it.
 *
 * Measurements and MACs are recomputed here from the documented formulas with OpenSSL's one-shot
 * functions and literal strings, independently of the skeleton's code and of sgx_report.h's
 * constants; only skel_sim_report_verify is the shared helper under test.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include "enclave/pal_api.h"
#include "enclave/sgx_report.h"
#include "pal/skeleton/sim-report.h"

struct pal {
	void *handle;
	int version;
	pal_get_version_fn get_version;
	pal_init_v1_fn init_v1;
	pal_init_v3_fn init_v3;
	pal_exec_v1_fn exec_v1;
	pal_create_process_fn create;
	pal_exec_v2_fn exec;
	pal_kill_fn kill;
	pal_destroy_fn destroy;
	pal_get_local_report_fn report;
};

static struct pal pals[4]; /* by version */

static struct pal *load(int version)
{
	struct pal *p = &pals[version];
	if (p->handle)
		return p;
	char var[32];
	snprintf(var, sizeof(var), "TEST_SKELETON_V%d", version);
	const char *path = getenv(var);
	if (!path)
		fail_msg("%s is not set (run through meson test)", var);
	p->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!p->handle)
		fail_msg("dlopen %s: %s", path, dlerror());
	p->version = version;
	p->get_version = (pal_get_version_fn)dlsym(p->handle, "pal_get_version");
	p->init_v1 = (pal_init_v1_fn)dlsym(p->handle, "pal_init");
	p->init_v3 = (pal_init_v3_fn)dlsym(p->handle, "pal_init");
	p->exec_v1 = (pal_exec_v1_fn)dlsym(p->handle, "pal_exec");
	p->exec = (pal_exec_v2_fn)dlsym(p->handle, "pal_exec");
	p->create = (pal_create_process_fn)dlsym(p->handle, "pal_create_process");
	p->kill = (pal_kill_fn)dlsym(p->handle, "pal_kill");
	p->destroy = (pal_destroy_fn)dlsym(p->handle, "pal_destroy");
	p->report = (pal_get_local_report_fn)dlsym(p->handle, "pal_get_local_report");
	assert_non_null(p->get_version);
	assert_non_null(p->init_v1);
	assert_non_null(p->exec);
	assert_non_null(p->destroy);
	return p;
}

static int init(struct pal *p, const char *args, const char *level)
{
	if (p->version >= 3) {
		struct pal_attr_v3 a = { .attr_v1 = { args, level }, .fd = -1, .addr = 0 };
		return p->init_v3(&a);
	}
	struct pal_attr_v1 a = { args, level };
	return p->init_v1(&a);
}

/* Every test leaves the modules uninitialised, even when it failed half-way. */
static int teardown(void **state)
{
	for (int v = 1; v <= 3; v++)
		if (pals[v].handle)
			pals[v].destroy();
	return 0;
}

/* ---- files and descriptors ---- */

static char *read_fd_text(int fd)
{
	struct stat st;
	assert_int_equal(fstat(fd, &st), 0);
	char *buf = calloc(1, (size_t)st.st_size + 1);
	assert_non_null(buf);
	assert_int_equal(pread(fd, buf, (size_t)st.st_size, 0), st.st_size);
	return buf;
}

static uint8_t *read_file(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	struct stat st;
	assert_int_equal(fstat(fd, &st), 0);
	uint8_t *buf = malloc((size_t)st.st_size + 1);
	assert_non_null(buf);
	size_t done = 0;
	while (done < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + done, (size_t)st.st_size - done);
		assert_true(n > 0);
		done += (size_t)n;
	}
	close(fd);
	*len = done;
	return buf;
}

static int temp_fd(void)
{
	char path[] = "/tmp/test-skeleton-XXXXXX";
	int fd = mkostemp(path, O_CLOEXEC);
	assert_true(fd >= 0);
	unlink(path);
	return fd;
}

/* A file with the given mode and content; path is filled in, the caller unlinks it. */
static void make_file(char path[64], mode_t mode, const void *data, size_t len)
{
	snprintf(path, 64, "/tmp/test-skeleton-XXXXXX");
	int fd = mkostemp(path, O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

/* Redirects one of our descriptors (1 or 2) to a temp file around a call. */
struct capture {
	int target, saved, file;
};

static void capture_start(struct capture *c, int target)
{
	fflush(NULL);
	c->target = target;
	c->file = temp_fd();
	c->saved = dup(target);
	assert_true(c->saved >= 0);
	assert_int_equal(dup2(c->file, target), target);
}

static char *capture_end(struct capture *c)
{
	fflush(NULL);
	assert_int_equal(dup2(c->saved, c->target), c->target);
	close(c->saved);
	char *text = read_fd_text(c->file);
	close(c->file);
	return text;
}

/* ---- running payloads ---- */

/* create + exec in v2/v3, exec in v1; the return value of the failing call, or 0. */
static int run(struct pal *p, const char *path, const char *const argv[], const char *const env[],
	       const struct pal_stdio_fds *stdio, int *exit_value)
{
	if (p->version == 1)
		return p->exec_v1(path, argv, stdio, exit_value);
	int pid = -1;
	struct pal_create_process_args a = {
		.path = path,
		.argv = (const char **)argv,
		.env = (const char **)env,
		.stdio = (struct pal_stdio_fds *)stdio,
		.pid = &pid,
	};
	int r = p->create(&a);
	if (r < 0)
		return r;
	assert_true(pid > 0);
	struct pal_exec_args e = { .pid = pid, .exit_value = exit_value };
	return p->exec(&e);
}

static int create(struct pal *p, const char *path, const char *const argv[], int *pid)
{
	static const char *const env[] = { "PATH=/usr/bin:/bin", NULL };
	struct pal_stdio_fds stdio = { 0, 1, 2 };
	struct pal_create_process_args a = {
		.path = path,
		.argv = (const char **)argv,
		.env = (const char **)env,
		.stdio = &stdio,
		.pid = pid,
	};
	return p->create(&a);
}

struct exec_job {
	struct pal *pal;
	pthread_t thread;
	int pid, ret, exit_value;
};

static void *exec_thread(void *arg)
{
	struct exec_job *j = arg;
	struct pal_exec_args e = { .pid = j->pid, .exit_value = &j->exit_value };
	j->ret = j->pal->exec(&e);
	return NULL;
}

static void start_exec(struct exec_job *j, struct pal *p, int pid)
{
	*j = (struct exec_job){ .pal = p, .pid = pid, .ret = 1, .exit_value = -1 };
	assert_int_equal(pthread_create(&j->thread, NULL, exec_thread, j), 0);
}

/* Waits until pid has exec'd the named program (its /proc/<pid>/exe). */
static void wait_for_exe(int pid, const char *name)
{
	char link[64], target[4096];
	snprintf(link, sizeof(link), "/proc/%d/exe", pid);
	for (int i = 0; i < 500; i++) {
		ssize_t n = readlink(link, target, sizeof(target) - 1);
		if (n > 0) {
			target[n] = '\0';
			const char *base = strrchr(target, '/');
			if (base && strcmp(base + 1, name) == 0)
				return;
		}
		nanosleep(&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
	}
	fail_msg("process %d never ran %s", pid, name);
}

/* Joins an exec thread, failing instead of hanging if its payload never ends. The job must
 * outlive a failed test (static): the teardown's pal_destroy then ends the thread. */
static void join_exec(struct exec_job *j)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 20;
	if (pthread_timedjoin_np(j->thread, NULL, &ts) != 0)
		fail_msg("pal_exec of %d did not return", j->pid);
}

static bool pid_gone(int pid)
{
	return kill(pid, 0) < 0 && errno == ESRCH;
}

/* ---- independent crypto ---- */

static void sha256(const void *data, size_t len, uint8_t out[32])
{
	size_t n = 0;
	assert_int_equal(EVP_Q_digest(NULL, "SHA256", NULL, data, len, out, &n), 1);
	assert_int_equal(n, 32);
}

/* SHA-256("rune-skeleton-sim-enclave" NUL || u64 LE size || bytes), written out by hand. */
static void expected_mrenclave(const char *path, uint8_t out[32])
{
	static const char tag[] = "rune-skeleton-sim-enclave";
	size_t len;
	uint8_t *file = read_file(path, &len);
	size_t total = sizeof(tag) + 8 + len;
	uint8_t *msg = malloc(total);
	assert_non_null(msg);
	memcpy(msg, tag, sizeof(tag)); /* with the NUL */
	for (int i = 0; i < 8; i++)
		msg[sizeof(tag) + i] = (uint8_t)((uint64_t)len >> (8 * i));
	memcpy(msg + sizeof(tag) + 8, file, len);
	sha256(msg, total, out);
	free(msg);
	free(file);
}

static void expected_mac(const uint8_t report[432], const uint8_t target_mr[32], uint8_t mac[16])
{
	static const char root[] = "rune-skeleton-simulated-root-key";
	uint8_t msg[10 + 32 + 32], hmac[32];
	memcpy(msg, "report-key", 10);
	memcpy(msg + 10, target_mr, 32);
	memcpy(msg + 42, report + 384, 32); /* KEYID */
	size_t n = 0;
	assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, root, strlen(root), msg,
				  sizeof(msg), hmac, sizeof(hmac), &n));
	assert_int_equal(n, 32);
	assert_non_null(
	    EVP_Q_mac(NULL, "CMAC", NULL, "AES-128-CBC", NULL, hmac, 16, report, 384, mac, 16, &n));
	assert_int_equal(n, 16);
}

static uint64_t le64_at(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static bool all_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

/* ---- tests ---- */

static void test_versions_and_symbols(void **state)
{
	for (int v = 1; v <= 3; v++) {
		struct pal *p = load(v);
		assert_int_equal(p->get_version(), v);
		/* v1 has no process model of its own; only v3 reports. */
		assert_true((p->create != NULL) == (v >= 2));
		assert_true((p->kill != NULL) == (v >= 2));
		assert_true((p->report != NULL) == (v == 3));
		/* Only the pal_* entry points are exported. */
		assert_null(dlsym(p->handle, "skel_sim_report_mac"));
		assert_null(dlsym(p->handle, "skel_spawn"));
	}
	assert_string_equal(SKEL_SIM_KEYID, "RUNE-SKELETON-SIMULATED-REPORT");
	assert_string_equal(SKEL_SIM_ROOT_KEY, "rune-skeleton-simulated-root-key");
}

static void test_init(void **state)
{
	for (int v = 1; v <= 3; v++) {
		struct pal *p = load(v);
		struct capture c;
		capture_start(&c, 2);
		int r = init(p, "debug  no-sgx-flc no-epm", "info");
		int busy = init(p, "", "info");
		char *text = capture_end(&c);
		assert_int_equal(r, 0);
		assert_int_equal(busy, -EBUSY);
		assert_non_null(
		    strstr(text, "liberpal-skeleton: SIMULATED enclave (no SGX hardware)"));
		free(text);
		assert_int_equal(p->destroy(), 0);
		assert_int_equal(p->destroy(), 0); /* idempotent */

		capture_start(&c, 2);
		r = init(p, "debug bogus=1 no-epm", "info");
		text = capture_end(&c);
		assert_int_equal(r, -EINVAL);
		assert_string_equal(text, "liberpal-skeleton: unknown argument 'bogus=1'\n");
		free(text);
		/* The failed init left it uninitialised. */
		assert_int_equal(init(p, NULL, NULL), 0);
		assert_int_equal(p->destroy(), 0);
	}

	struct pal *p = load(3);
	assert_int_equal(p->init_v3(NULL), -EINVAL);
	/* The banner at info (and for unknown levels), not from error up. */
	static const struct {
		const char *level;
		bool banner;
	} levels[] = { { "trace", true },    { "info", true },	 { "warning", true },
		       { "nonsense", true }, { "error", false }, { "fatal", false },
		       { "panic", false },   { "off", false } };
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		struct capture c;
		capture_start(&c, 2);
		assert_int_equal(init(p, "", levels[i].level), 0);
		char *text = capture_end(&c);
		assert_int_equal(p->destroy(), 0);
		if (strstr(text, "SIMULATED") == NULL && levels[i].banner)
			fail_msg("no banner at level %s", levels[i].level);
		if (strstr(text, "SIMULATED") != NULL && !levels[i].banner)
			fail_msg("banner at level %s: %s", levels[i].level, text);
		if (strcmp(levels[i].level, "info") == 0)
			assert_ptr_equal(strchr(text, '\n'),
					 text + strlen(text) - 1); /* one line */
		free(text);
	}
}

/* Output, exit status and environment of a payload, with its stdio on temp files. */
static void check_run(int version)
{
	struct pal *p = load(version);
	assert_int_equal(init(p, "", "error"), 0);
	int in = open("/dev/null", O_RDONLY | O_CLOEXEC), out = temp_fd(), err = temp_fd();
	/* A descriptor the payload must not inherit, even without close-on-exec. */
	int leak = open("/dev/null", O_RDONLY);
	assert_true(in >= 0 && leak >= 0);
	char script[256];
	snprintf(script, sizeof(script),
		 "echo out; echo \"${GREETING:-none}${SKEL_V1_MARK:-}\"; echo err >&2; "
		 "test -e /proc/$$/fd/%d && echo leaked; exit 7",
		 leak);
	const char *argv[] = { "sh", "-c", script, NULL };
	const char *env[] = { "GREETING=hi", "PATH=/usr/bin:/bin", NULL };
	struct pal_stdio_fds stdio = { in, out, err };
	int status = -1;
	setenv("SKEL_V1_MARK", "-v1env", 1);
	int r = run(p, "/bin/sh", argv, env, &stdio, &status);
	unsetenv("SKEL_V1_MARK");
	assert_int_equal(r, 0);
	assert_int_equal(status, 7);
	char *o = read_fd_text(out), *e = read_fd_text(err);
	/* v2/v3 pass exactly env; v1 passes none, so the payload sees the caller's environ. */
	assert_string_equal(o, version == 1 ? "out\nnone-v1env\n" : "out\nhi\n");
	assert_string_equal(e, "err\n");
	free(o);
	free(e);
	close(in);
	close(out);
	close(err);
	close(leak);
	assert_int_equal(p->destroy(), 0);
}

static void test_run_v1(void **state)
{
	check_run(1);
}

static void test_run_v2(void **state)
{
	check_run(2);
}

static void test_run_v3(void **state)
{
	check_run(3);
}

/* stdio given as our own 1 and 2, swapped: the child must not clobber one with the other. */
static void test_stdio_overlap(void **state)
{
	struct pal *p = load(3);
	assert_int_equal(init(p, "", "off"), 0);
	const char *argv[] = { "sh", "-c", "echo to-stdout; echo to-stderr >&2", NULL };
	const char *env[] = { NULL };
	struct pal_stdio_fds stdio = { 0, 2, 1 };
	struct capture c1, c2;
	int status = -1;
	capture_start(&c1, 1);
	capture_start(&c2, 2);
	int r = run(p, "/bin/sh", argv, env, &stdio, &status);
	char *err_text = capture_end(&c2), *out_text = capture_end(&c1);
	assert_int_equal(r, 0);
	assert_int_equal(status, 0);
	assert_string_equal(err_text, "to-stdout\n");
	assert_string_equal(out_text, "to-stderr\n");
	free(err_text);
	free(out_text);
	assert_int_equal(p->destroy(), 0);
}

static void test_create_errors(void **state)
{
	struct pal *p = load(3);
	const char *argv[] = { "x", NULL };
	int pid = -1;
	assert_int_equal(create(p, "/bin/true", argv, &pid), -EINVAL); /* before pal_init */
	assert_int_equal(init(p, "", "off"), 0);
	assert_int_equal(create(p, "/nonexistent/skeleton-payload", argv, &pid), -ENOENT);
	char path[64];
	make_file(path, 0644, "#!/bin/sh\n", 10);
	assert_int_equal(create(p, path, argv, &pid), -EACCES);
	unlink(path);
	assert_int_equal(create(p, "/tmp", argv, &pid), -ENOEXEC);
	assert_int_equal(p->create(NULL), -EINVAL);

	/* A closed descriptor as stdio. */
	int closed = temp_fd();
	close(closed);
	struct pal_stdio_fds stdio = { 0, closed, 2 };
	struct pal_create_process_args a = { "/bin/true", argv, NULL, &stdio, &pid };
	assert_int_equal(p->create(&a), -EBADF);

	int status;
	struct pal_exec_args e = { .pid = 999999, .exit_value = &status };
	assert_int_equal(p->exec(&e), -ESRCH);
	assert_int_equal(p->exec(NULL), -EINVAL);

	/* None of those was measured: there is still no enclave image. */
	uint8_t ti[512] = { 0 }, rep[432] = { 0 };
	int len = sizeof(rep);
	assert_int_equal(p->report(ti, sizeof(ti), rep, &len), -EAGAIN);

	/* A released pid is gone; releasing it twice is an error. */
	assert_int_equal(create(p, "/bin/true", argv, &pid), 0);
	e.pid = pid;
	assert_int_equal(p->exec(&e), 0);
	assert_int_equal(status, 0);
	assert_int_equal(p->exec(&e), -ESRCH);
	assert_int_equal(p->destroy(), 0);

	/* v1: same checks in its single call. */
	struct pal *p1 = load(1);
	struct pal_stdio_fds std = { 0, 1, 2 };
	assert_int_equal(p1->exec_v1("/bin/true", argv, &std, &status), -EINVAL);
	assert_int_equal(init(p1, "", "off"), 0);
	assert_int_equal(p1->exec_v1("/nonexistent", argv, &std, &status), -ENOENT);
	assert_int_equal(p1->exec_v1("/tmp", argv, &std, &status), -ENOEXEC);
	assert_int_equal(p1->destroy(), 0);
}

static void test_exec_failures(void **state)
{
	struct pal *p = load(2);
	assert_int_equal(init(p, "", "off"), 0);
	int out = temp_fd();
	struct pal_stdio_fds stdio = { 0, out, out };
	const char *env[] = { NULL };
	int status = -1;

	/* Executable, but neither ELF nor script: the exec fails in the child. */
	char garbage[64];
	static const uint8_t junk[] = { 0x01, 0x02, 0x03, 0xfe, 'n', 'o', 't', ' ', 'e', 'l', 'f' };
	make_file(garbage, 0755, junk, sizeof(junk));
	const char *argv[] = { "garbage", NULL };
	assert_int_equal(run(p, garbage, argv, env, &stdio, &status), -ENOEXEC);
	assert_int_equal(status, -1);
	unlink(garbage);

	/* A script runs (its interpreter gets the measured file through /dev/fd). */
	char script[64];
	static const char text[] = "#!/bin/sh\necho script ran \"$1\"\nexit 3\n";
	make_file(script, 0755, text, strlen(text));
	const char *sargv[] = { "script", "arg", NULL };
	assert_int_equal(run(p, script, sargv, env, &stdio, &status), 0);
	assert_int_equal(status, 3);
	unlink(script);
	char *o = read_fd_text(out);
	assert_string_equal(o, "script ran arg\n");
	free(o);

	/* env NULL in v2/v3: an empty environment, not ours. */
	const char *eargv[] = { "env", NULL };
	int envout = temp_fd();
	struct pal_stdio_fds estdio = { 0, envout, 2 };
	assert_int_equal(run(p, "/usr/bin/env", eargv, NULL, &estdio, &status), 0);
	assert_int_equal(status, 0);
	o = read_fd_text(envout);
	assert_string_equal(o, "");
	free(o);
	close(envout);

	/* A script whose interpreter is missing. */
	static const char bad[] = "#!/nonexistent/interpreter\n";
	make_file(script, 0755, bad, strlen(bad));
	assert_int_equal(run(p, script, sargv, env, &stdio, &status), -ENOENT);
	unlink(script);
	close(out);
	assert_int_equal(p->destroy(), 0);
}

static void test_kill(void **state)
{
	struct pal *p = load(3);
	assert_int_equal(init(p, "", "off"), 0);
	const char *argv[] = { "sleep", "100", NULL };
	int pid = -1;
	/* A blocked and an ignored SIGTERM in the creator must not reach the payload. */
	sigset_t term, old;
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &term, &old);
	struct sigaction ign = { .sa_handler = SIG_IGN }, old_act;
	sigaction(SIGTERM, &ign, &old_act);
	int r = create(p, "/bin/sleep", argv, &pid);
	sigaction(SIGTERM, &old_act, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	assert_int_equal(r, 0);

	static struct exec_job job;
	start_exec(&job, p, pid);
	wait_for_exe(pid, "sleep");
	assert_int_equal(getsid(pid), pid); /* a session of its own */
	assert_int_equal(p->kill(pid, 0), 0);
	assert_int_equal(p->kill(0, 0), 0); /* the entrypoint */
	assert_int_equal(p->kill(pid, 65), -EINVAL);
	assert_int_equal(p->kill(pid, -1), -EINVAL);
	assert_int_equal(p->kill(-2, SIGTERM), -EINVAL);
	assert_int_equal(p->kill(getpid(), 0), -ESRCH); /* not one of ours */
	assert_int_equal(p->kill(999999, SIGTERM), -ESRCH);
	struct pal_exec_args e = { .pid = pid, .exit_value = &r };
	assert_int_equal(p->exec(&e), -EBUSY); /* already running */

	assert_int_equal(p->kill(-1, SIGTERM), 0);
	join_exec(&job);
	assert_int_equal(job.ret, 0);
	assert_int_equal(job.exit_value, 128 + SIGTERM);
	assert_true(pid_gone(pid));
	assert_int_equal(p->kill(-1, 0), -ESRCH); /* nobody left */
	assert_int_equal(p->kill(0, 0), -ESRCH);
	assert_int_equal(p->destroy(), 0);
}

static void test_destroy_kills_leftovers(void **state)
{
	struct pal *p = load(3);
	assert_int_equal(init(p, "", "off"), 0);
	const char *argv[] = { "sleep", "100", NULL };
	int parked = -1, running = -1;
	assert_int_equal(create(p, "/bin/sleep", argv, &parked), 0);
	assert_int_equal(create(p, "/bin/sleep", argv, &running), 0);
	static struct exec_job job;
	start_exec(&job, p, running);
	wait_for_exe(running, "sleep");
	assert_false(pid_gone(parked));

	assert_int_equal(p->destroy(), 0);
	join_exec(&job);
	assert_int_equal(job.ret, 0);
	assert_int_equal(job.exit_value, 128 + SIGKILL);
	assert_true(pid_gone(parked));
	assert_true(pid_gone(running));

	/* Back to the uninitialised state, measurement wiped. */
	assert_int_equal(create(p, "/bin/sleep", argv, &parked), -EINVAL);
	assert_int_equal(init(p, "", "off"), 0);
	uint8_t ti[512] = { 0 }, rep[432] = { 0 };
	int len = sizeof(rep);
	assert_int_equal(p->report(ti, sizeof(ti), rep, &len), -EAGAIN);
	assert_int_equal(p->destroy(), 0);
}

static void check_report(const char *args, const char *exe, uint64_t want_flags)
{
	struct pal *p = load(3);
	struct capture c;
	capture_start(&c, 2);
	int r = init(p, args, "info");
	int pid = -1;
	const char *argv[] = { "payload", NULL };
	if (r == 0)
		r = create(p, exe, argv, &pid);
	char *log = capture_end(&c);
	assert_int_equal(r, 0);

	uint8_t mr[32], signer[32];
	expected_mrenclave(exe, mr);
	sha256("rune-skeleton-sim-signer", strlen("rune-skeleton-sim-signer"), signer);
	char hex[65];
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", mr[i]);
	/* The measurement is printed when verbose, only then. */
	assert_true((strstr(log, hex) != NULL) == ((want_flags & SGX_FLAGS_DEBUG) != 0));
	free(log);

	uint8_t ti[512], rep[448];
	memset(ti, 0, sizeof(ti));
	for (int i = 0; i < 32; i++)
		ti[i] = (uint8_t)(0xa0 + i);
	memset(rep, 0xee, sizeof(rep));
	for (int i = 0; i < 64; i++)
		rep[320 + i] = (uint8_t)i;
	int len = sizeof(rep);
	assert_int_equal(p->report(ti, sizeof(ti), rep, &len), 0);
	assert_int_equal(len, 432);
	assert_int_equal(rep[432], 0xee); /* nothing written past the report */

	/* The body, read at the documented offsets. */
	assert_true(all_zero(rep, 48)); /* cpusvn, miscselect, reserved, isvextprodid */
	assert_int_equal(le64_at(rep + 48), want_flags);
	assert_int_equal(le64_at(rep + 56), 3);
	assert_memory_equal(rep + 64, mr, 32);
	assert_true(all_zero(rep + 96, 32));
	assert_memory_equal(rep + 128, signer, 32);
	assert_true(all_zero(rep + 160, 320 - 160)); /* configid, isvprodid, isvsvn, ... */
	for (int i = 0; i < 64; i++)
		assert_int_equal(rep[320 + i], i); /* report data echoed */
	uint8_t keyid[32] = "RUNE-SKELETON-SIMULATED-REPORT";
	assert_memory_equal(rep + 384, keyid, 32);

	uint8_t mac[16];
	expected_mac(rep, ti, mac);
	assert_memory_equal(rep + 416, mac, 16);

	/* The shared verifier agrees, and rejects any change. */
	struct sgx_report report;
	memcpy(&report, rep, sizeof(report));
	assert_true(sgx_report_is_simulated(&report));
	assert_true(skel_sim_report_verify(&report, ti));
	uint8_t other[32];
	memcpy(other, ti, 32);
	other[31] ^= 1;
	assert_false(skel_sim_report_verify(&report, other));
	for (size_t bit = 0; bit < 8 * sizeof(report); bit += 97) {
		struct sgx_report bad = report;
		((uint8_t *)&bad)[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_false(skel_sim_report_verify(&bad, ti));
	}

	/* rune exec runs in the same enclave: a later process does not change MRENCLAVE. */
	int pid2 = -1;
	assert_int_equal(create(p, "/bin/true", argv, &pid2), 0);
	memset(rep, 0, sizeof(rep));
	len = 432;
	assert_int_equal(p->report(ti, sizeof(ti), rep, &len), 0);
	assert_memory_equal(rep + 64, mr, 32);
	assert_true(all_zero(rep + 320, 64)); /* a zeroed buffer: zero report data */
	assert_int_equal(p->destroy(), 0);
	assert_true(pid_gone(pid) && pid_gone(pid2));
}

static void test_report(void **state)
{
	check_report("debug", "/bin/sh", SGX_FLAGS_INIT | SGX_FLAGS_MODE64BIT | SGX_FLAGS_DEBUG);
	check_report("", "/bin/true", SGX_FLAGS_INIT | SGX_FLAGS_MODE64BIT);

	/* A file larger than the skeleton's read chunk, measured at create (never run). */
	size_t size = 3 * 1024 * 1024 + 12345;
	uint8_t *big = malloc(size);
	assert_non_null(big);
	for (size_t i = 0; i < size; i++)
		big[i] = (uint8_t)(i * 31 + (i >> 13));
	char path[64];
	make_file(path, 0755, big, size);
	free(big);
	check_report("", path, SGX_FLAGS_INIT | SGX_FLAGS_MODE64BIT);
	unlink(path);
}

static void test_report_errors(void **state)
{
	struct pal *p = load(3);
	uint8_t ti[512] = { 0 }, rep[432] = { 0 };
	int len = sizeof(rep);
	assert_int_equal(p->report(ti, 512, rep, &len), -EAGAIN); /* not initialised */
	assert_int_equal(init(p, "", "off"), 0);
	assert_int_equal(p->report(ti, 512, rep, &len), -EAGAIN); /* no process yet */
	const char *argv[] = { "true", NULL };
	int pid;
	assert_int_equal(create(p, "/bin/true", argv, &pid), 0);
	assert_int_equal(p->report(ti, 511, rep, &len), -EINVAL);
	assert_int_equal(p->report(ti, 513, rep, &len), -EINVAL);
	len = 431;
	assert_int_equal(p->report(ti, 512, rep, &len), -EINVAL);
	len = 432;
	assert_int_equal(p->report(NULL, 512, rep, &len), -EINVAL);
	assert_int_equal(p->report(ti, 512, NULL, &len), -EINVAL);
	assert_int_equal(p->report(ti, 512, rep, NULL), -EINVAL);
	assert_int_equal(p->report(ti, 512, rep, &len), 0);
	assert_int_equal(p->destroy(), 0);
}

/* rune runs `rune exec` requests on threads while signals are forwarded. */
struct worker {
	struct pal *pal;
	pthread_t thread;
	int base, failures;
};

static void *worker_thread(void *arg)
{
	struct worker *w = arg;
	for (int i = 0; i < 10; i++) {
		char script[32];
		snprintf(script, sizeof(script), "exit %d", w->base + i);
		const char *argv[] = { "sh", "-c", script, NULL };
		const char *env[] = { NULL };
		struct pal_stdio_fds stdio = { 0, 1, 2 };
		int status = -1;
		if (run(w->pal, "/bin/sh", argv, env, &stdio, &status) != 0 ||
		    status != w->base + i)
			w->failures++;
	}
	return NULL;
}

static void test_concurrent(void **state)
{
	struct pal *p = load(3);
	assert_int_equal(init(p, "", "off"), 0);
	struct worker w[6];
	for (int i = 0; i < 6; i++) {
		w[i] = (struct worker){ .pal = p, .base = 10 * (i + 1) };
		assert_int_equal(pthread_create(&w[i].thread, NULL, worker_thread, &w[i]), 0);
	}
	for (int i = 0; i < 200; i++)
		p->kill(-1, 0);
	for (int i = 0; i < 6; i++) {
		pthread_join(w[i].thread, NULL);
		assert_int_equal(w[i].failures, 0);
	}
	assert_int_equal(p->destroy(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_versions_and_symbols, teardown),
		cmocka_unit_test_teardown(test_init, teardown),
		cmocka_unit_test_teardown(test_run_v1, teardown),
		cmocka_unit_test_teardown(test_run_v2, teardown),
		cmocka_unit_test_teardown(test_run_v3, teardown),
		cmocka_unit_test_teardown(test_stdio_overlap, teardown),
		cmocka_unit_test_teardown(test_create_errors, teardown),
		cmocka_unit_test_teardown(test_exec_failures, teardown),
		cmocka_unit_test_teardown(test_kill, teardown),
		cmocka_unit_test_teardown(test_destroy_kills_leftovers, teardown),
		cmocka_unit_test_teardown(test_report, teardown),
		cmocka_unit_test_teardown(test_report_errors, teardown),
		cmocka_unit_test_teardown(test_concurrent, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
