/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A minimal CBOR (RFC 8949) reader and writer for what RA-TLS certificates carry: tags, arrays,
 * maps, byte and text strings, unsigned integers. Not for use outside lib/attest and its tests.
 *
 * The reader never trusts a length: a string, array or map that claims more than the bytes
 * left is refused before anything is read from it, and nesting is bounded. Indefinite lengths
 * (additional information 31) are refused: no RA-TLS producer writes them, and they would let
 * an item's size be unknown until its end. Encodings need not be the shortest: the buffers that
 * matter are hashed as they are, never re-encoded.
 *
 * Errors are one line starting "CBOR: offset N: " (N counted from the start of the buffer
 * given to the reader).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "util/error.h"

/* Arrays, maps and tags nested in one another; RA-TLS evidence needs 3. */
#define ATTEST_CBOR_DEPTH_MAX 16

/* The major types. */
enum attest_cbor_type {
	ATTEST_CBOR_UINT = 0,
	ATTEST_CBOR_NINT = 1,
	ATTEST_CBOR_BSTR = 2,
	ATTEST_CBOR_TSTR = 3,
	ATTEST_CBOR_ARRAY = 4,
	ATTEST_CBOR_MAP = 5,
	ATTEST_CBOR_TAG = 6,
	ATTEST_CBOR_SIMPLE = 7, /* simple values and floats */
};

/* "unsigned integer", "byte string", ... for messages. */
const char *attest_cbor_type_name(enum attest_cbor_type t);

/* One item's head: for strings also their bytes, for arrays and maps only their count (the
 * elements follow in the reader), for a tag only its number (the tagged item follows). */
struct attest_cbor_item {
	enum attest_cbor_type type;
	uint64_t value;	     /* the integer, string length, element or pair count, tag number */
	const uint8_t *data; /* strings: value bytes in the reader's buffer; NULL otherwise */
	size_t offset;	     /* where the head starts */
};

struct attest_cbor_reader {
	const uint8_t *start, *p, *end;
};

void attest_cbor_reader_init(struct attest_cbor_reader *r, const void *buf, size_t len);
/* No bytes left. */
bool attest_cbor_at_end(const struct attest_cbor_reader *r);
/* The offset of the next byte to read. */
size_t attest_cbor_offset(const struct attest_cbor_reader *r);

/*
 * The next item's head (and a string's bytes). A count of array elements or map pairs larger
 * than the bytes left is refused here ("CBOR: offset 3: array of 1000 elements but 5 bytes
 * left"): every element takes at least one byte.
 */
CC_MUST_CHECK int attest_cbor_read(struct attest_cbor_reader *r, struct attest_cbor_item *it,
				   struct cc_error **err);
/* The next item, of type want ("CBOR: offset 7: a text string, expected a byte string"). */
CC_MUST_CHECK int attest_cbor_expect(struct attest_cbor_reader *r, enum attest_cbor_type want,
				     struct attest_cbor_item *it, struct cc_error **err);
/* Step over the next item whole (its elements, pairs or tagged item), at most depth_max
 * levels deep ("CBOR: offset 40: nested deeper than 16"). */
CC_MUST_CHECK int attest_cbor_skip(struct attest_cbor_reader *r, unsigned depth_max,
				   struct cc_error **err);
/*
 * len bytes are exactly one well-formed item nested at most ATTEST_CBOR_DEPTH_MAX deep, with
 * nothing after it ("CBOR: offset 60: 3 bytes after the item").
 */
CC_MUST_CHECK int attest_cbor_check(const void *buf, size_t len, struct cc_error **err);

/* A growing buffer of CBOR. Allocation failure aborts, so writing cannot fail. */
struct attest_cbor_writer {
	uint8_t *buf; /* the caller frees it */
	size_t len, cap;
};

/* A head in its shortest form: an integer, a length, a count or a tag number. */
void attest_cbor_put_head(struct attest_cbor_writer *w, enum attest_cbor_type t, uint64_t value);
/* A byte string (ATTEST_CBOR_BSTR) or a text string (ATTEST_CBOR_TSTR) of len bytes. */
void attest_cbor_put_string(struct attest_cbor_writer *w, enum attest_cbor_type t, const void *data,
			    size_t len);
/* Bytes that are already CBOR, as they are. */
void attest_cbor_put_raw(struct attest_cbor_writer *w, const void *data, size_t len);
