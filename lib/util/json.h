/* SPDX-License-Identifier: Apache-2.0 */
/* Small helpers over jansson. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include "util/error.h"

static inline void cc_json_decrefp(json_t **j)
{
	if (*j)
		json_decref(*j);
}
#define _cleanup_json_ __attribute__((cleanup(cc_json_decrefp)))

/* Load a JSON file strictly (no duplicate keys, objects/arrays only at top level is not
 * required). The error names the file, line and column. */
CC_MUST_CHECK json_t *cc_json_load_file(const char *path, struct cc_error **err);
CC_MUST_CHECK json_t *cc_json_load_buf(const char *name, const char *buf, size_t len,
				       struct cc_error **err);
/* "object", "array", "string", "integer", "number", "boolean" or "null", for messages. */
const char *cc_json_type_name(const json_t *v);
/* Serialise compactly; caller frees. */
char *cc_json_dump(const json_t *j);

/*
 * Typed reading with the path of every value in messages, one schema layer for every reader of
 * untrusted JSON: "NAME: a.b[2].c: expected string, got array". A member that is absent or
 * null is absent; strings with a NUL byte are refused. Each returns 0, or -1 with *r->err set
 * (the first error wins).
 */
struct cc_json_reader {
	const char *name; /* what is read: "config.json", "signature payload", a file name */
	struct cc_error **err;
};

int cc_json_fail(const struct cc_json_reader *r, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* "a.b" + "c" -> "a.b.c", "" + "c" -> "c"; "a" + 2 -> "a[2]"; a key of a map, whose keys are
 * data (dots and all) rather than schema: "a" + "x.y" -> a["x.y"], the key shown escaped. The
 * caller frees. */
char *cc_json_key_path(const char *path, const char *key);
char *cc_json_index_path(const char *path, size_t i);
char *cc_json_map_path(const char *path, const char *key);
/* The member key of o is there and not null (null counts as absent everywhere). */
bool cc_json_has(const json_t *o, const char *key);
/* v (at path, not NULL) is of type want (JSON_TRUE for either boolean): "expected object, got
 * array". */
CC_MUST_CHECK int cc_json_expect(const struct cc_json_reader *r, const json_t *v, const char *path,
				 json_type want);
/* v (at path) is an object whose keys are all among names (NULL-terminated): another key is
 * `unknown key "k"`, shown escaped. */
CC_MUST_CHECK int cc_json_known_keys(const struct cc_json_reader *r, const json_t *v,
				     const char *path, const char *const *names);
/* The member key of o of type want: NULL when absent (with *ret -1 and an error when
 * required), NULL with *ret -1 when of another type. */
json_t *cc_json_member(const struct cc_json_reader *r, const json_t *o, const char *path,
		       const char *key, json_type want, bool required, int *ret);
/* A string member into *out (replacing it); absent leaves *out alone unless required. */
CC_MUST_CHECK int cc_json_str(const struct cc_json_reader *r, const json_t *o, const char *path,
			      const char *key, bool required, char **out);
/* An integer member in [min, max]; *has (may be NULL) says whether it was there. */
CC_MUST_CHECK int cc_json_int(const struct cc_json_reader *r, const json_t *o, const char *path,
			      const char *key, int64_t min, int64_t max, int64_t *out, bool *has);
/* An integer member in [0, UINT32_MAX] (ids, sizes): as cc_json_int. */
CC_MUST_CHECK int cc_json_u32(const struct cc_json_reader *r, const json_t *o, const char *path,
			      const char *key, uint32_t *out, bool *has);
/* A boolean member into *out; *has (may be NULL) says whether it was there. */
CC_MUST_CHECK int cc_json_bool(const struct cc_json_reader *r, const json_t *o, const char *path,
			       const char *key, bool *out, bool *has);
/* An array of strings (without NUL) of at most max elements into *out (replacing it; a
 * NULL-terminated vector for cc_strv_free); absent leaves *out alone. An element is named
 * "key[i]"; more than max is "N entries, more than MAX". */
CC_MUST_CHECK int cc_json_strv(const struct cc_json_reader *r, const json_t *o, const char *path,
			       const char *key, size_t max, char ***out);
/* An object member whose values are all strings without NUL, each named `key["k"]`: the
 * object, borrowed from o; NULL when absent (*ret 0) or refused (*ret -1). */
json_t *cc_json_str_map(const struct cc_json_reader *r, const json_t *o, const char *path,
			const char *key, int *ret);
