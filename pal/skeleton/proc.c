// SPDX-License-Identifier: Apache-2.0
/*
 * Payload processes of the skeleton: created parked, released by pal_exec.
 *
 * The child is forked at pal_create_process and blocks on a socketpair until pal_exec sends it
 * one byte. It then execs the very file that was measured, through the descriptor opened for
 * measuring (execveat AT_EMPTY_PATH), so the file cannot be swapped between measurement and
 * exec by renaming. If the exec fails, the child writes its errno on the socket before
 * _exit(127); on success the socket end, close-on-exec, just hangs up. A socketpair rather than
 * a pipe because send(MSG_NOSIGNAL) to a child that was killed meanwhile must not raise SIGPIPE
 * in the host process.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "pal/skeleton/skeleton.h"
#include "util/cleanup.h"

/* What the child needs: everything is prepared before fork, since after fork in a threaded
 * process only async-signal-safe calls are allowed. */
struct spawn_ctx {
	int fds[5]; /* stdin, stdout, stderr sources, then the executable and the socket */
	char *const *argv;
	char *const *envp;
	pid_t parent;
};

enum { FD_IN, FD_OUT, FD_ERR, FD_EXE, FD_SOCK };

static bool in_group(gid_t gid)
{
	if (getegid() == gid)
		return true;
	int n = getgroups(0, NULL);
	if (n <= 0)
		return false;
	_cleanup_free_ gid_t *groups = calloc((size_t)n, sizeof(*groups));
	if (!groups)
		return false;
	n = getgroups(n, groups);
	for (int i = 0; i < n; i++)
		if (groups[i] == gid)
			return true;
	return false;
}

/* X permission for the effective ids, on the open file (no second path lookup). */
static int check_exec_permission(int fd, const struct stat *st)
{
	if (faccessat(fd, "", X_OK, AT_EACCESS | AT_EMPTY_PATH) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -errno;
	/* Kernels without faccessat2 (before 5.8): the mode bits, ACLs aside. */
	mode_t bit;
	if (geteuid() == 0)
		bit = S_IXUSR | S_IXGRP | S_IXOTH;
	else if (st->st_uid == geteuid())
		bit = S_IXUSR;
	else if (in_group(st->st_gid))
		bit = S_IXGRP;
	else
		bit = S_IXOTH;
	return (st->st_mode & bit) ? 0 : -EACCES;
}

int skel_open_exe(const char *path, int *fdp)
{
	/* O_NONBLOCK: opening a FIFO must fail the type check below, not hang. */
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -ENOEXEC;
	int r = check_exec_permission(fd, &st);
	if (r < 0)
		return r;
	*fdp = steal_fd(&fd);
	return 0;
}

static _Noreturn void child_fail(int sock, int err)
{
	ssize_t n = write(sock, &err, sizeof(err));
	(void)n;
	_exit(127);
}

static void reset_signals(void)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigemptyset(&dfl.sa_mask);
	/* Signals reserved by libc or unchangeable fail with EINVAL: nothing to reset there. */
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &dfl, NULL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

static void close_range_or_loop(unsigned int first, unsigned int last)
{
	if (first > last)
		return;
	if (close_range(first, last, 0) == 0)
		return;
	struct rlimit rl;
	unsigned int max = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
			       ? (unsigned int)rl.rlim_cur
			       : 65536;
	for (unsigned int fd = first; fd <= last && fd < max; fd++)
		close((int)fd);
}

/* Closes every descriptor from 3 up, except the two given (both >= 3, distinct). */
static void close_others(int a, int b)
{
	unsigned int lo = (unsigned int)(a < b ? a : b), hi = (unsigned int)(a < b ? b : a);
	close_range_or_loop(3, lo - 1);
	close_range_or_loop(lo + 1, hi - 1);
	close_range_or_loop(hi + 1, ~0U);
}

static _Noreturn void child_main(struct spawn_ctx *c)
{
	int sock = c->fds[FD_SOCK];
	reset_signals();
	if (setsid() < 0)
		child_fail(sock, errno);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		child_fail(sock, errno);
	/* The parent may have died before the death signal was armed. */
	if (getppid() != c->parent)
		_exit(127);

	/* Copy every descriptor we need above 2 first: a stdio source may be 0, 1 or 2 itself or
	 * be the target of another one, and the executable or the socket may sit there too. */
	int fds[5];
	for (int i = 0; i < 5; i++) {
		fds[i] = fcntl(c->fds[i], F_DUPFD_CLOEXEC, 3);
		if (fds[i] < 0)
			child_fail(sock, errno);
	}
	sock = fds[FD_SOCK];
	for (int i = 0; i < 3; i++)
		if (dup2(fds[i], i) < 0)
			child_fail(sock, errno);
	close_others(fds[FD_EXE], sock);

	char go;
	ssize_t n;
	do
		n = read(sock, &go, 1);
	while (n < 0 && errno == EINTR);
	if (n != 1)
		_exit(127); /* never released: pal_destroy, or the host went away */

	execveat(fds[FD_EXE], "", c->argv, c->envp, AT_EMPTY_PATH);
	if (errno == ENOENT) {
		/* A script: its interpreter is given /dev/fd/N, which must survive the exec. */
		if (fcntl(fds[FD_EXE], F_SETFD, 0) == 0)
			execveat(fds[FD_EXE], "", c->argv, c->envp, AT_EMPTY_PATH);
	}
	child_fail(sock, errno);
}

int skel_spawn(int exe_fd, char *const argv[], char *const envp[],
	       const struct pal_stdio_fds *stdio, struct skel_child *child)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	struct spawn_ctx c = {
		.fds = { stdio->stdin_fd, stdio->stdout_fd, stdio->stderr_fd, exe_fd, sv[1] },
		.argv = argv,
		.envp = envp,
		.parent = getpid(),
	};
	/* Block everything across fork so that no host signal handler runs in the child before
	 * reset_signals. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid_t pid = fork();
	if (pid == 0)
		child_main(&c);
	int saved = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	close(sv[1]);
	if (pid < 0) {
		close(sv[0]);
		return -saved;
	}
	child->pid = pid;
	child->sock = sv[0];
	return 0;
}

int skel_release(int sock)
{
	char go = 1;
	ssize_t n;
	/* EPIPE: the child was killed before its exec; its wait status will say so. */
	do
		n = send(sock, &go, 1, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	int err = 0;
	do
		n = read(sock, &err, sizeof(err));
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)sizeof(err) && err > 0)
		return -err;
	return 0;
}

int skel_wait_exit(pid_t pid)
{
	for (;;) {
		siginfo_t si;
		memset(&si, 0, sizeof(si));
		if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) == 0)
			return 0;
		if (errno != EINTR)
			return -errno;
	}
}

int skel_reap(pid_t pid, int *exit_value)
{
	int ws;
	while (waitpid(pid, &ws, 0) < 0)
		if (errno != EINTR)
			return -errno;
	/* The shell's convention, as rune exits with this value. */
	*exit_value = WIFSIGNALED(ws) ? 128 + WTERMSIG(ws) : WEXITSTATUS(ws);
	return 0;
}

void skel_abort(struct skel_child *child)
{
	int status;
	kill(child->pid, SIGKILL);
	close(child->sock);
	child->sock = -1;
	skel_reap(child->pid, &status);
}
