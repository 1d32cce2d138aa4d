// SPDX-License-Identifier: Apache-2.0
/* Pulling an image into the store. See pull.h. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "crypt/crypt.h"
#include "image/error.h"
#include "image/layer.h"
#include "image/pull.h"
#include "image/reference.h"
#include "image/stream-internal.h"
#include "util/cleanup.h"
#include "util/json.h"

struct puller {
	struct img_store *store;
	struct img_registry *reg;
	const struct img_pull_opts *o;
	const struct img_document *manifest;
	const struct img_config *config;
	pthread_mutex_t lock;
	size_t next;		/* next layer to take */
	struct cc_error *error; /* first failure; the others stop taking layers */
};

/* ---- progress: a counting stage between the registry and the checks ---- */

struct count_stream {
	struct img_stream s;
	struct puller *p;
	size_t layer;
};

static void progress(struct puller *p, size_t layer, enum img_progress_event ev, int64_t bytes)
{
	if (!p->o->progress)
		return;
	pthread_mutex_lock(&p->lock);
	p->o->progress(p->o->progress_ctx, layer, &p->manifest->layers[layer], ev, bytes);
	pthread_mutex_unlock(&p->lock);
}

static ssize_t count_read(struct img_stream *s, void *buf, size_t len)
{
	struct count_stream *c = (struct count_stream *)s;
	ssize_t n = img_stream_read(s->in, buf, len);
	if (n > 0)
		progress(c->p, c->layer, IMG_PROGRESS_BYTES, n);
	return n;
}

static struct img_stream *count_stream(struct img_stream *in, struct puller *p, size_t layer)
{
	struct count_stream *c = xzalloc(sizeof(*c));
	c->s.read = count_read;
	c->s.in = in;
	c->p = p;
	c->layer = layer;
	return &c->s;
}

/* ---- cancellation ---- */

static bool pull_cancelled(const struct img_pull_opts *o)
{
	return o->cancelled && o->cancelled(o->cancel_ctx);
}

static int cancel_error(struct cc_error **err)
{
	cc_error_set(err, 0, "cancelled");
	return img_error_code(err, IMG_ERR_CANCELLED);
}

/* ---- layers, concurrently ---- */

static bool take(struct puller *p, size_t *i)
{
	pthread_mutex_lock(&p->lock);
	bool ok = !p->error && p->next < p->manifest->n_layers;
	if (ok)
		*i = p->next++;
	pthread_mutex_unlock(&p->lock);
	return ok;
}

/* A cached layer of an encrypted image is only for a pull that could decrypt it (as containerd's
 * imgcrypt checks): having been pulled once with the key must not open it to pulls without. */
static int check_key(const struct img_descriptor *d, const struct crypt_keys *keys,
		     struct cc_error **err)
{
	struct crypt_layer *l = NULL;
	int r = img_layer_decryptor(d, keys, &l, err);
	crypt_layer_free(l);
	return r < 0 ? -1 : 1;
}

/* 1 when the layer was in the store already, 0 once fetched and committed, -1 on error. */
static int pull_layer(struct puller *p, size_t i, struct cc_error **err)
{
	const struct img_descriptor *d = &p->manifest->layers[i];
	const char *diff_id = p->config->diff_ids[i];
	if (pull_cancelled(p->o))
		return cancel_error(err);
	/* Another pull may be unpacking this layer: wait for it where giving up is possible
	 * (the store's own wait cannot be interrupted). */
	if (p->o->cancelled && !img_store_has_layer(p->store, diff_id) &&
	    img_store_layer_wait(p->store, diff_id, p->o->cancelled, p->o->cancel_ctx, err) < 0)
		return -1;
	if (img_store_has_layer(p->store, diff_id))
		return d->encrypted ? check_key(d, p->o->keys, err) : 1;
	progress(p, i, IMG_PROGRESS_START, d->size);
	struct img_stream *src =
	    count_stream(img_registry_blob_stream(p->reg, d->digest, d->size), p, i);
	return img_layer_apply(p->store, d, diff_id, src, p->o->keys, p->o->rootless, err);
}

