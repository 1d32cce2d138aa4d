// SPDX-License-Identifier: Apache-2.0
/* Inodes, directories and layers: the encodings, the layer writer and reader (layer.h,
 * docs/store.md). */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "store/layer.h"
#include "util/cleanup.h"
#include "util/le.h"
#include "util/hex.h"
#include <openssl/rand.h>

#define ATTR_VERSION 1
#define RECORD_VERSION 1
#define SPILL_MARKER 0xFFFFFFFFu
/* A directory entry's smallest encoding: name length 2, name 1, kind 1, type 1, id, MAC. */
#define DIRENT_MIN (2 + 1 + 1 + 1 + STORE_ID_LEN + STORE_MAC_LEN)
#define RECORD_FIXED (4 + STORE_ID_LEN + STORE_MAC_LEN + 4)
#define RECORD_LINK_LEN (STORE_ID_LEN + 4)
/* A record's content: the fixed part and up to 2^22 hard-linked objects. */
#define RECORD_MAX (RECORD_FIXED + RECORD_LINK_LEN * (1u << 22))
/* Directory levels below the root (a path of 4095 bytes has at most 2048 components). */
#define DEPTH_MAX 2048
/* Inodes of a reader holding an open object or parsed directory entries. */
#define READER_HELD_MAX 32

/* "WHAT: MESSAGE" with errnum and no strerror text. Returns -1. */
static int fail(struct cc_error **err, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct cc_error **err, int errnum, const char *fmt, ...)
{
	va_list ap;
	bool fresh = err && !*err;

	va_start(ap, fmt);
	cc_error_setv(err, 0, fmt, ap);
	va_end(ap);
	if (fresh && *err)
		(*err)->errnum = errnum;
	return -1;
}

/* Names as bytes: memcmp, the shorter first on a tie. */
static int name_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	int c = memcmp(a, b, al < bl ? al : bl);
	if (c)
		return c;
	return al < bl ? -1 : al > bl;
}

static bool is_device(uint8_t type)
{
	return type == STORE_TYPE_CHR || type == STORE_TYPE_BLK;
}

/* ---- attributes ---- */

void store_attr_clear(struct store_attr *a)
{
	for (size_t i = 0; i < a->n_xattrs; i++) {
		free((char *)a->xattrs[i].name);
		free((uint8_t *)a->xattrs[i].value);
	}
	free(a->xattrs);
	memset(a, 0, sizeof(*a));
}

void store_attr_copy(struct store_attr *dst, const struct store_attr *src)
{
	*dst = *src;
	dst->xattrs = src->n_xattrs ? xcalloc(src->n_xattrs, sizeof(*dst->xattrs)) : NULL;
	for (size_t i = 0; i < src->n_xattrs; i++) {
		const struct store_xattr *x = &src->xattrs[i];
		dst->xattrs[i].name = xstrdup(x->name);
		uint8_t *v = xmalloc(x->value_len + 1);
		if (x->value_len)
			memcpy(v, x->value, x->value_len);
		dst->xattrs[i].value = v;
		dst->xattrs[i].value_len = x->value_len;
	}
}

static int xattr_ptr_cmp(const void *a, const void *b)
{
	const struct store_xattr *x = *(const struct store_xattr *const *)a;
	const struct store_xattr *y = *(const struct store_xattr *const *)b;
	return strcmp(x->name, y->name);
}

/* What the format can hold (EINVAL otherwise); the xattrs' encoded size into *total. */
static int attr_check(const struct store_attr *a, const struct store_xattr **sorted, size_t *total,
		      struct cc_error **err)
{
	if (a->type < STORE_TYPE_REG || a->type > STORE_TYPE_FIFO)
		return fail(err, EINVAL, "attributes: unknown type %u", a->type);
	if (a->flags & ~STORE_FLAG_OPAQUE || (a->flags && a->type != STORE_TYPE_DIR))
		return fail(err, EINVAL, "attributes: flags 0x%x on type %u", a->flags, a->type);
	if (a->mode & ~07777u)
		return fail(err, EINVAL, "attributes: mode 0%o has bits outside 07777", a->mode);
	if (a->mtime_nsec >= 1000000000u)
		return fail(err, EINVAL, "attributes: %u nanoseconds", a->mtime_nsec);
	if (a->rdev && !is_device(a->type))
		return fail(err, EINVAL, "attributes: a device number on type %u", a->type);
	*total = 0;
	for (size_t i = 0; i < a->n_xattrs; i++) {
		const struct store_xattr *x = &a->xattrs[i];
		size_t nl = x->name ? strlen(x->name) : 0;
		if (nl == 0 || nl > STORE_NAME_MAX)
			return fail(err, EINVAL, "attributes: xattr %zu: name of %zu bytes", i, nl);
		if (x->value_len > STORE_XATTR_VALUE_MAX || (x->value_len && !x->value))
			return fail(err, EINVAL, "attributes: xattr %zu: value of %zu bytes", i,
				    x->value_len);
		*total += 2 + nl + 4 + x->value_len;
		sorted[i] = x;
	}
	if (*total > STORE_XATTRS_MAX)
		return fail(err, EINVAL, "attributes: %zu bytes of xattrs, at most %u", *total,
			    STORE_XATTRS_MAX);
	qsort(sorted, a->n_xattrs, sizeof(*sorted), xattr_ptr_cmp);
	for (size_t i = 1; i < a->n_xattrs; i++)
		if (!strcmp(sorted[i - 1]->name, sorted[i]->name))
			return fail(err, EINVAL, "attributes: xattr given twice");
	return 0;
}

int store_attr_encode(const struct store_attr *a, uint8_t out[STORE_PF_ATTR_MAX], size_t *len,
		      uint8_t **xattrs, size_t *xattrs_len, struct cc_error **err)
{
	_cleanup_free_ const struct store_xattr **sorted =
	    xcalloc(a->n_xattrs + 1, sizeof(*sorted));
	size_t total, off = 0;
	uint8_t *area;

	*xattrs = NULL;
	*xattrs_len = 0;
	if (attr_check(a, sorted, &total, err) < 0)
		return -1;
	out[0] = ATTR_VERSION;
	out[1] = a->type;
	cc_put_le16(out + 2, a->flags);
	cc_put_le32(out + 4, a->mode);
	cc_put_le32(out + 8, a->uid);
	cc_put_le32(out + 12, a->gid);
	cc_put_le64(out + 16, (uint64_t)a->mtime_sec);
	cc_put_le32(out + 24, a->mtime_nsec);
	cc_put_le64(out + 28, a->rdev);
	area = STORE_ATTR_FIXED + total <= STORE_PF_ATTR_MAX ? out + STORE_ATTR_FIXED
							     : xmalloc(total + 1);
	for (size_t i = 0; i < a->n_xattrs; i++) {
		size_t nl = strlen(sorted[i]->name);
		cc_put_le16(area + off, (uint16_t)nl);
		memcpy(area + off + 2, sorted[i]->name, nl);
		off += 2 + nl;
		cc_put_le32(area + off, (uint32_t)sorted[i]->value_len);
		if (sorted[i]->value_len)
			memcpy(area + off + 4, sorted[i]->value, sorted[i]->value_len);
		off += 4 + sorted[i]->value_len;
	}
	if (area == out + STORE_ATTR_FIXED) {
		cc_put_le32(out + 36, (uint32_t)total);
		*len = STORE_ATTR_FIXED + total;
	} else {
		*xattrs = area;
		*xattrs_len = total;
		*len = STORE_ATTR_FIXED;
	}
	return 0;
}

void store_attr_set_spilled(uint8_t out[STORE_PF_ATTR_MAX], size_t *len,
			    const uint8_t id[STORE_ID_LEN], const uint8_t mac[STORE_MAC_LEN])
{
	cc_put_le32(out + 36, SPILL_MARKER);
	memcpy(out + STORE_ATTR_FIXED, id, STORE_ID_LEN);
	memcpy(out + STORE_ATTR_FIXED + STORE_ID_LEN, mac, STORE_MAC_LEN);
	*len = STORE_ATTR_SPILLED;
}

static int xattrs_parse(const uint8_t *p, size_t len, struct store_attr *a, struct cc_error **err)
{
	size_t off = 0, cap = 0;

	while (off < len) {
		struct store_xattr *x;
		size_t nl, vl, i = a->n_xattrs;
		if (len - off < 2 || (nl = cc_le16(p + off)) == 0 || nl > STORE_NAME_MAX ||
		    len - off - 2 < nl + 4)
			return fail(err, EIO, "xattr %zu: bad name length", i);
		if (memchr(p + off + 2, 0, nl))
			return fail(err, EIO, "xattr %zu: NUL in the name", i);
		vl = cc_le32(p + off + 2 + nl);
		if (vl > STORE_XATTR_VALUE_MAX || len - off - 6 - nl < vl)
			return fail(err, EIO, "xattr %zu: bad value length %zu", i, vl);
		if (i > 0) {
			const char *prev = a->xattrs[i - 1].name;
			if (name_cmp((const uint8_t *)prev, strlen(prev), p + off + 2, nl) >= 0)
				return fail(err, EIO, "xattr %zu: out of order or repeated", i);
		}
		if (i == cap) {
			cap = cap ? 2 * cap : 8;
			a->xattrs = xreallocarray(a->xattrs, cap, sizeof(*a->xattrs));
		}
		x = &a->xattrs[i];
		x->name = xstrndup((const char *)p + off + 2, nl);
		uint8_t *v = xmalloc(vl + 1);
		memcpy(v, p + off + 6 + nl, vl);
		x->value = v;
		x->value_len = vl;
		a->n_xattrs++;
		off += 6 + nl + vl;
	}
	return 0;
}

