// SPDX-License-Identifier: Apache-2.0
/*
 * runectl gen-qe-target-info: the quoting enclave's TARGETINFO, which an enclave needs to make
 * the REPORT that gen-quote turns into a quote.
 *
 * ECDSA (DCAP): InitQuoteEx twice, as sgx_init_quote_ex does: first without b_pub_key_id for
 * the size of the QE's pub_key_id, then with a buffer of that size for the target info and
 * the pub_key_id. EPID: InitQuote (target info and the EPID group id).
 */
#include <string.h>
#include "enclave/sgx_report.h"
#include "runectl.h"
#include "util/cleanup.h"

static int qe_ecdsa(const struct rc_aesm_args *a, uint8_t ti[SGX_TARGETINFO_SIZE],
		    struct cc_error **err)
{
	uint8_t id[SGX_ATT_KEY_ID_SIZE];
	struct aesm_response resp;
	size_t len;

	aesm_ecdsa_att_key_id(id);
	_cleanup_free_ uint8_t *size_req =
	    aesm_encode_init_quote_ex(id, false, 0, a->conn.timeout_ms, &len);
	_cleanup_free_ uint8_t *size_raw = NULL;
	if (aesm_call(&a->conn, AESM_OP_INIT_QUOTE_EX, size_req, len, &size_raw, &resp, err) < 0 ||
	    aesm_response_require(&resp, AESM_F_PUB_KEY_ID_SIZE, err) < 0)
		return -1;
	uint64_t pub_key_id_size = resp.num[AESM_F_PUB_KEY_ID_SIZE];

	_cleanup_free_ uint8_t *req =
	    aesm_encode_init_quote_ex(id, true, pub_key_id_size, a->conn.timeout_ms, &len);
	_cleanup_free_ uint8_t *raw = NULL;
	if (aesm_call(&a->conn, AESM_OP_INIT_QUOTE_EX, req, len, &raw, &resp, err) < 0 ||
	    aesm_response_require(&resp, AESM_F_TARGET_INFO, err) < 0)
		return -1;
	if (resp.has[AESM_F_PUB_KEY_ID] && resp.len[AESM_F_PUB_KEY_ID] > pub_key_id_size)
		return cc_error_set(err, 0,
				    "aesmd's InitQuoteEx response: pub_key_id: %zu bytes, more "
				    "than the %llu it announced",
				    resp.len[AESM_F_PUB_KEY_ID],
				    (unsigned long long)pub_key_id_size);
	memcpy(ti, resp.data[AESM_F_TARGET_INFO], SGX_TARGETINFO_SIZE);
	return 0;
}

static int qe_epid(const struct rc_aesm_args *a, uint8_t ti[SGX_TARGETINFO_SIZE],
		   struct cc_error **err)
{
	struct aesm_response resp;
	size_t len;
	_cleanup_free_ uint8_t *req = aesm_encode_init_quote(a->conn.timeout_ms, &len);
	_cleanup_free_ uint8_t *raw = NULL;
	if (aesm_call(&a->conn, AESM_OP_INIT_QUOTE, req, len, &raw, &resp, err) < 0)
		return -1;
	memcpy(ti, resp.data[AESM_F_TARGET_INFO], SGX_TARGETINFO_SIZE);
	if (resp.has[AESM_F_GID]) {
		const uint8_t *g = resp.data[AESM_F_GID];
		fprintf(stderr, "EPID group id: %02x%02x%02x%02x\n", g[0], g[1], g[2], g[3]);
	}
	return 0;
}

static int gen_qe_target_info_main(int argc, char **argv)
{
	enum { O_QUOTE_TYPE = RC_OPT_FIRST_FREE };
	static const struct option opts[] = {
		{ "quote-type", required_argument, NULL, O_QUOTE_TYPE },
		RC_AESM_OPTIONS,
		{ 0 },
	};
	const struct rc_cmd *cmd = &rc_cmd_gen_qe_target_info;
	enum rc_quote_type type = RC_QUOTE_ECDSA;
	struct cc_error *err = NULL;
	struct rc_aesm_args a;
	uint8_t ti[SGX_TARGETINFO_SIZE];
	int c;

	rc_aesm_args_init(&a, "qe_targetinfo.bin");
	while ((c = rc_getopt(cmd, argc, argv, opts)) != -1) {
		if (!rc_aesm_option(cmd, c, optarg, &a) && c == O_QUOTE_TYPE)
			type = rc_parse_quote_type(cmd, optarg);
	}
	rc_require_operands(cmd, argc, argv, 0);
	if ((type == RC_QUOTE_ECDSA ? qe_ecdsa(&a, ti, &err) : qe_epid(&a, ti, &err)) < 0 ||
	    rc_write_output(a.output, ti, sizeof(ti), &err) < 0)
		return rc_fail(cmd, err);
	if (strcmp(a.output, "-") != 0)
		printf("%s quoting enclave's TARGETINFO (%d bytes) written to %s\n",
		       type == RC_QUOTE_ECDSA ? "ECDSA" : "EPID", SGX_TARGETINFO_SIZE, a.output);
	return 0;
}

const struct rc_cmd rc_cmd_gen_qe_target_info = {
	"gen-qe-target-info",
	"the quoting enclave's TARGETINFO",
	"Get the quoting enclave's TARGETINFO (512 bytes) from aesmd: the target of the REPORT\n"
	"that gen-quote turns into a quote",
	"[options]",
	"   --quote-type TYPE     ecdsa (DCAP, the default) or epid\n" RC_AESM_HELP
	"                         (default output: qe_targetinfo.bin)\n",
	gen_qe_target_info_main,
};
