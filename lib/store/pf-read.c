// SPDX-License-Identifier: Apache-2.0
/* Protected objects: the reader (docs/store.md, "Reading"). Everything read from the host file
 * is bounded before use: the header's clear fields are checked, the body is authenticated
 * before its sizes are believed, and those must then agree with the layout they imply, which
 * the host file's length must match exactly. */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include "store/pf-internal.h"
#include "util/cleanup.h"
#include "util/hex.h"

/* Verified tree nodes kept besides the root (which is pinned): at most this many, and at
 * most PF_CACHE_BYTES of them, but room for a few whatever the chunk size. */
#define PF_CACHE_NODES 64
#define PF_CACHE_BYTES (4u << 20)
#define PF_CACHE_NODES_MIN 4
/* Whole chunks wanted by one read are fetched from the host file this many bytes at a time,
 * then authenticated and decrypted in place while they are still in the CPU's cache. */
#define PF_BATCH_BYTES (256u << 10)

struct pf_slot {
	uint32_t level;
	uint64_t index;
	uint64_t stamp; /* last use; 0: empty */
	uint8_t *pt;	/* the node's entries, room for a full node */
};

struct store_pf_reader {
	struct pf_object o;
	struct pf_layout l;
	uint8_t root_mac[STORE_PF_MAC_LEN];
	uint8_t root_entry[PF_ENTRY_LEN];
	uint8_t attrs[STORE_PF_ATTR_MAX];
	size_t attr_len;
	uint8_t *root; /* the root node's entries; NULL for an empty object */
	struct pf_slot *slots;
	unsigned n_slots;
	uint64_t clock;
	uint8_t *cache; /* one chunk of plaintext, for reads of part of a chunk */
	uint64_t cached;
	bool have_cached;
	uint8_t *holes; /* a node of hole entries (zeros): what a hole node's children are */
};

/* A hole: an entry of zeros (a real entry's length is never 0). */
static bool is_hole(const uint8_t e[PF_ENTRY_LEN])
{
	for (int i = 0; i < PF_ENTRY_LEN; i++)
		if (e[i])
			return false;
	return true;
}

/* ---- open ---- */

static int check_clear_header(const uint8_t *h, const char *name, struct cc_error **err)
{
	uint16_t version = cc_le16(h + PF_H_VERSION);
	unsigned chunk_log2 = h[PF_H_CHUNK_LOG2];

	if (memcmp(h, PF_MAGIC, PF_MAGIC_LEN))
		return pf_error(err, name, EIO, "not a protected object (bad magic)");
	if (version != PF_VERSION)
		return pf_error(err, name, EIO, "format version %u is not supported (%d is)",
				version, PF_VERSION);
	if (chunk_log2 < STORE_PF_CHUNK_LOG2_MIN || chunk_log2 > STORE_PF_CHUNK_LOG2_MAX)
		return pf_error(err, name, EIO, "chunk_log2 %u is out of range (%d-%d)", chunk_log2,
				STORE_PF_CHUNK_LOG2_MIN, STORE_PF_CHUNK_LOG2_MAX);
	if (h[PF_H_FLAGS])
		return pf_error(err, name, EIO, "unknown flags 0x%02x", h[PF_H_FLAGS]);
	if (cc_le32(h + PF_H_RESERVED))
		return pf_error(err, name, EIO, "reserved header bytes are not zero");
	return 0;
}

/* The authenticated body: only a writer holding the key could have made it wrong, but its
 * sizes still go through the same bounds as everything else. */
static int parse_body(struct store_pf_reader *r, unsigned chunk_log2, const uint8_t *body,
		      struct cc_error **err)
{
	uint64_t size = cc_le64(body + PF_B_SIZE);
	uint32_t depth = cc_le32(body + PF_B_DEPTH);
	uint32_t attr_len = cc_le32(body + PF_B_ATTR_LEN);
	const char *name = r->o.name;
	uint32_t want;

