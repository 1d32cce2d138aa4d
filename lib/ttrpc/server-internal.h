/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Server internals shared by server.c (API, workers, calls) and server-io.c (the I/O thread).
 *
 * Threads and ownership: one I/O thread owns the epoll set, the connections, their buffers, the
 * deadline heap and the "answered" state of every call. A call is handed to exactly one worker
 * through the queue and comes back through the done list; while a worker holds it, the I/O
 * thread touches only its I/O-side fields and the atomic cancel flag. Connections are freed by
 * the I/O thread once closed and without calls, so a worker never sees a freed connection.
 */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include "ttrpc/net.h"
#include "ttrpc/ttrpc.h"
#include "ttrpc/wire.h"

#define TT_READ_CHUNK (64u << 10)
/* Queued response bytes above which a connection is not read any further. */
#define TT_OUT_LIMIT (8u << 20)
/* Malformed frames a connection may send (each answered with a status, as upstream does)
 * before the server stops talking to it: no real client needs more, and a peer spewing
 * garbage should not keep a connection forever. */
#define TT_MAX_PROTOCOL_ERRORS 16

enum tt_pollable_kind { TT_POLL_WAKE, TT_POLL_LISTENER, TT_POLL_CONN };

/* First member of everything registered in epoll, so the event says what it is. */
struct tt_pollable {
	enum tt_pollable_kind kind;
};

struct tt_method {
	char *service;
	char *method;
	tt_handler_fn fn;
	void *data;
};

struct tt_listen_slot {
	struct tt_pollable p;
	struct tt_listener l;
	bool registered;
};

struct tt_outbuf {
	struct tt_outbuf *next;
	uint8_t hdr[TT_HEADER_LEN];
	uint8_t *body;
	size_t len; /* body bytes */
	size_t off; /* bytes of header + body already sent */
};

struct tt_conn {
	struct tt_pollable p;
	struct tt_server *srv;
	int fd;
	struct tt_conn *prev, *next;
	struct tt_reader rd;
	uint8_t *pending; /* read from the socket but not parsed yet (back-pressure) */
	size_t pending_len;
	struct tt_outbuf *out_head, *out_tail;
	size_t out_bytes;
	uint32_t last_stream;
	unsigned errors; /* protocol errors so far */
	size_t ncalls;
	struct tt_call *calls;
	uint32_t events; /* what epoll currently watches */
	bool closed;
	/* In the middle of a frame: its deadline, in the server's list of such connections. */
	int64_t frame_deadline;
	struct tt_conn *fprev, *fnext;
	bool in_frame;
	/* Not read until the partial-frame budget has room, in the server's list of waiters. */
	struct tt_conn *wprev, *wnext;
	bool waiting;
};

struct tt_call {
	struct tt_server *srv;
	/* I/O thread side */
	struct tt_conn *conn;
	struct tt_call *cprev, *cnext;
	size_t heap_idx;
	bool answered;
	/* handed between threads under the queue / done locks */
	struct tt_call *qnext;
	const struct tt_method *m;
	struct tt_request req;
	uint32_t stream_id;
	int64_t deadline; /* CLOCK_MONOTONIC ns, INT64_MAX = none */
	size_t bytes;	  /* frame size, counted in tt_server.pending_bytes */
	atomic_bool cancelled;
	/* the worker's result */
	int code;
	char *message;
	uint8_t *resp;
	size_t resp_len;
};

enum {
	TT_CMD_DRAIN = 1,
	TT_CMD_CANCEL = 2,
	TT_CMD_EXIT = 4,
};

struct tt_server {
	struct tt_server_config cfg;
	struct tt_method *methods;
	size_t n_methods;
	struct tt_listen_slot *listeners;
	size_t n_listeners;
	int epfd;
	int wakefd;
	struct tt_pollable wake;
	pthread_t io_thread;
	pthread_t *workers;
	size_t n_workers;
	bool started, stopped;

	/* worker queue */
	pthread_mutex_t qlock;
	pthread_cond_t qcond;
	struct tt_call *qhead, *qtail;
	size_t qlen;
	bool qstop;

	/* to the I/O thread: finished calls and commands; from it: progress */
	pthread_mutex_t lock;
	pthread_cond_t state_cond;
	struct tt_call *done_head, *done_tail;
	int cmd;
	int acked;	   /* commands the I/O thread has carried out */
	size_t open_conns; /* connections (with their calls) still alive */

	/* cancellation, for tt_call_wait() */
	pthread_mutex_t cancel_lock;
	pthread_cond_t cancel_cond;

	/* I/O thread only */
	uint8_t *rbuf;
	struct tt_conn *conns;
	size_t n_conns;
	size_t pending_bytes;	  /* sum of call->bytes of live calls */
	struct tt_budget partial; /* buffers of frames still arriving (every reader's) */
	/* Connections in the middle of a frame, oldest first: every frame gets the same
	 * timeout, so this order is deadline order. */
	struct tt_conn *frames_head, *frames_tail;
	/* Connections waiting for partial-frame budget, first come first served. */
	struct tt_conn *wait_head, *wait_tail;
	struct tt_call **heap;
	size_t heap_len, heap_cap;
	bool draining;
	int64_t listen_resume; /* accept paused (EMFILE) until then; 0 = not paused */
};

/* server.c */
const struct tt_method *tt_server_lookup(struct tt_server *s, const char *service,
					 const char *method, bool *service_known);
/* Queue for a worker; false when the queue is full or stopped (the call stays the caller's). */
bool tt_server_enqueue(struct tt_server *s, struct tt_call *call);
void tt_call_cancel(struct tt_call *call);
void tt_call_free(struct tt_call *call);
void tt_server_wake(struct tt_server *s);

/* server-io.c */
void *tt_server_io_main(void *arg);
