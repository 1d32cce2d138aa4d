// SPDX-License-Identifier: Apache-2.0
/*
 * config.json → struct rt_spec. Every value is checked here, once; errors name the field by
 * its JSON path: `config.json: linux.namespaces[2].type: unknown namespace "foo"`.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include "runtime/names.h"
#include "runtime/spec.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/strv.h"

/* A map of strings (annotations, sysctl, unified). Its keys are named in brackets in messages
 * (they contain dots: "net.ipv4.ip_forward"), so a key with a quote is refused. */
static int parse_kv(const struct cc_json_reader *c, const json_t *o, const char *key,
		    const char *path, struct rt_kv **out, size_t *n)
{
	int ret;
	json_t *m = cc_json_str_map(c, o, path, key, &ret), *v;
	const char *k;
	if (!m)
		return ret;
	*out = xcalloc(json_object_size(m) + 1, sizeof(**out));
	json_object_foreach (m, k, v) {
		if (strchr(k, '"')) {
			_cleanup_free_ char *p = cc_json_key_path(path, key);
			_cleanup_free_ char *kp = cc_json_map_path(p, k);
			return cc_json_fail(c, kp, "key contains a quote");
		}
		(*out)[*n].key = xstrdup(k);
		(*out)[(*n)++].value = xstrdup(json_string_value(v));
	}
	return 0;
}

static int parse_idmaps(const struct cc_json_reader *c, const json_t *o, const char *key,
			const char *path, struct rt_idmap **out, size_t *n)
{
	int ret;
	json_t *a = cc_json_member(c, o, path, key, JSON_ARRAY, false, &ret), *e;
	size_t i;
	if (!a)
		return ret;
	_cleanup_free_ char *p = cc_json_key_path(path, key);
	*out = xcalloc(json_array_size(a) + 1, sizeof(**out));
	json_array_foreach (a, i, e) {
		_cleanup_free_ char *ip = cc_json_index_path(p, i);
		struct rt_idmap *m = &(*out)[i];
		int64_t size = 0;
		if (cc_json_expect(c, e, ip, JSON_OBJECT) < 0 ||
		    cc_json_u32(c, e, ip, "containerID", &m->container_id, NULL) < 0 ||
		    cc_json_u32(c, e, ip, "hostID", &m->host_id, NULL) < 0 ||
		    cc_json_int(c, e, ip, "size", 1, UINT32_MAX, &size, NULL) < 0)
			return -1;
		if (!cc_json_has(e, "size")) {
			_cleanup_free_ char *sp = cc_json_key_path(ip, "size");
			return cc_json_fail(c, sp, "required");
		}
		m->size = (uint32_t)size;
		*n = i + 1;
	}
	return 0;
}

static int parse_user(const struct cc_json_reader *c, const json_t *o, const char *path,
		      struct rt_user *u)
{
	int ret;
	json_t *j = cc_json_member(c, o, path, "user", JSON_OBJECT, false, &ret);
	if (!j)
		return ret;
	_cleanup_free_ char *p = cc_json_key_path(path, "user");
	int64_t umask = 0;
	if (cc_json_u32(c, j, p, "uid", &u->uid, NULL) < 0 ||
	    cc_json_u32(c, j, p, "gid", &u->gid, NULL) < 0 ||
	    cc_json_int(c, j, p, "umask", 0, 07777, &umask, &u->has_umask) < 0 ||
	    cc_json_str(c, j, p, "username", false, &u->username) < 0)
		return -1;
	u->umask = (mode_t)umask;
	json_t *g = cc_json_member(c, j, p, "additionalGids", JSON_ARRAY, false, &ret), *e;
	size_t i;
	if (ret < 0)
		return -1;
	if (!g)
		return 0;
	u->additional_gids = xcalloc(json_array_size(g) + 1, sizeof(gid_t));
	json_array_foreach (g, i, e) {
		if (!json_is_integer(e) || json_integer_value(e) < 0 ||
		    json_integer_value(e) > UINT32_MAX) {
			_cleanup_free_ char *gp = cc_json_key_path(p, "additionalGids");
			_cleanup_free_ char *ip = cc_json_index_path(gp, i);
			return cc_json_fail(c, ip, "expected a gid");
		}
		u->additional_gids[i] = (gid_t)json_integer_value(e);
		u->n_additional_gids = i + 1;
	}
	return 0;
}

static int cap_set(const struct cc_json_reader *c, const json_t *caps, const char *key,
		   const char *path, uint64_t *mask)
{
	_cleanup_strv_ char **names = NULL;
	if (cc_json_strv(c, caps, path, key, SIZE_MAX, &names) < 0)
		return -1;
	for (size_t i = 0; names && names[i]; i++) {
		/* The spec: a value that cannot be mapped to the kernel MUST be an error (runc
		 * 1.1 only warns). */
		int cap = rt_cap_from_name(names[i]);
		_cleanup_free_ char *p = cc_json_key_path(path, key);
		_cleanup_free_ char *ip = cc_json_index_path(p, i);
		if (cap < 0)
			return cc_json_fail(c, ip, "unknown capability \"%s\"", names[i]);
		if (cap > rt_cap_last())
			return cc_json_fail(
			    c, ip, "capability \"%s\" is not supported by this kernel", names[i]);
		*mask |= 1ULL << cap;
	}
	return 0;
}

static int parse_caps(const struct cc_json_reader *c, const json_t *o, const char *path,
		      struct rt_caps *caps)
{
	int ret;
	json_t *j = cc_json_member(c, o, path, "capabilities", JSON_OBJECT, false, &ret);
	if (!j)
		return ret;
	_cleanup_free_ char *p = cc_json_key_path(path, "capabilities");
	caps->present = true;
	if (cap_set(c, j, "bounding", p, &caps->bounding) < 0 ||
	    cap_set(c, j, "effective", p, &caps->effective) < 0 ||
	    cap_set(c, j, "inheritable", p, &caps->inheritable) < 0 ||
	    cap_set(c, j, "permitted", p, &caps->permitted) < 0 ||
	    cap_set(c, j, "ambient", p, &caps->ambient) < 0)
		return -1;
	return 0;
}

static int parse_rlimits(const struct cc_json_reader *c, const json_t *o, const char *path,
			 struct rt_process *pr)
{
	int ret;
	json_t *a = cc_json_member(c, o, path, "rlimits", JSON_ARRAY, false, &ret), *e;
	size_t i;
	if (!a)
		return ret;
	_cleanup_free_ char *p = cc_json_key_path(path, "rlimits");
	pr->rlimits = xcalloc(json_array_size(a) + 1, sizeof(*pr->rlimits));
	json_array_foreach (a, i, e) {
		_cleanup_free_ char *ip = cc_json_index_path(p, i);
		_cleanup_free_ char *type = NULL;
		int64_t soft = 0, hard = 0;
		if (cc_json_expect(c, e, ip, JSON_OBJECT) < 0 ||
		    cc_json_str(c, e, ip, "type", true, &type) < 0 ||
		    cc_json_int(c, e, ip, "soft", -1, INT64_MAX, &soft, NULL) < 0 ||
		    cc_json_int(c, e, ip, "hard", -1, INT64_MAX, &hard, NULL) < 0)
			return -1;
		int res = rt_rlimit_from_name(type);
		if (res < 0) {
			_cleanup_free_ char *tp = cc_json_key_path(ip, "type");
			return cc_json_fail(c, tp, "unknown rlimit \"%s\"", type);
		}
		if (!cc_json_has(e, "soft") || !cc_json_has(e, "hard"))
			return cc_json_fail(c, ip, "soft and hard are required");
		/* JSON integers here stop at INT64_MAX, so RLIM_INFINITY is written as -1. */
		uint64_t usoft = soft < 0 ? RLIM_INFINITY : (uint64_t)soft;
		uint64_t uhard = hard < 0 ? RLIM_INFINITY : (uint64_t)hard;
		if (usoft > uhard)
			return cc_json_fail(c, ip, "soft limit %lld is above the hard limit %lld",
					    (long long)soft, (long long)hard);
		for (size_t k = 0; k < i; k++)
			if (pr->rlimits[k].resource == res)
				return cc_json_fail(c, ip, "duplicate rlimit \"%s\"", type);
		pr->rlimits[i] = (struct rt_rlimit){ res, usoft, uhard };
		pr->n_rlimits = i + 1;
	}
	return 0;
}

