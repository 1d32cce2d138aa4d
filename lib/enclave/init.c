// SPDX-License-Identifier: Apache-2.0
/*
 * The init of an enclave container. It stays PID 1 for the payload's whole life: the payload
 * runs inside the enclave through the PAL, so there is nothing to exec. Threads:
 *   main     pal_init at create; at start, the payload (create_process + exec), pal_destroy
 *   agent    accepts rune exec / rune attest connections on agent.sock, one thread each
 *   signals  sigwaitinfo, then pal_kill to the payload (every signal is blocked elsewhere)
 */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include "enclave/pal_api.h"
#include "enclave/msg.h"
#include "enclave/enclave.h"
#include "runtime/hooks.h"
#include "runtime/init.h"
#include "runtime/process.h"
#include "runtime/sync.h"
#include "util/cleanup.h"
#include "util/strv.h"

static struct {
	const struct init_args *a;
	struct enc_config *e;
	struct enc_pal *pal;
	pthread_mutex_t lock;
	int payload_pid; /* the PAL's id of the payload, 0 until it exists */
} ei = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* ---- the PAL's stderr during load and init, quoted when they fail ---- */

static struct capture {
	int saved, memfd;
	const char *call;
	int sync_fd;
} * capturing;

static void capture_begin(struct capture *c, const char *call, int sync_fd)
{
	*c = (struct capture){ .saved = -1, .memfd = -1, .call = call, .sync_fd = sync_fd };
	c->memfd = memfd_create("pal-stderr", MFD_CLOEXEC);
	c->saved = c->memfd >= 0 ? fcntl(2, F_DUPFD_CLOEXEC, 3) : -1;
	if (c->saved < 0 || dup2(c->memfd, 2) < 0)
		return;
	capturing = c;
}

/* Restore stderr. Returns the captured text as one line (the last 1 KiB), or NULL; with
 * replay, it is also written to the real stderr, where the PAL meant it to go. */
static char *capture_end(struct capture *c, bool replay)
{
	char buf[1024];
	capturing = NULL;
	if (c->saved < 0)
		return NULL;
	dup2(c->saved, 2);
	close(c->saved);
	off_t size = lseek(c->memfd, 0, SEEK_END);
	off_t from = size > (off_t)sizeof(buf) - 1 ? size - (off_t)sizeof(buf) + 1 : 0;
	ssize_t n = size > 0 ? pread(c->memfd, buf, (size_t)(size - from), from) : 0;
	if (replay && size > 0) {
		char chunk[4096];
		ssize_t k;
		for (off_t off = 0; (k = pread(c->memfd, chunk, sizeof(chunk), off)) > 0; off += k)
			if (write(2, chunk, (size_t)k) < 0)
				break;
	}
	close(c->memfd);
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	for (char *p = buf; *p; p++)
		if (*p == '\n')
			*p = '|';
		else if ((unsigned char)*p < ' ' || *p == 0x7f)
			*p = ' ';
	return n > 0 ? xstrdup(buf) : NULL;
}

static void add_stderr(struct cc_error *e, char *text)
{
	if (!e || !text)
		return;
	char *msg = xasprintf("%s; PAL stderr: %s", e->msg, text);
	free(e->msg);
	e->msg = msg;
}

/* A PAL that calls exit() from its constructor or pal_init (upstream's skeleton does when it
 * finds no SGX device) still gets its words to rune's error message. */
static void pal_exit_report(void)
{
	struct capture *c = capturing;
	if (!c)
		return;
	_cleanup_free_ char *text = capture_end(c, false);
	struct cc_error *err = NULL;
	cc_error_set(&err, 0, "enclave runtime %s: the PAL exited during %s",
		     ei.e ? ei.e->path : "?", c->call);
	add_stderr(err, text);
	sync_send_error(c->sync_fd, err);
	cc_error_free(&err);
}

/* The PAL runs in this process, so its environment is the payload's (process.env, without
 * the ENCLAVE_* settings), never rune's own: a v1 PAL has no other way to learn it, and the
 * host's variables are none of the container's business. */
