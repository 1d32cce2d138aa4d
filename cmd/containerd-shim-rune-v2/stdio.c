// SPDX-License-Identifier: Apache-2.0
/*
 * A process's stdio as containerd names it: FIFOs the client reads and writes (plain paths or
 * fifo://), file://PATH (stdout and stderr appended to one file), binary://PATH?ARGS (a logging
 * program that reads the process's output on its descriptors 3 and 4 and says it is ready by
 * closing or writing to 5), or nothing (/dev/null).
 *
 * Output goes straight from the process to its FIFO or file: rune passes the descriptors on and
 * the shim copies nothing. Stdin is copied by a thread from its FIFO into a pipe, so that the
 * process sees end-of-file only when the client closes its end (CloseIO), never before the
 * client opened it. A terminal's pty master comes back from rune on a console socket; a thread
 * copies between it and the FIFOs.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>
#include "shim.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/strv.h"

#define COPY_BUF (32u << 10)

struct proc_io {
	int given[3];	   /* what rune passes to the process; closed once it has them */
	int stdin_src;	   /* the stdin FIFO, read side */
	int stdin_dst;	   /* where stdin goes: the process's pipe, or the pty master */
	int stdout_w;	   /* a terminal's output FIFO */
	int master;	   /* a terminal's pty master */
	int console_fd;	   /* the console socket rune connects to */
	char *console_dir; /* and the directory it lives in */
	int stop_fd;	   /* eventfd: the copy thread stops */
	bool close_stdin;  /* CloseIO came: drain what is there, then close */
	pthread_t thread;
	bool thread_running;
	pthread_mutex_t lock;
};

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* A FIFO for writing without waiting for its reader: opened read-write (which never blocks),
 * reopened write-only through /proc, so that the reader sees end-of-file when writers go. */
static int open_fifo_w(const char *path, struct cc_error **err)
{
	_cleanup_close_ int rw = open(path, O_RDWR | O_CLOEXEC);
	if (rw < 0)
		return cc_error_set(err, errno, "open %s", path);
	struct stat st;
	if (fstat(rw, &st) < 0 || !S_ISFIFO(st.st_mode))
		return cc_error_set(err, 0, "%s is not a FIFO", path);
	char proc[64];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", rw);
	int fd = open(proc, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return cc_error_set(err, errno, "open %s", path);
	return fd;
}

static int open_fifo_r(const char *path, struct cc_error **err)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return cc_error_set(err, errno, "open %s", path);
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISFIFO(st.st_mode)) {
		close(fd);
		return cc_error_set(err, 0, "%s is not a FIFO", path);
	}
	return fd;
}

/* binary:///path?k=v&k2 runs `path k v k2` with the output pipes' read ends on 3 and 4. */
static int start_logger(struct proc *p, const char *rest, const char *ns, int out_r, int err_r,
			struct cc_error **err)
{
	_cleanup_strv_ char **args = NULL;
	if (shim_logger_argv(rest, &args, err) < 0)
		return cc_error_prefix(err, "stdout \"%s\"", p->stdout_path);
	const char *path = args[0];
	int ready[2];
	if (pipe2(ready, O_CLOEXEC) < 0)
		return cc_error_set(err, errno, "pipe");
	_cleanup_free_ char *env_id = xasprintf("CONTAINER_ID=%s", p->c->id);
	_cleanup_free_ char *env_ns = xasprintf("CONTAINER_NAMESPACE=%s", ns);
	extern char **environ;
	_cleanup_strv_ char **env = cc_strv_dup(environ);
	cc_strv_push(&env, env_id);
	cc_strv_push(&env, env_ns);
	sigset_t none;
	sigemptyset(&none);
	pid_t pid = fork();
	if (pid == 0) {
		int src[3] = { fcntl(out_r, F_DUPFD, 10), fcntl(err_r, F_DUPFD, 10),
			       fcntl(ready[1], F_DUPFD, 10) };
		int null = open("/dev/null", O_RDWR);
		dup2(null, 0), dup2(null, 1), dup2(null, 2);
		for (int i = 0; i < 3; i++)
			if (src[i] < 0 || dup2(src[i], 3 + i) < 0)
				_exit(126);
		close_range(6, ~0u, 0);
		setsid();
		signal(SIGPIPE, SIG_DFL);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execve(path, args, env);
		_exit(127);
	}
	int e = errno;
	close(ready[1]);
	if (pid < 0) {
		close(ready[0]);
		return cc_error_set(err, e, "start the logging binary %s", path);
	}
	/* Ready: it wrote a byte or closed descriptor 5 (exit included). */
	struct pollfd pfd = { ready[0], POLLIN, 0 };
	int r = poll(&pfd, 1, 10000);
	close(ready[0]);
	if (r <= 0) {
		kill(pid, SIGKILL);
		return cc_error_set(err, ETIMEDOUT, "the logging binary %s did not get ready",
				    path);
	}
	return 0;
}

