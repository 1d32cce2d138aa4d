// SPDX-License-Identifier: Apache-2.0
/*
 * cgroup v2: one directory in the unified hierarchy; controllers must be enabled in every
 * ancestor's cgroup.subtree_control before their files appear. Values are converted from the
 * v1-shaped OCI resources the way runc 1.1 converts them. Some pieces (unified keys, hugetlb,
 * controller enabling) also serve hybrid hosts.
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
#include "util/strv.h"

#define FREEZE_TIMEOUT_MS 10000

static bool word_in(const char *list, const char *word)
{
	_cleanup_strv_ char **w = cc_strv_split(list, ' ');
	return cc_strv_contains(w, word);
}

/* Calls fn(dir) for the hierarchy root and each ancestor of the container's directory. */
static int for_each_ancestor(const struct rt_cgroup_hier *h,
			     int (*fn)(const char *dir, const void *arg, struct cc_error **err),
			     const void *arg, struct cc_error **err)
{
	_cleanup_free_ char *p = xstrdup(h->path);
	size_t base = strlen(h->mount);

	if (fn(h->mount, arg, err) < 0)
		return -1;
	for (char *s = p + base + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		int r = fn(p, arg, err);
		*s = '/';
		if (r < 0)
			return -1;
	}
	return 0;
}

static int enable_one(const char *dir, const void *arg, struct cc_error **err)
{
	const char *ctrl = arg;
	_cleanup_free_ char *sub = rt_cg_read(dir, "cgroup.subtree_control", err);
	if (!sub)
		return -1;
	if (word_in(sub, ctrl))
		return 0;
	_cleanup_free_ char *avail = rt_cg_read(dir, "cgroup.controllers", err);
	if (!avail)
		return -1;
	if (!word_in(avail, ctrl))
		return cc_error_set(err, ENOTSUP,
				    "cgroup: the %s controller is not available in %s", ctrl, dir);
	return rt_cg_writef(dir, "cgroup.subtree_control", err, "+%s", ctrl);
}

int rt_cg2_enable_controller(const struct rt_cgroup_hier *h, const char *controller,
			     struct cc_error **err)
{
	return for_each_ancestor(h, enable_one, controller, err);
}

/* runc's v2 create: every controller the parent offers, best effort. One that cannot be
 * enabled (busy parent with processes, threaded subtree) only matters if a resource needs it,
 * and then the missing file is reported by name. */
static int enable_all(const char *dir, const void *arg, struct cc_error **err)
{
	_cleanup_free_ char *avail = rt_cg_read(dir, "cgroup.controllers", NULL);
	_cleanup_strv_ char **ctrls = avail && *avail ? cc_strv_split(avail, ' ') : NULL;

	for (size_t i = 0; ctrls && ctrls[i]; i++) {
		struct cc_error *e = NULL;
		if (rt_cg_writef(dir, "cgroup.subtree_control", &e, "+%s", ctrls[i]) < 0) {
			cc_debug("%s", e->msg);
			cc_error_free(&e);
		}
	}
	return 0;
}

static int v2_create(struct rt_cgroup *cg, struct cc_error **err)
{
	struct rt_cgroup_hier *u = rt_cg_unified(cg);
	return u ? for_each_ancestor(u, enable_all, NULL, err) : 0;
}

bool rt_cg_valid_page_size(const char *s)
{
	size_t digits = strspn(s, "0123456789");
	static const char *const units[] = { "KB", "MB", "GB", "TB", "PB" };

	if (digits == 0 || digits > 10)
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(units); i++)
		if (strcmp(s + digits, units[i]) == 0)
			return true;
	return false;
}

/* Make `file` exist by enabling its controller (the part before the first dot). */
static int ensure_file(const struct rt_cgroup_hier *h, const char *file, struct cc_error **err)
{
	if (rt_cg_has(h->path, file))
		return 0;
	_cleanup_free_ char *ctrl = xstrndup(file, strcspn(file, "."));
	if (strcmp(ctrl, "cgroup") != 0 && rt_cg2_enable_controller(h, ctrl, err) < 0)
		return -1;
	if (!rt_cg_has(h->path, file))
		return cc_error_set(err, ENOENT, "cgroup: %s/%s does not exist", h->path, file);
	return 0;
}

