// SPDX-License-Identifier: Apache-2.0
/* Address parsing, listening and connecting for ttrpc (unix and TCP over IPv4/IPv6). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include "util/cleanup.h"
#include "ttrpc/net.h"
#include "ttrpc/wire.h"

static void freeaddrinfop(struct addrinfo **ai)
{
	if (*ai)
		freeaddrinfo(*ai);
}
#define _cleanup_addrinfo_ __attribute__((cleanup(freeaddrinfop)))

enum addr_kind { ADDR_UNIX, ADDR_TCP };

struct parsed_addr {
	enum addr_kind kind;
	struct sockaddr_un un; /* ADDR_UNIX */
	socklen_t un_len;
	bool abstract;
	char host[256]; /* ADDR_TCP; empty = any (listen) or loopback (connect) */
	char port[6];
};

static int parse_unix(const char *path, struct parsed_addr *pa, const char *addr,
		      struct cc_error **err)
{
	size_t n = strlen(path);

	pa->kind = ADDR_UNIX;
	pa->un.sun_family = AF_UNIX;
	if (n == 0 || (path[0] == '@' && n == 1))
		return cc_error_set(err, EINVAL, "address %s: empty socket path", addr);
	if (n >= sizeof(pa->un.sun_path))
		return cc_error_set(err, ENAMETOOLONG, "address %s", addr);
	memcpy(pa->un.sun_path, path, n);
	pa->abstract = path[0] == '@';
	if (pa->abstract) {
		/* Linux abstract namespace: leading NUL, length-delimited name. */
		pa->un.sun_path[0] = '\0';
		pa->un_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	} else {
		pa->un_len = (socklen_t)sizeof(pa->un);
	}
	return 0;
}

/* HOST:PORT, [V6]:PORT or :PORT. */
static int parse_host_port(const char *hp, struct parsed_addr *pa, const char *addr,
			   struct cc_error **err)
{
	const char *colon = strrchr(hp, ':'), *host = hp, *port;
	size_t hlen;
	char *end;
	long p;

	pa->kind = ADDR_TCP;
	if (!colon)
		return cc_error_set(err, EINVAL, "address %s: missing port", addr);
	port = colon + 1;
	hlen = (size_t)(colon - hp);
	if (hlen && hp[0] == '[') {
		if (hp[hlen - 1] != ']' || hlen < 3)
			return cc_error_set(err, EINVAL, "address %s: bad IPv6 literal", addr);
		host = hp + 1;
		hlen -= 2;
	} else if (memchr(hp, ':', hlen)) {
		return cc_error_set(err, EINVAL, "address %s: IPv6 host needs [brackets]", addr);
	}
	if (hlen >= sizeof(pa->host))
		return cc_error_set(err, EINVAL, "address %s: host name too long", addr);
	errno = 0;
	p = strtol(port, &end, 10);
	if (!*port || *end || errno || p < 0 || p > 65535 || port[0] == '+' || port[0] == '-')
		return cc_error_set(err, EINVAL, "address %s: bad port \"%s\"", addr, port);
	memcpy(pa->host, host, hlen);
	pa->host[hlen] = '\0';
	snprintf(pa->port, sizeof(pa->port), "%ld", p);
	return 0;
}

static int parse_addr(const char *addr, struct parsed_addr *pa, struct cc_error **err)
{
	const char *sep;

	memset(pa, 0, sizeof(*pa));
	if (!strncmp(addr, "unix://", 7))
		return parse_unix(addr + 7, pa, addr, err);
	if (!strncmp(addr, "tcp://", 6))
		return parse_host_port(addr + 6, pa, addr, err);
	sep = strstr(addr, "://");
	if (sep)
		return cc_error_set(err, EINVAL, "address %s: unsupported scheme \"%.*s\"", addr,
				    (int)(sep - addr), addr);
	return parse_host_port(addr, pa, addr, err);
}

static int resolve(const struct parsed_addr *pa, bool passive, struct addrinfo **res,
		   const char *addr, struct cc_error **err)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	int r;

	if (passive)
		hints.ai_flags |= AI_PASSIVE;
	r = getaddrinfo(pa->host[0] ? pa->host : NULL, pa->port, &hints, res);
	if (r == EAI_SYSTEM)
		return cc_error_errno(err, "address %s: resolve", addr);
	if (r)
		return cc_error_set(err, 0, "address %s: resolve: %s", addr, gai_strerror(r));
	return 0;
}

static char *format_bound(int fd, const struct parsed_addr *pa, const char *unix_path)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[INET6_ADDRSTRLEN];

	if (pa->kind == ADDR_UNIX)
		return pa->abstract ? xasprintf("unix://@%s", pa->un.sun_path + 1)
				    : xasprintf("unix://%s", unix_path);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return xstrdup("tcp://?");
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		return xasprintf("tcp://[%s]:%u", host, ntohs(s6->sin6_port));
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
	return xasprintf("tcp://%s:%u", host, ntohs(s4->sin_port));
}

