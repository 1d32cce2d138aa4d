// SPDX-License-Identifier: Apache-2.0
/*
 * containerd.task.v2.Task: the calls containerd makes on a shim, each carried out with rune.
 * Errors use containerd's codes: NOT_FOUND for an unknown container or process, ALREADY_EXISTS,
 * FAILED_PRECONDITION for a call the process's state does not allow, UNIMPLEMENTED for
 * checkpoints; a rune failure is UNKNOWN with rune's own message.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "config.h"
#include "ctd-cgroups-v1.pb-c.h"
#include "ctd-events-task.pb-c.h"
#include "ctd-runc-options.pb-c.h"
#include "ctd-shim.pb-c.h"
#include "shim.h"
#include "ttrpc/ttrpc.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/log.h"

#define SERVICE "containerd.task.v2.Task"

/* ---- tables (under g_shim.lock) ---- */

static struct container *container_get(const char *id, struct cc_error **err)
{
	pthread_mutex_lock(&g_shim.lock);
	struct container *c = g_shim.containers;
	while (c && (strcmp(c->id, id) || !c->ready))
		c = c->next;
	if (c)
		c->refs++;
	pthread_mutex_unlock(&g_shim.lock);
	if (!c)
		tt_error_status(err, TT_NOT_FOUND, "container %s not created", id);
	return c;
}

static void proc_free(struct proc *p)
{
	proc_io_free(p);
	if (p->spec_path)
		unlink(p->spec_path);
	free(p->spec_path);
	free(p->exec_id);
	free(p->stdin_path);
	free(p->stdout_path);
	free(p->stderr_path);
	pthread_cond_destroy(&p->exit_cond);
}

void shim_container_put(struct container *c)
{
	pthread_mutex_lock(&g_shim.lock);
	bool last = --c->refs == 0;
	pthread_mutex_unlock(&g_shim.lock);
	if (!last)
		return;
	while (c->execs) {
		struct proc *p = c->execs;
		c->execs = p->next;
		proc_free(p);
		free(p);
	}
	proc_free(&c->init);
	shim_runtime_clear(&c->rt);
	free(c->id);
	free(c->bundle);
	free(c);
}

/* The process exec_id of c ("" = the init), with a reference; NULL and NOT_FOUND if none. */
static struct proc *proc_get(struct container *c, const char *exec_id, struct cc_error **err)
{
	if (!exec_id || !*exec_id) {
		pthread_mutex_lock(&g_shim.lock);
		c->init.refs++;
		pthread_mutex_unlock(&g_shim.lock);
		return &c->init;
	}
	pthread_mutex_lock(&g_shim.lock);
	struct proc *p = c->execs;
	while (p && strcmp(p->exec_id, exec_id))
		p = p->next;
	if (p)
		p->refs++;
	pthread_mutex_unlock(&g_shim.lock);
	if (!p)
		tt_error_status(err, TT_NOT_FOUND, "process %s does not exist", exec_id);
	return p;
}

static void proc_put(struct proc *p)
{
	pthread_mutex_lock(&g_shim.lock);
	bool last = --p->refs == 0 && p != &p->c->init;
	pthread_mutex_unlock(&g_shim.lock);
	if (last) {
		proc_free(p);
		free(p);
	}
}

static void proc_init(struct proc *p, struct container *c, const char *exec_id, const char *in,
		      const char *out, const char *errp, bool terminal)
{
	p->c = c;
	p->exec_id = xstrdup(exec_id);
	p->stdin_path = xstrdup(in ? in : "");
	p->stdout_path = xstrdup(out ? out : "");
	p->stderr_path = xstrdup(errp ? errp : "");
	p->terminal = terminal;
	p->refs = 1;
	pthread_cond_init(&p->exit_cond, NULL);
}

/* ---- replies and events ---- */

static int reply(const ProtobufCMessage *m, uint8_t **resp, size_t *len)
{
	*len = protobuf_c_message_get_packed_size(m);
	*resp = xmalloc(*len ? *len : 1);
	protobuf_c_message_pack(m, *resp);
	return 0;
}

static void publish(const char *topic, const char *type, const ProtobufCMessage *m)
{
	size_t len = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = xmalloc(len ? len : 1);
	protobuf_c_message_pack(m, buf);
	events_publish(topic, type, buf, len);
}

/* A call's request and what it names: the container ("id") and, when asked, its process
 * ("exec_id"; "" = the init), each with a reference that target_put() drops. */
struct target {
	ProtobufCMessage *msg;
	struct container *c;
	struct proc *p;
};

static const char *field_str(const ProtobufCMessage *m, const char *name)
{
	const ProtobufCFieldDescriptor *f =
	    protobuf_c_message_descriptor_get_field_by_name(m->descriptor, name);
	if (!f || f->type != PROTOBUF_C_TYPE_STRING)
		return NULL;
	return *(char *const *)((const char *)m + f->offset);
}

static int target_get(const ProtobufCMessageDescriptor *d, const uint8_t *req, size_t len,
		      bool want_proc, struct target *t, struct cc_error **err)
{
	memset(t, 0, sizeof(*t));
	t->msg = tt_unpack(d, req, len, err);
	if (!t->msg)
		return -1;
	const char *id = field_str(t->msg, "id");
	t->c = container_get(id ? id : "", err);
	if (!t->c)
		return -1;
	if (want_proc && !(t->p = proc_get(t->c, field_str(t->msg, "exec_id"), err)))
		return -1;
	return 0;
}

static void target_put(struct target *t)
{
	if (t->p)
		proc_put(t->p);
	if (t->c)
		shim_container_put(t->c);
	if (t->msg)
		protobuf_c_message_free_unpacked(t->msg, NULL);
}

