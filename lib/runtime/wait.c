// SPDX-License-Identifier: Apache-2.0
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>
#include "runtime/container.h"
#include "util/cleanup.h"
#include "util/fs.h"

struct fg {
	pid_t pid;
	int master;
	bool exited;
	int status;
	bool stdin_open;
};

static void copy_winsize(int master)
{
	struct winsize ws;
	if (master >= 0 && ioctl(0, TIOCGWINSZ, &ws) == 0)
		ioctl(master, TIOCSWINSZ, &ws);
}

static void handle_signal(struct fg *f, const struct signalfd_siginfo *si)
{
	int ws;
	pid_t r;
	if (si->ssi_signo == SIGCHLD) {
		while ((r = waitpid(-1, &ws, WNOHANG)) > 0) {
			if (r != f->pid)
				continue;
			f->exited = true;
			f->status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
		}
		return;
	}
	if (si->ssi_signo == SIGWINCH) {
		copy_winsize(f->master);
		return;
	}
	kill(f->pid, (int)si->ssi_signo);
}

/* Copy what is readable on `from` to `to`; false when `from` is at end (or hung up). */
static bool pump(int from, int to)
{
	char buf[16384];
	ssize_t n = read(from, buf, sizeof(buf));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return true;
	if (n <= 0)
		return false;
	/* A reader that went away loses the output, but the terminal is still drained: the
	 * container must never block writing to it. */
	bool lost = cc_write_all(to, buf, (size_t)n) < 0;
	(void)lost;
	return true;
}

static void drain_master(int master)
{
	int fl = fcntl(master, F_GETFL);
	fcntl(master, F_SETFL, fl | O_NONBLOCK);
	char buf[16384];
	ssize_t n;
	while ((n = read(master, buf, sizeof(buf))) > 0)
		if (cc_write_all(1, buf, (size_t)n) < 0)
			break;
}

int rt_wait_foreground(pid_t pid, int tty_master, int *status, struct cc_error **err)
{
	sigset_t all;
	struct termios saved, raw;
	bool restore = false;
	struct fg f = { .pid = pid, .master = tty_master, .stdin_open = tty_master >= 0 };

	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, NULL);
	_cleanup_close_ int sfd = signalfd(-1, &all, SFD_CLOEXEC);
	if (sfd < 0)
		return cc_error_errno(err, "signalfd");
	if (tty_master >= 0 && isatty(0) && tcgetattr(0, &saved) == 0) {
		raw = saved;
		cfmakeraw(&raw);
		restore = tcsetattr(0, TCSANOW, &raw) == 0;
		copy_winsize(tty_master);
	}
	/* The child may have exited before we started listening for SIGCHLD. */
	struct signalfd_siginfo chld = { .ssi_signo = SIGCHLD };
	handle_signal(&f, &chld);
	while (!f.exited) {
		struct pollfd p[3] = { { sfd, POLLIN, 0 },
				       { f.master, POLLIN, 0 },
				       { f.stdin_open ? 0 : -1, POLLIN, 0 } };
		if (poll(p, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[0].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof(si)) == sizeof(si))
				handle_signal(&f, &si);
		}
		if (f.master >= 0 && (p[1].revents & (POLLIN | POLLHUP | POLLERR)) &&
		    !pump(f.master, 1))
			f.master = -1;
		if (f.stdin_open && (p[2].revents & (POLLIN | POLLHUP)) && tty_master >= 0 &&
		    !pump(0, tty_master))
			f.stdin_open = false;
	}
	if (f.master >= 0)
		drain_master(f.master);
	if (restore)
		tcsetattr(0, TCSANOW, &saved);
	*status = f.status;
	return 0;
}
