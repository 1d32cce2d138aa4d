// SPDX-License-Identifier: Apache-2.0
/* Unit tests for lib/crypt key unwrapping against layers skopeo encrypted (JWE RSA and EC,
 * several recipients, PKCS#7, OpenPGP), key files and passwords, and malformed input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include "crypt/annotations.h"
#include "crypt/internal.h"
#include "crypt/jwe.h"
#include "crypt/keys.h"
#include "crypt/pkcs7.h"
#include "crypt-helpers.h"

/* Decrypt a fixture layer (<name>.descriptor.json, <name>.blob) with the keys of specs and
 * compare with the original layer.tar.gz; or return the error. */
static int try_fixture(const char *name, const char *const *specs, size_t n, struct cc_error **err)
{
	_cleanup_free_ char *dn = xasprintf("%s.descriptor.json", name);
	_cleanup_free_ char *bn = xasprintf("%s.blob", name);
	size_t blen, plen;
	_cleanup_free_ char *blob = read_data(bn, &blen);
	_cleanup_free_ char *plain = read_data("layer.tar.gz", &plen);
	json_t *d = load_descriptor(dn);
	struct crypt_keys *k = keys_of(specs, n);
	unsigned char *out = NULL;
	int r = decrypt_layer(k, d, (unsigned char *)blob, blen, &out, err);

	if (r == 0) {
		assert_int_equal(blen, plen);
		assert_memory_equal(out, plain, plen);
		/* The plaintext is the gzip blob skopeo started from. */
		assert_memory_equal(out, "\x1f\x8b\x08", 3);
	}
	free(out);
	crypt_keys_free(k);
	json_decref(d);
	return r;
}

#define FIXTURE_OK(name, ...)                                              \
	do {                                                               \
		static const char *const s_[] = { __VA_ARGS__ };           \
		struct cc_error *e_ = NULL;                                \
		assert_ok(try_fixture(name, s_, ARRAY_SIZE(s_), &e_), e_); \
	} while (0)

#define FIXTURE_FAILS(name, want, ...)                                            \
	do {                                                                      \
		static const char *const s_[] = { __VA_ARGS__ };                  \
		struct cc_error *e_ = NULL;                                       \
		assert_int_equal(try_fixture(name, s_, ARRAY_SIZE(s_), &e_), -1); \
		assert_error_contains(e_, want);                                  \
	} while (0)

static void test_skopeo_jwe_rsa(void **state)
{
	FIXTURE_OK("jwe-rsa", "rsa.pem");
	FIXTURE_OK("jwe-rsa", "rsa.der");
	FIXTURE_OK("jwe-rsa", "rsa-pkcs1.pem");
	FIXTURE_OK("jwe-rsa", "rsa-other.pem", "ec256.pem", "rsa.pem");
	FIXTURE_FAILS("jwe-rsa", "no key matches any of the 1 JWE recipient", "rsa-other.pem");
	FIXTURE_FAILS("jwe-rsa", "no key matches any of the 1 JWE recipient (0 of 1 key",
		      "ec256.pem");
}

static void test_skopeo_jwe_ec(void **state)
{
	FIXTURE_OK("jwe-ec", "ec256.pem");
	FIXTURE_OK("jwe-ec", "ec256-sec1.pem"); /* skopeo 1.9.3 cannot read this one */
	FIXTURE_FAILS("jwe-ec", "no key matches", "ec384.pem", "rsa.pem");
}

static void test_skopeo_several_recipients(void **state)
{
	/* One general-serialisation JWE for 4 keys, PKCS#7 and OpenPGP for the rest. */
	FIXTURE_OK("multi", "rsa.pem");
	FIXTURE_OK("multi", "ec256.pem");
	FIXTURE_OK("multi", "ec384.pem");
	FIXTURE_OK("multi", "ec521.pem");
	FIXTURE_OK("multi", "pkcs7-key.pem", "pkcs7-cert.pem");
	FIXTURE_OK("multi", "pgp-a.gpg");
	FIXTURE_OK("multi", "pgp-b.gpg:pass=pgp-password");
	FIXTURE_FAILS("multi", "no key matches any of the 4 JWE recipients", "rsa-other.pem");
	FIXTURE_FAILS("multi",
		      "keys.pkcs7: PKCS#7 needs a private key and the recipient's "
		      "certificate",
		      "rsa-other.pem");
	FIXTURE_FAILS("multi", "keys.pgp: no OpenPGP secret keyring given", "rsa-other.pem");
	FIXTURE_FAILS("multi", "keys.pgp: OpenPGP: the secret key needs a (correct) passphrase",
		      "pgp-b.gpg");
	FIXTURE_FAILS("multi", "passphrase", "pgp-b.gpg:pass=wrong");
	FIXTURE_FAILS("multi", "keys.pkcs7: PKCS#7: none of the 1 certificate belongs",
		      "pkcs7-cert.pem", "rsa-other.pem");
}

