// SPDX-License-Identifier: Apache-2.0
/* Unit tests for lib/store's fsck (docs/store.md, "fsck"): a store of two layers with every
 * entry kind verifies clean, with the counts right; then, each on a fresh store, a flipped bit
 * in a file's chunk, in a tree node, in a header, in a directory object; two chunks swapped
 * within a file; two files' objects swapped on the host; an object renamed over another; a
 * truncated object; an older version of a directory object put back; a missing object (also
 * under a name of odd bytes, shown escaped); a record whose hard link count is wrong; an entry
 * whose type is not its object's; an index naming another diff_id's record; a damaged index
 * object; an extra unreferenced object; stray files under objects/; tmp/ leftovers; a wrong
 * key; a store in use. Each names the layer, path and object it expects, and the return
 * value. In every test fsck writes nothing: every file and directory of the store (mode, size,
 * mtime, ctime, inode, SHA-256) is the same after it as before. Every store lives in a
 * temporary directory under /tmp. */
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
#include <cmocka.h>
#include "store-helpers.h"
#include <openssl/evp.h>
#include "store/fsck.h"
#include "store/layer.h"
#include "store/store.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/hex.h"
#include "util/le.h"
#include "util/strv.h"
#include "tmproot.h"

#define DIFF_A "sha256:aaaa000000000000000000000000000000000000000000000000000000000001"
#define DIFF_B "sha256:bbbb000000000000000000000000000000000000000000000000000000000002"
/* A file of four chunks (64 KiB each), the last one short. */
#define BIG_LEN (3 * 65536 + 100)

static const uint8_t key1[32] = "store-fsck-test-key-0123456789a";
static const uint8_t key2[32] = "store-fsck-test-key-0123456789b";

static unsigned seq;

static char *new_root(void)
{
	return xasprintf("%s/store-%u", root, seq++);
}

static struct store *open_store(const char *dir, bool create)
{
	struct store *s = NULL;
	struct cc_error *err = NULL;
	ok(store_open(dir, key1, create, &s, &err), &err);
	return s;
}

static struct store_attr attr(uint8_t type, uint32_t mode, int64_t mtime)
{
	return (struct store_attr){
		.type = type, .mode = mode, .uid = 1, .gid = 2, .mtime_sec = mtime
	};
}

static void put_file(struct store_layer_writer *w, const char *path, const struct store_attr *a,
		     const uint8_t *data, size_t len)
{
	struct cc_error *err = NULL;
	ok(store_layer_file_begin(w, path, a, &err), &err);
	for (size_t off = 0; off < len; off += 50000) {
		size_t n = len - off < 50000 ? len - off : 50000;
		ok(store_layer_file_write(w, data + off, n, &err), &err);
	}
	ok(store_layer_file_end(w, &err), &err);
}

static void put_text(struct store_layer_writer *w, const char *path, const char *text)
{
	struct store_attr a = attr(STORE_TYPE_REG, 0644, 1000);
	put_file(w, path, &a, (const uint8_t *)text, strlen(text));
}

/* ---- the store on the host, before and after ---- */

static void sha256_hex(const char *path, char out[65])
{
	size_t len = 0;
	struct cc_error *err = NULL;
	_cleanup_free_ char *buf = cc_read_file(path, 1 << 26, &len, &err);
	uint8_t md[32];
	unsigned mdlen = 0;
	if (!buf)
		fail_msg("%s", err->msg);
	assert_int_equal(EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL), 1);
	cc_hex_encode(md, 32, out);
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* One line per file and directory below base/rel: name, mode, size, mtime, ctime, inode and a
 * regular file's SHA-256. */
static void snap_at(const char *base, const char *rel, char ***out)
{
	_cleanup_free_ char *path = *rel ? xasprintf("%s/%s", base, rel) : xstrdup(base);
	DIR *d = opendir(path);
	struct dirent *de;
	assert_non_null(d);
	while ((de = readdir(d))) {
		struct stat st;
		char hash[65] = "-";
		_cleanup_free_ char *sub = NULL, *full = NULL, *line = NULL;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		sub = *rel ? xasprintf("%s/%s", rel, de->d_name) : xstrdup(de->d_name);
		full = xasprintf("%s/%s", base, sub);
		assert_int_equal(lstat(full, &st), 0);
		if (S_ISREG(st.st_mode))
			sha256_hex(full, hash);
		line = xasprintf("%s %o %lld %lld.%09ld %lld.%09ld %llu %s", sub, st.st_mode,
				 (long long)st.st_size, (long long)st.st_mtim.tv_sec,
				 st.st_mtim.tv_nsec, (long long)st.st_ctim.tv_sec,
				 st.st_ctim.tv_nsec, (unsigned long long)st.st_ino, hash);
		cc_strv_push(out, line);
		if (S_ISDIR(st.st_mode))
			snap_at(base, sub, out);
	}
	closedir(d);
}

static char *snapshot(const char *dir)
{
	_cleanup_strv_ char **v = xcalloc(1, sizeof(*v));
	struct stat st;
	assert_int_equal(stat(dir, &st), 0);
	snap_at(dir, "", &v);
	qsort(v, cc_strv_len(v), sizeof(*v), str_cmp);
	_cleanup_free_ char *body = cc_strv_join(v, "\n");
	return xasprintf(". %o %lld.%09ld\n%s", st.st_mode, (long long)st.st_mtim.tv_sec,
			 st.st_mtim.tv_nsec, body);
}

/* ---- running fsck ---- */

struct lines {
	char **v; /* "D text" for damage, "W text" for a warning */
};

