// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for lib/attest's evidence (simulated SIMTEE01 and real quotes through one entry
 * point), local attestation and the appraisal policy. REPORTs are made here exactly as
 * include/enclave/sgx_report.h describes the skeleton's simulated backend, with libcrypto and
 * literal strings (not the library's code), and one comes from the real skeleton PAL, dlopened
 * from TEST_SKELETON_V3 or from the build tree next to this test. Simulated evidence made from
 * them verifies only when allowed and with the right key; every byte region tampered fails with
 * its exact message; each appraisal rule passes and refuses; local attestation accepts a REPORT
 * for its target and refuses one for another, altered or hardware one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include "attest-helpers.h"
#include "attest-skeleton.h"
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include "attest/appraise.h"
#include "attest/evidence.h"
#include "attest/local.h"
#include "enclave/pal_api.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/le.h"

/* The refusal, written out here rather than taken from the header. */
#define REFUSED                                                                             \
	"evidence: simulated evidence (SIMTEE01) is not accepted; allow it explicitly for " \
	"tests and development"
#define OCCLUM "trustee-occlum-quote.bin"
#define DCAP_SGX "dcap-qvl-sgx-quote.bin"
#define DCAP_SGX_COL "dcap-qvl-sgx-quote-collateral.json"
#define DCAP_TDX "dcap-qvl-tdx-quote.bin"
#define OCCLUM_MRENCLAVE "8f173e4613ff05c52aaf04162d234edae8c9977eae47eb2299ae16a553011c68"
#define OCCLUM_MRSIGNER "83d719e77deaca1470f6baf62a4d774303c899db69020f9c70ee1dfc08c7ce9e"
#define DCAP_MRENCLAVE "33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb"
#define JULY_2025 1751328000 /* 2025-07-01T00:00:00Z: the real quotes verify then */
#define MAC_MISMATCH                                                                          \
	"local attestation: REPORT MAC does not verify with this enclave's simulated report " \
	"key (made for another target, or altered)"
#define NOT_SIMULATED                                                                        \
	"local attestation: not a simulated REPORT (KEYID is not the skeleton's marker): a " \
	"hardware report key exists only in its CPU, this REPORT cannot be checked here"
#define LOCAL_REFUSED                                                                         \
	"local attestation: simulated REPORT is not accepted; allow it explicitly for tests " \
	"and development"

static char tmpdir[64];
static struct attest_sim_key *key; /* tmpdir/keys/sim.pem */

/* ---- helpers ---- */

static void sha256(const void *data, size_t len, uint8_t out[32])
{
	size_t n = 0;
	assert_int_equal(EVP_Q_digest(NULL, "SHA256", NULL, data, len, out, &n), 1);
	assert_int_equal(n, 32);
}

/* ---- REPORTs as the skeleton makes them (sgx_report.h), independently ---- */

/* MAC = AES-128-CMAC(HMAC-SHA256(root, "report-key" || target MRENCLAVE || KEYID)[:16], body). */
static void sim_mac(const uint8_t body[384], const uint8_t target_mr[32], uint8_t mac[16])
{
	uint8_t msg[10 + 32 + 32] = { 0 }, hmac[32];
	size_t n = 0;
	memcpy(msg, "report-key", 10);
	memcpy(msg + 10, target_mr, 32);
	memcpy(msg + 42, "RUNE-SKELETON-SIMULATED-REPORT", 30);
	assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL,
				  "rune-skeleton-simulated-root-key", 32, msg, sizeof(msg), hmac,
				  sizeof(hmac), &n));
	assert_non_null(
	    EVP_Q_mac(NULL, "CMAC", NULL, "AES-128-CBC", NULL, hmac, 16, body, 384, mac, 16, &n));
	assert_int_equal(n, 16);
}

/* A REPORT body: MRENCLAVE seed, seed+1, ...; MRSIGNER 0x40, 0x41, ...; report data rd. */
struct body {
	uint8_t mr_seed;
	uint64_t flags;
	uint16_t prod_id, svn;
	const char *rd;
};

static void make_report(const struct body *b, const uint8_t target_mr[32], uint8_t r[432])
{
	memset(r, 0, 432);
	cc_put_le32(r + 16, 0); /* MISCSELECT */
	cc_put_le64(r + 48, b->flags);
	cc_put_le64(r + 56, 3);
	for (int i = 0; i < 32; i++) {
		r[64 + i] = (uint8_t)(b->mr_seed + i);
		r[128 + i] = (uint8_t)(0x40 + i);
	}
	cc_put_le16(r + 256, b->prod_id);
	cc_put_le16(r + 258, b->svn);
	if (b->rd)
		memcpy(r + 320, b->rd, strlen(b->rd));
	memcpy(r + 384, "RUNE-SKELETON-SIMULATED-REPORT", 30);
	sim_mac(r, target_mr, r + 416);
}

/* The simulated QE's MRENCLAVE, independently. */
static void qe_mr(uint8_t mr[32])
{
	sha256("rune-simulated-quoting-enclave", 30, mr);
}

static const struct body plain = { 0x10, SGX_FLAGS_INIT | SGX_FLAGS_MODE64BIT, 7, 3, "nonce" };

/* Simulated evidence of body b for the simulated QE, by key. */
static void make_evidence(const struct body *b, uint8_t ev[ATTEST_SIM_EVIDENCE_SIZE])
{
	struct sgx_target_info ti;
	uint8_t rep[432];
	struct cc_error *err = NULL;
	attest_sim_qe_target_info(&ti);
	make_report(b, ti.mr_enclave, rep);
	ok(attest_sim_evidence_make(key, &ti, rep, sizeof(rep), ev, &err), &err);
}

static struct attest_evidence_opts sim_opts(void)
{
	struct attest_evidence_opts o = { .insecure_allow_simulated = true, .sim_key = key };
	return o;
}

/* ---- the real skeleton PAL ---- */

/* MRENCLAVE of path as the skeleton measures it: SHA-256(tag with NUL || u64 LE size || file). */
static void measure(const char *path, uint8_t mr[32])
{
	struct cc_error *err = NULL;
	size_t len;
	_cleanup_free_ char *file = cc_read_file(path, 0, &len, &err);
	if (!file)
		fail_msg("%s", err->msg);
	size_t total = 26 + 8 + len;
	_cleanup_free_ uint8_t *msg = xmalloc(total);
	memcpy(msg, "rune-skeleton-sim-enclave", 26);
	cc_put_le64(msg + 26, len);
	memcpy(msg + 34, file, len);
	sha256(msg, total, mr);
}

/* ---- setup ---- */

