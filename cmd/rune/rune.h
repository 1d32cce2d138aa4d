/* SPDX-License-Identifier: Apache-2.0 */
/* The rune command line: one file per subcommand, each a thin layer over lib/runtime. */
#pragma once

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include "runtime/container.h"
#include "util/error.h"

struct rune_cmd {
	const char *name;
	const char *summary;
	const char *usage;   /* arguments after the command name */
	const char *options; /* help text for the options, may be NULL */
	int (*run)(struct rt_context *ctx, int argc, char **argv);
};

/* Print the command's help (NAME, USAGE, OPTIONS). */
void cmd_usage(const struct rune_cmd *cmd, FILE *out);
/* getopt_long_only with "+" (stop at the first operand, as runc) and -h/--help handling.
 * Returns the option character, -1 at the end, or exits for --help (0) / bad options (1). */
int cmd_getopt(const struct rune_cmd *cmd, int argc, char **argv, const char *shortopts,
	       const struct option *longopts);
/* Require exactly `n` operands after options (n < 0: at least -n). Exits 1 otherwise. */
void cmd_require_args(const struct rune_cmd *cmd, int argc, int n);
/* Print "rune: <msg>" on stderr (and to the log file), free the error, return 1. */
int cmd_fail(struct cc_error *err);
int cmd_failf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print JSON indented by `indent` spaces, then a newline (runc: 2 for state, 4 for
 * features). */
void cmd_print_json(const void *json, int indent);
/* Parse a signal name ("KILL", "SIGKILL") or number. -1 if unknown. */
int cmd_parse_signal(const char *s);
/* Parse sizes like runc's --memory: "512m", "1G", "1024", "-1". */
int cmd_parse_size(const char *s, int64_t *out);

#define DECLARE_CMD(n) extern const struct rune_cmd cmd_##n
DECLARE_CMD(attest);
DECLARE_CMD(spec);
DECLARE_CMD(create);
DECLARE_CMD(start);
DECLARE_CMD(run);
DECLARE_CMD(state);
DECLARE_CMD(kill);
DECLARE_CMD(delete);
DECLARE_CMD(list);
DECLARE_CMD(exec);
DECLARE_CMD(ps);
DECLARE_CMD(pause);
DECLARE_CMD(resume);
DECLARE_CMD(events);
DECLARE_CMD(update);
DECLARE_CMD(features);
