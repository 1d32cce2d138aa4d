// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for lib/image/unpack.c: tar streams are built in memory with libarchive's writer and
 * unpacked into a fresh directory /tmp/test-unpack-XXXXXX/root; its sibling "outside" holds a
 * canary file and an empty canary directory that malicious layers must never reach.
 * Ownership and device tests need root (they are skipped otherwise).
 */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <locale.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <cmocka.h>
#include "image/unpack.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/strv.h"

/* ---- tar builder ---- */

struct tarbuf {
	char *data;
	size_t len, cap;
	struct archive *a;
};

static la_ssize_t tb_write(struct archive *a, void *ctx, const void *buf, size_t n)
{
	struct tarbuf *tb = ctx;
	if (tb->len + n > tb->cap) {
		tb->cap = (tb->len + n) * 2;
		tb->data = xrealloc(tb->data, tb->cap);
	}
	memcpy(tb->data + tb->len, buf, n);
	tb->len += n;
	return (la_ssize_t)n;
}

static void tb_open(struct tarbuf *tb)
{
	memset(tb, 0, sizeof(*tb));
	tb->a = archive_write_new();
	assert_non_null(tb->a);
	assert_int_equal(archive_write_set_format_pax_restricted(tb->a), ARCHIVE_OK);
	assert_int_equal(archive_write_set_bytes_in_last_block(tb->a, 1), ARCHIVE_OK);
	assert_int_equal(archive_write_open(tb->a, tb, NULL, tb_write, NULL), ARCHIVE_OK);
}

static void tb_close(struct tarbuf *tb)
{
	assert_int_equal(archive_write_close(tb->a), ARCHIVE_OK);
	archive_write_free(tb->a);
	tb->a = NULL;
}

static void tb_free(struct tarbuf *tb)
{
	free(tb->data);
	tb->data = NULL;
}

struct ent {
	const char *name;
	mode_t type; /* AE_IFREG when 0 */
	mode_t mode; /* 0644 (0755 for directories) when 0 */
	const char *data;
	size_t size;	      /* strlen(data) when 0 */
	const char *link;     /* symlink target */
	const char *hardlink; /* hardlink target */
	int64_t uid, gid;
	time_t mtime; /* 1700000000 when 0 */
	unsigned maj, min;
	const char *xname[2];
	const char *xval[2];
	size_t xlen[2];
};

static void add(struct tarbuf *tb, const struct ent *x)
{
	struct archive_entry *e = archive_entry_new();
	mode_t type = x->type ? x->type : AE_IFREG;
	size_t size = x->data ? (x->size ? x->size : strlen(x->data)) : 0;

	archive_entry_set_pathname(e, x->name);
	if (x->hardlink) {
		archive_entry_set_hardlink(e, x->hardlink);
		type = AE_IFREG;
		size = 0;
	}
	archive_entry_set_filetype(e, type);
	archive_entry_set_perm(e, x->mode ? x->mode : type == AE_IFDIR ? 0755 : 0644);
	archive_entry_set_uid(e, x->uid);
	archive_entry_set_gid(e, x->gid);
	archive_entry_set_mtime(e, x->mtime ? x->mtime : 1700000000, 0);
	if (x->link)
		archive_entry_set_symlink(e, x->link);
	if (type == AE_IFCHR || type == AE_IFBLK) {
		archive_entry_set_rdevmajor(e, x->maj);
		archive_entry_set_rdevminor(e, x->min);
	}
	for (int i = 0; i < 2; i++)
		if (x->xname[i])
			archive_entry_xattr_add_entry(e, x->xname[i], x->xval[i], x->xlen[i]);
	archive_entry_set_size(e, (la_int64_t)size);
	assert_int_equal(archive_write_header(tb->a, e), ARCHIVE_OK);
	if (size)
		assert_int_equal(archive_write_data(tb->a, x->data, size), (la_ssize_t)size);
	archive_entry_free(e);
}

#define ADD(tb, ...) add(tb, &(const struct ent){ __VA_ARGS__ })

/* ---- reading side ---- */

struct memsrc {
	const char *p;
	size_t len, off;
	size_t fail_at; /* 0: never */
};

static ssize_t mem_read(void *ctx, void *buf, size_t len)
{
	struct memsrc *m = ctx;
	if (m->fail_at && m->off >= m->fail_at) {
		errno = EIO;
		return -1;
	}
	size_t n = m->len - m->off;
	if (n > len)
		n = len;
	if (n > 7000) /* odd chunks, to cross header and block boundaries */
		n = 7000;
	if (m->fail_at && m->off + n > m->fail_at)
		n = m->fail_at - m->off;
	memcpy(buf, m->p + m->off, n);
	m->off += n;
	return (ssize_t)n;
}

struct fx {
	char base[64];
	char root[96];
	char outside[96];
	int rootfd;
	struct img_unpack_stats stats;
	struct cc_error *err;
};

static int setup(void **state)
{
	struct fx *f = xzalloc(sizeof(*f));
	strcpy(f->base, "/tmp/test-unpack-XXXXXX");
	if (!mkdtemp(f->base))
		return -1;
	snprintf(f->root, sizeof(f->root), "%s/root", f->base);
	snprintf(f->outside, sizeof(f->outside), "%s/outside", f->base);
	if (mkdir(f->root, 0755) < 0 || mkdir(f->outside, 0755) < 0)
		return -1;
	char p[160];
	snprintf(p, sizeof(p), "%s/canary", f->outside);
	if (cc_write_file(p, "canary", 6, 0644, NULL) < 0)
		return -1;
	snprintf(p, sizeof(p), "%s/canary-dir", f->outside);
	if (mkdir(p, 0755) < 0)
		return -1;
	f->rootfd = open(f->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	*state = f;
	return f->rootfd < 0 ? -1 : 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	close(f->rootfd);
	cc_error_free(&f->err);
	int r = cc_rm_rf(f->base, NULL);
	free(f);
	return r;
}

static int unpack_opts(struct fx *f, struct tarbuf *tb, enum img_unpack_mode mode, bool rootless,
		       size_t fail_at)
{
	struct img_unpack_opts o = { .mode = mode, .rootless = rootless };
	struct memsrc m = { .p = tb->data, .len = tb->len, .fail_at = fail_at };
	cc_error_free(&f->err);
	memset(&f->stats, 0, sizeof(f->stats));
	int r = img_unpack(f->rootfd, mem_read, &m, &o, &f->stats, &f->err);
	if (r == 0)
		assert_null(f->err);
	else
		assert_non_null(f->err);
	return r;
}

/* Unpacks and frees the tar; must succeed. */
static void unpack_ok(struct fx *f, struct tarbuf *tb, enum img_unpack_mode mode)
{
	int r = unpack_opts(f, tb, mode, false, 0);
	if (r < 0)
		fail_msg("unpack failed: %s", f->err->msg);
	tb_free(tb);
}

/* Unpacks and frees the tar; must fail with a message containing `want`. */
static void unpack_fails(struct fx *f, struct tarbuf *tb, enum img_unpack_mode mode,
			 const char *want)
{
	int r = unpack_opts(f, tb, mode, false, 0);
	tb_free(tb);
	if (r == 0)
		fail_msg("unpack succeeded, expected an error with \"%s\"", want);
	if (!strstr(f->err->msg, want))
		fail_msg("error \"%s\" does not contain \"%s\"", f->err->msg, want);
}

/* Path of `rel` inside the root (rotating static buffers). */
static const char *rp(struct fx *f, const char *rel)
{
	static char bufs[4][PATH_MAX + 128];
	static int i;
	char *b = bufs[i++ % 4];
	snprintf(b, PATH_MAX + 128, "%s/%s", f->root, rel);
	return b;
}

static void assert_content(const char *path, const char *want, size_t len)
{
	struct stat st;
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_size, len);
	_cleanup_free_ char *got = cc_read_file(path, 0, NULL, NULL);
	assert_non_null(got);
	assert_memory_equal(got, want, len);
}

