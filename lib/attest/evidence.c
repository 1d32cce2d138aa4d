// SPDX-License-Identifier: Apache-2.0
/* Simulated evidence (SIMTEE01) and the one entry point that verifies either kind of evidence
 * (see evidence.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include "attest/evidence.h"
#include "attest/internal.h"
#include "attest/local.h"
#include "util/cleanup.h"
#include "util/le.h"
#include "util/fs.h"

/* A PEM P-256 key is about 250 bytes; anything much larger is not one. */
#define KEY_FILE_MAX (16u << 10)

struct attest_sim_key {
	EVP_PKEY *pkey;
	bool priv;
	uint8_t id[ATTEST_SIM_KEY_ID_SIZE];
};

/* ---- the key ---- */

void attest_sim_key_free(struct attest_sim_key *k)
{
	if (!k)
		return;
	EVP_PKEY_free(k->pkey);
	free(k);
}

void attest_sim_key_id(const struct attest_sim_key *k, uint8_t id[ATTEST_SIM_KEY_ID_SIZE])
{
	memcpy(id, k->id, ATTEST_SIM_KEY_ID_SIZE);
}

/* Takes pkey (freed on failure). what names the key in messages. */
static struct attest_sim_key *key_new(EVP_PKEY *pkey, bool priv, const char *what,
				      struct cc_error **err)
{
	if (!attest_is_p256(pkey)) {
		EVP_PKEY_free(pkey);
		return cc_error_set(err, 0, "%s: not an ECDSA P-256 key", what), NULL;
	}
	unsigned char *der = NULL;
	int n = i2d_PUBKEY(pkey, &der);
	if (n <= 0) {
		ERR_clear_error();
		EVP_PKEY_free(pkey);
		return cc_error_set(err, 0, "%s: its public key cannot be encoded", what), NULL;
	}
	struct attest_sim_key *k = xzalloc(sizeof(*k));
	k->pkey = pkey;
	k->priv = priv;
	SHA256(der, (size_t)n, k->id);
	OPENSSL_free(der);
	return k;
}

/* A pass-phrase is never asked for: an encrypted key is not one this code made. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	return -1;
}

static struct attest_sim_key *key_parse(const char *pem, size_t len, const char *what,
					struct cc_error **err)
{
	if (len > KEY_FILE_MAX)
		return cc_error_set(err, 0, "%s: %zu bytes, more than %u", what, len, KEY_FILE_MAX),
		       NULL;
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	if (!bio)
		abort(); /* only allocation fails here */
	bool priv = true;
	EVP_PKEY *pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	if (!pkey) {
		priv = false;
		if (BIO_reset(bio) != 1)
			abort();
		pkey = PEM_read_bio_PUBKEY(bio, NULL, no_passphrase, NULL);
	}
	BIO_free(bio);
	ERR_clear_error();
	if (!pkey)
		return cc_error_set(err, 0, "%s: no PEM private or public key", what), NULL;
	return key_new(pkey, priv, what, err);
}

struct attest_sim_key *attest_sim_key_from_pem(const char *pem, size_t len, struct cc_error **err)
{
	return key_parse(pem, len, "simulated attestation key", err);
}

char *attest_sim_key_public_pem(const struct attest_sim_key *k, struct cc_error **err)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data = NULL, *out = NULL;
	if (!bio)
		abort();
	long n = PEM_write_bio_PUBKEY(bio, k->pkey) == 1 ? BIO_get_mem_data(bio, &data) : 0;
	if (n > 0)
		out = xstrndup(data, (size_t)n);
	BIO_free(bio);
	ERR_clear_error();
	if (!out)
		cc_error_set(err, 0, "simulated attestation key: its public key cannot be encoded");
	return out;
}

/* The private key in the open file fd (path for messages). */
static struct attest_sim_key *key_load_fd(int fd, const char *path, struct cc_error **err)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return cc_error_errno(err, "simulated attestation key %s", path), NULL;
	if (!S_ISREG(st.st_mode))
		return cc_error_set(err, 0, "simulated attestation key %s: not a regular file",
				    path),
		       NULL;
	if (st.st_mode & 077)
		return cc_error_set(err, 0,
				    "simulated attestation key %s: mode %04o, readable by others "
				    "than its owner (0600 expected)",
				    path, (unsigned)(st.st_mode & 07777)),
		       NULL;
	_cleanup_free_ char *buf = xmalloc(KEY_FILE_MAX + 1);
	ssize_t n = cc_read_all(fd, buf, KEY_FILE_MAX + 1);
	if (n < 0)
		return cc_error_errno(err, "simulated attestation key %s", path), NULL;
	_cleanup_free_ char *what = xasprintf("simulated attestation key %s", path);
	struct attest_sim_key *k = key_parse(buf, (size_t)n, what, err);
	explicit_bzero(buf, (size_t)n);
	if (k && !k->priv) {
		attest_sim_key_free(k);
		return cc_error_set(err, 0, "%s: a public key, not the private key", what), NULL;
	}
	return k;
}

