// SPDX-License-Identifier: Apache-2.0
/* Where an image's signatures are found and put: the registry extension, a lookaside (file://,
 * http://, https://) and cosign .sig attachments. See storage.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include "image/error.h"
#include "image/manifest.h"
#include "image/stream.h"
#include "sign/cosign.h"
#include "sign/storage.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/hex.h"

#define MEDIA_JSON "application/json"

static void blobs_free(struct sign_blob *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (v[i].data)
			OPENSSL_cleanse(v[i].data, v[i].len);
		free(v[i].data);
		free(v[i].origin);
		free(v[i].signature);
	}
	free(v);
}

void sign_found_clear(struct sign_found *f)
{
	if (!f)
		return;
	blobs_free(f->simple, f->n_simple);
	blobs_free(f->cosign, f->n_cosign);
	*f = (struct sign_found){ 0 };
}

/* Takes data, origin and signature. */
static void blob_add(struct sign_blob **v, size_t *n, void *data, size_t len, char *origin,
		     char *signature)
{
	*v = xreallocarray(*v, *n + 1, sizeof(**v));
	(*v)[(*n)++] = (struct sign_blob){ data, len, origin, signature };
}

/* ---- base64 (standard alphabet, padded), as Go's encoding/json reads []byte ---- */

static char *b64_encode(const void *buf, size_t len)
{
	char *out = xmalloc(4 * ((len + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)out, buf, (int)len);
	return out;
}

static bool b64_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/';
}

/* NULL when s is not canonical padded base64. */
static unsigned char *b64_decode(const char *s, size_t n, size_t *len)
{
	if (n % 4 || n > INT32_MAX)
		return NULL;
	size_t pad = n && s[n - 1] == '=' ? (n > 1 && s[n - 2] == '=' ? 2 : 1) : 0;
	for (size_t i = 0; i < n - pad; i++)
		if (!b64_char(s[i]))
			return NULL;
	unsigned char *out = xmalloc(n / 4 * 3 + 1);
	int got = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);
	if (got < 0 || (size_t)got < pad) {
		free(out);
		return NULL;
	}
	*len = (size_t)got - pad;
	return out;
}

/* ---- the registry's signature extension ---- */

struct ext_entry {
	int64_t version;
	char *name, *type;
	unsigned char *content;
	size_t len;
};

static void ext_entries_free(struct ext_entry *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].name);
		free(v[i].type);
		free(v[i].content);
	}
	free(v);
}

static bool ext_usable(const struct ext_entry *e)
{
	return e->version == 2 && e->type && !strcmp(e->type, "atomic");
}

static int ext_entry_parse(const struct cc_json_reader *r, const json_t *o, const char *path,
			   struct ext_entry *e)
{
	_cleanup_free_ char *content = NULL;
	if (!json_is_object(o))
		return cc_json_fail(r, path, "expected object, got %s", cc_json_type_name(o));
	if (cc_json_int(r, o, path, "schemaVersion", INT64_MIN, INT64_MAX, &e->version, NULL) < 0 ||
	    cc_json_str(r, o, path, "name", false, &e->name) < 0 ||
	    cc_json_str(r, o, path, "type", false, &e->type) < 0 ||
	    cc_json_str(r, o, path, "content", false, &content) < 0)
		return -1;
	if (content && !(e->content = b64_decode(content, strlen(content), &e->len))) {
		_cleanup_free_ char *p = cc_json_key_path(path, "content");
		return cc_json_fail(r, p, "not valid base64");
	}
	return 0;
}

/* The registry's list: {"signatures":[{"schemaVersion":2,"name":..,"type":"atomic",
 * "content":b64}, ...]}. Other keys are ignored, as containers/image's decoder ignores them;
 * a member of the wrong type is an error. */
