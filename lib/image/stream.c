// SPDX-License-Identifier: Apache-2.0
/* Layer stream stages: sources, verification, decryption, decompression. See stream.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <isa-l/igzip_lib.h>
#include <openssl/evp.h>
#include <zstd.h>
#include "crypt/crypt.h"
#include "image/error.h"
#include "image/reference.h"
#include "image/stream-internal.h"
#include "util/cleanup.h"
#include "util/hex.h"

#define STAGE_BUF (128u << 10)
#define ZSTD_WINDOW_LOG_MAX 25 /* 32 MiB: bounds memory; zstd -19 uses 8 MiB */

ssize_t img_stage_fail(struct img_stream *s, int errnum, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cc_error_setv(&s->err, errnum, fmt, ap);
	va_end(ap);
	return -1;
}

ssize_t img_stream_read(struct img_stream *s, void *buf, size_t len)
{
	if (img_stream_error(s))
		return -1;
	return s->read(s, buf, len);
}

const struct cc_error *img_stream_error(const struct img_stream *s)
{
	for (; s; s = s->in)
		if (s->err)
			return s->err;
	return NULL;
}

int img_stream_drain(struct img_stream *s)
{
	char buf[16384];
	ssize_t n;
	while ((n = img_stream_read(s, buf, sizeof(buf))) > 0)
		;
	return n < 0 ? -1 : 0;
}

void img_stream_free(struct img_stream *s)
{
	while (s) {
		struct img_stream *in = s->in;
		cc_error_free(&s->err);
		if (s->free)
			s->free(s);
		free(s);
		s = in;
	}
}

/* ---- sources ---- */

struct fd_stream {
	struct img_stream s;
	int fd;
};

static ssize_t fd_read(struct img_stream *s, void *buf, size_t len)
{
	struct fd_stream *f = (struct fd_stream *)s;
	for (;;) {
		ssize_t n = read(f->fd, buf, len);
		if (n >= 0)
			return n;
		if (errno != EINTR)
			return img_stage_fail(s, errno, "read");
	}
}

struct img_stream *img_stream_fd(int fd)
{
	struct fd_stream *f = xzalloc(sizeof(*f));
	f->s.read = fd_read;
	f->fd = fd;
	return &f->s;
}

static void fd_close(struct img_stream *s)
{
	close(((struct fd_stream *)s)->fd);
}

struct img_stream *img_stream_fd_owned(int fd)
{
	struct img_stream *s = img_stream_fd(fd);
	s->free = fd_close;
	return s;
}

struct mem_stream {
	struct img_stream s;
	const unsigned char *p;
	size_t left;
};

static ssize_t mem_read(struct img_stream *s, void *buf, size_t len)
{
	struct mem_stream *m = (struct mem_stream *)s;
	size_t n = len < m->left ? len : m->left;
	memcpy(buf, m->p, n);
	m->p += n;
	m->left -= n;
	return (ssize_t)n;
}

struct img_stream *img_stream_mem(const void *buf, size_t len)
{
	struct mem_stream *m = xzalloc(sizeof(*m));
	m->s.read = mem_read;
	m->p = buf;
	m->left = len;
	return &m->s;
}

/* ---- verification ---- */

struct verify_stream {
	struct img_stream s;
	EVP_MD_CTX *md;
	char *what, *digest;
	int64_t size, seen;
	bool done;
};

static const EVP_MD *digest_md(const char *digest)
{
	if (!strncmp(digest, "sha256:", 7))
		return EVP_sha256();
	if (!strncmp(digest, "sha384:", 7))
		return EVP_sha384();
	if (!strncmp(digest, "sha512:", 7))
		return EVP_sha512();
	return NULL;
}

static char *hex_digest(const char *algorithm, const unsigned char *md, unsigned n)
{
	size_t alen = strlen(algorithm);
	char *s = xmalloc(alen + 1 + 2 * n + 1);
	memcpy(s, algorithm, alen);
	s[alen] = ':';
	cc_hex_encode(md, n, s + alen + 1);
	return s;
}

