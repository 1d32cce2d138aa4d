// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for lib/runtime/cgroup-v2.c against a fake cgroup2 tree: a temporary directory laid
 * out like a cgroup2 mount, its interface files plain files. The code is told about it the way it
 * learns about a real host: a mountinfo line naming the directory as a cgroup2 mount, parsed by
 * rt_cgroup_host_parse and turned into a container's cgroup by rt_cgroup_new_on. So the v2 code
 * runs on any host (hybrid, v1, v2, root or not) with every controller it knows about.
 *
 * A plain directory is not cgroupfs, and the tests check what the code writes, not what a kernel
 * would make of it:
 *  - mkdir does not fill a new group with interface files: each test's container group
 *    (<mount>/pod/ctr) is made and filled before the code runs (an existing directory is fine
 *    for rt_cgroup_create);
 *  - rt_cg_write opens without O_TRUNC (cgroupfs needs none), so files start empty and what is
 *    read back is exactly what was written, once;
 *  - a file the code writes several times (cgroup.subtree_control while enabling controllers,
 *    io.max, io.bfq.weight with per-device weights) is a FIFO the test holds open read-write:
 *    writers never block, and the test reads the writes in order, concatenated;
 *  - no eBPF device program attaches to a plain directory, so rt_cgroup_create stops at that
 *    step (after enabling controllers). Resources go through rt_cgroup_update, which is the same
 *    v2 operation as create's without the device program (create: v2_update(creating=true));
 *  - no process moves or freezes: cgroup.procs and cgroup.freeze only receive the writes, and
 *    cgroup.events says what the test makes it say. cgroup.procs files list no pid a kill could
 *    reach (destroy with kill signals every pid listed there).
 *
 * JSON in this file is written with single quotes; q() turns them into double quotes.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include "runtime/cgroup-internal.h"
#include "runtime/spec.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"
#include "tmproot.h"

/* What the fake host offers in the root and passes down to pod/ (and pod/ to ctr/). */
#define CONTROLLERS "cpuset cpu io memory hugetlb pids"

/* The interface files of a kernel 6.x group with CONTROLLERS enabled (BFQ as io scheduler). */
static const char *const leaf_files[] = {
	"cgroup.controllers",
	"cgroup.subtree_control",
	"cgroup.procs",
	"cgroup.events",
	"cgroup.freeze",
	"cgroup.kill",
	"cgroup.max.descendants",
	"cpu.weight",
	"cpu.max",
	"cpu.max.burst",
	"cpu.idle",
	"cpu.stat",
	"cpuset.cpus",
	"cpuset.mems",
	"cpuset.cpus.effective",
	"cpuset.mems.effective",
	"io.max",
	"io.bfq.weight",
	"io.stat",
	"memory.max",
	"memory.low",
	"memory.high",
	"memory.swap.max",
	"memory.current",
	"memory.swap.current",
	"memory.peak",
	"memory.stat",
	"memory.events",
	"memory.swap.events",
	"pids.max",
	"pids.current",
	"hugetlb.2MB.max",
	"hugetlb.2MB.current",
	"hugetlb.2MB.events",
};

struct fake {
	char *mount; /* the fake cgroup2 mount */
	char *pod;   /* <mount>/pod: an ancestor of the container's group */
	char *leaf;  /* <mount>/pod/ctr: the container's group */
	struct rt_cgroup_host host;
	struct rt_cgroup *cg;
	int fifos[8];
	size_t n_fifos;
};

/* ---- helpers ---- */

static char *q(const char *s)
{
	char *r = xstrdup(s);
	for (char *p = r; *p; p++)
		if (*p == '\'')
			*p = '"';
	return r;
}

static void put(const char *dir, const char *file, const char *content)
{
	_cleanup_free_ char *p = cc_path_join(dir, file);
	_cleanup_close_ int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || cc_write_all(fd, content, strlen(content)) < 0)
		fail_msg("write %s: %s", p, strerror(errno));
}

static void drop(const char *dir, const char *file)
{
	_cleanup_free_ char *p = cc_path_join(dir, file);
	if (unlink(p) < 0)
		fail_msg("unlink %s: %s", p, strerror(errno));
}

/* The file's bytes, untrimmed: exactly what was written. */
static char *got(const char *dir, const char *file)
{
	_cleanup_free_ char *p = cc_path_join(dir, file);
	struct cc_error *err = NULL;
	char *s = cc_read_file(p, 0, NULL, &err);
	if (!s)
		fail_msg("%s", err->msg);
	return s;
}

static void expect_file(const char *dir, const char *file, const char *want)
{
	_cleanup_free_ char *s = got(dir, file);
	if (strcmp(s, want) != 0)
		fail_msg("%s/%s: got \"%s\", want \"%s\"", dir, file, s, want);
}

static void assert_ok(int ret, struct cc_error **err)
{
	if (ret < 0)
		fail_msg("unexpected error: %s", *err ? (*err)->msg : "(none)");
}

/* The call failed with exactly `want` as its message. */
static void expect_error(int ret, struct cc_error **err, const char *want)
{
	if (ret >= 0)
		fail_msg("succeeded, want error \"%s\"", want);
	assert_non_null(*err);
	if (strcmp((*err)->msg, want) != 0)
		fail_msg("error \"%s\", want \"%s\"", (*err)->msg, want);
	cc_error_free(err);
}

/* dir/file becomes a FIFO the test holds open read-write: writes to it never block, and
 * fifo_read() returns them in order, concatenated. */
