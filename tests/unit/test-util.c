// SPDX-License-Identifier: Apache-2.0
/* Unit tests for lib/util: errors, string vectors, paths, in-root resolution, JSON, logging. */
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include "util/cleanup.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/hex.h"
#include "util/hkdf.h"
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

	/* An error is one line, whatever the input it quotes held. */
	cc_error_set(&err, 0, "name \"%s\"", "a\nb\x7f\\c");
	assert_string_equal(err->msg, "name \"a\\x0ab\\x7f\\c\"");
	cc_error_prefix(&err, "file %s", "x\ty");
	assert_string_equal(err->msg, "file x\\x09y: name \"a\\x0ab\\x7f\\c\"");
	cc_error_free(&err);
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
	assert_int_equal(cc_rm_rf(tmpl, &err), 0);
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
	assert_int_equal(cc_rm_rf(tmpl, &err), 0);
}

/* ---- removal of deep trees ---- */

/* A chain of `depth` directories "d" below dirfd/name; every 50th level also holds a file and a
 * symlink to `outside`, and level `wide` (if > 0) holds three more 40-deep chains. Made one level
 * at a time (paths that long do not fit in PATH_MAX). */
static void make_chain(int dirfd, const char *name, int depth, int wide, const char *outside)
{
	assert_int_equal(mkdirat(dirfd, name, 0755), 0);
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY);
	assert_true(fd >= 0);
	for (int i = 1; i < depth; i++) {
		if (i % 50 == 0) {
			int f = openat(fd, "file", O_WRONLY | O_CREAT | O_EXCL, 0644);
			assert_true(f >= 0);
			close(f);
			assert_int_equal(symlinkat(outside, fd, "link"), 0);
		}
		if (i == wide)
			for (int k = 0; k < 3; k++) {
				char side[16];
				snprintf(side, sizeof(side), "side%d", k);
				make_chain(fd, side, 40, 0, outside);
			}
		assert_int_equal(mkdirat(fd, "d", 0755), 0);
		int next = openat(fd, "d", O_RDONLY | O_DIRECTORY);
		assert_true(next >= 0);
		close(fd);
		fd = next;
	}
	close(fd);
}

/* Trees of any depth are removed, with few descriptors, never following symlinks out. */
static void test_remove_deep_tree(void **state)
{
	char tmpl[] = "/tmp/util-deep.XXXXXX";
	struct cc_error *err = NULL;
	assert_non_null(mkdtemp(tmpl));
	_cleanup_free_ char *outside = cc_path_join(tmpl, "outside");
	_cleanup_free_ char *canary = cc_path_join(tmpl, "outside/canary");
	assert_int_equal(mkdir(outside, 0755), 0);
	assert_int_equal(cc_write_file(canary, "x", 1, 0644, &err), 0);
	_cleanup_close_ int dfd = open(tmpl, O_RDONLY | O_DIRECTORY);
	assert_true(dfd >= 0);
	make_chain(dfd, "tree", 3000, 100, outside);
	make_chain(dfd, "tree2", 1000, 0, outside);

	/* 64 descriptors are plenty, whatever the depth. */
	struct rlimit old, low = { 64, 0 };
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	low.rlim_max = old.rlim_max;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	int r1 = cc_remove_at(dfd, "tree");
	int e1 = errno;
	_cleanup_free_ char *tree2 = cc_path_join(tmpl, "tree2");
	int r2 = cc_rm_rf(tree2, &err);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	if (r1 < 0)
		fail_msg("cc_remove_at: %s", strerror(e1));
	if (r2 < 0)
		fail_msg("cc_rm_rf: %s", err->msg);
	assert_int_not_equal(faccessat(dfd, "tree", F_OK, AT_SYMLINK_NOFOLLOW), 0);
	assert_false(cc_path_exists(tree2));
	assert_true(cc_path_exists(canary));
	assert_int_equal(cc_rm_rf(tmpl, &err), 0);
	assert_false(cc_path_exists(tmpl));
}

/* cc_rm_rf stops at a mount point (EBUSY), deep below, and removes everything else; what is
 * mounted is untouched. Root only: runs in a child with its own mount namespace. */
