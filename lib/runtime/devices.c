// SPDX-License-Identifier: Apache-2.0
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include "runtime/devices.h"
#include "util/cleanup.h"
#include "util/fs.h"

static const struct rt_device default_devices[] = {
	{ 'c', (char *)"/dev/null", 1, 3, true, false, false, 0666, 0, 0 },
	{ 'c', (char *)"/dev/zero", 1, 5, true, false, false, 0666, 0, 0 },
	{ 'c', (char *)"/dev/full", 1, 7, true, false, false, 0666, 0, 0 },
	{ 'c', (char *)"/dev/random", 1, 8, true, false, false, 0666, 0, 0 },
	{ 'c', (char *)"/dev/urandom", 1, 9, true, false, false, 0666, 0, 0 },
	{ 'c', (char *)"/dev/tty", 5, 0, true, false, false, 0666, 0, 0 },
};

static mode_t type_bits(char t)
{
	switch (t) {
	case 'b':
		return S_IFBLK;
	case 'p':
		return S_IFIFO;
	default:
		return S_IFCHR;
	}
}

/* In a user namespace mknod is refused: bind the host's node onto an empty file instead. */
static int bind_host_device(int dir, const char *base, const struct rt_device *d,
			    struct cc_error **err)
{
	char target[64];
	int fd = openat(dir, base, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0000);
	if (fd < 0)
		return cc_error_errno(err, "create %s", d->path);
	close(fd);
	_cleanup_close_ int tfd = openat(dir, base, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (tfd < 0)
		return cc_error_errno(err, "open %s", d->path);
	snprintf(target, sizeof(target), "/proc/self/fd/%d", tfd);
	if (mount(d->path, target, NULL, MS_BIND, NULL) < 0)
		return cc_error_errno(err, "bind host device %s", d->path);
	return 0;
}

static int create_device(int rootfd, const struct rt_device *d, bool userns, struct cc_error **err)
{
	_cleanup_free_ char *dcopy = xstrdup(d->path), *bcopy = xstrdup(d->path);
	_cleanup_close_ int dir = cc_mkdir_p_in_root(rootfd, dirname(dcopy), 0755, err);
	const char *base = basename(bcopy);
	if (dir < 0)
		return -1;
	struct stat st;
	if (fstatat(dir, base, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (S_ISDIR(st.st_mode))
			return cc_error_set(err, 0, "device %s: a directory is in the way",
					    d->path);
		unlinkat(dir, base, 0);
	}
	mode_t mode = (d->has_file_mode ? d->file_mode : 0666) & 07777;
	if (userns)
		return bind_host_device(dir, base, d, err);
	dev_t dev = makedev((unsigned)d->major, (unsigned)d->minor);
	if (mknodat(dir, base, type_bits(d->type) | mode, d->type == 'p' ? 0 : dev) < 0) {
		if (errno == EPERM)
			return bind_host_device(dir, base, d, err);
		return cc_error_errno(err, "mknod %s", d->path);
	}
	/* mknod applies the umask: set the mode exactly, then the owner. */
	if (fchmodat(dir, base, mode, 0) < 0 ||
	    fchownat(dir, base, d->has_uid ? d->uid : 0, d->has_gid ? d->gid : 0,
		     AT_SYMLINK_NOFOLLOW) < 0)
		return cc_error_errno(err, "set owner and mode of %s", d->path);
	return 0;
}

static int make_symlink(int rootfd, const char *target, const char *path, bool replace,
			struct cc_error **err)
{
	_cleanup_close_ int dev = cc_mkdir_p_in_root(rootfd, "/dev", 0755, err);
	if (dev < 0)
		return -1;
	if (replace)
		unlinkat(dev, path, 0);
	if (symlinkat(target, dev, path) < 0 && errno != EEXIST)
		return cc_error_errno(err, "symlink /dev/%s", path);
	return 0;
}

static bool has_mount(const struct rt_spec *spec, const char *dest, bool *bind)
{
	for (size_t i = 0; i < spec->n_mounts; i++)
		if (strcmp(spec->mounts[i].destination, dest) == 0) {
			if (bind)
				*bind = spec->mounts[i].bind;
			return true;
		}
	return false;
}

int rt_devices_setup(const struct rt_rootfs_ctx *ctx, int rootfd, struct cc_error **err)
{
	const struct rt_spec *spec = ctx->spec;
	bool dev_bind = false;
	/* A /dev bound from the host already has its devices. */
	bool own_dev = !(has_mount(spec, "/dev", &dev_bind) && dev_bind);
	mode_t old = umask(0);
	int ret = 0;
	for (size_t i = 0; own_dev && ret == 0 && i < ARRAY_SIZE(default_devices); i++) {
		bool overridden = false;
		for (size_t k = 0; k < spec->linux.n_devices; k++)
			if (strcmp(spec->linux.devices[k].path, default_devices[i].path) == 0)
				overridden = true;
		if (!overridden)
			ret = create_device(rootfd, &default_devices[i], ctx->userns, err);
	}
	for (size_t i = 0; ret == 0 && i < spec->linux.n_devices; i++)
		ret = create_device(rootfd, &spec->linux.devices[i], ctx->userns, err);
	umask(old);
	if (ret < 0 || !own_dev)
		return ret < 0 ? cc_error_prefix(err, "devices") : 0;
	static const char *const links[][2] = { { "/proc/self/fd", "fd" },
						{ "/proc/self/fd/0", "stdin" },
						{ "/proc/self/fd/1", "stdout" },
						{ "/proc/self/fd/2", "stderr" } };
	for (size_t i = 0; i < ARRAY_SIZE(links); i++)
		if (make_symlink(rootfd, links[i][0], links[i][1], false, err) < 0)
			return -1;
	if (access("/proc/kcore", F_OK) == 0 &&
	    make_symlink(rootfd, "/proc/kcore", "core", false, err) < 0)
		return -1;
	if (has_mount(spec, "/dev/pts", NULL) &&
	    make_symlink(rootfd, "pts/ptmx", "ptmx", true, err) < 0)
		return -1;
	return 0;
}
