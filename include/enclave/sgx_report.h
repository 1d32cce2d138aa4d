/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The SGX REPORT and TARGETINFO structures (Intel SDM vol. 3D, "EREPORT"), as returned by
 * pal_get_local_report, and the constants of the skeleton PAL's SIMULATED backend.
 *
 * The C layout is the contract: every structure uses natural alignment and no packing, and the
 * sizes and offsets below are checked at compile time. Multi-byte integers are little-endian.
 *
 * Report data convention of pal_get_local_report (skeleton and rune agree on it): before the
 * call, the caller may fill the REPORTDATA field of its report buffer (bytes 320..383) with the
 * 64 bytes it wants bound into the report, typically a hash of a public key or a nonce; the PAL
 * copies them into the report it produces. A zeroed buffer, which is what upstream rune passes,
 * gives all-zero report data.
 *
 * SIMULATED reports. Without SGX hardware the skeleton produces reports itself: same layout,
 * KEYID set to SKEL_SIM_KEYID (zero-padded to 32 bytes), MAC = AES-128-CMAC over the 384-byte
 * REPORTBODY with the key
 *
 *     report_key = HMAC-SHA256(key = SKEL_SIM_ROOT_KEY,
 *                              msg = SKEL_SIM_REPORT_KEY_LABEL || TARGETINFO.MRENCLAVE || KEYID)
 *                  truncated to its first 16 bytes
 *
 * (the strings without their terminating NUL). The root key is PUBLIC: anyone can forge a
 * simulated report with any measurement. Such a report proves nothing about the code that
 * produced it. Verifiers MUST reject a report whose KEYID is the simulated marker unless they
 * were explicitly configured to accept simulated evidence (tests, development); the marker
 * exists so that a simulated report can never be mistaken for hardware evidence.
 *
 * Simulated measurements:
 *   MRENCLAVE = SHA-256(SKEL_SIM_MEASURE_TAG with its NUL (26 bytes) || u64 LE file size ||
 *                       the executable's bytes) of the first process created after pal_init;
 *   MRSIGNER  = SHA-256(SKEL_SIM_SIGNER_TAG without NUL);
 *   CPUSVN, ISVPRODID, ISVSVN, MISCSELECT: zero; ATTRIBUTES.FLAGS = INIT | MODE64BIT, plus DEBUG
 *   when the PAL was initialised with the "debug" argument; ATTRIBUTES.XFRM = 3 (x87, SSE).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define SGX_REPORT_BODY_SIZE 384
#define SGX_REPORT_SIZE 432
#define SGX_TARGETINFO_SIZE 512
#define SGX_HASH_SIZE 32
#define SGX_KEYID_SIZE 32
#define SGX_MAC_SIZE 16
#define SGX_REPORT_DATA_SIZE 64

/* ATTRIBUTES.FLAGS bits. */
#define SGX_FLAGS_INIT (1ULL << 0)
#define SGX_FLAGS_DEBUG (1ULL << 1)
#define SGX_FLAGS_MODE64BIT (1ULL << 2)

/* ATTRIBUTES.XFRM of a simulated enclave: x87 and SSE state. */
#define SGX_XFRM_LEGACY 3ULL

struct sgx_attributes {
	uint64_t flags;
	uint64_t xfrm;
};

struct sgx_report_body {
	uint8_t cpu_svn[16];			   /* 0 */
	uint32_t misc_select;			   /* 16 */
	uint8_t reserved1[12];			   /* 20 */
	uint8_t isv_ext_prod_id[16];		   /* 32 */
	struct sgx_attributes attributes;	   /* 48 */
	uint8_t mr_enclave[SGX_HASH_SIZE];	   /* 64 */
	uint8_t reserved2[32];			   /* 96 */
	uint8_t mr_signer[SGX_HASH_SIZE];	   /* 128 */
	uint8_t reserved3[32];			   /* 160 */
	uint8_t config_id[64];			   /* 192 */
	uint16_t isv_prod_id;			   /* 256 */
	uint16_t isv_svn;			   /* 258 */
	uint16_t config_svn;			   /* 260 */
	uint8_t reserved4[42];			   /* 262 */
	uint8_t isv_family_id[16];		   /* 304 */
	uint8_t report_data[SGX_REPORT_DATA_SIZE]; /* 320 */
};

struct sgx_report {
	struct sgx_report_body body;	/* 0 */
	uint8_t key_id[SGX_KEYID_SIZE]; /* 384 */
	uint8_t mac[SGX_MAC_SIZE];	/* 416 */
};

struct sgx_target_info {
	uint8_t mr_enclave[SGX_HASH_SIZE]; /* 0 */
	struct sgx_attributes attributes;  /* 32 */
	uint8_t reserved1[2];		   /* 48 */
	uint16_t config_svn;		   /* 50 */
	uint32_t misc_select;		   /* 52 */
	uint8_t reserved2[8];		   /* 56 */
	uint8_t config_id[64];		   /* 64 */
	uint8_t reserved3[384];		   /* 128 */
};

_Static_assert(sizeof(struct sgx_attributes) == 16, "sgx_attributes size");
_Static_assert(sizeof(struct sgx_report_body) == SGX_REPORT_BODY_SIZE, "report body size");
_Static_assert(offsetof(struct sgx_report_body, misc_select) == 16, "body.misc_select");
_Static_assert(offsetof(struct sgx_report_body, isv_ext_prod_id) == 32, "body.isv_ext_prod_id");
_Static_assert(offsetof(struct sgx_report_body, attributes) == 48, "body.attributes");
_Static_assert(offsetof(struct sgx_report_body, mr_enclave) == 64, "body.mr_enclave");
_Static_assert(offsetof(struct sgx_report_body, mr_signer) == 128, "body.mr_signer");
_Static_assert(offsetof(struct sgx_report_body, config_id) == 192, "body.config_id");
_Static_assert(offsetof(struct sgx_report_body, isv_prod_id) == 256, "body.isv_prod_id");
_Static_assert(offsetof(struct sgx_report_body, isv_svn) == 258, "body.isv_svn");
_Static_assert(offsetof(struct sgx_report_body, config_svn) == 260, "body.config_svn");
_Static_assert(offsetof(struct sgx_report_body, reserved4) == 262, "body.reserved4");
_Static_assert(offsetof(struct sgx_report_body, isv_family_id) == 304, "body.isv_family_id");
_Static_assert(offsetof(struct sgx_report_body, report_data) == 320, "body.report_data");
_Static_assert(sizeof(struct sgx_report) == SGX_REPORT_SIZE, "report size");
_Static_assert(offsetof(struct sgx_report, key_id) == 384, "report.key_id");
_Static_assert(offsetof(struct sgx_report, mac) == 416, "report.mac");
_Static_assert(sizeof(struct sgx_target_info) == SGX_TARGETINFO_SIZE, "targetinfo size");
_Static_assert(offsetof(struct sgx_target_info, attributes) == 32, "ti.attributes");
_Static_assert(offsetof(struct sgx_target_info, reserved1) == 48, "ti.reserved1");
_Static_assert(offsetof(struct sgx_target_info, config_svn) == 50, "ti.config_svn");
_Static_assert(offsetof(struct sgx_target_info, misc_select) == 52, "ti.misc_select");
_Static_assert(offsetof(struct sgx_target_info, reserved2) == 56, "ti.reserved2");
_Static_assert(offsetof(struct sgx_target_info, config_id) == 64, "ti.config_id");
_Static_assert(offsetof(struct sgx_target_info, reserved3) == 128, "ti.reserved3");

/* The KEYID of every simulated report: this ASCII text, zero-padded to 32 bytes. */
#define SKEL_SIM_KEYID "RUNE-SKELETON-SIMULATED-REPORT"
/* The simulated root key (32 ASCII bytes, no NUL). Public: see the warning above. */
#define SKEL_SIM_ROOT_KEY "rune-skeleton-simulated-root-key"
/* The first part of the report-key derivation message (10 bytes, no NUL). */
#define SKEL_SIM_REPORT_KEY_LABEL "report-key"
/* Hashed first, WITH its terminating NUL (sizeof == 26), in front of the executable. */
#define SKEL_SIM_MEASURE_TAG "rune-skeleton-sim-enclave"
/* MRSIGNER is the SHA-256 of this text, without NUL. */
#define SKEL_SIM_SIGNER_TAG "rune-skeleton-sim-signer"

_Static_assert(sizeof(SKEL_SIM_KEYID) - 1 <= SGX_KEYID_SIZE, "simulated KEYID marker length");
_Static_assert(sizeof(SKEL_SIM_ROOT_KEY) - 1 == 32, "simulated root key length");
_Static_assert(sizeof(SKEL_SIM_MEASURE_TAG) == 26, "measurement tag length");

/* The simulated KEYID marker, zero-padded, in out[32]. */
static inline void skel_sim_keyid(uint8_t out[SGX_KEYID_SIZE])
{
	memset(out, 0, SGX_KEYID_SIZE);
	memcpy(out, SKEL_SIM_KEYID, sizeof(SKEL_SIM_KEYID) - 1);
}

/* True if the report carries the simulated marker: such a report is not hardware evidence. */
static inline bool sgx_report_is_simulated(const struct sgx_report *r)
{
	uint8_t marker[SGX_KEYID_SIZE];
	skel_sim_keyid(marker);
	return memcmp(r->key_id, marker, SGX_KEYID_SIZE) == 0;
}
