// SPDX-License-Identifier: Apache-2.0
/* The agent.sock protocol. See enclave-msg.h. */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "enclave/msg.h"
#include "util/cleanup.h"
#include "util/json.h"
#include "util/strv.h"
#include "util/hex.h"

int enc_msg_send(int sock, json_t *msg, const int *fds, size_t nfds, struct cc_error **err)
{
	_cleanup_free_ char *body = json_dumps(msg, JSON_COMPACT);
	if (!body)
		return cc_error_set(err, 0, "agent message: cannot encode");
	size_t len = strlen(body);
	if (len > ENC_MSG_MAX || nfds > ENC_MSG_MAX_FDS)
		return cc_error_set(err, E2BIG, "agent message: %zu bytes", len);
	uint8_t hdr[4] = { len & 0xff, (len >> 8) & 0xff, (len >> 16) & 0xff, len >> 24 };
	struct iovec iov[2] = { { hdr, sizeof(hdr) }, { body, len } };
	union {
		char buf[CMSG_SPACE(sizeof(int) * ENC_MSG_MAX_FDS)];
		struct cmsghdr align;
	} ctl;
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
	if (nfds) {
		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	/* The descriptors go with the first sendmsg; the rest of a long body follows. */
	size_t total = sizeof(hdr) + len, sent = 0;
	while (sent < total) {
		ssize_t n = sendmsg(sock, &mh, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return cc_error_errno(err, "agent socket: send");
		sent += (size_t)n;
		mh.msg_control = NULL;
		mh.msg_controllen = 0;
		while (n > 0 && mh.msg_iovlen) {
			size_t step =
			    (size_t)n < mh.msg_iov->iov_len ? (size_t)n : mh.msg_iov->iov_len;
			mh.msg_iov->iov_base = (char *)mh.msg_iov->iov_base + step;
			mh.msg_iov->iov_len -= step;
			n -= (ssize_t)step;
			if (!mh.msg_iov->iov_len) {
				mh.msg_iov++;
				mh.msg_iovlen--;
			}
		}
	}
	return 0;
}

static void close_fds(int *fds, size_t *nfds)
{
	for (size_t i = 0; i < *nfds; i++)
		close(fds[i]);
	*nfds = 0;
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t deadline_after(int64_t ns)
{
	return ns > 0 ? now_ns() + ns : INT64_MAX;
}

/* Wait until sock has something to read or until the deadline (INT64_MAX: no wait at all,
 * the read blocks). 0 when readable, 1 at the deadline, -1 with *err. */
static int wait_readable(int sock, int64_t deadline, struct cc_error **err)
{
	while (deadline != INT64_MAX) {
		int64_t left = deadline - now_ns();
		struct pollfd p = { .fd = sock, .events = POLLIN };
		if (left <= 0)
			return 1;
		int r = poll(&p, 1, (int)((left + 999999) / 1000000));
		if (r < 0 && errno != EINTR)
			return cc_error_errno(err, "agent socket: poll");
		if (r > 0)
			return 0;
	}
	return 0;
}

/* The receive in progress: its clock and its share of the budget. */
struct recv_state {
	const struct enc_msg_limits *lim;
	int64_t deadline; /* for the rest of the message, once its first byte came */
	size_t charged;	  /* taken from lim->budget */
};

static int64_t ms(int64_t ns)
{
	return ns / 1000000;
}

/* Before each read: the wait for the first byte, then the message's own deadline. */
static int wait_turn(int sock, struct recv_state *st, bool first, struct cc_error **err)
{
	int64_t deadline = st->deadline;
	if (first && st->lim)
		deadline = deadline_after(st->lim->wait_ns);
	int r = wait_readable(sock, deadline, err);
	if (r <= 0)
		return r;
	if (first)
		return cc_error_set(err, 0, "agent socket: no message within %lld ms",
				    (long long)ms(st->lim->wait_ns));
	return cc_error_set(err, 0, "agent message: not complete within %lld ms",
			    (long long)ms(st->lim->timeout_ns));
}

static void started(struct recv_state *st)
{
	if (st->lim && st->deadline == INT64_MAX)
		st->deadline = deadline_after(st->lim->timeout_ns);
}

/* Take what a buffer of cap bytes costs beyond ENC_MSG_FREE; false when over the budget. */
static bool budget_charge(struct recv_state *st, size_t cap)
{
	struct enc_msg_budget *b = st->lim ? st->lim->budget : NULL;
	size_t want = cap > ENC_MSG_FREE ? cap - ENC_MSG_FREE : 0;
	if (!b || want <= st->charged)
		return true;
	size_t more = want - st->charged, held = atomic_load(&b->held);
	do {
		if (held > b->max || more > b->max - held)
			return false;
	} while (!atomic_compare_exchange_weak(&b->held, &held, held + more));
	st->charged = want;
	return true;
}

static void budget_release(struct recv_state *st)
{
	if (st->charged)
		atomic_fetch_sub(&st->lim->budget->held, st->charged);
	st->charged = 0;
}

/* The header, with whatever descriptors came along with it. 0: end of stream. */
static int recv_header(int sock, struct recv_state *st, uint8_t hdr[4], int *fds, size_t *nfds,
		       struct cc_error **err)
{
	size_t got = 0;
	while (got < 4) {
		union {
			char buf[CMSG_SPACE(sizeof(int) * ENC_MSG_MAX_FDS)];
			struct cmsghdr align;
		} ctl;
		struct iovec iov = { hdr + got, 4 - got };
		struct msghdr mh = { .msg_iov = &iov,
				     .msg_iovlen = 1,
				     .msg_control = ctl.buf,
				     .msg_controllen = sizeof(ctl.buf) };
		if (wait_turn(sock, st, got == 0 && *nfds == 0, err) < 0)
			return -1;
		ssize_t n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return cc_error_errno(err, "agent socket: receive");
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
				continue;
			size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (size_t i = 0; i < k; i++) {
				int fd;
				memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
				if (*nfds < ENC_MSG_MAX_FDS)
					fds[(*nfds)++] = fd;
				else
					close(fd);
			}
		}
		if (mh.msg_flags & MSG_CTRUNC)
			return cc_error_set(err, 0, "agent message: too many descriptors");
		if (n == 0) {
			if (got == 0 && *nfds == 0)
				return 0;
			return cc_error_set(err, 0, "agent message: truncated header");
		}
		started(st);
		got += (size_t)n;
	}
	return 1;
}

/* First buffer for a body; it doubles as bytes arrive, up to the announced length. */
#define BODY_FIRST (16u << 10)

/* The body, into a buffer that grows with what arrives: a peer announcing 4 MiB and sending
 * ten bytes costs BODY_FIRST. */
static char *recv_body(int sock, struct recv_state *st, uint32_t len, struct cc_error **err)
{
	_cleanup_free_ char *body = NULL;
	size_t got = 0, cap = 0;
	while (got < len) {
		if (got == cap) {
			size_t next = cap ? 2 * cap : BODY_FIRST;
			if (next > len)
				next = len;
			if (!budget_charge(st, next)) {
				cc_error_set(err, 0,
					     "agent message: %u bytes: the agent is busy receiving "
					     "other messages",
					     len);
				return NULL;
			}
			body = xrealloc(body, next);
			cap = next;
		}
		if (wait_turn(sock, st, false, err) < 0)
			return NULL;
		ssize_t n = read(sock, body + got, cap - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n < 0)
				cc_error_errno(err, "agent socket: receive");
			else
				cc_error_set(err, 0, "agent message: truncated body");
			return NULL;
		}
		got += (size_t)n;
	}
	return body ? steal_pointer(&body) : xstrdup("");
}

int enc_msg_recv_limited(int sock, const struct enc_msg_limits *lim, json_t **msg, int *fds,
			 size_t *nfds, struct cc_error **err)
{
	struct recv_state st = { .lim = lim, .deadline = INT64_MAX };
	uint8_t hdr[4];
	*msg = NULL;
	*nfds = 0;
	int ret = recv_header(sock, &st, hdr, fds, nfds, err);
	if (ret <= 0) {
		close_fds(fds, nfds);
		return ret;
	}
	uint32_t len = hdr[0] | hdr[1] << 8 | hdr[2] << 16 | (uint32_t)hdr[3] << 24;
	if (len > ENC_MSG_MAX) {
		close_fds(fds, nfds);
		return cc_error_set(err, 0, "agent message: %u bytes is over the %u-byte limit",
				    len, ENC_MSG_MAX);
	}
	_cleanup_free_ char *body = recv_body(sock, &st, len, err);
	budget_release(&st);
	if (body)
		*msg = enc_msg_parse(body, len, err);
	if (!*msg) {
		close_fds(fds, nfds);
		return -1;
	}
	return 1;
}

int enc_msg_recv(int sock, json_t **msg, int *fds, size_t *nfds, struct cc_error **err)
{
	return enc_msg_recv_limited(sock, NULL, msg, fds, nfds, err);
}

#define ANSWER_TEXT_MAX 2048

json_t *enc_msg_expect(int sock, const struct enc_msg_limits *lim, const char *want,
		       struct cc_error **err)
{
	json_t *msg = NULL;
	int fds[ENC_MSG_MAX_FDS];
	size_t nfds = 0;
	int ret = enc_msg_recv_limited(sock, lim, &msg, fds, &nfds, err);
	for (size_t i = 0; i < nfds; i++)
		close(fds[i]);
	if (ret == 0)
		cc_error_set(err, 0, "the connection closed without an answer");
	if (ret <= 0)
		return NULL;
	const char *op = json_string_value(json_object_get(msg, "op"));
	if (!strcmp(op, want))
		return msg;
	const char *text = json_string_value(json_object_get(msg, "message"));
	if (!strcmp(op, "error") && text) {
		_cleanup_free_ char *line = xstrndup(text, ANSWER_TEXT_MAX);
		for (char *p = line; *p; p++)
			if ((unsigned char)*p < ' ' || *p == 0x7f)
				*p = ' ';
		cc_error_set(err, 0, "%s", line);
		(*err)->code = ENC_MSG_PEER_ERROR;
	} else {
		char shown[CC_SHOWN_BUF];
		cc_shown(op, strlen(op), shown);
		cc_error_set(err, 0, "answered \"%s\", not \"%s\"", shown, want);
	}
	json_decref(msg);
	return NULL;
}

json_t *enc_msg_parse(const char *buf, size_t len, struct cc_error **err)
{
	json_error_t jerr;
	json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!j) {
		cc_error_set(err, 0, "agent message: %s", jerr.text);
		return NULL;
	}
	if (!json_is_object(j) || !json_is_string(json_object_get(j, "op"))) {
		json_decref(j);
		cc_error_set(err, 0, "agent message: not an object with an \"op\"");
		return NULL;
	}
	return j;
}

