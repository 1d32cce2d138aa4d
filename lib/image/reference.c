// SPDX-License-Identifier: Apache-2.0
/* Docker image references: parsing, validation, normalisation. See reference.h. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include "image/reference.h"
#include "util/cleanup.h"

#define TAG_MAX 128

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_hex_lower(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )* over [s, s + n) */
static bool path_component_valid(const char *s, size_t n)
{
	size_t i = 0;
	if (n == 0 || !is_lower_alnum(s[0]))
		return false;
	while (i < n) {
		while (i < n && is_lower_alnum(s[i]))
			i++;
		if (i == n)
			return true;
		size_t sep = i;
		if (s[i] == '.')
			i++;
		else if (s[i] == '_')
			i += (i + 1 < n && s[i + 1] == '_') ? 2 : 1;
		else
			while (i < n && s[i] == '-')
				i++;
		if (i == sep || i == n || !is_lower_alnum(s[i]))
			return false;
	}
	return true;
}

/* A DNS-like component: alphanumerics with inner hyphens. */
static bool domain_component_valid(const char *s, size_t n)
{
	if (n == 0 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-')
			return false;
	return true;
}

static bool port_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 5 || strspn(s, "0123456789") != n)
		return false;
	long v = strtol(s, NULL, 10);
	return v > 0 && v <= 65535;
}

/* host [":" port], host being DNS-like components, IPv4, or "[" IPv6 "]". */
bool img_domain_valid(const char *d)
{
	const char *port = NULL;
	size_t host_len;
	if (d[0] == '[') {
		const char *close = strchr(d, ']');
		if (!close || close == d + 1 ||
		    strspn(d + 1, "0123456789abcdefABCDEF:") != (size_t)(close - d - 1))
			return false;
		if (close[1] == ':')
			port = close + 2;
		else if (close[1])
			return false;
		return !port || port_valid(port);
	}
	const char *colon = strchr(d, ':');
	host_len = colon ? (size_t)(colon - d) : strlen(d);
	if (colon) {
		port = colon + 1;
		if (!port_valid(port))
			return false;
	}
	for (size_t i = 0; i < host_len;) {
		size_t n = strcspn(d + i, ".:");
		if (n > host_len - i)
			n = host_len - i;
		if (!domain_component_valid(d + i, n))
			return false;
		i += n;
		if (i < host_len && d[i] == '.') {
			i++;
			if (i == host_len)
				return false;
		}
	}
	return host_len > 0;
}

static bool tag_valid(const char *t)
{
	size_t n = strlen(t);
	if (n == 0 || n > TAG_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = t[i];
		bool word = isalnum((unsigned char)c) || c == '_';
		if (!word && (i == 0 || (c != '.' && c != '-')))
			return false;
	}
	return true;
}

bool img_digest_valid(const char *digest)
{
	static const struct {
		const char *algorithm;
		size_t hex;
	} algorithms[] = { { "sha256", 64 }, { "sha384", 96 }, { "sha512", 128 } };
	const char *colon = digest ? strchr(digest, ':') : NULL;
	if (!colon)
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(algorithms); i++) {
		size_t alen = strlen(algorithms[i].algorithm);
		if ((size_t)(colon - digest) != alen ||
		    strncmp(digest, algorithms[i].algorithm, alen) != 0)
			continue;
		const char *hex = colon + 1;
		size_t n = strlen(hex);
		if (n != algorithms[i].hex)
			return false;
		for (size_t k = 0; k < n; k++)
			if (!is_hex_lower(hex[k]))
				return false;
		return true;
	}
	return false;
}

/* Why a digest is refused, for the message. */
static const char *digest_problem(const char *digest)
{
	const char *colon = strchr(digest, ':');
	if (!colon || colon == digest || !colon[1])
		return "invalid digest format (want algorithm:hex)";
	size_t alen = (size_t)(colon - digest);
	if ((alen == 6 && (!strncmp(digest, "sha256", 6) || !strncmp(digest, "sha384", 6) ||
			   !strncmp(digest, "sha512", 6))))
		return "invalid digest: wrong length or not lower-case hex";
	return "unsupported digest algorithm (sha256, sha384 or sha512)";
}

static bool all_hex64(const char *s)
{
	if (strlen(s) != 64)
		return false;
	for (size_t i = 0; i < 64; i++)
		if (!is_hex_lower(s[i]))
			return false;
	return true;
}

static int fail(struct cc_error **err, const char *text, const char *why)
{
	/* What a user or an untrusted file wrote: shown escaped, on one line. */
	char shown[CC_SHOWN_BUF];
	cc_shown(text, strlen(text), shown);
	return cc_error_set(err, 0, "invalid reference \"%s\": %s", shown, why);
}

