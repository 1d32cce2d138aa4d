/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The store on the host (docs/store.md, "The store on the host"): a root directory holding
 * protected objects under objects/<2 hex>/<30 hex>, objects being written under tmp/, and the
 * sealed index pointer <root>/index naming the index object, which lists the layers
 * (diff_id, layer record id, record root MAC) and the store's generation.
 *
 * Errors are one line: "store ROOT: ..." for the store itself, "object 1f2e3d4c5b6a7988: ..."
 * (the first 8 bytes of the id in hex) for one object, with context in front on the way up.
 * err->errnum is EIO for whatever the host got wrong (damage, tampering, a missing object, a
 * wrong key), the system's errno when the host could not be read or written, and EINVAL,
 * EEXIST, ENOENT or EBUSY for the caller's own mistakes.
 *
 * Threads: one struct store may be shared by threads. Layer writers run in parallel (each
 * writer is used by one thread at a time); changes to the index are serialised inside.
 * Processes share a store too: each opener holds a shared flock on the root directory, and
 * every use of the index takes <root>/lock (shared to read, exclusive to change) and first
 * reloads the index when another opener moved the pointer. What needs the store alone takes
 * the root's lock exclusively: removing tmp/ leftovers at open (skipped when others have it
 * open: they may be theirs), store_gc (EBUSY while another opener has it), and
 * store_open_readonly (EBUSY likewise).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "store/pf.h"
#include "util/error.h"

#define STORE_KEY_LEN STORE_PF_KEY_LEN
#define STORE_ID_LEN STORE_PF_ID_LEN
#define STORE_MAC_LEN STORE_PF_MAC_LEN
/* A diff_id is 1 to 255 printable ASCII bytes (0x21-0x7e), e.g. "sha256:<64 hex>". */
#define STORE_DIFF_ID_MAX 255
/* The sealed index pointer: magic 8 || nonce 12 || ciphertext 40 || tag 16. */
#define STORE_INDEX_PTR_LEN 76
/* What an index object may hold (bytes of content). */
#define STORE_INDEX_MAX (16u << 20)

struct store;

/*
 * Open the store at root with the 32-byte store key (copied; the caller wipes its own). With
 * create, a missing root, objects/, tmp/ and index are made (0700; an empty index with
 * generation 0); without it a root with no index is ENOENT. A pointer that does not open
 * with the key is refused before anything else is read ("store ROOT: wrong store key", EIO;
 * a damaged pointer reads the same). Leftovers in tmp/ (objects that were never committed)
 * are removed. On success *out is the caller's (store_close).
 */
CC_MUST_CHECK int store_open(const char *root, const uint8_t key[STORE_KEY_LEN], bool create,
			     struct store **out, struct cc_error **err);
/* Releases the lock, wipes the key and frees; NULL is fine. Every writer and reader of the
 * store must be finished (committed, aborted, closed) first. */
void store_close(struct store *s);
/* The root directory as given to store_open, and the generation of the current index (0 for
 * a new store, + 1 for every layer added or removed). */
const char *store_root(const struct store *s);
uint64_t store_generation(const struct store *s);
/* The store key for protected objects (owned by the store, valid until store_close). */
const struct store_pf_key *store_key(const struct store *s);

/* ---- layers in the index ---- */

/* The diff_ids of the layers in the store, sorted (bytes, as strcmp), as a NULL-terminated
 * array the caller frees with cc_strv_free (util/strv.h); *count (when not NULL) is their
 * number. A snapshot: later changes do not show in it. */
CC_MUST_CHECK char **store_layer_ids(struct store *s, size_t *count, struct cc_error **err);
/* Whether the index lists diff_id. */
bool store_has_layer(struct store *s, const char *diff_id);
/* The record id and root MAC the index holds for diff_id: 0, or -1 with ENOENT. */
CC_MUST_CHECK int store_layer_ref(struct store *s, const char *diff_id,
				  uint8_t record_id[STORE_ID_LEN],
				  uint8_t record_mac[STORE_MAC_LEN], struct cc_error **err);
/*
 * Add a layer to the index: write its record (record_len bytes of content, under the id
 * store_record_id gives; its root MAC into record_mac), then a new index object with
 * generation + 1, then replace the pointer by rename (a crash leaves the previous index
 * whole). All of it with the index lock held, so that two writers of one diff_id cannot
 * overwrite each other's record. EEXIST when diff_id is listed already. store_layer_commit
 * calls it; on failure the record is removed.
 */
