// SPDX-License-Identifier: Apache-2.0
/* OCI / Docker manifests, indexes and image configs. See manifest.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include "image/error.h"
#include "image/manifest.h"
#include "image/reference.h"
#include "util/cleanup.h"
#include "util/json.h"
#include "util/strv.h"

/* A layer may be large, but not absurdly so: bounds what a registry can make us download. */
#define IMG_BLOB_MAX (INT64_C(1) << 36) /* 64 GiB */

/* ---- platforms ---- */

void img_platform_clear(struct img_platform *p)
{
	free(p->os);
	free(p->architecture);
	free(p->variant);
	free(p->os_version);
	*p = (struct img_platform){ 0 };
}

void img_platform_host(struct img_platform *p)
{
	static const struct {
		const char *machine, *arch, *variant;
	} map[] = {
		{ "x86_64", "amd64", NULL },	{ "aarch64", "arm64", "v8" },
		{ "armv7l", "arm", "v7" },	{ "armv6l", "arm", "v6" },
		{ "i686", "386", NULL },	{ "i386", "386", NULL },
		{ "ppc64le", "ppc64le", NULL }, { "s390x", "s390x", NULL },
		{ "riscv64", "riscv64", NULL },
	};
	struct utsname u;
	*p = (struct img_platform){ .os = xstrdup("linux") };
	if (uname(&u) == 0)
		for (size_t i = 0; i < ARRAY_SIZE(map); i++)
			if (!strcmp(u.machine, map[i].machine)) {
				p->architecture = xstrdup(map[i].arch);
				p->variant = map[i].variant ? xstrdup(map[i].variant) : NULL;
				return;
			}
	p->architecture = xstrdup(uname(&u) == 0 ? u.machine : "unknown");
}

char *img_platform_string(const struct img_platform *p)
{
	return xasprintf("%s/%s%s%s", p->os ? p->os : "?", p->architecture ? p->architecture : "?",
			 p->variant ? "/" : "", p->variant ? p->variant : "");
}

int img_platform_parse(const char *text, struct img_platform *p, struct cc_error **err)
{
	_cleanup_strv_ char **parts = NULL;
	size_t n = 0;
	for (const char *s = text;;) {
		size_t len = strcspn(s, "/");
		if (!len || len > 64)
			return cc_error_set(
			    err, 0, "invalid platform \"%s\": want os/arch[/variant]", text);
		_cleanup_free_ char *part = xstrndup(s, len);
		cc_strv_push(&parts, part);
		n++;
		if (!s[len])
			break;
		s += len + 1;
	}
	if (n < 2 || n > 3)
		return cc_error_set(err, 0, "invalid platform \"%s\": want os/arch[/variant]",
				    text);
	*p = (struct img_platform){ .os = xstrdup(parts[0]),
				    .architecture = xstrdup(parts[1]),
				    .variant = n == 3 ? xstrdup(parts[2]) : NULL };
	return 0;
}

/* containerd's normalisation: arm64's default variant is v8, arm's is v7. */
static const char *norm_variant(const struct img_platform *p)
{
	if (p->variant && *p->variant)
		return p->variant;
	if (p->architecture && !strcmp(p->architecture, "arm64"))
		return "v8";
	if (p->architecture && !strcmp(p->architecture, "arm"))
		return "v7";
	return "";
}

bool img_platform_match(const struct img_platform *have, const struct img_platform *want)
{
	if (!have->os || !want->os || strcmp(have->os, want->os) != 0 || !have->architecture ||
	    !want->architecture || strcmp(have->architecture, want->architecture) != 0)
		return false;
	if (!have->variant || !*have->variant)
		return true;
	return !strcmp(norm_variant(have), norm_variant(want));
}

static int parse_platform(const struct cc_json_reader *c, const json_t *o, const char *path,
			  struct img_platform *p)
{
	int ret;
	const json_t *v = cc_json_member(c, o, path, "platform", JSON_OBJECT, true, &ret);
	_cleanup_free_ char *pp = cc_json_key_path(path, "platform");
	if (!v || cc_json_str(c, v, pp, "os", true, &p->os) < 0 ||
	    cc_json_str(c, v, pp, "architecture", true, &p->architecture) < 0 ||
	    cc_json_str(c, v, pp, "variant", false, &p->variant) < 0 ||
	    cc_json_str(c, v, pp, "os.version", false, &p->os_version) < 0)
		return -1;
	return 0;
}

