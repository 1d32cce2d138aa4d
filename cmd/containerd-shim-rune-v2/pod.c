// SPDX-License-Identifier: Apache-2.0
/*
 * Confidential pods (enclave-cc's flow, docs/shim.md): with a "pod" section in the shim's
 * settings, the pod sandbox's shim starts an enclave-agent of the pod's own when the sandbox is
 * created, and each container of the pod gets its root filesystem from that agent: the shim
 * has the agent pull the container's image (the CRI's image-name annotation) into its store and
 * mounts the agent's view of it as the container's rootfs, in place of the host's snapshot.
 *
 * Each pod's agent is an enclave container run by rune from the agent bundle: its rootfs an
 * overlay of the bundle's (so pods share nothing they write), listening on a unix socket in its
 * own rootfs, which no other pod's containers or agent have in their mount namespace; the pod's
 * directory is root's only. Neither the agent's start nor a pull has a fixed deadline: both are
 * settings (pod.start_timeout_s, pod.pull_timeout_s; 0 = none for pulls).
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/sha.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "shim.h"
#include "ttrpc/ttrpc.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/hex.h"
#include "util/json.h"
#include "util/log.h"
#include "util/strv.h"

#define ANN_TYPE "io.kubernetes.cri.container-type"
#define ANN_SANDBOX "io.kubernetes.cri.sandbox-id"
#define ANN_IMAGE "io.kubernetes.cri.image-name"
/* The agent's socket and images directory, inside its root. */
#define AGENT_SOCKET "run/enclave-agent.sock"

struct pod {
	char *sandbox_id;
	char *dir;	/* <agent_root>/<16 hex of SHA-256(sandbox id)>, root's only */
	char *agent_id; /* the agent's rune container id */
	char *rootfs;	/* the agent's root, as the host sees it */
	char *address;	/* unix:///proc/<shim>/fd/<sock_fd>, once the agent listens */
	int sock_fd;	/* O_PATH: the agent's socket, found inside its root */
	bool overlay;	/* the agent's rootfs overlay is mounted */
	bool started;	/* rune created the agent */
};

/* The annotations of the container's spec that matter here. */
struct pod_spec {
	char *type, *sandbox, *image;
};

static void spec_clear(struct pod_spec *s)
{
	free(s->type);
	free(s->sandbox);
	free(s->image);
}

static int read_spec(const char *bundle, struct pod_spec *s, struct cc_error **err)
{
	_cleanup_free_ char *path = cc_path_join(bundle, "config.json");
	_cleanup_json_ json_t *spec = cc_json_load_file(path, err);
	if (!spec)
		return -1;
	const json_t *ann = json_object_get(spec, "annotations");
	const char *v;
	if ((v = json_string_value(json_object_get(ann, ANN_TYPE))))
		s->type = xstrdup(v);
	if ((v = json_string_value(json_object_get(ann, ANN_SANDBOX))))
		s->sandbox = xstrdup(v);
	if ((v = json_string_value(json_object_get(ann, ANN_IMAGE))))
		s->image = xstrdup(v);
	return 0;
}

/* Run a helper program (agent-ctl), its stdout and stderr captured for the error. */
static int run_tool(const char *const *args, struct cc_error **err)
{
	_cleanup_free_ char *out = NULL;
	struct rune_cmd cmd = { .fds = { -1, -1, -1 }, .out = &out, .merge_stderr = true };
	int status;
	if (shim_run(args, &cmd, &status, err) < 0)
		return -1;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	/* Only the last line: the tool's one-line error. */
	size_t n = out ? strlen(out) : 0;
	while (n && out[n - 1] == '\n')
		out[--n] = '\0';
	const char *last = n ? strrchr(out, '\n') : NULL;
	return cc_error_set(err, 0, "%s: %s", args[0], last ? last + 1 : n ? out : "failed");
}

static char *timeout_arg(int64_t ns)
{
	return ns > 0 ? xasprintf("%llds", (long long)(ns / 1000000000)) : NULL;
}

/* The template's config.json, for this pod: its rootfs, and the agent listening on its own
 * unix socket (whatever address the template had) with the settings' extra arguments. */
