/* SPDX-License-Identifier: Apache-2.0 */
/* seccomp via libseccomp. The filter is compiled by the runtime before fork (keeps the
 * container's init small and lets compile errors surface before anything is created) and
 * installed by the init as the last step before execve. */
#pragma once

#include <stddef.h>
#include "runtime/spec.h"
#include "util/error.h"

struct rt_seccomp_prog; /* compiled BPF plus the flags to load it with */

/* Compile. Unknown syscall names are skipped (as runc does, with a debug log); unknown
 * architectures, actions or flags fail with a message naming them. */
CC_MUST_CHECK struct rt_seccomp_prog *rt_seccomp_compile(const struct rt_seccomp *s,
							 struct cc_error **err);
void rt_seccomp_prog_free(struct rt_seccomp_prog *p);
/* Install into the calling thread. Returns the notify listener fd when the profile uses
 * SCMP_ACT_NOTIFY (caller sends it to listenerPath), else 0; on error -1 with *err set. */
CC_MUST_CHECK int rt_seccomp_install(const struct rt_seccomp_prog *p, struct cc_error **err);
/* Send the listener fd and the container state (JSON, per the runtime spec's
 * ContainerProcessState: ociVersion, fds ["seccompFd"], pid, metadata, state) to the agent at
 * `path` over SCM_RIGHTS. */
CC_MUST_CHECK int rt_seccomp_send_listener(const char *path, int listener_fd,
					   const char *process_state_json, struct cc_error **err);
/* Names for `rune features`. */
const char *const *rt_seccomp_known_actions(void);
const char *const *rt_seccomp_known_archs(void);
const char *const *rt_seccomp_known_flags(void);
/* Argument comparison operators ("SCMP_CMP_EQ", ...), for `rune features`. */
const char *const *rt_seccomp_known_ops(void);
