// SPDX-License-Identifier: Apache-2.0
/* Cosign signatures in the tag-based layout: keys, signing and verifying, .sig manifests (see
 * cosign.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include "image/manifest.h"
#include "image/reference.h"
#include "image/stream.h"
#include "sign/cosign.h"
#include "util/cleanup.h"
#include "util/json.h"

/* A key file is a few hundred bytes; an RSA-8192 private key is under 7 KiB. */
#define KEY_PEM_MAX (64u << 10)
/* An RSA-8192 signature is 1368 bytes of base64: the bound leaves room and no more. */
#define SIG_B64_MAX (16u << 10)
/* Below this RSA offers no real security; cosign's own keys are ECDSA P-256. */
#define RSA_BITS_MIN 2048

#define ACCEPTED_PUBLIC "accepted are ECDSA P-256, RSA (2048 bits or more) and Ed25519 keys"
#define ACCEPTED_PRIVATE                                                                     \
	"accepted are unencrypted ECDSA P-256 keys in PEM \"PRIVATE KEY\" (PKCS#8) or \"EC " \
	"PRIVATE KEY\" (SEC1)"
#define CERTIFICATE_ANNOTATION "dev.sigstore.cosign/certificate"
#define BUNDLE_ANNOTATION "dev.sigstore.cosign/bundle"
/* The error context of sign_cosign_manifest_build, whose input comes from the caller. */
#define BUILD_WHAT "cosign .sig manifest"

struct sign_cosign_key {
	EVP_PKEY *pkey;
	char *name;
	bool private;
};

/* ---- keys ---- */

/* The first PEM block of a key file. The bytes go to OpenSSL's secure heap, cleared when
 * freed: the block may be a private key. */
struct pem_block {
	char *label;
	char *header; /* "Proc-Type: 4,ENCRYPTED ..." for a legacy encrypted key */
	unsigned char *der;
	long len;
};

static void pem_block_clear(struct pem_block *b)
{
	OPENSSL_secure_free(b->label);
	OPENSSL_secure_free(b->header);
	OPENSSL_secure_clear_free(b->der, b->len > 0 ? (size_t)b->len : 0);
	memset(b, 0, sizeof(*b));
}
#define _cleanup_pem_ __attribute__((cleanup(pem_block_clear)))

/* The first PEM block of pem but "EC PARAMETERS", which `openssl ecparam -genkey` writes
 * before the key. */
static int pem_read(const void *pem, size_t len, const char *name, struct pem_block *b,
		    struct cc_error **err)
{
	if (len > KEY_PEM_MAX)
		return cc_error_set(err, 0, "%s: %zu bytes, more than %u for a key", name, len,
				    KEY_PEM_MAX);
	BIO *bio = BIO_new_mem_buf(pem ? pem : "", (int)len);
	if (!bio)
		abort(); /* only allocation fails here */
	int ok;
	do {
		pem_block_clear(b);
		ok = PEM_read_bio_ex(bio, &b->label, &b->header, &b->der, &b->len,
				     PEM_FLAG_SECURE | PEM_FLAG_EAY_COMPATIBLE);
	} while (ok == 1 && !strcmp(b->label, "EC PARAMETERS"));
	BIO_free(bio);
	ERR_clear_error();
	if (ok != 1) {
		memset(b, 0, sizeof(*b)); /* nothing was allocated */
		return cc_error_set(err, 0, "%s: no PEM block found", name);
	}
	return 0;
}

/* "an ECDSA P-384 key", "a 1024-bit RSA key", "a key of type ED448", for messages. */
static void describe(const EVP_PKEY *k, char *buf, size_t size)
{
	char group[80];
	if (EVP_PKEY_is_a(k, "EC")) {
		if (EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group,
						   sizeof(group), NULL) != 1) {
			snprintf(buf, size, "an EC key with explicit curve parameters");
		} else {
			const char *nist = EC_curve_nid2nist(OBJ_sn2nid(group));
			snprintf(buf, size, "an ECDSA %s key", nist ? nist : group);
		}
	} else if (EVP_PKEY_is_a(k, "RSA")) {
		snprintf(buf, size, "a %d-bit RSA key", EVP_PKEY_get_bits(k));
	} else {
		const char *type = EVP_PKEY_get0_type_name(k);
		snprintf(buf, size, "a key of type %s", type ? type : "unknown");
	}
	ERR_clear_error();
}

