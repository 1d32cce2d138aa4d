/* SPDX-License-Identifier: Apache-2.0 */
/* runectl, the SGX tool: one file per subcommand (cmd-*.c), the shared helpers in common.c. */
#pragma once

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "aesm-client.h"
#include "util/error.h"

struct rc_cmd {
	const char *name;
	const char *brief;   /* one line for runectl --help */
	const char *summary; /* the first paragraph of the command's help */
	const char *usage;   /* what follows the command name */
	const char *options; /* help text of the options */
	int (*run)(int argc, char **argv);
};

extern const struct rc_cmd rc_cmd_gen_token;
extern const struct rc_cmd rc_cmd_gen_qe_target_info;
extern const struct rc_cmd rc_cmd_gen_quote;
extern const struct rc_cmd rc_cmd_report;
extern const struct rc_cmd rc_cmd_verify_quote;

void rc_usage(const struct rc_cmd *cmd, FILE *out);
/* getopt_long over argv (argv[0] is the command name; options may follow operands, "--" ends
 * them) and --help/-h: the option's value, or -1 at the end. --help prints the command's help
 * and exits 0; an unknown option or a missing value prints one line ("runectl: gen-quote:
 * unknown option --x") and exits 1. */
int rc_getopt(const struct rc_cmd *cmd, int argc, char **argv, const struct option *longopts);
/* Exactly n operands after the options: else one line and exit 1. */
void rc_require_operands(const struct rc_cmd *cmd, int argc, char **argv, int n);
/* "runectl: COMMAND: message" on stderr, once; frees err; returns 1 (the exit status). */
int rc_fail(const struct rc_cmd *cmd, struct cc_error *err);
int rc_failf(const struct rc_cmd *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The options of the commands that talk to aesmd. */
enum { RC_OPT_AESM_SOCKET = 0x100, RC_OPT_TIMEOUT, RC_OPT_OUTPUT, RC_OPT_FIRST_FREE };
#define RC_AESM_OPTIONS                                                 \
	{ "aesm-socket", required_argument, NULL, RC_OPT_AESM_SOCKET }, \
	    { "timeout", required_argument, NULL, RC_OPT_TIMEOUT },     \
	{                                                               \
		"output", required_argument, NULL, RC_OPT_OUTPUT        \
	}
#define RC_AESM_HELP                                                                  \
	"   --output FILE         where to write it (\"-\": standard output)\n"       \
	"   --aesm-socket PATH    aesmd's socket (default " AESM_SOCKET_DEFAULT ")\n" \
	"   --timeout SECONDS     how long each exchange with aesmd may take (default 60)\n"

struct rc_aesm_args {
	struct aesm_conn conn;
	const char *output;
};
void rc_aesm_args_init(struct rc_aesm_args *a, const char *default_output);
/* Takes c if it is one of RC_AESM_OPTIONS: 1; 0 if it is not; exits 1 on a bad value. */
int rc_aesm_option(const struct rc_cmd *cmd, int c, const char *arg, struct rc_aesm_args *a);

/* --quote-type: "ecdsa" (DCAP, the default) or "epid"; exits 1 on another value. */
enum rc_quote_type { RC_QUOTE_ECDSA, RC_QUOTE_EPID };
enum rc_quote_type rc_parse_quote_type(const struct rc_cmd *cmd, const char *arg);

/* A small file read whole: at most max bytes into buf. *len is what was read; *more is set
 * when the file is longer, and *size is its size (st_size for a regular file, else what was
 * read, plus one when there is more). */
CC_MUST_CHECK int rc_read_small(const char *path, uint8_t *buf, size_t max, size_t *len,
				uint64_t *size, struct cc_error **err);
/* Exactly `size` bytes of an SGX structure called `what`: "PATH: 431 bytes, a REPORT has 432". */
CC_MUST_CHECK int rc_read_exact(const char *path, uint8_t *buf, size_t size, const char *what,
				struct cc_error **err);
/* Write an output: "-" is standard output, else a file replaced atomically (0644). */
CC_MUST_CHECK int rc_write_output(const char *path, const void *data, size_t len,
				  struct cc_error **err);

/* Lower-case hex of n bytes; the caller frees. */
char *rc_hex(const uint8_t *b, size_t n);
/* Exactly 2n hex digits into out[n]: 0, else -1. */
int rc_unhex(const char *text, uint8_t *out, size_t n);
/* A whole string as an unsigned number (decimal, or 0x hex): 0, else -1. */
int rc_parse_u64(const char *text, uint64_t *out);
uint16_t rc_le16(const uint8_t *p);
uint32_t rc_le32(const uint8_t *p);
uint64_t rc_le64(const uint8_t *p);
