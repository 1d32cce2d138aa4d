// SPDX-License-Identifier: Apache-2.0
/*
 * How the shim runs rune for a container: built-in defaults, the settings file (JSON,
 * docs/shim.md), then the runtime options containerd sends with Create.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "ctd-runc-options.pb-c.h"
#include "ctd-runtimeoptions.pb-c.h"
#include "shim.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/strv.h"

#define DEFAULT_ROOT "/run/containerd/rune"
#define DEFAULT_POD_ROOT "/run/rune/pods"
#define DEFAULT_START_TIMEOUT_S 120
#define SETTINGS_LIMIT (1u << 20)

bool shim_id_valid(const char *id)
{
	size_t n = strlen(id);
	if (n == 0 || n > 76)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = id[i];
		bool alnum =
		    (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
			return false;
	}
	return true;
}

void shim_runtime_clear(struct shim_runtime *rt)
{
	free(rt->rune);
	free(rt->root);
	free(rt->agent_bundle);
	free(rt->agent_root);
	free(rt->agent_ctl);
	cc_strv_free(rt->agent_args);
	memset(rt, 0, sizeof(*rt));
}

static void set(char **field, const char *value)
{
	free(*field);
	*field = xstrdup(value);
}

static int load_settings(struct shim_runtime *rt, const char *path, bool must_exist,
			 struct cc_error **err)
{
	if (!must_exist && !cc_path_exists(path))
		return 0;
	size_t len;
	_cleanup_free_ char *text = cc_read_file(path, SETTINGS_LIMIT, &len, err);
	if (!text || shim_settings_parse(rt, path, text, len, err) < 0)
		return cc_error_prefix(err, "shim settings");
	return 0;
}

/* The settings file: {"rune": PATH, "root": DIR, "debug": BOOL, "pod": {...}}. */
int shim_settings_parse(struct shim_runtime *rt, const char *name, const char *text, size_t len,
			struct cc_error **err)
{
	_cleanup_json_ json_t *j = cc_json_load_buf(name, text, len, err);
	if (!j)
		return -1;
	struct cc_json_reader r = { .name = name, .err = err };
	static const char *const keys[] = { "rune", "root", "debug", "pod", NULL };
	static const char *const pod_keys[] = {
		"agent_bundle",	  "agent_root", "agent_ctl", "start_timeout_s",
		"pull_timeout_s", "agent_args", NULL
	};
	_cleanup_free_ char *rune = NULL, *root = NULL;
	if (cc_json_expect(&r, j, "", JSON_OBJECT) < 0 || cc_json_known_keys(&r, j, "", keys) < 0 ||
	    cc_json_str(&r, j, "", "rune", false, &rune) < 0 ||
	    cc_json_str(&r, j, "", "root", false, &root) < 0 ||
	    cc_json_bool(&r, j, "", "debug", &rt->debug, NULL) < 0)
		return -1;
	if (rune)
		set(&rt->rune, rune);
	if (root) {
		if (root[0] != '/')
			return cc_json_fail(&r, "root", "\"%s\" is not an absolute path", root);
		set(&rt->root, root);
	}
	const json_t *pod = json_object_get(j, "pod");
	if (!pod)
		return 0;
	_cleanup_free_ char *bundle = NULL, *aroot = NULL, *actl = NULL;
	int64_t timeout = 0, start = DEFAULT_START_TIMEOUT_S;
	if (cc_json_expect(&r, pod, "pod", JSON_OBJECT) < 0 ||
	    cc_json_known_keys(&r, pod, "pod", pod_keys) < 0 ||
	    cc_json_str(&r, pod, "pod", "agent_bundle", true, &bundle) < 0 ||
	    cc_json_str(&r, pod, "pod", "agent_root", false, &aroot) < 0 ||
	    cc_json_str(&r, pod, "pod", "agent_ctl", false, &actl) < 0 ||
	    cc_json_int(&r, pod, "pod", "start_timeout_s", 1, 86400, &start, NULL) < 0 ||
	    cc_json_int(&r, pod, "pod", "pull_timeout_s", 0, 86400 * 365, &timeout, NULL) < 0 ||
	    cc_json_strv(&r, pod, "pod", "agent_args", 64, &rt->agent_args) < 0)
		return -1;
	if (bundle[0] != '/')
		return cc_json_fail(&r, "pod.agent_bundle", "\"%s\" is not an absolute path",
				    bundle);
	if (aroot && aroot[0] != '/')
		return cc_json_fail(&r, "pod.agent_root", "\"%s\" is not an absolute path", aroot);
	set(&rt->agent_bundle, bundle);
	set(&rt->agent_root, aroot ? aroot : DEFAULT_POD_ROOT);
	set(&rt->agent_ctl, actl ? actl : "agent-ctl");
	rt->agent_start_timeout_ns = start * 1000000000;
	rt->agent_pull_timeout_ns = timeout * 1000000000;
	return 0;
}

