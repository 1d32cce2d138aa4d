// SPDX-License-Identifier: Apache-2.0
/* Unit tests for lib/image/stream.c: verification and decompression stages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <isa-l/igzip_lib.h>
#include <zstd.h>
#include "image/error.h"
#include "image/stream.h"
#include "util/cleanup.h"

#define DATA_LEN (1u << 20)

/* Compressible but not trivial: a text-like pattern with a pseudo-random walk. */
static unsigned char *make_data(size_t len)
{
	unsigned char *d = xmalloc(len);
	uint32_t x = 12345;
	for (size_t i = 0; i < len; i++) {
		x = x * 1103515245u + 12345u;
		d[i] = (unsigned char)("abcdefgh \n"[(x >> 16) % 10]);
	}
	return d;
}

static unsigned char *gzip(const unsigned char *in, size_t len, size_t *out_len)
{
	struct isal_zstream z;
	size_t cap = len + len / 2 + 1024;
	unsigned char *out = xmalloc(cap);
	isal_deflate_init(&z);
	z.gzip_flag = IGZIP_GZIP;
	z.end_of_stream = 1;
	z.flush = NO_FLUSH;
	z.next_in = (uint8_t *)in;
	z.avail_in = (uint32_t)len;
	z.next_out = out;
	z.avail_out = (uint32_t)cap;
	assert_int_equal(isal_deflate(&z), COMP_OK);
	assert_int_equal(z.internal_state.state, ZSTATE_END);
	*out_len = z.total_out;
	return out;
}

static unsigned char *zstd(const unsigned char *in, size_t len, size_t *out_len)
{
	size_t cap = ZSTD_compressBound(len);
	unsigned char *out = xmalloc(cap);
	*out_len = ZSTD_compress(out, cap, in, len, 3);
	assert_false(ZSTD_isError(*out_len));
	return out;
}

