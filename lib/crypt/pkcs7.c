// SPDX-License-Identifier: Apache-2.0
/* PKCS#7 EnvelopedData unwrapping and wrapping. See pkcs7.h. */
#include <stdlib.h>
#include <string.h>
#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/rsa.h>
#include "crypt/jwa.h"
#include "crypt/pkcs7.h"
#include "util/cleanup.h"

#define DER_MAX (256u << 10)

/* ---- a minimal DER reader for the Go encoding (definite lengths, low tag numbers) ---- */

struct der {
	const unsigned char *p;
	size_t len;
};

static int der_get(struct der *d, unsigned *tag, struct der *v)
{
	size_t hl = 2, l;

	if (d->len < 2 || (d->p[0] & 0x1f) == 0x1f)
		return -1;
	l = d->p[1];
	if (l & 0x80) {
		size_t nb = l & 0x7f;
		if (nb == 0 || nb > 3 || d->len < 2 + nb)
			return -1;
		l = 0;
		for (size_t i = 0; i < nb; i++)
			l = l << 8 | d->p[2 + i];
		hl += nb;
	}
	if (l > d->len - hl)
		return -1;
	*tag = d->p[0];
	v->p = d->p + hl;
	v->len = l;
	d->p += hl + l;
	d->len -= hl + l;
	return 0;
}

static int der_expect(struct der *d, unsigned tag, struct der *v)
{
	unsigned t;
	return der_get(d, &t, v) == 0 && t == tag ? 0 : -1;
}

static bool der_is(const struct der *v, const unsigned char *bytes, size_t n)
{
	return v->len == n && memcmp(v->p, bytes, n) == 0;
}

static const unsigned char oid_enveloped[] = { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 1, 7, 3 };
static const unsigned char oid_rsa[] = { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 1, 1, 1 };
static const unsigned char oid_aes_gcm[] = { 0x60, 0x86, 0x48, 0x01, 0x65, 3, 4, 1 };

/* AES-GCM content encryption: key length from the OID's last arc (6, 26, 46). */
static size_t gcm_key_len(const struct der *oid)
{
	if (oid->len != sizeof(oid_aes_gcm) + 1 || memcmp(oid->p, oid_aes_gcm, sizeof(oid_aes_gcm)))
		return 0;
	switch (oid->p[sizeof(oid_aes_gcm)]) {
	case 6:
		return 16;
	case 26:
		return 24;
	case 46:
		return 32;
	default:
		return 0;
	}
}

struct go_envelope {
	struct der ris;	  /* the SET of RecipientInfos */
	size_t key_len;	  /* AES-GCM key length */
	struct der nonce; /* 12 bytes */
	size_t icv_len;
	struct crypt_buf content; /* ciphertext || tag */
};

/* GCMParameters ::= SEQUENCE { nonce OCTET STRING, icvLen INTEGER DEFAULT 12 }, standard or
 * wrapped by Go in a primitive [UNIVERSAL 16] (whose nonce tag is not always 0x04 either). */
static int parse_gcm_params(struct der params, struct go_envelope *e)
{
	struct der outer, seq, icv;
	unsigned t;

	if (der_get(&params, &t, &outer) < 0 || params.len || (t != 0x30 && t != 0x10))
		return -1;
	seq = outer;
	if (t == 0x10 && (der_expect(&outer, 0x30, &seq) < 0 || outer.len))
		return -1;
	if (der_get(&seq, &t, &e->nonce) < 0 || (t & 0x3f) != 0x04 ||
	    e->nonce.len != CRYPT_GCM_IV_LEN)
		return -1;
	e->icv_len = 12;
	if (seq.len) {
		if (der_expect(&seq, 0x02, &icv) < 0 || icv.len != 1)
			return -1;
		e->icv_len = icv.p[0];
	}
	return e->icv_len == CRYPT_GCM_TAG_LEN ? 0 : -1;
}

