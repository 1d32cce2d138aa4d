// SPDX-License-Identifier: Apache-2.0
/*
 * cgroup v1 (and hybrid hosts, whose controllers are all v1): one directory per mounted
 * hierarchy, values written the way runc 1.1 writes them (same files, order and units).
 * On hybrid hosts the container also has a directory in the unified hierarchy; it takes
 * linux.resources.unified and hugetlb limits when the v1 hierarchy lacks hugetlb.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "runtime/cgroup-internal.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"

/* The hierarchy of a controller whose setting the config asks for. */
static const char *need(const struct rt_cgroup *cg, const char *ctrl, const char *what,
			struct cc_error **err)
{
	const char *dir = rt_cg_dir(cg, ctrl);
	if (!dir)
		cc_error_set(err, ENOENT, "cgroup: cannot set %s: the %s controller is not mounted",
			     what, ctrl);
	return dir;
}

static int write_i64(const char *dir, const char *file, int64_t v, struct cc_error **err)
{
	return rt_cg_writef(dir, file, err, "%lld", (long long)v);
}

/* Keep a lower-level error or drop it. */
static int pass_error(struct cc_error **err, struct cc_error *e)
{
	if (err && !*err)
		*err = e;
	else
		cc_error_free(&e);
	return -1;
}

/* ---- memory ---- */

/* Limit and memory+swap must be written in the order that keeps memsw >= limit at every
 * step, or the kernel refuses the second value. */
static int memory_limits(const char *dir, int64_t limit, int64_t swap, struct cc_error **err)
{
	bool swap_first = false;

	if (swap && swap != -1 && limit > 0 && swap < limit)
		return cc_error_set(
		    err, EINVAL,
		    "cgroup: memory.swap %lld is below memory.limit %lld (on cgroup "
		    "v1 swap is memory+swap)",
		    (long long)swap, (long long)limit);
	if (limit && swap) {
		uint64_t cur;
		if (rt_cg_read_u64(dir, "memory.limit_in_bytes", &cur, err) < 0)
			return -1;
		swap_first = swap == -1 || cur < (uint64_t)swap;
	}
	if (swap && swap_first && write_i64(dir, "memory.memsw.limit_in_bytes", swap, err) < 0)
		return -1;
	if (limit && write_i64(dir, "memory.limit_in_bytes", limit, err) < 0)
		return -1;
	if (swap && !swap_first && write_i64(dir, "memory.memsw.limit_in_bytes", swap, err) < 0)
		return -1;
	return 0;
}

static int v1_memory(const struct rt_cgroup *cg, const struct rt_resources *r,
		     struct cc_error **err)
{
	const __typeof__(r->memory) *m = &r->memory;
	int64_t limit = m->has_limit ? m->limit : 0, swap = m->has_swap ? m->swap : 0;
	int64_t resv = m->has_reservation ? m->reservation : 0;

	if (m->has_kernel && m->kernel)
		cc_warn("cgroup: memory.kernel is ignored: kernel memory limits are gone from "
			"current kernels");
	if (!limit && !swap && !resv && !m->has_swappiness && !m->has_disable_oom_killer &&
	    !(m->has_kernel_tcp && m->kernel_tcp))
		return 0;
	const char *dir = need(cg, "memory", "memory limits", err);
	if (!dir)
		return -1;
	/* As runc: an unlimited memory with swap unspecified means unlimited swap as well. */
	if (limit == -1 && !swap && rt_cg_has(dir, "memory.memsw.limit_in_bytes"))
		swap = -1;
	if (swap == -1 && !rt_cg_has(dir, "memory.memsw.limit_in_bytes"))
		swap = 0; /* no swap accounting: already unlimited */
	if (memory_limits(dir, limit, swap, err) < 0)
		return -1;
	if (resv && write_i64(dir, "memory.soft_limit_in_bytes", resv, err) < 0)
		return -1;
	if (m->has_kernel_tcp && m->kernel_tcp &&
	    write_i64(dir, "memory.kmem.tcp.limit_in_bytes", m->kernel_tcp, err) < 0)
		return -1;
	if (m->has_swappiness) {
		if (m->swappiness > 100)
			return cc_error_set(err, EINVAL,
					    "cgroup: memory.swappiness %llu is out of range 0-100",
					    (unsigned long long)m->swappiness);
		if (rt_cg_writef(dir, "memory.swappiness", err, "%llu",
				 (unsigned long long)m->swappiness) < 0)
			return -1;
	}
	if (m->has_disable_oom_killer &&
	    rt_cg_write(dir, "memory.oom_control", m->disable_oom_killer ? "1" : "0", err) < 0)
		return -1;
	return 0;
}

