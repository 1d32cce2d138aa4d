// SPDX-License-Identifier: Apache-2.0
/*
 * The union view (view.h, docs/store.md "The view"): libfuse3's low-level API over the layer
 * readers of a store, and a writable layer kept in memory and persisted as a replaceable layer.
 *
 * One mutex (struct view.lock) guards the vnodes, the writable layer's tree and the layer
 * readers (a reader is used by one thread at a time). Reads of an open file take no part in
 * it: each open file has its own protected-object reader (store_object_open with the inode's
 * id and root MAC) behind a lock of its own, or reads the memfd holding a written file.
 */
#define FUSE_USE_VERSION 35
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>
#include "store/layer.h"
#include "store/view.h"
#include "util/cleanup.h"
#include "util/le.h"
#include "util/log.h"

/* Copies and reads of contents go in pieces of this size. */
#define IO_CHUNK (1u << 20)
/* Entries and attributes that cannot change (a read-only view, lower layers). */
#define TTL_LONG 86400.0
/* Entries of the writable layer (changed only through this mount, but hard links broken by a
 * copy-up may alias for a moment). */
#define TTL_UPPER 1.0
/* Inode numbers: the top byte is 0x01 for the writable layer, 2 + the index for a lower one;
 * the rest is a counter or the object id's first 56 bits. */
#define INO_UPPER (1ull << 56)
#define INO_LOW_MASK ((1ull << 56) - 1)
#define LAYERS_MAX 250

struct unode;

/* An entry of a directory of the writable layer. */
struct uent {
	char *name;
	bool whiteout;
	struct unode *node; /* NULL for a whiteout */
};

/* An inode of the writable layer. */
struct unode {
	struct store_attr attr; /* owns its xattrs */
	uint64_t ino;
	unsigned refs;	/* names + a vnode + open files */
	unsigned nlink; /* names in the tree */
	struct uent *ents;
	size_t n, cap; /* a directory's entries, sorted by name */
	int fd;	       /* a regular file's content (memfd), -1 while only in the store */
	uint64_t size;
	char *target; /* a symbolic link's */
	bool stored;  /* equal to the object (id, mac) of the persisted layer */
	uint8_t id[STORE_ID_LEN], mac[STORE_MAC_LEN];
	struct vnode *vn;
	/* Persisting: the path it was first written at in this round, and what it became. */
	uint64_t round;
	char *first_path;
	uint8_t new_id[STORE_ID_LEN], new_mac[STORE_MAC_LEN];
};

/* A lower directory merged into a view directory. */
struct ldir {
	unsigned layer;
	struct store_inode *ino;
};

/* An inode of the view as the kernel knows it (its node id is the pointer, 1 for the root). */
struct vnode {
	uint64_t ino, gen;
	uint64_t nlookup;
	unsigned pins; /* children naming it as parent, open files */
	uint8_t type;
	int top;		  /* the topmost lower layer holding it, -1 for none */
	struct store_inode *lino; /* its inode there */
	struct ldir *ldirs;	  /* a directory's lower directories, topmost first */
	size_t n_ldirs;
	uint32_t lnlink;
	struct unode *up; /* its writable-layer inode, or NULL */
	struct vnode *parent;
	char *name;
	bool hashed; /* in the (top, lino) table */
	struct vnode *hnext;
	struct vnode *lprev, *lnext; /* every vnode but the root */
};

struct vlayer {
	char *diff_id;
	struct store_layer_reader *r;
};

struct view {
	struct store *s;
	char *mnt;
	char *upper_id; /* "upper:<name>", NULL for a read-only view */
	struct vlayer *layers;
	size_t n_layers;
	pthread_mutex_t lock;
	struct vnode *root;
	struct vnode *all;
	struct vnode **buckets;
	size_t n_buckets, n_hashed;
	uint64_t next_ino, next_gen, round;
	bool dirty;
	bool persist_failed;
	struct cc_error *persist_err;
	struct fuse_session *se;
};

/* An open file. */
struct vfile {
	pthread_mutex_t lock;
	struct store_object *obj; /* a content in the store */
	struct unode *up;	  /* a content in a memfd */
	struct vnode *vn;
	char *path; /* for log lines */
};

/* A snapshot of a merged directory. */
struct dent {
	char *name;
	uint8_t type;
	uint8_t whiteout;
	unsigned rank; /* 0 the writable layer, 1 + i for ldirs[i] */
	uint64_t ino;
};

struct vdir {
	struct dent *ents;
	size_t n;
	uint64_t self, parent; /* "." and ".." (a d_ino of 0 would hide them) */
};

/* What a name resolves to in a view directory. */
struct found {
	struct unode *up;
	int top;
	struct store_inode *lino;
	struct ldir *ldirs;
	size_t n_ldirs, cap;
	uint8_t type;
};

static void found_clear(struct found *f)
{
	free(f->ldirs);
	memset(f, 0, sizeof(*f));
	f->top = -1;
}

static int view_fail(struct view *v, struct cc_error **err, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int view_fail(struct view *v, struct cc_error **err, int errnum, const char *fmt, ...)
{
	va_list ap;
	bool fresh = err && !*err;
	va_start(ap, fmt);
	cc_error_setv(err, 0, fmt, ap);
	va_end(ap);
	if (fresh && *err)
		(*err)->errnum = errnum;
	return cc_error_prefix(err, "view %s", v->mnt);
}

static int errnum_of(const struct cc_error *e)
{
	return e && e->errnum ? e->errnum : EIO;
}

static mode_t type_ifmt(uint8_t type)
{
	switch (type) {
	case STORE_TYPE_REG:
		return S_IFREG;
	case STORE_TYPE_DIR:
		return S_IFDIR;
	case STORE_TYPE_SYMLINK:
		return S_IFLNK;
	case STORE_TYPE_CHR:
		return S_IFCHR;
	case STORE_TYPE_BLK:
		return S_IFBLK;
	case STORE_TYPE_FIFO:
		return S_IFIFO;
	default:
		return 0;
	}
}

static uint8_t ifmt_type(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
		return STORE_TYPE_REG;
	case S_IFDIR:
		return STORE_TYPE_DIR;
	case S_IFLNK:
		return STORE_TYPE_SYMLINK;
	case S_IFCHR:
		return STORE_TYPE_CHR;
	case S_IFBLK:
		return STORE_TYPE_BLK;
	case S_IFIFO:
		return STORE_TYPE_FIFO;
	default:
		return STORE_TYPE_NONE;
	}
}

static struct view *req_view(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static struct vnode *vnode_of(struct view *v, fuse_ino_t ino)
{
	return ino == FUSE_ROOT_ID ? v->root : (struct vnode *)(uintptr_t)ino;
}

static fuse_ino_t nodeid_of(struct view *v, struct vnode *n)
{
	return n == v->root ? FUSE_ROOT_ID : (fuse_ino_t)(uintptr_t)n;
}

static uint64_t lower_ino(unsigned layer, struct store_inode *ino)
{
	return ((uint64_t)(layer + 2) << 56) | (cc_le64(store_layer_inode_id(ino)) & INO_LOW_MASK);
}

/* The path of n in the view, for log lines (lock held). */
static char *vnode_path(struct view *v, struct vnode *n)
{
	char *p = xstrdup("");
	for (; n && n != v->root; n = n->parent) {
		char *q = xasprintf("/%s%s", n->name ? n->name : "?", p);
		free(p);
		p = q;
	}
	if (!*p) {
		free(p);
		p = xstrdup("/");
	}
	return p;
}

/* One log line for a failed operation; the error's errno (EIO for damage) to reply. */
static int log_fail(struct view *v, const char *op, const char *path, struct cc_error **err)
{
	int e = errnum_of(*err);
	cc_log(CC_LOG_ERROR, "view %s: %s %s: %s", v->mnt, op, path, *err ? (*err)->msg : "");
	cc_error_free(err);
	return e;
}

static void now(int64_t *sec, uint32_t *nsec)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	*sec = ts.tv_sec;
	*nsec = (uint32_t)ts.tv_nsec;
}

/* ---- the writable layer's tree ---- */

static struct unode *unode_new(struct view *v, const struct store_attr *a)
{
	struct unode *u = xzalloc(sizeof(*u));
	store_attr_copy(&u->attr, a);
	u->fd = -1;
	u->ino = INO_UPPER | (v->next_ino++ & INO_LOW_MASK);
	return u;
}

static void unode_put(struct unode *u);

static void uents_free(struct unode *u)
{
	for (size_t i = 0; i < u->n; i++) {
		struct unode *c = u->ents[i].node;
		free(u->ents[i].name);
		if (c) {
			c->nlink--;
			unode_put(c);
		}
	}
	free(u->ents);
	u->ents = NULL;
	u->n = u->cap = 0;
}

/* Drop a reference; one that nothing else holds (refs 0 or 1) frees it. */
static void unode_put(struct unode *u)
{
	if (!u)
		return;
	if (u->refs > 1) {
		u->refs--;
		return;
	}
	uents_free(u);
	if (u->fd >= 0)
		close(u->fd);
	store_attr_clear(&u->attr);
	free(u->target);
	free(u->first_path);
	free(u);
}

