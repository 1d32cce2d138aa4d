// SPDX-License-Identifier: Apache-2.0
/*
 * The per-container layout under the images directory (upstream keeps images/<cid>/...):
 *
 *   <images>/<cid>/image.json    what was pulled and where its layers are in the store
 *   <images>/<cid>/config.json   the OCI runtime config generated from the image config
 *   <images>/<cid>/rootfs/       an empty mount point for the merged layers
 *
 * A layout is built under <images>/.staging/ and renamed into place, or exchanged with the old
 * one in a single renameat2(RENAME_EXCHANGE), so readers (the shim side, agent-ctl mount) see
 * the old layout or the new one, never a mix.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "agent.h"
#include "image/bundle.h"
#include "image/manifest.h"
#include "runtime/spec.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/strv.h"

/* ---- image.json ---- */

static void set_string(json_t *o, const char *key, const json_t *from)
{
	const char *v = json_string_value(json_object_get(from, key));
	if (v)
		json_object_set_new(o, key, json_string(v));
}

json_t *agent_image_json(const char *cid, const char *image, const json_t *record,
			 const char *store_root, bool encrypted)
{
	json_t *diff_ids = json_array(), *paths = json_array(), *l;
	json_int_t size = 0;
	size_t i;
	json_array_foreach (json_object_get(record, "layers"), i, l) {
		const char *d = json_string_value(json_object_get(l, "diff_id"));
		int alg = (int)strcspn(d, ":");
		json_array_append_new(diff_ids, json_string(d));
		/* The store's layout (image/store.h): layers/<alg>/<hex>. */
		json_array_append_new(paths, json_sprintf("layers/%.*s/%s", alg, d, d + alg + 1));
		size += json_integer_value(json_object_get(l, "size"));
	}
	json_t *o = json_pack("{s:i,s:s,s:s,s:s,s:s}", "version", 1, "container_id", cid, "image",
			      image, "reference", json_string_value(json_object_get(record, "ref")),
			      "store", store_root);
	set_string(o, "manifest", record);
	set_string(o, "config", record);
	set_string(o, "index", record);
	set_string(o, "platform", record);
	set_string(o, "pulled", record);
	json_object_set_new(o, "size", json_integer(size));
	json_object_set_new(o, "diff_ids", diff_ids);
	/* An encrypted store's layers are no directories: the agent serves their view. */
	if (encrypted) {
		json_object_set_new(o, "encrypted", json_true());
		json_decref(paths);
	} else {
		json_object_set_new(o, "layers", paths);
	}
	return o;
}

/* ---- config.json ---- */

/* The record's layer directories (for an encrypted store, their diff_ids), bottom first; each
 * must be in the store. */
static char **layer_dirs(struct agent *a, const json_t *record, struct cc_error **err)
{
	_cleanup_strv_ char **dirs = xcalloc(1, sizeof(char *));
	bool enc = img_store_encrypted(a->store);
	json_t *l;
	size_t i;
	json_array_foreach (json_object_get(record, "layers"), i, l) {
		const char *d = json_string_value(json_object_get(l, "diff_id"));
		_cleanup_free_ char *p = !enc ? img_store_layer_path(a->store, d)
					 : d && img_store_has_layer(a->store, d) ? xstrdup(d)
										 : NULL;
		if (!p || (!enc && access(p, F_OK) != 0)) {
			tt_error_status(err, TT_INTERNAL,
					"layer %zu (%s) is missing from the store", i, d);
			return NULL;
		}
		cc_strv_push(&dirs, p);
	}
	return steal_pointer(&dirs);
}

