/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Intel's collateral for DCAP quote verification (Intel PCS v3/v4): TCB Info (version 2 or 3,
 * SGX or TDX) and QE Identity (version 2), each with its ECDSA P-256 signature (raw r||s) and
 * its issuer chain (PEM: "Intel SGX TCB Signing", the root), the root CA CRL and the PCK CA's
 * CRL (DER).
 *
 * The signatures cover the exact bytes of the inner object as Intel served it ({"id":"SGX",...}
 * of {"tcbInfo":{...},"signature":"..."}): those bytes are kept and verified, never a
 * re-serialisation. Parsing reads them through the JSON schema layer (util/json.h), messages
 * naming the path ("TCB info: tcbLevels[2].tcb.sgxtcbcomponents[3].svn: 256 out of range
 * [0, 255]"); keys this code does not know are ignored, Intel adds some over time and the
 * signature covers them. Signatures, chains and validity windows are checked when a quote is
 * verified with the collateral (verify.h), at the caller's time.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include "util/error.h"

/* Intel's collateral is about 20 KiB; a TCB Info has a dozen levels. */
#define ATTEST_COLLATERAL_MAX (1u << 20)
#define ATTEST_TCB_LEVELS_MAX 128
#define ATTEST_ADVISORIES_MAX 128
#define ATTEST_TDX_MODULES_MAX 16
#define ATTEST_ISSUER_CHAIN_MAX 4

/* TCB status, with Intel's names (attest_tcb_status_name). */
enum attest_tcb_status {
	ATTEST_TCB_UNKNOWN = 0, /* "unknown: no collateral" */
	ATTEST_TCB_UP_TO_DATE,
	ATTEST_TCB_SW_HARDENING_NEEDED,
	ATTEST_TCB_CONFIGURATION_NEEDED,
	ATTEST_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED,
	ATTEST_TCB_OUT_OF_DATE,
	ATTEST_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED,
	ATTEST_TCB_REVOKED,
	ATTEST_TCB_TD_RELAUNCH_ADVISED,
	ATTEST_TCB_TD_RELAUNCH_ADVISED_CONFIGURATION_NEEDED,
};

/* "UpToDate", "SWHardeningNeeded", ..., "unknown: no collateral". */
const char *attest_tcb_status_name(enum attest_tcb_status s);

/* A level of a QE identity or a TDX module identity. */
struct attest_isv_level {
	uint16_t isvsvn;
	time_t tcb_date;
	enum attest_tcb_status status;
	char **advisory_ids; /* NULL-terminated, may be empty */
};

/* A platform TCB level of a TCB Info. */
struct attest_tcb_level {
	uint8_t sgx_svn[16];
	uint16_t pcesvn;
	uint8_t tdx_svn[16]; /* TDX TCB Info only */
	time_t tcb_date;
	enum attest_tcb_status status;
	char **advisory_ids;
};

struct attest_tdx_module {
	char *id; /* "TDX_01"; NULL for the tdxModule of version 0 */
	uint8_t mrsigner[48];
	uint8_t attributes[8];
	uint8_t attributes_mask[8];
	struct attest_isv_level *levels;
	size_t n_levels;
};

struct attest_tcb_info {
	bool tdx;    /* id "TDX" (v3); v2 and id "SGX" are SGX */
	int version; /* 2 or 3 */
	time_t issue_date, next_update;
	uint8_t fmspc[6];
	uint8_t pceid[2];
	uint32_t tcb_evaluation_data_number; /* 0 when a v2 TCB Info has none */
	struct attest_tcb_level *levels;     /* in Intel's order, highest first */
	size_t n_levels;
	bool has_tdx_module;
	struct attest_tdx_module tdx_module;   /* TDX: version-0 modules */
	struct attest_tdx_module *tdx_modules; /* TDX: tdxModuleIdentities */
	size_t n_tdx_modules;
};

struct attest_qe_identity {
	char id[8]; /* "QE" (SGX), "TD_QE" (TDX) */
	int version;
	time_t issue_date, next_update;
	uint32_t tcb_evaluation_data_number;
	uint32_t miscselect, miscselect_mask;
	uint8_t attributes[16], attributes_mask[16];
	uint8_t mrsigner[32];
	uint16_t isvprodid;
	struct attest_isv_level *levels;
	size_t n_levels;
};

struct x509_st;
struct X509_crl_st;

/* Collateral, parsed; the certificates and CRLs are not yet trusted. */
struct attest_collateral {
	struct attest_tcb_info tcb_info;
	struct attest_qe_identity qe_identity;
	char *tcb_info_json; /* the signed bytes */
	size_t tcb_info_len;
	uint8_t tcb_info_sig[64];
	struct x509_st *tcb_info_chain[ATTEST_ISSUER_CHAIN_MAX];
	size_t tcb_info_chain_len;
	char *qe_identity_json;
	size_t qe_identity_len;
	uint8_t qe_identity_sig[64];
	struct x509_st *qe_identity_chain[ATTEST_ISSUER_CHAIN_MAX];
	size_t qe_identity_chain_len;
	struct X509_crl_st *root_ca_crl;
	struct X509_crl_st *pck_crl;
	struct x509_st *pck_crl_chain[ATTEST_ISSUER_CHAIN_MAX]; /* optional */
	size_t pck_crl_chain_len;
};

/* The pieces of collateral as Intel serves them (borrowed). pck_crl_chain may be absent. */
struct attest_collateral_parts {
	const char *tcb_info; /* the inner tcbInfo object, exactly as signed */
	size_t tcb_info_len;
	const uint8_t *tcb_info_sig; /* r||s */
	size_t tcb_info_sig_len;
	const char *tcb_info_chain; /* PEM */
	size_t tcb_info_chain_len;
	const char *qe_identity; /* the inner enclaveIdentity object, exactly as signed */
	size_t qe_identity_len;
	const uint8_t *qe_identity_sig;
	size_t qe_identity_sig_len;
	const char *qe_identity_chain;
	size_t qe_identity_chain_len;
	const uint8_t *root_ca_crl; /* DER */
	size_t root_ca_crl_len;
	const uint8_t *pck_crl;
	size_t pck_crl_len;
	const char *pck_crl_chain;
	size_t pck_crl_chain_len;
};

/*
 * Collateral from its pieces. Errors name the piece ("TCB info: fmspc: expected 12 hex
 * digits", "QE identity signature: 63 bytes, not 64", "PCK CRL: not a DER X.509 CRL"). The
 * caller frees the result with attest_collateral_free().
 */
CC_MUST_CHECK struct attest_collateral *
attest_collateral_new(const struct attest_collateral_parts *p, struct cc_error **err);

/*
 * Collateral from one JSON object as Phala's dcap-qvl stores it: "tcb_info", "qe_identity"
 * (the signed objects as strings), "tcb_info_signature", "qe_identity_signature" (hex r||s),
 * "tcb_info_issuer_chain", "qe_identity_issuer_chain", "pck_crl_issuer_chain" (PEM),
 * "root_ca_crl", "pck_crl" (hex DER). Errors start "collateral: ".
 */
CC_MUST_CHECK struct attest_collateral *attest_collateral_parse_json(const char *buf, size_t len,
								     struct cc_error **err);

/*
 * Collateral from a directory of the pieces as files: tcb_info.json, tcb_info_signature.bin,
 * tcb_info_issuer_chain.pem, qe_identity.json, qe_identity_signature.bin,
 * qe_identity_issuer_chain.pem, root_ca_crl.der, pck_crl.der and, optionally,
 * pck_crl_issuer_chain.pem. Errors start with the directory.
 */
CC_MUST_CHECK struct attest_collateral *attest_collateral_load_dir(const char *dir,
								   struct cc_error **err);

void attest_collateral_free(struct attest_collateral *c);

static inline void attest_collateral_freep(struct attest_collateral **c)
{
	attest_collateral_free(*c);
}
#define _cleanup_attest_collateral_ __attribute__((cleanup(attest_collateral_freep)))