/* ---- descriptors ---- */

static void descriptor_clear(struct img_descriptor *d)
{
	free(d->media_type);
	free(d->digest);
	img_platform_clear(&d->platform);
}

static int parse_descriptor(const struct cc_json_reader *c, const json_t *o, const char *path,
			    struct img_descriptor *d)
{
	bool has_size = false;
	if (cc_json_expect(c, o, path, JSON_OBJECT) < 0 ||
	    cc_json_str(c, o, path, "mediaType", true, &d->media_type) < 0 ||
	    cc_json_str(c, o, path, "digest", true, &d->digest) < 0)
		return -1;
	if (!img_digest_valid(d->digest)) {
		_cleanup_free_ char *dp = cc_json_key_path(path, "digest");
		return cc_json_fail(c, dp, "invalid digest \"%s\"", d->digest);
	}
	if (cc_json_int(c, o, path, "size", 0, IMG_BLOB_MAX, &d->size, &has_size) < 0)
		return -1;
	if (!has_size) {
		_cleanup_free_ char *sp = cc_json_key_path(path, "size");
		return cc_json_fail(c, sp, "required");
	}
	if (cc_json_has(o, "platform")) {
		d->has_platform = true;
		if (parse_platform(c, o, path, &d->platform) < 0)
			return -1;
	}
	const json_t *ann = json_object_get(o, "annotations");
	d->annotations = json_is_object(ann) ? (json_t *)ann : NULL;
	return 0;
}

static const struct {
	const char *media_type;
	enum img_compression compression;
	bool foreign;
} layer_types[] = {
	{ "application/vnd.oci.image.layer.v1.tar", IMG_LAYER_TAR, false },
	{ "application/vnd.oci.image.layer.v1.tar+gzip", IMG_LAYER_GZIP, false },
	{ "application/vnd.oci.image.layer.v1.tar+zstd", IMG_LAYER_ZSTD, false },
	{ "application/vnd.docker.image.rootfs.diff.tar.gzip", IMG_LAYER_GZIP, false },
	{ "application/vnd.docker.image.rootfs.diff.tar", IMG_LAYER_TAR, false },
	{ "application/vnd.oci.image.layer.nondistributable.v1.tar", IMG_LAYER_TAR, true },
	{ "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", IMG_LAYER_GZIP, true },
	{ "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd", IMG_LAYER_ZSTD, true },
	{ "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", IMG_LAYER_GZIP, true },
};

static int layer_encoding(const struct cc_json_reader *c, const char *path,
			  struct img_descriptor *d)
{
	_cleanup_free_ char *mt = xstrdup(d->media_type);
	size_t n = strlen(mt);
	static const char enc[] = "+encrypted";
	if (n > sizeof(enc) - 1 && !strcmp(mt + n - (sizeof(enc) - 1), enc)) {
		d->encrypted = true;
		mt[n - (sizeof(enc) - 1)] = '\0';
	}
	for (size_t i = 0; i < ARRAY_SIZE(layer_types); i++)
		if (!strcmp(mt, layer_types[i].media_type)) {
			d->compression = layer_types[i].compression;
			d->foreign = layer_types[i].foreign;
			return 0;
		}
	_cleanup_free_ char *p = cc_json_key_path(path, "mediaType");
	return cc_json_fail(c, p, "unsupported layer media type \"%s\"", d->media_type);
}

/* ---- documents ---- */

static bool is_index_type(const char *mt)
{
	return !strcmp(mt, IMG_MT_OCI_INDEX) || !strcmp(mt, IMG_MT_DOCKER_LIST);
}

static bool is_manifest_type(const char *mt)
{
	return !strcmp(mt, IMG_MT_OCI_MANIFEST) || !strcmp(mt, IMG_MT_DOCKER_MANIFEST);
}