static int listen_tcp(const struct parsed_addr *pa, const char *addr, struct cc_error **err)
{
	_cleanup_addrinfo_ struct addrinfo *res = NULL;
	int one = 1, saved = 0;

	if (resolve(pa, true, &res, addr, err) < 0)
		return -1;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		_cleanup_close_ int fd =
		    socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			saved = errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, SOMAXCONN) == 0)
			return steal_fd(&fd);
		saved = errno;
	}
	return cc_error_set(err, saved, "listen %s", addr);
}

static int listen_unix(const struct parsed_addr *pa, struct tt_listener *l, const char *addr,
		       struct cc_error **err)
{
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct stat st;

	if (fd < 0)
		return cc_error_errno(err, "listen %s: socket", addr);
	/* An existing file is an error (EADDRINUSE), never silently replaced: it may belong to a
	 * live server. */
	if (bind(fd, (const struct sockaddr *)&pa->un, pa->un_len) < 0)
		return cc_error_errno(err, "listen %s", addr);
	if (!pa->abstract) {
		l->unix_path = xstrdup(pa->un.sun_path);
		if (stat(l->unix_path, &st) == 0) {
			l->dev = st.st_dev;
			l->ino = st.st_ino;
		}
	}
	if (listen(fd, SOMAXCONN) < 0) {
		cc_error_errno(err, "listen %s", addr);
		tt_net_listener_close(l);
		return -1;
	}
	return steal_fd(&fd);
}

int tt_net_listen(const char *addr, struct tt_listener *l, char **bound, struct cc_error **err)
{
	struct parsed_addr pa;

	memset(l, 0, sizeof(*l));
	l->fd = -1;
	if (parse_addr(addr, &pa, err) < 0)
		return -1;
	l->fd = pa.kind == ADDR_UNIX ? listen_unix(&pa, l, addr, err) : listen_tcp(&pa, addr, err);
	if (l->fd < 0)
		return -1;
	if (bound)
		*bound = format_bound(l->fd, &pa, l->unix_path);
	return 0;
}

void tt_net_listener_close(struct tt_listener *l)
{
	struct stat st;

	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
	if (l->unix_path && stat(l->unix_path, &st) == 0 && S_ISSOCK(st.st_mode) &&
	    st.st_dev == l->dev && st.st_ino == l->ino)
		unlink(l->unix_path);
	free(l->unix_path);
	l->unix_path = NULL;
}

/* connect(2) with a deadline: non-blocking connect, poll, then back to blocking. */
static int connect_fd(int fd, const struct sockaddr *sa, socklen_t len, int64_t timeout_ns)
{
	int64_t deadline = tt_deadline_after(timeout_ns);
	int flags = fcntl(fd, F_GETFL), soerr = 0;
	socklen_t sl = sizeof(soerr);

	if (timeout_ns <= 0)
		return connect(fd, sa, len);
	if (fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
		return -1;
	if (connect(fd, sa, len) < 0) {
		if (errno != EINPROGRESS)
			return -1;
		for (;;) {
			struct pollfd p = { .fd = fd, .events = POLLOUT };
			int r;
			if (deadline <= tt_now_ns()) {
				errno = ETIMEDOUT;
				return -1;
			}
			r = poll(&p, 1, tt_poll_timeout_ms(deadline));
			if (r < 0 && errno != EINTR)
				return -1;
			if (r > 0)
				break;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
			return -1;
		if (soerr) {
			errno = soerr;
			return -1;
		}
	}
	return fcntl(fd, F_SETFL, flags);
}

static int connect_one(int family, const struct sockaddr *sa, socklen_t len, int64_t timeout_ns)
{
	_cleanup_close_ int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;

	if (fd < 0)
		return -1;
	if (connect_fd(fd, sa, len, timeout_ns) < 0)
		return -1;
	if (family != AF_UNIX)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return steal_fd(&fd);
}

int tt_net_connect(const char *addr, int64_t timeout_ns, struct cc_error **err)
{
	_cleanup_addrinfo_ struct addrinfo *res = NULL;
	struct parsed_addr pa;
	int fd, saved = 0;

	if (parse_addr(addr, &pa, err) < 0)
		return -1;
	if (pa.kind == ADDR_UNIX) {
		fd = connect_one(AF_UNIX, (struct sockaddr *)&pa.un, pa.un_len, timeout_ns);
		return fd >= 0 ? fd : cc_error_errno(err, "connect %s", addr);
	}
	if (resolve(&pa, false, &res, addr, err) < 0)
		return -1;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		fd = connect_one(ai->ai_family, ai->ai_addr, ai->ai_addrlen, timeout_ns);
		if (fd >= 0)
			return fd;
		saved = errno;
	}
	return cc_error_set(err, saved, "connect %s", addr);
}