#define UNPACK(var, Type, lower)                                        \
	Type *var = tt_unpack(&lower##__descriptor, req, req_len, err); \
	if (!var)                                                       \
		return -1;

/* ---- Create, Start ---- */

/* Whether the spec gives the container a PID namespace of its own (a new one, not a path). */
static bool own_pid_namespace(const char *bundle)
{
	_cleanup_free_ char *path = cc_path_join(bundle, "config.json");
	struct cc_error *e = NULL;
	_cleanup_json_ json_t *spec = cc_json_load_file(path, &e);
	cc_error_free(&e);
	const json_t *nss = json_object_get(json_object_get(spec, "linux"), "namespaces");
	size_t i;
	const json_t *ns;
	json_array_foreach (nss, i, ns) {
		const char *type = json_string_value(json_object_get(ns, "type"));
		const char *ns_path = json_string_value(json_object_get(ns, "path"));
		if (type && !strcmp(type, "pid"))
			return !ns_path || !*ns_path;
	}
	return false;
}

static void publish_create(const struct container *c, Containerd__Task__V2__CreateTaskRequest *r)
{
	Containerd__Events__TaskIO tio = CONTAINERD__EVENTS__TASK_IO__INIT;
	tio.stdin = r->stdin, tio.stdout = r->stdout, tio.stderr = r->stderr;
	tio.terminal = r->terminal;
	Containerd__Events__TaskCreate ev = CONTAINERD__EVENTS__TASK_CREATE__INIT;
	ev.container_id = c->id;
	ev.bundle = c->bundle;
	ev.n_rootfs = r->n_rootfs;
	ev.rootfs = r->rootfs;
	ev.io = &tio;
	ev.checkpoint = r->checkpoint;
	ev.pid = (uint32_t)c->init.pid;
	publish("/tasks/create", "TaskCreate", &ev.base);
}

static int run_create(struct container *c, bool no_pivot, struct cc_error **err)
{
	int fds[3];
	_cleanup_free_ char *console = NULL;
	_cleanup_free_ char *pidfile = cc_path_join(c->bundle, "init.pid");
	if (proc_io_open(&c->init, g_shim.ns, fds, &console, err) < 0)
		return -1;
	const char *argv[12];
	size_t n = 0;
	argv[n++] = "create", argv[n++] = "--bundle", argv[n++] = c->bundle;
	argv[n++] = "--pid-file", argv[n++] = pidfile;
	if (console)
		argv[n++] = "--console-socket", argv[n++] = console;
	if (no_pivot)
		argv[n++] = "--no-pivot";
	argv[n++] = c->id;
	argv[n] = NULL;
	struct rune_cmd cmd = { .fds = { fds[0], fds[1], fds[2] } };
	int r = shim_rune(c, argv, &cmd, err);
	proc_io_after_exec(&c->init);
	if (r < 0)
		return -1;
	pid_t pid;
	if (shim_read_pid(pidfile, &pid, err) < 0 || proc_io_started(&c->init, err) < 0)
		return -1;
	c->init.pid = pid;
	return 0;
}

static int task_create(struct tt_call *call, const uint8_t *req, size_t req_len, uint8_t **resp,
		       size_t *resp_len, void *data, struct cc_error **err)
{
	UNPACK(r, Containerd__Task__V2__CreateTaskRequest,
	       containerd__task__v2__create_task_request)
	int ret = -1;
	struct container *c = NULL;
	bool no_pivot = false;
	if (!shim_id_valid(r->id) || !r->bundle || r->bundle[0] != '/') {
		tt_error_status(err, TT_INVALID_ARGUMENT, "create: invalid id \"%s\" or bundle",
				r->id);
		goto out;
	}
	if (r->checkpoint && *r->checkpoint) {
		tt_error_status(err, TT_UNIMPLEMENTED, "create %s: rune cannot restore checkpoints",
				r->id);
		goto out;
	}
	c = xzalloc(sizeof(*c));
	c->id = xstrdup(r->id);
	c->bundle = xstrdup(r->bundle);
	c->refs = 1;
	proc_init(&c->init, c, "", r->stdin, r->stdout, r->stderr, r->terminal);
	if (r->options) {
		if (shim_runtime_load(&c->rt, g_shim.ns, r->options->type_url,
				      r->options->value.data, r->options->value.len, err) < 0)
			goto free;
		if (strstr(r->options->type_url, "containerd.runc.v1.Options")) {
			Containerd__Runc__V1__Options *o = containerd__runc__v1__options__unpack(
			    NULL, r->options->value.len, r->options->value.data);
			no_pivot = o && o->no_pivot_root;
			if (o)
				containerd__runc__v1__options__free_unpacked(o, NULL);
		}
	} else if (shim_runtime_load(&c->rt, g_shim.ns, NULL, NULL, 0, err) < 0) {
		goto free;
	}
	if (shim_runtime_save(&c->rt, c->bundle, err) < 0)
		goto free;
	c->own_pidns = own_pid_namespace(c->bundle);

	pthread_mutex_lock(&g_shim.lock);
	for (struct container *o = g_shim.containers; o; o = o->next)
		if (!strcmp(o->id, c->id)) {
			pthread_mutex_unlock(&g_shim.lock);
			tt_error_status(err, TT_ALREADY_EXISTS, "container %s already exists",
					c->id);
			goto free;
		}
	c->next = g_shim.containers;
	g_shim.containers = c;
	shim_lookup_begin();
	pthread_mutex_unlock(&g_shim.lock);

	bool pod_rootfs = false;
	int r_mount = pod_prepare(c, call, &pod_rootfs, err);
	if (r_mount == 0 && !pod_rootfs) {
		r_mount = shim_mount_rootfs(c->bundle, r->rootfs, r->n_rootfs, err);
		c->rootfs_mounted = r_mount == 0 && r->n_rootfs;
	}
	int r_create = r_mount == 0 ? run_create(c, no_pivot, err) : -1;

	pthread_mutex_lock(&g_shim.lock);
	if (r_create == 0) {
		c->init.state = PROC_CREATED;
		c->ready = true;
		publish_create(c, r);
		shim_claim_exit(&c->init);
	} else {
		for (struct container **pp = &g_shim.containers; *pp; pp = &(*pp)->next)
			if (*pp == c) {
				*pp = c->next;
				break;
			}
		/* containerd gave up on this create and went: nobody will ask this shim to
		 * shut down, so it goes by itself once nothing is left */
		if (!g_shim.containers && tt_call_cancelled(call)) {
			g_shim.shutdown = true;
			pthread_cond_broadcast(&g_shim.shutdown_cond);
		}
	}
	shim_lookup_end();
	pthread_mutex_unlock(&g_shim.lock);
	if (r_create < 0) {
		struct cc_error *e = NULL;
		pod_release(c);
		if (c->rootfs_mounted && shim_unmount_rootfs(c->bundle, &e) < 0)
			cc_error_free(&e);
		goto free;
	}
	Containerd__Task__V2__CreateTaskResponse out =
	    CONTAINERD__TASK__V2__CREATE_TASK_RESPONSE__INIT;
	out.pid = (uint32_t)c->init.pid;
	ret = reply(&out.base, resp, resp_len);
	c = NULL;
free:
	if (c)
		shim_container_put(c);
out:
	containerd__task__v2__create_task_request__free_unpacked(r, NULL);
	return ret;
}

static int start_exec(struct proc *p, struct cc_error **err)
{
	struct container *c = p->c;
	int fds[3];
	_cleanup_free_ char *console = NULL;
	_cleanup_free_ char *pidfile = xasprintf("%s/exec-%s.pid", c->bundle, p->exec_id);
	if (proc_io_open(p, g_shim.ns, fds, &console, err) < 0)
		return -1;
	const char *argv[12];
	size_t n = 0;
	argv[n++] = "exec", argv[n++] = "--detach", argv[n++] = "--process";
	argv[n++] = p->spec_path, argv[n++] = "--pid-file", argv[n++] = pidfile;
	if (console)
		argv[n++] = "--console-socket", argv[n++] = console;
	argv[n++] = c->id;
	argv[n] = NULL;
	struct rune_cmd cmd = { .fds = { fds[0], fds[1], fds[2] } };
	pthread_mutex_lock(&g_shim.lock);
	shim_lookup_begin();
	pthread_mutex_unlock(&g_shim.lock);
	int r = shim_rune(c, argv, &cmd, err);
	proc_io_after_exec(p);
	pid_t pid = 0;
	if (r == 0)
		r = shim_read_pid(pidfile, &pid, err);
	unlink(pidfile);
	if (r == 0)
		r = proc_io_started(p, err);
	pthread_mutex_lock(&g_shim.lock);
	if (r == 0) {
		p->pid = pid;
		p->state = PROC_RUNNING;
		Containerd__Events__TaskExecStarted ev =
		    CONTAINERD__EVENTS__TASK_EXEC_STARTED__INIT;
		ev.container_id = c->id;
		ev.exec_id = p->exec_id;
		ev.pid = (uint32_t)pid;
		publish("/tasks/exec-started", "TaskExecStarted", &ev.base);
		shim_claim_exit(p);
	}
	shim_lookup_end();
	pthread_mutex_unlock(&g_shim.lock);
	return r;
}

static int task_start(struct tt_call *call, const uint8_t *req, size_t req_len, uint8_t **resp,
		      size_t *resp_len, void *data, struct cc_error **err)
{
	struct target t;
	int ret = -1;
	if (target_get(&containerd__task__v2__start_request__descriptor, req, req_len, true, &t,
		       err) < 0)
		goto out;
	struct container *c = t.c;
	struct proc *p = t.p;
	pthread_mutex_lock(&g_shim.lock);
	bool created = p->state == PROC_CREATED && !p->exited;
	pthread_mutex_unlock(&g_shim.lock);
	if (!created) {
		tt_error_status(err, TT_FAILED_PRECONDITION,
				"process %s is not in the created state",
				*p->exec_id ? p->exec_id : c->id);
		goto out;
	}
	if (*p->exec_id) {
		if (start_exec(p, err) < 0)
			goto out;
	} else {
		const char *argv[] = { "start", c->id, NULL };
		struct rune_cmd cmd = { .fds = { -1, -1, -1 } };
		pthread_mutex_lock(&g_shim.lock);
		p->starting = true;
		pthread_mutex_unlock(&g_shim.lock);
		int rc = shim_rune(c, argv, &cmd, err);
		pthread_mutex_lock(&g_shim.lock);
		p->starting = false;
		if (rc == 0) {
			p->state = PROC_RUNNING;
			Containerd__Events__TaskStart ev = CONTAINERD__EVENTS__TASK_START__INIT;
			ev.container_id = c->id;
			ev.pid = (uint32_t)p->pid;
			publish("/tasks/start", "TaskStart", &ev.base);
		}
		if (p->exit_deferred) {
			p->exit_deferred = false;
			shim_proc_exited(p, p->deferred_status);
		}
		pthread_mutex_unlock(&g_shim.lock);
		if (rc < 0)
			goto out;
	}
	Containerd__Task__V2__StartResponse out = CONTAINERD__TASK__V2__START_RESPONSE__INIT;
	out.pid = (uint32_t)p->pid;
	ret = reply(&out.base, resp, resp_len);
out:
	target_put(&t);
	return ret;
}

/* ---- Delete ---- */

/* Wait (bounded) for the reaper to record p's exit: after a forced delete it comes soon. */
static void wait_exit(struct proc *p, int seconds)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	t.tv_sec += seconds;
	pthread_mutex_lock(&g_shim.lock);
	while (!p->exited && p->pid > 0)
		if (pthread_cond_timedwait(&p->exit_cond, &g_shim.lock, &t) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&g_shim.lock);
}

