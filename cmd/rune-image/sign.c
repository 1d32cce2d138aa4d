// SPDX-License-Identifier: Apache-2.0
/*
 * rune-image sign: sign an image that is in a registry, as skopeo copy --sign-by and
 * cosign sign do it.
 *
 *   rune-image sign [--sign-by FINGERPRINT] [--cosign-key FILE] [options] REFERENCE
 *
 * The signature covers the image's top-level manifest (or index) as the registry serves it and
 * the identity REFERENCE (or --sign-identity). A GPG (simple signing) signature goes where
 * registries.d says (the registry's signature extension when it has one, else a file://
 * lookaside); a cosign signature (ECDSA P-256 key) is added to the sha256-<hex>.sig attachment.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "image/registry.h"
#include "rune-image.h"
#include "sign/cosign.h"
#include "sign/gpg.h"
#include "sign/payload.h"
#include "sign/storage.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strv.h"

#define CREATOR "rune-image " RUNE_IMAGE_VERSION
#ifndef RUNE_IMAGE_VERSION
#define RUNE_IMAGE_VERSION "0.1"
#endif
#define PASSPHRASE_MAX 4096
#define KEY_MAX (64u << 10)

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "Usage: rune-image sign [options] REFERENCE\n\n"
	    "Signs the image REFERENCE in its registry (at least one of --sign-by and\n"
	    "--cosign-key).\n\n"
	    "   --sign-by FINGERPRINT       a GPG simple signing signature with this secret key,\n"
	    "                               stored where registries.d says (the registry's\n"
	    "                               signature extension, else a file:// lookaside)\n"
	    "   --gpg-home DIR              the GnuPG home holding it (default: $GNUPGHOME,\n"
	    "                               ~/.gnupg)\n"
	    "   --passphrase-file FILE      the key's passphrase (first line)\n"
	    "   --cosign-key FILE           a cosign signature with this ECDSA P-256 private key\n"
	    "                               (PEM, PKCS#8 or SEC1), pushed to the .sig attachment\n"
	    "   --sign-identity REFERENCE   the identity signed (default: REFERENCE)\n"
	    "   --registries.d DIR          registries.d (default: ~/.config/containers/\n"
	    "                               registries.d if it exists, else /etc/containers/...)\n"
	    "   --creds USER[:PASSWORD], --authfile FILE, --tls-ca FILE,\n"
	    "   --insecure-registry HOST[:PORT]   as for pull\n");
}

struct sign_args {
	const char *gpg_fpr, *gpg_home, *passphrase_file, *cosign_key, *identity;
	struct policy_args pa;
	struct img_registry_opts ro;
};

/* The first line of the passphrase file; the caller wipes and frees it. */
static char *read_passphrase(const char *path, struct cc_error **err)
{
	size_t len;
	char *p = cc_read_file(path, PASSPHRASE_MAX, &len, err);
	if (!p) {
		cc_error_prefix(err, "--passphrase-file %s", path);
		return NULL;
	}
	p[strcspn(p, "\r\n")] = '\0';
	return p;
}

static int sign_gpg(const struct sign_args *a, struct img_registry *reg,
		    const struct sign_registries *rd, const struct img_ref *ref, const char *digest,
		    const char *payload, struct cc_error **err)
{
	char *pass = NULL;
	if (a->passphrase_file && !(pass = read_passphrase(a->passphrase_file, err)))
		return -1;
	unsigned char *blob = NULL;
	size_t len;
	int r = sign_gpg_sign(a->gpg_home, a->gpg_fpr, pass, payload, strlen(payload), &blob, &len,
			      err);
	if (pass) {
		explicit_bzero(pass, strlen(pass));
		free(pass);
	}
	_cleanup_free_ char *where = NULL;
	if (r == 0)
		r = sign_storage_put_simple(reg, rd, ref, digest, blob, len, &where, err);
	free(blob);
	if (r == 0)
		printf("GPG signature by %s: %s\n", a->gpg_fpr, where ? where : "stored");
	return r;
}

static int sign_cosign(const struct sign_args *a, struct img_registry *reg,
		       const struct img_ref *ref, const char *digest, const char *payload,
		       struct cc_error **err)
{
	size_t len;
	_cleanup_free_ char *pem = cc_read_file(a->cosign_key, KEY_MAX, &len, err);
	if (!pem) {
		cc_error_prefix(err, "--cosign-key %s", a->cosign_key);
		return -1;
	}
	struct sign_cosign_key *k = sign_cosign_key_private(pem, len, a->cosign_key, err);
	explicit_bzero(pem, len);
	if (!k)
		return -1;
	_cleanup_free_ char *sig = sign_cosign_sign(k, payload, strlen(payload), err);
	sign_cosign_key_free(k);
	_cleanup_free_ char *where = NULL;
	if (!sig || sign_storage_put_cosign(reg, ref, digest, payload, strlen(payload), sig, &where,
					    err) < 0)
		return -1;
	printf("cosign signature: %s\n", where ? where : "stored");
	return 0;
}

