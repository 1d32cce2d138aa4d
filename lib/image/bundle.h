/* SPDX-License-Identifier: Apache-2.0 */
/*
 * From a stored image to something rune runs: its layers mounted as an overlayfs rootfs with a
 * writable layer of the container's own (or a flattened copy where overlay is unavailable),
 * and an OCI config.json generated from the image config (Entrypoint/Cmd, Env, WorkingDir,
 * User, Labels) on top of rune's default spec.
 *
 * An image never configures an enclave: its ENCLAVE_* variables and enclave.* labels would
 * have rune load a library of the image's choosing, as root on the host. The generated config
 * carries none of them; enclave settings come only from the operator.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include "image/manifest.h"
#include "util/error.h"

/* Mount an overlayfs at target: lower = the layer directories (bottom first), upper and work
 * directories created if missing (same filesystem, work empty). */
CC_MUST_CHECK int img_mount_overlay(char *const *layers, size_t n, const char *upper,
				    const char *work, const char *target, struct cc_error **err);

/* The OCI runtime config for image config c, starting from default_spec (a JSON text, e.g.
 * rune's `spec` output). The user ("name", "uid", "uid:gid", "name:group") is resolved in the
 * rootfs' /etc/passwd and /etc/group, read without following links out of it. Enclave
 * settings are removed (img_bundle_strip_enclave), each with a warning through the log sink:
 * "image config: Env NAME dropped: ..." or "image config: label KEY dropped: ...". */
CC_MUST_CHECK json_t *img_bundle_config(const struct img_config *c, const char *default_spec,
					const char *rootfs, struct cc_error **err);
/* The same from the unmerged layer directories (overlay format, bottom first), for a rootfs
 * that is not mounted yet: /etc/passwd and /etc/group are looked up as overlayfs would show
 * them (the topmost copy, whiteouts and opaque directories honoured). */
CC_MUST_CHECK json_t *img_bundle_config_layers(const struct img_config *c, const char *default_spec,
					       char *const *layers, size_t n,
					       struct cc_error **err);
/* A file (at most 4 MiB) as overlayfs would show it over those layers, NULL when absent or
 * unreadable. Caller frees. */
char *img_layers_read_file(char *const *layers, size_t n, const char *path);

/* The same two from the layers of an encrypted store (lib/store), by diff_id, bottom first:
 * each layer's objects verified as they are read (damage is a warning, and the file is then
 * taken as unreadable). */
struct store;
CC_MUST_CHECK json_t *img_bundle_config_store(const struct img_config *c, const char *default_spec,
					      struct store *s, char *const *diff_ids, size_t n,
					      struct cc_error **err);
char *img_store_layers_read_file(struct store *s, char *const *diff_ids, size_t n,
				 const char *path);

/* Why, for the messages that name what img_bundle_strip_enclave removed. */
#define IMG_ENCLAVE_DROPPED_WHY "enclave settings come only from the operator"

/* What img_bundle_strip_enclave removed. */
enum img_enclave_setting {
	IMG_ENCLAVE_ENV,	/* a process.env entry whose name starts with ENCLAVE_ */
	IMG_ENCLAVE_ANNOTATION, /* an annotation whose key starts with enclave. */
};

/* Remove every enclave setting from the OCI runtime config `config`: the process.env entries
 * named ENCLAVE_* and the annotations keyed enclave.* (case-sensitive, as rune reads them).
 * dropped, when not NULL, is called once per removal with the variable's name (never its
 * value) or the annotation's key, made printable (other bytes as \xNN, cut after 128) and
 * valid during the call only. Returns how many were removed. */
int img_bundle_strip_enclave(json_t *config,
			     void (*dropped)(enum img_enclave_setting what, const char *name,
					     void *data),
			     void *data);