static int ext_list(struct img_registry *reg, const struct img_ref *ref, const char *digest,
		    struct ext_entry **out, size_t *n, struct cc_error **err)
{
	*out = NULL;
	*n = 0;
	_cleanup_free_ char *path = xasprintf("signatures/%s", digest);
	size_t len;
	_cleanup_free_ char *body =
	    img_registry_get_extension(reg, path, SIGN_STORAGE_LIST_MAX, &len, err);
	if (!body)
		return -1;
	_cleanup_free_ char *name = xasprintf("registry extension %s", ref->domain);
	const struct cc_json_reader r = { name, err };
	_cleanup_json_ json_t *root = cc_json_load_buf(name, body, len, err);
	if (!root)
		return -1;
	if (!json_is_object(root))
		return cc_json_fail(&r, "", "expected object, got %s", cc_json_type_name(root));
	int ret;
	json_t *list = cc_json_member(&r, root, "", "signatures", JSON_ARRAY, false, &ret);
	if (!list)
		return ret;
	if (json_array_size(list) > 4 * SIGN_STORAGE_MAX)
		return cc_json_fail(&r, "signatures", "more than %d entries", 4 * SIGN_STORAGE_MAX);
	struct ext_entry *v = xcalloc(json_array_size(list) + 1, sizeof(*v));
	size_t usable = 0;
	for (size_t i = 0; i < json_array_size(list); i++) {
		_cleanup_free_ char *p = cc_json_index_path("signatures", i);
		if (ext_entry_parse(&r, json_array_get(list, i), p, &v[i]) < 0) {
			ext_entries_free(v, i + 1);
			return -1;
		}
		usable += ext_usable(&v[i]);
	}
	if (usable > SIGN_STORAGE_MAX) {
		ext_entries_free(v, json_array_size(list));
		return cc_json_fail(&r, "signatures", "more than %d signatures", SIGN_STORAGE_MAX);
	}
	*out = v;
	*n = json_array_size(list);
	return 0;
}

static int ext_fetch(struct img_registry *reg, const struct img_ref *ref, const char *digest,
		     struct sign_found *out, struct cc_error **err)
{
	struct ext_entry *v;
	size_t n;
	if (ext_list(reg, ref, digest, &v, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!ext_usable(&v[i]) || !v[i].content)
			continue; /* another kind of signature */
		blob_add(&out->simple, &out->n_simple, steal_pointer(&v[i].content), v[i].len,
			 xasprintf("registry extension %s #%zu", ref->domain, i + 1), NULL);
	}
	ext_entries_free(v, n);
	return 0;
}

/* One PUT of a new entry, under a name the list does not have, unless the same signature is
 * there already. */
static int ext_put(struct img_registry *reg, const struct img_ref *ref, const char *digest,
		   const void *blob, size_t len, char **where, struct cc_error **err)
{
	struct ext_entry *v;
	size_t n;
	if (ext_list(reg, ref, digest, &v, &n, err) < 0)
		return -1;
	_cleanup_free_ char *name = NULL;
	for (size_t i = 0; i < n; i++)
		if (ext_usable(&v[i]) && v[i].content && v[i].len == len &&
		    !memcmp(v[i].content, blob, len)) {
			if (where)
				*where =
				    xasprintf("registry extension %s #%zu", ref->domain, i + 1);
			ext_entries_free(v, n);
			return 0;
		}
	for (bool taken = true; taken;) {
		unsigned char rnd[16];
		char hex[2 * sizeof(rnd) + 1];
		if (RAND_bytes(rnd, sizeof(rnd)) != 1)
			abort();
		for (size_t i = 0; i < sizeof(rnd); i++)
			snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
		free(name);
		name = xasprintf("%s@%s", digest, hex);
		taken = false;
		for (size_t i = 0; i < n && !taken; i++)
			taken = v[i].name && !strcmp(v[i].name, name);
	}
	ext_entries_free(v, n);
	_cleanup_free_ char *content = b64_encode(blob, len);
	/* digest, name and base64 need no escaping; the key order is containers/image's. */
	_cleanup_free_ char *body = xasprintf(
	    "{\"schemaVersion\":2,\"name\":\"%s\",\"type\":\"atomic\",\"content\":\"%s\"}", name,
	    content);
	_cleanup_free_ char *path = xasprintf("signatures/%s", digest);
	if (img_registry_put_extension(reg, path, MEDIA_JSON, body, strlen(body), err) < 0)
		return -1;
	if (where)
		*where = xasprintf("registry extension %s (%s)", ref->domain, name);
	return 0;
}

/* ---- lookaside ---- */

