// SPDX-License-Identifier: Apache-2.0
/* Unit tests for lib/attest's collateral and TCB evaluation: the real quotes with their real
 * collateral (data/attest, see its SOURCES.md) evaluate to their documented TCB status at a
 * time inside the collateral's window, and fail by name outside it, with a tampered signature,
 * for another platform, or with malformed collateral. Then a test PKI made here (a root, a PCK
 * CA, a PCK certificate with its SGX extension, a TCB signing certificate, CRLs) re-signs a
 * real quote so that TCB Info v2 and v3, the level matching, QE identity matching, status
 * convergence and revocation can be exercised with collateral written for each case. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include "attest-helpers.h"
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include "attest/collateral.h"
#include "attest/quote.h"
#include "attest/verify.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strv.h"
#include "util/le.h"

#define DCAP_SGX "dcap-qvl-sgx-quote.bin"
#define DCAP_SGX_COL "dcap-qvl-sgx-quote-collateral.json"
#define DCAP_TDX "dcap-qvl-tdx-quote.bin"
#define DCAP_TDX_COL "dcap-qvl-tdx-quote-collateral.json"
#define OCCLUM "trustee-occlum-quote.bin"
#define MOBILECOIN "mobilecoin-hw-quote.bin"
#define TDX_TRUSTEE "trustee-tdx-quote-4.bin"

/* ---- fixtures ---- */

static time_t at(const char *iso)
{
	struct tm tm = { 0 };
	assert_non_null(strptime(iso, "%Y-%m-%dT%H:%M:%SZ", &tm));
	return timegm(&tm);
}

static struct attest_collateral *collateral_ok(const char *file)
{
	_cleanup_bytes_ struct bytes b = read_data(file);
	struct cc_error *err = NULL;
	struct attest_collateral *c = attest_collateral_parse_json((char *)b.p, b.len, &err);
	if (!c)
		fail_msg("%s", err->msg);
	return c;
}

static int verify(const struct bytes *q, const struct attest_verify_opts *o,
		  struct attest_verdict *v, struct cc_error **err)
{
	struct attest_quote *quote = attest_quote_parse(q->p, q->len, err);
	if (!quote)
		fail_msg("%s", (*err)->msg);
	int r = attest_quote_verify(quote, o, v, err);
	attest_quote_free(quote);
	return r;
}

static void verify_ok(const struct bytes *q, const struct attest_verify_opts *o,
		      struct attest_verdict *v)
{
	struct cc_error *err = NULL;
	if (verify(q, o, v, &err) < 0)
		fail_msg("%s", err->msg);
}

static void expect_verify_error(const struct bytes *q, const struct attest_verify_opts *o,
				const char *want)
{
	struct attest_verdict v;
	struct cc_error *err = NULL;
	if (verify(q, o, &v, &err) == 0)
		fail_msg("verified (%s), expected: %s", attest_tcb_status_name(v.tcb_status), want);
	assert_non_null(err);
	assert_string_equal(err->msg, want);
	cc_error_free(&err);
	attest_verdict_clear(&v);
}

static void assert_time(time_t t, const char *iso)
{
	assert_int_equal(t, at(iso));
}

