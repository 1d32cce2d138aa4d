// SPDX-License-Identifier: Apache-2.0
/*
 * agent-ctl mount / umount: what shim-rune does upstream, on the host. The agent laid out
 * <images>/<cid>/ inside its own root (the agent bundle's rootfs); from image.json we find the
 * layer directories in its store and mount them, as seen from the host, as an overlayfs rootfs
 * with a writable layer of its own, next to a copy of the generated config.json:
 *
 *   BUNDLE/config.json   BUNDLE/rootfs (overlay)   BUNDLE/.layer/{upper,work}
 *
 * Everything read from the agent's root is resolved inside it (openat2 RESOLVE_IN_ROOT): a
 * symlink planted there cannot send us to another part of the host. What is read is no more
 * trusted than the agent's root: the config.json copy loses any enclave settings (an enclave
 * is the operator's to configure, not the image's nor the agent's).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include "agent-ctl.h"
#include "agent.h"
#include "image/bundle.h"
#include "image/reference.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/strv.h"

#define LAYOUT_MAX (4u << 20)

/* A file of the agent's root, read without leaving it. */
static char *read_in_agent(int rootfd, const char *path, size_t *len)
{
	_cleanup_close_ int fd = cc_open_in_root(rootfd, path, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0) {
		ctl_fail("%s (in the agent's root): %s", path, strerror(errno));
		return NULL;
	}
	char *text = xmalloc(LAYOUT_MAX + 1);
	ssize_t n = cc_read_all(fd, text, LAYOUT_MAX + 1);
	if (n < 0 || n > (ssize_t)LAYOUT_MAX) {
		ctl_fail("%s: %s", path, n < 0 ? strerror(errno) : "larger than 4 MiB");
		free(text);
		return NULL;
	}
	text[n] = '\0';
	*len = (size_t)n;
	return text;
}

/* "layers/<alg>/<hex>" for diff_id, exactly: image.json's layer paths are checked against
 * the digests instead of being trusted. */
static bool layer_path_ok(const char *path, const char *diff_id)
{
	if (!diff_id || !img_digest_valid(diff_id))
		return false;
	int alg = (int)strcspn(diff_id, ":");
	_cleanup_free_ char *want = xasprintf("layers/%.*s/%s", alg, diff_id, diff_id + alg + 1);
	return !strcmp(path, want);
}

/* The host paths of the layer directories (bottom first), each resolved inside the agent's
 * root; NULL after printing why. */
static char **layer_dirs(int rootfd, const json_t *info, const char *name)
{
	const char *store = json_string_value(json_object_get(info, "store"));
	const json_t *layers = json_object_get(info, "layers");
	const json_t *diff_ids = json_object_get(info, "diff_ids");
	if (!store || store[0] != '/' || !json_array_size(layers) ||
	    json_array_size(layers) != json_array_size(diff_ids)) {
		ctl_fail("%s: no valid \"store\", \"layers\" and \"diff_ids\"", name);
		return NULL;
	}
	_cleanup_strv_ char **dirs = xcalloc(1, sizeof(char *));
	for (size_t i = 0; i < json_array_size(layers); i++) {
		const char *rel = json_string_value(json_array_get(layers, i));
		const char *diff_id = json_string_value(json_array_get(diff_ids, i));
		if (!rel || !layer_path_ok(rel, diff_id)) {
			ctl_fail("%s: layer %zu: not a store path of its diff_id", name, i);
			return NULL;
		}
		_cleanup_free_ char *in_agent = cc_path_join(store, rel);
		_cleanup_close_ int fd =
		    cc_open_in_root(rootfd, in_agent, O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
		char proc[64], real[PATH_MAX];
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
		ssize_t n = fd >= 0 ? readlink(proc, real, sizeof(real) - 1) : -1;
		if (n < 0) {
			ctl_fail("%s: layer %zu (%s in the agent's root): %s", name, i, in_agent,
				 strerror(errno));
			return NULL;
		}
		real[n] = '\0';
		cc_strv_push(&dirs, real);
	}
	return steal_pointer(&dirs);
}

struct drop_ctx {
	const char *cid, *path;
};

static void warn_dropped(enum img_enclave_setting what, const char *name, void *data)
{
	const struct drop_ctx *c = data;
	ctl_warn("mount %s: %s: %s %s dropped: " IMG_ENCLAVE_DROPPED_WHY, c->cid, c->path,
		 what == IMG_ENCLAVE_ENV ? "process.env" : "annotation", name);
}

/* The bundle's config.json from the layout's (path, as the agent sees it): the same document
 * without enclave settings, one warning for each dropped. NULL after printing why. */
static char *bundle_config(const char *cid, const char *path, const char *text, size_t len)
{
	struct cc_error *err = NULL;
	_cleanup_json_ json_t *config = cc_json_load_buf(path, text, len, &err);
	if (!config) {
		ctl_fail("mount: %s", err->msg);
		cc_error_free(&err);
		return NULL;
	}
	if (!json_is_object(config)) {
		ctl_fail("mount: %s: not a JSON object", path);
		return NULL;
	}
	struct drop_ctx ctx = { cid, path };
	img_bundle_strip_enclave(config, warn_dropped, &ctx);
	_cleanup_free_ char *out = json_dumps(config, JSON_INDENT(2));
	if (!out) {
		ctl_fail("mount: %s: cannot serialise it", path);
		return NULL;
	}
	return xasprintf("%s\n", out);
}

/* Is path a mount point? */
static bool mounted(const char *path)
{
	_cleanup_free_ char *parent = xasprintf("%s/..", path);
	struct statx a, b;
	return statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &a) == 0 &&
	       statx(AT_FDCWD, parent, 0, STATX_MNT_ID, &b) == 0 &&
	       (a.stx_mask & b.stx_mask & STATX_MNT_ID) && a.stx_mnt_id != b.stx_mnt_id;
}

