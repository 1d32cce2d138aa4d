// SPDX-License-Identifier: Apache-2.0
/* The aesmd messages: protobuf by hand (see aesm-msg.h for the definitions relied on). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "aesm-msg.h"
#include "util/cleanup.h"

/* ---- encoding ---- */

static void out_reserve(struct aesm_pb_out *o, size_t n)
{
	if (o->cap - o->len >= n)
		return;
	size_t cap = o->cap ? o->cap : 64;
	while (cap - o->len < n)
		cap *= 2;
	o->data = xrealloc(o->data, cap);
	o->cap = cap;
}

void aesm_pb_put_varint(struct aesm_pb_out *o, uint64_t v)
{
	out_reserve(o, 10);
	do {
		uint8_t b = v & 0x7f;
		v >>= 7;
		o->data[o->len++] = b | (v ? 0x80 : 0);
	} while (v);
}

void aesm_pb_put_uint(struct aesm_pb_out *o, uint32_t field, uint64_t v)
{
	aesm_pb_put_varint(o, (uint64_t)field << 3 | AESM_PB_VARINT);
	aesm_pb_put_varint(o, v);
}

void aesm_pb_put_bytes(struct aesm_pb_out *o, uint32_t field, const void *data, size_t len)
{
	aesm_pb_put_varint(o, (uint64_t)field << 3 | AESM_PB_LEN);
	aesm_pb_put_varint(o, len);
	out_reserve(o, len);
	if (len)
		memcpy(o->data + o->len, data, len);
	o->len += len;
}

/* The Request with `inner` as its member `op`; frees inner. */
static uint8_t *request(enum aesm_op op, struct aesm_pb_out *inner, size_t *len)
{
	struct aesm_pb_out o = { 0 };
	aesm_pb_put_bytes(&o, op, inner->data, inner->len);
	free(inner->data);
	*len = o.len;
	return o.data;
}

uint8_t *aesm_encode_init_quote(uint32_t timeout_ms, size_t *len)
{
	struct aesm_pb_out in = { 0 };
	aesm_pb_put_uint(&in, 9, timeout_ms);
	return request(AESM_OP_INIT_QUOTE, &in, len);
}

uint8_t *aesm_encode_get_launch_token(const uint8_t mr_enclave[32], const uint8_t modulus[384],
				      const uint8_t attributes[16], uint32_t timeout_ms,
				      size_t *len)
{
	struct aesm_pb_out in = { 0 };
	aesm_pb_put_bytes(&in, 1, mr_enclave, 32);
	aesm_pb_put_bytes(&in, 2, modulus, SGX_MODULUS_SIZE);
	aesm_pb_put_bytes(&in, 3, attributes, 16);
	aesm_pb_put_uint(&in, 9, timeout_ms);
	return request(AESM_OP_GET_LAUNCH_TOKEN, &in, len);
}

uint8_t *aesm_encode_get_quote(const uint8_t report[432], uint32_t quote_type,
			       const uint8_t spid[16], uint32_t buf_size, uint32_t timeout_ms,
			       size_t *len)
{
	struct aesm_pb_out in = { 0 };
	aesm_pb_put_bytes(&in, 1, report, 432);
	aesm_pb_put_uint(&in, 2, quote_type);
	aesm_pb_put_bytes(&in, 3, spid, SGX_SPID_SIZE);
	aesm_pb_put_uint(&in, 6, buf_size);
	aesm_pb_put_uint(&in, 9, timeout_ms);
	return request(AESM_OP_GET_QUOTE, &in, len);
}

uint8_t *aesm_encode_init_quote_ex(const uint8_t att_key_id[256], bool with_pub_key_id,
				   uint64_t buf_size, uint32_t timeout_ms, size_t *len)
{
	struct aesm_pb_out in = { 0 };
	aesm_pb_put_bytes(&in, 1, att_key_id, SGX_ATT_KEY_ID_SIZE);
	aesm_pb_put_uint(&in, 3, with_pub_key_id); /* required bool: sent even when false */
	if (with_pub_key_id)
		aesm_pb_put_uint(&in, 4, buf_size);
	aesm_pb_put_uint(&in, 9, timeout_ms);
	return request(AESM_OP_INIT_QUOTE_EX, &in, len);
}

