// SPDX-License-Identifier: Apache-2.0
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "runtime/container.h"
#include "runtime/handler.h"
#include "runtime/hooks.h"
#include "runtime/init.h"
#include "runtime/namespaces.h"
#include "runtime/seccomp.h"
#include "runtime/sync.h"
#include "runtime/terminal.h"
#include "util/cleanup.h"
#include "util/strv.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/log.h"

/* fork() semantics with namespace flags: the child continues on a copy of our stack. Like
 * glibc's fork, have the kernel store the child's thread id in our thread descriptor (whose
 * address the kernel knows from set_tid_address), so that threads in the child (an enclave
 * init has some) work with glibc's notion of the main thread's id. */
static pid_t raw_clone(unsigned long flags)
{
	int *tid = NULL;
	if (prctl(PR_GET_TID_ADDRESS, &tid, 0, 0, 0) == 0 && tid)
		flags |= CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID;
	return (pid_t)syscall(SYS_clone, flags, NULL, NULL, tid, NULL);
}

/* Everything create has made so far, so that a failure can take it all back. */
struct creation {
	struct rt_spec *spec;
	struct rt_cgroup *cgroup;
	struct rt_seccomp_prog *seccomp;
	char *bundle, *rootfs, *dir;
	pid_t pid;
	int sync_fd;
	int fifo_fd;
	int console_fd;	  /* given to the init */
	int console_peer; /* our end when we receive the pty ourselves (foreground run) */
	int tty_master;
	const struct rt_handler *handler; /* the handler that claimed the container, or NULL */
	void *handler_data;
	bool dir_made, cgroup_made;
};

static void creation_rollback(struct creation *c)
{
	struct cc_error *err = NULL;
	if (c->pid > 0) {
		kill(c->pid, SIGKILL);
		waitpid(c->pid, NULL, 0);
		c->pid = 0;
	}
	if (c->cgroup_made && rt_cgroup_destroy(c->cgroup, true, &err) < 0) {
		cc_warn("cleanup: %s", err->msg);
		cc_error_free(&err);
	}
	if (c->dir_made && cc_rm_rf(c->dir, &err) < 0) {
		cc_warn("cleanup: %s", err->msg);
		cc_error_free(&err);
	}
}

static void creation_free(struct creation *c)
{
	rt_spec_free(c->spec);
	rt_cgroup_free(c->cgroup);
	rt_seccomp_prog_free(c->seccomp);
	free(c->bundle);
	free(c->rootfs);
	free(c->dir);
	if (c->handler && c->handler->free)
		c->handler->free(c->handler_data);
	for (int *fd = &c->sync_fd; fd <= &c->tty_master; fd++)
		if (*fd >= 0)
			close(*fd);
}

/* Capabilities rune does not hold itself cannot be granted: say so at create, not as a
 * failed capset in the init after create has already succeeded. In a user namespace (new or
 * joined) the init holds every capability of that namespace, so there is nothing to check. */
static int check_caps_available(const struct rt_spec *spec, struct cc_error **err)
{
	const struct rt_caps *c = &spec->process->caps;
	if (!c->present || rt_spec_namespace(spec, RT_NS_USER))
		return 0;
	uint64_t want = c->effective | c->permitted | c->inheritable | c->bounding;
	for (int cap = 0; cap <= rt_cap_last() && cap < 64; cap++) {
		if (!(want & (UINT64_C(1) << cap)) || prctl(PR_CAPBSET_READ, cap, 0, 0, 0) != 0)
			continue;
		const char *name = rt_cap_name(cap);
		return cc_error_set(err, 0,
				    "config.json: process.capabilities: %s is not in rune's own "
				    "bounding set, so it cannot be granted",
				    name ? name : "capability");
	}
	return 0;
}

static int check_options(const struct rt_spec *spec, const struct rt_create_opts *o,
			 bool foreground, struct cc_error **err)
{
	if (!spec->process)
		return cc_error_set(err, 0, "config.json: process: required to create a container");
	if (!spec->root.path || !*spec->root.path)
		return cc_error_set(err, 0, "config.json: root.path: required");
	if (spec->process->terminal && !o->console_socket && !foreground)
		return cc_error_set(err, 0,
				    "cannot allocate tty if rune will detach without "
				    "setting console socket");
	if (spec->process->terminal && !o->console_socket && foreground &&
	    rt_terminal_require_caller_tty(err) < 0)
		return -1;
	if (!spec->process->terminal && o->console_socket)
		return cc_error_set(err, 0,
				    "cannot use console socket if rune will not detach "
				    "or allocate tty");
	if (!rt_spec_namespace(spec, RT_NS_MOUNT))
		return cc_error_set(err, 0,
				    "config.json: linux.namespaces: a mount namespace is "
				    "required");
	return check_caps_available(spec, err);
}

