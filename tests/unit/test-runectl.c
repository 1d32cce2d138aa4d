// SPDX-License-Identifier: Apache-2.0
/*
 * runectl (cmd/runectl): the aesmd messages against byte vectors worked out by hand from
 * aesmd's messages.proto (the field numbers are listed in cmd/runectl/aesm-msg.h), the response
 * decoder on truncated, oversized and garbage input, the transport against a fake aesmd (a
 * forked server on a unix socket in a temporary directory), gen-token, gen-qe-target-info and
 * gen-quote end to end through --aesm-socket, REPORT / TARGETINFO decoding against the
 * layout of include/enclave/sgx_report.h, and verify-quote on the real quotes and collateral of
 * tests/unit/data/attest ($ATTEST_TEST_DATA) with the facts documented in its SOURCES.md.
 *
 * The modules are compiled into this test (their static helpers included); the end-to-end
 * cases run the runectl binary of the same build ($RUNECTL_BIN, else found next to this test).
 *
 * How the vectors are derived. A protobuf key is the varint (field << 3 | wire type), wire type
 * 0 for varints and 2 for length-delimited bytes; a varint is 7 bits per byte, least
 * significant first, the top bit set on every byte but the last. So:
 *   field 1 LEN = 0x0a, 2 LEN = 0x12, 3 LEN = 0x1a, 1 varint = 0x08, 2 varint = 0x10,
 *   3 varint = 0x18, 4 varint = 0x20, 6 varint = 0x30, 9 varint = 0x48, 4 LEN = 0x22,
 *   15 LEN = 0x7a, 16 LEN = 128 + 2 = 130 = 82 01, 17 LEN = 138 = 8a 01, 20 LEN = 162 = a2 01;
 *   15000 = 0x3a98 = 117 * 128 + 24 -> 98 75; 32 -> 20; 256 = 2 * 128 -> 80 02;
 *   304 = 2 * 128 + 48 -> b0 02; 384 = 3 * 128 -> 80 03; 432 = 3 * 128 + 48 -> b0 03;
 *   512 = 4 * 128 -> 80 04; 2048 = 16 * 128 -> 80 10; 4096 = 32 * 128 -> 80 20.
 * Each vector below spells its lengths out next to it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "aesm-msg.c"
#include "aesm-client.c"
#include "common.c"
#include "sgx-struct.c"
#include "tmproot.h"

/* ---- byte vectors ---- */

struct vec {
	uint8_t *b;
	size_t n, cap;
};

static void v_raw(struct vec *v, const void *p, size_t n)
{
	if (v->n + n > v->cap) {
		v->cap = (v->n + n) * 2 + 64;
		v->b = xrealloc(v->b, v->cap);
	}
	memcpy(v->b + v->n, p, n);
	v->n += n;
}

/* Bytes written as hex pairs, spaces ignored: v_hex(&v, "1a ba 03"). */
static void v_hex(struct vec *v, const char *hex)
{
	for (const char *p = hex; *p;) {
		if (*p == ' ') {
			p++;
			continue;
		}
		uint8_t b;
		char pair[3] = { p[0], p[1], 0 };
		assert_int_equal(rc_unhex(pair, &b, 1), 0);
		v_raw(v, &b, 1);
		p += 2;
	}
}

static void v_fill(struct vec *v, uint8_t byte, size_t n)
{
	uint8_t *tmp = xmalloc(n);
	memset(tmp, byte, n);
	v_raw(v, tmp, n);
	free(tmp);
}

static void v_free(struct vec *v)
{
	free(v->b);
	*v = (struct vec){ 0 };
}

static void assert_bytes(const uint8_t *got, size_t got_len, const struct vec *want)
{
	assert_int_equal(got_len, want->n);
	for (size_t i = 0; i < want->n; i++)
		if (got[i] != want->b[i])
			fail_msg("byte %zu: got %02x, expected %02x", i, got[i], want->b[i]);
}

/* The ECDSA QE's att_key_id (aesm_ecdsa_att_key_id), built from its layout in aesm-msg.c:
 * mrsigner_length 32 at 4, Intel's QE MRSIGNER at 6, prod_id 1 at 54, algorithm_id 2 (ECDSA
 * P-256) at 154, zeros elsewhere. */
static void v_att_key_id(struct vec *v)
{
	size_t start = v->n;
	v_hex(v, "0000 0000 2000");
	v_hex(v, "8c4f5775d796503e96137f77c68a829a0056ac8ded70140b081b094490c57bff");
	v_fill(v, 0, 16); /* the rest of mrsigner[48] */
	v_hex(v, "01000000");
	v_fill(v, 0, 16 + 64 + 16); /* extended_prod_id, config_id, family_id */
	v_hex(v, "02000000");
	v_fill(v, 0, 256 - 158); /* spid, att_key_type, reserved */
	assert_int_equal(v->n - start, 256);
}

static void expect_error(int rc, struct cc_error **err, const char *msg)
{
	assert_int_equal(rc, -1);
	assert_non_null(*err);
	assert_string_equal((*err)->msg, msg);
	cc_error_free(err);
}

/* ---- protobuf primitives ---- */

