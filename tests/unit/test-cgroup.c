// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for the cgroup module, on this machine's real hierarchies (run as root).
 *
 * Every cgroup a test makes lives below /<BASE> (BASE = "rune-test-cg-<pid>") in every
 * hierarchy; the teardown kills whatever is in there and removes it with its own code (not the
 * code under test), and every child a test forks is killed and reaped, pass or fail.
 * cgroup v2 code runs for real too: on this hybrid host the unified hierarchy at
 * /sys/fs/cgroup/unified is a cgroup2 hierarchy with no controllers but with cgroup.freeze,
 * cgroup.kill, cpu.stat and eBPF device programs. test-cgroup-v2.c runs the v2 code against a
 * fake cgroup2 tree with every controller, on any host.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <cmocka.h>
#include "runtime/cgroup-internal.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/strv.h"

static char base[64];		   /* "rune-test-cg-<pid>" */
static char *unified_root;	   /* the cgroup2 mount, or NULL */
static char *unified_subtree;	   /* its cgroup.subtree_control before the tests */
static struct rt_cgroup_host host; /* the real host */
static pid_t children[32];
static size_t n_children;

/* ---- helpers ---- */

static char *cgpath(const char *name)
{
	return xasprintf("/%s/%s", base, name);
}

static char *read_trim(const char *dir, const char *file)
{
	struct cc_error *err = NULL;
	char *s = rt_cg_read(dir, file, &err);
	if (!s)
		fail_msg("%s", err->msg);
	return s;
}

static void assert_file(const char *dir, const char *file, const char *want)
{
	_cleanup_free_ char *got = read_trim(dir, file);
	if (strcmp(got, want) != 0)
		fail_msg("%s/%s: got \"%s\", want \"%s\"", dir, file, got, want);
}

static int cmp_line(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* devices.list lines sorted, so lists with the same rules compare equal whatever the order. */
static char *sorted_lines(const char *text)
{
	char *copy = xstrdup(text), *save = NULL, **v = NULL;
	size_t n = 0;
	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		v = xreallocarray(v, n + 1, sizeof(*v));
		v[n++] = l;
	}
	qsort(v, n, sizeof(*v), cmp_line);
	char *out = xzalloc(strlen(text) + 2);
	for (size_t i = 0; i < n; i++) {
		strcat(out, v[i]);
		strcat(out, "\n");
	}
	free(v);
	free(copy);
	return out;
}

/* The same device rules as want (the order is checked separately where it matters). */
static void assert_devices(const char *dir, const char *want)
{
	_cleanup_free_ char *got = read_trim(dir, "devices.list");
	_cleanup_free_ char *a = sorted_lines(got), *b = sorted_lines(want);
	if (strcmp(a, b) != 0)
		fail_msg("%s/devices.list: got \"%s\", want (in any order) \"%s\"", dir, got, want);
}

static void assert_ok(int ret, struct cc_error **err)
{
	if (ret < 0)
		fail_msg("unexpected error: %s", *err ? (*err)->msg : "(none)");
}

static void must_write(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, s, strlen(s)) < 0)
		fail_msg("write %s: %s", path, strerror(errno));
	close(fd);
}

static struct rt_cgroup *new_cg(const char *name)
{
	struct cc_error *err = NULL;
	_cleanup_free_ char *p = cgpath(name);
	struct rt_cgroup *cg = rt_cgroup_new_on(&host, p, "unused", &err);
	if (!cg)
		fail_msg("rt_cgroup_new_on: %s", err->msg);
	return cg;
}

/* A child that counts in shared memory (to see it freeze) until killed. */
static pid_t spawn(volatile uint64_t **counter)
{
	volatile uint64_t *c =
	    mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(c != MAP_FAILED);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		for (;;) {
			(*c)++;
			usleep(500);
		}
	}
	children[n_children++] = pid;
	if (counter)
		*counter = c;
	return pid;
}

static void reap_children(void)
{
	for (size_t i = 0; i < n_children; i++) {
		kill(children[i], SIGKILL);
		waitpid(children[i], NULL, 0);
	}
	n_children = 0;
}

/* Independent cleanup: thaw, kill, rmdir depth-first, below every hierarchy's /<base>. */
static void scrub(const char *dir)
{
	_cleanup_free_ char *freezer = cc_path_join(dir, "freezer.state");
	if (access(freezer, F_OK) == 0)
		must_write(freezer, "THAWED");
	_cleanup_free_ char *kill_file = cc_path_join(dir, "cgroup.kill");
	if (access(kill_file, F_OK) == 0)
		must_write(kill_file, "1");
	DIR *d = opendir(dir);
	if (!d)
		return;
	for (struct dirent *de; (de = readdir(d));) {
		if (de->d_type == DT_DIR && de->d_name[0] != '.') {
			_cleanup_free_ char *sub = cc_path_join(dir, de->d_name);
			scrub(sub);
		}
	}
	closedir(d);
	for (int i = 0; i < 200; i++) {
		_cleanup_free_ char *pf = cc_path_join(dir, "cgroup.procs");
		_cleanup_free_ char *text = cc_read_file(pf, 0, NULL, NULL);
		for (char *p = text; p && *p;) {
			char *end;
			long pid = strtol(p, &end, 10);
			if (end == p)
				break;
			kill((pid_t)pid, SIGKILL);
			p = *end ? end + 1 : end;
		}
		if (rmdir(dir) == 0 || errno == ENOENT)
			return;
		usleep(10000);
	}
	fprintf(stderr, "test-cgroup: could not remove %s: %s\n", dir, strerror(errno));
}

/* The v2 code enables controllers in the hierarchy root (as runc does on a v2 host); on
 * this shared hybrid host the root's cgroup.subtree_control is put back as it was. */
static void restore_subtree(void)
{
	if (!unified_root)
		return;
	_cleanup_free_ char *now = rt_cg_read(unified_root, "cgroup.subtree_control", NULL);
	_cleanup_strv_ char **ctrls = now && *now ? cc_strv_split(now, ' ') : NULL;
	_cleanup_strv_ char **before = cc_strv_split(unified_subtree, ' ');
	for (size_t i = 0; ctrls && ctrls[i]; i++) {
		struct cc_error *err = NULL;
		if (cc_strv_contains(before, ctrls[i]))
			continue;
		if (rt_cg_writef(unified_root, "cgroup.subtree_control", &err, "-%s", ctrls[i]) < 0)
			fprintf(stderr, "test-cgroup: %s\n", err->msg);
		cc_error_free(&err);
	}
}

static void scrub_all(void)
{
	reap_children();
	for (size_t i = 0; i < host.n_hiers; i++) {
		_cleanup_free_ char *d = xasprintf("%s/%s", host.hiers[i].mount, base);
		scrub(d);
	}
	restore_subtree();
}

static bool hybrid(void)
{
	return host.mode == RT_CGROUP_HYBRID;
}

#define NEED_HYBRID()                                                             \
	do {                                                                      \
		if (!hybrid()) {                                                  \
			print_message("# skipped: needs a hybrid cgroup host\n"); \
			skip();                                                   \
		}                                                                 \
	} while (0)

static int group_setup(void **state)
{
	struct cc_error *err = NULL;
	if (geteuid() != 0) {
		fprintf(stderr, "test-cgroup: needs root\n");
		return -1;
	}
	snprintf(base, sizeof(base), "rune-test-cg-%d", (int)getpid());
	if (rt_cgroup_host_load(&host, &err) < 0) {
		fprintf(stderr, "test-cgroup: %s\n", err->msg);
		return -1;
	}
	for (size_t i = 0; i < host.n_hiers; i++) {
		if (!host.hiers[i].unified)
			continue;
		unified_root = xstrdup(host.hiers[i].mount);
		unified_subtree = rt_cg_read(unified_root, "cgroup.subtree_control", &err);
		if (!unified_subtree) {
			fprintf(stderr, "test-cgroup: %s\n", err->msg);
			return -1;
		}
	}
	return 0;
}

