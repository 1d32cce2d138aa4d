/* SPDX-License-Identifier: Apache-2.0 */
/* What the store's unit tests (layers, fsck, view) share. Include after cmocka.h. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include "util/cleanup.h"
#include "util/error.h"

/* A call that must succeed: its error is the failure's message. */
static inline void ok(int ret, struct cc_error **err)
{
	if (ret < 0)
		fail_msg("%s", (*err)->msg);
}

/* len pseudo-random bytes from seed (a linear congruential generator), one spare byte after. */
static inline uint8_t *pattern(size_t len, unsigned seed)
{
	uint8_t *p = xmalloc(len + 1);
	uint32_t x = seed * 2654435761u + 1;
	for (size_t i = 0; i < len; i++) {
		x = x * 1103515245u + 12345u;
		p[i] = (uint8_t)(x >> 16);
	}
	return p;
}
