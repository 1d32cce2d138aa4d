// SPDX-License-Identifier: Apache-2.0
/* Steps 5 to 8 of quote verification (verify.h): the collateral's own checks, then the TCB
 * Info and QE Identity against the quote, the TCB level and the converged status. */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include "attest/internal.h"
#include "util/cleanup.h"
#include "util/strv.h"

#define TCB_SIGNING_CN "Intel SGX TCB Signing"

/* ---- step 5: the collateral ---- */

/* A signed collateral object (what: "TCB info", "QE identity"): its chain, signer, signature
 * over the stored bytes and validity window. */
static int check_signed(const char *what, X509 *const *chain, size_t n, X509 *root,
			X509_CRL *root_crl, time_t now, const char *json, size_t len,
			const uint8_t sig[64], time_t issue, time_t next, struct cc_error **err)
{
	char cn[CC_SHOWN_BUF], when[ATTEST_TIME_BUF];
	X509_CRL *crls[1] = { root_crl };
	if (attest_chain_verify(chain, n, root, now, crls, 1, err) < 0)
		return cc_error_prefix(err, "collateral: %s issuer chain", what);
	attest_cert_cn(chain[0], cn);
	if (strcmp(cn, TCB_SIGNING_CN))
		return cc_error_set(err, 0,
				    "collateral: %s issuer chain: certificate 1 is \"%s\", not the "
				    "%s certificate",
				    what, cn, TCB_SIGNING_CN);
	EVP_PKEY *k = X509_get0_pubkey(chain[0]);
	ERR_clear_error();
	if (!attest_is_p256(k) || attest_ecdsa_verify(k, sig, json, len) != 1)
		return cc_error_set(err, 0,
				    "collateral: %s: signature does not verify with the %s key",
				    what, TCB_SIGNING_CN);
	if (now < issue) {
		attest_time_str(issue, when);
		return cc_error_set(err, 0, "collateral: %s is not valid before %s", what, when);
	}
	if (now >= next) {
		attest_time_str(next, when);
		return cc_error_set(err, 0, "collateral: %s expired at %s", what, when);
	}
	return 0;
}

/* The window: the latest start and the earliest end of the collateral's pieces. */
static void window(const struct attest_collateral *c, struct attest_verdict *v)
{
	const struct X509_crl_st *crls[2] = { c->root_ca_crl, c->pck_crl };
	v->collateral_from = c->tcb_info.issue_date > c->qe_identity.issue_date
				 ? c->tcb_info.issue_date
				 : c->qe_identity.issue_date;
	v->collateral_until = c->tcb_info.next_update < c->qe_identity.next_update
				  ? c->tcb_info.next_update
				  : c->qe_identity.next_update;
	for (int i = 0; i < 2; i++) {
		time_t from, until;
		if (attest_asn1_time(X509_CRL_get0_lastUpdate(crls[i]), &from) &&
		    from > v->collateral_from)
			v->collateral_from = from;
		if (attest_asn1_time(X509_CRL_get0_nextUpdate(crls[i]), &until) &&
		    until < v->collateral_until)
			v->collateral_until = until;
	}
}

int attest_collateral_check(const struct attest_collateral *c, X509 *root, time_t now,
			    struct attest_verdict *v, struct cc_error **err)
{
	if (check_signed("TCB info", c->tcb_info_chain, c->tcb_info_chain_len, root, c->root_ca_crl,
			 now, c->tcb_info_json, c->tcb_info_len, c->tcb_info_sig,
			 c->tcb_info.issue_date, c->tcb_info.next_update, err) < 0 ||
	    check_signed("QE identity", c->qe_identity_chain, c->qe_identity_chain_len, root,
			 c->root_ca_crl, now, c->qe_identity_json, c->qe_identity_len,
			 c->qe_identity_sig, c->qe_identity.issue_date, c->qe_identity.next_update,
			 err) < 0)
		return -1;
	if (c->pck_crl_chain_len) {
		X509_CRL *crls[1] = { c->root_ca_crl };
		if (attest_chain_verify(c->pck_crl_chain, c->pck_crl_chain_len, root, now, crls, 1,
					err) < 0)
			return cc_error_prefix(err, "collateral: PCK CRL issuer chain");
	}
	window(c, v);
	v->tcb_evaluation_data_number = c->tcb_info.tcb_evaluation_data_number;
	return 0;
}

/* ---- step 6: the TCB Info is the platform's ---- */

