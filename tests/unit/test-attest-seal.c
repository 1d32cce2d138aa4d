// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for lib/attest's simulated sealing keys (seal.h): the KEYREQUEST layout both ways
 * and its refusals; the derivation against an independent computation of the formula in
 * seal.h (OpenSSL's HKDF called here with the info built field by field); and EGETKEY's
 * contract: the same request from the same enclave gives the same key, MRENCLAVE policy ties it
 * to the enclave, MRSIGNER policy to the signer and the product (unless NOISVPRODID), debug and
 * production never share one, SVNs may go down but not up; the machine secret is the same for
 * the same key file and differs between machines.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include "attest-helpers.h"
#include "attest/seal.h"
#include "enclave/sgx_report.h"

static const uint8_t secret[32] = {
	1,  2,	3,  4,	5,  6,	7,  8,	9,  10, 11, 12, 13, 14, 15, 16,
	17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32
};

static struct attest_sgx_report enclave(uint8_t mr, uint8_t signer, uint16_t prod, uint16_t svn)
{
	struct attest_sgx_report e = { .isvprodid = prod,
				       .isvsvn = svn,
				       .flags = SGX_FLAGS_INIT | SGX_FLAGS_MODE64BIT,
				       .xfrm = 3,
				       .miscselect = 0 };
	memset(e.mrenclave, mr, 32);
	memset(e.mrsigner, signer, 32);
	return e;
}

static struct attest_keyrequest request(uint16_t policy, uint16_t svn)
{
	struct attest_keyrequest r = { .key_name = ATTEST_KEYNAME_SEAL,
				       .key_policy = policy,
				       .isv_svn = svn,
				       .flags_mask = ~UINT64_C(0),
				       .misc_mask = ~UINT32_C(0) };
	memset(r.key_id, 0x42, sizeof(r.key_id));
	return r;
}

static void key_of(const struct attest_sgx_report *e, const struct attest_keyrequest *r,
		   uint8_t key[16])
{
	struct cc_error *err = NULL;
	ok(attest_sim_egetkey(secret, e, r, key, &err), &err);
}

static void test_keyrequest_layout(void **state)
{
	(void)state;
	struct cc_error *err = NULL;
	struct attest_keyrequest r = request(ATTEST_KEYPOLICY_MRSIGNER, 7), back;
	r.config_svn = 3;
	r.cpu_svn[0] = 9;
	r.xfrm_mask = 0x1b;
	uint8_t b[ATTEST_KEYREQUEST_SIZE];
	attest_keyrequest_encode(&r, b);
	/* The offsets of sgx_key_request_t, written out. */
	assert_int_equal(b[0] | b[1] << 8, 4);
	assert_int_equal(b[2] | b[3] << 8, 2);
	assert_int_equal(b[4] | b[5] << 8, 7);
	assert_int_equal(b[8], 9);
	assert_int_equal(b[24], 0xff);
	assert_int_equal(b[32], 0x1b);
	assert_int_equal(b[40], 0x42);
	assert_int_equal(b[71], 0x42);
	assert_int_equal(b[72], 0xff);
	assert_int_equal(b[76] | b[77] << 8, 3);
	ok(attest_keyrequest_decode(b, sizeof(b), &back, &err), &err);
	assert_memory_equal(&back, &r, sizeof(r));

	assert_int_equal(attest_keyrequest_decode(b, 511, &back, &err), -1);
	expect_err(&err, "key request: 511 bytes, not 512");
	b[0] = 3;
	assert_int_equal(attest_keyrequest_decode(b, sizeof(b), &back, &err), -1);
	expect_err(&err, "key request: key name 3 is not simulated here (only SEAL, 4)");
	b[0] = 4;
	b[2] = 0x8;
	assert_int_equal(attest_keyrequest_decode(b, sizeof(b), &back, &err), -1);
	expect_err(&err, "key request: key policy 0x8 has bits this simulation does not know "
			 "(MRENCLAVE 0x1, MRSIGNER 0x2, NOISVPRODID 0x4)");
	b[2] = 0x2;
	b[100] = 1;
	assert_int_equal(attest_keyrequest_decode(b, sizeof(b), &back, &err), -1);
	expect_err(&err, "key request: reserved bytes are not zero");
}

/* The formula of seal.h, computed here without lib/attest. */
static void independent(const struct attest_sgx_report *e, const struct attest_keyrequest *r,
			uint8_t key[16])
{
	uint8_t info[150] = { 0 };
	size_t n = 0;
#define LE(v, bytes)                                                      \
	do {                                                              \
		for (int i_ = 0; i_ < (bytes); i_++)                      \
			info[n++] = (uint8_t)((uint64_t)(v) >> (8 * i_)); \
	} while (0)
	LE(r->key_name, 2);
	LE(r->key_policy, 2);
	if (r->key_policy & 1)
		memcpy(info + n, e->mrenclave, 32);
	n += 32;
	if (r->key_policy & 2)
		memcpy(info + n, e->mrsigner, 32);
	n += 32;
	LE(r->key_policy & 4 ? 0 : e->isvprodid, 2);
	LE(r->isv_svn, 2);
	memcpy(info + n, r->cpu_svn, 16);
	n += 16;
	LE(r->config_svn, 2);
	LE(e->flags & (r->flags_mask | 3), 8);
	LE(e->xfrm & r->xfrm_mask, 8);
	LE(e->miscselect & r->misc_mask, 4);
	memcpy(info + n, r->key_id, 32);
	n += 32;
#undef LE
	assert_int_equal(n, 142);
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX *ctx = EVP_KDF_CTX_new(kdf);
	OSSL_PARAM p[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)secret, 32),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)"sim-sgx-egetkey-v1",
						  18),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, n),
		OSSL_PARAM_construct_end(),
	};
	assert_int_equal(EVP_KDF_derive(ctx, key, 16, p), 1);
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
}

