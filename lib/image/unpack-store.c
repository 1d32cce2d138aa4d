// SPDX-License-Identifier: Apache-2.0
/*
 * Layer unpacking into the encrypted store (unpack.h, img_unpack_store): the tar stream goes
 * straight into a layer writer of lib/store, file contents encrypted as they stream, nothing in
 * the clear on the host. The result is what IMG_UNPACK_OVERLAY makes of the same layer, in the
 * store's terms (a whiteout entry for a whiteout device, the opaque flag for the opaque xattr),
 * so the union view over it shows what overlayfs shows over the plain unpack.
 *
 * Whiteouts only hide what lower layers have (image-spec), whatever their place in the tar; the
 * writer's own whiteout replaces an entry of the layer, so the rules are applied here, with a
 * record of what the layer has at each path (as the plain unpacker learns it from its tree):
 *  - ".wh.NAME" where the layer has a non-directory NAME: nothing;
 *  - where it has a directory NAME of its own: NAME becomes opaque;
 *  - where it has a directory NAME made only to hold whiteouts, or nothing: a whiteout (the
 *    writer drops that directory whole);
 *  - below a non-directory or a whiteout of the layer: nothing (hidden already);
 *  - ".wh..wh..opq" of DIR: DIR opaque (made when missing), except the root (overlayfs ignores
 *    a layer root's opaque mark).
 * A later real entry takes a whiteout's place (the writer makes a directory there opaque).
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include "image/tar-internal.h"
#include "image/unpack.h"
#include "store/layer.h"
#include "util/cleanup.h"

/* What the layer has at a path (struct img_path's kind). */
enum { HAS_NOTHING = 0, HAS_DIR, HAS_OTHER, HAS_WHITEOUT };

struct sunpacker {
	struct store_layer_writer *w;
	const struct img_unpack_opts *o;
	struct img_unpack_stats *st;
	struct img_tar t;
	struct img_pathset set;
	struct store_xattr xattrs[IMG_UNPACK_MAX_XATTRS];
};

static uint8_t kind_at(struct sunpacker *u, const char *p, size_t len)
{
	struct img_path *n = img_pathset_find(&u->set, p, len);
	return n ? n->kind : HAS_NOTHING;
}

/* Whether a proper ancestor of path is a non-directory or a whiteout of the layer: the plain
 * unpacker cannot open it as a directory (ENOTDIR) and lets a whiteout there go. */
static bool blocked(struct sunpacker *u, const char *path)
{
	for (const char *s = strchr(path, '/'); s; s = strchr(s + 1, '/')) {
		uint8_t k = kind_at(u, path, (size_t)(s - path));
		if (k == HAS_OTHER || k == HAS_WHITEOUT)
			return true;
	}
	return false;
}

/* Forget everything recorded below path (a directory replaced by something else). */
static void forget_below(struct sunpacker *u, const char *path)
{
	size_t len = strlen(path);
	for (size_t i = 0; i < u->set.cap; i++)
		for (struct img_path *n = u->set.tab[i]; n; n = n->next)
			if (strncmp(n->path, path, len) == 0 && n->path[len] == '/')
				n->kind = HAS_NOTHING, n->own = false;
}

/* The layer now has kind at path: its ancestors are its own directories. */
static void record(struct sunpacker *u, const char *path, uint8_t kind, bool own)
{
	struct img_path *n = img_pathset_add(&u->set, path, strlen(path));
	if (n->kind == HAS_DIR && kind != HAS_DIR)
		forget_below(u, path);
	n->kind = kind;
	n->own = own;
	if (!own)
		return;
	for (size_t len = strlen(path); len > 0;) {
		while (len > 0 && path[len - 1] != '/')
			len--;
		if (len == 0)
			return;
		len--;
		n = img_pathset_add(&u->set, path, len);
		n->kind = HAS_DIR;
		if (n->own)
			return;
		n->own = true;
	}
}

/* Directories made on the way to a whiteout are not the layer's own, but are directories. */
static void record_parents(struct sunpacker *u, const char *path)
{
	for (const char *s = strchr(path, '/'); s; s = strchr(s + 1, '/')) {
		struct img_path *n = img_pathset_add(&u->set, path, (size_t)(s - path));
		n->kind = HAS_DIR;
	}
}

