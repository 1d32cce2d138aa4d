/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The payload of an image signature: the JSON that a simple-signing (GPG) signature wraps and
 * that a cosign signature covers. Both have one shape; critical.type tells them apart:
 *
 *   {"critical": {"identity": {"docker-reference": "host/repo:tag"},
 *                 "image": {"docker-manifest-digest": "sha256:..."},
 *                 "type": "atomic container signature"},
 *    "optional": {"creator": "...", "timestamp": 1795332592}}
 *
 * Parsed as containers/image parses it, and only after the signature over it was verified:
 * the top level, critical, image and identity have exactly these keys (another key, a missing
 * one or a duplicate refuses the signature); optional's other keys are ignored, its timestamp
 * is an integer and its creator a string; a cosign payload's optional may be null.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "util/error.h"

enum sign_format {
	SIGN_SIMPLE, /* "atomic container signature" (GPG simple signing) */
	SIGN_COSIGN, /* "cosign container image signature" (sigstore) */
};

/* critical.type of each format. */
const char *sign_format_type(enum sign_format f);

struct sign_payload {
	char *manifest_digest;	/* critical.image.docker-manifest-digest */
	char *docker_reference; /* critical.identity.docker-reference */
	char *creator;		/* optional.creator, or NULL */
	int64_t timestamp;	/* optional.timestamp (seconds since the epoch) ... */
	bool has_timestamp;	/* ... when it was there */
};

/* Parse a verified payload of format f into *out (cleared first). On failure *out is empty
 * and the error says what is wrong, naming the key path ("critical.image: unknown key
 * \"extra\""). */
CC_MUST_CHECK int sign_payload_parse(const void *buf, size_t len, enum sign_format f,
				     struct sign_payload *out, struct cc_error **err);
void sign_payload_clear(struct sign_payload *p);

/* The payload for a new signature, as containers/image writes it: compact JSON, keys sorted;
 * creator and timestamp are left out when NULL / negative. The caller frees. */
char *sign_payload_make(enum sign_format f, const char *docker_reference,
			const char *manifest_digest, const char *creator, int64_t timestamp);
