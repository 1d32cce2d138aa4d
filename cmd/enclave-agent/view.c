// SPDX-License-Identifier: Apache-2.0
/*
 * Views of an encrypted store for agent-ctl mount (docs/agent.md, "Encrypted store").
 *
 * The host cannot read the layers (it has no key), so the agent serves each container's rootfs
 * itself: agent-ctl opens /dev/fuse and mounts it on the bundle's rootfs (as root, on the
 * host), then hands the descriptor to the agent over <images>/.view.sock with SCM_RIGHTS; the
 * agent serves the union view of the container's layers on it (lib/store/view.h, with the
 * writable layer "upper:<cid>") until the host unmounts it. The agent needs neither /dev/fuse
 * nor any mount privilege.
 *
 * One request per connection, a JSON object of at most 4 KiB, one descriptor at most:
 *   {"op": "serve", "cid": CID} + the FUSE descriptor  -> {"ok": true} once serving
 *   {"op": "drop", "cid": CID}  -> {"ok": true} once the writable layer is gone (waits for the
 *                                  view to end: unmount first)
 * and {"error": "one line"} otherwise. Only root or the agent's own user may connect.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include "agent.h"
#include "store/view.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/log.h"
#include "util/strv.h"

#define REQUEST_MAX 4096
#define REQUEST_TIMEOUT_MS 10000

struct served {
	struct served *next;
	char cid[AGENT_CID_MAX + 1];
	char **diff_ids; /* its layers, which gc keeps while it is served */
	bool done;
};

struct views {
	struct agent *a;
	int listen_fd;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct served *list;
};

static struct views views = { .listen_fd = -1 };

char *agent_view_socket(const struct agent *a)
{
	return cc_path_join(a->images_root, AGENT_VIEW_SOCKET);
}

static bool serving(const char *cid)
{
	for (struct served *s = views.list; s; s = s->next)
		if (!s->done && !strcmp(s->cid, cid))
			return true;
	return false;
}

struct serve_job {
	struct served *entry;
	char **diff_ids;
	int fuse_fd, ready_fd;
};

static void *serve_thread(void *arg)
{
	struct serve_job *j = arg;
	struct cc_error *err = NULL;
	char mnt[32];
	snprintf(mnt, sizeof(mnt), "/dev/fd/%d", j->fuse_fd);
	struct store_view_opts o = {
		.layers = (const char *const *)j->diff_ids,
		.n_layers = cc_strv_len(j->diff_ids),
		.upper = j->entry->cid,
		.allow_other = true,
		.ready_fd = j->ready_fd,
	};
	if (store_view_serve(img_store_backend(views.a->store), mnt, &o, &err) < 0) {
		cc_warn("view of %s: %s", j->entry->cid, err->msg);
		cc_error_free(&err);
	} else {
		cc_info("view of %s: unmounted; its writable layer is kept", j->entry->cid);
	}
	close(j->fuse_fd);
	pthread_mutex_lock(&views.lock);
	j->entry->done = true;
	pthread_cond_broadcast(&views.cond);
	pthread_mutex_unlock(&views.lock);
	cc_strv_free(j->diff_ids);
	free(j);
	return NULL;
}

/* The container's layers from its layout, bottom first. */
static char **layout_layers(const char *cid, struct cc_error **err)
{
	_cleanup_json_ json_t *info = agent_layout_read(views.a, cid, err);
	if (!info)
		return NULL;
	const json_t *ids = json_object_get(info, "diff_ids"), *d;
	size_t i;
	_cleanup_strv_ char **out = xcalloc(1, sizeof(char *));
	json_array_foreach (ids, i, d) {
		if (!json_is_string(d)) {
			cc_error_set(err, 0, "%s: image.json: diff_ids[%zu] is not a string", cid,
				     i);
			return NULL;
		}
		cc_strv_push(&out, json_string_value(d));
	}
	if (!i) {
		cc_error_set(err, 0, "%s: image.json lists no layers", cid);
		return NULL;
	}
	return steal_pointer(&out);
}

