// SPDX-License-Identifier: Apache-2.0
/* JWE parsing, decryption and encryption. See jwe.h; the algorithms are in jwa.c. */
#include <stdlib.h>
#include <string.h>
#include <openssl/objects.h>
#include "crypt/jwa.h"
#include "crypt/jwe.h"
#include "util/cleanup.h"
#include "util/json.h"

#define HEADER_MAX (16u << 10)

struct jwe_recipient {
	enum crypt_jwa_alg alg;
	struct crypt_buf ek; /* encrypted key */
	EVP_PKEY *epk;	     /* ECDH-ES: the sender's ephemeral public key */
	struct crypt_buf apu, apv;
};

struct crypt_jwe {
	char *aad; /* ASCII(protected) or ASCII(protected "." aad) */
	size_t cek_len;
	char *enc;
	struct crypt_buf iv, ct, tag;
	struct jwe_recipient *r;
	size_t n;
};

size_t crypt_jwe_n_recipients(const struct crypt_jwe *j)
{
	return j->n;
}

void crypt_jwe_free(struct crypt_jwe *j)
{
	if (!j)
		return;
	for (size_t i = 0; i < j->n; i++) {
		crypt_buf_wipe(&j->r[i].ek);
		crypt_buf_wipe(&j->r[i].apu);
		crypt_buf_wipe(&j->r[i].apv);
		EVP_PKEY_free(j->r[i].epk);
	}
	free(j->r);
	free(j->aad);
	free(j->enc);
	crypt_buf_wipe(&j->iv);
	crypt_buf_wipe(&j->ct);
	crypt_buf_wipe(&j->tag);
	free(j);
}

/* ---- parsing ---- */

/* The protected header: base64url of a JSON object. */
static json_t *decode_protected(const char *b64, size_t len, struct cc_error **err)
{
	_cleanup_wipe_ struct crypt_buf raw = { 0 };

	if (len > HEADER_MAX * 2) {
		cc_error_set(err, 0, "JWE: protected header too long");
		return NULL;
	}
	if (crypt_b64_decode(b64, len, CRYPT_B64_URL, &raw) < 0) {
		cc_error_set(err, 0, "JWE: protected header is not valid base64url");
		return NULL;
	}
	json_t *h = crypt_json_parse("JWE protected header", raw.p, raw.len, err);
	if (h && !json_is_object(h)) {
		cc_error_set(err, 0, "JWE: protected header is a %s, not an object",
			     cc_json_type_name(h));
		json_decref(h);
		return NULL;
	}
	return h;
}

/* RFC 7516 §7.2.1: the three header sources must not share a member name. */
static json_t *merge_headers(json_t *const src[3], size_t idx, struct cc_error **err)
{
	json_t *m = json_object(), *v;
	const char *k;

	for (int s = 0; s < 3; s++) {
		if (!src[s])
			continue;
		json_object_foreach (src[s], k, v) {
			if (json_object_get(m, k)) {
				cc_error_set(err, 0, "JWE recipient %zu: header \"%s\" given twice",
					     idx + 1, k);
				json_decref(m);
				return NULL;
			}
			json_object_set(m, k, v);
		}
	}
	return m;
}

static int parse_ecdh(struct jwe_recipient *r, const json_t *h, const char *what,
		      struct cc_error **err)
{
	r->epk = crypt_jwa_ec_from_jwk(json_object_get(h, "epk"), what, err);
	if (!r->epk)
		return -1;
	if (crypt_json_b64(h, "apu", CRYPT_B64_URL, false, what, &r->apu, err) < 0 ||
	    crypt_json_b64(h, "apv", CRYPT_B64_URL, false, what, &r->apv, err) < 0)
		return -1;
	return 0;
}

static int parse_recipient(struct crypt_jwe *j, size_t idx, json_t *const src[3], const json_t *ek,
			   struct cc_error **err)
{
	struct jwe_recipient *r = &j->r[idx];
	_cleanup_free_ char *what = xasprintf("JWE recipient %zu", idx + 1);
	json_t *h = merge_headers(src, idx, err);
	const char *alg = NULL, *enc = NULL;
	int ret = -1;

