/* SPDX-License-Identifier: Apache-2.0 */
/*
 * RA-TLS certificates: self-signed X.509 certificates whose extensions carry attestation
 * evidence bound to the certificate's key, so that a TLS peer proving possession of that key
 * proves it runs in the attested enclave. See docs/ratls.md for the formats and their sources.
 *
 * Evidence extensions, found by the raw bytes of their OID (extnID contents):
 *   2.23.133.5.4.9 (TCG DICE conceptual message wrapper, `67 81 05 05 04 09`): an OCTET STRING
 *       holding CBOR tag(T) [ bstr evidence, bstr claims-buffer ] where
 *       T = 60000 (IANA: Intel TEE quote): evidence is a DCAP quote of an SGX enclave;
 *       T = ATTEST_RATLS_TAG_SIMULATED (1920298597, 0x72756e65 "rune"; PRIVATE, unregistered):
 *           evidence is simulated SIMTEE01 (evidence.h), which only this project's verifier
 *           knows and which it accepts only with insecure_allow_simulated.
 *       claims-buffer = CBOR map { "pubkey-hash": bstr(CBOR [alg, hash]) or [alg, hash],
 *       other text -> bstr custom claims }; alg is an IANA named-information id (1 sha-256,
 *       7 sha-384, 8 sha-512) and hash that digest of the certificate's SubjectPublicKeyInfo.
 *       Binding: report_data = SHA-256(claims-buffer) || 32 zero bytes.
 *   1.2.840.113741.1337.6 (legacy rats-tls and Gramine; Gramine writes its extnID contents as
 *       `06 09 2A 86 48 86 F8 4D 8A 39 06`, the OID's own tag and length nested inside): a raw
 *       quote. Binding: report_data = SHA-256(SubjectPublicKeyInfo DER) || zeros, or, for an
 *       RSA key, SHA-256(PKCS#1 RSAPublicKey DER) || zeros (legacy rats-tls).
 *   1.2.840.113741.1.13.1 (Intel SGX SDK): a raw quote whose report_data is SHA-256 of the
 *       claims-buffer of the certificate's 2.23.133.5.4.9 extension: it binds only together
 *       with that extension.
 *
 * Verification, in this order, each failure one line starting "RA-TLS certificate: ":
 *  1. the certificate: PEM or DER, at most ATTEST_RATLS_INPUT_MAX bytes given and
 *     ATTEST_RATLS_CERT_MAX bytes of DER;
 *  2. its self-signature, by its own key ("self-signature does not verify with the
 *     certificate's key"); OpenSSL's verification decides which algorithms pass (ECDSA with an
 *     explicit NULL parameter, as Gramine writes it, does; so does SHA-1 RSA, flagged as
 *     weak_signature in the result);
 *  3. its validity at o->quote.now, from notBefore up to, not at, notAfter ("expired at
 *     2024-02-22T17:10:22Z", "not valid before ...");
 *  4. its evidence extensions: at least one ("no evidence extension (2.23.133.5.4.9,
 *     1.2.840.113741.1337.6 or 1.2.840.113741.1.13.1)"), each kind at most once;
 *  5. the CBOR of 2.23.133.5.4.9, its tag and its claims (messages "extension
 *     2.23.133.5.4.9: CBOR: offset N: ...", "extension 2.23.133.5.4.9: claims: ...");
 *  6. each extension, in the certificate's order, with messages "extension OID: ...": its
 *     evidence through attest_evidence_verify (a quote up to the pinned Intel root at
 *     o->quote's time; simulated evidence refused with ATTEST_SIM_REFUSED unless
 *     o->insecure_allow_simulated), then its binding ("report_data does not bind the claims
 *     (SHA-256 of the claims is .., report_data[0:32] is ..)", "report_data does not bind the
 *     certificate's key (...)"), then pubkey-hash ("pubkey-hash does not match the
 *     certificate's key (...)").
 * Every extension must verify and bind; each is reported. What the enclave is (MRENCLAVE,
 * debug, TCB status) is the caller's policy: attest_ratls_appraise() applies it to the evidence
 * of every extension.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include "attest/appraise.h"
#include "attest/evidence.h"
#include "util/error.h"

#define ATTEST_RATLS_CERT_MAX (64u << 10)   /* bytes of a certificate's DER */
#define ATTEST_RATLS_INPUT_MAX (128u << 10) /* bytes given to attest_ratls_verify (PEM or DER) */
#define ATTEST_RATLS_EXT_MAX 3		    /* evidence extensions: one of each kind */
#define ATTEST_RATLS_CLAIMS_MAX 32	    /* custom claims besides pubkey-hash */
#define ATTEST_RATLS_CLAIM_NAME_MAX 256	    /* bytes of a claim's name */

