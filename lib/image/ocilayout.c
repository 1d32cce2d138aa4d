// SPDX-License-Identifier: Apache-2.0
/* OCI image layouts: reading, and writing staged blobs published with index.json last. See
 * ocilayout.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/evp.h>
#include "image/ocilayout.h"
#include "util/log.h"
#include "image/reference.h"
#include "image/stream-internal.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/strv.h"
#include "util/hex.h"

#define COPY_BUF (128u << 10)
#define LAYOUT_FILE "{\"imageLayoutVersion\":\"1.0.0\"}"

bool img_oci_parse_name(const char *text, char **path, char **tag)
{
	if (strncmp(text, "oci:", 4) != 0)
		return false;
	const char *p = text + 4;
	size_t n = strcspn(p, ":");
	if (!n)
		return false;
	*path = xstrndup(p, n);
	*tag = p[n] && p[n + 1] ? xstrdup(p + n + 1) : NULL;
	return true;
}

/* "blobs/<alg>/<hex>" for a valid digest, else NULL. */
static char *blob_path(const char *digest)
{
	if (!img_digest_valid(digest))
		return NULL;
	size_t alen = strcspn(digest, ":");
	return xasprintf("blobs/%.*s/%s", (int)alen, digest, digest + alen + 1);
}

/* ---- reading ---- */

struct img_oci {
	char *path;
	int dirfd;
	struct img_document *index; /* index.json */
};

void img_oci_close(struct img_oci *o)
{
	if (!o)
		return;
	if (o->dirfd >= 0)
		close(o->dirfd);
	img_document_free(o->index);
	free(o->path);
	free(o);
}

static int read_index(struct img_oci *o, struct cc_error **err)
{
	size_t len;
	struct cc_error *e = NULL;
	if (faccessat(o->dirfd, "oci-layout", F_OK, 0) < 0)
		return cc_error_set(err, 0, "%s is not an OCI layout (no oci-layout file)",
				    o->path);
	_cleanup_free_ char *buf =
	    cc_read_file_at(o->dirfd, "index.json", IMG_MANIFEST_MAX, &len, &e);
	if (!buf) {
		cc_error_set(err, 0, "OCI layout %s: %s", o->path, e->msg);
		cc_error_free(&e);
		return -1;
	}
	_cleanup_free_ char *name = xasprintf("%s/index.json", o->path);
	o->index = img_document_parse(name, buf, len, IMG_MT_OCI_INDEX, err);
	if (!o->index)
		return -1;
	if (o->index->kind != IMG_DOC_INDEX)
		return cc_error_set(err, 0, "%s: not an image index", name);
	return 0;
}

struct img_oci *img_oci_open(const char *path, struct cc_error **err)
{
	struct img_oci *o = xzalloc(sizeof(*o));
	o->path = xstrdup(path);
	o->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (o->dirfd < 0)
		cc_error_errno(err, "OCI layout %s", path);
	if (o->dirfd < 0 || read_index(o, err) < 0) {
		img_oci_close(o);
		return NULL;
	}
	return o;
}

static const char *ref_name(const struct img_descriptor *d)
{
	return json_string_value(json_object_get(d->annotations, IMG_OCI_REF_NAME));
}

/* The index.json entry tagged tag, or the only entry when tag is NULL. */
static const struct img_descriptor *find_tag(const struct img_oci *o, const char *tag,
					     struct cc_error **err)
{
	const struct img_document *x = o->index;
	if (!tag && x->n_manifests == 1)
		return &x->manifests[0];
	if (!tag) {
		cc_error_set(err, 0, "oci:%s: %zu images in the layout: name one (oci:%s:TAG)",
			     o->path, x->n_manifests, o->path);
		return NULL;
	}
	_cleanup_strv_ char **tags = NULL;
	for (size_t i = 0; i < x->n_manifests; i++) {
		const char *name = ref_name(&x->manifests[i]);
		if (name && !strcmp(name, tag))
			return &x->manifests[i];
		if (name)
			cc_strv_push(&tags, name);
	}
	_cleanup_free_ char *have = tags ? cc_strv_join(tags, ", ") : xstrdup("none");
	cc_error_set(err, 0, "oci:%s: no image tagged \"%s\" (tags: %s)", o->path, tag, have);
	return NULL;
}

