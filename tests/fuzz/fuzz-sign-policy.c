// SPDX-License-Identifier: Apache-2.0
/* Fuzz the policy.json parser; a policy that parses must answer a scope lookup for a few
 * references with a non-empty list of requirements, each with its place in the file. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "sign/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void lookup(const struct sign_policy *p, const char *text)
{
	struct img_ref ref;
	struct cc_error *err = NULL;
	if (img_ref_parse(text, &ref, &err) < 0)
		abort();
	size_t n;
	char *scope = NULL;
	const struct sign_requirement *reqs = sign_policy_for_docker(p, &ref, &n, &scope);
	if (!reqs || !n || !scope)
		abort(); /* parsing refuses empty lists */
	for (size_t i = 0; i < n; i++)
		if (!reqs[i].where || !*sign_req_type_name(reqs[i].type))
			abort();
	free(scope);
	img_ref_clear(&ref);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cc_error *err = NULL;
	struct sign_policy *p = sign_policy_parse("policy.json", (const char *)data, size, &err);
	if (!p) {
		if (!err || !err->msg || strchr(err->msg, '\n'))
			abort(); /* a failure says why, on one line */
		cc_error_free(&err);
		return 0;
	}
	lookup(p, "docker.io/library/busybox:latest");
	lookup(p, "a.b.example.com:5000/ns/sub/img@sha256:"
		  "0000000000000000000000000000000000000000000000000000000000000000");
	lookup(p, "127.0.0.1:5000/x:y");
	sign_policy_free(p);
	return 0;
}