static void test_key_passwords(void **state)
{
	_cleanup_free_ char *pwfile = xstrdup("/tmp/crypt-pw.XXXXXX");
	int fd = mkstemp(pwfile);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "test-password", 13), 13);
	close(fd);
	_cleanup_free_ char *file_spec = xasprintf("rsa-enc.pem:file=%s", pwfile);
	int p[2];
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], "test-password", 13), 13);
	close(p[1]);
	_cleanup_free_ char *fd_spec = xasprintf("rsa-enc.pem:fd=%d", p[0]);

	FIXTURE_OK("jwe-rsa", "rsa-enc.pem:pass=test-password");
	FIXTURE_OK("jwe-rsa", "rsa-enc.pem:test-password");
	FIXTURE_OK("jwe-rsa", "rsa-legacy-enc.pem:pass=test-password");
	{
		const char *s[] = { file_spec };
		struct cc_error *e = NULL;
		assert_ok(try_fixture("jwe-rsa", s, 1, &e), e);
	}
	{
		const char *s[] = { fd_spec };
		struct cc_error *e = NULL;
		assert_ok(try_fixture("jwe-rsa", s, 1, &e), e);
		assert_int_equal(fcntl(p[0], F_GETFD), -1); /* handed over and closed */
	}
	unlink(pwfile);

	struct crypt_keys *k = crypt_keys_new(NULL);
	struct cc_error *err = NULL;
	_cleanup_free_ char *enc = data_path("rsa-enc.pem");
	_cleanup_free_ char *wrong = xasprintf("%s:pass=nope", enc);
	_cleanup_free_ char *legacy = data_path("rsa-legacy-enc.pem");
	assert_int_equal(crypt_keys_add(k, enc, &err), -1);
	assert_error_contains(err, "the key is password-protected: give <path>:pass=");
	assert_int_equal(crypt_keys_add(k, wrong, &err), -1);
	assert_error_contains(err, "wrong password");
	assert_int_equal(crypt_keys_add(k, legacy, &err), -1);
	assert_error_contains(err, "password-protected");
	assert_int_equal(crypt_keys_add(k, "/nonexistent/key.pem", &err), -1);
	assert_error_contains(err, "decryption key /nonexistent/key.pem");
	assert_int_equal(crypt_keys_add(k, "/nonexistent/key.pem:fd=-3", &err), -1);
	assert_error_contains(err, "is not a file descriptor");
	_cleanup_free_ char *readme = data_path("regen.sh");
	assert_int_equal(crypt_keys_add(k, readme, &err), -1);
	assert_error_contains(err, "not a private key, certificate or OpenPGP secret keyring");
	assert_int_equal(crypt_keys_count(k), 0);
	crypt_keys_free(k);
}

static void test_key_directory(void **state)
{
	char dir[] = "/tmp/crypt-keys.XXXXXX";
	assert_non_null(mkdtemp(dir));
	static const char *const files[] = { "rsa-other.pem", "ec256.pem", "rsa.pem", "regen.sh" };
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		size_t len;
		struct cc_error *err = NULL;
		_cleanup_free_ char *buf = read_data(files[i], &len);
		_cleanup_free_ char *dst = xasprintf("%s/%s", dir, files[i]);
		assert_ok(cc_write_file(dst, buf, len, 0600, &err), err);
	}
	const char *spec[] = { dir };
	struct cc_error *err = NULL;
	assert_ok(try_fixture("jwe-rsa", spec, 1, &err), err);
	struct crypt_keys *k = keys_of(spec, 1);
	assert_int_equal(crypt_keys_count(k), 3); /* regen.sh skipped */
	crypt_keys_free(k);
	assert_ok(cc_rm_rf(dir, &err), err);
	assert_ok(mkdir(dir, 0700), err);
	k = crypt_keys_new(NULL);
	assert_int_equal(crypt_keys_add(k, dir, &err), -1);
	assert_error_contains(err, "no key, certificate or keyring in the directory");
	crypt_keys_free(k);
	rmdir(dir);
}

/* ---- JWE serialisations and malformed JWE ---- */

