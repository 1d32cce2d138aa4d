/* SPDX-License-Identifier: Apache-2.0 */
/*
 * enclave-agent: the image service of enclave-cc over ttrpc (grpc.Image/PullImage) plus our own
 * enclaveagent.Admin service. See docs/agent.md.
 *
 *   config.c   decrypt_config.conf (pure; fuzzed)
 *   ids.c      container ids: kata's verify_id rules, upstream's derivation from a reference
 *   status.c   lib/image error classes -> ttrpc status codes
 *   layout.c   <images>/<cid>/{image.json,config.json,rootfs/}, written atomically
 *   pull.c     PullImage: one pull per reference at a time (single flight), cancellation
 *   decrypt.c  decryption keys (key_provider, --decryption-key), the security_validate gate
 *   admin.c    ListImages, RemoveImage, Status
 *   main.c     flags, start-up, signals, graceful shutdown
 */
#pragma once

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "crypt/internal.h"
#include "image/pull.h"
#include "sign/verify.h"
#include "image/store.h"
#include "ttrpc/ttrpc.h"
#include "util/error.h"

#define AGENT_CID_MAX 128
/* Staging for layouts, inside the images directory (same filesystem, so renames are atomic);
 * a container id cannot start with '.', so it never collides with one. */
#define AGENT_STAGING ".staging"
/* With an encrypted store: the socket agent-ctl mount asks for views on (view.c), in the
 * images directory. */
#define AGENT_VIEW_SOCKET ".view.sock"

/* ---- pure parts (unit-tested, fuzzed) ---- */

/* decrypt_config.conf, upstream's DecryptConfig. Kept for the layer decryption stage. */
struct agent_decrypt_config {
	char *key_provider;	/* "provider:attestation-agent:<kbc>::<uri>"; NULL: unset */
	bool security_validate; /* upstream's default is true */
};

/* Parse the JSON text (name: the file, for messages). Unknown keys are ignored and null means
 * unset, as upstream's serde does; anything else that is not the documented types is an
 * error naming the key. On error *out holds the defaults. */
CC_MUST_CHECK int agent_decrypt_config_parse(const char *name, const char *buf, size_t len,
					     struct agent_decrypt_config *out,
					     struct cc_error **err);
void agent_decrypt_config_clear(struct agent_decrypt_config *c);

/* image-rs's ImageConfig (--image-config): where the signature gate's files are, the v0.10
 * keys file_paths.policy_path and file_paths.sigstore_config, or the newer top-level
 * image_security_policy_uri and sigstore_config_uri (which win). Values are resource URIs:
 * file://PATH or an absolute path; kbs:// is refused by name. Other keys are ignored, as
 * serde does (security_validate comes from decrypt_config.conf, as enclave-agent sets it). */
struct agent_image_config {
	char *policy;	  /* NULL: not given */
	char *registries; /* registries.d YAML file or directory; NULL: not given */
};
CC_MUST_CHECK int agent_image_config_parse(const char *name, const char *buf, size_t len,
					   struct agent_image_config *out, struct cc_error **err);
void agent_image_config_clear(struct agent_image_config *c);

/* "500ms", "30s", "1.5m", "2h", "100us", "10ns"; a bare number is seconds. */
CC_MUST_CHECK int agent_parse_duration(const char *s, int64_t *ns, struct cc_error **err);

/* kata's verify_id: 1..128 characters of [A-Za-z0-9_.-], the first a letter or a digit (so no
 * ':' and no '/'). The message quotes the id with unprintable bytes escaped. A C string cannot
 * show a NUL inside the id: requests are unpacked with tt_unpack, which refuses those. */
CC_MUST_CHECK int agent_cid_check(const char *cid, struct cc_error **err);
/* Upstream's derivation (shim-rune getContainerID, the debug client): the last path segment of
 * the reference with ':' and '@' turned into '_'. Caller frees. */
char *agent_cid_from_image(const char *image);
/* s with control and non-ASCII bytes as \xNN and at most max characters (then "..."): for
 * quoting untrusted strings in messages. Caller frees. */
char *agent_quote(const char *s, size_t max);

