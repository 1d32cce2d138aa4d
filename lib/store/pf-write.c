// SPDX-License-Identifier: Apache-2.0
/* Protected objects: the writer. Chunks are sealed as they fill, the tree and the header at
 * commit (docs/store.md, "Writing"). */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <openssl/rand.h>
#include "store/pf-internal.h"
#include "util/cleanup.h"

struct store_pf_writer {
	struct pf_object o;
	unsigned chunk_log2;
	uint32_t chunk;
	uint8_t salt[PF_SALT_LEN];
	uint8_t attrs[STORE_PF_ATTR_MAX];
	size_t attr_len;
	uint8_t *pt; /* the chunk being filled (pt_cap bytes, grown as it fills) */
	size_t fill, pt_cap;
	size_t ct_cap;
	/* Nonces: this base with a counter in its last 8 bytes, one per seal. The object's key
	 * is its own (derived from its random salt), so nonces need only be distinct within the
	 * object. */
	uint8_t nonce_base[PF_NONCE_LEN];
	uint64_t nonces;
	uint8_t *ct; /* one chunk or node of ciphertext on its way out */
	uint64_t size;
	uint64_t chunks;
	uint8_t *entries; /* PF_ENTRY_LEN per chunk written, for the tree */
	uint64_t entries_cap;
	bool committed;
};

/* The next nonce of this object: never the same twice under its key. */
static void next_nonce(struct store_pf_writer *w, uint8_t nonce[PF_NONCE_LEN])
{
	uint64_t n = ++w->nonces;
	memcpy(nonce, w->nonce_base, PF_NONCE_LEN);
	for (int i = 0; i < 8; i++)
		nonce[PF_NONCE_LEN - 1 - i] ^= (uint8_t)(n >> (8 * i));
}

/* Room for need bytes of plaintext in pt (plaintext: the old buffer is wiped). */
static void pt_reserve(struct store_pf_writer *w, size_t need)
{
	if (need <= w->pt_cap)
		return;
	size_t cap = w->pt_cap ? 2 * w->pt_cap : 4096;
	while (cap < need)
		cap *= 2;
	if (cap > w->chunk)
		cap = w->chunk;
	uint8_t *p = xmalloc(cap);
	if (w->fill)
		memcpy(p, w->pt, w->fill);
	if (w->pt)
		explicit_bzero(w->pt, w->pt_cap);
	free(w->pt);
	w->pt = p;
	w->pt_cap = cap;
}

/* Room for len bytes of ciphertext in ct. */
static void ct_reserve(struct store_pf_writer *w, size_t len)
{
	if (len <= w->ct_cap)
		return;
	free(w->ct);
	w->ct_cap = len < 4096 ? 4096 : len;
	w->ct = xmalloc(w->ct_cap);
}

static int writer_setup(struct store_pf_writer *w, const struct store_pf_key *key,
			const struct store_pf_io *io, const uint8_t *id, unsigned chunk_log2,
			const void *attrs, size_t attr_len, struct cc_error **err)
{
	/* One call to the random generator per object: id, salt and the nonces' base. */
	uint8_t rnd[STORE_PF_ID_LEN + PF_SALT_LEN + PF_NONCE_LEN];
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return pf_error(err, "(new)", EIO, "no random bytes from OpenSSL");
	memcpy(w->o.id, id ? id : rnd, STORE_PF_ID_LEN);
	memcpy(w->salt, rnd + STORE_PF_ID_LEN, PF_SALT_LEN);
	memcpy(w->nonce_base, rnd + STORE_PF_ID_LEN + PF_SALT_LEN, PF_NONCE_LEN);
	pf_object_name(w->o.name, w->o.id);
	if (!chunk_log2)
		chunk_log2 = STORE_PF_CHUNK_LOG2_DEFAULT;
	if (!key || !io || !io->pwrite || (attr_len && !attrs))
		return pf_error(err, w->o.name, EINVAL,
				"writer: missing key, io callback or attributes");
	if (chunk_log2 < STORE_PF_CHUNK_LOG2_MIN || chunk_log2 > STORE_PF_CHUNK_LOG2_MAX)
		return pf_error(err, w->o.name, EINVAL, "chunk_log2 %u is out of range (%d-%d)",
				chunk_log2, STORE_PF_CHUNK_LOG2_MIN, STORE_PF_CHUNK_LOG2_MAX);
	if (attr_len > STORE_PF_ATTR_MAX)
		return pf_error(err, w->o.name, EINVAL, "%zu bytes of attributes, at most %d fit",
				attr_len, STORE_PF_ATTR_MAX);
	if (pf_object_init(&w->o, key, io, w->o.id, w->salt, true, err) < 0)
		return -1;
	w->chunk_log2 = chunk_log2;
	w->chunk = UINT32_C(1) << chunk_log2;
	if (attr_len)
		memcpy(w->attrs, attrs, attr_len);
	w->attr_len = attr_len;
	return 0;
}

