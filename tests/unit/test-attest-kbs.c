// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for lib/attest's KBS binding: RFC 8785 canonical JSON (trustee's test vector; the
 * RFC's sorting and string examples; the integer forms; control characters, NUL, invalid UTF-8,
 * depth) and the report data of a KBS session (SHA-384 by default, SHA-256 and SHA-512 when
 * negotiated, zero-padded to 64 bytes). The expected canonical forms and digests were worked
 * out by hand from RFC 8785 and checked with ECMAScript's JSON.stringify over sorted keys, which
 * is what the RFC specifies; they are literals here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "attest-helpers.h"
#include <openssl/evp.h>
#include "attest/kbs-bind.h"
#include "util/cleanup.h"
#include "util/json.h"

/* Any JSON value, as strictly as lib/util reads documents. */
static json_t *parse(const char *text)
{
	json_error_t e;
	json_t *j = json_loadb(text, strlen(text),
			       JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &e);
	if (!j)
		fail_msg("%s: line %d column %d: %s", text, e.line, e.column, e.text);
	return j;
}

/* The canonical form of v is want (len bytes, which may hold anything but NUL), and parsing
 * it back gives the same canonical form again. */
static void canon_is(const json_t *v, const char *want)
{
	struct cc_error *err = NULL;
	size_t len = 0;
	_cleanup_free_ char *got = attest_jcs(v, &len, &err);
	if (!got)
		fail_msg("%s", err->msg);
	assert_int_equal(len, strlen(got));
	if (strcmp(got, want))
		fail_msg("canonical form\n  got:  %s\n  want: %s", got, want);
	_cleanup_json_ json_t *back = parse(got);
	_cleanup_free_ char *again = attest_jcs(back, NULL, &err);
	assert_non_null(again);
	assert_string_equal(again, got);
}

static void text_is(const char *json, const char *want)
{
	_cleanup_json_ json_t *j = parse(json);
	canon_is(j, want);
}

static void refused(const json_t *v, const char *want)
{
	struct cc_error *err = NULL;
	size_t len = 7;
	assert_null(attest_jcs(v, &len, &err));
	assert_int_equal(len, 7);
	expect_err(&err, want);
}

static void digest(const char *md, const void *data, size_t len, uint8_t *out, size_t want)
{
	size_t n = 0;
	assert_int_equal(EVP_Q_digest(NULL, md, NULL, data, len, out, &n), 1);
	assert_int_equal(n, want);
}

/* trustee's test vector: JCS of {"b":1,"a":"test","c":{"d":"e"}} and its SHA-384. */
static void test_trustee_vector(void **state)
{
	static const char want[] = "{\"a\":\"test\",\"b\":1,\"c\":{\"d\":\"e\"}}";
	struct cc_error *err = NULL;
	text_is("{\"b\":1,\"a\":\"test\",\"c\":{\"d\":\"e\"}}", want);
	text_is("{ \"c\" : { \"d\" : \"e\" } ,\n\t\"a\":\"test\", \"b\" : 1 }", want);

	uint8_t rd[64], md[48];
	assert_int_equal(attest_hash_padded(ATTEST_HASH_SHA384, want, strlen(want), rd, &err), 0);
	_cleanup_free_ char *h = hex(rd, 48);
	assert_string_equal(h, "e71ce8e70d814ba6639c3612ebee0ff1f76f650f8dbb5e47157e0f3f525cd22c"
			       "4597480a186427c813ca941da78870c3");
	digest("SHA384", want, strlen(want), md, 48);
	assert_memory_equal(rd, md, 48);
	uint8_t zero[16] = { 0 };
	assert_memory_equal(rd + 48, zero, 16);
}

/* RFC 8785 section 3.2.3: names sorted as UTF-16 code units, not as UTF-8 bytes or code
 * points (U+1F600 is D83D DE00, before U+FB33; in UTF-8 it would come after). */
