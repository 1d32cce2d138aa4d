/* SPDX-License-Identifier: Apache-2.0 */
/*
 * containerd-shim-rune-v2: containerd's runtime v2 shim for rune (docs/shim.md).
 *
 * One daemon serves the task service (containerd.task.v2.Task) over ttrpc for every container
 * of its group (one pod sandbox, or one container), runs rune for each lifecycle step, reaps
 * the containers' processes as their subreaper and publishes task events to containerd.
 *
 * Locking: one mutex (shim.lock) guards the container and process tables, the process states
 * and the event queue's order. It is never held while rune runs or while waiting for I/O.
 */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>
#include "util/error.h"

#define SHIM_NAME "containerd-shim-rune-v2"
/* What the shim's settings file holds when the runtime options name none (docs/shim.md). */
#define SHIM_DEFAULT_CONFIG "/etc/rune/shim.json"

/* How rune is run for a container: from the runtime options and the settings file. */
struct shim_runtime {
	char *rune; /* the binary (a name is looked up on PATH) */
	char *root; /* rune --root */
	bool debug; /* rune --debug */
	/* Confidential pods (pod.c): the enclave-agent bundle (NULL: pods are not confidential),
	 * where pods keep their agents, agent-ctl, how long the agent may take to listen and a
	 * pull through it may take (0: no limit beyond the caller's), the agent's extra args. */
	char *agent_bundle, *agent_root, *agent_ctl;
	int64_t agent_start_timeout_ns, agent_pull_timeout_ns;
	char **agent_args;
};

enum proc_state { PROC_CREATED, PROC_RUNNING, PROC_PAUSED, PROC_STOPPED, PROC_DELETED };

struct proc_io;

struct proc {
	struct container *c;
	char *exec_id; /* "" for the container's init */
	pid_t pid;
	enum proc_state state;
	uint32_t exit_status;
	struct timespec exited_at;
	bool exited;
	/* rune start runs: an exit seen meanwhile waits (deferred_status) until TaskStart is
	 * published, so that containerd sees the start before the exit. */
	bool starting, exit_deferred;
	int deferred_status;
	char *stdin_path, *stdout_path, *stderr_path;
	bool terminal;
	struct proc_io *io;
	char *spec_path; /* an exec's process.json */
	pthread_cond_t exit_cond;
	unsigned refs; /* the container's list holds one; a handler using it, one more */
	struct proc *next;
};

struct container {
	char *id, *bundle;
	struct shim_runtime rt;
	struct proc init;
	struct proc *execs;
	bool rootfs_mounted;
	bool own_pidns;	 /* false: the init's exit kills every process of the container */
	struct pod *pod; /* confidential pods: the sandbox's agent (NULL otherwise) */
	bool pod_owner;	 /* the sandbox: its pod's agent is this container's */
	bool ready;	 /* created: handlers other than Create see it */
	unsigned refs;	 /* as a proc's */
	struct container *next;
};

/* An exit the reaper saw before anyone knew the pid (a process that exits while rune is still
 * telling us its pid). Kept only while such a lookup is pending. */
struct unclaimed_exit {
	pid_t pid;
	int status;
};

struct shim {
	const char *ns, *id, *containerd_address, *ttrpc_address, *publish_binary;
	bool debug;
	pthread_mutex_t lock;
	struct container *containers;
	/* rune commands being waited for: pid -> status */
	struct cmd_wait *cmds;
	pthread_cond_t cmd_cond;
	unsigned pending_lookups;
	struct unclaimed_exit unclaimed[64];
	size_t n_unclaimed;
	struct events *events;
	bool shutdown; /* Shutdown was asked with no container left */
	pthread_cond_t shutdown_cond;
};

/* ---- main.c ---- */
extern struct shim g_shim;

/* ---- proc.c: running rune, reaping ---- */

/* What a rune command gets and gives. fds: its stdin, stdout, stderr (-1: /dev/null); input:
 * bytes written to its stdin instead (fds[0] then ignored); out: its stdout captured
 * (fds[1] then ignored), up to 4 MiB. */
struct rune_cmd {
	int fds[3];
	const char *input;
	size_t input_len;
	char **out;
	size_t *out_len;
	bool merge_stderr; /* with out: its stderr captured too */
};

/* Run args (args[0] looked up on PATH) and wait: *status is its wait status, *cmd->out its
 * output whatever the status (the caller frees it). -1 only when it could not run or its
 * output was over the limit. */
CC_MUST_CHECK int shim_run(const char *const *args, const struct rune_cmd *cmd, int *status,
			   struct cc_error **err);
/* Run `rune --root R --log BUNDLE/log.json --log-format json ARGV...` for c and wait for it.
 * A failure's message is rune's own error (from its log). */
CC_MUST_CHECK int shim_rune(const struct container *c, const char *const *argv,
			    const struct rune_cmd *cmd, struct cc_error **err);
/* The same for a bundle and runtime without a container record (the delete action). */
CC_MUST_CHECK int shim_rune_at(const struct shim_runtime *rt, const char *bundle,
			       const char *const *argv, const struct rune_cmd *cmd,
			       struct cc_error **err);

/* The reaper: blocks SIGCHLD (call before any thread starts), then a thread reaps every
 * child, wakes rune commands' waiters and records container processes' exits. */
void shim_block_sigchld(void);
CC_MUST_CHECK int shim_reaper_start(struct cc_error **err);