int store_xattrs_parse(const void *buf, size_t len, struct store_attr *a, struct cc_error **err)
{
	if (a->n_xattrs)
		return fail(err, EINVAL, "xattrs: the attributes have xattrs already");
	if (len > STORE_XATTRS_MAX)
		return fail(err, EIO, "xattrs: %zu bytes, at most %u", len, STORE_XATTRS_MAX);
	if (xattrs_parse(buf, len, a, err) < 0) {
		store_attr_clear(a);
		return cc_error_prefix(err, "xattrs");
	}
	return 0;
}

static int attr_fixed_parse(const uint8_t *p, struct store_attr *a, struct cc_error **err)
{
	if (p[0] != ATTR_VERSION)
		return fail(err, EIO, "attributes: unknown version %u", p[0]);
	a->type = p[1];
	a->flags = cc_le16(p + 2);
	a->mode = cc_le32(p + 4);
	a->uid = cc_le32(p + 8);
	a->gid = cc_le32(p + 12);
	a->mtime_sec = (int64_t)cc_le64(p + 16);
	a->mtime_nsec = cc_le32(p + 24);
	a->rdev = cc_le64(p + 28);
	if (a->type < STORE_TYPE_REG || a->type > STORE_TYPE_FIFO)
		return fail(err, EIO, "attributes: unknown type %u", a->type);
	if (a->flags & ~STORE_FLAG_OPAQUE || (a->flags && a->type != STORE_TYPE_DIR))
		return fail(err, EIO, "attributes: flags 0x%x on type %u", a->flags, a->type);
	if (a->mode & ~07777u)
		return fail(err, EIO, "attributes: mode 0%o has bits outside 07777", a->mode);
	if (a->mtime_nsec >= 1000000000u)
		return fail(err, EIO, "attributes: %u nanoseconds", a->mtime_nsec);
	if (a->rdev && !is_device(a->type))
		return fail(err, EIO, "attributes: a device number on type %u", a->type);
	return 0;
}

int store_attr_parse(const void *buf, size_t len, struct store_attr *a, bool *spilled,
		     uint8_t spill_id[STORE_ID_LEN], uint8_t spill_mac[STORE_MAC_LEN],
		     struct cc_error **err)
{
	const uint8_t *p = buf;
	uint32_t xl;

	memset(a, 0, sizeof(*a));
	*spilled = false;
	if (len < STORE_ATTR_FIXED)
		return fail(err, EIO, "attributes: %zu bytes, at least %d expected", len,
			    STORE_ATTR_FIXED);
	if (attr_fixed_parse(p, a, err) < 0)
		goto fail;
	xl = cc_le32(p + 36);
	if (xl == SPILL_MARKER) {
		if (len != STORE_ATTR_SPILLED) {
			fail(err, EIO, "attributes: spilled xattrs, but %zu bytes", len);
			goto fail;
		}
		memcpy(spill_id, p + STORE_ATTR_FIXED, STORE_ID_LEN);
		memcpy(spill_mac, p + STORE_ATTR_FIXED + STORE_ID_LEN, STORE_MAC_LEN);
		*spilled = true;
		return 0;
	}
	if (xl != len - STORE_ATTR_FIXED) {
		fail(err, EIO, "attributes: %u bytes of xattrs in %zu", xl, len - STORE_ATTR_FIXED);
		goto fail;
	}
	if (xattrs_parse(p + STORE_ATTR_FIXED, xl, a, err) < 0) {
		cc_error_prefix(err, "attributes");
		goto fail;
	}
	return 0;
fail:
	store_attr_clear(a);
	return -1;
}

/* ---- directories and records ---- */

int store_dir_parse(const void *buf, size_t len, struct store_dir_entry **entries, size_t *count,
		    struct cc_error **err)
{
	const uint8_t *p = buf;
	_cleanup_free_ struct store_dir_entry *e = NULL;
	size_t off = 4, n;
	static const uint8_t zero[STORE_ID_LEN + STORE_MAC_LEN];

	if (len < 4)
		return fail(err, EIO, "directory: %zu bytes, too short", len);
	n = cc_le32(p);
	if (n > (len - 4) / DIRENT_MIN)
		return fail(err, EIO, "directory: %zu entries cannot fit in %zu bytes", n, len);
	e = xcalloc(n + 1, sizeof(*e));
	for (size_t i = 0; i < n; i++) {
		size_t nl;
		if (len - off < 2 || (nl = cc_le16(p + off)) == 0 || nl > STORE_NAME_MAX ||
		    len - off - 2 < nl + 2 + STORE_ID_LEN + STORE_MAC_LEN)
			return fail(err, EIO, "directory: entry %zu: bad name length", i);
		e[i].name = p + off + 2;
		e[i].name_len = nl;
		if (memchr(e[i].name, '/', nl) || memchr(e[i].name, 0, nl) ||
		    (nl == 1 && e[i].name[0] == '.') || (nl == 2 && !memcmp(e[i].name, "..", 2)))
			return fail(err, EIO, "directory: entry %zu: bad name", i);
		if (i > 0 && name_cmp(e[i - 1].name, e[i - 1].name_len, e[i].name, nl) >= 0)
			return fail(err, EIO, "directory: entry %zu: out of order or repeated", i);
		off += 2 + nl;
		e[i].kind = p[off];
		e[i].type = p[off + 1];
		e[i].id = p + off + 2;
		e[i].mac = p + off + 2 + STORE_ID_LEN;
		off += 2 + STORE_ID_LEN + STORE_MAC_LEN;
		if (e[i].kind == STORE_ENTRY_WHITEOUT) {
			if (e[i].type || memcmp(e[i].id, zero, sizeof(zero)))
				return fail(err, EIO,
					    "directory: entry %zu: a whiteout with an inode", i);
		} else if (e[i].kind != STORE_ENTRY_INODE || e[i].type < STORE_TYPE_REG ||
			   e[i].type > STORE_TYPE_FIFO) {
			return fail(err, EIO, "directory: entry %zu: unknown kind %u or type %u", i,
				    e[i].kind, e[i].type);
		}
	}
	if (off != len)
		return fail(err, EIO, "directory: %zu bytes left over", len - off);
	*entries = steal_pointer(&e);
	*count = n;
	return 0;
}

int store_record_parse(const void *buf, size_t len, struct store_record *r, struct cc_error **err)
{
	const uint8_t *p = buf;
	size_t n;

	memset(r, 0, sizeof(*r));
	if (len < RECORD_FIXED)
		return fail(err, EIO, "layer record: %zu bytes, too short", len);
	if (cc_le32(p) != RECORD_VERSION)
		return fail(err, EIO, "layer record: unknown version %u", cc_le32(p));
	n = cc_le32(p + 4 + STORE_ID_LEN + STORE_MAC_LEN);
	if (n > (len - RECORD_FIXED) / RECORD_LINK_LEN || len != RECORD_FIXED + n * RECORD_LINK_LEN)
		return fail(err, EIO, "layer record: %zu hard links in %zu bytes", n, len);
	for (size_t i = 0; i < n; i++) {
		const uint8_t *l = p + RECORD_FIXED + i * RECORD_LINK_LEN;
		if (cc_le32(l + STORE_ID_LEN) < 2)
			return fail(err, EIO, "layer record: hard link %zu: count %u", i,
				    cc_le32(l + STORE_ID_LEN));
		if (i > 0 && memcmp(l - RECORD_LINK_LEN, l, STORE_ID_LEN) >= 0)
			return fail(err, EIO, "layer record: hard link %zu: out of order", i);
	}
	memcpy(r->root_id, p + 4, STORE_ID_LEN);
	memcpy(r->root_mac, p + 4 + STORE_ID_LEN, STORE_MAC_LEN);
	r->n_links = n;
	r->links = xmalloc(n * RECORD_LINK_LEN + 1);
	memcpy(r->links, p + RECORD_FIXED, n * RECORD_LINK_LEN);
	return 0;
}

/* ---- reading objects of a layer ---- */