static void take_payload_env(const struct rt_process *p)
{
	extern char **environ;
	static char *none[] = { NULL };
	environ = p->env ? cc_strv_dup(p->env) : none;
}

int enc_init_load(struct enc_config *e, const struct init_args *a, struct cc_error **err)
{
	struct capture c;
	ei.a = a;
	ei.e = e;
	take_payload_env(a->spec->process);
	atexit(pal_exit_report);
	capture_begin(&c, "dlopen", a->sync_fd);
	ei.pal = enc_pal_load_fd(e->pal_fd, e->path, err);
	_cleanup_free_ char *text = capture_end(&c, ei.pal != NULL);
	close(e->pal_fd);
	e->pal_fd = -1;
	if (!ei.pal) {
		add_stderr(*err, text);
		return -1;
	}
	return 0;
}

static void pal_init_or_fail(const struct init_args *a, struct enc_pal *pal)
{
	struct cc_error *err = NULL;
	struct capture c;
	capture_begin(&c, "pal_init", a->sync_fd);
	int ret = enc_pal_init(pal, ei.e->args, ei.e->loglevel, &err);
	_cleanup_free_ char *text = capture_end(&c, ret == 0);
	if (ret < 0) {
		add_stderr(err, text);
		sync_fail(a->sync_fd, err);
	}
}

/* ---- running processes through the PAL ---- */

/* The executable args[0] names in the container, else args[0] as given: with a library OS the
 * program may exist only inside the enclave's own file system. */
static char *payload_path(char **argv, char **env)
{
	struct rt_process p = { .args = argv, .env = env };
	struct cc_error *err = NULL;
	char *path = rt_process_find_executable(&p, &err);
	cc_error_free(&err);
	return path ? path : xstrdup(argv[0]);
}

/* Signals sent to the init go to the payload; with a v1 PAL (no pal_kill) the ones meant to
 * stop it stop the container instead. */
static void *signal_thread(void *arg)
{
	sigset_t set;
	sigfillset(&set);
	sigdelset(&set, SIGCHLD);
	for (;;) {
		int sig = sigwaitinfo(&set, NULL);
		if (sig <= 0)
			continue;
		if (enc_pal_version(ei.pal) == 1) {
			if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP || sig == SIGQUIT)
				_exit(128 + sig);
			continue;
		}
		pthread_mutex_lock(&ei.lock);
		int pid = ei.payload_pid;
		pthread_mutex_unlock(&ei.lock);
		struct cc_error *err = NULL;
		if (pid > 0 && enc_pal_kill(ei.pal, pid, sig, &err) < 0) {
			rt_init_report(err);
			cc_error_free(&err);
		}
	}
	return arg;
}

static void report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void report(const char *fmt, ...)
{
	struct cc_error *err = NULL;
	va_list ap;
	va_start(ap, fmt);
	cc_error_setv(&err, 0, fmt, ap);
	va_end(ap);
	rt_init_report(err);
	cc_error_free(&err);
}

static void start_thread(void *(*fn)(void *), void *arg)
{
	pthread_t t;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, fn, arg) != 0)
		report("cannot start a thread: %s", strerror(errno));
	pthread_attr_destroy(&attr);
}

/* ---- rune exec and rune attest ---- */

/*
 * Whoever can reach agent.sock can make the init hold memory: bound it. Sessions beyond the
 * cap wait in the listen backlog until one ends; every message must arrive within the timeout
 * once begun (and a session's request within it of connecting); messages hold ENC_MSG_FREE
 * each without asking, so exec and attest requests always pass, and what bigger ones hold
 * beyond that comes from one budget. A message that would take the budget over is refused
 * rather than waited for: its session ends at once and the sender can retry, and a thread
 * waiting would hold its session slot all the same.
 */
#define AGENT_SESSIONS_MAX 128
#define AGENT_MSG_BUDGET (16u << 20)
#define AGENT_MSG_TIMEOUT_NS (10 * 1000000000LL)

static struct {
	pthread_mutex_t lock;
	pthread_cond_t ended;
	unsigned n;
	struct enc_msg_budget budget;
} sessions = { .lock = PTHREAD_MUTEX_INITIALIZER,
	       .ended = PTHREAD_COND_INITIALIZER,
	       .budget = { .max = AGENT_MSG_BUDGET } };

