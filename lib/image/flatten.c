// SPDX-License-Identifier: Apache-2.0
/*
 * A flattened copy of an image: its overlay-format layers applied in order onto an empty
 * directory, as overlayfs would show them (a 0/0 character device removes the entry below, an
 * opaque directory hides what lower layers put in it). This is the rootfs where overlay is not
 * available, and what `umoci unpack` produces.
 *
 * The destination is only ever reached through directory fds opened with O_NOFOLLOW, one
 * component at a time: symlinks that layers put there are never followed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include "image/flatten.h"
#include "util/cleanup.h"
#include "util/fs.h"

#define MAX_DEPTH 256

struct link_seen {
	dev_t dev;
	ino_t ino;
	char *path; /* destination path relative to the root */
};

struct flattener {
	int root; /* destination root fd */
	struct link_seen *links;
	size_t n_links;
	struct cc_error **err;
};

static int fail_at(struct flattener *f, const char *path, const char *what)
{
	return cc_error_errno(f->err, "flatten: %s %s", what, path);
}

static bool is_whiteout(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0);
}

static bool is_opaque(int dirfd)
{
	char v[2];
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", dirfd);
	return (getxattr(path, "trusted.overlay.opaque", v, sizeof(v)) == 1 && v[0] == 'y') ||
	       (getxattr(path, "user.overlay.opaque", v, sizeof(v)) == 1 && v[0] == 'y');
}

static int clear_dir(int dirfd)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	if (!d) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	struct dirent *de;
	int ret = 0;
	while (ret == 0 && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			ret = cc_remove_at(dirfd, de->d_name);
	closedir(d);
	return ret;
}

/* xattrs except overlayfs' own markers, between /proc/self/fd paths of O_PATH fds (the
 * magic link resolves to the file itself, a symlink included). */
static void copy_xattrs(const char *src, const char *dst)
{
	char names[8192];
	ssize_t n = listxattr(src, names, sizeof(names));
	for (ssize_t off = 0; n > 0 && off < n; off += (ssize_t)strlen(names + off) + 1) {
		const char *name = names + off;
		if (!strncmp(name, "trusted.overlay.", 16) || !strncmp(name, "user.overlay.", 13))
			continue;
		char value[65536];
		ssize_t vlen = getxattr(src, name, value, sizeof(value));
		if (vlen >= 0)
			setxattr(dst, name, value, (size_t)vlen, 0);
	}
}

