// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for lib/runtime/config.c (config.json and process.json parsing), spec-default.c and
 * the name tables in names.c. JSON in this file is written with single quotes for readability;
 * q() turns them into double quotes before parsing.
 */
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <unistd.h>
#include <cmocka.h>
#include "runtime/names.h"
#include "runtime/spec.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/strv.h"

static void spec_freep(struct rt_spec **s)
{
	rt_spec_free(*s);
}

static void process_freep(struct rt_process **p)
{
	rt_process_free(*p);
}

#define _cleanup_spec_ __attribute__((cleanup(spec_freep)))
#define _cleanup_process_ __attribute__((cleanup(process_freep)))
#define _cleanup_error_ __attribute__((cleanup(cc_error_free)))

/* 'x' -> "x": the JSON below is written with single quotes. Caller frees. */
static char *q(const char *s)
{
	char *r = xstrdup(s);
	for (char *p = r; *p; p++)
		if (*p == '\'')
			*p = '"';
	return r;
}

/* A minimal document around some top-level members, a process or a linux section. */
#define DOC(...) "{'ociVersion':'1.0.2'," __VA_ARGS__ "}"
#define PROC(...) DOC("'process':{'args':['sh'],'cwd':'/'," __VA_ARGS__ "}")
#define LINUX(...) DOC("'linux':{" __VA_ARGS__ "}")

static struct rt_spec *parse(const char *json, struct cc_error **err)
{
	_cleanup_free_ char *text = q(json);
	return rt_spec_parse("config.json", text, strlen(text), err);
}

static struct rt_process *parse_process(const char *json, struct cc_error **err)
{
	_cleanup_free_ char *text = q(json);
	return rt_process_parse("process.json", text, strlen(text), err);
}

/* Parse what must be valid; fail with the parser's message otherwise. */
static struct rt_spec *parse_ok(const char *json)
{
	struct cc_error *err = NULL;
	struct rt_spec *s = parse(json, &err);
	if (!s) {
		char msg[1024];
		snprintf(msg, sizeof(msg), "%s", err ? err->msg : "(no error set)");
		cc_error_free(&err);
		fail_msg("unexpected parse error: %s\ninput: %s", msg, json);
	}
	assert_null(err);
	return s;
}

/* A rejected input and the exact message it must produce. */
struct bad {
	const char *json;
	const char *msg;
};

static void check_bad(const struct bad *cases, size_t n)
{
	/* Every case is checked and all mismatches reported together (nothing leaks when a
	 * case fails: the report is built in a fixed buffer). */
	char report[8192] = "";
	size_t bad = 0;
	for (size_t i = 0; i < n; i++) {
		struct cc_error *err = NULL;
		struct rt_spec *s = parse(cases[i].json, &err);
		size_t used = strlen(report);
		if (s)
			snprintf(report + used, sizeof(report) - used, "\ncase %zu accepted: %s", i,
				 cases[i].json);
		else if (!err)
			snprintf(report + used, sizeof(report) - used,
				 "\ncase %zu rejected without an error: %s", i, cases[i].json);
		else if (strcmp(err->msg, cases[i].msg) != 0 || err->errnum != 0)
			snprintf(report + used, sizeof(report) - used,
				 "\ncase %zu: %s\n  got:  %s\n  want: %s", i, cases[i].json,
				 err->msg, cases[i].msg);
		bad += strlen(report) != used;
		rt_spec_free(s);
		cc_error_free(&err);
	}
	if (bad)
		fail_msg("%zu of %zu cases failed:%s", bad, n, report);
}

/* Rejected with a message starting with `prefix` and containing `part` (JSON syntax errors,
 * whose wording comes from jansson). */
static void check_bad_syntax(const char *json, const char *prefix, const char *part)
{
	struct cc_error *err = NULL;
	struct rt_spec *s = parse(json, &err);
	bool ok =
	    !s && err && strncmp(err->msg, prefix, strlen(prefix)) == 0 && strstr(err->msg, part);
	char got[1024];
	snprintf(got, sizeof(got), "%s", s ? "(accepted)" : err ? err->msg : "(no error)");
	rt_spec_free(s);
	cc_error_free(&err);
	if (!ok)
		fail_msg("input %s: got \"%s\", want \"%s...%s...\"", json, got, prefix, part);
}

static bool strv_eq(char *const *v, const char *const *want)
{
	size_t i;
	if (!v)
		return !want || !want[0];
	for (i = 0; want[i]; i++)
		if (!v[i] || strcmp(v[i], want[i]) != 0)
			return false;
	return v[i] == NULL;
}