/* "application/json; charset=utf-8" -> "application/json" */
static char *bare_content_type(const char *ct)
{
	if (!ct)
		return NULL;
	size_t n = strcspn(ct, ";");
	while (n && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
		n--;
	return n ? xstrndup(ct, n) : NULL;
}

static int document_kind(const struct cc_json_reader *c, const json_t *j, const char *content_type,
			 struct img_document *d)
{
	_cleanup_free_ char *ct = bare_content_type(content_type);
	bool ct_known = ct && (is_index_type(ct) || is_manifest_type(ct));
	if (cc_json_str(c, j, "", "mediaType", false, &d->media_type) < 0)
		return -1;
	if (d->media_type) {
		if (!is_index_type(d->media_type) && !is_manifest_type(d->media_type))
			return cc_json_fail(c, "mediaType", "unsupported media type \"%s\"",
					    d->media_type);
		if (ct_known && strcmp(ct, d->media_type) != 0)
			return cc_json_fail(
			    c, "mediaType",
			    "\"%s\" disagrees with the registry's Content-Type \"%s\"",
			    d->media_type, ct);
	} else if (ct_known) {
		d->media_type = xstrdup(ct);
	} else if (cc_json_has(j, "manifests")) {
		d->media_type = xstrdup(IMG_MT_OCI_INDEX);
	} else if (cc_json_has(j, "config") || cc_json_has(j, "layers")) {
		d->media_type = xstrdup(IMG_MT_OCI_MANIFEST);
	} else {
		return cc_json_fail(c, "", "neither an image manifest nor an index");
	}
	d->kind = is_index_type(d->media_type) ? IMG_DOC_INDEX : IMG_DOC_MANIFEST;
	return 0;
}

/* The descriptors in the array key of j (an index's manifests, a manifest's layers), at most
 * IMG_LAYERS_MAX of them, each checked by check (may be NULL) as it is read. */
static int parse_descriptors(const struct cc_json_reader *c, const json_t *j, const char *key,
			     const char *noun,
			     int (*check)(const struct cc_json_reader *c, const char *path,
					  struct img_descriptor *d),
			     struct img_descriptor **out, size_t *n)
{
	int ret;
	const json_t *a = cc_json_member(c, j, "", key, JSON_ARRAY, true, &ret), *e;
	size_t i;
	if (!a)
		return ret;
	if (json_array_size(a) > IMG_LAYERS_MAX)
		return cc_json_fail(c, key, "%zu %s, more than %u", json_array_size(a), noun,
				    IMG_LAYERS_MAX);
	*out = xcalloc(json_array_size(a) + 1, sizeof(**out));
	json_array_foreach (a, i, e) {
		_cleanup_free_ char *p = cc_json_index_path(key, i);
		*n = i + 1;
		if (parse_descriptor(c, e, p, &(*out)[i]) < 0 ||
		    (check && check(c, p, &(*out)[i]) < 0))
			return -1;
	}
	return 0;
}

static int parse_index(const struct cc_json_reader *c, const json_t *j, struct img_document *d)
{
	return parse_descriptors(c, j, "manifests", "entries", NULL, &d->manifests,
				 &d->n_manifests);
}

static int parse_manifest(const struct cc_json_reader *c, const json_t *j, struct img_document *d)
{
	int ret;
	const json_t *cfg = cc_json_member(c, j, "", "config", JSON_OBJECT, true, &ret);
	if (!cfg || parse_descriptor(c, cfg, "config", &d->config) < 0)
		return -1;
	if (strcmp(d->config.media_type, IMG_MT_OCI_CONFIG) != 0 &&
	    strcmp(d->config.media_type, IMG_MT_DOCKER_CONFIG) != 0)
		return cc_json_fail(c, "config.mediaType",
				    "\"%s\" is not an image config (not a container image?)",
				    d->config.media_type);
	if (d->config.size > (int64_t)IMG_CONFIG_MAX)
		return cc_json_fail(c, "config.size", "%lld bytes, more than %u",
				    (long long)d->config.size, IMG_CONFIG_MAX);
	return parse_descriptors(c, j, "layers", "layers", layer_encoding, &d->layers,
				 &d->n_layers);
}

static json_t *load_bounded(const struct cc_json_reader *c, const char *buf, size_t len, size_t max)
{
	if (len > max) {
		cc_json_fail(c, "", "%zu bytes, more than the %zu allowed", len, max);
		return NULL;
	}
	struct cc_error *jerr = NULL;
	json_t *j = cc_json_load_buf("JSON", buf, len, &jerr);
	if (!j) {
		cc_json_fail(c, "", "not valid JSON (%s)", jerr->msg + strlen("JSON: "));
		cc_error_free(&jerr);
		return NULL;
	}
	if (!json_is_object(j)) {
		cc_json_fail(c, "", "expected a JSON object, got %s", cc_json_type_name(j));
		json_decref(j);
		return NULL;
	}
	return j;
}

/* The schema version: 2, the only one there is for OCI and Docker manifests and indexes. */
static int schema_version(const struct cc_json_reader *c, const json_t *j)
{
	int64_t sv = 0;
	bool has = false;
	if (cc_json_int(c, j, "", "schemaVersion", INT64_MIN, INT64_MAX, &sv, &has) < 0)
		return -1;
	if (!has)
		return cc_json_fail(c, "schemaVersion", "required");
	if (sv != 2)
		return cc_json_fail(c, "schemaVersion", "%lld is not supported (only 2)",
				    (long long)sv);
	return 0;
}

struct img_document *img_document_parse(const char *name, const char *buf, size_t len,
					const char *content_type, struct cc_error **err)
{
	/* "manifest NAME", "index NAME" once the document says which it is */
	_cleanup_free_ char *mname = xasprintf("manifest %s", name);
	_cleanup_free_ char *iname = xasprintf("index %s", name);
	struct cc_json_reader c = { mname, err };
	json_t *j = load_bounded(&c, buf, len, IMG_MANIFEST_MAX);
	if (!j)
		return NULL;
	struct img_document *d = xzalloc(sizeof(*d));
	d->raw = j;
	int ret = schema_version(&c, j);
	if (ret == 0)
		ret = document_kind(&c, j, content_type, d);
	if (ret == 0) {
		c.name = d->kind == IMG_DOC_INDEX ? iname : mname;
		ret = d->kind == IMG_DOC_INDEX ? parse_index(&c, j, d) : parse_manifest(&c, j, d);
	}
	if (ret < 0) {
		img_document_free(d);
		return NULL;
	}
	return d;
}

void img_document_free(struct img_document *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n_manifests; i++)
		descriptor_clear(&d->manifests[i]);
	for (size_t i = 0; i < d->n_layers; i++)
		descriptor_clear(&d->layers[i]);
	descriptor_clear(&d->config);
	free(d->manifests);
	free(d->layers);
	free(d->media_type);
	json_decref(d->raw);
	free(d);
}