static bool is_p256(const EVP_PKEY *k)
{
	char group[80];
	bool yes = EVP_PKEY_is_a(k, "EC") &&
		   EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group,
						  sizeof(group), NULL) == 1 &&
		   OBJ_sn2nid(group) == NID_X9_62_prime256v1;
	ERR_clear_error();
	return yes;
}

static bool verify_type_ok(const EVP_PKEY *k)
{
	return is_p256(k) || EVP_PKEY_is_a(k, "ED25519") ||
	       (EVP_PKEY_is_a(k, "RSA") && EVP_PKEY_get_bits(k) >= RSA_BITS_MIN);
}

static struct sign_cosign_key *key_new(EVP_PKEY *pkey, const char *name, bool private)
{
	struct sign_cosign_key *k = xzalloc(sizeof(*k));
	k->pkey = pkey;
	k->name = xstrdup(name);
	k->private = private;
	return k;
}

struct sign_cosign_key *sign_cosign_key_public(const void *pem, size_t len, const char *name,
					       struct cc_error **err)
{
	_cleanup_pem_ struct pem_block b = { 0 };
	char shown[CC_SHOWN_BUF], what[128];

	name = name ? name : "public key";
	if (pem_read(pem, len, name, &b, err) < 0)
		return NULL;
	if (strcmp(b.label, "PUBLIC KEY")) {
		cc_shown(b.label, strlen(b.label), shown);
		cc_error_set(err, 0, "%s: PEM \"%s\" is not a public key (PEM \"PUBLIC KEY\")",
			     name, shown);
		return NULL;
	}
	const unsigned char *p = b.der;
	EVP_PKEY *k = d2i_PUBKEY(NULL, &p, b.len);
	ERR_clear_error();
	if (!k || p != b.der + b.len) {
		EVP_PKEY_free(k);
		cc_error_set(err, 0, "%s: PEM \"PUBLIC KEY\" is not a valid SubjectPublicKeyInfo",
			     name);
		return NULL;
	}
	if (!verify_type_ok(k)) {
		describe(k, what, sizeof(what));
		EVP_PKEY_free(k);
		cc_error_set(err, 0, "%s: %s; " ACCEPTED_PUBLIC, name, what);
		return NULL;
	}
	return key_new(k, name, false);
}

/* The DER of a "PRIVATE KEY" or "EC PRIVATE KEY" block, all of it. */
static EVP_PKEY *decode_private(const struct pem_block *b)
{
	const unsigned char *p = b->der;
	EVP_PKEY *k = NULL;

	if (!strcmp(b->label, "PRIVATE KEY")) {
		PKCS8_PRIV_KEY_INFO *p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, b->len);
		if (p8 && p == b->der + b->len)
			k = EVP_PKCS82PKEY(p8);
		PKCS8_PRIV_KEY_INFO_free(p8); /* clears the key bytes */
	} else {
		k = d2i_PrivateKey(EVP_PKEY_EC, NULL, &p, b->len);
		if (k && p != b->der + b->len) {
			EVP_PKEY_free(k);
			k = NULL;
		}
	}
	ERR_clear_error();
	return k;
}

/* Why a PEM block is not a key we can sign with, or NULL when it may be one. */
static const char *private_refusal(const struct pem_block *b)
{
	if (!strcmp(b->label, "ENCRYPTED COSIGN PRIVATE KEY") ||
	    !strcmp(b->label, "ENCRYPTED SIGSTORE PRIVATE KEY"))
		return "the encrypted cosign key format is not supported";
	if (!strcmp(b->label, "ENCRYPTED PRIVATE KEY") || (b->header && *b->header))
		return "an encrypted key is not supported";
	if (!strcmp(b->label, "PUBLIC KEY"))
		return "a public key, not a private key";
	if (strcmp(b->label, "PRIVATE KEY") && strcmp(b->label, "EC PRIVATE KEY"))
		return "not a private key";
	return NULL;
}