static int match_platform(const struct attest_quote *q, const struct attest_tcb_info *t,
			  struct cc_error **err)
{
	bool tdx = q->tee_type == ATTEST_TEE_TDX;
	char want[13], got[13];
	if (t->tdx != tdx)
		return cc_error_set(err, 0,
				    "quote: collateral: TCB info is for %s, the quote is %s",
				    t->tdx ? "TDX" : "SGX", tdx ? "TDX" : "SGX");
	if (memcmp(t->fmspc, q->pck.fmspc, 6)) {
		cc_hex_encode(t->fmspc, 6, want);
		cc_hex_encode(q->pck.fmspc, 6, got);
		return cc_error_set(err, 0,
				    "quote: collateral: TCB info is for FMSPC %s, the PCK "
				    "certificate's is %s",
				    want, got);
	}
	if (memcmp(t->pceid, q->pck.pceid, 2)) {
		cc_hex_encode(t->pceid, 2, want);
		cc_hex_encode(q->pck.pceid, 2, got);
		return cc_error_set(err, 0,
				    "quote: collateral: TCB info is for PCE-ID %s, the PCK "
				    "certificate's is %s",
				    want, got);
	}
	return 0;
}

/* ---- step 7: the QE ---- */

static int match_qe_bytes(const char *what, const uint8_t *got, const uint8_t *want,
			  const uint8_t *mask, size_t len, struct cc_error **err)
{
	char g[2 * 32 + 1], w[2 * 32 + 1], m[2 * 32 + 1];
	for (size_t i = 0; i < len; i++) {
		if ((got[i] & mask[i]) == (want[i] & mask[i]))
			continue;
		cc_hex_encode(got, len, g);
		cc_hex_encode(want, len, w);
		cc_hex_encode(mask, len, m);
		return cc_error_set(err, 0,
				    "quote: QE identity: %s %s do not match %s under mask %s", what,
				    g, w, m);
	}
	return 0;
}

static int match_qe(const struct attest_quote *q, const struct attest_qe_identity *id,
		    const struct attest_isv_level **level, struct cc_error **err)
{
	static const uint8_t all[32] = { [0 ... 31] = 0xff };
	const struct attest_sgx_report *r = &q->qe_report;
	const char *want_id = q->tee_type == ATTEST_TEE_TDX ? "TD_QE" : "QE";
	char shown[CC_SHOWN_BUF];
	if (strcmp(id->id, want_id)) {
		cc_shown(id->id, strlen(id->id), shown);
		return cc_error_set(
		    err, 0, "quote: collateral: QE identity is \"%s\", %s quote needs %s", shown,
		    q->tee_type == ATTEST_TEE_TDX ? "a TDX" : "an SGX", want_id);
	}
	if ((r->miscselect & id->miscselect_mask) != (id->miscselect & id->miscselect_mask))
		return cc_error_set(err, 0,
				    "quote: QE identity: MISCSELECT 0x%08x does not match 0x%08x "
				    "under mask 0x%08x",
				    r->miscselect, id->miscselect, id->miscselect_mask);
	if (match_qe_bytes("ATTRIBUTES", r->attributes, id->attributes, id->attributes_mask, 16,
			   err) < 0 ||
	    match_qe_bytes("MRSIGNER", r->mrsigner, id->mrsigner, all, 32, err) < 0)
		return -1;
	if (r->isvprodid != id->isvprodid)
		return cc_error_set(err, 0, "quote: QE identity: ISVPRODID %u is not %u",
				    r->isvprodid, id->isvprodid);
	for (size_t i = 0; i < id->n_levels; i++) {
		if (r->isvsvn >= id->levels[i].isvsvn) {
			*level = &id->levels[i];
			return 0;
		}
	}
	return cc_error_set(err, 0, "quote: QE identity: ISVSVN %u is below every TCB level",
			    r->isvsvn);
}

/* ---- step 8: the TCB level ---- */

static bool sgx_at_least(const struct attest_pck_ext *pck, const struct attest_tcb_level *l)
{
	for (int i = 0; i < 16; i++)
		if (pck->sgx_svn[i] < l->sgx_svn[i])
			return false;
	return pck->pcesvn >= l->pcesvn;
}

/* With a TDX module version (byte 1) above 0, bytes 0 and 1 are the module's, judged by its
 * identity rather than here. */
static bool tdx_at_least(const uint8_t tee[16], const struct attest_tcb_level *l)
{
	for (int i = tee[1] ? 2 : 0; i < 16; i++)
		if (tee[i] < l->tdx_svn[i])
			return false;
	return true;
}

static int select_level(const struct attest_quote *q, const struct attest_tcb_info *t,
			const struct attest_tcb_level **level, struct cc_error **err)
{
	bool tdx = q->tee_type == ATTEST_TEE_TDX, sgx_found = false;
	for (size_t i = 0; i < t->n_levels; i++) {
		if (!sgx_at_least(&q->pck, &t->levels[i]))
			continue;
		sgx_found = true;
		if (!tdx || tdx_at_least(q->td.tee_tcb_svn, &t->levels[i])) {
			*level = &t->levels[i];
			return 0;
		}
	}
	if (!sgx_found)
		return cc_error_set(err, 0,
				    "quote: TCB: no level of the TCB info is at or below the PCK "
				    "certificate's TCB (TCB not supported)");
	return cc_error_set(err, 0,
			    "quote: TCB: no level of the TCB info is at or below the TD's "
			    "TEE_TCB_SVN (TCB not supported)");
}