/* Read a pid file rune wrote; under the lock, claim an exit that came first. Call
 * shim_lookup_begin() (under the lock) before running the command that writes it. */
void shim_lookup_begin(void);
void shim_lookup_end(void);
CC_MUST_CHECK int shim_read_pid(const char *path, pid_t *pid, struct cc_error **err);
/* Under the lock: mark p exited with a wait status, publish TaskExit, wake waiters. */
void shim_proc_exited(struct proc *p, int status);
/* Under the lock: if an exit for p->pid came first, apply it. */
void shim_claim_exit(struct proc *p);

/* ---- stdio.c ---- */

/* Open what containerd named for a process (FIFOs, file://, binary://, or nothing) and, for
 * a terminal, the console socket rune sends the pty master to. fds receive what rune passes
 * on to the process. */
CC_MUST_CHECK int proc_io_open(struct proc *p, const char *ns, int fds[3], char **console_socket,
			       struct cc_error **err);
/* After rune ran: take the pty master (terminal), start copying. */
CC_MUST_CHECK int proc_io_started(struct proc *p, struct cc_error **err);
/* Close the process's stdin (CloseIO). */
void proc_io_close_stdin(struct proc *p);
CC_MUST_CHECK int proc_io_resize(struct proc *p, uint32_t width, uint32_t height,
				 struct cc_error **err);
/* Drop the descriptors the shim holds for rune's sake once rune has them. */
void proc_io_after_exec(struct proc *p);
/* Stop copying, wait for the copy to drain (bounded) and free. */
void proc_io_free(struct proc *p);

/* ---- uri.c ---- */

/* "fifo", "file" or "binary" for a stdio URI (a plain path is a FIFO), *path what follows
 * "://"; NULL for another scheme. */
const char *shim_stdio_scheme(const char *uri, const char **path);
/* binary:///PATH?k=v&k2: the logging program's argv ({PATH, k, v, k2}, NULL-terminated, for
 * cc_strv_free); PATH must be absolute. */
CC_MUST_CHECK int shim_logger_argv(const char *rest, char ***argv, struct cc_error **err);

/* ---- events.c ---- */

/* Queue an event (a packed containerd.events.* message, type e.g. "TaskExit") for topic; the
 * order of calls is the order containerd sees. Takes buf. */
void events_publish(const char *topic, const char *type, uint8_t *buf, size_t len);
CC_MUST_CHECK int events_start(struct cc_error **err);
/* Send what is queued (waiting up to 5 s) and stop. */
void events_stop(void);

/* ---- service.c ---- */
/* Drop a reference to c (taken under the lock with c->refs++); the last one frees it. */
void shim_container_put(struct container *c);
struct tt_server;
CC_MUST_CHECK int service_register(struct tt_server *s, struct cc_error **err);

/* ---- config.c ---- */

/* The runtime settings for a container: defaults, then the settings file (the options'
 * ConfigPath or SHIM_DEFAULT_CONFIG when it exists), then runc-style options (BinaryName,
 * Root). type_url/value: the CreateTaskRequest's options (NULL: none). */
CC_MUST_CHECK int shim_runtime_load(struct shim_runtime *rt, const char *ns, const char *type_url,
				    const uint8_t *value, size_t len, struct cc_error **err);
void shim_runtime_clear(struct shim_runtime *rt);
/* The settings file's text (name: for errors) into rt. */
CC_MUST_CHECK int shim_settings_parse(struct shim_runtime *rt, const char *name, const char *text,
				      size_t len, struct cc_error **err);
/* Persist rt in the bundle (for the delete action) and read it back. */
CC_MUST_CHECK int shim_runtime_save(const struct shim_runtime *rt, const char *bundle,
				    struct cc_error **err);
CC_MUST_CHECK int shim_runtime_restore(struct shim_runtime *rt, const char *bundle,
				       struct cc_error **err);
/* containerd's identifier rules: [A-Za-z0-9][A-Za-z0-9._-]*, at most 76 characters. */
bool shim_id_valid(const char *id);

/* ---- pod.c ---- */

/* Before rune create: for a confidential pod's sandbox, start the pod's agent (given up when
 * the call is cancelled); for a container of the pod, pull its image through the agent and
 * mount it as BUNDLE/rootfs (*rootfs_done). Nothing when the settings have no pod section. */
struct tt_call;
CC_MUST_CHECK int pod_prepare(struct container *c, struct tt_call *call, bool *rootfs_done,
			      struct cc_error **err);
/* After delete (or a failed create): the container's view, or the sandbox's agent. */
void pod_release(struct container *c);
/* containerd.task.v2.Image/PullImage (a CoCo containerd forwards the CRI's pulls): the image
 * pulled by the sandbox's agent ahead of its container, under upstream's container id. */
CC_MUST_CHECK int pod_pull(const struct container *sandbox, const char *image,
			   struct cc_error **err);

/* ---- mount.c ---- */
struct Containerd__Types__Mount;
CC_MUST_CHECK int shim_mount_rootfs(const char *bundle, struct Containerd__Types__Mount **m,
				    size_t n, struct cc_error **err);
CC_MUST_CHECK int shim_unmount_rootfs(const char *bundle, struct cc_error **err);

/* Timestamps: now, and as a protobuf Timestamp (caller frees). */
struct timespec shim_now(void);
struct Google__Protobuf__Timestamp *shim_timestamp(struct timespec t);
