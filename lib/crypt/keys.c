// SPDX-License-Identifier: Apache-2.0
/* Decryption keys and encryption recipients from skopeo-style specs. See crypt.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "crypt/jwa.h"
#include "crypt/keys.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strv.h"

#define PASSWORD_MAX 4096u
#define DIR_FILES_MAX 256u
#define PROVIDER_PREFIX "provider:"
#define AA_PROVIDER "attestation-agent"

/* ---- shared options and providers ---- */

static void env_init(struct crypt_env *env, const struct crypt_keys_opts *o)
{
	struct crypt_keys_opts none = { 0 };
	if (!o)
		o = &none;
	env->gnupg_home = o->gnupg_home ? xstrdup(o->gnupg_home) : NULL;
	env->use_gnupg_home = o->use_gnupg_home;
	env->timeout_ms = o->provider_timeout_ms;
	env->provider_config_path = o->keyprovider_config ? xstrdup(o->keyprovider_config) : NULL;
	env->kbc_opts.offline_fs_keys = o->offline_fs_keys ? xstrdup(o->offline_fs_keys) : NULL;
	env->kbc_opts.offline_fs_resources =
	    o->offline_fs_resources ? xstrdup(o->offline_fs_resources) : NULL;
}

static void env_clear(struct crypt_env *env)
{
	for (size_t i = 0; i < env->n_providers; i++) {
		free(env->providers[i].name);
		crypt_str_wipe(&env->providers[i].param);
		crypt_kbc_free(env->providers[i].kbc);
	}
	free(env->providers);
	crypt_provider_config_clear(&env->conf);
	free(env->gnupg_home);
	free(env->provider_config_path);
	free((char *)env->kbc_opts.offline_fs_keys);
	free((char *)env->kbc_opts.offline_fs_resources);
	memset(env, 0, sizeof(*env));
}

/* attestation-agent without a cmd entry in ocicrypt.conf is the in-process ("native") KBC. */
static int resolve_provider(struct crypt_env *env, struct crypt_provider_ref *ref,
			    struct cc_error **err)
{
	const struct crypt_provider *p = crypt_provider_find(&env->conf, ref->name);

	if (p && p->kind == CRYPT_PROVIDER_CMD) {
		ref->cmd = p;
		return 0;
	}
	if (!strcmp(ref->name, AA_PROVIDER) && (!p || p->kind == CRYPT_PROVIDER_NATIVE)) {
		if (!ref->param)
			return cc_error_set(err, 0, "provider:%s needs <kbc>::<kbs uri>",
					    ref->name);
		return crypt_kbc_new(ref->param, &env->kbc_opts, &ref->kbc, err);
	}
	if (p)
		return cc_error_set(err, 0,
				    "key provider %s: %s providers are not supported "
				    "(only cmd)",
				    ref->name, p->kind == CRYPT_PROVIDER_GRPC ? "grpc" : "ttrpc");
	return cc_error_set(
	    err, 0, "key provider %s is not in the key provider config (%s)", ref->name,
	    env->provider_config_path		    ? env->provider_config_path
	    : getenv("OCICRYPT_KEYPROVIDER_CONFIG") ? getenv("OCICRYPT_KEYPROVIDER_CONFIG")
						    : "OCICRYPT_KEYPROVIDER_CONFIG is not set");
}

int crypt_env_add_provider(struct crypt_env *env, const char *spec, struct cc_error **err)
{
	struct crypt_provider_ref ref = { 0 };
	size_t n = strcspn(spec, ":");

	if (n == 0)
		return cc_error_set(err, 0, "provider: needs a name (provider:<name>[:<param>])");
	if (!env->conf_loaded) {
		if (crypt_provider_config_load(env->provider_config_path, &env->conf, err) < 0)
			return -1;
		env->conf_loaded = true;
	}
	ref.name = xstrndup(spec, n);
	ref.param = spec[n] ? xstrdup(spec + n + 1) : NULL;
	if (resolve_provider(env, &ref, err) < 0) {
		free(ref.name);
		crypt_str_wipe(&ref.param);
		return -1;
	}
	env->providers = xreallocarray(env->providers, env->n_providers + 1, sizeof(ref));
	env->providers[env->n_providers++] = ref;
	return 0;
}

/* ---- decryption keys ---- */

struct crypt_keys *crypt_keys_new(const struct crypt_keys_opts *opts)
{
	struct crypt_keys *k = xzalloc(sizeof(*k));
	env_init(&k->env, opts);
	return k;
}

