// SPDX-License-Identifier: Apache-2.0
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/strv.h"

json_t *cc_json_load_buf(const char *name, const char *buf, size_t len, struct cc_error **err)
{
	json_error_t jerr;
	json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
	if (!j) {
		/* jansson quotes the input near the error: it may hold a newline or worse. */
		char shown[CC_SHOWN_BUF];
		cc_shown(jerr.text, strlen(jerr.text), shown);
		cc_error_set(err, 0, "%s: line %d column %d: %s", name, jerr.line, jerr.column,
			     shown);
		return NULL;
	}
	return j;
}

json_t *cc_json_load_file(const char *path, struct cc_error **err)
{
	size_t len;
	_cleanup_free_ char *buf = cc_read_file(path, 0, &len, err);
	if (!buf)
		return NULL;
	return cc_json_load_buf(path, buf, len, err);
}

char *cc_json_dump(const json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);
	if (!s)
		abort();
	return s;
}

int cc_json_fail(const struct cc_json_reader *r, const char *path, const char *fmt, ...)
{
	va_list ap;
	_cleanup_free_ char *msg = NULL;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		abort();
	va_end(ap);
	return cc_error_set(r->err, 0, "%s: %s%s%s", r->name, path, *path ? ": " : "", msg);
}

char *cc_json_key_path(const char *path, const char *key)
{
	return *path ? xasprintf("%s.%s", path, key) : xstrdup(key);
}

char *cc_json_index_path(const char *path, size_t i)
{
	return xasprintf("%s[%zu]", path, i);
}

char *cc_json_map_path(const char *path, const char *key)
{
	char shown[CC_SHOWN_BUF]; /* the document chose it */
	cc_shown(key, strlen(key), shown);
	return xasprintf("%s[\"%s\"]", path, shown);
}

bool cc_json_has(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	return v && !json_is_null(v);
}

static const char *type_word(json_type t)
{
	switch (t) {
	case JSON_OBJECT:
		return "object";
	case JSON_ARRAY:
		return "array";
	case JSON_STRING:
		return "string";
	case JSON_INTEGER:
		return "integer";
	case JSON_REAL:
		return "number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "boolean";
	default:
		return "null";
	}
}

const char *cc_json_type_name(const json_t *v)
{
	return type_word(json_typeof(v));
}

static bool type_is(const json_t *v, json_type want)
{
	return json_typeof(v) == want || (want == JSON_TRUE && json_is_boolean(v));
}

int cc_json_expect(const struct cc_json_reader *r, const json_t *v, const char *path,
		   json_type want)
{
	if (type_is(v, want))
		return 0;
	return cc_json_fail(r, path, "expected %s, got %s", type_word(want), cc_json_type_name(v));
}

/* v is a string that a C string can hold; not_cstr says why not, at path. */
static bool is_cstr(const json_t *v)
{
	return json_is_string(v) && strlen(json_string_value(v)) == json_string_length(v);
}

static int not_cstr(const struct cc_json_reader *r, const json_t *v, const char *path)
{
	if (!json_is_string(v))
		return cc_json_expect(r, v, path, JSON_STRING);
	return cc_json_fail(r, path, "contains a NUL byte");
}

int cc_json_known_keys(const struct cc_json_reader *r, const json_t *v, const char *path,
		       const char *const *names)
{
	const char *key;
	json_t *m;
	if (!json_is_object(v))
		return cc_json_fail(r, path, "expected object, got %s", cc_json_type_name(v));
	json_object_foreach ((json_t *)v, key, m) {
		const char *const *n = names;
		while (*n && strcmp(*n, key))
			n++;
		if (!*n) {
			char shown[CC_SHOWN_BUF]; /* the document chose it */
			cc_shown(key, strlen(key), shown);
			return cc_json_fail(r, path, "unknown key \"%s\"", shown);
		}
	}
	return 0;
}