CC_MUST_CHECK int store_index_add(struct store *s, const char *diff_id, const void *record,
				  size_t record_len, uint8_t record_mac[STORE_MAC_LEN],
				  struct cc_error **err);
/* Replaceable layers (a container's writable layer, "upper:<name>") have diff_ids with this
 * prefix: a new version replaces the old one in the index (store_index_replace), and their
 * record ids are random rather than derived from the diff_id. */
#define STORE_REPLACEABLE_PREFIX "upper:"
bool store_diff_id_replaceable(const char *diff_id);
/*
 * Add or replace the replaceable layer diff_id: write its record under a new random id, then
 * a new index (generation + 1) naming it, then the pointer (rename): a crash leaves the
 * previous version whole, never a mix. Once the pointer is in place, the previous version's
 * objects that the new one does not reference are removed (best effort: store_gc removes
 * what is left). EINVAL for a diff_id without STORE_REPLACEABLE_PREFIX.
 */
CC_MUST_CHECK int store_index_replace(struct store *s, const char *diff_id, const void *record,
				      size_t record_len, uint8_t record_mac[STORE_MAC_LEN],
				      struct cc_error **err);
/* Remove diff_id from the index (generation + 1); its objects stay until store_gc. ENOENT
 * when it is not listed. */
CC_MUST_CHECK int store_remove_layer(struct store *s, const char *diff_id, struct cc_error **err);
/*
 * Remove every object that the current index does not reach: the index object, every
 * layer's record, directories, files, links, nodes and spilled xattrs are kept; everything
 * else under objects/ (an old index, a removed layer, what a failed writer left) goes. Every
 * reachable object is opened and authenticated first: when one fails, nothing is removed and
 * the error names it. EBUSY while a layer writer is open (its objects are not in the index
 * yet) or another opener has the store ("garbage collection needs the store alone"). *removed
 * (when not NULL) is the number of objects removed.
 */
CC_MUST_CHECK int store_gc(struct store *s, size_t *removed, struct cc_error **err);
/* A writer of objects that the index does not reach yet pins the store until it is done:
 * store_gc refuses (EBUSY) while a pin is held, and a pin waits for a running store_gc. */
void store_pin(struct store *s);
void store_unpin(struct store *s);
/* The id of diff_id's layer record: the first 16 bytes of HMAC-SHA-256(store key,
 * "rune-store layer v1" || diff_id). */
void store_record_id(const struct store *s, const char *diff_id, uint8_t id[STORE_ID_LEN]);
/* Whether diff_id is 1 to STORE_DIFF_ID_MAX printable ASCII bytes. */
bool store_diff_id_valid(const char *diff_id);

/* ---- objects (what layer.c, fsck and the view build on) ---- */

struct store_object_writer;

/*
 * A new object in tmp/: id (16 bytes) or NULL for a random one, attributes as in
 * store_pf_writer_new. Content goes in with store_object_write; store_object_commit makes it
 * durable and visible (fsync, rename to objects/, directory fsync). *out is the caller's
 * (store_object_writer_free).
 */
CC_MUST_CHECK int store_object_create(struct store *s, const uint8_t *id, const void *attrs,
				      size_t attr_len, struct store_object_writer **out,
				      struct cc_error **err);
CC_MUST_CHECK int store_object_write(struct store_object_writer *w, const void *buf, size_t len,
				     struct cc_error **err);
/* len zero bytes, whole chunks of them holes (store_pf_write_zeros). */
CC_MUST_CHECK int store_object_write_zeros(struct store_object_writer *w, uint64_t len,
					   struct cc_error **err);
/* Seal, fsync, rename into objects/ and fsync its directory; id and root_mac receive the
 * object's (either may be NULL). Nothing can be written after. */
CC_MUST_CHECK int store_object_commit(struct store_object_writer *w, uint8_t *id, uint8_t *root_mac,
				      struct cc_error **err);
/* The new object's id. */
const uint8_t *store_object_writer_id(const struct store_object_writer *w);
/*
 * A whole object at once, content len bytes (at most STORE_OBJECT_PUT_MAX): sealed in memory
 * with one chunk just large enough for it (4 KiB at least), written to tmp/ with one write and
 * renamed into objects/, as store_object_commit does. id: as store_object_create; id and
 * root_mac (either may be NULL) receive the object's.
 */
