// SPDX-License-Identifier: Apache-2.0
/* Unit tests for lib/crypt: base64, media types, the layer cipher and its options,
 * annotations, and whole layers encrypted by us and decrypted again. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include "crypt/annotations.h"
#include "crypt/cipher.h"
#include "crypt/internal.h"
#include "crypt-helpers.h"

/* ---- base64 ---- */

static void test_b64(void **state)
{
	static const struct {
		const char *plain, *std, *url;
	} v[] = {
		{ "", "", "" },
		{ "f", "Zg==", "Zg" },
		{ "fo", "Zm8=", "Zm8" },
		{ "foo", "Zm9v", "Zm9v" },
		{ "foob", "Zm9vYg==", "Zm9vYg" },
		{ "\xfb\xff", "+/8=", "-_8" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
		struct crypt_buf b = { 0 };
		size_t n = strlen(v[i].plain);
		_cleanup_free_ char *s = crypt_b64_encode(v[i].plain, n, CRYPT_B64_STD);
		_cleanup_free_ char *u = crypt_b64_encode(v[i].plain, n, CRYPT_B64_URL);
		assert_string_equal(s, v[i].std);
		assert_string_equal(u, v[i].url);
		assert_int_equal(crypt_b64_decode(s, strlen(s), CRYPT_B64_STD, &b), 0);
		assert_int_equal(b.len, n);
		assert_memory_equal(b.p, v[i].plain, n);
		assert_int_equal(crypt_b64_decode(u, strlen(u), CRYPT_B64_URL, &b), 0);
		assert_memory_equal(b.p, v[i].plain, n);
		crypt_buf_wipe(&b);
	}
	/* Strict: no whitespace, padding exactly right, right alphabet, no stray bits. */
	static const char *const bad_std[] = { "Zg",   "Zg=",  "Zg===", "Z===", "Zm9v\n",  " Zm9v",
					       "Zm-v", "Zh==", "Zm9=",	"====", "Zg==Zg==" };
	static const char *const bad_url[] = { "Z", "Zg==", "Zm+v", "Zh",
					       "Zm9"
					       "\x00" };
	for (size_t i = 0; i < ARRAY_SIZE(bad_std); i++) {
		struct crypt_buf b = { 0 };
		if (crypt_b64_decode(bad_std[i], strlen(bad_std[i]), CRYPT_B64_STD, &b) == 0)
			fail_msg("accepted \"%s\" as base64", bad_std[i]);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad_url); i++) {
		struct crypt_buf b = { 0 };
		if (crypt_b64_decode(bad_url[i], strlen(bad_url[i]) + (i == 4), CRYPT_B64_URL,
				     &b) == 0)
			fail_msg("accepted \"%s\" as base64url", bad_url[i]);
	}
}

/* ---- media types ---- */

static void test_media_types(void **state)
{
	struct cc_error *err = NULL;
	const char *gz = "application/vnd.oci.image.layer.v1.tar+gzip";

	assert_true(
	    crypt_media_type_is_encrypted("application/vnd.oci.image.layer.v1.tar+gzip+encrypted"));
	assert_false(crypt_media_type_is_encrypted(gz));
	assert_false(crypt_media_type_is_encrypted("+encrypted"));
	assert_false(crypt_media_type_is_encrypted(NULL));
	_cleanup_free_ char *enc = crypt_media_type_encrypted(gz, &err);
	assert_string_equal(enc, "application/vnd.oci.image.layer.v1.tar+gzip+encrypted");
	_cleanup_free_ char *plain = crypt_media_type_plain(enc, &err);
	assert_string_equal(plain, gz);
	_cleanup_free_ char *d =
	    crypt_media_type_encrypted("application/vnd.docker.image.rootfs.diff.tar.gzip", &err);
	assert_null(d);
	assert_error_contains(err, "not a layer type that can be encrypted");
	assert_null(crypt_media_type_encrypted(enc, &err));
	assert_error_contains(err, "already encrypted");
	assert_null(crypt_media_type_plain(gz, &err));
	assert_error_contains(err, "not an encrypted type");
	assert_null(crypt_media_type_plain("application/x+encrypted+encrypted", &err));
	assert_error_contains(err, "encrypted twice");
	_cleanup_free_ char *z =
	    crypt_media_type_encrypted("application/vnd.oci.image.layer.v1.tar+zstd", &err);
	assert_non_null(z);
}