/* A JSON array of strings without NUL bytes; env entries must look like KEY=VALUE. */
static int strv_member(json_t *msg, const char *key, bool env, char ***out, struct cc_error **err)
{
	json_t *a = json_object_get(msg, key);
	size_t i;
	json_t *v;
	*out = NULL;
	if (!json_is_array(a) || (!env && json_array_size(a) == 0))
		return cc_error_set(err, 0, "agent message: \"%s\": a %sarray of strings expected",
				    key, env ? "" : "non-empty ");
	json_array_foreach (a, i, v) {
		const char *s = json_string_value(v);
		if (!s || strlen(s) != json_string_length(v) || (env && !strchr(s, '=')) ||
		    (env && s[0] == '=')) {
			cc_strv_free(*out);
			*out = NULL;
			return cc_error_set(err, 0, "agent message: \"%s\"[%zu]: invalid", key, i);
		}
		cc_strv_push(out, s);
	}
	if (!*out)
		*out = xcalloc(1, sizeof(char *));
	return 0;
}

int enc_msg_exec_decode(json_t *msg, char ***argv, char ***env, struct cc_error **err)
{
	*env = NULL;
	if (strv_member(msg, "argv", false, argv, err) < 0)
		return -1;
	if ((*argv)[0][0] == '\0')
		cc_error_set(err, 0, "agent message: \"argv\"[0]: empty program");
	else if (strv_member(msg, "env", true, env, err) == 0)
		return 0;
	cc_strv_free(*argv);
	*argv = NULL;
	return -1;
}

int enc_msg_hex_field(json_t *msg, const char *key, void *out, size_t len, bool optional,
		      struct cc_error **err)
{
	json_t *v = json_object_get(msg, key);
	const char *s = json_string_value(v);
	memset(out, 0, len);
	if (!v && optional)
		return 0;
	if (!s || json_string_length(v) != 2 * len)
		return cc_error_set(err, 0, "agent message: \"%s\": %zu hex digits expected", key,
				    2 * len);
	if (!cc_hex_decode(s, out, len))
		return cc_error_set(err, 0, "agent message: \"%s\": not hex", key);
	return 0;
}

void enc_msg_set_hex(json_t *msg, const char *key, const void *data, size_t len)
{
	_cleanup_free_ char *s = cc_hex(data, len);
	json_object_set_new(msg, key, json_string(s));
}

json_t *enc_msg_error(const char *fmt, ...)
{
	va_list ap;
	char *text;
	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) < 0)
		abort();
	va_end(ap);
	json_t *j = json_pack("{s:s,s:s}", "op", "error", "message", text);
	free(text);
	return j;
}

json_t *enc_msg_int(const char *op, const char *key, long long value)
{
	return json_pack("{s:s,s:I}", "op", op, key, (json_int_t)value);
}