json_t *cc_json_member(const struct cc_json_reader *r, const json_t *o, const char *path,
		       const char *key, json_type want, bool required, int *ret)
{
	json_t *v = json_object_get(o, key);
	*ret = 0;
	if (!v || json_is_null(v)) {
		if (required) {
			_cleanup_free_ char *p = cc_json_key_path(path, key);
			*ret = cc_json_fail(r, p, "required");
		}
		return NULL;
	}
	if (!type_is(v, want)) {
		_cleanup_free_ char *p = cc_json_key_path(path, key);
		*ret = cc_json_expect(r, v, p, want);
		return NULL;
	}
	return v;
}

int cc_json_str(const struct cc_json_reader *r, const json_t *o, const char *path, const char *key,
		bool required, char **out)
{
	int ret;
	json_t *v = cc_json_member(r, o, path, key, JSON_STRING, required, &ret);
	if (!v)
		return ret;
	if (!is_cstr(v)) {
		_cleanup_free_ char *p = cc_json_key_path(path, key);
		return not_cstr(r, v, p);
	}
	free(*out);
	*out = xstrdup(json_string_value(v));
	return 0;
}

int cc_json_int(const struct cc_json_reader *r, const json_t *o, const char *path, const char *key,
		int64_t min, int64_t max, int64_t *out, bool *has)
{
	int ret;
	json_t *v = cc_json_member(r, o, path, key, JSON_INTEGER, false, &ret);
	if (!v)
		return ret;
	json_int_t n = json_integer_value(v);
	if (n < min || n > max) {
		_cleanup_free_ char *p = cc_json_key_path(path, key);
		return cc_json_fail(r, p, "%lld out of range [%lld, %lld]", (long long)n,
				    (long long)min, (long long)max);
	}
	*out = n;
	if (has)
		*has = true;
	return 0;
}

int cc_json_u32(const struct cc_json_reader *r, const json_t *o, const char *path, const char *key,
		uint32_t *out, bool *has)
{
	int64_t v = 0;
	bool h = false;
	if (cc_json_int(r, o, path, key, 0, UINT32_MAX, &v, &h) < 0)
		return -1;
	if (h)
		*out = (uint32_t)v;
	if (has)
		*has = h;
	return 0;
}

int cc_json_bool(const struct cc_json_reader *r, const json_t *o, const char *path, const char *key,
		 bool *out, bool *has)
{
	int ret;
	json_t *v = cc_json_member(r, o, path, key, JSON_TRUE, false, &ret);
	if (!v)
		return ret;
	*out = json_is_true(v);
	if (has)
		*has = true;
	return 0;
}

int cc_json_strv(const struct cc_json_reader *r, const json_t *o, const char *path, const char *key,
		 size_t max, char ***out)
{
	json_t *v = json_object_get(o, key), *e;
	size_t i;
	if (!v || json_is_null(v))
		return 0;
	_cleanup_free_ char *p = cc_json_key_path(path, key);
	if (!json_is_array(v))
		return cc_json_fail(r, p, "expected array of strings, got %s",
				    cc_json_type_name(v));
	if (json_array_size(v) > max)
		return cc_json_fail(r, p, "%zu entries, more than %zu", json_array_size(v), max);
	_cleanup_strv_ char **vec = xcalloc(json_array_size(v) + 1, sizeof(char *));
	json_array_foreach (v, i, e) {
		if (!is_cstr(e)) {
			_cleanup_free_ char *ip = cc_json_index_path(p, i);
			return not_cstr(r, e, ip);
		}
		vec[i] = xstrdup(json_string_value(e));
	}
	cc_strv_free(*out);
	*out = steal_pointer(&vec);
	return 0;
}

json_t *cc_json_str_map(const struct cc_json_reader *r, const json_t *o, const char *path,
			const char *key, int *ret)
{
	json_t *m = cc_json_member(r, o, path, key, JSON_OBJECT, false, ret), *v;
	const char *k;
	if (!m)
		return NULL;
	_cleanup_free_ char *p = cc_json_key_path(path, key);
	json_object_foreach (m, k, v) {
		if (!is_cstr(v)) {
			_cleanup_free_ char *kp = cc_json_map_path(p, k);
			*ret = not_cstr(r, v, kp);
			return NULL;
		}
	}
	return m;
}
