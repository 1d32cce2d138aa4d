// SPDX-License-Identifier: Apache-2.0
/* Fuzz what the shim parses from its settings file and from containerd's stdio URIs: the input
 * is the settings JSON, then (after a NUL byte) a stdio URI. Settings that parse have absolute
 * paths where the shim needs them; a logging binary's argv starts with an absolute path;
 * every failure says why on one line. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "shim.h"
#include "util/strv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_error(struct cc_error **err)
{
	if (!*err || !(*err)->msg || strchr((*err)->msg, '\n'))
		abort();
	cc_error_free(err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t json_len = nul ? (size_t)(nul - data) : size;
	struct shim_runtime rt = { 0 };
	struct cc_error *err = NULL;
	if (shim_settings_parse(&rt, "shim.json", (const char *)data, json_len, &err) < 0) {
		check_error(&err);
	} else if ((rt.root && rt.root[0] != '/') ||
		   (rt.agent_bundle && (rt.agent_bundle[0] != '/' || !rt.agent_root ||
					rt.agent_root[0] != '/' || !rt.agent_ctl))) {
		abort();
	}
	shim_runtime_clear(&rt);
	if (!nul)
		return 0;
	char *uri = strndup((const char *)nul + 1, size - json_len - 1);
	const char *path;
	const char *scheme = shim_stdio_scheme(uri, &path);
	if (scheme && !strcmp(scheme, "binary")) {
		char **argv = NULL;
		if (shim_logger_argv(path, &argv, &err) < 0) {
			check_error(&err);
		} else {
			if (!argv || !argv[0] || argv[0][0] != '/')
				abort();
			cc_strv_free(argv);
		}
	}
	free(uri);
	return 0;
}
