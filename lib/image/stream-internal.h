/* SPDX-License-Identifier: Apache-2.0 */
/* For modules that implement stream stages (sources such as the registry's blob stream). */
#pragma once

#include "image/stream.h"

struct img_stream {
	ssize_t (*read)(struct img_stream *s, void *buf, size_t len);
	void (*free)(struct img_stream *s); /* the stage's own resources, not s itself */
	struct img_stream *in;		    /* the stage below, owned */
	struct cc_error *err;		    /* why this stage stopped */
};

/* Record why the stage stopped; returns -1 for `return img_stage_fail(...)`. */
ssize_t img_stage_fail(struct img_stream *s, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