/* ---- the cipher ---- */

static void fixed_opts(struct crypt_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->cipher = xstrdup(CRYPT_CIPHER_AES_CTR_HMAC);
	crypt_buf_set(&o->symkey,
		      "\x60\x3d\xeb\x10\x15\xca\x71\xbe\x2b\x73\xae\xf0\x85\x7d\x77\x81"
		      "\x1f\x35\x2c\x07\x3b\x61\x08\xd7\x2d\x98\x10\xa3\x09\x14\xdf\xf4",
		      32);
	crypt_buf_set(&o->nonce, "\xf0\xf1\xf2\xf3\xf4\xf5\xf6\xf7\xf8\xf9\xfa\xfb\xfc\xfd\xfe\xff",
		      16);
}

/* NIST SP 800-38A F.5.5 (CTR-AES256): the nonce is the whole initial counter block. */
static void test_cipher_known_answer(void **state)
{
	static const unsigned char pt[32] = {
		0x6b, 0xc1, 0xbe, 0xe2, 0x2e, 0x40, 0x9f, 0x96, 0xe9, 0x3d, 0x7e,
		0x11, 0x73, 0x93, 0x17, 0x2a, 0xae, 0x2d, 0x8a, 0x57, 0x1e, 0x03,
		0xac, 0x9c, 0x9e, 0xb7, 0x6f, 0xac, 0x45, 0xaf, 0x8e, 0x51,
	};
	static const unsigned char ct[32] = {
		0x60, 0x1e, 0xc3, 0x13, 0x77, 0x57, 0x89, 0xa5, 0xb7, 0xa7, 0xf5,
		0x04, 0xbb, 0xf3, 0xd2, 0x28, 0xf4, 0x43, 0xe3, 0xca, 0x4d, 0x62,
		0xb5, 0x9a, 0xca, 0x84, 0xe9, 0x90, 0xca, 0xca, 0xf5, 0xc5,
	};
	struct crypt_opts o;
	struct crypt_cipher *c = NULL;
	struct cc_error *err = NULL;
	unsigned char out[32], mac[32], want[32];
	size_t ml = sizeof(want);

	fixed_opts(&o);
	assert_ok(crypt_cipher_new(&o, true, &c, &err), err);
	assert_ok(crypt_cipher_update(c, pt, 5, out, &err), err);
	assert_ok(crypt_cipher_update(c, pt + 5, 27, out + 5, &err), err);
	assert_memory_equal(out, ct, 32);
	assert_ok(crypt_cipher_final(c, mac, &err), err);
	crypt_cipher_free(c);
	/* The MAC is HMAC-SHA256 keyed with the same key, over the ciphertext only. */
	assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, o.symkey.p, 32, ct, 32, want,
				  sizeof(want), &ml));
	assert_memory_equal(mac, want, 32);
	/* And back, in place. */
	crypt_buf_set(&o.hmac, mac, 32);
	assert_ok(crypt_cipher_new(&o, false, &c, &err), err);
	assert_ok(crypt_cipher_update(c, out, 32, out, &err), err);
	assert_memory_equal(out, pt, 32);
	assert_ok(crypt_cipher_final(c, NULL, &err), err);
	crypt_cipher_free(c);
	crypt_opts_clear(&o);
}

static unsigned char *encrypt_buf(struct crypt_opts *o, const unsigned char *in, size_t len)
{
	struct crypt_cipher *c = NULL;
	struct cc_error *err = NULL;
	unsigned char *out = xmalloc(len), mac[32];

	assert_ok(crypt_cipher_new(o, true, &c, &err), err);
	for (size_t off = 0; off < len; off += 4093) {
		size_t n = len - off < 4093 ? len - off : 4093;
		assert_ok(crypt_cipher_update(c, in + off, n, out + off, &err), err);
	}
	assert_ok(crypt_cipher_final(c, mac, &err), err);
	crypt_buf_set(&o->hmac, mac, 32);
	crypt_cipher_free(c);
	return out;
}

