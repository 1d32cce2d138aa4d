// SPDX-License-Identifier: Apache-2.0
/* Collateral parsing (see collateral.h): TCB Info and QE Identity through the JSON schema
 * layer, the signatures, issuer chains and CRLs as bytes. Nothing is trusted here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include "attest/collateral.h"
#include "attest/internal.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/strv.h"

/* ---- fields ---- */

/* An integer member in [min, max]; "required" when absent and required. */
static int int_field(const struct cc_json_reader *r, const json_t *o, const char *path,
		     const char *key, int64_t min, int64_t max, bool required, int64_t *out)
{
	bool has = false;
	if (cc_json_int(r, o, path, key, min, max, out, &has) < 0)
		return -1;
	if (!has && required) {
		_cleanup_free_ char *p = cc_json_key_path(path, key);
		return cc_json_fail(r, p, "required");
	}
	return 0;
}

/* A required string member of exactly 2 * len hex digits. */
static int hex_field(const struct cc_json_reader *r, const json_t *o, const char *path,
		     const char *key, uint8_t *out, size_t len)
{
	_cleanup_free_ char *s = NULL;
	if (cc_json_str(r, o, path, key, true, &s) < 0)
		return -1;
	if (!cc_hex_decode(s, out, len)) {
		_cleanup_free_ char *p = cc_json_key_path(path, key);
		return cc_json_fail(r, p, "expected %zu hex digits", 2 * len);
	}
	return 0;
}

static int date_field(const struct cc_json_reader *r, const json_t *o, const char *path,
		      const char *key, time_t *out)
{
	_cleanup_free_ char *s = NULL;
	if (cc_json_str(r, o, path, key, true, &s) < 0)
		return -1;
	if (!attest_time_parse(s, out)) {
		_cleanup_free_ char *p = cc_json_key_path(path, key);
		return cc_json_fail(r, p, "expected a time as YYYY-MM-DDThh:mm:ssZ");
	}
	return 0;
}

static const char *const status_json[] = {
	[ATTEST_TCB_UP_TO_DATE] = "UpToDate",
	[ATTEST_TCB_SW_HARDENING_NEEDED] = "SWHardeningNeeded",
	[ATTEST_TCB_CONFIGURATION_NEEDED] = "ConfigurationNeeded",
	[ATTEST_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED] = "ConfigurationAndSWHardeningNeeded",
	[ATTEST_TCB_OUT_OF_DATE] = "OutOfDate",
	[ATTEST_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED] = "OutOfDateConfigurationNeeded",
	[ATTEST_TCB_REVOKED] = "Revoked",
	[ATTEST_TCB_TD_RELAUNCH_ADVISED] = "TDRelaunchAdvised",
	[ATTEST_TCB_TD_RELAUNCH_ADVISED_CONFIGURATION_NEEDED] =
	    "TDRelaunchAdvisedConfigurationNeeded",
};
#define N_STATUS (sizeof(status_json) / sizeof(status_json[0]))

const char *attest_tcb_status_name(enum attest_tcb_status s)
{
	if (s == ATTEST_TCB_UNKNOWN)
		return "unknown: no collateral";
	if ((size_t)s >= N_STATUS)
		return "invalid";
	return status_json[s];
}

static int status_field(const struct cc_json_reader *r, const json_t *o, const char *path,
			const char *key, enum attest_tcb_status *out)
{
	_cleanup_free_ char *s = NULL;
	if (cc_json_str(r, o, path, key, true, &s) < 0)
		return -1;
	for (size_t i = 1; i < N_STATUS; i++) {
		if (!strcmp(s, status_json[i])) {
			*out = (enum attest_tcb_status)i;
			return 0;
		}
	}
	char shown[CC_SHOWN_BUF]; /* the document chose it */
	cc_shown(s, strlen(s), shown);
	_cleanup_free_ char *p = cc_json_key_path(path, key);
	return cc_json_fail(r, p, "unknown status \"%s\"", shown);
}

