// SPDX-License-Identifier: Apache-2.0
/*
 * runectl gen-token: a launch token (EINITTOKEN) for an enclave, from aesmd's launch enclave.
 * SGX1 platforms without flexible launch control need one to EINIT an enclave not signed by
 * Intel.
 *
 * SIGSTRUCT (Intel SDM vol. 3D, "Enclave Signature Structure"; the SDK's 1808-byte
 * enclave_css_t): HEADER @0 (its first 12 bytes fixed), HEADER2 @24 (16 bytes fixed), MODULUS
 * @128 (384 bytes), ATTRIBUTES @928 (FLAGS u64, XFRM u64), ENCLAVEHASH @960 (MRENCLAVE, 32).
 */
#include <stdlib.h>
#include <string.h>
#include "runectl.h"
#include "util/cleanup.h"

#define SIG_HEADER 0
#define SIG_HEADER2 24
#define SIG_MODULUS 128
#define SIG_ATTRIBUTES 928
#define SIG_ENCLAVEHASH 960

static const uint8_t sig_header[12] = { 0x06, 0, 0, 0, 0xe1, 0, 0, 0, 0, 0, 0x01, 0 };
static const uint8_t sig_header2[16] = { 0x01, 0x01, 0, 0, 0x60, 0, 0, 0,
					 0x60, 0,    0, 0, 0x01, 0, 0, 0 };

/* enclave.sig -> enclave.token, anything else -> anything.token (sgx-tools' default). */
static char *default_token_path(const char *sig)
{
	size_t n = strlen(sig);
	if (n > 4 && !strcmp(sig + n - 4, ".sig"))
		return xasprintf("%.*s.token", (int)(n - 4), sig);
	return xasprintf("%s.token", sig);
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static int gen_token_main(int argc, char **argv)
{
	enum { O_SIGNATURE = RC_OPT_FIRST_FREE, O_ATTRIBUTES, O_XFRM };
	static const struct option opts[] = {
		{ "signature", required_argument, NULL, O_SIGNATURE },
		{ "attributes", required_argument, NULL, O_ATTRIBUTES },
		{ "xfrm", required_argument, NULL, O_XFRM },
		RC_AESM_OPTIONS,
		{ 0 },
	};
	const struct rc_cmd *cmd = &rc_cmd_gen_token;
	struct cc_error *err = NULL;
	struct rc_aesm_args a;
	const char *sig_path = NULL, *flags_arg = NULL, *xfrm_arg = NULL;
	uint8_t sig[SGX_SIGSTRUCT_SIZE], attributes[16];
	uint64_t flags, xfrm;
	int c;

	rc_aesm_args_init(&a, NULL);
	while ((c = rc_getopt(cmd, argc, argv, opts)) != -1) {
		if (rc_aesm_option(cmd, c, optarg, &a))
			continue;
		if (c == O_SIGNATURE)
			sig_path = optarg;
		else if (c == O_ATTRIBUTES)
			flags_arg = optarg;
		else if (c == O_XFRM)
			xfrm_arg = optarg;
	}
	rc_require_operands(cmd, argc, argv, 0);
	if (!sig_path)
		return rc_failf(cmd, "--signature FILE (the enclave's SIGSTRUCT) is required");
	if (flags_arg && rc_parse_u64(flags_arg, &flags) < 0)
		return rc_failf(cmd, "--attributes \"%s\": a 64-bit number expected", flags_arg);
	if (xfrm_arg && rc_parse_u64(xfrm_arg, &xfrm) < 0)
		return rc_failf(cmd, "--xfrm \"%s\": a 64-bit number expected", xfrm_arg);
	if (rc_read_exact(sig_path, sig, sizeof(sig), "SIGSTRUCT", &err) < 0)
		return rc_fail(cmd, err);
	if (memcmp(sig + SIG_HEADER, sig_header, sizeof(sig_header)) != 0 ||
	    memcmp(sig + SIG_HEADER2, sig_header2, sizeof(sig_header2)) != 0)
		return rc_failf(cmd, "%s: not a SIGSTRUCT (its HEADER or HEADER2 is not SGX's)",
				sig_path);

	/* The attributes the enclave will run with: the SIGSTRUCT's unless told otherwise. */
	memcpy(attributes, sig + SIG_ATTRIBUTES, sizeof(attributes));
	if (flags_arg)
		put_le64(attributes, flags);
	if (xfrm_arg)
		put_le64(attributes + 8, xfrm);

	size_t len;
	_cleanup_free_ uint8_t *req = aesm_encode_get_launch_token(
	    sig + SIG_ENCLAVEHASH, sig + SIG_MODULUS, attributes, a.conn.timeout_ms, &len);
	_cleanup_free_ uint8_t *raw = NULL;
	struct aesm_response resp;
	if (aesm_call(&a.conn, AESM_OP_GET_LAUNCH_TOKEN, req, len, &raw, &resp, &err) < 0)
		return rc_fail(cmd, err);

	_cleanup_free_ char *fallback = a.output ? NULL : default_token_path(sig_path);
	const char *out = a.output ? a.output : fallback;
	if (rc_write_output(out, resp.data[AESM_F_TOKEN], resp.len[AESM_F_TOKEN], &err) < 0)
		return rc_fail(cmd, err);
	if (strcmp(out, "-") != 0)
		printf("launch token (%zu bytes) written to %s\n", resp.len[AESM_F_TOKEN], out);
	return 0;
}

const struct rc_cmd rc_cmd_gen_token = {
	"gen-token",
	"a launch token (EINITTOKEN) for an enclave's SIGSTRUCT",
	"Get a launch token (EINITTOKEN, 304 bytes) for the enclave whose SIGSTRUCT is in FILE,\n"
	"from aesmd's launch enclave (SGX platforms without flexible launch control need one)",
	"--signature FILE [options]",
	"   --signature FILE      the enclave's SIGSTRUCT (1808 bytes)\n"
	"   --attributes FLAGS    ATTRIBUTES.FLAGS the enclave runs with (default: the\n"
	"                         SIGSTRUCT's; decimal or 0x hex)\n"
	"   --xfrm XFRM           ATTRIBUTES.XFRM likewise\n" RC_AESM_HELP
	"                         (gen-token's default output: FILE without .sig, plus .token)\n",
	gen_token_main,
};
