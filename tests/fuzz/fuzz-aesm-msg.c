// SPDX-License-Identifier: Apache-2.0
/*
 * Fuzz runectl's decoder of aesmd's responses (cmd/runectl/aesm-msg.c, compiled in): the input
 * is a response body, decoded as the answer to each request runectl makes. Every failure must
 * say why; every success must keep its members inside the input and within their bounds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "aesm-msg.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const enum aesm_op ops[] = {
	AESM_OP_INIT_QUOTE,    AESM_OP_GET_QUOTE,	  AESM_OP_GET_LAUNCH_TOKEN,
	AESM_OP_INIT_QUOTE_EX, AESM_OP_GET_QUOTE_SIZE_EX, AESM_OP_GET_QUOTE_EX,
};

static void check(const struct aesm_response *r, const uint8_t *data, size_t size)
{
	for (unsigned f = 0; f <= AESM_F_MAX; f++) {
		if (!r->has[f] || !r->data[f])
			continue;
		if (r->data[f] < data || r->len[f] > size ||
		    (size_t)(r->data[f] - data) > size - r->len[f])
			abort();
		if (r->len[f] > AESM_QUOTE_MAX)
			abort();
	}
	if (r->error_code != 0)
		abort(); /* an aesmd error is a failure */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > AESM_RESPONSE_MAX)
		return 0;
	/* A copy of exactly size bytes, so that a read past the end is caught. */
	uint8_t *buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	for (size_t i = 0; i < ARRAY_SIZE(ops); i++) {
		struct aesm_response r;
		struct cc_error *err = NULL;
		if (aesm_decode_response(ops[i], buf, size, &r, &err) == 0) {
			check(&r, buf, size);
			if (err)
				abort();
			for (unsigned f = AESM_F_TARGET_INFO; f <= AESM_F_MAX; f++)
				if (aesm_response_require(&r, f, &err) < 0 && !err)
					abort();
		} else if (!err || !err->msg || !*err->msg) {
			abort(); /* the error contract: a failure always says why */
		}
		cc_error_free(&err);
	}
	/* The field reader on its own, to the end or the first error. */
	struct aesm_pb_reader rd;
	struct aesm_pb_field f;
	struct cc_error *err = NULL;
	int rc;
	aesm_pb_reader_init(&rd, buf, size);
	while ((rc = aesm_pb_next(&rd, &f, &err)) > 0)
		if (f.wire == AESM_PB_LEN && (f.data < buf || f.data + f.len > buf + size))
			abort();
	if (rc < 0 && !err)
		abort();
	cc_error_free(&err);
	free(buf);
	return 0;
}
