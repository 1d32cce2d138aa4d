/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Inodes, directories and layers in the store (docs/store.md, "Inodes, directories and
 * layers"): every file, directory, symbolic link, device and fifo of a layer is one protected
 * object whose attribute area holds its attributes; a directory's content is its sorted
 * entries (name, kind, type, id, root MAC); a layer record (its id derived from the diff_id)
 * names the root directory and the hard links.
 *
 * The writer is the sink a tar unpacker writes to: entries by path in any order, contents
 * streamed, directories kept in memory and written bottom-up at commit. The reader looks
 * names up, lists directories, reads contents and link targets; every object is opened with
 * the id and root MAC its parent holds, so anything the host changed is EIO.
 *
 * Paths given to the writer are relative to the layer root: components separated by single
 * '/', no leading or trailing '/', no empty, "." or ".." component, each at most 255 bytes,
 * no NUL; at most 4095 bytes in all. "" is the root itself (for store_layer_mkdir and
 * store_layer_opaque). Errors name the layer by diff_id and the path ("layer sha256:ab..:
 * usr/bin/sh: ..."), then the object and what failed.
 *
 * Threads: a writer or a reader is used by one thread at a time; distinct writers and readers
 * of one store may run in parallel.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "store/store.h"
#include "util/error.h"

/* Inode types, as in the attributes and directory entries. */
enum store_type {
	STORE_TYPE_NONE = 0, /* a whiteout's entry */
	STORE_TYPE_REG = 1,
	STORE_TYPE_DIR = 2,
	STORE_TYPE_SYMLINK = 3,
	STORE_TYPE_CHR = 4,
	STORE_TYPE_BLK = 5,
	STORE_TYPE_FIFO = 6,
};

/* Attribute flags. */
#define STORE_FLAG_OPAQUE 0x0001 /* a directory hiding what lower layers have below it */

/* Limits of the encoding (bigger is EINVAL when writing, EIO when reading). */
#define STORE_NAME_MAX 255
#define STORE_PATH_MAX 4095
#define STORE_XATTR_VALUE_MAX 65536
/* The encoded xattrs of one inode when spilled to their own object. */
#define STORE_XATTRS_MAX (1u << 20)
/* A directory's content (about 200000 entries of 300 bytes). */
#define STORE_DIR_MAX (64u << 20)
/* A symbolic link's target. */
#define STORE_LINK_MAX 4095
/* The fixed part of the attribute area, and the spilled form (marker, id, root MAC). */
#define STORE_ATTR_FIXED 40
#define STORE_ATTR_SPILLED (STORE_ATTR_FIXED + STORE_ID_LEN + STORE_MAC_LEN)

/* Owned by the struct store_attr holding it when a parser or store_attr_copy made it, the
 * caller's otherwise (const: the writer only reads them). */
struct store_xattr {
	const char *name; /* 1 to 255 bytes, NUL-terminated */
	const uint8_t *value;
	size_t value_len; /* at most STORE_XATTR_VALUE_MAX */
};

/* An inode's attributes. The xattrs are sorted by name (bytes) when they come from a reader;
 * a writer takes them in any order (duplicate names are EINVAL). */
struct store_attr {
	uint8_t type;	/* enum store_type */
	uint16_t flags; /* STORE_FLAG_* (directories only) */
	uint32_t mode;	/* permission bits, setuid, setgid, sticky (07777) */
	uint32_t uid, gid;
	int64_t mtime_sec;
	uint32_t mtime_nsec; /* below 10^9 */
	uint64_t rdev;	     /* devices only, 0 otherwise */
	struct store_xattr *xattrs;
	size_t n_xattrs;
};

/* Free what a parser or store_attr_copy allocated (the xattrs) and zero the struct. */
void store_attr_clear(struct store_attr *a);
/* A deep copy of src into dst. */
void store_attr_copy(struct store_attr *dst, const struct store_attr *src);

/* ---- the encodings (also for fuzzing and host tools) ---- */

/*
 * Encode a's fixed fields and xattrs into an attribute area of out (STORE_PF_ATTR_MAX bytes).
 * When the xattrs do not fit, *xattrs (a new buffer of *xattrs_len bytes, the caller frees)
 * is what must go into the xattr object, and the caller completes the area with
 * store_attr_set_spilled once that object is written; otherwise *xattrs is NULL. The xattrs
 * are sorted by name. EINVAL for attributes the format cannot hold.
 */
CC_MUST_CHECK int store_attr_encode(const struct store_attr *a, uint8_t out[STORE_PF_ATTR_MAX],
				    size_t *len, uint8_t **xattrs, size_t *xattrs_len,
				    struct cc_error **err);
/* Complete a spilled area: marker, the xattr object's id and root MAC; *len becomes
 * STORE_ATTR_SPILLED. */
void store_attr_set_spilled(uint8_t out[STORE_PF_ATTR_MAX], size_t *len,
			    const uint8_t id[STORE_ID_LEN], const uint8_t mac[STORE_MAC_LEN]);
/*
 * Parse an attribute area into *a. When its xattrs are spilled, *spilled is true and
 * spill_id and spill_mac name their object (parse its content with store_xattrs_parse);
 * otherwise the xattrs are in *a. EIO ("attributes: ...") for anything the format does not
 * allow (unknown version, type or flags, mode bits outside 07777, nanoseconds over 10^9, rdev
 * on a non-device, bad or trailing lengths, xattrs unsorted or repeated).
 */
CC_MUST_CHECK int store_attr_parse(const void *buf, size_t len, struct store_attr *a, bool *spilled,
				   uint8_t spill_id[STORE_ID_LEN], uint8_t spill_mac[STORE_MAC_LEN],
				   struct cc_error **err);
/* Parse an xattr area (per xattr: u16 name length, name, u32 value length, value; sorted by
 * name, no repeats) into a->xattrs (replacing none: a must have none). EIO on damage. */
CC_MUST_CHECK int store_xattrs_parse(const void *buf, size_t len, struct store_attr *a,
				     struct cc_error **err);

/* One entry of a directory's content, pointing into the buffer it was parsed from. */
struct store_dir_entry {
	const uint8_t *name;
	size_t name_len;
	uint8_t kind; /* 0 an inode, 1 a whiteout */
	uint8_t type; /* enum store_type; 0 for a whiteout */
	const uint8_t *id, *mac;
};

#define STORE_ENTRY_INODE 0
#define STORE_ENTRY_WHITEOUT 1

/*
 * Parse a directory's content (u32 count, then the entries, sorted by name as memcmp with the
 * shorter first on a tie, docs/store.md). On success *entries (*count of them, pointing into
 * buf) is the caller's to free. EIO ("directory: entry 3: ...") for bad lengths or names, an
 * unknown kind or type, a whiteout with an id, entries out of order or repeated, bytes left
 * over.
 */
CC_MUST_CHECK int store_dir_parse(const void *buf, size_t len, struct store_dir_entry **entries,
				  size_t *count, struct cc_error **err);

/* A layer record's content: u32 version (1) || root directory id || root MAC || u32 count ||
 * per hard-linked object: id 16, u32 link count (2 or more), sorted by id. */
struct store_record {
	uint8_t root_id[STORE_ID_LEN];
	uint8_t root_mac[STORE_MAC_LEN];
	size_t n_links;
	uint8_t *links; /* n_links × (id 16 || u32 count) as in the content */
};
/* EIO ("layer record: ...") on anything else; on success r->links is the caller's (free). */
CC_MUST_CHECK int store_record_parse(const void *buf, size_t len, struct store_record *r,
				     struct cc_error **err);

/* ---- writing a layer ---- */

struct store_layer_writer;

/*
 * Begin the layer diff_id (EEXIST when the store has it already). The root directory starts
 * as mode 0755, owner 0, mtime 0 (store_layer_mkdir of "" sets it). Every call below fails
 * for good after a failure of any of them (the layer is then beyond repair: abort it). The
 * caller finishes with store_layer_commit or store_layer_abort, which free the writer.
 */
CC_MUST_CHECK int store_layer_begin(struct store *s, const char *diff_id,
				    struct store_layer_writer **out, struct cc_error **err);
/*
 * A directory (a->type is 0 or STORE_TYPE_DIR). Given again, or after an entry below it made
 * it, it keeps its entries and takes the new attributes; its opaque flag is the union of the
 * flags it was given. A directory replacing a whiteout of its name is opaque (what lower
 * layers had there stays hidden; its entries in this layer show).
 */
CC_MUST_CHECK int store_layer_mkdir(struct store_layer_writer *w, const char *path,
				    const struct store_attr *a, struct cc_error **err);
/* A regular file (a->type is 0 or STORE_TYPE_REG): begin, write its content in pieces of
 * any size (encrypted into its object as they come; a file of at most 64 KiB is kept in
 * memory and encrypted by a worker thread after end, and an error there fails the commit),
 * end. No other call may come between begin and end. */
CC_MUST_CHECK int store_layer_file_begin(struct store_layer_writer *w, const char *path,
					 const struct store_attr *a, struct cc_error **err);
CC_MUST_CHECK int store_layer_file_write(struct store_layer_writer *w, const void *buf, size_t len,
					 struct cc_error **err);
/* len zero bytes of the file: a sparse file's hole, kept as holes of its object (nothing
 * written for whole chunks of them: the host sees where they are, in whole chunks). */
CC_MUST_CHECK int store_layer_file_zeros(struct store_layer_writer *w, uint64_t len,
					 struct cc_error **err);
CC_MUST_CHECK int store_layer_file_end(struct store_layer_writer *w, struct cc_error **err);
/* A symbolic link to target (1 to STORE_LINK_MAX bytes, no NUL; a->type 0 or SYMLINK). */
CC_MUST_CHECK int store_layer_symlink(struct store_layer_writer *w, const char *path,
				      const char *target, const struct store_attr *a,
				      struct cc_error **err);
/* A hard link: path becomes another name of the inode at target_path, given earlier and not a
 * directory (ENOENT, EISDIR otherwise). A later entry replacing target_path does not change
 * what path names, as in tar. */
CC_MUST_CHECK int store_layer_hardlink(struct store_layer_writer *w, const char *path,
				       const char *target_path, struct cc_error **err);
/* A device or fifo: a->type is STORE_TYPE_CHR, STORE_TYPE_BLK (with a->rdev) or
 * STORE_TYPE_FIFO. Attributes only: nothing is made on the host. */
CC_MUST_CHECK int store_layer_node(struct store_layer_writer *w, const char *path,
				   const struct store_attr *a, struct cc_error **err);
/* A whiteout: path's name is hidden in lower layers (it replaces an entry of this layer given
 * earlier under that name, a whole directory included). */
CC_MUST_CHECK int store_layer_whiteout(struct store_layer_writer *w, const char *path,
				       struct cc_error **err);
/* Mark directory path ("" for the root) opaque, making it (0755, owner 0) if missing. */
CC_MUST_CHECK int store_layer_opaque(struct store_layer_writer *w, const char *path,
				     struct cc_error **err);
/*
 * Write the directories bottom-up, the record, a new index (generation + 1) and the pointer.
 * Objects written for entries that a later entry replaced (and no hard link keeps) are
 * removed. Frees w, on success and on failure; on failure nothing of the layer is referenced
 * and its objects are removed.
 */
CC_MUST_CHECK int store_layer_commit(struct store_layer_writer *w, struct cc_error **err);
/*
 * Begin a new version of the replaceable layer diff_id (store.h, STORE_REPLACEABLE_PREFIX;
 * EINVAL otherwise), whether or not the store has one: store_layer_commit then replaces the
 * previous version with store_index_replace (a crash leaves the previous one whole).
 */
CC_MUST_CHECK int store_layer_begin_replace(struct store *s, const char *diff_id,
					    struct store_layer_writer **out, struct cc_error **err);
/*
 * Place an object the store holds already (a version of the same layer wrote it) at path,
 * without writing it again: type is its type (not a directory), id and mac name it. The
 * object is opened and its type checked (EIO when it does not authenticate or differs).
 * Giving one object at several paths makes them hard links.
 */
CC_MUST_CHECK int store_layer_reference(struct store_layer_writer *w, const char *path,
					uint8_t type, const uint8_t id[STORE_ID_LEN],
					const uint8_t mac[STORE_MAC_LEN], struct cc_error **err);
/* The type, id and root MAC of the non-directory inode the writer has at path so far (ENOENT
 * when there is none): what a caller references in the next version. */
CC_MUST_CHECK int store_layer_entry(struct store_layer_writer *w, const char *path, uint8_t *type,
				    uint8_t id[STORE_ID_LEN], uint8_t mac[STORE_MAC_LEN],
				    struct cc_error **err);
/* Remove every object written so far and free w; NULL is fine. The index is unchanged. */
void store_layer_abort(struct store_layer_writer *w);

/* ---- reading a layer ---- */

struct store_layer_reader;
/* An inode of an open layer: owned by the reader, valid until store_layer_close. Names that
 * are hard links of one another give the same inode. */
struct store_inode;

/* Open the layer diff_id (ENOENT when the index does not list it): its record, checked
 * against the index, and its root directory. *out is the caller's (store_layer_close). */
CC_MUST_CHECK int store_layer_open(struct store *s, const char *diff_id,
				   struct store_layer_reader **out, struct cc_error **err);
void store_layer_close(struct store_layer_reader *r);
struct store_inode *store_layer_root(struct store_layer_reader *r);

/* What a lookup found. */
enum store_lookup {
	STORE_ABSENT = 0,   /* no entry of that name */
	STORE_FOUND = 1,    /* an inode, in *out */
	STORE_WHITEOUT = 2, /* a whiteout: the name is hidden in lower layers */
};
/* Look name (one component) up in directory dir: enum store_lookup, or -1 (ENOTDIR when dir
 * is not a directory, EIO on damage). */
CC_MUST_CHECK int store_layer_lookup(struct store_layer_reader *r, struct store_inode *dir,
				     const char *name, struct store_inode **out,
				     struct cc_error **err);
/* Look a path ("" the root) up from the root, component by component, following no symbolic
 * link: STORE_ABSENT also when a component before the last is not a directory; STORE_WHITEOUT
 * when the last component is a whiteout. */
CC_MUST_CHECK int store_layer_lookup_path(struct store_layer_reader *r, const char *path,
					  struct store_inode **out, struct cc_error **err);

/* One directory entry as store_layer_readdir gives it. */
struct store_dirent {
	char name[STORE_NAME_MAX + 1];
	uint8_t kind; /* STORE_ENTRY_INODE or STORE_ENTRY_WHITEOUT */
	uint8_t type; /* enum store_type; 0 for a whiteout */
};
/* Entry number pos (0, 1, ... in name order, whiteouts included) of directory dir into *out:
 * 1, 0 past the last entry, or -1 (ENOTDIR, EIO). */
CC_MUST_CHECK int store_layer_readdir(struct store_layer_reader *r, struct store_inode *dir,
				      size_t pos, struct store_dirent *out, struct cc_error **err);
/* The attributes, xattrs included (owned by the reader, valid until store_layer_close), and
 * the content's size (a file's bytes, a link target's length, a directory's encoding). */
const struct store_attr *store_layer_getattr(const struct store_inode *ino);
uint64_t store_layer_size(const struct store_inode *ino);
/* The inode's object id (16 bytes): unique in the layer, stable for the layer's life (an
 * inode number for the view; host tools find its file under objects/ by it). */
const uint8_t *store_layer_inode_id(const struct store_inode *ino);
/* The inode's object root MAC (16 bytes): with the id, what opens its object on its own
 * (store_object_open), e.g. one reader per open file. */
const uint8_t *store_layer_inode_mac(const struct store_inode *ino);
/* The link count: the record's count for a hard-linked object, 1 for another non-directory,
 * 2 + the number of subdirectories for a directory (its entries are read for it). */
CC_MUST_CHECK int store_layer_nlink(struct store_layer_reader *r, struct store_inode *ino,
				    uint32_t *nlink, struct cc_error **err);
/* Read up to len bytes at off of a regular file: bytes read (0 at or past the end), or -1
 * (EINVAL for another type, EIO on damage). */
CC_MUST_CHECK ssize_t store_layer_read(struct store_layer_reader *r, struct store_inode *ino,
				       void *buf, size_t len, uint64_t off, struct cc_error **err);
/* A symbolic link's target, NUL-terminated, the caller's to free (EINVAL for another type). */
CC_MUST_CHECK char *store_layer_readlink(struct store_layer_reader *r, struct store_inode *ino,
					 struct cc_error **err);

/*
 * Call fn with the id of every object the layer record (record_id, record_mac) references:
 * the record itself, directories, files, links, nodes and spilled xattrs, each opened and
 * authenticated on the way (a hard link's object once per name). store_gc marks with it; fsck
 * can check with it. It takes no lock of the store (store_gc calls it holding the index lock).
 */
CC_MUST_CHECK int store_record_objects(struct store *s, const uint8_t record_id[STORE_ID_LEN],
				       const uint8_t record_mac[STORE_MAC_LEN],
				       void (*fn)(void *ctx, const uint8_t id[STORE_ID_LEN]),
				       void *ctx, struct cc_error **err);