/* The TDX module's identity (tdxModule for version 0, else tdxModuleIdentities' TDX_<version>)
 * matches MRSIGNERSEAM and SEAMATTRIBUTES; for version > 0 its level gives *status. */
static int match_tdx_module(const struct attest_quote *q, const struct attest_tcb_info *t,
			    enum attest_tcb_status *status, const struct attest_isv_level **level,
			    struct cc_error **err)
{
	const struct attest_td_report *td = &q->td;
	const struct attest_tdx_module *m = &t->tdx_module;
	char id[8];
	snprintf(id, sizeof(id), "TDX_%02X", td->tee_tcb_svn[1]);
	if (td->tee_tcb_svn[1]) {
		m = NULL;
		for (size_t i = 0; i < t->n_tdx_modules && !m; i++)
			if (!strcasecmp(t->tdx_modules[i].id, id))
				m = &t->tdx_modules[i];
		if (!m)
			return cc_error_set(err, 0, "quote: TCB: the TCB info has no TDX module %s",
					    id);
	}
	if (memcmp(m->mrsigner, td->mrsignerseam, 48))
		return cc_error_set(err, 0,
				    "quote: TCB: TDX module %s: MRSIGNERSEAM does not match", id);
	for (int i = 0; i < 8; i++)
		if ((td->seamattributes[i] & m->attributes_mask[i]) !=
		    (m->attributes[i] & m->attributes_mask[i]))
			return cc_error_set(
			    err, 0, "quote: TCB: TDX module %s: SEAMATTRIBUTES do not match", id);
	if (!td->tee_tcb_svn[1])
		return 0;
	for (size_t i = 0; i < m->n_levels; i++) {
		if (td->tee_tcb_svn[0] >= m->levels[i].isvsvn) {
			*status = m->levels[i].status;
			*level = &m->levels[i];
			return 0;
		}
	}
	return cc_error_set(err, 0, "quote: TCB: TDX module %s: ISVSVN %u is below every level", id,
			    td->tee_tcb_svn[0]);
}

/* A QE or TDX module status `other` converged into a platform status, as Intel's library
 * does it. */
static enum attest_tcb_status converge(enum attest_tcb_status platform,
				       enum attest_tcb_status other)
{
	if (other == ATTEST_TCB_REVOKED)
		return ATTEST_TCB_REVOKED;
	if (other != ATTEST_TCB_OUT_OF_DATE)
		return platform;
	switch (platform) {
	case ATTEST_TCB_UP_TO_DATE:
	case ATTEST_TCB_SW_HARDENING_NEEDED:
		return ATTEST_TCB_OUT_OF_DATE;
	case ATTEST_TCB_CONFIGURATION_NEEDED:
	case ATTEST_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED:
		return ATTEST_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED;
	default:
		return platform;
	}
}

static void add_advisories(struct attest_verdict *v, char *const *ids)
{
	for (size_t i = 0; ids && ids[i]; i++)
		if (!cc_strv_contains(v->advisory_ids, ids[i]))
			cc_strv_push(&v->advisory_ids, ids[i]);
}

int attest_tcb_evaluate(const struct attest_quote *q, const struct attest_collateral *c,
			struct attest_verdict *v, struct cc_error **err)
{
	const struct attest_isv_level *qe = NULL, *module = NULL;
	const struct attest_tcb_level *level = NULL;
	enum attest_tcb_status module_status = ATTEST_TCB_UNKNOWN;

	if (match_platform(q, &c->tcb_info, err) < 0 ||
	    match_qe(q, &c->qe_identity, &qe, err) < 0 ||
	    select_level(q, &c->tcb_info, &level, err) < 0 ||
	    (q->tee_type == ATTEST_TEE_TDX &&
	     match_tdx_module(q, &c->tcb_info, &module_status, &module, err) < 0))
		return -1;
	v->platform_status = level->status;
	v->qe_status = qe->status;
	v->tdx_module_status = module_status;
	v->tcb_date = level->tcb_date;
	v->tcb_status = converge(converge(level->status, module_status), qe->status);
	v->advisory_ids = xcalloc(1, sizeof(char *));
	add_advisories(v, level->advisory_ids);
	if (module)
		add_advisories(v, module->advisory_ids);
	add_advisories(v, qe->advisory_ids);
	return 0;
}