static void test_varints(void **state)
{
	static const struct {
		uint64_t v;
		const char *hex;
	} cases[] = {
		{ 0, "00" },
		{ 1, "01" },
		{ 127, "7f" },
		{ 128, "8001" },
		{ 300, "ac02" }, /* 2 * 128 + 44 */
		{ 15000, "9875" },
		{ 60000, "e0d403" }, /* 3 * 16384 + 84 * 128 + 96 */
		{ UINT64_MAX, "ffffffffffffffffff01" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct aesm_pb_out o = { 0 };
		struct vec want = { 0 };
		aesm_pb_put_varint(&o, cases[i].v);
		v_hex(&want, cases[i].hex);
		assert_bytes(o.data, o.len, &want);
		/* and back, as field 1 */
		struct vec f = { 0 };
		v_hex(&f, "08");
		v_raw(&f, want.b, want.n);
		struct aesm_pb_reader r;
		struct aesm_pb_field fld;
		struct cc_error *err = NULL;
		aesm_pb_reader_init(&r, f.b, f.n);
		assert_int_equal(aesm_pb_next(&r, &fld, &err), 1);
		assert_int_equal(fld.number, 1);
		assert_int_equal(fld.wire, AESM_PB_VARINT);
		assert_true(fld.u == cases[i].v);
		assert_int_equal(aesm_pb_next(&r, &fld, &err), 0);
		free(o.data);
		v_free(&want);
		v_free(&f);
	}
}

/* Ill-formed fields: each refused with where and why. */
static void test_reader_errors(void **state)
{
	static const struct {
		const char *hex, *msg;
	} cases[] = {
		{ "08", "at byte 0: truncated varint" },
		{ "0880", "at byte 0: truncated varint" },
		{ "80", "at byte 0: truncated varint" },
		{ "08 80808080808080808080 01", "at byte 0: varint longer than 10 bytes" },
		{ "08 ffffffffffffffffff02", "at byte 0: varint does not fit 64 bits" },
		{ "00", "at byte 0: field number 0 out of range" },
		{ "0801 0b", "at byte 2: field 1: groups (wire type 3) are not supported" },
		{ "0c", "at byte 0: field 1: groups (wire type 4) are not supported" },
		{ "0e", "at byte 0: field 1: unknown wire type 6" },
		{ "0a05 0102", "at byte 0: field 1: 5 bytes announced, 2 left" },
		{ "0a ffffffffffffffffff01", "at byte 0: field 1: 18446744073709551615 bytes "
					     "announced, 0 left" },
		{ "09 01020304050607", "at byte 0: field 1: truncated 8-byte value" },
		{ "0d 010203", "at byte 0: field 1: truncated 4-byte value" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct vec v = { 0 };
		struct aesm_pb_reader r;
		struct aesm_pb_field f;
		struct cc_error *err = NULL;
		int rc;
		v_hex(&v, cases[i].hex);
		aesm_pb_reader_init(&r, v.b, v.n);
		while ((rc = aesm_pb_next(&r, &f, &err)) > 0)
			;
		expect_error(rc, &err, cases[i].msg);
		v_free(&v);
	}
	/* The largest field number, 2^29 - 1: key 0xfffffff8 = f8 ff ff ff 0f, then a varint. */
	struct vec v = { 0 };
	struct aesm_pb_reader r;
	struct aesm_pb_field f;
	struct cc_error *err = NULL;
	v_hex(&v, "f8ffffff0f 05");
	aesm_pb_reader_init(&r, v.b, v.n);
	assert_int_equal(aesm_pb_next(&r, &f, &err), 1);
	assert_int_equal(f.number, 536870911);
	assert_int_equal(f.u, 5);
	v_free(&v);
	/* One more: key (2^29 << 3) = 2^32 = 80 80 80 80 10. */
	v_hex(&v, "8080808010 00");
	aesm_pb_reader_init(&r, v.b, v.n);
	expect_error(aesm_pb_next(&r, &f, &err), &err,
		     "at byte 0: field number 536870912 out of range");
	v_free(&v);
}

/* ---- requests ---- */

static const uint8_t *pattern(uint8_t byte, size_t n)
{
	static uint8_t buf[512];
	assert_true(n <= sizeof(buf));
	memset(buf, byte, n);
	return buf;
}

static void test_request_init_quote(void **state)
{
	/* Request{ 1: InitQuoteRequest{ 9: 15000 } }: inner 48 98 75 (3 bytes) -> 0a 03 ... */
	struct vec want = { 0 };
	size_t len;
	v_hex(&want, "0a03 489875");
	_cleanup_free_ uint8_t *req = aesm_encode_init_quote(15000, &len);
	assert_bytes(req, len, &want);
	v_free(&want);
}

static void test_request_get_launch_token(void **state)
{
	/* Request{ 3: GetLaunchTokenRequest{ 1: mr_enclave (32 x 11), 2: modulus (384 x 22),
	 * 3: se_attributes (16 x 33), 9: 15000 } }
	 * inner: 0a 20 +32, 12 80 03 +384, 1a 10 +16, 48 98 75 = 34 + 387 + 18 + 3 = 442 bytes;
	 * 442 = 3 * 128 + 58 -> ba 03; outer 1a ba 03: 445 bytes in all. */
	struct vec want = { 0 };
	v_hex(&want, "1a ba03");
	v_hex(&want, "0a20");
	v_fill(&want, 0x11, 32);
	v_hex(&want, "12 8003");
	v_fill(&want, 0x22, 384);
	v_hex(&want, "1a10");
	v_fill(&want, 0x33, 16);
	v_hex(&want, "48 9875");
	assert_int_equal(want.n, 445);
	uint8_t mr[32], mod[384], attr[16];
	memset(mr, 0x11, sizeof(mr));
	memset(mod, 0x22, sizeof(mod));
	memset(attr, 0x33, sizeof(attr));
	size_t len;
	_cleanup_free_ uint8_t *req = aesm_encode_get_launch_token(mr, mod, attr, 15000, &len);
	assert_bytes(req, len, &want);
	v_free(&want);
}

static void test_request_get_quote(void **state)
{
	/* Request{ 2: GetQuoteRequest{ 1: report (432 x 44), 2: quote_type 1, 3: spid (16 x 55),
	 * 6: buf_size 2048, 9: 15000 } }
	 * inner: 0a b0 03 +432, 10 01, 1a 10 +16, 30 80 10, 48 98 75 = 435 + 2 + 18 + 3 + 3 = 461;
	 * 461 = 3 * 128 + 77 -> cd 03; outer 12 cd 03: 464 bytes. */
	struct vec want = { 0 };
	v_hex(&want, "12 cd03");
	v_hex(&want, "0a b003");
	v_fill(&want, 0x44, 432);
	v_hex(&want, "1001");
	v_hex(&want, "1a10");
	v_fill(&want, 0x55, 16);
	v_hex(&want, "30 8010");
	v_hex(&want, "48 9875");
	assert_int_equal(want.n, 464);
	uint8_t report[432], spid[16];
	memset(report, 0x44, sizeof(report));
	memset(spid, 0x55, sizeof(spid));
	size_t len;
	_cleanup_free_ uint8_t *req = aesm_encode_get_quote(report, 1, spid, 2048, 15000, &len);
	assert_bytes(req, len, &want);
	v_free(&want);
}

static void test_request_ecdsa(void **state)
{
	uint8_t id[256], report[432];
	size_t len;
	struct vec want = { 0 };

	/* The att_key_id itself. */
	aesm_ecdsa_att_key_id(id);
	v_att_key_id(&want);
	assert_bytes(id, sizeof(id), &want);
	v_free(&want);
	memset(report, 0x44, sizeof(report));

	/* Request{ 15: InitQuoteExRequest{ 1: att_key_id, 3: b_pub_key_id false, 9: 15000 } }
	 * inner: 0a 80 02 +256, 18 00, 48 98 75 = 259 + 2 + 3 = 264 = 2 * 128 + 8 -> 88 02;
	 * outer 7a 88 02: 267 bytes. (proto2 "required": false is sent.) */
	v_hex(&want, "7a 8802 0a 8002");
	v_att_key_id(&want);
	v_hex(&want, "1800 489875");
	assert_int_equal(want.n, 267);
	_cleanup_free_ uint8_t *size_req = aesm_encode_init_quote_ex(id, false, 99, 15000, &len);
	assert_bytes(size_req, len, &want);
	v_free(&want);

	/* ... { 1: att_key_id, 3: true, 4: buf_size 32, 9: 15000 }: 259 + 2 + 2 + 3 = 266 -> 8a 02
	 */
	v_hex(&want, "7a 8a02 0a 8002");
	v_att_key_id(&want);
	v_hex(&want, "1801 2020 489875");
	assert_int_equal(want.n, 269);
	_cleanup_free_ uint8_t *fetch_req = aesm_encode_init_quote_ex(id, true, 32, 15000, &len);
	assert_bytes(fetch_req, len, &want);
	v_free(&want);

	/* Request{ 16: GetQuoteSizeExRequest{ 1: att_key_id, 9: 15000 } }:
	 * 259 + 3 = 262 = 2 * 128 + 6 -> 86 02; outer key 82 01: 266 bytes. */
	v_hex(&want, "8201 8602 0a 8002");
	v_att_key_id(&want);
	v_hex(&want, "489875");
	assert_int_equal(want.n, 266);
	_cleanup_free_ uint8_t *qs_req = aesm_encode_get_quote_size_ex(id, 15000, &len);
	assert_bytes(qs_req, len, &want);
	v_free(&want);

	/* Request{ 17: GetQuoteExRequest{ 1: report, 2: att_key_id, 4: buf_size 4096, 9: 15000 } }:
	 * 435 + 259 + (20 80 20) 3 + 3 = 700 = 5 * 128 + 60 -> bc 05; outer 8a 01: 704 bytes. */
	v_hex(&want, "8a01 bc05 0a b003");
	v_fill(&want, 0x44, 432);
	v_hex(&want, "12 8002");
	v_att_key_id(&want);
	v_hex(&want, "20 8020 489875");
	assert_int_equal(want.n, 704);
	_cleanup_free_ uint8_t *q_req = aesm_encode_get_quote_ex(report, id, 4096, 15000, &len);
	assert_bytes(q_req, len, &want);
	v_free(&want);
}

/* ---- responses ---- */

static int decode_hex(enum aesm_op op, const char *hex, struct aesm_response *r,
		      struct cc_error **err)
{
	struct vec v = { 0 };
	v_hex(&v, hex);
	/* The response points into the buffer: keep it for the caller's checks. */
	static uint8_t keep[4096];
	assert_true(v.n <= sizeof(keep));
	if (v.n)
		memcpy(keep, v.b, v.n);
	int rc = aesm_decode_response(op, keep, v.n, r, err);
	v_free(&v);
	return rc;
}

/* GetLaunchTokenResponse{ 1: 0, 2: token (304 x 77) }: inner 08 00, 12 b0 02 +304 = 309 =
 * 2 * 128 + 53 -> b5 02; outer 1a b5 02: 312 bytes. */
static void v_token_response(struct vec *v)
{
	v_hex(v, "1a b502 0800 12 b002");
	v_fill(v, 0x77, 304);
	assert_int_equal(v->n, 312);
}

static void test_response_launch_token(void **state)
{
	struct vec v = { 0 };
	struct aesm_response r;
	struct cc_error *err = NULL;
	v_token_response(&v);
	assert_int_equal(aesm_decode_response(AESM_OP_GET_LAUNCH_TOKEN, v.b, v.n, &r, &err), 0);
	assert_int_equal(r.error_code, 0);
	assert_true(r.has[AESM_F_TOKEN]);
	assert_int_equal(r.len[AESM_F_TOKEN], 304);
	assert_memory_equal(r.data[AESM_F_TOKEN], pattern(0x77, 304), 304);
	v_free(&v);

	/* Unknown fields are skipped, inside and outside: outer field 30 (LEN, key f2 01) before,
	 * inner fields 7 varint (38 05), 8 fixed64 (41 +8), 9 fixed32 (4d +4), 10 LEN (52 02 +2):
	 * inner 2 + 307 + 2 + 9 + 5 + 4 = 329 = 2 * 128 + 73 -> c9 02. */
	v_hex(&v, "f201 03 aabbcc  1a c902 0800 3805 41 0102030405060708 4d 01020304 52 02 aabb");
	v_hex(&v, "12 b002");
	v_fill(&v, 0x77, 304);
	assert_int_equal(aesm_decode_response(AESM_OP_GET_LAUNCH_TOKEN, v.b, v.n, &r, &err), 0);
	assert_int_equal(r.len[AESM_F_TOKEN], 304);
	v_free(&v);
}

static void test_response_errors(void **state)
{
	static const struct {
		enum aesm_op op;
		const char *hex, *msg;
	} cases[] = {
		/* aesmd's error codes, by name (aesm_error_t); 1a 02 = GetLaunchTokenResponse of 2
		 * bytes, 08 06 = errorCode 6 */
		{ AESM_OP_GET_LAUNCH_TOKEN, "1a02 0806",
		  "aesmd: GetLaunchToken failed with AESM_GET_LICENSETOKEN_ERROR (6)" },
		{ AESM_OP_INIT_QUOTE, "0a02 0802",
		  "aesmd: InitQuote failed with AESM_NO_DEVICE_ERROR (2)" },
		{ AESM_OP_GET_QUOTE_EX, "8a0102 082a",
		  "aesmd: GetQuoteEx failed with AESM_ATT_KEY_NOT_INITIALIZED (42)" },
		{ AESM_OP_GET_QUOTE_SIZE_EX, "820102 0826",
		  "aesmd: GetQuoteSizeEx failed with AESM_UNSUPPORTED_ATT_KEY_ID (38)" },
		{ AESM_OP_GET_QUOTE, "1202 0863", "aesmd: GetQuote failed with error 99" },
		/* UnsupportedRequestResponse (field 20, key a2 01) instead of the answer */
		{ AESM_OP_GET_LAUNCH_TOKEN, "a201 02 0801",
		  "aesmd: GetLaunchToken is not supported by this aesmd (it answered "
		  "UnsupportedRequestResponse with AESM_UNEXPECTED_ERROR (1))" },
		/* the answer to another request */
		{ AESM_OP_GET_LAUNCH_TOKEN, "0a02 0800",
		  "aesmd's GetLaunchToken response: no GetLaunchTokenResponse in it" },
		{ AESM_OP_GET_LAUNCH_TOKEN, "",
		  "aesmd's GetLaunchToken response: no GetLaunchTokenResponse in it" },
		/* required errorCode missing; success without the token */
		{ AESM_OP_GET_LAUNCH_TOKEN, "1a00",
		  "aesmd's GetLaunchToken response: GetLaunchTokenResponse: no errorCode" },
		{ AESM_OP_GET_LAUNCH_TOKEN, "1a02 0800",
		  "aesmd's GetLaunchToken response: errorCode 0 but no token" },
		/* sizes of SGX structures are exact */
		{ AESM_OP_GET_LAUNCH_TOKEN, "1a05 0800 120100",
		  "aesmd's GetLaunchToken response: GetLaunchTokenResponse: token: 1 bytes, "
		  "expected 304" },
		{ AESM_OP_INIT_QUOTE, "0a06 0800 1a020102",
		  "aesmd's InitQuote response: InitQuoteResponse: gid: 2 bytes, expected 4" },
		/* numbers in range */
		{ AESM_OP_GET_QUOTE_SIZE_EX, "820104 0800 100a",
		  "aesmd's GetQuoteSizeEx response: GetQuoteSizeExResponse: quote_size: 10, "
		  "expected 1020 to 65536" },
		{ AESM_OP_GET_QUOTE_SIZE_EX, "820108 0800 108180808004",
		  "aesmd's GetQuoteSizeEx response: GetQuoteSizeExResponse: quote_size: "
		  "1073741825, expected 1020 to 65536" },
		{ AESM_OP_GET_LAUNCH_TOKEN, "1a06 088080808010",
		  "aesmd's GetLaunchToken response: GetLaunchTokenResponse: errorCode: "
		  "4294967296 does not fit 32 bits" },
		/* wire types and repeats */
		{ AESM_OP_GET_LAUNCH_TOKEN, "1a03 0a0100",
		  "aesmd's GetLaunchToken response: GetLaunchTokenResponse: field 1 (errorCode): "
		  "expected varint, got length-delimited" },
		{ AESM_OP_GET_LAUNCH_TOKEN, "1a04 0800 0800",
		  "aesmd's GetLaunchToken response: GetLaunchTokenResponse: field 1 (errorCode) "
		  "appears twice" },
		{ AESM_OP_GET_LAUNCH_TOKEN, "1a04 0800 1000",
		  "aesmd's GetLaunchToken response: GetLaunchTokenResponse: field 2 (token): "
		  "expected length-delimited, got varint" },
		{ AESM_OP_GET_LAUNCH_TOKEN, "1800",
		  "aesmd's GetLaunchToken response: field 3 (GetLaunchTokenResponse): expected "
		  "length-delimited, got varint" },
		{ AESM_OP_GET_LAUNCH_TOKEN, "1a00 1a00",
		  "aesmd's GetLaunchToken response: field 3 (GetLaunchTokenResponse) appears "
		  "twice" },
		/* truncated and garbage */
		{ AESM_OP_GET_LAUNCH_TOKEN, "1a05 0800",
		  "aesmd's GetLaunchToken response: at byte 0: field 3: 5 bytes announced, 2 "
		  "left" },
		{ AESM_OP_GET_LAUNCH_TOKEN, "1a02 08",
		  "aesmd's GetLaunchToken response: at byte 0: field 3: 2 bytes announced, 1 "
		  "left" },
		{ AESM_OP_GET_LAUNCH_TOKEN, "1a01 08",
		  "aesmd's GetLaunchToken response: GetLaunchTokenResponse: at byte 0: truncated "
		  "varint" },
		{ AESM_OP_GET_LAUNCH_TOKEN, "ffffff",
		  "aesmd's GetLaunchToken response: at byte 0: truncated varint" },
		{ AESM_OP_GET_LAUNCH_TOKEN, "0801 1b",
		  "aesmd's GetLaunchToken response: at byte 2: field 3: groups (wire type 3) are "
		  "not supported" },
		{ AESM_OP_GET_LAUNCH_TOKEN, "474554202f20485454502f312e310d0a",
		  "aesmd's GetLaunchToken response: at byte 0: field 8: unknown wire type 7" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct aesm_response r;
		struct cc_error *err = NULL;
		int rc = decode_hex(cases[i].op, cases[i].hex, &r, &err);
		if (rc == 0 || !err || strcmp(err->msg, cases[i].msg) != 0)
			fail_msg("case %zu (%s): got %d \"%s\"", i, cases[i].hex, rc,
				 err ? err->msg : "");
		/* an aesmd error carries its code */
		if (strstr(cases[i].msg, "failed with AESM_NO_DEVICE_ERROR"))
			assert_int_equal(err->code, 2);
		cc_error_free(&err);
	}
}

/* Quotes: bounded by AESM_QUOTE_MAX (64 KiB), and at least a quote's minimum. */
static void test_response_quote_sizes(void **state)
{
	struct vec v = { 0 };
	struct aesm_response r;
	struct cc_error *err = NULL;

	/* GetQuoteExResponse{ 1: 0, 2: quote of 65537 bytes }: 65537 = 4 * 16384 + 0 * 128 + 1
	 * -> 81 80 04; inner 2 + 1 + 3 + 65537 = 65543 -> 87 80 04; outer 8a 01 87 80 04. */
	v_hex(&v, "8a01 878004 0800 12 818004");
	v_fill(&v, 0xab, 65537);
	expect_error(aesm_decode_response(AESM_OP_GET_QUOTE_EX, v.b, v.n, &r, &err), &err,
		     "aesmd's GetQuoteEx response: GetQuoteExResponse: quote: 65537 bytes, "
		     "expected 1020 to 65536");
	v_free(&v);

	/* ... and 65536: accepted. 65536 -> 80 80 04; inner 65542 -> 86 80 04. */
	v_hex(&v, "8a01 868004 0800 12 808004");
	v_fill(&v, 0xab, 65536);
	assert_int_equal(aesm_decode_response(AESM_OP_GET_QUOTE_EX, v.b, v.n, &r, &err), 0);
	assert_int_equal(r.len[AESM_F_QUOTE], 65536);
	v_free(&v);

	/* GetQuoteResponse with a 100-byte quote: inner 08 00 12 64 +100 = 104 -> 68. */
	v_hex(&v, "12 68 0800 1264");
	v_fill(&v, 0xab, 100);
	expect_error(aesm_decode_response(AESM_OP_GET_QUOTE, v.b, v.n, &r, &err), &err,
		     "aesmd's GetQuote response: GetQuoteResponse: quote: 100 bytes, expected "
		     "436 to 65536");
	v_free(&v);

	/* InitQuoteExResponse: a pub_key_id_size over its bound; the member InitQuoteEx needs */
	expect_error(decode_hex(AESM_OP_INIT_QUOTE_EX, "7a05 0800 188110", &r, &err), &err,
		     "aesmd's InitQuoteEx response: InitQuoteExResponse: pub_key_id_size: 2049, "
		     "expected 1 to 1024");
	assert_int_equal(decode_hex(AESM_OP_INIT_QUOTE_EX, "7a04 0800 1820", &r, &err), 0);
	assert_int_equal(r.num[AESM_F_PUB_KEY_ID_SIZE], 32);
	assert_int_equal(aesm_response_require(&r, AESM_F_PUB_KEY_ID_SIZE, &err), 0);
	expect_error(aesm_response_require(&r, AESM_F_TARGET_INFO, &err), &err,
		     "aesmd's InitQuoteEx response: errorCode 0 but no target_info");
}

/* Every aesm_error_t code has its name; past the last, none. */
static void test_error_names(void **state)
{
	assert_string_equal(aesm_error_name(0), "AESM_SUCCESS");
	assert_string_equal(aesm_error_name(30), "AESM_SERVICE_UNAVAILABLE");
	assert_string_equal(aesm_error_name(31), "AESM_UNRECOGNIZED_PLATFORM");
	assert_string_equal(aesm_error_name(50), "AESM_KEY_CERTIFICATION_ERROR");
	assert_string_equal(aesm_error_name(51), "AESM_CONFIG_UNSUPPORTED");
	assert_null(aesm_error_name(52));
	for (uint32_t c = 0; c < 52; c++)
		assert_true(!strncmp(aesm_error_name(c), "AESM_", 5));
}

/* ---- a fake aesmd ---- */

enum fake_how {
	FAKE_REPLY,	  /* frame and send the canned response */
	FAKE_CLOSE,	  /* close without a word */
	FAKE_HALF_LENGTH, /* two bytes of the length, then close */
	FAKE_SHORT_BODY,  /* the length, half the body, then close */
	FAKE_HUGE,	  /* announce 1 MiB */
	FAKE_STALL,	  /* read the request, then say nothing */
};

struct fake_reply {
	enum fake_how how;
	const uint8_t *data;
	size_t len;
};

struct fake {
	pid_t pid;
	char *sock, *dir;
};

static void put_frame(int fd, const uint8_t *data, size_t len, size_t body_part)
{
	uint8_t head[4] = { (uint8_t)len, (uint8_t)(len >> 8), (uint8_t)(len >> 16),
			    (uint8_t)(len >> 24) };
	if (cc_write_all(fd, head, 4) < 0 || cc_write_all(fd, data, body_part) < 0)
		_exit(3);
}

/* The server's side of one connection: keep the request in DIR/req-I.bin, then answer. */
static void fake_serve(int c, const char *dir, size_t i, const struct fake_reply *r)
{
	uint8_t head[4];
	if (cc_read_all(c, head, 4) != 4)
		_exit(4);
	size_t n = rc_le32(head);
	if (n > (1u << 20))
		_exit(5);
	uint8_t *req = xmalloc(n);
	if ((size_t)cc_read_all(c, req, n) != n)
		_exit(6);
	char *path = xasprintf("%s/req-%zu.bin", dir, i);
	struct cc_error *err = NULL;
	if (cc_write_file(path, req, n, 0644, &err) < 0)
		_exit(7);
	free(path);
	free(req);
	switch (r->how) {
	case FAKE_REPLY:
		put_frame(c, r->data, r->len, r->len);
		break;
	case FAKE_HALF_LENGTH:
		if (cc_write_all(c, "\x10\x00", 2) < 0)
			_exit(8);
		break;
	case FAKE_SHORT_BODY:
		put_frame(c, r->data, r->len, r->len / 2);
		break;
	case FAKE_HUGE:
		put_frame(c, NULL, 1u << 20, 0);
		break;
	case FAKE_STALL:
		sleep(30);
		break;
	default:
		break;
	}
}

/* A server on DIR/aesm.sock answering one connection per reply, in order, then exiting. The
 * socket listens before this returns: no race with the client. */
static struct fake fake_start(const char *name, const struct fake_reply *replies, size_t n)
{
	struct fake f = { .dir = xasprintf("%s/%s", root, name) };
	assert_int_equal(mkdir(f.dir, 0700), 0);
	f.sock = xasprintf("%s/aesm.sock", f.dir);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	assert_true(strlen(f.sock) < sizeof(sa.sun_path));
	strcpy(sa.sun_path, f.sock);
	int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(l >= 0);
	assert_int_equal(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(l, 8), 0);
	f.pid = fork();
	assert_true(f.pid >= 0);
	if (f.pid == 0) {
		/* Never outlive the test, whatever becomes of it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		alarm(20);
		signal(SIGPIPE, SIG_IGN);
		for (size_t i = 0; i < n; i++) {
			int c = accept4(l, NULL, NULL, SOCK_CLOEXEC);
			if (c < 0)
				_exit(2);
			fake_serve(c, f.dir, i, &replies[i]);
			close(c);
		}
		_exit(0);
	}
	close(l);
	return f;
}

/* Reap the server (killed if it still waits, e.g. for a connection the client never made). */
static void fake_stop(struct fake *f)
{
	int status;
	for (int i = 0; i < 200; i++) {
		if (waitpid(f->pid, &status, WNOHANG) == f->pid)
			goto done;
		struct timespec t = { 0, 10 * 1000 * 1000 };
		nanosleep(&t, NULL);
	}
	kill(f->pid, SIGKILL);
	assert_int_equal(waitpid(f->pid, &status, 0), f->pid);
done:
	free(f->sock);
	free(f->dir);
}

/* The i-th request the fake aesmd received. */
static void assert_request(const struct fake *f, size_t i, const struct vec *want)
{
	_cleanup_free_ char *path = xasprintf("%s/req-%zu.bin", f->dir, i);
	struct cc_error *err = NULL;
	size_t len;
	_cleanup_free_ char *got = cc_read_file(path, 1u << 20, &len, &err);
	if (!got)
		fail_msg("%s", err->msg);
	assert_bytes((const uint8_t *)got, len, want);
}

/* ---- the transport ---- */

static void test_transport(void **state)
{
	struct vec token = { 0 };
	v_token_response(&token);
	const struct fake_reply replies[] = {
		{ FAKE_REPLY, token.b, token.n },      { FAKE_CLOSE }, { FAKE_HALF_LENGTH },
		{ FAKE_SHORT_BODY, token.b, token.n }, { FAKE_HUGE },  { FAKE_STALL },
	};
	struct fake f = fake_start("transport", replies, ARRAY_SIZE(replies));
	struct aesm_conn c = { f.sock, 200 };
	struct cc_error *err = NULL;
	uint8_t *resp = NULL;
	size_t len, n;
	_cleanup_free_ uint8_t *req = aesm_encode_init_quote(200, &len);

	/* a framed request, a framed answer */
	assert_int_equal(aesm_transact(&c, req, len, &resp, &n, &err), 0);
	assert_int_equal(n, token.n);
	assert_memory_equal(resp, token.b, n);
	free(resp);
	struct vec want = { 0 };
	v_hex(&want, "0a03 48c801"); /* timeout 200 = 1 * 128 + 72 -> c8 01 */
	assert_request(&f, 0, &want);
	v_free(&want);

	_cleanup_free_ char *closed =
	    xasprintf("aesmd at %s closed the connection without answering", f.sock);
	expect_error(aesm_transact(&c, req, len, &resp, &n, &err), &err, closed);
	_cleanup_free_ char *half = xasprintf(
	    "aesmd at %s closed the connection inside the response length (2 of 4 bytes)", f.sock);
	expect_error(aesm_transact(&c, req, len, &resp, &n, &err), &err, half);
	_cleanup_free_ char *shrt = xasprintf(
	    "aesmd at %s closed the connection after 156 of the 312 response bytes", f.sock);
	expect_error(aesm_transact(&c, req, len, &resp, &n, &err), &err, shrt);
	_cleanup_free_ char *huge = xasprintf("aesmd at %s announced a response of 1048576 "
					      "bytes, more than the 131072 allowed",
					      f.sock);
	expect_error(aesm_transact(&c, req, len, &resp, &n, &err), &err, huge);
	_cleanup_free_ char *stall = xasprintf("aesmd at %s did not answer within 0.2 s", f.sock);
	expect_error(aesm_transact(&c, req, len, &resp, &n, &err), &err, stall);
	fake_stop(&f);

	/* no aesmd */
	_cleanup_free_ char *none = xasprintf("%s/none.sock", root);
	struct aesm_conn nc = { none, 200 };
	_cleanup_free_ char *msg = xasprintf("cannot reach aesmd at %s: No such file or directory "
					     "(is the SGX PSW (aesmd) installed and running?)",
					     none);
	expect_error(aesm_transact(&nc, req, len, &resp, &n, &err), &err, msg);
	v_free(&token);
}

/* ---- runectl end to end ---- */

static char *runectl_bin(void)
{
	const char *env = getenv("RUNECTL_BIN");
	if (env && *env)
		return xstrdup(env);
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	assert_true(n > 0);
	self[n] = '\0';
	*strrchr(self, '/') = '\0'; /* BUILD/tests/unit */
	return xasprintf("%s/../../cmd/runectl/runectl", self);
}

struct run {
	int status;
	char *out, *err;
};

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
}

/* runectl with these arguments (NULL-terminated), in directory `cwd`. */
static struct run runectl(const char *cwd, const char *const *args)
{
	_cleanup_free_ char *bin = runectl_bin();
	_cleanup_free_ char *out = xasprintf("%s/stdout", root),
			    *err = xasprintf("%s/stderr", root);
	if (access(bin, X_OK) != 0)
		fail_msg("runectl not built at %s", bin);
	const char *argv[32] = { "runectl" };
	size_t n = 1;
	while (args[n - 1])
		argv[n] = args[n - 1], n++;
	argv[n] = NULL;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0 || chdir(cwd) < 0)
			_exit(127);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	struct run r;
	assert_int_equal(waitpid(pid, &r.status, 0), pid);
	assert_true(WIFEXITED(r.status));
	r.status = WEXITSTATUS(r.status);
	struct cc_error *e = NULL;
	r.out = cc_read_file(out, 0, NULL, &e);
	r.err = cc_read_file(err, 0, NULL, &e);
	assert_non_null(r.out);
	assert_non_null(r.err);
	return r;
}

static void assert_file(const char *path, const uint8_t *want, size_t n)
{
	struct cc_error *err = NULL;
	size_t len;
	_cleanup_free_ char *got = cc_read_file(path, 1u << 20, &len, &err);
	if (!got)
		fail_msg("%s", err->msg);
	assert_int_equal(len, n);
	assert_memory_equal(got, want, n);
}

static void write_file(const char *path, const void *data, size_t n)
{
	struct cc_error *err = NULL;
	assert_int_equal(cc_write_file(path, data, n, 0644, &err), 0);
}

/* A SIGSTRUCT: its headers, MODULUS 384 x 22, ATTRIBUTES flags 0x7 xfrm 0x3, MRENCLAVE 32 x 11. */
static void make_sigstruct(const char *path)
{
	uint8_t sig[1808];
	memset(sig, 0xee, sizeof(sig));
	memcpy(sig, "\x06\x00\x00\x00\xe1\x00\x00\x00\x00\x00\x01\x00", 12);
	memcpy(sig + 24, "\x01\x01\x00\x00\x60\x00\x00\x00\x60\x00\x00\x00\x01\x00\x00\x00", 16);
	memset(sig + 128, 0x22, 384);
	memcpy(sig + 928, "\x07\0\0\0\0\0\0\0\x03\0\0\0\0\0\0\0", 16);
	memset(sig + 960, 0x11, 32);
	write_file(path, sig, sizeof(sig));
}

static void test_gen_token(void **state)
{
	struct vec token = { 0 }, refused = { 0 }, want = { 0 };
	v_token_response(&token);
	v_hex(&refused, "1a02 0806");
	const struct fake_reply replies[] = {
		{ FAKE_REPLY, token.b, token.n },
		{ FAKE_REPLY, token.b, token.n },
		{ FAKE_REPLY, refused.b, refused.n },
	};
	struct fake f = fake_start("gen-token", replies, ARRAY_SIZE(replies));
	_cleanup_free_ char *sig = xasprintf("%s/enclave.sig", f.dir);
	_cleanup_free_ char *tok = xasprintf("%s/enclave.token", f.dir);
	_cleanup_free_ char *other = xasprintf("%s/other.token", f.dir);
	make_sigstruct(sig);

	/* the default output: enclave.sig -> enclave.token */
	struct run r =
	    runectl(f.dir, (const char *[]){ "gen-token", "--signature", sig, "--aesm-socket",
					     f.sock, "--timeout", "15", NULL });
	assert_int_equal(r.status, 0);
	assert_string_equal(r.err, "");
	_cleanup_free_ char *said = xasprintf("launch token (304 bytes) written to %s\n", tok);
	assert_string_equal(r.out, said);
	assert_file(tok, pattern(0x77, 304), 304);
	run_free(&r);
	/* the request: the SIGSTRUCT's ENCLAVEHASH, MODULUS and ATTRIBUTES (flags 7, xfrm 3) */
	v_hex(&want, "1a ba03 0a20");
	v_fill(&want, 0x11, 32);
	v_hex(&want, "12 8003");
	v_fill(&want, 0x22, 384);
	v_hex(&want, "1a10 0700000000000000 0300000000000000 48 9875");
	assert_request(&f, 0, &want);
	v_free(&want);

	/* --attributes / --xfrm override; --output */
	r = runectl(f.dir, (const char *[]){ "gen-token", "--signature", sig, "--attributes", "0x5",
					     "--xfrm", "231", "--output", other, "--aesm-socket",
					     f.sock, "--timeout", "15", NULL });
	assert_int_equal(r.status, 0);
	assert_file(other, pattern(0x77, 304), 304);
	run_free(&r);
	v_hex(&want, "1a ba03 0a20");
	v_fill(&want, 0x11, 32);
	v_hex(&want, "12 8003");
	v_fill(&want, 0x22, 384);
	v_hex(&want, "1a10 0500000000000000 e700000000000000 48 9875");
	assert_request(&f, 1, &want);
	v_free(&want);

	/* aesmd refuses: its error by name, nothing written */
	unlink(other);
	r = runectl(f.dir, (const char *[]){ "gen-token", "--signature", sig, "--output", other,
					     "--aesm-socket", f.sock, NULL });
	assert_int_equal(r.status, 1);
	assert_string_equal(r.err, "runectl: gen-token: aesmd: GetLaunchToken failed with "
				   "AESM_GET_LICENSETOKEN_ERROR (6)\n");
	assert_string_equal(r.out, "");
	assert_int_equal(access(other, F_OK), -1);
	run_free(&r);
	fake_stop(&f);

	/* a file that is not a SIGSTRUCT */
	uint8_t junk[1808] = { 0 };
	write_file(sig, junk, sizeof(junk));
	r = runectl(root, (const char *[]){ "gen-token", "--signature", sig, "--aesm-socket",
					    "/nonexistent", NULL });
	_cleanup_free_ char *bad =
	    xasprintf("runectl: gen-token: %s: not a SIGSTRUCT (its HEADER or HEADER2 is not "
		      "SGX's)\n",
		      sig);
	assert_int_equal(r.status, 1);
	assert_string_equal(r.err, bad);
	run_free(&r);
	write_file(sig, junk, 100);
	r = runectl(root, (const char *[]){ "gen-token", "--signature", sig, NULL });
	_cleanup_free_ char *small =
	    xasprintf("runectl: gen-token: %s: 100 bytes, a SIGSTRUCT has 1808\n", sig);
	assert_int_equal(r.status, 1);
	assert_string_equal(r.err, small);
	run_free(&r);
	v_free(&token);
	v_free(&refused);
}

/* A 512-byte TARGETINFO pattern: byte i is i * 7 mod 256. */
static const uint8_t *target_info(void)
{
	static uint8_t ti[512];
	for (size_t i = 0; i < sizeof(ti); i++)
		ti[i] = (uint8_t)(i * 7);
	return ti;
}

static void test_gen_qe_target_info(void **state)
{
	struct vec size = { 0 }, fetch = { 0 }, epid = { 0 }, want = { 0 };
	/* InitQuoteExResponse{ 1: 0, 3: pub_key_id_size 32 }: inner 08 00 18 20 (4 bytes) */
	v_hex(&size, "7a04 0800 1820");
	/* InitQuoteExResponse{ 1: 0, 2: target_info (512), 4: pub_key_id (32 x 99) }: inner
	 * 2 + 515 + 34 = 551 = 4 * 128 + 39 -> a7 04 */
	v_hex(&fetch, "7a a704 0800 12 8004");
	v_raw(&fetch, target_info(), 512);
	v_hex(&fetch, "2220");
	v_fill(&fetch, 0x99, 32);
	/* InitQuoteResponse{ 1: 0, 2: targetInfo (512), 3: gid 0a0b0c0d }: 2 + 515 + 6 = 523 =
	 * 4 * 128 + 11 -> 8b 04 */
	v_hex(&epid, "0a 8b04 0800 12 8004");
	v_raw(&epid, target_info(), 512);
	v_hex(&epid, "1a04 0a0b0c0d");
	const struct fake_reply replies[] = {
		{ FAKE_REPLY, size.b, size.n },
		{ FAKE_REPLY, fetch.b, fetch.n },
		{ FAKE_REPLY, epid.b, epid.n },
	};
	struct fake f = fake_start("gen-qe-target-info", replies, ARRAY_SIZE(replies));
	_cleanup_free_ char *out = xasprintf("%s/qe_targetinfo.bin", f.dir);

	/* ECDSA (the default): two InitQuoteEx, the output in the default place */
	struct run r = runectl(f.dir, (const char *[]){ "gen-qe-target-info", "--aesm-socket",
							f.sock, "--timeout", "15", NULL });
	assert_int_equal(r.status, 0);
	assert_string_equal(r.out, "ECDSA quoting enclave's TARGETINFO (512 bytes) written to "
				   "qe_targetinfo.bin\n");
	assert_file(out, target_info(), 512);
	run_free(&r);
	v_hex(&want, "7a 8802 0a 8002");
	v_att_key_id(&want);
	v_hex(&want, "1800 489875");
	assert_request(&f, 0, &want);
	v_free(&want);
	v_hex(&want, "7a 8a02 0a 8002");
	v_att_key_id(&want);
	v_hex(&want, "1801 2020 489875");
	assert_request(&f, 1, &want);
	v_free(&want);

	/* EPID: InitQuote; the target info on standard output */
	r = runectl(f.dir,
		    (const char *[]){ "gen-qe-target-info", "--quote-type", "epid", "--output", "-",
				      "--aesm-socket", f.sock, "--timeout", "15", NULL });
	assert_int_equal(r.status, 0);
	assert_memory_equal(r.out, target_info(), 512);
	assert_string_equal(r.err, "EPID group id: 0a0b0c0d\n");
	run_free(&r);
	v_hex(&want, "0a03 489875");
	assert_request(&f, 2, &want);
	v_free(&want);
	fake_stop(&f);
	v_free(&size);
	v_free(&fetch);
	v_free(&epid);
}

/* A v3 quote of n bytes (signature data n - 436) in a buffer of cap bytes (zeros after). */
static void v_quote(struct vec *v, size_t n, size_t cap)
{
	size_t start = v->n;
	v_hex(v, "0300 0200");
	v_fill(v, 0x5a, 428);
	uint8_t sig_len[4] = { (uint8_t)(n - 436), (uint8_t)((n - 436) >> 8), 0, 0 };
	v_raw(v, sig_len, 4);
	v_fill(v, 0xc3, n - 436);
	v_fill(v, 0, cap - n);
	assert_int_equal(v->n - start, cap);
}

static void test_gen_quote(void **state)
{
	struct vec qsize = { 0 }, ecdsa = { 0 }, epid = { 0 }, want = { 0 }, quote = { 0 };
	/* GetQuoteSizeExResponse{ 1: 0, 2: 1100 }: 1100 = 8 * 128 + 76 -> cc 08 */
	v_hex(&qsize, "8201 05 0800 10cc08");
	/* GetQuoteExResponse{ 1: 0, 2: quote (1100: a 1020-byte quote and 80 zeros) }: inner 2 +
	 * 3 + 1100 = 1105 = 8 * 128 + 81 -> d1 08 */
	v_hex(&ecdsa, "8a01 d108 0800 12 cc08");
	v_quote(&ecdsa, 1020, 1100);
	/* GetQuoteResponse{ 1: 0, 2: quote (2048: a 1116-byte quote, zeros) }: 2048 -> 80 10;
	 * inner 2 + 3 + 2048 = 2053 = 16 * 128 + 5 -> 85 10 */
	v_hex(&epid, "12 8510 0800 12 8010");
	v_quote(&epid, 1116, 2048);
	const struct fake_reply replies[] = {
		{ FAKE_REPLY, qsize.b, qsize.n },
		{ FAKE_REPLY, ecdsa.b, ecdsa.n },
		{ FAKE_REPLY, epid.b, epid.n },
	};
	struct fake f = fake_start("gen-quote", replies, ARRAY_SIZE(replies));
	_cleanup_free_ char *report = xasprintf("%s/report.bin", f.dir);
	_cleanup_free_ char *out = xasprintf("%s/quote.bin", f.dir);
	_cleanup_free_ char *epid_out = xasprintf("%s/epid.bin", f.dir);
	write_file(report, pattern(0x44, 432), 432);

	/* ECDSA: GetQuoteSizeEx, GetQuoteEx with that size; the quote cut at its own length */
	struct run r =
	    runectl(f.dir, (const char *[]){ "gen-quote", "--report", report, "--aesm-socket",
					     f.sock, "--timeout", "15", NULL });
	assert_int_equal(r.status, 0);
	assert_string_equal(r.out, "ECDSA quote (1020 bytes, version 3) written to quote.bin\n");
	v_quote(&quote, 1020, 1020);
	assert_file(out, quote.b, quote.n);
	v_free(&quote);
	run_free(&r);
	v_hex(&want, "8201 8602 0a 8002");
	v_att_key_id(&want);
	v_hex(&want, "489875");
	assert_request(&f, 0, &want);
	v_free(&want);
	/* ... GetQuoteExRequest with buf_size 1100 (cc 08): 435 + 259 + 3 + 3 = 700 -> bc 05 */
	v_hex(&want, "8a01 bc05 0a b003");
	v_fill(&want, 0x44, 432);
	v_hex(&want, "12 8002");
	v_att_key_id(&want);
	v_hex(&want, "20 cc08 489875");
	assert_request(&f, 1, &want);
	v_free(&want);

	/* EPID (an SPID given), linkable */
	r = runectl(f.dir,
		    (const char *[]){ "gen-quote", "--report", report, "--spid",
				      "55555555555555555555555555555555", "--linkable", "--output",
				      epid_out, "--aesm-socket", f.sock, "--timeout", "15", NULL });
	assert_int_equal(r.status, 0);
	v_quote(&quote, 1116, 1116);
	assert_file(epid_out, quote.b, quote.n);
	v_free(&quote);
	run_free(&r);
	v_hex(&want, "12 cd03 0a b003");
	v_fill(&want, 0x44, 432);
	v_hex(&want, "1001 1a10");
	v_fill(&want, 0x55, 16);
	v_hex(&want, "30 8010 48 9875");
	assert_request(&f, 2, &want);
	v_free(&want);
	fake_stop(&f);

	/* bad arguments, each one line */
	static const struct {
		const char *args[8];
		const char *msg;
	} bad[] = {
		{ { "gen-quote", NULL }, "--report FILE (the enclave's REPORT) is required" },
		{ { "gen-quote", "--report", "r", "--quote-type", "ecdsa", "--linkable", NULL },
		  "--spid and --linkable are for EPID quotes" },
		{ { "gen-quote", "--report", "r", "--quote-type", "epid", NULL },
		  "an EPID quote needs --spid (32 hex digits)" },
		{ { "gen-quote", "--report", "r", "--spid", "5555", NULL },
		  "--spid \"5555\": 32 hex digits (16 bytes) expected" },
		{ { "gen-quote", "--report", "r", "--quote-type", "dcap", NULL },
		  "--quote-type \"dcap\": ecdsa or epid expected" },
		{ { "gen-quote", "--report", "r", "--timeout", "0", NULL },
		  "--timeout \"0\": seconds, from 0.001 to 3600" },
		{ { "gen-quote", "--nonsense", NULL }, "unknown option --nonsense" },
		{ { "gen-quote", "--report", NULL }, "option --report needs a value" },
		{ { "gen-quote", "--report", "r", "extra", NULL },
		  "unexpected argument \"extra\" (usage: runectl gen-quote --report FILE "
		  "[options])" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		r = runectl(root, bad[i].args);
		_cleanup_free_ char *msg = xasprintf("runectl: gen-quote: %s\n", bad[i].msg);
		assert_int_equal(r.status, 1);
		assert_string_equal(r.err, msg);
		run_free(&r);
	}

	/* a simulated REPORT is refused before aesmd is asked */
	uint8_t sim[432] = { 0 };
	memcpy(sim + 384, SKEL_SIM_KEYID, strlen(SKEL_SIM_KEYID));
	write_file(report, sim, sizeof(sim));
	r = runectl(root, (const char *[]){ "gen-quote", "--report", report, NULL });
	_cleanup_free_ char *msg =
	    xasprintf("runectl: gen-quote: %s: a simulated REPORT (the skeleton PAL's): no "
		      "quoting enclave can verify it\n",
		      report);
	assert_int_equal(r.status, 1);
	assert_string_equal(r.err, msg);
	run_free(&r);
	v_free(&qsize);
	v_free(&ecdsa);
	v_free(&epid);
}

/* Without aesmd: one line naming the socket, exit 1, for every command that needs it. */
static void test_no_aesmd(void **state)
{
	_cleanup_free_ char *report = xasprintf("%s/noaesmd-report.bin", root);
	_cleanup_free_ char *sig = xasprintf("%s/noaesmd.sig", root);
	_cleanup_free_ char *sock = xasprintf("%s/no-aesmd.sock", root);
	write_file(report, pattern(0x44, 432), 432);
	make_sigstruct(sig);
	const char *const cmds[][6] = {
		{ "gen-quote", "--report", report, "--aesm-socket", sock, NULL },
		{ "gen-qe-target-info", "--aesm-socket", sock, NULL },
		{ "gen-token", "--signature", sig, "--aesm-socket", sock, NULL },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cmds); i++) {
		struct run r = runectl(root, cmds[i]);
		_cleanup_free_ char *msg =
		    xasprintf("runectl: %s: cannot reach aesmd at %s: No such file or directory "
			      "(is the SGX PSW (aesmd) installed and running?)\n",
			      cmds[i][0], sock);
		assert_int_equal(r.status, 1);
		assert_string_equal(r.err, msg);
		assert_string_equal(r.out, "");
		run_free(&r);
	}
}

/* ---- REPORT and TARGETINFO decoding ---- */

/* A REPORT whose every field holds a value of its own, placed by the SDM's offsets. */
static void make_report(uint8_t r[432])
{
	memset(r, 0, 432);
	memset(r + 0, 0xc1, 16);			/* CPUSVN */
	memcpy(r + 16, "\x78\x56\x34\x12", 4);		/* MISCSELECT 0x12345678 */
	memset(r + 32, 0xe1, 16);			/* ISVEXTPRODID */
	memcpy(r + 48, "\x07\x04\0\0\0\0\0\x40", 8);	/* FLAGS: INIT DEBUG MODE64BIT AEX_NOTIFY
							 * and bit 62 */
	memcpy(r + 56, "\xe7\0\0\0\0\0\0\0", 8);	/* XFRM 0xe7 */
	memset(r + 64, 0xaa, 32);			/* MRENCLAVE */
	memset(r + 128, 0xbb, 32);			/* MRSIGNER */
	memset(r + 192, 0xcc, 64);			/* CONFIGID */
	memcpy(r + 256, "\x34\x12\xff\xff\x02\x01", 6); /* ISVPRODID, ISVSVN, CONFIGSVN */
	memset(r + 304, 0xf1, 16);			/* ISVFAMILYID */
	for (int i = 0; i < 64; i++)			/* REPORTDATA 00 01 .. 3f */
		r[320 + i] = (uint8_t)i;
	memset(r + 384, 0x4b, 32); /* KEYID */
	memset(r + 416, 0x3c, 16); /* MAC */
}

static char *hex_of(uint8_t byte, size_t n)
{
	return rc_hex(pattern(byte, n), n);
}

static void assert_hex_member(const json_t *j, const char *key, uint8_t byte, size_t n)
{
	_cleanup_free_ char *want = hex_of(byte, n);
	assert_string_equal(json_string_value(json_object_get(j, key)), want);
}

static void test_report_decoding(void **state)
{
	uint8_t r[432];
	struct cc_error *err = NULL;
	make_report(r);
	_cleanup_json_ json_t *j = rc_sgx_struct_json("r", r, sizeof(r), &err);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "structure")), "REPORT");
	assert_string_equal(json_string_value(json_object_get(j, "type")), "sgx");
	assert_true(json_is_false(json_object_get(j, "simulated")));
	assert_hex_member(j, "cpu_svn", 0xc1, 16);
	assert_int_equal(json_integer_value(json_object_get(j, "misc_select")), 0x12345678);
	assert_hex_member(j, "isv_ext_prod_id", 0xe1, 16);
	json_t *a = json_object_get(j, "attributes");
	assert_string_equal(json_string_value(json_object_get(a, "flags")), "0x4000000000000407");
	assert_string_equal(json_string_value(json_object_get(a, "xfrm")), "0x00000000000000e7");
	_cleanup_free_ char *names = cc_json_dump(json_object_get(a, "flag_names"));
	assert_string_equal(names, "[\"INIT\",\"DEBUG\",\"MODE64BIT\",\"AEX_NOTIFY\",\"bit 62\"]");
	assert_true(json_is_true(json_object_get(a, "debug")));
	assert_hex_member(j, "mr_enclave", 0xaa, 32);
	assert_hex_member(j, "mr_signer", 0xbb, 32);
	assert_hex_member(j, "config_id", 0xcc, 64);
	assert_int_equal(json_integer_value(json_object_get(j, "isv_prod_id")), 0x1234);
	assert_int_equal(json_integer_value(json_object_get(j, "isv_svn")), 0xffff);
	assert_int_equal(json_integer_value(json_object_get(j, "config_svn")), 0x0102);
	assert_hex_member(j, "isv_family_id", 0xf1, 16);
	assert_string_equal(json_string_value(json_object_get(j, "report_data")),
			    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
			    "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f");
	assert_hex_member(j, "key_id", 0x4b, 32);
	assert_hex_member(j, "mac", 0x3c, 16);
	assert_int_equal(json_object_size(j), 17);

	/* the skeleton's marker KEYID: simulated */
	memset(r + 384, 0, 32);
	memcpy(r + 384, SKEL_SIM_KEYID, strlen(SKEL_SIM_KEYID));
	_cleanup_json_ json_t *s = rc_sgx_struct_json("r", r, sizeof(r), &err);
	assert_true(json_is_true(json_object_get(s, "simulated")));
	assert_string_equal(json_string_value(json_object_get(s, "type")),
			    "simulated (not hardware evidence)");
}

