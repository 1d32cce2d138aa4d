// SPDX-License-Identifier: Apache-2.0
/* lib/sign: policy.json parsing and scope lookup, and the GPG envelope (keys made with gpg at
 * test time in a throwaway home; skipped, visibly, without gpg). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include "sign/gpg.h"
#include "sign/policy.h"
#include "util/cleanup.h"
#include "util/fs.h"

static struct sign_policy *parse(const char *text, struct cc_error **err)
{
	return sign_policy_parse("policy.json", text, strlen(text), err);
}

static void refused(const char *text, const char *message)
{
	struct cc_error *err = NULL;
	struct sign_policy *p = parse(text, &err);
	if (p || !err || strcmp(err->msg, message))
		fail_msg("%s\n  got:  %s\n  want: %s", text, err ? err->msg : "(parsed)", message);
	cc_error_free(&err);
}

static void test_refusals(void **state)
{
	(void)state;
	refused("{\"default\":[{\"type\":\"reject\"}],\"x\":1}", "policy.json: unknown key \"x\"");
	refused("{}", "policy.json: default: required");
	refused("{\"default\":[]}",
		"policy.json: default: an empty list of requirements is not allowed");
	refused("{\"default\":{}}", "policy.json: default: expected array, got object");
	refused("{\"default\":[1]}", "policy.json: default[0]: expected object, got integer");
	refused("{\"default\":[{}]}", "policy.json: default[0].type: required");
	refused("{\"default\":[{\"type\":\"maybe\"}]}",
		"policy.json: default[0].type: unknown requirement type \"maybe\"");
	refused("{\"default\":[{\"type\":\"reject\",\"keyPath\":\"/k\"}]}",
		"policy.json: default[0]: unknown key \"keyPath\"");
	refused("{\"default\":[{\"type\":\"signedBy\",\"keyPath\":\"/k\"}]}",
		"policy.json: default[0].keyType: required");
	refused("{\"default\":[{\"type\":\"signedBy\",\"keyType\":\"PGP\",\"keyPath\":\"/k\"}]}",
		"policy.json: default[0].keyType: unknown keyType \"PGP\"");
	refused("{\"default\":[{\"type\":\"signedBy\",\"keyType\":\"GPGKeys\"}]}",
		"policy.json: default[0]: exactly one of keyPath, keyPaths and keyData is needed");
	refused("{\"default\":[{\"type\":\"signedBy\",\"keyType\":\"GPGKeys\",\"keyPath\":\"/k\","
		"\"keyData\":\"QQ==\"}]}",
		"policy.json: default[0]: exactly one of keyPath, keyPaths and keyData is needed");
	refused("{\"default\":[{\"type\":\"signedBy\",\"keyType\":\"GPGKeys\",\"keyPath\":\"/k\","
		"\"keyPaths\":[\"/a\"]}]}",
		"policy.json: default[0]: exactly one of keyPath, keyPaths and keyData is needed");
	refused("{\"default\":[{\"type\":\"signedBy\",\"keyType\":\"GPGKeys\",\"keyPaths\":[]}]}",
		"policy.json: default[0].keyPaths: must not be empty");
	refused("{\"default\":[{\"type\":\"signedBy\",\"keyType\":\"GPGKeys\",\"keyPaths\":[7]}]}",
		"policy.json: default[0].keyPaths[0]: expected string, got integer");
	refused("{\"default\":[{\"type\":\"signedBy\",\"keyType\":\"GPGKeys\",\"keyData\":\"!\"}]}",
		"policy.json: default[0].keyData: not valid base64 (of at most 1048576 bytes)");
	refused(
	    "{\"default\":[{\"type\":\"signedBy\",\"keyType\":\"GPGKeys\",\"keyPath\":\"/k\","
	    "\"signedIdentity\":{\"type\":\"exactReference\",\"dockerReference\":\"a.io/b\"}}]}",
	    "policy.json: default[0].signedIdentity.dockerReference: \"a.io/b\" has neither a "
	    "tag nor a digest");
	refused("{\"default\":[{\"type\":\"signedBy\",\"keyType\":\"GPGKeys\",\"keyPath\":\"/k\","
		"\"signedIdentity\":{\"type\":\"matchExact\",\"dockerReference\":\"a.io/b:1\"}}]}",
		"policy.json: default[0].signedIdentity: unknown key \"dockerReference\"");
	refused(
	    "{\"default\":[{\"type\":\"signedBy\",\"keyType\":\"GPGKeys\",\"keyPath\":\"/k\","
	    "\"signedIdentity\":{\"type\":\"remapIdentity\",\"prefix\":\"a.io/b:1\","
	    "\"signedPrefix\":\"c.io\"}}]}",
	    "policy.json: default[0].signedIdentity.prefix: \"a.io/b:1\" is neither a host nor a "
	    "repository name");
	refused(
	    "{\"default\":[{\"type\":\"signedBy\",\"keyType\":\"GPGKeys\",\"keyPath\":\"/k\","
	    "\"signedIdentity\":{\"type\":\"remapIdentity\",\"prefix\":\"a\\nb/c\","
	    "\"signedPrefix\":\"c.io\"}}]}",
	    "policy.json: default[0].signedIdentity.prefix: \"a\\x0ab/c\" is neither a host nor a "
	    "repository name");
	refused("{\"default\":[{\"type\":\"signedBy\",\"keyType\":\"GPGKeys\",\"keyPath\":\"/k\","
		"\"signedIdentity\":{\"type\":\"sometimes\"}}]}",
		"policy.json: default[0].signedIdentity.type: unknown signedIdentity type "
		"\"sometimes\"");
	refused("{\"default\":[{\"type\":\"sigstoreSigned\"}]}",
		"policy.json: default[0]: exactly one of keyPath, keyPaths, keyData, keyDatas, "
		"fulcio and pki is needed");
	refused("{\"default\":[{\"type\":\"sigstoreSigned\",\"fulcio\":{\"caPath\":\"/c\","
		"\"x\":1}}]}",
		"policy.json: default[0].fulcio: unknown key \"x\"");
	refused("{\"default\":[{\"type\":\"sigstoreSigned\",\"keyPath\":\"/k\","
		"\"rekorPublicKeyPaths\":\"/r\"}]}",
		"policy.json: default[0].rekorPublicKeyPaths: expected array, got string");
	refused("{\"default\":[{\"type\":\"signedBaseLayer\"}]}",
		"policy.json: default[0].baseLayerIdentity: required");
	refused("{\"default\":[{\"type\":\"reject\"}],\"transports\":{\"docker\":{\"a.io\":[]}}}",
		"policy.json: transports.docker[\"a.io\"]: an empty list of requirements is not "
		"allowed");
	refused("{\"default\":[{\"type\":\"reject\"}],\"transports\":{\"docker\":[]}}",
		"policy.json: transports.docker: expected object, got array");
	refused("{\"default\":[{\"type\":\"reject\"}],\"transports\":{\"atomic\":{\"a.io/x/y/z\":"
		"[{\"type\":\"reject\"}]}}}",
		"policy.json: transports.atomic[\"a.io/x/y/z\"]: scope is not "
		"host[:port][/namespace[/stream[:tag]]]");
	refused("{\"default\":[{\"type\":\"reject\"}],\"transports\":{\"docker-daemon\":{"
		"\"sha256:0000000000000000000000000000000000000000000000000000000000000000\":"
		"[{\"type\":\"reject\"}]}}}",
		"policy.json: transports.docker-daemon[\"sha256:00000000000000000000000000000000000"
		"00000000000000000000000000000\"]: scope is an image ID, which cannot be a scope");
	refused("{\"default\":[{\"type\":\"reject\"}],\"transports\":{\"dir\":{\"/\":"
		"[{\"type\":\"reject\"}]}}}",
		"policy.json: transports.dir[\"/\"]: scope is not an absolute directory other than "
		"\"/\"");
	/* Every key escaped as the document chose it. */
	refused("{\"default\":[{\"type\":\"reject\"}],\"\\u001b[31m\":1}",
		"policy.json: unknown key \"\\x1b[31m\"");
}

