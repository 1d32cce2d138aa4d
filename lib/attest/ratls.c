// SPDX-License-Identifier: Apache-2.0
/* RA-TLS certificates (ratls.h): the evidence extensions found by the raw bytes of their OIDs,
 * their CBOR read with the bounded reader of cbor.h, the evidence verified through
 * attest_evidence_verify, and the binding of each to the certificate's key. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include "attest/cbor.h"
#include "attest/internal.h"
#include "attest/ratls.h"
#include "util/cleanup.h"

#define PEM_BEGIN "-----BEGIN CERTIFICATE-----"
#define PEM_END "-----END CERTIFICATE-----"
#define PREFIX "RA-TLS certificate"
#define PUBKEY_HASH "pubkey-hash"
#define CN_MAX 64 /* the upper bound X.520 gives a common name */

#define OID_TCG "2.23.133.5.4.9"
#define OID_LEGACY "1.2.840.113741.1337.6"
#define OID_SGX_SDK "1.2.840.113741.1.13.1"

/* The extnID contents of each kind, and Gramine's form of the legacy one: the OID's own tag
 * and length nested inside the contents. */
static const uint8_t oid_tcg[] = { 0x67, 0x81, 0x05, 0x05, 0x04, 0x09 };
static const uint8_t oid_legacy[] = { 0x2a, 0x86, 0x48, 0x86, 0xf8, 0x4d, 0x8a, 0x39, 0x06 };
static const uint8_t oid_legacy_gramine[] = { 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
					      0xf8, 0x4d, 0x8a, 0x39, 0x06 };
static const uint8_t oid_sgx_sdk[] = { 0x2a, 0x86, 0x48, 0x86, 0xf8, 0x4d, 0x01, 0x0d, 0x01 };

enum ext_kind { EXT_TCG, EXT_LEGACY, EXT_SGX_SDK };
static const char *const ext_oid[] = { OID_TCG, OID_LEGACY, OID_SGX_SDK };

const char *attest_ratls_format_name(enum attest_ratls_format f)
{
	switch (f) {
	case ATTEST_RATLS_TCG_QUOTE:
		return "tcg-dice-sgx-quote";
	case ATTEST_RATLS_TCG_SIMULATED:
		return "tcg-dice-simulated";
	case ATTEST_RATLS_LEGACY_QUOTE:
		return "legacy-quote";
	case ATTEST_RATLS_SGX_SDK_QUOTE:
		return "sgx-sdk-quote";
	}
	return "invalid";
}

const char *attest_ratls_binding_name(enum attest_ratls_binding b)
{
	switch (b) {
	case ATTEST_RATLS_BIND_CLAIMS:
		return "sha256(claims)";
	case ATTEST_RATLS_BIND_SPKI:
		return "sha256(spki)";
	case ATTEST_RATLS_BIND_RSA_PKCS1:
		return "sha256(rsa-public-key)";
	}
	return "invalid";
}

static const char *format_oid(enum attest_ratls_format f)
{
	return f == ATTEST_RATLS_LEGACY_QUOTE	 ? OID_LEGACY
	       : f == ATTEST_RATLS_SGX_SDK_QUOTE ? OID_SGX_SDK
						 : OID_TCG;
}

/* ---- hash algorithms of pubkey-hash (IANA named information) ---- */

static const EVP_MD *hash_md(uint64_t alg)
{
	switch (alg) {
	case ATTEST_RATLS_HASH_SHA256:
		return EVP_sha256();
	case ATTEST_RATLS_HASH_SHA384:
		return EVP_sha384();
	case ATTEST_RATLS_HASH_SHA512:
		return EVP_sha512();
	}
	return NULL;
}

static const char *hash_name(int alg)
{
	return alg == ATTEST_RATLS_HASH_SHA256	 ? "sha-256"
	       : alg == ATTEST_RATLS_HASH_SHA384 ? "sha-384"
						 : "sha-512";
}

/* ---- the claims-buffer ---- */

/* [alg, hash] from r. */
static int pubkey_hash_array(struct attest_cbor_reader *r, struct attest_ratls_claims *out,
			     struct cc_error **err)
{
	struct attest_cbor_item a, alg, hash;
	if (attest_cbor_expect(r, ATTEST_CBOR_ARRAY, &a, err) < 0)
		return -1;
	if (a.value != 2)
		return cc_error_set(err, 0,
				    "an array of %llu elements, expected [hash algorithm, hash]",
				    (unsigned long long)a.value);
	if (attest_cbor_expect(r, ATTEST_CBOR_UINT, &alg, err) < 0 ||
	    attest_cbor_expect(r, ATTEST_CBOR_BSTR, &hash, err) < 0)
		return -1;
	const EVP_MD *md = hash_md(alg.value);
	if (!md)
		return cc_error_set(err, 0,
				    "hash algorithm %llu is not supported (1 sha-256, 7 sha-384, "
				    "8 sha-512)",
				    (unsigned long long)alg.value);
	out->pubkey_hash_alg = (int)alg.value;
	if (hash.value != (uint64_t)EVP_MD_get_size(md))
		return cc_error_set(err, 0, "a %llu-byte hash for %s (%d expected)",
				    (unsigned long long)hash.value, hash_name(out->pubkey_hash_alg),
				    EVP_MD_get_size(md));
	out->pubkey_hash = hash.data;
	out->pubkey_hash_len = (size_t)hash.value;
	return 0;
}

