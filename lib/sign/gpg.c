// SPDX-License-Identifier: Apache-2.0
/* Simple signing's OpenPGP envelope through gpgme. See gpg.h. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>
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

struct bounded {
	unsigned char *p;
	size_t len;
};

/* ---- verification ----
 *
 * gpg is run directly (gpgme would first spawn gpgconf and gpg five times to learn their
 * versions, ~100 ms a pull): gpg --verify --output - on the message, the payload read from its
 * stdout (bounded: a compressed packet can expand), its machine-readable status lines
 * (doc/DETAILS: NEWSIG, GOODSIG, VALIDSIG, BADSIG, EXPSIG, EXPKEYSIG, REVKEYSIG, ERRSIG) from
 * fd 3, and the verdict taken from those and its exit status. */

#define STATUS_MAX (64u << 10)
#define GPG_DEADLINE_MS 30000

extern char **environ;

struct gpg_run {
	struct bounded out, status;
	int exit_status; /* -1: killed (over a bound or the deadline) */
	bool over, late;
};

static bool append(struct bounded *b, const char *buf, size_t n, size_t max)
{
	if (b->len + n > max)
		return false;
	b->p = xrealloc(b->p, b->len + n + 1);
	memcpy(b->p + b->len, buf, n);
	b->len += n;
	b->p[b->len] = '\0';
	return true;
}

