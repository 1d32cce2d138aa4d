// SPDX-License-Identifier: Apache-2.0
/* The layer pipeline: verify, [decrypt,] decompress, verify, unpack, commit. See layer.h. */
#include <errno.h>
#include "crypt/crypt.h"
#include "image/error.h"
#include "image/layer.h"
#include "image/unpack.h"
#include "util/cleanup.h"

static ssize_t stream_read(void *ctx, void *buf, size_t len)
{
	ssize_t n = img_stream_read(ctx, buf, len);
	if (n < 0)
		errno = EIO;
	return n;
}

/* When a later stage fails (corrupt gzip, bad tar), the real cause may be bytes that do not
 * match the blob digest or, for an encrypted layer, its HMAC: read the rest of the blob through
 * those checks (`blob` is the decryption stage then) and prefer their verdict, the blob's first.
 * A flipped ciphertext byte thus reads as the HMAC mismatch it is, not as bad gzip.
 * A stage error keeps the source's class (HTTP, cancellation); the checks and decompression
 * themselves only fail on bad bytes. */
static void report(struct img_stream *blob, struct img_stream *top, struct cc_error **uerr,
		   const char *name, struct cc_error **err)
{
	if (!img_stream_error(blob))
		img_stream_drain(blob);
	const struct cc_error *b = img_stream_error(blob);
	const struct cc_error *t = img_stream_error(top);
	const struct cc_error *e = b ? b : t;
	if (e) {
		cc_error_set(err, 0, "%s", e->msg);
		img_error_code(err, e->code ? e->code : IMG_ERR_INTEGRITY);
	} else if (*uerr) {
		/* the message already ends with errno's text: keep the number, not a second copy */
		bool fresh = err && !*err;
		cc_error_set(err, 0, "%s: %s", name, (*uerr)->msg);
		if (fresh)
			(*err)->errnum = (*uerr)->errnum;
		img_error_code(err,
			       img_errno_is_io((*uerr)->errnum) ? IMG_ERR_IO : IMG_ERR_INVALID);
	}
	cc_error_free(uerr);
}

int img_layer_apply(struct img_store *store, const struct img_descriptor *d, const char *diff_id,
		    struct img_stream *src, const struct crypt_keys *keys, bool rootless,
		    struct cc_error **err)
{
	_cleanup_free_ char *name = xasprintf("layer %s", d->digest);
	/* The key first: without it there is no point in downloading anything. */
	struct crypt_layer *cl = NULL;
	if (d->encrypted && img_layer_decryptor(d, keys, &cl, err) < 0) {
		img_stream_free(src);
		return -1;
	}
	struct img_layer_txn txn;
	int r = img_store_layer_begin(store, diff_id, &txn, err);
	if (r != 0) {
		crypt_layer_free(cl);
		img_stream_free(src);
		if (r < 0)
			img_error_code(err, IMG_ERR_IO);
		return r;
	}
	_cleanup_free_ char *blob_what = xasprintf("blob %s", d->digest);
	_cleanup_free_ char *diff_what = xasprintf("%s: diff_id", name);
	struct img_stream *blob = img_stream_verify(src, blob_what, d->digest, d->size);
	if (cl)
		blob = img_stream_decrypt(blob, name, cl);
	struct img_stream *top = img_stream_verify(
	    img_stream_decompress(blob, name, d->compression), diff_what, diff_id, -1);
	struct img_unpack_opts o = { .mode = IMG_UNPACK_OVERLAY, .rootless = rootless };
	struct img_unpack_stats st;
	struct cc_error *uerr = NULL;
	/* The tar ends before the stream does (padding): read on to the end so that both digests
	 * are checked before anything is committed. */
	int u = txn.writer ? img_unpack_store(txn.writer, stream_read, top, &o, &st, &uerr)
			   : img_unpack(txn.dirfd, stream_read, top, &o, &st, &uerr);
	if (u < 0 || img_stream_drain(top) < 0) {
		report(blob, top, &uerr, name, err);
		img_stream_free(top);
		img_store_layer_abort(&txn);
		return -1;
	}
	img_stream_free(top);
	if (img_store_layer_commit(&txn, err) < 0)
		return img_error_code(err, IMG_ERR_IO);
	return 0;
}