static void collect(void *ctx, int severity, const char *text)
{
	struct lines *l = ctx;
	_cleanup_free_ char *line = NULL;
	assert_null(strchr(text, '\n'));
	assert_true(severity == STORE_FSCK_DAMAGE || severity == STORE_FSCK_WARNING);
	line = xasprintf("%c %s", severity == STORE_FSCK_DAMAGE ? 'D' : 'W', text);
	cc_strv_push(&l->v, line);
}

/* fsck of dir with key: its return value; the lines into *lines (cc_strv_free), the report
 * into *rep, the error (when -1) into *err. The store is the same after it as before. */
static int fsck_of(const char *dir, const uint8_t *key, struct store_fsck_report *rep,
		   char ***lines, struct cc_error **err)
{
	_cleanup_free_ char *before = snapshot(dir), *after = NULL;
	struct lines l = { xcalloc(1, sizeof(char *)) };
	int ret;

	memset(rep, 0x55, sizeof(*rep));
	ret = store_fsck(dir, key, collect, &l, rep, err);
	after = snapshot(dir);
	assert_string_equal(before, after);
	*lines = l.v;
	return ret;
}

static char *joined(char **lines)
{
	return cc_strv_join(lines, "\n");
}

/* fsck with key1 returns want; *rep and *lines (the caller frees) as fsck_of. */
static void run_fsck(const char *dir, int want, struct store_fsck_report *rep, char ***lines)
{
	struct cc_error *err = NULL;
	int ret = fsck_of(dir, key1, rep, lines, &err);
	if (ret < 0)
		fail_msg("fsck: %s", err->msg);
	if (ret != want) {
		_cleanup_free_ char *all = joined(*lines);
		fail_msg("fsck returned %d, want %d:\n%s", ret, want, all);
	}
}

/* Some line holds every fragment given (NULL-terminated). */
static void expect_line(char **lines, ...)
{
	for (size_t i = 0; lines[i]; i++) {
		va_list ap;
		const char *frag;
		bool all = true;
		va_start(ap, lines);
		while ((frag = va_arg(ap, const char *)))
			if (!strstr(lines[i], frag))
				all = false;
		va_end(ap);
		if (all)
			return;
	}
	_cleanup_free_ char *got = joined(lines);
	fail_msg("no such line in:\n%s", got);
}

/* No line holds frag. */
static void expect_no_line(char **lines, const char *frag)
{
	for (size_t i = 0; lines[i]; i++)
		if (strstr(lines[i], frag))
			fail_msg("unexpected line: %s", lines[i]);
}

/* ---- layers ---- */

/* Every entry kind: directories with attributes and xattrs (in the header, and spilled), an
 * opaque one, files (empty, one byte, several chunks), links, a file with three names,
 * devices, a fifo, whiteouts. */
static void full_layer(struct store *s, const char *diff_id, unsigned seed)
{
	struct store_layer_writer *w = NULL;
	struct cc_error *err = NULL;
	_cleanup_free_ uint8_t *big = pattern(BIG_LEN, seed);
	_cleanup_free_ uint8_t *huge_value = pattern(5000, seed + 1);
	struct store_xattr small_x[] = { { "user.a", (const uint8_t *)"1", 1 } };
	struct store_xattr big_x[] = { { "trusted.big", huge_value, 5000 } };
	struct store_attr a;

	ok(store_layer_begin(s, diff_id, &w, &err), &err);
	a = attr(STORE_TYPE_DIR, 0755, 7);
	ok(store_layer_mkdir(w, "", &a, &err), &err);
	a = attr(STORE_TYPE_DIR, 0700, 8);
	a.xattrs = small_x;
	a.n_xattrs = 1;
	ok(store_layer_mkdir(w, "etc", &a, &err), &err);
	put_text(w, "etc/passwd", "root:x:0:0::/root:/bin/sh\n");
	a = attr(STORE_TYPE_REG, 0600, 9);
	put_file(w, "etc/empty", &a, NULL, 0);
	a.xattrs = big_x;
	a.n_xattrs = 1;
	put_file(w, "usr/bin/one", &a, (const uint8_t *)"1", 1);
	a = attr(STORE_TYPE_REG, 04755, 10);
	put_file(w, "usr/bin/big", &a, big, BIG_LEN);
	ok(store_layer_hardlink(w, "usr/bin/big2", "usr/bin/big", &err), &err);
	ok(store_layer_hardlink(w, "big3", "usr/bin/big", &err), &err);
	a = attr(STORE_TYPE_SYMLINK, 0777, 11);
	ok(store_layer_symlink(w, "usr/bin/sh", "big", &a, &err), &err);
	ok(store_layer_symlink(w, "etc/rel", "../usr/bin/one", &a, &err), &err);
	a = attr(STORE_TYPE_FIFO, 0620, 12);
	ok(store_layer_node(w, "dev/pipe", &a, &err), &err);
	a = attr(STORE_TYPE_CHR, 0666, 13);
	a.rdev = makedev(1, 3);
	ok(store_layer_node(w, "dev/null", &a, &err), &err);
	a = attr(STORE_TYPE_BLK, 0660, 14);
	a.rdev = makedev(8, 1);
	ok(store_layer_node(w, "dev/sda1", &a, &err), &err);
	ok(store_layer_whiteout(w, "gone", &err), &err);
	ok(store_layer_whiteout(w, "etc/gone", &err), &err);
	ok(store_layer_opaque(w, "opq", &err), &err);
	put_text(w, "opq/in", "in opaque");
	a = attr(STORE_TYPE_DIR, 01777, 15);
	a.xattrs = big_x;
	a.n_xattrs = 1;
	ok(store_layer_mkdir(w, "tmp", &a, &err), &err);
	ok(store_layer_commit(w, &err), &err);
}