/* docker's rule: the first component is a registry if it has a "." or ":", is "localhost", or
 * has upper-case letters (a path cannot); otherwise the image lives on docker.io. */
static void split_domain(const char *name, char **domain, char **path)
{
	const char *slash = strchr(name, '/');
	bool registry = false;
	if (slash) {
		size_t n = (size_t)(slash - name);
		registry = memchr(name, '.', n) || memchr(name, ':', n) ||
			   (n == 9 && !strncmp(name, "localhost", 9));
		for (size_t i = 0; i < n && !registry; i++)
			registry = isupper((unsigned char)name[i]);
	}
	if (!registry) {
		*domain = xstrdup(IMG_DEFAULT_DOMAIN);
		*path = xstrdup(name);
	} else {
		*domain = xstrndup(name, (size_t)(slash - name));
		*path = xstrdup(slash + 1);
	}
	if (!strcmp(*domain, "index.docker.io")) {
		free(*domain);
		*domain = xstrdup(IMG_DEFAULT_DOMAIN);
	}
	if (!strcmp(*domain, IMG_DEFAULT_DOMAIN) && !strchr(*path, '/')) {
		char *p = xasprintf("library/%s", *path);
		free(*path);
		*path = p;
	}
}

static int check_path(const char *text, const char *path, struct cc_error **err)
{
	for (const char *p = path; *p; p++)
		if (isupper((unsigned char)*p))
			return fail(err, text, "repository name must be lowercase");
	for (const char *c = path;;) {
		size_t n = strcspn(c, "/");
		if (!path_component_valid(c, n))
			return fail(err, text, "invalid repository name");
		if (!c[n])
			return 0;
		c += n + 1;
	}
}

static int parse(const char *text, bool default_tag, struct img_ref *out, struct cc_error **err)
{
	if (!text || !*text)
		return cc_error_set(err, 0, "invalid reference \"\": empty");
	if (strlen(text) > 4096)
		return cc_error_set(err, 0, "invalid reference: longer than 4096 bytes");
	for (const char *p = text; *p; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
			return fail(err, text, "contains whitespace or non-ASCII characters");

	_cleanup_free_ char *copy = xstrdup(text);
	_cleanup_free_ char *domain = NULL, *path = NULL, *tag = NULL, *digest = NULL;
	char *at = strchr(copy, '@');
	if (at) {
		*at = '\0';
		digest = xstrdup(at + 1);
		if (!img_digest_valid(digest))
			return fail(err, text, digest_problem(digest));
	}
	char *slash = strrchr(copy, '/');
	char *colon = strrchr(copy, ':');
	if (colon && (!slash || colon > slash)) {
		*colon = '\0';
		tag = xstrdup(colon + 1);
		if (!tag_valid(tag))
			return fail(err, text, "invalid tag");
	}
	if (!*copy)
		return fail(err, text, "missing repository name");
	if (all_hex64(copy))
		return fail(err, text,
			    "a 64-character hexadecimal string is an image ID, not a name");
	split_domain(copy, &domain, &path);
	if (!img_domain_valid(domain))
		return fail(err, text, "invalid registry host");
	if (!*path)
		return fail(err, text, "missing repository name");
	if (check_path(text, path, err) < 0)
		return -1;
	if (strlen(domain) + 1 + strlen(path) > IMG_NAME_MAX)
		return fail(err, text, "repository name longer than 255 characters");
	if (!tag && !digest && default_tag)
		tag = xstrdup(IMG_DEFAULT_TAG);
	*out = (struct img_ref){ steal_pointer(&domain), steal_pointer(&path), steal_pointer(&tag),
				 steal_pointer(&digest) };
	return 0;
}

int img_ref_parse(const char *text, struct img_ref *out, struct cc_error **err)
{
	return parse(text, true, out, err);
}

int img_ref_parse_named(const char *text, struct img_ref *out, struct cc_error **err)
{
	return parse(text, false, out, err);
}

void img_ref_clear(struct img_ref *r)
{
	free(r->domain);
	free(r->path);
	free(r->tag);
	free(r->digest);
	*r = (struct img_ref){ 0 };
}

char *img_ref_name(const struct img_ref *r)
{
	return xasprintf("%s/%s", r->domain, r->path);
}

char *img_ref_string(const struct img_ref *r)
{
	return xasprintf("%s/%s%s%s%s%s", r->domain, r->path, r->tag ? ":" : "",
			 r->tag ? r->tag : "", r->digest ? "@" : "", r->digest ? r->digest : "");
}

const char *img_ref_manifest_ref(const struct img_ref *r)
{
	return r->digest ? r->digest : r->tag;
}