static int group_setup(void **state)
{
	struct cc_error *err = NULL;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test-attest-evidence-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	_cleanup_free_ char *path = xasprintf("%s/keys/sim.pem", tmpdir);
	key = attest_sim_key_open(path, &err);
	if (!key) {
		fprintf(stderr, "%s\n", err->msg);
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	struct cc_error *err = NULL;
	attest_sim_key_free(key);
	if (cc_rm_rf(tmpdir, &err) < 0) {
		cc_error_free(&err);
		return -1;
	}
	return 0;
}

/* ---- the simulated attestation key ---- */

static void test_key_file(void **state)
{
	struct cc_error *err = NULL;
	struct stat st;
	assert_string_equal(ATTEST_SIM_KEY_PATH, "/var/lib/rune/sim-attestation-key.pem");

	/* Created on first use, 0600, in a directory made 0700. */
	_cleanup_free_ char *dir = xasprintf("%s/new/dir", tmpdir);
	_cleanup_free_ char *path = xasprintf("%s/key.pem", dir);
	struct attest_sim_key *k = attest_sim_key_open(path, &err);
	ok(k ? 0 : -1, &err);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	size_t len;
	_cleanup_free_ char *pem = cc_read_file(path, 0, &len, &err);
	assert_non_null(pem);
	assert_non_null(strstr(pem, "-----BEGIN PRIVATE KEY-----"));

	/* Opened again: the same key. */
	struct attest_sim_key *again = attest_sim_key_open(path, &err);
	ok(again ? 0 : -1, &err);
	uint8_t id1[32], id2[32], id3[32];
	attest_sim_key_id(k, id1);
	attest_sim_key_id(again, id2);
	assert_memory_equal(id1, id2, 32);
	attest_sim_key_free(again);

	/* The key id is SHA-256 of the DER SubjectPublicKeyInfo, of the key in the file. */
	_cleanup_free_ char *pub = attest_sim_key_public_pem(k, &err);
	assert_non_null(pub);
	assert_non_null(strstr(pub, "-----BEGIN PUBLIC KEY-----"));
	assert_null(strstr(pub, "PRIVATE"));
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	EVP_PKEY *from_file = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	assert_non_null(from_file);
	unsigned char *der = NULL;
	int der_len = i2d_PUBKEY(from_file, &der);
	assert_true(der_len > 0);
	sha256(der, (size_t)der_len, id3);
	OPENSSL_free(der);
	EVP_PKEY_free(from_file);
	assert_memory_equal(id1, id3, 32);

	/* The public half verifies evidence but cannot sign it. */
	struct attest_sim_key *public = attest_sim_key_from_pem(pub, strlen(pub), &err);
	ok(public ? 0 : -1, &err);
	attest_sim_key_id(public, id2);
	assert_memory_equal(id1, id2, 32);
	struct sgx_target_info ti;
	uint8_t rep[432], ev[ATTEST_SIM_EVIDENCE_SIZE];
	attest_sim_qe_target_info(&ti);
	make_report(&plain, ti.mr_enclave, rep);
	assert_int_equal(attest_sim_evidence_make(public, &ti, rep, sizeof(rep), ev, &err), -1);
	expect_err(&err, "evidence: the simulated attestation key given is a public key, it "
			 "cannot sign");
	assert_int_equal(attest_sim_evidence_make(k, &ti, rep, sizeof(rep), ev, &err), 0);
	struct attest_evidence_opts o = { .insecure_allow_simulated = true, .sim_key = public };
	struct attest_evidence_result r;
	ok(attest_evidence_verify(ev, sizeof(ev), &o, &r, &err), &err);
	attest_evidence_result_clear(&r);
	attest_sim_key_free(public);
	attest_sim_key_free(k);

	/* Readable by others: refused, and left as it is. */
	assert_int_equal(chmod(path, 0640), 0);
	assert_null(attest_sim_key_open(path, &err));
	_cleanup_free_ char *want = xasprintf("simulated attestation key %s: mode 0640, readable "
					      "by others than its owner (0600 expected)",
					      path);
	expect_err(&err, want);
	assert_int_equal(chmod(path, 0600), 0);

	/* A symbolic link, a directory, garbage, a public key: refused. */
	_cleanup_free_ char *link_path = xasprintf("%s/link.pem", dir);
	assert_int_equal(symlink(path, link_path), 0);
	assert_null(attest_sim_key_open(link_path, &err));
	free(want);
	want = xasprintf("simulated attestation key %s: a symbolic link", link_path);
	expect_err(&err, want);
	assert_null(attest_sim_key_open(dir, &err));
	free(want);
	want = xasprintf("simulated attestation key %s: not a regular file", dir);
	expect_err(&err, want);
	_cleanup_free_ char *junk = xasprintf("%s/junk.pem", dir);
	assert_int_equal(cc_write_file(junk, "not a key\n", 10, 0600, &err), 0);
	assert_null(attest_sim_key_open(junk, &err));
	free(want);
	want = xasprintf("simulated attestation key %s: no PEM private or public key", junk);
	expect_err(&err, want);
	assert_int_equal(cc_write_file(junk, pub, strlen(pub), 0600, &err), 0);
	assert_null(attest_sim_key_open(junk, &err));
	free(want);
	want = xasprintf("simulated attestation key %s: a public key, not the private key", junk);
	expect_err(&err, want);
	/* An RSA key is not a P-256 key. */
	EVP_PKEY *rsa = EVP_RSA_gen(2048);
	assert_non_null(rsa);
	FILE *f = fopen(junk, "w");
	assert_non_null(f);
	assert_int_equal(PEM_write_PrivateKey(f, rsa, NULL, NULL, 0, NULL, NULL), 1);
	fclose(f);
	EVP_PKEY_free(rsa);
	assert_null(attest_sim_key_open(junk, &err));
	free(want);
	want = xasprintf("simulated attestation key %s: not an ECDSA P-256 key", junk);
	expect_err(&err, want);
	assert_null(attest_sim_key_from_pem("", 0, &err));
	expect_err(&err, "simulated attestation key: no PEM private or public key");
}

/* Processes opening a missing key at once all end with the one that was written. */
static void test_key_race(void **state)
{
	enum { N = 6 };
	_cleanup_free_ char *path = xasprintf("%s/race/key.pem", tmpdir);
	int fds[2];
	pid_t pids[N];
	assert_int_equal(pipe(fds), 0);
	for (int i = 0; i < N; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			struct cc_error *err = NULL;
			uint8_t id[32] = { 0 };
			struct attest_sim_key *k = attest_sim_key_open(path, &err);
			if (k)
				attest_sim_key_id(k, id);
			_exit(k && write(fds[1], id, 32) == 32 ? 0 : 1);
		}
	}
	close(fds[1]);
	uint8_t ids[N][32];
	for (int i = 0; i < N; i++) {
		int status;
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	for (int i = 0; i < N; i++)
		assert_int_equal(read(fds[0], ids[i], 32), 32);
	close(fds[0]);
	struct cc_error *err = NULL;
	struct attest_sim_key *k = attest_sim_key_open(path, &err);
	ok(k ? 0 : -1, &err);
	uint8_t id[32];
	attest_sim_key_id(k, id);
	attest_sim_key_free(k);
	for (int i = 0; i < N; i++)
		assert_memory_equal(ids[i], id, 32);
	/* No temporary file left behind. */
	_cleanup_free_ char *dir = xasprintf("%s/race", tmpdir);
	DIR *d = opendir(dir);
	struct dirent *e;
	int files = 0;
	assert_non_null(d);
	while ((e = readdir(d)))
		files += e->d_name[0] != '.';
	closedir(d);
	assert_int_equal(files, 1);
}

/* ---- making and verifying simulated evidence ---- */

static void test_sim_qe_target(void **state)
{
	struct sgx_target_info ti;
	uint8_t mr[32];
	attest_sim_qe_target_info(&ti);
	qe_mr(mr);
	assert_memory_equal(ti.mr_enclave, mr, 32);
	assert_int_equal(ti.attributes.flags, SGX_FLAGS_INIT | SGX_FLAGS_MODE64BIT);
	assert_int_equal(ti.attributes.xfrm, 3);
	uint8_t rest[512 - 48] = { 0 };
	assert_memory_equal((uint8_t *)&ti + 48, rest, sizeof(rest));
}

static void test_sim_evidence(void **state)
{
	struct cc_error *err = NULL;
	struct sgx_target_info ti;
	uint8_t rep[432], ev[ATTEST_SIM_EVIDENCE_SIZE], id[32];
	attest_sim_qe_target_info(&ti);
	make_report(&plain, ti.mr_enclave, rep);
	ok(attest_sim_evidence_make(key, &ti, rep, sizeof(rep), ev, &err), &err);

	/* The documented layout. */
	attest_sim_key_id(key, id);
	assert_memory_equal(ev, "SIMTEE01", 8);
	assert_int_equal(ev[8] | ev[9] << 8, 1);
	assert_int_equal(ev[10] | ev[11], 0);
	assert_int_equal(ev[12] | ev[13] << 8 | ev[14] << 16 | ev[15] << 24, 384);
	assert_memory_equal(ev + 16, id, 32);
	assert_memory_equal(ev + 48, rep, 384);
	assert_int_equal(ev[432] | ev[433] << 8 | ev[434] << 16 | ev[435] << 24, 64);

	/* The signature is ECDSA P-256 / SHA-256 over [0, 436), checked with libcrypto here. */
	_cleanup_free_ char *pub = attest_sim_key_public_pem(key, &err);
	assert_non_null(pub);
	BIO *bio = BIO_new_mem_buf(pub, -1);
	EVP_PKEY *pk = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	BIO_free(bio);
	assert_non_null(pk);
	ECDSA_SIG *sig = ECDSA_SIG_new();
	assert_int_equal(
	    ECDSA_SIG_set0(sig, BN_bin2bn(ev + 436, 32, NULL), BN_bin2bn(ev + 468, 32, NULL)), 1);
	unsigned char *der = NULL;
	int der_len = i2d_ECDSA_SIG(sig, &der);
	ECDSA_SIG_free(sig);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	assert_int_equal(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pk), 1);
	assert_int_equal(EVP_DigestVerify(md, der, (size_t)der_len, ev, 436), 1);
	EVP_MD_CTX_free(md);
	OPENSSL_free(der);
	EVP_PKEY_free(pk);

	/* Not allowed: refused with the one line, whatever the key. */
	struct attest_evidence_opts o = { .insecure_allow_simulated = false, .sim_key = key };
	struct attest_evidence_result r;
	assert_int_equal(attest_evidence_verify(ev, sizeof(ev), &o, &r, &err), -1);
	expect_err(&err, REFUSED);
	assert_string_equal(ATTEST_SIM_REFUSED, REFUSED);
	attest_evidence_result_clear(&r);
	/* Even when broken: the refusal comes before anything is read. */
	assert_int_equal(attest_evidence_verify("SIMTEE01", 8, &o, &r, &err), -1);
	expect_err(&err, REFUSED);

	/* Allowed without a key to check it. */
	o.insecure_allow_simulated = true;
	o.sim_key = NULL;
	assert_int_equal(attest_evidence_verify(ev, sizeof(ev), &o, &r, &err), -1);
	expect_err(&err, "evidence: simulated evidence is allowed but no simulated attestation "
			 "key was given to check it");

	/* Allowed, with the key: the body's claims, marked simulated. */
	o = sim_opts();
	ok(attest_evidence_verify(ev, sizeof(ev), &o, &r, &err), &err);
	assert_int_equal(r.kind, ATTEST_EVIDENCE_SIMULATED);
	assert_true(r.simulated);
	assert_string_equal(attest_evidence_kind_name(r.kind),
			    "simulated (SIMTEE01, not hardware evidence)");
	assert_int_equal(r.version, 1);
	assert_memory_equal(r.enclave.mrenclave, rep + 64, 32);
	assert_memory_equal(r.enclave.mrsigner, rep + 128, 32);
	assert_int_equal(r.enclave.isvprodid, 7);
	assert_int_equal(r.enclave.isvsvn, 3);
	assert_int_equal(r.enclave.flags, SGX_FLAGS_INIT | SGX_FLAGS_MODE64BIT);
	assert_int_equal(r.enclave.xfrm, 3);
	assert_false(r.debug);
	assert_memory_equal(r.enclave.report_data, "nonce\0\0", 7);
	assert_int_equal(r.verdict.tcb_status, ATTEST_TCB_UNKNOWN);
	assert_memory_equal(r.sim_key_id, id, 32);
	attest_evidence_result_clear(&r);

	/* A debug enclave's evidence says so. */
	struct body dbg = plain;
	dbg.flags |= SGX_FLAGS_DEBUG;
	make_evidence(&dbg, ev);
	ok(attest_evidence_verify(ev, sizeof(ev), &o, &r, &err), &err);
	assert_true(r.debug);
	attest_evidence_result_clear(&r);

	/* Another machine's key. */
	_cleanup_free_ char *other_path = xasprintf("%s/keys/other.pem", tmpdir);
	struct attest_sim_key *other = attest_sim_key_open(other_path, &err);
	ok(other ? 0 : -1, &err);
	uint8_t other_id[32];
	attest_sim_key_id(other, other_id);
	o.sim_key = other;
	assert_int_equal(attest_evidence_verify(ev, sizeof(ev), &o, &r, &err), -1);
	_cleanup_free_ char *got_hex = hex(id, 32), *want_hex = hex(other_id, 32);
	_cleanup_free_ char *want = xasprintf("evidence: signed by another simulated attestation "
					      "key (key id %s, expected %s)",
					      got_hex, want_hex);
	expect_err(&err, want);
	/* ... even when it claims our key id: the signature is what counts. */
	memcpy(ev + 16, other_id, 32);
	assert_int_equal(attest_evidence_verify(ev, sizeof(ev), &o, &r, &err), -1);
	expect_err(&err, "evidence: signature does not verify with the simulated attestation key");
	attest_sim_key_free(other);
}

