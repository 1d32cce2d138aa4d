// SPDX-License-Identifier: Apache-2.0
/* JWE algorithms on OpenSSL 3 primitives. See jwa.h. */
#include <stdlib.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include "crypt/jwa.h"
#include "util/cleanup.h"
#include "util/json.h"

static const struct {
	const char *name;
	enum crypt_jwa_alg alg;
} algs[] = {
	{ "RSA-OAEP", CRYPT_JWA_RSA_OAEP },
	{ "RSA-OAEP-256", CRYPT_JWA_RSA_OAEP_256 },
	{ "ECDH-ES+A128KW", CRYPT_JWA_ECDH_ES_A128KW },
	{ "ECDH-ES+A192KW", CRYPT_JWA_ECDH_ES_A192KW },
	{ "ECDH-ES+A256KW", CRYPT_JWA_ECDH_ES_A256KW },
};

int crypt_jwa_alg_parse(const char *name, enum crypt_jwa_alg *alg)
{
	for (size_t i = 0; i < ARRAY_SIZE(algs); i++)
		if (!strcmp(name, algs[i].name)) {
			*alg = algs[i].alg;
			return 0;
		}
	return -1;
}

const char *crypt_jwa_alg_name(enum crypt_jwa_alg alg)
{
	for (size_t i = 0; i < ARRAY_SIZE(algs); i++)
		if (algs[i].alg == alg)
			return algs[i].name;
	return "?";
}

size_t crypt_jwa_kw_len(enum crypt_jwa_alg alg)
{
	switch (alg) {
	case CRYPT_JWA_ECDH_ES_A128KW:
		return 16;
	case CRYPT_JWA_ECDH_ES_A192KW:
		return 24;
	case CRYPT_JWA_ECDH_ES_A256KW:
		return 32;
	default:
		return 0;
	}
}

size_t crypt_jwa_enc_key_len(const char *enc)
{
	if (!strcmp(enc, "A128GCM"))
		return 16;
	if (!strcmp(enc, "A192GCM"))
		return 24;
	if (!strcmp(enc, "A256GCM"))
		return 32;
	return 0;
}

static const struct crypt_jwa_curve curves[] = {
	{ "P-256", NID_X9_62_prime256v1, 32 },
	{ "P-384", NID_secp384r1, 48 },
	{ "P-521", NID_secp521r1, 66 },
};

const struct crypt_jwa_curve *crypt_jwa_curve_by_crv(const char *crv)
{
	for (size_t i = 0; i < ARRAY_SIZE(curves); i++)
		if (!strcmp(crv, curves[i].crv))
			return &curves[i];
	return NULL;
}

const struct crypt_jwa_curve *crypt_jwa_curve_of(const EVP_PKEY *k)
{
	char group[64];
	size_t len = 0;

	if (!EVP_PKEY_is_a(k, "EC") || EVP_PKEY_get_group_name(k, group, sizeof(group), &len) != 1)
		return NULL;
	int nid = OBJ_txt2nid(group);
	for (size_t i = 0; i < ARRAY_SIZE(curves); i++)
		if (curves[i].nid == nid)
			return &curves[i];
	return NULL;
}

static EVP_PKEY *ec_from_point(const struct crypt_jwa_curve *c, const unsigned char *point,
			       size_t len)
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL, *check = NULL;
	EVP_PKEY *k = NULL;

	if (!bld ||
	    !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, OBJ_nid2sn(c->nid),
					     0) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, len) ||
	    !(params = OSSL_PARAM_BLD_to_param(bld)) ||
	    !(ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) ||
	    EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_PUBLIC_KEY, params) != 1)
		goto out;
	/* Full public-key validation: on the curve, not infinity (P-curves have cofactor 1). */
	if (!(check = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL)) ||
	    EVP_PKEY_public_check(check) != 1) {
		EVP_PKEY_free(k);
		k = NULL;
	}
out:
	EVP_PKEY_CTX_free(check);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	return k;
}