static int decrypt_buf(const struct crypt_opts *o, unsigned char *buf, size_t len,
		       struct cc_error **err)
{
	struct crypt_cipher *c = NULL;
	if (crypt_cipher_new(o, false, &c, err) < 0)
		return -1;
	int r = crypt_cipher_update(c, buf, len, buf, err);
	if (r == 0)
		r = crypt_cipher_final(c, NULL, err);
	crypt_cipher_free(c);
	return r;
}

static void test_cipher_round_trip_and_tamper(void **state)
{
	const size_t len = 300001;
	_cleanup_free_ unsigned char *pt = xmalloc(len);
	struct crypt_opts o = { 0 };
	struct cc_error *err = NULL;

	for (size_t i = 0; i < len; i++)
		pt[i] = (unsigned char)(i * 7 + (i >> 9));
	crypt_opts_generate(&o, "sha256:00");
	_cleanup_free_ unsigned char *ct = encrypt_buf(&o, pt, len);
	assert_int_not_equal(memcmp(ct, pt, 64), 0);
	_cleanup_free_ unsigned char *copy = xmalloc(len);
	memcpy(copy, ct, len);
	assert_ok(decrypt_buf(&o, copy, len, &err), err);
	assert_memory_equal(copy, pt, len);

	/* One flipped bit in the last block: the keystream XOR hides nothing from the MAC. */
	memcpy(copy, ct, len);
	copy[len - 1] ^= 0x01;
	assert_int_equal(decrypt_buf(&o, copy, len, &err), -1);
	assert_error_contains(err, "layer HMAC mismatch: ciphertext or annotations tampered");
	/* Truncated by one byte. */
	memcpy(copy, ct, len);
	assert_int_equal(decrypt_buf(&o, copy, len - 1, &err), -1);
	assert_error_contains(err, "layer HMAC mismatch");
	/* A different HMAC in the (public) options. */
	memcpy(copy, ct, len);
	o.hmac.p[0] ^= 0x80;
	assert_int_equal(decrypt_buf(&o, copy, len, &err), -1);
	assert_error_contains(err, "layer HMAC mismatch");
	crypt_opts_clear(&o);
}

static void test_cipher_refuses(void **state)
{
	struct crypt_opts o;
	struct crypt_cipher *c = NULL;
	struct cc_error *err = NULL;
	unsigned char b[4] = { 0 };

	fixed_opts(&o);
	assert_int_equal(crypt_cipher_new(&o, false, &c, &err), -1);
	assert_error_contains(err, "no HMAC");
	crypt_buf_set(&o.hmac, "short", 5);
	assert_int_equal(crypt_cipher_new(&o, false, &c, &err), -1);
	assert_error_contains(err, "HMAC is 5 bytes");
	free(o.cipher);
	o.cipher = xstrdup("AES_128_CBC_HMAC_SHA1");
	assert_int_equal(crypt_cipher_new(&o, true, &c, &err), -1);
	assert_error_contains(err, "unsupported layer cipher \"AES_128_CBC_HMAC_SHA1\"");
	free(o.cipher);
	o.cipher = xstrdup(CRYPT_CIPHER_AES_CTR_HMAC);
	o.symkey.len = 16;
	assert_int_equal(crypt_cipher_new(&o, true, &c, &err), -1);
	assert_error_contains(err, "layer key is 16 bytes");
	o.symkey.len = 32;
	o.nonce.len = 12;
	assert_int_equal(crypt_cipher_new(&o, true, &c, &err), -1);
	assert_error_contains(err, "layer nonce is 12 bytes");
	o.nonce.len = 16;
	assert_ok(crypt_cipher_new(&o, true, &c, &err), err);
	unsigned char mac[32];
	assert_ok(crypt_cipher_final(c, mac, &err), err);
	assert_int_equal(crypt_cipher_update(c, b, 4, b, &err), -1);
	assert_error_contains(err, "after the end");
	assert_int_equal(crypt_cipher_final(c, mac, &err), -1);
	assert_error_contains(err, "finished twice");
	crypt_cipher_free(c);
	crypt_opts_clear(&o);
}

