// SPDX-License-Identifier: Apache-2.0
/* One layer: unwrap its key from the annotations and decrypt, or encrypt and wrap. See
 * crypt.h. */
#include <stdlib.h>
#include <string.h>
#include "crypt/annotations.h"
#include "crypt/cipher.h"
#include "crypt/jwe.h"
#include "crypt/keys.h"
#include "crypt/pkcs7.h"
#include "util/cleanup.h"

#define REASONS_MAX 4 /* failures spelt out in the "no key could unwrap" message */

struct crypt_layer {
	bool encrypt, finished;
	char *media_type;
	struct crypt_cipher *cipher;
	char *cipher_name;
	json_t *annotations; /* encrypting: the wrapped keys */
};

void crypt_layer_free(struct crypt_layer *l)
{
	if (!l)
		return;
	crypt_cipher_free(l->cipher);
	free(l->media_type);
	free(l->cipher_name);
	json_decref(l->annotations);
	free(l);
}

const char *crypt_layer_media_type(const struct crypt_layer *l)
{
	return l->media_type;
}

int crypt_layer_update(struct crypt_layer *l, const void *in, size_t n, void *out,
		       struct cc_error **err)
{
	return crypt_cipher_update(l->cipher, in, n, out, err);
}

/* ---- unwrapping ---- */

static int unwrap_pgp(const struct crypt_keys *k, const struct crypt_buf *b, struct crypt_buf *out,
		      struct cc_error **err)
{
	if (k->n_rings)
		return crypt_pgp_decrypt(b->p, b->len, k->rings, k->n_rings, NULL, out, err);
	if (k->env.use_gnupg_home)
		return crypt_pgp_decrypt(b->p, b->len, NULL, 0, k->env.gnupg_home, out, err);
	return cc_error_set(err, 0, "no OpenPGP secret keyring given");
}

static int unwrap_provider(const struct crypt_keys *k, const char *name, const struct crypt_buf *b,
			   struct crypt_buf *out, struct cc_error **err)
{
	struct cc_error *last = NULL;

	for (size_t i = 0; i < k->env.n_providers; i++) {
		const struct crypt_provider_ref *p = &k->env.providers[i];
		if (strcmp(p->name, name) != 0)
			continue;
		cc_error_free(&last);
		int r = p->kbc ? crypt_kbc_unwrap(p->kbc, b->p, b->len, out, &last)
			       : crypt_provider_unwrap(p->cmd, p->param, b->p, b->len,
						       k->env.timeout_ms, out, &last);
		if (r == 0)
			return 0;
	}
	if (last) {
		cc_error_set(err, last->errnum, "%s", last->msg);
		(*err)->code = last->code;
		cc_error_free(&last);
		return -1;
	}
	return cc_error_set(err, 0, "no key provider \"%s\" given (provider:%s[:<param>])", name,
			    name);
}

static int unwrap_one(const struct crypt_keys *k, const struct crypt_wrapped *w,
		      const struct crypt_buf *b, struct crypt_buf *out, struct cc_error **err)
{
	switch (w->scheme) {
	case CRYPT_SCHEME_JWE: {
		struct crypt_jwe *j = NULL;
		if (crypt_jwe_parse(b->p, b->len, &j, err) < 0)
			return -1;
		int r = crypt_jwe_decrypt(j, k->pkeys, k->n_pkeys, out, err);
		crypt_jwe_free(j);
		return r;
	}
	case CRYPT_SCHEME_PKCS7:
		return crypt_pkcs7_decrypt(b->p, b->len, k->pkeys, k->n_pkeys, k->certs, k->n_certs,
					   out, err);
	case CRYPT_SCHEME_PGP:
		return unwrap_pgp(k, b, out, err);
	default:
		return unwrap_provider(k, w->provider, b, out, err);
	}
}

/* Try every wrapped key of every annotation; the first that unwraps gives the private
 * options. Otherwise say why each failed. */
/* Merge the private options of one wrapped key into o, or leave o untouched: a wrapper that
 * yields garbage must not spoil the options for the next one. */
static int take_private(struct crypt_opts *o, const struct crypt_buf *priv, struct cc_error **err)
{
	struct crypt_opts t = { 0 };

	if (o->nonce.p) /* the public nonce takes precedence */
		crypt_buf_set(&t.nonce, o->nonce.p, o->nonce.len);
	if (crypt_opts_parse_private(&t, priv->p, priv->len, err) < 0 ||
	    (t.symkey.len != CRYPT_SYMKEY_LEN &&
	     cc_error_set(err, 0, "unwrapped, but the private options hold a %zu-byte key",
			  t.symkey.len))) {
		crypt_opts_clear(&t);
		return -1;
	}
	crypt_buf_wipe(&o->symkey);
	crypt_buf_wipe(&o->nonce);
	free(o->digest);
	o->symkey = t.symkey;
	o->nonce = t.nonce;
	o->digest = t.digest;
	memset(&t, 0, sizeof(t));
	return 0;
}