/* The elements of a required array member, at most max, each an object. */
static json_t *array_field(const struct cc_json_reader *r, const json_t *o, const char *path,
			   const char *key, size_t min, size_t max, bool required, int *ret)
{
	json_t *a = cc_json_member(r, o, path, key, JSON_ARRAY, required, ret), *e;
	size_t i;
	if (!a)
		return NULL;
	_cleanup_free_ char *p = cc_json_key_path(path, key);
	if (json_array_size(a) < min || json_array_size(a) > max) {
		*ret = cc_json_fail(r, p, "%zu entries, not between %zu and %zu",
				    json_array_size(a), min, max);
		return NULL;
	}
	json_array_foreach (a, i, e) {
		_cleanup_free_ char *ip = cc_json_index_path(p, i);
		if (cc_json_expect(r, e, ip, JSON_OBJECT) < 0) {
			*ret = -1;
			return NULL;
		}
	}
	return a;
}

/* "advisoryIDs", optional: an empty list when absent. */
static int advisories(const struct cc_json_reader *r, const json_t *o, const char *path,
		      char ***out)
{
	if (cc_json_strv(r, o, path, "advisoryIDs", ATTEST_ADVISORIES_MAX, out) < 0)
		return -1;
	if (!*out)
		*out = xcalloc(1, sizeof(char *));
	return 0;
}

/* ---- levels ---- */

/* 16 components {"svn": N, ...} of a v3 level. */
static int components(const struct cc_json_reader *r, const json_t *tcb, const char *path,
		      const char *key, uint8_t out[16])
{
	int ret;
	json_t *a = array_field(r, tcb, path, key, 16, 16, true, &ret);
	if (!a)
		return ret;
	_cleanup_free_ char *p = cc_json_key_path(path, key);
	for (size_t i = 0; i < 16; i++) {
		_cleanup_free_ char *ip = cc_json_index_path(p, i);
		int64_t v;
		if (int_field(r, json_array_get(a, i), ip, "svn", 0, 255, true, &v) < 0)
			return -1;
		out[i] = (uint8_t)v;
	}
	return 0;
}

static int tcb_level(const struct cc_json_reader *r, const json_t *l, const char *path,
		     const struct attest_tcb_info *t, struct attest_tcb_level *out)
{
	int ret;
	int64_t v;
	json_t *tcb = cc_json_member(r, l, path, "tcb", JSON_OBJECT, true, &ret);
	if (!tcb)
		return ret;
	_cleanup_free_ char *tp = cc_json_key_path(path, "tcb");
	if (t->version == 3) {
		if (components(r, tcb, tp, "sgxtcbcomponents", out->sgx_svn) < 0 ||
		    (t->tdx && components(r, tcb, tp, "tdxtcbcomponents", out->tdx_svn) < 0))
			return -1;
	} else {
		for (int i = 0; i < 16; i++) {
			char key[24];
			snprintf(key, sizeof(key), "sgxtcbcomp%02dsvn", i + 1);
			if (int_field(r, tcb, tp, key, 0, 255, true, &v) < 0)
				return -1;
			out->sgx_svn[i] = (uint8_t)v;
		}
	}
	if (int_field(r, tcb, tp, "pcesvn", 0, UINT16_MAX, true, &v) < 0)
		return -1;
	out->pcesvn = (uint16_t)v;
	if (date_field(r, l, path, "tcbDate", &out->tcb_date) < 0 ||
	    status_field(r, l, path, "tcbStatus", &out->status) < 0)
		return -1;
	return advisories(r, l, path, &out->advisory_ids);
}