/* ---- options ---- */

static void test_opts(void **state)
{
	struct crypt_opts o = { 0 };
	struct cc_error *err = NULL;
	const char *pub = "{\"cipher\":\"AES_256_CTR_HMAC_SHA256\",\"hmac\":\"AAECAw==\","
			  "\"cipheroptions\":{\"nonce\":\"cHVibGljcHVibGljcHVibA==\"}}";
	const char *priv = "{\"symkey\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\","
			   "\"digest\":\"sha256:ab\",\"cipheroptions\":{\"nonce\":"
			   "\"cHJpdmF0ZXByaXZhdGVwcg==\"},\"future\":1}";

	assert_ok(crypt_opts_parse_public(&o, pub, strlen(pub), &err), err);
	assert_ok(crypt_opts_parse_private(&o, priv, strlen(priv), &err), err);
	assert_string_equal(o.cipher, CRYPT_CIPHER_AES_CTR_HMAC);
	assert_int_equal(o.hmac.len, 4);
	assert_int_equal(o.symkey.len, 32);
	assert_string_equal(o.digest, "sha256:ab");
	/* The public nonce wins, as in ocicrypt. */
	assert_memory_equal(o.nonce.p, "publicpublicpubl", 16);
	crypt_opts_clear(&o);

	static const char *const bad_priv[] = {
		"[]",
		"{}",
		"{\"symkey\":1}",
		"{\"symkey\":\"not base64!\"}",
		"{\"symkey\":\"AA==\",\"cipheroptions\":[]}",
		"{\"symkey\":\"AA==\",\"cipheroptions\":{\"nonce\":\"***\"}}",
		"{\"symkey\":\"AA==\",\"symkey\":\"AA==\"}",
		"{\"symkey\":\"AA==\",\"digest\":5}",
		"{\"symkey\"",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad_priv); i++) {
		if (crypt_opts_parse_private(&o, bad_priv[i], strlen(bad_priv[i]), &err) == 0)
			fail_msg("accepted %s", bad_priv[i]);
		assert_error_contains(err, "private options");
		crypt_opts_clear(&o);
	}
	assert_int_equal(crypt_opts_parse_public(&o, "{\"hmac\":7}", 10, &err), -1);
	assert_error_contains(err, "public options: \"hmac\" is a integer");
	assert_int_equal(crypt_opts_parse_public(&o, "{\"cipher\":[]}", 13, &err), -1);
	assert_error_contains(err, "\"cipher\" is not a short string");
	crypt_opts_clear(&o);

	/* Serialisation: ocicrypt's field order, standard base64. */
	fixed_opts(&o);
	o.digest = xstrdup("sha256:1234");
	struct crypt_buf js = { 0 };
	crypt_opts_private_json(&o, &js);
	assert_string_equal((char *)js.p,
			    "{\"symkey\":\"YD3rEBXKcb4rc67whX13gR81LAc7YQjXLZgQowkU3/Q=\","
			    "\"digest\":\"sha256:1234\",\"cipheroptions\":{\"nonce\":"
			    "\"8PHy8/T19vf4+fr7/P3+/w==\"}}");
	crypt_buf_wipe(&js);
	crypt_buf_set(&o.hmac, "\x01\x02", 2);
	_cleanup_free_ char *p = crypt_opts_public_json(&o);
	assert_string_equal(p, "{\"cipher\":\"AES_256_CTR_HMAC_SHA256\",\"hmac\":\"AQI=\","
			       "\"cipheroptions\":{}}");
	crypt_opts_clear(&o);
}

/* ---- annotations ---- */

static json_t *ann(const char *key, const char *value)
{
	return json_pack("{s:s, s:s}", key, value, "org.example.other", "x");
}