static bool type_is(const char *url, const char *name)
{
	const char *slash = strrchr(url, '/');
	return !strcmp(slash ? slash + 1 : url, name);
}

int shim_runtime_load(struct shim_runtime *rt, const char *ns, const char *type_url,
		      const uint8_t *value, size_t len, struct cc_error **err)
{
	shim_runtime_clear(rt);
	rt->rune = xstrdup("rune");
	rt->root = xstrdup(DEFAULT_ROOT);
	const char *settings = SHIM_DEFAULT_CONFIG;
	bool must_exist = false;
	_cleanup_free_ char *config_path = NULL, *binary = NULL, *root = NULL;

	if (type_url && type_is(type_url, "runtimeoptions.v1.Options")) {
		Runtimeoptions__V1__Options *o =
		    runtimeoptions__v1__options__unpack(NULL, len, value);
		if (!o)
			return cc_error_set(err, 0, "runtime options: not a valid %s", type_url);
		if (o->config_path && *o->config_path)
			config_path = xstrdup(o->config_path);
		runtimeoptions__v1__options__free_unpacked(o, NULL);
	} else if (type_url && type_is(type_url, "containerd.runc.v1.Options")) {
		Containerd__Runc__V1__Options *o =
		    containerd__runc__v1__options__unpack(NULL, len, value);
		if (!o)
			return cc_error_set(err, 0, "runtime options: not a valid %s", type_url);
		if (o->binary_name && *o->binary_name)
			binary = xstrdup(o->binary_name);
		if (o->root && *o->root)
			root = xstrdup(o->root);
		containerd__runc__v1__options__free_unpacked(o, NULL);
	} else if (type_url && *type_url) {
		return cc_error_set(err, 0, "runtime options: unknown type \"%s\"", type_url);
	}
	if (config_path) {
		settings = config_path;
		must_exist = true;
	}
	if (load_settings(rt, settings, must_exist, err) < 0)
		return -1;
	if (binary)
		set(&rt->rune, binary);
	if (root)
		set(&rt->root, root);
	/* One rune root per namespace, as containerd's runc shim keeps runc's. */
	char *per_ns = cc_path_join(rt->root, ns);
	free(rt->root);
	rt->root = per_ns;
	return 0;
}

#define SAVED "shim-runtime.json"

int shim_runtime_save(const struct shim_runtime *rt, const char *bundle, struct cc_error **err)
{
	_cleanup_json_ json_t *j =
	    json_pack("{s:s,s:s,s:b}", "rune", rt->rune, "root", rt->root, "debug", rt->debug);
	_cleanup_free_ char *text = cc_json_dump(j);
	_cleanup_free_ char *path = cc_path_join(bundle, SAVED);
	return cc_write_file_atomic(path, text, strlen(text), 0600, err);
}

int shim_runtime_restore(struct shim_runtime *rt, const char *bundle, struct cc_error **err)
{
	_cleanup_free_ char *path = cc_path_join(bundle, SAVED);
	_cleanup_json_ json_t *j = cc_json_load_file(path, err);
	if (!j)
		return -1;
	const char *rune = json_string_value(json_object_get(j, "rune"));
	const char *root = json_string_value(json_object_get(j, "root"));
	if (!rune || !root)
		return cc_error_set(err, 0, "%s: no rune or root", path);
	shim_runtime_clear(rt);
	rt->rune = xstrdup(rune);
	rt->root = xstrdup(root);
	rt->debug = json_is_true(json_object_get(j, "debug"));
	return 0;
}