static void assert_advisories(char **got, const char *const *want)
{
	size_t n = 0;
	while (want[n])
		n++;
	assert_int_equal(cc_strv_len(got), n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(got[i], want[i]);
}

/* ---- the real collateral ---- */

static void test_sgx_collateral(void **state)
{
	struct attest_collateral *c = collateral_ok(DCAP_SGX_COL);
	const struct attest_tcb_info *t = &c->tcb_info;
	assert_false(t->tdx);
	assert_int_equal(t->version, 3);
	assert_time(t->issue_date, "2025-06-19T10:56:11Z");
	assert_time(t->next_update, "2025-07-19T10:56:11Z");
	assert_memory_equal(t->fmspc, "\x00\xa0\x67\x11\x00\x00", 6);
	assert_int_equal(t->tcb_evaluation_data_number, 17);
	assert_int_equal(t->n_levels, 11);
	assert_int_equal(t->levels[1].sgx_svn[0], 11);
	assert_int_equal(t->levels[1].sgx_svn[4], 255);
	assert_int_equal(t->levels[1].pcesvn, 13);
	assert_int_equal(t->levels[1].status, ATTEST_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED);
	const struct attest_qe_identity *qe = &c->qe_identity;
	assert_string_equal(qe->id, "QE");
	assert_int_equal(qe->version, 2);
	assert_int_equal(qe->isvprodid, 1);
	assert_int_equal(qe->miscselect_mask, 0xffffffff);
	assert_int_equal(qe->n_levels, 6);
	assert_int_equal(qe->levels[0].isvsvn, 8);
	assert_int_equal(qe->levels[0].status, ATTEST_TCB_UP_TO_DATE);
	assert_int_equal(c->tcb_info_chain_len, 2);
	assert_int_equal(c->pck_crl_chain_len, 2);

	/* The quote at the last second of the window. */
	_cleanup_bytes_ struct bytes q = read_data(DCAP_SGX);
	struct attest_verify_opts o = { .now = at("2025-07-19T10:01:17Z"), .collateral = c };
	struct attest_verdict v;
	verify_ok(&q, &o, &v);
	assert_int_equal(v.tcb_status, ATTEST_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED);
	assert_string_equal(attest_tcb_status_name(v.tcb_status),
			    "ConfigurationAndSWHardeningNeeded");
	assert_int_equal(v.platform_status, ATTEST_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED);
	assert_int_equal(v.qe_status, ATTEST_TCB_UP_TO_DATE);
	assert_int_equal(v.tdx_module_status, ATTEST_TCB_UNKNOWN);
	assert_time(v.tcb_date, "2024-03-13T00:00:00Z");
	static const char *const adv[] = { "INTEL-SA-00289", "INTEL-SA-00615", NULL };
	assert_advisories(v.advisory_ids, adv);
	assert_true(v.crls_checked);
	assert_int_equal(v.tcb_evaluation_data_number, 17);
	assert_time(v.collateral_from, "2025-06-19T10:56:11Z");
	assert_time(v.collateral_until, "2025-07-19T10:01:18Z");
	attest_verdict_clear(&v);

	/* The first second of the window. */
	o.now = at("2025-06-19T10:56:11Z");
	verify_ok(&q, &o, &v);
	assert_int_equal(v.tcb_status, ATTEST_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED);
	attest_verdict_clear(&v);
	attest_collateral_free(c);
}

static void test_tdx_collateral(void **state)
{
	struct attest_collateral *c = collateral_ok(DCAP_TDX_COL);
	assert_true(c->tcb_info.tdx);
	assert_true(c->tcb_info.has_tdx_module);
	assert_int_equal(c->tcb_info.n_tdx_modules, 2);
	assert_string_equal(c->tcb_info.tdx_modules[1].id, "TDX_01");
	assert_string_equal(c->qe_identity.id, "TD_QE");
	assert_int_equal(c->tcb_info.levels[0].tdx_svn[0], 5);

	_cleanup_bytes_ struct bytes q = read_data(DCAP_TDX);
	struct attest_verify_opts o = { .now = at("2025-07-19T10:00:34Z"), .collateral = c };
	struct attest_verdict v;
	verify_ok(&q, &o, &v);
	assert_int_equal(v.tcb_status, ATTEST_TCB_UP_TO_DATE);
	assert_string_equal(attest_tcb_status_name(v.tcb_status), "UpToDate");
	assert_int_equal(v.platform_status, ATTEST_TCB_UP_TO_DATE);
	assert_int_equal(v.qe_status, ATTEST_TCB_UP_TO_DATE);
	assert_int_equal(v.tdx_module_status, ATTEST_TCB_UP_TO_DATE);
	assert_time(v.tcb_date, "2024-03-13T00:00:00Z");
	static const char *const none[] = { NULL };
	assert_advisories(v.advisory_ids, none);
	assert_time(v.collateral_from, "2025-06-19T10:32:27Z");
	assert_time(v.collateral_until, "2025-07-19T10:00:35Z");
	attest_verdict_clear(&v);

	o.now = at("2025-07-19T10:00:35Z");
	expect_verify_error(&q, &o,
			    "quote: PCK chain: CRL of the Intel SGX PCK Platform CA expired at "
			    "2025-07-19T10:00:35Z");
	attest_collateral_free(c);
}

static void test_expired(void **state)
{
	struct attest_collateral *c = collateral_ok(DCAP_SGX_COL);
	_cleanup_bytes_ struct bytes q = read_data(DCAP_SGX);
	struct attest_verify_opts o = { .now = at("2025-07-19T10:01:18Z"), .collateral = c };
	expect_verify_error(&q, &o,
			    "quote: collateral: QE identity expired at 2025-07-19T10:01:18Z");
	o.now = at("2025-07-19T10:23:18Z");
	expect_verify_error(&q, &o,
			    "quote: PCK chain: CRL of the Intel SGX PCK Processor CA expired at "
			    "2025-07-19T10:23:18Z");
	o.now = at("2026-11-22T00:00:00Z");
	expect_verify_error(&q, &o,
			    "quote: PCK chain: CRL of the Intel SGX PCK Processor CA expired at "
			    "2025-07-19T10:23:18Z");
	o.now = at("2025-06-19T10:56:10Z");
	expect_verify_error(&q, &o,
			    "quote: collateral: TCB info is not valid before 2025-06-19T10:56:11Z");
	o.now = at("2025-06-19T10:23:17Z");
	expect_verify_error(&q, &o,
			    "quote: PCK chain: CRL of the Intel SGX PCK Processor CA is not valid "
			    "before 2025-06-19T10:23:18Z");
	attest_collateral_free(c);
}

static void test_other_platform(void **state)
{
	struct attest_collateral *sgx = collateral_ok(DCAP_SGX_COL);
	struct attest_collateral *tdx = collateral_ok(DCAP_TDX_COL);
	struct attest_verify_opts o = { .now = at("2025-07-01T00:00:00Z"), .collateral = sgx };

	/* Another Processor CA platform: the CRLs fit, the TCB info does not. */
	_cleanup_bytes_ struct bytes d = read_data(MOBILECOIN);
	expect_verify_error(&d, &o,
			    "quote: collateral: TCB info is for FMSPC 00a067110000, the PCK "
			    "certificate's is 00906ed50000");
	/* A Platform CA quote with Processor CA CRLs. */
	_cleanup_bytes_ struct bytes a = read_data(OCCLUM);
	expect_verify_error(&a, &o,
			    "quote: PCK chain: certificate 1: no CRL of the Intel SGX PCK Platform "
			    "CA given");
	/* Platform CA quotes with the TDX collateral: an SGX one, a TDX one of another FMSPC. */
	o.collateral = tdx;
	expect_verify_error(&a, &o, "quote: collateral: TCB info is for TDX, the quote is SGX");
	_cleanup_bytes_ struct bytes b = read_data(TDX_TRUSTEE);
	expect_verify_error(&b, &o,
			    "quote: collateral: TCB info is for FMSPC b0c06f000000, the PCK "
			    "certificate's is 50806f000000");
	attest_collateral_free(sgx);
	attest_collateral_free(tdx);
}

/* ---- collateral from its pieces ---- */

/* The pieces of a dcap-qvl JSON file, decoded, owned by the test. */
struct pieces {
	json_t *j;
	struct bytes tcb_sig, qe_sig, root_crl, pck_crl;
	char *tcb_info, *qe_identity;
};

static struct bytes unhex(const char *s)
{
	struct bytes b = { xmalloc(strlen(s) / 2 + 1), strlen(s) / 2 };
	for (size_t i = 0; i < b.len; i++)
		assert_int_equal(sscanf(s + 2 * i, "%2hhx", &b.p[i]), 1);
	return b;
}

static const char *str(const json_t *j, const char *key)
{
	const char *s = json_string_value(json_object_get(j, key));
	assert_non_null(s);
	return s;
}

static void pieces_load(struct pieces *p, const char *file)
{
	_cleanup_bytes_ struct bytes b = read_data(file);
	p->j = json_loadb((char *)b.p, b.len, 0, NULL);
	assert_non_null(p->j);
	p->tcb_sig = unhex(str(p->j, "tcb_info_signature"));
	p->qe_sig = unhex(str(p->j, "qe_identity_signature"));
	p->root_crl = unhex(str(p->j, "root_ca_crl"));
	p->pck_crl = unhex(str(p->j, "pck_crl"));
	p->tcb_info = xstrdup(str(p->j, "tcb_info"));
	p->qe_identity = xstrdup(str(p->j, "qe_identity"));
}

static void pieces_clear(struct pieces *p)
{
	json_decref(p->j);
	bytes_free(&p->tcb_sig);
	bytes_free(&p->qe_sig);
	bytes_free(&p->root_crl);
	bytes_free(&p->pck_crl);
	free(p->tcb_info);
	free(p->qe_identity);
}

static struct attest_collateral_parts parts_of(const struct pieces *p)
{
	struct attest_collateral_parts parts = {
		.tcb_info = p->tcb_info,
		.tcb_info_len = strlen(p->tcb_info),
		.tcb_info_sig = p->tcb_sig.p,
		.tcb_info_sig_len = p->tcb_sig.len,
		.tcb_info_chain = str(p->j, "tcb_info_issuer_chain"),
		.tcb_info_chain_len = strlen(str(p->j, "tcb_info_issuer_chain")),
		.qe_identity = p->qe_identity,
		.qe_identity_len = strlen(p->qe_identity),
		.qe_identity_sig = p->qe_sig.p,
		.qe_identity_sig_len = p->qe_sig.len,
		.qe_identity_chain = str(p->j, "qe_identity_issuer_chain"),
		.qe_identity_chain_len = strlen(str(p->j, "qe_identity_issuer_chain")),
		.root_ca_crl = p->root_crl.p,
		.root_ca_crl_len = p->root_crl.len,
		.pck_crl = p->pck_crl.p,
		.pck_crl_len = p->pck_crl.len,
	};
	return parts;
}

static void expect_new_error(const struct attest_collateral_parts *parts, const char *want)
{
	struct cc_error *err = NULL;
	struct attest_collateral *c = attest_collateral_new(parts, &err);
	if (c)
		fail_msg("accepted, expected: %s", want);
	assert_string_equal(err->msg, want);
	cc_error_free(&err);
}

/* The SGX quote verified at a time inside the window with collateral from parts. */
static void expect_parts_verify(const struct attest_collateral_parts *parts, const char *want)
{
	struct cc_error *err = NULL;
	struct attest_collateral *c = attest_collateral_new(parts, &err);
	if (!c)
		fail_msg("%s", err->msg);
	_cleanup_bytes_ struct bytes q = read_data(DCAP_SGX);
	struct attest_verify_opts o = { .now = at("2025-07-01T00:00:00Z"), .collateral = c };
	if (want) {
		expect_verify_error(&q, &o, want);
	} else {
		struct attest_verdict v;
		verify_ok(&q, &o, &v);
		assert_int_equal(v.tcb_status, ATTEST_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED);
		attest_verdict_clear(&v);
	}
	attest_collateral_free(c);
}

static void test_tampered(void **state)
{
	struct pieces p;
	pieces_load(&p, DCAP_SGX_COL);
	struct attest_collateral_parts parts = parts_of(&p);
	expect_parts_verify(&parts, NULL);

	p.tcb_sig.p[10] ^= 0x01;
	expect_parts_verify(&parts, "quote: collateral: TCB info: signature does not verify with "
				    "the Intel SGX TCB Signing key");
	p.tcb_sig.p[10] ^= 0x01;
	p.qe_sig.p[63] ^= 0x01;
	expect_parts_verify(&parts, "quote: collateral: QE identity: signature does not verify "
				    "with the Intel SGX TCB Signing key");
	p.qe_sig.p[63] ^= 0x01;

	/* The signed bytes changed: a level's status. */
	char *s = strstr(p.tcb_info, "\"tcbStatus\":\"ConfigurationAndSWHardeningNeeded\"");
	assert_non_null(s);
	memcpy(s, "\"tcbStatus\":\"UpToDate\",\"x\":\"",
	       strlen("\"tcbStatus\":\"UpToDate\",\"x\":\""));
	expect_parts_verify(&parts, "quote: collateral: TCB info: signature does not verify with "
				    "the Intel SGX TCB Signing key");
	/* Re-serialised the same data: not the bytes Intel signed (spaces after the colons). */
	free(p.tcb_info);
	json_t *t = json_loads(str(p.j, "tcb_info"), 0, NULL);
	p.tcb_info = json_dumps(t, JSON_PRESERVE_ORDER | JSON_INDENT(1));
	json_decref(t);
	parts = parts_of(&p);
	expect_parts_verify(&parts, "quote: collateral: TCB info: signature does not verify with "
				    "the Intel SGX TCB Signing key");
	pieces_clear(&p);
}

static void test_pieces_refused(void **state)
{
	struct pieces p;
	pieces_load(&p, DCAP_SGX_COL);
	struct attest_collateral_parts parts = parts_of(&p), bad;

	bad = parts;
	bad.tcb_info_sig_len = 63;
	expect_new_error(&bad, "TCB info signature: 63 bytes, not 64 (r and s)");
	bad = parts;
	bad.qe_identity_sig = NULL;
	expect_new_error(&bad, "QE identity signature: missing");
	bad = parts;
	bad.pck_crl_len = 100;
	expect_new_error(&bad, "PCK CRL: not a DER X.509 CRL");
	bad = parts;
	bad.root_ca_crl = p.tcb_sig.p;
	bad.root_ca_crl_len = p.tcb_sig.len;
	expect_new_error(&bad, "root CA CRL: not a DER X.509 CRL");
	bad = parts;
	bad.tcb_info_chain_len = 40;
	expect_new_error(&bad, "TCB info issuer chain: certificate 1: no \"-----END "
			       "CERTIFICATE-----\"");
	bad = parts;
	bad.qe_identity_chain_len = 0;
	expect_new_error(&bad, "QE identity issuer chain: no certificate");
	bad = parts;
	bad.tcb_info_len = 5;
	expect_new_error(&bad, "TCB info: line 1 column 5: ':' expected near end of file");
	pieces_clear(&p);
}

/* The SGX TCB info with `from` replaced by `to` (first occurrence), parsed. */
static void expect_tcb_info_error(const char *from, const char *to, const char *want)
{
	struct pieces p;
	pieces_load(&p, DCAP_SGX_COL);
	char *s = strstr(p.tcb_info, from);
	assert_non_null(s);
	_cleanup_free_ char *edited =
	    xasprintf("%.*s%s%s", (int)(s - p.tcb_info), p.tcb_info, to, s + strlen(from));
	struct attest_collateral_parts parts = parts_of(&p);
	parts.tcb_info = edited;
	parts.tcb_info_len = strlen(edited);
	expect_new_error(&parts, want);
	pieces_clear(&p);
}

static void expect_qe_identity_error(const char *from, const char *to, const char *want)
{
	struct pieces p;
	pieces_load(&p, DCAP_SGX_COL);
	char *s = strstr(p.qe_identity, from);
	assert_non_null(s);
	_cleanup_free_ char *edited =
	    xasprintf("%.*s%s%s", (int)(s - p.qe_identity), p.qe_identity, to, s + strlen(from));
	struct attest_collateral_parts parts = parts_of(&p);
	parts.qe_identity = edited;
	parts.qe_identity_len = strlen(edited);
	expect_new_error(&parts, want);
	pieces_clear(&p);
}

static void test_schema(void **state)
{
	expect_tcb_info_error("\"version\":3", "\"version\":4",
			      "TCB info: version: 4 out of range [2, 3]");
	expect_tcb_info_error("\"id\":\"SGX\"", "\"id\":\"SEV\"",
			      "TCB info: id: \"SEV\" is not SGX or TDX");
	expect_tcb_info_error("\"fmspc\":\"00A067110000\"", "\"fmspc\":\"00A06711000\"",
			      "TCB info: fmspc: expected 12 hex digits");
	expect_tcb_info_error("\"pceId\":\"0000\"", "\"pceId\":0",
			      "TCB info: pceId: expected string, got integer");
	expect_tcb_info_error("\"issueDate\":\"2025-06-19T10:56:11Z\"",
			      "\"issueDate\":\"2025-06-31T10:56:11Z\"",
			      "TCB info: issueDate: expected a time as YYYY-MM-DDThh:mm:ssZ");
	expect_tcb_info_error("\"tcbType\":0", "\"tcbType\":1",
			      "TCB info: tcbType: 1 out of range [0, 0]");
	expect_tcb_info_error(
	    "\"sgxtcbcomponents\":[{\"svn\":11},{\"svn\":11},{\"svn\":2}",
	    "\"sgxtcbcomponents\":[{\"svn\":11},{\"svn\":11},{\"svn\":256}",
	    "TCB info: tcbLevels[0].tcb.sgxtcbcomponents[2].svn: 256 out of range "
	    "[0, 255]");
	expect_tcb_info_error(
	    "\"sgxtcbcomponents\":[{\"svn\":11},", "\"sgxtcbcomponents\":[",
	    "TCB info: tcbLevels[0].tcb.sgxtcbcomponents: 15 entries, not between "
	    "16 and 16");
	expect_tcb_info_error("\"pcesvn\":13", "\"pcesvn\":-1",
			      "TCB info: tcbLevels[0].tcb.pcesvn: -1 out of range [0, 65535]");
	expect_tcb_info_error("\"tcbStatus\":\"SWHardeningNeeded\"", "\"tcbStatus\":\"Fine\"",
			      "TCB info: tcbLevels[0].tcbStatus: unknown status \"Fine\"");
	expect_tcb_info_error(
	    "\"advisoryIDs\":[\"INTEL-SA-00615\"]", "\"advisoryIDs\":[615]",
	    "TCB info: tcbLevels[0].advisoryIDs[0]: expected string, got integer");
	expect_tcb_info_error("\"tcbLevels\":[", "\"tcbLevels\":7,\"x\":[",
			      "TCB info: tcbLevels: expected array, got integer");
	expect_tcb_info_error("\"tcbDate\":\"2024-03-13T00:00:00Z\"", "\"tcbDate\":null",
			      "TCB info: tcbLevels[0].tcbDate: required");
	expect_qe_identity_error("\"version\":2", "\"version\":1",
				 "QE identity: version: 1 out of range [2, 2]");
	expect_qe_identity_error(
	    "\"mrsigner\":", "\"mrsignerX\":", "QE identity: mrsigner: required");
	expect_qe_identity_error("\"isvsvn\":8", "\"isvsvn\":\"8\"",
				 "QE identity: tcbLevels[0].tcb.isvsvn: expected integer, got "
				 "string");
	expect_qe_identity_error("\"id\":\"QE\"", "\"id\":\"QE-TOO-LONG\"",
				 "QE identity: id: more than 7 characters");
}

static void test_json_refused(void **state)
{
	static const struct {
		const char *json, *want;
	} cases[] = {
		{ "[]", "collateral: expected object, got array" },
		{ "{}", "collateral: tcb_info: required" },
		{ "{\"tcb_info\":1}", "collateral: tcb_info: expected string, got integer" },
		{ "{\"tcb_info\":\"a\\u0000b\"}", "collateral: tcb_info: contains a NUL byte" },
		{ "{", "collateral: line 1 column 1: string or '}' expected near end of file" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cc_error *err = NULL;
		struct attest_collateral *c =
		    attest_collateral_parse_json(cases[i].json, strlen(cases[i].json), &err);
		assert_null(c);
		assert_string_equal(err->msg, cases[i].want);
		cc_error_free(&err);
	}
	/* A field that must be hex. */
	struct pieces p;
	pieces_load(&p, DCAP_SGX_COL);
	json_t *j = json_deep_copy(p.j);
	json_object_set_new(j, "root_ca_crl", json_string("30820"));
	char *s = json_dumps(j, 0);
	struct cc_error *err = NULL;
	assert_null(attest_collateral_parse_json(s, strlen(s), &err));
	assert_string_equal(err->msg, "collateral: root_ca_crl: expected an even number of hex "
				      "digits, at most 2097152");
	cc_error_free(&err);
	free(s);
	json_object_set_new(j, "root_ca_crl", json_string("3g"));
	s = json_dumps(j, 0);
	assert_null(attest_collateral_parse_json(s, strlen(s), &err));
	assert_string_equal(err->msg, "collateral: root_ca_crl: expected hex digits");
	cc_error_free(&err);
	free(s);
	/* A piece that parses but is wrong, named inside "collateral". */
	json_object_set_new(j, "root_ca_crl", json_string("3000"));
	s = json_dumps(j, 0);
	assert_null(attest_collateral_parse_json(s, strlen(s), &err));
	assert_string_equal(err->msg, "collateral: root CA CRL: not a DER X.509 CRL");
	cc_error_free(&err);
	free(s);
	json_decref(j);
	pieces_clear(&p);
}

static void write_piece(const char *dir, const char *name, const void *p, size_t len)
{
	struct cc_error *err = NULL;
	_cleanup_free_ char *path = xasprintf("%s/%s", dir, name);
	if (cc_write_file(path, p, len, 0644, &err) < 0)
		fail_msg("%s", err->msg);
}

static void test_load_dir(void **state)
{
	char dir[] = "/tmp/test-attest-collateral-XXXXXX";
	assert_non_null(mkdtemp(dir));
	struct pieces p;
	pieces_load(&p, DCAP_SGX_COL);
	struct attest_collateral_parts parts = parts_of(&p);
	write_piece(dir, "tcb_info.json", parts.tcb_info, parts.tcb_info_len);
	write_piece(dir, "tcb_info_signature.bin", parts.tcb_info_sig, 64);
	write_piece(dir, "tcb_info_issuer_chain.pem", parts.tcb_info_chain,
		    parts.tcb_info_chain_len);
	write_piece(dir, "qe_identity.json", parts.qe_identity, parts.qe_identity_len);
	write_piece(dir, "qe_identity_signature.bin", parts.qe_identity_sig, 64);
	write_piece(dir, "root_ca_crl.der", parts.root_ca_crl, parts.root_ca_crl_len);
	write_piece(dir, "pck_crl.der", parts.pck_crl, parts.pck_crl_len);

	/* One piece missing. */
	struct cc_error *err = NULL;
	assert_null(attest_collateral_load_dir(dir, &err));
	assert_non_null(strstr(err->msg, "qe_identity_issuer_chain.pem"));
	cc_error_free(&err);

	write_piece(dir, "qe_identity_issuer_chain.pem", parts.qe_identity_chain,
		    parts.qe_identity_chain_len);
	struct attest_collateral *c = attest_collateral_load_dir(dir, &err);
	if (!c)
		fail_msg("%s", err->msg);
	assert_int_equal(c->pck_crl_chain_len, 0);
	_cleanup_bytes_ struct bytes q = read_data(DCAP_SGX);
	struct attest_verify_opts o = { .now = at("2025-07-01T00:00:00Z"), .collateral = c };
	struct attest_verdict v;
	verify_ok(&q, &o, &v);
	assert_int_equal(v.tcb_status, ATTEST_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED);
	attest_verdict_clear(&v);
	attest_collateral_free(c);

	/* A piece that is wrong, named with the directory. */
	write_piece(dir, "pck_crl.der", "x", 1);
	assert_null(attest_collateral_load_dir(dir, &err));
	_cleanup_free_ char *want = xasprintf("%s: PCK CRL: not a DER X.509 CRL", dir);
	assert_string_equal(err->msg, want);
	cc_error_free(&err);
	if (cc_rm_rf(dir, &err) < 0)
		fail_msg("%s", err->msg);
	pieces_clear(&p);
}

/* ---- a test PKI ---- */

#define FMSPC "F0F1F2F3F4F5"

/* The SGX extension with the given components and PCESVN, FMSPC F0F1F2F3F4F5, PCE-ID 0000. */
static struct der sgx_ext(const uint8_t comps[16], unsigned pcesvn)
{
	struct der tcb_content = { .len = 0 }, tcb = { .len = 0 }, content = { .len = 0 },
		   out = { .len = 0 }, v = { .len = 0 };
	for (int a = 1; a <= 18; a++) {
		v.len = 0;
		if (a == 18) {
			tlv_raw(&v, 0x04, comps, 16);
		} else {
			v = der_integer(a == 17 ? pcesvn : comps[a - 1]);
		}
		pair(&tcb_content, 2, a, &v);
	}
	tlv(&tcb, 0x30, &tcb_content);
	v.len = 0;
	tlv_raw(&v, 0x04, "0123456789abcdef", 16);
	pair(&content, 1, 0, &v);
	pair(&content, 2, 0, &tcb);
	v.len = 0;
	tlv_raw(&v, 0x04, "\x00\x00", 2);
	pair(&content, 3, 0, &v);
	v.len = 0;
	tlv_raw(&v, 0x04, "\xf0\xf1\xf2\xf3\xf4\xf5", 6);
	pair(&content, 4, 0, &v);
	v.len = 0;
	tlv_raw(&v, 0x0a, "\x00", 1);
	pair(&content, 5, 0, &v);
	tlv(&out, 0x30, &content);
	return out;
}

static void add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	assert_non_null(e);
	assert_int_equal(X509_add_ext(x, e, -1), 1);
	X509_EXTENSION_free(e);
}

static long serial_next = 1;

/* A certificate of key for cn, issued by issuer (NULL: self-signed) with issuer_key. */
static X509 *make_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key, bool ca,
		       const struct der *sgx)
{
	X509 *x = X509_new();
	assert_non_null(x);
	assert_int_equal(X509_set_version(x, 2), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), serial_next++), 1);
	assert_non_null(ASN1_TIME_set(X509_getm_notBefore(x), at("2020-01-01T00:00:00Z")));
	assert_non_null(ASN1_TIME_set(X509_getm_notAfter(x), at("2040-01-01T00:00:00Z")));
	X509_NAME *n = X509_get_subject_name(x);
	assert_int_equal(
	    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0),
	    1);
	assert_int_equal(X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n), 1);
	assert_int_equal(X509_set_pubkey(x, key), 1);
	if (ca) {
		add_ext(x, NID_basic_constraints, "critical,CA:TRUE");
		add_ext(x, NID_key_usage, "critical,keyCertSign,cRLSign");
	} else {
		add_ext(x, NID_basic_constraints, "critical,CA:FALSE");
		add_ext(x, NID_key_usage, "critical,digitalSignature,nonRepudiation");
	}
	if (sgx) {
		ASN1_OBJECT *oid = OBJ_txt2obj("1.2.840.113741.1.13.1", 1);
		ASN1_OCTET_STRING *v = ASN1_OCTET_STRING_new();
		assert_int_equal(ASN1_OCTET_STRING_set(v, sgx->b, (int)sgx->len), 1);
		X509_EXTENSION *e = X509_EXTENSION_create_by_OBJ(NULL, oid, 0, v);
		assert_int_equal(X509_add_ext(x, e, -1), 1);
		X509_EXTENSION_free(e);
		ASN1_OCTET_STRING_free(v);
		ASN1_OBJECT_free(oid);
	}
	assert_true(X509_sign(x, issuer_key, EVP_sha256()) > 0);
	return x;
}

