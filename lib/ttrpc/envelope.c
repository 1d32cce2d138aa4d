// SPDX-License-Identifier: Apache-2.0
/* Request/Response envelopes (protobuf-c, generated from proto/ttrpc.proto) and status codes. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util/cleanup.h"
#include "ttrpc/wire.h"
#include "ttrpc.pb-c.h"

static const char *const code_names[] = {
	[TT_OK] = "OK",
	[TT_CANCELLED] = "CANCELLED",
	[TT_UNKNOWN] = "UNKNOWN",
	[TT_INVALID_ARGUMENT] = "INVALID_ARGUMENT",
	[TT_DEADLINE_EXCEEDED] = "DEADLINE_EXCEEDED",
	[TT_NOT_FOUND] = "NOT_FOUND",
	[TT_ALREADY_EXISTS] = "ALREADY_EXISTS",
	[TT_PERMISSION_DENIED] = "PERMISSION_DENIED",
	[TT_RESOURCE_EXHAUSTED] = "RESOURCE_EXHAUSTED",
	[TT_FAILED_PRECONDITION] = "FAILED_PRECONDITION",
	[TT_ABORTED] = "ABORTED",
	[TT_OUT_OF_RANGE] = "OUT_OF_RANGE",
	[TT_UNIMPLEMENTED] = "UNIMPLEMENTED",
	[TT_INTERNAL] = "INTERNAL",
	[TT_UNAVAILABLE] = "UNAVAILABLE",
	[TT_DATA_LOSS] = "DATA_LOSS",
	[TT_UNAUTHENTICATED] = "UNAUTHENTICATED",
};

const char *tt_code_name(int code)
{
	static __thread char buf[24];

	if (code >= 0 && (size_t)code < ARRAY_SIZE(code_names))
		return code_names[code];
	snprintf(buf, sizeof(buf), "CODE(%d)", code);
	return buf;
}

int tt_error_status(struct cc_error **err, int code, const char *fmt, ...)
{
	va_list ap;
	bool fresh = err && !*err;

	va_start(ap, fmt);
	cc_error_setv(err, 0, fmt, ap);
	va_end(ap);
	if (fresh)
		(*err)->code = code;
	return -1;
}

/* protobuf-c reports no reason for a failed unpack; the frame size is the useful detail. */
int tt_request_decode(const uint8_t *buf, size_t len, struct tt_request *out, struct cc_error **err)
{
	static const uint8_t empty;
	Ttrpc__Request *m;

	memset(out, 0, sizeof(*out));
	/* A service, method or metadata string cut short at a NUL would match what it is not. */
	if (tt_check_strings(&ttrpc__request__descriptor, buf, len, err) < 0)
		return cc_error_prefix(err, "unmarshal request error");
	m = ttrpc__request__unpack(NULL, len, buf ? buf : &empty);
	if (!m)
		return tt_error_status(err, TT_INVALID_ARGUMENT,
				       "unmarshal request error: invalid protobuf (%zu bytes)",
				       len);
	out->msg = m;
	out->service = m->service;
	out->method = m->method;
	/* Never NULL, so that handlers can memcpy an empty payload. */
	out->payload = m->payload.data ? m->payload.data : &empty;
	out->payload_len = m->payload.len;
	out->timeout_nano = m->timeout_nano;
	out->n_metadata = m->n_metadata;
	if (m->n_metadata) {
		/* Bounded by the frame: every entry took at least two bytes of it. */
		out->metadata = xcalloc(m->n_metadata, sizeof(*out->metadata));
		for (size_t i = 0; i < m->n_metadata; i++) {
			out->metadata[i].key = m->metadata[i]->key;
			out->metadata[i].value = m->metadata[i]->value;
		}
	}
	return 0;
}

void tt_request_clear(struct tt_request *r)
{
	if (r->msg)
		ttrpc__request__free_unpacked(r->msg, NULL);
	free(r->metadata);
	memset(r, 0, sizeof(*r));
}

/* Pack into a fresh buffer, refusing what could not travel in one frame. */
static uint8_t *pack_message(const ProtobufCMessage *m, size_t *out_len, struct cc_error **err)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	uint8_t *buf;

	if (n > TT_MAX_MESSAGE) {
		tt_error_status(err, TT_RESOURCE_EXHAUSTED,
				"message length %zu exceeds maximum message size of %u", n,
				TT_MAX_MESSAGE);
		return NULL;
	}
	buf = xmalloc(n);
	*out_len = protobuf_c_message_pack(m, buf);
	return buf;
}

uint8_t *tt_request_encode(const char *service, const char *method, const void *payload,
			   size_t payload_len, int64_t timeout_nano, const struct tt_kv *md,
			   size_t n_md, size_t *out_len, struct cc_error **err)
{
	Ttrpc__Request m = TTRPC__REQUEST__INIT;
	_cleanup_free_ Ttrpc__KeyValue *kvs = NULL;
	_cleanup_free_ Ttrpc__KeyValue **kvp = NULL;

	if (payload_len > TT_MAX_MESSAGE) {
		tt_error_status(err, TT_RESOURCE_EXHAUSTED,
				"message length %zu exceeds maximum message size of %u",
				payload_len, TT_MAX_MESSAGE);
		return NULL;
	}
	/* protobuf-c wants non-const strings; it only reads them when packing. */
	m.service = (char *)service;
	m.method = (char *)method;
	m.payload.data = (uint8_t *)payload;
	m.payload.len = payload_len;
	m.timeout_nano = timeout_nano;
	if (n_md) {
		kvs = xcalloc(n_md, sizeof(*kvs));
		kvp = xcalloc(n_md, sizeof(*kvp));
		for (size_t i = 0; i < n_md; i++) {
			ttrpc__key_value__init(&kvs[i]);
			kvs[i].key = (char *)(md[i].key ? md[i].key : "");
			kvs[i].value = (char *)(md[i].value ? md[i].value : "");
			kvp[i] = &kvs[i];
		}
		m.n_metadata = n_md;
		m.metadata = kvp;
	}
	return pack_message(&m.base, out_len, err);
}

int tt_response_decode(const uint8_t *buf, size_t len, struct tt_response *out,
		       struct cc_error **err)
{
	static const uint8_t empty;
	Ttrpc__Response *m;

	memset(out, 0, sizeof(*out));
	m = ttrpc__response__unpack(NULL, len, buf ? buf : &empty);
	if (!m)
		return tt_error_status(err, TT_INTERNAL,
				       "unmarshal response error: invalid protobuf (%zu bytes)",
				       len);
	if (m->status) {
		out->code = m->status->code;
		out->message = xstrdup(m->status->message);
	} else {
		out->message = xstrdup("");
	}
	if (m->payload.len) {
		out->payload = xmalloc(m->payload.len);
		memcpy(out->payload, m->payload.data, m->payload.len);
		out->payload_len = m->payload.len;
	}
	ttrpc__response__free_unpacked(m, NULL);
	return 0;
}

void tt_response_clear(struct tt_response *r)
{
	free(r->message);
	free(r->payload);
	memset(r, 0, sizeof(*r));
}

uint8_t *tt_response_encode(int code, const char *message, const void *payload, size_t payload_len,
			    size_t *out_len, struct cc_error **err)
{
	Ttrpc__Response m = TTRPC__RESPONSE__INIT;
	Ttrpc__Status st = TTRPC__STATUS__INIT;

	if (code != TT_OK) {
		st.code = code;
		st.message = (char *)(message ? message : "");
		m.status = &st;
	} else {
		m.payload.data = (uint8_t *)payload;
		m.payload.len = payload_len;
	}
	return pack_message(&m.base, out_len, err);
}