static int unwrap_private(const struct crypt_keys *k, const struct crypt_annotations *a,
			  struct crypt_opts *o, struct cc_error **err)
{
	_cleanup_free_ char *why = NULL;
	size_t failures = 0;
	bool all_unavailable = true; /* every failure: a key broker that did not answer */

	for (size_t i = 0; i < a->n_keys; i++) {
		const struct crypt_wrapped *w = &a->keys[i];
		for (size_t j = 0; j < w->n_blobs; j++) {
			_cleanup_wipe_ struct crypt_buf priv = { 0 };
			struct cc_error *e = NULL;
			if (unwrap_one(k, w, &w->blobs[j], &priv, &e) == 0 &&
			    take_private(o, &priv, &e) == 0)
				return 0;
			if (!e || e->code != CRYPT_ERR_UNAVAILABLE)
				all_unavailable = false;
			if (failures++ < REASONS_MAX) {
				char *entry =
				    w->n_blobs > 1 ? xasprintf(" entry %zu", j + 1) : xstrdup("");
				char *s = xasprintf("%s%s%s%s: %s", why ? why : "", why ? "; " : "",
						    w->annotation, entry,
						    e ? e->msg : "failed without a reason");
				free(entry);
				free(why);
				why = s;
			}
			cc_error_free(&e);
		}
	}
	if (failures > REASONS_MAX)
		cc_error_set(err, 0, "no key could unwrap the layer key: %s; and %zu more", why,
			     failures - REASONS_MAX);
	else
		cc_error_set(err, 0, "no key could unwrap the layer key: %s", why);
	if (err && *err && !(*err)->code)
		(*err)->code =
		    failures && all_unavailable ? CRYPT_ERR_UNAVAILABLE : CRYPT_ERR_NO_KEY;
	return -1;
}

static int check_pubopts(const struct crypt_annotations *a, struct crypt_opts *o,
			 struct cc_error **err)
{
	if (crypt_opts_parse_public(o, a->pubopts.p, a->pubopts.len, err) < 0)
		return cc_error_prefix(err, "annotation %s", CRYPT_ANN_PUBOPTS);
	if (!a->pubopts.len)
		return cc_error_set(err, 0, "no %s annotation: the layer has no HMAC",
				    CRYPT_ANN_PUBOPTS);
	/* Refuse an unknown cipher before spending time (or a provider call) on keys. */
	if (!o->cipher || strcmp(o->cipher, CRYPT_CIPHER_AES_CTR_HMAC) != 0)
		return cc_error_set(err, 0,
				    "annotation %s: unsupported layer cipher \"%s\" (only "
				    "%s is known)",
				    CRYPT_ANN_PUBOPTS, o->cipher ? o->cipher : "",
				    CRYPT_CIPHER_AES_CTR_HMAC);
	return 0;
}

int crypt_layer_open(const struct crypt_keys *keys, const char *media_type,
		     const json_t *annotations, struct crypt_layer **out, struct cc_error **err)
{
	_cleanup_free_ char *plain = crypt_media_type_plain(media_type, err);
	struct crypt_annotations a;
	struct crypt_opts o = { 0 };
	struct crypt_cipher *c = NULL;
	int r = -1;

	if (!plain || crypt_annotations_parse(annotations, &a, err) < 0)
		return -1;
	if (check_pubopts(&a, &o, err) < 0)
		goto out;
	if (a.n_keys == 0) {
		cc_error_set(err, 0, "no %s* annotation: nothing holds the layer key",
			     CRYPT_ANN_KEYS);
		goto out;
	}
	if (unwrap_private(keys, &a, &o, err) < 0 || crypt_cipher_new(&o, false, &c, err) < 0)
		goto out;
	struct crypt_layer *l = xzalloc(sizeof(*l));
	l->media_type = steal_pointer(&plain);
	l->cipher = c;
	*out = l;
	r = 0;
out:
	crypt_opts_clear(&o);
	crypt_annotations_clear(&a);
	return r;
}

/* ---- encrypting ---- */

/* Add b64(blob) to the annotation key (appending with a comma as ocicrypt does). */
static void add_annotation(json_t *ann, const char *key, const struct crypt_buf *blob)
{
	_cleanup_free_ char *b64 = crypt_b64_encode(blob->p, blob->len, CRYPT_B64_STD);
	json_t *old = json_object_get(ann, key);
	char *v = old ? xasprintf("%s,%s", json_string_value(old), b64) : xstrdup(b64);
	json_object_set_new(ann, key, json_string(v));
	free(v);
}

