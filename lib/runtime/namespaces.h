/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
#include "runtime/spec.h"
#include "util/error.h"

/* CLONE_NEW* flags of the namespaces the config asks to create (no path). */
int rt_ns_new_flags(const struct rt_spec *spec);
/* True when some namespace is joined by path. */
bool rt_ns_has_joins(const struct rt_spec *spec);
/* setns() into every namespace given by path, user namespace first, `skip` flags excluded. */
CC_MUST_CHECK int rt_ns_join_paths(const struct rt_spec *spec, int skip, struct cc_error **err);
/* Write uid_map / gid_map (and "deny" to setgroups when unprivileged) of `pid`. */
CC_MUST_CHECK int rt_ns_write_id_maps(pid_t pid, const struct rt_spec *spec, struct cc_error **err);
/* setns() into the namespaces of a running process (rune exec): user (when different), then
 * ipc, uts, net, pid, cgroup, time, mnt. */
CC_MUST_CHECK int rt_ns_join_process(pid_t pid, struct cc_error **err);
