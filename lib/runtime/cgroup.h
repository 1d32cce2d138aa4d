/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cgroups behind one interface. cgroup.c detects the host's mode (v1, v2 or hybrid: v1
 * controllers plus a cgroup2 mount at /sys/fs/cgroup/unified) and dispatches to cgroup-v1.c /
 * cgroup-v2.c through a small vtable (struct rt_cgroup_ops in cgroup-internal.h).
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
#include <jansson.h>
#include "runtime/spec.h"
#include "util/error.h"

enum rt_cgroup_mode { RT_CGROUP_V1 = 1, RT_CGROUP_V2, RT_CGROUP_HYBRID };

struct rt_cgroup; /* opaque handle */

enum rt_cgroup_mode rt_cgroup_detect_mode(void);

/*
 * Resolve where the container's cgroup lives. `cgroups_path` is linux.cgroupsPath (may be NULL:
 * then "<rune's own cgroup>/<id>" per hierarchy). Absolute paths are taken below each
 * hierarchy root, relative ones below rune's own cgroup. `systemd` (--systemd-cgroup) is
 * refused with a clear error on hosts without systemd as PID 1. Nothing is created yet.
 */
CC_MUST_CHECK struct rt_cgroup *rt_cgroup_new(const char *cgroups_path, const char *id,
					      bool systemd, struct cc_error **err);
void rt_cgroup_free(struct rt_cgroup *cg);

/* Create the directories in every hierarchy and apply `res` (may be NULL). On failure
 * everything this call created is removed again. */
CC_MUST_CHECK int rt_cgroup_create(struct rt_cgroup *cg, const struct rt_resources *res,
				   struct cc_error **err);
/* Move `pid` into the container's cgroup in every hierarchy. */
CC_MUST_CHECK int rt_cgroup_enter(struct rt_cgroup *cg, pid_t pid, struct cc_error **err);
/* Apply new resource values (rune update). */
CC_MUST_CHECK int rt_cgroup_update(struct rt_cgroup *cg, const struct rt_resources *res,
				   struct cc_error **err);
/* Remove the container's cgroup directories (killing leftover tasks with SIGKILL first when
 * `kill` is set, waiting for them to go). Missing directories are not an error. */
CC_MUST_CHECK int rt_cgroup_destroy(struct rt_cgroup *cg, bool kill, struct cc_error **err);
CC_MUST_CHECK int rt_cgroup_freeze(struct rt_cgroup *cg, bool freeze, struct cc_error **err);
bool rt_cgroup_is_frozen(struct rt_cgroup *cg);
/* All pids in the container's cgroup (recursive), in the host pid namespace. */
CC_MUST_CHECK int rt_cgroup_pids(struct rt_cgroup *cg, pid_t **pids, size_t *n,
				 struct cc_error **err);
/* Statistics in runc's `events --stats` "data" shape: {"cpu":{...},"memory":{...},
 * "pids":{...},"blkio":{...},"hugetlb":{...}}. */
CC_MUST_CHECK json_t *rt_cgroup_stats(struct rt_cgroup *cg, struct cc_error **err);
/* Event counters for `events`: OOM kills seen so far (memory.oom_control / memory.events). */
uint64_t rt_cgroup_oom_count(struct rt_cgroup *cg);

/* Persist / restore the resolved paths (stored in the container's state). */
json_t *rt_cgroup_to_json(const struct rt_cgroup *cg);
CC_MUST_CHECK struct rt_cgroup *rt_cgroup_from_json(const json_t *j, struct cc_error **err);

/*
 * Mount the container's cgroup view at `dest` (relative to `rootfd`, resolved inside it) for a
 * mount of type "cgroup" in config.json: on v2 a cgroup2 mount, on v1/hybrid a tmpfs with one
 * mount per controller (bind of the container's cgroup dir, or a fresh cgroup mount when the
 * container has its own cgroup namespace), plus "unified" on hybrid hosts. `flags` carries the
 * mount's MS_RDONLY/MS_NOSUID/... Runs in the container's mount namespace before pivot_root.
 */
CC_MUST_CHECK int rt_cgroup_mount(const struct rt_cgroup *cg, int rootfd, const char *dest,
				  unsigned long flags, bool cgroupns, struct cc_error **err);

/* Paths for tests and `rune state`: the container's directory in a controller's hierarchy
 * ("memory", "cpu", ..., or "" for the v2 / unified one). NULL if the host lacks it. */
const char *rt_cgroup_path(const struct rt_cgroup *cg, const char *controller);

/* The device rules runc always allows, appended after linux.resources.devices: mknod of any
 * node, /dev/{null,zero,full,random,urandom,tty,ptmx}, ptys (136:*) and /dev/net/tun.
 * Static storage; *n receives the count. */
const struct rt_device_rule *rt_cgroup_default_device_rules(size_t *n);