struct store_pf_writer *store_pf_writer_new(const struct store_pf_key *key,
					    const struct store_pf_io *io, const uint8_t *id,
					    unsigned chunk_log2, const void *attrs, size_t attr_len,
					    struct cc_error **err)
{
	struct store_pf_writer *w = xzalloc(sizeof(*w));

	if (writer_setup(w, key, io, id, chunk_log2, attrs, attr_len, err) < 0) {
		store_pf_writer_free(w);
		return NULL;
	}
	return w;
}

const uint8_t *store_pf_writer_id(const struct store_pf_writer *w)
{
	return w->o.id;
}

/* Seal len bytes of plaintext (src) as the next chunk, write it, keep its entry. */
static int seal_chunk(struct store_pf_writer *w, const uint8_t *src, uint32_t len,
		      struct cc_error **err)
{
	uint8_t nonce[PF_NONCE_LEN], tag[PF_TAG_LEN], aad[PF_AAD_CHUNK_LEN];
	uint64_t i = w->chunks;

	next_nonce(w, nonce);
	ct_reserve(w, len);
	pf_chunk_aad(aad, w->o.id, i, len);
	if (!pf_seal(&w->o, nonce, aad, sizeof(aad), src, w->ct, len, tag))
		return pf_error(err, w->o.name, EIO, "chunk %" PRIu64 ": AES-GCM failed", i);
	if (pf_write_full(&w->o, w->ct, len, STORE_PF_HEADER_SIZE + i * w->chunk) < 0)
		return pf_error_sys(err, w->o.name, errno, "write chunk %" PRIu64, i);
	if (w->chunks == w->entries_cap) {
		w->entries_cap = w->entries_cap ? 2 * w->entries_cap : 64;
		w->entries = xreallocarray(w->entries, w->entries_cap, PF_ENTRY_LEN);
	}
	pf_entry_put(w->entries + i * PF_ENTRY_LEN, nonce, tag, len);
	w->chunks++;
	return 0;
}

static int write_chunks(struct store_pf_writer *w, const uint8_t *p, size_t len,
			struct cc_error **err)
{
	if (len > STORE_PF_SIZE_MAX - w->size)
		return pf_error(err, w->o.name, EFBIG, "more than 2^48 bytes written");
	while (len) {
		size_t take;
		if (w->fill == 0 && len >= w->chunk) {
			/* A whole chunk from the caller's buffer: no copy. */
			if (seal_chunk(w, p, w->chunk, err) < 0)
				return -1;
			take = w->chunk;
		} else {
			take = w->chunk - w->fill < len ? w->chunk - w->fill : len;
			pt_reserve(w, w->fill + take);
			memcpy(w->pt + w->fill, p, take);
			w->fill += take;
			if (w->fill == w->chunk) {
				if (seal_chunk(w, w->pt, w->chunk, err) < 0)
					return -1;
				w->fill = 0;
			}
		}
		p += take;
		len -= take;
		w->size += take;
	}
	return 0;
}

int store_pf_write(struct store_pf_writer *w, const void *buf, size_t len, struct cc_error **err)
{
	struct cc_error *local = NULL;

	if (pf_failed(&w->o, err))
		return -1;
	if (w->committed)
		return pf_error(err, w->o.name, EINVAL, "write after commit");
	if (len && !buf)
		return pf_error(err, w->o.name, EINVAL, "write: no buffer");
	if (write_chunks(w, buf, len, &local) < 0)
		return pf_fail(&w->o, &local, err);
	return 0;
}

/* Seal node (level, j) of the entries in src, write it, put its entry in up. */
static int seal_node(struct store_pf_writer *w, const struct pf_layout *l, uint32_t level,
		     uint64_t j, const uint8_t *src, uint8_t *up, struct cc_error **err)
{
	uint8_t nonce[PF_NONCE_LEN], tag[PF_TAG_LEN], aad[PF_AAD_NODE_LEN];
	uint32_t len = PF_ENTRY_LEN * pf_node_entries(l, level, j);

	pf_node_aad(aad, w->o.id, level, j, len);
	next_nonce(w, nonce);
	ct_reserve(w, len);
	if (!pf_seal(&w->o, nonce, aad, sizeof(aad), src, w->ct, len, tag))
		return pf_error(err, w->o.name, EIO,
				"tree level %u node %" PRIu64 ": AES-GCM failed", level, j);
	if (pf_write_full(&w->o, w->ct, len, pf_node_off(l, level, j)) < 0)
		return pf_error_sys(err, w->o.name, errno, "write tree level %u node %" PRIu64,
				    level, j);
	pf_entry_put(up, nonce, tag, len);
	return 0;
}

