// SPDX-License-Identifier: Apache-2.0
/*
 * CVE-2019-5736: a process inside a container that can see a rune process (rune exec, or an
 * init in a shared pid namespace) could open /proc/<pid>/exe and, once rune exits, rewrite the
 * host's rune binary. runc's first fix copied the whole binary into a sealed memfd on every
 * start (≈10 MB and most of exec's time). Instead we re-execute once through a detached,
 * read-only view of the binary: an overlayfs mount whose only layers are the binary's directory
 * and an empty tmpfs (no upper layer, so read-only at the superblock: no remount of a clone of
 * the mount can make it writable), falling back to a detached read-only bind mount. The mount is
 * attached nowhere and disappears with the last reference to it. Cost: one extra execve, no copy.
 * If the binary already sits on a read-only mount, nothing is done.
 *
 * Without the privilege to mount (rootless rune), the fallback is runc's: a copy in a sealed
 * memfd. The binary is small (under 1 MiB), so that copy costs well under a millisecond.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <linux/mount.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/statfs.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "runtime/container.h"
#include "util/cleanup.h"
#include "util/log.h"

extern char **environ;

/* An empty, read-only tmpfs: overlayfs wants two lower layers when it has no upper one. */
static int empty_layer(void)
{
	_cleanup_close_ int fs = (int)syscall(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC);
	if (fs < 0 || syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "mode", "0555", 0) < 0 ||
	    syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return -1;
	return (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_RDONLY);
}

static int overlay_view(const char *dir)
{
	if (strpbrk(dir, ":,\\"))
		return -1;
	_cleanup_close_ int empty = empty_layer();
	_cleanup_close_ int fs = (int)syscall(SYS_fsopen, "overlay", FSOPEN_CLOEXEC);
	if (empty < 0 || fs < 0)
		return -1;
	/* No upper layer: read-only at the superblock, whatever the mount flags say. */
	_cleanup_free_ char *lower = xasprintf("%s:/proc/self/fd/%d", dir, empty);
	if (syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "lowerdir", lower, 0) < 0 ||
	    syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return -1;
	return (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC,
			    MOUNT_ATTR_RDONLY | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID);
}

static int bind_view(const char *dir)
{
	int mnt = (int)syscall(SYS_open_tree, AT_FDCWD, dir, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (mnt < 0)
		return -1;
	struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NODEV };
	if (syscall(SYS_mount_setattr, mnt, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0) {
		close(mnt);
		return -1;
	}
	return mnt;
}

/* A sealed, unwritable copy of the running binary. */
static int sealed_copy(void)
{
	_cleanup_close_ int src = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (src < 0 || fstat(src, &st) < 0)
		return -1;
	int mfd = memfd_create("rune", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (mfd < 0)
		return -1;
	for (off_t done = 0; done < st.st_size;) {
		ssize_t n = sendfile(mfd, src, NULL, (size_t)(st.st_size - done));
		if (n <= 0) {
			close(mfd);
			return -1;
		}
		done += n;
	}
	if (fcntl(mfd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0) {
		close(mfd);
		return -1;
	}
	return mfd;
}

/* Already running from a read-only mount or from a write-sealed memfd. */
static bool protected_exe(void)
{
	struct statvfs sv;
	if (statvfs("/proc/self/exe", &sv) == 0 && (sv.f_flag & ST_RDONLY))
		return true;
	_cleanup_close_ int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	int seals = fd < 0 ? -1 : fcntl(fd, F_GET_SEALS);
	return seals > 0 && (seals & F_SEAL_WRITE);
}

int rt_selfexe_protect(char **argv, struct cc_error **err)
{
	char path[PATH_MAX];

	if (protected_exe())
		return 0;
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
	if (n <= 0)
		return cc_error_errno(err, "readlink /proc/self/exe");
	path[n] = '\0';
	_cleanup_free_ char *dcopy = xstrdup(path), *bcopy = xstrdup(path);
	const char *dir = dirname(dcopy), *base = basename(bcopy);

	_cleanup_close_ int mnt = overlay_view(dir);
	if (mnt < 0)
		mnt = bind_view(dir);
	if (mnt < 0 && errno == EPERM) {
		_cleanup_close_ int copy = sealed_copy();
		if (copy < 0)
			return cc_error_errno(err, "protect rune binary: sealed copy of %s", path);
		syscall(SYS_execveat, copy, "", argv, environ, AT_EMPTY_PATH);
		return cc_error_errno(err, "protect rune binary: re-exec");
	}
	if (mnt < 0)
		return cc_error_errno(err, "protect rune binary: read-only view of %s", dir);
	_cleanup_close_ int exe = openat(mnt, base, O_PATH | O_CLOEXEC);
	if (exe < 0)
		return cc_error_errno(err, "protect rune binary: open %s", path);
	/* After this exec /proc/self/exe is on a read-only mount, which ends the recursion. */
	syscall(SYS_execveat, exe, "", argv, environ, AT_EMPTY_PATH);
	return cc_error_errno(err, "protect rune binary: re-exec");
}
