/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One layer, from its blob's bytes to a committed directory in the store, in one pass:
 *
 *   src -> verify(blob digest, size) -> [decrypt, HMAC] -> decompress -> verify(diff_id)
 *       -> unpack (overlay format; or, for an encrypted store, into its layer writer)
 *
 * The unpacked tree is staged and committed only after every check has passed (both digests
 * and an encrypted layer's HMAC are known only at the end of the stream), so a layer that
 * fails any check leaves nothing in the store, not even the unauthenticated plaintext.
 */
#pragma once

#include <stdbool.h>
#include "image/manifest.h"
#include "image/store.h"
#include "image/stream.h"
#include "util/error.h"

/* Returns 1 if the layer was already in the store (src is not read), 0 once it is committed,
 * -1 on error: the message names the blob and the stage that failed. Takes ownership of src.
 * keys (may be NULL) decrypt an encrypted layer (blob->encrypted, see img_layer_decryptor);
 * its key is unwrapped before anything is read. */
struct crypt_keys;
CC_MUST_CHECK int img_layer_apply(struct img_store *store, const struct img_descriptor *blob,
				  const char *diff_id, struct img_stream *src,
				  const struct crypt_keys *keys, bool rootless,
				  struct cc_error **err);