static void test_annotations(void **state)
{
	struct crypt_annotations a;
	struct cc_error *err = NULL;
	json_t *j;

	j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", CRYPT_ANN_PGP, "cGdw",
		      CRYPT_ANN_PROVIDER "b", "Yg==", CRYPT_ANN_PROVIDER "a",
		      "YQ==,YWE=", CRYPT_ANN_JWE, "anc=,ZQ==", CRYPT_ANN_PUBOPTS,
		      "e30=", CRYPT_ANN_KEYS "pkcs11", "whatever");
	assert_ok(crypt_annotations_parse(j, &a, &err), err);
	json_decref(j);
	assert_int_equal(a.n_keys, 4);
	assert_int_equal(a.keys[0].scheme, CRYPT_SCHEME_JWE);
	assert_int_equal(a.keys[0].n_blobs, 2);
	assert_memory_equal(a.keys[0].blobs[0].p, "jw", 2);
	assert_memory_equal(a.keys[0].blobs[1].p, "e", 1);
	assert_int_equal(a.keys[1].scheme, CRYPT_SCHEME_PGP);
	assert_string_equal(a.keys[2].provider, "a");
	assert_int_equal(a.keys[2].n_blobs, 2);
	assert_string_equal(a.keys[3].provider, "b");
	assert_memory_equal(a.pubopts.p, "{}", 2);
	crypt_annotations_clear(&a);

	static const struct {
		const char *key, *value, *want;
	} bad[] = {
		{ CRYPT_ANN_JWE, "", "annotation org.opencontainers.image.enc.keys.jwe: empty" },
		{ CRYPT_ANN_JWE, "ZQ==,", "entry 2 is not valid base64" },
		{ CRYPT_ANN_JWE, ",ZQ==", "entry 1 is not valid base64" },
		{ CRYPT_ANN_PKCS7, "ZQ", "keys.pkcs7: entry 1 is not valid base64" },
		{ CRYPT_ANN_PGP, "ZQ== ", "keys.pgp: entry 1" },
		{ CRYPT_ANN_PROVIDER, "ZQ==", "invalid key provider name" },
		{ CRYPT_ANN_PUBOPTS, "e30", "pubopts: not valid base64" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		j = ann(bad[i].key, bad[i].value);
		assert_int_equal(crypt_annotations_parse(j, &a, &err), -1);
		assert_error_contains(err, bad[i].want);
		json_decref(j);
	}
	j = json_pack("{s:i}", CRYPT_ANN_JWE, 1);
	assert_int_equal(crypt_annotations_parse(j, &a, &err), -1);
	assert_error_contains(err, "keys.jwe: a integer, not a string");
	json_decref(j);
	/* Bounded: entries and size. */
	_cleanup_free_ char *many = xmalloc(5 * 65 + 1);
	for (int i = 0; i < 65; i++)
		memcpy(many + 5 * i, "ZQ==,", 5);
	many[5 * 65 - 1] = 0;
	j = ann(CRYPT_ANN_JWE, many);
	assert_int_equal(crypt_annotations_parse(j, &a, &err), -1);
	assert_error_contains(err, "more than 64 entries");
	json_decref(j);
	_cleanup_free_ char *big = xmalloc(CRYPT_ANNOTATION_MAX + 5);
	memset(big, 'Q', CRYPT_ANNOTATION_MAX + 4);
	big[CRYPT_ANNOTATION_MAX + 4] = 0;
	j = ann(CRYPT_ANN_JWE, big);
	assert_int_equal(crypt_annotations_parse(j, &a, &err), -1);
	assert_error_contains(err, "more than the 1048576 allowed");
	json_decref(j);
	assert_ok(crypt_annotations_parse(NULL, &a, &err), err);
	assert_int_equal(a.n_keys, 0);
}

/* ---- whole layers, encrypted by us ---- */

static const char *const LAYER_MT = "application/vnd.oci.image.layer.v1.tar+gzip";