	if (size > STORE_PF_SIZE_MAX)
		return pf_error(err, name, EIO, "header: size %" PRIu64 " is over 2^48", size);
	pf_layout_init(&r->l, chunk_log2, size);
	if (depth != r->l.depth)
		return pf_error(err, name, EIO, "header: tree depth %u, the size needs %u", depth,
				r->l.depth);
	memcpy(r->root_entry, body + PF_B_ROOT, PF_ENTRY_LEN);
	want = depth ? PF_ENTRY_LEN * pf_node_entries(&r->l, depth - 1, 0) : 0;
	if (pf_entry_len(r->root_entry) != want)
		return pf_error(err, name, EIO, "header: root entry says %u bytes, the layout %u",
				pf_entry_len(r->root_entry), want);
	for (size_t i = 0; !depth && i < PF_ENTRY_LEN; i++)
		if (r->root_entry[i])
			return pf_error(err, name, EIO, "header: empty, but the root entry is set");
	if (attr_len > STORE_PF_ATTR_MAX)
		return pf_error(err, name, EIO, "header: %u bytes of attributes, at most %d fit",
				attr_len, STORE_PF_ATTR_MAX);
	for (size_t i = PF_B_ATTRS + attr_len; i < PF_BODY_LEN; i++)
		if (body[i])
			return pf_error(err, name, EIO, "header: padding is not zero");
	memcpy(r->attrs, body + PF_B_ATTRS, attr_len);
	r->attr_len = attr_len;
	return 0;
}

/* Read node (level, index), whose entry is e, into buf and authenticate it. */
static int load_node(struct store_pf_reader *r, uint32_t level, uint64_t index,
		     const uint8_t e[PF_ENTRY_LEN], uint8_t *buf, struct cc_error **err)
{
	uint8_t aad[PF_AAD_NODE_LEN];
	uint32_t len = pf_entry_len(e);
	ssize_t n = pf_read_full(&r->o, buf, len, pf_node_off(&r->l, level, index));

	if (n < 0)
		return pf_error_sys(err, r->o.name, errno, "read tree level %u node %" PRIu64,
				    level, index);
	if ((size_t)n < len)
		return pf_error(err, r->o.name, EIO,
				"tree level %u node %" PRIu64 ": host file ends early", level,
				index);
	pf_node_aad(aad, r->o.id, level, index, len);
	if (!pf_open(&r->o, e, aad, sizeof(aad), buf, len, e + PF_NONCE_LEN))
		return pf_error(err, r->o.name, EIO,
				"tree level %u node %" PRIu64 ": does not authenticate", level,
				index);
	return 0;
}

static int open_header(struct store_pf_reader *r, const struct store_pf_key *key,
		       const struct store_pf_io *io, const uint8_t *expected_id,
		       const uint8_t *expected_mac, struct cc_error **err)
{
	uint8_t h[STORE_PF_HEADER_SIZE], body[PF_BODY_LEN];
	char name[sizeof(r->o.name)] = "(unknown id)";
	uint64_t host = 0;
	ssize_t n;
	int ret;

	if (expected_id)
		pf_object_name(name, expected_id);
	r->o.io = *io;
	if (io->size(io->ctx, &host) < 0)
		return pf_error_sys(err, name, errno, "size of the host file");
	if (host < STORE_PF_HEADER_SIZE)
		return pf_error(err, name, EIO,
				"host file is %" PRIu64 " bytes, the layout needs at least %d",
				host, STORE_PF_HEADER_SIZE);
	n = pf_read_full(&r->o, h, sizeof(h), 0);
	if (n < 0)
		return pf_error_sys(err, name, errno, "read header");
	if ((size_t)n < sizeof(h))
		return pf_error(err, name, EIO, "header: host file ends early");
	if (!expected_id)
		pf_object_name(name, h + PF_H_ID);
	if (check_clear_header(h, name, err) < 0 ||
	    pf_object_init(&r->o, key, io, h + PF_H_ID, h + PF_H_SALT, false, err) < 0)
		return -1;
	/* Name the object as the caller knows it. */
	memcpy(r->o.name, name, sizeof(r->o.name));
	memcpy(body, h + PF_H_BODY, PF_BODY_LEN);
	if (!pf_open(&r->o, h + PF_H_NONCE, h, PF_H_AAD_LEN, body, PF_BODY_LEN, h + PF_H_TAG)) {
		explicit_bzero(body, sizeof(body));
		return pf_error(err, name, EIO, "wrong store key or damaged header");
	}
	memcpy(r->root_mac, h + PF_H_TAG, STORE_PF_MAC_LEN);
	if (expected_id && memcmp(expected_id, r->o.id, STORE_PF_ID_LEN)) {
		char got[2 * STORE_PF_ID_LEN + 1], want[2 * STORE_PF_ID_LEN + 1];
		cc_hex_encode(r->o.id, STORE_PF_ID_LEN, got);
		cc_hex_encode(expected_id, STORE_PF_ID_LEN, want);
		ret = pf_error(err, name, EIO, "id is %s, expected %s", got, want);
	} else if (expected_mac && CRYPTO_memcmp(expected_mac, r->root_mac, STORE_PF_MAC_LEN)) {
		ret = pf_error(err, name, EIO,
			       "root MAC does not match (another version of the object)");
	} else {
		ret = parse_body(r, h[PF_H_CHUNK_LOG2], body, err);
	}
	explicit_bzero(body, sizeof(body));
	if (ret < 0)
		return -1;
	if (host != r->l.end)
		return pf_error(err, name, EIO,
				"host file is %" PRIu64 " bytes, the layout needs %" PRIu64, host,
				r->l.end);
	return 0;
}

