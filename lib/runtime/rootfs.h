/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The container's filesystem view, built by the init inside its new mount namespace:
 *   rt_rootfs_prepare()  propagation, rootfs bind, config mounts, /dev (devices, symlinks, pts)
 *   [createContainer hooks run here, by the caller]
 *   rt_rootfs_pivot()    pivot_root (or MS_MOVE + chroot for --no-pivot)
 *   rt_rootfs_finalize() masked paths, readonly paths, read-only root
 * Every destination is resolved inside the rootfs (openat2 RESOLVE_IN_ROOT): a symlink in the
 * image can never make a mount land outside it.
 */
#pragma once

#include <stdbool.h>
#include "runtime/cgroup.h"
#include "runtime/spec.h"
#include "util/error.h"

struct rt_rootfs_ctx {
	const struct rt_spec *spec;
	const char *rootfs;		/* absolute host path of root.path */
	const struct rt_cgroup *cgroup; /* for mounts of type "cgroup" */
	bool userns;			/* in a new user namespace: bind devices instead of mknod */
	bool cgroupns;			/* has its own cgroup namespace */
	bool no_pivot;
};

CC_MUST_CHECK int rt_rootfs_prepare(const struct rt_rootfs_ctx *ctx, struct cc_error **err);
CC_MUST_CHECK int rt_rootfs_pivot(const struct rt_rootfs_ctx *ctx, struct cc_error **err);
CC_MUST_CHECK int rt_rootfs_finalize(const struct rt_rootfs_ctx *ctx, struct cc_error **err);
/* Bind the pty `slave` over <rootfs>/dev/console (rootfs NULL: after pivot_root). */
CC_MUST_CHECK int rt_rootfs_bind_console(const char *rootfs, int slave, struct cc_error **err);
