// SPDX-License-Identifier: Apache-2.0
/*
 * The attested key broker: cc_kbc, registered with lib/crypt so that key_provider
 * "provider:attestation-agent:cc_kbc::http://HOST:PORT" releases image keys, and kbs:// URIs
 * for the agent's own settings (the signature policy, registries.d). Both go through one KBS
 * client (lib/attest/kbs-client.h): one attestation per agent, whatever the number of layers,
 * images and settings. The evidence is the agent's own enclave's, from the enclave container's
 * attestation service (lib/enclave/in-enclave.h). See docs/agent.md.
 */
#include <pthread.h>
#include <string.h>
#include "agent.h"
#include "attest/kbs-client.h"
#include "crypt/crypt.h"
#include "crypt/kbc.h"
#include "enclave/in-enclave.h"
#include "image/error.h"
#include "util/cleanup.h"
#include "util/log.h"

static struct {
	pthread_mutex_t lock;
	struct attest_kbs *client;
	char *url;
	const char *socket; /* the attestation service; NULL: ENC_ATTEST_SOCKET */
	const char *ca_file;
	unsigned timeout_s;
	bool ra_tls;
} kbs = { .lock = PTHREAD_MUTEX_INITIALIZER };

static int self_evidence(void *ctx, const uint8_t report_data[64], uint8_t **evidence, size_t *len,
			 struct cc_error **err)
{
	(void)ctx;
	return enc_self_evidence(kbs.socket, report_data, evidence, len, err);
}

/* The agent's KBS client for url, made on first use; one KBS per agent. */
static struct attest_kbs *client_for(const char *url, struct cc_error **err)
{
	struct attest_kbs *c = NULL;
	pthread_mutex_lock(&kbs.lock);
	if (kbs.client && strcmp(kbs.url, url) != 0) {
		cc_error_set(err, 0, "KBS %s: this agent already uses KBS %s (one per agent)", url,
			     kbs.url);
	} else if (kbs.client) {
		c = kbs.client;
	} else {
		struct attest_kbs_opts o = { .url = url,
					     .tee = ATTEST_KBS_SIM,
					     .evidence = self_evidence,
					     .ca_file = kbs.ca_file,
					     .timeout_s = kbs.timeout_s,
					     .ra_tls = kbs.ra_tls };
		c = kbs.client = attest_kbs_new(&o, err);
		if (c) {
			kbs.url = xstrdup(url);
			cc_info("%s: keys and kbs:// resources are released by this key broker "
				"after attestation (simulated evidence: this machine has no SGX)%s",
				attest_kbs_name(c),
				kbs.ra_tls ? "; over RA-TLS (the client certificate carries the "
					     "evidence)"
					   : "");
		}
	}
	pthread_mutex_unlock(&kbs.lock);
	return c;
}

/* ---- cc_kbc ---- */

static int cc_create(struct crypt_kbc *k, const struct crypt_kbc_opts *o, struct cc_error **err)
{
	(void)o;
	k->priv = client_for(k->kbs_uri, err);
	return k->priv ? 0 : -1;
}

static int cc_get_resource(struct crypt_kbc *k, const char *uri, struct crypt_buf *out,
			   struct cc_error **err)
{
	_cleanup_free_ char *path = crypt_kbs_resource_path(uri, err);
	return path ? attest_kbs_get_resource(k->priv, path, out, err) : -1;
}

static int cc_decrypt(struct crypt_kbc *k, const struct crypt_kbc_packet *p, struct crypt_buf *out,
		      struct cc_error **err)
{
	_cleanup_wipe_ struct crypt_buf key = { 0 };
	if (cc_get_resource(k, p->kid, &key, err) < 0) {
		/* A KBS that cannot be reached now may answer later: not "no key". */
		if ((*err)->code == ATTEST_KBS_ERR_UNAVAILABLE)
			(*err)->code = CRYPT_ERR_UNAVAILABLE;
		return -1;
	}
	if (key.len != 32)
		return cc_error_set(err, 0, "%s: key %s is %zu bytes, not 32",
				    attest_kbs_name(k->priv), p->kid, key.len);
	return crypt_kbc_cipher(false, p->wrap_type, key.p, &p->iv, p->wrapped.p, p->wrapped.len,
				out, err);
}

static const struct crypt_kbc_ops cc_kbc = {
	.name = "cc_kbc",
	.create = cc_create,
	.decrypt_payload = cc_decrypt,
	.get_resource = cc_get_resource,
};

int agent_kbs_init(const char *attestation_socket, const char *ca_file, unsigned timeout_s,
		   bool ra_tls, struct cc_error **err)
{
	kbs.ra_tls = ra_tls;
	kbs.socket = attestation_socket;
	kbs.ca_file = ca_file;
	kbs.timeout_s = timeout_s;
	return crypt_kbc_register(&cc_kbc, err);
}

void agent_kbs_destroy(void)
{
	attest_kbs_free(kbs.client);
	kbs.client = NULL;
	free(kbs.url);
	kbs.url = NULL;
}

/* ---- kbs:// settings ---- */

bool agent_is_kbs_uri(const char *s)
{
	return s && !strncmp(s, "kbs://", 6);
}

int agent_kbs_check_uri(const char *what, const char *uri, struct cc_error **err)
{
	_cleanup_free_ char *path = crypt_kbs_resource_path(uri, err);
	if (!path)
		return cc_error_prefix(err, "%s", what);
	pthread_mutex_lock(&kbs.lock);
	bool have = kbs.client != NULL;
	pthread_mutex_unlock(&kbs.lock);
	if (!have)
		return cc_error_set(err, 0,
				    "%s %s: kbs:// resources come from the key broker: set "
				    "key_provider to provider:attestation-agent:cc_kbc::<KBS URL>",
				    what, uri);
	return 0;
}

/* The KBS's refusal is the policy's (PERMISSION_DENIED); an unreachable KBS is UNAVAILABLE;
 * a resource that is missing or garbled is a configuration that cannot be used. */
static int classify(struct cc_error **err)
{
	switch ((*err)->code) {
	case ATTEST_KBS_ERR_REFUSED:
		(*err)->code = IMG_ERR_POLICY;
		break;
	case ATTEST_KBS_ERR_UNAVAILABLE:
		(*err)->code = IMG_ERR_UNAVAILABLE;
		break;
	default:
		(*err)->code = IMG_ERR_POLICY_CONFIG;
	}
	return -1;
}

int agent_kbs_resource(const char *uri, struct crypt_buf *out, struct cc_error **err)
{
	pthread_mutex_lock(&kbs.lock);
	struct attest_kbs *c = kbs.client;
	pthread_mutex_unlock(&kbs.lock);
	_cleanup_free_ char *path = crypt_kbs_resource_path(uri, err);
	if (!path)
		return img_error_code(err, IMG_ERR_POLICY_CONFIG);
	if (!c)
		return cc_error_set(err, 0, "%s: no key broker", uri);
	if (attest_kbs_get_resource(c, path, out, err) < 0)
		return classify(err);
	return 0;
}

int agent_kbs_auth_init(struct agent *a, const char *uri, struct cc_error **err)
{
	if (agent_kbs_check_uri("registry credentials", uri, err) < 0)
		return -1;
	a->kbs_auth = xstrdup(uri);
	cc_info("registry credentials: %s, fetched from the key broker at each pull", uri);
	return 0;
}
