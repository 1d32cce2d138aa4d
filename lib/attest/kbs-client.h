/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A client of a Key Broker Service speaking the CoCo KBS attestation protocol (RCAR), as the
 * confidential-containers attestation-agent's cc_kbc does:
 *
 *   POST /kbs/v0/auth     {"version":"0.4.0","tee":T,"extra-params":{...}}
 *                         -> {"nonce":N,"extra-params":...} and the cookie kbs-session-id
 *   POST /kbs/v0/attest   {"init-data":null,"runtime-data":{"nonce":N,"tee-pubkey":JWK},
 *                          "tee-evidence":{"primary_evidence":E,"additional_evidence":""}}
 *                         -> {"token":JWT}
 *   GET  /kbs/v0/resource/<repository>/<type>/<tag>
 *                         -> a JWE (flattened JSON) for the TEE key: ECDH-ES+A256KW, A256GCM
 *
 * The TEE key is an ECDH P-256 key pair made for each session; its public JWK and the nonce go
 * into the evidence's report data as kbs-bind.h describes (JCS, SHA-384 unless the KBS chose
 * another hash), so the KBS knows the key it wraps resources to lives in the attested enclave.
 * The private key never leaves this process and is freed (and wiped by OpenSSL) with the
 * session.
 *
 * One attestation per client: the session (cookie) is kept and reused for every resource, and
 * a KBS that forgets it (HTTP 401 on a resource) is attested to once more, once per request.
 * Requests are serialised by a lock, so one client may serve several threads.
 *
 * Evidence comes from the caller (attest_kbs_evidence_fn): a DCAP quote sent as tee "sgx"
 * ({"quote": base64}), or simulated evidence (SIMTEE01, evidence.h) sent as tee "rune-sim"
 * ({"evidence": base64}), a name no real KBS knows, so simulated evidence can never pass as
 * hardware evidence there.
 *
 * Over https:// the connection can be RA-TLS (attest_kbs_opts.ra_tls): the KBS then sees the
 * enclave's evidence in the TLS client certificate before any request, as upstream's EAA key
 * broker client does over rats-tls; the RCAR exchange runs inside that connection as usual.
 *
 * Everything the KBS sends is bounded (1 MiB per answer, a deadline per request) and checked
 * before use. Nonces, cookies, tokens and resources never appear in messages; cookies, tokens
 * and resources are wiped when freed. Plain HTTP is refused unless the KBS is on the loopback
 * interface: a resource is encrypted to the TEE key, but nothing in the protocol authenticates
 * the KBS, so over the network only TLS keeps another host from answering in its name.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "crypt/internal.h"
#include "util/error.h"

#define ATTEST_KBS_ANSWER_MAX (1u << 20) /* bytes of one KBS answer */
#define ATTEST_KBS_TIMEOUT_S 30		 /* default deadline of one request */
#define ATTEST_KBS_TEE_SIM "rune-sim"	 /* the tee name of simulated evidence */

/* What kind of failure an error is, in cc_error.code. */
enum attest_kbs_error {
	ATTEST_KBS_ERR_REFUSED = 3001, /* the KBS refused: attestation (401) or policy (403) */
	ATTEST_KBS_ERR_NOT_FOUND,      /* no such resource (404) */
	ATTEST_KBS_ERR_UNAVAILABLE,    /* cannot connect, no answer in time, HTTP 5xx */
	ATTEST_KBS_ERR_PROTOCOL,       /* an answer that is not what the protocol says */
	ATTEST_KBS_ERR_EVIDENCE,       /* the caller's evidence could not be made */
};

enum attest_kbs_tee {
	ATTEST_KBS_SGX = 1, /* a DCAP quote */
	ATTEST_KBS_SIM,	    /* simulated evidence (SIMTEE01) */
};

/* Evidence binding report_data (64 bytes) into *evidence (malloc'ed, *len bytes). */
typedef int (*attest_kbs_evidence_fn)(void *ctx, const uint8_t report_data[64], uint8_t **evidence,
				      size_t *len, struct cc_error **err);

struct attest_kbs_opts {
	const char *url; /* http://HOST[:PORT] or https://HOST[:PORT], an optional path prefix */
	enum attest_kbs_tee tee;
	attest_kbs_evidence_fn evidence;
	void *evidence_ctx;
	const char *ca_file;	  /* https: the CAs to trust (NULL: the system's) */
	unsigned timeout_s;	  /* each request (0: ATTEST_KBS_TIMEOUT_S) */
	bool insecure_plain_http; /* allow http:// to a host that is not loopback */
	/* RA-TLS (https:// only): present a client certificate carrying this enclave's evidence,
	 * as rats-tls does in mutual mode: a P-256 key made for this client, a self-signed
	 * certificate whose 2.23.133.5.4.9 extension holds evidence (from evidence) binding the
	 * key through its claims (ratls.h). Made on the first request, kept in memory only. */
	bool ra_tls;
};

/* Counters, for tests and benchmarks. */
struct attest_kbs_stats {
	unsigned auths, attestations, resources;
};

struct attest_kbs;

/* A client for the KBS at o->url (nothing is sent yet). Errors start "KBS URL". */
CC_MUST_CHECK struct attest_kbs *attest_kbs_new(const struct attest_kbs_opts *o,
						struct cc_error **err);
/*
 * The resource <repository>/<type>/<tag> (path, each part letters, digits, '.', '_' or '-',
 * not "." or ".."), attesting first unless the session already is. 0 with the plaintext in
 * *out (the caller wipes it), or -1 with one line naming the KBS, the request and why:
 *   "KBS http://127.0.0.1:8080: /attest refused (HTTP 401): AttestationError: <detail>"
 *   "KBS http://127.0.0.1:8080: /resource/default/key/1: no answer within 30 s"
 * and err->code an enum attest_kbs_error.
 */
CC_MUST_CHECK int attest_kbs_get_resource(struct attest_kbs *k, const char *path,
					  struct crypt_buf *out, struct cc_error **err);
/* Attest now unless the session already is (what get_resource does first). */
CC_MUST_CHECK int attest_kbs_attest(struct attest_kbs *k, struct cc_error **err);
void attest_kbs_get_stats(struct attest_kbs *k, struct attest_kbs_stats *s);
/* "KBS <url>", as messages name it. */
const char *attest_kbs_name(const struct attest_kbs *k);
void attest_kbs_free(struct attest_kbs *k);
