// SPDX-License-Identifier: Apache-2.0
/*
 * cgroups: host discovery (mode, hierarchies, rune's own cgroup), where a container's cgroup
 * lives, directory creation and removal, dispatch to cgroup-v1.c / cgroup-v2.c, the state
 * record and the container's /sys/fs/cgroup view.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>
#include <linux/magic.h>
#include "runtime/cgroup-internal.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/log.h"
#include "util/strv.h"

#define CGROUP_ROOT "/sys/fs/cgroup"
#define KILL_TIMEOUT_MS 10000

/* ---- small file helpers ---- */

bool rt_cg_safe_value(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

int rt_cg_write(const char *dir, const char *file, const char *value, struct cc_error **err)
{
	_cleanup_free_ char *path = cc_path_join(dir, file);
	size_t len = strlen(value);
	ssize_t n;

	/* One write per value: cgroup files parse each write(2) as one command. */
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return cc_error_errno(err, "cgroup: write %s \"%s\"", path, value);
	do
		n = write(fd, value, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return cc_error_errno(err, "cgroup: write %s \"%s\"", path, value);
	if ((size_t)n != len)
		return cc_error_set(err, EIO, "cgroup: write %s \"%s\": short write", path, value);
	return 0;
}

int rt_cg_writef(const char *dir, const char *file, struct cc_error **err, const char *fmt, ...)
{
	va_list ap;
	char *value;

	va_start(ap, fmt);
	if (vasprintf(&value, fmt, ap) < 0)
		abort();
	va_end(ap);
	int ret = rt_cg_write(dir, file, value, err);
	free(value);
	return ret;
}

char *rt_cg_read(const char *dir, const char *file, struct cc_error **err)
{
	_cleanup_free_ char *path = cc_path_join(dir, file);
	size_t len = 0;
	char *buf = cc_read_file(path, 0, &len, err);

	if (!buf) {
		cc_error_prefix(err, "cgroup");
		return NULL;
	}
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
		buf[--len] = '\0';
	return buf;
}

static int parse_u64(const char *s, uint64_t *v)
{
	char *end;

	if (strcmp(s, "max") == 0 || strcmp(s, "-1") == 0) {
		*v = UINT64_MAX;
		return 0;
	}
	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	unsigned long long x = strtoull(s, &end, 10);
	if (errno || (*end && *end != '\n'))
		return -1;
	*v = x;
	return 0;
}

int rt_cg_read_u64(const char *dir, const char *file, uint64_t *v, struct cc_error **err)
{
	_cleanup_free_ char *s = rt_cg_read(dir, file, err);

	if (!s)
		return -1;
	if (parse_u64(s, v) < 0)
		return cc_error_set(err, EINVAL, "cgroup: %s/%s: not a number: \"%.40s\"", dir,
				    file, s);
	return 0;
}

bool rt_cg_has(const char *dir, const char *file)
{
	_cleanup_free_ char *path = cc_path_join(dir, file);
	return access(path, F_OK) == 0;
}

bool rt_cg_keyed(const char *text, const char *key, uint64_t *v)
{
	size_t klen = strlen(key);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, key, klen) != 0 || p[klen] != ' ')
			continue;
		char *end;
		errno = 0;
		unsigned long long x = strtoull(p + klen + 1, &end, 10);
		if (errno || end == p + klen + 1)
			return false;
		*v = x;
		return true;
	}
	return false;
}

static int parse_procs(const char *text, pid_t **pids, size_t *n)
{
	for (const char *p = text; *p;) {
		char *end;
		long pid = strtol(p, &end, 10);
		if (end == p || pid <= 0 || pid > INT_MAX)
			return -1;
		*pids = xreallocarray(*pids, *n + 1, sizeof(pid_t));
		(*pids)[(*n)++] = (pid_t)pid;
		p = end;
		while (*p == '\n')
			p++;
	}
	return 0;
}

int rt_cg_collect_pids(const char *dir, pid_t **pids, size_t *n, struct cc_error **err)
{
	_cleanup_free_ char *path = cc_path_join(dir, "cgroup.procs");
	struct cc_error *rerr = NULL;
	_cleanup_free_ char *text = cc_read_file(path, 0, NULL, &rerr);

	if (!text) {
		/* The directory going away under us (a racing delete) is an empty cgroup. */
		int e = rerr->errnum;
		cc_error_free(&rerr);
		if (e == ENOENT || e == ENODEV)
			return 0;
		return cc_error_set(err, e, "cgroup: read %s", path);
	}
	if (parse_procs(text, pids, n) < 0)
		return cc_error_set(err, EINVAL, "cgroup: %s: unexpected contents", path);
	_cleanup_closedir_ DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : cc_error_errno(err, "cgroup: open %s", dir);
	for (struct dirent *de; (de = readdir(d));) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		_cleanup_free_ char *sub = cc_path_join(dir, de->d_name);
		if (rt_cg_collect_pids(sub, pids, n, err) < 0)
			return -1;
	}
	return 0;
}

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
	return (x > y) - (x < y);
}

void rt_cg_sort_pids(pid_t *pids, size_t *n)
{
	size_t out = 0;

	if (*n == 0)
		return;
	qsort(pids, *n, sizeof(pid_t), cmp_pid);
	for (size_t i = 0; i < *n; i++)
		if (out == 0 || pids[out - 1] != pids[i])
			pids[out++] = pids[i];
	*n = out;
}

/* ---- statistics helpers ---- */

