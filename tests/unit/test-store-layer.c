// SPDX-License-Identifier: Apache-2.0
/* Unit tests for lib/store's store and layers (docs/store.md): a layer with every entry kind
 * given in a scrambled order read back exactly; two layers, the index, removal and gc; the
 * generation across reopening; a wrong key; the tamper cases (a directory swapped, an older
 * version of an object, an object copied over another, an object deleted, any byte of a
 * directory object edited, the pointer rolled back: accepted, the documented limit); tmp/
 * leftovers; no plaintext on the host; an abort and a crash mid-layer; the writer's errors; the
 * parsers on damaged encodings. Every store lives in a temporary directory under /tmp. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <cmocka.h>
#include "store-helpers.h"
#include "store/layer.h"
#include "store/store.h"
#include "util/cleanup.h"
#include "util/hex.h"
#include "util/strv.h"
#include "tmproot.h"

#define MIB (1024 * 1024)
#define DIFF_A "sha256:aaaa000000000000000000000000000000000000000000000000000000000001"
#define DIFF_B "sha256:bbbb000000000000000000000000000000000000000000000000000000000002"

static const uint8_t key1[32] = "store-layer-test-key-0123456789";
static const uint8_t key2[32] = "store-layer-test-key-0123456788";

static unsigned seq;

/* A fresh store directory path under the test root. */
static char *new_root(void)
{
	return xasprintf("%s/store-%u", root, seq++);
}

static struct store *open_store(const char *dir, bool create)
{
	struct store *s = NULL;
	struct cc_error *err = NULL;
	if (store_open(dir, key1, create, &s, &err) < 0)
		fail_msg("store_open %s: %s", dir, err->msg);
	return s;
}

/* The error is one line, errnum want, and holds every fragment given. */
static void expect_error(struct cc_error **err, int want, ...)
{
	va_list ap;
	const char *frag;
	assert_non_null(*err);
	assert_null(strchr((*err)->msg, '\n'));
	if ((*err)->errnum != want)
		fail_msg("errnum %d, want %d: %s", (*err)->errnum, want, (*err)->msg);
	va_start(ap, want);
	while ((frag = va_arg(ap, const char *)))
		if (!strstr((*err)->msg, frag))
			fail_msg("\"%s\" lacks \"%s\"", (*err)->msg, frag);
	va_end(ap);
	cc_error_free(err);
}

static struct store_attr attr(uint8_t type, uint32_t mode, uint32_t uid, uint32_t gid,
			      int64_t mtime)
{
	return (struct store_attr){ .type = type,
				    .mode = mode,
				    .uid = uid,
				    .gid = gid,
				    .mtime_sec = mtime,
				    .mtime_nsec = (uint32_t)(mtime & 0xffff) * 1000 };
}

/* Stream len bytes in pieces of odd sizes. */
static void put_file(struct store_layer_writer *w, const char *path, const struct store_attr *a,
		     const uint8_t *data, size_t len)
{
	struct cc_error *err = NULL;
	size_t step = 1;
	ok(store_layer_file_begin(w, path, a, &err), &err);
	for (size_t off = 0; off < len;) {
		size_t n = step < len - off ? step : len - off;
		ok(store_layer_file_write(w, data + off, n, &err), &err);
		off += n;
		step = step * 3 + 7;
	}
	ok(store_layer_file_end(w, &err), &err);
}

static void put_text(struct store_layer_writer *w, const char *path, const char *text)
{
	struct store_attr a = attr(STORE_TYPE_REG, 0644, 0, 0, 1000);
	put_file(w, path, &a, (const uint8_t *)text, strlen(text));
}

static struct store_inode *lookup(struct store_layer_reader *r, const char *path)
{
	struct store_inode *ino = NULL;
	struct cc_error *err = NULL;
	int ret = store_layer_lookup_path(r, path, &ino, &err);
	if (ret < 0)
		fail_msg("lookup %s: %s", path, err->msg);
	if (ret != STORE_FOUND)
		fail_msg("lookup %s: %d", path, ret);
	return ino;
}

static void expect_content(struct store_layer_reader *r, const char *path, const uint8_t *want,
			   size_t len)
{
	struct store_inode *ino = lookup(r, path);
	struct cc_error *err = NULL;
	_cleanup_free_ uint8_t *buf = xmalloc(len + 100);
	size_t off = 0;

	assert_int_equal(store_layer_getattr(ino)->type, STORE_TYPE_REG);
	assert_int_equal(store_layer_size(ino), len);
	while (off < len + 1) {
		ssize_t n = store_layer_read(r, ino, buf + off, 65536 + 13, off, &err);
		if (n < 0)
			fail_msg("read %s: %s", path, err->msg);
		if (n == 0)
			break;
		off += (size_t)n;
	}
	assert_int_equal(off, len);
	if (len)
		assert_memory_equal(buf, want, len);
	/* A read at an offset inside. */
	if (len > 5) {
		assert_int_equal(store_layer_read(r, ino, buf, 3, len - 4, &err), 3);
		assert_memory_equal(buf, want + len - 4, 3);
	}
}

static void expect_text(struct store_layer_reader *r, const char *path, const char *text)
{
	expect_content(r, path, (const uint8_t *)text, strlen(text));
}

static void expect_attr(struct store_layer_reader *r, const char *path, const struct store_attr *w)
{
	const struct store_attr *a = store_layer_getattr(lookup(r, path));
	assert_int_equal(a->type, w->type);
	assert_int_equal(a->flags, w->flags);
	assert_int_equal(a->mode, w->mode);
	assert_int_equal(a->uid, w->uid);
	assert_int_equal(a->gid, w->gid);
	assert_int_equal(a->mtime_sec, w->mtime_sec);
	assert_int_equal(a->mtime_nsec, w->mtime_nsec);
	assert_int_equal(a->rdev, w->rdev);
	assert_int_equal(a->n_xattrs, w->n_xattrs);
	for (size_t i = 0; i < w->n_xattrs; i++) {
		assert_string_equal(a->xattrs[i].name, w->xattrs[i].name);
		assert_int_equal(a->xattrs[i].value_len, w->xattrs[i].value_len);
		assert_memory_equal(a->xattrs[i].value, w->xattrs[i].value, w->xattrs[i].value_len);
	}
}

static uint32_t nlink_of(struct store_layer_reader *r, const char *path)
{
	uint32_t n = 0;
	struct cc_error *err = NULL;
	ok(store_layer_nlink(r, lookup(r, path), &n, &err), &err);
	return n;
}

static int lookup_kind(struct store_layer_reader *r, const char *path)
{
	struct store_inode *ino;
	struct cc_error *err = NULL;
	int ret = store_layer_lookup_path(r, path, &ino, &err);
	if (ret < 0)
		fail_msg("lookup %s: %s", path, err->msg);
	return ret;
}

/* "name:kind:type," for every entry of the directory at path. */
static char *listing(struct store_layer_reader *r, const char *path)
{
	struct store_inode *dir = lookup(r, path);
	struct store_dirent d;
	struct cc_error *err = NULL;
	char *out = xstrdup("");
	int ret;

	for (size_t i = 0; (ret = store_layer_readdir(r, dir, i, &d, &err)) == 1; i++) {
		char *n = xasprintf("%s%s:%u:%u,", out, d.name, d.kind, d.type);
		free(out);
		out = n;
	}
	ok(ret, &err);
	return out;
}