static json_t *runtime_config(struct agent *a, const json_t *record, struct cc_error **err)
{
	const char *digest = json_string_value(json_object_get(record, "config"));
	_cleanup_strv_ char **dirs = layer_dirs(a, record, err);
	size_t len;
	_cleanup_free_ char *text =
	    dirs ? img_store_get_blob(a->store, digest, IMG_CONFIG_MAX, &len, err) : NULL;
	struct img_config *c = text ? img_config_parse(digest, text, len, err) : NULL;
	if (!c)
		return NULL;
	_cleanup_free_ char *spec = rt_spec_default(false);
	json_t *cfg = img_store_encrypted(a->store)
			  ? img_bundle_config_store(c, spec, img_store_backend(a->store), dirs,
						    cc_strv_len(dirs), err)
			  : img_bundle_config_layers(c, spec, dirs, cc_strv_len(dirs), err);
	img_config_free(c);
	if (!cfg) {
		/* The image cannot be run as it is (no command, unknown user). */
		cc_error_prefix(err, "runtime config");
		(*err)->code = TT_FAILED_PRECONDITION;
	}
	return cfg;
}

/* ---- writing ---- */

static int write_json(const char *dir, const char *name, const json_t *j, struct cc_error **err)
{
	_cleanup_free_ char *path = cc_path_join(dir, name);
	_cleanup_free_ char *text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0 || cc_write_all(fd, text, strlen(text)) < 0 || cc_write_all(fd, "\n", 1) < 0 ||
	    fsync(fd) < 0)
		return tt_error_status(err, TT_INTERNAL, "write %s: %s", path, strerror(errno));
	return 0;
}

static char *staging_dir(struct agent *a, const char *cid)
{
	pthread_mutex_lock(&a->lock);
	unsigned n = a->staging_counter++;
	pthread_mutex_unlock(&a->lock);
	return xasprintf("%s/%s/%s-%d-%u", a->images_root, AGENT_STAGING, cid, (int)getpid(), n);
}

static void remove_quietly(const char *path)
{
	struct cc_error *err = NULL;
	if (cc_rm_rf(path, &err) < 0)
		cc_error_free(&err);
}

/* Is <dir>/rootfs a mount point (someone is using the layout)? */
static bool rootfs_mounted(const char *dir)
{
	_cleanup_free_ char *rootfs = cc_path_join(dir, "rootfs");
	struct statx a, b;
	if (statx(AT_FDCWD, dir, AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &a) < 0 ||
	    statx(AT_FDCWD, rootfs, AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &b) < 0)
		return false;
	return (a.stx_mask & b.stx_mask & STATX_MNT_ID) && a.stx_mnt_id != b.stx_mnt_id;
}

/* Put the staged layout in place of <images>/<cid>; the staging path is gone afterwards. */
static int install(struct agent *a, const char *staging, const char *cid, struct cc_error **err)
{
	_cleanup_free_ char *target = cc_path_join(a->images_root, cid);
	int r, saved = 0;
	bool busy = false;
	pthread_mutex_lock(&a->layout_lock);
	r = renameat2(AT_FDCWD, staging, AT_FDCWD, target, RENAME_NOREPLACE);
	if (r < 0 && errno == EEXIST) {
		busy = rootfs_mounted(target);
		r = busy ? -1 : renameat2(AT_FDCWD, staging, AT_FDCWD, target, RENAME_EXCHANGE);
	}
	saved = errno;
	pthread_mutex_unlock(&a->layout_lock);
	/* Now the old layout (after an exchange) or the unused new one: either way, garbage. */
	remove_quietly(staging);
	if (busy)
		return tt_error_status(err, TT_FAILED_PRECONDITION,
				       "%s: its rootfs is mounted; unmount it before pulling again",
				       target);
	if (r < 0)
		return tt_error_status(err, TT_INTERNAL, "install %s: %s", target, strerror(saved));
	return 0;
}

