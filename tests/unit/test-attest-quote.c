// SPDX-License-Identifier: Apache-2.0
/* Unit tests for lib/attest's quote parsing and verification without collateral: the real
 * quotes of data/attest (see its SOURCES.md) parse and verify to their documented facts;
 * truncated quotes, lying lengths, refused headers, broken PEM chains and SGX extensions fail
 * to parse, and flipped bits, tampered, reordered, expired or foreign chains and CRLs fail to
 * verify, each at its step with its exact one-line message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include "attest-helpers.h"
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include "attest/quote.h"
#include "attest/verify.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/le.h"

#define OCCLUM "trustee-occlum-quote.bin"
#define DCAP_SGX "dcap-qvl-sgx-quote.bin"
#define MOBILECOIN "mobilecoin-hw-quote.bin"
#define TDX_TRUSTEE "trustee-tdx-quote-4.bin"
#define DCAP_TDX "dcap-qvl-tdx-quote.bin"
#define QE_MRSIGNER "8c4f5775d796503e96137f77c68a829a0056ac8ded70140b081b094490c57bff"
#define TD_QE_MRSIGNER "dc9e2a7c6f948f17474e34a7fc43ed030f7c1563f1babddf6340c82e0e54a8c5"

/* ---- fixtures ---- */

#define assert_hex(field, want)                                      \
	do {                                                         \
		_cleanup_free_ char *_h = hex(field, sizeof(field)); \
		assert_string_equal(_h, want);                       \
	} while (0)

static bool all_zero(const uint8_t *b, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (b[i])
			return false;
	return true;
}

static struct attest_quote *parse_ok(const struct bytes *b)
{
	struct cc_error *err = NULL;
	struct attest_quote *q = attest_quote_parse(b->p, b->len, &err);
	if (!q)
		fail_msg("%s", err->msg);
	return q;
}