/* Every host file below dir (relative names), sorted. */
static void list_files_at(const char *base, const char *rel, char ***out)
{
	_cleanup_free_ char *path = *rel ? xasprintf("%s/%s", base, rel) : xstrdup(base);
	DIR *d = opendir(path);
	struct dirent *de;
	assert_non_null(d);
	while ((de = readdir(d))) {
		struct stat st;
		_cleanup_free_ char *sub = NULL, *full = NULL;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		sub = *rel ? xasprintf("%s/%s", rel, de->d_name) : xstrdup(de->d_name);
		full = xasprintf("%s/%s", base, sub);
		assert_int_equal(lstat(full, &st), 0);
		if (S_ISDIR(st.st_mode))
			list_files_at(base, sub, out);
		else
			cc_strv_push(out, sub);
	}
	closedir(d);
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every host file below base/rel, named relative to it. */
static char **list_files(const char *base, const char *rel)
{
	char **v = xcalloc(1, sizeof(*v));
	_cleanup_free_ char *top = *rel ? xasprintf("%s/%s", base, rel) : xstrdup(base);
	list_files_at(top, "", &v);
	qsort(v, cc_strv_len(v), sizeof(*v), str_cmp);
	return v;
}

static char *object_file(const char *dir, const uint8_t *id)
{
	char hex[33];
	cc_hex_encode(id, 16, hex);
	return xasprintf("%s/objects/%.2s/%s", dir, hex, hex + 2);
}

static void copy_file(const char *from, const char *to)
{
	size_t len;
	struct cc_error *err = NULL;
	_cleanup_free_ char *buf = cc_read_file(from, 1 << 26, &len, &err);
	if (!buf)
		fail_msg("%s", err->msg);
	unlink(to);
	ok(cc_write_file(to, buf, len, 0600, &err), &err);
}

/* The objects a layer references, as "xx/yyyy" names, sorted. */
static void add_name(void *ctx, const uint8_t id[STORE_ID_LEN])
{
	char hex[33];
	cc_hex_encode(id, 16, hex);
	char *name = xasprintf("%.2s/%s", hex, hex + 2);
	if (!cc_strv_contains(*(char ***)ctx, name))
		cc_strv_push((char ***)ctx, name);
	free(name);
}

static char **layer_objects(struct store *s, const char *diff_id)
{
	uint8_t id[16], mac[16];
	struct cc_error *err = NULL;
	char **v = xcalloc(1, sizeof(*v));
	ok(store_layer_ref(s, diff_id, id, mac, &err), &err);
	ok(store_record_objects(s, id, mac, add_name, &v, &err), &err);
	qsort(v, cc_strv_len(v), sizeof(*v), str_cmp);
	return v;
}

static bool strv_equal(char **a, char **b)
{
	size_t n = cc_strv_len(a);
	if (n != cc_strv_len(b))
		return false;
	for (size_t i = 0; i < n; i++)
		if (strcmp(a[i], b[i]))
			return false;
	return true;
}

/* ---- the big layer ---- */

static struct store_xattr small_x[] = {
	{ "user.zeta", (uint8_t *)"z", 1 },
	{ "user.alpha", (uint8_t *)"", 0 },
};

static uint8_t *big_value;
static struct store_xattr big_x[2];

static void write_full_layer(struct store *s, const char *diff_id, const uint8_t *f70k,
			     const uint8_t *big, size_t big_len)
{
	struct store_layer_writer *w = NULL;
	struct cc_error *err = NULL;
	struct store_attr a;

	big_value = pattern(3000, 9);
	big_x[0] = (struct store_xattr){ "trusted.big", big_value, 3000 };
	big_x[1] = (struct store_xattr){ "user.small", (uint8_t *)"s", 1 };

	ok(store_layer_begin(s, diff_id, &w, &err), &err);
	/* A file before its parents; the parents given afterwards. */
	a = attr(STORE_TYPE_REG, 04755, 1, 2, -5);
	put_file(w, "a/b/c/deep.txt", &a, (const uint8_t *)"deep", 4);
	a = attr(0, 0700, 5, 6, 1234567890);
	ok(store_layer_mkdir(w, "a", &a, &err), &err);
	a = attr(STORE_TYPE_DIR, 01777, 0, 0, 42);
	a.xattrs = big_x;
	a.n_xattrs = 2;
	ok(store_layer_mkdir(w, "a/b", &a, &err), &err);
	a = attr(STORE_TYPE_DIR, 0755, 0, 0, 7);
	ok(store_layer_mkdir(w, "", &a, &err), &err);

	a = attr(STORE_TYPE_REG, 0600, 0, 0, 1);
	put_file(w, "empty", &a, NULL, 0);
	a.xattrs = small_x;
	a.n_xattrs = 2;
	put_file(w, "one", &a, (const uint8_t *)"1", 1);
	a = attr(STORE_TYPE_REG, 0644, 1000, 1000, 99);
	a.xattrs = big_x;
	a.n_xattrs = 2;
	put_file(w, "f70k", &a, f70k, 70000);
	a = attr(STORE_TYPE_REG, 0444, 0, 0, 100);
	put_file(w, "big", &a, big, big_len);

	/* The same name twice: the later wins (a file over a file, a link over a tree). */
	put_text(w, "dup", "first version");
	put_text(w, "dup", "second!");
	a = attr(0, 0755, 0, 0, 0);
	ok(store_layer_mkdir(w, "dup2", &a, &err), &err);
	put_text(w, "dup2/child", "gone");
	a = attr(0, 0777, 0, 0, 3);
	ok(store_layer_symlink(w, "dup2", "a/b", &a, &err), &err);

	/* Links. */
	ok(store_layer_symlink(w, "link", "a/b/c/deep.txt", &a, &err), &err);
	_cleanup_free_ char *long_target = xmalloc(4096);
	memset(long_target, 'x', 4095);
	long_target[4095] = 0;
	ok(store_layer_symlink(w, "a/longlink", long_target, &a, &err), &err);
	ok(store_layer_hardlink(w, "a/hl", "f70k", &err), &err);
	put_text(w, "orig", "original");
	ok(store_layer_hardlink(w, "hl2", "orig", &err), &err);
	put_text(w, "orig", "replaced");

	/* Nodes, attributes only. */
	a = attr(STORE_TYPE_FIFO, 0620, 0, 5, 11);
	ok(store_layer_node(w, "dev/pipe", &a, &err), &err);
	a = attr(STORE_TYPE_CHR, 0666, 0, 0, 12);
	a.rdev = makedev(1, 3);
	ok(store_layer_node(w, "dev/null", &a, &err), &err);
	a = attr(STORE_TYPE_BLK, 0660, 0, 6, 13);
	a.rdev = makedev(8, 1);
	ok(store_layer_node(w, "dev/sda1", &a, &err), &err);

	/* Whiteouts and opaque directories. */
	ok(store_layer_whiteout(w, "gone", &err), &err);
	ok(store_layer_whiteout(w, "a/b/c/hidden", &err), &err);
	put_text(w, "victim/file", "x");
	ok(store_layer_whiteout(w, "victim", &err), &err);
	ok(store_layer_opaque(w, "opq", &err), &err);
	a = attr(0, 0750, 3, 3, 14);
	ok(store_layer_mkdir(w, "opq", &a, &err), &err);
	put_text(w, "opq/in", "in opaque");
	ok(store_layer_whiteout(w, "wo", &err), &err);
	put_text(w, "wo/inner", "over a whiteout");
	ok(store_layer_commit(w, &err), &err);
}

static void check_full_layer(struct store *s, const char *diff_id, const uint8_t *f70k,
			     const uint8_t *big, size_t big_len)
{
	struct store_layer_reader *r = NULL;
	struct cc_error *err = NULL;
	struct store_attr a;
	_cleanup_free_ char *root_list = NULL, *b_list = NULL, *c_list = NULL, *dev_list = NULL;

	ok(store_layer_open(s, diff_id, &r, &err), &err);
	a = attr(STORE_TYPE_DIR, 0755, 0, 0, 7);
	expect_attr(r, "", &a);
	a = attr(STORE_TYPE_DIR, 0700, 5, 6, 1234567890);
	expect_attr(r, "a", &a);
	a = attr(STORE_TYPE_DIR, 01777, 0, 0, 42);
	a.xattrs = big_x;
	a.n_xattrs = 2;
	expect_attr(r, "a/b", &a);
	/* A parent nobody gave: 0755, owner 0, mtime 0. */
	a = attr(STORE_TYPE_DIR, 0755, 0, 0, 0);
	expect_attr(r, "a/b/c", &a);
	a = attr(STORE_TYPE_REG, 04755, 1, 2, -5);
	expect_attr(r, "a/b/c/deep.txt", &a);
	expect_text(r, "a/b/c/deep.txt", "deep");

	expect_content(r, "empty", NULL, 0);
	expect_content(r, "one", (const uint8_t *)"1", 1);
	a = attr(STORE_TYPE_REG, 0600, 0, 0, 1);
	struct store_xattr sorted_small[] = { small_x[1], small_x[0] };
	a.xattrs = sorted_small;
	a.n_xattrs = 2;
	expect_attr(r, "one", &a);
	expect_content(r, "f70k", f70k, 70000);
	a = attr(STORE_TYPE_REG, 0644, 1000, 1000, 99);
	a.xattrs = big_x;
	a.n_xattrs = 2;
	expect_attr(r, "f70k", &a);
	expect_content(r, "big", big, big_len);

	expect_text(r, "dup", "second!");
	_cleanup_free_ char *t = store_layer_readlink(r, lookup(r, "dup2"), &err);
	assert_non_null(t);
	assert_string_equal(t, "a/b");
	assert_int_equal(lookup_kind(r, "dup2/child"), STORE_ABSENT);
	_cleanup_free_ char *t2 = store_layer_readlink(r, lookup(r, "link"), &err);
	assert_string_equal(t2, "a/b/c/deep.txt");
	_cleanup_free_ char *t3 = store_layer_readlink(r, lookup(r, "a/longlink"), &err);
	assert_int_equal(strlen(t3), 4095);
	a = attr(STORE_TYPE_SYMLINK, 0777, 0, 0, 3);
	expect_attr(r, "link", &a);

	/* Hard links: one inode, nlink 2; a link to a name replaced later keeps the old file. */
	assert_ptr_equal(lookup(r, "a/hl"), lookup(r, "f70k"));
	expect_content(r, "a/hl", f70k, 70000);
	assert_int_equal(nlink_of(r, "a/hl"), 2);
	assert_int_equal(nlink_of(r, "f70k"), 2);
	expect_text(r, "hl2", "original");
	expect_text(r, "orig", "replaced");
	assert_int_equal(nlink_of(r, "hl2"), 1);
	assert_int_equal(nlink_of(r, "orig"), 1);
	assert_int_equal(nlink_of(r, ""), 2 + 4); /* a, dev, opq, wo */

	a = attr(STORE_TYPE_FIFO, 0620, 0, 5, 11);
	expect_attr(r, "dev/pipe", &a);
	a = attr(STORE_TYPE_CHR, 0666, 0, 0, 12);
	a.rdev = makedev(1, 3);
	expect_attr(r, "dev/null", &a);
	a = attr(STORE_TYPE_BLK, 0660, 0, 6, 13);
	a.rdev = makedev(8, 1);
	expect_attr(r, "dev/sda1", &a);

	assert_int_equal(lookup_kind(r, "gone"), STORE_WHITEOUT);
	assert_int_equal(lookup_kind(r, "a/b/c/hidden"), STORE_WHITEOUT);
	assert_int_equal(lookup_kind(r, "victim"), STORE_WHITEOUT);
	assert_int_equal(lookup_kind(r, "victim/file"), STORE_ABSENT);
	assert_int_equal(lookup_kind(r, "nothing"), STORE_ABSENT);
	assert_int_equal(lookup_kind(r, "one/below"), STORE_ABSENT);
	a = attr(STORE_TYPE_DIR, 0750, 3, 3, 14);
	a.flags = STORE_FLAG_OPAQUE;
	expect_attr(r, "opq", &a);
	expect_text(r, "opq/in", "in opaque");
	a = attr(STORE_TYPE_DIR, 0755, 0, 0, 0);
	a.flags = STORE_FLAG_OPAQUE;
	expect_attr(r, "wo", &a);
	expect_text(r, "wo/inner", "over a whiteout");

	root_list = listing(r, "");
	assert_string_equal(root_list, "a:0:2,big:0:1,dev:0:2,dup:0:1,dup2:0:3,empty:0:1,f70k:0:1,"
				       "gone:1:0,hl2:0:1,link:0:3,one:0:1,opq:0:2,orig:0:1,"
				       "victim:1:0,wo:0:2,");
	b_list = listing(r, "a/b");
	assert_string_equal(b_list, "c:0:2,");
	c_list = listing(r, "a/b/c");
	assert_string_equal(c_list, "deep.txt:0:1,hidden:1:0,");
	dev_list = listing(r, "dev");
	assert_string_equal(dev_list, "null:0:4,pipe:0:6,sda1:0:5,");

	/* The reader's own errors. */
	uint8_t buf[4];
	assert_int_equal(store_layer_read(r, lookup(r, "a"), buf, 4, 0, &err), -1);
	expect_error(&err, EINVAL, "layer ", "read of an inode of type 2", NULL);
	assert_null(store_layer_readlink(r, lookup(r, "one"), &err));
	expect_error(&err, EINVAL, "readlink", NULL);
	struct store_dirent d;
	assert_int_equal(store_layer_readdir(r, lookup(r, "one"), 0, &d, &err), -1);
	expect_error(&err, ENOTDIR, "not a directory", NULL);
	struct store_inode *ino;
	assert_int_equal(store_layer_lookup(r, lookup(r, ""), "a/b", &ino, &err), -1);
	expect_error(&err, EINVAL, "invalid name", NULL);
	store_layer_close(r);
}

static void test_full_layer(void **state)
{
	_cleanup_free_ char *dir = new_root();
	_cleanup_free_ uint8_t *f70k = pattern(70000, 1), *big = pattern(3 * MIB + 17, 2);
	struct store *s = open_store(dir, true);
	_cleanup_strv_ char **files = NULL, **objs = NULL;
	uint8_t id[16], mac[16];
	struct cc_error *err = NULL;

	assert_int_equal(store_generation(s), 0);
	write_full_layer(s, DIFF_A, f70k, big, 3 * MIB + 17);
	assert_int_equal(store_generation(s), 1);
	check_full_layer(s, DIFF_A, f70k, big, 3 * MIB + 17);

	/* Exactly the referenced objects and the index are on the host: what "dup" and "orig"
	 * first were, and "dup2/child", were removed at commit; tmp/ is empty. */
	files = list_files(dir, "objects");
	objs = layer_objects(s, DIFF_A);
	assert_int_equal(cc_strv_len(files), cc_strv_len(objs) + 1);
	for (size_t i = 0; objs[i]; i++)
		assert_true(cc_strv_contains(files, objs[i]));
	_cleanup_strv_ char **tmp = list_files(dir, "tmp");
	assert_int_equal(cc_strv_len(tmp), 0);

	/* Modes of the host files: 0700 directories, 0600 files. */
	struct stat st;
	_cleanup_free_ char *o = xasprintf("%s/objects/%s", dir, files[0]);
	assert_int_equal(stat(o, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	o[strlen(o) - 31] = 0;
	assert_int_equal(stat(o, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);

	/* The record's id derives from the diff_id. */
	ok(store_layer_ref(s, DIFF_A, id, mac, &err), &err);
	uint8_t want[16];
	store_record_id(s, DIFF_A, want);
	assert_memory_equal(id, want, 16);

	/* A layer that is there already. */
	struct store_layer_writer *w = NULL;
	assert_int_equal(store_layer_begin(s, DIFF_A, &w, &err), -1);
	expect_error(&err, EEXIST, "already in the store", NULL);
	store_close(s);

	/* Read back after reopening. */
	s = open_store(dir, false);
	assert_int_equal(store_generation(s), 1);
	check_full_layer(s, DIFF_A, f70k, big, 3 * MIB + 17);
	store_close(s);
	free(big_value);
}

/* ---- two layers, the index, removal, gc ---- */

static void small_layer(struct store *s, const char *diff_id, const char *content)
{
	struct store_layer_writer *w = NULL;
	struct cc_error *err = NULL;
	struct store_attr a = attr(STORE_TYPE_DIR, 0755, 0, 0, 0);
	ok(store_layer_begin(s, diff_id, &w, &err), &err);
	put_text(w, "etc/file", content);
	put_text(w, "etc/other", "other");
	ok(store_layer_mkdir(w, "d1", &a, &err), &err);
	put_text(w, "d1/x", "in d1");
	ok(store_layer_mkdir(w, "d2", &a, &err), &err);
	put_text(w, "d2/y", "in d2");
	ok(store_layer_commit(w, &err), &err);
}

static void test_two_layers_gc(void **state)
{
	_cleanup_free_ char *dir = new_root();
	struct store *s = open_store(dir, true);
	struct cc_error *err = NULL;
	size_t n = 0, removed = 99;

	small_layer(s, DIFF_B, "B");
	small_layer(s, DIFF_A, "A");
	assert_int_equal(store_generation(s), 2);
	_cleanup_strv_ char **ids = store_layer_ids(s, &n, &err);
	assert_int_equal(n, 2);
	assert_string_equal(ids[0], DIFF_A); /* sorted */
	assert_string_equal(ids[1], DIFF_B);

	_cleanup_strv_ char **objs_a = layer_objects(s, DIFF_A);
	_cleanup_strv_ char **objs_b = layer_objects(s, DIFF_B);
	_cleanup_strv_ char **before = list_files(dir, "objects");
	assert_int_equal(cc_strv_len(before), cc_strv_len(objs_a) + cc_strv_len(objs_b) + 1);
	/* Nothing to collect yet. */
	ok(store_gc(s, &removed, &err), &err);
	assert_int_equal(removed, 0);

	ok(store_remove_layer(s, DIFF_B, &err), &err);
	assert_int_equal(store_generation(s), 3);
	assert_false(store_has_layer(s, DIFF_B));
	assert_int_equal(store_remove_layer(s, DIFF_B, &err), -1);
	expect_error(&err, ENOENT, "not in the store", NULL);
	ok(store_gc(s, &removed, &err), &err);
	assert_int_equal(removed, cc_strv_len(objs_b));
	_cleanup_strv_ char **after = list_files(dir, "objects");
	assert_int_equal(cc_strv_len(after), cc_strv_len(objs_a) + 1);
	for (size_t i = 0; objs_a[i]; i++)
		assert_true(cc_strv_contains(after, objs_a[i]));
	for (size_t i = 0; objs_b[i]; i++)
		assert_false(cc_strv_contains(after, objs_b[i]));

	struct store_layer_reader *r = NULL;
	ok(store_layer_open(s, DIFF_A, &r, &err), &err);
	expect_text(r, "etc/file", "A");
	store_layer_close(r);
	r = NULL;
	assert_int_equal(store_layer_open(s, DIFF_B, &r, &err), -1);
	expect_error(&err, ENOENT, DIFF_B, NULL);

	/* A second opener (another process would be the same: the locks are flocks on files of
	 * the store) shares it: each sees the other's changes to the index, and gc, which needs
	 * the store alone, is refused while both have it open. */
	struct store *s2 = NULL;
	ok(store_open(dir, key1, false, &s2, &err), &err);
	assert_true(store_has_layer(s2, DIFF_A));
	assert_false(store_has_layer(s2, DIFF_B));
	ok(store_remove_layer(s2, DIFF_A, &err), &err);
	assert_false(store_has_layer(s, DIFF_A));
	assert_int_equal(store_generation(s), 4);
	assert_int_equal(store_gc(s, &removed, &err), -1);
	expect_error(&err, EBUSY, "garbage collection needs the store alone", NULL);
	assert_int_equal(store_gc(s2, &removed, &err), -1);
	expect_error(&err, EBUSY, "garbage collection needs the store alone", NULL);
	small_layer(s2, DIFF_A, "A");
	assert_true(store_has_layer(s, DIFF_A));
	ok(store_layer_open(s, DIFF_A, &r, &err), &err);
	expect_text(r, "etc/file", "A");
	store_layer_close(r);
	store_close(s2);
	/* alone again: gc runs, and removes the first copy of layer A (all but its record, whose
	 * id the diff_id gives) */
	ok(store_gc(s, &removed, &err), &err);
	assert_int_equal(removed, cc_strv_len(objs_a) - 1);
	_cleanup_strv_ char **objs_a2 = layer_objects(s, DIFF_A);
	_cleanup_strv_ char **left = list_files(dir, "objects");
	assert_int_equal(cc_strv_len(left), cc_strv_len(objs_a2) + 1);
	store_close(s);

	/* The generation and the listing persist. */
	s = open_store(dir, false);
	assert_int_equal(store_generation(s), 5);
	_cleanup_strv_ char **ids2 = store_layer_ids(s, &n, &err);
	assert_int_equal(n, 1);
	assert_string_equal(ids2[0], DIFF_A);
	store_close(s);
}

static void test_open_errors(void **state)
{
	_cleanup_free_ char *dir = new_root();
	_cleanup_free_ char *missing = new_root();
	struct store *s = open_store(dir, true);
	struct cc_error *err = NULL;
	_cleanup_free_ char *want = xasprintf("store %s: wrong store key", dir);

	store_close(s);
	assert_int_equal(store_open(dir, key2, false, &s, &err), -1);
	assert_string_equal(err->msg, want);
	expect_error(&err, EIO, NULL);
	/* Also with create: a store is there, and the key is wrong. */
	assert_int_equal(store_open(dir, key2, true, &s, &err), -1);
	expect_error(&err, EIO, "wrong store key", NULL);
	assert_int_equal(store_open(missing, key1, false, &s, &err), -1);
	assert_non_null(err);
	cc_error_free(&err);

	/* A pointer of another length or magic. */
	_cleanup_free_ char *ptr = xasprintf("%s/index", dir);
	ok(cc_write_file(ptr, "RUNESIX1short", 13, 0600, &err), &err);
	assert_int_equal(store_open(dir, key1, false, &s, &err), -1);
	expect_error(&err, EIO, "index pointer is 13 bytes, not 76", NULL);
}

/* ---- tampering ---- */

static void expect_lookup_eio(struct store *s, const char *diff_id, const char *path,
			      const char *frag)
{
	struct store_layer_reader *r = NULL;
	struct store_inode *ino;
	struct cc_error *err = NULL;
	int ret = store_layer_open(s, diff_id, &r, &err);
	if (ret == 0) {
		ret = store_layer_lookup_path(r, path, &ino, &err);
		if (ret == STORE_FOUND && store_layer_getattr(ino)->type == STORE_TYPE_REG) {
			uint8_t buf[64];
			ret = (int)store_layer_read(r, ino, buf, sizeof(buf), 0, &err);
		}
		store_layer_close(r);
	}
	if (ret >= 0)
		fail_msg("%s: no error", path);
	expect_error(&err, EIO, frag, NULL);
}

static const uint8_t *inode_id(struct store *s, const char *diff_id, const char *path,
			       uint8_t out[16])
{
	struct store_layer_reader *r = NULL;
	struct cc_error *err = NULL;
	ok(store_layer_open(s, diff_id, &r, &err), &err);
	memcpy(out, store_layer_inode_id(lookup(r, path)), 16);
	store_layer_close(r);
	return out;
}

static void test_tamper_swap(void **state)
{
	_cleanup_free_ char *dir = new_root();
	struct store *s = open_store(dir, true);
	uint8_t d1[16], d2[16], fa[16], fb[16];
	char name[17];
	struct store_layer_reader *r = NULL;
	struct cc_error *err = NULL;

	small_layer(s, DIFF_A, "content of A");
	small_layer(s, DIFF_B, "content of B");
	_cleanup_free_ char *p1 = object_file(dir, inode_id(s, DIFF_A, "d1", d1));
	_cleanup_free_ char *p2 = object_file(dir, inode_id(s, DIFF_A, "d2", d2));
	_cleanup_free_ char *pa = object_file(dir, inode_id(s, DIFF_A, "etc/file", fa));
	_cleanup_free_ char *pb = object_file(dir, inode_id(s, DIFF_B, "etc/file", fb));
	_cleanup_free_ char *save1 = xasprintf("%s.save", p1);
	_cleanup_free_ char *savea = xasprintf("%s.save", pa);

	/* A directory object swapped with another directory's. */
	copy_file(p1, save1);
	copy_file(p2, p1);
	cc_hex_encode(d1, 8, name);
	_cleanup_free_ char *frag1 = xasprintf("object %s: id is", name);
	expect_lookup_eio(s, DIFF_A, "d1/x", frag1);
	copy_file(save1, p1);
	unlink(save1);

	/* The same path's file object of the other layer copied over this one's. */
	copy_file(pa, savea);
	copy_file(pb, pa);
	cc_hex_encode(fa, 8, name);
	_cleanup_free_ char *frag2 = xasprintf("object %s: id is", name);
	expect_lookup_eio(s, DIFF_A, "etc/file", frag2);

	/* An object deleted. */
	unlink(pa);
	_cleanup_free_ char *frag3 = xasprintf("object %s: missing from the store", name);
	expect_lookup_eio(s, DIFF_A, "etc/file", frag3);
	/* gc refuses to sweep, naming it, and removes nothing. */
	_cleanup_strv_ char **before = list_files(dir, "objects");
	size_t removed = 7;
	assert_int_equal(store_gc(s, &removed, &err), -1);
	expect_error(&err, EIO, frag3, "nothing removed", NULL);
	assert_int_equal(removed, 0);
	_cleanup_strv_ char **after = list_files(dir, "objects");
	assert_true(strv_equal(before, after));

	copy_file(savea, pa);
	unlink(savea);
	ok(store_layer_open(s, DIFF_A, &r, &err), &err);
	expect_text(r, "etc/file", "content of A");
	expect_text(r, "d1/x", "in d1");
	store_layer_close(r);
	store_close(s);
}

static void test_tamper_older_version(void **state)
{
	_cleanup_free_ char *dir = new_root();
	struct store *s = open_store(dir, true);
	uint8_t rid[16];
	struct cc_error *err = NULL;
	struct store_layer_reader *r = NULL;

	/* A layer record is the one object whose id is not random: write the layer, keep its
	 * record, write the layer again with another content, put the old record back. */
	small_layer(s, DIFF_A, "version 1");
	store_record_id(s, DIFF_A, rid);
	_cleanup_free_ char *prec = object_file(dir, rid);
	_cleanup_free_ char *save = xasprintf("%s/old-record", dir);
	copy_file(prec, save);
	ok(store_remove_layer(s, DIFF_A, &err), &err);
	small_layer(s, DIFF_A, "version 2");
	copy_file(save, prec);
	char name[17];
	cc_hex_encode(rid, 8, name);
	_cleanup_free_ char *frag = xasprintf("object %s: root MAC does not match", name);
	assert_int_equal(store_layer_open(s, DIFF_A, &r, &err), -1);
	expect_error(&err, EIO, "layer " DIFF_A ": record: ", frag, NULL);
	store_close(s);
}

/* Flip every byte the directory object's host file holds (not its holes), one at a time: each
 * is EIO. Names are inside it, so no entry name can be changed on the host either. */
static void test_tamper_directory_bytes(void **state)
{
	_cleanup_free_ char *dir = new_root();
	struct store *s = open_store(dir, true);
	uint8_t d1[16];
	struct stat st;
	size_t flips = 0;
	char name[17];

	small_layer(s, DIFF_A, "A");
	_cleanup_free_ char *p = object_file(dir, inode_id(s, DIFF_A, "d1", d1));
	struct store_layer_reader *r = NULL;
	struct cc_error *err = NULL;
	ok(store_layer_open(s, DIFF_A, &r, &err), &err);
	off_t content = (off_t)store_layer_size(lookup(r, "d1"));
	store_layer_close(r);
	assert_int_equal(content, 4 + 2 + 1 + 2 + 32);
	cc_hex_encode(d1, 8, name);
	_cleanup_free_ char *frag = xasprintf("object %s", name);
	int fd = open(p, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	/* Header, the one chunk, the root node of one entry at the end. */
	assert_int_equal(st.st_size, 4096 + 65536 + 32);
	for (off_t off = 0; off < st.st_size; off++) {
		uint8_t b, f;
		/* The room after the short chunk, before the tree: a hole, never read. */
		if (off >= 4096 + content && off < st.st_size - 32)
			continue;
		assert_int_equal(pread(fd, &b, 1, off), 1);
		f = b ^ 0x20;
		assert_int_equal(pwrite(fd, &f, 1, off), 1);
		expect_lookup_eio(s, DIFF_A, "d1/x", frag);
		assert_int_equal(pwrite(fd, &b, 1, off), 1);
		flips++;
	}
	close(fd);
	assert_int_equal(flips, 4096 + content + 32);
	ok(store_layer_open(s, DIFF_A, &r, &err), &err);
	expect_text(r, "d1/x", "in d1");
	store_layer_close(r);
	store_close(s);
}

/* The documented limit: the whole store put back in an older consistent state (the pointer
 * and the objects it names) is accepted, with its older generation. */
static void test_pointer_rollback(void **state)
{
	_cleanup_free_ char *dir = new_root();
	struct store *s = open_store(dir, true);
	struct cc_error *err = NULL;
	size_t n = 0;

	small_layer(s, DIFF_A, "A");
	_cleanup_free_ char *ptr = xasprintf("%s/index", dir);
	_cleanup_free_ char *save_ptr = xasprintf("%s/old-index", dir);
	copy_file(ptr, save_ptr);
	_cleanup_strv_ char **old_objects = list_files(dir, "objects");
	_cleanup_strv_ char **saved = xcalloc(1, sizeof(char *));
	for (size_t i = 0; old_objects[i]; i++) {
		_cleanup_free_ char *from = xasprintf("%s/objects/%s", dir, old_objects[i]);
		char *to = xasprintf("%s/old-%zu", dir, i);
		copy_file(from, to);
		cc_strv_push(&saved, to);
		free(to);
	}
	small_layer(s, DIFF_B, "B");
	ok(store_remove_layer(s, DIFF_A, &err), &err);
	assert_int_equal(store_generation(s), 3);
	store_close(s);

	copy_file(save_ptr, ptr);
	for (size_t i = 0; old_objects[i]; i++) {
		_cleanup_free_ char *to = xasprintf("%s/objects/%s", dir, old_objects[i]);
		copy_file(saved[i], to);
	}
	s = open_store(dir, false);
	assert_int_equal(store_generation(s), 1);
	_cleanup_strv_ char **ids = store_layer_ids(s, &n, &err);
	assert_int_equal(n, 1);
	assert_string_equal(ids[0], DIFF_A);
	store_close(s);
}

static void test_tmp_leftovers(void **state)
{
	_cleanup_free_ char *dir = new_root();
	struct store *s = open_store(dir, true);
	struct cc_error *err = NULL;
	struct store_layer_reader *r = NULL;

	small_layer(s, DIFF_A, "A");
	store_close(s);
	_cleanup_free_ char *junk = xasprintf("%s/tmp/0123456789abcdef0123456789abcdef", dir);
	_cleanup_free_ char *junkdir = xasprintf("%s/tmp/somedir", dir);
	ok(cc_write_file(junk, "half-written", 12, 0600, &err), &err);
	assert_int_equal(mkdir(junkdir, 0700), 0);
	s = open_store(dir, false);
	assert_false(cc_path_exists(junk));
	assert_false(cc_path_exists(junkdir));
	ok(store_layer_open(s, DIFF_A, &r, &err), &err);
	expect_text(r, "etc/file", "A");
	store_layer_close(r);
	store_close(s);
}

/* ---- no plaintext on the host ---- */

static bool file_contains(const char *path, const char *needle)
{
	size_t len, nl = strlen(needle);
	struct cc_error *err = NULL;
	_cleanup_free_ char *buf = cc_read_file(path, 1 << 26, &len, &err);
	assert_non_null(buf);
	for (size_t i = 0; i + nl <= len; i++)
		if (!memcmp(buf + i, needle, nl))
			return true;
	return false;
}

static void test_no_plaintext(void **state)
{
	_cleanup_free_ char *dir = new_root();
	struct store *s = open_store(dir, true);
	struct store_layer_writer *w = NULL;
	struct cc_error *err = NULL;
	struct store_attr a = attr(STORE_TYPE_DIR, 0755, 0, 0, 0);
	struct store_xattr x[] = { { "user.MARKER-XATTR-9012", (uint8_t *)"MARKER-XVAL-3141",
				     16 } };
	static const char *const markers[] = { "MARKER-NAME-1234",   "MARKER-CONTENT-5678",
					       "MARKER-XATTR-9012",  "MARKER-XVAL-3141",
					       "MARKER-TARGET-2718", "MARKER-DIR-1618",
					       "MARKERDIFF" };
	const char *diff = "sha256:MARKERDIFF0000000000000000000000000000000000000000000000000000";
	_cleanup_free_ char *big = xmalloc(200001);

	for (size_t i = 0; i < 200000; i += 20)
		memcpy(big + i, "MARKER-CONTENT-5678 ", 20);
	ok(store_layer_begin(s, diff, &w, &err), &err);
	a.xattrs = x;
	a.n_xattrs = 1;
	ok(store_layer_mkdir(w, "MARKER-DIR-1618", &a, &err), &err);
	a = attr(STORE_TYPE_REG, 0644, 0, 0, 0);
	a.xattrs = x;
	a.n_xattrs = 1;
	put_file(w, "MARKER-DIR-1618/MARKER-NAME-1234", &a, (const uint8_t *)big, 200000);
	put_text(w, "MARKER-NAME-1234", "MARKER-CONTENT-5678");
	a = attr(STORE_TYPE_SYMLINK, 0777, 0, 0, 0);
	ok(store_layer_symlink(w, "l", "MARKER-TARGET-2718", &a, &err), &err);
	ok(store_layer_whiteout(w, "MARKER-NAME-1234.wh", &err), &err);
	ok(store_layer_commit(w, &err), &err);
	store_close(s);

	_cleanup_strv_ char **files = list_files(dir, "");
	assert_true(cc_strv_len(files) > 5);
	for (size_t i = 0; files[i]; i++) {
		_cleanup_free_ char *path = xasprintf("%s/%s", dir, files[i]);
		for (size_t m = 0; m < ARRAY_SIZE(markers); m++) {
			assert_null(strstr(files[i], markers[m]));
			if (file_contains(path, markers[m]))
				fail_msg("%s holds %s", files[i], markers[m]);
		}
	}
	/* The scan can fail: a plain copy of a marker is found. */
	_cleanup_free_ char *probe = xasprintf("%s/probe", dir);
	ok(cc_write_file(probe, big, 40, 0600, &err), &err);
	assert_true(file_contains(probe, "MARKER-CONTENT-5678"));
}

/* ---- abort and crash ---- */

static void test_abort_and_crash(void **state)
{
	_cleanup_free_ char *dir = new_root();
	struct store *s = open_store(dir, true);
	struct store_layer_writer *w = NULL;
	struct cc_error *err = NULL;
	size_t removed = 0;
	_cleanup_free_ uint8_t *data = pattern(300000, 5);

	small_layer(s, DIFF_A, "A");
	_cleanup_strv_ char **before = list_files(dir, "objects");
	_cleanup_free_ char *ptr = xasprintf("%s/index", dir);
	size_t plen;
	_cleanup_free_ char *ptr_before = cc_read_file(ptr, 0, &plen, &err);

	/* Abort mid-file: the index as it was, every object written removed. */
	ok(store_layer_begin(s, DIFF_B, &w, &err), &err);
	put_text(w, "x/y", "y");
	struct store_attr a = attr(STORE_TYPE_REG, 0644, 0, 0, 0);
	ok(store_layer_file_begin(w, "x/z", &a, &err), &err);
	ok(store_layer_file_write(w, data, 300000, &err), &err);
	/* gc refuses while a writer is open. */
	assert_int_equal(store_gc(s, &removed, &err), -1);
	expect_error(&err, EBUSY, "writer", NULL);
	store_layer_abort(w);
	assert_int_equal(store_generation(s), 1);
	assert_false(store_has_layer(s, DIFF_B));
	_cleanup_strv_ char **after = list_files(dir, "objects");
	assert_true(strv_equal(before, after));
	_cleanup_strv_ char **tmp = list_files(dir, "tmp");
	assert_int_equal(cc_strv_len(tmp), 0);

	/* A failing entry fails the writer for good; commit then refuses and cleans up. */
	ok(store_layer_begin(s, DIFF_B, &w, &err), &err);
	put_text(w, "f", "f");
	assert_int_equal(store_layer_hardlink(w, "h", "nope", &err), -1);
	expect_error(&err, ENOENT, "layer " DIFF_B ": h: hard link to nope", NULL);
	assert_int_equal(store_layer_mkdir(w, "d", &a, &err), -1);
	expect_error(&err, EINVAL, "an earlier entry failed", NULL);
	assert_int_equal(store_layer_commit(w, &err), -1);
	expect_error(&err, EINVAL, "an earlier entry failed", NULL);
	_cleanup_strv_ char **after2 = list_files(dir, "objects");
	assert_true(strv_equal(before, after2));
	store_close(s);

	/* A crash mid-layer (a child that exits without commit or abort): the next open
	 * removes its tmp/ file, gc its objects; the index is unchanged. */
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct store *cs = NULL;
		struct store_layer_writer *cw = NULL;
		struct cc_error *cerr = NULL;
		/* No cmocka assertion in the child: a failure there must not run the rest of the
		 * tests (and the teardown) twice. */
		if (store_open(dir, key1, false, &cs, &cerr) < 0 ||
		    store_layer_begin(cs, DIFF_B, &cw, &cerr) < 0)
			_exit(1);
		for (int i = 0; i < 2; i++)
			if (store_layer_file_begin(cw, i ? "a/b" : "a/c", &a, &cerr) < 0 ||
			    store_layer_file_write(cw, "bc", 2, &cerr) < 0 ||
			    store_layer_file_end(cw, &cerr) < 0)
				_exit(1);
		if (store_layer_file_begin(cw, "a/d", &a, &cerr) < 0 ||
		    store_layer_file_write(cw, data, 300000, &cerr) < 0)
			_exit(1);
		_exit(0);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	_cleanup_strv_ char **crashed = list_files(dir, "objects");
	_cleanup_strv_ char **crashed_tmp = list_files(dir, "tmp");
	/* the large file's object is being written under tmp/; the two small ones were with the
	 * workers: written, being written, or not yet begun */
	assert_true(cc_strv_len(crashed) >= cc_strv_len(before));
	assert_true(cc_strv_len(crashed) <= cc_strv_len(before) + 2);
	assert_true(cc_strv_len(crashed_tmp) >= 1 && cc_strv_len(crashed_tmp) <= 3);
	s = open_store(dir, false);
	_cleanup_strv_ char **tmp2 = list_files(dir, "tmp");
	assert_int_equal(cc_strv_len(tmp2), 0);
	assert_int_equal(store_generation(s), 1);
	_cleanup_free_ char *ptr_after = cc_read_file(ptr, 0, &plen, &err);
	assert_memory_equal(ptr_before, ptr_after, 76);
	ok(store_gc(s, &removed, &err), &err);
	assert_int_equal(removed, cc_strv_len(crashed) - cc_strv_len(before));
	_cleanup_strv_ char **final = list_files(dir, "objects");
	assert_true(strv_equal(before, final));
	store_close(s);
}

/* ---- the writer's errors ---- */

static void test_writer_errors(void **state)
{
	_cleanup_free_ char *dir = new_root();
	struct store *s = open_store(dir, true);
	struct store_layer_writer *w = NULL;
	struct cc_error *err = NULL;
	struct store_attr a = attr(STORE_TYPE_REG, 0644, 0, 0, 0);
	static const char *const bad_paths[] = { "/abs",   "a//b", "a/", "./a",
						 "a/../b", "..",   "",	 "a/./b" };

	assert_int_equal(store_layer_begin(s, "bad diff id", &w, &err), -1);
	expect_error(&err, EINVAL, "diff_id", NULL);
	for (size_t i = 0; i < ARRAY_SIZE(bad_paths); i++) {
		ok(store_layer_begin(s, DIFF_A, &w, &err), &err);
		assert_int_equal(store_layer_file_begin(w, bad_paths[i], &a, &err), -1);
		expect_error(&err, EINVAL, "not a valid path", NULL);
		store_layer_abort(w);
	}
	struct {
		const char *what;
		int errnum;
		const char *frag;
	} cases[] = {
		{ "file under file", ENOTDIR, "f/g: f is not a directory" },
		{ "hardlink to dir", EISDIR, "hard link to directory" },
		{ "bad mode", EINVAL, "mode 0100644 has bits outside 07777" },
		{ "wrong type", EINVAL, "attributes of type 2" },
		{ "rdev on file", EINVAL, "device number" },
		{ "dup xattr", EINVAL, "xattr given twice" },
		{ "empty target", EINVAL, "link target of 0 bytes" },
		{ "node type", EINVAL, "a device or a fifo" },
		{ "in file", EINVAL, "the file is not ended yet" },
		{ "opaque file", ENOTDIR, "opaque, but not a directory" },
	};
	struct store_xattr dx[] = { { "user.a", (uint8_t *)"1", 1 },
				    { "user.a", (uint8_t *)"2", 1 } };
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct store_attr b = a;
		int ret = 0;
		ok(store_layer_begin(s, DIFF_A, &w, &err), &err);
		put_text(w, "f", "f");
		switch (i) {
		case 0:
			ret = store_layer_file_begin(w, "f/g", &a, &err);
			break;
		case 1:
			put_text(w, "d/x", "x");
			ret = store_layer_hardlink(w, "h", "d", &err);
			break;
		case 2:
			b.mode = 0100644;
			ret = store_layer_file_begin(w, "g", &b, &err);
			break;
		case 3:
			b.type = STORE_TYPE_DIR;
			ret = store_layer_file_begin(w, "g", &b, &err);
			break;
		case 4:
			b.rdev = 5;
			ret = store_layer_file_begin(w, "g", &b, &err);
			break;
		case 5:
			b.xattrs = dx;
			b.n_xattrs = 2;
			ret = store_layer_file_begin(w, "g", &b, &err);
			break;
		case 6:
			b.type = 0;
			ret = store_layer_symlink(w, "g", "", &b, &err);
			break;
		case 7:
			ret = store_layer_node(w, "g", &b, &err);
			break;
		case 8:
			ok(store_layer_file_begin(w, "g", &a, &err), &err);
			ret = store_layer_whiteout(w, "h", &err);
			break;
		case 9:
			ret = store_layer_opaque(w, "f", &err);
			break;
		}
		if (ret != -1)
			fail_msg("%s: accepted", cases[i].what);
		expect_error(&err, cases[i].errnum, cases[i].frag, NULL);
		store_layer_abort(w);
	}
	_cleanup_strv_ char **objs = list_files(dir, "objects");
	assert_int_equal(cc_strv_len(objs), 1); /* the index */
	_cleanup_strv_ char **tmp = list_files(dir, "tmp");
	assert_int_equal(cc_strv_len(tmp), 0);
	assert_int_equal(store_generation(s), 0);
	store_close(s);
}

/* ---- the parsers on damaged encodings ---- */

static void test_parsers(void **state)
{
	struct cc_error *err = NULL;
	struct store_attr a = attr(STORE_TYPE_REG, 0644, 1, 2, 3), back;
	struct store_xattr x[] = { { "user.b", (uint8_t *)"2", 1 },
				   { "user.a", (uint8_t *)"1", 1 } };
	uint8_t area[STORE_PF_ATTR_MAX], sid[16], smac[16], *spill = NULL;
	size_t len, slen;
	bool spilled;

	a.xattrs = x;
	a.n_xattrs = 2;
	ok(store_attr_encode(&a, area, &len, &spill, &slen, &err), &err);
	assert_null(spill);
	assert_int_equal(len, 40 + 2 * (2 + 6 + 4 + 1));
	ok(store_attr_parse(area, len, &back, &spilled, sid, smac, &err), &err);
	assert_false(spilled);
	assert_int_equal(back.n_xattrs, 2);
	assert_string_equal(back.xattrs[0].name, "user.a");
	store_attr_clear(&back);

	/* Damaged areas: each one line, EIO. */
	uint8_t bad[STORE_PF_ATTR_MAX];
	memcpy(bad, area, len);
	bad[0] = 2;
	assert_int_equal(store_attr_parse(bad, len, &back, &spilled, sid, smac, &err), -1);
	expect_error(&err, EIO, "attributes: unknown version 2", NULL);
	memcpy(bad, area, len);
	bad[7] = 0x80; /* mode bits outside 07777 */
	assert_int_equal(store_attr_parse(bad, len, &back, &spilled, sid, smac, &err), -1);
	expect_error(&err, EIO, "mode", NULL);
	memcpy(bad, area, len);
	assert_int_equal(store_attr_parse(bad, len - 1, &back, &spilled, sid, smac, &err), -1);
	expect_error(&err, EIO, "attributes: ", NULL);
	/* Swap the two xattrs: out of order. */
	memcpy(bad, area, 40);
	memcpy(bad + 40, area + 40 + 13, 13);
	memcpy(bad + 53, area + 40, 13);
	assert_int_equal(store_attr_parse(bad, len, &back, &spilled, sid, smac, &err), -1);
	expect_error(&err, EIO, "xattr 1: out of order or repeated", NULL);

	/* Directory content: sorted, no repeats, no bad names. */
	uint8_t dir[4 + 2 * 37];
	memset(dir, 0, sizeof(dir));
	dir[0] = 2;
	dir[4] = 1;
	dir[6] = 'b';
	dir[7] = STORE_ENTRY_INODE;
	dir[8] = STORE_TYPE_REG;
	dir[4 + 37] = 1;
	dir[4 + 37 + 2] = 'a';
	dir[4 + 37 + 3] = STORE_ENTRY_INODE;
	dir[4 + 37 + 4] = STORE_TYPE_DIR;
	struct store_dir_entry *ents = NULL;
	size_t n;
	assert_int_equal(store_dir_parse(dir, sizeof(dir), &ents, &n, &err), -1);
	expect_error(&err, EIO, "directory: entry 1: out of order or repeated", NULL);
	dir[4 + 37 + 2] = 'c';
	ok(store_dir_parse(dir, sizeof(dir), &ents, &n, &err), &err);
	assert_int_equal(n, 2);
	free(ents);
	dir[4 + 37 + 2] = 'b';
	assert_int_equal(store_dir_parse(dir, sizeof(dir), &ents, &n, &err), -1);
	expect_error(&err, EIO, "out of order or repeated", NULL);
	dir[4 + 37 + 2] = '/';
	assert_int_equal(store_dir_parse(dir, sizeof(dir), &ents, &n, &err), -1);
	expect_error(&err, EIO, "entry 1: bad name", NULL);
	dir[4 + 37 + 2] = 'c';
	dir[4 + 37 + 3] = STORE_ENTRY_WHITEOUT; /* a whiteout with a type */
	assert_int_equal(store_dir_parse(dir, sizeof(dir), &ents, &n, &err), -1);
	expect_error(&err, EIO, "a whiteout with an inode", NULL);
	assert_int_equal(store_dir_parse(dir, sizeof(dir) - 1, &ents, &n, &err), -1);
	expect_error(&err, EIO, "directory: ", NULL);

	/* The index pointer. */
	uint8_t ptr[STORE_INDEX_PTR_LEN], id[16] = { 1 }, mac[16] = { 2 }, gid[16], gmac[16];
	uint64_t gen;
	ok(store_index_ptr_seal(key1, 77, id, mac, ptr, &err), &err);
	ok(store_index_ptr_open(key1, ptr, sizeof(ptr), &gen, gid, gmac, &err), &err);
	assert_int_equal(gen, 77);
	assert_memory_equal(gid, id, 16);
	assert_memory_equal(gmac, mac, 16);
	assert_int_equal(store_index_ptr_open(key2, ptr, sizeof(ptr), &gen, gid, gmac, &err), -1);
	expect_error(&err, EIO, "wrong store key", NULL);
	ptr[30] ^= 1;
	assert_int_equal(store_index_ptr_open(key1, ptr, sizeof(ptr), &gen, gid, gmac, &err), -1);
	expect_error(&err, EIO, "wrong store key", NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_layer),
		cmocka_unit_test(test_two_layers_gc),
		cmocka_unit_test(test_open_errors),
		cmocka_unit_test(test_tamper_swap),
		cmocka_unit_test(test_tamper_older_version),
		cmocka_unit_test(test_tamper_directory_bytes),
		cmocka_unit_test(test_pointer_rollback),
		cmocka_unit_test(test_tmp_leftovers),
		cmocka_unit_test(test_no_plaintext),
		cmocka_unit_test(test_abort_and_crash),
		cmocka_unit_test(test_writer_errors),
		cmocka_unit_test(test_parsers),
	};
	return cmocka_run_group_tests(tests, tmproot_setup, tmproot_teardown);
}