/* Bytes that are not what the descriptor promised: the data's fault, IMG_ERR_INTEGRITY. */
static ssize_t mismatch(struct img_stream *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static ssize_t mismatch(struct img_stream *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cc_error_setv(&s->err, 0, fmt, ap);
	va_end(ap);
	s->err->code = IMG_ERR_INTEGRITY;
	return -1;
}

static ssize_t verify_finish(struct verify_stream *v)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned n = 0;
	v->done = true;
	/* The size first: it says more than a digest of the wrong bytes would. */
	if (v->size >= 0 && v->seen != v->size)
		return mismatch(&v->s, "%s: size mismatch: got %lld of %lld bytes", v->what,
				(long long)v->seen, (long long)v->size);
	if (EVP_DigestFinal_ex(v->md, md, &n) != 1)
		return img_stage_fail(&v->s, 0, "%s: digest computation failed", v->what);
	_cleanup_free_ char *alg = xstrndup(v->digest, strcspn(v->digest, ":"));
	_cleanup_free_ char *got = hex_digest(alg, md, n);
	if (strcmp(got, v->digest) != 0)
		return mismatch(&v->s, "%s: digest mismatch: the bytes hash to %s", v->what, got);
	return 0;
}

static ssize_t verify_read(struct img_stream *s, void *buf, size_t len)
{
	struct verify_stream *v = (struct verify_stream *)s;
	if (v->done)
		return 0;
	ssize_t n = img_stream_read(s->in, buf, len);
	if (n < 0)
		return -1;
	if (n == 0)
		return verify_finish(v);
	v->seen += n;
	if (v->size >= 0 && v->seen > v->size)
		return mismatch(s,
				"%s: size mismatch: more than the %lld bytes its descriptor gives",
				v->what, (long long)v->size);
	if (EVP_DigestUpdate(v->md, buf, (size_t)n) != 1)
		return img_stage_fail(s, 0, "%s: digest computation failed", v->what);
	return n;
}

static void verify_free(struct img_stream *s)
{
	struct verify_stream *v = (struct verify_stream *)s;
	EVP_MD_CTX_free(v->md);
	free(v->what);
	free(v->digest);
}

struct img_stream *img_stream_verify(struct img_stream *in, const char *what, const char *digest,
				     int64_t size)
{
	struct verify_stream *v = xzalloc(sizeof(*v));
	v->s.read = verify_read;
	v->s.free = verify_free;
	v->s.in = in;
	v->what = xstrdup(what);
	v->digest = xstrdup(digest ? digest : "");
	v->size = size;
	const EVP_MD *md = img_digest_valid(v->digest) ? digest_md(v->digest) : NULL;
	v->md = EVP_MD_CTX_new();
	if (!md)
		img_stage_fail(&v->s, 0, "%s: unsupported digest \"%s\"", what, v->digest);
	else if (!v->md || EVP_DigestInit_ex(v->md, md, NULL) != 1)
		img_stage_fail(&v->s, 0, "%s: cannot start a digest", what);
	return &v->s;
}

char *img_digest_buf(const void *buf, size_t len)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned n = 0;
	if (EVP_Digest(buf, len, md, &n, EVP_sha256(), NULL) != 1)
		abort();
	return hex_digest("sha256", md, n);
}

/* ---- decryption ---- */

struct decrypt_stream {
	struct img_stream s;
	struct crypt_layer *l;
	char *what;
	bool done;
};

static ssize_t decrypt_read(struct img_stream *s, void *buf, size_t len)
{
	struct decrypt_stream *d = (struct decrypt_stream *)s;
	struct cc_error *e = NULL;
	if (d->done)
		return 0;
	ssize_t n = img_stream_read(s->in, buf, len);
	if (n < 0)
		return -1;
	if (n == 0) {
		/* The blob stage below has just checked its digest: now the HMAC. */
		d->done = true;
		if (crypt_layer_final(d->l, NULL, &e) == 0)
			return 0;
	} else if (crypt_layer_update(d->l, buf, (size_t)n, buf, &e) == 0) {
		return n;
	}
	img_stage_fail(s, 0, "%s: %s", d->what, e->msg);
	if (e->code == CRYPT_ERR_HMAC)
		s->err->code = IMG_ERR_INTEGRITY;
	cc_error_free(&e);
	return -1;
}

