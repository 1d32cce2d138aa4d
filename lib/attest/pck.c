// SPDX-License-Identifier: Apache-2.0
/* PCK certificates: PEM chains as quotes and collateral carry them, and the SGX extension
 * (1.2.840.113741.1.13.1) of the PCK leaf: a SEQUENCE of SEQUENCE { OID, value }, read with
 * OpenSSL's generic DER decoder one level at a time, each level bounded. */
#include <string.h>
#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include "attest/internal.h"
#include "attest/quote.h"
#include "util/cleanup.h"

/* Real extensions have 5 to 7 elements, a TCB 18, a configuration 3. */
#define EXT_ELEMENTS_MAX 16
#define TCB_ELEMENTS_MAX 32
#define CONF_ELEMENTS_MAX 8
/* A PEM certificate of Intel's is under 1.5 KiB. */
#define PEM_CERT_MAX (16u << 10)

#define PEM_BEGIN "-----BEGIN CERTIFICATE-----"
#define PEM_END "-----END CERTIFICATE-----"

/* 1.2.840.113741.1.13.1 in DER. */
static const uint8_t sgx_ext_oid[] = { 0x2a, 0x86, 0x48, 0x86, 0xf8, 0x4d, 0x01, 0x0d, 0x01 };
#define SGX_EXT_OID_TEXT "1.2.840.113741.1.13.1"

/* ---- certificates ---- */

