// SPDX-License-Identifier: Apache-2.0
/*
 * containerd-shim-rune-v2 — the runtime v2 shim containerd starts for `io.containerd.rune.v2`.
 *
 *   containerd-shim-rune-v2 -namespace NS -address ADDR -publish-binary BIN -id ID [-debug] start
 *   containerd-shim-rune-v2 -namespace NS -address ADDR -publish-binary BIN -id ID
 *                           -bundle DIR delete
 *
 * `start` (run in the bundle directory) prints the address of the shim that serves the
 * container: a new daemon's, or the running one of the container's group (its pod sandbox).
 * `delete` cleans up after a shim that died and prints a containerd.task.v2.DeleteResponse.
 * Without an action the program is that daemon, serving on descriptor 3 (docs/shim.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/sha.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include "config.h"
#include "ctd-shim.pb-c.h"
#include "shim.h"
#include "ttrpc/ttrpc.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/hex.h"
#include "util/json.h"
#include "util/log.h"

struct shim g_shim = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.cmd_cond = PTHREAD_COND_INITIALIZER,
	.shutdown_cond = PTHREAD_COND_INITIALIZER,
};

/* Where the shims' sockets live, as containerd's own shims keep them. */
#define SOCKET_DIR "/run/containerd/s"
/* Spec annotations that put containers in one shim: ours, then the CRI's pod sandbox. */
static const char *const group_labels[] = { "io.containerd.rune.v2.group",
					    "io.kubernetes.cri.sandbox-id" };

struct flags {
	const char *ns, *id, *address, *publish_binary, *bundle, *socket, *action;
	bool debug, version;
};

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: %s -namespace NS -address ADDR -publish-binary BIN -id ID "
		"[-bundle DIR] [-debug] [start|delete]\n\n"
		"containerd's runtime v2 shim for rune (runtime type io.containerd.rune.v2);\n"
		"containerd runs it, see docs/shim.md.\n",
		SHIM_NAME);
}

/* Go's flag syntax, as containerd passes it: -name value, --name value, -name=value. */
static int parse_flags(int argc, char **argv, struct flags *f)
{
	static const struct {
		const char *name;
		size_t off;
	} strs[] = {
		{ "namespace", offsetof(struct flags, ns) },
		{ "id", offsetof(struct flags, id) },
		{ "address", offsetof(struct flags, address) },
		{ "publish-binary", offsetof(struct flags, publish_binary) },
		{ "bundle", offsetof(struct flags, bundle) },
		{ "socket", offsetof(struct flags, socket) },
	};
	int i = 1;
	for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
		const char *name = argv[i] + (argv[i][1] == '-' ? 2 : 1);
		const char *eq = strchr(name, '=');
		size_t len = eq ? (size_t)(eq - name) : strlen(name);
		if (len == 5 && !strncmp(name, "debug", 5)) {
			f->debug = !eq || !strcmp(eq + 1, "true");
			continue;
		}
		if ((len == 1 && name[0] == 'v') || (len == 7 && !strncmp(name, "version", 7))) {
			f->version = true;
			continue;
		}
		if ((len == 1 && name[0] == 'h') || (len == 4 && !strncmp(name, "help", 4))) {
			usage(stdout);
			exit(0);
		}
		size_t k = 0;
		while (k < sizeof(strs) / sizeof(*strs) &&
		       (strlen(strs[k].name) != len || strncmp(strs[k].name, name, len)))
			k++;
		if (k == sizeof(strs) / sizeof(*strs)) {
			fprintf(stderr, "%s: unknown flag -%.*s\n", SHIM_NAME, (int)len, name);
			return -1;
		}
		const char *value = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
		if (!value) {
			fprintf(stderr, "%s: flag -%s needs a value\n", SHIM_NAME, strs[k].name);
			return -1;
		}
		*(const char **)((char *)f + strs[k].off) = value;
	}
	f->action = i < argc ? argv[i] : NULL;
	if (i + 1 < argc) {
		fprintf(stderr, "%s: unexpected argument \"%s\"\n", SHIM_NAME, argv[i + 1]);
		return -1;
	}
	return 0;
}

/* unix:///run/containerd/s/<sha256 of address/ns/group>, as containerd's shims name theirs. */
static char *socket_address(const struct flags *f, const char *group)
{
	_cleanup_free_ char *key =
	    xasprintf("%s/%s/%s", f->address ? f->address : "", f->ns, group);
	unsigned char md[SHA256_DIGEST_LENGTH];
	char hex[2 * SHA256_DIGEST_LENGTH + 1];
	SHA256((const unsigned char *)key, strlen(key), md);
	cc_hex_encode(md, sizeof(md), hex);
	return xasprintf("unix://%s/%s", SOCKET_DIR, hex);
}

