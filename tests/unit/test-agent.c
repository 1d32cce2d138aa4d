// SPDX-License-Identifier: Apache-2.0
/* Unit tests for enclave-agent's pure parts (cmd/enclave-agent/{config,ids,status}.c):
 * decrypt_config.conf, durations, container ids, and lib/image errors as ttrpc status codes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "agent.h"
#include "image/error.h"
#include "util/cleanup.h"

static int parse(const char *text, struct agent_decrypt_config *c, struct cc_error **err)
{
	return agent_decrypt_config_parse("decrypt.conf", text, strlen(text), c, err);
}

static void test_decrypt_config(void **state)
{
	struct agent_decrypt_config c;
	struct cc_error *err = NULL;
	assert_int_equal(parse("{\"key_provider\":\"provider:attestation-agent:cc_kbc::"
			       "http://127.0.0.1:8080\",\"security_validate\":false}",
			       &c, &err),
			 0);
	assert_string_equal(c.key_provider,
			    "provider:attestation-agent:cc_kbc::http://127.0.0.1:8080");
	assert_false(c.security_validate);
	agent_decrypt_config_clear(&c);
	assert_null(c.key_provider);
	assert_true(c.security_validate);

	/* Upstream's defaults: security_validate true, key_provider unset; null = unset; unknown
	 * keys ignored (serde without deny_unknown_fields). */
	static const char *const defaults[] = {
		"{}",
		"{\"key_provider\":null,\"security_validate\":null}",
		"{\"other\":[1,2,3]}",
		" \n{ } \n",
	};
	for (size_t i = 0; i < ARRAY_SIZE(defaults); i++) {
		if (parse(defaults[i], &c, &err) < 0)
			fail_msg("%s: %s", defaults[i], err->msg);
		assert_null(c.key_provider);
		assert_true(c.security_validate);
	}
}

static void test_decrypt_config_errors(void **state)
{
	static const struct {
		const char *in, *msg;
	} cases[] = {
		{ "", "decrypt.conf: line 1 column 0: '[' or '{' expected near end of file" },
		{ "{\"key_provider\":", "decrypt.conf: line 1 column 16: unexpected token near "
					"end of file" },
		{ "[]", "decrypt.conf: expected object, got array" },
		{ "{\"key_provider\":1}",
		  "decrypt.conf: key_provider: expected string, got integer" },
		{ "{\"security_validate\":\"yes\"}",
		  "decrypt.conf: security_validate: expected boolean, got string" },
		{ "{\"key_provider\":\"p\",\"security_validate\":1}",
		  "decrypt.conf: security_validate: expected boolean, got integer" },
		{ "{\"key_provider\":\"a\\u0000b\"}",
		  "decrypt.conf: key_provider: contains a NUL byte" },
		{ "{\"key_provider\":\"a\",\"key_provider\":\"b\"}",
		  "decrypt.conf: line 1 column 34: duplicate object key near '\"key_provider\"'" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct agent_decrypt_config c;
		struct cc_error *err = NULL;
		if (parse(cases[i].in, &c, &err) == 0)
			fail_msg("%s was accepted", cases[i].in);
		if (strcmp(err->msg, cases[i].msg) != 0)
			fail_msg("%s: got \"%s\", want \"%s\"", cases[i].in, err->msg,
				 cases[i].msg);
		/* Defaults on failure, nothing to free. */
		assert_null(c.key_provider);
		assert_true(c.security_validate);
		cc_error_free(&err);
	}
}

static void test_durations(void **state)
{
	static const struct {
		const char *in;
		int64_t ns;
	} good[] = {
		{ "30s", 30000000000LL },
		{ "500ms", 500000000LL },
		{ "1.5m", 90000000000LL },
		{ "2h", 7200000000000LL },
		{ "10", 10000000000LL },
		{ "100us", 100000LL },
		{ "7ns", 7 },
		{ "0", 0 },
	};
	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		int64_t ns = -1;
		struct cc_error *err = NULL;
		if (agent_parse_duration(good[i].in, &ns, &err) < 0)
			fail_msg("%s: %s", good[i].in, err->msg);
		assert_int_equal(ns, good[i].ns);
	}
	static const char *const bad[] = { "", "s", "soon", "10 s", "-1s", "5d", "1e300h", "nan" };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		int64_t ns = 0;
		struct cc_error *err = NULL;
		if (agent_parse_duration(bad[i], &ns, &err) == 0)
			fail_msg("\"%s\" was accepted (%lld ns)", bad[i], (long long)ns);
		assert_non_null(strstr(err->msg, "duration"));
		cc_error_free(&err);
	}
}

