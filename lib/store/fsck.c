// SPDX-License-Identifier: Apache-2.0
/* fsck of a store: every reachable object verified and parsed, then what else lies on the host
 * (fsck.h, docs/store.md "fsck"). Nothing here writes. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "store/fsck.h"
#include "store/layer.h"
#include "store/store.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/hex.h"
#include "util/le.h"
#include "util/strv.h"

/* A record's content: the fixed part and up to 2^22 hard-linked objects (as layer.c). */
#define RECORD_LINK_LEN (STORE_ID_LEN + 4)
#define RECORD_MAX (4 + STORE_ID_LEN + STORE_MAC_LEN + 4 + RECORD_LINK_LEN * (1u << 22))
/* Directory levels below a layer's root (as layer.c: a path of 4095 bytes has at most 2048
 * components). */
#define DEPTH_MAX 2048
/* Content is verified in steps of one default chunk. */
#define READ_STEP (64u * 1024)
#define OBJ_HEX_LEN (2 * STORE_ID_LEN)

/* An object fsck reached: the index, a record, an inode, spilled xattrs. */
struct obj {
	uint8_t id[STORE_ID_LEN], mac[STORE_MAC_LEN];
	uint8_t type;	  /* the inode type its attributes give, once read; 0 otherwise */
	bool counted;	  /* verified whole once: in objects_checked and bytes_checked */
	bool damaged;	  /* damage reported for it in layer `layer` */
	bool dir_entry;	  /* its first name in layer `layer` said a directory */
	size_t layer;	  /* 1 + the layer that last reached it by a name, 0 for none */
	size_t rec_layer; /* 1 + the last layer whose record lists it as hard-linked */
	uint32_t names;	  /* names reaching it in layer `layer` */
	char *path;	  /* its first name in layer `layer`, shown */
	struct obj *next;
};

struct fsck {
	struct store *s;
	const char *root;
	void (*line)(void *ctx, int severity, const char *text);
	void *ctx;
	struct store_fsck_report rep;
	struct obj **buckets;
	size_t n_buckets, n_objs;
	uint8_t *buf; /* READ_STEP bytes */
	/* The layer being walked. */
	const char *diff_id;
	size_t layer;
	struct obj **touched; /* reached by a name in this layer */
	size_t n_touched, cap_touched;
	bool layer_cut; /* a subtree of this layer could not be walked */
	bool cut;	/* in any layer */
};

static void say(struct fsck *f, int severity, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(struct fsck *f, int severity, const char *fmt, ...)
{
	_cleanup_free_ char *text = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) < 0)
		abort();
	va_end(ap);
	if (severity == STORE_FSCK_DAMAGE)
		f->rep.damaged++;
	if (f->line)
		f->line(f->ctx, severity, text);
}

/* Damage at path of the layer being walked ("" is the root, shown "/"). */
static void damage_at(struct fsck *f, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void damage_at(struct fsck *f, const char *path, const char *fmt, ...)
{
	_cleanup_free_ char *what = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&what, fmt, ap) < 0)
		abort();
	va_end(ap);
	say(f, STORE_FSCK_DAMAGE, "layer %s: %s: %s", f->diff_id, *path ? path : "/", what);
}

/* A name as a line may show it: printable ASCII as it is, other bytes and '\' as \xNN. */
static char *shown(const uint8_t *s, size_t len)
{
	char *out = xmalloc(4 * len + 1), *o = out;
	for (size_t i = 0; i < len; i++) {
		if (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '\\')
			*o++ = (char)s[i];
		else
			o += sprintf(o, "\\x%02x", s[i]);
	}
	*o = 0;
	return out;
}

static void short_name(const uint8_t id[STORE_ID_LEN], char out[2 * 8 + 1])
{
	cc_hex_encode(id, 8, out);
}

/* ---- the objects reached ---- */

static size_t id_hash(const uint8_t *id, size_t n_buckets)
{
	return (size_t)(cc_le64(id) % n_buckets); /* ids are random or HMAC output */
}

static struct obj *obj_find(struct fsck *f, const uint8_t *id)
{
	for (struct obj *o = f->buckets[id_hash(id, f->n_buckets)]; o; o = o->next)
		if (!memcmp(o->id, id, STORE_ID_LEN))
			return o;
	return NULL;
}

