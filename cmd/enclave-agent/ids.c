// SPDX-License-Identifier: Apache-2.0
/* Container ids: validation (kata's verify_id) and upstream's derivation. See agent.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "agent.h"
#include "util/cleanup.h"

char *agent_quote(const char *s, size_t max)
{
	size_t n = strlen(s), shown = n < max ? n : max;
	char *out = xmalloc(4 * shown + 4), *p = out;
	for (size_t i = 0; i < shown; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
			p += sprintf(p, "\\x%02x", c);
		else
			*p++ = (char)c;
	}
	strcpy(p, n > shown ? "..." : "");
	return out;
}

static bool cid_char(char c, bool first)
{
	bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
	return alnum || (!first && (c == '_' || c == '.' || c == '-'));
}

int agent_cid_check(const char *cid, struct cc_error **err)
{
	size_t n = strlen(cid);
	if (n == 0)
		return cc_error_set(err, 0, "container_id is empty");
	_cleanup_free_ char *q = agent_quote(cid, 64);
	if (n > AGENT_CID_MAX)
		return cc_error_set(err, 0, "container_id \"%s\" is longer than %d characters", q,
				    AGENT_CID_MAX);
	for (size_t i = 0; i < n; i++) {
		if (cid_char(cid[i], i == 0))
			continue;
		unsigned char c = (unsigned char)cid[i];
		char shown[8];
		snprintf(shown, sizeof(shown), c >= 0x20 && c < 0x7f ? "'%c'" : "\\x%02x", c);
		return cc_error_set(err, 0,
				    "container_id \"%s\": %s not allowed%s (letters, digits, '_', "
				    "'.' and '-', starting with a letter or digit)",
				    q, shown, i == 0 ? " first" : "");
	}
	return 0;
}

char *agent_cid_from_image(const char *image)
{
	const char *slash = strrchr(image, '/');
	char *cid = xstrdup(slash ? slash + 1 : image);
	for (char *p = cid; *p; p++)
		if (*p == ':' || *p == '@')
			*p = '_';
	return cid;
}
