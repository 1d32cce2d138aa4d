// SPDX-License-Identifier: Apache-2.0
/*
 * runectl verify-quote: offline verification of an Intel DCAP quote (SGX v3/v4, TDX v4) with
 * lib/attest, at a given time, printed as JSON: what the quote says (identity, report_data, the
 * platform), the TCB status when collateral is given, and each step's result.
 *
 * The steps are lib/attest's (attest/verify.h): parse, the PCK chain to the pinned Intel SGX Root
 * CA (with CRLs), the QE report signature, the QE report data's binding of the attestation key,
 * the quote signature, then the collateral (its chains, signatures and windows, the TCB Info's
 * platform, the QE identity, the TCB level). attest_quote_verify stops at the first failure and
 * names it in its message, which is how the failed step is told here.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "attest/verify.h"
#include "runectl.h"
#include "sgx-struct.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"

#define CRLS_MAX 8
#define CRL_MAX (1u << 20)

enum step { S_PARSE, S_CHAIN, S_QE_SIG, S_QE_DATA, S_QUOTE_SIG, S_COLLATERAL, S_COUNT };

static const char *const step_names[S_COUNT] = {
	"parse",	  "pck_chain",	     "qe_report_signature",
	"qe_report_data", "quote_signature", "collateral",
};

/* The step a message of attest_quote_verify comes from (the prefixes verify.h documents);
 * anything else comes from the collateral's steps, or without collateral from the chain's
 * trust anchor. */
static enum step failed_step(const char *msg, bool collateral)
{
	static const struct {
		const char *prefix;
		enum step step;
	} prefixes[] = {
		{ "quote: PCK chain", S_CHAIN },
		{ "quote: CRL ", S_CHAIN },
		{ "quote: more than", S_CHAIN },
		{ "quote: PCK certificate", S_QE_SIG },
		{ "quote: QE report signature", S_QE_SIG },
		{ "quote: QE report data", S_QE_DATA },
		{ "quote: attestation key", S_QUOTE_SIG },
		{ "quote: signature", S_QUOTE_SIG },
	};
	for (size_t i = 0; i < ARRAY_SIZE(prefixes); i++)
		if (!strncmp(msg, prefixes[i].prefix, strlen(prefixes[i].prefix)))
			return prefixes[i].step;
	return collateral ? S_COLLATERAL : S_CHAIN;
}

/* RFC 3339: 2025-07-01T00:00:00Z, with optional fractions of a second and a numeric offset. */
static int parse_time(const char *text, time_t *out)
{
	struct tm tm = { 0 };
	const char *p = strptime(text, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		p = strptime(text, "%Y-%m-%dt%H:%M:%S", &tm);
	if (!p)
		return -1;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -1;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	long offset = 0;
	if ((p[0] == 'Z' || p[0] == 'z') && !p[1]) {
		offset = 0;
	} else if ((p[0] == '+' || p[0] == '-') && strlen(p) == 6 && p[3] == ':') {
		int h = (p[1] - '0') * 10 + (p[2] - '0'), m = (p[4] - '0') * 10 + (p[5] - '0');
		for (int i = 1; i < 6; i++)
			if (i != 3 && (p[i] < '0' || p[i] > '9'))
				return -1;
		if (h > 23 || m > 59)
			return -1;
		offset = (p[0] == '-' ? -1 : 1) * (h * 3600L + m * 60L);
	} else {
		return -1;
	}
	*out = timegm(&tm) - offset;
	return 0;
}

static json_t *time_json(time_t t)
{
	char buf[32];
	struct tm tm;
	if (!gmtime_r(&t, &tm) || !strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm))
		return json_null();
	return json_string(buf);
}

static json_t *hex_json(const uint8_t *b, size_t n)
{
	_cleanup_free_ char *s = rc_hex(b, n);
	return json_string(s);
}

