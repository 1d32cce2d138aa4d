// SPDX-License-Identifier: Apache-2.0
/* The image store: blobs, unpacked layers, image records. See store.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "image/error.h"
#include "image/reference.h"
#include "image/store.h"
#include "util/log.h"
#include "image/stream.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/strv.h"
#include "store/store.h"
#include "store/layer.h"

/* Where the encrypted backend keeps its store, under the root. */
#define ENCRYPTED_DIR "encrypted"

struct img_store {
	char *root;
	struct store *enc; /* the encrypted backend: layers in lib/store at <root>/encrypted */
	int lockfd;	   /* locks/store: shared while open, exclusive for cleanup and gc */
	unsigned counter;
};

const char *img_store_root(const struct img_store *s)
{
	return s->root;
}

/* "<root>/<dir>/<alg>/<hex>" for a valid digest, else NULL. */
static char *digest_path(const struct img_store *s, const char *dir, const char *digest)
{
	if (!img_digest_valid(digest))
		return NULL;
	size_t alen = strcspn(digest, ":");
	return xasprintf("%s/%s/%.*s/%s", s->root, dir, (int)alen, digest, digest + alen + 1);
}

static int ensure_parent(const char *path, struct cc_error **err)
{
	_cleanup_free_ char *dir = xstrdup(path);
	*strrchr(dir, '/') = '\0';
	return cc_mkdir_p(dir, 0700, err);
}

static char *staging_path(struct img_store *s, const char *kind)
{
	/* Pullers stage layers from several threads at once. */
	unsigned n = __atomic_fetch_add(&s->counter, 1, __ATOMIC_RELAXED);
	return xasprintf("%s/tmp/%s-%d-%u", s->root, kind, (int)getpid(), n);
}

/* Staging left by a process that died: only safe to remove when nobody else has the store
 * open, which the exclusive lock proves. */
static void clean_tmp(struct img_store *s)
{
	_cleanup_free_ char *tmp = cc_path_join(s->root, "tmp");
	_cleanup_closedir_ DIR *d = opendir(tmp);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		_cleanup_free_ char *p = cc_path_join(tmp, de->d_name);
		struct cc_error *err = NULL;
		if (cc_rm_rf(p, &err) < 0)
			cc_warn("image store: cannot remove leftover %s: %s", p, err->msg);
		cc_error_free(&err);
	}
}

/* Whether the plain layers directory holds any layer. */
static bool has_plain_layers(const char *root)
{
	_cleanup_free_ char *p = cc_path_join(root, "layers");
	_cleanup_closedir_ DIR *d = opendir(p);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		_cleanup_free_ char *alg = cc_path_join(p, de->d_name);
		_cleanup_closedir_ DIR *a = opendir(alg);
		struct dirent *ae;
		while (a && (ae = readdir(a)))
			if (ae->d_name[0] != '.')
				return true;
	}
	return false;
}

static struct img_store *open_store(const char *root, const uint8_t *key, struct cc_error **err);

struct img_store *img_store_open(const char *root, struct cc_error **err)
{
	return open_store(root, NULL, err);
}

struct img_store *img_store_open_encrypted(const char *root, const uint8_t key[STORE_KEY_LEN],
					   struct cc_error **err)
{
	return open_store(root, key, err);
}

bool img_store_encrypted(const struct img_store *s)
{
	return s->enc != NULL;
}

struct store *img_store_backend(struct img_store *s)
{
	return s->enc;
}