int rt_cg2_apply_hugetlb(const struct rt_cgroup_hier *h, const struct rt_resources *res,
			 struct cc_error **err)
{
	for (size_t i = 0; i < res->n_hugepage_limits; i++) {
		const struct rt_hugepage_limit *l = &res->hugepage_limits[i];
		if (!rt_cg_valid_page_size(l->page_size))
			return cc_error_set(err, EINVAL, "cgroup: invalid hugepage size \"%s\"",
					    l->page_size);
		_cleanup_free_ char *file = xasprintf("hugetlb.%s.max", l->page_size);
		if (ensure_file(h, file, err) < 0)
			return cc_error_prefix(err, "hugepage limit %s", l->page_size);
		if (rt_cg_writef(h->path, file, err, "%llu", (unsigned long long)l->limit) < 0)
			return -1;
	}
	return 0;
}

/* A unified key names a file in the container's own directory, nothing else. */
static bool valid_unified_key(const char *k)
{
	static const char *const refused[] = { "cgroup.procs", "cgroup.threads", "cgroup.kill",
					       "cgroup.subtree_control" };
	size_t n = strlen(k);

	if (n == 0 || n > 255 || k[0] == '.' || !strchr(k, '.') || strstr(k, ".."))
		return false;
	for (const char *p = k; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-'))
			return false;
	for (size_t i = 0; i < ARRAY_SIZE(refused); i++)
		if (strcmp(k, refused[i]) == 0)
			return false;
	return true;
}

int rt_cg2_apply_unified(const struct rt_cgroup_hier *h, const struct rt_resources *res,
			 struct cc_error **err)
{
	for (size_t i = 0; i < res->n_unified; i++) {
		const struct rt_kv *kv = &res->unified[i];
		if (!valid_unified_key(kv->key))
			return cc_error_set(err, EINVAL, "cgroup: invalid unified key \"%.255s\"",
					    rt_cg_safe_value(kv->key) ? kv->key : "?");
		if (!rt_cg_safe_value(kv->value))
			return cc_error_set(err, EINVAL,
					    "cgroup: unified.%s: value contains control characters",
					    kv->key);
		if (ensure_file(h, kv->key, err) < 0)
			return cc_error_prefix(err, "unified.%s", kv->key);
		if (rt_cg_write(h->path, kv->key, kv->value, err) < 0)
			return -1;
	}
	return 0;
}

/* ---- resources ---- */

static int write_max(const char *dir, const char *file, int64_t v, struct cc_error **err)
{
	if (v < 0)
		return rt_cg_write(dir, file, "max", err);
	return rt_cg_writef(dir, file, err, "%lld", (long long)v);
}

/* OCI swap is memory+swap (v1); memory.swap.max is swap alone. */
static int swap_to_v2(int64_t swap, int64_t limit, int64_t *out, struct cc_error **err)
{
	if (limit == -1 && swap == 0)
		*out = -1;
	else if (swap == -1 || swap == 0)
		*out = swap;
	else if (limit <= 0)
		return cc_error_set(err, EINVAL, "cgroup: memory.swap needs a memory limit");
	else if (swap < limit)
		return cc_error_set(err, EINVAL,
				    "cgroup: memory.swap %lld is below memory.limit %lld (swap is "
				    "memory+swap)",
				    (long long)swap, (long long)limit);
	else
		*out = swap - limit;
	return 0;
}

static int v2_memory(const char *dir, const struct rt_resources *r, struct cc_error **err)
{
	const __typeof__(r->memory) *m = &r->memory;
	int64_t limit = m->has_limit ? m->limit : 0, swap = m->has_swap ? m->swap : 0, sw = 0;
	int64_t resv = m->has_reservation ? m->reservation : 0;

	/* swappiness, disableOOMKiller and kernel limits have no v2 file; runc ignores them. */
	if (swap_to_v2(swap, limit, &sw, err) < 0)
		return -1;
	/* sw 0 is "no swap" when memory+swap equals memory (runc writes "0"), else unset. A host
	 * without swap accounting has no memory.swap.max: "max" and "0" are then skipped, as
	 * runc does; a real swap limit fails there, naming the file. */
	bool set_swap = sw != 0 || swap > 0;
	if (set_swap && !(sw <= 0 && !rt_cg_has(dir, "memory.swap.max")) &&
	    write_max(dir, "memory.swap.max", sw, err) < 0)
		return -1;
	if (limit && write_max(dir, "memory.max", limit, err) < 0)
		return -1;
	if (resv && write_max(dir, "memory.low", resv, err) < 0)
		return -1;
	return 0;
}

static int v2_cpu(const char *dir, const struct rt_resources *r, struct cc_error **err)
{
	const __typeof__(r->cpu) *c = &r->cpu;
	int64_t quota = c->has_quota ? c->quota : 0;
	uint64_t period = c->has_period ? c->period : 0;

	if ((c->has_realtime_period && c->realtime_period) ||
	    (c->has_realtime_runtime && c->realtime_runtime))
		return cc_error_set(err, ENOTSUP,
				    "cgroup: realtime cpu limits are not supported "
				    "on cgroup v2");
	if (c->has_shares && c->shares) {
		/* runc's mapping of shares [2, 262144] onto weight [1, 10000]. */
		uint64_t s = c->shares < 2 ? 2 : c->shares;
		if (rt_cg_writef(dir, "cpu.weight", err, "%llu",
				 (unsigned long long)(1 + ((s - 2) * 9999) / 262142)) < 0)
			return -1;
	}
	if (quota || period) {
		char q[32] = "max";
		if (quota > 0)
			snprintf(q, sizeof(q), "%lld", (long long)quota);
		if ((period ? rt_cg_writef(dir, "cpu.max", err, "%s %llu", q,
					   (unsigned long long)period)
			    : rt_cg_write(dir, "cpu.max", q, err)) < 0)
			return -1;
	}
	if (c->has_burst &&
	    rt_cg_writef(dir, "cpu.max.burst", err, "%llu", (unsigned long long)c->burst) < 0)
		return -1;
	if (c->has_idle && rt_cg_writef(dir, "cpu.idle", err, "%lld", (long long)c->idle) < 0)
		return -1;
	for (int i = 0; i < 2; i++) {
		const char *v = i ? c->mems : c->cpus;
		if (!v || !*v)
			continue;
		if (strspn(v, "0123456789,-") != strlen(v))
			return cc_error_set(err, EINVAL, "cgroup: invalid cpu.%s \"%s\"",
					    i ? "mems" : "cpus", v);
		if (rt_cg_write(dir, i ? "cpuset.mems" : "cpuset.cpus", v, err) < 0)
			return -1;
	}
	return 0;
}

static int io_max(const char *dir, const char *key, const struct rt_throttle_device *t, size_t n,
		  struct cc_error **err)
{
	for (size_t i = 0; i < n; i++)
		if (rt_cg_writef(dir, "io.max", err, "%lld:%lld %s=%llu", (long long)t[i].major,
				 (long long)t[i].minor, key, (unsigned long long)t[i].rate) < 0)
			return -1;
	return 0;
}

/* With BFQ, io.bfq.weight takes v1's 10-1000 weights; io.weight wants 1-10000. */
static unsigned io_weight(const char *dir, uint16_t w, const char **file)
{
	if (rt_cg_has(dir, "io.bfq.weight")) {
		*file = "io.bfq.weight";
		return w;
	}
	*file = "io.weight";
	return w < 10 ? 1 : 1 + ((unsigned)w - 10) * 9999 / 990;
}

static int v2_io(const char *dir, const struct rt_resources *r, struct cc_error **err)
{
	const __typeof__(r->block_io) *b = &r->block_io;
	const char *file;

	if (b->has_weight) {
		unsigned w = io_weight(dir, b->weight, &file);
		if (rt_cg_writef(dir, file, err, "%u", w) < 0)
			return -1;
	}
	for (size_t i = 0; i < b->n_weight_device; i++) {
		const struct rt_weight_device *d = &b->weight_device[i];
		if (!d->has_weight)
			continue;
		unsigned w = io_weight(dir, d->weight, &file);
		if (rt_cg_writef(dir, file, err, "%lld:%lld %u", (long long)d->major,
				 (long long)d->minor, w) < 0)
			return -1;
	}
	if (io_max(dir, "rbps", b->throttle_read_bps, b->n_throttle_read_bps, err) < 0 ||
	    io_max(dir, "wbps", b->throttle_write_bps, b->n_throttle_write_bps, err) < 0 ||
	    io_max(dir, "riops", b->throttle_read_iops, b->n_throttle_read_iops, err) < 0 ||
	    io_max(dir, "wiops", b->throttle_write_iops, b->n_throttle_write_iops, err) < 0)
		return -1;
	return 0;
}

static int v2_devices(const char *dir, const struct rt_resources *r, struct cc_error **err)
{
	size_t n;
	_cleanup_free_ struct rt_device_rule *rules = rt_cg_device_rules(r, &n);
	_cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return cc_error_errno(err, "cgroup: open %s", dir);
	return rt_cg2_set_devices(fd, dir, rules, n, err);
}

static int v2_update(struct rt_cgroup *cg, const struct rt_resources *r, bool creating,
		     struct cc_error **err)
{
	struct rt_cgroup_hier *u = rt_cg_unified(cg);
	const char *dir = u->path;

	if ((creating || (r && r->n_devices)) && v2_devices(dir, r, err) < 0)
		return -1;
	if (!r)
		return 0;
	if (r->network.has_class_id || r->network.n_priorities)
		return cc_error_set(err, ENOTSUP,
				    "cgroup: network classID/priorities need the v1 "
				    "net_cls/net_prio controllers");
	if (v2_memory(dir, r, err) < 0 || v2_cpu(dir, r, err) < 0)
		return -1;
	if (r->pids.has_limit &&
	    write_max(dir, "pids.max", r->pids.limit > 0 ? r->pids.limit : -1, err) < 0)
		return -1;
	if (v2_io(dir, r, err) < 0 || rt_cg2_apply_hugetlb(u, r, err) < 0)
		return -1;
	/* Last, so that explicit unified values win over converted ones, as in runc. */
	return rt_cg2_apply_unified(u, r, err);
}

/* ---- freezer ---- */

static int v2_freeze(struct rt_cgroup *cg, bool freeze, struct cc_error **err)
{
	const char *dir = rt_cg_unified(cg)->path;
	const char *want = freeze ? "frozen 1" : "frozen 0";
	struct timespec start, now;

	if (rt_cg_write(dir, "cgroup.freeze", freeze ? "1" : "0", err) < 0)
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (unsigned i = 0;; i++) {
		_cleanup_free_ char *ev = rt_cg_read(dir, "cgroup.events", err);
		if (!ev)
			return -1;
		_cleanup_strv_ char **lines = cc_strv_split(ev, '\n');
		if (cc_strv_contains(lines, want))
			return 0;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 >
		    FREEZE_TIMEOUT_MS)
			break;
		struct timespec ts = { 0, i < 10 ? 1000000L : 10000000L };
		nanosleep(&ts, NULL);
	}
	if (freeze) /* undo the half-done freeze; the timeout is the error either way */
		CC_BEST_EFFORT(rt_cg_write(dir, "cgroup.freeze", "0", NULL));
	return cc_error_set(err, ETIMEDOUT, "cgroup: %s %s: timed out waiting for \"%s\"",
			    freeze ? "freeze" : "thaw", dir, want);
}