static size_t uent_find(const struct unode *d, const char *name, bool *found)
{
	size_t lo = 0, hi = d->n;
	*found = false;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(d->ents[mid].name, name);
		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct uent *uent_get(struct unode *d, const char *name)
{
	bool found;
	size_t pos = uent_find(d, name, &found);
	return found ? &d->ents[pos] : NULL;
}

/* Put node (NULL: a whiteout) at name in d, replacing what was there. */
static void uent_put(struct unode *d, const char *name, struct unode *node)
{
	bool found;
	size_t pos = uent_find(d, name, &found);
	struct uent *e;

	if (found) {
		e = &d->ents[pos];
		if (e->node) {
			e->node->nlink--;
			unode_put(e->node);
		}
	} else {
		if (d->n == d->cap) {
			d->cap = d->cap ? 2 * d->cap : 8;
			d->ents = xreallocarray(d->ents, d->cap, sizeof(*d->ents));
		}
		memmove(d->ents + pos + 1, d->ents + pos, (d->n - pos) * sizeof(*d->ents));
		d->n++;
		e = &d->ents[pos];
		e->name = xstrdup(name);
	}
	e->whiteout = node == NULL;
	e->node = node;
	if (node) {
		node->nlink++;
		node->refs++;
	}
}

static void uent_remove(struct unode *d, const char *name)
{
	bool found;
	size_t pos = uent_find(d, name, &found);
	if (!found)
		return;
	struct uent e = d->ents[pos];
	memmove(d->ents + pos, d->ents + pos + 1, (d->n - pos - 1) * sizeof(*d->ents));
	d->n--;
	free(e.name);
	if (e.node) {
		e.node->nlink--;
		unode_put(e.node);
	}
}

/* ---- vnodes ---- */

static size_t vhash(int top, const struct store_inode *ino, size_t n)
{
	uint64_t h = cc_le64(store_layer_inode_id(ino)) ^ ((uint64_t)top * 0x9e3779b97f4a7c15ull);
	return (size_t)(h % n);
}

static void vhash_grow(struct view *v)
{
	size_t n = v->n_buckets ? 4 * v->n_buckets : 1024;
	struct vnode **nb = xcalloc(n, sizeof(*nb));
	for (size_t i = 0; i < v->n_buckets; i++) {
		struct vnode *x = v->buckets[i], *next;
		for (; x; x = next) {
			size_t h = vhash(x->top, x->lino, n);
			next = x->hnext;
			x->hnext = nb[h];
			nb[h] = x;
		}
	}
	free(v->buckets);
	v->buckets = nb;
	v->n_buckets = n;
}

static struct vnode *vhash_find(struct view *v, int top, struct store_inode *ino)
{
	struct vnode *x;
	if (!v->n_buckets)
		return NULL;
	for (x = v->buckets[vhash(top, ino, v->n_buckets)]; x; x = x->hnext)
		if (x->top == top && x->lino == ino)
			return x;
	return NULL;
}

static void vhash_add(struct view *v, struct vnode *n)
{
	size_t h;
	if (v->n_hashed >= 2 * v->n_buckets)
		vhash_grow(v);
	h = vhash(n->top, n->lino, v->n_buckets);
	n->hnext = v->buckets[h];
	v->buckets[h] = n;
	n->hashed = true;
	v->n_hashed++;
}

static void vhash_remove(struct view *v, struct vnode *n)
{
	struct vnode **pp;
	if (!n->hashed)
		return;
	for (pp = &v->buckets[vhash(n->top, n->lino, v->n_buckets)]; *pp; pp = &(*pp)->hnext)
		if (*pp == n) {
			*pp = n->hnext;
			break;
		}
	n->hashed = false;
	v->n_hashed--;
}

/* Free n itself (its writable-layer inode loses its reference to it). */
static void vnode_free(struct vnode *n)
{
	if (n->up) {
		n->up->vn = NULL;
		unode_put(n->up);
	}
	free(n->ldirs);
	free(n->name);
	free(n);
}

/* Free n when neither the kernel nor a child nor an open file holds it (lock held). */
static void vnode_release(struct view *v, struct vnode *n)
{
	while (n && n != v->root && n->nlookup == 0 && n->pins == 0) {
		struct vnode *parent = n->parent;
		vhash_remove(v, n);
		if (n->lprev)
			n->lprev->lnext = n->lnext;
		else
			v->all = n->lnext;
		if (n->lnext)
			n->lnext->lprev = n->lprev;
		vnode_free(n);
		if (!parent)
			break;
		parent->pins--;
		n = parent;
	}
}

static const struct store_attr *vattr(const struct vnode *n)
{
	return n->up ? &n->up->attr : store_layer_getattr(n->lino);
}

/* The vnode for what f found at name in parent, its lookup count raised (lock held). */
static struct vnode *vnode_get(struct view *v, struct vnode *parent, const char *name,
			       struct found *f, struct cc_error **err)
{
	struct vnode *n = NULL;

	if (f->up && f->up->vn)
		n = f->up->vn;
	else if (f->top >= 0 && (n = vhash_find(v, f->top, f->lino)) && n->up && n->up != f->up)
		n = NULL;
	if (n && f->up && !n->up) {
		n->up = f->up;
		f->up->vn = n;
		f->up->refs++;
	}
	if (!n) {
		n = xzalloc(sizeof(*n));
		n->type = f->type;
		n->top = f->top;
		n->lino = f->lino;
		n->ino = f->up ? f->up->ino : lower_ino((unsigned)f->top, f->lino);
		n->gen = ++v->next_gen;
		if (f->top >= 0 &&
		    store_layer_nlink(v->layers[f->top].r, f->lino, &n->lnlink, err) < 0) {
			free(n);
			return NULL;
		}
		if (f->n_ldirs) {
			n->ldirs = xcalloc(f->n_ldirs, sizeof(*n->ldirs));
			memcpy(n->ldirs, f->ldirs, f->n_ldirs * sizeof(*n->ldirs));
			n->n_ldirs = f->n_ldirs;
		}
		if (f->up) {
			n->up = f->up;
			f->up->vn = n;
			f->up->refs++;
		}
		n->parent = parent;
		parent->pins++;
		n->name = xstrdup(name);
		n->lnext = v->all;
		if (v->all)
			v->all->lprev = n;
		v->all = n;
		if (f->top >= 0 && !f->up)
			vhash_add(v, n);
	}
	n->nlookup++;
	return n;
}

static int ldirs_add(struct found *f, unsigned layer, struct store_inode *ino)
{
	if (f->n_ldirs == f->cap) {
		f->cap = f->cap ? 2 * f->cap : 4;
		f->ldirs = xreallocarray(f->ldirs, f->cap, sizeof(*f->ldirs));
	}
	f->ldirs[f->n_ldirs].layer = layer;
	f->ldirs[f->n_ldirs].ino = ino;
	f->n_ldirs++;
	return 0;
}

/*
 * Resolve name in view directory dir by the union rules: the writable layer first, then the
 * lower directories top-down; a whiteout or a non-directory ends the search, directories of
 * one name merge until an opaque one. 1 found, 0 absent, -1 on error (lock held).
 */
static int resolve(struct view *v, struct vnode *dir, const char *name, struct found *f,
		   struct cc_error **err)
{
	bool lower = true;

	found_clear(f);
	if (dir->up) {
		struct uent *e = uent_get(dir->up, name);
		if (dir->up->attr.flags & STORE_FLAG_OPAQUE)
			lower = false;
		if (e && e->whiteout)
			return 0;
		if (e) {
			f->up = e->node;
			f->type = e->node->attr.type;
			if (f->type != STORE_TYPE_DIR || (e->node->attr.flags & STORE_FLAG_OPAQUE))
				return 1;
		}
	}
	for (size_t i = 0; lower && i < dir->n_ldirs; i++) {
		struct store_layer_reader *r = v->layers[dir->ldirs[i].layer].r;
		struct store_inode *ino;
		const struct store_attr *a;
		int ret = store_layer_lookup(r, dir->ldirs[i].ino, name, &ino, err);
		if (ret < 0)
			return -1;
		if (ret == STORE_WHITEOUT)
			break;
		if (ret == STORE_ABSENT)
			continue;
		a = store_layer_getattr(ino);
		if (f->type && (f->type != STORE_TYPE_DIR || a->type != STORE_TYPE_DIR))
			break; /* hidden by what is above */
		if (f->top < 0) {
			f->top = (int)dir->ldirs[i].layer;
			f->lino = ino;
		}
		f->type = a->type;
		if (a->type != STORE_TYPE_DIR)
			break;
		ldirs_add(f, dir->ldirs[i].layer, ino);
		if (a->flags & STORE_FLAG_OPAQUE)
			break;
	}
	return f->type ? 1 : 0;
}

/* Whether the lower layers show name in dir (ignoring the writable layer's entry for it, not
 * its opaque flag): a removal must then leave a whiteout. */
static int lower_has(struct view *v, struct vnode *dir, const char *name, bool *has,
		     struct cc_error **err)
{
	*has = false;
	if (dir->up && (dir->up->attr.flags & STORE_FLAG_OPAQUE))
		return 0;
	for (size_t i = 0; i < dir->n_ldirs; i++) {
		struct store_inode *ino;
		int ret = store_layer_lookup(v->layers[dir->ldirs[i].layer].r, dir->ldirs[i].ino,
					     name, &ino, err);
		if (ret < 0)
			return -1;
		if (ret == STORE_WHITEOUT)
			return 0;
		if (ret == STORE_FOUND) {
			*has = true;
			return 0;
		}
	}
	return 0;
}

/* ---- attributes ---- */

static uint32_t unode_dir_nlink(const struct unode *u)
{
	uint32_t n = 2;
	for (size_t i = 0; i < u->n; i++)
		n += u->ents[i].node && u->ents[i].node->attr.type == STORE_TYPE_DIR;
	return n;
}

static void fill_stat(struct vnode *n, struct stat *st)
{
	const struct store_attr *a = vattr(n);
	uint64_t size;

	memset(st, 0, sizeof(*st));
	st->st_ino = n->ino;
	st->st_mode = type_ifmt(a->type) | (a->mode & 07777);
	st->st_uid = a->uid;
	st->st_gid = a->gid;
	st->st_rdev = (dev_t)a->rdev;
	st->st_mtim.tv_sec = a->mtime_sec;
	st->st_mtim.tv_nsec = a->mtime_nsec;
	st->st_atim = st->st_ctim = st->st_mtim;
	if (n->up) {
		struct unode *u = n->up;
		size = a->type == STORE_TYPE_SYMLINK ? strlen(u->target)
		       : a->type == STORE_TYPE_REG   ? u->size
		       : a->type == STORE_TYPE_DIR   ? 4096
						     : 0;
		st->st_nlink = a->type == STORE_TYPE_DIR ? unode_dir_nlink(u) : u->nlink;
		if (a->type == STORE_TYPE_DIR && n->lnlink > st->st_nlink)
			st->st_nlink = n->lnlink;
	} else {
		size = a->type == STORE_TYPE_DIR ? 4096 : store_layer_size(n->lino);
		st->st_nlink = n->lnlink;
	}
	if (a->type == STORE_TYPE_CHR || a->type == STORE_TYPE_BLK || a->type == STORE_TYPE_FIFO)
		size = 0;
	st->st_size = (off_t)size;
	st->st_blksize = 65536;
	st->st_blocks = (blkcnt_t)((size + 511) / 512);
}

static double ttl_of(struct view *v, struct vnode *n)
{
	return !v->upper_id || !n->up ? TTL_LONG : TTL_UPPER;
}

static void reply_entry(fuse_req_t req, struct view *v, struct vnode *n)
{
	struct fuse_entry_param e;
	memset(&e, 0, sizeof(e));
	e.ino = nodeid_of(v, n);
	e.generation = n->gen;
	fill_stat(n, &e.attr);
	e.attr_timeout = e.entry_timeout = ttl_of(v, n);
	pthread_mutex_unlock(&v->lock);
	fuse_reply_entry(req, &e);
}

/* ---- copy-up ---- */

/* A new memfd holding the content of object (id, mac), size bytes. */
static int content_copy(struct view *v, const uint8_t *id, const uint8_t *mac, int *fdp,
			uint64_t *size, struct cc_error **err)
{
	struct store_object *o = NULL;
	_cleanup_close_ int fd = memfd_create("store-view", MFD_CLOEXEC);
	_cleanup_free_ uint8_t *buf = NULL;
	uint64_t off = 0, total;

	if (fd < 0)
		return cc_error_errno(err, "memfd_create");
	if (store_object_open(v->s, id, mac, &o, err) < 0)
		return -1;
	total = store_pf_size(store_object_reader(o));
	buf = xmalloc(IO_CHUNK);
	if (ftruncate(fd, (off_t)total) < 0) {
		store_object_close(o);
		return cc_error_errno(err, "size the memfd");
	}
	while (off < total) {
		/* Holes of the object stay holes of the memfd. */
		struct cc_error *e = NULL;
		int64_t data = store_pf_seek(store_object_reader(o), off, SEEK_DATA, &e);
		if (data < 0 && e) {
			store_object_close(o);
			*err = e;
			return -1;
		}
		if (data < 0)
			break; /* zeros to the end */
		off = (uint64_t)data;
		int64_t hole = store_pf_seek(store_object_reader(o), off, SEEK_HOLE, err);
		if (hole < 0) {
			store_object_close(o);
			return -1;
		}
		size_t want =
		    (uint64_t)hole - off < IO_CHUNK ? (size_t)((uint64_t)hole - off) : IO_CHUNK;
		ssize_t n = store_pf_pread(store_object_reader(o), buf, want, off, err);
		if (n <= 0) {
			store_object_close(o);
			if (n == 0)
				return cc_error_set(err, EIO, "content ends early");
			return -1;
		}
		if (pwrite(fd, buf, (size_t)n, (off_t)off) != n) {
			store_object_close(o);
			return cc_error_errno(err, "write to memfd");
		}
		off += (uint64_t)n;
	}
	store_object_close(o);
	*size = total;
	*fdp = steal_fd(&fd);
	return 0;
}

static int copy_up(struct view *v, struct vnode *n, struct cc_error **err);

/* n (a vnode with no writable-layer inode) gets one, a copy of its lower inode. */
static int copy_up_node(struct view *v, struct vnode *n, struct cc_error **err)
{
	const struct store_attr *la = store_layer_getattr(n->lino);
	struct store_layer_reader *r = v->layers[n->top].r;
	struct unode *u;

	if (copy_up(v, n->parent, err) < 0)
		return -1;
	u = unode_new(v, la);
	u->attr.flags = 0;
	u->ino = n->ino;
	if (la->type == STORE_TYPE_REG &&
	    content_copy(v, store_layer_inode_id(n->lino), store_layer_inode_mac(n->lino), &u->fd,
			 &u->size, err) < 0) {
		unode_put(u);
		return -1;
	}
	if (la->type == STORE_TYPE_SYMLINK) {
		u->target = store_layer_readlink(r, n->lino, err);
		if (!u->target) {
			unode_put(u);
			return -1;
		}
	}
	uent_put(n->parent->up, n->name, u); /* refs: the name */
	u->refs++;			     /* and the vnode */
	u->vn = n;
	n->up = u;
	vhash_remove(v, n); /* other names of a lower hard link stay lower, as in overlayfs */
	v->dirty = true;
	return 0;
}

static int copy_up(struct view *v, struct vnode *n, struct cc_error **err)
{
	if (n->up)
		return 0;
	if (!n->parent || n->top < 0)
		return cc_error_set(err, EIO, "copy-up without a lower inode");
	return copy_up_node(v, n, err);
}

/* n is about to change: copy it up, and load a stored content into a memfd (lock held). */
static int prepare_change(struct view *v, struct vnode *n, struct cc_error **err)
{
	struct unode *u;
	if (copy_up(v, n, err) < 0)
		return -1;
	u = n->up;
	if (u->attr.type == STORE_TYPE_REG && u->fd < 0 &&
	    content_copy(v, u->id, u->mac, &u->fd, &u->size, err) < 0)
		return -1;
	u->stored = false;
	v->dirty = true;
	return 0;
}

/* ---- persisting the writable layer ---- */

static int persist_node(struct view *v, struct store_layer_writer *w, struct unode *u,
			const char *path, struct cc_error **err)
{
	int ret;

	if (u->stored)
		return store_layer_reference(w, path, u->attr.type, u->id, u->mac, err);
	if (u->round == v->round)
		return store_layer_hardlink(w, path, u->first_path, err);
	switch (u->attr.type) {
	case STORE_TYPE_REG: {
		_cleanup_free_ uint8_t *buf = xmalloc(IO_CHUNK);
		uint64_t off = 0;
		ret = store_layer_file_begin(w, path, &u->attr, err);
		while (ret == 0 && off < u->size) {
			/* The memfd's holes stay holes. */
			off_t data = lseek(u->fd, (off_t)off, SEEK_DATA);
			uint64_t to = data < 0 ? u->size : (uint64_t)data;
			if (to > u->size)
				to = u->size;
			if (to > off) {
				ret = store_layer_file_zeros(w, to - off, err);
				off = to;
				continue;
			}
			off_t hole = lseek(u->fd, (off_t)off, SEEK_HOLE);
			uint64_t end =
			    hole < 0 || (uint64_t)hole > u->size ? u->size : (uint64_t)hole;
			size_t want = end - off < IO_CHUNK ? (size_t)(end - off) : IO_CHUNK;
			ssize_t n = pread(u->fd, buf, want, (off_t)off);
			if (n <= 0) {
				cc_error_set(err, n < 0 ? errno : EIO, "%s: read the memfd", path);
				store_layer_abort(w);
				return -2; /* the writer is gone */
			}
			ret = store_layer_file_write(w, buf, (size_t)n, err);
			off += (uint64_t)n;
		}
		if (ret == 0)
			ret = store_layer_file_end(w, err);
		break;
	}
	case STORE_TYPE_SYMLINK:
		ret = store_layer_symlink(w, path, u->target, &u->attr, err);
		break;
	default:
		ret = store_layer_node(w, path, &u->attr, err);
		break;
	}
	uint8_t type;
	if (ret == 0)
		ret = store_layer_entry(w, path, &type, u->new_id, u->new_mac, err);
	if (ret == 0) {
		u->round = v->round;
		free(u->first_path);
		u->first_path = xstrdup(path);
	}
	return ret;
}

/* Give directory d at path (and all below it) to the writer: 0, -1 (abort w), -2 (w gone). */
static int persist_dir(struct view *v, struct store_layer_writer *w, struct unode *d,
		       const char *path, struct cc_error **err)
{
	if (store_layer_mkdir(w, path, &d->attr, err) < 0)
		return -1;
	for (size_t i = 0; i < d->n; i++) {
		struct uent *e = &d->ents[i];
		_cleanup_free_ char *sub =
		    *path ? xasprintf("%s/%s", path, e->name) : xstrdup(e->name);
		int ret;
		if (e->whiteout)
			ret = store_layer_whiteout(w, sub, err);
		else if (e->node->attr.type == STORE_TYPE_DIR)
			ret = persist_dir(v, w, e->node, sub, err);
		else
			ret = persist_node(v, w, e->node, sub, err);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* What was written in this round is what the store now holds. */
static void persist_done(struct view *v, struct unode *d)
{
	for (size_t i = 0; i < d->n; i++) {
		struct unode *u = d->ents[i].node;
		if (!u)
			continue;
		if (u->attr.type == STORE_TYPE_DIR) {
			persist_done(v, u);
		} else if (u->round == v->round && !u->stored) {
			memcpy(u->id, u->new_id, STORE_ID_LEN);
			memcpy(u->mac, u->new_mac, STORE_MAC_LEN);
			u->stored = true;
		}
	}
}

/* Write the writable layer as a new version of its layer (lock held). */
static int persist(struct view *v, struct cc_error **err)
{
	struct store_layer_writer *w = NULL;
	int ret;

	if (!v->upper_id || (!v->dirty && store_has_layer(v->s, v->upper_id)))
		return 0;
	if (store_layer_begin_replace(v->s, v->upper_id, &w, err) < 0)
		return -1;
	v->round++;
	ret = persist_dir(v, w, v->root->up, "", err);
	if (ret == -1)
		store_layer_abort(w);
	if (ret < 0)
		return -1;
	if (store_layer_commit(w, err) < 0)
		return -1;
	persist_done(v, v->root->up);
	v->dirty = false;
	return 0;
}

/* ---- loading a persisted writable layer ---- */

struct linkmap {
	struct store_inode **ino;
	struct unode **node;
	size_t n;
};

static int load_dir(struct view *v, struct store_layer_reader *r, struct store_inode *dir,
		    struct unode *d, struct linkmap *links, unsigned depth, struct cc_error **err);

static int load_entry(struct view *v, struct store_layer_reader *r, struct store_inode *dir,
		      struct unode *d, const char *name, struct linkmap *links, unsigned depth,
		      struct cc_error **err)
{
	struct store_inode *ino;
	struct unode *u = NULL;
	uint32_t nlink = 1;
	int ret = store_layer_lookup(r, dir, name, &ino, err);

	if (ret < 0)
		return -1;
	if (ret != STORE_FOUND)
		return cc_error_set(err, EIO, "%s: listed but not found", name);
	if (store_layer_getattr(ino)->type == STORE_TYPE_DIR) {
		u = unode_new(v, store_layer_getattr(ino));
		uent_put(d, name, u); /* held by its name */
		return load_dir(v, r, ino, u, links, depth + 1, err);
	}
	if (store_layer_nlink(r, ino, &nlink, err) < 0)
		return -1;
	for (size_t i = 0; nlink > 1 && i < links->n; i++)
		if (links->ino[i] == ino)
			u = links->node[i];
	if (!u) {
		u = unode_new(v, store_layer_getattr(ino));
		u->stored = true;
		memcpy(u->id, store_layer_inode_id(ino), STORE_ID_LEN);
		memcpy(u->mac, store_layer_inode_mac(ino), STORE_MAC_LEN);
		u->size = store_layer_size(ino);
		if (u->attr.type == STORE_TYPE_SYMLINK) {
			u->target = store_layer_readlink(r, ino, err);
			if (!u->target) {
				unode_put(u);
				return -1;
			}
		}
		if (nlink > 1) {
			links->ino = xreallocarray(links->ino, links->n + 1, sizeof(*links->ino));
			links->node =
			    xreallocarray(links->node, links->n + 1, sizeof(*links->node));
			links->ino[links->n] = ino;
			links->node[links->n++] = u;
		}
		uent_put(d, name, u); /* held by its names */
		return 0;
	}
	uent_put(d, name, u);
	return 0;
}

static int load_dir(struct view *v, struct store_layer_reader *r, struct store_inode *dir,
		    struct unode *d, struct linkmap *links, unsigned depth, struct cc_error **err)
{
	struct store_dirent de;

	if (depth > STORE_PATH_MAX / 2)
		return cc_error_set(err, EIO, "directories nested too deep");
	for (size_t pos = 0;; pos++) {
		int ret = store_layer_readdir(r, dir, pos, &de, err);
		if (ret < 0)
			return -1;
		if (ret == 0)
			return 0;
		if (de.kind == STORE_ENTRY_WHITEOUT) {
			uent_put(d, de.name, NULL);
			continue;
		}
		if (load_entry(v, r, dir, d, de.name, links, depth, err) < 0)
			return cc_error_prefix(err, "%s", de.name);
	}
}

/* The writable layer's root: the persisted one, or a new one with the attributes of the
 * topmost lower root. */
static int load_upper(struct view *v, struct cc_error **err)
{
	struct store_layer_reader *r = NULL;
	struct linkmap links = { 0 };
	struct unode *root;
	int ret;

	if (!store_has_layer(v->s, v->upper_id)) {
		struct store_attr a = { .type = STORE_TYPE_DIR, .mode = 0755 };
		if (v->n_layers)
			a = *store_layer_getattr(store_layer_root(v->layers[v->n_layers - 1].r));
		root = unode_new(v, &a);
		root->attr.flags = 0;
		v->dirty = true;
	} else {
		if (store_layer_open(v->s, v->upper_id, &r, err) < 0)
			return -1;
		root = unode_new(v, store_layer_getattr(store_layer_root(r)));
		ret = load_dir(v, r, store_layer_root(r), root, &links, 0, err);
		store_layer_close(r);
		free(links.ino);
		free(links.node);
		if (ret < 0) {
			unode_put(root);
			return cc_error_prefix(err, "layer %s", v->upper_id);
		}
	}
	root->ino = FUSE_ROOT_ID;
	root->refs = 1;
	root->nlink = 1;
	v->root->up = root;
	root->vn = v->root;
	return 0;
}

/* Reply with the error of op on n (logged, naming n's path) and drop the view's lock. */
static void reply_failed(fuse_req_t req, struct view *v, const char *op, struct vnode *n,
			 struct cc_error **err)
{
	_cleanup_free_ char *p = vnode_path(v, n);
	pthread_mutex_unlock(&v->lock);
	fuse_reply_err(req, log_fail(v, op, p, err));
}

/* ---- operations: names ---- */

/* The view's path of name in dir, for log lines: the file a failure is about. */
static char *child_path(struct view *v, struct vnode *dir, const char *name)
{
	_cleanup_free_ char *p = vnode_path(v, dir);
	size_t len = strlen(p);
	return xasprintf("%s%s%s", p, len && p[len - 1] == '/' ? "" : "/", name);
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct view *v = req_view(req);
	struct cc_error *err = NULL;
	struct found f = { .top = -1 };
	struct vnode *dir, *n;
	int ret;

	pthread_mutex_lock(&v->lock);
	dir = vnode_of(v, parent);
	ret = strlen(name) > STORE_NAME_MAX ? 0 : resolve(v, dir, name, &f, &err);
	if (ret <= 0) {
		found_clear(&f);
		if (ret < 0) {
			_cleanup_free_ char *p = child_path(v, dir, name);
			pthread_mutex_unlock(&v->lock);
			fuse_reply_err(req, log_fail(v, "lookup", p, &err));
			return;
		}
		pthread_mutex_unlock(&v->lock);
		struct fuse_entry_param e = { .ino = 0,
					      .entry_timeout = v->upper_id ? TTL_UPPER : TTL_LONG };
		fuse_reply_entry(req, &e);
		return;
	}
	n = vnode_get(v, dir, name, &f, &err);
	found_clear(&f);
	if (!n) {
		_cleanup_free_ char *p = child_path(v, dir, name);
		pthread_mutex_unlock(&v->lock);
		fuse_reply_err(req, log_fail(v, "lookup", p, &err));
		return;
	}
	reply_entry(req, v, n);
}

static void forget_one(struct view *v, fuse_ino_t ino, uint64_t nlookup)
{
	struct vnode *n = vnode_of(v, ino);
	if (n == v->root)
		return;
	n->nlookup = nlookup > n->nlookup ? 0 : n->nlookup - nlookup;
	vnode_release(v, n);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	struct view *v = req_view(req);
	pthread_mutex_lock(&v->lock);
	forget_one(v, ino, nlookup);
	pthread_mutex_unlock(&v->lock);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	struct view *v = req_view(req);
	pthread_mutex_lock(&v->lock);
	for (size_t i = 0; i < count; i++)
		forget_one(v, forgets[i].ino, forgets[i].nlookup);
	pthread_mutex_unlock(&v->lock);
	fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct view *v = req_view(req);
	struct stat st;
	double ttl;
	(void)fi;
	pthread_mutex_lock(&v->lock);
	fill_stat(vnode_of(v, ino), &st);
	ttl = ttl_of(v, vnode_of(v, ino));
	pthread_mutex_unlock(&v->lock);
	fuse_reply_attr(req, &st, ttl);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct view *v = req_view(req);
	struct cc_error *err = NULL;
	struct vnode *n;
	_cleanup_free_ char *target = NULL;

	pthread_mutex_lock(&v->lock);
	n = vnode_of(v, ino);
	if (n->up)
		target = n->up->target ? xstrdup(n->up->target) : NULL;
	else if (n->type == STORE_TYPE_SYMLINK)
		target = store_layer_readlink(v->layers[n->top].r, n->lino, &err);
	if (!target) {
		_cleanup_free_ char *p = vnode_path(v, n);
		pthread_mutex_unlock(&v->lock);
		fuse_reply_err(req, err ? log_fail(v, "readlink", p, &err) : EINVAL);
		return;
	}
	pthread_mutex_unlock(&v->lock);
	fuse_reply_readlink(req, target);
}

/* ---- operations: the writable layer's names ---- */

/* Attributes for a new inode of type type made by the caller of req in dir. */
static struct store_attr new_attr(fuse_req_t req, struct vnode *dir, uint8_t type, mode_t mode,
				  dev_t rdev)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	const struct store_attr *pa = vattr(dir);
	struct store_attr a = {
		.type = type, .mode = mode & 07777, .uid = ctx->uid, .gid = ctx->gid
	};
	if (type == STORE_TYPE_CHR || type == STORE_TYPE_BLK)
		a.rdev = rdev;
	if (type == STORE_TYPE_SYMLINK)
		a.mode = 0777;
	if (pa->mode & S_ISGID) {
		a.gid = pa->gid;
		if (type == STORE_TYPE_DIR)
			a.mode |= S_ISGID;
	}
	now(&a.mtime_sec, &a.mtime_nsec);
	return a;
}

static void touch_dir(struct unode *d)
{
	now(&d->attr.mtime_sec, &d->attr.mtime_nsec);
}

/* Check that a new name may be made in parent: 0 or an errno (lock held). */
static int may_make(struct view *v, struct vnode *dir, const char *name, struct cc_error **err)
{
	struct found f = { .top = -1 };
	int ret;

	if (!v->upper_id)
		return EROFS;
	if (strlen(name) > STORE_NAME_MAX)
		return ENAMETOOLONG;
	ret = resolve(v, dir, name, &f, err);
	found_clear(&f);
	if (ret < 0)
		return -1;
	if (ret > 0)
		return EEXIST;
	return copy_up(v, dir, err) < 0 ? -1 : 0;
}

/* Make u (refs 0) at name in dir and reply with its entry (lock held, released). */
static void make_reply(fuse_req_t req, struct view *v, struct vnode *dir, const char *name,
		       struct unode *u, struct fuse_file_info *fi)
{
	struct uent *old = uent_get(dir->up, name);
	struct found f = { .top = -1, .up = u, .type = u->attr.type };
	struct cc_error *err = NULL;
	struct vnode *n;

	/* A directory over a whiteout hides what lower layers have under that name. */
	if (old && old->whiteout && u->attr.type == STORE_TYPE_DIR)
		u->attr.flags |= STORE_FLAG_OPAQUE;
	uent_put(dir->up, name, u);
	touch_dir(dir->up);
	v->dirty = true;
	n = vnode_get(v, dir, name, &f, &err); /* cannot fail: no lower inode */
	if (!n) {
		pthread_mutex_unlock(&v->lock);
		cc_error_free(&err);
		fuse_reply_err(req, EIO);
		return;
	}
	if (fi) {
		struct fuse_entry_param e;
		struct vfile *h = xzalloc(sizeof(*h));
		pthread_mutex_init(&h->lock, NULL);
		h->up = u;
		u->refs++;
		h->vn = n;
		n->pins++;
		h->path = vnode_path(v, n);
		memset(&e, 0, sizeof(e));
		e.ino = nodeid_of(v, n);
		e.generation = n->gen;
		fill_stat(n, &e.attr);
		e.attr_timeout = e.entry_timeout = ttl_of(v, n);
		fi->fh = (uint64_t)(uintptr_t)h;
		pthread_mutex_unlock(&v->lock);
		if (fuse_reply_create(req, &e, fi) == -ENOENT) {
			/* Interrupted: the kernel will not release it. */
			pthread_mutex_lock(&v->lock);
			unode_put(h->up);
			n->pins--;
			vnode_release(v, n);
			pthread_mutex_unlock(&v->lock);
			free(h->path);
			free(h);
		}
		return;
	}
	reply_entry(req, v, n);
}

static void make_node(fuse_req_t req, fuse_ino_t parent, const char *name, uint8_t type,
		      mode_t mode, dev_t rdev, const char *target, struct fuse_file_info *fi)
{
	struct view *v = req_view(req);
	struct cc_error *err = NULL;
	struct vnode *dir;
	struct unode *u;
	int e;

	pthread_mutex_lock(&v->lock);
	dir = vnode_of(v, parent);
	e = may_make(v, dir, name, &err);
	if (e) {
		_cleanup_free_ char *p = vnode_path(v, dir);
		pthread_mutex_unlock(&v->lock);
		fuse_reply_err(req, e < 0 ? log_fail(v, "create in", p, &err) : e);
		return;
	}
	struct store_attr a = new_attr(req, dir, type, mode, rdev);
	u = unode_new(v, &a);
	if (type == STORE_TYPE_REG) {
		u->fd = memfd_create("store-view", MFD_CLOEXEC);
		if (u->fd < 0) {
			e = errno;
			unode_put(u);
			pthread_mutex_unlock(&v->lock);
			fuse_reply_err(req, e);
			return;
		}
	}
	if (target)
		u->target = xstrdup(target);
	u->refs = 0;
	make_reply(req, v, dir, name, u, fi);
}

static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	uint8_t type = ifmt_type(mode);
	if (type == STORE_TYPE_NONE || type == STORE_TYPE_DIR || type == STORE_TYPE_SYMLINK) {
		fuse_reply_err(req, type == STORE_TYPE_NONE ? EPERM : EINVAL);
		return;
	}
	make_node(req, parent, name, type, mode, rdev, NULL, NULL);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	make_node(req, parent, name, STORE_TYPE_DIR, mode, 0, NULL, NULL);
}

static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	if (!*link || strlen(link) > STORE_LINK_MAX) {
		fuse_reply_err(req, *link ? ENAMETOOLONG : ENOENT);
		return;
	}
	make_node(req, parent, name, STORE_TYPE_SYMLINK, 0777, 0, link, NULL);
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	make_node(req, parent, name, STORE_TYPE_REG, mode, 0, NULL, fi);
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	struct view *v = req_view(req);
	struct cc_error *err = NULL;
	struct vnode *n, *dir;
	int e;

	pthread_mutex_lock(&v->lock);
	n = vnode_of(v, ino);
	dir = vnode_of(v, newparent);
	e = may_make(v, dir, newname, &err);
	if (!e && copy_up(v, n, &err) < 0)
		e = -1;
	if (e) {
		_cleanup_free_ char *p = vnode_path(v, n);
		pthread_mutex_unlock(&v->lock);
		fuse_reply_err(req, e < 0 ? log_fail(v, "link", p, &err) : e);
		return;
	}
	uent_put(dir->up, newname, n->up);
	touch_dir(dir->up);
	v->dirty = true;
	n->nlookup++;
	reply_entry(req, v, n);
}

