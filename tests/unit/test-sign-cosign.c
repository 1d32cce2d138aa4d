// SPDX-License-Identifier: Apache-2.0
/* Unit tests for lib/sign/cosign.c: keys, signatures against the openssl CLI (vectors made by
 * data/sign/cosign-regen.sh, and our signatures checked by `openssl dgst -verify` at test
 * time), and .sig manifests field by field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include "sign/cosign.h"
#include "sign/payload.h"
#include "util/cleanup.h"
#include "util/fs.h"

#define DIGEST "sha256:47de6ac7a37b3ad8c0a3e3e4bc1f5d3c2be7c1e9c0f1a2b3c4d5e6f708192a0e"
#define HEX_A "6a0a84b1e7d2c3f4a5b6c7d8e9f00112233445566778899aabbccddeeff00112"
#define HEX_B "0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c"
#define ACCEPTED_PRIVATE                                                                     \
	"accepted are unencrypted ECDSA P-256 keys in PEM \"PRIVATE KEY\" (PKCS#8) or \"EC " \
	"PRIVATE KEY\" (SEC1)"
#define ACCEPTED_PUBLIC "accepted are ECDSA P-256, RSA (2048 bits or more) and Ed25519 keys"

/* ---- fixtures ---- */

static char *data_path(const char *name)
{
	const char *dir = getenv("SIGN_TEST_DATA");
	assert_non_null(dir);
	return xasprintf("%s/%s", dir, name);
}

static char *read_data(const char *name, size_t *len)
{
	struct cc_error *err = NULL;
	_cleanup_free_ char *p = data_path(name);
	size_t n;
	char *buf = cc_read_file(p, 0, len ? len : &n, &err);
	if (!buf)
		fail_msg("%s", err->msg);
	return buf;
}

static struct sign_cosign_key *load(const char *file, bool private)
{
	size_t len;
	struct cc_error *err = NULL;
	_cleanup_free_ char *pem = read_data(file, &len);
	struct sign_cosign_key *k = private ? sign_cosign_key_private(pem, len, file, &err)
					    : sign_cosign_key_public(pem, len, file, &err);
	if (!k)
		fail_msg("%s", err->msg);
	assert_string_equal(sign_cosign_key_name(k), file);
	return k;
}

/* Loading file fails with exactly want. */
static void expect_key_refused(const char *file, bool private, const char *want)
{
	size_t len;
	struct cc_error *err = NULL;
	_cleanup_free_ char *pem = read_data(file, &len);
	struct sign_cosign_key *k = private ? sign_cosign_key_private(pem, len, file, &err)
					    : sign_cosign_key_public(pem, len, file, &err);
	assert_null(k);
	assert_non_null(err);
	assert_string_equal(err->msg, want);
	cc_error_free(&err);
}

static void expect_verify(const struct sign_cosign_key *k, const void *payload, size_t len,
			  const char *sig, const char *want)
{
	struct cc_error *err = NULL;
	int ret = sign_cosign_verify(k, payload, len, sig, &err);
	if (!want) {
		if (ret < 0)
			fail_msg("%s", err->msg);
		assert_null(err);
		return;
	}
	assert_int_equal(ret, -1);
	assert_non_null(err);
	assert_string_equal(err->msg, want);
	cc_error_free(&err);
}

static unsigned char *b64_decode(const char *s, size_t *len)
{
	size_t n = strlen(s);
	unsigned char *out = xmalloc(n / 4 * 3 + 1);
	int r = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);
	assert_true(r >= 0 && n % 4 == 0);
	*len = (size_t)r - (n && s[n - 1] == '=') - (n > 1 && s[n - 2] == '=');
	return out;
}

static char *b64_encode(const unsigned char *p, size_t len)
{
	char *out = xmalloc((len + 2) / 3 * 4 + 1);
	EVP_EncodeBlock((unsigned char *)out, p, (int)len);
	return out;
}

static char *sha256_digest(const void *p, size_t len)
{
	unsigned char md[32];
	unsigned n = 0;
	assert_int_equal(EVP_Digest(p, len, md, &n, EVP_sha256(), NULL), 1);
	char *s = xmalloc(7 + 64 + 1);
	strcpy(s, "sha256:");
	for (unsigned i = 0; i < n; i++)
		sprintf(s + 7 + 2 * i, "%02x", md[i]);
	return s;
}

