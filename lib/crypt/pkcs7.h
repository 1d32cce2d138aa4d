/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PKCS#7 / CMS EnvelopedData key wrapping (annotation ...enc.keys.pkcs7).
 *
 * Reading: what OpenSSL's CMS code understands (RSA key transport, AES-CBC, 3DES, ...), and
 * the form Go's pkcs7 package writes for ocicrypt, which OpenSSL refuses to parse:
 * AES-GCM content encryption whose parameters sit in a primitive [UNIVERSAL 16] wrapping the
 * real SEQUENCE, the tag appended to the ciphertext, and a constructed [0] content. Like
 * ocicrypt, decryption needs both the private key and the recipient's certificate: the
 * certificate picks the RecipientInfo, so keys are never tried blindly on every recipient
 * (which would turn RSA PKCS#1 v1.5 failures into an oracle).
 *
 * Writing: EnvelopedData with AES-256-CBC via OpenSSL CMS, which skopeo reads.
 */
#pragma once

#include <stddef.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include "crypt/internal.h"

CC_MUST_CHECK int crypt_pkcs7_decrypt(const unsigned char *der, size_t len, EVP_PKEY *const *keys,
				      size_t n_keys, X509 *const *certs, size_t n_certs,
				      struct crypt_buf *plain, struct cc_error **err);
CC_MUST_CHECK int crypt_pkcs7_encrypt(X509 *const *certs, size_t n, const void *plain, size_t len,
				      struct crypt_buf *der, struct cc_error **err);
