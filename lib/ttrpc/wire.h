/* SPDX-License-Identifier: Apache-2.0 */
/* ttrpc wire format: frame headers, the incremental frame reader, request/response envelopes.
 * Internal to lib/ttrpc (and its tests and fuzz target). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "ttrpc/ttrpc.h"

#define TT_HEADER_LEN 10

enum tt_msg_type {
	TT_MSG_REQUEST = 1,
	TT_MSG_RESPONSE = 2,
	TT_MSG_DATA = 3, /* streaming (ttrpc 1.2); no unary call uses it */
};

/* Request flags; 0 is a unary call. */
enum {
	TT_FLAG_REMOTE_CLOSED = 0x01,
	TT_FLAG_REMOTE_OPEN = 0x02,
	TT_FLAG_NO_DATA = 0x04,
};

struct tt_frame_header {
	uint32_t length; /* body bytes after the header */
	uint32_t stream_id;
	uint8_t type;
	uint8_t flags;
};

void tt_header_encode(const struct tt_frame_header *h, uint8_t out[TT_HEADER_LEN]);
void tt_header_decode(const uint8_t in[TT_HEADER_LEN], struct tt_frame_header *h);

/* Header and body in one malloc'd buffer of TT_HEADER_LEN + len bytes. Refuses len above
 * TT_MAX_MESSAGE (RESOURCE_EXHAUSTED). */
CC_MUST_CHECK uint8_t *tt_frame_build(uint32_t stream_id, uint8_t type, uint8_t flags,
				      const void *body, size_t len, size_t *frame_len,
				      struct cc_error **err);

/*
 * Incremental frame reader: feed it whatever the socket gave, it hands out whole frames.
 * Memory follows what the peer actually sent (the body buffer grows as bytes arrive, never to a
 * size a header merely claims), and a header announcing more than max_len is reported once and
 * its body skipped without being stored, as upstream does. A body that arrives whole in one
 * feed is copied once into a buffer of its exact size.
 *
 * Readers may share a budget for the buffers of bodies still arriving: the reader accounts
 * for what it holds, and tt_reader_room() says how much input it can take without going over;
 * a caller that feeds no more than that keeps the total within the budget.
 */
struct tt_budget {
	size_t held; /* bytes of buffer held by unfinished bodies */
	size_t max;
};

struct tt_reader {
	uint8_t hdr_buf[TT_HEADER_LEN];
	uint8_t hdr_have;
	struct tt_frame_header hdr;
	uint8_t *body;
	uint32_t body_cap;
	uint32_t body_have;
	uint32_t discard; /* bytes of an oversized body still to skip */
	uint32_t max_len;
	struct tt_budget *budget; /* NULL: none */
};

enum tt_read_event {
	TT_READ_NONE,	  /* input used up, no complete frame yet */
	TT_READ_FRAME,	  /* *hdr and *body (malloc'd, caller frees; NULL if empty) are set */
	TT_READ_OVERSIZE, /* *hdr is set; the body will be skipped */
};

void tt_reader_init(struct tt_reader *r, uint32_t max_len);
void tt_reader_clear(struct tt_reader *r);
/* True between frames (an EOF here is clean; elsewhere it truncated a frame). */
bool tt_reader_at_boundary(const struct tt_reader *r);
/* Count this reader's body buffers in b (NULL: stop counting). Between frames only. */
void tt_reader_set_budget(struct tt_reader *r, struct tt_budget *b);
/*
 * Bytes of input the reader can take now without its buffers taking the budget over its max
 * (SIZE_MAX without a budget). 0 means an unfinished body waits for budget: feed nothing until
 * tt_reader_need() bytes of it are free again. Between frames this counts a header plus what
 * the budget has left, so a read of that size never overdraws; whole frames further on in the
 * input cost no budget (see tt_frames_whole()).
 */
size_t tt_reader_room(const struct tt_reader *r);
/* Free budget an unfinished body waits for before tt_reader_room() is non-zero again. */
size_t tt_reader_need(const struct tt_reader *r);
/* Bytes of complete frames (header and body, none over max_len) at the start of data. */
size_t tt_frames_whole(const uint8_t *data, size_t len, uint32_t max_len);
/* Consume input until one event or the end of it; returns the bytes consumed. */
size_t tt_reader_feed(struct tt_reader *r, const uint8_t *data, size_t len, enum tt_read_event *ev,
		      struct tt_frame_header *hdr, uint8_t **body);

/* A decoded Request envelope; strings and payload point into msg (owned). */
struct tt_request {
	const char *service;
	const char *method;
	const uint8_t *payload;
	size_t payload_len;
	int64_t timeout_nano;
	struct tt_kv *metadata;
	size_t n_metadata;
	void *msg; /* the protobuf-c message */
};

CC_MUST_CHECK int tt_request_decode(const uint8_t *buf, size_t len, struct tt_request *out,
				    struct cc_error **err);
void tt_request_clear(struct tt_request *r);
CC_MUST_CHECK uint8_t *tt_request_encode(const char *service, const char *method,
					 const void *payload, size_t payload_len,
					 int64_t timeout_nano, const struct tt_kv *md, size_t n_md,
					 size_t *out_len, struct cc_error **err);

/* A decoded Response envelope (owned copies). A missing status decodes as code 0. */
struct tt_response {
	int code;
	char *message;
	uint8_t *payload;
	size_t payload_len;
};

CC_MUST_CHECK int tt_response_decode(const uint8_t *buf, size_t len, struct tt_response *out,
				     struct cc_error **err);
void tt_response_clear(struct tt_response *r);
/* code 0 leaves the status out (as Go servers do) and carries the payload; any other code
 * carries the status and no payload. */
CC_MUST_CHECK uint8_t *tt_response_encode(int code, const char *message, const void *payload,
					  size_t payload_len, size_t *out_len,
					  struct cc_error **err);

/* CLOCK_MONOTONIC in ns, and now + delta saturated at INT64_MAX. */
int64_t tt_now_ns(void);
int64_t tt_deadline_after(int64_t delta_ns);
/* poll()/epoll_wait() timeout until a deadline: -1 for INT64_MAX, rounded up, capped. */
int tt_poll_timeout_ms(int64_t deadline);
