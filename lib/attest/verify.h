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
 * What the quote says about the enclave (MRENCLAVE, report_data, the DEBUG bit) is the
 * caller's policy: a verified quote of a debug enclave is still a verified quote.
 *
 * The clock is the caller's: nothing here reads the time.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <time.h>
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
};

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

/* What a verification found beyond "genuine". */
struct attest_verdict {
	bool crls_checked;		   /* the chain was checked against CRLs */
	enum attest_tcb_status tcb_status; /* ATTEST_TCB_UNKNOWN without collateral */
};

/*
 * Verify q (parsed by attest_quote_parse) as above: 0 with *v filled in, or -1 with the failed
 * step in *err. attest_verdict_clear() frees what *v holds, after success or failure.
 */
CC_MUST_CHECK int attest_quote_verify(const struct attest_quote *q,
				      const struct attest_verify_opts *o, struct attest_verdict *v,
				      struct cc_error **err);
void attest_verdict_clear(struct attest_verdict *v);
