/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the lib/crypt modules: strict base64, wiped buffers, JSON that holds
 * secrets. Not for use outside lib/crypt and its tests. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <jansson.h>
#include "util/error.h"

/* Upper bounds on attacker-controlled sizes. Wrapped keys and options are tiny (a few hundred
 * bytes); the bounds leave room for many recipients but keep a hostile manifest from making us
 * allocate or spin. */
#define CRYPT_ANNOTATION_MAX (1u << 20) /* one annotation value */
#define CRYPT_LIST_MAX 64u		/* entries in a comma-separated annotation list */
#define CRYPT_OPTS_MAX (64u << 10)	/* options JSON, plaintext of a wrapped key */
#define CRYPT_KEYFILE_MAX (1u << 20)	/* a key, certificate or keyring file */

/* A heap buffer that may hold a secret: crypt_buf_wipe() zeroes it before freeing. */
struct crypt_buf {
	unsigned char *p;
	size_t len;
};

void crypt_buf_wipe(struct crypt_buf *b);
/* Copy of bytes (NUL-terminated one past len, for text). */
void crypt_buf_set(struct crypt_buf *b, const void *p, size_t len);
#define _cleanup_wipe_ __attribute__((cleanup(crypt_buf_wipe)))

/* Zero a NUL-terminated string and free it. */
void crypt_str_wipe(char **s);
#define _cleanup_wipe_str_ __attribute__((cleanup(crypt_str_wipe)))

/* Base64 flavours used by the formats: RFC 4648 §4 with padding (annotations, options JSON)
 * and §5 URL-safe without padding (JWE). Decoding is strict: no whitespace, no missing or
 * extra padding, no stray bits, so one value has exactly one encoding. */
enum crypt_b64 { CRYPT_B64_STD, CRYPT_B64_URL };

char *crypt_b64_encode(const void *buf, size_t len, enum crypt_b64 v);
/* 0, or -1 when s is not valid; *out is NUL-terminated one past *out_len; caller wipes. */
int crypt_b64_decode(const char *s, size_t len, enum crypt_b64 v, struct crypt_buf *out);

/* Zero every string value of a JSON tree in place (before json_decref) so that base64 keys
 * do not linger in freed jansson memory. */
void crypt_json_wipe(json_t *j);
static inline void crypt_json_wipe_decrefp(json_t **j)
{
	if (*j) {
		crypt_json_wipe(*j);
		json_decref(*j);
	}
}
#define _cleanup_json_wipe_ __attribute__((cleanup(crypt_json_wipe_decrefp)))

/* Compact serialisation into a wiped buffer (jansson's own dump grows a buffer with realloc
 * and would leave copies of secrets behind). */
void crypt_json_dump_secret(const json_t *j, struct crypt_buf *out);

/* Parse JSON strictly (duplicate keys refused); `what` names it in messages. */
CC_MUST_CHECK json_t *crypt_json_parse(const char *what, const void *buf, size_t len,
				       struct cc_error **err);

/* Decode the base64 string member `key` of object o; absent = 0 with out empty when
 * !required. The error names what and key. */
CC_MUST_CHECK int crypt_json_b64(const json_t *o, const char *key, enum crypt_b64 v, bool required,
				 const char *what, struct crypt_buf *out, struct cc_error **err);

/* Read a file that may hold a secret (a key, a password) into *out without leaving copies
 * behind (no growing buffer); at most limit bytes. dirfd may be AT_FDCWD. */
CC_MUST_CHECK int crypt_read_secret_file(int dirfd, const char *path, size_t limit,
					 struct crypt_buf *out, struct cc_error **err);

/* Fill buf with len cryptographically secure random bytes (aborts if the DRBG fails: nothing
 * safe can be done without randomness). */
void crypt_random(void *buf, size_t len);

/* Describe the most recent OpenSSL error (for messages) and clear the queue. */
const char *crypt_ossl_error(char *buf, size_t len);
