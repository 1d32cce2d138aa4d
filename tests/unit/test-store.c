// SPDX-License-Identifier: Apache-2.0
/* Unit tests for lib/image/store.c: verified blobs, layer transactions, records, gc. */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include "image/store.h"
#include "image/stream.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"

#include "tmproot.h"

static struct img_store *open_store(const char *name)
{
	_cleanup_free_ char *p = cc_path_join(root, name);
	struct cc_error *err = NULL;
	struct img_store *s = img_store_open(p, &err);
	if (!s)
		fail_msg("%s", err->msg);
	return s;
}

static bool exists(const struct img_store *s, const char *rel)
{
	_cleanup_free_ char *p = cc_path_join(img_store_root(s), rel);
	return access(p, F_OK) == 0;
}

static size_t count_entries(const struct img_store *s, const char *rel)
{
	_cleanup_free_ char *p = cc_path_join(img_store_root(s), rel);
	_cleanup_closedir_ DIR *d = opendir(p);
	size_t n = 0;
	struct dirent *de;
	while (d && (de = readdir(d)))
		n += de->d_name[0] != '.';
	return n;
}

static void test_blobs(void **state)
{
	struct img_store *s = open_store("blobs");
	const char *text = "{\"hello\": 1}";
	_cleanup_free_ char *digest = img_digest_buf(text, strlen(text));
	struct cc_error *err = NULL;

	/* Bytes that do not match the digest are refused and leave nothing. */
	_cleanup_free_ char *other = img_digest_buf("x", 1);
	assert_int_equal(img_store_put_blob(s, other, text, strlen(text), &err), -1);
	assert_non_null(strstr(err->msg, "digest mismatch"));
	cc_error_free(&err);
	assert_false(img_store_has_blob(s, other));
	assert_int_equal(count_entries(s, "tmp"), 0);

	assert_int_equal(img_store_put_blob(s, digest, text, strlen(text), &err), 0);
	assert_true(img_store_has_blob(s, digest));
	size_t len;
	_cleanup_free_ char *back = img_store_get_blob(s, digest, 1024, &len, &err);
	assert_non_null(back);
	assert_int_equal(len, strlen(text));
	assert_memory_equal(back, text, len);

	/* A blob changed on disk is caught when read. */
	_cleanup_free_ char *path =
	    xasprintf("%s/blobs/sha256/%s", img_store_root(s), digest + strlen("sha256:"));
	assert_int_equal(cc_write_file(path, "{\"hello\": 2}", 12, 0, &err), 0);
	assert_null(img_store_get_blob(s, digest, 1024, &len, &err));
	assert_non_null(strstr(err->msg, "digest mismatch"));
	cc_error_free(&err);

	/* Digests never become paths unless valid. */
	assert_int_equal(img_store_put_blob(s, "sha256:../../../etc/passwd", "x", 1, &err), -1);
	assert_string_equal(err->msg, "image store: invalid digest \"sha256:../../../etc/passwd\"");
	cc_error_free(&err);
	assert_false(img_store_has_blob(s, "sha256:../x"));
	img_store_close(s);
}

#define DIFF_A "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define DIFF_B "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static void put_file(int dirfd, const char *name, const char *text)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static void test_layers(void **state)
{
	struct img_store *s = open_store("layers");
	struct img_layer_txn txn;
	struct cc_error *err = NULL;

	/* Aborted: nothing visible, staging gone. */
	assert_int_equal(img_store_layer_begin(s, DIFF_A, &txn, &err), 0);
	put_file(txn.dirfd, "half", "written");
	img_store_layer_abort(&txn);
	assert_false(img_store_has_layer(s, DIFF_A));
	assert_int_equal(count_entries(s, "tmp"), 0);

	/* Committed: the directory appears whole. */
	assert_int_equal(img_store_layer_begin(s, DIFF_A, &txn, &err), 0);
	put_file(txn.dirfd, "file", "content");
	assert_false(img_store_has_layer(s, DIFF_A));
	assert_int_equal(img_store_layer_commit(&txn, &err), 0);
	assert_true(img_store_has_layer(s, DIFF_A));
	_cleanup_free_ char *lp = img_store_layer_path(s, DIFF_A);
	_cleanup_free_ char *fp = cc_path_join(lp, "file");
	_cleanup_free_ char *got = cc_read_file(fp, 0, NULL, &err);
	assert_string_equal(got, "content");
	/* Present: nothing to do. */
	assert_int_equal(img_store_layer_begin(s, DIFF_A, &txn, &err), 1);

	assert_int_equal(img_store_layer_begin(s, "sha256:zz", &txn, &err), -1);
	assert_string_equal(err->msg, "image store: invalid layer diff_id \"sha256:zz\"");
	cc_error_free(&err);
	img_store_close(s);
}

