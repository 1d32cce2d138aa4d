// SPDX-License-Identifier: Apache-2.0
#include <fcntl.h>
#include <signal.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "runtime/container.h"
#include "runtime/init.h"
#include "runtime/namespaces.h"
#include "runtime/process.h"
#include "runtime/seccomp.h"
#include "runtime/sync.h"
#include "runtime/terminal.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"

struct rt_process *rt_exec_default_process(const struct rt_context *ctx, const char *id,
					   struct cc_error **err)
{
	struct rt_state *st = rt_state_load(ctx->root, id, err);
	if (!st)
		return NULL;
	struct rt_process *p = NULL;
	struct rt_spec *spec = rt_state_spec(st, err);
	json_t *jp = spec ? json_object_get(spec->raw, "process") : NULL;
	if (jp) {
		_cleanup_free_ char *text = cc_json_dump(jp);
		p = rt_process_parse("config.json: process", text, strlen(text), err);
	} else if (spec) {
		cc_error_set(err, 0, "container %s has no process in its config", id);
	}
	rt_spec_free(spec);
	rt_state_free(st);
	return p;
}

struct exec_run {
	const struct rt_exec_opts *o;
	struct rt_state *st;
	struct rt_spec *spec;
	struct rt_seccomp_prog *seccomp;
	struct rt_cgroup *cgroup;
	int sync_fd, console_fd, console_peer, tty_master;
};

static __attribute__((noreturn)) void exec_child(struct exec_run *x, int sync_fd)
{
	struct cc_error *err = NULL;
	struct rt_process *p = x->o->process;

	if (chdir(p->cwd) < 0)
		sync_fail(sync_fd, (cc_error_errno(&err, "chdir to cwd (\"%s\")", p->cwd), err));
	if (p->terminal && x->console_fd >= 0) {
		int master, slave;
		if (rt_terminal_open("/dev/ptmx", p->console_height, p->console_width, &master,
				     &slave, &err) < 0 ||
		    rt_terminal_send_fd(x->console_fd, master, "/dev/ptmx", &err) < 0 ||
		    rt_terminal_make_controlling(slave, &err) < 0)
			sync_fail(sync_fd, err);
		close(master);
		if (slave > 2)
			close(slave);
		close(x->console_fd);
	}
	if (rt_process_set_rlimits(p, &err) < 0)
		sync_fail(sync_fd, err);
	/* The exec'd process gets its own oomScoreAdj, else the container's. */
	const struct rt_process *cp = x->spec->process;
	if (p->has_oom_score_adj || (cp && cp->has_oom_score_adj)) {
		int adj = p->has_oom_score_adj ? p->oom_score_adj : cp->oom_score_adj;
		if (rt_process_set_oom_score_adj(0, adj, &err) < 0)
			sync_fail(sync_fd, err);
	}
	if (x->seccomp && !p->no_new_privileges && rt_seccomp_install(x->seccomp, &err) < 0)
		sync_fail(sync_fd, err);
	if (rt_process_set_identity(p, &err) < 0)
		sync_fail(sync_fd, err);
	if (x->seccomp && p->no_new_privileges && rt_seccomp_install(x->seccomp, &err) < 0)
		sync_fail(sync_fd, err);
	rt_cloexec_fds_from(3 + (int)x->o->preserve_fds);
	rt_reset_signals();
	rt_process_exec(p, &err);
	sync_fail(sync_fd, err);
}

/* Joins the container, then forks the payload as rune's child (CLONE_PARENT). */
static __attribute__((noreturn)) void exec_intermediate(struct exec_run *x, int sync_fd)
{
	struct cc_error *err = NULL;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* Not dumpable: a container process cannot open /proc/<us>/exe or ptrace us while we
	 * are inside its namespaces (execve resets this for the payload). */
	prctl(PR_SET_DUMPABLE, 0);
	if (sync_expect(sync_fd, SYNC_GO, NULL, &err) < 0)
		_exit(1);
	if (rt_ns_join_process(x->st->pid, &err) < 0)
		sync_fail(sync_fd, err);
	pid_t pid = (pid_t)syscall(SYS_clone, CLONE_PARENT | SIGCHLD, NULL, NULL, NULL, NULL);
	if (pid < 0)
		sync_fail(sync_fd, (cc_error_errno(&err, "clone"), err));
	if (pid == 0)
		exec_child(x, sync_fd);
	if (sync_send(sync_fd, SYNC_PID, pid) < 0) {
		kill(pid, SIGKILL);
		_exit(1);
	}
	_exit(0);
}