static void test_rm_rf_stops_at_mounts(void **state)
{
	if (geteuid() != 0)
		skip();
	char tmpl[] = "/tmp/util-mnt.XXXXXX";
	assert_non_null(mkdtemp(tmpl));
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct cc_error *err = NULL;
		if (unshare(CLONE_NEWNS) < 0 ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
			_exit(77);
		int dfd = open(tmpl, O_RDONLY | O_DIRECTORY);
		make_chain(dfd, "tree", 300, 0, "/nonexistent");
		/* The mount point at depth 100, with siblings before and after it. */
		_cleanup_free_ char *mp = xstrdup(tmpl);
		mp = xasprintf("%s/tree", mp);
		for (int i = 1; i < 100; i++) {
			char *n = xasprintf("%s/d", mp);
			free(mp);
			mp = n;
		}
		if (chdir(mp) < 0 || mkdir("a-sibling", 0755) < 0 || mkdir("mnt", 0755) < 0 ||
		    mkdir("z-sibling", 0755) < 0 || mount("tmpfs", "mnt", "tmpfs", 0, NULL) < 0 ||
		    cc_write_file("mnt/kept", "k", 1, 0644, NULL) < 0 || chdir("/") < 0)
			_exit(2);
		_cleanup_free_ char *tree = cc_path_join(tmpl, "tree");
		if (cc_rm_rf(tree, &err) == 0 || err->errnum != EBUSY)
			_exit(3);
		/* Only the way to the mount point is left. */
		if (chdir(mp) < 0 || access("mnt/kept", F_OK) < 0 ||
		    access("a-sibling", F_OK) == 0 || access("z-sibling", F_OK) == 0 ||
		    access("d", F_OK) == 0 || access("../file", F_OK) == 0 ||
		    access("../../../../../../../file", F_OK) == 0)
			_exit(4);
		if (chdir("/") < 0 || umount2(xasprintf("%s/mnt", mp), MNT_DETACH) < 0)
			_exit(5);
		cc_error_free(&err);
		if (cc_rm_rf(tree, &err) < 0 || cc_path_exists(tree))
			_exit(6);
		_exit(0);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	struct cc_error *err = NULL;
	assert_int_equal(cc_rm_rf(tmpl, &err), 0);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77)
		skip();
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* ---- sparse files ---- */

static void put_at(int fd, const char *s, off_t off)
{
	assert_int_equal(pwrite(fd, s, strlen(s), off), (ssize_t)strlen(s));
}

static void check_at(int fd, const char *s, off_t off)
{
	char buf[64] = { 0 };
	assert_int_equal(pread(fd, buf, strlen(s), off), (ssize_t)strlen(s));
	assert_memory_equal(buf, s, strlen(s));
}

/* A 1 TiB file with three small extents is copied in no time, into as little space, onto the
 * same filesystem (copy_file_range) and onto another (read and write). */
static void test_copy_sparse(void **state)
{
	const off_t tib = (off_t)1 << 40;
	char tmpl[] = "/tmp/util-sparse.XXXXXX";
	struct cc_error *err = NULL;
	assert_non_null(mkdtemp(tmpl));
	_cleanup_free_ char *src = cc_path_join(tmpl, "src");
	_cleanup_close_ int in = open(src, O_RDWR | O_CREAT | O_EXCL, 0644);
	assert_true(in >= 0);
	put_at(in, "head", 0);
	put_at(in, "middle", tib / 2 + 12345);
	put_at(in, "tail", tib - 4);
	const char *dsts[] = { "same-fs", "/dev/shm" };
	for (size_t i = 0; i < ARRAY_SIZE(dsts); i++) {
		_cleanup_free_ char *dst = i == 0 ? cc_path_join(tmpl, dsts[i])
						  : xasprintf("/dev/shm/util-sparse-%d", getpid());
		_cleanup_close_ int out = open(dst, O_RDWR | O_CREAT | O_EXCL, 0644);
		assert_true(out >= 0);
		assert_int_equal(cc_copy_sparse(in, out, tib), 0);
		struct stat st;
		assert_int_equal(fstat(out, &st), 0);
		assert_int_equal(st.st_size, tib);
		assert_true(st.st_blocks * 512 <= 1 << 20);
		check_at(out, "head", 0);
		check_at(out, "\0\0\0\0", 4096);
		check_at(out, "middle", tib / 2 + 12345);
		check_at(out, "tail", tib - 4);
		unlink(dst);
	}
	/* A size short of the file: the copy ends there. */
	_cleanup_free_ char *part = cc_path_join(tmpl, "part");
	_cleanup_close_ int out = open(part, O_RDWR | O_CREAT | O_EXCL, 0644);
	assert_int_equal(cc_copy_sparse(in, out, 2), 0);
	struct stat st;
	assert_int_equal(fstat(out, &st), 0);
	assert_int_equal(st.st_size, 2);
	check_at(out, "he", 0);
	assert_int_equal(cc_rm_rf(tmpl, &err), 0);
}

/* Whole 4 KiB blocks of zeros are not written; everything else is. */
static void test_pwrite_sparse(void **state)
{
	char tmpl[] = "/tmp/util-pws.XXXXXX";
	struct cc_error *err = NULL;
	assert_non_null(mkdtemp(tmpl));
	_cleanup_free_ char *path = cc_path_join(tmpl, "f");
	_cleanup_close_ int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0644);
	assert_true(fd >= 0);
	size_t len = 8 << 20;
	_cleanup_free_ char *buf = xzalloc(len);
	buf[100] = 'a';	    /* in the first, partial block */
	buf[len / 2] = 'b'; /* alone in a block of zeros */
	buf[len - 1] = 'c'; /* in the last, partial block */
	off_t off = 1000;   /* not aligned */
	assert_int_equal(cc_pwrite_sparse(fd, buf, len, off), 0);
	struct stat st;
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_size, off + (off_t)len);
	assert_true(st.st_blocks * 512 <= 64 << 10);
	_cleanup_free_ char *got = cc_read_file(path, 0, NULL, &err);
	assert_non_null(got);
	assert_memory_equal(got + off, buf, len);
	for (off_t i = 0; i < off; i++)
		assert_int_equal(got[i], 0);
	/* Trailing zeros are the caller's (ftruncate): nothing is written for them. */
	memset(buf, 0, len);
	assert_int_equal(cc_pwrite_sparse(fd, buf, len, (off_t)len * 4), 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_size, off + (off_t)len);
	assert_int_equal(cc_rm_rf(tmpl, &err), 0);
}