static void test_formula(void **state)
{
	(void)state;
	uint8_t got[16], want[16];
	struct attest_sgx_report e = enclave(0xaa, 0xbb, 5, 2);
	e.miscselect = 0x11;
	struct attest_keyrequest r =
	    request(ATTEST_KEYPOLICY_MRENCLAVE | ATTEST_KEYPOLICY_MRSIGNER, 1);
	r.xfrm_mask = 0x2;
	r.misc_mask = 0x10;
	key_of(&e, &r, got);
	independent(&e, &r, want);
	assert_memory_equal(got, want, 16);
	r.key_policy = ATTEST_KEYPOLICY_MRSIGNER | ATTEST_KEYPOLICY_NOISVPRODID;
	r.flags_mask = 0;
	key_of(&e, &r, got);
	independent(&e, &r, want);
	assert_memory_equal(got, want, 16);
}

static void test_contract(void **state)
{
	(void)state;
	uint8_t a[16], b[16];
	struct cc_error *err = NULL;
	struct attest_sgx_report e = enclave(1, 9, 5, 2), other = enclave(2, 9, 5, 2);
	struct attest_keyrequest mre = request(ATTEST_KEYPOLICY_MRENCLAVE, 2),
				 mrs = request(ATTEST_KEYPOLICY_MRSIGNER, 2);

	/* Deterministic. */
	key_of(&e, &mre, a);
	key_of(&e, &mre, b);
	assert_memory_equal(a, b, 16);
	/* MRENCLAVE policy: another enclave, another key. */
	key_of(&other, &mre, b);
	assert_memory_not_equal(a, b, 16);
	/* MRSIGNER policy: another enclave of the same signer and product, the same key... */
	key_of(&e, &mrs, a);
	key_of(&other, &mrs, b);
	assert_memory_equal(a, b, 16);
	/* ...but not of another product, unless NOISVPRODID; nor of another signer. */
	struct attest_sgx_report prod = enclave(2, 9, 6, 2), signer = enclave(1, 8, 5, 2);
	key_of(&prod, &mrs, b);
	assert_memory_not_equal(a, b, 16);
	struct attest_keyrequest noprod =
	    request(ATTEST_KEYPOLICY_MRSIGNER | ATTEST_KEYPOLICY_NOISVPRODID, 2);
	key_of(&e, &noprod, a);
	key_of(&prod, &noprod, b);
	assert_memory_equal(a, b, 16);
	key_of(&e, &mrs, a);
	key_of(&signer, &mrs, b);
	assert_memory_not_equal(a, b, 16);
	/* Another KEYID, another key. */
	struct attest_keyrequest id2 = mre;
	id2.key_id[0] ^= 1;
	key_of(&e, &mre, a);
	key_of(&e, &id2, b);
	assert_memory_not_equal(a, b, 16);
	/* Debug and production never share a key, whatever the mask says. */
	struct attest_sgx_report dbg = e;
	dbg.flags |= SGX_FLAGS_DEBUG;
	struct attest_keyrequest nomask = mre;
	nomask.flags_mask = 0;
	key_of(&e, &nomask, a);
	key_of(&dbg, &nomask, b);
	assert_memory_not_equal(a, b, 16);
	/* SVNs: an update (ISVSVN 3) derives its predecessor's key; the predecessor cannot
	 * derive its successor's. */
	struct attest_sgx_report v3 = enclave(1, 9, 5, 3);
	key_of(&e, &mrs, a);  /* version 2, asking for 2 */
	key_of(&v3, &mrs, b); /* version 3, asking for 2 */
	assert_memory_equal(a, b, 16);
	struct attest_keyrequest up = request(ATTEST_KEYPOLICY_MRSIGNER, 3);
	assert_int_equal(attest_sim_egetkey(secret, &e, &up, a, &err), -1);
	expect_err(&err, "seal key: requested ISVSVN 3 is above the enclave's 2");
	up = mre;
	up.config_svn = 1;
	assert_int_equal(attest_sim_egetkey(secret, &e, &up, a, &err), -1);
	expect_err(&err, "seal key: requested CONFIGSVN 1 is above the enclave's 0");
	up = mre;
	up.cpu_svn[15] = 1;
	assert_int_equal(attest_sim_egetkey(secret, &e, &up, a, &err), -1);
	expect_err(&err, "seal key: requested CPUSVN 00000000000000000000000000000001 is above "
			 "the platform's 00000000000000000000000000000000");
	/* Another machine (secret), another key. */
	uint8_t other_secret[32];
	memcpy(other_secret, secret, 32);
	other_secret[0] ^= 1;
	key_of(&e, &mre, a);
	ok(attest_sim_egetkey(other_secret, &e, &mre, b, &err), &err);
	assert_memory_not_equal(a, b, 16);
}

