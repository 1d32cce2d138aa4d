// SPDX-License-Identifier: Apache-2.0
/*
 * Running rune and reaping. The shim is the subreaper of its containers: rune's create and
 * exec leave their processes to it. One thread reaps every child; rune commands wait for their
 * own status through a table, container processes get their exit recorded and published.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>
#include "ctd-events-task.pb-c.h"
#include "ctd-timestamp.pb-c.h"
#include "shim.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/log.h"
#include "util/strv.h"

#define OUTPUT_LIMIT (4u << 20)
/* How much of rune's log a failure reads back for its error. */
#define LOG_TAIL (64u << 10)

struct cmd_wait {
	pid_t pid;
	int status;
	bool done;
	struct cmd_wait *next;
};

struct timespec shim_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return t;
}

Google__Protobuf__Timestamp *shim_timestamp(struct timespec t)
{
	Google__Protobuf__Timestamp *ts = xmalloc(sizeof(*ts));
	google__protobuf__timestamp__init(ts);
	ts->seconds = t.tv_sec;
	ts->nanos = (int32_t)t.tv_nsec;
	return ts;
}

/* PATH lookup in the parent: after fork only async-signal-safe calls are made. */
static char *resolve(const char *name)
{
	if (strchr(name, '/'))
		return xstrdup(name);
	const char *path = getenv("PATH");
	_cleanup_strv_ char **dirs = cc_strv_split(path && *path ? path : "/usr/bin:/bin", ':');
	for (size_t i = 0; dirs[i]; i++) {
		_cleanup_free_ char *p = cc_path_join(*dirs[i] ? dirs[i] : ".", name);
		if (access(p, X_OK) == 0)
			return steal_pointer(&p);
	}
	return NULL;
}

/* rune's last error from its JSON log (it also wrote it to the container's stderr). */
static char *rune_error(const char *bundle)
{
	_cleanup_free_ char *path = cc_path_join(bundle, "log.json");
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	off_t end = lseek(fd, 0, SEEK_END);
	off_t from = end > (off_t)LOG_TAIL ? end - (off_t)LOG_TAIL : 0;
	_cleanup_free_ char *buf = xmalloc(LOG_TAIL + 1);
	ssize_t n = pread(fd, buf, LOG_TAIL, from);
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	char *msg = NULL;
	for (char *line = buf, *next; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		json_t *j = json_loads(line, 0, NULL);
		const char *level = json_string_value(json_object_get(j, "level"));
		const char *m = json_string_value(json_object_get(j, "msg"));
		if (level && m && !strcmp(level, "error")) {
			free(msg);
			msg = xstrdup(m);
		}
		json_decref(j);
	}
	return msg;
}

static void add_wait(struct cmd_wait *w)
{
	w->next = g_shim.cmds;
	g_shim.cmds = w;
}

