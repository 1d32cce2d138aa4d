// SPDX-License-Identifier: Apache-2.0
/* The layer cipher AES_256_CTR_HMAC_SHA256 and its options JSON. See cipher.h. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include "crypt/cipher.h"
#include "crypt/crypt.h"
#include "util/cleanup.h"
#include "util/json.h"

/* ---- options ---- */

static int parse_cipheroptions(struct crypt_opts *o, const json_t *j, const char *what,
			       struct cc_error **err)
{
	json_t *co = json_object_get(j, "cipheroptions");

	if (!co || json_is_null(co))
		return 0;
	if (!json_is_object(co))
		return cc_error_set(err, 0, "%s: \"cipheroptions\" is a %s, not an object", what,
				    cc_json_type_name(co));
	/* The public value wins: it was parsed first, so keep whatever is already set. */
	if (o->nonce.p)
		return 0;
	_cleanup_free_ char *w = xasprintf("%s: cipheroptions", what);
	return crypt_json_b64(co, "nonce", CRYPT_B64_STD, false, w, &o->nonce, err);
}

static int load_object(const char *what, const void *buf, size_t len, json_t **out,
		       struct cc_error **err)
{
	if (len > CRYPT_OPTS_MAX)
		return cc_error_set(err, 0, "%s: %zu bytes, more than the %u allowed", what, len,
				    CRYPT_OPTS_MAX);
	json_t *j = crypt_json_parse(what, buf, len, err);
	if (!j)
		return -1;
	if (!json_is_object(j)) {
		cc_error_set(err, 0, "%s: a %s, not an object", what, cc_json_type_name(j));
		crypt_json_wipe_decrefp(&j);
		return -1;
	}
	*out = j;
	return 0;
}

int crypt_opts_parse_public(struct crypt_opts *o, const void *json, size_t len,
			    struct cc_error **err)
{
	const char *what = "public options";
	_cleanup_json_wipe_ json_t *j = NULL;

	if (len == 0)
		return 0; /* no annotation: empty options, and decryption then lacks an HMAC */
	if (load_object(what, json, len, &j, err) < 0)
		return -1;
	json_t *c = json_object_get(j, "cipher");
	if (c && !json_is_null(c)) {
		if (!json_is_string(c) || json_string_length(c) > 64 ||
		    strlen(json_string_value(c)) != json_string_length(c))
			return cc_error_set(err, 0, "%s: \"cipher\" is not a short string", what);
		free(o->cipher);
		o->cipher = xstrdup(json_string_value(c));
	}
	if (crypt_json_b64(j, "hmac", CRYPT_B64_STD, false, what, &o->hmac, err) < 0)
		return -1;
	return parse_cipheroptions(o, j, what, err);
}

int crypt_opts_parse_private(struct crypt_opts *o, const void *json, size_t len,
			     struct cc_error **err)
{
	const char *what = "private options";
	_cleanup_json_wipe_ json_t *j = NULL;

	if (load_object(what, json, len, &j, err) < 0)
		return -1;
	if (crypt_json_b64(j, "symkey", CRYPT_B64_STD, true, what, &o->symkey, err) < 0)
		return -1;
	json_t *d = json_object_get(j, "digest");
	if (d && !json_is_null(d)) {
		/* Informative only (ocicrypt ignores it too), but keep it printable. */
		if (!json_is_string(d) || json_string_length(d) > 256)
			return cc_error_set(err, 0, "%s: \"digest\" is not a short string", what);
		free(o->digest);
		o->digest = xstrndup(json_string_value(d), json_string_length(d));
	}
	return parse_cipheroptions(o, j, what, err);
}

char *crypt_opts_public_json(const struct crypt_opts *o)
{
	_cleanup_free_ char *hmac = crypt_b64_encode(o->hmac.p, o->hmac.len, CRYPT_B64_STD);
	json_t *j =
	    json_pack("{s:s, s:s, s:{}}", "cipher", o->cipher, "hmac", hmac, "cipheroptions");
	if (!j)
		abort();
	char *s = cc_json_dump(j);
	json_decref(j);
	return s;
}

