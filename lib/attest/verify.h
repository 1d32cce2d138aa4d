/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Verification of a parsed DCAP quote, step by step, each failure one line naming its step:
 *
 *  1. PCK chain: up to the pinned Intel SGX Root CA (compiled in from
 *     tests/unit/data/attest/intel-sgx-root-ca.der, its SHA-256 checked by the build; a caller
 *     may pin another root, e.g. a test CA), never to the root the quote carries; every
 *     signature, issuer name and validity period at the given time (valid from notBefore up
 *     to, not at, notAfter, as OpenSSL has it; the same for a CRL's nextUpdate); with CRLs,
 *     every certificate below the root covered by a current CRL of its issuer that does not
 *     list it
 *     ("quote: PCK chain: certificate 2 is not signed by the Intel SGX Root CA",
 *     "quote: PCK chain: certificate 1 (Intel SGX PCK Certificate) expired at ...").
 *  2. QE report signature by the PCK leaf key, ECDSA P-256 over the 384-byte QE report
 *     ("quote: QE report signature does not verify with the PCK key").
 *  3. QE report data = SHA-256(attestation key || QE auth data) followed by 32 zero bytes
 *     ("quote: QE report data does not bind the attestation key").
 *  4. Quote signature by the attestation key over header || body
 *     ("quote: signature does not verify with the attestation key").
 *
 * With collateral (collateral.h), then:
 *  5. The collateral itself: the TCB Info's and QE Identity's issuer chains up to the same
 *     root (with the root CA CRL), signed by "Intel SGX TCB Signing", their signatures over the
 *     exact bytes, their issueDate .. nextUpdate windows at the given time
 *     ("quote: collateral: QE identity expired at 2025-07-19T10:01:18Z"); its CRLs join step 1.
 *  6. The TCB Info is the platform's: its id (SGX or TDX) is the quote's TEE, its FMSPC and
 *     PCE-ID are the PCK certificate's ("quote: collateral: TCB info is for FMSPC ..., the PCK
 *     certificate's is ...").
 *  7. The QE matches the QE Identity (id QE or TD_QE, MISCSELECT and ATTRIBUTES under their
 *     masks, MRSIGNER, ISVPRODID) and its ISVSVN selects the first level at or below it.
 *  8. The platform's TCB level: the first level whose 16 SGX components and PCESVN are all at or
 *     below the PCK certificate's (TDX: and whose TDX components are at or below TEE_TCB_SVN,
 *     from the third on when the TDX module version is not 0), the TDX module's identity and
 *     level, and the status converged as Intel's library does: a QE (or TDX module) OutOfDate
 *     makes UpToDate and SWHardeningNeeded OutOfDate, ConfigurationNeeded and
 *     ConfigurationAndSWHardeningNeeded OutOfDateConfigurationNeeded; Revoked makes Revoked.
 *     No level at all is an error ("TCB not supported"); Revoked and OutOfDate are statuses,
 *     for the caller's policy to judge.
 * The levels are taken in the TCB Info's order (Intel's, highest first).
 *
 * What the quote says about the enclave (MRENCLAVE, report_data, the DEBUG bit) is the
 * caller's policy: a verified quote of a debug enclave is still a verified quote.
 *
 * The clock is the caller's: nothing here reads the time.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include "attest/collateral.h"
#include "attest/quote.h"
#include "util/error.h"

/* Bytes the caller keeps (a CRL in DER, a trust anchor). */
struct attest_der {
	const void *data;
	size_t len;
};

struct attest_verify_opts {
	time_t now;	      /* the verification time */
	const void *root_der; /* the trust anchor (DER); NULL: the Intel SGX Root CA */
	size_t root_len;
	/* DER CRLs (the root CA's, the PCK CA's); when there are any, every certificate below
	 * the root must be covered by one (as CRL_CHECK_ALL). */
	const struct attest_der *crls;
	size_t n_crls;
	/* Collateral for the platform (its CRLs join the others); NULL: no TCB evaluation. */
	const struct attest_collateral *collateral;
};

/* What a verification found beyond "genuine". */
struct attest_verdict {
	bool crls_checked;		   /* the chain was checked against CRLs */
	enum attest_tcb_status tcb_status; /* converged; ATTEST_TCB_UNKNOWN without collateral */
	enum attest_tcb_status platform_status;	  /* the matched level's (TDX: the TDX level's) */
	enum attest_tcb_status qe_status;	  /* the QE identity level's */
	enum attest_tcb_status tdx_module_status; /* TDX module version > 0: its level's */
	time_t tcb_date;			  /* the matched level's tcbDate */
	char **advisory_ids; /* the levels' advisories, each once; NULL without collateral */
	uint32_t tcb_evaluation_data_number;
	time_t collateral_from;	 /* the collateral's window: the latest issueDate or thisUpdate */
	time_t collateral_until; /* the earliest nextUpdate */
};

/*
 * Verify q (parsed by attest_quote_parse) as above: 0 with *v filled in, or -1 with the failed
 * step in *err. attest_verdict_clear() frees what *v holds, after success or failure.
 */
CC_MUST_CHECK int attest_quote_verify(const struct attest_quote *q,
				      const struct attest_verify_opts *o, struct attest_verdict *v,
				      struct cc_error **err);
void attest_verdict_clear(struct attest_verdict *v);