static void test_parsed_fields(void **state)
{
	(void)state;
	struct cc_error *err = NULL;
	struct sign_policy *p = parse(
	    "{\"default\":[{\"type\":\"insecureAcceptAnything\"}],\"transports\":{\"docker\":{"
	    "\"a.io/ns\":[{\"type\":\"signedBy\",\"keyType\":\"GPGKeys\",\"keyData\":\"QUJD\","
	    "\"signedIdentity\":{\"type\":\"remapIdentity\",\"prefix\":\"a.io/ns\","
	    "\"signedPrefix\":\"b.io:5000\"}},{\"type\":\"sigstoreSigned\",\"keyDatas\":[\"QQ==\","
	    "\"Qg==\"],\"rekorPublicKeyData\":\"Uw==\"}]},\"unknown-transport\":{\"anything at "
	    "all\":[{\"type\":\"reject\"}]}}}",
	    &err);
	assert_non_null(p);
	assert_int_equal(p->n_scopes, 2);
	const struct sign_requirement *q = p->scopes[0].reqs;
	assert_int_equal(q[0].type, SIGN_REQ_SIGNED_BY);
	assert_string_equal(q[0].where, "transports.docker[\"a.io/ns\"][0]");
	assert_int_equal(q[0].keys.n_data, 1);
	assert_memory_equal(q[0].keys.data[0], "ABC", 3);
	assert_int_equal(q[0].identity.type, SIGN_ID_REMAP_IDENTITY);
	assert_string_equal(q[0].identity.signed_prefix, "b.io:5000");
	assert_int_equal(q[1].type, SIGN_REQ_SIGSTORE_SIGNED);
	assert_int_equal(q[1].keys.n_data, 2);
	assert_true(q[1].rekor);
	assert_false(q[1].fulcio);
	assert_int_equal(q[1].identity.type, SIGN_ID_MATCH_REPO_DIGEST_OR_EXACT);
	sign_policy_free(p);
}

