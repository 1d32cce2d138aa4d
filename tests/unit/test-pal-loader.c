// SPDX-License-Identifier: Apache-2.0
/* Unit tests for lib/enclave/pal.c against the test PALs (tests/pal): version negotiation,
 * the values and structures each API version receives, the call order, and error messages. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "enclave/pal.h"
#include "util/cleanup.h"
#include "util/fs.h"

static const char *pal_path(const char *which)
{
	char var[64];
	snprintf(var, sizeof(var), "TEST_PAL_%s", which);
	const char *p = getenv(var);
	if (!p)
		fail_msg("%s is not set (run through meson test)", var);
	return p;
}

struct run {
	char log[64], out[64];
	char *log_text, *out_text;
	int exit_value;
};

/* Load, init, run `sh -c script`, destroy; the PAL's record and the payload's output. */
static void run_pal(const char *which, int want_version, const char *script, struct run *r)
{
	struct cc_error *err = NULL;
	snprintf(r->log, sizeof(r->log), "/tmp/rune-pal-log-XXXXXX");
	snprintf(r->out, sizeof(r->out), "/tmp/rune-pal-out-XXXXXX");
	int lfd = mkstemp(r->log), ofd = mkstemp(r->out);
	assert_true(lfd >= 0 && ofd >= 0);
	close(lfd);
	struct enc_pal *p = enc_pal_load(pal_path(which), &err);
	if (!p)
		fail_msg("%s", err->msg);
	assert_int_equal(enc_pal_version(p), want_version);
	_cleanup_free_ char *args = xasprintf("log=%s debug", r->log);
	assert_int_equal(enc_pal_init(p, args, "debug", &err), 0);
	char *argv[] = { (char *)"sh", (char *)"-c", (char *)script, NULL };
	char *env[] = { (char *)"GREETING=hi", (char *)"PATH=/bin", NULL };
	int stdio[3] = { 0, ofd, 2 };
	if (enc_pal_run(p, "/bin/sh", argv, env, stdio, &r->exit_value, &err) < 0)
		fail_msg("%s", err->msg);
	if (want_version >= 2)
		assert_int_equal(enc_pal_kill(p, -1, 15, &err), 0);
	assert_int_equal(enc_pal_destroy(p, &err), 0);
	enc_pal_unload(p);
	close(ofd);
	r->log_text = cc_read_file(r->log, 0, NULL, &err);
	r->out_text = cc_read_file(r->out, 0, NULL, &err);
	unlink(r->log);
	unlink(r->out);
}

static void free_run(struct run *r)
{
	free(r->log_text);
	free(r->out_text);
}

static void test_v1(void **state)
{
	struct run r;
	run_pal("V1", 1, "echo \"${GREETING:-no env}\"; exit 3", &r);
	/* The stdout fd number is whatever mkstemp gave: compare around it. */
	assert_non_null(strstr(r.log_text, "init v1 args=log="));
	assert_non_null(strstr(r.log_text, " debug log_level=debug\n"));
	assert_non_null(strstr(r.log_text, "exec v1 path=/bin/sh argv=sh|-c|echo"));
	assert_true(strncmp(r.log_text, "get_version calls=1\ninit v1 ", 28) == 0);
	assert_non_null(strstr(r.log_text, "\ndestroy\n"));
	/* v1 passes no environment. */
	assert_string_equal(r.out_text, "no env\n");
	assert_int_equal(r.exit_value, 3);
	free_run(&r);
}

static void test_v2_and_v3(void **state)
{
	static const struct {
		const char *which;
		int version;
		const char *init;
	} cases[] = {
		{ "V2", 2, "init v2 args=log=" },
		{ "V3", 3, "init v3 args=log=" },
	};
	for (size_t i = 0; i < 2; i++) {
		struct run r;
		run_pal(cases[i].which, cases[i].version, "echo \"$GREETING\"; exit 7", &r);
		assert_true(strncmp(r.log_text, "get_version calls=1\n", 20) == 0);
		assert_non_null(strstr(r.log_text, cases[i].init));
		if (cases[i].version == 3) /* no enclave pool: fd -1, addr 0 */
			assert_non_null(strstr(r.log_text, "log_level=debug fd=-1 addr=0\n"));
		assert_non_null(strstr(r.log_text,
				       "create_process path=/bin/sh argv=sh|-c|echo "
				       "\"$GREETING\"; exit 7 env=GREETING=hi|PATH=/bin "
				       "stdio=0,"));
		/* exec gets the pid create_process returned; kill forwards to every process. */
		assert_non_null(
		    strstr(r.log_text, "\nexec pid=4242\nkill pid=-1 sig=15\ndestroy\n"));
		assert_string_equal(r.out_text, "hi\n");
		assert_int_equal(r.exit_value, 7);
		free_run(&r);
	}
}