static json_t *encrypt_layer(const char *const *recipients, size_t n, const unsigned char *pt,
			     size_t len, unsigned char **ct)
{
	struct crypt_recipients *r = crypt_recipients_new(NULL);
	struct crypt_layer *l = NULL;
	struct cc_error *err = NULL;
	json_t *a = NULL;

	for (size_t i = 0; i < n; i++) {
		const char *colon = strchr(recipients[i], ':');
		_cleanup_free_ char *s =
		    strncmp(recipients[i], "pgp:", 4) && strncmp(recipients[i], "provider:", 9)
			? xasprintf("%.*s:%s/%s", (int)(colon - recipients[i]), recipients[i],
				    getenv("CRYPT_TEST_DATA"), colon + 1)
			: xstrdup(recipients[i]);
		if (crypt_recipients_add(r, s, &err) < 0)
			fail_msg("%s: %s", s, err->msg);
	}
	assert_ok(crypt_layer_encrypt_begin(r, LAYER_MT, "sha256:abcd", &l, &err), err);
	assert_string_equal(crypt_layer_media_type(l),
			    "application/vnd.oci.image.layer.v1.tar+gzip+encrypted");
	*ct = xmalloc(len);
	assert_ok(crypt_layer_update(l, pt, len, *ct, &err), err);
	assert_ok(crypt_layer_final(l, &a, &err), err);
	crypt_layer_free(l);
	crypt_recipients_free(r);
	json_t *d =
	    json_pack("{s:s, s:o}", "mediaType",
		      "application/vnd.oci.image.layer.v1.tar+gzip+encrypted", "annotations", a);
	return d;
}