/* A smaller layer for the damage cases: etc/file, etc/other (also named hl), d1/x,
 * d1/sub/z, d2/y and big (four chunks). */
static void small_layer(struct store *s, const char *diff_id, const char *content)
{
	struct store_layer_writer *w = NULL;
	struct cc_error *err = NULL;
	struct store_attr a = attr(STORE_TYPE_REG, 0644, 5);
	_cleanup_free_ uint8_t *big = pattern(BIG_LEN, 3);

	ok(store_layer_begin(s, diff_id, &w, &err), &err);
	put_text(w, "etc/file", content);
	put_text(w, "etc/other", "other");
	ok(store_layer_hardlink(w, "hl", "etc/other", &err), &err);
	put_text(w, "d1/x", "in d1");
	put_text(w, "d1/sub/z", "deep in d1");
	put_text(w, "d2/y", "in d2");
	put_file(w, "big", &a, big, BIG_LEN);
	ok(store_layer_commit(w, &err), &err);
}

/* A store of DIFF_A and DIFF_B (small layers with the same paths), closed. */
static char *two_small_layers(void)
{
	char *dir = new_root();
	struct store *s = open_store(dir, true);
	small_layer(s, DIFF_A, "content of A");
	small_layer(s, DIFF_B, "content of B");
	store_close(s);
	return dir;
}

static void inode_of(struct store *s, const char *diff_id, const char *path, uint8_t id[16])
{
	struct store_layer_reader *r = NULL;
	struct store_inode *ino = NULL;
	struct cc_error *err = NULL;
	ok(store_layer_open(s, diff_id, &r, &err), &err);
	int ret = store_layer_lookup_path(r, path, &ino, &err);
	ok(ret, &err);
	assert_int_equal(ret, STORE_FOUND);
	memcpy(id, store_layer_inode_id(ino), 16);
	store_layer_close(r);
}

/* The host file of the object that path names in layer diff_id of the (closed) store at dir;
 * its short name (16 hex) into name. */
static char *object_of(const char *dir, const char *diff_id, const char *path, char name[17])
{
	struct store *s = open_store(dir, false);
	uint8_t id[16];
	char hex[33];
	inode_of(s, diff_id, path, id);
	store_close(s);
	cc_hex_encode(id, 16, hex);
	if (name)
		cc_hex_encode(id, 8, name);
	return xasprintf("%s/objects/%.2s/%s", dir, hex, hex + 2);
}

static void flip(const char *path, off_t off)
{
	int fd = open(path, O_RDWR);
	uint8_t b;
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &b, 1, off), 1);
	b ^= 0x04;
	assert_int_equal(pwrite(fd, &b, 1, off), 1);
	close(fd);
}

