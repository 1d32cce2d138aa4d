// SPDX-License-Identifier: Apache-2.0
/*
 * rune's side of agent.sock. `rune exec` into an enclave container forks a proxy that stands
 * for the enclave process: it hands the request and its stdio to the init, relays the signals
 * it receives, and exits with the process's status. Its pid is what --pid-file and a
 * foreground wait see, so containerd and friends manage it like any exec'd process; killing
 * it with SIGKILL (which cannot be relayed) makes the init kill the enclave process.
 */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include "enclave/client.h"
#include "enclave/enclave.h"
#include "enclave/msg.h"
#include "enclave/pal_api.h"
#include "runtime/container.h"
#include "runtime/sync.h"
#include "runtime/terminal.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/log.h"
#include "util/strv.h"

int enc_connect(const char *dir, struct cc_error **err)
{
	_cleanup_close_ int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (dfd < 0)
		return cc_error_errno(err, "open %s", dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/agent.sock", dfd);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return cc_error_errno(err, "socket");
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		cc_error_errno(err, "connect to the enclave init (%s/agent.sock)", dir);
		close(fd);
		return -1;
	}
	return fd;
}

/* Wait for one reply. A reply of another op than `want` is an error. */
static json_t *expect_reply(int conn, const char *want, struct cc_error **err)
{
	json_t *msg = enc_msg_expect(conn, NULL, want, err);
	if (!msg && (*err)->code != ENC_MSG_PEER_ERROR)
		cc_error_prefix(err, "enclave init");
	return msg;
}

static int send_exec(int conn, const struct rt_process *p, const int stdio[3],
		     struct cc_error **err)
{
	_cleanup_json_ json_t *req = json_pack("{s:s,s:[],s:[]}", "op", "exec", "argv", "env");
	json_t *argv = json_object_get(req, "argv"), *env = json_object_get(req, "env");
	for (size_t i = 0; p->args[i]; i++)
		json_array_append_new(argv, json_string(p->args[i]));
	for (size_t i = 0; p->env && p->env[i]; i++)
		json_array_append_new(env, json_string(p->env[i]));
	return enc_msg_send(conn, req, stdio, 3, err);
}

/* The proxy's life after the process started: relay signals until the exit arrives. */
static __attribute__((noreturn)) void relay(int conn)
{
	struct cc_error *err = NULL;
	sigset_t all;
	sigfillset(&all);
	sigdelset(&all, SIGCHLD);
	sigprocmask(SIG_BLOCK, &all, NULL);
	int sfd = signalfd(-1, &all, SFD_CLOEXEC);
	for (;;) {
		struct pollfd p[2] = { { conn, POLLIN, 0 }, { sfd, POLLIN, 0 } };
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		struct signalfd_siginfo si;
		if ((p[1].revents & POLLIN) && read(sfd, &si, sizeof(si)) == sizeof(si)) {
			_cleanup_json_ json_t *k = enc_msg_int("kill", "signal", (int)si.ssi_signo);
			if (enc_msg_send(conn, k, NULL, 0, &err) < 0)
				break;
		}
		if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		_cleanup_json_ json_t *msg = expect_reply(conn, "exit", &err);
		if (!msg)
			break;
		json_int_t status = json_integer_value(json_object_get(msg, "status"));
		_exit((int)(status & 0xff));
	}
	/* rune exec has returned (detached) or waits for us: our own words are the last. */
	const char *msg = err ? err->msg : "relay failed";
	if (!cc_log_to_stderr())
		cc_log(CC_LOG_ERROR, "exec: %s", msg);
	dprintf(2, "rune exec: %s\n", msg);
	_exit(255);
}

/* The proxy: connect, set up the terminal if asked for, send the request, report the start. */
/*
 * The container's pty multiplexer, as /proc/self/fd/N: a terminal for an exec'd process must come
 * from the container's devpts, or its name (/dev/pts/N) means nothing inside. The container's
 * files are its own to arrange, so the path is resolved inside its root and the result must be
 * the ptmx device itself before anything opens it for real.
 */