static void test_sorting(void **state)
{
	text_is(
	    "{\"\\u20ac\":\"Euro Sign\",\"\\r\":\"Carriage Return\",\"\\ufb33\":\"Hebrew Letter "
	    "Dalet With Dagesh\",\"1\":\"One\",\"\\ud83d\\ude00\":\"Emoji: Grinning Face\","
	    "\"\\u0080\":\"Control\",\"\\u00f6\":\"Latin Small Letter O With Diaeresis\"}",
	    "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\xc2\x80\":\"Control\","
	    "\"\xc3\xb6\":\"Latin Small Letter O With Diaeresis\",\"\xe2\x82\xac\":\"Euro Sign\","
	    "\"\xf0\x9f\x98\x80\":\"Emoji: Grinning Face\","
	    "\"\xef\xac\xb3\":\"Hebrew Letter Dalet With Dagesh\"}");
	/* A prefix first, the empty name first of all, upper case before lower. */
	text_is("{\"z\":[],\"y\":{},\"x\":[true,false,null,[[]]],\"\":\"empty\",\"aa\":1,\"a\":2,"
		"\"A\":3}",
		"{\"\":\"empty\",\"A\":3,\"a\":2,\"aa\":1,\"x\":[true,false,null,[[]]],\"y\":{},"
		"\"z\":[]}");
	/* Supplementary characters by their surrogates (D83D DE00 < D83D DE01), and so before
	 * U+E000 and U+FFFF, which code-point or UTF-8 order would put first. */
	text_is("{\"\\ud83d\\ude01\":1,\"\\ud83d\\ude00\":2,\"\\uffff\":3,\"\\ue000\":4}",
		"{\"\xf0\x9f\x98\x80\":2,\"\xf0\x9f\x98\x81\":1,\"\xee\x80\x80\":4,"
		"\"\xef\xbf\xbf\":3}");
	/* Arrays keep their order; nested objects are sorted too. */
	text_is("[{\"b\":[3,2,1],\"a\":{\"y\":1,\"x\":2}},\"s\"]",
		"[{\"a\":{\"x\":2,\"y\":1},\"b\":[3,2,1]},\"s\"]");
}

/* RFC 8785 section 3.2.2.2 and ECMAScript's JSON.stringify for strings. */
static void test_strings(void **state)
{
	/* The RFC's example. */
	text_is("[\"\\u20ac$\\u000F\\u000aA'\\u0042\\u0022\\u005c\\\\\\\"\\/\"]",
		"[\"\xe2\x82\xac$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"]");
	/* Every kind of control character; DEL, U+00A0, U+2028 and an emoji as they are. */
	text_is("\"\\u0000\\u0001\\u0007\\b\\t\\n\\u000b\\f\\r\\u000e\\u001f "
		"\\u007f\\u00a0\\u2028\\ud83d\\ude00\"",
		"\"\\u0000\\u0001\\u0007\\b\\t\\n\\u000b\\f\\r\\u000e\\u001f "
		"\x7f\xc2\xa0\xe2\x80\xa8\xf0\x9f\x98\x80\"");
	/* A name with a NUL and a newline (which jansson cannot read back: no round trip). */
	struct cc_error *err = NULL;
	_cleanup_json_ json_t *o = json_object();
	assert_int_equal(json_object_setn_new(o, "a\0b\n", 4, json_string("v")), 0);
	_cleanup_free_ char *nul = attest_jcs(o, NULL, &err);
	assert_non_null(nul);
	assert_string_equal(nul, "{\"a\\u0000b\\n\":\"v\"}");
	/* The largest code point. */
	_cleanup_json_ json_t *max = json_stringn("\xf4\x8f\xbf\xbf", 4);
	assert_non_null(max);
	canon_is(max, "\"\xf4\x8f\xbf\xbf\"");
}

static void test_invalid_utf8(void **state)
{
	static const char *const bad[] = {
		"\xff",		    /* never in UTF-8 */
		"\xc0\xaf",	    /* overlong '/' */
		"\xe0\x80\xaf",	    /* overlong '/' in three bytes */
		"\xed\xa0\x80",	    /* a surrogate */
		"\xe2\x82",	    /* truncated */
		"\xf4\x90\x80\x80", /* above U+10FFFF */
		"a\x80",	    /* a lone continuation byte */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		_cleanup_json_ json_t *s = json_stringn_nocheck(bad[i], strlen(bad[i]));
		refused(s, "JCS: a string is not valid UTF-8");
		_cleanup_json_ json_t *o = json_object();
		assert_int_equal(json_object_set_new_nocheck(o, bad[i], json_true()), 0);
		refused(o, "JCS: a member name is not valid UTF-8");
		/* Deep inside, the same. */
		_cleanup_json_ json_t *a = json_pack("[{s:[O]}]", "k", s);
		assert_non_null(a);
		refused(a, "JCS: a string is not valid UTF-8");
	}
}

