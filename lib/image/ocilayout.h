/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OCI image layouts (image-spec's image-layout): a directory holding `oci-layout`,
 * `index.json` and `blobs/<alg>/<hex>`, named on command lines as skopeo does,
 * `oci:PATH[:TAG]` (the path ends at the first ':').
 *
 * Reading resolves a tag (the org.opencontainers.image.ref.name annotation of an index.json
 * entry) to an image manifest, through an image index for a platform if need be, and hands out
 * blobs; the layout is untrusted input like a registry: digests are validated before they
 * become paths and every blob is checked against its digest by the reader (img_oci_get_blob
 * does it, a blob stream wants img_stream_verify on top).
 *
 * Writing is transactional: new blobs are staged in a private directory inside the layout
 * and published (renamed into blobs/) only by img_oci_writer_commit, which then replaces
 * index.json atomically, last. A write that fails or is abandoned leaves the layout as it was,
 * and a layout directory the writer created is removed again.
 */
#pragma once

#include <stdint.h>
#include <jansson.h>
#include "image/manifest.h"
#include "image/stream.h"
#include "util/error.h"

#define IMG_OCI_REF_NAME "org.opencontainers.image.ref.name"

/* "oci:PATH[:TAG]" split into *path and *tag (NULL when absent); false when text does not
 * start with "oci:" or the path is empty. Caller frees both. */
bool img_oci_parse_name(const char *text, char **path, char **tag);

struct img_oci;

CC_MUST_CHECK struct img_oci *img_oci_open(const char *path, struct cc_error **err);
void img_oci_close(struct img_oci *o);
/* The image manifest tagged tag (NULL: the layout's only entry), through an index for want
 * (NULL: the host's platform); *digest gets its digest. Caller frees both. */
CC_MUST_CHECK struct img_document *img_oci_manifest(struct img_oci *o, const char *tag,
						    const struct img_platform *want, char **digest,
						    struct cc_error **err);
/* A whole blob of at most max bytes, checked against digest. Caller frees. */
CC_MUST_CHECK char *img_oci_get_blob(struct img_oci *o, const char *digest, size_t max, size_t *len,
				     struct cc_error **err);
/* A blob as a stream (owns its descriptor; not checked: put img_stream_verify on top). */
CC_MUST_CHECK struct img_stream *img_oci_blob_stream(struct img_oci *o, const char *digest,
						     struct cc_error **err);

struct img_oci_writer;

/* Start writing into the layout at path: an existing layout, an empty directory, or a path
 * that does not exist yet (created). Anything else is refused before any change. */
CC_MUST_CHECK struct img_oci_writer *img_oci_writer_begin(const char *path, struct cc_error **err);
/* Read s to its end into a staged blob (bounded memory); *digest ("sha256:..", caller frees)
 * and *size describe what was read. s stays the caller's. A stage error of s is the error. */
CC_MUST_CHECK int img_oci_writer_put_stream(struct img_oci_writer *w, struct img_stream *s,
					    char **digest, int64_t *size, struct cc_error **err);
CC_MUST_CHECK int img_oci_writer_put_blob(struct img_oci_writer *w, const void *buf, size_t len,
					  char **digest, struct cc_error **err);
/* Publish the staged blobs, then index.json with desc (a manifest descriptor, borrowed) tagged
 * tag, replacing the tag's previous entry. Frees w, whatever the outcome. */
CC_MUST_CHECK int img_oci_writer_commit(struct img_oci_writer *w, const json_t *desc,
					const char *tag, struct cc_error **err);
/* Drop what was staged (and the layout directory if begin created it). NULL is fine. */
void img_oci_writer_abort(struct img_oci_writer *w);
