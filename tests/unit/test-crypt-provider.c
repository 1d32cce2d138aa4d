// SPDX-License-Identifier: Apache-2.0
/* Unit tests for lib/crypt key providers (ocicrypt.conf, cmd providers that answer, hang,
 * fail or talk nonsense) and the in-process key broker clients (offline_fs_kbc, sample_kbc). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include "crypt/annotations.h"
#include "crypt/internal.h"
#include "crypt/kbc.h"
#include "crypt/keyprovider.h"
#include "crypt/keys.h"
#include "crypt-helpers.h"

static char tmpdir[] = "/tmp/crypt-provider.XXXXXX";
static char *conf_path, *keys_path, *res_path;

static const char *const LAYER_MT = "application/vnd.oci.image.layer.v1.tar";

static void write_text(const char *path, const char *text)
{
	struct cc_error *err = NULL;
	assert_ok(cc_write_file(path, text, strlen(text), 0600, &err), err);
}

static int setup(void **state)
{
	assert_non_null(mkdtemp(tmpdir));
	conf_path = xasprintf("%s/ocicrypt.conf", tmpdir);
	keys_path = xasprintf("%s/keys.json", tmpdir);
	res_path = xasprintf("%s/resources.json", tmpdir);
	const char *d = getenv("CRYPT_TEST_DATA");
	_cleanup_free_ char *conf = xasprintf(
	    "{\"key-providers\": {"
	    "\"echo\": {\"cmd\": {\"path\": \"%s/provider-echo.sh\", \"args\": [\"echo\"]}},"
	    "\"hang\": {\"cmd\": {\"path\": \"%s/provider-hang.sh\"}},"
	    "\"garbage\": {\"cmd\": {\"path\": \"%s/provider-garbage.sh\", \"args\": []}},"
	    "\"fail\": {\"cmd\": {\"path\": \"%s/provider-fail.sh\"}},"
	    "\"flood\": {\"cmd\": {\"path\": \"%s/provider-flood.sh\"}},"
	    "\"missing\": {\"cmd\": {\"path\": \"%s/no-such-provider\"}},"
	    "\"remote\": {\"grpc\": \"127.0.0.1:50000\"}}}",
	    d, d, d, d, d, tmpdir);
	write_text(conf_path, conf);
	write_text(keys_path,
		   "{\"default/key/1\": \"REXwTCcCFObQdE9ZfL0a/iZtucCwBIo36/L0aL5l7UA=\","
		   " \"default/key/2\": \"qyecaCQh/+ChjnO7poTn08w5WYFqz4piBPh1rVMmrEo=\"}");
	write_text(res_path, "{\"default/policy/test\": \"eyJkZWZhdWx0IjpbXX0=\"}");
	return 0;
}

static int teardown(void **state)
{
	struct cc_error *err = NULL;
	assert_int_equal(cc_rm_rf(tmpdir, &err), 0);
	cc_error_free(&err);
	free(conf_path);
	free(keys_path);
	free(res_path);
	return 0;
}

static struct crypt_keys_opts opts(int timeout_ms)
{
	struct crypt_keys_opts o = { .keyprovider_config = conf_path,
				     .offline_fs_keys = keys_path,
				     .offline_fs_resources = res_path,
				     .provider_timeout_ms = timeout_ms };
	return o;
}

/* Encrypt a small layer for one recipient spec; returns the descriptor. */
static json_t *encrypt_for(const char *spec, unsigned char *ct, const unsigned char *pt, size_t len)
{
	struct crypt_keys_opts o = opts(5000);
	struct crypt_recipients *r = crypt_recipients_new(&o);
	struct crypt_layer *l = NULL;
	struct cc_error *err = NULL;
	json_t *a = NULL;

	assert_ok(crypt_recipients_add(r, spec, &err), err);
	assert_ok(crypt_layer_encrypt_begin(r, LAYER_MT, NULL, &l, &err), err);
	assert_ok(crypt_layer_update(l, pt, len, ct, &err), err);
	assert_ok(crypt_layer_final(l, &a, &err), err);
	crypt_layer_free(l);
	crypt_recipients_free(r);
	return json_pack("{s:s, s:o}", "mediaType",
			 "application/vnd.oci.image.layer.v1.tar+encrypted", "annotations", a);
}

