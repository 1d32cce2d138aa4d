/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The registry client's parsers of what a registry (or an auth file) says, fuzzed in place:
 * lib/image/registry.c is compiled into the target itself, so its static functions are the
 * ones called, not copies. libcurl's transfers are replaced by the fuzz input: a transfer
 * "answers" with fz_answer at status fz_status, and the URL it was given is kept in fz_url.
 * Only calls inside registry.c are redirected (macros defined before it is included).
 */
#pragma once

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>

static const uint8_t *fz_answer;
static size_t fz_answer_len;
static long fz_status = 200;
static char *fz_url;
static curl_write_callback fz_write;
static void *fz_write_data;

static CURLcode fz_setopt(CURL *c, CURLoption opt, ...)
{
	va_list ap;

	(void)c;
	va_start(ap, opt);
	if (opt == CURLOPT_WRITEFUNCTION) {
		fz_write = va_arg(ap, curl_write_callback);
	} else if (opt == CURLOPT_WRITEDATA) {
		fz_write_data = va_arg(ap, void *);
	} else if (opt == CURLOPT_URL) {
		free(fz_url);
		fz_url = strdup(va_arg(ap, const char *));
	}
	va_end(ap);
	return CURLE_OK;
}

/* The answer in pieces of up to 7 bytes, as a network would cut it. */
static CURLcode fz_perform(CURL *c)
{
	(void)c;
	for (size_t off = 0; fz_write && off < fz_answer_len;) {
		size_t n = fz_answer_len - off < 7 ? fz_answer_len - off : 7;
		if (fz_write((char *)fz_answer + off, 1, n, fz_write_data) != n)
			return CURLE_WRITE_ERROR;
		off += n;
	}
	return CURLE_OK;
}

static CURLcode fz_getinfo(CURL *c, CURLINFO info, ...)
{
	va_list ap;

	(void)c;
	va_start(ap, info);
	if (info == CURLINFO_RESPONSE_CODE)
		*va_arg(ap, long *) = fz_status;
	va_end(ap);
	return CURLE_OK;
}

static inline void fz_reset(void)
{
	free(fz_url);
	fz_url = NULL;
	fz_write = NULL;
	fz_write_data = NULL;
}

#undef curl_easy_setopt
#undef curl_easy_getinfo
#define curl_easy_setopt fz_setopt
#define curl_easy_perform fz_perform
#define curl_easy_getinfo fz_getinfo
#include "image/registry.c"
#undef curl_easy_setopt
#undef curl_easy_perform
#undef curl_easy_getinfo

/* A registry handle as img_registry_open makes one, without credentials. */
static inline struct img_registry *fz_registry(void)
{
	struct img_registry *r = xzalloc(sizeof(*r));
	r->host = xstrdup("registry.example");
	r->repo = xstrdup("library/app");
	r->scheme = "https";
	r->retries = 1;
	return r;
}

/* What registry.c put in r->auth must be one header line. */
static inline void fz_check_auth(const struct img_registry *r)
{
	if (r->auth && (strncmp(r->auth, "Authorization: ", 15) || strpbrk(r->auth, "\r\n")))
		abort();
}
