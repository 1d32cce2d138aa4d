// SPDX-License-Identifier: Apache-2.0
/* Hex, times and raw ECDSA P-256 for the lib/attest modules (internal.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include "attest/internal.h"
#include "util/cleanup.h"

void attest_time_str(time_t t, char out[ATTEST_TIME_BUF])
{
	struct tm tm;
	if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 0) {
		snprintf(out, ATTEST_TIME_BUF, "(time %lld)", (long long)t);
		return;
	}
	strftime(out, ATTEST_TIME_BUF, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

bool attest_time_parse(const char *s, time_t *out)
{
	/* Digits where the pattern has 'd', the other characters as they are. */
	static const char pattern[] = "dddd-dd-ddTdd:dd:ddZ";
	if (strlen(s) != strlen(pattern))
		return false;
	for (size_t i = 0; pattern[i]; i++)
		if (pattern[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != pattern[i])
			return false;
	struct tm tm = { 0 };
	tm.tm_year = atoi(s) - 1900;
	tm.tm_mon = atoi(s + 5) - 1;
	tm.tm_mday = atoi(s + 8);
	tm.tm_hour = atoi(s + 11);
	tm.tm_min = atoi(s + 14);
	tm.tm_sec = atoi(s + 17);
	struct tm want = tm;
	time_t t = timegm(&tm);
	/* timegm normalises 2025-02-30 into March: such a date is not one. */
	if (tm.tm_year != want.tm_year || tm.tm_mon != want.tm_mon || tm.tm_mday != want.tm_mday ||
	    tm.tm_hour != want.tm_hour || tm.tm_min != want.tm_min || tm.tm_sec != want.tm_sec)
		return false;
	*out = t;
	return true;
}

bool attest_asn1_time(const ASN1_TIME *t, time_t *out)
{
	struct tm tm;
	bool ok = t && ASN1_TIME_to_tm(t, &tm) == 1;
	ERR_clear_error();
	if (ok)
		*out = timegm(&tm);
	return ok;
}

int attest_ecdsa_verify(EVP_PKEY *key, const uint8_t sig[64], const void *msg, size_t len)
{
	if (!EVP_PKEY_is_a(key, "EC"))
		return -1;
	ECDSA_SIG *s = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(sig, 32, NULL), *ss = BN_bin2bn(sig + 32, 32, NULL);
	if (!s || !r || !ss || ECDSA_SIG_set0(s, r, ss) != 1)
		abort(); /* only allocation fails here */
	unsigned char *der = NULL;
	int der_len = i2d_ECDSA_SIG(s, &der);
	ECDSA_SIG_free(s);
	if (der_len <= 0)
		abort();
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx)
		abort();
	int ok = EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 &&
		 EVP_DigestVerify(ctx, der, (size_t)der_len, msg, len) == 1;
	EVP_MD_CTX_free(ctx);
	OPENSSL_free(der);
	ERR_clear_error();
	return ok;
}

EVP_PKEY *attest_p256_key(const uint8_t xy[64])
{
	uint8_t point[65];
	EVP_PKEY *k = NULL;
	point[0] = 0x04; /* uncompressed */
	memcpy(point + 1, xy, 64);
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	if (!bld ||
	    !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point)))
		abort();
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	if (!params || !ctx)
		abort();
	if (EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_PUBLIC_KEY, params) != 1)
		k = NULL;
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	if (k) {
		/* The import decodes the point; the check says it is on the curve. */
		EVP_PKEY_CTX *check = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL);
		if (!check)
			abort();
		if (EVP_PKEY_public_check(check) != 1) {
			EVP_PKEY_free(k);
			k = NULL;
		}
		EVP_PKEY_CTX_free(check);
	}
	ERR_clear_error();
	return k;
}

bool attest_is_p256(EVP_PKEY *k)
{
	char group[80];
	bool yes = k && EVP_PKEY_is_a(k, "EC") &&
		   EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group,
						  sizeof(group), NULL) == 1 &&
		   OBJ_sn2nid(group) == NID_X9_62_prime256v1;
	ERR_clear_error();
	return yes;
}
