// SPDX-License-Identifier: Apache-2.0
/* Name <-> number tables for the config model. */
#include <ctype.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include "runtime/names.h"
#include "runtime/spec.h"
#include "util/cleanup.h"
#include "util/fs.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

static const char *const ns_names[RT_NS_TYPES] = {
	[RT_NS_PID] = "pid",	   [RT_NS_NETWORK] = "network", [RT_NS_MOUNT] = "mount",
	[RT_NS_IPC] = "ipc",	   [RT_NS_UTS] = "uts",		[RT_NS_USER] = "user",
	[RT_NS_CGROUP] = "cgroup", [RT_NS_TIME] = "time",
};

const char *rt_ns_type_name(enum rt_ns_type t)
{
	if ((unsigned)t < RT_NS_TYPES)
		return ns_names[t];
	return "unknown";
}

int rt_ns_type_from_name(const char *name)
{
	for (int t = 0; t < RT_NS_TYPES; t++)
		if (!strcmp(ns_names[t], name))
			return t;
	return -1;
}

int rt_ns_clone_flag(enum rt_ns_type t)
{
	static const int flags[RT_NS_TYPES] = {
		[RT_NS_PID] = CLONE_NEWPID,	  [RT_NS_NETWORK] = CLONE_NEWNET,
		[RT_NS_MOUNT] = CLONE_NEWNS,	  [RT_NS_IPC] = CLONE_NEWIPC,
		[RT_NS_UTS] = CLONE_NEWUTS,	  [RT_NS_USER] = CLONE_NEWUSER,
		[RT_NS_CGROUP] = CLONE_NEWCGROUP, [RT_NS_TIME] = CLONE_NEWTIME,
	};
	if ((unsigned)t < RT_NS_TYPES)
		return flags[t];
	return 0;
}

/* ---- capabilities ---- */

/* Capability numbers fit a 64-bit mask (struct rt_caps); libcap names are cached upper-case
 * because cap_to_name() allocates and callers want static strings. */
#define MAX_CAPS 64

static char cap_names[MAX_CAPS][32];
static int cap_last = -1;
static pthread_once_t cap_once = PTHREAD_ONCE_INIT;

static int read_cap_last(void)
{
	_cleanup_free_ char *text = cc_read_file("/proc/sys/kernel/cap_last_cap", 64, NULL, NULL);
	char *end;
	long v;

	if (!text)
		return CAP_LAST_CAP;
	errno = 0;
	v = strtol(text, &end, 10);
	if (errno || end == text || v < 0 || v >= MAX_CAPS)
		return CAP_LAST_CAP;
	return (int)v;
}

static void cap_table_init(void)
{
	for (int c = 0; c < MAX_CAPS; c++) {
		char *name = cap_to_name((cap_value_t)c);
		/* libcap spells capabilities it has no name for as plain numbers. */
		if (name && !isdigit((unsigned char)name[0]) &&
		    strlen(name) < sizeof(cap_names[c])) {
			for (size_t i = 0; name[i]; i++)
				cap_names[c][i] = (char)toupper((unsigned char)name[i]);
		}
		cap_free(name);
	}
	cap_last = read_cap_last();
}

int rt_cap_from_name(const char *name)
{
	pthread_once(&cap_once, cap_table_init);
	if (!name || strncmp(name, "CAP_", 4) != 0)
		return -1;
	for (int c = 0; c < MAX_CAPS; c++)
		if (cap_names[c][0] && !strcmp(cap_names[c], name))
			return c;
	return -1;
}

const char *rt_cap_name(int cap)
{
	pthread_once(&cap_once, cap_table_init);
	if (cap < 0 || cap >= MAX_CAPS || !cap_names[cap][0])
		return NULL;
	return cap_names[cap];
}

int rt_cap_last(void)
{
	pthread_once(&cap_once, cap_table_init);
	return cap_last;
}

/* ---- rlimits ---- */

