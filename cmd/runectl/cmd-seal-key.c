// SPDX-License-Identifier: Apache-2.0
/*
 * runectl seal-key: from inside an enclave container, a sealing key for the enclave's own
 * identity, as EGETKEY gives one for a KEYREQUEST (lib/attest/seal.h). For type simulated it
 * is derived from the machine's simulated secret: labelled so, never a hardware key.
 */
#include <stdlib.h>
#include <string.h>
#include "attest/seal.h"
#include "enclave/in-enclave.h"
#include "runectl.h"
#include "util/hex.h"

static int seal_key_main(int argc, char **argv);

const struct rc_cmd rc_cmd_seal_key = {
	"seal-key",
	"a sealing key for this enclave (inside an enclave container)",
	"From inside an enclave container, get the 16-byte sealing key EGETKEY gives this\n"
	"enclave for a SEAL key request: bound to its MRENCLAVE (--policy mrenclave, the\n"
	"default) or to its signer and product (--policy mrsigner), at the SVNs asked for (at\n"
	"most the enclave's). Simulated on machines without SGX (a per-machine secret that\n"
	"root on the host can read). The key goes to --output as 16 bytes, or as hex on\n"
	"standard output by default",
	"[--policy mrenclave|mrsigner] [--key-id HEX] [--isv-svn N] [--socket PATH] "
	"[--output FILE]",
	"   --policy POLICY       mrenclave (default) or mrsigner\n"
	"   --key-id HEX          up to 32 bytes of KEYID, the key's diversifier (zero-padded)\n"
	"   --isv-svn N           the ISVSVN to derive for (default 0)\n"
	"   --socket PATH         the attestation service (default " ENC_ATTEST_SOCKET ")\n"
	"   --output FILE         write the 16 bytes there instead of hex to standard output\n",
	seal_key_main,
};

static int seal_key_main(int argc, char **argv)
{
	enum { O_POLICY = RC_OPT_FIRST_FREE, O_KEY_ID, O_ISV_SVN, O_SOCKET };
	static const struct option opts[] = {
		{ "policy", required_argument, NULL, O_POLICY },
		{ "key-id", required_argument, NULL, O_KEY_ID },
		{ "isv-svn", required_argument, NULL, O_ISV_SVN },
		{ "socket", required_argument, NULL, O_SOCKET },
		{ "output", required_argument, NULL, RC_OPT_OUTPUT },
		{ 0 },
	};
	const struct rc_cmd *cmd = &rc_cmd_seal_key;
	struct cc_error *err = NULL;
	const char *output = NULL, *socket = ENC_ATTEST_SOCKET;
	struct attest_keyrequest r = { .key_name = ATTEST_KEYNAME_SEAL,
				       .key_policy = ATTEST_KEYPOLICY_MRENCLAVE,
				       .flags_mask = ~UINT64_C(0),
				       .xfrm_mask = 0,
				       .misc_mask = ~UINT32_C(0) };
	uint8_t kr[ATTEST_KEYREQUEST_SIZE], key[ATTEST_SEAL_KEY_SIZE];
	char *end;
	int c;

	while ((c = rc_getopt(cmd, argc, argv, opts)) != -1) {
		size_t n = c == O_KEY_ID ? strlen(optarg) : 0;
		unsigned long svn = 0;
		switch (c) {
		case O_POLICY:
			if (!strcmp(optarg, "mrenclave"))
				r.key_policy = ATTEST_KEYPOLICY_MRENCLAVE;
			else if (!strcmp(optarg, "mrsigner"))
				r.key_policy = ATTEST_KEYPOLICY_MRSIGNER;
			else
				return rc_failf(cmd, "--policy \"%s\": mrenclave or mrsigner",
						optarg);
			break;
		case O_KEY_ID:
			memset(r.key_id, 0, sizeof(r.key_id));
			if (n % 2 || n > 64 || !cc_hex_decode(optarg, r.key_id, n / 2))
				return rc_failf(cmd, "--key-id: at most 32 bytes in hex expected");
			break;
		case O_ISV_SVN:
			svn = strtoul(optarg, &end, 0);
			if (!*optarg || *end || svn > UINT16_MAX)
				return rc_failf(cmd, "--isv-svn \"%s\": 0 to 65535 expected",
						optarg);
			r.isv_svn = (uint16_t)svn;
			break;
		case O_SOCKET:
			socket = optarg;
			break;
		case RC_OPT_OUTPUT:
			output = optarg;
			break;
		}
	}
	rc_require_operands(cmd, argc, argv, 0);
	attest_keyrequest_encode(&r, kr);
	if (enc_self_seal_key(socket, kr, key, &err) < 0)
		return rc_fail(cmd, err);
	int ret = 0;
	if (output) {
		if (rc_write_output(output, key, sizeof(key), &err) < 0)
			ret = rc_fail(cmd, err);
	} else {
		char hex[2 * ATTEST_SEAL_KEY_SIZE + 1];
		cc_hex_encode(key, sizeof(key), hex);
		printf("%s\n", hex);
		explicit_bzero(hex, sizeof(hex));
	}
	explicit_bzero(key, sizeof(key));
	return ret;
}
