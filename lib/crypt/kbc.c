// SPDX-License-Identifier: Apache-2.0
/* Key broker clients: registry, annotation packets, KBS URIs. See kbc.h. */
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include "crypt/jwa.h"
#include "crypt/kbc.h"
#include "util/cleanup.h"
#include "util/json.h"

#define KBC_MAX 16
#define KID_MAX 1024

static const struct crypt_kbc_ops *registry[KBC_MAX] = { &crypt_kbc_offline_fs, &crypt_kbc_sample };
static size_t n_registered = 2;

int crypt_kbc_register(const struct crypt_kbc_ops *ops, struct cc_error **err)
{
	for (size_t i = 0; i < n_registered; i++)
		if (!strcmp(registry[i]->name, ops->name))
			return cc_error_set(err, 0, "KBC %s is already registered", ops->name);
	if (n_registered == KBC_MAX)
		return cc_error_set(err, 0, "too many KBCs registered");
	registry[n_registered++] = ops;
	return 0;
}

int crypt_kbc_new(const char *spec, const struct crypt_kbc_opts *o, struct crypt_kbc **out,
		  struct cc_error **err)
{
	const char *sep = strstr(spec, "::");
	struct crypt_kbc_opts none = { 0 };

	if (!sep || sep == spec || !sep[2])
		return cc_error_set(err, 0, "\"%s\" is not <kbc>::<kbs uri>", spec);
	_cleanup_free_ char *name = xstrndup(spec, (size_t)(sep - spec));
	for (size_t i = 0; i < n_registered; i++) {
		if (strcmp(registry[i]->name, name) != 0)
			continue;
		struct crypt_kbc *k = xzalloc(sizeof(*k));
		k->ops = registry[i];
		k->kbs_uri = xstrdup(sep + 2);
		if (k->ops->create && k->ops->create(k, o ? o : &none, err) < 0) {
			crypt_kbc_free(k);
			return cc_error_prefix(err, "%s", name);
		}
		*out = k;
		return 0;
	}
	return cc_error_set(err, 0, "unknown key broker client \"%s\"", name);
}

void crypt_kbc_free(struct crypt_kbc *k)
{
	if (!k)
		return;
	if (k->ops->destroy)
		k->ops->destroy(k);
	free(k->kbs_uri);
	free(k);
}

void crypt_kbc_packet_clear(struct crypt_kbc_packet *p)
{
	free(p->kid);
	free(p->wrap_type);
	crypt_buf_wipe(&p->wrapped);
	crypt_buf_wipe(&p->iv);
	memset(p, 0, sizeof(*p));
}

int crypt_kbc_packet_parse(const void *json, size_t len, struct crypt_kbc_packet *p,
			   struct cc_error **err)
{
	const char *what = "annotation packet";
	const char *kid = NULL, *wt = NULL;
	_cleanup_json_ json_t *j = NULL;

	memset(p, 0, sizeof(*p));
	if (len > CRYPT_OPTS_MAX * 2)
		return cc_error_set(err, 0, "%s: too large", what);
	if (!(j = crypt_json_parse(what, json, len, err)))
		return -1;
	if (json_unpack(j, "{s:s, s:s}", "kid", &kid, "wrap_type", &wt) != 0 ||
	    strlen(kid) > KID_MAX || strlen(wt) > 32)
		return cc_error_set(err, 0, "%s: needs \"kid\" and \"wrap_type\" strings", what);
	if (crypt_json_b64(j, "wrapped_data", CRYPT_B64_STD, true, what, &p->wrapped, err) < 0 ||
	    crypt_json_b64(j, "iv", CRYPT_B64_STD, true, what, &p->iv, err) < 0) {
		crypt_kbc_packet_clear(p);
		return -1;
	}
	p->kid = xstrdup(kid);
	p->wrap_type = xstrdup(wt);
	return 0;
}

static bool valid_segment(const char *s, size_t n)
{
	if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || s[i] == '\\' || (unsigned char)s[i] > '~')
			return false;
	return true;
}

char *crypt_kbs_resource_path(const char *uri, struct cc_error **err)
{
	static const char scheme[] = "kbs://";
	const char *p;
	size_t end;

	if (strncmp(uri, scheme, sizeof(scheme) - 1) != 0 || !(p = strchr(uri + 6, '/'))) {
		cc_error_set(err, 0, "\"%.64s\" is not a kbs:// resource URI", uri);
		return NULL;
	}
	p++;
	end = strcspn(p, "?#");
	/* Exactly <repository>/<type>/<tag>. */
	const char *s = p;
	for (int seg = 0; seg < 3; seg++) {
		size_t n = strcspn(s, "/?#");
		if (!valid_segment(s, n) || (seg < 2 && s[n] != '/') ||
		    (seg == 2 && s + n != p + end)) {
			cc_error_set(err, 0,
				     "\"%.64s\": the path must be <repository>/<type>/<tag>", uri);
			return NULL;
		}
		s += n + 1;
	}
	return xstrndup(p, end);
}