	if (!h)
		return -1;
	if (json_unpack(h, "{s:s, s:s}", "alg", &alg, "enc", &enc) != 0) {
		cc_error_set(err, 0, "%s: header lacks \"alg\" or \"enc\" strings", what);
		goto out;
	}
	if (json_object_get(h, "zip") || json_object_get(h, "crit")) {
		cc_error_set(err, 0, "%s: \"%s\" is not supported", what,
			     json_object_get(h, "zip") ? "zip" : "crit");
		goto out;
	}
	if (crypt_jwa_alg_parse(alg, &r->alg) < 0) {
		cc_error_set(err, 0, "%s: unsupported key algorithm \"%.32s\"", what, alg);
		goto out;
	}
	if (!crypt_jwa_enc_key_len(enc) || (j->enc && strcmp(j->enc, enc) != 0)) {
		cc_error_set(err, 0, "%s: unsupported or inconsistent content encryption \"%.32s\"",
			     what, enc);
		goto out;
	}
	if (!j->enc)
		j->enc = xstrdup(enc);
	j->cek_len = crypt_jwa_enc_key_len(enc);
	if (crypt_jwa_is_ecdh(r->alg) && parse_ecdh(r, h, what, err) < 0)
		goto out;
	if (!json_is_string(ek) || crypt_b64_decode(json_string_value(ek), json_string_length(ek),
						    CRYPT_B64_URL, &r->ek) < 0) {
		cc_error_set(err, 0, "%s: \"encrypted_key\" is missing or not base64url", what);
		goto out;
	}
	ret = 0;
out:
	json_decref(h);
	return ret;
}

static int parse_body(struct crypt_jwe *j, const json_t *iv, const json_t *ct, const json_t *tag,
		      struct cc_error **err)
{
	const json_t *v[] = { iv, ct, tag };
	struct crypt_buf *b[] = { &j->iv, &j->ct, &j->tag };
	static const char *const names[] = { "iv", "ciphertext", "tag" };

	for (int i = 0; i < 3; i++)
		if (!json_is_string(v[i]) ||
		    crypt_b64_decode(json_string_value(v[i]), json_string_length(v[i]),
				     CRYPT_B64_URL, b[i]) < 0)
			return cc_error_set(err, 0, "JWE: \"%s\" is missing or not base64url",
					    names[i]);
	if (j->iv.len != CRYPT_GCM_IV_LEN || j->tag.len != CRYPT_GCM_TAG_LEN)
		return cc_error_set(err, 0, "JWE: iv must be %d bytes and tag %d bytes for GCM",
				    CRYPT_GCM_IV_LEN, CRYPT_GCM_TAG_LEN);
	if (j->ct.len > CRYPT_OPTS_MAX)
		return cc_error_set(err, 0, "JWE: ciphertext larger than %u bytes", CRYPT_OPTS_MAX);
	return 0;
}

/* a.b.c.d.e: protected, encrypted_key, iv, ciphertext, tag. */
static int parse_compact(struct crypt_jwe *j, const char *s, size_t len, struct cc_error **err)
{
	json_t *part[5] = { 0 };
	size_t start = 0, n = 0;
	int ret = -1;

	for (size_t i = 0; i <= len && n < 6; i++)
		if (i == len || s[i] == '.') {
			if (n < 5)
				part[n] = json_stringn_nocheck(s + start, i - start);
			n++;
			start = i + 1;
		}
	if (n != 5) {
		cc_error_set(err, 0, "JWE: neither JSON nor compact serialisation (5 parts)");
		goto out;
	}
	json_t *prot = decode_protected(s, json_string_length(part[0]), err);
	if (!prot)
		goto out;
	json_t *src[3] = { prot, NULL, NULL };
	j->r = xzalloc(sizeof(*j->r));
	j->n = 1;
	j->aad = xstrndup(s, json_string_length(part[0]));
	ret = parse_recipient(j, 0, src, part[1], err);
	if (ret == 0)
		ret = parse_body(j, part[2], part[3], part[4], err);
	json_decref(prot);
out:
	for (int i = 0; i < 5; i++)
		json_decref(part[i]);
	return ret;
}

static int parse_recipients(struct crypt_jwe *j, const json_t *doc, json_t *prot,
			    struct cc_error **err)
{
	json_t *unprot = json_object_get(doc, "unprotected");
	json_t *recips = json_object_get(doc, "recipients");