static int parse_io_priority(const struct cc_json_reader *c, const json_t *o, const char *path,
			     struct rt_process *pr)
{
	static const char *const classes[] = { "IOPRIO_CLASS_RT", "IOPRIO_CLASS_BE",
					       "IOPRIO_CLASS_IDLE" };
	int ret;
	json_t *j = cc_json_member(c, o, path, "ioPriority", JSON_OBJECT, false, &ret);
	if (!j)
		return ret;
	_cleanup_free_ char *p = cc_json_key_path(path, "ioPriority");
	_cleanup_free_ char *cls = NULL;
	int64_t prio = 0;
	if (cc_json_str(c, j, p, "class", true, &cls) < 0 ||
	    cc_json_int(c, j, p, "priority", 0, 7, &prio, NULL) < 0)
		return -1;
	for (int i = 0; i < 3; i++)
		if (strcmp(cls, classes[i]) == 0) {
			pr->has_io_priority = true;
			pr->io_priority_class = i + 1;
			pr->io_priority = (int)prio;
			return 0;
		}
	_cleanup_free_ char *cp = cc_json_key_path(p, "class");
	return cc_json_fail(c, cp, "unknown class \"%s\"", cls);
}

static int parse_process_obj(const struct cc_json_reader *c, const json_t *j, const char *p,
			     struct rt_process *pr)
{
	int64_t oom = 0;
	int ret;
	json_t *cs = cc_json_member(c, j, p, "consoleSize", JSON_OBJECT, false, &ret);
	if (ret < 0 || cc_json_bool(c, j, p, "terminal", &pr->terminal, NULL) < 0 ||
	    parse_user(c, j, p, &pr->user) < 0 ||
	    cc_json_strv(c, j, p, "args", SIZE_MAX, &pr->args) < 0 ||
	    cc_json_strv(c, j, p, "env", SIZE_MAX, &pr->env) < 0 ||
	    cc_json_str(c, j, p, "cwd", true, &pr->cwd) < 0 || parse_caps(c, j, p, &pr->caps) < 0 ||
	    parse_rlimits(c, j, p, pr) < 0 ||
	    cc_json_bool(c, j, p, "noNewPrivileges", &pr->no_new_privileges, NULL) < 0 ||
	    cc_json_str(c, j, p, "apparmorProfile", false, &pr->apparmor_profile) < 0 ||
	    cc_json_str(c, j, p, "selinuxLabel", false, &pr->selinux_label) < 0 ||
	    cc_json_int(c, j, p, "oomScoreAdj", -1000, 1000, &oom, &pr->has_oom_score_adj) < 0 ||
	    parse_io_priority(c, j, p, pr) < 0)
		return -1;
	pr->oom_score_adj = (int)oom;
	if (cs) {
		_cleanup_free_ char *cp = cc_json_key_path(p, "consoleSize");
		pr->has_console_size = true;
		if (cc_json_u32(c, cs, cp, "height", &pr->console_height, NULL) < 0 ||
		    cc_json_u32(c, cs, cp, "width", &pr->console_width, NULL) < 0)
			return -1;
	}
	_cleanup_free_ char *ap = cc_json_key_path(p, "args");
	if (!pr->args || !pr->args[0])
		return cc_json_fail(c, ap, "at least one argument is required");
	_cleanup_free_ char *cwdp = cc_json_key_path(p, "cwd");
	if (pr->cwd[0] != '/')
		return cc_json_fail(c, cwdp, "must be an absolute path, got \"%s\"", pr->cwd);
	for (size_t i = 0; pr->env && pr->env[i]; i++)
		if (!strchr(pr->env[i], '=')) {
			_cleanup_free_ char *ep = cc_json_key_path(p, "env");
			_cleanup_free_ char *ip = cc_json_index_path(ep, i);
			return cc_json_fail(c, ip, "\"%s\" is not of the form NAME=value",
					    pr->env[i]);
		}
	return 0;
}

void rt_process_free(struct rt_process *p)
{
	if (!p)
		return;
	free(p->user.additional_gids);
	free(p->user.username);
	cc_strv_free(p->args);
	cc_strv_free(p->env);
	free(p->cwd);
	free(p->rlimits);
	free(p->apparmor_profile);
	free(p->selinux_label);
	free(p);
}

/*
 * Go writes "unlimited" as the uint64 18446744073709551615 (e.g. rlimits from Docker and
 * podman), which does not fit the JSON library's int64. That one literal is read as -1, the
 * int64 with the same bits: rlimits and limits take -1 as "unlimited", seccomp values keep the
 * bit pattern, and any other field gets a range error naming it. The text keeps its length
 * (the rest is blank), so syntax errors still point at the right column.
 */
static char *read_uint64_max_as_minus_one(const char *buf, size_t len)
{
	static const char max[] = "18446744073709551615";
	const size_t n = sizeof(max) - 1;
	char *copy = NULL;
	bool in_string = false;
	for (size_t i = 0; i < len; i++) {
		char ch = buf[i];
		if (in_string) {
			if (ch == '\\')
				i++;
			else if (ch == '"')
				in_string = false;
			continue;
		}
		if (ch == '"') {
			in_string = true;
			continue;
		}
		bool starts = i == 0 || strchr(" \t\r\n:,[", buf[i - 1]);
		if (ch != '1' || !starts || len - i < n || memcmp(buf + i, max, n) != 0)
			continue;
		if (i + n < len && strchr("0123456789.eE", buf[i + n]))
			continue;
		if (!copy) {
			copy = xmalloc(len);
			memcpy(copy, buf, len);
		}
		memcpy(copy + i, "-1", 2);
		memset(copy + i + 2, ' ', n - 2);
		i += n - 1;
	}
	return copy;
}

static json_t *load_json(const char *name, const char *buf, size_t len, struct cc_error **err)
{
	_cleanup_free_ char *fixed = read_uint64_max_as_minus_one(buf, len);
	return cc_json_load_buf(name, fixed ? fixed : buf, len, err);
}

struct rt_process *rt_process_parse(const char *name, const char *buf, size_t len,
				    struct cc_error **err)
{
	const struct cc_json_reader c = { name, err };
	_cleanup_json_ json_t *j = load_json(name, buf, len, err);
	if (!j)
		return NULL;
	if (!json_is_object(j)) {
		cc_json_fail(&c, "", "expected a JSON object");
		return NULL;
	}
	struct rt_process *p = xzalloc(sizeof(*p));
	if (parse_process_obj(&c, j, "", p) < 0) {
		rt_process_free(p);
		return NULL;
	}
	return p;
}

static const struct {
	const char *name;
	bool clear;
	unsigned long flag;
} mount_flags[] = {
	{ "ro", false, MS_RDONLY },
	{ "rw", true, MS_RDONLY },
	{ "nosuid", false, MS_NOSUID },
	{ "suid", true, MS_NOSUID },
	{ "nodev", false, MS_NODEV },
	{ "dev", true, MS_NODEV },
	{ "noexec", false, MS_NOEXEC },
	{ "exec", true, MS_NOEXEC },
	{ "sync", false, MS_SYNCHRONOUS },
	{ "async", true, MS_SYNCHRONOUS },
	{ "dirsync", false, MS_DIRSYNC },
	{ "remount", false, MS_REMOUNT },
	{ "mand", false, MS_MANDLOCK },
	{ "nomand", true, MS_MANDLOCK },
	{ "noatime", false, MS_NOATIME },
	{ "atime", true, MS_NOATIME },
	{ "nodiratime", false, MS_NODIRATIME },
	{ "diratime", true, MS_NODIRATIME },
	{ "relatime", false, MS_RELATIME },
	{ "norelatime", true, MS_RELATIME },
	{ "strictatime", false, MS_STRICTATIME },
	{ "nostrictatime", true, MS_STRICTATIME },
	{ "lazytime", false, MS_LAZYTIME },
	{ "nolazytime", true, MS_LAZYTIME },
	{ "silent", false, MS_SILENT },
	{ "loud", true, MS_SILENT },
	{ "iversion", false, MS_I_VERSION },
	{ "noiversion", true, MS_I_VERSION },
	{ "acl", false, MS_POSIXACL },
	{ "noacl", true, MS_POSIXACL },
	{ "nosymfollow", false, MS_NOSYMFOLLOW },
	{ "symfollow", true, MS_NOSYMFOLLOW },
	{ "defaults", false, 0 },
};