/* The JWE text inside the fixture's annotation (first entry). */
static char *fixture_jwe(const char *name)
{
	_cleanup_free_ char *dn = xasprintf("%s.descriptor.json", name);
	json_t *d = load_descriptor(dn);
	struct crypt_buf b = { 0 };
	const char *v =
	    json_string_value(json_object_get(json_object_get(d, "annotations"), CRYPT_ANN_JWE));
	assert_int_equal(crypt_b64_decode(v, strlen(v), CRYPT_B64_STD, &b), 0);
	json_decref(d);
	return (char *)b.p;
}

static EVP_PKEY *load_key(const char *name)
{
	const char *s[] = { name };
	struct crypt_keys *k = keys_of(s, 1);
	EVP_PKEY *p = k->pkeys[0];
	EVP_PKEY_up_ref(p);
	crypt_keys_free(k);
	return p;
}

static int jwe_decrypt_text(const char *text, EVP_PKEY *key, struct cc_error **err)
{
	struct crypt_jwe *j = NULL;
	struct crypt_buf plain = { 0 };
	if (crypt_jwe_parse(text, strlen(text), &j, err) < 0)
		return -1;
	int r = crypt_jwe_decrypt(j, &key, 1, &plain, err);
	if (r == 0)
		assert_memory_equal(plain.p, "{\"symkey\":", 10);
	crypt_buf_wipe(&plain);
	crypt_jwe_free(j);
	return r;
}

static char *member(json_t *j, const char *k)
{
	return xstrdup(json_string_value(json_object_get(j, k)));
}

static void test_jwe_serialisations(void **state)
{
	_cleanup_free_ char *flat = fixture_jwe("jwe-rsa");
	_cleanup_free_ char *general = fixture_jwe("multi");
	EVP_PKEY *rsa = load_key("rsa.pem"), *ec = load_key("ec521.pem");
	struct cc_error *err = NULL;
	json_t *f = json_loads(flat, 0, NULL);

	/* skopeo writes flattened JSON for one recipient... */
	assert_null(json_object_get(f, "recipients"));
	assert_ok(jwe_decrypt_text(flat, rsa, &err), err);
	/* ...and general JSON for several, with go-jose's stray top-level encrypted_key. */
	json_t *g = json_loads(general, 0, NULL);
	assert_int_equal(json_array_size(json_object_get(g, "recipients")), 4);
	assert_non_null(json_object_get(g, "encrypted_key"));
	assert_ok(jwe_decrypt_text(general, rsa, &err), err);
	assert_ok(jwe_decrypt_text(general, ec, &err), err);
	json_decref(g);
	/* Compact: the same parts joined with dots (all headers are protected). */
	_cleanup_free_ char *p = member(f, "protected"), *ek = member(f, "encrypted_key"),
			    *iv = member(f, "iv"), *ct = member(f, "ciphertext"),
			    *tag = member(f, "tag");
	_cleanup_free_ char *compact = xasprintf("%s.%s.%s.%s.%s", p, ek, iv, ct, tag);
	assert_ok(jwe_decrypt_text(compact, rsa, &err), err);
	/* A flipped tag, ciphertext or protected header: the key unwraps, GCM refuses. */
	tag[3] = tag[3] == 'A' ? 'B' : 'A';
	_cleanup_free_ char *bad_tag = xasprintf("%s.%s.%s.%s.%s", p, ek, iv, ct, tag);
	assert_int_equal(jwe_decrypt_text(bad_tag, rsa, &err), -1);
	assert_error_contains(err, "JWE content decryption failed");
	json_decref(f);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(ec);
}