static int write_agent_config(const struct shim_runtime *rt, const char *dir, struct cc_error **err)
{
	_cleanup_free_ char *tpath = cc_path_join(rt->agent_bundle, "config.json");
	_cleanup_json_ json_t *spec = cc_json_load_file(tpath, err);
	if (!spec)
		return cc_error_prefix(err, "the agent bundle");
	json_t *args = json_object_get(json_object_get(spec, "process"), "args");
	if (!json_is_array(args) || !json_array_size(args))
		return cc_error_set(err, 0, "%s: no process.args", tpath);
	json_t *out = json_array();
	for (size_t i = 0; i < json_array_size(args); i++) {
		const char *a = json_string_value(json_array_get(args, i));
		if (!a) {
			json_decref(out);
			return cc_error_set(err, 0, "%s: process.args[%zu] is not a string", tpath,
					    i);
		}
		if ((!strcmp(a, "-l") || !strcmp(a, "--listen")) && i + 1 < json_array_size(args)) {
			i++; /* replaced below */
			continue;
		}
		if (!strncmp(a, "--listen=", 9))
			continue;
		json_array_append_new(out, json_string(a));
	}
	json_array_append_new(out, json_string("-l"));
	json_array_append_new(out, json_string("unix:///" AGENT_SOCKET));
	for (char **a = rt->agent_args; a && *a; a++)
		json_array_append_new(out, json_string(*a));
	json_object_set_new(json_object_get(spec, "process"), "args", out);
	json_object_set_new(spec, "root", json_pack("{s:s,s:b}", "path", "rootfs", "readonly", 0));
	_cleanup_free_ char *text = cc_json_dump(spec);
	_cleanup_free_ char *path = cc_path_join(dir, "config.json");
	return cc_write_file_atomic(path, text, strlen(text), 0600, err);
}

/* The agent's socket, found inside its root (a link the agent planted there cannot lead the
 * shim to another socket of the host) and held open: the shim and agent-ctl connect to that
 * inode through /proc/<shim>/fd/N, whatever its path becomes. -1 while it is not there. */
