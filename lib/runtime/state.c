// SPDX-License-Identifier: Apache-2.0
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "runtime/state.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"

static const char *const status_names[] = { "creating", "created", "running", "paused", "stopped" };

const char *rt_status_name(enum rt_status s)
{
	return status_names[s];
}

bool rt_id_valid(const char *id)
{
	if (!id || !*id || strcmp(id, ".") == 0 || strcmp(id, "..") == 0 || strlen(id) > 1024)
		return false;
	for (const char *p = id; *p; p++) {
		char c = *p;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '+' || c == '-' || c == '.'))
			return false;
	}
	return true;
}

char *rt_now_rfc3339(void)
{
	struct timespec ts;
	struct tm tm;
	char buf[32];
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	return xasprintf("%s.%09ldZ", buf, ts.tv_nsec);
}

unsigned long long rt_proc_start_time(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* comm may contain spaces and parentheses: fields start after the last ')'. */
	char *p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return 0;
	p += 2;
	char state = *p;
	if (state == 'Z' || state == 'X')
		return 0;
	/* field 3 is state; start time is field 22 → skip 19 more fields. */
	for (int field = 3; field < 22 && p; field++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	return p ? strtoull(p, NULL, 10) : 0;
}

static char *state_path(const char *dir)
{
	return cc_path_join(dir, "state.json");
}

struct rt_state *rt_state_load(const char *root, const char *id, struct cc_error **err)
{
	if (!rt_id_valid(id)) {
		cc_error_set(err, 0, "invalid container ID format: %s", id ? id : "");
		return NULL;
	}
	_cleanup_free_ char *dir = cc_path_join(root, id);
	_cleanup_free_ char *path = state_path(dir);
	struct cc_error *lerr = NULL;
	_cleanup_json_ json_t *j = cc_json_load_file(path, &lerr);
	if (!j) {
		bool missing = lerr && lerr->errnum == ENOENT;
		if (missing) {
			cc_error_free(&lerr);
			cc_error_set(err, 0, "container does not exist");
			(*err)->code = ENOENT;
		} else {
			*err = lerr;
		}
		return NULL;
	}
	struct rt_state *st = xzalloc(sizeof(*st));
	json_int_t pid = 0, start = 0;
	const char *bundle = "", *rootfs = "", *created = "", *owner = "", *version = "";
	int systemd = 0;
	const char *handler = NULL;
	json_t *cg = NULL, *ann = NULL, *hdata = NULL;
	if (json_unpack(j, "{s:I,s?I,s:s,s:s,s:s,s?s,s?s,s?b,s?o,s?o,s?s,s?o}", "pid", &pid,
			"start_time", &start, "bundle", &bundle, "rootfs", &rootfs, "created",
			&created, "owner", &owner, "ociVersion", &version, "systemd_cgroup",
			&systemd, "cgroup", &cg, "annotations", &ann, "handler", &handler,
			"handler_data", &hdata) < 0) {
		free(st);
		cc_error_set(err, 0, "%s: malformed state file", path);
		return NULL;
	}
	st->id = xstrdup(id);
	st->dir = steal_pointer(&dir);
	st->pid = (pid_t)pid;
	st->start_time = (unsigned long long)start;
	st->bundle = xstrdup(bundle);
	st->rootfs = xstrdup(rootfs);
	st->created = xstrdup(created);
	st->owner = xstrdup(owner);
	st->oci_version = xstrdup(*version ? version : RT_OCI_VERSION);
	st->systemd_cgroup = systemd;
	st->cgroup = cg ? json_incref(cg) : NULL;
	st->annotations = ann ? json_incref(ann) : NULL;
	st->handler = handler ? xstrdup(handler) : NULL;
	st->handler_data = hdata ? json_incref(hdata) : NULL;
	return st;
}

int rt_state_save(const struct rt_state *st, struct cc_error **err)
{
	_cleanup_json_ json_t *j =
	    json_pack("{s:s,s:I,s:I,s:s,s:s,s:s,s:s,s:b}", "id", st->id, "pid", (json_int_t)st->pid,
		      "start_time", (json_int_t)st->start_time, "bundle", st->bundle, "rootfs",
		      st->rootfs, "created", st->created, "owner", st->owner ? st->owner : "",
		      "systemd_cgroup", st->systemd_cgroup);
	if (!j)
		return cc_error_set(err, 0, "state: cannot encode");
	if (st->cgroup)
		json_object_set(j, "cgroup", st->cgroup);
	if (st->annotations)
		json_object_set(j, "annotations", st->annotations);
	if (st->handler)
		json_object_set_new(j, "handler", json_string(st->handler));
	if (st->handler_data)
		json_object_set(j, "handler_data", st->handler_data);
	if (st->oci_version)
		json_object_set_new(j, "ociVersion", json_string(st->oci_version));
	_cleanup_free_ char *text = cc_json_dump(j);
	_cleanup_free_ char *path = state_path(st->dir);
	return cc_write_file_atomic(path, text, strlen(text), 0600, err);
}

void rt_state_free(struct rt_state *st)
{
	if (!st)
		return;
	free(st->id);
	free(st->dir);
	free(st->bundle);
	free(st->rootfs);
	free(st->created);
	free(st->owner);
	free(st->oci_version);
	if (st->cgroup)
		json_decref(st->cgroup);
	if (st->annotations)
		json_decref(st->annotations);
	free(st->handler);
	if (st->handler_data)
		json_decref(st->handler_data);
	free(st);
}

const struct rt_handler *rt_handler_find(const struct rt_handler *const *handlers, const char *name)
{
	for (size_t i = 0; name && handlers && handlers[i]; i++)
		if (!strcmp(handlers[i]->name, name))
			return handlers[i];
	return NULL;
}

struct rt_cgroup *rt_state_cgroup(const struct rt_state *st, struct cc_error **err)
{
	if (!st->cgroup) {
		cc_error_set(err, 0, "container %s has no cgroup", st->id);
		return NULL;
	}
	return rt_cgroup_from_json(st->cgroup, err);
}

enum rt_status rt_state_status(const struct rt_state *st)
{
	if (st->pid <= 0 || rt_proc_start_time(st->pid) != st->start_time)
		return RT_STOPPED;
	_cleanup_free_ char *fifo = cc_path_join(st->dir, "exec.fifo");
	if (access(fifo, F_OK) == 0)
		return RT_CREATED;
	if (st->cgroup) {
		struct cc_error *err = NULL;
		struct rt_cgroup *cg = rt_cgroup_from_json(st->cgroup, &err);
		bool frozen = cg && rt_cgroup_is_frozen(cg);
		rt_cgroup_free(cg);
		cc_error_free(&err);
		if (frozen)
			return RT_PAUSED;
	}
	return RT_RUNNING;
}

/* runc's field order: ociVersion, id, pid, status, bundle, rootfs, created, annotations
 * (only when there are some), owner. Like runc, `state` leaves owner empty; `list` fills
 * it in. */
json_t *rt_state_to_oci(const struct rt_state *st, enum rt_status status)
{
	json_t *j = json_pack("{s:s,s:s,s:I,s:s,s:s,s:s,s:s}", "ociVersion",
			      st->oci_version ? st->oci_version : RT_OCI_VERSION, "id", st->id,
			      "pid", (json_int_t)(status == RT_STOPPED ? 0 : st->pid), "status",
			      rt_status_name(status), "bundle", st->bundle, "rootfs", st->rootfs,
			      "created", st->created);
	if (st->annotations && json_object_size(st->annotations) > 0)
		json_object_set(j, "annotations", st->annotations);
	json_object_set_new(j, "owner", json_string(""));
	return j;
}

struct rt_spec *rt_state_spec(const struct rt_state *st, struct cc_error **err)
{
	size_t len;
	_cleanup_free_ char *path = cc_path_join(st->dir, "config.json");
	_cleanup_free_ char *buf = cc_read_file(path, 0, &len, err);
	if (!buf)
		return NULL;
	return rt_spec_parse("config.json", buf, len, err);
}
