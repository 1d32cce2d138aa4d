/* SPDX-License-Identifier: Apache-2.0 */
/* What the lib/attest unit tests share: the test data files and hex for messages. */
#pragma once

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/hex.h"

struct bytes {
	uint8_t *p;
	size_t len;
};

static inline void bytes_free(struct bytes *b)
{
	free(b->p);
}
#define _cleanup_bytes_ __attribute__((cleanup(bytes_free)))

/* A file of tests/unit/data/attest ($ATTEST_TEST_DATA), whole. */
static inline struct bytes read_data(const char *name)
{
	const char *dir = getenv("ATTEST_TEST_DATA");
	struct cc_error *err = NULL;
	struct bytes b;
	assert_non_null(dir);
	_cleanup_free_ char *path = xasprintf("%s/%s", dir, name);
	b.p = (uint8_t *)cc_read_file(path, 0, &b.len, &err);
	if (!b.p)
		fail_msg("%s", err->msg);
	return b;
}

static inline char *hex(const uint8_t *b, size_t len)
{
	return cc_hex(b, len);
}

/* ---- DER built by hand, for the SGX extension of test certificates ---- */

struct der {
	uint8_t b[4096];
	size_t len;
};

static inline void der_put(struct der *d, const void *p, size_t n)
{
	assert_true(d->len + n <= sizeof(d->b));
	memcpy(d->b + d->len, p, n);
	d->len += n;
}

/* tag, length (short or two-byte long form) and content. */
static inline void tlv(struct der *d, uint8_t tag, const struct der *content)
{
	uint8_t h[4] = { tag };
	size_t n = content->len, hl = 2;
	if (n >= 128) {
		h[1] = 0x82;
		h[2] = (uint8_t)(n >> 8);
		h[3] = (uint8_t)n;
		hl = 4;
	} else {
		h[1] = (uint8_t)n;
	}
	der_put(d, h, hl);
	der_put(d, content->b, n);
}

static inline void tlv_raw(struct der *d, uint8_t tag, const void *p, size_t n)
{
	struct der c = { .len = 0 };
	der_put(&c, p, n);
	tlv(d, tag, &c);
}

/* SEQUENCE { OID 1.2.840.113741.1.13.1.<arc>[.<arc2>], value } */
static inline void pair(struct der *d, int arc, int arc2, const struct der *value)
{
	static const uint8_t base[] = { 0x2a, 0x86, 0x48, 0x86, 0xf8, 0x4d, 0x01, 0x0d, 0x01 };
	struct der oid = { .len = 0 }, seq = { .len = 0 };
	uint8_t a[2] = { (uint8_t)arc, (uint8_t)arc2 };
	der_put(&oid, base, sizeof(base));
	der_put(&oid, a, arc2 ? 2 : 1);
	tlv(&seq, 0x06, &oid);
	der_put(&seq, value->b, value->len);
	tlv(d, 0x30, &seq);
}

/* An INTEGER below 2^24 in minimal two's complement (leading zeros dropped, sign bit clear). */
static inline struct der der_integer(unsigned v)
{
	struct der d = { .len = 0 };
	uint8_t b[3] = { (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
	size_t i = 0;
	while (i < 2 && b[i] == 0 && !(b[i + 1] & 0x80))
		i++;
	tlv_raw(&d, 0x02, b + i, 3 - i);
	return d;
}

/* ---- error expectations ---- */

/* *err is exactly want (one line); it is freed. */
static inline void expect_err(struct cc_error **err, const char *want)
{
	assert_non_null(*err);
	if (strcmp((*err)->msg, want))
		fail_msg("message\n  got:  %s\n  want: %s", (*err)->msg, want);
	cc_error_free(err);
}

/* *err is one line starting with prefix; it is freed. */
static inline void expect_prefix(struct cc_error **err, const char *prefix)
{
	assert_non_null(*err);
	if (strncmp((*err)->msg, prefix, strlen(prefix)) || strchr((*err)->msg, '\n'))
		fail_msg("message %s does not start with %s", (*err)->msg, prefix);
	cc_error_free(err);
}

/* A call that must succeed without leaving an error. */
static inline void ok(int r, struct cc_error **err)
{
	if (r < 0)
		fail_msg("%s", *err ? (*err)->msg : "(no message)");
	assert_null(*err);
}