/* Read gpg's stdout and status pipes until both end, within the bounds and the deadline. */
static void collect(struct gpg_run *run, int out_fd, int status_fd, pid_t pid)
{
	struct pollfd fds[2] = { { out_fd, POLLIN, 0 }, { status_fd, POLLIN, 0 } };
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	char buf[16384];
	while (fds[0].fd >= 0 || fds[1].fd >= 0) {
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		long left = GPG_DEADLINE_MS - ((now.tv_sec - t0.tv_sec) * 1000 +
					       (now.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0 || poll(fds, 2, (int)left) == 0) {
			run->late = true;
			break;
		}
		for (int i = 0; i < 2; i++) {
			if (fds[i].fd < 0 || !fds[i].revents)
				continue;
			ssize_t n = read(fds[i].fd, buf, sizeof(buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				fds[i].fd = -1;
				continue;
			}
			if (!append(i ? &run->status : &run->out, buf, (size_t)n,
				    i ? STATUS_MAX : PAYLOAD_MAX)) {
				run->over = true;
				fds[0].fd = fds[1].fd = -1;
			}
		}
	}
	if (run->over || run->late)
		kill(pid, SIGKILL);
}

static int spawn_verify(const struct sign_gpg *g, const char *file, struct gpg_run *run,
			struct cc_error **err)
{
	int out[2], status[2];
	if (pipe2(out, O_CLOEXEC) < 0)
		return cc_error_errno(err, "gpg: pipe");
	if (pipe2(status, O_CLOEXEC) < 0) {
		close(out[0]);
		close(out[1]);
		return cc_error_errno(err, "gpg: pipe");
	}
	char *argv[] = { (char *)"gpg",
			 (char *)"--homedir",
			 g->home,
			 (char *)"--batch",
			 (char *)"--no-tty",
			 (char *)"--status-fd",
			 (char *)"3",
			 (char *)"--output",
			 (char *)"-",
			 (char *)"--verify",
			 (char *)"--",
			 (char *)file,
			 NULL };
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, status[1], 3);
	pid_t pid;
	int e = posix_spawnp(&pid, "gpg", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(out[1]);
	close(status[1]);
	if (e == 0)
		collect(run, out[0], status[0], pid);
	close(out[0]);
	close(status[0]);
	if (e != 0) {
		errno = e;
		return cc_error_errno(err, "gpg: cannot run it");
	}
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	run->exit_status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	return 0;
}

/* The value after "[GNUPG:] KEYWORD " in the status text, to the end of its line; NULL. */
static char *status_field(const char *status, const char *keyword, unsigned field)
{
	_cleanup_free_ char *tag = xasprintf("[GNUPG:] %s ", keyword);
	for (const char *p = status; (p = strstr(p, tag)); p++) {
		if (p != status && p[-1] != '\n')
			continue;
		const char *v = p + strlen(tag);
		for (unsigned i = 0; i < field && *v && *v != '\n'; i++) {
			v += strcspn(v, " \n");
			v += *v == ' ';
		}
		size_t n = strcspn(v, " \n");
		return n ? xstrndup(v, n) : NULL;
	}
	return NULL;
}

static size_t status_count(const char *status, const char *line)
{
	size_t n = 0;
	_cleanup_free_ char *tag = xasprintf("[GNUPG:] %s", line);
	for (const char *p = status; (p = strstr(p, tag)); p += strlen(tag))
		if ((p == status || p[-1] == '\n') &&
		    (p[strlen(tag)] == ' ' || p[strlen(tag)] == '\n'))
			n++;
	return n;
}

/* The verdict from gpg's status lines; on success *signer is the signing key's fingerprint. */
static int judge(const struct gpg_run *run, char **signer, struct cc_error **err)
{
	const char *st = run->status.p ? (const char *)run->status.p : "";
	static const struct {
		const char *keyword, *fmt;
	} bad[] = {
		{ "BADSIG", "bad signature by key %s (the signed data was changed)" },
		{ "EXPKEYSIG", "signed by key %s, which has expired" },
		{ "REVKEYSIG", "signed by key %s, which was revoked" },
		{ "EXPSIG", "the signature by key %s has expired" },
	};
	size_t n = status_count(st, "NEWSIG");
	if (n == 0)
		return cc_error_set(err, 0,
				    status_count(st, "PLAINTEXT")
					? "0 signatures in the message, 1 expected"
					: "not an OpenPGP signed message");
	if (n != 1)
		return cc_error_set(err, 0, "%zu signatures in the message, 1 expected", n);
	/* Named by fingerprint when gpg could check the signature (VALIDSIG), else by key id. */
	_cleanup_free_ char *valid_fpr = status_field(st, "VALIDSIG", 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		_cleanup_free_ char *key = status_field(st, bad[i].keyword, 0);
		if (key)
			return cc_error_set(err, 0, bad[i].fmt, valid_fpr ? valid_fpr : key);
	}
	_cleanup_free_ char *errsig = status_field(st, "ERRSIG", 0);
	if (errsig) {
		_cleanup_free_ char *rc = status_field(st, "ERRSIG", 5);
		_cleanup_free_ char *fpr = status_field(st, "ERRSIG", 6);
		if (rc && !strcmp(rc, "9"))
			return cc_error_set(err, 0, "signed by key %s, which is not trusted",
					    fpr ? fpr : errsig);
		return cc_error_set(err, 0,
				    "invalid signature by key %s (gpg could not check it: "
				    "code %s)",
				    fpr ? fpr : errsig, rc ? rc : "?");
	}
	_cleanup_free_ char *valid = status_field(st, "VALIDSIG", 0);
	if (!valid || !status_count(st, "GOODSIG") || run->exit_status != 0)
		return cc_error_set(err, 0, "invalid signature (gpg: exit status %d)",
				    run->exit_status);
	*signer = steal_pointer(&valid);
	return 0;
}

int sign_gpg_verify(struct sign_gpg *g, const void *blob, size_t blob_len, unsigned char **payload,
		    size_t *len, char **signer, struct cc_error **err)
{
	_cleanup_free_ char *file = xasprintf("%s/signature", g->home);
	if (cc_write_file(file, blob, blob_len, 0600, err) < 0)
		return -1;
	struct gpg_run run = { .exit_status = -1 };
	int r = spawn_verify(g, file, &run, err);
	if (r == 0 && run.over)
		r = cc_error_set(err, 0, "the signed payload is larger than %u bytes", PAYLOAD_MAX);
	else if (r == 0 && run.late)
		r = cc_error_set(err, 0, "gpg did not finish within %d s", GPG_DEADLINE_MS / 1000);
	else if (r == 0)
		r = judge(&run, signer, err);
	if (r == 0) {
		*payload = run.out.p ? run.out.p : (unsigned char *)xstrdup("");
		*len = run.out.len;
		run.out.p = NULL;
	}
	free(run.out.p);
	free(run.status.p);
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