static int exec_prepare(struct exec_run *x, const struct rt_context *ctx, struct cc_error **err)
{
	const struct rt_exec_opts *o = x->o;
	x->st = rt_state_load(ctx->root, o->id, err);
	if (!x->st)
		return -1;
	enum rt_status s = rt_state_status(x->st);
	if (s == RT_STOPPED)
		return cc_error_set(err, 0, "cannot exec in a stopped container");
	if (s == RT_PAUSED && !o->ignore_paused)
		return cc_error_set(err, 0, "cannot exec in a paused container");
	if (o->process->terminal && !o->console_socket && o->detach)
		return cc_error_set(err, 0,
				    "cannot allocate tty if rune will detach without "
				    "setting console socket");
	if (o->process->terminal && !o->console_socket && !o->detach &&
	    rt_terminal_require_caller_tty(err) < 0)
		return -1;
	if (!o->process->terminal && o->console_socket)
		return cc_error_set(err, 0,
				    "cannot use console socket if rune will not detach "
				    "or allocate tty");
	x->spec = rt_state_spec(x->st, err);
	if (!x->spec)
		return -1;
	if (x->spec->linux.seccomp) {
		x->seccomp = rt_seccomp_compile(x->spec->linux.seccomp, err);
		if (!x->seccomp)
			return cc_error_prefix(err, "seccomp");
	}
	x->cgroup = rt_state_cgroup(x->st, err);
	if (!x->cgroup)
		return -1;
	if (o->process->terminal) {
		int sv[2];
		if (o->console_socket) {
			x->console_fd = rt_console_socket_connect(o->console_socket, err);
			return x->console_fd < 0 ? -1 : 0;
		}
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
			return cc_error_errno(err, "socketpair");
		x->console_fd = sv[0];
		x->console_peer = sv[1];
	}
	return 0;
}

static int exec_spawn(struct exec_run *x, pid_t *child, struct cc_error **err)
{
	int sv[2];
	int32_t pid = 0;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return cc_error_errno(err, "socketpair");
	pid_t mid = fork();
	if (mid < 0) {
		close(sv[0]);
		close(sv[1]);
		return cc_error_errno(err, "fork");
	}
	if (mid == 0) {
		close(sv[0]);
		exec_intermediate(x, sv[1]);
	}
	close(sv[1]);
	x->sync_fd = sv[0];
	int ret = rt_cgroup_enter(x->cgroup, mid, err);
	if (ret == 0 && sync_send(x->sync_fd, SYNC_GO, 0) < 0)
		ret = cc_error_errno(err, "exec: signal child");
	if (ret == 0)
		ret = sync_expect(x->sync_fd, SYNC_PID, &pid, err);
	if (ret < 0)
		kill(mid, SIGKILL);
	waitpid(mid, NULL, 0);
	if (ret < 0)
		return -1;
	*child = pid;
	/* The payload's end of the socket is close-on-exec: end of file means it exec'd. */
	struct sync_msg m;
	struct cc_error *eof = NULL;
	if (sync_recv(x->sync_fd, &m, &eof) == 0 && m.type == SYNC_ERROR) {
		waitpid(pid, NULL, 0);
		return cc_error_set(err, 0, "%s", m.err);
	}
	cc_error_free(&eof);
	return 0;
}

int rt_container_exec(const struct rt_context *ctx, const struct rt_exec_opts *o, int *status,
		      struct cc_error **err)
{
	struct exec_run x = {
		.o = o, .sync_fd = -1, .console_fd = -1, .console_peer = -1, .tty_master = -1
	};
	pid_t pid = 0;
	sigset_t all, old;
	int ret;

	*status = 0;
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	ret = exec_prepare(&x, ctx, err);
	const struct rt_handler *h =
	    ret == 0 ? rt_handler_find(ctx->handlers, x.st->handler) : NULL;
	if (ret == 0 && x.st->handler && !(h && h->exec_spawn)) {
		ret = cc_error_set(err, 0, "container %s: this rune cannot exec into %s containers",
				   o->id, x.st->handler);
	} else if (ret == 0 && h) {
		pid = h->exec_spawn(x.st->handler_data, x.st->dir, x.st->pid, o->process,
				    x.console_fd, err);
		ret = pid < 0 ? -1 : 0;
	} else if (ret == 0) {
		ret = exec_spawn(&x, &pid, err);
	}
	if (ret == 0 && x.console_peer >= 0) {
		x.tty_master = rt_terminal_recv_fd(x.console_peer, err);
		ret = x.tty_master < 0 ? -1 : 0;
	}
	if (ret == 0 && o->pid_file) {
		_cleanup_free_ char *text = xasprintf("%d", (int)pid);
		ret = cc_write_file_atomic(o->pid_file, text, strlen(text), 0644, err);
	}
	if (ret == 0 && !o->detach)
		ret = rt_wait_foreground(pid, x.tty_master, status, err);
	sigprocmask(SIG_SETMASK, &old, NULL);
	for (int *fd = &x.sync_fd; fd <= &x.tty_master; fd++)
		if (*fd >= 0)
			close(*fd);
	rt_cgroup_free(x.cgroup);
	rt_seccomp_prog_free(x.seccomp);
	rt_spec_free(x.spec);
	rt_state_free(x.st);
	return ret;
}
