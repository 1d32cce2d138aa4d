// SPDX-License-Identifier: Apache-2.0
/* Fuzz the signature payload parser with both formats; a success must round-trip through
 * sign_payload_make to the same fields. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "sign/payload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const uint8_t *data, size_t size, enum sign_format f)
{
	struct sign_payload p, q;
	struct cc_error *err = NULL;
	if (sign_payload_parse(data, size, f, &p, &err) < 0) {
		if (!err || !err->msg || strchr(err->msg, '\n'))
			abort(); /* a failure says why, on one line */
		cc_error_free(&err);
		return;
	}
	char *again = sign_payload_make(f, p.docker_reference, p.manifest_digest, p.creator,
					p.has_timestamp && p.timestamp >= 0 ? p.timestamp : -1);
	if (sign_payload_parse(again, strlen(again), f, &q, &err) < 0 ||
	    strcmp(p.docker_reference, q.docker_reference) ||
	    strcmp(p.manifest_digest, q.manifest_digest))
		abort();
	free(again);
	sign_payload_clear(&p);
	sign_payload_clear(&q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check(data, size, SIGN_SIMPLE);
	check(data, size, SIGN_COSIGN);
	return 0;
}
