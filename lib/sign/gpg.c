// SPDX-License-Identifier: Apache-2.0
/* Simple signing's OpenPGP envelope through gpgme. See gpg.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <gpgme.h>
#include "crypt/internal.h"
#include "crypt/pgp.h"
#include "sign/gpg.h"
#include "util/cleanup.h"

/* A signed message's payload can be compressed: its expansion is bounded too. */
#define PAYLOAD_MAX (4u << 20)

struct trusted {
	char *key;     /* a primary key or subkey fingerprint */
	char *primary; /* the primary key it belongs to */
};

struct sign_gpg {
	char *home;
	struct trusted *keys;
	size_t n_keys;
};

struct sign_gpg *sign_gpg_new(struct cc_error **err)
{
	char *home = crypt_pgp_home_new(err);
	if (!home)
		return NULL;
	struct sign_gpg *g = xzalloc(sizeof(*g));
	g->home = home;
	return g;
}

void sign_gpg_free(struct sign_gpg *g)
{
	if (!g)
		return;
	crypt_pgp_home_remove(g->home);
	free(g->home);
	for (size_t i = 0; i < g->n_keys; i++) {
		free(g->keys[i].key);
		free(g->keys[i].primary);
	}
	free(g->keys);
	free(g);
}

static void trust(struct sign_gpg *g, const char *key, const char *primary)
{
	for (size_t i = 0; i < g->n_keys; i++)
		if (!strcasecmp(g->keys[i].key, key))
			return;
	g->keys = xrealloc(g->keys, (g->n_keys + 1) * sizeof(*g->keys));
	g->keys[g->n_keys++] = (struct trusted){ xstrdup(key), xstrdup(primary) };
}

/* Every key the import listed, with each of its subkeys. */
static int trust_imported(struct sign_gpg *g, gpgme_ctx_t ctx, gpgme_import_result_t res,
			  const char *name, struct cc_error **err)
{
	size_t n = 0;
	for (gpgme_import_status_t s = res ? res->imports : NULL; s; s = s->next) {
		gpgme_key_t key = NULL;
		if (s->result || !s->fpr || gpgme_get_key(ctx, s->fpr, &key, 0))
			continue;
		for (gpgme_subkey_t sk = key->subkeys; sk; sk = sk->next)
			if (sk->fpr)
				trust(g, sk->fpr, key->subkeys->fpr);
		gpgme_key_unref(key);
		n++;
	}
	if (!n)
		return cc_error_set(err, 0, "GPG keys %s: no public key in it", name);
	return 0;
}

int sign_gpg_import(struct sign_gpg *g, const void *keys, size_t len, const char *name,
		    struct cc_error **err)
{
	gpgme_ctx_t ctx = NULL;
	gpgme_data_t data = NULL;
	gpgme_error_t e;
	if (crypt_pgp_ctx(g->home, NULL, &ctx, err) < 0)
		return -1;
	int r = -1;
	if ((e = gpgme_data_new_from_mem(&data, keys, len, 0)) || (e = gpgme_op_import(ctx, data)))
		cc_error_set(err, 0, "GPG keys %s: %s", name, gpgme_strerror(e));
	else
		r = trust_imported(g, ctx, gpgme_op_import_result(ctx), name, err);
	gpgme_data_release(data);
	gpgme_release(ctx);
	return r;
}

/* ---- verification ---- */

struct bounded {
	unsigned char *p;
	size_t len;
	bool over;
};

static ssize_t bounded_write(void *handle, const void *buf, size_t n)
{
	struct bounded *b = handle;
	if (b->len + n > PAYLOAD_MAX) {
		b->over = true;
		errno = EFBIG;
		return -1;
	}
	b->p = xrealloc(b->p, b->len + n + 1);
	memcpy(b->p + b->len, buf, n);
	b->len += n;
	b->p[b->len] = '\0';
	return (ssize_t)n;
}

static const char *trusted_primary(const struct sign_gpg *g, const char *fpr)
{
	for (size_t i = 0; fpr && i < g->n_keys; i++)
		if (!strcasecmp(g->keys[i].key, fpr))
			return g->keys[i].primary;
	return NULL;
}