static int fifo(struct fake *f, const char *dir, const char *file)
{
	_cleanup_free_ char *p = cc_path_join(dir, file);
	unlink(p);
	if (mkfifo(p, 0644) < 0)
		fail_msg("mkfifo %s: %s", p, strerror(errno));
	int fd = open(p, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_true(f->n_fifos < ARRAY_SIZE(f->fifos));
	f->fifos[f->n_fifos++] = fd;
	return fd;
}

static char *fifo_read(int fd)
{
	char *buf = xzalloc(65537);
	size_t len = 0;
	ssize_t n;
	while (len < 65536 && (n = read(fd, buf + len, 65536 - len)) > 0)
		len += (size_t)n;
	return buf;
}

static void expect_fifo(int fd, const char *what, const char *want)
{
	_cleanup_free_ char *s = fifo_read(fd);
	if (strcmp(s, want) != 0)
		fail_msg("writes to %s: got \"%s\", want \"%s\"", what, s, want);
}

static struct fake *fake_new(void)
{
	static unsigned counter;
	struct cc_error *err = NULL;
	struct fake *f = xzalloc(sizeof(*f));

	f->mount = xasprintf("%s/t%u", root, counter++);
	f->pod = cc_path_join(f->mount, "pod");
	f->leaf = cc_path_join(f->pod, "ctr");
	if (cc_mkdir_p(f->leaf, 0755, &err) < 0)
		fail_msg("%s", err->msg);
	put(f->mount, "cgroup.controllers", CONTROLLERS);
	put(f->mount, "cgroup.subtree_control", "");
	put(f->pod, "cgroup.controllers", CONTROLLERS);
	put(f->pod, "cgroup.subtree_control", "");
	for (size_t i = 0; i < ARRAY_SIZE(leaf_files); i++)
		put(f->leaf, leaf_files[i], "");
	put(f->leaf, "cgroup.controllers", CONTROLLERS);

	_cleanup_free_ char *mi =
	    xasprintf("99 30 0:99 / %s rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 "
		      "rw,nsdelegate\n",
		      f->mount);
	assert_ok(rt_cgroup_host_parse(RT_CGROUP_V2, mi, "0::/\n", "", &f->host, &err), &err);
	f->cg = rt_cgroup_new_on(&f->host, "/pod/ctr", "ctr", &err);
	assert_ok(f->cg ? 0 : -1, &err);
	return f;
}

static void fake_free(struct fake *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n_fifos; i++)
		close(f->fifos[i]);
	rt_cgroup_free(f->cg);
	rt_cgroup_host_clear(&f->host);
	free(f->mount);
	free(f->pod);
	free(f->leaf);
	free(f);
}

static int fake_setup(void **state)
{
	*state = fake_new();
	return 0;
}

static int fake_teardown(void **state)
{
	fake_free(*state);
	return 0;
}

static void spec_freep(struct rt_spec **s)
{
	rt_spec_free(*s);
}
#define _cleanup_spec_ __attribute__((cleanup(spec_freep)))

/* A config.json whose linux.resources is `json` (single quotes). */
static struct rt_spec *with_resources(const char *json)
{
	struct cc_error *err = NULL;
	_cleanup_free_ char *doc =
	    xasprintf("{'ociVersion':'1.0.2','linux':{'resources':%s}}", json);
	_cleanup_free_ char *text = q(doc);
	struct rt_spec *s = rt_spec_parse("config.json", text, strlen(text), &err);
	if (!s)
		fail_msg("%s: %s", json, err->msg);
	return s;
}

static int update(struct fake *f, const char *json, struct cc_error **err)
{
	_cleanup_spec_ struct rt_spec *s = with_resources(json);
	return rt_cgroup_update(f->cg, &s->linux.resources, err);
}

/* ---- the fake host ---- */

static void test_fake_host(void **state)
{
	struct fake *f = *state;

	assert_int_equal(f->host.mode, RT_CGROUP_V2);
	assert_int_equal(f->host.n_hiers, 1);
	assert_true(f->host.hiers[0].unified);
	assert_string_equal(f->host.hiers[0].mount, f->mount);
	/* Every controller lives in the one directory. */
	assert_string_equal(rt_cgroup_path(f->cg, ""), f->leaf);
	assert_string_equal(rt_cgroup_path(f->cg, "memory"), f->leaf);
	assert_string_equal(rt_cgroup_path(f->cg, "freezer"), f->leaf);
	_cleanup_json_ json_t *j = rt_cgroup_to_json(f->cg);
	assert_string_equal(json_string_value(json_object_get(j, "mode")), "v2");
}

/* ---- create ---- */

/* runc's v2 create: every controller an ancestor offers is enabled in its subtree_control, from
 * the root down to the container's parent (not in the container's own group), one write each.
 * Then the device program, which needs a real cgroup: create stops there, naming the directory,
 * and leaves the group it did not make. */
static void test_create_enables_controllers(void **state)
{
	struct fake *f = *state;
	struct cc_error *err = NULL;
	int top = fifo(f, f->mount, "cgroup.subtree_control");
	int pod = fifo(f, f->pod, "cgroup.subtree_control");

	put(f->pod, "cgroup.controllers", "cpu memory pids");
	_cleanup_free_ char *want = xasprintf("cgroup: query device programs of %s: ", f->leaf);
	assert_int_equal(rt_cgroup_create(f->cg, NULL, &err), -1);
	if (strncmp(err->msg, want, strlen(want)) != 0)
		fail_msg("error \"%s\", want it to start with \"%s\"", err->msg, want);
	cc_error_free(&err);
	expect_fifo(top, "the root's cgroup.subtree_control", "+cpuset+cpu+io+memory+hugetlb+pids");
	expect_fifo(pod, "pod/cgroup.subtree_control", "+cpu+memory+pids");
	expect_file(f->leaf, "cgroup.subtree_control", "");
	assert_true(cc_path_exists(f->leaf));
}

