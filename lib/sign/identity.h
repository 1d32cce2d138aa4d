/* SPDX-License-Identifier: Apache-2.0 */
/*
 * signedIdentity: which image references a signature's claimed docker-reference may stand
 * for, the rules of containers-policy.json(5), decided as containers/image decides them.
 * I is the image as pulled (a docker reference with a tag or a digest), S what the signature
 * claims (taken as written: a name-only S has neither).
 */
#pragma once

#include <stdbool.h>
#include "image/reference.h"

enum sign_identity_type {
	SIGN_ID_MATCH_REPO_DIGEST_OR_EXACT, /* the default: I by digest: same repository; I by
					       tag: S == I */
	SIGN_ID_MATCH_EXACT,		    /* S == I, both with a tag or digest */
	SIGN_ID_MATCH_REPOSITORY,	    /* same repository, tags and digests ignored */
	SIGN_ID_EXACT_REFERENCE,	    /* S == reference (with a tag or digest) */
	SIGN_ID_EXACT_REPOSITORY,	    /* S in repository */
	SIGN_ID_REMAP_IDENTITY,		    /* I with prefix replaced by signed_prefix, then
					       the default rule */
};

struct sign_identity {
	enum sign_identity_type type;
	char *reference;     /* SIGN_ID_EXACT_REFERENCE: dockerReference */
	char *repository;    /* SIGN_ID_EXACT_REPOSITORY: dockerRepository */
	char *prefix;	     /* SIGN_ID_REMAP_IDENTITY: prefix ... */
	char *signed_prefix; /* ... and signedPrefix */
};

/* Does a signature claiming `signed_reference` satisfy rule for the image `image`? A claim
 * that does not parse as a reference matches nothing. */
bool sign_identity_matches(const struct sign_identity *rule, const struct img_ref *image,
			   const char *signed_reference);
