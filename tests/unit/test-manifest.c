// SPDX-License-Identifier: Apache-2.0
/* Unit tests for lib/image/manifest.c: indexes, manifests, configs, platform selection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "image/error.h"
#include "image/manifest.h"
#include "util/cleanup.h"

#define D(c)                                                                                      \
	"sha256:" c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c \
	    c c c c c c c c c c c c c c c c c c c c c c c c
#define DA D("a")
#define DB D("b")
#define DC D("c")
#define DD D("d")

/* JSON written with single quotes for legibility. */
static char *q(const char *s)
{
	char *r = xstrdup(s);
	for (char *p = r; *p; p++)
		if (*p == '\'')
			*p = '"';
	return r;
}

static struct img_document *parse(const char *json, const char *ct, struct cc_error **err)
{
	_cleanup_free_ char *t = q(json);
	return img_document_parse("test", t, strlen(t), ct, err);
}

static struct img_document *parse_ok(const char *json, const char *ct)
{
	struct cc_error *err = NULL;
	struct img_document *d = parse(json, ct, &err);
	if (!d)
		fail_msg("%s", err->msg);
	return d;
}

static void expect_error(const char *json, const char *ct, const char *want)
{
	struct cc_error *err = NULL;
	struct img_document *d = parse(json, ct, &err);
	if (d) {
		img_document_free(d);
		fail_msg("accepted: %s", json);
	}
	if (strcmp(err->msg, want) != 0)
		fail_msg("%s\n  got:  %s\n  want: %s", json, err->msg, want);
	cc_error_free(&err);
}

#define INDEX                                                                           \
	"{'schemaVersion': 2, 'mediaType': '" IMG_MT_OCI_INDEX "', 'manifests': ["      \
	" {'mediaType': '" IMG_MT_OCI_MANIFEST "', 'digest': '" DA "', 'size': 100,"    \
	"  'platform': {'os': 'linux', 'architecture': 'amd64'}},"                      \
	" {'mediaType': '" IMG_MT_OCI_MANIFEST "', 'digest': '" DB "', 'size': 101,"    \
	"  'platform': {'os': 'linux', 'architecture': 'arm64', 'variant': 'v8'}},"     \
	" {'mediaType': '" IMG_MT_OCI_MANIFEST "', 'digest': '" DC "', 'size': 102,"    \
	"  'platform': {'os': 'linux', 'architecture': 'arm', 'variant': 'v6'}},"       \
	" {'mediaType': 'application/vnd.in-toto+json', 'digest': '" DD "', 'size': 5," \
	"  'platform': {'os': 'unknown', 'architecture': 'unknown'}}]}"

static void test_index_and_platforms(void **state)
{
	struct img_document *d = parse_ok(INDEX, NULL);
	assert_int_equal(d->kind, IMG_DOC_INDEX);
	assert_int_equal(d->n_manifests, 4);
	assert_string_equal(d->manifests[1].platform.variant, "v8");
	assert_int_equal(d->manifests[2].size, 102);

	struct cc_error *err = NULL;
	struct img_platform want = { 0 };
	assert_int_equal(img_platform_parse("linux/amd64", &want, &err), 0);
	assert_string_equal(img_index_select(d, &want, "x", &err)->digest, DA);
	img_platform_clear(&want);
	/* arm64 without a variant is arm64/v8 */
	assert_int_equal(img_platform_parse("linux/arm64", &want, &err), 0);
	assert_string_equal(img_index_select(d, &want, "x", &err)->digest, DB);
	img_platform_clear(&want);
	/* arm defaults to v7, which the index does not have */
	assert_int_equal(img_platform_parse("linux/arm", &want, &err), 0);
	assert_null(img_index_select(d, &want, "docker.io/library/x:1", &err));
	assert_string_equal(err->msg, "index docker.io/library/x:1: no image for platform "
				      "linux/arm (the index has: linux/amd64, linux/arm64/v8, "
				      "linux/arm/v6)");
	cc_error_free(&err);
	img_platform_clear(&want);
	assert_int_equal(img_platform_parse("linux/arm/v6", &want, &err), 0);
	assert_string_equal(img_index_select(d, &want, "x", &err)->digest, DC);
	img_platform_clear(&want);
	img_document_free(d);

	assert_int_equal(img_platform_parse("linux", &want, &err), -1);
	assert_string_equal(err->msg, "invalid platform \"linux\": want os/arch[/variant]");
	cc_error_free(&err);
	assert_int_equal(img_platform_parse("linux//v7", &want, &err), -1);
	cc_error_free(&err);
	assert_int_equal(img_platform_parse("a/b/c/d", &want, &err), -1);
	cc_error_free(&err);

	struct img_platform host;
	img_platform_host(&host);
	assert_string_equal(host.os, "linux");
	assert_non_null(host.architecture);
	_cleanup_free_ char *hs = img_platform_string(&host);
	assert_true(strncmp(hs, "linux/", 6) == 0);
	img_platform_clear(&host);
}

