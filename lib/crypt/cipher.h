/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ocicrypt layer cipher and its options.
 *
 * AES_256_CTR_HMAC_SHA256: ciphertext = plaintext XOR AES-256-CTR(symkey, nonce) where the
 * 16-byte nonce is the whole initial counter block (a 128-bit big-endian counter); the MAC is
 * HMAC-SHA256 keyed with the same symkey over the whole ciphertext and nothing else. The
 * ciphertext has the plaintext's length: no header, padding or trailer.
 *
 * Options come in two JSON documents: the public options (annotation
 * org.opencontainers.image.enc.pubopts: cipher, hmac, cipheroptions) and the private options
 * (what the key wrappers protect: symkey, digest, cipheroptions.nonce). Byte fields are
 * standard base64 with padding. A cipheroption present in both is taken from the public one,
 * as ocicrypt does.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include "crypt/internal.h"

#define CRYPT_CIPHER_AES_CTR_HMAC "AES_256_CTR_HMAC_SHA256"
#define CRYPT_SYMKEY_LEN 32
#define CRYPT_NONCE_LEN 16
#define CRYPT_HMAC_LEN 32

struct crypt_opts {
	char *cipher;		 /* public: "AES_256_CTR_HMAC_SHA256" */
	struct crypt_buf hmac;	 /* public: 32 bytes */
	struct crypt_buf symkey; /* private: 32 bytes */
	struct crypt_buf nonce;	 /* cipheroptions.nonce: 16 bytes */
	char *digest;		 /* private: digest of the blob before encryption (informative) */
};

/* Merge the public options JSON into o (an empty buffer = no annotation). */
CC_MUST_CHECK int crypt_opts_parse_public(struct crypt_opts *o, const void *json, size_t len,
					  struct cc_error **err);
/* Merge the private options JSON (from a key wrapper) into o. */
CC_MUST_CHECK int crypt_opts_parse_private(struct crypt_opts *o, const void *json, size_t len,
					   struct cc_error **err);
/* Serialise: {"cipher","hmac","cipheroptions":{}} (caller frees) and
 * {"symkey","digest","cipheroptions":{"nonce"}} (into a wiped buffer). */
char *crypt_opts_public_json(const struct crypt_opts *o);
void crypt_opts_private_json(const struct crypt_opts *o, struct crypt_buf *out);
/* Fresh random symkey and nonce for encrypting; digest may be NULL. */
void crypt_opts_generate(struct crypt_opts *o, const char *digest);
/* Wipes the secrets and frees everything. */
void crypt_opts_clear(struct crypt_opts *o);

/* A streaming layer cipher: memory use does not depend on the layer size. */
struct crypt_cipher;

/* Decryption needs cipher, symkey, nonce and hmac; encryption needs cipher, symkey, nonce.
 * Unknown ciphers and wrong key or nonce sizes are refused here. The options are copied. */
CC_MUST_CHECK int crypt_cipher_new(const struct crypt_opts *o, bool encrypt,
				   struct crypt_cipher **out, struct cc_error **err);
/* Transform n bytes from in to out (n bytes; in == out is allowed). */
CC_MUST_CHECK int crypt_cipher_update(struct crypt_cipher *c, const void *in, size_t n, void *out,
				      struct cc_error **err);
/* End of stream. Decrypting: compares the HMAC of all ciphertext seen with the expected one in
 * constant time and fails on a mismatch (mac may be NULL). Encrypting: writes the HMAC to mac.
 * Nothing more can be transformed afterwards. */
CC_MUST_CHECK int crypt_cipher_final(struct crypt_cipher *c, unsigned char mac[CRYPT_HMAC_LEN],
				     struct cc_error **err);
/* Wipes the keys. NULL is fine. */
void crypt_cipher_free(struct crypt_cipher *c);
