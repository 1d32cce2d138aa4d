// SPDX-License-Identifier: Apache-2.0
/* Interoperability: layers we encrypt (JWE RSA/EC, several recipients, PKCS#7, OpenPGP) are
 * decrypted by skopeo between two local oci: layouts, and come back byte for byte. No
 * network, no registry. Skipped when skopeo (or gpg, for OpenPGP) is not installed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include "crypt-helpers.h"

extern char **environ;

/* argv wants char *: string literals are const here (-Wwrite-strings). */
#define S(lit) ((char *)(lit))

static char tmpdir[] = "/tmp/crypt-skopeo.XXXXXX";
static char *gnupg_home;

static bool have(const char *prog)
{
	_cleanup_free_ char *a = xasprintf("/usr/bin/%s", prog);
	_cleanup_free_ char *b = xasprintf("/usr/local/bin/%s", prog);
	return access(a, X_OK) == 0 || access(b, X_OK) == 0;
}

/* Run argv with output to a log; returns the exit status (the log is printed on failure when
 * the caller expects success). */
static int run(char *const argv[], bool expect_ok)
{
	_cleanup_free_ char *log = xasprintf("%s/run.log", tmpdir);
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int status = -1;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	assert_int_equal(posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
	if (expect_ok && code != 0) {
		size_t len;
		struct cc_error *err = NULL;
		_cleanup_free_ char *out = cc_read_file(log, 0, &len, &err);
		print_message("%s exited with %d:\n%s\n", argv[0], code, out ? out : "");
		cc_error_free(&err);
	}
	return code;
}

static char *sha256_hex(const void *buf, size_t len)
{
	unsigned char md[32];
	char *s = xmalloc(65);
	assert_int_equal(EVP_Digest(buf, len, md, NULL, EVP_sha256(), NULL), 1);
	for (int i = 0; i < 32; i++)
		sprintf(s + 2 * i, "%02x", md[i]);
	return s;
}

static char *put_blob(const char *layout, const void *buf, size_t len)
{
	struct cc_error *err = NULL;
	char *hex = sha256_hex(buf, len);
	_cleanup_free_ char *dir = xasprintf("%s/blobs/sha256", layout);
	_cleanup_free_ char *path = xasprintf("%s/%s", dir, hex);
	assert_ok(cc_mkdir_p(dir, 0755, &err), err);
	assert_ok(cc_write_file(path, buf, len, 0644, &err), err);
	return hex;
}

/* An oci: layout "enc" holding layer.tar.gz encrypted by us for the recipients. */
static void write_encrypted_layout(const char *layout, const char *const *recipients, size_t n)
{
	struct crypt_keys_opts o = { .gnupg_home = gnupg_home };
	struct crypt_recipients *r = crypt_recipients_new(&o);
	struct crypt_layer *l = NULL;
	struct cc_error *err = NULL;
	size_t len, clen;
	_cleanup_free_ char *plain = read_data("layer.tar.gz", &len);
	_cleanup_free_ char *config = read_data("config.json", &clen);
	_cleanup_free_ char *plain_hex = sha256_hex(plain, len);
	_cleanup_free_ char *plain_digest = xasprintf("sha256:%s", plain_hex);
	json_t *ann = NULL;

	for (size_t i = 0; i < n; i++) {
		const char *v = strchr(recipients[i], ':') + 1;
		_cleanup_free_ char *s =
		    strncmp(recipients[i], "pgp:", 4)
			? xasprintf("%.*s%s/%s", (int)(v - recipients[i]), recipients[i],
				    getenv("CRYPT_TEST_DATA"), v)
			: xstrdup(recipients[i]);
		assert_ok(crypt_recipients_add(r, s, &err), err);
	}
	assert_ok(crypt_layer_encrypt_begin(r, "application/vnd.oci.image.layer.v1.tar+gzip",
					    plain_digest, &l, &err),
		  err);
	_cleanup_free_ unsigned char *ct = xmalloc(len);
	assert_ok(crypt_layer_update(l, plain, len, ct, &err), err);
	assert_ok(crypt_layer_final(l, &ann, &err), err);
	_cleanup_free_ char *layer = put_blob(layout, ct, len);
	_cleanup_free_ char *cfg = put_blob(layout, config, clen);
	json_t *m = json_pack(
	    "{s:i, s:s, s:{s:s, s:s+, s:I}, s:[{s:s, s:s+, s:I, s:o}]}", "schemaVersion", 2,
	    "mediaType", "application/vnd.oci.image.manifest.v1+json", "config", "mediaType",
	    "application/vnd.oci.image.config.v1+json", "digest", "sha256:", cfg, "size",
	    (json_int_t)clen, "layers", "mediaType", crypt_layer_media_type(l), "digest",
	    "sha256:", layer, "size", (json_int_t)len, "annotations", ann);
	assert_non_null(m);
	_cleanup_free_ char *mtext = json_dumps(m, JSON_COMPACT);
	_cleanup_free_ char *mhex = put_blob(layout, mtext, strlen(mtext));
	_cleanup_free_ char *index = xasprintf(
	    "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"application/vnd.oci.image."
	    "manifest.v1+json\",\"digest\":\"sha256:%s\",\"size\":%zu,\"annotations\":{"
	    "\"org.opencontainers.image.ref.name\":\"latest\"}}]}",
	    mhex, strlen(mtext));
	_cleanup_free_ char *ip = xasprintf("%s/index.json", layout);
	_cleanup_free_ char *lp = xasprintf("%s/oci-layout", layout);
	assert_ok(cc_write_file(ip, index, strlen(index), 0644, &err), err);
	assert_ok(cc_write_file(lp, "{\"imageLayoutVersion\":\"1.0.0\"}", 30, 0644, &err), err);
	json_decref(m);
	crypt_layer_free(l);
	crypt_recipients_free(r);
}

/* skopeo copy --decryption-key ... oci:enc oci:dec; on success the plain layer must be in dec. */
static int skopeo_decrypt(const char *const *keys, size_t n, bool expect_ok)
{
	_cleanup_free_ char *src = xasprintf("oci:%s/enc:latest", tmpdir);
	_cleanup_free_ char *dstdir = xasprintf("%s/dec", tmpdir);
	_cleanup_free_ char *dst = xasprintf("oci:%s:latest", dstdir);
	char *argv[32] = { S("skopeo"), S("--insecure-policy"), S("copy"), S("-q") };
	size_t a = 4;
	struct cc_error *err = NULL;

	assert_int_equal(cc_rm_rf(dstdir, &err), 0);
	cc_error_free(&err);
	for (size_t i = 0; i < n; i++) {
		argv[a++] = S("--decryption-key");
		argv[a++] = data_path(keys[i]);
	}
	argv[a++] = src;
	argv[a++] = dst;
	int code = run(argv, expect_ok);
	for (size_t i = 0; i < n; i++)
		free(argv[5 + 2 * i]);
	if (code == 0) {
		size_t len;
		_cleanup_free_ char *plain = read_data("layer.tar.gz", &len);
		_cleanup_free_ char *hex = sha256_hex(plain, len);
		_cleanup_free_ char *p = xasprintf("%s/blobs/sha256/%s", dstdir, hex);
		if (access(p, F_OK) != 0)
			fail_msg("skopeo succeeded but the plain layer %s is not in the copy", hex);
	}
	return code;
}

static void check(const char *const *recipients, size_t nr, const char *const *keys, size_t nk)
{
	_cleanup_free_ char *enc = xasprintf("%s/enc", tmpdir);
	struct cc_error *err = NULL;
	assert_int_equal(cc_rm_rf(enc, &err), 0);
	cc_error_free(&err);
	write_encrypted_layout(enc, recipients, nr);
	assert_int_equal(skopeo_decrypt(keys, nk, true), 0);
}

static int setup(void **state)
{
	if (!have("skopeo")) {
		print_message("# skipped: skopeo is not installed\n");
		return 0;
	}
	assert_non_null(mkdtemp(tmpdir));
	return 0;
}

static int teardown(void **state)
{
	struct cc_error *err = NULL;
	if (gnupg_home) {
		char *argv[] = { S("gpgconf"), S("--homedir"), gnupg_home,
				 S("--kill"),  S("all"),       NULL };
		run(argv, false);
	}
	assert_int_equal(cc_rm_rf(tmpdir, &err), 0);
	cc_error_free(&err);
	free(gnupg_home);
	return 0;
}

#define NEED_SKOPEO()                \
	do {                         \
		if (!have("skopeo")) \
			skip();      \
	} while (0)

static void test_jwe_rsa(void **state)
{
	NEED_SKOPEO();
	static const char *const r[] = { "jwe:rsa-pub.pem" }, *const k[] = { "rsa.pem" };
	check(r, 1, k, 1);
	/* The check can fail: the wrong key is refused by skopeo too. */
	static const char *const wrong[] = { "rsa-other.pem" };
	assert_int_not_equal(skopeo_decrypt(wrong, 1, false), 0);
}

static void test_jwe_ec(void **state)
{
	NEED_SKOPEO();
	static const char *const r[] = { "jwe:ec256-pub.pem" }, *const k[] = { "ec256.pem" };
	check(r, 1, k, 1);
	static const char *const r2[] = { "jwe:ec521-pub.pem" }, *const k2[] = { "ec521.pem" };
	check(r2, 1, k2, 1);
}

static void test_jwe_several(void **state)
{
	NEED_SKOPEO();
	static const char *const r[] = { "jwe:rsa-pub.pem", "jwe:ec384-pub.pem" };
	static const char *const k1[] = { "ec384.pem" }, *const k2[] = { "rsa.pem" };
	check(r, 2, k1, 1);
	assert_int_equal(skopeo_decrypt(k2, 1, true), 0);
}

static void test_pkcs7(void **state)
{
	NEED_SKOPEO();
	static const char *const r[] = { "pkcs7:pkcs7-cert.pem" };
	static const char *const k[] = { "pkcs7-key.pem", "pkcs7-cert.pem" };
	check(r, 1, k, 2);
}

static void test_pgp(void **state)
{
	NEED_SKOPEO();
	if (!have("gpg"))
		skip();
	gnupg_home = xasprintf("%s/gnupg", tmpdir);
	assert_int_equal(mkdir(gnupg_home, 0700), 0);
	_cleanup_free_ char *ring = data_path("pgp-a.gpg");
	char *argv[] = { S("gpg"), S("--batch"), S("--homedir"), gnupg_home, S("--import"),
			 ring,	   NULL };
	assert_int_equal(run(argv, true), 0);
	static const char *const r[] = { "pgp:a@crypt.test" }, *const k[] = { "pgp-a.gpg" };
	check(r, 1, k, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jwe_rsa),	    cmocka_unit_test(test_jwe_ec),
		cmocka_unit_test(test_jwe_several), cmocka_unit_test(test_pkcs7),
		cmocka_unit_test(test_pgp),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