static int group_teardown(void **state)
{
	scrub_all();
	rt_cgroup_host_clear(&host);
	free(unified_root);
	free(unified_subtree);
	return 0;
}

static int test_teardown(void **state)
{
	scrub_all();
	return 0;
}

/* A real block device (major:minor) for throttle settings: vda here, else the first disk. */
static bool some_blockdev(unsigned *ma, unsigned *mi)
{
	_cleanup_closedir_ DIR *d = opendir("/sys/block");
	for (struct dirent *de; d && (de = readdir(d));) {
		if (de->d_name[0] == '.' || strncmp(de->d_name, "loop", 4) == 0)
			continue;
		_cleanup_free_ char *f = xasprintf("/sys/block/%s/dev", de->d_name);
		_cleanup_free_ char *s = cc_read_file(f, 0, NULL, NULL);
		if (s && sscanf(s, "%u:%u", ma, mi) == 2 && strcmp(de->d_name, "vda") == 0)
			return true;
	}
	return *ma != 0;
}

/* ---- host discovery and paths (no cgroup touched) ---- */

static const char fake_mountinfo[] =
    "30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "31 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct\n"
    "32 30 0:29 / /sys/fs/cgroup/memory rw,relatime shared:9 - cgroup cgroup rw,memory\n"
    "33 30 0:30 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd\n"
    "34 30 0:31 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw,nsdelegate\n"
    "35 22 0:29 / /mnt/other\\040mem rw - cgroup cgroup rw,memory\n"
    "36 22 0:32 /sub /mnt/pids rw - cgroup cgroup rw,pids\n";
static const char fake_self[] = "5:pids:/sub/x\n4:name=systemd:/user.slice\n"
				"3:memory:/a/b\n2:cpuacct,cpu:/\n0::/u\n";
static const char fake_proc_cgroups[] = "#subsys_name\thierarchy\tnum_cgroups\tenabled\n"
					"cpu\t2\t1\t1\ncpuacct\t2\t1\t1\nmemory\t3\t1\t1\n"
					"pids\t5\t1\t1\nnet_cls\t0\t1\t1\n";

static void parse_fake(struct rt_cgroup_host *h, enum rt_cgroup_mode mode)
{
	struct cc_error *err = NULL;
	assert_ok(rt_cgroup_host_parse(mode, fake_mountinfo, fake_self, fake_proc_cgroups, h, &err),
		  &err);
}

static void test_parse_comounted(void **state)
{
	struct rt_cgroup_host h;
	struct cc_error *err = NULL;

	parse_fake(&h, RT_CGROUP_HYBRID);
	/* cpu,cpuacct once; memory once (the /sys/fs/cgroup mount wins over /mnt); pids from
	 * a mount of a subtree; systemd; unified. */
	assert_int_equal(h.n_hiers, 5);
	assert_string_equal(h.hiers[0].mount, "/sys/fs/cgroup/cpu,cpuacct");
	assert_int_equal(cc_strv_len(h.hiers[0].controllers), 2);
	assert_string_equal(h.hiers[1].own, "/a/b");
	assert_string_equal(h.hiers[2].controllers[0], "name=systemd");
	assert_string_equal(h.hiers[2].own, "/user.slice");
	assert_true(h.hiers[3].unified);
	assert_string_equal(h.hiers[3].own, "/u");
	assert_string_equal(h.hiers[4].mount, "/mnt/pids");
	assert_string_equal(h.hiers[4].root, "/sub");

	struct rt_cgroup *cg = rt_cgroup_new_on(&h, "/sub/c1", "id", &err);
	assert_ok(cg ? 0 : -1, &err);
	assert_string_equal(rt_cgroup_path(cg, "cpu"), "/sys/fs/cgroup/cpu,cpuacct/sub/c1");
	assert_string_equal(rt_cgroup_path(cg, "cpuacct"), "/sys/fs/cgroup/cpu,cpuacct/sub/c1");
	assert_string_equal(rt_cgroup_path(cg, "systemd"), "/sys/fs/cgroup/systemd/sub/c1");
	assert_string_equal(rt_cgroup_path(cg, ""), "/sys/fs/cgroup/unified/sub/c1");
	assert_string_equal(rt_cgroup_path(cg, "pids"), "/mnt/pids/c1");
	assert_null(rt_cgroup_path(cg, "hugetlb"));
	rt_cgroup_free(cg);

	/* Absolute paths outside a mounted subtree cannot be reached. */
	assert_null(rt_cgroup_new_on(&h, "/elsewhere", "id", &err));
	assert_non_null(strstr(err->msg, "outside"));
	cc_error_free(&err);

	/* NULL: below rune's own cgroup, named after the id; relative: below own cgroup and
	 * ".." cannot climb out of it. */
	struct rt_cgroup_host h2;
	struct cc_error *e2 = NULL;
	static const char mi2[] =
	    "31 30 0:28 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n";
	assert_ok(rt_cgroup_host_parse(RT_CGROUP_V1, mi2, fake_self, fake_proc_cgroups, &h2, &e2),
		  &e2);
	cg = rt_cgroup_new_on(&h2, NULL, "ctr1", &e2);
	assert_string_equal(rt_cgroup_path(cg, "memory"), "/sys/fs/cgroup/memory/a/b/ctr1");
	rt_cgroup_free(cg);
	cg = rt_cgroup_new_on(&h2, "../../../x/./y", "ctr1", &e2);
	assert_string_equal(rt_cgroup_path(cg, "memory"), "/sys/fs/cgroup/memory/a/b/x/y");
	rt_cgroup_free(cg);
	cg = rt_cgroup_new_on(&h2, "/../../etc/z", "ctr1", &e2);
	assert_string_equal(rt_cgroup_path(cg, "memory"), "/sys/fs/cgroup/memory/etc/z");
	rt_cgroup_free(cg);
	rt_cgroup_host_clear(&h2);
	rt_cgroup_host_clear(&h);
}

static void test_parse_v2(void **state)
{
	struct rt_cgroup_host h;
	struct cc_error *err = NULL;
	static const char mi[] = "30 22 0:27 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";

	assert_ok(rt_cgroup_host_parse(RT_CGROUP_V2, mi, "0::/user.slice/s\n", "", &h, &err), &err);
	assert_int_equal(h.n_hiers, 1);
	struct rt_cgroup *cg = rt_cgroup_new_on(&h, "k8s/pod", "id", &err);
	assert_string_equal(rt_cgroup_path(cg, ""), "/sys/fs/cgroup/user.slice/s/k8s/pod");
	/* On v2 every controller is in the one directory. */
	assert_string_equal(rt_cgroup_path(cg, "memory"), "/sys/fs/cgroup/user.slice/s/k8s/pod");
	rt_cgroup_free(cg);
	rt_cgroup_host_clear(&h);
	/* A v2 host without a cgroup2 mount is an error, not an empty cgroup. */
	assert_int_equal(rt_cgroup_host_parse(RT_CGROUP_V2, "", "", "", &h, &err), -1);
	cc_error_free(&err);
}

