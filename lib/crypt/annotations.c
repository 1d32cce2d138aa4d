// SPDX-License-Identifier: Apache-2.0
/* ocicrypt layer annotations and media types. See annotations.h and crypt.h. */
#include <stdlib.h>
#include <string.h>
#include "crypt/annotations.h"
#include "crypt/crypt.h"
#include "util/cleanup.h"
#include "util/json.h"

#define ENC_SUFFIX "+encrypted"
#define PROVIDER_NAME_MAX 128

const char *crypt_scheme_name(enum crypt_scheme s)
{
	switch (s) {
	case CRYPT_SCHEME_JWE:
		return "jwe";
	case CRYPT_SCHEME_PKCS7:
		return "pkcs7";
	case CRYPT_SCHEME_PGP:
		return "pgp";
	default:
		return "provider";
	}
}

bool crypt_media_type_is_encrypted(const char *mt)
{
	size_t n = mt ? strlen(mt) : 0, s = strlen(ENC_SUFFIX);
	return n > s && strcmp(mt + n - s, ENC_SUFFIX) == 0;
}

char *crypt_media_type_plain(const char *mt, struct cc_error **err)
{
	if (!crypt_media_type_is_encrypted(mt)) {
		cc_error_set(err, 0, "media type \"%s\" is not an encrypted type", mt ? mt : "");
		return NULL;
	}
	char *plain = xstrndup(mt, strlen(mt) - strlen(ENC_SUFFIX));
	if (crypt_media_type_is_encrypted(plain)) {
		cc_error_set(err, 0, "media type \"%s\" is encrypted twice", mt);
		free(plain);
		return NULL;
	}
	return plain;
}

char *crypt_media_type_encrypted(const char *mt, struct cc_error **err)
{
	/* containers/image encrypts only tar layers, whatever their compression. */
	static const char *const bases[] = {
		"application/vnd.oci.image.layer.v1.tar",
		"application/vnd.docker.image.rootfs.diff.tar",
		"application/vnd.oci.image.layer.nondistributable.v1.tar",
	};
	size_t base = mt ? strcspn(mt, "+") : 0;

	if (mt && strstr(mt, ENC_SUFFIX)) {
		cc_error_set(err, 0, "media type \"%s\" is already encrypted", mt);
		return NULL;
	}
	for (size_t i = 0; mt && i < ARRAY_SIZE(bases); i++)
		if (strlen(bases[i]) == base && !strncmp(mt, bases[i], base))
			return xasprintf("%s%s", mt, ENC_SUFFIX);
	cc_error_set(err, 0, "media type \"%s\" is not a layer type that can be encrypted",
		     mt ? mt : "");
	return NULL;
}

/* Split "b64,b64,..." into decoded blobs. */
static int parse_list(const char *key, const json_t *v, struct crypt_wrapped *w,
		      struct cc_error **err)
{
	if (!json_is_string(v))
		return cc_error_set(err, 0, "annotation %s: a %s, not a string", key,
				    cc_json_type_name(v));
	const char *s = json_string_value(v);
	size_t len = json_string_length(v);
	if (len > CRYPT_ANNOTATION_MAX)
		return cc_error_set(err, 0, "annotation %s: %zu bytes, more than the %u allowed",
				    key, len, CRYPT_ANNOTATION_MAX);
	if (len == 0)
		return cc_error_set(err, 0, "annotation %s: empty", key);
	for (size_t pos = 0, i = 0; pos <= len; i++) {
		const char *comma = memchr(s + pos, ',', len - pos);
		size_t n = comma ? (size_t)(comma - (s + pos)) : len - pos;
		if (i >= CRYPT_LIST_MAX)
			return cc_error_set(err, 0, "annotation %s: more than %u entries", key,
					    CRYPT_LIST_MAX);
		w->blobs = xreallocarray(w->blobs, i + 1, sizeof(*w->blobs));
		memset(&w->blobs[i], 0, sizeof(w->blobs[i]));
		w->n_blobs = i + 1;
		if (n == 0 || crypt_b64_decode(s + pos, n, CRYPT_B64_STD, &w->blobs[i]) < 0)
			return cc_error_set(err, 0, "annotation %s: entry %zu is not valid base64",
					    key, i + 1);
		pos += n + 1;
	}
	return 0;
}

