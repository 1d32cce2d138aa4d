/* SPDX-License-Identifier: Apache-2.0 */
/* The container lifecycle, as the `rune` commands use it. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>
#include "runtime/state.h"
#include "util/error.h"

struct rt_handler;

/* --rootless: whether a cgroup that may not be created is skipped (when the config neither names
 * one nor asks for limits; the container then stays in the caller's cgroup, as with runc). */
enum rt_rootless { RT_ROOTLESS_AUTO = 0, RT_ROOTLESS_TRUE, RT_ROOTLESS_FALSE };

struct rt_context {
	const char *root; /* --root */
	bool systemd_cgroup;
	enum rt_rootless rootless; /* auto: when rune runs unprivileged */
	/* Container handlers (runtime/handler.h), NULL-terminated; NULL: plain containers only */
	const struct rt_handler *const *handlers;
};

struct rt_create_opts {
	const char *id;
	const char *bundle; /* NULL: cwd */
	const char *pid_file;
	const char *console_socket;
	bool no_pivot;
	bool no_new_keyring;
	unsigned preserve_fds;
	bool detach; /* run --detach */
};

/* create: on return the container is "created" and its init waits for `start`. */
CC_MUST_CHECK int rt_container_create(const struct rt_context *ctx, const struct rt_create_opts *o,
				      struct cc_error **err);
/* run: create + start; without detach, wait and return the container's exit status in
 * *status (128+signal when killed) and delete the container. */
CC_MUST_CHECK int rt_container_run(const struct rt_context *ctx, const struct rt_create_opts *o,
				   int *status, struct cc_error **err);
CC_MUST_CHECK int rt_container_start(const struct rt_context *ctx, const char *id,
				     struct cc_error **err);
CC_MUST_CHECK int rt_container_kill(const struct rt_context *ctx, const char *id, int sig, bool all,
				    struct cc_error **err);
CC_MUST_CHECK int rt_container_delete(const struct rt_context *ctx, const char *id, bool force,
				      struct cc_error **err);
CC_MUST_CHECK int rt_container_pause(const struct rt_context *ctx, const char *id, bool pause,
				     struct cc_error **err);
/* The `state` JSON of one container. */
CC_MUST_CHECK json_t *rt_container_state(const struct rt_context *ctx, const char *id,
					 struct cc_error **err);
/* All containers' `state` objects, sorted by id. */
CC_MUST_CHECK json_t *rt_container_list(const struct rt_context *ctx, struct cc_error **err);
CC_MUST_CHECK int rt_container_pids(const struct rt_context *ctx, const char *id, pid_t **pids,
				    size_t *n, struct cc_error **err);
CC_MUST_CHECK int rt_container_update(const struct rt_context *ctx, const char *id,
				      const struct rt_resources *res, struct cc_error **err);
/* Stats event object {"type":"stats","id":..,"data":{..}}. */
CC_MUST_CHECK json_t *rt_container_stats(const struct rt_context *ctx, const char *id,
					 struct cc_error **err);
/* OOM kills so far in the container's cgroup (for `events`); -1 if it is not running. */
CC_MUST_CHECK int rt_container_oom_count(const struct rt_context *ctx, const char *id,
					 uint64_t *count, struct cc_error **err);

struct rt_exec_opts {
	const char *id;
	struct rt_process *process; /* filled by the caller (from --process or flags) */
	const char *console_socket;
	const char *pid_file;
	bool detach;
	unsigned preserve_fds;
	bool ignore_paused;
};

/* Build the exec process template from the container's config (env, cwd, user, caps, nnp,
 * rlimits are inherited as runc does). Caller owns the result. */
CC_MUST_CHECK struct rt_process *rt_exec_default_process(const struct rt_context *ctx,
							 const char *id, struct cc_error **err);
CC_MUST_CHECK int rt_container_exec(const struct rt_context *ctx, const struct rt_exec_opts *o,
				    int *status, struct cc_error **err);

/* Shared by create and exec: the foreground wait loop. Forwards signals to `pid`, optionally
 * proxies a terminal master, returns the exit status (128+sig if killed). */
CC_MUST_CHECK int rt_wait_foreground(pid_t pid, int tty_master, int *status, struct cc_error **err);

/* CVE-2019-5736: make sure the running binary cannot be opened for writing through
 * /proc/<pid>/exe by a container process. Re-executes through a read-only, detached view of
 * the binary when needed (cheap: no copy). Returns only on error or when already protected. */
CC_MUST_CHECK int rt_selfexe_protect(char **argv, struct cc_error **err);
