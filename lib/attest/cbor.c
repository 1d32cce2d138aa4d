// SPDX-License-Identifier: Apache-2.0
/* A bounded CBOR reader and a small writer (cbor.h). */
#include <stdlib.h>
#include <string.h>
#include "attest/cbor.h"
#include "util/cleanup.h"

const char *attest_cbor_type_name(enum attest_cbor_type t)
{
	static const char *const names[] = {
		"an unsigned integer",
		"a negative integer",
		"a byte string",
		"a text string",
		"an array",
		"a map",
		"a tag",
		"a simple value or float",
	};
	return (unsigned)t < ARRAY_SIZE(names) ? names[t] : "an invalid type";
}

void attest_cbor_reader_init(struct attest_cbor_reader *r, const void *buf, size_t len)
{
	r->start = r->p = buf;
	r->end = r->start + len;
}

bool attest_cbor_at_end(const struct attest_cbor_reader *r)
{
	return r->p == r->end;
}

size_t attest_cbor_offset(const struct attest_cbor_reader *r)
{
	return (size_t)(r->p - r->start);
}

static size_t left(const struct attest_cbor_reader *r)
{
	return (size_t)(r->end - r->p);
}

static const char *plural(size_t n)
{
	return n == 1 ? "" : "s";
}

/* The argument after the initial byte: in the byte itself below 24, else 1, 2, 4 or 8 bytes. */
static int read_argument(struct attest_cbor_reader *r, unsigned ai, uint64_t *value, size_t offset,
			 struct cc_error **err)
{
	if (ai < 24) {
		*value = ai;
		return 0;
	}
	if (ai == 31)
		return cc_error_set(err, 0, "CBOR: offset %zu: indefinite length is not supported",
				    offset);
	if (ai > 27)
		return cc_error_set(err, 0, "CBOR: offset %zu: reserved additional information %u",
				    offset, ai);
	size_t n = (size_t)1 << (ai - 24);
	if (left(r) < n)
		return cc_error_set(err, 0,
				    "CBOR: offset %zu: truncated: the head needs %zu more bytes, "
				    "%zu left",
				    offset, n, left(r));
	*value = 0;
	for (size_t i = 0; i < n; i++)
		*value = *value << 8 | *r->p++;
	return 0;
}

int attest_cbor_read(struct attest_cbor_reader *r, struct attest_cbor_item *it,
		     struct cc_error **err)
{
	size_t offset = attest_cbor_offset(r);
	if (!left(r))
		return cc_error_set(err, 0, "CBOR: offset %zu: truncated: an item expected",
				    offset);
	uint8_t ib = *r->p++;
	memset(it, 0, sizeof(*it));
	it->type = (enum attest_cbor_type)(ib >> 5);
	it->offset = offset;
	if (read_argument(r, ib & 0x1f, &it->value, offset, err) < 0)
		return -1;
	switch (it->type) {
	case ATTEST_CBOR_BSTR:
	case ATTEST_CBOR_TSTR:
		if (it->value > left(r))
			return cc_error_set(
			    err, 0, "CBOR: offset %zu: %s of %llu bytes but %zu byte%s left",
			    offset, it->type == ATTEST_CBOR_BSTR ? "byte string" : "text string",
			    (unsigned long long)it->value, left(r), plural(left(r)));
		it->data = r->p;
		r->p += it->value;
		return 0;
	case ATTEST_CBOR_ARRAY:
		if (it->value > left(r))
			return cc_error_set(
			    err, 0,
			    "CBOR: offset %zu: array of %llu elements but %zu byte%s "
			    "left",
			    offset, (unsigned long long)it->value, left(r), plural(left(r)));
		return 0;
	case ATTEST_CBOR_MAP:
		if (it->value > left(r) / 2)
			return cc_error_set(
			    err, 0, "CBOR: offset %zu: map of %llu pairs but %zu byte%s left",
			    offset, (unsigned long long)it->value, left(r), plural(left(r)));
		return 0;
	default:
		return 0;
	}
}

int attest_cbor_expect(struct attest_cbor_reader *r, enum attest_cbor_type want,
		       struct attest_cbor_item *it, struct cc_error **err)
{
	if (attest_cbor_read(r, it, err) < 0)
		return -1;
	if (it->type != want)
		return cc_error_set(err, 0, "CBOR: offset %zu: %s, expected %s", it->offset,
				    attest_cbor_type_name(it->type), attest_cbor_type_name(want));
	return 0;
}

int attest_cbor_skip(struct attest_cbor_reader *r, unsigned depth_max, struct cc_error **err)
{
	struct attest_cbor_item it;
	if (attest_cbor_read(r, &it, err) < 0)
		return -1;
	uint64_t children;
	switch (it.type) {
	case ATTEST_CBOR_ARRAY:
		children = it.value;
		break;
	case ATTEST_CBOR_MAP:
		children = 2 * it.value; /* no overflow: at most the bytes left */
		break;
	case ATTEST_CBOR_TAG:
		children = 1;
		break;
	default:
		return 0;
	}
	if (!depth_max)
		return cc_error_set(err, 0, "CBOR: offset %zu: nested deeper than %d", it.offset,
				    ATTEST_CBOR_DEPTH_MAX);
	for (uint64_t i = 0; i < children; i++)
		if (attest_cbor_skip(r, depth_max - 1, err) < 0)
			return -1;
	return 0;
}

int attest_cbor_check(const void *buf, size_t len, struct cc_error **err)
{
	struct attest_cbor_reader r;
	attest_cbor_reader_init(&r, buf, len);
	if (attest_cbor_skip(&r, ATTEST_CBOR_DEPTH_MAX, err) < 0)
		return -1;
	if (!attest_cbor_at_end(&r))
		return cc_error_set(err, 0, "CBOR: offset %zu: %zu byte%s after the item",
				    attest_cbor_offset(&r), left(&r), plural(left(&r)));
	return 0;
}

/* ---- the writer ---- */

void attest_cbor_put_raw(struct attest_cbor_writer *w, const void *data, size_t len)
{
	if (len > SIZE_MAX / 4 || w->len > SIZE_MAX / 4)
		abort(); /* the callers' buffers are bounded far below this */
	if (len > w->cap - w->len) {
		size_t cap = w->cap ? w->cap : 64;
		while (cap - w->len < len)
			cap *= 2;
		w->buf = xrealloc(w->buf, cap);
		w->cap = cap;
	}
	if (len)
		memcpy(w->buf + w->len, data, len);
	w->len += len;
}

void attest_cbor_put_head(struct attest_cbor_writer *w, enum attest_cbor_type t, uint64_t value)
{
	uint8_t head[9];
	size_t n;
	if (value < 24) {
		head[0] = (uint8_t)(t << 5 | value);
		attest_cbor_put_raw(w, head, 1);
		return;
	}
	if (value <= UINT8_MAX)
		n = 1;
	else if (value <= UINT16_MAX)
		n = 2;
	else if (value <= UINT32_MAX)
		n = 4;
	else
		n = 8;
	head[0] = (uint8_t)(t << 5 | (n == 1 ? 24 : n == 2 ? 25 : n == 4 ? 26 : 27));
	for (size_t i = 0; i < n; i++)
		head[1 + i] = (uint8_t)(value >> (8 * (n - 1 - i)));
	attest_cbor_put_raw(w, head, 1 + n);
}

void attest_cbor_put_string(struct attest_cbor_writer *w, enum attest_cbor_type t, const void *data,
			    size_t len)
{
	attest_cbor_put_head(w, t, len);
	attest_cbor_put_raw(w, data, len);
}
