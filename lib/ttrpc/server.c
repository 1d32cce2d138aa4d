// SPDX-License-Identifier: Apache-2.0
/* ttrpc server: public API, lifecycle, the worker pool and what handlers see of a call.
 * The I/O side lives in server-io.c. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "util/cleanup.h"
#include "util/log.h"
#include "ttrpc/server-internal.h"

static void cond_init_monotonic(pthread_cond_t *c)
{
	pthread_condattr_t a;
	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(c, &a);
	pthread_condattr_destroy(&a);
}

static struct timespec ts_from_ns(int64_t ns)
{
	return (struct timespec){ .tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000 };
}

struct tt_server *tt_server_new(const struct tt_server_config *cfg, struct cc_error **err)
{
	struct tt_server *s = xzalloc(sizeof(*s));

	if (cfg)
		s->cfg = *cfg;
	s->cfg.workers = s->cfg.workers ? s->cfg.workers : 4;
	s->cfg.max_queue = s->cfg.max_queue ? s->cfg.max_queue : 1024;
	s->cfg.max_conns = s->cfg.max_conns ? s->cfg.max_conns : 4096;
	if (!s->cfg.max_inflight_per_conn)
		s->cfg.max_inflight_per_conn = 64;
	if (!s->cfg.max_pending_bytes)
		s->cfg.max_pending_bytes = 64u << 20;
	if (!s->cfg.max_partial_bytes)
		s->cfg.max_partial_bytes = 64u << 20;
	if (s->cfg.frame_timeout_ns <= 0)
		s->cfg.frame_timeout_ns = 10 * 1000000000LL;
	s->partial.max = s->cfg.max_partial_bytes;
	s->wake.kind = TT_POLL_WAKE;
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	s->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s->epfd < 0 || s->wakefd < 0) {
		cc_error_errno(err, "ttrpc server");
		if (s->epfd >= 0)
			close(s->epfd);
		if (s->wakefd >= 0)
			close(s->wakefd);
		free(s);
		return NULL;
	}
	pthread_mutex_init(&s->qlock, NULL);
	pthread_cond_init(&s->qcond, NULL);
	pthread_mutex_init(&s->lock, NULL);
	cond_init_monotonic(&s->state_cond);
	pthread_mutex_init(&s->cancel_lock, NULL);
	cond_init_monotonic(&s->cancel_cond);
	s->rbuf = xmalloc(TT_READ_CHUNK);
	return s;
}

int tt_server_register(struct tt_server *s, const char *service, const char *method,
		       tt_handler_fn fn, void *data, struct cc_error **err)
{
	bool known;

	if (s->started)
		return cc_error_set(err, EBUSY, "register %s/%s: server already started", service,
				    method);
	if (tt_server_lookup(s, service, method, &known))
		return cc_error_set(err, EEXIST, "register %s/%s", service, method);
	s->methods = xreallocarray(s->methods, s->n_methods + 1, sizeof(*s->methods));
	s->methods[s->n_methods++] = (struct tt_method){
		.service = xstrdup(service), .method = xstrdup(method), .fn = fn, .data = data
	};
	return 0;
}

const struct tt_method *tt_server_lookup(struct tt_server *s, const char *service,
					 const char *method, bool *service_known)
{
	*service_known = false;
	for (size_t i = 0; i < s->n_methods; i++) {
		if (strcmp(s->methods[i].service, service))
			continue;
		*service_known = true;
		if (!strcmp(s->methods[i].method, method))
			return &s->methods[i];
	}
	return NULL;
}

int tt_server_listen(struct tt_server *s, const char *addr, char **bound, struct cc_error **err)
{
	struct tt_listener l;

	if (s->started)
		return cc_error_set(err, EBUSY, "listen %s: server already started", addr);
	if (tt_net_listen(addr, &l, bound, err) < 0)
		return -1;
	s->listeners = xreallocarray(s->listeners, s->n_listeners + 1, sizeof(*s->listeners));
	s->listeners[s->n_listeners++] =
	    (struct tt_listen_slot){ .p.kind = TT_POLL_LISTENER, .l = l };
	return 0;
}

int tt_server_listen_fd(struct tt_server *s, int fd, const char *unix_path, struct cc_error **err)
{
	struct tt_listener l = { .fd = fd };
	struct stat st;
	int fl = fcntl(fd, F_GETFL);

	if (s->started)
		return cc_error_set(err, EBUSY, "listen on descriptor %d: server already started",
				    fd);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		return cc_error_set(err, errno, "listen on descriptor %d", fd);
	if (unix_path && stat(unix_path, &st) == 0) {
		l.unix_path = xstrdup(unix_path);
		l.dev = st.st_dev;
		l.ino = st.st_ino;
	}
	s->listeners = xreallocarray(s->listeners, s->n_listeners + 1, sizeof(*s->listeners));
	s->listeners[s->n_listeners++] =
	    (struct tt_listen_slot){ .p.kind = TT_POLL_LISTENER, .l = l };
	return 0;
}

/* Server threads take no signals: the program decides who handles them. */
static int spawn(pthread_t *t, void *(*fn)(void *), void *arg)
{
	sigset_t all, old;
	int r;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(t, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return r;
}

static void *worker_main(void *arg);

static void stop_workers(struct tt_server *s)
{
	pthread_mutex_lock(&s->qlock);
	s->qstop = true;
	pthread_cond_broadcast(&s->qcond);
	pthread_mutex_unlock(&s->qlock);
	for (size_t i = 0; i < s->n_workers; i++)
		pthread_join(s->workers[i], NULL);
	s->n_workers = 0;
}

int tt_server_start(struct tt_server *s, struct cc_error **err)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &s->wake };
	int r;

	if (s->started)
		return cc_error_set(err, EBUSY, "ttrpc server already started");
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->wakefd, &ev) < 0)
		return cc_error_errno(err, "ttrpc server: epoll");
	for (size_t i = 0; i < s->n_listeners; i++) {
		ev = (struct epoll_event){ .events = EPOLLIN, .data.ptr = &s->listeners[i] };
		if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->listeners[i].l.fd, &ev) < 0)
			return cc_error_errno(err, "ttrpc server: epoll");
		s->listeners[i].registered = true;
	}
	s->workers = xcalloc(s->cfg.workers, sizeof(*s->workers));
	for (unsigned i = 0; i < s->cfg.workers; i++) {
		r = spawn(&s->workers[i], worker_main, s);
		if (r) {
			stop_workers(s);
			return cc_error_set(err, r, "ttrpc server: worker thread");
		}
		s->n_workers++;
	}
	r = spawn(&s->io_thread, tt_server_io_main, s);
	if (r) {
		stop_workers(s);
		return cc_error_set(err, r, "ttrpc server: I/O thread");
	}
	s->started = true;
	return 0;
}