/* NULL without an error when *missing: there is no file at path. */
static struct attest_sim_key *key_load(const char *path, bool *missing, struct cc_error **err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	*missing = fd < 0 && errno == ENOENT;
	if (*missing)
		return NULL;
	if (fd < 0 && errno == ELOOP)
		return cc_error_set(err, 0, "simulated attestation key %s: a symbolic link", path),
		       NULL;
	if (fd < 0)
		return cc_error_errno(err, "simulated attestation key %s", path), NULL;
	return key_load_fd(fd, path, err);
}

/* The PEM of a new key written to a private temporary file next to path, then linked to path:
 * readers never see a half-written key, and of two creators the first link wins. Returns 1
 * when the key is there, 0 when another process made path first, -1 on failure. */
static int key_write(const char *path, EVP_PKEY *pkey, struct cc_error **err)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data = NULL;
	if (!bio)
		abort();
	long n = PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL) == 1
		     ? BIO_get_mem_data(bio, &data)
		     : 0;
	ERR_clear_error();
	int ret = -1;
	_cleanup_free_ char *tmp = xasprintf("%s.XXXXXX", path);
	int fd = n > 0 ? mkostemp(tmp, O_CLOEXEC) : -1;
	if (n <= 0)
		cc_error_set(err, 0, "simulated attestation key %s: cannot encode the new key",
			     path);
	else if (fd < 0)
		cc_error_errno(err, "simulated attestation key %s: create %s", path, tmp);
	else if (cc_write_all(fd, data, (size_t)n) < 0 || fsync(fd) < 0)
		cc_error_errno(err, "simulated attestation key %s: write %s", path, tmp);
	else if (link(tmp, path) == 0)
		ret = 1;
	else if (errno == EEXIST)
		ret = 0;
	else
		cc_error_errno(err, "simulated attestation key %s: link", path);
	if (fd >= 0) {
		close(fd);
		CC_BEST_EFFORT(unlink(tmp)); /* a leftover temporary file holds no live key */
	}
	if (n > 0)
		OPENSSL_cleanse(data, (size_t)n);
	BIO_free(bio);
	return ret;
}

static struct attest_sim_key *key_create(const char *path, struct cc_error **err)
{
	const char *slash = strrchr(path, '/');
	if (slash && slash != path) {
		_cleanup_free_ char *dir = xstrndup(path, (size_t)(slash - path));
		if (cc_mkdir_p(dir, 0700, err) < 0)
			return cc_error_prefix(err, "simulated attestation key %s", path), NULL;
	}
	EVP_PKEY *pkey = EVP_EC_gen("P-256");
	ERR_clear_error();
	if (!pkey)
		return cc_error_set(err, 0, "simulated attestation key %s: cannot generate a key",
				    path),
		       NULL;
	int r = key_write(path, pkey, err);
	if (r < 0) {
		EVP_PKEY_free(pkey);
		return NULL;
	}
	if (r == 0) { /* another process created it first: its key is the machine's */
		EVP_PKEY_free(pkey);
		bool missing;
		struct attest_sim_key *k = key_load(path, &missing, err);
		if (!k && missing) /* made and removed again in between */
			cc_error_set(err, ENOENT, "simulated attestation key %s", path);
		return k;
	}
	_cleanup_free_ char *what = xasprintf("simulated attestation key %s", path);
	return key_new(pkey, true, what, err);
}

int attest_sim_key_private(const struct attest_sim_key *k, uint8_t out[32], struct cc_error **err)
{
	BIGNUM *d = NULL;
	if (!k->priv)
		return cc_error_set(err, 0,
				    "simulated attestation key: a public key, not the "
				    "private key");
	int ok = EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_PRIV_KEY, &d) == 1 &&
		 BN_bn2binpad(d, out, 32) == 32;
	BN_clear_free(d);
	ERR_clear_error();
	return ok ? 0 : cc_error_set(err, 0, "simulated attestation key: no private scalar");
}

struct attest_sim_key *attest_sim_key_open(const char *path, struct cc_error **err)
{
	bool missing = false;
	if (!path)
		path = ATTEST_SIM_KEY_PATH;
	struct attest_sim_key *k = key_load(path, &missing, err);
	return k || !missing ? k : key_create(path, err);
}

/* ---- making evidence ---- */

void attest_sim_qe_target_info(struct sgx_target_info *ti)
{
	static const char name[] = "rune-simulated-quoting-enclave";
	memset(ti, 0, sizeof(*ti));
	SHA256((const unsigned char *)name, sizeof(name) - 1, ti->mr_enclave);
	ti->attributes.flags = SGX_FLAGS_INIT | SGX_FLAGS_MODE64BIT;
	ti->attributes.xfrm = SGX_XFRM_LEGACY;
}

