/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The OCI runtime-spec configuration (config.json, runtime-spec 1.0.2 / 1.1) as typed C data.
 * Produced by rt_spec_parse() (config.c), which validates every field and names the offending
 * field in its error; everything after that trusts these values to be well-formed.
 * Strings are heap-owned; string vectors are NULL-terminated (util/strv.h); arrays carry a count.
 * A field the config omits is NULL / 0 / has_x == false.
 */
#pragma once

/* GNU C predefines `linux` as 1; the spec's field of that name needs it gone. */
#ifdef linux
#undef linux
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>
#include "util/error.h"

/* The runtime-spec version rune implements (reported in state and features). */
#define RT_OCI_VERSION "1.1.0"

/* ---- process ---- */

struct rt_rlimit {
	int resource; /* RLIMIT_* */
	uint64_t soft, hard;
};

/* Capability sets as bit masks (bit n = capability n, libcap numbering). */
struct rt_caps {
	bool present; /* process.capabilities given at all */
	uint64_t bounding, effective, inheritable, permitted, ambient;
};

struct rt_user {
	uid_t uid;
	gid_t gid;
	bool has_umask;
	mode_t umask;
	gid_t *additional_gids;
	size_t n_additional_gids;
	char *username;
};

struct rt_process {
	bool terminal;
	bool has_console_size;
	unsigned console_height, console_width;
	struct rt_user user;
	char **args; /* at least one element */
	char **env;
	char *cwd; /* absolute */
	struct rt_caps caps;
	struct rt_rlimit *rlimits;
	size_t n_rlimits;
	bool no_new_privileges;
	char *apparmor_profile;
	char *selinux_label;
	bool has_oom_score_adj;
	int oom_score_adj;
	/* linux.personality / scheduler / ioPriority are validated but applied best-effort. */
	bool has_io_priority;
	int io_priority_class, io_priority;
};

/* ---- root, mounts ---- */

struct rt_root {
	char *path; /* as written; resolved against the bundle by the caller */
	bool readonly;
};

enum rt_propagation {
	RT_PROP_NONE = 0,
	RT_PROP_PRIVATE,
	RT_PROP_RPRIVATE,
	RT_PROP_SHARED,
	RT_PROP_RSHARED,
	RT_PROP_SLAVE,
	RT_PROP_RSLAVE,
	RT_PROP_UNBINDABLE,
	RT_PROP_RUNBINDABLE
};

struct rt_idmap {
	uint32_t container_id, host_id, size;
};

struct rt_mount {
	char *destination; /* absolute, cleaned */
	char *type;	   /* may be NULL (bind mounts) */
	char *source;	   /* may be NULL */
	char **options;	   /* as given */
	/* Derived from options by the parser: */
	unsigned long flags;	   /* MS_* to set (MS_BIND|MS_REC for rbind) */
	unsigned long clear_flags; /* MS_* explicitly cleared ("rw", "suid", ...) */
	unsigned long propagation; /* MS_SHARED|MS_SLAVE|MS_PRIVATE|MS_UNBINDABLE (|MS_REC) or 0 */
	char *data;		   /* comma-joined options the kernel takes as data, or NULL */
	bool bind;		   /* bind or rbind */
	bool tmpcopyup;		   /* "tmpcopyup" option */
	struct rt_idmap *uid_mappings, *gid_mappings; /* idmapped mounts (1.1) */
	size_t n_uid_mappings, n_gid_mappings;
	/* The recursive options ("rro", "rnosuid", "rnoatime", ...): MOUNT_ATTR_* to set and
	 * clear with mount_setattr(AT_RECURSIVE) after the mount; 0 when none were given. */
	uint64_t attr_set, attr_clr;
};

/* ---- hooks ---- */

struct rt_hook {
	char *path; /* absolute */
	char **args;
	char **env;
	int timeout; /* seconds; 0 = none */
};