/* ---- the JSON schema layer ---- */

static void expect_json_error(struct cc_error **err, const char *want)
{
	assert_non_null(*err);
	assert_string_equal((*err)->msg, want);
	cc_error_free(err);
}

static void test_json_reader(void **state)
{
	struct cc_error *err = NULL;
	const struct cc_json_reader r = { "doc.json", &err };
	_cleanup_json_ json_t *j =
	    json_loads("{\"a\":{\"s\":\"x\",\"n\":7,\"z\":\"a\\u0000b\",\"nul\":null},"
		       "\"bad\\nkey\":1}",
		       JSON_ALLOW_NUL, NULL);
	assert_non_null(j);
	static const char *const top[] = { "a", NULL };
	assert_int_equal(cc_json_known_keys(&r, j, "", top), -1);
	expect_json_error(&err, "doc.json: unknown key \"bad\\x0akey\"");
	static const char *const inner[] = { "s", "n", "z", "nul", NULL };
	json_t *a = json_object_get(j, "a");
	assert_int_equal(cc_json_known_keys(&r, a, "a", inner), 0);
	assert_int_equal(cc_json_known_keys(&r, json_object_get(a, "s"), "a.s", inner), -1);
	expect_json_error(&err, "doc.json: a.s: expected object, got string");

	_cleanup_free_ char *s = NULL;
	assert_int_equal(cc_json_str(&r, a, "a", "s", true, &s), 0);
	assert_string_equal(s, "x");
	assert_int_equal(cc_json_str(&r, a, "a", "nul", false, &s), 0); /* null is absent */
	assert_string_equal(s, "x");
	assert_int_equal(cc_json_str(&r, a, "a", "nul", true, &s), -1);
	expect_json_error(&err, "doc.json: a.nul: required");
	assert_int_equal(cc_json_str(&r, a, "a", "n", true, &s), -1);
	expect_json_error(&err, "doc.json: a.n: expected string, got integer");
	assert_int_equal(cc_json_str(&r, a, "a", "z", true, &s), -1);
	expect_json_error(&err, "doc.json: a.z: contains a NUL byte");

	int64_t n = 0;
	bool has = false;
	assert_int_equal(cc_json_int(&r, a, "a", "n", 0, 10, &n, &has), 0);
	assert_true(has);
	assert_int_equal(n, 7);
	assert_int_equal(cc_json_int(&r, a, "a", "n", 8, 10, &n, NULL), -1);
	expect_json_error(&err, "doc.json: a.n: 7 out of range [8, 10]");
	int ret;
	assert_null(cc_json_member(&r, j, "", "a", JSON_ARRAY, true, &ret));
	assert_int_equal(ret, -1);
	expect_json_error(&err, "doc.json: a: expected array, got object");
	_cleanup_free_ char *ip = cc_json_index_path("a.b", 2);
	assert_string_equal(ip, "a.b[2]");
}

