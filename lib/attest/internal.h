/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the lib/attest modules. Not for use outside lib/attest and its tests. */
#pragma once

#include "util/hex.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include "attest/collateral.h"
#include "attest/quote.h"
#include "attest/verify.h"
#include "util/error.h"
#include "util/le.h"

/* "2025-07-19T10:01:18Z" (21 bytes with the NUL). */
#define ATTEST_TIME_BUF 21
void attest_time_str(time_t t, char out[ATTEST_TIME_BUF]);
/* Strictly "YYYY-MM-DDThh:mm:ssZ" (what Intel's collateral uses); false otherwise. */
bool attest_time_parse(const char *s, time_t *out);
/* An ASN1_TIME as time_t; false when it cannot be read. */
bool attest_asn1_time(const ASN1_TIME *t, time_t *out);

/* The subject's common name of a certificate, shown escaped ("(no CN)" when absent). */
void attest_cert_cn(const X509 *x, char out[CC_SHOWN_BUF]);

/*
 * Certificates from a PEM chain: blocks "CERTIFICATE" with nothing but whitespace between them
 * and nothing but whitespace or NUL bytes after the last (Intel's chains may end with a NUL).
 * At most max go to out[] (the caller frees them, also on failure); *n says how many. Errors
 * name the certificate, 1 for the first: "certificate 2: not a valid X.509 certificate".
 */
CC_MUST_CHECK int attest_pem_chain_parse(const char *pem, size_t len, X509 **out, size_t max,
					 size_t *n, struct cc_error **err);

/* ECDSA P-256 with SHA-256 over msg, the signature raw r||s (64 bytes): 1 verified, 0 not, -1
 * when the key is not an EC key. */
int attest_ecdsa_verify(EVP_PKEY *key, const uint8_t sig[64], const void *msg, size_t len);
/* The P-256 key of raw X||Y (64 bytes), NULL when it is not a point of the curve. */
EVP_PKEY *attest_p256_key(const uint8_t xy[64]);
/* The key is an EC P-256 key. */
bool attest_is_p256(EVP_PKEY *k);

/*
 * A chain certs[0..n) (leaf first, n >= 1) up to the trust anchor `root`: the top certificate
 * is root itself (the same DER) or signed by it; each certificate names the next as its issuer
 * and is signed by its key; each is valid at now; with CRLs (n_crls > 0), each certificate
 * below the root is covered by a CRL of its issuer, signed by that issuer, current at now, that
 * does not list it; then OpenSSL's own validation at now (with those CRLs) agrees. Errors name
 * the certificate, 1 for the first: "certificate 2 is not signed by the Intel SGX Root CA".
 */
CC_MUST_CHECK int attest_chain_verify(X509 *const *certs, size_t n, X509 *root, time_t now,
				      X509_CRL *const *crls, size_t n_crls, struct cc_error **err);

/* The trust anchor: the caller's DER, or the compiled-in Intel SGX Root CA when der is NULL.
 * NULL with "trust anchor: not a DER X.509 certificate" when it is not one. The caller frees
 * it. */
CC_MUST_CHECK X509 *attest_root_load(const void *der, size_t len, struct cc_error **err);

/* Step 5 of verify.h: the collateral's issuer chains, signatures and windows at now; the
 * window goes to v. Errors start "collateral: ". */
CC_MUST_CHECK int attest_collateral_check(const struct attest_collateral *c, X509 *root, time_t now,
					  struct attest_verdict *v, struct cc_error **err);
/* Steps 6 to 8 of verify.h: the TCB Info and QE Identity against q; the statuses and
 * advisories go to v. */
CC_MUST_CHECK int attest_tcb_evaluate(const struct attest_quote *q,
				      const struct attest_collateral *c, struct attest_verdict *v,
				      struct cc_error **err);
