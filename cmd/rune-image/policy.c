// SPDX-License-Identifier: Apache-2.0
/* pull's signature policy options: where the policy and registries.d are, as skopeo finds
 * them. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "image/error.h"
#include "rune-image.h"
#include "sign/verify.h"
#include "util/log.h"

/* $HOME/.config/containers/NAME when it exists, else /etc/containers/NAME. */
static const char *containers_file(const char *name, char *buf, size_t n)
{
	const char *home = getenv("HOME");
	if (home && *home) {
		snprintf(buf, n, "%s/.config/containers/%s", home, name);
		if (access(buf, F_OK) == 0)
			return buf;
	}
	snprintf(buf, n, "/etc/containers/%s", name);
	return buf;
}

const char *policy_args_registries_d(const struct policy_args *a)
{
	static char buf[4096];
	return a->registries_d ? a->registries_d
			       : containers_file("registries.d", buf, sizeof(buf));
}

int policy_args_verifier(const struct policy_args *a, struct sign_verifier **out,
			 struct cc_error **err)
{
	*out = NULL;
	if (a->insecure_policy) {
		cc_warn("--insecure-policy: image signatures are not checked and every image is "
			"accepted");
		return 0;
	}
	char buf[4096];
	const char *policy =
	    a->policy ? a->policy : containers_file("policy.json", buf, sizeof(buf));
	if (!a->policy && access(policy, F_OK) != 0) {
		cc_error_set(err, 0,
			     "no signature policy: %s does not exist (give one with --policy FILE, "
			     "or --insecure-policy to accept every image)",
			     policy);
		return img_error_code(err, IMG_ERR_POLICY_CONFIG);
	}
	*out = sign_verifier_new(policy, policy_args_registries_d(a), err);
	return *out ? 0 : -1;
}