/* A CRL of issuer listing `revoked` (NULL: none), valid 2024..2030. */
static struct bytes make_crl(X509 *issuer, EVP_PKEY *key, X509 *revoked)
{
	X509_CRL *crl = X509_CRL_new();
	assert_int_equal(X509_CRL_set_version(crl, 1), 1);
	assert_int_equal(X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer)), 1);
	ASN1_TIME *t = ASN1_TIME_new();
	assert_non_null(ASN1_TIME_set(t, at("2024-01-01T00:00:00Z")));
	assert_int_equal(X509_CRL_set1_lastUpdate(crl, t), 1);
	assert_non_null(ASN1_TIME_set(t, at("2030-01-01T00:00:00Z")));
	assert_int_equal(X509_CRL_set1_nextUpdate(crl, t), 1);
	if (revoked) {
		X509_REVOKED *r = X509_REVOKED_new();
		assert_int_equal(X509_REVOKED_set_serialNumber(r, X509_get_serialNumber(revoked)),
				 1);
		assert_non_null(ASN1_TIME_set(t, at("2024-06-01T00:00:00Z")));
		assert_int_equal(X509_REVOKED_set_revocationDate(r, t), 1);
		assert_int_equal(X509_CRL_add0_revoked(crl, r), 1);
	}
	ASN1_TIME_free(t);
	assert_int_equal(X509_CRL_sort(crl), 1);
	assert_true(X509_CRL_sign(crl, key, EVP_sha256()) > 0);
	struct bytes b = { NULL, 0 };
	int len = i2d_X509_CRL(crl, &b.p);
	assert_true(len > 0);
	b.len = (size_t)len;
	X509_CRL_free(crl);
	return b;
}

