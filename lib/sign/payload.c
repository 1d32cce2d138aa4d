// SPDX-License-Identifier: Apache-2.0
/* Signature payloads (see payload.h). */
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "sign/payload.h"
#include "util/cleanup.h"
#include "util/json.h"

/* Bounds a payload so that a signed blob cannot make the parser do much: containers/image's
 * payloads are a few hundred bytes. */
#define PAYLOAD_MAX (64 * 1024)

const char *sign_format_type(enum sign_format f)
{
	return f == SIGN_COSIGN ? "cosign container image signature" : "atomic container signature";
}

/* The object member key of o (at path), which has exactly the keys in names (as
 * containers/image's exact-fields objects: none missing, none other). */
static json_t *exact(const struct cc_json_reader *r, const json_t *o, const char *path,
		     const char *key, const char *const *names)
{
	int ret;
	json_t *v = cc_json_member(r, o, path, key, JSON_OBJECT, true, &ret);
	_cleanup_free_ char *p = cc_json_key_path(path, key);
	if (!v || cc_json_known_keys(r, v, p, names) < 0)
		return NULL;
	for (const char *const *n = names; *n; n++)
		if (!json_object_get(v, *n) || json_is_null(json_object_get(v, *n))) {
			_cleanup_free_ char *m = cc_json_key_path(p, *n);
			cc_json_fail(r, m, "required");
			return NULL;
		}
	return v;
}

static int parse(const struct cc_json_reader *r, const json_t *root, enum sign_format f,
		 struct sign_payload *p)
{
	static const char *const top_keys[] = { "critical", "optional", NULL };
	static const char *const crit_keys[] = { "type", "image", "identity", NULL };
	static const char *const image_keys[] = { "docker-manifest-digest", NULL };
	static const char *const ident_keys[] = { "docker-reference", NULL };

	if (cc_json_known_keys(r, root, "", top_keys) < 0)
		return -1;
	if (!json_object_get(root, "optional"))
		return cc_json_fail(r, "optional", "required");
	const json_t *crit = exact(r, root, "", "critical", crit_keys);
	if (!crit)
		return -1;
	_cleanup_free_ char *type = NULL;
	if (cc_json_str(r, crit, "critical", "type", true, &type) < 0)
		return -1;
	const char *want = sign_format_type(f);
	if (strcmp(type, want)) {
		char shown[CC_SHOWN_BUF]; /* the signer chose it */
		cc_shown(type, strlen(type), shown);
		return cc_json_fail(r, "critical.type", "\"%s\", not \"%s\"", shown, want);
	}
	const json_t *image = exact(r, crit, "critical", "image", image_keys);
	const json_t *ident = image ? exact(r, crit, "critical", "identity", ident_keys) : NULL;
	if (!ident ||
	    cc_json_str(r, image, "critical.image", "docker-manifest-digest", true,
			&p->manifest_digest) < 0 ||
	    cc_json_str(r, ident, "critical.identity", "docker-reference", true,
			&p->docker_reference) < 0)
		return -1;

	/* optional: its other keys are ignored; null only in cosign's payloads */
	const json_t *opt = json_object_get(root, "optional");
	if (json_is_null(opt) && f == SIGN_COSIGN)
		return 0;
	if (!json_is_object(opt))
		return cc_json_fail(r, "optional", "expected object, got %s",
				    cc_json_type_name(opt));
	if (cc_json_str(r, opt, "optional", "creator", false, &p->creator) < 0)
		return -1;
	return cc_json_int(r, opt, "optional", "timestamp", INT64_MIN, INT64_MAX, &p->timestamp,
			   &p->has_timestamp);
}

int sign_payload_parse(const void *buf, size_t len, enum sign_format f, struct sign_payload *out,
		       struct cc_error **err)
{
	const struct cc_json_reader r = { "signature payload", err };
	memset(out, 0, sizeof(*out));
	if (len > PAYLOAD_MAX)
		return cc_json_fail(&r, "", "%zu bytes, more than %d", len, PAYLOAD_MAX);
	_cleanup_json_ json_t *root = cc_json_load_buf(r.name, buf, len, err);
	if (!root)
		return -1;
	if (parse(&r, root, f, out) < 0) {
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
