/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Local attestation: an enclave checks a REPORT that another enclave on the same platform made
 * for it. The verifying enclave gives its TARGETINFO to the other, which asks its platform for
 * a REPORT targeted at it (pal_get_local_report); the REPORT's MAC is made with a report key
 * only the target can derive, so a MAC that verifies means "made by this platform, for me".
 *
 * SIMULATED here, and labelled as such: on SGX hardware the report key comes from EGETKEY and
 * exists only in the CPU. The only report key that exists on this machine is the skeleton
 * PAL's simulated one (include/enclave/sgx_report.h), derived from a PUBLIC root key, so anyone
 * can forge a REPORT that passes. A hardware REPORT (another KEYID) cannot be checked and is
 * refused; a simulated one only when the caller explicitly allows simulated evidence.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include "attest/quote.h"
#include "enclave/sgx_report.h"
#include "util/error.h"

/* The enclave that made a REPORT, once its MAC verified. */
struct attest_local_peer {
	struct attest_sgx_report enclave; /* its report body: identity, attributes, report data */
	bool simulated;			  /* always true here: see above */
	bool debug;			  /* ATTRIBUTES.flags DEBUG */
};

/*
 * Check a REPORT (len must be 432) made for the enclave whose TARGETINFO is self, and say who
 * made it. Refusals, one line each:
 *   "local attestation: REPORT is 431 bytes, not 432"
 *   "local attestation: not a simulated REPORT (KEYID is not the skeleton's marker): a hardware
 *    report key exists only in its CPU, this REPORT cannot be checked here"
 *   "local attestation: simulated REPORT is not accepted; allow it explicitly for tests and
 *    development"
 *   "local attestation: REPORT MAC does not verify with this enclave's simulated report key
 *    (made for another target, or altered)"
 * The report key is wiped after use. 0 with *peer filled in, or -1.
 */
CC_MUST_CHECK int attest_local_verify(const struct sgx_target_info *self, const void *report,
				      size_t len, bool insecure_allow_simulated,
				      struct attest_local_peer *peer, struct cc_error **err);

/*
 * An enclave's own TARGETINFO from a REPORT it made of itself (for any target): MRENCLAVE,
 * ATTRIBUTES, CONFIGSVN, MISCSELECT and CONFIGID, the rest zero (what SGX's "self target"
 * does). report is the 384-byte body or the whole 432-byte REPORT.
 */
void attest_target_info_from_report(const void *report, struct sgx_target_info *ti);
