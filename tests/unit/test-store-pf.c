// SPDX-License-Identifier: Apache-2.0
/* Unit tests for lib/store's protected objects (docs/store.md): round trips of every size
 * class, chunk size and tree depth, read at every boundary; the format read back by an
 * independent decoder written here from the spec; the tamper matrix (every header field, a
 * chunk, a node at each level, swaps, splices, truncation, extension, another id, an older
 * version, a wrong key, and authenticated headers and nodes that lie about lengths), each with
 * its one-line message and EIO; no plaintext on the host; the writer's and reader's own
 * errors; and a real file through store_pf_io_fd. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include "store/pf.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/hex.h"
#include "tmproot.h"
#include "util/le.h"

#define HDR 4096
#define KIB 1024
#define MIB (1024 * 1024)

/* ---- an in-memory host file ---- */

struct mem {
	uint8_t *p;
	size_t len, cap;
	size_t max_io;	 /* > 0: transfer at most this much per call (short I/O) */
	int read_errno;	 /* != 0: pread fails with it */
	int write_errno; /* != 0: pwrite fails with it once write_budget is spent */
	uint64_t write_budget;
};

static ssize_t mem_pread(void *ctx, void *buf, size_t len, uint64_t off)
{
	struct mem *m = ctx;
	size_t n;
	if (m->read_errno)
		return errno = m->read_errno, -1;
	if (off >= m->len)
		return 0;
	n = len < m->len - off ? len : m->len - off;
	if (m->max_io && n > m->max_io)
		n = m->max_io;
	memcpy(buf, m->p + off, n);
	return (ssize_t)n;
}

static void mem_resize(struct mem *m, size_t len)
{
	if (len > m->cap) {
		m->cap = len + len / 2;
		m->p = xrealloc(m->p, m->cap);
	}
	if (len > m->len)
		memset(m->p + m->len, 0, len - m->len);
	m->len = len;
}

static ssize_t mem_pwrite(void *ctx, const void *buf, size_t len, uint64_t off)
{
	struct mem *m = ctx;
	if (m->write_errno) {
		if (m->write_budget < len)
			return errno = m->write_errno, -1;
		m->write_budget -= len;
	}
	if (m->max_io && len > m->max_io)
		len = m->max_io;
	if (off + len > m->len)
		mem_resize(m, off + len);
	memcpy(m->p + off, buf, len);
	return (ssize_t)len;
}

static int mem_size(void *ctx, uint64_t *size)
{
	*size = ((struct mem *)ctx)->len;
	return 0;
}

static struct store_pf_io mem_io(struct mem *m)
{
	return (struct store_pf_io){ mem_pread, mem_pwrite, mem_size, m };
}

static void mem_free(struct mem *m)
{
	free(m->p);
	memset(m, 0, sizeof(*m));
}

#define _cleanup_mem_ __attribute__((cleanup(mem_free)))

/* ---- keys, ids, data ---- */

static const uint8_t key_a_bytes[32] = { 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
					 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
					 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27,
					 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f };
static const uint8_t key_b_bytes[32] = { 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
					 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
					 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27,
					 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2e };
static const uint8_t id_a[16] = { 0x1f, 0x2e, 0x3d, 0x4c, 0x5b, 0x6a, 0x79, 0x88,
				  0x97, 0xa6, 0xb5, 0xc4, 0xd3, 0xe2, 0xf1, 0x00 };
static const uint8_t id_b[16] = { 0x7a, 0x6b, 0x5c, 0x4d, 0x3e, 0x2f, 0x10, 0x01,
				  0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09 };
#define NAME_A "1f2e3d4c5b6a7988"
#define NAME_B "7a6b5c4d3e2f1001"

static struct store_pf_key *key_a, *key_b;

static uint8_t *pattern(size_t len, uint64_t seed)
{
	uint8_t *p = xmalloc(len ? len : 1);
	uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (uint8_t)(x >> 24);
	}
	return p;
}

static uint64_t rnd_state = 0x243f6a8885a308d3ull;

static uint64_t rnd(uint64_t n)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return n ? rnd_state % n : 0;
}

/* An object's layout computed from the spec's words. */
struct spec {
	uint64_t c, f, size, chunks, depth, nodes[8], first[8], tree_off, end;
};

static void spec_layout(struct spec *s, uint64_t c, uint64_t size)
{
	uint64_t below, total = 0;
	memset(s, 0, sizeof(*s));
	s->c = c;
	s->f = c / 32;
	s->size = size;
	s->chunks = (size + c - 1) / c;
	s->tree_off = HDR + s->chunks * c;
	for (below = s->chunks; below; below = s->nodes[s->depth++]) {
		s->first[s->depth] = total;
		s->nodes[s->depth] = (below + s->f - 1) / s->f;
		total += s->nodes[s->depth];
		if (s->nodes[s->depth] == 1) {
			s->depth++;
			break;
		}
	}
	s->end = s->depth ? s->tree_off + (total - 1) * c +
				32 * (s->depth == 1 ? s->chunks : s->nodes[s->depth - 2])
			  : HDR;
}

/* ---- writing and reading through the API ---- */

/* Write data in pieces of changing sizes (whole chunks straight from the buffer, partial
 * ones buffered) and commit. */
static void make(struct mem *m, const struct store_pf_key *k, const uint8_t *id,
		 unsigned chunk_log2, const void *attrs, size_t attr_len, const uint8_t *data,
		 size_t size, uint8_t mac[16])
{
	static const size_t pieces[] = { 1, 100, 4095, 12295, 65536, 200000, 7, 1 << 20 };
	struct cc_error *err = NULL;
	struct store_pf_io io = mem_io(m);
	struct store_pf_writer *w =
	    store_pf_writer_new(k, &io, id, chunk_log2, attrs, attr_len, &err);
	size_t off = 0;

	if (!w)
		fail_msg("%s", err->msg);
	for (unsigned i = 0; off < size; i++) {
		size_t n = pieces[i % ARRAY_SIZE(pieces)];
		if (n > size - off)
			n = size - off;
		if (store_pf_write(w, data + off, n, &err) < 0)
			fail_msg("%s", err->msg);
		off += n;
	}
	if (store_pf_commit(w, mac, &err) < 0)
		fail_msg("%s", err->msg);
	if (id)
		assert_memory_equal(store_pf_writer_id(w), id, 16);
	store_pf_writer_free(w);
}

static struct store_pf_reader *open_ok(struct mem *m, const struct store_pf_key *k,
				       const uint8_t *id, const uint8_t *mac)
{
	struct cc_error *err = NULL;
	struct store_pf_reader *r = NULL;
	struct store_pf_io io = mem_io(m);
	if (store_pf_open(k, &io, id, mac, &r, &err) < 0)
		fail_msg("%s", err->msg);
	assert_non_null(r);
	return r;
}

static void read_ok(struct store_pf_reader *r, uint64_t off, size_t len, const uint8_t *data,
		    uint64_t size)
{
	struct cc_error *err = NULL;
	_cleanup_free_ uint8_t *buf = xmalloc(len + 1);
	size_t want = off >= size ? 0 : (len < size - off ? len : (size_t)(size - off));
	ssize_t n = store_pf_pread(r, buf, len, off, &err);
	if (n < 0)
		fail_msg("read %zu at %llu: %s", len, (unsigned long long)off, err->msg);
	assert_int_equal(n, want);
	if (want && memcmp(buf, data + off, want))
		fail_msg("read %zu at %llu: other bytes", len, (unsigned long long)off);
}

/* Chunk indices worth reading around: all of them for a small object, else the first and
 * last few and those around each level-0 node boundary of a 4 KiB-chunk tree. */
static bool interesting(uint64_t k, uint64_t chunks)
{
	return chunks <= 600 || k < 3 || k + 3 > chunks || k % 128 <= 1 || k % 128 == 127;
}