/* Read everything through small, odd-sized reads; returns the bytes or NULL on error. */
static unsigned char *read_all(struct img_stream *s, size_t *len)
{
	size_t cap = 1024, n = 0;
	unsigned char *buf = xmalloc(cap);
	for (;;) {
		while (cap - n < 4096) {
			cap *= 2;
			buf = xrealloc(buf, cap);
		}
		ssize_t r = img_stream_read(s, buf + n, 4093);
		if (r < 0) {
			free(buf);
			return NULL;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*len = n;
	return buf;
}

static void expect_error(struct img_stream *s, const char *want)
{
	size_t n;
	unsigned char *got = read_all(s, &n);
	if (got) {
		free(got);
		fail_msg("no error, want \"%s\"", want);
	}
	const struct cc_error *e = img_stream_error(s);
	assert_non_null(e);
	if (!strstr(e->msg, want))
		fail_msg("got \"%s\", want \"%s\"", e->msg, want);
	img_stream_free(s);
}

/* The same, for a verification failure: the whole message, classified as the data's fault. */
static void expect_mismatch(struct img_stream *s, const char *want)
{
	size_t n;
	unsigned char *got = read_all(s, &n);
	if (got) {
		free(got);
		fail_msg("no error, want \"%s\"", want);
	}
	const struct cc_error *e = img_stream_error(s);
	assert_non_null(e);
	if (strncmp(e->msg, want, strlen(want)) != 0)
		fail_msg("got \"%s\", want \"%s\"", e->msg, want);
	assert_int_equal(e->code, IMG_ERR_INTEGRITY);
	img_stream_free(s);
}

static void test_verify(void **state)
{
	_cleanup_free_ unsigned char *data = make_data(DATA_LEN);
	_cleanup_free_ char *digest = img_digest_buf(data, DATA_LEN);
	struct img_stream *s =
	    img_stream_verify(img_stream_mem(data, DATA_LEN), "blob x", digest, DATA_LEN);
	size_t n;
	_cleanup_free_ unsigned char *got = read_all(s, &n);
	assert_non_null(got);
	assert_int_equal(n, DATA_LEN);
	assert_memory_equal(got, data, DATA_LEN);
	assert_null(img_stream_error(s));
	img_stream_free(s);

	/* Unknown size (-1): only the digest is checked. */
	s = img_stream_verify(img_stream_mem(data, DATA_LEN), "blob x", digest, -1);
	assert_int_equal(img_stream_drain(s), 0);
	img_stream_free(s);

	/* One byte changed: the digest no longer matches, at the end. */
	data[1000] ^= 1;
	s = img_stream_verify(img_stream_mem(data, DATA_LEN), "blob x", digest, DATA_LEN);
	expect_mismatch(s, "blob x: digest mismatch: the bytes hash to sha256:");
	data[1000] ^= 1;

	/* Shorter or longer than the descriptor says: a size mismatch, named before the digest
	 * (these read "truncated: ..." and "more than the ..." before). */
	s = img_stream_verify(img_stream_mem(data, DATA_LEN - 1), "blob x", digest, DATA_LEN);
	expect_mismatch(s, "blob x: size mismatch: got 1048575 of 1048576 bytes");
	s = img_stream_verify(img_stream_mem(data, 100), "blob x", digest, DATA_LEN);
	expect_mismatch(s, "blob x: size mismatch: got 100 of 1048576 bytes");
	s = img_stream_verify(img_stream_mem(data, DATA_LEN), "blob x", digest, 10);
	expect_mismatch(s, "blob x: size mismatch: more than the 10 bytes its descriptor gives");
	s = img_stream_verify(img_stream_mem(data, 10), "blob x", "md5:abc", 10);
	expect_error(s, "blob x: unsupported digest \"md5:abc\"");
}

static void check_roundtrip(enum img_compression c, const unsigned char *z, size_t zlen,
			    const unsigned char *data, size_t len)
{
	struct img_stream *s = img_stream_decompress(img_stream_mem(z, zlen), "layer", c);
	size_t n;
	_cleanup_free_ unsigned char *got = read_all(s, &n);
	if (!got)
		fail_msg("%s", img_stream_error(s)->msg);
	assert_int_equal(n, len);
	assert_memory_equal(got, data, len);
	img_stream_free(s);
}

static void test_gzip(void **state)
{
	_cleanup_free_ unsigned char *data = make_data(DATA_LEN);
	size_t zlen;
	_cleanup_free_ unsigned char *z = gzip(data, DATA_LEN, &zlen);
	assert_true(zlen < DATA_LEN * 3 / 4); /* it is compressed */
	check_roundtrip(IMG_LAYER_GZIP, z, zlen, data, DATA_LEN);

	/* Two concatenated members decode to both halves. */
	size_t a_len, b_len;
	_cleanup_free_ unsigned char *a = gzip(data, 1000, &a_len);
	_cleanup_free_ unsigned char *b = gzip(data + 1000, 5000, &b_len);
	_cleanup_free_ unsigned char *ab = xmalloc(a_len + b_len);
	memcpy(ab, a, a_len);
	memcpy(ab + a_len, b, b_len);
	check_roundtrip(IMG_LAYER_GZIP, ab, a_len + b_len, data, 6000);

	/* Damage. */
	expect_error(img_stream_decompress(img_stream_mem(z, zlen - 10), "layer l", IMG_LAYER_GZIP),
		     "layer l: truncated gzip stream");
	z[zlen - 5] ^= 0xff; /* in the CRC32 / size trailer */
	expect_error(img_stream_decompress(img_stream_mem(z, zlen), "layer l", IMG_LAYER_GZIP),
		     "layer l: invalid gzip data (checksum mismatch)");
	z[zlen - 5] ^= 0xff;
	expect_error(img_stream_decompress(img_stream_mem("plain text, not gzip", 20), "layer l",
					   IMG_LAYER_GZIP),
		     "layer l: invalid gzip data (bad header)");
	_cleanup_free_ unsigned char *trail = xmalloc(a_len + 3);
	memcpy(trail, a, a_len);
	memcpy(trail + a_len, "xyz", 3);
	expect_error(
	    img_stream_decompress(img_stream_mem(trail, a_len + 3), "layer l", IMG_LAYER_GZIP),
	    "layer l: trailing data after the gzip stream");
	expect_error(img_stream_decompress(img_stream_mem("", 0), "layer l", IMG_LAYER_GZIP),
		     "layer l: empty gzip stream");
}

static void test_zstd(void **state)
{
	_cleanup_free_ unsigned char *data = make_data(DATA_LEN);
	size_t zlen;
	_cleanup_free_ unsigned char *z = zstd(data, DATA_LEN, &zlen);
	check_roundtrip(IMG_LAYER_ZSTD, z, zlen, data, DATA_LEN);
	expect_error(img_stream_decompress(img_stream_mem(z, zlen - 10), "layer l", IMG_LAYER_ZSTD),
		     "layer l: truncated zstd stream");
	expect_error(img_stream_decompress(img_stream_mem("plain text, not zstd", 20), "layer l",
					   IMG_LAYER_ZSTD),
		     "layer l: invalid zstd data");
	/* Uncompressed layers pass through. */
	check_roundtrip(IMG_LAYER_TAR, data, 5000, data, 5000);
}

/* The whole chain: the message names the stage that found the problem. */
static void test_chain(void **state)
{
	_cleanup_free_ unsigned char *data = make_data(DATA_LEN);
	size_t zlen;
	_cleanup_free_ unsigned char *z = gzip(data, DATA_LEN, &zlen);
	_cleanup_free_ char *blob = img_digest_buf(z, zlen);
	_cleanup_free_ char *diff_id = img_digest_buf(data, DATA_LEN);

	struct img_stream *s = img_stream_verify(img_stream_mem(z, zlen), "blob", blob, zlen);
	s = img_stream_decompress(s, "layer", IMG_LAYER_GZIP);
	s = img_stream_verify(s, "layer diff_id", diff_id, -1);
	assert_int_equal(img_stream_drain(s), 0);
	img_stream_free(s);

	s = img_stream_verify(img_stream_mem(z, zlen), "blob", blob, zlen);
	s = img_stream_decompress(s, "layer", IMG_LAYER_GZIP);
	s = img_stream_verify(s, "layer diff_id", blob /* wrong */, -1);
	expect_error(s, "layer diff_id: digest mismatch");

	/* A registry that sends other bytes than the digest promises: the blob stage speaks,
	 * even though the decompressor sits above it. */
	_cleanup_free_ unsigned char *other = gzip(data, DATA_LEN - 1, &zlen);
	s = img_stream_verify(img_stream_mem(other, zlen), "blob", blob, -1);
	s = img_stream_decompress(s, "layer", IMG_LAYER_GZIP);
	s = img_stream_verify(s, "layer diff_id", diff_id, -1);
	expect_error(s, "blob: digest mismatch");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verify),
		cmocka_unit_test(test_gzip),
		cmocka_unit_test(test_zstd),
		cmocka_unit_test(test_chain),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