/* Remove name from dir: the writable layer's entry goes, a whiteout stays when the lower
 * layers show the name (lock held). */
static int remove_name(struct view *v, struct vnode *dir, const char *name, struct cc_error **err)
{
	bool lower;
	if (copy_up(v, dir, err) < 0 || lower_has(v, dir, name, &lower, err) < 0)
		return -1;
	if (lower)
		uent_put(dir->up, name, NULL);
	else
		uent_remove(dir->up, name);
	touch_dir(dir->up);
	v->dirty = true;
	return 0;
}

/* The merged entries of a directory (f), whiteouts dropped, sorted by name (lock held). */
static int merged_list(struct view *v, struct unode *up, const struct ldir *ldirs, size_t n_ldirs,
		       bool want_ino, struct vdir *out, struct cc_error **err);

static void vdir_free(struct vdir *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->ents[i].name);
	free(d->ents);
	d->ents = NULL;
	d->n = 0;
}

static void remove_op(fuse_req_t req, fuse_ino_t parent, const char *name, bool dir_op)
{
	struct view *v = req_view(req);
	struct cc_error *err = NULL;
	struct found f = { .top = -1 };
	struct vnode *dir;
	int ret, e = 0;

	pthread_mutex_lock(&v->lock);
	dir = vnode_of(v, parent);
	ret = !v->upper_id ? 0 : resolve(v, dir, name, &f, &err);
	if (!v->upper_id)
		e = EROFS;
	else if (ret == 0)
		e = ENOENT;
	else if (ret > 0 && dir_op && f.type != STORE_TYPE_DIR)
		e = ENOTDIR;
	else if (ret > 0 && !dir_op && f.type == STORE_TYPE_DIR)
		e = EISDIR;
	if (ret > 0 && !e && dir_op) {
		struct vdir d = { 0 };
		if (merged_list(v, f.up, f.ldirs, f.n_ldirs, false, &d, &err) < 0)
			ret = -1;
		else if (d.n)
			e = ENOTEMPTY;
		vdir_free(&d);
	}
	found_clear(&f);
	if (ret > 0 && !e && remove_name(v, dir, name, &err) < 0)
		ret = -1;
	if (ret < 0) {
		_cleanup_free_ char *p = vnode_path(v, dir);
		pthread_mutex_unlock(&v->lock);
		fuse_reply_err(req, log_fail(v, dir_op ? "rmdir in" : "unlink in", p, &err));
		return;
	}
	pthread_mutex_unlock(&v->lock);
	fuse_reply_err(req, e);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_op(req, parent, name, false);
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_op(req, parent, name, true);
}

