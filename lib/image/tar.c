// SPDX-License-Identifier: Apache-2.0
/* The tar reader and the entry rules both layer unpackers share. See tar-internal.h. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "image/tar-internal.h"
#include "util/cleanup.h"
#include "util/fs.h"

#define READ_BUF_SIZE (64u << 10)

static uint32_t hash_path(const char *s, size_t len)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

struct img_path *img_pathset_find(struct img_pathset *s, const char *p, size_t len)
{
	if (!s->cap)
		return NULL;
	uint32_t h = hash_path(p, len);
	for (struct img_path *n = s->tab[h & (s->cap - 1)]; n; n = n->next)
		if (n->hash == h && strlen(n->path) == len && memcmp(n->path, p, len) == 0)
			return n;
	return NULL;
}

static void pathset_grow(struct img_pathset *s)
{
	size_t cap = s->cap ? s->cap * 2 : 256;
	struct img_path **tab = xcalloc(cap, sizeof(*tab));
	for (size_t i = 0; i < s->cap; i++) {
		struct img_path *n = s->tab[i], *next;
		for (; n; n = next) {
			next = n->next;
			n->next = tab[n->hash & (cap - 1)];
			tab[n->hash & (cap - 1)] = n;
		}
	}
	free(s->tab);
	s->tab = tab;
	s->cap = cap;
}

struct img_path *img_pathset_add(struct img_pathset *s, const char *p, size_t len)
{
	struct img_path *n = img_pathset_find(s, p, len);
	if (n)
		return n;
	if (s->n >= s->cap)
		pathset_grow(s);
	n = xzalloc(sizeof(*n) + len + 1);
	memcpy(n->path, p, len);
	n->hash = hash_path(p, len);
	n->next = s->tab[n->hash & (s->cap - 1)];
	s->tab[n->hash & (s->cap - 1)] = n;
	s->n++;
	return n;
}

/* The layer has the path as its own (see struct img_path). */
bool img_pathset_own(struct img_pathset *s, const char *p, size_t len)
{
	struct img_path *n = img_pathset_find(s, p, len);
	return n && n->own;
}

void img_pathset_free(struct img_pathset *s)
{
	for (size_t i = 0; i < s->cap; i++) {
		struct img_path *n = s->tab[i], *next;
		for (; n; n = next) {
			next = n->next;
			free(n);
		}
	}
	free(s->tab);
	s->tab = NULL;
	s->cap = s->n = 0;
}

int img_unpack_fail(struct cc_error **err, int errnum, const char *fmt, ...)
{
	bool fresh = *err == NULL;
	va_list ap;
	va_start(ap, fmt);
	cc_error_setv(err, 0, fmt, ap);
	va_end(ap);
	if (fresh && *err)
		(*err)->errnum = errnum;
	return -1;
}

char *img_tar_clean_name(const char *raw, struct cc_error **err)
{
	if (!raw || !*raw) {
		img_unpack_fail(err, EINVAL, "empty name");
		return NULL;
	}
	if (strlen(raw) >= PATH_MAX) {
		img_unpack_fail(err, ENAMETOOLONG, "name longer than %d bytes", PATH_MAX - 1);
		return NULL;
	}
	while (*raw == '/')
		raw++;
	if (!*raw)
		return xstrdup(".");
	char *c = cc_path_clean(raw);
	if (strcmp(c, "..") == 0 || strncmp(c, "../", 3) == 0) {
		free(c);
		img_unpack_fail(err, EXDEV, "escapes the layer root");
		return NULL;
	}
	return c;
}

char *img_tar_split_path(const char *path, const char **base)
{
	const char *slash = strrchr(path, '/');
	if (!slash) {
		*base = path;
		return xstrdup(".");
	}
	*base = slash + 1;
	return xstrndup(path, (size_t)(slash - path));
}

char *img_tar_printable(const char *raw)
{
	if (!raw)
		return xstrdup("");
	size_t len = strnlen(raw, 256);
	char *s = xmalloc(len + 4);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)raw[i];
		s[i] = c < 0x20 || c == 0x7f || c == '"' ? '?' : (char)c;
	}
	strcpy(s + len, raw[len] ? "..." : "");
	return s;
}

int img_tar_link_target(const char *path, const char *rawtarget, char **target,
			struct cc_error **err)
{
	char *t = img_tar_clean_name(rawtarget, err);
	if (!t)
		return cc_error_prefix(err, "hardlink target");
	if (strcmp(t, ".") == 0) {
		free(t);
		return img_unpack_fail(err, EPERM, "hardlink to a directory");
	}
	if (strcmp(t, path) == 0) {
		free(t);
		return 0;
	}
	*target = t;
	return 1;
}

