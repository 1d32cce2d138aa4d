// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for lib/attest's RA-TLS certificates (ratls.h) and the bounded CBOR under them
 * (cbor.h). The five real certificates of data/attest verify at a fixed time to the facts
 * SOURCES.md records for them (quote and key hashes, report_data bindings, MRENCLAVE, MRSIGNER,
 * DEBUG, validity); mutated ones fail at their step with their exact message: a flipped bit in
 * the claims, in a quote, in the signature, another key (swapped in, or the evidence
 * transplanted into a certificate of a fresh key), truncated or lying CBOR, the wrong time.
 * Certificates made here carry simulated evidence produced for real by the skeleton PAL
 * (dlopened from TEST_SKELETON_V3) and signed with a temporary simulated attestation key: they
 * verify only when simulated evidence is allowed, and only when their report_data binds their
 * claims. Expected bytes (claims, tags) are written out here, not taken from the library.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <dlfcn.h>
#include <errno.h>
#include <libgen.h>
#include <signal.h>
#include <unistd.h>
#include <cmocka.h>
#include "attest-helpers.h"
#include "attest-skeleton.h"
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include "attest/appraise.h"
#include "attest/cbor.h"
#include "attest/evidence.h"
#include "attest/ratls.h"
#include "enclave/pal_api.h"
#include "util/cleanup.h"
#include "util/fs.h"

#define GRAMINE "gramine-cert.pem"
#define SGXSDK "intel-sgxsdk-cert.pem"
#define RATS_TLS "rats-tls-cert.pem"
#define RATS_SAMPLE "rats-tls-cert-sample.pem"
#define RATS_OPENSSL "rats-tls-cert-openssl-sample.pem"
/* 2024-01-01T00:00:00Z: every certificate here and every PCK chain in them is valid then. */
#define JAN_2024 1704067200
#define G_SPKI "72c0b70c2092741a4cfda0c2465487faf132998617b0aad53118aa5d6e180006"
#define G_CLAIMS_SHA "3ef61b935603341747b96c602397da1c4761afe4eeed2cdc08cbf5f4ff61c533"
#define E_SPKI "5a5a5b2d177433048e9d62409d1acc4ec526c06e294d09e69a36cff9369e4851"
#define ZERO32 "0000000000000000000000000000000000000000000000000000000000000000"
#define REFUSED                                                                             \
	"evidence: simulated evidence (SIMTEE01) is not accepted; allow it explicitly for " \
	"tests and development"
#define TCG "RA-TLS certificate: extension 2.23.133.5.4.9: "

/* extnID contents (SOURCES.md §E to §H, attestation.md §3.4). */
static const uint8_t oid_tcg[] = { 0x67, 0x81, 0x05, 0x05, 0x04, 0x09 };
static const uint8_t oid_legacy[] = { 0x2a, 0x86, 0x48, 0x86, 0xf8, 0x4d, 0x8a, 0x39, 0x06 };
static const uint8_t oid_gramine[] = { 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
				       0xf8, 0x4d, 0x8a, 0x39, 0x06 };
static const uint8_t oid_sdk[] = { 0x2a, 0x86, 0x48, 0x86, 0xf8, 0x4d, 0x01, 0x0d, 0x01 };

static char tmpdir[64];
static struct attest_sim_key *sim_key; /* tmpdir/sim.pem */

/* ---- helpers ---- */

#define assert_hex(bytes, len, want)                       \
	do {                                               \
		_cleanup_free_ char *_h = hex(bytes, len); \
		assert_string_equal(_h, want);             \
	} while (0)

static void sha256(const void *data, size_t len, uint8_t out[32])
{
	size_t n = 0;
	assert_int_equal(EVP_Q_digest(NULL, "SHA256", NULL, data, len, out, &n), 1);
	assert_int_equal(n, 32);
}

static char *sha256_hex(const void *data, size_t len)
{
	uint8_t md[32];
	sha256(data, len, md);
	return hex(md, 32);
}

static struct attest_evidence_opts opts_at(time_t now)
{
	struct attest_evidence_opts o = { .quote = { .now = now } };
	return o;
}

static X509 *load_cert(const char *name)
{
	_cleanup_bytes_ struct bytes b = read_data(name);
	BIO *bio = BIO_new_mem_buf(b.p, (int)b.len);
	X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	assert_non_null(x);
	return x;
}

static struct bytes der_of(X509 *x)
{
	struct bytes b = { NULL, 0 };
	unsigned char *der = NULL;
	int n = i2d_X509(x, &der);
	assert_true(n > 0);
	b.p = xmalloc((size_t)n);
	memcpy(b.p, der, (size_t)n);
	b.len = (size_t)n;
	OPENSSL_free(der);
	return b;
}

/* SHA-256 of the DER SubjectPublicKeyInfo of key, in hex. */
static char *spki_hex(EVP_PKEY *key)
{
	unsigned char *der = NULL;
	int n = i2d_PUBKEY(key, &der);
	assert_true(n > 0);
	char *h = sha256_hex(der, (size_t)n);
	OPENSSL_free(der);
	return h;
}

/* Verify x at now (simulated evidence refused), expecting the message want. */
static void expect_cert_err(X509 *x, time_t now, const char *want)
{
	struct attest_evidence_opts o = opts_at(now);
	struct attest_ratls_result r;
	struct cc_error *err = NULL;
	assert_int_equal(attest_ratls_verify_cert(x, &o, &r, &err), -1);
	attest_ratls_result_clear(&r);
	expect_err(&err, want);
}

static void expect_bytes_err(const void *p, size_t len, time_t now, const char *want)
{
	struct attest_evidence_opts o = opts_at(now);
	struct attest_ratls_result r;
	struct cc_error *err = NULL;
	assert_int_equal(attest_ratls_verify(p, len, &o, &r, &err), -1);
	attest_ratls_result_clear(&r);
	expect_err(&err, want);
}

/* ---- certificates made by hand: extensions copied, changed, signed by another key ---- */

/* The value of x's extension whose extnID contents are oid, copied (len 0 when absent). */
static struct bytes ext_value(X509 *x, const uint8_t *oid, size_t oid_len)
{
	struct bytes b = { NULL, 0 };
	for (int i = 0; i < X509_get_ext_count(x); i++) {
		X509_EXTENSION *e = X509_get_ext(x, i);
		const ASN1_OBJECT *o = X509_EXTENSION_get_object(e);
		if ((size_t)OBJ_length(o) != oid_len || memcmp(OBJ_get0_data(o), oid, oid_len))
			continue;
		const ASN1_OCTET_STRING *v = X509_EXTENSION_get_data(e);
		b.len = (size_t)ASN1_STRING_length(v);
		b.p = xmalloc(b.len);
		memcpy(b.p, ASN1_STRING_get0_data(v), b.len);
	}
	return b;
}

/* An extension with extnID contents oid (any bytes, as Gramine's) and value. */
static X509_EXTENSION *make_ext(const uint8_t *oid, size_t oid_len, const void *value, size_t len)
{
	uint8_t der[32] = { 0x06, (uint8_t)oid_len };
	assert_true(oid_len + 2 <= sizeof(der));
	memcpy(der + 2, oid, oid_len);
	const unsigned char *p = der;
	ASN1_OBJECT *obj = d2i_ASN1_OBJECT(NULL, &p, (long)oid_len + 2);
	ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
	assert_non_null(obj);
	assert_int_equal(ASN1_OCTET_STRING_set(os, value, (int)len), 1);
	X509_EXTENSION *e = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, os);
	assert_non_null(e);
	ASN1_OBJECT_free(obj);
	ASN1_OCTET_STRING_free(os);
	return e;
}

/* A certificate of key, signed by it (ecdsa-with-SHA256), CN "hand-made", valid 2020 to 2040,
 * with the extensions given (freed here). */
static X509 *hand_made(EVP_PKEY *key, X509_EXTENSION **exts, size_t n)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	assert_non_null(x);
	assert_int_equal(X509_set_version(x, X509_VERSION_3), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), 7), 1);
	assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
						    (const unsigned char *)"hand-made", -1, -1, 0),
			 1);
	assert_int_equal(X509_set_subject_name(x, name), 1);
	assert_int_equal(X509_set_issuer_name(x, name), 1);
	X509_NAME_free(name);
	assert_non_null(ASN1_TIME_set(X509_getm_notBefore(x), 1577836800)); /* 2020-01-01 */
	assert_non_null(ASN1_TIME_set(X509_getm_notAfter(x), 2208988800));  /* 2040-01-01 */
	assert_int_equal(X509_set_pubkey(x, key), 1);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(X509_add_ext(x, exts[i], -1), 1);
		X509_EXTENSION_free(exts[i]);
	}
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	return x;
}

/* A certificate of a fresh key carrying one TCG extension of value. */
static X509 *with_tcg_value(const void *value, size_t len, EVP_PKEY **key_out)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	assert_non_null(key);
	X509_EXTENSION *e = make_ext(oid_tcg, sizeof(oid_tcg), value, len);
	X509 *x = hand_made(key, &e, 1);
	if (key_out)
		*key_out = key;
	else
		EVP_PKEY_free(key);
	return x;
}

/* ---- the real certificates ---- */

struct real_ext {
	enum attest_ratls_format format;
	enum attest_ratls_binding binding;
	bool gramine_oid;
	const char *quote_sha256;
	const char *report_data; /* [0:32]; [32:64] is zero */
};

struct real_cert {
	const char *file;
	struct real_ext ext[2];
	size_t n_ext;
	const char *spki_sha256;
	const char *mrenclave, *mrsigner;
	uint64_t flags;
	bool debug;
	const char *not_before, *not_after;
	bool sha1;
};