static bool exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

static size_t count_entries(const char *dir)
{
	_cleanup_closedir_ DIR *d = opendir(dir);
	size_t n = 0;
	struct dirent *de;
	assert_non_null(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	return n;
}

/* Nothing outside the root changed or appeared. */
static void assert_outside_intact(struct fx *f)
{
	char p[160];
	struct stat st;
	assert_int_equal(count_entries(f->base), 2); /* root, outside */
	assert_int_equal(count_entries(f->outside), 2);
	snprintf(p, sizeof(p), "%s/canary", f->outside);
	assert_content(p, "canary", 6);
	assert_int_equal(lstat(p, &st), 0);
	assert_int_equal(st.st_nlink, 1);
	assert_int_equal(st.st_mode & 07777, 0644);
	snprintf(p, sizeof(p), "%s/canary-dir", f->outside);
	assert_int_equal(count_entries(p), 0);
}

static bool need_root(void)
{
	return geteuid() == 0;
}

/* ---- tests: entry kinds and metadata ---- */

static void test_regular_files(void **state)
{
	struct fx *f = *state;
	struct tarbuf tb;
	size_t big = 300000;
	_cleanup_free_ char *data = xmalloc(big);
	for (size_t i = 0; i < big; i++)
		data[i] = (char)(i * 7 + i / 251);
	tb_open(&tb);
	ADD(&tb, .name = "hello", .data = "hello world\n");
	ADD(&tb, .name = "empty", .data = NULL);
	ADD(&tb, .name = "./dir/big", .data = data, .size = big);
	ADD(&tb, .name = "implicit/parents/x", .data = "x");
	tb_close(&tb);
	unpack_ok(f, &tb, IMG_UNPACK_APPLY);
	assert_content(rp(f, "hello"), "hello world\n", 12);
	assert_content(rp(f, "empty"), "", 0);
	assert_content(rp(f, "dir/big"), data, big);
	assert_content(rp(f, "implicit/parents/x"), "x", 1);
	assert_int_equal(f->stats.entries, 4);
	assert_int_equal(f->stats.bytes, 12 + big + 1);
	assert_int_equal(f->stats.skipped, 0);
}

/* Appends a raw ustar header block (and nothing else) to tb. */
static void raw_header(struct tarbuf *tb, const char *name, char type, size_t size)
{
	char h[512] = { 0 };
	unsigned sum = 0;
	snprintf(h, 100, "%s", name);
	snprintf(h + 100, 8, "%07o", 0644);
	snprintf(h + 108, 8, "%07o", 0);
	snprintf(h + 116, 8, "%07o", 0);
	snprintf(h + 124, 12, "%011zo", size);
	snprintf(h + 136, 12, "%011o", 1700000000);
	memset(h + 148, ' ', 8);
	h[156] = type;
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	for (size_t i = 0; i < sizeof(h); i++)
		sum += (unsigned char)h[i];
	snprintf(h + 148, 8, "%06o", sum);
	tb_write(NULL, tb, h, sizeof(h));
}

/* Appends data padded to 512 bytes. */
static void raw_data(struct tarbuf *tb, const void *data, size_t len)
{
	static const char zero[512];
	tb_write(NULL, tb, data, len);
	if (len % 512)
		tb_write(NULL, tb, zero, 512 - len % 512);
}

/* A sparse file ending with a hole (pax GNU.sparse 0.1, as GNU tar writes them): the hole is
 * kept, only the data is written. */
static void test_sparse_file(void **state)
{
	struct fx *f = *state;
	struct tarbuf tb = { 0 };
	struct stat st;
	char data[4096], pax[256];
	memset(data, 'D', sizeof(data));
	const char *recs[] = { "GNU.sparse.size=1048576", "GNU.sparse.numblocks=1",
			       "GNU.sparse.map=8192,4096" };
	size_t plen = 0;
	for (size_t i = 0; i < ARRAY_SIZE(recs); i++) {
		size_t l = strlen(recs[i]) + 2; /* ' ' and '\n' */
		size_t n = l + 2;		/* two-digit length */
		plen += (size_t)snprintf(pax + plen, sizeof(pax) - plen, "%zu %s\n", n, recs[i]);
	}
	raw_header(&tb, "PaxHeaders/sparse", 'x', plen);
	raw_data(&tb, pax, plen);
	raw_header(&tb, "sparse", '0', sizeof(data));
	raw_data(&tb, data, sizeof(data));
	static const char end[1024];
	tb_write(NULL, &tb, end, sizeof(end));
	unpack_ok(f, &tb, IMG_UNPACK_APPLY);
	assert_int_equal(lstat(rp(f, "sparse"), &st), 0);
	assert_int_equal(st.st_size, 1 << 20);
	_cleanup_free_ char *got = cc_read_file(rp(f, "sparse"), 0, NULL, NULL);
	assert_non_null(got);
	for (size_t i = 0; i < (1 << 20); i++)
		if (got[i] != (i >= 8192 && i < 8192 + sizeof(data) ? 'D' : '\0'))
			fail_msg("byte %zu: %d", i, got[i]);
	assert_int_equal(f->stats.bytes, sizeof(data));
	assert_true(st.st_blocks * 512 < (1 << 20));
}

/* A 1 TiB sparse file (pax GNU.sparse 0.1) with data at both ends and in the middle, and a
 * plain 16 MiB entry of zeros between two bytes: both take almost no space (blocks of zeros
 * are not written), and read back exactly. */
static void test_sparse_huge_and_zeros(void **state)
{
	struct fx *f = *state;
	struct tarbuf tb = { 0 };
	struct stat st;
	const off_t tib = (off_t)1 << 40;
	char data[3 * 4096], pax[512];
	memset(data, 'A', 4096);
	memset(data + 4096, 'B', 4096);
	memset(data + 8192, 'C', 4096);
	_cleanup_free_ char *size = xasprintf("GNU.sparse.size=%lld", (long long)tib);
	_cleanup_free_ char *map = xasprintf("GNU.sparse.map=0,4096,%lld,4096,%lld,4096",
					     (long long)(tib / 2), (long long)(tib - 4096));
	const char *recs[] = { size, "GNU.sparse.numblocks=3", map };
	size_t plen = 0;
	for (size_t i = 0; i < ARRAY_SIZE(recs); i++) {
		size_t l = strlen(recs[i]) + 2 + 2; /* ' ', '\n', a two-digit length */
		plen += (size_t)snprintf(pax + plen, sizeof(pax) - plen, "%zu %s\n", l, recs[i]);
	}
	raw_header(&tb, "PaxHeaders/huge", 'x', plen);
	raw_data(&tb, pax, plen);
	raw_header(&tb, "huge", '0', sizeof(data));
	raw_data(&tb, data, sizeof(data));
	size_t zlen = 16 << 20;
	_cleanup_free_ char *zeros = xzalloc(zlen);
	zeros[0] = 'x';
	zeros[zlen - 1] = 'y';
	raw_header(&tb, "zeros", '0', zlen);
	raw_data(&tb, zeros, zlen);
	static const char end[1024];
	tb_write(NULL, &tb, end, sizeof(end));
	unpack_ok(f, &tb, IMG_UNPACK_OVERLAY);

	assert_int_equal(lstat(rp(f, "huge"), &st), 0);
	assert_int_equal(st.st_size, tib);
	assert_true(st.st_blocks * 512 <= 256 << 10);
	_cleanup_close_ int fd = open(rp(f, "huge"), O_RDONLY);
	char buf[4096];
	const off_t offs[] = { 0, tib / 2, tib - 4096 };
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(pread(fd, buf, sizeof(buf), offs[i]), sizeof(buf));
		assert_memory_equal(buf, data + i * 4096, sizeof(buf));
	}
	assert_int_equal(pread(fd, buf, sizeof(buf), 4096), sizeof(buf));
	assert_true(buf[0] == 0 && !memcmp(buf, buf + 1, sizeof(buf) - 1));
	assert_int_equal(lstat(rp(f, "zeros"), &st), 0);
	assert_int_equal(st.st_size, zlen);
	assert_true(st.st_blocks * 512 <= 256 << 10);
	_cleanup_free_ char *got = cc_read_file(rp(f, "zeros"), 32 << 20, NULL, NULL);
	assert_non_null(got);
	assert_memory_equal(got, zeros, zlen);
}