struct sign_cosign_key *sign_cosign_key_private(const void *pem, size_t len, const char *name,
						struct cc_error **err)
{
	_cleanup_pem_ struct pem_block b = { 0 };
	char shown[CC_SHOWN_BUF], what[128];

	name = name ? name : "private key";
	if (pem_read(pem, len, name, &b, err) < 0)
		return NULL;
	const char *why = private_refusal(&b);
	if (why) {
		cc_shown(b.label, strlen(b.label), shown);
		cc_error_set(err, 0, "%s: PEM \"%s\": %s; " ACCEPTED_PRIVATE, name, shown, why);
		return NULL;
	}
	EVP_PKEY *k = decode_private(&b);
	if (!k) {
		cc_error_set(err, 0, "%s: PEM \"%s\" does not hold a valid key", name, b.label);
		return NULL;
	}
	if (!is_p256(k)) {
		describe(k, what, sizeof(what));
		EVP_PKEY_free(k);
		cc_error_set(err, 0, "%s: %s; signing takes an ECDSA P-256 key", name, what);
		return NULL;
	}
	return key_new(k, name, true);
}

void sign_cosign_key_free(struct sign_cosign_key *k)
{
	if (!k)
		return;
	EVP_PKEY_free(k->pkey); /* OpenSSL clears private key material */
	free(k->name);
	free(k);
}

const char *sign_cosign_key_name(const struct sign_cosign_key *k)
{
	return k->name;
}

/* ---- signatures ---- */

static char *b64_encode(const unsigned char *buf, size_t len)
{
	char *out = xmalloc((len + 2) / 3 * 4 + 1);
	EVP_EncodeBlock((unsigned char *)out, buf, (int)len);
	return out;
}

static bool b64_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/';
}

/* Standard base64 with padding, strictly: one value has one encoding. EVP_DecodeBlock alone
 * skips whitespace at the ends and ignores the unused bits of the last group, so the text must
 * also be the encoding of what it decodes to. The length of out, or -1. */
static int b64_decode(const char *s, size_t len, unsigned char *out)
{
	if (len % 4)
		return -1;
	size_t pad = len && s[len - 1] == '=' ? (len > 1 && s[len - 2] == '=' ? 2 : 1) : 0;
	for (size_t i = 0; i < len - pad; i++)
		if (!b64_char(s[i]))
			return -1;
	if (!len)
		return 0;
	int n = EVP_DecodeBlock(out, (const unsigned char *)s, (int)len);
	if (n < 0 || (size_t)n < pad)
		return -1;
	n -= (int)pad;
	_cleanup_free_ char *again = b64_encode(out, (size_t)n);
	return strlen(again) == len && !memcmp(again, s, len) ? n : -1;
}

static int ossl_fail(struct cc_error **err, const char *what, const char *name)
{
	char buf[256];
	unsigned long e = ERR_peek_last_error();
	if (e)
		ERR_error_string_n(e, buf, sizeof(buf));
	else
		snprintf(buf, sizeof(buf), "unknown OpenSSL error");
	ERR_clear_error();
	return cc_error_set(err, 0, "%s with key %s: %s", what, name, buf);
}

/* ECDSA and RSA (PKCS#1 v1.5) sign SHA-256 of the payload; Ed25519 signs the payload itself. */
static bool verify_init(EVP_MD_CTX *ctx, EVP_PKEY *pkey)
{
	EVP_PKEY_CTX *pctx = NULL;
	const char *md = EVP_PKEY_is_a(pkey, "ED25519") ? NULL : "SHA256";
	if (EVP_DigestVerifyInit_ex(ctx, &pctx, md, NULL, NULL, pkey, NULL) != 1)
		return false;
	return !EVP_PKEY_is_a(pkey, "RSA") ||
	       EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) > 0;
}

