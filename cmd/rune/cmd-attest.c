// SPDX-License-Identifier: Apache-2.0
/* rune attest: an enclave container's local SGX REPORT, fetched through its init. */
#include <stdio.h>
#include <string.h>
#include "enclave/enclave.h"
#include "enclave/sgx_report.h"
#include "rune.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/hex.h"
#include "util/json.h"

/* Up to max bytes from an even number of hex digits (a shorter value is zero-padded). */
static int hex_to_bytes(const char *hex, uint8_t *out, size_t max)
{
	size_t n = strlen(hex);
	if (n % 2 || n / 2 > max)
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		int hi = cc_hex_digit(hex[2 * i]), lo = cc_hex_digit(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static void set_hex(json_t *j, const char *key, const uint8_t *b, size_t n)
{
	_cleanup_free_ char *s = cc_hex(b, n);
	json_object_set_new(j, key, json_string(s));
}

/* The fields a verifier looks at first, and whether this is hardware evidence at all. */
static json_t *report_json(const uint8_t raw[SGX_REPORT_SIZE])
{
	struct sgx_report r;
	memcpy(&r, raw, sizeof(r));
	bool sim = sgx_report_is_simulated(&r);
	json_t *j = json_pack("{s:s,s:b,s:{s:I,s:I,s:b},s:i,s:i}", "type",
			      sim ? "simulated (not hardware evidence)" : "sgx", "simulated", sim,
			      "attributes", "flags", (json_int_t)r.body.attributes.flags, "xfrm",
			      (json_int_t)r.body.attributes.xfrm, "debug",
			      (r.body.attributes.flags & SGX_FLAGS_DEBUG) != 0, "isv_prod_id",
			      r.body.isv_prod_id, "isv_svn", r.body.isv_svn);
	set_hex(j, "mr_enclave", r.body.mr_enclave, sizeof(r.body.mr_enclave));
	set_hex(j, "mr_signer", r.body.mr_signer, sizeof(r.body.mr_signer));
	set_hex(j, "report_data", r.body.report_data, sizeof(r.body.report_data));
	set_hex(j, "report", raw, SGX_REPORT_SIZE);
	return j;
}

static int attest_main(struct rt_context *ctx, int argc, char **argv)
{
	static const struct option opts[] = { { "report-data", required_argument, NULL, 'd' },
					      { "target-info", required_argument, NULL, 't' },
					      { "report-file", required_argument, NULL, 'o' },
					      { 0 } };
	struct cc_error *err = NULL;
	uint8_t data[SGX_REPORT_DATA_SIZE] = { 0 }, report[SGX_REPORT_SIZE];
	_cleanup_free_ uint8_t *ti = NULL;
	const char *out = NULL;
	size_t len;
	int c;
	while ((c = cmd_getopt(&cmd_attest, argc, argv, "", opts)) != -1) {
		if (c == 'd' && hex_to_bytes(optarg, data, sizeof(data)) < 0)
			return cmd_failf("--report-data: at most %d bytes in hex expected",
					 SGX_REPORT_DATA_SIZE);
		if (c == 't') {
			ti = (uint8_t *)cc_read_file(optarg, SGX_TARGETINFO_SIZE + 1, &len, &err);
			if (!ti)
				return cmd_fail(err);
			if (len != SGX_TARGETINFO_SIZE)
				return cmd_failf("--target-info %s: %zu bytes, a TARGETINFO has %d",
						 optarg, len, SGX_TARGETINFO_SIZE);
		}
		if (c == 'o')
			out = optarg;
	}
	cmd_require_args(&cmd_attest, argc, 1);
	if (enc_container_attest(ctx, argv[optind], data, ti, report, &err) < 0)
		return cmd_fail(err);
	if (out && cc_write_file_atomic(out, report, sizeof(report), 0644, &err) < 0)
		return cmd_fail(err);
	_cleanup_json_ json_t *j = report_json(report);
	cmd_print_json(j, 2);
	return 0;
}

const struct rune_cmd cmd_attest = {
	"attest", "get the local report of an enclave container's enclave",
	"[options] <container-id>",
	"   --report-data HEX        up to 64 bytes bound into the report (REPORTDATA)\n"
	"   --target-info FILE       the 512-byte TARGETINFO of the report's target (default: "
	"zeros)\n"
	"   --report-file FILE       also write the raw 432-byte REPORT to FILE\n",
	attest_main
};
