/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sockets an enclave container's init serves (agent.sock for rune, attest.sock for the
 * container's own processes): one accept thread per socket, one thread per session, the
 * framing of msg.h, and the limits every peer gets. Each socket has its own pool of sessions and
 * its own message budget, so the container's processes, who can reach attest.sock, can never
 * starve rune's exec and attest on agent.sock.
 */
#pragma once

#include <pthread.h>
#include <stddef.h>
#include <jansson.h>
#include "enclave/msg.h"

struct enc_service;

/* One connection; replies may come from several threads (an exec's waiter and its kills). */
struct enc_session {
	int conn;
	const struct enc_service *svc;
	pthread_mutex_t send_lock;
};

/* Answers the session's first message, req. fds are the descriptors that came with it (nfds);
 * they are closed when it returns, except those it sets to -1. */
typedef void (*enc_serve_fn)(struct enc_session *s, json_t *req, int fds[ENC_MSG_MAX_FDS],
			     size_t nfds);

struct enc_service {
	const char *name; /* the socket's name in messages: "agent.sock" */
	int listen_fd;
	enc_serve_fn serve;
	/* The first message must come soon after connecting; later ones (an exec's kills) may
	 * come days later, but each must be complete soon after its first byte. */
	struct enc_msg_limits request_limits, later_limits;
	pthread_mutex_t lock;
	pthread_cond_t ended;
	unsigned n; /* sessions running */
	struct enc_msg_budget budget;
};

/* A service for listen_fd, with the limits of every enclave init socket. */
void enc_service_init(struct enc_service *svc, const char *name, int listen_fd, enc_serve_fn serve);
/* Start serving in a detached thread; svc must live as long as the process. */
void enc_service_start(struct enc_service *svc);
/* Send msg (consumed; NULL sends nothing) on the session; a peer that went away is ignored. */
void enc_session_reply(struct enc_session *s, json_t *msg);
/* "cannot start a thread" and friends after create: rune init's error sink. */
void enc_service_report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
