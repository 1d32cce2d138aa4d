/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ocicrypt layer encryption for the image pipeline (prefix crypt_). See docs/crypt.md.
 *
 * Decrypting a layer:
 *
 *     struct crypt_keys *keys = crypt_keys_new(&opts);
 *     crypt_keys_add(keys, "/etc/keys/priv.pem", &err);          // --decryption-key specs
 *     crypt_keys_add(keys, "provider:attestation-agent:offline_fs_kbc::null", &err);
 *     ...
 *     if (crypt_media_type_is_encrypted(desc->media_type)) {
 *             struct crypt_layer *l;
 *             crypt_layer_open(keys, desc->media_type, desc->annotations, &l, &err);
 *             // plain media type (for the compression): crypt_layer_media_type(l)
 *             // per chunk of the blob, after its digest stage:
 *             crypt_layer_update(l, buf, n, buf, &err);
 *             // at the end of the blob, before anything is committed:
 *             crypt_layer_final(l, NULL, &err);                    // HMAC check
 *             crypt_layer_free(l);
 *     }
 *
 * Plaintext handed out by crypt_layer_update() is NOT authenticated until crypt_layer_final()
 * has returned 0: consumers stage what they make of it and commit only afterwards.
 *
 * A crypt_keys may be shared by threads opening layers concurrently once it is built; a
 * crypt_layer belongs to one thread.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include "util/error.h"

/* ---- error classes ---- */

/* cc_error.code of the failures a caller may want to tell apart (0: anything else, such as
 * malformed annotations or an unknown cipher). The values stay clear of gRPC status codes and
 * of lib/image's classes. */
enum crypt_errc {
	CRYPT_ERR_NO_KEY = 2001, /* crypt_layer_open: no given key unwraps the layer key */
	CRYPT_ERR_HMAC,		 /* crypt_layer_final: the ciphertext does not match its HMAC */
	/* A key broker that holds the key could not be reached (set by a KBC's decrypt); when it
	 * is every key's failure, crypt_layer_open says so instead of CRYPT_ERR_NO_KEY. */
	CRYPT_ERR_UNAVAILABLE,
};

/* ---- media types ---- */

/* True for a media type ending in "+encrypted" (the only way ocicrypt marks a layer). */
bool crypt_media_type_is_encrypted(const char *media_type);
/* The plain media type (the suffix stripped); NULL with *err if not encrypted. Caller frees. */
CC_MUST_CHECK char *crypt_media_type_plain(const char *media_type, struct cc_error **err);
/* media_type + "+encrypted", for the tar layer types containers/image encrypts. */
CC_MUST_CHECK char *crypt_media_type_encrypted(const char *media_type, struct cc_error **err);

/* ---- decryption keys ---- */

struct crypt_keys_opts {
	/* ocicrypt.conf of key providers; NULL: $OCICRYPT_KEYPROVIDER_CONFIG (unset: none). */
	const char *keyprovider_config;
	/* GnuPG home with secret keys for pgp-wrapped layers when no keyring file is given
	 * as a key; NULL: $GNUPGHOME, else ~/.gnupg. */
	const char *gnupg_home;
	/* Key files of offline_fs_kbc; NULL: the upstream paths in /etc. */
	const char *offline_fs_keys;
	const char *offline_fs_resources;
	/* How long a key provider command may take; 0: 60 s. */
	int provider_timeout_ms;
	/* Try the GnuPG home's secret keys for pgp-wrapped layers. */
	bool use_gnupg_home;
};

struct crypt_keys;

/* opts may be NULL; its strings are copied. */
struct crypt_keys *crypt_keys_new(const struct crypt_keys_opts *opts);
/*
 * Add decryption keys by a spec as skopeo's --decryption-key takes it:
 *   <path>[:<password>]  with <password> one of pass=<text>, file=<path>, fd=<n> or a bare
 *                        password; <path> is a private key (PEM/DER, PKCS#1/PKCS#8/SEC1,
 *                        encrypted or not), an X.509 certificate (pkcs7 needs the
 *                        recipient's), an OpenPGP secret keyring, or a directory of those;
 *   provider:<name>[:<param>]  a key provider from ocicrypt.conf, or the in-process key broker
 *                        client when <name> is attestation-agent and <param> is <kbc>::<uri>
 *                        (offline_fs_kbc, sample_kbc).
 * Keys are loaded now, so a wrong password or an unreadable file fails here.
 */
CC_MUST_CHECK int crypt_keys_add(struct crypt_keys *keys, const char *spec, struct cc_error **err);
/* Private keys, certificates, keyrings and providers loaded so far. */
size_t crypt_keys_count(const struct crypt_keys *keys);
/* Wipes every secret. NULL is fine. */
void crypt_keys_free(struct crypt_keys *keys);

/* ---- encryption recipients ---- */

struct crypt_recipients;

/* opts: key provider config, GnuPG home (pgp public keys) and timeout as for keys. */
struct crypt_recipients *crypt_recipients_new(const struct crypt_keys_opts *opts);
/*
 * Add a recipient as skopeo's --encryption-key takes it:
 *   jwe:<public key file>    (RSA -> RSA-OAEP, EC -> ECDH-ES+A256KW; PEM or DER SPKI, or a
 *                            certificate)
 *   pkcs7:<certificate file> (RSA; EnvelopedData, AES-256-CBC)
 *   pgp:<user id or e-mail>  (a public key in the GnuPG home)
 *   provider:<name>[:<param>]
 */
CC_MUST_CHECK int crypt_recipients_add(struct crypt_recipients *r, const char *spec,
				       struct cc_error **err);
void crypt_recipients_free(struct crypt_recipients *r);

/* ---- one layer ---- */

struct crypt_layer;

/*
 * Unwrap the layer key from the descriptor's annotations (a JSON object, borrowed) with keys
 * and set up a streaming decryptor. Errors name the annotation and why no key worked, e.g.
 * "no key could unwrap the layer key: org.opencontainers.image.enc.keys.jwe: no key matches
 * any of the 2 JWE recipients".
 */
CC_MUST_CHECK int crypt_layer_open(const struct crypt_keys *keys, const char *media_type,
				   const json_t *annotations, struct crypt_layer **out,
				   struct cc_error **err);
/*
 * Start encrypting a layer for the recipients: a fresh key and nonce, wrapped for each of
 * them now (so a bad recipient fails before any data). digest ("sha256:..", may be NULL) is
 * the plain blob's and is recorded in the private options as ocicrypt does.
 */
CC_MUST_CHECK int crypt_layer_encrypt_begin(const struct crypt_recipients *r,
					    const char *media_type, const char *digest,
					    struct crypt_layer **out, struct cc_error **err);
/* Decrypting: the plain media type. Encrypting: the "+encrypted" media type. */
const char *crypt_layer_media_type(const struct crypt_layer *l);
/* Transform n bytes (out may equal in). */
CC_MUST_CHECK int crypt_layer_update(struct crypt_layer *l, const void *in, size_t n, void *out,
				     struct cc_error **err);
/*
 * End of the layer. Decrypting: checks the HMAC over all the ciphertext, in constant time,
 * and fails with "layer HMAC mismatch: ciphertext or annotations tampered". Encrypting: sets
 * *annotations (caller decrefs) to the annotations for the encrypted descriptor (wrapped keys
 * and pubopts); annotations must be NULL when decrypting.
 */
CC_MUST_CHECK int crypt_layer_final(struct crypt_layer *l, json_t **annotations,
				    struct cc_error **err);
/* Wipes the keys. NULL is fine. */
void crypt_layer_free(struct crypt_layer *l);