static void grow(struct fsck *f)
{
	size_t n = 4 * f->n_buckets;
	struct obj **nb = xcalloc(n, sizeof(*nb));

	for (size_t i = 0; i < f->n_buckets; i++) {
		struct obj *o = f->buckets[i], *next;
		for (; o; o = next) {
			size_t h = id_hash(o->id, n);
			next = o->next;
			o->next = nb[h];
			nb[h] = o;
		}
	}
	free(f->buckets);
	f->buckets = nb;
	f->n_buckets = n;
}

/* Object id, reached: found, or added. */
static struct obj *obj_reach(struct fsck *f, const uint8_t *id)
{
	struct obj *o = obj_find(f, id);
	size_t h;

	if (o)
		return o;
	if (f->n_objs >= 2 * f->n_buckets)
		grow(f);
	o = xzalloc(sizeof(*o));
	memcpy(o->id, id, STORE_ID_LEN);
	h = id_hash(id, f->n_buckets);
	o->next = f->buckets[h];
	f->buckets[h] = o;
	f->n_objs++;
	return o;
}

static void count(struct fsck *f, struct obj *o, uint64_t size)
{
	if (o->counted)
		return;
	o->counted = true;
	f->rep.objects_checked++;
	f->rep.bytes_checked += (size_t)size;
}

static void objs_free(struct fsck *f)
{
	for (size_t i = 0; i < f->n_buckets; i++) {
		struct obj *o = f->buckets[i], *next;
		for (; o; o = next) {
			next = o->next;
			free(o->path);
			free(o);
		}
	}
	free(f->buckets);
	free(f->touched);
}

/* ---- verifying objects ---- */

/* Read the whole content of o in steps, authenticating every chunk; nothing is kept. */
static int stream(struct fsck *f, struct store_object *o, struct cc_error **err)
{
	struct store_pf_reader *r = store_object_reader(o);
	uint64_t size = store_pf_size(r), off = 0;
	char name[2 * 8 + 1];

	while (off < size) {
		/* Holes have nothing on the host to verify (their entries are, in their parents):
		 * skipped, the nodes above them verified on the way. */
		struct cc_error *e = NULL;
		int64_t data = store_pf_seek(r, off, SEEK_DATA, &e);
		if (data < 0 && e) {
			*err = e;
			return -1;
		}
		if (data < 0)
			break;
		off = (uint64_t)data;
		ssize_t n = store_pf_pread(r, f->buf, READ_STEP, off, err);
		if (n < 0)
			return -1;
		if (n == 0) {
			short_name(store_pf_id(r), name);
			return cc_error_set(err, 0, "object %s: ends at %" PRIu64 " of %" PRIu64,
					    name, off, size);
		}
		off += (uint64_t)n;
	}
	return 0;
}

/* Object (id, mac) whose content is an encoding read whole (at most limit bytes). */
static uint8_t *read_object(struct fsck *f, const uint8_t *id, const uint8_t *mac, size_t limit,
			    size_t *len, struct cc_error **err)
{
	struct store_object *o = NULL;
	uint8_t *buf;

	if (store_object_open(f->s, id, mac, &o, err) < 0)
		return NULL;
	buf = store_object_read_all(o, limit, len, err);
	store_object_close(o);
	return buf;
}

/* The spilled xattrs of an inode into a. */
static int spilled_xattrs(struct fsck *f, const uint8_t *sid, const uint8_t *smac,
			  struct store_attr *a, struct cc_error **err)
{
	struct obj *o = obj_reach(f, sid);
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len = 0;

	buf = read_object(f, sid, smac, STORE_XATTRS_MAX, &len, err);
	if (!buf || store_xattrs_parse(buf, len, a, err) < 0)
		return -1;
	count(f, o, len);
	return 0;
}

static void visit(struct fsck *f, const uint8_t *id, const uint8_t *mac, uint8_t type,
		  const char *path, unsigned depth);

/* Walk the entries of the directory at path. */
static void walk_dir(struct fsck *f, const struct store_dir_entry *ents, size_t n, const char *path,
		     unsigned depth)
{
	for (size_t i = 0; i < n; i++) {
		const struct store_dir_entry *e = &ents[i];
		_cleanup_free_ char *name = NULL, *sub = NULL;
		if (e->kind != STORE_ENTRY_INODE)
			continue;
		name = shown(e->name, e->name_len);
		sub = *path ? xasprintf("%s/%s", path, name) : xstrdup(name);
		if (e->type == STORE_TYPE_DIR && depth + 1 > DEPTH_MAX) {
			damage_at(f, sub, "directories nested over %d deep: not walked", DEPTH_MAX);
			f->layer_cut = f->cut = true;
			continue;
		}
		visit(f, e->id, e->mac, e->type, sub, depth + 1);
	}
}