static const struct real_cert reals[] = {
	{
	    .file = GRAMINE,
	    .ext = { { ATTEST_RATLS_LEGACY_QUOTE, ATTEST_RATLS_BIND_SPKI, true,
		       "b8a62c5b2592816e0a5a9339af032024057bed817b6c0a6b85e8404f04d04749", E_SPKI },
		     { ATTEST_RATLS_TCG_QUOTE, ATTEST_RATLS_BIND_CLAIMS, false,
		       "5cfdb51d1d4394645fce76a0aa706df6e3bfd8f1a1a3b1ccb918019955311500",
		       "d8673446fe0f6842d4af0d182c8751d7e967039116deff5f85a43b2ca90c2831" } },
	    .n_ext = 2,
	    .spki_sha256 = E_SPKI,
	    .mrenclave = "0866e7ca11b9f4efe4bf39b2607f4e1299f111920d96d95719080f01b62b7585",
	    .mrsigner = "adc53501f21ced9b998e37a7a18e061c63e00315045fa57a49c18ef0a30d02ca",
	    .flags = 0x7,
	    .debug = true,
	    .not_before = "2001-01-01T00:00:00Z",
	    .not_after = "2030-12-31T23:59:59Z",
	},
	{
	    .file = SGXSDK,
	    /* Both extensions carry the same quote. */
	    .ext = { { ATTEST_RATLS_SGX_SDK_QUOTE, ATTEST_RATLS_BIND_CLAIMS, false,
		       "b7a497862ef279e3311dca3fed14f7fa45e622a4f81301af09322a1ba6b9d78f",
		       "e551b081d5079ad7565b5f20a45f276c2f5a6152c1802c0688e15a02e87a74c9" },
		     { ATTEST_RATLS_TCG_QUOTE, ATTEST_RATLS_BIND_CLAIMS, false,
		       "b7a497862ef279e3311dca3fed14f7fa45e622a4f81301af09322a1ba6b9d78f",
		       "e551b081d5079ad7565b5f20a45f276c2f5a6152c1802c0688e15a02e87a74c9" } },
	    .n_ext = 2,
	    .spki_sha256 = "f306ed602985371e3b485102db1fcdd4f4738329ce58b2f8d1c5d2cc79752026",
	    .mrenclave = "09e218a4be9dadbf7cdc82c45497d6d4f676d3b75445fc37a376f0b65b47de6a",
	    .mrsigner = "e0c86c51e05ad8592673db348155bddf4bcad6131a5205ce4265c0d795803ba2",
	    .flags = 0x7,
	    .debug = true,
	    .not_before = "2021-04-01T00:00:00Z",
	    .not_after = "2050-12-31T23:59:59Z",
	},
	{
	    .file = RATS_TLS,
	    .ext = { { ATTEST_RATLS_TCG_QUOTE, ATTEST_RATLS_BIND_CLAIMS, false,
		       "45ec124b7169b803dcdc270a23f15e1d6add0d21c9e96128ae536e54e2bd195f",
		       G_CLAIMS_SHA } },
	    .n_ext = 1,
	    .spki_sha256 = G_SPKI,
	    .mrenclave = "38e1b40b8c68186f359c97ecb6a89965d9d8638f2df06fbe18e84d79a266c041",
	    .mrsigner = "83d719e77deaca1470f6baf62a4d774303c899db69020f9c70ee1dfc08c7ce9e",
	    .flags = 0x7,
	    .debug = true,
	    .not_before = "2023-02-22T16:10:22Z",
	    .not_after = "2024-02-22T17:10:22Z",
	},
	{
	    .file = RATS_SAMPLE,
	    .ext = { { ATTEST_RATLS_LEGACY_QUOTE, ATTEST_RATLS_BIND_RSA_PKCS1, false,
		       "46f71613399ad7c6607da4210dde9d9b73f2dec590626fdecb71c66f23e58024",
		       "8e5b3b07972faea047621a80219b8cd17e0133ea54a1af3a5983429d4eabcae0" } },
	    .n_ext = 1,
	    .mrenclave = "144e81488fc3d59ddbe69b03bd939a3b938d85b6a7c9897e2b09808ade956574",
	    .mrsigner = "83d719e77deaca1470f6baf62a4d774303c899db69020f9c70ee1dfc08c7ce9e",
	    .flags = 0x5,
	    .not_before = "2020-01-14T09:00:00Z",
	    .not_after = "2030-01-14T09:00:00Z",
	    .sha1 = true,
	},
	{
	    .file = RATS_OPENSSL,
	    .ext = { { ATTEST_RATLS_LEGACY_QUOTE, ATTEST_RATLS_BIND_RSA_PKCS1, false,
		       "d72dfe8b806c89920a4e8c1957cd10d65cd9f76407e982cf76f829ebd4358b0e",
		       "f732b931b231d5f39a4cebf5547f8be5839afc7120965e66bdfee992934693df" } },
	    .n_ext = 1,
	    .mrenclave = "d74f2eb87fa3c64c40d16e35a6f8d3259e3dd931a0bcce0637e33ada67df0b52",
	    .mrsigner = "83d719e77deaca1470f6baf62a4d774303c899db69020f9c70ee1dfc08c7ce9e",
	    .flags = 0x5,
	    .not_before = "2021-06-19T01:51:59Z",
	    .not_after = "2031-06-17T01:51:59Z",
	},
};

/* "YYYY-MM-DDThh:mm:ssZ" as time_t. */
static time_t when(const char *iso)
{
	struct tm tm = { 0 };
	assert_int_equal(sscanf(iso, "%4d-%2d-%2dT%2d:%2d:%2dZ", &tm.tm_year, &tm.tm_mon,
				&tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec),
			 6);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return timegm(&tm);
}

static void check_real_ext(const struct real_cert *c, size_t i, const struct attest_ratls_ext *e)
{
	const struct real_ext *want = &c->ext[i];
	assert_int_equal(e->format, want->format);
	assert_int_equal(e->binding, want->binding);
	assert_int_equal(e->gramine_oid, want->gramine_oid);
	assert_false(e->critical);
	assert_hex(e->evidence_sha256, 32, want->quote_sha256);
	assert_int_equal(e->evidence.kind, ATTEST_EVIDENCE_SGX_QUOTE);
	assert_false(e->evidence.simulated);
	assert_int_equal(e->evidence.version, 3);
	assert_int_equal(e->evidence.verdict.tcb_status, ATTEST_TCB_UNKNOWN);
	assert_hex(e->evidence.enclave.mrenclave, 32, c->mrenclave);
	assert_hex(e->evidence.enclave.mrsigner, 32, c->mrsigner);
	assert_int_equal(e->evidence.enclave.isvprodid, 0);
	assert_int_equal(e->evidence.enclave.isvsvn, 0);
	assert_int_equal(e->evidence.enclave.flags, c->flags);
	assert_int_equal(e->evidence.debug, c->debug);
	assert_hex(e->evidence.enclave.report_data, 32, want->report_data);
	assert_hex(e->evidence.enclave.report_data + 32, 32, ZERO32);
}

static void check_real(const struct real_cert *c, const struct attest_ratls_result *r)
{
	assert_int_equal(r->n_ext, c->n_ext);
	for (size_t i = 0; i < c->n_ext; i++)
		check_real_ext(c, i, &r->ext[i]);
	assert_false(r->simulated);
	assert_int_equal(r->debug, c->debug);
	if (c->spki_sha256)
		assert_hex(r->spki_sha256, 32, c->spki_sha256);
	assert_int_equal(r->not_before, when(c->not_before));
	assert_int_equal(r->not_after, when(c->not_after));
	assert_int_equal(r->weak_signature, c->sha1);
	assert_true(c->sha1 ? r->signature_bits < 80 : r->signature_bits >= 128);
	bool tcg = c->ext[c->n_ext - 1].format == ATTEST_RATLS_TCG_QUOTE;
	assert_int_equal(r->has_claims, tcg);
	assert_int_equal(r->pubkey_hash_alg, tcg ? ATTEST_RATLS_HASH_SHA256 : 0);
}

static void test_real_certs(void **state)
{
	struct attest_evidence_opts o = opts_at(JAN_2024);
	struct cc_error *err = NULL;
	for (size_t i = 0; i < ARRAY_SIZE(reals); i++) {
		const struct real_cert *c = &reals[i];
		struct attest_ratls_result r;
		_cleanup_bytes_ struct bytes pem = read_data(c->file);
		print_message("# %s\n", c->file);
		ok(attest_ratls_verify(pem.p, pem.len, &o, &r, &err), &err);
		check_real(c, &r);
		attest_ratls_result_clear(&r);

		/* The same as DER, and through an X509. */
		X509 *x = load_cert(c->file);
		_cleanup_bytes_ struct bytes der = der_of(x);
		ok(attest_ratls_verify(der.p, der.len, &o, &r, &err), &err);
		check_real(c, &r);
		attest_ratls_result_clear(&r);
		ok(attest_ratls_verify_cert(x, &o, &r, &err), &err);
		check_real(c, &r);
		attest_ratls_result_clear(&r);
		X509_free(x);
	}
}

/* The RSA certificates' keys: the binding is SHA-256 of the BIT STRING's contents (PKCS#1),
 * not of the SPKI; checked here against OpenSSL's own PKCS#1 encoding. */
static void test_rsa_binding(void **state)
{
	X509 *x = load_cert(RATS_SAMPLE);
	unsigned char *pkcs1 = NULL;
	int n = i2d_PublicKey(X509_get0_pubkey(x), &pkcs1);
	assert_true(n > 0);
	_cleanup_free_ char *h = sha256_hex(pkcs1, (size_t)n);
	assert_string_equal(h, reals[3].ext[0].report_data);
	_cleanup_free_ char *spki = spki_hex(X509_get0_pubkey(x));
	assert_string_not_equal(spki, reals[3].ext[0].report_data);
	OPENSSL_free(pkcs1);
	X509_free(x);
}