#define assert_strv(v, ...)                                                    \
	do {                                                                   \
		const char *const _want[] = { __VA_ARGS__, NULL };             \
		if (!strv_eq((v), _want))                                      \
			fail_msg("%s does not hold the expected strings", #v); \
	} while (0)

#define CAP(n) (1ULL << (n))

/* ---- a full, valid config ---- */

static const char full_config[] =
    "{"
    " 'ociVersion': '1.0.2-dev',"
    " 'process': {"
    "  'terminal': true,"
    "  'consoleSize': {'height': 25, 'width': 80},"
    "  'user': {'uid': 1000, 'gid': 1001, 'umask': 18, 'additionalGids': [5, 4294967295],"
    "           'username': 'app'},"
    "  'args': ['sh', '-c', 'echo hi'],"
    "  'env': ['PATH=/usr/bin:/bin', 'TERM=xterm', 'EMPTY='],"
    "  'cwd': '/home/app',"
    "  'capabilities': {"
    "   'bounding': ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'],"
    "   'effective': ['CAP_KILL'],"
    "   'inheritable': [],"
    "   'permitted': ['CAP_KILL', 'CAP_SYS_ADMIN'],"
    "   'ambient': ['CAP_NET_BIND_SERVICE']"
    "  },"
    "  'rlimits': [{'type': 'RLIMIT_NOFILE', 'hard': 1024, 'soft': 512},"
    "              {'type': 'RLIMIT_CORE', 'hard': 0, 'soft': 0},"
    "              {'type': 'RLIMIT_STACK', 'hard': 9223372036854775807, 'soft': 8388608}],"
    "  'noNewPrivileges': true,"
    "  'apparmorProfile': 'docker-default',"
    "  'selinuxLabel': 'system_u:system_r:container_t:s0',"
    "  'oomScoreAdj': -500,"
    "  'ioPriority': {'class': 'IOPRIO_CLASS_BE', 'priority': 4}"
    " },"
    " 'root': {'path': 'rootfs', 'readonly': true},"
    " 'hostname': 'box',"
    " 'domainname': 'example.org',"
    " 'mounts': ["
    "  {'destination': '/proc', 'type': 'proc', 'source': 'proc'},"
    "  {'destination': '/dev', 'type': 'tmpfs', 'source': 'tmpfs',"
    "   'options': ['nosuid', 'strictatime', 'mode=755', 'size=65536k']},"
    "  {'destination': '/dev/pts', 'type': 'devpts', 'source': 'devpts',"
    "   'options': ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5']},"
    "  {'destination': '/sys', 'type': 'sysfs', 'source': 'sysfs',"
    "   'options': ['ro', 'nosuid', 'noexec', 'nodev']},"
    "  {'destination': '/data', 'type': 'bind', 'source': '/srv/data',"
    "   'options': ['rbind', 'rw', 'rslave']},"
    "  {'destination': '/etc/hosts', 'source': '/tmp/hosts', 'options': ['bind', 'ro,nosuid']},"
    "  {'destination': '/scratch/../tmp//x/', 'type': 'tmpfs', 'source': 'tmpfs',"
    "   'options': ['tmpcopyup', 'noatime', 'rprivate', 'defaults']},"
    "  {'destination': '/mnt/shared', 'type': 'bind', 'source': '/srv'}"
    " ],"
    " 'hooks': {"
    "  'prestart': [{'path': '/usr/bin/pre', 'args': ['pre', 'a'], 'env': ['K=V'],"
    "                'timeout': 5}],"
    "  'createRuntime': [{'path': '/bin/cr1'}, {'path': '/bin/cr2', 'args': ['cr2']}],"
    "  'createContainer': [{'path': '/bin/cc', 'timeout': 1}],"
    "  'startContainer': [{'path': '/bin/sc', 'env': ['A=1', 'B=2']}],"
    "  'poststart': [{'path': '/bin/ps'}],"
    "  'poststop': [{'path': '/bin/pst', 'timeout': 30}]"
    " },"
    " 'annotations': {'org.example.key': 'value', 'other': ''},"
    " 'linux': {"
    "  'namespaces': [{'type': 'pid'}, {'type': 'network', 'path': '/var/run/netns/x'},"
    "                 {'type': 'ipc'}, {'type': 'uts'}, {'type': 'mount'}, {'type': 'user'},"
    "                 {'type': 'cgroup', 'path': ''}, {'type': 'time'}],"
    "  'uidMappings': [{'containerID': 0, 'hostID': 100000, 'size': 65536}],"
    "  'gidMappings': [{'containerID': 0, 'hostID': 200000, 'size': 1000},"
    "                  {'containerID': 1000, 'hostID': 1000, 'size': 1}],"
    "  'devices': [{'path': '/dev/fuse', 'type': 'c', 'major': 10, 'minor': 229,"
    "               'fileMode': 438, 'uid': 0, 'gid': 6},"
    "              {'path': '/dev/sda', 'type': 'b', 'major': 8, 'minor': 0},"
    "              {'path': '/dev/fifo', 'type': 'p'},"
    "              {'path': '/dev/tty9', 'type': 'u', 'major': 4, 'minor': 9}],"
    "  'cgroupsPath': '/rune/test',"
    "  'resources': {"
    "   'devices': [{'allow': false, 'access': 'rwm'},"
    "               {'allow': true, 'type': 'c', 'major': 1, 'minor': 3, 'access': 'rw'},"
    "               {'allow': true, 'type': 'b', 'major': 8, 'access': ''},"
    "               {'allow': true, 'type': 'a', 'major': -1, 'minor': -1, 'access': 'm'}],"
    "   'memory': {'limit': 536870912, 'reservation': 268435456, 'swap': -1,"
    "              'kernelTCP': 1048576, 'swappiness': 60, 'disableOOMKiller': false,"
    "              'useHierarchy': true},"
    "   'cpu': {'shares': 1024, 'quota': 50000, 'period': 100000, 'burst': 10000,"
    "           'realtimeRuntime': 950000, 'realtimePeriod': 1000000, 'cpus': '0-1',"
    "           'mems': '0', 'idle': 1},"
    "   'pids': {'limit': 100},"
    "   'blockIO': {'weight': 500, 'leafWeight': 300,"
    "               'weightDevice': [{'major': 8, 'minor': 0, 'weight': 600},"
    "                                {'major': 8, 'minor': 16, 'leafWeight': 10}],"
    "               'throttleReadBpsDevice': [{'major': 8, 'minor': 0, 'rate': 1048576}],"
    "               'throttleWriteBpsDevice': [{'major': 8, 'minor': 0, 'rate': 2097152}],"
    "               'throttleReadIOPSDevice': [{'major': 8, 'minor': 0, 'rate': 1000}],"
    "               'throttleWriteIOPSDevice': [{'major': 8, 'minor': 16, 'rate': 100}]},"
    "   'hugepageLimits': [{'pageSize': '2MB', 'limit': 209715200},"
    "                      {'pageSize': '1GB', 'limit': 0}],"
    "   'network': {'classID': 1048577, 'priorities': [{'name': 'eth0', 'priority': 500}]},"
    "   'unified': {'memory.high': '1073741824', 'io.weight': 'default 100'}"
    "  },"
    "  'sysctl': {'net.ipv4.ip_forward': '1', 'kernel.shmmax': '65536',"
    "             'fs.mqueue.msg_max': '100', 'kernel.domainname': 'x'},"
    "  'seccomp': {"
    "   'defaultAction': 'SCMP_ACT_ERRNO', 'defaultErrnoRet': 1,"
    "   'architectures': ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_AARCH64'],"
    "   'flags': ['SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW'],"
    "   'listenerPath': '/run/seccomp.sock', 'listenerMetadata': 'meta',"
    "   'syscalls': ["
    "    {'names': ['read', 'write'], 'action': 'SCMP_ACT_ALLOW'},"
    "    {'names': ['personality'], 'action': 'SCMP_ACT_ALLOW',"
    "     'args': [{'index': 0, 'value': 0, 'op': 'SCMP_CMP_EQ'},"
    "              {'index': 5, 'value': 65535, 'valueTwo': 8, 'op': 'SCMP_CMP_MASKED_EQ'}]},"
    "    {'names': ['mkdir'], 'action': 'SCMP_ACT_ERRNO', 'errnoRet': 13},"
    "    {'names': ['ptrace'], 'action': 'SCMP_ACT_NOTIFY'},"
    "    {'names': ['kill'], 'action': 'SCMP_ACT_KILL_PROCESS',"
    "     'args': [{'index': 1, 'value': -1, 'op': 'SCMP_CMP_NE'}]}"
    "   ]"
    "  },"
    "  'rootfsPropagation': 'rslave',"
    "  'maskedPaths': ['/proc/kcore', '/sys/firmware'],"
    "  'readonlyPaths': ['/proc/sys', '/proc/bus'],"
    "  'mountLabel': 'system_u:object_r:container_file_t:s0',"
    "  'personality': {'domain': 'LINUX32'}"
    " }"
    "}";

static void test_full_process(void **state)
{
	_cleanup_spec_ struct rt_spec *s = parse_ok(full_config);
	assert_string_equal(s->oci_version, "1.0.2-dev");
	assert_non_null(s->raw);
	struct rt_process *p = s->process;
	assert_non_null(p);
	assert_true(p->terminal);
	assert_true(p->has_console_size);
	assert_int_equal(p->console_height, 25);
	assert_int_equal(p->console_width, 80);
	assert_int_equal(p->user.uid, 1000);
	assert_int_equal(p->user.gid, 1001);
	assert_true(p->user.has_umask);
	assert_int_equal(p->user.umask, 022);
	assert_int_equal(p->user.n_additional_gids, 2);
	assert_int_equal(p->user.additional_gids[0], 5);
	assert_int_equal(p->user.additional_gids[1], 4294967295u);
	assert_string_equal(p->user.username, "app");
	assert_strv(p->args, "sh", "-c", "echo hi");
	assert_strv(p->env, "PATH=/usr/bin:/bin", "TERM=xterm", "EMPTY=");
	assert_string_equal(p->cwd, "/home/app");

	assert_true(p->caps.present);
	assert_int_equal(p->caps.bounding,
			 CAP(CAP_AUDIT_WRITE) | CAP(CAP_KILL) | CAP(CAP_NET_BIND_SERVICE));
	assert_int_equal(p->caps.effective, CAP(CAP_KILL));
	assert_int_equal(p->caps.inheritable, 0);
	assert_int_equal(p->caps.permitted, CAP(CAP_KILL) | CAP(CAP_SYS_ADMIN));
	assert_int_equal(p->caps.ambient, CAP(CAP_NET_BIND_SERVICE));

	assert_int_equal(p->n_rlimits, 3);
	assert_int_equal(p->rlimits[0].resource, RLIMIT_NOFILE);
	assert_int_equal(p->rlimits[0].soft, 512);
	assert_int_equal(p->rlimits[0].hard, 1024);
	assert_int_equal(p->rlimits[1].resource, RLIMIT_CORE);
	assert_int_equal(p->rlimits[1].soft, 0);
	assert_int_equal(p->rlimits[1].hard, 0);
	assert_int_equal(p->rlimits[2].resource, RLIMIT_STACK);
	assert_int_equal(p->rlimits[2].soft, 8388608);
	assert_int_equal(p->rlimits[2].hard, INT64_MAX);

	assert_true(p->no_new_privileges);
	assert_string_equal(p->apparmor_profile, "docker-default");
	assert_string_equal(p->selinux_label, "system_u:system_r:container_t:s0");
	assert_true(p->has_oom_score_adj);
	assert_int_equal(p->oom_score_adj, -500);
	assert_true(p->has_io_priority);
	assert_int_equal(p->io_priority_class, 2); /* IOPRIO_CLASS_BE */
	assert_int_equal(p->io_priority, 4);
}

static void test_full_root_mounts(void **state)
{
	_cleanup_spec_ struct rt_spec *s = parse_ok(full_config);
	assert_string_equal(s->root.path, "rootfs");
	assert_true(s->root.readonly);
	assert_string_equal(s->hostname, "box");
	assert_string_equal(s->domainname, "example.org");

	assert_int_equal(s->n_mounts, 8);
	struct rt_mount *m = s->mounts;
	/* /proc: no options at all */
	assert_string_equal(m[0].destination, "/proc");
	assert_string_equal(m[0].type, "proc");
	assert_string_equal(m[0].source, "proc");
	assert_null(m[0].options);
	assert_int_equal(m[0].flags, 0);
	assert_int_equal(m[0].clear_flags, 0);
	assert_int_equal(m[0].propagation, 0);
	assert_null(m[0].data);
	assert_false(m[0].bind);
	assert_false(m[0].tmpcopyup);

	/* /dev: flags and filesystem data, in order */
	assert_string_equal(m[1].destination, "/dev");
	assert_strv(m[1].options, "nosuid", "strictatime", "mode=755", "size=65536k");
	assert_int_equal(m[1].flags, MS_NOSUID | MS_STRICTATIME);
	assert_string_equal(m[1].data, "mode=755,size=65536k");

	assert_int_equal(m[2].flags, MS_NOSUID | MS_NOEXEC);
	assert_string_equal(m[2].data, "newinstance,ptmxmode=0666,mode=0620,gid=5");

	/* /sys: "ro", "nosuid", ... -> MS_RDONLY|MS_NOSUID|... and no data */
	assert_int_equal(m[3].flags, MS_RDONLY | MS_NOSUID | MS_NOEXEC | MS_NODEV);
	assert_int_equal(m[3].clear_flags, 0);
	assert_null(m[3].data);
	assert_false(m[3].bind);

	/* rbind: bind + MS_REC; "rw" is an explicit clear; rslave is propagation */
	assert_string_equal(m[4].type, "bind");
	assert_string_equal(m[4].source, "/srv/data");
	assert_true(m[4].bind);
	assert_int_equal(m[4].flags, MS_BIND | MS_REC);
	assert_int_equal(m[4].clear_flags, MS_RDONLY);
	assert_int_equal(m[4].propagation, MS_SLAVE | MS_REC);
	assert_null(m[4].data);

	/* "bind" without a type; options are not split on commas: "ro,nosuid" is data */
	assert_null(m[5].type);
	assert_true(m[5].bind);
	assert_int_equal(m[5].flags, MS_BIND);
	assert_string_equal(m[5].data, "ro,nosuid");

	/* destination cleaned; tmpcopyup; rprivate; "defaults" sets nothing */
	assert_string_equal(m[6].destination, "/tmp/x");
	assert_true(m[6].tmpcopyup);
	assert_int_equal(m[6].flags, MS_NOATIME);
	assert_int_equal(m[6].propagation, MS_PRIVATE | MS_REC);
	assert_null(m[6].data);

	/* type "bind" alone makes a (non-recursive) bind mount */
	assert_true(m[7].bind);
	assert_int_equal(m[7].flags, MS_BIND);
	assert_null(m[7].options);
	assert_null(m[7].data);

	assert_int_equal(s->n_annotations, 2);
	assert_string_equal(rt_spec_annotation(s, "org.example.key"), "value");
	assert_string_equal(rt_spec_annotation(s, "other"), "");
	assert_null(rt_spec_annotation(s, "missing"));
}

static void test_full_hooks(void **state)
{
	_cleanup_spec_ struct rt_spec *s = parse_ok(full_config);
	const struct rt_hooks *h = &s->hooks;
	assert_int_equal(h->count[RT_HOOK_PRESTART], 1);
	assert_int_equal(h->count[RT_HOOK_CREATE_RUNTIME], 2);
	assert_int_equal(h->count[RT_HOOK_CREATE_CONTAINER], 1);
	assert_int_equal(h->count[RT_HOOK_START_CONTAINER], 1);
	assert_int_equal(h->count[RT_HOOK_POSTSTART], 1);
	assert_int_equal(h->count[RT_HOOK_POSTSTOP], 1);

	const struct rt_hook *pre = &h->list[RT_HOOK_PRESTART][0];
	assert_string_equal(pre->path, "/usr/bin/pre");
	assert_strv(pre->args, "pre", "a");
	assert_strv(pre->env, "K=V");
	assert_int_equal(pre->timeout, 5);

	assert_string_equal(h->list[RT_HOOK_CREATE_RUNTIME][0].path, "/bin/cr1");
	assert_null(h->list[RT_HOOK_CREATE_RUNTIME][0].args);
	assert_null(h->list[RT_HOOK_CREATE_RUNTIME][0].env);
	assert_int_equal(h->list[RT_HOOK_CREATE_RUNTIME][0].timeout, 0);
	assert_string_equal(h->list[RT_HOOK_CREATE_RUNTIME][1].path, "/bin/cr2");
	assert_strv(h->list[RT_HOOK_CREATE_RUNTIME][1].args, "cr2");
	assert_string_equal(h->list[RT_HOOK_CREATE_CONTAINER][0].path, "/bin/cc");
	assert_int_equal(h->list[RT_HOOK_CREATE_CONTAINER][0].timeout, 1);
	assert_string_equal(h->list[RT_HOOK_START_CONTAINER][0].path, "/bin/sc");
	assert_strv(h->list[RT_HOOK_START_CONTAINER][0].env, "A=1", "B=2");
	assert_string_equal(h->list[RT_HOOK_POSTSTART][0].path, "/bin/ps");
	assert_string_equal(h->list[RT_HOOK_POSTSTOP][0].path, "/bin/pst");
	assert_int_equal(h->list[RT_HOOK_POSTSTOP][0].timeout, 30);
}

static void test_full_linux(void **state)
{
	_cleanup_spec_ struct rt_spec *s = parse_ok(full_config);
	const struct rt_linux *l = &s->linux;
	assert_true(s->has_linux);

	static const enum rt_ns_type types[] = { RT_NS_PID,    RT_NS_NETWORK, RT_NS_IPC,
						 RT_NS_UTS,    RT_NS_MOUNT,   RT_NS_USER,
						 RT_NS_CGROUP, RT_NS_TIME };
	assert_int_equal(l->n_namespaces, ARRAY_SIZE(types));
	for (size_t i = 0; i < ARRAY_SIZE(types); i++) {
		assert_int_equal(l->namespaces[i].type, types[i]);
		assert_ptr_equal(rt_spec_namespace(s, types[i]), &l->namespaces[i]);
	}
	assert_null(l->namespaces[0].path);
	assert_string_equal(l->namespaces[1].path, "/var/run/netns/x");
	assert_null(l->namespaces[6].path); /* "" means a new namespace */

	assert_int_equal(l->n_uid_mappings, 1);
	assert_int_equal(l->uid_mappings[0].container_id, 0);
	assert_int_equal(l->uid_mappings[0].host_id, 100000);
	assert_int_equal(l->uid_mappings[0].size, 65536);
	assert_int_equal(l->n_gid_mappings, 2);
	assert_int_equal(l->gid_mappings[0].host_id, 200000);
	assert_int_equal(l->gid_mappings[0].size, 1000);
	assert_int_equal(l->gid_mappings[1].container_id, 1000);
	assert_int_equal(l->gid_mappings[1].host_id, 1000);
	assert_int_equal(l->gid_mappings[1].size, 1);

	assert_int_equal(l->n_devices, 4);
	assert_int_equal(l->devices[0].type, 'c');
	assert_string_equal(l->devices[0].path, "/dev/fuse");
	assert_int_equal(l->devices[0].major, 10);
	assert_int_equal(l->devices[0].minor, 229);
	assert_true(l->devices[0].has_file_mode);
	assert_int_equal(l->devices[0].file_mode, 0666);
	assert_true(l->devices[0].has_uid);
	assert_int_equal(l->devices[0].uid, 0);
	assert_true(l->devices[0].has_gid);
	assert_int_equal(l->devices[0].gid, 6);
	assert_int_equal(l->devices[1].type, 'b');
	assert_int_equal(l->devices[1].major, 8);
	assert_int_equal(l->devices[1].minor, 0);
	assert_false(l->devices[1].has_file_mode);
	assert_false(l->devices[1].has_uid);
	assert_false(l->devices[1].has_gid);
	assert_int_equal(l->devices[2].type, 'p');
	assert_string_equal(l->devices[2].path, "/dev/fifo");
	assert_int_equal(l->devices[3].type, 'u');

	assert_string_equal(l->cgroups_path, "/rune/test");

	assert_int_equal(l->n_sysctl, 4);
	assert_string_equal(l->sysctl[0].key, "net.ipv4.ip_forward");
	assert_string_equal(l->sysctl[0].value, "1");
	assert_string_equal(l->sysctl[3].key, "kernel.domainname");
	assert_string_equal(l->sysctl[3].value, "x");

	assert_int_equal(l->rootfs_propagation, MS_SLAVE | MS_REC);
	assert_strv(l->masked_paths, "/proc/kcore", "/sys/firmware");
	assert_strv(l->readonly_paths, "/proc/sys", "/proc/bus");
	assert_string_equal(l->mount_label, "system_u:object_r:container_file_t:s0");
	assert_true(l->has_personality);
	assert_int_equal(l->personality, PER_LINUX32);
}

static void test_full_resources(void **state)
{
	_cleanup_spec_ struct rt_spec *s = parse_ok(full_config);
	const struct rt_resources *r = &s->linux.resources;
	assert_true(r->present);

	assert_int_equal(r->n_devices, 4);
	assert_false(r->devices[0].allow);
	assert_int_equal(r->devices[0].type, 'a'); /* no type: all */
	assert_int_equal(r->devices[0].major, -1);
	assert_int_equal(r->devices[0].minor, -1);
	assert_string_equal(r->devices[0].access, "rwm");
	assert_true(r->devices[1].allow);
	assert_int_equal(r->devices[1].type, 'c');
	assert_int_equal(r->devices[1].major, 1);
	assert_int_equal(r->devices[1].minor, 3);
	assert_string_equal(r->devices[1].access, "rw");
	assert_int_equal(r->devices[2].type, 'b');
	assert_int_equal(r->devices[2].major, 8);
	assert_int_equal(r->devices[2].minor, -1);
	assert_string_equal(r->devices[2].access, "rwm"); /* "" means all */
	assert_int_equal(r->devices[3].type, 'a');
	assert_string_equal(r->devices[3].access, "m");

	assert_true(r->memory.has_limit);
	assert_int_equal(r->memory.limit, 536870912);
	assert_true(r->memory.has_reservation);
	assert_int_equal(r->memory.reservation, 268435456);
	assert_true(r->memory.has_swap);
	assert_int_equal(r->memory.swap, -1);
	assert_false(r->memory.has_kernel);
	assert_true(r->memory.has_kernel_tcp);
	assert_int_equal(r->memory.kernel_tcp, 1048576);
	assert_true(r->memory.has_swappiness);
	assert_int_equal(r->memory.swappiness, 60);
	assert_true(r->memory.has_disable_oom_killer);
	assert_false(r->memory.disable_oom_killer);
	assert_true(r->memory.has_use_hierarchy);
	assert_true(r->memory.use_hierarchy);
	assert_false(r->memory.check_before_update);

	assert_true(r->cpu.has_shares);
	assert_int_equal(r->cpu.shares, 1024);
	assert_true(r->cpu.has_quota);
	assert_int_equal(r->cpu.quota, 50000);
	assert_true(r->cpu.has_period);
	assert_int_equal(r->cpu.period, 100000);
	assert_true(r->cpu.has_burst);
	assert_int_equal(r->cpu.burst, 10000);
	assert_true(r->cpu.has_realtime_runtime);
	assert_int_equal(r->cpu.realtime_runtime, 950000);
	assert_true(r->cpu.has_realtime_period);
	assert_int_equal(r->cpu.realtime_period, 1000000);
	assert_true(r->cpu.has_idle);
	assert_int_equal(r->cpu.idle, 1);
	assert_string_equal(r->cpu.cpus, "0-1");
	assert_string_equal(r->cpu.mems, "0");

	assert_true(r->pids.has_limit);
	assert_int_equal(r->pids.limit, 100);

	assert_true(r->block_io.has_weight);
	assert_int_equal(r->block_io.weight, 500);
	assert_true(r->block_io.has_leaf_weight);
	assert_int_equal(r->block_io.leaf_weight, 300);
	assert_int_equal(r->block_io.n_weight_device, 2);
	assert_int_equal(r->block_io.weight_device[0].major, 8);
	assert_int_equal(r->block_io.weight_device[0].minor, 0);
	assert_true(r->block_io.weight_device[0].has_weight);
	assert_int_equal(r->block_io.weight_device[0].weight, 600);
	assert_false(r->block_io.weight_device[0].has_leaf_weight);
	assert_int_equal(r->block_io.weight_device[1].minor, 16);
	assert_false(r->block_io.weight_device[1].has_weight);
	assert_true(r->block_io.weight_device[1].has_leaf_weight);
	assert_int_equal(r->block_io.weight_device[1].leaf_weight, 10);
	assert_int_equal(r->block_io.n_throttle_read_bps, 1);
	assert_int_equal(r->block_io.throttle_read_bps[0].rate, 1048576);
	assert_int_equal(r->block_io.n_throttle_write_bps, 1);
	assert_int_equal(r->block_io.throttle_write_bps[0].rate, 2097152);
	assert_int_equal(r->block_io.n_throttle_read_iops, 1);
	assert_int_equal(r->block_io.throttle_read_iops[0].rate, 1000);
	assert_int_equal(r->block_io.n_throttle_write_iops, 1);
	assert_int_equal(r->block_io.throttle_write_iops[0].major, 8);
	assert_int_equal(r->block_io.throttle_write_iops[0].minor, 16);
	assert_int_equal(r->block_io.throttle_write_iops[0].rate, 100);

	assert_int_equal(r->n_hugepage_limits, 2);
	assert_string_equal(r->hugepage_limits[0].page_size, "2MB");
	assert_int_equal(r->hugepage_limits[0].limit, 209715200);
	assert_string_equal(r->hugepage_limits[1].page_size, "1GB");
	assert_int_equal(r->hugepage_limits[1].limit, 0);

	assert_true(r->network.has_class_id);
	assert_int_equal(r->network.class_id, 1048577);
	assert_int_equal(r->network.n_priorities, 1);
	assert_string_equal(r->network.priorities[0].key, "eth0");
	assert_string_equal(r->network.priorities[0].value, "500");

	assert_int_equal(r->n_unified, 2);
	assert_string_equal(r->unified[0].key, "memory.high");
	assert_string_equal(r->unified[0].value, "1073741824");
	assert_string_equal(r->unified[1].key, "io.weight");
	assert_string_equal(r->unified[1].value, "default 100");
}

static void test_full_seccomp(void **state)
{
	_cleanup_spec_ struct rt_spec *s = parse_ok(full_config);
	const struct rt_seccomp *sc = s->linux.seccomp;
	assert_non_null(sc);
	assert_int_equal(sc->default_action, RT_SCMP_ERRNO);
	assert_true(sc->has_default_errno_ret);
	assert_int_equal(sc->default_errno_ret, 1);
	assert_strv(sc->architectures, "SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_AARCH64");
	assert_strv(sc->flags, "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW");
	assert_string_equal(sc->listener_path, "/run/seccomp.sock");
	assert_string_equal(sc->listener_metadata, "meta");

	assert_int_equal(sc->n_syscalls, 5);
	assert_strv(sc->syscalls[0].names, "read", "write");
	assert_int_equal(sc->syscalls[0].action, RT_SCMP_ALLOW);
	assert_false(sc->syscalls[0].has_errno_ret);
	assert_int_equal(sc->syscalls[0].n_args, 0);

	const struct rt_seccomp_rule *r = &sc->syscalls[1];
	assert_strv(r->names, "personality");
	assert_int_equal(r->n_args, 2);
	assert_int_equal(r->args[0].index, 0);
	assert_int_equal(r->args[0].value, 0);
	assert_int_equal(r->args[0].op, RT_SCMP_OP_EQ);
	assert_int_equal(r->args[1].index, 5);
	assert_int_equal(r->args[1].value, 65535);
	assert_int_equal(r->args[1].value_two, 8);
	assert_int_equal(r->args[1].op, RT_SCMP_OP_MASKED_EQ);

	assert_int_equal(sc->syscalls[2].action, RT_SCMP_ERRNO);
	assert_true(sc->syscalls[2].has_errno_ret);
	assert_int_equal(sc->syscalls[2].errno_ret, 13);
	assert_int_equal(sc->syscalls[3].action, RT_SCMP_NOTIFY);
	assert_int_equal(sc->syscalls[4].action, RT_SCMP_KILL_PROCESS);
	/* A negative value is the 64-bit two's complement (runc's uint64). */
	assert_int_equal(sc->syscalls[4].args[0].value, UINT64_MAX);
	assert_int_equal(sc->syscalls[4].args[0].op, RT_SCMP_OP_NE);
}

/* ---- what the parser accepts besides the full config ---- */

static void test_minimal(void **state)
{
	_cleanup_spec_ struct rt_spec *s = parse_ok("{'ociVersion': '1.0.0'}");
	assert_string_equal(s->oci_version, "1.0.0");
	assert_null(s->process);
	assert_null(s->root.path);
	assert_false(s->root.readonly);
	assert_null(s->hostname);
	assert_int_equal(s->n_mounts, 0);
	assert_false(s->has_linux);
	assert_null(s->linux.seccomp);
	assert_false(s->linux.resources.present);
	for (int k = 0; k < RT_HOOK_KINDS; k++)
		assert_int_equal(s->hooks.count[k], 0);
	assert_null(rt_spec_namespace(s, RT_NS_PID));

	/* 1.0 to 1.2 with any patch level or suffix */
	static const char *const ok[] = {
		"{'ociVersion': '1.1.0'}",
		"{'ociVersion': '1.2.0'}",
		"{'ociVersion': '1.0.2-dev'}",
		"{'ociVersion': '1.1.0-rc.1'}",
	};
	for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
		_cleanup_spec_ struct rt_spec *v = parse_ok(ok[i]);
		assert_non_null(v->oci_version);
	}
}

