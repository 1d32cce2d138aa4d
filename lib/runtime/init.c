// SPDX-License-Identifier: Apache-2.0
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/keyctl.h>
#include "runtime/hooks.h"
#include "runtime/init.h"
#include "runtime/process.h"
#include "runtime/rootfs.h"
#include "runtime/sync.h"
#include "runtime/terminal.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/log.h"
#include "util/strv.h"

char *rt_hook_state(const struct rt_spec *spec, const char *id, const char *bundle,
		    const char *status, pid_t pid)
{
	_cleanup_json_ json_t *j =
	    json_pack("{s:s,s:s,s:s,s:I,s:s}", "ociVersion",
		      spec->oci_version ? spec->oci_version : RT_OCI_VERSION, "id", id, "status",
		      status, "pid", (json_int_t)pid, "bundle", bundle);
	json_t *ann = spec->raw ? json_object_get(spec->raw, "annotations") : NULL;
	if (ann && json_is_object(ann) && json_object_size(ann) > 0)
		json_object_set(j, "annotations", ann);
	return cc_json_dump(j);
}

void rt_reset_signals(void)
{
	sigset_t all;
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &dfl, NULL);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
}

static int set_sysctls(const struct rt_spec *spec, struct cc_error **err)
{
	for (size_t i = 0; i < spec->linux.n_sysctl; i++) {
		const struct rt_kv *kv = &spec->linux.sysctl[i];
		if (strstr(kv->key, "..") || kv->key[0] == '/')
			return cc_error_set(err, 0, "sysctl %s: invalid name", kv->key);
		_cleanup_free_ char *path = xasprintf("/proc/sys/%s", kv->key);
		for (char *p = path + strlen("/proc/sys/"); *p; p++)
			if (*p == '.')
				*p = '/';
		if (cc_write_file(path, kv->value, strlen(kv->value), 0, err) < 0)
			return cc_error_prefix(err, "sysctl %s=%s", kv->key, kv->value);
	}
	return 0;
}

static int set_names(const struct rt_spec *spec, struct cc_error **err)
{
	bool uts = rt_spec_namespace(spec, RT_NS_UTS) != NULL;
	if ((spec->hostname && *spec->hostname) || (spec->domainname && *spec->domainname)) {
		if (!uts)
			return cc_error_set(
			    err, 0, "unable to set hostname without a private UTS namespace");
	}
	if (spec->hostname && *spec->hostname &&
	    sethostname(spec->hostname, strlen(spec->hostname)) < 0)
		return cc_error_errno(err, "sethostname %s", spec->hostname);
	if (spec->domainname && *spec->domainname &&
	    setdomainname(spec->domainname, strlen(spec->domainname)) < 0)
		return cc_error_errno(err, "setdomainname %s", spec->domainname);
	return 0;
}

/* A new session keyring keeps the container from reading the host's session keys. */
static int join_keyring(const char *id, struct cc_error **err)
{
	_cleanup_free_ char *name = xasprintf("_ses.%s", id);
	if (syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name) < 0 && errno != ENOSYS &&
	    errno != EDQUOT && errno != EACCES)
		return cc_error_errno(err, "join session keyring");
	return 0;
}

/* The payload's environment: config env, plus LISTEN_FDS/LISTEN_PID for socket activation. */
static void fixup_env(const struct init_args *a, struct rt_process *p)
{
	if (!a->listen_fds)
		return;
	char **env = NULL;
	for (size_t i = 0; p->env && p->env[i]; i++)
		if (strncmp(p->env[i], "LISTEN_FDS=", 11) && strncmp(p->env[i], "LISTEN_PID=", 11))
			cc_strv_push(&env, p->env[i]);
	_cleanup_free_ char *fds = xasprintf("LISTEN_FDS=%u", a->n_listen_fds);
	cc_strv_push(&env, fds);
	cc_strv_push(&env, "LISTEN_PID=1");
	cc_strv_free(p->env);
	p->env = env;
}

static int setup_terminal(const struct init_args *a, struct cc_error **err)
{
	const struct rt_process *p = a->spec->process;
	int master = -1, slave = -1;
	if (rt_terminal_open("/dev/ptmx", p->console_height, p->console_width, &master, &slave,
			     err) < 0)
		return -1;
	if (rt_rootfs_bind_console(NULL, slave, err) < 0)
		goto fail;
	if (rt_terminal_send_fd(a->console_fd, master, "/dev/ptmx", err) < 0)
		goto fail;
	close(master);
	close(a->console_fd);
	if (rt_terminal_make_controlling(slave, err) < 0) {
		close(slave);
		return -1;
	}
	if (slave > 2)
		close(slave);
	return 0;
fail:
	close(master);
	close(slave);
	return -1;
}

