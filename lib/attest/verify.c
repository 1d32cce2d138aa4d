// SPDX-License-Identifier: Apache-2.0
/* Quote verification, one function per step (see verify.h). */
#include <string.h>
#include <openssl/err.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include "attest/internal.h"
#include "attest/verify.h"
#include "util/cleanup.h"
#include "util/strv.h"

/* A CRL list is two CRLs (root CA, PCK CA); the bound keeps the lookups trivial. */
#define CRLS_MAX 16

/* The verification's resources, freed at the end whatever happened. */
struct ctx {
	const struct attest_quote *q;
	const struct attest_verify_opts *o;
	struct attest_verdict *v;
	X509 *root;
	X509_CRL *crls[CRLS_MAX];
	size_t n_crls;
};

static void ctx_clear(struct ctx *c)
{
	X509_free(c->root);
	for (size_t i = 0; i < c->n_crls; i++)
		X509_CRL_free(c->crls[i]);
}

static int add_crl(struct ctx *c, const void *der, size_t len, const char *what, size_t i,
		   struct cc_error **err)
{
	if (c->n_crls == CRLS_MAX)
		return cc_error_set(err, 0, "quote: more than %d CRLs", CRLS_MAX);
	const unsigned char *p = der;
	X509_CRL *crl = der && len <= INT32_MAX ? d2i_X509_CRL(NULL, &p, (long)len) : NULL;
	ERR_clear_error();
	if (!crl || p != (const unsigned char *)der + len) {
		X509_CRL_free(crl);
		return cc_error_set(err, 0, "quote: %s %zu: not a DER X.509 CRL", what, i + 1);
	}
	c->crls[c->n_crls++] = crl;
	return 0;
}

static int step_chain(struct ctx *c, struct cc_error **err)
{
	c->root = attest_root_load(c->o->root_der, c->o->root_len, err);
	if (!c->root)
		return cc_error_prefix(err, "quote");
	for (size_t i = 0; i < c->o->n_crls; i++)
		if (add_crl(c, c->o->crls[i].data, c->o->crls[i].len, "CRL", i, err) < 0)
			return -1;
	const struct attest_collateral *col = c->o->collateral;
	if (col) {
		X509_CRL *crls[2] = { col->root_ca_crl, col->pck_crl };
		for (int i = 0; i < 2; i++) {
			if (c->n_crls == CRLS_MAX)
				return cc_error_set(err, 0, "quote: more than %d CRLs", CRLS_MAX);
			if (X509_CRL_up_ref(crls[i]) != 1)
				abort();
			c->crls[c->n_crls++] = crls[i];
		}
	}
	if (attest_chain_verify(c->q->pck_chain, ATTEST_PCK_CHAIN_LEN, c->root, c->o->now, c->crls,
				c->n_crls, err) < 0)
		return cc_error_prefix(err, "quote: PCK chain");
	c->v->crls_checked = c->n_crls > 0;
	return 0;
}

static int step_qe_signature(struct ctx *c, struct cc_error **err)
{
	EVP_PKEY *pck = X509_get0_pubkey(c->q->pck_chain[0]);
	ERR_clear_error();
	if (!attest_is_p256(pck))
		return cc_error_set(err, 0, "quote: PCK certificate: not an ECDSA P-256 key");
	if (attest_ecdsa_verify(pck, c->q->qe_report_sig, c->q->qe_report_body, 384) != 1)
		return cc_error_set(err, 0,
				    "quote: QE report signature does not verify with the PCK key");
	return 0;
}

static int step_qe_binding(struct ctx *c, struct cc_error **err)
{
	static const uint8_t zero[32];
	uint8_t md[SHA256_DIGEST_LENGTH];
	EVP_MD_CTX *h = EVP_MD_CTX_new();
	unsigned int md_len = 0;
	if (!h || EVP_DigestInit_ex(h, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(h, c->q->attest_key, 64) != 1 ||
	    EVP_DigestUpdate(h, c->q->qe_auth, c->q->qe_auth_len) != 1 ||
	    EVP_DigestFinal_ex(h, md, &md_len) != 1)
		abort(); /* only allocation fails here */
	EVP_MD_CTX_free(h);
	const uint8_t *rd = c->q->qe_report.report_data;
	if (memcmp(rd, md, sizeof(md)))
		return cc_error_set(err, 0,
				    "quote: QE report data does not bind the attestation key");
	if (memcmp(rd + 32, zero, sizeof(zero)))
		return cc_error_set(err, 0,
				    "quote: QE report data does not bind the attestation key (its "
				    "last 32 bytes are not zero)");
	return 0;
}

static int step_quote_signature(struct ctx *c, struct cc_error **err)
{
	EVP_PKEY *key = attest_p256_key(c->q->attest_key);
	if (!key)
		return cc_error_set(err, 0, "quote: attestation key is not a P-256 point");
	int ok = attest_ecdsa_verify(key, c->q->signature, c->q->raw, c->q->signed_len);
	EVP_PKEY_free(key);
	if (ok != 1)
		return cc_error_set(err, 0,
				    "quote: signature does not verify with the attestation key");
	return 0;
}

/* Steps 5 to 8, with collateral. */
static int step_collateral(struct ctx *c, struct cc_error **err)
{
	const struct attest_collateral *col = c->o->collateral;
	if (!col)
		return 0;
	if (attest_collateral_check(col, c->root, c->o->now, c->v, err) < 0)
		return cc_error_prefix(err, "quote");
	return attest_tcb_evaluate(c->q, col, c->v, err);
}

int attest_quote_verify(const struct attest_quote *q, const struct attest_verify_opts *o,
			struct attest_verdict *v, struct cc_error **err)
{
	struct ctx c = { .q = q, .o = o, .v = v };
	memset(v, 0, sizeof(*v));
	int r = step_chain(&c, err) < 0 || step_qe_signature(&c, err) < 0 ||
			step_qe_binding(&c, err) < 0 || step_quote_signature(&c, err) < 0 ||
			step_collateral(&c, err) < 0
		    ? -1
		    : 0;
	ctx_clear(&c);
	return r;
}

void attest_verdict_clear(struct attest_verdict *v)
{
	cc_strv_free(v->advisory_ids);
	memset(v, 0, sizeof(*v));
}
