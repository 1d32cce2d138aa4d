/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The signature gate: may this image be pulled, by the policy (sign/policy.h)?
 *
 * Decided as containers/image decides for docker:// images: the most specific scope's
 * requirements must all allow the image. insecureAcceptAnything allows it; reject refuses it;
 * signedBy needs at least one simple signing signature (sign/gpg.h) that verifies with one of
 * its keys (keyType GPGKeys only) whose payload (sign/payload.h, read only after verification)
 * names the manifest's digest and an identity that its signedIdentity accepts; sigstoreSigned
 * the same with cosign signatures and public keys (Fulcio, PKI and Rekor are refused by name);
 * signedBaseLayer is refused (not implemented, as in containers/image). Signatures are looked
 * up only when a requirement needs them (sign/storage.h, with registries.d).
 *
 * A refusal is one line naming the policy file, the scope and requirement, and for each
 * signature where it came from and why it did not count, classified IMG_ERR_POLICY; a
 * policy or key file that cannot be used is IMG_ERR_POLICY_CONFIG; a signature source that
 * cannot be read keeps its own class (IMG_ERR_UNAVAILABLE, ...).
 */
#pragma once

#include <stddef.h>
#include "image/reference.h"
#include "image/registry.h"
#include "sign/policy.h"
#include "sign/registries.h"
#include "util/error.h"

struct sign_verifier {
	struct sign_policy *policy;
	struct sign_registries *registries; /* NULL: none (the built-in lookaside) */
};

/* Load the policy file and registries.d directory (NULL: none). The caller frees with
 * sign_verifier_free. */
CC_MUST_CHECK struct sign_verifier *
sign_verifier_new(const char *policy_path, const char *registries_d, struct cc_error **err);
void sign_verifier_free(struct sign_verifier *v);

/* Whether the image ref (a docker reference with a tag or digest), whose top-level manifest
 * (or index) is manifest (len bytes, digest `digest`), may be pulled. reg is a client for
 * ref's repository (for the signature extension and attachments). 0: allowed. */
CC_MUST_CHECK int sign_verify_image(const struct sign_verifier *v, struct img_registry *reg,
				    const struct img_ref *ref, const char *digest,
				    const char *manifest, size_t len, struct cc_error **err);

/* sign_verify_image with ctx a struct sign_verifier, for img_pull_opts.gate. */
CC_MUST_CHECK int sign_pull_gate(void *ctx, struct img_registry *reg, const struct img_ref *ref,
				 const char *digest, const char *manifest, size_t len,
				 struct cc_error **err);