int sign_cosign_verify(const struct sign_cosign_key *k, const void *payload, size_t len,
		       const char *sig_b64, struct cc_error **err)
{
	size_t b64_len = strlen(sig_b64);
	if (b64_len > SIG_B64_MAX)
		return cc_error_set(err, 0, "signature is %zu bytes of base64, more than %u",
				    b64_len, SIG_B64_MAX);
	_cleanup_free_ unsigned char *sig = xmalloc(b64_len / 4 * 3 + 1);
	int n = b64_decode(sig_b64, b64_len, sig);
	if (n < 0)
		return cc_error_set(err, 0, "signature is not valid base64");

	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx)
		abort();
	if (!verify_init(ctx, k->pkey)) {
		EVP_MD_CTX_free(ctx);
		return ossl_fail(err, "verify", k->name);
	}
	/* 0 for a wrong signature, negative for one that is not even well-formed DER */
	int ok = EVP_DigestVerify(ctx, sig, (size_t)n, payload ? payload : "", len);
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	if (ok != 1)
		return cc_error_set(err, 0, "signature does not verify with key %s", k->name);
	return 0;
}

char *sign_cosign_sign(const struct sign_cosign_key *k, const void *payload, size_t len,
		       struct cc_error **err)
{
	if (!k->private) {
		cc_error_set(err, 0, "key %s is a public key: signing takes a private key",
			     k->name);
		return NULL;
	}
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	_cleanup_free_ unsigned char *sig = NULL;
	size_t n = 0;
	if (!ctx)
		abort();
	payload = payload ? payload : "";
	/* The first call gives the largest size of a DER signature, the second the real one. */
	int ok = EVP_DigestSignInit_ex(ctx, NULL, "SHA256", NULL, NULL, k->pkey, NULL) == 1 &&
		 EVP_DigestSign(ctx, NULL, &n, payload, len) == 1;
	if (ok) {
		sig = xmalloc(n);
		ok = EVP_DigestSign(ctx, sig, &n, payload, len) == 1;
	}
	EVP_MD_CTX_free(ctx);
	if (!ok) {
		ossl_fail(err, "sign", k->name);
		return NULL;
	}
	return b64_encode(sig, n);
}

char *sign_cosign_tag(const char *manifest_digest)
{
	if (!img_digest_valid(manifest_digest))
		return NULL;
	size_t alg = strcspn(manifest_digest, ":");
	return xasprintf("%.*s-%s.sig", (int)alg, manifest_digest, manifest_digest + alg + 1);
}

/* ---- .sig manifests ---- */

void sign_cosign_layers_free(struct sign_cosign_layer *layers, size_t n)
{
	for (size_t i = 0; layers && i < n; i++) {
		free(layers[i].digest);
		free(layers[i].signature);
	}
	free(layers);
}

/* An annotation of a signature layer: annotations are strings (map[string]string in the Go
 * writers), so another type makes the manifest malformed. */
static int annotation(const struct cc_json_reader *r, const json_t *ann, const char *path,
		      const char *key, bool *has)
{
	int ret = 0;
	*has = false;
	if (ann)
		*has = cc_json_member(r, ann, path, key, JSON_STRING, false, &ret) != NULL;
	return ret;
}

/* Layer l (at path) into *out when it is a signature; *used says whether it was. */
static int parse_layer(const struct cc_json_reader *r, const json_t *l, const char *path,
		       struct sign_cosign_layer *out, bool *used)
{
	_cleanup_free_ char *mt = NULL, *ann_path = cc_json_key_path(path, "annotations");
	int ret;

