/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ttrpc: containerd's small RPC protocol (10-byte frames carrying protobuf envelopes), server and
 * client. Wire format and limits: docs/ttrpc.md.
 *
 * Errors follow lib/util/error.h; for RPC failures err->code holds the gRPC status code
 * (enum tt_code) and err->msg the status message, unprefixed, so callers can match on both.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "util/error.h"

/* gRPC status codes, the only error vocabulary ttrpc has. */
enum tt_code {
	TT_OK = 0,
	TT_CANCELLED = 1,
	TT_UNKNOWN = 2,
	TT_INVALID_ARGUMENT = 3,
	TT_DEADLINE_EXCEEDED = 4,
	TT_NOT_FOUND = 5,
	TT_ALREADY_EXISTS = 6,
	TT_PERMISSION_DENIED = 7,
	TT_RESOURCE_EXHAUSTED = 8,
	TT_FAILED_PRECONDITION = 9,
	TT_ABORTED = 10,
	TT_OUT_OF_RANGE = 11,
	TT_UNIMPLEMENTED = 12,
	TT_INTERNAL = 13,
	TT_UNAVAILABLE = 14,
	TT_DATA_LOSS = 15,
	TT_UNAUTHENTICATED = 16,
};

/* Largest frame body either side accepts or sends (upstream's 4 MiB). */
#define TT_MAX_MESSAGE (4u << 20)

/* "DEADLINE_EXCEEDED", ...; "CODE(n)" for codes outside the table (static storage, or a
 * thread-local buffer for the latter). */
const char *tt_code_name(int code);

