// SPDX-License-Identifier: Apache-2.0
/* The public PAL header: its structures have the upstream binary layout (x86-64, natural
 * alignment). The header's static assertions already stop a build that drifts; these tests say
 * the same thing field by field, so a failure names the field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "enclave/pal_api.h"

static void test_attr_layout(void **state)
{
	assert_int_equal(offsetof(struct pal_attr_v1, args), 0);
	assert_int_equal(offsetof(struct pal_attr_v1, log_level), 8);
	assert_int_equal(sizeof(struct pal_attr_v1), 16);
	assert_int_equal(offsetof(struct pal_attr_v3, attr_v1), 0);
	assert_int_equal(offsetof(struct pal_attr_v3, fd), 16);
	assert_int_equal(offsetof(struct pal_attr_v3, addr), 24);
	assert_int_equal(sizeof(struct pal_attr_v3), 32);
}

static void test_process_layout(void **state)
{
	assert_int_equal(offsetof(struct pal_stdio_fds, stdin_fd), 0);
	assert_int_equal(offsetof(struct pal_stdio_fds, stdout_fd), 4);
	assert_int_equal(offsetof(struct pal_stdio_fds, stderr_fd), 8);
	assert_int_equal(sizeof(struct pal_stdio_fds), 12);
	assert_int_equal(offsetof(struct pal_create_process_args, path), 0);
	assert_int_equal(offsetof(struct pal_create_process_args, argv), 8);
	assert_int_equal(offsetof(struct pal_create_process_args, env), 16);
	assert_int_equal(offsetof(struct pal_create_process_args, stdio), 24);
	assert_int_equal(offsetof(struct pal_create_process_args, pid), 32);
	assert_int_equal(sizeof(struct pal_create_process_args), 40);
	/* Upstream's documents pack this one (exit_value at 4); rune has always used 8. */
	assert_int_equal(offsetof(struct pal_exec_args, exit_value), 8);
	assert_int_equal(sizeof(struct pal_exec_args), 16);
	assert_int_equal(PAL_TARGETINFO_SIZE, 512);
	assert_int_equal(PAL_REPORT_SIZE, 432);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_attr_layout),
		cmocka_unit_test(test_process_layout),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