uint8_t *aesm_encode_get_quote_size_ex(const uint8_t att_key_id[256], uint32_t timeout_ms,
				       size_t *len)
{
	struct aesm_pb_out in = { 0 };
	aesm_pb_put_bytes(&in, 1, att_key_id, SGX_ATT_KEY_ID_SIZE);
	aesm_pb_put_uint(&in, 9, timeout_ms);
	return request(AESM_OP_GET_QUOTE_SIZE_EX, &in, len);
}

uint8_t *aesm_encode_get_quote_ex(const uint8_t report[432], const uint8_t att_key_id[256],
				  uint32_t buf_size, uint32_t timeout_ms, size_t *len)
{
	struct aesm_pb_out in = { 0 };
	aesm_pb_put_bytes(&in, 1, report, 432);
	aesm_pb_put_bytes(&in, 2, att_key_id, SGX_ATT_KEY_ID_SIZE);
	aesm_pb_put_uint(&in, 4, buf_size);
	aesm_pb_put_uint(&in, 9, timeout_ms);
	return request(AESM_OP_GET_QUOTE_EX, &in, len);
}

static void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/*
 * sgx_att_key_id_ext_t (sgx_quote.h, packed, 256 bytes): the sgx_ql_att_key_id_t base
 *   id u16 @0, version u16 @2, mrsigner_length u16 @4, mrsigner[48] @6, prod_id u32 @54,
 *   extended_prod_id[16] @58, config_id[64] @74, family_id[16] @138, algorithm_id u32 @154
 * then spid[16] @158, att_key_type u16 @174 (0 for ECDSA), reserved[80] @176.
 * Intel's ECDSA quoting enclave: MRSIGNER 8c4f5775...57bff (32 bytes of SHA-256), ISVPRODID 1,
 * algorithm SGX_QL_ALG_ECDSA_P256 = 2; everything else zero.
 */
void aesm_ecdsa_att_key_id(uint8_t out[256])
{
	static const uint8_t qe3_mrsigner[32] = {
		0x8c, 0x4f, 0x57, 0x75, 0xd7, 0x96, 0x50, 0x3e, 0x96, 0x13, 0x7f,
		0x77, 0xc6, 0x8a, 0x82, 0x9a, 0x00, 0x56, 0xac, 0x8d, 0xed, 0x70,
		0x14, 0x0b, 0x08, 0x1b, 0x09, 0x44, 0x90, 0xc5, 0x7b, 0xff,
	};
	memset(out, 0, SGX_ATT_KEY_ID_SIZE);
	put_le16(out + 4, sizeof(qe3_mrsigner));
	memcpy(out + 6, qe3_mrsigner, sizeof(qe3_mrsigner));
	put_le32(out + 54, 1);
	put_le32(out + 154, 2);
}

/* ---- decoding ---- */

void aesm_pb_reader_init(struct aesm_pb_reader *r, const uint8_t *buf, size_t len)
{
	r->start = r->p = buf;
	r->end = buf + len;
}

static int get_varint(struct aesm_pb_reader *r, uint64_t *v, size_t at, struct cc_error **err)
{
	uint64_t x = 0;
	for (unsigned i = 0; i < 10; i++) {
		if (r->p == r->end)
			return cc_error_set(err, 0, "at byte %zu: truncated varint", at);
		uint8_t b = *r->p++;
		/* The tenth byte holds bit 63 only. */
		if (i == 9 && (b & 0x7e))
			return cc_error_set(err, 0, "at byte %zu: varint does not fit 64 bits", at);
		x |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80)) {
			*v = x;
			return 0;
		}
	}
	return cc_error_set(err, 0, "at byte %zu: varint longer than 10 bytes", at);
}