/* Collateral from a directory of files, or from one JSON file as dcap-qvl stores it. */
static struct attest_collateral *load_collateral(const char *path, struct cc_error **err)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		cc_error_errno(err, "--collateral %s", path);
		return NULL;
	}
	if (S_ISDIR(st.st_mode))
		return attest_collateral_load_dir(path, err);
	size_t len;
	_cleanup_free_ char *text = cc_read_file(path, ATTEST_COLLATERAL_MAX, &len, err);
	struct attest_collateral *c = text ? attest_collateral_parse_json(text, len, err) : NULL;
	if (!c)
		cc_error_prefix(err, "--collateral %s", path);
	return c;
}

static json_t *sgx_identity(const struct attest_sgx_report *r)
{
	json_t *j = json_object();
	json_object_set_new(j, "mr_enclave", hex_json(r->mrenclave, 32));
	json_object_set_new(j, "mr_signer", hex_json(r->mrsigner, 32));
	json_object_set_new(j, "isv_prod_id", json_integer(r->isvprodid));
	json_object_set_new(j, "isv_svn", json_integer(r->isvsvn));
	json_object_set_new(j, "config_svn", json_integer(r->configsvn));
	json_object_set_new(j, "misc_select", json_integer(r->miscselect));
	json_object_set_new(j, "attributes", rc_sgx_attributes_json(r->attributes));
	json_object_set_new(j, "config_id", hex_json(r->configid, 64));
	json_object_set_new(j, "isv_ext_prod_id", hex_json(r->isvextprodid, 16));
	json_object_set_new(j, "isv_family_id", hex_json(r->isvfamilyid, 16));
	json_object_set_new(j, "cpu_svn", hex_json(r->cpusvn, 16));
	return j;
}

static json_t *td_identity(const struct attest_td_report *r)
{
	json_t *j = json_object(), *rtmr = json_array();
	json_object_set_new(j, "mr_td", hex_json(r->mrtd, 48));
	json_object_set_new(j, "mr_config_id", hex_json(r->mrconfigid, 48));
	json_object_set_new(j, "mr_owner", hex_json(r->mrowner, 48));
	json_object_set_new(j, "mr_owner_config", hex_json(r->mrownerconfig, 48));
	for (int i = 0; i < 4; i++)
		json_array_append_new(rtmr, hex_json(r->rtmr[i], 48));
	json_object_set_new(j, "rtmr", rtmr);
	json_object_set_new(j, "td_attributes", hex_json(r->tdattributes, 8));
	json_object_set_new(j, "xfam", hex_json(r->xfam, 8));
	json_object_set_new(j, "mr_seam", hex_json(r->mrseam, 48));
	json_object_set_new(j, "tee_tcb_svn", hex_json(r->tee_tcb_svn, 16));
	return j;
}

static json_t *quote_json(const struct attest_quote *q)
{
	bool tdx = q->tee_type == ATTEST_TEE_TDX;
	json_t *j = json_object();
	json_object_set_new(j, "version", json_integer(q->version));
	json_object_set_new(j, "tee", json_string(tdx ? "TDX" : "SGX"));
	json_object_set_new(j, "att_key_type", json_string("ECDSA-P256"));
	if (q->version == 3) {
		json_object_set_new(j, "qe_svn", json_integer(q->qe_svn));
		json_object_set_new(j, "pce_svn", json_integer(q->pce_svn));
	}
	json_object_set_new(j, "size", json_integer((json_int_t)q->raw_len));
	return j;
}

static json_t *platform_json(const struct attest_pck_ext *p)
{
	static const char *const types[] = { "Standard", "Scalable", "Scalable with integrity" };
	json_t *j = json_object();
	json_object_set_new(j, "fmspc", hex_json(p->fmspc, 6));
	json_object_set_new(j, "pce_id", hex_json(p->pceid, 2));
	json_object_set_new(j, "pce_svn", json_integer(p->pcesvn));
	json_object_set_new(j, "tcb_components", hex_json(p->sgx_svn, 16));
	json_object_set_new(j, "cpu_svn", hex_json(p->cpusvn, 16));
	json_object_set_new(j, "sgx_type",
			    p->sgx_type >= 0 && p->sgx_type < 3 ? json_string(types[p->sgx_type])
								: json_null());
	return j;
}

