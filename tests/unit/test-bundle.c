// SPDX-License-Identifier: Apache-2.0
/* Unit tests for lib/image/bundle.c's view of unmerged layers: a file as overlayfs would show
 * it (whiteouts, opaque directories, links), and the runtime config generated from it, which
 * never carries the image's enclave settings. */
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
#include "util/json.h"
#include "util/log.h"

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
	assert_int_equal(cc_rm_rf(f->root, &err), 0);
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

/* ---- enclave settings ---- */

static const char spec_with_env[] =
    "{\"process\":{\"args\":[\"sh\"],\"env\":[\"PATH=/bin\",\"TERM=xterm\"]},\"root\":{}}";

/* The log sink's output from now on, in a file of the fixture (read with log_text). */
static char *log_to_file(struct fixture *f)
{
	char *path = cc_path_join(f->root, "log");
	assert_int_equal(cc_log_init(path, CC_LOG_TEXT, CC_LOG_WARNING), 0);
	return path;
}

static char *log_text(const char *path)
{
	struct cc_error *err = NULL;
	size_t len;
	char *text = cc_read_file(path, 1 << 20, &len, &err);
	if (!text)
		fail_msg("%s", err->msg);
	return text;
}

static bool env_has(const json_t *cfg, const char *entry)
{
	json_t *v;
	size_t i;
	json_array_foreach (json_object_get(json_object_get(cfg, "process"), "env"), i, v)
		if (!strcmp(json_string_value(v), entry))
			return true;
	return false;
}

static void test_config_drops_enclave_settings(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *log = log_to_file(f);
	put(f->layers[0], "etc/passwd", "root:x:0:0::/root:/bin/sh\n");
	char sh[] = "/bin/sh", e0[] = "ENCLAVE_TYPE=simulated",
	     e1[] = "ENCLAVE_RUNTIME_PATH=/proc/self/cwd/rootfs/lib/x.so",
	     e2[] = "ENCLAVE_FOO=not-for-the-log", e3[] = "GREETING=hello", e4[] = "ENCLAVE_BARE",
	     e5[] = "enclave_type=lower", e6[] = "XENCLAVE_TYPE=inside";
	char *cmd[] = { sh, NULL }, *env[] = { e0, e1, e2, e3, e4, e5, e6, NULL };
	_cleanup_json_ json_t *labels =
	    json_pack("{s:s,s:s,s:s,s:s}", "enclave.type", "simulated", "enclave.runtime.path",
		      "/lib/x.so", "org.example.label", "yes", "Enclave.Type", "other case");
	struct img_config c = { .cmd = cmd, .env = env, .labels = labels };
	struct cc_error *err = NULL;
	_cleanup_json_ json_t *cfg =
	    img_bundle_config_layers(&c, spec_with_env, f->layers, 3, &err);
	if (!cfg)
		fail_msg("%s", err->msg);

	/* The rest of Env stays, after the default spec's; names are case-sensitive. */
	json_t *out_env = json_object_get(json_object_get(cfg, "process"), "env");
	assert_int_equal(json_array_size(out_env), 5);
	assert_true(env_has(cfg, "PATH=/bin") && env_has(cfg, "TERM=xterm"));
	assert_true(env_has(cfg, "GREETING=hello") && env_has(cfg, "enclave_type=lower"));
	assert_true(env_has(cfg, "XENCLAVE_TYPE=inside"));
	json_t *v;
	size_t i;
	json_array_foreach (out_env, i, v)
		assert_int_not_equal(strncmp(json_string_value(v), "ENCLAVE_", 8), 0);
	json_t *ann = json_object_get(cfg, "annotations");
	assert_int_equal(json_object_size(ann), 2);
	assert_string_equal(json_string_value(json_object_get(ann, "org.example.label")), "yes");
	assert_non_null(json_object_get(ann, "Enclave.Type"));
	/* The image config itself is left alone. */
	assert_int_equal(json_object_size(labels), 4);

	/* One warning per setting, by name, without its value. */
	_cleanup_free_ char *text = log_text(log);
	static const char *const named[] = { "Env ENCLAVE_TYPE",   "Env ENCLAVE_RUNTIME_PATH",
					     "Env ENCLAVE_FOO",	   "Env ENCLAVE_BARE",
					     "label enclave.type", "label enclave.runtime.path" };
	for (size_t k = 0; k < sizeof(named) / sizeof(*named); k++) {
		_cleanup_free_ char *line = xasprintf(
		    "image config: %s dropped: enclave settings come only from the operator",
		    named[k]);
		if (!strstr(text, line))
			fail_msg("no \"%s\" in the log:\n%s", line, text);
	}
	int lines = 0;
	for (const char *p = text; (p = strchr(p, '\n')); p++)
		lines++;
	assert_int_equal(lines, 6);
	assert_null(strstr(text, "not-for-the-log"));
	assert_null(strstr(text, "/proc/self/cwd"));
	assert_null(strstr(text, "simulated"));
}