static void check_content(struct store_pf_reader *r, const uint8_t *data, uint64_t size,
			  unsigned chunk_log2)
{
	uint64_t c = UINT64_C(1) << chunk_log2, chunks = (size + c - 1) / c;
	struct cc_error *err = NULL;
	_cleanup_free_ uint8_t *buf = xmalloc(MIB);
	uint64_t off = 0;

	assert_int_equal(store_pf_size(r), size);
	/* Sequentially, 128 KiB then 1 MiB reads. */
	for (unsigned pass = 0; pass < 2; pass++) {
		size_t step = pass ? MIB : 128 * KIB;
		for (off = 0; off < size; off += step)
			read_ok(r, off, step, data, size);
	}
	/* Around every chunk boundary: straddling, whole, from its second byte. */
	for (uint64_t k = 0; k <= chunks; k++) {
		if (!interesting(k, chunks))
			continue;
		if (k)
			read_ok(r, k * c - 1, 2, data, size);
		read_ok(r, k * c, (size_t)c, data, size);
		read_ok(r, k * c + 1, (size_t)c - 2, data, size);
		read_ok(r, k * c, (size_t)c + 1, data, size);
	}
	/* Random offsets and lengths. */
	for (unsigned i = 0; i < 300; i++)
		read_ok(r, rnd(size + 1), (size_t)rnd(3 * c) + 1, data, size);
	/* At and past the end. */
	assert_int_equal(store_pf_pread(r, buf, 10, size, &err), 0);
	assert_int_equal(store_pf_pread(r, buf, 10, size + 12345, &err), 0);
	assert_int_equal(store_pf_pread(r, buf, 0, 0, &err), 0);
	if (size)
		read_ok(r, size - 1, 10, data, size);
	assert_null(err);
}

static void roundtrip(unsigned chunk_log2, uint64_t size, size_t attr_len, bool short_io)
{
	_cleanup_mem_ struct mem m = { 0 };
	_cleanup_free_ uint8_t *data = pattern((size_t)size, size + chunk_log2);
	_cleanup_free_ uint8_t *attrs = pattern(attr_len, 7);
	unsigned log2 = chunk_log2 ? chunk_log2 : STORE_PF_CHUNK_LOG2_DEFAULT;
	uint8_t mac[16];
	size_t got_len;
	const void *got;
	struct spec s;

	m.max_io = short_io ? 777 : 0;
	make(&m, key_a, id_a, chunk_log2, attrs, attr_len, data, (size_t)size, mac);
	spec_layout(&s, UINT64_C(1) << log2, size);
	assert_int_equal(m.len, s.end);
	struct store_pf_reader *r = open_ok(&m, key_a, id_a, mac);
	assert_memory_equal(store_pf_id(r), id_a, 16);
	assert_memory_equal(store_pf_root_mac(r), mac, 16);
	got = store_pf_attributes(r, &got_len);
	assert_int_equal(got_len, attr_len);
	if (attr_len)
		assert_memory_equal(got, attrs, attr_len);
	check_content(r, data, size, log2);
	store_pf_reader_free(r);
}

static void test_roundtrip_small_chunks(void **state)
{
	const uint64_t c = 4096;
	/* 128 chunks fill one level-0 node (depth 1); one more makes depth 2. */
	const uint64_t sizes[] = {
		0, 1, c - 1, c, c + 1, 3 * c + 5, 128 * c, 128 * c + 1, 300 * c + 100, 128 * 128 * c
	};
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		roundtrip(12, sizes[i], 0, false);
		roundtrip(12, sizes[i], STORE_PF_ATTR_MAX, i % 2);
	}
}

static void test_roundtrip_depth3(void **state)
{
	/* 16384 chunks fill 128 level-0 nodes, whose entries fill the level-1 node; one byte
	 * more: 16385 chunks, 129 level-0 nodes, 2 level-1 nodes, a root at level 2. */
	roundtrip(12, 128 * 128 * 4096 + 1, 3, false);
}

static void test_roundtrip_default_chunks(void **state)
{
	const uint64_t c = 65536;
	const uint64_t sizes[] = { 0, 1, c - 1, c, c + 1, 5 * c + 3, 40 * c };
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		roundtrip(0, sizes[i], i % 2 ? STORE_PF_ATTR_MAX : 0, false);
		roundtrip(16, sizes[i], 1, i == 5);
	}
}

static void test_roundtrip_big_chunks(void **state)
{
	/* 1 MiB chunks: reads of part of a chunk go through the one-chunk cache. */
	roundtrip(20, 3 * MIB + 5, 10, false);
	roundtrip(20, MIB, 0, false);
}

/* ---- the format, read back independently (docs/store.md) ---- */

static void spec_key(uint8_t out[32], const uint8_t *store_key, const uint8_t *salt,
		     const uint8_t *id)
{
	EVP_PKEY_CTX *p = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
	size_t len = 32;
	assert_non_null(p);
	assert_int_equal(EVP_PKEY_derive_init(p), 1);
	assert_int_equal(EVP_PKEY_CTX_set_hkdf_md(p, EVP_sha256()), 1);
	assert_int_equal(EVP_PKEY_CTX_set1_hkdf_salt(p, salt, 32), 1);
	assert_int_equal(EVP_PKEY_CTX_set1_hkdf_key(p, store_key, 32), 1);
	assert_int_equal(
	    EVP_PKEY_CTX_add1_hkdf_info(p, (const uint8_t *)"rune-store object v1", 20), 1);
	assert_int_equal(EVP_PKEY_CTX_add1_hkdf_info(p, id, 16), 1);
	assert_int_equal(EVP_PKEY_derive(p, out, &len), 1);
	assert_int_equal(len, 32);
	EVP_PKEY_CTX_free(p);
}

/* One-shot AES-256-GCM of len bytes in place: encrypt (tag out) or decrypt (tag checked). */
static bool spec_gcm(bool enc, const uint8_t key[32], const uint8_t *nonce, const uint8_t *aad,
		     size_t aad_len, uint8_t *buf, size_t len, uint8_t *tag)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int n, ok;
	ok = EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, key, nonce, enc) == 1 &&
	     EVP_CipherUpdate(c, NULL, &n, aad, (int)aad_len) == 1 &&
	     EVP_CipherUpdate(c, buf, &n, buf, (int)len) == 1 &&
	     (enc || EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, 16, tag) == 1) &&
	     EVP_CipherFinal_ex(c, buf + len, &n) == 1 &&
	     (!enc || EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, 16, tag) == 1);
	EVP_CIPHER_CTX_free(c);
	return ok;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return get32(p) | (uint64_t)get32(p + 4) << 32;
}

static uint64_t spec_node_off(const struct spec *s, unsigned level, uint64_t index)
{
	return s->tree_off + (s->first[level] + index) * s->c;
}

static void node_aad(uint8_t aad[40], const uint8_t *id, uint32_t level, uint64_t index,
		     uint64_t len)
{
	memcpy(aad, "RPFN", 4);
	memcpy(aad + 4, id, 16);
	cc_put_le32(aad + 20, level);
	cc_put_le64(aad + 24, index);
	cc_put_le64(aad + 32, len);
}

static void chunk_aad(uint8_t aad[36], const uint8_t *id, uint64_t index, uint64_t len)
{
	memcpy(aad, "RPFD", 4);
	memcpy(aad + 4, id, 16);
	cc_put_le64(aad + 20, index);
	cc_put_le64(aad + 28, len);
}

/* Decrypt the node at (level, index) with entry e into out (e's length bytes). */
static void spec_node(const struct mem *m, const uint8_t *key, const struct spec *s, unsigned level,
		      uint64_t index, const uint8_t *e, uint8_t *out)
{
	uint8_t aad[40], tag[16];
	uint32_t len = get32(e + 28);
	memcpy(out, m->p + spec_node_off(s, level, index), len);
	memcpy(tag, e + 12, 16);
	node_aad(aad, id_a, level, index, len);
	assert_true(spec_gcm(false, key, e, aad, sizeof(aad), out, len, tag));
}

static void spec_body(const struct mem *m, uint8_t key[32], uint8_t body[4004 + 16])
{
	uint8_t tag[16];
	spec_key(key, key_a_bytes, m->p + 32, m->p + 16);
	memcpy(body, m->p + 92, 4004);
	memcpy(tag, m->p + 76, 16);
	assert_true(spec_gcm(false, key, m->p + 64, m->p, 64, body, 4004, tag));
}