	if (unprot && !json_is_object(unprot))
		return cc_error_set(err, 0, "JWE: \"unprotected\" is not an object");
	if (!recips) {
		json_t *hdr = json_object_get(doc, "header");
		if (hdr && !json_is_object(hdr))
			return cc_error_set(err, 0, "JWE: \"header\" is not an object");
		json_t *src[3] = { prot, unprot, hdr };
		j->r = xzalloc(sizeof(*j->r));
		j->n = 1;
		return parse_recipient(j, 0, src, json_object_get(doc, "encrypted_key"), err);
	}
	if (!json_is_array(recips) || json_array_size(recips) == 0 ||
	    json_array_size(recips) > CRYPT_JWE_RECIPIENTS_MAX)
		return cc_error_set(err, 0, "JWE: \"recipients\" is not an array of 1 to %u",
				    CRYPT_JWE_RECIPIENTS_MAX);
	/* go-jose v2 also writes recipient 0's encrypted_key at the top: ignored. A top-level
	 * header beside recipients would be ambiguous, though. */
	if (json_object_get(doc, "header"))
		return cc_error_set(err, 0, "JWE: both \"header\" and \"recipients\"");
	j->r = xcalloc(json_array_size(recips), sizeof(*j->r));
	for (size_t i = 0; i < json_array_size(recips); i++) {
		json_t *rec = json_array_get(recips, i), *hdr = json_object_get(rec, "header");
		if (!json_is_object(rec) || (hdr && !json_is_object(hdr)))
			return cc_error_set(err, 0, "JWE recipient %zu: not an object", i + 1);
		json_t *src[3] = { prot, unprot, hdr };
		j->n = i + 1;
		if (parse_recipient(j, i, src, json_object_get(rec, "encrypted_key"), err) < 0)
			return -1;
	}
	return 0;
}

static int parse_json(struct crypt_jwe *j, const char *s, size_t len, struct cc_error **err)
{
	_cleanup_json_ json_t *doc = crypt_json_parse("JWE", s, len, err);
	_cleanup_json_ json_t *prot = NULL;
	json_t *p, *aad;

	if (!doc)
		return -1;
	if (!json_is_object(doc))
		return cc_error_set(err, 0, "JWE: a %s, not an object", cc_json_type_name(doc));
	p = json_object_get(doc, "protected");
	aad = json_object_get(doc, "aad");
	if (p && !json_is_string(p))
		return cc_error_set(err, 0, "JWE: \"protected\" is not a string");
	if (aad && (!json_is_string(aad) || json_string_length(aad) > HEADER_MAX))
		return cc_error_set(err, 0, "JWE: \"aad\" is not a short string");
	if (p && !(prot = decode_protected(json_string_value(p), json_string_length(p), err)))
		return -1;
	/* RFC 7516 §5.1 step 14: AAD = ASCII(protected) [ "." ASCII(aad) ]. */
	j->aad = aad ? xasprintf("%s.%s", p ? json_string_value(p) : "", json_string_value(aad))
		     : xstrdup(p ? json_string_value(p) : "");
	if (parse_recipients(j, doc, prot, err) < 0)
		return -1;
	return parse_body(j, json_object_get(doc, "iv"), json_object_get(doc, "ciphertext"),
			  json_object_get(doc, "tag"), err);
}

int crypt_jwe_parse(const void *text, size_t len, struct crypt_jwe **out, struct cc_error **err)
{
	const char *s = text;
	struct crypt_jwe *j;
	int r;

	if (len > CRYPT_ANNOTATION_MAX)
		return cc_error_set(err, 0, "JWE: %zu bytes, more than the %u allowed", len,
				    CRYPT_ANNOTATION_MAX);
	if (len == 0)
		return cc_error_set(err, 0, "JWE: empty");
	if (memchr(s, 0, len))
		return cc_error_set(err, 0, "JWE: contains a NUL byte");
	j = xzalloc(sizeof(*j));
	r = s[0] == '{' ? parse_json(j, s, len, err) : parse_compact(j, s, len, err);
	if (r < 0) {
		crypt_jwe_free(j);
		return -1;
	}
	*out = j;
	return 0;
}

/* ---- decryption ---- */

/* 1: the key cannot be used for this recipient; 0: *cek holds the content key; -1: the key
 * fits but does not unwrap (another recipient's key, or a tampered encrypted_key). */