void rt_cg_json_u64(json_t *o, const char *key, uint64_t v, bool omitempty)
{
	if (omitempty && v == 0)
		return;
	json_object_set_new(o, key, json_integer(v > INT64_MAX ? INT64_MAX : (json_int_t)v));
}

json_t *rt_cg_stats_skeleton(void)
{
	json_t *mem = json_object();
	static const char *const entries[] = { "usage", "swap", "kernel", "kernelTCP" };

	for (size_t i = 0; i < ARRAY_SIZE(entries); i++)
		json_object_set_new(mem, entries[i],
				    json_pack("{s:i,s:i}", "limit", 0, "failcnt", 0));
	json_t *cpuset = json_pack(
	    "{s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i}", "cpu_exclusive", 0, "mem_hardwall", 0,
	    "mem_exclusive", 0, "memory_migrate", 0, "memory_spread_page", 0, "memory_spread_slab",
	    0, "memory_pressure", 0, "sched_load_balance", 0, "sched_relax_domain_level", 0);
	return json_pack("{s:{s:{s:i,s:i},s:{}},s:o,s:o,s:{},s:{},s:{},s:{},s:n}", "cpu", "usage",
			 "kernel", 0, "user", 0, "throttling", "cpuset", cpuset, "memory", mem,
			 "pids", "blkio", "hugetlb", "intel_rdt", "network_interfaces");
}

json_t *rt_cg_cpu_list(const char *list)
{
	json_t *arr = json_array();
	const char *p = list;

	while (*p) {
		char *end;
		unsigned long a = strtoul(p, &end, 10), b;
		if (end == p)
			goto bad;
		b = a;
		if (*end == '-') {
			p = end + 1;
			b = strtoul(p, &end, 10);
			if (end == p || b < a)
				goto bad;
		}
		if (b > 65535 || json_array_size(arr) + (b - a) > 65536)
			goto bad;
		for (unsigned long i = a; i <= b; i++)
			json_array_append_new(arr, json_integer((json_int_t)i));
		p = end;
		if (*p == ',')
			p++;
		else if (*p)
			goto bad;
	}
	if (json_array_size(arr) > 0)
		return arr;
bad:
	json_decref(arr);
	return NULL;
}

json_t *rt_cg_keyed_object(const char *text)
{
	json_t *o = json_object();
	_cleanup_strv_ char **lines = cc_strv_split(text, '\n');

	for (size_t i = 0; lines[i]; i++) {
		char *sp = strchr(lines[i], ' ');
		uint64_t v;
		if (!sp)
			continue;
		*sp = '\0';
		if (parse_u64(sp + 1, &v) == 0)
			rt_cg_json_u64(o, lines[i], v, false);
	}
	return o;
}

/* ---- hierarchies ---- */

static void hier_clear(struct rt_cgroup_hier *h)
{
	cc_strv_free(h->controllers);
	free(h->mount);
	free(h->root);
	free(h->own);
	free(h->path);
	free(h->created);
	memset(h, 0, sizeof(*h));
}

static void hier_copy(struct rt_cgroup_hier *dst, const struct rt_cgroup_hier *src)
{
	dst->controllers = src->controllers ? cc_strv_dup(src->controllers) : NULL;
	dst->unified = src->unified;
	dst->mount = xstrdup(src->mount);
	dst->root = xstrdup(src->root);
	dst->own = src->own ? xstrdup(src->own) : NULL;
	dst->path = src->path ? xstrdup(src->path) : NULL;
	dst->created = src->created ? xstrdup(src->created) : NULL;
}

static bool hier_has(const struct rt_cgroup_hier *h, const char *controller)
{
	if (!controller[0])
		return h->unified;
	if (h->unified)
		return false;
	for (size_t i = 0; h->controllers[i]; i++) {
		const char *c = h->controllers[i];
		if (strcmp(c, controller) == 0 ||
		    (strncmp(c, "name=", 5) == 0 && strcmp(c + 5, controller) == 0))
			return true;
	}
	return false;
}

struct rt_cgroup_hier *rt_cg_hier(const struct rt_cgroup *cg, const char *controller)
{
	for (size_t i = 0; i < cg->n_hiers; i++)
		if (hier_has(&cg->hiers[i], controller))
			return &cg->hiers[i];
	/* On cgroup v2 every controller lives in the one hierarchy. */
	if (cg->mode == RT_CGROUP_V2)
		return rt_cg_unified(cg);
	return NULL;
}

struct rt_cgroup_hier *rt_cg_unified(const struct rt_cgroup *cg)
{
	for (size_t i = 0; i < cg->n_hiers; i++)
		if (cg->hiers[i].unified)
			return &cg->hiers[i];
	return NULL;
}

const char *rt_cg_dir(const struct rt_cgroup *cg, const char *controller)
{
	struct rt_cgroup_hier *h = rt_cg_hier(cg, controller);
	return h ? h->path : NULL;
}

const char *rt_cgroup_path(const struct rt_cgroup *cg, const char *controller)
{
	return cg ? rt_cg_dir(cg, controller ? controller : "") : NULL;
}

/* ---- host discovery ---- */

enum rt_cgroup_mode rt_cgroup_detect_mode(void)
{
	struct statfs st;

	if (statfs(CGROUP_ROOT, &st) == 0 && st.f_type == CGROUP2_SUPER_MAGIC)
		return RT_CGROUP_V2;
	if (statfs(CGROUP_ROOT "/unified", &st) == 0 && st.f_type == CGROUP2_SUPER_MAGIC)
		return RT_CGROUP_HYBRID;
	return RT_CGROUP_V1;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static char *unescape_octal(const char *s)
{
	char *r = xmalloc(strlen(s) + 1), *o = r;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 4;
		} else {
			*o++ = *s++;
		}
	}
	*o = '\0';
	return r;
}