/* The request: it must come soon after connecting. */
static const struct enc_msg_limits request_limits = {
	.wait_ns = AGENT_MSG_TIMEOUT_NS,
	.timeout_ns = AGENT_MSG_TIMEOUT_NS,
	.budget = &sessions.budget,
};
/* Later messages of an exec (kill): the process may run for days before one. */
static const struct enc_msg_limits later_limits = {
	.timeout_ns = AGENT_MSG_TIMEOUT_NS,
	.budget = &sessions.budget,
};

struct session {
	int conn;
	int stdio[3];
	char **argv, **env;
	int pid;
	int status;
	struct cc_error *err;
	atomic_bool done;
	pthread_mutex_t send_lock;
};

static void session_reply(struct session *s, json_t *msg)
{
	struct cc_error *err = NULL;
	pthread_mutex_lock(&s->send_lock);
	if (msg && enc_msg_send(s->conn, msg, NULL, 0, &err) < 0)
		cc_error_free(&err);
	pthread_mutex_unlock(&s->send_lock);
	json_decref(msg);
}

/* Waits for the process; the exit (or the failure) is the session's last message. */
static void *session_wait(void *arg)
{
	struct session *s = arg;
	struct cc_error *err = NULL;
	int status = 0;
	int ret;
	if (enc_pal_version(ei.pal) == 1) {
		_cleanup_free_ char *path = payload_path(s->argv, s->env);
		ret = enc_pal_run(ei.pal, path, s->argv, s->env, s->stdio, &status, &err);
	} else {
		ret = enc_pal_exec(ei.pal, s->pid, &status, &err);
	}
	atomic_store(&s->done, true);
	session_reply(s, ret < 0 ? enc_msg_error("%s", err->msg)
				 : enc_msg_int("exit", "status", status));
	cc_error_free(&err);
	shutdown(s->conn, SHUT_RD);
	return NULL;
}

static void serve_kill(struct session *s, json_t *msg)
{
	json_int_t sig = 0;
	struct cc_error *err = NULL;
	if (json_unpack(msg, "{s:I}", "signal", &sig) < 0 || sig < 1 || sig >= NSIG) {
		session_reply(s, enc_msg_error("kill: a signal number expected"));
		return;
	}
	if (s->pid > 0 && enc_pal_kill(ei.pal, s->pid, (int)sig, &err) < 0) {
		session_reply(s, enc_msg_error("%s", err->msg));
		cc_error_free(&err);
	}
}

static void serve_exec(struct session *s, json_t *req)
{
	struct cc_error *err = NULL;
	pthread_t waiter;
	if (enc_msg_exec_decode(req, &s->argv, &s->env, &err) < 0)
		goto fail;
	if (enc_pal_version(ei.pal) >= 2) {
		_cleanup_free_ char *path = payload_path(s->argv, s->env);
		if (enc_pal_create_process(ei.pal, path, s->argv, s->env, s->stdio, &s->pid, &err) <
		    0)
			goto fail;
	}
	session_reply(s, enc_msg_int("started", "pid", s->pid));
	if (pthread_create(&waiter, NULL, session_wait, s) != 0) {
		cc_error_set(&err, 0, "exec: cannot start a thread");
		goto fail;
	}
	for (;;) {
		json_t *msg = NULL;
		int fds[ENC_MSG_MAX_FDS];
		size_t nfds = 0;
		int ret = enc_msg_recv_limited(s->conn, &later_limits, &msg, fds, &nfds, &err);
		for (size_t i = 0; i < nfds; i++)
			close(fds[i]);
		cc_error_free(&err);
		if (ret <= 0) {
			json_decref(msg);
			break;
		}
		if (!strcmp(json_string_value(json_object_get(msg, "op")), "kill"))
			serve_kill(s, msg);
		json_decref(msg);
	}
	/* The client went away while the process runs (rune exec was SIGKILLed): so does it. */
	if (!atomic_load(&s->done) && s->pid > 0 && enc_pal_kill(ei.pal, s->pid, SIGKILL, &err) < 0)
		cc_error_free(&err);
	pthread_join(waiter, NULL);
	return;
fail:
	session_reply(s, enc_msg_error("%s", err->msg));
	cc_error_free(&err);
}

