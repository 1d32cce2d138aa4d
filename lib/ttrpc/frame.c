// SPDX-License-Identifier: Apache-2.0
/* Frame header codec and the incremental frame reader. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "util/cleanup.h"
#include "ttrpc/wire.h"

/* First allocation for a body that arrives in pieces; later growth doubles, so a peer that
 * announces 4 MiB and sends ten bytes costs this much, not 4 MiB. */
#define BODY_FIRST_ALLOC (16u << 10)
/* Under a tight budget, growth waits for at least this much (or the rest of the body) rather
 * than reallocating a few bytes at a time. */
#define BODY_MIN_STEP (4u << 10)

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void tt_header_encode(const struct tt_frame_header *h, uint8_t out[TT_HEADER_LEN])
{
	put_be32(out, h->length);
	put_be32(out + 4, h->stream_id);
	out[8] = h->type;
	out[9] = h->flags;
}

void tt_header_decode(const uint8_t in[TT_HEADER_LEN], struct tt_frame_header *h)
{
	h->length = get_be32(in);
	h->stream_id = get_be32(in + 4);
	h->type = in[8];
	h->flags = in[9];
}

uint8_t *tt_frame_build(uint32_t stream_id, uint8_t type, uint8_t flags, const void *body,
			size_t len, size_t *frame_len, struct cc_error **err)
{
	struct tt_frame_header h = { .stream_id = stream_id, .type = type, .flags = flags };
	uint8_t *frame;

	if (len > TT_MAX_MESSAGE) {
		tt_error_status(err, TT_RESOURCE_EXHAUSTED,
				"message length %zu exceeds maximum message size of %u", len,
				TT_MAX_MESSAGE);
		return NULL;
	}
	h.length = (uint32_t)len;
	frame = xmalloc(TT_HEADER_LEN + len);
	tt_header_encode(&h, frame);
	if (len)
		memcpy(frame + TT_HEADER_LEN, body, len);
	*frame_len = TT_HEADER_LEN + len;
	return frame;
}

void tt_reader_init(struct tt_reader *r, uint32_t max_len)
{
	memset(r, 0, sizeof(*r));
	r->max_len = max_len;
}

static void body_release(struct tt_reader *r)
{
	if (r->budget)
		r->budget->held -= r->body_cap;
	r->body_cap = r->body_have = 0;
}

void tt_reader_clear(struct tt_reader *r)
{
	struct tt_budget *b = r->budget;

	body_release(r);
	free(r->body);
	tt_reader_init(r, r->max_len);
	r->budget = b;
}

void tt_reader_set_budget(struct tt_reader *r, struct tt_budget *b)
{
	r->budget = b;
}

bool tt_reader_at_boundary(const struct tt_reader *r)
{
	return r->hdr_have == 0 && r->discard == 0;
}

static size_t budget_left(const struct tt_budget *b)
{
	return b->max > b->held ? b->max - b->held : 0;
}

/* Growth the unfinished body needs before it can take another byte: a step, or what is left. */
static size_t body_step(const struct tt_reader *r)
{
	uint32_t left = r->hdr.length - r->body_cap;
	return left < BODY_MIN_STEP ? left : BODY_MIN_STEP;
}

size_t tt_reader_room(const struct tt_reader *r)
{
	size_t avail, spare;

	if (!r->budget)
		return SIZE_MAX;
	avail = budget_left(r->budget);
	if (r->discard)
		return (size_t)r->discard + TT_HEADER_LEN + avail;
	if (r->hdr_have < TT_HEADER_LEN)
		return (size_t)(TT_HEADER_LEN - r->hdr_have) + avail;
	spare = r->body_cap - r->body_have;
	return spare + (avail >= body_step(r) ? avail : 0);
}

size_t tt_reader_need(const struct tt_reader *r)
{
	if (!r->budget || r->hdr_have < TT_HEADER_LEN || r->body_cap > r->body_have)
		return 0;
	return body_step(r);
}

size_t tt_frames_whole(const uint8_t *data, size_t len, uint32_t max_len)
{
	size_t off = 0;
	struct tt_frame_header h;

	while (len - off >= TT_HEADER_LEN) {
		tt_header_decode(data + off, &h);
		if (h.length > max_len || len - off - TT_HEADER_LEN < h.length)
			break;
		off += TT_HEADER_LEN + h.length;
	}
	return off;
}