/* Only a REPORT the simulated platform made for the target is signed. */
static void test_make_refuses(void **state)
{
	struct cc_error *err = NULL;
	struct sgx_target_info ti, other;
	uint8_t rep[432], ev[ATTEST_SIM_EVIDENCE_SIZE];
	attest_sim_qe_target_info(&ti);
	other = ti;
	other.mr_enclave[0] ^= 1;

	make_report(&plain, other.mr_enclave, rep); /* for another target */
	assert_int_equal(attest_sim_evidence_make(key, &ti, rep, sizeof(rep), ev, &err), -1);
	expect_err(&err, "evidence: " MAC_MISMATCH);

	make_report(&plain, ti.mr_enclave, rep);
	rep[100] ^= 0x20; /* altered */
	assert_int_equal(attest_sim_evidence_make(key, &ti, rep, sizeof(rep), ev, &err), -1);
	expect_err(&err, "evidence: " MAC_MISMATCH);

	make_report(&plain, ti.mr_enclave, rep);
	memcpy(rep + 384, "A-HARDWARE-KEYID", 16); /* not the simulated marker */
	assert_int_equal(attest_sim_evidence_make(key, &ti, rep, sizeof(rep), ev, &err), -1);
	expect_err(&err, "evidence: " NOT_SIMULATED);

	make_report(&plain, ti.mr_enclave, rep);
	assert_int_equal(attest_sim_evidence_make(key, &ti, rep, 431, ev, &err), -1);
	expect_err(&err, "evidence: local attestation: REPORT is 431 bytes, not 432");
	ok(attest_sim_evidence_make(key, &ti, rep, sizeof(rep), ev, &err), &err);
}

/* A REPORT from the real skeleton PAL, wrapped and verified. */
static void test_skeleton_evidence(void **state)
{
	struct cc_error *err = NULL;
	struct sgx_target_info ti, other;
	uint8_t rep[432], ev[ATTEST_SIM_EVIDENCE_SIZE], mr[32], signer[32];
	attest_sim_qe_target_info(&ti);
	skeleton_report(&ti, "kbs-binding", 11, rep);
	measure("/bin/true", mr);
	sha256("rune-skeleton-sim-signer", 24, signer);
	assert_memory_equal(rep + 64, mr, 32);

	ok(attest_sim_evidence_make(key, &ti, rep, sizeof(rep), ev, &err), &err);
	struct attest_evidence_opts o = sim_opts();
	struct attest_evidence_result r;
	ok(attest_evidence_verify(ev, sizeof(ev), &o, &r, &err), &err);
	assert_true(r.simulated);
	assert_memory_equal(r.enclave.mrenclave, mr, 32);
	assert_memory_equal(r.enclave.mrsigner, signer, 32);
	assert_int_equal(r.enclave.flags, SGX_FLAGS_INIT | SGX_FLAGS_MODE64BIT);
	assert_memory_equal(r.enclave.report_data, "kbs-binding", 11);
	assert_false(r.debug);

	/* Appraised: the skeleton's identity passes, another does not. */
	_cleanup_free_ char *mr_hex = hex(mr, 32), *signer_hex = hex(signer, 32);
	_cleanup_free_ char *json = xasprintf("{\"insecure_allow_simulated\":true,\"enclave\":{"
					      "\"mrenclave\":[\"%s\"],\"mrsigner\":[\"%s\"]},"
					      "\"tcb\":{\"allow_unknown\":true}}",
					      mr_hex, signer_hex);
	struct attest_policy p;
	ok(attest_policy_parse(json, strlen(json), &p, &err), &err);
	ok(attest_appraise(&p, &r, &err), &err);
	p.mrenclave[0][5] ^= 1;
	assert_int_equal(attest_appraise(&p, &r, &err), -1);
	_cleanup_free_ char *want =
	    xasprintf("appraisal: MRENCLAVE %s is not among the 1 expected", mr_hex);
	expect_err(&err, want);
	attest_evidence_result_clear(&r);

	/* The skeleton's REPORT for another target is not signed. */
	other = ti;
	other.mr_enclave[31] ^= 0x80;
	skeleton_report(&other, "", 0, rep);
	assert_int_equal(attest_sim_evidence_make(key, &ti, rep, sizeof(rep), ev, &err), -1);
	expect_err(&err, "evidence: " MAC_MISMATCH);
}