static void test_machine_secret(void **state)
{
	(void)state;
	struct cc_error *err = NULL;
	char dir[] = "/tmp/test-attest-seal-XXXXXX";
	assert_non_null(mkdtemp(dir));
	_cleanup_free_ char *p1 = xasprintf("%s/a.pem", dir), *p2 = xasprintf("%s/b.pem", dir);
	struct attest_sim_key *k1 = attest_sim_key_open(p1, &err),
			      *k1again = k1 ? attest_sim_key_open(p1, &err) : NULL,
			      *k2 = k1again ? attest_sim_key_open(p2, &err) : NULL;
	if (!k2)
		fail_msg("%s", err->msg);
	uint8_t s1[32], s1again[32], s2[32];
	ok(attest_sim_seal_secret(k1, s1, &err), &err);
	ok(attest_sim_seal_secret(k1again, s1again, &err), &err);
	ok(attest_sim_seal_secret(k2, s2, &err), &err);
	assert_memory_equal(s1, s1again, 32);
	assert_memory_not_equal(s1, s2, 32);
	/* A public key has no secret to give. */
	_cleanup_free_ char *pem = attest_sim_key_public_pem(k1, &err);
	assert_non_null(pem);
	struct attest_sim_key *pub = attest_sim_key_from_pem(pem, strlen(pem), &err);
	assert_non_null(pub);
	assert_int_equal(attest_sim_seal_secret(pub, s2, &err), -1);
	expect_err(&err, "seal secret: simulated attestation key: a public key, not the private "
			 "key");
	attest_sim_key_free(pub);
	attest_sim_key_free(k1);
	attest_sim_key_free(k1again);
	attest_sim_key_free(k2);
	ok(cc_rm_rf(dir, &err), &err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keyrequest_layout),
		cmocka_unit_test(test_formula),
		cmocka_unit_test(test_contract),
		cmocka_unit_test(test_machine_secret),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