static int unwrap_cek(const struct jwe_recipient *r, EVP_PKEY *k, size_t cek_len,
		      struct crypt_buf *cek)
{
	if (!crypt_jwa_is_ecdh(r->alg)) {
		if (!EVP_PKEY_is_a(k, "RSA"))
			return 1;
		if (crypt_jwa_rsa_oaep(k, false, r->alg == CRYPT_JWA_RSA_OAEP_256, r->ek.p,
				       r->ek.len, cek) < 0)
			return -1;
	} else {
		const struct crypt_jwa_curve *kc = crypt_jwa_curve_of(k);
		unsigned char kek[32];
		size_t kek_len = crypt_jwa_kw_len(r->alg);
		if (!kc || kc != crypt_jwa_curve_of(r->epk))
			return 1;
		int ret = crypt_jwa_ecdh_kdf(k, r->epk, crypt_jwa_alg_name(r->alg), &r->apu,
					     &r->apv, kek, kek_len);
		if (ret == 0)
			ret = crypt_jwa_aes_kw(false, kek, kek_len, r->ek.p, r->ek.len, cek);
		explicit_bzero(kek, sizeof(kek));
		if (ret < 0)
			return -1;
	}
	if (cek->len != cek_len) {
		crypt_buf_wipe(cek);
		return -1;
	}
	return 0;
}

int crypt_jwe_decrypt(const struct crypt_jwe *j, EVP_PKEY *const *keys, size_t n_keys,
		      struct crypt_buf *plain, struct cc_error **err)
{
	size_t tried = 0;
	bool unwrapped = false;

	for (size_t i = 0; i < j->n; i++)
		for (size_t k = 0; k < n_keys; k++) {
			_cleanup_wipe_ struct crypt_buf cek = { 0 };
			int r = unwrap_cek(&j->r[i], keys[k], j->cek_len, &cek);
			tried += r <= 0;
			if (r != 0)
				continue;
			unwrapped = true;
			if (crypt_jwa_gcm(false, cek.p, cek.len, j->iv.p, j->aad, strlen(j->aad),
					  j->ct.p, j->ct.len, j->tag.p, plain) == 0)
				return 0;
		}
	if (unwrapped)
		return cc_error_set(err, 0,
				    "JWE content decryption failed: a key unwrapped but the "
				    "ciphertext, tag or protected header do not authenticate "
				    "(tampered)");
	if (n_keys == 0)
		return cc_error_set(err, 0,
				    "no private key given to try on the %zu JWE recipient%s", j->n,
				    j->n == 1 ? "" : "s");
	return cc_error_set(err, 0,
			    "no key matches any of the %zu JWE recipient%s (%zu of %zu "
			    "key%s of a fitting type tried)",
			    j->n, j->n == 1 ? "" : "s", tried, n_keys, n_keys == 1 ? "" : "s");
}

/* ---- encryption ---- */

static int wrap_rsa(EVP_PKEY *k, bool oaep256, const unsigned char *cek, json_t *hdr,
		    struct crypt_buf *ek)
{
	if (crypt_jwa_rsa_oaep(k, true, oaep256, cek, 32, ek) < 0)
		return -1;
	json_object_set_new(hdr, "alg", json_string(oaep256 ? "RSA-OAEP-256" : "RSA-OAEP"));
	return 0;
}

static int wrap_ecdh(EVP_PKEY *k, const struct crypt_jwa_curve *c, const unsigned char *cek,
		     json_t *hdr, struct crypt_buf *ek)
{
	const char *alg = crypt_jwa_alg_name(CRYPT_JWA_ECDH_ES_A256KW);
	struct crypt_buf none = { 0 };
	unsigned char kek[32];
	EVP_PKEY *eph = EVP_PKEY_Q_keygen(NULL, NULL, "EC", OBJ_nid2sn(c->nid));
	int r = -1;

	if (eph && crypt_jwa_ecdh_kdf(eph, k, alg, &none, &none, kek, sizeof(kek)) == 0 &&
	    crypt_jwa_aes_kw(true, kek, sizeof(kek), cek, 32, ek) == 0) {
		json_object_set_new(hdr, "alg", json_string(alg));
		json_object_set_new(hdr, "epk", crypt_jwa_ec_to_jwk(eph));
		r = 0;
	}
	explicit_bzero(kek, sizeof(kek));
	EVP_PKEY_free(eph);
	return r;
}

