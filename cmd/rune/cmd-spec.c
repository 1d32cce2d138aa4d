// SPDX-License-Identifier: Apache-2.0
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "rune.h"
#include "util/cleanup.h"
#include "util/fs.h"

static int spec_main(struct rt_context *ctx, int argc, char **argv)
{
	static const struct option opts[] = { { "bundle", required_argument, NULL, 'b' },
					      { "rootless", no_argument, NULL, 'r' },
					      { 0 } };
	const char *bundle = NULL;
	bool rootless = false;
	struct cc_error *err = NULL;
	int c;
	while ((c = cmd_getopt(&cmd_spec, argc, argv, "b:", opts)) != -1) {
		if (c == 'b')
			bundle = optarg;
		else if (c == 'r')
			rootless = true;
	}
	cmd_require_args(&cmd_spec, argc, 0);
	_cleanup_free_ char *path =
	    bundle ? cc_path_join(bundle, "config.json") : xstrdup("config.json");
	if (access(path, F_OK) == 0)
		return cmd_failf("File %s exists. Remove it first", path);
	_cleanup_free_ char *text = rt_spec_default(rootless);
	/* O_EXCL: never clobber a config that appeared meanwhile. */
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
	if (fd < 0 || cc_write_all(fd, text, strlen(text)) < 0) {
		cc_error_errno(&err, "write %s", path);
		return cmd_fail(err);
	}
	return 0;
}

const struct rune_cmd cmd_spec = {
	"spec", "create a new specification file (config.json)", "[options]",
	"   --bundle value, -b value  directory to write config.json into\n"
	"   --rootless                a configuration for a rootless container\n",
	spec_main
};
