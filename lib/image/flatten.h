/* SPDX-License-Identifier: Apache-2.0 */
/* A flattened rootfs from an image's overlay-format layers (bottom first). See flatten.c. */
#pragma once

#include <stddef.h>
#include "util/error.h"

/* dest is created if missing (it should be empty). */
int img_flatten(char *const *layer_dirs, size_t n, const char *dest, struct cc_error **err);
