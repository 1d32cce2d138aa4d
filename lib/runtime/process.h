/* SPDX-License-Identifier: Apache-2.0 */
/* Per-process setup applied by the container's init (and `rune exec`) right before execve. */
#pragma once

#include <sys/types.h>
#include "runtime/spec.h"
#include "util/error.h"

CC_MUST_CHECK int rt_process_set_rlimits(const struct rt_process *p, struct cc_error **err);
/* Write /proc/<pid>/oom_score_adj (pid 0 = self). */
CC_MUST_CHECK int rt_process_set_oom_score_adj(pid_t pid, int value, struct cc_error **err);
/*
 * Switch identity and privileges, in this order: drop the capability bounding set, keep caps
 * across setuid, setgroups (additionalGids; skipped when setgroups is denied in a userns with
 * no extra groups), setgid, setuid, set effective/permitted/inheritable with capset, raise
 * ambient, umask, then PR_SET_NO_NEW_PRIVS if asked. Absent process.capabilities means "drop
 * everything" like runc.
 */
CC_MUST_CHECK int rt_process_set_identity(const struct rt_process *p, struct cc_error **err);
/* Find args[0] in the PATH from the process env (not rune's) and execve. Returns only on
 * error, with a runc-like message: `exec: "foo": executable file not found in $PATH`. */
int rt_process_exec(const struct rt_process *p, struct cc_error **err);
/* The lookup rt_process_exec does, on its own: the path args[0] resolves to (caller frees), or
 * NULL with the same runc-like error. runc looks up before waiting for `start` (after
 * pivot_root), so that `create` itself fails when the payload is missing or not executable;
 * call this there to do the same. */
CC_MUST_CHECK char *rt_process_find_executable(const struct rt_process *p, struct cc_error **err);
/* Close every fd >= first except those in keep (sorted or not, n entries). */
void rt_close_fds_from(int first, const int *keep, size_t n);
/* Mark all fds >= first close-on-exec. */
void rt_cloexec_fds_from(int first);
