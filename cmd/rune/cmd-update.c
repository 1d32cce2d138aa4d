// SPDX-License-Identifier: Apache-2.0
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "rune.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"

enum {
	O_BLKIO_WEIGHT = 1000,
	O_CPU_PERIOD,
	O_CPU_QUOTA,
	O_CPU_SHARE,
	O_CPU_RT_PERIOD,
	O_CPU_RT_RUNTIME,
	O_CPUSET_CPUS,
	O_CPUSET_MEMS,
	O_KMEM,
	O_KMEM_TCP,
	O_MEMORY,
	O_MEMORY_RES,
	O_MEMORY_SWAP,
	O_PIDS,
	O_L3,
	O_MEMBW,
	O_RESOURCES
};

static const struct option opts[] = {
	{ "blkio-weight", required_argument, NULL, O_BLKIO_WEIGHT },
	{ "cpu-period", required_argument, NULL, O_CPU_PERIOD },
	{ "cpu-quota", required_argument, NULL, O_CPU_QUOTA },
	{ "cpu-share", required_argument, NULL, O_CPU_SHARE },
	{ "cpu-rt-period", required_argument, NULL, O_CPU_RT_PERIOD },
	{ "cpu-rt-runtime", required_argument, NULL, O_CPU_RT_RUNTIME },
	{ "cpuset-cpus", required_argument, NULL, O_CPUSET_CPUS },
	{ "cpuset-mems", required_argument, NULL, O_CPUSET_MEMS },
	{ "kernel-memory", required_argument, NULL, O_KMEM },
	{ "kernel-memory-tcp", required_argument, NULL, O_KMEM_TCP },
	{ "memory", required_argument, NULL, O_MEMORY },
	{ "memory-reservation", required_argument, NULL, O_MEMORY_RES },
	{ "memory-swap", required_argument, NULL, O_MEMORY_SWAP },
	{ "pids-limit", required_argument, NULL, O_PIDS },
	{ "l3-cache-schema", required_argument, NULL, O_L3 },
	{ "mem-bw-schema", required_argument, NULL, O_MEMBW },
	{ "resources", required_argument, NULL, 'r' },
	{ 0 },
};

/* Adds one flag's value to the LinuxResources JSON object being built. */
static int add_flag(json_t *res, int opt, const char *val)
{
	static const struct {
		int opt;
		const char *section, *key;
		char kind; /* 'n' number, 's' size, 'x' string */
	} map[] = {
		{ O_BLKIO_WEIGHT, "blockIO", "weight", 'n' },
		{ O_CPU_PERIOD, "cpu", "period", 'n' },
		{ O_CPU_QUOTA, "cpu", "quota", 'n' },
		{ O_CPU_SHARE, "cpu", "shares", 'n' },
		{ O_CPU_RT_PERIOD, "cpu", "realtimePeriod", 'n' },
		{ O_CPU_RT_RUNTIME, "cpu", "realtimeRuntime", 'n' },
		{ O_CPUSET_CPUS, "cpu", "cpus", 'x' },
		{ O_CPUSET_MEMS, "cpu", "mems", 'x' },
		{ O_KMEM, "memory", "kernel", 's' },
		{ O_KMEM_TCP, "memory", "kernelTCP", 's' },
		{ O_MEMORY, "memory", "limit", 's' },
		{ O_MEMORY_RES, "memory", "reservation", 's' },
		{ O_MEMORY_SWAP, "memory", "swap", 's' },
		{ O_PIDS, "pids", "limit", 'n' },
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		if (map[i].opt != opt)
			continue;
		json_t *sec = json_object_get(res, map[i].section);
		if (!sec)
			json_object_set_new(res, map[i].section, sec = json_object());
		if (map[i].kind == 'x')
			return json_object_set_new(sec, map[i].key, json_string(val));
		int64_t v;
		char *end;
		if (map[i].kind == 's') {
			if (cmd_parse_size(val, &v) < 0)
				return -1;
		} else {
			v = strtoll(val, &end, 10);
			if (!*val || *end)
				return -1;
		}
		return json_object_set_new(sec, map[i].key, json_integer(v));
	}
	return -1;
}

static int update_main(struct rt_context *ctx, int argc, char **argv)
{
	struct cc_error *err = NULL;
	const char *file = NULL;
	_cleanup_json_ json_t *res = json_object();
	int c;
	while ((c = cmd_getopt(&cmd_update, argc, argv, "r:", opts)) != -1) {
		if (c == 'r')
			file = optarg;
		else if (c == O_L3 || c == O_MEMBW)
			return cmd_failf("update: Intel RDT is not available on this host");
		else if (add_flag(res, c, optarg) < 0)
			return cmd_failf("update: invalid value \"%s\" for --%s", optarg,
					 opts[c - O_BLKIO_WEIGHT].name);
	}
	cmd_require_args(&cmd_update, argc, 1);
	if (file) {
		_cleanup_json_ json_t *j =
		    !strcmp(file, "-") ? json_loadf(stdin, 0, NULL) : cc_json_load_file(file, &err);
		if (!j || !json_is_object(j))
			return err ? cmd_fail(err)
				   : cmd_failf("update: %s: not a JSON object", file);
		json_object_update(res, j);
	}
	/* Reuse the config parser so values are validated exactly as in config.json. */
	_cleanup_json_ json_t *doc = json_pack("{s:s,s:{s:s},s:{s:O}}", "ociVersion", "1.0.2",
					       "root", "path", "rootfs", "linux", "resources", res);
	_cleanup_free_ char *text = cc_json_dump(doc);
	struct rt_spec *spec = rt_spec_parse("update", text, strlen(text), &err);
	if (!spec)
		return cmd_fail(err);
	int ret = rt_container_update(ctx, argv[optind], &spec->linux.resources, &err);
	rt_spec_free(spec);
	return ret < 0 ? cmd_fail(err) : 0;
}

const struct rune_cmd cmd_update = {
	"update", "update container resource constraints", "[options] <container-id>",
	"   --resources value, -r value  LinuxResources JSON file (\"-\" for stdin)\n"
	"   --blkio-weight value     --cpu-period value     --cpu-quota value\n"
	"   --cpu-share value        --cpu-rt-period value  --cpu-rt-runtime value\n"
	"   --cpuset-cpus value      --cpuset-mems value    --memory value\n"
	"   --memory-reservation value  --memory-swap value  --pids-limit value\n"
	"   --kernel-memory value    --kernel-memory-tcp value\n",
	update_main
};