static int delete_init(struct container *c, struct cc_error **err)
{
	pthread_mutex_lock(&g_shim.lock);
	enum proc_state st = c->init.state;
	bool exited = c->init.exited;
	pthread_mutex_unlock(&g_shim.lock);
	if (!exited && st != PROC_CREATED)
		return tt_error_status(err, TT_FAILED_PRECONDITION,
				       "cannot delete container %s: its process is running", c->id);
	const char *force[] = { "delete", "--force", c->id, NULL };
	const char *plain[] = { "delete", c->id, NULL };
	struct rune_cmd cmd = { .fds = { -1, -1, -1 } };
	if (shim_rune(c, exited ? plain : force, &cmd, err) < 0)
		return -1;
	wait_exit(&c->init, 5);
	pod_release(c);
	if (c->rootfs_mounted && shim_unmount_rootfs(c->bundle, err) < 0)
		return -1;
	c->rootfs_mounted = false;
	proc_io_free(&c->init);
	pthread_mutex_lock(&g_shim.lock);
	for (struct container **pp = &g_shim.containers; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			c->refs--; /* the list's */
			break;
		}
	c->ready = false;
	c->init.state = PROC_DELETED;
	Containerd__Events__TaskDelete ev = CONTAINERD__EVENTS__TASK_DELETE__INIT;
	ev.container_id = c->id;
	ev.pid = (uint32_t)c->init.pid;
	ev.exit_status = c->init.exit_status;
	ev.exited_at = shim_timestamp(c->init.exited_at);
	ev.id = c->id;
	publish("/tasks/delete", "TaskDelete", &ev.base);
	free(ev.exited_at);
	pthread_mutex_unlock(&g_shim.lock);
	return 0;
}