/* The checks of rename: 0, an errno, or -1 with *err (lock held). */
static int rename_check(struct view *v, struct found *src, int dst_ret, struct found *dst,
			unsigned flags, struct cc_error **err)
{
	if (!v->upper_id)
		return EROFS;
	if (flags & ~RENAME_NOREPLACE)
		return EINVAL;
	if (dst_ret > 0 && (flags & RENAME_NOREPLACE))
		return EEXIST;
	if (src->type == STORE_TYPE_DIR && src->n_ldirs)
		return EXDEV; /* as overlayfs without redirect_dir: callers copy */
	if (dst_ret > 0 && src->type == STORE_TYPE_DIR && dst->type != STORE_TYPE_DIR)
		return ENOTDIR;
	if (dst_ret > 0 && src->type != STORE_TYPE_DIR && dst->type == STORE_TYPE_DIR)
		return EISDIR;
	if (dst_ret > 0 && dst->type == STORE_TYPE_DIR) {
		struct vdir d = { 0 };
		int ret = merged_list(v, dst->up, dst->ldirs, dst->n_ldirs, false, &d, err);
		size_t n = d.n;
		vdir_free(&d);
		if (ret < 0)
			return -1;
		if (n)
			return ENOTEMPTY;
	}
	return 0;
}

static int do_rename(struct view *v, struct vnode *pdir, const char *name, struct vnode *qdir,
		     const char *newname, unsigned flags, struct cc_error **err)
{
	struct found src = { .top = -1 }, dst = { .top = -1 };
	struct vnode *n;
	struct unode *u;
	bool lower;
	int ret, e;

	ret = resolve(v, pdir, name, &src, err);
	if (ret <= 0) {
		found_clear(&src);
		return ret < 0 ? -1 : ENOENT;
	}
	ret = resolve(v, qdir, newname, &dst, err);
	if (ret >= 0)
		e = rename_check(v, &src, ret, &dst, flags, err);
	else
		e = -1;
	if (!e && ret > 0 &&
	    ((src.up && src.up == dst.up) || (!src.up && !dst.up && src.lino == dst.lino)))
		e = -2; /* the same inode: nothing to do */
	found_clear(&dst);
	if (e) {
		found_clear(&src);
		return e == -2 ? 0 : e;
	}
	n = vnode_get(v, pdir, name, &src, err);
	found_clear(&src);
	if (!n)
		return -1;
	if (copy_up(v, n, err) < 0 || copy_up(v, qdir, err) < 0 ||
	    lower_has(v, qdir, newname, &lower, err) < 0) {
		n->nlookup--;
		vnode_release(v, n);
		return -1;
	}
	u = n->up;
	u->refs++;
	if (remove_name(v, pdir, name, err) < 0) {
		unode_put(u);
		n->nlookup--;
		vnode_release(v, n);
		return -1;
	}
	if (u->attr.type == STORE_TYPE_DIR && lower)
		u->attr.flags |= STORE_FLAG_OPAQUE;
	uent_put(qdir->up, newname, u);
	unode_put(u);
	touch_dir(qdir->up);
	qdir->pins++;
	n->parent->pins--;
	struct vnode *old_parent = n->parent;
	n->parent = qdir;
	free(n->name);
	n->name = xstrdup(newname);
	n->nlookup--;
	vnode_release(v, old_parent);
	vnode_release(v, n);
	v->dirty = true;
	return 0;
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		      const char *newname, unsigned int flags)
{
	struct view *v = req_view(req);
	struct cc_error *err = NULL;
	int e;

	pthread_mutex_lock(&v->lock);
	e = strlen(newname) > STORE_NAME_MAX
		? ENAMETOOLONG
		: do_rename(v, vnode_of(v, parent), name, vnode_of(v, newparent), newname, flags,
			    &err);
	if (e < 0) {
		reply_failed(req, v, "rename in", vnode_of(v, parent), &err);
		return;
	}
	pthread_mutex_unlock(&v->lock);
	fuse_reply_err(req, e);
}