static bool v2_is_frozen(struct rt_cgroup *cg)
{
	_cleanup_free_ char *s = rt_cg_read(rt_cg_unified(cg)->path, "cgroup.freeze", NULL);
	return s && strcmp(s, "1") == 0;
}

static int v2_pids(struct rt_cgroup *cg, pid_t **pids, size_t *n, struct cc_error **err)
{
	const char *dir = rt_cg_unified(cg)->path;

	if (!cc_path_exists(dir))
		return cc_error_set(err, ENOENT, "cgroup: %s does not exist", dir);
	if (rt_cg_collect_pids(dir, pids, n, err) < 0)
		return -1;
	rt_cg_sort_pids(*pids, n);
	return 0;
}

/* ---- statistics ---- */

static uint64_t u64_or0(const char *dir, const char *file)
{
	uint64_t v = 0;
	return rt_cg_read_u64(dir, file, &v, NULL) < 0 ? 0 : v;
}

static uint64_t keyed_or0(const char *dir, const char *file, const char *key)
{
	_cleanup_free_ char *s = rt_cg_read(dir, file, NULL);
	uint64_t v = 0;
	if (s)
		rt_cg_keyed(s, key, &v);
	return v;
}

static void cpu_stats(const char *dir, json_t *cpu)
{
	json_t *usage = json_object_get(cpu, "usage"), *thr = json_object_get(cpu, "throttling");
	_cleanup_free_ char *s = rt_cg_read(dir, "cpu.stat", NULL);
	uint64_t v;

	if (!s)
		return;
	/* cpu.stat is in microseconds, runc's numbers in nanoseconds. */
	if (rt_cg_keyed(s, "usage_usec", &v))
		rt_cg_json_u64(usage, "total", v * 1000, true);
	if (rt_cg_keyed(s, "user_usec", &v))
		rt_cg_json_u64(usage, "user", v * 1000, false);
	if (rt_cg_keyed(s, "system_usec", &v))
		rt_cg_json_u64(usage, "kernel", v * 1000, false);
	if (rt_cg_keyed(s, "nr_periods", &v))
		rt_cg_json_u64(thr, "periods", v, true);
	if (rt_cg_keyed(s, "nr_throttled", &v))
		rt_cg_json_u64(thr, "throttledPeriods", v, true);
	if (rt_cg_keyed(s, "throttled_usec", &v))
		rt_cg_json_u64(thr, "throttledTime", v * 1000, true);
}

