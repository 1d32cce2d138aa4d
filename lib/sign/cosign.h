/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Cosign (sigstore) signatures in the legacy tag-based layout: for an image whose manifest is
 * sha256:<hex>, the tag sha256-<hex>.sig of the same repository holds an OCI image manifest
 * whose every layer is one signature: the layer blob is the payload (sign/payload.h, type
 * "cosign container image signature"), of media type
 * application/vnd.dev.cosign.simplesigning.v1+json, and the layer's annotation
 * dev.cosignproject.cosign/signature is the base64 signature over the payload bytes (ECDSA
 * P-256: ASN.1 DER over SHA-256 of the payload; RSA: PKCS#1 v1.5 with SHA-256; Ed25519: over
 * the payload itself).
 *
 * Keys are PEM: public keys as SubjectPublicKeyInfo ("PUBLIC KEY"); private keys (for
 * signing, ECDSA P-256 only) as unencrypted PKCS#8 ("PRIVATE KEY") or SEC1 ("EC PRIVATE
 * KEY"). Cosign's own encrypted key file ("ENCRYPTED COSIGN PRIVATE KEY", scrypt +
 * nacl/secretbox) is refused by name.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "util/error.h"

#define SIGN_COSIGN_MEDIA_TYPE "application/vnd.dev.cosign.simplesigning.v1+json"
#define SIGN_COSIGN_SIGNATURE_ANNOTATION "dev.cosignproject.cosign/signature"

struct sign_cosign_key;

/* A public key from PEM bytes (name says where they came from, for messages). */
CC_MUST_CHECK struct sign_cosign_key *
sign_cosign_key_public(const void *pem, size_t len, const char *name, struct cc_error **err);
/* A private key for signing from PEM bytes: ECDSA P-256 only. */
CC_MUST_CHECK struct sign_cosign_key *
sign_cosign_key_private(const void *pem, size_t len, const char *name, struct cc_error **err);
void sign_cosign_key_free(struct sign_cosign_key *k);
/* The key's name as given at loading. */
const char *sign_cosign_key_name(const struct sign_cosign_key *k);

/* 0 when sig_b64 (standard base64) is a valid signature of payload by k; -1 with the reason
 * ("signature does not verify with key NAME", "signature is not valid base64") otherwise. */
CC_MUST_CHECK int sign_cosign_verify(const struct sign_cosign_key *k, const void *payload,
				     size_t len, const char *sig_b64, struct cc_error **err);
/* The base64 signature of payload by the private key k; the caller frees. */
CC_MUST_CHECK char *sign_cosign_sign(const struct sign_cosign_key *k, const void *payload,
				     size_t len, struct cc_error **err);

/* "sha256-<hex>.sig" for "sha256:<hex>" (NULL for a digest that is not valid); caller frees. */
char *sign_cosign_tag(const char *manifest_digest);

/* One signature layer of a .sig manifest. */
struct sign_cosign_layer {
	char *digest;	      /* of the payload blob */
	int64_t size;	      /* its size, at most SIGN_COSIGN_PAYLOAD_MAX */
	char *signature;      /* the dev.cosignproject.cosign/signature annotation */
	bool has_certificate; /* dev.sigstore.cosign/certificate (Fulcio) was there */
	bool has_bundle;      /* dev.sigstore.cosign/bundle (Rekor) was there */
};
#define SIGN_COSIGN_PAYLOAD_MAX (4u << 20)
#define SIGN_COSIGN_LAYERS_MAX 128

/* The layers of a .sig manifest (an OCI or Docker v2 image manifest). Layers of another media
 * type or without a signature annotation are skipped, as containers/image skips them; more
 * than SIGN_COSIGN_LAYERS_MAX layers, or a malformed manifest, is an error naming the key. */
CC_MUST_CHECK int sign_cosign_manifest_parse(const char *name, const char *body, size_t len,
					     struct sign_cosign_layer **layers, size_t *n,
					     struct cc_error **err);
void sign_cosign_layers_free(struct sign_cosign_layer *layers, size_t n);

/* The .sig manifest for layers (the existing ones and the new one, in that order), as
 * containers/image writes it: an OCI image manifest whose config is
 * {"architecture":"","os":"","config":{},"rootfs":{"type":"layers","diff_ids":[<payload
 * digests>]}} (returned in *config, to be uploaded as a blob, its digest in the manifest).
 * The caller frees both. */
CC_MUST_CHECK int sign_cosign_manifest_build(const struct sign_cosign_layer *layers, size_t n,
					     char **config, size_t *config_len, char **manifest,
					     size_t *manifest_len, struct cc_error **err);
