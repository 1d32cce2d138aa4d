// SPDX-License-Identifier: Apache-2.0
/* Unit tests for lib/sign/payload.c: the signed payload, parsed as containers/image does. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "sign/identity.h"
#include "sign/payload.h"
#include "util/cleanup.h"

#define DIGEST "sha256:47de6ac7a37b3ad8c0a3e3e4bc1f5d3c2be7c1e9c0f1a2b3c4d5e6f708192a0e"

/* What skopeo 1.9.3 (containers/image 5.23.1) wrote for --sign-by, byte for byte in form. */
static const char skopeo_payload[] =
    "{\"critical\":{\"identity\":{\"docker-reference\":\"registry.example.com/ns/img:v1\"},"
    "\"image\":{\"docker-manifest-digest\":\"" DIGEST "\"},"
    "\"type\":\"atomic container signature\"},"
    "\"optional\":{\"creator\":\"atomic 5.23.1\",\"timestamp\":1795332592}}";

static void expect_refused(enum sign_format f, const char *payload, const char *want)
{
	struct sign_payload p;
	struct cc_error *err = NULL;
	assert_int_equal(sign_payload_parse(payload, strlen(payload), f, &p, &err), -1);
	assert_non_null(err);
	if (!strstr(err->msg, want))
		fail_msg("got \"%s\", want \"%s\"", err->msg, want);
	assert_null(p.manifest_digest);
	assert_null(p.docker_reference);
	cc_error_free(&err);
}

static void test_skopeo_payload(void **state)
{
	struct sign_payload p;
	struct cc_error *err = NULL;
	assert_int_equal(
	    sign_payload_parse(skopeo_payload, strlen(skopeo_payload), SIGN_SIMPLE, &p, &err), 0);
	assert_string_equal(p.manifest_digest, DIGEST);
	assert_string_equal(p.docker_reference, "registry.example.com/ns/img:v1");
	assert_string_equal(p.creator, "atomic 5.23.1");
	assert_true(p.has_timestamp);
	assert_int_equal(p.timestamp, 1795332592);
	sign_payload_clear(&p);

	/* Any whitespace and key order, as c/image accepts; unknown optional keys ignored. */
	static const char pretty[] =
	    "{\n  \"optional\": {\"future\": [1, 2]},\n  \"critical\": {\n"
	    "    \"type\": \"atomic container signature\",\n"
	    "    \"image\": {\"docker-manifest-digest\": \"" DIGEST "\"},\n"
	    "    \"identity\": {\"docker-reference\": \"h/r:t\"}\n  }\n}\n";
	assert_int_equal(sign_payload_parse(pretty, strlen(pretty), SIGN_SIMPLE, &p, &err), 0);
	assert_string_equal(p.docker_reference, "h/r:t");
	assert_null(p.creator);
	assert_false(p.has_timestamp);
	sign_payload_clear(&p);
}

static void test_make(void **state)
{
	_cleanup_free_ char *s = sign_payload_make(SIGN_SIMPLE, "registry.example.com/ns/img:v1",
						   DIGEST, "atomic 5.23.1", 1795332592);
	assert_string_equal(s, skopeo_payload);
	/* cosign's form: no creator or timestamp gives an empty optional object. */
	_cleanup_free_ char *c = sign_payload_make(SIGN_COSIGN, "h/r", DIGEST, NULL, -1);
	assert_string_equal(c, "{\"critical\":{\"identity\":{\"docker-reference\":\"h/r\"},"
			       "\"image\":{\"docker-manifest-digest\":\"" DIGEST "\"},"
			       "\"type\":\"cosign container image signature\"},"
			       "\"optional\":{}}");
	struct sign_payload p;
	struct cc_error *err = NULL;
	assert_int_equal(sign_payload_parse(c, strlen(c), SIGN_COSIGN, &p, &err), 0);
	assert_string_equal(p.docker_reference, "h/r");
	sign_payload_clear(&p);
}

static void test_cosign_optional_null(void **state)
{
	static const char null_opt[] =
	    "{\"critical\":{\"identity\":{\"docker-reference\":\"h/r\"},"
	    "\"image\":{\"docker-manifest-digest\":\"" DIGEST "\"},"
	    "\"type\":\"cosign container image signature\"},\"optional\":null}";
	struct sign_payload p;
	struct cc_error *err = NULL;
	assert_int_equal(sign_payload_parse(null_opt, strlen(null_opt), SIGN_COSIGN, &p, &err), 0);
	assert_string_equal(p.manifest_digest, DIGEST);
	sign_payload_clear(&p);
}

