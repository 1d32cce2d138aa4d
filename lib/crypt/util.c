// SPDX-License-Identifier: Apache-2.0
/* Strict base64, wiped buffers and JSON helpers for lib/crypt. See internal.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include "crypt/internal.h"
#include "util/cleanup.h"
#include "util/json.h"

void crypt_buf_wipe(struct crypt_buf *b)
{
	if (b->p) {
		explicit_bzero(b->p, b->len);
		free(b->p);
	}
	b->p = NULL;
	b->len = 0;
}

void crypt_buf_set(struct crypt_buf *b, const void *p, size_t len)
{
	crypt_buf_wipe(b);
	b->p = xmalloc(len + 1);
	if (len)
		memcpy(b->p, p, len);
	b->p[len] = 0;
	b->len = len;
}

void crypt_str_wipe(char **s)
{
	if (*s) {
		explicit_bzero(*s, strlen(*s));
		free(*s);
		*s = NULL;
	}
}

static const char b64_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *crypt_b64_encode(const void *buf, size_t len, enum crypt_b64 v)
{
	const char *alpha = v == CRYPT_B64_URL ? b64_url : b64_std;
	const unsigned char *p = buf;
	char *out = xmalloc((len + 2) / 3 * 4 + 1), *o = out;
	size_t i = 0;

	for (; i + 3 <= len; i += 3) {
		uint32_t x = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		*o++ = alpha[x >> 18];
		*o++ = alpha[(x >> 12) & 63];
		*o++ = alpha[(x >> 6) & 63];
		*o++ = alpha[x & 63];
	}
	if (len - i) {
		uint32_t x = (uint32_t)p[i] << 16 | (len - i == 2 ? (uint32_t)p[i + 1] << 8 : 0);
		*o++ = alpha[x >> 18];
		*o++ = alpha[(x >> 12) & 63];
		if (len - i == 2)
			*o++ = alpha[(x >> 6) & 63];
		if (v == CRYPT_B64_STD) {
			if (len - i == 1)
				*o++ = '=';
			*o++ = '=';
		}
	}
	*o = 0;
	return out;
}

static int b64_value(unsigned char c, enum crypt_b64 v)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == (v == CRYPT_B64_URL ? '-' : '+'))
		return 62;
	if (c == (v == CRYPT_B64_URL ? '_' : '/'))
		return 63;
	return -1;
}

int crypt_b64_decode(const char *s, size_t len, enum crypt_b64 v, struct crypt_buf *out)
{
	size_t pad = 0, full;

	if (v == CRYPT_B64_STD) {
		if (len % 4)
			return -1;
		while (pad < 2 && pad < len && s[len - 1 - pad] == '=')
			pad++;
		len -= pad;
		if (pad && len % 4 != 4 - pad)
			return -1;
	} else if (len % 4 == 1) {
		return -1;
	}
	full = len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0);
	unsigned char *p = xmalloc(full + 1), *o = p;
	uint32_t acc = 0;
	size_t i;
	for (i = 0; i < len; i++) {
		int d = b64_value((unsigned char)s[i], v);
		if (d < 0)
			goto bad;
		acc = acc << 6 | (uint32_t)d;
		if (i % 4 == 3) {
			*o++ = (unsigned char)(acc >> 16);
			*o++ = (unsigned char)(acc >> 8);
			*o++ = (unsigned char)acc;
			acc = 0;
		}
	}
	/* A partial group must leave its unused low bits zero (canonical encoding). */
	if (len % 4 == 2) {
		if (acc & 0xf)
			goto bad;
		*o++ = (unsigned char)(acc >> 4);
	} else if (len % 4 == 3) {
		if (acc & 0x3)
			goto bad;
		*o++ = (unsigned char)(acc >> 10);
		*o++ = (unsigned char)(acc >> 2);
	}
	*o = 0;
	crypt_buf_wipe(out);
	out->p = p;
	out->len = full;
	return 0;
bad:
	explicit_bzero(p, full + 1);
	free(p);
	return -1;
}

