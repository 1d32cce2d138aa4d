// SPDX-License-Identifier: Apache-2.0
/* containerd-shim-rune-v2's pure parts: container ids, stdio URIs, a logging binary's
 * command, the settings file and the runtime options containerd sends. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "ctd-runc-options.pb-c.h"
#include "ctd-runtimeoptions.pb-c.h"
#include "shim.h"
#include "util/strv.h"

static void test_ids(void **state)
{
	assert_true(shim_id_valid("a"));
	assert_true(shim_id_valid("Pod-1.x_y"));
	assert_true(
	    shim_id_valid("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"));
	assert_false(shim_id_valid(""));
	assert_false(shim_id_valid("-a"));
	assert_false(shim_id_valid(".a"));
	assert_false(shim_id_valid("a/b"));
	assert_false(shim_id_valid("../x"));
	assert_false(shim_id_valid("a b"));
	char long_id[78];
	memset(long_id, 'a', 77);
	long_id[77] = '\0';
	assert_false(shim_id_valid(long_id));
	long_id[76] = '\0';
	assert_true(shim_id_valid(long_id));
}

static void test_schemes(void **state)
{
	const char *path;
	assert_string_equal(shim_stdio_scheme("/run/x/c-stdout", &path), "fifo");
	assert_string_equal(path, "/run/x/c-stdout");
	assert_string_equal(shim_stdio_scheme("fifo:///run/f", &path), "fifo");
	assert_string_equal(path, "/run/f");
	assert_string_equal(shim_stdio_scheme("file:///var/log/c.log", &path), "file");
	assert_string_equal(path, "/var/log/c.log");
	assert_string_equal(shim_stdio_scheme("binary:///bin/logger?x=1", &path), "binary");
	assert_string_equal(path, "/bin/logger?x=1");
	assert_null(shim_stdio_scheme("http://example.com/x", &path));
	/* a "://" after the first slash is part of a path */
	assert_string_equal(shim_stdio_scheme("/tmp/a://b", &path), "fifo");
}

static void test_logger_argv(void **state)
{
	char **argv = NULL;
	struct cc_error *err = NULL;
	assert_int_equal(shim_logger_argv("/usr/bin/log%20ger?id=a+b&flag&k=%2Fv", &argv, &err), 0);
	assert_int_equal(cc_strv_len(argv), 6);
	assert_string_equal(argv[0], "/usr/bin/log ger");
	assert_string_equal(argv[1], "id");
	assert_string_equal(argv[2], "a b");
	assert_string_equal(argv[3], "flag");
	assert_string_equal(argv[4], "k");
	assert_string_equal(argv[5], "/v");
	cc_strv_free(argv);
	argv = NULL;
	assert_int_equal(shim_logger_argv("/l?k=%2Fv", &argv, &err), 0);
	assert_string_equal(argv[2], "/v");
	cc_strv_free(argv);
	/* refused: a relative program, a broken escape, a NUL */
	static const char *const bad[] = { "logger", "/l?k=%2", "/l?k=%zz", "/l?k=%00", "%2Fl%" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		argv = NULL;
		assert_int_equal(shim_logger_argv(bad[i], &argv, &err), -1);
		assert_null(argv);
		assert_non_null(err);
		assert_null(strchr(err->msg, '\n'));
		cc_error_free(&err);
	}
}

static void settings(const char *text, struct shim_runtime *rt, const char *want_err)
{
	struct cc_error *err = NULL;
	memset(rt, 0, sizeof(*rt));
	int r = shim_settings_parse(rt, "shim.json", text, strlen(text), &err);
	if (!want_err) {
		if (r != 0)
			fail_msg("%s: %s", text, err->msg);
		return;
	}
	assert_int_equal(r, -1);
	assert_string_equal(err->msg, want_err);
	cc_error_free(&err);
	shim_runtime_clear(rt);
}

static void test_settings(void **state)
{
	struct shim_runtime rt;
	settings("{\"rune\":\"/opt/rune\",\"root\":\"/run/r\",\"debug\":true}", &rt, NULL);
	assert_string_equal(rt.rune, "/opt/rune");
	assert_string_equal(rt.root, "/run/r");
	assert_true(rt.debug);
	assert_null(rt.agent_bundle);
	shim_runtime_clear(&rt);

	settings("{\"pod\":{\"agent_bundle\":\"/opt/agent\",\"agent_args\":[\"-x\"],"
		 "\"pull_timeout_s\":600}}",
		 &rt, NULL);
	assert_string_equal(rt.agent_bundle, "/opt/agent");
	assert_string_equal(rt.agent_root, "/run/rune/pods");
	assert_string_equal(rt.agent_ctl, "agent-ctl");
	assert_int_equal(rt.agent_start_timeout_ns, 120 * 1000000000LL);
	assert_int_equal(rt.agent_pull_timeout_ns, 600 * 1000000000LL);
	assert_string_equal(rt.agent_args[0], "-x");
	shim_runtime_clear(&rt);

	settings("{\"rune\":3}", &rt, "shim.json: rune: expected string, got integer");
	settings("{\"runc\":\"x\"}", &rt, "shim.json: unknown key \"runc\"");
	settings("{\"root\":\"run\"}", &rt, "shim.json: root: \"run\" is not an absolute path");
	settings("{\"pod\":{}}", &rt, "shim.json: pod.agent_bundle: required");
	settings("{\"pod\":{\"agent_bundle\":\"a\"}}", &rt,
		 "shim.json: pod.agent_bundle: \"a\" is not an absolute path");
	settings("{\"pod\":{\"agent_bundle\":\"/a\",\"start_timeout_s\":0}}", &rt,
		 "shim.json: pod.start_timeout_s: 0 out of range [1, 86400]");
	settings("[1]", &rt, "shim.json: expected object, got array");
}

/* containerd's runtime options: runc's (BinaryName, Root) override the defaults. */
static void test_runtime_options(void **state)
{
	struct shim_runtime rt = { 0 };
	struct cc_error *err = NULL;
	Containerd__Runc__V1__Options o = CONTAINERD__RUNC__V1__OPTIONS__INIT;
	o.binary_name = (char *)"/opt/rune";
	o.root = (char *)"/run/rr";
	uint8_t buf[256];
	size_t len = protobuf_c_message_pack(&o.base, buf);
	assert_int_equal(
	    shim_runtime_load(&rt, "k8s.io", "containerd.runc.v1.Options", buf, len, &err), 0);
	assert_string_equal(rt.rune, "/opt/rune");
	assert_string_equal(rt.root, "/run/rr/k8s.io");
	shim_runtime_clear(&rt);

	Runtimeoptions__V1__Options ro = RUNTIMEOPTIONS__V1__OPTIONS__INIT;
	ro.config_path = (char *)"/nonexistent/shim.json";
	len = protobuf_c_message_pack(&ro.base, buf);
	assert_int_equal(
	    shim_runtime_load(&rt, "default", "runtimeoptions.v1.Options", buf, len, &err), -1);
	assert_non_null(strstr(err->msg, "/nonexistent/shim.json"));
	cc_error_free(&err);
	shim_runtime_clear(&rt);

	assert_int_equal(shim_runtime_load(&rt, "default", "example.com/Other", buf, len, &err),
			 -1);
	assert_string_equal(err->msg, "runtime options: unknown type \"example.com/Other\"");
	cc_error_free(&err);
	shim_runtime_clear(&rt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ids),
		cmocka_unit_test(test_schemes),
		cmocka_unit_test(test_logger_argv),
		cmocka_unit_test(test_settings),
		cmocka_unit_test(test_runtime_options),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
