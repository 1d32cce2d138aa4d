/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Appraisal: whether a verified evidence (evidence.h, real or simulated) or a checked local
 * REPORT (local.h) is one the relying party wants. Verification says "genuine"; the policy
 * says "this enclave, at this version, in production mode, on a platform patched enough, bound
 * to this nonce".
 *
 * The policy in JSON (every member optional; unknown keys are refused with their path):
 *
 *   {
 *     "insecure_allow_simulated": false,           simulated evidence / REPORTs pass only when true
 *     "enclave": {
 *       "mrenclave": ["<64 hex>", ...],   the enclave is one of these (1 to 64 entries)
 *       "mrsigner": ["<64 hex>", ...],    its signer is one of these (1 to 64 entries)
 *       "isv_prod_id": 1,                 its ISVPRODID is this one
 *       "min_isv_svn": 2,                 its ISVSVN is at least this
 *       "allow_debug": false              debug enclaves (ATTRIBUTES.flags DEBUG) pass when true
 *     },
 *     "tcb": {
 *       "accepted": ["UpToDate", "SWHardeningNeeded"],   Intel's names; this is the default
 *       "allow_unknown": false            no collateral (and simulated evidence): status
 *                                         "unknown: no collateral", accepted only when true
 *     },
 *     "report_data": "<hex, 1 to 64 bytes>"   zero-padded to 64 bytes, compared with all 64
 *   }
 *
 * A rule left out is not checked, except the defaults above (no simulated evidence, no debug
 * enclave, TCB UpToDate or SWHardeningNeeded).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "attest/collateral.h"
#include "attest/evidence.h"
#include "attest/local.h"
#include "util/error.h"

#define ATTEST_POLICY_IDS_MAX 64
#define ATTEST_POLICY_MAX (1u << 20) /* bytes of policy JSON */

struct attest_policy {
	bool insecure_allow_simulated;
	uint8_t mrenclave[ATTEST_POLICY_IDS_MAX][32];
	size_t n_mrenclave; /* 0: not checked */
	uint8_t mrsigner[ATTEST_POLICY_IDS_MAX][32];
	size_t n_mrsigner; /* 0: not checked */
	bool has_isv_prod_id;
	uint16_t isv_prod_id;
	uint16_t min_isv_svn;
	bool allow_debug;
	uint32_t tcb_accepted; /* bit (1u << status) per accepted enum attest_tcb_status */
	bool allow_unknown_tcb;
	bool has_report_data;
	uint8_t report_data[64];
};

/* The defaults: nothing but TCB UpToDate or SWHardeningNeeded, no debug, no simulated. */
void attest_policy_init(struct attest_policy *p);

/*
 * A policy from JSON (len bytes, at most ATTEST_POLICY_MAX), strictly: *p is initialised, then
 * each member read. Errors are one line naming the path: `appraisal policy: enclave: unknown
 * key "mrenclve"`, "appraisal policy: enclave.mrenclave[1]: expected 64 hex digits".
 */
CC_MUST_CHECK int attest_policy_parse(const char *buf, size_t len, struct attest_policy *p,
				      struct cc_error **err);
/* The same from a file; errors name the file instead of "appraisal policy". */
CC_MUST_CHECK int attest_policy_load(const char *path, struct attest_policy *p,
				     struct cc_error **err);

/*
 * Appraise a verified evidence. Rules are checked in this order, the first refusal one line
 * naming the claim:
 *   "appraisal: simulated evidence refused (insecure_allow_simulated is not set)"
 *   "appraisal: debug enclave refused (attributes.flags DEBUG set)"
 *   "appraisal: MRENCLAVE <hex> is not among the 2 expected"
 *   "appraisal: MRSIGNER <hex> is not among the 1 expected"
 *   "appraisal: ISVPRODID 3, expected 1"
 *   "appraisal: ISVSVN 1 is below the minimum 2"
 *   "appraisal: TCB status \"OutOfDate\" is not accepted (accepted: UpToDate,
 *    SWHardeningNeeded)"
 *   "appraisal: TCB status \"unknown: no collateral\" is not accepted (tcb.allow_unknown is not
 *    set)"
 *   "appraisal: report_data <hex> is not the expected <hex>"
 */
CC_MUST_CHECK int attest_appraise(const struct attest_policy *p,
				  const struct attest_evidence_result *r, struct cc_error **err);

/* Appraise the enclave behind a checked local REPORT: every rule but the TCB status (a REPORT
 * says nothing of the platform's patch level), with the same messages. */
CC_MUST_CHECK int attest_appraise_local(const struct attest_policy *p,
					const struct attest_local_peer *peer,
					struct cc_error **err);
