/* SPDX-License-Identifier: Apache-2.0 */
/* A flattened rootfs from an image's overlay-format layers (bottom first). See flatten.c. */
#pragma once

#include <stddef.h>
#include "util/error.h"

/*
 * dest is created if missing (0755: the caller keeps it in a private directory, or makes it
 * 0700 first, as `rune-image unpack` does), or must be an empty directory (refused otherwise:
 * "flatten: DEST is not empty"; nothing is merged into what is there). Trees of any depth;
 * files keep their holes. On failure nothing is left: what was made in dest is removed, and
 * dest too if it was made here.
 */
CC_MUST_CHECK int img_flatten(char *const *layer_dirs, size_t n, const char *dest,
			      struct cc_error **err);