/* ---- cpu ---- */

static int cpu_shares(const char *dir, uint64_t shares, struct cc_error **err)
{
	uint64_t got;

	if (rt_cg_writef(dir, "cpu.shares", err, "%llu", (unsigned long long)shares) < 0 ||
	    rt_cg_read_u64(dir, "cpu.shares", &got, err) < 0)
		return -1;
	/* The kernel clamps silently; say so, as runc does. */
	if (got != shares)
		return cc_error_set(err, EINVAL,
				    "cgroup: cpu.shares %llu is out of range (the %s "
				    "allowed is %llu)",
				    (unsigned long long)shares,
				    got < shares ? "maximum" : "minimum", (unsigned long long)got);
	return 0;
}

/* A smaller period can be refused (EINVAL) while the old quota is still in place; then the
 * quota goes first and the period is written again after it. */
static int cpu_bandwidth(const char *dir, const struct rt_resources *r, struct cc_error **err)
{
	uint64_t period = r->cpu.has_period ? r->cpu.period : 0;
	int64_t quota = r->cpu.has_quota ? r->cpu.quota : 0;
	bool retry = false;

	if (period) {
		struct cc_error *e = NULL;
		if (rt_cg_writef(dir, "cpu.cfs_period_us", &e, "%llu", (unsigned long long)period) <
		    0) {
			if (e->errnum != EINVAL || !quota)
				return pass_error(err, e);
			cc_error_free(&e);
			retry = true;
		}
	}
	if (quota && write_i64(dir, "cpu.cfs_quota_us", quota, err) < 0)
		return -1;
	if (retry &&
	    rt_cg_writef(dir, "cpu.cfs_period_us", err, "%llu", (unsigned long long)period) < 0)
		return -1;
	if (r->cpu.has_burst && rt_cg_writef(dir, "cpu.cfs_burst_us", err, "%llu",
					     (unsigned long long)r->cpu.burst) < 0)
		return -1;
	return 0;
}

static int v1_cpu(const struct rt_cgroup *cg, const struct rt_resources *r, struct cc_error **err)
{
	const __typeof__(r->cpu) *c = &r->cpu;
	bool rt_period = c->has_realtime_period && c->realtime_period;
	bool rt_runtime = c->has_realtime_runtime && c->realtime_runtime;

	if (!(c->has_shares && c->shares) && !(c->has_quota && c->quota) &&
	    !(c->has_period && c->period) && !c->has_burst && !rt_period && !rt_runtime &&
	    !c->has_idle)
		return 0;
	const char *dir = need(cg, "cpu", "cpu limits", err);
	if (!dir)
		return -1;
	if (c->has_shares && c->shares && cpu_shares(dir, c->shares, err) < 0)
		return -1;
	if (cpu_bandwidth(dir, r, err) < 0)
		return -1;
	if (rt_period && rt_cg_writef(dir, "cpu.rt_period_us", err, "%llu",
				      (unsigned long long)c->realtime_period) < 0)
		return -1;
	if (rt_runtime && write_i64(dir, "cpu.rt_runtime_us", c->realtime_runtime, err) < 0)
		return -1;
	if (c->has_idle && write_i64(dir, "cpu.idle", c->idle, err) < 0)
		return -1;
	return 0;
}

static bool valid_cpu_list(const char *s)
{
	return *s && strspn(s, "0123456789,-") == strlen(s);
}

static int v1_cpuset(const struct rt_cgroup *cg, const struct rt_resources *r,
		     struct cc_error **err)
{
	const char *cpus = r->cpu.cpus, *mems = r->cpu.mems;