void tt_server_wake(struct tt_server *s)
{
	uint64_t one = 1;
	ssize_t r = write(s->wakefd, &one, sizeof(one));
	(void)r; /* EAGAIN: the counter is already non-zero, the thread will wake anyway */
}

/* Ask the I/O thread for cmd and wait until it is done and the condition holds, or until
 * deadline. Returns true if it happened in time. */
static bool command(struct tt_server *s, int cmd, bool wait_idle, int64_t deadline)
{
	bool ok = true;

	pthread_mutex_lock(&s->lock);
	s->cmd |= cmd;
	tt_server_wake(s);
	while (!((s->acked & cmd) == cmd && (!wait_idle || s->open_conns == 0))) {
		struct timespec ts = ts_from_ns(deadline);
		if (deadline == INT64_MAX) {
			pthread_cond_wait(&s->state_cond, &s->lock);
		} else if (pthread_cond_timedwait(&s->state_cond, &s->lock, &ts) == ETIMEDOUT) {
			ok = (s->acked & cmd) == cmd && (!wait_idle || s->open_conns == 0);
			break;
		}
	}
	pthread_mutex_unlock(&s->lock);
	return ok;
}

int tt_server_shutdown(struct tt_server *s, int64_t grace_ns, struct cc_error **err)
{
	size_t left;
	bool graceful;

	if (!s->started || s->stopped)
		return 0;
	graceful = command(s, TT_CMD_DRAIN, true, tt_deadline_after(grace_ns > 0 ? grace_ns : 0));
	pthread_mutex_lock(&s->lock);
	left = s->open_conns;
	pthread_mutex_unlock(&s->lock);
	if (!graceful)
		command(s, TT_CMD_CANCEL, false, INT64_MAX);
	/* Handlers that ignore cancellation are waited for: their memory is ours to free. */
	stop_workers(s);
	command(s, TT_CMD_EXIT, false, INT64_MAX);
	pthread_join(s->io_thread, NULL);
	s->stopped = true;
	if (!graceful)
		return tt_error_status(err, TT_DEADLINE_EXCEEDED,
				       "shutdown: %zu connection(s) still busy after %lld ms, "
				       "calls cancelled",
				       left, (long long)(grace_ns / 1000000));
	return 0;
}

void tt_server_free(struct tt_server *s)
{
	struct cc_error *err = NULL;

	if (!s)
		return;
	if (s->started && !s->stopped) {
		/* freeing: the workers are joined whatever the shutdown reports */
		CC_BEST_EFFORT(tt_server_shutdown(s, 0, &err));
		cc_error_free(&err);
	} else if (!s->started) {
		stop_workers(s);
	}
	for (size_t i = 0; i < s->n_listeners; i++)
		tt_net_listener_close(&s->listeners[i].l);
	free(s->listeners);
	for (size_t i = 0; i < s->n_methods; i++) {
		free(s->methods[i].service);
		free(s->methods[i].method);
	}
	free(s->methods);
	free(s->workers);
	free(s->heap);
	free(s->rbuf);
	close(s->epfd);
	close(s->wakefd);
	pthread_mutex_destroy(&s->qlock);
	pthread_cond_destroy(&s->qcond);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->state_cond);
	pthread_mutex_destroy(&s->cancel_lock);
	pthread_cond_destroy(&s->cancel_cond);
	free(s);
}

