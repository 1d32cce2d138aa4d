// SPDX-License-Identifier: Apache-2.0
/*
 * liberpal-skeleton: the reference enclave runtime, a PAL for rune (include/enclave/pal_api.h),
 * built once per API version (SKELETON_PAL_VERSION 1, 2 or 3).
 *
 * Its enclave is SIMULATED: there is no SGX hardware behind it. Payloads run as ordinary,
 * isolated child processes; the "measurement" is a hash of the payload's executable and the
 * "reports" are MACed with a PUBLIC key (include/enclave/sgx_report.h). Nothing it produces is
 * hardware-backed evidence, and it says so on stderr at pal_init.
 *
 * Contract (docs/skeleton.md has the long form):
 *  - pal_get_version: SKELETON_PAL_VERSION.
 *  - pal_init: args are space-separated tokens: "debug" (DEBUG attribute in reports, verbose
 *    logs), "no-sgx-flc" and "no-epm" (upstream's, accepted without effect); any other token is
 *    reported on stderr and gives -EINVAL. log_level: trace, debug, info, warning, error, fatal,
 *    panic or off; NULL or anything else means info. v3's fd/addr (an EPM enclave) are ignored.
 *    A second pal_init without pal_destroy: -EBUSY.
 *  - pal_create_process (v2/v3): -EINVAL before pal_init; the path must open for reading and be
 *    an executable regular file (-ENOENT, -EACCES, -ENOEXEC, ...); a bad stdio fd: -EBADF. The
 *    first process after pal_init is the enclave's image and gets measured; later ones (rune
 *    exec) run "in the same enclave" and leave the measurement alone. The process is forked
 *    parked (new session, default signals, SIGKILL when the creating thread dies, stdio on
 *    0/1/2, no other fd) and its real pid is returned. env NULL means an empty environment.
 *  - pal_exec (v2/v3): lets that process exec the measured file and waits for it. -ESRCH for a
 *    pid that is not a parked process of ours, -EBUSY if it was already released; -errno if its
 *    exec failed (e.g. -ENOEXEC); else 0 with *exit_value = exit status, or 128 + signal
 *    number if it was killed. v1 pal_exec = create + exec, with the host process's environ.
 *  - pal_kill (v2/v3): sig 0..64 (else -EINVAL); pid -1: every live process (-ESRCH if none),
 *    0: the first process, > 0: that process if it is ours (else -ESRCH); pid < -1: -EINVAL.
 *  - pal_destroy: SIGKILLs and reaps every remaining process, wipes the measurement, and
 *    returns to the uninitialised state. 0, also when not initialised.
 *  - pal_get_local_report (v3): targetinfo_len must be 512 and *report_len >= 432 (-EINVAL);
 *    -EAGAIN before the first process was created. The caller's bytes 320..383 of the report
 *    buffer become REPORTDATA; *report_len is set to 432.
 * Every entry point may be called from any thread: the process table has a mutex, never held
 * while blocking on a child.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "enclave/pal_api.h"
#include "enclave/sgx_report.h"
#include "pal/skeleton/sim-report.h"
#include "pal/skeleton/skeleton.h"
#include "util/cleanup.h"

#ifndef SKELETON_PAL_VERSION
#define SKELETON_PAL_VERSION 3
#endif

#define SKEL_SIG_MAX 64

extern char **environ;

static char *const no_env[] = { NULL };

enum log_level {
	SKEL_LOG_TRACE,
	SKEL_LOG_DEBUG,
	SKEL_LOG_INFO,
	SKEL_LOG_WARNING,
	SKEL_LOG_ERROR,
	SKEL_LOG_FATAL,
	SKEL_LOG_PANIC,
	SKEL_LOG_OFF
};

static const char *const level_names[] = { "trace", "debug", "info",  "warning",
					   "error", "fatal", "panic", "off" };

enum proc_state { PROC_PARKED, PROC_RUNNING };

struct skel_proc {
	struct skel_proc *next;
	pid_t pid;
	int sock; /* the go / exec-error channel, until released */
	enum proc_state state;
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t idle; /* signalled whenever `active` drops */
	bool initialised;
	bool destroying;
	bool debug;
	bool measured, measuring;
	/* Calls (create, exec) working outside the lock on state pal_destroy must wait for. */
	unsigned int active;
	uint8_t mr_enclave[SGX_HASH_SIZE];
	pid_t entry_pid;
	struct skel_proc *procs;
} skel = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.idle = PTHREAD_COND_INITIALIZER,
};

