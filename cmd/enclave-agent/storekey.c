// SPDX-License-Identifier: Apache-2.0
/*
 * The encrypted store's key (--store-key), never on disk in the clear:
 *
 *   sealed, sealed:mrenclave   derived from the enclave's sealing key for its MRENCLAVE: only
 *                              this agent binary, in an enclave on this machine, gets it back
 *   sealed:mrsigner            for its MRSIGNER (and product id): agents signed by the same key
 *                              share the store, across upgrades
 *   kbs:///R/T/N               a 32-byte resource released by the key broker after attestation
 *
 * A sealing key is 16 bytes (EGETKEY, SIMULATED here: attest.sock's seal_key); the store key
 * is HKDF-SHA-256 of it with a fixed info string, 32 bytes. The KEYREQUEST's key id names the
 * purpose, so no other use of a sealing key by this enclave gives the same bytes.
 */
#include <string.h>
#include "agent.h"
#include "attest/seal.h"
#include "crypt/internal.h"
#include "enclave/in-enclave.h"
#include "image/error.h"
#include "util/cleanup.h"
#include "util/hkdf.h"
#include "util/log.h"

#define KEY_ID "rune-store key v1"
#define INFO "rune enclave-agent store key v1"

static int sealed_key(const char *socket, uint16_t policy, uint8_t key[32], struct cc_error **err)
{
	struct attest_keyrequest kr = { .key_name = ATTEST_KEYNAME_SEAL, .key_policy = policy };
	uint8_t req[ATTEST_KEYREQUEST_SIZE], seal[ATTEST_SEAL_KEY_SIZE];
	memcpy(kr.key_id, KEY_ID, sizeof(KEY_ID) - 1);
	attest_keyrequest_encode(&kr, req);
	if (enc_self_seal_key(socket, req, seal, err) < 0)
		return cc_error_prefix(err, "--store-key sealed: the enclave's sealing key");
	bool ok = cc_hkdf_sha256(seal, sizeof(seal), NULL, 0, INFO, sizeof(INFO) - 1, key, 32);
	explicit_bzero(seal, sizeof(seal));
	if (!ok)
		return cc_error_set(err, 0, "--store-key: key derivation failed");
	return 0;
}

int agent_store_key(const char *source, const char *attestation_socket, uint8_t key[32],
		    struct cc_error **err)
{
	if (!strcmp(source, "sealed") || !strcmp(source, "sealed:mrenclave"))
		return sealed_key(attestation_socket, ATTEST_KEYPOLICY_MRENCLAVE, key, err);
	if (!strcmp(source, "sealed:mrsigner"))
		return sealed_key(attestation_socket, ATTEST_KEYPOLICY_MRSIGNER, key, err);
	if (!agent_is_kbs_uri(source))
		return cc_error_set(
		    err, 0,
		    "--store-key \"%s\": sealed, sealed:mrenclave, sealed:mrsigner or "
		    "kbs:///REPOSITORY/TYPE/TAG expected",
		    source);
	_cleanup_wipe_ struct crypt_buf b = { 0 };
	if (agent_kbs_check_uri("--store-key", source, err) < 0)
		return -1;
	if (agent_kbs_resource(source, &b, err) < 0)
		return cc_error_prefix(err, "--store-key %s", source);
	if (b.len != 32)
		return cc_error_set(err, 0,
				    "--store-key %s: the key broker's resource is %zu "
				    "bytes; a store key is 32",
				    source, b.len);
	memcpy(key, b.p, 32);
	return 0;
}
