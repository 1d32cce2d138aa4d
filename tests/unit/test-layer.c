// SPDX-License-Identifier: Apache-2.0
/* Unit tests for lib/image/layer.c: blob bytes to a committed layer, and every refusal. */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <cmocka.h>
#include <isa-l/igzip_lib.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include "crypt/crypt.h"
#include "image/error.h"
#include "image/layer.h"
#include "util/cleanup.h"
#include "util/fs.h"

#include "tmproot.h"

/* A small layer: a directory, a file and a whiteout for "gone". */
static unsigned char *make_tar(size_t *len)
{
	size_t cap = 1 << 16;
	unsigned char *buf = xmalloc(cap);
	struct archive *a = archive_write_new();
	assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
	assert_int_equal(archive_write_open_memory(a, buf, cap, len), ARCHIVE_OK);
	struct archive_entry *e = archive_entry_new();
	archive_entry_set_pathname(e, "etc");
	archive_entry_set_filetype(e, AE_IFDIR);
	archive_entry_set_perm(e, 0755);
	assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
	archive_entry_clear(e);
	archive_entry_set_pathname(e, "etc/motd");
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, 6);
	assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
	assert_int_equal(archive_write_data(a, "hello\n", 6), 6);
	archive_entry_clear(e);
	archive_entry_set_pathname(e, "etc/.wh.gone");
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, 0);
	assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
	archive_entry_free(e);
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	return buf;
}

static unsigned char *gzip(const unsigned char *in, size_t len, size_t *out_len)
{
	struct isal_zstream z;
	size_t cap = len + 1024;
	unsigned char *out = xmalloc(cap);
	isal_deflate_init(&z);
	z.gzip_flag = IGZIP_GZIP;
	z.end_of_stream = 1;
	z.next_in = (uint8_t *)in;
	z.avail_in = (uint32_t)len;
	z.next_out = out;
	z.avail_out = (uint32_t)cap;
	assert_int_equal(isal_deflate(&z), COMP_OK);
	*out_len = z.total_out;
	return out;
}

struct fixture {
	unsigned char *tar, *gz;
	size_t tar_len, gz_len;
	char *diff_id;
	struct img_descriptor d;
};

static void make_fixture(struct fixture *f)
{
	f->tar = make_tar(&f->tar_len);
	f->gz = gzip(f->tar, f->tar_len, &f->gz_len);
	f->diff_id = img_digest_buf(f->tar, f->tar_len);
	f->d = (struct img_descriptor){
		.media_type = (char *)"application/vnd.oci.image.layer.v1.tar+gzip",
		.digest = img_digest_buf(f->gz, f->gz_len),
		.size = (int64_t)f->gz_len,
		.compression = IMG_LAYER_GZIP,
	};
}

static void free_fixture(struct fixture *f)
{
	free(f->tar);
	free(f->gz);
	free(f->diff_id);
	free(f->d.digest);
}

static size_t count(const char *dir)
{
	_cleanup_closedir_ DIR *d = opendir(dir);
	size_t n = 0;
	struct dirent *de;
	while (d && (de = readdir(d)))
		n += de->d_name[0] != '.';
	return n;
}

static struct img_store *store(const char *name)
{
	_cleanup_free_ char *p = cc_path_join(root, name);
	struct cc_error *err = NULL;
	struct img_store *s = img_store_open(p, &err);
	assert_non_null(s);
	return s;
}

static void test_apply(void **state)
{
	struct fixture f;
	make_fixture(&f);
	struct img_store *s = store("ok");
	struct cc_error *err = NULL;
	int r =
	    img_layer_apply(s, &f.d, f.diff_id, img_stream_mem(f.gz, f.gz_len), NULL, false, &err);
	if (r < 0)
		fail_msg("%s", err->msg);
	assert_int_equal(r, 0);
	_cleanup_free_ char *dir = img_store_layer_path(s, f.diff_id);
	_cleanup_free_ char *motd = cc_path_join(dir, "etc/motd");
	_cleanup_free_ char *text = cc_read_file(motd, 0, NULL, &err);
	assert_string_equal(text, "hello\n");
	/* Overlay format: the whiteout is a 0/0 character device. */
	_cleanup_free_ char *gone = cc_path_join(dir, "etc/gone");
	struct stat st;
	assert_int_equal(lstat(gone, &st), 0);
	assert_true(S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0));
	/* Already there: the source is not even read. */
	assert_int_equal(
	    img_layer_apply(s, &f.d, f.diff_id, img_stream_mem(NULL, 0), NULL, false, &err), 1);
	img_store_close(s);
	free_fixture(&f);
}

