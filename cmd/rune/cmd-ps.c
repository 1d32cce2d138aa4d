// SPDX-License-Identifier: Apache-2.0
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "rune.h"
#include "util/cleanup.h"
#include "util/json.h"
#include "util/strv.h"

static bool has_pid(const pid_t *pids, size_t n, long pid)
{
	for (size_t i = 0; i < n; i++)
		if (pids[i] == pid)
			return true;
	return false;
}

/* The numeric value of the idx-th whitespace-separated field of line, -1 if absent. */
static long field_at(const char *line, int idx)
{
	_cleanup_free_ char *copy = xstrdup(line);
	char *save = NULL;
	char *t = strtok_r(copy, " \t", &save);
	for (int i = 0; t && i < idx; i++)
		t = strtok_r(NULL, " \t", &save);
	return t ? strtol(t, NULL, 10) : -1;
}

/* Run ps(1) with the user's arguments and keep the header plus the container's rows. */
static int ps_table(char **ps_args, const pid_t *pids, size_t n)
{
	_cleanup_strv_ char **argv = NULL;
	cc_strv_push(&argv, "ps");
	if (!ps_args || !ps_args[0])
		cc_strv_push(&argv, "-ef");
	for (size_t i = 0; ps_args && ps_args[i]; i++)
		cc_strv_push(&argv, ps_args[i]);
	_cleanup_free_ char *cmd = cc_strv_join(argv, "' '");
	_cleanup_free_ char *shell = xasprintf("'%s'", cmd);
	FILE *f = popen(shell, "r");
	if (!f)
		return cmd_failf("ps: cannot run ps");
	char *line = NULL;
	size_t cap = 0;
	int pid_col = -1;
	while (getline(&line, &cap, f) > 0) {
		if (pid_col < 0) {
			_cleanup_strv_ char **cols = cc_strv_split(line, ' ');
			int idx = 0;
			for (size_t i = 0; cols[i]; i++) {
				if (!*cols[i])
					continue;
				if (!strncmp(cols[i], "PID", 3) &&
				    (cols[i][3] == '\0' || cols[i][3] == '\n'))
					pid_col = idx;
				idx++;
			}
			if (pid_col < 0) {
				free(line);
				pclose(f);
				return cmd_failf("ps: couldn't find PID field in ps output");
			}
			fputs(line, stdout);
			continue;
		}
		long pid = field_at(line, pid_col);
		if (has_pid(pids, n, pid))
			fputs(line, stdout);
	}
	free(line);
	return pclose(f) == 0 ? 0 : 1;
}

static int ps_main(struct rt_context *ctx, int argc, char **argv)
{
	static const struct option opts[] = { { "format", required_argument, NULL, 'f' }, { 0 } };
	struct cc_error *err = NULL;
	const char *format = "table";
	int c;
	while ((c = cmd_getopt(&cmd_ps, argc, argv, "f:", opts)) != -1)
		if (c == 'f')
			format = optarg;
	cmd_require_args(&cmd_ps, argc, -1);
	if (strcmp(format, "table") && strcmp(format, "json"))
		return cmd_failf("invalid format option \"%s\"", format);
	_cleanup_free_ pid_t *pids = NULL;
	size_t n = 0;
	if (rt_container_pids(ctx, argv[optind], &pids, &n, &err) < 0)
		return cmd_fail(err);
	if (!strcmp(format, "json")) {
		if (argc - optind > 1)
			return cmd_failf("ps: options to ps are not supported with --format json");
		_cleanup_json_ json_t *a = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(a, json_integer(pids[i]));
		char *s = json_dumps(a, JSON_COMPACT);
		printf("%s\n", s);
		free(s);
		return 0;
	}
	return ps_table(argv + optind + 1, pids, n);
}

const struct rune_cmd cmd_ps = {
	"ps", "display the processes running inside a container",
	"[options] <container-id> [ps options]",
	"   --format value, -f value  table or json (default: \"table\")\n", ps_main
};
