// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for a token server's answer to the bearer-token flow: fetch_token() with a
 * fixed challenge, the transfer answering with the input (in small pieces, at the status the
 * first input byte picks). The token must become one "Authorization: Bearer ..." header line
 * or an error; an answer over the size limit is refused.
 */
#include "registry-harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long statuses[] = { 200, 200, 200, 401, 500, 0 };
	struct img_registry *r;
	struct cc_error *err = NULL;

	if (size < 1)
		return 0;
	r = fz_registry();
	fz_status = statuses[data[0] % ARRAY_SIZE(statuses)];
	fz_answer = data + 1;
	fz_answer_len = size - 1;
	if (fetch_token(r, "Bearer realm=\"https://auth.example/token\",service=\"reg\"", &err) <
	    0) {
		if (!err || !err->msg[0] || err->code != IMG_ERR_UNAUTHENTICATED || r->auth)
			abort();
		cc_error_free(&err);
	} else {
		if (fz_status != 200 || !r->auth || strncmp(r->auth, "Authorization: Bearer ", 22))
			abort();
		fz_check_auth(r);
	}
	fz_reset();
	img_registry_close(r);
	return 0;
}
