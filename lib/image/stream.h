/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The layer stream: pull-based stages chained in one pass, each with a bounded buffer, so a
 * layer of any size is fetched, checked, decompressed and unpacked without a temporary copy:
 *
 *     source (fd, HTTP body) -> verify(blob digest, size) -> [decrypt + HMAC] -> decompress
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
/* The same, and the stream closes fd when freed. */
struct img_stream *img_stream_fd_owned(int fd);
/* Bytes from memory (borrowed). */
struct img_stream *img_stream_mem(const void *buf, size_t len);
/* Pass-through that hashes and counts: at end of stream the bytes must hash to digest
 * ("sha256:<hex>", also sha384/sha512) and, when size >= 0, number exactly size (reading past
 * size fails at once). `what` names the data in messages ("blob sha256:ab..", "layer ...
 * diff_id"): "blob sha256:..: size mismatch: got 100 of 1234 bytes" (or "more than the 1234
 * bytes its descriptor gives"), checked before "digest mismatch: the bytes hash to sha256:..";
 * both with code IMG_ERR_INTEGRITY. Takes ownership of in. */
struct img_stream *img_stream_verify(struct img_stream *in, const char *what, const char *digest,
				     int64_t size);
/* Decompression (gzip: ISA-L igzip, concatenated members allowed; zstd: windows up to
 * 32 MiB; tar: pass-through). Takes ownership of in. */
struct img_stream *img_stream_decompress(struct img_stream *in, const char *what,
					 enum img_compression c);

/*
 * Decryption (ocicrypt), between the blob check and decompression: each chunk is decrypted in
 * place, so the stage needs no buffer of its own; at end of stream the layer's HMAC over the
 * whole ciphertext is checked (crypt_layer_final) and a mismatch fails the stage, which is
 * why nothing read through it may be committed before EOF. `what` names the layer in messages
 * ("layer sha256:..: layer HMAC mismatch: ..."; code IMG_ERR_INTEGRITY). Takes ownership of in
 * and of l (from img_layer_decryptor).
 */
struct crypt_layer;
struct img_stream *img_stream_decrypt(struct img_stream *in, const char *what,
				      struct crypt_layer *l);
/* The mirror image, for writing encrypted layers: each chunk is encrypted in place with l
 * (from crypt_layer_encrypt_begin, borrowed); once the stream has ended, crypt_layer_final()
 * gives the annotations of the encrypted descriptor. Takes ownership of in. */
struct img_stream *img_stream_encrypt(struct img_stream *in, const char *what,
				      struct crypt_layer *l);

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

/*
 * The decryptor of an encrypted layer (d->encrypted): its key unwrapped from d's annotations
 * with keys (NULL: none were given). Nothing is read from the blob, so a missing or wrong key
 * fails before any download. Errors name the layer and are classified (image/error.h):
 * IMG_ERR_DENIED when no given key unwraps the layer key ("layer sha256:..: no key could
 * unwrap the layer key: ...: no key matches any of the 2 JWE recipients"), IMG_ERR_INVALID
 * when no key was given at all or the annotations are unusable (missing, malformed, an unknown
 * cipher). The caller owns *out (crypt_layer_free, or hand it to img_stream_decrypt).
 */
struct crypt_keys;
CC_MUST_CHECK int img_layer_decryptor(const struct img_descriptor *d, const struct crypt_keys *keys,
				      struct crypt_layer **out, struct cc_error **err);