	if ((!cpus || !*cpus) && (!mems || !*mems))
		return 0;
	const char *dir = need(cg, "cpuset", "cpus/mems", err);
	if (!dir)
		return -1;
	if (cpus && *cpus) {
		if (!valid_cpu_list(cpus))
			return cc_error_set(err, EINVAL, "cgroup: invalid cpu.cpus \"%s\"", cpus);
		if (rt_cg_write(dir, "cpuset.cpus", cpus, err) < 0)
			return -1;
	}
	if (mems && *mems) {
		if (!valid_cpu_list(mems))
			return cc_error_set(err, EINVAL, "cgroup: invalid cpu.mems \"%s\"", mems);
		if (rt_cg_write(dir, "cpuset.mems", mems, err) < 0)
			return -1;
	}
	return 0;
}

static int v1_pids(const struct rt_cgroup *cg, const struct rt_resources *r, struct cc_error **err)
{
	if (!r->pids.has_limit)
		return 0;
	const char *dir = need(cg, "pids", "pids.limit", err);
	if (!dir)
		return -1;
	if (r->pids.limit <= 0)
		return rt_cg_write(dir, "pids.max", "max", err);
	return write_i64(dir, "pids.max", r->pids.limit, err);
}

/* ---- blkio ---- */

/* BFQ-only kernels have blkio.bfq.weight instead of blkio.weight (same range). */
static const char *weight_file(const char *dir, bool device)
{
	if (!rt_cg_has(dir, device ? "blkio.weight_device" : "blkio.weight") &&
	    rt_cg_has(dir, device ? "blkio.bfq.weight_device" : "blkio.bfq.weight"))
		return device ? "blkio.bfq.weight_device" : "blkio.bfq.weight";
	return device ? "blkio.weight_device" : "blkio.weight";
}

static int throttle(const char *dir, const char *file, const struct rt_throttle_device *t, size_t n,
		    struct cc_error **err)
{
	for (size_t i = 0; i < n; i++)
		if (rt_cg_writef(dir, file, err, "%lld:%lld %llu", (long long)t[i].major,
				 (long long)t[i].minor, (unsigned long long)t[i].rate) < 0)
			return -1;
	return 0;
}

static int weight_devices(const char *dir, const struct rt_weight_device *w, size_t n,
			  struct cc_error **err)
{
	for (size_t i = 0; i < n; i++) {
		if (w[i].has_weight &&
		    rt_cg_writef(dir, weight_file(dir, true), err, "%lld:%lld %u",
				 (long long)w[i].major, (long long)w[i].minor, w[i].weight) < 0)
			return -1;
		if (w[i].has_leaf_weight &&
		    rt_cg_writef(dir, "blkio.leaf_weight_device", err, "%lld:%lld %u",
				 (long long)w[i].major, (long long)w[i].minor,
				 w[i].leaf_weight) < 0)
			return -1;
	}
	return 0;
}

static int v1_blkio(const struct rt_cgroup *cg, const struct rt_resources *r, struct cc_error **err)
{
	const __typeof__(r->block_io) *b = &r->block_io;

	if (!b->has_weight && !b->has_leaf_weight && !b->n_weight_device &&
	    !b->n_throttle_read_bps && !b->n_throttle_write_bps && !b->n_throttle_read_iops &&
	    !b->n_throttle_write_iops)
		return 0;
	const char *dir = need(cg, "blkio", "blockIO", err);
	if (!dir)
		return -1;
	/* A missing weight file (no CFQ/BFQ on this kernel) fails here, naming the file. */
	if (b->has_weight && rt_cg_writef(dir, weight_file(dir, false), err, "%u", b->weight) < 0)
		return -1;
	if (b->has_leaf_weight &&
	    rt_cg_writef(dir, "blkio.leaf_weight", err, "%u", b->leaf_weight) < 0)
		return -1;
	if (weight_devices(dir, b->weight_device, b->n_weight_device, err) < 0)
		return -1;
	if (throttle(dir, "blkio.throttle.read_bps_device", b->throttle_read_bps,
		     b->n_throttle_read_bps, err) < 0 ||
	    throttle(dir, "blkio.throttle.write_bps_device", b->throttle_write_bps,
		     b->n_throttle_write_bps, err) < 0 ||
	    throttle(dir, "blkio.throttle.read_iops_device", b->throttle_read_iops,
		     b->n_throttle_read_iops, err) < 0 ||
	    throttle(dir, "blkio.throttle.write_iops_device", b->throttle_write_iops,
		     b->n_throttle_write_iops, err) < 0)
		return -1;
	return 0;
}

