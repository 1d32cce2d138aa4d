/* SPDX-License-Identifier: Apache-2.0 */
/* For a cmocka test group: `root`, a temporary directory made by tmproot_setup and removed with
 * everything in it by tmproot_teardown (pass both to cmocka_run_group_tests). */
#pragma once

#include <stdlib.h>
#include "util/cleanup.h"
#include "util/fs.h"

static char *root;

static int tmproot_setup(void **state)
{
	char tmpl[] = "/tmp/rune-unit-XXXXXX";
	if (!mkdtemp(tmpl))
		return -1;
	root = xstrdup(tmpl);
	return 0;
}

static int tmproot_teardown(void **state)
{
	struct cc_error *err = NULL;
	assert_int_equal(cc_rm_rf(root, &err), 0);
	cc_error_free(&err);
	free(root);
	return 0;
}