/* ---- operations: attributes ---- */

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	struct view *v = req_view(req);
	struct cc_error *err = NULL;
	struct vnode *n;
	struct unode *u;
	struct stat st;
	(void)fi;

	pthread_mutex_lock(&v->lock);
	n = vnode_of(v, ino);
	if (!v->upper_id) {
		pthread_mutex_unlock(&v->lock);
		fuse_reply_err(req, EROFS);
		return;
	}
	if ((to_set & FUSE_SET_ATTR_SIZE) && n->type != STORE_TYPE_REG) {
		pthread_mutex_unlock(&v->lock);
		fuse_reply_err(req, n->type == STORE_TYPE_DIR ? EISDIR : EINVAL);
		return;
	}
	if (prepare_change(v, n, &err) < 0) {
		reply_failed(req, v, "setattr", n, &err);
		return;
	}
	u = n->up;
	if (to_set & FUSE_SET_ATTR_MODE)
		u->attr.mode = attr->st_mode & 07777;
	if (to_set & FUSE_SET_ATTR_UID)
		u->attr.uid = attr->st_uid;
	if (to_set & FUSE_SET_ATTR_GID)
		u->attr.gid = attr->st_gid;
	if (to_set & FUSE_SET_ATTR_SIZE) {
		if (ftruncate(u->fd, attr->st_size) < 0) {
			int e = errno;
			pthread_mutex_unlock(&v->lock);
			fuse_reply_err(req, e);
			return;
		}
		u->size = (uint64_t)attr->st_size;
		now(&u->attr.mtime_sec, &u->attr.mtime_nsec);
	}
	if (to_set & FUSE_SET_ATTR_MTIME_NOW) {
		now(&u->attr.mtime_sec, &u->attr.mtime_nsec);
	} else if (to_set & FUSE_SET_ATTR_MTIME) {
		u->attr.mtime_sec = attr->st_mtim.tv_sec;
		u->attr.mtime_nsec = (uint32_t)attr->st_mtim.tv_nsec;
	}
	fill_stat(n, &st);
	double ttl = ttl_of(v, n);
	pthread_mutex_unlock(&v->lock);
	fuse_reply_attr(req, &st, ttl);
}