static void expect_refused(struct img_store *s, const struct img_descriptor *d, const char *diff_id,
			   const void *blob, size_t len, const char *want)
{
	struct cc_error *err = NULL;
	assert_int_equal(
	    img_layer_apply(s, d, diff_id, img_stream_mem(blob, len), NULL, false, &err), -1);
	if (!strstr(err->msg, want))
		fail_msg("got \"%s\", want \"%s\"", err->msg, want);
	cc_error_free(&err);
	/* Nothing committed, nothing staged. */
	assert_false(img_store_has_layer(s, diff_id));
	_cleanup_free_ char *tmp = cc_path_join(img_store_root(s), "tmp");
	assert_int_equal(count(tmp), 0);
}

static void test_refusals(void **state)
{
	struct fixture f;
	make_fixture(&f);
	struct img_store *s = store("bad");
	_cleanup_free_ char *want = xasprintf("blob %s: digest mismatch", f.d.digest);

	/* Tampered bytes in the middle of the deflate stream: gzip may object first, but the
	 * verdict reported is the blob's digest. */
	_cleanup_free_ unsigned char *bad = xmalloc(f.gz_len);
	memcpy(bad, f.gz, f.gz_len);
	bad[f.gz_len / 2] ^= 0x55;
	expect_refused(s, &f.d, f.diff_id, bad, f.gz_len, want);

	/* Truncated download: a size mismatch, named before the digest. */
	_cleanup_free_ char *trunc = xasprintf("blob %s: size mismatch: got %zu of %zu bytes",
					       f.d.digest, f.gz_len - 7, f.gz_len);
	expect_refused(s, &f.d, f.diff_id, f.gz, f.gz_len - 7, trunc);

	/* Right blob, wrong diff_id in the config. */
	_cleanup_free_ char *wrong = img_digest_buf("x", 1);
	_cleanup_free_ char *dmsg = xasprintf("layer %s: diff_id: digest mismatch", f.d.digest);
	expect_refused(s, &f.d, wrong, f.gz, f.gz_len, dmsg);

	/* Encrypted layers need the decryption stage. */
	struct img_descriptor enc = f.d;
	enc.encrypted = true;
	expect_refused(s, &enc, f.diff_id, f.gz, f.gz_len, "encrypted");

	/* A blob whose digest matches but is not gzip. */
	struct img_descriptor plain = f.d;
	_cleanup_free_ char *pd = img_digest_buf(f.tar, f.tar_len);
	plain.digest = pd;
	plain.size = (int64_t)f.tar_len;
	_cleanup_free_ char *gmsg = xasprintf("layer %s: invalid gzip data", pd);
	expect_refused(s, &plain, f.diff_id, f.tar, f.tar_len, gmsg);
	img_store_close(s);
	free_fixture(&f);
}