int store_pf_open(const struct store_pf_key *key, const struct store_pf_io *io,
		  const uint8_t *expected_id, const uint8_t *expected_root_mac,
		  struct store_pf_reader **out, struct cc_error **err)
{
	struct store_pf_reader *r;
	unsigned slots;

	if (!key || !io || !io->pread || !io->size || !out) {
		char name[2 * 8 + 1] = "(unknown id)";
		if (expected_id)
			pf_object_name(name, expected_id);
		return pf_error(err, name, EINVAL, "open: missing key, io callbacks or result");
	}
	r = xzalloc(sizeof(*r));
	if (open_header(r, key, io, expected_id, expected_root_mac, err) < 0)
		goto fail;
	if (r->l.depth) {
		r->root = xmalloc(pf_entry_len(r->root_entry));
		if (load_node(r, r->l.depth - 1, 0, r->root_entry, r->root, err) < 0)
			goto fail;
	}
	slots = PF_CACHE_BYTES >> r->l.chunk_log2;
	r->n_slots = slots < PF_CACHE_NODES_MIN ? PF_CACHE_NODES_MIN
		     : slots > PF_CACHE_NODES	? PF_CACHE_NODES
						: slots;
	r->slots = xcalloc(r->n_slots, sizeof(*r->slots));
	*out = r;
	return 0;
fail:
	store_pf_reader_free(r);
	return -1;
}

uint64_t store_pf_size(const struct store_pf_reader *r)
{
	return r->l.size;
}

const void *store_pf_attributes(const struct store_pf_reader *r, size_t *len)
{
	*len = r->attr_len;
	return r->attrs;
}

const uint8_t *store_pf_id(const struct store_pf_reader *r)
{
	return r->o.id;
}

const uint8_t *store_pf_root_mac(const struct store_pf_reader *r)
{
	return r->root_mac;
}

/* ---- the tree ---- */

/* The verified entries of node (level, index): the root, a cached node, or one loaded with its
 * entry in its parent (got the same way). The pointer is valid until the next call. */
static int get_node(struct store_pf_reader *r, uint32_t level, uint64_t index, const uint8_t **out,
		    struct cc_error **err)
{
	const struct pf_layout *l = &r->l;
	struct pf_slot *victim = &r->slots[0];
	const uint8_t *parent;
	uint8_t e[PF_ENTRY_LEN];
	uint32_t want;

	if (level + 1 == l->depth) {
		*out = r->root;
		return 0;
	}
	for (unsigned s = 0; s < r->n_slots; s++) {
		struct pf_slot *slot = &r->slots[s];
		if (slot->stamp && slot->level == level && slot->index == index) {
			slot->stamp = ++r->clock;
			*out = slot->pt;
			return 0;
		}
	}
	if (get_node(r, level + 1, index / l->fanout, &parent, err) < 0)
		return -1;
	/* Copied: loading this node may evict the parent (with a cache of a few nodes). */
	memcpy(e, parent + (index % l->fanout) * PF_ENTRY_LEN, PF_ENTRY_LEN);
	if (is_hole(e)) {
		/* A hole node: every child is a hole. */
		if (!r->holes)
			r->holes = xcalloc(l->fanout, PF_ENTRY_LEN);
		*out = r->holes;
		return 0;
	}
	want = PF_ENTRY_LEN * pf_node_entries(l, level, index);
	if (pf_entry_len(e) != want)
		return pf_error(err, r->o.name, EIO,
				"tree level %u node %" PRIu64
				": its entry says %u bytes, the layout %u",
				level, index, pf_entry_len(e), want);
	/* The least recently used slot, chosen after the parent got its fresh stamp. */
	for (unsigned s = 1; s < r->n_slots; s++)
		if (r->slots[s].stamp < victim->stamp)
			victim = &r->slots[s];
	if (!victim->pt)
		victim->pt = xmalloc(l->chunk);
	victim->stamp = 0;
	if (load_node(r, level, index, e, victim->pt, err) < 0)
		return -1;
	victim->level = level;
	victim->index = index;
	victim->stamp = ++r->clock;
	*out = victim->pt;
	return 0;
}

