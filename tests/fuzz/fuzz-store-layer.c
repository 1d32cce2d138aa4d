// SPDX-License-Identifier: Apache-2.0
/*
 * What the store reads from an object after it authenticates is still parsed (docs/store.md):
 * a bug in the writer or a key in the wrong hands must not turn into a crash. Every input goes
 * through every parser of lib/store/store.c and layer.c:
 *  - as an attribute area: on success, an area that fits the header encodes back to the very
 *    same bytes (the encoding is canonical: xattrs sorted, no slack);
 *  - as an xattr area (a spilled xattr object's content): it encodes back the same way;
 *  - as a directory's content: the entries tile the input and are strictly sorted;
 *  - as the sealed index pointer, under a fixed test key: a valid one seals back and opens;
 *  - as an index object's and a layer record's content.
 * A failure must be one line, with EIO. Seeds in corpus/store-layer were written with the
 * encoders and this key: attribute areas (plain, with xattrs, spilled), directories (entries,
 * a whiteout, empty), an index pointer, an index of two layers, a record with hard links.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "store/layer.h"
#include "store/store.h"
#include "util/cleanup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The test key of the seeds (public by design). */
static const uint8_t fuzz_key[STORE_KEY_LEN] = "fuzz-store-layer-key-not-secret";

static void must_say_why(struct cc_error **err)
{
	if (!*err || !(*err)->msg || strchr((*err)->msg, '\n') || (*err)->errnum != EIO)
		__builtin_trap();
	cc_error_free(err);
}

static void as_attributes(const uint8_t *data, size_t size)
{
	struct store_attr a;
	struct cc_error *err = NULL;
	uint8_t sid[STORE_ID_LEN], smac[STORE_MAC_LEN], out[STORE_PF_ATTR_MAX];
	uint8_t *xattrs = NULL;
	size_t len, xlen;
	bool spilled;

	if (store_attr_parse(data, size, &a, &spilled, sid, smac, &err) < 0) {
		must_say_why(&err);
		return;
	}
	if (store_attr_encode(&a, out, &len, &xattrs, &xlen, &err) < 0)
		__builtin_trap(); /* what parses is what the format holds */
	if (spilled) {
		if (xattrs || len != STORE_ATTR_FIXED || memcmp(out, data, 36))
			__builtin_trap();
		store_attr_set_spilled(out, &len, sid, smac);
	}
	if (size <= STORE_PF_ATTR_MAX && (xattrs || len != size || memcmp(out, data, size)))
		__builtin_trap();
	free(xattrs);
	store_attr_clear(&a);
}

static void as_xattrs(const uint8_t *data, size_t size)
{
	struct store_attr a = { .type = STORE_TYPE_REG };
	struct cc_error *err = NULL;
	uint8_t out[STORE_PF_ATTR_MAX], *xattrs = NULL;
	size_t len, xlen;

	if (store_xattrs_parse(data, size, &a, &err) < 0) {
		must_say_why(&err);
		return;
	}
	if (store_attr_encode(&a, out, &len, &xattrs, &xlen, &err) < 0)
		__builtin_trap();
	if (xattrs ? xlen != size || memcmp(xattrs, data, size)
		   : len != STORE_ATTR_FIXED + size || memcmp(out + STORE_ATTR_FIXED, data, size))
		__builtin_trap();
	free(xattrs);
	store_attr_clear(&a);
}

static void as_directory(const uint8_t *data, size_t size)
{
	struct store_dir_entry *e = NULL;
	struct cc_error *err = NULL;
	size_t n, end = 4;

	if (store_dir_parse(data, size, &e, &n, &err) < 0) {
		must_say_why(&err);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		/* In order, inside the input, each where the previous one ended. */
		if (e[i].name != data + end + 2 || e[i].name_len == 0 || e[i].name_len > 255)
			__builtin_trap();
		end += 2 + e[i].name_len + 2 + STORE_ID_LEN + STORE_MAC_LEN;
		if (e[i].mac + STORE_MAC_LEN != data + end)
			__builtin_trap();
		if (i && memcmp(e[i - 1].name, e[i].name,
				e[i].name_len < e[i - 1].name_len ? e[i].name_len
								  : e[i - 1].name_len) > 0)
			__builtin_trap();
	}
	if (end != size)
		__builtin_trap();
	free(e);
}

static void as_pointer(const uint8_t *data, size_t size)
{
	struct cc_error *err = NULL;
	uint8_t id[STORE_ID_LEN], mac[STORE_MAC_LEN], id2[STORE_ID_LEN], mac2[STORE_MAC_LEN];
	uint8_t sealed[STORE_INDEX_PTR_LEN];
	uint64_t gen, gen2;

	if (store_index_ptr_open(fuzz_key, data, size, &gen, id, mac, &err) < 0) {
		must_say_why(&err);
		return;
	}
	if (store_index_ptr_seal(fuzz_key, gen, id, mac, sealed, &err) < 0 ||
	    store_index_ptr_open(fuzz_key, sealed, sizeof(sealed), &gen2, id2, mac2, &err) < 0 ||
	    gen2 != gen || memcmp(id, id2, sizeof(id)) || memcmp(mac, mac2, sizeof(mac)))
		__builtin_trap();
}

static void as_index_and_record(const uint8_t *data, size_t size)
{
	struct cc_error *err = NULL;
	struct store_index_entry *e = NULL;
	struct store_record rec;
	size_t n;
	uint64_t gen;

	if (store_index_parse(data, size, &gen, &e, &n, &err) < 0) {
		must_say_why(&err);
	} else {
		for (size_t i = 0; i < n; i++)
			if (!store_diff_id_valid(e[i].diff_id))
				__builtin_trap();
		store_index_entries_free(e, n);
	}
	if (store_record_parse(data, size, &rec, &err) < 0) {
		must_say_why(&err);
		return;
	}
	free(rec.links);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	as_attributes(data, size);
	as_xattrs(data, size);
	as_directory(data, size);
	as_pointer(data, size);
	as_index_and_record(data, size);
	return 0;
}
