/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pull an image into the store: resolve the reference (index -> the manifest for the
 * platform), fetch and check the config, then fetch, check and unpack the layers concurrently
 * (each through the layer pipeline), and only then write the image record. A failed pull
 * leaves no image record; layers and blobs that were completely verified stay cached, so a
 * retry does not fetch them again.
 *
 * Cancellation: when o->cancelled returns true (it is polled between stages, during transfers
 * and while waiting for another pull's layer), the pull stops promptly with an error of code
 * IMG_ERR_CANCELLED; like any failure it leaves no image record and no partial layer. Errors
 * are classified in err->code (image/error.h).
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

struct crypt_keys;

/* Called from the worker threads, serialised by the puller. */
typedef void (*img_progress_fn)(void *ctx, size_t layer, const struct img_descriptor *d,
				enum img_progress_event ev, int64_t bytes);

/* The signature gate (lib/sign's sign_pull_gate): called with the top-level manifest (or
 * index) exactly as the registry sent it and its digest, before anything is stored and before
 * any other document is fetched; an error refuses the pull. Everything fetched afterwards is
 * bound to that digest (the platform's manifest by its digest in the index, the config and
 * layers by theirs in the manifest). */
struct img_pull_gate {
	int (*check)(void *ctx, struct img_registry *reg, const struct img_ref *ref,
		     const char *digest, const char *body, size_t len, struct cc_error **err);
	void *ctx;
};

struct img_pull_opts {
	struct img_registry_opts registry;
	const struct img_platform *platform; /* NULL: the host's */
	bool rootless;
	unsigned jobs; /* layers fetched at once; 0: 3 */
	img_progress_fn progress;
	void *progress_ctx;
	/* Optional, called from several threads: true = give up (see above). Used for the
	 * registry too unless registry.cancelled is set. */
	bool (*cancelled)(void *ctx);
	void *cancel_ctx;
	/* Decryption keys for encrypted layers (lib/crypt; borrowed, used by several threads).
	 * NULL: an encrypted layer fails ("layer X is encrypted and no decryption key was
	 * given"). A cached layer of an encrypted image needs its key too. */
	const struct crypt_keys *keys;
	const struct img_pull_gate *gate; /* NULL: no signature gate */
};

/* The manifest for the platform (want; NULL: the host's), through the index when the reference
 * names one, the top-level document through gate first (NULL: none). With a store, the
 * documents fetched are kept in it. *index_digest (NULL without an
 * index) and *manifest_digest are the caller's to free. */
CC_MUST_CHECK struct img_document *
img_resolve_manifest(struct img_registry *reg, struct img_store *store, const struct img_ref *ref,
		     const char *name, const struct img_platform *want,
		     const struct img_pull_gate *gate, char **index_digest, char **manifest_digest,
		     struct cc_error **err);

/* Returns the image record as stored (caller owns it), or NULL. */
CC_MUST_CHECK json_t *img_pull(struct img_store *store, const char *reference,
			       const struct img_pull_opts *o, struct cc_error **err);