static void test_format(void **state)
{
	const uint64_t c = 4096, size = 200 * c + 10;
	_cleanup_mem_ struct mem m = { 0 };
	_cleanup_free_ uint8_t *data = pattern(size, 3);
	uint8_t mac[16], key[32], body[4004 + 16], top[64 + 16], node[128 * 32 + 16];
	uint8_t chunk[4096 + 16], aad[36], tag[16];
	struct spec s;

	make(&m, key_a, id_a, 12, "mode=0644", 9, data, size, mac);
	spec_layout(&s, c, size);
	assert_int_equal(s.depth, 2);
	assert_int_equal(s.end, HDR + 201 * c + 2 * c + 64);
	assert_int_equal(m.len, s.end);

	/* The clear header. */
	assert_memory_equal(m.p, "RUNEPF01", 8);
	assert_int_equal(m.p[8] | m.p[9] << 8, 1);
	assert_int_equal(m.p[10], 12);
	assert_int_equal(m.p[11], 0);
	assert_int_equal(get32(m.p + 12), 0);
	assert_memory_equal(m.p + 16, id_a, 16);
	assert_memory_equal(m.p + 76, mac, 16); /* the top MAC is the header tag */

	/* The body: size, depth, top entry, attributes, zeros. */
	spec_body(&m, key, body);
	assert_int_equal(get64(body), size);
	assert_int_equal(get32(body + 8), 2);
	assert_int_equal(get32(body + 12 + 28), 2 * 32);
	assert_int_equal(get32(body + 44), 9);
	assert_memory_equal(body + 48, "mode=0644", 9);
	for (size_t i = 48 + 9; i < 4004; i++)
		assert_int_equal(body[i], 0);

	/* The top (level 1, 2 entries), level-0 node 1 (201 - 128 = 73 entries), chunk 200
	 * (10 bytes) and chunk 0. */
	spec_node(&m, key, &s, 1, 0, body + 12, top);
	assert_int_equal(get32(top + 28), 128 * 32);
	assert_int_equal(get32(top + 32 + 28), 73 * 32);
	spec_node(&m, key, &s, 0, 1, top + 32, node);
	assert_int_equal(get32(node + 72 * 32 + 28), 10);
	memcpy(chunk, m.p + HDR + 200 * c, 10);
	chunk_aad(aad, id_a, 200, 10);
	memcpy(tag, node + 72 * 32 + 12, 16);
	assert_true(spec_gcm(false, key, node + 72 * 32, aad, sizeof(aad), chunk, 10, tag));
	assert_memory_equal(chunk, data + 200 * c, 10);

	spec_node(&m, key, &s, 0, 0, top, node);
	memcpy(chunk, m.p + HDR, c);
	chunk_aad(aad, id_a, 0, c);
	memcpy(tag, node + 12, 16);
	assert_true(spec_gcm(false, key, node, aad, sizeof(aad), chunk, c, tag));
	assert_memory_equal(chunk, data, c);
	/* The room after the short last chunk is never written. */
	for (uint64_t i = HDR + 200 * c + 10; i < s.tree_off; i++)
		assert_int_equal(m.p[i], 0);
}

/* ---- the tamper matrix ---- */

/* The tamper object: 4 KiB chunks, 301 of them (the last of 100 bytes), 3 level-0 nodes and
 * a root of 3 entries at level 1. */
#define T_C 4096
#define T_SIZE (300 * T_C + 100)

struct tamper {
	struct mem m;
	uint8_t *data;
	uint8_t mac[16];
	struct spec s;
};

static void tamper_make(struct tamper *t)
{
	memset(t, 0, sizeof(*t));
	t->data = pattern(T_SIZE, 11);
	make(&t->m, key_a, id_a, 12, "attrs", 5, t->data, T_SIZE, t->mac);
	spec_layout(&t->s, T_C, T_SIZE);
	assert_int_equal(t->s.depth, 2);
	assert_int_equal(t->m.len, t->s.end);
}

static void tamper_free(struct tamper *t)
{
	mem_free(&t->m);
	free(t->data);
	t->data = NULL;
}

#define _cleanup_tamper_ __attribute__((cleanup(tamper_free)))

static void expect_error(struct cc_error **err, int errnum, const char *want)
{
	assert_non_null(*err);
	assert_string_equal((*err)->msg, want);
	assert_int_equal((*err)->errnum, errnum);
	cc_error_free(err);
}

static void expect_open_error(struct mem *m, const struct store_pf_key *k, const uint8_t *id,
			      const uint8_t *mac, const char *want)
{
	struct cc_error *err = NULL;
	struct store_pf_reader *r = NULL;
	struct store_pf_io io = mem_io(m);
	if (store_pf_open(k, &io, id, mac, &r, &err) == 0) {
		store_pf_reader_free(r);
		fail_msg("opened, expected: %s", want);
	}
	assert_null(r);
	assert_non_null(err);
	assert_string_equal(err->msg, want);
	assert_int_equal(err->errnum, EIO);
	cc_error_free(&err);
}

/* Opens, then reads the whole object in 64 KiB reads: the read must fail with want (EIO),
 * and so must every later read (the reader stays failed). */
static void expect_read_error(struct mem *m, const uint8_t *data, uint64_t size, const char *want)
{
	struct store_pf_reader *r = open_ok(m, key_a, id_a, NULL);
	struct cc_error *err = NULL;
	_cleanup_free_ uint8_t *buf = xmalloc(64 * KIB);
	uint64_t off;
	ssize_t n = 0;

	for (off = 0; off < size; off += (uint64_t)n) {
		n = store_pf_pread(r, buf, 64 * KIB, off, &err);
		if (n < 0)
			break;
		assert_true(n > 0);
		assert_memory_equal(buf, data + off, (size_t)n);
	}
	if (n >= 0)
		fail_msg("read everything, expected: %s", want);
	assert_string_equal(err->msg, want);
	assert_int_equal(err->errnum, EIO);
	cc_error_free(&err);
	assert_int_equal(store_pf_pread(r, buf, 1, 0, &err), -1);
	assert_string_equal(err->msg, want);
	assert_int_equal(err->errnum, EIO);
	cc_error_free(&err);
	store_pf_reader_free(r);
}

static void test_tamper_header_fields(void **state)
{
	_cleanup_tamper_ struct tamper t;
	static const struct {
		size_t off;
		uint8_t bit;
		const char *want;
	} cases[] = {
		{ 0, 0x01, "not a protected object (bad magic)" },
		{ 7, 0x80, "not a protected object (bad magic)" },
		{ 8, 0x02, "format version 3 is not supported (1 is)" },
		{ 9, 0x80, "format version 32769 is not supported (1 is)" },
		{ 10, 0x01, "wrong store key or damaged header" }, /* 13: in range, in the AAD */
		{ 10, 0x80, "chunk_log2 140 is out of range (12-20)" },
		{ 10, 0x10, "chunk_log2 28 is out of range (12-20)" },
		{ 11, 0x01, "unknown flags 0x01" },
		{ 12, 0x01, "reserved header bytes are not zero" },
		{ 15, 0x80, "reserved header bytes are not zero" },
		{ 16, 0x01, "wrong store key or damaged header" }, /* id */
		{ 31, 0x80, "wrong store key or damaged header" },
		{ 32, 0x01, "wrong store key or damaged header" }, /* salt */
		{ 63, 0x80, "wrong store key or damaged header" },
		{ 64, 0x01, "wrong store key or damaged header" }, /* nonce */
		{ 75, 0x80, "wrong store key or damaged header" },
		{ 76, 0x01, "wrong store key or damaged header" }, /* tag */
		{ 91, 0x80, "wrong store key or damaged header" },
		{ 92, 0x01, "wrong store key or damaged header" },	/* body: size */
		{ 92 + 48, 0x04, "wrong store key or damaged header" }, /* attributes */
		{ 4095, 0x80, "wrong store key or damaged header" },	/* padding */
	};

	tamper_make(&t);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		_cleanup_free_ char *want = xasprintf("object " NAME_A ": %s", cases[i].want);
		t.m.p[cases[i].off] ^= cases[i].bit;
		expect_open_error(&t.m, key_a, id_a, NULL, want);
		/* Expected root MAC or not, the same verdict. */
		expect_open_error(&t.m, key_a, id_a, t.mac, want);
		t.m.p[cases[i].off] ^= cases[i].bit;
	}
	/* Without an expected id the object is named by the id in the header. */
	t.m.p[0] ^= 1;
	expect_open_error(&t.m, key_a, NULL, NULL,
			  "object " NAME_A ": not a protected object (bad magic)");
	t.m.p[0] ^= 1;
	/* A flipped bit anywhere in the header fails the open. */
	for (size_t off = 0; off < HDR; off++) {
		struct cc_error *err = NULL;
		struct store_pf_reader *r = NULL;
		struct store_pf_io io = mem_io(&t.m);
		uint8_t bit = (uint8_t)(1u << (off % 8));
		t.m.p[off] ^= bit;
		if (store_pf_open(key_a, &io, NULL, NULL, &r, &err) == 0)
			fail_msg("header byte %zu flipped: opened", off);
		assert_int_equal(err->errnum, EIO);
		assert_null(strchr(err->msg, '\n'));
		cc_error_free(&err);
		t.m.p[off] ^= bit;
	}
	store_pf_reader_free(open_ok(&t.m, key_a, id_a, t.mac));
}

