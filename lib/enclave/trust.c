// SPDX-License-Identifier: Apache-2.0
/*
 * The PAL trust rules. rune maps the PAL into the container's init as root, on the host,
 * before pivot_root: whoever chooses that file runs code as root on the host. The bundle and
 * the image are not trusted to choose it, so the file must be one only root could have put in
 * place, outside the container, in a directory the operator allows.
 *
 * The file is opened once. Everything is checked against the open file, and the init loads it
 * through /proc/self/fd/N: a path swapped after the check changes nothing. The directories are
 * walked down from / without following links, and the walk must arrive at the very inode that
 * was opened.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "config.h"
#include "enclave/enclave.h"
#include "util/cleanup.h"
#include "util/strv.h"

const char *const enc_default_runtime_dirs[] = {
	RUNE_PAL_DIR, "/usr/lib",	"/usr/lib64",	    "/lib",
	"/lib64",     "/usr/local/lib", "/usr/local/lib64", "/opt/occlum/build/lib",
	NULL,
};

struct node {
	char *path; /* the canonical path of this directory */
	struct stat st;
};

static bool same(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

static int refuse(struct cc_error **err, const char *path, const char *real, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int refuse(struct cc_error **err, const char *path, const char *real, const char *fmt, ...)
{
	_cleanup_free_ char *why = NULL;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&why, fmt, ap) < 0)
		why = NULL;
	va_end(ap);
	if (real && strcmp(real, path))
		return cc_error_set(err, 0, "enclave runtime path %s (resolved: %s): %s", path,
				    real, why ? why : "refused");
	return cc_error_set(err, 0, "enclave runtime path %s: %s", path, why ? why : "refused");
}

/* The directories from / down to the file's, opened one by one without following links, and
 * the file's own status as seen from the last of them. */
static int walk(const char *real, struct node **out, size_t *n, struct stat *leaf)
{
	_cleanup_strv_ char **parts = cc_strv_split(real + 1, '/');
	size_t count = cc_strv_len(parts);
	struct node *nodes = xzalloc((count + 1) * sizeof(*nodes));
	int dirfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	size_t have = 0;
	int ret = -1;
	if (dirfd < 0 || fstat(dirfd, &nodes[0].st) < 0 || count == 0)
		goto out;
	nodes[have++].path = xstrdup("/");
	for (size_t i = 0; i + 1 < count; i++) {
		int next = openat(dirfd, parts[i], O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(dirfd);
		dirfd = next;
		if (dirfd < 0 || fstat(dirfd, &nodes[have].st) < 0)
			goto out;
		const char *parent = nodes[have - 1].path;
		nodes[have].path =
		    xasprintf("%s%s%s", parent, strcmp(parent, "/") ? "/" : "", parts[i]);
		have++;
	}
	ret = fstatat(dirfd, parts[count - 1], leaf, AT_SYMLINK_NOFOLLOW);
out:
	if (dirfd >= 0)
		close(dirfd);
	*out = nodes;
	*n = have;
	return ret;
}

static void free_nodes(struct node *nodes, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(nodes[i].path);
	free(nodes);
}

/* Is the file below (or at) dir, judged by identity, so that other names for the same
 * directory (symlinks, bind mounts) count too? */
static bool below(const struct node *nodes, size_t n, const char *dir)
{
	struct stat st;
	if (!dir || stat(dir, &st) < 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (same(&nodes[i].st, &st))
			return true;
	return false;
}

static int check_place(const char *path, const char *real, const struct node *nodes, size_t n,
		       const struct enc_trust *t, struct cc_error **err)
{
	if (below(nodes, n, t->rootfs))
		return refuse(err, path, real,
			      "lies inside the container's rootfs (%s); a PAL is loaded on the "
			      "host and must come from the host",
			      t->rootfs);
	if (below(nodes, n, t->bundle))
		return refuse(err, path, real,
			      "lies inside the bundle (%s); a PAL is loaded on the host and must "
			      "come from the host",
			      t->bundle);
	char *const *dirs = t->dirs ? t->dirs : (char *const *)enc_default_runtime_dirs;
	for (size_t i = 0; dirs[i]; i++)
		if (below(nodes, n, dirs[i]))
			return 0;
	_cleanup_free_ char *list = cc_strv_join(dirs, ":");
	return refuse(err, path, real,
		      "not in an allowed directory (%s); rune --enclave-runtime-dirs sets them",
		      list);
}

static int check_owner(const char *path, const char *real, const char *what, const char *name,
		       const struct stat *st, struct cc_error **err)
{
	if (st->st_uid != 0)
		return refuse(err, path, real, "%s%s is owned by uid %u, not by root", what, name,
			      (unsigned)st->st_uid);
	if (st->st_mode & (S_IWGRP | S_IWOTH))
		return refuse(err, path, real, "%s%s is writable by group or others (mode %04o)",
			      what, name, (unsigned)(st->st_mode & 07777));
	return 0;
}

int enc_trust_open(const char *path, const struct enc_trust *t, char **resolved,
		   struct cc_error **err)
{
	char real[PATH_MAX], link[64];
	struct stat st, leaf;
	*resolved = NULL;
	if (path[0] != '/')
		return cc_error_set(err, 0,
				    "enclave runtime path %s: must be an absolute host path", path);
	/* O_PATH: opening a FIFO or a device must not block or have side effects. */
	_cleanup_close_ int fd = open(path, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return cc_error_errno(err, "enclave runtime path %s", path);
	if (fstat(fd, &st) < 0)
		return cc_error_errno(err, "enclave runtime path %s", path);
	if (!S_ISREG(st.st_mode))
		return refuse(err, path, NULL, "not a regular file");
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t len = readlink(link, real, sizeof(real) - 1);
	if (len <= 0 || (size_t)len >= sizeof(real) - 1)
		return cc_error_errno(err, "enclave runtime path %s: resolve", path);
	real[len] = '\0';
	if (real[0] != '/')
		return refuse(err, path, real, "not reachable from the host's root");

	struct node *nodes = NULL;
	size_t n = 0;
	int walked = walk(real, &nodes, &n, &leaf);
	int ret = -1;
	if (walked < 0 || !same(&leaf, &st)) {
		refuse(err, path, real,
		       "the file found again from / is not the one opened (it moved, or the path "
		       "passes through another mount namespace)");
		goto out;
	}
	if (check_place(path, real, nodes, n, t, err) < 0 ||
	    check_owner(path, real, "the file", "", &st, err) < 0)
		goto out;
	for (size_t i = 0; i < n; i++)
		if (check_owner(path, real, "directory ", nodes[i].path, &nodes[i].st, err) < 0)
			goto out;
	*resolved = xstrdup(real);
	ret = steal_fd(&fd);
out:
	free_nodes(nodes, n);
	return ret;
}