/* ECDSA P-256 with SHA-256, the signature as raw r||s. */
static int sign_raw(EVP_PKEY *key, const uint8_t *msg, size_t len, uint8_t sig[64])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	uint8_t der[128];
	size_t der_len = sizeof(der);
	int ret = -1;
	if (!ctx)
		abort();
	if (EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 &&
	    EVP_DigestSign(ctx, der, &der_len, msg, len) == 1) {
		const unsigned char *p = der;
		ECDSA_SIG *s = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
		if (s && BN_bn2binpad(ECDSA_SIG_get0_r(s), sig, 32) == 32 &&
		    BN_bn2binpad(ECDSA_SIG_get0_s(s), sig + 32, 32) == 32)
			ret = 0;
		ECDSA_SIG_free(s);
	}
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return ret;
}

int attest_sim_evidence_make(const struct attest_sim_key *key, const struct sgx_target_info *target,
			     const void *report, size_t report_len,
			     uint8_t out[ATTEST_SIM_EVIDENCE_SIZE], struct cc_error **err)
{
	struct attest_local_peer peer;
	if (!key->priv)
		return cc_error_set(
		    err, 0,
		    "evidence: the simulated attestation key given is a public key, "
		    "it cannot sign");
	/* Only a REPORT the local simulated platform made for this target is vouched for. */
	if (attest_local_verify(target, report, report_len, true, &peer, err) < 0)
		return cc_error_prefix(err, "evidence");
	memset(out, 0, ATTEST_SIM_EVIDENCE_SIZE);
	memcpy(out, ATTEST_SIM_MAGIC, ATTEST_SIM_MAGIC_LEN);
	cc_put_le16(out + 8, ATTEST_SIM_VERSION);
	cc_put_le32(out + 12, SGX_REPORT_BODY_SIZE);
	memcpy(out + 16, key->id, ATTEST_SIM_KEY_ID_SIZE);
	memcpy(out + 48, report, SGX_REPORT_BODY_SIZE);
	cc_put_le32(out + 432, 64);
	if (sign_raw(key->pkey, out, ATTEST_SIM_SIGNED_SIZE, out + ATTEST_SIM_SIGNED_SIZE) < 0)
		return cc_error_set(err, 0,
				    "evidence: signing with the simulated attestation key "
				    "failed");
	return 0;
}

/* ---- reading evidence ---- */

int attest_sim_evidence_parse(const void *buf, size_t len, struct attest_sim_evidence *out,
			      struct cc_error **err)
{
	const uint8_t *b = buf;
	if (len < ATTEST_SIM_MAGIC_LEN || memcmp(b, ATTEST_SIM_MAGIC, ATTEST_SIM_MAGIC_LEN))
		return cc_error_set(err, 0, "evidence: not simulated evidence (no SIMTEE01 magic)");
	if (len < ATTEST_SIM_HEADER_SIZE)
		return cc_error_set(err, 0, "evidence: truncated: %zu bytes, the header has %d",
				    len, ATTEST_SIM_HEADER_SIZE);
	uint16_t version = cc_le16(b + 8);
	if (version != ATTEST_SIM_VERSION)
		return cc_error_set(
		    err, 0,
		    "evidence: simulated evidence version %u is not supported (only "
		    "%d)",
		    version, ATTEST_SIM_VERSION);
	if (cc_le16(b + 10))
		return cc_error_set(err, 0, "evidence: header: reserved bytes are not zero");
	uint32_t body_size = cc_le32(b + 12);
	if (body_size != SGX_REPORT_BODY_SIZE)
		return cc_error_set(err, 0, "evidence: body size %u, not %d (an SGX report body)",
				    body_size, SGX_REPORT_BODY_SIZE);
	size_t left = len - ATTEST_SIM_HEADER_SIZE;
	if (left < ATTEST_SIM_KEY_ID_SIZE + (size_t)body_size)
		return cc_error_set(err, 0,
				    "evidence: truncated: key id and body size %u but %zu "
				    "bytes left",
				    body_size, left);
	left -= ATTEST_SIM_KEY_ID_SIZE + body_size;
	if (left < 4)
		return cc_error_set(
		    err, 0, "evidence: truncated: the signature size needs 4 bytes, %zu left",
		    left);
	uint32_t sig_size = cc_le32(b + 432);
	left -= 4;
	if (sig_size != 64)
		return cc_error_set(
		    err, 0, "evidence: signature size %u, not 64 (ECDSA P-256 r||s)", sig_size);
	if (left < sig_size)
		return cc_error_set(err, 0,
				    "evidence: truncated: signature size %u but %zu bytes "
				    "left",
				    sig_size, left);
	if (left > sig_size)
		return cc_error_set(err, 0, "evidence: %zu byte%s after the signature",
				    left - sig_size, left - sig_size == 1 ? "" : "s");
	memset(out, 0, sizeof(*out));
	out->version = version;
	memcpy(out->key_id, b + 16, ATTEST_SIM_KEY_ID_SIZE);
	attest_sgx_report_decode(b + 48, &out->enclave);
	memcpy(out->signature, b + ATTEST_SIM_SIGNED_SIZE, 64);
	memcpy(out->raw, b, ATTEST_SIM_EVIDENCE_SIZE);
	return 0;
}

