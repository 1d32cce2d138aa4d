// SPDX-License-Identifier: Apache-2.0
/* Protected objects: what the writer and the reader share (pf-internal.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "store/pf-internal.h"
#include "util/cleanup.h"
#include "util/hkdf.h"
#include "util/hex.h"

#define PF_KDF_INFO "rune-store object v1"

struct store_pf_key *store_pf_key_new(const uint8_t bytes[STORE_PF_KEY_LEN])
{
	struct store_pf_key *k = xmalloc(sizeof(*k));
	memcpy(k->bytes, bytes, sizeof(k->bytes));
	return k;
}

void store_pf_key_free(struct store_pf_key *key)
{
	if (!key)
		return;
	explicit_bzero(key, sizeof(*key));
	free(key);
}

/* ---- a file descriptor as the host file ---- */

static ssize_t fd_pread(void *ctx, void *buf, size_t len, uint64_t off)
{
	ssize_t n;
	if (off > INT64_MAX)
		return errno = EINVAL, -1;
	do
		n = pread((int)(intptr_t)ctx, buf, len, (off_t)off);
	while (n < 0 && errno == EINTR);
	return n;
}

static ssize_t fd_pwrite(void *ctx, const void *buf, size_t len, uint64_t off)
{
	ssize_t n;
	if (off > INT64_MAX)
		return errno = EINVAL, -1;
	do
		n = pwrite((int)(intptr_t)ctx, buf, len, (off_t)off);
	while (n < 0 && errno == EINTR);
	return n;
}

static int fd_size(void *ctx, uint64_t *size)
{
	struct stat st;
	if (fstat((int)(intptr_t)ctx, &st) < 0)
		return -1;
	*size = (uint64_t)st.st_size;
	return 0;
}

struct store_pf_io store_pf_io_fd(int fd)
{
	/* The fd itself is the context: nothing to allocate or free. */
	return (struct store_pf_io){ fd_pread, fd_pwrite, fd_size, (void *)(intptr_t)fd };
}

/* ---- layout ---- */

void pf_layout_init(struct pf_layout *l, unsigned chunk_log2, uint64_t size)
{
	uint64_t below, first = 0;

	memset(l, 0, sizeof(*l));
	l->chunk_log2 = chunk_log2;
	l->chunk = UINT32_C(1) << chunk_log2;
	l->fanout = l->chunk / PF_ENTRY_LEN;
	l->size = size;
	l->chunks = (size + l->chunk - 1) >> chunk_log2;
	l->tree_off = STORE_PF_HEADER_SIZE + l->chunks * l->chunk;
	/* Levels until one node holds everything below; size <= 2^48 keeps it under 7. */
	for (below = l->chunks; below > 0 && l->depth < PF_DEPTH_MAX; l->depth++) {
		uint64_t nodes = (below + l->fanout - 1) / l->fanout;
		l->nodes[l->depth] = nodes;
		l->level_first[l->depth] = first;
		first += nodes;
		if (nodes == 1) {
			l->depth++;
			break;
		}
		below = nodes;
	}
	if (l->depth == 0)
		l->end = STORE_PF_HEADER_SIZE;
	else
		l->end = l->tree_off + (first - 1) * l->chunk +
			 (uint64_t)PF_ENTRY_LEN * pf_node_entries(l, l->depth - 1, 0);
}

uint32_t pf_chunk_len(const struct pf_layout *l, uint64_t i)
{
	if (i + 1 < l->chunks)
		return l->chunk;
	return (uint32_t)(l->size - i * l->chunk);
}

uint64_t pf_chunk_off(const struct pf_layout *l, uint64_t i)
{
	return STORE_PF_HEADER_SIZE + i * l->chunk;
}

uint32_t pf_node_entries(const struct pf_layout *l, uint32_t level, uint64_t index)
{
	uint64_t children = level ? l->nodes[level - 1] : l->chunks;
	if (index + 1 < l->nodes[level])
		return l->fanout;
	return (uint32_t)(children - index * l->fanout);
}

uint64_t pf_node_off(const struct pf_layout *l, uint32_t level, uint64_t index)
{
	return l->tree_off + (l->level_first[level] + index) * l->chunk;
}

/* ---- keys and AES-GCM ---- */