static json_t *tcb_json(const struct attest_verdict *v, bool tdx)
{
	json_t *j = json_object();
	json_object_set_new(j, "status", json_string(attest_tcb_status_name(v->tcb_status)));
	if (v->tcb_status == ATTEST_TCB_UNKNOWN)
		return j;
	json_object_set_new(j, "platform_status",
			    json_string(attest_tcb_status_name(v->platform_status)));
	json_object_set_new(j, "qe_status", json_string(attest_tcb_status_name(v->qe_status)));
	if (tdx && v->tdx_module_status != ATTEST_TCB_UNKNOWN)
		json_object_set_new(j, "tdx_module_status",
				    json_string(attest_tcb_status_name(v->tdx_module_status)));
	json_object_set_new(j, "tcb_date", time_json(v->tcb_date));
	json_t *adv = json_array();
	for (char **a = v->advisory_ids; a && *a; a++)
		json_array_append_new(adv, json_string(*a));
	json_object_set_new(j, "advisory_ids", adv);
	json_object_set_new(j, "tcb_evaluation_data_number",
			    json_integer(v->tcb_evaluation_data_number));
	json_object_set_new(j, "collateral_valid_from", time_json(v->collateral_from));
	json_object_set_new(j, "collateral_valid_until", time_json(v->collateral_until));
	return j;
}

/* Steps before `failed` passed, `failed` failed with msg, the rest were not reached; the
 * collateral step is skipped without collateral. failed == S_COUNT: all passed. */
static json_t *steps_json(enum step failed, const char *msg, bool collateral)
{
	json_t *steps = json_array();
	for (int s = 0; s < S_COUNT; s++) {
		json_t *st = json_object();
		const char *result = (enum step)s < failed    ? "ok"
				     : (enum step)s == failed ? "failed"
							      : "not reached";
		if (s == S_COLLATERAL && !collateral && (enum step)s <= failed)
			result = "skipped: no collateral";
		json_object_set_new(st, "step", json_string(step_names[s]));
		json_object_set_new(st, "result", json_string(result));
		if ((enum step)s == failed)
			json_object_set_new(st, "error", json_string(msg));
		json_array_append_new(steps, st);
	}
	return steps;
}

struct vq_args {
	const char *quote, *collateral, *at;
	const char *crls[CRLS_MAX];
	size_t n_crls;
};

static void vq_parse_args(const struct rc_cmd *cmd, int argc, char **argv, struct vq_args *a)
{
	enum { O_COLLATERAL = RC_OPT_FIRST_FREE, O_AT, O_CRL };
	static const struct option opts[] = {
		{ "collateral", required_argument, NULL, O_COLLATERAL },
		{ "at", required_argument, NULL, O_AT },
		{ "crl", required_argument, NULL, O_CRL },
		{ 0 },
	};
	int c;
	*a = (struct vq_args){ 0 };
	while ((c = rc_getopt(cmd, argc, argv, opts)) != -1) {
		if (c == O_COLLATERAL)
			a->collateral = optarg;
		else if (c == O_AT)
			a->at = optarg;
		else if (c == O_CRL && a->n_crls == CRLS_MAX)
			exit(rc_failf(cmd, "--crl: at most %d", CRLS_MAX));
		else if (c == O_CRL)
			a->crls[a->n_crls++] = optarg;
	}
	rc_require_operands(cmd, argc, argv, 1);
	a->quote = argv[optind];
}

/* Print the result; 0 if the quote verified, else 1 after one line on stderr. */
static int vq_report(const struct rc_cmd *cmd, json_t *j, enum step failed, const char *msg,
		     bool collateral)
{
	json_object_set_new(j, "verified", json_boolean(failed == S_COUNT));
	json_object_set_new(j, "steps", steps_json(failed, msg, collateral));
	if (failed != S_COUNT)
		json_object_set_new(j, "error", json_string(msg));
	_cleanup_free_ char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	printf("%s\n", s);
	fflush(stdout);
	return failed == S_COUNT ? 0 : rc_failf(cmd, "%s", msg);
}

static void crl_data_free(char *(*data)[CRLS_MAX])
{
	for (size_t i = 0; i < CRLS_MAX; i++)
		free((*data)[i]);
}

