// SPDX-License-Identifier: Apache-2.0
/*
 * runectl: the SGX tool. Launch tokens, the quoting enclave's target info and quotes through
 * aesmd (the SGX PSW's service, on /var/run/aesmd/aesm.socket), and decoding of SGX structures.
 *
 *   runectl gen-token --signature FILE [options]          (cmd-gen-token.c)
 *   runectl gen-qe-target-info [options]                  (cmd-gen-qe-target-info.c)
 *   runectl gen-quote --report FILE [options]             (cmd-gen-quote.c)
 *   runectl report [--json] FILE                          (cmd-report.c)
 *   runectl verify-quote [--collateral PATH] [--at TIME] FILE  (cmd-verify-quote.c)
 *   runectl evidence [--report-data HEX] [options]        (cmd-evidence.c)
 *   runectl self-report [--target-info FILE] [options]    (cmd-self-report.c)
 *
 * Errors are one line on stderr, "runectl: COMMAND: why", and exit status 1.
 */
#include <stdio.h>
#include <string.h>
#include "commit.h"
#include "config.h"
#include "runectl.h"
#include "util/cleanup.h"

/* From inside an enclave container, through its attestation service (cmd-evidence.c,
 * cmd-self-report.c). */
extern const struct rc_cmd rc_cmd_evidence;
extern const struct rc_cmd rc_cmd_self_report;
extern const struct rc_cmd rc_cmd_seal_key;

static const struct rc_cmd *const commands[] = {
	&rc_cmd_gen_token,    &rc_cmd_gen_qe_target_info, &rc_cmd_gen_quote,   &rc_cmd_report,
	&rc_cmd_verify_quote, &rc_cmd_evidence,		  &rc_cmd_self_report, &rc_cmd_seal_key,
};

static void usage(FILE *out)
{
	fprintf(out, "Usage: runectl COMMAND [options]\n\n"
		     "The SGX tool: launch tokens, the quoting enclave's target info and quotes\n"
		     "through aesmd, decoding of SGX structures, offline quote verification;\n"
		     "inside an enclave container, the enclave's own REPORT and evidence.\n\n"
		     "Commands:\n");
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(out, "   %-20s %s\n", commands[i]->name, commands[i]->brief);
	fprintf(out, "\nOptions:\n"
		     "   --help, -h           this help (runectl COMMAND --help: a command's)\n"
		     "   --version            the version\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 1;
	}
	const char *name = argv[1];
	if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(name, "--version")) {
		printf("runectl version %s\ncommit: %s\n", RUNE_VERSION, RUNE_COMMIT);
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (!strcmp(name, commands[i]->name)) {
			optind = 1;
			return commands[i]->run(argc - 1, argv + 1);
		}
	if (name[0] == '-')
		fprintf(stderr, "runectl: unknown option %s (runectl --help lists the commands)\n",
			name);
	else
		fprintf(stderr, "runectl: unknown command \"%s\" (runectl --help lists them)\n",
			name);
	return 1;
}
