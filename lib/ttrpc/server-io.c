// SPDX-License-Identifier: Apache-2.0
/*
 * The server's I/O thread: accepts, reads frames, turns requests into calls for the workers,
 * writes responses, fires deadlines and carries out shutdown commands. Everything here runs on
 * that one thread (see server-internal.h for what is shared).
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include "util/cleanup.h"
#include "util/log.h"
#include "ttrpc/server-internal.h"

/* How long accept() stays off after running out of descriptors, so that a full fd table does
 * not turn the loop into a busy spin on a listener that stays readable. */
#define ACCEPT_BACKOFF_NS (100 * 1000000LL)

static void conn_flush(struct tt_conn *c);
static void conn_consume(struct tt_conn *c, const uint8_t *data, size_t len);

/* ---------------------------------------------------------------------------------------- */
/* Deadline heap (min-heap on call->deadline, each call knows its slot) */

static void heap_swap(struct tt_server *s, size_t a, size_t b)
{
	struct tt_call *t = s->heap[a];
	s->heap[a] = s->heap[b];
	s->heap[b] = t;
	s->heap[a]->heap_idx = a;
	s->heap[b]->heap_idx = b;
}

static void heap_up(struct tt_server *s, size_t i)
{
	while (i > 0 && s->heap[(i - 1) / 2]->deadline > s->heap[i]->deadline) {
		heap_swap(s, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void heap_down(struct tt_server *s, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < s->heap_len && s->heap[l]->deadline < s->heap[m]->deadline)
			m = l;
		if (r < s->heap_len && s->heap[r]->deadline < s->heap[m]->deadline)
			m = r;
		if (m == i)
			return;
		heap_swap(s, i, m);
		i = m;
	}
}

static void heap_push(struct tt_server *s, struct tt_call *call)
{
	if (s->heap_len == s->heap_cap) {
		s->heap_cap = s->heap_cap ? s->heap_cap * 2 : 64;
		s->heap = xreallocarray(s->heap, s->heap_cap, sizeof(*s->heap));
	}
	call->heap_idx = s->heap_len;
	s->heap[s->heap_len++] = call;
	heap_up(s, call->heap_idx);
}

static void heap_remove(struct tt_server *s, struct tt_call *call)
{
	size_t i = call->heap_idx;

	if (i == SIZE_MAX)
		return;
	call->heap_idx = SIZE_MAX;
	if (i != --s->heap_len) {
		s->heap[i] = s->heap[s->heap_len];
		s->heap[i]->heap_idx = i;
		heap_down(s, i);
		heap_up(s, i);
	}
}

/* ---------------------------------------------------------------------------------------- */
/* Connections in the middle of a frame (deadline order), and those waiting for budget */

static void frames_remove(struct tt_server *s, struct tt_conn *c)
{
	if (!c->in_frame)
		return;
	if (c->fprev)
		c->fprev->fnext = c->fnext;
	else
		s->frames_head = c->fnext;
	if (c->fnext)
		c->fnext->fprev = c->fprev;
	else
		s->frames_tail = c->fprev;
	c->fprev = c->fnext = NULL;
	c->in_frame = false;
}

static void frames_append(struct tt_server *s, struct tt_conn *c)
{
	c->frame_deadline = tt_deadline_after(s->cfg.frame_timeout_ns);
	c->fnext = NULL;
	c->fprev = s->frames_tail;
	if (s->frames_tail)
		s->frames_tail->fnext = c;
	else
		s->frames_head = c;
	s->frames_tail = c;
	c->in_frame = true;
}

static void waiters_remove(struct tt_server *s, struct tt_conn *c)
{
	if (!c->waiting)
		return;
	if (c->wprev)
		c->wprev->wnext = c->wnext;
	else
		s->wait_head = c->wnext;
	if (c->wnext)
		c->wnext->wprev = c->wprev;
	else
		s->wait_tail = c->wprev;
	c->wprev = c->wnext = NULL;
	c->waiting = false;
}

static void waiters_append(struct tt_server *s, struct tt_conn *c)
{
	c->wnext = NULL;
	c->wprev = s->wait_tail;
	if (s->wait_tail)
		s->wait_tail->wnext = c;
	else
		s->wait_head = c;
	s->wait_tail = c;
	c->waiting = true;
}

/* ---------------------------------------------------------------------------------------- */
/* Connections */

static bool conn_paused(const struct tt_conn *c)
{
	return c->ncalls >= c->srv->cfg.max_inflight_per_conn || c->out_bytes >= TT_OUT_LIMIT ||
	       c->waiting;
}

static void conn_update_events(struct tt_conn *c)
{
	uint32_t ev = 0;
	struct epoll_event e;

	if (c->closed)
		return;
	if (!conn_paused(c) && !c->pending)
		ev |= EPOLLIN;
	if (c->out_head)
		ev |= EPOLLOUT;
	if (ev == c->events)
		return;
	e = (struct epoll_event){ .events = ev, .data.ptr = c };
	epoll_ctl(c->srv->epfd, EPOLL_CTL_MOD, c->fd, &e);
	c->events = ev;
}

static void conn_new(struct tt_server *s, int fd)
{
	struct tt_conn *c = xzalloc(sizeof(*c));
	struct epoll_event e = { .events = EPOLLIN, .data.ptr = c };
	int one = 1;

	/* Fails harmlessly on unix sockets. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->p.kind = TT_POLL_CONN;
	c->srv = s;
	c->fd = fd;
	c->events = EPOLLIN;
	tt_reader_init(&c->rd, TT_MAX_MESSAGE);
	tt_reader_set_budget(&c->rd, &s->partial);
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &e) < 0) {
		cc_debug("ttrpc: epoll add: %m");
		close(fd);
		free(c);
		return;
	}
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->n_conns++;
}

static void outbuf_free_all(struct tt_conn *c)
{
	struct tt_outbuf *o = c->out_head, *next;

	for (; o; o = next) {
		next = o->next;
		free(o->body);
		free(o);
	}
	c->out_head = c->out_tail = NULL;
	c->out_bytes = 0;
}

/* Drop the socket now; calls still running are cancelled and their results discarded, and the
 * struct itself lives on until the last of them comes back (conn_settle). */
static void conn_close(struct tt_conn *c)
{
	if (c->closed)
		return;
	c->closed = true;
	frames_remove(c->srv, c);
	waiters_remove(c->srv, c);
	epoll_ctl(c->srv->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	for (struct tt_call *call = c->calls; call; call = call->cnext) {
		call->answered = true;
		heap_remove(c->srv, call);
		tt_call_cancel(call);
	}
	outbuf_free_all(c);
	tt_reader_clear(&c->rd);
	free(c->pending);
	c->pending = NULL;
	c->pending_len = 0;
}

/* Close idle connections while draining; free closed ones once their calls are back. */
static void conn_settle(struct tt_conn *c)
{
	struct tt_server *s = c->srv;

	if (!c->closed && s->draining && c->ncalls == 0 && !c->out_head)
		conn_close(c);
	if (!c->closed || c->ncalls)
		return;
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->n_conns--;
	free(c);
}

/* Takes ownership of body (may be NULL when len is 0). */
static void conn_send(struct tt_conn *c, uint32_t stream_id, uint8_t *body, size_t len)
{
	struct tt_outbuf *o;
	struct tt_frame_header h = { .length = (uint32_t)len,
				     .stream_id = stream_id,
				     .type = TT_MSG_RESPONSE };

	if (c->closed) {
		free(body);
		return;
	}
	o = xzalloc(sizeof(*o));
	tt_header_encode(&h, o->hdr);
	o->body = body;
	o->len = len;
	if (c->out_tail)
		c->out_tail->next = o;
	else
		c->out_head = o;
	c->out_tail = o;
	c->out_bytes += TT_HEADER_LEN + len;
	conn_flush(c);
}

/* Answer a stream with a status and no payload. */
static void conn_status(struct tt_conn *c, uint32_t stream_id, int code, const char *msg)
{
	struct cc_error *err = NULL;
	size_t len = 0;
	uint8_t *body = tt_response_encode(code, msg, NULL, 0, &len, &err);

	if (!body) {
		/* Only a message over 4 MiB could fail; say so without it. */
		cc_error_free(&err);
		body =
		    tt_response_encode(TT_INTERNAL, "status message too long", NULL, 0, &len, NULL);
	}
	conn_send(c, stream_id, body, len);
}

/* A malformed frame: answered like upstream, but only so many times per connection. */
static void conn_protocol_error(struct tt_conn *c, uint32_t stream_id, int code, const char *msg)
{
	conn_status(c, stream_id, code, msg);
	if (++c->errors > TT_MAX_PROTOCOL_ERRORS) {
		cc_debug("ttrpc: closing a connection after %u malformed frames", c->errors);
		conn_close(c);
	}
}

static void conn_flush(struct tt_conn *c)
{
	while (c->out_head && !c->closed) {
		struct tt_outbuf *o = c->out_head;
		struct iovec iov[2];
		int n = 0;
		ssize_t w;

		if (o->off < TT_HEADER_LEN)
			iov[n++] = (struct iovec){ o->hdr + o->off, TT_HEADER_LEN - o->off };
		if (o->len) {
			size_t boff = o->off > TT_HEADER_LEN ? o->off - TT_HEADER_LEN : 0;
			iov[n++] = (struct iovec){ o->body + boff, o->len - boff };
		}
		w = sendmsg(c->fd, &(struct msghdr){ .msg_iov = iov, .msg_iovlen = (size_t)n },
			    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				conn_close(c);
			break;
		}
		o->off += (size_t)w;
		c->out_bytes -= (size_t)w;
		if (o->off < TT_HEADER_LEN + o->len)
			continue;
		c->out_head = o->next;
		if (!c->out_head)
			c->out_tail = NULL;
		free(o->body);
		free(o);
	}
	conn_update_events(c);
}

/* ---------------------------------------------------------------------------------------- */
/* Requests */

static void tt_request_clearp(struct tt_request *r)
{
	tt_request_clear(r);
}
#define _cleanup_request_ __attribute__((cleanup(tt_request_clearp)))

/* Checks a request must pass before it becomes a call; false when it was answered already. */
static bool request_admissible(struct tt_conn *c, uint32_t id, const struct tt_frame_header *h,
			       const struct tt_request *req, const struct tt_method **m)
{
	struct tt_server *s = c->srv;
	bool service_known;

	if (id % 2 != 1) {
		conn_protocol_error(c, id, TT_INVALID_ARGUMENT,
				    "StreamID must be odd for client initiated streams");
		return false;
	}
	if (id <= c->last_stream) {
		conn_protocol_error(c, id, TT_INVALID_ARGUMENT,
				    "StreamID cannot be re-used and must increment");
		return false;
	}
	c->last_stream = id;
	if (h->flags & TT_FLAG_REMOTE_OPEN) {
		conn_status(c, id, TT_UNIMPLEMENTED, "streaming calls are not supported");
		return false;
	}
	if (s->draining) {
		conn_status(c, id, TT_UNAVAILABLE, "server is shutting down");
		return false;
	}
	*m = tt_server_lookup(s, req->service, req->method, &service_known);
	if (!*m) {
		_cleanup_free_ char *msg = service_known ? xasprintf("method %s", req->method)
							 : xasprintf("service %s", req->service);
		conn_status(c, id, TT_UNIMPLEMENTED, msg);
		return false;
	}
	if (req->timeout_nano < 0) {
		/* Upstream runs the handler with a context that is already done; skip it. */
		conn_status(c, id, TT_DEADLINE_EXCEEDED, "context deadline exceeded");
		return false;
	}
	return true;
}

static void on_request(struct tt_conn *c, const struct tt_frame_header *h, const uint8_t *body)
{
	struct tt_server *s = c->srv;
	_cleanup_request_ struct tt_request req = { 0 };
	struct cc_error *err = NULL;
	const struct tt_method *m = NULL;
	struct tt_call *call;

	if (tt_request_decode(body, h->length, &req, &err) < 0) {
		conn_protocol_error(c, h->stream_id, err->code, err->msg);
		cc_error_free(&err);
		return;
	}
	if (!request_admissible(c, h->stream_id, h, &req, &m))
		return;
	call = xzalloc(sizeof(*call));
	call->srv = s;
	call->conn = c;
	call->m = m;
	call->stream_id = h->stream_id;
	call->heap_idx = SIZE_MAX;
	call->req = req;
	memset(&req, 0, sizeof(req));
	call->deadline =
	    call->req.timeout_nano ? tt_deadline_after(call->req.timeout_nano) : INT64_MAX;
	atomic_init(&call->cancelled, false);
	call->bytes = h->length;
	/* Every request in memory was a frame once, so the bound on those is what keeps many
	 * connections with slow handlers from holding max_queue x 4 MiB. */
	if (s->pending_bytes + call->bytes > s->cfg.max_pending_bytes ||
	    !tt_server_enqueue(s, call)) {
		conn_status(c, call->stream_id, TT_RESOURCE_EXHAUSTED,
			    "server busy: too many queued requests");
		tt_call_free(call);
		return;
	}
	call->cnext = c->calls;
	if (c->calls)
		c->calls->cprev = call;
	c->calls = call;
	c->ncalls++;
	s->pending_bytes += call->bytes;
	if (call->deadline != INT64_MAX)
		heap_push(s, call);
}

static void on_frame(struct tt_conn *c, enum tt_read_event ev, const struct tt_frame_header *h,
		     uint8_t *body)
{
	_cleanup_free_ uint8_t *b = body;

	if (ev == TT_READ_OVERSIZE) {
		_cleanup_free_ char *msg =
		    xasprintf("message length %u exceed maximum message size of %u", h->length,
			      TT_MAX_MESSAGE);
		conn_protocol_error(c, h->stream_id, TT_RESOURCE_EXHAUSTED, msg);
		return;
	}
	/* Responses, streaming data and unknown types are ignored, as upstream does for
	 * compatibility with newer peers. */
	if (h->type != TT_MSG_REQUEST) {
		cc_debug("ttrpc: ignoring frame type %u on stream %u", h->type, h->stream_id);
		return;
	}
	on_request(c, h, b);
}

/* A frame's clock starts with its first byte (as the input is handed over, which is close
 * enough) and stops when it is complete; a frame completed and another started in the same
 * input starts over. */
static void conn_track_frame(struct tt_conn *c, bool completed)
{
	struct tt_server *s = c->srv;

	if (c->closed)
		return;
	if (tt_reader_at_boundary(&c->rd)) {
		frames_remove(s, c);
		return;
	}
	if (c->in_frame && !completed)
		return;
	frames_remove(s, c);
	frames_append(s, c);
}

static void conn_consume(struct tt_conn *c, const uint8_t *data, size_t len)
{
	bool completed = false;

	while (len && !c->closed) {
		enum tt_read_event ev;
		struct tt_frame_header h;
		uint8_t *body = NULL;
		size_t used;

		if (conn_paused(c)) {
			/* Keep the rest for later: the socket may not signal it again. */
			c->pending = xmalloc(len);
			memcpy(c->pending, data, len);
			c->pending_len = len;
			break;
		}
		used = tt_reader_feed(&c->rd, data, len, &ev, &h, &body);
		data += used;
		len -= used;
		if (ev != TT_READ_NONE) {
			completed = true;
			on_frame(c, ev, &h, body);
		}
	}
	conn_track_frame(c, completed);
	conn_update_events(c);
}

/* Parse what back-pressure left aside, once there is room again. */
static void conn_resume(struct tt_conn *c)
{
	_cleanup_free_ uint8_t *buf = NULL;
	size_t len = c->pending_len;

	if (c->closed || !c->pending || conn_paused(c))
		return;
	buf = steal_pointer(&c->pending);
	c->pending_len = 0;
	conn_consume(c, buf, len);
}

/*
 * Frames still arriving share one budget (cfg.max_partial_bytes). A connection whose frame
 * needs more than is left is not read (nor closed) until some is free: its bytes wait in the
 * kernel's socket buffer, which costs this process nothing, and the frame deadline bounds how
 * long anyone holds budget, so a peer that is merely slow gets through once the hogs are cut
 * off, first come first served. Closing instead would hit whoever asks last, usually the
 * honest client, and leave the hogs in place.
 */
static void conn_wait_budget(struct tt_conn *c)
{
	waiters_append(c->srv, c);
	conn_update_events(c);
}

/* Waiters that now fit go back to reading; a resumed one is expected to take a read's worth,
 * so a little freed budget wakes a few connections, not all of them. */
static void resume_waiters(struct tt_server *s)
{
	size_t avail = s->partial.max > s->partial.held ? s->partial.max - s->partial.held : 0;
	struct tt_conn *c, *next;

	for (c = s->wait_head; c && avail; c = next) {
		next = c->wnext;
		if (tt_reader_need(&c->rd) > avail)
			continue;
		avail -= avail < TT_READ_CHUNK ? avail : TT_READ_CHUNK;
		waiters_remove(s, c);
		conn_update_events(c);
	}
}

/*
 * Read no more than the reader can keep within the budget. With budget to spare that is a
 * whole chunk, as before; when it runs short, whole frames still pass between frames (they
 * cost no budget: the next step makes them calls, bounded by max_pending_bytes), so small
 * requests are served while big ones wait. Found by a peek, which only happens under pressure.
 */
static ssize_t conn_recv(struct tt_conn *c, size_t room)
{
	struct tt_server *s = c->srv;
	size_t want = room < TT_READ_CHUNK ? room : TT_READ_CHUNK;

	if (want < TT_READ_CHUNK && tt_reader_at_boundary(&c->rd)) {
		ssize_t n = recv(c->fd, s->rbuf, TT_READ_CHUNK, MSG_DONTWAIT | MSG_PEEK);
		size_t whole;
		if (n <= 0)
			return n;
		whole = tt_frames_whole(s->rbuf, (size_t)n, TT_MAX_MESSAGE);
		want = whole + ((size_t)n - whole < room ? (size_t)n - whole : room);
	}
	return recv(c->fd, s->rbuf, want, MSG_DONTWAIT);
}

static void conn_on_readable(struct tt_conn *c)
{
	struct tt_server *s = c->srv;

	/* A bounded number of reads per wake-up keeps one busy peer from starving the rest. */
	for (int i = 0; i < 16 && !c->closed && !c->pending && !conn_paused(c); i++) {
		size_t room = tt_reader_room(&c->rd);
		ssize_t n;
		if (room == 0) {
			conn_wait_budget(c);
			return;
		}
		n = conn_recv(c, room);
		if (n > 0) {
			conn_consume(c, s->rbuf, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n == 0 && !tt_reader_at_boundary(&c->rd))
			cc_debug("ttrpc: peer closed in the middle of a frame");
		conn_close(c);
		return;
	}
}

/* ---------------------------------------------------------------------------------------- */
/* Accepting */

static void listeners_set(struct tt_server *s, bool on)
{
	for (size_t i = 0; i < s->n_listeners; i++) {
		struct tt_listen_slot *l = &s->listeners[i];
		struct epoll_event e = { .events = EPOLLIN, .data.ptr = l };
		if (l->l.fd < 0 || l->registered == on)
			continue;
		epoll_ctl(s->epfd, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, l->l.fd, on ? &e : NULL);
		l->registered = on;
	}
}

static void on_accept(struct tt_server *s, struct tt_listen_slot *l)
{
	for (int i = 0; i < 64; i++) {
		int fd = accept4(l->l.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				cc_warn("ttrpc: accept: %m; pausing new connections");
				listeners_set(s, false);
				s->listen_resume = tt_deadline_after(ACCEPT_BACKOFF_NS);
			}
			return;
		}
		if (s->n_conns >= s->cfg.max_conns) {
			cc_debug("ttrpc: connection limit (%u) reached", s->cfg.max_conns);
			close(fd);
			continue;
		}
		conn_new(s, fd);
	}
}

/* ---------------------------------------------------------------------------------------- */
/* Calls coming back from workers, deadlines, commands */

static void retire(struct tt_server *s, struct tt_call *call)
{
	struct tt_conn *c = call->conn;

	heap_remove(s, call);
	if (!call->answered) {
		struct cc_error *err = NULL;
		size_t len = 0;
		uint8_t *body = NULL;

		call->answered = true;
		if (call->code == TT_OK)
			body =
			    tt_response_encode(TT_OK, NULL, call->resp, call->resp_len, &len, &err);
		if (body)
			conn_send(c, call->stream_id, body, len);
		else if (err)
			conn_status(c, call->stream_id, err->code, err->msg);
		else
			conn_status(c, call->stream_id, call->code, call->message);
		cc_error_free(&err);
	}
	if (call->cprev)
		call->cprev->cnext = call->cnext;
	else
		c->calls = call->cnext;
	if (call->cnext)
		call->cnext->cprev = call->cprev;
	c->ncalls--;
	s->pending_bytes -= call->bytes;
	tt_call_free(call);
	conn_resume(c);
	conn_update_events(c);
	conn_settle(c);
}

static void fire_deadlines(struct tt_server *s)
{
	int64_t now = tt_now_ns();

	while (s->frames_head && s->frames_head->frame_deadline <= now) {
		struct tt_conn *c = s->frames_head;
		cc_debug("ttrpc: closing a connection whose frame took over %lld ms to arrive",
			 (long long)(s->cfg.frame_timeout_ns / 1000000));
		conn_close(c);
		conn_settle(c);
	}

	while (s->heap_len && s->heap[0]->deadline <= now) {
		struct tt_call *call = s->heap[0];
		heap_remove(s, call);
		if (!call->answered) {
			call->answered = true;
			conn_status(call->conn, call->stream_id, TT_DEADLINE_EXCEEDED,
				    "context deadline exceeded");
		}
		/* The worker still owns the call; it comes back through retire(). */
		tt_call_cancel(call);
	}
	if (s->listen_resume && s->listen_resume <= now && !s->draining) {
		s->listen_resume = 0;
		listeners_set(s, true);
	}
}

static int64_t next_timer(struct tt_server *s)
{
	int64_t t = s->heap_len ? s->heap[0]->deadline : INT64_MAX;

	if (s->frames_head && s->frames_head->frame_deadline < t)
		t = s->frames_head->frame_deadline;

	if (s->listen_resume && s->listen_resume < t)
		t = s->listen_resume;
	return t;
}

static void for_each_conn(struct tt_server *s, void (*fn)(struct tt_conn *))
{
	struct tt_conn *c = s->conns, *next;

	for (; c; c = next) {
		next = c->next;
		fn(c);
	}
}

static void close_and_settle(struct tt_conn *c)
{
	conn_close(c);
	conn_settle(c);
}

static void do_commands(struct tt_server *s, int cmd)
{
	if ((cmd & TT_CMD_DRAIN) && !s->draining) {
		s->draining = true;
		listeners_set(s, false);
		for (size_t i = 0; i < s->n_listeners; i++)
			tt_net_listener_close(&s->listeners[i].l);
		for_each_conn(s, conn_settle);
	}
	if (cmd & TT_CMD_CANCEL)
		for_each_conn(s, close_and_settle);
}

/* Take finished calls and new commands; returns the commands. */
static int take_work(struct tt_server *s)
{
	struct tt_call *done, *next;
	int cmd;

	pthread_mutex_lock(&s->lock);
	done = s->done_head;
	s->done_head = s->done_tail = NULL;
	cmd = s->cmd & ~s->acked;
	pthread_mutex_unlock(&s->lock);
	for (; done; done = next) {
		next = done->qnext;
		retire(s, done);
	}
	do_commands(s, cmd);
	return cmd;
}

static void publish(struct tt_server *s, int cmd)
{
	pthread_mutex_lock(&s->lock);
	s->acked |= cmd;
	s->open_conns = s->n_conns;
	pthread_cond_broadcast(&s->state_cond);
	pthread_mutex_unlock(&s->lock);
}

static void dispatch(struct tt_server *s, struct epoll_event *e)
{
	struct tt_pollable *p = e->data.ptr;
	uint64_t n;

	switch (p->kind) {
	case TT_POLL_WAKE:
		if (read(s->wakefd, &n, sizeof(n)) < 0 && errno != EAGAIN)
			cc_debug("ttrpc: eventfd read: %m");
		break;
	case TT_POLL_LISTENER:
		on_accept(s, (struct tt_listen_slot *)p);
		break;
	case TT_POLL_CONN: {
		struct tt_conn *c = (struct tt_conn *)p;
		/* A hung-up peer cannot read answers any more, even if it left requests behind. */
		if (e->events & (EPOLLHUP | EPOLLERR))
			conn_close(c);
		else if (e->events & EPOLLIN)
			conn_on_readable(c);
		if ((e->events & EPOLLOUT) && !c->closed) {
			conn_flush(c);
			conn_resume(c);
		}
		conn_settle(c);
		break;
	}
	}
}

void *tt_server_io_main(void *arg)
{
	struct tt_server *s = arg;
	struct epoll_event evs[64];
	int cmd = 0;

	for (;;) {
		int n =
		    epoll_wait(s->epfd, evs, ARRAY_SIZE(evs), tt_poll_timeout_ms(next_timer(s)));
		if (n < 0 && errno != EINTR) {
			cc_error_log("ttrpc: epoll_wait: %m");
			break;
		}
		for (int i = 0; i < n; i++)
			dispatch(s, &evs[i]);
		fire_deadlines(s);
		cmd = take_work(s);
		if (s->wait_head)
			resume_waiters(s);
		publish(s, cmd);
		if (cmd & TT_CMD_EXIT)
			break;
	}
	/* Workers are joined before EXIT is sent, so every call is back: free what is left. */
	take_work(s);
	for_each_conn(s, close_and_settle);
	publish(s, TT_CMD_DRAIN | TT_CMD_CANCEL | TT_CMD_EXIT);
	return NULL;
}