/* Verify inode o (first reached at path, its entry saying type) whole; walk a directory. */
static void verify_inode(struct fsck *f, struct obj *o, uint8_t type, const char *path,
			 unsigned depth)
{
	struct store_object *so = NULL;
	struct store_attr a;
	struct cc_error *err = NULL;
	_cleanup_free_ uint8_t *content = NULL;
	uint8_t sid[STORE_ID_LEN], smac[STORE_MAC_LEN];
	char name[2 * 8 + 1];
	const void *area;
	size_t alen, len = 0;
	uint64_t size;
	bool spilled = false;

	memset(&a, 0, sizeof(a));
	short_name(o->id, name);
	if (store_object_open(f->s, o->id, o->mac, &so, &err) < 0)
		goto damaged;
	size = store_pf_size(store_object_reader(so));
	area = store_pf_attributes(store_object_reader(so), &alen);
	if (store_attr_parse(area, alen, &a, &spilled, sid, smac, &err) < 0) {
		cc_error_prefix(&err, "object %s", name);
		goto damaged;
	}
	o->type = a.type;
	if (spilled && spilled_xattrs(f, sid, smac, &a, &err) < 0) {
		cc_error_prefix(&err, "object %s: xattrs", name);
		goto damaged;
	}
	if (a.type != type) {
		cc_error_set(&err, 0, "object %s: the entry says type %u, the object %u", name,
			     type, a.type);
		goto damaged;
	}
	if (type == STORE_TYPE_DIR || type == STORE_TYPE_SYMLINK) {
		content = store_object_read_all(
		    so, type == STORE_TYPE_DIR ? STORE_DIR_MAX : STORE_LINK_MAX, &len, &err);
		if (!content)
			goto damaged;
		if (type == STORE_TYPE_SYMLINK && (len == 0 || strlen((char *)content) != len)) {
			cc_error_set(&err, 0, "object %s: an empty link target or one with a NUL",
				     name);
			goto damaged;
		}
	} else if (stream(f, so, &err) < 0) {
		goto damaged;
	}
	/* Closed before walking below: one open object at a time, whatever the depth. */
	store_object_close(so);
	so = NULL;
	store_attr_clear(&a);
	if (type == STORE_TYPE_DIR) {
		/* Parsed before it counts as verified: a directory must also parse. */
		_cleanup_free_ struct store_dir_entry *ents = NULL;
		size_t n;
		if (store_dir_parse(content, len, &ents, &n, &err) < 0) {
			cc_error_prefix(&err, "object %s", name);
			goto damaged;
		}
		count(f, o, size);
		walk_dir(f, ents, n, path, depth);
		return;
	}
	count(f, o, size);
	return;
damaged:
	store_object_close(so);
	store_attr_clear(&a);
	o->damaged = true;
	damage_at(f, path, "%s", err->msg);
	cc_error_free(&err);
	if (type == STORE_TYPE_DIR || o->type == STORE_TYPE_DIR)
		f->layer_cut = f->cut = true; /* what is below is not walked */
}

/* The entry at path names object (id, mac) of type type. */
static void visit(struct fsck *f, const uint8_t *id, const uint8_t *mac, uint8_t type,
		  const char *path, unsigned depth)
{
	struct obj *o = obj_reach(f, id);
	char name[2 * 8 + 1];

	short_name(id, name);
	if (o->layer == f->layer) {
		/* Another name of an object this layer reached: verified once, counted. */
		if (memcmp(o->mac, mac, STORE_MAC_LEN)) {
			damage_at(f, path, "object %s: another root MAC than the name %s holds",
				  name, *o->path ? o->path : "/");
			return;
		}
		if (type == STORE_TYPE_DIR || o->dir_entry) {
			damage_at(f, path, "object %s: a directory is also named %s", name,
				  *o->path ? o->path : "/");
			return;
		}
		o->names++;
		if (!o->damaged && o->type != type)
			damage_at(f, path, "object %s: the entry says type %u, the object %u", name,
				  type, o->type);
		return;
	}
	o->layer = f->layer;
	o->names = 1;
	o->damaged = false;
	o->dir_entry = type == STORE_TYPE_DIR;
	o->type = 0;
	memcpy(o->mac, mac, STORE_MAC_LEN);
	free(o->path);
	o->path = xstrdup(path);
	if (f->n_touched == f->cap_touched) {
		f->cap_touched = f->cap_touched ? 2 * f->cap_touched : 256;
		f->touched = xreallocarray(f->touched, f->cap_touched, sizeof(*f->touched));
	}
	f->touched[f->n_touched++] = o;
	verify_inode(f, o, type, path, depth);
}