/* "object NAME: MESSAGE", EIO. */
static int obj_fail(struct cc_error **err, const uint8_t *id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int obj_fail(struct cc_error **err, const uint8_t *id, const char *fmt, ...)
{
	va_list ap;
	_cleanup_free_ char *what = NULL;
	char name[2 * 8 + 1];

	cc_hex_encode(id, 8, name);
	va_start(ap, fmt);
	if (vasprintf(&what, fmt, ap) < 0)
		abort();
	va_end(ap);
	return fail(err, EIO, "object %s: %s", name, what);
}

/* Open object (id, mac) and parse its attributes, fetching spilled xattrs; the object stays
 * open in *obj when obj is given. */
static int open_inode_object(struct store *s, const uint8_t *id, const uint8_t *mac,
			     struct store_attr *a, struct store_object **obj, uint8_t *spill,
			     bool *has_spill, struct cc_error **err)
{
	struct store_object *o = NULL;
	uint8_t sid[STORE_ID_LEN], smac[STORE_MAC_LEN];
	const void *area;
	size_t alen;
	bool spilled;
	char name[2 * 8 + 1];

	if (store_object_open(s, id, mac, &o, err) < 0)
		return -1;
	cc_hex_encode(id, 8, name);
	area = store_pf_attributes(store_object_reader(o), &alen);
	if (store_attr_parse(area, alen, a, &spilled, sid, smac, err) < 0) {
		store_object_close(o);
		return cc_error_prefix(err, "object %s", name);
	}
	if (has_spill)
		*has_spill = spilled;
	if (spilled) {
		struct store_object *x = NULL;
		_cleanup_free_ uint8_t *buf = NULL;
		size_t len = 0;
		if (spill)
			memcpy(spill, sid, STORE_ID_LEN);
		if (store_object_open(s, sid, smac, &x, err) == 0)
			buf = store_object_read_all(x, STORE_XATTRS_MAX, &len, err);
		store_object_close(x);
		if (!buf || store_xattrs_parse(buf, len, a, err) < 0) {
			store_object_close(o);
			store_attr_clear(a);
			return cc_error_prefix(err, "object %s: xattrs", name);
		}
	}
	if (obj)
		*obj = o;
	else
		store_object_close(o);
	return 0;
}

static int read_dir(struct store_object *o, uint8_t **buf, struct store_dir_entry **ents, size_t *n,
		    struct cc_error **err)
{
	size_t len;
	char name[2 * 8 + 1];

	*buf = store_object_read_all(o, STORE_DIR_MAX, &len, err);
	if (!*buf)
		return -1;
	if (store_dir_parse(*buf, len, ents, n, err) < 0) {
		free(*buf);
		*buf = NULL;
		cc_hex_encode(store_pf_id(store_object_reader(o)), 8, name);
		return cc_error_prefix(err, "object %s", name);
	}
	return 0;
}

static int read_record(struct store *s, const uint8_t *id, const uint8_t *mac,
		       struct store_record *rec, struct cc_error **err)
{
	struct store_object *o = NULL;
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len = 0;
	char name[2 * 8 + 1];

	if (store_object_open(s, id, mac, &o, err) < 0)
		return -1;
	buf = store_object_read_all(o, RECORD_MAX, &len, err);
	store_object_close(o);
	if (!buf)
		return -1;
	if (store_record_parse(buf, len, rec, err) < 0) {
		cc_hex_encode(id, 8, name);
		return cc_error_prefix(err, "object %s", name);
	}
	return 0;
}

static int mark_dir(struct store *s, const uint8_t *id, const uint8_t *mac, unsigned depth,
		    void (*fn)(void *, const uint8_t *), void *ctx, struct cc_error **err)
{
	struct store_attr a;
	struct store_object *o = NULL;
	_cleanup_free_ uint8_t *buf = NULL;
	_cleanup_free_ struct store_dir_entry *ents = NULL;
	uint8_t spill[STORE_ID_LEN];
	bool has_spill;
	size_t n = 0;
	int ret;

	if (depth > DEPTH_MAX)
		return fail(err, EIO, "directories nested over %d deep", DEPTH_MAX);
	if (open_inode_object(s, id, mac, &a, &o, spill, &has_spill, err) < 0)
		return -1;
	ret = a.type == STORE_TYPE_DIR
		  ? read_dir(o, &buf, &ents, &n, err)
		  : obj_fail(err, id, "the entry says a directory, the object type %u", a.type);
	store_object_close(o);
	store_attr_clear(&a);
	if (ret < 0)
		return -1;
	fn(ctx, id);
	if (has_spill)
		fn(ctx, spill);
	for (size_t i = 0; i < n; i++) {
		const struct store_dir_entry *e = &ents[i];
		if (e->kind != STORE_ENTRY_INODE)
			continue;
		if (e->type == STORE_TYPE_DIR) {
			if (mark_dir(s, e->id, e->mac, depth + 1, fn, ctx, err) < 0)
				return -1;
			continue;
		}
		if (open_inode_object(s, e->id, e->mac, &a, NULL, spill, &has_spill, err) < 0)
			return -1;
		ret = a.type == e->type
			  ? 0
			  : obj_fail(err, e->id, "the entry says type %u, the object %u", e->type,
				     a.type);
		store_attr_clear(&a);
		if (ret < 0)
			return -1;
		fn(ctx, e->id);
		if (has_spill)
			fn(ctx, spill);
	}
	return 0;
}

int store_record_objects(struct store *s, const uint8_t record_id[STORE_ID_LEN],
			 const uint8_t record_mac[STORE_MAC_LEN],
			 void (*fn)(void *ctx, const uint8_t id[STORE_ID_LEN]), void *ctx,
			 struct cc_error **err)
{
	struct store_record rec;

	if (read_record(s, record_id, record_mac, &rec, err) < 0)
		return -1;
	free(rec.links);
	fn(ctx, record_id);
	return mark_dir(s, rec.root_id, rec.root_mac, 0, fn, ctx, err);
}

/* ---- writing a layer ---- */

struct wdir;

struct ajob;

struct wentry {
	char *name;
	uint8_t kind, type;
	uint8_t id[STORE_ID_LEN], mac[STORE_MAC_LEN]; /* inodes other than directories */
	struct ajob *job; /* a small file a worker writes: its mac is the job's once done */
	struct wdir *dir; /* directories */
};

/*
 * Small files are written by workers: a regular file of at most ASYNC_MAX bytes whose
 * attributes fit its header is kept in memory from file_begin to file_end, then a worker
 * encrypts it into its object (id chosen here) while the caller goes on with the next entries.
 * commit (and abort, and store_layer_entry) wait for every job; a job's failure fails the
 * commit, naming the file. At most ASYNC_QUEUE bytes wait for a worker.
 */
#define ASYNC_MAX (64u << 10)
#define ASYNC_QUEUE (16u << 20)
#define ASYNC_THREADS 2
#define ASYNC_BATCH 32

struct ajob {
	struct ajob *next; /* in the queue */
	struct ajob *all;  /* every job of the writer, freed with it */
	char *path;
	uint8_t id[STORE_ID_LEN], mac[STORE_MAC_LEN];
	uint8_t area[STORE_PF_ATTR_MAX];
	size_t area_len;
	uint8_t *data; /* plaintext: wiped when written */
	size_t len, cap;
	struct cc_error *err;
};

struct apool {
	struct store *s;
	pthread_mutex_t lock;
	pthread_cond_t work, idle; /* a job is queued; a job is done */
	struct ajob *head, *tail;
	size_t queued;	      /* bytes of jobs queued or being written */
	unsigned busy;	      /* jobs queued or being written */
	unsigned unsignalled; /* jobs queued since the workers were last woken */
	bool stop;
	pthread_t threads[ASYNC_THREADS];
	unsigned n_threads;
};

struct wdir {
	struct store_attr attr;
	struct wentry **ents; /* sorted by name */
	size_t n, cap;
};

/* An object the writer committed: removed again on failure, or when no entry keeps it. */
struct written {
	uint8_t id[STORE_ID_LEN];
	uint8_t spill[STORE_ID_LEN];
	bool has_spill;
	bool inode; /* a non-directory inode, which a later entry may have replaced */
};

struct store_layer_writer {
	struct store *s;
	char *diff_id;
	struct wdir *root;
	struct written *written;
	size_t n_written, cap_written;
	bool failed;
	/* The regular file between file_begin and file_end: written as it comes (file), or
	 * kept for a worker (pend). */
	struct store_object_writer *file;
	struct ajob *pend;
	struct ajob *jobs; /* every job given to the pool */
	struct apool *pool;
	char *file_path;
	struct written file_w;
	uint8_t file_type;
	bool replace; /* store_layer_begin_replace: commit replaces the layer */
};

static void wentry_free(struct wentry *e);

static void wdir_free(struct wdir *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n; i++)
		wentry_free(d->ents[i]);
	free(d->ents);
	store_attr_clear(&d->attr);
	free(d);
}

static void wentry_free(struct wentry *e)
{
	if (!e)
		return;
	wdir_free(e->dir);
	free(e->name);
	free(e);
}

static struct wdir *wdir_new(const struct store_attr *a)
{
	struct wdir *d = xzalloc(sizeof(*d));
	if (a) {
		store_attr_copy(&d->attr, a);
	} else {
		/* As unpackers make missing parents. */
		d->attr.mode = 0755;
	}
	d->attr.type = STORE_TYPE_DIR;
	return d;
}

