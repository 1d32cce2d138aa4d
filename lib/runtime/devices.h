/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "runtime/rootfs.h"

/* Create the default devices (null, zero, full, random, urandom, tty), linux.devices and the
 * default /dev symlinks inside the rootfs. Device nodes are bind-mounted from the host when
 * mknod is not allowed (user namespaces). */
CC_MUST_CHECK int rt_devices_setup(const struct rt_rootfs_ctx *ctx, int rootfd,
				   struct cc_error **err);