static void test_json_getters(void **state)
{
	struct cc_error *err = NULL;
	const struct cc_json_reader r = { "doc.json", &err };
	_cleanup_json_ json_t *j =
	    json_loads("{\"b\":true,\"f\":false,\"n\":1,\"u\":4294967295,\"big\":4294967296,"
		       "\"neg\":-1,\"v\":[\"x\",\"y\"],\"vn\":[\"x\",2],\"vz\":[\"a\\u0000b\"],"
		       "\"m\":{\"k.1\":\"v\"},\"mn\":{\"a\\nb\":false},\"mz\":{\"x\":\"\\u0000\"},"
		       "\"nul\":null}",
		       JSON_ALLOW_NUL, NULL);
	assert_non_null(j);

	assert_true(cc_json_has(j, "b"));
	assert_false(cc_json_has(j, "nul"));
	assert_false(cc_json_has(j, "none"));
	_cleanup_free_ char *mp = cc_json_map_path("a.m", "x.y\t");
	assert_string_equal(mp, "a.m[\"x.y\\x09\"]");
	assert_int_equal(cc_json_expect(&r, json_object_get(j, "f"), "f", JSON_TRUE), 0);
	assert_int_equal(cc_json_expect(&r, json_object_get(j, "v"), "v", JSON_OBJECT), -1);
	expect_json_error(&err, "doc.json: v: expected object, got array");

	bool b = false, has = false;
	assert_int_equal(cc_json_bool(&r, j, "", "b", &b, &has), 0);
	assert_true(b && has);
	assert_int_equal(cc_json_bool(&r, j, "", "f", &b, NULL), 0);
	assert_false(b);
	has = false;
	b = true;
	assert_int_equal(cc_json_bool(&r, j, "", "nul", &b, &has), 0); /* null is absent */
	assert_true(b);
	assert_false(has);
	assert_int_equal(cc_json_bool(&r, j, "x", "n", &b, NULL), -1);
	expect_json_error(&err, "doc.json: x.n: expected boolean, got integer");

	uint32_t u = 7;
	has = false;
	assert_int_equal(cc_json_u32(&r, j, "", "nul", &u, &has), 0);
	assert_int_equal(u, 7);
	assert_false(has);
	assert_int_equal(cc_json_u32(&r, j, "", "u", &u, &has), 0);
	assert_int_equal(u, UINT32_MAX);
	assert_true(has);
	assert_int_equal(cc_json_u32(&r, j, "", "big", &u, NULL), -1);
	expect_json_error(&err, "doc.json: big: 4294967296 out of range [0, 4294967295]");
	assert_int_equal(cc_json_u32(&r, j, "", "neg", &u, NULL), -1);
	expect_json_error(&err, "doc.json: neg: -1 out of range [0, 4294967295]");
	assert_int_equal(cc_json_u32(&r, j, "", "b", &u, NULL), -1);
	expect_json_error(&err, "doc.json: b: expected integer, got boolean");
	assert_int_equal(u, UINT32_MAX);

	_cleanup_strv_ char **v = NULL;
	assert_int_equal(cc_json_strv(&r, j, "", "nul", SIZE_MAX, &v), 0);
	assert_null(v);
	assert_int_equal(cc_json_strv(&r, j, "", "v", 2, &v), 0);
	assert_string_equal(v[1], "y");
	assert_null(v[2]);
	assert_int_equal(cc_json_strv(&r, j, "", "v", 1, &v), -1);
	expect_json_error(&err, "doc.json: v: 2 entries, more than 1");
	assert_int_equal(cc_json_strv(&r, j, "a", "vn", SIZE_MAX, &v), -1);
	expect_json_error(&err, "doc.json: a.vn[1]: expected string, got integer");
	assert_int_equal(cc_json_strv(&r, j, "", "vz", SIZE_MAX, &v), -1);
	expect_json_error(&err, "doc.json: vz[0]: contains a NUL byte");
	assert_int_equal(cc_json_strv(&r, j, "", "m", SIZE_MAX, &v), -1);
	expect_json_error(&err, "doc.json: m: expected array of strings, got object");
	assert_string_equal(v[0], "x"); /* a refusal leaves *out alone */

	int ret;
	json_t *m = cc_json_str_map(&r, j, "", "m", &ret);
	assert_ptr_equal(m, json_object_get(j, "m"));
	assert_int_equal(ret, 0);
	assert_null(cc_json_str_map(&r, j, "", "nul", &ret));
	assert_int_equal(ret, 0);
	assert_null(cc_json_str_map(&r, j, "a", "mn", &ret));
	assert_int_equal(ret, -1);
	expect_json_error(&err, "doc.json: a.mn[\"a\\x0ab\"]: expected string, got boolean");
	assert_null(cc_json_str_map(&r, j, "", "mz", &ret));
	assert_int_equal(ret, -1);
	expect_json_error(&err, "doc.json: mz[\"x\"]: contains a NUL byte");
	assert_null(cc_json_str_map(&r, j, "", "v", &ret));
	assert_int_equal(ret, -1);
	expect_json_error(&err, "doc.json: v: expected object, got array");
}

