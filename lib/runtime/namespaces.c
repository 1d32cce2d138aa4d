// SPDX-License-Identifier: Apache-2.0
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "runtime/namespaces.h"
#include "util/cleanup.h"
#include "util/fs.h"

int rt_ns_new_flags(const struct rt_spec *spec)
{
	int flags = 0;
	for (size_t i = 0; i < spec->linux.n_namespaces; i++) {
		const struct rt_namespace *ns = &spec->linux.namespaces[i];
		if (!ns->path || !*ns->path)
			flags |= rt_ns_clone_flag(ns->type);
	}
	return flags;
}

bool rt_ns_has_joins(const struct rt_spec *spec)
{
	for (size_t i = 0; i < spec->linux.n_namespaces; i++)
		if (spec->linux.namespaces[i].path && *spec->linux.namespaces[i].path)
			return true;
	return false;
}

static int join_one(const struct rt_namespace *ns, struct cc_error **err)
{
	_cleanup_close_ int fd = open(ns->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cc_error_errno(err, "open %s namespace %s", rt_ns_type_name(ns->type),
				      ns->path);
	if (setns(fd, rt_ns_clone_flag(ns->type)) < 0)
		return cc_error_errno(err, "join %s namespace %s", rt_ns_type_name(ns->type),
				      ns->path);
	return 0;
}

int rt_ns_join_paths(const struct rt_spec *spec, int skip, struct cc_error **err)
{
	/* The user namespace decides what we may join afterwards, so it goes first. */
	const struct rt_namespace *user = rt_spec_namespace(spec, RT_NS_USER);
	if (user && user->path && *user->path && !(skip & CLONE_NEWUSER))
		if (join_one(user, err) < 0)
			return -1;
	for (size_t i = 0; i < spec->linux.n_namespaces; i++) {
		const struct rt_namespace *ns = &spec->linux.namespaces[i];
		if (ns->type == RT_NS_USER || !ns->path || !*ns->path)
			continue;
		if (skip & rt_ns_clone_flag(ns->type))
			continue;
		if (join_one(ns, err) < 0)
			return -1;
	}
	return 0;
}

static char *format_map(const struct rt_idmap *m, size_t n)
{
	size_t cap = n * 40 + 1, len = 0;
	char *buf = xzalloc(cap);
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(buf + len, cap - len, "%u %u %u\n", m[i].container_id,
					m[i].host_id, m[i].size);
	return buf;
}

int rt_ns_write_id_maps(pid_t pid, const struct rt_spec *spec, struct cc_error **err)
{
	char path[64];
	_cleanup_free_ char *uid = format_map(spec->linux.uid_mappings, spec->linux.n_uid_mappings);
	_cleanup_free_ char *gid = format_map(spec->linux.gid_mappings, spec->linux.n_gid_mappings);

	/* Without CAP_SETGID in the parent namespace the kernel only accepts a gid_map after
	 * setgroups is denied. */
	if (geteuid() != 0) {
		snprintf(path, sizeof(path), "/proc/%d/setgroups", (int)pid);
		if (cc_write_file(path, "deny", 4, 0, err) < 0)
			return -1;
	}
	snprintf(path, sizeof(path), "/proc/%d/uid_map", (int)pid);
	if (cc_write_file(path, uid, strlen(uid), 0, err) < 0)
		return cc_error_prefix(err, "user namespace: uidMappings");
	snprintf(path, sizeof(path), "/proc/%d/gid_map", (int)pid);
	if (cc_write_file(path, gid, strlen(gid), 0, err) < 0)
		return cc_error_prefix(err, "user namespace: gidMappings");
	return 0;
}

static bool same_ns(pid_t pid, const char *name)
{
	char a[64], b[64];
	struct stat sa, sb;
	snprintf(a, sizeof(a), "/proc/%d/ns/%s", (int)pid, name);
	snprintf(b, sizeof(b), "/proc/self/ns/%s", name);
	if (stat(a, &sa) < 0 || stat(b, &sb) < 0)
		return true; /* kernel without that namespace type */
	return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

int rt_ns_join_process(pid_t pid, struct cc_error **err)
{
	static const struct {
		const char *name;
		int flag;
	} order[] = {
		{ "user", CLONE_NEWUSER }, { "ipc", CLONE_NEWIPC }, { "uts", CLONE_NEWUTS },
		{ "net", CLONE_NEWNET },   { "pid", CLONE_NEWPID }, { "cgroup", CLONE_NEWCGROUP },
		{ "time", CLONE_NEWTIME }, { "mnt", CLONE_NEWNS },
	};
	int fds[ARRAY_SIZE(order)];
	int ret = 0;

	/* Open everything first: once we are in the container's mount namespace, /proc may
	 * not be the host's any more. */
	for (size_t i = 0; i < ARRAY_SIZE(order); i++) {
		char path[64];
		fds[i] = -1;
		if (same_ns(pid, order[i].name))
			continue;
		snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, order[i].name);
		fds[i] = open(path, O_RDONLY | O_CLOEXEC);
		if (fds[i] < 0) {
			ret = cc_error_errno(err, "open %s", path);
			break;
		}
	}
	for (size_t i = 0; ret == 0 && i < ARRAY_SIZE(order); i++) {
		if (fds[i] >= 0 && setns(fds[i], order[i].flag) < 0)
			ret = cc_error_errno(err, "join %s namespace of pid %d", order[i].name,
					     (int)pid);
	}
	for (size_t i = 0; i < ARRAY_SIZE(order); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return ret;
}