static off_t file_size(const char *path)
{
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	return st.st_size;
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

/* The number of host files under dir/objects, and the sum of their content sizes (each
 * opened with the key, without expectations). */
static void count_objects(const char *dir, size_t *n, uint64_t *bytes)
{
	_cleanup_free_ char *objects = xasprintf("%s/objects", dir);
	_cleanup_strv_ char **v = xcalloc(1, sizeof(*v));
	struct store_pf_key *key = store_pf_key_new(key1);

	snap_at(objects, "", &v);
	*n = 0;
	*bytes = 0;
	for (size_t i = 0; v[i]; i++) {
		_cleanup_free_ char *rel = xstrndup(v[i], strcspn(v[i], " "));
		_cleanup_free_ char *full = xasprintf("%s/%s", objects, rel);
		struct store_pf_reader *r = NULL;
		struct cc_error *err = NULL;
		struct store_pf_io io;
		int fd;
		if (strlen(rel) != 33)
			continue; /* a directory of objects */
		fd = open(full, O_RDONLY);
		assert_true(fd >= 0);
		io = store_pf_io_fd(fd);
		ok(store_pf_open(key, &io, NULL, NULL, &r, &err), &err);
		*bytes += store_pf_size(r);
		(*n)++;
		store_pf_reader_free(r);
		close(fd);
	}
	store_pf_key_free(key);
}

/* ---- clean ---- */

static void test_clean(void **state)
{
	_cleanup_free_ char *dir = new_root();
	struct store *s = open_store(dir, true);
	struct store_fsck_report rep;
	_cleanup_strv_ char **lines = NULL;
	size_t n;
	uint64_t bytes;

	full_layer(s, DIFF_A, 1);
	full_layer(s, DIFF_B, 2);
	store_close(s);
	run_fsck(dir, 0, &rep, &lines);
	assert_int_equal(cc_strv_len(lines), 0);
	assert_int_equal(rep.layers, 2);
	assert_int_equal(rep.damaged, 0);
	assert_int_equal(rep.unreferenced, 0);
	assert_int_equal(rep.leftovers, 0);
	assert_int_equal(rep.strays, 0);
	/* Every object is reached, and verified once (the file with three names too). */
	count_objects(dir, &n, &bytes);
	assert_int_equal(rep.objects_checked, n);
	assert_int_equal(rep.bytes_checked, bytes);
	/* Per layer: 7 directories (the root, etc, usr, usr/bin, dev, opq, tmp), 10 other inodes
	 * (passwd, empty, one, big with its three names, sh, rel, pipe, null, sda1, opq/in), 2
	 * spilled xattrs (one's, tmp's) and the record; then the index. */
	assert_int_equal(n, 2 * (7 + 10 + 2 + 1) + 1);
	assert_true(bytes > 2 * BIG_LEN);

	/* An empty store is whole too. */
	_cleanup_free_ char *dir2 = new_root();
	store_close(open_store(dir2, true));
	_cleanup_strv_ char **lines2 = NULL;
	run_fsck(dir2, 0, &rep, &lines2);
	assert_int_equal(rep.layers, 0);
	assert_int_equal(rep.objects_checked, 1);
	assert_int_equal(rep.damaged + rep.unreferenced + rep.leftovers + rep.strays, 0);
}

/* ---- damage ---- */

/* fsck of dir finds damage: one damage line (the rest are not-reached warnings, when given),
 * naming DIFF_A (never DIFF_B) and each fragment. */
static void expect_one_damage(const char *dir, size_t unreached, ...)
{
	struct store_fsck_report rep;
	_cleanup_strv_ char **lines = NULL;
	va_list ap;
	const char *frag;

	run_fsck(dir, 1, &rep, &lines);
	assert_int_equal(rep.layers, 2);
	assert_int_equal(rep.damaged, 1);
	assert_int_equal(rep.unreferenced, unreached);
	assert_int_equal(cc_strv_len(lines), 1 + unreached);
	expect_no_line(lines, DIFF_B);
	va_start(ap, unreached);
	while ((frag = va_arg(ap, const char *))) {
		bool found = false;
		for (size_t i = 0; lines[i]; i++)
			found |= lines[i][0] == 'D' && strstr(lines[i], frag) != NULL;
		if (!found) {
			_cleanup_free_ char *all = joined(lines);
			fail_msg("no damage line with \"%s\" in:\n%s", frag, all);
		}
	}
	va_end(ap);
}

static void test_flip_chunk(void **state)
{
	_cleanup_free_ char *dir = two_small_layers();
	char name[17];
	_cleanup_free_ char *p = object_of(dir, DIFF_A, "big", name);
	_cleanup_free_ char *frag = xasprintf("D layer " DIFF_A ": big: object %s: chunk 2: "
					      "does not authenticate",
					      name);

	flip(p, 4096 + 2 * 65536 + 1000);
	expect_one_damage(dir, 0, frag, NULL);
}

static void test_flip_tree_node(void **state)
{
	_cleanup_free_ char *dir = two_small_layers();
	char name[17];
	_cleanup_free_ char *p = object_of(dir, DIFF_A, "big", name);
	_cleanup_free_ char *frag =
	    xasprintf("D layer " DIFF_A ": big: object %s: tree level 0 node 0: does not "
		      "authenticate",
		      name);

	/* Four chunks: one node of four entries, the root, at the end of the host file. */
	flip(p, file_size(p) - 4 * 32 + 40);
	expect_one_damage(dir, 0, frag, NULL);
}

static void test_flip_header(void **state)
{
	_cleanup_free_ char *dir = two_small_layers();
	char name[17];
	_cleanup_free_ char *p = object_of(dir, DIFF_A, "etc/file", name);
	_cleanup_free_ char *frag =
	    xasprintf("D layer " DIFF_A ": etc/file: object %s: wrong store "
		      "key or damaged header",
		      name);

	flip(p, 200); /* in the encrypted body */
	expect_one_damage(dir, 0, frag, NULL);
}

/* A damaged directory is reported once; what is below it is not walked, and shows as not
 * reached. */
static void test_flip_directory(void **state)
{
	_cleanup_free_ char *dir = two_small_layers();
	char name[17];
	_cleanup_free_ char *p = object_of(dir, DIFF_A, "d1", name);
	_cleanup_free_ char *frag =
	    xasprintf("D layer " DIFF_A ": d1: object %s: chunk 0: does not authenticate", name);
	struct store_fsck_report rep;
	_cleanup_strv_ char **lines = NULL;

	flip(p, 4096 + 3);
	/* d1/x, d1/sub and d1/sub/z. */
	expect_one_damage(dir, 3, frag, NULL);
	run_fsck(dir, 1, &rep, &lines);
	expect_no_line(lines, "d1/");
	expect_line(lines, "W object ", ": not reached: unreferenced, or below damage", NULL);
}

static void test_swap_chunks(void **state)
{
	_cleanup_free_ char *dir = two_small_layers();
	char name[17];
	_cleanup_free_ char *p = object_of(dir, DIFF_A, "big", name);
	_cleanup_free_ char *frag =
	    xasprintf("D layer " DIFF_A ": big: object %s: chunk 0: does not authenticate", name);
	_cleanup_free_ uint8_t *c0 = xmalloc(65536), *c1 = xmalloc(65536);
	int fd = open(p, O_RDWR);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, c0, 65536, 4096), 65536);
	assert_int_equal(pread(fd, c1, 65536, 4096 + 65536), 65536);
	assert_int_equal(pwrite(fd, c1, 65536, 4096), 65536);
	assert_int_equal(pwrite(fd, c0, 65536, 4096 + 65536), 65536);
	close(fd);
	expect_one_damage(dir, 0, frag, NULL);
}

/* Two files' objects swapped by renames on the host: both names fail, the hard link (another
 * name of etc/other) is verified once. */
static void test_swap_objects(void **state)
{
	_cleanup_free_ char *dir = two_small_layers();
	char na[17], nb[17];
	_cleanup_free_ char *pa = object_of(dir, DIFF_A, "etc/file", na);
	_cleanup_free_ char *pb = object_of(dir, DIFF_A, "etc/other", nb);
	_cleanup_free_ char *swap = xasprintf("%s/swap", root);
	_cleanup_free_ char *fa = xasprintf("D layer " DIFF_A ": etc/file: object %s: id is ", na);
	_cleanup_free_ char *fb = xasprintf("D layer " DIFF_A ": etc/other: object %s: id is ", nb);
	struct store_fsck_report rep;
	_cleanup_strv_ char **lines = NULL;

	assert_int_equal(rename(pa, swap), 0);
	assert_int_equal(rename(pb, pa), 0);
	assert_int_equal(rename(swap, pb), 0);
	run_fsck(dir, 1, &rep, &lines);
	assert_int_equal(rep.damaged, 2);
	assert_int_equal(cc_strv_len(lines), 2);
	expect_line(lines, fa, NULL);
	expect_line(lines, fb, NULL);
	expect_no_line(lines, "hl");
	expect_no_line(lines, DIFF_B);
}