/* pubkey-hash's value: the array in a byte string (what rats-tls, Gramine and the SGX SDK
 * write), or the array itself. */
static int pubkey_hash(struct attest_cbor_reader *r, struct attest_ratls_claims *out,
		       struct cc_error **err)
{
	struct attest_cbor_reader peek = *r, inner;
	struct attest_cbor_item it;
	if (attest_cbor_read(&peek, &it, err) < 0)
		return -1;
	if (it.type != ATTEST_CBOR_BSTR)
		return pubkey_hash_array(r, out, err);
	*r = peek;
	attest_cbor_reader_init(&inner, it.data, (size_t)it.value);
	if (pubkey_hash_array(&inner, out, err) < 0)
		return -1;
	if (!attest_cbor_at_end(&inner))
		return cc_error_set(err, 0,
				    "bytes after [hash algorithm, hash] in its byte string");
	return 0;
}

static bool same_name(const struct attest_cbor_item *key, const void *name, size_t len)
{
	return key->value == len && !memcmp(key->data, name, len);
}

/* One pair of the map: its key already read. */
static int claim_pair(struct attest_cbor_reader *r, const struct attest_cbor_item *key,
		      bool *have_hash, struct attest_ratls_claims *out, struct cc_error **err)
{
	char shown[CC_SHOWN_BUF];
	struct attest_cbor_item v;
	cc_shown((const char *)key->data, (size_t)key->value, shown);
	if (key->value > ATTEST_RATLS_CLAIM_NAME_MAX)
		return cc_error_set(err, 0, "claims: a name of %llu bytes (at most %d)",
				    (unsigned long long)key->value, ATTEST_RATLS_CLAIM_NAME_MAX);
	if (memchr(key->data, 0, (size_t)key->value))
		return cc_error_set(err, 0, "claims: name \"%s\" holds a NUL byte", shown);
	bool is_hash = same_name(key, PUBKEY_HASH, strlen(PUBKEY_HASH));
	bool twice = is_hash && *have_hash;
	for (size_t i = 0; i < out->n_claims && !twice; i++)
		twice = same_name(key, out->claim[i].name, out->claim[i].name_len);
	if (twice)
		return cc_error_set(err, 0, "claims: \"%s\" given twice", shown);
	if (is_hash) {
		*have_hash = true;
		if (pubkey_hash(r, out, err) < 0)
			return cc_error_prefix(err, "claims: \"" PUBKEY_HASH "\"");
		return 0;
	}
	if (out->n_claims == ATTEST_RATLS_CLAIMS_MAX)
		return cc_error_set(err, 0, "claims: more than %d custom claims",
				    ATTEST_RATLS_CLAIMS_MAX);
	if (attest_cbor_expect(r, ATTEST_CBOR_BSTR, &v, err) < 0)
		return cc_error_prefix(err, "claims: \"%s\"", shown);
	out->claim[out->n_claims++] =
	    (struct attest_ratls_claim_ref){ key->data, (size_t)key->value, v.data,
					     (size_t)v.value };
	return 0;
}

int attest_ratls_claims_parse(const uint8_t *buf, size_t len, struct attest_ratls_claims *out,
			      struct cc_error **err)
{
	struct attest_cbor_reader r;
	struct attest_cbor_item map, key;
	bool have_hash = false;
	memset(out, 0, sizeof(*out));
	attest_cbor_reader_init(&r, buf, len);
	if (attest_cbor_check(buf, len, err) < 0 ||
	    attest_cbor_expect(&r, ATTEST_CBOR_MAP, &map, err) < 0)
		return cc_error_prefix(err, "claims");
	for (uint64_t i = 0; i < map.value; i++) {
		if (attest_cbor_expect(&r, ATTEST_CBOR_TSTR, &key, err) < 0)
			return cc_error_prefix(err, "claims: key %llu", (unsigned long long)i + 1);
		if (claim_pair(&r, &key, &have_hash, out, err) < 0)
			return -1;
	}
	if (!have_hash)
		return cc_error_set(err, 0, "claims: no \"" PUBKEY_HASH "\"");
	return 0;
}

/* ---- the value of 2.23.133.5.4.9 ---- */

int attest_ratls_tcg_parse(const uint8_t *value, size_t len, struct attest_ratls_tcg *out,
			   struct cc_error **err)
{
	struct attest_cbor_reader r;
	struct attest_cbor_item tag, a, ev, claims;
	memset(out, 0, sizeof(*out));
	attest_cbor_reader_init(&r, value, len);
	if (attest_cbor_check(value, len, err) < 0 ||
	    attest_cbor_expect(&r, ATTEST_CBOR_TAG, &tag, err) < 0 ||
	    attest_cbor_expect(&r, ATTEST_CBOR_ARRAY, &a, err) < 0)
		return cc_error_prefix(err, "extension " OID_TCG);
	if (a.value != 2)
		return cc_error_set(err, 0,
				    "extension " OID_TCG ": tag %llu holds %llu elements, "
				    "expected 2 (evidence, claims-buffer)",
				    (unsigned long long)tag.value, (unsigned long long)a.value);
	if (attest_cbor_expect(&r, ATTEST_CBOR_BSTR, &ev, err) < 0 ||
	    attest_cbor_expect(&r, ATTEST_CBOR_BSTR, &claims, err) < 0)
		return cc_error_prefix(err, "extension " OID_TCG);
	out->tag = tag.value;
	out->evidence = ev.data;
	out->evidence_len = (size_t)ev.value;
	out->claims = claims.data;
	out->claims_len = (size_t)claims.value;
	return 0;
}