/* encryptedContent [0]: primitive, or constructed around OCTET STRING pieces. */
static int parse_content(struct der *eci, struct go_envelope *e)
{
	struct der c, piece;
	unsigned t;

	if (der_get(eci, &t, &c) < 0)
		return -1;
	if (t == 0x80) {
		crypt_buf_set(&e->content, c.p, c.len);
		return 0;
	}
	if (t != 0xa0)
		return -1;
	while (c.len) {
		if (der_expect(&c, 0x04, &piece) < 0)
			return -1;
		size_t old = e->content.len;
		unsigned char *p = xmalloc(old + piece.len + 1);
		if (old)
			memcpy(p, e->content.p, old);
		memcpy(p + old, piece.p, piece.len);
		crypt_buf_wipe(&e->content);
		e->content.p = p;
		e->content.len = old + piece.len;
	}
	return 0;
}

static int parse_go(const unsigned char *buf, size_t len, struct go_envelope *e)
{
	struct der top = { buf, len }, ci, oid, ex, ed, v, eci, alg, params;
	unsigned t;

	if (der_expect(&top, 0x30, &ci) < 0 || der_expect(&ci, 0x06, &oid) < 0 ||
	    !der_is(&oid, oid_enveloped, sizeof(oid_enveloped)) || der_expect(&ci, 0xa0, &ex) < 0 ||
	    der_expect(&ex, 0x30, &ed) < 0 || der_expect(&ed, 0x02, &v) < 0)
		return -1;
	if (der_get(&ed, &t, &e->ris) < 0)
		return -1;
	if (t == 0xa0 && der_get(&ed, &t, &e->ris) < 0) /* originatorInfo */
		return -1;
	if (t != 0x31 || der_expect(&ed, 0x30, &eci) < 0 || der_expect(&eci, 0x06, &oid) < 0 ||
	    der_expect(&eci, 0x30, &alg) < 0 || der_expect(&alg, 0x06, &oid) < 0)
		return -1;
	e->key_len = gcm_key_len(&oid);
	params = alg;
	if (!e->key_len || parse_gcm_params(params, e) < 0 || parse_content(&eci, e) < 0)
		return -1;
	return e->content.len >= CRYPT_GCM_TAG_LEN ? 0 : -1;
}

/* The DER of IssuerAndSerialNumber for cert, to find its RecipientInfo. */
static int issuer_serial(X509 *cert, struct crypt_buf *out)
{
	unsigned char *name = NULL, *serial = NULL;
	int nl = i2d_X509_NAME(X509_get_issuer_name(cert), &name);
	int sl = i2d_ASN1_INTEGER((ASN1_INTEGER *)X509_get0_serialNumber(cert), &serial);
	int r = -1;

	if (nl > 0 && sl > 0 && nl + sl < 65536) {
		size_t body = (size_t)(nl + sl), hl = body < 128 ? 2 : body < 256 ? 3 : 4;
		out->p = xmalloc(hl + body);
		out->len = hl + body;
		out->p[0] = 0x30;
		if (hl == 2)
			out->p[1] = (unsigned char)body;
		else if (hl == 3)
			out->p[1] = 0x81, out->p[2] = (unsigned char)body;
		else
			out->p[1] = 0x82, out->p[2] = (unsigned char)(body >> 8),
			out->p[3] = (unsigned char)body;
		memcpy(out->p + hl, name, (size_t)nl);
		memcpy(out->p + hl + nl, serial, (size_t)sl);
		r = 0;
	}
	OPENSSL_free(name);
	OPENSSL_free(serial);
	return r;
}