static int do_serve(const char *cid, int fuse_fd, struct cc_error **err)
{
	struct stat st;
	if (fuse_fd < 0)
		return cc_error_set(err, 0, "serve %s: no FUSE descriptor came with the request",
				    cid);
	if (fstat(fuse_fd, &st) < 0 || !S_ISCHR(st.st_mode) || st.st_rdev != makedev(10, 229))
		return cc_error_set(err, 0, "serve %s: the descriptor is not /dev/fuse", cid);
	char **ids = layout_layers(cid, err);
	if (!ids)
		return -1;
	int ready[2];
	if (pipe2(ready, O_CLOEXEC) < 0) {
		cc_strv_free(ids);
		return cc_error_errno(err, "serve %s: pipe", cid);
	}
	size_t n_layers = cc_strv_len(ids);
	pthread_mutex_lock(&views.lock);
	/* Views that ended are forgotten. */
	for (struct served **pp = &views.list; *pp;) {
		struct served *x = *pp;
		if (!x->done) {
			pp = &x->next;
			continue;
		}
		*pp = x->next;
		cc_strv_free(x->diff_ids);
		free(x);
	}
	if (serving(cid)) {
		pthread_mutex_unlock(&views.lock);
		cc_strv_free(ids);
		close(ready[0]);
		close(ready[1]);
		return cc_error_set(err, 0, "serve %s: its view is served already", cid);
	}
	struct served *e = xzalloc(sizeof(*e));
	snprintf(e->cid, sizeof(e->cid), "%s", cid);
	e->diff_ids = cc_strv_dup(ids);
	e->next = views.list;
	views.list = e;
	pthread_mutex_unlock(&views.lock);
	struct serve_job *j = xzalloc(sizeof(*j));
	*j = (struct serve_job){ e, ids, fcntl(fuse_fd, F_DUPFD_CLOEXEC, 3), ready[1] };
	pthread_t t;
	if (j->fuse_fd < 0 || pthread_create(&t, NULL, serve_thread, j) != 0) {
		int errnum = errno;
		if (j->fuse_fd >= 0)
			close(j->fuse_fd);
		close(ready[1]);
		close(ready[0]);
		cc_strv_free(ids);
		free(j);
		pthread_mutex_lock(&views.lock);
		e->done = true;
		pthread_mutex_unlock(&views.lock);
		return cc_error_set(err, errnum, "serve %s: start", cid);
	}
	pthread_detach(t); /* the thread owns j (and ids) from here */
	char c;
	ssize_t n;
	while ((n = read(ready[0], &c, 1)) < 0 && errno == EINTR)
		;
	close(ready[0]);
	if (n != 1)
		return cc_error_set(err, 0, "serve %s: the view ended before serving (see the log)",
				    cid);
	cc_info("view of %s: serving %zu layers", cid, n_layers);
	return 0;
}

char **agent_views_layers(void)
{
	char **out = xcalloc(1, sizeof(char *));
	if (views.listen_fd < 0)
		return out;
	pthread_mutex_lock(&views.lock);
	for (struct served *s = views.list; s; s = s->next)
		for (char **d = s->diff_ids; !s->done && d && *d; d++)
			if (!cc_strv_contains(out, *d))
				cc_strv_push(&out, *d);
	pthread_mutex_unlock(&views.lock);
	return out;
}

static int do_drop(const char *cid, struct cc_error **err)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += REQUEST_TIMEOUT_MS / 1000;
	pthread_mutex_lock(&views.lock);
	int w = 0;
	while (serving(cid) && w == 0)
		w = pthread_cond_timedwait(&views.cond, &views.lock, &until);
	bool busy = serving(cid);
	pthread_mutex_unlock(&views.lock);
	if (busy)
		return cc_error_set(err, EBUSY,
				    "drop %s: its view is still served: unmount it first", cid);
	pthread_rwlock_wrlock(&views.a->gc_lock);
	int r = store_view_drop(img_store_backend(views.a->store), cid, err);
	pthread_rwlock_unlock(&views.a->gc_lock);
	if (r < 0 && (*err)->errnum == ENOENT) {
		cc_error_free(err);
		return 0; /* nothing was written: nothing to drop */
	}
	if (r == 0)
		cc_info("view of %s: writable layer dropped", cid);
	return r;
}