static void expect_parse_error(const uint8_t *p, size_t len, const char *want)
{
	struct cc_error *err = NULL;
	struct attest_quote *q = attest_quote_parse(p, len, &err);
	if (q)
		fail_msg("parsed, expected: %s", want);
	assert_non_null(err);
	assert_string_equal(err->msg, want);
	cc_error_free(&err);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Where the length fields of a real quote are. */
struct layout {
	size_t sig_len_at;   /* u32 signature data length */
	size_t outer_at;     /* v4: u16 type 6, u32 size; 0 for v3 */
	size_t qe_at;	     /* QE report */
	size_t auth_len_at;  /* u16 QE auth data size */
	size_t cert_type_at; /* u16 type 5, u32 size, then the PEM */
	size_t pem_at;
	size_t pem_len;
};

static struct layout layout_of(const struct bytes *b)
{
	struct layout l = { 0 };
	bool tdx = get32(b->p + 4) == 0x81;
	l.sig_len_at = tdx ? 632 : 432;
	size_t p = l.sig_len_at + 4 + 128;
	if (b->p[0] == 4) {
		l.outer_at = p;
		p += 6;
	}
	l.qe_at = p;
	l.auth_len_at = p + 384 + 64;
	l.cert_type_at = l.auth_len_at + 2 + (b->p[l.auth_len_at] | b->p[l.auth_len_at + 1] << 8);
	l.pem_at = l.cert_type_at + 6;
	l.pem_len = get32(b->p + l.cert_type_at + 2);
	return l;
}

/* b with its PEM chain replaced by pem (and every enclosing length adjusted). */
static struct bytes with_pem(const struct bytes *b, const char *pem, size_t pem_len)
{
	struct layout l = layout_of(b);
	size_t tail = b->len - (l.pem_at + l.pem_len);
	struct bytes o;
	o.len = l.pem_at + pem_len + tail;
	o.p = xmalloc(o.len);
	memcpy(o.p, b->p, l.pem_at);
	memcpy(o.p + l.pem_at, pem, pem_len);
	memcpy(o.p + l.pem_at + pem_len, b->p + l.pem_at + l.pem_len, tail);
	long d = (long)pem_len - (long)l.pem_len;
	cc_put_le32(o.p + l.cert_type_at + 2, (uint32_t)pem_len);
	cc_put_le32(o.p + l.sig_len_at, (uint32_t)((long)get32(b->p + l.sig_len_at) + d));
	if (l.outer_at)
		cc_put_le32(o.p + l.outer_at + 2,
			    (uint32_t)((long)get32(b->p + l.outer_at + 2) + d));
	return o;
}

/* The n-th (0-based) PEM block of a quote's chain: offset and length in the quote. */
static void pem_block(const struct bytes *b, int n, size_t *at, size_t *len)
{
	struct layout l = layout_of(b);
	const char *s = (const char *)b->p + l.pem_at, *end = s + l.pem_len;
	for (int i = 0; i <= n; i++) {
		const char *beg = memmem(s, (size_t)(end - s), "-----BEGIN", 10);
		const char *e = memmem(s, (size_t)(end - s), "-----END CERTIFICATE-----\n", 26);
		assert_non_null(beg);
		assert_non_null(e);
		*at = (size_t)(beg - (const char *)b->p);
		*len = (size_t)(e + 26 - beg);
		s = e + 26;
	}
}

static struct bytes copy_of(const struct bytes *b)
{
	struct bytes o = { xmalloc(b->len), b->len };
	memcpy(o.p, b->p, b->len);
	return o;
}

/* ---- the real quotes ---- */

static void test_occlum(void **state)
{
	_cleanup_bytes_ struct bytes b = read_data(OCCLUM);
	struct attest_quote *q = parse_ok(&b);
	assert_int_equal(q->version, 3);
	assert_int_equal(q->att_key_type, 2);
	assert_int_equal(q->tee_type, ATTEST_TEE_SGX);
	assert_int_equal(q->qe_svn, 8);
	assert_int_equal(q->pce_svn, 13);
	assert_hex(q->user_data, "dccde9b31ce8860548173bb4a2a57a1600000000");
	assert_int_equal(q->sig_data_len, 4297);
	assert_int_equal(q->trailing, 0);
	assert_int_equal(q->signed_len, 432);
	assert_hex(q->enclave.mrenclave,
		   "8f173e4613ff05c52aaf04162d234edae8c9977eae47eb2299ae16a553011c68");
	assert_hex(q->enclave.mrsigner,
		   "83d719e77deaca1470f6baf62a4d774303c899db69020f9c70ee1dfc08c7ce9e");
	assert_int_equal(q->enclave.isvprodid, 0);
	assert_int_equal(q->enclave.isvsvn, 0);
	assert_int_equal(q->enclave.configsvn, 0);
	assert_int_equal(q->enclave.flags, 0x7);
	assert_int_equal(q->enclave.xfrm, 0xe7);
	assert_int_equal(q->enclave.miscselect, 0x1);
	assert_true(attest_quote_is_debug(q));
	assert_memory_equal(q->enclave.report_data, "test", 4);
	assert_true(all_zero(q->enclave.report_data + 4, 60));
	assert_ptr_equal(attest_quote_report_data(q), q->enclave.report_data);
	assert_hex(q->qe_report.mrsigner, QE_MRSIGNER);
	assert_int_equal(q->qe_report.isvprodid, 1);
	assert_int_equal(q->qe_report.isvsvn, 8);
	assert_int_equal(q->qe_auth_len, 32);
	assert_int_equal(q->cert_type, 5);
	assert_int_equal(q->pck_pem_len, 3681);
	assert_int_equal(q->pck_pem[q->pck_pem_len - 1], '\n');
	assert_hex(q->pck.fmspc, "00606a000000");
	assert_hex(q->pck.pceid, "0000");
	assert_int_equal(q->pck.sgx_type, 1);
	assert_hex(q->pck.sgx_svn, "04040303ffff00000000000000000000");
	assert_int_equal(q->pck.pcesvn, 11);
	assert_true(q->pck.has_platform_instance_id);
	assert_true(q->pck.has_configuration);
	attest_quote_free(q);
}

static void test_dcap_sgx(void **state)
{
	_cleanup_bytes_ struct bytes b = read_data(DCAP_SGX);
	struct attest_quote *q = parse_ok(&b);
	assert_int_equal(q->version, 3);
	assert_int_equal(q->qe_svn, 10);
	assert_int_equal(q->pce_svn, 15);
	assert_int_equal(q->sig_data_len, 4164);
	assert_int_equal(q->trailing, 0);
	assert_hex(q->enclave.mrenclave,
		   "33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb");
	assert_hex(q->enclave.mrsigner,
		   "815f42f11cf64430c30bab7816ba596a1da0130c3b028b673133a66cf9a3e0e6");
	assert_int_equal(q->enclave.isvprodid, 0);
	assert_int_equal(q->enclave.isvsvn, 0);
	assert_int_equal(q->enclave.flags, 0x5);
	assert_int_equal(q->enclave.xfrm, 0xe7);
	assert_int_equal(q->enclave.miscselect, 0);
	assert_false(attest_quote_is_debug(q));
	assert_memory_equal(q->enclave.report_data, "Hello, world!", 13);
	assert_true(all_zero(q->enclave.report_data + 13, 51));
	assert_hex(q->qe_report.mrsigner, QE_MRSIGNER);
	assert_int_equal(q->qe_report.isvprodid, 1);
	assert_int_equal(q->qe_report.isvsvn, 10);
	assert_int_equal(q->qe_report.attributes[0], 0x15);
	assert_int_equal(q->qe_report.attributes[8], 0xe7);
	/* The chain ends with a newline and a NUL. */
	assert_int_equal(q->pck_pem[q->pck_pem_len - 1], '\0');
	assert_hex(q->pck.fmspc, "00a067110000");
	assert_hex(q->pck.pceid, "0000");
	assert_int_equal(q->pck.sgx_type, 0);
	assert_hex(q->pck.sgx_svn, "0b0b0202ff0100000000000000000000");
	/* TCB evaluation takes the certificate's PCESVN (13), not the header's (15). */
	assert_int_equal(q->pck.pcesvn, 13);
	assert_false(q->pck.has_platform_instance_id);
	attest_quote_free(q);
}

static void test_mobilecoin(void **state)
{
	_cleanup_bytes_ struct bytes b = read_data(MOBILECOIN);
	struct attest_quote *q = parse_ok(&b);
	assert_int_equal(q->version, 3);
	assert_int_equal(q->qe_svn, 7);
	assert_int_equal(q->pce_svn, 12);
	assert_int_equal(q->sig_data_len, 4167);
	assert_hex(q->enclave.mrenclave,
		   "1dd0df84810e53e26b2b167dfe0f97cc4364085fe0bd41d5e18a759c21d5c189");
	assert_hex(q->enclave.mrsigner,
		   "d412a4f07ef83892a5915fb2ab584be31e186e5a4f95ab5f6950fd4eb8694d7b");
	assert_int_equal(q->enclave.flags, 0x7);
	assert_int_equal(q->enclave.xfrm, 0x7);
	assert_true(attest_quote_is_debug(q));
	assert_true(all_zero(q->enclave.report_data, 64));
	assert_hex(q->qe_report.mrsigner, QE_MRSIGNER);
	assert_int_equal(q->qe_report.isvprodid, 1);
	assert_int_equal(q->qe_report.isvsvn, 7);
	assert_hex(q->pck.fmspc, "00906ed50000");
	assert_int_equal(q->pck.sgx_type, 0);
	assert_hex(q->pck.sgx_svn, "11110204018006000000000000000000");
	assert_int_equal(q->pck.pcesvn, 11);
	attest_quote_free(q);
}

static void test_tdx_trustee(void **state)
{
	_cleanup_bytes_ struct bytes b = read_data(TDX_TRUSTEE);
	struct attest_quote *q = parse_ok(&b);
	assert_int_equal(q->version, 4);
	assert_int_equal(q->tee_type, ATTEST_TEE_TDX);
	assert_int_equal(q->qe_svn, 0);
	assert_int_equal(q->signed_len, 632);
	assert_int_equal(q->sig_data_len, 4300);
	assert_int_equal(q->trailing, 0);
	assert_int_equal(q->cert_type, 6);
	assert_hex(q->td.tee_tcb_svn, "03000500000000000000000000000000");
	assert_hex(q->td.mrseam, "2fd279c16164a93dd5bf373d834328d46008c2b693af9ebb865b08b2ced320c9"
				 "a89b4869a9fab60fbe9d0c5a5363c656");
	assert_true(all_zero(q->td.mrsignerseam, 48));
	assert_true(all_zero(q->td.seamattributes, 8));
	assert_hex(q->td.tdattributes, "0100001000000000");
	assert_true(attest_quote_is_debug(q));
	assert_hex(q->td.xfam, "e742060000000000");
	assert_hex(q->td.mrtd, "705ee9381b8633a9fbe532b52345e8433343d2868959f57889d84ca377c395b6"
			       "89cac1599ccea1b7d420483a9ce5f031");
	assert_true(all_zero(q->td.mrconfigid, 48));
	assert_true(all_zero(q->td.mrowner, 48));
	assert_true(all_zero(q->td.mrownerconfig, 48));
	assert_hex(q->td.rtmr[0], "e940da7c2712d2790e2961e00484f4fa8e6f9eed71361655ae22699476b14f9e"
				  "63867eb41edd4b480fef0c59f496b288");
	assert_hex(q->td.rtmr[1], "559cfcf42716ed6c40a48a73d5acb7da255435012f0a9f00fbe8c1c57612ede4"
				  "86a5684c4c9ff3ddf52315fcdca3a596");
	assert_true(all_zero(q->td.rtmr[2], 48));
	assert_true(all_zero(q->td.rtmr[3], 48));
	assert_hex(q->td.report_data,
		   "7c71fe2c86eff65a7cf8dbc22b3275689fd0464a267baced1bf94fc1324656ae"
		   "b755da3d44d098c0c87382f3a5f85b45c8a28fee1d3bdb38342bf96671501429");
	assert_ptr_equal(attest_quote_report_data(q), q->td.report_data);
	assert_hex(q->qe_report.mrsigner, TD_QE_MRSIGNER);
	assert_int_equal(q->qe_report.isvprodid, 2);
	assert_int_equal(q->qe_report.isvsvn, 4);
	assert_int_equal(q->pck_pem[q->pck_pem_len - 1], '\0');
	assert_hex(q->pck.fmspc, "50806f000000");
	assert_hex(q->pck.sgx_svn, "05050d02030100030000000000000000");
	assert_int_equal(q->pck.pcesvn, 11);
	attest_quote_free(q);
}

static void test_tdx_dcap(void **state)
{
	_cleanup_bytes_ struct bytes b = read_data(DCAP_TDX);
	struct attest_quote *q = parse_ok(&b);
	assert_int_equal(q->version, 4);
	assert_int_equal(q->tee_type, ATTEST_TEE_TDX);
	assert_int_equal(q->sig_data_len, 4300);
	/* 70 zero bytes follow the signature data: tolerated, counted. */
	assert_int_equal(q->trailing, 70);
	assert_hex(q->td.tee_tcb_svn, "06010300000000000000000000000000");
	assert_hex(q->td.mrseam, "5b38e33a6487958b72c3c12a938eaa5e3fd4510c51aeeab58c7d5ecee41d7c43"
				 "6489d6c8e4f92f160b7cad34207b00c1");
	assert_hex(q->td.tdattributes, "0000001000000000");
	assert_false(attest_quote_is_debug(q));
	assert_hex(q->td.xfam, "e702060000000000");
	assert_hex(q->td.mrtd, "91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407"
			       "de03ae6dc5f87f27428b2538873118b7");
	assert_true(all_zero(q->td.rtmr[3], 48));
	assert_hex(q->td.report_data,
		   "9a9d48e7f6799642d3d1b34e1e5e1742d4bb02dd6ddd551862c1211d35c304f9"
		   "eca3efdbb481601c163cf52493d6e44aed55d51ec39b7e518fadb92c2b523f20");
	assert_hex(q->qe_report.mrsigner, TD_QE_MRSIGNER);
	assert_int_equal(q->qe_report.isvprodid, 2);
	assert_int_equal(q->qe_report.isvsvn, 6);
	assert_hex(q->pck.fmspc, "b0c06f000000");
	assert_hex(q->pck.sgx_svn, "03030202040100050000000000000000");
	assert_int_equal(q->pck.pcesvn, 11);
	attest_quote_free(q);
}

/* ---- truncation and lying lengths ---- */

struct cut {
	size_t at;
	const char *want;
};

static void expect_cuts(const char *file, const struct cut *cuts, size_t n)
{
	_cleanup_bytes_ struct bytes b = read_data(file);
	for (size_t i = 0; i < n; i++) {
		assert_true(cuts[i].at < b.len);
		expect_parse_error(b.p, cuts[i].at, cuts[i].want);
	}
}

static void test_truncated_v3(void **state)
{
	static const struct cut cuts[] = {
		{ 0, "quote: truncated: header needs 48 bytes but 0 bytes left" },
		{ 1, "quote: truncated: header needs 48 bytes but 1 byte left" },
		{ 47, "quote: truncated: header needs 48 bytes but 47 bytes left" },
		{ 48, "quote: truncated: report body needs 384 bytes but 0 bytes left" },
		{ 431, "quote: truncated: report body needs 384 bytes but 383 bytes left" },
		{ 432, "quote: truncated: signature data length needs 4 bytes but 0 bytes left" },
		{ 434, "quote: truncated: signature data length needs 4 bytes but 2 bytes left" },
		{ 436, "quote: truncated: signature data length 4297 but 0 bytes left" },
		{ 1012, "quote: truncated: signature data length 4297 but 576 bytes left" },
		{ 4732, "quote: truncated: signature data length 4297 but 4296 bytes left" },
	};
	expect_cuts(OCCLUM, cuts, sizeof(cuts) / sizeof(cuts[0]));
}

static void test_truncated_v4(void **state)
{
	static const struct cut cuts[] = {
		{ 40, "quote: truncated: header needs 48 bytes but 40 bytes left" },
		{ 100, "quote: truncated: TD report body needs 584 bytes but 52 bytes left" },
		{ 631, "quote: truncated: TD report body needs 584 bytes but 583 bytes left" },
		{ 633, "quote: truncated: signature data length needs 4 bytes but 1 byte left" },
		{ 770, "quote: truncated: signature data length 4300 but 134 bytes left" },
		{ 4935, "quote: truncated: signature data length 4300 but 4299 bytes left" },
	};
	expect_cuts(TDX_TRUSTEE, cuts, sizeof(cuts) / sizeof(cuts[0]));
}

/* A copy of file with the u16 or u32 at `at` set to v, expected to fail with want. */
static void expect_field(const char *file, size_t at, int width, uint32_t v, const char *want)
{
	_cleanup_bytes_ struct bytes b = read_data(file);
	if (width == 2)
		cc_put_le16(b.p + at, (uint16_t)v);
	else
		cc_put_le32(b.p + at, v);
	expect_parse_error(b.p, b.len, want);
}

static void test_lengths_v3(void **state)
{
	_cleanup_bytes_ struct bytes b = read_data(OCCLUM);
	struct layout l = layout_of(&b);
	char want[256];

	/* The signature data length: too big, too small, far too small. */
	expect_field(OCCLUM, l.sig_len_at, 4, 4298,
		     "quote: truncated: signature data length 4298 but 4297 bytes left");
	expect_field(OCCLUM, l.sig_len_at, 4, 0xffffffff,
		     "quote: truncated: signature data length 4294967295 but 4297 bytes left");
	expect_field(OCCLUM, l.sig_len_at, 4, 4296,
		     "quote: signature data: certification data length 3681 but 3680 bytes left");
	expect_field(OCCLUM, l.sig_len_at, 4, 100,
		     "quote: signature data: attestation key needs 64 bytes but 36 bytes left");
	expect_field(OCCLUM, l.sig_len_at, 4, 500,
		     "quote: signature data: QE report needs 384 bytes but 372 bytes left");
	expect_field(OCCLUM, l.sig_len_at, 4, 0,
		     "quote: signature data: quote signature needs 64 bytes but 0 bytes left");

	/* The QE auth data size: too big, one too many, one too few (the type is then read from
	 * the wrong place). */
	expect_field(OCCLUM, l.auth_len_at, 2, 0xffff,
		     "quote: signature data: QE auth data length 65535 but 3719 bytes left");
	snprintf(want, sizeof(want),
		 "quote: signature data: certification data type %u is not supported (5, a PEM "
		 "PCK chain)",
		 b.p[l.cert_type_at + 1] | b.p[l.cert_type_at + 2] << 8);
	expect_field(OCCLUM, l.auth_len_at, 2, 33, want);
	snprintf(want, sizeof(want),
		 "quote: signature data: certification data type %u is not supported (5, a PEM "
		 "PCK chain)",
		 b.p[l.cert_type_at - 1] | b.p[l.cert_type_at] << 8);
	expect_field(OCCLUM, l.auth_len_at, 2, 31, want);

	/* The certification data: another type, a size too big, too small, zero. */
	expect_field(OCCLUM, l.cert_type_at, 2, 4,
		     "quote: signature data: certification data type 4 is not supported (5, a PEM "
		     "PCK chain)");
	expect_field(OCCLUM, l.cert_type_at + 2, 4, 3682,
		     "quote: signature data: certification data length 3682 but 3681 bytes left");
	expect_field(OCCLUM, l.cert_type_at + 2, 4, 3680,
		     "quote: signature data: 1 byte left after the certification data");
	expect_field(OCCLUM, l.cert_type_at + 2, 4, 0,
		     "quote: signature data: 3681 bytes left after the certification data");
}

static void test_lengths_v4(void **state)
{
	_cleanup_bytes_ struct bytes b = read_data(TDX_TRUSTEE);
	struct layout l = layout_of(&b);

	expect_field(TDX_TRUSTEE, l.sig_len_at, 4, 4301,
		     "quote: truncated: signature data length 4301 but 4300 bytes left");
	expect_field(TDX_TRUSTEE, l.sig_len_at, 4, 4299,
		     "quote: signature data: certification data length 4166 but 4165 bytes left");
	expect_field(TDX_TRUSTEE, l.sig_len_at, 4, 130,
		     "quote: signature data: certification data size needs 4 bytes but 0 bytes "
		     "left");
	/* The outer (type 6) certification data. */
	expect_field(TDX_TRUSTEE, l.outer_at, 2, 5,
		     "quote: signature data: certification data type 5 is not supported (6, QE "
		     "report certification data)");
	expect_field(TDX_TRUSTEE, l.outer_at + 2, 4, 4167,
		     "quote: signature data: certification data length 4167 but 4166 bytes left");
	expect_field(TDX_TRUSTEE, l.outer_at + 2, 4, 4165,
		     "quote: QE report certification data: certification data length 3678 but "
		     "3677 bytes left");
	expect_field(TDX_TRUSTEE, l.outer_at + 2, 4, 100,
		     "quote: QE report certification data: QE report needs 384 bytes but 100 "
		     "bytes left");
	/* The nested (type 5) certification data and the QE auth data inside it. */
	expect_field(TDX_TRUSTEE, l.cert_type_at, 2, 6,
		     "quote: QE report certification data: certification data type 6 is not "
		     "supported (5, a PEM PCK chain)");
	expect_field(TDX_TRUSTEE, l.cert_type_at + 2, 4, 3679,
		     "quote: QE report certification data: certification data length 3679 but "
		     "3678 bytes left");
	expect_field(TDX_TRUSTEE, l.cert_type_at + 2, 4, 3677,
		     "quote: QE report certification data: 1 byte left after the certification "
		     "data");
	expect_field(TDX_TRUSTEE, l.auth_len_at, 2, 4000,
		     "quote: QE report certification data: QE auth data length 4000 but 3716 "
		     "bytes left");

	/* Trailing bytes are tolerated after the signature data, not inside it. */
	expect_field(DCAP_TDX, l.sig_len_at, 4, 4301,
		     "quote: signature data: 1 byte left after the certification data");
}

static void test_too_big(void **state)
{
	_cleanup_free_ uint8_t *big = xzalloc(ATTEST_QUOTE_MAX + 1);
	expect_parse_error(big, ATTEST_QUOTE_MAX + 1,
			   "quote: 262145 bytes, more than the 262144-byte limit");
}

/* ---- the header ---- */

static void test_header(void **state)
{
	expect_field(OCCLUM, 0, 2, 2, "quote: version 2 is not supported (3 or 4)");
	expect_field(OCCLUM, 0, 2, 5, "quote: version 5 is not supported (3 or 4)");
	expect_field(OCCLUM, 2, 2, 3,
		     "quote: attestation key type 3 is not supported (2, ECDSA P-256)");
	expect_field(OCCLUM, 4, 4, 0x81,
		     "quote: TEE type 0x00000081 is not supported in a version 3 quote (SGX only)");
	expect_field(
	    TDX_TRUSTEE, 4, 4, 0x80,
	    "quote: TEE type 0x00000080 is not supported (0x00000000 SGX, 0x00000081 TDX)");
	expect_field(OCCLUM, 12, 2, 0x9a92,
		     "quote: QE vendor ID 929a7233f79c4ca9940a0db3957f0607 is not Intel's "
		     "(939a7233f79c4ca9940a0db3957f0607)");
}

/* ---- the PCK chain ---- */

static void test_chain_swapped(void **state)
{
	_cleanup_bytes_ struct bytes b = read_data(OCCLUM);
	size_t at0, len0, at1, len1;
	pem_block(&b, 0, &at0, &len0);
	pem_block(&b, 1, &at1, &len1);
	assert_int_equal(at0 + len0, at1);
	/* Intermediate first, then the leaf: the same bytes, the same lengths. */
	_cleanup_free_ uint8_t *swapped = xmalloc(len0 + len1);
	memcpy(swapped, b.p + at1, len1);
	memcpy(swapped + len1, b.p + at0, len0);
	memcpy(b.p + at0, swapped, len0 + len1);
	expect_parse_error(
	    b.p, b.len,
	    "quote: PCK chain: certificate 1 is \"Intel SGX PCK Platform CA\", not a "
	    "PCK certificate");
}

static void test_chain_count(void **state)
{
	_cleanup_bytes_ struct bytes b = read_data(DCAP_SGX);
	struct layout l = layout_of(&b);
	size_t at2, len2;
	pem_block(&b, 2, &at2, &len2);

	/* Leaf and CA only. */
	size_t two = at2 - l.pem_at;
	_cleanup_bytes_ struct bytes q2 = with_pem(&b, (const char *)b.p + l.pem_at, two);
	expect_parse_error(q2.p, q2.len,
			   "quote: PCK chain: 2 certificates, not 3 (the PCK certificate, its CA, "
			   "the root)");

	/* The root twice. */
	_cleanup_free_ char *four = xmalloc(at2 + len2 - l.pem_at + len2);
	memcpy(four, b.p + l.pem_at, at2 + len2 - l.pem_at);
	memcpy(four + at2 + len2 - l.pem_at, b.p + at2, len2);
	_cleanup_bytes_ struct bytes q4 = with_pem(&b, four, at2 + len2 - l.pem_at + len2);
	expect_parse_error(q4.p, q4.len, "quote: PCK chain: more than 3 certificates");

	/* No certificate at all, only the NUL. */
	_cleanup_bytes_ struct bytes q0 = with_pem(&b, "\n", 2);
	expect_parse_error(q0.p, q0.len,
			   "quote: PCK chain: 0 certificates, not 3 (the PCK certificate, its CA, "
			   "the root)");
}

static void test_chain_pem(void **state)
{
	_cleanup_bytes_ struct bytes b = read_data(DCAP_SGX);
	struct layout l = layout_of(&b);
	size_t end = l.pem_at + l.pem_len, at1, len1;
	char want[256];

	/* Something after the NUL that ends the chain. */
	_cleanup_bytes_ struct bytes nul = copy_of(&b);
	nul.p[end - 2] = '\0';
	nul.p[end - 1] = 'X';
	snprintf(want, sizeof(want), "quote: PCK chain: bytes after a NUL at offset %zu",
		 l.pem_len - 1);
	expect_parse_error(nul.p, nul.len, want);

	/* Something else than a certificate where one could start. */
	_cleanup_bytes_ struct bytes junk = copy_of(&b);
	junk.p[end - 1] = 'X';
	snprintf(want, sizeof(want),
		 "quote: PCK chain: offset %zu: \"-----BEGIN CERTIFICATE-----\" expected",
		 l.pem_len - 1);
	expect_parse_error(junk.p, junk.len, want);

	/* A block that never ends. */
	_cleanup_bytes_ struct bytes open_end = copy_of(&b);
	pem_block(&b, 2, &at1, &len1);
	open_end.p[at1 + len1 - 10] = 'X';
	expect_parse_error(open_end.p, open_end.len,
			   "quote: PCK chain: certificate 3: no \"-----END CERTIFICATE-----\"");

	/* Not base64 inside the second block. */
	_cleanup_bytes_ struct bytes bad = copy_of(&b);
	pem_block(&b, 1, &at1, &len1);
	bad.p[at1 + 100] = '!';
	expect_parse_error(bad.p, bad.len,
			   "quote: PCK chain: certificate 2: not a valid X.509 certificate");

	/* A block of another label. */
	static const char key[] = "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n";
	_cleanup_bytes_ struct bytes empty = with_pem(&b, key, strlen(key));
	expect_parse_error(empty.p, empty.len,
			   "quote: PCK chain: certificate 1: not a valid X.509 certificate");
}

/* ---- the SGX extension, from DER built here ---- */

static struct der octets(size_t n, uint8_t fill)
{
	struct der v = { .len = 0 };
	uint8_t buf[64];
	memset(buf, fill, n);
	tlv_raw(&v, 0x04, buf, n);
	return v;
}

/* The TCB SEQUENCE; component `bad` (1-based, 0 for none) gets the value bad_value, and
 * element `skip` (1..18, 0 for none) is left out. */
static struct der tcb(int bad, unsigned bad_value, int skip)
{
	struct der content = { .len = 0 }, out = { .len = 0 };
	for (int a = 1; a <= 18; a++) {
		if (a == skip)
			continue;
		struct der v = a == 18 ? octets(16, 0x11)
				       : der_integer(a == bad  ? bad_value
						     : a == 17 ? 13
							       : (unsigned)a);
		pair(&content, 2, a, &v);
	}
	tlv(&out, 0x30, &content);
	return out;
}

struct ext_spec {
	int skip;	    /* element arc left out */
	int twice;	    /* element arc given twice */
	size_t fmspc_len;   /* 6 */
	int tcb_bad;	    /* TCB component with a bad value */
	unsigned tcb_value; /* its value */
	int tcb_skip;	    /* TCB element left out */
	bool unknown;	    /* an element of an unknown arc (.99) and another OID */
};

static struct der ext(const struct ext_spec *s)
{
	struct der content = { .len = 0 }, out = { .len = 0 };
	for (int a = 1; a <= 5; a++) {
		if (a == s->skip)
			continue;
		for (int k = 0; k < (a == s->twice ? 2 : 1); k++) {
			struct der v;
			if (a == 1)
				v = octets(16, 0xaa);
			else if (a == 2)
				v = tcb(s->tcb_bad, s->tcb_value, s->tcb_skip);
			else if (a == 3)
				v = octets(2, 0);
			else if (a == 4)
				v = octets(s->fmspc_len, 0x42);
			else {
				v.len = 0;
				tlv_raw(&v, 0x0a, "\x01", 1);
			}
			pair(&content, a, 0, &v);
		}
	}
	if (s->unknown) {
		struct der v = der_integer(7);
		pair(&content, 99, 0, &v);
	}
	tlv(&out, 0x30, &content);
	return out;
}

static void expect_ext(const struct ext_spec *s, const char *want)
{
	struct der d = ext(s);
	struct attest_pck_ext e;
	struct cc_error *err = NULL;
	int r = attest_pck_ext_parse_der(d.b, d.len, &e, &err);
	if (!want) {
		if (r < 0)
			fail_msg("%s", err->msg);
		return;
	}
	assert_int_equal(r, -1);
	assert_string_equal(err->msg, want);
	cc_error_free(&err);
}

static void test_pck_ext(void **state)
{
	struct ext_spec ok = { .fmspc_len = 6, .unknown = true };
	struct der d = ext(&ok);
	struct attest_pck_ext e;
	struct cc_error *err = NULL;
	assert_int_equal(attest_pck_ext_parse_der(d.b, d.len, &e, &err), 0);
	assert_hex(e.fmspc, "424242424242");
	assert_hex(e.ppid, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	assert_hex(e.sgx_svn, "0102030405060708090a0b0c0d0e0f10");
	assert_int_equal(e.pcesvn, 13);
	assert_hex(e.cpusvn, "11111111111111111111111111111111");
	assert_int_equal(e.sgx_type, 1);
	assert_false(e.has_configuration);

	struct ext_spec s = ok;
	s.skip = 4;
	expect_ext(&s, "SGX extension: FMSPC (1.2.840.113741.1.13.1.4) missing");
	s = ok;
	s.skip = 2;
	expect_ext(&s, "SGX extension: TCB (1.2.840.113741.1.13.1.2) missing");
	s = ok;
	s.skip = 1; /* the PPID is not needed */
	expect_ext(&s, NULL);
	s = ok;
	s.twice = 4;
	expect_ext(&s, "SGX extension: FMSPC given twice");
	s = ok;
	s.fmspc_len = 5;
	expect_ext(&s, "SGX extension: FMSPC: expected a 6-byte OCTET STRING");
	s = ok;
	s.tcb_bad = 3;
	s.tcb_value = 256;
	expect_ext(&s, "SGX extension: TCB component 3: expected an INTEGER in [0, 255]");
	s = ok;
	s.tcb_bad = 17;
	s.tcb_value = 70000;
	expect_ext(&s, "SGX extension: PCESVN: expected an INTEGER in [0, 65535]");
	s = ok;
	s.tcb_skip = 17;
	expect_ext(&s, "SGX extension: TCB: PCESVN (1.2.840.113741.1.13.1.2.17) missing");
	s = ok;
	s.tcb_skip = 5;
	expect_ext(&s, "SGX extension: TCB: component 5 (1.2.840.113741.1.13.1.2.5) missing");

	/* Not DER of the right shape. */
	static const uint8_t not_seq[] = { 0x04, 0x01, 0x00 };
	static const uint8_t trailing[] = { 0x30, 0x00, 0x00 };
	static const uint8_t not_pair[] = { 0x30, 0x03, 0x02, 0x01, 0x00 };
	static const uint8_t overlong[] = { 0x30, 0x84, 0xff, 0xff, 0xff, 0xff };
	const char *shape = "SGX extension: expected a DER SEQUENCE of at most 16 elements";
	assert_int_equal(attest_pck_ext_parse_der(not_seq, sizeof(not_seq), &e, &err), -1);
	assert_string_equal(err->msg, shape);
	cc_error_free(&err);
	assert_int_equal(attest_pck_ext_parse_der(trailing, sizeof(trailing), &e, &err), -1);
	assert_string_equal(err->msg, shape);
	cc_error_free(&err);
	assert_int_equal(attest_pck_ext_parse_der(overlong, sizeof(overlong), &e, &err), -1);
	assert_string_equal(err->msg, shape);
	cc_error_free(&err);
	assert_int_equal(attest_pck_ext_parse_der(not_pair, sizeof(not_pair), &e, &err), -1);
	assert_string_equal(err->msg, "SGX extension: element 1: expected SEQUENCE { OID, value }");
	cc_error_free(&err);
}

/* ---- verification without collateral ---- */

/* "2025-07-01T00:00:00Z" as time_t. */
static time_t at(const char *iso)
{
	struct tm tm = { 0 };
	assert_non_null(strptime(iso, "%Y-%m-%dT%H:%M:%SZ", &tm));
	return timegm(&tm);
}

#define WHEN "2025-07-01T00:00:00Z" /* every real PCK chain is valid then */

static int verify(const struct bytes *b, const struct attest_verify_opts *o,
		  struct attest_verdict *v, struct cc_error **err)
{
	struct attest_quote *q = attest_quote_parse(b->p, b->len, err);
	if (!q)
		fail_msg("%s", (*err)->msg);
	int r = attest_quote_verify(q, o, v, err);
	attest_quote_free(q);
	return r;
}

static void expect_verify_ok(const struct bytes *b, const struct attest_verify_opts *o)
{
	struct attest_verdict v;
	struct cc_error *err = NULL;
	if (verify(b, o, &v, &err) < 0)
		fail_msg("%s", err->msg);
	assert_int_equal(v.tcb_status, ATTEST_TCB_UNKNOWN);
	assert_string_equal(attest_tcb_status_name(v.tcb_status), "unknown: no collateral");
	assert_int_equal(v.crls_checked, o->n_crls > 0);
	attest_verdict_clear(&v);
}

static void expect_verify_error(const struct bytes *b, const struct attest_verify_opts *o,
				const char *want)
{
	struct attest_verdict v;
	struct cc_error *err = NULL;
	if (verify(b, o, &v, &err) == 0)
		fail_msg("verified, expected: %s", want);
	assert_non_null(err);
	assert_string_equal(err->msg, want);
	cc_error_free(&err);
	attest_verdict_clear(&v);
}

static void test_verify_real(void **state)
{
	static const char *const files[] = { OCCLUM, DCAP_SGX, MOBILECOIN, TDX_TRUSTEE, DCAP_TDX };
	struct attest_verify_opts o = { .now = at(WHEN) };
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		_cleanup_bytes_ struct bytes b = read_data(files[i]);
		expect_verify_ok(&b, &o);
	}
	/* The same root given explicitly. */
	_cleanup_bytes_ struct bytes root = read_data("intel-sgx-root-ca.der");
	_cleanup_bytes_ struct bytes b = read_data(DCAP_SGX);
	o.root_der = root.p;
	o.root_len = root.len;
	expect_verify_ok(&b, &o);
	o.root_len = root.len - 1;
	expect_verify_error(&b, &o, "quote: trust anchor: not a DER X.509 certificate");
}

/* A copy of file with the byte at `at` xor-ed with 0x01, expected to fail verification. */
static void expect_flip(const char *file, size_t off, const char *want)
{
	_cleanup_bytes_ struct bytes b = read_data(file);
	struct attest_verify_opts o = { .now = at(WHEN) };
	b.p[off] ^= 0x01;
	expect_verify_error(&b, &o, want);
}

#define QUOTE_SIG "quote: signature does not verify with the attestation key"
#define QE_SIG "quote: QE report signature does not verify with the PCK key"
#define QE_BINDING "quote: QE report data does not bind the attestation key"

static void test_flipped_bits(void **state)
{
	static const char *const files[] = { OCCLUM, TDX_TRUSTEE };
	for (size_t i = 0; i < 2; i++) {
		_cleanup_bytes_ struct bytes b = read_data(files[i]);
		struct layout l = layout_of(&b);
		size_t sig = l.sig_len_at + 4, key = sig + 64;
		expect_flip(files[i], 28, QUOTE_SIG);			   /* header user data */
		expect_flip(files[i], 48, QUOTE_SIG);			   /* first body byte */
		expect_flip(files[i], 48 + 136, QUOTE_SIG);		   /* MRENCLAVE / MRTD */
		expect_flip(files[i], l.sig_len_at - 1, QUOTE_SIG);	   /* report data */
		expect_flip(files[i], sig, QUOTE_SIG);			   /* r */
		expect_flip(files[i], sig + 63, QUOTE_SIG);		   /* s */
		expect_flip(files[i], key + 10, QE_BINDING);		   /* attestation key */
		expect_flip(files[i], l.qe_at + 256, QE_SIG);		   /* QE ISVPRODID */
		expect_flip(files[i], l.qe_at + 320, QE_SIG);		   /* QE report data */
		expect_flip(files[i], l.qe_at + 384, QE_SIG);		   /* QE signature r */
		expect_flip(files[i], l.qe_at + 384 + 63, QE_SIG);	   /* QE signature s */
		expect_flip(files[i], l.auth_len_at + 2, QE_BINDING);	   /* QE auth data */
		expect_flip(files[i], l.auth_len_at + 2 + 31, QE_BINDING); /* its last byte */
	}
}

/* Change one base64 character near the end of PEM block n (0-based) of b: the last bytes of the
 * certificate's DER, inside its signature. */
static void tamper_block(struct bytes *b, int n)
{
	size_t at0, len;
	pem_block(b, n, &at0, &len);
	size_t pos = at0 + len - 27 - 1; /* before the newline that ends the base64 */
	while (b->p[pos] == '=')
		pos--;
	pos--;
	b->p[pos] = b->p[pos] == 'A' ? 'B' : 'A';
}

static void test_chain_tampered(void **state)
{
	struct attest_verify_opts o = { .now = at(WHEN) };
	_cleanup_bytes_ struct bytes leaf = read_data(OCCLUM);
	tamper_block(&leaf, 0);
	expect_verify_error(&leaf, &o,
			    "quote: PCK chain: certificate 1 is not signed by the Intel SGX PCK "
			    "Platform CA");
	_cleanup_bytes_ struct bytes ca = read_data(DCAP_SGX);
	tamper_block(&ca, 1);
	expect_verify_error(&ca, &o,
			    "quote: PCK chain: certificate 2 is not signed by the Intel SGX Root "
			    "CA");
	/* The root the quote carries is not what is trusted: a changed one is not the anchor. */
	_cleanup_bytes_ struct bytes root = read_data(MOBILECOIN);
	tamper_block(&root, 2);
	expect_verify_error(&root, &o,
			    "quote: PCK chain: certificate 3 is not signed by the Intel SGX Root "
			    "CA");
}

static void test_chain_reordered(void **state)
{
	struct attest_verify_opts o = { .now = at(WHEN) };
	_cleanup_bytes_ struct bytes b = read_data(OCCLUM);
	size_t at1, len1, at2, len2;
	pem_block(&b, 1, &at1, &len1);
	pem_block(&b, 2, &at2, &len2);
	/* Leaf, root, CA: the CA (now on top) is signed by the root, the root is not by it. */
	struct layout l = layout_of(&b);
	size_t head = at1 - l.pem_at;
	_cleanup_free_ char *pem = xmalloc(l.pem_len);
	memcpy(pem, b.p + l.pem_at, head);
	memcpy(pem + head, b.p + at2, len2);
	memcpy(pem + head + len2, b.p + at1, len1);
	size_t tail = l.pem_len - (head + len1 + len2);
	memcpy(pem + head + len1 + len2, b.p + at2 + len2, tail);
	_cleanup_bytes_ struct bytes r = with_pem(&b, pem, l.pem_len);
	expect_verify_error(&r, &o,
			    "quote: PCK chain: certificate 2 is not signed by the Intel SGX PCK "
			    "Platform CA");
}

static void test_chain_times(void **state)
{
	_cleanup_bytes_ struct bytes b = read_data(OCCLUM);
	/* As OpenSSL has it, a certificate is valid from notBefore up to, not at, notAfter. */
	struct attest_verify_opts o = { .now = at("2030-04-26T15:35:15Z") };
	expect_verify_ok(&b, &o);
	o.now = at("2030-04-26T15:35:16Z");
	expect_verify_error(
	    &b, &o,
	    "quote: PCK chain: certificate 1 (Intel SGX PCK Certificate) expired at "
	    "2030-04-26T15:35:16Z");
	o.now = at("2050-01-01T00:00:00Z");
	expect_verify_error(
	    &b, &o,
	    "quote: PCK chain: certificate 1 (Intel SGX PCK Certificate) expired at "
	    "2030-04-26T15:35:16Z");
	o.now = at("2023-04-26T15:35:16Z");
	expect_verify_ok(&b, &o);
	o.now = at("2023-04-26T15:35:15Z");
	expect_verify_error(&b, &o,
			    "quote: PCK chain: certificate 1 (Intel SGX PCK Certificate) is not "
			    "valid before 2023-04-26T15:35:16Z");
}

/* A self-signed "Intel SGX Root CA" of a fresh key: DER or PEM. */
static struct bytes fake_root(bool pem)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	assert_non_null(k);
	assert_non_null(x);
	assert_int_equal(X509_set_version(x, 2), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), 1), 1);
	assert_non_null(ASN1_TIME_set(X509_getm_notBefore(x), at("2018-05-21T10:45:10Z")));
	assert_non_null(ASN1_TIME_set(X509_getm_notAfter(x), at("2049-12-31T23:59:59Z")));
	X509_NAME *n = X509_get_subject_name(x);
	assert_int_equal(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
						    (const unsigned char *)"Intel SGX Root CA", -1,
						    -1, 0),
			 1);
	assert_int_equal(X509_set_issuer_name(x, n), 1);
	assert_int_equal(X509_set_pubkey(x, k), 1);
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	struct bytes out = { NULL, 0 };
	if (pem) {
		BIO *bio = BIO_new(BIO_s_mem());
		assert_int_equal(PEM_write_bio_X509(bio, x), 1);
		char *data;
		long len = BIO_get_mem_data(bio, &data);
		out.p = xmalloc((size_t)len);
		memcpy(out.p, data, (size_t)len);
		out.len = (size_t)len;
		BIO_free(bio);
	} else {
		int len = i2d_X509(x, &out.p);
		assert_true(len > 0);
		out.len = (size_t)len;
	}
	X509_free(x);
	EVP_PKEY_free(k);
	return out;
}

