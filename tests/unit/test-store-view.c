// SPDX-License-Identifier: Apache-2.0
/* Unit tests for lib/store's union view (view.h, docs/store.md "The view"): two layers with
 * every entry kind, whiteouts, an opaque directory, a file replacing a directory and the other
 * way round, served in a child process and checked through the kernel (lstat, readdir, read,
 * readlink, getxattr) against the view written by hand from the union rules; a flipped byte in
 * a file's object (EIO and a log line, never other bytes); a layer missing from the store; the
 * writable layer (create, write, rename, unlink and rmdir of lower names, mkdir over a removed
 * lower directory, chmod, links, xattrs), persisted, reloaded, after a crash (the last persisted
 * state), dropped. Needs root and /dev/fuse (skipped otherwise). Runs in a mount namespace of
 * its own; every mount is unmounted and every child reaped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <cmocka.h>
#include "store-helpers.h"
#include "store/layer.h"
#include "store/store.h"
#include "store/view.h"
#include "util/cleanup.h"
#include "util/hex.h"
#include "tmproot.h"

#define MIB (1024 * 1024)
#define BIG_LEN (6 * MIB + 12345)
#define L0 "sha256:0000000000000000000000000000000000000000000000000000000000000000"
#define L1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"

static const uint8_t key[32] = "store-view-test-key-0123456789a";
/* A file capability the kernel accepts (VFS_CAP_REVISION_2, effective, CAP_NET_BIND_SERVICE):
 * the kernel checks security.capability values on the way out. */
static const uint8_t cap_value[20] = { 0x01, 0, 0, 0x02, 0x00, 0x04 };
static unsigned seq;

static struct store_attr attr(uint8_t type, uint32_t mode, int64_t mtime)
{
	return (struct store_attr){ .type = type, .mode = mode, .mtime_sec = mtime };
}

static void put(struct store_layer_writer *w, const char *path, uint32_t mode, const void *data,
		size_t len)
{
	struct cc_error *err = NULL;
	struct store_attr a = attr(STORE_TYPE_REG, mode, 1700000000);
	ok(store_layer_file_begin(w, path, &a, &err), &err);
	for (size_t off = 0; off < len; off += MIB)
		ok(store_layer_file_write(w, (const uint8_t *)data + off,
					  len - off < MIB ? len - off : MIB, &err),
		   &err);
	ok(store_layer_file_end(w, &err), &err);
}

static void put_text(struct store_layer_writer *w, const char *path, const char *text)
{
	put(w, path, 0644, text, strlen(text));
}

static void dir(struct store_layer_writer *w, const char *path, uint32_t mode)
{
	struct cc_error *err = NULL;
	struct store_attr a = attr(STORE_TYPE_DIR, mode, 1600000000);
	ok(store_layer_mkdir(w, path, &a, &err), &err);
}

/*
 * The image: L0 below L1.
 * L0: etc/{passwd,hosts,cap (xattrs)}, usr/bin/{sh, bash -> sh, ls, dir (hard link to ls)},
 *     big (random), dev/{null (c 1 3), sda (b 8 0)}, run/fifo, data/{a,b,sub/x},
 *     opq/old1, replaced/f, gone, gonedir/x, over ("lower"), merge/lo (0755),
 *     becomesdir (a file)
 * L1: whiteouts gone, gonedir, data/b; opq opaque with new1; replaced a file; over ("upper");
 *     merge (0700) with hi; becomesdir a directory with in
 */