/* Set *err to an RPC status (errnum 0, code = status). Returns -1. */
int tt_error_status(struct cc_error **err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---------------------------------------------------------------------------------------- */
/* Messages (protobuf-c) */

struct ProtobufCMessageDescriptor;

/*
 * protobuf-c hands strings out NUL-terminated, so a string field holding a NUL byte would reach
 * C code cut short ("a\0b" as "a"). Checks the wire bytes of a message of type d: -1 with
 * INVALID_ARGUMENT "<Message>.<field>: contains a NUL byte at offset N" when a string field, at
 * any depth, has one. Malformed bytes pass (the unpack refuses them).
 */
CC_MUST_CHECK int tt_check_strings(const struct ProtobufCMessageDescriptor *d, const uint8_t *buf,
				   size_t len, struct cc_error **err);
/* tt_check_strings, then protobuf_c_message_unpack: the message (free it with
 * protobuf_c_message_free_unpacked or the generated *_free_unpacked), or NULL with
 * INVALID_ARGUMENT "<Message>: not a valid protobuf message". For handlers. */
CC_MUST_CHECK void *tt_unpack(const struct ProtobufCMessageDescriptor *d, const uint8_t *buf,
			      size_t len, struct cc_error **err);

/* One metadata entry; a key with several values is several entries. */
struct tt_kv {
	const char *key;
	const char *value;
};

/* ---------------------------------------------------------------------------------------- */
/* Server */

struct tt_server;
/* A request being served; valid until the handler returns. */
struct tt_call;

/*
 * A handler gets the request payload (not the envelope) and either returns 0 with *resp set to a
 * malloc'd response payload (ownership passes to the library; NULL/0 is an empty message), or
 * returns -1 with *err set; err->code is the status sent back (UNKNOWN when 0). Handlers run on
 * worker threads, concurrently with each other.
 */
typedef int (*tt_handler_fn)(struct tt_call *call, const uint8_t *req, size_t req_len,
			     uint8_t **resp, size_t *resp_len, void *data, struct cc_error **err);

/* Limits; 0 in any field means its default. */
struct tt_server_config {
	/* Handler threads (4). */
	unsigned workers;
	/* Requests waiting for a worker; beyond, RESOURCE_EXHAUSTED (1024). */
	unsigned max_queue;
	/* Open connections; beyond, new ones are closed at accept (4096). */
	unsigned max_conns;
	/* Unanswered requests per connection before the server stops reading it (64). */
	unsigned max_inflight_per_conn;
	/* Request bytes held by queued or running calls; beyond, RESOURCE_EXHAUSTED (64 MiB). */
	size_t max_pending_bytes;
	/* Buffer bytes held by frames still arriving, across all connections; a connection
	 * whose frame needs more waits, unread, until some is free (64 MiB). */
	size_t max_partial_bytes;
	/* Time a frame may take to arrive once its first byte has; a connection that is still
	 * in the middle of one then is closed (10 s). */
	int64_t frame_timeout_ns;
};

/* cfg NULL = defaults. Nothing runs until tt_server_start(). */
CC_MUST_CHECK struct tt_server *tt_server_new(const struct tt_server_config *cfg,
					      struct cc_error **err);

/* Route (service, method), e.g. ("grpc.Image", "PullImage"), to fn. Before start only. */
CC_MUST_CHECK int tt_server_register(struct tt_server *s, const char *service, const char *method,
				     tt_handler_fn fn, void *data, struct cc_error **err);

/*
 * Listen on "unix://PATH" (PATH "@name" is abstract), "tcp://HOST:PORT" or "HOST:PORT" (HOST may
 * be a name, an IPv4 address, "[v6]" or empty for any; PORT 0 picks a free port). Before start
 * only. If bound is non-NULL it receives the actual address in the same syntax (caller frees).
 * A unix socket file the server created is removed when the server is freed.
 */
CC_MUST_CHECK int tt_server_listen(struct tt_server *s, const char *addr, char **bound,
				   struct cc_error **err);

/*
 * Serve on a socket that is already listening (one inherited from a parent, say); the server
 * owns fd from then on and makes it non-blocking and close-on-exec. unix_path, when given, is
 * the socket's file, removed with the server as for tt_server_listen(). Before start only.
 */
CC_MUST_CHECK int tt_server_listen_fd(struct tt_server *s, int fd, const char *unix_path,
				      struct cc_error **err);

/* Start the I/O thread and the workers. */
CC_MUST_CHECK int tt_server_start(struct tt_server *s, struct cc_error **err);

/*
 * Graceful stop: close the listeners and idle connections, answer new requests UNAVAILABLE, and
 * wait up to grace_ns for the calls in flight to be answered. Calls still running then are
 * cancelled (tt_call_cancelled() becomes true, their connections are closed) and the function
 * waits for their handlers to return. Returns 0 if everything finished within the grace
 * period, -1 (code DEADLINE_EXCEEDED) if calls had to be cancelled. Idempotent.
 */
CC_MUST_CHECK int tt_server_shutdown(struct tt_server *s, int64_t grace_ns, struct cc_error **err);

/* Shuts down without grace if still running, then frees. NULL is fine. */
void tt_server_free(struct tt_server *s);

/* For handlers. */
const char *tt_call_service(const struct tt_call *c);
const char *tt_call_method(const struct tt_call *c);
/* The request's timeout_nano as sent (0 = none). */
int64_t tt_call_timeout_ns(const struct tt_call *c);
/* Nanoseconds left before the deadline (<= 0 once passed), INT64_MAX without a deadline. */
int64_t tt_call_remaining_ns(const struct tt_call *c);
/* True once the client went away, the deadline passed or the server is stopping: the result
 * will be discarded, so long handlers should check this and give up. */
bool tt_call_cancelled(const struct tt_call *c);
/* Sleep up to ns (forever if < 0) or until the call is cancelled; returns tt_call_cancelled(). */
bool tt_call_wait(struct tt_call *c, int64_t ns);
/* The request metadata (pointers valid during the handler). */
const struct tt_kv *tt_call_metadata(const struct tt_call *c, size_t *n);
/* First value of key, or NULL. */
const char *tt_call_metadata_get(const struct tt_call *c, const char *key);

/* ---------------------------------------------------------------------------------------- */
/* Client */

struct tt_client;

/* Connect to an address in tt_server_listen() syntax; timeout_ns <= 0 waits as long as the
 * kernel does. */
CC_MUST_CHECK struct tt_client *tt_client_connect(const char *addr, int64_t timeout_ns,
						  struct cc_error **err);

/*
 * One unary call; thread-safe, any number of threads may call at once on one client and their
 * calls are multiplexed on the connection. timeout_ns > 0 is sent to the server and enforced
 * here (DEADLINE_EXCEEDED); 0 = none. On success *resp is a malloc'd payload (may be NULL when
 * empty). On failure err->code is the server's status or a local one: DEADLINE_EXCEEDED,
 * UNAVAILABLE (connection lost), RESOURCE_EXHAUSTED (request too large).
 */
CC_MUST_CHECK int tt_client_call(struct tt_client *c, const char *service, const char *method,
				 const void *req, size_t req_len, int64_t timeout_ns,
				 const struct tt_kv *md, size_t n_md, uint8_t **resp,
				 size_t *resp_len, struct cc_error **err);

/* Close the connection; calls still waiting fail with UNAVAILABLE; returns once they have.
 * NULL is fine. */
void tt_client_close(struct tt_client *c);
