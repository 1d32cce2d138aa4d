// SPDX-License-Identifier: Apache-2.0
/*
 * A flattened copy of an image: its overlay-format layers applied in order onto an empty
 * directory, as overlayfs would show them (a 0/0 character device removes the entry below, an
 * opaque directory hides what lower layers put in it). This is the rootfs where overlay is not
 * available, and what `umoci unpack` produces.
 *
 * The destination is only ever reached through directory fds opened with O_NOFOLLOW, one
 * component at a time: symlinks that layers put there are never followed.
 *
 * Trees of any depth: the walk keeps its own stack (no recursion). Each level holds the names of
 * its source directory (read at once), and only the deepest FLATTEN_OPEN_LEVELS levels keep their
 * directories open; a closed level is opened again from its child through ".." and checked to be
 * the same directory (device and inode), on both sides. Files keep their holes (cc_copy_sparse).
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
#include "util/strv.h"

#define FLATTEN_OPEN_LEVELS 32

struct link_seen {
	dev_t dev;
	ino_t ino;
	char *path; /* destination path relative to the root */
};

/* One directory being applied: the layer's (s) onto the destination's (d). */
struct level {
	int s, d; /* O_RDONLY|O_DIRECTORY fds, -1 while closed */
	dev_t sdev, ddev;
	ino_t sino, dino;
	char **names; /* entries of the layer's directory */
	size_t next;
	char *path;	/* "" for the root, else "/a/b" (messages, hardlink paths) */
	char *name;	/* in the parent */
	struct stat st; /* the layer's directory: its metadata is applied after its entries */
};

struct flattener {
	int root; /* destination root fd */
	struct link_seen *links;
	size_t n_links;
	struct level *lv;
	size_t depth;
	struct cc_error **err;
};

/* Paths in messages are shortened (trees can be deep): the start and the end of the path. */
static int fail_at(struct flattener *f, const char *path, const char *what)
{
	size_t len = strlen(path);
	if (len <= 256)
		return cc_error_errno(f->err, "flatten: %s %s", what, path);
	return cc_error_errno(f->err, "flatten: %s %.128s...%s", what, path, path + len - 96);
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

/* Remove everything in the directory dirfd. */
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
	int saved = errno;
	closedir(d);
	errno = saved;
	return ret;
}

/* The names in the directory dirfd (NULL-terminated; never NULL on success). */
static char **list_dir(int dirfd)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	if (!d) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	char **names = xcalloc(1, sizeof(char *));
	struct dirent *de;
	errno = 0;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			cc_strv_push(&names, de->d_name);
	int saved = errno;
	closedir(d);
	if (saved) {
		cc_strv_free(names);
		errno = saved;
		return NULL;
	}
	return names;
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
	if (in < 0 || out < 0 || cc_copy_sparse(in, out, st->st_size) < 0)
		return fail_at(f, path, "copy");
	if (st->st_nlink > 1) {
		f->links = xreallocarray(f->links, f->n_links + 1, sizeof(*f->links));
		f->links[f->n_links++] =
		    (struct link_seen){ st->st_dev, st->st_ino, xstrdup(path + 1) };
	}
	return copy_meta(f, sdir, ddir, name, st, path);
}

/* ---- the stack of directories ---- */

static void level_close(struct level *l)
{
	if (l->s >= 0)
		close(l->s);
	if (l->d >= 0)
		close(l->d);
	l->s = l->d = -1;
}

/* Enter a directory: s and d are its fds (taken over, closed on failure). */
static int push(struct flattener *f, int s, int d, const char *name, const char *path,
		const struct stat *st)
{
	struct stat ss, ds;
	char **names = NULL;
	if (fstat(s, &ss) < 0 || fstat(d, &ds) < 0 || !(names = list_dir(s))) {
		fail_at(f, *path ? path : "/", "read directory");
		close(s);
		close(d);
		return -1;
	}
	f->lv = xreallocarray(f->lv, f->depth + 1, sizeof(*f->lv));
	f->lv[f->depth++] = (struct level){
		.s = s,
		.d = d,
		.sdev = ss.st_dev,
		.sino = ss.st_ino,
		.ddev = ds.st_dev,
		.dino = ds.st_ino,
		.names = names,
		.path = xstrdup(path),
		.name = xstrdup(name),
		.st = st ? *st : ss,
	};
	/* Bounded descriptors: the root level (index 0) is never closed. */
	if (f->depth > FLATTEN_OPEN_LEVELS + 1)
		level_close(&f->lv[f->depth - 1 - FLATTEN_OPEN_LEVELS]);
	return 0;
}

static void pop(struct flattener *f)
{
	struct level *l = &f->lv[--f->depth];
	level_close(l);
	cc_strv_free(l->names);
	free(l->path);
	free(l->name);
}

static int reopen_one(int child, dev_t dev, ino_t ino)
{
	struct stat st;
	int fd = openat(child, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0 && (fstat(fd, &st) < 0 || st.st_dev != dev || st.st_ino != ino)) {
		close(fd);
		errno = ESTALE; /* moved while we were below it */
		return -1;
	}
	return fd;
}

/* Open level p again from its child c (open). */
static int reopen(struct flattener *f, struct level *p, struct level *c)
{
	p->s = reopen_one(c->s, p->sdev, p->sino);
	p->d = p->s < 0 ? -1 : reopen_one(c->d, p->ddev, p->dino);
	if (p->s < 0 || p->d < 0) {
		fail_at(f, *p->path ? p->path : "/", "reopen directory");
		level_close(p);
		return -1;
	}
	return 0;
}