/* Everything up to pivot_root: namespaces we unshare late, the filesystem, names, sysctls. */
static void setup_before_pivot(const struct init_args *a, const struct rt_rootfs_ctx *rctx)
{
	struct cc_error *err = NULL;
	const struct rt_spec *spec = a->spec;
	int32_t host_pid = 0;

	if (a->new_userns) {
		/* Become root of the new namespace when root is mapped; otherwise stay as is. */
		if (setresgid(0, 0, 0) < 0 && errno != EINVAL)
			sync_fail(a->sync_fd, (cc_error_errno(&err, "setresgid"), err));
		if (setresuid(0, 0, 0) < 0 && errno != EINVAL)
			sync_fail(a->sync_fd, (cc_error_errno(&err, "setresuid"), err));
	}
	if (rctx->cgroupns && unshare(CLONE_NEWCGROUP) < 0)
		sync_fail(a->sync_fd, (cc_error_errno(&err, "unshare cgroup namespace"), err));
	if (!a->no_new_keyring && join_keyring(a->id, &err) < 0)
		sync_fail(a->sync_fd, err);
	if (chdir(a->bundle) < 0)
		sync_fail(a->sync_fd, (cc_error_errno(&err, "chdir %s", a->bundle), err));
	if (rt_rootfs_prepare(rctx, &err) < 0)
		sync_fail(a->sync_fd, err);
	if (set_names(spec, &err) < 0 || set_sysctls(spec, &err) < 0)
		sync_fail(a->sync_fd, err);
	if (sync_send(a->sync_fd, SYNC_HOOKS, 0) < 0 ||
	    sync_expect(a->sync_fd, SYNC_HOOKS_DONE, &host_pid, &err) < 0)
		_exit(1);
	if (spec->hooks.count[RT_HOOK_CREATE_CONTAINER]) {
		_cleanup_free_ char *state =
		    rt_hook_state(spec, a->id, a->bundle, "creating", host_pid);
		if (rt_hooks_run(&spec->hooks, RT_HOOK_CREATE_CONTAINER, state, &err) < 0)
			sync_fail(a->sync_fd, err);
	}
}

static void setup_after_pivot(const struct init_args *a, const struct rt_rootfs_ctx *rctx,
			      struct rt_process *p)
{
	struct cc_error *err = NULL;
	if (p->terminal && a->console_fd >= 0 && setup_terminal(a, &err) < 0)
		sync_fail(a->sync_fd, err);
	if (rt_rootfs_finalize(rctx, &err) < 0)
		sync_fail(a->sync_fd, err);
	if (rt_process_set_rlimits(p, &err) < 0)
		sync_fail(a->sync_fd, err);
	if (p->has_oom_score_adj && rt_process_set_oom_score_adj(0, p->oom_score_adj, &err) < 0)
		sync_fail(a->sync_fd, err);
	if (chdir(p->cwd) < 0)
		sync_fail(a->sync_fd,
			  (cc_error_errno(&err, "chdir to cwd (\"%s\") set in config.json failed",
					  p->cwd),
			   err));
	/* A handler that runs the payload itself finds it itself (an enclave payload may exist
	 * only inside the enclave). */
	bool own_payload = a->handler && a->handler->run;
	_cleanup_free_ char *exe = own_payload ? NULL : rt_process_find_executable(p, &err);
	if (!exe && !own_payload)
		sync_fail(a->sync_fd, err);
	fixup_env(a, p);
}

/* A notify listener must reach its agent while rune is still here to hand it over, so such a
 * filter goes in before READY (runc does the same); others wait until right before exec. */
static bool install_notify_filter(const struct init_args *a)
{
	struct cc_error *err = NULL;
	if (!a->seccomp || !a->spec->linux.seccomp->listener_path)
		return false;
	int fd = rt_seccomp_install(a->seccomp, &err);
	if (fd < 0)
		sync_fail(a->sync_fd, err);
	if (fd == 0)
		sync_fail(a->sync_fd, (cc_error_set(&err, 0,
						    "seccomp: listenerPath is set but no rule "
						    "uses SCMP_ACT_NOTIFY"),
				       err));
	if (sync_send(a->sync_fd, SYNC_SECCOMP, 0) < 0 ||
	    rt_terminal_send_fd(a->sync_fd, fd, "seccomp", &err) < 0 ||
	    sync_expect(a->sync_fd, SYNC_SECCOMP_DONE, NULL, &err) < 0)
		_exit(1);
	close(fd);
	return true;
}