/* ---- hugetlb, network, unified ---- */

static int v1_hugetlb(const struct rt_cgroup *cg, const struct rt_resources *r,
		      struct cc_error **err)
{
	if (!r->n_hugepage_limits)
		return 0;
	const char *dir = rt_cg_dir(cg, "hugetlb");
	struct rt_cgroup_hier *u = rt_cg_unified(cg);
	if (!dir && u)
		return rt_cg2_apply_hugetlb(u, r, err);
	if (!dir)
		return cc_error_set(err, ENOENT,
				    "cgroup: cannot set hugepage limits: the hugetlb "
				    "controller is not available");
	for (size_t i = 0; i < r->n_hugepage_limits; i++) {
		const struct rt_hugepage_limit *h = &r->hugepage_limits[i];
		if (!rt_cg_valid_page_size(h->page_size))
			return cc_error_set(err, EINVAL, "cgroup: invalid hugepage size \"%s\"",
					    h->page_size);
		_cleanup_free_ char *file = xasprintf("hugetlb.%s.limit_in_bytes", h->page_size);
		_cleanup_free_ char *rsvd =
		    xasprintf("hugetlb.%s.rsvd.limit_in_bytes", h->page_size);
		if (rt_cg_writef(dir, file, err, "%llu", (unsigned long long)h->limit) < 0)
			return -1;
		if (rt_cg_has(dir, rsvd) &&
		    rt_cg_writef(dir, rsvd, err, "%llu", (unsigned long long)h->limit) < 0)
			return -1;
	}
	return 0;
}

static bool valid_ifname(const char *s)
{
	size_t n = strlen(s);
	return n > 0 && n < 16 && strcspn(s, " /:") == n && rt_cg_safe_value(s);
}

static int v1_network(const struct rt_cgroup *cg, const struct rt_resources *r,
		      struct cc_error **err)
{
	const char *dir;

	if (r->network.has_class_id) {
		if (!(dir = need(cg, "net_cls", "network.classID", err)) ||
		    rt_cg_writef(dir, "net_cls.classid", err, "%u", r->network.class_id) < 0)
			return -1;
	}
	if (!r->network.n_priorities)
		return 0;
	if (!(dir = need(cg, "net_prio", "network.priorities", err)))
		return -1;
	for (size_t i = 0; i < r->network.n_priorities; i++) {
		const struct rt_kv *kv = &r->network.priorities[i];
		if (!valid_ifname(kv->key) || !*kv->value ||
		    strspn(kv->value, "0123456789") != strlen(kv->value))
			return cc_error_set(err, EINVAL, "cgroup: invalid network priority \"%s\"",
					    kv->key);
		if (rt_cg_writef(dir, "net_prio.ifpriomap", err, "%s %s", kv->key, kv->value) < 0)
			return -1;
	}
	return 0;
}

static int v1_unified(const struct rt_cgroup *cg, const struct rt_resources *r,
		      struct cc_error **err)
{
	if (!r->n_unified)
		return 0;
	struct rt_cgroup_hier *u = rt_cg_unified(cg);
	if (!u)
		return cc_error_set(err, ENOTSUP,
				    "cgroup: linux.resources.unified needs cgroup v2; "
				    "this host has only v1 hierarchies");
	return rt_cg2_apply_unified(u, r, err);
}

static int v1_devices(const struct rt_cgroup *cg, const struct rt_resources *r,
		      struct cc_error **err)
{
	const char *dir = rt_cg_dir(cg, "devices");
	size_t n;

	if (!dir)
		return cc_error_set(err, ENOENT,
				    "cgroup: the devices controller is not mounted: "
				    "device access cannot be restricted");
	_cleanup_free_ struct rt_device_rule *rules = rt_cg_device_rules(r, &n);
	return rt_cg1_set_devices(dir, rules, n, err);
}

