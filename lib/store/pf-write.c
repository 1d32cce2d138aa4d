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
	/* The chunks' entries, for the tree: runs of chunks, each either holes (no entry kept) or
	 * sealed chunks (their entries in dense, PF_ENTRY_LEN each, in order). */
	struct run *runs;
	size_t n_runs, runs_cap;
	uint8_t *dense;
	uint64_t n_dense, dense_cap;
	bool committed;
};

struct run {
	uint64_t first, count; /* chunks first .. first + count - 1 */
	uint64_t dense;	       /* index of the first's entry in dense; UINT64_MAX: holes */
};

#define HOLES UINT64_MAX

/* Chunk i is the next one: a hole (e NULL) or sealed with entry e. */
static void add_entry(struct store_pf_writer *w, const uint8_t *e)
{
	struct run *last = w->n_runs ? &w->runs[w->n_runs - 1] : NULL;
	bool hole = !e;
	if (!last || (last->dense == HOLES) != hole) {
		if (w->n_runs == w->runs_cap) {
			w->runs_cap = w->runs_cap ? 2 * w->runs_cap : 8;
			w->runs = xreallocarray(w->runs, w->runs_cap, sizeof(*w->runs));
		}
		last = &w->runs[w->n_runs++];
		*last = (struct run){ w->chunks, 0, hole ? HOLES : w->n_dense };
	}
	last->count++;
	if (!hole) {
		if (w->n_dense == w->dense_cap) {
			w->dense_cap = w->dense_cap ? 2 * w->dense_cap : 64;
			w->dense = xreallocarray(w->dense, w->dense_cap, PF_ENTRY_LEN);
		}
		memcpy(w->dense + w->n_dense++ * PF_ENTRY_LEN, e, PF_ENTRY_LEN);
	}
	w->chunks++;
}

/* n whole chunks of holes at once. */
static void add_holes(struct store_pf_writer *w, uint64_t n)
{
	if (!n)
		return;
	add_entry(w, NULL);
	w->runs[w->n_runs - 1].count += n - 1;
	w->chunks += n - 1;
}

/* The run holding chunk i (there is one: i < w->chunks). */
static const struct run *run_of(const struct store_pf_writer *w, uint64_t i)
{
	size_t lo = 0, hi = w->n_runs;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (w->runs[mid].first <= i)
			lo = mid;
		else
			hi = mid;
	}
	return &w->runs[lo];
}

/* The entries of chunks first .. first + count - 1 into out; false when all are holes (out is
 * then untouched). */
static bool chunk_entries(const struct store_pf_writer *w, uint64_t first, uint64_t count,
			  uint8_t *out)
{
	const struct run *r = run_of(w, first);
	if (r->dense == HOLES && r->first + r->count >= first + count)
		return false;
	for (uint64_t k = 0; k < count;) {
		uint64_t i = first + k, n;
		r = run_of(w, i);
		n = r->first + r->count - i;
		if (n > count - k)
			n = count - k;
		if (r->dense == HOLES)
			memset(out + k * PF_ENTRY_LEN, 0, n * PF_ENTRY_LEN);
		else
			memcpy(out + k * PF_ENTRY_LEN,
			       w->dense + (r->dense + i - r->first) * PF_ENTRY_LEN,
			       n * PF_ENTRY_LEN);
		k += n;
	}
	return true;
}

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
	uint8_t e[PF_ENTRY_LEN];
	pf_entry_put(e, nonce, tag, len);
	add_entry(w, e);
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

int store_pf_write_zeros(struct store_pf_writer *w, uint64_t len, struct cc_error **err)
{
	struct cc_error *local = NULL;

	if (pf_failed(&w->o, err))
		return -1;
	if (w->committed)
		return pf_error(err, w->o.name, EINVAL, "write after commit");
	if (len > STORE_PF_SIZE_MAX - w->size)
		return pf_error(err, w->o.name, EFBIG, "more than 2^48 bytes written");
	while (len) {
		if (w->fill == 0 && len >= w->chunk) {
			/* Whole chunks of zeros: holes, nothing written. */
			uint64_t n = len >> w->chunk_log2;
			add_holes(w, n);
			w->size += n << w->chunk_log2;
			len -= n << w->chunk_log2;
			continue;
		}
		size_t take = w->chunk - w->fill < len ? w->chunk - w->fill : (size_t)len;
		pt_reserve(w, w->fill + take);
		memset(w->pt + w->fill, 0, take);
		w->fill += take;
		w->size += take;
		len -= take;
		if (w->fill == w->chunk) {
			/* Zeros and data, or zeros after zeros in pieces: a hole when all zeros. */
			bool zero = true;
			for (size_t i = 0; zero && i < w->chunk; i++)
				zero = !w->pt[i];
			if (zero)
				add_holes(w, 1);
			else if (seal_chunk(w, w->pt, w->chunk, &local) < 0)
				return pf_fail(&w->o, &local, err);
			w->fill = 0;
		}
	}
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

/* Seal and write the tree level by level from the chunks' entries; the root's entry in root.
 * A node whose children are all holes is a hole itself (not written), except the root. */
static int write_tree(struct store_pf_writer *w, const struct pf_layout *l,
		      uint8_t root[PF_ENTRY_LEN], struct cc_error **err)
{
	_cleanup_free_ uint8_t *level_entries = NULL, *node = NULL;
	const uint8_t *below = NULL;

	memset(root, 0, PF_ENTRY_LEN);
	if (l->depth)
		node = xmalloc((size_t)l->fanout * PF_ENTRY_LEN);
	for (uint32_t level = 0; level < l->depth; level++) {
		_cleanup_free_ uint8_t *up = xcalloc(l->nodes[level], PF_ENTRY_LEN);
		bool top = level + 1 == l->depth;
		for (uint64_t j = 0; j < l->nodes[level]; j++) {
			uint64_t first = j * l->fanout, n = pf_node_entries(l, level, j);
			const uint8_t *src;
			if (level == 0) {
				if (!chunk_entries(w, first, n, node)) {
					if (!top)
						continue; /* a hole: its entry stays zero */
					memset(node, 0, n * PF_ENTRY_LEN);
				}
				src = node;
			} else {
				src = below + first * PF_ENTRY_LEN;
				bool holes = true;
				for (uint64_t k = 0; holes && k < n * PF_ENTRY_LEN; k++)
					holes = !src[k];
				if (holes && !top)
					continue;
			}
			if (seal_node(w, l, level, j, src, up + j * PF_ENTRY_LEN, err) < 0)
				return -1;
		}
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
	free(w->runs);
	free(w->dense);
	pf_object_clear(&w->o);
	free(w);
}
