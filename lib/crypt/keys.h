/* SPDX-License-Identifier: Apache-2.0 */
/* Key material behind struct crypt_keys and struct crypt_recipients (crypt.h), for layer.c
 * and the tests. */
#pragma once

#include <stdbool.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include "crypt/crypt.h"
#include "crypt/kbc.h"
#include "crypt/keyprovider.h"
#include "crypt/pgp.h"

/* A "provider:<name>[:<param>]" spec, resolved. */
struct crypt_provider_ref {
	char *name;
	char *param;			  /* NULL: none */
	const struct crypt_provider *cmd; /* a cmd provider of the config, or */
	struct crypt_kbc *kbc;		  /* the in-process key broker client */
};

/* What keys and recipients share: options and key providers. */
struct crypt_env {
	char *gnupg_home;
	bool use_gnupg_home;
	int timeout_ms;
	char *provider_config_path;
	struct crypt_kbc_opts kbc_opts; /* strings owned */
	struct crypt_provider_config conf;
	bool conf_loaded;
	struct crypt_provider_ref *providers;
	size_t n_providers;
};

struct crypt_keys {
	struct crypt_env env;
	EVP_PKEY **pkeys;
	size_t n_pkeys;
	X509 **certs;
	size_t n_certs;
	struct crypt_pgp_keyring *rings;
	size_t n_rings;
};

struct crypt_recipients {
	struct crypt_env env;
	EVP_PKEY **jwe;
	size_t n_jwe;
	X509 **pkcs7;
	size_t n_pkcs7;
	char **pgp;
	size_t n_pgp;
};

/* "<name>[:<param>]" (after "provider:"): resolve against the config and the KBCs. */
CC_MUST_CHECK int crypt_env_add_provider(struct crypt_env *env, const char *spec,
					 struct cc_error **err);

/* Key file decoding (keyfile.c). data is the file's content; pass may be empty.
 * Adds whatever the file holds (private key, certificates, OpenPGP secret keyring) to keys and
 * returns how many items; 0 when it holds nothing usable; -1 for a key that cannot be
 * decrypted (missing or wrong password) or is of an unsupported type. */
CC_MUST_CHECK int crypt_keyfile_load(struct crypt_keys *keys, const char *what,
				     const struct crypt_buf *data, const struct crypt_buf *pass,
				     struct cc_error **err);
/* A public key (PEM/DER SubjectPublicKeyInfo, or a certificate's) for a JWE recipient. */
CC_MUST_CHECK EVP_PKEY *crypt_keyfile_public(const char *what, const struct crypt_buf *data,
					     struct cc_error **err);
/* An RSA certificate (PEM or DER) for a PKCS#7 recipient. */
CC_MUST_CHECK X509 *crypt_keyfile_cert(const char *what, const struct crypt_buf *data,
				       struct cc_error **err);