/* The ttrpc status for a lib/image error class (image/error.h); a cancelled pull is
 * DEADLINE_EXCEEDED when the call's own deadline has passed. */
int agent_status_code(int img_code, bool deadline_passed);

/* ---- the service ---- */

struct agent_flight;
struct agent_busy;

struct agent {
	struct img_store *store;
	char *store_root;  /* absolute */
	char *images_root; /* absolute */
	struct img_registry_opts registry;
	unsigned jobs;
	struct agent_decrypt_config decrypt;
	/* Keys for encrypted layers, shared by every pull; NULL: none. */
	struct crypt_keys *keys;
	/* security_validate: the signature gate every pull goes through (NULL when off, or when
	 * there is no usable policy: then no_policy says why and every pull is refused). */
	struct sign_verifier *verifier;
	struct img_pull_gate gate;
	char *kbs_policy, *kbs_registries; /* kbs:// URIs fetched at each pull; NULL: files */
	char *kbs_auth; /* registry credentials (auth.json) as a kbs:// URI; NULL: a file */
	char *no_policy;
	int64_t started_ns; /* CLOCK_MONOTONIC */

	pthread_mutex_t lock; /* everything below */
	pthread_cond_t cond;  /* a flight finished (CLOCK_MONOTONIC) */
	struct agent_flight *flights;
	struct agent_busy *busy; /* references PullImage calls are working on */
	unsigned pulls, requests;
	bool gc_pending, stopping;
	unsigned staging_counter;

	pthread_mutex_t layout_lock; /* renames and removals under images_root */
	pthread_rwlock_t gc_lock;    /* pulls hold it shared, the store's gc exclusively */
};

/* The store (encrypted under store_key when not NULL), the images directory, the locks. */
CC_MUST_CHECK int agent_init(struct agent *a, const uint8_t *store_key, struct cc_error **err);
/* ---- view.c: views of an encrypted store for agent-ctl mount ---- */

/* Listen on <images>/.view.sock when the store is encrypted (nothing otherwise). */
CC_MUST_CHECK int agent_views_start(struct agent *a, struct cc_error **err);
char *agent_view_socket(const struct agent *a);
/* The diff_ids of every layer a view serves now (gc keeps them); the caller frees. */
char **agent_views_layers(void);

/* ---- storekey.c ---- */

/* The encrypted store's key from --store-key SOURCE: sealed (or sealed:mrenclave),
 * sealed:mrsigner (the enclave's sealing key through attestation_socket, NULL:
 * ENC_ATTEST_SOCKET), or kbs:///R/T/N (a 32-byte resource from the key broker). */
CC_MUST_CHECK int agent_store_key(const char *source, const char *attestation_socket,
				  uint8_t key[32], struct cc_error **err);

/* ---- decrypt.c ---- */

/* a->keys from the --decryption-key specs (one that does not load is an error) and
 * a->decrypt.key_provider as a provider: spec (one that cannot be used is a warning: plain
 * images stay pullable); warns when security_validate is on. */
CC_MUST_CHECK int agent_decrypt_init(struct agent *a, char **specs, const char *ocicrypt_config,
				     struct cc_error **err);
/* With security_validate: a->verifier from the policy file and registries.d (a directory of
 * YAML files, or one file as image-rs's sigstore_config). policy NULL: the default
 * (/etc/containers/policy.json); when that does not exist every pull is refused. A policy
 * that is there but cannot be used is an error (the agent does not start). */
CC_MUST_CHECK int agent_policy_init(struct agent *a, const char *policy, const char *registries_d,
				    struct cc_error **err);
/* FAILED_PRECONDITION while security_validate is on without a usable policy: an agent told to
 * verify signatures must not pretend it did. */
CC_MUST_CHECK int agent_security_check(const struct agent *a, struct cc_error **err);
/* ---- kbs.c: cc_kbc and kbs:// resources ---- */

/* Register cc_kbc with lib/crypt (before the key provider is set up): its evidence comes from
 * the enclave attestation service at attestation_socket (NULL: ENC_ATTEST_SOCKET); ca_file
 * (NULL: the system's) checks an https:// KBS; each request gets timeout_s (0: 30 s); ra_tls:
 * the connection presents an RA-TLS client certificate with the enclave's evidence. */