static int decrypt_with(const char *spec, int timeout_ms, const json_t *d, const unsigned char *ct,
			size_t len, struct cc_error **err)
{
	struct crypt_keys_opts o = opts(timeout_ms);
	struct crypt_keys *k = crypt_keys_new(&o);
	unsigned char *out = NULL;
	int r = crypt_keys_add(k, spec, err);
	if (r == 0)
		r = decrypt_layer(k, d, ct, len, &out, err);
	free(out);
	crypt_keys_free(k);
	return r;
}

static void test_config(void **state)
{
	struct crypt_provider_config c;
	struct cc_error *err = NULL;
	const char *good =
	    "{\"key-providers\":{\"a\":{\"cmd\":{\"path\":\"/bin/a\",\"args\":[\"x\","
	    "\"y\"]}},\"b\":{\"grpc\":\"h:1\",\"grpc-tls\":{}},\"c\":{\"ttrpc\":"
	    "\"unix:///s\"},\"d\":{\"native\":\"attestation-agent\"},"
	    "\"e\":{\"cmd\":{\"path\":\"x\"},\"grpc\":\"h:2\"}}}";

	assert_ok(crypt_provider_config_parse("conf", good, strlen(good), &c, &err), err);
	assert_int_equal(c.n, 5);
	const struct crypt_provider *a = crypt_provider_find(&c, "a");
	assert_int_equal(a->kind, CRYPT_PROVIDER_CMD);
	assert_string_equal(a->argv[0], "/bin/a");
	assert_string_equal(a->argv[2], "y");
	assert_null(a->argv[3]);
	assert_int_equal(crypt_provider_find(&c, "b")->kind, CRYPT_PROVIDER_GRPC);
	assert_int_equal(crypt_provider_find(&c, "c")->kind, CRYPT_PROVIDER_TTRPC);
	assert_int_equal(crypt_provider_find(&c, "d")->kind, CRYPT_PROVIDER_NATIVE);
	assert_int_equal(crypt_provider_find(&c, "e")->kind, CRYPT_PROVIDER_CMD); /* cmd first */
	assert_null(crypt_provider_find(&c, "z"));
	crypt_provider_config_clear(&c);

	static const struct {
		const char *text, *want;
	} bad[] = {
		{ "[]", "conf: expected object, got array" },
		{ "{\"key-providers\":[]}", "conf: key-providers: expected object, got array" },
		{ "{\"key-providers\":null}", "conf: key-providers: expected object, got null" },
		{ "{\"key-providers\":{\"a\":1}}",
		  "conf: key-providers[\"a\"]: expected object, got integer" },
		{ "{\"key-providers\":{\"a\":{}}}",
		  "conf: key-providers[\"a\"]: has none of cmd, grpc, ttrpc, native" },
		{ "{\"key-providers\":{\"a\":{\"cmd\":{}}}}",
		  "conf: key-providers[\"a\"].cmd.path: required" },
		{ "{\"key-providers\":{\"a\":{\"cmd\":[]}}}",
		  "conf: key-providers[\"a\"].cmd: expected object, got array" },
		{ "{\"key-providers\":{\"a.b\":{\"cmd\":{\"path\":\"\"}}}}",
		  "conf: key-providers[\"a.b\"].cmd.path: must not be empty" },
		{ "{\"key-providers\":{\"a\":{\"cmd\":{\"path\":\"/x\",\"args\":\"-v\"}}}}",
		  "conf: key-providers[\"a\"].cmd.args: expected array of strings, got string" },
		{ "{\"key-providers\":{\"a\":{\"cmd\":{\"path\":\"/x\",\"args\":[1]}}}}",
		  "conf: key-providers[\"a\"].cmd.args[0]: expected string, got integer" },
		{ "{\"key-providers\":{\"a\":{\"grpc\":5}}}",
		  "conf: key-providers[\"a\"].grpc: expected string, got integer" },
		{ "{\"key-providers\":{\"a\":{}", "conf: invalid JSON" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		assert_int_equal(
		    crypt_provider_config_parse("conf", bad[i].text, strlen(bad[i].text), &c, &err),
		    -1);
		assert_error_contains(err, bad[i].want);
	}
	/* Without a config, no provider (not an error). */
	unsetenv("OCICRYPT_KEYPROVIDER_CONFIG");
	assert_ok(crypt_provider_config_load(NULL, &c, &err), err);
	assert_int_equal(c.n, 0);
	setenv("OCICRYPT_KEYPROVIDER_CONFIG", conf_path, 1);
	assert_ok(crypt_provider_config_load(NULL, &c, &err), err);
	assert_int_equal(c.n, 7);
	crypt_provider_config_clear(&c);
	unsetenv("OCICRYPT_KEYPROVIDER_CONFIG");
}

static void test_reply(void **state)
{
	struct crypt_buf b = { 0 };
	struct cc_error *err = NULL;
	const char *go = "{\"keyunwrapresults\":{\"optsdata\":\"e30=\"}}";
	const char *rust = "{\"keyunwrapresults\":{\"optsdata\":[123,125]}}";
	const char *wrap = "{\"keywrapresults\":{\"annotation\":\"YWJj\"}}";

	assert_ok(crypt_provider_parse_reply(false, go, strlen(go), &b, &err), err);
	assert_memory_equal(b.p, "{}", 2);
	assert_ok(crypt_provider_parse_reply(false, rust, strlen(rust), &b, &err), err);
	assert_int_equal(b.len, 2);
	assert_memory_equal(b.p, "{}", 2);
	assert_ok(crypt_provider_parse_reply(true, wrap, strlen(wrap), &b, &err), err);
	assert_memory_equal(b.p, "abc", 3);
	crypt_buf_wipe(&b);
	static const struct {
		const char *text, *want;
	} bad[] = {
		{ "{\"keywrapresults\":{\"annotation\":\"YWJj\"}}",
		  "reply: keyunwrapresults: required" },
		{ "[]", "reply: expected object, got array" },
		{ "{\"keyunwrapresults\":{\"optsdata\":\"e30\"}}",
		  "reply: keyunwrapresults.optsdata: not valid base64" },
		{ "{\"keyunwrapresults\":{\"optsdata\":[1,256]}}",
		  "reply: keyunwrapresults.optsdata: not an array of bytes" },
		{ "{\"keyunwrapresults\":{\"optsdata\":[1,\"x\"]}}",
		  "reply: keyunwrapresults.optsdata: not an array of bytes" },
		{ "{\"keyunwrapresults\":{\"optsdata\":\"\"}}",
		  "reply: keyunwrapresults.optsdata: empty or too large" },
		{ "{\"keyunwrapresults\":{\"optsdata\":null}}",
		  "reply: keyunwrapresults.optsdata: required" },
		{ "{\"keyunwrapresults\":{\"optsdata\":7}}",
		  "reply: keyunwrapresults.optsdata: expected base64 string or array of bytes, got "
		  "integer" },
		{ "nonsense", "reply: invalid JSON" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		assert_int_equal(
		    crypt_provider_parse_reply(false, bad[i].text, strlen(bad[i].text), &b, &err),
		    -1);
		assert_error_contains(err, bad[i].want);
	}
}

static void test_cmd_provider(void **state)
{
	static const unsigned char pt[] = "layer bytes for a key provider";
	unsigned char ct[sizeof(pt)];
	struct cc_error *err = NULL;
	json_t *d = encrypt_for("provider:echo:some-param", ct, pt, sizeof(pt));
	json_t *a = json_object_get(d, "annotations");

	assert_non_null(json_object_get(a, CRYPT_ANN_PROVIDER "echo"));
	assert_ok(decrypt_with("provider:echo", 5000, d, ct, sizeof(pt), &err), err);
	assert_ok(decrypt_with("provider:echo:other-param", 5000, d, ct, sizeof(pt), &err), err);

	/* The same annotation under a provider that misbehaves. */
	json_t *v = json_object_get(a, CRYPT_ANN_PROVIDER "echo");
	static const struct {
		const char *name, *want;
	} bad[] = {
		{ "garbage", "key provider garbage: reply: invalid JSON" },
		{ "fail", "key provider fail: exited with status 3: provider-fail: no key for this "
			  "layer" },
		{ "flood", "key provider flood: more than 1048576 bytes of output" },
		{ "missing", "key provider missing: cannot run" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		_cleanup_free_ char *key = xasprintf("%s%s", CRYPT_ANN_PROVIDER, bad[i].name);
		_cleanup_free_ char *spec = xasprintf("provider:%s", bad[i].name);
		json_object_set(a, key, v);
		assert_int_equal(decrypt_with(spec, 5000, d, ct, sizeof(pt), &err), -1);
		assert_error_contains(err, bad[i].want);
		json_object_del(a, key);
	}
	/* A wrapped key that unwraps to garbage is named, and the next entry still works. */
	_cleanup_free_ char *good = xstrdup(json_string_value(v));
	_cleanup_free_ char *two = xasprintf("bm90IGpzb24=,%s", good);
	json_object_set_new(a, CRYPT_ANN_PROVIDER "echo", json_string(two));
	assert_ok(decrypt_with("provider:echo", 5000, d, ct, sizeof(pt), &err), err);
	json_object_set_new(a, CRYPT_ANN_PROVIDER "echo", json_string("bm90IGpzb24="));
	assert_int_equal(decrypt_with("provider:echo", 5000, d, ct, sizeof(pt), &err), -1);
	assert_error_contains(err, "keys.provider.echo: private options: invalid JSON");
	json_object_set_new(a, CRYPT_ANN_PROVIDER "echo", json_string(good));
	/* A provider the annotations do not name is not asked at all. */
	assert_int_equal(decrypt_with("provider:fail", 5000, d, ct, sizeof(pt), &err), -1);
	assert_error_contains(err, "keys.provider.echo: no key provider \"echo\" given");
	json_decref(d);
}

static void test_cmd_provider_hangs(void **state)
{
	static const unsigned char pt[] = "x";
	unsigned char ct[sizeof(pt)];
	struct cc_error *err = NULL;
	json_t *d = encrypt_for("provider:echo", ct, pt, sizeof(pt));
	json_t *a = json_object_get(d, "annotations");
	struct timespec t0, t1;

	json_object_set(a, CRYPT_ANN_PROVIDER "hang",
			json_object_get(a, CRYPT_ANN_PROVIDER "echo"));
	json_object_del(a, CRYPT_ANN_PROVIDER "echo");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(decrypt_with("provider:hang", 300, d, ct, sizeof(pt), &err), -1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_error_contains(err, "key provider hang: no answer within 300 ms (killed)");
	double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	assert_true(s >= 0.29 && s < 5);
	json_decref(d);
}

static void test_unsupported_providers(void **state)
{
	struct crypt_keys_opts o = opts(0);
	struct crypt_keys *k = crypt_keys_new(&o);
	struct cc_error *err = NULL;

	assert_int_equal(crypt_keys_add(k, "provider:remote", &err), -1);
	assert_error_contains(err, "key provider remote: grpc providers are not supported");
	assert_int_equal(crypt_keys_add(k, "provider:nobody:x", &err), -1);
	assert_error_contains(err, "key provider nobody is not in the key provider config");
	assert_int_equal(crypt_keys_add(k, "provider:", &err), -1);
	assert_error_contains(err, "needs a name");
	assert_int_equal(crypt_keys_add(k, "provider:attestation-agent", &err), -1);
	assert_error_contains(err, "needs <kbc>::<kbs uri>");
	assert_int_equal(crypt_keys_add(k, "provider:attestation-agent:cc_kbc::http://kbs", &err),
			 -1);
	assert_error_contains(err, "unknown key broker client \"cc_kbc\"");
	assert_int_equal(crypt_keys_add(k, "provider:attestation-agent:offline_fs_kbc", &err), -1);
	assert_error_contains(err, "is not <kbc>::<kbs uri>");
	crypt_keys_free(k);
}

/* ---- key broker clients ---- */

static void test_offline_fs_kbc(void **state)
{
	static const unsigned char pt[] = "layer for an enclave";
	unsigned char ct[sizeof(pt)];
	struct cc_error *err = NULL;
	json_t *d = encrypt_for("provider:attestation-agent:offline_fs_kbc::kbs:///default/key/2",
				ct, pt, sizeof(pt));
	json_t *a = json_object_get(d, "annotations");

	/* enclave-cc's annotation, holding the AnnotationPacket. */
	const char *v =
	    json_string_value(json_object_get(a, CRYPT_ANN_PROVIDER "attestation-agent"));
	struct crypt_buf packet = { 0 };
	assert_int_equal(crypt_b64_decode(v, strlen(v), CRYPT_B64_STD, &packet), 0);
	json_t *pj = json_loads((char *)packet.p, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(pj, "kid")), "kbs:///default/key/2");
	assert_string_equal(json_string_value(json_object_get(pj, "wrap_type")), "A256GCM");
	json_decref(pj);
	crypt_buf_wipe(&packet);
	assert_ok(decrypt_with("provider:attestation-agent:offline_fs_kbc::null", 0, d, ct,
			       sizeof(pt), &err),
		  err);
	/* The key file without that key id. */
	write_text(keys_path,
		   "{\"default/key/1\": \"REXwTCcCFObQdE9ZfL0a/iZtucCwBIo36/L0aL5l7UA=\"}");
	assert_int_equal(decrypt_with("provider:attestation-agent:offline_fs_kbc::null", 0, d, ct,
				      sizeof(pt), &err),
			 -1);
	assert_error_contains(err, "offline_fs_kbc: no key \"default/key/2\" in the key file");
	/* A key file that is not usable fails when the key is added. */
	write_text(keys_path, "{\"default/key/1\": \"c2hvcnQ=\"}");
	assert_int_equal(decrypt_with("provider:attestation-agent:offline_fs_kbc::null", 0, d, ct,
				      sizeof(pt), &err),
			 -1);
	assert_error_contains(err, "key \"default/key/1\" is 5 bytes, not 32");
	json_decref(d);
	write_text(keys_path,
		   "{\"default/key/1\": \"REXwTCcCFObQdE9ZfL0a/iZtucCwBIo36/L0aL5l7UA=\","
		   " \"default/key/2\": \"qyecaCQh/+ChjnO7poTn08w5WYFqz4piBPh1rVMmrEo=\"}");
}

/* A256CTR packets (no integrity of their own) and resources. */
static void test_offline_fs_packets(void **state)
{
	struct crypt_kbc_opts o = { keys_path, res_path };
	struct crypt_kbc *k = NULL;
	struct crypt_buf out = { 0 }, key = { 0 }, iv = { 0 }, ctr = { 0 };
	struct cc_error *err = NULL;

	assert_ok(crypt_kbc_new("offline_fs_kbc::null", &o, &k, &err), err);
	assert_int_equal(crypt_b64_decode("REXwTCcCFObQdE9ZfL0a/iZtucCwBIo36/L0aL5l7UA=", 44,
					  CRYPT_B64_STD, &key),
			 0);
	crypt_buf_set(&iv, "0123456789abcdef", 16);
	assert_ok(crypt_kbc_cipher(true, "A256CTR", key.p, &iv, "{\"symkey\":1}", 12, &ctr, &err),
		  err);
	_cleanup_free_ char *w = crypt_b64_encode(ctr.p, ctr.len, CRYPT_B64_STD);
	_cleanup_free_ char *packet =
	    xasprintf("{\"kid\":\"kbs:///default/key/1\",\"wrapped_data\":\"%s\",\"iv\":"
		      "\"MDEyMzQ1Njc4OWFiY2RlZg==\",\"wrap_type\":\"A256CTR\"}",
		      w);
	assert_ok(crypt_kbc_unwrap(k, packet, strlen(packet), &out, &err), err);
	assert_memory_equal(out.p, "{\"symkey\":1}", 12);
	static const struct {
		const char *packet, *want;
	} bad[] = {
		{ "{\"kid\":\"kbs:///default/key/1\",\"wrapped_data\":\"AA==\",\"iv\":\"AA==\","
		  "\"wrap_type\":\"A128CBC\"}",
		  "unsupported wrap_type \"A128CBC\"" },
		{ "{\"kid\":\"kbs:///default/key\",\"wrapped_data\":\"AA==\",\"iv\":\"AA==\","
		  "\"wrap_type\":\"A256GCM\"}",
		  "the path must be <repository>/<type>/<tag>" },
		{ "{\"kid\":\"http://x/default/key/1\",\"wrapped_data\":\"AA==\",\"iv\":\"AA==\","
		  "\"wrap_type\":\"A256GCM\"}",
		  "is not a kbs:// resource URI" },
		{ "{\"kid\":\"kbs:///default/key/1\",\"wrapped_data\":\"AAAAAAAAAAAAAAAAAAAAAA==\","
		  "\"iv\":\"AAAAAAAAAAAAAAAA\",\"wrap_type\":\"A256GCM\"}",
		  "A256GCM: wrong key or tampered data" },
		{ "{\"kid\":\"kbs:///default/key/1\",\"iv\":\"AA==\",\"wrap_type\":\"A256GCM\"}",
		  "\"wrapped_data\" is missing" },
		{ "{\"kid\":1}", "needs \"kid\" and \"wrap_type\" strings" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		assert_int_equal(
		    crypt_kbc_unwrap(k, bad[i].packet, strlen(bad[i].packet), &out, &err), -1);
		assert_error_contains(err, bad[i].want);
	}
	assert_ok(crypt_kbc_get_resource(k, "kbs:///default/policy/test", &out, &err), err);
	assert_memory_equal(out.p, "{\"default\":[]}", 14);
	assert_int_equal(crypt_kbc_get_resource(k, "kbs:///default/policy/x", &out, &err), -1);
	assert_error_contains(err, "no resource \"default/policy/x\"");
	crypt_buf_wipe(&out);
	crypt_buf_wipe(&key);
	crypt_buf_wipe(&iv);
	crypt_buf_wipe(&ctr);
	crypt_kbc_free(k);
}

static void test_sample_kbc(void **state)
{
	static const unsigned char pt[] = "sample";
	unsigned char ct[sizeof(pt)];
	struct cc_error *err = NULL;
	json_t *d =
	    encrypt_for("provider:attestation-agent:sample_kbc::kbs:///a/b/c", ct, pt, sizeof(pt));
	assert_ok(decrypt_with("provider:attestation-agent:sample_kbc::127.0.0.1:50000", 0, d, ct,
			       sizeof(pt), &err),
		  err);
	/* An offline_fs_kbc key does not open what the sample key wrapped. */
	assert_int_equal(decrypt_with("provider:attestation-agent:offline_fs_kbc::null", 0, d, ct,
				      sizeof(pt), &err),
			 -1);
	assert_error_contains(err, "no key \"a/b/c\"");
	json_decref(d);

	struct crypt_keys_opts o = opts(0);
	struct crypt_recipients *r = crypt_recipients_new(&o);
	struct crypt_layer *l = NULL;
	assert_ok(crypt_recipients_add(r, "provider:attestation-agent:sample_kbc::null", &err),
		  err);
	assert_int_equal(crypt_layer_encrypt_begin(r, LAYER_MT, NULL, &l, &err), -1);
	assert_error_contains(err, "to wrap, give the key as <kbc>::kbs:///");
	crypt_recipients_free(r);
}

static void test_kbs_uri(void **state)
{
	struct cc_error *err = NULL;
	static const struct {
		const char *uri, *path;
	} v[] = {
		{ "kbs:///default/key/1", "default/key/1" },
		{ "kbs://kbs.example:8080/alice/decryption-key/1?x=y", "alice/decryption-key/1" },
		{ "kbs:///a/b/c/d", NULL },
		{ "kbs:///a/../c", NULL },
		{ "kbs:///a//c", NULL },
		{ "kbs://", NULL },
		{ "kbs:///a/b/", NULL },
	};
	for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
		char *p = crypt_kbs_resource_path(v[i].uri, &err);
		if (v[i].path) {
			assert_non_null(p);
			assert_string_equal(p, v[i].path);
		} else {
			if (p)
				fail_msg("accepted %s as %s", v[i].uri, p);
			cc_error_free(&err);
		}
		free(p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_reply),
		cmocka_unit_test(test_cmd_provider),
		cmocka_unit_test(test_cmd_provider_hangs),
		cmocka_unit_test(test_unsupported_providers),
		cmocka_unit_test(test_offline_fs_kbc),
		cmocka_unit_test(test_offline_fs_packets),
		cmocka_unit_test(test_sample_kbc),
		cmocka_unit_test(test_kbs_uri),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