/* {"tcb": {"isvsvn": N}, "tcbDate", "tcbStatus", "advisoryIDs"} of a QE or TDX module. */
static int isv_levels(const struct cc_json_reader *r, const json_t *o, const char *path,
		      struct attest_isv_level **out, size_t *n)
{
	int ret;
	json_t *a = array_field(r, o, path, "tcbLevels", 1, ATTEST_TCB_LEVELS_MAX, true, &ret);
	if (!a)
		return ret;
	_cleanup_free_ char *p = cc_json_key_path(path, "tcbLevels");
	*out = xcalloc(json_array_size(a), sizeof(**out));
	for (size_t i = 0; i < json_array_size(a); i++) {
		const json_t *l = json_array_get(a, i);
		struct attest_isv_level *lv = &(*out)[i];
		_cleanup_free_ char *ip = cc_json_index_path(p, i);
		_cleanup_free_ char *tp = cc_json_key_path(ip, "tcb");
		int64_t v;
		(*n)++;
		json_t *tcb = cc_json_member(r, l, ip, "tcb", JSON_OBJECT, true, &ret);
		if (!tcb)
			return ret;
		if (int_field(r, tcb, tp, "isvsvn", 0, UINT16_MAX, true, &v) < 0 ||
		    date_field(r, l, ip, "tcbDate", &lv->tcb_date) < 0 ||
		    status_field(r, l, ip, "tcbStatus", &lv->status) < 0 ||
		    advisories(r, l, ip, &lv->advisory_ids) < 0)
			return -1;
		lv->isvsvn = (uint16_t)v;
	}
	return 0;
}

/* ---- TCB Info ---- */

static int tdx_module(const struct cc_json_reader *r, const json_t *m, const char *path,
		      bool identity, struct attest_tdx_module *out)
{
	if (identity) {
		if (cc_json_str(r, m, path, "id", true, &out->id) < 0)
			return -1;
		if (strlen(out->id) > 16) {
			_cleanup_free_ char *p = cc_json_key_path(path, "id");
			return cc_json_fail(r, p, "more than 16 characters");
		}
	}
	if (hex_field(r, m, path, "mrsigner", out->mrsigner, 48) < 0 ||
	    hex_field(r, m, path, "attributes", out->attributes, 8) < 0 ||
	    hex_field(r, m, path, "attributesMask", out->attributes_mask, 8) < 0)
		return -1;
	return identity ? isv_levels(r, m, path, &out->levels, &out->n_levels) : 0;
}

static int tdx_modules(const struct cc_json_reader *r, const json_t *j, struct attest_tcb_info *t)
{
	int ret;
	json_t *m = cc_json_member(r, j, "", "tdxModule", JSON_OBJECT, true, &ret);
	if (!m || tdx_module(r, m, "tdxModule", false, &t->tdx_module) < 0)
		return -1;
	t->has_tdx_module = true;
	json_t *a =
	    array_field(r, j, "", "tdxModuleIdentities", 0, ATTEST_TDX_MODULES_MAX, false, &ret);
	if (!a)
		return ret;
	t->tdx_modules = xcalloc(json_array_size(a) + 1, sizeof(*t->tdx_modules));
	for (size_t i = 0; i < json_array_size(a); i++) {
		_cleanup_free_ char *ip = cc_json_index_path("tdxModuleIdentities", i);
		t->n_tdx_modules++;
		if (tdx_module(r, json_array_get(a, i), ip, true, &t->tdx_modules[i]) < 0)
			return -1;
	}
	return 0;
}