static void test_cid_check(void **state)
{
	static const char *const good[] = { "busybox_latest", "a", "0", "A.b-c_d",
					    "x123456789012345678901234567890123456789012345678901"
					    "2345678901234567890123456789012345678901234567890123"
					    "456789012345678901234567" };
	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		struct cc_error *err = NULL;
		if (agent_cid_check(good[i], &err) < 0)
			fail_msg("%s: %s", good[i], err->msg);
	}
	assert_int_equal(strlen(good[4]), AGENT_CID_MAX);
	static const struct {
		const char *in, *msg;
	} bad[] = {
		{ "", "container_id is empty" },
		{ "a:b",
		  "container_id \"a:b\": ':' not allowed (letters, digits, '_', '.' and '-', "
		  "starting with a letter or digit)" },
		{ "a/b",
		  "container_id \"a/b\": '/' not allowed (letters, digits, '_', '.' and '-', "
		  "starting with a letter or digit)" },
		{ ".hidden", "container_id \".hidden\": '.' not allowed first (letters, digits, "
			     "'_', '.' and '-', starting with a letter or digit)" },
		{ "_x", "container_id \"_x\": '_' not allowed first (letters, digits, '_', '.' and "
			"'-', starting with a letter or digit)" },
		{ "a\nb", "container_id \"a\\x0ab\": \\x0a not allowed (letters, digits, '_', '.' "
			  "and '-', starting with a letter or digit)" },
		{ "a\"b",
		  "container_id \"a\\x22b\": '\"' not allowed (letters, digits, '_', '.' and "
		  "'-', starting with a letter or digit)" },
		{ "..", "container_id \"..\": '.' not allowed first (letters, digits, '_', '.' and "
			"'-', starting with a letter or digit)" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct cc_error *err = NULL;
		if (agent_cid_check(bad[i].in, &err) == 0)
			fail_msg("\"%s\" was accepted", bad[i].in);
		if (strcmp(err->msg, bad[i].msg) != 0)
			fail_msg("got \"%s\", want \"%s\"", err->msg, bad[i].msg);
		cc_error_free(&err);
	}
	/* Too long: quoted shortened, the limit named. */
	char long_id[AGENT_CID_MAX + 2];
	memset(long_id, 'x', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = '\0';
	struct cc_error *err = NULL;
	assert_int_equal(agent_cid_check(long_id, &err), -1);
	assert_non_null(strstr(err->msg, "...\" is longer than 128 characters"));
	cc_error_free(&err);
}

static void test_cid_from_image(void **state)
{
	static const struct {
		const char *image, *cid;
	} cases[] = {
		{ "docker.io/library/busybox:latest", "busybox_latest" },
		{ "docker.io/redis", "redis" },
		{ "127.0.0.1:5000/lib/app:v1", "app_v1" },
		{ "registry:5000/app@sha256:abcd", "app_sha256_abcd" },
		{ "app:1@sha256:ab", "app_1_sha256_ab" },
		{ "plain", "plain" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		_cleanup_free_ char *cid = agent_cid_from_image(cases[i].image);
		assert_string_equal(cid, cases[i].cid);
	}
}

static void test_status_codes(void **state)
{
	static const struct {
		int img;
		bool late;
		int tt;
	} cases[] = {
		{ IMG_ERR_REFERENCE, false, TT_INVALID_ARGUMENT },
		{ IMG_ERR_NOT_FOUND, false, TT_NOT_FOUND },
		{ IMG_ERR_UNAUTHENTICATED, false, TT_UNAUTHENTICATED },
		{ IMG_ERR_DENIED, false, TT_PERMISSION_DENIED },
		{ IMG_ERR_UNAVAILABLE, false, TT_UNAVAILABLE },
		{ IMG_ERR_INTEGRITY, false, TT_DATA_LOSS },
		{ IMG_ERR_INVALID, false, TT_FAILED_PRECONDITION },
		{ IMG_ERR_CANCELLED, false, TT_CANCELLED },
		{ IMG_ERR_CANCELLED, true, TT_DEADLINE_EXCEEDED },
		{ IMG_ERR_IO, false, TT_INTERNAL },
		{ 0, false, TT_INTERNAL },
		{ 4242, true, TT_INTERNAL },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		assert_int_equal(agent_status_code(cases[i].img, cases[i].late), cases[i].tt);
	/* The image classes never collide with status codes. */
	assert_true((int)IMG_ERR_REFERENCE > (int)TT_UNAUTHENTICATED);
}

static void test_quote(void **state)
{
	_cleanup_free_ char *a = agent_quote("plain", 10);
	_cleanup_free_ char *b = agent_quote("a\x01\"\\\xff", 10);
	_cleanup_free_ char *c = agent_quote("0123456789", 4);
	assert_string_equal(a, "plain");
	assert_string_equal(b, "a\\x01\\x22\\x5c\\xff");
	assert_string_equal(c, "0123...");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decrypt_config), cmocka_unit_test(test_decrypt_config_errors),
		cmocka_unit_test(test_durations),      cmocka_unit_test(test_cid_check),
		cmocka_unit_test(test_cid_from_image), cmocka_unit_test(test_status_codes),
		cmocka_unit_test(test_quote),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