static void memory_stats(const char *dir, json_t *o)
{
	uint64_t cur = u64_or0(dir, "memory.current"), max = u64_or0(dir, "memory.max");
	uint64_t scur = u64_or0(dir, "memory.swap.current"), smax = u64_or0(dir, "memory.swap.max");
	uint64_t file;

	if (!rt_cg_has(dir, "memory.current"))
		return;
	json_t *usage = json_object(), *swap = json_object();
	rt_cg_json_u64(usage, "limit", max, false);
	rt_cg_json_u64(usage, "usage", cur, true);
	rt_cg_json_u64(usage, "max", u64_or0(dir, "memory.peak"), true);
	rt_cg_json_u64(usage, "failcnt", keyed_or0(dir, "memory.events", "max"), false);
	/* runc reports v1-style memory+swap figures for swap. */
	rt_cg_json_u64(swap, "limit",
		       max == UINT64_MAX || smax == UINT64_MAX ? UINT64_MAX : max + smax, false);
	rt_cg_json_u64(swap, "usage", cur + scur, true);
	rt_cg_json_u64(swap, "failcnt", keyed_or0(dir, "memory.swap.events", "max"), false);
	json_object_set_new(o, "usage", usage);
	json_object_set_new(o, "swap", swap);
	_cleanup_free_ char *stat = rt_cg_read(dir, "memory.stat", NULL);
	if (!stat)
		return;
	if (rt_cg_keyed(stat, "file", &file))
		rt_cg_json_u64(o, "cache", file, true);
	json_object_set_new(o, "raw", rt_cg_keyed_object(stat));
}

