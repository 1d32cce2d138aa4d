// SPDX-License-Identifier: Apache-2.0
/* The small lifecycle commands: start, state, kill, delete, pause, resume. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include "rune.h"
#include "util/cleanup.h"
#include "util/json.h"

static int start_main(struct rt_context *ctx, int argc, char **argv)
{
	struct cc_error *err = NULL;
	while (cmd_getopt(&cmd_start, argc, argv, "", NULL) != -1)
		;
	cmd_require_args(&cmd_start, argc, 1);
	if (rt_container_start(ctx, argv[optind], &err) < 0)
		return cmd_fail(err);
	return 0;
}

static int state_main(struct rt_context *ctx, int argc, char **argv)
{
	struct cc_error *err = NULL;
	while (cmd_getopt(&cmd_state, argc, argv, "", NULL) != -1)
		;
	cmd_require_args(&cmd_state, argc, 1);
	_cleanup_json_ json_t *j = rt_container_state(ctx, argv[optind], &err);
	if (!j)
		return cmd_fail(err);
	/* Exactly runc's bytes: two-space indent and no newline at the end. */
	_cleanup_free_ char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputs(s, stdout);
	return 0;
}

static int kill_main(struct rt_context *ctx, int argc, char **argv)
{
	static const struct option opts[] = { { "all", no_argument, NULL, 'a' }, { 0 } };
	struct cc_error *err = NULL;
	bool all = false;
	int c, sig = SIGTERM;
	while ((c = cmd_getopt(&cmd_kill, argc, argv, "a", opts)) != -1)
		if (c == 'a')
			all = true;
	cmd_require_args(&cmd_kill, argc, -1);
	if (argc - optind > 2)
		return cmd_failf("kill: too many arguments");
	if (argc - optind == 2 && (sig = cmd_parse_signal(argv[optind + 1])) < 0)
		return cmd_failf("unknown signal \"%s\"", argv[optind + 1]);
	if (rt_container_kill(ctx, argv[optind], sig, all, &err) < 0)
		return cmd_fail(err);
	return 0;
}

static int delete_main(struct rt_context *ctx, int argc, char **argv)
{
	static const struct option opts[] = { { "force", no_argument, NULL, 'f' }, { 0 } };
	struct cc_error *err = NULL;
	bool force = false;
	int c;
	while ((c = cmd_getopt(&cmd_delete, argc, argv, "f", opts)) != -1)
		if (c == 'f')
			force = true;
	cmd_require_args(&cmd_delete, argc, 1);
	if (rt_container_delete(ctx, argv[optind], force, &err) < 0)
		return cmd_fail(err);
	return 0;
}

static int freeze(const struct rune_cmd *cmd, struct rt_context *ctx, int argc, char **argv,
		  bool pause)
{
	struct cc_error *err = NULL;
	while (cmd_getopt(cmd, argc, argv, "", NULL) != -1)
		;
	cmd_require_args(cmd, argc, 1);
	if (rt_container_pause(ctx, argv[optind], pause, &err) < 0)
		return cmd_fail(err);
	return 0;
}

static int pause_main(struct rt_context *ctx, int argc, char **argv)
{
	return freeze(&cmd_pause, ctx, argc, argv, true);
}

static int resume_main(struct rt_context *ctx, int argc, char **argv)
{
	return freeze(&cmd_resume, ctx, argc, argv, false);
}

const struct rune_cmd cmd_start = { "start", "start a created container", "<container-id>", NULL,
				    start_main };
const struct rune_cmd cmd_state = { "state", "output the state of a container", "<container-id>",
				    NULL, state_main };
const struct rune_cmd cmd_kill = {
	"kill", "send a signal to the container's init process",
	"[options] <container-id> [signal]",
	"   --all, -a                send the signal to all processes in the container\n", kill_main
};
const struct rune_cmd cmd_delete = { "delete", "delete a container and its resources",
				     "[options] <container-id>",
				     "   --force, -f              kill a running container first\n",
				     delete_main };
const struct rune_cmd cmd_pause = { "pause", "suspend all processes of a container",
				    "<container-id>", NULL, pause_main };
const struct rune_cmd cmd_resume = { "resume", "resume a paused container", "<container-id>", NULL,
				     resume_main };
