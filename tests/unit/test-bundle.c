// SPDX-License-Identifier: Apache-2.0
/* Unit tests for lib/image/bundle.c's view of unmerged layers: a file as overlayfs would show
 * it (whiteouts, opaque directories, links), and the runtime config generated from it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <cmocka.h>
#include "image/bundle.h"
#include "util/cleanup.h"
#include "util/fs.h"

struct fixture {
	char root[64];
	char *layers[3]; /* bottom, middle, top */
};

static int setup(void **state)
{
	struct fixture *f = xzalloc(sizeof(*f));
	snprintf(f->root, sizeof(f->root), "/tmp/test-bundle-XXXXXX");
	if (!mkdtemp(f->root))
		return -1;
	for (int i = 0; i < 3; i++) {
		f->layers[i] = xasprintf("%s/l%d", f->root, i);
		mkdir(f->layers[i], 0755);
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	struct cc_error *err = NULL;
	cc_rm_rf(f->root, &err);
	cc_error_free(&err);
	for (int i = 0; i < 3; i++)
		free(f->layers[i]);
	free(f);
	return 0;
}

static void put(const char *layer, const char *path, const char *text)
{
	_cleanup_free_ char *p = cc_path_join(layer, path);
	_cleanup_free_ char *dir = xstrdup(p);
	struct cc_error *err = NULL;
	*strrchr(dir, '/') = '\0';
	assert_int_equal(cc_mkdir_p(dir, 0755, &err), 0);
	if (text)
		assert_int_equal(cc_write_file(p, text, strlen(text), 0644, &err), 0);
}

static char *lookup(struct fixture *f, const char *path)
{
	return img_layers_read_file(f->layers, 3, path);
}

static void test_topmost_copy_wins(void **state)
{
	struct fixture *f = *state;
	put(f->layers[0], "etc/passwd", "bottom\n");
	_cleanup_free_ char *a = lookup(f, "/etc/passwd");
	assert_string_equal(a, "bottom\n");
	put(f->layers[2], "etc/passwd", "top\n");
	_cleanup_free_ char *b = lookup(f, "/etc/passwd");
	assert_string_equal(b, "top\n");
	/* A middle layer with only other files in etc/ does not hide the bottom one. */
	put(f->layers[1], "etc/hostname", "x\n");
	_cleanup_free_ char *c = lookup(f, "etc/group");
	assert_null(c);
	/* A link is followed inside its layer. */
	put(f->layers[1], "usr/share/group", "linked\n");
	put(f->layers[1], "etc/x", NULL);
	_cleanup_free_ char *link = cc_path_join(f->layers[1], "etc/group");
	assert_int_equal(symlink("../usr/share/group", link), 0);
	_cleanup_free_ char *d = lookup(f, "/etc/group");
	assert_string_equal(d, "linked\n");
	/* Nothing above the layer root. */
	_cleanup_free_ char *e = lookup(f, "/../l0/etc/passwd");
	assert_null(e);
}

static void test_hidden_by_upper_layers(void **state)
{
	struct fixture *f = *state;
	put(f->layers[0], "etc/passwd", "bottom\n");
	put(f->layers[0], "etc/group", "bottom\n");
	/* etc/passwd whited out in the middle layer (a 0/0 character device). */
	_cleanup_free_ char *wh = cc_path_join(f->layers[1], "etc/passwd");
	put(f->layers[1], "etc/passwd", NULL);
	if (mknod(wh, S_IFCHR | 0600, makedev(0, 0)) < 0)
		skip(); /* no CAP_MKNOD here */
	_cleanup_free_ char *a = lookup(f, "/etc/passwd");
	assert_null(a);
	_cleanup_free_ char *b = lookup(f, "/etc/group");
	assert_string_equal(b, "bottom\n");
	/* A file where a directory should be hides everything below it. */
	put(f->layers[2], "etc", "not a directory\n");
	_cleanup_free_ char *c = lookup(f, "/etc/group");
	assert_null(c);
}

static void test_opaque_directory(void **state)
{
	struct fixture *f = *state;
	put(f->layers[0], "etc/group", "bottom\n");
	put(f->layers[2], "etc/hostname", "top\n");
	_cleanup_free_ char *etc = cc_path_join(f->layers[2], "etc");
	if (setxattr(etc, "trusted.overlay.opaque", "y", 1, 0) < 0 &&
	    setxattr(etc, "user.overlay.opaque", "y", 1, 0) < 0)
		skip(); /* neither xattr namespace available */
	_cleanup_free_ char *a = lookup(f, "/etc/group");
	assert_null(a);
	_cleanup_free_ char *b = lookup(f, "/etc/hostname");
	assert_string_equal(b, "top\n");
}

static void test_config_from_layers(void **state)
{
	struct fixture *f = *state;
	put(f->layers[0], "etc/passwd", "root:x:0:0::/root:/bin/sh\n");
	put(f->layers[0], "etc/group", "root:x:0:\napp:x:1234:\nextra:x:777:app\n");
	put(f->layers[2], "etc/passwd", "root:x:0:0::/root:/bin/sh\napp:x:1234:1234::/:/bin/sh\n");
	char app[] = "/bin/app", name[] = "app", nobody[] = "nobody";
	char *cmd[] = { app, NULL };
	struct img_config c = { .user = name, .cmd = cmd };
	static const char spec[] = "{\"process\":{\"args\":[\"sh\"],\"env\":[]},\"root\":{}}";
	struct cc_error *err = NULL;
	json_t *cfg = img_bundle_config_layers(&c, spec, f->layers, 3, &err);
	if (!cfg)
		fail_msg("%s", err->msg);
	json_t *user = json_object_get(json_object_get(cfg, "process"), "user");
	assert_int_equal(json_integer_value(json_object_get(user, "uid")), 1234);
	assert_int_equal(json_integer_value(json_object_get(user, "gid")), 1234);
	assert_int_equal(
	    json_integer_value(json_array_get(json_object_get(user, "additionalGids"), 0)), 777);
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(cfg, "root"), "path")), "rootfs");
	json_decref(cfg);
	/* A user the (merged) passwd does not have is refused. */
	c.user = nobody;
	assert_null(img_bundle_config_layers(&c, spec, f->layers, 3, &err));
	assert_string_equal(err->msg,
			    "image user \"nobody\": no such user in the image's /etc/passwd");
	cc_error_free(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_topmost_copy_wins, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hidden_by_upper_layers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_opaque_directory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config_from_layers, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