/* The recursive options apply to the mount and everything under it (mount_setattr with
 * AT_RECURSIVE): MOUNT_ATTR_* to set and to clear. An atime mode replaces the others, so it
 * also clears the whole atime field. */
static const struct {
	const char *name;
	uint64_t set, clr;
} mount_attrs[] = {
	{ "rro", MOUNT_ATTR_RDONLY, 0 },
	{ "rrw", 0, MOUNT_ATTR_RDONLY },
	{ "rnosuid", MOUNT_ATTR_NOSUID, 0 },
	{ "rsuid", 0, MOUNT_ATTR_NOSUID },
	{ "rnodev", MOUNT_ATTR_NODEV, 0 },
	{ "rdev", 0, MOUNT_ATTR_NODEV },
	{ "rnoexec", MOUNT_ATTR_NOEXEC, 0 },
	{ "rexec", 0, MOUNT_ATTR_NOEXEC },
	{ "rnodiratime", MOUNT_ATTR_NODIRATIME, 0 },
	{ "rdiratime", 0, MOUNT_ATTR_NODIRATIME },
	{ "rnosymfollow", MOUNT_ATTR_NOSYMFOLLOW, 0 },
	{ "rsymfollow", 0, MOUNT_ATTR_NOSYMFOLLOW },
	{ "rrelatime", MOUNT_ATTR_RELATIME, MOUNT_ATTR__ATIME },
	{ "rnorelatime", 0, MOUNT_ATTR__ATIME },
	{ "rnoatime", MOUNT_ATTR_NOATIME, MOUNT_ATTR__ATIME },
	{ "ratime", 0, MOUNT_ATTR__ATIME },
	{ "rstrictatime", MOUNT_ATTR_STRICTATIME, MOUNT_ATTR__ATIME },
	{ "rnostrictatime", 0, MOUNT_ATTR__ATIME },
};

static bool mount_attr(struct rt_mount *m, const char *o)
{
	for (size_t k = 0; k < ARRAY_SIZE(mount_attrs); k++) {
		if (strcmp(o, mount_attrs[k].name) != 0)
			continue;
		m->attr_set = (m->attr_set & ~mount_attrs[k].clr) | mount_attrs[k].set;
		m->attr_clr = (m->attr_clr & ~mount_attrs[k].set) | mount_attrs[k].clr;
		return true;
	}
	return false;
}

static const struct {
	const char *name;
	unsigned long flags;
} propagations[] = {
	{ "private", MS_PRIVATE },	 { "rprivate", MS_PRIVATE | MS_REC },
	{ "shared", MS_SHARED },	 { "rshared", MS_SHARED | MS_REC },
	{ "slave", MS_SLAVE },		 { "rslave", MS_SLAVE | MS_REC },
	{ "unbindable", MS_UNBINDABLE }, { "runbindable", MS_UNBINDABLE | MS_REC },
};

static int propagation_from_name(const char *s, unsigned long *out)
{
	for (size_t i = 0; i < ARRAY_SIZE(propagations); i++)
		if (strcmp(propagations[i].name, s) == 0) {
			*out = propagations[i].flags;
			return 0;
		}
	return -1;
}

/* Split options into MS_* flags, recursive attributes, propagation and the data string the
 * filesystem gets; the last of two contradicting options wins. */
static int mount_options(const struct cc_json_reader *c, const char *ip, struct rt_mount *m)
{
	_cleanup_strv_ char **data = NULL;
	for (size_t i = 0; m->options && m->options[i]; i++) {
		const char *o = m->options[i];
		bool known = false;
		for (size_t k = 0; k < ARRAY_SIZE(mount_flags) && !known; k++)
			if (strcmp(o, mount_flags[k].name) == 0) {
				known = true;
				if (mount_flags[k].clear) {
					m->flags &= ~mount_flags[k].flag;
					m->clear_flags |= mount_flags[k].flag;
				} else {
					m->flags |= mount_flags[k].flag;
					m->clear_flags &= ~mount_flags[k].flag;
				}
			}
		if (known || mount_attr(m, o) || propagation_from_name(o, &m->propagation) == 0)
			continue;
		if (strcmp(o, "bind") == 0 || strcmp(o, "rbind") == 0) {
			m->bind = true;
			m->flags |= MS_BIND | (o[0] == 'r' ? MS_REC : 0);
		} else if (strcmp(o, "tmpcopyup") == 0) {
			m->tmpcopyup = true;
		} else if (strcmp(o, "idmap") == 0 || strcmp(o, "ridmap") == 0) {
			_cleanup_free_ char *op = cc_json_key_path(ip, "options");
			_cleanup_free_ char *oi = cc_json_index_path(op, i);
			return cc_json_fail(c, oi, "\"%s\": id-mapped mounts are not supported", o);
		} else {
			cc_strv_push(&data, o);
		}
	}
	if (m->type && strcmp(m->type, "bind") == 0 && !m->bind) {
		m->bind = true;
		m->flags |= MS_BIND;
	}
	if (data && data[0])
		m->data = cc_strv_join(data, ",");
	return 0;
}

static int parse_mount(const struct cc_json_reader *c, const json_t *e, const char *ip,
		       struct rt_mount *m)
{
	if (cc_json_expect(c, e, ip, JSON_OBJECT) < 0 ||
	    cc_json_str(c, e, ip, "destination", true, &m->destination) < 0 ||
	    cc_json_str(c, e, ip, "type", false, &m->type) < 0 ||
	    cc_json_str(c, e, ip, "source", false, &m->source) < 0 ||
	    cc_json_strv(c, e, ip, "options", SIZE_MAX, &m->options) < 0 ||
	    parse_idmaps(c, e, "uidMappings", ip, &m->uid_mappings, &m->n_uid_mappings) < 0 ||
	    parse_idmaps(c, e, "gidMappings", ip, &m->gid_mappings, &m->n_gid_mappings) < 0)
		return -1;
	if (!*m->destination) {
		_cleanup_free_ char *dp = cc_json_key_path(ip, "destination");
		return cc_json_fail(c, dp, "must not be empty");
	}
	/* runc accepts relative destinations (relative to "/"); keep that, cleaned. */
	_cleanup_free_ char *abs =
	    m->destination[0] == '/' ? xstrdup(m->destination) : xasprintf("/%s", m->destination);
	free(m->destination);
	m->destination = cc_path_clean(abs);
	return mount_options(c, ip, m);
}

static int parse_mounts(const struct cc_json_reader *c, const json_t *root, struct rt_spec *s)
{
	int ret;
	json_t *a = cc_json_member(c, root, "", "mounts", JSON_ARRAY, false, &ret), *e;
	size_t i;
	if (!a)
		return ret;
	s->mounts = xcalloc(json_array_size(a) + 1, sizeof(*s->mounts));
	json_array_foreach (a, i, e) {
		_cleanup_free_ char *ip = cc_json_index_path("mounts", i);
		s->n_mounts = i + 1;
		if (parse_mount(c, e, ip, &s->mounts[i]) < 0)
			return -1;
	}
	return 0;
}

