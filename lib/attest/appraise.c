// SPDX-License-Identifier: Apache-2.0
/* The appraisal policy: read strictly from JSON, applied to verified evidence or a checked
 * local REPORT (see appraise.h). */
#include <stdio.h>
#include <string.h>
#include "attest/appraise.h"
#include "attest/internal.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"

#define HEX_ID (2 * 32 + 1)

void attest_policy_init(struct attest_policy *p)
{
	memset(p, 0, sizeof(*p));
	p->tcb_accepted = 1u << ATTEST_TCB_UP_TO_DATE | 1u << ATTEST_TCB_SW_HARDENING_NEEDED;
}

/* ---- reading ---- */

/* A list of 32-byte identities in hex, 1 to ATTEST_POLICY_IDS_MAX of them. */
static int id_list(const struct cc_json_reader *r, const json_t *o, const char *path,
		   const char *key, uint8_t out[][32], size_t *n)
{
	int ret;
	json_t *a = cc_json_member(r, o, path, key, JSON_ARRAY, false, &ret), *e;
	size_t i;
	if (!a)
		return ret;
	_cleanup_free_ char *p = cc_json_key_path(path, key);
	if (json_array_size(a) == 0)
		return cc_json_fail(r, p, "empty: no enclave would match");
	if (json_array_size(a) > ATTEST_POLICY_IDS_MAX)
		return cc_json_fail(r, p, "%zu entries, more than %d", json_array_size(a),
				    ATTEST_POLICY_IDS_MAX);
	json_array_foreach (a, i, e) {
		_cleanup_free_ char *ip = cc_json_index_path(p, i);
		if (cc_json_expect(r, e, ip, JSON_STRING) < 0)
			return -1;
		if (json_string_length(e) != 64 || !cc_hex_decode(json_string_value(e), out[i], 32))
			return cc_json_fail(r, ip, "expected 64 hex digits");
	}
	*n = json_array_size(a);
	return 0;
}

static int read_enclave(const struct cc_json_reader *r, const json_t *root, struct attest_policy *p)
{
	static const char *const keys[] = { "mrenclave",   "mrsigner",	  "isv_prod_id",
					    "min_isv_svn", "allow_debug", NULL };
	int ret;
	int64_t v;
	bool has = false;
	json_t *o = cc_json_member(r, root, "", "enclave", JSON_OBJECT, false, &ret);
	if (!o)
		return ret;
	if (cc_json_known_keys(r, o, "enclave", keys) < 0 ||
	    id_list(r, o, "enclave", "mrenclave", p->mrenclave, &p->n_mrenclave) < 0 ||
	    id_list(r, o, "enclave", "mrsigner", p->mrsigner, &p->n_mrsigner) < 0 ||
	    cc_json_int(r, o, "enclave", "isv_prod_id", 0, UINT16_MAX, &v, &has) < 0)
		return -1;
	if (has) {
		p->has_isv_prod_id = true;
		p->isv_prod_id = (uint16_t)v;
	}
	has = false;
	if (cc_json_int(r, o, "enclave", "min_isv_svn", 0, UINT16_MAX, &v, &has) < 0 ||
	    cc_json_bool(r, o, "enclave", "allow_debug", &p->allow_debug, NULL) < 0)
		return -1;
	if (has)
		p->min_isv_svn = (uint16_t)v;
	return 0;
}

static int tcb_status_named(const char *s, enum attest_tcb_status *out)
{
	for (int i = ATTEST_TCB_UP_TO_DATE;
	     i <= ATTEST_TCB_TD_RELAUNCH_ADVISED_CONFIGURATION_NEEDED; i++) {
		if (!strcmp(s, attest_tcb_status_name((enum attest_tcb_status)i))) {
			*out = (enum attest_tcb_status)i;
			return 0;
		}
	}
	return -1;
}