/* The first registered handler that claims the container gets it. */
static int find_handler(struct creation *c, const struct rt_context *ctx, struct cc_error **err)
{
	for (size_t i = 0; ctx->handlers && ctx->handlers[i]; i++) {
		const struct rt_handler *h = ctx->handlers[i];
		int claimed = h->configure(h, c->spec, c->bundle, c->rootfs, &c->handler_data, err);
		if (claimed < 0)
			return -1;
		if (claimed) {
			c->handler = h;
			return 0;
		}
	}
	return 0;
}

static int load_config(struct creation *c, const struct rt_context *ctx,
		       const struct rt_create_opts *o, bool foreground, struct cc_error **err)
{
	char buf[PATH_MAX];
	if (!realpath(o->bundle ? o->bundle : ".", buf))
		return cc_error_errno(err, "bundle %s", o->bundle ? o->bundle : ".");
	c->bundle = xstrdup(buf);
	c->spec = rt_spec_load(c->bundle, err);
	if (!c->spec)
		return -1;
	if (check_options(c->spec, o, foreground, err) < 0)
		return -1;
	_cleanup_free_ char *root = c->spec->root.path[0] == '/'
					? xstrdup(c->spec->root.path)
					: cc_path_join(c->bundle, c->spec->root.path);
	if (!realpath(root, buf))
		return cc_error_errno(err, "rootfs %s", root);
	c->rootfs = xstrdup(buf);
	if (find_handler(c, ctx, err) < 0)
		return -1;
	if (c->spec->linux.seccomp) {
		c->seccomp = rt_seccomp_compile(c->spec->linux.seccomp, err);
		if (!c->seccomp)
			return cc_error_prefix(err, "seccomp");
	}
	return 0;
}