/* Two pulls of one layer: the second waits for the first and then finds it done. */
static void test_layer_once(void **state)
{
	struct img_store *s = open_store("once");
	int go[2], done[2];
	assert_int_equal(pipe(go), 0);
	assert_int_equal(pipe(done), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct img_layer_txn txn;
		struct cc_error *err = NULL;
		if (img_store_layer_begin(s, DIFF_B, &txn, &err) != 0)
			_exit(1);
		if (write(go[1], "x", 1) != 1)
			_exit(2);
		usleep(200000);
		put_file(txn.dirfd, "by-child", "1");
		_exit(img_store_layer_commit(&txn, &err) == 0 ? 0 : 3);
	}
	char c;
	assert_int_equal(read(go[0], &c, 1), 1);
	struct img_layer_txn txn;
	struct cc_error *err = NULL;
	/* Blocks until the child commits, then sees the layer. */
	assert_int_equal(img_store_layer_begin(s, DIFF_B, &txn, &err), 1);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	_cleanup_free_ char *lp = img_store_layer_path(s, DIFF_B);
	_cleanup_free_ char *fp = cc_path_join(lp, "by-child");
	assert_int_equal(access(fp, F_OK), 0);
	close(go[0]);
	close(go[1]);
	close(done[0]);
	close(done[1]);
	img_store_close(s);
}

static void test_tmp_cleanup(void **state)
{
	struct img_store *s = open_store("tmpclean");
	_cleanup_free_ char *junk = cc_path_join(img_store_root(s), "tmp/layer-999-0");
	assert_int_equal(mkdir(junk, 0700), 0);
	/* Another user of the store may own it: a second open leaves it. */
	struct img_store *s2 = open_store("tmpclean");
	assert_true(exists(s2, "tmp/layer-999-0"));
	img_store_close(s2);
	img_store_close(s);
	/* Alone, the store clears what a dead process left. */
	s = open_store("tmpclean");
	assert_false(exists(s, "tmp/layer-999-0"));
	img_store_close(s);
}

static json_t *record(const char *ref, const char *cfg, const char *diff_id)
{
	return json_pack("{s:s,s:s,s:s,s:[{s:s}]}", "ref", ref, "manifest", cfg, "config", cfg,
			 "layers", "diff_id", diff_id);
}

static void test_images_and_gc(void **state)
{
	struct img_store *s = open_store("gc");
	struct cc_error *err = NULL;
	const char *cfg_text = "{}";
	_cleanup_free_ char *cfg = img_digest_buf(cfg_text, 2);
	const char *orphan_text = "orphan";
	_cleanup_free_ char *orphan = img_digest_buf(orphan_text, 6);
	assert_int_equal(img_store_put_blob(s, cfg, cfg_text, 2, &err), 0);
	assert_int_equal(img_store_put_blob(s, orphan, orphan_text, 6, &err), 0);
	struct img_layer_txn txn;
	const char *ids[] = { DIFF_A, DIFF_B };
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(img_store_layer_begin(s, ids[i], &txn, &err), 0);
		assert_int_equal(img_store_layer_commit(&txn, &err), 0);
	}
	_cleanup_json_ json_t *r1 = record("docker.io/library/b:1", cfg, DIFF_A);
	_cleanup_json_ json_t *r2 = record("docker.io/library/a:1", cfg, DIFF_A);
	assert_int_equal(img_store_put_image(s, r1, &err), 0);
	assert_int_equal(img_store_put_image(s, r2, &err), 0);
	_cleanup_json_ json_t *bad = json_pack("{s:s}", "ref", "x");
	assert_int_equal(img_store_put_image(s, bad, &err), -1);
	assert_string_equal(err->msg, "image store: malformed image record");
	cc_error_free(&err);

	_cleanup_json_ json_t *list = img_store_list_images(s, &err);
	assert_int_equal(json_array_size(list), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "ref")),
			    "docker.io/library/a:1");
	_cleanup_json_ json_t *got = img_store_get_image(s, "docker.io/library/b:1", &err);
	assert_non_null(got);
	assert_null(img_store_get_image(s, "docker.io/library/zz:1", &err));
	assert_string_equal(err->msg, "image docker.io/library/zz:1: not in the store");
	cc_error_free(&err);

	/* Not alone: refused. */
	struct img_store *other = open_store("gc");
	size_t nl, nb;
	assert_int_equal(img_store_gc(s, &nl, &nb, &err), -1);
	assert_non_null(strstr(err->msg, "in use by another process"));
	cc_error_free(&err);
	img_store_close(other);

	/* DIFF_B and the orphan blob go; what the records use stays. */
	assert_int_equal(img_store_gc(s, &nl, &nb, &err), 0);
	assert_int_equal(nl, 1);
	assert_int_equal(nb, 1);
	assert_true(img_store_has_layer(s, DIFF_A));
	assert_false(img_store_has_layer(s, DIFF_B));
	assert_true(img_store_has_blob(s, cfg));
	assert_false(img_store_has_blob(s, orphan));

	/* Remove both records: the rest goes too. */
	assert_int_equal(img_store_remove_image(s, "docker.io/library/a:1", &err), 0);
	assert_int_equal(img_store_remove_image(s, "docker.io/library/b:1", &err), 0);
	assert_int_equal(img_store_remove_image(s, "docker.io/library/b:1", &err), -1);
	cc_error_free(&err);
	assert_int_equal(img_store_gc(s, &nl, &nb, &err), 0);
	assert_int_equal(nl, 1);
	assert_int_equal(nb, 1);
	assert_int_equal(count_entries(s, "layers/sha256"), 0);
	assert_int_equal(count_entries(s, "tmp"), 0);
	img_store_close(s);
}