static void test_custom_claims(void **state)
{
	struct attest_evidence_opts o = opts_at(JAN_2024);
	struct attest_ratls_result r;
	struct cc_error *err = NULL;
	_cleanup_bytes_ struct bytes pem = read_data(RATS_TLS);
	ok(attest_ratls_verify(pem.p, pem.len, &o, &r, &err), &err);
	/* {"pubkey-hash": ..., "key_0": "value_0\0", "key_1": "value_1\0"}: values with the NUL */
	assert_int_equal(r.n_claims, 2);
	assert_string_equal(r.claims[0].name, "key_0");
	assert_int_equal(r.claims[0].len, 8);
	assert_memory_equal(r.claims[0].value, "value_0", 8);
	assert_string_equal(r.claims[1].name, "key_1");
	assert_int_equal(r.claims[1].len, 8);
	assert_memory_equal(r.claims[1].value, "value_1", 8);
	attest_ratls_result_clear(&r);

	/* Gramine's and the SGX SDK's claims are pubkey-hash alone. */
	_cleanup_bytes_ struct bytes e = read_data(GRAMINE);
	ok(attest_ratls_verify(e.p, e.len, &o, &r, &err), &err);
	assert_true(r.has_claims);
	assert_int_equal(r.n_claims, 0);
	attest_ratls_result_clear(&r);
}

/* Policy through every extension: E's two quotes are of a debug enclave. */
static void test_appraise(void **state)
{
	struct attest_evidence_opts o = opts_at(JAN_2024);
	struct attest_ratls_result r;
	struct attest_policy p;
	struct cc_error *err = NULL;
	_cleanup_bytes_ struct bytes pem = read_data(GRAMINE);
	ok(attest_ratls_verify(pem.p, pem.len, &o, &r, &err), &err);
	attest_policy_init(&p);
	assert_int_equal(attest_ratls_appraise(&p, &r, &err), -1);
	expect_err(&err, "RA-TLS certificate: extension 1.2.840.113741.1337.6: appraisal: debug "
			 "enclave refused (attributes.flags DEBUG set)");
	static const char json[] = "{\"enclave\":{\"mrenclave\":[\"0866e7ca11b9f4efe4bf39b2607f4e12"
				   "99f111920d96d95719080f01b62b7585\"],\"allow_debug\":true},"
				   "\"tcb\":{\"allow_unknown\":true}}";
	ok(attest_policy_parse(json, strlen(json), &p, &err), &err);
	ok(attest_ratls_appraise(&p, &r, &err), &err);
	p.mrenclave[0][0] ^= 1;
	assert_int_equal(attest_ratls_appraise(&p, &r, &err), -1);
	expect_prefix(&err, "RA-TLS certificate: extension 1.2.840.113741.1337.6: appraisal: "
			    "MRENCLAVE 0866e7ca");
	attest_ratls_result_clear(&r);
	assert_int_equal(attest_ratls_appraise(&p, &r, &err), -1);
	expect_err(&err, "RA-TLS certificate: no verified evidence to appraise");
}

/* ---- forms of the input ---- */

static void test_forms(void **state)
{
	struct attest_evidence_opts o = opts_at(JAN_2024);
	struct attest_ratls_result r;
	struct cc_error *err = NULL;
	_cleanup_bytes_ struct bytes pem = read_data(RATS_TLS);

	/* Whitespace before, whitespace and a NUL after: accepted. */
	_cleanup_free_ uint8_t *padded = xmalloc(pem.len + 8);
	memcpy(padded, "\n \t", 3);
	memcpy(padded + 3, pem.p, pem.len);
	memcpy(padded + 3 + pem.len, "\r\n\0\0\n", 5);
	ok(attest_ratls_verify(padded, pem.len + 8, &o, &r, &err), &err);
	attest_ratls_result_clear(&r);

	/* Anything else after the END line: refused. */
	padded[3 + pem.len + 2] = 'x';
	_cleanup_free_ char *want =
	    xasprintf("RA-TLS certificate: PEM: offset %zu: only whitespace "
		      "or NUL bytes may follow the certificate",
		      pem.len + 5);
	expect_bytes_err(padded, pem.len + 8, JAN_2024, want);

	/* No END line, a broken base64 body, another PEM label. */
	expect_bytes_err(pem.p, pem.len - 10, JAN_2024,
			 "RA-TLS certificate: PEM: no \"-----END CERTIFICATE-----\"");
	_cleanup_free_ uint8_t *broken = xmalloc(pem.len);
	memcpy(broken, pem.p, pem.len);
	broken[100] = '*';
	expect_bytes_err(broken, pem.len, JAN_2024,
			 "RA-TLS certificate: PEM: not a base64 CERTIFICATE block");

	/* DER: with a byte after it, or not a certificate at all. */
	X509 *x = load_cert(RATS_TLS);
	_cleanup_bytes_ struct bytes der = der_of(x);
	X509_free(x);
	der.p = xrealloc(der.p, der.len + 1);
	der.p[der.len] = 0;
	expect_bytes_err(der.p, der.len + 1, JAN_2024,
			 "RA-TLS certificate: 1 byte after the DER certificate");
	expect_bytes_err("hello", 5, JAN_2024,
			 "RA-TLS certificate: not an X.509 certificate (DER or PEM)");
	expect_bytes_err("", 0, JAN_2024,
			 "RA-TLS certificate: not an X.509 certificate (DER or PEM)");

	/* A certificate OpenSSL holds, over 64 KiB of DER. */
	EVP_PKEY *key = EVP_EC_gen("P-256");
	assert_non_null(key);
	_cleanup_free_ uint8_t *filler = xzalloc(70000);
	X509_EXTENSION *e = make_ext((const uint8_t *)"\x2a\x03", 2, filler, 70000);
	X509 *huge = hand_made(key, &e, 1);
	_cleanup_free_ char *huge_want = xasprintf("RA-TLS certificate: %d bytes of DER, more than "
						   "65536",
						   i2d_X509(huge, NULL));
	expect_cert_err(huge, JAN_2024, huge_want);
	X509_free(huge);
	EVP_PKEY_free(key);

	/* Bounds: the input, and DER. */
	_cleanup_free_ uint8_t *big = xzalloc(ATTEST_RATLS_INPUT_MAX + 1);
	expect_bytes_err(big, ATTEST_RATLS_INPUT_MAX + 1, JAN_2024,
			 "RA-TLS certificate: 131073 bytes, more than 131072");
	expect_bytes_err(big, ATTEST_RATLS_CERT_MAX + 1, JAN_2024,
			 "RA-TLS certificate: 65537 bytes of DER, more than 65536");
}

/* ---- time ---- */

static void test_validity(void **state)
{
	X509 *g = load_cert(RATS_TLS);
	/* Expired now (SOURCES §G); at notAfter itself too; valid one second before. */
	expect_cert_err(g, time(NULL), "RA-TLS certificate: expired at 2024-02-22T17:10:22Z");
	time_t end = when("2024-02-22T17:10:22Z");
	expect_cert_err(g, end, "RA-TLS certificate: expired at 2024-02-22T17:10:22Z");
	struct attest_evidence_opts o = opts_at(end - 1);
	struct attest_ratls_result r;
	struct cc_error *err = NULL;
	ok(attest_ratls_verify_cert(g, &o, &r, &err), &err);
	attest_ratls_result_clear(&r);
	expect_cert_err(g, when("2023-02-22T16:10:21Z"),
			"RA-TLS certificate: not valid before 2023-02-22T16:10:22Z");
	X509_free(g);

	/* Valid but its quote's PCK chain is not yet: the quote's step says so. */
	X509 *e = load_cert(GRAMINE);
	expect_cert_err(e, when("2010-01-01T00:00:00Z"),
			"RA-TLS certificate: extension 1.2.840.113741.1337.6: quote: PCK chain: "
			"certificate 1 (Intel SGX PCK Certificate) is not valid before "
			"2022-11-26T15:49:19Z");
	X509_free(e);
}

/* ---- the signature and the key ---- */

static void test_signature(void **state)
{
	/* A flipped bit in the signature's last byte. */
	X509 *g = load_cert(RATS_TLS);
	_cleanup_bytes_ struct bytes der = der_of(g);
	X509_free(g);
	der.p[der.len - 1] ^= 0x01;
	expect_bytes_err(der.p, der.len, JAN_2024,
			 "RA-TLS certificate: self-signature does not verify with the "
			 "certificate's key");

	/* The other RSA sample's SubjectPublicKeyInfo (as long) swapped in, byte for byte, the
	 * signature left as it was. */
	X509 *a = load_cert(RATS_OPENSSL), *b = load_cert(RATS_SAMPLE);
	_cleanup_bytes_ struct bytes swapped = der_of(a);
	unsigned char *spki_a = NULL, *spki_b = NULL;
	int na = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(a), &spki_a);
	int nb = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(b), &spki_b);
	assert_true(na == 422 && nb == 422);
	uint8_t *at = memmem(swapped.p, swapped.len, spki_a, (size_t)na);
	assert_non_null(at);
	memcpy(at, spki_b, (size_t)nb);
	OPENSSL_free(spki_a);
	OPENSSL_free(spki_b);
	X509_free(a);
	X509_free(b);
	expect_bytes_err(swapped.p, swapped.len, JAN_2024,
			 "RA-TLS certificate: self-signature does not verify with the "
			 "certificate's key");
}

/* A key of an algorithm OpenSSL does not know (G's id-ecPublicKey OID changed in its last
 * byte): nothing can be checked with it. */
static void test_unknown_key(void **state)
{
	X509 *g = load_cert(RATS_TLS);
	_cleanup_bytes_ struct bytes der = der_of(g);
	X509_free(g);
	static const uint8_t ec_public_key[] = { 0x06, 0x07, 0x2a, 0x86, 0x48,
						 0xce, 0x3d, 0x02, 0x01 };
	uint8_t *at = memmem(der.p, der.len, ec_public_key, sizeof(ec_public_key));
	assert_non_null(at);
	at[sizeof(ec_public_key) - 1] = 0x09;
	expect_bytes_err(der.p, der.len, JAN_2024,
			 "RA-TLS certificate: its public key is not readable");
}

/* The evidence extensions of a real certificate in a certificate of a fresh key: every quote
 * still verifies, but it is not bound to this key. */