static int make_state_dir(struct creation *c, const struct rt_context *ctx, const char *id,
			  struct cc_error **err)
{
	if (cc_mkdir_p(ctx->root, 0700, err) < 0)
		return -1;
	c->dir = cc_path_join(ctx->root, id);
	if (mkdir(c->dir, 0711) < 0) {
		if (errno == EEXIST)
			return cc_error_set(err, 0, "container with given ID already exists: %s",
					    id);
		return cc_error_errno(err, "mkdir %s", c->dir);
	}
	c->dir_made = true;
	_cleanup_free_ char *fifo = cc_path_join(c->dir, "exec.fifo");
	if (mkfifo(fifo, 0622) < 0)
		return cc_error_errno(err, "mkfifo %s", fifo);
	/* O_RDWR never blocks; the init inherits it and blocks in read() until `start`. */
	c->fifo_fd = open(fifo, O_RDWR | O_CLOEXEC);
	if (c->fifo_fd < 0)
		return cc_error_errno(err, "open %s", fifo);
	_cleanup_free_ char *cfg = cc_path_join(c->dir, "config.json");
	_cleanup_free_ char *text = json_dumps(c->spec->raw, JSON_COMPACT);
	if (cc_write_file(cfg, text, strlen(text), 0600, err) < 0)
		return -1;
	if (!c->handler || !c->handler->prepare)
		return 0;
	_cleanup_close_ int dfd = open(c->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return cc_error_errno(err, "open %s", c->dir);
	return c->handler->prepare(c->handler_data, dfd, c->dir, err);
}

/* Resource limits other than device rules (which cannot apply without a cgroup anyway). */
static bool asks_for_limits(const struct rt_spec *spec)
{
	json_t *res = json_object_get(json_object_get(spec->raw, "linux"), "resources");
	const char *key;
	json_t *v;
	json_object_foreach (res, key, v)
		if (strcmp(key, "devices") != 0 && !json_is_null(v))
			return true;
	return false;
}

static int setup_cgroup(struct creation *c, const struct rt_context *ctx, const char *id,
			struct cc_error **err)
{
	struct cc_error *cerr = NULL;
	c->cgroup = rt_cgroup_new(c->spec->linux.cgroups_path, id, ctx->systemd_cgroup, &cerr);
	if (c->cgroup && rt_cgroup_create(c->cgroup, &c->spec->linux.resources, &cerr) == 0) {
		c->cgroup_made = true;
		return 0;
	}
	/* Rootless, like runc: a cgroup we may not create is skipped when the config neither
	 * names one nor asks for limits; the container then stays in the caller's cgroup. */
	int e = cerr ? cerr->errnum : 0;
	bool rootless = ctx->rootless == RT_ROOTLESS_TRUE ||
			(ctx->rootless == RT_ROOTLESS_AUTO && geteuid() != 0);
	if (rootless && (e == EACCES || e == EPERM || e == EROFS) && !c->spec->linux.cgroups_path &&
	    !asks_for_limits(c->spec)) {
		cc_debug("rootless: no cgroup (%s)", cerr->msg);
		cc_error_free(&cerr);
		rt_cgroup_free(c->cgroup);
		c->cgroup = NULL;
		return 0;
	}
	*err = cerr;
	return -1;
}

static int setup_console(struct creation *c, const struct rt_create_opts *o, bool foreground,
			 struct cc_error **err)
{
	if (!c->spec->process->terminal)
		return 0;
	if (o->console_socket) {
		c->console_fd = rt_console_socket_connect(o->console_socket, err);
		return c->console_fd < 0 ? -1 : 0;
	}
	int sv[2];
	if (!foreground || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return cc_error_errno(err, "console socketpair");
	c->console_fd = sv[0];
	c->console_peer = sv[1];
	return 0;
}

static void fill_init_args(struct init_args *a, const struct creation *c,
			   const struct rt_create_opts *o, int sync_fd)
{
	const char *listen = getenv("LISTEN_FDS");
	unsigned long n = listen ? strtoul(listen, NULL, 10) : 0;
	*a = (struct init_args){
		.spec = c->spec,
		.id = o->id,
		.bundle = c->bundle,
		.rootfs = c->rootfs,
		.cgroup = c->cgroup,
		.seccomp = c->seccomp,
		.sync_fd = sync_fd,
		.fifo_fd = c->fifo_fd,
		.console_fd = c->console_fd,
		.preserve_fds = o->preserve_fds + (unsigned)(n < 1024 ? n : 0),
		.no_pivot = o->no_pivot,
		.no_new_keyring = o->no_new_keyring,
		.new_userns = (rt_ns_new_flags(c->spec) & CLONE_NEWUSER) != 0,
		.listen_fds = n > 0 && n < 1024,
		.n_listen_fds = (unsigned)n,
		.handler = c->handler,
		.handler_data = c->handler_data,
	};
}

/* A new time namespace takes its clock offsets before its first process: the init. */
static int set_time_offsets(const struct rt_linux *l, struct cc_error **err)
{
	char buf[128];
	size_t len = 0;
	if (l->monotonic_offset.set)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "monotonic %lld %u\n",
					(long long)l->monotonic_offset.secs,
					l->monotonic_offset.nanosecs);
	if (l->boottime_offset.set)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "boottime %lld %u\n",
					(long long)l->boottime_offset.secs,
					l->boottime_offset.nanosecs);
	if (!len)
		return 0;
	if (cc_write_file("/proc/self/timens_offsets", buf, len, 0, err) < 0)
		return cc_error_prefix(err, "linux.timeOffsets");
	return 0;
}

/* The intermediate process for configs that join namespaces by path: it enters them (user
 * namespace first), unshares the new ones, then forks the init as a sibling (CLONE_PARENT) so
 * that the init is rune's own child, reports its pid and exits. */
