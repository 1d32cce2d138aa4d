// SPDX-License-Identifier: Apache-2.0
/* Overlay rootfs mounts and bundle configs. See bundle.h. */
#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include "image/bundle.h"
#include "store/layer.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/log.h"
#include "util/strv.h"

#define PASSWD_MAX (4u << 20)
#define ENCLAVE_ENV_PREFIX "ENCLAVE_"
#define ENCLAVE_ANNOTATION_PREFIX "enclave."

/* The kernel explains refused overlay options in the fs context's log. */
static void context_message(int fs, char *buf, size_t len)
{
	ssize_t n = read(fs, buf, len - 1);
	buf[n > 0 ? n : 0] = '\0';
	if (n > 0 && buf[n - 1] == '\n')
		buf[n - 1] = '\0';
}

int img_mount_overlay(char *const *layers, size_t n, const char *upper, const char *work,
		      const char *target, struct cc_error **err)
{
	if (!n)
		return cc_error_set(err, 0, "overlay: an image without layers has no rootfs");
	if (cc_mkdir_p(upper, 0755, err) < 0 || cc_mkdir_p(work, 0700, err) < 0 ||
	    cc_mkdir_p(target, 0755, err) < 0)
		return -1;
	_cleanup_close_ int fs = (int)syscall(SYS_fsopen, "overlay", FSOPEN_CLOEXEC);
	if (fs < 0)
		return cc_error_errno(err, "overlay: fsopen");
	/* "lowerdir+" takes one layer at a time, topmost first: no length limit. */
	for (size_t i = n; i-- > 0;)
		if (syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "lowerdir+", layers[i], 0) < 0) {
			char msg[256];
			context_message(fs, msg, sizeof(msg));
			return cc_error_errno(err, "overlay: layer %s%s%s", layers[i],
					      *msg ? ": " : "", msg);
		}
	if (syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "upperdir", upper, 0) < 0 ||
	    syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "workdir", work, 0) < 0 ||
	    syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
		char msg[256];
		context_message(fs, msg, sizeof(msg));
		return cc_error_errno(err, "overlay: mount on %s%s%s", target, *msg ? ": " : "",
				      msg);
	}
	_cleanup_close_ int mnt = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, 0);
	if (mnt < 0 ||
	    syscall(SYS_move_mount, mnt, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return cc_error_errno(err, "overlay: attach on %s", target);
	return 0;
}

/* ---- config ---- */

/* A file of the image, resolved inside its rootfs (links cannot lead out of it). */
static char *read_in_rootfs(int rootfd, const char *path)
{
	_cleanup_close_ int fd = cc_open_in_root(rootfd, path, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return NULL;
	char *buf = xmalloc(PASSWD_MAX + 1);
	ssize_t n = cc_read_all(fd, buf, PASSWD_MAX);
	if (n < 0) {
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	return buf;
}

/* Field `field` (0-based) of the line of a colon file whose field `key` equals value. */
static bool colon_lookup(const char *text, int key, const char *value, int field, char *out,
			 size_t len)
{
	for (const char *line = text; line && *line;) {
		const char *end = strchr(line, '\n');
		size_t ll = end ? (size_t)(end - line) : strlen(line);
		_cleanup_free_ char *copy = xstrndup(line, ll);
		char *fields[8] = { 0 }, *p = copy;
		int nf = 0;
		while (nf < 8) {
			fields[nf++] = p;
			char *c = strchr(p, ':');
			if (!c)
				break;
			*c = '\0';
			p = c + 1;
		}
		if (nf > key && nf > field && !strcmp(fields[key], value)) {
			snprintf(out, len, "%s", fields[field]);
			return true;
		}
		line = end ? end + 1 : NULL;
	}
	return false;
}

static bool parse_id(const char *s, unsigned long *out)
{
	char *end;
	if (!*s || strspn(s, "0123456789") != strlen(s))
		return false;
	*out = strtoul(s, &end, 10);
	return *out <= 0xfffffffeUL;
}

/* Supplementary groups of user from /etc/group (member lists). */
static json_t *member_groups(const char *group_text, const char *user, unsigned long primary)
{
	json_t *gids = json_array();
	for (const char *line = group_text; user && line && *line;) {
		const char *end = strchr(line, '\n');
		_cleanup_free_ char *copy =
		    xstrndup(line, end ? (size_t)(end - line) : strlen(line));
		char *f[4] = { 0 };
		char *p = copy;
		for (int i = 0; i < 4 && p; i++) {
			f[i] = p;
			p = strchr(p, ':');
			if (p)
				*p++ = '\0';
		}
		unsigned long gid;
		if (f[3] && f[2] && parse_id(f[2], &gid) && gid != primary) {
			char *save = NULL;
			for (char *m = strtok_r(f[3], ",", &save); m;
			     m = strtok_r(NULL, ",", &save))
				if (!strcmp(m, user))
					json_array_append_new(gids, json_integer((json_int_t)gid));
		}
		line = end ? end + 1 : NULL;
	}
	return gids;
}

/* passwd and group: the image's /etc/passwd and /etc/group, NULL when it has none. */
static int resolve_user(const char *spec, const char *passwd, const char *group, json_t *user,
			struct cc_error **err)
{
	_cleanup_free_ char *copy = xstrdup(spec && *spec ? spec : "0");
	char *grp = strchr(copy, ':');
	if (grp)
		*grp++ = '\0';
	unsigned long uid, gid = 0;
	char field[256];
	const char *name = NULL;
	if (parse_id(copy, &uid)) {
		if (passwd && colon_lookup(passwd, 2, copy, 3, field, sizeof(field)))
			parse_id(field, &gid);
		if (passwd && colon_lookup(passwd, 2, copy, 0, field, sizeof(field)))
			name = field;
	} else {
		if (!passwd || !colon_lookup(passwd, 0, copy, 2, field, sizeof(field)) ||
		    !parse_id(field, &uid))
			return cc_error_set(err, 0,
					    "image user \"%s\": no such user in the image's "
					    "/etc/passwd",
					    copy);
		colon_lookup(passwd, 0, copy, 3, field, sizeof(field));
		parse_id(field, &gid);
		name = copy;
	}
	if (grp && !parse_id(grp, &gid)) {
		if (!group || !colon_lookup(group, 0, grp, 2, field, sizeof(field)) ||
		    !parse_id(field, &gid))
			return cc_error_set(err, 0,
					    "image group \"%s\": no such group in the "
					    "image's /etc/group",
					    grp);
	}
	_cleanup_free_ char *uname = name ? xstrdup(name) : NULL;
	json_object_set_new(user, "uid", json_integer((json_int_t)uid));
	json_object_set_new(user, "gid", json_integer((json_int_t)gid));
	json_t *extra = member_groups(group, uname, gid);
	if (json_array_size(extra))
		json_object_set_new(user, "additionalGids", extra);
	else
		json_decref(extra);
	return 0;
}

static void merge_env(json_t *env, char *const *image_env)
{
	for (size_t i = 0; image_env && image_env[i]; i++) {
		size_t klen = strcspn(image_env[i], "=");
		size_t k;
		json_t *v;
		bool replaced = false;
		json_array_foreach (env, k, v) {
			const char *s = json_string_value(v);
			if (s && !strncmp(s, image_env[i], klen) && s[klen] == '=') {
				json_array_set_new(env, k, json_string(image_env[i]));
				replaced = true;
				break;
			}
		}
		if (!replaced)
			json_array_append_new(env, json_string(image_env[i]));
	}
}

/* ---- enclave settings ---- */

static int strip_env(json_t *config,
		     void (*dropped)(enum img_enclave_setting, const char *, void *), void *data)
{
	json_t *env = json_object_get(json_object_get(config, "process"), "env");
	size_t prefix = strlen(ENCLAVE_ENV_PREFIX);
	char name[CC_SHOWN_BUF]; /* the image chose it */
	int n = 0;
	for (size_t i = 0; i < json_array_size(env);) {
		const char *s = json_string_value(json_array_get(env, i));
		if (!s || strncmp(s, ENCLAVE_ENV_PREFIX, prefix) != 0) {
			i++;
			continue;
		}
		if (dropped) {
			cc_shown(s, strcspn(s, "="), name);
			dropped(IMG_ENCLAVE_ENV, name, data);
		}
		json_array_remove(env, i);
		n++;
	}
	return n;
}

static int strip_annotations(json_t *config,
			     void (*dropped)(enum img_enclave_setting, const char *, void *),
			     void *data)
{
	json_t *annotations = json_object_get(config, "annotations");
	size_t prefix = strlen(ENCLAVE_ANNOTATION_PREFIX);
	char name[CC_SHOWN_BUF]; /* the image chose it */
	int n = 0;
	if (!json_is_object(annotations))
		return 0;
	for (void *it = json_object_iter(annotations), *next; it; it = next) {
		const char *key = json_object_iter_key(it);
		next = json_object_iter_next(annotations, it); /* before it goes */
		if (strncmp(key, ENCLAVE_ANNOTATION_PREFIX, prefix) != 0)
			continue;
		if (dropped) {
			cc_shown(key, strlen(key), name);
			dropped(IMG_ENCLAVE_ANNOTATION, name, data);
		}
		json_object_del(annotations, key);
		n++;
	}
	return n;
}

int img_bundle_strip_enclave(json_t *config,
			     void (*dropped)(enum img_enclave_setting what, const char *name,
					     void *data),
			     void *data)
{
	int n = strip_env(config, dropped, data);
	return n + strip_annotations(config, dropped, data);
}

static void warn_dropped(enum img_enclave_setting what, const char *name, void *data)
{
	(void)data;
	cc_warn("image config: %s %s dropped: " IMG_ENCLAVE_DROPPED_WHY,
		what == IMG_ENCLAVE_ENV ? "Env" : "label", name);
}

/* ---- the runtime config ---- */

static json_t *bundle_config(const struct img_config *c, const char *default_spec,
			     const char *passwd, const char *group, struct cc_error **err)
{
	_cleanup_json_ json_t *spec =
	    cc_json_load_buf("default spec", default_spec, strlen(default_spec), err);
	json_t *process = spec ? json_object_get(spec, "process") : NULL;
	if (!process) {
		if (spec)
			cc_error_set(err, 0, "default spec: no process");
		return NULL;
	}
	json_t *args = json_array();
	for (size_t i = 0; c->entrypoint && c->entrypoint[i]; i++)
		json_array_append_new(args, json_string(c->entrypoint[i]));
	for (size_t i = 0; c->cmd && c->cmd[i]; i++)
		json_array_append_new(args, json_string(c->cmd[i]));
	if (!json_array_size(args)) {
		json_decref(args);
		cc_error_set(err, 0, "image config has neither Entrypoint nor Cmd: nothing to run");
		return NULL;
	}
	json_object_set_new(process, "args", args);
	json_object_set_new(process, "terminal", json_false());
	json_t *env = json_object_get(process, "env");
	if (!json_is_array(env)) {
		env = json_array();
		json_object_set_new(process, "env", env);
	}
	merge_env(env, c->env);
	json_object_set_new(process, "cwd",
			    json_string(c->working_dir && *c->working_dir ? c->working_dir : "/"));
	json_t *user = json_object();
	if (resolve_user(c->user, passwd, group, user, err) < 0) {
		json_decref(user);
		return NULL;
	}
	json_object_set_new(process, "user", user);
	json_object_set_new(spec, "root", json_pack("{s:s,s:b}", "path", "rootfs", "readonly", 0));
	bool labelled = c->labels && json_object_size(c->labels);
	if (labelled)
		json_object_set_new(spec, "annotations", json_copy(c->labels));
	img_bundle_strip_enclave(spec, warn_dropped, NULL);
	if (labelled && !json_object_size(json_object_get(spec, "annotations")))
		json_object_del(spec, "annotations");
	return json_incref(spec);
}

json_t *img_bundle_config(const struct img_config *c, const char *default_spec, const char *rootfs,
			  struct cc_error **err)
{
	_cleanup_close_ int rootfd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	_cleanup_free_ char *passwd = rootfd >= 0 ? read_in_rootfs(rootfd, "/etc/passwd") : NULL;
	_cleanup_free_ char *group = rootfd >= 0 ? read_in_rootfs(rootfd, "/etc/group") : NULL;
	return bundle_config(c, default_spec, passwd, group, err);
}

/* ---- files of unmerged layers ---- */

static bool is_whiteout(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0);
}

static bool is_opaque(int dirfd)
{
	char v[2];
	return (fgetxattr(dirfd, "trusted.overlay.opaque", v, sizeof(v)) == 1 && v[0] == 'y') ||
	       (fgetxattr(dirfd, "user.overlay.opaque", v, sizeof(v)) == 1 && v[0] == 'y');
}

/* path in one overlay-format layer: 1 with *out (the file's text), 0 when the layer does not
 * have it (look lower), -1 when the layer hides the lower ones' (a whiteout, an opaque
 * directory, a non-directory where a directory is needed). */
static int layer_lookup(const char *layer, const char *path, char **out)
{
	_cleanup_strv_ char **parts = cc_strv_split(path[0] == '/' ? path + 1 : path, '/');
	_cleanup_close_ int dirfd = open(layer, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	size_t n = cc_strv_len(parts);
	bool opaque = false;
	for (size_t i = 0; dirfd >= 0 && i < n; i++) {
		struct stat st;
		if (!*parts[i] || !strcmp(parts[i], ".") || !strcmp(parts[i], ".."))
			return -1;
		if (fstatat(dirfd, parts[i], &st, AT_SYMLINK_NOFOLLOW) < 0)
			return errno == ENOENT && !opaque ? 0 : -1;
		if (is_whiteout(&st))
			return -1;
		if (i + 1 == n) {
			/* A link is followed within this layer only: the merged view's answer
			 * when the target is there too, which is the usual case (alternatives). */
			_cleanup_close_ int root = open(layer, O_PATH | O_DIRECTORY | O_CLOEXEC);
			*out = root >= 0 ? read_in_rootfs(root, path) : NULL;
			return *out ? 1 : -1;
		}
		if (!S_ISDIR(st.st_mode))
			return -1;
		int next = openat(dirfd, parts[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(dirfd);
		dirfd = next;
		opaque = dirfd >= 0 && is_opaque(dirfd);
	}
	return dirfd >= 0 ? 0 : -1;
}

char *img_layers_read_file(char *const *layers, size_t n, const char *path)
{
	for (size_t i = n; i-- > 0;) {
		char *text = NULL;
		int r = layer_lookup(layers[i], path, &text);
		if (r != 0)
			return text;
	}
	return NULL;
}

json_t *img_bundle_config_layers(const struct img_config *c, const char *default_spec,
				 char *const *layers, size_t n, struct cc_error **err)
{
	_cleanup_free_ char *passwd = img_layers_read_file(layers, n, "/etc/passwd");
	_cleanup_free_ char *group = img_layers_read_file(layers, n, "/etc/group");
	return bundle_config(c, default_spec, passwd, group, err);
}

/* ---- files of an encrypted store's layers ---- */

/* The file ino of layer r names (path, in the layer): a link at the end followed within the
 * layer (8 links at most); 1 with *out, -1 when it cannot be read. */
static int store_read_file(struct store_layer_reader *r, struct store_inode *ino, const char *path,
			   char **out, struct cc_error **err)
{
	_cleanup_free_ char *cur = xstrdup(path);
	for (int links = 0; store_layer_getattr(ino)->type == STORE_TYPE_SYMLINK; links++) {
		_cleanup_free_ char *target = links < 8 ? store_layer_readlink(r, ino, err) : NULL;
		if (!target)
			return -1;
		char *slash = strrchr(cur, '/');
		*(slash ? slash : cur) = '\0';
		_cleanup_free_ char *joined =
		    target[0] == '/' ? xstrdup(target) : xasprintf("/%s/%s", cur, target);
		/* lexically, inside the layer's root: ".." stops at the root */
		_cleanup_free_ char *clean = cc_path_clean(joined);
		const char *rel = clean;
		while (*rel == '/')
			rel++;
		free(cur);
		cur = xstrdup(rel);
		if (store_layer_lookup_path(r, cur, &ino, err) != STORE_FOUND)
			return -1;
	}
	if (store_layer_getattr(ino)->type != STORE_TYPE_REG || store_layer_size(ino) > PASSWD_MAX)
		return -1;
	size_t size = (size_t)store_layer_size(ino);
	char *buf = xmalloc(size + 1);
	if (store_layer_read(r, ino, buf, size, 0, err) != (ssize_t)size) {
		free(buf);
		return -1;
	}
	buf[size] = '\0';
	*out = buf;
	return 1;
}

/* path in one layer of the encrypted store, as layer_lookup in a directory: 1 with *out, 0
 * when the layer does not have it, -1 when it hides the lower ones' (or cannot be read). */
static int store_lookup(struct store *s, const char *diff_id, const char *path, char **out)
{
	struct cc_error *err = NULL;
	struct store_layer_reader *r = NULL;
	_cleanup_strv_ char **parts = cc_strv_split(path[0] == '/' ? path + 1 : path, '/');
	size_t n = cc_strv_len(parts);
	int ret = store_layer_open(s, diff_id, &r, &err) < 0 || n == 0 ? -1 : 0;
	struct store_inode *dir = r ? store_layer_root(r) : NULL, *ino = NULL;
	bool opaque = false;
	for (size_t i = 0; i < n && ret == 0; i++) {
		int k = store_layer_lookup(r, dir, parts[i], &ino, &err);
		if (k == STORE_ABSENT) {
			ret = opaque ? -1 : 0;
			break;
		}
		if (k != STORE_FOUND)
			ret = -1;
		else if (i + 1 == n)
			ret = store_read_file(r, ino, path[0] == '/' ? path + 1 : path, out, &err);
		else if (store_layer_getattr(ino)->type != STORE_TYPE_DIR)
			ret = -1;
		else
			opaque = store_layer_getattr(dir = ino)->flags & STORE_FLAG_OPAQUE;
	}
	if (err) {
		cc_warn("layer %s: %s: %s", diff_id, path, err->msg);
		cc_error_free(&err);
	}
	store_layer_close(r);
	return ret;
}

char *img_store_layers_read_file(struct store *s, char *const *diff_ids, size_t n, const char *path)
{
	for (size_t i = n; i-- > 0;) {
		char *text = NULL;
		if (store_lookup(s, diff_ids[i], path, &text) != 0)
			return text;
	}
	return NULL;
}

json_t *img_bundle_config_store(const struct img_config *c, const char *default_spec,
				struct store *s, char *const *diff_ids, size_t n,
				struct cc_error **err)
{
	_cleanup_free_ char *passwd = img_store_layers_read_file(s, diff_ids, n, "/etc/passwd");
	_cleanup_free_ char *group = img_store_layers_read_file(s, diff_ids, n, "/etc/group");
	return bundle_config(c, default_spec, passwd, group, err);
}
