// SPDX-License-Identifier: Apache-2.0
/* The layer pipeline: verify, decompress, verify, unpack, commit. See layer.h. */
#include <errno.h>
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
 * match the blob digest: read the rest of the blob through its check and prefer that verdict. */
static void report(struct img_stream *blob, struct img_stream *top, struct cc_error **uerr,
		   const char *name, struct cc_error **err)
{
	if (!img_stream_error(blob))
		img_stream_drain(blob);
	const struct cc_error *b = img_stream_error(blob);
	const struct cc_error *t = img_stream_error(top);
	if (b)
		cc_error_set(err, 0, "%s", b->msg);
	else if (t)
		cc_error_set(err, 0, "%s", t->msg);
	else if (*uerr)
		cc_error_set(err, (*uerr)->errnum, "%s: %s", name, (*uerr)->msg);
	cc_error_free(uerr);
}

int img_layer_apply(struct img_store *store, const struct img_descriptor *d, const char *diff_id,
		    struct img_stream *src, bool rootless, struct cc_error **err)
{
	_cleanup_free_ char *name = xasprintf("layer %s", d->digest);
	if (d->encrypted) {
		img_stream_free(src);
		return cc_error_set(err, 0, "%s: encrypted (%s): no decryption key provider", name,
				    d->media_type);
	}
	struct img_layer_txn txn;
	int r = img_store_layer_begin(store, diff_id, &txn, err);
	if (r != 0) {
		img_stream_free(src);
		return r;
	}
	_cleanup_free_ char *blob_what = xasprintf("blob %s", d->digest);
	_cleanup_free_ char *diff_what = xasprintf("%s: diff_id", name);
	struct img_stream *blob = img_stream_verify(src, blob_what, d->digest, d->size);
	struct img_stream *top = img_stream_verify(
	    img_stream_decompress(blob, name, d->compression), diff_what, diff_id, -1);
	struct img_unpack_opts o = { .mode = IMG_UNPACK_OVERLAY, .rootless = rootless };
	struct img_unpack_stats st;
	struct cc_error *uerr = NULL;
	/* The tar ends before the stream does (padding): read on to the end so that both digests
	 * are checked before anything is committed. */
	if (img_unpack(txn.dirfd, stream_read, top, &o, &st, &uerr) < 0 ||
	    img_stream_drain(top) < 0) {
		report(blob, top, &uerr, name, err);
		img_stream_free(top);
		img_store_layer_abort(&txn);
		return -1;
	}
	img_stream_free(top);
	return img_store_layer_commit(&txn, err);
}