static void test_tamper_chunk(void **state)
{
	_cleanup_tamper_ struct tamper t;
	struct cc_error *err = NULL;
	struct store_pf_reader *r;
	_cleanup_free_ uint8_t *buf = xmalloc(3 * T_C);

	tamper_make(&t);
	t.m.p[HDR + 17 * T_C + 100] ^= 0x20;
	expect_read_error(&t.m, t.data, T_SIZE,
			  "object " NAME_A ": chunk 17: does not authenticate");

	/* A read of chunks 16-18 into the caller's buffer: chunk 16 arrives, the forged plaintext
	 * of chunk 17 is wiped, not left behind. */
	r = open_ok(&t.m, key_a, id_a, t.mac);
	memset(buf, 0xaa, 3 * T_C);
	assert_int_equal(store_pf_pread(r, buf, 3 * T_C, 16 * T_C, &err), -1);
	assert_string_equal(err->msg, "object " NAME_A ": chunk 17: does not authenticate");
	cc_error_free(&err);
	assert_memory_equal(buf, t.data + 16 * T_C, T_C);
	for (size_t i = T_C; i < 2 * T_C; i++)
		assert_int_equal(buf[i], 0);
	store_pf_reader_free(r);

	/* Part of the chunk (through the one-chunk cache); other chunks still read before. */
	r = open_ok(&t.m, key_a, id_a, t.mac);
	read_ok(r, 5 * T_C + 3, 10, t.data, T_SIZE);
	assert_int_equal(store_pf_pread(r, buf, 10, 17 * T_C + 5, &err), -1);
	assert_string_equal(err->msg, "object " NAME_A ": chunk 17: does not authenticate");
	assert_int_equal(err->errnum, EIO);
	cc_error_free(&err);
	store_pf_reader_free(r);
	t.m.p[HDR + 17 * T_C + 100] ^= 0x20;

	/* The short last chunk. */
	t.m.p[HDR + 300 * T_C + 99] ^= 0x01;
	expect_read_error(&t.m, t.data, T_SIZE,
			  "object " NAME_A ": chunk 300: does not authenticate");
	t.m.p[HDR + 300 * T_C + 99] ^= 0x01;
	store_pf_reader_free(open_ok(&t.m, key_a, id_a, t.mac));
}

static void test_tamper_nodes(void **state)
{
	_cleanup_tamper_ struct tamper t;
	struct cc_error *err = NULL;
	uint8_t buf[16];

	tamper_make(&t);
	/* Level-0 node 1 (chunks 128-255): chunks before it still read. */
	uint64_t n01 = spec_node_off(&t.s, 0, 1);
	t.m.p[n01 + 40] ^= 0x04;
	struct store_pf_reader *r = open_ok(&t.m, key_a, id_a, t.mac);
	read_ok(r, 0, 128 * T_C, t.data, T_SIZE);
	assert_int_equal(store_pf_pread(r, buf, 1, 128 * T_C, &err), -1);
	assert_string_equal(err->msg,
			    "object " NAME_A ": tree level 0 node 1: does not authenticate");
	assert_int_equal(err->errnum, EIO);
	cc_error_free(&err);
	store_pf_reader_free(r);
	t.m.p[n01 + 40] ^= 0x04;

	/* The last byte of the last level-0 node (45 entries). */
	uint64_t n02 = spec_node_off(&t.s, 0, 2);
	t.m.p[n02 + 45 * 32 - 1] ^= 0x80;
	expect_read_error(&t.m, t.data, T_SIZE,
			  "object " NAME_A ": tree level 0 node 2: does not authenticate");
	t.m.p[n02 + 45 * 32 - 1] ^= 0x80;

	/* The top (level 1) is verified at open. */
	uint64_t top = spec_node_off(&t.s, 1, 0);
	t.m.p[top + 95] ^= 0x01;
	expect_open_error(&t.m, key_a, id_a, NULL,
			  "object " NAME_A ": tree level 1 node 0: does not authenticate");
	t.m.p[top + 95] ^= 0x01;
	store_pf_reader_free(open_ok(&t.m, key_a, id_a, t.mac));
}

static void test_tamper_depth3_nodes(void **state)
{
	const uint64_t size = 128 * 128 * T_C + 1;
	_cleanup_free_ uint8_t *data = pattern(size, 5);
	_cleanup_mem_ struct mem m = { 0 };
	uint8_t mac[16], buf[8];
	struct cc_error *err = NULL;
	struct spec s;

	make(&m, key_a, id_a, 12, NULL, 0, data, size, mac);
	spec_layout(&s, T_C, size);
	assert_int_equal(s.depth, 3);
	assert_int_equal(m.len, s.end);
	static const struct {
		unsigned level;
		uint64_t index, chunk;
	} cases[] = { { 0, 5, 5 * 128 }, { 0, 128, 16384 }, { 1, 0, 77 }, { 1, 1, 16384 } };
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		uint64_t at = spec_node_off(&s, cases[i].level, cases[i].index) + 7;
		_cleanup_free_ char *want =
		    xasprintf("object " NAME_A ": tree level %u node %llu: does not authenticate",
			      cases[i].level, (unsigned long long)cases[i].index);
		m.p[at] ^= 0x10;
		struct store_pf_reader *r = open_ok(&m, key_a, id_a, mac);
		assert_int_equal(store_pf_pread(r, buf, 1, cases[i].chunk * T_C, &err), -1);
		assert_string_equal(err->msg, want);
		assert_int_equal(err->errnum, EIO);
		cc_error_free(&err);
		store_pf_reader_free(r);
		m.p[at] ^= 0x10;
	}
	m.p[spec_node_off(&s, 2, 0) + 3] ^= 0x01;
	expect_open_error(&m, key_a, id_a, mac,
			  "object " NAME_A ": tree level 2 node 0: does not authenticate");
	m.p[spec_node_off(&s, 2, 0) + 3] ^= 0x01;
	struct store_pf_reader *r = open_ok(&m, key_a, id_a, mac);
	read_ok(r, size - 4097, 4097, data, size);
	store_pf_reader_free(r);
}

static void swap(uint8_t *a, uint8_t *b, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		uint8_t x = a[i];
		a[i] = b[i];
		b[i] = x;
	}
}