static int verify_quote_main(int argc, char **argv)
{
	const struct rc_cmd *cmd = &rc_cmd_verify_quote;
	struct cc_error *err = NULL;
	struct vq_args a;
	struct attest_der crls[CRLS_MAX];
	char *crl_data[CRLS_MAX] __attribute__((cleanup(crl_data_free))) = { 0 };
	size_t len;

	vq_parse_args(cmd, argc, argv, &a);
	struct attest_verify_opts o = { .now = time(NULL), .crls = crls, .n_crls = a.n_crls };
	if (a.at && parse_time(a.at, &o.now) < 0)
		return rc_failf(
		    cmd, "--at \"%s\": an RFC 3339 time expected (2025-07-01T00:00:00Z)", a.at);
	for (size_t i = 0; i < a.n_crls; i++) {
		crl_data[i] = cc_read_file(a.crls[i], CRL_MAX, &crls[i].len, &err);
		if (!crl_data[i])
			return rc_fail(cmd, err);
		crls[i].data = crl_data[i];
	}
	_cleanup_attest_collateral_ struct attest_collateral *col =
	    a.collateral ? load_collateral(a.collateral, &err) : NULL;
	if (a.collateral && !col)
		return rc_fail(cmd, err);
	o.collateral = col;
	_cleanup_free_ char *raw = cc_read_file(a.quote, ATTEST_QUOTE_MAX, &len, &err);
	if (!raw)
		return rc_fail(cmd, err);

	_cleanup_json_ json_t *j = json_object();
	json_object_set_new(j, "quote_file", json_string(a.quote));
	json_object_set_new(j, "at", time_json(o.now));
	json_object_set_new(j, "verified", json_false()); /* its place; set at the end */
	_cleanup_attest_quote_ struct attest_quote *q = attest_quote_parse(raw, len, &err);
	if (!q) {
		int r = vq_report(cmd, j, S_PARSE, err->msg, col);
		cc_error_free(&err);
		return r;
	}
	bool tdx = q->tee_type == ATTEST_TEE_TDX;
	json_object_set_new(j, "quote", quote_json(q));
	json_object_set_new(j, "identity", tdx ? td_identity(&q->td) : sgx_identity(&q->enclave));
	json_object_set_new(j, "debug", json_boolean(attest_quote_is_debug(q)));
	json_object_set_new(j, "report_data", hex_json(attest_quote_report_data(q), 64));
	json_object_set_new(j, "platform", platform_json(&q->pck));

	struct attest_verdict v;
	if (attest_quote_verify(q, &o, &v, &err) < 0) {
		attest_verdict_clear(&v);
		int r = vq_report(cmd, j, failed_step(err->msg, col), err->msg, col);
		cc_error_free(&err);
		return r;
	}
	json_object_set_new(j, "crls_checked", json_boolean(v.crls_checked));
	json_object_set_new(j, "tcb", tcb_json(&v, tdx));
	attest_verdict_clear(&v);
	return vq_report(cmd, j, S_COUNT, NULL, col);
}

const struct rc_cmd rc_cmd_verify_quote = {
	"verify-quote",
	"verify a DCAP quote offline (JSON: identity, TCB status, each step)",
	"Verify an Intel DCAP quote (SGX v3/v4, TDX v4) offline: the PCK chain up to the pinned\n"
	"Intel SGX Root CA, the QE report signature and binding, the quote signature and, with\n"
	"collateral, the TCB status; printed as JSON (exit 1 and one line on stderr when it fails)",
	"[options] FILE",
	"   --collateral PATH     Intel's collateral: a directory of its files (tcb_info.json,\n"
	"                         tcb_info_signature.bin, ...) or one JSON file as dcap-qvl "
	"stores\n"
	"                         it; without it the TCB status is unknown\n"
	"   --crl FILE            a DER CRL for the PCK chain (repeatable; with any, every\n"
	"                         certificate below the root needs one)\n"
	"   --at TIME             verify at this RFC 3339 time (default: now)\n",
	verify_quote_main,
};
