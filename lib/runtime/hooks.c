// SPDX-License-Identifier: Apache-2.0
/*
 * OCI hooks. One poll loop per hook feeds the state to its stdin, collects its stdout and
 * stderr (kept for the error message, as runc does) and watches a pidfd for its exit or the
 * deadline. Doing all three at once matters: a hook that prints a lot before reading stdin, or
 * never reads it, must not dead-lock us against a full pipe.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "runtime/hooks.h"
#include "runtime/process.h"
#include "util/cleanup.h"

/* Enough of a hook's output to explain a failure; the rest is read and dropped. */
#define HOOK_OUTPUT_MAX 1024

struct hook_run {
	pid_t pid;
	int pidfd;  /* -1 when pidfd_open is missing: fall back to polling waitpid */
	int in_fd;  /* our end of the hook's stdin, -1 once all written or refused */
	int out_fd; /* our end of the hook's stdout+stderr, -1 at EOF */
	const char *state;
	size_t len, off;
	char out[HOOK_OUTPUT_MAX + 1];
	size_t out_len;
	bool out_truncated;
	bool exited;
	int status;
};

const char *rt_hook_kind_name(enum rt_hook_kind kind)
{
	static const char *const names[] = {
		[RT_HOOK_PRESTART] = "prestart",
		[RT_HOOK_CREATE_RUNTIME] = "createRuntime",
		[RT_HOOK_CREATE_CONTAINER] = "createContainer",
		[RT_HOOK_START_CONTAINER] = "startContainer",
		[RT_HOOK_POSTSTART] = "poststart",
		[RT_HOOK_POSTSTOP] = "poststop",
	};
	if ((unsigned)kind < ARRAY_SIZE(names))
		return names[kind];
	return "unknown";
}

extern char **environ;

static __attribute__((noreturn)) void hook_child(const struct rt_hook *h, int in_r, int out_w)
{
	char *const fallback_argv[] = { h->path, NULL };
	char *const *argv = h->args && h->args[0] ? h->args : fallback_argv;
	sigset_t none;

	/* Lift both above 0-2 first so the dup2s below cannot clobber one with the other. */
	in_r = fcntl(in_r, F_DUPFD_CLOEXEC, 3);
	out_w = fcntl(out_w, F_DUPFD_CLOEXEC, 3);
	if (in_r < 0 || out_w < 0 || dup2(in_r, 0) < 0 || dup2(out_w, 1) < 0 || dup2(out_w, 2) < 0)
		_exit(127);
	/* Only stdio goes to the hook: not the sync socket, the exec fifo or anything else. */
	rt_close_fds_from(3, NULL, 0);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	/* Like runc (Go exec with a nil Env): no env in the config means the runtime's own. */
	execve(h->path, argv, h->env ? h->env : environ);
	dprintf(2, "exec %s: %s", h->path, strerror(errno));
	_exit(127);
}