int ctl_mount(const struct ctl_options *o, const char *cid, const char *bundle)
{
	struct cc_error *err = NULL;
	if (agent_cid_check(cid, &err) < 0) {
		ctl_fail("mount: %s", err->msg);
		cc_error_free(&err);
		return 1;
	}
	_cleanup_close_ int rootfd = open(o->agent_root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return ctl_fail("mount: agent root %s: %s", o->agent_root, strerror(errno));
	_cleanup_free_ char *dir = cc_path_join(o->images, cid);
	_cleanup_free_ char *info_path = cc_path_join(dir, "image.json");
	_cleanup_free_ char *config_path = cc_path_join(dir, "config.json");
	size_t len, config_len;
	_cleanup_free_ char *text = read_in_agent(rootfd, info_path, &len);
	_cleanup_json_ json_t *info = text ? cc_json_load_buf(info_path, text, len, &err) : NULL;
	_cleanup_strv_ char **dirs = info ? layer_dirs(rootfd, info, info_path) : NULL;
	_cleanup_free_ char *config = dirs ? read_in_agent(rootfd, config_path, &config_len) : NULL;
	if (err) {
		ctl_fail("mount: %s", err->msg);
		cc_error_free(&err);
	}
	_cleanup_free_ char *bundle_cfg =
	    config ? bundle_config(cid, config_path, config, config_len) : NULL;
	if (!bundle_cfg)
		return 1;
	_cleanup_free_ char *rootfs = cc_path_join(bundle, "rootfs");
	_cleanup_free_ char *upper = cc_path_join(bundle, ".layer/upper");
	_cleanup_free_ char *work = cc_path_join(bundle, ".layer/work");
	_cleanup_free_ char *cfg_out = cc_path_join(bundle, "config.json");
	if (cc_path_exists(rootfs) && mounted(rootfs))
		return ctl_fail("mount: %s is mounted already", rootfs);
	if (cc_mkdir_p(bundle, 0755, &err) < 0 ||
	    cc_write_file_atomic(cfg_out, bundle_cfg, strlen(bundle_cfg), 0644, &err) < 0 ||
	    img_mount_overlay(dirs, cc_strv_len(dirs), upper, work, rootfs, &err) < 0) {
		ctl_fail("mount %s: %s", cid, err->msg);
		cc_error_free(&err);
		unlink(cfg_out);
		return 1;
	}
	if (o->json)
		printf("{\"bundle\": \"%s\", \"layers\": %zu}\n", bundle, cc_strv_len(dirs));
	else
		printf("%s\n", bundle);
	return 0;
}

int ctl_umount(const char *bundle)
{
	_cleanup_free_ char *rootfs = cc_path_join(bundle, "rootfs");
	_cleanup_free_ char *layer = cc_path_join(bundle, ".layer");
	_cleanup_free_ char *cfg = cc_path_join(bundle, "config.json");
	struct cc_error *err = NULL;
	if (umount2(rootfs, UMOUNT_NOFOLLOW) < 0)
		return ctl_fail("umount %s: %s", rootfs,
				errno == EINVAL ? "not a mount point" : strerror(errno));
	/* What mount made, and only that: the bundle directory goes if it is empty then. */
	if (cc_rm_rf(layer, &err) < 0) {
		ctl_fail("umount: %s", err->msg);
		cc_error_free(&err);
		return 1;
	}
	unlink(cfg);
	rmdir(rootfs);
	rmdir(bundle);
	return 0;
}