/* ---- loading a certificate ---- */

static bool is_space(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static X509 *der_load(const uint8_t *der, size_t len, struct cc_error **err)
{
	if (len > ATTEST_RATLS_CERT_MAX)
		return cc_error_set(err, 0, PREFIX ": %zu bytes of DER, more than %u", len,
				    ATTEST_RATLS_CERT_MAX),
		       NULL;
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)len);
	ERR_clear_error();
	if (!x)
		return cc_error_set(err, 0, PREFIX ": not an X.509 certificate (DER or PEM)"), NULL;
	if (p != der + len) {
		X509_free(x);
		size_t extra = (size_t)(der + len - p);
		return cc_error_set(err, 0, PREFIX ": %zu byte%s after the DER certificate", extra,
				    extra == 1 ? "" : "s"),
		       NULL;
	}
	return x;
}

/* The PEM block starting at buf[begin]: whitespace or NUL bytes may follow it, nothing else. */
static X509 *pem_load(const uint8_t *buf, size_t len, size_t begin, struct cc_error **err)
{
	const uint8_t *e = memmem(buf + begin, len - begin, PEM_END, strlen(PEM_END));
	if (!e)
		return cc_error_set(err, 0, PREFIX ": PEM: no \"%s\"", PEM_END), NULL;
	size_t end = (size_t)(e - buf) + strlen(PEM_END);
	for (size_t i = end; i < len; i++)
		if (buf[i] && !is_space(buf[i]))
			return cc_error_set(err, 0,
					    PREFIX ": PEM: offset %zu: only whitespace or NUL "
						   "bytes may follow the certificate",
					    i),
			       NULL;
	/* The reader wants the END line to end with a newline. */
	_cleanup_free_ char *copy = xmalloc(end - begin + 1);
	memcpy(copy, buf + begin, end - begin);
	copy[end - begin] = '\n';
	BIO *bio = BIO_new_mem_buf(copy, (int)(end - begin + 1));
	char *label = NULL, *header = NULL;
	unsigned char *der = NULL;
	long der_len = 0;
	if (!bio)
		abort(); /* only allocation fails here */
	bool ok = PEM_read_bio_ex(bio, &label, &header, &der, &der_len, PEM_FLAG_ONLY_B64) == 1 &&
		  !strcmp(label, "CERTIFICATE") && !*header;
	ERR_clear_error();
	BIO_free(bio);
	X509 *x = ok ? der_load(der, (size_t)der_len, err) : NULL;
	if (!ok)
		cc_error_set(err, 0, PREFIX ": PEM: not a base64 CERTIFICATE block");
	OPENSSL_free(label);
	OPENSSL_free(header);
	OPENSSL_free(der);
	return x;
}

static X509 *cert_load(const uint8_t *buf, size_t len, struct cc_error **err)
{
	size_t i = 0;
	if (len > ATTEST_RATLS_INPUT_MAX)
		return cc_error_set(err, 0, PREFIX ": %zu bytes, more than %u", len,
				    ATTEST_RATLS_INPUT_MAX),
		       NULL;
	while (i < len && is_space(buf[i]))
		i++;
	if (len - i >= strlen(PEM_BEGIN) && !memcmp(buf + i, PEM_BEGIN, strlen(PEM_BEGIN)))
		return pem_load(buf, len, i, err);
	return der_load(buf, len, err);
}

/* ---- verification ---- */

/* An evidence extension as found in the certificate. */
struct found {
	enum ext_kind kind;
	bool gramine_oid, critical;
	const uint8_t *value;
	size_t len;
};

/* What the steps share. */
struct verify {
	X509 *x;
	const struct attest_evidence_opts *o;
	unsigned char *spki; /* DER SubjectPublicKeyInfo */
	int spki_len;
	uint8_t spki_sha256[32];
	bool rsa;
	uint8_t pkcs1_sha256[32]; /* rsa: of the RSAPublicKey (the BIT STRING's contents) */
	struct found ext[ATTEST_RATLS_EXT_MAX];
	size_t n_ext;
	bool has_tcg;
	struct attest_ratls_tcg tcg;
	enum attest_ratls_format tcg_format;
	struct attest_ratls_claims claims;
	uint8_t claims_sha256[32];
};