/* The record's hard link counts against the names that reached each object. */
static void check_links(struct fsck *f, const struct store_record *rec)
{
	char name[2 * 8 + 1];

	/* Below damage that was not walked, names are missing: the counts cannot be told. */
	if (f->layer_cut)
		return;
	for (size_t i = 0; i < rec->n_links; i++) {
		const uint8_t *l = rec->links + i * RECORD_LINK_LEN;
		uint32_t want = cc_le32(l + STORE_ID_LEN);
		struct obj *o = obj_find(f, l);

		short_name(l, name);
		if (!o || o->layer != f->layer) {
			say(f, STORE_FSCK_DAMAGE,
			    "layer %s: record: object %s: %u links, but no name reaches it",
			    f->diff_id, name, want);
			continue;
		}
		o->rec_layer = f->layer;
		if (o->damaged)
			continue;
		if (o->dir_entry)
			damage_at(f, o->path,
				  "object %s: a directory among the record's hard links", name);
		else if (o->names != want)
			damage_at(f, o->path,
				  "object %s: the record says %u links, %u names reach it", name,
				  want, o->names);
	}
	for (size_t i = 0; i < f->n_touched; i++) {
		struct obj *o = f->touched[i];
		if (o->damaged || o->dir_entry || o->names < 2 || o->rec_layer == f->layer)
			continue;
		short_name(o->id, name);
		damage_at(f, o->path, "object %s: %u names reach it, the record lists no hard link",
			  name, o->names);
	}
}

static void layer_done(struct fsck *f)
{
	for (size_t i = 0; i < f->n_touched; i++) {
		free(f->touched[i]->path);
		f->touched[i]->path = NULL;
	}
	f->n_touched = 0;
}

static void check_layer(struct fsck *f, const char *diff_id, size_t number)
{
	uint8_t rid[STORE_ID_LEN], rmac[STORE_MAC_LEN], want[STORE_ID_LEN];
	struct store_record rec;
	struct cc_error *err = NULL;
	_cleanup_free_ uint8_t *buf = NULL;
	char got_hex[OBJ_HEX_LEN + 1], want_hex[OBJ_HEX_LEN + 1];
	size_t len = 0;
	struct obj *o;

	f->diff_id = diff_id;
	f->layer = number;
	f->layer_cut = false;
	if (store_layer_ref(f->s, diff_id, rid, rmac, &err) < 0) {
		/* Listed a moment ago, under the lock: cannot happen. */
		say(f, STORE_FSCK_DAMAGE, "layer %s: %s", diff_id, err->msg);
		cc_error_free(&err);
		return;
	}
	store_record_id(f->s, diff_id, want);
	/* A replaceable layer's record (a view's writable layer) has a random id. */
	if (!store_diff_id_replaceable(diff_id) && memcmp(want, rid, STORE_ID_LEN)) {
		cc_hex_encode(rid, STORE_ID_LEN, got_hex);
		cc_hex_encode(want, STORE_ID_LEN, want_hex);
		say(f, STORE_FSCK_DAMAGE,
		    "layer %s: the index names record %s, the diff_id gives %s", diff_id, got_hex,
		    want_hex);
	}
	o = obj_reach(f, rid);
	buf = read_object(f, rid, rmac, RECORD_MAX, &len, &err);
	if (!buf || store_record_parse(buf, len, &rec, &err) < 0) {
		char name[2 * 8 + 1];
		short_name(rid, name);
		if (buf)
			cc_error_prefix(&err, "object %s", name);
		say(f, STORE_FSCK_DAMAGE, "layer %s: record: %s", diff_id, err->msg);
		cc_error_free(&err);
		f->layer_cut = f->cut = true;
		return;
	}
	count(f, o, len);
	visit(f, rec.root_id, rec.root_mac, STORE_TYPE_DIR, "", 0);
	check_links(f, &rec);
	free(rec.links);
	layer_done(f);
}