static void test_modes_and_owners(void **state)
{
	struct fx *f = *state;
	struct tarbuf tb;
	struct stat st;
	if (!need_root())
		skip();
	tb_open(&tb);
	ADD(&tb, .name = "suid", .data = "x", .mode = 04755, .uid = 1234, .gid = 5678);
	ADD(&tb, .name = "sgid", .data = "x", .mode = 02711, .uid = 1, .gid = 2);
	ADD(&tb, .name = "private", .data = "x", .mode = 0600);
	ADD(&tb, .name = "sticky", .type = AE_IFDIR, .mode = 01777, .uid = 42, .gid = 43);
	ADD(&tb, .name = "sticky/child", .data = "x", .uid = 44);
	ADD(&tb, .name = "ro", .type = AE_IFDIR, .mode = 0555);
	ADD(&tb, .name = "ro/inside", .data = "x");
	ADD(&tb, .name = "lnk", .type = AE_IFLNK, .link = "suid", .uid = 77, .gid = 88);
	tb_close(&tb);
	unpack_ok(f, &tb, IMG_UNPACK_APPLY);

	assert_int_equal(lstat(rp(f, "suid"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 04755);
	assert_int_equal(st.st_uid, 1234);
	assert_int_equal(st.st_gid, 5678);
	assert_int_equal(lstat(rp(f, "sgid"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 02711);
	assert_int_equal(st.st_uid, 1);
	assert_int_equal(st.st_gid, 2);
	assert_int_equal(lstat(rp(f, "private"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(lstat(rp(f, "sticky"), &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 01777);
	assert_int_equal(st.st_uid, 42);
	assert_int_equal(st.st_gid, 43);
	assert_int_equal(lstat(rp(f, "sticky/child"), &st), 0);
	assert_int_equal(st.st_uid, 44);
	assert_int_equal(lstat(rp(f, "ro"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0555);
	assert_true(exists(rp(f, "ro/inside")));
	assert_int_equal(lstat(rp(f, "lnk"), &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_int_equal(st.st_uid, 77);
	assert_int_equal(st.st_gid, 88);
	/* The symlink's owner was set on the link, not on its target. */
	assert_int_equal(stat(rp(f, "lnk"), &st), 0);
	assert_int_equal(st.st_uid, 1234);
}

static void test_mtimes(void **state)
{
	struct fx *f = *state;
	struct tarbuf tb;
	struct stat st;
	tb_open(&tb);
	ADD(&tb, .name = "d", .type = AE_IFDIR, .mtime = 2000000);
	ADD(&tb, .name = "d/sub", .type = AE_IFDIR, .mtime = 2500000);
	ADD(&tb, .name = "d/f", .data = "x", .mtime = 1000000000);
	ADD(&tb, .name = "d/sub/g", .data = "y", .mtime = 1000000001);
	ADD(&tb, .name = "d/lnk", .type = AE_IFLNK, .link = "f", .mtime = 3000000);
	ADD(&tb, .name = "d/after", .data = "z", .mtime = 4000000);
	ADD(&tb, .name = ".", .type = AE_IFDIR, .mtime = 5000000);
	ADD(&tb, .name = "top", .data = "t");
	tb_close(&tb);
	unpack_ok(f, &tb, IMG_UNPACK_APPLY);

	assert_int_equal(lstat(rp(f, "d"), &st), 0);
	assert_int_equal(st.st_mtim.tv_sec, 2000000);
	assert_int_equal(lstat(rp(f, "d/sub"), &st), 0);
	assert_int_equal(st.st_mtim.tv_sec, 2500000);
	assert_int_equal(lstat(rp(f, "d/f"), &st), 0);
	assert_int_equal(st.st_mtim.tv_sec, 1000000000);
	assert_int_equal(lstat(rp(f, "d/sub/g"), &st), 0);
	assert_int_equal(st.st_mtim.tv_sec, 1000000001);
	assert_int_equal(lstat(rp(f, "d/lnk"), &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_int_equal(st.st_mtim.tv_sec, 3000000);
	assert_int_equal(lstat(rp(f, "d/after"), &st), 0);
	assert_int_equal(st.st_mtim.tv_sec, 4000000);
	/* The root entry's time too, although "top" was created after it. */
	assert_int_equal(lstat(f->root, &st), 0);
	assert_int_equal(st.st_mtim.tv_sec, 5000000);
}

static void test_symlinks_and_hardlinks(void **state)
{
	struct fx *f = *state;
	struct tarbuf tb;
	struct stat st1, st2;
	char buf[256];
	ssize_t n;
	tb_open(&tb);
	ADD(&tb, .name = "target/x", .data = "data");
	ADD(&tb, .name = "rel", .type = AE_IFLNK, .link = "target/x");
	ADD(&tb, .name = "abs", .type = AE_IFLNK, .link = "/etc/passwd");
	ADD(&tb, .name = "dangling", .type = AE_IFLNK, .link = "../../nowhere");
	ADD(&tb, .name = "hl", .hardlink = "target/x");
	ADD(&tb, .name = "sub/hl2", .hardlink = "/target/x");
	tb_close(&tb);
	unpack_ok(f, &tb, IMG_UNPACK_APPLY);

	n = readlink(rp(f, "rel"), buf, sizeof(buf));
	assert_int_equal(n, 8);
	assert_memory_equal(buf, "target/x", 8);
	n = readlink(rp(f, "abs"), buf, sizeof(buf));
	assert_int_equal(n, 11);
	assert_memory_equal(buf, "/etc/passwd", 11);
	n = readlink(rp(f, "dangling"), buf, sizeof(buf));
	assert_int_equal(n, 13);
	assert_memory_equal(buf, "../../nowhere", 13);

	assert_int_equal(lstat(rp(f, "target/x"), &st1), 0);
	assert_int_equal(lstat(rp(f, "hl"), &st2), 0);
	assert_int_equal(st1.st_ino, st2.st_ino);
	assert_int_equal(lstat(rp(f, "sub/hl2"), &st2), 0);
	assert_int_equal(st1.st_ino, st2.st_ino);
	assert_int_equal(st1.st_nlink, 3);
}

static void test_fifo_and_devices(void **state)
{
	struct fx *f = *state;
	struct tarbuf tb;
	struct stat st;
	if (!need_root())
		skip();
	tb_open(&tb);
	ADD(&tb, .name = "fifo", .type = AE_IFIFO, .mode = 0620, .mtime = 12345);
	ADD(&tb, .name = "null", .type = AE_IFCHR, .mode = 0666, .maj = 1, .min = 3, .uid = 5);
	ADD(&tb, .name = "blk", .type = AE_IFBLK, .mode = 0600, .maj = 7, .min = 0);
	tb_close(&tb);
	unpack_ok(f, &tb, IMG_UNPACK_APPLY);

	assert_int_equal(lstat(rp(f, "fifo"), &st), 0);
	assert_true(S_ISFIFO(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0620);
	assert_int_equal(st.st_mtim.tv_sec, 12345);
	assert_int_equal(lstat(rp(f, "null"), &st), 0);
	assert_true(S_ISCHR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0666);
	assert_int_equal(major(st.st_rdev), 1);
	assert_int_equal(minor(st.st_rdev), 3);
	assert_int_equal(st.st_uid, 5);
	assert_int_equal(lstat(rp(f, "blk"), &st), 0);
	assert_true(S_ISBLK(st.st_mode));
	assert_int_equal(major(st.st_rdev), 7);
}

static void test_rootless_skips_devices(void **state)
{
	struct fx *f = *state;
	struct tarbuf tb;
	struct stat st;
	tb_open(&tb);
	ADD(&tb, .name = "null", .type = AE_IFCHR, .maj = 1, .min = 3);
	ADD(&tb, .name = "fifo", .type = AE_IFIFO);
	ADD(&tb, .name = "file", .data = "x", .uid = 4242);
	tb_close(&tb);
	assert_int_equal(unpack_opts(f, &tb, IMG_UNPACK_APPLY, true, 0), 0);
	tb_free(&tb);
	assert_int_equal(f->stats.skipped, 1);
	assert_int_equal(f->stats.entries, 3);
	assert_false(exists(rp(f, "null")));
	assert_int_equal(lstat(rp(f, "fifo"), &st), 0);
	assert_true(S_ISFIFO(st.st_mode));
	assert_content(rp(f, "file"), "x", 1);
}

static void test_xattrs(void **state)
{
	struct fx *f = *state;
	struct tarbuf tb;
	char buf[64];
	/* VFS_CAP_REVISION_2, effective, permitted = CAP_NET_BIND_SERVICE (bit 10). */
	static const char cap[20] = { 0x01, 0x00, 0x00, 0x02, 0x00, 0x04 };
	if (!need_root())
		skip();
	tb_open(&tb);
	/* Owned by a non-root user: the capability must survive the chown. */
	ADD(&tb, .name = "ping", .data = "elf", .mode = 0755, .uid = 1000, .gid = 1000,
	    .xname = { "security.capability", "user.note" }, .xval = { cap, "hello" },
	    .xlen = { sizeof(cap), 5 });
	ADD(&tb, .name = "d", .type = AE_IFDIR, .xname = { "user.dir" }, .xval = { "1" },
	    .xlen = { 1 });
	/* A layer must not forge overlayfs metadata. */
	ADD(&tb, .name = "forged", .type = AE_IFDIR, .xname = { "trusted.overlay.opaque" },
	    .xval = { "y" }, .xlen = { 1 });
	tb_close(&tb);
	unpack_ok(f, &tb, IMG_UNPACK_APPLY);

	assert_int_equal(getxattr(rp(f, "ping"), "security.capability", buf, sizeof(buf)),
			 sizeof(cap));
	assert_memory_equal(buf, cap, sizeof(cap));
	assert_int_equal(getxattr(rp(f, "ping"), "user.note", buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(getxattr(rp(f, "d"), "user.dir", buf, sizeof(buf)), 1);
	assert_int_equal(getxattr(rp(f, "forged"), "trusted.overlay.opaque", buf, sizeof(buf)), -1);
	assert_int_equal(errno, ENODATA);
}

static void test_long_and_utf8_names(void **state)
{
	struct fx *f = *state;
	struct tarbuf tb;
	char dir1[80], dir2[100], name[300], link[300];
	char buf[400];
	struct stat st1, st2;
	memset(dir1, 'a', 60);
	dir1[60] = '\0';
	memset(dir2, 'b', 90);
	dir2[90] = '\0';
	snprintf(name, sizeof(name), "%s/%s/", dir1, dir2);
	memset(name + strlen(name), 'c', 120);
	name[60 + 1 + 90 + 1 + 120] = '\0';
	snprintf(link, sizeof(link), "../%s", name);
	assert_true(strlen(name) > 255);
	tb_open(&tb);
	ADD(&tb, .name = name, .data = "long");
	ADD(&tb, .name = "hl-long", .hardlink = name);
	ADD(&tb, .name = "sl/long", .type = AE_IFLNK, .link = link);
	ADD(&tb, .name = "h\xc3\xa9llo-\xe2\x82\xac/\xc3\xbcn\xc3\xaf.txt", .data = "utf8");
	tb_close(&tb);
	unpack_ok(f, &tb, IMG_UNPACK_APPLY);

	assert_content(rp(f, name), "long", 4);
	assert_int_equal(lstat(rp(f, name), &st1), 0);
	assert_int_equal(lstat(rp(f, "hl-long"), &st2), 0);
	assert_int_equal(st1.st_ino, st2.st_ino);
	ssize_t n = readlink(rp(f, "sl/long"), buf, sizeof(buf));
	assert_int_equal(n, strlen(link));
	assert_memory_equal(buf, link, (size_t)n);
	assert_content(rp(f, "h\xc3\xa9llo-\xe2\x82\xac/\xc3\xbcn\xc3\xaf.txt"), "utf8", 4);
}

/* ---- tests: whiteouts and replacing ---- */

static void test_overlay_whiteouts(void **state)
{
	struct fx *f = *state;
	struct tarbuf tb;
	struct stat st;
	char buf[8];
	if (!need_root())
		skip();
	tb_open(&tb);
	ADD(&tb, .name = "d", .type = AE_IFDIR);
	ADD(&tb, .name = "d/.wh..wh..opq");
	ADD(&tb, .name = "d/kept", .data = "k");
	ADD(&tb, .name = ".wh.gone");
	ADD(&tb, .name = "x/.wh.y"); /* parent created implicitly */
	/* A whiteout only hides lower layers: this layer's own z stays (image-spec). */
	ADD(&tb, .name = "z", .data = "real");
	ADD(&tb, .name = ".wh.z");
	ADD(&tb, .name = ".wh.w"); /* then re-created: the later one wins */
	ADD(&tb, .name = "w", .data = "again");
	tb_close(&tb);
	unpack_ok(f, &tb, IMG_UNPACK_OVERLAY);

	assert_int_equal(getxattr(rp(f, "d"), "trusted.overlay.opaque", buf, sizeof(buf)), 1);
	assert_int_equal(buf[0], 'y');
	assert_content(rp(f, "d/kept"), "k", 1);
	assert_false(exists(rp(f, "d/.wh..wh..opq")));
	const char *wh[] = { "gone", "x/y" };
	for (size_t i = 0; i < ARRAY_SIZE(wh); i++) {
		assert_int_equal(lstat(rp(f, wh[i]), &st), 0);
		assert_true(S_ISCHR(st.st_mode));
		assert_int_equal(st.st_rdev, makedev(0, 0));
	}
	assert_false(exists(rp(f, ".wh.gone")));
	assert_content(rp(f, "z"), "real", 4);
	assert_content(rp(f, "w"), "again", 5);
	assert_int_equal(count_entries(f->root), 5); /* d, gone, x, z, w */
}

/* The lower layer for the APPLY tests. */
static void lower_layer(struct fx *f)
{
	struct tarbuf tb;
	tb_open(&tb);
	ADD(&tb, .name = "lower-file", .data = "lower");
	ADD(&tb, .name = "lower-file2", .data = "lower");
	ADD(&tb, .name = "lower-dir/a", .data = "a");
	ADD(&tb, .name = "lower-dir/sub/b", .data = "b");
	ADD(&tb, .name = "opq/lower1", .data = "1");
	ADD(&tb, .name = "opq/keepdir/lower2", .data = "2");
	ADD(&tb, .name = "opq/lowerdir/lower3", .data = "3");
	ADD(&tb, .name = "r1/child", .data = "c");
	ADD(&tb, .name = "r2", .data = "file");
	tb_close(&tb);
	unpack_ok(f, &tb, IMG_UNPACK_APPLY);
}

static void test_apply_whiteouts(void **state)
{
	struct fx *f = *state;
	struct tarbuf tb;
	struct stat st;
	lower_layer(f);
	tb_open(&tb);
	ADD(&tb, .name = ".wh.lower-file");
	ADD(&tb, .name = "lower-dir/.wh.sub");
	ADD(&tb, .name = ".wh.lower-file2"); /* whiteout, then re-created */
	ADD(&tb, .name = "lower-file2", .data = "upper");
	ADD(&tb, .name = "re", .data = "x"); /* created, then whited out: stays (same layer) */
	ADD(&tb, .name = ".wh.re");
	ADD(&tb, .name = "opq/early", .data = "e");	  /* before the opaque marker */
	ADD(&tb, .name = "opq/keepdir/new", .data = "n"); /* into a lower directory */
	ADD(&tb, .name = "opq/.wh..wh..opq");
	ADD(&tb, .name = "opq/late", .data = "l"); /* after it */
	ADD(&tb, .name = ".wh.nonexistent");
	ADD(&tb, .name = "missing/.wh.x");
	tb_close(&tb);
	unpack_ok(f, &tb, IMG_UNPACK_APPLY);

	assert_false(exists(rp(f, "lower-file")));
	assert_false(exists(rp(f, ".wh.lower-file")));
	assert_true(exists(rp(f, "lower-dir/a")));
	assert_false(exists(rp(f, "lower-dir/sub")));
	assert_content(rp(f, "lower-file2"), "upper", 5);
	assert_content(rp(f, "re"), "x", 1);
	assert_false(exists(rp(f, "opq/lower1")));
	assert_false(exists(rp(f, "opq/lowerdir")));
	assert_int_equal(lstat(rp(f, "opq/keepdir"), &st), 0);
	assert_false(exists(rp(f, "opq/keepdir/lower2")));
	assert_content(rp(f, "opq/keepdir/new"), "n", 1);
	assert_content(rp(f, "opq/early"), "e", 1);
	assert_content(rp(f, "opq/late"), "l", 1);
	assert_int_equal(count_entries(rp(f, "opq")), 3);
	assert_false(exists(rp(f, "missing")));
	assert_false(exists(rp(f, "nonexistent")));
	assert_int_equal(f->stats.entries, 12);
}

static void test_apply_opaque_root_and_order(void **state)
{
	struct fx *f = *state;
	struct tarbuf tb;
	lower_layer(f);
	tb_open(&tb);
	ADD(&tb, .name = "new-before", .data = "b");
	ADD(&tb, .name = "r1", .type = AE_IFDIR); /* lower dir, merged by this layer */
	ADD(&tb, .name = ".wh..wh..opq");
	ADD(&tb, .name = "new-after/x", .data = "a");
	tb_close(&tb);
	unpack_ok(f, &tb, IMG_UNPACK_APPLY);
	assert_int_equal(count_entries(f->root), 3);
	assert_content(rp(f, "new-before"), "b", 1);
	assert_content(rp(f, "new-after/x"), "a", 1);
	/* r1 comes from this layer, its lower content does not. */
	assert_int_equal(count_entries(rp(f, "r1")), 0);
}

/* ---- whiteouts in every order ---- */

/*
 * A layer in a few words: "d/" a directory, "-p" a whiteout of p, "d/" then "*" the opaque
 * marker of d ("*" alone the root's), anything else a file holding `data`.
 */
static void layer_of(struct tarbuf *tb, const char *spec, const char *data)
{
	_cleanup_strv_ char **words = cc_strv_split(spec, ' ');
	tb_open(tb);
	for (size_t i = 0; words[i]; i++) {
		char *w = words[i];
		size_t len = strlen(w);
		if (!len)
			continue;
		if (w[len - 1] == '*') {
			_cleanup_free_ char *n = xasprintf("%.*s.wh..wh..opq", (int)(len - 1), w);
			ADD(tb, .name = n);
		} else if (w[0] == '-') {
			const char *slash = strrchr(w, '/');
			_cleanup_free_ char *n =
			    slash ? xasprintf("%.*s/.wh.%s", (int)(slash - w - 1), w + 1, slash + 1)
				  : xasprintf(".wh.%s", w + 1);
			ADD(tb, .name = n);
		} else if (w[len - 1] == '/') {
			ADD(tb, .name = w, .type = AE_IFDIR);
		} else {
			ADD(tb, .name = w, .data = data);
		}
	}
	tb_close(tb);
}

static bool xattr_opaque(int dirfd, const char *name)
{
	char path[64], v[2];
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return fd >= 0 && getxattr(path, "trusted.overlay.opaque", v, sizeof(v)) == 1 &&
	       v[0] == 'y';
}

/* The tree below dirfd in a few words, sorted: "d/" a directory ("d/(o)" opaque), "p(w)" a
 * whiteout device, "p=data" a file. */
static void describe(int dirfd, const char *prefix, char **out)
{
	struct dirent **v;
	int n = scandirat(dirfd, ".", &v, NULL, alphasort);
	assert_true(n >= 0);
	for (int i = 0; i < n; i++) {
		const char *name = v[i]->d_name;
		struct stat st;
		if (!strcmp(name, ".") || !strcmp(name, "..")) {
			free(v[i]);
			continue;
		}
		assert_int_equal(fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW), 0);
		_cleanup_free_ char *path = xasprintf("%s%s", prefix, name);
		char *word;
		if (S_ISDIR(st.st_mode)) {
			word = xasprintf("%s/%s", path, xattr_opaque(dirfd, name) ? "(o)" : "");
		} else if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0)) {
			word = xasprintf("%s(w)", path);
		} else {
			_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW);
			char data[16] = { 0 };
			assert_true(fd >= 0 && read(fd, data, sizeof(data) - 1) >= 0);
			word = xasprintf("%s=%s", path, data);
		}
		char *joined = *out ? xasprintf("%s %s", *out, word) : xstrdup(word);
		free(*out);
		free(word);
		*out = joined;
		if (S_ISDIR(st.st_mode)) {
			_cleanup_close_ int sub = openat(dirfd, name, O_RDONLY | O_DIRECTORY);
			_cleanup_free_ char *sp = xasprintf("%s/", path);
			describe(sub, sp, out);
		}
		free(v[i]);
	}
	free(v);
}

static char *describe_root(int dirfd)
{
	char *out = xasprintf("%s", xattr_opaque(dirfd, ".") ? "./(o)" : "");
	if (!*out) {
		free(out);
		out = NULL;
	}
	describe(dirfd, "", &out);
	return out ? out : xstrdup("");
}

static void unpack_at(struct fx *f, int dirfd, const char *spec, const char *data,
		      enum img_unpack_mode mode)
{
	struct tarbuf tb;
	layer_of(&tb, spec, data);
	struct img_unpack_opts o = { .mode = mode };
	struct memsrc m = { .p = tb.data, .len = tb.len };
	cc_error_free(&f->err);
	if (img_unpack(dirfd, mem_read, &m, &o, &f->stats, &f->err) < 0)
		fail_msg("unpack \"%s\": %s", spec, f->err->msg);
	tb_free(&tb);
}

#define LOWER_SPEC "a/ a/lower a/sub/ a/sub/deep f n/ n/keep n/m/ n/m/lower"
#define LOWER_REST "f=L n/ n/keep=L n/m/ n/m/lower=L"
#define LOWER_A "a/ a/lower=L a/sub/ a/sub/deep=L"

/*
 * A whiteout hides only what lower layers have, wherever it is in the tar: before or after the
 * layer's own entries of that name, plain or opaque, for files and directories, made
 * explicitly or implicitly (as the parent of an entry), nested. `apply` is the tree after
 * LOWER_SPEC and the layer (APPLY mode, what umoci unpack gives); `overlay` is the layer alone
 * in overlayfs format, where a directory that the layer both has and whites out is opaque.
 */
static const struct {
	const char *layer, *apply, *overlay;
} whiteout_cases[] = {
	{ "a/ a/new -a", "a/ a/new=u " LOWER_REST, "a/(o) a/new=u" },
	{ "-a a/ a/new", "a/ a/new=u " LOWER_REST, "a/(o) a/new=u" },
	{ "a/new -a", "a/ a/new=u " LOWER_REST, "a/(o) a/new=u" },
	{ "-a a/new", "a/ a/new=u " LOWER_REST, "a/(o) a/new=u" },
	{ "a/new a/ -a", "a/ a/new=u " LOWER_REST, "a/(o) a/new=u" },
	{ "-a a/new a/", "a/ a/new=u " LOWER_REST, "a/(o) a/new=u" },
	{ "a/ a/new a/*", "a/ a/new=u " LOWER_REST, "a/(o) a/new=u" },
	{ "a/new a/*", "a/ a/new=u " LOWER_REST, "a/(o) a/new=u" },
	{ "a/* a/new", "a/ a/new=u " LOWER_REST, "a/(o) a/new=u" },
	{ "a/new a/* -a", "a/ a/new=u " LOWER_REST, "a/(o) a/new=u" },
	{ "f -f", LOWER_A " f=u n/ n/keep=L n/m/ n/m/lower=L", "f=u" },
	{ "-f f", LOWER_A " f=u n/ n/keep=L n/m/ n/m/lower=L", "f=u" },
	{ "a -a", "a=u " LOWER_REST, "a=u" },
	{ "-f f/ f/x", LOWER_A " f/ f/x=u n/ n/keep=L n/m/ n/m/lower=L", "f/(o) f/x=u" },
	{ "n/m/new -n", LOWER_A " f=L n/ n/m/ n/m/new=u", "n/(o) n/m/ n/m/new=u" },
	{ "-n n/m/new", LOWER_A " f=L n/ n/m/ n/m/new=u", "n/(o) n/m/ n/m/new=u" },
	{ "n/m/new -n/m", LOWER_A " f=L n/ n/keep=L n/m/ n/m/new=u", "n/ n/m/(o) n/m/new=u" },
	{ "n/m/new n/m/*", LOWER_A " f=L n/ n/keep=L n/m/ n/m/new=u", "n/ n/m/(o) n/m/new=u" },
	{ "a/ -a/sub a/sub/x -a", "a/ a/sub/ a/sub/x=u " LOWER_REST, "a/(o) a/sub/(o) a/sub/x=u" },
	{ "-a -a/sub a/sub/y", "a/ a/sub/ a/sub/y=u " LOWER_REST, "a/(o) a/sub/ a/sub/y=u" },
	/* Whiteouts and opaque markers are not entries: a directory that the layer only has
	 * for them goes whole with its own whiteout; whiteouts below it are moot, and so are
	 * whiteouts below an opaque directory (overlayfs would list them there). */
	{ "-n/m -n", LOWER_A " f=L", "n(w)" },
	{ "-n -n/m", LOWER_A " f=L", "n(w)" },
	{ "-n n/*", LOWER_A " f=L", "n(w)" },
	{ "n/* -n", LOWER_A " f=L", "n(w)" },
	{ "-n/m n/z -n", LOWER_A " f=L n/ n/z=u", "n/(o) n/z=u" },
	{ "n/* -n/m n/z", LOWER_A " f=L n/ n/z=u", "n/(o) n/z=u" },
	{ "-n/m n/*", LOWER_A " f=L n/", "n/(o)" },
	{ "f -f/x", LOWER_A " f=u n/ n/keep=L n/m/ n/m/lower=L", "f=u" },
	/* Nothing below to hide: APPLY makes nothing; the overlay format cannot know. */
	{ "-zz/x zz/*", LOWER_A " " LOWER_REST, "zz/(o)" },
	{ "-zz/x", LOWER_A " " LOWER_REST, "zz/ zz/x(w)" },
	{ "a/sub/z/new -a/sub -a", "a/ a/sub/ a/sub/z/ a/sub/z/new=u " LOWER_REST,
	  "a/(o) a/sub/(o) a/sub/z/ a/sub/z/new=u" },
	{ "-zz -n/zz", LOWER_A " " LOWER_REST, "n/ n/zz(w) zz(w)" },
	{ "new a/ a/x *", "a/ a/x=u new=u", "./(o) a/ a/x=u new=u" },
	{ "* new", "new=u", "./(o) new=u" },
};

static void test_whiteout_orders(void **state)
{
	struct fx *f = *state;
	_cleanup_close_ int root = open(f->root, O_RDONLY | O_DIRECTORY);
	int failed = 0;
	for (size_t i = 0; i < ARRAY_SIZE(whiteout_cases); i++) {
		for (int overlay = 0; overlay < 2; overlay++) {
			if (overlay && !need_root())
				continue; /* whiteout devices and trusted.* xattrs */
			char name[32];
			snprintf(name, sizeof(name), "%zu-%d", i, overlay);
			assert_int_equal(mkdirat(root, name, 0755), 0);
			_cleanup_close_ int fd = openat(root, name, O_RDONLY | O_DIRECTORY);
			if (!overlay)
				unpack_at(f, fd, LOWER_SPEC, "L", IMG_UNPACK_APPLY);
			unpack_at(f, fd, whiteout_cases[i].layer, "u",
				  overlay ? IMG_UNPACK_OVERLAY : IMG_UNPACK_APPLY);
			_cleanup_free_ char *got = describe_root(fd);
			const char *want =
			    overlay ? whiteout_cases[i].overlay : whiteout_cases[i].apply;
			if (strcmp(got, want) != 0) {
				print_error("%s layer \"%s\":\n  got  \"%s\"\n  want \"%s\"\n",
					    overlay ? "OVERLAY" : "APPLY", whiteout_cases[i].layer,
					    got, want);
				failed++;
			}
		}
	}
	if (failed)
		fail_msg("%d of the cases above differ", failed);
	assert_outside_intact(f);
}

static void test_replace(void **state)
{
	struct fx *f = *state;
	struct tarbuf tb;
	struct stat st;
	lower_layer(f);
	tb_open(&tb);
	ADD(&tb, .name = "r1", .data = "now a file"); /* directory replaced by a file */
	ADD(&tb, .name = "r2", .type = AE_IFDIR);     /* file replaced by a directory */
	ADD(&tb, .name = "r2/c", .data = "c");
	ADD(&tb, .name = "lower-dir", .type = AE_IFDIR, .mode = 0700); /* dir over dir: merge */
	ADD(&tb, .name = "s", .type = AE_IFLNK, .link = "lower-file");
	ADD(&tb, .name = "s", .data = "not through the link"); /* symlink replaced */
	ADD(&tb, .name = "t", .data = "first");
	ADD(&tb, .name = "t", .type = AE_IFLNK, .link = "lower-file2"); /* file replaced */
	ADD(&tb, .name = "h", .hardlink = "lower-file");
	ADD(&tb, .name = "h", .data = "h"); /* a hardlink replaced, not written through */
	tb_close(&tb);
	unpack_ok(f, &tb, IMG_UNPACK_APPLY);
	assert_content(rp(f, "r1"), "now a file", 10);
	assert_int_equal(lstat(rp(f, "r2"), &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_content(rp(f, "r2/c"), "c", 1);
	assert_int_equal(lstat(rp(f, "lower-dir"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_content(rp(f, "lower-dir/a"), "a", 1);
	assert_content(rp(f, "s"), "not through the link", 20);
	assert_content(rp(f, "lower-file"), "lower", 5);
	assert_int_equal(lstat(rp(f, "t"), &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_content(rp(f, "h"), "h", 1);
	assert_int_equal(lstat(rp(f, "lower-file"), &st), 0);
	assert_int_equal(st.st_nlink, 1);
}

/* ---- tests: malicious layers ---- */

static void test_dotdot_names(void **state)
{
	struct fx *f = *state;
	struct tarbuf tb;
	const char *names[] = { "../canary", "a/../../canary", "../outside/canary", "/../canary",
				"./../outside/new" };
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		tb_open(&tb);
		ADD(&tb, .name = "ok", .data = "ok");
		ADD(&tb, .name = names[i], .data = "pwned");
		tb_close(&tb);
		unpack_fails(f, &tb, IMG_UNPACK_APPLY, "escapes the layer root");
		assert_non_null(strstr(f->err->msg, "layer entry \""));
		assert_outside_intact(f);
	}
	assert_string_equal(f->err->msg,
			    "layer entry \"./../outside/new\": escapes the layer root");
	/* Dots that stay inside are fine. */
	tb_open(&tb);
	ADD(&tb, .name = "a/b/../../c/./d", .data = "in");
	tb_close(&tb);
	unpack_ok(f, &tb, IMG_UNPACK_APPLY);
	assert_content(rp(f, "c/d"), "in", 2);
	assert_outside_intact(f);
}

static void test_absolute_names(void **state)
{
	struct fx *f = *state;
	struct tarbuf tb;
	char name[160];
	/* Absolute names are rooted at the layer root (like umoci), never at the host's "/". */
	snprintf(name, sizeof(name), "%s/canary", f->outside);
	tb_open(&tb);
	ADD(&tb, .name = "/etc/x", .data = "abs");
	ADD(&tb, .name = name, .data = "pwned");
	ADD(&tb, .name = "//double", .data = "d");
	tb_close(&tb);
	unpack_ok(f, &tb, IMG_UNPACK_APPLY);
	assert_content(rp(f, "etc/x"), "abs", 3);
	assert_content(rp(f, name + 1), "pwned", 5);
	assert_content(rp(f, "double"), "d", 1);
	assert_outside_intact(f);
}

static void test_symlink_escapes(void **state)
{
	struct fx *f = *state;
	struct tarbuf tb;
	char via_root[200], via_dotdot[200], via_abs[200];
	const char *base = strrchr(f->base, '/') + 1;
	/* Each of these would land in outside/canary-dir if the link were followed on the host. */
	snprintf(via_root, sizeof(via_root), "evil1/tmp/%s/outside/canary-dir/file", base);
	snprintf(via_dotdot, sizeof(via_dotdot), "evil2/%s/outside/canary-dir/file", base);
	snprintf(via_abs, sizeof(via_abs), "%s/outside/canary-dir", f->base);
	tb_open(&tb);
	ADD(&tb, .name = "evil1", .type = AE_IFLNK, .link = "/");
	ADD(&tb, .name = via_root, .data = "pwned");
	ADD(&tb, .name = "evil2", .type = AE_IFLNK, .link = "../..");
	ADD(&tb, .name = via_dotdot, .data = "pwned");
	ADD(&tb, .name = "evil3", .type = AE_IFLNK, .link = "../outside");
	ADD(&tb, .name = "evil3/canary-dir/file", .data = "pwned");
	ADD(&tb, .name = "evil3/.wh.canary"); /* a whiteout through the link */
	/* A symlink, then a directory entry and a file through it. */
	ADD(&tb, .name = "evil4", .type = AE_IFLNK, .link = via_abs);
	ADD(&tb, .name = "evil4/newdir", .type = AE_IFDIR, .mode = 0777);
	ADD(&tb, .name = "evil4/newdir/f", .data = "pwned");
	/* A symlink to the canary, then a file of the same name: the link is replaced. */
	ADD(&tb, .name = "evil5", .type = AE_IFLNK, .link = via_abs);
	ADD(&tb, .name = "evil5", .type = AE_IFDIR);
	ADD(&tb, .name = "evil6", .type = AE_IFLNK, .link = "../outside/canary");
	ADD(&tb, .name = "evil6", .data = "pwned");
	tb_close(&tb);
	unpack_ok(f, &tb, IMG_UNPACK_APPLY);
	assert_outside_intact(f);
	/* Resolved inside the root instead. */
	assert_content(rp(f, via_root + strlen("evil1/")), "pwned", 5);
	assert_content(rp(f, via_dotdot + strlen("evil2/")), "pwned", 5);
	assert_content(rp(f, "outside/canary-dir/file"), "pwned", 5);
	assert_content(rp(f, "evil6"), "pwned", 5);
	char p[300];
	snprintf(p, sizeof(p), "%s/newdir/f", via_abs + 1);
	assert_content(rp(f, p), "pwned", 5);
}

static void test_hardlink_escapes(void **state)
{
	struct fx *f = *state;
	struct tarbuf tb;
	char via_link[200];
	const char *targets[] = { "../outside/canary", "a/../../outside/canary" };
	for (size_t i = 0; i < ARRAY_SIZE(targets); i++) {
		tb_open(&tb);
		ADD(&tb, .name = "h", .hardlink = targets[i]);
		tb_close(&tb);
		unpack_fails(f, &tb, IMG_UNPACK_APPLY, "escapes the layer root");
		assert_string_equal(f->err->msg,
				    "layer entry \"h\": hardlink target: escapes the layer root");
		assert_outside_intact(f);
	}
	/* Through a symlink: resolved inside the root, where there is no such file. */
	snprintf(via_link, sizeof(via_link), "evil/tmp/%s/outside/canary",
		 strrchr(f->base, '/') + 1);
	tb_open(&tb);
	ADD(&tb, .name = "evil", .type = AE_IFLNK, .link = "/");
	ADD(&tb, .name = "h", .hardlink = via_link);
	tb_close(&tb);
	unpack_fails(f, &tb, IMG_UNPACK_APPLY, "hardlink target");
	assert_outside_intact(f);
	/* An absolute target is rooted too; and directories cannot be linked. */
	tb_open(&tb);
	ADD(&tb, .name = "dir", .type = AE_IFDIR);
	ADD(&tb, .name = "h", .hardlink = "dir");
	tb_close(&tb);
	unpack_fails(f, &tb, IMG_UNPACK_APPLY, "is a directory");
	snprintf(via_link, sizeof(via_link), "%s/canary", f->outside);
	tb_open(&tb);
	ADD(&tb, .name = "h2", .hardlink = via_link);
	tb_close(&tb);
	unpack_fails(f, &tb, IMG_UNPACK_APPLY, "hardlink target");
	assert_outside_intact(f);
}

static void test_whiteout_escapes(void **state)
{
	struct fx *f = *state;
	struct tarbuf tb;
	const char *names[] = { "../.wh.canary", "a/../../.wh.canary", "../outside/.wh.canary" };
	enum img_unpack_mode modes[] = { IMG_UNPACK_APPLY, IMG_UNPACK_OVERLAY };
	for (size_t m = 0; m < ARRAY_SIZE(modes); m++) {
		for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
			tb_open(&tb);
			ADD(&tb, .name = names[i]);
			tb_close(&tb);
			unpack_fails(f, &tb, modes[m], "escapes the layer root");
			assert_outside_intact(f);
		}
		/* ".wh.." would name the parent directory itself. */
		tb_open(&tb);
		ADD(&tb, .name = "x/.wh..");
		tb_close(&tb);
		unpack_fails(f, &tb, modes[m], "invalid whiteout name");
		assert_outside_intact(f);
	}
}

/* ---- tests: stream errors ---- */

static void test_read_error_mid_file(void **state)
{
	struct fx *f = *state;
	struct tarbuf tb;
	_cleanup_free_ char *data = xzalloc(200000);
	tb_open(&tb);
	ADD(&tb, .name = "small", .data = "s");
	ADD(&tb, .name = "big", .data = data, .size = 200000);
	ADD(&tb, .name = "after", .data = "a");
	tb_close(&tb);
	assert_int_equal(unpack_opts(f, &tb, IMG_UNPACK_APPLY, false, 100000), -1);
	tb_free(&tb);
	assert_string_equal(f->err->msg, "layer entry \"big\": read layer: Input/output error");
	assert_int_equal(f->err->errnum, EIO);
	assert_false(exists(rp(f, "after")));
}

static void test_truncated(void **state)
{
	struct fx *f = *state;
	struct tarbuf tb;
	_cleanup_free_ char *data = xzalloc(50000);
	tb_open(&tb);
	ADD(&tb, .name = "first", .data = "1");
	ADD(&tb, .name = "big", .data = data, .size = 50000);
	tb_close(&tb);
	/* In the middle of the data. */
	size_t full = tb.len;
	tb.len = 20000;
	assert_int_equal(unpack_opts(f, &tb, IMG_UNPACK_APPLY, false, 0), -1);
	assert_non_null(strstr(f->err->msg, "layer entry \"big\""));
	/* In the middle of a header. */
	tb.len = 1024 + 100;
	assert_int_equal(unpack_opts(f, &tb, IMG_UNPACK_APPLY, false, 0), -1);
	assert_non_null(strstr(f->err->msg, "read layer"));
	/* Garbage is not a tar. */
	memset(tb.data, 'x', 2048);
	tb.len = 2048;
	assert_int_equal(unpack_opts(f, &tb, IMG_UNPACK_APPLY, false, 0), -1);
	/* The whole stream is fine. */
	tb.len = full;
	tb_free(&tb);
	tb_open(&tb);
	ADD(&tb, .name = "first", .data = "1");
	tb_close(&tb);
	unpack_ok(f, &tb, IMG_UNPACK_APPLY);
	assert_content(rp(f, "first"), "1", 1);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	/* The writer stores UTF-8 names as such (pax "path") only in a UTF-8 locale. */
	setlocale(LC_ALL, "C.UTF-8");
	const struct CMUnitTest tests[] = {
		T(test_regular_files),
		T(test_sparse_file),
		T(test_sparse_huge_and_zeros),
		T(test_modes_and_owners),
		T(test_mtimes),
		T(test_symlinks_and_hardlinks),
		T(test_fifo_and_devices),
		T(test_rootless_skips_devices),
		T(test_xattrs),
		T(test_long_and_utf8_names),
		T(test_overlay_whiteouts),
		T(test_apply_whiteouts),
		T(test_apply_opaque_root_and_order),
		T(test_whiteout_orders),
		T(test_replace),
		T(test_dotdot_names),
		T(test_absolute_names),
		T(test_symlink_escapes),
		T(test_hardlink_escapes),
		T(test_whiteout_escapes),
		T(test_read_error_mid_file),
		T(test_truncated),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