static char *pem_of(X509 *const *certs, size_t n)
{
	BIO *bio = BIO_new(BIO_s_mem());
	for (size_t i = 0; i < n; i++)
		assert_int_equal(PEM_write_bio_X509(bio, certs[i]), 1);
	char *data;
	long len = BIO_get_mem_data(bio, &data);
	char *s = xstrndup(data, (size_t)len);
	BIO_free(bio);
	return s;
}

/* ECDSA P-256 over msg, raw r||s. */
static void sign_raw(EVP_PKEY *key, const void *msg, size_t len, uint8_t out[64])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char der[80];
	size_t der_len = sizeof(der);
	assert_int_equal(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key), 1);
	assert_int_equal(EVP_DigestSign(ctx, der, &der_len, msg, len), 1);
	EVP_MD_CTX_free(ctx);
	const unsigned char *p = der;
	ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
	assert_non_null(sig);
	assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_r(sig), out, 32), 32);
	assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_s(sig), out + 32, 32), 32);
	ECDSA_SIG_free(sig);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The PKI, a quote re-signed under it, and the pieces of collateral signed by it. */
struct pki {
	EVP_PKEY *root_key, *ca_key, *leaf_key, *tcb_key, *att_key;
	X509 *root, *ca, *leaf, *tcb;
	struct bytes root_der, quote;
	struct bytes root_crl, pck_crl;
	char *tcb_chain;
	char *tcb_info, *qe_identity;
	uint8_t tcb_sig[64], qe_sig[64];
	struct attest_collateral *collateral;
};

