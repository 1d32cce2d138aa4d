// SPDX-License-Identifier: Apache-2.0
/* Simple signing's OpenPGP envelope through gpgme. See gpg.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <gpgme.h>
#include "crypt/internal.h"
#include "crypt/pgp.h"
#include "sign/gpg.h"
#include "util/cleanup.h"
#include "util/fs.h"

/* A signed message's payload can be compressed: its expansion is bounded too. */
#define PAYLOAD_MAX (4u << 20)

/* The keyring is a file of the policy's public keys that gpg.conf in the private home names
 * as gpg's only keyring (no-default-keyring), with no agent and no key retrieval: a
 * verification is then one gpg run, and a key gpg can use is one the policy gave. */
struct sign_gpg {
	char *home;
	char *keyring;
	size_t n_keys;
};

struct sign_gpg *sign_gpg_new(struct cc_error **err)
{
	char *home = crypt_pgp_home_new(err);
	if (!home)
		return NULL;
	struct sign_gpg *g = xzalloc(sizeof(*g));
	g->home = home;
	g->keyring = xasprintf("%s/policy-keys.gpg", home);
	_cleanup_free_ char *conf_path = xasprintf("%s/gpg.conf", home);
	_cleanup_free_ char *conf = xasprintf("no-default-keyring\nkeyring %s\nno-autostart\n"
					      "no-auto-key-retrieve\n",
					      g->keyring);
	if (cc_write_file(conf_path, conf, strlen(conf), 0600, err) < 0 ||
	    cc_write_file(g->keyring, "", 0, 0600, err) < 0) {
		sign_gpg_free(g);
		return NULL;
	}
	return g;
}

void sign_gpg_free(struct sign_gpg *g)
{
	if (!g)
		return;
	crypt_pgp_home_remove(g->home);
	free(g->home);
	free(g->keyring);
	free(g);
}

/* An ASCII-armored block's binary contents (RFC 4880 §6.2: headers, a blank line, base64,
 * an optional "=" checksum line, the END line), or NULL when it is not armored. */
static unsigned char *dearmor(const char *text, size_t len, size_t *out_len)
{
	static const char begin[] = "-----BEGIN PGP PUBLIC KEY BLOCK-----";
	const char *end = text + len, *p = memmem(text, len, begin, sizeof(begin) - 1);
	if (!p)
		return NULL;
	/* headers end at the first empty line */
	const char *body = NULL;
	for (const char *nl = memchr(p, '\n', (size_t)(end - p)); nl && nl + 1 < end;
	     nl = memchr(nl + 1, '\n', (size_t)(end - nl - 1))) {
		const char *q = nl + 1;
		if (*q == '\n' || (*q == '\r' && q + 1 < end && q[1] == '\n')) {
			body = *q == '\n' ? q + 1 : q + 2;
			break;
		}
	}
	if (!body)
		return NULL;
	_cleanup_free_ char *b64 = xmalloc((size_t)(end - body) + 1);
	size_t n = 0;
	for (const char *q = body; q < end;) {
		const char *eol = memchr(q, '\n', (size_t)(end - q));
		size_t l = (size_t)((eol ? eol : end) - q);
		if (l && q[l - 1] == '\r')
			l--;
		if (l && (*q == '=' || *q == '-'))
			break; /* checksum or END */
		memcpy(b64 + n, q, l);
		n += l;
		q = eol ? eol + 1 : end;
	}
	struct crypt_buf out = { 0 };
	if (crypt_b64_decode(b64, n, CRYPT_B64_STD, &out) < 0)
		return NULL;
	*out_len = out.len;
	return out.p;
}

/* Whether data starts with an OpenPGP public-key packet (tag 6, old or new format). */
static bool starts_with_public_key(const unsigned char *p, size_t len)
{
	if (!len || !(p[0] & 0x80))
		return false;
	unsigned tag = p[0] & 0x40 ? p[0] & 0x3f : (p[0] >> 2) & 0x0f;
	return tag == 6;
}

int sign_gpg_import(struct sign_gpg *g, const void *keys, size_t len, const char *name,
		    struct cc_error **err)
{
	size_t bin_len = len;
	_cleanup_free_ unsigned char *bin = dearmor(keys, len, &bin_len);
	const unsigned char *data = bin ? bin : keys;
	if (!starts_with_public_key(data, bin_len))
		return cc_error_set(err, 0, "GPG keys %s: no public key in it", name);
	_cleanup_close_ int fd = open(g->keyring, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0 || cc_write_all(fd, data, bin_len) < 0)
		return cc_error_errno(err, "GPG keys %s: adding to the keyring", name);
	g->n_keys++;
	return 0;
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
	/* Only the policy's keys are in the keyring: a key gpg verified with is one of them. */
	*signer = xstrdup(fpr);
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
