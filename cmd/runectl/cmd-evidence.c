// SPDX-License-Identifier: Apache-2.0
/*
 * runectl evidence: from inside an enclave container, the enclave's own attestation evidence,
 * through the PAL: the container's init serves attest.sock (lib/enclave/in-enclave.h). For
 * type simulated it is SIMTEE01, signed with the machine's simulated attestation key.
 */
#include <stdlib.h>
#include <string.h>
#include "enclave/in-enclave.h"
#include "runectl.h"
#include "util/cleanup.h"

static int evidence_main(int argc, char **argv);

const struct rc_cmd rc_cmd_evidence = {
	"evidence",
	"this enclave's evidence (inside an enclave container)",
	"From inside an enclave container, get the enclave's attestation evidence through the\n"
	"PAL, with REPORTDATA bound to --report-data: for type simulated, SIMTEE01 signed with\n"
	"the machine's simulated attestation key (never hardware evidence)",
	"[--report-data HEX] [--socket PATH] [--output FILE]",
	"   --report-data HEX     up to 64 bytes bound into the evidence (zero-padded)\n"
	"   --socket PATH         the attestation service (default " ENC_ATTEST_SOCKET ")\n"
	"   --output FILE         where to write it (\"-\": standard output; default "
	"evidence.bin)\n",
	evidence_main,
};

static int evidence_main(int argc, char **argv)
{
	enum { O_REPORT_DATA = RC_OPT_FIRST_FREE, O_SOCKET };
	static const struct option opts[] = {
		{ "report-data", required_argument, NULL, O_REPORT_DATA },
		{ "socket", required_argument, NULL, O_SOCKET },
		{ "output", required_argument, NULL, RC_OPT_OUTPUT },
		{ 0 },
	};
	const struct rc_cmd *cmd = &rc_cmd_evidence;
	struct cc_error *err = NULL;
	const char *output = "evidence.bin", *socket = ENC_ATTEST_SOCKET;
	uint8_t data[64] = { 0 };
	int c;

	while ((c = rc_getopt(cmd, argc, argv, opts)) != -1) {
		if (c == O_REPORT_DATA && enc_report_data_from_hex(optarg, data) < 0)
			return rc_failf(cmd, "--report-data: at most 64 bytes in hex expected");
		if (c == O_SOCKET)
			socket = optarg;
		if (c == RC_OPT_OUTPUT)
			output = optarg;
	}
	rc_require_operands(cmd, argc, argv, 0);
	_cleanup_free_ uint8_t *ev = NULL;
	size_t len = 0;
	if (enc_self_evidence(socket, data, &ev, &len, &err) < 0 ||
	    rc_write_output(output, ev, len, &err) < 0)
		return rc_fail(cmd, err);
	if (strcmp(output, "-") != 0)
		printf("evidence (%zu bytes%s) written to %s\n", len,
		       len >= 8 && !memcmp(ev, "SIMTEE01", 8) ? ", simulated: not hardware evidence"
							      : "",
		       output);
	return 0;
}