static int v1_update(struct rt_cgroup *cg, const struct rt_resources *res, bool creating,
		     struct cc_error **err)
{
	/* runc's order: cpuset, devices, memory, cpu, pids, blkio, hugetlb, net_*. */
	if (res && v1_cpuset(cg, res, err) < 0)
		return -1;
	if ((creating || (res && res->n_devices)) && v1_devices(cg, res, err) < 0)
		return -1;
	if (!res)
		return 0;
	if (v1_memory(cg, res, err) < 0 || v1_cpu(cg, res, err) < 0 || v1_pids(cg, res, err) < 0 ||
	    v1_blkio(cg, res, err) < 0 || v1_hugetlb(cg, res, err) < 0 ||
	    v1_network(cg, res, err) < 0 || v1_unified(cg, res, err) < 0)
		return -1;
	return 0;
}

/* ---- create: cpuset ---- */

/* A v1 cpuset cgroup starts with empty cpus/mems and accepts no task until they are set:
 * copy them from the parent, top-down, wherever they are still empty. */
static int cpuset_fill(const char *dir, const char *parent, struct cc_error **err)
{
	static const char *const files[] = { "cpuset.cpus", "cpuset.mems" };

	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		_cleanup_free_ char *cur = rt_cg_read(dir, files[i], err);
		if (!cur)
			return -1;
		if (*cur)
			continue;
		_cleanup_free_ char *up = rt_cg_read(parent, files[i], err);
		if (!up || rt_cg_write(dir, files[i], up, err) < 0)
			return -1;
	}
	return 0;
}

static int v1_create(struct rt_cgroup *cg, struct cc_error **err)
{
	struct rt_cgroup_hier *h = rt_cg_hier(cg, "cpuset");

	if (!h)
		return 0;
	_cleanup_free_ char *p = xstrdup(h->path);
	_cleanup_free_ char *parent = xstrdup(h->mount);
	for (char *s = p + strlen(h->mount) + 1;; s++) {
		if (*s != '/' && *s)
			continue;
		char c = *s;
		*s = '\0';
		if (cpuset_fill(p, parent, err) < 0)
			return -1;
		free(parent);
		parent = xstrdup(p);
		*s = c;
		if (!c)
			return 0;
	}
}

/* ---- freezer ---- */

static int v1_freeze(struct rt_cgroup *cg, bool freeze, struct cc_error **err)
{
	const char *dir = rt_cg_dir(cg, "freezer");
	const char *want = freeze ? "FROZEN" : "THAWED";

	if (!dir)
		return cc_error_set(err, ENOENT, "cgroup: the freezer controller is not mounted");
	/* FREEZING can last while tasks are in uninterruptible sleep; writing FROZEN again
	 * makes the kernel retry them. */
	for (unsigned i = 0; i < 500; i++) {
		if (rt_cg_write(dir, "freezer.state", want, err) < 0)
			return -1;
		_cleanup_free_ char *state = rt_cg_read(dir, "freezer.state", err);
		if (!state)
			return -1;
		if (strcmp(state, want) == 0)
			return 0;
		struct timespec ts = { 0, i < 10 ? 1000000L : 10000000L };
		nanosleep(&ts, NULL);
	}
	if (freeze) /* undo the half-done freeze; the timeout is the error either way */
		CC_BEST_EFFORT(rt_cg_write(dir, "freezer.state", "THAWED", NULL));
	return cc_error_set(err, ETIMEDOUT, "cgroup: %s %s/freezer.state: timed out",
			    freeze ? "freeze" : "thaw", dir);
}

static bool v1_is_frozen(struct rt_cgroup *cg)
{
	const char *dir = rt_cg_dir(cg, "freezer");
	_cleanup_free_ char *state = dir ? rt_cg_read(dir, "freezer.state", NULL) : NULL;
	return state && strcmp(state, "FROZEN") == 0;
}

/* ---- pids ---- */