enum rt_hook_kind {
	RT_HOOK_PRESTART = 0,
	RT_HOOK_CREATE_RUNTIME,
	RT_HOOK_CREATE_CONTAINER,
	RT_HOOK_START_CONTAINER,
	RT_HOOK_POSTSTART,
	RT_HOOK_POSTSTOP,
	RT_HOOK_KINDS
};

struct rt_hooks {
	struct rt_hook *list[RT_HOOK_KINDS];
	size_t count[RT_HOOK_KINDS];
};

/* ---- linux ---- */

enum rt_ns_type {
	RT_NS_PID = 0,
	RT_NS_NETWORK,
	RT_NS_MOUNT,
	RT_NS_IPC,
	RT_NS_UTS,
	RT_NS_USER,
	RT_NS_CGROUP,
	RT_NS_TIME,
	RT_NS_TYPES
};

struct rt_namespace {
	enum rt_ns_type type;
	char *path; /* NULL: create a new one */
};

struct rt_device {
	char type; /* 'c', 'b', 'u', 'p' */
	char *path;
	int64_t major, minor;
	bool has_file_mode, has_uid, has_gid;
	mode_t file_mode;
	uid_t uid;
	gid_t gid;
};

struct rt_device_rule {
	bool allow;
	char type;	      /* 'a', 'c', 'b' */
	int64_t major, minor; /* -1 = wildcard */
	char access[4];	      /* subset of "rwm", "" means "rwm" */
};

struct rt_weight_device {
	int64_t major, minor;
	bool has_weight, has_leaf_weight;
	uint16_t weight, leaf_weight;
};

struct rt_throttle_device {
	int64_t major, minor;
	uint64_t rate;
};

struct rt_hugepage_limit {
	char *page_size; /* "2MB", "1GB", ... */
	uint64_t limit;
};

struct rt_kv {
	char *key, *value;
};

/* Optional numbers: the has_ flag says whether the config set them. */
struct rt_resources {
	bool present;
	struct rt_device_rule *devices;
	size_t n_devices;
	struct {
		bool has_limit, has_reservation, has_swap, has_kernel, has_kernel_tcp,
		    has_swappiness, has_disable_oom_killer, has_use_hierarchy;
		int64_t limit, reservation, swap, kernel, kernel_tcp;
		uint64_t swappiness;
		bool disable_oom_killer, use_hierarchy, check_before_update;
	} memory;
	struct {
		bool has_shares, has_quota, has_burst, has_period, has_realtime_runtime,
		    has_realtime_period, has_idle;
		uint64_t shares, period, realtime_period, burst;
		int64_t quota, realtime_runtime, idle;
		char *cpus, *mems;
	} cpu;
	struct {
		bool has_limit;
		int64_t limit;
	} pids;
	struct {
		bool has_weight, has_leaf_weight;
		uint16_t weight, leaf_weight;
		struct rt_weight_device *weight_device;
		size_t n_weight_device;
		struct rt_throttle_device *throttle_read_bps, *throttle_write_bps,
		    *throttle_read_iops, *throttle_write_iops;
		size_t n_throttle_read_bps, n_throttle_write_bps, n_throttle_read_iops,
		    n_throttle_write_iops;
	} block_io;
	struct rt_hugepage_limit *hugepage_limits;
	size_t n_hugepage_limits;
	struct {
		bool has_class_id;
		uint32_t class_id;
		struct rt_kv *priorities; /* value is the decimal priority */
		size_t n_priorities;
	} network;
	struct rt_kv *unified;
	size_t n_unified;
};

enum rt_seccomp_action {
	RT_SCMP_KILL = 0,
	RT_SCMP_KILL_PROCESS,
	RT_SCMP_KILL_THREAD,
	RT_SCMP_TRAP,
	RT_SCMP_ERRNO,
	RT_SCMP_TRACE,
	RT_SCMP_ALLOW,
	RT_SCMP_LOG,
	RT_SCMP_NOTIFY
};

enum rt_seccomp_op {
	RT_SCMP_OP_NE = 0,
	RT_SCMP_OP_LT,
	RT_SCMP_OP_LE,
	RT_SCMP_OP_EQ,
	RT_SCMP_OP_GE,
	RT_SCMP_OP_GT,
	RT_SCMP_OP_MASKED_EQ
};