/* <base>/<repo path>@<algo>=<hex>/signature-<n>, with a query or fragment of base kept at the
 * end (containers/image appends to the URL's path). */
static char *lookaside_url(const char *base, const struct img_ref *ref, const char *digest,
			   unsigned n)
{
	size_t at = strcspn(base, "?#");
	size_t alg = strcspn(digest, ":");
	_cleanup_free_ char *sig = n ? xasprintf("/signature-%u", n) : xstrdup("");
	return xasprintf("%.*s/%s@%.*s=%s%s%s", (int)at, base, ref->path, (int)alg, digest,
			 digest + alg + 1, sig, base + at);
}

static bool is_file_url(const char *url)
{
	return !strncasecmp(url, "file://", 7);
}

/* The directory of a file:///path URL, %XX decoded (as a URL's path is); NULL if it is not one
 * that names a directory. */
static char *file_path(const char *url, struct cc_error **err)
{
	if (!is_file_url(url) || url[7] != '/') {
		cc_error_set(err, 0, "lookaside %s: not a file:///path URL", url);
		return NULL;
	}
	const char *p = url + 7;
	size_t n = strcspn(p, "?#");
	char *out = xmalloc(n + 1), *o = out;
	for (size_t i = 0; i < n; i++) {
		if (p[i] != '%') {
			*o++ = p[i];
			continue;
		}
		int hi = i + 2 < n ? cc_hex_digit(p[i + 1]) : -1;
		int lo = hi >= 0 ? cc_hex_digit(p[i + 2]) : -1;
		if (lo < 0 || (hi == 0 && lo == 0)) {
			free(out);
			cc_error_set(err, 0, "lookaside %s: invalid %%-escape", url);
			return NULL;
		}
		*o++ = (char)(hi * 16 + lo);
		i += 2;
	}
	*o = '\0';
	return out;
}

/* The contents of rel below base (no symlink out of it, none at the end), at most
 * SIGN_STORAGE_BLOB_MAX bytes: 1, or 0 when it is not there, or -1. */
static int read_below(int basefd, const char *rel, const char *url, unsigned char **data,
		      size_t *len, struct cc_error **err)
{
	_cleanup_close_ int fd = cc_open_in_root(basefd, rel, O_RDONLY | O_NOFOLLOW | O_NOCTTY, 0);
	if (fd < 0 && errno == ENOENT)
		return 0;
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		return cc_error_errno(err, "%s", url);
	if (!S_ISREG(st.st_mode))
		return cc_error_set(err, 0, "%s: not a regular file", url);
	_cleanup_free_ unsigned char *buf = xmalloc(SIGN_STORAGE_BLOB_MAX + 1);
	ssize_t n = cc_read_all(fd, buf, SIGN_STORAGE_BLOB_MAX + 1);
	if (n < 0)
		return cc_error_errno(err, "%s", url);
	if ((size_t)n > SIGN_STORAGE_BLOB_MAX)
		return cc_error_set(err, 0, "%s: larger than %u bytes", url, SIGN_STORAGE_BLOB_MAX);
	*len = (size_t)n;
	*data = xrealloc(steal_pointer(&buf), n ? (size_t)n : 1);
	return 1;
}

/* Signature i of a lookaside listing (data is taken), or an error past the bound. */
static int lookaside_add(struct sign_found *out, unsigned i, const char *base,
			 const struct img_ref *ref, const char *digest, void *data, size_t len,
			 char **url, struct cc_error **err)
{
	if (i > SIGN_STORAGE_MAX) {
		free(data);
		_cleanup_free_ char *d = lookaside_url(base, ref, digest, 0);
		return cc_error_set(err, 0, "%s: more than %d signatures", d, SIGN_STORAGE_MAX);
	}
	blob_add(&out->simple, &out->n_simple, data, len, steal_pointer(url), NULL);
	return 0;
}

