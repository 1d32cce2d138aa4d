// SPDX-License-Identifier: Apache-2.0
/*
 * String fields on the wire. protobuf-c hands a string out as a NUL-terminated copy, so one with
 * a NUL byte inside reaches C code cut short ("a\0b" reads as "a"). The wire bytes still have
 * its length: they are walked before unpacking, and such a message is refused. The walk also
 * refuses field number 0, which protobuf-c accepts in some spellings and not in others.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <protobuf-c/protobuf-c.h>
#include "util/cleanup.h"
#include "ttrpc/ttrpc.h"

/* Deeper than any message we declare; a hostile nesting stops here (unpack judges the rest). */
#define MAX_DEPTH 16

struct walk {
	const char *names[MAX_DEPTH + 1]; /* message short name, then field names */
	int depth;
};

static bool get_varint(const uint8_t *p, size_t len, size_t *off, uint64_t *v)
{
	*v = 0;
	for (unsigned shift = 0; shift < 64 && *off < len; shift += 7) {
		uint8_t b = p[(*off)++];
		*v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return true;
	}
	return false;
}

static int refuse(struct walk *w, size_t at, struct cc_error **err)
{
	char path[512] = "";
	size_t n = 0;

	for (int i = 0; i <= w->depth && n < sizeof(path); i++)
		n +=
		    (size_t)snprintf(path + n, sizeof(path) - n, "%s%s", i ? "." : "", w->names[i]);
	return tt_error_status(err, TT_INVALID_ARGUMENT, "%s: contains a NUL byte at offset %zu",
			       path, at);
}

/* 0 when every string field (at any depth) is free of NUL bytes, or when the bytes stop making
 * sense (malformed input is for the unpack to refuse, with its own message). */
static int walk(struct walk *w, const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t len,
		struct cc_error **err)
{
	size_t off = 0;

	while (off < len) {
		const ProtobufCFieldDescriptor *f;
		uint64_t key, n;
		const uint8_t *nul;

		size_t at = off;
		if (!get_varint(p, len, &off, &key))
			return 0;
		/* Field number 0 does not exist; protobuf-c takes it as an unknown field when its
		 * tag is spelt in two bytes (80 00) but not in one, so it would not survive a
		 * repack: refused here, at any depth. */
		if (key >> 3 == 0)
			return tt_error_status(err, TT_INVALID_ARGUMENT,
					       "%s: field number 0 at offset %zu", w->names[0], at);
		switch (key & 7) {
		case 0:
			if (!get_varint(p, len, &off, &n))
				return 0;
			continue;
		case 1:
		case 5:
			n = (key & 7) == 1 ? 8 : 4;
			if (len - off < n)
				return 0;
			off += n;
			continue;
		case 2:
			break;
		default:
			return 0;
		}
		if (!get_varint(p, len, &off, &n) || n > len - off)
			return 0;
		f = key >> 3 <= UINT32_MAX
			? protobuf_c_message_descriptor_get_field(d, (unsigned)(key >> 3))
			: NULL;
		if (f && f->type == PROTOBUF_C_TYPE_STRING && (nul = memchr(p + off, 0, n))) {
			w->names[w->depth + 1] = f->name;
			w->depth++;
			return refuse(w, (size_t)(nul - (p + off)), err);
		}
		if (f && f->type == PROTOBUF_C_TYPE_MESSAGE && w->depth + 1 < MAX_DEPTH) {
			w->names[++w->depth] = f->name;
			if (walk(w, f->descriptor, p + off, n, err) < 0)
				return -1;
			w->depth--;
		}
		off += n;
	}
	return 0;
}

int tt_check_strings(const ProtobufCMessageDescriptor *d, const uint8_t *buf, size_t len,
		     struct cc_error **err)
{
	struct walk w = { .names = { d->short_name } };

	return buf ? walk(&w, d, buf, len, err) : 0;
}

void *tt_unpack(const ProtobufCMessageDescriptor *d, const uint8_t *buf, size_t len,
		struct cc_error **err)
{
	static const uint8_t empty;
	ProtobufCMessage *m;

	if (tt_check_strings(d, buf, len, err) < 0)
		return NULL;
	m = protobuf_c_message_unpack(d, NULL, len, buf ? buf : &empty);
	if (!m)
		tt_error_status(err, TT_INVALID_ARGUMENT, "%s: not a valid protobuf message",
				d->short_name);
	return m;
}
