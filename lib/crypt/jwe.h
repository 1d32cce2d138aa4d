/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JWE (RFC 7516) as ocicrypt uses it to wrap the private layer options.
 *
 * Reading: compact (a.b.c.d.e), flattened JSON and general JSON serialisations; key
 * management RSA-OAEP, RSA-OAEP-256, ECDH-ES+A128KW/A192KW/A256KW (P-256/384/521); content
 * encryption A128GCM/A192GCM/A256GCM with the protected header (and "aad") as AAD. go-jose v2
 * adds a stray top-level "encrypted_key" to general JSON: it is ignored when "recipients"
 * is present. "zip" and "crit" are refused.
 *
 * Writing: what skopeo writes and reads back: RSA keys get RSA-OAEP (or RSA-OAEP-256 when
 * asked), EC keys ECDH-ES+A256KW, content A256GCM; one recipient gives flattened JSON,
 * several give general JSON with "enc" in the protected header.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <openssl/evp.h>
#include "crypt/internal.h"

#define CRYPT_JWE_RECIPIENTS_MAX 64u

struct crypt_jwe;

/* Parse a JWE text (JSON or compact) and validate every header it carries. */
CC_MUST_CHECK int crypt_jwe_parse(const void *text, size_t len, struct crypt_jwe **out,
				  struct cc_error **err);
size_t crypt_jwe_n_recipients(const struct crypt_jwe *j);
/* Try every recipient with every key of a matching type. Returns 0 with the plaintext in
 * *plain (caller wipes), or -1 saying why none worked. Keys are borrowed. */
CC_MUST_CHECK int crypt_jwe_decrypt(const struct crypt_jwe *j, EVP_PKEY *const *keys, size_t n_keys,
				    struct crypt_buf *plain, struct cc_error **err);
void crypt_jwe_free(struct crypt_jwe *j);

/* Encrypt plain for the RSA and EC public keys keys[0..n). Returns the JWE JSON text
 * (caller frees). */
CC_MUST_CHECK int crypt_jwe_encrypt(EVP_PKEY *const *keys, size_t n, bool rsa_oaep_256,
				    const void *plain, size_t len, char **out,
				    struct cc_error **err);
