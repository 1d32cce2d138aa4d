/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Where an image's signatures are found and put, as containers/image does it for docker://:
 *
 *   - simple (GPG) signatures: through the registry's signature extension when GET /v2/
 *     answers with X-Registry-Supports-Signatures: 1 (then the lookaside is not used):
 *     GET /extensions/v2/<repo>/signatures/<digest> -> {"signatures":[{"schemaVersion":2,
 *     "name":"<digest>@<32 hex>","type":"atomic","content":"<base64>"}]} (entries of another
 *     schemaVersion or type are skipped), PUT one such object per new signature (201);
 *     otherwise from the lookaside of registries.d: <base>/<repo path>@<algo>=<hex>/signature-N
 *     for N = 1, 2, ... until the first that does not exist (file://, http://, https://);
 *     written only to a file:// lookaside (staging first), as signature-<first free N>;
 *   - cosign signatures: only when use-sigstore-attachments applies to the image: the layers
 *     of the manifest tagged sha256-<hex>.sig in the same repository (sign/cosign.h), each
 *     payload blob fetched and checked against its layer digest; a missing tag is no
 *     signature. Written by reading that manifest (if any), adding a layer, uploading the
 *     payload and config blobs and putting the manifest again under the tag.
 *
 * Bounds (whatever the source): SIGN_STORAGE_MAX signatures of each kind, each at most
 * SIGN_STORAGE_BLOB_MAX bytes, an extension answer at most SIGN_STORAGE_LIST_MAX bytes. A
 * source that cannot be read (a lookaside that does not answer, a file that cannot be
 * opened, a malformed extension answer) is an error naming it, never "no signatures".
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include "image/reference.h"
#include "image/registry.h"
#include "sign/registries.h"
#include "util/error.h"

#define SIGN_STORAGE_MAX 64
#define SIGN_STORAGE_BLOB_MAX (4u << 20)
#define SIGN_STORAGE_LIST_MAX (4u << 20)

struct sign_blob {
	unsigned char *data;
	size_t len;
	char *origin;	 /* for messages: "file:///x/ns/img@sha256=ab../signature-2",
			    "registry extension 127.0.0.1:5000 #1", "ns/img:sha256-ab...sig layer 1" */
	char *signature; /* cosign: the base64 signature annotation; NULL for simple */
};

struct sign_found {
	struct sign_blob *simple; /* OpenPGP messages, as stored */
	size_t n_simple;
	struct sign_blob *cosign; /* payloads, each with its signature */
	size_t n_cosign;
};
void sign_found_clear(struct sign_found *f);

/* The signatures of the image ref (a docker reference) whose top-level manifest is digest.
 * reg is a client for ref's repository; rd may be NULL (no registries.d: built-in default
 * lookaside, no attachments). reg may be NULL too: then only the lookaside is read (an
 * http(s) one through a client of its own), neither the extension nor attachments. On failure
 * out is empty. */
CC_MUST_CHECK int sign_storage_fetch(struct img_registry *reg, const struct sign_registries *rd,
				     const struct img_ref *ref, const char *digest,
				     struct sign_found *out, struct cc_error **err);
/* Store a simple signing blob for (ref, digest); *where (may be NULL) says where it went
 * (the caller frees). The same blob already in the registry extension is not put again; a
 * lookaside file is never replaced. reg NULL: the lookaside only. */
CC_MUST_CHECK int sign_storage_put_simple(struct img_registry *reg,
					  const struct sign_registries *rd,
					  const struct img_ref *ref, const char *digest,
					  const void *blob, size_t len, char **where,
					  struct cc_error **err);
/* Add a cosign signature (payload and its base64 signature) to the .sig attachment; whether
 * use-sigstore-attachments allows it is the caller's to check. The same payload and signature
 * already there is not added again. Layers carried over keep only their signature (see
 * sign_cosign_manifest_build). */
CC_MUST_CHECK int sign_storage_put_cosign(struct img_registry *reg, const struct img_ref *ref,
					  const char *digest, const void *payload, size_t len,
					  const char *signature, char **where,
					  struct cc_error **err);