static void test_bad_paths(void **state)
{
	struct cc_error *err = NULL;
	static const char *const bad[] = { "/", "/a/..", ".", "a/../..", "/x\ny" };

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct rt_cgroup *cg = rt_cgroup_new_on(&host, bad[i], "id", &err);
		if (cg)
			fail_msg("cgroupsPath \"%s\" accepted", bad[i]);
		assert_non_null(err);
		cc_error_free(&err);
	}
	assert_null(rt_cgroup_new_on(&host, NULL, "../x", &err));
	cc_error_free(&err);
	assert_null(rt_cgroup_new("a:b:c", "id", true, &err));
	assert_non_null(strstr(err->msg, "--systemd-cgroup: rune has no systemd cgroup driver, it "
					 "manages cgroups through cgroupfs only (systemd "));
	assert_int_equal(err->errnum, ENOTSUP);
	cc_error_free(&err);
}

/* ---- v1 / hybrid: create, enter, update, freeze, stats, destroy ---- */

static struct rt_device_rule dev_rules[] = {
	{ .allow = false, .type = 'a', .major = -1, .minor = -1, .access = "rwm" },
	{ .allow = true, .type = 'c', .major = 1, .minor = 3, .access = "rw" },
};

/* The same resources as a runc container run on this machine for comparison. */
/* Whether this host's blkio groups have the file: kernels differ (CFQ has blkio.weight and
 * blkio.leaf_weight, BFQ blkio.bfq.weight, others only blkio.throttle.*). Asked of a scratch
 * group, since the root group has its own set. */
static bool host_blkio_has(const char *file)
{
	struct cc_error *err = NULL;
	struct rt_cgroup *cg = new_cg("probe");
	assert_ok(rt_cgroup_create(cg, NULL, &err), &err);
	const char *dir = rt_cgroup_path(cg, "blkio");
	bool has = dir && rt_cg_has(dir, file);
	assert_ok(rt_cgroup_destroy(cg, true, &err), &err);
	rt_cgroup_free(cg);
	return has;
}

/* The weight file runc's blockIO.weight lands in on this host, or NULL (then a weight is an
 * error naming blkio.weight, and the tests check that instead). */
static const char *host_weight_file(void)
{
	static const char *file;
	static bool known;
	if (!known) {
		file = host_blkio_has("blkio.weight")	    ? "blkio.weight"
		       : host_blkio_has("blkio.bfq.weight") ? "blkio.bfq.weight"
							    : NULL;
		known = true;
		if (!file)
			print_message("# note: this host has neither blkio.weight nor "
				      "blkio.bfq.weight; weights are checked as refusals\n");
	}
	return file;
}

static void runc_like_resources(struct rt_resources *r, struct rt_throttle_device *t)
{
	unsigned ma = 0, mi = 0;
	memset(r, 0, sizeof(*r));
	r->present = true;
	r->devices = dev_rules;
	r->n_devices = ARRAY_SIZE(dev_rules);
	r->memory.has_limit = r->memory.has_reservation = r->memory.has_swap = true;
	r->memory.limit = 104857600;
	r->memory.reservation = 52428800;
	r->memory.swap = 209715200;
	r->memory.has_swappiness = true;
	r->memory.swappiness = 10;
	r->memory.has_disable_oom_killer = r->memory.disable_oom_killer = true;
	r->cpu.has_shares = r->cpu.has_quota = r->cpu.has_period = true;
	r->cpu.shares = 512;
	r->cpu.quota = 50000;
	r->cpu.period = 100000;
	r->cpu.cpus = (char *)"0";
	r->cpu.mems = (char *)"0";
	r->pids.has_limit = true;
	r->pids.limit = 100;
	assert_true(some_blockdev(&ma, &mi));
	t->major = ma;
	t->minor = mi;
	t->rate = 1048576;
	r->block_io.throttle_read_bps = t;
	r->block_io.n_throttle_read_bps = 1;
	r->block_io.has_weight = host_weight_file() != NULL;
	r->block_io.weight = 300;
}

/* Where the host has a weight file, runc's weight is in it; where it has none, asking for a
 * weight fails at create, naming the file, and leaves nothing. */
static void check_weight(struct rt_cgroup *cg)
{
	struct cc_error *err = NULL;
	const char *file = host_weight_file();
	if (file) {
		assert_file(rt_cgroup_path(cg, "blkio"), file, "300");
		return;
	}
	struct rt_resources w = { 0 };
	w.block_io.has_weight = true;
	w.block_io.weight = 300;
	struct rt_cgroup *other = new_cg("weight");
	assert_int_equal(rt_cgroup_create(other, &w, &err), -1);
	assert_non_null(strstr(err->msg, "/blkio.weight \"300\": No such file or directory"));
	cc_error_free(&err);
	rt_cgroup_free(other);
}

/* The rules runc 1.1.5 leaves in devices.list for the config above (checked on this host);
 * runc sorts them, rune keeps the config's order (the spec's "in the listed order"). */
static const char runc_devices_list[] = "b *:* m\nc *:* m\nc 1:3 rwm\nc 1:5 rwm\nc 1:7 rwm\n"
					"c 1:8 rwm\nc 1:9 rwm\nc 5:0 rwm\nc 5:2 rwm\nc 10:200 rwm\n"
					"c 136:* rwm";

static void test_create_resources(void **state)
{
	NEED_HYBRID();
	struct rt_resources r;
	struct rt_throttle_device t;
	struct cc_error *err = NULL;
	struct rt_cgroup *cg = new_cg("create");

	runc_like_resources(&r, &t);
	assert_ok(rt_cgroup_create(cg, &r, &err), &err);
	const char *mem = rt_cgroup_path(cg, "memory"), *cpu = rt_cgroup_path(cg, "cpu");
	assert_file(mem, "memory.limit_in_bytes", "104857600");
	assert_file(mem, "memory.soft_limit_in_bytes", "52428800");
	assert_file(mem, "memory.memsw.limit_in_bytes", "209715200");
	assert_file(mem, "memory.swappiness", "10");
	_cleanup_free_ char *oom = read_trim(mem, "memory.oom_control");
	assert_non_null(strstr(oom, "oom_kill_disable 1"));
	assert_file(cpu, "cpu.shares", "512");
	assert_file(cpu, "cpu.cfs_quota_us", "50000");
	assert_file(cpu, "cpu.cfs_period_us", "100000");
	assert_file(rt_cgroup_path(cg, "cpuset"), "cpuset.cpus", "0");
	assert_file(rt_cgroup_path(cg, "cpuset"), "cpuset.mems", "0");
	assert_file(rt_cgroup_path(cg, "pids"), "pids.max", "100");
	_cleanup_free_ char *thr =
	    xasprintf("%lld:%lld 1048576", (long long)t.major, (long long)t.minor);
	assert_file(rt_cgroup_path(cg, "blkio"), "blkio.throttle.read_bps_device", thr);
	assert_devices(rt_cgroup_path(cg, "devices"), runc_devices_list);
	/* The config's own rules come first, in order, then the defaults. */
	_cleanup_free_ char *list = read_trim(rt_cgroup_path(cg, "devices"), "devices.list");
	assert_true(strncmp(list, "c 1:3 rwm\n", 10) == 0);
	/* blkio.weight, or BFQ's blkio.bfq.weight where only that exists, as in runc. */
	check_weight(cg);
	/* Hybrid: also placed in the unified hierarchy, like runc. */
	assert_true(cc_path_exists(rt_cgroup_path(cg, "")));
	assert_true(cc_path_exists(rt_cgroup_path(cg, "systemd")));
	assert_ok(rt_cgroup_destroy(cg, true, &err), &err);
	for (size_t i = 0; i < host.n_hiers; i++) {
		_cleanup_free_ char *d = xasprintf("%s/%s", host.hiers[i].mount, base);
		if (cc_path_exists(d))
			fail_msg("%s left behind", d);
	}
	rt_cgroup_free(cg);
}