/* The refusal skopeo makes too ("Unexpectedly received a manifest list instead of a manifest
 * for a single image"): an image is an index of manifests, and following an index's indexes
 * (as containerd does) would make the image a tree that nothing else pulls alike. */
static int nested_index(const char *name, const struct img_descriptor *m, struct cc_error **err)
{
	cc_error_set(err, 0,
		     "index %s: entry %s is itself an index (nested indexes are not supported)",
		     name, m->digest);
	return img_error_code(err, IMG_ERR_INVALID);
}

const struct img_descriptor *img_index_select(const struct img_document *index,
					      const struct img_platform *want, const char *name,
					      struct cc_error **err)
{
	_cleanup_strv_ char **seen = NULL;
	const struct img_descriptor *nested = NULL;
	for (size_t i = 0; i < index->n_manifests; i++) {
		const struct img_descriptor *m = &index->manifests[i];
		bool is_index = is_index_type(m->media_type);
		/* An index entry for this platform (or for any) is what the image would be. */
		if (is_index && (!m->has_platform || img_platform_match(&m->platform, want))) {
			if (m->has_platform) {
				nested_index(name, m, err);
				return NULL;
			}
			if (!nested)
				nested = m;
			continue;
		}
		if ((!is_index && !is_manifest_type(m->media_type)) || !m->has_platform)
			continue;
		if (!is_index && img_platform_match(&m->platform, want))
			return m;
		_cleanup_free_ char *s = img_platform_string(&m->platform);
		if (!cc_strv_contains(seen, s))
			cc_strv_push(&seen, s);
	}
	if (nested) {
		nested_index(name, nested, err);
		return NULL;
	}
	_cleanup_free_ char *w = img_platform_string(want);
	_cleanup_free_ char *have = seen ? cc_strv_join(seen, ", ") : xstrdup("none");
	cc_error_set(err, 0, "index %s: no image for platform %s (the index has: %s)", name, w,
		     have);
	return NULL;
}

/* ---- image config ---- */