#define ATTEST_RATLS_TAG_SGX_QUOTE 60000u /* IANA: Intel TEE quote */
#define ATTEST_RATLS_TAG_TEE_REPORT 60001u
#define ATTEST_RATLS_TAG_SGX_REPORT 60002u
/* PRIVATE, unregistered: "rune" in ASCII. Only simulated SIMTEE01 evidence goes under it. */
#define ATTEST_RATLS_TAG_SIMULATED 1920298597u

/* IANA named-information hash algorithm ids, as "pubkey-hash" names them. */
#define ATTEST_RATLS_HASH_SHA256 1
#define ATTEST_RATLS_HASH_SHA384 7
#define ATTEST_RATLS_HASH_SHA512 8

enum attest_ratls_format {
	ATTEST_RATLS_TCG_QUOTE = 1, /* 2.23.133.5.4.9, tag 60000: [quote, claims] */
	ATTEST_RATLS_TCG_SIMULATED, /* 2.23.133.5.4.9, the private tag: [SIMTEE01, claims] */
	ATTEST_RATLS_LEGACY_QUOTE,  /* 1.2.840.113741.1337.6: a quote */
	ATTEST_RATLS_SGX_SDK_QUOTE, /* 1.2.840.113741.1.13.1: a quote */
};

enum attest_ratls_binding {
	ATTEST_RATLS_BIND_CLAIMS = 1, /* SHA-256 of the 2.23.133.5.4.9 claims-buffer */
	ATTEST_RATLS_BIND_SPKI,	      /* SHA-256 of the SubjectPublicKeyInfo DER */
	ATTEST_RATLS_BIND_RSA_PKCS1,  /* SHA-256 of the PKCS#1 RSAPublicKey DER */
};

/* "tcg-dice-sgx-quote", "tcg-dice-simulated", "legacy-quote", "sgx-sdk-quote". */
const char *attest_ratls_format_name(enum attest_ratls_format f);
/* "sha256(claims)", "sha256(spki)", "sha256(rsa-public-key)". */
const char *attest_ratls_binding_name(enum attest_ratls_binding b);

/* A custom claim: a name (NUL-terminated, no NUL inside) and its bytes. */
struct attest_ratls_claim {
	const char *name;
	const uint8_t *value;
	size_t len;
};

/* One verified evidence extension. */
struct attest_ratls_ext {
	enum attest_ratls_format format;
	bool gramine_oid; /* 1337.6 in Gramine's nested-OID form */
	bool critical;
	enum attest_ratls_binding binding;
	uint8_t evidence_sha256[32]; /* of the quote or SIMTEE01 bytes */
	struct attest_evidence_result evidence;
};

struct attest_ratls_result {
	struct attest_ratls_ext ext[ATTEST_RATLS_EXT_MAX]; /* in the certificate's order */
	size_t n_ext;
	bool simulated; /* some extension's evidence is simulated */
	bool debug;	/* some extension's evidence is of a debug enclave */
	uint8_t spki_sha256[32];
	time_t not_before, not_after;
	int signature_bits;  /* security bits OpenSSL gives the self-signature's algorithm */
	bool weak_signature; /* below 80 (SHA-1): see docs/ratls.md */
	/* From 2.23.133.5.4.9, when the certificate has it. */
	bool has_claims;
	int pubkey_hash_alg;					   /* ATTEST_RATLS_HASH_* */
	struct attest_ratls_claim claims[ATTEST_RATLS_CLAIMS_MAX]; /* in the buffer's order */
	size_t n_claims;
	uint8_t *owned; /* the bytes claims[] point to */
};

struct x509_st;
struct evp_pkey_st;

/*
 * Verify len bytes of a certificate, PEM (whitespace and NUL bytes may follow the END line) or
 * DER, as above: 0 with *r filled in, or -1 with the failed step in *err and *r empty. o gives
 * the time (o->quote.now), the trust anchor, CRLs and collateral for quotes, and whether
 * simulated evidence is accepted. attest_ratls_result_clear() frees what *r holds (a no-op on
 * an empty result).
 */
CC_MUST_CHECK int attest_ratls_verify(const void *buf, size_t len,
				      const struct attest_evidence_opts *o,
				      struct attest_ratls_result *r, struct cc_error **err);
/* The same for a certificate OpenSSL already holds (an X509, e.g. a TLS peer's). */
CC_MUST_CHECK int attest_ratls_verify_cert(struct x509_st *cert,
					   const struct attest_evidence_opts *o,
					   struct attest_ratls_result *r, struct cc_error **err);