static void test_nulls_are_absent(void **state)
{
	_cleanup_spec_ struct rt_spec *s =
	    parse_ok(DOC("'hostname': null, 'mounts': null, 'hooks': null, 'annotations': null,"
			 "'process': {'args': ['x'], 'cwd': '/', 'env': null, 'user': null,"
			 "            'terminal': null, 'oomScoreAdj': null, 'capabilities': null},"
			 "'linux': {'namespaces': null, 'resources': null, 'seccomp': null,"
			 "          'rootfsPropagation': ''}"));
	assert_null(s->hostname);
	assert_int_equal(s->n_mounts, 0);
	assert_int_equal(s->n_annotations, 0);
	assert_null(s->process->env);
	assert_false(s->process->terminal);
	assert_false(s->process->has_oom_score_adj);
	assert_false(s->process->caps.present);
	assert_true(s->has_linux);
	assert_int_equal(s->linux.n_namespaces, 0);
	assert_false(s->linux.resources.present);
	assert_null(s->linux.seccomp);
	assert_int_equal(s->linux.rootfs_propagation, 0);
}

static void test_mount_options(void **state)
{
	_cleanup_spec_ struct rt_spec *s = parse_ok(DOC(
	    "'mounts': ["
	    " {'destination': 'tmp', 'type': 'tmpfs'},"
	    " {'destination': '/a', 'type': 'tmpfs', 'options': ['ro', 'rw']},"
	    " {'destination': '/b', 'type': 'ext4', 'source': '/dev/sdb',"
	    "  'options': ['nodev', 'dev', 'noexec', 'exec', 'suid', 'sync', 'async', 'dirsync',"
	    "              'remount', 'mand', 'nomand', 'atime', 'nodiratime', 'diratime',"
	    "              'relatime', 'norelatime', 'nostrictatime', 'lazytime', 'nolazytime',"
	    "              'silent', 'loud', 'iversion', 'noiversion', 'errors=remount-ro']},"
	    " {'destination': '/c', 'type': 'none', 'source': '/x',"
	    "  'options': ['rbind', 'shared', 'private', 'unbindable']},"
	    " {'destination': '/d', 'options': ['bind', 'rshared']},"
	    " {'destination': '/e', 'options': ['rbind', 'rslave', 'runbindable']},"
	    " {'destination': '/f', 'options': ['slave']},"
	    " {'destination': '/../g/./h/..', 'options': []}"
	    "]"));
	struct rt_mount *m = s->mounts;
	assert_int_equal(s->n_mounts, 8);
	/* a relative destination is taken relative to "/" (as runc does) */
	assert_string_equal(m[0].destination, "/tmp");
	assert_null(m[0].source);

	assert_int_equal(m[1].flags, 0);
	assert_int_equal(m[1].clear_flags, MS_RDONLY);

	/* each clearing option undoes the setting one before it */
	assert_int_equal(m[2].flags, MS_DIRSYNC | MS_REMOUNT);
	assert_int_equal(m[2].clear_flags, MS_NODEV | MS_NOEXEC | MS_NOSUID | MS_SYNCHRONOUS |
					       MS_MANDLOCK | MS_NOATIME | MS_NODIRATIME |
					       MS_RELATIME | MS_STRICTATIME | MS_LAZYTIME |
					       MS_SILENT | MS_I_VERSION);
	assert_string_equal(m[2].data, "errors=remount-ro");

	/* the last propagation option wins */
	assert_true(m[3].bind);
	assert_int_equal(m[3].flags, MS_BIND | MS_REC);
	assert_int_equal(m[3].propagation, MS_UNBINDABLE);
	assert_null(m[3].data);
	assert_int_equal(m[4].flags, MS_BIND);
	assert_int_equal(m[4].propagation, MS_SHARED | MS_REC);
	assert_int_equal(m[5].propagation, MS_UNBINDABLE | MS_REC);
	assert_int_equal(m[6].propagation, MS_SLAVE);
	assert_false(m[6].bind);

	assert_string_equal(m[7].destination, "/g");
	assert_non_null(m[7].options);
	assert_null(m[7].options[0]);
	assert_null(m[7].data);
}