#define STORE_OBJECT_PUT_MAX (1u << 20)
CC_MUST_CHECK int store_object_put(struct store *s, const uint8_t *id, const void *attrs,
				   size_t attr_len, const void *content, size_t len,
				   uint8_t *out_id, uint8_t *root_mac, struct cc_error **err);
/* Frees; an uncommitted object's temporary file is removed. NULL is fine. */
void store_object_writer_free(struct store_object_writer *w);

struct store_object;

/*
 * Open object id, checking that it is that object in the version whose root MAC is mac. A
 * missing host file is EIO ("object 1f2e..: missing from the store"): whatever refers to an
 * object expects it. *out is the caller's (store_object_close); it holds a file descriptor.
 */
CC_MUST_CHECK int store_object_open(struct store *s, const uint8_t id[STORE_ID_LEN],
				    const uint8_t mac[STORE_MAC_LEN], struct store_object **out,
				    struct cc_error **err);
/* The protected-object reader (size, attributes, reads), owned by o. */
struct store_pf_reader *store_object_reader(struct store_object *o);
/* The whole content, at most limit bytes (more is EIO: the object is larger than anything
 * that refers to it may be), in a new buffer (NUL-terminated, *len bytes before the NUL). */
CC_MUST_CHECK uint8_t *store_object_read_all(struct store_object *o, size_t limit, size_t *len,
					     struct cc_error **err);
void store_object_close(struct store_object *o);
/* Remove object id's host file; a missing one is fine. */
CC_MUST_CHECK int store_object_remove(struct store *s, const uint8_t id[STORE_ID_LEN],
				      struct cc_error **err);
/* Whether object id's host file exists. */
bool store_object_exists(struct store *s, const uint8_t id[STORE_ID_LEN]);

/* ---- the formats, for fuzzing and host tools ---- */

/* Seal (generation, index id, index root MAC) under the store key into a pointer. */
CC_MUST_CHECK int store_index_ptr_seal(const uint8_t key[STORE_KEY_LEN], uint64_t generation,
				       const uint8_t id[STORE_ID_LEN],
				       const uint8_t mac[STORE_MAC_LEN],
				       uint8_t out[STORE_INDEX_PTR_LEN], struct cc_error **err);
/* Open a pointer of len bytes: a wrong length or magic is EIO, a pointer that does not
 * authenticate under key is EIO "wrong store key". */
CC_MUST_CHECK int store_index_ptr_open(const uint8_t key[STORE_KEY_LEN], const void *buf,
				       size_t len, uint64_t *generation, uint8_t id[STORE_ID_LEN],
				       uint8_t mac[STORE_MAC_LEN], struct cc_error **err);

/* One layer as the index lists it. */
struct store_index_entry {
	char *diff_id;
	uint8_t record_id[STORE_ID_LEN];
	uint8_t record_mac[STORE_MAC_LEN];
};

/*
 * The index object's content: u32 version (1) || u64 generation || u32 count || per layer:
 * u16 diff_id length, diff_id, record id 16, record root MAC 16; the layers sorted by diff_id
 * (strictly: no duplicates). Parse fails with EIO on anything else ("index: ..."); on success
 * *entries (count of them) is the caller's (store_index_entries_free).
 */
CC_MUST_CHECK int store_index_parse(const void *buf, size_t len, uint64_t *generation,
				    struct store_index_entry **entries, size_t *count,
				    struct cc_error **err);
void store_index_entries_free(struct store_index_entry *entries, size_t count);

/* ---- read-only open (fsck) ---- */

/*
 * Open the store at root like store_open without create, but changing nothing on the host:
 * tmp/ leftovers stay (fsck reports them), and the store cannot be written through: objects
 * cannot be created (EBADF), store_gc refuses (EBUSY), and so do a layer writer's commit and
 * store_remove_layer (they create objects); store_object_remove must not be called on it. It
 * takes the same exclusive lock (EBUSY while another opener holds the store) and checks the
 * key and the index the same way (a wrong key: "store ROOT: wrong store key", EIO). Readers
 * (layers, objects) work as on any store. *out is the caller's (store_close).
 */
CC_MUST_CHECK int store_open_readonly(const char *root, const uint8_t key[STORE_KEY_LEN],
				      struct store **out, struct cc_error **err);