static bool valid_provider_name(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > PROVIDER_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (name[i] <= ' ' || name[i] > '~')
			return false;
	return true;
}

static int add_keys(struct crypt_annotations *a, const char *key, const json_t *v,
		    enum crypt_scheme scheme, struct cc_error **err)
{
	a->keys = xreallocarray(a->keys, a->n_keys + 1, sizeof(*a->keys));
	struct crypt_wrapped *w = &a->keys[a->n_keys++];
	memset(w, 0, sizeof(*w));
	w->scheme = scheme;
	w->annotation = xstrdup(key);
	if (scheme == CRYPT_SCHEME_PROVIDER) {
		w->provider = xstrdup(key + strlen(CRYPT_ANN_PROVIDER));
		if (!valid_provider_name(w->provider))
			return cc_error_set(err, 0, "annotation %s: invalid key provider name",
					    key);
	}
	return parse_list(key, v, w, err);
}

static int parse_pubopts(struct crypt_annotations *a, const json_t *v, struct cc_error **err)
{
	if (!json_is_string(v))
		return cc_error_set(err, 0, "annotation %s: a %s, not a string", CRYPT_ANN_PUBOPTS,
				    cc_json_type_name(v));
	if (json_string_length(v) > CRYPT_ANNOTATION_MAX)
		return cc_error_set(err, 0, "annotation %s: too long", CRYPT_ANN_PUBOPTS);
	if (crypt_b64_decode(json_string_value(v), json_string_length(v), CRYPT_B64_STD,
			     &a->pubopts) < 0)
		return cc_error_set(err, 0, "annotation %s: not valid base64", CRYPT_ANN_PUBOPTS);
	return 0;
}

static int scheme_of(const char *key, enum crypt_scheme *s)
{
	if (!strcmp(key, CRYPT_ANN_JWE))
		*s = CRYPT_SCHEME_JWE;
	else if (!strcmp(key, CRYPT_ANN_PKCS7))
		*s = CRYPT_SCHEME_PKCS7;
	else if (!strcmp(key, CRYPT_ANN_PGP))
		*s = CRYPT_SCHEME_PGP;
	else if (!strncmp(key, CRYPT_ANN_PROVIDER, strlen(CRYPT_ANN_PROVIDER)))
		*s = CRYPT_SCHEME_PROVIDER;
	else
		return -1;
	return 0;
}

static int cmp_wrapped(const void *a, const void *b)
{
	const struct crypt_wrapped *x = a, *y = b;
	if (x->scheme != y->scheme)
		return (int)x->scheme - (int)y->scheme;
	return strcmp(x->annotation, y->annotation);
}

int crypt_annotations_parse(const json_t *annotations, struct crypt_annotations *out,
			    struct cc_error **err)
{
	const char *key;
	json_t *v;

	memset(out, 0, sizeof(*out));
	if (!annotations || json_is_null(annotations))
		return 0;
	if (!json_is_object(annotations))
		return cc_error_set(err, 0, "layer annotations: a %s, not an object",
				    cc_json_type_name(annotations));
	json_object_foreach ((json_t *)annotations, key, v) {
		enum crypt_scheme s;
		int r = 0;
		if (!strcmp(key, CRYPT_ANN_PUBOPTS))
			r = parse_pubopts(out, v, err);
		else if (scheme_of(key, &s) == 0)
			r = add_keys(out, key, v, s, err);
		if (r < 0) {
			crypt_annotations_clear(out);
			return -1;
		}
	}
	/* A stable order (cheap local schemes first) makes errors reproducible. */
	if (out->n_keys > 1)
		qsort(out->keys, out->n_keys, sizeof(*out->keys), cmp_wrapped);
	return 0;
}

void crypt_annotations_clear(struct crypt_annotations *a)
{
	for (size_t i = 0; i < a->n_keys; i++) {
		struct crypt_wrapped *w = &a->keys[i];
		for (size_t j = 0; j < w->n_blobs; j++)
			crypt_buf_wipe(&w->blobs[j]);
		free(w->blobs);
		free(w->annotation);
		free(w->provider);
	}
	free(a->keys);
	crypt_buf_wipe(&a->pubopts);
	memset(a, 0, sizeof(*a));
}