static json_t *io_entry(unsigned long long ma, unsigned long long mi, const char *op, uint64_t v)
{
	json_t *e = json_object();
	rt_cg_json_u64(e, "major", ma, true);
	rt_cg_json_u64(e, "minor", mi, true);
	json_object_set_new(e, "op", json_string(op));
	rt_cg_json_u64(e, "value", v, true);
	return e;
}

/* io.stat: "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0", per device. */
static void io_stats(const char *dir, json_t *o)
{
	static const char *const keys[][3] = { { "rbytes", "ioServiceBytesRecursive", "Read" },
					       { "wbytes", "ioServiceBytesRecursive", "Write" },
					       { "rios", "ioServicedRecursive", "Read" },
					       { "wios", "ioServicedRecursive", "Write" } };
	_cleanup_free_ char *s = rt_cg_read(dir, "io.stat", NULL);
	char *save = NULL;

	for (char *l = s ? strtok_r(s, "\n", &save) : NULL; l; l = strtok_r(NULL, "\n", &save)) {
		unsigned long long ma, mi;
		int off = 0;
		if (sscanf(l, "%llu:%llu%n", &ma, &mi, &off) != 2 || l[off] != ' ')
			continue;
		_cleanup_strv_ char **toks = cc_strv_split(l + off + 1, ' ');
		for (size_t i = 0; toks[i]; i++) {
			char *eq = strchr(toks[i], '=');
			if (!eq)
				continue;
			*eq = '\0';
			for (size_t k = 0; k < ARRAY_SIZE(keys); k++) {
				if (strcmp(toks[i], keys[k][0]) != 0)
					continue;
				json_t *arr = json_object_get(o, keys[k][1]);
				if (!arr) {
					arr = json_array();
					json_object_set_new(o, keys[k][1], arr);
				}
				json_array_append_new(
				    arr, io_entry(ma, mi, keys[k][2], strtoull(eq + 1, NULL, 10)));
			}
		}
	}
}