static __attribute__((noreturn)) void intermediate_main(const struct init_args *a, int flags)
{
	struct cc_error *err = NULL;
	const struct rt_namespace *user = rt_spec_namespace(a->spec, RT_NS_USER);

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (user && user->path && rt_ns_join_paths(a->spec, ~CLONE_NEWUSER, &err) < 0)
		sync_fail(a->sync_fd, err);
	if (flags & CLONE_NEWUSER) {
		if (unshare(CLONE_NEWUSER) < 0)
			sync_fail(a->sync_fd,
				  (cc_error_errno(&err, "unshare user namespace"), err));
		if (sync_send(a->sync_fd, SYNC_USERNS, 0) < 0 ||
		    sync_expect(a->sync_fd, SYNC_USERNS_ACK, NULL, &err) < 0)
			_exit(1);
	}
	if (rt_ns_join_paths(a->spec, CLONE_NEWUSER, &err) < 0)
		sync_fail(a->sync_fd, err);
	if (unshare(flags & ~(CLONE_NEWUSER | CLONE_NEWCGROUP)) < 0)
		sync_fail(a->sync_fd, (cc_error_errno(&err, "unshare namespaces"), err));
	if ((flags & CLONE_NEWTIME) && set_time_offsets(&a->spec->linux, &err) < 0)
		sync_fail(a->sync_fd, err);
	pid_t pid = raw_clone(CLONE_PARENT | SIGCHLD);
	if (pid < 0)
		sync_fail(a->sync_fd, (cc_error_errno(&err, "clone"), err));
	if (pid == 0)
		rt_init_main(a);
	/* rune cannot learn of an init it was not told of: such an init must not live on. */
	if (sync_send(a->sync_fd, SYNC_PID, pid) < 0) {
		kill(pid, SIGKILL);
		_exit(1);
	}
	_exit(0);
}

static int spawn_init(struct creation *c, const struct rt_create_opts *o, struct cc_error **err)
{
	int sv[2];
	struct init_args a;
	int flags = rt_ns_new_flags(c->spec);
	bool intermediate = rt_ns_has_joins(c->spec) || (flags & CLONE_NEWTIME);

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return cc_error_errno(err, "socketpair");
	c->sync_fd = sv[0];
	fill_init_args(&a, c, o, sv[1]);
	pid_t pid =
	    raw_clone(intermediate ? SIGCHLD : (unsigned long)(flags & ~CLONE_NEWCGROUP) | SIGCHLD);
	if (pid < 0) {
		close(sv[1]);
		return cc_error_errno(err, "clone");
	}
	if (pid == 0) {
		close(sv[0]);
		if (intermediate)
			intermediate_main(&a, flags);
		rt_init_main(&a);
	}
	close(sv[1]);
	/* Only the init may hold the fifo open: `start` waits for the last reader to go. */
	close(c->fifo_fd);
	c->fifo_fd = -1;
	if (!intermediate) {
		c->pid = pid;
		if ((flags & CLONE_NEWUSER) && rt_ns_write_id_maps(pid, c->spec, err) < 0)
			return -1;
		return 0;
	}
	/* Intermediate: answer its user namespace request, then learn the init's pid. */
	int32_t init_pid = 0;
	int ret = 0;
	if (flags & CLONE_NEWUSER) {
		ret = sync_expect(c->sync_fd, SYNC_USERNS, NULL, err);
		if (ret == 0)
			ret = rt_ns_write_id_maps(pid, c->spec, err);
		if (ret == 0)
			ret = sync_send(c->sync_fd, SYNC_USERNS_ACK, 0);
	}
	if (ret == 0)
		ret = sync_expect(c->sync_fd, SYNC_PID, &init_pid, err);
	waitpid(pid, NULL, 0);
	if (ret < 0)
		return -1;
	c->pid = init_pid;
	return 0;
}

static int run_runtime_hooks(struct creation *c, const char *id, struct cc_error **err)
{
	const struct rt_hooks *h = &c->spec->hooks;
	if (!h->count[RT_HOOK_PRESTART] && !h->count[RT_HOOK_CREATE_RUNTIME])
		return 0;
	/* "created", as the OCI validation suite checks for prestart (runc 1.1 says
	 * "creating"): the container exists and its init is waiting. */
	_cleanup_free_ char *state = rt_hook_state(c->spec, id, c->bundle, "created", c->pid);
	if (rt_hooks_run(h, RT_HOOK_PRESTART, state, err) < 0)
		return -1;
	return rt_hooks_run(h, RT_HOOK_CREATE_RUNTIME, state, err);
}

