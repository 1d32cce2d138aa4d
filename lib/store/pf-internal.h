/* SPDX-License-Identifier: Apache-2.0 */
/* What the protected-object writer and reader share: the layout arithmetic, the object's key
 * and cipher context, the AADs, host file I/O and the one-line errors (docs/store.md). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <openssl/evp.h>
#include "store/pf.h"
#include "util/le.h"

#define PF_MAGIC "RUNEPF01"
#define PF_MAGIC_LEN 8
#define PF_VERSION 1
#define PF_SALT_LEN 32
#define PF_NONCE_LEN 12
#define PF_TAG_LEN 16
#define PF_ENTRY_LEN 32 /* nonce 12 || tag 16 || u32 length */

/* Header offsets. */
#define PF_H_VERSION 8
#define PF_H_CHUNK_LOG2 10
#define PF_H_FLAGS 11
#define PF_H_RESERVED 12
#define PF_H_ID 16
#define PF_H_SALT 32
#define PF_H_NONCE 64
#define PF_H_TAG 76
#define PF_H_BODY 92
#define PF_H_AAD_LEN 64 /* the header's clear part before the nonce */
#define PF_BODY_LEN (STORE_PF_HEADER_SIZE - PF_H_BODY)

/* Body offsets: u64 size || u32 depth || root entry || u32 attribute length || attributes. */
#define PF_B_SIZE 0
#define PF_B_DEPTH 8
#define PF_B_ROOT 12
#define PF_B_ATTR_LEN 44
#define PF_B_ATTRS 48

/* 2^48 bytes in chunks of at least 2^12 is at most 2^36 chunks; with at least 2^7 entries a
 * node that is 6 levels. */
#define PF_DEPTH_MAX 8

#define PF_AAD_CHUNK_LEN 36 /* "RPFD" || id || u64 index || u64 length */
#define PF_AAD_NODE_LEN 40  /* "RPFN" || id || u32 level || u64 index || u64 length */

struct store_pf_key {
	uint8_t bytes[STORE_PF_KEY_LEN];
};

/* Where everything of an object of `size` bytes in chunks of 2^chunk_log2 lies. */
struct pf_layout {
	unsigned chunk_log2;
	uint32_t chunk;	 /* C */
	uint32_t fanout; /* F = C / 32 entries per node */
	uint64_t size;
	uint64_t chunks;		    /* n */
	uint32_t depth;			    /* tree levels, 0 for an empty object */
	uint64_t nodes[PF_DEPTH_MAX];	    /* nodes on each level */
	uint64_t level_first[PF_DEPTH_MAX]; /* nodes on the levels below */
	uint64_t tree_off;
	uint64_t end; /* the host file's length: the root node ends it */
};

/* chunk_log2 in range and size <= STORE_PF_SIZE_MAX, both checked by the caller. */
void pf_layout_init(struct pf_layout *l, unsigned chunk_log2, uint64_t size);
uint32_t pf_chunk_len(const struct pf_layout *l, uint64_t i);
uint64_t pf_chunk_off(const struct pf_layout *l, uint64_t i);
/* Entries in node (level, index), and where it lies. */
uint32_t pf_node_entries(const struct pf_layout *l, uint32_t level, uint64_t index);
uint64_t pf_node_off(const struct pf_layout *l, uint32_t level, uint64_t index);

/* One object's identity, AES-256-GCM context under its derived key, host file, and the error
 * that failed it for good (msg NULL while it has not failed). */
struct pf_object {
	uint8_t id[STORE_PF_ID_LEN];
	char name[2 * 8 + 1]; /* the first 8 bytes of the id in hex */
	EVP_CIPHER_CTX *gcm;
	struct store_pf_io io;
	int fail_errnum;
	char *fail_msg;
};

/* Derive the object key (HKDF-SHA-256, docs/store.md) and key a GCM context for encryption
 * or decryption with it. The derived key is wiped before returning. */
CC_MUST_CHECK int pf_object_init(struct pf_object *o, const struct store_pf_key *key,
				 const struct store_pf_io *io, const uint8_t id[STORE_PF_ID_LEN],
				 const uint8_t salt[PF_SALT_LEN], bool encrypt,
				 struct cc_error **err);
void pf_object_clear(struct pf_object *o);
void pf_object_name(char name[2 * 8 + 1], const uint8_t id[STORE_PF_ID_LEN]);

/* AES-256-GCM with the object's context: seal writes len bytes of ciphertext to out and the
 * tag; open decrypts buf in place and authenticates it with tag (false: it does not, and buf
 * holds garbage for the caller to wipe). */
bool pf_seal(struct pf_object *o, const uint8_t nonce[PF_NONCE_LEN], const uint8_t *aad,
	     size_t aad_len, const void *in, void *out, size_t len, uint8_t tag[PF_TAG_LEN]);
bool pf_open(struct pf_object *o, const uint8_t nonce[PF_NONCE_LEN], const uint8_t *aad,
	     size_t aad_len, void *buf, size_t len, const uint8_t tag[PF_TAG_LEN]);
void pf_chunk_aad(uint8_t aad[PF_AAD_CHUNK_LEN], const uint8_t id[STORE_PF_ID_LEN], uint64_t index,
		  uint64_t len);
void pf_node_aad(uint8_t aad[PF_AAD_NODE_LEN], const uint8_t id[STORE_PF_ID_LEN], uint32_t level,
		 uint64_t index, uint64_t len);

/* An entry: nonce 12 || tag 16 || u32 length. */
void pf_entry_put(uint8_t e[PF_ENTRY_LEN], const uint8_t nonce[PF_NONCE_LEN],
		  const uint8_t tag[PF_TAG_LEN], uint32_t len);
uint32_t pf_entry_len(const uint8_t e[PF_ENTRY_LEN]);

/* The whole of len bytes at off, looping over short transfers: bytes read (short only at the
 * host file's end) or -1 with errno; 0 or -1 with errno. */
ssize_t pf_read_full(struct pf_object *o, void *buf, size_t len, uint64_t off);
int pf_write_full(struct pf_object *o, const void *buf, size_t len, uint64_t off);

/* "object NAME: MESSAGE" with err->errnum = errnum and no strerror text: integrity failures
 * (EIO) and the caller's mistakes. Returns -1. */
CC_MUST_CHECK int pf_error(struct cc_error **err, const char *name, int errnum, const char *fmt,
			   ...) __attribute__((format(printf, 4, 5)));
/* "object NAME: WHAT: strerror(errnum)" for a failed callback (errnum 0 becomes EIO). */
CC_MUST_CHECK int pf_error_sys(struct cc_error **err, const char *name, int errnum,
			       const char *what, ...) __attribute__((format(printf, 4, 5)));

/* Remember *local as the error that failed o for good and hand it to err. Returns -1. */
CC_MUST_CHECK int pf_fail(struct pf_object *o, struct cc_error **local, struct cc_error **err);
/* When o has failed: the same error again into err, and true. */
CC_MUST_CHECK bool pf_failed(const struct pf_object *o, struct cc_error **err);
