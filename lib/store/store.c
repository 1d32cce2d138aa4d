// SPDX-License-Identifier: Apache-2.0
/* The store on the host: layout, objects, the sealed index pointer and the index, gc
 * (store.h, docs/store.md). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include "store/layer.h"
#include "store/store.h"
#include "util/cleanup.h"
#include "util/hkdf.h"
#include "util/le.h"
#include "util/fs.h"
#include "util/hex.h"
#include "util/strv.h"

#define PTR_MAGIC "RUNESIX1"
#define PTR_MAGIC_LEN 8
#define PTR_NONCE_LEN 12
#define PTR_PLAIN_LEN (8 + STORE_ID_LEN + STORE_MAC_LEN)
#define PTR_TAG_LEN 16
#define PTR_KDF_INFO "rune-store index v1"
#define RECORD_HMAC_PREFIX "rune-store layer v1"
#define INDEX_VERSION 1
/* Object names: objects/<2 hex>/<30 hex>. */
#define OBJ_NAME_LEN (2 * STORE_ID_LEN + 1)

struct store {
	char *root;
	int rootfd, objfd, tmpfd;
	int lockfd; /* <root>/lock: flock'd around every use of the index, across processes */
	uint8_t tmp_prefix[8]; /* names under tmp/: this prefix and a counter */
	uint64_t tmp_counter;
	/* The pointer the index in memory came from: another process may have moved it. */
	uint8_t ptr[STORE_INDEX_PTR_LEN];
	uint8_t key_bytes[STORE_KEY_LEN];
	struct store_pf_key *key;
	pthread_mutex_t lock; /* the index below, pins, and gc */
	unsigned pins;
	uint64_t generation;
	uint8_t index_id[STORE_ID_LEN], index_mac[STORE_MAC_LEN];
	struct store_index_entry *layers; /* sorted by diff_id */
	size_t n_layers;
};

/* Set *err to the message with errnum (no strerror text); an error already there keeps its
 * errnum. Returns -1. */
static int fail_v(struct cc_error **err, int errnum, const char *fmt, va_list ap)
{
	bool fresh = err && !*err;
	cc_error_setv(err, 0, fmt, ap);
	if (fresh && *err)
		(*err)->errnum = errnum;
	return -1;
}

/* "store ROOT: MESSAGE" with errnum and no strerror text. Returns -1. */
static int store_fail(struct cc_error **err, const struct store *s, int errnum, const char *fmt,
		      ...) __attribute__((format(printf, 4, 5)));
static int store_fail(struct cc_error **err, const struct store *s, int errnum, const char *fmt,
		      ...)
{
	va_list ap;
	va_start(ap, fmt);
	fail_v(err, errnum, fmt, ap);
	va_end(ap);
	return cc_error_prefix(err, "store %s", s->root);
}