static void test_target_info_decoding(void **state)
{
	uint8_t t[512] = { 0 };
	struct cc_error *err = NULL;
	memset(t, 0xaa, 32);					    /* MRENCLAVE */
	memcpy(t + 32, "\x05\0\0\0\0\0\0\0\x03\0\0\0\0\0\0\0", 16); /* FLAGS, XFRM */
	memcpy(t + 50, "\x02\x01", 2);				    /* CONFIGSVN */
	memcpy(t + 52, "\x01\0\0\0", 4);			    /* MISCSELECT */
	memset(t + 64, 0xcc, 64);				    /* CONFIGID */
	_cleanup_json_ json_t *j = rc_sgx_struct_json("t", t, sizeof(t), &err);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "structure")), "TARGETINFO");
	assert_hex_member(j, "mr_enclave", 0xaa, 32);
	json_t *a = json_object_get(j, "attributes");
	assert_string_equal(json_string_value(json_object_get(a, "flags")), "0x0000000000000005");
	assert_true(json_is_false(json_object_get(a, "debug")));
	assert_int_equal(json_integer_value(json_object_get(j, "config_svn")), 0x0102);
	assert_int_equal(json_integer_value(json_object_get(j, "misc_select")), 1);
	assert_hex_member(j, "config_id", 0xcc, 64);
	assert_int_equal(json_object_size(j), 6);

	static const size_t sizes[] = { 0, 1, 431, 433, 511, 513 };
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		_cleanup_free_ char *msg = xasprintf(
		    "t: %zu bytes: neither a REPORT (432 bytes) nor a TARGETINFO (512 bytes)",
		    sizes[i]);
		assert_null(rc_sgx_struct_json("t", t, sizes[i], &err));
		expect_error(-1, &err, msg);
	}
}

