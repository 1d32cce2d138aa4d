/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Protected objects (docs/store.md): one host file holding one byte string, AES-256-GCM
 * encrypted in chunks under a per-object key derived from the store key, with a tree of
 * (nonce, tag, length) entries whose root sits in an encrypted header. A reader returns the
 * bytes that were written or fails with EIO; it never returns other bytes.
 *
 * The core does no I/O of its own: the caller passes callbacks on a host file (struct
 * store_pf_io), so the store, the FUSE view, host tools and fuzzers share it.
 *
 * Errors are one line naming the object by the first 8 bytes of its id in hex, the id the
 * caller expects when it gives one ("object 1f2e3d4c5b6a7988: chunk 17: does not
 * authenticate"). err->errnum is EIO for everything the host file got wrong (damage,
 * tampering, a wrong key, another id or version, a bad length), the callback's errno when the
 * host file could not be read or written, and EINVAL or EFBIG for the caller's own mistakes.
 *
 * Thread safety: a writer or a reader is used by one thread at a time (the caller serialises
 * its calls); distinct readers of the same host file may run in parallel threads. A key may be
 * shared by threads: it is only read.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "util/error.h"

#define STORE_PF_KEY_LEN 32
#define STORE_PF_ID_LEN 16
#define STORE_PF_MAC_LEN 16
#define STORE_PF_HEADER_SIZE 4096
#define STORE_PF_ATTR_MAX 3072
#define STORE_PF_CHUNK_LOG2_MIN 12
#define STORE_PF_CHUNK_LOG2_MAX 20
#define STORE_PF_CHUNK_LOG2_DEFAULT 16
#define STORE_PF_SIZE_MAX (UINT64_C(1) << 48)

/*
 * The host file. pread and pwrite are positional and may transfer less than asked (the core
 * loops; pread returning 0 means end of file); they return -1 with errno on failure. size
 * stores the host file's length (the reader compares it with the layout). The writer needs
 * pwrite, the reader pread and size. ctx is the callbacks' own and must outlive the reader or
 * writer; the struct itself is copied.
 */
struct store_pf_io {
	ssize_t (*pread)(void *ctx, void *buf, size_t len, uint64_t off);
	ssize_t (*pwrite)(void *ctx, const void *buf, size_t len, uint64_t off);
	int (*size)(void *ctx, uint64_t *size);
	void *ctx;
};

/* Callbacks on an open file descriptor (pread/pwrite/fstat, EINTR retried). The fd stays the
 * caller's: it is neither duplicated nor closed. */
struct store_pf_io store_pf_io_fd(int fd);

/* The 32-byte store key. The caller's bytes are copied (the caller wipes its own copy).
 * Readers and writers derive their object keys when they are made and keep no reference to
 * it: the key may be freed then. */
struct store_pf_key;
struct store_pf_key *store_pf_key_new(const uint8_t bytes[STORE_PF_KEY_LEN]);
/* Wipes and frees; NULL is fine. */
void store_pf_key_free(struct store_pf_key *key);

/* ---- writing ---- */

struct store_pf_writer;

/*
 * A writer of one new object into an empty host file. id: 16 bytes, or NULL for a random one
 * (store_pf_writer_id tells it); chunk_log2: 12 to 20, or 0 for the default (16, 64 KiB
 * chunks); attrs: attr_len bytes (at most STORE_PF_ATTR_MAX) kept, encrypted, in the header.
 * The writer holds one chunk of plaintext and 32 bytes per chunk written until commit (none
 * for a run of holes).
 */
CC_MUST_CHECK struct store_pf_writer *
store_pf_writer_new(const struct store_pf_key *key, const struct store_pf_io *io, const uint8_t *id,
		    unsigned chunk_log2, const void *attrs, size_t attr_len, struct cc_error **err);
/* Append len bytes (any size, sequentially). Every chunk that fills is encrypted and written
 * at once. After a failure the writer stays failed. */
CC_MUST_CHECK int store_pf_write(struct store_pf_writer *w, const void *buf, size_t len,
				 struct cc_error **err);
/* Append len zero bytes (a sparse file's hole): every whole chunk of them is a hole (an
 * entry of zeros, nothing written; docs/store.md), at any size up to the format's. */
CC_MUST_CHECK int store_pf_write_zeros(struct store_pf_writer *w, uint64_t len,
				       struct cc_error **err);
/* Write the last chunk, the tree and the header (last), and store the object's root MAC (the
 * header tag) in root_mac. The caller then makes the host file durable and visible (fsync,
 * rename). Nothing can be written after. */
CC_MUST_CHECK int store_pf_commit(struct store_pf_writer *w, uint8_t root_mac[STORE_PF_MAC_LEN],
				  struct cc_error **err);
const uint8_t *store_pf_writer_id(const struct store_pf_writer *w);
/* Wipes the buffered plaintext and the key schedule and frees; NULL is fine. An uncommitted
 * object's host file is left as it is (without a header): the caller removes it. */
void store_pf_writer_free(struct store_pf_writer *w);

/* ---- reading ---- */

struct store_pf_reader;

/*
 * Open the object in io: check the header, derive the key, authenticate the header and the
 * root of the tree, check that the host file has exactly the layout's length, and, when given
 * (non-NULL), that the object has id expected_id and root MAC expected_root_mac. On success
 * *out is the caller's (store_pf_reader_free).
 */
CC_MUST_CHECK int store_pf_open(const struct store_pf_key *key, const struct store_pf_io *io,
				const uint8_t *expected_id, const uint8_t *expected_root_mac,
				struct store_pf_reader **out, struct cc_error **err);
/* The plaintext size, the attributes (*len bytes, valid until free), the id, the root MAC. */
uint64_t store_pf_size(const struct store_pf_reader *r);
const void *store_pf_attributes(const struct store_pf_reader *r, size_t *len);
const uint8_t *store_pf_id(const struct store_pf_reader *r);
const uint8_t *store_pf_root_mac(const struct store_pf_reader *r);
/*
 * Read up to len bytes at off into buf. Returns the number of bytes read, less than len only
 * at the end of the object (0 at or past it), or -1: then nothing in buf is to be used (what
 * did not authenticate is wiped) and the reader is failed for good (every later call fails
 * with the same error). Every chunk is authenticated before its bytes are returned. Whole
 * chunks are decrypted straight into buf; a one-chunk cache serves partial ones.
 */
CC_MUST_CHECK ssize_t store_pf_pread(struct store_pf_reader *r, void *buf, size_t len, uint64_t off,
				     struct cc_error **err);
/* Where the next data (SEEK_DATA) or hole (SEEK_HOLE) at or after off starts, as lseek(2)
 * says it for a sparse file: holes are the object's holes (whole chunks; every other byte is
 * data), and the end is a hole. -1 with ENXIO when off is at or past the end (errno set, no
 * error made: as lseek), -1 with *err on damage (the reader is then failed). */
CC_MUST_CHECK int64_t store_pf_seek(struct store_pf_reader *r, uint64_t off, int whence,
				    struct cc_error **err);
/* Wipes the cached plaintext and the key schedule and frees; NULL is fine. */
void store_pf_reader_free(struct store_pf_reader *r);