static int v1_pids_list(struct rt_cgroup *cg, pid_t **pids, size_t *n, struct cc_error **err)
{
	static const char *const prefer[] = { "pids", "freezer", "devices", "memory", "cpu" };
	const char *dir = NULL;

	for (size_t i = 0; !dir && i < ARRAY_SIZE(prefer); i++)
		dir = rt_cg_dir(cg, prefer[i]);
	for (size_t i = 0; !dir && i < cg->n_hiers; i++)
		if (!cg->hiers[i].unified)
			dir = cg->hiers[i].path;
	if (!dir)
		return cc_error_set(err, ENOENT, "cgroup: no v1 hierarchy");
	if (!cc_path_exists(dir))
		return cc_error_set(err, ENOENT, "cgroup: %s does not exist", dir);
	if (rt_cg_collect_pids(dir, pids, n, err) < 0)
		return -1;
	rt_cg_sort_pids(*pids, n);
	return 0;
}

/* ---- statistics ---- */

static uint64_t read_u64_or0(const char *dir, const char *file)
{
	uint64_t v = 0;
	if (rt_cg_read_u64(dir, file, &v, NULL) < 0)
		return 0;
	return v;
}

/* Space-separated numbers (cpuacct.usage_percpu) as an array; NULL if none. */
static json_t *u64_list(const char *dir, const char *file)
{
	_cleanup_free_ char *s = rt_cg_read(dir, file, NULL);
	json_t *arr;
	char *p, *end;

	if (!s || !*s)
		return NULL;
	arr = json_array();
	for (p = s;; p = end) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		unsigned long long v = strtoull(p, &end, 10);
		if (end == p)
			break;
		json_array_append_new(arr, json_integer(v > INT64_MAX ? INT64_MAX : (json_int_t)v));
	}
	return arr;
}

static void cpu_stats(const struct rt_cgroup *cg, json_t *cpu)
{
	json_t *usage = json_object_get(cpu, "usage"), *thr = json_object_get(cpu, "throttling");
	const char *acct = rt_cg_dir(cg, "cpuacct"), *dir = rt_cg_dir(cg, "cpu");
	static const char *const lists[][2] = { { "percpu", "cpuacct.usage_percpu" },
						{ "percpu_kernel", "cpuacct.usage_percpu_sys" },
						{ "percpu_user", "cpuacct.usage_percpu_user" } };
	uint64_t v;

	if (acct) {
		rt_cg_json_u64(usage, "total", read_u64_or0(acct, "cpuacct.usage"), true);
		for (size_t i = 0; i < ARRAY_SIZE(lists); i++) {
			json_t *arr = u64_list(acct, lists[i][1]);
			if (arr)
				json_object_set_new(usage, lists[i][0], arr);
		}
		/* cpuacct.stat counts USER_HZ ticks; runc reports nanoseconds. */
		_cleanup_free_ char *st = rt_cg_read(acct, "cpuacct.stat", NULL);
		uint64_t ns_per_tick = 1000000000ull / (uint64_t)sysconf(_SC_CLK_TCK);
		if (st && rt_cg_keyed(st, "user", &v))
			rt_cg_json_u64(usage, "user", v * ns_per_tick, false);
		if (st && rt_cg_keyed(st, "system", &v))
			rt_cg_json_u64(usage, "kernel", v * ns_per_tick, false);
	}
	_cleanup_free_ char *stat = dir ? rt_cg_read(dir, "cpu.stat", NULL) : NULL;
	if (stat && rt_cg_keyed(stat, "nr_periods", &v))
		rt_cg_json_u64(thr, "periods", v, true);
	if (stat && rt_cg_keyed(stat, "nr_throttled", &v))
		rt_cg_json_u64(thr, "throttledPeriods", v, true);
	if (stat && rt_cg_keyed(stat, "throttled_time", &v))
		rt_cg_json_u64(thr, "throttledTime", v, true);
}