static void test_transplant(void **state)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	assert_non_null(key);
	_cleanup_free_ char *spki = spki_hex(key);

	/* G: the claims still bind, pubkey-hash names another key. */
	X509 *g = load_cert(RATS_TLS);
	_cleanup_bytes_ struct bytes gv = ext_value(g, oid_tcg, sizeof(oid_tcg));
	X509_EXTENSION *e1 = make_ext(oid_tcg, sizeof(oid_tcg), gv.p, gv.len);
	X509 *x = hand_made(key, &e1, 1);
	_cleanup_free_ char *want =
	    xasprintf(TCG "pubkey-hash does not match the certificate's key "
			  "(sha-256 of its SubjectPublicKeyInfo is %s, "
			  "pubkey-hash is " G_SPKI ")",
		      spki);
	expect_cert_err(x, JAN_2024, want);
	X509_free(x);

	/* E: the legacy quote (Gramine's OID form) comes first and binds the old key. */
	X509 *e = load_cert(GRAMINE);
	_cleanup_bytes_ struct bytes legacy = ext_value(e, oid_gramine, sizeof(oid_gramine));
	_cleanup_bytes_ struct bytes ev = ext_value(e, oid_tcg, sizeof(oid_tcg));
	assert_int_equal(legacy.len, 4734);
	X509_EXTENSION *e2[2] = { make_ext(oid_gramine, sizeof(oid_gramine), legacy.p, legacy.len),
				  make_ext(oid_tcg, sizeof(oid_tcg), ev.p, ev.len) };
	x = hand_made(key, e2, 2);
	free(want);
	want = xasprintf("RA-TLS certificate: extension 1.2.840.113741.1337.6: report_data does "
			 "not bind the certificate's key (SHA-256 of its SubjectPublicKeyInfo is "
			 "%s, report_data[0:32] is " E_SPKI ")",
			 spki);
	expect_cert_err(x, JAN_2024, want);
	X509_free(x);

	/* E's legacy quote under the standard OID: the same. */
	X509_EXTENSION *e3 = make_ext(oid_legacy, sizeof(oid_legacy), legacy.p, legacy.len);
	x = hand_made(key, &e3, 1);
	expect_cert_err(x, JAN_2024, want);
	X509_free(x);
	X509_free(e);

	/* H: an RSA key, so both legacy bindings are tried and named. */
	X509 *h = load_cert(RATS_SAMPLE);
	_cleanup_bytes_ struct bytes hq = ext_value(h, oid_legacy, sizeof(oid_legacy));
	X509_free(h);
	EVP_PKEY *rsa = EVP_RSA_gen(2048);
	assert_non_null(rsa);
	unsigned char *pkcs1 = NULL;
	int pkcs1_len = i2d_PublicKey(rsa, &pkcs1);
	assert_true(pkcs1_len > 0);
	_cleanup_free_ char *rsa_spki = spki_hex(rsa),
			    *rsa_pkcs1 = sha256_hex(pkcs1, (size_t)pkcs1_len);
	OPENSSL_free(pkcs1);
	X509_EXTENSION *e8 = make_ext(oid_legacy, sizeof(oid_legacy), hq.p, hq.len);
	x = hand_made(rsa, &e8, 1);
	free(want);
	want = xasprintf("RA-TLS certificate: extension 1.2.840.113741.1337.6: report_data does "
			 "not bind the certificate's key (SHA-256 of its SubjectPublicKeyInfo is "
			 "%s, of its RSAPublicKey %s, report_data[0:32] is "
			 "8e5b3b07972faea047621a80219b8cd17e0133ea54a1af3a5983429d4eabcae0)",
			 rsa_spki, rsa_pkcs1);
	expect_cert_err(x, JAN_2024, want);
	X509_free(x);
	EVP_PKEY_free(rsa);

	/* F: the SGX SDK quote binds the claims; the TCG extension's pubkey-hash fails. */
	X509 *f = load_cert(SGXSDK);
	_cleanup_bytes_ struct bytes sdk = ext_value(f, oid_sdk, sizeof(oid_sdk));
	_cleanup_bytes_ struct bytes fv = ext_value(f, oid_tcg, sizeof(oid_tcg));
	X509_free(f);
	X509_EXTENSION *e4[2] = { make_ext(oid_sdk, sizeof(oid_sdk), sdk.p, sdk.len),
				  make_ext(oid_tcg, sizeof(oid_tcg), fv.p, fv.len) };
	x = hand_made(key, e4, 2);
	free(want);
	want = xasprintf(TCG "pubkey-hash does not match the certificate's key (sha-256 of its "
			     "SubjectPublicKeyInfo is %s, pubkey-hash is "
			     "f306ed602985371e3b485102db1fcdd4f4738329ce58b2f8d1c5d2cc79752026)",
			 spki);
	expect_cert_err(x, JAN_2024, want);
	X509_free(x);

	/* F's SGX SDK quote alone cannot be bound. */
	X509_EXTENSION *e5 = make_ext(oid_sdk, sizeof(oid_sdk), sdk.p, sdk.len);
	x = hand_made(key, &e5, 1);
	expect_cert_err(x, JAN_2024,
			"RA-TLS certificate: extension 1.2.840.113741.1.13.1: its quote binds only "
			"through the claims of a 2.23.133.5.4.9 extension, which the certificate "
			"lacks");
	X509_free(x);

	/* Twice the same kind; none at all. */
	X509_EXTENSION *e6[2] = { make_ext(oid_tcg, sizeof(oid_tcg), gv.p, gv.len),
				  make_ext(oid_tcg, sizeof(oid_tcg), gv.p, gv.len) };
	x = hand_made(key, e6, 2);
	expect_cert_err(x, JAN_2024, "RA-TLS certificate: extension 2.23.133.5.4.9 given twice");
	X509_free(x);
	X509_EXTENSION *e7[2] = { make_ext(oid_legacy, sizeof(oid_legacy), legacy.p, legacy.len),
				  make_ext(oid_gramine, sizeof(oid_gramine), legacy.p,
					   legacy.len) };
	x = hand_made(key, e7, 2);
	expect_cert_err(x, JAN_2024,
			"RA-TLS certificate: extension 1.2.840.113741.1337.6 given twice");
	X509_free(x);
	x = hand_made(key, NULL, 0);
	expect_cert_err(x, JAN_2024,
			"RA-TLS certificate: no evidence extension (2.23.133.5.4.9, "
			"1.2.840.113741.1337.6 or 1.2.840.113741.1.13.1)");
	X509_free(x);
	X509_free(g);
	EVP_PKEY_free(key);
}

/* ---- G's TCG extension, changed: d9 ea 60 | 82 | 59 12 7e quote(4734) | 58 51 claims(81) ---- */

#define G_QUOTE_AT 7
#define G_CLAIMS_AT 4743
#define G_VALUE_LEN 4824

static struct bytes g_value(void)
{
	X509 *g = load_cert(RATS_TLS);
	struct bytes v = ext_value(g, oid_tcg, sizeof(oid_tcg));
	X509_free(g);
	assert_int_equal(v.len, G_VALUE_LEN);
	static const uint8_t head[] = { 0xd9, 0xea, 0x60, 0x82, 0x59, 0x12, 0x7e };
	assert_memory_equal(v.p, head, sizeof(head));
	assert_int_equal(v.p[G_CLAIMS_AT - 2], 0x58);
	assert_int_equal(v.p[G_CLAIMS_AT - 1], 81);
	return v;
}

static void test_mutations(void **state)
{
	/* A flipped bit in the claims (the NUL ending "value_1"): they no longer bind. */
	_cleanup_bytes_ struct bytes v = g_value();
	v.p[G_VALUE_LEN - 1] ^= 0x01;
	_cleanup_free_ char *claims_sha = sha256_hex(v.p + G_CLAIMS_AT, 81);
	X509 *x = with_tcg_value(v.p, v.len, NULL);
	_cleanup_free_ char *want = xasprintf(TCG "report_data does not bind the claims (SHA-256 "
						  "of the claims is %s, report_data[0:32] is "
						  "" G_CLAIMS_SHA ")",
					      claims_sha);
	assert_string_not_equal(claims_sha, G_CLAIMS_SHA);
	expect_cert_err(x, JAN_2024, want);
	X509_free(x);
	v.p[G_VALUE_LEN - 1] ^= 0x01;

	/* A flipped bit in the quote's MRENCLAVE (quote offset 112). */
	v.p[G_QUOTE_AT + 112] ^= 0x80;
	x = with_tcg_value(v.p, v.len, NULL);
	expect_cert_err(x, JAN_2024,
			TCG "quote: signature does not verify with the attestation key");
	X509_free(x);
	v.p[G_QUOTE_AT + 112] ^= 0x80;

	/* Truncated by 10 bytes: the claims' length runs past the end. */
	x = with_tcg_value(v.p, v.len - 10, NULL);
	expect_cert_err(x, JAN_2024,
			TCG "CBOR: offset 4741: byte string of 81 bytes but 71 bytes left");
	X509_free(x);

	/* The quote's length lies: past the end. */
	v.p[5] = 0xff;
	v.p[6] = 0x00;
	x = with_tcg_value(v.p, v.len, NULL);
	expect_cert_err(x, JAN_2024,
			TCG "CBOR: offset 4: byte string of 65280 bytes but 4817 bytes left");
	X509_free(x);
	v.p[5] = 0x12;
	v.p[6] = 0x7e;

	/* Other tags: an Intel TEE report, an unknown one. */
	v.p[2] = 0x61;
	x = with_tcg_value(v.p, v.len, NULL);
	expect_cert_err(x, JAN_2024,
			TCG "CBOR tag 60001 (an Intel TEE report) is not supported: only quotes "
			    "(tag 60000) are");
	X509_free(x);
	v.p[1] = 0x04;
	v.p[2] = 0xd2;
	x = with_tcg_value(v.p, v.len, NULL);
	expect_cert_err(x, JAN_2024,
			TCG "CBOR tag 1234 is not an evidence tag known here (60000: an SGX quote, "
			    "1920298597: simulated evidence)");
	X509_free(x);

	/* A real quote under the private tag: not simulated evidence. */
	_cleanup_free_ uint8_t *priv = xmalloc(v.len + 2);
	memcpy(priv, "\xda\x72\x75\x6e\x65", 5);
	memcpy(priv + 5, v.p + 3, v.len - 3);
	x = with_tcg_value(priv, v.len + 2, NULL);
	expect_cert_err(x, JAN_2024,
			TCG "CBOR tag 1920298597 holds no simulated (SIMTEE01) evidence");
	X509_free(x);

	/* Wrong types: a map where the array is, a text string for the quote. */
	v.p[0] = 0xd9;
	v.p[1] = 0xea;
	v.p[2] = 0x60;
	v.p[3] = 0xa1;
	x = with_tcg_value(v.p, v.len, NULL);
	expect_cert_err(x, JAN_2024, TCG "CBOR: offset 3: a map, expected an array");
	X509_free(x);
	v.p[3] = 0x82;
	v.p[4] = 0x79;
	x = with_tcg_value(v.p, v.len, NULL);
	expect_cert_err(x, JAN_2024, TCG "CBOR: offset 4: a text string, expected a byte string");
	X509_free(x);
	v.p[4] = 0x59;

	/* The claims lie: a pubkey-hash with an unknown algorithm (the 1 inside its bstr). */
	assert_memory_equal(v.p + G_CLAIMS_AT, "\xa3\x6bpubkey-hash\x58\x24\x82\x01", 17);
	v.p[G_CLAIMS_AT + 16] = 0x02;
	x = with_tcg_value(v.p, v.len, NULL);
	expect_cert_err(x, JAN_2024,
			TCG "claims: \"pubkey-hash\": hash algorithm 2 is not supported (1 "
			    "sha-256, 7 sha-384, 8 sha-512)");
	X509_free(x);
}

