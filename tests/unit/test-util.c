// SPDX-License-Identifier: Apache-2.0
/* Unit tests for lib/util: errors, string vectors, paths, in-root resolution, JSON, logging. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include "util/cleanup.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/log.h"
#include "util/strv.h"

static void test_error_set_and_prefix(void **state)
{
	struct cc_error *err = NULL;
	assert_int_equal(cc_error_set(&err, ENOENT, "open %s", "x"), -1);
	assert_string_equal(err->msg, "open x: No such file or directory");
	assert_int_equal(err->errnum, ENOENT);
	cc_error_prefix(&err, "layer %d", 3);
	assert_string_equal(err->msg, "layer 3: open x: No such file or directory");
	/* A second set must not mask the first (most precise) error. */
	cc_error_set(&err, 0, "outer");
	assert_string_equal(err->msg, "layer 3: open x: No such file or directory");
	cc_error_free(&err);
	assert_null(err);
}

static void test_error_over_pipe(void **state)
{
	int p[2];
	struct cc_error *e = NULL, *got = NULL;
	assert_int_equal(pipe(p), 0);
	cc_error_set(&e, EPERM, "mount /proc");
	assert_int_equal(cc_error_send(p[1], e), 0);
	assert_int_equal(cc_error_recv(p[0], &got), 0);
	assert_string_equal(got->msg, e->msg);
	assert_int_equal(got->errnum, EPERM);
	close(p[1]);
	/* A closed pipe is a read failure, not an empty error. */
	struct cc_error *none = NULL;
	assert_int_equal(cc_error_recv(p[0], &none), -1);
	assert_null(none);
	close(p[0]);
	cc_error_free(&e);
	cc_error_free(&got);
}

static void test_strv(void **state)
{
	_cleanup_strv_ char **v = cc_strv_split("a,,b", ',');
	assert_int_equal(cc_strv_len(v), 3);
	assert_string_equal(v[1], "");
	assert_true(cc_strv_contains(v, "b"));
	assert_false(cc_strv_contains(v, "c"));
	_cleanup_free_ char *j = cc_strv_join(v, "+");
	assert_string_equal(j, "a++b");
	_cleanup_strv_ char **d = cc_strv_dup(v);
	cc_strv_push(&d, "z");
	assert_int_equal(cc_strv_len(d), 4);
	assert_int_equal(cc_strv_len(v), 3);
}

static void test_path_clean(void **state)
{
	static const char *const cases[][2] = {
		{ "/a/b/../c", "/a/c" },
		{ "/../../etc", "/etc" },
		{ "a//b/./c/", "a/b/c" },
		{ "/", "/" },
		{ "", "." },
		{ "../x", "../x" },
		{ "/a/..", "/" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		_cleanup_free_ char *c = cc_path_clean(cases[i][0]);
		assert_string_equal(c, cases[i][1]);
	}
	_cleanup_free_ char *j = cc_path_join("/run/rune/", "/id");
	assert_string_equal(j, "/run/rune/id");
}

/* A symlink pointing at the host's root must resolve inside the given root. */
static void test_in_root_resolution(void **state)
{
	char tmpl[] = "/tmp/util-test.XXXXXX";
	struct cc_error *err = NULL;
	assert_non_null(mkdtemp(tmpl));
	_cleanup_free_ char *link = cc_path_join(tmpl, "escape");
	assert_int_equal(symlink("/../../../tmp", link), 0);
	_cleanup_close_ int root = open(tmpl, O_PATH | O_DIRECTORY);
	int fd = cc_mkdir_p_in_root(root, "escape/inside/deeper", 0755, &err);
	assert_true(fd >= 0);
	close(fd);
	_cleanup_free_ char *want = xasprintf("%s/tmp/inside/deeper", tmpl);
	struct stat st;
	assert_int_equal(stat(want, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	/* Nothing appeared in the host's /tmp. */
	assert_int_not_equal(access("/tmp/inside/deeper", F_OK), 0);
	fd = cc_open_in_root(root, "/escape/inside", O_PATH | O_DIRECTORY, 0);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(cc_rm_rf(tmpl, &err), 0);
	assert_false(cc_path_exists(tmpl));
}

static void test_read_write_files(void **state)
{
	char tmpl[] = "/tmp/util-rw.XXXXXX";
	struct cc_error *err = NULL;
	size_t len;
	assert_non_null(mkdtemp(tmpl));
	_cleanup_free_ char *path = cc_path_join(tmpl, "f");
	assert_int_equal(cc_write_file_atomic(path, "hello", 5, 0600, &err), 0);
	_cleanup_free_ char *buf = cc_read_file(path, 0, &len, &err);
	assert_int_equal(len, 5);
	assert_string_equal(buf, "hello");
	/* Limits are enforced, with a message naming the file. */
	assert_null(cc_read_file(path, 4, &len, &err));
	assert_non_null(strstr(err->msg, path));
	cc_error_free(&err);
	assert_null(cc_read_file("/nonexistent/x", 0, &len, &err));
	assert_string_equal(err->msg, "open /nonexistent/x: No such file or directory");
	cc_error_free(&err);
	cc_rm_rf(tmpl, &err);
}

static void test_json_errors(void **state)
{
	struct cc_error *err = NULL;
	assert_null(cc_json_load_buf("config.json", "{\"a\":1,\"a\":2}", 13, &err));
	assert_non_null(strstr(err->msg, "config.json: line 1"));
	assert_non_null(strstr(err->msg, "duplicate"));
	cc_error_free(&err);
	assert_null(cc_json_load_buf("x.json", "{", 1, &err));
	assert_non_null(strstr(err->msg, "x.json: line 1 column"));
	cc_error_free(&err);
}

static void test_log_json(void **state)
{
	char tmpl[] = "/tmp/util-log.XXXXXX";
	struct cc_error *err = NULL;
	assert_non_null(mkdtemp(tmpl));
	_cleanup_free_ char *path = cc_path_join(tmpl, "log");
	assert_int_equal(cc_log_init(path, CC_LOG_JSON, CC_LOG_INFO), 0);
	cc_log(CC_LOG_ERROR, "bad \"thing\"\n");
	cc_debug("hidden");
	_cleanup_free_ char *text = cc_read_file(path, 0, NULL, &err);
	json_t *j = json_loads(text, 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "level")), "error");
	assert_string_equal(json_string_value(json_object_get(j, "msg")), "bad \"thing\"\n");
	assert_non_null(json_object_get(j, "time"));
	assert_null(strstr(text, "hidden"));
	json_decref(j);
	cc_rm_rf(tmpl, &err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_error_set_and_prefix),
		cmocka_unit_test(test_error_over_pipe),
		cmocka_unit_test(test_strv),
		cmocka_unit_test(test_path_clean),
		cmocka_unit_test(test_in_root_resolution),
		cmocka_unit_test(test_read_write_files),
		cmocka_unit_test(test_json_errors),
		cmocka_unit_test(test_log_json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
