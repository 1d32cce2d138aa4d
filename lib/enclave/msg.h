/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The protocol on an enclave container's <state dir>/agent.sock, between rune (exec, attest)
 * and the container's init. Each message is a uint32 little-endian length followed by that many
 * bytes of one JSON object with an "op" member; a message may carry up to three file
 * descriptors (SCM_RIGHTS) with its first byte. Strings travel as JSON arrays, so arguments
 * with spaces, quotes or newlines arrive as they were sent.
 *
 *   rune → init   {"op":"exec","argv":[...],"env":[...]}   + stdin, stdout, stderr
 *                 {"op":"kill","signal":N}                  (during an exec)
 *                 {"op":"attest","report_data":HEX128,"target_info":HEX1024}
 *   init → rune   {"op":"started","pid":N}  then  {"op":"exit","status":N}
 *                 {"op":"report","report":HEX864}
 *                 {"op":"error","message":"..."}
 *
 * attestation/attest.sock, which the container's own processes reach, has the same framing
 * and other ops (in-enclave.h).
 */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "util/error.h"

#define ENC_MSG_MAX (4u << 20) /* argv + env of an exec fit easily; anything bigger is hostile */
#define ENC_MSG_MAX_FDS 3

/* Send msg (and nfds descriptors). */
CC_MUST_CHECK int enc_msg_send(int sock, json_t *msg, const int *fds, size_t nfds,
			       struct cc_error **err);
/* Receive one message: 1 and *msg (and up to ENC_MSG_MAX_FDS descriptors in fds, *nfds set;
 * the caller closes them), 0 at a clean end of stream, -1 with *err. The body buffer grows as
 * its bytes arrive, never to the size the header merely claims. */
CC_MUST_CHECK int enc_msg_recv(int sock, json_t **msg, int *fds, size_t *nfds,
			       struct cc_error **err);

/* Bytes a message may hold while it arrives without drawing on an enc_msg_budget: every exec
 * and attest request fits, so they pass while big messages wait their turn. */
#define ENC_MSG_FREE (64u << 10)

/* Shared by concurrent receivers (threads): buffer bytes beyond ENC_MSG_FREE held by messages
 * still arriving, and how many they may hold. */
struct enc_msg_budget {
	atomic_size_t held;
	size_t max;
};

/* What a receiver serving untrusted peers allows each message (0 / NULL: no limit). */
struct enc_msg_limits {
	int64_t wait_ns;	       /* for the message's first byte */
	int64_t timeout_ns;	       /* for the rest of it, from its first byte */
	struct enc_msg_budget *budget; /* a message that would take it over max is refused */
};

/* enc_msg_recv within limits (NULL: none). Errors: "agent socket: no message within N ms",
 * "agent message: not complete within N ms", "agent message: N bytes: the agent is busy
 * receiving other messages" (the budget). */
CC_MUST_CHECK int enc_msg_recv_limited(int sock, const struct enc_msg_limits *lim, json_t **msg,
				       int *fds, size_t *nfds, struct cc_error **err);
/*
 * The answer to a request sent on sock, which must be of op `want` (descriptors that come with
 * it are closed): the message, or NULL with *err: "the connection closed without an answer",
 * the peer's error answer (its "message", control characters as spaces, at most 2 KiB), or
 * `answered "OP", not "WANT"`. lim as for enc_msg_recv_limited. The peer's error answer is
 * told apart by err->code ENC_MSG_PEER_ERROR.
 */
#define ENC_MSG_PEER_ERROR 1
CC_MUST_CHECK json_t *enc_msg_expect(int sock, const struct enc_msg_limits *lim, const char *want,
				     struct cc_error **err);
/* Parse a message body: a JSON object with a string "op". */
CC_MUST_CHECK json_t *enc_msg_parse(const char *buf, size_t len, struct cc_error **err);

/* An exec request's argv (at least one element) and env ("KEY=VALUE" each), as NULL-terminated
 * string vectors the caller frees with cc_strv_free. */
CC_MUST_CHECK int enc_msg_exec_decode(json_t *msg, char ***argv, char ***env,
				      struct cc_error **err);
/* A fixed-size binary field carried as hex (report_data, target_info, report). */
CC_MUST_CHECK int enc_msg_hex_field(json_t *msg, const char *key, void *out, size_t len,
				    bool optional, struct cc_error **err);
void enc_msg_set_hex(json_t *msg, const char *key, const void *data, size_t len);
/* {"op":"error","message":...} and {"op":op,key:value} conveniences. */
json_t *enc_msg_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
json_t *enc_msg_int(const char *op, const char *key, long long value);