static int file_fetch(const char *base, const struct img_ref *ref, const char *digest,
		      struct sign_found *out, struct cc_error **err)
{
	_cleanup_free_ char *dir = file_path(base, err);
	if (!dir)
		return -1;
	_cleanup_close_ int basefd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (basefd < 0 && errno == ENOENT)
		return 0; /* nothing was ever stored there */
	if (basefd < 0)
		return cc_error_errno(err, "lookaside %s", base);
	size_t alg = strcspn(digest, ":");
	for (unsigned i = 1;; i++) {
		_cleanup_free_ char *url = lookaside_url(base, ref, digest, i);
		_cleanup_free_ char *rel = xasprintf("%s@%.*s=%s/signature-%u", ref->path, (int)alg,
						     digest, digest + alg + 1, i);
		size_t len = 0;
		unsigned char *data = NULL;
		int found = read_below(basefd, rel, url, &data, &len, err);
		if (found <= 0)
			return found; /* the first one missing ends the list */
		if (lookaside_add(out, i, base, ref, digest, data, len, &url, err) < 0)
			return -1;
	}
}

static int http_fetch(struct img_registry *reg, const char *base, const struct img_ref *ref,
		      const char *digest, struct sign_found *out, struct cc_error **err)
{
	for (unsigned i = 1;; i++) {
		_cleanup_free_ char *url = lookaside_url(base, ref, digest, i);
		struct cc_error *e = NULL;
		size_t len;
		char *data = img_registry_get_url(reg, url, SIGN_STORAGE_BLOB_MAX, &len, &e);
		if (!data && e->code == IMG_ERR_NOT_FOUND) {
			cc_error_free(&e);
			return 0; /* the first one missing ends the list */
		}
		if (!data) {
			*err = e;
			return -1;
		}
		if (lookaside_add(out, i, base, ref, digest, data, len, &url, err) < 0)
			return -1;
	}
}

static int lookaside_fetch(struct img_registry *reg, const char *base, const struct img_ref *ref,
			   const char *digest, struct sign_found *out, struct cc_error **err)
{
	if (is_file_url(base))
		return file_fetch(base, ref, digest, out, err);
	if (strncasecmp(base, "http://", 7) && strncasecmp(base, "https://", 8))
		return cc_error_set(err, 0, "lookaside %s: not a file://, http:// or https:// URL",
				    base);
	if (reg)
		return http_fetch(reg, base, ref, digest, out, err);
	/* No client for the image's registry: one for this transfer only. */
	struct img_registry *own = img_registry_open(ref, NULL, err);
	if (!own)
		return -1;
	int ret = http_fetch(own, base, ref, digest, out, err);
	img_registry_close(own);
	return ret;
}

/* The blob, written whole under a temporary name, then given the first free signature-N:
 * an existing signature is never replaced, and readers never see a partial one. */