/* Builds a payload from its parts, so that each refusal changes one thing. */
static char *payload(const char *crit_extra, const char *type, const char *image,
		     const char *identity, const char *rest)
{
	return xasprintf("{\"critical\":{\"type\":%s,\"image\":%s,\"identity\":%s%s}%s}", type,
			 image, identity, crit_extra, rest);
}

static void test_refusals(void **state)
{
	const char *type = "\"atomic container signature\"";
	const char *image = "{\"docker-manifest-digest\":\"" DIGEST "\"}";
	const char *ident = "{\"docker-reference\":\"h/r:t\"}";
	const char *opt = ",\"optional\":{}";
	struct {
		char *payload;
		enum sign_format f;
		const char *want;
	} cases[] = {
		{ payload(",\"extra\":1", type, image, ident, opt), SIGN_SIMPLE,
		  "signature payload: critical: unknown key \"extra\"" },
		/* what the signer wrote stays on one line of the message */
		{ payload(",\"ex\\ntra\\\\\":1", type, image, ident, opt), SIGN_SIMPLE,
		  "signature payload: critical: unknown key \"ex\\x0atra\\x5c\"" },
		{ payload("", type, image, ident, ",\"optional\":{},\"x\":1"), SIGN_SIMPLE,
		  "signature payload: unknown key \"x\"" },
		{ payload("", type, image, ident, ""), SIGN_SIMPLE,
		  "signature payload: optional: required" },
		{ payload("", type, image, ident, ",\"optional\":null"), SIGN_SIMPLE,
		  "signature payload: optional: expected object, got null" },
		{ payload("", "\"cosign container image signature\"", image, ident, opt),
		  SIGN_SIMPLE,
		  "signature payload: critical.type: \"cosign container image signature\", not "
		  "\"atomic container signature\"" },
		{ payload("", type, image, ident, opt), SIGN_COSIGN,
		  "signature payload: critical.type: \"atomic container signature\", not "
		  "\"cosign container image signature\"" },
		{ payload("", "7", image, ident, opt), SIGN_SIMPLE,
		  "signature payload: critical.type: expected string, got integer" },
		{ payload("", type, "{\"docker-manifest-digest\":\"" DIGEST "\",\"b\":2}", ident,
			  opt),
		  SIGN_SIMPLE, "signature payload: critical.image: unknown key \"b\"" },
		{ payload("", type, "{}", ident, opt), SIGN_SIMPLE,
		  "signature payload: critical.image.docker-manifest-digest: required" },
		{ payload("", type, image, "{\"docker-reference\":[\"h/r\"]}", opt), SIGN_SIMPLE,
		  "signature payload: critical.identity.docker-reference: expected string, got "
		  "array" },
		{ payload("", type, image, "{\"docker-reference\":\"h/r\\u0000:evil\"}", opt),
		  SIGN_SIMPLE,
		  "signature payload: critical.identity.docker-reference: contains a NUL byte" },
		{ payload("", type, image, ident, ",\"optional\":{\"timestamp\":1.5}"), SIGN_SIMPLE,
		  "signature payload: optional.timestamp: expected integer, got number" },
		{ payload("", type, image, ident, ",\"optional\":{\"creator\":{}}"), SIGN_SIMPLE,
		  "signature payload: optional.creator: expected string, got object" },
		/* a duplicate key could say one thing to one reader and another to the next */
		{ payload("", type, image, ident, ",\"optional\":{},\"optional\":{}"), SIGN_SIMPLE,
		  "duplicate" },
		{ xstrdup("[]"), SIGN_SIMPLE, "signature payload: expected object, got array" },
		{ xstrdup("{\"critical\":"), SIGN_SIMPLE, "signature payload" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		expect_refused(cases[i].f, cases[i].payload, cases[i].want);
		free(cases[i].payload);
	}

	/* Bounded: a payload is a few hundred bytes. */
	size_t big = 64 * 1024 + 1;
	_cleanup_free_ char *huge = xmalloc(big + 1);
	memset(huge, ' ', big);
	huge[big] = '\0';
	expect_refused(SIGN_SIMPLE, huge, "signature payload: 65537 bytes, more than 65536");
}

/* ---- signedIdentity ---- */

#define D2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"

static bool matches(struct sign_identity rule, const char *image, const char *claim)
{
	struct img_ref i;
	struct cc_error *err = NULL;
	assert_int_equal(img_ref_parse(image, &i, &err), 0);
	bool ok = sign_identity_matches(&rule, &i, claim);
	img_ref_clear(&i);
	return ok;
}

static void test_identity(void **state)
{
	struct sign_identity dflt = { .type = SIGN_ID_MATCH_REPO_DIGEST_OR_EXACT };
	struct sign_identity exact = { .type = SIGN_ID_MATCH_EXACT };
	struct sign_identity repo = { .type = SIGN_ID_MATCH_REPOSITORY };
	struct sign_identity ref = { .type = SIGN_ID_EXACT_REFERENCE,
				     .reference = (char *)"registry.example.com/ns/img:v1" };
	struct sign_identity exrepo = { .type = SIGN_ID_EXACT_REPOSITORY,
					.repository = (char *)"registry.example.com/ns/img" };
	struct sign_identity remap = { .type = SIGN_ID_REMAP_IDENTITY,
				       .prefix = (char *)"mirror.example.com/ns",
				       .signed_prefix = (char *)"registry.example.com/ns" };
	const char *byd = "busybox@" DIGEST;
	struct {
		struct sign_identity *rule;
		const char *image, *claim;
		bool want;
	} cases[] = {
		/* matchRepoDigestOrExact: by tag, the same reference after normalisation */
		{ &dflt, "busybox", "docker.io/library/busybox:latest", true },
		{ &dflt, "busybox", "busybox:latest", true },
		{ &dflt, "busybox", "index.docker.io/library/busybox:latest", true },
		{ &dflt, "busybox", "docker.io/library/busybox:1", false },
		{ &dflt, "busybox", "busybox", false }, /* name-only claim */
		{ &dflt, "busybox", "docker.io/library/busybox@" DIGEST, false },
		/* ... by digest, the same repository with any tag or digest */
		{ &dflt, byd, "busybox:any", true },
		{ &dflt, byd, "busybox@" D2, true },
		{ &dflt, byd, "other:any", false },
		{ &dflt, byd, "busybox", false },
		/* matchExact */
		{ &exact, "busybox", "busybox:latest", true },
		{ &exact, byd, "docker.io/library/busybox@" DIGEST, true },
		{ &exact, byd, "busybox:latest", false },
		{ &exact, byd, "busybox@" D2, false },
		{ &exact, "busybox", "busybox", false },
		/* matchRepository */
		{ &repo, "busybox:1", "busybox", true },
		{ &repo, "busybox:1", "docker.io/library/busybox:2", true },
		{ &repo, byd, "busybox:2", true },
		{ &repo, "busybox:1", "docker.io/library/other:1", false },
		{ &repo, "busybox:1", "quay.io/library/busybox:1", false },
		/* exactReference: the image does not matter, the claim must be the policy's */
		{ &ref, "anything:1", "registry.example.com/ns/img:v1", true },
		{ &ref, "anything:1", "registry.example.com/ns/img:v2", false },
		{ &ref, "anything:1", "registry.example.com/ns/img", false },
		/* exactRepository */
		{ &exrepo, "anything:1", "registry.example.com/ns/img:v9", true },
		{ &exrepo, "anything:1", "registry.example.com/ns/img", true },
		{ &exrepo, "anything:1", "registry.example.com/ns/other:v9", false },
		/* remapIdentity: the image's prefix replaced, then the default rule */
		{ &remap, "mirror.example.com/ns/img:v1", "registry.example.com/ns/img:v1", true },
		{ &remap, "mirror.example.com/ns/img:v1", "mirror.example.com/ns/img:v1", false },
		{ &remap, "mirror.example.com/ns/img:v1", "registry.example.com/ns/img:v2", false },
		{ &remap, "mirror.example.com/ns/img@" DIGEST, "registry.example.com/ns/img:x",
		  true },
		/* "ns" is not a prefix of "nsx": not remapped, the default rule on the image */
		{ &remap, "mirror.example.com/nsx/img:v1", "mirror.example.com/nsx/img:v1", true },
		{ &remap, "mirror.example.com/nsx/img:v1", "registry.example.com/nsx/img:v1",
		  false },
		/* a claim that is not a reference matches nothing */
		{ &repo, "busybox", "Docker.io/Library/BusyBox", false },
		{ &repo, "busybox", "", false },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		if (matches(*cases[i].rule, cases[i].image, cases[i].claim) != cases[i].want)
			fail_msg("case %zu: rule %d, image %s, claim %s: want %s", i,
				 cases[i].rule->type, cases[i].image, cases[i].claim,
				 cases[i].want ? "match" : "no match");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_skopeo_payload),
		cmocka_unit_test(test_make),
		cmocka_unit_test(test_cosign_optional_null),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_identity),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