struct mi_entry {
	char *root, *mount, *fstype, *superopts;
};

/* Split one mountinfo line; returns false for lines that are not well formed. */
static bool mi_parse(char *line, struct mi_entry *e)
{
	char *f[6], *save = NULL, *tok;
	int i = 0;

	for (tok = strtok_r(line, " ", &save); tok && i < 6; tok = strtok_r(NULL, " ", &save))
		f[i++] = tok;
	if (i < 6)
		return false;
	while (tok && strcmp(tok, "-") != 0) /* optional fields end with "-" */
		tok = strtok_r(NULL, " ", &save);
	if (!tok)
		return false;
	e->root = f[3];
	e->mount = f[4];
	e->fstype = strtok_r(NULL, " ", &save);
	if (!e->fstype || !strtok_r(NULL, " ", &save)) /* source */
		return false;
	e->superopts = strtok_r(NULL, " ", &save);
	return e->superopts != NULL;
}

/* The v1 subsystems named in a cgroup mount's options ("rw,cpu,cpuacct"). */
static char **v1_controllers(const char *superopts, char *const *known)
{
	_cleanup_strv_ char **opts = cc_strv_split(superopts, ',');
	char **r = NULL;

	for (size_t i = 0; opts[i]; i++)
		if (cc_strv_contains(known, opts[i]) || strncmp(opts[i], "name=", 5) == 0)
			cc_strv_push(&r, opts[i]);
	return r;
}

static char **known_subsystems(const char *proc_cgroups)
{
	_cleanup_strv_ char **lines = cc_strv_split(proc_cgroups ? proc_cgroups : "", '\n');
	char **r = xcalloc(1, sizeof(char *));

	for (size_t i = 0; lines[i]; i++) {
		if (lines[i][0] == '#' || !lines[i][0])
			continue;
		char *tab = strpbrk(lines[i], "\t ");
		if (tab)
			*tab = '\0';
		cc_strv_push(&r, lines[i]);
	}
	return r;
}

/* rune's own cgroup in a hierarchy, from /proc/self/cgroup ("4:memory:/a/b", "0::/x"). */
static char *own_cgroup(const char *self_cgroup, const struct rt_cgroup_hier *h)
{
	_cleanup_strv_ char **lines = cc_strv_split(self_cgroup ? self_cgroup : "", '\n');

	for (size_t i = 0; lines[i]; i++) {
		char *c1 = strchr(lines[i], ':');
		char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2 || c2[1] != '/')
			continue;
		*c2 = '\0';
		_cleanup_strv_ char **ctrls = cc_strv_split(c1 + 1, ',');
		bool match = h->unified
				 ? (c1 == lines[i] + 1 && lines[i][0] == '0' && c2 == c1 + 1)
				 : (c2 > c1 + 1 && cc_strv_contains(ctrls, h->controllers[0]));
		if (match)
			return cc_path_clean(c2 + 1);
	}
	return xstrdup("/");
}

static bool hier_overlaps(const struct rt_cgroup_host *host, char *const *ctrls, bool unified)
{
	for (size_t i = 0; i < host->n_hiers; i++) {
		const struct rt_cgroup_hier *h = &host->hiers[i];
		if (unified || h->unified) {
			if (unified && h->unified)
				return true;
			continue;
		}
		for (size_t j = 0; ctrls[j]; j++)
			if (cc_strv_contains(h->controllers, ctrls[j]))
				return true;
	}
	return false;
}

/* Consider one mount; `pass` 0 takes only the conventional places, 1 anything left. */
static void host_add(struct rt_cgroup_host *host, const struct mi_entry *e, char *const *known,
		     const char *self_cgroup, int pass)
{
	bool unified = strcmp(e->fstype, "cgroup2") == 0;
	_cleanup_free_ char *mount = unescape_octal(e->mount);
	_cleanup_strv_ char **ctrls = NULL;

	if (!unified && strcmp(e->fstype, "cgroup") != 0)
		return;
	if (unified && host->mode == RT_CGROUP_V1)
		return;
	if (!unified && host->mode == RT_CGROUP_V2)
		return;
	if (pass == 0) {
		const char *want =
		    host->mode == RT_CGROUP_V2 ? CGROUP_ROOT : CGROUP_ROOT "/unified";
		if (unified ? strcmp(mount, want) != 0
			    : strncmp(mount, CGROUP_ROOT "/", strlen(CGROUP_ROOT "/")) != 0)
			return;
	}
	if (!unified) {
		ctrls = v1_controllers(e->superopts, known);
		if (!ctrls)
			return;
	}
	if (hier_overlaps(host, ctrls, unified))
		return;
	host->hiers = xreallocarray(host->hiers, host->n_hiers + 1, sizeof(*host->hiers));
	struct rt_cgroup_hier *h = &host->hiers[host->n_hiers++];
	memset(h, 0, sizeof(*h));
	h->unified = unified;
	h->controllers = steal_pointer(&ctrls);
	h->mount = steal_pointer(&mount);
	_cleanup_free_ char *root = unescape_octal(e->root);
	h->root = cc_path_clean(root);
	h->own = own_cgroup(self_cgroup, h);
}

int rt_cgroup_host_parse(enum rt_cgroup_mode mode, const char *mountinfo, const char *self_cgroup,
			 const char *proc_cgroups, struct rt_cgroup_host *host,
			 struct cc_error **err)
{
	_cleanup_strv_ char **known = known_subsystems(proc_cgroups);

