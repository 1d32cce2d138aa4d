/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared between cgroup.c (host discovery, paths, dispatch, state, mounts), cgroup-v1.c and
 * cgroup-v2.c (resources, freezer, statistics) and cgroup-devices.c (device rules).
 *
 * A container's cgroup is a set of directories, one per mounted hierarchy: one per v1
 * mount (a mount may carry several controllers, "cpu,cpuacct"), and the cgroup2 one. Hybrid
 * hosts have both: resources go to the v1 controllers, and the container is also placed in
 * the unified hierarchy so that its cgroup2 view (and cgroup.kill) is consistent.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>
#include "runtime/cgroup.h"

struct rt_cgroup_hier {
	char **controllers; /* v1: "cpu", "cpuacct", "name=systemd", ...; NULL for cgroup2 */
	bool unified;	    /* the cgroup2 hierarchy */
	char *mount;	    /* host mount point, "/sys/fs/cgroup/memory" */
	char *root;	    /* what of the hierarchy is mounted there (mountinfo root), "/" */
	char *own;	    /* rune's own cgroup in this hierarchy (/proc/self/cgroup) */
	char *path;    /* the container's directory (absolute host path), strictly below mount */
	char *created; /* topmost directory rt_cgroup_create made, NULL if it made none */
};

/* What the host offers, independent of any container. Filled by rt_cgroup_host_load(), or
 * from text by rt_cgroup_host_parse() (tests feed it other hosts' mountinfo). */
struct rt_cgroup_host {
	enum rt_cgroup_mode mode;
	struct rt_cgroup_hier *hiers; /* path and created unset */
	size_t n_hiers;
};

struct rt_cgroup_ops {
	/* After every directory exists: per-mode preparation (v1 cpuset, v2 controllers). */
	int (*create)(struct rt_cgroup *cg, struct cc_error **err);
	int (*enter)(struct rt_cgroup *cg, pid_t pid, struct cc_error **err);
	/* `creating`: first application; device rules are then always written (with defaults),
	 * on update only when `res` lists some. `res` may be NULL. */
	int (*update)(struct rt_cgroup *cg, const struct rt_resources *res, bool creating,
		      struct cc_error **err);
	int (*destroy)(struct rt_cgroup *cg, bool kill, struct cc_error **err);
	int (*freeze)(struct rt_cgroup *cg, bool freeze, struct cc_error **err);
	bool (*is_frozen)(struct rt_cgroup *cg);
	json_t *(*stats)(struct rt_cgroup *cg, struct cc_error **err);
	int (*pids)(struct rt_cgroup *cg, pid_t **pids, size_t *n, struct cc_error **err);
	uint64_t (*oom_count)(struct rt_cgroup *cg);
};

struct rt_cgroup {
	enum rt_cgroup_mode mode;
	const struct rt_cgroup_ops *ops;
	struct rt_cgroup_hier *hiers;
	size_t n_hiers;
};

extern const struct rt_cgroup_ops rt_cgroup_v1_ops; /* v1 and hybrid */
extern const struct rt_cgroup_ops rt_cgroup_v2_ops;

/* ---- host discovery and construction (cgroup.c) ---- */

/* `mountinfo` is /proc/self/mountinfo text, `self_cgroup` /proc/self/cgroup, `proc_cgroups`
 * /proc/cgroups (names the v1 subsystems among a mount's options). */
CC_MUST_CHECK int rt_cgroup_host_parse(enum rt_cgroup_mode mode, const char *mountinfo,
				       const char *self_cgroup, const char *proc_cgroups,
				       struct rt_cgroup_host *host, struct cc_error **err);
CC_MUST_CHECK int rt_cgroup_host_load(struct rt_cgroup_host *host, struct cc_error **err);
void rt_cgroup_host_clear(struct rt_cgroup_host *host);
/* rt_cgroup_new() on a given host (copied). */
CC_MUST_CHECK struct rt_cgroup *rt_cgroup_new_on(const struct rt_cgroup_host *host,
						 const char *cgroups_path, const char *id,
						 struct cc_error **err);

/* ---- helpers shared by the implementations (cgroup.c) ---- */

/* The hierarchy holding `controller` ("" = cgroup2), NULL if none. */
struct rt_cgroup_hier *rt_cg_hier(const struct rt_cgroup *cg, const char *controller);
struct rt_cgroup_hier *rt_cg_unified(const struct rt_cgroup *cg);
const char *rt_cg_dir(const struct rt_cgroup *cg, const char *controller);