static void test_tamper_swaps(void **state)
{
	_cleanup_tamper_ struct tamper t;

	tamper_make(&t);
	swap(t.m.p + HDR + 3 * T_C, t.m.p + HDR + 4 * T_C, T_C);
	expect_read_error(&t.m, t.data, T_SIZE,
			  "object " NAME_A ": chunk 3: does not authenticate");
	swap(t.m.p + HDR + 3 * T_C, t.m.p + HDR + 4 * T_C, T_C);

	/* Level-0 nodes 0 and 1 are full (128 entries each): same length, other place. */
	swap(t.m.p + spec_node_off(&t.s, 0, 0), t.m.p + spec_node_off(&t.s, 0, 1), T_C);
	expect_read_error(&t.m, t.data, T_SIZE,
			  "object " NAME_A ": tree level 0 node 0: does not authenticate");
	swap(t.m.p + spec_node_off(&t.s, 0, 0), t.m.p + spec_node_off(&t.s, 0, 1), T_C);
	store_pf_reader_free(open_ok(&t.m, key_a, id_a, t.mac));
}

static void test_tamper_splice(void **state)
{
	_cleanup_tamper_ struct tamper t;
	_cleanup_mem_ struct mem other = { 0 }, newer = { 0 };
	uint8_t mac_other[16], mac_newer[16];

	tamper_make(&t);
	/* Another object, same key and layout: its chunk 5 and its level-0 node 2. */
	make(&other, key_a, id_b, 12, "attrs", 5, t.data, T_SIZE, mac_other);
	memcpy(t.m.p + HDR + 5 * T_C, other.p + HDR + 5 * T_C, T_C);
	expect_read_error(&t.m, t.data, T_SIZE,
			  "object " NAME_A ": chunk 5: does not authenticate");
	tamper_free(&t);
	tamper_make(&t);
	uint64_t n02 = spec_node_off(&t.s, 0, 2);
	memcpy(t.m.p + n02, other.p + n02, 45 * 32);
	expect_read_error(&t.m, t.data, T_SIZE,
			  "object " NAME_A ": tree level 0 node 2: does not authenticate");
	tamper_free(&t);

	/* Another version of the same object (same id and key, same bytes): its chunk 9. */
	tamper_make(&t);
	make(&newer, key_a, id_a, 12, "attrs", 5, t.data, T_SIZE, mac_newer);
	memcpy(t.m.p + HDR + 9 * T_C, newer.p + HDR + 9 * T_C, T_C);
	expect_read_error(&t.m, t.data, T_SIZE,
			  "object " NAME_A ": chunk 9: does not authenticate");
}

static void test_truncate_extend(void **state)
{
	_cleanup_tamper_ struct tamper t;
	uint64_t end;

	tamper_make(&t);
	end = t.m.len;
	/* At every chunk boundary, every node's start, inside the root, one byte short, and
	 * shorter than a header. */
	for (uint64_t k = 0; k <= 301; k++) {
		uint64_t at = HDR + k * T_C;
		_cleanup_free_ char *want =
		    xasprintf("object " NAME_A ": host file is %llu bytes, the layout needs %llu",
			      (unsigned long long)at, (unsigned long long)end);
		t.m.len = at;
		expect_open_error(&t.m, key_a, id_a, NULL, want);
	}
	const uint64_t cuts[] = { spec_node_off(&t.s, 0, 1), spec_node_off(&t.s, 0, 2),
				  spec_node_off(&t.s, 1, 0), spec_node_off(&t.s, 1, 0) + 32,
				  end - 1 };
	for (size_t i = 0; i < ARRAY_SIZE(cuts); i++) {
		_cleanup_free_ char *want =
		    xasprintf("object " NAME_A ": host file is %llu bytes, the layout needs %llu",
			      (unsigned long long)cuts[i], (unsigned long long)end);
		t.m.len = cuts[i];
		expect_open_error(&t.m, key_a, id_a, NULL, want);
	}
	const uint64_t tiny[] = { 0, 1, 100, HDR - 1 };
	for (size_t i = 0; i < ARRAY_SIZE(tiny); i++) {
		_cleanup_free_ char *want = xasprintf(
		    "object " NAME_A ": host file is %llu bytes, the layout needs at least 4096",
		    (unsigned long long)tiny[i]);
		t.m.len = tiny[i];
		expect_open_error(&t.m, key_a, id_a, NULL, want);
	}
	t.m.len = end;
	/* Extended by a byte, by a chunk. */
	const uint64_t longer[] = { end + 1, end + T_C };
	for (size_t i = 0; i < ARRAY_SIZE(longer); i++) {
		_cleanup_free_ char *want =
		    xasprintf("object " NAME_A ": host file is %llu bytes, the layout needs %llu",
			      (unsigned long long)longer[i], (unsigned long long)end);
		mem_resize(&t.m, longer[i]);
		memset(t.m.p + end, 0x5a, longer[i] - end);
		expect_open_error(&t.m, key_a, id_a, NULL, want);
	}
	t.m.len = end;
	store_pf_reader_free(open_ok(&t.m, key_a, id_a, t.mac));

	/* Truncated after open: the reader notices when it gets there, at a chunk (its
	 * level-0 node, 1, read before) or at a node. */
	struct store_pf_reader *r = open_ok(&t.m, key_a, id_a, t.mac);
	struct store_pf_reader *r2 = open_ok(&t.m, key_a, id_a, t.mac);
	struct cc_error *err = NULL;
	uint8_t buf[T_C];
	read_ok(r, 249 * T_C, T_C, t.data, T_SIZE);
	t.m.len = HDR + 250 * T_C + 10;
	assert_int_equal(store_pf_pread(r, buf, T_C, 250 * T_C, &err), -1);
	expect_error(&err, EIO, "object " NAME_A ": chunk 250: host file ends early");
	assert_int_equal(store_pf_pread(r2, buf, T_C, 0, &err), -1);
	expect_error(&err, EIO, "object " NAME_A ": tree level 0 node 0: host file ends early");
	store_pf_reader_free(r);
	store_pf_reader_free(r2);
}

static void test_other_id_version_key(void **state)
{
	_cleanup_tamper_ struct tamper t;
	_cleanup_mem_ struct mem newer = { 0 };
	uint8_t mac_newer[16];

	tamper_make(&t);
	/* Copied under another id: whoever expects id_b refuses it. */
	expect_open_error(&t.m, key_a, id_b, NULL,
			  "object " NAME_B ": id is 1f2e3d4c5b6a798897a6b5c4d3e2f100, expected "
			  "7a6b5c4d3e2f10010203040506070809");
	/* A newer version of the same id, same size; the old one put back in its place. */
	make(&newer, key_a, id_a, 12, "attrs", 5, t.data, T_SIZE, mac_newer);
	assert_memory_not_equal(mac_newer, t.mac, 16);
	expect_open_error(&t.m, key_a, id_a, mac_newer,
			  "object " NAME_A ": root MAC does not match (another version of the "
			  "object)");
	store_pf_reader_free(open_ok(&newer, key_a, id_a, mac_newer));
	/* A wrong store key. */
	expect_open_error(&t.m, key_b, id_a, NULL,
			  "object " NAME_A ": wrong store key or damaged header");
	expect_open_error(&t.m, key_b, NULL, t.mac,
			  "object " NAME_A ": wrong store key or damaged header");
}

/* Flip random bits anywhere in the host file: a read returns the bytes written or fails with
 * EIO, never other bytes. */
static void test_random_flips(void **state)
{
	_cleanup_tamper_ struct tamper t;
	_cleanup_free_ uint8_t *buf = xmalloc(T_SIZE);

	tamper_make(&t);
	for (unsigned i = 0; i < 300; i++) {
		uint64_t at = rnd(t.m.len);
		uint8_t bit = (uint8_t)(1u << rnd(8));
		struct cc_error *err = NULL;
		struct store_pf_reader *r = NULL;
		struct store_pf_io io = mem_io(&t.m);
		ssize_t n = -1;

		t.m.p[at] ^= bit;
		if (store_pf_open(key_a, &io, id_a, NULL, &r, &err) == 0) {
			n = store_pf_pread(r, buf, T_SIZE, 0, &err);
			if (n >= 0) {
				assert_int_equal(n, T_SIZE);
				assert_memory_equal(buf, t.data, T_SIZE);
			}
		}
		if (n < 0) {
			assert_int_equal(err->errnum, EIO);
			assert_null(strchr(err->msg, '\n'));
			assert_true(!strncmp(err->msg, "object " NAME_A ": ", 24));
		}
		cc_error_free(&err);
		store_pf_reader_free(r);
		t.m.p[at] ^= bit;
	}
}