static void cpuset_stats(const struct rt_cgroup *cg, json_t *o)
{
	static const char *const flags[] = { "cpu_exclusive",	   "mem_hardwall",
					     "mem_exclusive",	   "memory_migrate",
					     "memory_spread_page", "memory_spread_slab",
					     "memory_pressure",	   "sched_load_balance" };
	const char *dir = rt_cg_dir(cg, "cpuset");

	if (!dir)
		return;
	for (int i = 0; i < 2; i++) {
		_cleanup_free_ char *s = rt_cg_read(dir, i ? "cpuset.mems" : "cpuset.cpus", NULL);
		json_t *arr = s ? rt_cg_cpu_list(s) : NULL;
		if (arr)
			json_object_set_new(o, i ? "mems" : "cpus", arr);
	}
	for (size_t i = 0; i < ARRAY_SIZE(flags); i++) {
		_cleanup_free_ char *file = xasprintf("cpuset.%s", flags[i]);
		rt_cg_json_u64(o, flags[i], read_u64_or0(dir, file), false);
	}
	_cleanup_free_ char *lvl = rt_cg_read(dir, "cpuset.sched_relax_domain_level", NULL);
	if (lvl)
		json_object_set_new(o, "sched_relax_domain_level", json_integer(atoll(lvl)));
}

/* {"limit","usage","max","failcnt"} from <prefix>.limit_in_bytes etc. */
static json_t *memory_entry(const char *dir, const char *prefix)
{
	json_t *e = json_object();
	static const char *const files[][3] = { { "limit", "limit_in_bytes", "" },
						{ "usage", "usage_in_bytes", "o" },
						{ "max", "max_usage_in_bytes", "o" },
						{ "failcnt", "failcnt", "" } };

	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		_cleanup_free_ char *f = xasprintf("%s.%s", prefix, files[i][1]);
		rt_cg_json_u64(e, files[i][0], read_u64_or0(dir, f), files[i][2][0] == 'o');
	}
	return e;
}

static void memory_stats(const struct rt_cgroup *cg, json_t *o)
{
	const char *dir = rt_cg_dir(cg, "memory");
	uint64_t cache;

	if (!dir)
		return;
	json_object_set_new(o, "usage", memory_entry(dir, "memory"));
	json_object_set_new(o, "swap", memory_entry(dir, "memory.memsw"));
	json_object_set_new(o, "kernel", memory_entry(dir, "memory.kmem"));
	json_object_set_new(o, "kernelTCP", memory_entry(dir, "memory.kmem.tcp"));
	_cleanup_free_ char *stat = rt_cg_read(dir, "memory.stat", NULL);
	if (!stat)
		return;
	if (rt_cg_keyed(stat, "cache", &cache))
		rt_cg_json_u64(o, "cache", cache, true);
	json_object_set_new(o, "raw", rt_cg_keyed_object(stat));
}

static void pids_stats(const struct rt_cgroup *cg, json_t *o)
{
	const char *dir = rt_cg_dir(cg, "pids");
	uint64_t max;

	if (!dir)
		return;
	rt_cg_json_u64(o, "current", read_u64_or0(dir, "pids.current"), true);
	max = read_u64_or0(dir, "pids.max");
	rt_cg_json_u64(o, "limit", max == UINT64_MAX ? 0 : max, true);
}

/* "8:0 Read 4096" lines; "Total N" summary lines are skipped. NULL when no device line. */
static json_t *blkio_entries(const char *dir, const char *file)
{
	_cleanup_free_ char *s = rt_cg_read(dir, file, NULL);
	json_t *arr = NULL;
	char *save = NULL;

	for (char *l = s ? strtok_r(s, "\n", &save) : NULL; l; l = strtok_r(NULL, "\n", &save)) {
		unsigned long long ma, mi, v;
		char op[32];
		json_t *e = json_object();
		if (sscanf(l, "%llu:%llu %31s %llu", &ma, &mi, op, &v) == 4) {
			json_object_set_new(e, "op", json_string(op));
		} else if (sscanf(l, "%llu:%llu %llu", &ma, &mi, &v) != 3) {
			json_decref(e);
			continue;
		}
		rt_cg_json_u64(e, "major", ma, true);
		rt_cg_json_u64(e, "minor", mi, true);
		rt_cg_json_u64(e, "value", v, true);
		if (!arr)
			arr = json_array();
		json_array_append_new(arr, e);
	}
	return arr;
}