static const struct store_xattr *xattr_find(const struct store_attr *a, const char *name)
{
	for (size_t i = 0; i < a->n_xattrs; i++)
		if (!strcmp(a->xattrs[i].name, name))
			return &a->xattrs[i];
	return NULL;
}

static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct view *v = req_view(req);
	const struct store_xattr *x;
	_cleanup_free_ uint8_t *val = NULL;
	size_t len;

	pthread_mutex_lock(&v->lock);
	x = xattr_find(vattr(vnode_of(v, ino)), name);
	if (!x) {
		pthread_mutex_unlock(&v->lock);
		fuse_reply_err(req, ENODATA);
		return;
	}
	len = x->value_len;
	val = xmalloc(len + 1);
	memcpy(val, x->value, len);
	pthread_mutex_unlock(&v->lock);
	if (size == 0)
		fuse_reply_xattr(req, len);
	else if (size < len)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, (const char *)val, len);
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct view *v = req_view(req);
	const struct store_attr *a;
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;

	pthread_mutex_lock(&v->lock);
	a = vattr(vnode_of(v, ino));
	for (size_t i = 0; i < a->n_xattrs; i++)
		len += strlen(a->xattrs[i].name) + 1;
	buf = xmalloc(len + 1);
	len = 0;
	for (size_t i = 0; i < a->n_xattrs; i++) {
		size_t nl = strlen(a->xattrs[i].name) + 1;
		memcpy(buf + len, a->xattrs[i].name, nl);
		len += nl;
	}
	pthread_mutex_unlock(&v->lock);
	if (size == 0)
		fuse_reply_xattr(req, len);
	else if (size < len)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, buf, len);
}

/* Set (value != NULL) or remove name in a: 0 or an errno. */
static int xattr_change(struct store_attr *a, const char *name, const char *value, size_t size,
			int flags)
{
	struct store_xattr *x = (struct store_xattr *)xattr_find(a, name);
	uint8_t *val;

	if (!value) {
		if (!x)
			return ENODATA;
		free((char *)x->name);
		free((uint8_t *)x->value);
		size_t i = (size_t)(x - a->xattrs);
		memmove(a->xattrs + i, a->xattrs + i + 1, (a->n_xattrs - i - 1) * sizeof(*x));
		a->n_xattrs--;
		return 0;
	}
	if (strlen(name) > STORE_NAME_MAX || !*name)
		return ERANGE;
	if (size > STORE_XATTR_VALUE_MAX)
		return E2BIG;
	if (x && (flags & XATTR_CREATE))
		return EEXIST;
	if (!x && (flags & XATTR_REPLACE))
		return ENODATA;
	val = xmalloc(size + 1);
	memcpy(val, value, size);
	if (!x) {
		a->xattrs = xreallocarray(a->xattrs, a->n_xattrs + 1, sizeof(*a->xattrs));
		x = &a->xattrs[a->n_xattrs++];
		x->name = xstrdup(name);
	} else {
		free((uint8_t *)x->value);
	}
	x->value = val;
	x->value_len = size;
	return 0;
}

static void xattr_op(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
		     size_t size, int flags)
{
	struct view *v = req_view(req);
	struct cc_error *err = NULL;
	struct vnode *n;
	int e;

	pthread_mutex_lock(&v->lock);
	n = vnode_of(v, ino);
	if (!v->upper_id) {
		e = EROFS;
	} else if (prepare_change(v, n, &err) < 0) {
		reply_failed(req, v, "setxattr", n, &err);
		return;
	} else {
		e = xattr_change(&n->up->attr, name, value, size, flags);
	}
	pthread_mutex_unlock(&v->lock);
	fuse_reply_err(req, e);
}

static void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
			size_t size, int flags)
{
	xattr_op(req, ino, name, value ? value : "", size, flags);
}

static void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	xattr_op(req, ino, name, NULL, 0, 0);
}

/* ---- operations: files ---- */

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct view *v = req_view(req);
	struct cc_error *err = NULL;
	bool writing = (fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC);
	struct vnode *n;
	struct vfile *h;
	int ret = 0;

	pthread_mutex_lock(&v->lock);
	n = vnode_of(v, ino);
	if (writing && !v->upper_id) {
		pthread_mutex_unlock(&v->lock);
		fuse_reply_err(req, EROFS);
		return;
	}
	h = xzalloc(sizeof(*h));
	pthread_mutex_init(&h->lock, NULL);
	h->vn = n;
	h->path = vnode_path(v, n);
	if (writing)
		ret = prepare_change(v, n, &err);
	if (ret == 0 && writing && (fi->flags & O_TRUNC) && ftruncate(n->up->fd, 0) == 0) {
		n->up->size = 0;
		now(&n->up->attr.mtime_sec, &n->up->attr.mtime_nsec);
	}
	if (ret == 0 && n->up && n->up->fd >= 0) {
		h->up = n->up;
		h->up->refs++;
	} else if (ret == 0) {
		const uint8_t *id = n->up ? n->up->id : store_layer_inode_id(n->lino);
		const uint8_t *mac = n->up ? n->up->mac : store_layer_inode_mac(n->lino);
		ret = store_object_open(v->s, id, mac, &h->obj, &err);
		fi->keep_cache = 1; /* immutable and verified */
	}
	if (ret < 0) {
		pthread_mutex_unlock(&v->lock);
		fuse_reply_err(req, log_fail(v, "open", h->path, &err));
		free(h->path);
		free(h);
		return;
	}
	n->pins++;
	pthread_mutex_unlock(&v->lock);
	fi->fh = (uint64_t)(uintptr_t)h;
	if (fuse_reply_open(req, fi) == -ENOENT) {
		pthread_mutex_lock(&v->lock);
		unode_put(h->up);
		n->pins--;
		vnode_release(v, n);
		pthread_mutex_unlock(&v->lock);
		store_object_close(h->obj);
		free(h->path);
		free(h);
	}
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct view *v = req_view(req);
	struct vfile *h = (struct vfile *)(uintptr_t)fi->fh;
	struct cc_error *err = NULL;
	_cleanup_free_ uint8_t *buf = NULL;
	ssize_t n;
	(void)ino;

	if (h->up) {
		struct fuse_bufvec bv = FUSE_BUFVEC_INIT(size);
		bv.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
		bv.buf[0].fd = h->up->fd;
		bv.buf[0].pos = off;
		fuse_reply_data(req, &bv, FUSE_BUF_SPLICE_MOVE);
		return;
	}
	buf = xmalloc(size + 1);
	pthread_mutex_lock(&h->lock);
	n = store_pf_pread(store_object_reader(h->obj), buf, size, (uint64_t)off, &err);
	pthread_mutex_unlock(&h->lock);
	if (n < 0) {
		fuse_reply_err(req, log_fail(v, "read", h->path, &err));
		return;
	}
	fuse_reply_buf(req, (const char *)buf, (size_t)n);
}

