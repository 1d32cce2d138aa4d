// SPDX-License-Identifier: Apache-2.0
/* enclaveagent.Admin: ListImages, RemoveImage, Status (proto/agent.proto). See agent.h. */
#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "agent.h"
#include "agent.pb-c.h"
#include "config.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/log.h"
#include "util/strv.h"

/* Pack any generated message into a malloc'd buffer for a handler's answer. */
static int answer(const ProtobufCMessage *m, uint8_t **resp, size_t *resp_len)
{
	*resp_len = protobuf_c_message_get_packed_size(m);
	*resp = xmalloc(*resp_len);
	protobuf_c_message_pack(m, *resp);
	return 0;
}

/* ---- store gc ---- */

/* 0 after a gc, 1 when pulls hold the store (deferred to the last of them), -1 on error. */
static int run_gc(struct agent *a, size_t *layers, size_t *blobs, struct cc_error **err)
{
	*layers = *blobs = 0;
	if (pthread_rwlock_trywrlock(&a->gc_lock) != 0) {
		pthread_mutex_lock(&a->lock);
		a->gc_pending = true;
		pthread_mutex_unlock(&a->lock);
		return 1;
	}
	pthread_mutex_lock(&a->lock);
	a->gc_pending = false;
	pthread_mutex_unlock(&a->lock);
	_cleanup_strv_ char **in_use = agent_views_layers();
	int r = img_store_gc_keep(a->store, in_use, layers, blobs, err);
	pthread_rwlock_unlock(&a->gc_lock);
	return r;
}

void agent_gc_if_due(struct agent *a)
{
	pthread_mutex_lock(&a->lock);
	bool due = a->gc_pending && a->requests == 0;
	pthread_mutex_unlock(&a->lock);
	if (!due)
		return;
	size_t layers, blobs;
	struct cc_error *err = NULL;
	int r = run_gc(a, &layers, &blobs, &err);
	if (r < 0)
		cc_warn("store gc: %s", err->msg);
	else if (r == 0)
		cc_info("store gc: removed %zu layers and %zu blobs", layers, blobs);
	cc_error_free(&err);
}

/* ---- RemoveImage ---- */

/* Forget the store's record of ref unless another layout or a running pull uses it. */
static bool drop_record(struct agent *a, const char *ref)
{
	struct cc_error *err = NULL;
	bool used = false, removed = false;
	pthread_mutex_lock(&a->layout_lock);
	_cleanup_json_ json_t *list = agent_layout_list(a, &err);
	json_t *l;
	size_t i;
	json_array_foreach (list, i, l)
		used |= !strcmp(json_string_value(json_object_get(l, "reference")), ref);
	pthread_mutex_lock(&a->lock);
	if (list && !used && !agent_busy_has(a, ref))
		removed = img_store_remove_image(a->store, ref, &err) == 0;
	pthread_mutex_unlock(&a->lock);
	pthread_mutex_unlock(&a->layout_lock);
	cc_error_free(&err);
	return removed;
}

int agent_remove_image(struct tt_call *call, const uint8_t *req, size_t len, uint8_t **resp,
		       size_t *resp_len, void *data, struct cc_error **err)
{
	struct agent *a = data;
	Enclaveagent__RemoveImageRequest *r =
	    tt_unpack(&enclaveagent__remove_image_request__descriptor, req, len, err);
	if (!r)
		return -1;
	_cleanup_free_ char *ref = NULL;
	int ret = agent_cid_check(r->container_id, err);
	if (ret < 0)
		(*err)->code = TT_INVALID_ARGUMENT;
	else
		ret = agent_layout_remove(a, r->container_id, &ref, err);
	Enclaveagent__RemoveImageResponse out = ENCLAVEAGENT__REMOVE_IMAGE_RESPONSE__INIT;
	size_t layers = 0, blobs = 0;
	if (ret == 0) {
		struct cc_error *gerr = NULL;
		out.image_removed = drop_record(a, ref);
		int g = run_gc(a, &layers, &blobs, &gerr);
		if (g < 0)
			cc_warn("store gc: %s", gerr->msg); /* the removal itself succeeded */
		cc_error_free(&gerr);
		out.gc_deferred = g == 1;
		out.layers_removed = layers;
		out.blobs_removed = blobs;
		struct cc_log_field f[] = { { "cid", r->container_id }, { "image", ref } };
		cc_log_fields(CC_LOG_INFO, f, ARRAY_SIZE(f),
			      "removed %s (image record %s, %zu layers)", r->container_id,
			      out.image_removed ? "removed" : "kept", layers);
		answer(&out.base, resp, resp_len);
	}
	enclaveagent__remove_image_request__free_unpacked(r, NULL);
	return ret;
}