int attest_sim_evidence_check(const struct attest_sim_evidence *ev,
			      const struct attest_sim_key *key, struct cc_error **err)
{
	if (memcmp(ev->key_id, key->id, ATTEST_SIM_KEY_ID_SIZE)) {
		char got[2 * ATTEST_SIM_KEY_ID_SIZE + 1], want[2 * ATTEST_SIM_KEY_ID_SIZE + 1];
		cc_hex_encode(ev->key_id, ATTEST_SIM_KEY_ID_SIZE, got);
		cc_hex_encode(key->id, ATTEST_SIM_KEY_ID_SIZE, want);
		return cc_error_set(err, 0,
				    "evidence: signed by another simulated attestation key (key id "
				    "%s, expected %s)",
				    got, want);
	}
	if (attest_ecdsa_verify(key->pkey, ev->signature, ev->raw, ATTEST_SIM_SIGNED_SIZE) != 1)
		return cc_error_set(err, 0,
				    "evidence: signature does not verify with the simulated "
				    "attestation key");
	return 0;
}

/* ---- verifying either kind ---- */

const char *attest_evidence_kind_name(enum attest_evidence_kind k)
{
	switch (k) {
	case ATTEST_EVIDENCE_SGX_QUOTE:
		return "sgx-dcap-quote";
	case ATTEST_EVIDENCE_SIMULATED:
		return "simulated (SIMTEE01, not hardware evidence)";
	}
	return "invalid";
}

static int verify_simulated(const void *buf, size_t len, const struct attest_evidence_opts *o,
			    struct attest_evidence_result *r, struct cc_error **err)
{
	struct attest_sim_evidence ev;
	if (!o->insecure_allow_simulated)
		return cc_error_set(err, 0, "%s", ATTEST_SIM_REFUSED);
	if (!o->sim_key)
		return cc_error_set(err, 0,
				    "evidence: simulated evidence is allowed but no simulated "
				    "attestation key was given to check it");
	if (attest_sim_evidence_parse(buf, len, &ev, err) < 0 ||
	    attest_sim_evidence_check(&ev, o->sim_key, err) < 0)
		return -1;
	r->kind = ATTEST_EVIDENCE_SIMULATED;
	r->simulated = true;
	r->enclave = ev.enclave;
	r->debug = (ev.enclave.flags & ATTEST_SGX_FLAG_DEBUG) != 0;
	r->version = ev.version;
	memcpy(r->sim_key_id, ev.key_id, ATTEST_SIM_KEY_ID_SIZE);
	return 0;
}

static int verify_quote(const void *buf, size_t len, const struct attest_evidence_opts *o,
			struct attest_evidence_result *r, struct cc_error **err)
{
	_cleanup_attest_quote_ struct attest_quote *q = attest_quote_parse(buf, len, err);
	if (!q)
		return -1;
	if (q->tee_type != ATTEST_TEE_SGX)
		return cc_error_set(err, 0,
				    "evidence: a TDX quote (TEE type 0x%x): only SGX enclaves are "
				    "appraised here",
				    q->tee_type);
	if (attest_quote_verify(q, &o->quote, &r->verdict, err) < 0)
		return -1;
	r->kind = ATTEST_EVIDENCE_SGX_QUOTE;
	r->simulated = false;
	r->enclave = q->enclave;
	r->debug = attest_quote_is_debug(q);
	r->version = q->version;
	return 0;
}

int attest_evidence_verify(const void *buf, size_t len, const struct attest_evidence_opts *o,
			   struct attest_evidence_result *r, struct cc_error **err)
{
	memset(r, 0, sizeof(*r));
	/* A quote starts with its version (3 or 4, little-endian), never with "SI". */
	if (len >= ATTEST_SIM_MAGIC_LEN && !memcmp(buf, ATTEST_SIM_MAGIC, ATTEST_SIM_MAGIC_LEN))
		return verify_simulated(buf, len, o, r, err);
	return verify_quote(buf, len, o, r, err);
}

void attest_evidence_result_clear(struct attest_evidence_result *r)
{
	attest_verdict_clear(&r->verdict);
	memset(r, 0, sizeof(*r));
}
