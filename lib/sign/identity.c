// SPDX-License-Identifier: Apache-2.0
/* signedIdentity rules (see identity.h). */
#include <string.h>
#include "sign/identity.h"
#include "util/cleanup.h"

static bool name_only(const struct img_ref *r)
{
	return !r->tag && !r->digest;
}

static bool same_name(const struct img_ref *a, const struct img_ref *b)
{
	return !strcmp(a->domain, b->domain) && !strcmp(a->path, b->path);
}

/* S == I as strings (name, tag and digest), neither of them name-only. */
static bool exact(const struct img_ref *i, const struct img_ref *s)
{
	if (name_only(i) || name_only(s))
		return false;
	_cleanup_free_ char *a = img_ref_string(i), *b = img_ref_string(s);
	return !strcmp(a, b);
}

static bool repo_digest_or_exact(const struct img_ref *i, const struct img_ref *s)
{
	if (name_only(s)) /* a signature names what it signs */
		return false;
	if (i->digest) /* by digest (with a tag or not): the digest is checked on its own */
		return same_name(i, s);
	return i->tag && exact(i, s);
}

/* prefix matches the start of ref up to a boundary: the end, or ':', '/' or '@' after it
 * (so that "host/ns" covers "host/ns/app:1" and "host/ns:1" but not "host/nsx"). */
static bool has_prefix(const char *ref, const char *prefix)
{
	size_t n = strlen(prefix);
	if (strncmp(ref, prefix, n))
		return false;
	return ref[n] == '\0' || ref[n] == ':' || ref[n] == '/' || ref[n] == '@';
}

static bool remapped(const struct sign_identity *rule, const struct img_ref *i,
		     const struct img_ref *s)
{
	_cleanup_free_ char *text = img_ref_string(i);
	if (!has_prefix(text, rule->prefix))
		return repo_digest_or_exact(i, s);
	_cleanup_free_ char *mapped =
	    xasprintf("%s%s", rule->signed_prefix, text + strlen(rule->prefix));
	struct img_ref m;
	struct cc_error *err = NULL;
	if (img_ref_parse_named(mapped, &m, &err) < 0) {
		cc_error_free(&err);
		return false;
	}
	/* the result must already be in canonical form, as c/image's ParseNamed demands */
	_cleanup_free_ char *canonical = img_ref_string(&m);
	bool ok = !strcmp(canonical, mapped) && repo_digest_or_exact(&m, s);
	img_ref_clear(&m);
	return ok;
}

/* What the policy names (dockerReference, dockerRepository). */
static bool against_policy(const char *text, const struct img_ref *s, bool whole)
{
	struct img_ref p;
	struct cc_error *err = NULL;
	if (!text || img_ref_parse_named(text, &p, &err) < 0) {
		cc_error_free(&err);
		return false;
	}
	bool ok = whole ? exact(&p, s) : same_name(&p, s);
	img_ref_clear(&p);
	return ok;
}

bool sign_identity_matches(const struct sign_identity *rule, const struct img_ref *image,
			   const char *signed_reference)
{
	struct img_ref s;
	struct cc_error *err = NULL;
	if (!signed_reference || img_ref_parse_named(signed_reference, &s, &err) < 0) {
		cc_error_free(&err);
		return false;
	}
	bool ok = false;
	switch (rule->type) {
	case SIGN_ID_MATCH_REPO_DIGEST_OR_EXACT:
		ok = repo_digest_or_exact(image, &s);
		break;
	case SIGN_ID_MATCH_EXACT:
		ok = exact(image, &s);
		break;
	case SIGN_ID_MATCH_REPOSITORY:
		ok = same_name(image, &s);
		break;
	case SIGN_ID_EXACT_REFERENCE:
		ok = against_policy(rule->reference, &s, true);
		break;
	case SIGN_ID_EXACT_REPOSITORY:
		ok = against_policy(rule->repository, &s, false);
		break;
	case SIGN_ID_REMAP_IDENTITY:
		ok = rule->prefix && rule->signed_prefix && remapped(rule, image, &s);
		break;
	}
	img_ref_clear(&s);
	return ok;
}