/* Hand the init's seccomp notify fd to the agent at listenerPath with the container state. */
static int pass_listener(struct creation *c, const char *id, struct cc_error **err)
{
	const struct rt_seccomp *sc = c->spec->linux.seccomp;
	_cleanup_close_ int fd = rt_terminal_recv_fd(c->sync_fd, err);
	if (fd < 0)
		return -1;
	_cleanup_free_ char *state = rt_hook_state(c->spec, id, c->bundle, "creating", c->pid);
	_cleanup_json_ json_t *st = json_loads(state, 0, NULL);
	_cleanup_json_ json_t *msg =
	    json_pack("{s:s,s:[s],s:I,s:s,s:O}", "ociVersion", RT_OCI_VERSION, "fds", "seccompFd",
		      "pid", (json_int_t)c->pid, "metadata",
		      sc->listener_metadata ? sc->listener_metadata : "", "state", st);
	_cleanup_free_ char *text = cc_json_dump(msg);
	if (rt_seccomp_send_listener(sc->listener_path, fd, text, err) < 0)
		return -1;
	return sync_send(c->sync_fd, SYNC_SECCOMP_DONE, 0);
}

/* Drive the init through setup; returns when it is ready and waiting for start. */
static int handshake(struct creation *c, const char *id, struct cc_error **err)
{
	struct cc_error *cerr = NULL;
	if (c->cgroup && rt_cgroup_enter(c->cgroup, c->pid, err) < 0)
		return -1;
	if (sync_send(c->sync_fd, SYNC_GO, 0) < 0)
		return cc_error_errno(err, "signal container init");
	if (sync_expect(c->sync_fd, SYNC_HOOKS, NULL, &cerr) < 0)
		goto child_failed;
	if (run_runtime_hooks(c, id, err) < 0)
		return -1;
	if (sync_send(c->sync_fd, SYNC_HOOKS_DONE, c->pid) < 0)
		return cc_error_errno(err, "signal container init");
	for (;;) {
		struct sync_msg m;
		if (sync_recv(c->sync_fd, &m, err) < 0)
			return -1;
		if (m.type == SYNC_READY)
			return 0;
		if (m.type == SYNC_SECCOMP) {
			if (pass_listener(c, id, err) < 0)
				return -1;
			continue;
		}
		if (m.type == SYNC_ERROR) {
			cc_error_set(err, 0, "%s", m.err);
			(*err)->errnum = m.value;
			return -1;
		}
		return cc_error_set(err, 0, "container setup: unexpected message %u", m.type);
	}
child_failed:
	*err = cerr;
	return -1;
}

static int write_state(struct creation *c, const struct rt_context *ctx,
		       const struct rt_create_opts *o, struct cc_error **err)
{
	struct passwd *pw = getpwuid(geteuid());
	_cleanup_free_ char *created = rt_now_rfc3339();
	struct rt_state st = {
		.id = (char *)o->id,
		.dir = c->dir,
		.pid = c->pid,
		.start_time = rt_proc_start_time(c->pid),
		.bundle = c->bundle,
		.rootfs = c->rootfs,
		.created = created,
		.owner = pw ? pw->pw_name : (char *)"",
		.oci_version = c->spec->oci_version,
		.systemd_cgroup = ctx->systemd_cgroup,
		.cgroup = c->cgroup ? rt_cgroup_to_json(c->cgroup) : NULL,
		.annotations = json_object_get(c->spec->raw, "annotations"),
		.handler = c->handler ? (char *)c->handler->name : NULL,
		.handler_data =
		    c->handler && c->handler->save ? c->handler->save(c->handler_data) : NULL,
	};
	int ret = rt_state_save(&st, err);
	json_decref(st.cgroup);
	json_decref(st.handler_data);
	if (ret < 0)
		return -1;
	if (o->pid_file) {
		_cleanup_free_ char *text = xasprintf("%d", (int)c->pid);
		if (cc_write_file_atomic(o->pid_file, text, strlen(text), 0644, err) < 0)
			return -1;
	}
	return 0;
}

static int do_create(struct creation *c, const struct rt_context *ctx,
		     const struct rt_create_opts *o, bool foreground, struct cc_error **err)
{
	if (!rt_id_valid(o->id))
		return cc_error_set(err, 0, "invalid container ID format: %s", o->id ? o->id : "");
	if (load_config(c, ctx, o, foreground, err) < 0 || make_state_dir(c, ctx, o->id, err) < 0 ||
	    setup_cgroup(c, ctx, o->id, err) < 0 || setup_console(c, o, foreground, err) < 0 ||
	    spawn_init(c, o, err) < 0 || handshake(c, o->id, err) < 0 ||
	    write_state(c, ctx, o, err) < 0)
		return -1;
	if (c->console_peer >= 0) {
		c->tty_master = rt_terminal_recv_fd(c->console_peer, err);
		if (c->tty_master < 0)
			return -1;
	}
	if (sync_send(c->sync_fd, SYNC_COMMIT, 0) < 0)
		return cc_error_errno(err, "signal container init");
	return 0;
}

