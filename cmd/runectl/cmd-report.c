// SPDX-License-Identifier: Apache-2.0
/* runectl report: decode an SGX REPORT or TARGETINFO file (told apart by their sizes). */
#include <stdlib.h>
#include "enclave/sgx_report.h"
#include "runectl.h"
#include "sgx-struct.h"
#include "util/cleanup.h"
#include "util/json.h"

static int report_main(int argc, char **argv)
{
	enum { O_JSON = RC_OPT_FIRST_FREE };
	static const struct option opts[] = { { "json", no_argument, NULL, O_JSON }, { 0 } };
	struct cc_error *err = NULL;
	uint8_t buf[SGX_TARGETINFO_SIZE];
	bool json = false;
	size_t len;
	uint64_t size;
	int c;
	while ((c = rc_getopt(&rc_cmd_report, argc, argv, opts)) != -1)
		json = json || c == O_JSON;
	rc_require_operands(&rc_cmd_report, argc, argv, 1);
	const char *path = argv[optind];
	if (rc_read_small(path, buf, sizeof(buf), &len, &size, &err) < 0)
		return rc_fail(&rc_cmd_report, err);
	if (size != len) /* longer than a TARGETINFO: its size, not the part read */
		return rc_failf(&rc_cmd_report,
				"%s: %llu bytes: neither a REPORT (%d bytes) nor a TARGETINFO (%d "
				"bytes)",
				path, (unsigned long long)size, SGX_REPORT_SIZE,
				SGX_TARGETINFO_SIZE);
	_cleanup_json_ json_t *j = rc_sgx_struct_json(path, buf, len, &err);
	if (!j)
		return rc_fail(&rc_cmd_report, err);
	if (json) {
		_cleanup_free_ char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		printf("%s\n", s);
	} else {
		rc_sgx_struct_print(stdout, j);
	}
	return 0;
}

const struct rc_cmd rc_cmd_report = {
	"report",
	"decode a REPORT or TARGETINFO file",
	"Print the fields of an SGX REPORT (432 bytes, e.g. from rune attest --report-file) or\n"
	"TARGETINFO (512 bytes, e.g. from runectl gen-qe-target-info) read from FILE",
	"[--json] FILE",
	"   --json                the fields as a JSON object\n",
	report_main,
};