	memset(host, 0, sizeof(*host));
	host->mode = mode;
	for (int pass = 0; pass < 2; pass++) {
		_cleanup_strv_ char **lines = cc_strv_split(mountinfo, '\n');
		for (size_t i = 0; lines[i]; i++) {
			struct mi_entry e;
			if (mi_parse(lines[i], &e))
				host_add(host, &e, known, self_cgroup, pass);
		}
	}
	if (mode != RT_CGROUP_V1 && !hier_overlaps(host, NULL, true)) {
		rt_cgroup_host_clear(host);
		return cc_error_set(err, ENOENT, "cgroup: no cgroup2 mount found in mountinfo");
	}
	if (host->n_hiers == 0)
		return cc_error_set(err, ENOENT, "cgroup: no cgroup hierarchy is mounted");
	return 0;
}

int rt_cgroup_host_load(struct rt_cgroup_host *host, struct cc_error **err)
{
	_cleanup_free_ char *mi = cc_read_file("/proc/self/mountinfo", 0, NULL, err);
	_cleanup_free_ char *self = mi ? cc_read_file("/proc/self/cgroup", 0, NULL, err) : NULL;
	_cleanup_free_ char *known = self ? cc_read_file("/proc/cgroups", 0, NULL, err) : NULL;

	if (!known)
		return cc_error_prefix(err, "cgroup");
	return rt_cgroup_host_parse(rt_cgroup_detect_mode(), mi, self, known, host, err);
}

void rt_cgroup_host_clear(struct rt_cgroup_host *host)
{
	for (size_t i = 0; i < host->n_hiers; i++)
		hier_clear(&host->hiers[i]);
	free(host->hiers);
	memset(host, 0, sizeof(*host));
}

/* ---- where the container's cgroup lives ---- */

/* The container's cgroup inside a hierarchy (the form /proc/<pid>/cgroup shows). Cleaning is
 * what keeps "..": an absolute path cannot climb above the hierarchy root, a relative one not
 * above rune's own cgroup. */
static char *cgroup_name(const char *cgroups_path, const char *id, const char *own,
			 struct cc_error **err)
{
	if (cgroups_path && cgroups_path[0] == '/') {
		char *c = cc_path_clean(cgroups_path);
		if (strcmp(c, "/") == 0) {
			free(c);
			cc_error_set(err, EINVAL, "cgroup: cgroupsPath \"%s\" is the root cgroup",
				     cgroups_path);
			return NULL;
		}
		return c;
	}
	const char *rel = cgroups_path && *cgroups_path ? cgroups_path : id;
	_cleanup_free_ char *tmp = xasprintf("/%s", rel);
	_cleanup_free_ char *inner = cc_path_clean(tmp);
	if (strcmp(inner, "/") == 0) {
		cc_error_set(err, EINVAL, "cgroup: cgroupsPath \"%s\" is rune's own cgroup", rel);
		return NULL;
	}
	_cleanup_free_ char *joined = cc_path_join(own, inner);
	return cc_path_clean(joined);
}

/* Host directory of cgroup `name` in hierarchy h: what is mounted is h->root. */
static char *cgroup_dir(const struct rt_cgroup_hier *h, const char *name, struct cc_error **err)
{
	size_t len = strlen(h->root);

	if (strcmp(h->root, "/") == 0)
		return cc_path_join(h->mount, name);
	if (strncmp(name, h->root, len) == 0 && name[len] == '/')
		return cc_path_join(h->mount, name + len);
	cc_error_set(err, EINVAL, "cgroup: %s is outside the part of the hierarchy mounted at %s",
		     name, h->mount);
	return NULL;
}

static int check_input(const char *what, const char *s, struct cc_error **err)
{
	if (strlen(s) >= PATH_MAX)
		return cc_error_set(err, ENAMETOOLONG, "cgroup: %s is too long", what);
	if (!rt_cg_safe_value(s))
		return cc_error_set(err, EINVAL, "cgroup: %s contains control characters", what);
	return 0;
}

static const char *mode_name(enum rt_cgroup_mode mode)
{
	return mode == RT_CGROUP_V2 ? "v2" : mode == RT_CGROUP_HYBRID ? "hybrid" : "v1";
}

static struct rt_cgroup *cgroup_alloc(enum rt_cgroup_mode mode)
{
	struct rt_cgroup *cg = xzalloc(sizeof(*cg));
	cg->mode = mode;
	cg->ops = mode == RT_CGROUP_V2 ? &rt_cgroup_v2_ops : &rt_cgroup_v1_ops;
	return cg;
}

struct rt_cgroup *rt_cgroup_new_on(const struct rt_cgroup_host *host, const char *cgroups_path,
				   const char *id, struct cc_error **err)
{
	if (cgroups_path && check_input("cgroupsPath", cgroups_path, err) < 0)
		return NULL;
	if ((!cgroups_path || !*cgroups_path) &&
	    (!id || !*id || strchr(id, '/') || check_input("container id", id, err) < 0)) {
		cc_error_set(err, EINVAL, "cgroup: invalid container id \"%s\"", id ? id : "");
		return NULL;
	}
	struct rt_cgroup *cg = cgroup_alloc(host->mode);
	cg->hiers = xcalloc(host->n_hiers, sizeof(*cg->hiers));
	cg->n_hiers = host->n_hiers;
	for (size_t i = 0; i < host->n_hiers; i++) {
		struct rt_cgroup_hier *h = &cg->hiers[i];
		hier_copy(h, &host->hiers[i]);
		_cleanup_free_ char *name = cgroup_name(cgroups_path, id, h->own, err);
		h->path = name ? cgroup_dir(h, name, err) : NULL;
		if (!h->path) {
			rt_cgroup_free(cg);
			return NULL;
		}
	}
	return cg;
}