void attest_ratls_result_clear(struct attest_ratls_result *r);

/* attest_appraise() of the evidence of every extension of a verified certificate; the first
 * refusal names its extension ("RA-TLS certificate: extension 2.23.133.5.4.9: appraisal: debug
 * enclave refused (attributes.flags DEBUG set)"). */
CC_MUST_CHECK int attest_ratls_appraise(const struct attest_policy *p,
					const struct attest_ratls_result *r, struct cc_error **err);

/* ---- the parts, parsed without trusting them (what verification and the fuzz target use) ---- */

/* The value of a 2.23.133.5.4.9 extension: views into the bytes given. */
struct attest_ratls_tcg {
	uint64_t tag;
	const uint8_t *evidence;
	size_t evidence_len;
	const uint8_t *claims;
	size_t claims_len;
};

/* A custom claim in a claims-buffer, not NUL-terminated. */
struct attest_ratls_claim_ref {
	const uint8_t *name;
	size_t name_len;
	const uint8_t *value;
	size_t len;
};

/* A claims-buffer: views into the bytes given. */
struct attest_ratls_claims {
	int pubkey_hash_alg; /* ATTEST_RATLS_HASH_* */
	const uint8_t *pubkey_hash;
	size_t pubkey_hash_len;
	struct attest_ratls_claim_ref claim[ATTEST_RATLS_CLAIMS_MAX];
	size_t n_claims;
};

/*
 * The extension's value: one well-formed CBOR item (ATTEST_CBOR_DEPTH_MAX), a tag of any number
 * holding exactly [bstr, bstr], nothing after. Errors start "extension 2.23.133.5.4.9: ".
 */
CC_MUST_CHECK int attest_ratls_tcg_parse(const uint8_t *value, size_t len,
					 struct attest_ratls_tcg *out, struct cc_error **err);
/*
 * A claims-buffer: one well-formed CBOR map of text keys, each once, with "pubkey-hash" (a
 * supported algorithm and a hash of its size) and at most ATTEST_RATLS_CLAIMS_MAX others, each a
 * byte string, named with at most ATTEST_RATLS_CLAIM_NAME_MAX bytes and no NUL. Errors start
 * "claims: ".
 */
CC_MUST_CHECK int attest_ratls_claims_parse(const uint8_t *buf, size_t len,
					    struct attest_ratls_claims *out, struct cc_error **err);

/* ---- making one ---- */

/*
 * Evidence for report_data, by whatever means the caller has (a quote on SGX hardware, SIMTEE01
 * from a simulated REPORT): 0 with *evidence (malloc'd, the caller of attest_ratls_make frees
 * it) and *len set, or -1 with an error.
 */
typedef int (*attest_ratls_evidence_fn)(void *ctx, const uint8_t report_data[64],
					uint8_t **evidence, size_t *len, struct cc_error **err);

struct attest_ratls_make_opts {
	struct evp_pkey_st *key; /* ECDSA P-256, private: the certificate's key and signer */
	const char *subject_cn;	 /* subject and issuer CN (1 to 64 bytes) */
	time_t not_before, not_after;
	const struct attest_ratls_claim *claims; /* custom claims besides pubkey-hash */
	size_t n_claims;
	attest_ratls_evidence_fn evidence;
	void *evidence_ctx;
};

/* A new ECDSA P-256 key for attest_ratls_make (the caller frees it with EVP_PKEY_free). */
CC_MUST_CHECK struct evp_pkey_st *attest_ratls_key_new(struct cc_error **err);

/*
 * A self-signed RA-TLS certificate (ecdsa-with-SHA256, X.509 v3, a random serial, basic
 * constraints CA:FALSE): claims-buffer = { "pubkey-hash": bstr([1, SHA-256(SPKI)]), the custom
 * claims in the order given }, report_data = SHA-256(claims-buffer) zero-padded to 64 bytes,
 * the callback's evidence for it in a non-critical 2.23.133.5.4.9 extension under the private
 * tag when it is SIMTEE01, under tag 60000 otherwise (a quote). Errors start "RA-TLS
 * certificate: ". The caller frees the result with X509_free.
 */
CC_MUST_CHECK struct x509_st *attest_ratls_make(const struct attest_ratls_make_opts *o,
						struct cc_error **err);
/* The certificate as PEM, NUL-terminated (the caller frees it). */
CC_MUST_CHECK char *attest_ratls_pem(struct x509_st *cert, struct cc_error **err);