static void test_enter_pids(void **state)
{
	NEED_HYBRID();
	struct cc_error *err = NULL;
	struct rt_cgroup *cg = new_cg("enter");
	pid_t *pids = NULL;
	size_t n = 0;

	assert_ok(rt_cgroup_create(cg, NULL, &err), &err);
	pid_t pid = spawn(NULL);
	assert_ok(rt_cgroup_enter(cg, pid, &err), &err);
	_cleanup_free_ char *path = xasprintf("/proc/%d/cgroup", (int)pid);
	_cleanup_free_ char *text = cc_read_file(path, 0, NULL, &err);
	_cleanup_free_ char *mem = xasprintf(":memory:/%s/enter\n", base);
	_cleanup_free_ char *uni = xasprintf("0::/%s/enter\n", base);
	_cleanup_free_ char *sysd = xasprintf(":name=systemd:/%s/enter\n", base);
	assert_non_null(strstr(text, mem));
	assert_non_null(strstr(text, uni));
	assert_non_null(strstr(text, sysd));
	assert_ok(rt_cgroup_pids(cg, &pids, &n, &err), &err);
	assert_int_equal(n, 1);
	assert_int_equal(pids[0], pid);
	free(pids);
	/* Without rules in the config, the defaults still apply (deny all else). */
	assert_devices(rt_cgroup_path(cg, "devices"), runc_devices_list);
	rt_cgroup_free(cg);
}

static void test_update(void **state)
{
	NEED_HYBRID();
	struct rt_resources r, u;
	struct rt_throttle_device t;
	struct cc_error *err = NULL;
	struct rt_cgroup *cg = new_cg("update");

	runc_like_resources(&r, &t);
	assert_ok(rt_cgroup_create(cg, &r, &err), &err);
	spawn(NULL);
	assert_ok(rt_cgroup_enter(cg, children[n_children - 1], &err), &err);
	const char *mem = rt_cgroup_path(cg, "memory");
	/* Raising both: memsw must go first; lowering both: the limit must go first. */
	memset(&u, 0, sizeof(u));
	u.memory.has_limit = u.memory.has_swap = true;
	u.memory.limit = 300 << 20;
	u.memory.swap = 400 << 20;
	u.pids.has_limit = true;
	u.pids.limit = -1;
	u.cpu.has_quota = true;
	u.cpu.quota = -1;
	assert_ok(rt_cgroup_update(cg, &u, &err), &err);
	assert_file(mem, "memory.limit_in_bytes", "314572800");
	assert_file(mem, "memory.memsw.limit_in_bytes", "419430400");
	assert_file(rt_cgroup_path(cg, "pids"), "pids.max", "max");
	assert_file(rt_cgroup_path(cg, "cpu"), "cpu.cfs_quota_us", "-1");
	u.memory.limit = 50 << 20;
	u.memory.swap = 60 << 20;
	assert_ok(rt_cgroup_update(cg, &u, &err), &err);
	assert_file(mem, "memory.limit_in_bytes", "52428800");
	assert_file(mem, "memory.memsw.limit_in_bytes", "62914560");
	/* Untouched by an update without them. */
	assert_file(rt_cgroup_path(cg, "cpu"), "cpu.shares", "512");
	assert_devices(rt_cgroup_path(cg, "devices"), runc_devices_list);
	/* New device rules on a running container: incremental, still exact. */
	static struct rt_device_rule more[] = {
		{ .allow = false, .type = 'a', .major = -1, .minor = -1, .access = "rwm" },
		{ .allow = true, .type = 'b', .major = 7, .minor = 0, .access = "r" },
		{ .allow = false, .type = 'c', .major = 1, .minor = 9, .access = "w" },
	};
	memset(&u, 0, sizeof(u));
	u.devices = more;
	u.n_devices = ARRAY_SIZE(more);
	assert_ok(rt_cgroup_update(cg, &u, &err), &err);
	/* The defaults come after the config's rules, so 1:9 is rwm again, as in runc. */
	assert_devices(rt_cgroup_path(cg, "devices"),
		       "b *:* m\nc *:* m\nc 1:3 rwm\nc 1:5 rwm\nc 1:7 rwm\nc 1:8 rwm\nc 1:9 rwm\n"
		       "c 5:0 rwm\nc 5:2 rwm\nc 10:200 rwm\nc 136:* rwm\nb 7:0 r");
	/* And back: what the new rules no longer allow is taken away. */
	u.devices = dev_rules;
	u.n_devices = ARRAY_SIZE(dev_rules);
	assert_ok(rt_cgroup_update(cg, &u, &err), &err);
	assert_devices(rt_cgroup_path(cg, "devices"), runc_devices_list);
	rt_cgroup_free(cg);
}

static uint64_t settle(volatile uint64_t *c)
{
	uint64_t a = *c;
	usleep(100000);
	return *c - a;
}

static void test_freeze(void **state)
{
	NEED_HYBRID();
	struct cc_error *err = NULL;
	struct rt_cgroup *cg = new_cg("freeze");
	volatile uint64_t *counter;

	assert_ok(rt_cgroup_create(cg, NULL, &err), &err);
	pid_t pid = spawn(&counter);
	assert_ok(rt_cgroup_enter(cg, pid, &err), &err);
	assert_false(rt_cgroup_is_frozen(cg));
	assert_true(settle(counter) > 0);
	assert_ok(rt_cgroup_freeze(cg, true, &err), &err);
	assert_true(rt_cgroup_is_frozen(cg));
	assert_file(rt_cgroup_path(cg, "freezer"), "freezer.state", "FROZEN");
	assert_int_equal(settle(counter), 0);
	assert_ok(rt_cgroup_freeze(cg, false, &err), &err);
	assert_false(rt_cgroup_is_frozen(cg));
	assert_file(rt_cgroup_path(cg, "freezer"), "freezer.state", "THAWED");
	assert_true(settle(counter) > 0);
	/* Destroying a frozen cgroup still kills: frozen v1 tasks are thawed to die. */
	assert_ok(rt_cgroup_freeze(cg, true, &err), &err);
	assert_ok(rt_cgroup_destroy(cg, true, &err), &err);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	n_children = 0;
	rt_cgroup_free(cg);
}

static void assert_keys(const json_t *o, const char *const *keys)
{
	for (; *keys; keys++)
		if (!json_object_get(o, *keys))
			fail_msg("stats: key \"%s\" missing in %s", *keys, cc_json_dump(o));
}

