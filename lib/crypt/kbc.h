/* SPDX-License-Identifier: Apache-2.0 */
/*
 * In-process key broker clients (KBC), as attestation-agent's "native" key provider: selected
 * by "provider:attestation-agent:<kbc>::<kbs uri>", they decrypt the AnnotationPacket found in
 * the annotation org.opencontainers.image.enc.keys.provider.attestation-agent:
 *
 *   {"kid": "kbs:///default/key/1", "wrapped_data": b64, "iv": b64, "wrap_type": "A256GCM"}
 *
 * A256GCM: 12-byte IV, 16-byte tag appended to the ciphertext; A256CTR: 16-byte IV, no
 * integrity of its own (a wrong key then shows as the layer HMAC mismatch).
 *
 * Built in: offline_fs_kbc (keys from a local JSON file {"<repo>/<type>/<tag>": b64(32 bytes)},
 * resources from {"<repo>/<type>/<tag>": b64(content)}; only safe when that file system is
 * confidential) and sample_kbc (upstream's fixed test key; for tests only). An attested
 * client (cc_kbc) registers its own ops.
 */
#pragma once

#include <stddef.h>
#include "crypt/internal.h"

#define CRYPT_KBC_OFFLINE_FS_KEYS "/etc/aa-offline_fs_kbc-keys.json"
#define CRYPT_KBC_OFFLINE_FS_RESOURCES "/etc/aa-offline_fs_kbc-resources.json"

struct crypt_kbc_opts {
	const char *offline_fs_keys;	  /* NULL: CRYPT_KBC_OFFLINE_FS_KEYS */
	const char *offline_fs_resources; /* NULL: CRYPT_KBC_OFFLINE_FS_RESOURCES */
};

struct crypt_kbc_packet {
	char *kid; /* a KBS resource URI */
	struct crypt_buf wrapped;
	struct crypt_buf iv;
	char *wrap_type;
};

struct crypt_kbc;

struct crypt_kbc_ops {
	const char *name;
	/* Set k->priv up; the KBS URI is in k->kbs_uri. */
	int (*create)(struct crypt_kbc *k, const struct crypt_kbc_opts *o, struct cc_error **err);
	/* The plaintext of a packet (the private layer options). */
	int (*decrypt_payload)(struct crypt_kbc *k, const struct crypt_kbc_packet *p,
			       struct crypt_buf *out, struct cc_error **err);
	/* Optional: wrap plain under key kid (fills wrapped, iv, wrap_type). */
	int (*encrypt_payload)(struct crypt_kbc *k, const char *kid, const void *plain, size_t len,
			       struct crypt_kbc_packet *out, struct cc_error **err);
	/* Optional: a resource by KBS URI. */
	int (*get_resource)(struct crypt_kbc *k, const char *uri, struct crypt_buf *out,
			    struct cc_error **err);
	void (*destroy)(struct crypt_kbc *k);
};

struct crypt_kbc {
	const struct crypt_kbc_ops *ops;
	char *kbs_uri;
	void *priv;
};

/* The built-in clients. */
extern const struct crypt_kbc_ops crypt_kbc_offline_fs, crypt_kbc_sample;

/* Add a KBC implementation; call before threads use crypt_kbc_new(). */
CC_MUST_CHECK int crypt_kbc_register(const struct crypt_kbc_ops *ops, struct cc_error **err);
/* "<kbc>::<kbs uri>", both parts non-empty (the URI may be a placeholder such as "null"). */
CC_MUST_CHECK int crypt_kbc_new(const char *spec, const struct crypt_kbc_opts *o,
				struct crypt_kbc **out, struct cc_error **err);
/* Parse the packet JSON and decrypt it. */
CC_MUST_CHECK int crypt_kbc_unwrap(struct crypt_kbc *k, const void *packet, size_t len,
				   struct crypt_buf *out, struct cc_error **err);
/* Wrap plain under kid into packet JSON (for encrypting images for this KBC). */
CC_MUST_CHECK int crypt_kbc_wrap(struct crypt_kbc *k, const char *kid, const void *plain,
				 size_t len, struct crypt_buf *packet, struct cc_error **err);
CC_MUST_CHECK int crypt_kbc_get_resource(struct crypt_kbc *k, const char *uri,
					 struct crypt_buf *out, struct cc_error **err);
void crypt_kbc_free(struct crypt_kbc *k);

CC_MUST_CHECK int crypt_kbc_packet_parse(const void *json, size_t len, struct crypt_kbc_packet *p,
					 struct cc_error **err);
void crypt_kbc_packet_clear(struct crypt_kbc_packet *p);
/* kbs://<host>/<repo>/<type>/<tag>[?query] -> "<repo>/<type>/<tag>" (caller frees). */
CC_MUST_CHECK char *crypt_kbs_resource_path(const char *uri, struct cc_error **err);
/* A256GCM / A256CTR with a 32-byte key, as the packets use them. */
CC_MUST_CHECK int crypt_kbc_cipher(bool encrypt, const char *wrap_type, const unsigned char *key,
				   const struct crypt_buf *iv, const void *in, size_t len,
				   struct crypt_buf *out, struct cc_error **err);
