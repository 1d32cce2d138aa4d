// SPDX-License-Identifier: Apache-2.0
/* The stdio URIs containerd sends (stdio.c): their scheme, and a logging binary's command. */
#include <stdlib.h>
#include <string.h>
#include "shim.h"
#include "util/cleanup.h"
#include "util/hex.h"
#include "util/strv.h"

const char *shim_stdio_scheme(const char *uri, const char **path)
{
	const char *sep = strstr(uri, "://");
	const char *slash = strchr(uri, '/');
	if (!sep || (slash && slash < sep)) {
		*path = uri;
		return "fifo";
	}
	*path = sep + 3;
	size_t n = (size_t)(sep - uri);
	static const char *const schemes[] = { "fifo", "file", "binary" };
	for (size_t i = 0; i < sizeof(schemes) / sizeof(*schemes); i++)
		if (strlen(schemes[i]) == n && !strncmp(uri, schemes[i], n))
			return schemes[i];
	return NULL;
}

/* URL query decoding: %XX and '+' for a space; a NUL byte or a broken escape is refused. */
static char *decode(const char *s, size_t n)
{
	char *out = xmalloc(n + 1), *w = out;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '+') {
			*w++ = ' ';
		} else if (s[i] != '%') {
			*w++ = s[i];
		} else {
			int hi = i + 2 < n ? cc_hex_digit(s[i + 1]) : -1;
			int lo = i + 2 < n ? cc_hex_digit(s[i + 2]) : -1;
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
				free(out);
				return NULL;
			}
			*w++ = (char)(hi << 4 | lo);
			i += 2;
		}
	}
	*w = '\0';
	return out;
}

int shim_logger_argv(const char *rest, char ***argv, struct cc_error **err)
{
	const char *q = strchr(rest, '?');
	_cleanup_free_ char *path = decode(rest, q ? (size_t)(q - rest) : strlen(rest));
	if (!path || path[0] != '/')
		return cc_error_set(err, 0, "not an absolute logging binary path");
	_cleanup_strv_ char **args = NULL;
	cc_strv_push(&args, path);
	for (const char *s = q ? q + 1 : NULL; s && *s;) {
		const char *amp = strchr(s, '&');
		size_t n = amp ? (size_t)(amp - s) : strlen(s);
		const char *eq = memchr(s, '=', n);
		_cleanup_free_ char *k = decode(s, eq ? (size_t)(eq - s) : n);
		_cleanup_free_ char *v = eq ? decode(eq + 1, n - (size_t)(eq + 1 - s)) : NULL;
		if (!k || (eq && !v))
			return cc_error_set(err, 0, "a bad escape in the logging binary's query");
		if (*k)
			cc_strv_push(&args, k);
		if (v && *v)
			cc_strv_push(&args, v);
		s = amp ? amp + 1 : NULL;
	}
	*argv = steal_pointer(&args);
	return 0;
}