static void build_image(const char *dirpath)
{
	struct store *s = NULL;
	struct store_layer_writer *w = NULL;
	struct cc_error *err = NULL;
	_cleanup_free_ uint8_t *big = pattern(BIG_LEN, 7);
	struct store_xattr xs[] = {
		{ .name = "security.capability",
		  .value = cap_value,
		  .value_len = sizeof(cap_value) },
		{ .name = "user.note", .value = (const uint8_t *)"hello xattr", .value_len = 11 },
	};
	struct store_attr a;

	ok(store_open(dirpath, key, true, &s, &err), &err);
	ok(store_layer_begin(s, L0, &w, &err), &err);
	dir(w, "", 0755);
	dir(w, "etc", 0755);
	put_text(w, "etc/passwd", "root:x:0:0:root:/root:/bin/sh\n");
	put_text(w, "etc/hosts", "127.0.0.1 localhost\n");
	a = attr(STORE_TYPE_REG, 0600, 1700000001);
	a.xattrs = xs;
	a.n_xattrs = 2;
	ok(store_layer_file_begin(w, "etc/cap", &a, &err), &err);
	ok(store_layer_file_end(w, &err), &err);
	put(w, "usr/bin/sh", 04755, "#!sh\n", 5);
	a = attr(STORE_TYPE_SYMLINK, 0777, 1700000002);
	ok(store_layer_symlink(w, "usr/bin/bash", "sh", &a, &err), &err);
	put_text(w, "usr/bin/ls", "ls binary\n");
	ok(store_layer_hardlink(w, "usr/bin/dir", "usr/bin/ls", &err), &err);
	put(w, "big", 0644, big, BIG_LEN);
	a = attr(STORE_TYPE_CHR, 0666, 0);
	a.rdev = makedev(1, 3);
	ok(store_layer_node(w, "dev/null", &a, &err), &err);
	a = attr(STORE_TYPE_BLK, 0660, 0);
	a.rdev = makedev(8, 0);
	ok(store_layer_node(w, "dev/sda", &a, &err), &err);
	a = attr(STORE_TYPE_FIFO, 0644, 0);
	ok(store_layer_node(w, "run/fifo", &a, &err), &err);
	put_text(w, "data/a", "a\n");
	put_text(w, "data/b", "b\n");
	put_text(w, "data/sub/x", "x\n");
	put_text(w, "opq/old1", "old\n");
	put_text(w, "replaced/f", "f\n");
	put_text(w, "gone", "gone\n");
	put_text(w, "gonedir/x", "x\n");
	put_text(w, "over", "lower\n");
	dir(w, "merge", 0755);
	put_text(w, "merge/lo", "lo\n");
	put_text(w, "becomesdir", "file\n");
	ok(store_layer_commit(w, &err), &err);

	ok(store_layer_begin(s, L1, &w, &err), &err);
	ok(store_layer_whiteout(w, "gone", &err), &err);
	ok(store_layer_whiteout(w, "gonedir", &err), &err);
	ok(store_layer_whiteout(w, "data/b", &err), &err);
	dir(w, "opq", 0755);
	ok(store_layer_opaque(w, "opq", &err), &err);
	put_text(w, "opq/new1", "new\n");
	put_text(w, "replaced", "now a file\n");
	put_text(w, "over", "upper\n");
	dir(w, "merge", 0700);
	put_text(w, "merge/hi", "hi\n");
	dir(w, "becomesdir", 0755);
	put_text(w, "becomesdir/in", "in\n");
	ok(store_layer_commit(w, &err), &err);
	store_close(s);
}

/* ---- serving ---- */

struct server {
	pid_t pid;
	char *mnt, *log;
};

static bool have_fuse(void)
{
	return geteuid() == 0 && access("/dev/fuse", R_OK | W_OK) == 0;
}

/* The servers running (pid, mountpoint), for the teardown of a case that failed half-way. */
static pid_t running_pid[8];
static char *running_mnt[8];

static int stop_running(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(running_pid); i++) {
		int st;
		if (running_pid[i] <= 0)
			continue;
		umount2(running_mnt[i], MNT_DETACH);
		kill(running_pid[i], SIGKILL);
		waitpid(running_pid[i], &st, 0);
		running_pid[i] = 0;
		free(running_mnt[i]);
		running_mnt[i] = NULL;
	}
	return 0;
}

static void track(const struct server *sv, bool on)
{
	for (size_t i = 0; i < ARRAY_SIZE(running_pid); i++) {
		if (on && running_pid[i] <= 0) {
			running_pid[i] = sv->pid;
			running_mnt[i] = xstrdup(sv->mnt);
			return;
		}
		if (!on && running_pid[i] == sv->pid) {
			running_pid[i] = 0;
			free(running_mnt[i]);
			running_mnt[i] = NULL;
			return;
		}
	}
}