/* SEEK_DATA and SEEK_HOLE (cp, tar and the flattening copy keep a sparse file's holes). */
static void op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		     struct fuse_file_info *fi)
{
	struct view *v = req_view(req);
	struct vfile *h = (struct vfile *)(uintptr_t)fi->fh;
	struct cc_error *err = NULL;
	int64_t at;
	(void)ino;

	if (whence != SEEK_DATA && whence != SEEK_HOLE) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (off < 0) {
		fuse_reply_err(req, ENXIO);
		return;
	}
	if (h->up) {
		off_t r = lseek(h->up->fd, off, whence);
		if (r < 0)
			fuse_reply_err(req, errno);
		else
			fuse_reply_lseek(req, r);
		return;
	}
	pthread_mutex_lock(&h->lock);
	errno = 0;
	at = store_pf_seek(store_object_reader(h->obj), (uint64_t)off, whence, &err);
	int e = errno;
	pthread_mutex_unlock(&h->lock);
	if (at < 0 && err)
		fuse_reply_err(req, log_fail(v, "seek", h->path, &err));
	else if (at < 0)
		fuse_reply_err(req, e ? e : ENXIO);
	else
		fuse_reply_lseek(req, at);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct view *v = req_view(req);
	struct vfile *h = (struct vfile *)(uintptr_t)fi->fh;
	ssize_t n;
	(void)ino;

	if (!h->up) {
		fuse_reply_err(req, EBADF);
		return;
	}
	n = pwrite(h->up->fd, buf, size, off);
	if (n < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	pthread_mutex_lock(&v->lock);
	if ((uint64_t)off + (uint64_t)n > h->up->size)
		h->up->size = (uint64_t)off + (uint64_t)n;
	now(&h->up->attr.mtime_sec, &h->up->attr.mtime_nsec);
	h->up->stored = false;
	v->dirty = true;
	pthread_mutex_unlock(&v->lock);
	fuse_reply_write(req, (size_t)n);
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	fuse_reply_err(req, 0);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct view *v = req_view(req);
	struct vfile *h = (struct vfile *)(uintptr_t)fi->fh;
	(void)ino;

	pthread_mutex_lock(&v->lock);
	unode_put(h->up);
	h->vn->pins--;
	vnode_release(v, h->vn);
	pthread_mutex_unlock(&v->lock);
	store_object_close(h->obj);
	pthread_mutex_destroy(&h->lock);
	free(h->path);
	free(h);
	fuse_reply_err(req, 0);
}

static void sync_op(fuse_req_t req, fuse_ino_t ino)
{
	struct view *v = req_view(req);
	struct cc_error *err = NULL;
	int ret;

	pthread_mutex_lock(&v->lock);
	ret = persist(v, &err);
	if (ret < 0) {
		reply_failed(req, v, "fsync", vnode_of(v, ino), &err);
		return;
	}
	pthread_mutex_unlock(&v->lock);
	fuse_reply_err(req, 0);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	(void)datasync;
	(void)fi;
	sync_op(req, ino);
}

/* ---- operations: directories ---- */

static int dent_cmp(const void *a, const void *b)
{
	const struct dent *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	if (c)
		return c;
	return x->rank < y->rank ? -1 : x->rank > y->rank;
}

static void dent_push(struct vdir *d, size_t *cap, const char *name, uint8_t type, bool whiteout,
		      unsigned rank, uint64_t ino)
{
	if (d->n == *cap) {
		*cap = *cap ? 2 * *cap : 32;
		d->ents = xreallocarray(d->ents, *cap, sizeof(*d->ents));
	}
	d->ents[d->n++] = (struct dent){
		.name = xstrdup(name), .type = type, .whiteout = whiteout, .rank = rank, .ino = ino
	};
}

static int merged_list(struct view *v, struct unode *up, const struct ldir *ldirs, size_t n_ldirs,
		       bool want_ino, struct vdir *out, struct cc_error **err)
{
	struct vdir all = { 0 };
	size_t cap = 0, keep = 0;
	struct store_dirent de;

	for (size_t i = 0; up && i < up->n; i++) {
		const struct uent *e = &up->ents[i];
		dent_push(&all, &cap, e->name, e->whiteout ? 0 : e->node->attr.type, e->whiteout, 0,
			  e->whiteout ? 0 : e->node->ino);
	}
	if (up && (up->attr.flags & STORE_FLAG_OPAQUE))
		n_ldirs = 0;
	for (size_t i = 0; i < n_ldirs; i++) {
		struct store_layer_reader *r = v->layers[ldirs[i].layer].r;
		for (size_t pos = 0;; pos++) {
			int ret = store_layer_readdir(r, ldirs[i].ino, pos, &de, err);
			if (ret < 0) {
				vdir_free(&all);
				return -1;
			}
			if (ret == 0)
				break;
			dent_push(&all, &cap, de.name, de.type, de.kind == STORE_ENTRY_WHITEOUT,
				  (unsigned)i + 1, 0);
		}
	}
	if (all.n > 1)
		qsort(all.ents, all.n, sizeof(*all.ents), dent_cmp);
	for (size_t i = 0, j; i < all.n; i = j) {
		struct dent *e = &all.ents[i];
		/* The topmost entry of a name decides; a whiteout hides it. */
		for (j = i + 1; j < all.n && !strcmp(all.ents[j].name, e->name); j++)
			free(all.ents[j].name);
		if (e->whiteout) {
			free(e->name);
			continue;
		}
		if (want_ino && e->rank > 0) {
			struct store_inode *ino = NULL;
			const struct ldir *l = &ldirs[e->rank - 1];
			int ret =
			    store_layer_lookup(v->layers[l->layer].r, l->ino, e->name, &ino, err);
			if (ret < 0) {
				free(e->name);
				for (size_t k = j; k < all.n; k++)
					free(all.ents[k].name);
				all.n = keep;
				vdir_free(&all);
				return -1;
			}
			if (ret == STORE_FOUND)
				e->ino = lower_ino(l->layer, ino);
		}
		all.ents[keep++] = *e;
	}
	all.n = keep;
	*out = all;
	return 0;
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct view *v = req_view(req);
	struct cc_error *err = NULL;
	struct vdir *d = xzalloc(sizeof(*d));
	struct vnode *n;

	pthread_mutex_lock(&v->lock);
	n = vnode_of(v, ino);
	if (merged_list(v, n->up, n->ldirs, n->n_ldirs, true, d, &err) < 0) {
		_cleanup_free_ char *p = vnode_path(v, n);
		pthread_mutex_unlock(&v->lock);
		free(d);
		fuse_reply_err(req, log_fail(v, "opendir", p, &err));
		return;
	}
	d->self = n->ino;
	d->parent = n->parent ? n->parent->ino : n->ino;
	pthread_mutex_unlock(&v->lock);
	fi->fh = (uint64_t)(uintptr_t)d;
	fi->cache_readdir = !v->upper_id;
	fi->keep_cache = !v->upper_id;
	if (fuse_reply_open(req, fi) == -ENOENT) {
		vdir_free(d);
		free(d);
	}
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	struct vdir *d = (struct vdir *)(uintptr_t)fi->fh;
	_cleanup_free_ char *buf = xmalloc(size + 1);
	size_t used = 0;
	(void)ino;

	for (size_t i = (size_t)off; i < d->n + 2; i++) {
		struct stat st = { 0 };
		const char *name = i == 0 ? "." : i == 1 ? ".." : d->ents[i - 2].name;
		size_t len;
		if (i >= 2) {
			st.st_ino = d->ents[i - 2].ino;
			st.st_mode = type_ifmt(d->ents[i - 2].type);
		} else {
			st.st_ino = i == 0 ? d->self : d->parent;
			st.st_mode = S_IFDIR;
		}
		len = fuse_add_direntry(req, buf + used, size - used, name, &st, (off_t)i + 1);
		if (len > size - used)
			break;
		used += len;
	}
	fuse_reply_buf(req, buf, used);
}

/*
 * READDIRPLUS: the entries with their attributes, as many lookups answered in one request (a
 * walk that stats every file costs a round trip per directory, not per file). Each entry
 * given with attributes counts as a lookup of it; "." and ".." are given without.
 */
static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			   struct fuse_file_info *fi)
{
	struct view *v = req_view(req);
	struct vdir *d = (struct vdir *)(uintptr_t)fi->fh;
	_cleanup_free_ char *buf = xmalloc(size + 1);
	size_t used = 0;

	for (size_t i = (size_t)off; i < d->n + 2; i++) {
		struct fuse_entry_param e;
		const char *name = i == 0 ? "." : i == 1 ? ".." : d->ents[i - 2].name;
		size_t need = fuse_add_direntry_plus(req, NULL, 0, name, NULL, 0);
		if (need > size - used)
			break;
		memset(&e, 0, sizeof(e));
		if (i < 2) {
			e.attr.st_ino = i == 0 ? d->self : d->parent;
			e.attr.st_mode = S_IFDIR;
		} else {
			struct cc_error *err = NULL;
			struct found f = { .top = -1 };
			struct vnode *dir, *n = NULL;
			pthread_mutex_lock(&v->lock);
			dir = vnode_of(v, ino);
			int r = resolve(v, dir, name, &f, &err);
			if (r > 0)
				n = vnode_get(v, dir, name, &f, &err);
			found_clear(&f);
			if (n) {
				e.ino = nodeid_of(v, n);
				e.generation = n->gen;
				fill_stat(n, &e.attr);
				e.attr_timeout = e.entry_timeout = ttl_of(v, n);
			} else {
				/* Gone since opendir, or damaged: a plain entry; a lookup of it
				 * then fails as it should (and logs the damage). */
				cc_error_free(&err);
				e.attr.st_ino = d->ents[i - 2].ino;
				e.attr.st_mode = type_ifmt(d->ents[i - 2].type);
			}
			pthread_mutex_unlock(&v->lock);
		}
		used +=
		    fuse_add_direntry_plus(req, buf + used, size - used, name, &e, (off_t)i + 1);
	}
	fuse_reply_buf(req, buf, used);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct vdir *d = (struct vdir *)(uintptr_t)fi->fh;
	(void)ino;
	vdir_free(d);
	free(d);
	fuse_reply_err(req, 0);
}