static int parse_runtime_config(const struct cc_json_reader *c, const json_t *j,
				struct img_config *cfg)
{
	int ret;
	const json_t *rc = cc_json_member(c, j, "", "config", JSON_OBJECT, false, &ret);
	if (!rc)
		return ret;
	if (cc_json_str(c, rc, "config", "User", false, &cfg->user) < 0 ||
	    cc_json_str(c, rc, "config", "WorkingDir", false, &cfg->working_dir) < 0 ||
	    cc_json_str(c, rc, "config", "StopSignal", false, &cfg->stop_signal) < 0 ||
	    cc_json_strv(c, rc, "config", "Env", SIZE_MAX, &cfg->env) < 0 ||
	    cc_json_strv(c, rc, "config", "Entrypoint", SIZE_MAX, &cfg->entrypoint) < 0 ||
	    cc_json_strv(c, rc, "config", "Cmd", SIZE_MAX, &cfg->cmd) < 0)
		return -1;
	/* Labels are kept as JSON (they become the bundle's annotations), so unlike the fields
	 * above a value is only checked to be a string. */
	json_t *labels = cc_json_member(c, rc, "config", "Labels", JSON_OBJECT, false, &ret), *v;
	const char *k;
	if (!labels)
		return ret;
	json_object_foreach (labels, k, v)
		if (!json_is_string(v)) {
			_cleanup_free_ char *p = cc_json_map_path("config.Labels", k);
			return cc_json_expect(c, v, p, JSON_STRING);
		}
	cfg->labels = labels;
	return 0;
}

static int parse_rootfs(const struct cc_json_reader *c, const json_t *j, struct img_config *cfg)
{
	int ret;
	const json_t *r = cc_json_member(c, j, "", "rootfs", JSON_OBJECT, true, &ret), *ids, *e;
	_cleanup_free_ char *type = NULL;
	size_t i;
	if (!r || cc_json_str(c, r, "rootfs", "type", true, &type) < 0)
		return -1;
	if (strcmp(type, "layers") != 0)
		return cc_json_fail(c, "rootfs.type", "\"%s\" is not \"layers\"", type);
	if (!(ids = cc_json_member(c, r, "rootfs", "diff_ids", JSON_ARRAY, true, &ret)))
		return -1;
	if (json_array_size(ids) > IMG_LAYERS_MAX)
		return cc_json_fail(c, "rootfs.diff_ids", "%zu entries, more than %u",
				    json_array_size(ids), IMG_LAYERS_MAX);
	cfg->diff_ids = xcalloc(json_array_size(ids) + 1, sizeof(char *));
	json_array_foreach (ids, i, e) {
		const char *s = json_string_value(e);
		if (!s || !img_digest_valid(s)) {
			_cleanup_free_ char *p = cc_json_index_path("rootfs.diff_ids", i);
			return cc_json_fail(c, p, "invalid digest");
		}
		cfg->diff_ids[i] = xstrdup(s);
		cfg->n_diff_ids = i + 1;
	}
	return 0;
}

struct img_config *img_config_parse(const char *name, const char *buf, size_t len,
				    struct cc_error **err)
{
	_cleanup_free_ char *cname = xasprintf("config %s", name);
	const struct cc_json_reader c = { cname, err };
	json_t *j = load_bounded(&c, buf, len, IMG_CONFIG_MAX);
	if (!j)
		return NULL;
	struct img_config *cfg = xzalloc(sizeof(*cfg));
	cfg->raw = j;
	if (cc_json_str(&c, j, "", "os", true, &cfg->platform.os) < 0 ||
	    cc_json_str(&c, j, "", "architecture", true, &cfg->platform.architecture) < 0 ||
	    cc_json_str(&c, j, "", "variant", false, &cfg->platform.variant) < 0 ||
	    parse_rootfs(&c, j, cfg) < 0 || parse_runtime_config(&c, j, cfg) < 0) {
		img_config_free(cfg);
		return NULL;
	}
	return cfg;
}

void img_config_free(struct img_config *c)
{
	if (!c)
		return;
	img_platform_clear(&c->platform);
	cc_strv_free(c->diff_ids);
	free(c->user);
	free(c->working_dir);
	free(c->stop_signal);
	cc_strv_free(c->env);
	cc_strv_free(c->entrypoint);
	cc_strv_free(c->cmd);
	json_decref(c->raw);
	free(c);
}