static void *worker(void *arg)
{
	struct puller *p = arg;
	size_t i;
	while (take(p, &i)) {
		const struct img_descriptor *d = &p->manifest->layers[i];
		struct cc_error *err = NULL;
		int r = pull_layer(p, i, &err);
		if (r < 0) {
			pthread_mutex_lock(&p->lock);
			if (!p->error)
				p->error = err;
			else
				cc_error_free(&err);
			pthread_mutex_unlock(&p->lock);
			break;
		}
		progress(p, i, r == 1 ? IMG_PROGRESS_CACHED : IMG_PROGRESS_DONE, d->size);
	}
	return NULL;
}

static int pull_layers(struct puller *p, struct cc_error **err)
{
	unsigned jobs = p->o->jobs ? p->o->jobs : 3;
	if (jobs > p->manifest->n_layers)
		jobs = (unsigned)p->manifest->n_layers;
	pthread_t *t = xcalloc(jobs ? jobs : 1, sizeof(*t));
	unsigned started = 0;
	for (; started < jobs; started++)
		if (pthread_create(&t[started], NULL, worker, p) != 0)
			break;
	if (!started && jobs)
		worker(p); /* no threads to be had: do it here */
	for (unsigned i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	free(t);
	if (p->error) {
		*err = p->error;
		p->error = NULL;
		return -1;
	}
	return 0;
}

/* ---- documents ---- */

/* Keep a document in the store, when there is one. */
static int keep(struct img_store *store, const char *digest, const char *body, size_t len,
		struct cc_error **err)
{
	if (store && img_store_put_blob(store, digest, body, len, err) < 0) {
		img_error_code(err, IMG_ERR_IO);
		return -1;
	}
	return 0;
}

/* The platform's manifest under the index index_digest. An index there is refused, as skopeo
 * refuses it, whatever the entry's media type said (img_index_select). */
static struct img_document *child_manifest(struct img_registry *reg, struct img_store *store,
					   const struct img_descriptor *m, const char *name,
					   const char *index_digest, char **manifest_digest,
					   struct cc_error **err)
{
	_cleanup_free_ char *body = NULL, *ct = NULL, *digest = NULL;
	size_t len;
	if (img_registry_get_manifest(reg, m->digest, &body, &len, &ct, &digest, err) < 0)
		return NULL;
	_cleanup_free_ char *mname = xasprintf("%s@%s", name, m->digest);
	struct img_document *doc =
	    img_document_parse(mname, body, len, ct ? ct : m->media_type, err);
	if (!doc || doc->kind != IMG_DOC_MANIFEST) {
		if (doc)
			cc_error_set(err, 0,
				     "index %s: entry %s is itself an index (nested indexes are "
				     "not supported)",
				     index_digest, m->digest);
		img_error_code(err, IMG_ERR_INVALID);
		img_document_free(doc);
		return NULL;
	}
	if (keep(store, digest, body, len, err) < 0) {
		img_document_free(doc);
		return NULL;
	}
	*manifest_digest = steal_pointer(&digest);
	return doc;
}

struct img_document *img_resolve_manifest(struct img_registry *reg, struct img_store *store,
					  const struct img_ref *ref, const char *name,
					  const struct img_platform *want,
					  const struct img_pull_gate *gate, char **index_digest,
					  char **manifest_digest, struct cc_error **err)
{
	_cleanup_free_ char *body = NULL, *ct = NULL, *digest = NULL;
	size_t len;
	*index_digest = *manifest_digest = NULL;
	if (img_registry_get_manifest(reg, img_ref_manifest_ref(ref), &body, &len, &ct, &digest,
				      err) < 0)
		return NULL;
	if (gate && gate->check(gate->ctx, reg, ref, digest, body, len, err) < 0)
		return NULL;
	struct img_document *doc = img_document_parse(name, body, len, ct, err);
	if (!doc) {
		img_error_code(err, IMG_ERR_INVALID);
		return NULL;
	}
	if (doc->kind == IMG_DOC_MANIFEST) {
		if (keep(store, digest, body, len, err) < 0) {
			img_document_free(doc);
			return NULL;
		}
		*manifest_digest = steal_pointer(&digest);
		return doc;
	}
	struct img_platform host = { 0 };
	if (!want)
		img_platform_host(&host);
	/* The pull's prefix names the reference; the index is named by its digest. */
	const struct img_descriptor *m = img_index_select(doc, want ? want : &host, digest, err);
	struct img_document *man = NULL;
	if (!m)
		img_error_code(err, IMG_ERR_NOT_FOUND);
	else if (keep(store, digest, body, len, err) == 0)
		man = child_manifest(reg, store, m, name, digest, manifest_digest, err);
	if (man)
		*index_digest = steal_pointer(&digest);
	img_platform_clear(&host);
	img_document_free(doc);
	return man;
}

static struct img_config *fetch_config(struct img_registry *reg, struct img_store *store,
				       const struct img_document *m, const char *name,
				       struct cc_error **err)
{
	size_t len;
	_cleanup_free_ char *body = img_registry_get_blob_sized(
	    reg, m->config.digest, m->config.size, IMG_CONFIG_MAX, &len, err);
	if (!body)
		return NULL;
	_cleanup_free_ char *cname = xasprintf("%s (%s)", name, m->config.digest);
	struct img_config *c = img_config_parse(cname, body, len, err);
	if (!c) {
		img_error_code(err, IMG_ERR_INVALID);
		return NULL;
	}
	if (c->n_diff_ids != m->n_layers) {
		cc_error_set(err, 0, "config %s: %zu diff_ids for %zu layers", cname, c->n_diff_ids,
			     m->n_layers);
		img_error_code(err, IMG_ERR_INVALID);
		img_config_free(c);
		return NULL;
	}
	if (img_store_put_blob(store, m->config.digest, body, len, err) < 0) {
		img_error_code(err, IMG_ERR_IO);
		img_config_free(c);
		return NULL;
	}
	return c;
}

static json_t *make_record(const char *name, const char *index, const char *manifest,
			   const struct img_document *m, const struct img_config *c)
{
	json_t *layers = json_array();
	for (size_t i = 0; i < m->n_layers; i++)
		json_array_append_new(
		    layers, json_pack("{s:s,s:s,s:I,s:s}", "digest", m->layers[i].digest, "diff_id",
				      c->diff_ids[i], "size", (json_int_t)m->layers[i].size,
				      "mediaType", m->layers[i].media_type));
	char created[32];
	time_t now = time(NULL);
	struct tm tm;
	strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
	_cleanup_free_ char *platform = img_platform_string(&c->platform);
	json_t *r =
	    json_pack("{s:s,s:s,s:s,s:s,s:o,s:s}", "ref", name, "manifest", manifest, "config",
		      m->config.digest, "platform", platform, "layers", layers, "pulled", created);
	if (index)
		json_object_set_new(r, "index", json_string(index));
	return r;
}

json_t *img_pull(struct img_store *store, const char *reference, const struct img_pull_opts *o,
		 struct cc_error **err)
{
	struct img_ref ref;
	if (img_ref_parse(reference, &ref, err) < 0) {
		img_error_code(err, IMG_ERR_REFERENCE);
		return NULL;
	}
	_cleanup_free_ char *name = img_ref_string(&ref);
	struct img_platform host = { 0 };
	if (!o->platform)
		img_platform_host(&host);
	const struct img_platform *want = o->platform ? o->platform : &host;
	struct img_registry_opts ro = o->registry;
	if (!ro.cancelled) {
		ro.cancelled = o->cancelled;
		ro.cancel_ctx = o->cancel_ctx;
	}
	struct img_registry *reg = img_registry_open(&ref, &ro, err);
	_cleanup_free_ char *index_digest = NULL, *manifest_digest = NULL;
	struct img_document *m = NULL;
	struct img_config *c = NULL;
	json_t *record = NULL;
	if (reg)
		m = img_resolve_manifest(reg, store, &ref, name, want, o->gate, &index_digest,
					 &manifest_digest, err);
	if (m && pull_cancelled(o))
		cancel_error(err);
	else if (m)
		c = fetch_config(reg, store, m, name, err);
	if (c && pull_cancelled(o)) {
		cancel_error(err);
	} else if (c) {
		struct puller p = {
			.store = store, .reg = reg, .o = o, .manifest = m, .config = c
		};
		pthread_mutex_init(&p.lock, NULL);
		int r = pull_layers(&p, err);
		pthread_mutex_destroy(&p.lock);
		if (r == 0)
			record = make_record(name, index_digest, manifest_digest, m, c);
		if (record && img_store_put_image(store, record, err) < 0) {
			img_error_code(err, IMG_ERR_IO);
			json_decref(record);
			record = NULL;
		}
	}
	if (!record)
		cc_error_prefix(err, "pull %s", name);
	img_config_free(c);
	img_document_free(m);
	img_registry_close(reg);
	img_platform_clear(&host);
	img_ref_clear(&ref);
	return record;
}