/* Header complete: decide between storing the body, skipping it, or an empty frame. */
static enum tt_read_event header_done(struct tt_reader *r, struct tt_frame_header *hdr,
				      uint8_t **body)
{
	tt_header_decode(r->hdr_buf, &r->hdr);
	if (r->hdr.length > r->max_len) {
		*hdr = r->hdr;
		r->discard = r->hdr.length;
		r->hdr_have = 0;
		return TT_READ_OVERSIZE;
	}
	if (r->hdr.length == 0) {
		*hdr = r->hdr;
		*body = NULL;
		r->hdr_have = 0;
		return TT_READ_FRAME;
	}
	return TT_READ_NONE;
}

/* Room for need bytes of body: geometric growth up to hdr.length, trimmed to what the budget
 * has left (never below need: the caller fed what tt_reader_room() allowed). */
static void body_grow(struct tt_reader *r, uint32_t need)
{
	uint32_t len = r->hdr.length;
	uint32_t cap =
	    r->body_cap ? r->body_cap : (len < BODY_FIRST_ALLOC ? len : BODY_FIRST_ALLOC);

	while (cap < need)
		cap = cap > len / 2 ? len : cap * 2;
	if (r->budget) {
		size_t avail = budget_left(r->budget);
		if (cap - r->body_cap > avail)
			cap = r->body_cap + avail < need ? need : r->body_cap + (uint32_t)avail;
		r->budget->held += cap - r->body_cap;
	}
	r->body = xrealloc(r->body, cap);
	r->body_cap = cap;
}

/* Append to the body, growing the buffer as the bytes arrive. */
static size_t body_append(struct tt_reader *r, const uint8_t *data, size_t len)
{
	uint32_t want = r->hdr.length - r->body_have;
	size_t n = len < want ? len : want;

	if (r->body_have + n > r->body_cap)
		body_grow(r, r->body_have + (uint32_t)n);
	memcpy(r->body + r->body_have, data, n);
	r->body_have += (uint32_t)n;
	return n;
}

size_t tt_reader_feed(struct tt_reader *r, const uint8_t *data, size_t len, enum tt_read_event *ev,
		      struct tt_frame_header *hdr, uint8_t **body)
{
	size_t used = 0;

	*ev = TT_READ_NONE;
	while (used < len) {
		if (r->discard) {
			size_t n = len - used < r->discard ? len - used : r->discard;
			r->discard -= (uint32_t)n;
			used += n;
			continue;
		}
		if (r->hdr_have < TT_HEADER_LEN) {
			size_t n = TT_HEADER_LEN - r->hdr_have;
			if (n > len - used)
				n = len - used;
			memcpy(r->hdr_buf + r->hdr_have, data + used, n);
			r->hdr_have += (uint8_t)n;
			used += n;
			if (r->hdr_have == TT_HEADER_LEN) {
				*ev = header_done(r, hdr, body);
				if (*ev != TT_READ_NONE)
					return used;
				/* The whole body is at hand: one buffer of its size, no budget. */
				if (len - used >= r->hdr.length) {
					*hdr = r->hdr;
					*body = xmalloc(r->hdr.length);
					memcpy(*body, data + used, r->hdr.length);
					r->hdr_have = 0;
					*ev = TT_READ_FRAME;
					return used + r->hdr.length;
				}
			}
			continue;
		}
		used += body_append(r, data + used, len - used);
		if (r->body_have == r->hdr.length) {
			*hdr = r->hdr;
			*body = steal_pointer(&r->body);
			body_release(r);
			r->hdr_have = 0;
			*ev = TT_READ_FRAME;
			return used;
		}
	}
	return used;
}

int64_t tt_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t tt_deadline_after(int64_t delta_ns)
{
	int64_t now = tt_now_ns();
	if (delta_ns > INT64_MAX - now)
		return INT64_MAX;
	return now + delta_ns;
}

int tt_poll_timeout_ms(int64_t deadline)
{
	int64_t left;

	if (deadline == INT64_MAX)
		return -1;
	left = deadline - tt_now_ns();
	if (left <= 0)
		return 0;
	left = (left + 999999) / 1000000;
	return left > INT32_MAX ? INT32_MAX : (int)left;
}