EVP_PKEY *crypt_jwa_ec_from_jwk(const json_t *jwk, const char *what, struct cc_error **err)
{
	const char *kty = NULL, *crv = NULL;
	_cleanup_wipe_ struct crypt_buf x = { 0 }, y = { 0 };

	if (!json_is_object(jwk) ||
	    json_unpack((json_t *)jwk, "{s:s, s:s}", "kty", &kty, "crv", &crv) != 0) {
		cc_error_set(err, 0, "%s: \"epk\" is not an EC JWK with kty and crv", what);
		return NULL;
	}
	const struct crypt_jwa_curve *c = crypt_jwa_curve_by_crv(crv);
	if (strcmp(kty, "EC") != 0 || !c) {
		cc_error_set(err, 0, "%s: \"epk\" is a %s key on \"%s\": only EC P-256/384/521",
			     what, kty, crv);
		return NULL;
	}
	if (crypt_json_b64(jwk, "x", CRYPT_B64_URL, true, what, &x, err) < 0 ||
	    crypt_json_b64(jwk, "y", CRYPT_B64_URL, true, what, &y, err) < 0)
		return NULL;
	if (x.len != c->size || y.len != c->size) {
		cc_error_set(err, 0, "%s: \"epk\" coordinates are not %zu bytes long", what,
			     c->size);
		return NULL;
	}
	unsigned char point[1 + 2 * 66];
	point[0] = 0x04; /* uncompressed */
	memcpy(point + 1, x.p, c->size);
	memcpy(point + 1 + c->size, y.p, c->size);
	EVP_PKEY *k = ec_from_point(c, point, 1 + 2 * c->size);
	if (!k)
		cc_error_set(err, 0, "%s: \"epk\" is not a valid point on %s", what, c->crv);
	return k;
}

static char *coordinate(const EVP_PKEY *k, const char *param, size_t size)
{
	BIGNUM *bn = NULL;
	unsigned char buf[66];
	if (EVP_PKEY_get_bn_param(k, param, &bn) != 1 || BN_bn2binpad(bn, buf, (int)size) < 0)
		abort(); /* only called on keys crypt_jwa_curve_of() accepted */
	BN_free(bn);
	return crypt_b64_encode(buf, size, CRYPT_B64_URL);
}

json_t *crypt_jwa_ec_to_jwk(const EVP_PKEY *k)
{
	const struct crypt_jwa_curve *c = crypt_jwa_curve_of(k);
	if (!c)
		return NULL;
	_cleanup_free_ char *x = coordinate(k, OSSL_PKEY_PARAM_EC_PUB_X, c->size);
	_cleanup_free_ char *y = coordinate(k, OSSL_PKEY_PARAM_EC_PUB_Y, c->size);
	return json_pack("{s:s, s:s, s:s, s:s}", "kty", "EC", "crv", c->crv, "x", x, "y", y);
}

int crypt_jwa_rsa_oaep(EVP_PKEY *k, bool encrypt, bool sha256, const unsigned char *in, size_t len,
		       struct crypt_buf *out)
{
	const EVP_MD *md = sha256 ? EVP_sha256() : EVP_sha1();
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL);
	size_t n = 0;
	int r = -1;

	crypt_buf_wipe(out);
	if (!ctx || !EVP_PKEY_is_a(k, "RSA") ||
	    (encrypt ? EVP_PKEY_encrypt_init(ctx) : EVP_PKEY_decrypt_init(ctx)) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md(ctx, md) != 1 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) != 1)
		goto out;
	n = (size_t)EVP_PKEY_get_size(k);
	out->p = xmalloc(n + 1);
	out->len = n;
	if ((encrypt ? EVP_PKEY_encrypt(ctx, out->p, &n, in, len)
		     : EVP_PKEY_decrypt(ctx, out->p, &n, in, len)) != 1) {
		crypt_buf_wipe(out);
		goto out;
	}
	out->len = n;
	r = 0;
out:
	EVP_PKEY_CTX_free(ctx);
	return r;
}

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/* One round of the Concat KDF is enough: kek_len <= SHA-256's 32 bytes. */
static int concat_kdf(const unsigned char *z, size_t zlen, const char *alg_id,
		      const struct crypt_buf *apu, const struct crypt_buf *apv, unsigned char *kek,
		      size_t kek_len)
{
	unsigned char md[32], be[4];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1;

	put32(be, 1); /* round counter */
	ok = ok && EVP_DigestUpdate(ctx, be, 4) == 1 && EVP_DigestUpdate(ctx, z, zlen) == 1;
	put32(be, (uint32_t)strlen(alg_id));
	ok = ok && EVP_DigestUpdate(ctx, be, 4) == 1 &&
	     EVP_DigestUpdate(ctx, alg_id, strlen(alg_id)) == 1;
	put32(be, (uint32_t)apu->len);
	ok = ok && EVP_DigestUpdate(ctx, be, 4) == 1 &&
	     EVP_DigestUpdate(ctx, apu->p ? apu->p : md, apu->len) == 1;
	put32(be, (uint32_t)apv->len);
	ok = ok && EVP_DigestUpdate(ctx, be, 4) == 1 &&
	     EVP_DigestUpdate(ctx, apv->p ? apv->p : md, apv->len) == 1;
	put32(be, (uint32_t)(kek_len * 8)); /* SuppPubInfo: keydatalen in bits */
	ok = ok && EVP_DigestUpdate(ctx, be, 4) == 1 && EVP_DigestFinal_ex(ctx, md, NULL) == 1;
	EVP_MD_CTX_free(ctx);
	if (ok)
		memcpy(kek, md, kek_len);
	explicit_bzero(md, sizeof(md));
	return ok && kek_len <= sizeof(md) ? 0 : -1;
}