	*used = false;
	if (!json_is_object(l))
		return cc_json_fail(r, path, "expected object, got %s", cc_json_type_name(l));
	if (cc_json_str(r, l, path, "mediaType", false, &mt) < 0)
		return -1;
	if (!mt || strcmp(mt, SIGN_COSIGN_MEDIA_TYPE))
		return 0; /* another kind of attachment */
	const json_t *ann = cc_json_member(r, l, path, "annotations", JSON_OBJECT, false, &ret);
	if (ret < 0 || cc_json_str(r, ann, ann_path, SIGN_COSIGN_SIGNATURE_ANNOTATION, false,
				   &out->signature) < 0)
		return -1;
	if (!out->signature)
		return 0; /* not signed: nothing to verify, as containers/image skips it */
	if (annotation(r, ann, ann_path, CERTIFICATE_ANNOTATION, &out->has_certificate) < 0 ||
	    annotation(r, ann, ann_path, BUNDLE_ANNOTATION, &out->has_bundle) < 0 ||
	    cc_json_str(r, l, path, "digest", true, &out->digest) < 0)
		return -1;
	if (!img_digest_valid(out->digest)) {
		char shown[CC_SHOWN_BUF]; /* the registry chose it */
		_cleanup_free_ char *p = cc_json_key_path(path, "digest");
		cc_shown(out->digest, strlen(out->digest), shown);
		return cc_json_fail(r, p, "\"%s\" is not a valid digest", shown);
	}
	bool has_size = false;
	if (cc_json_int(r, l, path, "size", 0, SIGN_COSIGN_PAYLOAD_MAX, &out->size, &has_size) < 0)
		return -1;
	if (!has_size) {
		_cleanup_free_ char *p = cc_json_key_path(path, "size");
		return cc_json_fail(r, p, "required");
	}
	*used = true;
	return 0;
}

/* The top level of an image manifest: its layers array. */
static const json_t *manifest_layers(const struct cc_json_reader *r, const json_t *root)
{
	_cleanup_free_ char *mt = NULL;
	int64_t version = 0;
	bool has = false;
	int ret;

	if (!json_is_object(root)) {
		cc_json_fail(r, "", "expected object, got %s", cc_json_type_name(root));
		return NULL;
	}
	if (cc_json_int(r, root, "", "schemaVersion", INT64_MIN, INT64_MAX, &version, &has) < 0)
		return NULL;
	if (!has || version != 2) {
		if (!has)
			cc_json_fail(r, "schemaVersion", "required");
		else
			cc_json_fail(r, "schemaVersion", "%lld, not 2", (long long)version);
		return NULL;
	}
	if (cc_json_str(r, root, "", "mediaType", false, &mt) < 0)
		return NULL;
	if (mt && strcmp(mt, IMG_MT_OCI_MANIFEST) && strcmp(mt, IMG_MT_DOCKER_MANIFEST)) {
		char shown[CC_SHOWN_BUF];
		cc_shown(mt, strlen(mt), shown);
		cc_json_fail(r, "mediaType", "\"%s\" is not an image manifest", shown);
		return NULL;
	}
	if (!cc_json_member(r, root, "", "config", JSON_OBJECT, true, &ret))
		return NULL;
	const json_t *layers = cc_json_member(r, root, "", "layers", JSON_ARRAY, true, &ret);
	if (layers && json_array_size(layers) > SIGN_COSIGN_LAYERS_MAX) {
		cc_json_fail(r, "layers", "%zu entries, more than %d", json_array_size(layers),
			     SIGN_COSIGN_LAYERS_MAX);
		return NULL;
	}
	return layers;
}

int sign_cosign_manifest_parse(const char *name, const char *body, size_t len,
			       struct sign_cosign_layer **layers, size_t *n, struct cc_error **err)
{
	const struct cc_json_reader r = { name, err };
	*layers = NULL;
	*n = 0;
	if (len > IMG_MANIFEST_MAX)
		return cc_json_fail(&r, "", "%zu bytes, more than %u", len, IMG_MANIFEST_MAX);
	_cleanup_json_ json_t *root = cc_json_load_buf(name, body, len, err);
	if (!root)
		return -1;
	const json_t *arr = manifest_layers(&r, root);
	if (!arr)
		return -1;

	struct sign_cosign_layer *out = xcalloc(json_array_size(arr) + 1, sizeof(*out));
	size_t used = 0;
	for (size_t i = 0; i < json_array_size(arr); i++) {
		_cleanup_free_ char *path = cc_json_index_path("layers", i);
		bool is_sig = false;
		if (parse_layer(&r, json_array_get(arr, i), path, &out[used], &is_sig) < 0) {
			sign_cosign_layers_free(out, used + 1);
			return -1;
		}
		if (is_sig) /* a skipped layer leaves out[used] empty */
			used++;
	}
	if (!used) {
		free(out);
		out = NULL;
	}
	*layers = out;
	*n = used;
	return 0;
}

