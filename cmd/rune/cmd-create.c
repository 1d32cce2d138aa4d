// SPDX-License-Identifier: Apache-2.0
#include <stdlib.h>
#include "rune.h"

enum {
	OPT_BUNDLE = 1000,
	OPT_PID_FILE,
	OPT_CONSOLE,
	OPT_NO_PIVOT,
	OPT_NO_KEYRING,
	OPT_PRESERVE,
	OPT_DETACH,
	OPT_KEEP,
	OPT_NO_SUBREAPER
};

static const struct option opts[] = {
	{ "bundle", required_argument, NULL, 'b' },
	{ "pid-file", required_argument, NULL, OPT_PID_FILE },
	{ "console-socket", required_argument, NULL, OPT_CONSOLE },
	{ "no-pivot", no_argument, NULL, OPT_NO_PIVOT },
	{ "no-new-keyring", no_argument, NULL, OPT_NO_KEYRING },
	{ "preserve-fds", required_argument, NULL, OPT_PRESERVE },
	{ "detach", no_argument, NULL, 'd' },
	{ "keep", no_argument, NULL, OPT_KEEP },
	{ "no-subreaper", no_argument, NULL, OPT_NO_SUBREAPER },
	{ 0 },
};

#define CREATE_OPTIONS                                                                   \
	"   --bundle value, -b value  path to the bundle (default: current directory)\n" \
	"   --console-socket value    AF_UNIX socket that receives the pty master\n"     \
	"   --pid-file value          file to write the container's pid to\n"            \
	"   --no-pivot                do not use pivot_root (for ramdisk roots)\n"       \
	"   --no-new-keyring          keep the calling session keyring\n"                \
	"   --preserve-fds value      pass N extra fds (from 3) to the container\n"

/* Parses create/run options; `run` adds --detach. Returns the container id. */
static const char *parse(const struct rune_cmd *cmd, int argc, char **argv,
			 struct rt_create_opts *o)
{
	int c;
	char *end;
	while ((c = cmd_getopt(cmd, argc, argv, "b:d", opts)) != -1) {
		switch (c) {
		case 'b':
			o->bundle = optarg;
			break;
		case OPT_PID_FILE:
			o->pid_file = optarg;
			break;
		case OPT_CONSOLE:
			o->console_socket = optarg;
			break;
		case OPT_NO_PIVOT:
			o->no_pivot = true;
			break;
		case OPT_NO_KEYRING:
			o->no_new_keyring = true;
			break;
		case OPT_PRESERVE:
			o->preserve_fds = (unsigned)strtoul(optarg, &end, 10);
			if (*end || o->preserve_fds > 4096)
				exit(cmd_failf("--preserve-fds: invalid number \"%s\"", optarg));
			break;
		case 'd':
			if (cmd == &cmd_create)
				exit(cmd_failf("create: unknown option --detach"));
			o->detach = true;
			break;
		default:
			break;
		}
	}
	cmd_require_args(cmd, argc, 1);
	return argv[optind];
}

static int create_main(struct rt_context *ctx, int argc, char **argv)
{
	struct rt_create_opts o = { 0 };
	struct cc_error *err = NULL;
	o.id = parse(&cmd_create, argc, argv, &o);
	if (rt_container_create(ctx, &o, &err) < 0)
		return cmd_fail(err);
	return 0;
}

static int run_main(struct rt_context *ctx, int argc, char **argv)
{
	struct rt_create_opts o = { 0 };
	struct cc_error *err = NULL;
	int status = 0;
	o.id = parse(&cmd_run, argc, argv, &o);
	if (rt_container_run(ctx, &o, &status, &err) < 0)
		return cmd_fail(err);
	return status;
}

const struct rune_cmd cmd_create = {
	.name = "create",
	.summary = "create a container",
	.usage = "[options] <container-id>",
	.options = CREATE_OPTIONS,
	.run = create_main,
};

const struct rune_cmd cmd_run = {
	.name = "run",
	.summary = "create and run a container",
	.usage = "[options] <container-id>",
	.options =
	    CREATE_OPTIONS "   --detach, -d              detach from the container's process\n",
	.run = run_main,
};
