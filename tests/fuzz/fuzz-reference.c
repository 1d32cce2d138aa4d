// SPDX-License-Identifier: Apache-2.0
/* Image references come from users and from registries' answers: parse arbitrary bytes, and
 * check that what parses prints back to a string that parses to the same reference. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "image/reference.h"
#include "util/cleanup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_free_ char *text = xstrndup((const char *)data, size);
	struct img_ref r, again;
	struct cc_error *err = NULL;
	if (img_ref_parse(text, &r, &err) < 0) {
		if (!err || !err->msg || !err->msg[0])
			__builtin_trap();
		cc_error_free(&err);
		return 0;
	}
	_cleanup_free_ char *s = img_ref_string(&r);
	if (img_ref_parse(s, &again, &err) < 0)
		__builtin_trap();
	if (!same(r.domain, again.domain) || !same(r.path, again.path) || !same(r.tag, again.tag) ||
	    !same(r.digest, again.digest))
		__builtin_trap();
	img_ref_clear(&r);
	img_ref_clear(&again);
	return 0;
}