/* ECMAScript's Number.prototype.toString for the integers emitted; other numbers refused. */
static void test_numbers(void **state)
{
	text_is("[0,-0,1,-1,9007199254740992,-9007199254740992,1.0,1e2,-0.0,100E-2,1234567890]",
		"[0,0,1,-1,9007199254740992,-9007199254740992,1,100,0,1,1234567890]");
	_cleanup_json_ json_t *big = json_integer(9007199254740993LL);
	refused(big,
		"JCS: integer 9007199254740993 is beyond 2^53: not exactly an IEEE 754 double");
	_cleanup_json_ json_t *low = json_integer(-9007199254740993LL);
	refused(low,
		"JCS: integer -9007199254740993 is beyond 2^53: not exactly an IEEE 754 double");
	_cleanup_json_ json_t *max = json_integer(INT64_MAX);
	refused(max,
		"JCS: integer 9223372036854775807 is beyond 2^53: not exactly an IEEE 754 double");
	_cleanup_json_ json_t *half = json_real(1.5);
	refused(half, "JCS: number 1.5 is not an integer within 2^53: not canonicalised here");
	_cleanup_json_ json_t *huge = json_real(9223372036854775808.0);
	refused(huge, "JCS: number 9.2233720368547758e+18 is not an integer within 2^53: not "
		      "canonicalised here");
	_cleanup_json_ json_t *tiny = json_real(5e-324);
	refused(tiny, "JCS: number 4.9406564584124654e-324 is not an integer within 2^53: not "
		      "canonicalised here");
	_cleanup_json_ json_t *edge = json_real(9007199254740992.0);
	canon_is(edge, "9007199254740992");
	/* Inside an object, the error is the same. */
	_cleanup_json_ json_t *o = json_pack("{s:{s:f}}", "a", "b", 0.1);
	refused(o, "JCS: number 0.10000000000000001 is not an integer within 2^53: not "
		   "canonicalised here");
}

static void test_structure(void **state)
{
	text_is("true", "true");
	text_is("null", "null");
	text_is("{}", "{}");
	text_is("[]", "[]");
	text_is("[ [ ], { } , \"\" ]", "[[],{},\"\"]");

	/* 64 levels of nesting are canonicalised; 65 are refused. */
	char deep[2 * 65 + 1];
	memset(deep, '[', 64);
	memset(deep + 64, ']', 64);
	deep[128] = '\0';
	text_is(deep, deep);
	memset(deep, '[', 65);
	memset(deep + 65, ']', 65);
	deep[130] = '\0';
	_cleanup_json_ json_t *j = parse(deep);
	refused(j, "JCS: nested deeper than 64");
	_cleanup_json_ json_t *objs = parse("{\"a\":{\"a\":{\"a\":{}}}}");
	canon_is(objs, "{\"a\":{\"a\":{\"a\":{}}}}");
	refused(NULL, "JCS: no value");
}

