/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sealing keys, SIMULATED: what SGX's EGETKEY gives an enclave for a KEYREQUEST, reproduced in
 * software on machines without SGX so that code written for it (a store key sealed to the
 * enclave's identity) runs unchanged. Labelled SIMULATED — NOT SECURE: on hardware the key
 * comes from a secret fused into the CPU that software never sees; here it comes from a
 * per-machine secret on disk (derived from the simulated attestation key, evidence.h), so
 * anyone with root on the host can derive every "sealed" key.
 *
 * What is reproduced is the contract: the same request from the same identity gives the same
 * key; MRENCLAVE policy ties it to the exact enclave, MRSIGNER policy to its signer (and product
 * id unless NOISVPRODID); the requested ISVSVN, CPUSVN and CONFIGSVN may be at most the
 * enclave's own (an update can derive its predecessors' keys, never the reverse); a debug and a
 * production enclave never share a key (INIT and DEBUG are always in the attribute mask).
 *
 *   key = HKDF-SHA-256(IKM = machine seal secret, salt = "sim-sgx-egetkey-v1",
 *                      info = key name u16 || key policy u16 ||
 *                             (policy & MRENCLAVE ? MRENCLAVE : 32 zero bytes) ||
 *                             (policy & MRSIGNER ? MRSIGNER : 32 zero bytes) ||
 *                             (policy & NOISVPRODID ? 0 : ISVPRODID) u16 ||
 *                             requested ISVSVN u16 || requested CPUSVN 16 ||
 *                             requested CONFIGSVN u16 ||
 *                             ATTRIBUTES.flags & (mask.flags | INIT | DEBUG) u64 ||
 *                             ATTRIBUTES.xfrm & mask.xfrm u64 ||
 *                             MISCSELECT & misc mask u32 || KEYID 32), 16 bytes
 *
 * (integers little-endian; the secret is HKDF-SHA-256 of the simulated attestation private key
 * with the label "rune-sim-seal-secret-v1").
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include "attest/evidence.h"
#include "attest/quote.h"
#include "util/error.h"

#define ATTEST_KEYREQUEST_SIZE 512
#define ATTEST_SEAL_KEY_SIZE 16
#define ATTEST_SEAL_SECRET_SIZE 32

/* KEYREQUEST key names and policy bits (SDM EGETKEY). */
enum {
	ATTEST_KEYNAME_SEAL = 4,
	ATTEST_KEYPOLICY_MRENCLAVE = 0x1,
	ATTEST_KEYPOLICY_MRSIGNER = 0x2,
	ATTEST_KEYPOLICY_NOISVPRODID = 0x4,
};

/* A KEYREQUEST (512 bytes, the layout of sgx_key_request_t), decoded. */
struct attest_keyrequest {
	uint16_t key_name, key_policy, isv_svn, config_svn;
	uint8_t cpu_svn[16];
	uint64_t flags_mask, xfrm_mask;
	uint8_t key_id[32];
	uint32_t misc_mask;
};

/* Decode 512 bytes; a key name other than SEAL, unknown policy bits, or non-zero reserved
 * bytes are refused ("key request: key name 3 is not simulated here (only SEAL, 4)"). */
CC_MUST_CHECK int attest_keyrequest_decode(const uint8_t *buf, size_t len,
					   struct attest_keyrequest *out, struct cc_error **err);
/* The 512 bytes of a request (reserved bytes zero). */
void attest_keyrequest_encode(const struct attest_keyrequest *r,
			      uint8_t out[ATTEST_KEYREQUEST_SIZE]);

/* The machine's seal secret, derived from the simulated attestation key (a private key). */
CC_MUST_CHECK int attest_sim_seal_secret(const struct attest_sim_key *k,
					 uint8_t secret[ATTEST_SEAL_SECRET_SIZE],
					 struct cc_error **err);

/*
 * The simulated EGETKEY: the key for request r made by the enclave whose identity is self (the
 * body of a REPORT it made of itself). Refused, one line each: "seal key: requested ISVSVN 3 is
 * above the enclave's 2", "...CPUSVN...", "...CONFIGSVN...". The caller wipes key.
 */
CC_MUST_CHECK int attest_sim_egetkey(const uint8_t secret[ATTEST_SEAL_SECRET_SIZE],
				     const struct attest_sgx_report *self,
				     const struct attest_keyrequest *r,
				     uint8_t key[ATTEST_SEAL_KEY_SIZE], struct cc_error **err);
