// SPDX-License-Identifier: Apache-2.0
/* OpenPGP key wrapping through gpgme. See pgp.h. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <gpgme.h>
#include "crypt/pgp.h"
#include "util/cleanup.h"
#include "util/fs.h"

extern char **environ;

#define PGP_MSG_MAX (256u << 10)

static pthread_once_t gpgme_once = PTHREAD_ONCE_INIT;
static bool gpgme_ok;

static void gpgme_setup(void)
{
	gpgme_ok =
	    gpgme_check_version(NULL) && gpgme_engine_check_version(GPGME_PROTOCOL_OpenPGP) == 0;
}

bool crypt_pgp_is_secret_keyring(const unsigned char *data, size_t len)
{
	static const char armor[] = "-----BEGIN PGP PRIVATE KEY BLOCK-----";

	if (len >= sizeof(armor) - 1 && !memcmp(data, armor, sizeof(armor) - 1))
		return true;
	if (len < 2 || !(data[0] & 0x80))
		return false;
	/* Packet tag 5 (Secret-Key), new format (bit 6) or old format. */
	unsigned tag = data[0] & 0x40 ? data[0] & 0x3f : (data[0] >> 2) & 0x0f;
	return tag == 5;
}

static gpgme_error_t passphrase_cb(void *hook, const char *uid_hint, const char *info,
				   int prev_was_bad, int fd)
{
	const struct crypt_buf *pass = hook;

	/* Never retry a wrong passphrase, and never prompt: fail instead. */
	if (!pass || !pass->len || prev_was_bad)
		return gpgme_error(GPG_ERR_CANCELED);
	if (gpgme_io_writen(fd, pass->p, pass->len) != 0 || gpgme_io_writen(fd, "\n", 1) != 0)
		return gpgme_error(GPG_ERR_CANCELED);
	return 0;
}

int crypt_pgp_ctx(const char *home, const struct crypt_buf *pass, gpgme_ctx_t *ctx,
		  struct cc_error **err)
{
	gpgme_error_t e;

	pthread_once(&gpgme_once, gpgme_setup);
	if (!gpgme_ok)
		return cc_error_set(err, 0, "OpenPGP: gpgme or the gpg engine is not usable");
	if ((e = gpgme_new(ctx)) != 0)
		return cc_error_set(err, 0, "OpenPGP: %s", gpgme_strerror(e));
	if ((e = gpgme_set_protocol(*ctx, GPGME_PROTOCOL_OpenPGP)) != 0 ||
	    (home && (e = gpgme_ctx_set_engine_info(*ctx, GPGME_PROTOCOL_OpenPGP, NULL, home))) ||
	    (e = gpgme_set_pinentry_mode(*ctx, GPGME_PINENTRY_MODE_LOOPBACK)) != 0) {
		gpgme_release(*ctx);
		*ctx = NULL;
		return cc_error_set(err, 0, "OpenPGP: %s", gpgme_strerror(e));
	}
	gpgme_set_passphrase_cb(*ctx, passphrase_cb, (void *)pass);
	return 0;
}

/* Take gpgme's output buffer, wiping gpgme's copy. */
static int take_output(gpgme_data_t out, struct crypt_buf *plain)
{
	size_t n = 0;
	char *p = gpgme_data_release_and_get_mem(out, &n);
	if (!p)
		return -1;
	crypt_buf_set(plain, p, n);
	explicit_bzero(p, n);
	gpgme_free(p);
	return 0;
}