/* A directory entry of the layer: merged into (or replacing) the destination's, then entered. */
static int enter_dir(struct flattener *f, struct level *l, const char *name, const struct stat *st,
		     bool have, const struct stat *cur, const char *path)
{
	if (have && !S_ISDIR(cur->st_mode) && cc_remove_at(l->d, name) < 0)
		return fail_at(f, path, "replace");
	if ((!have || !S_ISDIR(cur->st_mode)) && mkdirat(l->d, name, 0700) < 0)
		return fail_at(f, path, "mkdir");
	int s = openat(l->s, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int d = openat(l->d, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (s < 0 || d < 0) {
		int e = errno;
		if (s >= 0)
			close(s);
		if (d >= 0)
			close(d);
		errno = e;
		return fail_at(f, path, "open directory");
	}
	if (is_opaque(s) && clear_dir(d) < 0) {
		int e = errno;
		close(s);
		close(d);
		errno = e;
		return fail_at(f, path, "clear opaque directory");
	}
	return push(f, s, d, name, path, st);
}

/* One entry of the current (deepest) level. */
static int apply_entry(struct flattener *f, const char *name)
{
	struct level *l = &f->lv[f->depth - 1];
	struct stat st, cur;
	_cleanup_free_ char *path = xasprintf("%s/%s", l->path, name);
	if (fstatat(l->s, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return fail_at(f, path, "stat layer entry");
	bool have = fstatat(l->d, name, &cur, AT_SYMLINK_NOFOLLOW) == 0;
	if (is_whiteout(&st))
		return cc_remove_at(l->d, name) < 0 ? fail_at(f, path, "remove") : 0;
	if (S_ISDIR(st.st_mode))
		return enter_dir(f, l, name, &st, have, &cur, path);
	if (have && cc_remove_at(l->d, name) < 0)
		return fail_at(f, path, "replace");
	if (S_ISREG(st.st_mode))
		return copy_file(f, l->s, l->d, name, &st, path);
	if (S_ISLNK(st.st_mode)) {
		char target[PATH_MAX];
		ssize_t n = readlinkat(l->s, name, target, sizeof(target) - 1);
		if (n < 0)
			return fail_at(f, path, "readlink");
		target[n] = '\0';
		if (symlinkat(target, l->d, name) < 0)
			return fail_at(f, path, "symlink");
	} else if (mknodat(l->d, name, st.st_mode & (S_IFMT | 07777), st.st_rdev) < 0) {
		return fail_at(f, path, "mknod");
	}
	return copy_meta(f, l->s, l->d, name, &st, path);
}

/* One layer onto the destination: depth-first, directories' metadata after their entries. */
static int apply_layer(struct flattener *f, int layer)
{
	int s = dup(layer), d = dup(f->root);
	if (s < 0 || d < 0) {
		if (s >= 0)
			close(s);
		if (d >= 0)
			close(d);
		return fail_at(f, "/", "open");
	}
	if (push(f, s, d, "", "", NULL) < 0)
		return -1;
	int ret = 0;
	while (ret == 0 && f->depth > 0) {
		struct level *l = &f->lv[f->depth - 1];
		if (l->names[l->next]) {
			ret = apply_entry(f, l->names[l->next++]);
			continue;
		}
		if (f->depth == 1) {
			pop(f);
			break;
		}
		struct level *p = &f->lv[f->depth - 2];
		if (p->s < 0 && reopen(f, p, l) < 0)
			ret = -1;
		else
			ret = copy_meta(f, p->s, p->d, l->name, &l->st, l->path);
		pop(f);
	}
	while (f->depth > 0)
		pop(f);
	return ret;
}

/* 1 if the directory dirfd is empty, 0 if not, -1 with errno. */
static int dir_is_empty(int dirfd)
{
	_cleanup_strv_ char **names = list_dir(dirfd);
	return names ? !names[0] : -1;
}

int img_flatten(char *const *layer_dirs, size_t n, const char *dest, struct cc_error **err)
{
	bool made = mkdir(dest, 0755) == 0;
	if (!made && errno != EEXIST)
		return cc_error_errno(err, "flatten: mkdir %s", dest);
	struct flattener f = { .err = err };
	f.root = open(dest, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (f.root < 0)
		return cc_error_errno(err, "flatten: open %s", dest);
	/* Never merged into what is there: on failure, all of dest's content is ours to remove. */
	int empty = made ? 1 : dir_is_empty(f.root);
	if (empty <= 0) {
		if (empty < 0)
			cc_error_errno(err, "flatten: read %s", dest);
		else
			cc_error_set(err, 0, "flatten: %s is not empty", dest);
		close(f.root);
		return -1;
	}
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
			ret = apply_layer(&f, s);
	}
	for (size_t k = 0; k < f.n_links; k++)
		free(f.links[k].path);
	free(f.links);
	free(f.lv);
	/* Nothing half-made is left: what was created goes (dest too, if it was made here). */
	if (ret < 0 && (clear_dir(f.root) < 0 || (made && rmdir(dest) < 0)) && err && *err) {
		char *msg = xasprintf("%s; removing what was unpacked in %s failed too: %s",
				      (*err)->msg, dest, strerror(errno));
		free((*err)->msg);
		(*err)->msg = msg;
	}
	close(f.root);
	return ret;
}