/* Each signature asked for, over the same payload fields. */
static int sign_digest(const struct sign_args *a, struct img_registry *reg,
		       const struct sign_registries *rd, const struct img_ref *ref,
		       const char *identity, const char *digest, struct cc_error **err)
{
	int64_t now = (int64_t)time(NULL);
	_cleanup_free_ char *simple =
	    sign_payload_make(SIGN_SIMPLE, identity, digest, CREATOR, now);
	_cleanup_free_ char *cosign =
	    sign_payload_make(SIGN_COSIGN, identity, digest, CREATOR, now);
	if (a->gpg_fpr && sign_gpg(a, reg, rd, ref, digest, simple, err) < 0)
		return -1;
	if (a->cosign_key && sign_cosign(a, reg, ref, digest, cosign, err) < 0)
		return -1;
	return 0;
}

static int sign_image(const struct sign_args *a, const char *text, struct cc_error **err)
{
	struct img_ref ref;
	if (img_ref_parse(text, &ref, err) < 0)
		return -1;
	_cleanup_free_ char *name = img_ref_string(&ref);
	const char *identity = a->identity ? a->identity : name;
	struct img_ref id;
	if (img_ref_parse_named(identity, &id, err) < 0) {
		img_ref_clear(&ref);
		cc_error_prefix(err, "--sign-identity");
		return -1;
	}
	img_ref_clear(&id);
	struct sign_registries *rd = NULL;
	struct img_registry *reg = NULL;
	_cleanup_free_ char *body = NULL, *ct = NULL, *digest = NULL;
	size_t len;
	int r = -1;
	if (a->gpg_fpr && !(rd = sign_registries_load(policy_args_registries_d(&a->pa), err)))
		goto out;
	if (!(reg = img_registry_open(&ref, &a->ro, err)) ||
	    img_registry_get_manifest(reg, img_ref_manifest_ref(&ref), &body, &len, &ct, &digest,
				      err) < 0)
		goto out;
	r = sign_digest(a, reg, rd, &ref, identity, digest, err);
out:
	if (r < 0)
		cc_error_prefix(err, "sign %s", name);
	img_registry_close(reg);
	sign_registries_free(rd);
	img_ref_clear(&ref);
	return r;
}

int cmd_sign(int argc, char **argv)
{
	enum {
		O_SIGN_BY = 1000,
		O_GPG_HOME,
		O_PASSFILE,
		O_COSIGN,
		O_IDENTITY,
		O_RD,
		O_CREDS,
		O_AUTHFILE,
		O_CA,
		O_INSECURE
	};
	static const struct option opts[] = {
		{ "sign-by", required_argument, NULL, O_SIGN_BY },
		{ "gpg-home", required_argument, NULL, O_GPG_HOME },
		{ "passphrase-file", required_argument, NULL, O_PASSFILE },
		{ "cosign-key", required_argument, NULL, O_COSIGN },
		{ "sign-identity", required_argument, NULL, O_IDENTITY },
		{ "registries.d", required_argument, NULL, O_RD },
		{ "creds", required_argument, NULL, O_CREDS },
		{ "authfile", required_argument, NULL, O_AUTHFILE },
		{ "tls-ca", required_argument, NULL, O_CA },
		{ "insecure-registry", required_argument, NULL, O_INSECURE },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct sign_args a = { 0 };
	_cleanup_strv_ char **insecure = NULL;
	_cleanup_creds_ struct creds creds = { 0 };
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case O_SIGN_BY:
			a.gpg_fpr = optarg;
			break;
		case O_GPG_HOME:
			a.gpg_home = optarg;
			break;
		case O_PASSFILE:
			a.passphrase_file = optarg;
			break;
		case O_COSIGN:
			a.cosign_key = optarg;
			break;
		case O_IDENTITY:
			a.identity = optarg;
			break;
		case O_RD:
			a.pa.registries_d = optarg;
			break;
		case O_CREDS:
			creds_take(&creds, &a.ro, optarg);
			break;
		case O_AUTHFILE:
			a.ro.auth_file = optarg;
			break;
		case O_CA:
			a.ro.ca_file = optarg;
			break;
		case O_INSECURE:
			cc_strv_push(&insecure, optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (argc - optind != 1) {
		fprintf(stderr, "rune-image: sign: exactly one image reference expected\n");
		return 1;
	}
	if (!a.gpg_fpr && !a.cosign_key) {
		fprintf(stderr, "rune-image: sign: --sign-by or --cosign-key is needed\n");
		return 1;
	}
	a.ro.insecure = insecure;
	rune_image_insecure_warnings(insecure);
	struct cc_error *err = NULL;
	int r = sign_image(&a, argv[optind], &err);
	return r < 0 ? rune_image_fail(err) : 0;
}