/* Serve the store at dirpath on a new mountpoint in a child; returns once mounted. */
static void serve_at(struct server *out, const char *dirpath, const char *upper)
{
	struct server sv = { .mnt = xasprintf("%s/mnt-%u", root, seq),
			     .log = xasprintf("%s/log-%u", root, seq) };
	int p[2];
	char c;

	seq++;
	assert_int_equal(mkdir(sv.mnt, 0755), 0);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	sv.pid = fork();
	assert_true(sv.pid >= 0);
	if (sv.pid == 0) {
		const char *layers[] = { L0, L1 };
		struct store_view_opts o = { .layers = layers,
					     .n_layers = 2,
					     .upper = upper,
					     .allow_other = true,
					     .ready_fd = p[1] };
		struct store *s = NULL;
		struct cc_error *err = NULL;
		int fd = open(sv.log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		close(p[0]);
		if (fd >= 0)
			dup2(fd, 2);
		if (store_open(dirpath, key, false, &s, &err) < 0 ||
		    store_view_serve(s, sv.mnt, &o, &err) < 0) {
			fprintf(stderr, "serve: %s\n", err->msg);
			_exit(1);
		}
		store_close(s);
		_exit(0);
	}
	close(p[1]);
	if (read(p[0], &c, 1) != 1) {
		int st;
		waitpid(sv.pid, &st, 0);
		fail_msg("the view did not mount (see %s)", sv.log);
	}
	close(p[0]);
	*out = sv;
	track(out, true);
}

/* Unmount and reap: the child's exit status. */
static int unserve(struct server *sv)
{
	int st = 0;
	track(sv, false);
	if (umount2(sv->mnt, 0) < 0)
		assert_int_equal(umount2(sv->mnt, MNT_DETACH), 0);
	assert_int_equal(waitpid(sv->pid, &st, 0), sv->pid);
	rmdir(sv->mnt);
	free(sv->mnt);
	free(sv->log);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static char *at(const struct server *sv, const char *path)
{
	return xasprintf("%s/%s", sv->mnt, path);
}

static char *slurp_at(const struct server *sv, const char *path, size_t *len)
{
	_cleanup_free_ char *p = at(sv, path);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	char *buf;
	size_t cap = 4096, n = 0;
	ssize_t r;

	if (fd < 0)
		fail_msg("open %s: %s", p, strerror(errno));
	buf = xmalloc(cap + 1);
	while ((r = read(fd, buf + n, cap - n)) > 0) {
		n += (size_t)r;
		if (n == cap)
			buf = xrealloc(buf, (cap *= 2) + 1);
	}
	if (r < 0)
		fail_msg("read %s: %s", p, strerror(errno));
	close(fd);
	buf[n] = 0;
	if (len)
		*len = n;
	return buf;
}

static void expect_text(const struct server *sv, const char *path, const char *want)
{
	_cleanup_free_ char *got = slurp_at(sv, path, NULL);
	if (strcmp(got, want))
		fail_msg("%s: \"%s\", want \"%s\"", path, got, want);
}

static struct stat lstat_at(const struct server *sv, const char *path)
{
	_cleanup_free_ char *p = at(sv, path);
	struct stat st;
	if (lstat(p, &st) < 0)
		fail_msg("lstat %s: %s", p, strerror(errno));
	return st;
}

static void expect_errno(const struct server *sv, const char *path, int want)
{
	_cleanup_free_ char *p = at(sv, path);
	struct stat st;
	if (lstat(p, &st) == 0 || errno != want)
		fail_msg("%s: lstat gives %s, want %s", path, strerror(errno), strerror(want));
}

static void expect_absent(const struct server *sv, const char *path)
{
	expect_errno(sv, path, ENOENT);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in a directory, sorted and joined with ' ' ("." and ".." included). */
static char *list_at(const struct server *sv, const char *path)
{
	_cleanup_free_ char *p = at(sv, path);
	DIR *d = opendir(p);
	struct dirent *de;
	char **names = NULL, *out = xstrdup("");
	size_t n = 0;

	if (!d)
		fail_msg("opendir %s: %s", p, strerror(errno));
	while ((de = readdir(d))) {
		names = xreallocarray(names, n + 1, sizeof(*names));
		names[n++] = xstrdup(de->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(*names), name_cmp);
	for (size_t i = 0; i < n; i++) {
		char *q = xasprintf("%s%s%s", out, i ? " " : "", names[i]);
		free(out);
		free(names[i]);
		out = q;
	}
	free(names);
	return out;
}

static void expect_list(const struct server *sv, const char *path, const char *want)
{
	_cleanup_free_ char *got = list_at(sv, path);
	if (strcmp(got, want))
		fail_msg("%s lists \"%s\", want \"%s\"", path, got, want);
}

static char *new_store(void)
{
	char *d = xasprintf("%s/store-%u", root, seq++);
	build_image(d);
	return d;
}

/* ---- the read-only view ---- */

/* The image as overlayfs shows it; tampered: etc/passwd and big are damaged (not read). */
static void check_image(const struct server *sv, bool tampered)
{
	struct stat st, st2;
	char buf[64];
	_cleanup_free_ char *p = NULL;

	expect_list(sv, "", ". .. becomesdir big data dev etc merge opq over replaced run usr");
	expect_list(sv, "etc", ". .. cap hosts passwd");
	if (!tampered)
		expect_text(sv, "etc/passwd", "root:x:0:0:root:/root:/bin/sh\n");
	expect_list(sv, "usr/bin", ". .. bash dir ls sh");
	st = lstat_at(sv, "usr/bin/sh");
	assert_int_equal(st.st_mode, S_IFREG | 04755);
	assert_int_equal(st.st_size, 5);
	assert_int_equal(st.st_mtime, 1700000000);
	assert_int_equal(st.st_blocks, 1);
	st = lstat_at(sv, "usr/bin/bash");
	assert_true(S_ISLNK(st.st_mode));
	p = at(sv, "usr/bin/bash");
	memset(buf, 0, sizeof(buf));
	assert_int_equal(readlink(p, buf, sizeof(buf)), 2);
	assert_string_equal(buf, "sh");
	st = lstat_at(sv, "usr/bin/ls");
	st2 = lstat_at(sv, "usr/bin/dir");
	assert_int_equal(st.st_ino, st2.st_ino);
	assert_int_equal(st.st_nlink, 2);
	assert_int_equal(st2.st_nlink, 2);
	assert_int_not_equal(st.st_ino, lstat_at(sv, "usr/bin/sh").st_ino);
	st = lstat_at(sv, "dev/null");
	assert_true(S_ISCHR(st.st_mode));
	assert_int_equal(st.st_rdev, makedev(1, 3));
	st = lstat_at(sv, "dev/sda");
	assert_true(S_ISBLK(st.st_mode));
	assert_int_equal(st.st_rdev, makedev(8, 0));
	assert_true(S_ISFIFO(lstat_at(sv, "run/fifo").st_mode));
	free(p), p = NULL;
	p = at(sv, "etc/cap");
	memset(buf, 0, sizeof(buf));
	assert_int_equal(getxattr(p, "user.note", buf, sizeof(buf)), 11);
	assert_string_equal(buf, "hello xattr");
	assert_int_equal(getxattr(p, "security.capability", buf, sizeof(buf)), 20);
	assert_memory_equal(buf, cap_value, 20);
	assert_int_equal(getxattr(p, "user.none", buf, sizeof(buf)), -1);
	assert_int_equal(errno, ENODATA);
	assert_int_equal(listxattr(p, buf, sizeof(buf)), 20 + 10);
	/* The union rules. */
	expect_list(sv, "data", ". .. a sub");
	expect_absent(sv, "data/b");
	expect_list(sv, "opq", ". .. new1");
	expect_absent(sv, "opq/old1");
	assert_true(S_ISREG(lstat_at(sv, "replaced").st_mode));
	expect_text(sv, "replaced", "now a file\n");
	expect_errno(sv, "replaced/f", ENOTDIR);
	expect_absent(sv, "gone");
	expect_absent(sv, "gonedir");
	expect_absent(sv, "gonedir/x");
	expect_text(sv, "over", "upper\n");
	expect_list(sv, "merge", ". .. hi lo");
	assert_int_equal(lstat_at(sv, "merge").st_mode, S_IFDIR | 0700);
	expect_text(sv, "merge/lo", "lo\n");
	assert_true(S_ISDIR(lstat_at(sv, "becomesdir").st_mode));
	expect_list(sv, "becomesdir", ". .. in");
	if (!tampered) {
		size_t len;
		_cleanup_free_ uint8_t *want = pattern(BIG_LEN, 7);
		_cleanup_free_ char *got = slurp_at(sv, "big", &len);
		assert_int_equal(len, BIG_LEN);
		assert_memory_equal(got, want, BIG_LEN);
		assert_int_equal(lstat_at(sv, "big").st_blocks, (BIG_LEN + 511) / 512);
	}
}

static void test_read_only(void **state)
{
	_cleanup_free_ char *d = NULL;
	struct server sv;
	_cleanup_free_ char *p = NULL;
	struct stat st1, st2;
	(void)state;

	if (!have_fuse())
		skip();
	d = new_store();
	serve_at(&sv, d, NULL);
	check_image(&sv, false);
	/* Inode numbers stay while mounted (dropping the kernel's caches in between). */
	st1 = lstat_at(&sv, "etc/hosts");
	CC_BEST_EFFORT(system("echo 2 > /proc/sys/vm/drop_caches"));
	st2 = lstat_at(&sv, "etc/hosts");
	assert_int_equal(st1.st_ino, st2.st_ino);
	/* A container's rootfs: setuid files and devices work (as root), read-only. */
	struct statvfs vfs;
	assert_int_equal(statvfs(sv.mnt, &vfs), 0);
	assert_false(vfs.f_flag & ST_NOSUID);
	assert_false(vfs.f_flag & ST_NODEV);
	assert_true(vfs.f_flag & ST_RDONLY);
	assert_int_equal(vfs.f_namemax, 255);
	p = at(&sv, "new");
	assert_int_equal(open(p, O_WRONLY | O_CREAT, 0644), -1);
	assert_int_equal(errno, EROFS);
	assert_int_equal(unserve(&sv), 0);
}

/* The host file of the object of path in layer diff_id. */
static char *object_file(const char *dirpath, const char *diff_id, const char *path)
{
	struct store *s = NULL;
	struct store_layer_reader *r = NULL;
	struct store_inode *ino = NULL;
	struct cc_error *err = NULL;
	char hex[33];

	ok(store_open(dirpath, key, false, &s, &err), &err);
	ok(store_layer_open(s, diff_id, &r, &err), &err);
	assert_int_equal(store_layer_lookup_path(r, path, &ino, &err), STORE_FOUND);
	cc_hex_encode(store_layer_inode_id(ino), 16, hex);
	store_layer_close(r);
	store_close(s);
	return xasprintf("%s/objects/%.2s/%s", dirpath, hex, hex + 2);
}

static void flip(const char *file, off_t off)
{
	int fd = open(file, O_RDWR);
	uint8_t b;
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &b, 1, off), 1);
	b ^= 0x40;
	assert_int_equal(pwrite(fd, &b, 1, off), 1);
	close(fd);
}

static void test_tamper(void **state)
{
	_cleanup_free_ char *d = NULL, *obj = NULL, *bigobj = NULL, *log = NULL, *p = NULL;
	_cleanup_free_ uint8_t *want = pattern(BIG_LEN, 7);
	_cleanup_free_ uint8_t *buf = xmalloc(BIG_LEN);
	struct server sv;
	size_t got = 0, len;
	ssize_t n;
	int fd;
	(void)state;

	if (!have_fuse())
		skip();
	d = new_store();
	obj = object_file(d, L0, "etc/passwd");
	bigobj = object_file(d, L0, "big");
	flip(obj, 4096 + 3);		       /* the only chunk */
	flip(bigobj, 4096 + 40 * 65536 + 100); /* chunk 40 */
	serve_at(&sv, d, NULL);
	/* The name and attributes are intact, the content is not. */
	assert_int_equal(lstat_at(&sv, "etc/passwd").st_size, 30);
	p = at(&sv, "etc/passwd");
	fd = open(p, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, buf, 4096), -1);
	assert_int_equal(errno, EIO);
	close(fd);
	/* The big file: the chunks before the damaged one, then EIO; never other bytes. */
	free(p), p = NULL;
	p = at(&sv, "big");
	fd = open(p, O_RDONLY);
	assert_true(fd >= 0);
	while ((n = read(fd, buf + got, 65536)) > 0)
		got += (size_t)n;
	assert_int_equal(n, -1);
	assert_int_equal(errno, EIO);
	assert_true(got <= 40 * 65536);
	assert_memory_equal(buf, want, got);
	close(fd);
	check_image(&sv, true); /* the rest is served */
	log = xstrdup(sv.log);
	assert_int_equal(unserve(&sv), 0);
	/* One line per failure, naming the path and the object's error. */
	_cleanup_free_ char *text = NULL;
	{
		FILE *f = fopen(log, "r");
		assert_non_null(f);
		text = xmalloc(65536);
		len = fread(text, 1, 65535, f);
		text[len] = 0;
		fclose(f);
	}
	if (!strstr(text, "read /etc/passwd: ") || !strstr(text, "read /big: ") ||
	    !strstr(text, "does not authenticate"))
		fail_msg("log lacks the failures: %s", text);
}

static void test_missing_layer(void **state)
{
	_cleanup_free_ char *d = NULL, *mnt = NULL;
	struct store *s = NULL;
	struct cc_error *err = NULL;
	const char *layers[] = { L0, "sha256:missing" };
	struct store_view_opts o = { .layers = layers, .n_layers = 2, .ready_fd = -1 };
	(void)state;

	d = new_store();
	mnt = xasprintf("%s/mnt-missing", root);
	assert_int_equal(mkdir(mnt, 0755), 0);
	ok(store_open(d, key, false, &s, &err), &err);
	assert_int_equal(store_view_serve(s, mnt, &o, &err), -1);
	assert_int_equal(err->errnum, ENOENT);
	assert_non_null(strstr(err->msg, "sha256:missing"));
	assert_non_null(strstr(err->msg, "view "));
	cc_error_free(&err);
	o.layers = layers;
	o.n_layers = 1;
	o.upper = "bad name";
	assert_int_equal(store_view_serve(s, mnt, &o, &err), -1);
	assert_int_equal(err->errnum, EINVAL);
	cc_error_free(&err);
	store_close(s);
	rmdir(mnt);
}

/* ---- the writable layer ---- */

static void write_at(const struct server *sv, const char *path, int flags, const char *text)
{
	_cleanup_free_ char *p = at(sv, path);
	int fd = open(p, O_WRONLY | O_CLOEXEC | flags, 0640);
	if (fd < 0)
		fail_msg("open %s: %s", p, strerror(errno));
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static void fsync_at(const struct server *sv, const char *path)
{
	_cleanup_free_ char *p = at(sv, path);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	if (fsync(fd) < 0)
		fail_msg("fsync %s: %s", p, strerror(errno));
	close(fd);
}

static void do_changes(const struct server *sv)
{
	_cleanup_free_ char *a = NULL, *b = NULL;

	write_at(sv, "new.txt", O_CREAT | O_EXCL, "hello");
	write_at(sv, "etc/passwd", O_APPEND, "user:x:1000:1000::/home/user:/bin/sh\n");
	a = at(sv, "etc/hosts"), b = at(sv, "etc/hosts.bak");
	assert_int_equal(rename(a, b), 0);
	free(a), free(b), a = b = NULL;
	a = at(sv, "over");
	assert_int_equal(unlink(a), 0);
	free(a), a = NULL;
	/* rmdir of a lower directory, then mkdir: opaque, empty. */
	a = at(sv, "merge/hi");
	assert_int_equal(unlink(a), 0);
	free(a), a = NULL;
	a = at(sv, "merge/lo");
	assert_int_equal(unlink(a), 0);
	free(a), a = NULL;
	a = at(sv, "merge");
	assert_int_equal(rmdir(a), 0);
	assert_int_equal(mkdir(a, 0750), 0);
	free(a), a = NULL;
	write_at(sv, "merge/fresh", O_CREAT, "fresh\n");
	/* A lower directory with content cannot go; an upper one can be renamed. */
	a = at(sv, "data");
	assert_int_equal(rmdir(a), -1);
	assert_int_equal(errno, ENOTEMPTY);
	free(a), a = NULL;
	a = at(sv, "d1");
	assert_int_equal(mkdir(a, 0755), 0);
	free(a), a = NULL;
	write_at(sv, "d1/f", O_CREAT, "in d1\n");
	a = at(sv, "d1"), b = at(sv, "d2");
	assert_int_equal(rename(a, b), 0);
	free(a), free(b), a = b = NULL;
	a = at(sv, "usr/bin/sh");
	assert_int_equal(chmod(a, 0700), 0);
	free(a), a = NULL;
	a = at(sv, "lnk");
	assert_int_equal(symlink("new.txt", a), 0);
	free(a), a = NULL;
	a = at(sv, "new.txt"), b = at(sv, "new2");
	assert_int_equal(link(a, b), 0);
	assert_int_equal(setxattr(a, "user.k", "v1", 2, 0), 0);
	free(a), free(b), a = b = NULL;
	a = at(sv, "etc/cap");
	assert_int_equal(removexattr(a, "user.note"), 0);
	free(a), a = NULL;
	a = at(sv, "big");
	assert_int_equal(truncate(a, 1000), 0);
	free(a), a = NULL;
	/* A whiteout then a file of the same name; RENAME_NOREPLACE. */
	a = at(sv, "gone");
	write_at(sv, "gone", O_CREAT | O_EXCL, "back\n");
	free(a), a = NULL;
	a = at(sv, "new2"), b = at(sv, "new.txt");
	assert_int_equal(renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_NOREPLACE), -1);
	assert_int_equal(errno, EEXIST);
	free(a), free(b), a = b = NULL;
}

#define CHANGED_ROOT                                                                        \
	". .. becomesdir big d2 data dev etc gone lnk merge new.txt new2 opq replaced run " \
	"usr"

/* The view after do_changes; root_list: what the root lists. */
static void check_changes(const struct server *sv, const char *root_list)
{
	struct stat st, st2;
	char buf[64];
	_cleanup_free_ char *a = NULL;
	_cleanup_free_ uint8_t *want = pattern(1000, 7);
	size_t len;
	_cleanup_free_ char *big = NULL;

	expect_list(sv, "", root_list);
	expect_text(sv, "new.txt", "hello");
	expect_text(sv, "etc/passwd",
		    "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n");
	expect_list(sv, "etc", ". .. cap hosts.bak passwd");
	expect_text(sv, "etc/hosts.bak", "127.0.0.1 localhost\n");
	expect_absent(sv, "over");
	expect_list(sv, "merge", ". .. fresh");
	assert_int_equal(lstat_at(sv, "merge").st_mode, S_IFDIR | 0750);
	expect_text(sv, "d2/f", "in d1\n");
	expect_absent(sv, "d1");
	assert_int_equal(lstat_at(sv, "usr/bin/sh").st_mode, S_IFREG | 0700);
	expect_text(sv, "usr/bin/sh", "#!sh\n");
	a = at(sv, "lnk");
	memset(buf, 0, sizeof(buf));
	assert_int_equal(readlink(a, buf, sizeof(buf)), 7);
	assert_string_equal(buf, "new.txt");
	free(a), a = NULL;
	st = lstat_at(sv, "new.txt");
	st2 = lstat_at(sv, "new2");
	assert_int_equal(st.st_ino, st2.st_ino);
	assert_int_equal(st.st_nlink, 2);
	a = at(sv, "new.txt");
	memset(buf, 0, sizeof(buf));
	assert_int_equal(getxattr(a, "user.k", buf, sizeof(buf)), 2);
	assert_string_equal(buf, "v1");
	free(a), a = NULL;
	a = at(sv, "etc/cap");
	assert_int_equal(getxattr(a, "user.note", buf, sizeof(buf)), -1);
	assert_int_equal(getxattr(a, "security.capability", buf, sizeof(buf)), 20);
	free(a), a = NULL;
	big = slurp_at(sv, "big", &len);
	assert_int_equal(len, 1000);
	assert_memory_equal(big, want, 1000);
	expect_text(sv, "gone", "back\n");
	/* What did not change is still the image. */
	expect_list(sv, "data", ". .. a sub");
	expect_list(sv, "opq", ". .. new1");
	expect_text(sv, "replaced", "now a file\n");
	assert_int_equal(lstat_at(sv, "usr/bin/ls").st_nlink, 2);
}

/* Whether any host file under dir holds needle. */
static bool host_has(const char *dirpath, const char *needle)
{
	_cleanup_free_ char *cmd = xasprintf("grep -rqF -- '%s' '%s'", needle, dirpath);
	return system(cmd) == 0;
}

/* The object id of path in the writable layer name. */
static void upper_id(const char *dirpath, const char *path, uint8_t id[16])
{
	struct store *s = NULL;
	struct store_layer_reader *r = NULL;
	struct store_inode *ino = NULL;
	struct cc_error *err = NULL;

	ok(store_open(dirpath, key, false, &s, &err), &err);
	ok(store_layer_open(s, "upper:c1", &r, &err), &err);
	assert_int_equal(store_layer_lookup_path(r, path, &ino, &err), STORE_FOUND);
	memcpy(id, store_layer_inode_id(ino), 16);
	store_layer_close(r);
	store_close(s);
}

static void test_writable(void **state)
{
	_cleanup_free_ char *d = NULL, *a = NULL;
	struct store *s = NULL;
	struct cc_error *err = NULL;
	struct server sv;
	uint8_t id1[16], id2[16];
	(void)state;

	if (!have_fuse())
		skip();
	d = new_store();
	serve_at(&sv, d, "c1");
	check_image(&sv, false);
	do_changes(&sv);
	check_changes(&sv, CHANGED_ROOT);
	fsync_at(&sv, "new.txt");
	assert_int_equal(unserve(&sv), 0);
	assert_false(host_has(d, "user:x:1000"));

	/* Reloaded from the store: the same state. An unchanged file is not written again when
	 * another changes: its object stays. */
	upper_id(d, "new.txt", id1);
	serve_at(&sv, d, "c1");
	check_changes(&sv, CHANGED_ROOT);
	write_at(&sv, "other", O_CREAT, "other\n");
	fsync_at(&sv, "other");
	assert_int_equal(unserve(&sv), 0);
	upper_id(d, "new.txt", id2);
	assert_memory_equal(id1, id2, 16);

	/* A crash: what was persisted stays, what was not is gone, nothing half. */
	serve_at(&sv, d, "c1");
	write_at(&sv, "crash1", O_CREAT, "synced\n");
	fsync_at(&sv, "crash1");
	write_at(&sv, "crash2", O_CREAT, "not synced\n");
	a = at(&sv, "new.txt");
	assert_int_equal(unlink(a), 0);
	assert_int_equal(kill(sv.pid, SIGKILL), 0);
	assert_int_equal(unserve(&sv), 128 + SIGKILL);
	serve_at(&sv, d, "c1");
	expect_text(&sv, "crash1", "synced\n");
	expect_absent(&sv, "crash2");
	expect_text(&sv, "new.txt", "hello");
	expect_text(&sv, "other", "other\n");
	check_changes(&sv, ". .. becomesdir big crash1 d2 data dev etc gone lnk merge new.txt new2 "
			   "opq other replaced run usr");
	assert_int_equal(unserve(&sv), 0);

	/* Dropped: the image again, and gc keeps the lower layers whole. */
	ok(store_open(d, key, false, &s, &err), &err);
	assert_true(store_has_layer(s, "upper:c1"));
	ok(store_view_drop(s, "c1", &err), &err);
	assert_false(store_has_layer(s, "upper:c1"));
	assert_int_equal(store_view_drop(s, "c1", &err), -1);
	assert_int_equal(err->errnum, ENOENT);
	cc_error_free(&err);
	store_close(s);
	serve_at(&sv, d, NULL);
	check_image(&sv, false);
	assert_int_equal(unserve(&sv), 0);
}

/* A copy-up of a hard link, rename over a lower file, and a second container alongside. */
static void test_writable_more(void **state)
{
	_cleanup_free_ char *d = NULL, *a = NULL, *b = NULL;
	struct server sv;
	(void)state;

	if (!have_fuse())
		skip();
	d = new_store();
	serve_at(&sv, d, "c2");
	a = at(&sv, "etc/passwd"), b = at(&sv, "replaced");
	assert_int_equal(rename(a, b), 0);
	free(a), free(b), a = b = NULL;
	expect_text(&sv, "replaced", "root:x:0:0:root:/root:/bin/sh\n");
	expect_absent(&sv, "etc/passwd");
	a = at(&sv, "becomesdir/in");
	assert_int_equal(unlink(a), 0);
	free(a), a = NULL;
	a = at(&sv, "becomesdir");
	assert_int_equal(rmdir(a), 0);
	free(a), a = NULL;
	write_at(&sv, "becomesdir", O_CREAT | O_EXCL, "file again\n");
	/* A lower directory with lower content cannot be renamed (as overlayfs: EXDEV). */
	a = at(&sv, "data"), b = at(&sv, "data2");
	assert_int_equal(rename(a, b), -1);
	assert_int_equal(errno, EXDEV);
	free(a), free(b), a = b = NULL;
	assert_int_equal(unserve(&sv), 0);
	serve_at(&sv, d, "c2");
	expect_text(&sv, "replaced", "root:x:0:0:root:/root:/bin/sh\n");
	expect_absent(&sv, "etc/passwd");
	expect_text(&sv, "becomesdir", "file again\n");
	expect_list(&sv, "etc", ". .. cap hosts");
	assert_int_equal(unserve(&sv), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_missing_layer),
		cmocka_unit_test_teardown(test_read_only, stop_running),
		cmocka_unit_test_teardown(test_tamper, stop_running),
		cmocka_unit_test_teardown(test_writable, stop_running),
		cmocka_unit_test_teardown(test_writable_more, stop_running),
	};
	const char *why = geteuid() != 0			  ? "not root"
			  : access("/dev/fuse", R_OK | W_OK) != 0 ? "no /dev/fuse"
								  : NULL;
	if (why) {
		/* Under meson's TAP harness a skip is a plan of none (exit 77 would read as an
		 * error there); anywhere else the exit status 77 of automake. */
		const char *out = getenv("CMOCKA_MESSAGE_OUTPUT");
		printf("1..0 # SKIP store-view: %s\n", why);
		fprintf(stderr, "store-view: skipped: %s\n", why);
		return out && !strcasecmp(out, "TAP") ? 0 : 77;
	}
	/* Mounts of this test stay in a namespace of its own. */
	if ((unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0))
		fprintf(stderr, "# store-view: no mount namespace of its own: %s\n",
			strerror(errno));
	return cmocka_run_group_tests(tests, tmproot_setup, tmproot_teardown);
}
