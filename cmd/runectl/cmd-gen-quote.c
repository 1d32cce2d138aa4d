// SPDX-License-Identifier: Apache-2.0
/*
 * runectl gen-quote: a quote of an enclave's REPORT (made for the quoting enclave's
 * TARGETINFO, see gen-qe-target-info), from aesmd's quoting enclave.
 *
 * ECDSA (DCAP): GetQuoteSizeEx, then GetQuoteEx into a buffer of that size. EPID: GetQuote into
 * a 2048-byte buffer. Either answer is a buffer that the quote may not fill: the quote is cut
 * at the length its signature-data length says.
 */
#include <string.h>
#include "enclave/sgx_report.h"
#include "runectl.h"
#include "util/cleanup.h"

/* The quote's own length: header and body, the u32 signature-data length, the signature data.
 * Versions 3 and 4 (SGX body) keep that length at 432; version 5 puts a body descriptor (u16
 * type, u32 size) after the 48-byte header. 0 when buf cannot hold what it announces. */
static size_t quote_length(const uint8_t *q, size_t len)
{
	size_t at = SGX_QUOTE_SIG_LEN_OFFSET;
	if (len >= 54 && rc_le16(q) == 5) {
		uint32_t body = rc_le32(q + 50);
		if (body > len)
			return 0;
		at = 54 + (size_t)body;
	}
	if (len < at + 4 || rc_le32(q + at) > len - at - 4)
		return 0;
	return at + 4 + rc_le32(q + at);
}

static int quote_ecdsa(const struct rc_aesm_args *a, const uint8_t report[SGX_REPORT_SIZE],
		       uint8_t **quote, size_t *quote_len, struct cc_error **err)
{
	uint8_t id[SGX_ATT_KEY_ID_SIZE];
	struct aesm_response resp;
	size_t len;

	aesm_ecdsa_att_key_id(id);
	_cleanup_free_ uint8_t *size_req =
	    aesm_encode_get_quote_size_ex(id, a->conn.timeout_ms, &len);
	_cleanup_free_ uint8_t *size_raw = NULL;
	if (aesm_call(&a->conn, AESM_OP_GET_QUOTE_SIZE_EX, size_req, len, &size_raw, &resp, err) <
	    0)
		return -1;
	uint32_t size = (uint32_t)resp.num[AESM_F_QUOTE_SIZE];

	_cleanup_free_ uint8_t *req =
	    aesm_encode_get_quote_ex(report, id, size, a->conn.timeout_ms, &len);
	_cleanup_free_ uint8_t *raw = NULL;
	if (aesm_call(&a->conn, AESM_OP_GET_QUOTE_EX, req, len, &raw, &resp, err) < 0)
		return -1;
	if (resp.len[AESM_F_QUOTE] > size)
		return cc_error_set(err, 0,
				    "aesmd's GetQuoteEx response: quote: %zu bytes, more than the "
				    "%u it announced",
				    resp.len[AESM_F_QUOTE], size);
	*quote = xmalloc(resp.len[AESM_F_QUOTE]);
	memcpy(*quote, resp.data[AESM_F_QUOTE], resp.len[AESM_F_QUOTE]);
	*quote_len = resp.len[AESM_F_QUOTE];
	return 0;
}

static int quote_epid(const struct rc_aesm_args *a, const uint8_t report[SGX_REPORT_SIZE],
		      const uint8_t spid[SGX_SPID_SIZE], bool linkable, uint8_t **quote,
		      size_t *quote_len, struct cc_error **err)
{
	struct aesm_response resp;
	size_t len;
	_cleanup_free_ uint8_t *req = aesm_encode_get_quote(
	    report, linkable, spid, SGX_EPID_QUOTE_BUF, a->conn.timeout_ms, &len);
	_cleanup_free_ uint8_t *raw = NULL;
	if (aesm_call(&a->conn, AESM_OP_GET_QUOTE, req, len, &raw, &resp, err) < 0)
		return -1;
	if (resp.len[AESM_F_QUOTE] > SGX_EPID_QUOTE_BUF)
		return cc_error_set(err, 0,
				    "aesmd's GetQuote response: quote: %zu bytes, more than the %d "
				    "asked for",
				    resp.len[AESM_F_QUOTE], SGX_EPID_QUOTE_BUF);
	*quote = xmalloc(resp.len[AESM_F_QUOTE]);
	memcpy(*quote, resp.data[AESM_F_QUOTE], resp.len[AESM_F_QUOTE]);
	*quote_len = resp.len[AESM_F_QUOTE];
	return 0;
}