/* An entry renamed on the host: one object moved over another's name. */
static void test_renamed_entry(void **state)
{
	_cleanup_free_ char *dir = two_small_layers();
	char na[17], nb[17];
	_cleanup_free_ char *pa = object_of(dir, DIFF_A, "etc/file", na);
	_cleanup_free_ char *pb = object_of(dir, DIFF_A, "etc/other", nb);
	_cleanup_free_ char *fa =
	    xasprintf("D layer " DIFF_A ": etc/file: object %s: missing from the store", na);
	_cleanup_free_ char *fb = xasprintf("D layer " DIFF_A ": etc/other: object %s: id is ", nb);
	struct store_fsck_report rep;
	_cleanup_strv_ char **lines = NULL;

	assert_int_equal(rename(pa, pb), 0);
	run_fsck(dir, 1, &rep, &lines);
	assert_int_equal(rep.damaged, 2);
	assert_int_equal(rep.unreferenced, 0);
	expect_line(lines, fa, NULL);
	expect_line(lines, fb, NULL);
}

static void test_truncated(void **state)
{
	_cleanup_free_ char *dir = two_small_layers();
	char name[17];
	_cleanup_free_ char *p = object_of(dir, DIFF_A, "big", name);
	off_t size = file_size(p);
	_cleanup_free_ char *frag = xasprintf("D layer " DIFF_A ": big: object %s: host file is "
					      "%lld bytes, the layout needs %lld",
					      name, (long long)size - 1000, (long long)size);

	assert_int_equal(truncate(p, size - 1000), 0);
	expect_one_damage(dir, 0, frag, NULL);
}

static void test_missing(void **state)
{
	_cleanup_free_ char *dir = two_small_layers();
	char name[17];
	_cleanup_free_ char *p = object_of(dir, DIFF_A, "d1/sub/z", name);
	_cleanup_free_ char *frag =
	    xasprintf("D layer " DIFF_A ": d1/sub/z: object %s: missing from the store", name);

	assert_int_equal(unlink(p), 0);
	expect_one_damage(dir, 0, frag, NULL);
}

/* Names are shown on one line: bytes that are not printable ASCII, and '\\', as \\xNN. */
static void test_odd_name(void **state)
{
	_cleanup_free_ char *dir = new_root();
	struct store *s = open_store(dir, true);
	struct store_layer_writer *w = NULL;
	struct cc_error *err = NULL;
	char name[17];
	struct store_fsck_report rep;
	_cleanup_strv_ char **lines = NULL;

	ok(store_layer_begin(s, DIFF_A, &w, &err), &err);
	put_text(w, "dir\n/f\\x\x7f", "odd");
	ok(store_layer_commit(w, &err), &err);
	store_close(s);
	_cleanup_free_ char *p = object_of(dir, DIFF_A, "dir\n/f\\x\x7f", name);
	_cleanup_free_ char *frag = xasprintf(
	    "D layer " DIFF_A ": dir\\x0a/f\\x5cx\\x7f: object %s: missing from the store", name);
	assert_int_equal(unlink(p), 0);
	run_fsck(dir, 1, &rep, &lines);
	assert_int_equal(cc_strv_len(lines), 1);
	expect_line(lines, frag, NULL);
}

/* ---- forging with the key: what only a key holder could write ---- */

static uint8_t *read_object(struct store *s, const uint8_t *id, const uint8_t *mac, size_t *len)
{
	struct store_object *o = NULL;
	struct cc_error *err = NULL;
	uint8_t *buf;
	ok(store_object_open(s, id, mac, &o, &err), &err);
	buf = store_object_read_all(o, 1 << 26, len, &err);
	if (!buf)
		fail_msg("%s", err->msg);
	store_object_close(o);
	return buf;
}

/* A new version of object (id, mac): the same id and attributes, content buf; its root MAC
 * into new_mac. */
static void rewrite_object(struct store *s, const uint8_t *id, const uint8_t *mac,
			   const uint8_t *buf, size_t len, uint8_t new_mac[16])
{
	struct store_object *o = NULL;
	struct store_object_writer *w = NULL;
	struct cc_error *err = NULL;
	uint8_t attrs[STORE_PF_ATTR_MAX];
	size_t alen;
	const void *a;

	ok(store_object_open(s, id, mac, &o, &err), &err);
	a = store_pf_attributes(store_object_reader(o), &alen);
	memcpy(attrs, a, alen);
	store_object_close(o);
	ok(store_object_create(s, id, attrs, alen, &w, &err), &err);
	ok(store_object_write(w, buf, len, &err), &err);
	ok(store_object_commit(w, NULL, new_mac, &err), &err);
	store_object_writer_free(w);
}

/* The entry name in a directory's content. */
static struct store_dir_entry find_entry(uint8_t *buf, size_t len, const char *name)
{
	_cleanup_free_ struct store_dir_entry *ents = NULL;
	struct cc_error *err = NULL;
	size_t n = 0;
	ok(store_dir_parse(buf, len, &ents, &n, &err), &err);
	for (size_t i = 0; i < n; i++)
		if (ents[i].name_len == strlen(name) &&
		    !memcmp(ents[i].name, name, ents[i].name_len))
			return ents[i];
	fail_msg("no entry %s", name);
	return ents[0];
}

