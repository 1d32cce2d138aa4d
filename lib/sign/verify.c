// SPDX-License-Identifier: Apache-2.0
/* The signature gate. See verify.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include "image/error.h"
#include "sign/cosign.h"
#include "sign/gpg.h"
#include "sign/payload.h"
#include "sign/storage.h"
#include "sign/verify.h"
#include "util/cleanup.h"
#include "util/fs.h"

#define KEYFILE_MAX (1u << 20)
#define REASONS_MAX 8 /* per-signature reasons shown in one refusal */

struct sign_verifier *sign_verifier_new(const char *policy_path, const char *registries_d,
					struct cc_error **err)
{
	struct sign_verifier *v = xzalloc(sizeof(*v));
	if (!(v->policy = sign_policy_load(policy_path, err)) ||
	    (registries_d && !(v->registries = sign_registries_load(registries_d, err)))) {
		img_error_code(err, IMG_ERR_POLICY_CONFIG);
		sign_verifier_free(v);
		return NULL;
	}
	return v;
}

void sign_verifier_free(struct sign_verifier *v)
{
	if (!v)
		return;
	sign_policy_free(v->policy);
	sign_registries_free(v->registries);
	free(v);
}

/* ---- one evaluation ---- */

struct eval {
	const struct sign_verifier *v;
	struct img_registry *reg;
	const struct img_ref *ref;
	const char *digest, *manifest;
	size_t len;
	char *image;  /* the reference as text, for messages */
	bool fetched; /* signatures looked up (once, for all requirements) */
	struct sign_found found;
};