static char *container_ptmx(pid_t init_pid, int *keep, struct cc_error **err)
{
	_cleanup_free_ char *rootpath = xasprintf("/proc/%d/root", (int)init_pid);
	_cleanup_close_ int root = open(rootpath, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0) {
		cc_error_errno(err, "open %s", rootpath);
		return NULL;
	}
	struct stat st;
	int fd = cc_open_in_root(root, "/dev/pts/ptmx", O_PATH | O_CLOEXEC, 0);
	if (fd < 0)
		fd = cc_open_in_root(root, "/dev/ptmx", O_PATH | O_CLOEXEC, 0);
	if (fd < 0) {
		cc_error_errno(err, "the container has no /dev/pts/ptmx or /dev/ptmx");
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISCHR(st.st_mode) || major(st.st_rdev) != 5 ||
	    minor(st.st_rdev) != 2) {
		close(fd);
		cc_error_set(err, 0, "the container's /dev/pts/ptmx is not the pty multiplexer");
		return NULL;
	}
	*keep = fd;
	return xasprintf("/proc/self/fd/%d", fd);
}

static __attribute__((noreturn)) void
proxy_main(const char *dir, pid_t init_pid, const struct rt_process *p, int console_fd, int sync_fd)
{
	struct cc_error *err = NULL;
	int stdio[3] = { 0, 1, 2 };
	int conn = enc_connect(dir, &err);
	if (conn < 0)
		sync_fail(sync_fd, err);
	if (p->terminal && console_fd >= 0) {
		int master, slave, ptmx_fd = -1;
		_cleanup_free_ char *ptmx = container_ptmx(init_pid, &ptmx_fd, &err);
		if (!ptmx ||
		    rt_terminal_open(ptmx, p->console_height, p->console_width, &master, &slave,
				     &err) < 0 ||
		    rt_terminal_send_fd(console_fd, master, "/dev/ptmx", &err) < 0)
			sync_fail(sync_fd, err);
		close(master);
		close(ptmx_fd);
		close(console_fd);
		stdio[0] = stdio[1] = stdio[2] = slave;
	}
	if (send_exec(conn, p, stdio, &err) < 0)
		sync_fail(sync_fd, err);
	if (stdio[0] > 2)
		close(stdio[0]);
	_cleanup_json_ json_t *started = expect_reply(conn, "started", &err);
	if (!started)
		sync_fail(sync_fd, err);
	if (sync_send(sync_fd, SYNC_PID, (int32_t)getpid()) < 0)
		_exit(255); /* rune exec is gone: nobody waits for this process */
	close(sync_fd);
	relay(conn);
}

pid_t enc_exec_spawn(const char *dir, pid_t init_pid, const struct rt_process *p, int console_fd,
		     struct cc_error **err)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return cc_error_errno(err, "socketpair");
	pid_t pid = fork();
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		return cc_error_errno(err, "fork");
	}
	if (pid == 0) {
		close(sv[0]);
		prctl(PR_SET_NAME, "rune-exec");
		proxy_main(dir, init_pid, p, console_fd, sv[1]);
	}
	close(sv[1]);
	int ret = sync_expect(sv[0], SYNC_PID, NULL, err);
	close(sv[0]);
	if (ret < 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return -1;
	}
	return pid;
}

int enc_attest_dir(const char *dir, const uint8_t report_data[64],
		   const uint8_t target_info[PAL_TARGETINFO_SIZE], uint8_t report[PAL_REPORT_SIZE],
		   struct cc_error **err)
{
	_cleanup_close_ int conn = enc_connect(dir, err);
	if (conn < 0)
		return -1;
	_cleanup_json_ json_t *req = json_pack("{s:s}", "op", "attest");
	enc_msg_set_hex(req, "report_data", report_data, 64);
	if (target_info)
		enc_msg_set_hex(req, "target_info", target_info, PAL_TARGETINFO_SIZE);
	if (enc_msg_send(conn, req, NULL, 0, err) < 0)
		return -1;
	_cleanup_json_ json_t *reply = expect_reply(conn, "report", err);
	if (!reply)
		return -1;
	return enc_msg_hex_field(reply, "report", report, PAL_REPORT_SIZE, false, err);
}

int enc_container_attest(const struct rt_context *ctx, const char *id,
			 const uint8_t report_data[64], const uint8_t *target_info,
			 uint8_t report[PAL_REPORT_SIZE], struct cc_error **err)
{
	struct rt_state *st = rt_state_load(ctx->root, id, err);
	if (!st)
		return -1;
	int ret = -1;
	enum rt_status s = rt_state_status(st);
	if (!st->handler || strcmp(st->handler, "enclave"))
		cc_error_set(err, 0, "container %s is not an enclave container", id);
	else if (s != RT_CREATED && s != RT_RUNNING)
		cc_error_set(err, 0, "cannot attest a container that is %s", rt_status_name(s));
	else
		ret = enc_attest_dir(st->dir, report_data, target_info, report, err);
	rt_state_free(st);
	return ret;
}
