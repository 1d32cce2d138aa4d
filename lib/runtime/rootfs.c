// SPDX-License-Identifier: Apache-2.0
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "runtime/devices.h"
#include "runtime/rootfs.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"

#define FD_PATH(buf, fd) (snprintf(buf, sizeof(buf), "/proc/self/fd/%d", fd), buf)

/* Flags the kernel will not let a user namespace drop on a bind remount: keep them. */
static unsigned long locked_flags(const char *path)
{
	struct statvfs sv;
	unsigned long f = 0;
	if (statvfs(path, &sv) < 0)
		return 0;
	if (sv.f_flag & ST_NOSUID)
		f |= MS_NOSUID;
	if (sv.f_flag & ST_NODEV)
		f |= MS_NODEV;
	if (sv.f_flag & ST_NOEXEC)
		f |= MS_NOEXEC;
	if (sv.f_flag & ST_RDONLY)
		f |= MS_RDONLY;
	if (sv.f_flag & ST_NOATIME)
		f |= MS_NOATIME;
	if (sv.f_flag & ST_NODIRATIME)
		f |= MS_NODIRATIME;
	if (sv.f_flag & ST_RELATIME)
		f |= MS_RELATIME;
	return f;
}

/* /proc is the kernel's interface: only procfs itself, or binds over a few informational
 * files (what lxcfs does), may be mounted there. */
static bool proc_dest_allowed(const struct rt_mount *m)
{
	static const char *const files[] = { "/proc/cpuinfo", "/proc/diskstats",
					     "/proc/meminfo", "/proc/stat",
					     "/proc/swaps",   "/proc/uptime",
					     "/proc/loadavg", "/proc/slabinfo",
					     "/proc/net/dev", "/proc/sys/kernel/ns_last_pid" };
	if (strncmp(m->destination, "/proc", 5) != 0 ||
	    (m->destination[5] != '/' && m->destination[5] != '\0'))
		return true;
	if (strcmp(m->destination, "/proc") == 0)
		return m->type && strcmp(m->type, "proc") == 0;
	for (size_t i = 0; i < ARRAY_SIZE(files); i++)
		if (strcmp(m->destination, files[i]) == 0)
			return true;
	return false;
}

/* Create the mount point inside the root: a file when binding a non-directory. */
static int make_target(int rootfd, const struct rt_mount *m, struct cc_error **err)
{
	struct stat st;
	bool file = m->bind && m->source && stat(m->source, &st) == 0 && !S_ISDIR(st.st_mode);
	if (!file) {
		int fd = cc_mkdir_p_in_root(rootfd, m->destination, 0755, err);
		return fd;
	}
	_cleanup_free_ char *dcopy = xstrdup(m->destination), *bcopy = xstrdup(m->destination);
	_cleanup_close_ int dir = cc_mkdir_p_in_root(rootfd, dirname(dcopy), 0755, err);
	if (dir < 0)
		return -1;
	const char *base = basename(bcopy);
	int fd = openat(dir, base, O_CREAT | O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0 && errno != EISDIR && errno != ELOOP)
		return cc_error_errno(err, "create %s", m->destination);
	if (fd >= 0)
		close(fd);
	fd = cc_open_in_root(rootfd, m->destination, O_PATH, 0);
	if (fd < 0)
		return cc_error_errno(err, "open %s", m->destination);
	return fd;
}

static int remount_flags(const char *path, unsigned long flags, bool userns)
{
	unsigned long f = MS_BIND | MS_REMOUNT | flags;
	if (userns)
		f |= locked_flags(path);
	return mount(NULL, path, NULL, f, NULL);
}

