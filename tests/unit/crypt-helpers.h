/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by the test-crypt*.c unit tests: fixtures in tests/unit/data/crypt (see its
 * README.md), and running a layer through the decryptor. Include after cmocka.h. */
#pragma once

#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "crypt/crypt.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/fs.h"

static inline char *data_path(const char *name)
{
	const char *dir = getenv("CRYPT_TEST_DATA");
	assert_non_null(dir);
	return xasprintf("%s/%s", dir, name);
}

static inline char *read_data(const char *name, size_t *len)
{
	struct cc_error *err = NULL;
	_cleanup_free_ char *p = data_path(name);
	char *buf = cc_read_file(p, 0, len, &err);
	if (!buf)
		fail_msg("%s", err->msg);
	return buf;
}

/* A layer descriptor saved by regen.sh. */
static inline json_t *load_descriptor(const char *name)
{
	_cleanup_free_ char *p = data_path(name);
	json_error_t jerr;
	json_t *d = json_load_file(p, 0, &jerr);
	if (!d)
		fail_msg("%s: %s", p, jerr.text);
	return d;
}

/* Decrypt blob with the layer descriptor d in odd-sized chunks; 0 and the plaintext, or -1
 * and *err. */
static inline int decrypt_layer(const struct crypt_keys *k, const json_t *d,
				const unsigned char *blob, size_t len, unsigned char **plain,
				struct cc_error **err)
{
	struct crypt_layer *l = NULL;
	const char *mt = json_string_value(json_object_get(d, "mediaType"));
	if (crypt_layer_open(k, mt, json_object_get(d, "annotations"), &l, err) < 0)
		return -1;
	unsigned char *out = xmalloc(len + 1);
	for (size_t off = 0; off < len; off += 7) {
		size_t n = len - off < 7 ? len - off : 7;
		if (crypt_layer_update(l, blob + off, n, out + off, err) < 0)
			goto fail;
	}
	if (crypt_layer_final(l, NULL, err) < 0)
		goto fail;
	crypt_layer_free(l);
	*plain = out;
	return 0;
fail:
	free(out);
	crypt_layer_free(l);
	return -1;
}

/* Expect a failure whose message contains `want`. */
#define assert_error_contains(err, want)                                                      \
	do {                                                                                  \
		assert_non_null(err);                                                         \
		if (!strstr((err)->msg, (want)))                                              \
			fail_msg("error \"%s\" does not contain \"%s\"", (err)->msg, (want)); \
		cc_error_free(&(err));                                                        \
	} while (0)

#define assert_ok(expr, err)                                                          \
	do {                                                                          \
		if ((expr) < 0)                                                       \
			fail_msg("%s: %s", #expr, (err) ? (err)->msg : "no message"); \
	} while (0)

/* A fresh key set holding the keys of the given specs (paths relative to the data dir). */
static inline struct crypt_keys *keys_of(const char *const *specs, size_t n)
{
	struct crypt_keys *k = crypt_keys_new(NULL);
	struct cc_error *err = NULL;
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *s = specs[i][0] == '/' || !strncmp(specs[i], "provider:", 9)
					     ? xstrdup(specs[i])
					     : data_path(specs[i]);
		if (crypt_keys_add(k, s, &err) < 0)
			fail_msg("%s: %s", s, err->msg);
	}
	return k;
}