static void test_stats(void **state)
{
	NEED_HYBRID();
	struct rt_resources r;
	struct rt_throttle_device t;
	struct cc_error *err = NULL;
	struct rt_cgroup *cg = new_cg("stats");
	static const char *const top[] = { "cpu",   "cpuset",  "memory",    "pids",
					   "blkio", "hugetlb", "intel_rdt", "network_interfaces",
					   NULL };
	static const char *const cpu_usage[] = { "total", "percpu", "kernel", "user", NULL };
	static const char *const mem[] = { "usage", "swap", "kernel", "kernelTCP", "raw", NULL };
	static const char *const entry[] = { "limit", "failcnt", NULL };

	runc_like_resources(&r, &t);
	assert_ok(rt_cgroup_create(cg, &r, &err), &err);
	pid_t pid = spawn(NULL);
	assert_ok(rt_cgroup_enter(cg, pid, &err), &err);
	usleep(50000);
	_cleanup_json_ json_t *s = rt_cgroup_stats(cg, &err);
	assert_ok(s ? 0 : -1, &err);
	assert_keys(s, top);
	json_t *cpu = json_object_get(s, "cpu");
	assert_keys(json_object_get(cpu, "usage"), cpu_usage);
	assert_non_null(json_object_get(cpu, "throttling"));
	json_t *m = json_object_get(s, "memory");
	assert_keys(m, mem);
	assert_keys(json_object_get(m, "usage"), entry);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(m, "usage"), "limit")),
			 104857600);
	assert_non_null(json_object_get(json_object_get(m, "raw"), "total_rss"));
	json_t *p = json_object_get(s, "pids");
	assert_int_equal(json_integer_value(json_object_get(p, "current")), 1);
	assert_int_equal(json_integer_value(json_object_get(p, "limit")), 100);
	json_t *cpus = json_object_get(json_object_get(s, "cpuset"), "cpus");
	assert_int_equal(json_array_size(cpus), 1);
	json_t *bytes = json_object_get(json_object_get(s, "blkio"), "ioServiceBytesRecursive");
	if (bytes)
		assert_string_equal(
		    json_string_value(json_object_get(json_array_get(bytes, 0), "op")), "Read");
	assert_int_equal(rt_cgroup_oom_count(cg), 0);
	rt_cgroup_free(cg);
}

/* No v1 hugetlb hierarchy here, but the unified one offers the controller: limits go there,
 * enabling it on the way down (and the teardown disables it again in the root). */
static void test_hybrid_hugetlb(void **state)
{
	NEED_HYBRID();
	struct cc_error *err = NULL;
	struct rt_cgroup *cg = new_cg("huge");
	struct rt_hugepage_limit l = { (char *)"2MB", 4 << 20 };
	struct rt_resources r = { .hugepage_limits = &l, .n_hugepage_limits = 1 };

	if (rt_cgroup_path(cg, "hugetlb") ||
	    !rt_cg_has("/sys/fs/cgroup/unified", "cgroup.controllers")) {
		print_message("# skipped: %s\n",
			      rt_cgroup_path(cg, "hugetlb")
				  ? "hugetlb has a v1 hierarchy here, limits go there"
				  : "no cgroup2 hierarchy at /sys/fs/cgroup/unified");
		rt_cgroup_free(cg);
		skip();
	}
	_cleanup_free_ char *avail = read_trim("/sys/fs/cgroup/unified", "cgroup.controllers");
	if (!strstr(avail, "hugetlb") ||
	    !cc_path_exists("/sys/kernel/mm/hugepages/hugepages-2048kB")) {
		rt_cgroup_free(cg);
		print_message(
		    "# skipped: no hugetlb controller or 2MB pages in the unified hierarchy\n");
		skip();
	}
	assert_ok(rt_cgroup_create(cg, &r, &err), &err);
	assert_file(rt_cgroup_path(cg, ""), "hugetlb.2MB.max", "4194304");
	_cleanup_json_ json_t *s = rt_cgroup_stats(cg, &err);
	assert_non_null(json_object_get(json_object_get(s, "hugetlb"), "2MB"));
	l.page_size = (char *)"2MB/../x";
	assert_int_equal(rt_cgroup_update(cg, &r, &err), -1);
	assert_non_null(strstr(err->msg, "invalid hugepage size"));
	cc_error_free(&err);
	rt_cgroup_free(cg);
}

/* A child that outgrows an 8 MiB limit (no swap either) is OOM-killed, and counted. */
static void test_oom_count(void **state)
{
	NEED_HYBRID();
	struct cc_error *err = NULL;
	struct rt_cgroup *cg = new_cg("oom");
	struct rt_resources r = { 0 };
	int go[2];

	r.memory.has_limit = r.memory.has_swap = true;
	r.memory.limit = r.memory.swap = 8 << 20;
	assert_ok(rt_cgroup_create(cg, &r, &err), &err);
	assert_int_equal(pipe(go), 0);
	pid_t pid = fork();
	if (pid == 0) {
		char c;
		close(go[1]);
		if (read(go[0], &c, 1) != 1)
			_exit(1);
		for (size_t i = 0; i < 64; i++) {
			char *p = malloc(1 << 20);
			if (p)
				memset(p, 1, 1 << 20);
		}
		_exit(0);
	}
	children[n_children++] = pid;
	close(go[0]);
	assert_ok(rt_cgroup_enter(cg, pid, &err), &err);
	assert_int_equal(write(go[1], "x", 1), 1);
	close(go[1]);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	n_children = 0;
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	assert_int_equal(rt_cgroup_oom_count(cg), 1);
	rt_cgroup_free(cg);
}

static void test_destroy_kill(void **state)
{
	NEED_HYBRID();
	struct cc_error *err = NULL;
	struct rt_cgroup *first = new_cg("kill/a"), *second = new_cg("kill/b");

	/* "kill" is made by the first create: it goes with the last container using it. */
	assert_ok(rt_cgroup_create(first, NULL, &err), &err);
	assert_ok(rt_cgroup_create(second, NULL, &err), &err);
	pid_t p1 = spawn(NULL), p2 = spawn(NULL);
	assert_ok(rt_cgroup_enter(first, p1, &err), &err);
	assert_ok(rt_cgroup_enter(first, p2, &err), &err);
	/* A nested cgroup made by the container itself goes too. */
	_cleanup_free_ char *nested = xasprintf("%s/inner", rt_cgroup_path(first, "memory"));
	assert_int_equal(mkdir(nested, 0755), 0);
	assert_ok(rt_cgroup_destroy(first, true, &err), &err);
	int st;
	assert_int_equal(waitpid(p1, &st, 0), p1);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(waitpid(p2, &st, 0), p2);
	n_children = 0;
	for (size_t i = 0; i < first->n_hiers; i++)
		assert_false(cc_path_exists(first->hiers[i].path));
	_cleanup_free_ char *parent = xasprintf("/sys/fs/cgroup/memory/%s/kill", base);
	assert_true(cc_path_exists(parent)); /* still holds "b" */
	_cleanup_free_ char *b = xstrdup(rt_cgroup_path(second, "memory"));
	assert_ok(rt_cgroup_destroy(second, false, &err), &err);
	assert_false(cc_path_exists(b));
	/* "kill" was made by the first container, not this one: it stays (teardown). */
	assert_true(cc_path_exists(parent));
	/* Destroying what is gone is fine. */
	assert_ok(rt_cgroup_destroy(second, true, &err), &err);
	rt_cgroup_free(first);
	rt_cgroup_free(second);
}