/* ---- authenticated headers and nodes that lie (made here with the key) ---- */

static void reseal_header(struct mem *m, const uint8_t key[32], uint8_t *body)
{
	uint8_t tag[16];
	assert_true(spec_gcm(true, key, m->p + 64, m->p, 64, body, 4004, tag));
	memcpy(m->p + 92, body, 4004);
	memcpy(m->p + 76, tag, 16);
}

static void test_forged_header(void **state)
{
	_cleanup_tamper_ struct tamper t;
	uint8_t key[32], body[4004 + 16], saved[4096];
	static const struct {
		size_t off;
		uint64_t value;
		int width;
		const char *want;
	} cases[] = {
		{ 0, (UINT64_C(1) << 48) + 1, 8, "header: size 281474976710657 is over 2^48" },
		{ 8, 3, 4, "header: tree depth 3, the size needs 2" },
		{ 8, 0xffffffff, 4, "header: tree depth 4294967295, the size needs 2" },
		{ 12 + 28, 4 * 32, 4, "header: root entry says 128 bytes, the layout 96" },
		{ 44, 3073, 4, "header: 3073 bytes of attributes, at most 3072 fit" },
		{ 44, 0xffffffff, 4, "header: 4294967295 bytes of attributes, at most 3072 fit" },
		{ 48 + 5, 1, 4, "header: padding is not zero" },
		{ 4000, 1, 4, "header: padding is not zero" },
		/* A smaller size with the same depth: then the host file is too long. */
		{ 0, 260 * T_C, 8, "host file is 1249376 bytes, the layout needs 1081440" },
	};

	tamper_make(&t);
	memcpy(saved, t.m.p, HDR);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		_cleanup_free_ char *want = xasprintf("object " NAME_A ": %s", cases[i].want);
		spec_body(&t.m, key, body);
		if (cases[i].width == 8)
			cc_put_le64(body + cases[i].off, cases[i].value);
		else
			cc_put_le32(body + cases[i].off, (uint32_t)cases[i].value);
		reseal_header(&t.m, key, body);
		expect_open_error(&t.m, key_a, id_a, NULL, want);
		memcpy(t.m.p, saved, HDR);
	}
	/* An empty object whose root entry is not empty. */
	_cleanup_mem_ struct mem empty = { 0 };
	uint8_t mac[16];
	make(&empty, key_a, id_a, 12, NULL, 0, NULL, 0, mac);
	spec_body(&empty, key, body);
	cc_put_le32(body + 12 + 28, 32);
	reseal_header(&empty, key, body);
	expect_open_error(&empty, key_a, id_a, NULL,
			  "object " NAME_A ": header: root entry says 32 bytes, the layout 0");
	spec_body(&empty, key, body);
	cc_put_le32(body + 12 + 28, 0);
	body[12 + 3] = 1;
	reseal_header(&empty, key, body);
	expect_open_error(&empty, key_a, id_a, NULL,
			  "object " NAME_A ": header: empty, but the root entry is set");
}

/* Re-encrypt the node at (level, index) whose plaintext is pt (len bytes) and put its new
 * entry at e. */
static void reseal_node(struct mem *m, const uint8_t key[32], const struct spec *s, unsigned level,
			uint64_t index, uint8_t *pt, uint32_t len, uint8_t *e)
{
	uint8_t aad[40], tag[16];
	node_aad(aad, id_a, level, index, len);
	assert_true(spec_gcm(true, key, e, aad, sizeof(aad), pt, len, tag));
	memcpy(m->p + spec_node_off(s, level, index), pt, len);
	memcpy(e + 12, tag, 16);
	cc_put_le32(e + 28, len);
}

static void test_forged_lengths(void **state)
{
	_cleanup_tamper_ struct tamper t;
	uint8_t key[32], body[4004 + 16], top[96 + 16], node[4096 + 16];

	/* Level-0 node 0 shortened to 127 entries, consistently re-sealed up to the header. */
	tamper_make(&t);
	spec_body(&t.m, key, body);
	spec_node(&t.m, key, &t.s, 1, 0, body + 12, top);
	spec_node(&t.m, key, &t.s, 0, 0, top, node);
	reseal_node(&t.m, key, &t.s, 0, 0, node, 127 * 32, top);
	reseal_node(&t.m, key, &t.s, 1, 0, top, 96, body + 12);
	reseal_header(&t.m, key, body);
	expect_read_error(&t.m, t.data, T_SIZE,
			  "object " NAME_A
			  ": tree level 0 node 0: its entry says 4064 bytes, the layout 4096");
	tamper_free(&t);

	/* Chunk 7's entry says 4095 bytes. */
	tamper_make(&t);
	spec_body(&t.m, key, body);
	spec_node(&t.m, key, &t.s, 1, 0, body + 12, top);
	spec_node(&t.m, key, &t.s, 0, 0, top, node);
	cc_put_le32(node + 7 * 32 + 28, 4095);
	reseal_node(&t.m, key, &t.s, 0, 0, node, 128 * 32, top);
	reseal_node(&t.m, key, &t.s, 1, 0, top, 96, body + 12);
	reseal_header(&t.m, key, body);
	expect_read_error(&t.m, t.data, T_SIZE,
			  "object " NAME_A ": chunk 7: its entry says 4095 bytes, the layout 4096");
}

/* ---- confidentiality ---- */

static void test_no_plaintext(void **state)
{
	static const char marker[] = "RUNE-STORE-PLAINTEXT-MARKER!";
	const size_t size = 300 * KIB + 17;
	_cleanup_free_ uint8_t *data = xmalloc(size);
	_cleanup_mem_ struct mem a = { 0 }, b = { 0 };
	uint8_t mac_a[16], mac_b[16];

	for (size_t i = 0; i < size; i++)
		data[i] = (uint8_t)marker[i % (sizeof(marker) - 1)];
	make(&a, key_a, id_a, 12, marker, sizeof(marker) - 1, data, size, mac_a);
	/* Not even 12 bytes of the marker, at any alignment. */
	for (size_t k = 0; k + 12 <= sizeof(marker) - 1; k++)
		assert_null(memmem(a.p, a.len, marker + k, 12));

	/* The same plaintext, key and id written again: nothing in common beyond the clear
	 * header fields (magic .. id). */
	make(&b, key_a, id_a, 12, marker, sizeof(marker) - 1, data, size, mac_b);
	assert_int_equal(a.len, b.len);
	assert_memory_not_equal(mac_a, mac_b, 16);
	assert_memory_equal(a.p, b.p, 32);
	size_t same = 0, blocks = 0;
	for (size_t off = 32; off + 16 <= a.len; off += 16) {
		bool zero = true;
		for (size_t i = 0; i < 16; i++)
			zero = zero && !a.p[off + i];
		if (zero)
			continue; /* the unwritten room after the last chunk and nodes */
		blocks++;
		if (!memcmp(a.p + off, b.p + off, 16))
			same++;
	}
	assert_true(blocks > size / 16);
	assert_int_equal(same, 0);
}

/* ---- the API's own errors ---- */

