/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Image references: the docker reference grammar (distribution/reference) with docker's
 * normalisation, so that `redis` names `docker.io/library/redis:latest`.
 *
 *   reference := [domain "/"] path [":" tag] ["@" digest]
 *   domain    := host [":" port]    host: DNS-like components, IPv4, or "[" IPv6 "]"
 *   path      := component ("/" component)*    component: [a-z0-9]+ joined by "." "_" "__" "-"+
 *   tag       := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
 *   digest    := algorithm ":" hex    (sha256: 64, sha384: 96, sha512: 128 lower-case hex digits)
 */
#pragma once

#include <stdbool.h>
#include "util/error.h"

#define IMG_DEFAULT_DOMAIN "docker.io"
#define IMG_DEFAULT_TAG "latest"
#define IMG_NAME_MAX 255 /* domain + "/" + path */

struct img_ref {
	char *domain; /* "docker.io", "127.0.0.1:5000", "[::1]:5000" */
	char *path;   /* "library/redis" */
	char *tag;    /* NULL when only a digest was given */
	char *digest; /* "sha256:<hex>" or NULL */
};

/* Parse and normalise: a missing domain is docker.io ("index.docker.io" becomes docker.io),
 * a single-component docker.io path gets "library/", and with neither tag nor digest the tag is
 * "latest". On error *out is untouched and the message names the reference and the reason. */
CC_MUST_CHECK int img_ref_parse(const char *text, struct img_ref *out, struct cc_error **err);
/* The same without the default tag: a name-only reference keeps tag and digest NULL (what
 * a signature or a policy says is taken as written, as containers/image does). */
CC_MUST_CHECK int img_ref_parse_named(const char *text, struct img_ref *out, struct cc_error **err);
void img_ref_clear(struct img_ref *r);

/* "domain/path" */
char *img_ref_name(const struct img_ref *r);
/* The canonical string: "domain/path:tag", "domain/path@digest" or "domain/path:tag@digest". */
char *img_ref_string(const struct img_ref *r);
/* What the registry API calls the manifest reference: the digest if any, else the tag. */
const char *img_ref_manifest_ref(const struct img_ref *r);

/* A registry host: host [":" port], host being DNS-like components, IPv4 or "[" IPv6 "]". */
bool img_domain_valid(const char *domain);
/* A digest string "algorithm:hex" of a supported algorithm with the right length. */
bool img_digest_valid(const char *digest);
