// SPDX-License-Identifier: Apache-2.0
/*
 * The init of an enclave container. It stays PID 1 for the payload's whole life: the payload
 * runs inside the enclave through the PAL, so there is nothing to exec. Threads:
 *   main     pal_init at create; at start, the payload (create_process + exec), pal_destroy
 *   agent    accepts rune exec / rune attest connections on agent.sock, one thread each
 *   attest   accepts the container's report and evidence requests on attest.sock, likewise
 *   signals  sigwaitinfo, then pal_kill to the payload (every signal is blocked elsewhere)
 */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include "enclave/attest-service.h"
#include "enclave/enclave.h"
#include "enclave/msg.h"
#include "enclave/pal_api.h"
#include "enclave/service.h"
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
	/* The init holds the PAL's state and the simulated attestation key: the container's
	 * processes must not ptrace it or read its memory, whatever identity they share with
	 * it. Kept across the identity change below; the PAL's children lose it at exec. */
	prctl(PR_SET_DUMPABLE, 0);
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
	/* Still root on the host: the key file is readable only here. */
	enc_attest_service_prepare(ei.pal, e->type);
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

static void start_thread(void *(*fn)(void *), void *arg)
{
	pthread_t t;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	int r = pthread_create(&t, &attr, fn, arg);
	if (r != 0)
		enc_service_report("cannot start a thread: %s", strerror(r));
	pthread_attr_destroy(&attr);
}

/* ---- rune exec and rune attest, on agent.sock ---- */

static struct enc_service agent_service, attest_service;

/* An exec session: the process and its stdio, while it runs. */
struct exec_session {
	struct enc_session *s;
	const int *stdio;
	char **argv, **env;
	int pid;
	atomic_bool done;
};

/* Waits for the process; the exit (or the failure) is the session's last message. */
static void *session_wait(void *arg)
{
	struct exec_session *x = arg;
	struct cc_error *err = NULL;
	int status = 0;
	int ret;
	if (enc_pal_version(ei.pal) == 1) {
		_cleanup_free_ char *path = payload_path(x->argv, x->env);
		ret = enc_pal_run(ei.pal, path, x->argv, x->env, x->stdio, &status, &err);
	} else {
		ret = enc_pal_exec(ei.pal, x->pid, &status, &err);
	}
	atomic_store(&x->done, true);
	enc_session_reply(x->s, ret < 0 ? enc_msg_error("%s", err->msg)
					: enc_msg_int("exit", "status", status));
	cc_error_free(&err);
	shutdown(x->s->conn, SHUT_RD);
	return NULL;
}

static void serve_kill(struct exec_session *x, json_t *msg)
{
	json_int_t sig = 0;
	struct cc_error *err = NULL;
	if (json_unpack(msg, "{s:I}", "signal", &sig) < 0 || sig < 1 || sig >= NSIG) {
		enc_session_reply(x->s, enc_msg_error("kill: a signal number expected"));
		return;
	}
	if (x->pid > 0 && enc_pal_kill(ei.pal, x->pid, (int)sig, &err) < 0) {
		enc_session_reply(x->s, enc_msg_error("%s", err->msg));
		cc_error_free(&err);
	}
}

/* Later messages of an exec (kill) until the client hangs up or the process has ended. */
static void relay_kills(struct exec_session *x)
{
	struct cc_error *err = NULL;
	for (;;) {
		json_t *msg = NULL;
		int fds[ENC_MSG_MAX_FDS];
		size_t nfds = 0;
		int ret = enc_msg_recv_limited(x->s->conn, &x->s->svc->later_limits, &msg, fds,
					       &nfds, &err);
		for (size_t i = 0; i < nfds; i++)
			close(fds[i]);
		cc_error_free(&err);
		if (ret <= 0) {
			json_decref(msg);
			break;
		}
		if (!strcmp(json_string_value(json_object_get(msg, "op")), "kill"))
			serve_kill(x, msg);
		json_decref(msg);
	}
}

static void serve_exec(struct enc_session *s, json_t *req, const int stdio[3])
{
	struct cc_error *err = NULL;
	struct exec_session x = { .s = s, .stdio = stdio };
	pthread_t waiter;
	if (enc_msg_exec_decode(req, &x.argv, &x.env, &err) < 0)
		goto fail;
	if (enc_pal_version(ei.pal) >= 2) {
		_cleanup_free_ char *path = payload_path(x.argv, x.env);
		if (enc_pal_create_process(ei.pal, path, x.argv, x.env, stdio, &x.pid, &err) < 0)
			goto fail;
	}
	enc_session_reply(s, enc_msg_int("started", "pid", x.pid));
	if (pthread_create(&waiter, NULL, session_wait, &x) != 0) {
		cc_error_set(&err, 0, "exec: cannot start a thread");
		goto fail;
	}
	relay_kills(&x);
	/* The client went away while the process runs (rune exec was SIGKILLed): so does it. */
	if (!atomic_load(&x.done) && x.pid > 0 && enc_pal_kill(ei.pal, x.pid, SIGKILL, &err) < 0)
		cc_error_free(&err);
	pthread_join(waiter, NULL);
	cc_strv_free(x.argv);
	cc_strv_free(x.env);
	return;
fail:
	enc_session_reply(s, enc_msg_error("%s", err->msg));
	cc_error_free(&err);
	cc_strv_free(x.argv);
	cc_strv_free(x.env);
}

static void serve_attest(struct enc_session *s, json_t *req)
{
	struct cc_error *err = NULL;
	uint8_t report[PAL_REPORT_SIZE];
	if (enc_attest_report_for(ei.pal, req, false, report, &err) < 0) {
		enc_session_reply(s, enc_msg_error("%s", err->msg));
		cc_error_free(&err);
		return;
	}
	json_t *msg = json_pack("{s:s}", "op", "report");
	enc_msg_set_hex(msg, "report", report, sizeof(report));
	enc_session_reply(s, msg);
}

static void serve_agent(struct enc_session *s, json_t *req, int fds[ENC_MSG_MAX_FDS], size_t nfds)
{
	const char *op = json_string_value(json_object_get(req, "op"));
	if (!strcmp(op, "exec") && nfds == 3)
		serve_exec(s, req, fds);
	else if (!strcmp(op, "exec"))
		enc_session_reply(s, enc_msg_error("exec: stdin, stdout and stderr expected"));
	else if (!strcmp(op, "attest"))
		serve_attest(s, req);
	else
		enc_session_reply(s, enc_msg_error("unknown request \"%s\"", op));
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
	enc_service_init(&agent_service, "agent.sock", ei.e->agent_fd, serve_agent);
	enc_service_start(&agent_service);
	enc_service_init(&attest_service, "attest.sock", ei.e->attest_fd, enc_attest_service_serve);
	enc_service_start(&attest_service);

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