/* The group this container's shim serves: a group annotation of its config.json, or itself. */
static char *group_of(const char *id, struct cc_error **err)
{
	_cleanup_json_ json_t *spec = cc_json_load_file("config.json", err);
	if (!spec)
		return NULL;
	const json_t *ann = json_object_get(spec, "annotations");
	for (size_t i = 0; i < sizeof(group_labels) / sizeof(*group_labels); i++) {
		const char *g = json_string_value(json_object_get(ann, group_labels[i]));
		if (g && shim_id_valid(g))
			return xstrdup(g);
	}
	return xstrdup(id);
}

static int connect_unix(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path))
		return -1;
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int listen_unix(const char *path, struct cc_error **err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path))
		return cc_error_set(err, ENAMETOOLONG, "socket %s", path);
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0)
		return cc_error_set(err, errno, "socket %s", path);
	/* root's only from the start: no moment when another user could connect */
	mode_t old = umask(0177);
	int r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0 || chmod(path, 0600) < 0 || listen(fd, 128) < 0) {
		int e = errno;
		close(fd);
		if (e != EADDRINUSE)
			unlink(path);
		errno = e;
		return cc_error_set(err, e, "listen on %s", path);
	}
	return fd;
}

/* Write a file as containerd's shims do: whole, then renamed into place. */
static int write_small(const char *name, const char *text, struct cc_error **err)
{
	return cc_write_file_atomic(name, text, strlen(text), 0600, err);
}