/* The position of name in d (found or where it goes). */
static size_t wdir_find(const struct wdir *d, const char *name, bool *found)
{
	size_t lo = 0, hi = d->n;
	*found = false;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(d->ents[mid]->name, name);
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

/* Put e into d under its name, replacing (and freeing) an entry of that name. */
static void wdir_put(struct wdir *d, struct wentry *e)
{
	bool found;
	size_t pos = wdir_find(d, e->name, &found);
	if (found) {
		wentry_free(d->ents[pos]);
		d->ents[pos] = e;
		return;
	}
	if (d->n == d->cap) {
		d->cap = d->cap ? 2 * d->cap : 8;
		d->ents = xreallocarray(d->ents, d->cap, sizeof(*d->ents));
	}
	memmove(d->ents + pos + 1, d->ents + pos, (d->n - pos) * sizeof(*d->ents));
	d->ents[pos] = e;
	d->n++;
}

static int wfail(struct store_layer_writer *w, struct cc_error **err, int errnum, const char *path,
		 const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int wfail(struct store_layer_writer *w, struct cc_error **err, int errnum, const char *path,
		 const char *fmt, ...)
{
	va_list ap;
	_cleanup_free_ char *what = NULL;
	char shown[CC_SHOWN_BUF];

	va_start(ap, fmt);
	if (vasprintf(&what, fmt, ap) < 0)
		abort();
	va_end(ap);
	cc_shown(path, strlen(path), shown);
	return fail(err, errnum, "layer %s: %s: %s", w->diff_id, *path ? shown : "(root)", what);
}

/* Context on the way up: "layer DIFF: PATH" (the path as cc_shown shows it). */
static int wprefix(struct store_layer_writer *w, struct cc_error **err, const char *path)
{
	char shown[CC_SHOWN_BUF];
	cc_shown(path, strlen(path), shown);
	return cc_error_prefix(err, "layer %s: %s", w->diff_id, *path ? shown : "(root)");
}

/* Components separated by one '/', none empty, ".", ".." or over 255 bytes. */
static bool path_valid(const char *path, bool root_ok)
{
	size_t len = strlen(path);
	const char *p = path;

	if (len == 0)
		return root_ok;
	if (len > STORE_PATH_MAX)
		return false;
	while (*p) {
		size_t n = strcspn(p, "/");
		if (n == 0 || n > STORE_NAME_MAX || (n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		p += n;
		if (*p == '/' && !*++p)
			return false; /* a trailing '/' */
	}
	return true;
}

/*
 * The directory that holds path's last component, making missing directories on the way
 * (a whiteout on the way becomes an opaque directory); *base points at the last component
 * in path. ENOTDIR when something on the way is not a directory.
 */
static struct wdir *parent_of(struct store_layer_writer *w, const char *path, const char **base,
			      bool create, struct cc_error **err)
{
	struct wdir *d = w->root;
	const char *p = path;
	char name[STORE_NAME_MAX + 1];

	for (;;) {
		size_t n = strcspn(p, "/");
		struct wentry *e;
		bool found;
		size_t pos;
		if (!p[n]) {
			*base = p;
			return d;
		}
		memcpy(name, p, n);
		name[n] = 0;
		pos = wdir_find(d, name, &found);
		e = found ? d->ents[pos] : NULL;
		if (!e || e->kind == STORE_ENTRY_WHITEOUT) {
			if (!create)
				return wfail(w, err, ENOENT, path, "%s is missing", name), NULL;
			e = xzalloc(sizeof(*e));
			e->name = xstrdup(name);
			e->type = STORE_TYPE_DIR;
			e->dir = wdir_new(NULL);
			if (found) /* the whiteout's lower entry stays hidden */
				e->dir->attr.flags |= STORE_FLAG_OPAQUE;
			wdir_put(d, e);
		} else if (e->type != STORE_TYPE_DIR) {
			return wfail(w, err, ENOTDIR, path, "%s is not a directory", name), NULL;
		}
		d = e->dir;
		p += n + 1;
	}
}

static void add_written(struct store_layer_writer *w, const struct written *x)
{
	if (w->n_written == w->cap_written) {
		w->cap_written = w->cap_written ? 2 * w->cap_written : 64;
		w->written = xreallocarray(w->written, w->cap_written, sizeof(*w->written));
	}
	w->written[w->n_written++] = *x;
}

/* A new inode object with attributes a (spilling the xattrs to their own object when they do
 * not fit): the writer is in *out and what it wrote so far in *x. */
static int inode_create(struct store_layer_writer *w, const struct store_attr *a,
			struct store_object_writer **out, struct written *x, struct cc_error **err)
{
	uint8_t area[STORE_PF_ATTR_MAX], smac[STORE_MAC_LEN];
	_cleanup_free_ uint8_t *xattrs = NULL;
	struct store_object_writer *sw = NULL;
	size_t len, xlen;
	int ret;

	memset(x, 0, sizeof(*x));
	if (store_attr_encode(a, area, &len, &xattrs, &xlen, err) < 0)
		return -1;
	if (xattrs) {
		ret = store_object_create(w->s, NULL, NULL, 0, &sw, err);
		if (ret == 0)
			ret = store_object_write(sw, xattrs, xlen, err);
		if (ret == 0)
			ret = store_object_commit(sw, x->spill, smac, err);
		store_object_writer_free(sw);
		if (ret < 0)
			return cc_error_prefix(err, "xattrs");
		x->has_spill = true;
		store_attr_set_spilled(area, &len, x->spill, smac);
	}
	if (store_object_create(w->s, NULL, area, len, out, err) < 0) {
		if (x->has_spill)
			CC_BEST_EFFORT(store_object_remove(w->s, x->spill, NULL)); /* unused */
		return -1;
	}
	return 0;
}

/* Commit ow (made by inode_create, x) and note it as written; frees ow. */
static int inode_commit(struct store_layer_writer *w, struct store_object_writer *ow,
			struct written *x, uint8_t mac[STORE_MAC_LEN], struct cc_error **err)
{
	int ret = store_object_commit(ow, x->id, mac, err);
	if (ret < 0)
		memcpy(x->id, store_object_writer_id(ow), STORE_ID_LEN);
	store_object_writer_free(ow);
	/* Noted either way: abort removes what may have reached objects/. */
	add_written(w, x);
	return ret;
}

/* An inode with the whole content at once. */
static int inode_write(struct store_layer_writer *w, const struct store_attr *a,
		       const void *content, size_t len, struct written *x,
		       uint8_t mac[STORE_MAC_LEN], struct cc_error **err)
{
	struct store_object_writer *ow = NULL;

	if (inode_create(w, a, &ow, x, err) < 0)
		return -1;
	x->inode = a->type != STORE_TYPE_DIR;
	if (len && store_object_write(ow, content, len, err) < 0) {
		memcpy(x->id, store_object_writer_id(ow), STORE_ID_LEN);
		store_object_writer_free(ow);
		add_written(w, x);
		return -1;
	}
	return inode_commit(w, ow, x, mac, err);
}

/* Check the attributes a caller gives for an entry of type want (a->type 0 means want). */
static int entry_attr(struct store_layer_writer *w, const char *path, const struct store_attr *a,
		      uint8_t want, struct store_attr *out, struct cc_error **err)
{
	if (!a)
		return wfail(w, err, EINVAL, path, "no attributes");
	if (a->type && a->type != want)
		return wfail(w, err, EINVAL, path, "attributes of type %u for an entry of type %u",
			     a->type, want);
	*out = *a;
	out->type = want;
	return 0;
}

static int put_inode_job(struct store_layer_writer *w, const char *path, uint8_t type,
			 const uint8_t id[STORE_ID_LEN], const uint8_t mac[STORE_MAC_LEN],
			 struct ajob *job, struct cc_error **err);

/* Place a non-directory inode (x, mac, type) at path. */
static int put_inode(struct store_layer_writer *w, const char *path, uint8_t type,
		     const uint8_t id[STORE_ID_LEN], const uint8_t mac[STORE_MAC_LEN],
		     struct cc_error **err)
{
	return put_inode_job(w, path, type, id, mac, NULL, err);
}

static int put_inode_job(struct store_layer_writer *w, const char *path, uint8_t type,
			 const uint8_t id[STORE_ID_LEN], const uint8_t mac[STORE_MAC_LEN],
			 struct ajob *job, struct cc_error **err)
{
	const char *base;
	struct wdir *d = parent_of(w, path, &base, true, err);
	struct wentry *e;

	if (!d)
		return -1;
	e = xzalloc(sizeof(*e));
	e->name = xstrdup(base);
	e->type = type;
	memcpy(e->id, id, STORE_ID_LEN);
	memcpy(e->mac, mac, STORE_MAC_LEN);
	e->job = job;
	wdir_put(d, e);
	return 0;
}

/* ---- the workers ---- */

static void job_run(struct store *s, struct ajob *j)
{
	CC_BEST_EFFORT(store_object_put(s, j->id, j->area, j->area_len, j->data, j->len, NULL,
					j->mac, &j->err)); /* j->err says what failed */
	if (j->data)
		explicit_bzero(j->data, j->cap);
	free(j->data);
	j->data = NULL;
}

static void *worker(void *arg)
{
	struct apool *p = arg;
	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->head && !p->stop)
			pthread_cond_wait(&p->work, &p->lock);
		if (!p->head)
			break;
		struct ajob *j = p->head;
		p->head = j->next;
		if (!p->head)
			p->tail = NULL;
		size_t len = j->len;
		pthread_mutex_unlock(&p->lock);
		job_run(p->s, j);
		pthread_mutex_lock(&p->lock);
		p->queued -= len;
		p->busy--;
		pthread_cond_broadcast(&p->idle);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

static struct apool *pool_new(struct store *s)
{
	struct apool *p = xzalloc(sizeof(*p));
	p->s = s;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->idle, NULL);
	for (unsigned i = 0; i < ASYNC_THREADS; i++)
		if (pthread_create(&p->threads[p->n_threads], NULL, worker, p) == 0)
			p->n_threads++;
	return p;
}

/* Queue j, waiting while too much is queued; run it here when there is no worker. */
static void pool_put(struct apool *p, struct ajob *j)
{
	if (!p->n_threads) {
		job_run(p->s, j);
		return;
	}
	pthread_mutex_lock(&p->lock);
	while (p->queued && p->queued + j->len > ASYNC_QUEUE) {
		pthread_cond_broadcast(&p->work);
		pthread_cond_wait(&p->idle, &p->lock);
	}
	p->queued += j->len;
	p->busy++;
	if (p->tail)
		p->tail->next = j;
	else
		p->head = j;
	p->tail = j;
	/* Workers are woken for a batch, not for every small file (a wake-up costs more than
	 * writing one); pool_wait wakes them for the rest. */
	if (++p->unsignalled >= ASYNC_BATCH || p->queued >= ASYNC_QUEUE / 2) {
		p->unsignalled = 0;
		pthread_cond_broadcast(&p->work);
	}
	pthread_mutex_unlock(&p->lock);
}

/* Wait for every job given so far. */
static void pool_wait(struct apool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->unsignalled = 0;
	pthread_cond_broadcast(&p->work);
	while (p->busy)
		pthread_cond_wait(&p->idle, &p->lock);
	pthread_mutex_unlock(&p->lock);
}

static void pool_free(struct apool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < p->n_threads; i++)
		pthread_join(p->threads[i], NULL);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->idle);
	free(p);
}

/* Every job done; the first failure into *err (naming its file), -1. */
static int jobs_finish(struct store_layer_writer *w, struct cc_error **err)
{
	pool_wait(w->pool);
	for (struct ajob *j = w->jobs; j; j = j->all)
		if (j->err) {
			cc_error_set(err, 0, "%s", j->err->msg);
			if (*err)
				(*err)->errnum = j->err->errnum;
			return wprefix(w, err, j->path);
		}
	return 0;
}

static void jobs_free(struct store_layer_writer *w)
{
	pool_free(w->pool);
	w->pool = NULL;
	for (struct ajob *j = w->jobs, *next; j; j = next) {
		next = j->all;
		cc_error_free(&j->err);
		free(j->path);
		free(j);
	}
	w->jobs = NULL;
}

int store_layer_begin(struct store *s, const char *diff_id, struct store_layer_writer **out,
		      struct cc_error **err)
{
	struct store_layer_writer *w;

	if (!store_diff_id_valid(diff_id))
		return fail(err, EINVAL, "layer: diff_id is not 1-%d printable bytes",
			    STORE_DIFF_ID_MAX);
	if (store_has_layer(s, diff_id))
		return fail(err, EEXIST, "layer %s: already in the store", diff_id);
	w = xzalloc(sizeof(*w));
	w->s = s;
	w->diff_id = xstrdup(diff_id);
	w->root = wdir_new(NULL);
	store_pin(s);
	*out = w;
	return 0;
}

int store_layer_begin_replace(struct store *s, const char *diff_id, struct store_layer_writer **out,
			      struct cc_error **err)
{
	struct store_layer_writer *w;

	if (!store_diff_id_valid(diff_id) || !store_diff_id_replaceable(diff_id))
		return fail(err, EINVAL, "layer: diff_id is not a replaceable layer's");
	w = xzalloc(sizeof(*w));
	w->s = s;
	w->diff_id = xstrdup(diff_id);
	w->root = wdir_new(NULL);
	w->replace = true;
	store_pin(s);
	*out = w;
	return 0;
}

/* Every entry point: the writer must be usable, and fails for good on an error. */
static int check_usable(struct store_layer_writer *w, const char *path, bool root_ok, bool in_file,
			struct cc_error **err)
{
	if (!w)
		return fail(err, EINVAL, "layer: no writer");
	if (w->failed)
		return fail(err, EINVAL, "layer %s: an earlier entry failed: abort the layer",
			    w->diff_id);
	if (!in_file && (w->file || w->pend))
		return fail(err, EINVAL, "layer %s: %s: the file is not ended yet", w->diff_id,
			    w->file_path);
	if (in_file && !w->file && !w->pend)
		return fail(err, EINVAL, "layer %s: no file begun", w->diff_id);
	if (path && !path_valid(path, root_ok))
		return wfail(w, err, EINVAL, path, "not a valid path in a layer");
	return 0;
}

static int done(struct store_layer_writer *w, int ret)
{
	if (ret < 0 && w)
		w->failed = true;
	return ret;
}

static int do_mkdir(struct store_layer_writer *w, const char *path, const struct store_attr *a,
		    struct cc_error **err)
{
	struct store_attr attr;
	_cleanup_free_ const struct store_xattr **sorted = NULL;
	struct wentry *e;
	const char *base;
	struct wdir *d;
	size_t total, pos;
	bool found;
	uint16_t keep = 0;

	if (entry_attr(w, path, a, STORE_TYPE_DIR, &attr, err) < 0)
		return -1;
	sorted = xcalloc(attr.n_xattrs + 1, sizeof(*sorted));
	if (attr_check(&attr, sorted, &total, err) < 0)
		return wprefix(w, err, path);
	if (!*path) {
		keep = w->root->attr.flags;
		store_attr_clear(&w->root->attr);
		store_attr_copy(&w->root->attr, &attr);
		w->root->attr.flags |= keep;
		return 0;
	}
	d = parent_of(w, path, &base, true, err);
	if (!d)
		return -1;
	pos = wdir_find(d, base, &found);
	e = found ? d->ents[pos] : NULL;
	if (e && e->type == STORE_TYPE_DIR) {
		keep = e->dir->attr.flags;
		store_attr_clear(&e->dir->attr);
		store_attr_copy(&e->dir->attr, &attr);
		e->dir->attr.flags |= keep;
		return 0;
	}
	if (e && e->kind == STORE_ENTRY_WHITEOUT)
		keep = STORE_FLAG_OPAQUE;
	e = xzalloc(sizeof(*e));
	e->name = xstrdup(base);
	e->type = STORE_TYPE_DIR;
	e->dir = wdir_new(&attr);
	e->dir->attr.flags |= keep;
	wdir_put(d, e);
	return 0;
}

int store_layer_mkdir(struct store_layer_writer *w, const char *path, const struct store_attr *a,
		      struct cc_error **err)
{
	if (check_usable(w, path ? path : "/", true, false, err) < 0)
		return done(w, -1);
	return done(w, do_mkdir(w, path, a, err));
}

int store_layer_file_begin(struct store_layer_writer *w, const char *path,
			   const struct store_attr *a, struct cc_error **err)
{
	struct store_attr attr;
	const char *base;
	uint8_t area[STORE_PF_ATTR_MAX];
	_cleanup_free_ uint8_t *spill = NULL;
	size_t len, slen;

	if (check_usable(w, path ? path : "/", false, false, err) < 0)
		return done(w, -1);
	if (entry_attr(w, path, a, STORE_TYPE_REG, &attr, err) < 0 ||
	    !parent_of(w, path, &base, true, err))
		return done(w, -1);
	if (store_attr_encode(&attr, area, &len, &spill, &slen, err) < 0)
		return done(w, wprefix(w, err, path));
	if (!spill) {
		/* Kept for a worker unless it grows past ASYNC_MAX. */
		w->pend = xzalloc(sizeof(*w->pend));
		memcpy(w->pend->area, area, len);
		w->pend->area_len = len;
		w->file_path = xstrdup(path);
		return 0;
	}
	if (inode_create(w, &attr, &w->file, &w->file_w, err) < 0)
		return done(w, wprefix(w, err, path));
	w->file_w.inode = true;
	w->file_path = xstrdup(path);
	return 0;
}

/* The pending file is too large for a worker: its object is written from here on. */
static int pend_to_file(struct store_layer_writer *w, struct cc_error **err)
{
	struct ajob *j = steal_pointer(&w->pend);
	int r = store_object_create(w->s, NULL, j->area, j->area_len, &w->file, err);
	memset(&w->file_w, 0, sizeof(w->file_w));
	w->file_w.inode = true;
	if (r == 0 && j->len)
		r = store_object_write(w->file, j->data, j->len, err);
	if (j->data)
		explicit_bzero(j->data, j->cap);
	free(j->data);
	free(j);
	return r;
}

int store_layer_file_write(struct store_layer_writer *w, const void *buf, size_t len,
			   struct cc_error **err)
{
	if (check_usable(w, NULL, false, true, err) < 0)
		return done(w, -1);
	struct ajob *j = w->pend;
	if (j && len <= ASYNC_MAX - j->len) {
		if (j->len + len > j->cap) {
			size_t cap = j->cap ? j->cap : 4096;
			while (cap < j->len + len)
				cap *= 2;
			uint8_t *p = xmalloc(cap);
			if (j->len)
				memcpy(p, j->data, j->len);
			if (j->data)
				explicit_bzero(j->data, j->cap);
			free(j->data);
			j->data = p;
			j->cap = cap;
		}
		if (len)
			memcpy(j->data + j->len, buf, len);
		j->len += len;
		return 0;
	}
	if (j && pend_to_file(w, err) < 0)
		return done(w, wprefix(w, err, w->file_path));
	if (store_object_write(w->file, buf, len, err) < 0)
		return done(w, wprefix(w, err, w->file_path));
	return 0;
}

int store_layer_file_zeros(struct store_layer_writer *w, uint64_t len, struct cc_error **err)
{
	if (check_usable(w, NULL, false, true, err) < 0)
		return done(w, -1);
	struct ajob *j = w->pend;
	if (j && len <= ASYNC_MAX - j->len) {
		static const uint8_t zero[4096];
		for (uint64_t left = len; left;) {
			size_t n = left < sizeof(zero) ? (size_t)left : sizeof(zero);
			if (store_layer_file_write(w, zero, n, err) < 0)
				return -1;
			left -= n;
		}
		return 0;
	}
	if (j && pend_to_file(w, err) < 0)
		return done(w, wprefix(w, err, w->file_path));
	if (store_object_write_zeros(w->file, len, err) < 0)
		return done(w, wprefix(w, err, w->file_path));
	return 0;
}

int store_layer_file_end(struct store_layer_writer *w, struct cc_error **err)
{
	uint8_t mac[STORE_MAC_LEN];
	_cleanup_free_ char *path = NULL;
	struct store_object_writer *ow;

	if (check_usable(w, NULL, false, true, err) < 0)
		return done(w, -1);
	path = steal_pointer(&w->file_path);
	if (w->pend) {
		struct ajob *j = steal_pointer(&w->pend);
		struct written x = { .inode = true };
		if (RAND_bytes(j->id, STORE_ID_LEN) != 1) {
			free(j->data);
			free(j);
			return done(w, wfail(w, err, EIO, path, "no random bytes from OpenSSL"));
		}
		j->path = xstrdup(path);
		j->all = w->jobs;
		w->jobs = j;
		memcpy(x.id, j->id, STORE_ID_LEN);
		add_written(w, &x); /* removed again if nothing names it at commit */
		if (!w->pool)
			w->pool = pool_new(w->s);
		pool_put(w->pool, j);
		memset(mac, 0, sizeof(mac));
		return done(w, put_inode_job(w, path, STORE_TYPE_REG, j->id, mac, j, err));
	}
	ow = steal_pointer(&w->file);
	if (inode_commit(w, ow, &w->file_w, mac, err) < 0)
		return done(w, wprefix(w, err, path));
	return done(w, put_inode(w, path, STORE_TYPE_REG, w->file_w.id, mac, err));
}

int store_layer_symlink(struct store_layer_writer *w, const char *path, const char *target,
			const struct store_attr *a, struct cc_error **err)
{
	struct store_attr attr;
	struct written x;
	uint8_t mac[STORE_MAC_LEN];
	size_t tl = target ? strlen(target) : 0;

	if (check_usable(w, path ? path : "/", false, false, err) < 0)
		return done(w, -1);
	if (tl == 0 || tl > STORE_LINK_MAX)
		return done(w, wfail(w, err, EINVAL, path, "link target of %zu bytes", tl));
	if (entry_attr(w, path, a, STORE_TYPE_SYMLINK, &attr, err) < 0)
		return done(w, -1);
	if (inode_write(w, &attr, target, tl, &x, mac, err) < 0)
		return done(w, wprefix(w, err, path));
	return done(w, put_inode(w, path, STORE_TYPE_SYMLINK, x.id, mac, err));
}

int store_layer_node(struct store_layer_writer *w, const char *path, const struct store_attr *a,
		     struct cc_error **err)
{
	struct store_attr attr;
	struct written x;
	uint8_t mac[STORE_MAC_LEN];

	if (check_usable(w, path ? path : "/", false, false, err) < 0)
		return done(w, -1);
	if (!a || (!is_device(a->type) && a->type != STORE_TYPE_FIFO))
		return done(w, wfail(w, err, EINVAL, path, "a node is a device or a fifo"));
	if (entry_attr(w, path, a, a->type, &attr, err) < 0)
		return done(w, -1);
	if (inode_write(w, &attr, NULL, 0, &x, mac, err) < 0)
		return done(w, wprefix(w, err, path));
	return done(w, put_inode(w, path, attr.type, x.id, mac, err));
}

static int do_hardlink(struct store_layer_writer *w, const char *path, const char *target,
		       struct cc_error **err)
{
	const char *base;
	struct wdir *d = parent_of(w, target, &base, false, err);
	struct wentry *e;
	bool found;
	size_t pos;

	if (!d)
		return -1;
	pos = wdir_find(d, base, &found);
	e = found ? d->ents[pos] : NULL;
	if (!e || e->kind == STORE_ENTRY_WHITEOUT)
		return wfail(w, err, ENOENT, path, "hard link to %s, which is not in the layer",
			     target);
	if (e->type == STORE_TYPE_DIR)
		return wfail(w, err, EISDIR, path, "hard link to directory %s", target);
	/* Copied before put_inode: it may replace e itself. */
	uint8_t id[STORE_ID_LEN], mac[STORE_MAC_LEN], type = e->type;
	struct ajob *job = e->job;
	memcpy(id, e->id, STORE_ID_LEN);
	memcpy(mac, e->mac, STORE_MAC_LEN);
	return put_inode_job(w, path, type, id, mac, job, err);
}

int store_layer_hardlink(struct store_layer_writer *w, const char *path, const char *target_path,
			 struct cc_error **err)
{
	if (check_usable(w, path ? path : "/", false, false, err) < 0 ||
	    check_usable(w, target_path ? target_path : "/", false, false, err) < 0)
		return done(w, -1);
	return done(w, do_hardlink(w, path, target_path, err));
}

int store_layer_whiteout(struct store_layer_writer *w, const char *path, struct cc_error **err)
{
	const char *base;
	struct wdir *d;
	struct wentry *e;

	if (check_usable(w, path ? path : "/", false, false, err) < 0)
		return done(w, -1);
	d = parent_of(w, path, &base, true, err);
	if (!d)
		return done(w, -1);
	e = xzalloc(sizeof(*e));
	e->name = xstrdup(base);
	e->kind = STORE_ENTRY_WHITEOUT;
	wdir_put(d, e);
	return 0;
}

int store_layer_opaque(struct store_layer_writer *w, const char *path, struct cc_error **err)
{
	const char *base;
	struct wdir *d;
	struct wentry *e;
	bool found;
	size_t pos;

	if (check_usable(w, path ? path : "/", true, false, err) < 0)
		return done(w, -1);
	if (!*path) {
		w->root->attr.flags |= STORE_FLAG_OPAQUE;
		return 0;
	}
	d = parent_of(w, path, &base, true, err);
	if (!d)
		return done(w, -1);
	pos = wdir_find(d, base, &found);
	e = found ? d->ents[pos] : NULL;
	if (e && e->type == STORE_TYPE_DIR) {
		e->dir->attr.flags |= STORE_FLAG_OPAQUE;
		return 0;
	}
	if (e && e->kind == STORE_ENTRY_INODE)
		return done(w, wfail(w, err, ENOTDIR, path, "opaque, but not a directory"));
	e = xzalloc(sizeof(*e));
	e->name = xstrdup(base);
	e->type = STORE_TYPE_DIR;
	e->dir = wdir_new(NULL);
	e->dir->attr.flags |= STORE_FLAG_OPAQUE;
	wdir_put(d, e);
	return 0;
}

static int do_reference(struct store_layer_writer *w, const char *path, uint8_t type,
			const uint8_t id[STORE_ID_LEN], const uint8_t mac[STORE_MAC_LEN],
			struct cc_error **err)
{
	struct store_attr a;
	int ret;

	if (type < STORE_TYPE_REG || type > STORE_TYPE_FIFO || type == STORE_TYPE_DIR)
		return wfail(w, err, EINVAL, path, "a reference to an object of type %u", type);
	/* The object must be there, in that version, of that type: the layer is checked
	 * against it as if it had written it. */
	if (open_inode_object(w->s, id, mac, &a, NULL, NULL, NULL, err) < 0)
		return wprefix(w, err, path);
	ret = a.type == type
		  ? 0
		  : wfail(w, err, EIO, path, "the object is of type %u, not %u", a.type, type);
	store_attr_clear(&a);
	if (ret < 0)
		return -1;
	return put_inode(w, path, type, id, mac, err);
}

int store_layer_reference(struct store_layer_writer *w, const char *path, uint8_t type,
			  const uint8_t id[STORE_ID_LEN], const uint8_t mac[STORE_MAC_LEN],
			  struct cc_error **err)
{
	if (check_usable(w, path ? path : "/", false, false, err) < 0)
		return done(w, -1);
	return done(w, do_reference(w, path, type, id, mac, err));
}

int store_layer_entry(struct store_layer_writer *w, const char *path, uint8_t *type,
		      uint8_t id[STORE_ID_LEN], uint8_t mac[STORE_MAC_LEN], struct cc_error **err)
{
	const char *base;
	struct wdir *d;
	struct wentry *e;
	bool found;
	size_t pos;

	if (check_usable(w, path ? path : "/", false, false, err) < 0)
		return -1;
	d = parent_of(w, path, &base, false, err);
	if (!d)
		return -1;
	pos = wdir_find(d, base, &found);
	e = found ? d->ents[pos] : NULL;
	if (!e || e->kind != STORE_ENTRY_INODE || e->type == STORE_TYPE_DIR)
		return wfail(w, err, ENOENT, path, "no inode other than a directory there");
	if (e->job) {
		if (jobs_finish(w, err) < 0)
			return done(w, -1);
		memcpy(e->mac, e->job->mac, STORE_MAC_LEN);
		e->job = NULL;
	}
	*type = e->type;
	memcpy(id, e->id, STORE_ID_LEN);
	memcpy(mac, e->mac, STORE_MAC_LEN);
	return 0;
}

/* ---- commit ---- */

struct refs {
	uint8_t (*ids)[STORE_ID_LEN];
	size_t n, cap;
};

static void refs_add(struct refs *r, const uint8_t *id)
{
	if (r->n == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 64;
		r->ids = xreallocarray(r->ids, r->cap, STORE_ID_LEN);
	}
	memcpy(r->ids[r->n++], id, STORE_ID_LEN);
}

static int id_cmp(const void *a, const void *b)
{
	return memcmp(a, b, STORE_ID_LEN);
}

static uint8_t *dir_encode(const struct wdir *d, size_t *len)
{
	size_t total = 4, off = 4;
	uint8_t *p;

	for (size_t i = 0; i < d->n; i++)
		total += 2 + strlen(d->ents[i]->name) + 2 + STORE_ID_LEN + STORE_MAC_LEN;
	p = xzalloc(total);
	cc_put_le32(p, (uint32_t)d->n);
	for (size_t i = 0; i < d->n; i++) {
		const struct wentry *e = d->ents[i];
		size_t nl = strlen(e->name);
		cc_put_le16(p + off, (uint16_t)nl);
		memcpy(p + off + 2, e->name, nl);
		off += 2 + nl;
		p[off] = e->kind;
		p[off + 1] = e->kind == STORE_ENTRY_WHITEOUT ? 0 : e->type;
		if (e->kind == STORE_ENTRY_INODE) {
			memcpy(p + off + 2, e->id, STORE_ID_LEN);
			memcpy(p + off + 2 + STORE_ID_LEN, e->mac, STORE_MAC_LEN);
		}
		off += 2 + STORE_ID_LEN + STORE_MAC_LEN;
	}
	*len = total;
	return p;
}

/* Write d's subdirectories, then d (into id, mac); note every non-directory inode in refs. */
static int write_dir(struct store_layer_writer *w, struct wdir *d, const char *path,
		     struct refs *refs, uint8_t id[STORE_ID_LEN], uint8_t mac[STORE_MAC_LEN],
		     struct cc_error **err)
{
	_cleanup_free_ uint8_t *content = NULL;
	struct written x;
	size_t len;

	for (size_t i = 0; i < d->n; i++) {
		struct wentry *e = d->ents[i];
		if (e->kind == STORE_ENTRY_INODE && e->type == STORE_TYPE_DIR) {
			_cleanup_free_ char *sub =
			    *path ? xasprintf("%s/%s", path, e->name) : xstrdup(e->name);
			if (write_dir(w, e->dir, sub, refs, e->id, e->mac, err) < 0)
				return -1;
		} else if (e->kind == STORE_ENTRY_INODE) {
			if (e->job) { /* every job is done by now */
				memcpy(e->mac, e->job->mac, STORE_MAC_LEN);
				e->job = NULL;
			}
			refs_add(refs, e->id);
		}
	}
	content = dir_encode(d, &len);
	if (len > STORE_DIR_MAX)
		return wfail(w, err, E2BIG, path, "directory of %zu bytes, at most %u", len,
			     STORE_DIR_MAX);
	if (inode_write(w, &d->attr, content, len, &x, mac, err) < 0)
		return wprefix(w, err, path);
	memcpy(id, x.id, STORE_ID_LEN);
	return 0;
}

/* The record: root, then the objects named more than once, sorted by id. */
static uint8_t *record_encode(const uint8_t *root_id, const uint8_t *root_mac,
			      const struct refs *refs, size_t *len)
{
	size_t links = 0, off = RECORD_FIXED;
	uint8_t *p;

	for (size_t i = 0; i < refs->n;) {
		size_t j = i + 1;
		while (j < refs->n && !memcmp(refs->ids[i], refs->ids[j], STORE_ID_LEN))
			j++;
		links += j - i > 1;
		i = j;
	}
	*len = RECORD_FIXED + links * RECORD_LINK_LEN;
	p = xzalloc(*len);
	cc_put_le32(p, RECORD_VERSION);
	memcpy(p + 4, root_id, STORE_ID_LEN);
	memcpy(p + 4 + STORE_ID_LEN, root_mac, STORE_MAC_LEN);
	cc_put_le32(p + 4 + STORE_ID_LEN + STORE_MAC_LEN, (uint32_t)links);
	for (size_t i = 0; i < refs->n;) {
		size_t j = i + 1;
		while (j < refs->n && !memcmp(refs->ids[i], refs->ids[j], STORE_ID_LEN))
			j++;
		if (j - i > 1) {
			memcpy(p + off, refs->ids[i], STORE_ID_LEN);
			cc_put_le32(p + off + STORE_ID_LEN, (uint32_t)(j - i));
			off += RECORD_LINK_LEN;
		}
		i = j;
	}
	return p;
}

static void remove_written(struct store_layer_writer *w, const struct refs *keep)
{
	for (size_t i = 0; i < w->n_written; i++) {
		const struct written *x = &w->written[i];
		if (keep && (!x->inode || bsearch(x->id, keep->ids, keep->n, STORE_ID_LEN, id_cmp)))
			continue;
		/* Best effort: what stays is unreferenced, and store_gc removes it. */
		CC_BEST_EFFORT(store_object_remove(w->s, x->id, NULL));
		if (x->has_spill)
			CC_BEST_EFFORT(store_object_remove(w->s, x->spill, NULL));
	}
}

static void writer_free(struct store_layer_writer *w)
{
	jobs_free(w);
	if (w->pend) {
		if (w->pend->data)
			explicit_bzero(w->pend->data, w->pend->cap);
		free(w->pend->data);
		free(w->pend);
	}
	store_object_writer_free(w->file);
	free(w->file_path);
	wdir_free(w->root);
	free(w->written);
	store_unpin(w->s);
	free(w->diff_id);
	free(w);
}

/* Whether the index names the record whose root MAC is mac for w's layer (a replace that
 * failed after the pointer moved is committed all the same). */
static bool record_current(struct store_layer_writer *w, const uint8_t mac[STORE_MAC_LEN])
{
	uint8_t id[STORE_ID_LEN], cur[STORE_MAC_LEN];
	struct cc_error *e = NULL;
	bool same =
	    store_layer_ref(w->s, w->diff_id, id, cur, &e) == 0 && !memcmp(cur, mac, STORE_MAC_LEN);
	cc_error_free(&e);
	return same;
}

int store_layer_commit(struct store_layer_writer *w, struct cc_error **err)
{
	struct refs refs = { 0 };
	uint8_t root_id[STORE_ID_LEN], root_mac[STORE_MAC_LEN], rmac[STORE_MAC_LEN] = { 0 };
	_cleanup_free_ uint8_t *record = NULL;
	size_t len;
	int ret;

	if (check_usable(w, NULL, false, false, err) < 0) {
		if (w)
			store_layer_abort(w);
		return -1;
	}
	ret = jobs_finish(w, err);
	if (ret == 0)
		ret = write_dir(w, w->root, "", &refs, root_id, root_mac, err);
	if (ret == 0) {
		qsort(refs.ids, refs.n, STORE_ID_LEN, id_cmp);
		record = record_encode(root_id, root_mac, &refs, &len);
		ret = w->replace ? store_index_replace(w->s, w->diff_id, record, len, rmac, err)
				 : store_index_add(w->s, w->diff_id, record, len, rmac, err);
	}
	if (ret == 0 || (!w->replace && store_has_layer(w->s, w->diff_id)) ||
	    (w->replace && record_current(w, rmac))) {
		/* Committed (maybe with an error after the pointer's rename): drop only what no
		 * entry names. */
		remove_written(w, &refs);
	} else {
		remove_written(w, NULL);
	}
	free(refs.ids);
	writer_free(w);
	return ret;
}

void store_layer_abort(struct store_layer_writer *w)
{
	if (!w)
		return;
	if (w->file) {
		store_object_writer_free(w->file); /* removes its tmp file */
		w->file = NULL;
		if (w->file_w.has_spill)
			CC_BEST_EFFORT(store_object_remove(w->s, w->file_w.spill, NULL));
	}
	pool_wait(w->pool); /* their objects are in written: removed below */
	remove_written(w, NULL);
	writer_free(w);
}

/* ---- reading a layer ---- */

struct store_inode {
	uint8_t id[STORE_ID_LEN], mac[STORE_MAC_LEN];
	struct store_attr attr;
	uint64_t size;
	struct store_object *obj; /* open, or NULL once released */
	uint8_t *dir_buf;	  /* a directory's content, parsed into ents */
	struct store_dir_entry *ents;
	size_t n_ents;
	bool held; /* in the LRU list: obj or ents are set */
	struct store_inode *prev, *next;
	struct store_inode *hnext;
};

struct store_layer_reader {
	struct store *s;
	char *diff_id;
	struct store_record rec;
	struct store_inode *root;
	struct store_inode **buckets;
	size_t n_buckets, n_inodes;
	struct store_inode *head, *tail; /* most recently used first */
	size_t n_held;
};

static size_t id_hash(const uint8_t *id, size_t n_buckets)
{
	uint64_t h = cc_le64(id); /* ids are random or HMAC output */
	return (size_t)(h % n_buckets);
}

static void release(struct store_layer_reader *r, struct store_inode *ino)
{
	store_object_close(ino->obj);
	ino->obj = NULL;
	free(ino->dir_buf);
	free(ino->ents);
	ino->dir_buf = NULL;
	ino->ents = NULL;
	ino->n_ents = 0;
	if (!ino->held)
		return;
	if (ino->prev)
		ino->prev->next = ino->next;
	else
		r->head = ino->next;
	if (ino->next)
		ino->next->prev = ino->prev;
	else
		r->tail = ino->prev;
	ino->prev = ino->next = NULL;
	ino->held = false;
	r->n_held--;
}

/* ino is in use: first in the list; the least recently used beyond the bound let go. */
static void touch(struct store_layer_reader *r, struct store_inode *ino)
{
	if (ino->held && r->head == ino)
		return;
	if (ino->held) {
		ino->prev->next = ino->next;
		if (ino->next)
			ino->next->prev = ino->prev;
		else
			r->tail = ino->prev;
	} else {
		ino->held = true;
		r->n_held++;
	}
	ino->prev = NULL;
	ino->next = r->head;
	if (r->head)
		r->head->prev = ino;
	r->head = ino;
	if (!r->tail)
		r->tail = ino;
	while (r->n_held > READER_HELD_MAX && r->tail != ino)
		release(r, r->tail);
}

static int rfail(struct store_layer_reader *r, struct cc_error **err, int errnum, const char *fmt,
		 ...) __attribute__((format(printf, 4, 5)));
static int rfail(struct store_layer_reader *r, struct cc_error **err, int errnum, const char *fmt,
		 ...)
{
	va_list ap;
	_cleanup_free_ char *what = NULL;

	va_start(ap, fmt);
	if (vasprintf(&what, fmt, ap) < 0)
		abort();
	va_end(ap);
	return fail(err, errnum, "layer %s: %s", r->diff_id, what);
}

static int ensure_obj(struct store_layer_reader *r, struct store_inode *ino, struct cc_error **err)
{
	if (!ino->obj && store_object_open(r->s, ino->id, ino->mac, &ino->obj, err) < 0)
		return cc_error_prefix(err, "layer %s", r->diff_id);
	touch(r, ino);
	return 0;
}

static int ensure_dir(struct store_layer_reader *r, struct store_inode *ino, struct cc_error **err)
{
	if (ino->attr.type != STORE_TYPE_DIR)
		return rfail(r, err, ENOTDIR, "not a directory");
	if (ino->ents) {
		touch(r, ino);
		return 0;
	}
	if (ensure_obj(r, ino, err) < 0)
		return -1;
	if (read_dir(ino->obj, &ino->dir_buf, &ino->ents, &ino->n_ents, err) < 0)
		return cc_error_prefix(err, "layer %s", r->diff_id);
	return 0;
}

/* The inode of object (id, mac), which its entry says is of type type. */
static int get_inode(struct store_layer_reader *r, const uint8_t *id, const uint8_t *mac,
		     uint8_t type, struct store_inode **out, struct cc_error **err)
{
	size_t h = id_hash(id, r->n_buckets);
	struct store_inode *ino;
	char name[2 * 8 + 1];

	cc_hex_encode(id, 8, name);
	for (ino = r->buckets[h]; ino; ino = ino->hnext)
		if (!memcmp(ino->id, id, STORE_ID_LEN))
			break;
	if (ino && memcmp(ino->mac, mac, STORE_MAC_LEN))
		return rfail(r, err, EIO, "object %s: two entries with two root MACs", name);
	if (!ino) {
		ino = xzalloc(sizeof(*ino));
		memcpy(ino->id, id, STORE_ID_LEN);
		memcpy(ino->mac, mac, STORE_MAC_LEN);
		if (open_inode_object(r->s, id, mac, &ino->attr, &ino->obj, NULL, NULL, err) < 0) {
			free(ino);
			return cc_error_prefix(err, "layer %s", r->diff_id);
		}
		ino->size = store_pf_size(store_object_reader(ino->obj));
		ino->hnext = r->buckets[h];
		r->buckets[h] = ino;
		r->n_inodes++;
		touch(r, ino);
	}
	if (ino->attr.type != type)
		return rfail(r, err, EIO, "object %s: the entry says type %u, the object %u", name,
			     type, ino->attr.type);
	*out = ino;
	return 0;
}

int store_layer_open(struct store *s, const char *diff_id, struct store_layer_reader **out,
		     struct cc_error **err)
{
	uint8_t rid[STORE_ID_LEN], rmac[STORE_MAC_LEN], want[STORE_ID_LEN];
	struct store_layer_reader *r;

	if (store_layer_ref(s, diff_id, rid, rmac, err) < 0)
		return -1;
	store_record_id(s, diff_id, want);
	/* A replaceable layer's record id is random (store_index_replace). */
	if (memcmp(want, rid, STORE_ID_LEN) && !store_diff_id_replaceable(diff_id))
		return fail(err, EIO, "layer %s: the index names a record of another diff_id",
			    diff_id);
	r = xzalloc(sizeof(*r));
	r->s = s;
	r->diff_id = xstrdup(diff_id);
	r->n_buckets = 256;
	r->buckets = xcalloc(r->n_buckets, sizeof(*r->buckets));
	if (read_record(s, rid, rmac, &r->rec, err) < 0) {
		cc_error_prefix(err, "layer %s: record", diff_id);
		goto fail;
	}
	if (get_inode(r, r->rec.root_id, r->rec.root_mac, STORE_TYPE_DIR, &r->root, err) < 0)
		goto fail;
	*out = r;
	return 0;
fail:
	store_layer_close(r);
	return -1;
}

void store_layer_close(struct store_layer_reader *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_buckets; i++) {
		struct store_inode *ino = r->buckets[i], *next;
		for (; ino; ino = next) {
			next = ino->hnext;
			release(r, ino);
			store_attr_clear(&ino->attr);
			free(ino);
		}
	}
	free(r->buckets);
	free(r->rec.links);
	free(r->diff_id);
	free(r);
}

