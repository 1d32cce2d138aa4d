// SPDX-License-Identifier: Apache-2.0
/* Pseudo-terminals for `process.terminal`, and runc's console-socket protocol. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>
#include "runtime/terminal.h"
#include "util/cleanup.h"
#include "util/fs.h"

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

/* runc refuses console-socket messages with a longer name. */
#define PTY_NAME_MAX 4096

/* The peer through the master itself: right even after pivot_root into a new devpts, where
 * the name ptsname() gives may belong to another instance. Older kernels: open by name. */
static int open_peer(int master, struct cc_error **err)
{
	int fd = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd >= 0)
		return fd;
	if (errno != EINVAL && errno != ENOTTY)
		return cc_error_errno(err, "open pty peer");
	char name[128];
	if (ptsname_r(master, name, sizeof(name)) != 0)
		return cc_error_errno(err, "ptsname");
	fd = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return cc_error_errno(err, "open %s", name);
	return fd;
}

int rt_terminal_open(const char *ptmx_path, unsigned rows, unsigned cols, int *master, int *slave,
		     struct cc_error **err)
{
	_cleanup_close_ int m = open(ptmx_path, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (m < 0)
		return cc_error_errno(err, "open %s", ptmx_path);
	if (grantpt(m) < 0)
		return cc_error_errno(err, "grantpt");
	if (unlockpt(m) < 0)
		return cc_error_errno(err, "unlockpt");
	_cleanup_close_ int s = open_peer(m, err);
	if (s < 0)
		return -1;
	if (rows && cols) {
		struct winsize ws = { .ws_row = (unsigned short)rows,
				      .ws_col = (unsigned short)cols };
		if (ioctl(m, TIOCSWINSZ, &ws) < 0)
			return cc_error_errno(err, "set terminal size %ux%u", cols, rows);
	}
	*master = steal_fd(&m);
	*slave = steal_fd(&s);
	return 0;
}

int rt_terminal_make_controlling(int slave, struct cc_error **err)
{
	/* EPERM: already a session leader (e.g. the init of a new pid namespace after setsid). */
	if (setsid() < 0 && !(errno == EPERM && getsid(0) == getpid()))
		return cc_error_errno(err, "setsid");
	if (ioctl(slave, TIOCSCTTY, 0) < 0)
		return cc_error_errno(err, "make the pty the controlling terminal");
	for (int fd = 0; fd <= 2; fd++)
		if (dup2(slave, fd) < 0)
			return cc_error_errno(err, "dup2 pty to fd %d", fd);
	return 0;
}

int rt_terminal_send_fd(int sock, int fd, const char *name, struct cc_error **err)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl = { 0 };
	/* A stream message needs at least one byte to carry the fd. */
	const char *body = name && *name ? name : "\0";
	size_t len = name && *name ? strlen(name) : 1;
	struct iovec iov = { (void *)body, len };
	struct msghdr msg = { .msg_iov = &iov,
			      .msg_iovlen = 1,
			      .msg_control = ctl.buf,
			      .msg_controllen = sizeof(ctl.buf) };

	if (len > PTY_NAME_MAX)
		return cc_error_set(err, ENAMETOOLONG, "send pty: name too long");
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	ssize_t n;
	while ((n = sendmsg(sock, &msg, MSG_NOSIGNAL)) < 0 && errno == EINTR)
		;
	if (n < 0)
		return cc_error_errno(err, "send pty over the console socket");
	if ((size_t)n != len)
		return cc_error_set(err, 0, "send pty over the console socket: short write");
	return 0;
}

int rt_terminal_recv_fd(int sock, struct cc_error **err)
{
	char name[PTY_NAME_MAX];
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * 4)];
	} ctl;
	struct iovec iov = { name, sizeof(name) };
	struct msghdr msg = { .msg_iov = &iov,
			      .msg_iovlen = 1,
			      .msg_control = ctl.buf,
			      .msg_controllen = sizeof(ctl.buf) };
	ssize_t n;
	int fd = -1;

	while ((n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR)
		;
	if (n < 0)
		return cc_error_errno(err, "receive pty from the console socket");
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t nfds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < nfds; i++) {
			int got;
			memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			/* Keep the first; a well-behaved peer sends exactly one. */
			if (fd < 0)
				fd = got;
			else
				close(got);
		}
	}
	if (fd < 0) {
		if (n == 0)
			return cc_error_set(err, 0,
					    "console socket closed before the pty was sent");
		return cc_error_set(err, 0, "console socket: message carried no file descriptor");
	}
	if (msg.msg_flags & MSG_CTRUNC) {
		close(fd);
		return cc_error_set(err, 0, "console socket: control message truncated");
	}
	return fd;
}

