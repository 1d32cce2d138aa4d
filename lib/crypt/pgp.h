/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OpenPGP key wrapping (annotation ...enc.keys.pgp) through gpgme.
 *
 * skopeo's --decryption-key takes a secret keyring file (gpg --export-secret-keys) with an
 * optional passphrase; gpgme cannot use such a file directly, so each keyring is imported
 * into a private, temporary GnuPG home (on tmpfs when /dev/shm is usable), used with its
 * passphrase through loopback pinentry, and the home is removed (its agent stopped) before
 * returning. Without keyring files, a GnuPG home (the user's) can be used as it is.
 *
 * Encryption: binary message for the public keys in a GnuPG home whose user id name or
 * e-mail equals a recipient string (or whose fingerprint is given), no compression, as
 * skopeo writes it.
 */
#pragma once

#include <stddef.h>
#include "crypt/internal.h"

struct crypt_pgp_keyring {
	struct crypt_buf data; /* binary or armored secret keyring */
	struct crypt_buf pass; /* empty: no passphrase */
};

/* home: used when n_rings == 0 (NULL: gpg's default home). */
CC_MUST_CHECK int crypt_pgp_decrypt(const unsigned char *msg, size_t len,
				    const struct crypt_pgp_keyring *rings, size_t n_rings,
				    const char *home, struct crypt_buf *plain,
				    struct cc_error **err);
CC_MUST_CHECK int crypt_pgp_encrypt(const char *home, char *const *recipients, size_t n,
				    const void *plain, size_t len, struct crypt_buf *out,
				    struct cc_error **err);
/* A private, temporary GnuPG home (on tmpfs when /dev/shm is usable; mode 0700); the caller
 * frees the string after crypt_pgp_home_remove (which stops its agent and deletes it). */
CC_MUST_CHECK char *crypt_pgp_home_new(struct cc_error **err);
void crypt_pgp_home_remove(const char *home);
/* A gpgme context for OpenPGP in home (NULL: gpg's default), loopback pinentry answered with
 * pass (NULL or empty: none). */
struct gpgme_context;
CC_MUST_CHECK int crypt_pgp_ctx(const char *home, const struct crypt_buf *pass,
				struct gpgme_context **ctx, struct cc_error **err);
/* True if data looks like an OpenPGP secret keyring (binary or armored). */
bool crypt_pgp_is_secret_keyring(const unsigned char *data, size_t len);