json_t *rt_cg2_hugetlb_stats(const char *dir)
{
	json_t *o = json_object();
	_cleanup_closedir_ DIR *d = opendir(dir);

	for (struct dirent *de; d && (de = readdir(d));) {
		char size[32], tail[16];
		if (sscanf(de->d_name, "hugetlb.%31[^.].%15s", size, tail) != 2 ||
		    strcmp(tail, "current") != 0)
			continue;
		_cleanup_free_ char *events = xasprintf("hugetlb.%s.events", size);
		json_t *e = json_object();
		rt_cg_json_u64(e, "usage", u64_or0(dir, de->d_name), true);
		rt_cg_json_u64(e, "failcnt", keyed_or0(dir, events, "max"), false);
		json_object_set_new(o, size, e);
	}
	return o;
}

static json_t *v2_stats(struct rt_cgroup *cg, struct cc_error **err)
{
	const char *dir = rt_cg_unified(cg)->path;

	if (!cc_path_exists(dir)) {
		cc_error_set(err, ENOENT, "cgroup: %s does not exist", dir);
		return NULL;
	}
	json_t *data = rt_cg_stats_skeleton();
	cpu_stats(dir, json_object_get(data, "cpu"));
	json_t *cpuset = json_object_get(data, "cpuset");
	for (int i = 0; i < 2; i++) {
		_cleanup_free_ char *s =
		    rt_cg_read(dir, i ? "cpuset.mems.effective" : "cpuset.cpus.effective", NULL);
		json_t *arr = s ? rt_cg_cpu_list(s) : NULL;
		if (arr)
			json_object_set_new(cpuset, i ? "mems" : "cpus", arr);
	}
	memory_stats(dir, json_object_get(data, "memory"));
	json_t *pids = json_object_get(data, "pids");
	uint64_t max = u64_or0(dir, "pids.max");
	rt_cg_json_u64(pids, "current", u64_or0(dir, "pids.current"), true);
	rt_cg_json_u64(pids, "limit", max == UINT64_MAX ? 0 : max, true);
	io_stats(dir, json_object_get(data, "blkio"));
	json_object_set_new(data, "hugetlb", rt_cg2_hugetlb_stats(dir));
	return data;
}

static uint64_t v2_oom_count(struct rt_cgroup *cg)
{
	return keyed_or0(rt_cg_unified(cg)->path, "memory.events", "oom_kill");
}

const struct rt_cgroup_ops rt_cgroup_v2_ops = {
	.create = v2_create,
	.enter = rt_cg_enter_all,
	.update = v2_update,
	.destroy = rt_cg_destroy_all,
	.freeze = v2_freeze,
	.is_frozen = v2_is_frozen,
	.stats = v2_stats,
	.pids = v2_pids,
	.oom_count = v2_oom_count,
};