static atomic_int log_level = SKEL_LOG_INFO;

/* The entry points of this version. */
SKEL_EXPORT int pal_get_version(void);
SKEL_EXPORT int pal_destroy(void);
#if SKELETON_PAL_VERSION >= 3
SKEL_EXPORT int pal_init(struct pal_attr_v3 *attr);
SKEL_EXPORT int pal_get_local_report(void *targetinfo, int targetinfo_len, void *report,
				     int *report_len);
#else
SKEL_EXPORT int pal_init(struct pal_attr_v1 *attr);
#endif
#if SKELETON_PAL_VERSION == 1
SKEL_EXPORT int pal_exec(const char *path, const char *const argv[],
			 const struct pal_stdio_fds *stdio, int *exit_code);
#else
SKEL_EXPORT int pal_create_process(struct pal_create_process_args *args);
SKEL_EXPORT int pal_exec(struct pal_exec_args *args);
SKEL_EXPORT int pal_kill(int pid, int sig);
#endif

/* One line on stderr, written at once so that concurrent lines do not interleave. The PAL has
 * no log sink of rune's to use: stderr is its channel, as for every upstream PAL. */
static void vsay(const char *fmt, va_list ap)
{
	char line[512];
	int n = snprintf(line, sizeof(line), "liberpal-skeleton: ");
	int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	if (m < 0)
		return;
	size_t len =
	    (size_t)n +
	    ((size_t)m < sizeof(line) - (size_t)n - 2 ? (size_t)m : sizeof(line) - (size_t)n - 2);
	line[len++] = '\n';
	for (size_t off = 0; off < len;) {
		ssize_t w = write(STDERR_FILENO, line + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		off += (size_t)w;
	}
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
}

static void logf_at(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_at(int level, const char *fmt, ...)
{
	if (level < atomic_load(&log_level))
		return;
	va_list ap;
	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
}

static int parse_log_level(const char *s)
{
	for (int i = 0; s && i < (int)ARRAY_SIZE(level_names); i++)
		if (strcmp(s, level_names[i]) == 0)
			return i;
	return SKEL_LOG_INFO;
}

static bool token_is(const char *tok, size_t len, const char *word)
{
	return strlen(word) == len && memcmp(tok, word, len) == 0;
}

static int parse_args(const char *args, bool *debug)
{
	for (const char *p = args; p && *p;) {
		p += strspn(p, " ");
		size_t len = strcspn(p, " ");
		if (len == 0)
			break;
		if (token_is(p, len, "debug")) {
			*debug = true;
		} else if (!token_is(p, len, "no-sgx-flc") && !token_is(p, len, "no-epm")) {
			/* Printed whatever the log level: rune shows only the error number. */
			say("unknown argument '%.*s'", (int)len, p);
			return -EINVAL;
		}
		p += len;
	}
	return 0;
}

static int init_common(const struct pal_attr_v1 *attr)
{
	if (!attr)
		return -EINVAL;
	bool debug = false;
	int r = parse_args(attr->args, &debug);
	if (r < 0)
		return r;
	int level = parse_log_level(attr->log_level);
	if (debug && level > SKEL_LOG_DEBUG)
		level = SKEL_LOG_DEBUG;

	pthread_mutex_lock(&skel.lock);
	if (skel.initialised) {
		pthread_mutex_unlock(&skel.lock);
		return -EBUSY;
	}
	skel.initialised = true;
	skel.debug = debug;
	pthread_mutex_unlock(&skel.lock);

	atomic_store(&log_level, level);
	logf_at(SKEL_LOG_WARNING,
		"SIMULATED enclave (no SGX hardware): measurements and reports are "
		"not hardware-backed");
	logf_at(SKEL_LOG_DEBUG, "PAL API v%d, args '%s', log level %s", SKELETON_PAL_VERSION,
		attr->args ? attr->args : "", level_names[level]);
	return 0;
}

static struct skel_proc **find_proc(pid_t pid)
{
	struct skel_proc **pp = &skel.procs;
	while (*pp && (*pp)->pid != pid)
		pp = &(*pp)->next;
	return pp;
}

static void log_measurement(const uint8_t mr[SGX_HASH_SIZE])
{
	char hex[2 * SGX_HASH_SIZE + 1];
	for (int i = 0; i < SGX_HASH_SIZE; i++)
		snprintf(hex + 2 * i, 3, "%02x", mr[i]);
	logf_at(SKEL_LOG_DEBUG, "MRENCLAVE %s (simulated)", hex);
}

/* Drops the reference start_create or run_process took, which pal_destroy waits for. */
static void put_active(void)
{
	pthread_mutex_lock(&skel.lock);
	skel.active--;
	pthread_cond_broadcast(&skel.idle);
	pthread_mutex_unlock(&skel.lock);
}

static int start_create(bool *first)
{
	pthread_mutex_lock(&skel.lock);
	if (!skel.initialised || skel.destroying) {
		pthread_mutex_unlock(&skel.lock);
		return -EINVAL;
	}
	/* Measuring is slow (the whole file): claim it, do it unlocked. */
	*first = !skel.measured && !skel.measuring;
	if (*first)
		skel.measuring = true;
	skel.active++;
	pthread_mutex_unlock(&skel.lock);
	return 0;
}

/* Publishes a new process; on failure (or a concurrent pal_destroy) undoes its creation. */
static int finish_create(int r, bool first, const uint8_t mr[SGX_HASH_SIZE],
			 struct skel_child *child)
{
	struct skel_proc *p = r == 0 ? calloc(1, sizeof(*p)) : NULL;
	if (r == 0 && !p)
		r = -ENOMEM;
	pthread_mutex_lock(&skel.lock);
	if (first)
		skel.measuring = false;
	if (r == 0 && skel.destroying)
		r = -ECANCELED;
	if (r == 0) {
		*p = (struct skel_proc){ .next = skel.procs,
					 .pid = child->pid,
					 .sock = child->sock };
		skel.procs = p;
		if (first) {
			memcpy(skel.mr_enclave, mr, SGX_HASH_SIZE);
			skel.measured = true;
			skel.entry_pid = child->pid;
		}
	}
	pthread_mutex_unlock(&skel.lock);
	if (r < 0) {
		free(p);
		if (child->pid > 0)
			skel_abort(child);
	}
	put_active();
	return r;
}

static int create_process(const char *path, char *const argv[], char *const envp[],
			  const struct pal_stdio_fds *stdio, pid_t *pid)
{
	if (!path || !argv || !envp || !stdio || !pid)
		return -EINVAL;
	const int fds[] = { stdio->stdin_fd, stdio->stdout_fd, stdio->stderr_fd };
	for (size_t i = 0; i < ARRAY_SIZE(fds); i++)
		if (fds[i] < 0 || fcntl(fds[i], F_GETFD) < 0)
			return -EBADF;
	bool first;
	int r = start_create(&first);
	if (r < 0)
		return r;

	uint8_t mr[SGX_HASH_SIZE] = { 0 };
	struct skel_child child = { .pid = -1, .sock = -1 };
	_cleanup_close_ int fd = -1;
	r = skel_open_exe(path, &fd);
	if (r == 0 && first)
		r = skel_sim_measure_fd(fd, mr);
	if (r == 0)
		r = skel_spawn(fd, argv, envp, stdio, &child);
	r = finish_create(r, first, mr, &child);
	if (r < 0) {
		logf_at(SKEL_LOG_DEBUG, "create process %s: %s", path, strerror(-r));
		return r;
	}
	if (first)
		log_measurement(mr);
	logf_at(SKEL_LOG_DEBUG, "created process %d for %s", (int)child.pid, path);
	*pid = child.pid;
	return 0;
}

static int run_process(pid_t pid, int *exit_value)
{
	if (!exit_value)
		return -EINVAL;
	pthread_mutex_lock(&skel.lock);
	struct skel_proc *p = *find_proc(pid);
	int r = !p || skel.destroying ? -ESRCH : p->state != PROC_PARKED ? -EBUSY : 0;
	int sock = -1;
	if (r == 0) {
		p->state = PROC_RUNNING;
		sock = steal_fd(&p->sock);
		skel.active++;
	}
	pthread_mutex_unlock(&skel.lock);
	if (r < 0)
		return r;

	int exec_err = skel_release(sock);
	close(sock);
	r = skel_wait_exit(pid);
	int status = 0;
	pthread_mutex_lock(&skel.lock);
	/* Reaped only now, under the lock, together with its removal from the table: pal_kill
	 * can never signal a recycled pid. It is a zombie already: this does not block. */
	if (r == 0)
		r = skel_reap(pid, &status);
	struct skel_proc **pp = find_proc(pid);
	if ((p = *pp)) {
		*pp = p->next;
		free(p);
	}
	/* Its pid may be recycled for a later process: pal_kill(0, ..) must not follow it. */
	if (skel.entry_pid == pid)
		skel.entry_pid = 0;
	skel.active--;
	pthread_cond_broadcast(&skel.idle);
	pthread_mutex_unlock(&skel.lock);

	if (exec_err < 0) {
		logf_at(SKEL_LOG_ERROR, "process %d: exec failed: %s", (int)pid,
			strerror(-exec_err));
		return exec_err;
	}
	if (r < 0)
		return r;
	logf_at(SKEL_LOG_DEBUG, "process %d ended with %d", (int)pid, status);
	*exit_value = status;
	return 0;
}

#if SKELETON_PAL_VERSION >= 2
static int kill_process(int pid, int sig)
{
	if (sig < 0 || sig > SKEL_SIG_MAX || pid < -1)
		return -EINVAL;
	int r = -ESRCH;
	pthread_mutex_lock(&skel.lock);
	if (pid == -1) {
		for (struct skel_proc *p = skel.procs; p; p = p->next) {
			int k = kill(p->pid, sig) < 0 ? -errno : 0;
			/* Signal every process; report the first failure. */
			if (r == -ESRCH || (r == 0 && k < 0))
				r = k;
		}
	} else {
		pid_t target = pid == 0 ? skel.entry_pid : pid;
		struct skel_proc *p = target > 0 ? *find_proc(target) : NULL;
		if (p)
			r = kill(p->pid, sig) < 0 ? -errno : 0;
	}
	pthread_mutex_unlock(&skel.lock);
	return r;
}
#endif

static int destroy(void)
{
	pthread_mutex_lock(&skel.lock);
	if (!skel.initialised || skel.destroying) {
		pthread_mutex_unlock(&skel.lock);
		return 0;
	}
	skel.destroying = true;
	/* Running processes are reaped by the pal_exec waiting for them; parked ones have no
	 * waiter and become ours. */
	struct skel_proc *parked = NULL;
	for (struct skel_proc **pp = &skel.procs; *pp;) {
		struct skel_proc *p = *pp;
		kill(p->pid, SIGKILL);
		if (p->state == PROC_PARKED) {
			*pp = p->next;
			p->next = parked;
			parked = p;
		} else {
			pp = &p->next;
		}
	}
	while (skel.active > 0)
		pthread_cond_wait(&skel.idle, &skel.lock);
	pthread_mutex_unlock(&skel.lock);

	while (parked) {
		struct skel_proc *p = parked;
		parked = p->next;
		skel_abort(&(struct skel_child){ .pid = p->pid, .sock = p->sock });
		free(p);
	}

	pthread_mutex_lock(&skel.lock);
	explicit_bzero(skel.mr_enclave, sizeof(skel.mr_enclave));
	skel.measured = false;
	skel.entry_pid = 0;
	skel.debug = false;
	skel.initialised = false;
	skel.destroying = false;
	pthread_mutex_unlock(&skel.lock);
	logf_at(SKEL_LOG_DEBUG, "destroyed");
	atomic_store(&log_level, SKEL_LOG_INFO);
	return 0;
}

int pal_get_version(void)
{
	return SKELETON_PAL_VERSION;
}

int pal_destroy(void)
{
	return destroy();
}

#if SKELETON_PAL_VERSION >= 3
int pal_init(struct pal_attr_v3 *attr)
{
	int r = init_common(attr ? &attr->attr_v1 : NULL);
	if (r == 0 && (attr->fd != -1 || attr->addr != 0))
		logf_at(SKEL_LOG_DEBUG,
			"ignoring EPM enclave fd %d at 0x%llx: no EPM when simulated", attr->fd,
			(unsigned long long)attr->addr);
	return r;
}
#else
int pal_init(struct pal_attr_v1 *attr)
{
	return init_common(attr);
}
#endif

#if SKELETON_PAL_VERSION == 1
int pal_exec(const char *path, const char *const argv[], const struct pal_stdio_fds *stdio,
	     int *exit_code)
{
	if (!exit_code)
		return -EINVAL;
	pid_t pid;
	/* v1 passes no environment: the payload inherits the host process's. */
	int r = create_process(path, (char *const *)argv, environ ? environ : no_env, stdio, &pid);
	if (r < 0)
		return r;
	return run_process(pid, exit_code);
}
#else
int pal_create_process(struct pal_create_process_args *args)
{
	if (!args || !args->pid)
		return -EINVAL;
	pid_t pid;
	int r = create_process(args->path, (char *const *)args->argv,
			       args->env ? (char *const *)args->env : no_env, args->stdio, &pid);
	if (r == 0)
		*args->pid = pid;
	return r;
}

int pal_exec(struct pal_exec_args *args)
{
	if (!args)
		return -EINVAL;
	return run_process(args->pid, args->exit_value);
}

int pal_kill(int pid, int sig)
{
	return kill_process(pid, sig);
}
#endif

#if SKELETON_PAL_VERSION >= 3
int pal_get_local_report(void *targetinfo, int targetinfo_len, void *report, int *report_len)
{
	if (!targetinfo || !report || !report_len || targetinfo_len != SGX_TARGETINFO_SIZE ||
	    *report_len < SGX_REPORT_SIZE)
		return -EINVAL;
	struct sgx_report rep;
	memset(&rep, 0, sizeof(rep));
	pthread_mutex_lock(&skel.lock);
	bool ready = skel.measured;
	if (ready) {
		memcpy(rep.body.mr_enclave, skel.mr_enclave, SGX_HASH_SIZE);
		rep.body.attributes.flags =
		    SGX_FLAGS_INIT | SGX_FLAGS_MODE64BIT | (skel.debug ? SGX_FLAGS_DEBUG : 0);
	}
	pthread_mutex_unlock(&skel.lock);
	if (!ready)
		return -EAGAIN;

	rep.body.attributes.xfrm = SGX_XFRM_LEGACY;
	memcpy(rep.body.report_data,
	       (const uint8_t *)report + offsetof(struct sgx_report_body, report_data),
	       SGX_REPORT_DATA_SIZE);
	skel_sim_keyid(rep.key_id);
	uint8_t target[SGX_HASH_SIZE];
	memcpy(target, (const uint8_t *)targetinfo + offsetof(struct sgx_target_info, mr_enclave),
	       SGX_HASH_SIZE);
	if (skel_sim_mr_signer(rep.body.mr_signer) < 0 ||
	    skel_sim_report_mac(&rep.body, target, rep.mac) < 0)
		return -EIO;
	memcpy(report, &rep, sizeof(rep));
	*report_len = SGX_REPORT_SIZE;
	return 0;
}
#endif