/* Seal and write the tree level by level from the chunks' entries; the root's entry in root. */
static int write_tree(struct store_pf_writer *w, const struct pf_layout *l,
		      uint8_t root[PF_ENTRY_LEN], struct cc_error **err)
{
	_cleanup_free_ uint8_t *level_entries = NULL;
	const uint8_t *below = w->entries;

	memset(root, 0, PF_ENTRY_LEN);
	for (uint32_t level = 0; level < l->depth; level++) {
		_cleanup_free_ uint8_t *up = xcalloc(l->nodes[level], PF_ENTRY_LEN);
		for (uint64_t j = 0; j < l->nodes[level]; j++)
			if (seal_node(w, l, level, j, below + j * l->fanout * PF_ENTRY_LEN,
				      up + j * PF_ENTRY_LEN, err) < 0)
				return -1;
		free(level_entries);
		below = level_entries = steal_pointer(&up);
	}
	if (l->depth)
		memcpy(root, below, PF_ENTRY_LEN);
	return 0;
}

static int write_header(struct store_pf_writer *w, const struct pf_layout *l,
			const uint8_t root[PF_ENTRY_LEN], uint8_t mac[STORE_PF_MAC_LEN],
			struct cc_error **err)
{
	uint8_t h[STORE_PF_HEADER_SIZE] = { 0 }, body[PF_BODY_LEN] = { 0 };
	bool ok;

	memcpy(h, PF_MAGIC, PF_MAGIC_LEN);
	cc_put_le16(h + PF_H_VERSION, PF_VERSION);
	h[PF_H_CHUNK_LOG2] = (uint8_t)w->chunk_log2;
	memcpy(h + PF_H_ID, w->o.id, STORE_PF_ID_LEN);
	memcpy(h + PF_H_SALT, w->salt, PF_SALT_LEN);
	next_nonce(w, h + PF_H_NONCE);
	cc_put_le64(body + PF_B_SIZE, l->size);
	cc_put_le32(body + PF_B_DEPTH, l->depth);
	memcpy(body + PF_B_ROOT, root, PF_ENTRY_LEN);
	cc_put_le32(body + PF_B_ATTR_LEN, (uint32_t)w->attr_len);
	memcpy(body + PF_B_ATTRS, w->attrs, w->attr_len);
	ok = pf_seal(&w->o, h + PF_H_NONCE, h, PF_H_AAD_LEN, body, h + PF_H_BODY, PF_BODY_LEN,
		     h + PF_H_TAG);
	explicit_bzero(body, sizeof(body));
	if (!ok)
		return pf_error(err, w->o.name, EIO, "header: AES-GCM failed");
	if (pf_write_full(&w->o, h, sizeof(h), 0) < 0)
		return pf_error_sys(err, w->o.name, errno, "write header");
	memcpy(mac, h + PF_H_TAG, STORE_PF_MAC_LEN);
	return 0;
}

static int commit(struct store_pf_writer *w, uint8_t root_mac[STORE_PF_MAC_LEN],
		  struct cc_error **err)
{
	struct pf_layout l;
	uint8_t root[PF_ENTRY_LEN];

	if (w->fill) {
		if (seal_chunk(w, w->pt, (uint32_t)w->fill, err) < 0)
			return -1;
		w->fill = 0;
	}
	if (w->pt)
		explicit_bzero(w->pt, w->pt_cap);
	pf_layout_init(&l, w->chunk_log2, w->size);
	if (l.chunks != w->chunks)
		return pf_error(err, w->o.name, EIO,
				"%" PRIu64 " chunks written, the layout has %" PRIu64, w->chunks,
				l.chunks);
	if (write_tree(w, &l, root, err) < 0 || write_header(w, &l, root, root_mac, err) < 0)
		return -1;
	return 0;
}

int store_pf_commit(struct store_pf_writer *w, uint8_t root_mac[STORE_PF_MAC_LEN],
		    struct cc_error **err)
{
	struct cc_error *local = NULL;

	if (pf_failed(&w->o, err))
		return -1;
	if (w->committed)
		return pf_error(err, w->o.name, EINVAL, "committed twice");
	w->committed = true;
	if (commit(w, root_mac, &local) < 0)
		return pf_fail(&w->o, &local, err);
	return 0;
}

void store_pf_writer_free(struct store_pf_writer *w)
{
	if (!w)
		return;
	if (w->pt)
		explicit_bzero(w->pt, w->pt_cap);
	explicit_bzero(w->attrs, sizeof(w->attrs));
	free(w->pt);
	free(w->ct);
	free(w->entries);
	pf_object_clear(&w->o);
	free(w);
}