static void serve_attest(struct session *s, json_t *req)
{
	struct cc_error *err = NULL;
	uint8_t ti[PAL_TARGETINFO_SIZE], report[PAL_REPORT_SIZE] = { 0 };
	/* REPORTDATA sits at offset 320 of the REPORT: the PAL takes it from there. */
	if (enc_msg_hex_field(req, "target_info", ti, sizeof(ti), true, &err) < 0 ||
	    enc_msg_hex_field(req, "report_data", report + 320, 64, true, &err) < 0 ||
	    enc_pal_local_report(ei.pal, ti, report, &err) < 0) {
		session_reply(s, enc_msg_error("%s", err->msg));
		cc_error_free(&err);
		return;
	}
	json_t *msg = json_pack("{s:s}", "op", "report");
	enc_msg_set_hex(msg, "report", report, sizeof(report));
	session_reply(s, msg);
}

static void *session_thread(void *arg)
{
	struct session *s = arg;
	struct cc_error *err = NULL;
	json_t *req = NULL;
	size_t nfds = 0;
	if (enc_msg_recv_limited(s->conn, &request_limits, &req, s->stdio, &nfds, &err) > 0) {
		const char *op = json_string_value(json_object_get(req, "op"));
		if (!strcmp(op, "exec") && nfds == 3)
			serve_exec(s, req);
		else if (!strcmp(op, "exec"))
			session_reply(s, enc_msg_error("exec: stdin, stdout and stderr expected"));
		else if (!strcmp(op, "attest"))
			serve_attest(s, req);
		else
			session_reply(s, enc_msg_error("unknown request \"%s\"", op));
	}
	cc_error_free(&err);
	json_decref(req);
	for (size_t i = 0; i < nfds; i++)
		close(s->stdio[i]);
	cc_strv_free(s->argv);
	cc_strv_free(s->env);
	close(s->conn);
	pthread_mutex_destroy(&s->send_lock);
	free(s);
	pthread_mutex_lock(&sessions.lock);
	sessions.n--;
	pthread_cond_signal(&sessions.ended);
	pthread_mutex_unlock(&sessions.lock);
	return NULL;
}

static void session_start(int conn)
{
	struct session *s = xzalloc(sizeof(*s));
	pthread_t t;
	pthread_attr_t attr;
	s->conn = conn;
	pthread_mutex_init(&s->send_lock, NULL);
	pthread_mutex_lock(&sessions.lock);
	sessions.n++;
	pthread_mutex_unlock(&sessions.lock);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	int r = pthread_create(&t, &attr, session_thread, s);
	pthread_attr_destroy(&attr);
	if (r == 0)
		return;
	report("agent.sock: cannot start a session thread: %s", strerror(r));
	close(conn);
	pthread_mutex_destroy(&s->send_lock);
	free(s);
	pthread_mutex_lock(&sessions.lock);
	sessions.n--;
	pthread_mutex_unlock(&sessions.lock);
	usleep(100 * 1000);
}

static void *agent_thread(void *arg)
{
	int listen_fd = (int)(intptr_t)arg;
	for (;;) {
		/* Only this thread adds sessions: a free slot now is still free at accept. */
		pthread_mutex_lock(&sessions.lock);
		while (sessions.n >= AGENT_SESSIONS_MAX)
			pthread_cond_wait(&sessions.ended, &sessions.lock);
		pthread_mutex_unlock(&sessions.lock);
		int conn = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (conn < 0 && (errno == EBADF || errno == EINVAL || errno == ENOTSOCK)) {
			report("agent.sock: %s; rune exec and attest are off", strerror(errno));
			return NULL;
		}
		if (conn < 0) {
			/* Out of descriptors or memory: give the sessions time to end. */
			if (errno == EMFILE || errno == ENFILE || errno == ENOMEM ||
			    errno == ENOBUFS)
				usleep(100 * 1000);
			continue;
		}
		session_start(conn);
	}
	return NULL;
}

