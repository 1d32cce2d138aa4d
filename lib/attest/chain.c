// SPDX-License-Identifier: Apache-2.0
/* Certificate chains up to the pinned root (internal.h): each link checked here first, so that
 * a failure names the certificate and the step, then OpenSSL's X509_verify_cert as a second
 * opinion on everything else a chain must satisfy (CA flags, key usage, critical extensions). */
#include <string.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include "attest/internal.h"
#include "util/cleanup.h"

static bool signed_by(X509 *x, X509 *issuer)
{
	EVP_PKEY *k = X509_get0_pubkey(issuer);
	bool ok = k && !X509_NAME_cmp(X509_get_issuer_name(x), X509_get_subject_name(issuer)) &&
		  X509_verify(x, k) == 1;
	ERR_clear_error();
	return ok;
}

static int check_links(X509 *const *certs, size_t n, X509 *root, bool top_is_root,
		       struct cc_error **err)
{
	char cn[CC_SHOWN_BUF];
	if (!top_is_root && !signed_by(certs[n - 1], root)) {
		attest_cert_cn(root, cn);
		return cc_error_set(err, 0, "certificate %zu is not signed by the %s", n, cn);
	}
	for (size_t i = n - 1; i-- > 0;) {
		if (signed_by(certs[i], certs[i + 1]))
			continue;
		attest_cert_cn(certs[i + 1], cn);
		return cc_error_set(err, 0, "certificate %zu is not signed by the %s", i + 1, cn);
	}
	return 0;
}

static int check_times(X509 *const *certs, size_t n, time_t now, struct cc_error **err)
{
	char cn[CC_SHOWN_BUF], when[ATTEST_TIME_BUF];
	for (size_t i = 0; i < n; i++) {
		time_t from, to;
		attest_cert_cn(certs[i], cn);
		if (!attest_asn1_time(X509_get0_notBefore(certs[i]), &from) ||
		    !attest_asn1_time(X509_get0_notAfter(certs[i]), &to))
			return cc_error_set(err, 0, "certificate %zu (%s): validity not readable",
					    i + 1, cn);
		if (now < from) {
			attest_time_str(from, when);
			return cc_error_set(err, 0, "certificate %zu (%s) is not valid before %s",
					    i + 1, cn, when);
		}
		if (now >= to) {
			attest_time_str(to, when);
			return cc_error_set(err, 0, "certificate %zu (%s) expired at %s", i + 1, cn,
					    when);
		}
	}
	return 0;
}

/* cert (number i + 1) against the CRL of its issuer among crls. */
static int check_crl(X509 *cert, size_t i, X509 *issuer, time_t now, X509_CRL *const *crls,
		     size_t n_crls, struct cc_error **err)
{
	char cn[CC_SHOWN_BUF], icn[CC_SHOWN_BUF], when[ATTEST_TIME_BUF];
	X509_CRL *crl = NULL;
	time_t from, to;
	X509_REVOKED *rev = NULL;

	attest_cert_cn(issuer, icn);
	for (size_t k = 0; k < n_crls && !crl; k++)
		if (!X509_NAME_cmp(X509_CRL_get_issuer(crls[k]), X509_get_issuer_name(cert)))
			crl = crls[k];
	if (!crl)
		return cc_error_set(err, 0, "certificate %zu: no CRL of the %s given", i + 1, icn);
	EVP_PKEY *k = X509_get0_pubkey(issuer);
	int ok = k && X509_CRL_verify(crl, k) == 1;
	ERR_clear_error();
	if (!ok)
		return cc_error_set(err, 0, "CRL of the %s: signature does not verify", icn);
	if (!attest_asn1_time(X509_CRL_get0_lastUpdate(crl), &from) ||
	    !attest_asn1_time(X509_CRL_get0_nextUpdate(crl), &to))
		return cc_error_set(err, 0, "CRL of the %s: no readable thisUpdate and nextUpdate",
				    icn);
	if (now < from) {
		attest_time_str(from, when);
		return cc_error_set(err, 0, "CRL of the %s is not valid before %s", icn, when);
	}
	if (now >= to) {
		attest_time_str(to, when);
		return cc_error_set(err, 0, "CRL of the %s expired at %s", icn, when);
	}
	if (X509_CRL_get0_by_cert(crl, &rev, cert) == 1) {
		attest_cert_cn(cert, cn);
		return cc_error_set(err, 0, "certificate %zu (%s) is revoked by the CRL of the %s",
				    i + 1, cn, icn);
	}
	ERR_clear_error();
	return 0;
}

/* X509_verify_cert with root as the only trust anchor, at now, with the CRLs when there are. */
static int openssl_agrees(X509 *const *certs, size_t n, X509 *root, time_t now,
			  X509_CRL *const *crls, size_t n_crls, struct cc_error **err)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	STACK_OF(X509) *untrusted = sk_X509_new_null();
	STACK_OF(X509_CRL) *crl_sk = sk_X509_CRL_new_null();
	if (!store || !ctx || !untrusted || !crl_sk || X509_STORE_add_cert(store, root) != 1)
		abort(); /* only allocation fails here */
	for (size_t i = 1; i < n; i++)
		if (!sk_X509_push(untrusted, certs[i]))
			abort();
	for (size_t i = 0; i < n_crls; i++)
		if (!sk_X509_CRL_push(crl_sk, crls[i]))
			abort();
	if (X509_STORE_CTX_init(ctx, store, certs[0], untrusted) != 1)
		abort();
	X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set_time(param, now);
	if (n_crls) {
		X509_STORE_CTX_set0_crls(ctx, crl_sk);
		X509_VERIFY_PARAM_set_flags(param,
					    X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
	}
	int ok = X509_verify_cert(ctx), e = X509_STORE_CTX_get_error(ctx),
	    depth = X509_STORE_CTX_get_error_depth(ctx);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	sk_X509_free(untrusted);  /* the certificates stay the caller's */
	sk_X509_CRL_free(crl_sk); /* so do the CRLs */
	ERR_clear_error();
	if (ok == 1)
		return 0;
	return cc_error_set(err, 0, "certificate %d: %s", depth + 1,
			    X509_verify_cert_error_string(e));
}

int attest_chain_verify(X509 *const *certs, size_t n, X509 *root, time_t now, X509_CRL *const *crls,
			size_t n_crls, struct cc_error **err)
{
	bool top_is_root = !X509_cmp(certs[n - 1], root);
	if (check_links(certs, n, root, top_is_root, err) < 0 ||
	    check_times(certs, n, now, err) < 0)
		return -1;
	if (n_crls) {
		size_t below = top_is_root ? n - 1 : n;
		for (size_t i = 0; i < below; i++)
			if (check_crl(certs[i], i, i + 1 < n ? certs[i + 1] : root, now, crls,
				      n_crls, err) < 0)
				return -1;
	}
	return openssl_agrees(certs, n, root, now, crls, n_crls, err);
}