static int gen_quote_main(int argc, char **argv)
{
	enum { O_REPORT = RC_OPT_FIRST_FREE, O_QUOTE_TYPE, O_SPID, O_LINKABLE };
	static const struct option opts[] = {
		{ "report", required_argument, NULL, O_REPORT },
		{ "quote-type", required_argument, NULL, O_QUOTE_TYPE },
		{ "spid", required_argument, NULL, O_SPID },
		{ "linkable", no_argument, NULL, O_LINKABLE },
		RC_AESM_OPTIONS,
		{ 0 },
	};
	const struct rc_cmd *cmd = &rc_cmd_gen_quote;
	struct cc_error *err = NULL;
	struct rc_aesm_args a;
	const char *report_path = NULL, *spid_arg = NULL, *type_arg = NULL;
	uint8_t report[SGX_REPORT_SIZE], spid[SGX_SPID_SIZE];
	bool linkable = false;
	int c;

	rc_aesm_args_init(&a, "quote.bin");
	while ((c = rc_getopt(cmd, argc, argv, opts)) != -1) {
		if (rc_aesm_option(cmd, c, optarg, &a))
			continue;
		if (c == O_REPORT)
			report_path = optarg;
		else if (c == O_QUOTE_TYPE)
			type_arg = optarg;
		else if (c == O_SPID)
			spid_arg = optarg;
		else if (c == O_LINKABLE)
			linkable = true;
	}
	rc_require_operands(cmd, argc, argv, 0);
	/* Without --quote-type, an SPID means EPID. */
	enum rc_quote_type type = type_arg   ? rc_parse_quote_type(cmd, type_arg)
				  : spid_arg ? RC_QUOTE_EPID
					     : RC_QUOTE_ECDSA;
	if (!report_path)
		return rc_failf(cmd, "--report FILE (the enclave's REPORT) is required");
	if (type == RC_QUOTE_ECDSA && (spid_arg || linkable))
		return rc_failf(cmd, "--spid and --linkable are for EPID quotes");
	if (type == RC_QUOTE_EPID && !spid_arg)
		return rc_failf(cmd, "an EPID quote needs --spid (32 hex digits)");
	if (spid_arg && rc_unhex(spid_arg, spid, sizeof(spid)) < 0)
		return rc_failf(cmd, "--spid \"%s\": 32 hex digits (16 bytes) expected", spid_arg);
	if (rc_read_exact(report_path, report, sizeof(report), "REPORT", &err) < 0)
		return rc_fail(cmd, err);
	struct sgx_report r;
	memcpy(&r, report, sizeof(r));
	if (sgx_report_is_simulated(&r))
		return rc_failf(cmd,
				"%s: a simulated REPORT (the skeleton PAL's): no quoting enclave "
				"can verify it",
				report_path);

	_cleanup_free_ uint8_t *quote = NULL;
	size_t len = 0;
	if ((type == RC_QUOTE_ECDSA
		 ? quote_ecdsa(&a, report, &quote, &len, &err)
		 : quote_epid(&a, report, spid, linkable, &quote, &len, &err)) < 0)
		return rc_fail(cmd, err);
	size_t n = quote_length(quote, len);
	if (!n)
		return rc_failf(cmd,
				"aesmd's quote (%zu bytes) is shorter than its signature-data "
				"length says",
				len);
	if (rc_write_output(a.output, quote, n, &err) < 0)
		return rc_fail(cmd, err);
	if (strcmp(a.output, "-") != 0)
		printf("%s quote (%zu bytes, version %u) written to %s\n",
		       type == RC_QUOTE_ECDSA ? "ECDSA" : "EPID", n, rc_le16(quote), a.output);
	return 0;
}

const struct rc_cmd rc_cmd_gen_quote = {
	"gen-quote",
	"a quote (ECDSA or EPID) of an enclave's REPORT",
	"Turn an enclave's REPORT (made for the quoting enclave's TARGETINFO) into a quote, with\n"
	"aesmd's quoting enclave",
	"--report FILE [options]",
	"   --report FILE         the REPORT (432 bytes)\n"
	"   --quote-type TYPE     ecdsa (DCAP) or epid (default: epid with --spid, else ecdsa)\n"
	"   --spid HEX            EPID: the service provider id (32 hex digits)\n"
	"   --linkable            EPID: a linkable quote (default unlinkable)\n" RC_AESM_HELP
	"                         (default output: quote.bin)\n",
	gen_quote_main,
};
