/* SPDX-License-Identifier: Apache-2.0 */
/* rune-image's subcommands in files of their own, and what they share. */
#pragma once

#include <stdbool.h>
#include "crypt/crypt.h"
#include "util/error.h"

/* Print "rune-image: <message>" once, free err, return the exit status 1. */
int rune_image_fail(struct cc_error *err);

/* --decryption-key / --encryption-key specs and the key provider options. */
struct key_args {
	char **specs;		     /* copies; wiped by key_args_clear */
	const char *provider_config; /* --keyprovider-config (NULL: $OCICRYPT_KEYPROVIDER_CONFIG) */
	int provider_timeout_ms;     /* --keyprovider-timeout (0: lib/crypt's default) */
	const char *offline_fs_keys; /* --offline-fs-keys (NULL: offline_fs_kbc's default) */
};

/* Remember a --decryption-key spec and wipe a password in it out of the process's argv (it
 * stays readable in /proc/PID/cmdline otherwise). */
void key_args_add_secret(struct key_args *k, char *arg);
void key_args_add(struct key_args *k, const char *arg);
/* --keyprovider-timeout SECONDS; false (after printing why) when it is not a number. */
bool key_args_timeout(struct key_args *k, const char *arg);
void key_args_clear(struct key_args *k);
#define _cleanup_key_args_ __attribute__((cleanup(key_args_clear)))
/* The decryption keys in *out (NULL when no spec was given); -1 with *err naming the failing
 * key. Then the encryption recipients. */
CC_MUST_CHECK int key_args_keys(const struct key_args *k, struct crypt_keys **out,
				struct cc_error **err);
CC_MUST_CHECK struct crypt_recipients *key_args_recipients(const struct key_args *k,
							   struct cc_error **err);

/* --creds USER[:PASSWORD]: a private copy that ro's username and password point into, wiped
 * when replaced and by creds_clear; the password is wiped out of the argument at once (it
 * stays readable in /proc/PID/cmdline otherwise). */
struct creds {
	char *buf;
	size_t len;
};
struct img_registry_opts;
void creds_take(struct creds *c, struct img_registry_opts *ro, char *arg);
void creds_clear(struct creds *c);
#define _cleanup_creds_ __attribute__((cleanup(creds_clear)))

/* Options that turn a check off are said at start, one line each, through the log sink:
 * every --insecure-registry of pull and encrypt. */
void rune_image_insecure_warnings(char *const *insecure);

/* rune-image encrypt (encrypt.c); no store involved. */
int cmd_encrypt(int argc, char **argv);

/* The signature policy options of pull (and sign's registries.d), as skopeo takes them. */
struct policy_args {
	const char *policy;	  /* --policy (NULL: $HOME/.config/containers/policy.json when it
				     exists, else /etc/containers/policy.json) */
	const char *registries_d; /* --registries.d (NULL: $HOME/.config/containers/registries.d
				     when it exists, else /etc/containers/registries.d) */
	bool insecure_policy;	  /* --insecure-policy: no policy, every image accepted */
};
struct sign_verifier;
/* The verifier the options ask for (NULL with --insecure-policy, after warning). */
CC_MUST_CHECK int policy_args_verifier(const struct policy_args *a, struct sign_verifier **out,
				       struct cc_error **err);
/* The registries.d directory the options name. */
const char *policy_args_registries_d(const struct policy_args *a);

/* rune-image sign (sign.c). */
int cmd_sign(int argc, char **argv);

/* ---- an encrypted store (view.c) ---- */

#include <stdint.h>
#include <sys/types.h>
struct img_store;
/* --store-key FILE: 32 bytes, or 64 hex digits (and a newline); the file must not be
 * readable or writable by others. The key is wiped on failure. */
CC_MUST_CHECK int ri_read_store_key(const char *path, uint8_t key[32], struct cc_error **err);
/* The writable layer's name for a view at mountpoint (from its real path), and where the
 * daemon serving it logs (/run/rune-image/view-NAME.log); the caller frees both. */
char *ri_view_upper_name(const char *mountpoint);
char *ri_view_log_path(const char *mountpoint);
/* `rune-image unmount` asks the daemon to drop the writable layer once unmounted by making
 * this file (RI_VIEW_DIR/view-NAME.drop); the daemon removes it when done. */
char *ri_view_drop_path(const char *mountpoint);
#define RI_VIEW_DIR "/run/rune-image"
/* Serve the view of diff_ids (lowest first) at mountpoint from a daemon of its own, with the
 * writable layer upper (NULL: read-only); returns once it is mounted (the daemon's pid in
 * *pid_out when not NULL), or -1 with the daemon's error. The daemon holds the store until
 * the view is unmounted. */
CC_MUST_CHECK int ri_view_start(struct img_store *store, char **diff_ids, const char *mountpoint,
				const char *upper, pid_t *pid_out, struct cc_error **err);
