/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Simple signing's cryptographic envelope: an OpenPGP signed message (not detached; binary or
 * armored) that contains the payload, verified by gpg against exactly the keys a policy names
 * (the only keyring of a private, temporary GnuPG home, never the user's), as containers/image
 * verifies it: exactly one signature, valid (not expired, not made by an expired or revoked
 * key, by a key allowed to sign), made by one of those keys or a signing subkey of one.
 * Signing goes through gpgme with the user's GnuPG home.
 */
#pragma once

#include <stddef.h>
#include "util/error.h"

struct sign_gpg;

/* A new, empty private keyring. */
CC_MUST_CHECK struct sign_gpg *sign_gpg_new(struct cc_error **err);
/* Removes the temporary home (and stops its agent). */
void sign_gpg_free(struct sign_gpg *g);
/* Add public keys (a keyring, binary or armored; name says where it came from) to the
 * private keyring. Data that does not start with a public key is an error. */
CC_MUST_CHECK int sign_gpg_import(struct sign_gpg *g, const void *keys, size_t len,
				  const char *name, struct cc_error **err);
/* Verify one signed message; on success the payload (*payload, *len; the caller frees) and the
 * fingerprint of the key that made it (*signer: a primary key or a signing subkey of one; only
 * the keys added are in the keyring). Errors say why ("signed by key F, which is not trusted",
 * "signed by key F, which has expired"). One gpg run, no agent. */
CC_MUST_CHECK int sign_gpg_verify(struct sign_gpg *g, const void *blob, size_t blob_len,
				  unsigned char **payload, size_t *len, char **signer,
				  struct cc_error **err);

/* Sign payload as a binary OpenPGP signed message with the secret key fpr (a fingerprint or
 * key id) from the GnuPG home `home` (NULL: $GNUPGHOME or ~/.gnupg), the passphrase from
 * passphrase (NULL: none, or the agent's). The caller frees *blob. */
CC_MUST_CHECK int sign_gpg_sign(const char *home, const char *fpr, const char *passphrase,
				const void *payload, size_t len, unsigned char **blob,
				size_t *blob_len, struct cc_error **err);