void crypt_opts_private_json(const struct crypt_opts *o, struct crypt_buf *out)
{
	_cleanup_wipe_str_ char *key = crypt_b64_encode(o->symkey.p, o->symkey.len, CRYPT_B64_STD);
	_cleanup_free_ char *nonce = crypt_b64_encode(o->nonce.p, o->nonce.len, CRYPT_B64_STD);
	/* Field order as ocicrypt writes it: symkey, digest, cipheroptions. */
	_cleanup_json_wipe_ json_t *j =
	    json_pack("{s:s, s:s, s:{s:s}}", "symkey", key, "digest", o->digest ? o->digest : "",
		      "cipheroptions", "nonce", nonce);
	if (!j)
		abort();
	crypt_json_dump_secret(j, out);
}

void crypt_opts_generate(struct crypt_opts *o, const char *digest)
{
	crypt_opts_clear(o);
	o->cipher = xstrdup(CRYPT_CIPHER_AES_CTR_HMAC);
	o->symkey.p = xmalloc(CRYPT_SYMKEY_LEN);
	o->symkey.len = CRYPT_SYMKEY_LEN;
	crypt_random(o->symkey.p, CRYPT_SYMKEY_LEN);
	o->nonce.p = xmalloc(CRYPT_NONCE_LEN);
	o->nonce.len = CRYPT_NONCE_LEN;
	crypt_random(o->nonce.p, CRYPT_NONCE_LEN);
	o->digest = digest ? xstrdup(digest) : NULL;
}

void crypt_opts_clear(struct crypt_opts *o)
{
	free(o->cipher);
	free(o->digest);
	crypt_buf_wipe(&o->hmac);
	crypt_buf_wipe(&o->symkey);
	crypt_buf_wipe(&o->nonce);
	memset(o, 0, sizeof(*o));
}

/* ---- the streaming cipher ---- */

struct crypt_cipher {
	EVP_CIPHER_CTX *ctr;
	EVP_MAC_CTX *mac;
	bool encrypt, done;
	unsigned char expected[CRYPT_HMAC_LEN];
};

static int check_opts(const struct crypt_opts *o, bool encrypt, struct cc_error **err)
{
	if (!o->cipher || !o->cipher[0])
		return cc_error_set(err, 0, "no layer cipher named in the public options");
	if (strcmp(o->cipher, CRYPT_CIPHER_AES_CTR_HMAC) != 0)
		return cc_error_set(err, 0, "unsupported layer cipher \"%s\" (only %s is known)",
				    o->cipher, CRYPT_CIPHER_AES_CTR_HMAC);
	if (o->symkey.len != CRYPT_SYMKEY_LEN)
		return cc_error_set(err, 0, "layer key is %zu bytes, %s needs %d", o->symkey.len,
				    o->cipher, CRYPT_SYMKEY_LEN);
	if (o->nonce.len != CRYPT_NONCE_LEN)
		return cc_error_set(err, 0, "layer nonce is %zu bytes, %s needs %d", o->nonce.len,
				    o->cipher, CRYPT_NONCE_LEN);
	/* ocicrypt refuses a layer without an HMAC ("HMAC is not provided"): without it the
	 * ciphertext would be malleable. */
	if (!encrypt && o->hmac.len == 0)
		return cc_error_set(err, 0, "layer has no HMAC in its public options");
	if (!encrypt && o->hmac.len != CRYPT_HMAC_LEN)
		return cc_error_set(err, 0, "layer HMAC is %zu bytes, not %d", o->hmac.len,
				    CRYPT_HMAC_LEN);
	return 0;
}