/* Every part of the evidence tampered fails, each with its message. */
static void test_tamper(void **state)
{
	struct cc_error *err = NULL;
	struct attest_evidence_opts o = sim_opts();
	struct attest_evidence_result r;
	struct attest_sim_evidence parsed;
	uint8_t ev[ATTEST_SIM_EVIDENCE_SIZE], bad[ATTEST_SIM_EVIDENCE_SIZE + 8];
	make_evidence(&plain, ev);
	ok(attest_sim_evidence_parse(ev, sizeof(ev), &parsed, &err), &err);
	ok(attest_sim_evidence_check(&parsed, key, &err), &err);

	/* The magic: then it is not simulated evidence, and goes to the quote parser. */
	memcpy(bad, ev, sizeof(ev));
	bad[3] ^= 1;
	assert_int_equal(attest_sim_evidence_parse(bad, sizeof(ev), &parsed, &err), -1);
	expect_err(&err, "evidence: not simulated evidence (no SIMTEE01 magic)");
	assert_int_equal(attest_evidence_verify(bad, sizeof(ev), &o, &r, &err), -1);
	expect_prefix(&err, "quote: ");

	/* The version, the reserved bytes, the body size. */
	memcpy(bad, ev, sizeof(ev));
	cc_put_le16(bad + 8, 2);
	assert_int_equal(attest_evidence_verify(bad, sizeof(ev), &o, &r, &err), -1);
	expect_err(&err, "evidence: simulated evidence version 2 is not supported (only 1)");
	cc_put_le16(bad + 8, 0);
	assert_int_equal(attest_evidence_verify(bad, sizeof(ev), &o, &r, &err), -1);
	expect_err(&err, "evidence: simulated evidence version 0 is not supported (only 1)");
	memcpy(bad, ev, sizeof(ev));
	bad[11] = 0x80;
	assert_int_equal(attest_evidence_verify(bad, sizeof(ev), &o, &r, &err), -1);
	expect_err(&err, "evidence: header: reserved bytes are not zero");
	memcpy(bad, ev, sizeof(ev));
	cc_put_le32(bad + 12, 383);
	assert_int_equal(attest_evidence_verify(bad, sizeof(ev), &o, &r, &err), -1);
	expect_err(&err, "evidence: body size 383, not 384 (an SGX report body)");
	cc_put_le32(bad + 12, 0xffffffff);
	assert_int_equal(attest_evidence_verify(bad, sizeof(ev), &o, &r, &err), -1);
	expect_err(&err, "evidence: body size 4294967295, not 384 (an SGX report body)");

	/* The signature size. */
	memcpy(bad, ev, sizeof(ev));
	cc_put_le32(bad + 432, 65);
	assert_int_equal(attest_evidence_verify(bad, sizeof(ev), &o, &r, &err), -1);
	expect_err(&err, "evidence: signature size 65, not 64 (ECDSA P-256 r||s)");
	cc_put_le32(bad + 432, 0);
	assert_int_equal(attest_evidence_verify(bad, sizeof(ev), &o, &r, &err), -1);
	expect_err(&err, "evidence: signature size 0, not 64 (ECDSA P-256 r||s)");

	/* Every bit of the key id, the body and the signature. */
	for (size_t bit = 16 * 8; bit < 432 * 8; bit++) {
		memcpy(bad, ev, sizeof(ev));
		bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_int_equal(attest_evidence_verify(bad, sizeof(ev), &o, &r, &err), -1);
		expect_prefix(&err, bit < 48 * 8 ? "evidence: signed by another simulated "
						   "attestation key (key id "
						 : "evidence: signature does not verify with the "
						   "simulated attestation key");
	}
	for (size_t bit = 436 * 8; bit < 500 * 8; bit++) {
		memcpy(bad, ev, sizeof(ev));
		bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_int_equal(attest_evidence_verify(bad, sizeof(ev), &o, &r, &err), -1);
		expect_err(&err,
			   "evidence: signature does not verify with the simulated attestation "
			   "key");
	}

	/* Lengths: every truncation, and bytes after the signature. */
	for (size_t len = 8; len < sizeof(ev); len++) {
		assert_int_equal(attest_evidence_verify(ev, len, &o, &r, &err), -1);
		expect_prefix(&err, "evidence: truncated: ");
	}
	assert_int_equal(attest_sim_evidence_parse(ev, 12, &parsed, &err), -1);
	expect_err(&err, "evidence: truncated: 12 bytes, the header has 16");
	assert_int_equal(attest_sim_evidence_parse(ev, 100, &parsed, &err), -1);
	expect_err(&err, "evidence: truncated: key id and body size 384 but 84 bytes left");
	assert_int_equal(attest_sim_evidence_parse(ev, 433, &parsed, &err), -1);
	expect_err(&err, "evidence: truncated: the signature size needs 4 bytes, 1 left");
	assert_int_equal(attest_sim_evidence_parse(ev, 499, &parsed, &err), -1);
	expect_err(&err, "evidence: truncated: signature size 64 but 63 bytes left");
	for (size_t len = 0; len < 8; len++) {
		assert_int_equal(attest_sim_evidence_parse(ev, len, &parsed, &err), -1);
		expect_err(&err, "evidence: not simulated evidence (no SIMTEE01 magic)");
		/* Too short to be simulated evidence: a (truncated) quote as far as sniffing
		 * goes. */
		assert_int_equal(attest_evidence_verify(ev, len, &o, &r, &err), -1);
		expect_prefix(&err, "quote: ");
	}
	memcpy(bad, ev, sizeof(ev));
	bad[500] = 0;
	assert_int_equal(attest_evidence_verify(bad, 501, &o, &r, &err), -1);
	expect_err(&err, "evidence: 1 byte after the signature");
	assert_int_equal(attest_evidence_verify(bad, 508, &o, &r, &err), -1);
	expect_err(&err, "evidence: 8 bytes after the signature");

	/* Re-signed by another key after a change: the key id gives it away. */
	_cleanup_free_ char *path = xasprintf("%s/keys/forger.pem", tmpdir);
	struct attest_sim_key *forger = attest_sim_key_open(path, &err);
	ok(forger ? 0 : -1, &err);
	struct sgx_target_info ti;
	uint8_t rep[432];
	attest_sim_qe_target_info(&ti);
	struct body b = plain;
	b.mr_seed = 0x99;
	make_report(&b, ti.mr_enclave, rep);
	ok(attest_sim_evidence_make(forger, &ti, rep, sizeof(rep), bad, &err), &err);
	assert_int_equal(attest_evidence_verify(bad, sizeof(ev), &o, &r, &err), -1);
	expect_prefix(&err, "evidence: signed by another simulated attestation key (key id ");
	attest_sim_key_free(forger);
	attest_evidence_result_clear(&r);
}

/* ---- real quotes through the same entry point ---- */