static int delete_exec(struct proc *p, struct cc_error **err)
{
	pthread_mutex_lock(&g_shim.lock);
	if (!p->exited && p->state != PROC_CREATED) {
		pthread_mutex_unlock(&g_shim.lock);
		return tt_error_status(err, TT_FAILED_PRECONDITION,
				       "cannot delete process %s: it is running", p->exec_id);
	}
	for (struct proc **pp = &p->c->execs; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			p->refs--; /* the list's */
			break;
		}
	if (!p->exited) { /* never started: a Wait on it returns */
		p->exited = true;
		p->exited_at = shim_now();
		pthread_cond_broadcast(&p->exit_cond);
	}
	p->state = PROC_DELETED;
	pthread_mutex_unlock(&g_shim.lock);
	return 0;
}

static int task_delete(struct tt_call *call, const uint8_t *req, size_t req_len, uint8_t **resp,
		       size_t *resp_len, void *data, struct cc_error **err)
{
	struct target t;
	int ret = -1;
	if (target_get(&containerd__task__v2__delete_request__descriptor, req, req_len, true, &t,
		       err) < 0)
		goto out;
	struct container *c = t.c;
	struct proc *p = t.p;
	if ((*p->exec_id ? delete_exec(p, err) : delete_init(c, err)) < 0)
		goto out;
	Containerd__Task__V2__DeleteResponse out = CONTAINERD__TASK__V2__DELETE_RESPONSE__INIT;
	out.pid = (uint32_t)p->pid;
	out.exit_status = p->exit_status;
	out.exited_at = shim_timestamp(p->exited_at);
	ret = reply(&out.base, resp, resp_len);
	free(out.exited_at);
out:
	target_put(&t);
	return ret;
}

/* ---- Exec ---- */

static int task_exec(struct tt_call *call, const uint8_t *req, size_t req_len, uint8_t **resp,
		     size_t *resp_len, void *data, struct cc_error **err)
{
	struct target t;
	int ret = -1;
	if (target_get(&containerd__task__v2__exec_process_request__descriptor, req, req_len, false,
		       &t, err) < 0)
		goto out;
	const Containerd__Task__V2__ExecProcessRequest *r = (const void *)t.msg;
	struct container *c = t.c;
	if (!shim_id_valid(r->exec_id)) {
		tt_error_status(err, TT_INVALID_ARGUMENT, "exec: invalid exec id \"%s\"",
				r->exec_id);
		goto out;
	}
	if (!r->spec || !r->spec->value.len) {
		tt_error_status(err, TT_INVALID_ARGUMENT, "exec %s: no process spec", r->exec_id);
		goto out;
	}
	struct proc *p = xzalloc(sizeof(*p));
	proc_init(p, c, r->exec_id, r->stdin, r->stdout, r->stderr, r->terminal);
	p->spec_path = xasprintf("%s/exec-%s.json", c->bundle, r->exec_id);

	pthread_mutex_lock(&g_shim.lock);
	bool dup = false;
	for (struct proc *o = c->execs; o && !dup; o = o->next)
		dup = !strcmp(o->exec_id, r->exec_id);
	if (!dup) {
		p->next = c->execs;
		c->execs = p;
	}
	pthread_mutex_unlock(&g_shim.lock);
	if (dup) {
		free(p->spec_path);
		p->spec_path = NULL;
		proc_free(p);
		free(p);
		tt_error_status(err, TT_ALREADY_EXISTS, "id %s", r->exec_id);
		goto out;
	}
	if (cc_write_file_atomic(p->spec_path, r->spec->value.data, r->spec->value.len, 0600, err) <
	    0) {
		struct cc_error *ignored = NULL;
		if (delete_exec(p, &ignored) < 0)
			cc_error_free(&ignored);
		proc_put(p);
		goto out;
	}
	pthread_mutex_lock(&g_shim.lock);
	p->state = PROC_CREATED;
	Containerd__Events__TaskExecAdded ev = CONTAINERD__EVENTS__TASK_EXEC_ADDED__INIT;
	ev.container_id = c->id;
	ev.exec_id = p->exec_id;
	publish("/tasks/exec-added", "TaskExecAdded", &ev.base);
	pthread_mutex_unlock(&g_shim.lock);
	*resp = NULL, *resp_len = 0;
	ret = 0;
out:
	target_put(&t);
	return ret;
}

