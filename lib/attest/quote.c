// SPDX-License-Identifier: Apache-2.0
/* DCAP quote parsing (see quote.h): every length is checked against what is left of the region
 * that holds it before anything is read. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/x509.h>
#include "attest/internal.h"
#include "attest/quote.h"
#include "util/cleanup.h"

#define HEADER_LEN 48
#define SGX_BODY_LEN 384
#define TD_BODY_LEN 584
#define SIG_LEN 64
#define KEY_LEN 64

const uint8_t attest_intel_qe_vendor_id[16] = { 0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9,
						0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07 };

/* What is left of a region of the quote. The quote itself has no name: running out of it is
 * "truncated"; a named region (the signature data) ran out because a length inside it lies. */
struct cursor {
	const uint8_t *p;
	size_t left;
	const char *region;
};

static const char *plural(size_t n)
{
	return n == 1 ? "" : "s";
}

static int fail_at(const struct cursor *c, struct cc_error **err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail_at(const struct cursor *c, struct cc_error **err, const char *fmt, ...)
{
	va_list ap;
	_cleanup_free_ char *msg = NULL;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		abort();
	va_end(ap);
	return cc_error_set(err, 0, "quote: %s: %s", c->region ? c->region : "truncated", msg);
}

/* n bytes of a fixed-size field. */
static int take(struct cursor *c, size_t n, const char *what, const uint8_t **out,
		struct cc_error **err)
{
	if (n > c->left)
		return fail_at(c, err, "%s needs %zu byte%s but %zu byte%s left", what, n,
			       plural(n), c->left, plural(c->left));
	*out = c->p;
	c->p += n;
	c->left -= n;
	return 0;
}

/* n bytes whose length the quote declared. */
static int take_declared(struct cursor *c, size_t n, const char *what, const uint8_t **out,
			 struct cc_error **err)
{
	if (n > c->left)
		return fail_at(c, err, "%s length %zu but %zu byte%s left", what, n, c->left,
			       plural(c->left));
	*out = c->p;
	c->p += n;
	c->left -= n;
	return 0;
}

static int take_u16(struct cursor *c, const char *what, uint16_t *out, struct cc_error **err)
{
	const uint8_t *p = NULL;
	if (take(c, 2, what, &p, err) < 0)
		return -1;
	*out = cc_le16(p);
	return 0;
}

static int take_u32(struct cursor *c, const char *what, uint32_t *out, struct cc_error **err)
{
	const uint8_t *p = NULL;
	if (take(c, 4, what, &p, err) < 0)
		return -1;
	*out = cc_le32(p);
	return 0;
}

/* Nothing may be left at the end of a declared region. */
static int region_done(const struct cursor *c, const char *last, struct cc_error **err)
{
	if (!c->left)
		return 0;
	return fail_at(c, err, "%zu byte%s left after the %s", c->left, plural(c->left), last);
}

void attest_sgx_report_decode(const uint8_t *b, struct attest_sgx_report *r)
{
	memcpy(r->cpusvn, b, 16);
	r->miscselect = cc_le32(b + 16);
	memcpy(r->isvextprodid, b + 32, 16);
	memcpy(r->attributes, b + 48, 16);
	r->flags = cc_le64(b + 48);
	r->xfrm = cc_le64(b + 56);
	memcpy(r->mrenclave, b + 64, 32);
	memcpy(r->mrsigner, b + 128, 32);
	memcpy(r->configid, b + 192, 64);
	r->isvprodid = cc_le16(b + 256);
	r->isvsvn = cc_le16(b + 258);
	r->configsvn = cc_le16(b + 260);
	memcpy(r->isvfamilyid, b + 304, 16);
	memcpy(r->report_data, b + 320, 64);
}

static void td_report_decode(const uint8_t *b, struct attest_td_report *r)
{
	memcpy(r->tee_tcb_svn, b, 16);
	memcpy(r->mrseam, b + 16, 48);
	memcpy(r->mrsignerseam, b + 64, 48);
	memcpy(r->seamattributes, b + 112, 8);
	memcpy(r->tdattributes, b + 120, 8);
	memcpy(r->xfam, b + 128, 8);
	memcpy(r->mrtd, b + 136, 48);
	memcpy(r->mrconfigid, b + 184, 48);
	memcpy(r->mrowner, b + 232, 48);
	memcpy(r->mrownerconfig, b + 280, 48);
	for (int i = 0; i < 4; i++)
		memcpy(r->rtmr[i], b + 328 + 48 * i, 48);
	memcpy(r->report_data, b + 520, 64);
}

static int parse_header(struct attest_quote *q, struct cursor *c, struct cc_error **err)
{
	const uint8_t *h = NULL;
	if (take(c, HEADER_LEN, "header", &h, err) < 0)
		return -1;
	q->version = cc_le16(h);
	q->att_key_type = cc_le16(h + 2);
	q->tee_type = cc_le32(h + 4);
	memcpy(q->vendor_id, h + 12, 16);
	memcpy(q->user_data, h + 28, 20);
	if (q->version != 3 && q->version != 4)
		return cc_error_set(err, 0, "quote: version %u is not supported (3 or 4)",
				    q->version);
	if (q->att_key_type != ATTEST_ATT_KEY_ECDSA_P256)
		return cc_error_set(
		    err, 0, "quote: attestation key type %u is not supported (2, ECDSA P-256)",
		    q->att_key_type);
	if (q->version == 3) {
		if (q->tee_type != ATTEST_TEE_SGX)
			return cc_error_set(
			    err, 0,
			    "quote: TEE type 0x%08x is not supported in a version 3 "
			    "quote (SGX only)",
			    q->tee_type);
		q->qe_svn = cc_le16(h + 8);
		q->pce_svn = cc_le16(h + 10);
	} else if (q->tee_type != ATTEST_TEE_SGX && q->tee_type != ATTEST_TEE_TDX) {
		return cc_error_set(err, 0,
				    "quote: TEE type 0x%08x is not supported (0x00000000 SGX, "
				    "0x00000081 TDX)",
				    q->tee_type);
	}
	if (memcmp(q->vendor_id, attest_intel_qe_vendor_id, 16)) {
		char hex[33];
		cc_hex_encode(q->vendor_id, 16, hex);
		return cc_error_set(err, 0, "quote: QE vendor ID %s is not Intel's (%s)", hex,
				    "939a7233f79c4ca9940a0db3957f0607");
	}
	return 0;
}

static int parse_body(struct attest_quote *q, struct cursor *c, struct cc_error **err)
{
	const uint8_t *b = NULL;
	if (q->tee_type == ATTEST_TEE_TDX) {
		if (take(c, TD_BODY_LEN, "TD report body", &b, err) < 0)
			return -1;
		td_report_decode(b, &q->td);
	} else {
		if (take(c, SGX_BODY_LEN, "report body", &b, err) < 0)
			return -1;
		attest_sgx_report_decode(b, &q->enclave);
	}
	q->signed_len = HEADER_LEN + (q->tee_type == ATTEST_TEE_TDX ? TD_BODY_LEN : SGX_BODY_LEN);
	return 0;
}

/* QE report, its signature, the QE auth data and the type-5 PCK chain: the v3 signature data's
 * tail, or a v4 type-6 payload. */
static int parse_qe_part(struct attest_quote *q, struct cursor *c, struct cc_error **err)
{
	const uint8_t *p = NULL;
	uint16_t type;
	uint32_t size;

	if (take(c, SGX_BODY_LEN, "QE report", &q->qe_report_body, err) < 0 ||
	    take(c, SIG_LEN, "QE report signature", &q->qe_report_sig, err) < 0 ||
	    take_u16(c, "QE auth data size", &q->qe_auth_len, err) < 0 ||
	    take_declared(c, q->qe_auth_len, "QE auth data", &q->qe_auth, err) < 0 ||
	    take_u16(c, "certification data type", &type, err) < 0)
		return -1;
	attest_sgx_report_decode(q->qe_report_body, &q->qe_report);
	if (type != ATTEST_CERT_PCK_CHAIN)
		return fail_at(c, err,
			       "certification data type %u is not supported (5, a PEM PCK "
			       "chain)",
			       type);
	if (take_u32(c, "certification data size", &size, err) < 0 ||
	    take_declared(c, size, "certification data", &p, err) < 0)
		return -1;
	q->pck_pem = (const char *)p;
	q->pck_pem_len = size;
	if (!q->cert_type) /* v3: no type-6 wrapper */
		q->cert_type = type;
	return region_done(c, "certification data", err);
}

static int parse_sig_data(struct attest_quote *q, struct cursor *c, struct cc_error **err)
{
	const uint8_t *p = NULL;
	uint32_t size;

	if (take_u32(c, "signature data length", &q->sig_data_len, err) < 0 ||
	    take_declared(c, q->sig_data_len, "signature data", &p, err) < 0)
		return -1;
	q->trailing = c->left;
	struct cursor sd = { p, q->sig_data_len, "signature data" };
	if (take(&sd, SIG_LEN, "quote signature", &q->signature, err) < 0 ||
	    take(&sd, KEY_LEN, "attestation key", &q->attest_key, err) < 0)
		return -1;
	if (q->version == 3)
		return parse_qe_part(q, &sd, err);
	if (take_u16(&sd, "certification data type", &q->cert_type, err) < 0)
		return -1;
	if (q->cert_type != ATTEST_CERT_QE_REPORT)
		return fail_at(&sd, err,
			       "certification data type %u is not supported (6, QE "
			       "report certification data)",
			       q->cert_type);
	if (take_u32(&sd, "certification data size", &size, err) < 0 ||
	    take_declared(&sd, size, "certification data", &p, err) < 0)
		return -1;
	struct cursor inner = { p, size, "QE report certification data" };
	if (parse_qe_part(q, &inner, err) < 0)
		return -1;
	return region_done(&sd, "certification data", err);
}

static int parse_chain(struct attest_quote *q, struct cc_error **err)
{
	size_t n = 0;
	char cn[CC_SHOWN_BUF];

	if (attest_pem_chain_parse(q->pck_pem, q->pck_pem_len, q->pck_chain, ATTEST_PCK_CHAIN_LEN,
				   &n, err) < 0)
		return cc_error_prefix(err, "quote: PCK chain");
	if (n != ATTEST_PCK_CHAIN_LEN)
		return cc_error_set(
		    err, 0,
		    "quote: PCK chain: %zu certificate%s, not 3 (the PCK certificate, "
		    "its CA, the root)",
		    n, plural(n));
	attest_cert_cn(q->pck_chain[0], cn);
	if (!strstr(cn, "SGX PCK Certificate"))
		return cc_error_set(
		    err, 0, "quote: PCK chain: certificate 1 is \"%s\", not a PCK certificate", cn);
	if (attest_pck_ext_parse(q->pck_chain[0], &q->pck, err) < 0)
		return cc_error_prefix(err, "quote: PCK certificate");
	return 0;
}

struct attest_quote *attest_quote_parse(const void *buf, size_t len, struct cc_error **err)
{
	if (len > ATTEST_QUOTE_MAX) {
		cc_error_set(err, 0, "quote: %zu bytes, more than the %u-byte limit", len,
			     ATTEST_QUOTE_MAX);
		return NULL;
	}
	struct attest_quote *q = xzalloc(sizeof(*q));
	q->raw = xmalloc(len ? len : 1);
	if (len)
		memcpy(q->raw, buf, len);
	q->raw_len = len;
	struct cursor c = { q->raw, len, NULL };
	if (parse_header(q, &c, err) < 0 || parse_body(q, &c, err) < 0 ||
	    parse_sig_data(q, &c, err) < 0 || parse_chain(q, err) < 0) {
		attest_quote_free(q);
		return NULL;
	}
	return q;
}

void attest_quote_free(struct attest_quote *q)
{
	if (!q)
		return;
	for (size_t i = 0; i < ATTEST_PCK_CHAIN_LEN; i++)
		X509_free(q->pck_chain[i]);
	free(q->raw);
	free(q);
}

bool attest_quote_is_debug(const struct attest_quote *q)
{
	if (q->tee_type == ATTEST_TEE_TDX)
		return q->td.tdattributes[0] & ATTEST_TD_ATTR_DEBUG;
	return q->enclave.flags & ATTEST_SGX_FLAG_DEBUG;
}

const uint8_t *attest_quote_report_data(const struct attest_quote *q)
{
	return q->tee_type == ATTEST_TEE_TDX ? q->td.report_data : q->enclave.report_data;
}