static void test_caps_unknown(void **state)
{
	_cleanup_spec_ struct rt_spec *s =
	    parse_ok(PROC("'capabilities': {'bounding': ['CAP_KILL'], 'permitted': ['CAP_KILL',"
			  " 'CAP_KILL']}"));
	const struct rt_caps *c = &s->process->caps;
	assert_true(c->present);
	assert_int_equal(c->bounding, CAP(CAP_KILL));
	assert_int_equal(c->effective, 0);
	assert_int_equal(c->permitted, CAP(CAP_KILL));

	/* An empty capabilities object is present with empty sets. */
	_cleanup_spec_ struct rt_spec *e = parse_ok(PROC("'capabilities': {}"));
	assert_true(e->process->caps.present);
	assert_int_equal(e->process->caps.bounding, 0);

	/* A name that maps to nothing in this kernel is an error (the spec's MUST). */
	static const struct bad cases[] = {
		{ PROC("'capabilities': {'bounding': ['CAP_KILL', 'CAP_TEST']}"),
		  "config.json: process.capabilities.bounding[1]: unknown capability "
		  "\"CAP_TEST\"" },
		{ PROC("'capabilities': {'effective': ['CAP_NOT_A_CAPABILITY']}"),
		  "config.json: process.capabilities.effective[0]: unknown capability "
		  "\"CAP_NOT_A_CAPABILITY\"" },
	};
	check_bad(cases, ARRAY_SIZE(cases));
}

static void test_userns_and_sysctl_accepted(void **state)
{
	/* A user namespace joined by path needs no mappings. */
	_cleanup_spec_ struct rt_spec *a =
	    parse_ok(LINUX("'namespaces': [{'type': 'user', 'path': '/proc/1/ns/user'}]"));
	assert_string_equal(rt_spec_namespace(a, RT_NS_USER)->path, "/proc/1/ns/user");
	assert_int_equal(a->linux.n_uid_mappings, 0);

	/* Each namespaced sysctl family with its namespace. */
	_cleanup_spec_ struct rt_spec *b =
	    parse_ok(LINUX("'namespaces': [{'type': 'ipc'}, {'type': 'uts'}, {'type': 'network'}],"
			   "'sysctl': {'kernel.msgmax': '1', 'kernel.sem': '1 2 3 4',"
			   "           'kernel.shm_rmid_forced': '1', 'fs.mqueue.queues_max': '1',"
			   "           'kernel.hostname': 'h', 'net.core.somaxconn': '1024'}"));
	assert_int_equal(b->linux.n_sysctl, 6);
	assert_string_equal(b->linux.sysctl[1].value, "1 2 3 4");

	/* Only one mapping kind but a userns joined by path: fine. */
	_cleanup_spec_ struct rt_spec *c =
	    parse_ok(LINUX("'namespaces': [{'type': 'user', 'path': '/proc/1/ns/user'}],"
			   "'uidMappings': [{'containerID': 0, 'hostID': 1, 'size': 1}]"));
	assert_int_equal(c->linux.n_uid_mappings, 1);
}

static void test_seccomp_names(void **state)
{
	/* Every action and operator name from names.c is accepted by the parser with the same
	 * value. */
	for (int a = RT_SCMP_KILL; a <= RT_SCMP_NOTIFY; a++) {
		const char *name = rt_seccomp_action_name((enum rt_seccomp_action)a);
		assert_non_null(name);
		assert_int_equal(rt_seccomp_action_from_name(name), a);
		_cleanup_free_ char *json =
		    xasprintf(LINUX("'seccomp': {'defaultAction': '%s',"
				    " 'syscalls': [{'names': ['getpid'], 'action': '%s'}]}"),
			      name, name);
		_cleanup_spec_ struct rt_spec *s = parse_ok(json);
		assert_int_equal(s->linux.seccomp->default_action, a);
		assert_int_equal(s->linux.seccomp->syscalls[0].action, a);
	}
	for (int o = RT_SCMP_OP_NE; o <= RT_SCMP_OP_MASKED_EQ; o++) {
		const char *name = rt_seccomp_op_name((enum rt_seccomp_op)o);
		assert_non_null(name);
		assert_int_equal(rt_seccomp_op_from_name(name), o);
		_cleanup_free_ char *json = xasprintf(
		    LINUX("'seccomp': {'defaultAction': 'SCMP_ACT_ALLOW', 'syscalls': [{'names':"
			  " ['getpid'], 'action': 'SCMP_ACT_LOG', 'args': [{'index': 2, 'value':"
			  " 7, 'op': '%s'}]}]}"),
		    name);
		_cleanup_spec_ struct rt_spec *s = parse_ok(json);
		assert_int_equal(s->linux.seccomp->syscalls[0].args[0].op, o);
		assert_int_equal(s->linux.seccomp->syscalls[0].args[0].index, 2);
		assert_int_equal(s->linux.seccomp->syscalls[0].args[0].value, 7);
	}
	assert_int_equal(rt_seccomp_action_from_name("SCMP_ACT_NOPE"), -1);
	assert_int_equal(rt_seccomp_op_from_name("SCMP_CMP_NOPE"), -1);
	assert_null(rt_seccomp_action_name((enum rt_seccomp_action)99));
	assert_null(rt_seccomp_op_name((enum rt_seccomp_op)99));
}

static void test_name_tables(void **state)
{
	for (int t = 0; t < RT_NS_TYPES; t++)
		assert_int_equal(rt_ns_type_from_name(rt_ns_type_name((enum rt_ns_type)t)), t);
	assert_int_equal(rt_ns_type_from_name("net"), -1);
	assert_string_equal(rt_ns_type_name(RT_NS_NETWORK), "network");
	assert_int_equal(rt_ns_clone_flag(RT_NS_USER), CLONE_NEWUSER);

	assert_int_equal(rt_rlimit_from_name("RLIMIT_NOFILE"), RLIMIT_NOFILE);
	assert_string_equal(rt_rlimit_name(RLIMIT_NPROC), "RLIMIT_NPROC");
	assert_int_equal(rt_rlimit_from_name("NOFILE"), -1);
	assert_int_equal(rt_rlimit_from_name("rlimit_nofile"), -1);

	assert_int_equal(rt_cap_from_name("CAP_SYS_ADMIN"), CAP_SYS_ADMIN);
	assert_string_equal(rt_cap_name(CAP_CHOWN), "CAP_CHOWN");
	assert_int_equal(rt_cap_from_name("cap_sys_admin"), -1);
	assert_int_equal(rt_cap_from_name("SYS_ADMIN"), -1);
	assert_true(rt_cap_last() >= CAP_AUDIT_READ);

	unsigned long f = 0;
	assert_true(rt_propagation_from_name("rslave", &f));
	assert_int_equal(f, MS_SLAVE | MS_REC);
	assert_false(rt_propagation_from_name("recursive", &f));
}

/* names.h: rt_mount_option_names() lists every option the parser takes as a flag and is
 * sorted; the parser must recognise exactly these (anything else is filesystem data). */
static void test_mount_option_table(void **state)
{
	const char *const *names = rt_mount_option_names();
	size_t n = 0;
	for (; names[n]; n++)
		if (n > 0 && strcmp(names[n - 1], names[n]) >= 0)
			fail_msg("not sorted: \"%s\" before \"%s\"", names[n - 1], names[n]);
	assert_true(n > 20);
	/* Options the parser is known to take as flags are in the list. */
	static const char *const parser_known[] = {
		"ro",	       "rw",
		"nosuid",      "suid",
		"nodev",       "dev",
		"noexec",      "exec",
		"sync",	       "async",
		"dirsync",     "remount",
		"mand",	       "nomand",
		"noatime",     "atime",
		"nodiratime",  "diratime",
		"relatime",    "norelatime",
		"strictatime", "nostrictatime",
		"lazytime",    "nolazytime",
		"silent",      "loud",
		"iversion",    "noiversion",
		"defaults",    "private",
		"rprivate",    "shared",
		"rshared",     "slave",
		"rslave",      "unbindable",
		"runbindable", "bind",
		"rbind",       "tmpcopyup",
	};
	for (size_t i = 0; i < ARRAY_SIZE(parser_known); i++) {
		bool found = false;
		for (size_t k = 0; k < n && !found; k++)
			found = !strcmp(names[k], parser_known[i]);
		if (!found)
			fail_msg("\"%s\" is missing from rt_mount_option_names()", parser_known[i]);
	}
}

/* The other direction: each listed option, given alone, must not end up in the data string.
 * (Exposes options the table lists but config.c does not handle, e.g. "rro", "nosymfollow".) */
static void test_mount_option_table_matches_parser(void **state)
{
	const char *const *names = rt_mount_option_names();
	char missed[1024] = "";
	for (size_t i = 0; names[i]; i++) {
		_cleanup_free_ char *json = xasprintf(
		    DOC("'mounts': [{'destination': '/m', 'type': 'tmpfs', 'options': ['%s']}]"),
		    names[i]);
		_cleanup_spec_ struct rt_spec *s = parse_ok(json);
		if (s->mounts[0].data)
			snprintf(missed + strlen(missed), sizeof(missed) - strlen(missed), " %s",
				 names[i]);
	}
	if (missed[0])
		fail_msg("listed mount options the parser passes to the filesystem as data:%s",
			 missed);
}