static int do_mount(const struct rt_rootfs_ctx *ctx, int rootfd, const struct rt_mount *m,
		    const char *target, struct cc_error **err)
{
	unsigned long flags = m->flags & ~(MS_BIND | MS_REC | MS_REMOUNT);
	const char *type = m->type ? m->type : "none";

	if (m->bind) {
		if (mount(m->source, target, NULL, MS_BIND | (m->flags & MS_REC), NULL) < 0)
			return cc_error_errno(err, "bind %s", m->source ? m->source : "(none)");
		return 0;
	}
	if (strcmp(type, "cgroup") == 0 || strcmp(type, "cgroup2") == 0) {
		if (!ctx->cgroup) {
			/* Rootless without a cgroup of its own: the host's view, read-only. */
			if (mount("/sys/fs/cgroup", target, NULL, MS_BIND | MS_REC, NULL) < 0 ||
			    remount_flags(target, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
					  ctx->userns) < 0)
				return cc_error_errno(err, "bind the host's /sys/fs/cgroup");
			return 0;
		}
		return rt_cgroup_mount(ctx->cgroup, rootfd, m->destination, m->flags, ctx->cgroupns,
				       err);
	}
	if (mount(m->source ? m->source : type, target, type, flags, m->data) == 0)
		return 0;
	/* sysfs needs a network namespace owned by our user namespace; without one, bind the
	 * host's like runc does for rootless containers. */
	if (strcmp(type, "sysfs") == 0 && (errno == EPERM || errno == EACCES)) {
		if (mount("/sys", target, NULL, MS_BIND | MS_REC, NULL) == 0)
			return 0;
	}
	return cc_error_errno(err, "mount");
}

static int mount_one(const struct rt_rootfs_ctx *ctx, int rootfd, size_t i, struct cc_error **err)
{
	const struct rt_mount *m = &ctx->spec->mounts[i];
	char buf[64];
	int ret = 0;

	if (!proc_dest_allowed(m))
		ret = cc_error_set(err, 0, "%s cannot be mounted over /proc", m->destination);
	_cleanup_close_ int fd = ret < 0 ? -1 : make_target(rootfd, m, err);
	if (ret == 0 && fd < 0)
		ret = -1;
	if (ret == 0)
		ret = do_mount(ctx, rootfd, m, FD_PATH(buf, fd), err);
	/* Reopen: the old fd names the covered directory, not the new mount on top of it. */
	_cleanup_close_ int top = ret < 0 ? -1 : cc_open_in_root(rootfd, m->destination, O_PATH, 0);
	if (ret == 0 && top < 0)
		ret = cc_error_errno(err, "open");
	if (ret == 0 && m->bind && (m->flags & ~(MS_BIND | MS_REC | MS_REMOUNT)) &&
	    remount_flags(FD_PATH(buf, top), m->flags & ~(MS_BIND | MS_REC | MS_REMOUNT),
			  ctx->userns) < 0)
		ret = cc_error_errno(err, "remount");
	if (ret == 0 && (m->attr_set || m->attr_clr)) {
		struct mount_attr attr = { .attr_set = m->attr_set, .attr_clr = m->attr_clr };
		if (syscall(SYS_mount_setattr, top, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr,
			    sizeof(attr)) < 0)
			ret = cc_error_errno(err, "set recursive mount attributes");
	}
	if (ret == 0 && m->propagation &&
	    mount(NULL, FD_PATH(buf, top), NULL, m->propagation, NULL) < 0)
		ret = cc_error_errno(err, "set propagation");
	if (ret < 0)
		return cc_error_prefix(err, "mounts[%zu] %s (%s)", i, m->destination,
				       m->type ? m->type : "bind");
	return 0;
}

/* pivot_root refuses a new root whose parent mount is shared: make that mount private. */
static void make_parent_private(const char *rootfs)
{
	_cleanup_free_ char *p = xstrdup(rootfs);
	for (;;) {
		char *slash = strrchr(p, '/');
		if (!slash)
			return;
		*slash = '\0';
		const char *dir = *p ? p : "/";
		if (mount(NULL, dir, NULL, MS_PRIVATE, NULL) == 0 || !*p)
			return;
	}
}