int crypt_kbc_cipher(bool encrypt, const char *wrap_type, const unsigned char *key,
		     const struct crypt_buf *iv, const void *in, size_t len, struct crypt_buf *out,
		     struct cc_error **err)
{
	if (!strcmp(wrap_type, "A256GCM")) {
		if (iv->len != CRYPT_GCM_IV_LEN || (!encrypt && len < CRYPT_GCM_TAG_LEN))
			return cc_error_set(err, 0, "A256GCM: bad IV or data length");
		_cleanup_wipe_ struct crypt_buf ct = { 0 };
		unsigned char tag[CRYPT_GCM_TAG_LEN];
		size_t n = encrypt ? len : len - CRYPT_GCM_TAG_LEN;
		if (!encrypt)
			memcpy(tag, (const unsigned char *)in + n, sizeof(tag));
		if (crypt_jwa_gcm(encrypt, key, 32, iv->p, NULL, 0, in, n, tag, &ct) < 0)
			return cc_error_set(err, 0, "A256GCM: %s",
					    encrypt ? "encryption failed"
						    : "wrong key or tampered data");
		crypt_buf_wipe(out);
		out->p = xmalloc(n + CRYPT_GCM_TAG_LEN + 1);
		memcpy(out->p, ct.p, n);
		/* RustCrypto's convention: the tag follows the ciphertext. */
		out->len = encrypt ? n + CRYPT_GCM_TAG_LEN : n;
		if (encrypt)
			memcpy(out->p + n, tag, sizeof(tag));
		out->p[out->len] = 0;
		return 0;
	}
	if (!strcmp(wrap_type, "A256CTR")) {
		EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
		int n = 0, ok;
		if (iv->len != 16 || len > CRYPT_OPTS_MAX) {
			EVP_CIPHER_CTX_free(c);
			return cc_error_set(err, 0, "A256CTR: bad IV or data length");
		}
		crypt_buf_wipe(out);
		out->p = xmalloc(len + 1);
		out->len = len;
		ok = c && EVP_EncryptInit_ex2(c, EVP_aes_256_ctr(), key, iv->p, NULL) == 1 &&
		     EVP_EncryptUpdate(c, out->p, &n, in, (int)len) == 1 && (size_t)n == len;
		EVP_CIPHER_CTX_free(c);
		if (!ok) {
			crypt_buf_wipe(out);
			return cc_error_set(err, 0, "A256CTR failed");
		}
		out->p[len] = 0;
		return 0;
	}
	return cc_error_set(err, 0, "unsupported wrap_type \"%s\"", wrap_type);
}

int crypt_kbc_unwrap(struct crypt_kbc *k, const void *packet, size_t len, struct crypt_buf *out,
		     struct cc_error **err)
{
	struct crypt_kbc_packet p;

	if (crypt_kbc_packet_parse(packet, len, &p, err) < 0)
		return cc_error_prefix(err, "%s", k->ops->name);
	int r = k->ops->decrypt_payload(k, &p, out, err);
	crypt_kbc_packet_clear(&p);
	return r < 0 ? cc_error_prefix(err, "%s", k->ops->name) : 0;
}

int crypt_kbc_wrap(struct crypt_kbc *k, const char *kid, const void *plain, size_t len,
		   struct crypt_buf *packet, struct cc_error **err)
{
	struct crypt_kbc_packet p = { 0 };

	if (!k->ops->encrypt_payload)
		return cc_error_set(err, 0, "%s cannot wrap keys", k->ops->name);
	if (k->ops->encrypt_payload(k, kid, plain, len, &p, err) < 0)
		return cc_error_prefix(err, "%s", k->ops->name);
	_cleanup_free_ char *w = crypt_b64_encode(p.wrapped.p, p.wrapped.len, CRYPT_B64_STD);
	_cleanup_free_ char *iv = crypt_b64_encode(p.iv.p, p.iv.len, CRYPT_B64_STD);
	json_t *j = json_pack("{s:s, s:s, s:s, s:s}", "kid", kid, "wrapped_data", w, "iv", iv,
			      "wrap_type", p.wrap_type);
	crypt_kbc_packet_clear(&p);
	if (!j)
		abort();
	crypt_json_dump_secret(j, packet);
	json_decref(j);
	return 0;
}

int crypt_kbc_get_resource(struct crypt_kbc *k, const char *uri, struct crypt_buf *out,
			   struct cc_error **err)
{
	if (!k->ops->get_resource)
		return cc_error_set(err, 0, "%s has no resources", k->ops->name);
	if (k->ops->get_resource(k, uri, out, err) < 0)
		return cc_error_prefix(err, "%s", k->ops->name);
	return 0;
}