/*
 * A new version of the layer's directory d1 (a child of the root): its content edited by edit
 * (when given), written under its id, then the root and the record under theirs, and the
 * index: a consistent layer again, as only a key holder can make it.
 */
static void forge_d1(struct store *s, const char *diff_id, void (*edit)(uint8_t *, size_t))
{
	uint8_t rid[16], rmac[16], mac1[16], rootmac[16];
	struct cc_error *err = NULL;
	size_t rlen, rootlen, d1len;

	ok(store_layer_ref(s, diff_id, rid, rmac, &err), &err);
	_cleanup_free_ uint8_t *rec = read_object(s, rid, rmac, &rlen);
	_cleanup_free_ uint8_t *rootbuf = read_object(s, rec + 4, rec + 20, &rootlen);
	struct store_dir_entry e = find_entry(rootbuf, rootlen, "d1");
	_cleanup_free_ uint8_t *d1 = read_object(s, e.id, e.mac, &d1len);
	if (edit)
		edit(d1, d1len);
	rewrite_object(s, e.id, e.mac, d1, d1len, mac1);
	memcpy((uint8_t *)e.mac, mac1, 16);
	rewrite_object(s, rec + 4, rec + 20, rootbuf, rootlen, rootmac);
	memcpy(rec + 20, rootmac, 16);
	ok(store_remove_layer(s, diff_id, &err), &err);
	ok(store_index_add(s, diff_id, rec, rlen, rmac, &err), &err);
}

/* An older version of a directory object put back: refused by the root MAC its parent holds. */
static void test_rollback(void **state)
{
	_cleanup_free_ char *dir = two_small_layers();
	char name[17];
	_cleanup_free_ char *p = object_of(dir, DIFF_A, "d1", name);
	_cleanup_free_ char *old = xasprintf("%s/old-d1", root);
	_cleanup_free_ char *frag =
	    xasprintf("D layer " DIFF_A ": d1: object %s: root MAC does not match", name);
	struct store_fsck_report rep;
	_cleanup_strv_ char **lines = NULL;
	struct store *s;

	copy_file(p, old);
	s = open_store(dir, false);
	forge_d1(s, DIFF_A, NULL);
	store_close(s);
	/* The new version is whole; the old one is another file than the new. */
	run_fsck(dir, 0, &rep, &lines);
	assert_int_equal(cc_strv_len(lines), 0);
	_cleanup_free_ char *old_hash = xmalloc(65), *new_hash = xmalloc(65);
	sha256_hex(old, old_hash);
	sha256_hex(p, new_hash);
	assert_string_not_equal(old_hash, new_hash);

	copy_file(old, p);
	expect_one_damage(dir, 3, frag, NULL);
}

static void entry_x_says_symlink(uint8_t *buf, size_t len)
{
	struct store_dir_entry e = find_entry(buf, len, "x");
	((uint8_t *)e.name)[e.name_len + 1] = STORE_TYPE_SYMLINK;
}

/* A name whose type is not its object's. */
static void test_type_mismatch(void **state)
{
	_cleanup_free_ char *dir = two_small_layers();
	char name[17];
	_cleanup_free_ char *p = object_of(dir, DIFF_A, "d1/x", name);
	_cleanup_free_ char *frag = xasprintf("D layer " DIFF_A ": d1/x: object %s: the entry says "
					      "type 3, the object 1",
					      name);
	struct store *s = open_store(dir, false);

	forge_d1(s, DIFF_A, entry_x_says_symlink);
	store_close(s);
	expect_one_damage(dir, 0, frag, NULL);
}

/* A record whose hard link count is not the number of names. */
static void test_link_count(void **state)
{
	_cleanup_free_ char *dir = two_small_layers();
	char name[17];
	_cleanup_free_ char *p = object_of(dir, DIFF_A, "etc/other", name);
	_cleanup_free_ char *frag =
	    xasprintf("D layer " DIFF_A ": etc/other: object %s: the record "
		      "says 3 links, 2 names reach it",
		      name);
	struct store *s = open_store(dir, false);
	uint8_t rid[16], rmac[16];
	struct cc_error *err = NULL;
	size_t len;

	ok(store_layer_ref(s, DIFF_A, rid, rmac, &err), &err);
	_cleanup_free_ uint8_t *rec = read_object(s, rid, rmac, &len);
	/* One hard-linked object: etc/other, named twice. */
	assert_int_equal(len, 40 + 20);
	assert_int_equal(cc_le32(rec + 36), 1);
	assert_int_equal(cc_le32(rec + 56), 2);
	cc_put_le32(rec + 56, 3);
	ok(store_remove_layer(s, DIFF_A, &err), &err);
	ok(store_index_add(s, DIFF_A, rec, len, rmac, &err), &err);
	store_close(s);
	expect_one_damage(dir, 0, frag, NULL);

	/* No hard link in the record at all: both names reach it still. */
	s = open_store(dir, false);
	ok(store_layer_ref(s, DIFF_A, rid, rmac, &err), &err);
	cc_put_le32(rec + 36, 0);
	ok(store_remove_layer(s, DIFF_A, &err), &err);
	ok(store_index_add(s, DIFF_A, rec, 40, rmac, &err), &err);
	store_close(s);
	_cleanup_free_ char *frag2 = xasprintf("D layer " DIFF_A ": etc/other: object %s: 2 names "
					       "reach it, the record lists no hard link",
					       name);
	expect_one_damage(dir, 0, frag2, NULL);
}