void crypt_keys_free(struct crypt_keys *k)
{
	if (!k)
		return;
	for (size_t i = 0; i < k->n_pkeys; i++)
		EVP_PKEY_free(k->pkeys[i]); /* OpenSSL clears private key material */
	for (size_t i = 0; i < k->n_certs; i++)
		X509_free(k->certs[i]);
	for (size_t i = 0; i < k->n_rings; i++) {
		crypt_buf_wipe(&k->rings[i].data);
		crypt_buf_wipe(&k->rings[i].pass);
	}
	free(k->pkeys);
	free(k->certs);
	free(k->rings);
	env_clear(&k->env);
	free(k);
}

size_t crypt_keys_count(const struct crypt_keys *k)
{
	return k->n_pkeys + k->n_certs + k->n_rings + k->env.n_providers;
}

static int read_fd_password(int fd, struct crypt_buf *pw, struct cc_error **err)
{
	char buf[PASSWORD_MAX + 1];
	ssize_t n;

	/* One read, as ocicrypt does: a writer that keeps the pipe open must not hang us. */
	while ((n = read(fd, buf, sizeof(buf))) < 0 && errno == EINTR)
		;
	int saved = errno;

	close(fd); /* ocicrypt closes it too: the descriptor was handed over for this */
	if (n < 0 || (size_t)n > PASSWORD_MAX) {
		explicit_bzero(buf, sizeof(buf));
		return cc_error_set(err, n < 0 ? saved : 0, "password from fd %d", fd);
	}
	crypt_buf_set(pw, buf, (size_t)n);
	explicit_bzero(buf, sizeof(buf));
	return 0;
}

/* ocicrypt's forms: pass=<text>, file=<path>, fd=<n>, or the bare password. File and fd
 * contents are taken as they are (a trailing newline is part of the password), as there. */
static int parse_password(const char *s, struct crypt_buf *pw, struct cc_error **err)
{
	if (!strncmp(s, "pass=", 5)) {
		crypt_buf_set(pw, s + 5, strlen(s + 5));
	} else if (!strncmp(s, "file=", 5)) {
		if (crypt_read_secret_file(AT_FDCWD, s + 5, PASSWORD_MAX, pw, err) < 0)
			return cc_error_prefix(err, "password file");
	} else if (!strncmp(s, "fd=", 3)) {
		char *end;
		long fd = strtol(s + 3, &end, 10);
		if (end == s + 3 || *end || fd < 0 || fd > 65535)
			return cc_error_set(err, 0, "password fd=%s is not a file descriptor",
					    s + 3);
		return read_fd_password((int)fd, pw, err);
	} else {
		crypt_buf_set(pw, s, strlen(s));
	}
	return 0;
}

