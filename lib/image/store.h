/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The image store, on one filesystem under a root directory:
 *
 *   blobs/<alg>/<hex>        verified blobs (manifests, configs), content-addressed
 *   layers/<alg>/<hex>/      one unpacked layer per diff_id, shared by every image that has it
 *   images/<hex of ref>.json one record per image reference (what it resolved to, its layers)
 *   tmp/                     staging; emptied when the store is opened
 *   locks/                   flock(2) files: one per layer being unpacked, one for the store
 *   containers/              the writable layers of `rune-image mount`
 *
 * All of them, and the staging directory of a layer, are created 0700: they hold images' trees
 * (setuid files, file capabilities, device nodes) that only the store's owner may reach.
 *
 * Every entry appears atomically: it is built under tmp/ and renamed into place only when it
 * is complete and verified, so a crash or a failed check never leaves a half-written entry
 * visible. Two pulls of the same layer (threads or processes) do the work once: the second
 * waits on the layer's lock and then finds the layer present. Digests are validated before
 * they become paths.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "util/error.h"

struct img_store;

CC_MUST_CHECK struct img_store *img_store_open(const char *root, struct cc_error **err);
/*
 * The encrypted backend: the same store, but layers are unpacked straight into the encrypted,
 * integrity-protected store of lib/store (docs/store.md) at <root>/encrypted, opened with key
 * (32 bytes, copied) and made when missing; blobs and image records stay as in a plain store
 * (what a registry serves to anyone). A root holds one kind of layers: img_store_open of an
 * encrypted root, or this of a root with plain layers, is refused with a one-line error.
 * Processes share it as a plain store (gc needs it alone: refused while another has it).
 */
struct store;
CC_MUST_CHECK struct img_store *img_store_open_encrypted(const char *root, const uint8_t key[32],
							 struct cc_error **err);
bool img_store_encrypted(const struct img_store *s);
/* The encrypted backend's store (for the view and fsck), NULL for a plain store. */
struct store *img_store_backend(struct img_store *s);
/* The diff_ids of views' writable layers in an encrypted store start with this; gc keeps
 * them. */
#define IMG_STORE_UPPER_PREFIX "upper:"
void img_store_close(struct img_store *s);
const char *img_store_root(const struct img_store *s);

/* Blobs: put verifies the bytes against the digest first. get re-verifies what it reads
 * (max bounds the size). */
CC_MUST_CHECK int img_store_put_blob(struct img_store *s, const char *digest, const void *buf,
				     size_t len, struct cc_error **err);
bool img_store_has_blob(struct img_store *s, const char *digest);
CC_MUST_CHECK char *img_store_get_blob(struct img_store *s, const char *digest, size_t max,
				       size_t *len, struct cc_error **err);

/* Layers. begin returns 1 when the layer is already there (nothing to do), 0 with a staging
 * directory to unpack into (txn->dirfd), -1 on error. Exactly one of commit/abort follows a
 * 0. The caller verifies the diff_id of what it unpacked before commit. */
struct img_layer_txn {
	struct img_store *store;
	char *diff_id;
	char *staging; /* path under tmp/ */
	int dirfd;     /* O_DIRECTORY fd of the staging directory */
	int lockfd;
	/* The encrypted backend: the layer's writer (staging and dirfd unused, -1). */
	struct store_layer_writer *writer;
};
CC_MUST_CHECK int img_store_layer_begin(struct img_store *s, const char *diff_id,
					struct img_layer_txn *txn, struct cc_error **err);
CC_MUST_CHECK int img_store_layer_commit(struct img_layer_txn *txn, struct cc_error **err);
/* Wait, polling cancelled(ctx) (may be NULL) every 20 ms, until nobody (thread or process) is
 * unpacking the layer: a caller that can give up waits here before begin, whose wait cannot be
 * interrupted. 0, or -1 (IMG_ERR_CANCELLED when cancelled). */
CC_MUST_CHECK int img_store_layer_wait(struct img_store *s, const char *diff_id,
				       bool (*cancelled)(void *ctx), void *ctx,
				       struct cc_error **err);
void img_store_layer_abort(struct img_layer_txn *txn);
bool img_store_has_layer(struct img_store *s, const char *diff_id);
/* Path of a committed layer directory (caller frees), NULL if invalid digest or for an
 * encrypted store (its layers are read through the view, lib/store/view.h). */
char *img_store_layer_path(struct img_store *s, const char *diff_id);

/* Image records: a JSON object that must hold "ref" (string), "manifest" (digest), "config"
 * (digest) and "layers" (array of objects with "diff_id"); written atomically. */
CC_MUST_CHECK int img_store_put_image(struct img_store *s, json_t *record, struct cc_error **err);
CC_MUST_CHECK json_t *img_store_get_image(struct img_store *s, const char *ref,
					  struct cc_error **err);
/* All records, sorted by ref. */
CC_MUST_CHECK json_t *img_store_list_images(struct img_store *s, struct cc_error **err);
CC_MUST_CHECK int img_store_remove_image(struct img_store *s, const char *ref,
					 struct cc_error **err);
/* Remove layers and blobs no image record refers to; counts what went. A record that cannot
 * be read or is malformed could be using anything: gc then removes nothing and fails, naming
 * the record ("image store: image record PATH: REASON: garbage collection refused ..."). */
CC_MUST_CHECK int img_store_gc(struct img_store *s, size_t *layers_removed, size_t *blobs_removed,
			       struct cc_error **err);
/* The same, keeping also the layers and blobs keep names (digests; NULL-terminated; NULL for
 * none): those in use by something other than an image record, e.g. a served view. */
CC_MUST_CHECK int img_store_gc_keep(struct img_store *s, char *const *keep, size_t *layers_removed,
				    size_t *blobs_removed, struct cc_error **err);