int rt_rootfs_prepare(const struct rt_rootfs_ctx *ctx, struct cc_error **err)
{
	const struct rt_spec *spec = ctx->spec;
	unsigned long prop =
	    spec->linux.rootfs_propagation ? spec->linux.rootfs_propagation : MS_SLAVE | MS_REC;
	if (mount(NULL, "/", NULL, prop | MS_REC, NULL) < 0)
		return cc_error_errno(err, "set propagation of /");
	make_parent_private(ctx->rootfs);
	if (mount(ctx->rootfs, ctx->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
		return cc_error_errno(err, "bind rootfs %s", ctx->rootfs);
	_cleanup_close_ int rootfd = open(ctx->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return cc_error_errno(err, "open rootfs %s", ctx->rootfs);
	for (size_t i = 0; i < spec->n_mounts; i++)
		if (mount_one(ctx, rootfd, i, err) < 0)
			return -1;
	if (rt_devices_setup(ctx, rootfd, err) < 0)
		return -1;
	if (spec->process && spec->process->cwd) {
		int fd = cc_mkdir_p_in_root(rootfd, spec->process->cwd, 0755, err);
		if (fd < 0)
			return cc_error_prefix(err, "process.cwd");
		close(fd);
	}
	return 0;
}

int rt_rootfs_pivot(const struct rt_rootfs_ctx *ctx, struct cc_error **err)
{
	if (ctx->no_pivot) {
		if (chdir(ctx->rootfs) < 0 || mount(ctx->rootfs, "/", NULL, MS_MOVE, NULL) < 0 ||
		    chroot(".") < 0 || chdir("/") < 0)
			return cc_error_errno(err, "move root to %s", ctx->rootfs);
		return 0;
	}
	_cleanup_close_ int oldroot = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (oldroot < 0 || chdir(ctx->rootfs) < 0)
		return cc_error_errno(err, "chdir %s", ctx->rootfs);
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return cc_error_errno(err, "pivot_root %s", ctx->rootfs);
	/* The old root now sits under the new one at ".": detach it without letting the
	 * unmount propagate back to the host. */
	if (fchdir(oldroot) < 0 || mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0 ||
	    umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
		return cc_error_errno(err, "detach old root");
	return 0;
}

static int mask_path(const char *path, struct cc_error **err)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : cc_error_errno(err, "mask %s", path);
	if (S_ISDIR(st.st_mode)) {
		if (mount("tmpfs", path, "tmpfs", MS_RDONLY, NULL) < 0)
			return cc_error_errno(err, "mask %s", path);
	} else if (mount("/dev/null", path, NULL, MS_BIND, NULL) < 0 && errno != ENOENT) {
		return cc_error_errno(err, "mask %s", path);
	}
	return 0;
}

static int readonly_path(const char *path, bool userns, struct cc_error **err)
{
	if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0)
		return errno == ENOENT ? 0 : cc_error_errno(err, "readonly %s", path);
	if (remount_flags(path, MS_RDONLY | MS_REC, userns) < 0)
		return cc_error_errno(err, "readonly %s", path);
	return 0;
}

int rt_rootfs_finalize(const struct rt_rootfs_ctx *ctx, struct cc_error **err)
{
	const struct rt_linux *l = &ctx->spec->linux;
	for (size_t i = 0; l->masked_paths && l->masked_paths[i]; i++)
		if (mask_path(l->masked_paths[i], err) < 0)
			return -1;
	for (size_t i = 0; l->readonly_paths && l->readonly_paths[i]; i++)
		if (readonly_path(l->readonly_paths[i], ctx->userns, err) < 0)
			return -1;
	if (l->rootfs_propagation && mount(NULL, "/", NULL, l->rootfs_propagation, NULL) < 0)
		return cc_error_errno(err, "set rootfs propagation");
	if (ctx->spec->root.readonly && remount_flags("/", MS_RDONLY, ctx->userns) < 0)
		return cc_error_errno(err, "remount root read-only");
	return 0;
}

int rt_rootfs_bind_console(const char *rootfs, int slave, struct cc_error **err)
{
	char src[64];
	_cleanup_free_ char *dst =
	    rootfs ? cc_path_join(rootfs, "dev/console") : xstrdup("/dev/console");
	int fd = open(dst, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 && errno != EEXIST)
		return cc_error_errno(err, "create %s", dst);
	if (fd >= 0)
		close(fd);
	if (mount(FD_PATH(src, slave), dst, NULL, MS_BIND, NULL) < 0)
		return cc_error_errno(err, "bind console on %s", dst);
	return 0;
}