/* The encrypted key of the KeyTransRecipientInfo addressed to cert, if any. */
static int find_recipient(struct der ris, X509 *cert, struct der *ek)
{
	_cleanup_wipe_ struct crypt_buf want = { 0 };
	struct der ri, v, alg, oid;

	if (issuer_serial(cert, &want) < 0)
		return -1;
	while (ris.len) {
		if (der_expect(&ris, 0x30, &ri) < 0)
			return -1;
		if (der_expect(&ri, 0x02, &v) < 0)
			continue;
		const unsigned char *rid = ri.p;
		if (der_expect(&ri, 0x30, &v) < 0 || (size_t)(ri.p - rid) != want.len ||
		    memcmp(rid, want.p, want.len) != 0)
			continue;
		if (der_expect(&ri, 0x30, &alg) < 0 || der_expect(&alg, 0x06, &oid) < 0 ||
		    !der_is(&oid, oid_rsa, sizeof(oid_rsa)) || der_expect(&ri, 0x04, ek) < 0)
			return -1;
		return 0;
	}
	return -1;
}

static int rsa_v15_decrypt(EVP_PKEY *k, const struct der *ek, struct crypt_buf *out)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL);
	size_t n = (size_t)EVP_PKEY_get_size(k);
	int r = -1;

	crypt_buf_wipe(out);
	out->p = xmalloc(n + 1);
	out->len = n;
	if (ctx && EVP_PKEY_decrypt_init(ctx) == 1 &&
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1 &&
	    EVP_PKEY_decrypt(ctx, out->p, &n, ek->p, ek->len) == 1) {
		out->len = n;
		r = 0;
	}
	EVP_PKEY_CTX_free(ctx);
	if (r < 0)
		crypt_buf_wipe(out);
	return r;
}

/* Go's AES-GCM EnvelopedData, which OpenSSL's ASN.1 decoder refuses. */
static int decrypt_go(const unsigned char *der, size_t len, EVP_PKEY *const *keys,
		      X509 *const *certs, size_t n_pairs, struct crypt_buf *plain,
		      struct cc_error **err)
{
	struct go_envelope e = { 0 };
	int r = -1;
	bool addressed = false;

	if (parse_go(der, len, &e) < 0) {
		crypt_buf_wipe(&e.content);
		return cc_error_set(err, 0, "PKCS#7: not an EnvelopedData that can be decoded");
	}
	for (size_t i = 0; i < n_pairs && r < 0; i++) {
		_cleanup_wipe_ struct crypt_buf cek = { 0 };
		struct der ek;
		if (find_recipient(e.ris, certs[i], &ek) < 0)
			continue;
		addressed = true;
		size_t ct_len = e.content.len - CRYPT_GCM_TAG_LEN;
		if (rsa_v15_decrypt(keys[i], &ek, &cek) == 0 && cek.len == e.key_len)
			r = crypt_jwa_gcm(false, cek.p, cek.len, e.nonce.p, NULL, 0, e.content.p,
					  ct_len, e.content.p + ct_len, plain);
	}
	crypt_buf_wipe(&e.content);
	if (r < 0 && addressed)
		return cc_error_set(err, 0,
				    "PKCS#7: the recipient's key does not decrypt the "
				    "content (wrong key or tampered data)");
	if (r < 0)
		return cc_error_set(err, 0,
				    "PKCS#7: no recipient matches the given certificate(s)");
	return 0;
}

static int decrypt_cms(CMS_ContentInfo *cms, EVP_PKEY *const *keys, X509 *const *certs,
		       size_t n_pairs, struct crypt_buf *plain, struct cc_error **err)
{
	char e[256] = "";

	if (OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_enveloped)
		return cc_error_set(err, 0, "PKCS#7: not EnvelopedData");
	for (size_t i = 0; i < n_pairs; i++) {
		/* A secure-heap BIO frees its buffer with OPENSSL_clear_free. */
		BIO *out = BIO_new(BIO_s_secmem());
		if (out && CMS_decrypt(cms, keys[i], certs[i], NULL, out, CMS_BINARY) == 1) {
			BUF_MEM *m = NULL;
			BIO_get_mem_ptr(out, &m);
			if (m->length > CRYPT_OPTS_MAX) {
				BIO_free(out);
				return cc_error_set(err, 0, "PKCS#7: content too large");
			}
			crypt_buf_set(plain, m->data, m->length);
			BIO_free(out);
			return 0;
		}
		crypt_ossl_error(e, sizeof(e));
		BIO_free(out);
	}
	return cc_error_set(err, 0,
			    "PKCS#7: no recipient can be decrypted with the given key "
			    "and certificate (%s)",
			    e);
}