/* ---- the CBOR reader and writer ---- */

static void expect_cbor(const char *buf, size_t len, const char *want)
{
	struct cc_error *err = NULL;
	assert_int_equal(attest_cbor_check(buf, len, &err), -1);
	expect_err(&err, want);
}

static void test_cbor_reader(void **state)
{
	struct cc_error *err = NULL;
	expect_cbor("", 0, "CBOR: offset 0: truncated: an item expected");
	expect_cbor("\x9f\xff", 2, "CBOR: offset 0: indefinite length is not supported");
	expect_cbor("\x5f", 1, "CBOR: offset 0: indefinite length is not supported");
	expect_cbor("\x1c", 1, "CBOR: offset 0: reserved additional information 28");
	expect_cbor("\x19\x01", 2,
		    "CBOR: offset 0: truncated: the head needs 2 more bytes, 1 left");
	expect_cbor("\x45"
		    "a",
		    2, "CBOR: offset 0: byte string of 5 bytes but 1 byte left");
	expect_cbor("\x82\x01\x63"
		    "ab",
		    5, "CBOR: offset 2: text string of 3 bytes but 2 bytes left");
	expect_cbor("\x5b\xff\xff\xff\xff\xff\xff\xff\xff", 9,
		    "CBOR: offset 0: byte string of 18446744073709551615 bytes but 0 bytes left");
	expect_cbor("\x98\xff\x00", 3, "CBOR: offset 0: array of 255 elements but 1 byte left");
	expect_cbor("\xa3\x01\x02", 3, "CBOR: offset 0: map of 3 pairs but 2 bytes left");
	expect_cbor("\x00\x00", 2, "CBOR: offset 1: 1 byte after the item");
	expect_cbor("\x82\x01", 2, "CBOR: offset 0: array of 2 elements but 1 byte left");
	expect_cbor("\xc1", 1, "CBOR: offset 1: truncated: an item expected");

	/* Nesting: 16 arrays (or tags) deep is fine, 17 is not. */
	char deep[20];
	memset(deep, 0x81, sizeof(deep));
	deep[16] = 0x00;
	ok(attest_cbor_check(deep, 17, &err), &err);
	deep[16] = (char)0x81;
	deep[17] = 0x00;
	expect_cbor(deep, 18, "CBOR: offset 16: nested deeper than 16");
	memset(deep, 0xc1, sizeof(deep));
	deep[17] = 0x00;
	expect_cbor(deep, 18, "CBOR: offset 16: nested deeper than 16");

	/* Items as read: integers of every width, strings, a map, a tag, simple values. */
	static const uint8_t items[] = { 0x17, 0x18, 0x18, 0x19, 0x01, 0x00, 0x1a, 0x00,
					 0x01, 0x00, 0x00, 0x1b, 0x00, 0x00, 0x00, 0x01,
					 0x00, 0x00, 0x00, 0x00, 0x42, 0xaa, 0xbb, 0x61,
					 'z',  0xa1, 0x20, 0xf5, 0xd9, 0xea, 0x60, 0x40 };
	struct attest_cbor_reader r;
	struct attest_cbor_item it;
	attest_cbor_reader_init(&r, items, sizeof(items));
	static const struct {
		enum attest_cbor_type type;
		uint64_t value;
		size_t offset;
	} want[] = {
		{ ATTEST_CBOR_UINT, 23, 0 },	      { ATTEST_CBOR_UINT, 24, 1 },
		{ ATTEST_CBOR_UINT, 256, 3 },	      { ATTEST_CBOR_UINT, 65536, 6 },
		{ ATTEST_CBOR_UINT, 1ull << 32, 11 }, { ATTEST_CBOR_BSTR, 2, 20 },
		{ ATTEST_CBOR_TSTR, 1, 23 },	      { ATTEST_CBOR_MAP, 1, 25 },
		{ ATTEST_CBOR_NINT, 0, 26 },	      { ATTEST_CBOR_SIMPLE, 21, 27 },
		{ ATTEST_CBOR_TAG, 60000, 28 },	      { ATTEST_CBOR_BSTR, 0, 31 },
	};
	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		ok(attest_cbor_read(&r, &it, &err), &err);
		assert_int_equal(it.type, want[i].type);
		assert_true(it.value == want[i].value);
		assert_int_equal(it.offset, want[i].offset);
		/* A string's bytes are where they are in the buffer, after a one-byte head. */
		bool str = it.type == ATTEST_CBOR_BSTR || it.type == ATTEST_CBOR_TSTR;
		assert_ptr_equal(it.data, str ? items + want[i].offset + 1 : NULL);
	}
	assert_true(attest_cbor_at_end(&r));
	attest_cbor_reader_init(&r, items, sizeof(items));
	assert_int_equal(attest_cbor_expect(&r, ATTEST_CBOR_BSTR, &it, &err), -1);
	expect_err(&err, "CBOR: offset 0: an unsigned integer, expected a byte string");
}

static void test_cbor_writer(void **state)
{
	static const struct {
		uint64_t value;
		const char *bytes;
		size_t len;
	} heads[] = {
		{ 0, "\x00", 1 },
		{ 23, "\x17", 1 },
		{ 24, "\x18\x18", 2 },
		{ 255, "\x18\xff", 2 },
		{ 256, "\x19\x01\x00", 3 },
		{ 65535, "\x19\xff\xff", 3 },
		{ 65536, "\x1a\x00\x01\x00\x00", 5 },
		{ 4294967295u, "\x1a\xff\xff\xff\xff", 5 },
		{ 4294967296ull, "\x1b\x00\x00\x00\x01\x00\x00\x00\x00", 9 },
	};
	for (size_t i = 0; i < ARRAY_SIZE(heads); i++) {
		struct attest_cbor_writer w = { 0 };
		attest_cbor_put_head(&w, ATTEST_CBOR_UINT, heads[i].value);
		assert_int_equal(w.len, heads[i].len);
		assert_memory_equal(w.buf, heads[i].bytes, heads[i].len);
		free(w.buf);
	}
	struct attest_cbor_writer w = { 0 };
	attest_cbor_put_head(&w, ATTEST_CBOR_TAG, ATTEST_RATLS_TAG_SGX_QUOTE);
	attest_cbor_put_head(&w, ATTEST_CBOR_TAG, ATTEST_RATLS_TAG_SIMULATED);
	attest_cbor_put_string(&w, ATTEST_CBOR_BSTR, "ab", 2);
	attest_cbor_put_string(&w, ATTEST_CBOR_TSTR, "", 0);
	attest_cbor_put_head(&w, ATTEST_CBOR_MAP, 2);
	assert_int_equal(w.len, 3 + 5 + 3 + 1 + 1);
	assert_memory_equal(w.buf,
			    "\xd9\xea\x60\xda\x72\x75\x6e\x65\x42"
			    "ab\x60\xa2",
			    13);
	/* Past its first allocation. */
	uint8_t big[300];
	memset(big, 0x5a, sizeof(big));
	attest_cbor_put_string(&w, ATTEST_CBOR_BSTR, big, sizeof(big));
	assert_int_equal(w.len, 13 + 3 + 300);
	assert_memory_equal(w.buf + 13, "\x59\x01\x2c", 3);
	assert_memory_equal(w.buf + 16, big, sizeof(big));
	free(w.buf);
}

/* ---- claims and the TCG value, parsed directly ---- */

/* head then rest, into out. */
static size_t claims_of(uint8_t *out, const char *head, size_t head_len, const void *rest,
			size_t rest_len)
{
	memcpy(out, head, head_len);
	memcpy(out + head_len, rest, rest_len);
	return head_len + rest_len;
}

static void expect_claims(const uint8_t *buf, size_t len, const char *want)
{
	struct attest_ratls_claims c;
	struct cc_error *err = NULL;
	assert_int_equal(attest_ratls_claims_parse(buf, len, &c, &err), -1);
	expect_err(&err, want);
}

#define PH "\x6bpubkey-hash"