/* An index naming DIFF_B's record for DIFF_A. */
static void test_record_id(void **state)
{
	_cleanup_free_ char *dir = two_small_layers();
	struct store *s = open_store(dir, false);
	uint8_t ra[16], rb[16], macb[16], id[16], mac[16], ptr[STORE_INDEX_PTR_LEN];
	struct store_object_writer *w = NULL;
	struct cc_error *err = NULL;
	uint64_t gen = store_generation(s);
	size_t dl = strlen(DIFF_A), off = 16, len = 16 + 2 * (2 + dl + 32);
	_cleanup_free_ uint8_t *index = xzalloc(len);
	char ha[33], hb[33];

	ok(store_layer_ref(s, DIFF_A, ra, mac, &err), &err);
	ok(store_layer_ref(s, DIFF_B, rb, macb, &err), &err);
	cc_put_le32(index, 1);
	cc_put_le64(index + 4, gen);
	cc_put_le32(index + 12, 2);
	for (int i = 0; i < 2; i++) {
		cc_put_le16(index + off, (uint16_t)dl);
		memcpy(index + off + 2, i ? DIFF_B : DIFF_A, dl);
		memcpy(index + off + 2 + dl, rb, 16);
		memcpy(index + off + 2 + dl + 16, macb, 16);
		off += 2 + dl + 32;
	}
	ok(store_object_create(s, NULL, NULL, 0, &w, &err), &err);
	ok(store_object_write(w, index, len, &err), &err);
	ok(store_object_commit(w, id, mac, &err), &err);
	store_object_writer_free(w);
	store_close(s);
	ok(store_index_ptr_seal(key1, gen, id, mac, ptr, &err), &err);
	_cleanup_free_ char *pp = xasprintf("%s/index", dir);
	ok(cc_write_file(pp, ptr, sizeof(ptr), 0600, &err), &err);

	cc_hex_encode(ra, 16, ha);
	cc_hex_encode(rb, 16, hb);
	_cleanup_free_ char *frag = xasprintf("D layer " DIFF_A ": the index names record %s, the "
					      "diff_id gives %s",
					      hb, ha);
	struct store_fsck_report rep;
	_cleanup_strv_ char **lines = NULL;
	run_fsck(dir, 1, &rep, &lines);
	assert_int_equal(rep.damaged, 1);
	expect_line(lines, frag, NULL);
	/* DIFF_A's own record and objects, and the index before: nothing reaches them. */
	expect_line(lines, "W object ", ": unreferenced (garbage collection removes it)", NULL);
	assert_int_equal(rep.unreferenced, 1 + 1 + 11);
}

/* A damaged index object: damage, and nothing can be called unreferenced. */
static void test_index_damaged(void **state)
{
	_cleanup_free_ char *dir = two_small_layers();
	_cleanup_free_ char *pp = xasprintf("%s/index", dir);
	size_t len = 0;
	struct cc_error *err = NULL;
	_cleanup_free_ char *ptr = cc_read_file(pp, 100, &len, &err);
	uint8_t id[16], mac[16];
	uint64_t gen;
	char hex[33];
	struct store_fsck_report rep;
	_cleanup_strv_ char **lines = NULL;

	assert_non_null(ptr);
	ok(store_index_ptr_open(key1, ptr, len, &gen, id, mac, &err), &err);
	cc_hex_encode(id, 16, hex);
	_cleanup_free_ char *p = xasprintf("%s/objects/%.2s/%s", dir, hex, hex + 2);
	flip(p, 4096 + 20);
	/* What lies on the host is still reported. */
	_cleanup_free_ char *junk = xasprintf("%s/tmp/leftover", dir);
	ok(cc_write_file(junk, "x", 1, 0600, &err), &err);
	run_fsck(dir, 1, &rep, &lines);
	assert_int_equal(rep.damaged, 1);
	assert_int_equal(rep.unreferenced, 0);
	assert_int_equal(rep.leftovers, 1);
	assert_int_equal(rep.layers, 0);
	assert_int_equal(cc_strv_len(lines), 2);
	expect_line(lines, "W tmp/leftover: ", NULL);
	hex[16] = 0;
	expect_line(lines, "D store ", ": index: object ", hex, ": chunk 0: does not authenticate",
		    NULL);
}

/* ---- warnings: the store is whole ---- */

static void test_unreferenced(void **state)
{
	_cleanup_free_ char *dir = two_small_layers();
	struct store *s = open_store(dir, false);
	struct store_object_writer *w = NULL;
	struct cc_error *err = NULL;
	uint8_t id[16];
	char name[17];
	struct store_fsck_report rep;
	_cleanup_strv_ char **lines = NULL;

	ok(store_object_create(s, NULL, NULL, 0, &w, &err), &err);
	ok(store_object_write(w, "orphan", 6, &err), &err);
	ok(store_object_commit(w, id, NULL, &err), &err);
	store_object_writer_free(w);
	store_close(s);
	cc_hex_encode(id, 8, name);
	_cleanup_free_ char *frag =
	    xasprintf("W object %s: unreferenced (garbage collection removes it)", name);
	run_fsck(dir, 0, &rep, &lines);
	assert_int_equal(rep.damaged, 0);
	assert_int_equal(rep.unreferenced, 1);
	assert_int_equal(cc_strv_len(lines), 1);
	expect_line(lines, frag, NULL);
}