/* The start action: reuse the group's running shim, or start a daemon and print its address. */
static int do_start(const struct flags *f, char **argv, struct cc_error **err)
{
	_cleanup_free_ char *group = group_of(f->id, err);
	if (!group)
		return -1;
	_cleanup_free_ char *address = socket_address(f, group);
	const char *path = address + strlen("unix://");

	if (cc_mkdir_p(SOCKET_DIR, 0711, err) < 0)
		return -1;
	int lfd = listen_unix(path, err);
	if (lfd < 0 && errno == EADDRINUSE) {
		int c = connect_unix(path);
		if (c >= 0) { /* the group's shim serves this container too */
			close(c);
			cc_error_free(err);
			if (write_small("address", address, err) < 0)
				return -1;
			fputs(address, stdout);
			return 0;
		}
		unlink(path); /* left by a shim that died */
		cc_error_free(err);
		lfd = listen_unix(path, err);
	}
	if (lfd < 0)
		return -1;
	if (write_small("address", address, err) < 0)
		goto fail;

	/* containerd sends the runtime options on stdin; the daemon gets them per container
	 * with Create, so they are read away here. */
	char buf[4096];
	while (read(STDIN_FILENO, buf, sizeof(buf)) > 0)
		;

	/* The daemon is this program again, by its own path (so that ps names it). */
	char self[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (len <= 0) {
		cc_error_set(err, errno, "readlink /proc/self/exe");
		goto fail;
	}
	self[len] = '\0';
	pid_t pid = fork();
	if (pid < 0) {
		cc_error_set(err, errno, "fork the shim daemon");
		goto fail;
	}
	if (pid == 0) {
		setsid();
		int null = open("/dev/null", O_RDWR);
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		if (lfd != 3) {
			dup2(lfd, 3);
			close(lfd);
		}
		const char *args[16];
		size_t n = 0;
		args[n++] = argv[0];
		args[n++] = "-namespace", args[n++] = f->ns;
		args[n++] = "-id", args[n++] = f->id;
		args[n++] = "-address", args[n++] = f->address ? f->address : "";
		args[n++] = "-publish-binary";
		args[n++] = f->publish_binary ? f->publish_binary : "containerd";
		args[n++] = "-socket", args[n++] = path;
		if (f->debug)
			args[n++] = "-debug";
		args[n] = NULL;
		execv(self, (char *const *)args);
		_exit(127);
	}
	close(lfd);
	fputs(address, stdout);
	return 0;
fail:
	close(lfd);
	unlink(path);
	return -1;
}

/* The delete action: containerd lost the shim; remove what rune and the shim left. */
static int do_delete(const struct flags *f, struct cc_error **err)
{
	_cleanup_free_ char *cwd = getcwd(NULL, 0);
	const char *bundle = f->bundle ? f->bundle : cwd;
	if (!bundle)
		return cc_error_set(err, errno, "getcwd");
	struct shim_runtime rt = { 0 };
	struct cc_error *e = NULL;
	shim_block_sigchld();
	if (shim_reaper_start(err) < 0)
		return -1;
	if (shim_runtime_restore(&rt, bundle, &e) < 0) {
		cc_log(CC_LOG_WARNING, "delete %s: %s; rune's defaults used", f->id, e->msg);
		cc_error_free(&e);
		if (shim_runtime_load(&rt, f->ns, NULL, NULL, 0, err) < 0)
			return -1;
	}
	const char *argv[] = { "delete", "--force", f->id, NULL };
	struct rune_cmd cmd = { .fds = { -1, -1, -1 } };
	if (shim_rune_at(&rt, bundle, argv, &cmd, &e) < 0) {
		cc_log(CC_LOG_WARNING, "delete %s: %s", f->id, e->msg);
		cc_error_free(&e);
	}
	if (shim_unmount_rootfs(bundle, &e) < 0) {
		cc_log(CC_LOG_WARNING, "delete %s: %s", f->id, e->msg);
		cc_error_free(&e);
	}
	shim_runtime_clear(&rt);

	pid_t pid = 0;
	_cleanup_free_ char *pidfile = cc_path_join(bundle, "init.pid");
	if (shim_read_pid(pidfile, &pid, &e) < 0)
		cc_error_free(&e);
	Containerd__Task__V2__DeleteResponse resp = CONTAINERD__TASK__V2__DELETE_RESPONSE__INIT;
	resp.pid = (uint32_t)pid;
	resp.exit_status = 128 + SIGKILL;
	resp.exited_at = shim_timestamp(shim_now());
	size_t len = protobuf_c_message_get_packed_size(&resp.base);
	_cleanup_free_ uint8_t *buf = xmalloc(len ? len : 1);
	protobuf_c_message_pack(&resp.base, buf);
	free(resp.exited_at);
	if (cc_write_all(STDOUT_FILENO, buf, len) < 0)
		return cc_error_set(err, errno, "write the delete response");
	return 0;
}

/* containerd reads the shim's log from the FIFO "log" in the bundle directory. */
static void open_log(bool debug)
{
	int fd = open("log", O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd >= 0) {
		int fl = fcntl(fd, F_GETFL);
		fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
		dup2(fd, STDERR_FILENO);
		close(fd);
	}
	cc_log_init(NULL, CC_LOG_TEXT, debug ? CC_LOG_DEBUG : CC_LOG_INFO);
}

static volatile sig_atomic_t terminated;

/* SIGTERM/SIGINT stop the daemon; its containers stay, for containerd's delete action. */
static void on_term(int sig)
{
	(void)sig;
	terminated = 1;
}

static int serve(const struct flags *f, struct cc_error **err)
{
	open_log(f->debug);
	shim_block_sigchld();
	signal(SIGPIPE, SIG_IGN);
	struct sigaction sa = { .sa_handler = on_term };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		return cc_error_set(err, errno, "become the containers' subreaper");

	g_shim.ns = f->ns;
	g_shim.id = f->id;
	g_shim.containerd_address = f->address;
	g_shim.ttrpc_address = getenv("TTRPC_ADDRESS");
	g_shim.publish_binary = f->publish_binary;
	g_shim.debug = f->debug;

	struct tt_server_config cfg = { .workers = 4 };
	struct tt_server *s = tt_server_new(&cfg, err);
	if (!s)
		return -1;
	int ret = -1;
	if (tt_server_listen_fd(s, 3, f->socket, err) < 0 || service_register(s, err) < 0 ||
	    shim_reaper_start(err) < 0 || events_start(err) < 0 || tt_server_start(s, err) < 0)
		goto out;
	cc_log(CC_LOG_INFO, "serving %s (namespace %s, pid %d)", f->id, f->ns, (int)getpid());

	pthread_mutex_lock(&g_shim.lock);
	while (!g_shim.shutdown && !terminated) {
		struct timespec t;
		clock_gettime(CLOCK_REALTIME, &t);
		t.tv_sec += 1; /* a signal sets the flag without a wakeup */
		pthread_cond_timedwait(&g_shim.shutdown_cond, &g_shim.lock, &t);
	}
	pthread_mutex_unlock(&g_shim.lock);
	ret = 0;
	struct cc_error *e = NULL;
	if (tt_server_shutdown(s, 2000000000, &e) < 0)
		cc_error_free(&e);
	events_stop();
out:
	tt_server_free(s);
	return ret;
}

int main(int argc, char **argv)
{
	struct flags f = { 0 };
	struct cc_error *err = NULL;
	if (parse_flags(argc, argv, &f) < 0) {
		usage(stderr);
		return 2;
	}
	if (f.version) {
		printf("%s:\n  Version: %s\n", argv[0], RUNE_VERSION);
		return 0;
	}
	if (!f.ns || !*f.ns) {
		fprintf(stderr, "%s: shim namespace cannot be empty\n", SHIM_NAME);
		return 1;
	}
	if (!f.id || !shim_id_valid(f.id)) {
		fprintf(stderr, "%s: -id: \"%s\" is not a valid container id\n", SHIM_NAME,
			f.id ? f.id : "");
		return 1;
	}
	int r;
	if (!f.action) {
		if (!f.socket) {
			fprintf(stderr, "%s: the daemon needs -socket\n", SHIM_NAME);
			return 1;
		}
		r = serve(&f, &err);
	} else if (!strcmp(f.action, "start")) {
		r = do_start(&f, argv, &err);
	} else if (!strcmp(f.action, "delete")) {
		r = do_delete(&f, &err);
	} else {
		fprintf(stderr, "%s: unknown action \"%s\"\n", SHIM_NAME, f.action);
		return 1;
	}
	if (r < 0) {
		fprintf(stderr, "%s: %s\n", SHIM_NAME, err ? err->msg : "failed");
		cc_error_free(&err);
		return 1;
	}
	return 0;
}