/* runectl report: the text form, --json, and files of other sizes. */
static void test_report_command(void **state)
{
	uint8_t r[432];
	make_report(r);
	_cleanup_free_ char *path = xasprintf("%s/report-cmd.bin", root);
	write_file(path, r, sizeof(r));
	struct run run = runectl(root, (const char *[]){ "report", path, NULL });
	assert_int_equal(run.status, 0);
	assert_string_equal(
	    run.out,
	    "REPORT (432 bytes)\n"
	    "cpu_svn          c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1\n"
	    "misc_select      0x12345678\n"
	    "isv_ext_prod_id  e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1\n"
	    "attributes       flags 0x4000000000000407 (INIT DEBUG MODE64BIT AEX_NOTIFY bit 62), "
	    "xfrm 0x00000000000000e7\n"
	    "mr_enclave       aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
	    "mr_signer        bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\n"
	    "config_id        cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
	    "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc\n"
	    "isv_prod_id      4660\n"
	    "isv_svn          65535\n"
	    "config_svn       258\n"
	    "isv_family_id    f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1\n"
	    "report_data      000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	    "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f\n"
	    "key_id           4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b4b\n"
	    "mac              3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c\n");
	run_free(&run);

	run = runectl(root, (const char *[]){ "report", "--json", path, NULL });
	assert_int_equal(run.status, 0);
	struct cc_error *err = NULL;
	_cleanup_json_ json_t *j = cc_json_load_buf("out", run.out, strlen(run.out), &err);
	assert_non_null(j);
	assert_int_equal(json_integer_value(json_object_get(j, "isv_prod_id")), 0x1234);
	run_free(&run);

	/* other sizes: the file's size in one line, exit 1 */
	uint8_t big[2000] = { 0 };
	write_file(path, big, sizeof(big));
	run = runectl(root, (const char *[]){ "report", path, NULL });
	_cleanup_free_ char *msg = xasprintf("runectl: report: %s: 2000 bytes: neither a REPORT "
					     "(432 bytes) nor a TARGETINFO (512 bytes)\n",
					     path);
	assert_int_equal(run.status, 1);
	assert_string_equal(run.err, msg);
	assert_string_equal(run.out, "");
	run_free(&run);
	_cleanup_free_ char *missing = xasprintf("%s/missing.bin", root);
	run = runectl(root, (const char *[]){ "report", missing, NULL });
	_cleanup_free_ char *nofile =
	    xasprintf("runectl: report: open %s: No such file or directory\n", missing);
	assert_int_equal(run.status, 1);
	assert_string_equal(run.err, nofile);
	run_free(&run);
}