/* Directories create made are removed again when it fails; an ancestor without
 * cgroup.controllers (here: one create just made) gets no writes and is no error. */
static void test_create_rolls_back(void **state)
{
	struct fake *f = *state;
	struct cc_error *err = NULL;
	int top = fifo(f, f->mount, "cgroup.subtree_control");
	struct rt_cgroup *cg = rt_cgroup_new_on(&f->host, "/new/ctr", "ctr", &err);
	assert_ok(cg ? 0 : -1, &err);
	_cleanup_free_ char *made = cc_path_join(f->mount, "new");

	assert_int_equal(rt_cgroup_create(cg, NULL, &err), -1);
	assert_non_null(strstr(err->msg, "query device programs of"));
	cc_error_free(&err);
	expect_fifo(top, "the root's cgroup.subtree_control", "+cpuset+cpu+io+memory+hugetlb+pids");
	if (cc_path_exists(made))
		fail_msg("%s left behind after a failed create", made);
	rt_cgroup_free(cg);
}

/* ---- resources ---- */

/* A runc-style resources config (memory, cpu, cpuset, pids, blkio, hugetlb, unified), as
 * runc 1.1.5 converts it for v2. */
static void test_update_runc_resources(void **state)
{
	struct fake *f = *state;
	struct cc_error *err = NULL;
	int io_max = fifo(f, f->leaf, "io.max");

	assert_ok(
	    update(f,
		   "{'memory':{'limit':104857600,'reservation':52428800,'swap':209715200,"
		   "'swappiness':10,'disableOOMKiller':true},"
		   "'cpu':{'shares':512,'quota':50000,'period':100000,'cpus':'0-1','mems':'0'},"
		   "'pids':{'limit':100},"
		   "'blockIO':{'weight':300,"
		   "'throttleReadBpsDevice':[{'major':8,'minor':0,'rate':1048576}],"
		   "'throttleWriteIOPSDevice':[{'major':8,'minor':16,'rate':200}]},"
		   "'hugepageLimits':[{'pageSize':'2MB','limit':4194304}],"
		   "'unified':{'memory.high':'94371840'}}",
		   &err),
	    &err);
	expect_file(f->leaf, "memory.max", "104857600");
	expect_file(f->leaf, "memory.low", "52428800");
	/* memory+swap 200 MiB with 100 MiB of memory: 100 MiB of swap. */
	expect_file(f->leaf, "memory.swap.max", "104857600");
	expect_file(f->leaf, "cpu.weight", "20");
	expect_file(f->leaf, "cpu.max", "50000 100000");
	expect_file(f->leaf, "cpuset.cpus", "0-1");
	expect_file(f->leaf, "cpuset.mems", "0");
	expect_file(f->leaf, "pids.max", "100");
	expect_file(f->leaf, "io.bfq.weight", "300");
	expect_fifo(io_max, "io.max",
		    "8:0 rbps=1048576"
		    "8:16 wiops=200");
	expect_file(f->leaf, "hugetlb.2MB.max", "4194304");
	expect_file(f->leaf, "memory.high", "94371840");
	/* Nothing else: swappiness and disableOOMKiller have no v2 file (runc ignores them), no
	 * burst or idle was asked for, nothing is moved or frozen, no controller enabled. */
	static const char *const untouched[] = { "cpu.max.burst", "cpu.idle", "cgroup.procs",
						 "cgroup.freeze", "cgroup.subtree_control" };
	for (size_t i = 0; i < ARRAY_SIZE(untouched); i++)
		expect_file(f->leaf, untouched[i], "");
	expect_file(f->mount, "cgroup.subtree_control", "");
}

struct written {
	const char *file, *value;
};

/* One resource at a time, each on a fresh tree: the file and value runc 1.1.5 writes; "" for
 * a file that must not be written. */
static const struct {
	const char *json;
	struct written w[3];
} conversions[] = {
	/* Unlimited memory with swap unspecified: unlimited swap too (runc, as v1). */
	{ "{'memory':{'limit':-1}}", { { "memory.max", "max" }, { "memory.swap.max", "max" } } },
	{ "{'memory':{'limit':104857600,'swap':-1}}",
	  { { "memory.max", "104857600" }, { "memory.swap.max", "max" } } },
	{ "{'memory':{'limit':104857600}}",
	  { { "memory.max", "104857600" }, { "memory.swap.max", "" } } },
	{ "{'memory':{'limit':104857600,'swap':0}}",
	  { { "memory.max", "104857600" }, { "memory.swap.max", "" } } },
	/* memory+swap equal to memory: no swap at all, memory.swap.max 0, as runc writes it. */
	{ "{'memory':{'limit':104857600,'swap':104857600}}",
	  { { "memory.max", "104857600" }, { "memory.swap.max", "0" } } },
	{ "{'memory':{'reservation':52428800}}",
	  { { "memory.low", "52428800" }, { "memory.max", "" } } },
	{ "{'memory':{'swappiness':10,'disableOOMKiller':true}}",
	  { { "memory.max", "" }, { "memory.swap.max", "" } } },
	/* shares [2, 262144] onto weight [1, 10000]: 1 + ((shares - 2) * 9999) / 262142. */
	{ "{'cpu':{'shares':2}}", { { "cpu.weight", "1" } } },
	{ "{'cpu':{'shares':1024}}", { { "cpu.weight", "39" } } },
	{ "{'cpu':{'shares':262144}}", { { "cpu.weight", "10000" } } },
	{ "{'cpu':{'shares':0,'quota':0}}", { { "cpu.weight", "" }, { "cpu.max", "" } } },
	{ "{'cpu':{'quota':-1,'period':100000}}", { { "cpu.max", "max 100000" } } },
	{ "{'cpu':{'quota':50000}}", { { "cpu.max", "50000" } } },
	{ "{'cpu':{'period':200000}}", { { "cpu.max", "max 200000" } } },
	{ "{'cpu':{'burst':1000,'idle':1}}",
	  { { "cpu.max.burst", "1000" }, { "cpu.idle", "1" }, { "cpu.max", "" } } },
	{ "{'cpu':{'cpus':'0-3,7','mems':'0'}}",
	  { { "cpuset.cpus", "0-3,7" }, { "cpuset.mems", "0" } } },
	{ "{'pids':{'limit':-1}}", { { "pids.max", "max" } } },
	{ "{'pids':{'limit':100}}", { { "pids.max", "100" } } },
	/* blkio weight 0 is unset (Docker sends it). */
	{ "{'blockIO':{'weight':0}}", { { "io.bfq.weight", "" } } },
};