/* The last steps, after `start`: hooks, privileges, seccomp, exec. Errors go to stderr. */
static __attribute__((noreturn)) void finish(const struct init_args *a, struct rt_process *p,
					     bool seccomp_done)
{
	struct cc_error *err = NULL;
	const struct rt_spec *spec = a->spec;
	char byte;

	/* The order is runc's, so a created container already shows its final identity:
	 * without no_new_privs the filter must go in while we still hold CAP_SYS_ADMIN; then
	 * user and capabilities; then wait for `start`, run startContainer hooks (as the
	 * container's user), and with no_new_privs install the filter as late as possible so
	 * those steps are not filtered. */
	const struct rt_seccomp_prog *filter = seccomp_done ? NULL : a->seccomp;
	if (filter && !p->no_new_privileges && rt_seccomp_install(filter, &err) < 0)
		goto fail;
	if (rt_process_set_identity(p, &err) < 0)
		goto fail;
	while (read(a->fifo_fd, &byte, 1) < 0 && errno == EINTR)
		;
	if (spec->hooks.count[RT_HOOK_START_CONTAINER]) {
		_cleanup_free_ char *state =
		    rt_hook_state(spec, a->id, a->bundle, "created", getpid());
		if (rt_hooks_run(&spec->hooks, RT_HOOK_START_CONTAINER, state, &err) < 0)
			goto fail;
	}
	if (filter && p->no_new_privileges && rt_seccomp_install(filter, &err) < 0)
		goto fail;
	rt_cloexec_fds_from(3 + (int)a->preserve_fds);
	rt_reset_signals();
	rt_process_exec(p, &err);
fail:
	rt_init_report(err);
	_exit(127);
}

void rt_init_report(const struct cc_error *err)
{
	const char *msg = err && err->msg ? err->msg : "unknown error";
	if (!cc_log_to_stderr())
		cc_log(CC_LOG_ERROR, "container init: %s", msg);
	dprintf(2, "rune init: %s\n", msg);
}

void rt_init_main(const struct init_args *a)
{
	struct cc_error *err = NULL;
	const struct rt_spec *spec = a->spec;
	struct rt_process *p = spec->process;
	struct rt_rootfs_ctx rctx = {
		.spec = spec,
		.rootfs = a->rootfs,
		.cgroup = a->cgroup,
		.userns = rt_spec_namespace(spec, RT_NS_USER) != NULL,
		.cgroupns = rt_spec_namespace(spec, RT_NS_CGROUP) != NULL &&
			    !rt_spec_namespace(spec, RT_NS_CGROUP)->path,
		.no_pivot = a->no_pivot,
	};

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (sync_expect(a->sync_fd, SYNC_GO, NULL, &err) < 0)
		_exit(1);
	setup_before_pivot(a, &rctx);
	if (a->handler && a->handler->before_pivot &&
	    a->handler->before_pivot(a->handler_data, a, &err) < 0)
		sync_fail(a->sync_fd, err);
	if (rt_rootfs_pivot(&rctx, &err) < 0)
		sync_fail(a->sync_fd, err);
	setup_after_pivot(a, &rctx, p);
	bool seccomp_done = install_notify_filter(a);
	if (a->handler && a->handler->run)
		a->handler->run(a->handler_data, a, seccomp_done);

	/* From here on a dead parent must not kill us: the container outlives `rune create`. */
	prctl(PR_SET_PDEATHSIG, 0);
	if (sync_send(a->sync_fd, SYNC_READY, 0) < 0 ||
	    sync_expect(a->sync_fd, SYNC_COMMIT, NULL, &err) < 0)
		_exit(1);
	close(a->sync_fd);
	finish(a, p, seccomp_done);
}

void rt_hooks_run_warn(const struct rt_hooks *hooks, enum rt_hook_kind kind, const char *state)
{
	/* poststart/poststop: a failing hook is logged, and the others still run. */
	for (size_t i = 0; i < hooks->count[kind]; i++) {
		struct rt_hooks one = { 0 };
		struct cc_error *err = NULL;
		one.list[kind] = &hooks->list[kind][i];
		one.count[kind] = 1;
		if (rt_hooks_run(&one, kind, state, &err) < 0) {
			cc_warn("%s", err->msg);
			cc_error_free(&err);
		}
	}
}