/* ---- verify-quote, against the real quotes and collateral of tests/unit/data/attest ---- */

static const char *attest_data(void)
{
	const char *d = getenv("ATTEST_TEST_DATA");
	if (!d || !*d)
		skip(); /* only the lib/attest block of tests/unit/meson.build sets it */
	return d;
}

/* runectl verify-quote ARGS: its exit status, its JSON (which it prints whether the quote
 * verifies or not), its stderr. */
static json_t *verify_quote(const char *const *args, int *status, char **err_out)
{
	struct run r = runectl(root, args);
	struct cc_error *err = NULL;
	*status = r.status;
	json_t *j = cc_json_load_buf("verify-quote output", r.out, strlen(r.out), &err);
	if (!j)
		fail_msg("%s\n%s", err->msg, r.err);
	*err_out = r.err;
	free(r.out);
	return j;
}

static const char *step_result(const json_t *j, size_t i, const char *name)
{
	json_t *st = json_array_get(json_object_get(j, "steps"), i);
	assert_string_equal(json_string_value(json_object_get(st, "step")), name);
	return json_string_value(json_object_get(st, "result"));
}

/* The quote failed at step `failed` (0 parse .. 5 collateral) with msg: steps before it ok,
 * after it not reached, one line on stderr, exit 1. */