static void test_update_conversions(void **state)
{
	for (size_t i = 0; i < ARRAY_SIZE(conversions); i++) {
		struct fake *f = fake_new();
		struct cc_error *err = NULL;
		if (update(f, conversions[i].json, &err) < 0)
			fail_msg("%s: %s", conversions[i].json, err->msg);
		for (size_t k = 0; k < 3 && conversions[i].w[k].file; k++) {
			const struct written *w = &conversions[i].w[k];
			_cleanup_free_ char *s = got(f->leaf, w->file);
			if (strcmp(s, w->value) != 0)
				fail_msg("%s: %s is \"%s\", want \"%s\"", conversions[i].json,
					 w->file, s, w->value);
		}
		fake_free(f);
	}
}

/* With BFQ, io.bfq.weight takes the v1 weight as it is, and per-device weights after it, one
 * write each (as runc writes them to its one open io.bfq.weight). Without BFQ, io.weight gets
 * 1 + (weight - 10) * 9999 / 990, and so do per-device weights (runc drops those). Throttles
 * are one io.max write per device and kind. */
static void test_update_io(void **state)
{
	struct cc_error *err = NULL;
	struct fake *f = fake_new();
	int bfq = fifo(f, f->leaf, "io.bfq.weight");
	int io_max = fifo(f, f->leaf, "io.max");

	assert_ok(
	    update(f,
		   "{'blockIO':{'weight':300,'weightDevice':[{'major':8,'minor':0,'weight':500},"
		   "{'major':8,'minor':16,'leafWeight':20}],"
		   "'throttleReadBpsDevice':[{'major':8,'minor':0,'rate':1}],"
		   "'throttleWriteBpsDevice':[{'major':8,'minor':0,'rate':2}],"
		   "'throttleReadIOPSDevice':[{'major':8,'minor':0,'rate':3}],"
		   "'throttleWriteIOPSDevice':[{'major':8,'minor':0,'rate':4},"
		   "{'major':253,'minor':1,'rate':5}]}}",
		   &err),
	    &err);
	expect_fifo(bfq, "io.bfq.weight",
		    "300"
		    "8:0 500");
	expect_fifo(io_max, "io.max",
		    "8:0 rbps=1"
		    "8:0 wbps=2"
		    "8:0 riops=3"
		    "8:0 wiops=4"
		    "253:1 wiops=5");
	fake_free(f);

	static const struct {
		const char *json, *want;
	} io_weight[] = {
		{ "{'blockIO':{'weight':10}}", "1" },
		{ "{'blockIO':{'weight':100}}", "910" },
		{ "{'blockIO':{'weight':300}}", "2930" },
		{ "{'blockIO':{'weight':1000}}", "10000" },
		{ "{'blockIO':{'weightDevice':[{'major':8,'minor':0,'weight':500}]}}", "8:0 4950" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(io_weight); i++) {
		f = fake_new();
		drop(f->leaf, "io.bfq.weight");
		put(f->leaf, "io.weight", "");
		if (update(f, io_weight[i].json, &err) < 0)
			fail_msg("%s: %s", io_weight[i].json, err->msg);
		_cleanup_free_ char *s = got(f->leaf, "io.weight");
		if (strcmp(s, io_weight[i].want) != 0)
			fail_msg("%s: io.weight is \"%s\", want \"%s\"", io_weight[i].json, s,
				 io_weight[i].want);
		fake_free(f);
	}
}

/* Requests that cannot be honoured on v2 fail with a message, before anything is written. */
static void test_update_refusals(void **state)
{
	static const struct {
		const char *json, *want;
	} bad[] = {
		{ "{'memory':{'limit':104857600,'swap':52428800}}",
		  "cgroup: memory.swap 52428800 is below memory.limit 104857600 (swap is "
		  "memory+swap): Invalid argument" },
		{ "{'memory':{'swap':209715200}}",
		  "cgroup: memory.swap needs a memory limit: Invalid argument" },
		{ "{'memory':{'limit':-1,'swap':209715200}}",
		  "cgroup: memory.swap needs a memory limit: Invalid argument" },
		{ "{'cpu':{'realtimeRuntime':1000}}",
		  "cgroup: realtime cpu limits are not supported on cgroup v2: Operation not "
		  "supported" },
		{ "{'cpu':{'realtimePeriod':1000000}}",
		  "cgroup: realtime cpu limits are not supported on cgroup v2: Operation not "
		  "supported" },
		{ "{'network':{'classID':1}}",
		  "cgroup: network classID/priorities need the v1 net_cls/net_prio controllers: "
		  "Operation not supported" },
		{ "{'cpu':{'cpus':'0;1'}}", "cgroup: invalid cpu.cpus \"0;1\": Invalid argument" },
		{ "{'cpu':{'mems':'0 1'}}", "cgroup: invalid cpu.mems \"0 1\": Invalid argument" },
		{ "{'hugepageLimits':[{'pageSize':'2MBB','limit':1}]}",
		  "cgroup: invalid hugepage size \"2MBB\": Invalid argument" },
		{ "{'unified':{'cgroup.procs':'1'}}",
		  "cgroup: invalid unified key \"cgroup.procs\": Invalid argument" },
		{ "{'unified':{'cgroup.subtree_control':'+cpu'}}",
		  "cgroup: invalid unified key \"cgroup.subtree_control\": Invalid argument" },
		{ "{'unified':{'../memory.max':'1'}}",
		  "cgroup: invalid unified key \"../memory.max\": Invalid argument" },
		{ "{'unified':{'memory.max':'1\\n2'}}",
		  "cgroup: unified.memory.max: value contains control characters: Invalid "
		  "argument" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct fake *f = fake_new();
		struct cc_error *err = NULL;
		int ret = update(f, bad[i].json, &err);
		if (ret >= 0)
			fail_msg("%s accepted", bad[i].json);
		if (strcmp(err->msg, bad[i].want) != 0)
			fail_msg("%s: error \"%s\", want \"%s\"", bad[i].json, err->msg,
				 bad[i].want);
		cc_error_free(&err);
		static const char *const files[] = { "memory.max", "memory.swap.max", "cpu.max",
						     "cpuset.cpus", "memory.high" };
		for (size_t k = 0; k < ARRAY_SIZE(files); k++) {
			_cleanup_free_ char *s = got(f->leaf, files[k]);
			if (*s)
				fail_msg("%s: %s written (\"%s\")", bad[i].json, files[k], s);
		}
		fake_free(f);
	}
}

/* A file the host lacks (controller not enabled, no swap accounting, no BFQ and no iocost)
 * fails the request, and the message names the file and the value. */
static void test_update_missing_files(void **state)
{
	static const struct {
		const char *json, *drop, *file, *value;
	} missing[] = {
		{ "{'memory':{'limit':104857600}}", "memory.max", "memory.max", "104857600" },
		{ "{'memory':{'limit':104857600,'swap':209715200}}", "memory.swap.max",
		  "memory.swap.max", "104857600" },
		{ "{'memory':{'reservation':1048576}}", "memory.low", "memory.low", "1048576" },
		{ "{'cpu':{'shares':512}}", "cpu.weight", "cpu.weight", "20" },
		{ "{'cpu':{'quota':50000,'period':100000}}", "cpu.max", "cpu.max", "50000 100000" },
		{ "{'cpu':{'cpus':'0'}}", "cpuset.cpus", "cpuset.cpus", "0" },
		{ "{'pids':{'limit':10}}", "pids.max", "pids.max", "10" },
		{ "{'blockIO':{'weight':300}}", "io.bfq.weight", "io.weight", "2930" },
		{ "{'blockIO':{'throttleReadBpsDevice':[{'major':8,'minor':0,'rate':1}]}}",
		  "io.max", "io.max", "8:0 rbps=1" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(missing); i++) {
		struct fake *f = fake_new();
		struct cc_error *err = NULL;
		drop(f->leaf, missing[i].drop);
		_cleanup_free_ char *want =
		    xasprintf("cgroup: write %s/%s \"%s\": No such file or directory", f->leaf,
			      missing[i].file, missing[i].value);
		int ret = update(f, missing[i].json, &err);
		if (ret >= 0)
			fail_msg("%s succeeded without %s", missing[i].json, missing[i].drop);
		if (strcmp(err->msg, want) != 0)
			fail_msg("%s: error \"%s\", want \"%s\"", missing[i].json, err->msg, want);
		cc_error_free(&err);
		fake_free(f);
	}
}

/* Without swap accounting there is no memory.swap.max; asking for unlimited swap or for none
 * is then what the host does anyway, and runc goes on without it. */
static void test_update_without_swap_accounting(void **state)
{
	static const char *const fine[] = {
		"{'memory':{'limit':-1}}",
		"{'memory':{'limit':104857600,'swap':-1}}",
		"{'memory':{'limit':104857600,'swap':104857600}}",
	};

	for (size_t i = 0; i < ARRAY_SIZE(fine); i++) {
		struct fake *f = fake_new();
		struct cc_error *err = NULL;
		drop(f->leaf, "memory.swap.max");
		drop(f->leaf, "memory.swap.current");
		if (update(f, fine[i], &err) < 0)
			fail_msg("%s: %s", fine[i], err->msg);
		assert_false(rt_cg_has(f->leaf, "memory.swap.max"));
		_cleanup_free_ char *s = got(f->leaf, "memory.max");
		assert_true(*s);
		fake_free(f);
	}
}

/* Hugepage limits and unified keys make their file appear by enabling its controller from the
 * root down; a plain directory grows no file, so the result is the error naming the file, after
 * the enabling writes. A controller the root does not offer is named instead. */
static void test_update_enables_for_missing_files(void **state)
{
	struct cc_error *err = NULL;
	struct fake *f = fake_new();
	drop(f->leaf, "hugetlb.2MB.max");
	_cleanup_free_ char *huge = xasprintf("hugepage limit 2MB: cgroup: %s/hugetlb.2MB.max does "
					      "not exist: No such file or directory",
					      f->leaf);
	expect_error(update(f, "{'hugepageLimits':[{'pageSize':'2MB','limit':4194304}]}", &err),
		     &err, huge);
	expect_file(f->mount, "cgroup.subtree_control", "+hugetlb");
	expect_file(f->pod, "cgroup.subtree_control", "+hugetlb");
	fake_free(f);

	/* Already enabled in the root: no write there. */
	f = fake_new();
	drop(f->leaf, "memory.high");
	put(f->mount, "cgroup.subtree_control", "cpu memory");
	_cleanup_free_ char *high = xasprintf(
	    "unified.memory.high: cgroup: %s/memory.high does not exist: No such file or directory",
	    f->leaf);
	expect_error(update(f, "{'unified':{'memory.high':'1048576'}}", &err), &err, high);
	expect_file(f->mount, "cgroup.subtree_control", "cpu memory");
	expect_file(f->pod, "cgroup.subtree_control", "+memory");
	fake_free(f);

	/* cgroup.* files belong to no controller: nothing to enable. */
	f = fake_new();
	drop(f->leaf, "cgroup.max.descendants");
	_cleanup_free_ char *desc =
	    xasprintf("unified.cgroup.max.descendants: cgroup: %s/cgroup.max.descendants does not "
		      "exist: No such file or directory",
		      f->leaf);
	expect_error(update(f, "{'unified':{'cgroup.max.descendants':'7'}}", &err), &err, desc);
	expect_file(f->mount, "cgroup.subtree_control", "");
	expect_file(f->pod, "cgroup.subtree_control", "");
	fake_free(f);

	f = fake_new();
	drop(f->leaf, "hugetlb.2MB.max");
	put(f->mount, "cgroup.controllers", "cpu memory");
	_cleanup_free_ char *unavail =
	    xasprintf("hugepage limit 2MB: cgroup: the hugetlb controller is not available in %s: "
		      "Operation not supported",
		      f->mount);
	expect_error(update(f, "{'hugepageLimits':[{'pageSize':'2MB','limit':4194304}]}", &err),
		     &err, unavail);
	expect_file(f->mount, "cgroup.subtree_control", "");
	fake_free(f);
}

/* ---- freezer, procs, kill, events ---- */

/* Replace cgroup.events after `ms`, from a child: the kernel's report arriving late. */
static pid_t events_later(const char *dir, const char *text, unsigned ms)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
		nanosleep(&ts, NULL);
		_cleanup_free_ char *tmp = cc_path_join(dir, "cgroup.events.tmp");
		_cleanup_free_ char *dst = cc_path_join(dir, "cgroup.events");
		int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || cc_write_all(fd, text, strlen(text)) < 0 || close(fd) < 0 ||
		    rename(tmp, dst) < 0)
			_exit(1);
		_exit(0);
	}
	return pid;
}