struct rt_cgroup *rt_cgroup_new(const char *cgroups_path, const char *id, bool systemd,
				struct cc_error **err)
{
	struct rt_cgroup_host host;

	if (systemd) {
		/* Same test as runc and sd_booted(): systemd creates this when it is PID 1. */
		cc_error_set(err, 0,
			     "--systemd-cgroup: rune has no systemd cgroup driver, it manages "
			     "cgroups through cgroupfs only (systemd %s on this host); configure "
			     "the client for the cgroupfs driver",
			     cc_path_exists("/run/systemd/system") ? "runs" : "does not run");
		if (err && *err)
			(*err)->errnum = ENOTSUP;
		return NULL;
	}
	if (rt_cgroup_host_load(&host, err) < 0)
		return NULL;
	struct rt_cgroup *cg = rt_cgroup_new_on(&host, cgroups_path, id, err);
	rt_cgroup_host_clear(&host);
	return cg;
}

void rt_cgroup_free(struct rt_cgroup *cg)
{
	if (!cg)
		return;
	for (size_t i = 0; i < cg->n_hiers; i++)
		hier_clear(&cg->hiers[i]);
	free(cg->hiers);
	free(cg);
}

/* ---- directories ---- */

/* mkdir every missing component below the mount, remembering the topmost one made. */
static int make_dirs(struct rt_cgroup_hier *h, struct cc_error **err)
{
	_cleanup_free_ char *p = xstrdup(h->path);
	struct stat st;

	for (char *s = p + strlen(h->mount) + 1;; s++) {
		if (*s != '/' && *s)
			continue;
		char c = *s;
		*s = '\0';
		if (mkdir(p, 0755) == 0) {
			if (!h->created)
				h->created = xstrdup(p);
		} else if (errno != EEXIST) {
			return cc_error_errno(err, "cgroup: mkdir %s", p);
		} else if (stat(p, &st) < 0 || !S_ISDIR(st.st_mode)) {
			/* e.g. a cgroupsPath component named like a control file */
			return cc_error_set(err, ENOTDIR, "cgroup: mkdir %s", p);
		}
		*s = c;
		if (!c)
			return 0;
	}
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static long elapsed_ms(const struct timespec *start)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - start->tv_sec) * 1000 + (now.tv_nsec - start->tv_nsec) / 1000000;
}

/* rmdir a cgroup directory and any cgroups the container made below it. A cgroup whose last
 * task just exited can stay busy for a moment: retry EBUSY briefly. */
static int rmdir_tree(const char *path, struct cc_error **err)
{
	DIR *d = opendir(path);

	/* Gone, or a control file in the place of a directory: nothing of ours there. */
	if (!d)
		return errno == ENOENT || errno == ENOTDIR
			   ? 0
			   : cc_error_errno(err, "cgroup: open %s", path);
	for (struct dirent *de; (de = readdir(d));) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		_cleanup_free_ char *sub = cc_path_join(path, de->d_name);
		if (rmdir_tree(sub, err) < 0) {
			closedir(d);
			return -1;
		}
	}
	closedir(d);
	for (unsigned i = 0;; i++) {
		if (rmdir(path) == 0 || errno == ENOENT)
			return 0;
		if (errno != EBUSY || i >= 20)
			return cc_error_errno(err, "cgroup: rmdir %s", path);
		sleep_ms(5 + 5 * i);
	}
}

/* Remove the directories between the leaf and h->created (the ones create made), if empty:
 * another container may have made its own cgroup below them meanwhile. */
static void remove_created_parents(const struct rt_cgroup_hier *h)
{
	if (!h->created)
		return;
	size_t top = strlen(h->created);
	_cleanup_free_ char *p = xstrdup(h->path);
	for (char *slash = strrchr(p, '/'); slash && (size_t)(slash - p) >= top;
	     slash = strrchr(p, '/')) {
		*slash = '\0';
		if (strncmp(p, h->created, top) != 0 || rmdir(p) < 0)
			return;
	}
}

/* Undo rt_cgroup_create: only what it made (a leaf that existed before stays). */
static void remove_created(struct rt_cgroup *cg)
{
	for (size_t i = 0; i < cg->n_hiers; i++) {
		struct rt_cgroup_hier *h = &cg->hiers[i];
		if (!h->created)
			continue;
		if (rmdir_tree(h->path, NULL) == 0)
			remove_created_parents(h);
		free(h->created);
		h->created = NULL;
	}
}

/* Never signal or remove a hierarchy's root, whatever a state file says. */
static bool below_mount(const struct rt_cgroup_hier *h)
{
	size_t len = strlen(h->mount);
	return h->path && strncmp(h->path, h->mount, len) == 0 && h->path[len] == '/' &&
	       h->path[len + 1];
}

static size_t collect_all(struct rt_cgroup *cg, pid_t **pids)
{
	size_t n = 0;
	for (size_t i = 0; i < cg->n_hiers; i++)
		if (below_mount(&cg->hiers[i])) /* unreadable adds none; rmdir then says EBUSY */
			CC_BEST_EFFORT(rt_cg_collect_pids(cg->hiers[i].path, pids, &n, NULL));
	rt_cg_sort_pids(*pids, &n);
	return n;
}

