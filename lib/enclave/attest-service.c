// SPDX-License-Identifier: Apache-2.0
/*
 * attest.sock, served by the enclave init to the container's own processes: the way an app in
 * Occlum or Gramine asks its library OS (/dev/sgx, /dev/attestation) for its REPORT and its
 * quote. Here the PAL makes the REPORT; for type simulated the init then plays the quoting
 * enclave: it asks the PAL for a REPORT targeted at the simulated quoting enclave and signs it
 * with the machine's simulated attestation key (SIMTEE01, lib/attest/evidence.h). The key was
 * read as root before pivot_root and lives only in this process, which is not dumpable, so
 * the container's processes can neither read the file nor ptrace the init for it.
 */
#include <pthread.h>
#include <string.h>
#include "attest/evidence.h"
#include "attest/local.h"
#include "attest/seal.h"
#include "enclave/attest-service.h"
#include "enclave/enclave.h"
#include "enclave/in-enclave.h"
#include "util/cleanup.h"

static struct {
	struct enc_pal *pal;
	const char *type;
	struct attest_sim_key *key;		      /* type simulated, once loaded */
	char *key_error;			      /* why there is no key */
	uint8_t seal_secret[ATTEST_SEAL_SECRET_SIZE]; /* derived from key: simulated EGETKEY */
	pthread_mutex_t lock; /* one signature at a time on the shared key */
} svc = { .lock = PTHREAD_MUTEX_INITIALIZER };

void enc_attest_service_prepare(struct enc_pal *pal, const char *type)
{
	struct cc_error *err = NULL;
	svc.pal = pal;
	svc.type = type;
	if (strcmp(type, ENC_TYPE_SIMULATED) != 0)
		return;
	svc.key = attest_sim_key_open(NULL, &err);
	if (svc.key && attest_sim_seal_secret(svc.key, svc.seal_secret, &err) < 0) {
		attest_sim_key_free(svc.key);
		svc.key = NULL;
	}
	if (!svc.key) {
		svc.key_error = xstrdup(err->msg);
		cc_error_free(&err);
	}
}

int enc_attest_report_for(struct enc_pal *pal, json_t *req, bool need_data,
			  uint8_t report[PAL_REPORT_SIZE], struct cc_error **err)
{
	uint8_t ti[PAL_TARGETINFO_SIZE];
	memset(report, 0, PAL_REPORT_SIZE);
	/* REPORTDATA sits at offset 320 of the REPORT: the PAL takes it from there. */
	if (enc_msg_hex_field(req, "target_info", ti, sizeof(ti), true, err) < 0 ||
	    enc_msg_hex_field(req, "report_data", report + 320, SGX_REPORT_DATA_SIZE, !need_data,
			      err) < 0)
		return -1;
	return enc_pal_local_report(pal, ti, report, err);
}

static json_t *hex_reply(const char *op, const char *key, const void *data, size_t len)
{
	json_t *msg = json_pack("{s:s}", "op", op);
	enc_msg_set_hex(msg, key, data, len);
	return msg;
}

static json_t *serve_report(json_t *req, struct cc_error **err)
{
	uint8_t report[PAL_REPORT_SIZE];
	if (enc_attest_report_for(svc.pal, req, true, report, err) < 0)
		return NULL;
	return hex_reply("report", "report", report, sizeof(report));
}

/* The enclave's own TARGETINFO, from a REPORT it makes of itself (for any target). */
static json_t *serve_target_info(struct cc_error **err)
{
	uint8_t any[PAL_TARGETINFO_SIZE] = { 0 }, report[PAL_REPORT_SIZE] = { 0 };
	struct sgx_target_info ti;
	if (enc_pal_local_report(svc.pal, any, report, err) < 0)
		return NULL;
	attest_target_info_from_report(report, &ti);
	return hex_reply("target_info", "target_info", &ti, sizeof(ti));
}