void attest_cert_cn(const X509 *x, char out[CC_SHOWN_BUF])
{
	const X509_NAME *name = X509_get_subject_name(x);
	int i = name ? X509_NAME_get_index_by_NID(name, NID_commonName, -1) : -1;
	const ASN1_STRING *s =
	    i >= 0 ? X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)) : NULL;
	if (!s) {
		snprintf(out, CC_SHOWN_BUF, "(no CN)");
		return;
	}
	cc_shown((const char *)ASN1_STRING_get0_data(s), (size_t)ASN1_STRING_length(s), out);
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The one certificate of a PEM block (the block's bytes from BEGIN to END). The reader wants
 * the END line to end with a newline, which the last block of a chain may lack. */
static X509 *pem_cert(const char *block, size_t len)
{
	char *label = NULL, *header = NULL;
	unsigned char *der = NULL;
	long der_len = 0;
	X509 *x = NULL;
	_cleanup_free_ char *copy = xmalloc(len + 1);
	memcpy(copy, block, len);
	copy[len] = '\n';
	BIO *bio = BIO_new_mem_buf(copy, (int)len + 1);
	if (!bio)
		abort(); /* only allocation fails here */
	if (PEM_read_bio_ex(bio, &label, &header, &der, &der_len, PEM_FLAG_ONLY_B64) == 1 &&
	    !strcmp(label, "CERTIFICATE") && !*header) {
		const unsigned char *p = der;
		x = d2i_X509(NULL, &p, der_len);
		if (x && p != der + der_len) {
			X509_free(x);
			x = NULL;
		}
	}
	BIO_free(bio);
	OPENSSL_free(label);
	OPENSSL_free(header);
	OPENSSL_free(der);
	ERR_clear_error();
	return x;
}

int attest_pem_chain_parse(const char *pem, size_t len, X509 **out, size_t max, size_t *n,
			   struct cc_error **err)
{
	const char *p = pem, *end = pem + len;
	*n = 0;
	for (;;) {
		while (p < end && is_space(*p))
			p++;
		if (p < end && !*p) {
			while (p < end && (!*p || is_space(*p)))
				p++;
			if (p < end)
				return cc_error_set(err, 0, "bytes after a NUL at offset %zu",
						    (size_t)(p - pem));
		}
		if (p == end)
			break;
		if ((size_t)(end - p) < strlen(PEM_BEGIN) ||
		    memcmp(p, PEM_BEGIN, strlen(PEM_BEGIN)))
			return cc_error_set(err, 0, "offset %zu: \"%s\" expected",
					    (size_t)(p - pem), PEM_BEGIN);
		const char *e = memmem(p, (size_t)(end - p), PEM_END, strlen(PEM_END));
		if (!e)
			return cc_error_set(err, 0, "certificate %zu: no \"%s\"", *n + 1, PEM_END);
		e += strlen(PEM_END);
		if (*n == max)
			return cc_error_set(err, 0, "more than %zu certificates", max);
		if ((size_t)(e - p) > PEM_CERT_MAX)
			return cc_error_set(err, 0, "certificate %zu: more than %u bytes of PEM",
					    *n + 1, PEM_CERT_MAX);
		out[*n] = pem_cert(p, (size_t)(e - p));
		if (!out[*n])
			return cc_error_set(
			    err, 0, "certificate %zu: not a valid X.509 certificate", *n + 1);
		(*n)++;
		p = e;
	}
	return 0;
}

/* ---- the SGX extension ---- */

/* The elements of a DER SEQUENCE (all of der), NULL when it is not one or has more than max. */
static ASN1_SEQUENCE_ANY *seq_parse(const uint8_t *der, size_t len, int max)
{
	const unsigned char *p = der;
	if (len > INT32_MAX)
		return NULL;
	ASN1_SEQUENCE_ANY *s = d2i_ASN1_SEQUENCE_ANY(NULL, &p, (long)len);
	ERR_clear_error();
	if (s && (p != der + len || sk_ASN1_TYPE_num(s) > max)) {
		sk_ASN1_TYPE_pop_free(s, ASN1_TYPE_free);
		return NULL;
	}
	return s;
}

static void seq_freep(ASN1_SEQUENCE_ANY **s)
{
	sk_ASN1_TYPE_pop_free(*s, ASN1_TYPE_free);
}
#define _cleanup_seq_ __attribute__((cleanup(seq_freep)))

/* One SEQUENCE { OID, value } element whose OID is the SGX extension's OID plus arcs (one or
 * two arcs below 128): *arc1, *arc2 (0 when there is one arc), *value borrowed from *pair. *arc1
 * is 0 for an OID outside the extension's arc. */
static int ext_pair(const ASN1_TYPE *e, ASN1_SEQUENCE_ANY **pair, int *arc1, int *arc2,
		    const ASN1_TYPE **value)
{
	*arc1 = *arc2 = 0;
	if (ASN1_TYPE_get(e) != V_ASN1_SEQUENCE)
		return -1;
	*pair = seq_parse(e->value.sequence->data, (size_t)e->value.sequence->length, 2);
	if (!*pair || sk_ASN1_TYPE_num(*pair) != 2)
		return -1;
	const ASN1_TYPE *o = sk_ASN1_TYPE_value(*pair, 0);
	if (ASN1_TYPE_get(o) != V_ASN1_OBJECT)
		return -1;
	*value = sk_ASN1_TYPE_value(*pair, 1);
	const unsigned char *d = OBJ_get0_data(o->value.object);
	size_t n = OBJ_length(o->value.object), base = sizeof(sgx_ext_oid);
	if (n < base + 1 || n > base + 2 || memcmp(d, sgx_ext_oid, base))
		return 0;
	for (size_t i = base; i < n; i++)
		if (d[i] & 0x80)
			return 0;
	*arc1 = d[base];
	*arc2 = n == base + 2 ? d[base + 1] : 0;
	return 0;
}

static int octets(const ASN1_TYPE *v, uint8_t *out, size_t len, const char *what,
		  struct cc_error **err)
{
	if (ASN1_TYPE_get(v) != V_ASN1_OCTET_STRING ||
	    (size_t)ASN1_STRING_length(v->value.octet_string) != len)
		return cc_error_set(err, 0, "SGX extension: %s: expected a %zu-byte OCTET STRING",
				    what, len);
	memcpy(out, ASN1_STRING_get0_data(v->value.octet_string), len);
	return 0;
}

static int integer(const ASN1_TYPE *v, int type, int64_t max, int64_t *out, const char *what,
		   struct cc_error **err)
{
	int ok = 0;
	if (ASN1_TYPE_get(v) == type && type == V_ASN1_INTEGER)
		ok = ASN1_INTEGER_get_int64(out, v->value.integer);
	else if (ASN1_TYPE_get(v) == type && type == V_ASN1_ENUMERATED)
		ok = ASN1_ENUMERATED_get_int64(out, v->value.enumerated);
	ERR_clear_error();
	if (ok != 1 || *out < 0 || *out > max)
		return cc_error_set(err, 0, "SGX extension: %s: expected an %s in [0, %lld]", what,
				    type == V_ASN1_INTEGER ? "INTEGER" : "ENUMERATED",
				    (long long)max);
	return 0;
}

/* A bit set per arc seen, so that an element given twice is refused. */
static int once(uint64_t *seen, int arc, const char *what, struct cc_error **err)
{
	if (*seen & (UINT64_C(1) << arc))
		return cc_error_set(err, 0, "SGX extension: %s given twice", what);
	*seen |= UINT64_C(1) << arc;
	return 0;
}

static int tcb_element(int arc, const ASN1_TYPE *v, struct attest_pck_ext *out,
		       struct cc_error **err)
{
	char what[32];
	int64_t n;
	if (arc >= 1 && arc <= 16) {
		snprintf(what, sizeof(what), "TCB component %d", arc);
		if (integer(v, V_ASN1_INTEGER, 255, &n, what, err) < 0)
			return -1;
		out->sgx_svn[arc - 1] = (uint8_t)n;
	} else if (arc == 17) {
		if (integer(v, V_ASN1_INTEGER, UINT16_MAX, &n, "PCESVN", err) < 0)
			return -1;
		out->pcesvn = (uint16_t)n;
	} else if (arc == 18) {
		return octets(v, out->cpusvn, 16, "CPUSVN", err);
	}
	return 0;
}

typedef int (*pair_fn)(void *ctx, int arc1, int arc2, const ASN1_TYPE *value,
		       struct cc_error **err);

/* Each element of s, a SEQUENCE of { OID, value } pairs, to fn with the OID's arcs below the
 * SGX extension's (0 for another OID); where names s in messages ("", "TCB: "). */
static int each_pair(ASN1_SEQUENCE_ANY *s, const char *where, pair_fn fn, void *ctx,
		     struct cc_error **err)
{
	for (int i = 0; i < sk_ASN1_TYPE_num(s); i++) {
		_cleanup_seq_ ASN1_SEQUENCE_ANY *pair = NULL;
		const ASN1_TYPE *val = NULL;
		int a1, a2;
		if (ext_pair(sk_ASN1_TYPE_value(s, i), &pair, &a1, &a2, &val) < 0)
			return cc_error_set(err, 0,
					    "SGX extension: %selement %d: expected SEQUENCE "
					    "{ OID, value }",
					    where, i + 1);
		if (fn(ctx, a1, a2, val, err) < 0)
			return -1;
	}
	return 0;
}

/* A SEQUENCE inside the extension (the TCB, the configuration), at most max elements. */
static ASN1_SEQUENCE_ANY *nested(const ASN1_TYPE *v, int max, const char *where,
				 struct cc_error **err)
{
	ASN1_SEQUENCE_ANY *s = NULL;
	if (ASN1_TYPE_get(v) == V_ASN1_SEQUENCE)
		s = seq_parse(v->value.sequence->data, (size_t)v->value.sequence->length, max);
	if (!s)
		cc_error_set(err, 0, "SGX extension: %sexpected a SEQUENCE of at most %d elements",
			     where, max);
	return s;
}

/* Where a walk puts what it reads, and the arcs it has seen (each once). */
struct walk {
	struct attest_pck_ext *out;
	uint64_t seen;
};

static int tcb_pair(void *ctx, int a1, int a2, const ASN1_TYPE *val, struct cc_error **err)
{
	struct walk *w = ctx;
	if (a1 != 2 || a2 < 1 || a2 > 18)
		return 0; /* not a TCB element we know */
	char what[64];
	snprintf(what, sizeof(what), "TCB element " SGX_EXT_OID_TEXT ".2.%d", a2);
	if (once(&w->seen, a2, what, err) < 0)
		return -1;
	return tcb_element(a2, val, w->out, err);
}

/* The TCB (.2): components 1..16, PCESVN (.17) and CPUSVN (.18), all required. */
static int parse_tcb(const ASN1_TYPE *v, struct attest_pck_ext *out, struct cc_error **err)
{
	_cleanup_seq_ ASN1_SEQUENCE_ANY *s = nested(v, TCB_ELEMENTS_MAX, "TCB: ", err);
	struct walk w = { out, 0 };
	if (!s || each_pair(s, "TCB: ", tcb_pair, &w, err) < 0)
		return -1;
	for (int a = 1; a <= 18; a++) {
		if (w.seen & (UINT64_C(1) << a))
			continue;
		char what[32];
		if (a <= 16)
			snprintf(what, sizeof(what), "component %d", a);
		else
			snprintf(what, sizeof(what), "%s", a == 17 ? "PCESVN" : "CPUSVN");
		return cc_error_set(
		    err, 0, "SGX extension: TCB: %s (" SGX_EXT_OID_TEXT ".2.%d) missing", what, a);
	}
	return 0;
}

/* The configuration (.7): BOOLEANs .7.1 dynamic platform, .7.2 cached keys, .7.3 SMT. */
static int conf_pair(void *ctx, int a1, int a2, const ASN1_TYPE *val, struct cc_error **err)
{
	struct attest_pck_ext *out = ctx;
	bool *flags[] = { &out->dynamic_platform, &out->cached_keys, &out->smt_enabled };
	if (a1 != 7 || a2 < 1 || a2 > 3)
		return 0;
	if (ASN1_TYPE_get(val) != V_ASN1_BOOLEAN)
		return cc_error_set(err, 0, "SGX extension: configuration %d: expected a BOOLEAN",
				    a2);
	*flags[a2 - 1] = val->value.boolean != 0;
	return 0;
}

static int parse_configuration(const ASN1_TYPE *v, struct attest_pck_ext *out,
			       struct cc_error **err)
{
	_cleanup_seq_ ASN1_SEQUENCE_ANY *s = nested(v, CONF_ELEMENTS_MAX, "configuration: ", err);
	if (!s || each_pair(s, "configuration: ", conf_pair, out, err) < 0)
		return -1;
	out->has_configuration = true;
	return 0;
}

static const char *const element_names[] = {
	NULL, "PPID", "TCB", "PCE-ID", "FMSPC", "SGX type", "platform instance ID", "configuration",
};

static int ext_element(int arc, const ASN1_TYPE *v, struct attest_pck_ext *out,
		       struct cc_error **err)
{
	int64_t n;
	switch (arc) {
	case 1:
		return octets(v, out->ppid, 16, "PPID", err);
	case 2:
		return parse_tcb(v, out, err);
	case 3:
		return octets(v, out->pceid, 2, "PCE-ID", err);
	case 4:
		return octets(v, out->fmspc, 6, "FMSPC", err);
	case 5:
		if (integer(v, V_ASN1_ENUMERATED, 2, &n, "SGX type", err) < 0)
			return -1;
		out->sgx_type = (int)n;
		return 0;
	case 6:
		out->has_platform_instance_id = true;
		return octets(v, out->platform_instance_id, 16, "platform instance ID", err);
	default:
		return parse_configuration(v, out, err);
	}
}

static int ext_pair_element(void *ctx, int a1, int a2, const ASN1_TYPE *val, struct cc_error **err)
{
	struct walk *w = ctx;
	if (a1 < 1 || a1 > 7 || a2)
		return 0; /* an element this code does not know: Intel may add some */
	if (once(&w->seen, a1, element_names[a1], err) < 0)
		return -1;
	return ext_element(a1, val, w->out, err);
}

int attest_pck_ext_parse_der(const uint8_t *der, size_t len, struct attest_pck_ext *out,
			     struct cc_error **err)
{
	_cleanup_seq_ ASN1_SEQUENCE_ANY *s = seq_parse(der, len, EXT_ELEMENTS_MAX);
	memset(out, 0, sizeof(*out));
	out->sgx_type = -1;
	if (!s)
		return cc_error_set(err, 0,
				    "SGX extension: expected a DER SEQUENCE of at most %d "
				    "elements",
				    EXT_ELEMENTS_MAX);
	struct walk w = { out, 0 };
	if (each_pair(s, "", ext_pair_element, &w, err) < 0)
		return -1;
	uint64_t seen = w.seen;
	static const int required[] = { 2, 3, 4 };
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
		if (!(seen & (UINT64_C(1) << required[i])))
			return cc_error_set(err, 0,
					    "SGX extension: %s (" SGX_EXT_OID_TEXT ".%d) "
					    "missing",
					    element_names[required[i]], required[i]);
	return 0;
}

int attest_pck_ext_parse(const struct x509_st *cert, struct attest_pck_ext *out,
			 struct cc_error **err)
{
	ASN1_OBJECT *oid = OBJ_txt2obj(SGX_EXT_OID_TEXT, 1);
	if (!oid)
		abort(); /* only allocation fails here */
	int i = X509_get_ext_by_OBJ(cert, oid, -1);
	int again = i >= 0 ? X509_get_ext_by_OBJ(cert, oid, i) : -1;
	ASN1_OBJECT_free(oid);
	if (i < 0)
		return cc_error_set(err, 0, "SGX extension (" SGX_EXT_OID_TEXT ") missing");
	if (again >= 0)
		return cc_error_set(err, 0, "SGX extension (" SGX_EXT_OID_TEXT ") given twice");
	const ASN1_OCTET_STRING *v = X509_EXTENSION_get_data(X509_get_ext(cert, i));
	return attest_pck_ext_parse_der(ASN1_STRING_get0_data(v), (size_t)ASN1_STRING_length(v),
					out, err);
}