/* id (v3 required, v2 optional), version, the dates and the platform identifiers. */
static int tcb_info_head(const struct cc_json_reader *r, const json_t *j, struct attest_tcb_info *t)
{
	int64_t v = 0;
	_cleanup_free_ char *id = NULL;
	if (int_field(r, j, "", "version", 2, 3, true, &v) < 0)
		return -1;
	t->version = (int)v;
	if (cc_json_str(r, j, "", "id", t->version == 3, &id) < 0)
		return -1;
	if (id && strcmp(id, "SGX") && (t->version == 2 || strcmp(id, "TDX"))) {
		char shown[CC_SHOWN_BUF];
		cc_shown(id, strlen(id), shown);
		return cc_json_fail(r, "id", "\"%s\" is not %s", shown,
				    t->version == 3 ? "SGX or TDX" : "SGX");
	}
	t->tdx = id && !strcmp(id, "TDX");
	if (date_field(r, j, "", "issueDate", &t->issue_date) < 0 ||
	    date_field(r, j, "", "nextUpdate", &t->next_update) < 0 ||
	    hex_field(r, j, "", "fmspc", t->fmspc, 6) < 0 ||
	    hex_field(r, j, "", "pceId", t->pceid, 2) < 0 ||
	    int_field(r, j, "", "tcbType", 0, 0, true, &v) < 0)
		return -1;
	v = 0;
	if (int_field(r, j, "", "tcbEvaluationDataNumber", 0, UINT32_MAX, t->version == 3, &v) < 0)
		return -1;
	t->tcb_evaluation_data_number = (uint32_t)v;
	return 0;
}

static int parse_tcb_info(const char *json, size_t len, struct attest_tcb_info *t,
			  struct cc_error **err)
{
	struct cc_json_reader r = { "TCB info", err };
	int ret;
	_cleanup_json_ json_t *j = cc_json_load_buf("TCB info", json, len, err);
	if (!j || cc_json_expect(&r, j, "", JSON_OBJECT) < 0 || tcb_info_head(&r, j, t) < 0)
		return -1;
	json_t *a = array_field(&r, j, "", "tcbLevels", 1, ATTEST_TCB_LEVELS_MAX, true, &ret);
	if (!a)
		return ret;
	t->levels = xcalloc(json_array_size(a), sizeof(*t->levels));
	for (size_t i = 0; i < json_array_size(a); i++) {
		_cleanup_free_ char *ip = cc_json_index_path("tcbLevels", i);
		t->n_levels++;
		if (tcb_level(&r, json_array_get(a, i), ip, t, &t->levels[i]) < 0)
			return -1;
	}
	return t->tdx ? tdx_modules(&r, j, t) : 0;
}

/* ---- QE Identity ---- */

static int parse_qe_identity(const char *json, size_t len, struct attest_qe_identity *q,
			     struct cc_error **err)
{
	struct cc_json_reader r = { "QE identity", err };
	_cleanup_free_ char *id = NULL;
	uint8_t b4[4];
	int64_t v = 0;
	_cleanup_json_ json_t *j = cc_json_load_buf("QE identity", json, len, err);
	if (!j || cc_json_expect(&r, j, "", JSON_OBJECT) < 0 ||
	    cc_json_str(&r, j, "", "id", true, &id) < 0 ||
	    int_field(&r, j, "", "version", 2, 2, true, &v) < 0)
		return -1;
	if (strlen(id) >= sizeof(q->id))
		return cc_json_fail(&r, "id", "more than %zu characters", sizeof(q->id) - 1);
	strcpy(q->id, id);
	q->version = (int)v;
	if (date_field(&r, j, "", "issueDate", &q->issue_date) < 0 ||
	    date_field(&r, j, "", "nextUpdate", &q->next_update) < 0 ||
	    int_field(&r, j, "", "tcbEvaluationDataNumber", 0, UINT32_MAX, true, &v) < 0)
		return -1;
	q->tcb_evaluation_data_number = (uint32_t)v;
	/* MISCSELECT and its mask are written as numbers, most significant digit first. */
	if (hex_field(&r, j, "", "miscselect", b4, 4) < 0)
		return -1;
	q->miscselect = (uint32_t)b4[0] << 24 | (uint32_t)b4[1] << 16 | b4[2] << 8 | b4[3];
	if (hex_field(&r, j, "", "miscselectMask", b4, 4) < 0)
		return -1;
	q->miscselect_mask = (uint32_t)b4[0] << 24 | (uint32_t)b4[1] << 16 | b4[2] << 8 | b4[3];
	if (hex_field(&r, j, "", "attributes", q->attributes, 16) < 0 ||
	    hex_field(&r, j, "", "attributesMask", q->attributes_mask, 16) < 0 ||
	    hex_field(&r, j, "", "mrsigner", q->mrsigner, 32) < 0 ||
	    int_field(&r, j, "", "isvprodid", 0, UINT16_MAX, true, &v) < 0)
		return -1;
	q->isvprodid = (uint16_t)v;
	return isv_levels(&r, j, "", &q->levels, &q->n_levels);
}