/* The manifest's digest with the algorithm of `claimed`. */
static bool digest_matches(const struct eval *e, const char *claimed)
{
	const EVP_MD *md = !strncmp(claimed, "sha256:", 7)   ? EVP_sha256()
			   : !strncmp(claimed, "sha384:", 7) ? EVP_sha384()
			   : !strncmp(claimed, "sha512:", 7) ? EVP_sha512()
							     : NULL;
	unsigned char h[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	if (!md || !EVP_Digest(e->manifest, e->len, h, &n, md, NULL))
		return false;
	const char *hex = claimed + 7;
	if (strlen(hex) != n * 2)
		return false;
	for (unsigned i = 0; i < n; i++) {
		char two[3];
		snprintf(two, sizeof(two), "%02x", h[i]);
		if (hex[2 * i] != two[0] || hex[2 * i + 1] != two[1])
			return false;
	}
	return true;
}

static int fetch(struct eval *e, struct cc_error **err)
{
	if (e->fetched)
		return 0;
	if (sign_storage_fetch(e->reg, e->v->registries, e->ref, e->digest, &e->found, err) < 0) {
		cc_error_prefix(err, "reading the signatures of %s", e->image);
		return -1;
	}
	e->fetched = true;
	return 0;
}

/* The checks every verified payload goes through: its schema, the digest, the identity. */
static int check_payload(const struct eval *e, const struct sign_requirement *q, enum sign_format f,
			 const void *p, size_t n, struct cc_error **err)
{
	struct sign_payload pl;
	if (sign_payload_parse(p, n, f, &pl, err) < 0)
		return -1;
	int r = 0;
	if (!digest_matches(e, pl.manifest_digest))
		r = cc_error_set(err, 0, "it is for manifest %s, not %s", pl.manifest_digest,
				 e->digest);
	else if (!sign_identity_matches(&q->identity, e->ref, pl.docker_reference))
		r = cc_error_set(err, 0, "its identity %s is not accepted for %s",
				 pl.docker_reference, e->image);
	sign_payload_clear(&pl);
	return r;
}

/* Key bytes of a requirement, one source at a time: 1 with *buf set, 0 at the end. */
static int next_key(const struct sign_requirement *q, size_t *i, char **buf, size_t *len,
		    char **name, struct cc_error **err)
{
	size_t n_paths = 0;
	while (q->keys.paths && q->keys.paths[n_paths])
		n_paths++;
	if (*i < n_paths) {
		const char *path = q->keys.paths[(*i)++];
		*name = xstrdup(path);
		if (!(*buf = cc_read_file(path, KEYFILE_MAX, len, err))) {
			cc_error_prefix(err, "key file %s", path);
			return img_error_code(err, IMG_ERR_POLICY_CONFIG);
		}
		return 1;
	}
	size_t d = *i - n_paths;
	if (d >= q->keys.n_data)
		return 0;
	(*i)++;
	*name = xasprintf("keyData%s", q->keys.n_data > 1 ? "s" : "");
	*len = q->keys.data_len[d];
	*buf = xmalloc(*len + 1);
	memcpy(*buf, q->keys.data[d], *len);
	(*buf)[*len] = '\0';
	return 1;
}

/* Collects why each signature did not count: "signature 1 (origin): why; ...". */
struct reasons {
	char *text;
	size_t n;
};

static void reason(struct reasons *rs, const char *origin, struct cc_error **why)
{
	rs->n++;
	if (rs->n <= REASONS_MAX) {
		char *t = xasprintf("%s%s%s: %s", rs->text ? rs->text : "", rs->text ? "; " : "",
				    origin, *why ? (*why)->msg : "refused");
		free(rs->text);
		rs->text = t;
	}
	cc_error_free(why);
}

static int refused(const struct eval *e, struct reasons *rs, const char *kind,
		   struct cc_error **err)
{
	if (!rs->n)
		cc_error_set(err, 0, "a %s signature is required, but %s has none", kind, e->image);
	else
		cc_error_set(err, 0, "no %s signature of %s is accepted: %s%s", kind, e->image,
			     rs->text, rs->n > REASONS_MAX ? "; ..." : "");
	free(rs->text);
	return img_error_code(err, IMG_ERR_POLICY);
}

static int signed_by(struct eval *e, const struct sign_requirement *q, struct cc_error **err)
{
	if (strcmp(q->key_type, "GPGKeys")) {
		cc_error_set(err, 0, "keyType %s is not supported (only GPGKeys)", q->key_type);
		return img_error_code(err, IMG_ERR_POLICY_CONFIG);
	}
	struct sign_gpg *g = sign_gpg_new(err);
	if (!g)
		return -1;
	int r = 0;
	char *buf = NULL, *name = NULL;
	size_t len, i = 0;
	while (r == 0 && (r = next_key(q, &i, &buf, &len, &name, err)) == 1) {
		r = sign_gpg_import(g, buf, len, name, err);
		if (r < 0)
			img_error_code(err, IMG_ERR_POLICY_CONFIG);
		free(buf);
		free(name);
	}
	if (r == 0)
		r = fetch(e, err);
	struct reasons rs = { 0 };
	for (size_t s = 0; r == 0 && s < e->found.n_simple; s++) {
		const struct sign_blob *b = &e->found.simple[s];
		struct cc_error *why = NULL;
		unsigned char *payload = NULL;
		size_t plen;
		char *signer = NULL;
		if (sign_gpg_verify(g, b->data, b->len, &payload, &plen, &signer, &why) == 0 &&
		    check_payload(e, q, SIGN_SIMPLE, payload, plen, &why) == 0) {
			free(payload);
			free(signer);
			free(rs.text);
			sign_gpg_free(g);
			return 0;
		}
		free(payload);
		free(signer);
		reason(&rs, b->origin, &why);
	}
	sign_gpg_free(g);
	if (r < 0) {
		free(rs.text);
		return -1;
	}
	return refused(e, &rs, "GPG", err);
}

static int sigstore_signed(struct eval *e, const struct sign_requirement *q, struct cc_error **err)
{
	const char *unsupported = q->fulcio  ? "fulcio (certificates from a Fulcio CA)"
				  : q->pki   ? "pki (certificates from a private CA)"
				  : q->rekor ? "rekorPublicKey (Rekor transparency-log proofs)"
					     : NULL;
	if (unsupported) {
		cc_error_set(err, 0, "%s is not supported; only public keys are", unsupported);
		return img_error_code(err, IMG_ERR_POLICY_CONFIG);
	}
	struct sign_cosign_key **keys = NULL;
	size_t n_keys = 0, i = 0, len;
	char *buf = NULL, *name = NULL;
	int r;
	while ((r = next_key(q, &i, &buf, &len, &name, err)) == 1) {
		struct sign_cosign_key *k = sign_cosign_key_public(buf, len, name, err);
		free(buf);
		free(name);
		if (!k) {
			r = img_error_code(err, IMG_ERR_POLICY_CONFIG);
			break;
		}
		keys = xrealloc(keys, (n_keys + 1) * sizeof(*keys));
		keys[n_keys++] = k;
	}
	if (r == 0)
		r = fetch(e, err);
	struct reasons rs = { 0 };
	bool ok = false;
	for (size_t s = 0; r == 0 && !ok && s < e->found.n_cosign; s++) {
		const struct sign_blob *b = &e->found.cosign[s];
		struct cc_error *why = NULL;
		for (size_t k = 0; k < n_keys && !ok; k++) {
			cc_error_free(&why);
			ok =
			    sign_cosign_verify(keys[k], b->data, b->len, b->signature, &why) == 0 &&
			    check_payload(e, q, SIGN_COSIGN, b->data, b->len, &why) == 0;
		}
		if (!ok)
			reason(&rs, b->origin, &why);
	}
	for (size_t k = 0; k < n_keys; k++)
		sign_cosign_key_free(keys[k]);
	free(keys);
	if (r < 0 || ok) {
		free(rs.text);
		return r;
	}
	return refused(e, &rs, "sigstore", err);
}

static int requirement(struct eval *e, const struct sign_requirement *q, struct cc_error **err)
{
	switch (q->type) {
	case SIGN_REQ_INSECURE_ACCEPT_ANYTHING:
		return 0;
	case SIGN_REQ_REJECT:
		cc_error_set(err, 0, "%s is rejected", e->image);
		return img_error_code(err, IMG_ERR_POLICY);
	case SIGN_REQ_SIGNED_BY:
		return signed_by(e, q, err);
	case SIGN_REQ_SIGSTORE_SIGNED:
		return sigstore_signed(e, q, err);
	case SIGN_REQ_SIGNED_BASE_LAYER:
		cc_error_set(err, 0, "signedBaseLayer is not implemented");
		return img_error_code(err, IMG_ERR_POLICY);
	}
	return -1;
}

int sign_verify_image(const struct sign_verifier *v, struct img_registry *reg,
		      const struct img_ref *ref, const char *digest, const char *manifest,
		      size_t len, struct cc_error **err)
{
	struct eval e = { .v = v,
			  .reg = reg,
			  .ref = ref,
			  .digest = digest,
			  .manifest = manifest,
			  .len = len,
			  .image = img_ref_string(ref) };
	size_t n;
	_cleanup_free_ char *scope = NULL;
	const struct sign_requirement *reqs = sign_policy_for_docker(v->policy, ref, &n, &scope);
	int r = 0;
	for (size_t i = 0; r == 0 && i < n; i++)
		if ((r = requirement(&e, &reqs[i], err)) < 0)
			cc_error_prefix(err, "policy %s: %s (%s)", v->policy->name, reqs[i].where,
					sign_req_type_name(reqs[i].type));
	sign_found_clear(&e.found);
	free(e.image);
	return r;
}

int sign_pull_gate(void *ctx, struct img_registry *reg, const struct img_ref *ref,
		   const char *digest, const char *manifest, size_t len, struct cc_error **err)
{
	return sign_verify_image(ctx, reg, ref, digest, manifest, len, err);
}
