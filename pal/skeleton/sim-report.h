/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The formulas of the skeleton PAL's SIMULATED backend (see include/enclave/sgx_report.h):
 * measurement, report MAC and report verification. Shared by the PAL and by verifiers (rune
 * attest, the agent) so that both sides compute exactly the same values.
 *
 * A simulated report is NOT hardware evidence: its key is public. skel_sim_report_verify only
 * says "this report was made by the simulated backend for that target, and not altered"; a
 * verifier must refuse simulated reports unless simulated evidence was explicitly allowed.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include "enclave/sgx_report.h"

/* MRENCLAVE of the executable open on fd, streamed with pread (the file offset is unchanged).
 * Returns 0, or -errno (-EIO if the file changed size while it was read, -ENOMEM). */
int skel_sim_measure_fd(int fd, uint8_t mr_enclave[SGX_HASH_SIZE]);

/* MRSIGNER of every simulated enclave. Returns 0 or -EIO. */
int skel_sim_mr_signer(uint8_t mr_signer[SGX_HASH_SIZE]);

/* The simulated report key for a target enclave and key id: 16 bytes in key, which the caller
 * must wipe (explicit_bzero) after use. Returns 0 or -EIO. */
int skel_sim_report_key(const uint8_t target_mr_enclave[SGX_HASH_SIZE],
			const uint8_t key_id[SGX_KEYID_SIZE], uint8_t key[16]);

/* The MAC of a simulated report body for the target enclave (with the simulated KEYID marker).
 * Returns 0 or -EIO. */
int skel_sim_report_mac(const struct sgx_report_body *body,
			const uint8_t target_mr_enclave[SGX_HASH_SIZE], uint8_t mac[SGX_MAC_SIZE]);

/* True if r carries the simulated KEYID marker and a MAC valid for the target enclave
 * (compared in constant time). */
bool skel_sim_report_verify(const struct sgx_report *r,
			    const uint8_t target_mr_enclave[SGX_HASH_SIZE]);