/* Where a quote's fields are (SGX v3 or TDX v4, as in the real ones). */
struct layout {
	size_t sig_at, qe_at, auth_len_at, pem_len_at, outer_len_at;
};

static struct layout layout_of(const struct bytes *b)
{
	struct layout l = { 0 };
	bool tdx = get32(b->p + 4) == 0x81;
	size_t p = (tdx ? 632 : 432) + 4;
	l.sig_at = p;
	p += 128;
	if (b->p[0] == 4) {
		l.outer_len_at = p + 2;
		p += 6;
	}
	l.qe_at = p;
	l.auth_len_at = p + 448;
	l.pem_len_at = l.auth_len_at + 2 + (b->p[l.auth_len_at] | b->p[l.auth_len_at + 1] << 8) + 2;
	return l;
}

/*
 * A real quote under the test PKI: the PEM chain replaced by leaf, CA, root; a fresh
 * attestation key; the QE report's data rebinding it and the QE report re-signed by the leaf
 * key (after qe_edit changed what it wants in the QE report); the quote re-signed.
 */
static void resign(struct pki *k, const char *file, void (*qe_edit)(uint8_t *qe))
{
	_cleanup_bytes_ struct bytes b = read_data(file);
	struct layout l = layout_of(&b);
	X509 *chain[3] = { k->leaf, k->ca, k->root };
	_cleanup_free_ char *pem = pem_of(chain, 3);
	size_t old_pem = get32(b.p + l.pem_len_at), new_pem = strlen(pem);
	size_t pem_at = l.pem_len_at + 4, end = pem_at + old_pem;
	size_t tail = b.len - end;
	struct bytes q = { xmalloc(pem_at + new_pem + tail), pem_at + new_pem + tail };
	memcpy(q.p, b.p, pem_at);
	memcpy(q.p + pem_at, pem, new_pem);
	memcpy(q.p + pem_at + new_pem, b.p + end, tail);
	long d = (long)new_pem - (long)old_pem;
	cc_put_le32(q.p + l.pem_len_at, (uint32_t)new_pem);
	cc_put_le32(q.p + l.sig_at - 4, (uint32_t)((long)get32(b.p + l.sig_at - 4) + d));
	if (l.outer_len_at)
		cc_put_le32(q.p + l.outer_len_at,
			    (uint32_t)((long)get32(b.p + l.outer_len_at) + d));

	/* The attestation key (X||Y) and the QE report binding it. */
	uint8_t point[65];
	size_t point_len = sizeof(point);
	assert_int_equal(EVP_PKEY_get_octet_string_param(k->att_key, "encoded-pub-key", point,
							 sizeof(point), &point_len),
			 1);
	assert_int_equal(point_len, 65);
	memcpy(q.p + l.sig_at + 64, point + 1, 64);
	uint8_t *qe = q.p + l.qe_at;
	if (qe_edit)
		qe_edit(qe);
	size_t auth_len = q.p[l.auth_len_at] | q.p[l.auth_len_at + 1] << 8;
	EVP_MD_CTX *h = EVP_MD_CTX_new();
	assert_int_equal(EVP_DigestInit_ex(h, EVP_sha256(), NULL), 1);
	assert_int_equal(EVP_DigestUpdate(h, point + 1, 64), 1);
	assert_int_equal(EVP_DigestUpdate(h, q.p + l.auth_len_at + 2, auth_len), 1);
	assert_int_equal(EVP_DigestFinal_ex(h, qe + 320, NULL), 1);
	EVP_MD_CTX_free(h);
	memset(qe + 352, 0, 32);
	sign_raw(k->leaf_key, qe, 384, qe + 384);
	sign_raw(k->att_key, q.p, l.sig_at - 4, q.p + l.sig_at);
	bytes_free(&k->quote);
	k->quote = q;
}

static void pki_init(struct pki *k, const uint8_t comps[16], unsigned pcesvn)
{
	memset(k, 0, sizeof(*k));
	k->root_key = EVP_EC_gen("P-256");
	k->ca_key = EVP_EC_gen("P-256");
	k->leaf_key = EVP_EC_gen("P-256");
	k->tcb_key = EVP_EC_gen("P-256");
	k->att_key = EVP_EC_gen("P-256");
	k->root = make_cert("Test Root CA", k->root_key, NULL, k->root_key, true, NULL);
	k->ca = make_cert("Test PCK CA", k->ca_key, k->root, k->root_key, true, NULL);
	struct der ext = sgx_ext(comps, pcesvn);
	k->leaf =
	    make_cert("Intel SGX PCK Certificate", k->leaf_key, k->ca, k->ca_key, false, &ext);
	k->tcb = make_cert("Intel SGX TCB Signing", k->tcb_key, k->root, k->root_key, false, NULL);
	int len = i2d_X509(k->root, &k->root_der.p);
	assert_true(len > 0);
	k->root_der.len = (size_t)len;
	k->root_crl = make_crl(k->root, k->root_key, NULL);
	k->pck_crl = make_crl(k->ca, k->ca_key, NULL);
	X509 *chain[2] = { k->tcb, k->root };
	k->tcb_chain = pem_of(chain, 2);
	resign(k, DCAP_SGX, NULL);
}

static void pki_clear(struct pki *k)
{
	EVP_PKEY_free(k->root_key);
	EVP_PKEY_free(k->ca_key);
	EVP_PKEY_free(k->leaf_key);
	EVP_PKEY_free(k->tcb_key);
	EVP_PKEY_free(k->att_key);
	X509_free(k->root);
	X509_free(k->ca);
	X509_free(k->leaf);
	X509_free(k->tcb);
	bytes_free(&k->root_der);
	bytes_free(&k->quote);
	bytes_free(&k->root_crl);
	bytes_free(&k->pck_crl);
	free(k->tcb_chain);
	free(k->tcb_info);
	free(k->qe_identity);
	attest_collateral_free(k->collateral);
}

/* A level of a v3 TCB info: 16 components (the rest 0), PCESVN, status, advisories. */
static char *level_v3(const uint8_t c[16], unsigned pcesvn, const char *status, const char *adv)
{
	_cleanup_free_ char *comps = xstrdup("");
	for (int i = 0; i < 16; i++) {
		char *next = xasprintf("%s%s{\"svn\":%u}", comps, i ? "," : "", c[i]);
		free(comps);
		comps = next;
	}
	return xasprintf("{\"tcb\":{\"sgxtcbcomponents\":[%s],\"pcesvn\":%u},"
			 "\"tcbDate\":\"2024-03-13T00:00:00Z\",\"tcbStatus\":\"%s\"%s%s%s}",
			 comps, pcesvn, status, adv ? ",\"advisoryIDs\":[\"" : "", adv ? adv : "",
			 adv ? "\"]" : "");
}

