// SPDX-License-Identifier: Apache-2.0
/* HKDF-SHA-256. See hkdf.h. */
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <string.h>
#include <openssl/params.h>
#include <pthread.h>
#include "util/hkdf.h"

/* HMAC-SHA-256 set up once (the algorithm and the digest fetched, which costs more than a
 * derivation of a few bytes); each HMAC works on a copy of that context (a context is not
 * shared by threads). HKDF is RFC 5869's, over it. */
static EVP_MAC_CTX *hmac_template;
static pthread_once_t hmac_once = PTHREAD_ONCE_INIT;

static void setup_hmac(void)
{
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
	OSSL_PARAM params[2] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
		OSSL_PARAM_construct_end(),
	};
	EVP_MAC_free(mac); /* the context keeps its reference */
	if (ctx && EVP_MAC_CTX_set_params(ctx, params) == 1)
		hmac_template = ctx;
	else
		EVP_MAC_CTX_free(ctx);
}

/* HMAC-SHA-256(key, a || b || c) into out (32 bytes). */
static bool hmac(const void *key, size_t key_len, const void *a, size_t a_len, const void *b,
		 size_t b_len, const void *c, size_t c_len, uint8_t out[32])
{
	static const uint8_t zero[32];
	EVP_MAC_CTX *ctx = hmac_template ? EVP_MAC_CTX_dup(hmac_template) : NULL;
	size_t len = 0;
	bool ok =
	    ctx &&
	    EVP_MAC_init(ctx, key_len ? key : zero, key_len ? key_len : sizeof(zero), NULL) == 1 &&
	    (!a_len || EVP_MAC_update(ctx, a, a_len) == 1) &&
	    (!b_len || EVP_MAC_update(ctx, b, b_len) == 1) &&
	    (!c_len || EVP_MAC_update(ctx, c, c_len) == 1) &&
	    EVP_MAC_final(ctx, out, &len, 32) == 1 && len == 32;
	EVP_MAC_CTX_free(ctx); /* cleanses the key */
	return ok;
}

bool cc_hkdf_sha256(const void *ikm, size_t ikm_len, const void *salt, size_t salt_len,
		    const void *info, size_t info_len, void *out, size_t out_len)
{
	uint8_t prk[32], t[32];
	uint8_t *o = out;
	size_t done = 0, tlen = 0;
	bool ok;

	pthread_once(&hmac_once, setup_hmac);
	if (out_len > 255 * 32)
		return false;
	/* Extract (an empty salt is HashLen zeros), then expand. */
	ok = hmac(salt, salt_len, ikm, ikm_len, NULL, 0, NULL, 0, prk);
	for (uint8_t i = 1; ok && done < out_len; i++) {
		ok = hmac(prk, sizeof(prk), t, tlen, info, info_len, &i, 1, t);
		tlen = sizeof(t);
		size_t n = out_len - done < sizeof(t) ? out_len - done : sizeof(t);
		if (ok)
			memcpy(o + done, t, n);
		done += n;
	}
	explicit_bzero(prk, sizeof(prk));
	explicit_bzero(t, sizeof(t));
	return ok;
}
