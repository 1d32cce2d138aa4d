// SPDX-License-Identifier: Apache-2.0
#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "runtime/container.h"
#include "runtime/hooks.h"
#include "runtime/init.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/log.h"

/* Wait (bounded) for a process that is not our child to go away. */
static void wait_gone(pid_t pid, unsigned long long start_time, int timeout_ms)
{
	int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pfd >= 0) {
		if (rt_proc_start_time(pid) == start_time) {
			struct pollfd p = { .fd = pfd, .events = POLLIN };
			poll(&p, 1, timeout_ms);
		}
		close(pfd);
	}
	/* Reap it if it happens to be ours (foreground run). */
	waitpid(pid, NULL, WNOHANG);
}

static int signal_all(struct rt_state *st, int sig, struct cc_error **err)
{
	_cleanup_free_ pid_t *pids = NULL;
	size_t n = 0;
	struct rt_cgroup *cg = rt_state_cgroup(st, err);
	if (!cg)
		return -1;
	int ret = rt_cgroup_pids(cg, &pids, &n, err);
	rt_cgroup_free(cg);
	if (ret < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (kill(pids[i], sig) < 0 && errno != ESRCH)
			return cc_error_errno(err, "kill %d", (int)pids[i]);
	return 0;
}

int rt_container_kill(const struct rt_context *ctx, const char *id, int sig, bool all,
		      struct cc_error **err)
{
	struct rt_state *st = rt_state_load(ctx->root, id, err);
	if (!st)
		return -1;
	int ret;
	enum rt_status s = rt_state_status(st);
	if (all && s == RT_STOPPED && !st->cgroup)
		ret = 0; /* nothing can be left */
	else if (all) /* also what outlived a stopped init (no PID namespace of its own), as runc */
		ret = signal_all(st, sig, err);
	else if (s == RT_STOPPED)
		ret = cc_error_set(err, 0, "container not running");
	else if (kill(st->pid, sig) < 0)
		ret = cc_error_errno(err, "kill container init %d", (int)st->pid);
	else
		ret = 0;
	rt_state_free(st);
	return ret;
}

static void run_poststop(struct rt_state *st)
{
	struct cc_error *err = NULL;
	struct rt_spec *spec = rt_state_spec(st, &err);
	if (!spec) {
		cc_warn("poststop hooks: %s", err->msg);
		cc_error_free(&err);
		return;
	}
	if (spec->hooks.count[RT_HOOK_POSTSTOP]) {
		_cleanup_free_ char *state = rt_hook_state(spec, st->id, st->bundle, "stopped", 0);
		rt_hooks_run_warn(&spec->hooks, RT_HOOK_POSTSTOP, state);
	}
	rt_spec_free(spec);
}

/* Kill whatever is left, remove the cgroup, run poststop hooks, remove the state. */
static int destroy(struct rt_state *st, struct cc_error **err)
{
	if (st->cgroup) {
		struct rt_cgroup *cg = rt_state_cgroup(st, err);
		if (!cg)
			return -1;
		if (rt_cgroup_is_frozen(cg)) /* the kill loop thaws after every round anyway */
			CC_BEST_EFFORT(rt_cgroup_freeze(cg, false, NULL));
		int ret = rt_cgroup_destroy(cg, true, err);
		rt_cgroup_free(cg);
		if (ret < 0)
			return -1;
	}
	if (st->pid > 0 && rt_proc_start_time(st->pid) == st->start_time) {
		kill(st->pid, SIGKILL);
		wait_gone(st->pid, st->start_time, 10000);
	}
	run_poststop(st);
	return cc_rm_rf(st->dir, err);
}

int rt_container_delete(const struct rt_context *ctx, const char *id, bool force,
			struct cc_error **err)
{
	struct cc_error *lerr = NULL;
	struct rt_state *st = rt_state_load(ctx->root, id, &lerr);
	if (!st) {
		if (force && lerr->code == ENOENT) {
			cc_error_free(&lerr);
			return 0;
		}
		*err = lerr;
		return -1;
	}
	int ret = 0;
	enum rt_status s = rt_state_status(st);
	if ((s == RT_RUNNING || s == RT_PAUSED) && !force)
		ret = cc_error_set(err, 0, "cannot delete container %s that is not stopped: %s", id,
				   rt_status_name(s));
	else
		ret = destroy(st, err);
	rt_state_free(st);
	return ret;
}

int rt_container_pause(const struct rt_context *ctx, const char *id, bool pause,
		       struct cc_error **err)
{
	struct rt_state *st = rt_state_load(ctx->root, id, err);
	if (!st)
		return -1;
	int ret = -1;
	enum rt_status s = rt_state_status(st);
	if (pause && s != RT_RUNNING && s != RT_CREATED) {
		cc_error_set(err, 0, "container not running");
	} else if (!pause && s != RT_PAUSED) {
		cc_error_set(err, 0, "container not paused");
	} else {
		struct rt_cgroup *cg = rt_state_cgroup(st, err);
		if (cg)
			ret = rt_cgroup_freeze(cg, pause, err);
		rt_cgroup_free(cg);
	}
	rt_state_free(st);
	return ret;
}

json_t *rt_container_state(const struct rt_context *ctx, const char *id, struct cc_error **err)
{
	struct rt_state *st = rt_state_load(ctx->root, id, err);
	if (!st)
		return NULL;
	json_t *j = rt_state_to_oci(st, rt_state_status(st));
	rt_state_free(st);
	return j;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

json_t *rt_container_list(const struct rt_context *ctx, struct cc_error **err)
{
	json_t *list = json_array();
	_cleanup_closedir_ DIR *d = opendir(ctx->root);
	if (!d) {
		if (errno == ENOENT)
			return list;
		json_decref(list);
		cc_error_errno(err, "open %s", ctx->root);
		return NULL;
	}
	char **ids = NULL;
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || !rt_id_valid(de->d_name))
			continue;
		ids = xreallocarray(ids, n + 1, sizeof(char *));
		ids[n++] = xstrdup(de->d_name);
	}
	qsort(ids, n, sizeof(char *), cmp_str);
	for (size_t i = 0; i < n; i++) {
		struct cc_error *e = NULL;
		struct rt_state *st = rt_state_load(ctx->root, ids[i], &e);
		if (st) {
			json_t *o = rt_state_to_oci(st, rt_state_status(st));
			json_object_set_new(o, "owner", json_string(st->owner ? st->owner : ""));
			json_array_append_new(list, o);
		}
		rt_state_free(st);
		cc_error_free(&e);
		free(ids[i]);
	}
	free(ids);
	return list;
}