/* stdout/stderr for a process without a terminal. */
static int open_output(struct proc *p, struct proc_io *io, const char *ns, struct cc_error **err)
{
	const char *path;
	const char *scheme =
	    p->stdout_path && *p->stdout_path ? shim_stdio_scheme(p->stdout_path, &path) : "fifo";
	if (!scheme)
		return cc_error_set(err, 0, "stdout \"%s\": unknown scheme", p->stdout_path);
	if (!strcmp(scheme, "file")) {
		_cleanup_free_ char *dir = xstrdup(path);
		char *slash = strrchr(dir, '/');
		if (path[0] != '/' || !slash)
			return cc_error_set(err, 0, "stdout \"%s\": not an absolute path",
					    p->stdout_path);
		*slash = '\0';
		if (*dir && cc_mkdir_p(dir, 0755, err) < 0)
			return -1;
		int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
		if (fd < 0)
			return cc_error_set(err, errno, "open %s", path);
		io->given[1] = fd;
		io->given[2] = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		return 0;
	}
	if (!strcmp(scheme, "binary")) {
		int out[2], errp[2];
		if (pipe2(out, O_CLOEXEC) < 0)
			return cc_error_set(err, errno, "pipe");
		if (pipe2(errp, O_CLOEXEC) < 0) {
			close(out[0]), close(out[1]);
			return cc_error_set(err, errno, "pipe");
		}
		int r = start_logger(p, path, ns, out[0], errp[0], err);
		close(out[0]), close(errp[0]);
		io->given[1] = out[1];
		io->given[2] = errp[1];
		return r;
	}
	if (p->stdout_path && *p->stdout_path && (io->given[1] = open_fifo_w(path, err)) < 0)
		return -1;
	if (p->stderr_path && *p->stderr_path) {
		const char *epath;
		if (!shim_stdio_scheme(p->stderr_path, &epath) ||
		    (io->given[2] = open_fifo_w(epath, err)) < 0)
			return -1;
	}
	return 0;
}