static int file_put(const char *base, const struct img_ref *ref, const char *digest,
		    const void *blob, size_t len, char **where, struct cc_error **err)
{
	_cleanup_free_ char *dir = file_path(base, err);
	if (!dir || cc_mkdir_p(dir, 0755, err) < 0)
		return -1;
	_cleanup_close_ int basefd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (basefd < 0)
		return cc_error_errno(err, "lookaside %s", base);
	size_t alg = strcspn(digest, ":");
	_cleanup_free_ char *rel =
	    xasprintf("%s@%.*s=%s", ref->path, (int)alg, digest, digest + alg + 1);
	_cleanup_free_ char *durl = lookaside_url(base, ref, digest, 0);
	_cleanup_close_ int dfd = cc_mkdir_p_in_root(basefd, rel, 0755, err);
	if (dfd < 0)
		return cc_error_prefix(err, "lookaside %s", base);
	unsigned char rnd[8];
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		abort();
	char tmp[64];
	snprintf(tmp, sizeof(tmp), ".signature.tmp.%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0],
		 rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
	_cleanup_close_ int fd =
	    openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return cc_error_errno(err, "%s/%s", durl, tmp);
	if (fchmod(fd, 0644) < 0 || cc_write_all(fd, blob, len) < 0 || fsync(fd) < 0) {
		cc_error_errno(err, "%s/%s", durl, tmp);
		CC_BEST_EFFORT(unlinkat(dfd, tmp, 0)); /* already failing */
		return -1;
	}
	for (unsigned i = 1; i <= SIGN_STORAGE_MAX; i++) {
		char name[32];
		snprintf(name, sizeof(name), "signature-%u", i);
		int r = renameat2(dfd, tmp, dfd, name, RENAME_NOREPLACE);
		if (r < 0 && (errno == EINVAL || errno == ENOSYS)) {
			/* A file system without RENAME_NOREPLACE: a link never replaces either. */
			r = linkat(dfd, tmp, dfd, name, 0);
			if (r == 0)
				CC_BEST_EFFORT(unlinkat(dfd, tmp, 0)); /* a stray temp file */
		}
		if (r == 0) {
			if (where)
				*where = lookaside_url(base, ref, digest, i);
			return 0;
		}
		if (errno != EEXIST) {
			cc_error_errno(err, "%s/%s", durl, name);
			CC_BEST_EFFORT(unlinkat(dfd, tmp, 0)); /* already failing */
			return -1;
		}
	}
	CC_BEST_EFFORT(unlinkat(dfd, tmp, 0)); /* already failing */
	return cc_error_set(err, 0, "%s: already %d signatures", durl, SIGN_STORAGE_MAX);
}

/* ---- cosign attachments ---- */

/* The layers of the .sig manifest: none when the tag does not exist. */
static int cosign_layers(struct img_registry *reg, const struct img_ref *ref, const char *tag,
			 struct sign_cosign_layer **layers, size_t *n, struct cc_error **err)
{
	*layers = NULL;
	*n = 0;
	_cleanup_free_ char *body = NULL, *type = NULL, *mdigest = NULL;
	size_t len;
	struct cc_error *e = NULL;
	if (img_registry_get_manifest(reg, tag, &body, &len, &type, &mdigest, &e) < 0) {
		if (e->code == IMG_ERR_NOT_FOUND) {
			cc_error_free(&e);
			return 0;
		}
		*err = e;
		return -1;
	}
	_cleanup_free_ char *name = xasprintf("%s:%s", ref->path, tag);
	return sign_cosign_manifest_parse(name, body, len, layers, n, err);
}

static int cosign_fetch(struct img_registry *reg, const struct img_ref *ref, const char *digest,
			struct sign_found *out, struct cc_error **err)
{
	_cleanup_free_ char *tag = sign_cosign_tag(digest);
	if (!tag)
		return cc_error_set(err, 0, "cosign: no attachment tag for \"%s\"", digest);
	struct sign_cosign_layer *layers;
	size_t n;
	if (cosign_layers(reg, ref, tag, &layers, &n, err) < 0)
		return -1;
	int ret = 0;
	if (n > SIGN_STORAGE_MAX)
		ret = cc_error_set(err, 0, "%s:%s: more than %d signatures", ref->path, tag,
				   SIGN_STORAGE_MAX);
	for (size_t i = 0; ret == 0 && i < n; i++) {
		_cleanup_free_ char *origin = xasprintf("%s:%s layer %zu", ref->path, tag, i + 1);
		size_t len;
		char *data = NULL;
		if (layers[i].size > (int64_t)SIGN_STORAGE_BLOB_MAX)
			ret = cc_error_set(err, 0, "%s: %lld bytes, more than %u", origin,
					   (long long)layers[i].size, SIGN_STORAGE_BLOB_MAX);
		else if (!(data = img_registry_get_blob_sized(reg, layers[i].digest, layers[i].size,
							      SIGN_STORAGE_BLOB_MAX, &len, err)))
			ret = cc_error_prefix(err, "%s", origin);
		else
			blob_add(&out->cosign, &out->n_cosign, data, len, steal_pointer(&origin),
				 xstrdup(layers[i].signature));
	}
	sign_cosign_layers_free(layers, n);
	return ret;
}

int sign_storage_put_cosign(struct img_registry *reg, const struct img_ref *ref, const char *digest,
			    const void *payload, size_t len, const char *signature, char **where,
			    struct cc_error **err)
{
	_cleanup_free_ char *tag = sign_cosign_tag(digest);
	if (!tag)
		return cc_error_set(err, 0, "cosign: no attachment tag for \"%s\"", digest);
	if (len > SIGN_STORAGE_BLOB_MAX || len > SIGN_COSIGN_PAYLOAD_MAX)
		return cc_error_set(err, 0, "cosign payload: %zu bytes, more than %u", len,
				    SIGN_COSIGN_PAYLOAD_MAX);
	if (!signature || !*signature)
		return cc_error_set(err, 0, "cosign: an empty signature");
	struct sign_cosign_layer *old;
	size_t n;
	if (cosign_layers(reg, ref, tag, &old, &n, err) < 0)
		return -1;
	_cleanup_free_ char *pdigest = img_digest_buf(payload, len);
	int ret = 0;
	size_t at = n; /* where the signature is, when it was there already */
	for (size_t i = 0; i < n && at == n; i++)
		if (!strcmp(old[i].digest, pdigest) && !strcmp(old[i].signature, signature))
			at = i;
	if (at == n) {
		struct sign_cosign_layer *all = xcalloc(n + 1, sizeof(*all));
		if (n)
			memcpy(all, old, n * sizeof(*old));
		all[n] = (struct sign_cosign_layer){ .digest = pdigest,
						     .size = (int64_t)len,
						     .signature = (char *)signature };
		_cleanup_free_ char *config = NULL, *manifest = NULL;
		size_t clen, mlen;
		ret = img_registry_put_blob(reg, payload, len, NULL, err);
		if (ret == 0)
			ret = sign_cosign_manifest_build(all, n + 1, &config, &clen, &manifest,
							 &mlen, err);
		if (ret == 0)
			ret = img_registry_put_blob(reg, config, clen, NULL, err);
		if (ret == 0)
			ret = img_registry_put_manifest(reg, tag, IMG_MT_OCI_MANIFEST, manifest,
							mlen, err);
		free(all); /* its members belong to old, pdigest and the caller */
	}
	sign_cosign_layers_free(old, n);
	if (ret < 0)
		return cc_error_prefix(err, "%s/%s:%s", ref->domain, ref->path, tag);
	if (where)
		*where = xasprintf("%s/%s:%s layer %zu", ref->domain, ref->path, tag, at + 1);
	return 0;
}

/* ---- the entry points ---- */

static int check_digest(const char *digest, struct cc_error **err)
{
	if (img_digest_valid(digest))
		return 0;
	char shown[CC_SHOWN_BUF];
	cc_shown(digest ? digest : "", digest ? strlen(digest) : 0, shown);
	return cc_error_set(err, 0, "signatures: \"%s\" is not a valid manifest digest", shown);
}

int sign_storage_fetch(struct img_registry *reg, const struct sign_registries *rd,
		       const struct img_ref *ref, const char *digest, struct sign_found *out,
		       struct cc_error **err)
{
	*out = (struct sign_found){ 0 };
	if (check_digest(digest, err) < 0)
		return -1;
	struct sign_registry_config cfg;
	sign_registries_lookup(rd, ref, &cfg);
	bool extension = false;
	int ret = reg ? img_registry_supports_signatures(reg, &extension, err) : 0;
	if (ret == 0 && extension)
		ret = ext_fetch(reg, ref, digest, out, err);
	else if (ret == 0)
		ret = lookaside_fetch(reg, cfg.lookaside, ref, digest, out, err);
	if (ret == 0 && reg && cfg.use_sigstore_attachments)
		ret = cosign_fetch(reg, ref, digest, out, err);
	if (ret < 0)
		sign_found_clear(out);
	return ret;
}

int sign_storage_put_simple(struct img_registry *reg, const struct sign_registries *rd,
			    const struct img_ref *ref, const char *digest, const void *blob,
			    size_t len, char **where, struct cc_error **err)
{
	if (check_digest(digest, err) < 0)
		return -1;
	if (!len || len > SIGN_STORAGE_BLOB_MAX)
		return cc_error_set(err, 0, "signature: %zu bytes, not 1 to %u", len,
				    SIGN_STORAGE_BLOB_MAX);
	bool extension = false;
	if (reg && img_registry_supports_signatures(reg, &extension, err) < 0)
		return -1;
	if (extension)
		return ext_put(reg, ref, digest, blob, len, where, err);
	struct sign_registry_config cfg;
	sign_registries_lookup(rd, ref, &cfg);
	if (!is_file_url(cfg.lookaside_staging))
		return cc_error_set(err, 0,
				    "writing signatures to %s is not supported: only a file:// "
				    "lookaside can be written",
				    cfg.lookaside_staging);
	return file_put(cfg.lookaside_staging, ref, digest, blob, len, where, err);
}