/* ---- State, Wait, Pids ---- */

static Containerd__V1__Types__Status status_of(const struct proc *p)
{
	if (p->exited)
		return CONTAINERD__V1__TYPES__STATUS__STOPPED;
	switch (p->state) {
	case PROC_CREATED:
		return CONTAINERD__V1__TYPES__STATUS__CREATED;
	case PROC_RUNNING:
		return CONTAINERD__V1__TYPES__STATUS__RUNNING;
	case PROC_PAUSED:
		return CONTAINERD__V1__TYPES__STATUS__PAUSED;
	default:
		return CONTAINERD__V1__TYPES__STATUS__STOPPED;
	}
}

static int task_state(struct tt_call *call, const uint8_t *req, size_t req_len, uint8_t **resp,
		      size_t *resp_len, void *data, struct cc_error **err)
{
	struct target t;
	int ret = -1;
	if (target_get(&containerd__task__v2__state_request__descriptor, req, req_len, true, &t,
		       err) < 0)
		goto out;
	struct container *c = t.c;
	struct proc *p = t.p;
	Containerd__Task__V2__StateResponse out = CONTAINERD__TASK__V2__STATE_RESPONSE__INIT;
	pthread_mutex_lock(&g_shim.lock);
	out.id = *p->exec_id ? p->exec_id : c->id;
	out.bundle = c->bundle;
	out.pid = (uint32_t)p->pid;
	out.status = status_of(p);
	out.stdin = p->stdin_path, out.stdout = p->stdout_path, out.stderr = p->stderr_path;
	out.terminal = p->terminal;
	out.exit_status = p->exit_status;
	out.exited_at = p->exited ? shim_timestamp(p->exited_at) : NULL;
	out.exec_id = p->exec_id;
	ret = reply(&out.base, resp, resp_len);
	pthread_mutex_unlock(&g_shim.lock);
	free(out.exited_at);
out:
	target_put(&t);
	return ret;
}

static int task_wait(struct tt_call *call, const uint8_t *req, size_t req_len, uint8_t **resp,
		     size_t *resp_len, void *data, struct cc_error **err)
{
	struct target t;
	int ret = -1;
	if (target_get(&containerd__task__v2__wait_request__descriptor, req, req_len, true, &t,
		       err) < 0)
		goto out;
	struct proc *p = t.p;
	pthread_mutex_lock(&g_shim.lock);
	while (!p->exited && !tt_call_cancelled(call)) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 1; /* to notice a cancelled call */
		pthread_cond_timedwait(&p->exit_cond, &g_shim.lock, &until);
	}
	bool exited = p->exited;
	Containerd__Task__V2__WaitResponse out = CONTAINERD__TASK__V2__WAIT_RESPONSE__INIT;
	out.exit_status = p->exit_status;
	out.exited_at = shim_timestamp(p->exited_at);
	pthread_mutex_unlock(&g_shim.lock);
	if (exited)
		ret = reply(&out.base, resp, resp_len);
	else
		tt_error_status(err, TT_CANCELLED, "wait cancelled");
	free(out.exited_at);
out:
	target_put(&t);
	return ret;
}

static Google__Protobuf__Any *exec_details(struct container *c, pid_t pid)
{
	const char *exec_id = NULL;
	for (struct proc *p = c->execs; p && !exec_id; p = p->next)
		if (p->pid == pid)
			exec_id = p->exec_id;
	if (!exec_id)
		return NULL;
	Containerd__Runc__V1__ProcessDetails d = CONTAINERD__RUNC__V1__PROCESS_DETAILS__INIT;
	d.exec_id = (char *)exec_id;
	Google__Protobuf__Any *a = xmalloc(sizeof(*a));
	google__protobuf__any__init(a);
	a->type_url = xstrdup("containerd.runc.v1.ProcessDetails");
	a->value.len = protobuf_c_message_get_packed_size(&d.base);
	a->value.data = xmalloc(a->value.len ? a->value.len : 1);
	protobuf_c_message_pack(&d.base, a->value.data);
	return a;
}

static int task_pids(struct tt_call *call, const uint8_t *req, size_t req_len, uint8_t **resp,
		     size_t *resp_len, void *data, struct cc_error **err)
{
	struct target t;
	int ret = -1;
	_cleanup_free_ char *text = NULL;
	_cleanup_json_ json_t *pids = NULL;
	if (target_get(&containerd__task__v2__pids_request__descriptor, req, req_len, false, &t,
		       err) < 0)
		goto out;
	struct container *c = t.c;
	const char *argv[] = { "ps", "--format", "json", c->id, NULL };
	struct rune_cmd cmd = { .fds = { -1, -1, -1 }, .out = &text };
	if (shim_rune(c, argv, &cmd, err) < 0)
		goto out;
	pids = json_loads(text, 0, NULL);
	if (!json_is_array(pids)) {
		tt_error_status(err, TT_INTERNAL, "rune ps: not a JSON array of pids");
		goto out;
	}
	size_t n = json_array_size(pids);
	Containerd__V1__Types__ProcessInfo *infos = xcalloc(n ? n : 1, sizeof(*infos));
	Containerd__V1__Types__ProcessInfo **list = xcalloc(n ? n : 1, sizeof(*list));
	pthread_mutex_lock(&g_shim.lock);
	for (size_t i = 0; i < n; i++) {
		containerd__v1__types__process_info__init(&infos[i]);
		infos[i].pid = (uint32_t)json_integer_value(json_array_get(pids, i));
		infos[i].info = exec_details(c, (pid_t)infos[i].pid);
		list[i] = &infos[i];
	}
	pthread_mutex_unlock(&g_shim.lock);
	Containerd__Task__V2__PidsResponse out = CONTAINERD__TASK__V2__PIDS_RESPONSE__INIT;
	out.n_processes = n;
	out.processes = list;
	ret = reply(&out.base, resp, resp_len);
	for (size_t i = 0; i < n; i++)
		if (infos[i].info)
			protobuf_c_message_free_unpacked(&infos[i].info->base, NULL);
	free(infos);
	free(list);
out:
	target_put(&t);
	return ret;
}

