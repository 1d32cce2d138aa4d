/* SPDX-License-Identifier: Apache-2.0 */
/* The container's init: the forked child that builds the container and becomes its payload. */
#pragma once

#include <stdbool.h>
#include "runtime/cgroup.h"
#include "runtime/handler.h"
#include "runtime/seccomp.h"
#include "runtime/spec.h"

struct init_args {
	const struct rt_spec *spec;
	const char *id;
	const char *bundle;
	const char *rootfs;
	const struct rt_cgroup *cgroup;
	const struct rt_seccomp_prog *seccomp;
	int sync_fd;	       /* our end of the socketpair */
	int fifo_fd;	       /* exec.fifo opened O_RDWR: we block reading it until `start` */
	int console_fd;	       /* connected console socket, or -1 */
	unsigned preserve_fds; /* fds 3..3+n-1 pass through (LISTEN_FDS included) */
	bool no_pivot;
	bool no_new_keyring;
	bool new_userns;
	bool listen_fds; /* set LISTEN_FDS/LISTEN_PID in the payload's env */
	unsigned n_listen_fds;
	const struct rt_handler *handler; /* the container's handler, or NULL */
	void *handler_data;
};

/* Never returns: execs the payload or reports the error over sync_fd and exits. */
__attribute__((noreturn)) void rt_init_main(const struct init_args *a);
/* Build the hook state JSON (runtime-spec "state") for hooks; caller frees. */
char *rt_hook_state(const struct rt_spec *spec, const char *id, const char *bundle,
		    const char *status, pid_t pid);
/* Run every hook of `kind`, logging failures as warnings (poststart, poststop). */
void rt_hooks_run_warn(const struct rt_hooks *hooks, enum rt_hook_kind kind, const char *state);
/* Reset signal mask and dispositions before handing the process to a payload. */
void rt_reset_signals(void);
/* An error of the init after `start` (rune has let go of the error channel): to the log sink
 * when rune logs elsewhere (--log), and to the container's stderr as "rune init: ...". */
void rt_init_report(const struct cc_error *err);