static char *level_v2(const uint8_t c[16], unsigned pcesvn, const char *status)
{
	_cleanup_free_ char *comps = xstrdup("");
	for (int i = 0; i < 16; i++) {
		char *next = xasprintf("%s\"sgxtcbcomp%02dsvn\":%u,", comps, i + 1, c[i]);
		free(comps);
		comps = next;
	}
	return xasprintf("{\"tcb\":{%s\"pcesvn\":%u},\"tcbDate\":\"2024-03-13T00:00:00Z\","
			 "\"tcbStatus\":\"%s\"}",
			 comps, pcesvn, status);
}

/* The collateral: a TCB info of version (2 or 3) with the levels (a JSON list's inside), a QE
 * identity whose fields are edited by `qe_fields` (NULL: those of the Intel QE) and whose
 * levels are qe_levels; signed by the PKI's TCB signing key. */
static void pki_sign_collateral(struct pki *k);

static void pki_collateral(struct pki *k, int version, const char *levels, const char *qe_fields,
			   const char *qe_levels, const char *pceid)
{
	free(k->tcb_info);
	free(k->qe_identity);
	k->tcb_info = xasprintf("{%s\"version\":%d,\"issueDate\":\"2025-01-01T00:00:00Z\","
				"\"nextUpdate\":\"2026-01-01T00:00:00Z\",\"fmspc\":\"" FMSPC "\","
				"\"pceId\":\"%s\",\"tcbType\":0,\"tcbEvaluationDataNumber\":17,"
				"\"tcbLevels\":[%s]}",
				version == 3 ? "\"id\":\"SGX\"," : "", version,
				pceid ? pceid : "0000", levels);
	k->qe_identity = xasprintf(
	    "{\"id\":\"QE\",\"version\":2,\"issueDate\":\"2025-01-01T00:00:00Z\","
	    "\"nextUpdate\":\"2026-01-01T00:00:00Z\",\"tcbEvaluationDataNumber\":17,%s,"
	    "\"isvprodid\":%s,\"tcbLevels\":[%s]}",
	    qe_fields ? qe_fields
		      : "\"miscselect\":\"00000000\",\"miscselectMask\":\"FFFFFFFF\","
			"\"attributes\":\"11000000000000000000000000000000\","
			"\"attributesMask\":\"FBFFFFFFFFFFFFFF0000000000000000\","
			"\"mrsigner\":\"8C4F5775D796503E96137F77C68A829A0056AC8DED70140B081B0944"
			"90C57BFF\"",
	    "1", qe_levels);
	pki_sign_collateral(k);
}

#define ZERO48                                                                                     \
	"0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000" \
	"00000000"

/* A TDX TCB info with the levels and the module identities (a JSON list's inside), and the TD
 * QE's identity with one UpToDate level. */
static void pki_collateral_tdx(struct pki *k, const char *levels, const char *modules)
{
	free(k->tcb_info);
	free(k->qe_identity);
	k->tcb_info = xasprintf(
	    "{\"id\":\"TDX\",\"version\":3,\"issueDate\":\"2025-01-01T00:00:00Z\","
	    "\"nextUpdate\":\"2026-01-01T00:00:00Z\",\"fmspc\":\"" FMSPC "\",\"pceId\":\"0000\","
	    "\"tcbType\":0,\"tcbEvaluationDataNumber\":17,\"tdxModule\":{\"mrsigner\":\"" ZERO48
	    "\",\"attributes\":\"0000000000000000\",\"attributesMask\":\"FFFFFFFFFFFFFFFF\"},"
	    "\"tdxModuleIdentities\":[%s],\"tcbLevels\":[%s]}",
	    modules, levels);
	k->qe_identity = xstrdup(
	    "{\"id\":\"TD_QE\",\"version\":2,\"issueDate\":\"2025-01-01T00:00:00Z\","
	    "\"nextUpdate\":\"2026-01-01T00:00:00Z\",\"tcbEvaluationDataNumber\":17,"
	    "\"miscselect\":\"00000000\",\"miscselectMask\":\"FFFFFFFF\","
	    "\"attributes\":\"11000000000000000000000000000000\","
	    "\"attributesMask\":\"FBFFFFFFFFFFFFFF0000000000000000\","
	    "\"mrsigner\":\"DC9E2A7C6F948F17474E34A7FC43ED030F7C1563F1BABDDF6340C82E0E54A8C5\","
	    "\"isvprodid\":2,\"tcbLevels\":[{\"tcb\":{\"isvsvn\":4},"
	    "\"tcbDate\":\"2024-03-13T00:00:00Z\",\"tcbStatus\":\"UpToDate\"}]}");
	pki_sign_collateral(k);
}

static void pki_sign_collateral(struct pki *k)
{
	sign_raw(k->tcb_key, k->tcb_info, strlen(k->tcb_info), k->tcb_sig);
	sign_raw(k->tcb_key, k->qe_identity, strlen(k->qe_identity), k->qe_sig);
	struct attest_collateral_parts p = {
		k->tcb_info,	strlen(k->tcb_info),
		k->tcb_sig,	64,
		k->tcb_chain,	strlen(k->tcb_chain),
		k->qe_identity, strlen(k->qe_identity),
		k->qe_sig,	64,
		k->tcb_chain,	strlen(k->tcb_chain),
		k->root_crl.p,	k->root_crl.len,
		k->pck_crl.p,	k->pck_crl.len,
		NULL,		0,
	};
	struct cc_error *err = NULL;
	attest_collateral_free(k->collateral);
	k->collateral = attest_collateral_new(&p, &err);
	if (!k->collateral)
		fail_msg("%s", err->msg);
}

static struct attest_verify_opts pki_opts(const struct pki *k)
{
	struct attest_verify_opts o = { .now = at("2025-07-01T00:00:00Z"),
					.root_der = k->root_der.p,
					.root_len = k->root_der.len,
					.collateral = k->collateral };
	return o;
}

static const uint8_t PLATFORM[16] = { 5, 5, 2, 2, 4, 1 };
static const uint8_t HIGHER[16] = { 6, 6, 2, 2, 4, 1 };
static const uint8_t LOWER[16] = { 4, 4, 2, 2, 4, 1 };

/* Three levels: above the platform (UpToDate), at it (`at_status`), below (OutOfDate). */
static char *three_levels(const char *at_status)
{
	_cleanup_free_ char *a = level_v3(HIGHER, 10, "UpToDate", NULL);
	_cleanup_free_ char *b = level_v3(PLATFORM, 10, at_status, "INTEL-SA-00001");
	_cleanup_free_ char *c = level_v3(LOWER, 9, "OutOfDate", "INTEL-SA-00002");
	return xasprintf("%s,%s,%s", a, b, c);
}

#define QE_UP \
	"{\"tcb\":{\"isvsvn\":8},\"tcbDate\":\"2024-03-13T00:00:00Z\",\"tcbStatus\":\"UpToDate\"}"
#define QE_LEVEL(svn, status, adv)                                       \
	"{\"tcb\":{\"isvsvn\":" #svn                                     \
	"},\"tcbDate\":\"2023-01-01T00:00:00Z\",\"tcbStatus\":\"" status \
	"\",\"advisoryIDs\":[\"" adv "\"]}"

struct outcome {
	enum attest_tcb_status tcb, platform, qe;
	const char *const *advisories;
};

static void expect_outcome(struct pki *k, const struct outcome *want)
{
	struct attest_verify_opts o = pki_opts(k);
	struct attest_verdict v;
	verify_ok(&k->quote, &o, &v);
	assert_string_equal(attest_tcb_status_name(v.tcb_status),
			    attest_tcb_status_name(want->tcb));
	assert_int_equal(v.platform_status, want->platform);
	assert_int_equal(v.qe_status, want->qe);
	assert_advisories(v.advisory_ids, want->advisories);
	assert_true(v.crls_checked);
	attest_verdict_clear(&v);
}