/* Owner, mode, xattrs and times of st onto name (not followed). */
static int copy_meta(struct flattener *f, int sdir, int ddir, const char *name,
		     const struct stat *st, const char *path)
{
	if (fchownat(ddir, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0 && errno != EPERM)
		return fail_at(f, path, "chown");
	if (!S_ISLNK(st->st_mode) && fchmodat(ddir, name, st->st_mode & 07777, 0) < 0)
		return fail_at(f, path, "chmod");
	int s = openat(sdir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	int d = openat(ddir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (s >= 0 && d >= 0) {
		char sp[64], dp[64];
		snprintf(sp, sizeof(sp), "/proc/self/fd/%d", s);
		snprintf(dp, sizeof(dp), "/proc/self/fd/%d", d);
		copy_xattrs(sp, dp);
	}
	if (s >= 0)
		close(s);
	if (d >= 0)
		close(d);
	struct timespec ts[2] = { st->st_atim, st->st_mtim };
	if (utimensat(ddir, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return fail_at(f, path, "set times of");
	return 0;
}

static int copy_file(struct flattener *f, int sdir, int ddir, const char *name,
		     const struct stat *st, const char *path)
{
	/* Hardlinks inside one layer stay one inode. */
	if (st->st_nlink > 1)
		for (size_t i = 0; i < f->n_links; i++)
			if (f->links[i].dev == st->st_dev && f->links[i].ino == st->st_ino)
				return linkat(f->root, f->links[i].path, ddir, name, 0) < 0
					   ? fail_at(f, path, "link")
					   : 0;
	_cleanup_close_ int in = openat(sdir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	_cleanup_close_ int out =
	    openat(ddir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (in < 0 || out < 0)
		return fail_at(f, path, "copy");
	for (off_t left = st->st_size; left > 0;) {
		ssize_t n = copy_file_range(in, NULL, out, NULL, (size_t)left, 0);
		if (n <= 0)
			return fail_at(f, path, "copy");
		left -= n;
	}
	if (st->st_nlink > 1) {
		f->links = xreallocarray(f->links, f->n_links + 1, sizeof(*f->links));
		f->links[f->n_links++] =
		    (struct link_seen){ st->st_dev, st->st_ino, xstrdup(path + 1) };
	}
	return copy_meta(f, sdir, ddir, name, st, path);
}

static int apply_dir(struct flattener *f, int sdir, int ddir, const char *path, int depth);

static int apply_entry(struct flattener *f, int sdir, int ddir, const char *name,
		       const char *dirpath, int depth)
{
	struct stat st, cur;
	_cleanup_free_ char *path = xasprintf("%s/%s", dirpath, name);
	if (fstatat(sdir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return fail_at(f, path, "stat layer entry");
	bool have = fstatat(ddir, name, &cur, AT_SYMLINK_NOFOLLOW) == 0;
	if (is_whiteout(&st))
		return cc_remove_at(ddir, name) < 0 ? fail_at(f, path, "remove") : 0;
	if (S_ISDIR(st.st_mode)) {
		if (have && !S_ISDIR(cur.st_mode) && cc_remove_at(ddir, name) < 0)
			return fail_at(f, path, "replace");
		if ((!have || !S_ISDIR(cur.st_mode)) && mkdirat(ddir, name, 0700) < 0)
			return fail_at(f, path, "mkdir");
		_cleanup_close_ int s =
		    openat(sdir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		_cleanup_close_ int d =
		    openat(ddir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (s < 0 || d < 0)
			return fail_at(f, path, "open directory");
		if (is_opaque(s) && clear_dir(d) < 0)
			return fail_at(f, path, "clear opaque directory");
		if (apply_dir(f, s, d, path, depth + 1) < 0)
			return -1;
		return copy_meta(f, sdir, ddir, name, &st, path);
	}
	if (have && cc_remove_at(ddir, name) < 0)
		return fail_at(f, path, "replace");
	if (S_ISREG(st.st_mode))
		return copy_file(f, sdir, ddir, name, &st, path);
	if (S_ISLNK(st.st_mode)) {
		char target[PATH_MAX];
		ssize_t n = readlinkat(sdir, name, target, sizeof(target) - 1);
		if (n < 0)
			return fail_at(f, path, "readlink");
		target[n] = '\0';
		if (symlinkat(target, ddir, name) < 0)
			return fail_at(f, path, "symlink");
	} else if (mknodat(ddir, name, st.st_mode & (S_IFMT | 07777), st.st_rdev) < 0) {
		return fail_at(f, path, "mknod");
	}
	return copy_meta(f, sdir, ddir, name, &st, path);
}

static int apply_dir(struct flattener *f, int sdir, int ddir, const char *path, int depth)
{
	if (depth > MAX_DEPTH)
		return cc_error_set(f->err, ELOOP, "flatten: %s: nested too deep", path);
	int fd = dup(sdir);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	if (!d) {
		if (fd >= 0)
			close(fd);
		return fail_at(f, path, "read directory");
	}
	rewinddir(d);
	struct dirent *de;
	int ret = 0;
	while (ret == 0 && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			ret = apply_entry(f, sdir, ddir, de->d_name, path, depth);
	closedir(d);
	return ret;
}

int img_flatten(char *const *layer_dirs, size_t n, const char *dest, struct cc_error **err)
{
	if (mkdir(dest, 0755) < 0 && errno != EEXIST)
		return cc_error_errno(err, "flatten: mkdir %s", dest);
	struct flattener f = { .err = err };
	f.root = open(dest, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (f.root < 0)
		return cc_error_errno(err, "flatten: open %s", dest);
	int ret = 0;
	for (size_t i = 0; i < n && ret == 0; i++) {
		_cleanup_close_ int s =
		    open(layer_dirs[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (s < 0) {
			ret = cc_error_errno(err, "flatten: open layer %s", layer_dirs[i]);
			break;
		}
		/* Hardlinks are per layer: a later layer's file is a new inode. */
		for (size_t k = 0; k < f.n_links; k++)
			free(f.links[k].path);
		f.n_links = 0;
		if (is_opaque(s) && clear_dir(f.root) < 0)
			ret = cc_error_errno(err, "flatten: clear %s", dest);
		else
			ret = apply_dir(&f, s, f.root, "", 0);
	}
	for (size_t k = 0; k < f.n_links; k++)
		free(f.links[k].path);
	free(f.links);
	close(f.root);
	return ret;
}