static mode_t mode_of(const struct img_store *s, const char *rel)
{
	_cleanup_free_ char *p = cc_path_join(img_store_root(s), rel);
	struct stat st;
	assert_int_equal(lstat(p, &st), 0);
	return st.st_mode & 07777;
}

/* Everything that holds an image's tree is private to the store's owner: the directories of the
 * store, the staging directory of a layer, the committed layer's parents. */
static void test_private_dirs(void **state)
{
	struct img_store *s = open_store("private");
	const char *dirs[] = { ".", "blobs", "layers", "images", "tmp", "locks", "containers" };
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++)
		if (mode_of(s, dirs[i]) != 0700)
			fail_msg("%s: mode %o", dirs[i], mode_of(s, dirs[i]));
	struct img_layer_txn txn;
	struct cc_error *err = NULL;
	assert_int_equal(img_store_layer_begin(s, DIFF_A, &txn, &err), 0);
	struct stat st;
	assert_int_equal(fstat(txn.dirfd, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(img_store_layer_commit(&txn, &err), 0);
	assert_int_equal(mode_of(s, "layers/sha256"), 0700);
	_cleanup_free_ char *layer = xasprintf("layers/sha256/%s", DIFF_A + strlen("sha256:"));
	assert_int_equal(mode_of(s, layer), 0700);
	img_store_close(s);
}

/* A chain of `depth` directories below dirfd (one level at a time: too long for a path). */
static void deep_chain(int dirfd, int depth)
{
	int fd = dup(dirfd);
	for (int i = 0; i < depth; i++) {
		assert_int_equal(mkdirat(fd, "d", 0755), 0);
		int next = openat(fd, "d", O_RDONLY | O_DIRECTORY);
		assert_true(next >= 0);
		close(fd);
		fd = next;
	}
	put_file(fd, "bottom", "x");
	close(fd);
}

/* Layers of any depth leave nothing behind: aborted (staging), or collected. */
static void test_deep_layers(void **state)
{
	struct img_store *s = open_store("deep");
	struct img_layer_txn txn;
	struct cc_error *err = NULL;
	assert_int_equal(img_store_layer_begin(s, DIFF_A, &txn, &err), 0);
	deep_chain(txn.dirfd, 1000);
	img_store_layer_abort(&txn);
	assert_false(img_store_has_layer(s, DIFF_A));
	assert_int_equal(count_entries(s, "tmp"), 0);

	assert_int_equal(img_store_layer_begin(s, DIFF_A, &txn, &err), 0);
	deep_chain(txn.dirfd, 1000);
	assert_int_equal(img_store_layer_commit(&txn, &err), 0);
	size_t nl, nb;
	if (img_store_gc(s, &nl, &nb, &err) < 0)
		fail_msg("gc: %s", err->msg);
	assert_int_equal(nl, 1);
	assert_false(img_store_has_layer(s, DIFF_A));
	assert_int_equal(count_entries(s, "layers/sha256"), 0);
	assert_int_equal(count_entries(s, "tmp"), 0);
	img_store_close(s);
}

/* A record that cannot be read could be using any layer or blob: gc refuses, names it, and
 * removes nothing; once it is gone, gc works again. */
static void test_gc_refuses_unreadable_records(void **state)
{
	struct img_store *s = open_store("gc-bad");
	struct cc_error *err = NULL;
	const char *cfg_text = "{}";
	_cleanup_free_ char *cfg = img_digest_buf(cfg_text, 2);
	_cleanup_free_ char *orphan = img_digest_buf("orphan", 6);
	assert_int_equal(img_store_put_blob(s, cfg, cfg_text, 2, &err), 0);
	assert_int_equal(img_store_put_blob(s, orphan, "orphan", 6, &err), 0);
	struct img_layer_txn txn;
	const char *ids[] = { DIFF_A, DIFF_B };
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(img_store_layer_begin(s, ids[i], &txn, &err), 0);
		assert_int_equal(img_store_layer_commit(&txn, &err), 0);
	}
	_cleanup_json_ json_t *good = record("docker.io/library/good:1", cfg, DIFF_A);
	_cleanup_json_ json_t *bad = record("docker.io/library/bad:1", cfg, DIFF_B);
	assert_int_equal(img_store_put_image(s, good, &err), 0);
	assert_int_equal(img_store_put_image(s, bad, &err), 0);
	const char *bad_ref = "docker.io/library/bad:1";
	_cleanup_free_ char *hex = img_digest_buf(bad_ref, strlen(bad_ref));
	_cleanup_free_ char *bad_path =
	    xasprintf("%s/images/%s.json", img_store_root(s), hex + strlen("sha256:"));

	/* Damaged (not JSON), then well-formed JSON that is not a record. */
	const char *damage[] = { "{\"ref\": \"docker.io/library/bad:1\", \"lay", "{\"ref\": 1}" };
	const char *why[] = { "line 1 column", "malformed image record" };
	for (size_t i = 0; i < ARRAY_SIZE(damage); i++) {
		assert_int_equal(cc_write_file(bad_path, damage[i], strlen(damage[i]), 0, &err), 0);
		size_t nl = 99, nb = 99;
		assert_int_equal(img_store_gc(s, &nl, &nb, &err), -1);
		assert_non_null(err);
		_cleanup_free_ char *want = xasprintf("image store: image record %s: ", bad_path);
		if (strncmp(err->msg, want, strlen(want)) || !strstr(err->msg, why[i]) ||
		    !strstr(err->msg, "garbage collection refused") || strchr(err->msg, '\n'))
			fail_msg("unexpected message: %s", err->msg);
		cc_error_free(&err);
		assert_int_equal(nl, 0);
		assert_int_equal(nb, 0);
		assert_true(img_store_has_layer(s, DIFF_A));
		assert_true(img_store_has_layer(s, DIFF_B));
		assert_true(img_store_has_blob(s, orphan));
		assert_true(img_store_has_blob(s, cfg));
		assert_int_equal(count_entries(s, "tmp"), 0);
		/* The listing still shows the readable ones. */
		_cleanup_json_ json_t *list = img_store_list_images(s, &err);
		assert_int_equal(json_array_size(list), 1);
	}
	/* The damaged record removed: what only it used goes. */
	assert_int_equal(unlink(bad_path), 0);
	size_t nl, nb;
	assert_int_equal(img_store_gc(s, &nl, &nb, &err), 0);
	assert_int_equal(nl, 1);
	assert_int_equal(nb, 1);
	assert_true(img_store_has_layer(s, DIFF_A));
	assert_false(img_store_has_layer(s, DIFF_B));
	img_store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_blobs),
		cmocka_unit_test(test_layers),
		cmocka_unit_test(test_layer_once),
		cmocka_unit_test(test_tmp_cleanup),
		cmocka_unit_test(test_images_and_gc),
		cmocka_unit_test(test_private_dirs),
		cmocka_unit_test(test_deep_layers),
		cmocka_unit_test(test_gc_refuses_unreadable_records),
	};
	return cmocka_run_group_tests(tests, tmproot_setup, tmproot_teardown);
}