static void test_layer_round_trip(void **state)
{
	static const char *const recipients[] = { "jwe:rsa-pub.pem", "jwe:ec384-pub.pem",
						  "pkcs7:pkcs7-cert.pem" };
	static const unsigned char pt[] = "a layer, not even gzip: the cipher does not care";
	unsigned char *ct = NULL, *out = NULL;
	struct cc_error *err = NULL;
	json_t *d = encrypt_layer(recipients, 3, pt, sizeof(pt), &ct);
	json_t *a = json_object_get(d, "annotations");

	assert_non_null(json_object_get(a, CRYPT_ANN_JWE));
	assert_non_null(json_object_get(a, CRYPT_ANN_PKCS7));
	assert_non_null(json_object_get(a, CRYPT_ANN_PUBOPTS));
	assert_int_equal(json_object_size(a), 3);

	static const char *const key_sets[][2] = {
		{ "rsa.pem", NULL },
		{ "ec384.pem", NULL },
		{ "pkcs7-key.pem", "pkcs7-cert.pem" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(key_sets); i++) {
		struct crypt_keys *k = keys_of(key_sets[i], key_sets[i][1] ? 2 : 1);
		assert_ok(decrypt_layer(k, d, ct, sizeof(pt), &out, &err), err);
		assert_memory_equal(out, pt, sizeof(pt));
		free(out);
		crypt_keys_free(k);
	}
	/* A key that is no recipient. */
	static const char *const other[] = { "rsa-other.pem", "ec256.pem" };
	struct crypt_keys *k = keys_of(other, 2);
	assert_int_equal(decrypt_layer(k, d, ct, sizeof(pt), &out, &err), -1);
	assert_error_contains(err, "no key could unwrap the layer key: "
				   "org.opencontainers.image.enc.keys.jwe: no key matches any of "
				   "the 2 JWE recipients");
	crypt_keys_free(k);
	free(ct);
	json_decref(d);
}

static void test_layer_tampered_annotations(void **state)
{
	static const char *const recipients[] = { "jwe:rsa-pub.pem" };
	static const char *const key[] = { "rsa.pem" };
	static const unsigned char pt[] = "0123456789abcdef0123456789abcdef!";
	unsigned char *ct = NULL, *out = NULL;
	struct cc_error *err = NULL;
	json_t *d = encrypt_layer(recipients, 1, pt, sizeof(pt), &ct);
	json_t *a = json_object_get(d, "annotations");
	struct crypt_keys *k = keys_of(key, 1);
	_cleanup_free_ char *pub =
	    xstrdup(json_string_value(json_object_get(a, CRYPT_ANN_PUBOPTS)));

	/* Another layer's HMAC in pubopts. */
	const char *o = "{\"cipher\":\"AES_256_CTR_HMAC_SHA256\",\"hmac\":"
			"\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\",\"cipheroptions\":{}}";
	_cleanup_free_ char *other = crypt_b64_encode(o, strlen(o), CRYPT_B64_STD);
	json_object_set_new(a, CRYPT_ANN_PUBOPTS, json_string(other));
	assert_int_equal(decrypt_layer(k, d, ct, sizeof(pt), &out, &err), -1);
	assert_error_contains(err, "layer HMAC mismatch: ciphertext or annotations tampered");
	/* An unknown cipher. */
	const char *u = "{\"cipher\":\"ROT13\",\"hmac\":\"AA==\"}";
	_cleanup_free_ char *unk = crypt_b64_encode(u, strlen(u), CRYPT_B64_STD);
	json_object_set_new(a, CRYPT_ANN_PUBOPTS, json_string(unk));
	assert_int_equal(decrypt_layer(k, d, ct, sizeof(pt), &out, &err), -1);
	assert_error_contains(err, "unsupported layer cipher \"ROT13\"");
	/* No pubopts at all. */
	json_object_del(a, CRYPT_ANN_PUBOPTS);
	assert_int_equal(decrypt_layer(k, d, ct, sizeof(pt), &out, &err), -1);
	assert_error_contains(err, "no org.opencontainers.image.enc.pubopts annotation");
	/* pubopts back, wrapped keys gone. */
	json_object_set_new(a, CRYPT_ANN_PUBOPTS, json_string(pub));
	json_object_del(a, CRYPT_ANN_JWE);
	assert_int_equal(decrypt_layer(k, d, ct, sizeof(pt), &out, &err), -1);
	assert_error_contains(err, "nothing holds the layer key");
	/* A plain media type. */
	json_object_set_new(d, "mediaType", json_string(LAYER_MT));
	assert_int_equal(decrypt_layer(k, d, ct, sizeof(pt), &out, &err), -1);
	assert_error_contains(err, "not an encrypted type");
	crypt_keys_free(k);
	free(ct);
	json_decref(d);
}

static void test_recipient_specs(void **state)
{
	struct crypt_recipients *r = crypt_recipients_new(NULL);
	struct crypt_layer *l = NULL;
	struct cc_error *err = NULL;
	_cleanup_free_ char *priv = data_path("rsa.pem");
	_cleanup_free_ char *rsa_pub = data_path("rsa-pub.pem");
	_cleanup_free_ char *s1 = xasprintf("jwe:%s", priv);
	_cleanup_free_ char *s2 = xasprintf("pkcs7:%s", rsa_pub);
	_cleanup_free_ char *s3 = xasprintf("jwe:%s", "/nonexistent/key.pem");

	assert_int_equal(crypt_layer_encrypt_begin(r, LAYER_MT, NULL, &l, &err), -1);
	assert_error_contains(err, "no encryption recipients");
	assert_int_equal(crypt_recipients_add(r, "jwe", &err), -1);
	assert_error_contains(err, "not <protocol>:<value>");
	assert_int_equal(crypt_recipients_add(r, "pkcs11:x", &err), -1);
	assert_error_contains(err, "protocol not recognised");
	assert_int_equal(crypt_recipients_add(r, s1, &err), -1);
	assert_error_contains(err, "not a public key");
	assert_int_equal(crypt_recipients_add(r, s2, &err), -1);
	assert_error_contains(err, "not an X.509 certificate");
	assert_int_equal(crypt_recipients_add(r, s3, &err), -1);
	assert_error_contains(err, "/nonexistent/key.pem");
	crypt_recipients_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_b64),
		cmocka_unit_test(test_media_types),
		cmocka_unit_test(test_cipher_known_answer),
		cmocka_unit_test(test_cipher_round_trip_and_tamper),
		cmocka_unit_test(test_cipher_refuses),
		cmocka_unit_test(test_opts),
		cmocka_unit_test(test_annotations),
		cmocka_unit_test(test_layer_round_trip),
		cmocka_unit_test(test_layer_tampered_annotations),
		cmocka_unit_test(test_recipient_specs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