/* Read one request (JSON, at most REQUEST_MAX bytes) and the descriptor with it. */
static json_t *read_request(int c, int *fd, struct cc_error **err)
{
	char buf[REQUEST_MAX + 2];
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct iovec iov = { buf, REQUEST_MAX + 1 };
	struct msghdr m = { .msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = ctl.b,
			    .msg_controllen = sizeof(ctl.b) };
	struct pollfd p = { c, POLLIN, 0 };
	*fd = -1;
	if (poll(&p, 1, REQUEST_TIMEOUT_MS) != 1) {
		cc_error_set(err, 0, "no request within %d s", REQUEST_TIMEOUT_MS / 1000);
		return NULL;
	}
	ssize_t n = recvmsg(c, &m, MSG_CMSG_CLOEXEC);
	if (n < 0) {
		cc_error_errno(err, "read request");
		return NULL;
	}
	for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h))
		if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS &&
		    h->cmsg_len == CMSG_LEN(sizeof(int)) && *fd < 0)
			memcpy(fd, CMSG_DATA(h), sizeof(int));
	if (n > REQUEST_MAX || (m.msg_flags & (MSG_CTRUNC | MSG_TRUNC))) {
		cc_error_set(err, 0,
			     "request larger than %d bytes or with more than one descriptor",
			     REQUEST_MAX);
		return NULL;
	}
	return cc_json_load_buf("request", buf, (size_t)n, err);
}

static void handle(int c)
{
	char buf_drain[4096];
	struct cc_error *err = NULL;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int fd = -1;
	_cleanup_json_ json_t *req = NULL;
	if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
	    (cred.uid != 0 && cred.uid != geteuid())) {
		cc_error_set(&err, 0, "refused: only root or the agent's user may ask for views");
	} else if ((req = read_request(c, &fd, &err))) {
		const char *op = json_string_value(json_object_get(req, "op"));
		const char *cid = json_string_value(json_object_get(req, "cid"));
		if (!op || !cid)
			cc_error_set(&err, 0, "request: \"op\" and \"cid\" expected");
		else if (agent_cid_check(cid, &err) < 0)
			cc_error_prefix(&err, "request");
		else if (!strcmp(op, "serve"))
			CC_BEST_EFFORT(do_serve(cid, fd, &err)); /* err says what failed */
		else if (!strcmp(op, "drop"))
			CC_BEST_EFFORT(do_drop(cid, &err));
		else
			cc_error_set(&err, 0, "request: unknown op \"%s\"", op);
	}
	if (fd >= 0)
		close(fd);
	_cleanup_json_ json_t *ans =
	    err ? json_pack("{s:s}", "error", err->msg) : json_pack("{s:b}", "ok", 1);
	if (err)
		cc_warn("view socket: %s", err->msg);
	cc_error_free(&err);
	_cleanup_free_ char *text = json_dumps(ans, JSON_COMPACT);
	CC_BEST_EFFORT(cc_write_all(c, text, strlen(text))); /* a client gone is its business */
	/* What the client sent beyond the request is read away (a little, briefly), so that
	 * closing does not reset the connection before it has the answer. */
	CC_BEST_EFFORT(shutdown(c, SHUT_WR)); /* the close follows anyway */
	for (int i = 0; i < 16; i++) {
		struct pollfd p = { c, POLLIN, 0 };
		if (poll(&p, 1, 100) != 1 || read(c, buf_drain, sizeof(buf_drain)) <= 0)
			break;
	}
}

static void *listen_thread(void *arg)
{
	for (;;) {
		int c = accept4(views.listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EBADF || errno == EINVAL)
				return NULL; /* closed at shutdown */
			cc_warn("view socket: accept: %s", strerror(errno));
			continue;
		}
		handle(c);
		close(c);
	}
}

int agent_views_start(struct agent *a, struct cc_error **err)
{
	if (!img_store_encrypted(a->store))
		return 0;
	_cleanup_free_ char *path = agent_view_socket(a);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path))
		return cc_error_set(err, 0, "view socket %s: path too long", path);
	strcpy(sa.sun_path, path);
	views.a = a;
	pthread_mutex_init(&views.lock, NULL);
	pthread_cond_init(&views.cond, NULL);
	views.listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (views.listen_fd < 0)
		return cc_error_errno(err, "view socket %s", path);
	if (unlink(path) < 0 && errno != ENOENT)
		return cc_error_errno(err, "view socket %s: remove the old one", path);
	mode_t old = umask(077);
	int r = bind(views.listen_fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0 || listen(views.listen_fd, 16) < 0)
		return cc_error_errno(err, "view socket %s", path);
	if (pthread_create(&views.thread, NULL, listen_thread, NULL) != 0)
		return cc_error_set(err, 0, "view socket %s: cannot start its thread", path);
	cc_info("views of the encrypted store: %s", path);
	return 0;
}