#define CREATION_INIT                                                               \
	{                                                                           \
		.sync_fd = -1, .fifo_fd = -1, .console_fd = -1, .console_peer = -1, \
		.tty_master = -1                                                    \
	}

int rt_container_create(const struct rt_context *ctx, const struct rt_create_opts *o,
			struct cc_error **err)
{
	struct creation c = CREATION_INIT;
	int ret = do_create(&c, ctx, o, false, err);
	if (ret < 0)
		creation_rollback(&c);
	creation_free(&c);
	return ret;
}

/* Claim the exec fifo and release the init; returns once the payload is exec'd (the init's
 * close-on-exec fifo descriptor closes, which hangs up our write end) or the init died. */
static int release_init(const char *dir, struct cc_error **err)
{
	_cleanup_free_ char *fifo = cc_path_join(dir, "exec.fifo");
	_cleanup_close_ int fd = open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return cc_error_set(err, 0, "cannot start an already running container");
		if (errno == ENXIO)
			return cc_error_set(err, 0, "cannot start a container that has stopped");
		return cc_error_errno(err, "open %s", fifo);
	}
	/* Whoever unlinks the fifo owns the start; a concurrent `start` gets ENOENT. */
	if (unlink(fifo) < 0)
		return cc_error_set(err, 0, "cannot start an already running container");
	if (write(fd, "0", 1) != 1)
		return cc_error_errno(err, "release container init");
	struct pollfd p = { .fd = fd, .events = 0 };
	while (poll(&p, 1, -1) < 0 && errno == EINTR)
		;
	return 0;
}

static void run_poststart(const struct rt_spec *spec, const char *id, const char *bundle, pid_t pid)
{
	if (!spec->hooks.count[RT_HOOK_POSTSTART])
		return;
	_cleanup_free_ char *state = rt_hook_state(spec, id, bundle, "running", pid);
	rt_hooks_run_warn(&spec->hooks, RT_HOOK_POSTSTART, state);
}

int rt_container_start(const struct rt_context *ctx, const char *id, struct cc_error **err)
{
	struct rt_state *st = rt_state_load(ctx->root, id, err);
	if (!st)
		return -1;
	int ret = -1;
	struct rt_spec *spec = NULL;
	switch (rt_state_status(st)) {
	case RT_CREATED:
		break;
	case RT_STOPPED:
		cc_error_set(err, 0, "cannot start a container that has stopped");
		goto out;
	case RT_PAUSED:
		cc_error_set(err, 0, "cannot start a container in the paused state");
		goto out;
	default:
		cc_error_set(err, 0, "cannot start an already running container");
		goto out;
	}
	spec = rt_state_spec(st, err);
	if (!spec || release_init(st->dir, err) < 0)
		goto out;
	run_poststart(spec, st->id, st->bundle, st->pid);
	ret = 0;
out:
	rt_spec_free(spec);
	rt_state_free(st);
	return ret;
}

int rt_container_run(const struct rt_context *ctx, const struct rt_create_opts *o, int *status,
		     struct cc_error **err)
{
	struct creation c = CREATION_INIT;
	sigset_t all, old;

	/* Hold signals from here: in the foreground they are forwarded to the container. */
	sigfillset(&all);
	if (!o->detach)
		sigprocmask(SIG_BLOCK, &all, &old);
	int ret = do_create(&c, ctx, o, !o->detach, err);
	if (ret == 0)
		ret = release_init(c.dir, err);
	if (ret < 0) {
		creation_rollback(&c);
		creation_free(&c);
		return -1;
	}
	run_poststart(c.spec, o->id, c.bundle, c.pid);
	*status = 0;
	if (!o->detach) {
		ret = rt_wait_foreground(c.pid, c.tty_master, status, err);
		c.pid = 0;
		struct cc_error *derr = NULL;
		if (rt_container_delete(ctx, o->id, true, &derr) < 0) {
			cc_warn("delete %s: %s", o->id, derr->msg);
			cc_error_free(&derr);
		}
		sigprocmask(SIG_SETMASK, &old, NULL);
	}
	creation_free(&c);
	return ret;
}