/* ---- the pieces ---- */

static int chain_piece(const char *pem, size_t len, const char *what, X509 **out, size_t *n,
		       struct cc_error **err)
{
	if (!pem)
		return cc_error_set(err, 0, "%s: missing", what);
	if (attest_pem_chain_parse(pem, len, out, ATTEST_ISSUER_CHAIN_MAX, n, err) < 0)
		return cc_error_prefix(err, "%s", what);
	if (!*n)
		return cc_error_set(err, 0, "%s: no certificate", what);
	return 0;
}

static int crl_piece(const uint8_t *der, size_t len, const char *what, X509_CRL **out,
		     struct cc_error **err)
{
	const unsigned char *p = der;
	if (!der)
		return cc_error_set(err, 0, "%s: missing", what);
	*out = len <= INT32_MAX ? d2i_X509_CRL(NULL, &p, (long)len) : NULL;
	ERR_clear_error();
	if (!*out || p != der + len)
		return cc_error_set(err, 0, "%s: not a DER X.509 CRL", what);
	return 0;
}

static int sig_piece(const uint8_t *sig, size_t len, const char *what, uint8_t out[64],
		     struct cc_error **err)
{
	if (!sig)
		return cc_error_set(err, 0, "%s: missing", what);
	if (len != 64)
		return cc_error_set(err, 0, "%s: %zu bytes, not 64 (r and s)", what, len);
	memcpy(out, sig, 64);
	return 0;
}

static char *json_piece(const char *json, size_t len, const char *what, struct cc_error **err)
{
	if (!json) {
		cc_error_set(err, 0, "%s: missing", what);
		return NULL;
	}
	if (len > ATTEST_COLLATERAL_MAX) {
		cc_error_set(err, 0, "%s: %zu bytes, more than %u", what, len,
			     ATTEST_COLLATERAL_MAX);
		return NULL;
	}
	char *copy = xmalloc(len + 1);
	memcpy(copy, json, len);
	copy[len] = '\0';
	return copy;
}

struct attest_collateral *attest_collateral_new(const struct attest_collateral_parts *p,
						struct cc_error **err)
{
	struct attest_collateral *c = xzalloc(sizeof(*c));
	c->tcb_info_json = json_piece(p->tcb_info, p->tcb_info_len, "TCB info", err);
	c->tcb_info_len = p->tcb_info_len;
	c->qe_identity_json =
	    c->tcb_info_json ? json_piece(p->qe_identity, p->qe_identity_len, "QE identity", err)
			     : NULL;
	c->qe_identity_len = p->qe_identity_len;
	if (!c->qe_identity_json ||
	    parse_tcb_info(c->tcb_info_json, c->tcb_info_len, &c->tcb_info, err) < 0 ||
	    parse_qe_identity(c->qe_identity_json, c->qe_identity_len, &c->qe_identity, err) < 0 ||
	    sig_piece(p->tcb_info_sig, p->tcb_info_sig_len, "TCB info signature", c->tcb_info_sig,
		      err) < 0 ||
	    chain_piece(p->tcb_info_chain, p->tcb_info_chain_len, "TCB info issuer chain",
			c->tcb_info_chain, &c->tcb_info_chain_len, err) < 0 ||
	    sig_piece(p->qe_identity_sig, p->qe_identity_sig_len, "QE identity signature",
		      c->qe_identity_sig, err) < 0 ||
	    chain_piece(p->qe_identity_chain, p->qe_identity_chain_len, "QE identity issuer chain",
			c->qe_identity_chain, &c->qe_identity_chain_len, err) < 0 ||
	    crl_piece(p->root_ca_crl, p->root_ca_crl_len, "root CA CRL", &c->root_ca_crl, err) <
		0 ||
	    crl_piece(p->pck_crl, p->pck_crl_len, "PCK CRL", &c->pck_crl, err) < 0 ||
	    (p->pck_crl_chain &&
	     chain_piece(p->pck_crl_chain, p->pck_crl_chain_len, "PCK CRL issuer chain",
			 c->pck_crl_chain, &c->pck_crl_chain_len, err) < 0)) {
		attest_collateral_free(c);
		return NULL;
	}
	return c;
}

