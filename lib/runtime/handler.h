/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Container handlers: a container whose config a handler claims is run by that handler at
 * named points of its lifecycle (crun's custom handlers are the model). The runtime knows no
 * handler by name; the program registers its handlers in rt_context. Enclave containers
 * (lib/enclave) are one.
 *
 *   rune create, in rune:    configure -> (state directory made) -> prepare -> save
 *   the container's init:    before_pivot (host root still visible) -> run (never returns)
 *   rune exec, in rune:      exec_spawn, with what save returned
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
#include <jansson.h>
#include "runtime/spec.h"
#include "util/error.h"

struct init_args;

struct rt_handler {
	const char *name; /* kept in state.json: exec finds the handler by it */
	const void *options;

	/* Claim the container (1, *data set), leave it (0) or refuse it (-1). Runs in rune on
	 * the host after config.json has been checked, with the bundle and rootfs resolved; may
	 * edit the spec (devices, mounts, env). */
	int (*configure)(const struct rt_handler *h, struct rt_spec *spec, const char *bundle,
			 const char *rootfs, void **data, struct cc_error **err);
	/* The state directory exists (dirfd open on it): make what the init will need. */
	int (*prepare)(void *data, int dirfd, const char *dir, struct cc_error **err);
	/* What exec will need later, kept in state.json. */
	json_t *(*save)(const void *data);
	/* In the init, before pivot_root. Errors go to rune through the init's error channel. */
	int (*before_pivot)(void *data, const struct init_args *a, struct cc_error **err);
	/* In the init once the container is set up, instead of exec'ing process.args: the
	 * handler runs the payload itself (so it need not exist in the rootfs). */
	__attribute__((noreturn)) void (*run)(void *data, const struct init_args *a,
					      bool seccomp_done);
	/* rune exec into a container the handler owns (its init is init_pid): start p (argv,
	 * env, terminal) and return the pid of a process that stands for it. */
	pid_t (*exec_spawn)(json_t *saved, const char *dir, pid_t init_pid, struct rt_process *p,
			    int console_fd, struct cc_error **err);
	void (*free)(void *data);
};