/* A leaf that existed before create is not removed by a failed create. */
static void test_errors_leave_nothing(void **state)
{
	NEED_HYBRID();
	struct cc_error *err = NULL;
	struct rt_resources r;
	struct rt_cgroup *cg = new_cg("bad/leaf");

	memset(&r, 0, sizeof(r));
	r.cpu.cpus = (char *)"999";
	assert_int_equal(rt_cgroup_create(cg, &r, &err), -1);
	_cleanup_free_ char *want = xasprintf("cgroup: write /sys/fs/cgroup/cpuset/%s/bad/leaf/"
					      "cpuset.cpus \"999\": ",
					      base);
	assert_memory_equal(err->msg, want, strlen(want));
	cc_error_free(&err);
	for (size_t i = 0; i < host.n_hiers; i++) {
		_cleanup_free_ char *d = xasprintf("%s/%s", host.hiers[i].mount, base);
		if (cc_path_exists(d))
			fail_msg("%s left behind after a failed create", d);
	}

	/* No blkio.leaf_weight without CFQ: the error names the file. */
	if (host_blkio_has("blkio.leaf_weight")) {
		print_message(
		    "# note: this host has blkio.leaf_weight; its refusal is not shown\n");
	} else {
		memset(&r, 0, sizeof(r));
		r.block_io.has_leaf_weight = true;
		r.block_io.leaf_weight = 500;
		assert_int_equal(rt_cgroup_create(cg, &r, &err), -1);
		assert_non_null(
		    strstr(err->msg, "/blkio.leaf_weight \"500\": No such file or directory"));
		cc_error_free(&err);
	}
	/* A component named like a control file is not a directory to enter. */
	struct rt_cgroup *ctl = new_cg("x/cgroup.procs");
	assert_int_equal(rt_cgroup_create(ctl, NULL, &err), -1);
	assert_non_null(strstr(err->msg, "Not a directory"));
	cc_error_free(&err);
	rt_cgroup_free(ctl);
	/* Controllers this host lacks. */
	memset(&r, 0, sizeof(r));
	r.network.has_class_id = true;
	r.network.class_id = 0x100001;
	assert_int_equal(rt_cgroup_create(cg, &r, &err), -1);
	assert_non_null(strstr(err->msg, "net_cls controller is not mounted"));
	cc_error_free(&err);
	/* unified keys on hybrid: only what the unified hierarchy offers. */
	struct rt_kv kv = { (char *)"memory.max", (char *)"10M" };
	memset(&r, 0, sizeof(r));
	r.unified = &kv;
	r.n_unified = 1;
	assert_int_equal(rt_cgroup_create(cg, &r, &err), -1);
	assert_non_null(strstr(err->msg, "memory controller is not available"));
	cc_error_free(&err);
	static const char *const bad_keys[] = { "../cgroup.procs", "a/b", "cgroup.procs", "x" };
	for (size_t i = 0; i < ARRAY_SIZE(bad_keys); i++) {
		kv.key = (char *)bad_keys[i];
		assert_int_equal(rt_cgroup_create(cg, &r, &err), -1);
		assert_non_null(strstr(err->msg, "invalid unified key"));
		cc_error_free(&err);
	}
	kv.key = (char *)"cgroup.max.depth";
	kv.value = (char *)"3\n+memory";
	assert_int_equal(rt_cgroup_create(cg, &r, &err), -1);
	assert_non_null(strstr(err->msg, "control characters"));
	cc_error_free(&err);
	/* A v1-inexpressible device rule is refused, not silently ignored. */
	static struct rt_device_rule hole[] = {
		{ .allow = true, .type = 'c', .major = 1, .minor = -1, .access = "rwm" },
		{ .allow = false, .type = 'c', .major = 1, .minor = 3, .access = "w" },
	};
	memset(&r, 0, sizeof(r));
	r.devices = hole;
	r.n_devices = 2;
	assert_int_equal(rt_cgroup_create(cg, &r, &err), -1);
	assert_non_null(strstr(err->msg, "punch a hole"));
	cc_error_free(&err);
	for (size_t i = 0; i < host.n_hiers; i++) {
		_cleanup_free_ char *d = xasprintf("%s/%s", host.hiers[i].mount, base);
		if (cc_path_exists(d))
			fail_msg("%s left behind after a failed create", d);
	}
	/* A good unified key goes to the unified directory. */
	kv.value = (char *)"3";
	memset(&r, 0, sizeof(r));
	r.unified = &kv;
	r.n_unified = 1;
	assert_ok(rt_cgroup_create(cg, &r, &err), &err);
	assert_file(rt_cgroup_path(cg, ""), "cgroup.max.depth", "3");
	rt_cgroup_free(cg);
}

static void test_json_roundtrip(void **state)
{
	struct cc_error *err = NULL;
	struct rt_cgroup *cg = new_cg("json");

	_cleanup_json_ json_t *j = rt_cgroup_to_json(cg);
	_cleanup_free_ char *text = cc_json_dump(j);
	_cleanup_json_ json_t *back = cc_json_load_buf("state", text, strlen(text), &err);
	assert_ok(back ? 0 : -1, &err);
	struct rt_cgroup *cg2 = rt_cgroup_from_json(back, &err);
	assert_ok(cg2 ? 0 : -1, &err);
	assert_int_equal(cg2->mode, cg->mode);
	assert_int_equal(cg2->n_hiers, cg->n_hiers);
	for (size_t i = 0; i < cg->n_hiers; i++) {
		assert_string_equal(cg2->hiers[i].path, cg->hiers[i].path);
		assert_string_equal(cg2->hiers[i].mount, cg->hiers[i].mount);
	}
	if (hybrid())
		assert_string_equal(rt_cgroup_path(cg2, "memory"), rt_cgroup_path(cg, "memory"));
	rt_cgroup_free(cg2);

	/* Tampered records: a hierarchy root, "..", a relative path. */
	static const char *const bad[] = { "/sys/fs/cgroup/memory", "/sys/fs/cgroup/memory/../x",
					   "sys/fs/cgroup/memory/x", "/sys/fs/cgroup/memoryx" };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		_cleanup_json_ json_t *t = json_deep_copy(back);
		json_t *h = json_array_get(json_object_get(t, "hierarchies"), 0);
		json_object_set_new(h, "mount", json_string("/sys/fs/cgroup/memory"));
		json_object_set_new(h, "path", json_string(bad[i]));
		assert_null(rt_cgroup_from_json(t, &err));
		assert_non_null(err);
		cc_error_free(&err);
	}
	_cleanup_json_ json_t *t = json_pack("{s:s,s:[]}", "mode", "v3", "hierarchies");
	assert_null(rt_cgroup_from_json(t, &err));
	cc_error_free(&err);
	rt_cgroup_free(cg);
}

/* ---- eBPF device programs on the unified hierarchy ---- */

enum { OPEN_NULL_RW = 1, OPEN_ZERO_R = 2, OPEN_ZERO_W = 4, OPEN_ZERO_EPERM = 8, MKNOD_NULL = 16 };

