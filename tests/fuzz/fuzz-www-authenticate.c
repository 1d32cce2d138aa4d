// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for a registry's WWW-Authenticate header: the header line through
 * registry.c's header parsing (header_value), then the challenge through authenticate(): the
 * scheme, and for Bearer the realm, service and scope parameters (challenge_param) and the
 * token request built from them; the token server answers {"token":"t"}. With credentials
 * (first input byte odd) Basic is reachable too. What comes out must be one header line, and
 * a token request goes only to an http(s) realm.
 */
#include "registry-harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char token[] = "{\"token\":\"t\"}";
	struct img_registry *r;
	struct cc_error *err = NULL;
	char *value;

	if (size < 1)
		return 0;
	r = fz_registry();
	if (data[0] & 1) {
		r->user = xstrdup("user");
		r->pass = xstrdup("secret");
	}
	fz_answer = (const uint8_t *)token;
	fz_answer_len = sizeof(token) - 1;
	fz_status = 200;
	/* As libcurl hands header lines to the callback: not NUL-terminated. */
	_cleanup_free_ char *line = xmalloc(size - 1 ? size - 1 : 1);
	memcpy(line, data + 1, size - 1);
	value = header_value(line, size - 1, "WWW-Authenticate");
	if (value) {
		if (authenticate(r, value, &err) < 0) {
			if (!err || !err->msg[0])
				abort();
			cc_error_free(&err);
		} else if (!r->auth) {
			abort();
		}
		if (fz_url && strncmp(fz_url, "https://", 8) && strncmp(fz_url, "http://", 7))
			abort();
		fz_check_auth(r);
		free(value);
	}
	/* The parameter parser alone, on the raw bytes as a string. */
	_cleanup_free_ char *text = xstrndup((const char *)data + 1, size - 1);
	static const char *const keys[] = { "realm", "service", "scope", "error" };
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		free(challenge_param(text, keys[i]));
	fz_reset();
	img_registry_close(r);
	return 0;
}