static int wait_cmd(struct cmd_wait *w)
{
	pthread_mutex_lock(&g_shim.lock);
	while (!w->done)
		pthread_cond_wait(&g_shim.cmd_cond, &g_shim.lock);
	for (struct cmd_wait **pp = &g_shim.cmds; *pp; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	pthread_mutex_unlock(&g_shim.lock);
	return w->status;
}

/* Read a child's stdout to EOF, keeping up to OUTPUT_LIMIT bytes. */
static int read_output(int fd, char **out, size_t *out_len, struct cc_error **err)
{
	size_t cap = 4096, len = 0;
	char *buf = xmalloc(cap);
	bool over = false;
	for (;;) {
		if (len + 1 == cap) {
			if (cap >= OUTPUT_LIMIT) {
				over = true;
				len = 0;
			} else {
				cap *= 2;
				buf = xrealloc(buf, cap);
			}
		}
		ssize_t n = read(fd, buf + len, cap - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	if (over) {
		free(buf);
		return cc_error_set(err, EFBIG, "rune's output is over %u bytes", OUTPUT_LIMIT);
	}
	*out = buf;
	if (out_len)
		*out_len = len;
	return 0;
}

int shim_run(const char *const *args, const struct rune_cmd *cmd, int *status,
	     struct cc_error **err)
{
	_cleanup_free_ char *exe = resolve(args[0]);
	if (!exe)
		return cc_error_set(err, ENOENT, "\"%s\" not found on PATH", args[0]);
	int in[2] = { -1, -1 }, out[2] = { -1, -1 };
	if ((cmd->input && pipe2(in, O_CLOEXEC) < 0) || (cmd->out && pipe2(out, O_CLOEXEC) < 0)) {
		int e = errno;
		if (in[0] >= 0)
			close(in[0]), close(in[1]);
		return cc_error_set(err, e, "run %s: pipe", args[0]);
	}
	int fds[3] = { cmd->input ? in[0] : cmd->fds[0], cmd->out ? out[1] : cmd->fds[1],
		       cmd->out && cmd->merge_stderr ? out[1] : cmd->fds[2] };
	_cleanup_close_ int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	for (int i = 0; i < 3; i++)
		if (fds[i] < 0)
			fds[i] = null;

	struct cmd_wait w = { 0 };
	sigset_t none;
	sigemptyset(&none);
	pthread_mutex_lock(&g_shim.lock);
	pid_t pid = fork();
	if (pid == 0) {
		/* Above 2 first, so that dup2 never overwrites a source still to be moved. */
		int moved[3];
		for (int i = 0; i < 3; i++)
			moved[i] = fcntl(fds[i], F_DUPFD, 3);
		for (int i = 0; i < 3; i++)
			if (moved[i] < 0 || dup2(moved[i], i) < 0)
				_exit(126);
		close_range(3, ~0u, 0);
		signal(SIGPIPE, SIG_DFL);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execv(exe, (char *const *)args);
		_exit(127);
	}
	int fork_errno = errno;
	if (pid > 0) {
		w.pid = pid;
		add_wait(&w);
	}
	pthread_mutex_unlock(&g_shim.lock);
	if (in[0] >= 0)
		close(in[0]);
	if (out[1] >= 0)
		close(out[1]);
	if (pid < 0) {
		if (in[1] >= 0)
			close(in[1]);
		if (out[0] >= 0)
			close(out[0]);
		return cc_error_set(err, fork_errno, "run %s: fork", args[0]);
	}
	if (cmd->input) {
		if (cc_write_all(in[1], cmd->input, cmd->input_len) < 0)
			cc_log(CC_LOG_WARNING, "%s: write its input: %s", args[0], strerror(errno));
		close(in[1]);
	}
	int r = 0;
	if (cmd->out) {
		r = read_output(out[0], cmd->out, cmd->out_len, err);
		close(out[0]);
	}
	*status = wait_cmd(&w);
	return r;
}

int shim_rune_at(const struct shim_runtime *rt, const char *bundle, const char *const *argv,
		 const struct rune_cmd *cmd, struct cc_error **err)
{
	_cleanup_free_ char *log = cc_path_join(bundle, "log.json");
	const char *args[48];
	size_t n = 0;
	args[n++] = rt->rune;
	args[n++] = "--root", args[n++] = rt->root;
	args[n++] = "--log", args[n++] = log;
	args[n++] = "--log-format", args[n++] = "json";
	if (rt->debug)
		args[n++] = "--debug";
	for (size_t i = 0; argv[i]; i++) {
		if (n + 1 >= sizeof(args) / sizeof(*args))
			return cc_error_set(err, E2BIG, "rune %s: too many arguments", argv[0]);
		args[n++] = argv[i];
	}
	args[n] = NULL;
	int status;
	if (shim_run(args, cmd, &status, err) < 0)
		return cc_error_prefix(err, "rune %s", argv[0]);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	_cleanup_free_ char *msg = rune_error(bundle);
	if (msg)
		return cc_error_set(err, 0, "rune %s: %s", argv[0], msg);
	if (WIFSIGNALED(status))
		return cc_error_set(err, 0, "rune %s: killed by signal %d", argv[0],
				    WTERMSIG(status));
	return cc_error_set(err, 0, "rune %s: exit status %d", argv[0], WEXITSTATUS(status));
}

int shim_rune(const struct container *c, const char *const *argv, const struct rune_cmd *cmd,
	      struct cc_error **err)
{
	return shim_rune_at(&c->rt, c->bundle, argv, cmd, err);
}

int shim_read_pid(const char *path, pid_t *pid, struct cc_error **err)
{
	size_t len;
	_cleanup_free_ char *text = cc_read_file(path, 64, &len, err);
	if (!text)
		return -1;
	char *end;
	errno = 0;
	long v = strtol(text, &end, 10);
	if (errno || end == text || (*end && *end != '\n') || v <= 0 || v > 4194304)
		return cc_error_set(err, 0, "%s: not a process id", path);
	*pid = (pid_t)v;
	return 0;
}

void shim_lookup_begin(void)
{
	g_shim.pending_lookups++;
}

void shim_lookup_end(void)
{
	if (--g_shim.pending_lookups == 0)
		g_shim.n_unclaimed = 0;
}

static void publish_exit(const struct proc *p)
{
	Containerd__Events__TaskExit ev = CONTAINERD__EVENTS__TASK_EXIT__INIT;
	ev.container_id = p->c->id;
	ev.id = *p->exec_id ? p->exec_id : p->c->id;
	ev.pid = (uint32_t)p->pid;
	ev.exit_status = p->exit_status;
	ev.exited_at = shim_timestamp(p->exited_at);
	size_t len = protobuf_c_message_get_packed_size(&ev.base);
	uint8_t *buf = xmalloc(len ? len : 1);
	protobuf_c_message_pack(&ev.base, buf);
	free(ev.exited_at);
	events_publish("/tasks/exit", "TaskExit", buf, len);
}

/* A container without a PID namespace of its own keeps its processes after the init dies:
 * they are killed, as containerd's runc shim does. rune runs on a thread of its own, never on
 * the reaper's, which must stay free to reap rune. */
static void *kill_all(void *arg)
{
	struct container *c = arg;
	const char *argv[] = { "kill", "--all", c->id, "KILL", NULL };
	struct rune_cmd cmd = { .fds = { -1, -1, -1 } };
	struct cc_error *err = NULL;
	if (shim_rune(c, argv, &cmd, &err) < 0) {
		cc_log(CC_LOG_WARNING, "container %s: kill its processes: %s", c->id, err->msg);
		cc_error_free(&err);
	}
	shim_container_put(c);
	return NULL;
}

void shim_proc_exited(struct proc *p, int status)
{
	if (p->exited)
		return;
	if (p->starting) {
		p->exit_deferred = true;
		p->deferred_status = status;
		return;
	}
	p->exited = true;
	p->exit_status =
	    WIFSIGNALED(status) ? 128u + (uint32_t)WTERMSIG(status) : (uint32_t)WEXITSTATUS(status);
	p->exited_at = shim_now();
	p->state = PROC_STOPPED;
	publish_exit(p);
	pthread_cond_broadcast(&p->exit_cond);
	if (!*p->exec_id && !p->c->own_pidns) {
		pthread_t t;
		pthread_attr_t a;
		pthread_attr_init(&a);
		pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
		p->c->refs++; /* the thread's, until it is done */
		if (pthread_create(&t, &a, kill_all, p->c) != 0) {
			p->c->refs--;
			cc_log(CC_LOG_WARNING, "container %s: no thread to kill its processes",
			       p->c->id);
		}
		pthread_attr_destroy(&a);
	}
}

void shim_claim_exit(struct proc *p)
{
	for (size_t i = 0; i < g_shim.n_unclaimed; i++)
		if (g_shim.unclaimed[i].pid == p->pid) {
			int status = g_shim.unclaimed[i].status;
			g_shim.unclaimed[i] = g_shim.unclaimed[--g_shim.n_unclaimed];
			shim_proc_exited(p, status);
			return;
		}
}

static struct proc *find_proc(pid_t pid)
{
	for (struct container *c = g_shim.containers; c; c = c->next) {
		if (c->init.pid == pid && !c->init.exited)
			return &c->init;
		for (struct proc *p = c->execs; p; p = p->next)
			if (p->pid == pid && !p->exited)
				return p;
	}
	return NULL;
}

static void reaped(pid_t pid, int status)
{
	for (struct cmd_wait *w = g_shim.cmds; w; w = w->next)
		if (w->pid == pid) {
			w->status = status;
			w->done = true;
			pthread_cond_broadcast(&g_shim.cmd_cond);
			return;
		}
	struct proc *p = find_proc(pid);
	if (p) {
		shim_proc_exited(p, status);
		return;
	}
	if (!g_shim.pending_lookups)
		return; /* an orphan of a container, reparented to us */
	size_t cap = sizeof(g_shim.unclaimed) / sizeof(*g_shim.unclaimed);
	if (g_shim.n_unclaimed == cap) /* the oldest goes */
		memmove(g_shim.unclaimed, g_shim.unclaimed + 1,
			(cap - 1) * sizeof(*g_shim.unclaimed));
	else
		g_shim.n_unclaimed++;
	g_shim.unclaimed[g_shim.n_unclaimed - 1] = (struct unclaimed_exit){ pid, status };
}

static int sigchld_fd = -1;

void shim_block_sigchld(void)
{
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGCHLD);
	pthread_sigmask(SIG_BLOCK, &s, NULL);
}

static void *reaper_main(void *arg)
{
	(void)arg;
	struct signalfd_siginfo si;
	for (;;) {
		ssize_t n = read(sigchld_fd, &si, sizeof(si));
		if (n < 0 && errno != EINTR && errno != EAGAIN)
			cc_log(CC_LOG_ERROR, "reaper: %s", strerror(errno));
		for (;;) {
			int status;
			pid_t pid = waitpid(-1, &status, WNOHANG);
			if (pid <= 0)
				break;
			pthread_mutex_lock(&g_shim.lock);
			reaped(pid, status);
			pthread_mutex_unlock(&g_shim.lock);
		}
	}
	return NULL;
}

int shim_reaper_start(struct cc_error **err)
{
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGCHLD);
	sigchld_fd = signalfd(-1, &s, SFD_CLOEXEC);
	if (sigchld_fd < 0)
		return cc_error_set(err, errno, "signalfd");
	pthread_t t;
	if (pthread_create(&t, NULL, reaper_main, NULL) != 0)
		return cc_error_set(err, EAGAIN, "start the reaper");
	pthread_detach(t);
	return 0;
}