int img_tar_whiteout(const char *dir, const char *base, char **vpath,
		     struct img_unpack_stats *stats, struct cc_error **err)
{
	const char *victim = base + strlen(IMG_WH_PREFIX);
	if (strcmp(base, IMG_WH_OPAQUE) == 0)
		return IMG_WH_OPAQUE_DIR;
	if (strncmp(victim, IMG_WH_PREFIX, strlen(IMG_WH_PREFIX)) == 0) {
		stats->skipped++; /* aufs metadata (.wh..wh.plnk, ...): meaningless here */
		return IMG_WH_SKIP;
	}
	if (!*victim || strcmp(victim, ".") == 0 || strcmp(victim, "..") == 0)
		return img_unpack_fail(err, EINVAL, "invalid whiteout name");
	*vpath = strcmp(dir, ".") == 0 ? xstrdup(victim) : xasprintf("%s/%s", dir, victim);
	return IMG_WH_PATH;
}

bool img_tar_overlay_xattr(const char *name)
{
	return strncmp(name, "trusted.overlay.", 16) == 0 ||
	       strncmp(name, "user.overlay.", 13) == 0;
}

static la_ssize_t read_cb(struct archive *a, void *data, const void **buf)
{
	struct img_tar *t = data;
	for (;;) {
		ssize_t n = t->read_fn(t->ctx, t->buf, READ_BUF_SIZE);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || n > (ssize_t)READ_BUF_SIZE) {
			t->read_errno = n < 0 && errno ? errno : EIO;
			archive_set_error(a, t->read_errno, "read: %s", strerror(t->read_errno));
			return -1;
		}
		*buf = t->buf;
		return n;
	}
}

int img_tar_fail(struct img_tar *t, struct cc_error **err, const char *what)
{
	if (t->read_errno)
		return cc_error_set(err, t->read_errno, "read layer");
	const char *msg = archive_error_string(t->a);
	return img_unpack_fail(err, EIO, "%s: %s", what, msg ? msg : "unknown error");
}

int img_tar_open(struct img_tar *t, img_read_fn read_fn, void *ctx, struct cc_error **err)
{
	*t = (struct img_tar){ .read_fn = read_fn, .ctx = ctx };
	/* libarchive converts pax (UTF-8) names to the locale's charset: make that a no-op, for
	 * this thread only, so names come out as the bytes in the tar. */
	t->loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
	t->old = t->loc ? uselocale(t->loc) : (locale_t)0;
	t->buf = xmalloc(READ_BUF_SIZE);
	t->a = archive_read_new();
	if (!t->a)
		abort();
	archive_read_support_filter_none(t->a);
	archive_read_support_format_tar(t->a);
	archive_read_support_format_gnutar(t->a);
	if (archive_read_open(t->a, t, NULL, read_cb, NULL) != ARCHIVE_OK) {
		img_tar_fail(t, err, "open layer");
		img_tar_close(t);
		return -1;
	}
	return 0;
}

int img_tar_next(struct img_tar *t, struct archive_entry **e, struct cc_error **err)
{
	int r = archive_read_next_header(t->a, e);
	if (r == ARCHIVE_EOF)
		return 0;
	if (r < ARCHIVE_WARN)
		return img_tar_fail(t, err, "read layer");
	return 1;
}

int img_tar_each(struct img_tar *t, struct img_unpack_stats *stats,
		 int (*fn)(void *ctx, struct archive_entry *e, struct cc_error **err), void *ctx,
		 struct cc_error **err)
{
	struct archive_entry *e;
	int r;
	while ((r = img_tar_next(t, &e, err)) > 0) {
		stats->entries++;
		if (fn(ctx, e, err) < 0) {
			_cleanup_free_ char *name = img_tar_printable(archive_entry_pathname(e));
			return cc_error_prefix(err, "layer entry \"%s\"", name);
		}
	}
	return r;
}

int img_tar_data(struct img_tar *t, const void **block, size_t *size, int64_t *off,
		 struct cc_error **err)
{
	la_int64_t o;
	int r = archive_read_data_block(t->a, block, size, &o);
	if (r == ARCHIVE_EOF)
		return 0;
	if (r != ARCHIVE_OK)
		return img_tar_fail(t, err, "read data");
	if (o < 0)
		return img_unpack_fail(err, EINVAL, "read data: negative offset");
	*off = o;
	return 1;
}

void img_tar_close(struct img_tar *t)
{
	if (t->a)
		archive_read_free(t->a);
	t->a = NULL;
	free(t->buf);
	t->buf = NULL;
	if (t->loc) {
		uselocale(t->old);
		freelocale(t->loc);
		t->loc = NULL;
	}
}