static void decrypt_free(struct img_stream *s)
{
	struct decrypt_stream *d = (struct decrypt_stream *)s;
	crypt_layer_free(d->l);
	free(d->what);
}

struct img_stream *img_stream_decrypt(struct img_stream *in, const char *what,
				      struct crypt_layer *l)
{
	struct decrypt_stream *d = xzalloc(sizeof(*d));
	d->s.read = decrypt_read;
	d->s.free = decrypt_free;
	d->s.in = in;
	d->l = l;
	d->what = xstrdup(what);
	return &d->s;
}

struct encrypt_stream {
	struct img_stream s;
	struct crypt_layer *l; /* borrowed */
	char *what;
};

static ssize_t encrypt_read(struct img_stream *s, void *buf, size_t len)
{
	struct encrypt_stream *c = (struct encrypt_stream *)s;
	struct cc_error *e = NULL;
	ssize_t n = img_stream_read(s->in, buf, len);
	if (n <= 0)
		return n;
	if (crypt_layer_update(c->l, buf, (size_t)n, buf, &e) == 0)
		return n;
	img_stage_fail(s, 0, "%s: %s", c->what, e->msg);
	cc_error_free(&e);
	return -1;
}

static void encrypt_free(struct img_stream *s)
{
	free(((struct encrypt_stream *)s)->what);
}

struct img_stream *img_stream_encrypt(struct img_stream *in, const char *what,
				      struct crypt_layer *l)
{
	struct encrypt_stream *c = xzalloc(sizeof(*c));
	c->s.read = encrypt_read;
	c->s.free = encrypt_free;
	c->s.in = in;
	c->l = l;
	c->what = xstrdup(what);
	return &c->s;
}

int img_layer_decryptor(const struct img_descriptor *d, const struct crypt_keys *keys,
			struct crypt_layer **out, struct cc_error **err)
{
	struct cc_error *e = NULL;
	*out = NULL;
	if (!keys) {
		cc_error_set(err, 0, "layer %s is encrypted and no decryption key was given",
			     d->digest);
		return img_error_code(err, IMG_ERR_INVALID);
	}
	if (crypt_layer_open(keys, d->media_type, d->annotations, out, &e) == 0)
		return 0;
	cc_error_set(err, 0, "layer %s: %s", d->digest, e->msg);
	int code = e->code == CRYPT_ERR_NO_KEY	      ? IMG_ERR_DENIED
		   : e->code == CRYPT_ERR_UNAVAILABLE ? IMG_ERR_UNAVAILABLE
						      : IMG_ERR_INVALID;
	cc_error_free(&e);
	return img_error_code(err, code);
}

/* ---- decompression ---- */

struct inflate_stream {
	struct img_stream s;
	char *what;
	enum img_compression c;
	unsigned char *in_buf;
	size_t in_len, in_pos;
	bool in_eof, member_started;
	unsigned members; /* complete gzip members */
	struct inflate_state gz;
	ZSTD_DStream *zd;
	size_t zret; /* last ZSTD_decompressStream result: 0 = at a frame boundary */
};

/* Refill the input buffer when it is empty; 0 at end of input, -1 on error. */
static int refill(struct inflate_stream *z)
{
	if (z->in_pos < z->in_len)
		return 1;
	if (z->in_eof)
		return 0;
	ssize_t n = img_stream_read(z->s.in, z->in_buf, STAGE_BUF);
	if (n < 0)
		return -1;
	z->in_len = (size_t)n;
	z->in_pos = 0;
	if (n == 0)
		z->in_eof = true;
	return n > 0;
}

