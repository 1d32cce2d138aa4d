/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pull an image into the store: resolve the reference (index -> the manifest for the
 * platform), fetch and check the config, then fetch, check and unpack the layers concurrently
 * (each through the layer pipeline), and only then write the image record. A failed pull
 * leaves no image record; layers and blobs that were completely verified stay cached, so a
 * retry does not fetch them again.
 */
#pragma once

#include <jansson.h>
#include "image/manifest.h"
#include "image/registry.h"
#include "image/store.h"
#include "util/error.h"

enum img_progress_event {
	IMG_PROGRESS_START,
	IMG_PROGRESS_BYTES,
	IMG_PROGRESS_DONE,
	IMG_PROGRESS_CACHED
};

/* Called from the worker threads, serialised by the puller. */
typedef void (*img_progress_fn)(void *ctx, size_t layer, const struct img_descriptor *d,
				enum img_progress_event ev, int64_t bytes);

struct img_pull_opts {
	struct img_registry_opts registry;
	const struct img_platform *platform; /* NULL: the host's */
	bool rootless;
	unsigned jobs; /* layers fetched at once; 0: 3 */
	img_progress_fn progress;
	void *progress_ctx;
};

/* Returns the image record as stored (caller owns it), or NULL. */
json_t *img_pull(struct img_store *store, const char *reference, const struct img_pull_opts *o,
		 struct cc_error **err);