static int check_validity(X509 *x, time_t now, struct attest_ratls_result *r, struct cc_error **err)
{
	char when[ATTEST_TIME_BUF];
	if (!attest_asn1_time(X509_get0_notBefore(x), &r->not_before) ||
	    !attest_asn1_time(X509_get0_notAfter(x), &r->not_after))
		return cc_error_set(err, 0, PREFIX ": validity not readable");
	if (now < r->not_before) {
		attest_time_str(r->not_before, when);
		return cc_error_set(err, 0, PREFIX ": not valid before %s", when);
	}
	if (now >= r->not_after) {
		attest_time_str(r->not_after, when);
		return cc_error_set(err, 0, PREFIX ": expired at %s", when);
	}
	return 0;
}

/* The key's encodings the bindings hash. */
static int key_hashes(struct verify *v, struct cc_error **err)
{
	const X509_PUBKEY *pub = X509_get_X509_PUBKEY(v->x);
	const unsigned char *pk = NULL;
	int pk_len = 0;
	ASN1_OBJECT *alg = NULL;
	v->spki_len = pub ? i2d_X509_PUBKEY(pub, &v->spki) : -1;
	if (v->spki_len <= 0 || !X509_PUBKEY_get0_param(&alg, &pk, &pk_len, NULL, pub)) {
		ERR_clear_error();
		return cc_error_set(err, 0, PREFIX ": SubjectPublicKeyInfo not readable");
	}
	SHA256(v->spki, (size_t)v->spki_len, v->spki_sha256);
	v->rsa = OBJ_obj2nid(alg) == NID_rsaEncryption;
	if (v->rsa)
		SHA256(pk, (size_t)pk_len, v->pkcs1_sha256);
	return 0;
}

/* Steps 1 to 3 of ratls.h for a parsed certificate, and the key's hashes. */
static int check_cert(struct verify *v, struct attest_ratls_result *r, struct cc_error **err)
{
	int der_len = i2d_X509(v->x, NULL);
	if (der_len <= 0 || (unsigned)der_len > ATTEST_RATLS_CERT_MAX) {
		ERR_clear_error();
		return cc_error_set(err, 0, PREFIX ": %d bytes of DER, more than %u", der_len,
				    ATTEST_RATLS_CERT_MAX);
	}
	EVP_PKEY *key = X509_get0_pubkey(v->x);
	bool ok = key && X509_verify(v->x, key) == 1;
	ERR_clear_error();
	if (!key)
		return cc_error_set(err, 0, PREFIX ": its public key is not readable");
	if (!ok)
		return cc_error_set(err, 0,
				    PREFIX ": self-signature does not verify with the "
					   "certificate's key");
	int md, pk, bits = 0;
	uint32_t flags;
	if (X509_get_signature_info(v->x, &md, &pk, &bits, &flags) != 1)
		bits = 0;
	ERR_clear_error();
	r->signature_bits = bits;
	r->weak_signature = bits < 80;
	if (check_validity(v->x, v->o->quote.now, r, err) < 0)
		return -1;
	if (key_hashes(v, err) < 0)
		return -1;
	memcpy(r->spki_sha256, v->spki_sha256, 32);
	return 0;
}

static bool oid_is(const ASN1_OBJECT *o, const uint8_t *der, size_t len)
{
	return (size_t)OBJ_length(o) == len && !memcmp(OBJ_get0_data(o), der, len);
}

/* Step 4: the evidence extensions, each kind once. */
static int find_exts(struct verify *v, struct cc_error **err)
{
	bool seen[3] = { false };
	for (int i = 0; i < X509_get_ext_count(v->x); i++) {
		X509_EXTENSION *e = X509_get_ext(v->x, i);
		const ASN1_OBJECT *o = X509_EXTENSION_get_object(e);
		struct found f = { .critical = X509_EXTENSION_get_critical(e) > 0 };
		if (oid_is(o, oid_tcg, sizeof(oid_tcg))) {
			f.kind = EXT_TCG;
		} else if (oid_is(o, oid_legacy, sizeof(oid_legacy))) {
			f.kind = EXT_LEGACY;
		} else if (oid_is(o, oid_legacy_gramine, sizeof(oid_legacy_gramine))) {
			f.kind = EXT_LEGACY;
			f.gramine_oid = true;
		} else if (oid_is(o, oid_sgx_sdk, sizeof(oid_sgx_sdk))) {
			f.kind = EXT_SGX_SDK;
		} else {
			continue;
		}
		if (seen[f.kind])
			return cc_error_set(err, 0, PREFIX ": extension %s given twice",
					    ext_oid[f.kind]);
		seen[f.kind] = true;
		const ASN1_OCTET_STRING *data = X509_EXTENSION_get_data(e);
		f.value = ASN1_STRING_get0_data(data);
		f.len = (size_t)ASN1_STRING_length(data);
		v->ext[v->n_ext++] = f;
	}
	if (!v->n_ext)
		return cc_error_set(err, 0,
				    PREFIX ": no evidence extension (" OID_TCG ", " OID_LEGACY
					   " or " OID_SGX_SDK ")");
	if (seen[EXT_SGX_SDK] && !seen[EXT_TCG])
		return cc_error_set(err, 0,
				    PREFIX ": extension " OID_SGX_SDK
					   ": its quote binds only through the claims of a " OID_TCG
					   " extension, which the certificate lacks");
	v->has_tcg = seen[EXT_TCG];
	return 0;
}