struct rt_seccomp_arg {
	unsigned index;
	uint64_t value, value_two;
	enum rt_seccomp_op op;
};

struct rt_seccomp_rule {
	char **names;
	enum rt_seccomp_action action;
	bool has_errno_ret;
	unsigned errno_ret;
	struct rt_seccomp_arg *args;
	size_t n_args;
};

struct rt_seccomp {
	enum rt_seccomp_action default_action;
	bool has_default_errno_ret;
	unsigned default_errno_ret;
	char **architectures; /* "SCMP_ARCH_X86_64", ... */
	char **flags;	      /* "SECCOMP_FILTER_FLAG_LOG", ... */
	char *listener_path;
	char *listener_metadata;
	struct rt_seccomp_rule *syscalls;
	size_t n_syscalls;
};

struct rt_linux {
	struct rt_namespace *namespaces;
	size_t n_namespaces;
	struct rt_idmap *uid_mappings, *gid_mappings;
	size_t n_uid_mappings, n_gid_mappings;
	struct rt_device *devices;
	size_t n_devices;
	char *cgroups_path;
	struct rt_resources resources;
	struct rt_kv *sysctl;
	size_t n_sysctl;
	struct rt_seccomp *seccomp;	  /* NULL: none */
	unsigned long rootfs_propagation; /* MS_* or 0 */
	char **masked_paths;
	char **readonly_paths;
	char *mount_label;
	bool has_personality;
	unsigned long personality;
	/* linux.timeOffsets (1.1): for a new time namespace. */
	struct rt_time_offset {
		bool set;
		int64_t secs;
		uint32_t nanosecs;
	} monotonic_offset, boottime_offset;
};

struct rt_spec {
	char *oci_version;
	char *hostname;
	char *domainname;
	struct rt_root root;
	struct rt_process *process; /* NULL allowed by the spec for create-only tools */
	struct rt_mount *mounts;
	size_t n_mounts;
	struct rt_hooks hooks;
	struct rt_kv *annotations;
	size_t n_annotations;
	bool has_linux;
	struct rt_linux linux;
	json_t *raw; /* the parsed document (kept for the state's annotations and hooks) */
};

/* Parse and validate config.json text. `name` prefixes error messages ("config.json").
 * Errors look like: "config.json: linux.namespaces[2].type: unknown namespace \"foo\"". */
CC_MUST_CHECK struct rt_spec *rt_spec_parse(const char *name, const char *buf, size_t len,
					    struct cc_error **err);
/* Read <bundle>/config.json and parse it. */
CC_MUST_CHECK struct rt_spec *rt_spec_load(const char *bundle, struct cc_error **err);
void rt_spec_free(struct rt_spec *spec);
/* Parse a process.json (rune exec --process). */
CC_MUST_CHECK struct rt_process *rt_process_parse(const char *name, const char *buf, size_t len,
						  struct cc_error **err);
void rt_process_free(struct rt_process *p);

/* Find a namespace entry; NULL if the config does not list that type. */
const struct rt_namespace *rt_spec_namespace(const struct rt_spec *spec, enum rt_ns_type type);
/* Value of an annotation or NULL. */
const char *rt_spec_annotation(const struct rt_spec *spec, const char *key);

/* The default config.json text that `rune spec` writes (rootless variant adapts namespaces,
 * mounts and mappings to an unprivileged user, as runc does). Caller frees. */
char *rt_spec_default(bool rootless);

/* Name tables (used by config parsing, `rune features` and tests). */
const char *rt_ns_type_name(enum rt_ns_type t); /* "pid", "network", ... */
int rt_ns_clone_flag(enum rt_ns_type t);	/* CLONE_NEWPID, ... */
/* Capability name ("CAP_SYS_ADMIN") to number, -1 if unknown. */
int rt_cap_from_name(const char *name);
const char *rt_cap_name(int cap);
int rt_cap_last(void); /* highest capability number this kernel knows */