/* ---- dcap-qvl's JSON and a directory of files ---- */

/* A required string member of hex digits, decoded (at most max bytes). */
static int hex_blob(const struct cc_json_reader *r, const json_t *o, const char *key, size_t max,
		    uint8_t **out, size_t *len)
{
	_cleanup_free_ char *s = NULL;
	if (cc_json_str(r, o, "", key, true, &s) < 0)
		return -1;
	size_t n = strlen(s) / 2;
	if (strlen(s) % 2 || n > max)
		return cc_json_fail(r, key, "expected an even number of hex digits, at most %zu",
				    2 * max);
	*out = xmalloc(n ? n : 1);
	*len = n;
	if (!cc_hex_decode(s, *out, n))
		return cc_json_fail(r, key, "expected hex digits");
	return 0;
}

/* A required string member, borrowed from o (the reader refused NUL bytes). */
static const char *str_member(const struct cc_json_reader *r, const json_t *o, const char *key,
			      size_t *len)
{
	_cleanup_free_ char *s = NULL;
	if (cc_json_str(r, o, "", key, true, &s) < 0)
		return NULL;
	*len = strlen(s);
	return json_string_value(json_object_get(o, key));
}

struct attest_collateral *attest_collateral_parse_json(const char *buf, size_t len,
						       struct cc_error **err)
{
	struct cc_json_reader r = { "collateral", err };
	struct attest_collateral_parts p = { 0 };
	_cleanup_free_ uint8_t *tcb_sig = NULL, *qe_sig = NULL, *root_crl = NULL, *pck_crl = NULL;
	if (len > ATTEST_COLLATERAL_MAX) {
		cc_error_set(err, 0, "collateral: %zu bytes, more than %u", len,
			     ATTEST_COLLATERAL_MAX);
		return NULL;
	}
	_cleanup_json_ json_t *j = cc_json_load_buf("collateral", buf, len, err);
	if (!j || cc_json_expect(&r, j, "", JSON_OBJECT) < 0 ||
	    !(p.tcb_info = str_member(&r, j, "tcb_info", &p.tcb_info_len)) ||
	    !(p.tcb_info_chain =
		  str_member(&r, j, "tcb_info_issuer_chain", &p.tcb_info_chain_len)) ||
	    !(p.qe_identity = str_member(&r, j, "qe_identity", &p.qe_identity_len)) ||
	    !(p.qe_identity_chain =
		  str_member(&r, j, "qe_identity_issuer_chain", &p.qe_identity_chain_len)) ||
	    !(p.pck_crl_chain = str_member(&r, j, "pck_crl_issuer_chain", &p.pck_crl_chain_len)) ||
	    hex_blob(&r, j, "tcb_info_signature", 64, &tcb_sig, &p.tcb_info_sig_len) < 0 ||
	    hex_blob(&r, j, "qe_identity_signature", 64, &qe_sig, &p.qe_identity_sig_len) < 0 ||
	    hex_blob(&r, j, "root_ca_crl", ATTEST_COLLATERAL_MAX, &root_crl, &p.root_ca_crl_len) <
		0 ||
	    hex_blob(&r, j, "pck_crl", ATTEST_COLLATERAL_MAX, &pck_crl, &p.pck_crl_len) < 0)
		return NULL;
	p.tcb_info_sig = tcb_sig;
	p.qe_identity_sig = qe_sig;
	p.root_ca_crl = root_crl;
	p.pck_crl = pck_crl;
	struct attest_collateral *c = attest_collateral_new(&p, err);
	if (!c)
		cc_error_prefix(err, "collateral");
	return c;
}

