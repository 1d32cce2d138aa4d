// SPDX-License-Identifier: Apache-2.0
/*
 * A test PAL, built once per API version (TEST_PAL_VERSION 1, 2, 3) and in broken variants
 * (TEST_PAL_VERSION4, TEST_PAL_NO_INIT, TEST_PAL_INIT_FAILS). It records every call and the values
 * it receives, one line each, in the file named by the "log=<path>" argument of pal_init, and
 * runs the payload as an ordinary child process (no enclave: this is a test double).
 *
 * TEST_PAL_CANARY builds the library an attacker would plant: its constructor, which runs the
 * moment anything dlopens it, appends a line to the file named by $RUNE_TEST_CANARY.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "enclave/pal_api.h"

#ifndef TEST_PAL_VERSION
#define TEST_PAL_VERSION 3
#endif

static FILE *log_file;
static pid_t child = -1;
static int version_calls;

/* The PAL's exported functions, in this version's forms. */
int pal_get_version(void);
int pal_destroy(void);
#if TEST_PAL_VERSION >= 3
int pal_init(struct pal_attr_v3 *attr);
#else
int pal_init(struct pal_attr_v1 *attr);
#endif
#if TEST_PAL_VERSION == 1
int pal_exec(const char *path, const char *const argv[], const struct pal_stdio_fds *stdio,
	     int *exit_code);
#else
int pal_create_process(struct pal_create_process_args *args);
int pal_exec(struct pal_exec_args *args);
int pal_kill(int pid, int sig);
#endif

#ifdef TEST_PAL_CANARY
__attribute__((constructor)) static void canary(void)
{
	const char *path = getenv("RUNE_TEST_CANARY");
	FILE *f = path ? fopen(path, "ae") : NULL;
	if (f) {
		fprintf(f, "loaded pid=%d uid=%d\n", (int)getpid(), (int)getuid());
		fclose(f);
	}
}
#endif

static void record(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void record(const char *fmt, ...)
{
	if (!log_file)
		return;
	va_list ap;
	va_start(ap, fmt);
	vfprintf(log_file, fmt, ap);
	va_end(ap);
	fputc('\n', log_file);
	fflush(log_file);
}

static __attribute__((unused)) void open_log(const char *args)
{
	const char *p = args ? strstr(args, "log=") : NULL;
	if (!p)
		return;
	char path[4096];
	snprintf(path, sizeof(path), "%.*s", (int)strcspn(p + 4, " "), p + 4);
	log_file = fopen(path, "ae");
}

/* What the PAL itself finds in its process environment, when a test marked it. */
static void record_environ(const char *when)
{
	const char *mine = getenv("RUNE_TEST_CONTAINER_MARK"),
		   *host = getenv("RUNE_TEST_HOST_MARK");
	if (mine || host)
		record("environ at %s: container=%s host=%s", when, mine ? mine : "-",
		       host ? host : "-");
}

static void list(char *out, size_t len, const char *const *v)
{
	out[0] = '\0';
	for (size_t i = 0; v && v[i]; i++)
		snprintf(out + strlen(out), len - strlen(out), "%s%s", i ? "|" : "", v[i]);
}

int pal_get_version(void)
{
	version_calls++; /* recorded by pal_init, which opens the log */
#ifdef TEST_PAL_VERSION4
	return 4;
#else
	return TEST_PAL_VERSION;
#endif
}

#ifndef TEST_PAL_NO_INIT
#if TEST_PAL_VERSION >= 3
int pal_init(struct pal_attr_v3 *attr)
{
	open_log(attr->attr_v1.args);
	record("get_version calls=%d", version_calls);
	record("init v3 args=%s log_level=%s fd=%d addr=%llu", attr->attr_v1.args,
	       attr->attr_v1.log_level, attr->fd, (unsigned long long)attr->addr);
#else
int pal_init(struct pal_attr_v1 *attr)
{
	open_log(attr->args);
	record("get_version calls=%d", version_calls);
	record("init v%d args=%s log_level=%s", TEST_PAL_VERSION, attr->args, attr->log_level);
#endif
	record_environ("init");
#ifdef TEST_PAL_INIT_FAILS
	return -EPERM;
#else
	return 0;
#endif
}
#endif

static int spawn(const char *path, const char *const *argv, const char *const *env,
		 const struct pal_stdio_fds *stdio, int *status)
{
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL); /* rune's calling thread blocks them all */
		dup2(stdio->stdin_fd, 0);
		dup2(stdio->stdout_fd, 1);
		dup2(stdio->stderr_fd, 2);
		if (env)
			execve(path, (char *const *)argv, (char *const *)env);
		else
			execv(path, (char *const *)argv);
		_exit(127);
	}
	child = pid;
	if (!status)
		return 0;
	int ws;
	if (waitpid(pid, &ws, 0) < 0)
		return -errno;
	*status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
	return 0;
}

#if TEST_PAL_VERSION == 1
int pal_exec(const char *path, const char *const argv[], const struct pal_stdio_fds *stdio,
	     int *exit_code)
{
	char a[4096];
	list(a, sizeof(a), argv);
	record("exec v1 path=%s argv=%s stdio=%d,%d,%d", path, a, stdio->stdin_fd, stdio->stdout_fd,
	       stdio->stderr_fd);
	record_environ("exec");
	return spawn(path, argv, NULL, stdio, exit_code);
}
#else
static struct pal_create_process_args pending;
static struct pal_stdio_fds pending_stdio;

int pal_create_process(struct pal_create_process_args *args)
{
	char a[4096], e[4096];
	list(a, sizeof(a), args->argv);
	list(e, sizeof(e), args->env);
	record("create_process path=%s argv=%s env=%s stdio=%d,%d,%d", args->path, a, e,
	       args->stdio->stdin_fd, args->stdio->stdout_fd, args->stdio->stderr_fd);
	pending = *args;
	pending_stdio = *args->stdio;
	*args->pid = 4242;
	return 0;
}

int pal_exec(struct pal_exec_args *args)
{
	record("exec pid=%d", args->pid);
	record_environ("exec");
	if (args->pid != 4242)
		return -ESRCH;
	return spawn(pending.path, pending.argv, pending.env, &pending_stdio, args->exit_value);
}

int pal_kill(int pid, int sig)
{
	record("kill pid=%d sig=%d", pid, sig);
	return 0;
}
#endif

int pal_destroy(void)
{
	record("destroy");
	if (log_file)
		fclose(log_file);
	log_file = NULL;
	return 0;
}
