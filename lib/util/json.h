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
/* "a.b" + "c" -> "a.b.c", "" + "c" -> "c"; "a" + 2 -> "a[2]". The caller frees. */
char *cc_json_key_path(const char *path, const char *key);
char *cc_json_index_path(const char *path, size_t i);
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