static void test_writer_errors(void **state)
{
	_cleanup_mem_ struct mem m = { 0 };
	struct store_pf_io io = mem_io(&m);
	struct cc_error *err = NULL;
	uint8_t mac[16], attrs[STORE_PF_ATTR_MAX + 1] = { 0 };
	struct store_pf_writer *w;

	assert_null(store_pf_writer_new(key_a, &io, id_a, 11, NULL, 0, &err));
	expect_error(&err, EINVAL, "object " NAME_A ": chunk_log2 11 is out of range (12-20)");
	assert_null(store_pf_writer_new(key_a, &io, id_a, 21, NULL, 0, &err));
	expect_error(&err, EINVAL, "object " NAME_A ": chunk_log2 21 is out of range (12-20)");
	assert_null(store_pf_writer_new(key_a, &io, id_a, 12, attrs, sizeof(attrs), &err));
	expect_error(&err, EINVAL, "object " NAME_A ": 3073 bytes of attributes, at most 3072 fit");

	/* A random id when none is given. */
	w = store_pf_writer_new(key_a, &io, NULL, 0, NULL, 0, &err);
	assert_non_null(w);
	const uint8_t *gen = store_pf_writer_id(w);
	uint8_t copy[16];
	memcpy(copy, gen, 16);
	assert_memory_not_equal(copy, id_a, 16);
	assert_int_equal(store_pf_write(w, "abc", 3, &err), 0);
	assert_int_equal(store_pf_commit(w, mac, &err), 0);
	assert_int_equal(store_pf_write(w, "d", 1, &err), -1);
	char name[17];
	cc_hex_encode(copy, 8, name);
	_cleanup_free_ char *want = xasprintf("object %s: write after commit", name);
	expect_error(&err, EINVAL, want);
	store_pf_writer_free(w);
	store_pf_reader_free(open_ok(&m, key_a, copy, mac));

	/* The host file refuses writes after 10000 bytes: the writer fails for good. */
	mem_free(&m);
	m.write_errno = ENOSPC;
	m.write_budget = 10000;
	io = mem_io(&m);
	w = store_pf_writer_new(key_a, &io, id_a, 12, NULL, 0, &err);
	assert_non_null(w);
	_cleanup_free_ uint8_t *data = pattern(5 * 4096, 1);
	assert_int_equal(store_pf_write(w, data, 5 * 4096, &err), -1);
	expect_error(&err, ENOSPC, "object " NAME_A ": write chunk 2: No space left on device");
	assert_int_equal(store_pf_write(w, data, 1, &err), -1);
	expect_error(&err, ENOSPC, "object " NAME_A ": write chunk 2: No space left on device");
	assert_int_equal(store_pf_commit(w, mac, &err), -1);
	expect_error(&err, ENOSPC, "object " NAME_A ": write chunk 2: No space left on device");
	store_pf_writer_free(w);

	/* The tree and the header fail the same way at commit. */
	mem_free(&m);
	m.write_errno = EIO;
	m.write_budget = 4096 + 100;
	io = mem_io(&m);
	w = store_pf_writer_new(key_a, &io, id_a, 12, NULL, 0, &err);
	assert_int_equal(store_pf_write(w, data, 4096 + 100, &err), 0);
	assert_int_equal(store_pf_commit(w, mac, &err), -1);
	expect_error(&err, EIO, "object " NAME_A ": write tree level 0 node 0: Input/output error");
	store_pf_writer_free(w);
	mem_free(&m);
	m.write_errno = EIO;
	m.write_budget = 4096 + 100 + 64;
	io = mem_io(&m);
	w = store_pf_writer_new(key_a, &io, id_a, 12, NULL, 0, &err);
	assert_int_equal(store_pf_write(w, data, 4096 + 100, &err), 0);
	assert_int_equal(store_pf_commit(w, mac, &err), -1);
	expect_error(&err, EIO, "object " NAME_A ": write header: Input/output error");
	store_pf_writer_free(w);
	/* No header was written: the half-made object does not open. */
	m.write_errno = 0;
	expect_open_error(&m, key_a, id_a, NULL,
			  "object " NAME_A ": not a protected object (bad magic)");
	store_pf_writer_free(NULL);
}

static void test_reader_errors(void **state)
{
	_cleanup_tamper_ struct tamper t;
	struct store_pf_io io;
	struct cc_error *err = NULL;
	struct store_pf_reader *r = NULL;
	uint8_t buf[8];

	tamper_make(&t);
	io = mem_io(&t.m);
	io.size = NULL;
	assert_int_equal(store_pf_open(key_a, &io, id_a, NULL, &r, &err), -1);
	expect_error(&err, EINVAL, "object " NAME_A ": open: missing key, io callbacks or result");
	assert_null(r);

	/* The host file cannot be read at open, or later. */
	t.m.read_errno = EACCES;
	io = mem_io(&t.m);
	assert_int_equal(store_pf_open(key_a, &io, NULL, NULL, &r, &err), -1);
	expect_error(&err, EACCES, "object (unknown id): read header: Permission denied");
	t.m.read_errno = 0;
	r = open_ok(&t.m, key_a, id_a, t.mac);
	t.m.read_errno = EIO; /* the chunk's entry is read first: its level-0 node */
	assert_int_equal(store_pf_pread(r, buf, 8, 5 * T_C, &err), -1);
	expect_error(&err, EIO, "object " NAME_A ": read tree level 0 node 0: Input/output error");
	t.m.read_errno = 0;
	/* Failed for good, even now that the host file reads again. */
	assert_int_equal(store_pf_pread(r, buf, 8, 0, &err), -1);
	expect_error(&err, EIO, "object " NAME_A ": read tree level 0 node 0: Input/output error");
	store_pf_reader_free(r);

	/* The caller's own mistake does not fail the reader. */
	r = open_ok(&t.m, key_a, id_a, t.mac);
	assert_int_equal(store_pf_pread(r, NULL, 8, 0, &err), -1);
	expect_error(&err, EINVAL, "object " NAME_A ": read: no buffer");
	read_ok(r, 0, 8, t.data, T_SIZE);
	store_pf_reader_free(r);
	store_pf_reader_free(NULL);
}

/* ---- a real file ---- */

static void test_real_file(void **state)
{
	const size_t size = MIB + 123;
	_cleanup_free_ uint8_t *data = pattern(size, 9);
	_cleanup_free_ char *path = cc_path_join(root, "object");
	_cleanup_close_ int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	struct store_pf_io io = store_pf_io_fd(fd);
	struct cc_error *err = NULL;
	struct store_pf_writer *w;
	struct store_pf_reader *r = NULL;
	uint8_t mac[16], byte;
	struct spec s;
	struct stat st;

	assert_true(fd >= 0);
	w = store_pf_writer_new(key_a, &io, id_a, 0, "x", 1, &err);
	assert_non_null(w);
	for (size_t off = 0; off < size; off += 100000)
		assert_int_equal(
		    store_pf_write(w, data + off, size - off < 100000 ? size - off : 100000, &err),
		    0);
	assert_int_equal(store_pf_commit(w, mac, &err), 0);
	store_pf_writer_free(w);
	assert_int_equal(fstat(fd, &st), 0);
	spec_layout(&s, 65536, size);
	assert_int_equal(st.st_size, s.end);

	_cleanup_close_ int ro = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(ro >= 0);
	io = store_pf_io_fd(ro);
	assert_int_equal(store_pf_open(key_a, &io, id_a, mac, &r, &err), 0);
	check_content(r, data, size, 16);
	store_pf_reader_free(r);

	/* A byte of chunk 3 changed on disk. */
	assert_int_equal(pread(fd, &byte, 1, HDR + 3 * 65536 + 5), 1);
	byte ^= 0x40;
	assert_int_equal(pwrite(fd, &byte, 1, HDR + 3 * 65536 + 5), 1);
	assert_int_equal(store_pf_open(key_a, &io, id_a, mac, &r, &err), 0);
	_cleanup_free_ uint8_t *buf = xmalloc(size);
	assert_int_equal(store_pf_pread(r, buf, size, 0, &err), -1);
	expect_error(&err, EIO, "object " NAME_A ": chunk 3: does not authenticate");
	store_pf_reader_free(r);

	/* A descriptor that is not open. */
	io = store_pf_io_fd(-1);
	assert_int_equal(store_pf_open(key_a, &io, id_a, NULL, &r, &err), -1);
	expect_error(&err, EBADF, "object " NAME_A ": size of the host file: Bad file descriptor");
}

static int setup(void **state)
{
	key_a = store_pf_key_new(key_a_bytes);
	key_b = store_pf_key_new(key_b_bytes);
	return tmproot_setup(state);
}

