// SPDX-License-Identifier: Apache-2.0
/* agent-ctl's calls to enclave-agent: pull, list, remove, status. See agent-ctl.h. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include "agent-ctl.h"
#include "agent.h"
#include "agent.pb-c.h"
#include "image.pb-c.h"
#include "ttrpc/ttrpc.h"
#include "util/cleanup.h"
#include "util/strv.h"
#include "util/json.h"

#define CONNECT_TIMEOUT_NS (10 * 1000000000LL)

/* One call on a fresh connection (as the shim does); the answer's payload or NULL after
 * printing "CODE_NAME: message" (the agent's messages say what failed). */
static uint8_t *call(const struct ctl_options *o, const char *service, const char *method,
		     const ProtobufCMessage *req, size_t *resp_len)
{
	struct cc_error *err = NULL;
	struct tt_client *c = tt_client_connect(o->connect, CONNECT_TIMEOUT_NS, &err);
	if (!c) {
		ctl_fail("%s: %s", tt_code_name(err->code ? err->code : TT_UNAVAILABLE), err->msg);
		cc_error_free(&err);
		return NULL;
	}
	size_t len = protobuf_c_message_get_packed_size(req);
	_cleanup_free_ uint8_t *buf = xmalloc(len);
	protobuf_c_message_pack(req, buf);
	uint8_t *resp = NULL;
	*resp_len = 0;
	int r = tt_client_call(c, service, method, buf, len, o->timeout_ns, NULL, 0, &resp,
			       resp_len, &err);
	OPENSSL_cleanse(buf, len); /* may hold credentials */
	tt_client_close(c);
	if (r < 0) {
		ctl_fail("%s: %s", tt_code_name(err->code), err->msg);
		cc_error_free(&err);
		return NULL;
	}
	return resp ? resp : xzalloc(1);
}

static void print_json(json_t *j)
{
	_cleanup_free_ char *s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
	printf("%s\n", s);
	json_decref(j);
}

/* The agent's images directory, for telling where a pull was laid out; NULL when the agent
 * does not serve our Admin service (an upstream agent). */
static char *images_root(const struct ctl_options *o)
{
	Enclaveagent__StatusRequest req = ENCLAVEAGENT__STATUS_REQUEST__INIT;
	struct cc_error *err = NULL;
	struct tt_client *c = tt_client_connect(o->connect, CONNECT_TIMEOUT_NS, &err);
	uint8_t buf[8], *resp = NULL; /* an empty request packs to nothing */
	size_t len = 0;
	char *out = NULL;
	size_t n = protobuf_c_message_pack(&req.base, buf);
	if (c && tt_client_call(c, "enclaveagent.Admin", "Status", buf, n, 5 * 1000000000LL, NULL,
				0, &resp, &len, &err) == 0) {
		Enclaveagent__StatusResponse *s =
		    enclaveagent__status_response__unpack(NULL, len, resp ? resp : buf);
		if (s && *s->images_root)
			out = xstrdup(s->images_root);
		if (s)
			enclaveagent__status_response__free_unpacked(s, NULL);
	}
	cc_error_free(&err);
	tt_client_close(c);
	free(resp);
	return out;
}

int ctl_pull(struct ctl_options *o)
{
	_cleanup_free_ char *cid = o->cid ? xstrdup(o->cid) : agent_cid_from_image(o->image);
	Grpc__PullImageRequest req = GRPC__PULL_IMAGE_REQUEST__INIT;
	req.image = (char *)o->image;
	req.container_id = cid;
	req.source_creds = (char *)(o->creds ? o->creds : "");
	size_t len;
	_cleanup_free_ uint8_t *resp = call(o, "grpc.Image", "PullImage", &req.base, &len);
	if (!resp)
		return 1;
	Grpc__PullImageResponse *r = grpc__pull_image_response__unpack(NULL, len, resp);
	if (!r)
		return ctl_fail("pull: the agent's answer is not a PullImageResponse");
	_cleanup_free_ char *root = images_root(o);
	_cleanup_free_ char *layout = root ? xasprintf("%s/%s", root, cid) : NULL;
	if (o->json) {
		json_t *j = json_pack("{s:s,s:s}", "image_ref", r->image_ref, "container_id", cid);
		if (layout)
			json_object_set_new(j, "layout", json_string(layout));
		print_json(j);
	} else {
		printf("image_ref: %s\ncontainer_id: %s\n", r->image_ref, cid);
		if (layout)
			printf("layout: %s\n", layout);
	}
	grpc__pull_image_response__free_unpacked(r, NULL);
	return 0;
}