static int read_tcb(const struct cc_json_reader *r, const json_t *root, struct attest_policy *p)
{
	static const char *const keys[] = { "accepted", "allow_unknown", NULL };
	int ret;
	size_t i;
	json_t *o = cc_json_member(r, root, "", "tcb", JSON_OBJECT, false, &ret), *a, *e;
	if (!o)
		return ret;
	if (cc_json_known_keys(r, o, "tcb", keys) < 0 ||
	    cc_json_bool(r, o, "tcb", "allow_unknown", &p->allow_unknown_tcb, NULL) < 0)
		return -1;
	a = cc_json_member(r, o, "tcb", "accepted", JSON_ARRAY, false, &ret);
	if (!a)
		return ret;
	if (json_array_size(a) == 0)
		return cc_json_fail(r, "tcb.accepted", "empty: no TCB status would be accepted");
	p->tcb_accepted = 0;
	json_array_foreach (a, i, e) {
		_cleanup_free_ char *ip = cc_json_index_path("tcb.accepted", i);
		enum attest_tcb_status s;
		if (cc_json_expect(r, e, ip, JSON_STRING) < 0)
			return -1;
		const char *name = json_string_value(e);
		if (strlen(name) != json_string_length(e) || tcb_status_named(name, &s) < 0) {
			char shown[CC_SHOWN_BUF]; /* the document chose it */
			cc_shown(name, json_string_length(e), shown);
			return cc_json_fail(r, ip, "unknown TCB status \"%s\"", shown);
		}
		p->tcb_accepted |= 1u << s;
	}
	return 0;
}

static int read_report_data(const struct cc_json_reader *r, const json_t *root,
			    struct attest_policy *p)
{
	_cleanup_free_ char *s = NULL;
	if (cc_json_str(r, root, "", "report_data", false, &s) < 0)
		return -1;
	if (!s)
		return 0;
	size_t n = strlen(s);
	memset(p->report_data, 0, sizeof(p->report_data));
	if (n == 0 || n % 2 || n > 2 * sizeof(p->report_data) ||
	    !cc_hex_decode(s, p->report_data, n / 2))
		return cc_json_fail(r, "report_data",
				    "expected 2 to 128 hex digits (1 to 64 bytes, zero-padded)");
	p->has_report_data = true;
	return 0;
}

static int policy_read(const char *name, const char *buf, size_t len, struct attest_policy *p,
		       struct cc_error **err)
{
	static const char *const keys[] = { "insecure_allow_simulated", "enclave", "tcb",
					    "report_data", NULL };
	struct cc_json_reader r = { name, err };
	attest_policy_init(p);
	if (len > ATTEST_POLICY_MAX)
		return cc_error_set(err, 0, "%s: %zu bytes, more than %u", name, len,
				    ATTEST_POLICY_MAX);
	_cleanup_json_ json_t *root = cc_json_load_buf(name, buf, len, err);
	if (!root)
		return -1;
	if (cc_json_known_keys(&r, root, "", keys) < 0 ||
	    cc_json_bool(&r, root, "", "insecure_allow_simulated", &p->insecure_allow_simulated,
			 NULL) < 0 ||
	    read_enclave(&r, root, p) < 0 || read_tcb(&r, root, p) < 0 ||
	    read_report_data(&r, root, p) < 0) {
		attest_policy_init(p); /* nothing half-read is left for a careless caller */
		return -1;
	}
	return 0;
}

int attest_policy_parse(const char *buf, size_t len, struct attest_policy *p, struct cc_error **err)
{
	return policy_read("appraisal policy", buf, len, p, err);
}

int attest_policy_load(const char *path, struct attest_policy *p, struct cc_error **err)
{
	size_t len;
	attest_policy_init(p);
	_cleanup_free_ char *buf = cc_read_file(path, ATTEST_POLICY_MAX + 1, &len, err);
	if (!buf)
		return -1;
	return policy_read(path, buf, len, p, err);
}

/* ---- appraising ---- */

static bool id_listed(const uint8_t (*ids)[32], size_t n, const uint8_t id[32])
{
	for (size_t i = 0; i < n; i++)
		if (!memcmp(ids[i], id, 32))
			return true;
	return false;
}