/* Run the probes in a child placed in `dir`; bits of what succeeded come back as status. */
static int probe_in(const char *dir)
{
	int go[2];
	assert_int_equal(pipe(go), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char c;
		int r = 0, fd;
		close(go[1]);
		if (read(go[0], &c, 1) != 1)
			_exit(100);
		if ((fd = open("/dev/null", O_RDWR)) >= 0 && !close(fd))
			r |= OPEN_NULL_RW;
		if ((fd = open("/dev/zero", O_RDONLY)) >= 0 && !close(fd))
			r |= OPEN_ZERO_R;
		fd = open("/dev/zero", O_WRONLY);
		if (fd >= 0 && !close(fd))
			r |= OPEN_ZERO_W;
		else if (errno == EPERM)
			r |= OPEN_ZERO_EPERM;
		char node[64];
		snprintf(node, sizeof(node), "/dev/shm/rune-test-node-%d", (int)getpid());
		if (mknod(node, S_IFCHR | 0600, makedev(1, 3)) == 0) {
			r |= MKNOD_NULL;
			unlink(node);
		}
		_exit(r);
	}
	close(go[0]);
	_cleanup_free_ char *procs = cc_path_join(dir, "cgroup.procs");
	_cleanup_free_ char *p = xasprintf("%d", (int)pid);
	must_write(procs, p);
	assert_int_equal(write(go[1], "x", 1), 1);
	close(go[1]);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

static uint32_t attached_programs(int fd)
{
	uint32_t ids[16];
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.query.target_fd = (uint32_t)fd;
	a.query.attach_type = BPF_CGROUP_DEVICE;
	a.query.prog_ids = (uintptr_t)ids;
	a.query.prog_cnt = 16;
	assert_int_equal(syscall(__NR_bpf, BPF_PROG_QUERY, &a, sizeof(a)), 0);
	return a.query.prog_cnt;
}

static void set_bpf(int fd, const char *dir, const struct rt_device_rule *rules, size_t n)
{
	struct cc_error *err = NULL;
	assert_ok(rt_cg2_set_devices(fd, dir, rules, n, &err), &err);
	assert_int_equal(attached_programs(fd), 1);
}

#define R(al, t, ma, mi, acc)                                                   \
	{                                                                       \
		.allow = al, .type = t, .major = ma, .minor = mi, .access = acc \
	}

static void test_ebpf_devices(void **state)
{
	struct rt_cgroup_hier *u = NULL;
	for (size_t i = 0; i < host.n_hiers; i++)
		if (host.hiers[i].unified)
			u = &host.hiers[i];
	if (!u) {
		print_message("# skipped: no cgroup2 hierarchy\n");
		skip();
	}
	_cleanup_free_ char *top = xasprintf("%s/%s", u->mount, base);
	_cleanup_free_ char *dir = xasprintf("%s/bpf", top);
	assert_true(mkdir(top, 0755) == 0 || errno == EEXIST);
	assert_int_equal(mkdir(dir, 0755), 0);
	_cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);

	/* Deny all, allow /dev/null: /dev/zero is EPERM, mknod denied (no 'm'). */
	static const struct rt_device_rule only_null[] = { R(false, 'a', -1, -1, "rwm"),
							   R(true, 'c', 1, 3, "rw") };
	set_bpf(fd, dir, only_null, ARRAY_SIZE(only_null));
	assert_int_equal(probe_in(dir), OPEN_NULL_RW | OPEN_ZERO_EPERM);
	/* Replacing: allow everything; still one program attached. */
	static const struct rt_device_rule all[] = { R(true, 'a', -1, -1, "rwm") };
	set_bpf(fd, dir, all, 1);
	assert_int_equal(probe_in(dir), OPEN_NULL_RW | OPEN_ZERO_R | OPEN_ZERO_W | MKNOD_NULL);
	/* Last match wins, per access type: read of /dev/zero allowed, write denied. */
	static const struct rt_device_rule per_type[] = { R(true, 'a', -1, -1, "rwm"),
							  R(false, 'c', 1, 5, "w"),
							  R(false, 'b', -1, -1, "rwm") };
	set_bpf(fd, dir, per_type, ARRAY_SIZE(per_type));
	assert_int_equal(probe_in(dir), OPEN_NULL_RW | OPEN_ZERO_R | OPEN_ZERO_EPERM | MKNOD_NULL);
	/* Access types granted by separate rules add up (O_RDWR needs r and w). */
	static const struct rt_device_rule split[] = { R(false, 'a', -1, -1, "rwm"),
						       R(true, 'c', 1, 3, "r"),
						       R(true, 'c', 1, 3, "w"),
						       R(true, 'c', -1, -1, "m") };
	set_bpf(fd, dir, split, ARRAY_SIZE(split));
	assert_int_equal(probe_in(dir), OPEN_NULL_RW | OPEN_ZERO_EPERM | MKNOD_NULL);
	/* A later deny overrides an earlier allow of the same device. */
	static const struct rt_device_rule later_deny[] = { R(true, 'a', -1, -1, "rwm"),
							    R(false, 'c', 1, -1, "rwm") };
	set_bpf(fd, dir, later_deny, ARRAY_SIZE(later_deny));
	assert_int_equal(probe_in(dir), OPEN_ZERO_EPERM);
}

/* ---- the v2 implementation, on the unified hierarchy ---- */

/* This host seen as a pure cgroup v2 one: just its unified hierarchy (borrowed). */
static bool only_unified(struct rt_cgroup_host *v2)
{
	memset(v2, 0, sizeof(*v2));
	v2->mode = RT_CGROUP_V2;
	for (size_t i = 0; i < host.n_hiers; i++)
		if (host.hiers[i].unified)
			v2->hiers = &host.hiers[i];
	v2->n_hiers = 1;
	if (!v2->hiers)
		print_message("# skipped: no cgroup2 hierarchy\n");
	return v2->hiers != NULL;
}

static void test_v2_lifecycle(void **state)
{
	struct rt_cgroup_host v2;
	struct cc_error *err = NULL;
	volatile uint64_t *counter;

	if (!only_unified(&v2))
		skip();
	_cleanup_free_ char *p = cgpath("v2");
	struct rt_cgroup *cg = rt_cgroup_new_on(&v2, p, "x", &err);
	assert_ok(cg ? 0 : -1, &err);
	struct rt_kv kv = { (char *)"cgroup.max.descendants", (char *)"7" };
	struct rt_resources r;
	memset(&r, 0, sizeof(r));
	r.devices = dev_rules;
	r.n_devices = ARRAY_SIZE(dev_rules);
	r.unified = &kv;
	r.n_unified = 1;
	assert_ok(rt_cgroup_create(cg, &r, &err), &err);
	const char *dir = rt_cgroup_path(cg, "");
	assert_file(dir, "cgroup.max.descendants", "7");
	/* Defaults allow /dev/zero; the user rule's deny-all keeps the rest out. */
	assert_int_equal(probe_in(dir), OPEN_NULL_RW | OPEN_ZERO_R | OPEN_ZERO_W | MKNOD_NULL);
	_cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_int_equal(attached_programs(fd), 1);

	pid_t pid = spawn(&counter);
	assert_ok(rt_cgroup_enter(cg, pid, &err), &err);
	pid_t *pids = NULL;
	size_t n = 0;
	assert_ok(rt_cgroup_pids(cg, &pids, &n, &err), &err);
	assert_int_equal(n, 1);
	assert_int_equal(pids[0], pid);
	free(pids);
	assert_ok(rt_cgroup_freeze(cg, true, &err), &err);
	assert_true(rt_cgroup_is_frozen(cg));
	_cleanup_free_ char *ev = read_trim(dir, "cgroup.events");
	assert_non_null(strstr(ev, "frozen 1"));
	assert_int_equal(settle(counter), 0);
	assert_ok(rt_cgroup_freeze(cg, false, &err), &err);
	assert_false(rt_cgroup_is_frozen(cg));
	assert_true(settle(counter) > 0);
	_cleanup_json_ json_t *s = rt_cgroup_stats(cg, &err);
	assert_ok(s ? 0 : -1, &err);
	assert_true(json_integer_value(json_object_get(
			json_object_get(json_object_get(s, "cpu"), "usage"), "total")) > 0);
	/* Frozen again, then destroyed with kill: cgroup.kill takes it down. */
	assert_ok(rt_cgroup_freeze(cg, true, &err), &err);
	assert_ok(rt_cgroup_destroy(cg, true, &err), &err);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFSIGNALED(st));
	n_children = 0;
	assert_false(cc_path_exists(dir));
	rt_cgroup_free(cg);
}

/* ---- the container's /sys/fs/cgroup ---- */

struct mount_case {
	struct rt_cgroup *cg;
	bool cgroupns, v2;
	char rootfs[64];
};

