/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Evidence: what an attester hands a verifier. Two kinds, told apart by their first bytes:
 *
 *  - a real Intel DCAP quote of an SGX enclave (quote.h, verified by attest_quote_verify);
 *  - SIMULATED evidence, made on machines without SGX from a skeleton PAL's simulated REPORT
 *    (include/enclave/sgx_report.h). It is a distinct type that no verifier accepts unless
 *    explicitly allowed, and every result made from it says simulated = true: it proves only
 *    that some process holding this machine's simulated attestation key vouched for a REPORT
 *    the simulated platform made, never that the code is what it claims.
 *
 * Simulated evidence, version 1 (500 bytes, integers little-endian):
 *
 *     0    8  magic "SIMTEE01"
 *     8    2  version (1)
 *    10    2  reserved, zero
 *    12    4  body size (384)
 *    16   32  key id: SHA-256 of the signer's public key (DER SubjectPublicKeyInfo)
 *    48  384  SGX report body, the layout of a REPORT's and a quote's (so policy is shared)
 *   432    4  signature size (64)
 *   436   64  ECDSA P-256 signature, raw r||s (big-endian), SHA-256 over bytes [0, 436)
 *
 * The signer is the per-machine simulated attestation key: an ECDSA P-256 key in a PEM file
 * (PKCS#8) created 0600 on first use. Only a REPORT whose MAC verifies with the skeleton's
 * simulated report key for the given target (local.h) is signed, so the body is one the local
 * simulated platform made. The verifier is given the public key.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "attest/quote.h"
#include "attest/verify.h"
#include "enclave/sgx_report.h"
#include "util/error.h"

#define ATTEST_SIM_MAGIC "SIMTEE01"
#define ATTEST_SIM_MAGIC_LEN 8
#define ATTEST_SIM_VERSION 1
#define ATTEST_SIM_HEADER_SIZE 16
#define ATTEST_SIM_SIGNED_SIZE 436 /* what the signature covers */
#define ATTEST_SIM_EVIDENCE_SIZE 500
#define ATTEST_SIM_KEY_ID_SIZE 32
/* Where the per-machine simulated attestation key lives unless the caller says otherwise. */
#define ATTEST_SIM_KEY_PATH "/var/lib/rune/sim-attestation-key.pem"

/* ---- the simulated attestation key ---- */

/* An ECDSA P-256 key: private (it signs) or public only (it verifies). Opaque. */
struct attest_sim_key;

/*
 * The private key at path (NULL: ATTEST_SIM_KEY_PATH), generated and written there (0600, its
 * directory made 0700 when missing) if the file does not exist. An existing file must be a
 * regular file, not a symbolic link, readable by its owner only, and hold a P-256 private key
 * in PEM. Two processes creating it at once end with the same key. Errors start "simulated
 * attestation key PATH: ". The caller frees the key with attest_sim_key_free().
 */
CC_MUST_CHECK struct attest_sim_key *attest_sim_key_open(const char *path, struct cc_error **err);
/* A key from PEM: a P-256 public key (SubjectPublicKeyInfo, what verifiers are given) or a
 * private key. Errors start "simulated attestation key: ". */
CC_MUST_CHECK struct attest_sim_key *attest_sim_key_from_pem(const char *pem, size_t len,
							     struct cc_error **err);
/* The public half as PEM (NUL-terminated, the caller frees it). */
CC_MUST_CHECK char *attest_sim_key_public_pem(const struct attest_sim_key *k,
					      struct cc_error **err);
/* The key id evidence carries: SHA-256 of the public key's DER SubjectPublicKeyInfo. */
void attest_sim_key_id(const struct attest_sim_key *k, uint8_t id[ATTEST_SIM_KEY_ID_SIZE]);
/* The private key's scalar (32 bytes, big-endian): the machine secret other simulated keys are
 * derived from (seal.h). The caller wipes it. Refused for a public-only key. */
CC_MUST_CHECK int attest_sim_key_private(const struct attest_sim_key *k, uint8_t out[32],
					 struct cc_error **err);
void attest_sim_key_free(struct attest_sim_key *k);

static inline void attest_sim_key_freep(struct attest_sim_key **k)
{
	attest_sim_key_free(*k);
}
#define _cleanup_attest_sim_key_ __attribute__((cleanup(attest_sim_key_freep)))

/* ---- making simulated evidence ---- */

/*
 * The TARGETINFO of the simulated quoting enclave, the target an attester asks its PAL to make
 * a REPORT for when it wants simulated evidence: MRENCLAVE = SHA-256("rune-simulated-quoting-
 * enclave"), ATTRIBUTES INIT | MODE64BIT, XFRM 3, the rest zero.
 */
void attest_sim_qe_target_info(struct sgx_target_info *ti);

/*
 * Simulated evidence from a REPORT (report_len must be 432) made by the skeleton for target
 * (its TARGETINFO as given to pal_get_local_report), signed with key (a private key). The
 * REPORT's MAC is checked first with the skeleton's simulated report key for target: a REPORT
 * for another target, altered, or not simulated at all is refused with local.h's messages
 * prefixed "evidence: ". 0 with out filled, or -1.
 */
CC_MUST_CHECK int attest_sim_evidence_make(const struct attest_sim_key *key,
					   const struct sgx_target_info *target, const void *report,
					   size_t report_len, uint8_t out[ATTEST_SIM_EVIDENCE_SIZE],
					   struct cc_error **err);

/* ---- reading and verifying ---- */

/* Simulated evidence, parsed; nothing is trusted yet. */
struct attest_sim_evidence {
	uint16_t version;
	uint8_t key_id[ATTEST_SIM_KEY_ID_SIZE];
	struct attest_sgx_report enclave;
	uint8_t signature[64];
	uint8_t raw[ATTEST_SIM_EVIDENCE_SIZE];
};

/*
 * Parse len bytes of simulated evidence with a bound on every length. Errors are one line
 * starting "evidence: " ("evidence: truncated: body size 384 but 100 bytes left",
 * "evidence: simulated evidence version 2 is not supported (only 1)").
 */
CC_MUST_CHECK int attest_sim_evidence_parse(const void *buf, size_t len,
					    struct attest_sim_evidence *out, struct cc_error **err);
/* Parsed simulated evidence signed by key: its key id and its signature. */
CC_MUST_CHECK int attest_sim_evidence_check(const struct attest_sim_evidence *ev,
					    const struct attest_sim_key *key,
					    struct cc_error **err);

enum attest_evidence_kind {
	ATTEST_EVIDENCE_SGX_QUOTE = 1, /* a DCAP quote of an SGX enclave */
	ATTEST_EVIDENCE_SIMULATED,     /* SIMTEE01 */
};

/* "sgx-dcap-quote", "simulated (SIMTEE01, not hardware evidence)". */
const char *attest_evidence_kind_name(enum attest_evidence_kind k);

/* The exact refusal of simulated evidence by a verifier that does not allow it. */
#define ATTEST_SIM_REFUSED                                                   \
	"evidence: simulated evidence (SIMTEE01) is not accepted; allow it " \
	"explicitly for tests and development"

struct attest_evidence_opts {
	/* Accept simulated evidence (tests and development only); off, it is refused before
	 * anything else is read. */
	bool insecure_allow_simulated;
	/* The simulated attestation key (its public half is enough); required to verify
	 * simulated evidence. */
	const struct attest_sim_key *sim_key;
	/* For real quotes: the time, trust anchor, CRLs and collateral (verify.h). */
	struct attest_verify_opts quote;
};

/* A verified evidence: what the enclave is, and how far that is known. */
struct attest_evidence_result {
	enum attest_evidence_kind kind;
	bool simulated;			  /* true for every result made from SIMTEE01 */
	struct attest_sgx_report enclave; /* the enclave's report body */
	bool debug;			  /* ATTRIBUTES.flags DEBUG */
	uint16_t version;		  /* the quote's, or the simulated evidence's */
	/* Real quotes: attest_quote_verify's verdict. Simulated: zero, so tcb_status is
	 * ATTEST_TCB_UNKNOWN ("unknown: no collateral"). */
	struct attest_verdict verdict;
	uint8_t sim_key_id[ATTEST_SIM_KEY_ID_SIZE]; /* simulated: the signer's key id */
};

/*
 * Verify len bytes of evidence: simulated evidence when they start with "SIMTEE01", refused
 * with exactly ATTEST_SIM_REFUSED unless o->insecure_allow_simulated, otherwise parsed and checked
 * against o->sim_key; anything else as a DCAP quote (attest_quote_parse, then
 * attest_quote_verify with o->quote), of an SGX enclave (a TDX quote is refused: its TD is not
 * appraised by this policy). 0 with *r filled in, or -1 with one line in *err ("evidence: ..."
 * or the quote's "quote: ..."). attest_evidence_result_clear() frees what *r holds, after
 * success or failure.
 */
CC_MUST_CHECK int attest_evidence_verify(const void *buf, size_t len,
					 const struct attest_evidence_opts *o,
					 struct attest_evidence_result *r, struct cc_error **err);
void attest_evidence_result_clear(struct attest_evidence_result *r);