/* Which scope answers for each reference. */
static void test_scope_lookup(void **state)
{
	(void)state;
	static const char *const scopes[] = {
		"a.b.example.com:5000/ns/img:v1",
		"a.b.example.com:5000/ns/img",
		"a.b.example.com:5000/ns",
		"a.b.example.com:5000",
		"*.example.com",
		"*.com",
		"docker.io/library",
		"*.io",
		"",
	};
	_cleanup_free_ char *doc = xstrdup("{\"default\":[{\"type\":\"reject\"}],"
					   "\"transports\":{\"docker\":{");
	for (size_t i = 0; i < sizeof(scopes) / sizeof(*scopes); i++) {
		char *d = xasprintf("%s%s\"%s\":[{\"type\":\"insecureAcceptAnything\"}]", doc,
				    i ? "," : "", scopes[i]);
		free(doc);
		doc = d;
	}
	char *d = xasprintf("%s}}}", doc);
	free(doc);
	doc = d;
	struct cc_error *err = NULL;
	struct sign_policy *p = parse(doc, &err);
	assert_non_null(p);
	static const struct {
		const char *ref, *scope;
	} cases[] = {
		{ "a.b.example.com:5000/ns/img:v1", "a.b.example.com:5000/ns/img:v1" },
		{ "a.b.example.com:5000/ns/img:v2", "a.b.example.com:5000/ns/img" },
		{ "a.b.example.com:5000/ns/img@sha256:"
		  "0000000000000000000000000000000000000000000000000000000000000000",
		  "a.b.example.com:5000/ns/img" },
		{ "a.b.example.com:5000/ns/other:1", "a.b.example.com:5000/ns" },
		{ "a.b.example.com:5000/nsx:1", "a.b.example.com:5000" },
		{ "a.b.example.com/ns/img:v1", "*.example.com" }, /* another port: another host */
		{ "example.com/x:1", "*.com" },
		{ "busybox", "docker.io/library" },
		{ "docker.io/other/x:1", "*.io" },
		{ "localhost:5000/x:1", "" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct img_ref ref;
		assert_int_equal(img_ref_parse(cases[i].ref, &ref, &err), 0);
		size_t n = 0;
		_cleanup_free_ char *scope = NULL;
		assert_non_null(sign_policy_for_docker(p, &ref, &n, &scope));
		_cleanup_free_ char *want = xasprintf("transports.docker[\"%s\"]", cases[i].scope);
		if (strcmp(scope, want))
			fail_msg("%s: scope %s, want %s", cases[i].ref, scope, want);
		img_ref_clear(&ref);
	}
	sign_policy_free(p);
	/* No docker scope at all: default. */
	p = parse("{\"default\":[{\"type\":\"reject\"}]}", &err);
	struct img_ref ref;
	assert_int_equal(img_ref_parse("x.io/y:z", &ref, &err), 0);
	size_t n;
	_cleanup_free_ char *scope = NULL;
	const struct sign_requirement *q = sign_policy_for_docker(p, &ref, &n, &scope);
	assert_string_equal(scope, "default");
	assert_int_equal(n, 1);
	assert_int_equal(q[0].type, SIGN_REQ_REJECT);
	img_ref_clear(&ref);
	sign_policy_free(p);
}

/* ---- GPG ---- */

static char home[64];
static char fpr_a[64], fpr_b[64];

static int run(const char *cmd)
{
	int st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void first_fpr(const char *uid, char *out)
{
	_cleanup_free_ char *cmd = xasprintf("gpg --homedir %s --with-colons --list-keys %s "
					     "2>/dev/null | awk -F: '/^fpr/{print $10; exit}'",
					     home, uid);
	FILE *f = popen(cmd, "r");
	assert_non_null(f);
	assert_non_null(fgets(out, 64, f));
	out[strcspn(out, "\n")] = '\0';
	pclose(f);
}

static int gpg_setup(void **state)
{
	(void)state;
	if (run("gpg --version >/dev/null 2>&1") != 0)
		return 0; /* the tests skip */
	snprintf(home, sizeof(home), "/tmp/test-sign-gpg.XXXXXX");
	if (!mkdtemp(home))
		return -1;
	const char *gen = "gpg --homedir %s --batch --pinentry-mode loopback --passphrase '' "
			  "--quick-gen-key %s rsa2048 sign never 2>/dev/null";
	_cleanup_free_ char *a = xasprintf(gen, home, "a@t");
	_cleanup_free_ char *b = xasprintf(gen, home, "b@t");
	if (run(a) || run(b))
		return -1;
	first_fpr("a@t", fpr_a);
	first_fpr("b@t", fpr_b);
	return 0;
}

static int gpg_teardown(void **state)
{
	(void)state;
	if (*home) {
		_cleanup_free_ char *cmd =
		    xasprintf("gpgconf --homedir %s --kill all; rm -rf %s", home, home);
		return run(cmd) == 0 ? 0 : -1;
	}
	return 0;
}

/* gpg's output for args (with stdin from `in`), as bytes. */
static unsigned char *gpg_out(const char *args, const char *in, size_t *len)
{
	_cleanup_free_ char *inpath = xasprintf("%s/in", home);
	_cleanup_free_ char *outpath = xasprintf("%s/out", home);
	struct cc_error *err = NULL;
	assert_int_equal(cc_write_file(inpath, in, strlen(in), 0600, &err), 0);
	_cleanup_free_ char *cmd = xasprintf(
	    "gpg --homedir %s --batch --yes %s < %s > %s 2>/dev/null", home, args, inpath, outpath);
	assert_int_equal(run(cmd), 0);
	char *out = cc_read_file(outpath, 0, len, &err);
	assert_non_null(out);
	return (unsigned char *)out;
}

static struct sign_gpg *keyring(const char *fpr)
{
	size_t len;
	_cleanup_free_ char *args = xasprintf("--export %s", fpr);
	_cleanup_free_ unsigned char *pub = gpg_out(args, "", &len);
	struct cc_error *err = NULL;
	struct sign_gpg *g = sign_gpg_new(&err);
	assert_non_null(g);
	assert_int_equal(sign_gpg_import(g, pub, len, "a.gpg", &err), 0);
	return g;
}

static void verify_fails(struct sign_gpg *g, const unsigned char *blob, size_t len,
			 const char *want)
{
	unsigned char *payload = NULL;
	size_t plen;
	char *signer = NULL;
	struct cc_error *err = NULL;
	assert_int_equal(sign_gpg_verify(g, blob, len, &payload, &plen, &signer, &err), -1);
	if (!strstr(err->msg, want))
		fail_msg("got \"%s\", want \"%s\"", err->msg, want);
	assert_null(payload);
	cc_error_free(&err);
}

static void test_gpg_verify(void **state)
{
	(void)state;
	if (!*home)
		skip();
	struct sign_gpg *g = keyring(fpr_a);
	const char *payload = "{\"critical\":{}}";
	_cleanup_free_ char *sign_a = xasprintf("--local-user %s --sign", fpr_a);
	_cleanup_free_ char *sign_b = xasprintf("--local-user %s --sign", fpr_b);
	size_t len, plen;
	_cleanup_free_ unsigned char *blob = gpg_out(sign_a, payload, &len);
	unsigned char *out = NULL;
	char *signer = NULL;
	struct cc_error *err = NULL;
	assert_int_equal(sign_gpg_verify(g, blob, len, &out, &plen, &signer, &err), 0);
	assert_int_equal(plen, strlen(payload));
	assert_memory_equal(out, payload, plen);
	assert_string_equal(signer, fpr_a);
	free(out);
	free(signer);

	/* Armored is the same message. */
	_cleanup_free_ char *armor_a = xasprintf("--armor %s", sign_a);
	size_t alen;
	_cleanup_free_ unsigned char *armored = gpg_out(armor_a, payload, &alen);
	assert_int_equal(sign_gpg_verify(g, armored, alen, &out, &plen, &signer, &err), 0);
	free(out);
	free(signer);

	/* Another key; changed bytes; a detached signature; no signature at all. */
	size_t blen;
	_cleanup_free_ unsigned char *by_b = gpg_out(sign_b, payload, &blen);
	_cleanup_free_ char *want = xasprintf("signed by key %s, which is not trusted", fpr_b);
	verify_fails(g, by_b, blen, want);
	/* A bit of the signed payload changed (stored uncompressed, so it can be found): a bad
	 * signature by the key, always. (A bit flipped blindly near the end may land on the
	 * signature packet's own lengths instead, which gpg reports as a malformed message.) */
	_cleanup_free_ char *plain_a = xasprintf("--compress-algo none %s", sign_a);
	size_t tlen;
	_cleanup_free_ unsigned char *tampered = gpg_out(plain_a, payload, &tlen);
	unsigned char *at = memmem(tampered, tlen, payload, strlen(payload));
	assert_non_null(at);
	at[2] ^= 1;
	verify_fails(g, tampered, tlen, "by key");
	_cleanup_free_ char *detach_a = xasprintf("--local-user %s --detach-sign", fpr_a);
	size_t dlen;
	_cleanup_free_ unsigned char *detached = gpg_out(detach_a, payload, &dlen);
	verify_fails(g, detached, dlen, "");
	size_t slen;
	_cleanup_free_ unsigned char *stored = gpg_out("--store", payload, &slen);
	verify_fails(g, stored, slen, "0 signatures in the message, 1 expected");
	verify_fails(g, (const unsigned char *)"junk", 4, "not an OpenPGP signed message");
	sign_gpg_free(g);
}

static void test_gpg_sign(void **state)
{
	(void)state;
	if (!*home)
		skip();
	unsigned char *blob = NULL, *out = NULL;
	size_t len, plen;
	char *signer = NULL;
	struct cc_error *err = NULL;
	assert_int_equal(sign_gpg_sign(home, fpr_b, NULL, "payload", 7, &blob, &len, &err), 0);
	assert_true(blob[0] == 0xa3 || blob[0] == 0x90 || blob[0] == 0xc8 || blob[0] == 0xa0);
	struct sign_gpg *g = keyring(fpr_b);
	assert_int_equal(sign_gpg_verify(g, blob, len, &out, &plen, &signer, &err), 0);
	assert_memory_equal(out, "payload", 7);
	assert_string_equal(signer, fpr_b);
	free(out);
	free(signer);
	free(blob);
	sign_gpg_free(g);
	assert_int_equal(sign_gpg_sign(home, "0000000000000000000000000000000000000000", NULL, "p",
				       1, &blob, &len, &err),
			 -1);
	assert_string_equal(err->msg,
			    "GPG key 0000000000000000000000000000000000000000: no such secret key");
	cc_error_free(&err);
}

/* An armored keyring is the same keys. */
static void test_gpg_armored_keys(void **state)
{
	(void)state;
	if (!*home)
		skip();
	size_t len, klen, plen;
	_cleanup_free_ char *export = xasprintf("--armor --export %s", fpr_a);
	_cleanup_free_ unsigned char *armored = gpg_out(export, "", &klen);
	assert_non_null(strstr((char *)armored, "-----BEGIN PGP PUBLIC KEY BLOCK-----"));
	_cleanup_free_ char *sign_a = xasprintf("--local-user %s --sign", fpr_a);
	_cleanup_free_ unsigned char *blob = gpg_out(sign_a, "x", &len);
	struct cc_error *err = NULL;
	struct sign_gpg *g = sign_gpg_new(&err);
	assert_int_equal(sign_gpg_import(g, armored, klen, "a.asc", &err), 0);
	unsigned char *out = NULL;
	char *signer = NULL;
	assert_int_equal(sign_gpg_verify(g, blob, len, &out, &plen, &signer, &err), 0);
	assert_string_equal(signer, fpr_a);
	free(out);
	free(signer);
	sign_gpg_free(g);
}

static void test_gpg_import_nothing(void **state)
{
	(void)state;
	if (!*home)
		skip();
	struct cc_error *err = NULL;
	struct sign_gpg *g = sign_gpg_new(&err);
	assert_int_equal(sign_gpg_import(g, "not a key", 9, "k.gpg", &err), -1);
	assert_string_equal(err->msg, "GPG keys k.gpg: no public key in it");
	cc_error_free(&err);
	sign_gpg_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refusals),	   cmocka_unit_test(test_parsed_fields),
		cmocka_unit_test(test_scope_lookup),	   cmocka_unit_test(test_gpg_verify),
		cmocka_unit_test(test_gpg_sign),	   cmocka_unit_test(test_gpg_armored_keys),
		cmocka_unit_test(test_gpg_import_nothing),
	};
	return cmocka_run_group_tests(tests, gpg_setup, gpg_teardown);
}