void crypt_json_wipe(json_t *j)
{
	const char *k;
	json_t *v;
	size_t i;

	switch (json_typeof(j)) {
	case JSON_STRING:
		/* jansson owns the bytes; zeroing them before the last decref is harmless. */
		explicit_bzero((char *)json_string_value(j), json_string_length(j));
		break;
	case JSON_OBJECT:
		json_object_foreach (j, k, v)
			crypt_json_wipe(v);
		break;
	case JSON_ARRAY:
		json_array_foreach (j, i, v)
			crypt_json_wipe(v);
		break;
	default:
		break;
	}
}

static int dump_cb(const char *buf, size_t size, void *data)
{
	struct crypt_buf *b = data;
	size_t cap = b->len + size + 1;
	unsigned char *p = xmalloc(cap);

	if (b->len)
		memcpy(p, b->p, b->len);
	memcpy(p + b->len, buf, size);
	p[b->len + size] = 0;
	size_t len = b->len + size;
	crypt_buf_wipe(b);
	b->p = p;
	b->len = len;
	return 0;
}

void crypt_json_dump_secret(const json_t *j, struct crypt_buf *out)
{
	crypt_buf_wipe(out);
	if (json_dump_callback(j, dump_cb, out, JSON_COMPACT) != 0)
		abort();
}

json_t *crypt_json_parse(const char *what, const void *buf, size_t len, struct cc_error **err)
{
	json_error_t jerr;
	json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!j) {
		cc_error_set(err, 0, "%s: invalid JSON at line %d column %d: %s", what, jerr.line,
			     jerr.column, jerr.text);
		return NULL;
	}
	return j;
}

int crypt_json_b64(const json_t *o, const char *key, enum crypt_b64 v, bool required,
		   const char *what, struct crypt_buf *out, struct cc_error **err)
{
	json_t *s = json_object_get(o, key);

	crypt_buf_wipe(out);
	if (!s || json_is_null(s)) {
		if (required)
			return cc_error_set(err, 0, "%s: \"%s\" is missing", what, key);
		return 0;
	}
	if (!json_is_string(s))
		return cc_error_set(err, 0, "%s: \"%s\" is a %s, not a string", what, key,
				    cc_json_type_name(s));
	if (crypt_b64_decode(json_string_value(s), json_string_length(s), v, out) < 0)
		return cc_error_set(err, 0, "%s: \"%s\" is not valid %s", what, key,
				    v == CRYPT_B64_URL ? "base64url" : "base64");
	return 0;
}

void crypt_random(void *buf, size_t len)
{
	if (RAND_priv_bytes(buf, (int)len) != 1)
		abort();
}

const char *crypt_ossl_error(char *buf, size_t len)
{
	unsigned long e = ERR_peek_last_error();
	if (!e)
		snprintf(buf, len, "unknown OpenSSL error");
	else
		ERR_error_string_n(e, buf, len);
	ERR_clear_error();
	return buf;
}

int crypt_read_secret_file(int dirfd, const char *path, size_t limit, struct crypt_buf *out,
			   struct cc_error **err)
{
	_cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	struct stat st;
	size_t cap, len = 0;

	if (fd < 0 || fstat(fd, &st) < 0)
		return cc_error_errno(err, "open %s", path);
	if (S_ISDIR(st.st_mode))
		return cc_error_set(err, EISDIR, "read %s", path);
	if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > limit)
		return cc_error_set(err, EFBIG, "read %s: larger than %zu bytes", path, limit);
	/* Regular files: their size (one more byte shows growth); pipes: the limit. */
	cap = S_ISREG(st.st_mode) ? (size_t)st.st_size + 1 : limit + 1;
	unsigned char *p = xmalloc(cap + 1);
	while (len < cap) {
		ssize_t n = read(fd, p + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				break;
			int e = errno;
			explicit_bzero(p, cap + 1);
			free(p);
			return cc_error_set(err, e, "read %s", path);
		}
		len += (size_t)n;
	}
	if (len == cap) {
		explicit_bzero(p, cap + 1);
		free(p);
		return cc_error_set(err, EFBIG, "read %s: larger than expected (%zu bytes at most)",
				    path, cap - 1);
	}
	p[len] = 0;
	crypt_buf_wipe(out);
	out->p = p;
	out->len = len;
	return 0;
}