static struct img_store *open_store(const char *root, const uint8_t *key, struct cc_error **err)
{
	/* 0700: layers, staging and mounts' writable layers hold images' trees (setuid files,
	 * file capabilities, device nodes) that only the store's owner may reach. */
	static const char *const dirs[] = { "blobs", "layers", "images",
					    "tmp",   "locks",  "containers" };
	if (cc_mkdir_p(root, 0700, err) < 0)
		return NULL;
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		_cleanup_free_ char *p = cc_path_join(root, dirs[i]);
		if (mkdir(p, 0700) < 0 && errno != EEXIST) {
			cc_error_errno(err, "image store: mkdir %s", p);
			return NULL;
		}
	}
	struct img_store *s = xzalloc(sizeof(*s));
	s->root = xstrdup(root);
	_cleanup_free_ char *lock = cc_path_join(root, "locks/store");
	s->lockfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (s->lockfd < 0) {
		cc_error_errno(err, "image store: open %s", lock);
		img_store_close(s);
		return NULL;
	}
	if (flock(s->lockfd, LOCK_EX | LOCK_NB) == 0)
		clean_tmp(s);
	if (flock(s->lockfd, LOCK_SH) < 0) {
		cc_error_errno(err, "image store: lock %s", lock);
		img_store_close(s);
		return NULL;
	}
	/* One root holds one kind of layers: a plain reader must not miss encrypted layers, an
	 * encrypted store must not mix in plaintext ones. */
	_cleanup_free_ char *enc = cc_path_join(root, ENCRYPTED_DIR);
	_cleanup_free_ char *index = cc_path_join(enc, "index");
	if (!key && access(index, F_OK) == 0) {
		cc_error_set(err, 0,
			     "image store %s: its layers are in an encrypted store; its key is "
			     "needed",
			     root);
		img_store_close(s);
		return NULL;
	}
	if (key && has_plain_layers(root)) {
		cc_error_set(err, 0,
			     "image store %s: holds plain layers; an encrypted store needs a root "
			     "of its own",
			     root);
		img_store_close(s);
		return NULL;
	}
	if (key && store_open(enc, key, true, &s->enc, err) < 0) {
		img_store_close(s);
		return NULL;
	}
	return s;
}

void img_store_close(struct img_store *s)
{
	if (!s)
		return;
	store_close(s->enc);
	if (s->lockfd >= 0)
		close(s->lockfd);
	free(s->root);
	free(s);
}

/* ---- blobs ---- */

static int verify_buf(const char *what, const char *digest, const void *buf, size_t len,
		      struct cc_error **err)
{
	struct img_stream *v =
	    img_stream_verify(img_stream_mem(buf, len), what, digest, (int64_t)len);
	int ret = img_stream_drain(v);
	if (ret < 0)
		cc_error_set(err, 0, "%s", img_stream_error(v)->msg);
	img_stream_free(v);
	return ret;
}

int img_store_put_blob(struct img_store *s, const char *digest, const void *buf, size_t len,
		       struct cc_error **err)
{
	_cleanup_free_ char *path = digest_path(s, "blobs", digest);
	if (!path)
		return cc_error_set(err, 0, "image store: invalid digest \"%s\"", digest);
	_cleanup_free_ char *what = xasprintf("blob %s", digest);
	if (verify_buf(what, digest, buf, len, err) < 0)
		return -1;
	if (access(path, F_OK) == 0)
		return 0;
	_cleanup_free_ char *tmp = staging_path(s, "blob");
	_cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return cc_error_errno(err, "image store: create %s", tmp);
	if (cc_write_all(fd, buf, len) < 0 || fsync(fd) < 0) {
		cc_error_errno(err, "image store: write %s", what);
		unlink(tmp);
		return -1;
	}
	if (ensure_parent(path, err) < 0 || rename(tmp, path) < 0) {
		if (!*err)
			cc_error_errno(err, "image store: commit %s", what);
		unlink(tmp);
		return -1;
	}
	return 0;
}

bool img_store_has_blob(struct img_store *s, const char *digest)
{
	_cleanup_free_ char *path = digest_path(s, "blobs", digest);
	return path && access(path, F_OK) == 0;
}

char *img_store_get_blob(struct img_store *s, const char *digest, size_t max, size_t *len,
			 struct cc_error **err)
{
	_cleanup_free_ char *path = digest_path(s, "blobs", digest);
	if (!path) {
		cc_error_set(err, 0, "image store: invalid digest \"%s\"", digest);
		return NULL;
	}
	_cleanup_free_ char *what = xasprintf("stored blob %s", digest);
	size_t n = 0;
	char *buf = cc_read_file(path, max, &n, err);
	if (!buf) {
		cc_error_prefix(err, "image store: %s", what);
		return NULL;
	}
	if (verify_buf(what, digest, buf, n, err) < 0) {
		free(buf);
		return NULL;
	}
	*len = n;
	return buf;
}

/* ---- layers ---- */

static bool layer_present(struct img_store *s, const char *diff_id, const char *path);

bool img_store_has_layer(struct img_store *s, const char *diff_id)
{
	_cleanup_free_ char *path = digest_path(s, "layers", diff_id);
	return path && layer_present(s, diff_id, path);
}

char *img_store_layer_path(struct img_store *s, const char *diff_id)
{
	return s->enc ? NULL : digest_path(s, "layers", diff_id);
}

static void txn_clear(struct img_layer_txn *txn)
{
	store_layer_abort(txn->writer);
	if (txn->dirfd >= 0)
		close(txn->dirfd);
	if (txn->lockfd >= 0)
		close(txn->lockfd); /* releases the flock */
	free(txn->diff_id);
	free(txn->staging);
	*txn = (struct img_layer_txn){ .dirfd = -1, .lockfd = -1 };
}

