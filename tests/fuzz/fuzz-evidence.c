// SPDX-License-Identifier: Apache-2.0
/*
 * Fuzz what lib/attest reads from others besides quotes: simulated evidence (SIMTEE01), the
 * appraisal policy, JSON through the RFC 8785 canonicaliser, and REPORTs through local
 * attestation. Every input goes to each:
 *  - simulated evidence: parsed, checked with the key below, verified through the one entry
 *    point (refused with the exact line when not allowed, whatever follows the magic);
 *  - a REPORT that passes local attestation for the simulated QE is wrapped into evidence with
 *    the key below, and that evidence must verify to the same body, marked simulated;
 *  - the appraisal policy: parsed; what parses appraises a fixed result;
 *  - JSON: canonicalised; the canonical form must read back to itself.
 * A failure says why on one line with its prefix. The key is a test key, public by design.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "attest/appraise.h"
#include "attest/evidence.h"
#include "attest/kbs-bind.h"
#include "attest/local.h"

#include "attest-fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct attest_sim_key *key;

static void check_evidence(const uint8_t *data, size_t size)
{
	struct cc_error *err = NULL;
	struct attest_sim_evidence ev;
	if (attest_sim_evidence_parse(data, size, &ev, &err) < 0)
		one_line(&err, "evidence: ");
	else if (attest_sim_evidence_check(&ev, key, &err) < 0)
		one_line(&err, "evidence: ");

	/* 2025-07-01T00:00:00Z, when the real quotes verify. */
	struct attest_evidence_opts o = { .insecure_allow_simulated = false,
					  .quote = { .now = 1751328000 } };
	struct attest_evidence_result r;
	bool simulated = size >= 8 && !memcmp(data, "SIMTEE01", 8);
	if (attest_evidence_verify(data, size, &o, &r, &err) == 0) {
		if (simulated || r.simulated || r.kind != ATTEST_EVIDENCE_SGX_QUOTE)
			abort();
	} else if (simulated) {
		if (strcmp(err->msg, ATTEST_SIM_REFUSED))
			abort();
		cc_error_free(&err);
	} else {
		one_line(&err, "quote: ");
	}
	attest_evidence_result_clear(&r);
	if (!simulated)
		return;
	o.insecure_allow_simulated = true;
	o.sim_key = key;
	if (attest_evidence_verify(data, size, &o, &r, &err) == 0) {
		if (!r.simulated || r.kind != ATTEST_EVIDENCE_SIMULATED ||
		    r.verdict.tcb_status != ATTEST_TCB_UNKNOWN)
			abort();
	} else {
		one_line(&err, "evidence: ");
	}
	attest_evidence_result_clear(&r);
}

/* A REPORT for the simulated QE, wrapped into evidence, verifies to its own body. */
static void check_local(const uint8_t *data, size_t size)
{
	struct cc_error *err = NULL;
	struct sgx_target_info ti;
	struct attest_local_peer peer;
	uint8_t ev[ATTEST_SIM_EVIDENCE_SIZE];
	attest_sim_qe_target_info(&ti);
	if (attest_local_verify(&ti, data, size, true, &peer, &err) < 0) {
		one_line(&err, "local attestation: ");
		if (attest_sim_evidence_make(key, &ti, data, size, ev, &err) == 0)
			abort();
		one_line(&err, "evidence: local attestation: ");
		return;
	}
	if (!peer.simulated || attest_sim_evidence_make(key, &ti, data, size, ev, &err) < 0)
		abort();
	struct attest_evidence_opts o = { .insecure_allow_simulated = true, .sim_key = key };
	struct attest_evidence_result r;
	if (attest_evidence_verify(ev, sizeof(ev), &o, &r, &err) < 0 || !r.simulated ||
	    memcmp(&r.enclave, &peer.enclave, sizeof(r.enclave)))
		abort();
	attest_evidence_result_clear(&r);
}

static void check_policy(const uint8_t *data, size_t size)
{
	struct cc_error *err = NULL;
	struct attest_policy p;
	if (attest_policy_parse((const char *)data, size, &p, &err) < 0) {
		one_line(&err, "appraisal policy: ");
		return;
	}
	struct attest_evidence_result r = { .kind = ATTEST_EVIDENCE_SIMULATED, .simulated = true };
	r.enclave.flags = SGX_FLAGS_INIT | SGX_FLAGS_MODE64BIT | SGX_FLAGS_DEBUG;
	memset(r.enclave.mrenclave, 0x11, 32);
	memcpy(r.enclave.report_data, "nonce", 5);
	for (int i = 0; i < 2; i++) {
		if (attest_appraise(&p, &r, &err) < 0)
			one_line(&err, "appraisal: ");
		struct attest_local_peer peer = { .enclave = r.enclave, .simulated = r.simulated };
		if (attest_appraise_local(&p, &peer, &err) < 0)
			one_line(&err, "appraisal: ");
		r.kind = ATTEST_EVIDENCE_SGX_QUOTE;
		r.simulated = false;
		r.enclave.flags &= ~(uint64_t)SGX_FLAGS_DEBUG;
		r.verdict.tcb_status = ATTEST_TCB_OUT_OF_DATE;
	}
}

static void check_jcs(const uint8_t *data, size_t size)
{
	struct cc_error *err = NULL;
	json_error_t e;
	size_t flags = JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL;
	json_t *j = json_loadb((const char *)data, size, flags, &e);
	if (!j)
		return;
	size_t len;
	char *c = attest_jcs(j, &len, &err);
	json_decref(j);
	if (!c) {
		one_line(&err, "JCS: ");
		return;
	}
	if (strlen(c) != len)
		abort();
	json_t *back = json_loadb(c, len, flags, &e);
	if (back) { /* not when a member name holds a NUL, which jansson does not read */
		size_t len2;
		char *c2 = attest_jcs(back, &len2, &err);
		if (!c2 || len2 != len || memcmp(c, c2, len))
			abort();
		free(c2);
		json_decref(back);
	}
	free(c);
	uint8_t rd[64];
	json_t *jwk = json_pack("{s:s#}", "x", (const char *)data, size < 64 ? size : 64);
	if (jwk) {
		if (attest_kbs_report_data(jwk, "n", "", ATTEST_HASH_SHA384, rd, &err) < 0)
			one_line(&err, "KBS binding: ");
		json_decref(jwk);
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct cc_error *err = NULL;
	key = attest_sim_key_from_pem(fuzz_sim_key_pem, strlen(fuzz_sim_key_pem), &err);
	if (!key)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_evidence(data, size);
	check_local(data, size);
	check_policy(data, size);
	check_jcs(data, size);
	return 0;
}