int rt_console_socket_connect(const char *path, struct cc_error **err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (strlen(path) >= sizeof(sa.sun_path))
		return cc_error_set(err, ENAMETOOLONG, "console socket %s", path);
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return cc_error_errno(err, "console socket: socket");
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		cc_error_errno(err, "connect to console socket %s", path);
		close(fd);
		return -1;
	}
	return fd;
}

/* ---- foreground proxy ---- */

struct proxy {
	int master;
	int sfd;	 /* signalfd for SIGWINCH */
	bool stdin_open; /* false after EOF or error on our stdin */
	bool stdin_tty;
};

static void copy_winsize(int master)
{
	struct winsize ws;
	if (ioctl(0, TIOCGWINSZ, &ws) == 0)
		ioctl(master, TIOCSWINSZ, &ws);
}

/* Copy what is there; false at end of input. EIO on a master means the last slave closed. */
static bool pump(int from, int to)
{
	char buf[16384];
	ssize_t n = read(from, buf, sizeof(buf));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return true;
	if (n <= 0)
		return false;
	return cc_write_all(to, buf, (size_t)n) == 0;
}

static void drain(int master)
{
	int fl = fcntl(master, F_GETFL);
	if (fl >= 0)
		fcntl(master, F_SETFL, fl | O_NONBLOCK);
	while (pump(master, 1)) {
		struct pollfd p = { master, POLLIN, 0 };
		if (poll(&p, 1, 0) <= 0 || !(p.revents & POLLIN))
			break;
	}
}

static void proxy_loop(struct proxy *x)
{
	for (;;) {
		struct pollfd p[3] = { { x->master, POLLIN, 0 },
				       { x->stdin_open ? 0 : -1, POLLIN, 0 },
				       { x->sfd, POLLIN, 0 } };
		if (poll(p, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		if (p[2].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (read(x->sfd, &si, sizeof(si)) == sizeof(si) && x->stdin_tty)
				copy_winsize(x->master);
		}
		/* Our stdin ended: stop reading it, the container keeps its terminal. */
		if ((p[1].revents & (POLLIN | POLLHUP | POLLERR)) && !pump(0, x->master))
			x->stdin_open = false;
		if (p[0].revents & POLLIN) {
			if (!pump(x->master, 1))
				return;
		} else if (p[0].revents & (POLLHUP | POLLERR | POLLNVAL)) {
			drain(x->master);
			return;
		}
	}
}

int rt_terminal_proxy(int master, struct cc_error **err)
{
	struct proxy x = { .master = master, .sfd = -1, .stdin_open = true };
	struct termios saved, raw;
	sigset_t winch, old;

	/* Like runc's foreground tty: no CR added before LF on the way out of the container. */
	if (tcgetattr(master, &raw) == 0) {
		raw.c_oflag &= ~(tcflag_t)ONLCR;
		tcsetattr(master, TCSANOW, &raw);
	}
	sigemptyset(&winch);
	sigaddset(&winch, SIGWINCH);
	if (sigprocmask(SIG_BLOCK, &winch, &old) < 0)
		return cc_error_errno(err, "block SIGWINCH");
	x.sfd = signalfd(-1, &winch, SFD_CLOEXEC | SFD_NONBLOCK);
	if (x.sfd < 0) {
		cc_error_errno(err, "signalfd");
		sigprocmask(SIG_SETMASK, &old, NULL);
		return -1;
	}
	x.stdin_tty = isatty(0) && tcgetattr(0, &saved) == 0;
	if (x.stdin_tty) {
		raw = saved;
		cfmakeraw(&raw);
		tcsetattr(0, TCSANOW, &raw);
		copy_winsize(master);
	}
	proxy_loop(&x);
	if (x.stdin_tty)
		tcsetattr(0, TCSANOW, &saved);
	close(x.sfd);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return 0;
}

int rt_terminal_require_caller_tty(struct cc_error **err)
{
	int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return cc_error_errno(err,
				      "open /dev/tty (terminal: true in the foreground needs the "
				      "caller's terminal; use --console-socket or --detach)");
	close(fd);
	return 0;
}