/* Whether the layer is committed (in the index of an encrypted store, a directory in a plain
 * one at path). */
static bool layer_present(struct img_store *s, const char *diff_id, const char *path)
{
	return s->enc ? store_has_layer(s->enc, diff_id) : access(path, F_OK) == 0;
}

static char *layer_lock_path(struct img_store *s, const char *diff_id)
{
	return xasprintf("%s/locks/layer-%.*s-%s", s->root, (int)strcspn(diff_id, ":"), diff_id,
			 strchr(diff_id, ':') + 1);
}

int img_store_layer_wait(struct img_store *s, const char *diff_id, bool (*cancelled)(void *ctx),
			 void *ctx, struct cc_error **err)
{
	if (!img_digest_valid(diff_id))
		return cc_error_set(err, 0, "image store: invalid layer diff_id \"%s\"", diff_id);
	_cleanup_free_ char *lock = layer_lock_path(s, diff_id);
	_cleanup_close_ int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		cc_error_errno(err, "image store: open %s", lock);
		return img_error_code(err, IMG_ERR_IO);
	}
	/* Taking the lock proves nobody holds it; it is dropped again at once (close). */
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK && errno != EINTR) {
			cc_error_errno(err, "image store: lock %s", lock);
			return img_error_code(err, IMG_ERR_IO);
		}
		if (cancelled && cancelled(ctx)) {
			cc_error_set(err, 0, "layer %s: cancelled while another pull unpacks it",
				     diff_id);
			return img_error_code(err, IMG_ERR_CANCELLED);
		}
		struct timespec ts = { 0, 20 * 1000000L };
		nanosleep(&ts, NULL);
	}
	return 0;
}

