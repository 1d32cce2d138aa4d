// SPDX-License-Identifier: Apache-2.0
/*
 * Task events to containerd, in the order they were queued, from one thread: forwarded over
 * containerd's ttrpc socket (TTRPC_ADDRESS, containerd.services.events.ttrpc.v1.Events/Forward)
 * as containerd's own shims do, or, when containerd gave no ttrpc address, handed to
 * `containerd publish` (the -publish-binary). An event that cannot be delivered is retried
 * five times, a second more each time, then dropped with a log line.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "ctd-any.pb-c.h"
#include "ctd-events-ttrpc.pb-c.h"
#include "shim.h"
#include "ttrpc/ttrpc.h"
#include "util/cleanup.h"
#include "util/log.h"

#define MAX_QUEUED 2048
#define RETRIES 5

struct event {
	char *topic, *type_url;
	uint8_t *buf;
	size_t len;
	struct timespec at;
	struct event *next;
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct event *head, **tail;
	size_t n;
	bool stop, running;
	pthread_t thread;
	struct tt_client *client;
} q = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER, .tail = &q.head };

void events_publish(const char *topic, const char *type, uint8_t *buf, size_t len)
{
	struct event *e = xzalloc(sizeof(*e));
	e->topic = xstrdup(topic);
	e->type_url = xasprintf("containerd.events.%s", type);
	e->buf = buf;
	e->len = len;
	e->at = shim_now();
	pthread_mutex_lock(&q.lock);
	if (q.n >= MAX_QUEUED) {
		cc_log(CC_LOG_ERROR, "event %s dropped: %d events wait for containerd", topic,
		       MAX_QUEUED);
		free(e->topic);
		free(e->type_url);
		free(e->buf);
		free(e);
	} else {
		*q.tail = e;
		q.tail = &e->next;
		q.n++;
		pthread_cond_signal(&q.cond);
	}
	pthread_mutex_unlock(&q.lock);
}

static uint8_t *pack(const ProtobufCMessage *m, size_t *len)
{
	*len = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = xmalloc(*len ? *len : 1);
	protobuf_c_message_pack(m, buf);
	return buf;
}

static int forward(const struct event *e, struct cc_error **err)
{
	Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
	any.type_url = e->type_url;
	any.value = (ProtobufCBinaryData){ e->len, e->buf };
	Google__Protobuf__Timestamp *ts = shim_timestamp(e->at);
	Containerd__Services__Events__Ttrpc__V1__Envelope env =
	    CONTAINERD__SERVICES__EVENTS__TTRPC__V1__ENVELOPE__INIT;
	env.timestamp = ts;
	env.namespace_ = (char *)g_shim.ns;
	env.topic = e->topic;
	env.event = &any;
	Containerd__Services__Events__Ttrpc__V1__ForwardRequest req =
	    CONTAINERD__SERVICES__EVENTS__TTRPC__V1__FORWARD_REQUEST__INIT;
	req.envelope = &env;
	size_t len;
	_cleanup_free_ uint8_t *buf = pack(&req.base, &len);
	free(ts);

	if (!q.client) {
		/* containerd gives a bare socket path */
		_cleanup_free_ char *addr = g_shim.ttrpc_address[0] == '/'
						? xasprintf("unix://%s", g_shim.ttrpc_address)
						: xstrdup(g_shim.ttrpc_address);
		q.client = tt_client_connect(addr, 5000000000, err);
		if (!q.client)
			return -1;
	}
	_cleanup_free_ uint8_t *resp = NULL;
	size_t resp_len;
	if (tt_client_call(q.client, "containerd.services.events.ttrpc.v1.Events", "Forward", buf,
			   len, 5000000000, NULL, 0, &resp, &resp_len, err) == 0)
		return 0;
	if ((*err)->code == TT_UNAVAILABLE) { /* reconnect next time */
		tt_client_close(q.client);
		q.client = NULL;
	}
	return -1;
}

/* containerd publish --namespace NS --topic T, the event as a google.protobuf.Any on stdin. */
static int publish_binary(const struct event *e, struct cc_error **err)
{
	Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
	any.type_url = e->type_url;
	any.value = (ProtobufCBinaryData){ e->len, e->buf };
	size_t len;
	_cleanup_free_ uint8_t *buf = pack(&any.base, &len);
	const char *args[] = { g_shim.publish_binary,
			       "--address",
			       g_shim.containerd_address ? g_shim.containerd_address : "",
			       "publish",
			       "--namespace",
			       g_shim.ns,
			       "--topic",
			       e->topic,
			       NULL };
	struct rune_cmd cmd = { .fds = { -1, -1, -1 },
				.input = (const char *)buf,
				.input_len = len };
	int status;
	if (shim_run(args, &cmd, &status, err) < 0)
		return -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		return cc_error_set(err, 0, "%s publish: exit status %d", g_shim.publish_binary,
				    WIFEXITED(status) ? WEXITSTATUS(status)
						      : 128 + WTERMSIG(status));
	return 0;
}

static void deliver(struct event *e)
{
	for (int attempt = 0;; attempt++) {
		struct cc_error *err = NULL;
		int r = g_shim.ttrpc_address && *g_shim.ttrpc_address ? forward(e, &err)
								      : publish_binary(e, &err);
		if (r == 0)
			return;
		if (attempt == RETRIES) {
			cc_log(CC_LOG_ERROR, "event %s dropped: %s", e->topic, err->msg);
			cc_error_free(&err);
			return;
		}
		cc_log(CC_LOG_WARNING, "event %s: %s; retrying", e->topic, err->msg);
		cc_error_free(&err);
		pthread_mutex_lock(&q.lock);
		bool stopping = q.stop;
		pthread_mutex_unlock(&q.lock);
		if (stopping)
			return;
		sleep((unsigned)attempt + 1);
	}
}

static void *publisher_main(void *arg)
{
	(void)arg;
	for (;;) {
		pthread_mutex_lock(&q.lock);
		while (!q.head && !q.stop)
			pthread_cond_wait(&q.cond, &q.lock);
		struct event *e = q.head;
		if (!e) { /* stopping, and nothing left */
			pthread_mutex_unlock(&q.lock);
			break;
		}
		q.head = e->next;
		if (!q.head)
			q.tail = &q.head;
		q.n--;
		pthread_mutex_unlock(&q.lock);
		deliver(e);
		free(e->topic);
		free(e->type_url);
		free(e->buf);
		free(e);
	}
	tt_client_close(q.client);
	q.client = NULL;
	return NULL;
}

int events_start(struct cc_error **err)
{
	if (pthread_create(&q.thread, NULL, publisher_main, NULL) != 0)
		return cc_error_set(err, EAGAIN, "start the event publisher");
	q.running = true;
	return 0;
}

void events_stop(void)
{
	if (!q.running)
		return;
	pthread_mutex_lock(&q.lock);
	q.stop = true;
	pthread_cond_broadcast(&q.cond);
	pthread_mutex_unlock(&q.lock);
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	t.tv_sec += 5;
	if (pthread_timedjoin_np(q.thread, NULL, &t) != 0)
		cc_log(CC_LOG_WARNING, "%zu events not delivered at exit", q.n);
	q.running = false;
}