CC_MUST_CHECK int agent_kbs_init(const char *attestation_socket, const char *ca_file,
				 unsigned timeout_s, bool ra_tls, struct cc_error **err);
void agent_kbs_destroy(void);
bool agent_is_kbs_uri(const char *s);
/* A kbs:///<repository>/<type>/<tag> setting (what: its name) the agent can fetch: the URI is
 * well formed and a cc_kbc key provider is configured. */
CC_MUST_CHECK int agent_kbs_check_uri(const char *what, const char *uri, struct cc_error **err);
/* A kbs:// resource (the caller wipes *out); errors classified as image/error.h says: refused
 * IMG_ERR_POLICY, unreachable IMG_ERR_UNAVAILABLE, else IMG_ERR_POLICY_CONFIG. */
CC_MUST_CHECK int agent_kbs_resource(const char *uri, struct crypt_buf *out, struct cc_error **err);
/* --auth-file kbs://...: checked as agent_kbs_check_uri does, kept in a->kbs_auth. */
CC_MUST_CHECK int agent_kbs_auth_init(struct agent *a, const char *uri, struct cc_error **err);

/* Wipe the password part of a --decryption-key argument (it stays in /proc/PID/cmdline). */
void agent_scrub_key_arg(char *arg);
void agent_destroy(struct agent *a);
int64_t agent_now_ns(void);

/* ttrpc handlers */
CC_MUST_CHECK int agent_pull_image(struct tt_call *call, const uint8_t *req, size_t len,
				   uint8_t **resp, size_t *resp_len, void *data,
				   struct cc_error **err);
CC_MUST_CHECK int agent_list_images(struct tt_call *call, const uint8_t *req, size_t len,
				    uint8_t **resp, size_t *resp_len, void *data,
				    struct cc_error **err);
CC_MUST_CHECK int agent_remove_image(struct tt_call *call, const uint8_t *req, size_t len,
				     uint8_t **resp, size_t *resp_len, void *data,
				     struct cc_error **err);
CC_MUST_CHECK int agent_status(struct tt_call *call, const uint8_t *req, size_t len, uint8_t **resp,
			       size_t *resp_len, void *data, struct cc_error **err);

/* Run a deferred store gc if one is due and no pull holds the store. */
void agent_gc_if_due(struct agent *a);
/* Mark / unmark a reference as being pulled and laid out (RemoveImage keeps its record). */
void agent_busy_add(struct agent *a, const char *ref);
void agent_busy_del(struct agent *a, const char *ref);
bool agent_busy_has(struct agent *a, const char *ref);

/* ---- layout.c ---- */

/* What <images>/<cid>/image.json holds for a store record (pure). */
json_t *agent_image_json(const char *cid, const char *image, const json_t *record,
			 const char *store_root, bool encrypted);
/* Lay out <images>/<cid>/ for a pulled image record: image.json, config.json (the OCI runtime
 * config from the image config) and an empty rootfs/, staged and renamed into place; an
 * existing layout of the cid is replaced in one step. */
CC_MUST_CHECK int agent_layout_write(struct agent *a, const char *cid, const char *image,
				     const json_t *record, struct cc_error **err);
/* <images>/<cid>/image.json, or NULL (err->code NOT_FOUND when there is no such layout). */
CC_MUST_CHECK json_t *agent_layout_read(struct agent *a, const char *cid, struct cc_error **err);
/* Every layout's image.json, sorted by container id. */
CC_MUST_CHECK json_t *agent_layout_list(struct agent *a, struct cc_error **err);
/* Take <images>/<cid> away (atomically, then delete it); *reference gets its image's
 * normalised reference. FAILED_PRECONDITION while its rootfs is a mount point. */
CC_MUST_CHECK int agent_layout_remove(struct agent *a, const char *cid, char **reference,
				      struct cc_error **err);
/* Remove what a previous run left in the staging directory (at start-up). */
void agent_layout_clean_staging(struct agent *a);