static void test_real_quotes(void **state)
{
	struct cc_error *err = NULL;
	struct attest_evidence_opts o = { .quote = { .now = JULY_2025 } };
	struct attest_evidence_result r;

	/* Not simulated, whatever insecure_allow_simulated says; no collateral: TCB unknown. */
	for (int allow = 0; allow < 2; allow++) {
		_cleanup_bytes_ struct bytes q = read_data(OCCLUM);
		o.insecure_allow_simulated = allow;
		ok(attest_evidence_verify(q.p, q.len, &o, &r, &err), &err);
		assert_int_equal(r.kind, ATTEST_EVIDENCE_SGX_QUOTE);
		assert_string_equal(attest_evidence_kind_name(r.kind), "sgx-dcap-quote");
		assert_false(r.simulated);
		assert_true(r.debug);
		assert_int_equal(r.version, 3);
		_cleanup_free_ char *mr = hex(r.enclave.mrenclave, 32);
		assert_string_equal(mr, OCCLUM_MRENCLAVE);
		assert_int_equal(r.verdict.tcb_status, ATTEST_TCB_UNKNOWN);
		attest_evidence_result_clear(&r);
	}

	/* A flipped bit in the body fails at the quote's signature. */
	_cleanup_bytes_ struct bytes q = read_data(DCAP_SGX);
	q.p[48 + 64] ^= 1;
	assert_int_equal(attest_evidence_verify(q.p, q.len, &o, &r, &err), -1);
	expect_err(&err, "quote: signature does not verify with the attestation key");
	q.p[48 + 64] ^= 1;

	/* With collateral: Intel's TCB status. */
	_cleanup_bytes_ struct bytes cj = read_data(DCAP_SGX_COL);
	struct attest_collateral *c = attest_collateral_parse_json((char *)cj.p, cj.len, &err);
	ok(c ? 0 : -1, &err);
	o.quote.collateral = c;
	ok(attest_evidence_verify(q.p, q.len, &o, &r, &err), &err);
	assert_int_equal(r.verdict.tcb_status, ATTEST_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED);
	assert_false(r.debug);
	_cleanup_free_ char *mr = hex(r.enclave.mrenclave, 32);
	assert_string_equal(mr, DCAP_MRENCLAVE);

	/* The default policy refuses that status; one that lists it accepts the quote. */
	struct attest_policy p;
	attest_policy_init(&p);
	assert_int_equal(attest_appraise(&p, &r, &err), -1);
	expect_err(&err, "appraisal: TCB status \"ConfigurationAndSWHardeningNeeded\" is not "
			 "accepted (accepted: UpToDate, SWHardeningNeeded)");
	static const char json[] =
	    "{\"enclave\":{\"mrenclave\":[\"" DCAP_MRENCLAVE "\"],\"isv_prod_id\":0},"
	    "\"tcb\":{\"accepted\":[\"UpToDate\",\"ConfigurationAndSWHardeningNeeded\"]},"
	    "\"report_data\":\"48656c6c6f2c20776f726c6421\"}";
	ok(attest_policy_parse(json, strlen(json), &p, &err), &err);
	ok(attest_appraise(&p, &r, &err), &err);
	attest_evidence_result_clear(&r);
	attest_collateral_free(c);

	/* A TDX quote is not appraised here. */
	_cleanup_bytes_ struct bytes tdx = read_data(DCAP_TDX);
	o.quote.collateral = NULL;
	assert_int_equal(attest_evidence_verify(tdx.p, tdx.len, &o, &r, &err), -1);
	expect_err(&err,
		   "evidence: a TDX quote (TEE type 0x81): only SGX enclaves are appraised here");

	/* Neither kind. */
	assert_int_equal(attest_evidence_verify("{\"quote\":1}", 11, &o, &r, &err), -1);
	expect_prefix(&err, "quote: ");
	attest_evidence_result_clear(&r);
}

/* The Occlum quote (a debug enclave) against policies: the brief's examples. */
static void test_appraise_real(void **state)
{
	struct cc_error *err = NULL;
	struct attest_evidence_opts o = { .quote = { .now = JULY_2025 } };
	struct attest_evidence_result r;
	struct attest_policy p;
	_cleanup_bytes_ struct bytes q = read_data(OCCLUM);
	ok(attest_evidence_verify(q.p, q.len, &o, &r, &err), &err);

	attest_policy_init(&p);
	assert_int_equal(attest_appraise(&p, &r, &err), -1);
	expect_err(&err, "appraisal: debug enclave refused (attributes.flags DEBUG set)");

	static const char two[] =
	    "{\"enclave\":{\"allow_debug\":true,\"mrenclave\":["
	    "\"33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb\","
	    "\"1DD0DF84810E53E26B2B167DFE0F97CC4364085FE0BD41D5E18A759C21D5C189\"]}}";
	ok(attest_policy_parse(two, strlen(two), &p, &err), &err);
	assert_int_equal(attest_appraise(&p, &r, &err), -1);
	expect_err(&err, "appraisal: MRENCLAVE " OCCLUM_MRENCLAVE " is not among the 2 expected");

	static const char match[] =
	    "{\"enclave\":{\"allow_debug\":true,\"mrenclave\":[\"" OCCLUM_MRENCLAVE
	    "\"],\"mrsigner\":[\"" OCCLUM_MRSIGNER "\"],\"isv_prod_id\":0,"
	    "\"min_isv_svn\":0},\"tcb\":{\"allow_unknown\":true},"
	    "\"report_data\":\"74657374\"}";
	ok(attest_policy_parse(match, strlen(match), &p, &err), &err);
	ok(attest_appraise(&p, &r, &err), &err);
	/* Without collateral the status is unknown, refused unless allowed. */
	p.allow_unknown_tcb = false;
	assert_int_equal(attest_appraise(&p, &r, &err), -1);
	expect_err(&err, "appraisal: TCB status \"unknown: no collateral\" is not accepted "
			 "(tcb.allow_unknown is not set)");
	attest_evidence_result_clear(&r);
}

/* ---- the appraisal rules, each both ways ---- */

/* A result as a verified simulated evidence of plain would be. */
static struct attest_evidence_result sim_result(void)
{
	struct cc_error *err = NULL;
	struct attest_evidence_opts o = sim_opts();
	struct attest_evidence_result r;
	uint8_t ev[ATTEST_SIM_EVIDENCE_SIZE];
	make_evidence(&plain, ev);
	ok(attest_evidence_verify(ev, sizeof(ev), &o, &r, &err), &err);
	return r;
}

static void policy(const char *json, struct attest_policy *p)
{
	struct cc_error *err = NULL;
	ok(attest_policy_parse(json, strlen(json), p, &err), &err);
}

static void refused(const char *json, const struct attest_evidence_result *r, const char *want)
{
	struct cc_error *err = NULL;
	struct attest_policy p;
	policy(json, &p);
	assert_int_equal(attest_appraise(&p, r, &err), -1);
	expect_err(&err, want);
}

static void passes(const char *json, const struct attest_evidence_result *r)
{
	struct cc_error *err = NULL;
	struct attest_policy p;
	policy(json, &p);
	ok(attest_appraise(&p, r, &err), &err);
}

#define SIM_OK "\"insecure_allow_simulated\":true,\"tcb\":{\"allow_unknown\":true}"