/* Chunk i's verified entry, whose length must be the chunk's: 0, 1 for a hole, or -1. */
static int chunk_entry(struct store_pf_reader *r, uint64_t i, uint8_t e[PF_ENTRY_LEN],
		       struct cc_error **err)
{
	const uint8_t *node;
	uint32_t want = pf_chunk_len(&r->l, i);

	if (get_node(r, 0, i / r->l.fanout, &node, err) < 0)
		return -1;
	memcpy(e, node + (i % r->l.fanout) * PF_ENTRY_LEN, PF_ENTRY_LEN);
	if (is_hole(e))
		return 1;
	if (pf_entry_len(e) != want)
		return pf_error(err, r->o.name, EIO,
				"chunk %" PRIu64 ": its entry says %u bytes, the layout %u", i,
				pf_entry_len(e), want);
	return 0;
}

/* ---- chunks ---- */

/* Authenticate and decrypt chunk i, whose ciphertext is in buf, in place; wiped on failure. */
static int open_chunk(struct store_pf_reader *r, uint64_t i, uint8_t *buf, struct cc_error **err)
{
	uint8_t e[PF_ENTRY_LEN], aad[PF_AAD_CHUNK_LEN];
	uint32_t len = pf_chunk_len(&r->l, i);

	int k = chunk_entry(r, i, e, err);
	if (k < 0)
		return -1;
	if (k == 1) { /* a hole: zeros, whatever the host has there */
		memset(buf, 0, len);
		return 0;
	}
	pf_chunk_aad(aad, r->o.id, i, len);
	if (!pf_open(&r->o, e, aad, sizeof(aad), buf, len, e + PF_NONCE_LEN)) {
		explicit_bzero(buf, len);
		return pf_error(err, r->o.name, EIO, "chunk %" PRIu64 ": does not authenticate", i);
	}
	return 0;
}

/* Chunks first .. first+count-1, `bytes` in all, straight into buf: one read, then each
 * authenticated and decrypted in place. */
static int read_whole_chunks(struct store_pf_reader *r, uint64_t first, uint64_t count,
			     uint8_t *buf, size_t bytes, struct cc_error **err)
{
	ssize_t n = pf_read_full(&r->o, buf, bytes, pf_chunk_off(&r->l, first));

	if (n < 0)
		return pf_error_sys(err, r->o.name, errno, "read chunk %" PRIu64, first);
	if ((size_t)n < bytes)
		return pf_error(err, r->o.name, EIO, "chunk %" PRIu64 ": host file ends early",
				first + ((size_t)n >> r->l.chunk_log2));
	for (uint64_t k = 0; k < count; k++)
		if (open_chunk(r, first + k, buf + (k << r->l.chunk_log2), err) < 0)
			return -1;
	return 0;
}

static int fill_cache(struct store_pf_reader *r, uint64_t i, struct cc_error **err)
{
	uint32_t len = pf_chunk_len(&r->l, i);
	ssize_t n;

	if (r->have_cached && r->cached == i)
		return 0;
	if (!r->cache)
		r->cache = xmalloc(r->l.chunk);
	r->have_cached = false;
	n = pf_read_full(&r->o, r->cache, len, pf_chunk_off(&r->l, i));
	if (n < 0)
		return pf_error_sys(err, r->o.name, errno, "read chunk %" PRIu64, i);
	if ((size_t)n < len)
		return pf_error(err, r->o.name, EIO, "chunk %" PRIu64 ": host file ends early", i);
	if (open_chunk(r, i, r->cache, err) < 0)
		return -1;
	r->cached = i;
	r->have_cached = true;
	return 0;
}

static int read_range(struct store_pf_reader *r, uint8_t *p, size_t len, uint64_t pos,
		      struct cc_error **err)
{
	const struct pf_layout *l = &r->l;
	uint64_t batch = PF_BATCH_BYTES >> l->chunk_log2;

