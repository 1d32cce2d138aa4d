// SPDX-License-Identifier: Apache-2.0
/* Unit tests for lib/image/ocilayout.c: oci:PATH[:TAG] names, reading a layout, and writing
 * one transactionally (nothing changes before commit; abort leaves the layout as it was). */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include "image/ocilayout.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"

#include "tmproot.h"

static size_t entries(const char *dir)
{
	_cleanup_closedir_ DIR *d = opendir(dir);
	size_t n = 0;
	struct dirent *de;
	while (d && (de = readdir(d)))
		n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	return n;
}

static void test_names(void **state)
{
	char *path = NULL, *tag = NULL;
	assert_true(img_oci_parse_name("oci:/a/b:v1", &path, &tag));
	assert_string_equal(path, "/a/b");
	assert_string_equal(tag, "v1");
	free(path);
	free(tag);
	assert_true(img_oci_parse_name("oci:rel", &path, &tag));
	assert_string_equal(path, "rel");
	assert_null(tag);
	free(path);
	/* The path ends at the first ':' (as skopeo); the rest is the tag. */
	assert_true(img_oci_parse_name("oci:p:t:x", &path, &tag));
	assert_string_equal(path, "p");
	assert_string_equal(tag, "t:x");
	free(path);
	free(tag);
	assert_false(img_oci_parse_name("oci:", &path, &tag));
	assert_false(img_oci_parse_name("docker://x", &path, &tag));
	assert_false(img_oci_parse_name("/plain/path", &path, &tag));
}

/* A minimal image: a config blob and a manifest with no layers, tagged tag. */
static int write_image(const char *dir, const char *tag, char **mdigest, struct cc_error **err)
{
	struct img_oci_writer *w = img_oci_writer_begin(dir, err);
	if (!w)
		return -1;
	static const char cfg[] = "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":"
				  "{\"type\":\"layers\",\"diff_ids\":[]}}";
	_cleanup_free_ char *cdigest = NULL;
	if (img_oci_writer_put_blob(w, cfg, strlen(cfg), &cdigest, err) < 0) {
		img_oci_writer_abort(w);
		return -1;
	}
	_cleanup_free_ char *m =
	    xasprintf("{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{\"mediaType\":\"%s\","
		      "\"digest\":\"%s\",\"size\":%zu},\"layers\":[]}",
		      IMG_MT_OCI_MANIFEST, IMG_MT_OCI_CONFIG, cdigest, strlen(cfg));
	if (img_oci_writer_put_blob(w, m, strlen(m), mdigest, err) < 0) {
		img_oci_writer_abort(w);
		return -1;
	}
	_cleanup_json_ json_t *desc = json_pack("{s:s,s:s,s:I}", "mediaType", IMG_MT_OCI_MANIFEST,
						"digest", *mdigest, "size", (json_int_t)strlen(m));
	return img_oci_writer_commit(w, desc, tag, err);
}

static void test_write_and_read(void **state)
{
	struct cc_error *err = NULL;
	_cleanup_free_ char *dir = cc_path_join(root, "layout");
	_cleanup_free_ char *d1 = NULL, *d2 = NULL, *got = NULL;
	if (write_image(dir, "one", &d1, &err) < 0 || write_image(dir, "two", &d2, &err) < 0)
		fail_msg("%s", err->msg);
	/* oci-layout, index.json, blobs/: no staging directory left. */
	assert_int_equal(entries(dir), 3);
	struct img_oci *o = img_oci_open(dir, &err);
	assert_non_null(o);
	struct img_document *m = img_oci_manifest(o, "two", NULL, &got, &err);
	assert_non_null(m);
	assert_string_equal(got, d2);
	img_document_free(m);
	/* Two images: the tag is needed, and an unknown one is named with the known ones. */
	assert_null(img_oci_manifest(o, NULL, NULL, &got, &err));
	assert_non_null(strstr(err->msg, "2 images in the layout"));
	cc_error_free(&err);
	assert_null(img_oci_manifest(o, "three", NULL, &got, &err));
	assert_non_null(strstr(err->msg, "no image tagged \"three\" (tags: one, two)"));
	cc_error_free(&err);
	img_oci_close(o);

	/* A blob whose bytes are not its digest's. */
	_cleanup_free_ char *blob = xasprintf("%s/blobs/sha256/%s", dir, d1 + 7);
	assert_int_equal(cc_write_file(blob, "tampered", 8, 0, &err), 0);
	o = img_oci_open(dir, &err);
	assert_null(img_oci_manifest(o, "one", NULL, &got, &err));
	assert_non_null(strstr(err->msg, "digest mismatch"));
	cc_error_free(&err);
	img_oci_close(o);
}

static void test_abort(void **state)
{
	struct cc_error *err = NULL;
	_cleanup_free_ char *fresh = cc_path_join(root, "fresh");
	struct img_oci_writer *w = img_oci_writer_begin(fresh, &err);
	_cleanup_free_ char *digest = NULL;
	assert_non_null(w);
	assert_int_equal(img_oci_writer_put_blob(w, "x", 1, &digest, &err), 0);
	img_oci_writer_abort(w);
	assert_false(cc_path_exists(fresh)); /* created by the writer: removed again */

	_cleanup_free_ char *kept = cc_path_join(root, "kept");
	_cleanup_free_ char *d1 = NULL;
	assert_int_equal(write_image(kept, "one", &d1, &err), 0);
	_cleanup_free_ char *index = cc_path_join(kept, "index.json");
	_cleanup_free_ char *before = cc_read_file(index, 0, NULL, &err);
	w = img_oci_writer_begin(kept, &err);
	assert_non_null(w);
	free(digest);
	digest = NULL;
	assert_int_equal(img_oci_writer_put_blob(w, "new blob", 8, &digest, &err), 0);
	img_oci_writer_abort(w);
	_cleanup_free_ char *after = cc_read_file(index, 0, NULL, &err);
	assert_string_equal(before, after);
	_cleanup_free_ char *nblob = xasprintf("%s/blobs/sha256/%s", kept, digest + 7);
	assert_false(cc_path_exists(nblob));
	assert_int_equal(entries(kept), 3);

	/* Not a layout, not empty: refused, untouched. */
	_cleanup_free_ char *other = cc_path_join(root, "other");
	_cleanup_free_ char *file = cc_path_join(other, "mine");
	assert_int_equal(cc_mkdir_p(other, 0755, &err), 0);
	assert_int_equal(cc_write_file(file, "x", 1, 0644, &err), 0);
	assert_null(img_oci_writer_begin(other, &err));
	assert_non_null(strstr(err->msg, "exists and is not an OCI layout"));
	cc_error_free(&err);
	assert_int_equal(entries(other), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_write_and_read),
		cmocka_unit_test(test_abort),
	};
	return cmocka_run_group_tests(tests, tmproot_setup, tmproot_teardown);
}