/* Load a container that must not be stopped, and its cgroup. */
static struct rt_cgroup *live_cgroup(const struct rt_context *ctx, const char *id,
				     struct cc_error **err)
{
	struct rt_state *st = rt_state_load(ctx->root, id, err);
	if (!st)
		return NULL;
	struct rt_cgroup *cg = NULL;
	if (rt_state_status(st) == RT_STOPPED)
		cc_error_set(err, 0, "container not running");
	else
		cg = rt_state_cgroup(st, err);
	rt_state_free(st);
	return cg;
}

int rt_container_pids(const struct rt_context *ctx, const char *id, pid_t **pids, size_t *n,
		      struct cc_error **err)
{
	struct rt_cgroup *cg = live_cgroup(ctx, id, err);
	if (!cg)
		return -1;
	int ret = rt_cgroup_pids(cg, pids, n, err);
	rt_cgroup_free(cg);
	return ret;
}

int rt_container_update(const struct rt_context *ctx, const char *id,
			const struct rt_resources *res, struct cc_error **err)
{
	struct rt_cgroup *cg = live_cgroup(ctx, id, err);
	if (!cg)
		return -1;
	int ret = rt_cgroup_update(cg, res, err);
	rt_cgroup_free(cg);
	return ret;
}

int rt_container_oom_count(const struct rt_context *ctx, const char *id, uint64_t *count,
			   struct cc_error **err)
{
	struct rt_cgroup *cg = live_cgroup(ctx, id, err);
	if (!cg)
		return -1;
	*count = rt_cgroup_oom_count(cg);
	rt_cgroup_free(cg);
	return 0;
}

json_t *rt_container_stats(const struct rt_context *ctx, const char *id, struct cc_error **err)
{
	struct rt_cgroup *cg = live_cgroup(ctx, id, err);
	if (!cg)
		return NULL;
	json_t *data = rt_cgroup_stats(cg, err);
	rt_cgroup_free(cg);
	if (!data)
		return NULL;
	return json_pack("{s:s,s:s,s:o}", "type", "stats", "id", id, "data", data);
}
