// SPDX-License-Identifier: Apache-2.0
/*
 * ttrpc client: one connection, any number of calling threads. A reader thread matches
 * responses to waiting calls by stream id; writers take turns under wlock, which also keeps
 * stream ids increasing on the wire (servers reject a lower id).
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include "util/cleanup.h"
#include "ttrpc/net.h"
#include "ttrpc/wire.h"

/* A call waiting for its response; lives on the caller's stack. */
struct pending {
	struct pending *next;
	uint32_t id;
	bool done;
	struct tt_response resp;
	char *local_error; /* set instead of resp when the reader failed this call */
	int local_code;
};

struct tt_client {
	int fd;
	pthread_t reader;
	pthread_mutex_t wlock; /* one frame at a time on the socket */
	pthread_mutex_t lock;  /* everything below */
	pthread_cond_t cond;   /* CLOCK_MONOTONIC; broadcast on any change */
	uint32_t next_id;
	struct pending *calls;
	size_t active; /* threads inside tt_client_call */
	bool dead;     /* connection unusable: every new call fails */
	char *dead_msg;
	struct tt_reader rd;
};

static void *reader_main(void *arg);

struct tt_client *tt_client_connect(const char *addr, int64_t timeout_ns, struct cc_error **err)
{
	struct tt_client *c;
	pthread_condattr_t a;
	sigset_t all, old;
	int fd, r;

	fd = tt_net_connect(addr, timeout_ns, err);
	if (fd < 0)
		return NULL;
	c = xzalloc(sizeof(*c));
	c->fd = fd;
	c->next_id = 1;
	tt_reader_init(&c->rd, TT_MAX_MESSAGE);
	pthread_mutex_init(&c->wlock, NULL);
	pthread_mutex_init(&c->lock, NULL);
	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&c->cond, &a);
	pthread_condattr_destroy(&a);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(&c->reader, NULL, reader_main, c);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r) {
		cc_error_set(err, r, "connect %s: reader thread", addr);
		close(fd);
		pthread_mutex_destroy(&c->wlock);
		pthread_mutex_destroy(&c->lock);
		pthread_cond_destroy(&c->cond);
		free(c);
		return NULL;
	}
	return c;
}

/* Under lock: the connection is gone; wake everyone. */
static void mark_dead(struct tt_client *c, const char *why)
{
	if (!c->dead) {
		c->dead = true;
		c->dead_msg = xstrdup(why);
		/* Wake the reader (and any writer) if they are blocked on the socket. */
		shutdown(c->fd, SHUT_RDWR);
	}
	pthread_cond_broadcast(&c->cond);
}

static struct pending *find_pending(struct tt_client *c, uint32_t id)
{
	for (struct pending *p = c->calls; p; p = p->next)
		if (p->id == id)
			return p;
	return NULL;
}

static void unlink_pending(struct tt_client *c, struct pending *p)
{
	for (struct pending **pp = &c->calls; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			return;
		}
	}
}

/* Under lock: finish a waiting call with a local error. */
static void fail_pending(struct tt_client *c, uint32_t id, int code, char *msg)
{
	struct pending *p = find_pending(c, id);

	if (!p || p->done) {
		free(msg);
		return;
	}
	p->local_code = code;
	p->local_error = msg;
	p->done = true;
	pthread_cond_broadcast(&c->cond);
}

static void on_response(struct tt_client *c, const struct tt_frame_header *h, const uint8_t *b)
{
	struct tt_response resp;
	struct cc_error *err = NULL;
	struct pending *p;

	if (tt_response_decode(b, h->length, &resp, &err) < 0) {
		pthread_mutex_lock(&c->lock);
		fail_pending(c, h->stream_id, err->code, xstrdup(err->msg));
		pthread_mutex_unlock(&c->lock);
		cc_error_free(&err);
		return;
	}
	pthread_mutex_lock(&c->lock);
	p = find_pending(c, h->stream_id);
	if (p && !p->done) {
		p->resp = resp;
		p->done = true;
		pthread_cond_broadcast(&c->cond);
	} else {
		/* The caller gave up (deadline) or the server answered a stream nobody asked. */
		tt_response_clear(&resp);
	}
	pthread_mutex_unlock(&c->lock);
}