void pf_object_name(char name[2 * 8 + 1], const uint8_t id[STORE_PF_ID_LEN])
{
	cc_hex_encode(id, 8, name);
}

static bool derive_key(uint8_t out[32], const struct store_pf_key *key,
		       const uint8_t id[STORE_PF_ID_LEN], const uint8_t salt[PF_SALT_LEN])
{
	uint8_t info[sizeof(PF_KDF_INFO) - 1 + STORE_PF_ID_LEN];
	memcpy(info, PF_KDF_INFO, sizeof(PF_KDF_INFO) - 1);
	memcpy(info + sizeof(PF_KDF_INFO) - 1, id, STORE_PF_ID_LEN);
	return cc_hkdf_sha256(key->bytes, sizeof(key->bytes), salt, PF_SALT_LEN, info, sizeof(info),
			      out, 32);
}

/* AES-256-GCM fetched once: an implicit fetch at every init costs more than sealing a small
 * object. */
static EVP_CIPHER *aes_gcm;
static pthread_once_t aes_gcm_once = PTHREAD_ONCE_INIT;

static void fetch_aes_gcm(void)
{
	aes_gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
}

int pf_object_init(struct pf_object *o, const struct store_pf_key *key,
		   const struct store_pf_io *io, const uint8_t id[STORE_PF_ID_LEN],
		   const uint8_t salt[PF_SALT_LEN], bool encrypt, struct cc_error **err)
{
	uint8_t okey[32];
	bool ok;

	memcpy(o->id, id, STORE_PF_ID_LEN);
	pf_object_name(o->name, id);
	o->io = *io;
	pthread_once(&aes_gcm_once, fetch_aes_gcm);
	o->gcm = EVP_CIPHER_CTX_new();
	/* Keyed once; every chunk and node after that only sets its nonce. */
	ok = o->gcm && aes_gcm && derive_key(okey, key, id, salt) &&
	     EVP_CipherInit_ex2(o->gcm, aes_gcm, okey, NULL, encrypt, NULL) == 1;
	explicit_bzero(okey, sizeof(okey));
	if (!ok)
		return pf_error(err, o->name, EIO, "cannot set up AES-256-GCM with HKDF-SHA-256");
	return 0;
}

void pf_object_clear(struct pf_object *o)
{
	EVP_CIPHER_CTX_free(o->gcm); /* cleanses the key schedule */
	o->gcm = NULL;
	free(o->fail_msg);
	o->fail_msg = NULL;
}

bool pf_seal(struct pf_object *o, const uint8_t nonce[PF_NONCE_LEN], const uint8_t *aad,
	     size_t aad_len, const void *in, void *out, size_t len, uint8_t tag[PF_TAG_LEN])
{
	uint8_t rest[16];
	int n = 0, fin = 0;
	/* GCM writes nothing at the end; rest is there only for the API. */
	return EVP_CipherInit_ex(o->gcm, NULL, NULL, NULL, nonce, -1) == 1 &&
	       EVP_CipherUpdate(o->gcm, NULL, &n, aad, (int)aad_len) == 1 &&
	       (len == 0 ||
		(EVP_CipherUpdate(o->gcm, out, &n, in, (int)len) == 1 && (size_t)n == len)) &&
	       EVP_CipherFinal_ex(o->gcm, rest, &fin) == 1 && fin == 0 &&
	       EVP_CIPHER_CTX_ctrl(o->gcm, EVP_CTRL_AEAD_GET_TAG, PF_TAG_LEN, tag) == 1;
}

bool pf_open(struct pf_object *o, const uint8_t nonce[PF_NONCE_LEN], const uint8_t *aad,
	     size_t aad_len, void *buf, size_t len, const uint8_t tag[PF_TAG_LEN])
{
	uint8_t rest[16];
	int n = 0, fin = 0;
	return EVP_CipherInit_ex(o->gcm, NULL, NULL, NULL, nonce, -1) == 1 &&
	       EVP_CipherUpdate(o->gcm, NULL, &n, aad, (int)aad_len) == 1 &&
	       (len == 0 ||
		(EVP_CipherUpdate(o->gcm, buf, &n, buf, (int)len) == 1 && (size_t)n == len)) &&
	       EVP_CIPHER_CTX_ctrl(o->gcm, EVP_CTRL_AEAD_SET_TAG, PF_TAG_LEN, (void *)tag) == 1 &&
	       EVP_CipherFinal_ex(o->gcm, rest, &fin) == 1 && fin == 0;
}