static void test_claims_parse(void **state)
{
	struct attest_ratls_claims c;
	struct cc_error *err = NULL;
	uint8_t buf[2048], hash[64];
	memset(hash, 0x11, sizeof(hash));
	/* The array directly, sha-256, and a custom claim. */
	uint8_t arr[2 + 2 + 64];
	memcpy(arr, "\x82\x01\x58\x20", 4);
	memcpy(arr + 4, hash, 32);
	size_t n = claims_of(buf, "\xa2" PH, 13, arr, 36);
	memcpy(buf + n, "\x61k\x41v", 4);
	ok(attest_ratls_claims_parse(buf, n + 4, &c, &err), &err);
	assert_int_equal(c.pubkey_hash_alg, 1);
	assert_int_equal(c.pubkey_hash_len, 32);
	assert_memory_equal(c.pubkey_hash, hash, 32);
	assert_int_equal(c.n_claims, 1);
	assert_int_equal(c.claim[0].name_len, 1);
	assert_memory_equal(c.claim[0].name, "k", 1);
	assert_int_equal(c.claim[0].len, 1);
	assert_memory_equal(c.claim[0].value, "v", 1);

	/* In a byte string, sha-384 and sha-512. */
	static const struct {
		uint8_t alg;
		uint8_t len;
	} algs[] = { { 7, 48 }, { 8, 64 } };
	for (size_t i = 0; i < ARRAY_SIZE(algs); i++) {
		uint8_t in[4 + 64] = { 0x82, algs[i].alg, 0x58, algs[i].len };
		memcpy(in + 4, hash, algs[i].len);
		n = claims_of(buf, "\xa1" PH "\x58", 14, "", 0);
		buf[n++] = (uint8_t)(4 + algs[i].len);
		memcpy(buf + n, in, 4u + algs[i].len);
		ok(attest_ratls_claims_parse(buf, n + 4 + algs[i].len, &c, &err), &err);
		assert_int_equal(c.pubkey_hash_alg, algs[i].alg);
		assert_int_equal(c.pubkey_hash_len, algs[i].len);
	}

	/* pubkey-hash lies. */
	n = claims_of(buf, "\xa1" PH, 13, "\x82\x02\x58\x20", 4);
	memcpy(buf + n, hash, 32);
	expect_claims(buf, n + 32,
		      "claims: \"pubkey-hash\": hash algorithm 2 is not supported (1 sha-256, 7 "
		      "sha-384, 8 sha-512)");
	n = claims_of(buf, "\xa1" PH, 13, "\x82\x01\x54", 3);
	memcpy(buf + n, hash, 20);
	expect_claims(buf, n + 20,
		      "claims: \"pubkey-hash\": a 20-byte hash for sha-256 (32 expected)");
	n = claims_of(buf, "\xa1" PH, 13, "\x83\x01\x40\x40", 4);
	expect_claims(buf, n,
		      "claims: \"pubkey-hash\": an array of 3 elements, expected [hash "
		      "algorithm, hash]");
	n = claims_of(buf, "\xa1" PH, 13,
		      "\x82\x61"
		      "1\x40",
		      4);
	expect_claims(buf, n,
		      "claims: \"pubkey-hash\": CBOR: offset 14: a text string, expected an "
		      "unsigned integer");
	n = claims_of(buf, "\xa1" PH, 13, "\x58\x25\x82\x01\x58\x20", 6);
	memcpy(buf + n, hash, 32);
	buf[n + 32] = 0;
	expect_claims(buf, n + 33,
		      "claims: \"pubkey-hash\": bytes after [hash algorithm, hash] in its byte "
		      "string");
	n = claims_of(buf, "\xa1" PH, 13, "\x41\x00", 2);
	expect_claims(buf, n,
		      "claims: \"pubkey-hash\": CBOR: offset 0: an unsigned integer, expected "
		      "an array");

	/* The map lies. */
	expect_claims((const uint8_t *)"\xa1\x61k\x41v", 5, "claims: no \"pubkey-hash\"");
	expect_claims((const uint8_t *)"\x80", 1,
		      "claims: CBOR: offset 0: an array, expected a map");
	expect_claims((const uint8_t *)"", 0,
		      "claims: CBOR: offset 0: truncated: an item expected");
	expect_claims((const uint8_t *)"\xa1\x01\x02", 3,
		      "claims: key 1: CBOR: offset 1: an unsigned integer, expected a text string");
	n = claims_of(buf, "\xa3" PH, 13, arr, 36);
	memcpy(buf + n, "\x61k\x41v\x61k\x41w", 8);
	expect_claims(buf, n + 8, "claims: \"k\" given twice");
	n = claims_of(buf, "\xa2" PH, 13, arr, 36);
	memcpy(buf + n, PH, 12);
	memcpy(buf + n + 12, arr, 36);
	expect_claims(buf, n + 48, "claims: \"pubkey-hash\" given twice");
	n = claims_of(buf, "\xa2" PH, 13, arr, 36);
	memcpy(buf + n, "\x61k\x61v", 4);
	expect_claims(buf, n + 4,
		      "claims: \"k\": CBOR: offset 51: a text string, expected a byte string");
	n = claims_of(buf, "\xa2" PH, 13, arr, 36);
	memcpy(buf + n,
	       "\x63"
	       "a\0b\x40",
	       5);
	expect_claims(buf, n + 5, "claims: name \"a\\x00b\" holds a NUL byte");
	n = claims_of(buf, "\xa2" PH, 13, arr, 36);
	memcpy(buf + n, "\x79\x01\x01", 3);
	memset(buf + n + 3, 'n', 257);
	buf[n + 260] = 0x40;
	expect_claims(buf, n + 261, "claims: a name of 257 bytes (at most 256)");
	/* Nested too deep, under a claim's value: 20 arrays from offset 3. */
	memcpy(buf, "\xa1\x61k", 3);
	memset(buf + 3, 0x81, 20);
	buf[23] = 0x00;
	expect_claims(buf, 24, "claims: CBOR: offset 18: nested deeper than 16");
	/* 33 custom claims. */
	n = claims_of(buf, "\xb8\x22" PH, 14, arr, 36);
	for (int i = 0; i < 33; i++) {
		buf[n++] = 0x62;
		buf[n++] = (uint8_t)('a' + i / 26);
		buf[n++] = (uint8_t)('a' + i % 26);
		buf[n++] = 0x40;
	}
	expect_claims(buf, n, "claims: more than 32 custom claims");
	buf[1] = 0x21; /* 32 of them: accepted */
	ok(attest_ratls_claims_parse(buf, n - 4, &c, &err), &err);
	assert_int_equal(c.n_claims, 32);
}

