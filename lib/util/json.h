/* SPDX-License-Identifier: Apache-2.0 */
/* Small helpers over jansson. */
#pragma once

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