/* Freezing writes cgroup.freeze and waits for cgroup.events to say "frozen 1" (thawing:
 * "frozen 0"); the state is what cgroup.freeze holds. */
static void test_freeze(void **state)
{
	struct fake *f = *state;
	struct cc_error *err = NULL;
	int status;

	put(f->leaf, "cgroup.events", "populated 1\nfrozen 1\n");
	assert_ok(rt_cgroup_freeze(f->cg, true, &err), &err);
	expect_file(f->leaf, "cgroup.freeze", "1");
	assert_true(rt_cgroup_is_frozen(f->cg));

	/* The kernel reports the thaw a little later: the code waits for it. */
	pid_t child = events_later(f->leaf, "populated 1\nfrozen 0\n", 50);
	assert_ok(rt_cgroup_freeze(f->cg, false, &err), &err);
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	expect_file(f->leaf, "cgroup.freeze", "0");
	_cleanup_free_ char *ev = got(f->leaf, "cgroup.events");
	assert_string_equal(ev, "populated 1\nfrozen 0\n");
	assert_false(rt_cgroup_is_frozen(f->cg));

	/* No freezer (cgroup.freeze came with 5.2): the write fails, naming the file. */
	drop(f->leaf, "cgroup.freeze");
	_cleanup_free_ char *want =
	    xasprintf("cgroup: write %s/cgroup.freeze \"1\": No such file or directory", f->leaf);
	expect_error(rt_cgroup_freeze(f->cg, true, &err), &err, want);
	assert_false(rt_cgroup_is_frozen(f->cg));
}

