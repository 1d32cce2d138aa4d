// SPDX-License-Identifier: Apache-2.0
/*
 * Host files are untrusted (docs/store.md). Two things per input, with a fixed test key:
 *  1. the bytes as a host file: open them as a protected object and read all of it, in whole
 *     chunks and in pieces; a failure must be one line naming the object, with EIO;
 *  2. the bytes as plaintext: write them as an object (chunk size, repetitions and attributes
 *     taken from the first bytes, so that trees of two levels come up), read it back, then
 *     flip one bit of the host file (where, from the input) and read again: the bytes that
 *     were written, or EIO, never other bytes.
 * Seeds in corpus/store-pf are objects written with this key and id (by a one-off program
 * calling the writer): with 4 KiB chunks an empty one, one byte, 4095 bytes with 3072 bytes of
 * attributes, three chunks and 5 bytes; with 8 KiB chunks one chunk and a byte. Mutations of
 * their clear header fields and lengths reach every check of the open.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "store/pf.h"
#include "util/cleanup.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The test key of the seeds (public by design). */
static const uint8_t fuzz_key[STORE_PF_KEY_LEN] = {
	0x66, 0x75, 0x7a, 0x7a, 0x2d, 0x73, 0x74, 0x6f, 0x72, 0x65, 0x2d,
	0x70, 0x66, 0x2d, 0x6b, 0x65, 0x79, 0x2d, 0x6e, 0x6f, 0x74, 0x2d,
	0x61, 0x2d, 0x73, 0x65, 0x63, 0x72, 0x65, 0x74, 0x21, 0x00,
};
static const uint8_t fuzz_id[STORE_PF_ID_LEN] = "fuzz-object-id!";

static struct store_pf_key *key;

/* A host file in memory: fixed bytes to read, or a growing buffer to write. */
struct mem {
	uint8_t *p;
	size_t len, cap;
};

static ssize_t mem_pread(void *ctx, void *buf, size_t len, uint64_t off)
{
	struct mem *m = ctx;
	size_t n;
	if (off >= m->len)
		return 0;
	n = len < m->len - off ? len : (size_t)(m->len - off);
	memcpy(buf, m->p + off, n);
	return (ssize_t)n;
}

static ssize_t mem_pwrite(void *ctx, const void *buf, size_t len, uint64_t off)
{
	struct mem *m = ctx;
	if (off + len > m->cap) {
		size_t cap = (size_t)(off + len) * 2;
		m->p = xrealloc(m->p, cap);
		memset(m->p + m->cap, 0, cap - m->cap);
		m->cap = cap;
	}
	memcpy(m->p + off, buf, len);
	if (off + len > m->len)
		m->len = (size_t)(off + len);
	return (ssize_t)len;
}

static int mem_size(void *ctx, uint64_t *size)
{
	*size = ((struct mem *)ctx)->len;
	return 0;
}

/* A failure: one line, naming the object, EIO (the host file is the only thing wrong). */
static void must_say_why(struct cc_error **err)
{
	if (!*err || !(*err)->msg || strncmp((*err)->msg, "object ", 7) ||
	    strchr((*err)->msg, '\n') || (*err)->errnum != EIO)
		__builtin_trap();
	cc_error_free(err);
}

/* Read the whole object with reads of `step` bytes; the bytes are compared with want when
 * given. Returns false on a (checked) failure. */
static bool read_all(struct store_pf_reader *r, size_t step, uint8_t *buf, const uint8_t *want)
{
	struct cc_error *err = NULL;
	uint64_t size = store_pf_size(r), off = 0;

	while (off < size) {
		ssize_t n = store_pf_pread(r, buf, step, off, &err);
		if (n < 0) {
			must_say_why(&err);
			return false;
		}
		if (n == 0 || (uint64_t)n > size - off || ((size_t)n < step && off + n != size))
			__builtin_trap();
		if (want && memcmp(buf, want + off, (size_t)n))
			__builtin_trap();
		off += (uint64_t)n;
	}
	if (store_pf_pread(r, buf, step, size, &err) != 0)
		__builtin_trap();
	return true;
}

