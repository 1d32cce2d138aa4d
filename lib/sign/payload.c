// SPDX-License-Identifier: Apache-2.0
/* Signature payloads (see payload.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "sign/payload.h"
#include "util/cleanup.h"
#include "util/json.h"

/* Bounds a payload so that a signed blob cannot make the parser do much: containers/image's
 * payloads are a few hundred bytes. */
#define PAYLOAD_MAX (64 * 1024)
#define DIGEST_KEY "critical.image.docker-manifest-digest"
#define REFERENCE_KEY "critical.identity.docker-reference"

/* Every message: "signature payload: PATH: what", PATH empty for the top level. */
static int fail(struct cc_error **err, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct cc_error **err, const char *path, const char *fmt, ...)
{
	va_list ap;
	_cleanup_free_ char *msg = NULL;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		abort();
	va_end(ap);
	return cc_error_set(err, 0, "signature payload: %s%s%s", path, *path ? ": " : "", msg);
}

const char *sign_format_type(enum sign_format f)
{
	return f == SIGN_COSIGN ? "cosign container image signature" : "atomic container signature";
}

/* o (at path) must be an object with exactly the keys in names; the values go to out[i]. */
static int exact_object(const json_t *o, const char *path, const char *const *names, size_t n,
			json_t **out, struct cc_error **err)
{
	if (!json_is_object(o))
		return fail(err, path, "expected object, got %s", cc_json_type_name(o));
	const char *key;
	json_t *v;
	json_object_foreach ((json_t *)o, key, v) {
		size_t i = 0;
		while (i < n && strcmp(key, names[i]))
			i++;
		if (i == n) {
			char shown[CC_SHOWN_BUF]; /* the signer chose it */
			cc_shown(key, strlen(key), shown);
			return fail(err, path, "unknown key \"%s\"", shown);
		}
	}
	for (size_t i = 0; i < n; i++) {
		out[i] = json_object_get(o, names[i]);
		if (!out[i])
			return fail(err, path, "\"%s\" required", names[i]);
	}
	return 0;
}

static int string_at(const json_t *v, const char *path, char **out, struct cc_error **err)
{
	if (!json_is_string(v))
		return fail(err, path, "expected string, got %s", cc_json_type_name(v));
	if (strlen(json_string_value(v)) != json_string_length(v))
		return fail(err, path, "contains a NUL byte");
	*out = xstrdup(json_string_value(v));
	return 0;
}

static int parse_optional(const json_t *o, enum sign_format f, struct sign_payload *p,
			  struct cc_error **err)
{
	if (json_is_null(o) && f == SIGN_COSIGN)
		return 0; /* cosign writes null when there are no annotations */
	if (!json_is_object(o))
		return fail(err, "optional", "expected object, got %s", cc_json_type_name(o));
	const json_t *creator = json_object_get(o, "creator");
	if (creator && string_at(creator, "optional.creator", &p->creator, err) < 0)
		return -1;
	const json_t *ts = json_object_get(o, "timestamp");
	if (ts) {
		if (!json_is_integer(ts))
			return fail(err, "optional.timestamp", "expected integer, got %s",
				    cc_json_type_name(ts));
		p->timestamp = json_integer_value(ts);
		p->has_timestamp = true;
	}
	return 0;
}

static int parse(const json_t *root, enum sign_format f, struct sign_payload *p,
		 struct cc_error **err)
{
	static const char *const top_keys[] = { "critical", "optional" };
	static const char *const crit_keys[] = { "type", "image", "identity" };
	static const char *const image_keys[] = { "docker-manifest-digest" };
	static const char *const ident_keys[] = { "docker-reference" };
	json_t *top[2], *crit[3], *image[1], *ident[1];

	if (exact_object(root, "", top_keys, 2, top, err) < 0 ||
	    exact_object(top[0], "critical", crit_keys, 3, crit, err) < 0)
		return -1;
	if (!json_is_string(crit[0]))
		return fail(err, "critical.type", "expected string, got %s",
			    cc_json_type_name(crit[0]));
	const char *want = sign_format_type(f);
	if (json_string_length(crit[0]) != strlen(want) ||
	    strcmp(json_string_value(crit[0]), want)) {
		char shown[CC_SHOWN_BUF]; /* the signer chose it */
		cc_shown(json_string_value(crit[0]), json_string_length(crit[0]), shown);
		return fail(err, "critical.type", "\"%s\", not \"%s\"", shown, want);
	}
	if (exact_object(crit[1], "critical.image", image_keys, 1, image, err) < 0 ||
	    exact_object(crit[2], "critical.identity", ident_keys, 1, ident, err) < 0)
		return -1;
	if (string_at(image[0], DIGEST_KEY, &p->manifest_digest, err) < 0 ||
	    string_at(ident[0], REFERENCE_KEY, &p->docker_reference, err) < 0)
		return -1;
	return parse_optional(top[1], f, p, err);
}

int sign_payload_parse(const void *buf, size_t len, enum sign_format f, struct sign_payload *out,
		       struct cc_error **err)
{
	memset(out, 0, sizeof(*out));
	if (len > PAYLOAD_MAX)
		return fail(err, "", "%zu bytes, more than %d", len, PAYLOAD_MAX);
	_cleanup_json_ json_t *root = cc_json_load_buf("signature payload", buf, len, err);
	if (!root)
		return -1;
	if (parse(root, f, out, err) < 0) {
		sign_payload_clear(out);
		return -1;
	}
	return 0;
}

void sign_payload_clear(struct sign_payload *p)
{
	free(p->manifest_digest);
	free(p->docker_reference);
	free(p->creator);
	memset(p, 0, sizeof(*p));
}

char *sign_payload_make(enum sign_format f, const char *docker_reference,
			const char *manifest_digest, const char *creator, int64_t timestamp)
{
	_cleanup_json_ json_t *optional = json_object();
	if (creator)
		json_object_set_new(optional, "creator", json_string(creator));
	if (timestamp >= 0)
		json_object_set_new(optional, "timestamp", json_integer(timestamp));
	_cleanup_json_ json_t *root =
	    json_pack("{s:{s:{s:s}, s:{s:s}, s:s}, s:O}", "critical", "identity",
		      "docker-reference", docker_reference, "image", "docker-manifest-digest",
		      manifest_digest, "type", sign_format_type(f), "optional", optional);
	if (!root)
		abort(); /* only allocation fails here */
	char *s = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
	if (!s)
		abort();
	return s;
}