struct store_inode *store_layer_root(struct store_layer_reader *r)
{
	return r->root;
}

/* Grow the inode table when it is crowded (inodes live until close). */
static void maybe_grow(struct store_layer_reader *r)
{
	struct store_inode **nb;
	size_t n;

	if (r->n_inodes < 2 * r->n_buckets)
		return;
	n = 4 * r->n_buckets;
	nb = xcalloc(n, sizeof(*nb));
	for (size_t i = 0; i < r->n_buckets; i++) {
		struct store_inode *ino = r->buckets[i], *next;
		for (; ino; ino = next) {
			size_t h = id_hash(ino->id, n);
			next = ino->hnext;
			ino->hnext = nb[h];
			nb[h] = ino;
		}
	}
	free(r->buckets);
	r->buckets = nb;
	r->n_buckets = n;
}

int store_layer_lookup(struct store_layer_reader *r, struct store_inode *dir, const char *name,
		       struct store_inode **out, struct cc_error **err)
{
	size_t nl = name ? strlen(name) : 0, lo = 0, hi;
	uint8_t id[STORE_ID_LEN], mac[STORE_MAC_LEN], type;

	if (nl == 0 || nl > STORE_NAME_MAX || strchr(name, '/'))
		return rfail(r, err, EINVAL, "lookup of an invalid name");
	if (ensure_dir(r, dir, err) < 0)
		return -1;
	hi = dir->n_ents;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct store_dir_entry *e = &dir->ents[mid];
		int c = name_cmp(e->name, e->name_len, (const uint8_t *)name, nl);
		if (c < 0) {
			lo = mid + 1;
		} else if (c > 0) {
			hi = mid;
		} else if (e->kind == STORE_ENTRY_WHITEOUT) {
			return STORE_WHITEOUT;
		} else {
			/* Copied: opening the child may release dir's entries. */
			memcpy(id, e->id, STORE_ID_LEN);
			memcpy(mac, e->mac, STORE_MAC_LEN);
			type = e->type;
			maybe_grow(r);
			if (get_inode(r, id, mac, type, out, err) < 0)
				return -1;
			return STORE_FOUND;
		}
	}
	return STORE_ABSENT;
}