static int parse_hook_list(const struct cc_json_reader *c, const json_t *hooks, const char *key,
			   struct rt_hook **out, size_t *n)
{
	int ret;
	json_t *a = cc_json_member(c, hooks, "hooks", key, JSON_ARRAY, false, &ret), *e;
	size_t i;
	if (!a)
		return ret;
	_cleanup_free_ char *p = cc_json_key_path("hooks", key);
	*out = xcalloc(json_array_size(a) + 1, sizeof(**out));
	json_array_foreach (a, i, e) {
		_cleanup_free_ char *ip = cc_json_index_path(p, i);
		struct rt_hook *h = &(*out)[i];
		int64_t timeout = 0;
		bool has_timeout = false;
		*n = i + 1;
		if (cc_json_expect(c, e, ip, JSON_OBJECT) < 0 ||
		    cc_json_str(c, e, ip, "path", true, &h->path) < 0 ||
		    cc_json_strv(c, e, ip, "args", SIZE_MAX, &h->args) < 0 ||
		    cc_json_strv(c, e, ip, "env", SIZE_MAX, &h->env) < 0 ||
		    cc_json_int(c, e, ip, "timeout", INT_MIN, INT_MAX, &timeout, &has_timeout) < 0)
			return -1;
		_cleanup_free_ char *pp = cc_json_key_path(ip, "path");
		if (h->path[0] != '/')
			return cc_json_fail(c, pp, "must be an absolute path, got \"%s\"", h->path);
		_cleanup_free_ char *tp = cc_json_key_path(ip, "timeout");
		if (has_timeout && timeout <= 0)
			return cc_json_fail(c, tp, "must be greater than zero, got %lld",
					    (long long)timeout);
		h->timeout = (int)timeout;
	}
	return 0;
}

static int parse_hooks(const struct cc_json_reader *c, const json_t *root, struct rt_hooks *h)
{
	static const char *const keys[RT_HOOK_KINDS] = { "prestart",	    "createRuntime",
							 "createContainer", "startContainer",
							 "poststart",	    "poststop" };
	int ret;
	json_t *j = cc_json_member(c, root, "", "hooks", JSON_OBJECT, false, &ret);
	if (!j)
		return ret;
	for (int k = 0; k < RT_HOOK_KINDS; k++)
		if (parse_hook_list(c, j, keys[k], &h->list[k], &h->count[k]) < 0)
			return -1;
	return 0;
}

static int parse_namespaces(const struct cc_json_reader *c, const json_t *lx, struct rt_linux *l)
{
	int ret;
	json_t *a = cc_json_member(c, lx, "linux", "namespaces", JSON_ARRAY, false, &ret), *e;
	size_t i;
	if (!a)
		return ret;
	l->namespaces = xcalloc(json_array_size(a) + 1, sizeof(*l->namespaces));
	json_array_foreach (a, i, e) {
		_cleanup_free_ char *ip = cc_json_index_path("linux.namespaces", i);
		_cleanup_free_ char *type = NULL;
		struct rt_namespace *ns = &l->namespaces[i];
		l->n_namespaces = i + 1;
		if (cc_json_expect(c, e, ip, JSON_OBJECT) < 0 ||
		    cc_json_str(c, e, ip, "type", true, &type) < 0 ||
		    cc_json_str(c, e, ip, "path", false, &ns->path) < 0)
			return -1;
		_cleanup_free_ char *tp = cc_json_key_path(ip, "type");
		int t = rt_ns_type_from_name(type);
		if (t < 0)
			return cc_json_fail(c, tp, "unknown namespace \"%s\"", type);
		ns->type = (enum rt_ns_type)t;
		for (size_t k = 0; k < i; k++)
			if (l->namespaces[k].type == ns->type)
				return cc_json_fail(c, ip, "duplicate namespace \"%s\"", type);
		_cleanup_free_ char *pp = cc_json_key_path(ip, "path");
		if (ns->path && !*ns->path) {
			free(ns->path);
			ns->path = NULL;
		}
		if (ns->path && ns->path[0] != '/')
			return cc_json_fail(c, pp, "must be an absolute path, got \"%s\"",
					    ns->path);
	}
	return 0;
}

static int parse_devices(const struct cc_json_reader *c, const json_t *lx, struct rt_linux *l)
{
	int ret;
	json_t *a = cc_json_member(c, lx, "linux", "devices", JSON_ARRAY, false, &ret), *e;
	size_t i;
	if (!a)
		return ret;
	l->devices = xcalloc(json_array_size(a) + 1, sizeof(*l->devices));
	json_array_foreach (a, i, e) {
		_cleanup_free_ char *ip = cc_json_index_path("linux.devices", i);
		_cleanup_free_ char *type = NULL;
		struct rt_device *d = &l->devices[i];
		int64_t mode = 0;
		l->n_devices = i + 1;
		if (cc_json_expect(c, e, ip, JSON_OBJECT) < 0 ||
		    cc_json_str(c, e, ip, "type", true, &type) < 0 ||
		    cc_json_str(c, e, ip, "path", true, &d->path) < 0 ||
		    cc_json_int(c, e, ip, "major", 0, UINT32_MAX, &d->major, NULL) < 0 ||
		    cc_json_int(c, e, ip, "minor", 0, UINT32_MAX, &d->minor, NULL) < 0 ||
		    cc_json_int(c, e, ip, "fileMode", 0, 07777, &mode, &d->has_file_mode) < 0)
			return -1;
		d->file_mode = (mode_t)mode;
		int64_t v;
		if (cc_json_int(c, e, ip, "uid", 0, UINT32_MAX, &v, &d->has_uid) < 0)
			return -1;
		d->uid = d->has_uid ? (uid_t)v : 0;
		if (cc_json_int(c, e, ip, "gid", 0, UINT32_MAX, &v, &d->has_gid) < 0)
			return -1;
		d->gid = d->has_gid ? (gid_t)v : 0;
		_cleanup_free_ char *tp = cc_json_key_path(ip, "type");
		if (strlen(type) != 1 || !strchr("cbup", type[0]))
			return cc_json_fail(c, tp, "unknown device type \"%s\" for %s", type,
					    d->path);
		d->type = type[0];
		if (d->type != 'p' && (!cc_json_has(e, "major") || !cc_json_has(e, "minor")))
			return cc_json_fail(c, ip,
					    "major and minor are required for %s (type \"%s\")",
					    d->path, type);
		_cleanup_free_ char *pp = cc_json_key_path(ip, "path");
		if (d->path[0] != '/')
			return cc_json_fail(c, pp, "must be an absolute path, got \"%s\"", d->path);
	}
	return 0;
}

static int parse_device_rules(const struct cc_json_reader *c, const json_t *res,
			      struct rt_resources *r)
{
	int ret;
	json_t *a = cc_json_member(c, res, "linux.resources", "devices", JSON_ARRAY, false, &ret),
	       *e;
	size_t i;
	if (!a)
		return ret;
	r->devices = xcalloc(json_array_size(a) + 1, sizeof(*r->devices));
	json_array_foreach (a, i, e) {
		_cleanup_free_ char *ip = cc_json_index_path("linux.resources.devices", i);
		_cleanup_free_ char *type = NULL, *access = NULL;
		struct rt_device_rule *d = &r->devices[i];
		r->n_devices = i + 1;
		d->major = d->minor = -1;
		if (cc_json_expect(c, e, ip, JSON_OBJECT) < 0 ||
		    cc_json_bool(c, e, ip, "allow", &d->allow, NULL) < 0 ||
		    cc_json_str(c, e, ip, "type", false, &type) < 0 ||
		    cc_json_str(c, e, ip, "access", false, &access) < 0 ||
		    cc_json_int(c, e, ip, "major", -1, UINT32_MAX, &d->major, NULL) < 0 ||
		    cc_json_int(c, e, ip, "minor", -1, UINT32_MAX, &d->minor, NULL) < 0)
			return -1;
		if (!cc_json_has(e, "allow")) {
			_cleanup_free_ char *ap = cc_json_key_path(ip, "allow");
			return cc_json_fail(c, ap, "required");
		}
		d->type = type && *type ? type[0] : 'a';
		if (type && (strlen(type) > 1 || !strchr("abc", d->type))) {
			_cleanup_free_ char *tp = cc_json_key_path(ip, "type");
			return cc_json_fail(c, tp, "unknown device type \"%s\"", type);
		}
		const char *acc = access && *access ? access : "rwm";
		if (strlen(acc) > 3 || strspn(acc, "rwm") != strlen(acc)) {
			_cleanup_free_ char *ap = cc_json_key_path(ip, "access");
			return cc_json_fail(c, ap, "invalid access \"%s\" (a subset of \"rwm\")",
					    acc);
		}
		snprintf(d->access, sizeof(d->access), "%s", acc);
	}
	return 0;
}