int img_store_layer_begin(struct img_store *s, const char *diff_id, struct img_layer_txn *txn,
			  struct cc_error **err)
{
	*txn = (struct img_layer_txn){ .store = s, .dirfd = -1, .lockfd = -1 };
	_cleanup_free_ char *path = digest_path(s, "layers", diff_id);
	if (!path)
		return cc_error_set(err, 0, "image store: invalid layer diff_id \"%s\"", diff_id);
	if (layer_present(s, diff_id, path))
		return 1;
	_cleanup_free_ char *lock = layer_lock_path(s, diff_id);
	txn->lockfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (txn->lockfd < 0)
		return cc_error_errno(err, "image store: open %s", lock);
	/* Another pull of the same layer holds it until it has committed or aborted. */
	while (flock(txn->lockfd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			cc_error_errno(err, "image store: lock %s", lock);
			txn_clear(txn);
			return -1;
		}
	}
	if (layer_present(s, diff_id, path)) {
		txn_clear(txn);
		return 1;
	}
	txn->diff_id = xstrdup(diff_id);
	if (s->enc) {
		/* The layer goes straight into the encrypted store: no staging directory. */
		if (store_layer_begin(s->enc, diff_id, &txn->writer, err) < 0) {
			txn_clear(txn);
			return -1;
		}
		return 0;
	}
	txn->staging = staging_path(s, "layer");
	if (mkdir(txn->staging, 0700) < 0) {
		cc_error_errno(err, "image store: mkdir %s", txn->staging);
		txn_clear(txn);
		return -1;
	}
	txn->dirfd = open(txn->staging, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (txn->dirfd < 0) {
		cc_error_errno(err, "image store: open %s", txn->staging);
		img_store_layer_abort(txn);
		return -1;
	}
	return 0;
}

int img_store_layer_commit(struct img_layer_txn *txn, struct cc_error **err)
{
	if (txn->writer) {
		struct store_layer_writer *w = txn->writer;
		txn->writer = NULL; /* commit frees it, on failure too */
		int r = store_layer_commit(w, err);
		txn_clear(txn);
		return r;
	}
	_cleanup_free_ char *path = digest_path(txn->store, "layers", txn->diff_id);
	if (syncfs(txn->dirfd) < 0 || ensure_parent(path, err) < 0 ||
	    rename(txn->staging, path) < 0) {
		if (!*err)
			cc_error_errno(err, "image store: commit layer %s", txn->diff_id);
		img_store_layer_abort(txn);
		return -1;
	}
	txn_clear(txn);
	return 0;
}

void img_store_layer_abort(struct img_layer_txn *txn)
{
	if (txn->staging) {
		struct cc_error *err = NULL;
		if (cc_rm_rf(txn->staging, &err) < 0)
			cc_warn("image store: cannot remove staging %s: %s", txn->staging,
				err->msg);
		cc_error_free(&err);
	}
	txn_clear(txn);
}

/* ---- image records ---- */

static char *record_path(struct img_store *s, const char *ref)
{
	_cleanup_free_ char *d = img_digest_buf(ref, strlen(ref));
	return xasprintf("%s/images/%s.json", s->root, d + strlen("sha256:"));
}

static int check_record(const json_t *r, struct cc_error **err)
{
	const json_t *layers = json_object_get(r, "layers"), *l;
	size_t i;
	if (!json_is_string(json_object_get(r, "ref")) ||
	    !img_digest_valid(json_string_value(json_object_get(r, "manifest"))) ||
	    !img_digest_valid(json_string_value(json_object_get(r, "config"))) ||
	    !json_is_array(layers))
		return cc_error_set(err, 0, "image store: malformed image record");
	json_array_foreach (layers, i, l)
		if (!img_digest_valid(json_string_value(json_object_get(l, "diff_id"))))
			return cc_error_set(err, 0, "image store: layer %zu has no valid diff_id",
					    i);
	return 0;
}

int img_store_put_image(struct img_store *s, json_t *record, struct cc_error **err)
{
	if (check_record(record, err) < 0)
		return -1;
	_cleanup_free_ char *path =
	    record_path(s, json_string_value(json_object_get(record, "ref")));
	_cleanup_free_ char *text = json_dumps(record, JSON_INDENT(1) | JSON_SORT_KEYS);
	return cc_write_file_atomic(path, text, strlen(text), 0600, err);
}

json_t *img_store_get_image(struct img_store *s, const char *ref, struct cc_error **err)
{
	_cleanup_free_ char *path = record_path(s, ref);
	if (access(path, F_OK) != 0) {
		cc_error_set(err, 0, "image %s: not in the store", ref);
		return NULL;
	}
	json_t *j = cc_json_load_file(path, err);
	if (j && check_record(j, err) < 0) {
		json_decref(j);
		return NULL;
	}
	return j;
}

static int cmp_ref(const void *a, const void *b)
{
	const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	return strcmp(json_string_value(json_object_get(x, "ref")),
		      json_string_value(json_object_get(y, "ref")));
}

/* The records; a record that cannot be read or is malformed is skipped, or with `strict`
 * fails the listing, naming it. */
static json_t *list_records(struct img_store *s, bool strict, struct cc_error **err)
{
	_cleanup_free_ char *dir = cc_path_join(s->root, "images");
	_cleanup_closedir_ DIR *d = opendir(dir);
	if (!d) {
		cc_error_errno(err, "image store: open %s", dir);
		return NULL;
	}
	json_t **v = NULL;
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		if (len < 6 || strcmp(de->d_name + len - 5, ".json") != 0)
			continue;
		_cleanup_free_ char *p = cc_path_join(dir, de->d_name);
		struct cc_error *e = NULL;
		json_t *j = cc_json_load_file(p, &e);
		if (!j || check_record(j, &e) < 0) {
			json_decref(j);
			/* Records are replaced by rename: a damaged one is not a passing state. */
			if (strict) {
				/* The reason, without the path when it starts with it. */
				const char *why = e->msg;
				size_t plen = strlen(p);
				if (!strncmp(why, p, plen) && !strncmp(why + plen, ": ", 2))
					why += plen + 2;
				if (!strncmp(why, "image store: ", 13))
					why += 13;
				cc_error_set(err, 0,
					     "image store: image record %s: %s: garbage collection "
					     "refused (what the record uses is unknown); repair or "
					     "remove the record",
					     p, why);
				if (err && *err)
					(*err)->errnum = e->errnum;
				cc_error_free(&e);
				for (size_t i = 0; i < n; i++)
					json_decref(v[i]);
				free(v);
				return NULL;
			}
			cc_error_free(&e);
			continue; /* damaged: not listed */
		}
		v = xreallocarray(v, n + 1, sizeof(*v));
		v[n++] = j;
	}
	if (n)
		qsort(v, n, sizeof(*v), cmp_ref);
	json_t *list = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(list, v[i]);
	free(v);
	return list;
}

json_t *img_store_list_images(struct img_store *s, struct cc_error **err)
{
	return list_records(s, false, err);
}