static int agent_socket_open(const struct pod *pod)
{
	_cleanup_close_ int root = open(pod->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return -1;
	int fd = cc_open_in_root(root, AGENT_SOCKET, O_PATH | O_CLOEXEC, 0);
	struct stat st;
	if (fd >= 0 && (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode))) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static bool agent_answers(int sock_fd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d", sock_fd);
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	return fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
}

static char *log_tail(const char *path)
{
	size_t len;
	struct cc_error *e = NULL;
	_cleanup_free_ char *text = cc_read_file(path, 1 << 20, &len, &e);
	cc_error_free(&e);
	if (!text || !len)
		return xstrdup("(no output)");
	while (len && text[len - 1] == '\n')
		text[--len] = '\0';
	char *last = strrchr(text, '\n');
	return xstrdup(last ? last + 1 : text);
}

/* Create and start the agent container; wait until its socket answers. */
static int start_agent(struct container *c, struct pod *pod, struct tt_call *call,
		       struct cc_error **err)
{
	const struct shim_runtime *rt = &c->rt;
	_cleanup_free_ char *agent_dir = cc_path_join(pod->dir, "agent");
	_cleanup_free_ char *upper = cc_path_join(agent_dir, "upper");
	_cleanup_free_ char *work = cc_path_join(agent_dir, "work");
	_cleanup_free_ char *lower = cc_path_join(rt->agent_bundle, "rootfs");
	if (cc_mkdir_p(upper, 0700, err) < 0 || cc_mkdir_p(work, 0700, err) < 0 ||
	    cc_mkdir_p(pod->rootfs, 0700, err) < 0)
		return -1;
	_cleanup_free_ char *opts =
	    xasprintf("lowerdir=%s,upperdir=%s,workdir=%s,index=off", lower, upper, work);
	if (mount("overlay", pod->rootfs, "overlay", 0, opts) < 0)
		return cc_error_set(err, errno, "mount the agent's rootfs (over %s)", lower);
	pod->overlay = true;
	if (write_agent_config(rt, agent_dir, err) < 0)
		return -1;

	_cleanup_free_ char *log = cc_path_join(agent_dir, "agent.log");
	_cleanup_close_ int logfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (logfd < 0)
		return cc_error_set(err, errno, "open %s", log);
	_cleanup_free_ char *pidfile = cc_path_join(agent_dir, "agent.pid");
	const char *create[] = { "create", "--bundle",	  agent_dir, "--pid-file",
				 pidfile,  pod->agent_id, NULL };
	struct rune_cmd cmd = { .fds = { -1, logfd, logfd } };
	if (shim_rune_at(rt, agent_dir, create, &cmd, err) < 0)
		return cc_error_prefix(err, "pod %s: the agent", pod->sandbox_id);
	pod->started = true;
	const char *start[] = { "start", pod->agent_id, NULL };
	struct rune_cmd none = { .fds = { -1, -1, -1 } };
	pid_t pid = 0;
	if (shim_rune_at(rt, agent_dir, start, &none, err) < 0 ||
	    shim_read_pid(pidfile, &pid, err) < 0)
		return cc_error_prefix(err, "pod %s: the agent", pod->sandbox_id);

	struct timespec begin = shim_now();
	for (;;) {
		if (pod->sock_fd < 0)
			pod->sock_fd = agent_socket_open(pod);
		if (pod->sock_fd >= 0 && agent_answers(pod->sock_fd)) {
			pod->address =
			    xasprintf("unix:///proc/%d/fd/%d", (int)getpid(), pod->sock_fd);
			return 0;
		}
		char proc[32];
		snprintf(proc, sizeof(proc), "/proc/%d/stat", (int)pid);
		struct timespec now = shim_now();
		int64_t waited = (int64_t)(now.tv_sec - begin.tv_sec) * 1000000000 +
				 (now.tv_nsec - begin.tv_nsec);
		if (access(proc, F_OK) < 0 || kill(pid, 0) < 0) {
			_cleanup_free_ char *last = log_tail(log);
			return cc_error_set(err, 0, "pod %s: the agent exited: %s", pod->sandbox_id,
					    last);
		}
		if (call && tt_call_cancelled(call))
			return cc_error_set(err, ECANCELED,
					    "pod %s: containerd gave up on the create",
					    pod->sandbox_id);
		if (waited > rt->agent_start_timeout_ns) {
			_cleanup_free_ char *last = log_tail(log);
			return cc_error_set(
			    err, ETIMEDOUT, "pod %s: the agent did not listen within %llds: %s",
			    pod->sandbox_id, (long long)(rt->agent_start_timeout_ns / 1000000000),
			    last);
		}
		struct timespec tick = { 0, 20000000 };
		nanosleep(&tick, NULL);
	}
}

static void stop_agent(const struct shim_runtime *rt, struct pod *pod)
{
	struct cc_error *e = NULL;
	_cleanup_free_ char *agent_dir = cc_path_join(pod->dir, "agent");
	if (pod->started) {
		const char *del[] = { "delete", "--force", pod->agent_id, NULL };
		struct rune_cmd none = { .fds = { -1, -1, -1 } };
		if (shim_rune_at(rt, agent_dir, del, &none, &e) < 0) {
			cc_log(CC_LOG_WARNING, "pod %s: delete the agent: %s", pod->sandbox_id,
			       e->msg);
			cc_error_free(&e);
		}
	}
	/* Views the agent served that an app container still had (a crash) go first. */
	for (int i = 0; pod->overlay && i < 8; i++) {
		if (umount2(pod->rootfs, MNT_DETACH) == 0)
			continue;
		if (errno != EINVAL)
			cc_log(CC_LOG_WARNING, "pod %s: unmount the agent's rootfs: %s",
			       pod->sandbox_id, strerror(errno));
		break;
	}
	if (cc_rm_rf(pod->dir, &e) < 0) {
		cc_log(CC_LOG_WARNING, "pod %s: %s", pod->sandbox_id, e->msg);
		cc_error_free(&e);
	}
}

static void pod_free(struct pod *pod)
{
	if (!pod)
		return;
	free(pod->sandbox_id);
	free(pod->dir);
	free(pod->agent_id);
	free(pod->rootfs);
	free(pod->address);
	if (pod->sock_fd >= 0)
		close(pod->sock_fd);
	free(pod);
}

static int sandbox_prepare(struct container *c, struct tt_call *call, struct cc_error **err)
{
	struct pod *pod = xzalloc(sizeof(*pod));
	pod->sandbox_id = xstrdup(c->id);
	/* The pod's directory is named by 16 hex digits of the sandbox id's SHA-256, not the id
	 * itself (up to 76 characters): the agent's socket path must fit a sockaddr_un. */
	unsigned char md[SHA256_DIGEST_LENGTH];
	char hex[2 * SHA256_DIGEST_LENGTH + 1];
	SHA256((const unsigned char *)c->id, strlen(c->id), md);
	cc_hex_encode(md, sizeof(md), hex);
	pod->dir = xasprintf("%s/%.16s", c->rt.agent_root, hex);
	pod->agent_id = xasprintf("agent-%s", c->id);
	pod->rootfs = xasprintf("%s/agent/rootfs", pod->dir);
	pod->sock_fd = -1;
	if (cc_mkdir_p(c->rt.agent_root, 0700, err) < 0 || mkdir(pod->dir, 0700) < 0) {
		if (!*err)
			cc_error_set(err, errno, "create %s", pod->dir);
		pod_free(pod);
		return -1;
	}
	if (start_agent(c, pod, call, err) < 0) {
		stop_agent(&c->rt, pod);
		pod_free(pod);
		return -1;
	}
	cc_log(CC_LOG_INFO, "pod %s: agent %s listens on %s", pod->sandbox_id, pod->agent_id,
	       pod->address);
	c->pod = pod;
	c->pod_owner = true;
	return 0;
}

/* The container's root is BUNDLE/rootfs, where its view is: a spec that named another
 * directory (ctr run --rootfs) is pointed there. */
static int use_bundle_rootfs(const char *bundle, struct cc_error **err)
{
	_cleanup_free_ char *path = cc_path_join(bundle, "config.json");
	_cleanup_json_ json_t *spec = cc_json_load_file(path, err);
	if (!spec)
		return -1;
	json_t *root = json_object_get(spec, "root");
	const char *rpath = json_string_value(json_object_get(root, "path"));
	if (rpath && !strcmp(rpath, "rootfs"))
		return 0;
	if (!json_is_object(root)) {
		root = json_object();
		json_object_set_new(spec, "root", root);
	}
	json_object_set_new(root, "path", json_string("rootfs"));
	_cleanup_free_ char *text = cc_json_dump(spec);
	return cc_write_file_atomic(path, text, strlen(text), 0600, err);
}

/* An app container: its image through the pod's agent, mounted as its rootfs. */
static int app_prepare(struct container *c, const struct pod_spec *s, struct cc_error **err)
{
	if (!s->image || !*s->image)
		return cc_error_set(err, 0,
				    "container %s: no %s annotation: its pod's agent cannot "
				    "pull its image",
				    c->id, ANN_IMAGE);
	struct pod *pod = NULL;
	pthread_mutex_lock(&g_shim.lock);
	for (struct container *o = g_shim.containers; o && !pod; o = o->next)
		if (o->ready && o->pod_owner && !strcmp(o->id, s->sandbox))
			pod = o->pod;
	pthread_mutex_unlock(&g_shim.lock);
	if (!pod)
		return cc_error_set(err, 0, "container %s: its pod sandbox %s has no agent here",
				    c->id, s->sandbox);
	_cleanup_free_ char *timeout = timeout_arg(c->rt.agent_pull_timeout_ns);
	const char *pull[16];
	size_t n = 0;
	pull[n++] = c->rt.agent_ctl, pull[n++] = "-c", pull[n++] = pod->address;
	pull[n++] = "-i", pull[n++] = s->image, pull[n++] = "--cid", pull[n++] = c->id;
	if (timeout)
		pull[n++] = "--timeout", pull[n++] = timeout;
	pull[n++] = "pull";
	pull[n] = NULL;
	if (run_tool(pull, err) < 0)
		return cc_error_prefix(err, "container %s: pull %s through the pod's agent", c->id,
				       s->image);
	_cleanup_free_ char *view = xasprintf("%s/containers/%s", pod->dir, c->id);
	if (cc_mkdir_p(view, 0700, err) < 0)
		return -1;
	const char *mnt[] = { c->rt.agent_ctl, "-c",	    pod->address,
			      "--agent-root",  pod->rootfs, "mount",
			      c->id,	       view,	    NULL };
	if (run_tool(mnt, err) < 0)
		return cc_error_prefix(err, "container %s: mount its image", c->id);
	c->pod = pod;
	_cleanup_free_ char *src = cc_path_join(view, "rootfs");
	_cleanup_free_ char *dst = cc_path_join(c->bundle, "rootfs");
	if ((mkdir(dst, 0711) < 0 && errno != EEXIST) ||
	    mount(src, dst, NULL, MS_BIND | MS_REC, NULL) < 0)
		return cc_error_set(err, errno, "container %s: mount its image on %s", c->id, dst);
	c->rootfs_mounted = true;
	return use_bundle_rootfs(c->bundle, err);
}

int pod_prepare(struct container *c, struct tt_call *call, bool *rootfs_done, struct cc_error **err)
{
	*rootfs_done = false;
	if (!c->rt.agent_bundle)
		return 0;
	struct pod_spec s = { 0 };
	int r = read_spec(c->bundle, &s, err);
	if (r == 0 && s.type && !strcmp(s.type, "sandbox")) {
		r = sandbox_prepare(c, call, err);
	} else if (r == 0 && s.type && !strcmp(s.type, "container") && s.sandbox) {
		r = app_prepare(c, &s, err);
		*rootfs_done = r == 0;
		if (r < 0)
			pod_release(c);
	} else if (r == 0) {
		r = cc_error_set(err, 0,
				 "container %s: a confidential pod's container needs the "
				 "CRI's %s and %s annotations",
				 c->id, ANN_TYPE, ANN_SANDBOX);
	}
	spec_clear(&s);
	return r;
}

void pod_release(struct container *c)
{
	struct pod *pod = c->pod;
	if (!pod)
		return;
	struct cc_error *e = NULL;
	if (c->pod_owner) {
		/* Containers of the pod still here (the sandbox went first) lose their view. */
		pthread_mutex_lock(&g_shim.lock);
		for (struct container *o = g_shim.containers; o; o = o->next)
			if (o != c && o->pod == pod) {
				if (o->rootfs_mounted && shim_unmount_rootfs(o->bundle, &e) < 0)
					cc_error_free(&e);
				o->rootfs_mounted = false;
				o->pod = NULL;
			}
		pthread_mutex_unlock(&g_shim.lock);
		stop_agent(&c->rt, pod);
		pod_free(pod);
	} else {
		_cleanup_free_ char *view = xasprintf("%s/containers/%s", pod->dir, c->id);
		if (c->rootfs_mounted && shim_unmount_rootfs(c->bundle, &e) < 0) {
			cc_log(CC_LOG_WARNING, "container %s: %s", c->id, e->msg);
			cc_error_free(&e);
		}
		c->rootfs_mounted = false;
		const char *umnt[] = { c->rt.agent_ctl, "-c",	  pod->address, "--agent-root",
				       pod->rootfs,	"umount", view,		NULL };
		const char *rm[] = { c->rt.agent_ctl, "-c", pod->address, "remove", c->id, NULL };
		if (cc_path_exists(view) && (run_tool(umnt, &e) < 0 || run_tool(rm, &e) < 0)) {
			cc_log(CC_LOG_WARNING, "container %s: %s", c->id, e->msg);
			cc_error_free(&e);
		}
		rmdir(view);
	}
	c->pod = NULL;
	c->pod_owner = false;
}

/* upstream's container id for an image pulled ahead of its container: the last path segment of
 * the reference, ':' and '@' turned into '_' (docker.io/library/busybox:latest -> busybox_latest).
 */
static char *image_cid(const char *image)
{
	const char *slash = strrchr(image, '/');
	char *cid = xstrdup(slash ? slash + 1 : image);
	for (char *p = cid; *p; p++)
		if (*p == ':' || *p == '@')
			*p = '_';
	return cid;
}

int pod_pull(const struct container *sandbox, const char *image, struct cc_error **err)
{
	const struct shim_runtime *rt = &sandbox->rt;
	_cleanup_free_ char *cid = image_cid(image);
	if (!shim_id_valid(cid))
		return cc_error_set(err, 0, "pull %s: no container id can be made of it", image);
	_cleanup_free_ char *timeout = timeout_arg(rt->agent_pull_timeout_ns);
	const char *pull[16];
	size_t n = 0;
	pull[n++] = rt->agent_ctl, pull[n++] = "-c", pull[n++] = sandbox->pod->address;
	pull[n++] = "-i", pull[n++] = image, pull[n++] = "--cid", pull[n++] = cid;
	if (timeout)
		pull[n++] = "--timeout", pull[n++] = timeout;
	pull[n++] = "pull";
	pull[n] = NULL;
	return run_tool(pull, err);
}