static int parse_memory(const struct cc_json_reader *c, const json_t *res, struct rt_resources *r)
{
	int ret;
	json_t *j = cc_json_member(c, res, "linux.resources", "memory", JSON_OBJECT, false, &ret);
	if (!j)
		return ret;
	const char *p = "linux.resources.memory";
	int64_t swp = 0;
	if (cc_json_int(c, j, p, "limit", -1, INT64_MAX, &r->memory.limit, &r->memory.has_limit) <
		0 ||
	    cc_json_int(c, j, p, "reservation", -1, INT64_MAX, &r->memory.reservation,
			&r->memory.has_reservation) < 0 ||
	    cc_json_int(c, j, p, "swap", -1, INT64_MAX, &r->memory.swap, &r->memory.has_swap) < 0 ||
	    cc_json_int(c, j, p, "kernel", -1, INT64_MAX, &r->memory.kernel,
			&r->memory.has_kernel) < 0 ||
	    cc_json_int(c, j, p, "kernelTCP", -1, INT64_MAX, &r->memory.kernel_tcp,
			&r->memory.has_kernel_tcp) < 0 ||
	    cc_json_int(c, j, p, "swappiness", 0, 100, &swp, &r->memory.has_swappiness) < 0 ||
	    cc_json_bool(c, j, p, "disableOOMKiller", &r->memory.disable_oom_killer, NULL) < 0 ||
	    cc_json_bool(c, j, p, "useHierarchy", &r->memory.use_hierarchy, NULL) < 0 ||
	    cc_json_bool(c, j, p, "checkBeforeUpdate", &r->memory.check_before_update, NULL) < 0)
		return -1;
	r->memory.swappiness = (uint64_t)swp;
	r->memory.has_disable_oom_killer = cc_json_has(j, "disableOOMKiller");
	r->memory.has_use_hierarchy = cc_json_has(j, "useHierarchy");
	return 0;
}

static int parse_cpu(const struct cc_json_reader *c, const json_t *res, struct rt_resources *r)
{
	int ret;
	json_t *j = cc_json_member(c, res, "linux.resources", "cpu", JSON_OBJECT, false, &ret);
	if (!j)
		return ret;
	const char *p = "linux.resources.cpu";
	int64_t shares = 0, period = 0, rtp = 0, burst = 0;
	if (cc_json_int(c, j, p, "shares", 0, INT64_MAX, &shares, &r->cpu.has_shares) < 0 ||
	    cc_json_int(c, j, p, "quota", -1, INT64_MAX, &r->cpu.quota, &r->cpu.has_quota) < 0 ||
	    cc_json_int(c, j, p, "burst", 0, INT64_MAX, &burst, &r->cpu.has_burst) < 0 ||
	    cc_json_int(c, j, p, "period", 0, INT64_MAX, &period, &r->cpu.has_period) < 0 ||
	    cc_json_int(c, j, p, "realtimeRuntime", -1, INT64_MAX, &r->cpu.realtime_runtime,
			&r->cpu.has_realtime_runtime) < 0 ||
	    cc_json_int(c, j, p, "realtimePeriod", 0, INT64_MAX, &rtp,
			&r->cpu.has_realtime_period) < 0 ||
	    cc_json_int(c, j, p, "idle", 0, 1, &r->cpu.idle, &r->cpu.has_idle) < 0 ||
	    cc_json_str(c, j, p, "cpus", false, &r->cpu.cpus) < 0 ||
	    cc_json_str(c, j, p, "mems", false, &r->cpu.mems) < 0)
		return -1;
	r->cpu.shares = (uint64_t)shares;
	r->cpu.period = (uint64_t)period;
	r->cpu.realtime_period = (uint64_t)rtp;
	r->cpu.burst = (uint64_t)burst;
	return 0;
}

static int parse_throttle(const struct cc_json_reader *c, const json_t *bio, const char *key,
			  struct rt_throttle_device **out, size_t *n)
{
	int ret;
	json_t *a = cc_json_member(c, bio, "linux.resources.blockIO", key, JSON_ARRAY, false, &ret),
	       *e;
	size_t i;
	if (!a)
		return ret;
	_cleanup_free_ char *p = cc_json_key_path("linux.resources.blockIO", key);
	*out = xcalloc(json_array_size(a) + 1, sizeof(**out));
	json_array_foreach (a, i, e) {
		_cleanup_free_ char *ip = cc_json_index_path(p, i);
		int64_t rate = 0;
		*n = i + 1;
		if (cc_json_expect(c, e, ip, JSON_OBJECT) < 0 ||
		    cc_json_int(c, e, ip, "major", 0, UINT32_MAX, &(*out)[i].major, NULL) < 0 ||
		    cc_json_int(c, e, ip, "minor", 0, UINT32_MAX, &(*out)[i].minor, NULL) < 0 ||
		    cc_json_int(c, e, ip, "rate", 0, INT64_MAX, &rate, NULL) < 0)
			return -1;
		(*out)[i].rate = (uint64_t)rate;
	}
	return 0;
}

static int parse_weight_devices(const struct cc_json_reader *c, const json_t *bio,
				struct rt_resources *r)
{
	int ret;
	const char *p = "linux.resources.blockIO.weightDevice";
	json_t *a = cc_json_member(c, bio, "linux.resources.blockIO", "weightDevice", JSON_ARRAY,
				   false, &ret);
	json_t *e;
	size_t i;
	if (!a)
		return ret;
	r->block_io.weight_device =
	    xcalloc(json_array_size(a) + 1, sizeof(struct rt_weight_device));
	json_array_foreach (a, i, e) {
		_cleanup_free_ char *ip = cc_json_index_path(p, i);
		struct rt_weight_device *w = &r->block_io.weight_device[i];
		int64_t wt = 0, lw = 0;
		r->block_io.n_weight_device = i + 1;
		if (cc_json_expect(c, e, ip, JSON_OBJECT) < 0 ||
		    cc_json_int(c, e, ip, "major", 0, UINT32_MAX, &w->major, NULL) < 0 ||
		    cc_json_int(c, e, ip, "minor", 0, UINT32_MAX, &w->minor, NULL) < 0 ||
		    cc_json_int(c, e, ip, "weight", 0, 1000, &wt, &w->has_weight) < 0 ||
		    cc_json_int(c, e, ip, "leafWeight", 0, 1000, &lw, &w->has_leaf_weight) < 0)
			return -1;
		w->has_weight &= wt != 0;
		w->has_leaf_weight &= lw != 0;
		w->weight = (uint16_t)wt;
		w->leaf_weight = (uint16_t)lw;
	}
	return 0;
}

static int parse_blkio(const struct cc_json_reader *c, const json_t *res, struct rt_resources *r)
{
	int ret;
	json_t *j = cc_json_member(c, res, "linux.resources", "blockIO", JSON_OBJECT, false, &ret);
	if (!j)
		return ret;
	const char *p = "linux.resources.blockIO";
	int64_t w = 0, lw = 0;
	if (cc_json_int(c, j, p, "weight", 0, 1000, &w, &r->block_io.has_weight) < 0 ||
	    cc_json_int(c, j, p, "leafWeight", 0, 1000, &lw, &r->block_io.has_leaf_weight) < 0 ||
	    parse_weight_devices(c, j, r) < 0 ||
	    parse_throttle(c, j, "throttleReadBpsDevice", &r->block_io.throttle_read_bps,
			   &r->block_io.n_throttle_read_bps) < 0 ||
	    parse_throttle(c, j, "throttleWriteBpsDevice", &r->block_io.throttle_write_bps,
			   &r->block_io.n_throttle_write_bps) < 0 ||
	    parse_throttle(c, j, "throttleReadIOPSDevice", &r->block_io.throttle_read_iops,
			   &r->block_io.n_throttle_read_iops) < 0 ||
	    parse_throttle(c, j, "throttleWriteIOPSDevice", &r->block_io.throttle_write_iops,
			   &r->block_io.n_throttle_write_iops) < 0)
		return -1;
	/* 0 means unset, as in runc: Docker sends blockIO.weight 0 for every container, and hosts
	 * without a weight file must still run it. */
	r->block_io.has_weight &= w != 0;
	r->block_io.has_leaf_weight &= lw != 0;
	r->block_io.weight = (uint16_t)w;
	r->block_io.leaf_weight = (uint16_t)lw;
	return 0;
}