static int load_file(struct crypt_keys *k, int dirfd, const char *name, const char *what,
		     const struct crypt_buf *pw, bool in_dir, struct cc_error **err)
{
	_cleanup_wipe_ struct crypt_buf data = { 0 };

	if (crypt_read_secret_file(dirfd, name, CRYPT_KEYFILE_MAX, &data, err) < 0)
		return cc_error_prefix(err, "decryption key");
	int n = crypt_keyfile_load(k, what, &data, pw, err);
	if (n == 0 && !in_dir)
		return cc_error_set(err, 0,
				    "%s: not a private key, certificate or OpenPGP secret "
				    "keyring",
				    what);
	return n;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular file of a directory, in name order; files that hold no key are skipped. */
static int load_dir(struct crypt_keys *k, const char *path, const struct crypt_buf *pw,
		    struct cc_error **err)
{
	_cleanup_closedir_ DIR *d = opendir(path);
	_cleanup_strv_ char **names = NULL;
	struct dirent *de;
	size_t n = 0;
	int found = 0;

	if (!d)
		return cc_error_errno(err, "%s", path);
	while ((de = readdir(d))) {
		struct stat st;
		if (de->d_name[0] == '.' || fstatat(dirfd(d), de->d_name, &st, 0) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (++n > DIR_FILES_MAX)
			return cc_error_set(err, 0, "%s: more than %u files", path, DIR_FILES_MAX);
		cc_strv_push(&names, de->d_name);
	}
	if (n)
		qsort(names, n, sizeof(*names), cmp_names);
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *what = cc_path_join(path, names[i]);
		int r = load_file(k, dirfd(d), names[i], what, pw, true, err);
		if (r < 0)
			return -1;
		found += r;
	}
	if (!found)
		return cc_error_set(err, 0, "%s: no key, certificate or keyring in the directory",
				    path);
	return 0;
}

int crypt_keys_add(struct crypt_keys *k, const char *spec, struct cc_error **err)
{
	_cleanup_wipe_ struct crypt_buf pw = { 0 };
	_cleanup_free_ char *path = NULL;
	struct stat st;

	if (!strncmp(spec, PROVIDER_PREFIX, strlen(PROVIDER_PREFIX)))
		return crypt_env_add_provider(&k->env, spec + strlen(PROVIDER_PREFIX), err);
	/* A path that exists as given wins over splitting at ':' (paths may contain one). */
	if (stat(spec, &st) == 0) {
		path = xstrdup(spec);
	} else {
		size_t n = strcspn(spec, ":");
		path = xstrndup(spec, n);
		if (spec[n] && parse_password(spec + n + 1, &pw, err) < 0)
			return cc_error_prefix(err, "%s", path);
		if (stat(path, &st) < 0)
			return cc_error_errno(err, "decryption key %s", path);
	}
	if (S_ISDIR(st.st_mode))
		return load_dir(k, path, &pw, err);
	return load_file(k, AT_FDCWD, path, path, &pw, false, err) < 0 ? -1 : 0;
}

/* ---- encryption recipients ---- */

struct crypt_recipients *crypt_recipients_new(const struct crypt_keys_opts *opts)
{
	struct crypt_recipients *r = xzalloc(sizeof(*r));
	env_init(&r->env, opts);
	return r;
}

void crypt_recipients_free(struct crypt_recipients *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_jwe; i++)
		EVP_PKEY_free(r->jwe[i]);
	for (size_t i = 0; i < r->n_pkcs7; i++)
		X509_free(r->pkcs7[i]);
	for (size_t i = 0; i < r->n_pgp; i++)
		free(r->pgp[i]);
	free(r->jwe);
	free(r->pkcs7);
	free(r->pgp);
	env_clear(&r->env);
	free(r);
}

static int read_key_file(const char *path, struct crypt_buf *out, struct cc_error **err)
{
	size_t len;
	char *buf = cc_read_file(path, CRYPT_KEYFILE_MAX, &len, err);
	if (!buf)
		return -1;
	out->p = (unsigned char *)buf;
	out->len = len;
	return 0;
}

int crypt_recipients_add(struct crypt_recipients *r, const char *spec, struct cc_error **err)
{
	_cleanup_wipe_ struct crypt_buf data = { 0 };
	const char *colon = strchr(spec, ':');
	const char *v = colon ? colon + 1 : "";
	size_t n = colon ? (size_t)(colon - spec) : 0;

	if (!colon || !*v)
		return cc_error_set(err, 0, "recipient \"%s\" is not <protocol>:<value>", spec);
	if (n == 8 && !strncmp(spec, "provider", 8))
		return crypt_env_add_provider(&r->env, v, err);
	if (n == 3 && !strncmp(spec, "pgp", 3)) {
		r->pgp = xreallocarray(r->pgp, r->n_pgp + 1, sizeof(*r->pgp));
		r->pgp[r->n_pgp++] = xstrdup(v);
		return 0;
	}
	bool jwe = n == 3 && !strncmp(spec, "jwe", 3), p7 = n == 5 && !strncmp(spec, "pkcs7", 5);
	if (!jwe && !p7)
		return cc_error_set(err, 0,
				    "recipient \"%s\": protocol not recognised (jwe, pkcs7, "
				    "pgp, provider)",
				    spec);
	if (read_key_file(v, &data, err) < 0)
		return -1;
	if (jwe) {
		EVP_PKEY *k = crypt_keyfile_public(v, &data, err);
		if (!k)
			return -1;
		if (!EVP_PKEY_is_a(k, "RSA") && !crypt_jwa_curve_of(k)) {
			EVP_PKEY_free(k);
			return cc_error_set(err, 0,
					    "%s: JWE recipients need an RSA or EC "
					    "P-256/384/521 key",
					    v);
		}
		r->jwe = xreallocarray(r->jwe, r->n_jwe + 1, sizeof(*r->jwe));
		r->jwe[r->n_jwe++] = k;
		return 0;
	}
	X509 *c = crypt_keyfile_cert(v, &data, err);
	if (!c)
		return -1;
	r->pkcs7 = xreallocarray(r->pkcs7, r->n_pkcs7 + 1, sizeof(*r->pkcs7));
	r->pkcs7[r->n_pkcs7++] = c;
	return 0;
}