static void op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	(void)datasync;
	(void)fi;
	sync_op(req, ino);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct view *v = req_view(req);
	struct statvfs sv;
	(void)ino;

	if (statvfs(store_root(v->s), &sv) < 0)
		memset(&sv, 0, sizeof(sv));
	sv.f_namemax = STORE_NAME_MAX;
	fuse_reply_statfs(req, &sv);
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	struct view *v = userdata;
	conn->max_write = IO_CHUNK;
	conn->max_readahead = IO_CHUNK;
	conn->max_read = IO_CHUNK;
	if (conn->capable & FUSE_CAP_ASYNC_READ)
		conn->want |= FUSE_CAP_ASYNC_READ;
	if (conn->capable & FUSE_CAP_SPLICE_WRITE)
		conn->want |= FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE;
	if (conn->capable & FUSE_CAP_PARALLEL_DIROPS)
		conn->want |= FUSE_CAP_PARALLEL_DIROPS;
	if (v->upper_id && (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC))
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	if (conn->capable & FUSE_CAP_CACHE_SYMLINKS)
		conn->want |= FUSE_CAP_CACHE_SYMLINKS;
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
}

static void op_destroy(void *userdata)
{
	struct view *v = userdata;
	pthread_mutex_lock(&v->lock);
	if (persist(v, &v->persist_err) < 0)
		v->persist_failed = true;
	pthread_mutex_unlock(&v->lock);
}

static const struct fuse_lowlevel_ops view_ops = {
	.init = op_init,
	.destroy = op_destroy,
	.lookup = op_lookup,
	.forget = op_forget,
	.forget_multi = op_forget_multi,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.readlink = op_readlink,
	.mknod = op_mknod,
	.mkdir = op_mkdir,
	.unlink = op_unlink,
	.rmdir = op_rmdir,
	.symlink = op_symlink,
	.rename = op_rename,
	.link = op_link,
	.open = op_open,
	.read = op_read,
	.write = op_write,
	.flush = op_flush,
	.release = op_release,
	.fsync = op_fsync,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.readdirplus = op_readdirplus,
	.lseek = op_lseek,
	.releasedir = op_releasedir,
	.fsyncdir = op_fsyncdir,
	.statfs = op_statfs,
	.setxattr = op_setxattr,
	.getxattr = op_getxattr,
	.listxattr = op_listxattr,
	.removexattr = op_removexattr,
	.create = op_create,
};

/* ---- serving ---- */

static void fuse_log_sink(enum fuse_log_level level, const char *fmt, va_list ap)
{
	_cleanup_free_ char *msg = NULL;
	size_t n;
	if (vasprintf(&msg, fmt, ap) < 0)
		return;
	n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = 0;
	cc_log(level <= FUSE_LOG_ERR	   ? CC_LOG_ERROR
	       : level <= FUSE_LOG_WARNING ? CC_LOG_WARNING
	       : level <= FUSE_LOG_INFO	   ? CC_LOG_INFO
					   : CC_LOG_DEBUG,
	       "view: libfuse: %s", msg);
}

char *store_view_upper_id(const char *name)
{
	char *id;
	if (!name)
		return NULL;
	id = xasprintf("%s%s", STORE_REPLACEABLE_PREFIX, name);
	if (!*name || !store_diff_id_valid(id)) {
		free(id);
		return NULL;
	}
	return id;
}

static void view_free(struct view *v)
{
	if (!v)
		return;
	if (v->root) {
		if (v->root->up) {
			v->root->up->vn = NULL;
			unode_put(v->root->up);
		}
		free(v->root->ldirs);
		free(v->root);
	}
	/* Vnodes the kernel did not forget before the connection ended. */
	for (struct vnode *x = v->all, *next; x; x = next) {
		next = x->lnext;
		vnode_free(x);
	}
	free(v->buckets);
	for (size_t i = 0; i < v->n_layers; i++) {
		store_layer_close(v->layers[i].r);
		free(v->layers[i].diff_id);
	}
	free(v->layers);
	cc_error_free(&v->persist_err);
	pthread_mutex_destroy(&v->lock);
	free(v->upper_id);
	free(v->mnt);
	free(v);
}

/* Open the layers and the writable layer, and make the root. */
static int view_setup(struct view *v, const struct store_view_opts *o, struct cc_error **err)
{
	struct vnode *root;

	if (o->n_layers > LAYERS_MAX)
		return view_fail(v, err, EINVAL, "%zu layers, at most %d", o->n_layers, LAYERS_MAX);
	if (!o->n_layers && !o->upper)
		return view_fail(v, err, EINVAL, "no layers");
	if (o->upper && !(v->upper_id = store_view_upper_id(o->upper)))
		return view_fail(v, err, EINVAL, "writable layer name is not 1-%d printable bytes",
				 (int)(STORE_DIFF_ID_MAX - sizeof(STORE_REPLACEABLE_PREFIX) + 1));
	for (size_t i = 0; i < o->n_layers; i++)
		if (!o->layers[i] || !store_has_layer(v->s, o->layers[i]))
			return view_fail(v, err, ENOENT, "layer %s: not in the store",
					 o->layers[i] ? o->layers[i] : "(null)");
	v->layers = xcalloc(o->n_layers + 1, sizeof(*v->layers));
	for (size_t i = 0; i < o->n_layers; i++) {
		v->layers[i].diff_id = xstrdup(o->layers[i]);
		v->n_layers++;
		if (store_layer_open(v->s, o->layers[i], &v->layers[i].r, err) < 0)
			return cc_error_prefix(err, "view %s", v->mnt);
	}
	root = v->root = xzalloc(sizeof(*root));
	root->ino = FUSE_ROOT_ID;
	root->type = STORE_TYPE_DIR;
	root->top = -1;
	root->nlookup = 1;
	root->ldirs = xcalloc(v->n_layers + 1, sizeof(*root->ldirs));
	for (size_t i = v->n_layers; i-- > 0;) {
		struct store_inode *ino = store_layer_root(v->layers[i].r);
		if (root->top < 0) {
			root->top = (int)i;
			root->lino = ino;
		}
		root->ldirs[root->n_ldirs].layer = (unsigned)i;
		root->ldirs[root->n_ldirs++].ino = ino;
		if (store_layer_getattr(ino)->flags & STORE_FLAG_OPAQUE)
			break;
	}
	if (root->top >= 0 &&
	    store_layer_nlink(v->layers[root->top].r, root->lino, &root->lnlink, err) < 0)
		return cc_error_prefix(err, "view %s", v->mnt);
	if (v->upper_id && load_upper(v, err) < 0)
		return cc_error_prefix(err, "view %s", v->mnt);
	return 0;
}

static char *mount_options(const struct view *v, const struct store_view_opts *o)
{
	return xasprintf("fsname=store-view,subtype=store,default_permissions,max_read=%u%s%s%s",
			 IO_CHUNK, o->allow_other ? ",allow_other" : "",
			 geteuid() == 0 ? ",suid,dev" : "", v->upper_id ? "" : ",ro");
}

static int run_session(struct view *v, const struct store_view_opts *o, struct cc_error **err)
{
	_cleanup_free_ char *opts = mount_options(v, o);
	char prog[] = "store-view", dash_o[] = "-o";
	char *argv[] = { prog, dash_o, opts, NULL };
	struct fuse_args args = FUSE_ARGS_INIT(3, argv);
	struct fuse_loop_config cfg = { .clone_fd = 0, .max_idle_threads = 8 };
	int ret;

	fuse_set_log_func(fuse_log_sink);
	v->se = fuse_session_new(&args, &view_ops, sizeof(view_ops), v);
	fuse_opt_free_args(&args);
	if (!v->se)
		return view_fail(v, err, EINVAL, "cannot start a FUSE session (see the log)");
	if (fuse_session_mount(v->se, v->mnt) != 0) {
		fuse_session_destroy(v->se);
		return view_fail(v, err, EIO, "mount failed (see the log; /dev/fuse, root?)");
	}
	if (o->ready_fd >= 0) {
		char c = 1;
		CC_BEST_EFFORT(write(o->ready_fd, &c, 1)); /* the waiter sees EOF otherwise */
		close(o->ready_fd);
	}
	ret = fuse_session_loop_mt(v->se, &cfg);
	fuse_session_unmount(v->se);
	fuse_session_destroy(v->se); /* calls op_destroy: the last persist */
	v->se = NULL;
	if (v->persist_failed) {
		*err = v->persist_err;
		v->persist_err = NULL;
		return cc_error_prefix(err, "view %s: persist the writable layer", v->mnt);
	}
	if (ret < 0)
		return view_fail(v, err, -ret, "session ended with an error: %s", strerror(-ret));
	return 0;
}

int store_view_serve(struct store *s, const char *mountpoint, const struct store_view_opts *o,
		     struct cc_error **err)
{
	struct view *v;
	int ret;

	if (!s || !mountpoint || !o)
		return cc_error_set(err, EINVAL, "view: missing store, mountpoint or options");
	v = xzalloc(sizeof(*v));
	v->s = s;
	v->mnt = xstrdup(mountpoint);
	v->next_ino = 2;
	pthread_mutex_init(&v->lock, NULL);
	ret = view_setup(v, o, err);
	if (ret == 0)
		ret = run_session(v, o, err);
	else if (o->ready_fd >= 0)
		close(o->ready_fd);
	view_free(v);
	return ret;
}

int store_view_stop(const char *mountpoint, struct cc_error **err)
{
	if (umount2(mountpoint, UMOUNT_NOFOLLOW) == 0)
		return 0;
	if (errno == EBUSY && umount2(mountpoint, MNT_DETACH | UMOUNT_NOFOLLOW) == 0)
		return 0;
	return cc_error_errno(err, "view %s: unmount", mountpoint);
}

int store_view_drop(struct store *s, const char *name, struct cc_error **err)
{
	_cleanup_free_ char *id = store_view_upper_id(name);
	if (!id)
		return cc_error_set(err, EINVAL, "view: writable layer name is not valid");
	if (store_remove_layer(s, id, err) < 0 || store_gc(s, NULL, err) < 0)
		return cc_error_prefix(err, "drop %s", id);
	return 0;
}
