// SPDX-License-Identifier: Apache-2.0
/* enclave-agent's decrypt_config.conf parser on arbitrary bytes: a refusal names the problem
 * and leaves the defaults; what parses prints back to JSON that parses to the same values.
 * The same bytes as image-rs's ImageConfig: a refusal is one line, what parses is absolute
 * paths (never a kbs:// or other URI). */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "../../cmd/enclave-agent/agent.h"
#include "util/cleanup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void image_config(const uint8_t *data, size_t size)
{
	struct agent_image_config c;
	struct cc_error *err = NULL;
	if (agent_image_config_parse("fuzz", (const char *)data, size, &c, &err) < 0) {
		if (!err || !err->msg || strchr(err->msg, '\n') || c.policy || c.registries)
			__builtin_trap();
		cc_error_free(&err);
		return;
	}
	if ((c.policy && c.policy[0] != '/') || (c.registries && c.registries[0] != '/'))
		__builtin_trap();
	agent_image_config_clear(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	image_config(data, size);
	struct agent_decrypt_config c, again;
	struct cc_error *err = NULL;
	if (agent_decrypt_config_parse("fuzz", (const char *)data, size, &c, &err) < 0) {
		if (!err || !err->msg || !err->msg[0] || c.key_provider || !c.security_validate)
			__builtin_trap();
		cc_error_free(&err);
		return 0;
	}
	json_t *j = json_pack("{s:b}", "security_validate", c.security_validate);
	if (c.key_provider)
		json_object_set_new(j, "key_provider", json_string(c.key_provider));
	_cleanup_free_ char *text = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (!text || agent_decrypt_config_parse("again", text, strlen(text), &again, &err) < 0)
		__builtin_trap();
	if (again.security_validate != c.security_validate ||
	    !c.key_provider != !again.key_provider ||
	    (c.key_provider && strcmp(c.key_provider, again.key_provider) != 0))
		__builtin_trap();
	agent_decrypt_config_clear(&c);
	agent_decrypt_config_clear(&again);
	return 0;
}