static int open_console_socket(struct proc_io *io, char **path, struct cc_error **err)
{
	char dir[] = "/run/rune-shim-XXXXXX";
	if (!mkdtemp(dir))
		return cc_error_set(err, errno, "create a console socket directory");
	io->console_dir = xstrdup(dir);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/console.sock", dir);
	io->console_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (io->console_fd < 0 || bind(io->console_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(io->console_fd, 1) < 0)
		return cc_error_set(err, errno, "console socket %s", sa.sun_path);
	*path = xstrdup(sa.sun_path);
	return 0;
}

static void remove_console_socket(struct proc_io *io)
{
	close_fd(&io->console_fd);
	if (io->console_dir) {
		_cleanup_free_ char *sock = cc_path_join(io->console_dir, "console.sock");
		unlink(sock);
		rmdir(io->console_dir);
		free(io->console_dir);
		io->console_dir = NULL;
	}
}

int proc_io_open(struct proc *p, const char *ns, int fds[3], char **console_socket,
		 struct cc_error **err)
{
	struct proc_io *io = xzalloc(sizeof(*io));
	p->io = io;
	io->given[0] = io->given[1] = io->given[2] = -1;
	io->stdin_src = io->stdin_dst = io->stdout_w = io->master = io->console_fd = -1;
	pthread_mutex_init(&io->lock, NULL);
	io->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (io->stop_fd < 0)
		return cc_error_set(err, errno, "eventfd");
	*console_socket = NULL;

	if (p->stdin_path && *p->stdin_path) {
		const char *path;
		if (!shim_stdio_scheme(p->stdin_path, &path) ||
		    (io->stdin_src = open_fifo_r(path, err)) < 0)
			return -1;
	}
	if (p->terminal) {
		if (p->stdout_path && *p->stdout_path) {
			const char *path;
			if (!shim_stdio_scheme(p->stdout_path, &path) ||
			    (io->stdout_w = open_fifo_w(path, err)) < 0)
				return -1;
		}
		if (open_console_socket(io, console_socket, err) < 0)
			return -1;
	} else {
		if (io->stdin_src >= 0) {
			int pp[2];
			if (pipe2(pp, O_CLOEXEC) < 0)
				return cc_error_set(err, errno, "pipe");
			io->given[0] = pp[0];
			io->stdin_dst = pp[1];
		}
		if (open_output(p, io, ns, err) < 0)
			return -1;
	}
	for (int i = 0; i < 3; i++)
		fds[i] = io->given[i];
	return 0;
}

void proc_io_after_exec(struct proc *p)
{
	if (!p->io)
		return;
	for (int i = 0; i < 3; i++)
		close_fd(&p->io->given[i]);
}

/* Receive the pty master rune sends on the console socket. */
static int receive_master(struct proc_io *io, struct cc_error **err)
{
	struct pollfd pfd = { io->console_fd, POLLIN, 0 };
	if (poll(&pfd, 1, 10000) <= 0)
		return cc_error_set(err, ETIMEDOUT, "no terminal came on the console socket");
	_cleanup_close_ int conn = accept4(io->console_fd, NULL, NULL, SOCK_CLOEXEC);
	if (conn < 0)
		return cc_error_set(err, errno, "console socket");
	char byte[256];
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { byte, sizeof(byte) };
	struct msghdr msg = { .msg_iov = &iov,
			      .msg_iovlen = 1,
			      .msg_control = u.buf,
			      .msg_controllen = sizeof(u.buf) };
	ssize_t n = recvmsg(conn, &msg, MSG_CMSG_CLOEXEC);
	struct cmsghdr *c = n >= 0 ? CMSG_FIRSTHDR(&msg) : NULL;
	if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
	    c->cmsg_len != CMSG_LEN(sizeof(int)))
		return cc_error_set(err, 0, "console socket: no terminal descriptor came");
	memcpy(&io->master, CMSG_DATA(c), sizeof(int));
	return 0;
}

/* Write all of buf to a non-blocking dst, waiting for room; false when told to stop first or
 * when dst is gone. */
static bool write_out(struct proc_io *io, int dst, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(dst, buf, len);
		if (n > 0) {
			buf += n, len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN)
			return false;
		struct pollfd pfd[2] = { { dst, POLLOUT, 0 }, { io->stop_fd, POLLIN, 0 } };
		if (poll(pfd, 2, -1) < 0 && errno != EINTR)
			return false;
		if (pfd[1].revents)
			return false;
	}
	return true;
}

static bool stdin_closing(struct proc_io *io)
{
	pthread_mutex_lock(&io->lock);
	bool c = io->close_stdin;
	pthread_mutex_unlock(&io->lock);
	return c;
}

/* One thread per process that needs one: stdin FIFO -> process, and for a terminal the pty
 * master -> stdout FIFO. Ends when the terminal hangs up (or, without one, at stdin's end). */
