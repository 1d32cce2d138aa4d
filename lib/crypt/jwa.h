/* SPDX-License-Identifier: Apache-2.0 */
/* The algorithms behind JWE (RFC 7518) on OpenSSL primitives, plus AES-GCM as the key
 * wrappers use it. Failures return -1 without a message where the caller tries several keys
 * and reports once. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include <openssl/evp.h>
#include "crypt/internal.h"

#define CRYPT_GCM_IV_LEN 12
#define CRYPT_GCM_TAG_LEN 16

enum crypt_jwa_alg {
	CRYPT_JWA_RSA_OAEP,	/* SHA-1, MGF1-SHA-1 */
	CRYPT_JWA_RSA_OAEP_256, /* SHA-256, MGF1-SHA-256 */
	CRYPT_JWA_ECDH_ES_A128KW,
	CRYPT_JWA_ECDH_ES_A192KW,
	CRYPT_JWA_ECDH_ES_A256KW,
};

/* 0, or -1 for an algorithm we do not implement. */
int crypt_jwa_alg_parse(const char *name, enum crypt_jwa_alg *alg);
const char *crypt_jwa_alg_name(enum crypt_jwa_alg alg);
static inline bool crypt_jwa_is_ecdh(enum crypt_jwa_alg alg)
{
	return alg >= CRYPT_JWA_ECDH_ES_A128KW;
}
/* Key-wrap key size in bytes for the ECDH-ES+AxxxKW algorithms. */
size_t crypt_jwa_kw_len(enum crypt_jwa_alg alg);

/* Content encryption "A128GCM"/"A192GCM"/"A256GCM": key length, or 0 if unsupported. */
size_t crypt_jwa_enc_key_len(const char *enc);

struct crypt_jwa_curve {
	const char *crv; /* JWK name */
	int nid;
	size_t size; /* field element bytes */
};

const struct crypt_jwa_curve *crypt_jwa_curve_by_crv(const char *crv);
/* The curve of an EC key, NULL for other keys or curves. */
const struct crypt_jwa_curve *crypt_jwa_curve_of(const EVP_PKEY *k);

/* A public EC key from a JWK {"kty":"EC","crv","x","y"}; the point is checked to lie on the
 * curve (an invalid-curve point would leak the private key through ECDH). */
CC_MUST_CHECK EVP_PKEY *crypt_jwa_ec_from_jwk(const json_t *jwk, const char *what,
					      struct cc_error **err);
/* The public JWK of an EC key. */
json_t *crypt_jwa_ec_to_jwk(const EVP_PKEY *k);

/* RSA-OAEP (sha256 false: SHA-1) encryption/decryption of a short secret. */
int crypt_jwa_rsa_oaep(EVP_PKEY *k, bool encrypt, bool sha256, const unsigned char *in, size_t len,
		       struct crypt_buf *out);
/* ECDH between priv and peer, then the Concat KDF of RFC 7518 §4.6.2 with SHA-256 for the
 * algorithm id alg_id, into kek (kek_len <= 32 bytes). */
int crypt_jwa_ecdh_kdf(EVP_PKEY *priv, EVP_PKEY *peer, const char *alg_id,
		       const struct crypt_buf *apu, const struct crypt_buf *apv, unsigned char *kek,
		       size_t kek_len);
/* AES key wrap (RFC 3394, default IV); unwrapping checks the integrity value. */
int crypt_jwa_aes_kw(bool wrap, const unsigned char *kek, size_t kek_len, const unsigned char *in,
		     size_t len, struct crypt_buf *out);
/* AES-GCM with a 12-byte IV and a 16-byte tag; decryption fails if the tag does not match.
 * out has len bytes. */
int crypt_jwa_gcm(bool encrypt, const unsigned char *key, size_t key_len, const unsigned char *iv,
		  const void *aad, size_t aad_len, const unsigned char *in, size_t len,
		  unsigned char *tag, struct crypt_buf *out);