/* An unpack failure with an errno: the message says errno's text once, the number is kept. */
static void test_unpack_errno_once(void **state)
{
	size_t cap = 1 << 14, tar_len = 0, gz_len = 0;
	_cleanup_free_ unsigned char *tar = xmalloc(cap);
	struct archive *a = archive_write_new();
	assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
	assert_int_equal(archive_write_open_memory(a, tar, cap, &tar_len), ARCHIVE_OK);
	struct archive_entry *e = archive_entry_new();
	archive_entry_set_pathname(e, "l");
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_hardlink(e, "missing");
	assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
	archive_entry_free(e);
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	_cleanup_free_ unsigned char *gz = gzip(tar, tar_len, &gz_len);
	_cleanup_free_ char *diff_id = img_digest_buf(tar, tar_len);
	_cleanup_free_ char *digest = img_digest_buf(gz, gz_len);
	struct img_descriptor d = {
		.media_type = (char *)"application/vnd.oci.image.layer.v1.tar+gzip",
		.digest = digest,
		.size = (int64_t)gz_len,
		.compression = IMG_LAYER_GZIP,
	};
	struct img_store *s = store("errno");
	struct cc_error *err = NULL;
	assert_int_equal(
	    img_layer_apply(s, &d, diff_id, img_stream_mem(gz, gz_len), NULL, false, &err), -1);
	const char *text = strerror(ENOENT);
	const char *first = strstr(err->msg, text);
	if (!first || strstr(first + 1, text))
		fail_msg("want \"%s\" once in \"%s\"", text, err->msg);
	assert_non_null(strstr(err->msg, "\"missing\""));
	assert_int_equal(err->errnum, ENOENT);
	cc_error_free(&err);
	assert_false(img_store_has_layer(s, diff_id));
	img_store_close(s);
}

/* ---- encrypted layers (ocicrypt) ---- */

/* A fresh P-256 key pair as PEM files under root: <name>.pem (private), <name>-pub.pem. */
static void make_key(const char *name)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	assert_non_null(k);
	_cleanup_free_ char *priv = xasprintf("%s/%s.pem", root, name);
	_cleanup_free_ char *pub = xasprintf("%s/%s-pub.pem", root, name);
	FILE *f = fopen(priv, "w");
	assert_non_null(f);
	assert_int_equal(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
	fclose(f);
	f = fopen(pub, "w");
	assert_non_null(f);
	assert_int_equal(PEM_write_PUBKEY(f, k), 1);
	fclose(f);
	EVP_PKEY_free(k);
}

struct enc_fixture {
	struct fixture f;
	unsigned char *blob; /* the ciphertext */
	json_t *annotations;
	struct img_descriptor d;
	struct crypt_keys *keys, *other;
};

static struct crypt_keys *keys_for(const char *name)
{
	struct cc_error *err = NULL;
	struct crypt_keys *k = crypt_keys_new(NULL);
	_cleanup_free_ char *spec = xasprintf("%s/%s.pem", root, name);
	if (crypt_keys_add(k, spec, &err) < 0)
		fail_msg("%s", err->msg);
	return k;
}

/* The fixture's gzip layer encrypted for the key "right", as skopeo would store it. */
static void make_enc_fixture(struct enc_fixture *e)
{
	struct cc_error *err = NULL;
	make_fixture(&e->f);
	make_key("right");
	make_key("wrong");
	struct crypt_recipients *r = crypt_recipients_new(NULL);
	_cleanup_free_ char *spec = xasprintf("jwe:%s/right-pub.pem", root);
	struct crypt_layer *l = NULL;
	if (crypt_recipients_add(r, spec, &err) < 0 ||
	    crypt_layer_encrypt_begin(r, e->f.d.media_type, e->f.d.digest, &l, &err) < 0)
		fail_msg("%s", err->msg);
	e->blob = xmalloc(e->f.gz_len);
	assert_int_equal(crypt_layer_update(l, e->f.gz, e->f.gz_len, e->blob, &err), 0);
	assert_int_equal(crypt_layer_final(l, &e->annotations, &err), 0);
	e->d = e->f.d;
	e->d.media_type = xstrdup(crypt_layer_media_type(l));
	e->d.digest = img_digest_buf(e->blob, e->f.gz_len);
	e->d.encrypted = true;
	e->d.annotations = e->annotations;
	crypt_layer_free(l);
	crypt_recipients_free(r);
	e->keys = keys_for("right");
	e->other = keys_for("wrong");
}

static void free_enc_fixture(struct enc_fixture *e)
{
	free(e->blob);
	free(e->d.media_type);
	free(e->d.digest);
	json_decref(e->annotations);
	crypt_keys_free(e->keys);
	crypt_keys_free(e->other);
	free_fixture(&e->f);
}

