// SPDX-License-Identifier: Apache-2.0
/* The enclave init's sockets: accept loop, sessions and their limits. See service.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "enclave/service.h"
#include "runtime/init.h"
#include "util/cleanup.h"

/*
 * Whoever can reach a socket can make the init hold memory: bound it. Sessions beyond the cap
 * wait in the listen backlog until one ends; every message must arrive within the timeout
 * once begun (and a session's request within it of connecting); messages hold ENC_MSG_FREE
 * each without asking, so exec, attest and evidence requests always pass, and what bigger ones
 * hold beyond that comes from the socket's budget. A message that would take the budget over
 * is refused rather than waited for: its session ends at once and the sender can retry, and a
 * thread waiting would hold its session slot all the same.
 */
#define SESSIONS_MAX 128
#define MSG_BUDGET (16u << 20)
#define MSG_TIMEOUT_NS (10 * 1000000000LL)

void enc_service_report(const char *fmt, ...)
{
	struct cc_error *err = NULL;
	va_list ap;
	va_start(ap, fmt);
	cc_error_setv(&err, 0, fmt, ap);
	va_end(ap);
	rt_init_report(err);
	cc_error_free(&err);
}

void enc_service_init(struct enc_service *svc, const char *name, int listen_fd, enc_serve_fn serve)
{
	*svc = (struct enc_service){ .name = name, .listen_fd = listen_fd, .serve = serve };
	svc->budget.max = MSG_BUDGET;
	svc->request_limits = (struct enc_msg_limits){ .wait_ns = MSG_TIMEOUT_NS,
						       .timeout_ns = MSG_TIMEOUT_NS,
						       .budget = &svc->budget };
	svc->later_limits =
	    (struct enc_msg_limits){ .timeout_ns = MSG_TIMEOUT_NS, .budget = &svc->budget };
	pthread_mutex_init(&svc->lock, NULL);
	pthread_cond_init(&svc->ended, NULL);
}

void enc_session_reply(struct enc_session *s, json_t *msg)
{
	struct cc_error *err = NULL;
	pthread_mutex_lock(&s->send_lock);
	if (msg && enc_msg_send(s->conn, msg, NULL, 0, &err) < 0)
		cc_error_free(&err); /* the peer went away: nobody to tell */
	pthread_mutex_unlock(&s->send_lock);
	json_decref(msg);
}

static void session_end(struct enc_service *svc)
{
	pthread_mutex_lock(&svc->lock);
	svc->n--;
	pthread_cond_signal(&svc->ended);
	pthread_mutex_unlock(&svc->lock);
}

static void *session_thread(void *arg)
{
	struct enc_session *s = arg;
	struct enc_service *svc = (struct enc_service *)s->svc;
	struct cc_error *err = NULL;
	json_t *req = NULL;
	int fds[ENC_MSG_MAX_FDS];
	size_t nfds = 0;
	if (enc_msg_recv_limited(s->conn, &svc->request_limits, &req, fds, &nfds, &err) > 0)
		svc->serve(s, req, fds, nfds);
	cc_error_free(&err);
	json_decref(req);
	for (size_t i = 0; i < nfds; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	close(s->conn);
	pthread_mutex_destroy(&s->send_lock);
	free(s);
	session_end(svc);
	return NULL;
}

static void session_start(struct enc_service *svc, int conn)
{
	struct enc_session *s = xzalloc(sizeof(*s));
	pthread_t t;
	pthread_attr_t attr;
	s->conn = conn;
	s->svc = svc;
	pthread_mutex_init(&s->send_lock, NULL);
	pthread_mutex_lock(&svc->lock);
	svc->n++;
	pthread_mutex_unlock(&svc->lock);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	int r = pthread_create(&t, &attr, session_thread, s);
	pthread_attr_destroy(&attr);
	if (r == 0)
		return;
	enc_service_report("%s: cannot start a session thread: %s", svc->name, strerror(r));
	close(conn);
	pthread_mutex_destroy(&s->send_lock);
	free(s);
	session_end(svc);
	usleep(100 * 1000);
}

static void *accept_thread(void *arg)
{
	struct enc_service *svc = arg;
	for (;;) {
		/* Only this thread adds sessions: a free slot now is still free at accept. */
		pthread_mutex_lock(&svc->lock);
		while (svc->n >= SESSIONS_MAX)
			pthread_cond_wait(&svc->ended, &svc->lock);
		pthread_mutex_unlock(&svc->lock);
		int conn = accept4(svc->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (conn < 0 && (errno == EBADF || errno == EINVAL || errno == ENOTSOCK)) {
			enc_service_report("%s: %s; it is not served", svc->name, strerror(errno));
			return NULL;
		}
		if (conn < 0) {
			/* Out of descriptors or memory: give the sessions time to end. */
			if (errno == EMFILE || errno == ENFILE || errno == ENOMEM ||
			    errno == ENOBUFS)
				usleep(100 * 1000);
			continue;
		}
		session_start(svc, conn);
	}
	return NULL;
}

void enc_service_start(struct enc_service *svc)
{
	pthread_t t;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	int r = pthread_create(&t, &attr, accept_thread, svc);
	if (r != 0)
		enc_service_report("%s: cannot start a thread: %s", svc->name, strerror(r));
	pthread_attr_destroy(&attr);
}