/* ---- ListImages ---- */

static json_int_t json_int(const json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

static const char *json_str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

int agent_list_images(struct tt_call *call, const uint8_t *req, size_t len, uint8_t **resp,
		      size_t *resp_len, void *data, struct cc_error **err)
{
	struct agent *a = data;
	Enclaveagent__ListImagesRequest *r =
	    tt_unpack(&enclaveagent__list_images_request__descriptor, req, len, err);
	if (!r)
		return -1;
	enclaveagent__list_images_request__free_unpacked(r, NULL);
	_cleanup_json_ json_t *list = agent_layout_list(a, err);
	if (!list)
		return -1;
	size_t n = json_array_size(list);
	Enclaveagent__ImageInfo *infos = xcalloc(n, sizeof(*infos));
	Enclaveagent__ImageInfo **ptrs = xcalloc(n, sizeof(*ptrs));
	for (size_t i = 0; i < n; i++) {
		const json_t *j = json_array_get(list, i);
		enclaveagent__image_info__init(&infos[i]);
		infos[i].container_id = (char *)json_str(j, "container_id");
		infos[i].image = (char *)json_str(j, "image");
		infos[i].reference = (char *)json_str(j, "reference");
		infos[i].digest = (char *)json_str(j, "manifest");
		infos[i].size = (uint64_t)json_int(j, "size");
		infos[i].layers = (uint32_t)json_array_size(json_object_get(j, "layers"));
		infos[i].pulled = (char *)json_str(j, "pulled");
		ptrs[i] = &infos[i];
	}
	Enclaveagent__ListImagesResponse out = ENCLAVEAGENT__LIST_IMAGES_RESPONSE__INIT;
	out.n_images = n;
	out.images = ptrs;
	answer(&out.base, resp, resp_len);
	free(ptrs);
	free(infos);
	return 0;
}

/* ---- Status ---- */

/* nftw has no context argument: the sum is per thread. */
static __thread uint64_t du_sum;

static int du_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	du_sum += (uint64_t)st->st_blocks * 512;
	return 0;
}

/* Allocated bytes under root, without crossing into other filesystems. Hard links count each
 * time: the figure is an upper bound. */
static uint64_t disk_usage(const char *root)
{
	du_sum = 0;
	nftw(root, du_entry, 32, FTW_PHYS | FTW_MOUNT);
	return du_sum;
}

/* Entries of dir whose name passes keep: counted, not read (Status stays cheap however many
 * images there are). */
static uint32_t count_entries(const char *dir, bool (*keep)(const char *name))
{
	_cleanup_closedir_ DIR *d = opendir(dir);
	struct dirent *de;
	uint32_t n = 0;
	while (d && (de = readdir(d)))
		n += keep(de->d_name);
	return n;
}

static bool is_record(const char *name)
{
	size_t n = strlen(name);
	return name[0] != '.' && n > 5 && !strcmp(name + n - 5, ".json");
}

static bool is_layout(const char *name)
{
	return agent_cid_check(name, NULL) == 0;
}

int agent_status(struct tt_call *call, const uint8_t *req, size_t len, uint8_t **resp,
		 size_t *resp_len, void *data, struct cc_error **err)
{
	struct agent *a = data;
	Enclaveagent__StatusRequest *r =
	    tt_unpack(&enclaveagent__status_request__descriptor, req, len, err);
	if (!r)
		return -1;
	bool usage = r->disk_usage;
	enclaveagent__status_request__free_unpacked(r, NULL);
	Enclaveagent__StatusResponse out = ENCLAVEAGENT__STATUS_RESPONSE__INIT;
	_cleanup_free_ char *records = cc_path_join(a->store_root, "images");
	pthread_mutex_lock(&a->lock);
	out.pulls_in_flight = a->pulls;
	out.requests_in_flight = a->requests;
	out.health = (char *)(a->stopping ? "NOT_SERVING" : "SERVING");
	pthread_mutex_unlock(&a->lock);
	out.version = (char *)RUNE_VERSION;
	out.uptime_seconds = (uint64_t)((agent_now_ns() - a->started_ns) / 1000000000LL);
	out.images = count_entries(records, is_record);
	out.containers = count_entries(a->images_root, is_layout);
	out.store_bytes = usage ? disk_usage(a->store_root) : 0;
	out.store_root = a->store_root;
	out.images_root = a->images_root;
	return answer(&out.base, resp, resp_len);
}