static uint64_t get_le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

int aesm_pb_next(struct aesm_pb_reader *r, struct aesm_pb_field *f, struct cc_error **err)
{
	if (r->p == r->end)
		return 0;
	size_t at = (size_t)(r->p - r->start);
	uint64_t key;
	if (get_varint(r, &key, at, err) < 0)
		return -1;
	uint64_t number = key >> 3;
	unsigned wire = key & 7;
	if (number == 0 || number > 0x1fffffff)
		return cc_error_set(err, 0, "at byte %zu: field number %" PRIu64 " out of range",
				    at, number);
	*f = (struct aesm_pb_field){ .number = (uint32_t)number, .wire = wire };
	size_t left;
	switch (wire) {
	case AESM_PB_VARINT:
		return get_varint(r, &f->u, at, err) < 0 ? -1 : 1;
	case AESM_PB_I64:
	case AESM_PB_I32: {
		unsigned n = wire == AESM_PB_I64 ? 8 : 4;
		if ((size_t)(r->end - r->p) < n)
			return cc_error_set(err, 0,
					    "at byte %zu: field %u: truncated %u-byte value", at,
					    f->number, n);
		f->u = get_le(r->p, n);
		r->p += n;
		return 1;
	}
	case AESM_PB_LEN:
		if (get_varint(r, &f->u, at, err) < 0)
			return -1;
		left = (size_t)(r->end - r->p);
		if (f->u > left)
			return cc_error_set(
			    err, 0, "at byte %zu: field %u: %" PRIu64 " bytes announced, %zu left",
			    at, f->number, f->u, left);
		f->data = r->p;
		f->len = (size_t)f->u;
		r->p += f->len;
		return 1;
	case 3:
	case 4:
		return cc_error_set(err, 0,
				    "at byte %zu: field %u: groups (wire type %u) are "
				    "not supported",
				    at, f->number, wire);
	default:
		return cc_error_set(err, 0, "at byte %zu: field %u: unknown wire type %u", at,
				    f->number, wire);
	}
}

static const char *wire_name(enum aesm_pb_wire w)
{
	switch (w) {
	case AESM_PB_VARINT:
		return "varint";
	case AESM_PB_I64:
		return "64-bit";
	case AESM_PB_LEN:
		return "length-delimited";
	default:
		return "32-bit";
	}
}

enum member_kind { K_U32, K_U64, K_BYTES };

struct member {
	uint8_t number;
	const char *name;
	enum member_kind kind;
	size_t min, max; /* bytes: length; numbers: value */
};

struct op_spec {
	enum aesm_op op;
	const char *name; /* the operation; the response message is name + "Response" */
	uint8_t needed;	  /* the member a success must carry (0: the caller checks) */
	struct member members[3];
};