/* A group that never reports frozen: after the 10 s timeout the freeze is taken back. */
static void test_freeze_timeout(void **state)
{
	struct fake *f = *state;
	struct cc_error *err = NULL;

	put(f->leaf, "cgroup.events", "populated 1\nfrozen 0\n");
	_cleanup_free_ char *want =
	    xasprintf("cgroup: freeze %s: timed out waiting for \"frozen 1\": "
		      "Connection timed out",
		      f->leaf);
	expect_error(rt_cgroup_freeze(f->cg, true, &err), &err, want);
	expect_file(f->leaf, "cgroup.freeze", "0");
	assert_false(rt_cgroup_is_frozen(f->cg));
}

/* enter writes the pid to cgroup.procs; pids lists the group and its descendants, sorted and
 * without duplicates. */
static void test_enter_and_pids(void **state)
{
	struct fake *f = *state;
	struct cc_error *err = NULL;
	pid_t *pids = NULL;
	size_t n = 0;

	assert_ok(rt_cgroup_enter(f->cg, 4242, &err), &err);
	expect_file(f->leaf, "cgroup.procs", "4242");

	put(f->leaf, "cgroup.procs", "30\n10\n");
	_cleanup_free_ char *sub = cc_path_join(f->leaf, "sub");
	assert_int_equal(mkdir(sub, 0755), 0);
	put(sub, "cgroup.procs", "20\n10\n");
	assert_ok(rt_cgroup_pids(f->cg, &pids, &n, &err), &err);
	assert_int_equal(n, 3);
	assert_int_equal(pids[0], 10);
	assert_int_equal(pids[1], 20);
	assert_int_equal(pids[2], 30);
	free(pids);

	put(sub, "cgroup.procs", "20\nbogus\n");
	_cleanup_free_ char *bad =
	    xasprintf("cgroup: %s/cgroup.procs: unexpected contents: Invalid argument", sub);
	expect_error(rt_cgroup_pids(f->cg, &pids, &n, &err), &err, bad);
	assert_null(pids);
	assert_int_equal(n, 0);

	struct rt_cgroup *gone = rt_cgroup_new_on(&f->host, "/pod/gone", "x", &err);
	_cleanup_free_ char *want =
	    xasprintf("cgroup: %s/pod/gone does not exist: No such file or directory", f->mount);
	expect_error(rt_cgroup_pids(gone, &pids, &n, &err), &err, want);
	rt_cgroup_free(gone);
}

