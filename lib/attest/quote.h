/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Intel DCAP (ECDSA) quotes: SGX quotes of version 3 and 4 and TDX quotes of version 4, parsed
 * with a bound on every length. Parsing checks the format only (version, attestation key type,
 * TEE type, the Intel QE vendor ID, every length, the PEM PCK chain and the SGX extension of its
 * leaf); whether the quote is genuine is attest_quote_verify's question (verify.h).
 *
 * Layout (all integers little-endian; signatures and keys big-endian raw r||s, X||Y):
 *   header (48) | report body (SGX 384, TDX 584) | u32 signature data length | signature data
 *   signature data = quote signature (64) | attestation key (64) | certification data, where
 *   v3: QE report (384) | QE report signature (64) | u16 QE auth data size | QE auth data |
 *       u16 type 5 | u32 size | PEM chain (PCK leaf, its CA, the root)
 *   v4: u16 type 6 | u32 size | { QE report | QE report signature | u16 auth size | auth data |
 *       u16 type 5 | u32 size | PEM chain }
 * Bytes after the declared signature data are tolerated (a genuine TDX quote carries 70 zero
 * bytes there; Intel's library ignores them) and counted in `trailing`; bytes left inside a
 * declared region are an error.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "util/error.h"

/* A quote is about 5 KiB; the bound keeps a hostile one from making us allocate much. */
#define ATTEST_QUOTE_MAX (256u << 10)

#define ATTEST_TEE_SGX 0x00000000u
#define ATTEST_TEE_TDX 0x00000081u
#define ATTEST_ATT_KEY_ECDSA_P256 2
#define ATTEST_CERT_PCK_CHAIN 5	  /* PEM: PCK leaf, intermediate CA, root */
#define ATTEST_CERT_QE_REPORT 6	  /* v4: QE report certification data, nesting type 5 */
#define ATTEST_PCK_CHAIN_LEN 3	  /* certificates in a type-5 chain */
#define ATTEST_SGX_FLAG_DEBUG 0x2 /* ATTRIBUTES.flags bit: a debug enclave */
#define ATTEST_TD_ATTR_DEBUG 0x1  /* TDATTRIBUTES byte 0 bit 0: a debug TD */

/* The Intel QE's vendor ID, the only one accepted. */
extern const uint8_t attest_intel_qe_vendor_id[16];

/* An SGX REPORT body (384 bytes), the enclave's or the QE's. */
struct attest_sgx_report {
	uint8_t cpusvn[16];
	uint32_t miscselect;
	uint8_t isvextprodid[16];
	uint8_t attributes[16]; /* as stored: flags (u64 LE) then xfrm (u64 LE) */
	uint64_t flags;		/* ATTEST_SGX_FLAG_DEBUG and others */
	uint64_t xfrm;
	uint8_t mrenclave[32];
	uint8_t mrsigner[32];
	uint8_t configid[64];
	uint16_t isvprodid;
	uint16_t isvsvn;
	uint16_t configsvn;
	uint8_t isvfamilyid[16];
	uint8_t report_data[64];
};

/* The 384-byte SGX report body at b (of a quote, a REPORT or simulated evidence). */
void attest_sgx_report_decode(const uint8_t *b, struct attest_sgx_report *r);

/* A TD report body of TDX 1.0 (584 bytes). */
struct attest_td_report {
	uint8_t tee_tcb_svn[16]; /* [0] TDX module ISVSVN, [1] module version, then components */
	uint8_t mrseam[48];
	uint8_t mrsignerseam[48];
	uint8_t seamattributes[8];
	uint8_t tdattributes[8]; /* ATTEST_TD_ATTR_DEBUG in byte 0 */
	uint8_t xfam[8];
	uint8_t mrtd[48];
	uint8_t mrconfigid[48];
	uint8_t mrowner[48];
	uint8_t mrownerconfig[48];
	uint8_t rtmr[4][48];
	uint8_t report_data[64];
};

/* The SGX extension (OID 1.2.840.113741.1.13.1) of a PCK certificate. */
struct attest_pck_ext {
	uint8_t ppid[16];
	uint8_t sgx_svn[16]; /* TCB components 1..16 (.2.1 .. .2.16) */
	uint16_t pcesvn;     /* .2.17: what TCB levels are matched against, not the header's */
	uint8_t cpusvn[16];  /* .2.18 */
	uint8_t pceid[2];
	uint8_t fmspc[6];
	int sgx_type;		       /* 0 Standard, 1 Scalable, 2 Scalable+integrity; -1 absent */
	bool has_platform_instance_id; /* .6, Platform CA certificates only */
	uint8_t platform_instance_id[16];
	bool has_configuration;				 /* .7 */
	bool dynamic_platform, cached_keys, smt_enabled; /* .7.1 .. .7.3, false when absent */
};

struct x509_st;

/*
 * A parsed quote. The byte views (signature, attest_key, ...) point into `raw`, the quote's
 * own copy; the certificates are as the quote carries them, not yet trusted.
 */
struct attest_quote {
	uint16_t version;      /* 3 or 4 */
	uint16_t att_key_type; /* ATTEST_ATT_KEY_ECDSA_P256 */
	uint32_t tee_type;     /* ATTEST_TEE_SGX or ATTEST_TEE_TDX (v3: SGX) */
	uint16_t qe_svn;       /* v3 header only (v4: 0); informative, see pck.pcesvn */
	uint16_t pce_svn;      /* v3 header only (v4: 0) */
	uint8_t vendor_id[16];
	uint8_t user_data[20];
	struct attest_sgx_report enclave; /* SGX quotes */
	struct attest_td_report td;	  /* TDX quotes */
	size_t signed_len;		  /* header and body: what the quote signature covers */
	uint32_t sig_data_len;
	const uint8_t *signature;  /* 64: ECDSA P-256 r||s over raw[0, signed_len) */
	const uint8_t *attest_key; /* 64: X||Y */
	struct attest_sgx_report qe_report;
	const uint8_t *qe_report_body; /* 384: what qe_report_sig covers */
	const uint8_t *qe_report_sig;  /* 64: by the PCK leaf key */
	const uint8_t *qe_auth;	       /* QE auth data */
	uint16_t qe_auth_len;
	uint16_t cert_type;  /* outer certification data type: 5 (v3) or 6 (v4) */
	const char *pck_pem; /* the type-5 PEM chain, not NUL-terminated */
	size_t pck_pem_len;
	struct x509_st *pck_chain[ATTEST_PCK_CHAIN_LEN]; /* leaf, CA, root (OpenSSL X509) */
	struct attest_pck_ext pck;			 /* from pck_chain[0] */
	size_t trailing; /* bytes after the signature data, ignored */
	uint8_t *raw;
	size_t raw_len;
};

/*
 * Parse len bytes of a quote (copied; buf is not kept). Errors are one line starting "quote: ",
 * e.g. "quote: truncated: signature data length 4000 but 120 bytes left". The caller frees the
 * result with attest_quote_free().
 */
CC_MUST_CHECK struct attest_quote *attest_quote_parse(const void *buf, size_t len,
						      struct cc_error **err);
void attest_quote_free(struct attest_quote *q);

static inline void attest_quote_freep(struct attest_quote **q)
{
	attest_quote_free(*q);
}
#define _cleanup_attest_quote_ __attribute__((cleanup(attest_quote_freep)))

/* The enclave (SGX) or TD (TDX) is a debug one: production policy refuses it. */
bool attest_quote_is_debug(const struct attest_quote *q);
/* The 64 bytes of report data of the enclave or TD. */
const uint8_t *attest_quote_report_data(const struct attest_quote *q);

/*
 * The SGX extension of a PCK certificate, parsed with a bound on every element: the FMSPC,
 * PCE-ID and TCB (16 components, PCESVN, CPUSVN) are required. Errors read "SGX extension: ...".
 */
CC_MUST_CHECK int attest_pck_ext_parse(const struct x509_st *cert, struct attest_pck_ext *out,
				       struct cc_error **err);
/* The same from the DER of the extension's value (the fuzz target's entry). */
CC_MUST_CHECK int attest_pck_ext_parse_der(const uint8_t *der, size_t len,
					   struct attest_pck_ext *out, struct cc_error **err);