static void test_levels(void **state)
{
	struct pki k;
	pki_init(&k, PLATFORM, 10);
	static const char *const sa1[] = { "INTEL-SA-00001", NULL };
	static const char *const sa1q[] = { "INTEL-SA-00001", "INTEL-SA-00009", NULL };

	/* The second level is the first at or below the platform. */
	_cleanup_free_ char *sw = three_levels("SWHardeningNeeded");
	pki_collateral(&k, 3, sw, NULL, QE_UP, NULL);
	struct outcome o1 = { ATTEST_TCB_SW_HARDENING_NEEDED, ATTEST_TCB_SW_HARDENING_NEEDED,
			      ATTEST_TCB_UP_TO_DATE, sa1 };
	expect_outcome(&k, &o1);

	/* The QE's ISVSVN (10) is below the first QE level: its OutOfDate converges. */
	pki_collateral(&k, 3, sw, NULL,
		       QE_LEVEL(11, "UpToDate", "INTEL-SA-00008") "," QE_LEVEL(9, "OutOfDate",
									       "INTEL-SA-00009"),
		       NULL);
	struct outcome o2 = { ATTEST_TCB_OUT_OF_DATE, ATTEST_TCB_SW_HARDENING_NEEDED,
			      ATTEST_TCB_OUT_OF_DATE, sa1q };
	expect_outcome(&k, &o2);

	_cleanup_free_ char *conf = three_levels("ConfigurationNeeded");
	pki_collateral(&k, 3, conf, NULL,
		       QE_LEVEL(11, "UpToDate", "INTEL-SA-00008") "," QE_LEVEL(9, "OutOfDate",
									       "INTEL-SA-00009"),
		       NULL);
	struct outcome o3 = { ATTEST_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED,
			      ATTEST_TCB_CONFIGURATION_NEEDED, ATTEST_TCB_OUT_OF_DATE, sa1q };
	expect_outcome(&k, &o3);

	pki_collateral(&k, 3, conf, NULL, QE_LEVEL(10, "Revoked", "INTEL-SA-00009"), NULL);
	struct outcome o4 = { ATTEST_TCB_REVOKED, ATTEST_TCB_CONFIGURATION_NEEDED,
			      ATTEST_TCB_REVOKED, sa1q };
	expect_outcome(&k, &o4);

	/* A revoked platform level is a status, for the caller's policy. */
	_cleanup_free_ char *revoked = three_levels("Revoked");
	pki_collateral(&k, 3, revoked, NULL, QE_UP, NULL);
	struct outcome o5 = { ATTEST_TCB_REVOKED, ATTEST_TCB_REVOKED, ATTEST_TCB_UP_TO_DATE, sa1 };
	expect_outcome(&k, &o5);

	/* The same in a version 2 TCB info. */
	_cleanup_free_ char *a = level_v2(HIGHER, 10, "UpToDate");
	_cleanup_free_ char *b = level_v2(PLATFORM, 10, "OutOfDateConfigurationNeeded");
	_cleanup_free_ char *v2 = xasprintf("%s,%s", a, b);
	pki_collateral(&k, 2, v2, NULL, QE_UP, NULL);
	static const char *const none[] = { NULL };
	struct outcome o6 = { ATTEST_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED,
			      ATTEST_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED, ATTEST_TCB_UP_TO_DATE,
			      none };
	expect_outcome(&k, &o6);
	pki_clear(&k);
}

static void test_no_level(void **state)
{
	struct pki k;
	/* PCESVN 8: below every level's. */
	pki_init(&k, PLATFORM, 8);
	_cleanup_free_ char *levels = three_levels("UpToDate");
	pki_collateral(&k, 3, levels, NULL, QE_UP, NULL);
	struct attest_verify_opts o = pki_opts(&k);
	expect_verify_error(&k.quote, &o,
			    "quote: TCB: no level of the TCB info is at or below the PCK "
			    "certificate's TCB (TCB not supported)");
	/* A QE below every QE level. */
	pki_clear(&k);
	pki_init(&k, PLATFORM, 10);
	pki_collateral(&k, 3, levels, NULL, QE_LEVEL(11, "UpToDate", "INTEL-SA-00008"), NULL);
	o = pki_opts(&k);
	expect_verify_error(&k.quote, &o, "quote: QE identity: ISVSVN 10 is below every TCB level");
	/* Another PCE-ID. */
	pki_collateral(&k, 3, levels, NULL, QE_UP, "0001");
	o = pki_opts(&k);
	expect_verify_error(&k.quote, &o,
			    "quote: collateral: TCB info is for PCE-ID 0001, the PCK certificate's "
			    "is 0000");
	pki_clear(&k);
}

#define QE_FIELDS(misc, attr, mrsigner)                                                      \
	"\"miscselect\":\"" misc "\",\"miscselectMask\":\"FFFFFFFF\",\"attributes\":\"" attr \
	"\",\"attributesMask\":\"FBFFFFFFFFFFFFFF0000000000000000\",\"mrsigner\":\"" mrsigner "\""
#define INTEL_QE_MRSIGNER "8C4F5775D796503E96137F77C68A829A0056AC8DED70140B081B094490C57BFF"

static void test_qe_identity(void **state)
{
	struct pki k;
	pki_init(&k, PLATFORM, 10);
	_cleanup_free_ char *levels = three_levels("UpToDate");
	struct attest_verify_opts o;

	pki_collateral(&k, 3, levels,
		       QE_FIELDS("00000001", "11000000000000000000000000000000", INTEL_QE_MRSIGNER),
		       QE_UP, NULL);
	o = pki_opts(&k);
	expect_verify_error(&k.quote, &o,
			    "quote: QE identity: MISCSELECT 0x00000000 does not match 0x00000001 "
			    "under mask 0xffffffff");
	pki_collateral(&k, 3, levels,
		       QE_FIELDS("00000000", "13000000000000000000000000000000", INTEL_QE_MRSIGNER),
		       QE_UP, NULL);
	o = pki_opts(&k);
	expect_verify_error(
	    &k.quote, &o,
	    "quote: QE identity: ATTRIBUTES 1500000000000000e700000000000000 do not "
	    "match 13000000000000000000000000000000 under mask "
	    "fbffffffffffffff0000000000000000");
	/* Bit 0x04 is outside the mask: 0x15 and 0x11 agree. */
	pki_collateral(
	    &k, 3, levels,
	    QE_FIELDS("00000000", "11000000000000000000000000000000",
		      "0C4F5775D796503E96137F77C68A829A0056AC8DED70140B081B094490C57BFF"),
	    QE_UP, NULL);
	o = pki_opts(&k);
	expect_verify_error(&k.quote, &o,
			    "quote: QE identity: MRSIGNER "
			    "8c4f5775d796503e96137f77c68a829a0056ac8ded70140b081b094490c57bff do "
			    "not match 0c4f5775d796503e96137f77c68a829a0056ac8ded70140b081b094490c5"
			    "7bff under mask "
			    "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff");
	pki_clear(&k);
}

static void set_isvprodid_2(uint8_t *qe)
{
	qe[256] = 2;
}

static void test_qe_prodid(void **state)
{
	struct pki k;
	pki_init(&k, PLATFORM, 10);
	resign(&k, DCAP_SGX, set_isvprodid_2);
	_cleanup_free_ char *levels = three_levels("UpToDate");
	pki_collateral(&k, 3, levels, NULL, QE_UP, NULL);
	struct attest_verify_opts o = pki_opts(&k);
	expect_verify_error(&k.quote, &o, "quote: QE identity: ISVPRODID 2 is not 1");
	pki_clear(&k);
}

