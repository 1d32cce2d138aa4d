// SPDX-License-Identifier: Apache-2.0
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"

json_t *cc_json_load_buf(const char *name, const char *buf, size_t len, struct cc_error **err)
{
	json_error_t jerr;
	json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
	if (!j) {
		cc_error_set(err, 0, "%s: line %d column %d: %s", name, jerr.line, jerr.column,
			     jerr.text);
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

const char *cc_json_type_name(const json_t *v)
{
	switch (json_typeof(v)) {
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