/* ---- Kill, Pause, Resume, CloseIO, ResizePty, Update ---- */

static int task_kill(struct tt_call *call, const uint8_t *req, size_t req_len, uint8_t **resp,
		     size_t *resp_len, void *data, struct cc_error **err)
{
	struct target t;
	int ret = -1;
	if (target_get(&containerd__task__v2__kill_request__descriptor, req, req_len, true, &t,
		       err) < 0)
		goto out;
	const Containerd__Task__V2__KillRequest *r = (const void *)t.msg;
	struct container *c = t.c;
	struct proc *p = t.p;
	if (r->signal == 0 || r->signal > 64) {
		tt_error_status(err, TT_INVALID_ARGUMENT, "kill: invalid signal %u", r->signal);
		goto out;
	}
	pthread_mutex_lock(&g_shim.lock);
	bool gone = p->exited || p->pid <= 0;
	pid_t pid = p->pid;
	pthread_mutex_unlock(&g_shim.lock);
	/* NOT_FOUND is what containerd takes for "already gone": its CRI kills an exited task's
	 * processes again before the delete and retries anything else. */
	if (gone) {
		tt_error_status(err, TT_NOT_FOUND, "process already finished");
		goto out;
	}
	if (*p->exec_id) {
		/* The pid is ours until we reap it, so it cannot have been reused. */
		if (kill(pid, (int)r->signal) < 0 && errno != ESRCH) {
			cc_error_set(err, errno, "kill process %s", p->exec_id);
			goto out;
		}
	} else {
		char sig[16];
		snprintf(sig, sizeof(sig), "%u", r->signal);
		const char *all[] = { "kill", "--all", c->id, sig, NULL };
		const char *one[] = { "kill", c->id, sig, NULL };
		struct rune_cmd cmd = { .fds = { -1, -1, -1 } };
		if (shim_rune(c, r->all ? all : one, &cmd, err) < 0) {
			/* the init exited while rune ran */
			if (strstr((*err)->msg, "not running")) {
				cc_error_free(err);
				tt_error_status(err, TT_NOT_FOUND, "process already finished");
			}
			goto out;
		}
	}
	*resp = NULL, *resp_len = 0;
	ret = 0;
out:
	target_put(&t);
	return ret;
}

/* Pause and Resume: rune pause|resume, the state, an event. */
static int pause_resume(const uint8_t *req, size_t req_len, bool pause, struct cc_error **err)
{
	struct target t;
	int ret = -1;
	if (target_get(&containerd__task__v2__pause_request__descriptor, req, req_len, false, &t,
		       err) < 0)
		goto out;
	struct container *c = t.c;
	const char *argv[] = { pause ? "pause" : "resume", c->id, NULL };
	struct rune_cmd cmd = { .fds = { -1, -1, -1 } };
	if (shim_rune(c, argv, &cmd, err) < 0)
		goto out;
	pthread_mutex_lock(&g_shim.lock);
	if (!c->init.exited)
		c->init.state = pause ? PROC_PAUSED : PROC_RUNNING;
	Containerd__Events__TaskPaused ev = CONTAINERD__EVENTS__TASK_PAUSED__INIT;
	ev.container_id = c->id;
	if (pause) {
		publish("/tasks/paused", "TaskPaused", &ev.base);
	} else {
		Containerd__Events__TaskResumed rev = CONTAINERD__EVENTS__TASK_RESUMED__INIT;
		rev.container_id = c->id;
		publish("/tasks/resumed", "TaskResumed", &rev.base);
	}
	pthread_mutex_unlock(&g_shim.lock);
	ret = 0;
out:
	target_put(&t);
	return ret;
}

static int task_pause(struct tt_call *call, const uint8_t *req, size_t req_len, uint8_t **resp,
		      size_t *resp_len, void *data, struct cc_error **err)
{
	*resp = NULL, *resp_len = 0;
	return pause_resume(req, req_len, true, err);
}

static int task_resume(struct tt_call *call, const uint8_t *req, size_t req_len, uint8_t **resp,
		       size_t *resp_len, void *data, struct cc_error **err)
{
	*resp = NULL, *resp_len = 0;
	return pause_resume(req, req_len, false, err);
}

static int task_close_io(struct tt_call *call, const uint8_t *req, size_t req_len, uint8_t **resp,
			 size_t *resp_len, void *data, struct cc_error **err)
{
	struct target t;
	int ret = -1;
	if (target_get(&containerd__task__v2__close_iorequest__descriptor, req, req_len, true, &t,
		       err) < 0)
		goto out;
	const Containerd__Task__V2__CloseIORequest *r = (const void *)t.msg;
	struct proc *p = t.p;
	if (r->stdin)
		proc_io_close_stdin(p);
	*resp = NULL, *resp_len = 0;
	ret = 0;
out:
	target_put(&t);
	return ret;
}