/* An index entry that is itself an index (skopeo refuses them, and so do we), with or without
 * a platform, around a manifest entry. */
static struct img_document *nested(const char *entries)
{
	_cleanup_free_ char *json = xasprintf("{'schemaVersion': 2, 'mediaType': '" IMG_MT_OCI_INDEX
					      "', 'manifests': [%s]}",
					      entries);
	return parse_ok(json, NULL);
}

#define ENTRY(mt, dg, plat) "{'mediaType': '" mt "', 'digest': '" dg "', 'size': 100" plat "}"
#define AMD64 ", 'platform': {'os': 'linux', 'architecture': 'amd64'}"
#define S390X ", 'platform': {'os': 'linux', 'architecture': 's390x'}"

static void expect_nested(const char *entries, const char *entry)
{
	struct img_document *d = nested(entries);
	struct img_platform want = { 0 };
	struct cc_error *err = NULL;
	assert_int_equal(img_platform_parse("linux/amd64", &want, &err), 0);
	assert_null(img_index_select(d, &want, DA, &err));
	_cleanup_free_ char *msg = xasprintf(
	    "index %s: entry %s is itself an index (nested indexes are not supported)", DA, entry);
	assert_string_equal(err->msg, msg);
	assert_int_equal(err->code, IMG_ERR_INVALID);
	cc_error_free(&err);
	img_platform_clear(&want);
	img_document_free(d);
}

static void test_nested_index(void **state)
{
	/* For the platform wanted, or for none: refused by name (it used to read "no image for
	 * platform linux/amd64 (the index has: none)"). */
	expect_nested(ENTRY(IMG_MT_OCI_INDEX, DB, AMD64), DB);
	expect_nested(ENTRY(IMG_MT_DOCKER_LIST, DB, AMD64), DB);
	expect_nested(ENTRY(IMG_MT_OCI_INDEX, DB, ""), DB);
	expect_nested(ENTRY(IMG_MT_OCI_INDEX, DC, S390X) "," ENTRY(IMG_MT_OCI_INDEX, DB, ""), DB);
	/* The first entry for the platform decides, as in skopeo's choice of an instance. */
	expect_nested(ENTRY(IMG_MT_OCI_INDEX, DB, AMD64) "," ENTRY(IMG_MT_OCI_MANIFEST, DC, AMD64),
		      DB);

	struct img_platform want = { 0 };
	struct cc_error *err = NULL;
	assert_int_equal(img_platform_parse("linux/amd64", &want, &err), 0);
	/* A manifest for the platform is taken before an index for any. */
	struct img_document *d =
	    nested(ENTRY(IMG_MT_OCI_INDEX, DB, "") "," ENTRY(IMG_MT_OCI_MANIFEST, DC, AMD64));
	assert_string_equal(img_index_select(d, &want, DA, &err)->digest, DC);
	img_document_free(d);
	d = nested(ENTRY(IMG_MT_OCI_MANIFEST, DC, AMD64) "," ENTRY(IMG_MT_OCI_INDEX, DB, AMD64));
	assert_string_equal(img_index_select(d, &want, DA, &err)->digest, DC);
	img_document_free(d);
	/* An index for another platform is one more platform the index has. */
	d = nested(ENTRY(IMG_MT_OCI_INDEX, DB, S390X));
	assert_null(img_index_select(d, &want, "x", &err));
	assert_string_equal(
	    err->msg, "index x: no image for platform linux/amd64 (the index has: linux/s390x)");
	cc_error_free(&err);
	img_document_free(d);
	img_platform_clear(&want);
}