/* Refused with want in the message and the class code; nothing committed or staged. */
static void expect_enc_refused(struct img_store *s, const struct img_descriptor *d,
			       const char *diff_id, const void *blob, size_t len,
			       const struct crypt_keys *keys, const char *want, int code)
{
	struct cc_error *err = NULL;
	assert_int_equal(
	    img_layer_apply(s, d, diff_id, img_stream_mem(blob, len), keys, false, &err), -1);
	if (!strstr(err->msg, want))
		fail_msg("got \"%s\", want \"%s\"", err->msg, want);
	assert_int_equal(err->code, code);
	cc_error_free(&err);
	assert_false(img_store_has_layer(s, diff_id));
	_cleanup_free_ char *tmp = cc_path_join(img_store_root(s), "tmp");
	assert_int_equal(count(tmp), 0);
}

static void test_encrypted(void **state)
{
	struct enc_fixture e;
	make_enc_fixture(&e);
	struct img_store *s = store("enc");
	size_t n = e.f.gz_len;
	_cleanup_free_ char *hmac = xasprintf("layer %s: layer HMAC mismatch", e.d.digest);

	/* No key at all, a key that fits no recipient. */
	expect_enc_refused(s, &e.d, e.f.diff_id, e.blob, n, NULL,
			   "is encrypted and no decryption key was given", IMG_ERR_INVALID);
	expect_enc_refused(s, &e.d, e.f.diff_id, e.blob, n, e.other,
			   "no key could unwrap the layer key", IMG_ERR_DENIED);

	/* A byte flipped in the last block, under a descriptor that matches the tampered blob:
	 * only the HMAC at the end of the stream can tell. */
	_cleanup_free_ unsigned char *bad = xmalloc(n);
	memcpy(bad, e.blob, n);
	bad[n - 1] ^= 0x01;
	struct img_descriptor td = e.d;
	_cleanup_free_ char *tdigest = img_digest_buf(bad, n);
	td.digest = tdigest;
	_cleanup_free_ char *thmac = xasprintf("layer %s: layer HMAC mismatch", tdigest);
	expect_enc_refused(s, &td, e.f.diff_id, bad, n, e.keys, thmac, IMG_ERR_INTEGRITY);

	/* Flipped in the middle: gzip objects first, but the verdict is the HMAC's. */
	memcpy(bad, e.blob, n);
	bad[n / 2] ^= 0x55;
	free(tdigest);
	tdigest = img_digest_buf(bad, n);
	td.digest = tdigest;
	free(thmac);
	thmac = xasprintf("layer %s: layer HMAC mismatch", tdigest);
	expect_enc_refused(s, &td, e.f.diff_id, bad, n, e.keys, thmac, IMG_ERR_INTEGRITY);

	/* The same bytes under the original descriptor: the blob digest ranks first. */
	_cleanup_free_ char *dmsg = xasprintf("blob %s: digest mismatch", e.d.digest);
	expect_enc_refused(s, &e.d, e.f.diff_id, bad, n, e.keys, dmsg, IMG_ERR_INTEGRITY);

	/* The annotations' HMAC does not belong to this ciphertext (another encryption run). */
	struct enc_fixture e2;
	make_enc_fixture(&e2);
	struct img_descriptor mixed = e2.d;
	mixed.digest = e.d.digest;
	expect_enc_refused(s, &mixed, e.f.diff_id, e.blob, n, e2.keys, hmac, IMG_ERR_INTEGRITY);
	free_enc_fixture(&e2);

	/* The right key: the plain tree, under the plain diff_id. */
	struct cc_error *err = NULL;
	int r =
	    img_layer_apply(s, &e.d, e.f.diff_id, img_stream_mem(e.blob, n), e.keys, false, &err);
	if (r < 0)
		fail_msg("%s", err->msg);
	_cleanup_free_ char *dir = img_store_layer_path(s, e.f.diff_id);
	_cleanup_free_ char *motd = cc_path_join(dir, "etc/motd");
	_cleanup_free_ char *text = cc_read_file(motd, 0, NULL, &err);
	assert_string_equal(text, "hello\n");
	img_store_close(s);
	free_enc_fixture(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_apply),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_unpack_errno_once),
		cmocka_unit_test(test_encrypted),
	};
	return cmocka_run_group_tests(tests, tmproot_setup, tmproot_teardown);
}