void pf_chunk_aad(uint8_t aad[PF_AAD_CHUNK_LEN], const uint8_t id[STORE_PF_ID_LEN], uint64_t index,
		  uint64_t len)
{
	memcpy(aad, "RPFD", 4);
	memcpy(aad + 4, id, STORE_PF_ID_LEN);
	cc_put_le64(aad + 20, index);
	cc_put_le64(aad + 28, len);
}

void pf_node_aad(uint8_t aad[PF_AAD_NODE_LEN], const uint8_t id[STORE_PF_ID_LEN], uint32_t level,
		 uint64_t index, uint64_t len)
{
	memcpy(aad, "RPFN", 4);
	memcpy(aad + 4, id, STORE_PF_ID_LEN);
	cc_put_le32(aad + 20, level);
	cc_put_le64(aad + 24, index);
	cc_put_le64(aad + 32, len);
}

void pf_entry_put(uint8_t e[PF_ENTRY_LEN], const uint8_t nonce[PF_NONCE_LEN],
		  const uint8_t tag[PF_TAG_LEN], uint32_t len)
{
	memcpy(e, nonce, PF_NONCE_LEN);
	memcpy(e + PF_NONCE_LEN, tag, PF_TAG_LEN);
	cc_put_le32(e + PF_NONCE_LEN + PF_TAG_LEN, len);
}

uint32_t pf_entry_len(const uint8_t e[PF_ENTRY_LEN])
{
	return cc_le32(e + PF_NONCE_LEN + PF_TAG_LEN);
}

/* ---- host file I/O ---- */

ssize_t pf_read_full(struct pf_object *o, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = o->io.pread(o->io.ctx, (uint8_t *)buf + done, len - done, off + done);
		if (n < 0)
			return -1;
		if ((size_t)n > len - done) /* more than it had room for: a broken callback */
			return errno = EIO, -1;
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

int pf_write_full(struct pf_object *o, const void *buf, size_t len, uint64_t off)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n =
		    o->io.pwrite(o->io.ctx, (const uint8_t *)buf + done, len - done, off + done);
		if (n < 0)
			return -1;
		if (n == 0 || (size_t)n > len - done)
			return errno = EIO, -1;
		done += (size_t)n;
	}
	return 0;
}

/* ---- errors ---- */

static int set_error(struct cc_error **err, int errnum, char *msg)
{
	bool fresh = err && !*err;
	cc_error_set(err, 0, "%s", msg);
	free(msg);
	if (fresh && *err)
		(*err)->errnum = errnum;
	return -1;
}

int pf_error(struct cc_error **err, const char *name, int errnum, const char *fmt, ...)
{
	va_list ap;
	_cleanup_free_ char *what = NULL;

	va_start(ap, fmt);
	if (vasprintf(&what, fmt, ap) < 0)
		abort();
	va_end(ap);
	return set_error(err, errnum, xasprintf("object %s: %s", name, what));
}

int pf_error_sys(struct cc_error **err, const char *name, int errnum, const char *what, ...)
{
	va_list ap;
	_cleanup_free_ char *w = NULL;

	if (errnum <= 0)
		errnum = EIO;
	va_start(ap, what);
	if (vasprintf(&w, what, ap) < 0)
		abort();
	va_end(ap);
	return set_error(err, errnum, xasprintf("object %s: %s: %s", name, w, strerror(errnum)));
}

int pf_fail(struct pf_object *o, struct cc_error **local, struct cc_error **err)
{
	if (!o->fail_msg && *local) {
		o->fail_msg = xstrdup((*local)->msg);
		o->fail_errnum = (*local)->errnum;
	}
	if (err && !*err)
		*err = steal_pointer(local);
	else
		cc_error_free(local);
	return -1;
}

bool pf_failed(const struct pf_object *o, struct cc_error **err)
{
	if (!o->fail_msg)
		return false;
	set_error(err, o->fail_errnum, xstrdup(o->fail_msg));
	return true;
}