static int entry_attr(struct sunpacker *u, struct archive_entry *e, uint8_t type, bool is_link,
		      struct store_attr *a, struct cc_error **err)
{
	int64_t uid = archive_entry_uid(e), gid = archive_entry_gid(e);
	if (uid < 0 || uid >= UINT32_MAX || gid < 0 || gid >= UINT32_MAX)
		return img_unpack_fail(err, EINVAL, "owner %lld:%lld out of range", (long long)uid,
				       (long long)gid);
	*a = (struct store_attr){
		.type = type,
		.mode = is_link ? 0777 : (uint32_t)(archive_entry_perm(e) & 07777),
		.uid = (uint32_t)uid,
		.gid = (uint32_t)gid,
	};
	if (archive_entry_mtime_is_set(e)) {
		long ns = archive_entry_mtime_nsec(e);
		a->mtime_sec = archive_entry_mtime(e);
		a->mtime_nsec = ns < 0 || ns > 999999999 ? 0 : (uint32_t)ns;
	}
	if (type == STORE_TYPE_CHR || type == STORE_TYPE_BLK)
		a->rdev = makedev(archive_entry_rdevmajor(e), archive_entry_rdevminor(e));

	int count = archive_entry_xattr_reset(e);
	if (count > IMG_UNPACK_MAX_XATTRS)
		return img_unpack_fail(err, E2BIG, "more than %d xattrs", IMG_UNPACK_MAX_XATTRS);
	const char *name;
	const void *value;
	size_t size;
	while (count > 0 && archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
		if (!name || !*name || strlen(name) > IMG_XATTR_NAME_LIMIT)
			return img_unpack_fail(err, EINVAL, "invalid xattr name");
		if (size > IMG_XATTR_VALUE_LIMIT)
			return img_unpack_fail(err, E2BIG, "xattr %s: value larger than %u bytes",
					       name, IMG_XATTR_VALUE_LIMIT);
		/* As the plain unpacker: overlayfs metadata is not the layer's to forge, and the
		 * kernel refuses user.* on symbolic links. A repeated name: the last wins. */
		if (img_tar_overlay_xattr(name) || (is_link && strncmp(name, "user.", 5) == 0))
			continue;
		size_t i = 0;
		while (i < a->n_xattrs && strcmp(u->xattrs[i].name, name) != 0)
			i++;
		u->xattrs[i] = (struct store_xattr){ name, value, size };
		if (i == a->n_xattrs)
			a->n_xattrs++;
	}
	a->xattrs = a->n_xattrs ? u->xattrs : NULL;
	return 0;
}

/* The holes of a sparse entry: holes of the file's object (no limit: they cost nothing). */
static int zeros(struct sunpacker *u, uint64_t len, struct cc_error **err)
{
	return len ? store_layer_file_zeros(u->w, len, err) : 0;
}

static int do_regular(struct sunpacker *u, const char *path, struct archive_entry *e,
		      struct cc_error **err)
{
	struct store_attr a;
	const void *block;
	size_t size;
	int64_t off, end = 0;
	int r;

	if (entry_attr(u, e, STORE_TYPE_REG, false, &a, err) < 0 ||
	    store_layer_file_begin(u->w, path, &a, err) < 0)
		return -1;
	while ((r = img_tar_data(&u->t, &block, &size, &off, err)) > 0) {
		/* The writer streams: a sparse map must go forwards (GNU and pax maps do). */
		if (off < end)
			return img_unpack_fail(err, EINVAL, "sparse map goes backwards");
		if (zeros(u, (uint64_t)(off - end), err) < 0 ||
		    store_layer_file_write(u->w, block, size, err) < 0)
			return -1;
		end = off + (int64_t)size;
		u->st->bytes += size;
	}
	if (r < 0)
		return -1;
	/* A sparse file may end with a hole. */
	if (archive_entry_size_is_set(e) && archive_entry_size(e) > end &&
	    zeros(u, (uint64_t)(archive_entry_size(e) - end), err) < 0)
		return -1;
	return store_layer_file_end(u->w, err);
}

static int do_hardlink(struct sunpacker *u, const char *path, const char *rawtarget,
		       struct cc_error **err)
{
	_cleanup_free_ char *target = NULL;
	int k = img_tar_link_target(path, rawtarget, &target, err);
	if (k <= 0)
		return k; /* 0: a link to itself, nothing to do */
	if (kind_at(u, target, strlen(target)) == HAS_DIR)
		return img_unpack_fail(err, EPERM, "hardlink target \"%s\" is a directory", target);
	if (store_layer_hardlink(u->w, path, target, err) < 0)
		return cc_error_prefix(err, "hardlink target \"%s\"", target);
	return 0;
}

static int do_opaque(struct sunpacker *u, const char *dir, struct cc_error **err)
{
	if (strcmp(dir, ".") == 0)
		return 0; /* overlayfs ignores the opaque mark of a layer's root */
	uint8_t k = kind_at(u, dir, strlen(dir));
	if (k == HAS_OTHER || k == HAS_WHITEOUT || blocked(u, dir))
		return 0;
	if (store_layer_opaque(u->w, dir, err) < 0)
		return -1;
	if (k != HAS_DIR) {
		record(u, dir, HAS_DIR, false);
		record_parents(u, dir);
	}
	return 0;
}