static int task_resize_pty(struct tt_call *call, const uint8_t *req, size_t req_len, uint8_t **resp,
			   size_t *resp_len, void *data, struct cc_error **err)
{
	struct target t;
	int ret = -1;
	if (target_get(&containerd__task__v2__resize_pty_request__descriptor, req, req_len, true,
		       &t, err) < 0)
		goto out;
	const Containerd__Task__V2__ResizePtyRequest *r = (const void *)t.msg;
	struct proc *p = t.p;
	if (proc_io_resize(p, r->width, r->height, err) < 0)
		goto out;
	*resp = NULL, *resp_len = 0;
	ret = 0;
out:
	target_put(&t);
	return ret;
}

/* The resources come as JSON (an OCI LinuxResources), which `rune update -r -` reads. */
static int task_update(struct tt_call *call, const uint8_t *req, size_t req_len, uint8_t **resp,
		       size_t *resp_len, void *data, struct cc_error **err)
{
	struct target t;
	int ret = -1;
	if (target_get(&containerd__task__v2__update_task_request__descriptor, req, req_len, false,
		       &t, err) < 0)
		goto out;
	const Containerd__Task__V2__UpdateTaskRequest *r = (const void *)t.msg;
	struct container *c = t.c;
	if (!r->resources || !r->resources->value.len) {
		tt_error_status(err, TT_INVALID_ARGUMENT, "update %s: no resources", c->id);
		goto out;
	}
	const char *argv[] = { "update", "--resources", "-", c->id, NULL };
	struct rune_cmd cmd = { .fds = { -1, -1, -1 },
				.input = (const char *)r->resources->value.data,
				.input_len = r->resources->value.len };
	if (shim_rune(c, argv, &cmd, err) < 0)
		goto out;
	*resp = NULL, *resp_len = 0;
	ret = 0;
out:
	target_put(&t);
	return ret;
}

/* ---- Stats ---- */

static uint64_t u64_at(const json_t *j, const char *a, const char *b, const char *k)
{
	const json_t *v = json_object_get(json_object_get(json_object_get(j, a), b), k);
	if (!b)
		v = json_object_get(json_object_get(j, a), k);
	json_int_t i = json_integer_value(v);
	return i > 0 ? (uint64_t)i : 0;
}

/* rune's stats (runc's events --stats JSON) as cgroups v1 Metrics, which ctr and the CRI read. */
static int task_stats(struct tt_call *call, const uint8_t *req, size_t req_len, uint8_t **resp,
		      size_t *resp_len, void *data, struct cc_error **err)
{
	struct target t;
	int ret = -1;
	_cleanup_free_ char *text = NULL;
	_cleanup_free_ uint8_t *buf = NULL;
	_cleanup_json_ json_t *ev = NULL;
	if (target_get(&containerd__task__v2__stats_request__descriptor, req, req_len, false, &t,
		       err) < 0)
		goto out;
	struct container *c = t.c;
	const char *argv[] = { "events", "--stats", c->id, NULL };
	struct rune_cmd cmd = { .fds = { -1, -1, -1 }, .out = &text };
	if (shim_rune(c, argv, &cmd, err) < 0)
		goto out;
	ev = json_loads(text, JSON_DISABLE_EOF_CHECK, NULL);
	const json_t *d = json_object_get(ev, "data");
	if (!json_is_object(d)) {
		tt_error_status(err, TT_INTERNAL, "rune events --stats: no data");
		goto out;
	}
	Io__Containerd__Cgroups__V1__PidsStat pids = IO__CONTAINERD__CGROUPS__V1__PIDS_STAT__INIT;
	pids.current = u64_at(d, "pids", NULL, "current");
	pids.limit = u64_at(d, "pids", NULL, "limit");
	Io__Containerd__Cgroups__V1__CPUUsage usage = IO__CONTAINERD__CGROUPS__V1__CPUUSAGE__INIT;
	usage.total = u64_at(d, "cpu", "usage", "total");
	usage.kernel = u64_at(d, "cpu", "usage", "kernel");
	usage.user = u64_at(d, "cpu", "usage", "user");
	Io__Containerd__Cgroups__V1__CPUStat cpu = IO__CONTAINERD__CGROUPS__V1__CPUSTAT__INIT;
	cpu.usage = &usage;
	Io__Containerd__Cgroups__V1__MemoryEntry mu =
	    IO__CONTAINERD__CGROUPS__V1__MEMORY_ENTRY__INIT;
	mu.usage = u64_at(d, "memory", "usage", "usage");
	mu.limit = u64_at(d, "memory", "usage", "limit");
	mu.max = u64_at(d, "memory", "usage", "max");
	mu.failcnt = u64_at(d, "memory", "usage", "failcnt");
	Io__Containerd__Cgroups__V1__MemoryStat mem =
	    IO__CONTAINERD__CGROUPS__V1__MEMORY_STAT__INIT;
	mem.usage = &mu;
	Io__Containerd__Cgroups__V1__Metrics m = IO__CONTAINERD__CGROUPS__V1__METRICS__INIT;
	m.pids = &pids;
	m.cpu = &cpu;
	m.memory = &mem;
	size_t len = protobuf_c_message_get_packed_size(&m.base);
	buf = xmalloc(len ? len : 1);
	protobuf_c_message_pack(&m.base, buf);
	Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
	any.type_url = (char *)"io.containerd.cgroups.v1.Metrics";
	any.value = (ProtobufCBinaryData){ len, buf };
	Containerd__Task__V2__StatsResponse out = CONTAINERD__TASK__V2__STATS_RESPONSE__INIT;
	out.stats = &any;
	ret = reply(&out.base, resp, resp_len);
out:
	target_put(&t);
	return ret;
}

/* ---- Connect, Shutdown, Checkpoint ---- */