static void assert_failed_at(const json_t *j, int status, const char *stderr_text, size_t failed,
			     const char *msg)
{
	static const char *const names[] = {
		"parse",	  "pck_chain",	     "qe_report_signature",
		"qe_report_data", "quote_signature", "collateral"
	};
	assert_int_equal(status, 1);
	assert_true(json_is_false(json_object_get(j, "verified")));
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		const char *want = i < failed ? "ok" : i == failed ? "failed" : "not reached";
		assert_string_equal(step_result(j, i, names[i]), want);
	}
	json_t *st = json_array_get(json_object_get(j, "steps"), failed);
	const char *got = json_string_value(json_object_get(st, "error"));
	if (strncmp(got, msg, strlen(msg)) != 0)
		fail_msg("step %zu: \"%s\", expected \"%s...\"", failed, got, msg);
	assert_string_equal(json_string_value(json_object_get(j, "error")), got);
	_cleanup_free_ char *line = xasprintf("runectl: verify-quote: %s\n", got);
	assert_string_equal(stderr_text, line);
}

static void test_verify_quote_sgx(void **state)
{
	const char *d = attest_data();
	_cleanup_free_ char *quote = xasprintf("%s/dcap-qvl-sgx-quote.bin", d);
	_cleanup_free_ char *col = xasprintf("%s/dcap-qvl-sgx-quote-collateral.json", d);
	int status;
	char *err;

	/* With its collateral, inside the collateral's window: the documented facts. */
	_cleanup_json_ json_t *j =
	    verify_quote((const char *[]){ "verify-quote", "--collateral", col, "--at",
					   "2025-07-01T00:00:00Z", quote, NULL },
			 &status, &err);
	assert_int_equal(status, 0);
	assert_string_equal(err, "");
	free(err);
	assert_true(json_is_true(json_object_get(j, "verified")));
	assert_string_equal(json_string_value(json_object_get(j, "at")), "2025-07-01T00:00:00Z");
	json_t *id = json_object_get(j, "identity");
	assert_string_equal(json_string_value(json_object_get(id, "mr_enclave")),
			    "33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb");
	assert_string_equal(json_string_value(json_object_get(id, "mr_signer")),
			    "815f42f11cf64430c30bab7816ba596a1da0130c3b028b673133a66cf9a3e0e6");
	assert_true(json_is_false(json_object_get(j, "debug")));
	_cleanup_free_ char *hello = rc_hex((const uint8_t *)"Hello, world!", 13);
	const char *rd = json_string_value(json_object_get(j, "report_data"));
	assert_int_equal(strlen(rd), 128);
	assert_memory_equal(rd, hello, 26);
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(j, "platform"), "fmspc")),
	    "00a067110000");
	json_t *tcb = json_object_get(j, "tcb");
	assert_string_equal(json_string_value(json_object_get(tcb, "status")),
			    "ConfigurationAndSWHardeningNeeded");
	assert_string_equal(json_string_value(json_object_get(tcb, "qe_status")), "UpToDate");
	_cleanup_free_ char *adv = cc_json_dump(json_object_get(tcb, "advisory_ids"));
	assert_string_equal(adv, "[\"INTEL-SA-00289\",\"INTEL-SA-00615\"]");
	assert_true(json_is_true(json_object_get(j, "crls_checked")));
	static const char *const names[] = {
		"parse",	  "pck_chain",	     "qe_report_signature",
		"qe_report_data", "quote_signature", "collateral"
	};
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		assert_string_equal(step_result(j, i, names[i]), "ok");

	/* Without collateral: genuine, TCB status unknown. */
	_cleanup_json_ json_t *n = verify_quote(
	    (const char *[]){ "verify-quote", quote, "--at", "2025-07-01T00:00:00Z", NULL },
	    &status, &err);
	free(err);
	assert_int_equal(status, 0);
	assert_string_equal(json_string_value(json_object_get(json_object_get(n, "tcb"), "status")),
			    "unknown: no collateral");
	assert_string_equal(step_result(n, 5, "collateral"), "skipped: no collateral");

	/* The collateral's last second has passed: the collateral step fails, by name. */
	_cleanup_json_ json_t *e =
	    verify_quote((const char *[]){ "verify-quote", "--collateral", col, "--at",
					   "2025-07-19T12:01:18+02:00", quote, NULL },
			 &status, &err);
	assert_failed_at(e, status, err, 5,
			 "quote: collateral: QE identity expired at 2025-07-19T10:01:18Z");
	free(err);
}

