// SPDX-License-Identifier: Apache-2.0
/* RFC 8785 JSON canonicalisation and the KBS report-data binding (see kbs-bind.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include "attest/kbs-bind.h"
#include "util/cleanup.h"
#include "util/json.h"

/* ---- UTF-8 and UTF-16 ---- */

/*
 * The code point at s[*i] of valid UTF-8 (no overlong forms, no surrogates, at most U+10FFFF),
 * *i moved past it; -1 when the bytes there are not valid UTF-8.
 */
static long utf8_next(const unsigned char *s, size_t len, size_t *i)
{
	unsigned char c = s[*i];
	size_t n;
	long cp, min;
	if (c < 0x80) {
		(*i)++;
		return c;
	}
	if (c >= 0xc2 && c <= 0xdf)
		n = 1, cp = c & 0x1f, min = 0x80;
	else if (c >= 0xe0 && c <= 0xef)
		n = 2, cp = c & 0x0f, min = 0x800;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 3, cp = c & 0x07, min = 0x10000;
	else
		return -1;
	if (len - *i <= n)
		return -1;
	for (size_t k = 1; k <= n; k++) {
		if ((s[*i + k] & 0xc0) != 0x80)
			return -1;
		cp = cp << 6 | (s[*i + k] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*i += n + 1;
	return cp;
}

static bool utf8_valid(const char *s, size_t len)
{
	for (size_t i = 0; i < len;)
		if (utf8_next((const unsigned char *)s, len, &i) < 0)
			return false;
	return true;
}

/* The UTF-16 code units of valid UTF-8, one at a time. */
struct u16_iter {
	const unsigned char *s;
	size_t len, i;
	long low; /* the low surrogate due next, or 0 */
};

/* The next code unit, or -1 at the end. */
static long u16_next(struct u16_iter *it)
{
	if (it->low) {
		long u = it->low;
		it->low = 0;
		return u;
	}
	if (it->i >= it->len)
		return -1;
	long cp = utf8_next(it->s, it->len, &it->i);
	if (cp < 0x10000)
		return cp; /* -1 cannot happen: names are validated before sorting */
	cp -= 0x10000;
	it->low = 0xdc00 | (cp & 0x3ff);
	return 0xd800 | cp >> 10;
}

struct member {
	const char *name;
	size_t len;
	json_t *value;
};

static int member_cmp(const void *a, const void *b)
{
	const struct member *x = a, *y = b;
	struct u16_iter i = { (const unsigned char *)x->name, x->len, 0, 0 };
	struct u16_iter j = { (const unsigned char *)y->name, y->len, 0, 0 };
	for (;;) {
		long u = u16_next(&i), v = u16_next(&j);
		if (u != v)
			return u < v ? -1 : 1; /* the end (-1) comes before any unit */
		if (u < 0)
			return 0;
	}
}

/* ---- output ---- */

struct out {
	char *p;
	size_t len, cap;
};

static void put(struct out *o, const void *s, size_t n)
{
	if (o->cap - o->len <= n) {
		while (o->cap - o->len <= n)
			o->cap = o->cap ? 2 * o->cap : 256;
		o->p = xrealloc(o->p, o->cap);
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
}

static void put_str(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

static int put_string(struct out *o, const char *s, size_t len, struct cc_error **err)
{
	static const char hex[] = "0123456789abcdef";
	if (!utf8_valid(s, len))
		return cc_error_set(err, 0, "JCS: a string is not valid UTF-8");
	put(o, "\"", 1);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[7] = { '\\', 0 };
		switch (c) {
		case '"':
		case '\\':
			esc[1] = (char)c;
			break;
		case '\b':
			esc[1] = 'b';
			break;
		case '\t':
			esc[1] = 't';
			break;
		case '\n':
			esc[1] = 'n';
			break;
		case '\f':
			esc[1] = 'f';
			break;
		case '\r':
			esc[1] = 'r';
			break;
		default:
			if (c >= 0x20) {
				put(o, &s[i], 1);
				continue;
			}
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 0xf];
		}
		put_str(o, esc);
	}
	put(o, "\"", 1);
	return 0;
}

static int put_integer(struct out *o, long long v, struct cc_error **err)
{
	char buf[32];
	if (v > ATTEST_JCS_INT_MAX || v < -ATTEST_JCS_INT_MAX)
		return cc_error_set(
		    err, 0, "JCS: integer %lld is beyond 2^53: not exactly an IEEE 754 double", v);
	snprintf(buf, sizeof(buf), "%lld", v);
	put_str(o, buf);
	return 0;
}

static int put_real(struct out *o, double d, struct cc_error **err)
{
	/* An integer value within 2^53 prints as that integer (ECMAScript: 1.0 is "1", -0 is
	 * "0"); the comparison is false for NaN. */
	if (d >= -(double)ATTEST_JCS_INT_MAX && d <= (double)ATTEST_JCS_INT_MAX &&
	    (double)(long long)d == d)
		return put_integer(o, (long long)d, err);
	return cc_error_set(err, 0,
			    "JCS: number %.17g is not an integer within 2^53: not canonicalised "
			    "here",
			    d);
}

static int put_value(struct out *o, const json_t *v, int depth, struct cc_error **err);

static int put_object(struct out *o, const json_t *v, int depth, struct cc_error **err)
{
	size_t n = json_object_size(v), k = 0;
	_cleanup_free_ struct member *m = xcalloc(n, sizeof(*m));
	for (void *it = json_object_iter((json_t *)v); it && k < n;
	     it = json_object_iter_next((json_t *)v, it), k++) {
		m[k].name = json_object_iter_key(it);
		m[k].len = json_object_iter_key_len(it);
		m[k].value = json_object_iter_value(it);
		if (!utf8_valid(m[k].name, m[k].len))
			return cc_error_set(err, 0, "JCS: a member name is not valid UTF-8");
	}
	qsort(m, k, sizeof(*m), member_cmp);
	put(o, "{", 1);
	for (size_t i = 0; i < k; i++) {
		if (i)
			put(o, ",", 1);
		if (put_string(o, m[i].name, m[i].len, err) < 0)
			return -1;
		put(o, ":", 1);
		if (put_value(o, m[i].value, depth + 1, err) < 0)
			return -1;
	}
	put(o, "}", 1);
	return 0;
}

static int put_value(struct out *o, const json_t *v, int depth, struct cc_error **err)
{
	size_t i;
	json_t *e;
	if (depth >= ATTEST_JCS_DEPTH_MAX)
		return cc_error_set(err, 0, "JCS: nested deeper than %d", ATTEST_JCS_DEPTH_MAX);
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return put_object(o, v, depth, err);
	case JSON_ARRAY:
		put(o, "[", 1);
		json_array_foreach ((json_t *)v, i, e) {
			if (i)
				put(o, ",", 1);
			if (put_value(o, e, depth + 1, err) < 0)
				return -1;
		}
		put(o, "]", 1);
		return 0;
	case JSON_STRING:
		return put_string(o, json_string_value(v), json_string_length(v), err);
	case JSON_INTEGER:
		return put_integer(o, (long long)json_integer_value(v), err);
	case JSON_REAL:
		return put_real(o, json_real_value(v), err);
	case JSON_TRUE:
		put_str(o, "true");
		return 0;
	case JSON_FALSE:
		put_str(o, "false");
		return 0;
	case JSON_NULL:
		put_str(o, "null");
		return 0;
	}
	return cc_error_set(err, 0, "JCS: not a JSON value");
}

char *attest_jcs(const json_t *v, size_t *len, struct cc_error **err)
{
	struct out o = { 0 };
	if (!v)
		return cc_error_set(err, 0, "JCS: no value"), NULL;
	if (put_value(&o, v, 0, err) < 0) {
		free(o.p);
		return NULL;
	}
	if (len)
		*len = o.len;
	return o.p;
}

/* ---- hashing ---- */

static const struct {
	const char *name;
	size_t size;
} algs[] = {
	[ATTEST_HASH_SHA256] = { "sha256", 32 },
	[ATTEST_HASH_SHA384] = { "sha384", 48 },
	[ATTEST_HASH_SHA512] = { "sha512", 64 },
};

static bool alg_valid(enum attest_hash_alg a)
{
	return a >= ATTEST_HASH_SHA256 && a <= ATTEST_HASH_SHA512;
}

const char *attest_hash_alg_name(enum attest_hash_alg a)
{
	return alg_valid(a) ? algs[a].name : "invalid";
}

size_t attest_hash_alg_size(enum attest_hash_alg a)
{
	return alg_valid(a) ? algs[a].size : 0;
}

int attest_hash_alg_parse(const char *name, enum attest_hash_alg *out, struct cc_error **err)
{
	for (int a = ATTEST_HASH_SHA256; a <= ATTEST_HASH_SHA512; a++) {
		if (!strcmp(name, algs[a].name)) {
			*out = (enum attest_hash_alg)a;
			return 0;
		}
	}
	char shown[CC_SHOWN_BUF]; /* the peer chose it */
	cc_shown(name, strlen(name), shown);
	return cc_error_set(err, 0,
			    "KBS binding: hash algorithm \"%s\" is not supported (sha256, sha384, "
			    "sha512 are)",
			    shown);
}

int attest_hash_padded(enum attest_hash_alg alg, const void *data, size_t len, uint8_t out[64],
		       struct cc_error **err)
{
	const EVP_MD *md = alg == ATTEST_HASH_SHA256   ? EVP_sha256()
			   : alg == ATTEST_HASH_SHA384 ? EVP_sha384()
			   : alg == ATTEST_HASH_SHA512 ? EVP_sha512()
						       : NULL;
	unsigned int n = 0;
	if (!md)
		return cc_error_set(err, 0, "KBS binding: invalid hash algorithm %d", (int)alg);
	memset(out, 0, 64);
	if (EVP_Digest(data, len, out, &n, md, NULL) != 1 || n != algs[alg].size) {
		ERR_clear_error();
		return cc_error_set(err, 0, "KBS binding: %s failed", algs[alg].name);
	}
	return 0;
}

int attest_kbs_report_data(const json_t *tee_pubkey, const char *nonce,
			   const char *additional_evidence, enum attest_hash_alg alg,
			   uint8_t report_data[64], struct cc_error **err)
{
	if (!json_is_object(tee_pubkey))
		return cc_error_set(err, 0, "KBS binding: tee-pubkey: expected a JWK object");
	if (!utf8_valid(nonce, strlen(nonce)) ||
	    !utf8_valid(additional_evidence, strlen(additional_evidence)))
		return cc_error_set(
		    err, 0,
		    "KBS binding: the nonce or the additional evidence is not valid "
		    "UTF-8");
	_cleanup_json_ json_t *rd =
	    json_pack("{s:O,s:s,s:s}", "tee-pubkey", (json_t *)tee_pubkey, "nonce", nonce,
		      "additional-evidence", additional_evidence);
	if (!rd)
		abort(); /* the strings are valid UTF-8: only allocation fails */
	size_t len;
	_cleanup_free_ char *jcs = attest_jcs(rd, &len, err);
	if (!jcs)
		return cc_error_prefix(err, "KBS binding");
	return attest_hash_padded(alg, jcs, len, report_data, err);
}
