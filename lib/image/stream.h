/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The layer stream: pull-based stages chained in one pass, each with a bounded buffer, so a
 * layer of any size is fetched, checked, decompressed and unpacked without a temporary copy:
 *
 *     source (fd, HTTP body) -> verify(blob digest, size) -> [decrypt] -> decompress
 *                            -> verify(diff_id) -> untar (img_unpack reads the top stage)
 *
 * A stage that fails records why; img_stream_error() finds that message wherever in the chain
 * it was raised, so the caller reports the real cause ("blob sha256:..: digest mismatch"), not
 * the consumer's "read error". Verification happens at end of stream: whatever consumed the
 * bytes must stage its output and commit only when the top stage has returned 0 (EOF).
 */
#pragma once

#include <stdint.h>
#include <sys/types.h>
#include "image/manifest.h"
#include "util/error.h"

struct img_stream;

/* Bytes from fd (not closed by the stream). */
struct img_stream *img_stream_fd(int fd);
/* Bytes from memory (borrowed). */
struct img_stream *img_stream_mem(const void *buf, size_t len);
/* Pass-through that hashes and counts: at end of stream the bytes must hash to digest
 * ("sha256:<hex>", also sha384/sha512) and, when size >= 0, number exactly size (reading past
 * size fails at once). `what` names the data in messages ("blob sha256:ab..", "layer ...
 * diff_id"). Takes ownership of in. */
struct img_stream *img_stream_verify(struct img_stream *in, const char *what, const char *digest,
				     int64_t size);
/* Decompression (gzip: ISA-L igzip, concatenated members allowed; zstd: windows up to
 * 32 MiB; tar: pass-through). Takes ownership of in. */
struct img_stream *img_stream_decompress(struct img_stream *in, const char *what,
					 enum img_compression c);

/* Up to len bytes; 0 at end of stream; -1 on error (see img_stream_error). */
ssize_t img_stream_read(struct img_stream *s, void *buf, size_t len);
/* The error that stopped the chain, or NULL. */
const struct cc_error *img_stream_error(const struct img_stream *s);
/* Read to the end, discarding (so that verification runs). 0 or -1. */
int img_stream_drain(struct img_stream *s);
/* Frees the whole chain below s too. */
void img_stream_free(struct img_stream *s);

/* "sha256:<hex>" of a buffer. */
char *img_digest_buf(const void *buf, size_t len);