/* destroy with kill writes cgroup.kill (which kills the subtree at once) before looking for
 * processes. cgroup.procs is empty here, so nothing is signalled; a plain directory with files
 * in it cannot be removed the way a cgroup can, and the error names it. */
static void test_destroy_writes_cgroup_kill(void **state)
{
	struct fake *f = *state;
	struct cc_error *err = NULL;

	expect_file(f->leaf, "cgroup.procs", "");
	assert_int_equal(rt_cgroup_destroy(f->cg, true, &err), -1);
	expect_file(f->leaf, "cgroup.kill", "1");
	_cleanup_free_ char *want = xasprintf("cgroup: rmdir %s: ", f->leaf);
	if (strncmp(err->msg, want, strlen(want)) != 0)
		fail_msg("error \"%s\", want it to start with \"%s\"", err->msg, want);
	cc_error_free(&err);
}

static void test_oom_count(void **state)
{
	struct fake *f = *state;

	assert_int_equal(rt_cgroup_oom_count(f->cg), 0);
	put(f->leaf, "memory.events",
	    "low 0\nhigh 0\nmax 12\noom 4\noom_kill 3\noom_group_kill 0\n");
	assert_int_equal(rt_cgroup_oom_count(f->cg), 3);
}

/* ---- statistics ---- */

static void expect_json(json_t *got_j, const char *want_text)
{
	_cleanup_free_ char *text = q(want_text);
	json_error_t jerr;
	_cleanup_json_ json_t *want = json_loads(text, 0, &jerr);
	if (!want)
		fail_msg("bad expected JSON: %s: %s", jerr.text, text);
	if (!json_equal(got_j, want)) {
		_cleanup_free_ char *g = json_dumps(got_j, JSON_SORT_KEYS | JSON_COMPACT);
		_cleanup_free_ char *w = json_dumps(want, JSON_SORT_KEYS | JSON_COMPACT);
		fail_msg("stats:\n got  %s\n want %s", g, w);
	}
}

/* The skeleton's fixed parts (runc's types/events.go, every non-omitempty field). */
#define CPUSET_ZEROES                                                              \
	"'cpu_exclusive':0,'mem_hardwall':0,'mem_exclusive':0,'memory_migrate':0," \
	"'memory_spread_page':0,'memory_spread_slab':0,'memory_pressure':0,"       \
	"'sched_load_balance':0,'sched_relax_domain_level':0"
#define KERNEL_ZEROES "'kernel':{'limit':0,'failcnt':0},'kernelTCP':{'limit':0,'failcnt':0}"

/* Stat files as a kernel 6.x writes them, and runc's "data" worked out by hand: cpu.stat in
 * microseconds, runc in nanoseconds; swap figures are memory+swap (v1 style); pids.max "max"
 * is a limit of 0 (omitted); io.stat becomes v1's recursive tables, zero values omitted;
 * hugetlb.<size>.rsvd.* is not a page size of its own. */
static void test_stats(void **state)
{
	struct fake *f = *state;
	struct cc_error *err = NULL;

	put(f->leaf, "cpu.stat",
	    "usage_usec 123456\nuser_usec 100000\nsystem_usec 23456\n"
	    "core_sched.force_idle_usec 0\nnr_periods 10\nnr_throttled 3\nthrottled_usec 4500\n"
	    "nr_bursts 0\nburst_usec 0\n");
	put(f->leaf, "cpuset.cpus.effective", "0-3\n");
	put(f->leaf, "cpuset.mems.effective", "0\n");
	put(f->leaf, "memory.current", "8388608\n");
	put(f->leaf, "memory.max", "104857600\n");
	put(f->leaf, "memory.peak", "9437184\n");
	put(f->leaf, "memory.swap.current", "4096\n");
	put(f->leaf, "memory.swap.max", "104857600\n");
	put(f->leaf, "memory.events", "low 0\nhigh 0\nmax 7\noom 1\noom_kill 1\n");
	put(f->leaf, "memory.swap.events", "high 0\nmax 2\nfail 0\n");
	put(f->leaf, "memory.stat", "anon 4096\nfile 8192\nkernel 12288\nsock 0\npgfault 100\n");
	put(f->leaf, "pids.current", "3\n");
	put(f->leaf, "pids.max", "max\n");
	put(f->leaf, "io.stat",
	    "8:0 rbytes=1048576 wbytes=4096 rios=10 wios=1 dbytes=0 dios=0\n"
	    "253:1 rbytes=0 wbytes=512 rios=0 wios=2 dbytes=0 dios=0\n");
	put(f->leaf, "hugetlb.2MB.current", "2097152\n");
	put(f->leaf, "hugetlb.2MB.events", "max 1\n");
	put(f->leaf, "hugetlb.2MB.rsvd.current", "4194304\n");
	put(f->leaf, "hugetlb.1GB.current", "0\n");
	put(f->leaf, "hugetlb.1GB.events", "max 0\n");

	_cleanup_json_ json_t *s = rt_cgroup_stats(f->cg, &err);
	assert_ok(s ? 0 : -1, &err);
	expect_json(s,
		    "{'cpu':{'usage':{'total':123456000,'user':100000000,'kernel':23456000},"
		    "'throttling':{'periods':10,'throttledPeriods':3,'throttledTime':4500000}},"
		    "'cpuset':{'cpus':[0,1,2,3],'mems':[0]," CPUSET_ZEROES "},"
		    "'memory':{'cache':8192,"
		    "'usage':{'limit':104857600,'usage':8388608,'max':9437184,'failcnt':7},"
		    "'swap':{'limit':209715200,'usage':8392704,'failcnt':2}," KERNEL_ZEROES ","
		    "'raw':{'anon':4096,'file':8192,'kernel':12288,'sock':0,'pgfault':100}},"
		    "'pids':{'current':3},"
		    "'blkio':{'ioServiceBytesRecursive':["
		    "{'major':8,'op':'Read','value':1048576},{'major':8,'op':'Write','value':4096},"
		    "{'major':253,'minor':1,'op':'Read'},"
		    "{'major':253,'minor':1,'op':'Write','value':512}],"
		    "'ioServicedRecursive':["
		    "{'major':8,'op':'Read','value':10},{'major':8,'op':'Write','value':1},"
		    "{'major':253,'minor':1,'op':'Read'},"
		    "{'major':253,'minor':1,'op':'Write','value':2}]},"
		    "'hugetlb':{'2MB':{'usage':2097152,'failcnt':1},'1GB':{'failcnt':0}},"
		    "'intel_rdt':{},'network_interfaces':null}");
}

