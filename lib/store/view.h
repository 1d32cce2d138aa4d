/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The union view (docs/store.md, "The view"): a FUSE file system (libfuse3, low-level API)
 * serving an image's layers from an open store as one merged rootfs, as kernel overlayfs would
 * show the same layers, and, when the caller names one, a writable layer on top whose state is
 * kept in memory (file contents in memfds, never in the clear on the host disk) and persisted
 * into the store as the replaceable layer "upper:<name>" at fsync, fsyncdir and unmount.
 *
 * Errors are one line, "view MOUNTPOINT: ...". A damaged object fails the operation with EIO
 * and one log line (cc_log) naming the path in the view and the store's error; never other
 * bytes.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include "store/store.h"
#include "util/error.h"

struct store_view_opts {
	const char *const *layers; /* diff_ids, lowest first (the image's order) */
	size_t n_layers;
	const char *upper; /* writable layer's name, NULL for a read-only view */
	bool allow_other;  /* -o allow_other (containers run as other uids) */
	int ready_fd;	   /* >= 0: one byte written (then closed) once mounted */
};

/* The diff_id under which the writable layer name is persisted: "upper:<name>" (a new
 * string), or NULL when it would not be a valid diff_id. */
char *store_view_upper_id(const char *name);

/*
 * Mount at mountpoint and serve until it is unmounted (umount2 / fusermount3 -u) or
 * store_view_stop; 0 after a clean unmount (the upper persisted), -1 with *err. Every layer
 * named must be in the store (ENOENT naming it, before mounting); an existing upper layer of
 * that name is loaded as the writable layer's state. As root the mount allows setuid files
 * and device nodes (a container's rootfs); permissions are checked by the kernel
 * (default_permissions). The store must stay open and must not be used by other threads for
 * writing layers while the view serves (it reads layers and replaces the upper).
 */
CC_MUST_CHECK int store_view_serve(struct store *s, const char *mountpoint,
				   const struct store_view_opts *o, struct cc_error **err);

/* Unmount mountpoint (lazily when busy), which ends its store_view_serve. */
CC_MUST_CHECK int store_view_stop(const char *mountpoint, struct cc_error **err);

/* Unmount and drop: remove the writable layer name from the store and collect its objects
 * (store_remove_layer, store_gc). ENOENT when the store has no such layer. */
CC_MUST_CHECK int store_view_drop(struct store *s, const char *name, struct cc_error **err);