static struct img_document *load_doc(struct img_oci *o, const struct img_descriptor *d,
				     const char *name, struct cc_error **err)
{
	size_t len;
	_cleanup_free_ char *buf = img_oci_get_blob(o, d->digest, IMG_MANIFEST_MAX, &len, err);
	if (!buf)
		return NULL;
	return img_document_parse(name, buf, len, d->media_type, err);
}

struct img_document *img_oci_manifest(struct img_oci *o, const char *tag,
				      const struct img_platform *want, char **digest,
				      struct cc_error **err)
{
	const struct img_descriptor *d = find_tag(o, tag, err);
	if (!d)
		return NULL;
	_cleanup_free_ char *name =
	    tag ? xasprintf("oci:%s:%s", o->path, tag) : xasprintf("oci:%s", o->path);
	struct img_document *doc = load_doc(o, d, name, err);
	if (!doc || doc->kind == IMG_DOC_MANIFEST) {
		if (doc)
			*digest = xstrdup(d->digest);
		return doc;
	}
	struct img_platform host = { 0 };
	if (!want)
		img_platform_host(&host);
	const struct img_descriptor *m = img_index_select(doc, want ? want : &host, name, err);
	struct img_document *man = m ? load_doc(o, m, name, err) : NULL;
	if (man && man->kind != IMG_DOC_MANIFEST) {
		cc_error_set(err, 0, "%s: an index inside an index is not supported", name);
		img_document_free(man);
		man = NULL;
	}
	if (man)
		*digest = xstrdup(m->digest);
	img_platform_clear(&host);
	img_document_free(doc);
	return man;
}