/* dir/name into *buf (freed by the caller); absent is fine when optional. */
static int read_piece(const char *dir, const char *name, bool optional, char **buf, size_t *len,
		      struct cc_error **err)
{
	_cleanup_free_ char *path = xasprintf("%s/%s", dir, name);
	if (optional && access(path, F_OK) < 0)
		return 0;
	*buf = cc_read_file(path, ATTEST_COLLATERAL_MAX, len, err);
	return *buf ? 0 : -1;
}

struct attest_collateral *attest_collateral_load_dir(const char *dir, struct cc_error **err)
{
	static const char *const names[] = {
		"tcb_info.json",
		"tcb_info_signature.bin",
		"tcb_info_issuer_chain.pem",
		"qe_identity.json",
		"qe_identity_signature.bin",
		"qe_identity_issuer_chain.pem",
		"root_ca_crl.der",
		"pck_crl.der",
		"pck_crl_issuer_chain.pem",
	};
	char *buf[9] = { 0 };
	size_t len[9] = { 0 };
	struct attest_collateral *c = NULL;
	for (size_t i = 0; i < 9; i++)
		if (read_piece(dir, names[i], i == 8, &buf[i], &len[i], err) < 0)
			goto out;
	struct attest_collateral_parts p = {
		buf[0],
		len[0],
		(uint8_t *)buf[1],
		len[1],
		buf[2],
		len[2],
		buf[3],
		len[3],
		(uint8_t *)buf[4],
		len[4],
		buf[5],
		len[5],
		(uint8_t *)buf[6],
		len[6],
		(uint8_t *)buf[7],
		len[7],
		buf[8],
		len[8],
	};
	c = attest_collateral_new(&p, err);
	if (!c)
		cc_error_prefix(err, "%s", dir);
out:
	for (size_t i = 0; i < 9; i++)
		free(buf[i]);
	return c;
}

/* ---- freeing ---- */

static void isv_levels_free(struct attest_isv_level *l, size_t n)
{
	for (size_t i = 0; i < n; i++)
		cc_strv_free(l[i].advisory_ids);
	free(l);
}

static void tdx_module_clear(struct attest_tdx_module *m)
{
	free(m->id);
	isv_levels_free(m->levels, m->n_levels);
}

void attest_collateral_free(struct attest_collateral *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->tcb_info.n_levels; i++)
		cc_strv_free(c->tcb_info.levels[i].advisory_ids);
	free(c->tcb_info.levels);
	tdx_module_clear(&c->tcb_info.tdx_module);
	for (size_t i = 0; i < c->tcb_info.n_tdx_modules; i++)
		tdx_module_clear(&c->tcb_info.tdx_modules[i]);
	free(c->tcb_info.tdx_modules);
	isv_levels_free(c->qe_identity.levels, c->qe_identity.n_levels);
	for (size_t i = 0; i < ATTEST_ISSUER_CHAIN_MAX; i++) {
		X509_free(c->tcb_info_chain[i]);
		X509_free(c->qe_identity_chain[i]);
		X509_free(c->pck_crl_chain[i]);
	}
	X509_CRL_free(c->root_ca_crl);
	X509_CRL_free(c->pck_crl);
	free(c->tcb_info_json);
	free(c->qe_identity_json);
	free(c);
}