/* RFC 5869, appendix A: test cases 1 (salt and info), 2 (long inputs, 82 bytes out) and 3
 * (no salt, no info). */
static void test_hkdf_rfc5869(void **state)
{
	(void)state;
	uint8_t ikm[80], salt[80], info[80], out[82];
	char hex[2 * sizeof(out) + 1];

	memset(ikm, 0x0b, 22);
	for (int i = 0; i < 13; i++)
		salt[i] = (uint8_t)i;
	for (int i = 0; i < 10; i++)
		info[i] = (uint8_t)(0xf0 + i);
	assert_true(cc_hkdf_sha256(ikm, 22, salt, 13, info, 10, out, 42));
	cc_hex_encode(out, 42, hex);
	assert_string_equal(hex, "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf3"
				 "4007208d5b887185865");
	for (int i = 0; i < 80; i++) {
		ikm[i] = (uint8_t)i;
		salt[i] = (uint8_t)(0x60 + i);
		info[i] = (uint8_t)(0xb0 + i);
	}
	assert_true(cc_hkdf_sha256(ikm, 80, salt, 80, info, 80, out, 82));
	cc_hex_encode(out, 82, hex);
	assert_string_equal(hex, "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c5"
				 "9045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71cc"
				 "30c58179ec3e87c14c01d5c1f3434f1d87");
	memset(ikm, 0x0b, 22);
	assert_true(cc_hkdf_sha256(ikm, 22, NULL, 0, NULL, 0, out, 42));
	cc_hex_encode(out, 42, hex);
	assert_string_equal(hex, "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9"
				 "d201395faa4b61a96c8");
	/* more than 255 blocks cannot be made */
	assert_false(cc_hkdf_sha256(ikm, 22, NULL, 0, NULL, 0, out, 255 * 32 + 1));
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
		cmocka_unit_test(test_remove_deep_tree),
		cmocka_unit_test(test_rm_rf_stops_at_mounts),
		cmocka_unit_test(test_copy_sparse),
		cmocka_unit_test(test_pwrite_sparse),
		cmocka_unit_test(test_json_reader),
		cmocka_unit_test(test_json_getters),
		cmocka_unit_test(test_hkdf_rfc5869),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
