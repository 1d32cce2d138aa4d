/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The aesmd protocol's messages, encoded and decoded by hand: a few varints and
 * length-delimited fields do not need a protobuf library, and a hand decoder bounds every length
 * before it touches a byte.
 *
 * Facts relied on (Intel's linux-sgx, psw/ae/aesm_service/source/core/ipc/messages.proto,
 * package aesm.message, proto2; field names as they are there, numbers after the '='):
 *
 *   Request (one member set):
 *     1  initQuoteReq       InitQuoteRequest       { 9 timeout uint32 }
 *     2  getQuoteReq        GetQuoteRequest        { 1 report bytes, 2 quote_type uint32,
 *                                                    3 spid bytes, 4 nonce bytes, 5 sig_rl bytes,
 *                                                    6 buf_size uint32, 7 qe_report bool,
 *                                                    9 timeout uint32 }
 *     3  getLicTokenReq     GetLaunchTokenRequest  { 1 mr_enclave bytes, 2 mr_signer bytes (the
 *                                                    SIGSTRUCT's 384-byte MODULUS, not a hash),
 *                                                    3 se_attributes bytes, 9 timeout uint32 }
 *     15 initQuoteExReq     InitQuoteExRequest     { 1 att_key_id bytes, 3 b_pub_key_id bool,
 *                                                    4 buf_size uint64, 9 timeout uint32 }
 *     16 getQuoteSizeExReq  GetQuoteSizeExRequest  { 1 att_key_id bytes, 9 timeout uint32 }
 *     17 getQuoteExReq      GetQuoteExRequest      { 1 report bytes, 2 att_key_id bytes,
 *                                                    3 qe_report_info bytes, 4 buf_size uint32,
 *                                                    9 timeout uint32 }
 *   Response (the member of the request's number; every errorCode is "required uint32 = 1"):
 *     1  InitQuoteResponse       { 1 errorCode, 2 targetInfo bytes, 3 gid bytes }
 *     2  GetQuoteResponse        { 1 errorCode, 2 quote bytes, 3 qe_report bytes }
 *     3  GetLaunchTokenResponse  { 1 errorCode, 2 token bytes }
 *     15 InitQuoteExResponse     { 1 errorCode, 2 target_info bytes, 3 pub_key_id_size uint64,
 *                                  4 pub_key_id bytes }
 *     16 GetQuoteSizeExResponse  { 1 errorCode, 2 quote_size uint32 }
 *     17 GetQuoteExResponse      { 1 errorCode, 2 quote bytes, 3 qe_report_info bytes }
 *     20 UnsupportedRequestResponse { 1 errorCode }  (what a newer aesmd says to a request it
 *                                                     no longer serves)
 *
 * (Older releases had InitQuoteExRequest { 2 certification_key_type, 3 refresh_att_key,
 * 4 b_pub_key_id, 5 buf_size }; this follows the current numbering, as inclavare's sgx-tools
 * does.) Protobuf wire format: a key is the varint (field << 3 | wire type); wire type 0 is a
 * varint, 2 a varint length then that many bytes, 1 and 5 are 8 and 4 fixed bytes.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "util/error.h"

/* The largest response accepted from aesmd (its 4-byte length is checked before reading). */
#define AESM_RESPONSE_MAX (128u << 10)
/* The largest quote accepted (a DCAP quote with its PCK chain is about 5 KiB). */
#define AESM_QUOTE_MAX (64u << 10)
/* A pub_key_id (the ECDSA QE's: a SHA-256) longer than this is refused. */
#define AESM_PUB_KEY_ID_MAX 1024u

#define SGX_SIGSTRUCT_SIZE 1808
#define SGX_EINITTOKEN_SIZE 304
#define SGX_MODULUS_SIZE 384
#define SGX_SPID_SIZE 16
#define SGX_EPID_GID_SIZE 4
#define SGX_QE_REPORT_INFO_SIZE 960
/* sgx_att_key_id_t: 256 bytes, an sgx_att_key_id_ext_t (see aesm_ecdsa_att_key_id). */
#define SGX_ATT_KEY_ID_SIZE 256
/* EPID quotes: the buffer asked for (sgx-tools' size), then trimmed to 436 + signature. */
#define SGX_EPID_QUOTE_BUF 2048
/* sgx_quote_t without its signature: 48-byte header and 384-byte body, then the u32 length. */
#define SGX_QUOTE_SIG_LEN_OFFSET 432
#define SGX_QUOTE_MIN 436
/* The smallest DCAP v3 quote (empty QE auth and certification data). */
#define SGX_ECDSA_QUOTE_MIN 1020

/* ---- protobuf primitives ---- */

/* A growing output buffer; xmalloc'd, the owner frees data. */
struct aesm_pb_out {
	uint8_t *data;
	size_t len, cap;
};

void aesm_pb_put_varint(struct aesm_pb_out *o, uint64_t v);
/* Field `field` as a varint (wire type 0). */
void aesm_pb_put_uint(struct aesm_pb_out *o, uint32_t field, uint64_t v);
/* Field `field` as length-delimited bytes (wire type 2); also how a sub-message is put. */
void aesm_pb_put_bytes(struct aesm_pb_out *o, uint32_t field, const void *data, size_t len);

enum aesm_pb_wire { AESM_PB_VARINT = 0, AESM_PB_I64 = 1, AESM_PB_LEN = 2, AESM_PB_I32 = 5 };

struct aesm_pb_field {
	uint32_t number;
	enum aesm_pb_wire wire;
	uint64_t u;	     /* VARINT, I64, I32 */
	const uint8_t *data; /* LEN: into the reader's buffer */
	size_t len;
};

struct aesm_pb_reader {
	const uint8_t *start, *p, *end;
};

void aesm_pb_reader_init(struct aesm_pb_reader *r, const uint8_t *buf, size_t len);
/* The next field: 1 with *f, 0 at the end of the buffer, -1 with *err ("at byte N: ...") for
 * a truncated or ill-formed one. Groups (wire types 3, 4) and wire types 6, 7 are refused. */
CC_MUST_CHECK int aesm_pb_next(struct aesm_pb_reader *r, struct aesm_pb_field *f,
			       struct cc_error **err);

/* ---- aesmd messages ---- */

enum aesm_op {
	AESM_OP_INIT_QUOTE = 1,
	AESM_OP_GET_QUOTE = 2,
	AESM_OP_GET_LAUNCH_TOKEN = 3,
	AESM_OP_INIT_QUOTE_EX = 15,
	AESM_OP_GET_QUOTE_SIZE_EX = 16,
	AESM_OP_GET_QUOTE_EX = 17,
};
#define AESM_UNSUPPORTED_REQUEST 20

/* "GetLaunchToken", ... */
const char *aesm_op_name(enum aesm_op op);
/* aesm_error_t's name for code ("AESM_PARAMETER_ERROR"), NULL for a code it does not have. */
const char *aesm_error_name(uint32_t code);

/* Requests: the encoded Request, xmalloc'd (the caller frees), its size in *len. The sizes of
 * the byte arrays are those of their SGX structures (32, 384, 16, 432, 16, 256 bytes). */
uint8_t *aesm_encode_init_quote(uint32_t timeout_ms, size_t *len);
uint8_t *aesm_encode_get_launch_token(const uint8_t mr_enclave[32], const uint8_t modulus[384],
				      const uint8_t attributes[16], uint32_t timeout_ms,
				      size_t *len);
/* EPID: quote_type 0 unlinkable, 1 linkable. */
uint8_t *aesm_encode_get_quote(const uint8_t report[432], uint32_t quote_type,
			       const uint8_t spid[16], uint32_t buf_size, uint32_t timeout_ms,
			       size_t *len);
/* ECDSA: with_pub_key_id false asks for the size of the pub_key_id only (buf_size not sent);
 * true fetches the target info and the pub_key_id into buf_size bytes. */
uint8_t *aesm_encode_init_quote_ex(const uint8_t att_key_id[256], bool with_pub_key_id,
				   uint64_t buf_size, uint32_t timeout_ms, size_t *len);
uint8_t *aesm_encode_get_quote_size_ex(const uint8_t att_key_id[256], uint32_t timeout_ms,
				       size_t *len);
uint8_t *aesm_encode_get_quote_ex(const uint8_t report[432], const uint8_t att_key_id[256],
				  uint32_t buf_size, uint32_t timeout_ms, size_t *len);

/* The att_key_id of Intel's ECDSA-P256 quoting enclave (QE3), as an sgx_att_key_id_ext_t. */
void aesm_ecdsa_att_key_id(uint8_t out[256]);

/* Member field numbers of the responses. */
enum {
	AESM_F_ERROR_CODE = 1,
	AESM_F_TARGET_INFO = 2,	    /* InitQuote, InitQuoteEx */
	AESM_F_GID = 3,		    /* InitQuote */
	AESM_F_QUOTE = 2,	    /* GetQuote, GetQuoteEx */
	AESM_F_QE_REPORT = 3,	    /* GetQuote (qe_report), GetQuoteEx (qe_report_info) */
	AESM_F_TOKEN = 2,	    /* GetLaunchToken */
	AESM_F_PUB_KEY_ID_SIZE = 3, /* InitQuoteEx */
	AESM_F_PUB_KEY_ID = 4,	    /* InitQuoteEx */
	AESM_F_QUOTE_SIZE = 2,	    /* GetQuoteSizeEx */
	AESM_F_MAX = 4,
};

/* A decoded response: the members present, by field number; bytes point into the buffer that
 * was decoded, which must outlive this. */
struct aesm_response {
	enum aesm_op op;
	uint32_t error_code;
	bool has[AESM_F_MAX + 1];
	uint64_t num[AESM_F_MAX + 1];
	const uint8_t *data[AESM_F_MAX + 1];
	size_t len[AESM_F_MAX + 1];
};

/* Decode aesmd's Response to op (the bytes after the 4-byte length). Unknown fields are
 * skipped; every known one is checked for its wire type, its size (exact for SGX structures,
 * at most AESM_QUOTE_MAX for quotes) and for appearing once. A non-zero errorCode is an error
 * naming it ("aesmd: GetQuote failed with AESM_PARAMETER_ERROR (3)", (*err)->code = the
 * code), and so is a success without the member the operation exists for. 0 or -1. */
CC_MUST_CHECK int aesm_decode_response(enum aesm_op op, const uint8_t *buf, size_t len,
				       struct aesm_response *out, struct cc_error **err);
/* The success r carries member `field` (for InitQuoteEx, whose needs depend on the call):
 * 0, or -1 with "aesmd's InitQuoteEx response: errorCode 0 but no target_info". */
CC_MUST_CHECK int aesm_response_require(const struct aesm_response *r, unsigned field,
					struct cc_error **err);