static int do_whiteout(struct sunpacker *u, const char *dir, const char *base,
		       struct cc_error **err)
{
	_cleanup_free_ char *vpath = NULL;
	int k = img_tar_whiteout(dir, base, &vpath, u->st, err);
	if (k != IMG_WH_PATH)
		return k == IMG_WH_OPAQUE_DIR ? do_opaque(u, dir, err) : k < 0 ? -1 : 0;
	if (blocked(u, vpath))
		return 0;
	struct img_path *n = img_pathset_find(&u->set, vpath, strlen(vpath));
	if (n && (n->kind == HAS_OTHER || n->kind == HAS_WHITEOUT))
		return 0;
	if (n && n->kind == HAS_DIR && n->own)
		return store_layer_opaque(u->w, vpath, err);
	if (store_layer_whiteout(u->w, vpath, err) < 0)
		return -1;
	record(u, vpath, HAS_WHITEOUT, false);
	record_parents(u, vpath);
	return 0;
}

static int do_entry(struct sunpacker *u, struct archive_entry *e, struct cc_error **err)
{
	_cleanup_free_ char *path = img_tar_clean_name(archive_entry_pathname(e), err);
	if (!path)
		return -1;
	const char *hardlink = archive_entry_hardlink(e);
	mode_t type = archive_entry_filetype(e);
	struct store_attr a;

	if (strcmp(path, ".") == 0) {
		/* The root itself: only a directory entry makes sense (mode, owner, times). */
		if (hardlink || type != AE_IFDIR)
			return img_unpack_fail(err, EPERM, "cannot replace the layer root");
		if (entry_attr(u, e, STORE_TYPE_DIR, false, &a, err) < 0)
			return -1;
		return store_layer_mkdir(u->w, "", &a, err);
	}
	const char *base;
	_cleanup_free_ char *dir = img_tar_split_path(path, &base);
	if (strncmp(base, IMG_WH_PREFIX, strlen(IMG_WH_PREFIX)) == 0)
		return do_whiteout(u, dir, base, err);

	if (!hardlink &&
	    (type == AE_IFSOCK || ((type == AE_IFCHR || type == AE_IFBLK) && u->o->rootless))) {
		u->st->skipped++;
		return 0;
	}
	if (strlen(path) > STORE_PATH_MAX)
		return img_unpack_fail(err, ENAMETOOLONG, "name longer than %d bytes",
				       STORE_PATH_MAX);
	int r;
	uint8_t kind = HAS_OTHER;
	if (hardlink) {
		r = do_hardlink(u, path, hardlink, err);
	} else if (type == AE_IFREG) {
		r = do_regular(u, path, e, err);
	} else if (type == AE_IFDIR) {
		kind = HAS_DIR;
		r = entry_attr(u, e, STORE_TYPE_DIR, false, &a, err);
		if (r == 0)
			r = store_layer_mkdir(u->w, path, &a, err);
	} else if (type == AE_IFLNK) {
		const char *target = archive_entry_symlink(e);
		if (!target || !*target)
			return img_unpack_fail(err, EINVAL, "empty symlink target");
		if (strlen(target) > STORE_LINK_MAX)
			return img_unpack_fail(err, ENAMETOOLONG,
					       "symlink target longer than %d bytes",
					       STORE_LINK_MAX);
		r = entry_attr(u, e, STORE_TYPE_SYMLINK, true, &a, err);
		if (r == 0)
			r = store_layer_symlink(u->w, path, target, &a, err);
	} else if (type == AE_IFCHR || type == AE_IFBLK || type == AE_IFIFO) {
		uint8_t t = type == AE_IFCHR   ? STORE_TYPE_CHR
			    : type == AE_IFBLK ? STORE_TYPE_BLK
					       : STORE_TYPE_FIFO;
		r = entry_attr(u, e, t, false, &a, err);
		if (r == 0)
			r = store_layer_node(u->w, path, &a, err);
	} else {
		return img_unpack_fail(err, EINVAL, "unsupported entry type 0%o", (unsigned)type);
	}
	if (r == 0)
		record(u, path, kind, true);
	return r;
}

static int entry_cb(void *ctx, struct archive_entry *e, struct cc_error **err)
{
	return do_entry(ctx, e, err);
}

int img_unpack_store(struct store_layer_writer *w, img_read_fn read_fn, void *ctx,
		     const struct img_unpack_opts *o, struct img_unpack_stats *stats,
		     struct cc_error **err)
{
	struct img_unpack_stats dummy = { 0 };
	struct sunpacker u = { .w = w, .o = o, .st = stats ? stats : &dummy };
	if (img_tar_open(&u.t, read_fn, ctx, err) < 0)
		return -1;
	int ret = img_tar_each(&u.t, u.st, entry_cb, &u, err);
	img_tar_close(&u.t);
	img_pathset_free(&u.set);
	return ret;
}