/* SIGKILL everything in the cgroup until it is empty. cgroup.kill (5.14+) kills the whole
 * subtree at once, forks included; the pid loop covers v1-only hosts. v1-frozen tasks cannot
 * die, so the cgroup is thawed after each round of signals. */
static int kill_all(struct rt_cgroup *cg, struct cc_error **err)
{
	struct rt_cgroup_hier *u = rt_cg_unified(cg);
	struct timespec start;
	unsigned delay = 1;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		_cleanup_free_ pid_t *pids = NULL;
		if (u && below_mount(u) && rt_cg_has(u->path, "cgroup.kill"))
			/* the pid loop below kills what cgroup.kill did not */
			CC_BEST_EFFORT(rt_cg_write(u->path, "cgroup.kill", "1", NULL));
		size_t n = collect_all(cg, &pids);
		if (n == 0)
			return 0;
		for (size_t i = 0; i < n; i++)
			kill(pids[i], SIGKILL);
		if (cg->ops->is_frozen(cg))
			cg->ops->freeze(cg, false, NULL);
		if (elapsed_ms(&start) > KILL_TIMEOUT_MS)
			return cc_error_set(err, EBUSY,
					    "cgroup: %zu processes still alive after SIGKILL "
					    "(first: %d)",
					    n, (int)pids[0]);
		sleep_ms(delay);
		delay = delay < 64 ? delay * 2 : 100;
	}
}

int rt_cg_destroy_all(struct rt_cgroup *cg, bool kill, struct cc_error **err)
{
	int ret = 0;

	if (kill && kill_all(cg, err) < 0)
		return -1;
	for (size_t i = 0; i < cg->n_hiers; i++) {
		struct rt_cgroup_hier *h = &cg->hiers[i];
		if (!below_mount(h))
			continue;
		if (rmdir_tree(h->path, err) < 0)
			ret = -1;
		else
			remove_created_parents(h);
	}
	return ret;
}

int rt_cg_enter_all(struct rt_cgroup *cg, pid_t pid, struct cc_error **err)
{
	for (size_t i = 0; i < cg->n_hiers; i++)
		if (rt_cg_writef(cg->hiers[i].path, "cgroup.procs", err, "%d", (int)pid) < 0)
			return -1;
	return 0;
}

/* ---- the interface ---- */

int rt_cgroup_create(struct rt_cgroup *cg, const struct rt_resources *res, struct cc_error **err)
{
	for (size_t i = 0; i < cg->n_hiers; i++)
		if (make_dirs(&cg->hiers[i], err) < 0)
			goto fail;
	if (cg->ops->create(cg, err) < 0 || cg->ops->update(cg, res, true, err) < 0)
		goto fail;
	return 0;
fail:
	remove_created(cg);
	return -1;
}

int rt_cgroup_enter(struct rt_cgroup *cg, pid_t pid, struct cc_error **err)
{
	return cg->ops->enter(cg, pid, err);
}

int rt_cgroup_update(struct rt_cgroup *cg, const struct rt_resources *res, struct cc_error **err)
{
	return cg->ops->update(cg, res, false, err);
}

int rt_cgroup_destroy(struct rt_cgroup *cg, bool kill, struct cc_error **err)
{
	return cg->ops->destroy(cg, kill, err);
}

int rt_cgroup_freeze(struct rt_cgroup *cg, bool freeze, struct cc_error **err)
{
	return cg->ops->freeze(cg, freeze, err);
}

bool rt_cgroup_is_frozen(struct rt_cgroup *cg)
{
	return cg && cg->ops->is_frozen(cg);
}

int rt_cgroup_pids(struct rt_cgroup *cg, pid_t **pids, size_t *n, struct cc_error **err)
{
	*pids = NULL;
	*n = 0;
	if (cg->ops->pids(cg, pids, n, err) < 0) {
		free(*pids);
		*pids = NULL;
		*n = 0;
		return -1;
	}
	return 0;
}

json_t *rt_cgroup_stats(struct rt_cgroup *cg, struct cc_error **err)
{
	return cg->ops->stats(cg, err);
}

uint64_t rt_cgroup_oom_count(struct rt_cgroup *cg)
{
	return cg ? cg->ops->oom_count(cg) : 0;
}

/* ---- state record ---- */

json_t *rt_cgroup_to_json(const struct rt_cgroup *cg)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < cg->n_hiers; i++) {
		const struct rt_cgroup_hier *h = &cg->hiers[i];
		json_t *ctrls = json_array();
		for (size_t j = 0; h->controllers && h->controllers[j]; j++)
			json_array_append_new(ctrls, json_string(h->controllers[j]));
		json_array_append_new(arr,
				      json_pack("{s:b,s:o,s:s,s:s,s:s,s:s*}", "unified", h->unified,
						"controllers", ctrls, "mount", h->mount, "root",
						h->root, "path", h->path, "created", h->created));
	}
	return json_pack("{s:s,s:o}", "mode", mode_name(cg->mode), "hierarchies", arr);
}

static bool valid_controller(const char *s)
{
	if (!*s || strlen(s) > 64)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || strchr("_=.-", *s)))
			return false;
	return true;
}

/* `p` is clean, absolute and equal to or below `base`. */
static bool clean_below(const char *p, const char *base, bool strict)
{
	_cleanup_free_ char *c = cc_path_clean(p);
	size_t len = strcmp(base, "/") == 0 ? 0 : strlen(base);

	if (p[0] != '/' || strcmp(c, p) != 0 || strncmp(p, base, len) != 0)
		return false;
	return (p[len] == '/' && (p[len + 1] || !strict)) || (!strict && !p[len]);
}