static const struct {
	const char *name;
	int resource;
} rlimits[] = {
	{ "RLIMIT_AS", RLIMIT_AS },
	{ "RLIMIT_CORE", RLIMIT_CORE },
	{ "RLIMIT_CPU", RLIMIT_CPU },
	{ "RLIMIT_DATA", RLIMIT_DATA },
	{ "RLIMIT_FSIZE", RLIMIT_FSIZE },
	{ "RLIMIT_LOCKS", RLIMIT_LOCKS },
	{ "RLIMIT_MEMLOCK", RLIMIT_MEMLOCK },
	{ "RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE },
	{ "RLIMIT_NICE", RLIMIT_NICE },
	{ "RLIMIT_NOFILE", RLIMIT_NOFILE },
	{ "RLIMIT_NPROC", RLIMIT_NPROC },
	{ "RLIMIT_RSS", RLIMIT_RSS },
	{ "RLIMIT_RTPRIO", RLIMIT_RTPRIO },
	{ "RLIMIT_RTTIME", RLIMIT_RTTIME },
	{ "RLIMIT_SIGPENDING", RLIMIT_SIGPENDING },
	{ "RLIMIT_STACK", RLIMIT_STACK },
};

int rt_rlimit_from_name(const char *name)
{
	for (size_t i = 0; name && i < ARRAY_SIZE(rlimits); i++)
		if (!strcmp(rlimits[i].name, name))
			return rlimits[i].resource;
	return -1;
}

const char *rt_rlimit_name(int resource)
{
	for (size_t i = 0; i < ARRAY_SIZE(rlimits); i++)
		if (rlimits[i].resource == resource)
			return rlimits[i].name;
	return NULL;
}

/* ---- seccomp ---- */

static const char *const scmp_actions[] = {
	[RT_SCMP_KILL] = "SCMP_ACT_KILL",
	[RT_SCMP_KILL_PROCESS] = "SCMP_ACT_KILL_PROCESS",
	[RT_SCMP_KILL_THREAD] = "SCMP_ACT_KILL_THREAD",
	[RT_SCMP_TRAP] = "SCMP_ACT_TRAP",
	[RT_SCMP_ERRNO] = "SCMP_ACT_ERRNO",
	[RT_SCMP_TRACE] = "SCMP_ACT_TRACE",
	[RT_SCMP_ALLOW] = "SCMP_ACT_ALLOW",
	[RT_SCMP_LOG] = "SCMP_ACT_LOG",
	[RT_SCMP_NOTIFY] = "SCMP_ACT_NOTIFY",
};

static const char *const scmp_ops[] = {
	[RT_SCMP_OP_NE] = "SCMP_CMP_NE",
	[RT_SCMP_OP_LT] = "SCMP_CMP_LT",
	[RT_SCMP_OP_LE] = "SCMP_CMP_LE",
	[RT_SCMP_OP_EQ] = "SCMP_CMP_EQ",
	[RT_SCMP_OP_GE] = "SCMP_CMP_GE",
	[RT_SCMP_OP_GT] = "SCMP_CMP_GT",
	[RT_SCMP_OP_MASKED_EQ] = "SCMP_CMP_MASKED_EQ",
};

static int lookup(const char *const *names, size_t n, const char *name)
{
	for (size_t i = 0; name && i < n; i++)
		if (names[i] && !strcmp(names[i], name))
			return (int)i;
	return -1;
}

int rt_seccomp_action_from_name(const char *name)
{
	return lookup(scmp_actions, ARRAY_SIZE(scmp_actions), name);
}

const char *rt_seccomp_action_name(enum rt_seccomp_action a)
{
	return (unsigned)a < ARRAY_SIZE(scmp_actions) ? scmp_actions[a] : NULL;
}

int rt_seccomp_op_from_name(const char *name)
{
	return lookup(scmp_ops, ARRAY_SIZE(scmp_ops), name);
}

const char *rt_seccomp_op_name(enum rt_seccomp_op op)
{
	return (unsigned)op < ARRAY_SIZE(scmp_ops) ? scmp_ops[op] : NULL;
}

/* ---- mounts ---- */

/* Kept sorted: `rune features` prints it as is. The parser's own option table (config.c)
 * must recognise exactly these; the config unit test checks that. */
static const char *const mount_options[] = {
	"acl",
	"async",
	"atime",
	"bind",
	"defaults",
	"dev",
	"diratime",
	"dirsync",
	"exec",
	"iversion",
	"lazytime",
	"loud",
	"mand",
	"noacl",
	"noatime",
	"nodev",
	"nodiratime",
	"noexec",
	"noiversion",
	"nolazytime",
	"nomand",
	"norelatime",
	"nostrictatime",
	"nosuid",
	"nosymfollow",
	"private",
	"ratime",
	"rbind",
	"rdev",
	"rdiratime",
	"relatime",
	"remount",
	"rexec",
	"rnoatime",
	"rnodev",
	"rnodiratime",
	"rnoexec",
	"rnorelatime",
	"rnostrictatime",
	"rnosuid",
	"rnosymfollow",
	"ro",
	"rprivate",
	"rrelatime",
	"rro",
	"rrw",
	"rshared",
	"rslave",
	"rstrictatime",
	"rsuid",
	"rsymfollow",
	"runbindable",
	"rw",
	"shared",
	"silent",
	"slave",
	"strictatime",
	"suid",
	"symfollow",
	"sync",
	"tmpcopyup",
	"unbindable",
	NULL,
};

const char *const *rt_mount_option_names(void)
{
	return mount_options;
}

bool rt_propagation_from_name(const char *name, unsigned long *flags)
{
	static const struct {
		const char *name;
		unsigned long flags;
	} props[] = {
		{ "private", MS_PRIVATE },	 { "rprivate", MS_PRIVATE | MS_REC },
		{ "shared", MS_SHARED },	 { "rshared", MS_SHARED | MS_REC },
		{ "slave", MS_SLAVE },		 { "rslave", MS_SLAVE | MS_REC },
		{ "unbindable", MS_UNBINDABLE }, { "runbindable", MS_UNBINDABLE | MS_REC },
	};
	for (size_t i = 0; name && i < ARRAY_SIZE(props); i++) {
		if (!strcmp(props[i].name, name)) {
			*flags = props[i].flags;
			return true;
		}
	}
	return false;
}

/* ---- lookups in a parsed spec ---- */

const struct rt_namespace *rt_spec_namespace(const struct rt_spec *spec, enum rt_ns_type type)
{
	for (size_t i = 0; spec && i < spec->linux.n_namespaces; i++)
		if (spec->linux.namespaces[i].type == type)
			return &spec->linux.namespaces[i];
	return NULL;
}

const char *rt_spec_annotation(const struct rt_spec *spec, const char *key)
{
	for (size_t i = 0; spec && key && i < spec->n_annotations; i++)
		if (spec->annotations[i].key && !strcmp(spec->annotations[i].key, key))
			return spec->annotations[i].value;
	return NULL;
}