int store_layer_lookup_path(struct store_layer_reader *r, const char *path,
			    struct store_inode **out, struct cc_error **err)
{
	struct store_inode *ino = r->root;
	char name[STORE_NAME_MAX + 1];
	const char *p = path;

	if (!path || (*path && !path_valid(path, true)))
		return rfail(r, err, EINVAL, "lookup of an invalid path");
	while (*p) {
		size_t n = strcspn(p, "/");
		int ret;
		if (ino->attr.type != STORE_TYPE_DIR)
			return STORE_ABSENT;
		memcpy(name, p, n);
		name[n] = 0;
		ret = store_layer_lookup(r, ino, name, &ino, err);
		if (ret < 0)
			return cc_error_prefix(err, "%s", path);
		p += n;
		if (ret == STORE_WHITEOUT)
			return *p ? STORE_ABSENT : STORE_WHITEOUT;
		if (ret == STORE_ABSENT)
			return STORE_ABSENT;
		if (*p)
			p++;
	}
	*out = ino;
	return STORE_FOUND;
}

int store_layer_readdir(struct store_layer_reader *r, struct store_inode *dir, size_t pos,
			struct store_dirent *out, struct cc_error **err)
{
	const struct store_dir_entry *e;

	if (ensure_dir(r, dir, err) < 0)
		return -1;
	if (pos >= dir->n_ents)
		return 0;
	e = &dir->ents[pos];
	memcpy(out->name, e->name, e->name_len);
	out->name[e->name_len] = 0;
	out->kind = e->kind;
	out->type = e->type;
	return 1;
}

