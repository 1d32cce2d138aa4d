// SPDX-License-Identifier: Apache-2.0
/* The aesmd transport (aesm-client.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include "aesm-client.h"
#include "util/cleanup.h"

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double seconds(uint32_t ms)
{
	return ms / 1000.0;
}

/* Wait until fd is ready for events or the deadline passes: 0, or -1 with errno (ETIMEDOUT). */
static int wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - now_ms();
		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		struct pollfd p = { .fd = fd, .events = events };
		int n = poll(&p, 1, left > 1000000 ? 1000000 : (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

static int connect_aesm(const struct aesm_conn *c, int64_t deadline, struct cc_error **err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t n = strlen(c->socket_path);
	if (n == 0 || n >= sizeof(sa.sun_path))
		return cc_error_set(err, 0,
				    "aesmd socket %s: %zu bytes, a socket path has 1 to %zu",
				    c->socket_path, n, sizeof(sa.sun_path) - 1);
	memcpy(sa.sun_path, c->socket_path, n);
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return cc_error_errno(err, "socket");
	/* A unix socket's connect does not wait: EAGAIN means aesmd's backlog is full. */
	while (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		if (e == EINTR)
			continue;
		if (e == EAGAIN && now_ms() < deadline) {
			struct timespec pause = { 0, 10 * 1000 * 1000 };
			nanosleep(&pause, NULL);
			continue;
		}
		if (e == EAGAIN)
			return cc_error_set(err, 0,
					    "aesmd at %s did not take the connection within %g s",
					    c->socket_path, seconds(c->timeout_ms));
		cc_error_set(err, 0,
			     "cannot reach aesmd at %s: %s (is the SGX PSW (aesmd) installed and "
			     "running?)",
			     c->socket_path, strerror(e));
		(*err)->errnum = e;
		return -1;
	}
	return steal_fd(&fd);
}

static int send_all(const struct aesm_conn *c, int fd, const uint8_t *p, size_t len,
		    int64_t deadline, struct cc_error **err)
{
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN)
			return cc_error_errno(err, "send to aesmd at %s", c->socket_path);
		if (wait_fd(fd, POLLOUT, deadline) < 0)
			return errno == ETIMEDOUT
				   ? cc_error_set(
					 err, 0, "aesmd at %s did not take the request within %g s",
					 c->socket_path, seconds(c->timeout_ms))
				   : cc_error_errno(err, "poll");
	}
	return 0;
}

/* Exactly len bytes; *got says how many came before an early end of the stream. */
static int recv_all(const struct aesm_conn *c, int fd, uint8_t *p, size_t len, size_t *got,
		    int64_t deadline, struct cc_error **err)
{
	*got = 0;
	while (*got < len) {
		ssize_t n = recv(fd, p + *got, len - *got, 0);
		if (n > 0) {
			*got += (size_t)n;
			continue;
		}
		if (n == 0)
			return -1; /* the caller says what was missing */
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return cc_error_errno(err, "read from aesmd at %s", c->socket_path);
		if (wait_fd(fd, POLLIN, deadline) < 0)
			return errno == ETIMEDOUT
				   ? cc_error_set(err, 0, "aesmd at %s did not answer within %g s",
						  c->socket_path, seconds(c->timeout_ms))
				   : cc_error_errno(err, "poll");
	}
	return 0;
}

int aesm_transact(const struct aesm_conn *c, const uint8_t *req, size_t len, uint8_t **resp,
		  size_t *resp_len, struct cc_error **err)
{
	int64_t deadline = now_ms() + c->timeout_ms;
	uint8_t head[4];
	size_t got;

	*resp = NULL;
	if (len > UINT32_MAX)
		return cc_error_set(err, 0, "aesmd request of %zu bytes", len);
	_cleanup_close_ int fd = connect_aesm(c, deadline, err);
	if (fd < 0)
		return -1;
	for (int i = 0; i < 4; i++)
		head[i] = (uint8_t)(len >> (8 * i));
	if (send_all(c, fd, head, 4, deadline, err) < 0 ||
	    send_all(c, fd, req, len, deadline, err) < 0)
		return -1;
	if (recv_all(c, fd, head, 4, &got, deadline, err) < 0) {
		if (*err)
			return -1;
		return got ? cc_error_set(err, 0,
					  "aesmd at %s closed the connection inside the response "
					  "length (%zu of 4 bytes)",
					  c->socket_path, got)
			   : cc_error_set(err, 0,
					  "aesmd at %s closed the connection without answering",
					  c->socket_path);
	}
	uint32_t n = (uint32_t)head[0] | (uint32_t)head[1] << 8 | (uint32_t)head[2] << 16 |
		     (uint32_t)head[3] << 24;
	if (n > AESM_RESPONSE_MAX)
		return cc_error_set(err, 0,
				    "aesmd at %s announced a response of %u bytes, more than the "
				    "%u allowed",
				    c->socket_path, n, AESM_RESPONSE_MAX);
	_cleanup_free_ uint8_t *buf = xmalloc(n);
	if (recv_all(c, fd, buf, n, &got, deadline, err) < 0) {
		if (*err)
			return -1;
		return cc_error_set(
		    err, 0,
		    "aesmd at %s closed the connection after %zu of the %u response "
		    "bytes",
		    c->socket_path, got, n);
	}
	*resp = steal_pointer(&buf);
	*resp_len = n;
	return 0;
}

int aesm_call(const struct aesm_conn *c, enum aesm_op op, const uint8_t *req, size_t len,
	      uint8_t **raw, struct aesm_response *out, struct cc_error **err)
{
	size_t n;
	if (aesm_transact(c, req, len, raw, &n, err) < 0)
		return -1;
	return aesm_decode_response(op, *raw, n, out, err);
}