static void test_errors(void **state)
{
	struct cc_error *err = NULL;
	assert_null(enc_pal_load("/nonexistent/liberpal-x.so", &err));
	assert_non_null(
	    strstr(err->msg, "enclave runtime /nonexistent/liberpal-x.so: cannot load: "));
	cc_error_free(&err);

	_cleanup_free_ char *v4 = xasprintf("enclave runtime %s: unsupported PAL API version 4 "
					    "(rune supports 1 to 3)",
					    pal_path("V4"));
	assert_null(enc_pal_load(pal_path("V4"), &err));
	assert_string_equal(err->msg, v4);
	cc_error_free(&err);

	_cleanup_free_ char *noinit = xasprintf(
	    "enclave runtime %s: PAL API v3 needs the symbol pal_init", pal_path("NOINIT"));
	assert_null(enc_pal_load(pal_path("NOINIT"), &err));
	assert_string_equal(err->msg, noinit);
	cc_error_free(&err);

	struct enc_pal *p = enc_pal_load(pal_path("INITFAILS"), &err);
	assert_non_null(p);
	assert_int_equal(enc_pal_init(p, "", "info", &err), -1);
	_cleanup_free_ char *fails =
	    xasprintf("enclave runtime %s: pal_init failed with -1: Operation not permitted",
		      pal_path("INITFAILS"));
	assert_string_equal(err->msg, fails);
	cc_error_free(&err);
	enc_pal_unload(p);

	/* v1 has no pal_kill. */
	p = enc_pal_load(pal_path("V1"), &err);
	assert_int_equal(enc_pal_kill(p, -1, 9, &err), -1);
	assert_non_null(strstr(err->msg, "the PAL exports no pal_kill (PAL API v1 has none)"));
	cc_error_free(&err);
	enc_pal_unload(p);
}

static void copy(const char *from, const char *to)
{
	struct cc_error *err = NULL;
	size_t len = 0;
	_cleanup_free_ char *data = cc_read_file(from, 64u << 20, &len, &err);
	assert_non_null(data);
	assert_int_equal(cc_write_file(to, data, len, 0755, &err), 0);
}

/* rune loads the file it checked: the descriptor, not the path, even when the path has been
 * given another file since. */
static void test_load_by_descriptor(void **state)
{
	struct cc_error *err = NULL;
	char dir[] = "/tmp/rune-pal-fd-XXXXXX";
	assert_non_null(mkdtemp(dir));
	_cleanup_free_ char *path = xasprintf("%s/pal.so", dir);
	_cleanup_free_ char *other = xasprintf("%s/other.so", dir);
	copy(pal_path("V3"), path);
	int fd = open(path, O_PATH | O_CLOEXEC);
	assert_true(fd >= 0);
	copy(pal_path("V2"), other);
	assert_int_equal(rename(other, path), 0);

	struct enc_pal *p = enc_pal_load_fd(fd, path, &err);
	if (!p)
		fail_msg("%s", err->msg);
	assert_int_equal(enc_pal_version(p), 3);
	assert_int_equal(enc_pal_kill(p, -1, 0, &err), 0);
	enc_pal_unload(p);
	/* The control: by path, the new file. */
	p = enc_pal_load(path, &err);
	assert_non_null(p);
	assert_int_equal(enc_pal_version(p), 2);
	enc_pal_unload(p);
	close(fd);

	/* Messages name the PAL by its path, not by the descriptor. */
	int bad = open("/dev/null", O_PATH | O_CLOEXEC);
	assert_null(enc_pal_load_fd(bad, "/the/configured/path.so", &err));
	assert_non_null(strstr(err->msg, "enclave runtime /the/configured/path.so: cannot load: "));
	cc_error_free(&err);
	close(bad);
	assert_int_equal(cc_rm_rf(dir, &err), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v1),
		cmocka_unit_test(test_v2_and_v3),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_load_by_descriptor),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