static void test_appraise_rules(void **state)
{
	struct attest_evidence_result r = sim_result();
	_cleanup_free_ char *mr = hex(r.enclave.mrenclave, 32),
			    *signer = hex(r.enclave.mrsigner, 32);
	char other[65];
	memcpy(other, mr, sizeof(other));
	other[0] = other[0] == '0' ? '1' : '0';

	/* Simulated evidence. */
	refused("{\"tcb\":{\"allow_unknown\":true}}", &r,
		"appraisal: simulated evidence refused (insecure_allow_simulated is not set)");
	refused("{\"insecure_allow_simulated\":false,\"tcb\":{\"allow_unknown\":true}}", &r,
		"appraisal: simulated evidence refused (insecure_allow_simulated is not set)");
	passes("{" SIM_OK "}", &r);
	/* A result that says it is of the simulated kind counts as simulated. */
	r.simulated = false;
	refused("{\"tcb\":{\"allow_unknown\":true}}", &r,
		"appraisal: simulated evidence refused (insecure_allow_simulated is not set)");
	r.simulated = true;

	/* MRENCLAVE, either case of hex. */
	_cleanup_free_ char *j = xasprintf("{" SIM_OK ",\"enclave\":{\"mrenclave\":[\"%s\"]}}", mr);
	passes(j, &r);
	_cleanup_free_ char *upper = xstrdup(mr);
	for (char *c = upper; *c; c++)
		if (*c >= 'a' && *c <= 'f')
			*c = (char)(*c - 'a' + 'A');
	free(j);
	j = xasprintf("{" SIM_OK ",\"enclave\":{\"mrenclave\":[\"%s\"]}}", upper);
	passes(j, &r);
	free(j);
	j = xasprintf("{" SIM_OK ",\"enclave\":{\"mrenclave\":[\"%s\",\"%s\"]}}", other, mr);
	passes(j, &r);
	free(j);
	j = xasprintf("{" SIM_OK ",\"enclave\":{\"mrenclave\":[\"%s\",\"%s\"]}}", other, other);
	_cleanup_free_ char *want =
	    xasprintf("appraisal: MRENCLAVE %s is not among the 2 expected", mr);
	refused(j, &r, want);

	/* MRSIGNER. */
	free(j);
	j = xasprintf("{" SIM_OK ",\"enclave\":{\"mrsigner\":[\"%s\"]}}", signer);
	passes(j, &r);
	free(j);
	j = xasprintf("{" SIM_OK ",\"enclave\":{\"mrsigner\":[\"%s\"]}}", mr);
	free(want);
	want = xasprintf("appraisal: MRSIGNER %s is not among the 1 expected", signer);
	refused(j, &r, want);

	/* ISVPRODID (7) and ISVSVN (3). */
	passes("{" SIM_OK ",\"enclave\":{\"isv_prod_id\":7}}", &r);
	refused("{" SIM_OK ",\"enclave\":{\"isv_prod_id\":8}}", &r,
		"appraisal: ISVPRODID 7, expected 8");
	refused("{" SIM_OK ",\"enclave\":{\"isv_prod_id\":0}}", &r,
		"appraisal: ISVPRODID 7, expected 0");
	passes("{" SIM_OK ",\"enclave\":{\"min_isv_svn\":3}}", &r);
	passes("{" SIM_OK ",\"enclave\":{\"min_isv_svn\":0}}", &r);
	refused("{" SIM_OK ",\"enclave\":{\"min_isv_svn\":4}}", &r,
		"appraisal: ISVSVN 3 is below the minimum 4");

	/* Debug. */
	r.enclave.flags |= SGX_FLAGS_DEBUG;
	refused("{" SIM_OK "}", &r,
		"appraisal: debug enclave refused (attributes.flags DEBUG set)");
	refused("{" SIM_OK ",\"enclave\":{\"allow_debug\":false}}", &r,
		"appraisal: debug enclave refused (attributes.flags DEBUG set)");
	passes("{" SIM_OK ",\"enclave\":{\"allow_debug\":true}}", &r);
	r.enclave.flags &= ~(uint64_t)SGX_FLAGS_DEBUG;

	/* report_data: "nonce" zero-padded to 64 bytes. */
	passes("{" SIM_OK ",\"report_data\":\"6e6f6e6365\"}", &r);
	passes("{" SIM_OK ",\"report_data\":\"6E6F6E636500000000\"}", &r);
	free(want);
	_cleanup_free_ char *rd = hex(r.enclave.report_data, 64);
	want =
	    xasprintf("appraisal: report_data %s is not the expected "
		      "6e6f6e6364000000000000000000000000000000000000000000000000000000000000000000"
		      "0000000000000000000000000000000000000000000000000000",
		      rd);
	refused("{" SIM_OK ",\"report_data\":\"6e6f6e6364\"}", &r, want);
	refused("{" SIM_OK ",\"report_data\":\"6e6f6e636501\"}", &r,
		"appraisal: report_data "
		"6e6f6e63650000000000000000000000000000000000000000000000000000000000000000000000"
		"000000000000000000000000000000000000000000000000 is not the expected "
		"6e6f6e63650100000000000000000000000000000000000000000000000000000000000000000000"
		"000000000000000000000000000000000000000000000000");

	/* TCB status: the default, a list, unknown. */
	r.kind = ATTEST_EVIDENCE_SGX_QUOTE;
	r.simulated = false;
	static const struct {
		enum attest_tcb_status s;
		const char *name;
		bool by_default;
	} st[] = {
		{ ATTEST_TCB_UP_TO_DATE, "UpToDate", true },
		{ ATTEST_TCB_SW_HARDENING_NEEDED, "SWHardeningNeeded", true },
		{ ATTEST_TCB_CONFIGURATION_NEEDED, "ConfigurationNeeded", false },
		{ ATTEST_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED,
		  "ConfigurationAndSWHardeningNeeded", false },
		{ ATTEST_TCB_OUT_OF_DATE, "OutOfDate", false },
		{ ATTEST_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED, "OutOfDateConfigurationNeeded",
		  false },
		{ ATTEST_TCB_REVOKED, "Revoked", false },
		{ ATTEST_TCB_TD_RELAUNCH_ADVISED, "TDRelaunchAdvised", false },
		{ ATTEST_TCB_TD_RELAUNCH_ADVISED_CONFIGURATION_NEEDED,
		  "TDRelaunchAdvisedConfigurationNeeded", false },
	};
	for (size_t i = 0; i < sizeof(st) / sizeof(st[0]); i++) {
		r.verdict.tcb_status = st[i].s;
		if (st[i].by_default) {
			passes("{}", &r);
		} else {
			free(want);
			want = xasprintf("appraisal: TCB status \"%s\" is not accepted (accepted: "
					 "UpToDate, SWHardeningNeeded)",
					 st[i].name);
			refused("{}", &r, want);
		}
		free(j);
		j = xasprintf("{\"tcb\":{\"accepted\":[\"%s\"]}}", st[i].name);
		passes(j, &r);
		/* Another status and Revoked, listed in Intel's order whatever the policy's. */
		free(j);
		size_t n = (i + 1) % 9;
		j = xasprintf("{\"tcb\":{\"accepted\":[\"%s\",\"Revoked\"]}}", st[n].name);
		if (st[i].s != ATTEST_TCB_REVOKED) {
			free(want);
			want = xasprintf(
			    "appraisal: TCB status \"%s\" is not accepted (accepted: %s%s%s)",
			    st[i].name, st[n].s < ATTEST_TCB_REVOKED ? st[n].name : "Revoked",
			    st[n].s == ATTEST_TCB_REVOKED ? "" : ", ",
			    st[n].s < ATTEST_TCB_REVOKED    ? "Revoked"
			    : st[n].s == ATTEST_TCB_REVOKED ? ""
							    : st[n].name);
			refused(j, &r, want);
		}
	}
	r.verdict.tcb_status = ATTEST_TCB_UNKNOWN;
	refused(
	    "{}", &r,
	    "appraisal: TCB status \"unknown: no collateral\" is not accepted (tcb.allow_unknown "
	    "is not set)");
	refused(
	    "{\"tcb\":{\"allow_unknown\":false,\"accepted\":[\"UpToDate\"]}}", &r,
	    "appraisal: TCB status \"unknown: no collateral\" is not accepted (tcb.allow_unknown "
	    "is not set)");
	passes("{\"tcb\":{\"allow_unknown\":true}}", &r);

	/* The first rule that fails is the one named: simulated, then debug, then identity. */
	r.kind = ATTEST_EVIDENCE_SIMULATED;
	r.simulated = true;
	r.enclave.flags |= SGX_FLAGS_DEBUG;
	free(j);
	j = xasprintf("{\"enclave\":{\"mrenclave\":[\"%s\"],\"isv_prod_id\":1}}", other);
	refused(j, &r,
		"appraisal: simulated evidence refused (insecure_allow_simulated is not set)");
	free(j);
	j = xasprintf("{\"insecure_allow_simulated\":true,\"enclave\":{\"mrenclave\":[\"%s\"],"
		      "\"isv_prod_id\":1}}",
		      other);
	refused(j, &r, "appraisal: debug enclave refused (attributes.flags DEBUG set)");
	free(j);
	free(want);
	want = xasprintf("appraisal: MRENCLAVE %s is not among the 1 expected", mr);
	j = xasprintf(
	    "{\"insecure_allow_simulated\":true,\"enclave\":{\"allow_debug\":true,\"mrenclave\":"
	    "[\"%s\"],\"isv_prod_id\":1}}",
	    other);
	refused(j, &r, want);
	free(j);
	j = xasprintf(
	    "{\"insecure_allow_simulated\":true,\"enclave\":{\"allow_debug\":true,\"mrenclave\":"
	    "[\"%s\"],\"isv_prod_id\":1}}",
	    mr);
	refused(j, &r, "appraisal: ISVPRODID 7, expected 1");
	attest_evidence_result_clear(&r);
}