int crypt_jwa_ecdh_kdf(EVP_PKEY *priv, EVP_PKEY *peer, const char *alg_id,
		       const struct crypt_buf *apu, const struct crypt_buf *apv, unsigned char *kek,
		       size_t kek_len)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, priv, NULL);
	unsigned char z[66];
	size_t zlen = sizeof(z);
	int r = -1;

	if (kek_len > 32 || !ctx || EVP_PKEY_derive_init(ctx) != 1 ||
	    EVP_PKEY_derive_set_peer(ctx, peer) != 1 || EVP_PKEY_derive(ctx, z, &zlen) != 1)
		goto out;
	r = concat_kdf(z, zlen, alg_id, apu, apv, kek, kek_len);
out:
	explicit_bzero(z, sizeof(z));
	EVP_PKEY_CTX_free(ctx);
	return r;
}

static const EVP_CIPHER *aes_cipher(size_t key_len, bool wrap)
{
	switch (key_len) {
	case 16:
		return wrap ? EVP_aes_128_wrap() : EVP_aes_128_gcm();
	case 24:
		return wrap ? EVP_aes_192_wrap() : EVP_aes_192_gcm();
	case 32:
		return wrap ? EVP_aes_256_wrap() : EVP_aes_256_gcm();
	default:
		return NULL;
	}
}

int crypt_jwa_aes_kw(bool wrap, const unsigned char *kek, size_t kek_len, const unsigned char *in,
		     size_t len, struct crypt_buf *out)
{
	const EVP_CIPHER *c = aes_cipher(kek_len, true);
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n = 0, fin = 0, r = -1;

	crypt_buf_wipe(out);
	/* RFC 3394 works on 64-bit blocks, at least two of them. */
	if (!c || !ctx || len % 8 || len < (wrap ? 16 : 24) || len > 4096)
		goto out;
	EVP_CIPHER_CTX_set_flags(ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
	out->p = xmalloc(len + 8 + 1);
	if (EVP_CipherInit_ex2(ctx, c, kek, NULL, wrap, NULL) != 1 ||
	    EVP_CipherUpdate(ctx, out->p, &n, in, (int)len) != 1 ||
	    EVP_CipherFinal_ex(ctx, out->p + n, &fin) != 1) {
		out->len = len + 8;
		crypt_buf_wipe(out);
		goto out;
	}
	out->len = (size_t)(n + fin);
	if (out->len != (wrap ? len + 8 : len - 8)) {
		out->len = len + 8;
		crypt_buf_wipe(out);
		goto out;
	}
	r = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	return r;
}

int crypt_jwa_gcm(bool encrypt, const unsigned char *key, size_t key_len, const unsigned char *iv,
		  const void *aad, size_t aad_len, const unsigned char *in, size_t len,
		  unsigned char *tag, struct crypt_buf *out)
{
	const EVP_CIPHER *c = aes_cipher(key_len, false);
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n = 0, fin = 0, r = -1;

	crypt_buf_wipe(out);
	if (!c || !ctx || len > CRYPT_OPTS_MAX * 16 || aad_len > CRYPT_ANNOTATION_MAX * 2)
		goto out;
	out->p = xmalloc(len + 16);
	out->len = len;
	if (EVP_CipherInit_ex2(ctx, c, NULL, NULL, encrypt, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, CRYPT_GCM_IV_LEN, NULL) != 1 ||
	    EVP_CipherInit_ex2(ctx, NULL, key, iv, encrypt, NULL) != 1 ||
	    (aad_len && EVP_CipherUpdate(ctx, NULL, &n, aad, (int)aad_len) != 1) ||
	    EVP_CipherUpdate(ctx, out->p, &n, in, (int)len) != 1)
		goto fail;
	if (!encrypt && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, CRYPT_GCM_TAG_LEN, tag) != 1)
		goto fail;
	if (EVP_CipherFinal_ex(ctx, out->p + n, &fin) != 1 || (size_t)(n + fin) != len)
		goto fail;
	if (encrypt && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, CRYPT_GCM_TAG_LEN, tag) != 1)
		goto fail;
	out->p[len] = 0;
	r = 0;
	goto out;
fail:
	crypt_buf_wipe(out);
out:
	EVP_CIPHER_CTX_free(ctx);
	return r;
}