static void on_frame(struct tt_client *c, enum tt_read_event ev, const struct tt_frame_header *h,
		     uint8_t *body)
{
	_cleanup_free_ uint8_t *b = body;

	if (ev == TT_READ_OVERSIZE) {
		pthread_mutex_lock(&c->lock);
		fail_pending(c, h->stream_id, TT_RESOURCE_EXHAUSTED,
			     xasprintf("message length %u exceed maximum message size of %u",
				       h->length, TT_MAX_MESSAGE));
		pthread_mutex_unlock(&c->lock);
		return;
	}
	if (h->type == TT_MSG_RESPONSE)
		on_response(c, h, b);
}

static void *reader_main(void *arg)
{
	struct tt_client *c = arg;
	_cleanup_free_ uint8_t *buf = xmalloc(64 << 10);
	const char *why = "connection closed";

	for (;;) {
		ssize_t n = recv(c->fd, buf, 64 << 10, 0);
		size_t off = 0;
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n < 0)
				why = "connection error";
			break;
		}
		while (off < (size_t)n) {
			enum tt_read_event ev;
			struct tt_frame_header h;
			uint8_t *body = NULL;
			off += tt_reader_feed(&c->rd, buf + off, (size_t)n - off, &ev, &h, &body);
			if (ev != TT_READ_NONE)
				on_frame(c, ev, &h, body);
		}
	}
	pthread_mutex_lock(&c->lock);
	mark_dead(c, why);
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

/* Send a whole frame before deadline. A frame cut short leaves the stream unparseable for the
 * server, so that kills the connection; a frame not started at all does not. */