	if (!batch)
		batch = 1;
	while (len) {
		uint64_t i = pos >> l->chunk_log2;
		size_t within = (size_t)(pos & (l->chunk - 1));
		size_t clen = pf_chunk_len(l, i), take;
		uint8_t e[PF_ENTRY_LEN];
		int k = chunk_entry(r, i, e, err);

		if (k < 0)
			return -1;
		if (k == 1) { /* a hole: nothing to read */
			take = clen - within < len ? clen - within : len;
			memset(p, 0, take);
		} else if (within == 0 && len >= clen) {
			uint64_t n = 1;
			take = clen;
			while (n < batch && i + n < l->chunks &&
			       len - take >= pf_chunk_len(l, i + n))
				take += pf_chunk_len(l, i + n++);
			if (read_whole_chunks(r, i, n, p, take, err) < 0)
				return -1;
		} else {
			if (fill_cache(r, i, err) < 0)
				return -1;
			take = clen - within < len ? clen - within : len;
			memcpy(p, r->cache + within, take);
		}
		p += take;
		pos += take;
		len -= take;
	}
	return 0;
}

ssize_t store_pf_pread(struct store_pf_reader *r, void *buf, size_t len, uint64_t off,
		       struct cc_error **err)
{
	struct cc_error *local = NULL;

	if (pf_failed(&r->o, err))
		return -1;
	if (off >= r->l.size || len == 0)
		return 0;
	if (!buf)
		return pf_error(err, r->o.name, EINVAL, "read: no buffer");
	/* The size is at most 2^48, so the count fits in ssize_t. */
	if (len > r->l.size - off)
		len = (size_t)(r->l.size - off);
	if (read_range(r, buf, len, off, &local) < 0)
		return pf_fail(&r->o, &local, err);
	return (ssize_t)len;
}

/* Whether the node (level, index) above chunks is a hole: its entry in its parent is zeros
 * (the root never is). */
static int node_is_hole(struct store_pf_reader *r, uint32_t level, uint64_t index,
			struct cc_error **err)
{
	const uint8_t *parent;
	if (level + 1 >= r->l.depth)
		return 0;
	if (get_node(r, level + 1, index / r->l.fanout, &parent, err) < 0)
		return -1;
	return is_hole(parent + (index % r->l.fanout) * PF_ENTRY_LEN);
}

int64_t store_pf_seek(struct store_pf_reader *r, uint64_t off, int whence, struct cc_error **err)
{
	const struct pf_layout *l = &r->l;
	struct cc_error *local = NULL;
	uint8_t e[PF_ENTRY_LEN];

	if (pf_failed(&r->o, err))
		return -1;
	if (whence != SEEK_DATA && whence != SEEK_HOLE)
		return pf_error(err, r->o.name, EINVAL, "seek: SEEK_DATA or SEEK_HOLE expected");
	if (off >= l->size) {
		errno = ENXIO;
		return -1;
	}
	for (uint64_t i = off >> l->chunk_log2; i < l->chunks;) {
		/* The largest hole that starts at chunk i: a node whose first chunk it is. */
		uint64_t span = 0, width = l->fanout;
		for (uint32_t level = 0; level + 1 < l->depth && i % width == 0;
		     level++, width *= l->fanout) {
			int h = node_is_hole(r, level, i / width, &local);
			if (h < 0)
				return pf_fail(&r->o, &local, err);
			if (!h)
				break;
			span = width;
		}
		if (!span) {
			int k = chunk_entry(r, i, e, &local);
			if (k < 0)
				return pf_fail(&r->o, &local, err);
			span = k == 1;
		}
		if (span && whence == SEEK_HOLE)
			return (int64_t)((i << l->chunk_log2) > off ? i << l->chunk_log2 : off);
		if (!span && whence == SEEK_DATA)
			return (int64_t)((i << l->chunk_log2) > off ? i << l->chunk_log2 : off);
		i += span ? span : 1;
	}
	if (whence == SEEK_HOLE)
		return (int64_t)l->size; /* the end is a hole */
	errno = ENXIO;
	return -1;
}

void store_pf_reader_free(struct store_pf_reader *r)
{
	if (!r)
		return;
	if (r->cache)
		explicit_bzero(r->cache, r->l.chunk);
	explicit_bzero(r->attrs, sizeof(r->attrs));
	free(r->cache);
	for (unsigned s = 0; s < r->n_slots; s++)
		free(r->slots[s].pt);
	free(r->slots);
	free(r->holes);
	free(r->root);
	pf_object_clear(&r->o);
	free(r);
}
