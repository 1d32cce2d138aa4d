/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Layer-descriptor annotations of ocicrypt and the "+encrypted" media types.
 *
 *   org.opencontainers.image.enc.keys.{jwe,pkcs7,pgp}   comma-separated std-base64 blobs
 *   org.opencontainers.image.enc.keys.provider.<name>  idem, one per key provider
 *   org.opencontainers.image.enc.pubopts               std-base64 of the public options JSON
 *
 * Annotations come from a registry: values are bounded, base64 is strict, and every error
 * names the annotation.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include "crypt/internal.h"

#define CRYPT_ANN_PREFIX "org.opencontainers.image.enc."
#define CRYPT_ANN_KEYS "org.opencontainers.image.enc.keys."
#define CRYPT_ANN_JWE "org.opencontainers.image.enc.keys.jwe"
#define CRYPT_ANN_PKCS7 "org.opencontainers.image.enc.keys.pkcs7"
#define CRYPT_ANN_PGP "org.opencontainers.image.enc.keys.pgp"
#define CRYPT_ANN_PROVIDER "org.opencontainers.image.enc.keys.provider."
#define CRYPT_ANN_PUBOPTS "org.opencontainers.image.enc.pubopts"

enum crypt_scheme { CRYPT_SCHEME_JWE, CRYPT_SCHEME_PKCS7, CRYPT_SCHEME_PGP, CRYPT_SCHEME_PROVIDER };

/* The wrapped keys of one annotation. */
struct crypt_wrapped {
	enum crypt_scheme scheme;
	char *annotation; /* full key, for messages */
	char *provider;	  /* provider name (CRYPT_SCHEME_PROVIDER) */
	struct crypt_buf *blobs;
	size_t n_blobs;
};

struct crypt_annotations {
	struct crypt_wrapped *keys; /* jwe, pkcs7, pgp, then providers in name order */
	size_t n_keys;
	struct crypt_buf pubopts; /* decoded JSON; empty when the annotation is absent */
};

/* Parse the annotations object of a layer descriptor (NULL = none). Annotations outside
 * org.opencontainers.image.enc.* are ignored; unknown enc.keys.* schemes (pkcs11) are
 * skipped, other unknown enc.* keys too. */
CC_MUST_CHECK int crypt_annotations_parse(const json_t *annotations, struct crypt_annotations *out,
					  struct cc_error **err);
void crypt_annotations_clear(struct crypt_annotations *a);

/* "jwe", "pkcs7", "pgp", "provider". */
const char *crypt_scheme_name(enum crypt_scheme s);
