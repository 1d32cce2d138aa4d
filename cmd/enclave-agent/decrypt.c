// SPDX-License-Identifier: Apache-2.0
/*
 * What decrypt_config.conf and --decryption-key turn into: the decryption keys every pull uses
 * for encrypted layers (lib/crypt), and the security_validate gate. See agent.h and
 * docs/agent.md.
 */
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "agent.h"
#include "crypt/crypt.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"
#include "image/error.h"

#define DEFAULT_POLICY "/etc/containers/policy.json"
#define DEFAULT_REGISTRIES_D "/etc/containers/registries.d"

/* upstream's key_provider is "provider:<name>:<param>"; a bare "<name>:<param>" means the
 * same. */
static char *provider_spec(const char *key_provider)
{
	if (!strncmp(key_provider, "provider:", 9))
		return xstrdup(key_provider);
	return xasprintf("provider:%s", key_provider);
}

int agent_decrypt_init(struct agent *a, char **specs, const char *ocicrypt_config,
		       struct cc_error **err)
{
	struct crypt_keys_opts o = { .keyprovider_config = ocicrypt_config };
	struct crypt_keys *keys = crypt_keys_new(&o);
	/* Keys given on the command line are the operator's: one that does not load is fatal. */
	for (char **s = specs; s && *s; s++) {
		if (crypt_keys_add(keys, *s, err) < 0) {
			crypt_keys_free(keys);
			return cc_error_prefix(err, "--decryption-key");
		}
	}
	/* The key provider serves every pull; one that cannot be set up (an unknown KBC, a
	 * missing offline key file) leaves plain images pullable and is said once, here. */
	if (a->decrypt.key_provider) {
		_cleanup_free_ char *spec = provider_spec(a->decrypt.key_provider);
		struct cc_error *e = NULL;
		if (crypt_keys_add(keys, spec, &e) < 0) {
			cc_warn("decrypt config: key_provider %s cannot be used: %s; encrypted "
				"layers need another key",
				a->decrypt.key_provider, e->msg);
			cc_error_free(&e);
		}
	}
	if (crypt_keys_count(keys) == 0) {
		crypt_keys_free(keys);
		keys = NULL;
	}
	a->keys = keys;
	return 0;
}

/* registries.d as a directory, or one YAML file (image-rs's sigstore_config). */
static struct sign_registries *load_registries(const char *path, struct cc_error **err)
{
	struct stat st;
	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return sign_registries_load(path, err);
	size_t len;
	_cleanup_free_ char *buf = cc_read_file(path, 1 << 20, &len, err);
	if (!buf) {
		cc_error_prefix(err, "registries.d %s", path);
		return NULL;
	}
	return sign_registries_parse(NULL, path, buf, len, err);
}

/* The gate when the policy or registries.d are kbs:// resources: fetched from the key broker
 * for each pull (so the KBS's current policy decides), under the agent's one attestation. */
static int kbs_gate(void *ctx, struct img_registry *reg, const struct img_ref *ref,
		    const char *digest, const char *manifest, size_t len, struct cc_error **err)
{
	struct agent *a = ctx;
	struct sign_verifier v = *a->verifier;
	struct sign_policy *policy = NULL;
	struct sign_registries *registries = NULL;
	int ret = -1;

	if (a->kbs_policy) {
		_cleanup_wipe_ struct crypt_buf buf = { 0 };
		if (agent_kbs_resource(a->kbs_policy, &buf, err) < 0)
			return cc_error_prefix(err, "signature policy");
		if (!(v.policy = policy =
			  sign_policy_parse(a->kbs_policy, (const char *)buf.p, buf.len, err)))
			return img_error_code(err, IMG_ERR_POLICY_CONFIG);
	}
	if (a->kbs_registries) {
		_cleanup_wipe_ struct crypt_buf buf = { 0 };
		if (agent_kbs_resource(a->kbs_registries, &buf, err) < 0) {
			cc_error_prefix(err, "registries.d");
			goto out;
		}
		if (!(v.registries = registries = sign_registries_parse(
			  NULL, a->kbs_registries, (const char *)buf.p, buf.len, err))) {
			img_error_code(err, IMG_ERR_POLICY_CONFIG);
			goto out;
		}
	}
	ret = sign_verify_image(&v, reg, ref, digest, manifest, len, err);
out:
	sign_policy_free(policy);
	sign_registries_free(registries);
	return ret;
}

int agent_policy_init(struct agent *a, const char *policy, const char *registries_d,
		      struct cc_error **err)
{
	if (!a->decrypt.security_validate)
		return 0;
	const char *path = policy ? policy : DEFAULT_POLICY;
	if (!policy && access(path, F_OK) != 0) {
		a->no_policy = xasprintf("security_validate is on but there is no signature policy "
					 "(%s does not exist; give one with --policy)",
					 path);
		cc_warn("%s: every PullImage will fail until then", a->no_policy);
		return 0;
	}
	const char *rd = registries_d ? registries_d : DEFAULT_REGISTRIES_D;
	bool kbs_policy = agent_is_kbs_uri(path), kbs_rd = agent_is_kbs_uri(rd);
	if ((kbs_policy && agent_kbs_check_uri("signature policy", path, err) < 0) ||
	    (kbs_rd && agent_kbs_check_uri("registries.d", rd, err) < 0))
		return -1;
	struct sign_verifier *v = xzalloc(sizeof(*v));
	if ((!kbs_policy && !(v->policy = sign_policy_load(path, err))) ||
	    (!kbs_rd && !(v->registries = load_registries(rd, err)))) {
		sign_verifier_free(v);
		return -1;
	}
	a->verifier = v;
	if (kbs_policy || kbs_rd) {
		a->kbs_policy = kbs_policy ? xstrdup(path) : NULL;
		a->kbs_registries = kbs_rd ? xstrdup(rd) : NULL;
		a->gate = (struct img_pull_gate){ kbs_gate, a };
	} else {
		a->gate = (struct img_pull_gate){ sign_pull_gate, v };
	}
	cc_info("security_validate: image signatures are checked by policy %s, signature "
		"storage from %s%s",
		path, rd, kbs_policy || kbs_rd ? " (kbs://: fetched at each pull)" : "");
	return 0;
}

int agent_security_check(const struct agent *a, struct cc_error **err)
{
	if (!a->decrypt.security_validate || a->verifier)
		return 0;
	return tt_error_status(err, TT_FAILED_PRECONDITION, "%s", a->no_policy);
}

/* skopeo's key forms: <path>[:<password>], <path>:pass=<password> carry a secret; file=, fd=,
 * provider: and an existing path do not. */
void agent_scrub_key_arg(char *arg)
{
	if (!strncmp(arg, "provider:", 9) || access(arg, F_OK) == 0)
		return;
	char *colon = strchr(arg, ':');
	if (colon && strncmp(colon + 1, "file=", 5) != 0 && strncmp(colon + 1, "fd=", 3) != 0)
		explicit_bzero(colon + 1, strlen(colon + 1));
}