/* "object NAME: MESSAGE" as the protected-object core words it. */
static int object_fail(struct cc_error **err, const uint8_t id[STORE_ID_LEN], int errnum,
		       const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int object_fail(struct cc_error **err, const uint8_t id[STORE_ID_LEN], int errnum,
		       const char *fmt, ...)
{
	va_list ap;
	_cleanup_free_ char *what = NULL;
	char name[2 * 8 + 1];
	bool fresh = err && !*err;

	cc_hex_encode(id, 8, name);
	va_start(ap, fmt);
	if (vasprintf(&what, fmt, ap) < 0)
		abort();
	va_end(ap);
	cc_error_set(err, 0, "object %s: %s", name, what);
	if (fresh && *err)
		(*err)->errnum = errnum;
	return -1;
}

static void object_path(const uint8_t id[STORE_ID_LEN], char out[OBJ_NAME_LEN + 1])
{
	char hex[OBJ_NAME_LEN];
	cc_hex_encode(id, STORE_ID_LEN, hex);
	out[0] = hex[0];
	out[1] = hex[1];
	out[2] = '/';
	memcpy(out + 3, hex + 2, 2 * STORE_ID_LEN - 2 + 1);
}

static int fsync_dir(int fd)
{
	int r;
	do
		r = fsync(fd);
	while (r < 0 && errno == EINTR);
	return r;
}

const char *store_root(const struct store *s)
{
	return s->root;
}

uint64_t store_generation(const struct store *s)
{
	struct store *m = (struct store *)s;
	uint64_t g;
	pthread_mutex_lock(&m->lock);
	g = s->generation;
	pthread_mutex_unlock(&m->lock);
	return g;
}

const struct store_pf_key *store_key(const struct store *s)
{
	return s->key;
}

void store_pin(struct store *s)
{
	/* store_gc holds the lock for its whole run, so this waits for it. */
	pthread_mutex_lock(&s->lock);
	s->pins++;
	pthread_mutex_unlock(&s->lock);
}

void store_unpin(struct store *s)
{
	pthread_mutex_lock(&s->lock);
	s->pins--;
	pthread_mutex_unlock(&s->lock);
}

bool store_diff_id_valid(const char *diff_id)
{
	size_t n = diff_id ? strlen(diff_id) : 0;
	if (n == 0 || n > STORE_DIFF_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (diff_id[i] < 0x21 || diff_id[i] > 0x7e)
			return false;
	return true;
}

void store_record_id(const struct store *s, const char *diff_id, uint8_t id[STORE_ID_LEN])
{
	size_t plen = sizeof(RECORD_HMAC_PREFIX) - 1, dlen = strlen(diff_id);
	_cleanup_free_ uint8_t *msg = xmalloc(plen + dlen);
	uint8_t mac[32];
	unsigned mac_len = 0;

	memcpy(msg, RECORD_HMAC_PREFIX, plen);
	memcpy(msg + plen, diff_id, dlen);
	if (!HMAC(EVP_sha256(), s->key_bytes, STORE_KEY_LEN, msg, plen + dlen, mac, &mac_len) ||
	    mac_len != sizeof(mac))
		abort(); /* HMAC-SHA-256 in memory cannot fail short of a broken libcrypto */
	memcpy(id, mac, STORE_ID_LEN);
	explicit_bzero(mac, sizeof(mac));
}

/* ---- objects ---- */

struct store_object_writer {
	struct store *s;
	int fd;
	char tmpname[2 * STORE_ID_LEN + 1];
	struct store_pf_writer *pw;
	bool committed;
};

/* A name under tmp/ no other writer uses: random per opener (processes share tmp/), a
 * counter within it. */
static int random_name(struct store *s, char out[2 * STORE_ID_LEN + 1])
{
	uint8_t r[STORE_ID_LEN];
	uint64_t n = __atomic_add_fetch(&s->tmp_counter, 1, __ATOMIC_RELAXED);
	memcpy(r, s->tmp_prefix, 8);
	cc_put_le64(r + 8, n);
	cc_hex_encode(r, sizeof(r), out);
	return 0;
}

int store_object_create(struct store *s, const uint8_t *id, const void *attrs, size_t attr_len,
			struct store_object_writer **out, struct cc_error **err)
{
	struct store_object_writer *w = xzalloc(sizeof(*w));
	struct store_pf_io io;

	w->s = s;
	w->fd = -1;
	if (random_name(s, w->tmpname) < 0) {
		free(w);
		return store_fail(err, s, EIO, "no random bytes from OpenSSL");
	}
	w->fd =
	    openat(s->tmpfd, w->tmpname, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (w->fd < 0) {
		cc_error_errno(err, "store %s: create tmp/%s", s->root, w->tmpname);
		free(w);
		return -1;
	}
	io = store_pf_io_fd(w->fd);
	w->pw = store_pf_writer_new(s->key, &io, id, 0, attrs, attr_len, err);
	if (!w->pw) {
		store_object_writer_free(w);
		return -1;
	}
	*out = w;
	return 0;
}

int store_object_write(struct store_object_writer *w, const void *buf, size_t len,
		       struct cc_error **err)
{
	return store_pf_write(w->pw, buf, len, err);
}

int store_object_write_zeros(struct store_object_writer *w, uint64_t len, struct cc_error **err)
{
	return store_pf_write_zeros(w->pw, len, err);
}

const uint8_t *store_object_writer_id(const struct store_object_writer *w)
{
	return store_pf_writer_id(w->pw);
}

/*
 * Commit: the temporary file is renamed to objects/<2 hex>/<30 hex> (the directory made when
 * missing). Nothing is synced here: an object matters once the index reaches it, and
 * index_replace syncs the file system before it moves the pointer, so every object written
 * before is durable by then (one syncfs for a layer of any number of files).
 */
int store_object_commit(struct store_object_writer *w, uint8_t *id, uint8_t *root_mac,
			struct cc_error **err)
{
	struct store *s = w->s;
	uint8_t mac[STORE_MAC_LEN];
	char path[OBJ_NAME_LEN + 1];

	if (w->committed)
		return store_fail(err, s, EINVAL, "object committed twice");
	if (store_pf_commit(w->pw, mac, err) < 0)
		return -1;
	object_path(store_pf_writer_id(w->pw), path);
	if (renameat(s->tmpfd, w->tmpname, s->objfd, path) < 0) {
		char sub[3] = { path[0], path[1], 0 };
		if (errno != ENOENT || (mkdirat(s->objfd, sub, 0700) < 0 && errno != EEXIST))
			return cc_error_errno(err, "store %s: mkdir objects/%s", s->root, sub);
		if (renameat(s->tmpfd, w->tmpname, s->objfd, path) < 0)
			return cc_error_errno(err, "store %s: rename tmp/%s to objects/%s", s->root,
					      w->tmpname, path);
	}
	w->committed = true;
	if (id)
		memcpy(id, store_pf_writer_id(w->pw), STORE_ID_LEN);
	if (root_mac)
		memcpy(root_mac, mac, STORE_MAC_LEN);
	return 0;
}

/* ---- a whole object at once ---- */

/* The object built in memory (pf's writes land here), then written with one pwrite. */
struct memio {
	uint8_t *buf;
	size_t len, cap;
};

static ssize_t mem_pwrite(void *ctx, const void *buf, size_t len, uint64_t off)
{
	struct memio *m = ctx;
	if (off > SIZE_MAX - len) {
		errno = EFBIG;
		return -1;
	}
	size_t end = (size_t)off + len;
	if (end > m->cap) {
		size_t cap = m->cap ? m->cap : 16384;
		while (cap < end)
			cap *= 2;
		m->buf = xrealloc(m->buf, cap);
		memset(m->buf + m->cap, 0, cap - m->cap);
		m->cap = cap;
	}
	memcpy(m->buf + off, buf, len);
	if (end > m->len)
		m->len = end;
	return (ssize_t)len;
}

int store_object_put(struct store *s, const uint8_t *id, const void *attrs, size_t attr_len,
		     const void *content, size_t len, uint8_t *out_id, uint8_t *root_mac,
		     struct cc_error **err)
{
	struct memio m = { 0 };
	struct store_pf_io io = { NULL, mem_pwrite, NULL, &m };
	char name[2 * STORE_ID_LEN + 1], path[OBJ_NAME_LEN + 1];
	uint8_t mac[STORE_MAC_LEN];
	unsigned log2 = STORE_PF_CHUNK_LOG2_MIN;
	int ret = -1;
	_cleanup_close_ int fd = -1;

	if (len > STORE_OBJECT_PUT_MAX)
		return store_fail(err, s, EINVAL, "object of %zu bytes: at most %u at once", len,
				  STORE_OBJECT_PUT_MAX);
	/* One chunk just large enough: header, chunk and root node lie together (the room
	 * between them zeros, never read), one write. */
	while (((size_t)1 << log2) < len)
		log2++;
	struct store_pf_writer *pw =
	    store_pf_writer_new(s->key, &io, id, log2, attrs, attr_len, err);
	if (!pw)
		return -1;
	if ((len && store_pf_write(pw, content, len, err) < 0) || store_pf_commit(pw, mac, err) < 0)
		goto out;
	object_path(store_pf_writer_id(pw), path);
	if (random_name(s, name) < 0)
		goto out;
	fd = openat(s->tmpfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		cc_error_errno(err, "store %s: create tmp/%s", s->root, name);
		goto out;
	}
	if (cc_write_all(fd, m.buf, m.len) < 0) {
		cc_error_errno(err, "store %s: write tmp/%s", s->root, name);
		unlinkat(s->tmpfd, name, 0);
		goto out;
	}
	if (renameat(s->tmpfd, name, s->objfd, path) < 0) {
		char sub[3] = { path[0], path[1], 0 };
		if (errno != ENOENT || (mkdirat(s->objfd, sub, 0700) < 0 && errno != EEXIST) ||
		    renameat(s->tmpfd, name, s->objfd, path) < 0) {
			cc_error_errno(err, "store %s: rename tmp/%s to objects/%s", s->root, name,
				       path);
			unlinkat(s->tmpfd, name, 0);
			goto out;
		}
	}
	if (out_id)
		memcpy(out_id, store_pf_writer_id(pw), STORE_ID_LEN);
	if (root_mac)
		memcpy(root_mac, mac, STORE_MAC_LEN);
	ret = 0;
out:
	store_pf_writer_free(pw);
	free(m.buf); /* ciphertext only */
	return ret;
}

void store_object_writer_free(struct store_object_writer *w)
{
	if (!w)
		return;
	if (!w->committed && w->fd >= 0)
		unlinkat(w->s->tmpfd, w->tmpname, 0);
	store_pf_writer_free(w->pw);
	if (w->fd >= 0)
		close(w->fd);
	free(w);
}

struct store_object {
	int fd;
	struct store_pf_reader *r;
};

int store_object_open(struct store *s, const uint8_t id[STORE_ID_LEN],
		      const uint8_t mac[STORE_MAC_LEN], struct store_object **out,
		      struct cc_error **err)
{
	char path[OBJ_NAME_LEN + 1];
	struct store_pf_io io;
	struct stat st;
	_cleanup_close_ int fd = -1;
	struct store_object *o;

	object_path(id, path);
	fd = openat(s->objfd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && (errno == ENOENT || errno == ELOOP || errno == ENOTDIR))
		return object_fail(err, id, EIO, "missing from the store");
	if (fd < 0)
		return object_fail(err, id, errno, "open: %s", strerror(errno));
	if (fstat(fd, &st) < 0)
		return object_fail(err, id, errno, "stat: %s", strerror(errno));
	if (!S_ISREG(st.st_mode))
		return object_fail(err, id, EIO, "host file is not a regular file");
	io = store_pf_io_fd(fd);
	o = xzalloc(sizeof(*o));
	if (store_pf_open(s->key, &io, id, mac, &o->r, err) < 0) {
		free(o);
		return -1;
	}
	o->fd = steal_fd(&fd);
	*out = o;
	return 0;
}

struct store_pf_reader *store_object_reader(struct store_object *o)
{
	return o->r;
}

uint8_t *store_object_read_all(struct store_object *o, size_t limit, size_t *len,
			       struct cc_error **err)
{
	uint64_t size = store_pf_size(o->r);
	_cleanup_free_ uint8_t *buf = NULL;
	size_t done = 0;

	if (size > limit)
		return object_fail(err, store_pf_id(o->r), EIO,
				   "%" PRIu64 " bytes, at most %zu expected", size, limit),
		       NULL;
	buf = xmalloc((size_t)size + 1);
	while (done < size) {
		ssize_t n = store_pf_pread(o->r, buf + done, (size_t)size - done, done, err);
		if (n < 0)
			return NULL;
		if (n == 0)
			return object_fail(err, store_pf_id(o->r), EIO, "ends early"), NULL;
		done += (size_t)n;
	}
	buf[size] = 0;
	*len = (size_t)size;
	return steal_pointer(&buf);
}

void store_object_close(struct store_object *o)
{
	if (!o)
		return;
	store_pf_reader_free(o->r);
	close(o->fd);
	free(o);
}

int store_object_remove(struct store *s, const uint8_t id[STORE_ID_LEN], struct cc_error **err)
{
	char path[OBJ_NAME_LEN + 1];
	object_path(id, path);
	if (unlinkat(s->objfd, path, 0) < 0 && errno != ENOENT)
		return object_fail(err, id, errno, "remove: %s", strerror(errno));
	return 0;
}

bool store_object_exists(struct store *s, const uint8_t id[STORE_ID_LEN])
{
	char path[OBJ_NAME_LEN + 1];
	object_path(id, path);
	return faccessat(s->objfd, path, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

/* An object with content buf; its id and root MAC into id and mac. */
static int write_object(struct store *s, const uint8_t *want_id, const void *buf, size_t len,
			uint8_t id[STORE_ID_LEN], uint8_t mac[STORE_MAC_LEN], struct cc_error **err)
{
	struct store_object_writer *w = NULL;
	int ret = store_object_create(s, want_id, NULL, 0, &w, err);
	if (ret == 0)
		ret = store_object_write(w, buf, len, err);
	if (ret == 0)
		ret = store_object_commit(w, id, mac, err);
	store_object_writer_free(w);
	return ret;
}

/* ---- the index pointer ---- */

static bool pointer_key(const uint8_t key[STORE_KEY_LEN], uint8_t out[32])
{
	/* An empty salt: HKDF's default, a block of zeros (RFC 5869). */
	return cc_hkdf_sha256(key, STORE_KEY_LEN, NULL, 0, PTR_KDF_INFO, sizeof(PTR_KDF_INFO) - 1,
			      out, 32);
}

/* AES-256-GCM of PTR_PLAIN_LEN bytes in place with AAD = the magic. */
static bool pointer_gcm(const uint8_t key[32], bool enc, const uint8_t *nonce, uint8_t *buf,
			uint8_t *tag)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	uint8_t rest[16];
	int n = 0, fin = 0;
	bool ok = c && EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, key, nonce, enc) == 1 &&
		  EVP_CipherUpdate(c, NULL, &n, (const uint8_t *)PTR_MAGIC, PTR_MAGIC_LEN) == 1 &&
		  EVP_CipherUpdate(c, buf, &n, buf, PTR_PLAIN_LEN) == 1 && n == PTR_PLAIN_LEN;
	if (ok && enc)
		ok = EVP_CipherFinal_ex(c, rest, &fin) == 1 &&
		     EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, PTR_TAG_LEN, tag) == 1;
	else if (ok)
		ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, PTR_TAG_LEN, tag) == 1 &&
		     EVP_CipherFinal_ex(c, rest, &fin) == 1;
	EVP_CIPHER_CTX_free(c);
	return ok;
}

int store_index_ptr_seal(const uint8_t key[STORE_KEY_LEN], uint64_t generation,
			 const uint8_t id[STORE_ID_LEN], const uint8_t mac[STORE_MAC_LEN],
			 uint8_t out[STORE_INDEX_PTR_LEN], struct cc_error **err)
{
	uint8_t k[32], *nonce = out + PTR_MAGIC_LEN, *body = nonce + PTR_NONCE_LEN;
	bool ok;

	memcpy(out, PTR_MAGIC, PTR_MAGIC_LEN);
	cc_put_le64(body, generation);
	memcpy(body + 8, id, STORE_ID_LEN);
	memcpy(body + 8 + STORE_ID_LEN, mac, STORE_MAC_LEN);
	ok = RAND_bytes(nonce, PTR_NONCE_LEN) == 1 && pointer_key(key, k) &&
	     pointer_gcm(k, true, nonce, body, body + PTR_PLAIN_LEN);
	explicit_bzero(k, sizeof(k));
	if (!ok)
		return cc_error_set(err, EIO, "index pointer: cannot seal with AES-256-GCM");
	return 0;
}

int store_index_ptr_open(const uint8_t key[STORE_KEY_LEN], const void *buf, size_t len,
			 uint64_t *generation, uint8_t id[STORE_ID_LEN], uint8_t mac[STORE_MAC_LEN],
			 struct cc_error **err)
{
	const uint8_t *in = buf;
	uint8_t k[32], body[PTR_PLAIN_LEN], tag[PTR_TAG_LEN];
	bool ok;

	if (len != STORE_INDEX_PTR_LEN) {
		cc_error_set(err, 0, "index pointer is %zu bytes, not %d", len,
			     STORE_INDEX_PTR_LEN);
		goto eio;
	}
	if (memcmp(in, PTR_MAGIC, PTR_MAGIC_LEN)) {
		cc_error_set(err, 0, "index pointer: bad magic");
		goto eio;
	}
	memcpy(body, in + PTR_MAGIC_LEN + PTR_NONCE_LEN, PTR_PLAIN_LEN);
	memcpy(tag, in + PTR_MAGIC_LEN + PTR_NONCE_LEN + PTR_PLAIN_LEN, PTR_TAG_LEN);
	ok = pointer_key(key, k) && pointer_gcm(k, false, in + PTR_MAGIC_LEN, body, tag);
	explicit_bzero(k, sizeof(k));
	if (!ok) {
		explicit_bzero(body, sizeof(body));
		cc_error_set(err, 0, "wrong store key");
		goto eio;
	}
	*generation = cc_le64(body);
	memcpy(id, body + 8, STORE_ID_LEN);
	memcpy(mac, body + 8 + STORE_ID_LEN, STORE_MAC_LEN);
	return 0;
eio:
	if (err && *err && !(*err)->errnum)
		(*err)->errnum = EIO;
	return -1;
}

/* ---- the index object ---- */

void store_index_entries_free(struct store_index_entry *entries, size_t count)
{
	for (size_t i = 0; entries && i < count; i++)
		free(entries[i].diff_id);
	free(entries);
}

static int index_eio(struct cc_error **err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int index_eio(struct cc_error **err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fail_v(err, EIO, fmt, ap);
	va_end(ap);
	return cc_error_prefix(err, "index");
}

static int parse_entries(const uint8_t *p, size_t len, uint32_t count, struct store_index_entry *e,
			 struct cc_error **err)
{
	size_t off = 0;

	for (uint32_t i = 0; i < count; i++) {
		size_t n;
		if (len - off < 2)
			return index_eio(err, "layer %u: ends early", i);
		n = cc_le16(p + off);
		off += 2;
		if (n == 0 || n > STORE_DIFF_ID_MAX || len - off < n + STORE_ID_LEN + STORE_MAC_LEN)
			return index_eio(err, "layer %u: bad diff_id length %zu", i, n);
		e[i].diff_id = xstrndup((const char *)p + off, n);
		if (strlen(e[i].diff_id) != n || !store_diff_id_valid(e[i].diff_id))
			return index_eio(err, "layer %u: diff_id is not printable ASCII", i);
		if (i > 0 && strcmp(e[i - 1].diff_id, e[i].diff_id) >= 0)
			return index_eio(err, "layer %u: out of order or repeated", i);
		off += n;
		memcpy(e[i].record_id, p + off, STORE_ID_LEN);
		memcpy(e[i].record_mac, p + off + STORE_ID_LEN, STORE_MAC_LEN);
		off += STORE_ID_LEN + STORE_MAC_LEN;
	}
	if (off != len)
		return index_eio(err, "%zu bytes left over", len - off);
	return 0;
}

int store_index_parse(const void *buf, size_t len, uint64_t *generation,
		      struct store_index_entry **entries, size_t *count, struct cc_error **err)
{
	const uint8_t *p = buf;
	struct store_index_entry *e;
	uint32_t n;

	if (len < 16)
		return index_eio(err, "%zu bytes, too short", len);
	if (cc_le32(p) != INDEX_VERSION)
		return index_eio(err, "unknown version %u", cc_le32(p));
	n = cc_le32(p + 12);
	/* Each layer takes at least 2 + 1 + 32 bytes. */
	if (n > (len - 16) / 35)
		return index_eio(err, "%u layers cannot fit in %zu bytes", n, len);
	e = xcalloc(n ? n : 1, sizeof(*e));
	if (parse_entries(p + 16, len - 16, n, e, err) < 0) {
		store_index_entries_free(e, n);
		return -1;
	}
	*generation = cc_le64(p + 4);
	*entries = e;
	*count = n;
	return 0;
}

static uint8_t *index_encode(const struct store_index_entry *e, size_t n, uint64_t generation,
			     size_t *len)
{
	size_t total = 16, off = 16;
	uint8_t *p;

	for (size_t i = 0; i < n; i++)
		total += 2 + strlen(e[i].diff_id) + STORE_ID_LEN + STORE_MAC_LEN;
	p = xmalloc(total);
	cc_put_le32(p, INDEX_VERSION);
	cc_put_le64(p + 4, generation);
	cc_put_le32(p + 12, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		size_t dl = strlen(e[i].diff_id);
		cc_put_le16(p + off, (uint16_t)dl);
		memcpy(p + off + 2, e[i].diff_id, dl);
		off += 2 + dl;
		memcpy(p + off, e[i].record_id, STORE_ID_LEN);
		memcpy(p + off + STORE_ID_LEN, e[i].record_mac, STORE_MAC_LEN);
		off += STORE_ID_LEN + STORE_MAC_LEN;
	}
	*len = total;
	return p;
}

/* Replace <root>/index by a pointer to (generation, id, mac): tmp file, fsync, rename,
 * fsync of the root. *renamed tells whether the new pointer is in place (also when only the
 * last fsync failed). */
static int write_pointer(struct store *s, uint64_t generation, const uint8_t id[STORE_ID_LEN],
			 const uint8_t mac[STORE_MAC_LEN], bool *renamed, struct cc_error **err)
{
	uint8_t ptr[STORE_INDEX_PTR_LEN];
	char name[2 * STORE_ID_LEN + 1];
	_cleanup_close_ int fd = -1;

	*renamed = false;
	if (store_index_ptr_seal(s->key_bytes, generation, id, mac, ptr, err) < 0)
		return cc_error_prefix(err, "store %s", s->root);
	if (random_name(s, name) < 0)
		return store_fail(err, s, EIO, "no random bytes from OpenSSL");
	fd = openat(s->tmpfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return cc_error_errno(err, "store %s: create tmp/%s", s->root, name);
	if (cc_write_all(fd, ptr, sizeof(ptr)) < 0 || fsync(fd) < 0 ||
	    renameat(s->tmpfd, name, s->rootfd, "index") < 0) {
		int e = errno;
		unlinkat(s->tmpfd, name, 0);
		return cc_error_set(err, e, "store %s: write index pointer", s->root);
	}
	*renamed = true;
	memcpy(s->ptr, ptr, sizeof(ptr));
	if (fsync_dir(s->rootfd) < 0)
		return cc_error_errno(err, "store %s: fsync the root after the index pointer",
				      s->root);
	return 0;
}

/*
 * Processes share a store: each holds a shared flock on the root while it has the store open
 * (exclusive only to remove tmp/ leftovers at open and for gc, which need it alone), and takes
 * <root>/lock around every use of the index, shared to read it, exclusive to change it; the
 * index in memory is reloaded first when the pointer moved. s->lock (the mutex) is held too.
 */
static int index_lock(struct store *s, bool excl, struct cc_error **err)
{
	if (s->lockfd < 0)
		return 0; /* read-only: the store is this opener's alone */
	while (flock(s->lockfd, excl ? LOCK_EX : LOCK_SH) < 0)
		if (errno != EINTR)
			return cc_error_errno(err, "store %s: lock", s->root);
	return 0;
}

static void index_unlock(struct store *s)
{
	if (s->lockfd >= 0)
		CC_BEST_EFFORT(flock(s->lockfd, LOCK_UN)); /* only fails for a bad descriptor */
}

static int load_index(struct store *s, const uint8_t *ptr, size_t len, struct cc_error **err);

/* The pointer as it is now, and the index it names when it moved. Lock held. */
static int refresh_locked(struct store *s, struct cc_error **err)
{
	uint8_t ptr[STORE_INDEX_PTR_LEN + 1];
	_cleanup_close_ int fd = openat(s->rootfd, "index", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	ssize_t n = fd >= 0 ? cc_read_all(fd, ptr, sizeof(ptr)) : -1;
	if (n < 0)
		return cc_error_errno(err, "store %s: read index", s->root);
	if (n == STORE_INDEX_PTR_LEN && !memcmp(ptr, s->ptr, STORE_INDEX_PTR_LEN))
		return 0;
	return load_index(s, ptr, (size_t)n, err);
}

/* Lock the index (shared or exclusive) and bring it up to date; -1 leaves it unlocked. */
static int index_begin(struct store *s, bool excl, struct cc_error **err)
{
	if (index_lock(s, excl, err) < 0)
		return -1;
	if (s->lockfd >= 0 && refresh_locked(s, err) < 0) {
		index_unlock(s);
		return -1;
	}
	return 0;
}

/*
 * Make (layers, n) the store's index with generation + 1: a new index object, then the
 * pointer. Takes layers. Called with the lock held. Once the pointer is renamed into place
 * the change is made, even when the fsync after it fails (the error is still returned); the
 * previous index object is then removed.
 */
static int index_replace(struct store *s, struct store_index_entry *layers, size_t n,
			 struct cc_error **err)
{
	uint8_t id[STORE_ID_LEN], mac[STORE_MAC_LEN], old[STORE_ID_LEN];
	uint64_t gen = s->generation + 1;
	size_t len;
	_cleanup_free_ uint8_t *content = index_encode(layers, n, gen, &len);
	bool renamed;
	int ret;

	if (write_object(s, NULL, content, len, id, mac, err) < 0) {
		store_index_entries_free(layers, n);
		return cc_error_prefix(err, "store %s: new index", s->root);
	}
	/* Every object the new index reaches is durable before the pointer names it. */
	if (syncfs(s->objfd) < 0) {
		int e = errno;
		CC_BEST_EFFORT(store_object_remove(s, id, NULL)); /* nothing names it */
		store_index_entries_free(layers, n);
		return cc_error_set(err, e, "store %s: sync", s->root);
	}
	ret = write_pointer(s, gen, id, mac, &renamed, err);
	if (!renamed) {
		CC_BEST_EFFORT(store_object_remove(s, id, NULL)); /* nothing names it */
		store_index_entries_free(layers, n);
		return -1;
	}
	memcpy(old, s->index_id, STORE_ID_LEN);
	store_index_entries_free(s->layers, s->n_layers);
	s->layers = layers;
	s->n_layers = n;
	s->generation = gen;
	memcpy(s->index_id, id, STORE_ID_LEN);
	memcpy(s->index_mac, mac, STORE_MAC_LEN);
	/* Unreferenced now; store_gc would remove it too. */
	CC_BEST_EFFORT(store_object_remove(s, old, NULL));
	return ret;
}

struct idset {
	uint8_t (*ids)[STORE_ID_LEN];
	size_t n, cap;
};

static void idset_add(void *ctx, const uint8_t id[STORE_ID_LEN])
{
	struct idset *set = ctx;
	if (set->n == set->cap) {
		set->cap = set->cap ? 2 * set->cap : 256;
		set->ids = xreallocarray(set->ids, set->cap, STORE_ID_LEN);
	}
	memcpy(set->ids[set->n++], id, STORE_ID_LEN);
}

static int id_cmp(const void *a, const void *b)
{
	return memcmp(a, b, STORE_ID_LEN);
}

static struct store_index_entry *find_layer(struct store *s, const char *diff_id, size_t *pos)
{
	size_t lo = 0, hi = s->n_layers;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(s->layers[mid].diff_id, diff_id);
		if (c == 0) {
			*pos = mid;
			return &s->layers[mid];
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*pos = lo;
	return NULL;
}

static struct store_index_entry *copy_layers(const struct store *s, size_t extra)
{
	struct store_index_entry *e = xcalloc(s->n_layers + extra + 1, sizeof(*e));
	for (size_t i = 0; i < s->n_layers; i++) {
		e[i] = s->layers[i];
		e[i].diff_id = xstrdup(s->layers[i].diff_id);
	}
	return e;
}

static int index_add_locked(struct store *s, const char *diff_id, const void *record,
			    size_t record_len, uint8_t record_mac[STORE_MAC_LEN],
			    struct cc_error **err)
{
	uint8_t rid[STORE_ID_LEN];
	struct store_index_entry *e;
	size_t pos;

	if (find_layer(s, diff_id, &pos))
		return store_fail(err, s, EEXIST, "layer %s: already in the store", diff_id);
	store_record_id(s, diff_id, rid);
	if (write_object(s, rid, record, record_len, rid, record_mac, err) < 0)
		return cc_error_prefix(err, "store %s: layer %s: record", s->root, diff_id);
	e = copy_layers(s, 1);
	memmove(e + pos + 1, e + pos, (s->n_layers - pos) * sizeof(*e));
	e[pos].diff_id = xstrdup(diff_id);
	memcpy(e[pos].record_id, rid, STORE_ID_LEN);
	memcpy(e[pos].record_mac, record_mac, STORE_MAC_LEN);
	if (index_replace(s, e, s->n_layers + 1, err) < 0) {
		if (!find_layer(s, diff_id, &pos))
			CC_BEST_EFFORT(store_object_remove(s, rid, NULL)); /* not referenced */
		return cc_error_prefix(err, "layer %s", diff_id);
	}
	return 0;
}

typedef int (*index_op)(struct store *s, const char *diff_id, const void *record, size_t record_len,
			uint8_t record_mac[STORE_MAC_LEN], struct cc_error **err);

/* op on the index, locked and up to date, between threads and between processes. */
static int index_change(struct store *s, index_op op, const char *diff_id, const void *record,
			size_t record_len, uint8_t record_mac[STORE_MAC_LEN], struct cc_error **err)
{
	pthread_mutex_lock(&s->lock);
	int ret = index_begin(s, true, err);
	if (ret == 0) {
		ret = op(s, diff_id, record, record_len, record_mac, err);
		index_unlock(s);
	}
	pthread_mutex_unlock(&s->lock);
	return ret;
}

int store_index_add(struct store *s, const char *diff_id, const void *record, size_t record_len,
		    uint8_t record_mac[STORE_MAC_LEN], struct cc_error **err)
{
	if (!store_diff_id_valid(diff_id))
		return store_fail(err, s, EINVAL, "layer: diff_id is not 1-255 printable bytes");
	return index_change(s, index_add_locked, diff_id, record, record_len, record_mac, err);
}

bool store_diff_id_replaceable(const char *diff_id)
{
	return diff_id &&
	       !strncmp(diff_id, STORE_REPLACEABLE_PREFIX, sizeof(STORE_REPLACEABLE_PREFIX) - 1);
}

/* The objects of (old_id, old_mac) that (new_id, new_mac) does not reach are removed. Best
 * effort: when either walk fails, nothing is removed (store_gc removes them later). */
static void drop_replaced(struct store *s, const uint8_t *old_id, const uint8_t *old_mac,
			  const uint8_t *new_id, const uint8_t *new_mac)
{
	struct idset old = { 0 }, keep = { 0 };
	struct cc_error *e = NULL;

	if (store_record_objects(s, old_id, old_mac, idset_add, &old, &e) == 0 &&
	    store_record_objects(s, new_id, new_mac, idset_add, &keep, &e) == 0) {
		qsort(keep.ids, keep.n, STORE_ID_LEN, id_cmp);
		for (size_t i = 0; i < old.n; i++)
			if (!bsearch(old.ids[i], keep.ids, keep.n, STORE_ID_LEN, id_cmp))
				CC_BEST_EFFORT(store_object_remove(s, old.ids[i], NULL));
	}
	cc_error_free(&e);
	free(old.ids);
	free(keep.ids);
}

static int index_replace_locked(struct store *s, const char *diff_id, const void *record,
				size_t record_len, uint8_t record_mac[STORE_MAC_LEN],
				struct cc_error **err)
{
	uint8_t rid[STORE_ID_LEN], old_id[STORE_ID_LEN], old_mac[STORE_MAC_LEN];
	struct store_index_entry *e, *old;
	size_t pos, n = s->n_layers;
	bool had;

	/* A random record id: the previous record stays whole until the pointer moves. */
	if (write_object(s, NULL, record, record_len, rid, record_mac, err) < 0)
		return cc_error_prefix(err, "store %s: layer %s: record", s->root, diff_id);
	old = find_layer(s, diff_id, &pos);
	had = old != NULL;
	if (had) {
		memcpy(old_id, old->record_id, STORE_ID_LEN);
		memcpy(old_mac, old->record_mac, STORE_MAC_LEN);
	}
	e = copy_layers(s, 1);
	if (!had) {
		memmove(e + pos + 1, e + pos, (n - pos) * sizeof(*e));
		e[pos].diff_id = xstrdup(diff_id);
		n++;
	}
	memcpy(e[pos].record_id, rid, STORE_ID_LEN);
	memcpy(e[pos].record_mac, record_mac, STORE_MAC_LEN);
	if (index_replace(s, e, n, err) < 0) {
		old = find_layer(s, diff_id, &pos);
		if (!old || memcmp(old->record_id, rid, STORE_ID_LEN))
			CC_BEST_EFFORT(store_object_remove(s, rid, NULL)); /* not referenced */
		return cc_error_prefix(err, "layer %s", diff_id);
	}
	if (had)
		drop_replaced(s, old_id, old_mac, rid, record_mac);
	return 0;
}

int store_index_replace(struct store *s, const char *diff_id, const void *record, size_t record_len,
			uint8_t record_mac[STORE_MAC_LEN], struct cc_error **err)
{
	if (!store_diff_id_valid(diff_id) || !store_diff_id_replaceable(diff_id))
		return store_fail(err, s, EINVAL, "layer: diff_id is not a replaceable layer's");
	return index_change(s, index_replace_locked, diff_id, record, record_len, record_mac, err);
}

int store_remove_layer(struct store *s, const char *diff_id, struct cc_error **err)
{
	struct store_index_entry *e;
	size_t pos;
	int ret;

	pthread_mutex_lock(&s->lock);
	ret = index_begin(s, true, err);
	if (ret < 0)
		goto out;
	if (!diff_id || !find_layer(s, diff_id, &pos)) {
		ret = store_fail(err, s, ENOENT, "layer %s: not in the store",
				 diff_id ? diff_id : "(null)");
		goto unlock;
	}
	e = copy_layers(s, 0);
	free(e[pos].diff_id);
	memmove(e + pos, e + pos + 1, (s->n_layers - pos - 1) * sizeof(*e));
	ret = index_replace(s, e, s->n_layers - 1, err);
	if (ret < 0)
		cc_error_prefix(err, "remove layer %s", diff_id);
unlock:
	index_unlock(s);
out:
	pthread_mutex_unlock(&s->lock);
	return ret;
}

char **store_layer_ids(struct store *s, size_t *count, struct cc_error **err)
{
	char **v = NULL;
	pthread_mutex_lock(&s->lock);
	if (index_begin(s, false, err) == 0) {
		v = xcalloc(1, sizeof(*v));
		for (size_t i = 0; i < s->n_layers; i++)
			cc_strv_push(&v, s->layers[i].diff_id);
		if (count)
			*count = s->n_layers;
		index_unlock(s);
	}
	pthread_mutex_unlock(&s->lock);
	return v;
}

bool store_has_layer(struct store *s, const char *diff_id)
{
	size_t pos;
	bool has;
	struct cc_error *err = NULL;
	pthread_mutex_lock(&s->lock);
	/* When the index cannot be brought up to date, the one in memory answers. */
	bool locked = index_begin(s, false, &err) == 0;
	cc_error_free(&err);
	has = diff_id && find_layer(s, diff_id, &pos);
	if (locked)
		index_unlock(s);
	pthread_mutex_unlock(&s->lock);
	return has;
}

int store_layer_ref(struct store *s, const char *diff_id, uint8_t record_id[STORE_ID_LEN],
		    uint8_t record_mac[STORE_MAC_LEN], struct cc_error **err)
{
	struct store_index_entry *e;
	size_t pos;
	int ret;

	pthread_mutex_lock(&s->lock);
	ret = index_begin(s, false, err);
	if (ret < 0) {
		pthread_mutex_unlock(&s->lock);
		return -1;
	}
	e = diff_id ? find_layer(s, diff_id, &pos) : NULL;
	if (e) {
		memcpy(record_id, e->record_id, STORE_ID_LEN);
		memcpy(record_mac, e->record_mac, STORE_MAC_LEN);
	} else {
		ret = store_fail(err, s, ENOENT, "layer %s: not in the store",
				 diff_id ? diff_id : "(null)");
	}
	index_unlock(s);
	pthread_mutex_unlock(&s->lock);
	return ret;
}

/* ---- garbage collection ---- */

/* Remove the objects of directory objects/<sub> that set does not hold. */
static int sweep_dir(struct store *s, const char *sub, const struct idset *set, size_t *removed,
		     struct cc_error **err)
{
	int fd = openat(s->objfd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	_cleanup_closedir_ DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	char hex[2 * STORE_ID_LEN + 1];
	uint8_t id[STORE_ID_LEN];

	if (!d) {
		if (fd >= 0)
			close(fd);
		return cc_error_errno(err, "store %s: open objects/%s", s->root, sub);
	}
	while ((errno = 0, de = readdir(d))) {
		if (strlen(de->d_name) != 2 * STORE_ID_LEN - 2)
			continue;
		memcpy(hex, sub, 2);
		memcpy(hex + 2, de->d_name, 2 * STORE_ID_LEN - 2 + 1);
		/* Only names the store gives (lower-case hex) are its objects. */
		if (!cc_hex_decode(hex, id, STORE_ID_LEN) ||
		    strspn(hex, "0123456789abcdef") != 2 * STORE_ID_LEN)
			continue;
		if (set->n && bsearch(id, set->ids, set->n, STORE_ID_LEN, id_cmp))
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT)
			return cc_error_errno(err, "store %s: remove objects/%s/%s", s->root, sub,
					      de->d_name);
		(*removed)++;
	}
	if (errno)
		return cc_error_errno(err, "store %s: list objects/%s", s->root, sub);
	return 0;
}

/* A directory stream of its own on the directory open at dirfd (NULL with errno). */
static DIR *reopen_dir(int dirfd)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d && fd >= 0) {
		int e = errno;
		close(fd);
		errno = e;
	}
	return d;
}

static int sweep(struct store *s, const struct idset *set, size_t *removed, struct cc_error **err)
{
	_cleanup_closedir_ DIR *d = reopen_dir(s->objfd);
	struct dirent *de;

	if (!d)
		return cc_error_errno(err, "store %s: open objects/", s->root);
	while ((errno = 0, de = readdir(d))) {
		if (strlen(de->d_name) != 2 || strspn(de->d_name, "0123456789abcdef") != 2)
			continue;
		if (sweep_dir(s, de->d_name, set, removed, err) < 0)
			return -1;
	}
	if (errno)
		return cc_error_errno(err, "store %s: list objects/", s->root);
	return 0;
}

static int gc_locked(struct store *s, size_t *removed, struct cc_error **err)
{
	struct idset set = { 0 };
	struct store_object *o = NULL;
	int ret = -1;

	if (s->pins)
		return store_fail(err, s, EBUSY, "gc: %u layer writer(s) still open", s->pins);
	/* The index itself is checked like the rest: gc only trusts what opens. */
	if (store_object_open(s, s->index_id, s->index_mac, &o, err) < 0) {
		cc_error_prefix(err, "index");
		goto marked;
	}
	store_object_close(o);
	idset_add(&set, s->index_id);
	for (size_t i = 0; i < s->n_layers; i++)
		if (store_record_objects(s, s->layers[i].record_id, s->layers[i].record_mac,
					 idset_add, &set, err) < 0) {
			cc_error_prefix(err, "layer %s", s->layers[i].diff_id);
			goto marked;
		}
	qsort(set.ids, set.n, STORE_ID_LEN, id_cmp);
	ret = sweep(s, &set, removed, err);
	if (ret < 0)
		cc_error_prefix(err, "store %s: gc (%zu objects removed)", s->root, *removed);
	free(set.ids);
	return ret;
marked:
	free(set.ids);
	return cc_error_prefix(err, "store %s: gc, nothing removed", s->root);
}

int store_gc(struct store *s, size_t *removed, struct cc_error **err)
{
	size_t n = 0;
	int ret;

	pthread_mutex_lock(&s->lock);
	/* Another process's writer has objects nothing reaches yet: gc needs the store alone. A
	 * failed conversion leaves no lock: the shared one is taken again. */
	if (s->lockfd < 0) {
		ret = gc_locked(s, &n, err); /* read-only: refuses */
	} else if (flock(s->rootfd, LOCK_EX | LOCK_NB) < 0) {
		ret = store_fail(err, s, EBUSY,
				 "gc: in use by another process (garbage collection needs the "
				 "store alone)");
		CC_BEST_EFFORT(flock(s->rootfd, LOCK_SH)); /* blocks only behind another gc */
	} else {
		ret = index_begin(s, true, err);
		if (ret == 0) {
			ret = gc_locked(s, &n, err);
			index_unlock(s);
		}
		CC_BEST_EFFORT(flock(s->rootfd, LOCK_SH)); /* a downgrade: cannot conflict */
	}
	pthread_mutex_unlock(&s->lock);
	if (removed)
		*removed = n;
	return ret;
}

/* ---- open and close ---- */

static int open_dir_at(struct store *s, const char *name, bool create, struct cc_error **err)
{
	int fd;
	if (create && mkdirat(s->rootfd, name, 0700) < 0 && errno != EEXIST)
		return cc_error_errno(err, "store %s: mkdir %s", s->root, name);
	fd = openat(s->rootfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return cc_error_errno(err, "store %s: open %s", s->root, name);
	return fd;
}

/* Leftovers of writers that never committed: nobody else has the store (the lock). */
static int clean_tmp(struct store *s, struct cc_error **err)
{
	_cleanup_closedir_ DIR *d = reopen_dir(s->tmpfd);
	struct dirent *de;

	if (!d)
		return cc_error_errno(err, "store %s: open tmp/", s->root);
	while ((errno = 0, de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (cc_remove_at(s->tmpfd, de->d_name) < 0)
			return cc_error_errno(err, "store %s: remove tmp/%s", s->root, de->d_name);
	}
	if (errno)
		return cc_error_errno(err, "store %s: list tmp/", s->root);
	return 0;
}

static int load_index(struct store *s, const uint8_t *ptr, size_t len, struct cc_error **err)
{
	struct store_object *o = NULL;
	_cleanup_free_ uint8_t *content = NULL;
	uint64_t gen, igen;
	size_t clen;

	uint8_t id[STORE_ID_LEN], mac[STORE_MAC_LEN];
	struct store_index_entry *layers;
	size_t n;

	if (store_index_ptr_open(s->key_bytes, ptr, len, &gen, id, mac, err) < 0)
		return cc_error_prefix(err, "store %s", s->root);
	if (store_object_open(s, id, mac, &o, err) < 0)
		return cc_error_prefix(err, "store %s: index", s->root);
	content = store_object_read_all(o, STORE_INDEX_MAX, &clen, err);
	store_object_close(o);
	if (!content)
		return cc_error_prefix(err, "store %s: index", s->root);
	if (store_index_parse(content, clen, &igen, &layers, &n, err) < 0)
		return cc_error_prefix(err, "store %s", s->root);
	if (igen != gen) {
		store_index_entries_free(layers, n);
		return store_fail(err, s, EIO,
				  "index: generation %" PRIu64 ", the pointer says %" PRIu64, igen,
				  gen);
	}
	store_index_entries_free(s->layers, s->n_layers);
	s->layers = layers;
	s->n_layers = n;
	s->generation = gen;
	memcpy(s->index_id, id, STORE_ID_LEN);
	memcpy(s->index_mac, mac, STORE_MAC_LEN);
	memcpy(s->ptr, ptr, STORE_INDEX_PTR_LEN);
	return 0;
}

/* A new store's first index: generation 0, no layers. */
static int init_index(struct store *s, struct cc_error **err)
{
	size_t len;
	_cleanup_free_ uint8_t *content = index_encode(NULL, 0, 0, &len);

	if (write_object(s, NULL, content, len, s->index_id, s->index_mac, err) < 0)
		return cc_error_prefix(err, "store %s: new index", s->root);
	s->layers = xcalloc(1, sizeof(*s->layers));
	s->n_layers = 0;
	s->generation = 0;
	bool renamed;
	if (syncfs(s->objfd) < 0)
		return cc_error_errno(err, "store %s: sync", s->root);
	return write_pointer(s, 0, s->index_id, s->index_mac, &renamed, err);
}

static int open_layout(struct store *s, bool create, struct cc_error **err)
{
	uint8_t ptr[STORE_INDEX_PTR_LEN + 1];
	uint8_t id[STORE_ID_LEN], mac[STORE_MAC_LEN];
	_cleanup_close_ int fd = -1;
	uint64_t gen;
	bool alone;
	ssize_t n;

	if (create && cc_mkdir_p(s->root, 0700, err) < 0)
		return cc_error_prefix(err, "store %s", s->root);
	s->rootfd = open(s->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->rootfd < 0)
		return cc_error_errno(err, "store %s: open", s->root);
	/* Alone (exclusive), tmp/ leftovers are nobody's: they go. Else shared. */
	alone = flock(s->rootfd, LOCK_EX | LOCK_NB) == 0;
	if (!alone && errno != EWOULDBLOCK)
		return cc_error_errno(err, "store %s: lock", s->root);
	while (!alone && flock(s->rootfd, LOCK_SH) < 0)
		if (errno != EINTR)
			return cc_error_errno(err, "store %s: lock", s->root);
	s->objfd = open_dir_at(s, "objects", create, err);
	if (s->objfd < 0)
		return -1;
	s->tmpfd = open_dir_at(s, "tmp", create, err);
	if (s->tmpfd < 0)
		return -1;
	fd = openat(s->rootfd, "index", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && !create)
		return store_fail(err, s, ENOENT, "no index (not a store)");
	if (fd < 0 && errno != ENOENT)
		return cc_error_errno(err, "store %s: open index", s->root);
	if (fd >= 0) {
		/* The key is checked before anything else is touched. */
		n = cc_read_all(fd, ptr, sizeof(ptr));
		if (n < 0)
			return cc_error_errno(err, "store %s: read index", s->root);
		if (store_index_ptr_open(s->key_bytes, ptr, (size_t)n, &gen, id, mac, err) < 0)
			return cc_error_prefix(err, "store %s", s->root);
	}
	s->lockfd = openat(s->rootfd, "lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (s->lockfd < 0)
		return cc_error_errno(err, "store %s: open lock", s->root);
	if (alone && clean_tmp(s, err) < 0)
		return -1;
	if (index_lock(s, true, err) < 0)
		return -1;
	/* Made by another process meanwhile, or not. */
	int ret = faccessat(s->rootfd, "index", F_OK, AT_SYMLINK_NOFOLLOW) == 0
		      ? refresh_locked(s, err)
		      : init_index(s, err);
	index_unlock(s);
	if (alone)
		CC_BEST_EFFORT(flock(s->rootfd, LOCK_SH)); /* a downgrade: cannot conflict */
	return ret;
}

int store_open(const char *root, const uint8_t key[STORE_KEY_LEN], bool create, struct store **out,
	       struct cc_error **err)
{
	struct store *s;

	if (!root || !*root || !key || !out)
		return cc_error_set(err, EINVAL, "store: missing root, key or result");
	s = xzalloc(sizeof(*s));
	s->root = xstrdup(root);
	s->rootfd = s->objfd = s->tmpfd = s->lockfd = -1;
	memcpy(s->key_bytes, key, STORE_KEY_LEN);
	s->key = store_pf_key_new(key);
	pthread_mutex_init(&s->lock, NULL);
	if (RAND_bytes(s->tmp_prefix, sizeof(s->tmp_prefix)) != 1) {
		store_fail(err, s, EIO, "no random bytes from OpenSSL");
		store_close(s);
		return -1;
	}
	if (open_layout(s, create, err) < 0) {
		store_close(s);
		return -1;
	}
	*out = s;
	return 0;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	if (s->tmpfd >= 0)
		close(s->tmpfd);
	if (s->objfd >= 0)
		close(s->objfd);
	if (s->lockfd >= 0)
		close(s->lockfd);
	if (s->rootfd >= 0)
		close(s->rootfd); /* releases the flock */
	store_pf_key_free(s->key);
	explicit_bzero(s->key_bytes, sizeof(s->key_bytes));
	store_index_entries_free(s->layers, s->n_layers);
	pthread_mutex_destroy(&s->lock);
	free(s->root);
	free(s);
}

/* ---- read-only open (fsck) ---- */

int store_open_readonly(const char *root, const uint8_t key[STORE_KEY_LEN], struct store **out,
			struct cc_error **err)
{
	uint8_t ptr[STORE_INDEX_PTR_LEN + 1];
	_cleanup_close_ int fd = -1;
	struct store *s;
	ssize_t n;

	if (!root || !*root || !key || !out)
		return cc_error_set(err, EINVAL, "store: missing root, key or result");
	s = xzalloc(sizeof(*s));
	s->root = xstrdup(root);
	s->rootfd = s->objfd = s->tmpfd = s->lockfd = -1; /* no tmp/: nothing can be created */
	memcpy(s->key_bytes, key, STORE_KEY_LEN);
	s->key = store_pf_key_new(key);
	pthread_mutex_init(&s->lock, NULL);
	s->pins = 1; /* store_gc refuses for good: nothing is removed */
	s->rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->rootfd < 0) {
		cc_error_errno(err, "store %s: open", root);
		goto fail;
	}
	if (flock(s->rootfd, LOCK_EX | LOCK_NB) < 0) {
		store_fail(err, s, errno == EWOULDBLOCK ? EBUSY : errno,
			   "in use (locked by another opener)");
		goto fail;
	}
	s->objfd = open_dir_at(s, "objects", false, err);
	if (s->objfd < 0)
		goto fail;
	fd = openat(s->rootfd, "index", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			store_fail(err, s, ENOENT, "no index (not a store)");
		else
			cc_error_errno(err, "store %s: open index", root);
		goto fail;
	}
	n = cc_read_all(fd, ptr, sizeof(ptr));
	if (n < 0) {
		cc_error_errno(err, "store %s: read index", root);
		goto fail;
	}
	/* The key is checked before anything else is read. */
	if (load_index(s, ptr, (size_t)n, err) < 0)
		goto fail;
	*out = s;
	return 0;
fail:
	store_close(s);
	return -1;
}