/* Write `value` to dir/file in one write(2). The error names the file and the value:
 * `cgroup: write /sys/fs/cgroup/memory/x/memory.limit_in_bytes "1": Device or resource busy`. */
CC_MUST_CHECK int rt_cg_write(const char *dir, const char *file, const char *value,
			      struct cc_error **err);
CC_MUST_CHECK int rt_cg_writef(const char *dir, const char *file, struct cc_error **err,
			       const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Contents of dir/file with trailing whitespace removed; NULL + err if unreadable. */
CC_MUST_CHECK char *rt_cg_read(const char *dir, const char *file, struct cc_error **err);
/* A number file; "max" reads as UINT64_MAX, "-1" (v1 "unlimited") too. */
CC_MUST_CHECK int rt_cg_read_u64(const char *dir, const char *file, uint64_t *v,
				 struct cc_error **err);
bool rt_cg_has(const char *dir, const char *file);
/* "key value" lines (cpu.stat, memory.stat, memory.events...): the value of `key`. */
bool rt_cg_keyed(const char *text, const char *key, uint64_t *v);
/* All pids below dir (cgroup.procs of dir and its descendants), appended to *pids. */
CC_MUST_CHECK int rt_cg_collect_pids(const char *dir, pid_t **pids, size_t *n,
				     struct cc_error **err);
/* Sort and drop duplicates. */
void rt_cg_sort_pids(pid_t *pids, size_t *n);

/* Statistics in runc's shape (types/events.go): a number, left out when zero and the field
 * is omitempty in runc; values above INT64_MAX (JSON integers here are signed) are clamped. */
void rt_cg_json_u64(json_t *o, const char *key, uint64_t v, bool omitempty);
/* The "data" object with every non-omitempty field present and zero. */
json_t *rt_cg_stats_skeleton(void);
/* "0-3,7" as [0,1,2,3,7]; NULL for an empty or malformed list. */
json_t *rt_cg_cpu_list(const char *list);
/* All "key value" lines of a flat keyed file (memory.stat) as an object. */
json_t *rt_cg_keyed_object(const char *text);

/* Generic parts of the vtables. */
CC_MUST_CHECK int rt_cg_enter_all(struct rt_cgroup *cg, pid_t pid, struct cc_error **err);
CC_MUST_CHECK int rt_cg_destroy_all(struct rt_cgroup *cg, bool kill, struct cc_error **err);

/* Values from configs go into cgroup files verbatim: no control characters (a newline would
 * start a second command in files like devices.allow or io.max). */
bool rt_cg_safe_value(const char *s);

/* ---- cgroup v2 pieces also used on hybrid hosts (cgroup-v2.c) ---- */

/* Enable `controller` in cgroup.subtree_control from the hierarchy root down to the parent of
 * the container's directory, failing if the hierarchy does not offer it. */
CC_MUST_CHECK int rt_cg2_enable_controller(const struct rt_cgroup_hier *h, const char *controller,
					   struct cc_error **err);
/* linux.resources.unified: validated keys written below h->path (enabling controllers). */
CC_MUST_CHECK int rt_cg2_apply_unified(const struct rt_cgroup_hier *h,
				       const struct rt_resources *res, struct cc_error **err);
/* hugetlb.<size>.max files. */
CC_MUST_CHECK int rt_cg2_apply_hugetlb(const struct rt_cgroup_hier *h,
				       const struct rt_resources *res, struct cc_error **err);
json_t *rt_cg2_hugetlb_stats(const char *dir);
bool rt_cg_valid_page_size(const char *s);

/* ---- devices (cgroup-devices.c) ---- */

/* Rules to enforce: the config's, then runc's always-allowed defaults. Caller frees. */
struct rt_device_rule *rt_cg_device_rules(const struct rt_resources *res, size_t *n);
/* v1: devices.allow / devices.deny in dir, leaving the cgroup with exactly `rules`
 * (last match wins per access type; a default-deny/allow reset starts from scratch). */
CC_MUST_CHECK int rt_cg1_set_devices(const char *dir, const struct rt_device_rule *rules, size_t n,
				     struct cc_error **err);
/* v2: build a BPF_PROG_TYPE_CGROUP_DEVICE program from `rules` and attach it to the cgroup
 * directory `dirfd`, replacing the programs attached there before. */
CC_MUST_CHECK int rt_cg2_set_devices(int dirfd, const char *dir, const struct rt_device_rule *rules,
				     size_t n, struct cc_error **err);