/* The v2 view: one cgroup2 mount showing the container's directory, read-only. */
static int check_v2_view(const struct mount_case *mc, char *msg, size_t len)
{
	char view[256];
	struct cc_error *err = NULL;

	snprintf(view, sizeof(view), "%s/sys/fs/cgroup", mc->rootfs);
	_cleanup_free_ char *a = rt_cg_read(view, "cgroup.max.descendants", NULL);
	_cleanup_free_ char *b =
	    rt_cg_read(rt_cgroup_path(mc->cg, ""), "cgroup.max.descendants", NULL);
	if (!a || !b || strcmp(a, b) != 0 || strcmp(a, "7") != 0)
		return snprintf(msg, len, "v2 view differs: %s vs %s", a, b), -1;
	if (rt_cg_write(view, "cgroup.max.descendants", "8", &err) == 0 || err->errnum != EROFS)
		return snprintf(msg, len, "v2 view is writable"), -1;
	_cleanup_free_ char *procs = rt_cg_read(view, "cgroup.procs", NULL);
	char self[32];
	snprintf(self, sizeof(self), "%d", (int)getpid());
	if (mc->cgroupns && (!procs || strcmp(procs, self) != 0))
		return snprintf(msg, len, "cgroupns view holds \"%s\"", procs ? procs : "?"), -1;
	return 0;
}

/* In a child with its own mount namespace: mount, then check what the container would see.
 * Returns 0, or writes why not to `msg`. */
static int mount_child(struct mount_case *mc, char *msg, size_t len)
{
	struct cc_error *err = NULL;
	const char *mem = rt_cgroup_path(mc->cg, "memory");

	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return snprintf(msg, len, "unshare: %s", strerror(errno)), -1;
	if (mc->cgroupns) {
		/* As the init does: be in the cgroup, then get a namespace rooted there. */
		if (rt_cgroup_enter(mc->cg, getpid(), &err) < 0 || unshare(CLONE_NEWCGROUP) < 0)
			return snprintf(msg, len, "enter: %s", err ? err->msg : strerror(errno)),
			       -1;
	}
	int rootfd = open(mc->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rt_cgroup_mount(mc->cg, rootfd, "/sys/fs/cgroup",
			    MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, mc->cgroupns, &err) < 0)
		return snprintf(msg, len, "%s", err->msg), -1;
	if (mc->v2)
		return check_v2_view(mc, msg, len);
	char view[256];
	snprintf(view, sizeof(view), "%s/sys/fs/cgroup/memory", mc->rootfs);
	_cleanup_free_ char *a = rt_cg_read(view, "memory.limit_in_bytes", NULL);
	_cleanup_free_ char *b = rt_cg_read(mem, "memory.limit_in_bytes", NULL);
	if (!a || !b || strcmp(a, b) != 0)
		return snprintf(msg, len, "memory view differs: %s vs %s", a, b), -1;
	if (rt_cg_write(view, "memory.limit_in_bytes", "1000000", &err) == 0 ||
	    err->errnum != EROFS)
		return snprintf(msg, len, "view is writable"), -1;
	static const char *const dirs[] = { "cpu",  "cpuset", "devices", "freezer",
					    "pids", "blkio",  "systemd", "unified" };
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		snprintf(view, sizeof(view), "%s/sys/fs/cgroup/%s/cgroup.procs", mc->rootfs,
			 dirs[i]);
		if (access(view, F_OK) < 0)
			return snprintf(msg, len, "%s missing", view), -1;
	}
	snprintf(view, sizeof(view), "%s/sys/fs/cgroup/newdir", mc->rootfs);
	if (mkdir(view, 0755) == 0 || errno != EROFS)
		return snprintf(msg, len, "tmpfs is writable"), -1;
	/* With a namespace the view's root is the container's cgroup: it holds this process. */
	snprintf(view, sizeof(view), "%s/sys/fs/cgroup/memory", mc->rootfs);
	_cleanup_free_ char *procs = rt_cg_read(view, "cgroup.procs", NULL);
	char self[32];
	snprintf(self, sizeof(self), "%d", (int)getpid());
	if (mc->cgroupns && (!procs || strcmp(procs, self) != 0))
		return snprintf(msg, len, "cgroupns view holds \"%s\"", procs ? procs : "?"), -1;
	return 0;
}

static void run_mount_case(struct mount_case mc)
{
	int pfd[2];
	bool cgroupns = mc.cgroupns;

	snprintf(mc.rootfs, sizeof(mc.rootfs), "/tmp/rune-test-cg-root-%d", (int)getpid());
	assert_true(mkdir(mc.rootfs, 0755) == 0 || errno == EEXIST);
	assert_int_equal(pipe(pfd), 0);
	pid_t pid = fork();
	if (pid == 0) {
		char msg[512] = "";
		close(pfd[0]);
		int r = mount_child(&mc, msg, sizeof(msg));
		if (write(pfd[1], msg, strlen(msg)) < 0)
			_exit(2);
		_exit(r < 0);
	}
	close(pfd[1]);
	char msg[512] = "";
	ssize_t n = read(pfd[0], msg, sizeof(msg) - 1);
	close(pfd[0]);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	/* Only directories are left there: the mounts died with the child's namespace. */
	assert_int_equal(cc_rm_rf(mc.rootfs, NULL), 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail_msg("mount (cgroupns=%d): %s", cgroupns, n > 0 ? msg : "child failed");
	rt_cgroup_free(mc.cg);
}

static void test_mount_v1(void **state)
{
	NEED_HYBRID();
	struct cc_error *err = NULL;
	for (int ns = 0; ns < 2; ns++) {
		struct mount_case mc = { .cgroupns = ns, .cg = new_cg(ns ? "mount-ns" : "mount") };
		assert_ok(rt_cgroup_create(mc.cg, NULL, &err), &err);
		run_mount_case(mc);
	}
}

static void test_mount_v2(void **state)
{
	struct cc_error *err = NULL;
	struct rt_kv kv = { (char *)"cgroup.max.descendants", (char *)"7" };
	struct rt_resources r = { .unified = &kv, .n_unified = 1 };
	struct rt_cgroup_host v2;

	if (!only_unified(&v2))
		skip();
	for (int ns = 0; ns < 2; ns++) {
		_cleanup_free_ char *p = cgpath(ns ? "mount2-ns" : "mount2");
		struct mount_case mc = { .cgroupns = ns, .v2 = true };
		mc.cg = rt_cgroup_new_on(&v2, p, "x", &err);
		assert_ok(mc.cg ? 0 : -1, &err);
		assert_ok(rt_cgroup_create(mc.cg, &r, &err), &err);
		run_mount_case(mc);
	}
}

static void test_default_rules(void **state)
{
	size_t n;
	const struct rt_device_rule *d = rt_cgroup_default_device_rules(&n);
	assert_int_equal(n, 11);
	for (size_t i = 0; i < n; i++)
		assert_true(d[i].allow);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_comounted),
		cmocka_unit_test(test_parse_v2),
		cmocka_unit_test(test_bad_paths),
		cmocka_unit_test(test_default_rules),
		cmocka_unit_test_teardown(test_create_resources, test_teardown),
		cmocka_unit_test_teardown(test_enter_pids, test_teardown),
		cmocka_unit_test_teardown(test_update, test_teardown),
		cmocka_unit_test_teardown(test_freeze, test_teardown),
		cmocka_unit_test_teardown(test_stats, test_teardown),
		cmocka_unit_test_teardown(test_oom_count, test_teardown),
		cmocka_unit_test_teardown(test_hybrid_hugetlb, test_teardown),
		cmocka_unit_test_teardown(test_destroy_kill, test_teardown),
		cmocka_unit_test_teardown(test_errors_leave_nothing, test_teardown),
		cmocka_unit_test_teardown(test_json_roundtrip, test_teardown),
		cmocka_unit_test_teardown(test_ebpf_devices, test_teardown),
		cmocka_unit_test_teardown(test_v2_lifecycle, test_teardown),
		cmocka_unit_test_teardown(test_mount_v1, test_teardown),
		cmocka_unit_test_teardown(test_mount_v2, test_teardown),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