static void test_tcg_parse(void **state)
{
	struct attest_ratls_tcg t;
	struct cc_error *err = NULL;
	ok(attest_ratls_tcg_parse((const uint8_t *)"\xd9\xea\x60\x82\x41\xaa\x42\xbb\xcc", 9, &t,
				  &err),
	   &err);
	assert_true(t.tag == 60000);
	assert_int_equal(t.evidence_len, 1);
	assert_int_equal(t.evidence[0], 0xaa);
	assert_int_equal(t.claims_len, 2);
	assert_memory_equal(t.claims, "\xbb\xcc", 2);
	static const struct {
		const char *in;
		size_t len;
		const char *want;
	} bad[] = {
		{ "\xd9\xea\x60\x83\x40\x40\x40", 7,
		  "extension 2.23.133.5.4.9: tag 60000 holds 3 elements, expected 2 (evidence, "
		  "claims-buffer)" },
		{ "\x82\x40\x40", 3,
		  "extension 2.23.133.5.4.9: CBOR: offset 0: an array, expected a tag" },
		{ "\xd9\xea\x60\xa1\x40\x40", 6,
		  "extension 2.23.133.5.4.9: CBOR: offset 3: a map, expected an array" },
		{ "\xd9\xea\x60\x82\x60\x40", 6,
		  "extension 2.23.133.5.4.9: CBOR: offset 4: a text string, expected a byte "
		  "string" },
		{ "\xd9\xea\x60\x82\x40\x40\x00", 7,
		  "extension 2.23.133.5.4.9: CBOR: offset 6: 1 byte after the item" },
		{ "\xd9\xea\x60\x82\x40", 5,
		  "extension 2.23.133.5.4.9: CBOR: offset 3: array of 2 elements but 1 byte "
		  "left" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		assert_int_equal(
		    attest_ratls_tcg_parse((const uint8_t *)bad[i].in, bad[i].len, &t, &err), -1);
		expect_err(&err, bad[i].want);
	}
}

/* ---- our own certificates: simulated evidence from the real skeleton PAL ---- */

/* MRENCLAVE of path as the skeleton measures it: SHA-256(tag with NUL || u64 LE size || file). */
static void measure(const char *path, uint8_t mr[32])
{
	struct cc_error *err = NULL;
	size_t len;
	_cleanup_free_ char *file = cc_read_file(path, 0, &len, &err);
	if (!file)
		fail_msg("%s", err->msg);
	_cleanup_free_ uint8_t *msg = xmalloc(26 + 8 + len);
	memcpy(msg, "rune-skeleton-sim-enclave", 26);
	for (int i = 0; i < 8; i++)
		msg[26 + i] = (uint8_t)((uint64_t)len >> (8 * i));
	memcpy(msg + 34, file, len);
	sha256(msg, 34 + len, mr);
}

/* The evidence callback: simulated evidence of the skeleton's REPORT for report_data (or, with
 * flip, for report_data with its first bit flipped), signed with the test's key. */
struct sim_ctx {
	bool flip, tail; /* flip report_data's first bit; set its last byte */
	int calls;
	uint8_t rd[64]; /* what the callback was asked for */
};

static int sim_evidence(void *ctx, const uint8_t rd[64], uint8_t **evidence, size_t *len,
			struct cc_error **err)
{
	struct sim_ctx *c = ctx;
	struct sgx_target_info ti;
	uint8_t want[64], rep[432];
	c->calls++;
	memcpy(c->rd, rd, 64);
	memcpy(want, rd, 64);
	if (c->flip)
		want[0] ^= 0x01;
	if (c->tail)
		want[63] = 0x01;
	attest_sim_qe_target_info(&ti);
	skeleton_report(&ti, want, 64, rep);
	uint8_t *ev = xmalloc(ATTEST_SIM_EVIDENCE_SIZE);
	if (attest_sim_evidence_make(sim_key, &ti, rep, sizeof(rep), ev, err) < 0) {
		free(ev);
		return -1;
	}
	*evidence = ev;
	*len = ATTEST_SIM_EVIDENCE_SIZE;
	return 0;
}

static const struct attest_ratls_claim own_claims[] = {
	{ "nonce", (const uint8_t *)"abc", 3 },
	{ "empty", NULL, 0 },
};

#define OWN_FROM 1704067200  /* 2024-01-01T00:00:00Z */
#define OWN_UNTIL 2019686400 /* 2034-01-01T00:00:00Z */

static X509 *own_cert(EVP_PKEY *key, struct sim_ctx *ctx)
{
	struct cc_error *err = NULL;
	struct attest_ratls_make_opts o = {
		.key = key,
		.subject_cn = "rune-ratls-test",
		.not_before = OWN_FROM,
		.not_after = OWN_UNTIL,
		.claims = own_claims,
		.n_claims = ARRAY_SIZE(own_claims),
		.evidence = sim_evidence,
		.evidence_ctx = ctx,
	};
	X509 *x = attest_ratls_make(&o, &err);
	ok(x ? 0 : -1, &err);
	return x;
}

/* The claims-buffer the certificate must carry, written out byte by byte. */
static size_t own_claims_buffer(EVP_PKEY *key, uint8_t out[128])
{
	unsigned char *der = NULL;
	int n = i2d_PUBKEY(key, &der);
	assert_true(n > 0);
	uint8_t spki[32];
	sha256(der, (size_t)n, spki);
	OPENSSL_free(der);
	size_t len = 0;
	memcpy(out, "\xa3\x6bpubkey-hash\x58\x24\x82\x01\x58\x20", 19);
	len += 19;
	memcpy(out + len, spki, 32);
	len += 32;
	memcpy(out + len,
	       "\x65nonce\x43"
	       "abc\x65"
	       "empty\x40",
	       17);
	len += 17;
	return len;
}

static struct attest_evidence_opts sim_opts(void)
{
	struct attest_evidence_opts o = opts_at(JAN_2024 + 86400);
	o.insecure_allow_simulated = true;
	o.sim_key = sim_key;
	return o;
}

static void test_own_cert(void **state)
{
	need_skeleton();
	struct cc_error *err = NULL;
	struct sim_ctx ctx = { 0 };
	EVP_PKEY *key = NULL;
	ok((key = attest_ratls_key_new(&err)) ? 0 : -1, &err);
	X509 *x = own_cert(key, &ctx);
	assert_int_equal(ctx.calls, 1);

	/* The callback was asked for SHA-256 of the claims written out, zero-padded. */
	uint8_t claims[128], claims_sha[32], mr[32], signer[32], key_id[32];
	size_t claims_len = own_claims_buffer(key, claims);
	sha256(claims, claims_len, claims_sha);
	assert_memory_equal(ctx.rd, claims_sha, 32);
	assert_hex(ctx.rd + 32, 32, ZERO32);

	/* The extension: non-critical, private tag [SIMTEE01 evidence, the claims]. */
	_cleanup_bytes_ struct bytes v = ext_value(x, oid_tcg, sizeof(oid_tcg));
	assert_int_equal(v.len, 5 + 1 + 3 + 500 + 2 + claims_len);
	assert_memory_equal(v.p, "\xda\x72\x75\x6e\x65\x82\x59\x01\xf4SIMTEE01", 17);
	assert_int_equal(v.p[509], 0x58);
	assert_int_equal(v.p[510], claims_len);
	assert_memory_equal(v.p + 511, claims, claims_len);
	int i = X509_get_ext_by_critical(x, 1, -1);
	assert_int_equal(i, -1);
	assert_int_equal(X509_get_version(x), X509_VERSION_3);
	assert_int_equal(X509_get_signature_nid(x), NID_ecdsa_with_SHA256);
	char cn[64];
	assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn,
					      sizeof(cn)) > 0);
	assert_string_equal(cn, "rune-ratls-test");
	assert_int_equal(X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)), 0);

	/* Verified with simulated evidence allowed and the key. */
	struct attest_evidence_opts o = sim_opts();
	struct attest_ratls_result r;
	ok(attest_ratls_verify_cert(x, &o, &r, &err), &err);
	assert_int_equal(r.n_ext, 1);
	assert_int_equal(r.ext[0].format, ATTEST_RATLS_TCG_SIMULATED);
	assert_int_equal(r.ext[0].binding, ATTEST_RATLS_BIND_CLAIMS);
	assert_true(r.simulated);
	assert_true(r.ext[0].evidence.simulated);
	assert_int_equal(r.ext[0].evidence.kind, ATTEST_EVIDENCE_SIMULATED);
	assert_false(r.debug);
	measure("/bin/true", mr);
	sha256("rune-skeleton-sim-signer", 24, signer);
	assert_memory_equal(r.ext[0].evidence.enclave.mrenclave, mr, 32);
	assert_memory_equal(r.ext[0].evidence.enclave.mrsigner, signer, 32);
	assert_memory_equal(r.ext[0].evidence.enclave.report_data, claims_sha, 32);
	attest_sim_key_id(sim_key, key_id);
	assert_memory_equal(r.ext[0].evidence.sim_key_id, key_id, 32);
	_cleanup_free_ char *spki = spki_hex(key);
	assert_hex(r.spki_sha256, 32, spki);
	assert_int_equal(r.pubkey_hash_alg, ATTEST_RATLS_HASH_SHA256);
	assert_int_equal(r.n_claims, 2);
	assert_string_equal(r.claims[0].name, "nonce");
	assert_int_equal(r.claims[0].len, 3);
	assert_memory_equal(r.claims[0].value, "abc", 3);
	assert_string_equal(r.claims[1].name, "empty");
	assert_int_equal(r.claims[1].len, 0);
	assert_int_equal(r.not_before, OWN_FROM);
	assert_int_equal(r.not_after, OWN_UNTIL);
	assert_false(r.weak_signature);
	assert_false(r.ext[0].critical);
	attest_ratls_result_clear(&r);

	/* As PEM, with a NUL after it, the same. */
	_cleanup_free_ char *pem = attest_ratls_pem(x, &err);
	ok(pem ? 0 : -1, &err);
	assert_memory_equal(pem, "-----BEGIN CERTIFICATE-----\n", 28);
	ok(attest_ratls_verify(pem, strlen(pem) + 1, &o, &r, &err), &err);
	assert_true(r.simulated);
	attest_ratls_result_clear(&r);

	/* Not allowed: refused with the evidence's exact line. */
	o.insecure_allow_simulated = false;
	assert_int_equal(attest_ratls_verify_cert(x, &o, &r, &err), -1);
	attest_ratls_result_clear(&r);
	expect_err(&err, TCG REFUSED);

	/* Allowed, but another simulated attestation key. */
	_cleanup_free_ char *other_path = xasprintf("%s/other.pem", tmpdir);
	struct attest_sim_key *other = attest_sim_key_open(other_path, &err);
	ok(other ? 0 : -1, &err);
	o = sim_opts();
	o.sim_key = other;
	assert_int_equal(attest_ratls_verify_cert(x, &o, &r, &err), -1);
	attest_ratls_result_clear(&r);
	expect_prefix(&err, TCG "evidence: signed by another simulated attestation key (key id ");
	attest_sim_key_free(other);

	/* The appraisal sees a simulated result. */
	struct attest_policy p;
	o = sim_opts();
	ok(attest_ratls_verify_cert(x, &o, &r, &err), &err);
	attest_policy_init(&p);
	assert_int_equal(attest_ratls_appraise(&p, &r, &err), -1);
	expect_err(&err, TCG "appraisal: simulated evidence refused (insecure_allow_simulated is "
			     "not set)");
	attest_ratls_result_clear(&r);
	X509_free(x);
	EVP_PKEY_free(key);
}

/* Evidence made for other report_data than the claims' hash: refused at the binding. So is
 * report_data whose last 32 bytes are not zero. */
static void test_own_cert_unbound(void **state)
{
	need_skeleton();
	struct cc_error *err = NULL;
	struct sim_ctx ctx = { .flip = true };
	EVP_PKEY *key = EVP_EC_gen("P-256");
	assert_non_null(key);
	X509 *x = own_cert(key, &ctx);
	uint8_t claims[128], flipped[32];
	size_t claims_len = own_claims_buffer(key, claims);
	_cleanup_free_ char *want_sha = sha256_hex(claims, claims_len);
	memcpy(flipped, ctx.rd, 32);
	flipped[0] ^= 0x01;
	_cleanup_free_ char *got = hex(flipped, 32);
	_cleanup_free_ char *want = xasprintf(TCG "report_data does not bind the claims (SHA-256 "
						  "of the claims is %s, report_data[0:32] is %s)",
					      want_sha, got);
	struct attest_evidence_opts o = sim_opts();
	struct attest_ratls_result r;
	assert_int_equal(attest_ratls_verify_cert(x, &o, &r, &err), -1);
	expect_err(&err, want);
	/* Nothing half-verified is left to appraise, even with a policy that takes anything. */
	struct attest_policy p;
	static const char anything[] = "{\"insecure_allow_simulated\":true,\"enclave\":{"
				       "\"allow_debug\":true},\"tcb\":{\"allow_unknown\":true}}";
	ok(attest_policy_parse(anything, strlen(anything), &p, &err), &err);
	assert_int_equal(r.n_ext, 0);
	assert_int_equal(attest_ratls_appraise(&p, &r, &err), -1);
	expect_err(&err, "RA-TLS certificate: no verified evidence to appraise");
	X509_free(x);

	struct sim_ctx tail = { .tail = true };
	x = own_cert(key, &tail);
	assert_int_equal(attest_ratls_verify_cert(x, &o, &r, &err), -1);
	attest_ratls_result_clear(&r);
	expect_err(&err, TCG "report_data[32:64] is not zero "
			     "(0000000000000000000000000000000000000000000000000000000000000001)");
	X509_free(x);
	EVP_PKEY_free(key);
}

