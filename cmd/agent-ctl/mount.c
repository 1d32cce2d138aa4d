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
#include <poll.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/un.h>
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

/* ---- an encrypted store: the agent serves the view ---- */

#define VIEW_ANSWER_MAX 4096
#define VIEW_TIMEOUT_MS 30000

/* Connect to the agent's view socket, resolved inside its root: a link planted there cannot
 * send the request (and the FUSE descriptor) to another socket of the host. */
static int view_connect(int rootfd, const char *images)
{
	_cleanup_close_ int dirfd = cc_open_in_root(rootfd, images, O_PATH | O_DIRECTORY, 0);
	_cleanup_close_ int sockfd =
	    dirfd < 0 ? -1 : openat(dirfd, AGENT_VIEW_SOCKET, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	if (sockfd < 0 || fstat(sockfd, &st) < 0)
		return ctl_fail("the agent's view socket %s/%s (in its root): %s", images,
				AGENT_VIEW_SOCKET, strerror(errno)),
		       -1;
	if (!S_ISSOCK(st.st_mode))
		return ctl_fail("%s/%s in the agent's root is not a socket", images,
				AGENT_VIEW_SOCKET),
		       -1;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d", sockfd);
	int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ctl_fail("the agent's view socket %s/%s: %s", images, AGENT_VIEW_SOCKET,
			 strerror(errno));
		if (c >= 0)
			close(c);
		return -1;
	}
	return c;
}

/* One request (with fd when >= 0) and its answer: 0, or 1 after printing the agent's error. */
static int view_request(int rootfd, const char *images, const char *op, const char *cid, int fd)
{
	_cleanup_close_ int c = view_connect(rootfd, images);
	if (c < 0)
		return 1;
	_cleanup_json_ json_t *req = json_pack("{s:s,s:s}", "op", op, "cid", cid);
	_cleanup_free_ char *text = json_dumps(req, JSON_COMPACT);
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int))];
	} ctl = { 0 };
	struct iovec iov = { text, strlen(text) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (fd >= 0) {
		m.msg_control = ctl.b;
		m.msg_controllen = sizeof(ctl.b);
		struct cmsghdr *h = CMSG_FIRSTHDR(&m);
		h->cmsg_level = SOL_SOCKET;
		h->cmsg_type = SCM_RIGHTS;
		h->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(h), &fd, sizeof(int));
	}
	if (sendmsg(c, &m, MSG_NOSIGNAL) != (ssize_t)iov.iov_len)
		return ctl_fail("%s %s: send to the agent: %s", op, cid, strerror(errno));
	char ans[VIEW_ANSWER_MAX + 1];
	size_t len = 0;
	for (;;) {
		struct pollfd p = { c, POLLIN, 0 };
		if (poll(&p, 1, VIEW_TIMEOUT_MS) != 1)
			return ctl_fail("%s %s: no answer from the agent within %d s", op, cid,
					VIEW_TIMEOUT_MS / 1000);
		ssize_t n = read(c, ans + len, VIEW_ANSWER_MAX - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || (len += (size_t)n) == VIEW_ANSWER_MAX)
			break;
	}
	struct cc_error *err = NULL;
	_cleanup_json_ json_t *a = cc_json_load_buf("the agent's answer", ans, len, &err);
	if (!a) {
		ctl_fail("%s %s: %s", op, cid, err->msg);
		cc_error_free(&err);
		return 1;
	}
	if (json_is_true(json_object_get(a, "ok")))
		return 0;
	const char *why = json_string_value(json_object_get(a, "error"));
	char shown[CC_SHOWN_BUF];
	cc_shown(why ? why : "no reason given", why ? strlen(why) : 15, shown);
	return ctl_fail("%s %s: the agent: %s", op, cid, shown);
}

/* rootfs as a FUSE mount whose server is the agent: /dev/fuse opened and mounted here (the
 * agent needs no mount privilege), the descriptor handed to the agent. */
