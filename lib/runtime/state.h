/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A container's on-disk state under --root:
 *   <root>/<id>/state.json   what `state`/`list` need plus the resolved cgroup paths
 *   <root>/<id>/config.json  the bundle's config as it was at create (exec, delete hooks, update)
 *   <root>/<id>/exec.fifo    exists while the container is "created"; `start` claims it
 *   <root>/<id>/...          what a container handler keeps there (enclave: agent.sock)
 * Status is never stored: it is derived from the init's liveness (pid + start time, so a
 * recycled pid is not mistaken for the init), the fifo and the freezer.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
#include <jansson.h>
#include "runtime/cgroup.h"
#include "runtime/handler.h"
#include "runtime/spec.h"
#include "util/error.h"

enum rt_status { RT_CREATING = 0, RT_CREATED, RT_RUNNING, RT_PAUSED, RT_STOPPED };

struct rt_state {
	char *id;
	char *dir; /* <root>/<id> */
	pid_t pid;
	unsigned long long start_time; /* /proc/<pid>/stat field 22 */
	char *bundle;
	char *rootfs;
	char *created; /* RFC 3339, UTC, nanoseconds */
	char *owner;
	char *oci_version; /* the config's ociVersion */
	bool systemd_cgroup;
	json_t *cgroup; /* rt_cgroup_to_json() */
	json_t *annotations;
	char *handler;	      /* the container handler's name (runtime/handler.h), or NULL */
	json_t *handler_data; /* what the handler saved for later commands */
};

const char *rt_status_name(enum rt_status s);
/* runc's id rule: [A-Za-z0-9_+.-]+, not "." or "..". */
bool rt_id_valid(const char *id);
/* Load <root>/<id>/state.json; error "container does not exist" when missing. */
CC_MUST_CHECK struct rt_state *rt_state_load(const char *root, const char *id,
					     struct cc_error **err);
CC_MUST_CHECK int rt_state_save(const struct rt_state *st, struct cc_error **err);
void rt_state_free(struct rt_state *st);
enum rt_status rt_state_status(const struct rt_state *st);
/* The runc `state` JSON object for this container. */
json_t *rt_state_to_oci(const struct rt_state *st, enum rt_status status);
/* Process start time from /proc/<pid>/stat, 0 if the process is gone. */
unsigned long long rt_proc_start_time(pid_t pid);
/* The saved config of a container (parsed). */
CC_MUST_CHECK struct rt_spec *rt_state_spec(const struct rt_state *st, struct cc_error **err);
/* Open the container's cgroup handle from the saved state. */
CC_MUST_CHECK struct rt_cgroup *rt_state_cgroup(const struct rt_state *st, struct cc_error **err);
/* The handler called name among handlers (NULL-terminated), or NULL. */
const struct rt_handler *rt_handler_find(const struct rt_handler *const *handlers,
					 const char *name);
/* Current UTC time as RFC 3339 with nanoseconds. */
char *rt_now_rfc3339(void);
