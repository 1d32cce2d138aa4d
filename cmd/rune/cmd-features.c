// SPDX-License-Identifier: Apache-2.0
#include <stdio.h>
#include "rune.h"
#include "runtime/hooks.h"
#include "runtime/names.h"
#include "runtime/seccomp.h"
#include "util/json.h"

static json_t *string_array(const char *const *names)
{
	json_t *a = json_array();
	for (size_t i = 0; names && names[i]; i++)
		json_array_append_new(a, json_string(names[i]));
	return a;
}

static json_t *linux_features(void)
{
	static const char *const ops[] = { "SCMP_CMP_NE",	 "SCMP_CMP_LT", "SCMP_CMP_LE",
					   "SCMP_CMP_EQ",	 "SCMP_CMP_GE", "SCMP_CMP_GT",
					   "SCMP_CMP_MASKED_EQ", NULL };
	json_t *ns = json_array(), *caps = json_array();
	for (int t = 0; t < RT_NS_TYPES; t++)
		json_array_append_new(ns, json_string(rt_ns_type_name((enum rt_ns_type)t)));
	for (int c = 0; c <= rt_cap_last(); c++)
		if (rt_cap_name(c))
			json_array_append_new(caps, json_string(rt_cap_name(c)));
	enum rt_cgroup_mode mode = rt_cgroup_detect_mode();
	return json_pack("{s:o,s:o,s:{s:b,s:b,s:b,s:b},s:{s:b,s:o,s:o,s:o,s:o},s:{s:b},s:{s:b}}",
			 "namespaces", ns, "capabilities", caps, "cgroup", "v1",
			 mode != RT_CGROUP_V2, "v2", mode != RT_CGROUP_V1, "systemd", 0,
			 "systemdUser", 0, "seccomp", "enabled", 1, "actions",
			 string_array(rt_seccomp_known_actions()), "operators", string_array(ops),
			 "archs", string_array(rt_seccomp_known_archs()), "knownFlags",
			 string_array(rt_seccomp_known_flags()), "apparmor", "enabled", 0,
			 "selinux", "enabled", 0);
}

static int features_main(struct rt_context *ctx, int argc, char **argv)
{
	while (cmd_getopt(&cmd_features, argc, argv, "", NULL) != -1)
		;
	cmd_require_args(&cmd_features, argc, 0);
	json_t *hooks = json_array();
	for (int k = 0; k < RT_HOOK_KINDS; k++)
		json_array_append_new(hooks, json_string(rt_hook_kind_name((enum rt_hook_kind)k)));
	_cleanup_json_ json_t *j =
	    json_pack("{s:s,s:s,s:o,s:o,s:o,s:{s:s}}", "ociVersionMin", "1.0.0", "ociVersionMax",
		      RT_OCI_VERSION, "hooks", hooks, "mountOptions",
		      string_array(rt_mount_option_names()), "linux", linux_features(),
		      "annotations", "org.opencontainers.runc.checkpoint.enabled", "false");
	cmd_print_json(j, 4);
	return 0;
}

const struct rune_cmd cmd_features = { "features", "show the enabled features", "", NULL,
				       features_main };
