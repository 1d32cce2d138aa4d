// SPDX-License-Identifier: Apache-2.0
/* decrypt_config.conf ({"key_provider": string, "security_validate": bool}) and durations.
 * See agent.h. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "agent.h"
#include "util/cleanup.h"
#include "util/json.h"

void agent_decrypt_config_clear(struct agent_decrypt_config *c)
{
	free(c->key_provider);
	*c = (struct agent_decrypt_config){ .security_validate = true };
}

static int type_error(const char *name, const char *key, const char *want, const json_t *v,
		      struct cc_error **err)
{
	return cc_error_set(err, 0, "%s: \"%s\" must be %s, not %s", name, key, want,
			    cc_json_type_name(v));
}

int agent_decrypt_config_parse(const char *name, const char *buf, size_t len,
			       struct agent_decrypt_config *out, struct cc_error **err)
{
	*out = (struct agent_decrypt_config){ .security_validate = true };
	_cleanup_json_ json_t *j = cc_json_load_buf(name, buf, len, err);
	if (!j)
		return -1;
	if (!json_is_object(j))
		return cc_error_set(err, 0, "%s: must be a JSON object, not %s", name,
				    cc_json_type_name(j));
	json_t *kp = json_object_get(j, "key_provider");
	json_t *sv = json_object_get(j, "security_validate");
	if (kp && !json_is_null(kp) && !json_is_string(kp))
		return type_error(name, "key_provider", "a string", kp, err);
	if (sv && !json_is_null(sv) && !json_is_boolean(sv))
		return type_error(name, "security_validate", "true or false", sv, err);
	/* JSON strings may hold NUL bytes (the loader allows them); a C string cannot. */
	if (json_is_string(kp) && strlen(json_string_value(kp)) != json_string_length(kp))
		return cc_error_set(err, 0, "%s: \"key_provider\" contains a NUL byte", name);
	if (json_is_string(kp))
		out->key_provider = xstrdup(json_string_value(kp));
	if (json_is_boolean(sv))
		out->security_validate = json_is_true(sv);
	return 0;
}

int agent_parse_duration(const char *s, int64_t *ns, struct cc_error **err)
{
	static const struct {
		const char *unit;
		int64_t ns;
	} units[] = { { "ns", 1 },	     { "us", 1000 },	     { "ms", 1000000 },
		      { "s", 1000000000LL }, { "m", 60000000000LL }, { "h", 3600000000000LL },
		      { "", 1000000000LL } };
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || errno || v < 0 || isnan(v))
		return cc_error_set(
		    err, 0, "duration \"%s\": want a number and a unit (500ms, 30s, 2m)", s);
	for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
		if (strcmp(end, units[i].unit) != 0)
			continue;
		double total = v * (double)units[i].ns;
		if (total > 9.2e18)
			return cc_error_set(err, 0, "duration \"%s\": too long", s);
		*ns = (int64_t)total;
		return 0;
	}
	return cc_error_set(err, 0, "duration \"%s\": unknown unit \"%s\" (ns, us, ms, s, m, h)", s,
			    end);
}