static int parse_hugepages(const struct cc_json_reader *c, const json_t *res,
			   struct rt_resources *r)
{
	int ret;
	json_t *a = cc_json_member(c, res, "linux.resources", "hugepageLimits", JSON_ARRAY, false,
				   &ret),
	       *e;
	size_t i;
	if (!a)
		return ret;
	r->hugepage_limits = xcalloc(json_array_size(a) + 1, sizeof(*r->hugepage_limits));
	json_array_foreach (a, i, e) {
		_cleanup_free_ char *ip = cc_json_index_path("linux.resources.hugepageLimits", i);
		int64_t limit = 0;
		r->n_hugepage_limits = i + 1;
		if (cc_json_expect(c, e, ip, JSON_OBJECT) < 0 ||
		    cc_json_str(c, e, ip, "pageSize", true, &r->hugepage_limits[i].page_size) < 0 ||
		    cc_json_int(c, e, ip, "limit", 0, INT64_MAX, &limit, NULL) < 0)
			return -1;
		const char *ps = r->hugepage_limits[i].page_size;
		if (!*ps || strspn(ps, "0123456789KMGTPBkmgtpb") != strlen(ps)) {
			_cleanup_free_ char *pp = cc_json_key_path(ip, "pageSize");
			return cc_json_fail(c, pp, "invalid page size \"%s\"", ps);
		}
		r->hugepage_limits[i].limit = (uint64_t)limit;
	}
	return 0;
}

static int parse_network(const struct cc_json_reader *c, const json_t *res, struct rt_resources *r)
{
	int ret;
	json_t *j = cc_json_member(c, res, "linux.resources", "network", JSON_OBJECT, false, &ret),
	       *e;
	if (!j)
		return ret;
	const char *p = "linux.resources.network";
	if (cc_json_u32(c, j, p, "classID", &r->network.class_id, NULL) < 0)
		return -1;
	r->network.has_class_id = cc_json_has(j, "classID");
	json_t *a = cc_json_member(c, j, p, "priorities", JSON_ARRAY, false, &ret);
	size_t i;
	if (!a)
		return ret;
	r->network.priorities = xcalloc(json_array_size(a) + 1, sizeof(struct rt_kv));
	json_array_foreach (a, i, e) {
		_cleanup_free_ char *ip =
		    cc_json_index_path("linux.resources.network.priorities", i);
		_cleanup_free_ char *name = NULL;
		int64_t prio = 0;
		if (cc_json_expect(c, e, ip, JSON_OBJECT) < 0 ||
		    cc_json_str(c, e, ip, "name", true, &name) < 0 ||
		    cc_json_int(c, e, ip, "priority", 0, UINT32_MAX, &prio, NULL) < 0)
			return -1;
		r->network.priorities[i].key = steal_pointer(&name);
		r->network.priorities[i].value = xasprintf("%lld", (long long)prio);
		r->network.n_priorities = i + 1;
	}
	return 0;
}

static int parse_resources(const struct cc_json_reader *c, const json_t *lx, struct rt_resources *r)
{
	int ret;
	json_t *j = cc_json_member(c, lx, "linux", "resources", JSON_OBJECT, false, &ret);
	if (!j)
		return ret;
	r->present = true;
	json_t *pids = cc_json_member(c, j, "linux.resources", "pids", JSON_OBJECT, false, &ret);
	if (ret < 0 || parse_device_rules(c, j, r) < 0 || parse_memory(c, j, r) < 0 ||
	    parse_cpu(c, j, r) < 0 || parse_blkio(c, j, r) < 0 || parse_hugepages(c, j, r) < 0 ||
	    parse_network(c, j, r) < 0 ||
	    parse_kv(c, j, "unified", "linux.resources", &r->unified, &r->n_unified) < 0)
		return -1;
	if (pids && cc_json_int(c, pids, "linux.resources.pids", "limit", INT64_MIN, INT64_MAX,
				&r->pids.limit, &r->pids.has_limit) < 0)
		return -1;
	return 0;
}

static int get_action(const struct cc_json_reader *c, const json_t *o, const char *key,
		      const char *path, enum rt_seccomp_action *out)
{
	_cleanup_free_ char *s = NULL;
	if (cc_json_str(c, o, path, key, true, &s) < 0)
		return -1;
	int a = rt_seccomp_action_from_name(s);
	if (a < 0) {
		_cleanup_free_ char *p = cc_json_key_path(path, key);
		return cc_json_fail(c, p, "unknown action \"%s\"", s);
	}
	*out = (enum rt_seccomp_action)a;
	return 0;
}

static int parse_seccomp_args(const struct cc_json_reader *c, const json_t *e, const char *ip,
			      struct rt_seccomp_rule *r)
{
	int ret;
	json_t *a = cc_json_member(c, e, ip, "args", JSON_ARRAY, false, &ret), *x;
	size_t i;
	if (!a)
		return ret;
	_cleanup_free_ char *p = cc_json_key_path(ip, "args");
	r->args = xcalloc(json_array_size(a) + 1, sizeof(*r->args));
	json_array_foreach (a, i, x) {
		_cleanup_free_ char *ap = cc_json_index_path(p, i);
		_cleanup_free_ char *op = NULL;
		int64_t index = 0, value = 0, two = 0;
		if (cc_json_expect(c, x, ap, JSON_OBJECT) < 0 ||
		    cc_json_int(c, x, ap, "index", 0, 5, &index, NULL) < 0 ||
		    cc_json_int(c, x, ap, "value", INT64_MIN, INT64_MAX, &value, NULL) < 0 ||
		    cc_json_int(c, x, ap, "valueTwo", INT64_MIN, INT64_MAX, &two, NULL) < 0 ||
		    cc_json_str(c, x, ap, "op", true, &op) < 0)
			return -1;
		int o = rt_seccomp_op_from_name(op);
		if (o < 0) {
			_cleanup_free_ char *opp = cc_json_key_path(ap, "op");
			return cc_json_fail(c, opp, "unknown operator \"%s\"", op);
		}
		r->args[i] = (struct rt_seccomp_arg){ (unsigned)index, (uint64_t)value,
						      (uint64_t)two, (enum rt_seccomp_op)o };
		r->n_args = i + 1;
	}
	return 0;
}

static int parse_seccomp_rules(const struct cc_json_reader *c, const json_t *j, const char *p,
			       struct rt_seccomp *s)
{
	int ret;
	json_t *a = cc_json_member(c, j, p, "syscalls", JSON_ARRAY, false, &ret), *e;
	size_t i;
	if (!a)
		return ret;
	s->syscalls = xcalloc(json_array_size(a) + 1, sizeof(*s->syscalls));
	json_array_foreach (a, i, e) {
		_cleanup_free_ char *ip = cc_json_index_path("linux.seccomp.syscalls", i);
		struct rt_seccomp_rule *r = &s->syscalls[i];
		int64_t eno = 0;
		s->n_syscalls = i + 1;
		if (cc_json_expect(c, e, ip, JSON_OBJECT) < 0 ||
		    cc_json_strv(c, e, ip, "names", SIZE_MAX, &r->names) < 0 ||
		    get_action(c, e, "action", ip, &r->action) < 0 ||
		    cc_json_int(c, e, ip, "errnoRet", 0, 4095, &eno, &r->has_errno_ret) < 0 ||
		    parse_seccomp_args(c, e, ip, r) < 0)
			return -1;
		r->errno_ret = (unsigned)eno;
		if (!r->names || !r->names[0]) {
			_cleanup_free_ char *np = cc_json_key_path(ip, "names");
			return cc_json_fail(c, np, "at least one syscall name is required");
		}
	}
	return 0;
}