static int open_blob(struct img_oci *o, const char *digest, struct cc_error **err)
{
	_cleanup_free_ char *rel = blob_path(digest);
	if (!rel)
		return cc_error_set(err, 0, "oci:%s: invalid digest \"%s\"", o->path, digest);
	int fd = openat(o->dirfd, rel, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cc_error_errno(err, "oci:%s: blob %s", o->path, digest);
	return fd;
}

char *img_oci_get_blob(struct img_oci *o, const char *digest, size_t max, size_t *len,
		       struct cc_error **err)
{
	_cleanup_free_ char *rel = blob_path(digest);
	if (!rel) {
		cc_error_set(err, 0, "oci:%s: invalid digest \"%s\"", o->path, digest);
		return NULL;
	}
	_cleanup_free_ char *what = xasprintf("oci:%s: blob %s", o->path, digest);
	_cleanup_free_ char *buf = cc_read_file_at(o->dirfd, rel, max, len, err);
	if (!buf) {
		cc_error_prefix(err, "%s", what);
		return NULL;
	}
	struct img_stream *v =
	    img_stream_verify(img_stream_mem(buf, *len), what, digest, (int64_t)*len);
	int r = img_stream_drain(v);
	if (r < 0)
		cc_error_set(err, 0, "%s", img_stream_error(v)->msg);
	img_stream_free(v);
	return r < 0 ? NULL : steal_pointer(&buf);
}

struct img_stream *img_oci_blob_stream(struct img_oci *o, const char *digest, struct cc_error **err)
{
	int fd = open_blob(o, digest, err);
	if (fd < 0)
		return NULL;
	return img_stream_fd_owned(fd);
}

/* ---- writing ---- */

struct staged {
	char *file; /* in the staging directory */
	char *digest;
};

struct img_oci_writer {
	char *path;
	bool created; /* begin made the layout directory: abort removes it */
	int dirfd;
	char *staging; /* the staging directory's name in the layout */
	int stagefd;
	json_t *index; /* index.json as found, or a new one */
	struct staged *blobs;
	size_t n_blobs;
	unsigned counter;
};

void img_oci_writer_abort(struct img_oci_writer *w)
{
	if (!w)
		return;
	if (w->stagefd >= 0)
		close(w->stagefd);
	if (w->staging && w->dirfd >= 0 && cc_remove_at(w->dirfd, w->staging) < 0)
		cc_warn("oci layout: cannot remove staging %s/%s: %s", w->path, w->staging,
			strerror(errno));
	if (w->dirfd >= 0)
		close(w->dirfd);
	if (w->created) {
		struct cc_error *e = NULL;
		if (cc_rm_rf(w->path, &e) < 0)
			cc_warn("oci layout: cannot remove %s: %s", w->path, e->msg);
		cc_error_free(&e);
	}
	for (size_t i = 0; i < w->n_blobs; i++) {
		free(w->blobs[i].file);
		free(w->blobs[i].digest);
	}
	free(w->blobs);
	free(w->staging);
	free(w->path);
	json_decref(w->index);
	free(w);
}

static bool dir_is_empty(int dirfd)
{
	int fd = dup(dirfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	bool empty = true;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return false;
	}
	while (empty && (de = readdir(d)))
		empty = !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..");
	closedir(d);
	return empty;
}

/* index.json of an existing layout (which is checked to be one), or a new index. */
static int load_index(struct img_oci_writer *w, struct cc_error **err)
{
	if (faccessat(w->dirfd, "oci-layout", F_OK, 0) < 0) {
		if (!dir_is_empty(w->dirfd))
			return cc_error_set(
			    err, 0,
			    "oci:%s: exists and is not an OCI layout (no oci-layout "
			    "file)",
			    w->path);
		w->index = json_pack("{s:i,s:s,s:[]}", "schemaVersion", 2, "mediaType",
				     IMG_MT_OCI_INDEX, "manifests");
		return 0;
	}
	size_t len;
	_cleanup_free_ char *name = xasprintf("oci:%s: index.json", w->path);
	_cleanup_free_ char *buf =
	    cc_read_file_at(w->dirfd, "index.json", IMG_MANIFEST_MAX, &len, err);
	if (!buf)
		return cc_error_prefix(err, "oci:%s", w->path);
	w->index = cc_json_load_buf(name, buf, len, err);
	if (!w->index)
		return -1;
	if (!json_is_object(w->index) || !json_is_array(json_object_get(w->index, "manifests")))
		return cc_error_set(err, 0, "%s: not an image index (no \"manifests\" array)",
				    name);
	return 0;
}

static int make_staging(struct img_oci_writer *w, struct cc_error **err)
{
	_cleanup_free_ char *tmpl = xasprintf("%s/.rune-image-staging-XXXXXX", w->path);
	if (!mkdtemp(tmpl))
		return cc_error_errno(err, "oci:%s: staging directory", w->path);
	w->staging = xstrdup(strrchr(tmpl, '/') + 1);
	w->stagefd = openat(w->dirfd, w->staging, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (w->stagefd < 0)
		return cc_error_errno(err, "oci:%s: staging directory", w->path);
	return 0;
}

struct img_oci_writer *img_oci_writer_begin(const char *path, struct cc_error **err)
{
	struct img_oci_writer *w = xzalloc(sizeof(*w));
	w->path = xstrdup(path);
	w->dirfd = w->stagefd = -1;
	struct stat st;
	if (stat(path, &st) < 0) {
		if (errno != ENOENT) {
			cc_error_errno(err, "oci:%s", path);
			goto fail;
		}
		if (cc_mkdir_p(path, 0755, err) < 0)
			goto fail;
		w->created = true;
	}
	w->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (w->dirfd < 0) {
		cc_error_errno(err, "oci:%s", path);
		goto fail;
	}
	if (load_index(w, err) < 0 || make_staging(w, err) < 0)
		goto fail;
	return w;
fail:
	img_oci_writer_abort(w);
	return NULL;
}

static char *sha256_hex(EVP_MD_CTX *md)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned n = 0;
	if (EVP_DigestFinal_ex(md, d, &n) != 1 || n != 32)
		abort();
	char *s = xmalloc(7 + 64 + 1);
	memcpy(s, "sha256:", 7);
	cc_hex_encode(d, n, s + 7);
	return s;
}

/* Copy s into fd, hashing; 0 or -1 (the stream's own error, or the write's). */
static int copy_hashed(struct img_oci_writer *w, struct img_stream *s, int fd, EVP_MD_CTX *md,
		       int64_t *size, struct cc_error **err)
{
	_cleanup_free_ unsigned char *buf = xmalloc(COPY_BUF);
	ssize_t n;
	*size = 0;
	while ((n = img_stream_read(s, buf, COPY_BUF)) > 0) {
		if (cc_write_all(fd, buf, (size_t)n) < 0)
			return cc_error_errno(err, "oci:%s: writing a blob", w->path);
		if (EVP_DigestUpdate(md, buf, (size_t)n) != 1)
			return cc_error_set(err, 0, "oci:%s: digest computation failed", w->path);
		*size += n;
	}
	if (n < 0) {
		const struct cc_error *e = img_stream_error(s);
		cc_error_set(err, 0, "%s", e ? e->msg : "read error");
		if (e && *err)
			(*err)->code = e->code;
		return -1;
	}
	if (fsync(fd) < 0)
		return cc_error_errno(err, "oci:%s: writing a blob", w->path);
	return 0;
}

int img_oci_writer_put_stream(struct img_oci_writer *w, struct img_stream *s, char **digest,
			      int64_t *size, struct cc_error **err)
{
	_cleanup_free_ char *file = xasprintf("%u", w->counter++);
	_cleanup_close_ int fd =
	    openat(w->stagefd, file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return cc_error_errno(err, "oci:%s: staging a blob", w->path);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
		abort();
	if (copy_hashed(w, s, fd, md, size, err) < 0) {
		EVP_MD_CTX_free(md);
		unlinkat(w->stagefd, file, 0);
		return -1;
	}
	char *d = sha256_hex(md);
	EVP_MD_CTX_free(md);
	w->blobs = xreallocarray(w->blobs, w->n_blobs + 1, sizeof(*w->blobs));
	w->blobs[w->n_blobs++] = (struct staged){ steal_pointer(&file), xstrdup(d) };
	*digest = d;
	return 0;
}

int img_oci_writer_put_blob(struct img_oci_writer *w, const void *buf, size_t len, char **digest,
			    struct cc_error **err)
{
	struct img_stream *s = img_stream_mem(buf, len);
	int64_t size;
	int r = img_oci_writer_put_stream(w, s, digest, &size, err);
	img_stream_free(s);
	return r;
}

/* Staged blobs into blobs/<alg>/<hex> (one already there is the same content: kept). */
static int publish_blobs(struct img_oci_writer *w, struct cc_error **err)
{
	for (size_t i = 0; i < w->n_blobs; i++) {
		_cleanup_free_ char *rel = blob_path(w->blobs[i].digest);
		_cleanup_free_ char *dir = xstrndup(rel, strrchr(rel, '/') - rel);
		if ((mkdirat(w->dirfd, "blobs", 0755) < 0 && errno != EEXIST) ||
		    (mkdirat(w->dirfd, dir, 0755) < 0 && errno != EEXIST))
			return cc_error_errno(err, "oci:%s: mkdir %s", w->path, dir);
		if (faccessat(w->dirfd, rel, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
			continue;
		if (renameat(w->stagefd, w->blobs[i].file, w->dirfd, rel) < 0)
			return cc_error_errno(err, "oci:%s: rename into %s", w->path, rel);
	}
	return 0;
}

/* index.json with desc tagged tag in place of the tag's previous entry, replaced atomically;
 * oci-layout first when the layout is new. */
static int write_index(struct img_oci_writer *w, const json_t *desc, const char *tag,
		       struct cc_error **err)
{
	json_t *list = json_object_get(w->index, "manifests"), *e;
	size_t i;
	json_t *kept = json_array();
	json_array_foreach (list, i, e) {
		const char *name = json_string_value(
		    json_object_get(json_object_get(e, "annotations"), IMG_OCI_REF_NAME));
		if (!name || strcmp(name, tag) != 0)
			json_array_append(kept, e);
	}
	json_t *entry = json_deep_copy(desc);
	json_t *ann = json_object_get(entry, "annotations");
	if (!json_is_object(ann)) {
		ann = json_object();
		json_object_set_new(entry, "annotations", ann);
	}
	json_object_set_new(ann, IMG_OCI_REF_NAME, json_string(tag));
	json_array_append_new(kept, entry);
	json_object_set_new(w->index, "manifests", kept);
	if (faccessat(w->dirfd, "oci-layout", F_OK, 0) < 0 &&
	    cc_write_file_at(w->dirfd, "oci-layout", LAYOUT_FILE, strlen(LAYOUT_FILE), 0644, err) <
		0)
		return cc_error_prefix(err, "oci:%s", w->path);
	_cleanup_free_ char *text = json_dumps(w->index, JSON_COMPACT);
	_cleanup_free_ char *path = cc_path_join(w->path, "index.json");
	return cc_write_file_atomic(path, text, strlen(text), 0644, err);
}

int img_oci_writer_commit(struct img_oci_writer *w, const json_t *desc, const char *tag,
			  struct cc_error **err)
{
	if (publish_blobs(w, err) < 0 || write_index(w, desc, tag, err) < 0) {
		img_oci_writer_abort(w);
		return -1;
	}
	w->created = false; /* it is a layout now: abort only removes the staging */
	img_oci_writer_abort(w);
	return 0;
}
