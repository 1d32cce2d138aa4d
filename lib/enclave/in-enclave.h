/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Attestation from inside an enclave container: how a payload gets its own REPORT and
 * evidence "through the PAL", the way an Occlum or Gramine app asks its library OS
 * (/dev/sgx, /dev/attestation).
 *
 * rune gives every enclave container a read-only bind mount (nosuid, nodev, noexec) of
 * <state dir>/attestation at ENC_ATTEST_DIR, holding attest.sock (mode 0666, so any uid of the
 * container may connect); the container's init serves it (lib/enclave/attest-service.c). The
 * framing is agent.sock's (msg.h: a uint32 little-endian length, then one JSON object), one
 * request per connection, with agent.sock's limits (a request must arrive within 10 s of
 * connecting). Binary fields are lower-case hex:
 *
 *   {"op":"report","report_data":HEX128[,"target_info":HEX1024]}
 *        → {"op":"report","report":HEX864}        the PAL's REPORT (pal_get_local_report, v3)
 *   {"op":"target_info"}
 *        → {"op":"target_info","target_info":HEX1024}  the enclave's own TARGETINFO
 *   {"op":"evidence","report_data":HEX128}
 *        → {"op":"evidence","kind":"simulated","evidence":HEX1000}
 *          type simulated: SIMTEE01 (lib/attest/evidence.h) signed with the machine's
 *          simulated attestation key; type intelSgx: an error, hardware quotes come from aesmd
 *   any failure, and any other op (exec, kill, attest are never served here)
 *        → {"op":"error","message":"one line"}
 *
 * The client below is small on purpose (lib/util and jansson): the enclave-agent links it.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include "util/error.h"

/* Where the service is inside an enclave container. */
#define ENC_ATTEST_DIR "/run/rune/attestation"
#define ENC_ATTEST_SOCKET "/run/rune/attestation/attest.sock"

#define ENC_SELF_OP_REPORT "report"
#define ENC_SELF_OP_TARGET_INFO "target_info"
#define ENC_SELF_OP_EVIDENCE "evidence"
#define ENC_SELF_OP_SEAL_KEY "seal_key"

/* How long each step of a call may take: connecting (a full backlog blocks), sending, the
 * answer's first byte, and the rest of the answer. */
#define ENC_SELF_TIMEOUT_MS 10000
/* The longest evidence the client accepts (simulated evidence is 500 bytes, a DCAP quote a
 * few KiB). */
#define ENC_SELF_EVIDENCE_MAX (64u << 10)

/*
 * This enclave's evidence binding report_data: for type simulated, SIMTEE01 (500 bytes).
 * socket: the service's path (NULL: ENC_ATTEST_SOCKET). *evidence is allocated (the caller
 * frees it) and *len set. Errors are one line naming the socket: "enclave attestation service
 * /run/rune/attestation/attest.sock: No such file or directory (not running in an enclave
 * container?)", or the service's own answer after that prefix.
 */
CC_MUST_CHECK int enc_self_evidence(const char *socket, const uint8_t report_data[64],
				    uint8_t **evidence, size_t *len, struct cc_error **err);
/* This enclave's REPORT (432 bytes) for target_info (512 bytes; NULL: all zeros) binding
 * report_data. Errors as enc_self_evidence's. */
CC_MUST_CHECK int enc_self_report(const char *socket, const uint8_t *target_info,
				  const uint8_t report_data[64], uint8_t report[432],
				  struct cc_error **err);
/* This enclave's own TARGETINFO (512 bytes): what another enclave needs to make a REPORT this
 * one can verify. Errors as enc_self_evidence's. */
CC_MUST_CHECK int enc_self_target_info(const char *socket, uint8_t ti[512], struct cc_error **err);

/* A sealing key for this enclave's identity: the 16-byte key EGETKEY gives for the 512-byte
 * KEYREQUEST key_request (lib/attest/seal.h's layout). SIMULATED on this hardware, as the
 * service's answer says: derived from a per-machine secret the host's root can read. The
 * caller wipes key. Errors as enc_self_evidence's. */
CC_MUST_CHECK int enc_self_seal_key(const char *socket, const uint8_t key_request[512],
				    uint8_t key[16], struct cc_error **err);

/* Report data from hex: an even number of digits, at most 128 (64 bytes), zero-padded on the
 * right. 0, or -1 (nothing else is said: the caller names the option). */
CC_MUST_CHECK int enc_report_data_from_hex(const char *hex, uint8_t out[64]);