/* The index object the pointer names: reached, verified, parsed. */
static int check_index(struct fsck *f, const uint8_t *key, struct cc_error **err)
{
	_cleanup_free_ char *ptr_path = xasprintf("%s/index", f->root);
	_cleanup_free_ char *ptr = NULL;
	_cleanup_free_ uint8_t *content = NULL;
	struct store_index_entry *entries = NULL;
	uint8_t id[STORE_ID_LEN], mac[STORE_MAC_LEN];
	uint64_t gen, igen;
	size_t len = 0, n = 0;
	struct cc_error *e = NULL;

	ptr = cc_read_file(ptr_path, STORE_INDEX_PTR_LEN + 1, &len, err);
	if (!ptr || store_index_ptr_open(key, ptr, len, &gen, id, mac, err) < 0)
		return cc_error_prefix(err, "store %s", f->root);
	content = read_object(f, id, mac, STORE_INDEX_MAX, &len, &e);
	if (content && store_index_parse(content, len, &igen, &entries, &n, &e) == 0) {
		store_index_entries_free(entries, n);
		count(f, obj_reach(f, id), len);
		return 0;
	}
	/* store_open_readonly read it whole a moment ago, under the lock: cannot happen. */
	obj_reach(f, id);
	say(f, STORE_FSCK_DAMAGE, "index: %s", e->msg);
	cc_error_free(&e);
	return 0;
}