static void test_revoked(void **state)
{
	struct pki k;
	pki_init(&k, PLATFORM, 10);
	_cleanup_free_ char *levels = three_levels("UpToDate");
	pki_collateral(&k, 3, levels, NULL, QE_UP, NULL);
	static const char *const none[] = { NULL };
	struct outcome up = { ATTEST_TCB_UP_TO_DATE, ATTEST_TCB_UP_TO_DATE, ATTEST_TCB_UP_TO_DATE,
			      none };
	/* The UpToDate level above has no advisories; the platform is at the second. */
	_cleanup_free_ char *at_platform = level_v3(PLATFORM, 10, "UpToDate", NULL);
	pki_collateral(&k, 3, at_platform, NULL, QE_UP, NULL);
	expect_outcome(&k, &up);

	/* The PCK certificate revoked by its CA. */
	bytes_free(&k.pck_crl);
	k.pck_crl = make_crl(k.ca, k.ca_key, k.leaf);
	pki_collateral(&k, 3, at_platform, NULL, QE_UP, NULL);
	struct attest_verify_opts o = pki_opts(&k);
	expect_verify_error(
	    &k.quote, &o,
	    "quote: PCK chain: certificate 1 (Intel SGX PCK Certificate) is revoked "
	    "by the CRL of the Test PCK CA");
	/* The PCK CA revoked by the root. */
	bytes_free(&k.pck_crl);
	k.pck_crl = make_crl(k.ca, k.ca_key, NULL);
	bytes_free(&k.root_crl);
	k.root_crl = make_crl(k.root, k.root_key, k.ca);
	pki_collateral(&k, 3, at_platform, NULL, QE_UP, NULL);
	o = pki_opts(&k);
	expect_verify_error(
	    &k.quote, &o,
	    "quote: PCK chain: certificate 2 (Test PCK CA) is revoked by the CRL of "
	    "the Test Root CA");
	/* The TCB signing certificate revoked by the root. */
	bytes_free(&k.root_crl);
	k.root_crl = make_crl(k.root, k.root_key, k.tcb);
	pki_collateral(&k, 3, at_platform, NULL, QE_UP, NULL);
	o = pki_opts(&k);
	expect_verify_error(
	    &k.quote, &o,
	    "quote: collateral: TCB info issuer chain: certificate 1 (Intel SGX TCB "
	    "Signing) is revoked by the CRL of the Test Root CA");
	/* A PCK CRL signed by another key. */
	bytes_free(&k.root_crl);
	k.root_crl = make_crl(k.root, k.root_key, NULL);
	bytes_free(&k.pck_crl);
	k.pck_crl = make_crl(k.ca, k.leaf_key, NULL);
	pki_collateral(&k, 3, at_platform, NULL, QE_UP, NULL);
	o = pki_opts(&k);
	expect_verify_error(&k.quote, &o,
			    "quote: PCK chain: CRL of the Test PCK CA: signature does not verify");
	pki_clear(&k);
}

static void test_signer(void **state)
{
	struct pki k;
	pki_init(&k, PLATFORM, 10);
	/* Collateral signed by a certificate of the root that is not the TCB signing one. */
	X509_free(k.tcb);
	k.tcb = make_cert("Test Other Signer", k.tcb_key, k.root, k.root_key, false, NULL);
	X509 *chain[2] = { k.tcb, k.root };
	free(k.tcb_chain);
	k.tcb_chain = pem_of(chain, 2);
	_cleanup_free_ char *levels = three_levels("UpToDate");
	pki_collateral(&k, 3, levels, NULL, QE_UP, NULL);
	struct attest_verify_opts o = pki_opts(&k);
	expect_verify_error(
	    &k.quote, &o,
	    "quote: collateral: TCB info issuer chain: certificate 1 is \"Test Other "
	    "Signer\", not the Intel SGX TCB Signing certificate");
	/* The real Intel root pinned: the test PKI's chains do not lead to it. */
	o.root_der = NULL;
	expect_verify_error(&k.quote, &o,
			    "quote: PCK chain: certificate 3 is not signed by the Intel SGX Root "
			    "CA");
	pki_clear(&k);
}

/* A level of a TDX TCB info: the platform's SGX components, PCESVN 10, TDX components. */
static char *level_tdx(const uint8_t tdx[16], const char *status)
{
	_cleanup_free_ char *sgx = xstrdup(""), *t = xstrdup("");
	for (int i = 0; i < 16; i++) {
		char *next = xasprintf("%s%s{\"svn\":%u}", sgx, i ? "," : "", PLATFORM[i]);
		free(sgx);
		sgx = next;
		next = xasprintf("%s%s{\"svn\":%u}", t, i ? "," : "", tdx[i]);
		free(t);
		t = next;
	}
	return xasprintf("{\"tcb\":{\"sgxtcbcomponents\":[%s],\"pcesvn\":10,"
			 "\"tdxtcbcomponents\":[%s]},\"tcbDate\":\"2024-03-13T00:00:00Z\","
			 "\"tcbStatus\":\"%s\"}",
			 sgx, t, status);
}

#define MODULE(id, svn, status)                                                               \
	"{\"id\":\"" id "\",\"mrsigner\":\"" ZERO48 "\",\"attributes\":\"0000000000000000\"," \
	"\"attributesMask\":\"FFFFFFFFFFFFFFFF\",\"tcbLevels\":[{\"tcb\":{\"isvsvn\":" #svn   \
	"},\"tcbDate\":\"2024-03-13T00:00:00Z\",\"tcbStatus\":\"" status "\"}]}"

static void test_tdx_levels(void **state)
{
	/* The TD's TEE_TCB_SVN is 06 01 03: module ISVSVN 6, version 1, then 3. */
	static const uint8_t above[16] = { 0, 0, 4 }, at3[16] = { 9, 9, 3 };
	struct pki k;
	pki_init(&k, PLATFORM, 10);
	resign(&k, DCAP_TDX, NULL);
	_cleanup_free_ char *hi = level_tdx(above, "UpToDate");
	_cleanup_free_ char *mid = level_tdx(at3, "SWHardeningNeeded");
	_cleanup_free_ char *levels = xasprintf("%s,%s", hi, mid);
	static const char *const none[] = { NULL };

	/* Bytes 0 and 1 (9, 9 above the TD's 6, 1) are the module's, not compared here. */
	pki_collateral_tdx(&k, levels, MODULE("TDX_01", 4, "UpToDate"));
	struct outcome o1 = { ATTEST_TCB_SW_HARDENING_NEEDED, ATTEST_TCB_SW_HARDENING_NEEDED,
			      ATTEST_TCB_UP_TO_DATE, none };
	expect_outcome(&k, &o1);
	struct attest_verify_opts o = pki_opts(&k);
	struct attest_verdict v;
	verify_ok(&k.quote, &o, &v);
	assert_int_equal(v.tdx_module_status, ATTEST_TCB_UP_TO_DATE);
	attest_verdict_clear(&v);

	/* The module's level OutOfDate converges (its id matched without regard to case). */
	pki_collateral_tdx(&k, levels,
			   MODULE("TDX_03", 1, "UpToDate") "," MODULE("tdx_01", 6, "OutOfDate"));
	struct outcome o2 = { ATTEST_TCB_OUT_OF_DATE, ATTEST_TCB_SW_HARDENING_NEEDED,
			      ATTEST_TCB_UP_TO_DATE, none };
	expect_outcome(&k, &o2);

	pki_collateral_tdx(&k, levels, MODULE("TDX_03", 1, "UpToDate"));
	o = pki_opts(&k);
	expect_verify_error(&k.quote, &o, "quote: TCB: the TCB info has no TDX module TDX_01");
	pki_collateral_tdx(&k, levels, MODULE("TDX_01", 7, "UpToDate"));
	o = pki_opts(&k);
	expect_verify_error(&k.quote, &o,
			    "quote: TCB: TDX module TDX_01: ISVSVN 6 is below every level");

	/* No TDX level at or below the TD's. */
	pki_collateral_tdx(&k, hi, MODULE("TDX_01", 4, "UpToDate"));
	o = pki_opts(&k);
	expect_verify_error(&k.quote, &o,
			    "quote: TCB: no level of the TCB info is at or below the TD's "
			    "TEE_TCB_SVN (TCB not supported)");
	/* The SGX quote with TDX collateral. */
	pki_collateral_tdx(&k, levels, MODULE("TDX_01", 4, "UpToDate"));
	resign(&k, DCAP_SGX, NULL);
	o = pki_opts(&k);
	expect_verify_error(&k.quote, &o,
			    "quote: collateral: TCB info is for TDX, the quote is SGX");
	pki_clear(&k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sgx_collateral), cmocka_unit_test(test_tdx_collateral),
		cmocka_unit_test(test_expired),	       cmocka_unit_test(test_other_platform),
		cmocka_unit_test(test_tampered),       cmocka_unit_test(test_pieces_refused),
		cmocka_unit_test(test_schema),	       cmocka_unit_test(test_json_refused),
		cmocka_unit_test(test_load_dir),       cmocka_unit_test(test_levels),
		cmocka_unit_test(test_no_level),       cmocka_unit_test(test_qe_identity),
		cmocka_unit_test(test_qe_prodid),      cmocka_unit_test(test_revoked),
		cmocka_unit_test(test_signer),	       cmocka_unit_test(test_tdx_levels),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