static int check_layer(const struct sign_cosign_layer *l, size_t i, struct cc_error **err)
{
	char shown[CC_SHOWN_BUF];
	if (!l->digest)
		return cc_error_set(err, 0, BUILD_WHAT ": layer %zu: no digest", i);
	if (!img_digest_valid(l->digest)) {
		cc_shown(l->digest, strlen(l->digest), shown);
		return cc_error_set(err, 0, BUILD_WHAT ": layer %zu: \"%s\" is not a valid digest",
				    i, shown);
	}
	if (l->size < 0 || l->size > SIGN_COSIGN_PAYLOAD_MAX)
		return cc_error_set(err, 0,
				    BUILD_WHAT ": layer %zu: size %lld out of range [0, %u]", i,
				    (long long)l->size, SIGN_COSIGN_PAYLOAD_MAX);
	if (!l->signature || !*l->signature)
		return cc_error_set(err, 0, BUILD_WHAT ": layer %zu: no signature", i);
	/* Only the signature is kept: rewriting the layer would drop the Fulcio certificate or
	 * the Rekor bundle and leave a signature that no longer verifies keylessly. */
	if (l->has_certificate || l->has_bundle)
		return cc_error_set(err, 0,
				    BUILD_WHAT ": layer %zu: it has a %s, which cannot be carried "
					       "over",
				    i, l->has_certificate ? "certificate" : "bundle");
	return 0;
}

static char *dump(const json_t *j, size_t *len)
{
	char *s = json_dumps(j, JSON_COMPACT);
	if (!s)
		abort(); /* only allocation fails here */
	*len = strlen(s);
	return s;
}

int sign_cosign_manifest_build(const struct sign_cosign_layer *layers, size_t n, char **config,
			       size_t *config_len, char **manifest, size_t *manifest_len,
			       struct cc_error **err)
{
	*config = *manifest = NULL;
	*config_len = *manifest_len = 0;
	if (!n || n > SIGN_COSIGN_LAYERS_MAX)
		return cc_error_set(err, 0, BUILD_WHAT ": %zu signatures, not 1 to %d", n,
				    SIGN_COSIGN_LAYERS_MAX);
	_cleanup_json_ json_t *diff_ids = json_array();
	_cleanup_json_ json_t *descs = json_array();
	for (size_t i = 0; i < n; i++) {
		if (check_layer(&layers[i], i, err) < 0)
			return -1;
		json_t *d =
		    json_pack("{s:s, s:s, s:I, s:{s:s}}", "mediaType", SIGN_COSIGN_MEDIA_TYPE,
			      "digest", layers[i].digest, "size", (json_int_t)layers[i].size,
			      "annotations", SIGN_COSIGN_SIGNATURE_ANNOTATION, layers[i].signature);
		if (!d || json_array_append_new(descs, d) < 0 ||
		    json_array_append_new(diff_ids, json_string(layers[i].digest)) < 0)
			abort();
	}
	/* Key order as containers/image's Go structs marshal them. */
	_cleanup_json_ json_t *c =
	    json_pack("{s:s, s:s, s:{}, s:{s:s, s:O}}", "architecture", "", "os", "", "config",
		      "rootfs", "type", "layers", "diff_ids", diff_ids);
	if (!c)
		abort();
	_cleanup_free_ char *cbytes = dump(c, config_len);
	_cleanup_free_ char *cdigest = img_digest_buf(cbytes, *config_len);
	_cleanup_json_ json_t *m =
	    json_pack("{s:i, s:s, s:{s:s, s:s, s:I}, s:O}", "schemaVersion", 2, "mediaType",
		      IMG_MT_OCI_MANIFEST, "config", "mediaType", IMG_MT_OCI_CONFIG, "digest",
		      cdigest, "size", (json_int_t)*config_len, "layers", descs);
	if (!m)
		abort();
	*manifest = dump(m, manifest_len);
	*config = steal_pointer(&cbytes);
	return 0;
}