/* Keep the certificates that belong to one of the keys, each with its key. */
static size_t pair_keys(EVP_PKEY *const *keys, size_t n_keys, X509 *const *certs, size_t n_certs,
			EVP_PKEY **pk, X509 **pc)
{
	size_t n = 0;
	for (size_t c = 0; c < n_certs; c++)
		for (size_t k = 0; k < n_keys; k++)
			if (X509_check_private_key(certs[c], keys[k]) == 1) {
				pk[n] = keys[k];
				pc[n++] = certs[c];
				break;
			}
	ERR_clear_error();
	return n;
}

int crypt_pkcs7_decrypt(const unsigned char *der, size_t len, EVP_PKEY *const *keys, size_t n_keys,
			X509 *const *certs, size_t n_certs, struct crypt_buf *plain,
			struct cc_error **err)
{
	if (len > DER_MAX)
		return cc_error_set(err, 0, "PKCS#7: %zu bytes, more than the %u allowed", len,
				    DER_MAX);
	if (n_keys == 0 || n_certs == 0)
		return cc_error_set(err, 0,
				    "PKCS#7 needs a private key and the recipient's "
				    "certificate (given: %zu key%s, %zu certificate%s)",
				    n_keys, n_keys == 1 ? "" : "s", n_certs,
				    n_certs == 1 ? "" : "s");
	_cleanup_free_ EVP_PKEY **pk = xcalloc(n_certs, sizeof(*pk));
	_cleanup_free_ X509 **pc = xcalloc(n_certs, sizeof(*pc));
	size_t n = pair_keys(keys, n_keys, certs, n_certs, pk, pc);
	if (n == 0)
		return cc_error_set(err, 0,
				    "PKCS#7: none of the %zu certificate%s belongs to one "
				    "of the %zu private key%s",
				    n_certs, n_certs == 1 ? "" : "s", n_keys,
				    n_keys == 1 ? "" : "s");
	const unsigned char *p = der;
	CMS_ContentInfo *cms = d2i_CMS_ContentInfo(NULL, &p, (long)len);
	if (!cms) {
		ERR_clear_error();
		return decrypt_go(der, len, pk, pc, n, plain, err);
	}
	int r = decrypt_cms(cms, pk, pc, n, plain, err);
	CMS_ContentInfo_free(cms);
	return r;
}

int crypt_pkcs7_encrypt(X509 *const *certs, size_t n, const void *plain, size_t len,
			struct crypt_buf *der, struct cc_error **err)
{
	STACK_OF(X509) *sk = sk_X509_new_null();
	BIO *in = BIO_new_mem_buf(plain, (int)len);
	CMS_ContentInfo *cms = NULL;
	unsigned char *out = NULL;
	int r = -1, dl;
	char e[256];

	for (size_t i = 0; sk && i < n; i++)
		sk_X509_push(sk, certs[i]);
	if (!sk || !in || n == 0 || len > CRYPT_OPTS_MAX)
		goto out;
	cms = CMS_encrypt(sk, in, EVP_aes_256_cbc(), CMS_BINARY);
	if (!cms || (dl = i2d_CMS_ContentInfo(cms, &out)) <= 0)
		goto out;
	crypt_buf_set(der, out, (size_t)dl);
	r = 0;
out:
	if (r < 0)
		cc_error_set(err, 0, "PKCS#7 encryption failed: %s",
			     crypt_ossl_error(e, sizeof(e)));
	OPENSSL_free(out);
	CMS_ContentInfo_free(cms);
	BIO_free(in);
	sk_X509_free(sk);
	return r;
}
