// SPDX-License-Identifier: Apache-2.0
/* The simulated backend's measurement and report MAC, with OpenSSL 3 (libcrypto). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include "pal/skeleton/sim-report.h"

/* Large enough to keep syscalls rare, small enough to stay bounded whatever the file size. */
#define MEASURE_CHUNK (256 * 1024)

static void free_md_ctx(EVP_MD_CTX **ctx)
{
	EVP_MD_CTX_free(*ctx);
}

static void free_buf(uint8_t **p)
{
	free(*p);
}

static int hash_file(EVP_MD_CTX *ctx, int fd, uint64_t size)
{
	__attribute__((cleanup(free_buf))) uint8_t *buf = malloc(MEASURE_CHUNK);
	if (!buf)
		return -ENOMEM;
	uint64_t done = 0;
	for (;;) {
		ssize_t n = pread(fd, buf, MEASURE_CHUNK, (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		done += (uint64_t)n;
		/* The size is already hashed: a file that grew since fstat is not this image. */
		if (done > size)
			return -EIO;
		if (EVP_DigestUpdate(ctx, buf, (size_t)n) != 1)
			return -EIO;
	}
	return done == size ? 0 : -EIO;
}

int skel_sim_measure_fd(int fd, uint8_t mr_enclave[SGX_HASH_SIZE])
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -ENOEXEC;
	uint64_t size = (uint64_t)st.st_size;
	uint8_t le[8];
	for (int i = 0; i < 8; i++)
		le[i] = (uint8_t)(size >> (8 * i));

	__attribute__((cleanup(free_md_ctx))) EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx)
		return -ENOMEM;
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, SKEL_SIM_MEASURE_TAG, sizeof(SKEL_SIM_MEASURE_TAG)) != 1 ||
	    EVP_DigestUpdate(ctx, le, sizeof(le)) != 1)
		return -EIO;
	int r = hash_file(ctx, fd, size);
	if (r < 0)
		return r;
	unsigned int len = 0;
	if (EVP_DigestFinal_ex(ctx, mr_enclave, &len) != 1 || len != SGX_HASH_SIZE)
		return -EIO;
	return 0;
}

int skel_sim_mr_signer(uint8_t mr_signer[SGX_HASH_SIZE])
{
	unsigned int len = 0;
	if (EVP_Digest(SKEL_SIM_SIGNER_TAG, sizeof(SKEL_SIM_SIGNER_TAG) - 1, mr_signer, &len,
		       EVP_sha256(), NULL) != 1 ||
	    len != SGX_HASH_SIZE)
		return -EIO;
	return 0;
}

struct chunk {
	const void *data;
	size_t len;
};

/* One MAC (HMAC-SHA256 or AES-128-CMAC) over the concatenation of chunks. */
static int mac_chunks(const char *alg, const char *param, const char *subalg, const void *key,
		      size_t key_len, const struct chunk *chunks, size_t n, uint8_t *out,
		      size_t out_size)
{
	int ret = -EIO;
	EVP_MAC *mac = EVP_MAC_fetch(NULL, alg, NULL);
	EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
	if (!ctx)
		goto out;
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(param, (char *)subalg, 0),
		OSSL_PARAM_construct_end(),
	};
	if (EVP_MAC_init(ctx, key, key_len, params) != 1)
		goto out;
	for (size_t i = 0; i < n; i++)
		if (EVP_MAC_update(ctx, chunks[i].data, chunks[i].len) != 1)
			goto out;
	size_t len = 0;
	if (EVP_MAC_final(ctx, out, &len, out_size) == 1 && len == out_size)
		ret = 0;
out:
	/* EVP_MAC_CTX_free cleanses the key schedule it holds. */
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	return ret;
}

int skel_sim_report_key(const uint8_t target_mr_enclave[SGX_HASH_SIZE],
			const uint8_t key_id[SGX_KEYID_SIZE], uint8_t key[16])
{
	const struct chunk msg[] = {
		{ SKEL_SIM_REPORT_KEY_LABEL, sizeof(SKEL_SIM_REPORT_KEY_LABEL) - 1 },
		{ target_mr_enclave, SGX_HASH_SIZE },
		{ key_id, SGX_KEYID_SIZE },
	};
	uint8_t full[32];
	int r = mac_chunks("HMAC", OSSL_MAC_PARAM_DIGEST, "SHA256", SKEL_SIM_ROOT_KEY,
			   sizeof(SKEL_SIM_ROOT_KEY) - 1, msg, 3, full, sizeof(full));
	if (r == 0)
		memcpy(key, full, 16);
	explicit_bzero(full, sizeof(full));
	return r;
}

int skel_sim_report_mac(const struct sgx_report_body *body,
			const uint8_t target_mr_enclave[SGX_HASH_SIZE], uint8_t mac[SGX_MAC_SIZE])
{
	uint8_t key_id[SGX_KEYID_SIZE], key[16];
	skel_sim_keyid(key_id);
	int r = skel_sim_report_key(target_mr_enclave, key_id, key);
	if (r == 0) {
		const struct chunk msg[] = { { body, sizeof(*body) } };
		r = mac_chunks("CMAC", OSSL_MAC_PARAM_CIPHER, "AES-128-CBC", key, sizeof(key), msg,
			       1, mac, SGX_MAC_SIZE);
	}
	explicit_bzero(key, sizeof(key));
	return r;
}

bool skel_sim_report_verify(const struct sgx_report *r,
			    const uint8_t target_mr_enclave[SGX_HASH_SIZE])
{
	if (!sgx_report_is_simulated(r))
		return false;
	uint8_t mac[SGX_MAC_SIZE];
	if (skel_sim_report_mac(&r->body, target_mr_enclave, mac) < 0)
		return false;
	bool ok = CRYPTO_memcmp(mac, r->mac, sizeof(mac)) == 0;
	explicit_bzero(mac, sizeof(mac));
	return ok;
}