static void test_other_root(void **state)
{
	_cleanup_bytes_ struct bytes b = read_data(DCAP_SGX);
	/* Another root pinned: the quote's chain does not lead to it. */
	_cleanup_bytes_ struct bytes der = fake_root(false);
	struct attest_verify_opts o = { .now = at(WHEN), .root_der = der.p, .root_len = der.len };
	expect_verify_error(&b, &o,
			    "quote: PCK chain: certificate 3 is not signed by the Intel SGX Root "
			    "CA");

	/* Another root in the quote, the real one pinned. */
	_cleanup_bytes_ struct bytes pem = fake_root(true);
	struct layout l = layout_of(&b);
	size_t at2, len2;
	pem_block(&b, 2, &at2, &len2);
	size_t head = at2 - l.pem_at;
	_cleanup_free_ char *chain = xmalloc(head + pem.len);
	memcpy(chain, b.p + l.pem_at, head);
	memcpy(chain + head, pem.p, pem.len);
	_cleanup_bytes_ struct bytes q = with_pem(&b, chain, head + pem.len);
	o.root_der = NULL;
	expect_verify_error(&q, &o,
			    "quote: PCK chain: certificate 3 is not signed by the Intel SGX Root "
			    "CA");
}

static void test_crls(void **state)
{
	_cleanup_bytes_ struct bytes b = read_data(MOBILECOIN);
	_cleanup_bytes_ struct bytes pck_crl = read_data("mobilecoin-processor-crl.der");
	_cleanup_bytes_ struct bytes root_crl = read_data("mobilecoin-root-crl.der");
	struct attest_der crls[2] = { { root_crl.p, root_crl.len }, { pck_crl.p, pck_crl.len } };
	struct attest_verify_opts o = { .now = at("2023-05-01T00:00:00Z"),
					.crls = crls,
					.n_crls = 2 };
	expect_verify_ok(&b, &o);
	o.now = at("2023-05-21T22:00:35Z");
	expect_verify_ok(&b, &o);

	/* Out of the PCK CRL's window; the root CRL's (2023-04-03 .. 2024-04-02) still holds. */
	o.now = at("2023-05-21T22:00:36Z");
	expect_verify_error(&b, &o,
			    "quote: PCK chain: CRL of the Intel SGX PCK Processor CA expired at "
			    "2023-05-21T22:00:36Z");
	o.now = at("2023-04-21T22:00:35Z");
	expect_verify_error(&b, &o,
			    "quote: PCK chain: CRL of the Intel SGX PCK Processor CA is not valid "
			    "before 2023-04-21T22:00:36Z");

	/* One CRL missing: with CRLs, every certificate below the root needs one. */
	o.now = at("2023-05-01T00:00:00Z");
	o.n_crls = 1;
	expect_verify_error(
	    &b, &o,
	    "quote: PCK chain: certificate 1: no CRL of the Intel SGX PCK Processor "
	    "CA given");
	o.crls = crls + 1;
	expect_verify_error(
	    &b, &o, "quote: PCK chain: certificate 2: no CRL of the Intel SGX Root CA given");

	/* A CRL that is not one; a CRL whose signature was changed. */
	struct attest_der bad[2] = { { root_crl.p, root_crl.len }, { pck_crl.p, 10 } };
	o.crls = bad;
	o.n_crls = 2;
	expect_verify_error(&b, &o, "quote: CRL 2: not a DER X.509 CRL");
	_cleanup_bytes_ struct bytes forged = copy_of(&pck_crl);
	forged.p[forged.len - 1] ^= 0x01;
	struct attest_der forged_crls[2] = { { root_crl.p, root_crl.len },
					     { forged.p, forged.len } };
	o.crls = forged_crls;
	expect_verify_error(&b, &o,
			    "quote: PCK chain: CRL of the Intel SGX PCK Processor CA: signature "
			    "does not verify");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_occlum),		cmocka_unit_test(test_dcap_sgx),
		cmocka_unit_test(test_mobilecoin),	cmocka_unit_test(test_tdx_trustee),
		cmocka_unit_test(test_tdx_dcap),	cmocka_unit_test(test_truncated_v3),
		cmocka_unit_test(test_truncated_v4),	cmocka_unit_test(test_lengths_v3),
		cmocka_unit_test(test_lengths_v4),	cmocka_unit_test(test_too_big),
		cmocka_unit_test(test_header),		cmocka_unit_test(test_chain_swapped),
		cmocka_unit_test(test_chain_count),	cmocka_unit_test(test_chain_pem),
		cmocka_unit_test(test_pck_ext),		cmocka_unit_test(test_verify_real),
		cmocka_unit_test(test_flipped_bits),	cmocka_unit_test(test_chain_tampered),
		cmocka_unit_test(test_chain_reordered), cmocka_unit_test(test_chain_times),
		cmocka_unit_test(test_other_root),	cmocka_unit_test(test_crls),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