/* SIMTEE01 anywhere but under the private tag: refused even when simulated evidence is allowed;
 * the private tag over anything but SIMTEE01 too. */
static void test_sim_elsewhere(void **state)
{
	need_skeleton();
	struct cc_error *err = NULL;
	struct sim_ctx ctx = { 0 };
	EVP_PKEY *key = EVP_EC_gen("P-256");
	assert_non_null(key);
	X509 *x = own_cert(key, &ctx);
	_cleanup_bytes_ struct bytes v = ext_value(x, oid_tcg, sizeof(oid_tcg));
	X509_free(x);
	const uint8_t *ev = v.p + 9, *claims = v.p + 511;
	size_t claims_len = v.len - 511;
	struct attest_evidence_opts o = sim_opts();
	struct attest_ratls_result r;

	/* Under tag 60000, in a certificate of the same key (so everything else would pass). */
	uint8_t value[1024];
	memcpy(value, "\xd9\xea\x60\x82\x59\x01\xf4", 7);
	memcpy(value + 7, ev, 500);
	value[507] = 0x58;
	value[508] = (uint8_t)claims_len;
	memcpy(value + 509, claims, claims_len);
	X509_EXTENSION *e = make_ext(oid_tcg, sizeof(oid_tcg), value, 509 + claims_len);
	x = hand_made(key, &e, 1);
	assert_int_equal(attest_ratls_verify_cert(x, &o, &r, &err), -1);
	attest_ratls_result_clear(&r);
	expect_err(&err, TCG "simulated evidence (SIMTEE01) is accepted only under the private "
			     "CBOR tag 1920298597 of 2.23.133.5.4.9");
	X509_free(x);

	/* Raw in the legacy extension. */
	e = make_ext(oid_legacy, sizeof(oid_legacy), ev, 500);
	x = hand_made(key, &e, 1);
	assert_int_equal(attest_ratls_verify_cert(x, &o, &r, &err), -1);
	attest_ratls_result_clear(&r);
	expect_err(&err, "RA-TLS certificate: extension 1.2.840.113741.1337.6: simulated evidence "
			 "(SIMTEE01) is accepted only under the private CBOR tag 1920298597 of "
			 "2.23.133.5.4.9");
	X509_free(x);

	/* The private tag over a quote (G's, with these claims). */
	_cleanup_bytes_ struct bytes g = g_value();
	_cleanup_free_ uint8_t *priv = xmalloc(5 + 1 + 3 + 4734 + 2 + claims_len);
	memcpy(priv, "\xda\x72\x75\x6e\x65\x82\x59\x12\x7e", 9);
	memcpy(priv + 9, g.p + G_QUOTE_AT, 4734);
	priv[9 + 4734] = 0x58;
	priv[9 + 4735] = (uint8_t)claims_len;
	memcpy(priv + 9 + 4736, claims, claims_len);
	e = make_ext(oid_tcg, sizeof(oid_tcg), priv, 9 + 4736 + claims_len);
	x = hand_made(key, &e, 1);
	assert_int_equal(attest_ratls_verify_cert(x, &o, &r, &err), -1);
	attest_ratls_result_clear(&r);
	expect_err(&err, TCG "CBOR tag 1920298597 holds no simulated (SIMTEE01) evidence");
	X509_free(x);
	EVP_PKEY_free(key);
}

/* ---- making: what is refused ---- */

static int fake_quote(void *ctx, const uint8_t rd[64], uint8_t **evidence, size_t *len,
		      struct cc_error **err)
{
	const char *what = ctx;
	if (!strcmp(what, "fail"))
		return cc_error_set(err, 0, "evidence: no quote today");
	if (!strcmp(what, "empty")) {
		*evidence = NULL;
		*len = 0;
		return 0;
	}
	*evidence = (uint8_t *)xstrdup(what);
	*len = strlen(what);
	return 0;
}

static void expect_make_err(const struct attest_ratls_make_opts *o, const char *want)
{
	struct cc_error *err = NULL;
	X509 *x = attest_ratls_make(o, &err);
	if (x)
		fail_msg("made, expected: %s", want);
	expect_err(&err, want);
}

static void test_make_refuses(void **state)
{
	static char not_quote[] = "not a quote", fail[] = "fail", empty[] = "empty";
	struct cc_error *err = NULL;
	X509 *x;
	EVP_PKEY *key = EVP_EC_gen("P-256"), *p384 = EVP_EC_gen("P-384"), *rsa = EVP_RSA_gen(2048);
	assert_true(key && p384 && rsa);
	struct attest_ratls_claim claims[2] = { { "k", (const uint8_t *)"v", 1 },
						{ "k", (const uint8_t *)"w", 1 } };
	struct attest_ratls_make_opts base = {
		.key = key,
		.subject_cn = "x",
		.not_before = OWN_FROM,
		.not_after = OWN_UNTIL,
		.evidence = fake_quote,
		.evidence_ctx = not_quote,
	};
	struct attest_ratls_make_opts o = base;
	o.key = rsa;
	expect_make_err(&o, "RA-TLS certificate: the key is not an ECDSA P-256 key");
	o.key = p384;
	expect_make_err(&o, "RA-TLS certificate: the key is not an ECDSA P-256 key");
	o = base;
	o.subject_cn = "";
	expect_make_err(&o, "RA-TLS certificate: a subject CN of 1 to 64 bytes expected");
	o = base;
	o.not_after = o.not_before;
	expect_make_err(&o, "RA-TLS certificate: notBefore is not before notAfter");
	o = base;
	o.claims = claims;
	o.n_claims = 2;
	expect_make_err(&o, "RA-TLS certificate: claim \"k\" given twice");
	claims[0].name = "pubkey-hash";
	expect_make_err(&o, "RA-TLS certificate: claim 1: \"pubkey-hash\" is the binding's own, "
			    "not a custom claim");
	o = base;
	o.evidence_ctx = fail;
	expect_make_err(&o, "RA-TLS certificate: evidence: no quote today");
	o.evidence_ctx = empty;
	expect_make_err(&o, "RA-TLS certificate: the evidence callback gave 0 bytes (1 to 65536 "
			    "expected)");

	/* Evidence past the bound; evidence that makes the certificate too big. */
	static char too_big[ATTEST_RATLS_CERT_MAX + 2], big[ATTEST_RATLS_CERT_MAX + 1];
	memset(too_big, 'q', sizeof(too_big) - 1);
	memset(big, 'q', sizeof(big) - 1);
	o = base;
	o.evidence_ctx = too_big;
	expect_make_err(&o, "RA-TLS certificate: the evidence callback gave 65537 bytes (1 to "
			    "65536 expected)");
	o.evidence_ctx = big;
	x = attest_ratls_make(&o, &err);
	assert_null(x);
	/* The exact size depends on the encodings of the random serial and the signature. */
	assert_non_null(err);
	unsigned size = 0;
	char rest[64] = "";
	assert_int_equal(sscanf(err->msg, "RA-TLS certificate: %u bytes of DER, more than %63[0-9]",
				&size, rest),
			 2);
	assert_true(size > 65536 + 100 && size < 65536 + 1000);
	assert_string_equal(rest, "65536");
	cc_error_free(&err);

	/* A public key cannot sign. */
	unsigned char *der = NULL;
	int n = i2d_PUBKEY(key, &der);
	const unsigned char *p = der;
	EVP_PKEY *pub = d2i_PUBKEY(NULL, &p, n);
	OPENSSL_free(der);
	assert_non_null(pub);
	o = base;
	o.key = pub;
	expect_make_err(&o, "RA-TLS certificate: signing failed (not a private key?)");
	EVP_PKEY_free(pub);

	/* Evidence that is not SIMTEE01 goes under tag 60000, where it is read as a quote. */
	x = attest_ratls_make(&base, &err);
	ok(x ? 0 : -1, &err);
	_cleanup_bytes_ struct bytes v = ext_value(x, oid_tcg, sizeof(oid_tcg));
	assert_memory_equal(v.p, "\xd9\xea\x60\x82\x4bnot a quote", 16);
	struct attest_evidence_opts vo = opts_at(JAN_2024);
	struct attest_ratls_result r;
	assert_int_equal(attest_ratls_verify_cert(x, &vo, &r, &err), -1);
	attest_ratls_result_clear(&r);
	expect_prefix(&err, TCG "quote: ");
	X509_free(x);
	EVP_PKEY_free(key);
	EVP_PKEY_free(p384);
	EVP_PKEY_free(rsa);
}

/* ---- setup ---- */

static int group_setup(void **state)
{
	struct cc_error *err = NULL;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test-attest-ratls-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	_cleanup_free_ char *path = xasprintf("%s/sim.pem", tmpdir);
	sim_key = attest_sim_key_open(path, &err);
	if (!sim_key) {
		fprintf(stderr, "%s\n", err->msg);
		cc_error_free(&err);
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	struct cc_error *err = NULL;
	attest_sim_key_free(sim_key);
	if (cc_rm_rf(tmpdir, &err) < 0) {
		cc_error_free(&err);
		return -1;
	}
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_real_certs),    cmocka_unit_test(test_rsa_binding),
		cmocka_unit_test(test_custom_claims), cmocka_unit_test(test_appraise),
		cmocka_unit_test(test_forms),	      cmocka_unit_test(test_validity),
		cmocka_unit_test(test_signature),     cmocka_unit_test(test_unknown_key),
		cmocka_unit_test(test_transplant),    cmocka_unit_test(test_mutations),
		cmocka_unit_test(test_cbor_reader),   cmocka_unit_test(test_cbor_writer),
		cmocka_unit_test(test_claims_parse),  cmocka_unit_test(test_tcg_parse),
		cmocka_unit_test(test_own_cert),      cmocka_unit_test(test_own_cert_unbound),
		cmocka_unit_test(test_sim_elsewhere), cmocka_unit_test(test_make_refuses),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
