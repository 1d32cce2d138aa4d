// SPDX-License-Identifier: Apache-2.0
#include <stdio.h>
#include <string.h>
#include "util/cleanup.h"
#include "util/strv.h"

size_t cc_strv_len(char *const *v)
{
	size_t n = 0;
	while (v && v[n])
		n++;
	return n;
}

void cc_strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

void cc_strv_freep(char ***v)
{
	cc_strv_free(*v);
	*v = NULL;
}

void cc_strv_push(char ***v, const char *s)
{
	size_t n = cc_strv_len(*v);
	*v = xreallocarray(*v, n + 2, sizeof(char *));
	(*v)[n] = xstrdup(s);
	(*v)[n + 1] = NULL;
}

char **cc_strv_dup(char *const *v)
{
	size_t n = cc_strv_len(v);
	char **r = xcalloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		r[i] = xstrdup(v[i]);
	return r;
}

bool cc_strv_contains(char *const *v, const char *s)
{
	for (size_t i = 0; v && v[i]; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

char **cc_strv_split(const char *s, char sep)
{
	char **r = xcalloc(1, sizeof(char *));
	const char *p = s;
	for (;;) {
		const char *q = strchr(p, sep);
		size_t n = q ? (size_t)(q - p) : strlen(p);
		_cleanup_free_ char *part = xstrndup(p, n);
		cc_strv_push(&r, part);
		if (!q)
			break;
		p = q + 1;
	}
	return r;
}

char *cc_strv_join(char *const *v, const char *sep)
{
	size_t len = 1, seplen = strlen(sep);
	for (size_t i = 0; v && v[i]; i++)
		len += strlen(v[i]) + seplen;
	char *r = xzalloc(len), *p = r;
	for (size_t i = 0; v && v[i]; i++) {
		if (i)
			p = stpcpy(p, sep);
		p = stpcpy(p, v[i]);
	}
	return r;
}

void cc_format_bytes(uint64_t v, char *buf, size_t len)
{
	if (v >= 1000000)
		snprintf(buf, len, "%.1fMB", (double)v / 1e6);
	else if (v >= 1000)
		snprintf(buf, len, "%.1fkB", (double)v / 1e3);
	else
		snprintf(buf, len, "%lluB", (unsigned long long)v);
}