static int teardown(void **state)
{
	store_pf_key_free(key_a);
	store_pf_key_free(key_b);
	store_pf_key_free(NULL);
	return tmproot_teardown(state);
}

/* ---- holes ---- */

static int64_t seek_ok(struct store_pf_reader *r, uint64_t off, int whence)
{
	struct cc_error *err = NULL;
	int64_t at = store_pf_seek(r, off, whence, &err);
	if (at < 0 && err)
		fail_msg("%s", err->msg);
	return at;
}

/* Zeros written as zeros: whole chunks of them are holes, not on the host; partial ones and
 * chunks mixing data and zeros are sealed chunks. Reads give the zeros, seeks find the holes
 * (whole 4 KiB chunks here) and the data. */
static void test_holes(void **state)
{
	_cleanup_mem_ struct mem m = { 0 };
	struct store_pf_io io = mem_io(&m);
	struct cc_error *err = NULL;
	const size_t size = 5000 + 12388 + 3000 + 8192;
	_cleanup_free_ uint8_t *want = xcalloc(1, size);
	uint8_t mac[16];

	memset(want, 'A', 5000);
	memset(want + 17388, 'B', 3000);
	struct store_pf_writer *w = store_pf_writer_new(key_a, &io, id_a, 12, NULL, 0, &err);
	assert_non_null(w);
	assert_int_equal(store_pf_write(w, want, 5000, &err), 0);
	assert_int_equal(store_pf_write_zeros(w, 12388, &err), 0);
	assert_int_equal(store_pf_write(w, want + 17388, 3000, &err), 0);
	assert_int_equal(store_pf_write_zeros(w, 8192, &err), 0);
	assert_int_equal(store_pf_commit(w, mac, &err), 0);
	store_pf_writer_free(w);
	/* chunks 2, 3 and 5 are holes: nothing of them was written on the host */
	for (uint64_t c = 0; c < 7; c++) {
		bool hole = c == 2 || c == 3 || c == 5, zero = true;
		for (size_t b = 0; b < 4096 && HDR + c * 4096 + b < m.len; b++)
			zero = zero && !m.p[HDR + c * 4096 + b];
		assert_true(zero == hole || !hole);
		if (hole)
			assert_true(zero);
	}
	struct store_pf_reader *r = open_ok(&m, key_a, id_a, mac);
	check_content(r, want, size, 13);
	assert_int_equal(seek_ok(r, 0, SEEK_DATA), 0);
	assert_int_equal(seek_ok(r, 0, SEEK_HOLE), 8192);
	assert_int_equal(seek_ok(r, 5000, SEEK_HOLE), 8192);
	assert_int_equal(seek_ok(r, 8192, SEEK_DATA), 16384);
	assert_int_equal(seek_ok(r, 9000, SEEK_HOLE), 9000);
	assert_int_equal(seek_ok(r, 16384, SEEK_HOLE), 20480);
	assert_int_equal(seek_ok(r, 20480, SEEK_DATA), 24576);
	assert_int_equal(seek_ok(r, 24576, SEEK_HOLE), (int64_t)size);
	assert_int_equal(seek_ok(r, size - 1, SEEK_DATA), (int64_t)size - 1);
	errno = 0;
	assert_int_equal(store_pf_seek(r, size, SEEK_DATA, &err), -1);
	assert_int_equal(errno, ENXIO);
	assert_null(err);
	assert_int_equal(store_pf_seek(r, 0, SEEK_SET, &err), -1);
	expect_error(&err, EINVAL, "object " NAME_A ": seek: SEEK_DATA or SEEK_HOLE expected");
	store_pf_reader_free(r);

	/* A hole is its parent's entry of zeros, authenticated with it: zeroing the entries of
	 * the tree (here the root, after the 7 chunks) on the host does not make holes, it fails.
	 */
	memset(m.p + HDR + 7 * 4096, 0, 32);
	r = NULL;
	assert_int_equal(store_pf_open(key_a, &io, id_a, mac, &r, &err), -1);
	expect_error(&err, EIO, "object " NAME_A ": tree level 0 node 0: does not authenticate");
	assert_null(r);
}

/* A file of 1 TiB with 14 bytes of data in a sparse host file: the tree keeps a node for each
 * part that has data and holes for the rest. */
static void test_terabyte_of_holes(void **state)
{
	const uint64_t tib = UINT64_C(1) << 40;
	_cleanup_free_ char *path = cc_path_join(root, "sparse");
	_cleanup_close_ int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	struct store_pf_io io = store_pf_io_fd(fd);
	struct cc_error *err = NULL;
	struct store_pf_reader *r = NULL;
	uint8_t mac[16], buf[16];
	struct stat st;

	assert_true(fd >= 0);
	struct store_pf_writer *w = store_pf_writer_new(key_a, &io, id_a, 0, NULL, 0, &err);
	assert_non_null(w);
	assert_int_equal(store_pf_write(w, "HEAD", 4, &err), 0);
	assert_int_equal(store_pf_write_zeros(w, tib / 2 + 12345 - 4, &err), 0);
	assert_int_equal(store_pf_write(w, "MIDDLE", 6, &err), 0);
	assert_int_equal(store_pf_write_zeros(w, tib - 4 - (tib / 2 + 12345 + 6), &err), 0);
	assert_int_equal(store_pf_write(w, "TAIL", 4, &err), 0);
	assert_int_equal(store_pf_commit(w, mac, &err), 0);
	store_pf_writer_free(w);
	assert_int_equal(fstat(fd, &st), 0);
	assert_true((uint64_t)st.st_size > tib);
	assert_true(st.st_blocks * 512 <= (2 << 20));

	assert_int_equal(store_pf_open(key_a, &io, id_a, mac, &r, &err), 0);
	assert_true(store_pf_size(r) == tib);
	assert_int_equal(store_pf_pread(r, buf, 4, 0, &err), 4);
	assert_memory_equal(buf, "HEAD", 4);
	assert_int_equal(store_pf_pread(r, buf, 6, tib / 2 + 12345, &err), 6);
	assert_memory_equal(buf, "MIDDLE", 6);
	assert_int_equal(store_pf_pread(r, buf, 8, tib - 8, &err), 8);
	assert_memory_equal(buf, "\0\0\0\0TAIL", 8);
	assert_int_equal(store_pf_pread(r, buf, 16, tib / 4, &err), 16);
	for (int i = 0; i < 16; i++)
		assert_int_equal(buf[i], 0);
	assert_int_equal(seek_ok(r, 0, SEEK_HOLE), 65536);
	assert_true(seek_ok(r, 65536, SEEK_DATA) ==
		    (int64_t)((tib / 2 + 12345) & ~UINT64_C(65535)));
	assert_true(seek_ok(r, tib / 2 + 12345, SEEK_HOLE) ==
		    (int64_t)((tib / 2 + 12345 + 65536) & ~UINT64_C(65535)));
	assert_true(seek_ok(r, tib / 2 + 65536 * 2, SEEK_DATA) == (int64_t)(tib - 65536));
	store_pf_reader_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_small_chunks),
		cmocka_unit_test(test_roundtrip_depth3),
		cmocka_unit_test(test_roundtrip_default_chunks),
		cmocka_unit_test(test_roundtrip_big_chunks),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_tamper_header_fields),
		cmocka_unit_test(test_tamper_chunk),
		cmocka_unit_test(test_tamper_nodes),
		cmocka_unit_test(test_tamper_depth3_nodes),
		cmocka_unit_test(test_tamper_swaps),
		cmocka_unit_test(test_tamper_splice),
		cmocka_unit_test(test_truncate_extend),
		cmocka_unit_test(test_other_id_version_key),
		cmocka_unit_test(test_random_flips),
		cmocka_unit_test(test_forged_header),
		cmocka_unit_test(test_forged_lengths),
		cmocka_unit_test(test_no_plaintext),
		cmocka_unit_test(test_writer_errors),
		cmocka_unit_test(test_reader_errors),
		cmocka_unit_test(test_real_file),
		cmocka_unit_test(test_holes),
		cmocka_unit_test(test_terabyte_of_holes),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