static void test_only_enclave_labels_leave_no_annotations(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *log = log_to_file(f);
	char sh[] = "/bin/sh";
	char *cmd[] = { sh, NULL };
	_cleanup_json_ json_t *labels = json_pack("{s:s}", "enclave.type", "simulated");
	struct img_config c = { .cmd = cmd, .labels = labels };
	struct cc_error *err = NULL;
	_cleanup_json_ json_t *cfg =
	    img_bundle_config_layers(&c, spec_with_env, f->layers, 3, &err);
	if (!cfg)
		fail_msg("%s", err->msg);
	assert_null(json_object_get(cfg, "annotations"));
	assert_int_equal(json_array_size(json_object_get(json_object_get(cfg, "process"), "env")),
			 2);
}

struct dropped {
	char *names[8];
	enum img_enclave_setting what[8];
	size_t n;
};

static void collect(enum img_enclave_setting what, const char *name, void *data)
{
	struct dropped *d = data;
	assert_true(d->n < 8);
	d->what[d->n] = what;
	d->names[d->n++] = xstrdup(name);
}

/* A config.json written by someone else (agent-ctl mount's case): odd entries, names meant to
 * forge log lines or flood them. */
static void test_strip_hostile_config(void **state)
{
	(void)state;
	_cleanup_free_ char *long_name = xzalloc(400);
	memset(long_name, 'A', 300);
	_cleanup_free_ char *text =
	    xasprintf("{\"process\":{\"env\":[\"ENCLAVE_TYPE=simulated\",1,\"KEEP=1\","
		      "\"ENCLAVE_X\\nforged line=v\",\"ENCLAVE_%s=v\"]},"
		      "\"annotations\":{\"enclave.type\":\"simulated\",\"keep\":\"x\","
		      "\"enclave.runtime.path\":\"/lib/x.so\",\"enclav\":\"e\"}}",
		      long_name);
	struct cc_error *err = NULL;
	_cleanup_json_ json_t *cfg = cc_json_load_buf("config.json", text, strlen(text), &err);
	if (!cfg)
		fail_msg("%s", err->msg);
	struct dropped d = { 0 };
	assert_int_equal(img_bundle_strip_enclave(cfg, collect, &d), 5);
	assert_int_equal(d.n, 5);
	assert_string_equal(d.names[0], "ENCLAVE_TYPE");
	assert_string_equal(d.names[1], "ENCLAVE_X\\x0aforged line");
	assert_int_equal(strlen(d.names[2]), 128 + 3);
	assert_string_equal(d.names[2] + 128, "...");
	assert_string_equal(d.names[3], "enclave.type");
	assert_string_equal(d.names[4], "enclave.runtime.path");
	for (size_t i = 0; i < d.n; i++) {
		assert_int_equal(d.what[i], i < 3 ? IMG_ENCLAVE_ENV : IMG_ENCLAVE_ANNOTATION);
		free(d.names[i]);
	}
	json_t *env = json_object_get(json_object_get(cfg, "process"), "env");
	assert_int_equal(json_array_size(env), 2);
	assert_int_equal(json_integer_value(json_array_get(env, 0)), 1);
	assert_string_equal(json_string_value(json_array_get(env, 1)), "KEEP=1");
	json_t *ann = json_object_get(cfg, "annotations");
	assert_int_equal(json_object_size(ann), 2);
	assert_non_null(json_object_get(ann, "keep"));
	assert_non_null(json_object_get(ann, "enclav"));
	/* Nothing left to drop; shapes without env or annotations are no trouble. */
	assert_int_equal(img_bundle_strip_enclave(cfg, NULL, NULL), 0);
	_cleanup_json_ json_t *odd =
	    json_pack("{s:s,s:[s]}", "process", "x", "annotations", "enclave.type");
	assert_int_equal(img_bundle_strip_enclave(odd, collect, &d), 0);
	assert_int_equal(d.n, 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_topmost_copy_wins, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hidden_by_upper_layers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_opaque_directory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config_from_layers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config_drops_enclave_settings, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_only_enclave_labels_leave_no_annotations,
						setup, teardown),
		cmocka_unit_test(test_strip_hostile_config),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