/* Why a signature gpgme reported is not acceptable, or NULL. */
static int judge(const struct sign_gpg *g, gpgme_signature_t sig, char **signer,
		 struct cc_error **err)
{
	const char *fpr = sig->fpr ? sig->fpr : "(unknown)";
	switch (gpgme_err_code(sig->status)) {
	case GPG_ERR_NO_ERROR:
		break;
	case GPG_ERR_NO_PUBKEY:
		return cc_error_set(err, 0, "signed by key %s, which is not trusted", fpr);
	case GPG_ERR_BAD_SIGNATURE:
		return cc_error_set(err, 0, "bad signature by key %s (the signed data was changed)",
				    fpr);
	case GPG_ERR_KEY_EXPIRED:
		return cc_error_set(err, 0, "signed by key %s, which has expired", fpr);
	case GPG_ERR_SIG_EXPIRED:
		return cc_error_set(err, 0, "the signature by key %s has expired", fpr);
	case GPG_ERR_CERT_REVOKED:
		return cc_error_set(err, 0, "signed by key %s, which was revoked", fpr);
	default:
		return cc_error_set(err, 0, "invalid signature by key %s: %s", fpr,
				    gpgme_strerror(sig->status));
	}
	if (sig->summary & GPGME_SIGSUM_KEY_REVOKED)
		return cc_error_set(err, 0, "signed by key %s, which was revoked", fpr);
	if (sig->summary & GPGME_SIGSUM_KEY_EXPIRED)
		return cc_error_set(err, 0, "signed by key %s, which has expired", fpr);
	if (sig->summary & GPGME_SIGSUM_SIG_EXPIRED)
		return cc_error_set(err, 0, "the signature by key %s has expired", fpr);
	if (sig->validity == GPGME_VALIDITY_NEVER || sig->validity_reason || sig->wrong_key_usage)
		return cc_error_set(err, 0, "invalid signature by key %s%s", fpr,
				    sig->wrong_key_usage ? " (a key not meant for signing)" : "");
	const char *primary = trusted_primary(g, sig->fpr);
	if (!primary)
		return cc_error_set(err, 0, "signed by key %s, which is not trusted", fpr);
	*signer = xstrdup(primary);
	return 0;
}

int sign_gpg_verify(struct sign_gpg *g, const void *blob, size_t blob_len, unsigned char **payload,
		    size_t *len, char **signer, struct cc_error **err)
{
	gpgme_ctx_t ctx = NULL;
	gpgme_data_t in = NULL, out = NULL;
	struct bounded b = { 0 };
	struct gpgme_data_cbs cbs = { .write = bounded_write };
	gpgme_error_t e;
	if (crypt_pgp_ctx(g->home, NULL, &ctx, err) < 0)
		return -1;
	int r = -1;
	if ((e = gpgme_data_new_from_mem(&in, blob, blob_len, 0)) ||
	    (e = gpgme_data_new_from_cbs(&out, &cbs, &b))) {
		cc_error_set(err, 0, "OpenPGP: %s", gpgme_strerror(e));
		goto out;
	}
	e = gpgme_op_verify(ctx, in, NULL, out);
	gpgme_verify_result_t res = e ? NULL : gpgme_op_verify_result(ctx);
	size_t n = 0;
	for (gpgme_signature_t s = res ? res->signatures : NULL; s; s = s->next)
		n++;
	if (b.over)
		cc_error_set(err, 0, "the signed payload is larger than %u bytes", PAYLOAD_MAX);
	else if (e)
		cc_error_set(err, 0, "not an OpenPGP signed message: %s", gpgme_strerror(e));
	else if (n != 1)
		cc_error_set(err, 0, "%zu signatures in the message, 1 expected", n);
	else if (judge(g, res->signatures, signer, err) == 0) {
		*payload = b.p ? b.p : (unsigned char *)xstrdup("");
		*len = b.len;
		b.p = NULL;
		r = 0;
	}
out:
	free(b.p);
	gpgme_data_release(out);
	gpgme_data_release(in);
	gpgme_release(ctx);
	return r;
}

/* ---- signing ---- */

int sign_gpg_sign(const char *home, const char *fpr, const char *passphrase, const void *payload,
		  size_t len, unsigned char **blob, size_t *blob_len, struct cc_error **err)
{
	struct crypt_buf pass = { 0 };
	if (passphrase)
		crypt_buf_set(&pass, passphrase, strlen(passphrase));
	gpgme_ctx_t ctx = NULL;
	gpgme_data_t in = NULL, out = NULL;
	gpgme_key_t key = NULL;
	gpgme_error_t e;
	int r = -1;
	if (crypt_pgp_ctx(home, &pass, &ctx, err) < 0) {
		crypt_buf_wipe(&pass);
		return -1;
	}
	gpgme_set_armor(ctx, 0);
	if ((e = gpgme_get_key(ctx, fpr, &key, 1))) {
		cc_error_set(err, 0, "GPG key %s: no such secret key%s%s", fpr,
			     gpgme_err_code(e) == GPG_ERR_EOF ? "" : ": ",
			     gpgme_err_code(e) == GPG_ERR_EOF ? "" : gpgme_strerror(e));
		goto out;
	}
	if ((e = gpgme_signers_add(ctx, key)) ||
	    (e = gpgme_data_new_from_mem(&in, payload, len, 0)) || (e = gpgme_data_new(&out)) ||
	    (e = gpgme_op_sign(ctx, in, out, GPGME_SIG_MODE_NORMAL))) {
		cc_error_set(err, 0, "signing with GPG key %s: %s", fpr,
			     gpgme_err_code(e) == GPG_ERR_CANCELED ? "wrong or missing passphrase"
								   : gpgme_strerror(e));
		goto out;
	}
	size_t n;
	char *p = gpgme_data_release_and_get_mem(out, &n);
	out = NULL;
	*blob = xmalloc(n ? n : 1);
	memcpy(*blob, p, n);
	*blob_len = n;
	gpgme_free(p);
	r = 0;
out:
	gpgme_key_unref(key);
	gpgme_data_release(out);
	gpgme_data_release(in);
	gpgme_release(ctx);
	crypt_buf_wipe(&pass);
	return r;
}