static const struct op_spec specs[] = {
	{ AESM_OP_INIT_QUOTE,
	  "InitQuote",
	  AESM_F_TARGET_INFO,
	  { { AESM_F_TARGET_INFO, "targetInfo", K_BYTES, 512, 512 },
	    { AESM_F_GID, "gid", K_BYTES, SGX_EPID_GID_SIZE, SGX_EPID_GID_SIZE } } },
	{ AESM_OP_GET_QUOTE,
	  "GetQuote",
	  AESM_F_QUOTE,
	  { { AESM_F_QUOTE, "quote", K_BYTES, SGX_QUOTE_MIN, AESM_QUOTE_MAX },
	    { AESM_F_QE_REPORT, "qe_report", K_BYTES, 432, 432 } } },
	{ AESM_OP_GET_LAUNCH_TOKEN,
	  "GetLaunchToken",
	  AESM_F_TOKEN,
	  { { AESM_F_TOKEN, "token", K_BYTES, SGX_EINITTOKEN_SIZE, SGX_EINITTOKEN_SIZE } } },
	{ AESM_OP_INIT_QUOTE_EX,
	  "InitQuoteEx",
	  0,
	  { { AESM_F_TARGET_INFO, "target_info", K_BYTES, 512, 512 },
	    { AESM_F_PUB_KEY_ID_SIZE, "pub_key_id_size", K_U64, 1, AESM_PUB_KEY_ID_MAX },
	    { AESM_F_PUB_KEY_ID, "pub_key_id", K_BYTES, 1, AESM_PUB_KEY_ID_MAX } } },
	{ AESM_OP_GET_QUOTE_SIZE_EX,
	  "GetQuoteSizeEx",
	  AESM_F_QUOTE_SIZE,
	  { { AESM_F_QUOTE_SIZE, "quote_size", K_U32, SGX_ECDSA_QUOTE_MIN, AESM_QUOTE_MAX } } },
	{ AESM_OP_GET_QUOTE_EX,
	  "GetQuoteEx",
	  AESM_F_QUOTE,
	  { { AESM_F_QUOTE, "quote", K_BYTES, SGX_ECDSA_QUOTE_MIN, AESM_QUOTE_MAX },
	    { AESM_F_QE_REPORT, "qe_report_info", K_BYTES, SGX_QE_REPORT_INFO_SIZE,
	      SGX_QE_REPORT_INFO_SIZE } } },
};

static const struct op_spec *spec_of(enum aesm_op op)
{
	for (size_t i = 0; i < ARRAY_SIZE(specs); i++)
		if (specs[i].op == op)
			return &specs[i];
	return NULL;
}

const char *aesm_op_name(enum aesm_op op)
{
	const struct op_spec *s = spec_of(op);
	return s ? s->name : "unknown";
}

/* aesm_error_t (Intel's aesm_error.h), by value. */
static const char *const error_names[] = {
	"AESM_SUCCESS",
	"AESM_UNEXPECTED_ERROR",
	"AESM_NO_DEVICE_ERROR",
	"AESM_PARAMETER_ERROR",
	"AESM_EPIDBLOB_ERROR",
	"AESM_EPID_REVOKED_ERROR",
	"AESM_GET_LICENSETOKEN_ERROR",
	"AESM_SESSION_INVALID",
	"AESM_MAX_NUM_SESSION_REACHED",
	"AESM_PSDA_UNAVAILABLE",
	"AESM_EPH_SESSION_FAILED",
	"AESM_LONG_TERM_PAIRING_FAILED",
	"AESM_NETWORK_ERROR",
	"AESM_NETWORK_BUSY_ERROR",
	"AESM_PROXY_SETTING_ASSIST",
	"AESM_FILE_ACCESS_ERROR",
	"AESM_SGX_PROVISION_FAILED",
	"AESM_SERVICE_STOPPED",
	"AESM_BUSY",
	"AESM_BACKEND_SERVER_BUSY",
	"AESM_UPDATE_AVAILABLE",
	"AESM_OUT_OF_MEMORY_ERROR",
	"AESM_MSG_ERROR",
	"AESM_THREAD_ERROR",
	"AESM_SGX_DEVICE_NOT_AVAILABLE",
	"AESM_ENABLE_SGX_DEVICE_FAILED",
	"AESM_PLATFORM_INFO_BLOB_INVALID_SIG",
	"AESM_SERVICE_NOT_AVAILABLE",
	"AESM_KDF_MISMATCH",
	"AESM_OUT_OF_EPC",
	"AESM_SERVICE_UNAVAILABLE",
	"AESM_UNRECOGNIZED_PLATFORM",
	"AESM_ECDSA_ID_MISMATCH",
	"AESM_PATHNAME_BUFFER_OVERFLOW_ERROR",
	"AESM_ERROR_STORED_KEY",
	"AESM_PUB_KEY_ID_MISMATCH",
	"AESM_INVALID_PCE_SIG_SCHEME",
	"AESM_ATT_KEY_BLOB_ERROR",
	"AESM_UNSUPPORTED_ATT_KEY_ID",
	"AESM_UNSUPPORTED_LOADING_POLICY",
	"AESM_INTERFACE_UNAVAILABLE",
	"AESM_PLATFORM_LIB_UNAVAILABLE",
	"AESM_ATT_KEY_NOT_INITIALIZED",
	"AESM_ATT_KEY_CERT_DATA_INVALID",
	"AESM_NO_PLATFORM_CERT_DATA",
	"AESM_ERROR_REPORT",
	"AESM_ENCLAVE_LOST",
	"AESM_INVALID_REPORT",
	"AESM_ENCLAVE_LOAD_ERROR",
	"AESM_UNABLE_TO_GENERATE_QE_REPORT",
	"AESM_KEY_CERTIFICATION_ERROR",
	"AESM_CONFIG_UNSUPPORTED",
};

