/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The skeleton PAL (v3) as the attest tests use it: where it is (TEST_SKELETON_V3, else next to
 * the test in the build tree) and a REPORT from it, loaded once with dlopen.
 */
#pragma once

#include <dlfcn.h>
#include <errno.h>
#include <libgen.h>
#include <signal.h>
#include <unistd.h>
#include "attest-helpers.h"
#include "enclave/pal_api.h"
#include "enclave/sgx_report.h"

static inline char *skeleton_path(void)
{
	const char *env = getenv("TEST_SKELETON_V3");
	if (env)
		return xstrdup(env);
	/* BUILD/tests/unit/test-attest-* -> BUILD/pal/skeleton/liberpal-skeleton.so */
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	assert_true(n > 0);
	exe[n] = '\0';
	char *build = dirname(dirname(dirname(exe)));
	return xasprintf("%s/pal/skeleton/liberpal-skeleton.so", build);
}

/* Skips the test when the skeleton PAL is not there. */
static inline void need_skeleton(void)
{
	_cleanup_free_ char *path = skeleton_path();
	if (access(path, R_OK) < 0) {
		print_message("no skeleton PAL at %s: skipped\n", path);
		skip();
	}
}

/* A REPORT from the skeleton for target ti with report data rd (rd_len bytes, at most 64, the
 * rest zero), of an enclave running /bin/true; skips the test when the module is not there. */
static inline void skeleton_report(const struct sgx_target_info *ti, const void *rd, size_t rd_len,
				   uint8_t rep[432])
{
	_cleanup_free_ char *path = skeleton_path();
	need_skeleton();
	/* Loaded once and kept: pal_destroy returns it to its initial state. */
	static void *h;
	if (!h)
		h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h)
		fail_msg("dlopen %s: %s", path, dlerror());
	pal_init_v3_fn init = (pal_init_v3_fn)dlsym(h, "pal_init");
	pal_create_process_fn create = (pal_create_process_fn)dlsym(h, "pal_create_process");
	pal_get_local_report_fn report = (pal_get_local_report_fn)dlsym(h, "pal_get_local_report");
	pal_destroy_fn destroy = (pal_destroy_fn)dlsym(h, "pal_destroy");
	assert_true(init && create && report && destroy);

	struct pal_attr_v3 a = { .attr_v1 = { "", "off" }, .fd = -1, .addr = 0 };
	assert_int_equal(init(&a), 0);
	static const char *argv[] = { "true", NULL }, *env[] = { "PATH=/usr/bin:/bin", NULL };
	struct pal_stdio_fds stdio = { 0, 1, 2 };
	int pid = -1;
	struct pal_create_process_args c = { "/bin/true", argv, env, &stdio, &pid };
	assert_int_equal(create(&c), 0);
	uint8_t tinfo[512];
	memcpy(tinfo, ti, sizeof(tinfo));
	memset(rep, 0, 432);
	assert_true(rd_len <= 64);
	memcpy(rep + 320, rd, rd_len);
	int len = 432;
	assert_int_equal(report(tinfo, sizeof(tinfo), rep, &len), 0);
	assert_int_equal(len, 432);
	assert_int_equal(destroy(), 0);
	assert_true(kill(pid, 0) < 0 && errno == ESRCH);
}