/* ---- the init's own course ---- */

/* The PAL runs with the container's identity and under its seccomp filter, like a payload. */
static void become_container(const struct init_args *a, bool seccomp_done)
{
	struct cc_error *err = NULL;
	const struct rt_process *p = a->spec->process;
	const struct rt_seccomp_prog *filter = seccomp_done ? NULL : a->seccomp;
	if (filter && !p->no_new_privileges && rt_seccomp_install(filter, &err) < 0)
		sync_fail(a->sync_fd, err);
	if (rt_process_set_identity(p, &err) < 0)
		sync_fail(a->sync_fd, err);
	if (filter && p->no_new_privileges && rt_seccomp_install(filter, &err) < 0)
		sync_fail(a->sync_fd, err);
}

static __attribute__((noreturn)) void fail_after_start(struct cc_error *err)
{
	struct cc_error *derr = NULL;
	rt_init_report(err);
	if (enc_pal_destroy(ei.pal, &derr) < 0)
		rt_init_report(derr);
	_exit(127);
}

/* At start: the payload, through the PAL; the init exits with its status. */
static __attribute__((noreturn)) void run_payload(const struct init_args *a)
{
	struct cc_error *err = NULL;
	struct rt_process *p = a->spec->process;
	const int stdio[3] = { 0, 1, 2 };
	_cleanup_free_ char *path = payload_path(p->args, p->env);
	int status = 0, pid = 0;

	if (enc_pal_version(ei.pal) >= 2) {
		if (enc_pal_create_process(ei.pal, path, p->args, p->env, stdio, &pid, &err) < 0) {
			close(a->fifo_fd);
			fail_after_start(err);
		}
		pthread_mutex_lock(&ei.lock);
		ei.payload_pid = pid;
		pthread_mutex_unlock(&ei.lock);
	}
	/* `rune start` returns when the fifo closes: now the payload exists. */
	close(a->fifo_fd);
	start_thread(signal_thread, NULL);
	int ret = pid ? enc_pal_exec(ei.pal, pid, &status, &err)
		      : enc_pal_run(ei.pal, path, p->args, p->env, stdio, &status, &err);
	if (ret < 0)
		fail_after_start(err);
	if (enc_pal_destroy(ei.pal, &err) < 0) {
		rt_init_report(err);
		cc_error_free(&err);
	}
	_exit(status);
}

void enc_init_run(struct enc_config *e, const struct init_args *a, bool seccomp_done)
{
	struct cc_error *err = NULL;
	const struct rt_spec *spec = a->spec;
	struct enc_pal *pal = ei.pal;
	sigset_t all;
	char byte;

	(void)e;
	/* Again: setup may have added LISTEN_FDS and LISTEN_PID to process.env. */
	take_payload_env(spec->process);
	prctl(PR_SET_NAME, "enclave-init");
	become_container(a, seccomp_done);
	rt_cloexec_fds_from(3 + (int)a->preserve_fds);
	/* Signals wait, blocked, for the forwarding thread: it starts with the payload. */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, NULL);
	pal_init_or_fail(a, pal);

	/* From here on a dead parent must not kill us: the container outlives `rune create`. */
	prctl(PR_SET_PDEATHSIG, 0);
	if (sync_send(a->sync_fd, SYNC_READY, 0) < 0 ||
	    sync_expect(a->sync_fd, SYNC_COMMIT, NULL, &err) < 0)
		_exit(1);
	close(a->sync_fd);
	start_thread(agent_thread, (void *)(intptr_t)ei.e->agent_fd);

	while (read(a->fifo_fd, &byte, 1) < 0 && errno == EINTR)
		;
	if (spec->hooks.count[RT_HOOK_START_CONTAINER]) {
		_cleanup_free_ char *state =
		    rt_hook_state(spec, a->id, a->bundle, "created", getpid());
		if (rt_hooks_run(&spec->hooks, RT_HOOK_START_CONTAINER, state, &err) < 0) {
			close(a->fifo_fd);
			fail_after_start(err);
		}
	}
	run_payload(a);
}