static int write_frame(struct tt_client *c, const uint8_t *hdr, const uint8_t *body, size_t len,
		       int64_t deadline, struct cc_error **err)
{
	size_t total = TT_HEADER_LEN + len, off = 0;

	while (off < total) {
		struct iovec iov[2];
		int n = 0;
		ssize_t w;

		if (off < TT_HEADER_LEN)
			iov[n++] = (struct iovec){ (void *)(hdr + off), TT_HEADER_LEN - off };
		if (len) {
			size_t boff = off > TT_HEADER_LEN ? off - TT_HEADER_LEN : 0;
			iov[n++] = (struct iovec){ (void *)(body + boff), len - boff };
		}
		w = sendmsg(c->fd, &(struct msghdr){ .msg_iov = iov, .msg_iovlen = (size_t)n },
			    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w > 0) {
			off += (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd p = { .fd = c->fd, .events = POLLOUT };
			if (deadline <= tt_now_ns())
				goto timeout;
			poll(&p, 1, tt_poll_timeout_ms(deadline));
			continue;
		}
		pthread_mutex_lock(&c->lock);
		mark_dead(c, "connection error");
		pthread_mutex_unlock(&c->lock);
		return tt_error_status(err, TT_UNAVAILABLE, "send: %s", strerror(errno));
	}
	return 0;
timeout:
	if (off) {
		pthread_mutex_lock(&c->lock);
		mark_dead(c, "connection closed after a partial write");
		pthread_mutex_unlock(&c->lock);
	}
	return tt_error_status(err, TT_DEADLINE_EXCEEDED, "context deadline exceeded");
}

/* Take a stream id, register the call and send its frame, all in wire order. */
static int send_request(struct tt_client *c, struct pending *p, const uint8_t *env, size_t len,
			int64_t deadline, struct cc_error **err)
{
	struct tt_frame_header h = { .length = (uint32_t)len, .type = TT_MSG_REQUEST };
	uint8_t hdr[TT_HEADER_LEN];
	int r;

	pthread_mutex_lock(&c->wlock);
	pthread_mutex_lock(&c->lock);
	if (c->dead) {
		r = tt_error_status(err, TT_UNAVAILABLE, "%s", c->dead_msg);
		pthread_mutex_unlock(&c->lock);
		pthread_mutex_unlock(&c->wlock);
		return r;
	}
	if (c->next_id > UINT32_MAX - 2) {
		pthread_mutex_unlock(&c->lock);
		pthread_mutex_unlock(&c->wlock);
		return tt_error_status(err, TT_UNAVAILABLE, "stream ids exhausted, reconnect");
	}
	p->id = c->next_id;
	c->next_id += 2;
	p->next = c->calls;
	c->calls = p;
	c->active++;
	pthread_mutex_unlock(&c->lock);
	h.stream_id = p->id;
	tt_header_encode(&h, hdr);
	r = write_frame(c, hdr, env, len, deadline, err);
	pthread_mutex_unlock(&c->wlock);
	if (r < 0) {
		pthread_mutex_lock(&c->lock);
		unlink_pending(c, p);
		c->active--;
		pthread_cond_broadcast(&c->cond);
		pthread_mutex_unlock(&c->lock);
	}
	return r;
}

static int finish(struct pending *p, uint8_t **resp, size_t *resp_len, struct cc_error **err)
{
	_cleanup_free_ char *local = steal_pointer(&p->local_error);
	int r = 0;

	if (local)
		r = tt_error_status(err, p->local_code, "%s", local);
	else if (p->resp.code != TT_OK)
		r = tt_error_status(err, p->resp.code, "%s", p->resp.message);
	else {
		*resp = steal_pointer(&p->resp.payload);
		*resp_len = p->resp.payload_len;
	}
	tt_response_clear(&p->resp);
	return r;
}

int tt_client_call(struct tt_client *c, const char *service, const char *method, const void *req,
		   size_t req_len, int64_t timeout_ns, const struct tt_kv *md, size_t n_md,
		   uint8_t **resp, size_t *resp_len, struct cc_error **err)
{
	int64_t deadline = timeout_ns > 0 ? tt_deadline_after(timeout_ns) : INT64_MAX;
	_cleanup_free_ uint8_t *env = NULL;
	struct pending p = { 0 };
	size_t len = 0;
	int r = 0;

	*resp = NULL;
	*resp_len = 0;
	env = tt_request_encode(service, method, req, req_len, timeout_ns > 0 ? timeout_ns : 0, md,
				n_md, &len, err);
	if (!env)
		return -1;
	if (send_request(c, &p, env, len, deadline, err) < 0)
		return -1;
	pthread_mutex_lock(&c->lock);
	while (!p.done && !c->dead) {
		struct timespec ts = { .tv_sec = deadline / 1000000000,
				       .tv_nsec = deadline % 1000000000 };
		if (deadline == INT64_MAX)
			pthread_cond_wait(&c->cond, &c->lock);
		else if (pthread_cond_timedwait(&c->cond, &c->lock, &ts) == ETIMEDOUT)
			break;
	}
	if (!p.done && c->dead)
		r = tt_error_status(err, TT_UNAVAILABLE, "%s", c->dead_msg);
	else if (!p.done)
		r = tt_error_status(err, TT_DEADLINE_EXCEEDED, "context deadline exceeded");
	unlink_pending(c, &p);
	c->active--;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	if (p.done)
		r = finish(&p, resp, resp_len, err);
	return r;
}

void tt_client_close(struct tt_client *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	mark_dead(c, "client closed");
	while (c->active)
		pthread_cond_wait(&c->cond, &c->lock);
	pthread_mutex_unlock(&c->lock);
	pthread_join(c->reader, NULL);
	close(c->fd);
	tt_reader_clear(&c->rd);
	free(c->dead_msg);
	pthread_mutex_destroy(&c->wlock);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->cond);
	free(c);
}