/* Step 5: the 2.23.133.5.4.9 extension's CBOR, its tag and its claims. */
static int parse_tcg(struct verify *v, const struct found *f, struct cc_error **err)
{
	if (attest_ratls_tcg_parse(f->value, f->len, &v->tcg, err) < 0)
		return cc_error_prefix(err, PREFIX);
	switch (v->tcg.tag) {
	case ATTEST_RATLS_TAG_SGX_QUOTE:
		v->tcg_format = ATTEST_RATLS_TCG_QUOTE;
		break;
	case ATTEST_RATLS_TAG_SIMULATED:
		v->tcg_format = ATTEST_RATLS_TCG_SIMULATED;
		break;
	case ATTEST_RATLS_TAG_TEE_REPORT:
	case ATTEST_RATLS_TAG_SGX_REPORT:
		return cc_error_set(err, 0,
				    PREFIX ": extension " OID_TCG ": CBOR tag %llu (an Intel %s) "
					   "is not supported: only quotes (tag 60000) are",
				    (unsigned long long)v->tcg.tag,
				    v->tcg.tag == ATTEST_RATLS_TAG_TEE_REPORT ? "TEE report"
									      : "SGX report");
	default:
		return cc_error_set(err, 0,
				    PREFIX ": extension " OID_TCG ": CBOR tag %llu is not an "
					   "evidence tag known here (60000: an SGX quote, "
					   "1920298597: simulated evidence)",
				    (unsigned long long)v->tcg.tag);
	}
	if (attest_ratls_claims_parse(v->tcg.claims, v->tcg.claims_len, &v->claims, err) < 0)
		return cc_error_prefix(err, PREFIX ": extension " OID_TCG);
	SHA256(v->tcg.claims, v->tcg.claims_len, v->claims_sha256);
	return 0;
}

static int rest_zero(const uint8_t rd[64], const char *oid, struct cc_error **err)
{
	static const uint8_t zero[32];
	if (memcmp(rd + 32, zero, 32)) {
		char h[65];
		cc_hex_encode(rd + 32, 32, h);
		return cc_error_set(
		    err, 0, PREFIX ": extension %s: report_data[32:64] is not zero (%s)", oid, h);
	}
	return 0;
}

static int bind_claims(const struct verify *v, const uint8_t rd[64], const char *oid,
		       struct cc_error **err)
{
	char want[65], got[65];
	if (memcmp(rd, v->claims_sha256, 32)) {
		cc_hex_encode(v->claims_sha256, 32, want);
		cc_hex_encode(rd, 32, got);
		return cc_error_set(err, 0,
				    PREFIX ": extension %s: report_data does not bind the claims "
					   "(SHA-256 of the claims is %s, report_data[0:32] is %s)",
				    oid, want, got);
	}
	return rest_zero(rd, oid, err);
}

/* The legacy binding: SHA-256 of the SPKI, or for RSA keys of the RSAPublicKey. */
static int bind_key(const struct verify *v, const uint8_t rd[64], enum attest_ratls_binding *b,
		    struct cc_error **err)
{
	char spki[65], pkcs1[65], got[65];
	if (!memcmp(rd, v->spki_sha256, 32))
		*b = ATTEST_RATLS_BIND_SPKI;
	else if (v->rsa && !memcmp(rd, v->pkcs1_sha256, 32))
		*b = ATTEST_RATLS_BIND_RSA_PKCS1;
	else {
		cc_hex_encode(v->spki_sha256, 32, spki);
		cc_hex_encode(v->pkcs1_sha256, 32, pkcs1);
		cc_hex_encode(rd, 32, got);
		return cc_error_set(err, 0,
				    PREFIX ": extension " OID_LEGACY ": report_data does not bind "
					   "the certificate's key (SHA-256 of its "
					   "SubjectPublicKeyInfo is %s%s%s, report_data[0:32] "
					   "is %s)",
				    spki, v->rsa ? ", of its RSAPublicKey " : "",
				    v->rsa ? pkcs1 : "", got);
	}
	return rest_zero(rd, OID_LEGACY, err);
}

static int check_pubkey_hash(const struct verify *v, struct cc_error **err)
{
	const struct attest_ratls_claims *c = &v->claims;
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	if (EVP_Digest(v->spki, (size_t)v->spki_len, md, &md_len, hash_md(c->pubkey_hash_alg),
		       NULL) != 1)
		abort(); /* only allocation fails here */
	if (md_len == c->pubkey_hash_len && !memcmp(md, c->pubkey_hash, md_len))
		return 0;
	char want[2 * EVP_MAX_MD_SIZE + 1], got[2 * EVP_MAX_MD_SIZE + 1];
	cc_hex_encode(md, md_len, want);
	cc_hex_encode(c->pubkey_hash, c->pubkey_hash_len, got);
	return cc_error_set(err, 0,
			    PREFIX ": extension " OID_TCG ": pubkey-hash does not match the "
				   "certificate's key (%s of its SubjectPublicKeyInfo is %s, "
				   "pubkey-hash is %s)",
			    hash_name(c->pubkey_hash_alg), want, got);
}