const char *aesm_error_name(uint32_t code)
{
	return code < ARRAY_SIZE(error_names) ? error_names[code] : NULL;
}

/* "AESM_PARAMETER_ERROR (3)" or "error 99", into buf. */
static const char *error_text(uint32_t code, char *buf, size_t size)
{
	const char *name = aesm_error_name(code);
	if (name)
		snprintf(buf, size, "%s (%" PRIu32 ")", name, code);
	else
		snprintf(buf, size, "error %" PRIu32, code);
	return buf;
}

static const struct member *member_of(const struct op_spec *s, uint32_t number)
{
	for (size_t i = 0; i < ARRAY_SIZE(s->members); i++)
		if (s->members[i].name && s->members[i].number == number)
			return &s->members[i];
	return NULL;
}

/* One known member of the inner message: wire type, once, bounds. */
static int take_member(const struct member *m, const struct aesm_pb_field *f,
		       struct aesm_response *out, struct cc_error **err)
{
	enum aesm_pb_wire want = m->kind == K_BYTES ? AESM_PB_LEN : AESM_PB_VARINT;
	if (f->wire != want)
		return cc_error_set(err, 0, "field %u (%s): expected %s, got %s", f->number,
				    m->name, wire_name(want), wire_name(f->wire));
	if (out->has[m->number])
		return cc_error_set(err, 0, "field %u (%s) appears twice", f->number, m->name);
	if (m->kind == K_BYTES && (f->len < m->min || f->len > m->max)) {
		if (m->min == m->max)
			return cc_error_set(err, 0, "%s: %zu bytes, expected %zu", m->name, f->len,
					    m->min);
		return cc_error_set(err, 0, "%s: %zu bytes, expected %zu to %zu", m->name, f->len,
				    m->min, m->max);
	}
	if (m->kind != K_BYTES && (f->u < m->min || f->u > m->max))
		return cc_error_set(err, 0, "%s: %" PRIu64 ", expected %zu to %zu", m->name, f->u,
				    m->min, m->max);
	out->has[m->number] = true;
	out->num[m->number] = f->u;
	out->data[m->number] = f->data;
	out->len[m->number] = f->len;
	return 0;
}

/* The XxxResponse message. */
static int decode_inner(const struct op_spec *s, const uint8_t *buf, size_t len,
			struct aesm_response *out, struct cc_error **err)
{
	struct aesm_pb_reader r;
	struct aesm_pb_field f;
	bool has_code = false;
	int rc;
	aesm_pb_reader_init(&r, buf, len);
	while ((rc = aesm_pb_next(&r, &f, err)) > 0) {
		if (f.number == AESM_F_ERROR_CODE) {
			if (f.wire != AESM_PB_VARINT)
				return cc_error_set(err, 0,
						    "field 1 (errorCode): expected varint, got %s",
						    wire_name(f.wire));
			if (has_code)
				return cc_error_set(err, 0, "field 1 (errorCode) appears twice");
			if (f.u > UINT32_MAX)
				return cc_error_set(
				    err, 0, "errorCode: %" PRIu64 " does not fit 32 bits", f.u);
			out->error_code = (uint32_t)f.u;
			has_code = true;
			continue;
		}
		const struct member *m = member_of(s, f.number);
		if (m && take_member(m, &f, out, err) < 0)
			return -1;
	}
	if (rc < 0)
		return -1;
	if (!has_code) /* "required": aesmd always sends it */
		return cc_error_set(err, 0, "no errorCode");
	return 0;
}

