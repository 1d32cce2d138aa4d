// SPDX-License-Identifier: Apache-2.0
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strv.h"

#define DEFAULT_READ_LIMIT (64u << 20)

int cc_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

ssize_t cc_read_all(int fd, void *buf, size_t len)
{
	char *p = buf;
	size_t got = 0;
	while (got < len) {
		ssize_t n = read(fd, p + got, len - got);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

static char *read_fd(int fd, const char *name, size_t limit, size_t *lenp, struct cc_error **err)
{
	size_t cap = 4096, len = 0;
	_cleanup_free_ char *buf = xmalloc(cap + 1);

	if (!limit)
		limit = DEFAULT_READ_LIMIT;
	for (;;) {
		ssize_t n;
		if (len == cap) {
			if (cap >= limit) {
				cc_error_set(err, EFBIG, "read %s: larger than %zu bytes", name,
					     limit);
				return NULL;
			}
			cap *= 2;
			buf = xrealloc(buf, cap + 1);
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			cc_error_errno(err, "read %s", name);
			return NULL;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > limit) {
		cc_error_set(err, EFBIG, "read %s: larger than %zu bytes", name, limit);
		return NULL;
	}
	buf[len] = '\0';
	if (lenp)
		*lenp = len;
	return steal_pointer(&buf);
}

char *cc_read_file_at(int dirfd, const char *path, size_t limit, size_t *len, struct cc_error **err)
{
	_cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		cc_error_errno(err, "open %s", path);
		return NULL;
	}
	return read_fd(fd, path, limit, len, err);
}

char *cc_read_file(const char *path, size_t limit, size_t *len, struct cc_error **err)
{
	return cc_read_file_at(AT_FDCWD, path, limit, len, err);
}

int cc_write_file_at(int dirfd, const char *path, const void *buf, size_t len, mode_t mode,
		     struct cc_error **err)
{
	int flags = O_WRONLY | O_TRUNC | O_CLOEXEC | (mode ? O_CREAT : 0);
	_cleanup_close_ int fd = openat(dirfd, path, flags, mode);
	if (fd < 0)
		return cc_error_errno(err, "open %s", path);
	if (cc_write_all(fd, buf, len) < 0)
		return cc_error_errno(err, "write %s", path);
	return 0;
}

int cc_write_file(const char *path, const void *buf, size_t len, mode_t mode, struct cc_error **err)
{
	return cc_write_file_at(AT_FDCWD, path, buf, len, mode, err);
}

int cc_write_file_atomic(const char *path, const void *buf, size_t len, mode_t mode,
			 struct cc_error **err)
{
	_cleanup_free_ char *tmp = xasprintf("%s.tmp.%d", path, (int)getpid());
	_cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return cc_error_errno(err, "open %s", tmp);
	if (cc_write_all(fd, buf, len) < 0) {
		cc_error_errno(err, "write %s", tmp);
		unlink(tmp);
		return -1;
	}
	if (rename(tmp, path) < 0) {
		cc_error_errno(err, "rename %s", path);
		unlink(tmp);
		return -1;
	}
	return 0;
}

int cc_mkdir_p(const char *path, mode_t mode, struct cc_error **err)
{
	_cleanup_free_ char *p = xstrdup(path);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			return cc_error_errno(err, "mkdir %s", p);
		*s = '/';
	}
	if (mkdir(p, mode) < 0 && errno != EEXIST)
		return cc_error_errno(err, "mkdir %s", p);
	return 0;
}

int cc_open_in_root(int rootfd, const char *path, int flags, mode_t mode)
{
	struct open_how how = {
		.flags = (uint64_t)flags | O_CLOEXEC,
		.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	int fd;
	do
		fd = (int)syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
	while (fd < 0 && errno == EAGAIN);
	return fd;
}

/* One step of cc_mkdir_p_in_root: make `name` below the directory `parent` (a path inside the
 * root). A dangling symlink in the way is followed, inside the root: returns 1 and sets *redirect
 * to the path to continue with. */
static int mkdir_step(int rootfd, const char *parent, const char *name, const char *rest,
		      mode_t mode, char **redirect)
{
	_cleanup_close_ int pfd = cc_open_in_root(rootfd, parent, O_PATH | O_DIRECTORY, 0);
	char target[4096];
	if (pfd < 0)
		return -1;
	if (mkdirat(pfd, name, mode) == 0)
		return 0;
	if (errno != EEXIST)
		return -1;
	ssize_t n = readlinkat(pfd, name, target, sizeof(target) - 1);
	if (n < 0)
		return 0; /* exists and is not a symlink: let the caller open it */
	target[n] = '\0';
	*redirect = target[0] == '/' ? xasprintf("%s/%s", target, rest)
				     : xasprintf("%s/%s/%s", parent, target, rest);
	return 1;
}

int cc_mkdir_p_in_root(int rootfd, const char *path, mode_t mode, struct cc_error **err)
{
	_cleanup_free_ char *cur = cc_path_clean(path);
	for (int hops = 0; hops < 40; hops++) {
		int fd = cc_open_in_root(rootfd, cur, O_PATH | O_DIRECTORY, 0);
		if (fd >= 0)
			return fd;
		if (errno != ENOENT)
			return cc_error_errno(err, "open %s", path);
		/* Walk down from the root to the first missing component and create it. */
		_cleanup_strv_ char **parts = cc_strv_split(cur[0] == '/' ? cur + 1 : cur, '/');
		_cleanup_free_ char *parent = xstrdup("/");
		char *redirect = NULL;
		for (size_t i = 0; parts[i]; i++) {
			_cleanup_strv_ char **tail = cc_strv_dup(parts + i + 1);
			_cleanup_free_ char *rest = cc_strv_join(tail, "/");
			int r = mkdir_step(rootfd, parent, parts[i], rest, mode, &redirect);
			if (r < 0)
				return cc_error_errno(err, "mkdir %s", path);
			if (r > 0)
				break;
			char *next = cc_path_join(parent, parts[i]);
			free(parent);
			parent = next;
		}
		if (!redirect)
			continue;
		free(cur);
		cur = cc_path_clean(redirect);
		free(redirect);
	}
	return cc_error_set(err, ELOOP, "mkdir %s", path);
}

/*
 * Removal of a tree, depth-first and without recursion, so that no depth is too deep: whatever
 * could be created can be removed. One level per directory on the way down; only the deepest
 * RM_OPEN_LEVELS levels keep their directory open (a bounded number of descriptors). A level
 * that was closed is opened again from its child through ".." (checked to be the same
 * directory, by device and inode) and read again from the start: what was removed is gone,
 * and the names that could not be removed are remembered and not tried again.
 */
#define RM_OPEN_LEVELS 32

struct rm_level {
	DIR *d; /* NULL while closed */
	dev_t dev;
	ino_t ino;
	char *name;    /* in the parent */
	char **failed; /* children that could not be removed */
};

static void rm_note(struct rm_level *l, const char *name, int e, int *first)
{
	if (!*first)
		*first = e;
	cc_strv_push(&l->failed, name);
}

static int rm_push(struct rm_level **v, size_t *n, int fd, const char *name)
{
	struct stat st;
	DIR *d = fstat(fd, &st) == 0 ? fdopendir(fd) : NULL;
	if (!d) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	*v = xreallocarray(*v, *n + 1, sizeof(**v));
	(*v)[(*n)++] = (struct rm_level){ d, st.st_dev, st.st_ino, xstrdup(name), NULL };
	if (*n > RM_OPEN_LEVELS && (*v)[*n - 1 - RM_OPEN_LEVELS].d) {
		closedir((*v)[*n - 1 - RM_OPEN_LEVELS].d);
		(*v)[*n - 1 - RM_OPEN_LEVELS].d = NULL;
	}
	return 0;
}

static void rm_pop(struct rm_level *v, size_t *n)
{
	struct rm_level *l = &v[--*n];
	if (l->d)
		closedir(l->d);
	free(l->name);
	cc_strv_free(l->failed);
}

/* Open parent level p again from its child c, which is open. */
static int rm_reopen(struct rm_level *p, struct rm_level *c)
{
	struct stat st;
	int fd = openat(dirfd(c->d), "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || st.st_dev != p->dev || st.st_ino != p->ino) {
		close(fd);
		errno = ESTALE; /* moved while we were below it */
		return -1;
	}
	p->d = fdopendir(fd);
	if (!p->d) {
		close(fd);
		return -1;
	}
	return 0;
}

/* One entry of the open level l: removed, or entered (pushed). */
static void rm_entry(struct rm_level **v, size_t *n, const char *name, dev_t dev, int *first)
{
	struct rm_level *l = &(*v)[*n - 1];
	int dfd = dirfd(l->d);
	if (unlinkat(dfd, name, 0) == 0 || errno == ENOENT)
		return;
	int e = errno;
	struct stat st;
	if ((e == EISDIR || e == EPERM) && fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISDIR(st.st_mode)) {
		if (dev && st.st_dev != dev) {
			e = EBUSY; /* a mount point: never entered */
		} else {
			int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (fd >= 0 && rm_push(v, n, fd, name) == 0)
				return;
			e = errno;
		}
	}
	rm_note(&(*v)[*n - 1], name, e, first);
}

/* Remove the directory `name` of pfd and everything below it. With dev set, a directory on
 * another filesystem (a mount point) is not entered: EBUSY. 0 or -1 with errno (the first
 * failure; the rest of the tree is removed anyway). */
static int remove_tree(int pfd, const char *name, dev_t dev)
{
	struct rm_level *v = NULL;
	size_t n = 0;
	int first = 0;
	int fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || rm_push(&v, &n, fd, name) < 0)
		return -1;
	while (n > 0) {
		struct rm_level *l = &v[n - 1];
		errno = 0;
		struct dirent *de = readdir(l->d);
		if (de) {
			if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
			    !cc_strv_contains(l->failed, de->d_name))
				rm_entry(&v, &n, de->d_name, dev, &first);
			continue;
		}
		if (errno && !first)
			first = errno;
		if (n == 1) {
			rm_pop(v, &n);
			break;
		}
		struct rm_level *p = &v[n - 2];
		if (!p->d && rm_reopen(p, l) < 0) {
			if (!first)
				first = errno;
			while (n > 0)
				rm_pop(v, &n);
			break;
		}
		if (unlinkat(dirfd(p->d), l->name, AT_REMOVEDIR) < 0 && errno != ENOENT)
			rm_note(p, l->name, errno, &first);
		rm_pop(v, &n);
	}
	free(v);
	if (!first && unlinkat(pfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		first = errno;
	if (first) {
		errno = first;
		return -1;
	}
	return 0;
}

/* Remove name below pfd: a file, or a whole tree, never following symlinks. */
static int remove_at(int pfd, const char *name, dev_t dev)
{
	if (unlinkat(pfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -1;
	struct stat st;
	if (dev && fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_dev != dev) {
		errno = EBUSY;
		return -1;
	}
	return remove_tree(pfd, name, dev);
}

int cc_remove_at(int dirfd, const char *name)
{
	return remove_at(dirfd, name, 0);
}

int cc_rm_rf(const char *path, struct cc_error **err)
{
	struct stat st;
	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		return cc_error_errno(err, "stat %s", path);
	}
	if (remove_at(AT_FDCWD, path, st.st_dev) < 0)
		return cc_error_errno(err, "remove %s", path);
	return 0;
}

/* ---- sparse files ---- */

#define SPARSE_CHUNK 4096u

static bool all_zero(const char *p, size_t n)
{
	return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

static int pwrite_all(int fd, const char *p, size_t len, off_t off)
{
	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		off += n;
		len -= (size_t)n;
	}
	return 0;
}

int cc_pwrite_sparse(int fd, const void *buf, size_t len, off_t off)
{
	const char *p = buf;
	while (len > 0) {
		/* Runs of 4 KiB blocks (by file offset; the part of one the buffer has at its
		 * ends) that are all zeros, or runs of anything else. */
		size_t run = 0;
		bool zero = false;
		while (run < len) {
			size_t m = SPARSE_CHUNK - (size_t)((off + (off_t)run) % SPARSE_CHUNK);
			if (m > len - run)
				m = len - run;
			bool z = all_zero(p + run, m);
			if (run == 0)
				zero = z;
			else if (z != zero)
				break;
			run += m;
		}
		if (!zero && pwrite_all(fd, p, run, off) < 0)
			return -1;
		p += run;
		off += (off_t)run;
		len -= run;
	}
	return 0;
}

/* Copy [off, end) of in to the same offsets of out: copy_file_range, or read and write where
 * the kernel cannot (another filesystem, a filesystem without it). */
static int copy_range(int in, int out, off_t off, off_t end, char **buf)
{
	bool fallback = false;
	while (off < end) {
		size_t want = (size_t)(end - off > (1 << 30) ? (1 << 30) : end - off);
		if (!fallback) {
			loff_t i = off, o = off;
			ssize_t n = copy_file_range(in, &i, out, &o, want, 0);
			if (n > 0) {
				off += n;
				continue;
			}
			if (n == 0)
				return errno = EIO, -1; /* shorter than it said */
			if (errno == EINTR)
				continue;
			if (errno != EXDEV && errno != EINVAL && errno != ENOSYS &&
			    errno != EOPNOTSUPP)
				return -1;
			fallback = true;
		}
		if (!*buf)
			*buf = xmalloc(1 << 20);
		if (want > (1 << 20))
			want = 1 << 20;
		ssize_t n = pread(in, *buf, want, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n == 0 ? (errno = EIO, -1) : -1;
		if (cc_pwrite_sparse(out, *buf, (size_t)n, off) < 0)
			return -1;
		off += n;
	}
	return 0;
}

int cc_copy_sparse(int in, int out, off_t size)
{
	_cleanup_free_ char *buf = NULL;
	off_t off = 0;
	while (off < size) {
		off_t data = lseek(in, off, SEEK_DATA);
		if (data < 0 && errno == ENXIO)
			break; /* a hole up to the end */
		if (data < 0 && errno != EINVAL)
			return -1;
		off_t hole = data < 0 ? size : lseek(in, data, SEEK_HOLE);
		if (data < 0)
			data = off; /* no SEEK_DATA here: all data */
		if (hole < 0)
			return -1;
		if (data >= size)
			break;
		if (hole > size)
			hole = size;
		if (copy_range(in, out, data, hole, &buf) < 0)
			return -1;
		off = hole;
	}
	return ftruncate(out, size);
}

bool cc_path_exists(const char *path)
{
	return access(path, F_OK) == 0;
}

char *cc_path_join(const char *a, const char *b)
{
	size_t la = strlen(a);
	while (la > 0 && a[la - 1] == '/')
		la--;
	while (*b == '/')
		b++;
	return xasprintf("%.*s/%s", (int)la, a, b);
}

char *cc_path_clean(const char *path)
{
	bool abs = path[0] == '/';
	_cleanup_free_ char *copy = xstrdup(path);
	_cleanup_free_ char **parts = xcalloc(strlen(path) + 1, sizeof(char *));
	size_t n = 0;
	char *save = NULL;

	for (char *tok = strtok_r(copy, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
		if (strcmp(tok, ".") == 0)
			continue;
		if (strcmp(tok, "..") == 0) {
			if (n > 0 && strcmp(parts[n - 1], "..") != 0)
				n--;
			else if (!abs)
				parts[n++] = tok;
			continue;
		}
		parts[n++] = tok;
	}
	size_t len = 2;
	for (size_t i = 0; i < n; i++)
		len += strlen(parts[i]) + 1;
	char *r = xzalloc(len), *p = r;
	if (abs)
		*p++ = '/';
	for (size_t i = 0; i < n; i++) {
		if (i)
			*p++ = '/';
		p = stpcpy(p, parts[i]);
	}
	if (p == r)
		*p++ = '.';
	*p = '\0';
	return r;
}
