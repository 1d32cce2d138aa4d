/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A client for one repository of an OCI distribution registry (libcurl):
 *
 *   - HTTPS with the system CAs or a given CA file; plain HTTP only for hosts listed as
 *     insecure, and for loopback registries that do not speak TLS;
 *   - auth: anonymous, HTTP basic, and the bearer-token flow (WWW-Authenticate: Bearer
 *     realm=..,service=..,scope=..), with credentials from the caller or a containers
 *     auth.json / docker config.json;
 *   - manifests by tag or digest with the OCI + Docker Accept list; blobs in memory (bounded)
 *     or as a stream for the layer pipeline, following redirects, retrying transport failures
 *     with back-off and resuming a dropped transfer with an HTTP Range request;
 *   - limits on every transfer: one that receives no byte for the stall timeout is dropped
 *     (and retried, like a broken connection), and one that has not ended by its deadline
 *     fails, its retries and back-off included ("blob sha256:..: no data for 30 s (stalled at
 *     123 of 456 bytes)"); a body that does not match the descriptor's size is a size mismatch
 *     and is not retried ("blob sha256:..: size mismatch: got 100 of 1234 bytes").
 *
 * Secrets (passwords, tokens) never appear in messages and are wiped when freed. Errors are
 * classified in err->code (image/error.h).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "image/reference.h"
#include "image/stream.h"
#include "util/error.h"

struct img_registry_opts {
	const char *username, *password; /* take precedence over the auth file */
	const char *auth_file;		 /* NULL: $REGISTRY_AUTH_FILE, then
					    $XDG_RUNTIME_DIR/containers/auth.json, then
					    ~/.docker/config.json */
	/* An auth.json document in memory (a secret from a key broker, say), used instead of
	 * auth_file when not NULL; the caller keeps and wipes it. */
	const char *auth_json;
	size_t auth_json_len;
	const char *ca_file;   /* extra CA bundle, NULL: the system's */
	char *const *insecure; /* "host[:port]" allowed over plain HTTP, no TLS checks */
	unsigned retries;      /* transient failures retried (0: the default, 3) */
	/* No byte received for this long: the transfer is dropped and retried. 0: 30 s. */
	uint64_t stall_timeout_ms;
	/* Each transfer (a manifest, a blob: every attempt and back-off) must end within this.
	 * 0: 30 min, or the time the declared size takes at 256 KiB/s when that is longer. */
	uint64_t transfer_timeout_ms;
	/* Optional: polled during transfers and back-off waits (from libcurl's and the
	 * caller's threads); true aborts the operation with IMG_ERR_CANCELLED. */
	bool (*cancelled)(void *ctx);
	void *cancel_ctx;
};

struct img_registry;

CC_MUST_CHECK struct img_registry *img_registry_open(const struct img_ref *ref,
						     const struct img_registry_opts *o,
						     struct cc_error **err);
void img_registry_close(struct img_registry *r);

/* GET /v2/<name>/manifests/<reference>: the body (at most IMG_MANIFEST_MAX), its Content-Type
 * and its sha256 digest. When reference is a digest, the body must hash to it. */
CC_MUST_CHECK int img_registry_get_manifest(struct img_registry *r, const char *reference,
					    char **body, size_t *len, char **content_type,
					    char **digest, struct cc_error **err);
/* A whole (small) blob, checked against its digest; at most max bytes. */
CC_MUST_CHECK char *img_registry_get_blob(struct img_registry *r, const char *digest, size_t max,
					  size_t *len, struct cc_error **err);
/* The same for a blob whose descriptor gives its size (>= 0): other than size bytes is a size
 * mismatch (IMG_ERR_INTEGRITY), reported before the digest is. */
CC_MUST_CHECK char *img_registry_get_blob_sized(struct img_registry *r, const char *digest,
						int64_t size, size_t max, size_t *len,
						struct cc_error **err);
/* A blob as a stream (put img_stream_verify on top for the digest). size (-1: unknown) is the
 * descriptor's: a registry that announces or sends more, or ends its body before size bytes,
 * fails the stream with a size mismatch at once (not retried); broken and stalled transfers
 * are resumed, within the transfer's deadline. */
struct img_stream *img_registry_blob_stream(struct img_registry *r, const char *digest,
					    int64_t size);

/*
 * Writes and the signature extension. Each goes through the same auth (a bearer token asked
 * for on the way covers push when the challenge names no scope), retries and limits as the
 * reads; answers are bounded; a failure names what was written and the registry's answer.
 */

/* Whether the registry has the signature extension: X-Registry-Supports-Signatures: 1 in its
 * answer (200 or 401, as containers/image pings) to GET /v2/. Asked once per client. */
CC_MUST_CHECK int img_registry_supports_signatures(struct img_registry *r, bool *yes,
						   struct cc_error **err);
/* GET /extensions/v2/<repo>/<path> (path: "signatures/sha256:..."): the body of a 200 answer,
 * NUL-terminated, at most max bytes (more is an error); another status is an error naming the
 * path (404: IMG_ERR_NOT_FOUND). The caller frees. */
CC_MUST_CHECK char *img_registry_get_extension(struct img_registry *r, const char *path, size_t max,
					       size_t *len, struct cc_error **err);
/* PUT of body (of content_type) to /extensions/v2/<repo>/<path>: the registry must answer 201. */
CC_MUST_CHECK int img_registry_put_extension(struct img_registry *r, const char *path,
					     const char *content_type, const void *body, size_t len,
					     struct cc_error **err);
/* HEAD /v2/<repo>/blobs/<digest>: 1 the registry has it, 0 it does not (404), -1 error. */
CC_MUST_CHECK int img_registry_has_blob(struct img_registry *r, const char *digest,
					struct cc_error **err);
/* Upload a blob unless the registry has it already (HEAD): POST /v2/<repo>/blobs/uploads/
 * (202 with a Location, absolute or relative, that may carry a query), then one PUT of the
 * whole blob to that Location with digest=<digest> added (201). Credentials go only to the
 * registry's own address. *digest (may be NULL) receives the blob's sha256 digest. */
CC_MUST_CHECK int img_registry_put_blob(struct img_registry *r, const void *data, size_t len,
					char **digest, struct cc_error **err);
/* PUT /v2/<repo>/manifests/<reference> (a tag or digest) with the manifest's media type as
 * Content-Type: the registry must answer 201. */
CC_MUST_CHECK int img_registry_put_manifest(struct img_registry *r, const char *reference,
					    const char *content_type, const void *body, size_t len,
					    struct cc_error **err);
/* GET of an http:// or https:// URL outside the registry (a signature lookaside), with the
 * client's CA file, retries, stall timeout and deadline, but without its credentials or its
 * insecure exception. The body of a 200 answer, at most max bytes; another status is an error
 * "URL: the server answered HTTP 500" (404: IMG_ERR_NOT_FOUND). The URL appears in messages:
 * it must not carry credentials. The caller frees. */
CC_MUST_CHECK char *img_registry_get_url(struct img_registry *r, const char *url, size_t max,
					 size_t *len, struct cc_error **err);