/* The errorCode of an UnsupportedRequestResponse, best effort (1, the proto's default). */
static uint32_t unsupported_code(const struct aesm_pb_field *f)
{
	struct aesm_pb_reader r;
	struct aesm_pb_field g;
	struct cc_error *ignored = NULL;
	uint32_t code = 1;
	aesm_pb_reader_init(&r, f->data, f->len);
	while (aesm_pb_next(&r, &g, &ignored) > 0)
		if (g.number == AESM_F_ERROR_CODE && g.wire == AESM_PB_VARINT && g.u <= UINT32_MAX)
			code = (uint32_t)g.u;
	cc_error_free(&ignored);
	return code;
}

int aesm_decode_response(enum aesm_op op, const uint8_t *buf, size_t len, struct aesm_response *out,
			 struct cc_error **err)
{
	const struct op_spec *s = spec_of(op);
	struct aesm_pb_reader r;
	struct aesm_pb_field f, body = { 0 };
	bool seen = false, unsupported = false;
	uint32_t unsupported_with = 0;
	char text[64];
	int rc;

	*out = (struct aesm_response){ .op = op };
	if (!s)
		return cc_error_set(err, EINVAL, "aesmd: unknown operation %d", (int)op);
	aesm_pb_reader_init(&r, buf, len);
	while ((rc = aesm_pb_next(&r, &f, err)) > 0) {
		if (f.number == (uint32_t)op) {
			if (f.wire != AESM_PB_LEN)
				return cc_error_set(err, 0,
						    "aesmd's %s response: field %u (%sResponse): "
						    "expected length-delimited, got %s",
						    s->name, f.number, s->name, wire_name(f.wire));
			if (seen)
				return cc_error_set(err, 0,
						    "aesmd's %s response: field %u (%sResponse) "
						    "appears twice",
						    s->name, f.number, s->name);
			body = f;
			seen = true;
		} else if (f.number == AESM_UNSUPPORTED_REQUEST && f.wire == AESM_PB_LEN) {
			unsupported = true;
			unsupported_with = unsupported_code(&f);
		}
		/* Members answering other requests are not ours: skipped, as protobuf does. */
	}
	if (rc < 0)
		return cc_error_prefix(err, "aesmd's %s response", s->name);
	if (!seen && unsupported)
		return cc_error_set(err, 0,
				    "aesmd: %s is not supported by this aesmd (it answered "
				    "UnsupportedRequestResponse with %s)",
				    s->name, error_text(unsupported_with, text, sizeof(text)));
	if (!seen)
		return cc_error_set(err, 0, "aesmd's %s response: no %sResponse in it", s->name,
				    s->name);
	if (decode_inner(s, body.data, body.len, out, err) < 0)
		return cc_error_prefix(err, "aesmd's %s response: %sResponse", s->name, s->name);
	if (out->error_code) {
		cc_error_set(err, 0, "aesmd: %s failed with %s", s->name,
			     error_text(out->error_code, text, sizeof(text)));
		(*err)->code = (int)out->error_code;
		return -1;
	}
	if (s->needed && !out->has[s->needed])
		return cc_error_set(err, 0, "aesmd's %s response: errorCode 0 but no %s", s->name,
				    member_of(s, s->needed)->name);
	return 0;
}

int aesm_response_require(const struct aesm_response *r, unsigned field, struct cc_error **err)
{
	const struct op_spec *s = spec_of(r->op);
	const struct member *m = s ? member_of(s, field) : NULL;
	if (field <= AESM_F_MAX && r->has[field])
		return 0;
	return cc_error_set(err, 0, "aesmd's %s response: errorCode 0 but no %s",
			    s ? s->name : "unknown", m ? m->name : "member");
}