int agent_layout_write(struct agent *a, const char *cid, const char *image, const json_t *record,
		       struct cc_error **err)
{
	_cleanup_json_ json_t *info =
	    agent_image_json(cid, image, record, a->store_root, img_store_encrypted(a->store));
	_cleanup_json_ json_t *config = runtime_config(a, record, err);
	if (!config)
		return -1;
	_cleanup_free_ char *staging = staging_dir(a, cid);
	_cleanup_free_ char *rootfs = cc_path_join(staging, "rootfs");
	if (mkdir(staging, 0755) < 0)
		return tt_error_status(err, TT_INTERNAL, "mkdir %s: %s", staging, strerror(errno));
	if (write_json(staging, "image.json", info, err) < 0 ||
	    write_json(staging, "config.json", config, err) < 0 || mkdir(rootfs, 0755) < 0) {
		if (!*err)
			tt_error_status(err, TT_INTERNAL, "mkdir %s: %s", rootfs, strerror(errno));
		remove_quietly(staging);
		return -1;
	}
	return install(a, staging, cid, err);
}

/* ---- reading, removing ---- */

json_t *agent_layout_read(struct agent *a, const char *cid, struct cc_error **err)
{
	_cleanup_free_ char *dir = cc_path_join(a->images_root, cid);
	_cleanup_free_ char *path = cc_path_join(dir, "image.json");
	if (access(dir, F_OK) < 0) {
		tt_error_status(err, TT_NOT_FOUND, "container_id %s: no image is laid out for it",
				cid);
		return NULL;
	}
	json_t *j = cc_json_load_file(path, err);
	if (j && !json_is_string(json_object_get(j, "reference"))) {
		json_decref(j);
		cc_error_set(err, 0, "%s: no \"reference\"", path);
		j = NULL;
	}
	if (!j)
		(*err)->code = TT_INTERNAL;
	return j;
}

static int cmp_cid(const void *x, const void *y)
{
	const json_t *a = *(json_t *const *)x, *b = *(json_t *const *)y;
	return strcmp(json_string_value(json_object_get(a, "container_id")),
		      json_string_value(json_object_get(b, "container_id")));
}

json_t *agent_layout_list(struct agent *a, struct cc_error **err)
{
	_cleanup_closedir_ DIR *d = opendir(a->images_root);
	if (!d) {
		tt_error_status(err, TT_INTERNAL, "open %s: %s", a->images_root, strerror(errno));
		return NULL;
	}
	json_t **v = NULL;
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || agent_cid_check(de->d_name, NULL) < 0)
			continue;
		struct cc_error *e = NULL;
		json_t *j = agent_layout_read(a, de->d_name, &e);
		cc_error_free(&e);
		if (!j)
			continue; /* being replaced, or not ours */
		json_object_set_new(j, "container_id", json_string(de->d_name));
		v = xreallocarray(v, n + 1, sizeof(*v));
		v[n++] = j;
	}
	if (n)
		qsort(v, n, sizeof(*v), cmp_cid);
	json_t *list = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(list, v[i]);
	free(v);
	return list;
}

int agent_layout_remove(struct agent *a, const char *cid, char **reference, struct cc_error **err)
{
	_cleanup_free_ char *dir = cc_path_join(a->images_root, cid);
	_cleanup_free_ char *staging = staging_dir(a, cid);
	pthread_mutex_lock(&a->layout_lock);
	json_t *info = agent_layout_read(a, cid, err);
	int r = -1;
	if (info && rootfs_mounted(dir))
		tt_error_status(err, TT_FAILED_PRECONDITION,
				"%s: its rootfs is mounted; unmount it first", dir);
	else if (info && rename(dir, staging) < 0)
		tt_error_status(err, TT_INTERNAL, "remove %s: %s", dir, strerror(errno));
	else if (info)
		r = 0;
	pthread_mutex_unlock(&a->layout_lock);
	if (r == 0) {
		*reference = xstrdup(json_string_value(json_object_get(info, "reference")));
		remove_quietly(staging);
	}
	json_decref(info);
	return r;
}

void agent_layout_clean_staging(struct agent *a)
{
	_cleanup_free_ char *dir = cc_path_join(a->images_root, AGENT_STAGING);
	_cleanup_closedir_ DIR *d = opendir(dir);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		_cleanup_free_ char *p = cc_path_join(dir, de->d_name);
		remove_quietly(p);
	}
}