/* Flipped bits and a truncation fail at their step. */
static void test_verify_quote_mutated(void **state)
{
	const char *d = attest_data();
	_cleanup_free_ char *quote = xasprintf("%s/dcap-qvl-sgx-quote.bin", d);
	_cleanup_free_ char *bad = xasprintf("%s/mutated-quote.bin", root);
	struct cc_error *e = NULL;
	size_t len;
	_cleanup_free_ uint8_t *q = (uint8_t *)cc_read_file(quote, 0, &len, &e);
	assert_non_null(q);
	static const struct {
		size_t offset; /* v3 layout: body 48.., signature 436.., attestation key 500..,
				* QE report 564.. */
		size_t step;
		const char *msg;
	} cases[] = {
		{ 64 + 5, 4, "quote: signature does not verify with the attestation key" },
		{ 368 + 1, 4, "quote: signature does not verify with the attestation key" },
		{ 440, 4, "quote: signature does not verify with the attestation key" },
		{ 510, 3, "quote: QE report data does not bind the attestation key" },
		{ 600, 2, "quote: QE report signature does not verify with the PCK key" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		q[cases[i].offset] ^= 0x01;
		write_file(bad, q, len);
		q[cases[i].offset] ^= 0x01;
		int status;
		char *err;
		_cleanup_json_ json_t *j = verify_quote(
		    (const char *[]){ "verify-quote", "--at", "2025-07-01T00:00:00Z", bad, NULL },
		    &status, &err);
		assert_failed_at(j, status, err, cases[i].step, cases[i].msg);
		free(err);
	}
	/* before the PCK certificate's validity */
	int status;
	char *err;
	_cleanup_json_ json_t *early = verify_quote(
	    (const char *[]){ "verify-quote", "--at", "2015-01-01T00:00:00Z", quote, NULL },
	    &status, &err);
	assert_failed_at(early, status, err, 1, "quote: PCK chain: certificate ");
	free(err);
	/* truncated: the parse step, nothing about the enclave */
	write_file(bad, q, 1000);
	_cleanup_json_ json_t *t =
	    verify_quote((const char *[]){ "verify-quote", bad, NULL }, &status, &err);
	assert_failed_at(t, status, err, 0,
			 "quote: truncated: signature data length 4164 but 564 bytes left");
	assert_null(json_object_get(t, "identity"));
	free(err);
}

static void test_verify_quote_crls_and_tdx(void **state)
{
	const char *d = attest_data();
	_cleanup_free_ char *mc = xasprintf("%s/mobilecoin-hw-quote.bin", d);
	_cleanup_free_ char *root_crl = xasprintf("%s/mobilecoin-root-crl.der", d);
	_cleanup_free_ char *pck_crl = xasprintf("%s/mobilecoin-processor-crl.der", d);
	int status;
	char *err;

	_cleanup_json_ json_t *j =
	    verify_quote((const char *[]){ "verify-quote", "--crl", root_crl, "--crl", pck_crl,
					   "--at", "2023-05-01T00:00:00Z", mc, NULL },
			 &status, &err);
	assert_int_equal(status, 0);
	free(err);
	assert_true(json_is_true(json_object_get(j, "crls_checked")));
	assert_true(json_is_true(json_object_get(j, "debug")));
	/* with CRLs, every certificate below the root needs one */
	_cleanup_json_ json_t *half =
	    verify_quote((const char *[]){ "verify-quote", "--crl", root_crl, "--at",
					   "2023-05-01T00:00:00Z", mc, NULL },
			 &status, &err);
	assert_failed_at(half, status, err, 1,
			 "quote: PCK chain: certificate 1: no CRL of the Intel SGX PCK Processor "
			 "CA given");
	free(err);

	_cleanup_free_ char *tdx = xasprintf("%s/dcap-qvl-tdx-quote.bin", d);
	_cleanup_free_ char *tdx_col = xasprintf("%s/dcap-qvl-tdx-quote-collateral.json", d);
	_cleanup_json_ json_t *t =
	    verify_quote((const char *[]){ "verify-quote", "--collateral", tdx_col, "--at",
					   "2025-07-19T10:00:34Z", tdx, NULL },
			 &status, &err);
	assert_int_equal(status, 0);
	free(err);
	json_t *quote = json_object_get(t, "quote");
	assert_string_equal(json_string_value(json_object_get(quote, "tee")), "TDX");
	assert_int_equal(json_integer_value(json_object_get(quote, "version")), 4);
	assert_string_equal(json_string_value(json_object_get(json_object_get(t, "tcb"), "status")),
			    "UpToDate");
	assert_non_null(json_object_get(json_object_get(t, "identity"), "mr_td"));
}

static void test_verify_quote_bad_arguments(void **state)
{
	static const struct {
		const char *args[6];
		const char *msg;
	} cases[] = {
		{ { "verify-quote", "--at", "yesterday", "q", NULL },
		  "--at \"yesterday\": an RFC 3339 time expected (2025-07-01T00:00:00Z)" },
		{ { "verify-quote", "--at", "2025-07-01T00:00:00", "q", NULL },
		  "--at \"2025-07-01T00:00:00\": an RFC 3339 time expected "
		  "(2025-07-01T00:00:00Z)" },
		{ { "verify-quote", NULL },
		  "missing argument (usage: runectl verify-quote [options] "
		  "FILE)" },
		{ { "verify-quote", "/nonexistent/quote", NULL },
		  "open /nonexistent/quote: No such file or directory" },
		{ { "verify-quote", "--collateral", "/nonexistent", "q", NULL },
		  "--collateral /nonexistent: No such file or directory" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct run r = runectl(root, cases[i].args);
		_cleanup_free_ char *msg = xasprintf("runectl: verify-quote: %s\n", cases[i].msg);
		assert_int_equal(r.status, 1);
		assert_string_equal(r.err, msg);
		assert_string_equal(r.out, "");
		run_free(&r);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_varints),
		cmocka_unit_test(test_reader_errors),
		cmocka_unit_test(test_request_init_quote),
		cmocka_unit_test(test_request_get_launch_token),
		cmocka_unit_test(test_request_get_quote),
		cmocka_unit_test(test_request_ecdsa),
		cmocka_unit_test(test_response_launch_token),
		cmocka_unit_test(test_response_errors),
		cmocka_unit_test(test_response_quote_sizes),
		cmocka_unit_test(test_error_names),
		cmocka_unit_test(test_transport),
		cmocka_unit_test(test_gen_token),
		cmocka_unit_test(test_gen_qe_target_info),
		cmocka_unit_test(test_gen_quote),
		cmocka_unit_test(test_no_aesmd),
		cmocka_unit_test(test_report_decoding),
		cmocka_unit_test(test_target_info_decoding),
		cmocka_unit_test(test_report_command),
		cmocka_unit_test(test_verify_quote_sgx),
		cmocka_unit_test(test_verify_quote_mutated),
		cmocka_unit_test(test_verify_quote_crls_and_tdx),
		cmocka_unit_test(test_verify_quote_bad_arguments),
	};
	return cmocka_run_group_tests(tests, tmproot_setup, tmproot_teardown);
}