static int parse_seccomp(const struct cc_json_reader *c, const json_t *lx, struct rt_linux *l)
{
	int ret;
	json_t *j = cc_json_member(c, lx, "linux", "seccomp", JSON_OBJECT, false, &ret);
	if (!j)
		return ret;
	const char *p = "linux.seccomp";
	struct rt_seccomp *s = l->seccomp = xzalloc(sizeof(*s));
	int64_t eno = 0;
	if (get_action(c, j, "defaultAction", p, &s->default_action) < 0 ||
	    cc_json_int(c, j, p, "defaultErrnoRet", 0, 4095, &eno, &s->has_default_errno_ret) < 0 ||
	    cc_json_strv(c, j, p, "architectures", SIZE_MAX, &s->architectures) < 0 ||
	    cc_json_strv(c, j, p, "flags", SIZE_MAX, &s->flags) < 0 ||
	    cc_json_str(c, j, p, "listenerPath", false, &s->listener_path) < 0 ||
	    cc_json_str(c, j, p, "listenerMetadata", false, &s->listener_metadata) < 0 ||
	    parse_seccomp_rules(c, j, p, s) < 0)
		return -1;
	s->default_errno_ret = (unsigned)eno;
	for (size_t i = 0; s->architectures && s->architectures[i]; i++)
		if (strncmp(s->architectures[i], "SCMP_ARCH_", 10) != 0) {
			_cleanup_free_ char *ip =
			    cc_json_index_path("linux.seccomp.architectures", i);
			return cc_json_fail(c, ip, "unknown architecture \"%s\"",
					    s->architectures[i]);
		}
	for (size_t i = 0; s->flags && s->flags[i]; i++)
		if (strncmp(s->flags[i], "SECCOMP_FILTER_FLAG_", 20) != 0) {
			_cleanup_free_ char *ip = cc_json_index_path("linux.seccomp.flags", i);
			return cc_json_fail(c, ip, "unknown flag \"%s\"", s->flags[i]);
		}
	return 0;
}

static int parse_linux_paths(const struct cc_json_reader *c, const json_t *lx, struct rt_linux *l)
{
	if (cc_json_strv(c, lx, "linux", "maskedPaths", SIZE_MAX, &l->masked_paths) < 0 ||
	    cc_json_strv(c, lx, "linux", "readonlyPaths", SIZE_MAX, &l->readonly_paths) < 0)
		return -1;
	/* Paths in the container: the spec wants them absolute; a relative one would resolve
	 * against whatever the working directory happens to be. */
	for (int k = 0; k < 2; k++) {
		char **v = k ? l->readonly_paths : l->masked_paths;
		for (size_t i = 0; v && v[i]; i++) {
			if (v[i][0] == '/')
				continue;
			_cleanup_free_ char *p =
			    xasprintf("linux.%s[%zu]", k ? "readonlyPaths" : "maskedPaths", i);
			return cc_json_fail(c, p, "must be an absolute path, got \"%s\"", v[i]);
		}
	}
	_cleanup_free_ char *prop = NULL;
	if (cc_json_str(c, lx, "linux", "rootfsPropagation", false, &prop) < 0)
		return -1;
	if (prop && *prop && propagation_from_name(prop, &l->rootfs_propagation) < 0)
		return cc_json_fail(c, "linux.rootfsPropagation", "unknown propagation \"%s\"",
				    prop);
	return 0;
}

static int parse_personality(const struct cc_json_reader *c, const json_t *lx, struct rt_linux *l)
{
	int ret;
	json_t *j = cc_json_member(c, lx, "linux", "personality", JSON_OBJECT, false, &ret);
	if (!j)
		return ret;
	_cleanup_free_ char *domain = NULL;
	if (cc_json_str(c, j, "linux.personality", "domain", true, &domain) < 0)
		return -1;
	l->has_personality = true;
	if (strcmp(domain, "LINUX") == 0)
		l->personality = PER_LINUX;
	else if (strcmp(domain, "LINUX32") == 0)
		l->personality = PER_LINUX32;
	else
		return cc_json_fail(c, "linux.personality.domain", "unknown domain \"%s\"", domain);
	return 0;
}

static int parse_time_offset(const struct cc_json_reader *c, const json_t *offsets,
			     const char *clock, struct rt_time_offset *out)
{
	int ret;
	json_t *j =
	    cc_json_member(c, offsets, "linux.timeOffsets", clock, JSON_OBJECT, false, &ret);
	if (!j)
		return ret;
	_cleanup_free_ char *p = xasprintf("linux.timeOffsets.%s", clock);
	int64_t ns = 0;
	if (cc_json_int(c, j, p, "secs", INT64_MIN, INT64_MAX, &out->secs, NULL) < 0 ||
	    cc_json_int(c, j, p, "nanosecs", 0, 999999999, &ns, NULL) < 0)
		return -1;
	out->nanosecs = (uint32_t)ns;
	out->set = true;
	return 0;
}

static int parse_time_offsets(const struct cc_json_reader *c, const json_t *lx, struct rt_linux *l)
{
	int ret;
	json_t *j = cc_json_member(c, lx, "linux", "timeOffsets", JSON_OBJECT, false, &ret);
	if (!j)
		return ret;
	const char *key;
	json_t *v;
	json_object_foreach (j, key, v) {
		if (strcmp(key, "monotonic") && strcmp(key, "boottime")) {
			_cleanup_free_ char *p = cc_json_map_path("linux.timeOffsets", key);
			return cc_json_fail(c, p, "unknown clock (monotonic or boottime)");
		}
	}
	return parse_time_offset(c, j, "monotonic", &l->monotonic_offset) < 0
		   ? -1
		   : parse_time_offset(c, j, "boottime", &l->boottime_offset);
}

static int parse_linux(const struct cc_json_reader *c, const json_t *root, struct rt_spec *s)
{
	int ret;
	json_t *lx = cc_json_member(c, root, "", "linux", JSON_OBJECT, false, &ret);
	struct rt_linux *l = &s->linux;
	if (!lx)
		return ret;
	s->has_linux = true;
	if (parse_namespaces(c, lx, l) < 0 ||
	    parse_idmaps(c, lx, "uidMappings", "linux", &l->uid_mappings, &l->n_uid_mappings) < 0 ||
	    parse_idmaps(c, lx, "gidMappings", "linux", &l->gid_mappings, &l->n_gid_mappings) < 0 ||
	    parse_devices(c, lx, l) < 0 ||
	    cc_json_str(c, lx, "linux", "cgroupsPath", false, &l->cgroups_path) < 0 ||
	    parse_resources(c, lx, &l->resources) < 0 ||
	    parse_kv(c, lx, "sysctl", "linux", &l->sysctl, &l->n_sysctl) < 0 ||
	    parse_seccomp(c, lx, l) < 0 || parse_linux_paths(c, lx, l) < 0 ||
	    cc_json_str(c, lx, "linux", "mountLabel", false, &l->mount_label) < 0 ||
	    parse_personality(c, lx, l) < 0 || parse_time_offsets(c, lx, l) < 0)
		return -1;
	return 0;
}

static int check_version(const struct cc_json_reader *c, const char *v)
{
	unsigned major, minor;
	if (sscanf(v, "%u.%u", &major, &minor) != 2)
		return cc_json_fail(c, "ociVersion", "invalid version \"%s\"", v);
	if (major != 1 || minor > 2)
		return cc_json_fail(c, "ociVersion",
				    "unsupported version \"%s\" (this runtime supports 1.0 to 1.2)",
				    v);
	return 0;
}

/* A sysctl is only set inside a namespace of the container's own: which one a key lives in
 * follows the kernel (and runc's list). */