/* The KBS binding: the JCS of the runtime data, hashed, zero-padded. */
static void test_kbs_report_data(void **state)
{
	struct cc_error *err = NULL;
	static const char nonce[] = "dGVzdC1ub25jZS0zMi1ieXRlcy0tLS0tLS0tLS0tLQ==";
	/* The JWK's members in the order a client may well write them. */
	_cleanup_json_ json_t *jwk =
	    json_pack("{s:s,s:s,s:s,s:s,s:s}", "kty", "EC", "crv", "P-256", "alg", "ECDH-ES+A256KW",
		      "x", "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y",
		      "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0");
	assert_non_null(jwk);
	static const char canonical[] =
	    "{\"additional-evidence\":\"\",\"nonce\":\"dGVzdC1ub25jZS0zMi1ieXRlcy0tLS0tLS0tLS0tL"
	    "Q==\",\"tee-pubkey\":{\"alg\":\"ECDH-ES+A256KW\",\"crv\":\"P-256\",\"kty\":\"EC\","
	    "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
	    "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}}";
	uint8_t rd[64], md[64], zero[32] = { 0 };

	/* SHA-384, the default. */
	assert_int_equal(attest_kbs_report_data(jwk, nonce, "", ATTEST_HASH_SHA384, rd, &err), 0);
	_cleanup_free_ char *h384 = hex(rd, 48);
	assert_string_equal(h384, "8e03b298fa123b83b3b0e62d763193be020befd29c01277dd93a5455e3b9b72"
				  "5ac68864c835344ce454976a082a56e1c");
	digest("SHA384", canonical, strlen(canonical), md, 48);
	assert_memory_equal(rd, md, 48);
	assert_memory_equal(rd + 48, zero, 16);

	/* SHA-256 and SHA-512 when negotiated. */
	assert_int_equal(attest_kbs_report_data(jwk, nonce, "", ATTEST_HASH_SHA256, rd, &err), 0);
	_cleanup_free_ char *h256 = hex(rd, 32);
	assert_string_equal(h256,
			    "756a1ef09563b8e878067fe432e7efd235fb392f97e96214fb511e41fa6237c9");
	assert_memory_equal(rd + 32, zero, 32);
	assert_int_equal(attest_kbs_report_data(jwk, nonce, "", ATTEST_HASH_SHA512, rd, &err), 0);
	_cleanup_free_ char *h512 = hex(rd, 64);
	assert_string_equal(h512,
			    "bbdd68bcbe0dbfd329a31650d57fc4f69d5bed2ead0b2bcf73d8f767ab51ff4"
			    "048900913edd4f13c63e53bb955be3a1de3dc03e46d3a387900acab63e7155a4a");

	/* Each input counts: the nonce, the additional evidence, the key. */
	uint8_t other[64];
	assert_int_equal(attest_kbs_report_data(jwk, nonce, "", ATTEST_HASH_SHA384, rd, &err), 0);
	assert_int_equal(attest_kbs_report_data(jwk, "x", "", ATTEST_HASH_SHA384, other, &err), 0);
	assert_memory_not_equal(rd, other, 48);
	static const char with_ae[] =
	    "{\"additional-evidence\":\"{\\\"a\\\":1}\",\"nonce\":\"n\",\"tee-pubkey\":"
	    "{\"e\":\"AQAB\",\"kty\":\"RSA\",\"n\":\"AA\"}}";
	_cleanup_json_ json_t *rsa =
	    json_pack("{s:s,s:s,s:s}", "n", "AA", "kty", "RSA", "e", "AQAB");
	assert_int_equal(
	    attest_kbs_report_data(rsa, "n", "{\"a\":1}", ATTEST_HASH_SHA384, other, &err), 0);
	digest("SHA384", with_ae, strlen(with_ae), md, 48);
	assert_memory_equal(other, md, 48);

	/* Refusals. */
	_cleanup_json_ json_t *str = json_string("not a JWK");
	assert_int_equal(attest_kbs_report_data(str, nonce, "", ATTEST_HASH_SHA384, rd, &err), -1);
	expect_err(&err, "KBS binding: tee-pubkey: expected a JWK object");
	assert_int_equal(attest_kbs_report_data(NULL, nonce, "", ATTEST_HASH_SHA384, rd, &err), -1);
	expect_err(&err, "KBS binding: tee-pubkey: expected a JWK object");
	assert_int_equal(attest_kbs_report_data(jwk, "\xff", "", ATTEST_HASH_SHA384, rd, &err), -1);
	expect_err(&err, "KBS binding: the nonce or the additional evidence is not valid UTF-8");
	_cleanup_json_ json_t *real = json_pack("{s:f}", "kty", 1.5);
	assert_int_equal(attest_kbs_report_data(real, nonce, "", ATTEST_HASH_SHA384, rd, &err), -1);
	expect_err(&err, "KBS binding: JCS: number 1.5 is not an integer within 2^53: not "
			 "canonicalised here");
	assert_int_equal(attest_kbs_report_data(jwk, nonce, "", (enum attest_hash_alg)0, rd, &err),
			 -1);
	expect_err(&err, "KBS binding: invalid hash algorithm 0");
}

static void test_hash_algs(void **state)
{
	struct cc_error *err = NULL;
	enum attest_hash_alg a = ATTEST_HASH_SHA256;
	static const struct {
		const char *name;
		enum attest_hash_alg alg;
		size_t size;
	} algs[] = {
		{ "sha256", ATTEST_HASH_SHA256, 32 },
		{ "sha384", ATTEST_HASH_SHA384, 48 },
		{ "sha512", ATTEST_HASH_SHA512, 64 },
	};
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(attest_hash_alg_parse(algs[i].name, &a, &err), 0);
		assert_int_equal(a, algs[i].alg);
		assert_string_equal(attest_hash_alg_name(a), algs[i].name);
		assert_int_equal(attest_hash_alg_size(a), algs[i].size);
	}
	assert_string_equal(attest_hash_alg_name((enum attest_hash_alg)9), "invalid");
	assert_int_equal(attest_hash_alg_size((enum attest_hash_alg)0), 0);
	assert_int_equal(attest_hash_alg_parse("sm3", &a, &err), -1);
	expect_err(&err, "KBS binding: hash algorithm \"sm3\" is not supported (sha256, sha384, "
			 "sha512 are)");
	assert_int_equal(attest_hash_alg_parse("SHA384", &a, &err), -1);
	expect_err(&err, "KBS binding: hash algorithm \"SHA384\" is not supported (sha256, "
			 "sha384, sha512 are)");
	assert_int_equal(attest_hash_alg_parse("sha384\n", &a, &err), -1);
	expect_err(&err, "KBS binding: hash algorithm \"sha384\\x0a\" is not supported (sha256, "
			 "sha384, sha512 are)");
	assert_int_equal(a, ATTEST_HASH_SHA512); /* untouched by the refusals */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_trustee_vector),	cmocka_unit_test(test_sorting),
		cmocka_unit_test(test_strings),		cmocka_unit_test(test_invalid_utf8),
		cmocka_unit_test(test_numbers),		cmocka_unit_test(test_structure),
		cmocka_unit_test(test_kbs_report_data), cmocka_unit_test(test_hash_algs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
