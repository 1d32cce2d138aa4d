// SPDX-License-Identifier: Apache-2.0
/*
 * Layer unpacking. libarchive parses the tar stream; everything that touches the filesystem is
 * here, relative to directory fds obtained with openat2(RESOLVE_IN_ROOT) below the layer root:
 *  - the parent directory of an entry is resolved inside the root (symlinks in it are followed
 *    as if the root were "/", so they can never lead outside), created like `mkdir -p` if needed;
 *  - the final component is never followed: an existing entry is unlinked (or its tree removed)
 *    and the new one created with O_EXCL/mkdirat/symlinkat/mknodat/linkat;
 *  - metadata goes through the fd of the new object or *at calls with AT_SYMLINK_NOFOLLOW.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include "image/tar-internal.h"
#include "image/unpack.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strv.h"

/* Deepest tree clear_lower walks (APPLY mode only; one fd per level). Removal itself
 * (cc_remove_at) has no depth limit. */
#define MAX_TREE_DEPTH 256

struct unpacker {
	int rootfd;
	const struct img_unpack_opts *o;
	struct img_unpack_stats *st;
	struct img_tar t;
	struct img_pathset set;
	char **whiteouts; /* OVERLAY: the whiteout devices made, for drop_moot_whiteouts */
};

/* Remember that the layer created `path` (APPLY mode; in OVERLAY mode only if a directory)
 * and, implicitly, its ancestors: the layer's own directories, as opposed to those made only
 * to hold its whiteouts. Ancestors of an own path are own: the walk up stops at the first. */
static void record_created(struct unpacker *u, const char *path, bool is_dir)
{
	size_t len = strlen(path);
	if (strcmp(path, ".") == 0)
		return;
	/* The path itself may already be there (a directory's record); ancestors are recorded
	 * with their own ancestors, so the walk up stops at the first one found. OVERLAY only
	 * needs the directories (whose whiteout makes them opaque rather than removing them). */
	if (u->o->mode == IMG_UNPACK_APPLY || is_dir)
		img_pathset_add(&u->set, path, len)->own = true;
	for (;;) {
		while (len > 0 && path[len - 1] != '/')
			len--;
		if (len == 0)
			return;
		len--; /* drop the '/' */
		struct img_path *n = img_pathset_add(&u->set, path, len);
		if (n->own)
			return;
		n->own = true;
	}
}

static void proc_fd_path(char buf[static 32], int fd)
{
	snprintf(buf, 32, "/proc/self/fd/%d", fd);
}

/* ---- filesystem helpers ---- */

/*
 * Make room for a new entry `name` in pfd: returns 1 if keep_dir and a directory is there (it is
 * kept: merge), 0 when the name is free (whatever was there is gone), -1 on error.
 */
static int make_room(int pfd, const char *name, bool keep_dir, struct cc_error **err)
{
	struct stat st;
	if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0;
		return cc_error_errno(err, "stat");
	}
	if (S_ISDIR(st.st_mode)) {
		if (keep_dir)
			return 1;
		if (cc_remove_at(pfd, name) < 0)
			return cc_error_errno(err, "remove existing directory");
		return 0;
	}
	if (unlinkat(pfd, name, 0) < 0)
		return cc_error_errno(err, "unlink existing entry");
	return 0;
}

/* ---- whiteouts in overlayfs format ---- */

static bool is_whiteout_dev(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0);
}

/* OVERLAY: mark the directory fd (not O_PATH), `path` in the layer, opaque: overlayfs shows
 * nothing of what lower layers have below it. */
static int set_opaque(struct unpacker *u, int fd, const char *path, struct cc_error **err)
{
	if (fsetxattr(fd, "trusted.overlay.opaque", "y", 1, 0) < 0 &&
	    /* Unprivileged overlayfs (userxattr) reads user.overlay.* instead. */
	    !(u->o->rootless && errno == EPERM &&
	      fsetxattr(fd, "user.overlay.opaque", "y", 1, 0) == 0))
		return cc_error_errno(err, "set opaque xattr");
	img_pathset_add(&u->set, path, strlen(path))->opaque = true;
	return 0;
}