/* Step 6 for one extension: its evidence, its binding, pubkey-hash. */
static int verify_ext(const struct verify *v, const struct found *f, struct attest_ratls_ext *out,
		      struct cc_error **err)
{
	const uint8_t *ev = f->kind == EXT_TCG ? v->tcg.evidence : f->value;
	size_t ev_len = f->kind == EXT_TCG ? v->tcg.evidence_len : f->len;
	const char *oid = ext_oid[f->kind];
	out->format = f->kind == EXT_TCG      ? v->tcg_format
		      : f->kind == EXT_LEGACY ? ATTEST_RATLS_LEGACY_QUOTE
					      : ATTEST_RATLS_SGX_SDK_QUOTE;
	out->gramine_oid = f->gramine_oid;
	out->critical = f->critical;
	SHA256(ev, ev_len, out->evidence_sha256);
	bool sim =
	    ev_len >= ATTEST_SIM_MAGIC_LEN && !memcmp(ev, ATTEST_SIM_MAGIC, ATTEST_SIM_MAGIC_LEN);
	if (out->format == ATTEST_RATLS_TCG_SIMULATED && !sim)
		return cc_error_set(err, 0,
				    PREFIX ": extension %s: CBOR tag 1920298597 holds no "
					   "simulated (SIMTEE01) evidence",
				    oid);
	if (out->format != ATTEST_RATLS_TCG_SIMULATED && sim)
		return cc_error_set(err, 0,
				    PREFIX ": extension %s: simulated evidence (SIMTEE01) is "
					   "accepted only under the private CBOR tag 1920298597 "
					   "of " OID_TCG,
				    oid);
	if (attest_evidence_verify(ev, ev_len, v->o, &out->evidence, err) < 0)
		return cc_error_prefix(err, PREFIX ": extension %s", oid);
	const uint8_t *rd = out->evidence.enclave.report_data;
	if (f->kind == EXT_LEGACY)
		return bind_key(v, rd, &out->binding, err);
	out->binding = ATTEST_RATLS_BIND_CLAIMS;
	if (bind_claims(v, rd, oid, err) < 0)
		return -1;
	return f->kind == EXT_TCG ? check_pubkey_hash(v, err) : 0;
}

/* The custom claims, copied: names NUL-terminated. */
static void copy_claims(const struct attest_ratls_claims *c, struct attest_ratls_result *r)
{
	size_t total = 1;
	for (size_t i = 0; i < c->n_claims; i++)
		total += c->claim[i].name_len + 1 + c->claim[i].len;
	uint8_t *p = r->owned = xzalloc(total);
	r->pubkey_hash_alg = c->pubkey_hash_alg;
	r->has_claims = true;
	for (size_t i = 0; i < c->n_claims; i++) {
		const struct attest_ratls_claim_ref *ref = &c->claim[i];
		r->claims[i].name = (const char *)p;
		memcpy(p, ref->name, ref->name_len);
		p += ref->name_len + 1;
		r->claims[i].value = p;
		r->claims[i].len = ref->len;
		if (ref->len)
			memcpy(p, ref->value, ref->len);
		p += ref->len;
	}
	r->n_claims = c->n_claims;
}

static int verify_steps(struct verify *v, struct attest_ratls_result *r, struct cc_error **err)
{
	if (check_cert(v, r, err) < 0 || find_exts(v, err) < 0)
		return -1;
	for (size_t i = 0; i < v->n_ext; i++)
		if (v->ext[i].kind == EXT_TCG && parse_tcg(v, &v->ext[i], err) < 0)
			return -1;
	for (size_t i = 0; i < v->n_ext; i++) {
		r->n_ext = i + 1; /* cleared by attest_ratls_result_clear also on failure */
		if (verify_ext(v, &v->ext[i], &r->ext[i], err) < 0)
			return -1;
	}
	for (size_t i = 0; i < r->n_ext; i++) {
		r->simulated |= r->ext[i].evidence.simulated;
		r->debug |= r->ext[i].evidence.debug;
	}
	if (v->has_tcg)
		copy_claims(&v->claims, r);
	return 0;
}

int attest_ratls_verify_cert(struct x509_st *cert, const struct attest_evidence_opts *o,
			     struct attest_ratls_result *r, struct cc_error **err)
{
	struct verify v = { .x = cert, .o = o };
	memset(r, 0, sizeof(*r));
	int ret = verify_steps(&v, r, err);
	OPENSSL_free(v.spki);
	if (ret < 0) /* nothing half-verified is left for a caller to appraise */
		attest_ratls_result_clear(r);
	return ret;
}

int attest_ratls_verify(const void *buf, size_t len, const struct attest_evidence_opts *o,
			struct attest_ratls_result *r, struct cc_error **err)
{
	memset(r, 0, sizeof(*r));
	X509 *x = cert_load(buf, len, err);
	if (!x)
		return -1;
	int ret = attest_ratls_verify_cert(x, o, r, err);
	X509_free(x);
	return ret;
}

int attest_ratls_appraise(const struct attest_policy *p, const struct attest_ratls_result *r,
			  struct cc_error **err)
{
	if (!r->n_ext)
		return cc_error_set(err, 0, PREFIX ": no verified evidence to appraise");
	for (size_t i = 0; i < r->n_ext; i++)
		if (attest_appraise(p, &r->ext[i].evidence, err) < 0)
			return cc_error_prefix(err, PREFIX ": extension %s",
					       format_oid(r->ext[i].format));
	return 0;
}