static int id_refused(const char *what, const uint8_t id[32], size_t n, struct cc_error **err)
{
	char hex[HEX_ID];
	cc_hex_encode(id, 32, hex);
	return cc_error_set(err, 0, "appraisal: %s %s is not among the %zu expected", what, hex, n);
}

/* Every rule but the TCB status. */
static int appraise_enclave(const struct attest_policy *p, const struct attest_sgx_report *e,
			    bool simulated, struct cc_error **err)
{
	if (simulated && !p->insecure_allow_simulated)
		return cc_error_set(
		    err, 0,
		    "appraisal: simulated evidence refused (insecure_allow_simulated is not "
		    "set)");
	if ((e->flags & ATTEST_SGX_FLAG_DEBUG) && !p->allow_debug)
		return cc_error_set(
		    err, 0, "appraisal: debug enclave refused (attributes.flags DEBUG set)");
	if (p->n_mrenclave && !id_listed(p->mrenclave, p->n_mrenclave, e->mrenclave))
		return id_refused("MRENCLAVE", e->mrenclave, p->n_mrenclave, err);
	if (p->n_mrsigner && !id_listed(p->mrsigner, p->n_mrsigner, e->mrsigner))
		return id_refused("MRSIGNER", e->mrsigner, p->n_mrsigner, err);
	if (p->has_isv_prod_id && e->isvprodid != p->isv_prod_id)
		return cc_error_set(err, 0, "appraisal: ISVPRODID %u, expected %u", e->isvprodid,
				    p->isv_prod_id);
	if (e->isvsvn < p->min_isv_svn)
		return cc_error_set(err, 0, "appraisal: ISVSVN %u is below the minimum %u",
				    e->isvsvn, p->min_isv_svn);
	return 0;
}

static int appraise_tcb(const struct attest_policy *p, enum attest_tcb_status s,
			struct cc_error **err)
{
	if (s == ATTEST_TCB_UNKNOWN) {
		if (p->allow_unknown_tcb)
			return 0;
		return cc_error_set(
		    err, 0,
		    "appraisal: TCB status \"%s\" is not accepted (tcb.allow_unknown "
		    "is not set)",
		    attest_tcb_status_name(s));
	}
	if ((unsigned)s < 32 && (p->tcb_accepted & 1u << s))
		return 0;
	char list[512] = "";
	size_t used = 0;
	for (unsigned i = 1; i < 32; i++) {
		if (!(p->tcb_accepted & 1u << i) || used >= sizeof(list))
			continue;
		int n = snprintf(list + used, sizeof(list) - used, "%s%s", used ? ", " : "",
				 attest_tcb_status_name((enum attest_tcb_status)i));
		used += n > 0 ? (size_t)n : 0;
	}
	return cc_error_set(err, 0, "appraisal: TCB status \"%s\" is not accepted (accepted: %s)",
			    attest_tcb_status_name(s), list);
}

static int appraise_report_data(const struct attest_policy *p, const uint8_t rd[64],
				struct cc_error **err)
{
	if (!p->has_report_data || !memcmp(rd, p->report_data, 64))
		return 0;
	char got[2 * 64 + 1], want[2 * 64 + 1];
	cc_hex_encode(rd, 64, got);
	cc_hex_encode(p->report_data, 64, want);
	return cc_error_set(err, 0, "appraisal: report_data %s is not the expected %s", got, want);
}

int attest_appraise(const struct attest_policy *p, const struct attest_evidence_result *r,
		    struct cc_error **err)
{
	bool simulated = r->simulated || r->kind == ATTEST_EVIDENCE_SIMULATED;
	if (appraise_enclave(p, &r->enclave, simulated, err) < 0 ||
	    appraise_tcb(p, r->verdict.tcb_status, err) < 0 ||
	    appraise_report_data(p, r->enclave.report_data, err) < 0)
		return -1;
	return 0;
}

int attest_appraise_local(const struct attest_policy *p, const struct attest_local_peer *peer,
			  struct cc_error **err)
{
	if (appraise_enclave(p, &peer->enclave, peer->simulated, err) < 0 ||
	    appraise_report_data(p, peer->enclave.report_data, err) < 0)
		return -1;
	return 0;
}