static int decrypt_in(const char *home, const struct crypt_buf *pass, const unsigned char *msg,
		      size_t len, struct crypt_buf *plain, struct cc_error **err)
{
	gpgme_ctx_t ctx = NULL;
	gpgme_data_t in = NULL, out = NULL;
	gpgme_error_t e;
	int r = -1;

	if (crypt_pgp_ctx(home, pass, &ctx, err) < 0)
		return -1;
	if ((e = gpgme_data_new_from_mem(&in, (const char *)msg, len, 0)) != 0 ||
	    (e = gpgme_data_new(&out)) != 0) {
		cc_error_set(err, 0, "OpenPGP: %s", gpgme_strerror(e));
		goto out;
	}
	e = gpgme_op_decrypt(ctx, in, out);
	if (e) {
		cc_error_set(err, 0, "OpenPGP: %s",
			     gpgme_err_code(e) == GPG_ERR_CANCELED
				 ? "the secret key needs a (correct) passphrase"
				 : gpgme_strerror(e));
		goto out;
	}
	r = take_output(out, plain) < 0 ? cc_error_set(err, 0, "OpenPGP: no output") : 0;
	out = NULL;
	if (r == 0 && plain->len > CRYPT_OPTS_MAX) {
		crypt_buf_wipe(plain);
		r = cc_error_set(err, 0, "OpenPGP: decrypted data too large");
	}
out:
	gpgme_data_release(out);
	gpgme_data_release(in);
	gpgme_release(ctx);
	return r;
}

static int import_ring(const char *home, const struct crypt_pgp_keyring *ring,
		       struct cc_error **err)
{
	gpgme_ctx_t ctx = NULL;
	gpgme_data_t data = NULL;
	gpgme_error_t e;
	int r = -1;

	if (crypt_pgp_ctx(home, &ring->pass, &ctx, err) < 0)
		return -1;
	if ((e = gpgme_data_new_from_mem(&data, (const char *)ring->data.p, ring->data.len, 0)) ||
	    (e = gpgme_op_import(ctx, data))) {
		cc_error_set(err, 0, "OpenPGP: importing the secret keyring: %s",
			     gpgme_strerror(e));
		goto out;
	}
	gpgme_import_result_t res = gpgme_op_import_result(ctx);
	if (!res || res->secret_read == 0) {
		cc_error_set(err, 0, "OpenPGP: the keyring holds no secret key");
		goto out;
	}
	r = 0;
out:
	gpgme_data_release(data);
	gpgme_release(ctx);
	return r;
}

/* tmpfs when possible: the imported secret keys are written into the home. */
char *crypt_pgp_home_new(struct cc_error **err)
{
	static const char *const bases[] = { "/dev/shm", "/run", "/tmp" };

	for (size_t i = 0; i < ARRAY_SIZE(bases); i++) {
		if (access(bases[i], W_OK) != 0)
			continue;
		char *dir = xasprintf("%s/crypt-gpg.XXXXXX", bases[i]);
		if (mkdtemp(dir))
			return dir;
		free(dir);
	}
	cc_error_errno(err, "OpenPGP: cannot create a temporary GnuPG home");
	return NULL;
}

/* Stop the agent gpg started for a temporary home; no shell, output discarded. */
static void kill_agent(const char *home)
{
	char *argv[] = { (char *)"gpgconf", (char *)"--homedir", (char *)home,
			 (char *)"--kill",  (char *)"all",	 NULL };
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int status;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	if (posix_spawnp(&pid, "gpgconf", &fa, NULL, argv, environ) == 0)
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	posix_spawn_file_actions_destroy(&fa);
}

void crypt_pgp_home_remove(const char *home)
{
	/* Only a home whose agent was started has one to stop (spawning gpgconf costs ~25 ms). */
	_cleanup_free_ char *sock = xasprintf("%s/S.gpg-agent", home);
	if (access(sock, F_OK) == 0)
		kill_agent(home);
	struct cc_error *rm_err = NULL;
	if (cc_rm_rf(home, &rm_err) < 0)
		cc_error_free(&rm_err); /* best effort: what was done in it stands */
}

static int decrypt_with_ring(const struct crypt_pgp_keyring *ring, const unsigned char *msg,
			     size_t len, struct crypt_buf *plain, struct cc_error **err)
{
	_cleanup_free_ char *home = crypt_pgp_home_new(err);
	int r;

	if (!home)
		return -1;
	r = import_ring(home, ring, err);
	if (r == 0)
		r = decrypt_in(home, &ring->pass, msg, len, plain, err);
	crypt_pgp_home_remove(home);
	return r;
}

int crypt_pgp_decrypt(const unsigned char *msg, size_t len, const struct crypt_pgp_keyring *rings,
		      size_t n_rings, const char *home, struct crypt_buf *plain,
		      struct cc_error **err)
{
	struct cc_error *last = NULL;