static int hier_from_json(json_t *j, struct rt_cgroup_hier *h, struct cc_error **err)
{
	int unified = 0;
	json_t *ctrls = NULL;
	const char *mount, *root, *path, *created = NULL;

	if (json_unpack(j, "{s:b,s:o,s:s,s:s,s:s,s?s}", "unified", &unified, "controllers", &ctrls,
			"mount", &mount, "root", &root, "path", &path, "created", &created) < 0 ||
	    !json_is_array(ctrls))
		return cc_error_set(err, EINVAL, "malformed hierarchy");
	if (!clean_below(mount, "/", false) || !clean_below(path, mount, true) ||
	    !clean_below(root, "/", false) || !rt_cg_safe_value(path) ||
	    (created && (!clean_below(created, mount, true) || !clean_below(path, created, false))))
		return cc_error_set(err, EINVAL, "bad path in hierarchy %s", mount);
	h->unified = unified;
	h->mount = xstrdup(mount);
	h->root = xstrdup(root);
	h->path = xstrdup(path);
	h->created = created ? xstrdup(created) : NULL;
	size_t i;
	json_t *c;
	json_array_foreach (ctrls, i, c) {
		if (!json_is_string(c) || !valid_controller(json_string_value(c)))
			return cc_error_set(err, EINVAL, "bad controller name in %s", mount);
		cc_strv_push(&h->controllers, json_string_value(c));
	}
	if (!unified && !h->controllers)
		return cc_error_set(err, EINVAL, "hierarchy %s has no controllers", mount);
	return 0;
}

/* The record comes from rune's own state directory, but a path from it decides what gets
 * killed and removed: it is checked as strictly as a config would be. */
struct rt_cgroup *rt_cgroup_from_json(const json_t *j, struct cc_error **err)
{
	const char *mode;
	json_t *arr;
	enum rt_cgroup_mode m;

	if (json_unpack((json_t *)j, "{s:s,s:o}", "mode", &mode, "hierarchies", &arr) < 0 ||
	    !json_is_array(arr) || json_array_size(arr) == 0) {
		cc_error_set(err, EINVAL, "cgroup state: malformed record");
		return NULL;
	}
	if (strcmp(mode, "v1") == 0)
		m = RT_CGROUP_V1;
	else if (strcmp(mode, "v2") == 0)
		m = RT_CGROUP_V2;
	else if (strcmp(mode, "hybrid") == 0)
		m = RT_CGROUP_HYBRID;
	else {
		cc_error_set(err, EINVAL, "cgroup state: unknown mode \"%.20s\"", mode);
		return NULL;
	}
	struct rt_cgroup *cg = cgroup_alloc(m);
	cg->hiers = xcalloc(json_array_size(arr), sizeof(*cg->hiers));
	for (size_t i = 0; i < json_array_size(arr); i++) {
		cg->n_hiers++;
		if (hier_from_json(json_array_get(arr, i), &cg->hiers[i], err) < 0) {
			cc_error_prefix(err, "cgroup state");
			rt_cgroup_free(cg);
			return NULL;
		}
	}
	/* The v2 code relies on the unified hierarchy being there. */
	if (m == RT_CGROUP_V2 && !rt_cg_unified(cg)) {
		cc_error_set(err, EINVAL, "cgroup state: v2 without a cgroup2 hierarchy");
		rt_cgroup_free(cg);
		return NULL;
	}
	return cg;
}

/* ---- the container's view (rt_cgroup_mount) ---- */

static unsigned mount_attrs(unsigned long flags)
{
	unsigned a = 0;
	if (flags & MS_RDONLY)
		a |= MOUNT_ATTR_RDONLY;
	if (flags & MS_NOSUID)
		a |= MOUNT_ATTR_NOSUID;
	if (flags & MS_NODEV)
		a |= MOUNT_ATTR_NODEV;
	if (flags & MS_NOEXEC)
		a |= MOUNT_ATTR_NOEXEC;
	if (flags & MS_NOATIME)
		a |= MOUNT_ATTR_NOATIME;
	else if (flags & MS_STRICTATIME)
		a |= MOUNT_ATTR_STRICTATIME;
	if (flags & MS_NODIRATIME)
		a |= MOUNT_ATTR_NODIRATIME;
	return a;
}

/* A new superblock of `fstype` with options ("key" flags or "key=value"), as a detached
 * mount fd. */
static int fresh_mount(const char *fstype, const char *const *opts, unsigned attrs,
		       const char *what, struct cc_error **err)
{
	_cleanup_close_ int fs = fsopen(fstype, FSOPEN_CLOEXEC);

	if (fs < 0)
		return cc_error_errno(err, "cgroup mount %s: fsopen %s", what, fstype);
	for (size_t i = 0; opts && opts[i]; i++) {
		_cleanup_free_ char *key = xstrdup(opts[i]);
		char *eq = strchr(key, '=');
		int r;
		if (eq) {
			*eq = '\0';
			r = fsconfig(fs, FSCONFIG_SET_STRING, key, eq + 1, 0);
		} else {
			r = fsconfig(fs, FSCONFIG_SET_FLAG, key, NULL, 0);
		}
		if (r < 0)
			return cc_error_errno(err, "cgroup mount %s: %s option %s", what, fstype,
					      opts[i]);
	}
	if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return cc_error_errno(err, "cgroup mount %s: create %s", what, fstype);
	int mnt = fsmount(fs, FSMOUNT_CLOEXEC, attrs);
	if (mnt < 0)
		return cc_error_errno(err, "cgroup mount %s: fsmount %s", what, fstype);
	return mnt;
}

