/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The aesmd transport: a unix stream socket, one request and its response per connection, each
 * framed as a 4-byte little-endian length then that many protobuf bytes (aesm-msg.h).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include "aesm-msg.h"
#include "util/error.h"

#define AESM_SOCKET_DEFAULT "/var/run/aesmd/aesm.socket"
#define AESM_TIMEOUT_MS_DEFAULT 60000

struct aesm_conn {
	const char *socket_path;
	/* The deadline of each exchange (connect, send, answer), also sent to aesmd as the
	 * request's timeout field. */
	uint32_t timeout_ms;
};

/* Send req and read the response (at most AESM_RESPONSE_MAX bytes; a larger announced length
 * is refused before reading) into *resp, xmalloc'd for the caller. Without aesmd: "cannot
 * reach aesmd at PATH: No such file or directory (is the SGX PSW (aesmd) installed and
 * running?)". 0 or -1. */
CC_MUST_CHECK int aesm_transact(const struct aesm_conn *c, const uint8_t *req, size_t len,
				uint8_t **resp, size_t *resp_len, struct cc_error **err);

/* aesm_transact, then aesm_decode_response for op: *out points into *raw, which the caller
 * frees (also on failure, where it may be NULL). */
CC_MUST_CHECK int aesm_call(const struct aesm_conn *c, enum aesm_op op, const uint8_t *req,
			    size_t len, uint8_t **raw, struct aesm_response *out,
			    struct cc_error **err);