static int task_connect(struct tt_call *call, const uint8_t *req, size_t req_len, uint8_t **resp,
			size_t *resp_len, void *data, struct cc_error **err)
{
	UNPACK(r, Containerd__Task__V2__ConnectRequest, containerd__task__v2__connect_request)
	Containerd__Task__V2__ConnectResponse out = CONTAINERD__TASK__V2__CONNECT_RESPONSE__INIT;
	out.shim_pid = (uint32_t)getpid();
	out.version = (char *)RUNE_VERSION;
	struct cc_error *ignored = NULL;
	struct container *c = container_get(r->id, &ignored);
	cc_error_free(&ignored);
	if (c) {
		out.task_pid = (uint32_t)c->init.pid;
		shim_container_put(c);
	}
	containerd__task__v2__connect_request__free_unpacked(r, NULL);
	return reply(&out.base, resp, resp_len);
}

/* The daemon exits once no container is left (containerd asks after each task's delete). */
static int task_shutdown(struct tt_call *call, const uint8_t *req, size_t req_len, uint8_t **resp,
			 size_t *resp_len, void *data, struct cc_error **err)
{
	pthread_mutex_lock(&g_shim.lock);
	if (!g_shim.containers) {
		g_shim.shutdown = true;
		pthread_cond_broadcast(&g_shim.shutdown_cond);
	}
	pthread_mutex_unlock(&g_shim.lock);
	*resp = NULL, *resp_len = 0;
	return 0;
}

static int task_checkpoint(struct tt_call *call, const uint8_t *req, size_t req_len, uint8_t **resp,
			   size_t *resp_len, void *data, struct cc_error **err)
{
	return tt_error_status(err, TT_UNIMPLEMENTED, "checkpoint: rune has no checkpoint/restore");
}

/* ---- containerd.task.v2.Image, upstream's pull forwarding ---- */

/* One length-delimited field of a protobuf message (the last one, as protobuf reads it). */
static int pb_string(const uint8_t *buf, size_t len, unsigned field, char **out)
{
	size_t i = 0;
	*out = NULL;
	while (i < len) {
		uint64_t key = 0, v = 0;
		for (unsigned shift = 0;; shift += 7) {
			if (i >= len || shift > 63)
				return -1;
			key |= (uint64_t)(buf[i] & 0x7f) << shift;
			if (!(buf[i++] & 0x80))
				break;
		}
		unsigned type = key & 7;
		if (type == 0 || type == 2) {
			for (unsigned shift = 0;; shift += 7) {
				if (i >= len || shift > 63)
					return -1;
				v |= (uint64_t)(buf[i] & 0x7f) << shift;
				if (!(buf[i++] & 0x80))
					break;
			}
		}
		if (type == 2) {
			if (v > len - i)
				return -1;
			if (key >> 3 == field) {
				if (memchr(buf + i, 0, v))
					return -1;
				free(*out);
				*out = xstrndup((const char *)buf + i, v);
			}
			i += v;
		} else if (type == 1 || type == 5) {
			size_t n = type == 1 ? 8 : 4;
			if (n > len - i)
				return -1;
			i += n;
		} else if (type != 0) {
			return -1;
		}
	}
	return 0;
}

static int image_pull(struct tt_call *call, const uint8_t *req, size_t req_len, uint8_t **resp,
		      size_t *resp_len, void *data, struct cc_error **err)
{
	_cleanup_free_ char *image = NULL;
	if (pb_string(req, req_len, 1, &image) < 0 || !image || !*image)
		return tt_error_status(err, TT_INVALID_ARGUMENT,
				       "PullImageRequest: no image, or not a valid message");
	struct container *sandbox = NULL;
	pthread_mutex_lock(&g_shim.lock);
	for (struct container *o = g_shim.containers; o && !sandbox; o = o->next)
		if (o->ready && o->pod_owner) {
			sandbox = o;
			o->refs++;
		}
	pthread_mutex_unlock(&g_shim.lock);
	if (!sandbox)
		return tt_error_status(err, TT_FAILED_PRECONDITION,
				       "pull %s: this shim serves no confidential pod", image);
	int r = pod_pull(sandbox, image, err);
	shim_container_put(sandbox);
	if (r < 0)
		return -1;
	/* upstream answers with the name it was given */
	size_t n = strlen(image);
	uint8_t *out = xmalloc(n + 11);
	size_t k = 0;
	out[k++] = 0x0a;
	for (size_t v = n;; v >>= 7) {
		out[k++] = (uint8_t)(v & 0x7f) | (v >= 0x80 ? 0x80 : 0);
		if (v < 0x80)
			break;
	}
	memcpy(out + k, image, n);
	*resp = out;
	*resp_len = k + n;
	return 0;
}

int service_register(struct tt_server *s, struct cc_error **err)
{
	static const struct {
		const char *method;
		tt_handler_fn fn;
	} routes[] = {
		{ "Create", task_create },
		{ "Start", task_start },
		{ "Delete", task_delete },
		{ "Exec", task_exec },
		{ "State", task_state },
		{ "Wait", task_wait },
		{ "Pids", task_pids },
		{ "Kill", task_kill },
		{ "Pause", task_pause },
		{ "Resume", task_resume },
		{ "CloseIO", task_close_io },
		{ "ResizePty", task_resize_pty },
		{ "Update", task_update },
		{ "Stats", task_stats },
		{ "Connect", task_connect },
		{ "Shutdown", task_shutdown },
		{ "Checkpoint", task_checkpoint },
	};
	for (size_t i = 0; i < sizeof(routes) / sizeof(*routes); i++)
		if (tt_server_register(s, SERVICE, routes[i].method, routes[i].fn, NULL, err) < 0)
			return -1;
	return tt_server_register(s, "containerd.task.v2.Image", "PullImage", image_pull, NULL,
				  err);
}