void attest_ratls_result_clear(struct attest_ratls_result *r)
{
	for (size_t i = 0; i < r->n_ext && i < ATTEST_RATLS_EXT_MAX; i++)
		attest_evidence_result_clear(&r->ext[i].evidence);
	free(r->owned);
	memset(r, 0, sizeof(*r));
}

/* ---- making one ---- */

EVP_PKEY *attest_ratls_key_new(struct cc_error **err)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	ERR_clear_error();
	if (!k)
		cc_error_set(err, 0, PREFIX ": cannot generate an ECDSA P-256 key");
	return k;
}

static int check_claim(const struct attest_ratls_make_opts *o, size_t i, struct cc_error **err)
{
	const struct attest_ratls_claim *c = &o->claims[i];
	size_t n = c->name ? strlen(c->name) : 0;
	if (!n || n > ATTEST_RATLS_CLAIM_NAME_MAX)
		return cc_error_set(err, 0, PREFIX ": claim %zu: a name of 1 to %d bytes expected",
				    i + 1, ATTEST_RATLS_CLAIM_NAME_MAX);
	char shown[CC_SHOWN_BUF];
	cc_shown(c->name, n, shown);
	if (!strcmp(c->name, PUBKEY_HASH))
		return cc_error_set(err, 0,
				    PREFIX ": claim %zu: \"" PUBKEY_HASH "\" is the binding's "
					   "own, not a custom claim",
				    i + 1);
	for (size_t k = 0; k < i; k++)
		if (!strcmp(o->claims[k].name, c->name))
			return cc_error_set(err, 0, PREFIX ": claim \"%s\" given twice", shown);
	if (c->len && !c->value)
		return cc_error_set(err, 0, PREFIX ": claim \"%s\": no value", shown);
	return 0;
}

static int check_make_opts(const struct attest_ratls_make_opts *o, struct cc_error **err)
{
	size_t cn = o->subject_cn ? strlen(o->subject_cn) : 0;
	if (!attest_is_p256(o->key))
		return cc_error_set(err, 0, PREFIX ": the key is not an ECDSA P-256 key");
	if (!cn || cn > CN_MAX)
		return cc_error_set(err, 0, PREFIX ": a subject CN of 1 to %d bytes expected",
				    CN_MAX);
	if (o->not_before >= o->not_after)
		return cc_error_set(err, 0, PREFIX ": notBefore is not before notAfter");
	if (!o->evidence)
		return cc_error_set(err, 0, PREFIX ": no evidence callback");
	if (o->n_claims > ATTEST_RATLS_CLAIMS_MAX)
		return cc_error_set(err, 0, PREFIX ": %zu custom claims, more than %d", o->n_claims,
				    ATTEST_RATLS_CLAIMS_MAX);
	for (size_t i = 0; i < o->n_claims; i++)
		if (check_claim(o, i, err) < 0)
			return -1;
	return 0;
}

/* { "pubkey-hash": bstr([1, SHA-256(SPKI)]), custom claims } */
static void claims_build(const struct attest_ratls_make_opts *o, const uint8_t spki_sha256[32],
			 struct attest_cbor_writer *w)
{
	struct attest_cbor_writer hash = { 0 };
	attest_cbor_put_head(&hash, ATTEST_CBOR_ARRAY, 2);
	attest_cbor_put_head(&hash, ATTEST_CBOR_UINT, ATTEST_RATLS_HASH_SHA256);
	attest_cbor_put_string(&hash, ATTEST_CBOR_BSTR, spki_sha256, 32);
	attest_cbor_put_head(w, ATTEST_CBOR_MAP, 1 + o->n_claims);
	attest_cbor_put_string(w, ATTEST_CBOR_TSTR, PUBKEY_HASH, strlen(PUBKEY_HASH));
	attest_cbor_put_string(w, ATTEST_CBOR_BSTR, hash.buf, hash.len);
	free(hash.buf);
	for (size_t i = 0; i < o->n_claims; i++) {
		const struct attest_ratls_claim *c = &o->claims[i];
		attest_cbor_put_string(w, ATTEST_CBOR_TSTR, c->name, strlen(c->name));
		attest_cbor_put_string(w, ATTEST_CBOR_BSTR, c->value, c->len);
	}
}

