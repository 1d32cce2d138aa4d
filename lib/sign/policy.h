/* SPDX-License-Identifier: Apache-2.0 */
/*
 * containers-policy.json(5): which images may be pulled, read as containers/image reads it.
 *
 *   {"default": [REQ, ...],
 *    "transports": {"docker": {"SCOPE": [REQ, ...], "": [REQ, ...]}, ...}}
 *
 * Parsing is strict: an unknown, duplicate or mistyped key anywhere, an empty requirement
 * list, a scope that its transport refuses, or a requirement without what it needs is an
 * error naming the key path ("policy.json: transports.docker[\"example.com\"][0].keyPath:
 * expected string, got integer"). Key files named by keyPath/keyPaths are read when the
 * requirement is evaluated (sign/verify.h), as containers/image reads them.
 *
 * For a docker reference only the most specific scope applies: the reference with its tag or
 * digest, the repository, each parent namespace, the host[:port], the wildcards made from the
 * host name (*.b.example.com, *.example.com, *.com), the transport's "" scope, then default.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include "image/reference.h"
#include "sign/identity.h"
#include "util/error.h"

enum sign_req_type {
	SIGN_REQ_INSECURE_ACCEPT_ANYTHING,
	SIGN_REQ_REJECT,
	SIGN_REQ_SIGNED_BY,	  /* GPG simple signing */
	SIGN_REQ_SIGSTORE_SIGNED, /* cosign */
	SIGN_REQ_SIGNED_BASE_LAYER,
};

/* The name of a requirement type as policy.json spells it. */
const char *sign_req_type_name(enum sign_req_type t);

/* Key material of a requirement: files (read at evaluation) or inline bytes. */
struct sign_keysource {
	char **paths;	      /* keyPath (one) or keyPaths, NULL-terminated; or NULL */
	unsigned char **data; /* keyData (one) or keyDatas, decoded; or NULL */
	size_t *data_len;
	size_t n_data;
};

struct sign_requirement {
	enum sign_req_type type;
	char *where;	/* its place in the file, for messages: "default[0]" */
	char *key_type; /* signedBy: keyType ("GPGKeys", ...) */
	struct sign_keysource keys;
	struct sign_identity identity; /* signedBy, sigstoreSigned: signedIdentity */
	/* sigstoreSigned's certificate and transparency-log options: parsed, named when refused. */
	bool fulcio, pki, rekor;
};

struct sign_scope {
	char *transport;
	char *scope; /* "" for the transport's default */
	struct sign_requirement *reqs;
	size_t n_reqs;
};

struct sign_policy {
	char *name; /* the file, for messages */
	struct sign_requirement *defaults;
	size_t n_defaults;
	struct sign_scope *scopes;
	size_t n_scopes;
};

/* Read and parse a policy file; the error names it ("policy /etc/x.json: default: required");
 * p->name is the path. */
CC_MUST_CHECK struct sign_policy *sign_policy_load(const char *path, struct cc_error **err);
/* Parse policy bytes (name for messages). */
CC_MUST_CHECK struct sign_policy *sign_policy_parse(const char *name, const char *buf, size_t len,
						    struct cc_error **err);
void sign_policy_free(struct sign_policy *p);

/* The requirements for a docker reference (with a tag or digest): *n of them, and *scope
 * (the caller frees) says which scope chose them: "transports.docker[\"127.0.0.1:5000/ns\"]",
 * "transports.docker[\"\"]" or "default". */
const struct sign_requirement *sign_policy_for_docker(const struct sign_policy *p,
						      const struct img_ref *ref, size_t *n,
						      char **scope);