static int spawn(struct hook_run *r, const struct rt_hook *h, struct cc_error **err)
{
	int in[2], out[2];

	if (pipe2(in, O_CLOEXEC) < 0)
		return cc_error_errno(err, "pipe");
	if (pipe2(out, O_CLOEXEC) < 0) {
		cc_error_errno(err, "pipe");
		close(in[0]);
		close(in[1]);
		return -1;
	}
	r->pid = fork();
	if (r->pid == 0)
		hook_child(h, in[0], out[1]);
	close(in[0]);
	close(out[1]);
	if (r->pid < 0) {
		close(in[1]);
		close(out[0]);
		return cc_error_errno(err, "fork");
	}
	r->in_fd = in[1];
	r->out_fd = out[0];
	fcntl(r->in_fd, F_SETFL, O_NONBLOCK);
	fcntl(r->out_fd, F_SETFL, O_NONBLOCK);
	r->pidfd = (int)syscall(SYS_pidfd_open, r->pid, 0);
	if (r->len == 0) {
		close(r->in_fd);
		r->in_fd = -1;
	}
	return 0;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void feed_stdin(struct hook_run *r)
{
	ssize_t n = write(r->in_fd, r->state + r->off, r->len - r->off);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	/* EPIPE: the hook does not want its stdin, which is its business. */
	if (n < 0 || (r->off += (size_t)n) == r->len)
		close_fd(&r->in_fd);
}

static void read_output(struct hook_run *r)
{
	char buf[4096];
	ssize_t n;
	while ((n = read(r->out_fd, buf, sizeof(buf))) > 0) {
		size_t room = HOOK_OUTPUT_MAX - r->out_len;
		size_t take = (size_t)n < room ? (size_t)n : room;
		memcpy(r->out + r->out_len, buf, take);
		r->out_len += take;
		r->out_truncated = r->out_truncated || take < (size_t)n;
	}
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
		close_fd(&r->out_fd);
}

static void reap(struct hook_run *r, bool block)
{
	int ws;
	pid_t got;
	while ((got = waitpid(r->pid, &ws, block ? 0 : WNOHANG)) < 0 && errno == EINTR)
		;
	if (got == r->pid) {
		r->exited = true;
		r->status = ws;
	} else if (got < 0) {
		/* Reaped by someone else (SIGCHLD ignored): nothing more to learn. */
		r->exited = true;
		r->status = 0;
	}
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Returns false on timeout (the hook is still running). */
static bool supervise(struct hook_run *r, int timeout_s)
{
	long long deadline = timeout_s > 0 ? now_ms() + (long long)timeout_s * 1000 : -1;

	while (!r->exited) {
		struct pollfd p[3] = { { r->pidfd, POLLIN, 0 },
				       { r->in_fd, POLLOUT, 0 },
				       { r->out_fd, POLLIN, 0 } };
		/* Without a pidfd, look at the child every 50 ms. */
		long long wait = r->pidfd >= 0 ? -1 : 50;
		if (deadline >= 0) {
			long long left = deadline - now_ms();
			if (left <= 0)
				return false;
			wait = wait < 0 || left < wait ? left : wait;
		}
		if (poll(p, 3, (int)wait) < 0) {
			if (errno == EINTR)
				continue;
			reap(r, true); /* cannot watch it any more: just wait for it */
			return true;
		}
		if (p[1].revents)
			feed_stdin(r);
		if (p[2].revents)
			read_output(r);
		if (r->pidfd < 0 || p[0].revents)
			reap(r, r->pidfd >= 0);
	}
	/* Output written just before exit; a daemonised grandchild may keep the pipe open, so
	 * take what is there now and do not wait for EOF. */
	if (r->out_fd >= 0)
		read_output(r);
	return true;
}

/* The captured output as one line: trimmed, newlines folded into "; ". */
static char *output_line(struct hook_run *r)
{
	size_t n = r->out_len;
	while (n && (r->out[n - 1] == '\n' || r->out[n - 1] == ' ' || r->out[n - 1] == '\r' ||
		     r->out[n - 1] == '\t'))
		n--;
	char *s = xmalloc(n * 2 + 4);
	size_t j = 0;
	for (size_t i = 0; i < n; i++) {
		if (r->out[i] == '\n') {
			s[j++] = ';';
			s[j++] = ' ';
		} else if (r->out[i] != '\r') {
			s[j++] = r->out[i];
		}
	}
	if (r->out_truncated) {
		memcpy(s + j, "...", 3);
		j += 3;
	}
	s[j] = '\0';
	return s;
}

static int report(struct hook_run *r, int timeout_s, struct cc_error **err)
{
	_cleanup_free_ char *out = output_line(r);
	const char *sep = *out ? ": " : "";

	if (!r->exited) {
		cc_error_set(err, 0, "timeout: killed after %d seconds%s%s", timeout_s, sep, out);
		(*err)->errnum = ETIMEDOUT;
		return -1;
	}
	if (WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0)
		return 0;
	if (WIFEXITED(r->status))
		return cc_error_set(err, 0, "exit status %d%s%s", WEXITSTATUS(r->status), sep, out);
	return cc_error_set(err, 0, "killed by signal %d (%s)%s%s", WTERMSIG(r->status),
			    strsignal(WTERMSIG(r->status)), sep, out);
}

static int run_one(const struct rt_hook *h, const char *state, struct cc_error **err)
{
	struct hook_run r = { .pidfd = -1, .in_fd = -1, .out_fd = -1, .state = state };
	struct sigaction ign = { .sa_handler = SIG_IGN }, old;

	r.len = state ? strlen(state) : 0;
	if (spawn(&r, h, err) < 0)
		return -1;
	/* Writing to a hook that exited without reading must give EPIPE, not kill us. */
	sigaction(SIGPIPE, &ign, &old);
	bool finished = supervise(&r, h->timeout);
	/* While SIGPIPE is blocked (foreground `run`) the kernel queues it even though it is
	 * ignored; setting SIG_IGN again discards that pending instance. */
	sigaction(SIGPIPE, &ign, NULL);
	sigaction(SIGPIPE, &old, NULL);
	if (!finished) {
		kill(r.pid, SIGKILL);
		reap(&r, true);
		r.exited = false;
	}
	close_fd(&r.in_fd);
	close_fd(&r.out_fd);
	close_fd(&r.pidfd);
	return report(&r, h->timeout, err);
}

int rt_hooks_run(const struct rt_hooks *hooks, enum rt_hook_kind kind, const char *state_json,
		 struct cc_error **err)
{
	if ((unsigned)kind >= RT_HOOK_KINDS)
		return cc_error_set(err, 0, "unknown hook kind %d", (int)kind);
	for (size_t i = 0; i < hooks->count[kind]; i++) {
		const struct rt_hook *h = &hooks->list[kind][i];
		if (run_one(h, state_json, err) < 0)
			return cc_error_prefix(err, "%s hook #%zu (%s)", rt_hook_kind_name(kind), i,
					       h->path);
	}
	return 0;
}
