// SPDX-License-Identifier: Apache-2.0
/* Decoding key files: private keys, certificates, public keys, OpenPGP keyrings. See keys.h. */
#include <string.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include "crypt/keys.h"
#include "util/cleanup.h"

struct pw_state {
	const struct crypt_buf *pass;
	bool asked;
};

/* OpenSSL asks only when the key is encrypted: remember that it did. */
static int pw_cb(char *buf, int size, int rwflag, void *u)
{
	struct pw_state *st = u;

	st->asked = true;
	if (!st->pass || !st->pass->len || st->pass->len > (size_t)size)
		return -1;
	memcpy(buf, st->pass->p, st->pass->len);
	return (int)st->pass->len;
}

static bool is_pem(const struct crypt_buf *d)
{
	return memmem(d->p, d->len, "-----BEGIN ", 11) != NULL;
}

static EVP_PKEY *decode_private(const struct crypt_buf *d, struct pw_state *st)
{
	EVP_PKEY *k = NULL;

	if (is_pem(d)) {
		/* Skips other PEM blocks (a certificate beside the key). */
		BIO *b = BIO_new_mem_buf(d->p, (int)d->len);
		k = b ? PEM_read_bio_PrivateKey_ex(b, NULL, pw_cb, st, NULL, NULL) : NULL;
		BIO_free(b);
	} else {
		/* DER: PKCS#8 (encrypted or not), PKCS#1 RSA or SEC1 EC. */
		OSSL_DECODER_CTX *ctx = OSSL_DECODER_CTX_new_for_pkey(&k, "DER", NULL, NULL,
								      EVP_PKEY_KEYPAIR, NULL, NULL);
		const unsigned char *p = d->p;
		size_t len = d->len;
		if (ctx && OSSL_DECODER_CTX_set_pem_password_cb(ctx, pw_cb, st) == 1)
			OSSL_DECODER_from_data(ctx, &p, &len);
		OSSL_DECODER_CTX_free(ctx);
	}
	ERR_clear_error();
	return k;
}

static int add_certs(struct crypt_keys *keys, const struct crypt_buf *d)
{
	BIO *b = BIO_new_mem_buf(d->p, (int)d->len);
	int n = 0;
	X509 *c;

	if (!b)
		return 0;
	while ((c = is_pem(d) ? PEM_read_bio_X509(b, NULL, NULL, NULL) : d2i_X509_bio(b, NULL))) {
		keys->certs = xreallocarray(keys->certs, keys->n_certs + 1, sizeof(*keys->certs));
		keys->certs[keys->n_certs++] = c;
		n++;
		if (!is_pem(d))
			break;
	}
	BIO_free(b);
	ERR_clear_error();
	return n;
}

static int add_ring(struct crypt_keys *keys, const struct crypt_buf *d,
		    const struct crypt_buf *pass)
{
	keys->rings = xreallocarray(keys->rings, keys->n_rings + 1, sizeof(*keys->rings));
	struct crypt_pgp_keyring *r = &keys->rings[keys->n_rings++];
	memset(r, 0, sizeof(*r));
	crypt_buf_set(&r->data, d->p, d->len);
	if (pass && pass->len)
		crypt_buf_set(&r->pass, pass->p, pass->len);
	return 1;
}

int crypt_keyfile_load(struct crypt_keys *keys, const char *what, const struct crypt_buf *data,
		       const struct crypt_buf *pass, struct cc_error **err)
{
	struct pw_state st = { pass, false };

	if (crypt_pgp_is_secret_keyring(data->p, data->len))
		return add_ring(keys, data, pass);
	EVP_PKEY *k = decode_private(data, &st);
	if (!k && st.asked)
		return cc_error_set(err, 0, "%s: %s", what,
				    pass && pass->len ? "wrong password, or a corrupt key"
						      : "the key is password-protected: give "
							"<path>:pass=<password> (or file=, fd=)");
	if (k && !EVP_PKEY_is_a(k, "RSA") && !EVP_PKEY_is_a(k, "EC")) {
		cc_error_set(err, 0, "%s: a %s key; only RSA and EC keys unwrap layer keys", what,
			     EVP_PKEY_get0_type_name(k));
		EVP_PKEY_free(k);
		return -1;
	}
	int n = 0;
	if (k) {
		keys->pkeys = xreallocarray(keys->pkeys, keys->n_pkeys + 1, sizeof(*keys->pkeys));
		keys->pkeys[keys->n_pkeys++] = k;
		n++;
	}
	return n + add_certs(keys, data);
}

static X509 *decode_cert(const struct crypt_buf *data)
{
	const unsigned char *p = data->p;
	BIO *b = BIO_new_mem_buf(data->p, (int)data->len);
	X509 *c = NULL;

	if (is_pem(data))
		c = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	else
		c = d2i_X509(NULL, &p, (long)data->len);
	BIO_free(b);
	ERR_clear_error();
	return c;
}

EVP_PKEY *crypt_keyfile_public(const char *what, const struct crypt_buf *data,
			       struct cc_error **err)
{
	const unsigned char *p = data->p;
	BIO *b = BIO_new_mem_buf(data->p, (int)data->len);
	EVP_PKEY *k = NULL;

	if (is_pem(data))
		k = b ? PEM_read_bio_PUBKEY(b, NULL, NULL, NULL) : NULL;
	else
		k = d2i_PUBKEY(NULL, &p, (long)data->len);
	BIO_free(b);
	ERR_clear_error();
	if (!k) {
		X509 *c = decode_cert(data);
		if (c)
			k = X509_get_pubkey(c);
		X509_free(c);
	}
	if (!k)
		cc_error_set(err, 0,
			     "%s: not a public key (PEM or DER SubjectPublicKeyInfo) or "
			     "certificate",
			     what);
	return k;
}

X509 *crypt_keyfile_cert(const char *what, const struct crypt_buf *data, struct cc_error **err)
{
	X509 *c = decode_cert(data);

	if (!c) {
		cc_error_set(err, 0, "%s: not an X.509 certificate (PEM or DER)", what);
		return NULL;
	}
	EVP_PKEY *k = X509_get0_pubkey(c);
	if (!k || !EVP_PKEY_is_a(k, "RSA")) {
		cc_error_set(err, 0, "%s: PKCS#7 recipients need an RSA certificate", what);
		X509_free(c);
		return NULL;
	}
	return c;
}
