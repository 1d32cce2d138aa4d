// SPDX-License-Identifier: Apache-2.0
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util/cleanup.h"
#include "util/error.h"
#include "util/fs.h"

void *xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);
	if (!p)
		abort();
	return p;
}

void *xzalloc(size_t size)
{
	return xcalloc(1, size);
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		abort();
	return p;
}

void *xrealloc(void *p, size_t size)
{
	p = realloc(p, size ? size : 1);
	if (!p)
		abort();
	return p;
}

void *xreallocarray(void *p, size_t n, size_t size)
{
	p = reallocarray(p, n ? n : 1, size ? size : 1);
	if (!p)
		abort();
	return p;
}

char *xstrdup(const char *s)
{
	char *r = strdup(s ? s : "");
	if (!r)
		abort();
	return r;
}

char *xstrndup(const char *s, size_t n)
{
	char *r = strndup(s, n);
	if (!r)
		abort();
	return r;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *r;
	va_start(ap, fmt);
	if (vasprintf(&r, fmt, ap) < 0)
		abort();
	va_end(ap);
	return r;
}

/* An error is one line: a control character that reached the message from input the caller did
 * not pass through cc_shown() is shown as \xNN. Takes msg; returns it or its escaped copy. */
static char *one_line(char *msg)
{
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)msg; *p; p++)
		n += *p < 0x20 || *p == 0x7f;
	if (!n)
		return msg;
	char *out = xmalloc(strlen(msg) + n * 3 + 1), *o = out;
	for (const unsigned char *p = (const unsigned char *)msg; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			o += sprintf(o, "\\x%02x", *p);
		else
			*o++ = (char)*p;
	}
	*o = '\0';
	free(msg);
	return out;
}

int cc_error_setv(struct cc_error **err, int errnum, const char *fmt, va_list ap)
{
	char *msg;
	struct cc_error *e;

	if (!err)
		return -1;
	if (vasprintf(&msg, fmt, ap) < 0)
		abort();
	if (errnum > 0) {
		char *full = xasprintf("%s: %s", msg, strerror(errnum));
		free(msg);
		msg = full;
	}
	/* Never overwrite a lower error: keep the first, it is the most precise. */
	if (*err) {
		free(msg);
		return -1;
	}
	e = xzalloc(sizeof(*e));
	e->errnum = errnum;
	e->msg = one_line(msg);
	*err = e;
	return -1;
}

int cc_error_set(struct cc_error **err, int errnum, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cc_error_setv(err, errnum, fmt, ap);
	va_end(ap);
	return -1;
}

int cc_error_prefix(struct cc_error **err, const char *fmt, ...)
{
	va_list ap;
	char *ctx, *msg;

	if (!err || !*err)
		return -1;
	va_start(ap, fmt);
	if (vasprintf(&ctx, fmt, ap) < 0)
		abort();
	va_end(ap);
	msg = one_line(xasprintf("%s: %s", ctx, (*err)->msg));
	free(ctx);
	free((*err)->msg);
	(*err)->msg = msg;
	return -1;
}

void cc_error_free(struct cc_error **err)
{
	if (!err || !*err)
		return;
	free((*err)->msg);
	free(*err);
	*err = NULL;
}

struct wire_error {
	int32_t errnum;
	int32_t code;
	uint32_t len;
};

int cc_error_send(int fd, const struct cc_error *e)
{
	const char *msg = e && e->msg ? e->msg : "unknown error";
	struct wire_error w = { e ? e->errnum : 0, e ? e->code : 0, (uint32_t)strlen(msg) };

	if (cc_write_all(fd, &w, sizeof(w)) < 0)
		return -1;
	return cc_write_all(fd, msg, w.len);
}

int cc_error_recv(int fd, struct cc_error **err)
{
	struct wire_error w;
	_cleanup_free_ char *msg = NULL;

	if (cc_read_all(fd, &w, sizeof(w)) != (ssize_t)sizeof(w))
		return -1;
	if (w.len > 65536)
		return -1;
	msg = xzalloc(w.len + 1);
	if (cc_read_all(fd, msg, w.len) != (ssize_t)w.len)
		return -1;
	cc_error_set(err, 0, "%s", msg);
	if (*err) {
		(*err)->errnum = w.errnum;
		(*err)->code = w.code;
	}
	return 0;
}

void cc_shown(const char *s, size_t len, char out[static CC_SHOWN_BUF])
{
	char *o = out;
	for (size_t i = 0; i < len && i < CC_SHOWN_MAX; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch >= 0x20 && ch < 0x7f && ch != '\\')
			*o++ = (char)ch;
		else
			o += sprintf(o, "\\x%02x", ch);
	}
	if (len > CC_SHOWN_MAX)
		o = stpcpy(o, "...");
	*o = '\0';
}
