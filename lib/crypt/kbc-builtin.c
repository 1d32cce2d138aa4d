// SPDX-License-Identifier: Apache-2.0
/* The built-in key broker clients: offline_fs_kbc and sample_kbc. See kbc.h. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include "crypt/jwa.h"
#include "crypt/kbc.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"

#define KEYFILE_MAX (1u << 20)
#define RESOURCE_FILE_MAX (16u << 20)

/* ---- offline_fs_kbc ---- */

struct offline_key {
	char *id;
	unsigned char key[32];
};

struct offline_fs {
	struct offline_key *keys;
	size_t n;
	char *resources_path;
};

static json_t *load_map(const char *path, size_t limit, struct cc_error **err)
{
	_cleanup_wipe_ struct crypt_buf buf = { 0 };
	if (crypt_read_secret_file(AT_FDCWD, path, limit, &buf, err) < 0)
		return NULL;
	json_t *j = crypt_json_parse(path, buf.p, buf.len, err);
	if (j && !json_is_object(j)) {
		cc_error_set(err, 0, "%s: not a JSON object", path);
		crypt_json_wipe_decrefp(&j);
	}
	return j;
}

static int offline_create(struct crypt_kbc *k, const struct crypt_kbc_opts *o,
			  struct cc_error **err)
{
	const char *path = o->offline_fs_keys ? o->offline_fs_keys : CRYPT_KBC_OFFLINE_FS_KEYS;
	_cleanup_json_wipe_ json_t *j = load_map(path, KEYFILE_MAX, err);
	struct offline_fs *fs;
	const char *id;
	json_t *v;

	if (!j)
		return -1;
	fs = xzalloc(sizeof(*fs));
	k->priv = fs;
	fs->resources_path = xstrdup(o->offline_fs_resources ? o->offline_fs_resources
							     : CRYPT_KBC_OFFLINE_FS_RESOURCES);
	fs->keys = xcalloc(json_object_size(j) + 1, sizeof(*fs->keys));
	json_object_foreach (j, id, v) {
		_cleanup_wipe_ struct crypt_buf key = { 0 };
		if (crypt_json_b64(j, id, CRYPT_B64_STD, true, path, &key, err) < 0)
			return -1;
		if (key.len != 32)
			return cc_error_set(err, 0, "%s: key \"%s\" is %zu bytes, not 32", path, id,
					    key.len);
		fs->keys[fs->n].id = xstrdup(id);
		memcpy(fs->keys[fs->n++].key, key.p, 32);
	}
	return 0;
}

static const unsigned char *offline_key(struct crypt_kbc *k, const char *kid, struct cc_error **err)
{
	struct offline_fs *fs = k->priv;
	_cleanup_free_ char *path = crypt_kbs_resource_path(kid, err);

	if (!path)
		return NULL;
	for (size_t i = 0; i < fs->n; i++)
		if (!strcmp(fs->keys[i].id, path))
			return fs->keys[i].key;
	cc_error_set(err, 0, "no key \"%s\" in the key file", path);
	return NULL;
}

static int offline_decrypt(struct crypt_kbc *k, const struct crypt_kbc_packet *p,
			   struct crypt_buf *out, struct cc_error **err)
{
	const unsigned char *key = offline_key(k, p->kid, err);
	if (!key)
		return -1;
	return crypt_kbc_cipher(false, p->wrap_type, key, &p->iv, p->wrapped.p, p->wrapped.len, out,
				err);
}

static int gcm_wrap(const unsigned char *key, const void *plain, size_t len,
		    struct crypt_kbc_packet *out, struct cc_error **err)
{
	out->iv.p = xmalloc(CRYPT_GCM_IV_LEN);
	out->iv.len = CRYPT_GCM_IV_LEN;
	crypt_random(out->iv.p, CRYPT_GCM_IV_LEN);
	out->wrap_type = xstrdup("A256GCM");
	return crypt_kbc_cipher(true, "A256GCM", key, &out->iv, plain, len, &out->wrapped, err);
}

static int offline_encrypt(struct crypt_kbc *k, const char *kid, const void *plain, size_t len,
			   struct crypt_kbc_packet *out, struct cc_error **err)
{
	const unsigned char *key = offline_key(k, kid, err);
	return key ? gcm_wrap(key, plain, len, out, err) : -1;
}

static int offline_resource(struct crypt_kbc *k, const char *uri, struct crypt_buf *out,
			    struct cc_error **err)
{
	struct offline_fs *fs = k->priv;
	_cleanup_free_ char *path = crypt_kbs_resource_path(uri, err);
	_cleanup_json_wipe_ json_t *j = NULL;

	if (!path || !(j = load_map(fs->resources_path, RESOURCE_FILE_MAX, err)))
		return -1;
	if (!json_object_get(j, path))
		return cc_error_set(err, 0, "%s: no resource \"%s\"", fs->resources_path, path);
	return crypt_json_b64(j, path, CRYPT_B64_STD, true, fs->resources_path, out, err);
}

static void offline_destroy(struct crypt_kbc *k)
{
	struct offline_fs *fs = k->priv;
	if (!fs)
		return;
	for (size_t i = 0; i < fs->n; i++)
		free(fs->keys[i].id);
	explicit_bzero(fs->keys, fs->n * sizeof(*fs->keys));
	free(fs->keys);
	free(fs->resources_path);
	free(fs);
}

const struct crypt_kbc_ops crypt_kbc_offline_fs = {
	.name = "offline_fs_kbc",
	.create = offline_create,
	.decrypt_payload = offline_decrypt,
	.encrypt_payload = offline_encrypt,
	.get_resource = offline_resource,
	.destroy = offline_destroy,
};

/* ---- sample_kbc ---- */

/* attestation-agent's sample_kbc key: public, so it protects nothing. Test images only. */
static const unsigned char sample_key[32] = {
	217, 155, 119, 5,  176, 186, 122, 22,  130, 149, 179, 163, 54, 114, 112, 176,
	221, 155, 55,  27, 245, 20,  202, 139, 155, 167, 240, 163, 55, 17,  218, 234,
};

/* Upstream decrypts every packet with A256GCM, whatever its wrap_type says. */
static int sample_decrypt(struct crypt_kbc *k, const struct crypt_kbc_packet *p,
			  struct crypt_buf *out, struct cc_error **err)
{
	return crypt_kbc_cipher(false, "A256GCM", sample_key, &p->iv, p->wrapped.p, p->wrapped.len,
				out, err);
}

static int sample_encrypt(struct crypt_kbc *k, const char *kid, const void *plain, size_t len,
			  struct crypt_kbc_packet *out, struct cc_error **err)
{
	return gcm_wrap(sample_key, plain, len, out, err);
}

const struct crypt_kbc_ops crypt_kbc_sample = {
	.name = "sample_kbc",
	.decrypt_payload = sample_decrypt,
	.encrypt_payload = sample_encrypt,
};
