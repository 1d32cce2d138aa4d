// SPDX-License-Identifier: Apache-2.0
/* Unit tests for lib/image/reference.c: the docker reference grammar and normalisation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "image/reference.h"
#include "util/cleanup.h"

#define D64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

struct good {
	const char *in;
	const char *domain, *path, *tag, *digest;
	const char *canonical;
};

static void check_good(const struct good *g)
{
	struct img_ref r;
	struct cc_error *err = NULL;
	if (img_ref_parse(g->in, &r, &err) < 0)
		fail_msg("\"%s\": %s", g->in, err->msg);
	assert_string_equal(r.domain, g->domain);
	assert_string_equal(r.path, g->path);
	if (g->tag)
		assert_string_equal(r.tag, g->tag);
	else
		assert_null(r.tag);
	if (g->digest)
		assert_string_equal(r.digest, g->digest);
	else
		assert_null(r.digest);
	_cleanup_free_ char *s = img_ref_string(&r);
	assert_string_equal(s, g->canonical);
	/* The canonical form parses to itself. */
	struct img_ref again;
	if (img_ref_parse(s, &again, &err) < 0)
		fail_msg("canonical \"%s\": %s", s, err->msg);
	_cleanup_free_ char *s2 = img_ref_string(&again);
	assert_string_equal(s2, s);
	img_ref_clear(&again);
	img_ref_clear(&r);
}

