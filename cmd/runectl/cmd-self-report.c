// SPDX-License-Identifier: Apache-2.0
/*
 * runectl self-report: from inside an enclave container, the enclave's own REPORT for a target
 * (the PAL's pal_get_local_report, through the container's init: lib/enclave/in-enclave.h).
 */
#include <string.h>
#include "enclave/in-enclave.h"
#include "enclave/sgx_report.h"
#include "runectl.h"

static int self_report_main(int argc, char **argv);

const struct rc_cmd rc_cmd_self_report = {
	"self-report",
	"this enclave's REPORT (inside an enclave container)",
	"From inside an enclave container, get the enclave's REPORT (432 bytes) for the target\n"
	"whose TARGETINFO is in --target-info (default: all zeros), with REPORTDATA bound to\n"
	"--report-data, made by the PAL",
	"[--target-info FILE] [--report-data HEX] [--socket PATH] [--output FILE]",
	"   --target-info FILE    the target's TARGETINFO (512 bytes, e.g. from\n"
	"                         gen-qe-target-info)\n"
	"   --report-data HEX     up to 64 bytes bound into the REPORT (zero-padded)\n"
	"   --socket PATH         the attestation service (default " ENC_ATTEST_SOCKET ")\n"
	"   --output FILE         where to write it (\"-\": standard output; default "
	"report.bin)\n",
	self_report_main,
};

static int self_report_main(int argc, char **argv)
{
	enum { O_TARGET_INFO = RC_OPT_FIRST_FREE, O_REPORT_DATA, O_SOCKET };
	static const struct option opts[] = {
		{ "target-info", required_argument, NULL, O_TARGET_INFO },
		{ "report-data", required_argument, NULL, O_REPORT_DATA },
		{ "socket", required_argument, NULL, O_SOCKET },
		{ "output", required_argument, NULL, RC_OPT_OUTPUT },
		{ 0 },
	};
	const struct rc_cmd *cmd = &rc_cmd_self_report;
	struct cc_error *err = NULL;
	const char *output = "report.bin", *socket = ENC_ATTEST_SOCKET, *ti_path = NULL;
	uint8_t data[SGX_REPORT_DATA_SIZE] = { 0 }, ti[SGX_TARGETINFO_SIZE];
	uint8_t report[SGX_REPORT_SIZE];
	int c;

	while ((c = rc_getopt(cmd, argc, argv, opts)) != -1) {
		if (c == O_REPORT_DATA && enc_report_data_from_hex(optarg, data) < 0)
			return rc_failf(cmd, "--report-data: at most 64 bytes in hex expected");
		if (c == O_TARGET_INFO)
			ti_path = optarg;
		if (c == O_SOCKET)
			socket = optarg;
		if (c == RC_OPT_OUTPUT)
			output = optarg;
	}
	rc_require_operands(cmd, argc, argv, 0);
	if (ti_path && rc_read_exact(ti_path, ti, sizeof(ti), "TARGETINFO", &err) < 0)
		return rc_fail(cmd, err);
	if (enc_self_report(socket, ti_path ? ti : NULL, data, report, &err) < 0 ||
	    rc_write_output(output, report, sizeof(report), &err) < 0)
		return rc_fail(cmd, err);
	if (strcmp(output, "-") != 0) {
		struct sgx_report r;
		memcpy(&r, report, sizeof(r));
		printf("REPORT (%d bytes%s) written to %s\n", SGX_REPORT_SIZE,
		       sgx_report_is_simulated(&r) ? ", simulated" : "", output);
	}
	return 0;
}