/* The extension's value: tag [evidence, claims] for claims made for the key. */
static int tcg_value(const struct attest_ratls_make_opts *o, struct attest_cbor_writer *w,
		     struct cc_error **err)
{
	uint8_t spki_sha256[32], rd[64] = { 0 };
	unsigned char *spki = NULL;
	int spki_len = i2d_PUBKEY(o->key, &spki);
	ERR_clear_error();
	if (spki_len <= 0)
		return cc_error_set(err, 0,
				    PREFIX ": the key's SubjectPublicKeyInfo cannot be "
					   "encoded");
	SHA256(spki, (size_t)spki_len, spki_sha256);
	OPENSSL_free(spki);
	struct attest_cbor_writer claims = { 0 };
	claims_build(o, spki_sha256, &claims);
	SHA256(claims.buf, claims.len, rd);
	_cleanup_free_ uint8_t *ev = NULL;
	size_t ev_len = 0;
	int ret = o->evidence(o->evidence_ctx, rd, &ev, &ev_len, err);
	if (ret < 0)
		cc_error_prefix(err, PREFIX);
	else if (!ev || !ev_len || ev_len > ATTEST_RATLS_CERT_MAX)
		ret = cc_error_set(err, 0,
				   PREFIX ": the evidence callback gave %zu bytes (1 to %u "
					  "expected)",
				   ev ? ev_len : 0, ATTEST_RATLS_CERT_MAX);
	if (ret == 0) {
		bool sim = ev_len >= ATTEST_SIM_MAGIC_LEN &&
			   !memcmp(ev, ATTEST_SIM_MAGIC, ATTEST_SIM_MAGIC_LEN);
		attest_cbor_put_head(w, ATTEST_CBOR_TAG,
				     sim ? ATTEST_RATLS_TAG_SIMULATED : ATTEST_RATLS_TAG_SGX_QUOTE);
		attest_cbor_put_head(w, ATTEST_CBOR_ARRAY, 2);
		attest_cbor_put_string(w, ATTEST_CBOR_BSTR, ev, ev_len);
		attest_cbor_put_string(w, ATTEST_CBOR_BSTR, claims.buf, claims.len);
	}
	free(claims.buf);
	return ret < 0 ? -1 : 0;
}

/* A random positive 128-bit serial number. */
static void set_serial(X509 *x)
{
	uint8_t b[16];
	if (RAND_bytes(b, sizeof(b)) != 1)
		abort();	     /* the system's random source is gone */
	b[0] = (b[0] & 0x7f) | 0x40; /* positive, and 16 bytes long */
	BIGNUM *bn = BN_bin2bn(b, sizeof(b), NULL);
	if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)))
		abort(); /* only allocation fails here */
	BN_free(bn);
}

static void add_ext(X509 *x, const char *oid_text, const uint8_t *value, size_t len)
{
	ASN1_OBJECT *oid = OBJ_txt2obj(oid_text, 1);
	ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
	if (!oid || !os || len > INT_MAX || ASN1_OCTET_STRING_set(os, value, (int)len) != 1)
		abort(); /* only allocation fails here */
	X509_EXTENSION *e = X509_EXTENSION_create_by_OBJ(NULL, oid, 0, os);
	if (!e || X509_add_ext(x, e, -1) != 1)
		abort();
	X509_EXTENSION_free(e);
	ASN1_OCTET_STRING_free(os);
	ASN1_OBJECT_free(oid);
}

/* The certificate around the extension's value, signed. NULL when signing fails. */
static X509 *cert_build(const struct attest_ratls_make_opts *o, const uint8_t *value, size_t len)
{
	static const uint8_t not_ca[] = { 0x30, 0x00 }; /* BasicConstraints: cA FALSE */
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	if (!x || !name || X509_set_version(x, X509_VERSION_3) != 1 ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
				       (const unsigned char *)o->subject_cn, -1, -1, 0) != 1 ||
	    X509_set_subject_name(x, name) != 1 || X509_set_issuer_name(x, name) != 1 ||
	    !ASN1_TIME_set(X509_getm_notBefore(x), o->not_before) ||
	    !ASN1_TIME_set(X509_getm_notAfter(x), o->not_after) || X509_set_pubkey(x, o->key) != 1)
		abort(); /* only allocation fails here: the options were checked */
	X509_NAME_free(name);
	set_serial(x);
	add_ext(x, "2.5.29.19", not_ca, sizeof(not_ca));
	add_ext(x, OID_TCG, value, len);
	if (X509_sign(x, o->key, EVP_sha256()) <= 0) {
		X509_free(x);
		x = NULL;
	}
	ERR_clear_error();
	return x;
}

X509 *attest_ratls_make(const struct attest_ratls_make_opts *o, struct cc_error **err)
{
	struct attest_cbor_writer value = { 0 };
	if (check_make_opts(o, err) < 0 || tcg_value(o, &value, err) < 0) {
		free(value.buf);
		return NULL;
	}
	X509 *x = cert_build(o, value.buf, value.len);
	free(value.buf);
	if (!x)
		return cc_error_set(err, 0, PREFIX ": signing failed (not a private key?)"), NULL;
	int der_len = i2d_X509(x, NULL);
	if (der_len <= 0 || (unsigned)der_len > ATTEST_RATLS_CERT_MAX) {
		X509_free(x);
		return cc_error_set(err, 0, PREFIX ": %d bytes of DER, more than %u", der_len,
				    ATTEST_RATLS_CERT_MAX),
		       NULL;
	}
	return x;
}

char *attest_ratls_pem(X509 *cert, struct cc_error **err)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data = NULL, *out = NULL;
	if (!bio)
		abort(); /* only allocation fails here */
	long n = PEM_write_bio_X509(bio, cert) == 1 ? BIO_get_mem_data(bio, &data) : 0;
	if (n > 0)
		out = xstrndup(data, (size_t)n);
	BIO_free(bio);
	ERR_clear_error();
	if (!out)
		cc_error_set(err, 0, PREFIX ": cannot be written as PEM");
	return out;
}