/* A detached bind mount of a host directory with `attrs` applied. */
static int bind_mount(const char *src, unsigned attrs, const char *what, struct cc_error **err)
{
	_cleanup_close_ int mnt = open_tree(AT_FDCWD, src, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	struct mount_attr ma = { .attr_set = attrs };

	if (mnt < 0)
		return cc_error_errno(err, "cgroup mount %s: bind %s", what, src);
	if (attrs && mount_setattr(mnt, "", AT_EMPTY_PATH, &ma, sizeof(ma)) < 0)
		return cc_error_errno(err, "cgroup mount %s: set flags on bind of %s", what, src);
	return steal_fd(&mnt);
}

static int attach(int mnt, int dirfd, const char *name, const char *what, struct cc_error **err)
{
	_cleanup_close_ int target =
	    openat(dirfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (target < 0 ||
	    move_mount(mnt, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		return cc_error_errno(err, "cgroup mount %s: attach %s", what, name);
	return 0;
}

/* A new mount of the hierarchy `h` (its root is the cgroup namespace's root). */
static int fresh_cgroup(const struct rt_cgroup_hier *h, unsigned attrs, const char *what,
			struct cc_error **err)
{
	_cleanup_strv_ char **opts = NULL;

	cc_strv_push(&opts, "source=cgroup");
	for (size_t i = 0; h->controllers && h->controllers[i]; i++)
		cc_strv_push(&opts, h->controllers[i]);
	return fresh_mount(h->unified ? "cgroup2" : "cgroup", (const char *const *)opts, attrs,
			   what, err);
}

/* One hierarchy below the tmpfs: a fresh cgroup mount of the same controllers when the
 * container has a cgroup namespace (its root is then the container's cgroup), else a bind of
 * the container's directory. */
static int mount_hier(const struct rt_cgroup_hier *h, int tmpfs, unsigned attrs, bool cgroupns,
		      const char *dest, struct cc_error **err)
{
	const char *name = h->unified ? "unified" : strrchr(h->mount, '/') + 1;
	int mnt;

	if (mkdirat(tmpfs, name, 0755) < 0)
		return cc_error_errno(err, "cgroup mount %s: mkdir %s", dest, name);
	if (!cgroupns)
		mnt = bind_mount(h->path, attrs, dest, err);
	else
		mnt = fresh_cgroup(h, attrs, dest, err);
	if (mnt < 0)
		return -1;
	int ret = attach(mnt, tmpfs, name, dest, err);
	close(mnt);
	/* "cpu,cpuacct" is also reachable as "cpu" and "cpuacct", as on the host. */
	for (size_t i = 0; ret == 0 && !h->unified && h->controllers[1] && h->controllers[i]; i++) {
		const char *c = h->controllers[i];
		if (strncmp(c, "name=", 5) == 0 || strcmp(c, name) == 0)
			continue;
		if (symlinkat(name, tmpfs, c) < 0 && errno != EEXIST)
			ret = cc_error_errno(err, "cgroup mount %s: symlink %s", dest, c);
	}
	return ret;
}

static int mount_v1(const struct rt_cgroup *cg, int target, unsigned attrs, bool cgroupns,
		    const char *dest, struct cc_error **err)
{
	static const char *const tmpfs_opts[] = { "source=tmpfs", "mode=755", NULL };
	/* The tmpfs is filled first and made read-only last. */
	_cleanup_close_ int tmpfs =
	    fresh_mount("tmpfs", tmpfs_opts, attrs & ~MOUNT_ATTR_RDONLY, dest, err);

	if (tmpfs < 0)
		return -1;
	if (move_mount(tmpfs, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) <
	    0)
		return cc_error_errno(err, "cgroup mount %s: attach tmpfs", dest);
	/* The fd still names the mount, now attached: populate it through the fd. */
	for (size_t i = 0; i < cg->n_hiers; i++)
		if (mount_hier(&cg->hiers[i], tmpfs, attrs, cgroupns, dest, err) < 0)
			return -1;
	struct mount_attr ma = { .attr_set = MOUNT_ATTR_RDONLY };
	if ((attrs & MOUNT_ATTR_RDONLY) &&
	    mount_setattr(tmpfs, "", AT_EMPTY_PATH, &ma, sizeof(ma)) < 0)
		return cc_error_errno(err, "cgroup mount %s: make tmpfs read-only", dest);
	return 0;
}

int rt_cgroup_mount(const struct rt_cgroup *cg, int rootfd, const char *dest, unsigned long flags,
		    bool cgroupns, struct cc_error **err)
{
	unsigned attrs = mount_attrs(flags);
	_cleanup_close_ int target = cc_mkdir_p_in_root(rootfd, dest, 0755, err);

	if (target < 0)
		return cc_error_prefix(err, "cgroup mount");
	if (cg->mode != RT_CGROUP_V2)
		return mount_v1(cg, target, attrs, cgroupns, dest, err);

	const struct rt_cgroup_hier *u = rt_cg_unified(cg);
	int mnt =
	    cgroupns ? fresh_cgroup(u, attrs, dest, err) : bind_mount(u->path, attrs, dest, err);
	if (mnt < 0)
		return -1;
	int ret = 0;
	if (move_mount(mnt, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		ret = cc_error_errno(err, "cgroup mount %s: attach cgroup2", dest);
	close(mnt);
	return ret;
}