static ssize_t gzip_read(struct inflate_stream *z, void *buf, size_t len)
{
	for (;;) {
		if (z->gz.block_state == ISAL_BLOCK_FINISH) {
			/* A member ended: another may follow (gzip allows concatenation). */
			int r = refill(z);
			if (r <= 0)
				return r;
			if (z->in_buf[z->in_pos] != 0x1f)
				return img_stage_fail(
				    &z->s, 0, "%s: trailing data after the gzip stream", z->what);
			isal_inflate_reset(&z->gz);
			z->gz.crc_flag = ISAL_GZIP;
		}
		int r = refill(z);
		if (r < 0)
			return -1;
		if (r == 0 && z->member_started)
			return img_stage_fail(&z->s, 0, "%s: truncated gzip stream", z->what);
		if (r == 0)
			return z->members
				   ? 0
				   : img_stage_fail(&z->s, 0, "%s: empty gzip stream", z->what);
		z->member_started = true;
		z->gz.next_in = z->in_buf + z->in_pos;
		z->gz.avail_in = (uint32_t)(z->in_len - z->in_pos);
		z->gz.next_out = buf;
		z->gz.avail_out = (uint32_t)(len > UINT32_MAX ? UINT32_MAX : len);
		int ret = isal_inflate(&z->gz);
		z->in_pos = z->in_len - z->gz.avail_in;
		if (ret < 0)
			return img_stage_fail(&z->s, 0, "%s: invalid gzip data (%s)", z->what,
					      ret == ISAL_INCORRECT_CHECKSUM ? "checksum mismatch"
					      : ret == ISAL_INVALID_WRAPPER
						  ? "bad header"
						  : "corrupt deflate stream");
		if (z->gz.block_state == ISAL_BLOCK_FINISH) {
			z->member_started = false;
			z->members++;
		}
		size_t out = (size_t)((unsigned char *)z->gz.next_out - (unsigned char *)buf);
		if (out)
			return (ssize_t)out;
	}
}

static ssize_t zstd_read(struct inflate_stream *z, void *buf, size_t len)
{
	for (;;) {
		int r = refill(z);
		if (r < 0)
			return -1;
		if (r == 0) {
			if (z->zret != 0)
				return img_stage_fail(&z->s, 0, "%s: truncated zstd stream",
						      z->what);
			return 0;
		}
		ZSTD_inBuffer in = { z->in_buf, z->in_len, z->in_pos };
		ZSTD_outBuffer out = { buf, len, 0 };
		size_t ret = ZSTD_decompressStream(z->zd, &out, &in);
		z->in_pos = in.pos;
		if (ZSTD_isError(ret))
			return img_stage_fail(&z->s, 0, "%s: invalid zstd data (%s)", z->what,
					      ZSTD_getErrorName(ret));
		z->zret = ret;
		if (out.pos)
			return (ssize_t)out.pos;
	}
}

static ssize_t inflate_read(struct img_stream *s, void *buf, size_t len)
{
	struct inflate_stream *z = (struct inflate_stream *)s;
	if (!len)
		return 0;
	switch (z->c) {
	case IMG_LAYER_GZIP:
		return gzip_read(z, buf, len);
	case IMG_LAYER_ZSTD:
		return zstd_read(z, buf, len);
	default:
		return img_stream_read(s->in, buf, len);
	}
}

static void inflate_free(struct img_stream *s)
{
	struct inflate_stream *z = (struct inflate_stream *)s;
	ZSTD_freeDStream(z->zd);
	free(z->in_buf);
	free(z->what);
}

struct img_stream *img_stream_decompress(struct img_stream *in, const char *what,
					 enum img_compression c)
{
	struct inflate_stream *z = xzalloc(sizeof(*z));
	z->s.read = inflate_read;
	z->s.free = inflate_free;
	z->s.in = in;
	z->what = xstrdup(what);
	z->c = c;
	if (c == IMG_LAYER_GZIP) {
		z->in_buf = xmalloc(STAGE_BUF);
		isal_inflate_init(&z->gz);
		z->gz.crc_flag = ISAL_GZIP;
	} else if (c == IMG_LAYER_ZSTD) {
		z->in_buf = xmalloc(STAGE_BUF);
		z->zd = ZSTD_createDStream();
		if (!z->zd || ZSTD_isError(ZSTD_DCtx_setParameter(z->zd, ZSTD_d_windowLogMax,
								  ZSTD_WINDOW_LOG_MAX)))
			img_stage_fail(&z->s, 0, "%s: cannot set up zstd", what);
	}
	return &z->s;
}
