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

int agent_decrypt_config_parse(const char *name, const char *buf, size_t len,
			       struct agent_decrypt_config *out, struct cc_error **err)
{
	const struct cc_json_reader r = { name, err };
	*out = (struct agent_decrypt_config){ .security_validate = true };
	_cleanup_json_ json_t *j = cc_json_load_buf(name, buf, len, err);
	if (!j)
		return -1;
	/* Unknown keys are ignored, as upstream does. */
	if (cc_json_expect(&r, j, "", JSON_OBJECT) < 0 ||
	    cc_json_str(&r, j, "", "key_provider", false, &out->key_provider) < 0 ||
	    cc_json_bool(&r, j, "", "security_validate", &out->security_validate, NULL) < 0) {
		agent_decrypt_config_clear(out);
		return -1;
	}
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