/* spec.h: attr_set/attr_clr come from the recursive options; id-mapped mounts are refused. */
static void test_mount_derived_fields(void **state)
{
	struct rt_spec *s =
	    parse_ok(DOC("'mounts': ["
			 " {'destination': '/a', 'source': '/x', 'options': ['rbind', 'rro']},"
			 " {'destination': '/b', 'source': '/x', 'options': ['rbind', 'rrw',"
			 "  'rnosuid']},"
			 " {'destination': '/c', 'type': 'tmpfs', 'options': ['rrelatime',"
			 "  'rnoatime']},"
			 " {'destination': '/d', 'type': 'tmpfs', 'options': ['rro', 'rrw']},"
			 " {'destination': '/e', 'type': 'tmpfs', 'options': ['rw', 'ro']}"
			 "]"));
	const struct rt_mount *m = s->mounts;
	char report[2048] = "";
#define EXPECT(cond)                                                                       \
	do {                                                                               \
		if (!(cond))                                                               \
			snprintf(report + strlen(report), sizeof(report) - strlen(report), \
				 "\n  %s", #cond);                                         \
	} while (0)
	EXPECT(m[0].data == NULL);
	EXPECT(m[0].attr_set == MOUNT_ATTR_RDONLY);
	EXPECT(m[1].data == NULL);
	EXPECT(m[1].attr_clr == MOUNT_ATTR_RDONLY);
	EXPECT(m[1].attr_set == MOUNT_ATTR_NOSUID);
	/* The last atime mode wins and clears the whole atime field. */
	EXPECT(m[2].attr_set == MOUNT_ATTR_NOATIME);
	EXPECT(m[2].attr_clr == MOUNT_ATTR__ATIME);
	EXPECT(m[3].attr_set == 0 && m[3].attr_clr == MOUNT_ATTR_RDONLY);
	/* "rw" then "ro": read-only wins, so MS_RDONLY must not also be "explicitly cleared". */
	EXPECT(m[4].flags == MS_RDONLY);
	EXPECT((m[4].clear_flags & MS_RDONLY) == 0);
#undef EXPECT
	rt_spec_free(s);
	if (report[0])
		fail_msg("derived mount fields wrong:%s", report);
	static const struct bad cases[] = {
		{ DOC("'mounts': [{'destination': '/c', 'source': '/x', 'options': ['bind',"
		      " 'idmap']}]"),
		  "config.json: mounts[0].options[1]: \"idmap\": id-mapped mounts are not "
		  "supported" },
		{ DOC("'mounts': [{'destination': '/c', 'source': '/x', 'options': ['ridmap']}]"),
		  "config.json: mounts[0].options[0]: \"ridmap\": id-mapped mounts are not "
		  "supported" },
	};
	check_bad(cases, ARRAY_SIZE(cases));
}

/* ---- rejected input ---- */

static void test_bad_json(void **state)
{
	check_bad_syntax("", "config.json: line ", "");
	check_bad_syntax("not json", "config.json: line 1 column ", "");
	check_bad_syntax("{'ociVersion': '1.0.2'", "config.json: line 1 column ", "");
	check_bad_syntax("{'ociVersion': '1.0.2'} x", "config.json: line 1 column ",
			 "end of file expected");
	check_bad_syntax("{'ociVersion': '1.0.2'}{}", "config.json: line 1 column ",
			 "end of file expected");
	check_bad_syntax("{'ociVersion': '1.0.2', 'ociVersion': '1.0.2'}",
			 "config.json: line 1 column ", "duplicate object key");
	check_bad_syntax("'1.0.2'", "config.json: line 1 column ", "");
	check_bad_syntax(PROC("'user': {'uid': 99999999999999999999}"),
			 "config.json: line 1 column ", "too big");
	static const struct bad cases[] = {
		{ "[]", "config.json: expected a JSON object" },
		{ "[{'ociVersion': '1.0.2'}]", "config.json: expected a JSON object" },
	};
	check_bad(cases, ARRAY_SIZE(cases));
}

static void test_bad_toplevel(void **state)
{
	static const struct bad cases[] = {
		{ "{}", "config.json: ociVersion: required" },
		{ "{'ociVersion': null}", "config.json: ociVersion: required" },
		{ "{'ociVersion': 1}", "config.json: ociVersion: expected string, got integer" },
		{ "{'ociVersion': 1.1}", "config.json: ociVersion: expected string, got number" },
		{ "{'ociVersion': 'latest'}",
		  "config.json: ociVersion: invalid version \"latest\"" },
		{ "{'ociVersion': '2.0.0'}", "config.json: ociVersion: unsupported version "
					     "\"2.0.0\" (this runtime supports 1.0 to 1.2)" },
		{ "{'ociVersion': '0.6.0'}", "config.json: ociVersion: unsupported version "
					     "\"0.6.0\" (this runtime supports 1.0 to 1.2)" },
		{ "{'ociVersion': '1.3.0'}", "config.json: ociVersion: unsupported version "
					     "\"1.3.0\" (this runtime supports 1.0 to 1.2)" },
		{ DOC("'process': 'sh'"), "config.json: process: expected object, got string" },
		{ DOC("'process': ['sh']"), "config.json: process: expected object, got array" },
		{ DOC("'root': 'rootfs'"), "config.json: root: expected object, got string" },
		{ DOC("'root': {}"), "config.json: root.path: required" },
		{ DOC("'root': {'path': ''}"), "config.json: root.path: must not be empty" },
		{ DOC("'root': {'path': 'r', 'readonly': 'yes'}"),
		  "config.json: root.readonly: expected boolean, got string" },
		{ DOC("'hostname': 5"), "config.json: hostname: expected string, got integer" },
		{ DOC("'domainname': true"),
		  "config.json: domainname: expected string, got boolean" },
		{ DOC("'annotations': ['a=b']"),
		  "config.json: annotations: expected object, got array" },
		{ DOC("'annotations': {'a': 1}"),
		  "config.json: annotations[\"a\"]: expected string, got integer" },
		{ DOC("'linux': []"), "config.json: linux: expected object, got array" },
		{ DOC("'hooks': []"), "config.json: hooks: expected object, got array" },
		{ DOC("'mounts': {}"), "config.json: mounts: expected array, got object" },
	};
	check_bad(cases, ARRAY_SIZE(cases));
}

static void test_bad_process(void **state)
{
	static const struct bad cases[] = {
		{ DOC("'process': {'cwd': '/'}"),
		  "config.json: process.args: at least one argument is required" },
		{ DOC("'process': {'args': [], 'cwd': '/'}"),
		  "config.json: process.args: at least one argument is required" },
		{ DOC("'process': {'args': 'sh', 'cwd': '/'}"),
		  "config.json: process.args: expected array of strings, got string" },
		{ DOC("'process': {'args': ['sh', 1], 'cwd': '/'}"),
		  "config.json: process.args[1]: expected string, got integer" },
		{ DOC("'process': {'args': ['sh']}"), "config.json: process.cwd: required" },
		{ DOC("'process': {'args': ['sh'], 'cwd': 'tmp'}"),
		  "config.json: process.cwd: must be an absolute path, got \"tmp\"" },
		{ DOC("'process': {'args': ['sh'], 'cwd': ''}"),
		  "config.json: process.cwd: must be an absolute path, got \"\"" },
		{ PROC("'env': ['A=1', 'B']"),
		  "config.json: process.env[1]: \"B\" is not of the form NAME=value" },
		{ PROC("'env': {'A': '1'}"),
		  "config.json: process.env: expected array of strings, got object" },
		{ PROC("'terminal': 'yes'"),
		  "config.json: process.terminal: expected boolean, got string" },
		{ PROC("'user': 0"), "config.json: process.user: expected object, got integer" },
		{ PROC("'user': {'uid': -1}"),
		  "config.json: process.user.uid: -1 out of range [0, 4294967295]" },
		{ PROC("'user': {'uid': 4294967296}"),
		  "config.json: process.user.uid: 4294967296 out of range [0, 4294967295]" },
		{ PROC("'user': {'uid': '0'}"),
		  "config.json: process.user.uid: expected integer, got string" },
		{ PROC("'user': {'uid': 0, 'gid': 1.5}"),
		  "config.json: process.user.gid: expected integer, got number" },
		{ PROC("'user': {'umask': 4096}"),
		  "config.json: process.user.umask: 4096 out of range [0, 4095]" },
		{ PROC("'user': {'additionalGids': [1, -2]}"),
		  "config.json: process.user.additionalGids[1]: expected a gid" },
		{ PROC("'user': {'additionalGids': 5}"),
		  "config.json: process.user.additionalGids: expected array, got integer" },
		{ PROC("'oomScoreAdj': 1001"),
		  "config.json: process.oomScoreAdj: 1001 out of range [-1000, 1000]" },
		{ PROC("'oomScoreAdj': -1001"),
		  "config.json: process.oomScoreAdj: -1001 out of range [-1000, 1000]" },
		{ PROC("'noNewPrivileges': 1"),
		  "config.json: process.noNewPrivileges: expected boolean, got integer" },
		{ PROC("'consoleSize': {'height': -1}"),
		  "config.json: process.consoleSize.height: -1 out of range [0, 4294967295]" },
		{ PROC("'ioPriority': {'class': 'IOPRIO_CLASS_NONE'}"),
		  "config.json: process.ioPriority.class: unknown class \"IOPRIO_CLASS_NONE\"" },
		{ PROC("'ioPriority': {'class': 'IOPRIO_CLASS_RT', 'priority': 8}"),
		  "config.json: process.ioPriority.priority: 8 out of range [0, 7]" },
		{ PROC("'ioPriority': {'priority': 1}"),
		  "config.json: process.ioPriority.class: required" },
		{ PROC("'apparmorProfile': []"),
		  "config.json: process.apparmorProfile: expected string, got array" },
	};
	check_bad(cases, ARRAY_SIZE(cases));
}

static void test_bad_capabilities(void **state)
{
	static const struct bad cases[] = {
		{ PROC("'capabilities': ['CAP_KILL']"),
		  "config.json: process.capabilities: expected object, got array" },
		{ PROC("'capabilities': {'bounding': 'CAP_KILL'}"),
		  "config.json: process.capabilities.bounding: expected array of strings, got "
		  "string" },
		{ PROC("'capabilities': {'bounding': ['CAP_KILL', 'kill']}"),
		  "config.json: process.capabilities.bounding[1]: unknown capability \"kill\"" },
		{ PROC("'capabilities': {'effective': ['']}"),
		  "config.json: process.capabilities.effective[0]: unknown capability \"\"" },
		{ PROC("'capabilities': {'inheritable': ['CAP_']}"),
		  "config.json: process.capabilities.inheritable[0]: unknown capability "
		  "\"CAP_\"" },
		{ PROC("'capabilities': {'permitted': ['CAP_sys_admin']}"),
		  "config.json: process.capabilities.permitted[0]: unknown capability "
		  "\"CAP_sys_admin\"" },
		{ PROC("'capabilities': {'ambient': ['CAP_KILL', 'SYS_ADMIN']}"),
		  "config.json: process.capabilities.ambient[1]: unknown capability "
		  "\"SYS_ADMIN\"" },
		{ PROC("'capabilities': {'ambient': ['CAP_NOT-A-CAP']}"),
		  "config.json: process.capabilities.ambient[0]: unknown capability "
		  "\"CAP_NOT-A-CAP\"" },
		{ PROC("'capabilities': {'bounding': [5]}"),
		  "config.json: process.capabilities.bounding[0]: expected string, got integer" },
	};
	check_bad(cases, ARRAY_SIZE(cases));
}

static void test_bad_rlimits(void **state)
{
	static const struct bad cases[] = {
		{ PROC("'rlimits': {}"),
		  "config.json: process.rlimits: expected array, got object" },
		{ PROC("'rlimits': ['RLIMIT_NOFILE']"),
		  "config.json: process.rlimits[0]: expected object, got string" },
		{ PROC("'rlimits': [{'type': 'RLIMIT_NOFILE', 'soft': 1, 'hard': 1},"
		       "            {'type': 'NOFILE', 'soft': 1, 'hard': 1}]"),
		  "config.json: process.rlimits[1].type: unknown rlimit \"NOFILE\"" },
		{ PROC("'rlimits': [{'type': 'RLIMIT_BOGUS', 'soft': 1, 'hard': 1}]"),
		  "config.json: process.rlimits[0].type: unknown rlimit \"RLIMIT_BOGUS\"" },
		{ PROC("'rlimits': [{'soft': 1, 'hard': 1}]"),
		  "config.json: process.rlimits[0].type: required" },
		{ PROC("'rlimits': [{'type': 'RLIMIT_NOFILE', 'soft': 1}]"),
		  "config.json: process.rlimits[0]: soft and hard are required" },
		{ PROC("'rlimits': [{'type': 'RLIMIT_NOFILE', 'soft': 2048, 'hard': 1024}]"),
		  "config.json: process.rlimits[0]: soft limit 2048 is above the hard limit 1024" },
		/* -1 is RLIM_INFINITY, which is above any finite hard limit. */
		{ PROC("'rlimits': [{'type': 'RLIMIT_NOFILE', 'soft': -1, 'hard': 1}]"),
		  "config.json: process.rlimits[0]: soft limit -1 is above the hard limit 1" },
		{ PROC("'rlimits': [{'type': 'RLIMIT_NOFILE', 'soft': -2, 'hard': 1}]"),
		  "config.json: process.rlimits[0].soft: -2 out of range [-1, "
		  "9223372036854775807]" },
		{ PROC("'rlimits': [{'type': 'RLIMIT_CORE', 'soft': 1, 'hard': 1},"
		       "            {'type': 'RLIMIT_CORE', 'soft': 2, 'hard': 2}]"),
		  "config.json: process.rlimits[1]: duplicate rlimit \"RLIMIT_CORE\"" },
	};
	check_bad(cases, ARRAY_SIZE(cases));
}

static void test_bad_mounts(void **state)
{
	static const struct bad cases[] = {
		{ DOC("'mounts': ['/proc']"),
		  "config.json: mounts[0]: expected object, got string" },
		{ DOC("'mounts': [{'destination': '/a'}, {'type': 'tmpfs'}]"),
		  "config.json: mounts[1].destination: required" },
		{ DOC("'mounts': [{'destination': ''}]"),
		  "config.json: mounts[0].destination: must not be empty" },
		{ DOC("'mounts': [{'destination': 5}]"),
		  "config.json: mounts[0].destination: expected string, got integer" },
		{ DOC("'mounts': [{'destination': '/a', 'type': ['tmpfs']}]"),
		  "config.json: mounts[0].type: expected string, got array" },
		{ DOC("'mounts': [{'destination': '/a', 'source': {}}]"),
		  "config.json: mounts[0].source: expected string, got object" },
		{ DOC("'mounts': [{'destination': '/a', 'options': 'ro'}]"),
		  "config.json: mounts[0].options: expected array of strings, got string" },
		{ DOC("'mounts': [{'destination': '/a', 'options': ['ro', null]}]"),
		  "config.json: mounts[0].options[1]: expected string, got null" },
		{ DOC("'mounts': [{'destination': '/a', 'uidMappings': {}}]"),
		  "config.json: mounts[0].uidMappings: expected array, got object" },
		{ DOC("'mounts': [{'destination': '/a', 'gidMappings': [{'containerID': 0,"
		      " 'hostID': 0, 'size': 0}]}]"),
		  "config.json: mounts[0].gidMappings[0].size: 0 out of range [1, 4294967295]" },
	};
	check_bad(cases, ARRAY_SIZE(cases));
}

static void test_bad_hooks(void **state)
{
	static const struct bad cases[] = {
		{ DOC("'hooks': {'prestart': {}}"),
		  "config.json: hooks.prestart: expected array, got object" },
		{ DOC("'hooks': {'createRuntime': [{'args': ['x']}]}"),
		  "config.json: hooks.createRuntime[0].path: required" },
		{ DOC("'hooks': {'createContainer': [{'path': '/bin/a'}, {'path': 'bin/b'}]}"),
		  "config.json: hooks.createContainer[1].path: must be an absolute path, got "
		  "\"bin/b\"" },
		{ DOC("'hooks': {'startContainer': [{'path': ''}]}"),
		  "config.json: hooks.startContainer[0].path: must be an absolute path, got \"\"" },
		{ DOC("'hooks': {'poststart': [{'path': '/a', 'timeout': -1}]}"),
		  "config.json: hooks.poststart[0].timeout: must be greater than zero, got -1" },
		{ DOC("'hooks': {'poststop': [{'path': '/a', 'timeout': 0}]}"),
		  "config.json: hooks.poststop[0].timeout: must be greater than zero, got 0" },
		{ DOC("'hooks': {'poststop': [{'path': '/a', 'timeout': 2147483648}]}"),
		  "config.json: hooks.poststop[0].timeout: 2147483648 out of range [-2147483648, "
		  "2147483647]" },
		{ DOC("'hooks': {'prestart': [{'path': '/a', 'timeout': '5'}]}"),
		  "config.json: hooks.prestart[0].timeout: expected integer, got string" },
		{ DOC("'hooks': {'prestart': [{'path': '/a', 'args': [1]}]}"),
		  "config.json: hooks.prestart[0].args[0]: expected string, got integer" },
		{ DOC("'hooks': {'prestart': [{'path': '/a', 'env': 'A=1'}]}"),
		  "config.json: hooks.prestart[0].env: expected array of strings, got string" },
		{ DOC("'hooks': {'prestart': ['/bin/true']}"),
		  "config.json: hooks.prestart[0]: expected object, got string" },
	};
	check_bad(cases, ARRAY_SIZE(cases));
}

static void test_bad_namespaces(void **state)
{
	static const struct bad cases[] = {
		{ LINUX("'namespaces': {'type': 'pid'}"),
		  "config.json: linux.namespaces: expected array, got object" },
		{ LINUX("'namespaces': [{'type': 'pid'}, {'type': 'mount'}, {'type': 'foo'}]"),
		  "config.json: linux.namespaces[2].type: unknown namespace \"foo\"" },
		{ LINUX("'namespaces': [{'type': 'net'}]"),
		  "config.json: linux.namespaces[0].type: unknown namespace \"net\"" },
		{ LINUX("'namespaces': [{'path': '/proc/1/ns/pid'}]"),
		  "config.json: linux.namespaces[0].type: required" },
		{ LINUX("'namespaces': [{'type': 'pid'}, {'type': 'ipc'}, {'type': 'pid'}]"),
		  "config.json: linux.namespaces[2]: duplicate namespace \"pid\"" },
		{ LINUX("'namespaces': [{'type': 'network', 'path': 'netns/x'}]"),
		  "config.json: linux.namespaces[0].path: must be an absolute path, got "
		  "\"netns/x\"" },
		{ LINUX("'namespaces': ['pid']"),
		  "config.json: linux.namespaces[0]: expected object, got string" },
	};
	check_bad(cases, ARRAY_SIZE(cases));
}

static void test_bad_idmaps(void **state)
{
	static const struct bad cases[] = {
		/* a new user namespace needs both mappings */
		{ LINUX("'namespaces': [{'type': 'user'}]"),
		  "config.json: linux.uidMappings: uid and gid mappings are required with a new "
		  "user namespace" },
		{ LINUX("'namespaces': [{'type': 'user'}],"
			"'uidMappings': [{'containerID': 0, 'hostID': 1000, 'size': 1}]"),
		  "config.json: linux.uidMappings: uid and gid mappings are required with a new "
		  "user namespace" },
		/* mappings without a user namespace */
		{ LINUX("'uidMappings': [{'containerID': 0, 'hostID': 1000, 'size': 1}],"
			"'gidMappings': [{'containerID': 0, 'hostID': 1000, 'size': 1}]"),
		  "config.json: linux.uidMappings: mappings require a user namespace" },
		{ LINUX("'namespaces': [{'type': 'user'}], 'uidMappings': {}"),
		  "config.json: linux.uidMappings: expected array, got object" },
		{ LINUX("'namespaces': [{'type': 'user'}], 'uidMappings': [0]"),
		  "config.json: linux.uidMappings[0]: expected object, got integer" },
		{ LINUX("'namespaces': [{'type': 'user'}],"
			"'uidMappings': [{'containerID': -1, 'hostID': 0, 'size': 1}]"),
		  "config.json: linux.uidMappings[0].containerID: -1 out of range [0, "
		  "4294967295]" },
		{ LINUX("'namespaces': [{'type': 'user'}],"
			"'gidMappings': [{'containerID': 0, 'hostID': 4294967296, 'size': 1}]"),
		  "config.json: linux.gidMappings[0].hostID: 4294967296 out of range [0, "
		  "4294967295]" },
		{ LINUX("'namespaces': [{'type': 'user'}],"
			"'uidMappings': [{'containerID': 0, 'hostID': 0, 'size': 0}]"),
		  "config.json: linux.uidMappings[0].size: 0 out of range [1, 4294967295]" },
	};
	check_bad(cases, ARRAY_SIZE(cases));
}

static void test_bad_devices(void **state)
{
	static const struct bad cases[] = {
		{ LINUX("'devices': {}"),
		  "config.json: linux.devices: expected array, got object" },
		{ LINUX("'devices': [{'path': '/dev/x', 'type': 'x', 'major': 1, 'minor': 1}]"),
		  "config.json: linux.devices[0].type: unknown device type \"x\" for /dev/x" },
		{ LINUX("'devices': [{'path': '/dev/x', 'type': 'cb', 'major': 1, 'minor': 1}]"),
		  "config.json: linux.devices[0].type: unknown device type \"cb\" for /dev/x" },
		{ LINUX("'devices': [{'path': '/dev/x', 'major': 1, 'minor': 1}]"),
		  "config.json: linux.devices[0].type: required" },
		{ LINUX("'devices': [{'type': 'c', 'major': 1, 'minor': 1}]"),
		  "config.json: linux.devices[0].path: required" },
		{ LINUX("'devices': [{'path': '/dev/x', 'type': 'c', 'major': 1}]"),
		  "config.json: linux.devices[0]: major and minor are required for /dev/x (type "
		  "\"c\")" },
		{ LINUX("'devices': [{'path': 'dev/x', 'type': 'b', 'major': 1, 'minor': 1}]"),
		  "config.json: linux.devices[0].path: must be an absolute path, got \"dev/x\"" },
		{ LINUX("'devices': [{'path': '/dev/x', 'type': 'c', 'major': -1, 'minor': 1}]"),
		  "config.json: linux.devices[0].major: -1 out of range [0, 4294967295]" },
		{ LINUX("'devices': [{'path': '/dev/x', 'type': 'c', 'major': 1, 'minor': 1,"
			" 'fileMode': 65535}]"),
		  "config.json: linux.devices[0].fileMode: 65535 out of range [0, 4095]" },
		{ LINUX("'devices': [{'path': '/dev/x', 'type': 'c', 'major': 1, 'minor': 1,"
			" 'uid': -5}]"),
		  "config.json: linux.devices[0].uid: -5 out of range [0, 4294967295]" },
	};
	check_bad(cases, ARRAY_SIZE(cases));
}

/* Weights of 0 mean "unset", as in runc: Docker sends blockIO.weight 0 for every container. */
static void test_zero_weights_are_unset(void **state)
{
	_cleanup_spec_ struct rt_spec *s = parse_ok(
	    LINUX("'resources': {'blockIO': {'weight': 0, 'leafWeight': 0, 'weightDevice': "
		  "[{'major': 8, 'minor': 0, 'weight': 0, 'leafWeight': 0}]}}"));
	const struct rt_resources *r = &s->linux.resources;
	assert_false(r->block_io.has_weight);
	assert_false(r->block_io.has_leaf_weight);
	assert_int_equal(r->block_io.n_weight_device, 1);
	assert_false(r->block_io.weight_device[0].has_weight);
	assert_false(r->block_io.weight_device[0].has_leaf_weight);
}

static void test_bad_resources(void **state)
{
	static const struct bad cases[] = {
		{ LINUX("'resources': []"),
		  "config.json: linux.resources: expected object, got array" },
		{ LINUX("'resources': {'devices': [{'allow': true, 'type': 'x'}]}"),
		  "config.json: linux.resources.devices[0].type: unknown device type \"x\"" },
		{ LINUX("'resources': {'devices': [{'allow': true, 'type': 'p'}]}"),
		  "config.json: linux.resources.devices[0].type: unknown device type \"p\"" },
		{ LINUX("'resources': {'devices': [{'type': 'c'}]}"),
		  "config.json: linux.resources.devices[0].allow: required" },
		{ LINUX("'resources': {'devices': [{'allow': 'yes'}]}"),
		  "config.json: linux.resources.devices[0].allow: expected boolean, got string" },
		{ LINUX("'resources': {'devices': [{'allow': true, 'access': 'rwx'}]}"),
		  "config.json: linux.resources.devices[0].access: invalid access \"rwx\" (a "
		  "subset of \"rwm\")" },
		{ LINUX("'resources': {'devices': [{'allow': true, 'access': 'rwmr'}]}"),
		  "config.json: linux.resources.devices[0].access: invalid access \"rwmr\" (a "
		  "subset of \"rwm\")" },
		{ LINUX("'resources': {'devices': [{'allow': true, 'major': -2}]}"),
		  "config.json: linux.resources.devices[0].major: -2 out of range [-1, "
		  "4294967295]" },
		{ LINUX("'resources': {'memory': {'limit': -2}}"),
		  "config.json: linux.resources.memory.limit: -2 out of range [-1, "
		  "9223372036854775807]" },
		{ LINUX("'resources': {'memory': {'limit': '1G'}}"),
		  "config.json: linux.resources.memory.limit: expected integer, got string" },
		{ LINUX("'resources': {'memory': {'swappiness': 101}}"),
		  "config.json: linux.resources.memory.swappiness: 101 out of range [0, 100]" },
		{ LINUX("'resources': {'memory': {'disableOOMKiller': 1}}"),
		  "config.json: linux.resources.memory.disableOOMKiller: expected boolean, got "
		  "integer" },
		{ LINUX("'resources': {'cpu': {'shares': -1}}"),
		  "config.json: linux.resources.cpu.shares: -1 out of range [0, "
		  "9223372036854775807]" },
		{ LINUX("'resources': {'cpu': {'quota': -2}}"),
		  "config.json: linux.resources.cpu.quota: -2 out of range [-1, "
		  "9223372036854775807]" },
		{ LINUX("'resources': {'cpu': {'idle': 2}}"),
		  "config.json: linux.resources.cpu.idle: 2 out of range [0, 1]" },
		{ LINUX("'resources': {'cpu': {'cpus': [0, 1]}}"),
		  "config.json: linux.resources.cpu.cpus: expected string, got array" },
		{ LINUX("'resources': {'pids': 5}"),
		  "config.json: linux.resources.pids: expected object, got integer" },
		{ LINUX("'resources': {'pids': {'limit': 1.5}}"),
		  "config.json: linux.resources.pids.limit: expected integer, got number" },
		{ LINUX("'resources': {'blockIO': {'weight': 1001}}"),
		  "config.json: linux.resources.blockIO.weight: 1001 out of range [0, 1000]" },
		{ LINUX("'resources': {'blockIO': {'weightDevice': [{'major': 8, 'minor': 0,"
			" 'leafWeight': 2000}]}}"),
		  "config.json: linux.resources.blockIO.weightDevice[0].leafWeight: 2000 out of "
		  "range [0, 1000]" },
		{ LINUX("'resources': {'blockIO': {'throttleReadBpsDevice': [{'major': 8,"
			" 'minor': 0, 'rate': -1}]}}"),
		  "config.json: linux.resources.blockIO.throttleReadBpsDevice[0].rate: -1 out of "
		  "range [0, 9223372036854775807]" },
		{ LINUX("'resources': {'blockIO': {'throttleWriteIOPSDevice': [8]}}"),
		  "config.json: linux.resources.blockIO.throttleWriteIOPSDevice[0]: expected "
		  "object, got integer" },
		{ LINUX("'resources': {'hugepageLimits': [{'pageSize': '2 MB', 'limit': 1}]}"),
		  "config.json: linux.resources.hugepageLimits[0].pageSize: invalid page size \"2 "
		  "MB\"" },
		{ LINUX("'resources': {'hugepageLimits': [{'pageSize': '', 'limit': 1}]}"),
		  "config.json: linux.resources.hugepageLimits[0].pageSize: invalid page size "
		  "\"\"" },
		{ LINUX("'resources': {'hugepageLimits': [{'limit': 1}]}"),
		  "config.json: linux.resources.hugepageLimits[0].pageSize: required" },
		{ LINUX("'resources': {'network': {'classID': -1}}"),
		  "config.json: linux.resources.network.classID: -1 out of range [0, 4294967295]" },
		{ LINUX("'resources': {'network': {'priorities': [{'priority': 1}]}}"),
		  "config.json: linux.resources.network.priorities[0].name: required" },
		{ LINUX("'resources': {'unified': {'memory.max': 1024}}"),
		  "config.json: linux.resources.unified[\"memory.max\"]: expected string, got "
		  "integer" },
		{ LINUX("'resources': {'unified': ['memory.max']}"),
		  "config.json: linux.resources.unified: expected object, got array" },
	};
	check_bad(cases, ARRAY_SIZE(cases));
}

static void test_bad_sysctl(void **state)
{
	static const struct bad cases[] = {
		{ LINUX("'sysctl': {'net.ipv4.ip_forward': '1'}"),
		  "config.json: linux.sysctl[\"net.ipv4.ip_forward\"]: not allowed in the host's "
		  "network namespace" },
		{ LINUX("'namespaces': [{'type': 'uts'}],"
			"'sysctl': {'kernel.hostname': 'a', 'net.ipv4.ip_forward': '1'}"),
		  "config.json: linux.sysctl[\"net.ipv4.ip_forward\"]: not allowed in the host's "
		  "network namespace" },
		{ LINUX("'namespaces': [{'type': 'network'}], 'sysctl': {'kernel.shmmax': '1'}"),
		  "config.json: linux.sysctl[\"kernel.shmmax\"]: not allowed in the host's ipc "
		  "namespace" },
		{ LINUX("'sysctl': {'fs.mqueue.msg_max': '10'}"),
		  "config.json: linux.sysctl[\"fs.mqueue.msg_max\"]: not allowed in the host's ipc "
		  "namespace" },
		{ LINUX("'sysctl': {'kernel.domainname': 'x'}"),
		  "config.json: linux.sysctl[\"kernel.domainname\"]: not allowed in the host's uts "
		  "namespace" },
		{ LINUX("'namespaces': [{'type': 'ipc'}, {'type': 'network'}, {'type': 'uts'}],"
			"'sysctl': {'kernel.panic': '1'}"),
		  "config.json: linux.sysctl[\"kernel.panic\"]: not in a separate kernel "
		  "namespace" },
		{ LINUX("'namespaces': [{'type': 'ipc'}], 'sysctl': {'vm.swappiness': '1'}"),
		  "config.json: linux.sysctl[\"vm.swappiness\"]: not in a separate kernel "
		  "namespace" },
		{ LINUX("'sysctl': ['net.ipv4.ip_forward=1']"),
		  "config.json: linux.sysctl: expected object, got array" },
	};
	check_bad(cases, ARRAY_SIZE(cases));
}

static void test_bad_seccomp(void **state)
{
#define SC(...) LINUX("'seccomp': {" __VA_ARGS__ "}")
#define SCR(...) SC("'defaultAction': 'SCMP_ACT_ALLOW', 'syscalls': [" __VA_ARGS__ "]")
	static const struct bad cases[] = {
		{ LINUX("'seccomp': 'default'"),
		  "config.json: linux.seccomp: expected object, got string" },
		{ SC("'architectures': ['SCMP_ARCH_X86_64']"),
		  "config.json: linux.seccomp.defaultAction: required" },
		{ SC("'defaultAction': 'SCMP_ACT_DENY'"),
		  "config.json: linux.seccomp.defaultAction: unknown action \"SCMP_ACT_DENY\"" },
		{ SC("'defaultAction': 'scmp_act_allow'"),
		  "config.json: linux.seccomp.defaultAction: unknown action \"scmp_act_allow\"" },
		{ SC("'defaultAction': 'SCMP_ACT_ERRNO', 'defaultErrnoRet': 4096"),
		  "config.json: linux.seccomp.defaultErrnoRet: 4096 out of range [0, 4095]" },
		{ SC("'defaultAction': 'SCMP_ACT_ALLOW', 'architectures': ['SCMP_ARCH_X86_64',"
		     " 'x86_64']"),
		  "config.json: linux.seccomp.architectures[1]: unknown architecture "
		  "\"x86_64\"" },
		{ SC("'defaultAction': 'SCMP_ACT_ALLOW', 'flags': ['FLAG_LOG']"),
		  "config.json: linux.seccomp.flags[0]: unknown flag \"FLAG_LOG\"" },
		{ SC("'defaultAction': 'SCMP_ACT_ALLOW', 'listenerPath': 1"),
		  "config.json: linux.seccomp.listenerPath: expected string, got integer" },
		{ SC("'defaultAction': 'SCMP_ACT_ALLOW', 'syscalls': {}"),
		  "config.json: linux.seccomp.syscalls: expected array, got object" },
		{ SCR("{'names': ['read'], 'action': 'SCMP_ACT_ALLOW'},"
		      "{'names': ['write'], 'action': 'SCMP_ACT_PERMIT'}"),
		  "config.json: linux.seccomp.syscalls[1].action: unknown action "
		  "\"SCMP_ACT_PERMIT\"" },
		{ SCR("{'names': ['read']}"),
		  "config.json: linux.seccomp.syscalls[0].action: required" },
		{ SCR("{'names': [], 'action': 'SCMP_ACT_ALLOW'}"),
		  "config.json: linux.seccomp.syscalls[0].names: at least one syscall name is "
		  "required" },
		{ SCR("{'action': 'SCMP_ACT_ALLOW'}"),
		  "config.json: linux.seccomp.syscalls[0].names: at least one syscall name is "
		  "required" },
		{ SCR("{'names': ['mkdir'], 'action': 'SCMP_ACT_ERRNO', 'errnoRet': -1}"),
		  "config.json: linux.seccomp.syscalls[0].errnoRet: -1 out of range [0, 4095]" },
		{ SCR("{'names': ['kill'], 'action': 'SCMP_ACT_ALLOW',"
		      " 'args': [{'index': 0, 'value': 1, 'op': 'SCMP_CMP_EQ'},"
		      "          {'index': 1, 'value': 1, 'op': 'SCMP_CMP_LIKE'}]}"),
		  "config.json: linux.seccomp.syscalls[0].args[1].op: unknown operator "
		  "\"SCMP_CMP_LIKE\"" },
		{ SCR("{'names': ['kill'], 'action': 'SCMP_ACT_ALLOW',"
		      " 'args': [{'index': 0, 'value': 1}]}"),
		  "config.json: linux.seccomp.syscalls[0].args[0].op: required" },
		{ SCR("{'names': ['kill'], 'action': 'SCMP_ACT_ALLOW',"
		      " 'args': [{'index': 6, 'value': 1, 'op': 'SCMP_CMP_EQ'}]}"),
		  "config.json: linux.seccomp.syscalls[0].args[0].index: 6 out of range [0, 5]" },
		{ SCR("{'names': ['kill'], 'action': 'SCMP_ACT_ALLOW', 'args': ['x']}"),
		  "config.json: linux.seccomp.syscalls[0].args[0]: expected object, got string" },
		{ SCR("'read'"),
		  "config.json: linux.seccomp.syscalls[0]: expected object, got string" },
	};
#undef SC
#undef SCR
	check_bad(cases, ARRAY_SIZE(cases));
}

static void test_bad_linux_misc(void **state)
{
	static const struct bad cases[] = {
		{ LINUX("'rootfsPropagation': 'recursive'"),
		  "config.json: linux.rootfsPropagation: unknown propagation \"recursive\"" },
		{ LINUX("'maskedPaths': '/proc/kcore'"),
		  "config.json: linux.maskedPaths: expected array of strings, got string" },
		{ LINUX("'readonlyPaths': ['/proc/sys', 1]"),
		  "config.json: linux.readonlyPaths[1]: expected string, got integer" },
		{ LINUX("'maskedPaths': ['/proc/kcore', 'masked-relpath']"),
		  "config.json: linux.maskedPaths[1]: must be an absolute path, got "
		  "\"masked-relpath\"" },
		{ LINUX("'readonlyPaths': ['proc/sys']"),
		  "config.json: linux.readonlyPaths[0]: must be an absolute path, got "
		  "\"proc/sys\"" },
		{ LINUX("'cgroupsPath': 7"),
		  "config.json: linux.cgroupsPath: expected string, got integer" },
		{ LINUX("'personality': {'domain': 'BSD'}"),
		  "config.json: linux.personality.domain: unknown domain \"BSD\"" },
		{ LINUX("'personality': {}"), "config.json: linux.personality.domain: required" },
		{ LINUX("'mountLabel': false"),
		  "config.json: linux.mountLabel: expected string, got boolean" },
	};
	check_bad(cases, ARRAY_SIZE(cases));
}

/* The first error wins: a document with several problems reports the earliest field. */
static void test_first_error_reported(void **state)
{
	static const struct bad cases[] = {
		{ "{'root': 5}", "config.json: ociVersion: required" },
		{ DOC("'root': {}, 'linux': {'namespaces': [{'type': 'foo'}]}"),
		  "config.json: root.path: required" },
	};
	check_bad(cases, ARRAY_SIZE(cases));
}

/* Malformed-but-well-placed fields whose errors the parser should word the same as the
 * rest; these document inconsistencies found while writing this suite. */
static void test_time_offsets(void **state)
{
	_cleanup_spec_ struct rt_spec *s =
	    parse_ok(LINUX("'namespaces': [{'type': 'time'}], 'timeOffsets': {'monotonic': "
			   "{'secs': -5, 'nanosecs': 7}, 'boottime': {'secs': 100}}"));
	assert_true(s->linux.monotonic_offset.set);
	assert_int_equal(s->linux.monotonic_offset.secs, -5);
	assert_int_equal(s->linux.monotonic_offset.nanosecs, 7);
	assert_true(s->linux.boottime_offset.set);
	assert_int_equal(s->linux.boottime_offset.secs, 100);
	static const struct bad cases[] = {
		{ LINUX("'timeOffsets': {'boottime': {'secs': 1}}"),
		  "config.json: linux.timeOffsets: needs a new time namespace" },
		{ LINUX("'namespaces': [{'type': 'time'}], 'timeOffsets': {'realtime': {}}"),
		  "config.json: linux.timeOffsets[\"realtime\"]: unknown clock (monotonic or "
		  "boottime)" },
		{ LINUX("'namespaces': [{'type': 'time'}],"
			"'timeOffsets': {'monotonic': {'nanosecs': 1000000000}}"),
		  "config.json: linux.timeOffsets.monotonic.nanosecs: 1000000000 out of range [0, "
		  "999999999]" },
	};
	check_bad(cases, ARRAY_SIZE(cases));
}

/* Go's "unlimited" (uint64 max) does not fit the JSON library's int64: read as -1. */
static void test_uint64_max(void **state)
{
	_cleanup_spec_ struct rt_spec *s =
	    parse_ok(DOC("'process': {'args': ['sh', '18446744073709551615'], 'cwd': '/',"
			 " 'rlimits': [{'type': 'RLIMIT_CORE', 'soft': 18446744073709551615,"
			 " 'hard':18446744073709551615}]},"
			 "'linux': {'seccomp': {'defaultAction': 'SCMP_ACT_ALLOW', 'syscalls': "
			 "[{'names': ['kill'], 'action': 'SCMP_ACT_ERRNO', 'args': [{'index': 0,"
			 " 'value':18446744073709551615, 'op': 'SCMP_CMP_EQ'}]}]}}"));
	assert_true(s->process->rlimits[0].soft == RLIM_INFINITY);
	assert_true(s->process->rlimits[0].hard == RLIM_INFINITY);
	assert_true(s->linux.seccomp->syscalls[0].args[0].value == UINT64_MAX);
	/* Inside a string the digits are text. */
	assert_string_equal(s->process->args[1], "18446744073709551615");
	static const struct bad cases[] = {
		{ PROC("'user': {'uid': 18446744073709551615}"),
		  "config.json: process.user.uid: -1 out of range [0, 4294967295]" },
	};
	check_bad(cases, ARRAY_SIZE(cases));
	/* Only that exact literal: a longer number is still too big, and columns in syntax
	 * errors after it are unchanged. */
	check_bad_syntax(PROC("'user': {'uid': 184467440737095516150}"),
			 "config.json: line 1 column ", "too big");
	check_bad_syntax(PROC("'rlimits': [{'soft': 18446744073709551615 x}]"),
			 "config.json: line 1 column 100: ", "near 'x'");
}

static void test_error_paths_name_the_field(void **state)
{
	static const struct bad cases[] = {
		/* "size: required" is put in the reason instead of the path */
		{ LINUX("'namespaces': [{'type': 'user'}],"
			"'uidMappings': [{'containerID': 0, 'hostID': 0}],"
			"'gidMappings': [{'containerID': 0, 'hostID': 0, 'size': 1}]"),
		  "config.json: linux.uidMappings[0].size: required" },
		/* only gidMappings given: the message names uidMappings */
		{ LINUX("'gidMappings': [{'containerID': 0, 'hostID': 1000, 'size': 1}]"),
		  "config.json: linux.gidMappings: mappings require a user namespace" },
		/* a NUL byte inside an array element: "expected string, got string" */
		{ PROC("'env': ['A=1\\u0000B']"),
		  "config.json: process.env[0]: contains a NUL byte" },
		/* a sysctl value of the wrong type is named "linux.sysctl.net.ipv4.ip_forward", not
		 * in the bracket form the namespace check uses for the same key */
		{ LINUX(
		      "'namespaces': [{'type': 'network'}], 'sysctl': {'net.ipv4.ip_forward': 1}"),
		  "config.json: linux.sysctl[\"net.ipv4.ip_forward\"]: expected string, got "
		  "integer" },
	};
	check_bad(cases, ARRAY_SIZE(cases));
}

/* A required value given as JSON null is missing, not zero. */
static void test_null_is_absent_for_required_fields(void **state)
{
	static const struct bad cases[] = {
		{ LINUX("'namespaces': [{'type': 'user'}],"
			"'uidMappings': [{'containerID': 0, 'hostID': 0, 'size': null}],"
			"'gidMappings': [{'containerID': 0, 'hostID': 0, 'size': 1}]"),
		  "config.json: linux.uidMappings[0].size: required" },
		{ PROC("'rlimits': [{'type': 'RLIMIT_NOFILE', 'soft': null, 'hard': 1024}]"),
		  "config.json: process.rlimits[0]: soft and hard are required" },
		{ LINUX("'resources': {'devices': [{'allow': null}]}"),
		  "config.json: linux.resources.devices[0].allow: required" },
		{ LINUX("'devices': [{'path': '/dev/x', 'type': 'c', 'major': null, 'minor': 1}]"),
		  "config.json: linux.devices[0]: major and minor are required for /dev/x (type "
		  "\"c\")" },
	};
	check_bad(cases, ARRAY_SIZE(cases));
}

/* String maps (annotations, sysctl, unified) refuse NUL bytes as other strings do, rather than
 * cutting the value at the NUL. Their keys are named in brackets, escaped; a key with a quote,
 * which would make that name ambiguous, is refused. */
static void test_map_members(void **state)
{
	static const struct bad cases[] = {
		{ DOC("'annotations': {'k': 'a\\u0000b'}"),
		  "config.json: annotations[\"k\"]: contains a NUL byte" },
		{ DOC("'annotations': {'ok': 'x', 'a\\\"b': 'x'}"),
		  "config.json: annotations[\"a\"b\"]: key contains a quote" },
		{ LINUX("'namespaces': [{'type': 'time'}], 'timeOffsets': {'real\\ntime': {}}"),
		  "config.json: linux.timeOffsets[\"real\\x0atime\"]: unknown clock (monotonic or "
		  "boottime)" },
	};
	check_bad(cases, ARRAY_SIZE(cases));
}

/* ---- process.json ---- */

static void test_process_parse(void **state)
{
	_cleanup_error_ struct cc_error *err = NULL;
	_cleanup_process_ struct rt_process *p = parse_process(
	    "{'terminal': false, 'user': {'uid': 33, 'gid': 33, 'additionalGids': [4]},"
	    " 'args': ['/bin/ls', '-l'], 'env': ['HOME=/root'], 'cwd': '/var/www',"
	    " 'capabilities': {'bounding': ['CAP_CHOWN'], 'ambient': []},"
	    " 'rlimits': [{'type': 'RLIMIT_NPROC', 'soft': 10, 'hard': 20}],"
	    " 'noNewPrivileges': true, 'oomScoreAdj': 1000, 'apparmorProfile': 'unconfined',"
	    " 'consoleSize': {'height': 40, 'width': 120}}",
	    &err);
	if (!p)
		fail_msg("%s", err->msg);
	assert_null(err);
	assert_false(p->terminal);
	assert_int_equal(p->user.uid, 33);
	assert_int_equal(p->user.gid, 33);
	assert_false(p->user.has_umask);
	assert_int_equal(p->user.n_additional_gids, 1);
	assert_int_equal(p->user.additional_gids[0], 4);
	assert_null(p->user.username);
	assert_strv(p->args, "/bin/ls", "-l");
	assert_strv(p->env, "HOME=/root");
	assert_string_equal(p->cwd, "/var/www");
	assert_true(p->caps.present);
	assert_int_equal(p->caps.bounding, CAP(CAP_CHOWN));
	assert_int_equal(p->caps.ambient, 0);
	assert_int_equal(p->n_rlimits, 1);
	assert_int_equal(p->rlimits[0].resource, RLIMIT_NPROC);
	assert_int_equal(p->rlimits[0].soft, 10);
	assert_int_equal(p->rlimits[0].hard, 20);
	assert_true(p->no_new_privileges);
	assert_true(p->has_oom_score_adj);
	assert_int_equal(p->oom_score_adj, 1000);
	assert_string_equal(p->apparmor_profile, "unconfined");
	assert_null(p->selinux_label);
	assert_true(p->has_console_size);
	assert_int_equal(p->console_height, 40);
	assert_int_equal(p->console_width, 120);
	assert_false(p->has_io_priority);

	/* minimal */
	_cleanup_process_ struct rt_process *m = parse_process("{'args': ['x'], 'cwd': '/'}", &err);
	assert_non_null(m);
	assert_null(err);
	assert_int_equal(m->user.uid, 0);
	assert_null(m->env);
	assert_false(m->caps.present);
	assert_int_equal(m->n_rlimits, 0);
	assert_false(m->has_oom_score_adj);
	assert_false(m->has_console_size);
}

static void test_process_parse_bad(void **state)
{
	static const struct bad cases[] = {
		{ "[]", "process.json: expected a JSON object" },
		{ "{'cwd': '/'}", "process.json: args: at least one argument is required" },
		{ "{'args': [], 'cwd': '/'}",
		  "process.json: args: at least one argument is required" },
		{ "{'args': ['sh']}", "process.json: cwd: required" },
		{ "{'args': ['sh'], 'cwd': 'home'}",
		  "process.json: cwd: must be an absolute path, got \"home\"" },
		{ "{'args': ['sh'], 'cwd': '/', 'env': ['A=1', 'B']}",
		  "process.json: env[1]: \"B\" is not of the form NAME=value" },
		{ "{'args': ['sh'], 'cwd': '/', 'user': {'uid': -1}}",
		  "process.json: user.uid: -1 out of range [0, 4294967295]" },
		{ "{'args': ['sh'], 'cwd': '/', 'capabilities': {'bounding': ['chown']}}",
		  "process.json: capabilities.bounding[0]: unknown capability \"chown\"" },
		{ "{'args': ['sh'], 'cwd': '/', 'rlimits': [{'type': 'RLIMIT_X', 'soft': 1,"
		  " 'hard': 1}]}",
		  "process.json: rlimits[0].type: unknown rlimit \"RLIMIT_X\"" },
		{ "{'args': ['sh'], 'cwd': '/', 'consoleSize': []}",
		  "process.json: consoleSize: expected object, got array" },
		{ "{'args': ['sh'], 'cwd': '/', 'terminal': 'no'}",
		  "process.json: terminal: expected boolean, got string" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		_cleanup_error_ struct cc_error *err = NULL;
		_cleanup_process_ struct rt_process *p = parse_process(cases[i].json, &err);
		if (p)
			fail_msg("case %zu accepted: %s", i, cases[i].json);
		assert_non_null(err);
		if (strcmp(err->msg, cases[i].msg) != 0)
			fail_msg("case %zu: %s\n  got:  %s\n  want: %s", i, cases[i].json, err->msg,
				 cases[i].msg);
	}

	/* syntax errors */
	static const char *const syntax[] = { "", "{", "{'args': ['sh'], 'cwd': '/'} trailing",
					      "'sh'" };
	for (size_t i = 0; i < ARRAY_SIZE(syntax); i++) {
		_cleanup_error_ struct cc_error *err = NULL;
		_cleanup_process_ struct rt_process *p = parse_process(syntax[i], &err);
		assert_null(p);
		assert_non_null(err);
		assert_true(strncmp(err->msg, "process.json: line ", 19) == 0);
	}
}

/* ---- rt_spec_default, rt_spec_load ---- */

static void test_default_spec(void **state)
{
	_cleanup_free_ char *text = rt_spec_default(false);
	_cleanup_error_ struct cc_error *err = NULL;
	_cleanup_spec_ struct rt_spec *s = rt_spec_parse("config.json", text, strlen(text), &err);
	if (!s)
		fail_msg("%s", err->msg);
	assert_string_equal(s->hostname, "rune");
	assert_string_equal(s->root.path, "rootfs");
	assert_true(s->root.readonly);
	assert_strv(s->process->args, "sh");
	assert_true(s->process->terminal);
	assert_int_equal(s->process->caps.bounding,
			 CAP(CAP_AUDIT_WRITE) | CAP(CAP_KILL) | CAP(CAP_NET_BIND_SERVICE));
	assert_true(s->process->no_new_privileges);
	assert_non_null(rt_spec_namespace(s, RT_NS_NETWORK));
	assert_non_null(rt_spec_namespace(s, RT_NS_MOUNT));
	assert_null(rt_spec_namespace(s, RT_NS_USER));
	assert_true(s->linux.resources.present);
	assert_true(s->n_mounts >= 5);
	assert_string_equal(s->mounts[0].destination, "/proc");
	assert_non_null(s->linux.masked_paths);
	assert_non_null(s->linux.readonly_paths);

	_cleanup_free_ char *rl = rt_spec_default(true);
	_cleanup_spec_ struct rt_spec *r = rt_spec_parse("config.json", rl, strlen(rl), &err);
	if (!r)
		fail_msg("%s", err->msg);
	assert_non_null(rt_spec_namespace(r, RT_NS_USER));
	assert_null(rt_spec_namespace(r, RT_NS_NETWORK));
	assert_int_equal(r->linux.n_uid_mappings, 1);
	assert_int_equal(r->linux.uid_mappings[0].container_id, 0);
	assert_int_equal(r->linux.uid_mappings[0].host_id, geteuid());
	assert_int_equal(r->linux.uid_mappings[0].size, 1);
	assert_int_equal(r->linux.n_gid_mappings, 1);
	assert_int_equal(r->linux.gid_mappings[0].host_id, getegid());
	assert_false(r->linux.resources.present);
	bool sys = false;
	for (size_t i = 0; i < r->n_mounts; i++) {
		if (!strcmp(r->mounts[i].destination, "/sys")) {
			sys = true;
			assert_true(r->mounts[i].bind);
			assert_true(r->mounts[i].flags & MS_REC);
		}
		if (!strcmp(r->mounts[i].destination, "/dev/pts") && r->mounts[i].data)
			assert_null(strstr(r->mounts[i].data, "gid=5"));
	}
	assert_true(sys);
}

static void test_spec_load(void **state)
{
	char dir[] = "/tmp/rune-config-XXXXXX";
	assert_non_null(mkdtemp(dir));
	_cleanup_free_ char *path = cc_path_join(dir, "config.json");
	_cleanup_error_ struct cc_error *err = NULL;

	/* no config.json */
	struct rt_spec *none = rt_spec_load(dir, &err);
	assert_null(none);
	assert_non_null(err);
	assert_non_null(strstr(err->msg, "config.json"));
	cc_error_free(&err);

	_cleanup_free_ char *text = q(LINUX("'namespaces': [{'type': 'bogus'}]"));
	assert_int_equal(cc_write_file(path, text, strlen(text), 0644, &err), 0);
	struct rt_spec *bad = rt_spec_load(dir, &err);
	assert_null(bad);
	assert_non_null(err);
	assert_string_equal(err->msg, "config.json: linux.namespaces[0].type: unknown namespace "
				      "\"bogus\"");
	cc_error_free(&err);

	_cleanup_free_ char *good = q(DOC("'hostname': 'loaded'"));
	assert_int_equal(cc_write_file(path, good, strlen(good), 0644, &err), 0);
	_cleanup_spec_ struct rt_spec *s = rt_spec_load(dir, &err);
	assert_non_null(s);
	assert_string_equal(s->hostname, "loaded");

	assert_int_equal(cc_rm_rf(dir, &err), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_process),
		cmocka_unit_test(test_full_root_mounts),
		cmocka_unit_test(test_full_hooks),
		cmocka_unit_test(test_full_linux),
		cmocka_unit_test(test_full_resources),
		cmocka_unit_test(test_full_seccomp),
		cmocka_unit_test(test_minimal),
		cmocka_unit_test(test_nulls_are_absent),
		cmocka_unit_test(test_mount_options),
		cmocka_unit_test(test_caps_unknown),
		cmocka_unit_test(test_userns_and_sysctl_accepted),
		cmocka_unit_test(test_seccomp_names),
		cmocka_unit_test(test_name_tables),
		cmocka_unit_test(test_mount_option_table),
		cmocka_unit_test(test_bad_json),
		cmocka_unit_test(test_bad_toplevel),
		cmocka_unit_test(test_bad_process),
		cmocka_unit_test(test_bad_capabilities),
		cmocka_unit_test(test_bad_rlimits),
		cmocka_unit_test(test_bad_mounts),
		cmocka_unit_test(test_bad_hooks),
		cmocka_unit_test(test_bad_namespaces),
		cmocka_unit_test(test_bad_idmaps),
		cmocka_unit_test(test_bad_devices),
		cmocka_unit_test(test_zero_weights_are_unset),
		cmocka_unit_test(test_bad_resources),
		cmocka_unit_test(test_bad_sysctl),
		cmocka_unit_test(test_bad_seccomp),
		cmocka_unit_test(test_bad_linux_misc),
		cmocka_unit_test(test_first_error_reported),
		cmocka_unit_test(test_process_parse),
		cmocka_unit_test(test_process_parse_bad),
		cmocka_unit_test(test_default_spec),
		cmocka_unit_test(test_spec_load),
		/* Parser bugs found while writing this suite (see the comments on each). */
		cmocka_unit_test(test_mount_option_table_matches_parser),
		cmocka_unit_test(test_mount_derived_fields),
		cmocka_unit_test(test_time_offsets),
		cmocka_unit_test(test_uint64_max),
		cmocka_unit_test(test_error_paths_name_the_field),
		cmocka_unit_test(test_null_is_absent_for_required_fields),
		cmocka_unit_test(test_map_members),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