#define LAYER(mt, dg) "{'mediaType': '" mt "', 'digest': '" dg "', 'size': 10}"

static void test_manifest_layers(void **state)
{
	struct img_document *d = parse_ok(
	    "{'schemaVersion': 2, 'config': {'mediaType': '" IMG_MT_OCI_CONFIG "', 'digest': '" DA
	    "', 'size': 7}, 'layers': [" LAYER(
		"application/vnd.oci.image.layer.v1.tar+gzip",
		DB) "," LAYER("application/vnd.oci.image.layer.v1.tar+zstd",
			      DC) "," LAYER("application/vnd.oci.image.layer.v1.tar",
					    DD) "," LAYER("application/vnd.oci.image."
							  "layer.v1.tar+gzip+encrypted",
							  DA) "," LAYER("application/"
									"vnd.docker.image.rootfs."
									"foreign.diff.tar.gzip",
									DB) "]}",
	    "application/vnd.oci.image.manifest.v1+json; charset=utf-8");
	assert_int_equal(d->kind, IMG_DOC_MANIFEST);
	/* Without a mediaType field, the registry's Content-Type decides. */
	assert_string_equal(d->media_type, IMG_MT_OCI_MANIFEST);
	assert_string_equal(d->config.digest, DA);
	assert_int_equal(d->config.size, 7);
	assert_int_equal(d->n_layers, 5);
	assert_int_equal(d->layers[0].compression, IMG_LAYER_GZIP);
	assert_int_equal(d->layers[1].compression, IMG_LAYER_ZSTD);
	assert_int_equal(d->layers[2].compression, IMG_LAYER_TAR);
	assert_true(d->layers[3].encrypted);
	assert_int_equal(d->layers[3].compression, IMG_LAYER_GZIP);
	assert_false(d->layers[2].encrypted);
	assert_true(d->layers[4].foreign);
	img_document_free(d);

	/* Docker schema 2 with its own media types. */
	d = parse_ok(
	    "{'schemaVersion': 2, 'mediaType': '" IMG_MT_DOCKER_MANIFEST "', 'config': "
	    "{'mediaType': '" IMG_MT_DOCKER_CONFIG "', 'digest': '" DA "', 'size': 7},"
	    " 'layers': [" LAYER("application/vnd.docker.image.rootfs.diff.tar.gzip", DB) "]}",
	    IMG_MT_DOCKER_MANIFEST);
	assert_string_equal(d->media_type, IMG_MT_DOCKER_MANIFEST);
	assert_int_equal(d->layers[0].compression, IMG_LAYER_GZIP);
	img_document_free(d);

	/* No mediaType, no Content-Type: the shape decides. */
	d = parse_ok("{'schemaVersion': 2, 'manifests': []}", "application/octet-stream");
	assert_int_equal(d->kind, IMG_DOC_INDEX);
	img_document_free(d);
}

#define CFG "'config': {'mediaType': '" IMG_MT_OCI_CONFIG "', 'digest': '" DA "', 'size': 7}"