static void *copy_main(void *arg)
{
	struct proc_io *io = arg;
	char *buf = xmalloc(COPY_BUF);
	for (;;) {
		struct pollfd pfd[3] = { { io->stop_fd, POLLIN, 0 },
					 { io->stdin_src, POLLIN, 0 },
					 { io->master, POLLIN, 0 } };
		if (poll(pfd, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		bool stop = pfd[0].revents;
		if (stop && !stdin_closing(io))
			break;
		if (pfd[1].revents || stop) { /* CloseIO: what is in the FIFO still goes */
			ssize_t n = read(io->stdin_src, buf, COPY_BUF);
			if (n > 0 && !write_out(io, io->stdin_dst, buf, (size_t)n))
				n = 0;
			if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) ||
			    (stop && n < 0)) {
				close_fd(&io->stdin_src);
				if (io->master < 0) /* the pipe's end is the process's EOF */
					close_fd(&io->stdin_dst);
				uint64_t v;
				if (read(io->stop_fd, &v, sizeof(v)) < 0)
					v = 0;
				if (io->master < 0)
					break;
			}
		}
		if (pfd[2].revents) {
			ssize_t n = read(io->master, buf, COPY_BUF);
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (n <= 0 || io->stdout_w < 0 ||
			    !write_out(io, io->stdout_w, buf, (size_t)n)) {
				if (n <= 0) /* the terminal hung up: the process is gone */
					break;
			}
		}
	}
	free(buf);
	close_fd(&io->stdout_w);
	return NULL;
}

int proc_io_started(struct proc *p, struct cc_error **err)
{
	struct proc_io *io = p->io;
	if (p->terminal) {
		int r = receive_master(io, err);
		remove_console_socket(io);
		if (r < 0)
			return -1;
		io->stdin_dst = io->master >= 0 ? fcntl(io->master, F_DUPFD_CLOEXEC, 3) : -1;
	}
	if (io->stdin_dst >= 0)
		fcntl(io->stdin_dst, F_SETFL, fcntl(io->stdin_dst, F_GETFL) | O_NONBLOCK);
	if (io->stdout_w >= 0)
		fcntl(io->stdout_w, F_SETFL, fcntl(io->stdout_w, F_GETFL) | O_NONBLOCK);
	if (io->stdin_src < 0 && io->master < 0)
		return 0;
	if (pthread_create(&io->thread, NULL, copy_main, io) != 0)
		return cc_error_set(err, EAGAIN, "start copying the process's stdio");
	io->thread_running = true;
	return 0;
}

void proc_io_close_stdin(struct proc *p)
{
	struct proc_io *io = p->io;
	if (!io)
		return;
	pthread_mutex_lock(&io->lock);
	io->close_stdin = true;
	pthread_mutex_unlock(&io->lock);
	uint64_t one = 1;
	if (write(io->stop_fd, &one, sizeof(one)) < 0)
		cc_log(CC_LOG_WARNING, "close stdin: %s", strerror(errno));
}

int proc_io_resize(struct proc *p, uint32_t width, uint32_t height, struct cc_error **err)
{
	if (!p->io || p->io->master < 0)
		return cc_error_set(err, ENOTTY, "the process has no terminal");
	struct winsize ws = { .ws_row = (unsigned short)height, .ws_col = (unsigned short)width };
	if (ioctl(p->io->master, TIOCSWINSZ, &ws) < 0)
		return cc_error_set(err, errno, "resize the terminal");
	return 0;
}

void proc_io_free(struct proc *p)
{
	struct proc_io *io = p->io;
	if (!io)
		return;
	if (io->thread_running) {
		/* A terminal's last output is still read out, for a bounded time. */
		struct timespec t;
		clock_gettime(CLOCK_REALTIME, &t);
		t.tv_sec += io->master >= 0 ? 2 : 0;
		if (pthread_timedjoin_np(io->thread, NULL, &t) != 0) {
			io->close_stdin = false;
			uint64_t one = 1;
			if (write(io->stop_fd, &one, sizeof(one)) < 0)
				cc_log(CC_LOG_WARNING, "stop copying: %s", strerror(errno));
			pthread_join(io->thread, NULL);
		}
	}
	for (int i = 0; i < 3; i++)
		close_fd(&io->given[i]);
	close_fd(&io->stdin_src);
	close_fd(&io->stdin_dst);
	close_fd(&io->stdout_w);
	close_fd(&io->master);
	close_fd(&io->stop_fd);
	remove_console_socket(io);
	pthread_mutex_destroy(&io->lock);
	free(io);
	p->io = NULL;
}
