/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OCI image layer unpacking: the untar stage of the pull pipeline.
 *
 * libarchive is used only as a tar reader (ustar/pax/GNU, no decompression: the stream handed
 * in is already uncompressed). Extraction is our own code: every path is resolved below rootfd
 * with openat2(RESOLVE_IN_ROOT), final components are never followed, so no entry (`..`,
 * absolute names, symlinked parents, hardlink targets, whiteouts) can reach outside the root.
 *
 * Name handling: absolute names are taken relative to the root ("/etc/x" lands in root/etc/x,
 * like umoci); a name or hardlink target that climbs above the root lexically ("../x",
 * "a/../../x") is refused with an error. Symlinks met while resolving parents are followed as if
 * rootfd were "/".
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "util/error.h"

/*
 * Whiteouts (".wh.NAME", ".wh..wh..opq") only ever hide what lower layers have, whatever their
 * place in the tar (image-spec): the layer's own entries stay, before or after them. The
 * layer's own paths are its entries and the directories that hold them; whiteouts are not
 * entries (a directory the layer has only to hold whiteouts is not its own). So:
 *  - ".wh.NAME" of a non-directory of the layer: nothing (it hides the lower NAME itself);
 *  - ".wh.NAME" of a directory of the layer: the lower NAME's content is hidden, the layer's
 *    content of NAME stays (as if NAME had an opaque marker);
 *  - ".wh..wh..opq" of DIR: the lower content of DIR is hidden, the layer's stays;
 *  - otherwise NAME is hidden whole; whiteouts below a hidden path are moot.
 */
enum img_unpack_mode {
	/* One layer into its own empty directory, in overlayfs format: a whiteout ".wh.NAME"
	 * becomes a char device 0/0 named NAME, or, when the layer has a directory NAME, makes
	 * it opaque (the xattr trusted.overlay.opaque="y", or user.overlay.opaque when rootless
	 * and trusted.* is refused); ".wh..wh..opq" makes its directory opaque (made if missing:
	 * overlayfs then shows it, empty, even where no lower layer has it). Whiteout devices
	 * below an opaque directory are removed (overlayfs would list them there). */
	IMG_UNPACK_OVERLAY,
	/* Apply a layer on top of what is already in the directory (a flattened rootfs, what
	 * `umoci unpack` produces): ".wh.NAME" removes NAME (recursively) or, for a directory of
	 * the layer, what lower layers left in it; ".wh..wh..opq" removes everything in its
	 * directory that came from lower layers. Entries are applied in tar order. */
	IMG_UNPACK_APPLY,
};

struct img_unpack_opts {
	enum img_unpack_mode mode;
	/* No chown/mknod of devices: device nodes are skipped (counted in stats.skipped), chown and
	 * privileged-xattr failures with EPERM/EINVAL are ignored. */
	bool rootless;
};

struct img_unpack_stats {
	uint64_t entries; /* tar entries processed (whiteouts included) */
	uint64_t bytes;	  /* file data bytes written */
	uint64_t skipped; /* entries skipped (devices in rootless mode, sockets, aufs metadata) */
};

/* Read callback delivering the uncompressed tar stream: returns bytes (>0), 0 at end, -1 with
 * errno on error. The caller's pipeline (digest, decompress, diff_id) sits in front of it. */
typedef ssize_t (*img_read_fn)(void *ctx, void *buf, size_t len);

/*
 * Unpack one layer into the directory rootfd (any fd of a directory, O_PATH is fine).
 * Returns 0, or -1 with *err set to one line naming the tar entry and the reason, e.g.
 * `layer entry "etc/../../x": escapes the layer root`. On error the tree is left half-written:
 * the caller removes the staging directory.
 *
 * Memory: bounded per entry (names are limited to PATH_MAX, xattrs to IMG_UNPACK_MAX_XATTRS of
 * at most 64 KiB each, file data is copied block by block). Across the layer, one record is
 * kept per directory (for its final mode and mtime, and whether it is the layer's own) and,
 * in APPLY mode, per path created by the layer (for whiteouts): about 80 bytes plus the path
 * length each; in OVERLAY mode the path of each whiteout device made.
 *
 * Files keep their holes: those of sparse entries (GNU and pax sparse maps) and any 4 KiB
 * block of zeros, which is not written (a small layer cannot fill the disk with zeros).
 */
CC_MUST_CHECK int img_unpack(int rootfd, img_read_fn read_fn, void *ctx,
			     const struct img_unpack_opts *o, struct img_unpack_stats *stats,
			     struct cc_error **err);

/*
 * Unpack one layer into the encrypted store's layer writer w (lib/store/layer.h): what
 * IMG_UNPACK_OVERLAY makes of the layer, in the store's terms (a whiteout entry for each
 * whiteout device, the opaque flag for the opaque xattr), file contents encrypted as they
 * stream, the holes of sparse entries kept as holes. o->mode must be IMG_UNPACK_OVERLAY. The
 * caller commits or aborts w. One difference from the plain unpacker: an entry below a
 * symbolic link of the layer is refused (ENOTDIR) where the plain unpacker follows the link
 * inside the root.
 */
struct store_layer_writer;
CC_MUST_CHECK int img_unpack_store(struct store_layer_writer *w, img_read_fn read_fn, void *ctx,
				   const struct img_unpack_opts *o, struct img_unpack_stats *stats,
				   struct cc_error **err);

#define IMG_UNPACK_MAX_XATTRS 128