static void test_bad_documents(void **state)
{
	expect_error("not json", NULL,
		     "manifest test: not valid JSON (line 1 column 3: '[' or '{' expected near "
		     "'not')");
	expect_error("[1]", NULL, "manifest test: expected a JSON object, got array");
	expect_error("{'layers': []}", NULL, "manifest test: schemaVersion: required");
	expect_error("{'schemaVersion': '2'}", NULL,
		     "manifest test: schemaVersion: expected integer, got string");
	expect_error("{'schemaVersion': 1, 'fsLayers': []}", NULL,
		     "manifest test: schemaVersion: 1 is not supported (only 2)");
	expect_error("{'schemaVersion': 2}", NULL,
		     "manifest test: neither an image manifest nor an index");
	expect_error("{'schemaVersion': 2, 'mediaType': 'text/html'}", NULL,
		     "manifest test: mediaType: unsupported media type \"text/html\"");
	expect_error("{'schemaVersion': 2, 'mediaType': '" IMG_MT_OCI_MANIFEST "', " CFG
		     ", 'layers': []}",
		     IMG_MT_DOCKER_MANIFEST,
		     "manifest test: mediaType: \"" IMG_MT_OCI_MANIFEST "\" disagrees with the "
		     "registry's Content-Type \"" IMG_MT_DOCKER_MANIFEST "\"");
	expect_error("{'schemaVersion': 2, 'mediaType': '" IMG_MT_OCI_MANIFEST "', 'layers': []}",
		     NULL, "manifest test: config: required");
	expect_error("{'schemaVersion': 2, " CFG "}", NULL, "manifest test: layers: required");
	expect_error(
	    "{'schemaVersion': 2, 'config': {'mediaType': 'application/vnd.cncf.helm."
	    "config.v1+json', 'digest': '" DA "', 'size': 7}, 'layers': []}",
	    NULL,
	    "manifest test: config.mediaType: \"application/vnd.cncf.helm.config.v1+json\" "
	    "is not an image config (not a container image?)");
	expect_error("{'schemaVersion': 2, " CFG ", 'layers': [" LAYER("application/zip", DB) "]}",
		     NULL,
		     "manifest test: layers[0].mediaType: unsupported layer media type "
		     "\"application/zip\"");
	expect_error(
	    "{'schemaVersion': 2, " CFG ", 'layers': [{'mediaType': "
	    "'application/vnd.oci.image.layer.v1.tar', 'digest': 'sha256:1234', 'size': 1}]}",
	    NULL, "manifest test: layers[0].digest: invalid digest \"sha256:1234\"");
	expect_error("{'schemaVersion': 2, " CFG ", 'layers': [{'mediaType': "
		     "'application/vnd.oci.image.layer.v1.tar', 'digest': '" DB "', 'size': -1}]}",
		     NULL, "manifest test: layers[0].size: -1 out of range [0, 68719476736]");
	expect_error("{'schemaVersion': 2, " CFG ", 'layers': [{'mediaType': "
		     "'application/vnd.oci.image.layer.v1.tar', 'digest': '" DB "'}]}",
		     NULL, "manifest test: layers[0].size: required");
	expect_error("{'schemaVersion': 2, 'config': {'mediaType': '" IMG_MT_OCI_CONFIG
		     "', 'digest': '" DA "', 'size': 99999999}, 'layers': []}",
		     NULL, "manifest test: config.size: 99999999 bytes, more than 8388608");
	expect_error("{'schemaVersion': 2, 'manifests': [{'mediaType': '" IMG_MT_OCI_MANIFEST
		     "', 'digest': '" DA "', 'size': 1, 'platform': {'os': 'linux'}}]}",
		     NULL, "index test: manifests[0].platform.architecture: required");
	expect_error("{'schemaVersion': 2, 'manifests': {}}", NULL,
		     "index test: manifests: expected array, got object");

	/* Size bound before parsing. */
	size_t big = IMG_MANIFEST_MAX + 1;
	char *buf = xmalloc(big);
	memset(buf, ' ', big);
	struct cc_error *err = NULL;
	assert_null(img_document_parse("huge", buf, big, NULL, &err));
	assert_string_equal(err->msg,
			    "manifest huge: 4194305 bytes, more than the 4194304 allowed");
	cc_error_free(&err);
	free(buf);

	/* Too many layers. */
	size_t cap = 200 + (IMG_LAYERS_MAX + 1) * 200;
	char *many = xmalloc(cap);
	size_t n = (size_t)snprintf(many, cap, "{'schemaVersion': 2, %s, 'layers': [", CFG);
	for (unsigned i = 0; i <= IMG_LAYERS_MAX; i++)
		n += (size_t)snprintf(many + n, cap - n, "%s%s", i ? "," : "",
				      LAYER("application/vnd.oci.image.layer.v1.tar", DB));
	snprintf(many + n, cap - n, "]}");
	expect_error(many, NULL, "manifest test: layers: 1025 layers, more than 1024");
	free(many);
}

