// SPDX-License-Identifier: Apache-2.0
/*
 * rune-image over an encrypted store: the store key from --store-key, and the union view
 * (lib/store/view.h) served by a daemon of its own for mount and bundle.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "image/reference.h"
#include "image/store.h"
#include "image/stream.h"
#include "rune-image.h"
#include "store/store.h"
#include "store/view.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/hex.h"
#include "util/log.h"
#include "util/strv.h"

int ri_read_store_key(const char *path, uint8_t key[STORE_KEY_LEN], struct cc_error **err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		return cc_error_errno(err, "store key %s", path);
	if (!S_ISREG(st.st_mode))
		return cc_error_set(err, 0, "store key %s: not a regular file", path);
	/* As ssh with its private keys: a key others can read is no secret. */
	if (st.st_mode & 077)
		return cc_error_set(err, 0,
				    "store key %s: readable or writable by others (mode %04o); "
				    "chmod 600 it",
				    path, (unsigned)(st.st_mode & 07777));
	uint8_t buf[2 * STORE_KEY_LEN + 2];
	ssize_t n = cc_read_all(fd, buf, sizeof(buf));
	int ret = 0;
	if (n == STORE_KEY_LEN) {
		memcpy(key, buf, STORE_KEY_LEN);
	} else if (n == 2 * STORE_KEY_LEN || (n == 2 * STORE_KEY_LEN + 1 && buf[n - 1] == '\n')) {
		buf[2 * STORE_KEY_LEN] = '\0';
		if (!cc_hex_decode((const char *)buf, key, STORE_KEY_LEN))
			ret = cc_error_set(err, 0, "store key %s: not hexadecimal", path);
	} else {
		ret = n < 0 ? cc_error_errno(err, "store key %s", path)
			    : cc_error_set(err, 0,
					   "store key %s: %zd bytes; 32 bytes or 64 hex digits "
					   "expected",
					   path, n);
	}
	explicit_bzero(buf, sizeof(buf));
	if (ret < 0)
		explicit_bzero(key, STORE_KEY_LEN);
	return ret;
}

char *ri_view_upper_name(const char *mountpoint)
{
	char real[4096];
	const char *t = realpath(mountpoint, real) ? real : mountpoint;
	_cleanup_free_ char *d = img_digest_buf(t, strlen(t));
	return xasprintf("%.24s", d + strlen("sha256:"));
}

char *ri_view_log_path(const char *mountpoint)
{
	_cleanup_free_ char *name = ri_view_upper_name(mountpoint);
	return xasprintf(RI_VIEW_DIR "/view-%s.log", name);
}

char *ri_view_drop_path(const char *mountpoint)
{
	_cleanup_free_ char *name = ri_view_upper_name(mountpoint);
	return xasprintf(RI_VIEW_DIR "/view-%s.drop", name);
}

/* The daemon: detached from the caller's session and output, its log in a file, serving the
 * view until it is unmounted. The store (and its lock) stays with it. */
static _Noreturn void serve(struct img_store *store, char **diff_ids, const char *mountpoint,
			    const char *upper, const char *log, int ready_fd, int err_fd)
{
	struct cc_error *err = NULL;
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (setsid() < 0 || null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 ||
	    dup2(null, 2) < 0) {
		dprintf(err_fd, "view %s: detach: %s", mountpoint, strerror(errno));
		_exit(1);
	}
	close(null);
	if (cc_mkdir_p(RI_VIEW_DIR, 0700, &err) < 0 ||
	    cc_log_init(log, CC_LOG_TEXT, CC_LOG_INFO) < 0) {
		dprintf(err_fd, "view %s: log %s: %s", mountpoint, log,
			err ? err->msg : strerror(errno));
		_exit(1);
	}
	struct store_view_opts o = {
		.layers = (const char *const *)diff_ids,
		.n_layers = cc_strv_len(diff_ids),
		.upper = upper,
		.allow_other = true,
		.ready_fd = ready_fd,
	};
	cc_log(CC_LOG_INFO, "view %s: serving %zu layers, writable layer %s", mountpoint,
	       o.n_layers, upper ? upper : "(none)");
	if (store_view_serve(img_store_backend(store), mountpoint, &o, &err) < 0) {
		dprintf(err_fd, "%s", err->msg);
		cc_log(CC_LOG_ERROR, "%s", err->msg);
		_exit(1);
	}
	cc_log(CC_LOG_INFO, "view %s: unmounted", mountpoint);
	/* `rune-image unmount` left its mark before unmounting: the writable layer goes, here,
	 * once this daemon has made its last write to it. */
	_cleanup_free_ char *drop = ri_view_drop_path(mountpoint);
	if (upper && access(drop, F_OK) == 0) {
		if (store_view_drop(img_store_backend(store), upper, &err) < 0 &&
		    err->errnum != ENOENT)
			cc_log(CC_LOG_ERROR, "view %s: drop the writable layer: %s", mountpoint,
			       err->msg);
		cc_error_free(&err);
		CC_BEST_EFFORT(unlink(drop)); /* the waiter stops waiting */
	}
	_exit(0);
}

int ri_view_start(struct img_store *store, char **diff_ids, const char *mountpoint,
		  const char *upper, pid_t *pid_out, struct cc_error **err)
{
	int ready[2], errp[2];
	_cleanup_free_ char *log = ri_view_log_path(mountpoint);
	if (pipe2(ready, O_CLOEXEC) < 0)
		return cc_error_errno(err, "view %s: pipe", mountpoint);
	if (pipe2(errp, O_CLOEXEC) < 0) {
		close(ready[0]);
		close(ready[1]);
		return cc_error_errno(err, "view %s: pipe", mountpoint);
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		cc_error_errno(err, "view %s: fork", mountpoint);
	} else if (pid == 0) {
		close(ready[0]);
		close(errp[0]);
		serve(store, diff_ids, mountpoint, upper, log, ready[1], errp[1]);
	}
	close(ready[1]);
	close(errp[1]);
	int ret = -1;
	if (pid > 0) {
		/* One byte once the view is mounted; end of file if the daemon failed first. */
		char c;
		ssize_t n;
		do
			n = read(ready[0], &c, 1);
		while (n < 0 && errno == EINTR);
		if (n == 1) {
			ret = 0;
			if (pid_out)
				*pid_out = pid;
		} else {
			char msg[1024];
			ssize_t m = cc_read_all(errp[0], msg, sizeof(msg) - 1);
			msg[m > 0 ? m : 0] = '\0';
			cc_error_set(err, 0, "%s",
				     m > 0 ? msg : "view: the daemon ended before mounting");
		}
	}
	close(ready[0]);
	close(errp[0]);
	return ret;
}