static void print_images(const Enclaveagent__ListImagesResponse *r, bool json)
{
	json_t *list = json_array();
	if (!json)
		printf("%-24s %-48s %-19s %-9s %s\n", "CONTAINER ID", "IMAGE", "DIGEST", "SIZE",
		       "PULLED");
	for (size_t i = 0; i < r->n_images; i++) {
		const Enclaveagent__ImageInfo *m = r->images[i];
		char size[32];
		cc_format_bytes(m->size, size, sizeof(size));
		if (!json)
			printf("%-24s %-48s %-19.19s %-9s %s\n", m->container_id, m->image,
			       m->digest, size, m->pulled);
		json_array_append_new(
		    list, json_pack("{s:s,s:s,s:s,s:s,s:I,s:i,s:s}", "container_id",
				    m->container_id, "image", m->image, "reference", m->reference,
				    "digest", m->digest, "size", (json_int_t)m->size, "layers",
				    (int)m->layers, "pulled", m->pulled));
	}
	if (json)
		print_json(list);
	else
		json_decref(list);
}

int ctl_list(const struct ctl_options *o)
{
	Enclaveagent__ListImagesRequest req = ENCLAVEAGENT__LIST_IMAGES_REQUEST__INIT;
	size_t len;
	_cleanup_free_ uint8_t *resp = call(o, "enclaveagent.Admin", "ListImages", &req.base, &len);
	if (!resp)
		return 1;
	Enclaveagent__ListImagesResponse *r =
	    enclaveagent__list_images_response__unpack(NULL, len, resp);
	if (!r)
		return ctl_fail("list: the agent's answer is not a ListImagesResponse");
	print_images(r, o->json);
	enclaveagent__list_images_response__free_unpacked(r, NULL);
	return 0;
}

int ctl_remove(const struct ctl_options *o, const char *cid)
{
	Enclaveagent__RemoveImageRequest req = ENCLAVEAGENT__REMOVE_IMAGE_REQUEST__INIT;
	req.container_id = (char *)cid;
	size_t len;
	_cleanup_free_ uint8_t *resp =
	    call(o, "enclaveagent.Admin", "RemoveImage", &req.base, &len);
	if (!resp)
		return 1;
	Enclaveagent__RemoveImageResponse *r =
	    enclaveagent__remove_image_response__unpack(NULL, len, resp);
	if (!r)
		return ctl_fail("remove: the agent's answer is not a RemoveImageResponse");
	if (o->json)
		print_json(json_pack("{s:s,s:b,s:I,s:I,s:b}", "container_id", cid, "image_removed",
				     r->image_removed, "layers_removed",
				     (json_int_t)r->layers_removed, "blobs_removed",
				     (json_int_t)r->blobs_removed, "gc_deferred", r->gc_deferred));
	else if (r->gc_deferred)
		printf("removed %s (image record %s; unused layers go once pulls finish)\n", cid,
		       r->image_removed ? "removed" : "kept");
	else
		printf("removed %s (image record %s; %llu layers and %llu blobs collected)\n", cid,
		       r->image_removed ? "removed" : "kept", (unsigned long long)r->layers_removed,
		       (unsigned long long)r->blobs_removed);
	enclaveagent__remove_image_response__free_unpacked(r, NULL);
	return 0;
}

int ctl_status(const struct ctl_options *o)
{
	Enclaveagent__StatusRequest req = ENCLAVEAGENT__STATUS_REQUEST__INIT;
	req.disk_usage = true;
	size_t len;
	_cleanup_free_ uint8_t *resp = call(o, "enclaveagent.Admin", "Status", &req.base, &len);
	if (!resp)
		return 1;
	Enclaveagent__StatusResponse *r = enclaveagent__status_response__unpack(NULL, len, resp);
	if (!r)
		return ctl_fail("status: the agent's answer is not a StatusResponse");
	json_t *j = json_pack("{s:s,s:s,s:I,s:i,s:i,s:i,s:i,s:I,s:s,s:s}", "version", r->version,
			      "health", r->health, "uptime_seconds", (json_int_t)r->uptime_seconds,
			      "pulls_in_flight", (int)r->pulls_in_flight, "requests_in_flight",
			      (int)r->requests_in_flight, "images", (int)r->images, "containers",
			      (int)r->containers, "store_bytes", (json_int_t)r->store_bytes,
			      "store_root", r->store_root, "images_root", r->images_root);
	if (o->json) {
		print_json(j);
	} else {
		char size[32];
		cc_format_bytes(r->store_bytes, size, sizeof(size));
		printf("version: %s\nhealth: %s\nuptime: %llus\npulls in flight: %u (%u requests)\n"
		       "images: %u\ncontainers: %u\nstore: %s (%s)\nimages root: %s\n",
		       r->version, r->health, (unsigned long long)r->uptime_seconds,
		       r->pulls_in_flight, r->requests_in_flight, r->images, r->containers,
		       r->store_root, size, r->images_root);
		json_decref(j);
	}
	enclaveagent__status_response__free_unpacked(r, NULL);
	return 0;
}