static json_t *serve_evidence(json_t *req, struct cc_error **err)
{
	uint8_t report[PAL_REPORT_SIZE] = { 0 }, ev[ATTEST_SIM_EVIDENCE_SIZE];
	struct sgx_target_info qe;
	if (strcmp(svc.type, ENC_TYPE_SIMULATED) != 0) {
		cc_error_set(err, 0,
			     "enclave type %s: hardware quotes come from aesmd, not from the PAL: "
			     "ask for a REPORT for the quoting enclave's TARGETINFO (runectl "
			     "gen-qe-target-info) and quote it with runectl gen-quote",
			     svc.type);
		return NULL;
	}
	if (!svc.key) {
		cc_error_set(err, 0, "no simulated evidence: %s", svc.key_error);
		return NULL;
	}
	attest_sim_qe_target_info(&qe);
	if (enc_msg_hex_field(req, "report_data", report + 320, SGX_REPORT_DATA_SIZE, false, err) <
		0 ||
	    enc_pal_local_report(svc.pal, &qe, report, err) < 0)
		return NULL;
	pthread_mutex_lock(&svc.lock);
	int ret = attest_sim_evidence_make(svc.key, &qe, report, sizeof(report), ev, err);
	pthread_mutex_unlock(&svc.lock);
	if (ret < 0)
		return NULL;
	json_t *msg = hex_reply("evidence", "evidence", ev, sizeof(ev));
	json_object_set_new(msg, "kind", json_string("simulated"));
	return msg;
}

/* The simulated EGETKEY: a sealing key for the enclave's own identity (seal.h). */
static json_t *serve_seal_key(json_t *req, struct cc_error **err)
{
	uint8_t kr[ATTEST_KEYREQUEST_SIZE], any[PAL_TARGETINFO_SIZE] = { 0 },
					    report[PAL_REPORT_SIZE] = { 0 },
					    key[ATTEST_SEAL_KEY_SIZE];
	struct attest_keyrequest r;
	struct attest_sgx_report self;
	if (strcmp(svc.type, ENC_TYPE_SIMULATED) != 0) {
		cc_error_set(err, 0,
			     "enclave type %s: sealing keys come from the CPU (EGETKEY inside the "
			     "enclave), not from the PAL's init",
			     svc.type);
		return NULL;
	}
	if (!svc.key) {
		cc_error_set(err, 0, "no simulated sealing key: %s", svc.key_error);
		return NULL;
	}
	if (enc_msg_hex_field(req, "key_request", kr, sizeof(kr), false, err) < 0 ||
	    attest_keyrequest_decode(kr, sizeof(kr), &r, err) < 0 ||
	    enc_pal_local_report(svc.pal, any, report, err) < 0)
		return NULL;
	attest_sgx_report_decode(report, &self);
	if (attest_sim_egetkey(svc.seal_secret, &self, &r, key, err) < 0)
		return NULL;
	json_t *msg = hex_reply(ENC_SELF_OP_SEAL_KEY, "key", key, sizeof(key));
	explicit_bzero(key, sizeof(key));
	json_object_set_new(msg, "simulated", json_true());
	return msg;
}

void enc_attest_service_serve(struct enc_session *s, json_t *req, int fds[ENC_MSG_MAX_FDS],
			      size_t nfds)
{
	struct cc_error *err = NULL;
	const char *op = json_string_value(json_object_get(req, "op"));
	json_t *reply;
	(void)fds; /* descriptors mean nothing here: the session closes them */
	(void)nfds;
	if (!strcmp(op, ENC_SELF_OP_REPORT)) {
		reply = serve_report(req, &err);
	} else if (!strcmp(op, ENC_SELF_OP_TARGET_INFO)) {
		reply = serve_target_info(&err);
	} else if (!strcmp(op, ENC_SELF_OP_EVIDENCE)) {
		reply = serve_evidence(req, &err);
	} else if (!strcmp(op, ENC_SELF_OP_SEAL_KEY)) {
		reply = serve_seal_key(req, &err);
	} else {
		char shown[CC_SHOWN_BUF];
		cc_shown(op, strlen(op), shown);
		reply =
		    enc_msg_error("%s: unknown request \"%s\" (this socket answers %s, %s, %s "
				  "and %s)",
				  s->svc->name, shown, ENC_SELF_OP_REPORT, ENC_SELF_OP_TARGET_INFO,
				  ENC_SELF_OP_EVIDENCE, ENC_SELF_OP_SEAL_KEY);
	}
	if (!reply) {
		reply = enc_msg_error("%s", err->msg);
		cc_error_free(&err);
	}
	enc_session_reply(s, reply);
}