/* ---- what else lies on the host ---- */

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in directory path but "." and "..", sorted; NULL with errno. */
static char **list_dir(const char *path)
{
	_cleanup_closedir_ DIR *d = opendir(path);
	char **v;
	struct dirent *de;

	if (!d)
		return NULL;
	v = xcalloc(1, sizeof(*v));
	while ((errno = 0, de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			cc_strv_push(&v, de->d_name);
	if (errno) {
		int e = errno;
		cc_strv_free(v);
		errno = e;
		return NULL;
	}
	qsort(v, cc_strv_len(v), sizeof(*v), name_cmp);
	return v;
}

static bool lower_hex(const char *s, size_t len)
{
	return strlen(s) == len && strspn(s, "0123456789abcdef") == len;
}

static void stray(struct fsck *f, const char *rel, const char *why)
{
	_cleanup_free_ char *name = shown((const uint8_t *)rel, strlen(rel));
	f->rep.strays++;
	say(f, STORE_FSCK_WARNING, "objects/%s: %s (not an object: the store ignores it)", name,
	    why);
}

/* objects/<sub>/: every object nothing reached, and what is not an object. */
static int scan_sub(struct fsck *f, const char *objects, const char *sub, bool index_known,
		    struct cc_error **err)
{
	_cleanup_free_ char *path = xasprintf("%s/%s", objects, sub);
	_cleanup_strv_ char **names = list_dir(path);
	char hex[OBJ_HEX_LEN + 1], name[2 * 8 + 1];
	uint8_t id[STORE_ID_LEN];

	if (!names)
		return cc_error_errno(err, "store %s: list objects/%s", f->root, sub);
	for (size_t i = 0; names[i]; i++) {
		_cleanup_free_ char *rel = xasprintf("%s/%s", sub, names[i]);
		_cleanup_free_ char *full = xasprintf("%s/%s", path, names[i]);
		struct obj *o;
		struct stat st;

		if (!lower_hex(names[i], OBJ_HEX_LEN - 2)) {
			stray(f, rel, "not an object's name");
			continue;
		}
		memcpy(hex, sub, 2);
		memcpy(hex + 2, names[i], OBJ_HEX_LEN - 2 + 1);
		if (!cc_hex_decode(hex, id, STORE_ID_LEN)) {
			stray(f, rel, "not an object's name");
			continue;
		}
		o = obj_find(f, id);
		if (o)
			continue; /* reached: checked (a missing or odd host file is damage) */
		if (lstat(full, &st) < 0)
			return cc_error_errno(err, "store %s: stat objects/%s", f->root, rel);
		if (!S_ISREG(st.st_mode)) {
			stray(f, rel, "not a regular file");
			continue;
		}
		if (!index_known)
			continue; /* nothing was reached: all would look unreferenced */
		f->rep.unreferenced++;
		short_name(id, name);
		if (f->cut)
			say(f, STORE_FSCK_WARNING,
			    "object %s: not reached: unreferenced, or below damage fsck could not "
			    "walk past (garbage collection would remove it)",
			    name);
		else
			say(f, STORE_FSCK_WARNING,
			    "object %s: unreferenced (garbage collection removes it)", name);
	}
	return 0;
}

static int scan_objects(struct fsck *f, bool index_known, struct cc_error **err)
{
	_cleanup_free_ char *objects = xasprintf("%s/objects", f->root);
	_cleanup_strv_ char **names = list_dir(objects);

	if (!names)
		return cc_error_errno(err, "store %s: list objects/", f->root);
	for (size_t i = 0; names[i]; i++) {
		_cleanup_free_ char *full = xasprintf("%s/%s", objects, names[i]);
		struct stat st;

		if (!lower_hex(names[i], 2)) {
			stray(f, names[i], "not a directory of objects");
			continue;
		}
		if (lstat(full, &st) < 0)
			return cc_error_errno(err, "store %s: stat objects/%s", f->root, names[i]);
		if (!S_ISDIR(st.st_mode)) {
			stray(f, names[i], "not a directory");
			continue;
		}
		if (scan_sub(f, objects, names[i], index_known, err) < 0)
			return -1;
	}
	return 0;
}

static void scan_tmp(struct fsck *f)
{
	_cleanup_free_ char *tmp = xasprintf("%s/tmp", f->root);
	_cleanup_strv_ char **names = list_dir(tmp);

	if (!names) {
		say(f, STORE_FSCK_DAMAGE, "tmp/: %s (the store does not open without it)",
		    strerror(errno));
		return;
	}
	for (size_t i = 0; names[i]; i++) {
		_cleanup_free_ char *name = shown((const uint8_t *)names[i], strlen(names[i]));
		f->rep.leftovers++;
		say(f, STORE_FSCK_WARNING,
		    "tmp/%s: left by an interrupted write (opening the store removes it)", name);
	}
}

/* ---- fsck ---- */

/* Whether the pointer at root opens under key (a failed open was then the index's damage,
 * not a wrong key). */
static bool pointer_opens(const char *root, const uint8_t *key)
{
	_cleanup_free_ char *path = xasprintf("%s/index", root);
	_cleanup_free_ char *ptr = NULL;
	uint8_t id[STORE_ID_LEN], mac[STORE_MAC_LEN];
	uint64_t gen;
	size_t len = 0;
	struct cc_error *err = NULL;
	bool opens;

	ptr = cc_read_file(path, STORE_INDEX_PTR_LEN + 1, &len, &err);
	opens = ptr && store_index_ptr_open(key, ptr, len, &gen, id, mac, &err) == 0;
	cc_error_free(&err);
	return opens;
}

static int run(struct fsck *f, const uint8_t *key, struct cc_error **err)
{
	_cleanup_strv_ char **ids = NULL;
	size_t n = 0;

	if (check_index(f, key, err) < 0)
		return -1;
	ids = store_layer_ids(f->s, &n, err);
	if (!ids)
		return -1;
	f->rep.layers = n;
	for (size_t i = 0; i < n; i++)
		check_layer(f, ids[i], i + 1);
	if (scan_objects(f, true, err) < 0)
		return -1;
	scan_tmp(f);
	return 0;
}

int store_fsck(const char *root, const uint8_t key[STORE_KEY_LEN],
	       void (*line)(void *ctx, int severity, const char *text), void *ctx,
	       struct store_fsck_report *rep, struct cc_error **err)
{
	struct fsck f = { .root = root, .line = line, .ctx = ctx };
	struct cc_error *open_err = NULL;
	int ret;

	if (rep)
		memset(rep, 0, sizeof(*rep));
	if (!root || !*root || !key)
		return cc_error_set(err, EINVAL, "fsck: missing root or key");
	if (store_open_readonly(root, key, &f.s, &open_err) < 0) {
		/* The pointer opens under the key, so the index is what is damaged. */
		if (open_err->errnum != EIO || !pointer_opens(root, key)) {
			if (err && !*err)
				*err = open_err;
			else
				cc_error_free(&open_err);
			return cc_error_prefix(err, "fsck");
		}
		f.n_buckets = 16;
		f.buckets = xcalloc(f.n_buckets, sizeof(*f.buckets));
		say(&f, STORE_FSCK_DAMAGE, "%s", open_err->msg); /* "store ROOT: index: ..." */
		cc_error_free(&open_err);
		ret = scan_objects(&f, false, err);
		if (ret == 0)
			scan_tmp(&f);
		goto out;
	}
	f.n_buckets = 1024;
	f.buckets = xcalloc(f.n_buckets, sizeof(*f.buckets));
	f.buf = xmalloc(READ_STEP);
	ret = run(&f, key, err);
	free(f.buf);
	store_close(f.s);
out:
	objs_free(&f);
	if (ret < 0)
		return cc_error_prefix(err, "fsck");
	if (rep)
		*rep = f.rep;
	return f.rep.damaged ? 1 : 0;
}