static void write_file(const char *dir, const char *name, const void *p, size_t len)
{
	_cleanup_free_ char *path = xasprintf("%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* Runs argv with its output discarded: its exit status, 127 when it could not be started. */
static int run(const char *const argv[])
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 1);
		dup2(null, 2);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* ---- tags ---- */

static void test_tag(void **state)
{
	_cleanup_free_ char *t = sign_cosign_tag(DIGEST);
	assert_string_equal(
	    t, "sha256-47de6ac7a37b3ad8c0a3e3e4bc1f5d3c2be7c1e9c0f1a2b3c4d5e6f708192a0e.sig");
	_cleanup_free_ char *s512 = sign_cosign_tag("sha512:" HEX_A HEX_B);
	assert_string_equal(s512, "sha512-" HEX_A HEX_B ".sig");
	static const char *const bad[] = {
		"sha256-47de6ac7a37b3ad8c0a3e3e4bc1f5d3c2be7c1e9c0f1a2b3c4d5e6f708192a0e",
		"sha256:47DE6AC7A37B3AD8C0A3E3E4BC1F5D3C2BE7C1E9C0F1A2B3C4D5E6F708192A0E",
		"sha256:47de",
		"md5:47de6ac7a37b3ad8c0a3e3e4bc1f5d3c",
		"",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_null(sign_cosign_tag(bad[i]));
	assert_null(sign_cosign_tag(NULL));
}

/* ---- signatures ---- */

static void test_sign_verify(void **state)
{
	struct cc_error *err = NULL;
	struct sign_cosign_key *priv = load("cosign-ec256.pem", true);
	struct sign_cosign_key *pub = load("cosign-ec256-pub.pem", false);
	_cleanup_free_ char *payload =
	    sign_payload_make(SIGN_COSIGN, "registry.example.com/ns/img", DIGEST, NULL, -1);
	size_t len = strlen(payload);
	_cleanup_free_ char *sig = sign_cosign_sign(priv, payload, len, &err);
	assert_non_null(sig);
	_cleanup_free_ char *again = sign_cosign_sign(priv, payload, len, &err);
	assert_non_null(again);
	assert_string_not_equal(sig, again); /* ECDSA is randomised */

	/* The annotation's form: standard base64, padded, of an ASN.1 DER (r,s) pair. */
	assert_int_equal(strlen(sig) % 4, 0);
	assert_int_equal(strspn(sig, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				     "0123456789+/="),
			 strlen(sig));
	size_t der_len;
	_cleanup_free_ unsigned char *der = b64_decode(sig, &der_len);
	const unsigned char *p = der;
	ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
	assert_non_null(es);
	assert_ptr_equal(p, der + der_len);
	ECDSA_SIG_free(es);

	expect_verify(pub, payload, len, sig, NULL);
	expect_verify(pub, payload, len, again, NULL);
	expect_verify(priv, payload, len, sig, NULL); /* a private key verifies too */

	/* The SEC1 form of the same key signs the same way. */
	struct sign_cosign_key *sec1 = load("cosign-ec256-sec1.pem", true);
	_cleanup_free_ char *s3 = sign_cosign_sign(sec1, payload, len, &err);
	assert_non_null(s3);
	expect_verify(pub, payload, len, s3, NULL);

	/* What `openssl ecparam -name prime256v1 -genkey` writes: the curve, then the key. */
	size_t sec1_len;
	_cleanup_free_ char *sec1_pem = read_data("cosign-ec256-sec1.pem", &sec1_len);
	_cleanup_free_ char *ecparam = xasprintf("-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n"
						 "-----END EC PARAMETERS-----\n%s",
						 sec1_pem);
	struct sign_cosign_key *genkey =
	    sign_cosign_key_private(ecparam, strlen(ecparam), "genkey.pem", &err);
	assert_non_null(genkey);
	_cleanup_free_ char *s5 = sign_cosign_sign(genkey, payload, len, &err);
	assert_non_null(s5);
	expect_verify(pub, payload, len, s5, NULL);
	sign_cosign_key_free(genkey);

	/* An empty payload is a payload. */
	_cleanup_free_ char *s4 = sign_cosign_sign(priv, "", 0, &err);
	assert_non_null(s4);
	expect_verify(pub, "", 0, s4, NULL);
	expect_verify(pub, payload, len, s4,
		      "signature does not verify with key cosign-ec256-pub.pem");

	/* A public key does not sign. */
	assert_null(sign_cosign_sign(pub, payload, len, &err));
	assert_string_equal(err->msg, "key cosign-ec256-pub.pem is a public key: signing takes a "
				      "private key");
	cc_error_free(&err);
	sign_cosign_key_free(sec1);
	sign_cosign_key_free(priv);
	sign_cosign_key_free(pub);
	sign_cosign_key_free(NULL);
}

/* Signatures made by the openssl CLI (cosign-regen.sh) verify: ECDSA P-256, RSA PKCS#1 v1.5
 * and Ed25519, each only with its own key. */
static void test_openssl_vectors(void **state)
{
	static const struct {
		const char *sig, *key;
	} v[] = {
		{ "cosign-payload.ec256.sig", "cosign-ec256-pub.pem" },
		{ "cosign-payload.rsa.sig", "cosign-rsa-pub.pem" },
		{ "cosign-payload.ed25519.sig", "cosign-ed25519-pub.pem" },
	};
	size_t len;
	_cleanup_free_ char *payload = read_data("cosign-payload.json", &len);

	/* The payload is one cosign's verifier accepts. */
	struct sign_payload sp;
	struct cc_error *err = NULL;
	assert_int_equal(sign_payload_parse(payload, len, SIGN_COSIGN, &sp, &err), 0);
	assert_string_equal(sp.manifest_digest, DIGEST);
	sign_payload_clear(&sp);

	for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
		_cleanup_free_ char *sig = read_data(v[i].sig, NULL);
		for (size_t j = 0; j < ARRAY_SIZE(v); j++) {
			struct sign_cosign_key *k = load(v[j].key, false);
			_cleanup_free_ char *want =
			    xasprintf("signature does not verify with key %s", v[j].key);
			expect_verify(k, payload, len, sig, i == j ? NULL : want);
			sign_cosign_key_free(k);
		}
	}
}

/* What we sign verifies with `openssl dgst -sha256 -verify` (and a changed payload does not,
 * so that the check means something). */
static void test_openssl_verifies_ours(void **state)
{
	char dir[] = "/tmp/test-sign-cosign.XXXXXX";
	struct cc_error *err = NULL;
	assert_non_null(mkdtemp(dir));
	struct sign_cosign_key *priv = load("cosign-ec256.pem", true);
	_cleanup_free_ char *payload = sign_payload_make(SIGN_COSIGN, "registry.example.com/ns/img",
							 DIGEST, "test", 1795332592);
	_cleanup_free_ char *sig = sign_cosign_sign(priv, payload, strlen(payload), &err);
	assert_non_null(sig);
	sign_cosign_key_free(priv);
	size_t der_len;
	_cleanup_free_ unsigned char *der = b64_decode(sig, &der_len);
	write_file(dir, "payload", payload, strlen(payload));
	write_file(dir, "tampered", payload, strlen(payload) - 1);
	write_file(dir, "sig", der, der_len);

	_cleanup_free_ char *pub = data_path("cosign-ec256-pub.pem");
	_cleanup_free_ char *sigp = xasprintf("%s/sig", dir);
	_cleanup_free_ char *good = xasprintf("%s/payload", dir);
	_cleanup_free_ char *bad = xasprintf("%s/tampered", dir);
	const char *const ok_argv[] = { "openssl",    "dgst", "-sha256", "-verify", pub,
					"-signature", sigp,   good,	 NULL };
	const char *const bad_argv[] = { "openssl",    "dgst", "-sha256", "-verify", pub,
					 "-signature", sigp,   bad,	  NULL };
	int ok = run(ok_argv), nok = run(bad_argv);
	unlink(sigp);
	unlink(good);
	unlink(bad);
	rmdir(dir);
	if (ok == 127)
		skip();
	assert_int_equal(ok, 0);
	assert_int_equal(nok, 1);
}

static void test_tampered(void **state)
{
	size_t len;
	_cleanup_free_ char *payload = read_data("cosign-payload.json", &len);
	_cleanup_free_ char *sig = read_data("cosign-payload.ec256.sig", NULL);
	struct sign_cosign_key *pub = load("cosign-ec256-pub.pem", false);
	struct sign_cosign_key *other = load("cosign-ec256-other-pub.pem", false);
	const char *no = "signature does not verify with key cosign-ec256-pub.pem";

	expect_verify(pub, payload, len, sig, NULL);
	/* the payload changed: one byte, one byte fewer, one byte more */
	payload[len - 2] ^= 1;
	expect_verify(pub, payload, len, sig, no);
	payload[len - 2] ^= 1;
	expect_verify(pub, payload, len - 1, sig, no);
	_cleanup_free_ char *longer = xasprintf("%s ", payload);
	expect_verify(pub, longer, len + 1, sig, no);

	/* the signature changed: a bit of s, a DER that is not canonical, trailing bytes */
	size_t der_len;
	_cleanup_free_ unsigned char *der = b64_decode(sig, &der_len);
	der[der_len - 1] ^= 1;
	_cleanup_free_ char *flipped = b64_encode(der, der_len);
	expect_verify(pub, payload, len, flipped, no);
	der[der_len - 1] ^= 1;
	unsigned char *longer_der = xmalloc(der_len + 1);
	memcpy(longer_der, der, der_len);
	longer_der[der_len] = 0;
	_cleanup_free_ char *trailing = b64_encode(longer_der, der_len + 1);
	expect_verify(pub, payload, len, trailing, no);
	longer_der[1]++; /* the SEQUENCE length covers the extra byte: still not DER of (r,s) */
	_cleanup_free_ char *padded = b64_encode(longer_der, der_len + 1);
	expect_verify(pub, payload, len, padded, no);
	free(longer_der);
	expect_verify(pub, payload, len, "", no);

	/* another P-256 key */
	expect_verify(other, payload, len, sig,
		      "signature does not verify with key cosign-ec256-other-pub.pem");
	sign_cosign_key_free(pub);
	sign_cosign_key_free(other);
}

static void test_bad_base64(void **state)
{
	size_t len;
	_cleanup_free_ char *payload = read_data("cosign-payload.json", &len);
	_cleanup_free_ char *sig = read_data("cosign-payload.ec256.sig", NULL);
	struct sign_cosign_key *pub = load("cosign-ec256-pub.pem", false);
	const char *bad = "signature is not valid base64";
	size_t n = strlen(sig);

	expect_verify(pub, payload, len, sig, NULL);
	static const char *const forms[] = {
		"not base64!", "QQ=",	 "QQ",	  "QR==",  "QUI=QUJD", "A===",	   "====", "=AAA",
		"AA=A",	       "QUJD\n", " QUJD", "QUJD ", "QU JD",    "QUJD====", "-_-_",
	};
	for (size_t i = 0; i < ARRAY_SIZE(forms); i++)
		expect_verify(pub, payload, len, forms[i], bad);

	/* the good signature made invalid: URL-safe alphabet, a newline, padding dropped */
	_cleanup_free_ char *s = xstrdup(sig);
	for (char *c = s; *c; c++)
		*c = *c == '+' ? '-' : *c == '/' ? '_' : *c;
	if (strcmp(s, sig))
		expect_verify(pub, payload, len, s, bad);
	_cleanup_free_ char *wrapped = xasprintf("%.*s\n%s", 64, sig, sig + 64);
	expect_verify(pub, payload, len, wrapped, bad);
	_cleanup_free_ char *trailing_nl = xasprintf("%s\n", sig);
	expect_verify(pub, payload, len, trailing_nl, bad);
	if (sig[n - 1] == '=') {
		_cleanup_free_ char *unpadded = xstrndup(sig, strcspn(sig, "="));
		expect_verify(pub, payload, len, unpadded, bad);
	}

	/* bounded before decoding */
	char *huge = xmalloc(16 * 1024 + 5);
	memset(huge, 'A', 16 * 1024 + 4);
	huge[16 * 1024 + 4] = 0;
	expect_verify(pub, payload, len, huge,
		      "signature is 16388 bytes of base64, more than 16384");
	huge[16 * 1024] = 0; /* at the bound: decodes, does not verify */
	expect_verify(pub, payload, len, huge,
		      "signature does not verify with key cosign-ec256-pub.pem");
	free(huge);
	sign_cosign_key_free(pub);
}

/* ---- keys ---- */

static void test_key_types(void **state)
{
	/* verification keys */
	expect_key_refused("cosign-ec384-pub.pem", false,
			   "cosign-ec384-pub.pem: an ECDSA P-384 key; " ACCEPTED_PUBLIC);
	expect_key_refused("cosign-secp256k1-pub.pem", false,
			   "cosign-secp256k1-pub.pem: an ECDSA secp256k1 key; " ACCEPTED_PUBLIC);
	expect_key_refused("cosign-rsa1024-pub.pem", false,
			   "cosign-rsa1024-pub.pem: a 1024-bit RSA key; " ACCEPTED_PUBLIC);
	expect_key_refused("cosign-ed448-pub.pem", false,
			   "cosign-ed448-pub.pem: a key of type ED448; " ACCEPTED_PUBLIC);
	expect_key_refused("cosign-ec256.pem", false,
			   "cosign-ec256.pem: PEM \"PRIVATE KEY\" is not a public key (PEM "
			   "\"PUBLIC KEY\")");
	expect_key_refused("cosign-ec256-cert.pem", false,
			   "cosign-ec256-cert.pem: PEM \"CERTIFICATE\" is not a public key (PEM "
			   "\"PUBLIC KEY\")");
	expect_key_refused("cosign-payload.json", false, "cosign-payload.json: no PEM block found");
	sign_cosign_key_free(load("cosign-rsa-pub.pem", false));
	sign_cosign_key_free(load("cosign-ed25519-pub.pem", false));

	/* signing keys: P-256 only */
	expect_key_refused(
	    "cosign-ec384.pem", true,
	    "cosign-ec384.pem: an ECDSA P-384 key; signing takes an ECDSA P-256 key");
	expect_key_refused("cosign-rsa.pem", true,
			   "cosign-rsa.pem: a 2048-bit RSA key; signing takes an ECDSA P-256 key");
	expect_key_refused("cosign-ed25519.pem", true,
			   "cosign-ed25519.pem: a key of type ED25519; signing takes an ECDSA "
			   "P-256 key");
	expect_key_refused("cosign-ec256-pub.pem", true,
			   "cosign-ec256-pub.pem: PEM \"PUBLIC KEY\": a public key, not a private "
			   "key; " ACCEPTED_PRIVATE);
	expect_key_refused("cosign-ec256-cert.pem", true,
			   "cosign-ec256-cert.pem: PEM \"CERTIFICATE\": not a private key; "
			   "" ACCEPTED_PRIVATE);
}

static void test_key_encrypted(void **state)
{
	expect_key_refused("cosign-encrypted-cosign.key", true,
			   "cosign-encrypted-cosign.key: PEM \"ENCRYPTED COSIGN PRIVATE KEY\": the "
			   "encrypted cosign key format is not supported; " ACCEPTED_PRIVATE);
	expect_key_refused("cosign-encrypted-sigstore.key", true,
			   "cosign-encrypted-sigstore.key: PEM \"ENCRYPTED SIGSTORE PRIVATE KEY\": "
			   "the encrypted cosign key format is not supported; " ACCEPTED_PRIVATE);
	expect_key_refused("cosign-ec256-enc.pem", true,
			   "cosign-ec256-enc.pem: PEM \"ENCRYPTED PRIVATE KEY\": an encrypted key "
			   "is not supported; " ACCEPTED_PRIVATE);
	expect_key_refused("cosign-ec256-legacy-enc.pem", true,
			   "cosign-ec256-legacy-enc.pem: PEM \"EC PRIVATE KEY\": an encrypted key "
			   "is not supported; " ACCEPTED_PRIVATE);
}

static void expect_pem_refused(const char *pem, bool private, const char *want)
{
	struct cc_error *err = NULL;
	struct sign_cosign_key *k = private ? sign_cosign_key_private(pem, strlen(pem), "k", &err)
					    : sign_cosign_key_public(pem, strlen(pem), "k", &err);
	assert_null(k);
	assert_string_equal(err->msg, want);
	cc_error_free(&err);
}

static void test_key_malformed(void **state)
{
	/* a valid PEM wrapping of bytes that are not a key */
	static const char junk_pub[] = "-----BEGIN PUBLIC KEY-----\nMAMCAQA=\n"
				       "-----END PUBLIC KEY-----\n";
	static const char junk_priv[] = "-----BEGIN PRIVATE KEY-----\nMAMCAQA=\n"
					"-----END PRIVATE KEY-----\n";
	static const char junk_sec1[] = "-----BEGIN EC PRIVATE KEY-----\nMAMCAQA=\n"
					"-----END EC PRIVATE KEY-----\n";
	static const char odd_label[] = "-----BEGIN \x01WEIRD-----\nMAMCAQA=\n"
					"-----END \x01WEIRD-----\n";
	expect_pem_refused(junk_pub, false,
			   "k: PEM \"PUBLIC KEY\" is not a valid SubjectPublicKeyInfo");
	expect_pem_refused(junk_priv, true, "k: PEM \"PRIVATE KEY\" does not hold a valid key");
	expect_pem_refused(junk_sec1, true, "k: PEM \"EC PRIVATE KEY\" does not hold a valid key");
	expect_pem_refused(odd_label, false,
			   "k: PEM \"\\x01WEIRD\" is not a public key (PEM \"PUBLIC KEY\")");
	expect_pem_refused("", false, "k: no PEM block found");
	expect_pem_refused("", true, "k: no PEM block found");

	/* a key with bytes after the SubjectPublicKeyInfo */
	size_t len;
	_cleanup_free_ char *pem = read_data("cosign-ec256-pub.pem", &len);
	char *b = strstr(pem, "\n") + 1, *e = strstr(pem, "-----END");
	size_t der_len;
	_cleanup_free_ char *b64 = xstrndup(b, (size_t)(e - b));
	char *w = b64;
	for (char *r = b64; *r; r++)
		if (*r != '\n')
			*w++ = *r;
	*w = 0;
	_cleanup_free_ unsigned char *der = b64_decode(b64, &der_len);
	unsigned char *more = xmalloc(der_len + 2);
	memcpy(more, der, der_len);
	more[der_len] = more[der_len + 1] = 0;
	_cleanup_free_ char *more64 = b64_encode(more, der_len + 2);
	free(more);
	_cleanup_free_ char *trailing =
	    xasprintf("-----BEGIN PUBLIC KEY-----\n%s\n-----END PUBLIC KEY-----\n", more64);
	expect_pem_refused(trailing, false,
			   "k: PEM \"PUBLIC KEY\" is not a valid SubjectPublicKeyInfo");

	/* bounded */
	char *big = xmalloc(64 * 1024 + 2);
	memset(big, ' ', 64 * 1024 + 1);
	big[64 * 1024 + 1] = 0;
	expect_pem_refused(big, false, "k: 65537 bytes, more than 65536 for a key");
	free(big);
}

/* ---- .sig manifests ---- */

static struct sign_cosign_layer layer(const char *digest, int64_t size, const char *sig)
{
	struct sign_cosign_layer l = { 0 };
	l.digest = (char *)digest;
	l.size = size;
	l.signature = (char *)sig;
	return l;
}

static void test_build(void **state)
{
	struct cc_error *err = NULL;
	const struct sign_cosign_layer in[] = {
		layer("sha256:" HEX_A, 292, "MEYCIQCa+/b=="),
		layer("sha256:" HEX_B, 243, "MEUCIQDx"),
	};
	char *config = NULL, *manifest = NULL;
	size_t config_len = 0, manifest_len = 0;
	assert_int_equal(
	    sign_cosign_manifest_build(in, 2, &config, &config_len, &manifest, &manifest_len, &err),
	    0);

	/* containers/image's config, byte for byte */
	assert_string_equal(config, "{\"architecture\":\"\",\"os\":\"\",\"config\":{},\"rootfs\":"
				    "{\"type\":\"layers\",\"diff_ids\":[\"sha256:" HEX_A
				    "\",\"sha256:" HEX_B "\"]}}");
	assert_int_equal(config_len, strlen(config));
	assert_int_equal(manifest_len, strlen(manifest));

	/* the manifest, field by field */
	json_error_t jerr;
	json_t *m = json_loadb(manifest, manifest_len, JSON_REJECT_DUPLICATES, &jerr);
	assert_non_null(m);
	assert_int_equal(json_object_size(m), 4);
	assert_int_equal(json_integer_value(json_object_get(m, "schemaVersion")), 2);
	assert_string_equal(json_string_value(json_object_get(m, "mediaType")),
			    "application/vnd.oci.image.manifest.v1+json");
	json_t *c = json_object_get(m, "config");
	assert_int_equal(json_object_size(c), 3);
	assert_string_equal(json_string_value(json_object_get(c, "mediaType")),
			    "application/vnd.oci.image.config.v1+json");
	_cleanup_free_ char *cd = sha256_digest(config, config_len);
	assert_string_equal(json_string_value(json_object_get(c, "digest")), cd);
	assert_int_equal(json_integer_value(json_object_get(c, "size")), config_len);
	json_t *ls = json_object_get(m, "layers");
	assert_int_equal(json_array_size(ls), 2);
	for (size_t i = 0; i < 2; i++) {
		json_t *l = json_array_get(ls, i);
		assert_int_equal(json_object_size(l), 4);
		assert_string_equal(json_string_value(json_object_get(l, "mediaType")),
				    "application/vnd.dev.cosign.simplesigning.v1+json");
		assert_string_equal(json_string_value(json_object_get(l, "digest")), in[i].digest);
		assert_int_equal(json_integer_value(json_object_get(l, "size")), in[i].size);
		json_t *a = json_object_get(l, "annotations");
		assert_int_equal(json_object_size(a), 1);
		assert_string_equal(
		    json_string_value(json_object_get(a, "dev.cosignproject.cosign/signature")),
		    in[i].signature);
	}
	json_decref(m);

	/* compact, in the Go writers' key order */
	_cleanup_free_ char *want = xasprintf(
	    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
	    "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":"
	    "\"%s\",\"size\":%zu},\"layers\":[{\"mediaType\":\"application/"
	    "vnd.dev.cosign.simplesigning.v1+json\",\"digest\":\"sha256:" HEX_A "\",\"size\":292,"
	    "\"annotations\":{\"dev.cosignproject.cosign/signature\":\"MEYCIQCa+/b==\"}},"
	    "{\"mediaType\":\"application/vnd.dev.cosign.simplesigning.v1+json\",\"digest\":"
	    "\"sha256:" HEX_B "\",\"size\":243,\"annotations\":{\"dev.cosignproject.cosign/"
	    "signature\":\"MEUCIQDx\"}}]}",
	    cd, config_len);
	assert_string_equal(manifest, want);

	/* and back */
	struct sign_cosign_layer *out = NULL;
	size_t n = 0;
	assert_int_equal(
	    sign_cosign_manifest_parse("x.sig", manifest, manifest_len, &out, &n, &err), 0);
	assert_int_equal(n, 2);
	for (size_t i = 0; i < 2; i++) {
		assert_string_equal(out[i].digest, in[i].digest);
		assert_int_equal(out[i].size, in[i].size);
		assert_string_equal(out[i].signature, in[i].signature);
		assert_false(out[i].has_certificate);
		assert_false(out[i].has_bundle);
	}
	/* appending a third signature keeps the first two as they were */
	struct sign_cosign_layer more[3] = { out[0], out[1], layer(DIGEST, 1, "QQ==") };
	char *config2 = NULL, *manifest2 = NULL;
	size_t config2_len, manifest2_len;
	assert_int_equal(sign_cosign_manifest_build(more, 3, &config2, &config2_len, &manifest2,
						    &manifest2_len, &err),
			 0);
	const char *old_layers = strstr(manifest, "\"layers\":[");
	const char *new_layers = strstr(manifest2, "\"layers\":[");
	size_t kept = strlen(old_layers) - 2; /* without "]}" */
	assert_memory_equal(new_layers, old_layers, kept);
	assert_int_equal(new_layers[kept], ',');
	assert_non_null(strstr(config2, "\"diff_ids\":[\"sha256:" HEX_A "\",\"sha256:" HEX_B
					"\",\"" DIGEST "\"]}}"));
	sign_cosign_layers_free(out, n);
	free(config);
	free(manifest);
	free(config2);
	free(manifest2);
}

static void expect_build_refused(const struct sign_cosign_layer *l, size_t n, const char *want)
{
	struct cc_error *err = NULL;
	char *config = (char *)"x", *manifest = (char *)"x";
	size_t cl = 1, ml = 1;
	assert_int_equal(sign_cosign_manifest_build(l, n, &config, &cl, &manifest, &ml, &err), -1);
	assert_null(config);
	assert_null(manifest);
	assert_string_equal(err->msg, want);
	cc_error_free(&err);
}

static void test_build_refusals(void **state)
{
	struct sign_cosign_layer l[SIGN_COSIGN_LAYERS_MAX + 1];
	for (size_t i = 0; i < ARRAY_SIZE(l); i++)
		l[i] = layer(DIGEST, 10, "QQ==");
	expect_build_refused(l, 0, "cosign .sig manifest: 0 signatures, not 1 to 128");
	expect_build_refused(l, 129, "cosign .sig manifest: 129 signatures, not 1 to 128");
	l[1] = layer("sha256:ab", 10, "QQ==");
	expect_build_refused(l, 2,
			     "cosign .sig manifest: layer 1: \"sha256:ab\" is not a valid digest");
	l[1] = layer(NULL, 10, "QQ==");
	expect_build_refused(l, 2, "cosign .sig manifest: layer 1: no digest");
	l[1] = layer(DIGEST, -1, "QQ==");
	expect_build_refused(l, 2,
			     "cosign .sig manifest: layer 1: size -1 out of range [0, 4194304]");
	l[1] = layer(DIGEST, SIGN_COSIGN_PAYLOAD_MAX + 1, "QQ==");
	expect_build_refused(
	    l, 2, "cosign .sig manifest: layer 1: size 4194305 out of range [0, 4194304]");
	l[1] = layer(DIGEST, 10, "");
	expect_build_refused(l, 2, "cosign .sig manifest: layer 1: no signature");
	l[1] = layer(DIGEST, 10, NULL);
	expect_build_refused(l, 2, "cosign .sig manifest: layer 1: no signature");
	l[1] = layer(DIGEST, 10, "QQ==");
	l[1].has_certificate = true;
	expect_build_refused(l, 2,
			     "cosign .sig manifest: layer 1: it has a certificate, which cannot be "
			     "carried over");
	l[1].has_certificate = false;
	l[1].has_bundle = true;
	expect_build_refused(l, 2,
			     "cosign .sig manifest: layer 1: it has a bundle, which cannot be "
			     "carried over");
}

/* Pieces of .sig manifests (object-like, so that they concatenate with literals). */
#define SIG_MT "\"mediaType\":\"application/vnd.dev.cosign.simplesigning.v1+json\""
#define SIG_KEY "\"dev.cosignproject.cosign/signature\""
#define CERT_KEY "\"dev.sigstore.cosign/certificate\""
#define BUNDLE_KEY "\"dev.sigstore.cosign/bundle\""
#define OCI_CONFIG                                 \
	"\"config\":{\"mediaType\":\"application/" \
	"vnd.oci.image.config.v1+json\",\"digest\":\"" DIGEST "\",\"size\":100}"
/* A signature layer of DIGEST and size 1, with the signature QQ== and more. */
#define SIG_LAYER_WITH(annotations)                                                  \
	"{" SIG_MT ",\"digest\":\"" DIGEST "\",\"size\":1,\"annotations\":{" SIG_KEY \
	":\"QQ==\"" annotations "}}"

static void test_parse(void **state)
{
	/* what containers/image 5.23.1 pushed (reference/ocicrypt-signing.md §4.1), plus layers
	 * that are skipped: another media type, no signature annotation, no media type */
	static const char oci[] =
	    "{\"schemaVersion\":2,\"mediaType\":\"application/"
	    "vnd.oci.image.manifest.v1+json\"," OCI_CONFIG ",\"layers\":["
	    "{" SIG_MT ",\"digest\":\"sha256:" HEX_A "\",\"size\":292,"
	    "\"annotations\":{" SIG_KEY ":\"MEYCIQ==\"}},"
	    "{\"mediaType\":\"application/vnd.dsse.envelope.v1+json\",\"digest\":\"bogus\","
	    "\"size\":99999999,\"annotations\":{" SIG_KEY ":\"AAAA\"}},"
	    "{" SIG_MT ",\"digest\":\"sha256:" HEX_B "\",\"size\":1,"
	    "\"annotations\":{\"org.example\":\"x\"}},"
	    "{\"digest\":\"sha256:" HEX_B "\",\"size\":1},"
	    "{" SIG_MT ",\"digest\":\"sha256:" HEX_B "\",\"size\":0,\"annotations\":{" SIG_KEY
	    ":\"QUJD\"," CERT_KEY ":\"-----BEGIN CERTIFICATE-----\"," BUNDLE_KEY ":\"{}\"}}"
	    "],\"annotations\":{\"future\":\"ignored\"},\"subject\":{}}";
	struct sign_cosign_layer *l = NULL;
	size_t n = 0;
	struct cc_error *err = NULL;
	assert_int_equal(sign_cosign_manifest_parse("img.sig", oci, strlen(oci), &l, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(l[0].digest, "sha256:" HEX_A);
	assert_int_equal(l[0].size, 292);
	assert_string_equal(l[0].signature, "MEYCIQ==");
	assert_false(l[0].has_certificate);
	assert_false(l[0].has_bundle);
	assert_string_equal(l[1].digest, "sha256:" HEX_B);
	assert_int_equal(l[1].size, 0);
	assert_string_equal(l[1].signature, "QUJD");
	assert_true(l[1].has_certificate);
	assert_true(l[1].has_bundle);
	sign_cosign_layers_free(l, n);

	/* Docker schema 2 (cosign with COSIGN_DOCKER_MEDIA_TYPES), and no mediaType at all */
	static const char docker[] =
	    "{\"schemaVersion\":2,"
	    "\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\","
	    "\"config\":{\"mediaType\":\"application/vnd.docker.container.image.v1+json\","
	    "\"digest\":\"" DIGEST "\",\"size\":233},\"layers\":["
	    "{" SIG_MT ",\"digest\":\"sha256:" HEX_A "\",\"size\":4194304,"
	    "\"annotations\":{" SIG_KEY ":\"QQ==\"," BUNDLE_KEY ":\"{}\"}}]}";
	assert_int_equal(
	    sign_cosign_manifest_parse("img.sig", docker, strlen(docker), &l, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(l[0].size, 4194304);
	assert_false(l[0].has_certificate);
	assert_true(l[0].has_bundle);
	sign_cosign_layers_free(l, n);
	static const char bare[] = "{\"schemaVersion\":2,\"config\":{},\"layers\":[]}";
	l = (struct sign_cosign_layer *)1;
	assert_int_equal(sign_cosign_manifest_parse("img.sig", bare, strlen(bare), &l, &n, &err),
			 0);
	assert_int_equal(n, 0);
	assert_null(l);
	sign_cosign_layers_free(l, n);
}

static void expect_parse_refused(const char *body, size_t len, const char *want, bool exact)
{
	struct sign_cosign_layer *l = (struct sign_cosign_layer *)1;
	size_t n = 7;
	struct cc_error *err = NULL;
	assert_int_equal(sign_cosign_manifest_parse("img.sig", body, len, &l, &n, &err), -1);
	assert_null(l);
	assert_int_equal(n, 0);
	assert_non_null(err);
	if (exact)
		assert_string_equal(err->msg, want);
	else if (!strstr(err->msg, want))
		fail_msg("got \"%s\", want \"%s\"", err->msg, want);
	cc_error_free(&err);
}

static void test_parse_refusals(void **state)
{
	/* whole manifests */
	static const struct {
		const char *body, *want;
	} docs[] = {
		{ "[]", "img.sig: expected object, got array" },
		{ "{\"config\":{},\"layers\":[]}", "img.sig: schemaVersion: required" },
		{ "{\"schemaVersion\":1,\"config\":{},\"layers\":[]}",
		  "img.sig: schemaVersion: 1, not 2" },
		{ "{\"schemaVersion\":\"2\",\"config\":{},\"layers\":[]}",
		  "img.sig: schemaVersion: expected integer, got string" },
		{ "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\","
		  "\"config\":{},\"layers\":[]}",
		  "img.sig: mediaType: \"application/vnd.oci.image.index.v1+json\" is not an image "
		  "manifest" },
		{ "{\"schemaVersion\":2,\"mediaType\":[],\"config\":{},\"layers\":[]}",
		  "img.sig: mediaType: expected string, got array" },
		{ "{\"schemaVersion\":2,\"layers\":[]}", "img.sig: config: required" },
		{ "{\"schemaVersion\":2,\"config\":\"x\",\"layers\":[]}",
		  "img.sig: config: expected object, got string" },
		{ "{\"schemaVersion\":2,\"config\":{}}", "img.sig: layers: required" },
		{ "{\"schemaVersion\":2,\"config\":{},\"layers\":{}}",
		  "img.sig: layers: expected array, got object" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(docs); i++)
		expect_parse_refused(docs[i].body, strlen(docs[i].body), docs[i].want, true);

	/* the layers of an otherwise good OCI manifest */
	static const struct {
		const char *layers, *want;
	} cases[] = {
		{ "\"x\"", "img.sig: layers[0]: expected object, got string" },
		{ "{\"mediaType\":5}",
		  "img.sig: layers[0].mediaType: expected string, got integer" },
		{ "{" SIG_MT ",\"annotations\":[]}",
		  "img.sig: layers[0].annotations: expected object, got array" },
		{ "{" SIG_MT ",\"annotations\":{" SIG_KEY ":1}}",
		  "img.sig: layers[0].annotations.dev.cosignproject.cosign/signature: expected "
		  "string, got integer" },
		{ "{" SIG_MT ",\"annotations\":{" SIG_KEY ":\"a\\u0000\"}}",
		  "img.sig: layers[0].annotations.dev.cosignproject.cosign/signature: contains a "
		  "NUL byte" },
		{ SIG_LAYER_WITH("," CERT_KEY ":true"),
		  "img.sig: layers[0].annotations.dev.sigstore.cosign/certificate: expected "
		  "string, "
		  "got boolean" },
		{ SIG_LAYER_WITH("," BUNDLE_KEY ":{}"),
		  "img.sig: layers[0].annotations.dev.sigstore.cosign/bundle: expected string, got "
		  "object" },
		{ "{" SIG_MT ",\"size\":1,\"annotations\":{" SIG_KEY ":\"QQ==\"}}",
		  "img.sig: layers[0].digest: required" },
		{ "{" SIG_MT ",\"digest\":\"sha256:XYZ\",\"size\":1,\"annotations\":{" SIG_KEY
		  ":\"QQ==\"}}",
		  "img.sig: layers[0].digest: \"sha256:XYZ\" is not a valid digest" },
		{ "{" SIG_MT ",\"digest\":\"sha256:\\u0001\",\"size\":1,\"annotations\":{" SIG_KEY
		  ":\"QQ==\"}}",
		  "img.sig: layers[0].digest: \"sha256:\\x01\" is not a valid digest" },
		{ "{" SIG_MT ",\"digest\":\"" DIGEST "\",\"annotations\":{" SIG_KEY ":\"QQ==\"}}",
		  "img.sig: layers[0].size: required" },
		{ "{" SIG_MT ",\"digest\":\"" DIGEST "\",\"size\":-1,\"annotations\":{" SIG_KEY
		  ":\"QQ==\"}}",
		  "img.sig: layers[0].size: -1 out of range [0, 4194304]" },
		{ "{" SIG_MT ",\"digest\":\"" DIGEST "\",\"size\":4194305,\"annotations\":{" SIG_KEY
		  ":\"QQ==\"}}",
		  "img.sig: layers[0].size: 4194305 out of range [0, 4194304]" },
		{ "{" SIG_MT ",\"digest\":\"" DIGEST "\",\"size\":1.5,\"annotations\":{" SIG_KEY
		  ":\"QQ==\"}}",
		  "img.sig: layers[0].size: expected integer, got number" },
		{ SIG_LAYER_WITH("") "," SIG_LAYER_WITH("") ",7",
		  "img.sig: layers[2]: expected object, got integer" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		_cleanup_free_ char *body = xasprintf("{\"schemaVersion\":2,%s,\"layers\":[%s]}",
						      OCI_CONFIG, cases[i].layers);
		expect_parse_refused(body, strlen(body), cases[i].want, true);
	}

	/* not JSON, a duplicate key: jansson's words after the name and place */
	expect_parse_refused("", 0, "img.sig: line 1 column 0: ", false);
	expect_parse_refused("{\"schemaVersion\":2,\"schemaVersion\":2}", 38,
			     "img.sig: line 1 column 34: duplicate object key", false);
	/* jansson quotes the input near the error as it is: escaped, still one line */
	expect_parse_refused("{\"a\":\"x\\\n\"}", 9,
			     "img.sig: line 2 column 0: invalid escape near '\"x\\x5c\\x0a'", true);

	/* too many layers: counted before any is read */
	json_t *ls = json_array();
	for (int i = 0; i <= SIGN_COSIGN_LAYERS_MAX; i++)
		json_array_append_new(ls, json_string("not even an object"));
	json_t *m = json_pack("{s:i, s:{}, s:o}", "schemaVersion", 2, "config", "layers", ls);
	_cleanup_free_ char *many = json_dumps(m, JSON_COMPACT);
	json_decref(m);
	expect_parse_refused(many, strlen(many), "img.sig: layers: 129 entries, more than 128",
			     true);

	/* too big: refused before parsing */
	size_t big = (4u << 20) + 1;
	char *huge = xmalloc(big);
	memset(huge, ' ', big);
	expect_parse_refused(huge, big, "img.sig: 4194305 bytes, more than 4194304", true);
	free(huge);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tag),
		cmocka_unit_test(test_sign_verify),
		cmocka_unit_test(test_openssl_vectors),
		cmocka_unit_test(test_openssl_verifies_ours),
		cmocka_unit_test(test_tampered),
		cmocka_unit_test(test_bad_base64),
		cmocka_unit_test(test_key_types),
		cmocka_unit_test(test_key_encrypted),
		cmocka_unit_test(test_key_malformed),
		cmocka_unit_test(test_build),
		cmocka_unit_test(test_build_refusals),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
