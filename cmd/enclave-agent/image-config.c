// SPDX-License-Identifier: Apache-2.0
/* image-rs's ImageConfig keys for the signature gate. See agent.h and docs/agent.md. */
#include <string.h>
#include "agent.h"
#include "util/cleanup.h"
#include "util/json.h"

/* A resource URI as image-rs takes it: file://PATH or a plain path is a local file; kbs://
 * names a key broker resource, kept as it is (the agent fetches it through cc_kbc). */
static int resource_path(const struct cc_json_reader *r, const char *path, char **value)
{
	if (!strncmp(*value, "kbs://", 6))
		return 0;
	if (!strncmp(*value, "file://", 7))
		memmove(*value, *value + 7, strlen(*value + 7) + 1);
	else if (strstr(*value, "://"))
		return cc_json_fail(r, path, "\"%s\": only file:// and plain paths are supported",
				    *value);
	if (**value != '/')
		return cc_json_fail(r, path, "\"%s\": an absolute path is needed", *value);
	return 0;
}

static int take(const struct cc_json_reader *r, const json_t *o, const char *path, const char *key,
		char **out)
{
	_cleanup_free_ char *v = NULL;
	if (cc_json_str(r, o, path, key, false, &v) < 0)
		return -1;
	if (!v)
		return 0;
	_cleanup_free_ char *p = cc_json_key_path(path, key);
	if (resource_path(r, p, &v) < 0)
		return -1;
	free(*out);
	*out = steal_pointer(&v);
	return 0;
}

int agent_image_config_parse(const char *name, const char *buf, size_t len,
			     struct agent_image_config *out, struct cc_error **err)
{
	*out = (struct agent_image_config){ 0 };
	_cleanup_json_ json_t *j = cc_json_load_buf(name, buf, len, err);
	if (!j)
		return -1;
	struct cc_json_reader r = { name, err };
	if (!json_is_object(j))
		return cc_json_fail(&r, "", "expected object, got %s", cc_json_type_name(j));
	int ret;
	json_t *fp = cc_json_member(&r, j, "", "file_paths", JSON_OBJECT, false, &ret);
	if (ret < 0 ||
	    (fp && (take(&r, fp, "file_paths", "policy_path", &out->policy) < 0 ||
		    take(&r, fp, "file_paths", "sigstore_config", &out->registries) < 0)) ||
	    take(&r, j, "", "image_security_policy_uri", &out->policy) < 0 ||
	    take(&r, j, "", "sigstore_config_uri", &out->registries) < 0) {
		agent_image_config_clear(out);
		return -1;
	}
	return 0;
}

void agent_image_config_clear(struct agent_image_config *c)
{
	free(c->policy);
	free(c->registries);
	*c = (struct agent_image_config){ 0 };
}
