/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the two layer unpackers share (unpack.c into a directory, unpack-store.c into the
 * encrypted store): the tar reader around libarchive and the rules for names, times, modes and
 * xattrs of entries. Internal to lib/image.
 */
#pragma once

#include <archive.h>
#include <archive_entry.h>
#include <locale.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <sys/types.h>
#include "image/unpack.h"
#include "util/error.h"

#define IMG_WH_PREFIX ".wh."
#define IMG_WH_OPAQUE ".wh..wh..opq"
#define IMG_XATTR_NAME_LIMIT 255
#define IMG_XATTR_VALUE_LIMIT (64u << 10)

/* A tar stream being read: libarchive as a tar reader only (ustar/pax/GNU), names as the bytes
 * in the tar (pax UTF-8 names are not converted to the locale's charset). */
struct img_tar {
	struct archive *a;
	img_read_fn read_fn;
	void *ctx;
	int read_errno;
	char *buf;
	locale_t loc, old;
};

CC_MUST_CHECK int img_tar_open(struct img_tar *t, img_read_fn read_fn, void *ctx,
			       struct cc_error **err);
/* The next entry's header: 1 (in *e, valid until the next call), 0 at the end, -1. */
CC_MUST_CHECK int img_tar_next(struct img_tar *t, struct archive_entry **e, struct cc_error **err);
/* The next block of the current entry's data: 1 (*block, *size bytes at *off), 0 at its
 * end, -1. */
CC_MUST_CHECK int img_tar_data(struct img_tar *t, const void **block, size_t *size, int64_t *off,
			       struct cc_error **err);
/* Every entry in turn to fn (counted in stats->entries); an error of fn is prefixed with the
 * entry's name ("layer entry \"NAME\": ..."). 0 at the end of the tar, or -1. */
CC_MUST_CHECK int img_tar_each(struct img_tar *t, struct img_unpack_stats *stats,
			       int (*fn)(void *ctx, struct archive_entry *e, struct cc_error **err),
			       void *ctx, struct cc_error **err);
/* An error of the reader (what failed: "read data", ...) into *err; -1. */
int img_tar_fail(struct img_tar *t, struct cc_error **err, const char *what);
void img_tar_close(struct img_tar *t);

/* Like cc_error_set() but with an errno value that is not appended to the message. */
int img_unpack_fail(struct cc_error **err, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Cleaned relative path of a tar name ("." for the root); absolute names are rooted at the
 * layer root; a name climbing above the root is refused. */
CC_MUST_CHECK char *img_tar_clean_name(const char *raw, struct cc_error **err);
/* Splits a cleaned path (not ".") into its directory (allocated; "." for the root) and base. */
char *img_tar_split_path(const char *path, const char **base);
/* A printable, bounded copy of a tar name for error messages. */
char *img_tar_printable(const char *raw);
/* The target of the hard link at path, as a tar names it (rawtarget): 1 with *target (cleaned,
 * allocated), 0 for a link to itself (nothing to do), -1 for a name that climbs out of the
 * root or the root itself (a directory). */
CC_MUST_CHECK int img_tar_link_target(const char *path, const char *rawtarget, char **target,
				      struct cc_error **err);
/* What the entry named base (starting IMG_WH_PREFIX) in directory dir ("." for the root) is:
 * IMG_WH_OPAQUE_DIR (".wh..wh..opq": dir is opaque), IMG_WH_SKIP (aufs metadata, ".wh..wh.*":
 * counted in stats->skipped), IMG_WH_PATH (".wh.NAME": *vpath, allocated, is dir/NAME), or -1
 * for a name that cannot be whited out. */
enum { IMG_WH_SKIP, IMG_WH_OPAQUE_DIR, IMG_WH_PATH };
CC_MUST_CHECK int img_tar_whiteout(const char *dir, const char *base, char **vpath,
				   struct img_unpack_stats *stats, struct cc_error **err);
/* overlayfs's own xattrs, which a layer must not forge (whiteouts are the only way). */
bool img_tar_overlay_xattr(const char *name);

/*
 * One path of the layer, cleaned and relative to the root ("." is the root). Used for two things:
 *  - directories whose mode and times are applied after all entries (dir = true);
 *  - in APPLY mode, every path the layer created (and its ancestors), so that an opaque whiteout
 *    keeps what this layer made, whatever the order in the tar.
 * The encrypted-store unpacker uses kind and own. Cost: sizeof(struct img_path) (~72 bytes) + path
 * length + 1, per directory (both modes) and per created path (APPLY mode); paths are bounded by
 * PATH_MAX.
 */
struct img_path {
	struct img_path *next;
	uint32_t hash;
	bool dir;     /* a directory entry of the layer: mode and times at the end */
	bool own;     /* the layer has this path (an entry, or the parent of one), not only
		       * whiteouts in it */
	bool opaque;  /* OVERLAY: marked opaque */
	uint8_t kind; /* unpack-store.c: what the layer has at the path */
	mode_t mode;
	dev_t dev;
	ino_t ino;
	struct timespec ts[2];
	char path[];
};

struct img_pathset {
	struct img_path **tab;
	size_t cap, n;
};

/* Find path (len bytes), NULL if absent; add it (zeroed) unless present; whether it is own. */
struct img_path *img_pathset_find(struct img_pathset *s, const char *p, size_t len);
struct img_path *img_pathset_add(struct img_pathset *s, const char *p, size_t len);
bool img_pathset_own(struct img_pathset *s, const char *p, size_t len);
void img_pathset_free(struct img_pathset *s);