static void as_host_file(const uint8_t *data, size_t size)
{
	struct mem m = { (uint8_t *)data, size, size };
	struct store_pf_io io = { mem_pread, NULL, mem_size, &m };
	struct store_pf_reader *r = NULL;
	struct cc_error *err = NULL;
	size_t attr_len;

	if (store_pf_open(key, &io, NULL, NULL, &r, &err) < 0) {
		must_say_why(&err);
		return;
	}
	/* What the header claims was bounded by the host file and the format. */
	store_pf_attributes(r, &attr_len);
	if (store_pf_size(r) > size || attr_len > STORE_PF_ATTR_MAX)
		__builtin_trap();
	_cleanup_free_ uint8_t *buf = xmalloc(1 << 16);
	if (read_all(r, 1 << 16, buf, NULL))
		read_all(r, 1000, buf, NULL);
	store_pf_reader_free(r);
}

static uint64_t mix(const uint8_t *data, size_t size)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < size; i++)
		h = (h ^ data[i]) * 0x100000001b3ull;
	return h;
}

static void as_plaintext(const uint8_t *data, size_t size)
{
	struct mem m = { 0 };
	struct store_pf_io io = { mem_pread, mem_pwrite, mem_size, &m };
	struct cc_error *err = NULL;
	struct store_pf_reader *r = NULL;
	uint8_t mac[STORE_PF_MAC_LEN];
	unsigned chunk_log2 = 12 + (size ? data[0] % 3 : 0);
	size_t reps = size > 1 ? 1 + data[1] % 64 : 1;
	size_t attr_len = size > 2 ? data[2] * 12u : 0;
	uint64_t h = mix(data, size);

	/* Up to 1 MiB of the input repeated: over 128 chunks of 4 KiB need a second level. */
	if (size * reps > (1 << 20))
		reps = (1 << 20) / size > 1 ? (1 << 20) / size : 1;
	_cleanup_free_ uint8_t *plain = xmalloc(size * reps + 1);
	_cleanup_free_ uint8_t *attrs = xzalloc(attr_len + 1);
	for (size_t i = 0; i < reps; i++)
		memcpy(plain + i * size, data, size);
	memcpy(attrs, data, attr_len < size ? attr_len : size);

	struct store_pf_writer *w =
	    store_pf_writer_new(key, &io, fuzz_id, chunk_log2, attrs, attr_len, &err);
	if (!w)
		__builtin_trap();
	/* Pieces of changing sizes, from the input's hash; some of them holes (zeros). */
	for (size_t off = 0, total = size * reps; off < total;) {
		size_t n = 1 + (size_t)((h >> (off % 32)) % 20000);
		n = n < total - off ? n : total - off;
		if ((h >> (off % 61)) & (h >> 7) & 1) {
			memset(plain + off, 0, n);
			if (store_pf_write_zeros(w, n, &err) < 0)
				__builtin_trap();
		} else if (store_pf_write(w, plain + off, n, &err) < 0) {
			__builtin_trap();
		}
		off += n;
	}
	if (store_pf_commit(w, mac, &err) < 0)
		__builtin_trap();
	store_pf_writer_free(w);

	_cleanup_free_ uint8_t *buf = xmalloc(1 << 16);
	if (store_pf_open(key, &io, fuzz_id, mac, &r, &err) < 0 || store_pf_size(r) != size * reps)
		__builtin_trap();
	if (!read_all(r, 1 << 16, buf, plain) || !read_all(r, 777, buf, plain))
		__builtin_trap();
	/* What SEEK_DATA and SEEK_HOLE give: holes are zeros, and the file alternates. */
	for (uint64_t off = 0, total = size * reps; off < total;) {
		int64_t d = store_pf_seek(r, off, SEEK_DATA, &err), e;
		if (err)
			__builtin_trap();
		uint64_t data = d < 0 ? total : (uint64_t)d;
		for (uint64_t i = off; i < data; i++)
			if (plain[i])
				__builtin_trap();
		if (d < 0)
			break;
		e = store_pf_seek(r, data, SEEK_HOLE, &err);
		if (e <= d || err)
			__builtin_trap();
		off = (uint64_t)e;
	}
	store_pf_reader_free(r);

	/* One bit flipped anywhere: the same bytes, or EIO. */
	m.p[h % m.len] ^= (uint8_t)(1u << ((h >> 40) % 8));
	if (store_pf_open(key, &io, fuzz_id, NULL, &r, &err) < 0) {
		must_say_why(&err);
	} else {
		if (read_all(r, 1 << 16, buf, plain))
			read_all(r, 4097, buf, plain);
		store_pf_reader_free(r);
	}
	free(m.p);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	key = store_pf_key_new(fuzz_key);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	as_host_file(data, size);
	as_plaintext(data, size);
	return 0;
}
