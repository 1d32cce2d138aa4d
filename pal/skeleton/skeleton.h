/* SPDX-License-Identifier: Apache-2.0 */
/* Internal interfaces of liberpal-skeleton (hidden: only the pal_* entry points are exported). */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
#include "enclave/pal_api.h"

#define SKEL_EXPORT __attribute__((visibility("default")))

/* A created payload process, parked before its exec. */
struct skel_child {
	pid_t pid;
	int sock; /* our end of the go / exec-error channel */
};

/* Opens the executable at path for measuring and executing: 0 and *fd, or -errno (-ENOEXEC if
 * it is not a regular file, -EACCES if it is not executable by us). */
int skel_open_exe(const char *path, int *fd);

/* Forks the payload process: isolated, its stdio in place, waiting for skel_release to exec
 * exe_fd (which stays open in the child). The arrays must stay valid until skel_release. */
int skel_spawn(int exe_fd, char *const argv[], char *const envp[],
	       const struct pal_stdio_fds *stdio, struct skel_child *child);

/* Lets a spawned child exec. Returns 0 once it has exec'd or died, -errno if its exec failed. */
int skel_release(int sock);

/* Waits until pid has ended without reaping it (so its pid cannot be reused meanwhile). */
int skel_wait_exit(pid_t pid);

/* Reaps pid: its exit status, or 128 + the signal that killed it, in *exit_value. */
int skel_reap(pid_t pid, int *exit_value);

/* Kills and reaps a child that will never be released. */
void skel_abort(struct skel_child *child);