static void test_jwe_malformed(void **state)
{
	struct cc_error *err = NULL;

	static const struct {
		const char *text, *want;
	} bad[] = {
		{ "", "JWE: empty" },
		{ "{", "invalid JSON" },
		{ "[]", "neither JSON nor compact" },
		{ "{}", "lacks \"alg\" or \"enc\"" },
		{ "a.b.c", "neither JSON nor compact" },
		{ "a.b.c.d.e.f", "neither JSON nor compact" },
		{ "e30.YQ.YQ.YQ.YQ", "lacks \"alg\" or \"enc\"" },
		{ "!!.YQ.YQ.YQ.YQ", "protected header is not valid base64url" },
		{ "{\"protected\":7}", "\"protected\" is not a string" },
		{ "{\"recipients\":[]}", "\"recipients\" is not an array of 1 to 64" },
		{ "{\"recipients\":[1]}", "JWE recipient 1: not an object" },
		{ "{\"unprotected\":{\"alg\":\"RSA-OAEP\",\"enc\":\"A256GCM\"},"
		  "\"header\":{\"alg\":\"RSA-OAEP\"}}",
		  "header \"alg\" given twice" },
		{ "{\"header\":{\"alg\":\"dir\",\"enc\":\"A256GCM\"}}",
		  "unsupported key algorithm \"dir\"" },
		{ "{\"header\":{\"alg\":\"RSA-OAEP\",\"enc\":\"A128CBC-HS256\"}}",
		  "unsupported or inconsistent content encryption" },
		{ "{\"header\":{\"alg\":\"RSA-OAEP\",\"enc\":\"A256GCM\",\"zip\":\"DEF\"}}",
		  "\"zip\" is not supported" },
		{ "{\"header\":{\"alg\":\"RSA-OAEP\",\"enc\":\"A256GCM\",\"crit\":[\"x\"]}}",
		  "\"crit\" is not supported" },
		{ "{\"header\":{\"alg\":\"RSA-OAEP\",\"enc\":\"A256GCM\"}}",
		  "\"encrypted_key\" is missing" },
		{ "{\"header\":{\"alg\":\"RSA-OAEP\",\"enc\":\"A256GCM\"},\"encrypted_key\":"
		  "\"YQ\"}",
		  "\"iv\" is missing or not base64url" },
		{ "{\"header\":{\"alg\":\"RSA-OAEP\",\"enc\":\"A256GCM\"},\"encrypted_key\":\"YQ\","
		  "\"iv\":\"YQ\",\"ciphertext\":\"YQ\",\"tag\":\"YQ\"}",
		  "iv must be 12 bytes" },
		{ "{\"header\":{\"alg\":\"ECDH-ES+A256KW\",\"enc\":\"A256GCM\"}}",
		  "\"epk\" is not an EC JWK" },
		{ "{\"header\":{\"alg\":\"ECDH-ES+A256KW\",\"enc\":\"A256GCM\",\"epk\":"
		  "{\"kty\":\"OKP\",\"crv\":\"X25519\"}}}",
		  "only EC P-256/384/521" },
		{ "{\"header\":{\"alg\":\"ECDH-ES+A256KW\",\"enc\":\"A256GCM\",\"epk\":"
		  "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"YQ\",\"y\":\"YQ\"}}}",
		  "coordinates are not 32 bytes" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct crypt_jwe *j = NULL;
		if (crypt_jwe_parse(bad[i].text, strlen(bad[i].text), &j, &err) == 0)
			fail_msg("accepted %s", bad[i].text);
		assert_error_contains(err, bad[i].want);
	}
}

/* Well-formed JWE with one field changed: an epk off the curve, a tampered encrypted_key. */
static void test_jwe_bad_fields(void **state)
{
	_cleanup_free_ char *flat = fixture_jwe("jwe-ec");
	EVP_PKEY *ec = load_key("ec256.pem");
	struct cc_error *err = NULL;
	json_t *f = json_loads(flat, 0, NULL);
	_cleanup_free_ char *p = member(f, "protected");
	struct crypt_buf hb = { 0 };
	assert_int_equal(crypt_b64_decode(p, strlen(p), CRYPT_B64_URL, &hb), 0);
	json_t *hdr = json_loads((char *)hb.p, 0, NULL);
	crypt_buf_wipe(&hb);

	/* An epk that is not on the curve (invalid-curve attack): y changed. */
	json_t *epk = json_object_get(hdr, "epk");
	_cleanup_free_ char *y = member(epk, "y");
	y[0] = y[0] == 'A' ? 'B' : 'A';
	json_object_set_new(epk, "y", json_string(y));
	_cleanup_free_ char *h = json_dumps(hdr, JSON_COMPACT);
	_cleanup_free_ char *hb64 = crypt_b64_encode(h, strlen(h), CRYPT_B64_URL);
	json_object_set_new(f, "protected", json_string(hb64));
	_cleanup_free_ char *text = json_dumps(f, JSON_COMPACT);
	struct crypt_jwe *j = NULL;
	assert_int_equal(crypt_jwe_parse(text, strlen(text), &j, &err), -1);
	assert_error_contains(err, "\"epk\" is not a valid point on P-256");
	/* Unwrapping with the right key but a tampered encrypted_key. */
	json_object_set_new(f, "protected", json_string(p));
	_cleanup_free_ char *ek = member(f, "encrypted_key");
	ek[5] = ek[5] == 'A' ? 'B' : 'A';
	json_object_set_new(f, "encrypted_key", json_string(ek));
	_cleanup_free_ char *text2 = json_dumps(f, JSON_COMPACT);
	assert_int_equal(jwe_decrypt_text(text2, ec, &err), -1);
	assert_error_contains(err, "no key matches any of the 1 JWE recipient");
	json_decref(hdr);
	json_decref(f);
	EVP_PKEY_free(ec);
}

/* ---- PKCS#7 ---- */

static void test_pkcs7(void **state)
{
	_cleanup_free_ char *dn = xstrdup("multi.descriptor.json");
	json_t *d = load_descriptor(dn);
	const char *v =
	    json_string_value(json_object_get(json_object_get(d, "annotations"), CRYPT_ANN_PKCS7));
	struct crypt_buf der = { 0 }, plain = { 0 };
	struct cc_error *err = NULL;
	static const char *const specs[] = { "pkcs7-key.pem", "pkcs7-cert.pem" };
	struct crypt_keys *k = keys_of(specs, 2);

	assert_int_equal(crypt_b64_decode(v, strlen(v), CRYPT_B64_STD, &der), 0);
	/* Go's AES-GCM form (OpenSSL's own parser refuses it). */
	assert_ok(crypt_pkcs7_decrypt(der.p, der.len, k->pkeys, 1, k->certs, 1, &plain, &err), err);
	assert_memory_equal(plain.p, "{\"symkey\":", 10);
	/* Tampered ciphertext: the GCM tag catches it. */
	der.p[der.len - 3] ^= 1;
	assert_int_equal(
	    crypt_pkcs7_decrypt(der.p, der.len, k->pkeys, 1, k->certs, 1, &plain, &err), -1);
	assert_error_contains(err, "does not decrypt the content");
	der.p[der.len - 3] ^= 1;
	/* Truncated, and garbage. */
	for (size_t cut = 1; cut < der.len; cut += 37) {
		if (crypt_pkcs7_decrypt(der.p, der.len - cut, k->pkeys, 1, k->certs, 1, &plain,
					&err) == 0)
			fail_msg("accepted PKCS#7 truncated by %zu bytes", cut);
		assert_error_contains(err, "PKCS#7");
	}
	assert_int_equal(crypt_pkcs7_decrypt((const unsigned char *)"\x30\x03\x06\x01\x00", 5,
					     k->pkeys, 1, k->certs, 1, &plain, &err),
			 -1);
	assert_error_contains(err, "PKCS#7");
	/* Our own writing (OpenSSL CMS, AES-256-CBC) reads back through the CMS path. */
	struct crypt_buf mine = { 0 };
	assert_ok(crypt_pkcs7_encrypt(k->certs, 1, "{\"symkey\":1}", 12, &mine, &err), err);
	crypt_buf_wipe(&plain);
	assert_ok(crypt_pkcs7_decrypt(mine.p, mine.len, k->pkeys, 1, k->certs, 1, &plain, &err),
		  err);
	assert_memory_equal(plain.p, "{\"symkey\":1}", 12);
	crypt_buf_wipe(&mine);
	crypt_buf_wipe(&plain);
	crypt_buf_wipe(&der);
	crypt_keys_free(k);
	json_decref(d);
}

/* ---- our JWE writer, both RSA-OAEP flavours ---- */

static void test_jwe_encrypt(void **state)
{
	EVP_PKEY *rsa = load_key("rsa.pem"), *ec = load_key("ec521.pem");
	EVP_PKEY *both[] = { rsa, ec };
	struct cc_error *err = NULL;
	static const char opts[] = "{\"symkey\":\"x\"}";

	for (int oaep256 = 0; oaep256 < 2; oaep256++) {
		char *text = NULL;
		assert_ok(crypt_jwe_encrypt(both, 2, oaep256, opts, strlen(opts), &text, &err),
			  err);
		assert_non_null(strstr(text, "\"recipients\""));
		assert_ok(jwe_decrypt_text(text, rsa, &err), err);
		assert_ok(jwe_decrypt_text(text, ec, &err), err);
		free(text);
		assert_ok(crypt_jwe_encrypt(&rsa, 1, oaep256, opts, strlen(opts), &text, &err),
			  err);
		assert_null(strstr(text, "\"recipients\""));
		struct crypt_jwe *j = NULL;
		assert_ok(crypt_jwe_parse(text, strlen(text), &j, &err), err);
		crypt_jwe_free(j);
		assert_ok(jwe_decrypt_text(text, rsa, &err), err);
		free(text);
	}
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(ec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_skopeo_jwe_rsa),
		cmocka_unit_test(test_skopeo_jwe_ec),
		cmocka_unit_test(test_skopeo_several_recipients),
		cmocka_unit_test(test_key_passwords),
		cmocka_unit_test(test_key_directory),
		cmocka_unit_test(test_jwe_serialisations),
		cmocka_unit_test(test_jwe_malformed),
		cmocka_unit_test(test_jwe_bad_fields),
		cmocka_unit_test(test_pkcs7),
		cmocka_unit_test(test_jwe_encrypt),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
