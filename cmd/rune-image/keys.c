// SPDX-License-Identifier: Apache-2.0
/* Key options of pull (--decryption-key) and encrypt (--encryption-key). See rune-image.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "image/registry.h"
#include "rune-image.h"
#include "util/cleanup.h"
#include "util/strv.h"

void key_args_add(struct key_args *k, const char *arg)
{
	cc_strv_push(&k->specs, arg);
}

void key_args_add_secret(struct key_args *k, char *arg)
{
	struct stat st;
	cc_strv_push(&k->specs, arg);
	/* skopeo's forms: <path>, <path>:<password>, <path>:pass=<password>, <path>:file=<f>,
	 * <path>:fd=<n>, provider:<name>[:<param>]; a path that exists is taken whole. */
	if (!strncmp(arg, "provider:", 9) || stat(arg, &st) == 0)
		return;
	char *colon = strchr(arg, ':');
	if (colon && strncmp(colon + 1, "file=", 5) != 0 && strncmp(colon + 1, "fd=", 3) != 0)
		explicit_bzero(colon + 1, strlen(colon + 1));
}

bool key_args_timeout(struct key_args *k, const char *arg)
{
	char *end;
	double s = strtod(arg, &end);
	if (end == arg || *end || !isfinite(s) || s <= 0 || s > 86400) {
		fprintf(
		    stderr,
		    "rune-image: --keyprovider-timeout \"%s\": seconds, more than 0 and at most "
		    "86400\n",
		    arg);
		return false;
	}
	k->provider_timeout_ms = (int)(s * 1000 + 0.5);
	if (!k->provider_timeout_ms)
		k->provider_timeout_ms = 1;
	return true;
}

void key_args_clear(struct key_args *k)
{
	for (char **s = k->specs; s && *s; s++)
		explicit_bzero(*s, strlen(*s));
	cc_strv_free(k->specs);
	k->specs = NULL;
}

static struct crypt_keys_opts crypt_opts(const struct key_args *k)
{
	return (struct crypt_keys_opts){ .keyprovider_config = k->provider_config,
					 .provider_timeout_ms = k->provider_timeout_ms,
					 .offline_fs_keys = k->offline_fs_keys };
}

int key_args_keys(const struct key_args *k, struct crypt_keys **out, struct cc_error **err)
{
	*out = NULL;
	if (!k->specs)
		return 0;
	struct crypt_keys_opts o = crypt_opts(k);
	struct crypt_keys *keys = crypt_keys_new(&o);
	for (char **s = k->specs; *s; s++) {
		/* The spec may hold a password: the message names the key file, never the spec. */
		if (crypt_keys_add(keys, *s, err) < 0) {
			cc_error_prefix(err, "--decryption-key");
			crypt_keys_free(keys);
			return -1;
		}
	}
	*out = keys;
	return 0;
}

struct crypt_recipients *key_args_recipients(const struct key_args *k, struct cc_error **err)
{
	struct crypt_keys_opts o = crypt_opts(k);
	struct crypt_recipients *r = crypt_recipients_new(&o);
	for (char **s = k->specs; s && *s; s++) {
		if (crypt_recipients_add(r, *s, err) < 0) {
			cc_error_prefix(err, "--encryption-key %s", *s);
			crypt_recipients_free(r);
			return NULL;
		}
	}
	return r;
}

void creds_clear(struct creds *c)
{
	if (c->buf)
		explicit_bzero(c->buf, c->len);
	free(c->buf);
	*c = (struct creds){ 0 };
}

void creds_take(struct creds *c, struct img_registry_opts *ro, char *arg)
{
	creds_clear(c);
	c->len = strlen(arg) + 1;
	c->buf = xstrdup(arg);
	char *colon = strchr(c->buf, ':');
	if (colon)
		*colon = '\0';
	ro->username = c->buf;
	ro->password = colon ? colon + 1 : "";
	char *arg_colon = strchr(arg, ':');
	if (arg_colon)
		explicit_bzero(arg_colon + 1, strlen(arg_colon + 1));
}