/* ---------------------------------------------------------------------------------------- */
/* Worker pool */

bool tt_server_enqueue(struct tt_server *s, struct tt_call *call)
{
	bool ok = false;

	pthread_mutex_lock(&s->qlock);
	if (!s->qstop && s->qlen < s->cfg.max_queue) {
		call->qnext = NULL;
		if (s->qtail)
			s->qtail->qnext = call;
		else
			s->qhead = call;
		s->qtail = call;
		s->qlen++;
		pthread_cond_signal(&s->qcond);
		ok = true;
	}
	pthread_mutex_unlock(&s->qlock);
	return ok;
}

static void run_handler(struct tt_call *call)
{
	struct cc_error *err = NULL;
	uint8_t *resp = NULL;
	size_t len = 0;

	if (atomic_load(&call->cancelled)) {
		call->code = TT_CANCELLED;
		call->message = xstrdup("cancelled");
		return;
	}
	if (call->deadline <= tt_now_ns()) {
		call->code = TT_DEADLINE_EXCEEDED;
		call->message = xstrdup("context deadline exceeded");
		return;
	}
	if (call->m->fn(call, call->req.payload, call->req.payload_len, &resp, &len, call->m->data,
			&err) < 0) {
		free(resp);
		call->code = err && err->code > 0 ? err->code : TT_UNKNOWN;
		call->message = xstrdup(err ? err->msg : "handler failed");
		cc_error_free(&err);
		return;
	}
	cc_error_free(&err);
	call->code = TT_OK;
	call->resp = resp;
	call->resp_len = resp ? len : 0;
}

static void *worker_main(void *arg)
{
	struct tt_server *s = arg;
	struct tt_call *call;

	for (;;) {
		pthread_mutex_lock(&s->qlock);
		while (!s->qhead && !s->qstop)
			pthread_cond_wait(&s->qcond, &s->qlock);
		call = s->qhead;
		if (call) {
			s->qhead = call->qnext;
			if (!s->qhead)
				s->qtail = NULL;
			s->qlen--;
		}
		pthread_mutex_unlock(&s->qlock);
		if (!call)
			return NULL;
		run_handler(call);
		pthread_mutex_lock(&s->lock);
		call->qnext = NULL;
		if (s->done_tail)
			s->done_tail->qnext = call;
		else
			s->done_head = call;
		s->done_tail = call;
		pthread_mutex_unlock(&s->lock);
		tt_server_wake(s);
	}
}

/* ---------------------------------------------------------------------------------------- */
/* Calls */

void tt_call_cancel(struct tt_call *call)
{
	struct tt_server *s = call->srv;

	pthread_mutex_lock(&s->cancel_lock);
	atomic_store(&call->cancelled, true);
	pthread_cond_broadcast(&s->cancel_cond);
	pthread_mutex_unlock(&s->cancel_lock);
}

void tt_call_free(struct tt_call *call)
{
	tt_request_clear(&call->req);
	free(call->message);
	free(call->resp);
	free(call);
}

const char *tt_call_service(const struct tt_call *c)
{
	return c->req.service;
}

const char *tt_call_method(const struct tt_call *c)
{
	return c->req.method;
}

int64_t tt_call_timeout_ns(const struct tt_call *c)
{
	return c->req.timeout_nano;
}

int64_t tt_call_remaining_ns(const struct tt_call *c)
{
	return c->deadline == INT64_MAX ? INT64_MAX : c->deadline - tt_now_ns();
}

bool tt_call_cancelled(const struct tt_call *c)
{
	return atomic_load(&((struct tt_call *)c)->cancelled);
}

bool tt_call_wait(struct tt_call *c, int64_t ns)
{
	struct tt_server *s = c->srv;
	int64_t until = ns < 0 ? INT64_MAX : tt_deadline_after(ns);
	bool cancelled;

	pthread_mutex_lock(&s->cancel_lock);
	while (!atomic_load(&c->cancelled)) {
		struct timespec ts = ts_from_ns(until);
		if (until == INT64_MAX)
			pthread_cond_wait(&s->cancel_cond, &s->cancel_lock);
		else if (pthread_cond_timedwait(&s->cancel_cond, &s->cancel_lock, &ts) == ETIMEDOUT)
			break;
	}
	cancelled = atomic_load(&c->cancelled);
	pthread_mutex_unlock(&s->cancel_lock);
	return cancelled;
}

const struct tt_kv *tt_call_metadata(const struct tt_call *c, size_t *n)
{
	*n = c->req.n_metadata;
	return c->req.metadata;
}

const char *tt_call_metadata_get(const struct tt_call *c, const char *key)
{
	for (size_t i = 0; i < c->req.n_metadata; i++)
		if (!strcmp(c->req.metadata[i].key, key))
			return c->req.metadata[i].value;
	return NULL;
}