/* One recipient: {"header": {...}, "encrypted_key": "..."}. */
static json_t *wrap_for(EVP_PKEY *k, size_t idx, bool oaep256, const unsigned char *cek,
			struct cc_error **err)
{
	_cleanup_wipe_ struct crypt_buf ek = { 0 };
	const struct crypt_jwa_curve *c = crypt_jwa_curve_of(k);
	json_t *hdr = json_object();
	int r;

	if (EVP_PKEY_is_a(k, "RSA"))
		r = wrap_rsa(k, oaep256, cek, hdr, &ek);
	else if (c)
		r = wrap_ecdh(k, c, cek, hdr, &ek);
	else {
		json_decref(hdr);
		cc_error_set(err, 0,
			     "JWE recipient %zu: a %s key; JWE needs RSA or EC P-256/384/521",
			     idx + 1, EVP_PKEY_get0_type_name(k));
		return NULL;
	}
	if (r < 0) {
		json_decref(hdr);
		char e[256];
		cc_error_set(err, 0, "JWE recipient %zu: key wrapping failed: %s", idx + 1,
			     crypt_ossl_error(e, sizeof(e)));
		return NULL;
	}
	_cleanup_free_ char *b64 = crypt_b64_encode(ek.p, ek.len, CRYPT_B64_URL);
	return json_pack("{s:o, s:s}", "header", hdr, "encrypted_key", b64);
}

static json_t *seal(json_t *prot, const unsigned char *cek, const void *plain, size_t len,
		    struct cc_error **err)
{
	unsigned char iv[CRYPT_GCM_IV_LEN], tag[CRYPT_GCM_TAG_LEN];
	_cleanup_free_ char *ph = cc_json_dump(prot);
	_cleanup_free_ char *pb64 = crypt_b64_encode(ph, strlen(ph), CRYPT_B64_URL);
	_cleanup_wipe_ struct crypt_buf ct = { 0 };

	crypt_random(iv, sizeof(iv));
	if (crypt_jwa_gcm(true, cek, 32, iv, pb64, strlen(pb64), plain, len, tag, &ct) < 0) {
		cc_error_set(err, 0, "JWE: AES-GCM encryption failed");
		return NULL;
	}
	_cleanup_free_ char *ivb = crypt_b64_encode(iv, sizeof(iv), CRYPT_B64_URL);
	_cleanup_free_ char *ctb = crypt_b64_encode(ct.p, ct.len, CRYPT_B64_URL);
	_cleanup_free_ char *tagb = crypt_b64_encode(tag, sizeof(tag), CRYPT_B64_URL);
	return json_pack("{s:s, s:s, s:s, s:s}", "protected", pb64, "iv", ivb, "ciphertext", ctb,
			 "tag", tagb);
}

int crypt_jwe_encrypt(EVP_PKEY *const *keys, size_t n, bool rsa_oaep_256, const void *plain,
		      size_t len, char **out, struct cc_error **err)
{
	unsigned char cek[32];
	_cleanup_json_ json_t *recips = json_array(), *doc = NULL;
	_cleanup_json_ json_t *prot = NULL;

	if (n == 0 || n > CRYPT_JWE_RECIPIENTS_MAX)
		return cc_error_set(err, 0, "JWE: %zu recipients (1 to %u)", n,
				    CRYPT_JWE_RECIPIENTS_MAX);
	crypt_random(cek, sizeof(cek));
	for (size_t i = 0; i < n; i++) {
		json_t *r = wrap_for(keys[i], i, rsa_oaep_256, cek, err);
		if (!r) {
			explicit_bzero(cek, sizeof(cek));
			return -1;
		}
		json_array_append_new(recips, r);
	}
	/* One recipient: flattened, everything in the protected header (what go-jose writes and
	 * what every ocicrypt reads). Several: general, the shared "enc" protected. */
	json_t *r0 = json_array_get(recips, 0);
	prot = n == 1 ? json_deep_copy(json_object_get(r0, "header")) : json_object();
	json_object_set_new(prot, "enc", json_string("A256GCM"));
	doc = seal(prot, cek, plain, len, err);
	explicit_bzero(cek, sizeof(cek));
	if (!doc)
		return -1;
	if (n == 1)
		json_object_set(doc, "encrypted_key", json_object_get(r0, "encrypted_key"));
	else
		json_object_set(doc, "recipients", recips);
	*out = cc_json_dump(doc);
	return 0;
}