static int wrap_provider(const struct crypt_env *env, const struct crypt_provider_ref *p,
			 const struct crypt_buf *priv, struct crypt_buf *out, struct cc_error **err)
{
	if (!p->kbc)
		return crypt_provider_wrap(p->cmd, p->param, priv->p, priv->len, env->timeout_ms,
					   out, err);
	/* For wrapping, the "<kbc>::<uri>" URI part names the key: kbs:///<repo>/<type>/<tag>. */
	if (strncmp(p->kbc->kbs_uri, "kbs://", 6) != 0)
		return cc_error_set(err, 0,
				    "provider:%s: to wrap, give the key as "
				    "<kbc>::kbs:///<repository>/<type>/<tag>",
				    p->name);
	return crypt_kbc_wrap(p->kbc, p->kbc->kbs_uri, priv->p, priv->len, out, err);
}

static int wrap_all(const struct crypt_recipients *r, const struct crypt_buf *priv, json_t *ann,
		    struct cc_error **err)
{
	_cleanup_wipe_ struct crypt_buf blob = { 0 };

	if (r->n_jwe) {
		_cleanup_free_ char *jwe = NULL;
		if (crypt_jwe_encrypt(r->jwe, r->n_jwe, false, priv->p, priv->len, &jwe, err) < 0)
			return -1;
		struct crypt_buf b = { (unsigned char *)jwe, strlen(jwe) };
		add_annotation(ann, CRYPT_ANN_JWE, &b);
	}
	if (r->n_pkcs7) {
		if (crypt_pkcs7_encrypt(r->pkcs7, r->n_pkcs7, priv->p, priv->len, &blob, err) < 0)
			return -1;
		add_annotation(ann, CRYPT_ANN_PKCS7, &blob);
	}
	if (r->n_pgp) {
		if (crypt_pgp_encrypt(r->env.gnupg_home, r->pgp, r->n_pgp, priv->p, priv->len,
				      &blob, err) < 0)
			return -1;
		add_annotation(ann, CRYPT_ANN_PGP, &blob);
	}
	for (size_t i = 0; i < r->env.n_providers; i++) {
		const struct crypt_provider_ref *p = &r->env.providers[i];
		if (wrap_provider(&r->env, p, priv, &blob, err) < 0)
			return -1;
		_cleanup_free_ char *key = xasprintf("%s%s", CRYPT_ANN_PROVIDER, p->name);
		add_annotation(ann, key, &blob);
	}
	if (json_object_size(ann) == 0)
		return cc_error_set(err, 0, "no encryption recipients");
	return 0;
}

int crypt_layer_encrypt_begin(const struct crypt_recipients *r, const char *media_type,
			      const char *digest, struct crypt_layer **out, struct cc_error **err)
{
	_cleanup_free_ char *enc = crypt_media_type_encrypted(media_type, err);
	_cleanup_wipe_ struct crypt_buf priv = { 0 };
	struct crypt_opts o = { 0 };
	json_t *ann = json_object();
	struct crypt_cipher *c = NULL;

	if (!enc)
		goto fail;
	crypt_opts_generate(&o, digest);
	crypt_opts_private_json(&o, &priv);
	if (wrap_all(r, &priv, ann, err) < 0 || crypt_cipher_new(&o, true, &c, err) < 0)
		goto fail;
	struct crypt_layer *l = xzalloc(sizeof(*l));
	l->encrypt = true;
	l->media_type = steal_pointer(&enc);
	l->cipher = c;
	l->cipher_name = steal_pointer(&o.cipher);
	l->annotations = ann;
	crypt_opts_clear(&o);
	*out = l;
	return 0;
fail:
	crypt_opts_clear(&o);
	json_decref(ann);
	return -1;
}

int crypt_layer_final(struct crypt_layer *l, json_t **annotations, struct cc_error **err)
{
	struct crypt_opts pub = { 0 };
	unsigned char mac[CRYPT_HMAC_LEN];

	if (annotations)
		*annotations = NULL;
	if (l->finished)
		return cc_error_set(err, 0, "layer cipher finished twice");
	l->finished = true;
	if (!l->encrypt)
		return crypt_cipher_final(l->cipher, NULL, err);
	if (!annotations)
		return cc_error_set(err, 0,
				    "encrypting a layer yields annotations: none asked for");
	if (crypt_cipher_final(l->cipher, mac, err) < 0)
		return -1;
	pub.cipher = l->cipher_name;
	pub.hmac.p = mac;
	pub.hmac.len = sizeof(mac);
	_cleanup_free_ char *json = crypt_opts_public_json(&pub);
	struct crypt_buf b = { (unsigned char *)json, strlen(json) };
	add_annotation(l->annotations, CRYPT_ANN_PUBOPTS, &b);
	*annotations = steal_pointer(&l->annotations);
	return 0;
}