/*
 * OVERLAY: the whiteout device `name` in pfd becomes an opaque directory (0755, the mode of
 * implicit parents). A layer that whites out a path and also has a directory there, in either
 * order, hides the lower layers' directory and keeps its own entries in it: in overlayfs
 * format, an opaque directory. The layer's directory started empty, so a whiteout device in
 * it is one of this layer's whiteouts.
 */
static int whiteout_to_dir(struct unpacker *u, int pfd, const char *name, const char *path,
			   struct cc_error **err)
{
	if (unlinkat(pfd, name, 0) < 0)
		return cc_error_errno(err, "replace whiteout \"%s\"", name);
	if (mkdirat(pfd, name, 0755) < 0)
		return cc_error_errno(err, "mkdir \"%s\"", name);
	_cleanup_close_ int fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return cc_error_errno(err, "open directory \"%s\"", name);
	return set_opaque(u, fd, path, err);
}

/* OVERLAY: every whiteout device on the way to the directory `dir` becomes an opaque
 * directory. Stops quietly at the first missing component or one that cannot be opened: the
 * caller creates or reports it. */
static int whiteouts_to_dirs(struct unpacker *u, const char *dir, struct cc_error **err)
{
	_cleanup_free_ char *p = xstrdup(dir);
	for (char *c = p;;) {
		char *slash = strchr(c, '/');
		if (slash)
			*slash = '\0';
		const char *base;
		_cleanup_free_ char *parent = img_tar_split_path(p, &base);
		_cleanup_close_ int pfd =
		    cc_open_in_root(u->rootfd, parent, O_PATH | O_DIRECTORY, 0);
		struct stat st;
		if (pfd < 0 || fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return 0;
		if (is_whiteout_dev(&st) && whiteout_to_dir(u, pfd, base, p, err) < 0)
			return -1;
		if (!slash)
			return 0;
		*slash = '/';
		c = slash + 1;
	}
}

/* O_PATH fd of the directory `dir` inside the root, created (0755) if missing. */
static int open_parent(struct unpacker *u, const char *dir, struct cc_error **err)
{
	int fd = cc_open_in_root(u->rootfd, dir, O_PATH | O_DIRECTORY, 0);
	if (fd >= 0)
		return fd;
	if (errno == ENOTDIR && u->o->mode == IMG_UNPACK_OVERLAY && strcmp(dir, ".") != 0) {
		if (whiteouts_to_dirs(u, dir, err) < 0)
			return -1;
		fd = cc_open_in_root(u->rootfd, dir, O_PATH | O_DIRECTORY, 0);
		if (fd >= 0)
			return fd;
	}
	if (errno != ENOENT)
		return cc_error_errno(err, "open parent directory \"%s\"", dir);
	/* The entry's name is in the message already: not its (long) parent again. */
	struct cc_error *e = NULL;
	fd = cc_mkdir_p_in_root(u->rootfd, dir, 0755, &e);
	if (fd < 0) {
		int errnum = e ? e->errnum : errno;
		cc_error_free(&e);
		return cc_error_set(err, errnum, "create parent directory");
	}
	return fd;
}

/* ---- metadata ---- */

static int set_owner(struct unpacker *u, int fd, struct archive_entry *e, struct cc_error **err)
{
	int64_t uid = archive_entry_uid(e), gid = archive_entry_gid(e);
	if (uid < 0 || uid >= UINT32_MAX || gid < 0 || gid >= UINT32_MAX)
		return img_unpack_fail(err, EINVAL, "owner %lld:%lld out of range", (long long)uid,
				       (long long)gid);
	if (fchownat(fd, "", (uid_t)uid, (gid_t)gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	if (u->o->rootless && (errno == EPERM || errno == EINVAL))
		return 0;
	return cc_error_errno(err, "chown %lld:%lld", (long long)uid, (long long)gid);
}

/*
 * Set the entry's xattrs on the object fd (a real fd if !opath, else an O_PATH fd: then set
 * through /proc/self/fd, which reaches the object itself, even a symlink).
 */
static int set_xattrs(struct unpacker *u, int fd, bool opath, bool is_link, struct archive_entry *e,
		      struct cc_error **err)
{
	int count = archive_entry_xattr_reset(e);
	const char *name;
	const void *value;
	size_t size;
	char path[32];

	if (count <= 0)
		return 0;
	if (count > IMG_UNPACK_MAX_XATTRS)
		return img_unpack_fail(err, E2BIG, "more than %d xattrs", IMG_UNPACK_MAX_XATTRS);
	proc_fd_path(path, fd);
	while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
		if (!name || !*name || strlen(name) > IMG_XATTR_NAME_LIMIT)
			return img_unpack_fail(err, EINVAL, "invalid xattr name");
		if (size > IMG_XATTR_VALUE_LIMIT)
			return img_unpack_fail(err, E2BIG, "xattr %s: value larger than %u bytes",
					       name, IMG_XATTR_VALUE_LIMIT);
		/* The layer must not forge overlayfs metadata (whiteouts are the only way). */
		if (img_tar_overlay_xattr(name))
			continue;
		/* The kernel refuses user.* xattrs on symlinks. */
		if (is_link && strncmp(name, "user.", 5) == 0)
			continue;
		int r = opath ? setxattr(path, name, value, size, 0)
			      : fsetxattr(fd, name, value, size, 0);
		if (r == 0)
			continue;
		if (u->o->rootless && (errno == EPERM || errno == EOPNOTSUPP))
			continue;
		return cc_error_errno(err, "setxattr %s", name);
	}
	return 0;
}

static void entry_times(struct archive_entry *e, struct timespec ts[2])
{
	ts[1].tv_sec = archive_entry_mtime(e);
	ts[1].tv_nsec = archive_entry_mtime_nsec(e);
	if (!archive_entry_mtime_is_set(e))
		ts[1].tv_nsec = UTIME_OMIT;
	if (archive_entry_atime_is_set(e)) {
		ts[0].tv_sec = archive_entry_atime(e);
		ts[0].tv_nsec = archive_entry_atime_nsec(e);
	} else {
		ts[0] = ts[1];
	}
	for (int i = 0; i < 2; i++)
		if (ts[i].tv_nsec != UTIME_OMIT && (ts[i].tv_nsec < 0 || ts[i].tv_nsec > 999999999))
			ts[i].tv_nsec = 0;
}

static mode_t entry_perm(struct archive_entry *e)
{
	return archive_entry_perm(e) & 07777;
}

/* ---- entry kinds ---- */

static int write_dense(int fd, const char *p, size_t len, off_t off)
{
	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		off += n;
		len -= (size_t)n;
	}
	return 0;
}

static int copy_data(struct unpacker *u, int fd, struct archive_entry *e, struct cc_error **err)
{
	const void *block;
	size_t size;
	int64_t off, end = 0;
	for (;;) {
		int r = img_tar_data(&u->t, &block, &size, &off, err);
		if (r <= 0) {
			if (r < 0)
				return -1;
			break;
		}
		/* The file is new: blocks of zeros stay holes, like the holes of a sparse entry
		 * (a small layer must not fill the disk with a huge file of zeros). Only beyond
		 * what was written already: a sparse map may overlap itself. */
		if (off >= end ? cc_pwrite_sparse(fd, block, size, (off_t)off) < 0
			       : write_dense(fd, block, size, (off_t)off) < 0)
			return cc_error_errno(err, "write");
		if (off + (la_int64_t)size > end)
			end = off + (la_int64_t)size;
		u->st->bytes += size;
	}
	if (archive_entry_size_is_set(e) && archive_entry_size(e) >= 0) {
		struct stat st;
		if (fstat(fd, &st) < 0)
			return cc_error_errno(err, "stat");
		/* Sparse files may end with a hole. */
		if (st.st_size < archive_entry_size(e) && ftruncate(fd, archive_entry_size(e)) < 0)
			return cc_error_errno(err, "truncate");
	}
	return 0;
}

static int do_regular(struct unpacker *u, int pfd, const char *name, struct archive_entry *e,
		      struct cc_error **err)
{
	struct timespec ts[2];
	if (make_room(pfd, name, false, err) < 0)
		return -1;
	_cleanup_close_ int fd =
	    openat(pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return cc_error_errno(err, "create");
	if (copy_data(u, fd, e, err) < 0)
		return -1;
	/* chown clears setuid/setgid and security.capability: owner, then mode, then xattrs. */
	if (set_owner(u, fd, e, err) < 0)
		return -1;
	if (fchmod(fd, entry_perm(e)) < 0)
		return cc_error_errno(err, "chmod");
	if (set_xattrs(u, fd, false, false, e, err) < 0)
		return -1;
	entry_times(e, ts);
	if (futimens(fd, ts) < 0)
		return cc_error_errno(err, "utimes");
	return 0;
}

static int do_directory(struct unpacker *u, int pfd, const char *name, const char *path,
			struct archive_entry *e, struct cc_error **err)
{
	struct stat st;
	/* OVERLAY: a directory in place of this layer's whiteout hides the lower ones. */
	bool hides = u->o->mode == IMG_UNPACK_OVERLAY &&
		     fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && is_whiteout_dev(&st);
	int r = make_room(pfd, name, true, err);
	if (r < 0)
		return -1;
	if (r == 0 && mkdirat(pfd, name, 0700) < 0)
		return cc_error_errno(err, "mkdir");
	_cleanup_close_ int fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return cc_error_errno(err, "open directory");
	if (hides && set_opaque(u, fd, path, err) < 0)
		return -1;
	if (set_owner(u, fd, e, err) < 0)
		return -1;
	if (set_xattrs(u, fd, false, false, e, err) < 0)
		return -1;
	if (fstat(fd, &st) < 0)
		return cc_error_errno(err, "stat");
	/* Mode and times last: later entries change the mtime (and need a writable directory). */
	struct img_path *n = img_pathset_add(&u->set, path, strlen(path));
	n->dir = true;
	n->mode = entry_perm(e);
	n->dev = st.st_dev;
	n->ino = st.st_ino;
	entry_times(e, n->ts);
	return 0;
}

/* Metadata of a symlink, device or fifo just created as `name` in pfd. */
static int special_meta(struct unpacker *u, int pfd, const char *name, struct archive_entry *e,
			bool is_link, struct cc_error **err)
{
	struct timespec ts[2];
	_cleanup_close_ int fd = openat(pfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return cc_error_errno(err, "open");
	if (set_owner(u, fd, e, err) < 0)
		return -1;
	if (!is_link && fchmodat(pfd, name, entry_perm(e), AT_SYMLINK_NOFOLLOW) < 0)
		return cc_error_errno(err, "chmod");
	if (set_xattrs(u, fd, true, is_link, e, err) < 0)
		return -1;
	entry_times(e, ts);
	if (utimensat(pfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return cc_error_errno(err, "utimes");
	return 0;
}

static int do_symlink(struct unpacker *u, int pfd, const char *name, struct archive_entry *e,
		      struct cc_error **err)
{
	const char *target = archive_entry_symlink(e);
	if (!target || !*target)
		return img_unpack_fail(err, EINVAL, "empty symlink target");
	if (strlen(target) >= PATH_MAX)
		return img_unpack_fail(err, ENAMETOOLONG, "symlink target longer than %d bytes",
				       PATH_MAX - 1);
	if (make_room(pfd, name, false, err) < 0)
		return -1;
	if (symlinkat(target, pfd, name) < 0)
		return cc_error_errno(err, "symlink");
	return special_meta(u, pfd, name, e, true, err);
}

static int do_node(struct unpacker *u, int pfd, const char *name, struct archive_entry *e,
		   mode_t type, struct cc_error **err)
{
	dev_t dev = 0;
	if (type == S_IFCHR || type == S_IFBLK)
		dev = makedev(archive_entry_rdevmajor(e), archive_entry_rdevminor(e));
	if (make_room(pfd, name, false, err) < 0)
		return -1;
	if (mknodat(pfd, name, type | (entry_perm(e) & 0777), dev) < 0)
		return cc_error_errno(err, "mknod");
	return special_meta(u, pfd, name, e, false, err);
}

static int do_hardlink(struct unpacker *u, int pfd, const char *name, const char *path,
		       const char *rawtarget, struct cc_error **err)
{
	struct stat st;
	_cleanup_free_ char *target = NULL;
	int k = img_tar_link_target(path, rawtarget, &target, err);
	if (k <= 0)
		return k; /* 0: a link to itself, nothing to do */
	const char *tbase;
	_cleanup_free_ char *tdir = img_tar_split_path(target, &tbase);
	_cleanup_close_ int tfd = cc_open_in_root(u->rootfd, tdir, O_PATH | O_DIRECTORY, 0);
	if (tfd < 0 || fstatat(tfd, tbase, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return cc_error_errno(err, "hardlink target \"%s\"", target);
	if (S_ISDIR(st.st_mode))
		return img_unpack_fail(err, EPERM, "hardlink target \"%s\" is a directory", target);
	/* Already a link to the same inode (e.g. through a symlinked parent): nothing to do, and
	 * unlinking it first would remove the target. */
	struct stat cur;
	if (fstatat(pfd, name, &cur, AT_SYMLINK_NOFOLLOW) == 0 && cur.st_dev == st.st_dev &&
	    cur.st_ino == st.st_ino)
		return 0; /* already the same inode */
	if (make_room(pfd, name, false, err) < 0)
		return -1;
	if (linkat(tfd, tbase, pfd, name, 0) < 0)
		return cc_error_errno(err, "link to \"%s\"", target);
	return 0;
}

/* ---- whiteouts ---- */

/*
 * APPLY: remove everything below the directory dfd the layer did not create. `path` (a buffer of
 * PATH_MAX + NAME_MAX + 2 bytes) holds the directory's path, `len` bytes ("." for the root).
 */
static int clear_lower(struct unpacker *u, int dfd, char *path, size_t len, int depth)
{
	if (depth >= MAX_TREE_DEPTH) {
		errno = ELOOP;
		return -1;
	}
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -1;
	}
	bool root = strcmp(path, ".") == 0;
	size_t off = root ? 0 : len + 1; /* where a child's name goes */
	int ret = 0;
	struct dirent *de;
	while (ret == 0 && (de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		size_t nlen = strlen(de->d_name);
		struct img_path *n = NULL;
		/* Longer paths were never created by the layer (names are < PATH_MAX). */
		if (off + nlen < PATH_MAX) {
			if (!root)
				path[len] = '/';
			memcpy(path + off, de->d_name, nlen + 1);
			n = img_pathset_find(&u->set, path, off + nlen);
			if (n && !n->own)
				n = NULL;
		}
		if (n) {
			/* Created by this layer: keep; if a directory, clear what lower layers
			 * left in it. */
			int cfd = openat(dirfd(d), de->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (cfd >= 0) {
				ret = clear_lower(u, cfd, path, off + nlen, depth + 1);
				close(cfd);
			} else if (errno != ENOTDIR && errno != ELOOP) {
				ret = -1;
			}
		} else if (cc_remove_at(dirfd(d), de->d_name) < 0) {
			ret = -1;
		}
		if (root)
			strcpy(path, ".");
		else
			path[len] = '\0';
	}
	int saved = errno;
	closedir(d);
	errno = saved;
	return ret;
}

/*
 * The opaque marker of `dir`: what lower layers have below it is hidden, what the layer has
 * stays. The marker is a whiteout, not an entry: it does not make the directory the layer's
 * own (a whiteout of the directory removes it whole), and below a path the layer whites out
 * or has as a non-directory it is moot. APPLY: a directory that is not there is not made.
 * OVERLAY: one that is not there is made (0755), opaque (lower layers cannot be seen from
 * here: overlayfs then shows it, empty, even where no lower layer has it).
 */
static int do_opaque(struct unpacker *u, const char *dir, struct cc_error **err)
{
	_cleanup_close_ int pfd = cc_open_in_root(u->rootfd, dir, O_PATH | O_DIRECTORY, 0);
	if (pfd < 0 && (errno == ENOTDIR || (errno == ENOENT && u->o->mode == IMG_UNPACK_APPLY)))
		return 0;
	if (pfd < 0 && (pfd = open_parent(u, dir, err)) < 0)
		return -1;
	_cleanup_close_ int fd = openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return cc_error_errno(err, "open directory");
	if (u->o->mode == IMG_UNPACK_OVERLAY)
		return set_opaque(u, fd, dir, err);
	_cleanup_free_ char *path = xmalloc(PATH_MAX + NAME_MAX + 2);
	strcpy(path, dir);
	if (clear_lower(u, fd, path, strlen(path), 0) < 0)
		return cc_error_errno(err, "opaque whiteout: clear \"%s\"", dir);
	return 0;
}

/*
 * APPLY: what lower layers have at vpath goes. The layer's own entry there (made before the
 * whiteout) stays; if it is a directory, what lower layers left in it goes, as below an
 * opaque whiteout. (A whiteout before the layer's entry removes the lower one first.)
 */
static int whiteout_apply(struct unpacker *u, const char *dir, const char *victim,
			  const char *vpath, struct cc_error **err)
{
	_cleanup_close_ int pfd = cc_open_in_root(u->rootfd, dir, O_PATH | O_DIRECTORY, 0);
	if (pfd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0; /* nothing below to hide */
		return cc_error_errno(err, "open parent directory \"%s\"", dir);
	}
	if (!img_pathset_own(&u->set, vpath, strlen(vpath))) {
		if (cc_remove_at(pfd, victim) < 0)
			return cc_error_errno(err, "whiteout: remove \"%s\"", victim);
		return 0;
	}
	_cleanup_close_ int fd =
	    openat(pfd, victim, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOTDIR || errno == ELOOP || errno == ENOENT
			   ? 0
			   : cc_error_errno(err, "whiteout: open \"%s\"", victim);
	_cleanup_free_ char *path = xmalloc(PATH_MAX + NAME_MAX + 2);
	strcpy(path, vpath);
	if (clear_lower(u, fd, path, strlen(path), 0) < 0)
		return cc_error_errno(err, "whiteout: clear \"%s\"", vpath);
	return 0;
}

/*
 * OVERLAY: a 0/0 char device, unless the layer has its own entry there (the directory
 * started empty, so anything in it other than a whiteout device is this layer's): a
 * non-directory hides the lower entry by itself; a directory of the layer becomes opaque; a
 * directory made only to hold the layer's whiteouts is replaced by the device. A real entry
 * that comes later takes the device's place (do_directory, open_parent: an opaque directory).
 */
static int whiteout_overlay(struct unpacker *u, const char *dir, const char *victim,
			    const char *vpath, struct archive_entry *e, struct cc_error **err)
{
	_cleanup_close_ int pfd = cc_open_in_root(u->rootfd, dir, O_PATH | O_DIRECTORY, 0);
	if (pfd < 0 && errno == ENOTDIR)
		return 0; /* below a whiteout or a file of this layer: hidden already */
	if (pfd < 0 && (pfd = open_parent(u, dir, err)) < 0)
		return -1;
	struct stat st;
	if (fstatat(pfd, victim, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (!S_ISDIR(st.st_mode))
			return 0;
		if (img_pathset_own(&u->set, vpath, strlen(vpath))) {
			_cleanup_close_ int fd =
			    openat(pfd, victim, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (fd < 0)
				return cc_error_errno(err, "open directory \"%s\"", victim);
			return set_opaque(u, fd, vpath, err);
		}
		if (cc_remove_at(pfd, victim) < 0)
			return cc_error_errno(err, "remove \"%s\"", victim);
	} else if (errno != ENOENT) {
		return cc_error_errno(err, "stat \"%s\"", victim);
	}
	if (mknodat(pfd, victim, S_IFCHR | 0, makedev(0, 0)) < 0)
		return cc_error_errno(err, "mknod whiteout");
	cc_strv_push(&u->whiteouts, vpath);
	_cleanup_close_ int fd = openat(pfd, victim, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return cc_error_errno(err, "open whiteout");
	return set_owner(u, fd, e, err);
}

/*
 * OVERLAY, at the end: whiteout devices below a directory the layer made opaque hide nothing
 * (there is nothing below an opaque directory to hide), and overlayfs lists them by name in
 * such a directory (it reads it as it is) where they cannot be opened: they go. Under an
 * opaque root they stay: overlayfs ignores the opaque mark of a layer's root.
 */
static int drop_moot_whiteouts(struct unpacker *u, struct cc_error **err)
{
	for (size_t i = 0; u->whiteouts && u->whiteouts[i]; i++) {
		const char *w = u->whiteouts[i];
		size_t len = strlen(w);
		bool moot = false;
		while (!moot && len > 0) {
			while (len > 0 && w[len - 1] != '/')
				len--;
			if (len == 0)
				break;
			len--;
			struct img_path *n = img_pathset_find(&u->set, w, len);
			moot = n && n->opaque;
		}
		if (!moot)
			continue;
		const char *base;
		_cleanup_free_ char *dir = img_tar_split_path(w, &base);
		_cleanup_close_ int pfd = cc_open_in_root(u->rootfd, dir, O_PATH | O_DIRECTORY, 0);
		struct stat st;
		if (pfd < 0 || fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !is_whiteout_dev(&st))
			continue; /* replaced or removed by a later entry */
		if (unlinkat(pfd, base, 0) < 0)
			return cc_error_errno(err, "layer whiteout \"%s\": remove", w);
	}
	return 0;
}

static int do_whiteout(struct unpacker *u, const char *dir, const char *base,
		       struct archive_entry *e, struct cc_error **err)
{
	const char *victim = base + strlen(IMG_WH_PREFIX);
	_cleanup_free_ char *vpath = NULL;
	int k = img_tar_whiteout(dir, base, &vpath, u->st, err);
	if (k != IMG_WH_PATH)
		return k == IMG_WH_OPAQUE_DIR ? do_opaque(u, dir, err) : k < 0 ? -1 : 0;
	/* A whiteout hides what lower layers have, never an entry of its own layer, before or
	 * after it in the tar (image-spec: "files that are present in the same layer as a
	 * whiteout file can only be hidden by whiteout files in subsequent layers"). */
	if (u->o->mode == IMG_UNPACK_APPLY)
		return whiteout_apply(u, dir, victim, vpath, err);
	return whiteout_overlay(u, dir, victim, vpath, e, err);
}

/* ---- entries ---- */

static int do_entry(struct unpacker *u, struct archive_entry *e, struct cc_error **err)
{
	_cleanup_free_ char *path = img_tar_clean_name(archive_entry_pathname(e), err);
	if (!path)
		return -1;
	const char *hardlink = archive_entry_hardlink(e);
	mode_t type = archive_entry_filetype(e);

	if (strcmp(path, ".") == 0) {
		/* The root itself: only a directory entry makes sense (mode, owner, times). */
		if (hardlink || type != AE_IFDIR)
			return img_unpack_fail(err, EPERM, "cannot replace the layer root");
		_cleanup_close_ int fd = cc_open_in_root(u->rootfd, ".", O_PATH | O_DIRECTORY, 0);
		if (fd < 0)
			return cc_error_errno(err, "open root");
		return do_directory(u, fd, ".", ".", e, err);
	}

	const char *base;
	_cleanup_free_ char *dir = img_tar_split_path(path, &base);
	if (strncmp(base, IMG_WH_PREFIX, strlen(IMG_WH_PREFIX)) == 0)
		return do_whiteout(u, dir, base, e, err);

	if (!hardlink &&
	    (type == AE_IFSOCK || ((type == AE_IFCHR || type == AE_IFBLK) && u->o->rootless))) {
		u->st->skipped++;
		return 0;
	}
	if (!hardlink && type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK &&
	    type != AE_IFCHR && type != AE_IFBLK && type != AE_IFIFO)
		return img_unpack_fail(err, EINVAL, "unsupported entry type 0%o", (unsigned)type);

	_cleanup_close_ int pfd = open_parent(u, dir, err);
	if (pfd < 0)
		return -1;
	int r;
	if (hardlink)
		r = do_hardlink(u, pfd, base, path, hardlink, err);
	else if (type == AE_IFREG)
		r = do_regular(u, pfd, base, e, err);
	else if (type == AE_IFDIR)
		r = do_directory(u, pfd, base, path, e, err);
	else if (type == AE_IFLNK)
		r = do_symlink(u, pfd, base, e, err);
	else
		r = do_node(u, pfd, base, e, type, err);
	if (r == 0)
		record_created(u, path, !hardlink && type == AE_IFDIR);
	return r;
}

/* Directory modes and times, after all entries (creating children changes a directory's mtime;
 * a read-only mode would stop rootless extraction below it). */
static int fix_directories(struct unpacker *u, struct cc_error **err)
{
	for (size_t i = 0; i < u->set.cap; i++) {
		for (struct img_path *n = u->set.tab[i]; n; n = n->next) {
			struct stat st;
			if (!n->dir)
				continue;
			_cleanup_close_ int fd = cc_open_in_root(
			    u->rootfd, n->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
			/* Replaced or removed by a later entry: not ours any more. */
			if (fd < 0 || fstat(fd, &st) < 0 || st.st_dev != n->dev ||
			    st.st_ino != n->ino)
				continue;
			if (fchmod(fd, n->mode) < 0)
				return cc_error_errno(err, "layer directory \"%s\": chmod",
						      n->path);
			if (futimens(fd, n->ts) < 0)
				return cc_error_errno(err, "layer directory \"%s\": utimes",
						      n->path);
		}
	}
	return 0;
}

static int entry_cb(void *ctx, struct archive_entry *e, struct cc_error **err)
{
	return do_entry(ctx, e, err);
}

int img_unpack(int rootfd, img_read_fn read_fn, void *ctx, const struct img_unpack_opts *o,
	       struct img_unpack_stats *stats, struct cc_error **err)
{
	struct img_unpack_stats dummy = { 0 };
	struct unpacker u = {
		.rootfd = rootfd,
		.o = o,
		.st = stats ? stats : &dummy,
	};
	int ret = -1;

	if (img_tar_open(&u.t, read_fn, ctx, err) < 0)
		return -1;
	if (img_tar_each(&u.t, u.st, entry_cb, &u, err) == 0 && drop_moot_whiteouts(&u, err) == 0 &&
	    fix_directories(&u, err) == 0)
		ret = 0;
	img_tar_close(&u.t);
	img_pathset_free(&u.set);
	cc_strv_free(u.whiteouts);
	return ret;
}