static void test_normalisation(void **state)
{
	static const struct good cases[] = {
		{ "redis", "docker.io", "library/redis", "latest", NULL,
		  "docker.io/library/redis:latest" },
		{ "redis:7.2", "docker.io", "library/redis", "7.2", NULL,
		  "docker.io/library/redis:7.2" },
		{ "library/redis", "docker.io", "library/redis", "latest", NULL,
		  "docker.io/library/redis:latest" },
		{ "docker.io/redis", "docker.io", "library/redis", "latest", NULL,
		  "docker.io/library/redis:latest" },
		{ "index.docker.io/redis", "docker.io", "library/redis", "latest", NULL,
		  "docker.io/library/redis:latest" },
		{ "myuser/app:v1.2-rc_3", "docker.io", "myuser/app", "v1.2-rc_3", NULL,
		  "docker.io/myuser/app:v1.2-rc_3" },
		{ "localhost/app", "localhost", "app", "latest", NULL, "localhost/app:latest" },
		{ "localhost:5000/a/b/c:t", "localhost:5000", "a/b/c", "t", NULL,
		  "localhost:5000/a/b/c:t" },
		{ "127.0.0.1:5000/foo@sha256:" D64, "127.0.0.1:5000", "foo", NULL, "sha256:" D64,
		  "127.0.0.1:5000/foo@sha256:" D64 },
		{ "quay.io/org/img:tag@sha256:" D64, "quay.io", "org/img", "tag", "sha256:" D64,
		  "quay.io/org/img:tag@sha256:" D64 },
		{ "[::1]:5000/foo:bar", "[::1]:5000", "foo", "bar", NULL, "[::1]:5000/foo:bar" },
		{ "[fe80::1]/x", "[fe80::1]", "x", "latest", NULL, "[fe80::1]/x:latest" },
		{ "reg-1.example.com/a.b/c__d/e-----f/g_h", "reg-1.example.com",
		  "a.b/c__d/e-----f/g_h", "latest", NULL,
		  "reg-1.example.com/a.b/c__d/e-----f/g_h:latest" },
		/* An upper-case first component can only be a registry. */
		{ "Registry/app", "Registry", "app", "latest", NULL, "Registry/app:latest" },
		{ "x:_A.b-1", "docker.io", "library/x", "_A.b-1", NULL,
		  "docker.io/library/x:_A.b-1" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		check_good(&cases[i]);
}

static void test_tag_and_digest_limits(void **state)
{
	char tag[129 + 16], ref[300];
	memset(tag, 'a', 128);
	tag[128] = '\0';
	snprintf(ref, sizeof(ref), "x:%s", tag);
	struct img_ref r;
	struct cc_error *err = NULL;
	assert_int_equal(img_ref_parse(ref, &r, &err), 0);
	assert_int_equal(strlen(r.tag), 128);
	img_ref_clear(&r);
	strcat(ref, "a"); /* 129 */
	assert_int_equal(img_ref_parse(ref, &r, &err), -1);
	assert_non_null(strstr(err->msg, "invalid tag"));
	cc_error_free(&err);

	assert_true(img_digest_valid("sha256:" D64));
	assert_true(img_digest_valid("sha512:" D64 D64));
	assert_false(img_digest_valid("sha256:" D64 "0"));
	assert_false(img_digest_valid("sha512:" D64));
	assert_false(img_digest_valid("SHA256:" D64));
	assert_false(
	    img_digest_valid("sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456"
			     "789abcdef"));
	assert_false(img_digest_valid("md5:d41d8cd98f00b204e9800998ecf8427e"));
	assert_false(img_digest_valid("sha256"));
	assert_false(img_digest_valid(NULL));
}

static void test_name_length(void **state)
{
	/* docker.io/library/ + 237 = 255 characters: the limit. */
	char name[300];
	memset(name, 'a', 237);
	name[237] = '\0';
	struct img_ref r;
	struct cc_error *err = NULL;
	assert_int_equal(img_ref_parse(name, &r, &err), 0);
	_cleanup_free_ char *full = img_ref_name(&r);
	assert_int_equal(strlen(full), 255);
	img_ref_clear(&r);
	strcat(name, "a");
	assert_int_equal(img_ref_parse(name, &r, &err), -1);
	assert_non_null(strstr(err->msg, "longer than 255"));
	cc_error_free(&err);
}

static void test_manifest_ref(void **state)
{
	struct img_ref r;
	struct cc_error *err = NULL;
	assert_int_equal(img_ref_parse("a:t@sha256:" D64, &r, &err), 0);
	assert_string_equal(img_ref_manifest_ref(&r), "sha256:" D64);
	img_ref_clear(&r);
	assert_int_equal(img_ref_parse("a:t", &r, &err), 0);
	assert_string_equal(img_ref_manifest_ref(&r), "t");
	_cleanup_free_ char *name = img_ref_name(&r);
	assert_string_equal(name, "docker.io/library/a");
	img_ref_clear(&r);
}

/* Named (no default tag): what a signature or a policy says, taken as written. */
static void test_named(void **state)
{
	struct img_ref r;
	struct cc_error *err = NULL;
	assert_int_equal(img_ref_parse_named("busybox", &r, &err), 0);
	assert_string_equal(r.domain, "docker.io");
	assert_string_equal(r.path, "library/busybox");
	assert_null(r.tag);
	assert_null(r.digest);
	_cleanup_free_ char *s = img_ref_string(&r);
	assert_string_equal(s, "docker.io/library/busybox");
	img_ref_clear(&r);
	assert_int_equal(img_ref_parse_named("h:5000/a:t", &r, &err), 0);
	assert_string_equal(r.tag, "t");
	img_ref_clear(&r);
	assert_int_equal(img_ref_parse_named("UPPER", &r, &err), -1);
	assert_non_null(err);
	cc_error_free(&err);
}

static void test_invalid(void **state)
{
	static const struct {
		const char *in, *msg;
	} cases[] = {
		{ "", "invalid reference \"\": empty" },
		{ "Redis", "invalid reference \"Redis\": repository name must be lowercase" },
		{ "docker.io/Library/redis", "invalid reference \"docker.io/Library/redis\": "
					     "repository name must be lowercase" },
		{ "redis:", "invalid reference \"redis:\": invalid tag" },
		{ "redis:-x", "invalid reference \"redis:-x\": invalid tag" },
		{ "redis:a/b", "invalid reference \"redis:a/b\": invalid registry host" },
		{ "redis@sha256:abc",
		  "invalid reference \"redis@sha256:abc\": invalid digest: wrong length or not "
		  "lower-case hex" },
		{ "redis@md5:d41d8cd98f00b204e9800998ecf8427e",
		  "invalid reference \"redis@md5:d41d8cd98f00b204e9800998ecf8427e\": unsupported "
		  "digest algorithm (sha256, sha384 or sha512)" },
		{ "redis@",
		  "invalid reference \"redis@\": invalid digest format (want algorithm:hex)" },
		{ "a//b", "invalid reference \"a//b\": invalid repository name" },
		{ "a/b/", "invalid reference \"a/b/\": invalid repository name" },
		{ "-a", "invalid reference \"-a\": invalid repository name" },
		{ "a..b", "invalid reference \"a..b\": invalid repository name" },
		{ "a___b", "invalid reference \"a___b\": invalid repository name" },
		{ "a-", "invalid reference \"a-\": invalid repository name" },
		{ "_tag/x", "invalid reference \"_tag/x\": invalid repository name" },
		{ "host.io:99999/a",
		  "invalid reference \"host.io:99999/a\": invalid registry host" },
		{ "host.io:/a", "invalid reference \"host.io:/a\": invalid registry host" },
		{ "ho_st.io/a", "invalid reference \"ho_st.io/a\": invalid registry host" },
		{ "-host.io/a", "invalid reference \"-host.io/a\": invalid registry host" },
		{ "host..io/a", "invalid reference \"host..io/a\": invalid registry host" },
		{ "[zz]:5000/a", "invalid reference \"[zz]:5000/a\": invalid registry host" },
		{ "[::1/a", "invalid reference \"[::1/a\": invalid registry host" },
		{ D64, "invalid reference \"" D64
		       "\": a 64-character hexadecimal string is an image ID, not a name" },
		{ "redis tag", "invalid reference \"redis tag\": contains whitespace or non-ASCII "
			       "characters" },
		/* what was written is shown escaped: one line, whatever it holds */
		{ "r\xc3\xa9"
		  "dis",
		  "invalid reference \"r\\xc3\\xa9dis\": contains whitespace or non-ASCII "
		  "characters" },
		{ "a\nb/c:d", "invalid reference \"a\\x0ab/c:d\": contains whitespace or non-ASCII "
			      "characters" },
		{ ":tag", "invalid reference \":tag\": missing repository name" },
		{ "@sha256:" D64,
		  "invalid reference \"@sha256:" D64 "\": missing repository name" },
		{ "localhost:5000/",
		  "invalid reference \"localhost:5000/\": missing repository name" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct img_ref r = { 0 };
		struct cc_error *err = NULL;
		if (img_ref_parse(cases[i].in, &r, &err) == 0) {
			_cleanup_free_ char *s = img_ref_string(&r);
			img_ref_clear(&r);
			fail_msg("\"%s\" was accepted as %s", cases[i].in, s);
		}
		/* Nothing was filled in on failure. */
		assert_null(r.domain);
		if (strcmp(err->msg, cases[i].msg) != 0)
			fail_msg("\"%s\": got \"%s\", want \"%s\"", cases[i].in, err->msg,
				 cases[i].msg);
		cc_error_free(&err);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_normalisation), cmocka_unit_test(test_tag_and_digest_limits),
		cmocka_unit_test(test_name_length),   cmocka_unit_test(test_manifest_ref),
		cmocka_unit_test(test_invalid),	      cmocka_unit_test(test_named),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