	if (len > PGP_MSG_MAX)
		return cc_error_set(err, 0, "OpenPGP: message of %zu bytes, more than %u", len,
				    PGP_MSG_MAX);
	if (n_rings == 0)
		return decrypt_in(home, NULL, msg, len, plain, err);
	/* One home per keyring: each keyring has its own passphrase. */
	for (size_t i = 0; i < n_rings; i++) {
		cc_error_free(&last);
		if (decrypt_with_ring(&rings[i], msg, len, plain, &last) == 0)
			return 0;
	}
	cc_error_set(err, 0, "%s%s", last ? last->msg : "OpenPGP: decryption failed",
		     n_rings > 1 ? " (with the last of the keyrings; none worked)" : "");
	cc_error_free(&last);
	return -1;
}

static bool key_matches(gpgme_key_t k, const char *who)
{
	if (k->fpr && !strcasecmp(k->fpr, who))
		return true;
	for (gpgme_user_id_t u = k->uids; u; u = u->next)
		if ((u->name && !strcmp(u->name, who)) || (u->email && !strcmp(u->email, who)))
			return true;
	return false;
}

/* Every public key whose user id name or e-mail is exactly `who` (as skopeo selects). */
static int find_keys(gpgme_ctx_t ctx, const char *who, gpgme_key_t **keys, size_t *n,
		     struct cc_error **err)
{
	gpgme_key_t k;
	size_t found = 0;
	gpgme_error_t e = gpgme_op_keylist_start(ctx, who, 0);

	while (!e && !(e = gpgme_op_keylist_next(ctx, &k))) {
		if (key_matches(k, who) && k->can_encrypt && !k->revoked && !k->expired) {
			*keys = xreallocarray(*keys, *n + 2, sizeof(**keys));
			(*keys)[(*n)++] = k;
			(*keys)[*n] = NULL;
			found++;
		} else {
			gpgme_key_unref(k);
		}
	}
	gpgme_op_keylist_end(ctx);
	if (gpgme_err_code(e) != GPG_ERR_EOF)
		return cc_error_set(err, 0, "OpenPGP: listing keys for %s: %s", who,
				    gpgme_strerror(e));
	if (!found)
		return cc_error_set(err, 0, "OpenPGP: no usable public key for recipient \"%s\"",
				    who);
	return 0;
}

static int encrypt_to(gpgme_ctx_t ctx, gpgme_key_t *keys, const void *plain, size_t len,
		      struct crypt_buf *out, struct cc_error **err)
{
	gpgme_data_t in = NULL, cipher = NULL;
	gpgme_error_t e;
	int r = -1;

	gpgme_set_armor(ctx, 0);
	if ((e = gpgme_data_new_from_mem(&in, plain, len, 0)) || (e = gpgme_data_new(&cipher)) ||
	    (e = gpgme_op_encrypt(ctx, keys, GPGME_ENCRYPT_ALWAYS_TRUST | GPGME_ENCRYPT_NO_COMPRESS,
				  in, cipher))) {
		cc_error_set(err, 0, "OpenPGP: encryption failed: %s", gpgme_strerror(e));
		goto out;
	}
	r = take_output(cipher, out) < 0 ? cc_error_set(err, 0, "OpenPGP: no output") : 0;
	cipher = NULL;
out:
	gpgme_data_release(cipher);
	gpgme_data_release(in);
	return r;
}

int crypt_pgp_encrypt(const char *home, char *const *recipients, size_t n, const void *plain,
		      size_t len, struct crypt_buf *out, struct cc_error **err)
{
	gpgme_ctx_t ctx = NULL;
	gpgme_key_t *keys = NULL;
	size_t nk = 0;
	int r = -1;

	if (crypt_pgp_ctx(home, NULL, &ctx, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (find_keys(ctx, recipients[i], &keys, &nk, err) < 0)
			goto out;
	r = nk ? encrypt_to(ctx, keys, plain, len, out, err)
	       : cc_error_set(err, 0, "OpenPGP: no recipients");
out:
	for (size_t i = 0; i < nk; i++)
		gpgme_key_unref(keys[i]);
	free(keys);
	gpgme_release(ctx);
	return r;
}