int img_store_remove_image(struct img_store *s, const char *ref, struct cc_error **err)
{
	_cleanup_free_ char *path = record_path(s, ref);
	if (unlink(path) < 0)
		return errno == ENOENT ? cc_error_set(err, 0, "image %s: not in the store", ref)
				       : cc_error_errno(err, "image store: remove %s", path);
	return 0;
}

/* ---- garbage collection ---- */

static void add_ref(char ***refs, const json_t *v)
{
	const char *s = json_string_value(v);
	if (s && img_digest_valid(s) && !cc_strv_contains(*refs, s))
		cc_strv_push(refs, s);
}

/* Remove entries of <root>/<dir>/<alg>/ whose digest nobody references. */
static int sweep(struct img_store *s, const char *dir, char **refs, size_t *removed,
		 struct cc_error **err)
{
	_cleanup_free_ char *top = cc_path_join(s->root, dir);
	_cleanup_closedir_ DIR *d = opendir(top);
	struct dirent *alg;
	while (d && (alg = readdir(d))) {
		if (alg->d_name[0] == '.')
			continue;
		_cleanup_free_ char *adir = cc_path_join(top, alg->d_name);
		_cleanup_closedir_ DIR *ad = opendir(adir);
		struct dirent *e;
		while (ad && (e = readdir(ad))) {
			if (e->d_name[0] == '.')
				continue;
			_cleanup_free_ char *digest = xasprintf("%s:%s", alg->d_name, e->d_name);
			if (cc_strv_contains(refs, digest))
				continue;
			/* Out of sight first (atomic), then removed. */
			_cleanup_free_ char *p = cc_path_join(adir, e->d_name);
			_cleanup_free_ char *t = staging_path(s, "gc");
			if (rename(p, t) < 0)
				return cc_error_errno(err, "image store: remove %s", p);
			if (cc_rm_rf(t, err) < 0)
				return -1;
			(*removed)++;
		}
	}
	return 0;
}

/* The encrypted backend: layers no record uses leave the index (not the writable layers of
 * views, "upper:NAME"), then the store drops every object the index does not reach. */
static int sweep_encrypted(struct img_store *s, char **refs, size_t *removed, struct cc_error **err)
{
	_cleanup_strv_ char **ids = store_layer_ids(s->enc, NULL, err);
	if (!ids)
		return -1;
	for (size_t i = 0; ids[i]; i++) {
		if (strncmp(ids[i], IMG_STORE_UPPER_PREFIX, strlen(IMG_STORE_UPPER_PREFIX)) == 0 ||
		    cc_strv_contains(refs, ids[i]))
			continue;
		if (store_remove_layer(s->enc, ids[i], err) < 0)
			return -1;
		(*removed)++;
	}
	return store_gc(s->enc, NULL, err);
}

int img_store_gc(struct img_store *s, size_t *layers_removed, size_t *blobs_removed,
		 struct cc_error **err)
{
	return img_store_gc_keep(s, NULL, layers_removed, blobs_removed, err);
}

int img_store_gc_keep(struct img_store *s, char *const *keep, size_t *layers_removed,
		      size_t *blobs_removed, struct cc_error **err)
{
	*layers_removed = *blobs_removed = 0;
	if (flock(s->lockfd, LOCK_EX | LOCK_NB) < 0) {
		return errno == EWOULDBLOCK
			   ? cc_error_set(err, 0,
					  "image store: in use by another process; garbage "
					  "collection needs it alone")
			   : cc_error_errno(err, "image store: lock");
	}
	/* What an unreadable record uses cannot be known: nothing is swept until it is
	 * repaired or removed. */
	_cleanup_json_ json_t *images = list_records(s, true, err);
	_cleanup_strv_ char **refs = NULL;
	int ret = images ? 0 : -1;
	size_t i, k;
	json_t *img, *l;
	json_array_foreach (images, i, img) {
		add_ref(&refs, json_object_get(img, "manifest"));
		add_ref(&refs, json_object_get(img, "config"));
		add_ref(&refs, json_object_get(img, "index"));
		json_array_foreach (json_object_get(img, "layers"), k, l) {
			add_ref(&refs, json_object_get(l, "diff_id"));
			add_ref(&refs, json_object_get(l, "digest"));
		}
	}
	for (char *const *kept = keep; kept && *kept; kept++)
		cc_strv_push(&refs, *kept);
	if (ret == 0)
		ret = s->enc ? sweep_encrypted(s, refs, layers_removed, err)
			     : sweep(s, "layers", refs, layers_removed, err);
	if (ret == 0)
		ret = sweep(s, "blobs", refs, blobs_removed, err);
	flock(s->lockfd, LOCK_SH);
	return ret;
}