static void test_config(void **state)
{
	_cleanup_free_ char *t =
	    q("{'architecture': 'amd64', 'os': 'linux', 'config': {'User': '1000:1000', 'Env': "
	      "['PATH=/bin', 'A=b'], 'Entrypoint': ['/init'], 'Cmd': null, 'WorkingDir': '/srv', "
	      "'Labels': {'a': 'b'}, 'StopSignal': 'SIGINT'}, 'rootfs': {'type': 'layers', "
	      "'diff_ids': ['" DA "', '" DB "']}, 'history': []}");
	struct cc_error *err = NULL;
	struct img_config *c = img_config_parse("cfg", t, strlen(t), &err);
	if (!c)
		fail_msg("%s", err->msg);
	assert_string_equal(c->platform.architecture, "amd64");
	assert_int_equal(c->n_diff_ids, 2);
	assert_string_equal(c->diff_ids[1], DB);
	assert_string_equal(c->user, "1000:1000");
	assert_string_equal(c->env[1], "A=b");
	assert_string_equal(c->entrypoint[0], "/init");
	assert_null(c->cmd);
	assert_string_equal(c->working_dir, "/srv");
	assert_string_equal(json_string_value(json_object_get(c->labels, "a")), "b");
	assert_string_equal(c->stop_signal, "SIGINT");
	img_config_free(c);

	static const struct {
		const char *json, *msg;
	} bad[] = {
		{ "{'os': 'linux', 'rootfs': {'type': 'layers', 'diff_ids': []}}",
		  "config cfg: architecture: required" },
		{ "{'os': 'linux', 'architecture': 'amd64'}", "config cfg: rootfs: required" },
		{ "{'os': 'linux', 'architecture': 'amd64', 'rootfs': {'type': 'tarballs', "
		  "'diff_ids': []}}",
		  "config cfg: rootfs.type: \"tarballs\" is not \"layers\"" },
		{ "{'os': 'linux', 'architecture': 'amd64', 'rootfs': {'type': 'layers', "
		  "'diff_ids': ['sha256:zz']}}",
		  "config cfg: rootfs.diff_ids[0]: invalid digest" },
		{ "{'os': 'linux', 'architecture': 'amd64', 'rootfs': {'type': 'layers', "
		  "'diff_ids': []}, 'config': {'Env': 'A=b'}}",
		  "config cfg: config.Env: expected array of strings, got string" },
		{ "{'os': 'linux', 'architecture': 'amd64', 'rootfs': {'type': 'layers', "
		  "'diff_ids': []}, 'config': {'Labels': {'a': 1}}}",
		  "config cfg: config.Labels[\"a\"]: expected string, got integer" },
		{ "{'os': 'linux', 'architecture': 'amd64', 'rootfs': {'type': 'layers', "
		  "'diff_ids': []}, 'config': {'Labels': {'a\\tb': null}}}",
		  "config cfg: config.Labels[\"a\\x09b\"]: expected string, got null" },
		{ "{'os': 'linux', 'architecture': 'amd64', 'rootfs': {'type': 'layers', "
		  "'diff_ids': []}, 'config': {'Env': ['A=b', 1]}}",
		  "config cfg: config.Env[1]: expected string, got integer" },
		{ "{'os': 'linux', 'architecture': 'amd64', 'rootfs': {'type': 'layers', "
		  "'diff_ids': []}, 'config': {'Cmd': ['a\\u0000b']}}",
		  "config cfg: config.Cmd[0]: contains a NUL byte" },
		{ "{'os': 'linux', 'architecture': 'amd64', 'rootfs': 'layers'}",
		  "config cfg: rootfs: expected object, got string" },
		{ "{'os': 'linux', 'architecture': 'amd64', 'rootfs': {'type': 'layers', "
		  "'diff_ids': {}}}",
		  "config cfg: rootfs.diff_ids: expected array, got object" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		_cleanup_free_ char *b = q(bad[i].json);
		struct img_config *x = img_config_parse("cfg", b, strlen(b), &err);
		if (x) {
			img_config_free(x);
			fail_msg("accepted: %s", bad[i].json);
		}
		if (strcmp(err->msg, bad[i].msg) != 0)
			fail_msg("got \"%s\", want \"%s\"", err->msg, bad[i].msg);
		cc_error_free(&err);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_index_and_platforms),
		cmocka_unit_test(test_nested_index),
		cmocka_unit_test(test_manifest_layers),
		cmocka_unit_test(test_bad_documents),
		cmocka_unit_test(test_config),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