const struct store_attr *store_layer_getattr(const struct store_inode *ino)
{
	return &ino->attr;
}

const uint8_t *store_layer_inode_mac(const struct store_inode *ino)
{
	return ino->mac;
}

uint64_t store_layer_size(const struct store_inode *ino)
{
	return ino->size;
}

const uint8_t *store_layer_inode_id(const struct store_inode *ino)
{
	return ino->id;
}

int store_layer_nlink(struct store_layer_reader *r, struct store_inode *ino, uint32_t *nlink,
		      struct cc_error **err)
{
	size_t lo = 0, hi = r->rec.n_links;

	if (ino->attr.type == STORE_TYPE_DIR) {
		uint32_t n = 2;
		if (ensure_dir(r, ino, err) < 0)
			return -1;
		for (size_t i = 0; i < ino->n_ents; i++)
			n += ino->ents[i].kind == STORE_ENTRY_INODE &&
			     ino->ents[i].type == STORE_TYPE_DIR;
		*nlink = n;
		return 0;
	}
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const uint8_t *l = r->rec.links + mid * RECORD_LINK_LEN;
		int c = memcmp(l, ino->id, STORE_ID_LEN);
		if (c == 0) {
			*nlink = cc_le32(l + STORE_ID_LEN);
			return 0;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*nlink = 1;
	return 0;
}

ssize_t store_layer_read(struct store_layer_reader *r, struct store_inode *ino, void *buf,
			 size_t len, uint64_t off, struct cc_error **err)
{
	ssize_t n;

	if (ino->attr.type != STORE_TYPE_REG)
		return rfail(r, err, EINVAL, "read of an inode of type %u", ino->attr.type);
	if (ensure_obj(r, ino, err) < 0)
		return -1;
	n = store_pf_pread(store_object_reader(ino->obj), buf, len, off, err);
	if (n < 0)
		return cc_error_prefix(err, "layer %s", r->diff_id);
	return n;
}

char *store_layer_readlink(struct store_layer_reader *r, struct store_inode *ino,
			   struct cc_error **err)
{
	char *target;
	size_t len;

	if (ino->attr.type != STORE_TYPE_SYMLINK)
		return rfail(r, err, EINVAL, "readlink of an inode of type %u", ino->attr.type),
		       NULL;
	if (ensure_obj(r, ino, err) < 0)
		return NULL;
	target = (char *)store_object_read_all(ino->obj, STORE_LINK_MAX, &len, err);
	if (!target)
		return cc_error_prefix(err, "layer %s", r->diff_id), NULL;
	if (len == 0 || strlen(target) != len) {
		char name[2 * 8 + 1];
		free(target);
		cc_hex_encode(ino->id, 8, name);
		return rfail(r, err, EIO, "object %s: an empty link target or one with a NUL",
			     name),
		       NULL;
	}
	return target;
}