/* Unlimited values (clamped to the largest JSON integer here), no swap accounting (swap
 * figures are the memory ones), a pids limit, a group where the memory, cpuset, io and hugetlb
 * controllers are not enabled (their parts stay as in the skeleton), and a group that is gone. */
static void test_stats_edges(void **state)
{
	struct fake *f = *state;
	struct cc_error *err = NULL;
	static const char *const off[] = { "memory.max",
					   "memory.low",
					   "memory.high",
					   "memory.swap.max",
					   "memory.current",
					   "memory.swap.current",
					   "memory.peak",
					   "memory.stat",
					   "memory.events",
					   "memory.swap.events",
					   "io.stat",
					   "hugetlb.2MB.max",
					   "hugetlb.2MB.current",
					   "hugetlb.2MB.events",
					   "cpuset.cpus.effective",
					   "cpuset.mems.effective" };

	put(f->leaf, "memory.current", "4096\n");
	put(f->leaf, "memory.max", "max\n");
	drop(f->leaf, "memory.swap.current");
	drop(f->leaf, "memory.swap.max");
	drop(f->leaf, "memory.swap.events");
	drop(f->leaf, "memory.peak");
	put(f->leaf, "memory.stat", "file 0\n");
	put(f->leaf, "pids.current", "0\n");
	put(f->leaf, "pids.max", "64\n");
	put(f->leaf, "cpu.stat", "usage_usec 0\nuser_usec 0\nsystem_usec 0\n");
	_cleanup_json_ json_t *s = rt_cgroup_stats(f->cg, &err);
	assert_ok(s ? 0 : -1, &err);
	expect_json(json_object_get(s, "memory"),
		    "{'usage':{'limit':9223372036854775807,'usage':4096,'failcnt':0},"
		    "'swap':{'limit':9223372036854775807,'usage':4096,'failcnt':0}," KERNEL_ZEROES
		    ",'raw':{'file':0}}");
	expect_json(json_object_get(s, "pids"), "{'limit':64}");
	expect_json(json_object_get(s, "cpu"), "{'usage':{'user':0,'kernel':0},'throttling':{}}");

	for (size_t i = 0; i < ARRAY_SIZE(off); i++)
		if (rt_cg_has(f->leaf, off[i]))
			drop(f->leaf, off[i]);
	drop(f->leaf, "cpu.stat");
	json_decref(s);
	s = rt_cgroup_stats(f->cg, &err);
	assert_ok(s ? 0 : -1, &err);
	expect_json(s, "{'cpu':{'usage':{'user':0,'kernel':0},'throttling':{}},"
		       "'cpuset':{" CPUSET_ZEROES "},"
		       "'memory':{'usage':{'limit':0,'failcnt':0},'swap':{'limit':0,'failcnt':0}"
		       "," KERNEL_ZEROES "},"
		       "'pids':{'limit':64},'blkio':{},'hugetlb':{},'intel_rdt':{},"
		       "'network_interfaces':null}");

	struct rt_cgroup *gone = rt_cgroup_new_on(&f->host, "/pod/gone", "x", &err);
	_cleanup_free_ char *want =
	    xasprintf("cgroup: %s/pod/gone does not exist: No such file or directory", f->mount);
	assert_null(rt_cgroup_stats(gone, &err));
	assert_string_equal(err->msg, want);
	cc_error_free(&err);
	rt_cgroup_free(gone);
}

#define FAKE(t) cmocka_unit_test_setup_teardown(t, fake_setup, fake_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		FAKE(test_fake_host),
		FAKE(test_create_enables_controllers),
		FAKE(test_create_rolls_back),
		FAKE(test_update_runc_resources),
		cmocka_unit_test(test_update_conversions),
		cmocka_unit_test(test_update_io),
		cmocka_unit_test(test_update_refusals),
		cmocka_unit_test(test_update_missing_files),
		cmocka_unit_test(test_update_without_swap_accounting),
		cmocka_unit_test(test_update_enables_for_missing_files),
		FAKE(test_freeze),
		FAKE(test_freeze_timeout),
		FAKE(test_enter_and_pids),
		FAKE(test_destroy_writes_cgroup_kill),
		FAKE(test_oom_count),
		FAKE(test_stats),
		FAKE(test_stats_edges),
	};
	return cmocka_run_group_tests(tests, tmproot_setup, tmproot_teardown);
}