static void test_strays(void **state)
{
	_cleanup_free_ char *dir = two_small_layers();
	struct cc_error *err = NULL;
	struct store_fsck_report rep;
	_cleanup_strv_ char **lines = NULL;
	const char *files[] = { "objects/README", "objects/zz", "objects/ab/short",
				"objects/ab/0123456789ABCDEF0123456789abcd" };
	_cleanup_free_ char *ab = xasprintf("%s/objects/ab", dir);
	_cleanup_free_ char *sub = xasprintf("%s/objects/ab/0123456789abcdef0123456789abcd", dir);

	if (mkdir(ab, 0700) < 0)
		assert_int_equal(errno, EEXIST);
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		_cleanup_free_ char *p = xasprintf("%s/%s", dir, files[i]);
		ok(cc_write_file(p, "junk", 4, 0600, &err), &err);
	}
	/* A name that is an object's, but a directory. */
	assert_int_equal(mkdir(sub, 0700), 0);
	run_fsck(dir, 0, &rep, &lines);
	assert_int_equal(rep.strays, 5);
	assert_int_equal(rep.unreferenced, 0);
	assert_int_equal(rep.damaged, 0);
	expect_line(lines, "W objects/README: ", NULL);
	expect_line(lines, "W objects/zz: not a directory of objects", NULL);
	expect_line(lines, "W objects/ab/short: not an object's name", NULL);
	expect_line(lines, "W objects/ab/0123456789ABCDEF0123456789abcd: not an object's name",
		    NULL);
	expect_line(lines, "W objects/ab/0123456789abcdef0123456789abcd: not a regular file", NULL);
}

static void test_tmp_leftovers(void **state)
{
	_cleanup_free_ char *dir = two_small_layers();
	_cleanup_free_ char *junk = xasprintf("%s/tmp/0123456789abcdef0123456789abcdef", dir);
	_cleanup_free_ char *junkdir = xasprintf("%s/tmp/somedir", dir);
	struct cc_error *err = NULL;
	struct store_fsck_report rep;
	_cleanup_strv_ char **lines = NULL;

	ok(cc_write_file(junk, "half-written", 12, 0600, &err), &err);
	assert_int_equal(mkdir(junkdir, 0700), 0);
	run_fsck(dir, 0, &rep, &lines);
	assert_int_equal(rep.leftovers, 2);
	assert_int_equal(rep.damaged, 0);
	assert_int_equal(cc_strv_len(lines), 2);
	expect_line(lines, "W tmp/0123456789abcdef0123456789abcdef: left by an interrupted write",
		    NULL);
	expect_line(lines, "W tmp/somedir: ", NULL);
	/* fsck left them (the snapshot says so too); the store's own open removes them. */
	assert_true(cc_path_exists(junk));
	store_close(open_store(dir, false));
	assert_false(cc_path_exists(junk));
}

/* ---- fsck cannot run ---- */

static void test_wrong_key(void **state)
{
	_cleanup_free_ char *dir = two_small_layers();
	_cleanup_free_ char *junk = xasprintf("%s/tmp/leftover", dir);
	struct cc_error *err = NULL;
	struct store_fsck_report rep;
	_cleanup_strv_ char **lines = NULL;

	/* A leftover stays: a wrong key touches nothing, not even tmp/. */
	ok(cc_write_file(junk, "x", 1, 0600, &err), &err);
	assert_int_equal(fsck_of(dir, key2, &rep, &lines, &err), -1);
	assert_non_null(err);
	assert_int_equal(err->errnum, EIO);
	assert_non_null(strstr(err->msg, "wrong store key"));
	assert_null(strchr(err->msg, '\n'));
	cc_error_free(&err);
	assert_int_equal(cc_strv_len(lines), 0);
	assert_int_equal(rep.damaged + rep.objects_checked + rep.layers, 0);
	assert_true(cc_path_exists(junk));
}

static void test_not_a_store(void **state)
{
	_cleanup_free_ char *dir = two_small_layers();
	struct store *s = open_store(dir, false);
	struct cc_error *err = NULL;
	struct store_fsck_report rep;
	_cleanup_strv_ char **lines = NULL, **lines2 = NULL;

	/* In use: the lock is held. */
	assert_int_equal(fsck_of(dir, key1, &rep, &lines, &err), -1);
	assert_int_equal(err->errnum, EBUSY);
	cc_error_free(&err);
	store_close(s);
	/* A directory that is no store. */
	_cleanup_free_ char *empty = xasprintf("%s/objects/ab", dir);
	if (mkdir(empty, 0700) < 0)
		assert_int_equal(errno, EEXIST);
	assert_int_equal(fsck_of(empty, key1, &rep, &lines2, &err), -1);
	assert_non_null(err);
	cc_error_free(&err);
	assert_int_equal(store_fsck("/nonexistent/store", key1, NULL, NULL, NULL, &err), -1);
	assert_int_equal(err->errnum, ENOENT);
	cc_error_free(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clean),	       cmocka_unit_test(test_flip_chunk),
		cmocka_unit_test(test_flip_tree_node), cmocka_unit_test(test_flip_header),
		cmocka_unit_test(test_flip_directory), cmocka_unit_test(test_swap_chunks),
		cmocka_unit_test(test_swap_objects),   cmocka_unit_test(test_renamed_entry),
		cmocka_unit_test(test_truncated),      cmocka_unit_test(test_missing),
		cmocka_unit_test(test_odd_name),       cmocka_unit_test(test_rollback),
		cmocka_unit_test(test_type_mismatch),  cmocka_unit_test(test_link_count),
		cmocka_unit_test(test_record_id),      cmocka_unit_test(test_index_damaged),
		cmocka_unit_test(test_unreferenced),   cmocka_unit_test(test_strays),
		cmocka_unit_test(test_tmp_leftovers),  cmocka_unit_test(test_wrong_key),
		cmocka_unit_test(test_not_a_store),
	};
	return cmocka_run_group_tests(tests, tmproot_setup, tmproot_teardown);
}