static void test_policy_parse(void **state)
{
	struct cc_error *err = NULL;
	struct attest_policy p;

	/* The defaults. */
	policy("{}", &p);
	assert_false(p.insecure_allow_simulated);
	assert_false(p.allow_debug);
	assert_false(p.allow_unknown_tcb);
	assert_false(p.has_isv_prod_id);
	assert_false(p.has_report_data);
	assert_int_equal(p.n_mrenclave + p.n_mrsigner + p.min_isv_svn, 0);
	assert_int_equal(p.tcb_accepted,
			 1u << ATTEST_TCB_UP_TO_DATE | 1u << ATTEST_TCB_SW_HARDENING_NEEDED);
	struct attest_policy d;
	attest_policy_init(&d);
	assert_memory_equal(&p, &d, sizeof(p));
	policy("{\"enclave\":{},\"tcb\":{},\"report_data\":null}", &p);
	assert_memory_equal(&p, &d, sizeof(p));

	/* Everything. */
	static const char all[] =
	    "{\"insecure_allow_simulated\":true,\"enclave\":{\"mrenclave\":[\"" OCCLUM_MRENCLAVE
	    "\",\"" DCAP_MRENCLAVE "\"],\"mrsigner\":[\"" OCCLUM_MRSIGNER "\"],"
	    "\"isv_prod_id\":65535,\"min_isv_svn\":12,\"allow_debug\":true},"
	    "\"tcb\":{\"accepted\":[\"OutOfDate\",\"Revoked\"],\"allow_unknown\":true},"
	    "\"report_data\":\"00ff\"}";
	policy(all, &p);
	assert_true(p.insecure_allow_simulated && p.allow_debug && p.allow_unknown_tcb);
	assert_int_equal(p.n_mrenclave, 2);
	_cleanup_free_ char *m0 = hex(p.mrenclave[0], 32), *m1 = hex(p.mrenclave[1], 32),
			    *s0 = hex(p.mrsigner[0], 32);
	assert_string_equal(m0, OCCLUM_MRENCLAVE);
	assert_string_equal(m1, DCAP_MRENCLAVE);
	assert_int_equal(p.n_mrsigner, 1);
	assert_string_equal(s0, OCCLUM_MRSIGNER);
	assert_true(p.has_isv_prod_id);
	assert_int_equal(p.isv_prod_id, 65535);
	assert_int_equal(p.min_isv_svn, 12);
	assert_int_equal(p.tcb_accepted, 1u << ATTEST_TCB_OUT_OF_DATE | 1u << ATTEST_TCB_REVOKED);
	assert_true(p.has_report_data);
	assert_int_equal(p.report_data[0], 0);
	assert_int_equal(p.report_data[1], 0xff);
	uint8_t zero[62] = { 0 };
	assert_memory_equal(p.report_data + 2, zero, sizeof(zero));

	/* From a file: messages name it. */
	_cleanup_free_ char *path = xasprintf("%s/policy.json", tmpdir);
	assert_int_equal(cc_write_file(path, all, strlen(all), 0644, &err), 0);
	struct attest_policy f;
	ok(attest_policy_load(path, &f, &err), &err);
	assert_memory_equal(&f, &p, sizeof(p));
	assert_int_equal(cc_write_file(path, "{\"tcb\":{\"x\":1}}", 15, 0644, &err), 0);
	assert_int_equal(attest_policy_load(path, &f, &err), -1);
	_cleanup_free_ char *want = xasprintf("%s: tcb: unknown key \"x\"", path);
	expect_err(&err, want);

	/* Strictly: each refusal names the path. */
	static const struct {
		const char *json, *msg;
	} bad[] = {
		{ "[]", "expected object, got array" },
		{ "{\"mrenclave\":[]}", "unknown key \"mrenclave\"" },
		{ "{\"enclave\":{\"mrenclve\":[]}}", "enclave: unknown key \"mrenclve\"" },
		{ "{\"tcb\":{\"accept\":[]}}", "tcb: unknown key \"accept\"" },
		{ "{\"enclave\":[]}", "enclave: expected object, got array" },
		{ "{\"tcb\":\"UpToDate\"}", "tcb: expected object, got string" },
		{ "{\"insecure_allow_simulated\":1}",
		  "insecure_allow_simulated: expected boolean, got integer" },
		{ "{\"enclave\":{\"mrenclave\":[]}}",
		  "enclave.mrenclave: empty: no enclave would match" },
		{ "{\"enclave\":{\"mrenclave\":\"" OCCLUM_MRENCLAVE "\"}}",
		  "enclave.mrenclave: expected array, got string" },
		{ "{\"enclave\":{\"mrenclave\":[\"" OCCLUM_MRENCLAVE "\",\"00\"]}}",
		  "enclave.mrenclave[1]: expected 64 hex digits" },
		{ "{\"enclave\":{\"mrenclave\":[\"" OCCLUM_MRENCLAVE "0\"]}}",
		  "enclave.mrenclave[0]: expected 64 hex digits" },
		{ "{\"enclave\":{\"mrsigner\":["
		  "\"g3d719e77deaca1470f6baf62a4d774303c899db69020f9c70ee1d"
		  "fc08c7ce9e\"]}}",
		  "enclave.mrsigner[0]: expected 64 hex digits" },
		{ "{\"enclave\":{\"mrsigner\":[1]}}",
		  "enclave.mrsigner[0]: expected string, got integer" },
		{ "{\"enclave\":{\"isv_prod_id\":65536}}",
		  "enclave.isv_prod_id: 65536 out of range [0, 65535]" },
		{ "{\"enclave\":{\"isv_prod_id\":\"1\"}}",
		  "enclave.isv_prod_id: expected integer, got string" },
		{ "{\"enclave\":{\"min_isv_svn\":-1}}",
		  "enclave.min_isv_svn: -1 out of range [0, 65535]" },
		{ "{\"enclave\":{\"min_isv_svn\":1.5}}",
		  "enclave.min_isv_svn: expected integer, got number" },
		{ "{\"enclave\":{\"allow_debug\":\"yes\"}}",
		  "enclave.allow_debug: expected boolean, got string" },
		{ "{\"tcb\":{\"accepted\":[]}}",
		  "tcb.accepted: empty: no TCB status would be accepted" },
		{ "{\"tcb\":{\"accepted\":\"UpToDate\"}}",
		  "tcb.accepted: expected array, got string" },
		{ "{\"tcb\":{\"accepted\":[\"UpToDate\",\"Fine\"]}}",
		  "tcb.accepted[1]: unknown TCB status \"Fine\"" },
		{ "{\"tcb\":{\"accepted\":[\"unknown: no collateral\"]}}",
		  "tcb.accepted[0]: unknown TCB status \"unknown: no collateral\"" },
		{ "{\"tcb\":{\"accepted\":[\"uptodate\"]}}",
		  "tcb.accepted[0]: unknown TCB status \"uptodate\"" },
		{ "{\"tcb\":{\"accepted\":[\"UpToDate\\u0000\"]}}",
		  "tcb.accepted[0]: unknown TCB status \"UpToDate\\x00\"" },
		{ "{\"tcb\":{\"accepted\":[true]}}",
		  "tcb.accepted[0]: expected string, got boolean" },
		{ "{\"tcb\":{\"allow_unknown\":\"true\"}}",
		  "tcb.allow_unknown: expected boolean, got string" },
		{ "{\"report_data\":\"abc\"}",
		  "report_data: expected 2 to 128 hex digits (1 to 64 bytes, zero-padded)" },
		{ "{\"report_data\":\"\"}",
		  "report_data: expected 2 to 128 hex digits (1 to 64 bytes, zero-padded)" },
		{ "{\"report_data\":\"zz\"}",
		  "report_data: expected 2 to 128 hex digits (1 to 64 bytes, zero-padded)" },
		{ "{\"report_data\":[]}", "report_data: expected string, got array" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(attest_policy_parse(bad[i].json, strlen(bad[i].json), &p, &err),
				 -1);
		_cleanup_free_ char *w = xasprintf("appraisal policy: %s", bad[i].msg);
		expect_err(&err, w);
		/* Nothing half-read is left. */
		assert_memory_equal(&p, &d, sizeof(p));
	}

	/* 128 hex digits of report data are the most; 130 are too many. */
	char rd[160];
	memset(rd, 0, sizeof(rd));
	memcpy(rd, "{\"report_data\":\"", 16);
	memset(rd + 16, 'a', 128);
	memcpy(rd + 144, "\"}", 2);
	policy(rd, &p);
	memset(rd + 16, 'a', 130);
	memcpy(rd + 146, "\"}", 2);
	assert_int_equal(attest_policy_parse(rd, strlen(rd), &p, &err), -1);
	expect_err(&err, "appraisal policy: report_data: expected 2 to 128 hex digits (1 to 64 "
			 "bytes, zero-padded)");

	/* 64 identities are the most. */
	char *big = xstrdup("{\"enclave\":{\"mrsigner\":[");
	for (int i = 0; i < 65; i++) {
		char *next = xasprintf("%s%s\"%s\"", big, i ? "," : "", OCCLUM_MRSIGNER);
		free(big);
		big = next;
		if (i == 63) {
			_cleanup_free_ char *full = xasprintf("%s]}}", big);
			policy(full, &p);
			assert_int_equal(p.n_mrsigner, 64);
		}
	}
	char *full = xasprintf("%s]}}", big);
	assert_int_equal(attest_policy_parse(full, strlen(full), &p, &err), -1);
	expect_err(&err, "appraisal policy: enclave.mrsigner: 65 entries, more than 64");
	free(full);
	free(big);

	/* Not JSON, duplicate keys, too large. */
	assert_int_equal(attest_policy_parse("{", 1, &p, &err), -1);
	expect_prefix(&err, "appraisal policy: line 1 column 1: ");
	static const char dup[] =
	    "{\"insecure_allow_simulated\":false,\"insecure_allow_simulated\":true}";
	assert_int_equal(attest_policy_parse(dup, strlen(dup), &p, &err), -1);
	expect_prefix(&err, "appraisal policy: line 1 column ");
	assert_false(p.insecure_allow_simulated);
	assert_int_equal(attest_policy_parse("{}", ATTEST_POLICY_MAX + 1, &p, &err), -1);
	expect_err(&err, "appraisal policy: 1048577 bytes, more than 1048576");
}

/* ---- local attestation ---- */

static void test_local(void **state)
{
	struct cc_error *err = NULL;
	struct attest_local_peer peer;
	struct sgx_target_info self = { 0 }, other;
	uint8_t rep[432], bad[432];
	for (int i = 0; i < 32; i++)
		self.mr_enclave[i] = (uint8_t)(0xa0 + i);
	self.attributes.flags = SGX_FLAGS_INIT | SGX_FLAGS_MODE64BIT;
	other = self;
	other.mr_enclave[7] ^= 4;

	/* For us: the peer's identity. */
	make_report(&plain, self.mr_enclave, rep);
	ok(attest_local_verify(&self, rep, sizeof(rep), true, &peer, &err), &err);
	assert_true(peer.simulated);
	assert_false(peer.debug);
	assert_memory_equal(peer.enclave.mrenclave, rep + 64, 32);
	assert_memory_equal(peer.enclave.mrsigner, rep + 128, 32);
	assert_int_equal(peer.enclave.isvprodid, 7);
	assert_int_equal(peer.enclave.isvsvn, 3);
	assert_memory_equal(peer.enclave.report_data, "nonce", 5);

	/* Not allowed; for another target; a flipped bit anywhere; a hardware REPORT; sizes. */
	assert_int_equal(attest_local_verify(&self, rep, sizeof(rep), false, &peer, &err), -1);
	expect_err(&err, LOCAL_REFUSED);
	assert_int_equal(attest_local_verify(&other, rep, sizeof(rep), true, &peer, &err), -1);
	expect_err(&err, MAC_MISMATCH);
	for (size_t bit = 0; bit < 432 * 8; bit++) {
		memcpy(bad, rep, sizeof(bad));
		bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_int_equal(attest_local_verify(&self, bad, sizeof(bad), true, &peer, &err),
				 -1);
		expect_err(&err, bit / 8 >= 384 && bit / 8 < 416 ? NOT_SIMULATED : MAC_MISMATCH);
	}
	memcpy(bad, rep, sizeof(bad));
	memset(bad + 384, 0, 32); /* a hardware KEYID, here zero */
	assert_int_equal(attest_local_verify(&self, bad, sizeof(bad), true, &peer, &err), -1);
	expect_err(&err, NOT_SIMULATED);
	assert_int_equal(attest_local_verify(&self, rep, 0, true, &peer, &err), -1);
	expect_err(&err, "local attestation: REPORT is 0 bytes, not 432");
	assert_int_equal(attest_local_verify(&self, rep, 433, true, &peer, &err), -1);
	expect_err(&err, "local attestation: REPORT is 433 bytes, not 432");

	/* A debug peer says so. */
	struct body dbg = plain;
	dbg.flags |= SGX_FLAGS_DEBUG;
	make_report(&dbg, self.mr_enclave, rep);
	ok(attest_local_verify(&self, rep, sizeof(rep), true, &peer, &err), &err);
	assert_true(peer.debug);

	/* Appraised: identity rules, not the TCB. */
	struct attest_policy p;
	policy("{\"insecure_allow_simulated\":true,\"enclave\":{\"allow_debug\":true,\"isv_prod_"
	       "id\":7}}",
	       &p);
	ok(attest_appraise_local(&p, &peer, &err), &err);
	policy("{\"enclave\":{\"allow_debug\":true}}", &p);
	assert_int_equal(attest_appraise_local(&p, &peer, &err), -1);
	expect_err(&err,
		   "appraisal: simulated evidence refused (insecure_allow_simulated is not set)");
	policy("{\"insecure_allow_simulated\":true}", &p);
	assert_int_equal(attest_appraise_local(&p, &peer, &err), -1);
	expect_err(&err, "appraisal: debug enclave refused (attributes.flags DEBUG set)");
	policy("{\"insecure_allow_simulated\":true,\"enclave\":{\"allow_debug\":true,\"min_isv_"
	       "svn\":9}}",
	       &p);
	assert_int_equal(attest_appraise_local(&p, &peer, &err), -1);
	expect_err(&err, "appraisal: ISVSVN 3 is below the minimum 9");
	policy(
	    "{\"insecure_allow_simulated\":true,\"enclave\":{\"allow_debug\":true},\"report_data\":"
	    "\"6e6f6e6365\"}",
	    &p);
	ok(attest_appraise_local(&p, &peer, &err), &err);
}

/* Two enclaves of the real skeleton: one's TARGETINFO from its own REPORT, the other's REPORT
 * for it. */
static void test_local_skeleton(void **state)
{
	struct cc_error *err = NULL;
	struct attest_local_peer peer;
	struct sgx_target_info zero = { 0 }, self, other;
	uint8_t own[432], rep[432], mr[32];

	/* Our own REPORT (for any target) gives our TARGETINFO. */
	skeleton_report(&zero, "", 0, own);
	attest_target_info_from_report(own, &self);
	assert_memory_equal(self.mr_enclave, own + 64, 32);
	assert_int_equal(self.attributes.flags, SGX_FLAGS_INIT | SGX_FLAGS_MODE64BIT);
	assert_int_equal(self.attributes.xfrm, 3);
	/* From the body alone, the same. */
	struct sgx_target_info from_body;
	uint8_t *body = xmalloc(384);
	memcpy(body, own, 384);
	attest_target_info_from_report(body, &from_body);
	free(body);
	assert_memory_equal(&from_body, &self, sizeof(self));
	uint8_t rest[512 - 128] = { 0 };
	assert_memory_equal((uint8_t *)&self + 128, rest, sizeof(rest));

	/* The peer's REPORT for us passes, naming the peer; for zero it does not. */
	skeleton_report(&self, "store-view-key", 14, rep);
	ok(attest_local_verify(&self, rep, sizeof(rep), true, &peer, &err), &err);
	measure("/bin/true", mr);
	assert_memory_equal(peer.enclave.mrenclave, mr, 32);
	assert_memory_equal(peer.enclave.report_data, "store-view-key", 14);
	other = self;
	other.mr_enclave[0] ^= 1;
	assert_int_equal(attest_local_verify(&other, rep, sizeof(rep), true, &peer, &err), -1);
	expect_err(&err, MAC_MISMATCH);
	skeleton_report(&zero, "store-view-key", 14, rep);
	assert_int_equal(attest_local_verify(&self, rep, sizeof(rep), true, &peer, &err), -1);
	expect_err(&err, MAC_MISMATCH);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_file),       cmocka_unit_test(test_key_race),
		cmocka_unit_test(test_sim_qe_target),  cmocka_unit_test(test_sim_evidence),
		cmocka_unit_test(test_make_refuses),   cmocka_unit_test(test_skeleton_evidence),
		cmocka_unit_test(test_tamper),	       cmocka_unit_test(test_real_quotes),
		cmocka_unit_test(test_appraise_real),  cmocka_unit_test(test_appraise_rules),
		cmocka_unit_test(test_policy_parse),   cmocka_unit_test(test_local),
		cmocka_unit_test(test_local_skeleton),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
