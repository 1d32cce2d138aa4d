// SPDX-License-Identifier: Apache-2.0
/*
 * The container's root filesystem: containerd sends its snapshot as mounts (an overlay, a
 * bind) that the shim stacks on BUNDLE/rootfs before rune runs, and takes down at delete.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include "ctd-mount.pb-c.h"
#include "shim.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strv.h"

static const struct {
	const char *name;
	bool clear;
	unsigned long flag;
} flags[] = {
	{ "ro", false, MS_RDONLY },	  { "rw", true, MS_RDONLY },
	{ "nosuid", false, MS_NOSUID },	  { "suid", true, MS_NOSUID },
	{ "nodev", false, MS_NODEV },	  { "dev", true, MS_NODEV },
	{ "noexec", false, MS_NOEXEC },	  { "exec", true, MS_NOEXEC },
	{ "noatime", false, MS_NOATIME }, { "relatime", false, MS_RELATIME },
	{ "bind", false, MS_BIND },	  { "rbind", false, MS_BIND | MS_REC },
	{ "defaults", false, 0 },
};

/* fstab-style options: MS_* flags, and the rest as the file system's data. */
static char *split_options(char **options, size_t n, unsigned long *out)
{
	_cleanup_strv_ char **data = NULL;
	unsigned long f = 0;
	for (size_t i = 0; i < n; i++) {
		size_t k = 0;
		while (k < sizeof(flags) / sizeof(*flags) && strcmp(flags[k].name, options[i]))
			k++;
		if (k == sizeof(flags) / sizeof(*flags))
			cc_strv_push(&data, options[i]);
		else if (flags[k].clear)
			f &= ~flags[k].flag;
		else
			f |= flags[k].flag;
	}
	*out = f;
	return data && data[0] ? cc_strv_join(data, ",") : NULL;
}

int shim_mount_rootfs(const char *bundle, struct Containerd__Types__Mount **m, size_t n,
		      struct cc_error **err)
{
	if (!n)
		return 0;
	_cleanup_free_ char *rootfs = cc_path_join(bundle, "rootfs");
	if (mkdir(rootfs, 0711) < 0 && errno != EEXIST)
		return cc_error_set(err, errno, "create %s", rootfs);
	for (size_t i = 0; i < n; i++) {
		unsigned long f;
		_cleanup_free_ char *data = split_options(m[i]->options, m[i]->n_options, &f);
		const char *type = m[i]->type && *m[i]->type ? m[i]->type : "none";
		if (!strcmp(type, "bind"))
			f |= MS_BIND;
		/* A read-only bind takes a remount: the kernel ignores MS_RDONLY with MS_BIND. */
		if (mount(m[i]->source, rootfs, type, f & ~(f & MS_BIND ? MS_RDONLY : 0), data) <
			0 ||
		    ((f & MS_BIND) && (f & MS_RDONLY) &&
		     mount(NULL, rootfs, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0)) {
			int e = errno;
			struct cc_error *ignored = NULL;
			if (shim_unmount_rootfs(bundle, &ignored) < 0)
				cc_error_free(&ignored);
			return cc_error_set(err, e, "mount %s (%s) on %s", m[i]->source ?: "", type,
					    rootfs);
		}
	}
	return 0;
}

int shim_unmount_rootfs(const char *bundle, struct cc_error **err)
{
	_cleanup_free_ char *rootfs = cc_path_join(bundle, "rootfs");
	/* Everything stacked there, top first; EINVAL once nothing is mounted on it. */
	for (int i = 0; i < 64; i++) {
		if (umount2(rootfs, MNT_DETACH | UMOUNT_NOFOLLOW) == 0)
			continue;
		if (errno == EINVAL || errno == ENOENT)
			return 0;
		return cc_error_set(err, errno, "unmount %s", rootfs);
	}
	return cc_error_set(err, EBUSY, "unmount %s: still mounted after 64 unmounts", rootfs);
}