static int check_sysctl(const struct cc_json_reader *c, const struct rt_spec *s, const char *key)
{
	static const char *const ipc_keys[] = { "kernel.msgmax", "kernel.msgmnb",
						"kernel.msgmni", "kernel.sem",
						"kernel.shmall", "kernel.shmmax",
						"kernel.shmmni", "kernel.shm_rmid_forced" };
	enum rt_ns_type ns = RT_NS_TYPES;
	for (size_t i = 0; i < ARRAY_SIZE(ipc_keys); i++)
		if (!strcmp(key, ipc_keys[i]))
			ns = RT_NS_IPC;
	if (!strncmp(key, "fs.mqueue.", 10))
		ns = RT_NS_IPC;
	else if (!strncmp(key, "net.", 4))
		ns = RT_NS_NETWORK;
	else if (!strcmp(key, "kernel.hostname") || !strcmp(key, "kernel.domainname"))
		ns = RT_NS_UTS;
	_cleanup_free_ char *path = cc_json_map_path("linux.sysctl", key);
	if (ns == RT_NS_TYPES)
		return cc_json_fail(c, path, "not in a separate kernel namespace");
	if (!rt_spec_namespace(s, ns))
		return cc_json_fail(c, path, "not allowed in the host's %s namespace",
				    rt_ns_type_name(ns));
	return 0;
}

/* Checks that span sections. */
static int check_spec(const struct cc_json_reader *c, struct rt_spec *s)
{
	for (size_t i = 0; i < s->linux.n_sysctl; i++)
		if (check_sysctl(c, s, s->linux.sysctl[i].key) < 0)
			return -1;
	const struct rt_namespace *time = rt_spec_namespace(s, RT_NS_TIME);
	if ((s->linux.monotonic_offset.set || s->linux.boottime_offset.set) &&
	    (!time || (time->path && *time->path)))
		return cc_json_fail(c, "linux.timeOffsets", "needs a new time namespace");
	const struct rt_namespace *user = rt_spec_namespace(s, RT_NS_USER);
	bool maps = s->linux.n_uid_mappings || s->linux.n_gid_mappings;
	if (user && !user->path && !(s->linux.n_uid_mappings && s->linux.n_gid_mappings))
		return cc_json_fail(c, "linux.uidMappings",
				    "uid and gid mappings are required with a new user namespace");
	if (!user && maps)
		return cc_json_fail(
		    c, s->linux.n_uid_mappings ? "linux.uidMappings" : "linux.gidMappings",
		    "mappings require a user namespace");
	return 0;
}

static int parse_root(const struct cc_json_reader *c, const json_t *j, struct rt_spec *s)
{
	int ret;
	json_t *r = cc_json_member(c, j, "", "root", JSON_OBJECT, false, &ret);
	if (!r)
		return ret;
	if (cc_json_str(c, r, "root", "path", true, &s->root.path) < 0 ||
	    cc_json_bool(c, r, "root", "readonly", &s->root.readonly, NULL) < 0)
		return -1;
	if (!*s->root.path)
		return cc_json_fail(c, "root.path", "must not be empty");
	return 0;
}

static int parse_document(const struct cc_json_reader *c, const json_t *j, struct rt_spec *s)
{
	int ret;
	if (!json_is_object(j))
		return cc_json_fail(c, "", "expected a JSON object");
	if (cc_json_str(c, j, "", "ociVersion", true, &s->oci_version) < 0 ||
	    check_version(c, s->oci_version) < 0 || parse_root(c, j, s) < 0 ||
	    cc_json_str(c, j, "", "hostname", false, &s->hostname) < 0 ||
	    cc_json_str(c, j, "", "domainname", false, &s->domainname) < 0 ||
	    parse_kv(c, j, "annotations", "", &s->annotations, &s->n_annotations) < 0 ||
	    parse_mounts(c, j, s) < 0 || parse_hooks(c, j, &s->hooks) < 0 ||
	    parse_linux(c, j, s) < 0)
		return -1;
	json_t *pj = cc_json_member(c, j, "", "process", JSON_OBJECT, false, &ret);
	if (ret < 0)
		return -1;
	if (pj) {
		s->process = xzalloc(sizeof(*s->process));
		if (parse_process_obj(c, pj, "process", s->process) < 0)
			return -1;
	}
	return check_spec(c, s);
}

struct rt_spec *rt_spec_parse(const char *name, const char *buf, size_t len, struct cc_error **err)
{
	const struct cc_json_reader c = { name, err };
	json_t *j = load_json(name, buf, len, err);
	if (!j)
		return NULL;
	struct rt_spec *s = xzalloc(sizeof(*s));
	s->raw = j;
	if (parse_document(&c, j, s) < 0) {
		rt_spec_free(s);
		return NULL;
	}
	return s;
}

struct rt_spec *rt_spec_load(const char *bundle, struct cc_error **err)
{
	size_t len;
	_cleanup_free_ char *path = cc_path_join(bundle, "config.json");
	_cleanup_free_ char *buf = cc_read_file(path, 0, &len, err);
	if (!buf)
		return NULL;
	return rt_spec_parse("config.json", buf, len, err);
}

static void free_kv(struct rt_kv *kv, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(kv[i].key);
		free(kv[i].value);
	}
	free(kv);
}

static void free_resources(struct rt_resources *r)
{
	free(r->devices);
	free(r->cpu.cpus);
	free(r->cpu.mems);
	free(r->block_io.weight_device);
	free(r->block_io.throttle_read_bps);
	free(r->block_io.throttle_write_bps);
	free(r->block_io.throttle_read_iops);
	free(r->block_io.throttle_write_iops);
	for (size_t i = 0; i < r->n_hugepage_limits; i++)
		free(r->hugepage_limits[i].page_size);
	free(r->hugepage_limits);
	free_kv(r->network.priorities, r->network.n_priorities);
	free_kv(r->unified, r->n_unified);
}

static void free_seccomp(struct rt_seccomp *s)
{
	if (!s)
		return;
	cc_strv_free(s->architectures);
	cc_strv_free(s->flags);
	free(s->listener_path);
	free(s->listener_metadata);
	for (size_t i = 0; i < s->n_syscalls; i++) {
		cc_strv_free(s->syscalls[i].names);
		free(s->syscalls[i].args);
	}
	free(s->syscalls);
	free(s);
}

static void free_linux(struct rt_linux *l)
{
	for (size_t i = 0; i < l->n_namespaces; i++)
		free(l->namespaces[i].path);
	free(l->namespaces);
	free(l->uid_mappings);
	free(l->gid_mappings);
	for (size_t i = 0; i < l->n_devices; i++)
		free(l->devices[i].path);
	free(l->devices);
	free(l->cgroups_path);
	free_resources(&l->resources);
	free_kv(l->sysctl, l->n_sysctl);
	free_seccomp(l->seccomp);
	cc_strv_free(l->masked_paths);
	cc_strv_free(l->readonly_paths);
	free(l->mount_label);
}

void rt_spec_free(struct rt_spec *s)
{
	if (!s)
		return;
	free(s->oci_version);
	free(s->hostname);
	free(s->domainname);
	free(s->root.path);
	rt_process_free(s->process);
	for (size_t i = 0; i < s->n_mounts; i++) {
		struct rt_mount *m = &s->mounts[i];
		free(m->destination);
		free(m->type);
		free(m->source);
		cc_strv_free(m->options);
		free(m->data);
		free(m->uid_mappings);
		free(m->gid_mappings);
	}
	free(s->mounts);
	for (int k = 0; k < RT_HOOK_KINDS; k++) {
		for (size_t i = 0; i < s->hooks.count[k]; i++) {
			free(s->hooks.list[k][i].path);
			cc_strv_free(s->hooks.list[k][i].args);
			cc_strv_free(s->hooks.list[k][i].env);
		}
		free(s->hooks.list[k]);
	}
	free_kv(s->annotations, s->n_annotations);
	free_linux(&s->linux);
	if (s->raw)
		json_decref(s->raw);
	free(s);
}
