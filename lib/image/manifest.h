/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Image documents as registries serve them: OCI image indexes and manifests, Docker manifest
 * lists and schema-2 manifests, and image configs. Everything here comes from the network:
 * sizes are bounded, digests and media types validated, and every refusal names the document
 * and the field.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "util/error.h"

#define IMG_MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define IMG_MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define IMG_MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define IMG_MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define IMG_MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define IMG_MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"

/* What the registry may send for GET /v2/<name>/manifests/<ref>, for the Accept header. */
#define IMG_MANIFEST_ACCEPT                                               \
	IMG_MT_OCI_INDEX ", " IMG_MT_OCI_MANIFEST ", " IMG_MT_DOCKER_LIST \
			 ", " IMG_MT_DOCKER_MANIFEST

/* Registries' documents are small; containerd refuses manifests above 4 MiB too. */
#define IMG_MANIFEST_MAX (4u << 20)
#define IMG_CONFIG_MAX (8u << 20)
#define IMG_LAYERS_MAX 1024u

enum img_doc_kind { IMG_DOC_INDEX, IMG_DOC_MANIFEST };

/* How a layer blob is encoded. Encrypted layers (ocicrypt "+encrypted") are recognised so
 * that a decryption stage can take them; the rest of the pipeline sees the inner encoding. */
enum img_compression { IMG_LAYER_TAR, IMG_LAYER_GZIP, IMG_LAYER_ZSTD };

struct img_platform {
	char *os, *architecture, *variant, *os_version;
};

struct img_descriptor {
	char *media_type;
	char *digest;
	int64_t size;
	bool has_platform;
	struct img_platform platform;
	/* layers only */
	enum img_compression compression;
	bool encrypted;
	bool foreign;	     /* "nondistributable" layers (fetched from urls, not the registry) */
	json_t *annotations; /* borrowed from the document, may be NULL */
};

struct img_document {
	enum img_doc_kind kind;
	char *media_type;
	/* index: the manifests it lists; manifest: config + layers */
	struct img_descriptor *manifests;
	size_t n_manifests;
	struct img_descriptor config;
	struct img_descriptor *layers;
	size_t n_layers;
	json_t *raw;
};

/* Parse a manifest or index. `name` names it in messages (e.g. the reference or digest);
 * content_type is the registry's Content-Type (may be NULL): the document's own mediaType
 * wins, and the two must not disagree. */
CC_MUST_CHECK struct img_document *img_document_parse(const char *name, const char *buf, size_t len,
						      const char *content_type,
						      struct cc_error **err);
void img_document_free(struct img_document *d);

/* The host's platform in OCI terms (linux/amd64, linux/arm64/v8, linux/arm/v7, ...). */
void img_platform_host(struct img_platform *p);
void img_platform_clear(struct img_platform *p);
/* "os/arch[/variant]"; parse accepts the same, with the variant optional. */
char *img_platform_string(const struct img_platform *p);
CC_MUST_CHECK int img_platform_parse(const char *text, struct img_platform *p,
				     struct cc_error **err);
/* Does an index entry's platform satisfy want (variants normalised: arm64 "" = "v8",
 * arm "" = "v7"; an entry without variant matches any wanted variant)? */
bool img_platform_match(const struct img_platform *have, const struct img_platform *want);
/* The first manifest of an index for want; the error lists the platforms the index has.
 * name names the index in messages. An entry that is itself an index, for want or for no
 * platform, is refused as skopeo refuses it (IMG_ERR_INVALID, "index NAME: entry sha256:..
 * is itself an index (nested indexes are not supported)"), unless a manifest for want comes
 * first. */
CC_MUST_CHECK const struct img_descriptor *img_index_select(const struct img_document *index,
							    const struct img_platform *want,
							    const char *name,
							    struct cc_error **err);

struct img_config {
	struct img_platform platform;
	char **diff_ids; /* "sha256:..." per layer, bottom first */
	size_t n_diff_ids;
	/* the runtime part ("config" object); any may be NULL */
	char *user, *working_dir, *stop_signal;
	char **env, **entrypoint, **cmd;
	json_t *labels;
	json_t *raw;
};

CC_MUST_CHECK struct img_config *img_config_parse(const char *name, const char *buf, size_t len,
						  struct cc_error **err);
void img_config_free(struct img_config *c);