static void blkio_stats(const struct rt_cgroup *cg, json_t *o)
{
	static const char *const keys[][2] = {
		{ "ioServiceBytesRecursive", "io_service_bytes_recursive" },
		{ "ioServicedRecursive", "io_serviced_recursive" },
		{ "ioQueueRecursive", "io_queued_recursive" },
		{ "ioServiceTimeRecursive", "io_service_time_recursive" },
		{ "ioWaitTimeRecursive", "io_wait_time_recursive" },
		{ "ioMergedRecursive", "io_merged_recursive" },
		{ "ioTimeRecursive", "time_recursive" },
		{ "sectorsRecursive", "sectors_recursive" },
	};
	static const char *const sources[] = { "blkio.", "blkio.bfq.", "blkio.throttle." };
	const char *dir = rt_cg_dir(cg, "blkio");

	if (!dir)
		return;
	/* As runc: the CFQ or BFQ statistics if they have any device, else throttling's. */
	for (size_t s = 0; s < ARRAY_SIZE(sources); s++) {
		for (size_t k = 0; k < ARRAY_SIZE(keys); k++) {
			_cleanup_free_ char *f = xasprintf("%s%s", sources[s], keys[k][1]);
			json_t *arr = blkio_entries(dir, f);
			if (arr)
				json_object_set_new(o, keys[k][0], arr);
		}
		if (json_object_size(o))
			return;
	}
}

static void hugetlb_stats(const struct rt_cgroup *cg, json_t *data)
{
	const char *dir = rt_cg_dir(cg, "hugetlb");
	struct rt_cgroup_hier *u = rt_cg_unified(cg);

	if (!dir) {
		if (u)
			json_object_set_new(data, "hugetlb", rt_cg2_hugetlb_stats(u->path));
		return;
	}
	json_t *o = json_object_get(data, "hugetlb");
	_cleanup_closedir_ DIR *d = opendir(dir);
	for (struct dirent *de; d && (de = readdir(d));) {
		char size[32];
		if (sscanf(de->d_name, "hugetlb.%31[^.].usage_in_bytes", size) != 1 ||
		    strstr(de->d_name, ".rsvd."))
			continue;
		_cleanup_free_ char *max = xasprintf("hugetlb.%s.max_usage_in_bytes", size);
		_cleanup_free_ char *fail = xasprintf("hugetlb.%s.failcnt", size);
		json_t *e = json_object();
		rt_cg_json_u64(e, "usage", read_u64_or0(dir, de->d_name), true);
		rt_cg_json_u64(e, "max", read_u64_or0(dir, max), true);
		rt_cg_json_u64(e, "failcnt", read_u64_or0(dir, fail), false);
		json_object_set_new(o, size, e);
	}
}

static json_t *v1_stats(struct rt_cgroup *cg, struct cc_error **err)
{
	const char *any = cg->n_hiers ? cg->hiers[0].path : NULL;

	if (!any || !cc_path_exists(any)) {
		cc_error_set(err, ENOENT, "cgroup: %s does not exist", any ? any : "(none)");
		return NULL;
	}
	json_t *data = rt_cg_stats_skeleton();
	cpu_stats(cg, json_object_get(data, "cpu"));
	cpuset_stats(cg, json_object_get(data, "cpuset"));
	memory_stats(cg, json_object_get(data, "memory"));
	pids_stats(cg, json_object_get(data, "pids"));
	blkio_stats(cg, json_object_get(data, "blkio"));
	hugetlb_stats(cg, data);
	return data;
}

static uint64_t v1_oom_count(struct rt_cgroup *cg)
{
	const char *dir = rt_cg_dir(cg, "memory");
	_cleanup_free_ char *s = dir ? rt_cg_read(dir, "memory.oom_control", NULL) : NULL;
	uint64_t v = 0;

	if (s)
		rt_cg_keyed(s, "oom_kill", &v);
	return v;
}

const struct rt_cgroup_ops rt_cgroup_v1_ops = {
	.create = v1_create,
	.enter = rt_cg_enter_all,
	.update = v1_update,
	.destroy = rt_cg_destroy_all,
	.freeze = v1_freeze,
	.is_frozen = v1_is_frozen,
	.stats = v1_stats,
	.pids = v1_pids_list,
	.oom_count = v1_oom_count,
};
