/* SPDX-License-Identifier: Apache-2.0 */
/* What the lib/attest unit tests share: the test data files and hex for messages. */
#pragma once

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/hex.h"

struct bytes {
	uint8_t *p;
	size_t len;
};

static inline void bytes_free(struct bytes *b)
{
	free(b->p);
}
#define _cleanup_bytes_ __attribute__((cleanup(bytes_free)))

/* A file of tests/unit/data/attest ($ATTEST_TEST_DATA), whole. */
static inline struct bytes read_data(const char *name)
{
	const char *dir = getenv("ATTEST_TEST_DATA");
	struct cc_error *err = NULL;
	struct bytes b;
	assert_non_null(dir);
	_cleanup_free_ char *path = xasprintf("%s/%s", dir, name);
	b.p = (uint8_t *)cc_read_file(path, 0, &b.len, &err);
	if (!b.p)
		fail_msg("%s", err->msg);
	return b;
}

static inline char *hex(const uint8_t *b, size_t len)
{
	return cc_hex(b, len);
}