static int mount_view(int rootfd, const char *images, const char *cid, const char *rootfs)
{
	_cleanup_close_ int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return ctl_fail("mount %s: /dev/fuse: %s", cid, strerror(errno));
	_cleanup_free_ char *opts =
	    xasprintf("fd=%d,rootmode=40000,user_id=0,group_id=0,allow_other,default_permissions,"
		      "max_read=%u",
		      fd, 1u << 20);
	if (mkdir(rootfs, 0755) < 0 && errno != EEXIST)
		return ctl_fail("mount %s: %s: %s", cid, rootfs, strerror(errno));
	if (mount("store-view", rootfs, "fuse.store", 0, opts) < 0)
		return ctl_fail("mount %s: %s: %s", cid, rootfs, strerror(errno));
	if (view_request(rootfd, images, "serve", cid, fd) != 0) {
		CC_BEST_EFFORT(umount2(rootfs, MNT_DETACH)); /* nobody serves it */
		return 1;
	}
	return 0;
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
	bool enc = info && json_is_true(json_object_get(info, "encrypted"));
	_cleanup_strv_ char **dirs = info && !enc ? layer_dirs(rootfd, info, info_path) : NULL;
	if (enc)
		dirs = xcalloc(1, sizeof(char *));
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
	_cleanup_free_ char *layer = cc_path_join(bundle, ".layer");
	_cleanup_free_ char *view = cc_path_join(bundle, ".layer/view");
	if (enc) {
		/* the writable layer is the agent's; .layer/view names the container for umount */
		if (cc_mkdir_p(layer, 0700, &err) < 0 ||
		    cc_write_file_atomic(view, cid, strlen(cid), 0600, &err) < 0 ||
		    cc_write_file_atomic(cfg_out, bundle_cfg, strlen(bundle_cfg), 0644, &err) < 0) {
			ctl_fail("mount %s: %s", cid, err->msg);
			cc_error_free(&err);
			return 1;
		}
		if (mount_view(rootfd, o->images, cid, rootfs) != 0) {
			unlink(cfg_out);
			unlink(view);
			rmdir(layer);
			return 1;
		}
	} else if (cc_mkdir_p(bundle, 0755, &err) < 0 ||
		   cc_write_file_atomic(cfg_out, bundle_cfg, strlen(bundle_cfg), 0644, &err) < 0 ||
		   img_mount_overlay(dirs, cc_strv_len(dirs), upper, work, rootfs, &err) < 0) {
		ctl_fail("mount %s: %s", cid, err->msg);
		cc_error_free(&err);
		unlink(cfg_out);
		return 1;
	}
	if (o->json)
		printf("{\"bundle\": \"%s\", \"layers\": %zu}\n", bundle,
		       enc ? json_array_size(json_object_get(info, "diff_ids"))
			   : cc_strv_len(dirs));
	else
		printf("%s\n", bundle);
	return 0;
}

int ctl_umount(const struct ctl_options *o, const char *bundle)
{
	_cleanup_free_ char *rootfs = cc_path_join(bundle, "rootfs");
	_cleanup_free_ char *layer = cc_path_join(bundle, ".layer");
	_cleanup_free_ char *cfg = cc_path_join(bundle, "config.json");
	struct cc_error *err = NULL;
	/* A view of the agent's encrypted store: its writable layer is dropped by the agent. */
	_cleanup_free_ char *view = cc_path_join(layer, "view");
	char cid[AGENT_CID_MAX + 1];
	_cleanup_close_ int vfd = open(view, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	ssize_t n = vfd >= 0 ? cc_read_all(vfd, cid, sizeof(cid) - 1) : -1;
	cid[n > 0 ? n : 0] = '\0';
	if (vfd >= 0 && agent_cid_check(cid, &err) < 0) {
		ctl_fail("umount: %s: %s", view, err->msg);
		cc_error_free(&err);
		return 1;
	}
	if (umount2(rootfs, UMOUNT_NOFOLLOW) < 0)
		return ctl_fail("umount %s: %s", rootfs,
				errno == EINVAL ? "not a mount point" : strerror(errno));
	if (vfd >= 0) {
		_cleanup_close_ int rootfd = open(o->agent_root, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (rootfd < 0)
			return ctl_fail("umount: agent root %s: %s", o->agent_root,
					strerror(errno));
		if (view_request(rootfd, o->images, "drop", cid, -1) != 0)
			return 1;
	}
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
