/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ocicrypt key-provider protocol (annotation ...enc.keys.provider.<name>).
 *
 * ocicrypt.conf (JSON, named by $OCICRYPT_KEYPROVIDER_CONFIG):
 *   {"key-providers": {"<name>": {"cmd": {"path": "/bin/x", "args": []}}
 *                                | {"grpc": "host:port"} | {"ttrpc": ".."} | {"native": ".."}}}
 * Only cmd providers are run here: the program gets one JSON request on stdin and answers one
 * JSON reply on stdout. It is started without a shell, with no inherited descriptors beyond
 * stdio, and killed when it overruns its time; its output is bounded; a non-zero exit, a
 * signal or a reply that is not the expected JSON is an error naming the provider. grpc and
 * ttrpc providers are refused with a "not supported" error; "native" names the in-process key
 * broker clients (kbc.h).
 *
 * The request carries only this provider's own parameter, not every decryption key the way
 * ocicrypt's DecryptConfig does: a provider has no business seeing other private keys.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include "crypt/internal.h"

#define CRYPT_PROVIDER_OUTPUT_MAX (1u << 20)
#define CRYPT_PROVIDER_TIMEOUT_MS 60000

enum crypt_provider_kind {
	CRYPT_PROVIDER_CMD,
	CRYPT_PROVIDER_GRPC,
	CRYPT_PROVIDER_TTRPC,
	CRYPT_PROVIDER_NATIVE,
};

struct crypt_provider {
	char *name;
	enum crypt_provider_kind kind;
	char **argv;   /* cmd: path then args, NULL-terminated */
	char *address; /* grpc, ttrpc, native */
};

struct crypt_provider_config {
	struct crypt_provider *p;
	size_t n;
};

/* `what` names the file in messages. */
CC_MUST_CHECK int crypt_provider_config_parse(const char *what, const void *buf, size_t len,
					      struct crypt_provider_config *out,
					      struct cc_error **err);
/* path NULL: $OCICRYPT_KEYPROVIDER_CONFIG; neither set: an empty config, not an error. */
CC_MUST_CHECK int crypt_provider_config_load(const char *path, struct crypt_provider_config *out,
					     struct cc_error **err);
const struct crypt_provider *crypt_provider_find(const struct crypt_provider_config *c,
						 const char *name);
void crypt_provider_config_clear(struct crypt_provider_config *c);

/* param NULL: "Enabled", as ocicrypt sends for "provider:<name>". timeout_ms 0: default. */
CC_MUST_CHECK int crypt_provider_unwrap(const struct crypt_provider *p, const char *param,
					const unsigned char *blob, size_t len, int timeout_ms,
					struct crypt_buf *opts, struct cc_error **err);
CC_MUST_CHECK int crypt_provider_wrap(const struct crypt_provider *p, const char *param,
				      const unsigned char *opts, size_t len, int timeout_ms,
				      struct crypt_buf *blob, struct cc_error **err);

/* The reply JSON: {"keyunwrapresults":{"optsdata":..}} or {"keywrapresults":{"annotation":..}};
 * bytes as a base64 string (Go) or an array of integers (Rust serde). */
CC_MUST_CHECK int crypt_provider_parse_reply(bool wrap, const void *json, size_t len,
					     struct crypt_buf *out, struct cc_error **err);
