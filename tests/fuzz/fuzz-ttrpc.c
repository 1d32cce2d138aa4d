// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for what a ttrpc peer controls: the byte stream through the frame reader
 * (chunked the way the first input byte says, with a small or the real size limit, and with or
 * without a partial-frame budget that is never to be overdrawn), then every frame body through
 * the Request and Response envelope decoders and every request payload through tt_unpack as a
 * PullImageRequest. Whatever decodes must re-encode and decode to the same thing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "util/cleanup.h"
#include "ttrpc/wire.h"
#include "image.pb-c.h"

/* A payload tt_unpack accepts has every string whole: packing it again and unpacking that
 * gives the same strings. */
static void check_payload(const uint8_t *buf, size_t len)
{
	struct cc_error *err = NULL;
	Grpc__PullImageRequest *m =
	    tt_unpack(&grpc__pull_image_request__descriptor, buf, len, &err);
	Grpc__PullImageRequest *again;
	_cleanup_free_ uint8_t *packed = NULL;
	size_t n;

	if (!m) {
		if (err->code != TT_INVALID_ARGUMENT)
			abort();
		cc_error_free(&err);
		return;
	}
	n = grpc__pull_image_request__get_packed_size(m);
	packed = xmalloc(n ? n : 1);
	grpc__pull_image_request__pack(m, packed);
	again = tt_unpack(&grpc__pull_image_request__descriptor, packed, n, NULL);
	if (!again || strcmp(m->image, again->image) ||
	    strcmp(m->container_id, again->container_id) ||
	    strcmp(m->source_creds, again->source_creds))
		abort();
	grpc__pull_image_request__free_unpacked(again, NULL);
	grpc__pull_image_request__free_unpacked(m, NULL);
}

static void check_request(const uint8_t *body, size_t len)
{
	struct tt_request req, again;
	struct cc_error *err = NULL;
	_cleanup_free_ uint8_t *enc = NULL;
	size_t elen;

	if (tt_request_decode(body, len, &req, &err) < 0) {
		if (err->code != TT_INVALID_ARGUMENT)
			abort();
		cc_error_free(&err);
		return;
	}
	enc = tt_request_encode(req.service, req.method, req.payload, req.payload_len,
				req.timeout_nano, req.metadata, req.n_metadata, &elen, &err);
	if (!enc)
		abort(); /* it came in one frame, it fits in one */
	if (tt_request_decode(enc, elen, &again, NULL) < 0)
		abort();
	check_payload(req.payload, req.payload_len);
	if (strcmp(req.service, again.service) || strcmp(req.method, again.method) ||
	    req.timeout_nano != again.timeout_nano || req.n_metadata != again.n_metadata ||
	    req.payload_len != again.payload_len ||
	    memcmp(req.payload, again.payload, req.payload_len))
		abort();
	for (size_t i = 0; i < req.n_metadata; i++)
		if (strcmp(req.metadata[i].key, again.metadata[i].key) ||
		    strcmp(req.metadata[i].value, again.metadata[i].value))
			abort();
	tt_request_clear(&again);
	tt_request_clear(&req);
}

static void check_response(const uint8_t *body, size_t len)
{
	struct tt_response resp, again;
	struct cc_error *err = NULL;
	_cleanup_free_ uint8_t *enc = NULL;
	size_t elen;

	if (tt_response_decode(body, len, &resp, &err) < 0) {
		cc_error_free(&err);
		return;
	}
	enc = tt_response_encode(resp.code, resp.message, resp.payload, resp.payload_len, &elen,
				 &err);
	if (!enc)
		abort();
	if (tt_response_decode(enc, elen, &again, NULL) < 0 || again.code != resp.code ||
	    strcmp(again.message, resp.code ? resp.message : ""))
		abort();
	tt_response_clear(&again);
	tt_response_clear(&resp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tt_reader r;
	struct tt_budget b = { 0 };
	size_t chunk, off = 1;

	if (size < 1)
		return 0;
	/* Low bits: chunk size (0 = all at once); 0x40: a small budget, fed only what
	 * tt_reader_room() allows (raised by tt_reader_need() when the reader waits, as a server
	 * would once budget frees); top bit: a tiny limit to reach the oversized-frame path with
	 * small inputs. */
	chunk = data[0] & 0x3f;
	tt_reader_init(&r, data[0] & 0x80 ? 64 : TT_MAX_MESSAGE);
	if (data[0] & 0x40) {
		b.max = 16 + chunk * 97;
		tt_reader_set_budget(&r, &b);
	}
	while (off < size) {
		size_t len = chunk && size - off > chunk ? chunk : size - off, used = 0;
		while (used < len) {
			enum tt_read_event ev;
			struct tt_frame_header h;
			uint8_t *body = NULL;
			size_t room = tt_reader_room(&r), n = len - used;
			if (room == 0) {
				if (tt_reader_need(&r) == 0)
					abort();
				b.max += tt_reader_need(&r);
				continue;
			}
			used += tt_reader_feed(&r, data + off + used, n < room ? n : room, &ev, &h,
					       &body);
			if (b.held > b.max || (r.budget && r.body_cap > 0 && b.held != r.body_cap))
				abort();
			if (ev == TT_READ_FRAME && h.type == TT_MSG_REQUEST)
				check_request(body, h.length);
			else if (ev == TT_READ_FRAME && h.type == TT_MSG_RESPONSE)
				check_response(body, h.length);
			else if (ev == TT_READ_OVERSIZE && h.length <= r.max_len)
				abort();
			free(body);
		}
		off += len;
	}
	tt_reader_clear(&r);
	if (b.held)
		abort();
	return 0;
}