static int mac_init(struct crypt_cipher *c, const struct crypt_opts *o)
{
	EVP_MAC *hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
		OSSL_PARAM_construct_end(),
	};
	int ok = hmac && (c->mac = EVP_MAC_CTX_new(hmac)) &&
		 EVP_MAC_init(c->mac, o->symkey.p, o->symkey.len, params) == 1;
	EVP_MAC_free(hmac);
	return ok ? 0 : -1;
}

int crypt_cipher_new(const struct crypt_opts *o, bool encrypt, struct crypt_cipher **out,
		     struct cc_error **err)
{
	if (check_opts(o, encrypt, err) < 0)
		return -1;
	struct crypt_cipher *c = xzalloc(sizeof(*c));
	c->encrypt = encrypt;
	if (!encrypt)
		memcpy(c->expected, o->hmac.p, CRYPT_HMAC_LEN);
	c->ctr = EVP_CIPHER_CTX_new();
	/* CTR is its own inverse: the same keystream XOR for both directions. */
	if (!c->ctr ||
	    EVP_EncryptInit_ex2(c->ctr, EVP_aes_256_ctr(), o->symkey.p, o->nonce.p, NULL) != 1 ||
	    mac_init(c, o) < 0) {
		char e[256];
		cc_error_set(err, 0, "cannot set up %s: %s", o->cipher,
			     crypt_ossl_error(e, sizeof(e)));
		crypt_cipher_free(c);
		return -1;
	}
	*out = c;
	return 0;
}

int crypt_cipher_update(struct crypt_cipher *c, const void *in, size_t n, void *out,
			struct cc_error **err)
{
	const unsigned char *ip = in;
	unsigned char *op = out;

	if (c->done)
		return cc_error_set(err, 0, "layer cipher used after the end of the stream");
	while (n) {
		int chunk = n > (1u << 30) ? 1 << 30 : (int)n, got = 0;
		/* The MAC covers the ciphertext: the input when decrypting, the output when
		 * encrypting. In-place use is fine as long as the MAC sees the right side. */
		if (!c->encrypt && EVP_MAC_update(c->mac, ip, (size_t)chunk) != 1)
			return cc_error_set(err, 0, "layer HMAC computation failed");
		if (EVP_EncryptUpdate(c->ctr, op, &got, ip, chunk) != 1 || got != chunk)
			return cc_error_set(err, 0, "layer AES-CTR transform failed");
		if (c->encrypt && EVP_MAC_update(c->mac, op, (size_t)chunk) != 1)
			return cc_error_set(err, 0, "layer HMAC computation failed");
		ip += chunk;
		op += chunk;
		n -= (size_t)chunk;
	}
	return 0;
}

int crypt_cipher_final(struct crypt_cipher *c, unsigned char mac[CRYPT_HMAC_LEN],
		       struct cc_error **err)
{
	unsigned char got[EVP_MAX_MD_SIZE];
	size_t n = 0;

	if (c->done)
		return cc_error_set(err, 0, "layer cipher finished twice");
	c->done = true;
	if (EVP_MAC_final(c->mac, got, &n, sizeof(got)) != 1 || n != CRYPT_HMAC_LEN)
		return cc_error_set(err, 0, "layer HMAC computation failed");
	if (c->encrypt) {
		memcpy(mac, got, CRYPT_HMAC_LEN);
		return 0;
	}
	if (mac)
		memcpy(mac, got, CRYPT_HMAC_LEN);
	if (CRYPTO_memcmp(got, c->expected, CRYPT_HMAC_LEN) != 0) {
		cc_error_set(err, 0, "layer HMAC mismatch: ciphertext or annotations tampered");
		if (err && *err && !(*err)->code)
			(*err)->code = CRYPT_ERR_HMAC;
		return -1;
	}
	return 0;
}

void crypt_cipher_free(struct crypt_cipher *c)
{
	if (!c)
		return;
	EVP_CIPHER_CTX_free(c->ctr); /* OpenSSL cleanses the expanded key */
	EVP_MAC_CTX_free(c->mac);
	explicit_bzero(c, sizeof(*c));
	free(c);
}
