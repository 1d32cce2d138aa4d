/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Enclave containers. A config asks for one with ENCLAVE_TYPE in process.env or the annotation
 * enclave.type; without it rune is a plain OCI runtime. The container's init then loads the
 * Enclave Runtime PAL (include/enclave/pal_api.h) from the host before pivot_root, calls
 * pal_init at create, runs process.args through the PAL at start, forwards signals with
 * pal_kill, serves `rune exec` / `rune attest` on <state dir>/agent.sock and the container's
 * own report and evidence requests on <state dir>/attestation/attest.sock (in-enclave.h).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include "enclave/pal.h"
#include "runtime/handler.h"
#include "runtime/spec.h"
#include "util/error.h"

/* Enclave types: intelSgx needs the hardware; simulated is the labelled no-hardware backend
 * (PALs such as liberpal-skeleton.so run the payload without hardware isolation). */
#define ENC_TYPE_SGX "intelSgx"
#define ENC_TYPE_SIMULATED "simulated"

/* The trust rules a PAL path must pass before rune loads it (trust.c). */
struct enc_trust {
	const char *bundle, *rootfs; /* the container's, resolved: a PAL never comes from there */
	char *const *dirs;	     /* allowed directories (NULL-terminated); NULL: the defaults */
};

/* Where a PAL may come from unless the operator says otherwise: where rune installs its PALs,
 * the system library directories and Occlum's install directory. NULL-terminated. */
extern const char *const enc_default_runtime_dirs[];

/*
 * Open the PAL at path for loading, once, under the trust rules, all checked on the host
 * against the file that was opened: an absolute path; after resolving symlinks, ".." and
 * magic links, not inside the bundle or the rootfs, and inside one of the allowed directories;
 * a regular file owned by root and not writable by group or others, in directories owned by
 * root and not writable by group or others all the way up to /. Returns an O_PATH descriptor
 * (close-on-exec) of that very file, to load through /proc/self/fd (enc_pal_load_fd), and the
 * resolved path in *resolved (caller frees).
 */
CC_MUST_CHECK int enc_trust_open(const char *path, const struct enc_trust *t, char **resolved,
				 struct cc_error **err);

struct enc_config {
	char *type;
	char *path;	/* the PAL: the resolved host path (as configured until checked) */
	char *args;	/* enclave.runtime.args with its commas turned into spaces */
	char *loglevel; /* trace, debug, info, warning, error, fatal, panic or off */
	int pal_fd;	/* create only: the checked PAL (enc_trust_open), or -1 */
	int agent_fd;	/* create only: the listening agent.sock, or -1 */
	int attest_fd;	/* create only: the listening attestation/attest.sock, or -1 */
};

/*
 * The enclave configuration of a spec: each setting from process.env when set there (values of
 * one character or less are ignored, as upstream does), else from the annotation. *out is NULL
 * when no enclave type is configured. When one is, the ENCLAVE_* variables are removed from
 * process.env (the payload never sees them) and the settings are checked: a known type, a PAL
 * that passes the trust rules (opened here, see enc_trust_open), the hardware for intelSgx
 * (whose devices and aesmd socket are then added to the spec).
 */
CC_MUST_CHECK int enc_config_from_spec(struct rt_spec *spec, const struct enc_trust *t,
				       struct enc_config **out, struct cc_error **err);
void enc_config_free(struct enc_config *e);
/* Remove the ENCLAVE_* configuration variables from an environment (NULL-terminated, owned). */
void enc_strip_env(char **env);

json_t *enc_config_to_json(const struct enc_config *e);
CC_MUST_CHECK struct enc_config *enc_config_from_json(json_t *j, struct cc_error **err);

/* Add the SGX device nodes found under devroot ("/dev" normally) and the aesmd socket mount
 * (when aesmd_dir exists) to the spec, skipping what the config already has. */
CC_MUST_CHECK int enc_add_sgx(struct rt_spec *spec, const char *devroot, const char *aesmd_dir,
			      struct cc_error **err);
/* The read-only bind mount (nosuid, nodev, noexec) of source, the container's attestation
 * directory on the host (an absolute path), at ENC_ATTEST_DIR (in-enclave.h), unless the config
 * already mounts something there. */
void enc_add_attest_mount(struct rt_spec *spec, const char *source);
/* CPUID.(EAX=7,ECX=0):EBX bit 2. */
bool enc_cpu_has_sgx(void);

/* ---- the enclave container handler (handler.c) ---- */

struct enc_options {
	char *const *runtime_dirs; /* allowed PAL directories; NULL: enc_default_runtime_dirs */
};

/* The handler that runs enclave containers, for rt_context.handlers; o is kept by pointer. */
struct rt_handler enc_handler(const struct enc_options *o);

/* ---- the init side (init.c) ---- */

struct init_args;
/* In the init, before pivot_root: the payload's environment becomes the init's own, and the
 * checked PAL is loaded from its descriptor. */
CC_MUST_CHECK int enc_init_load(struct enc_config *e, const struct init_args *a,
				struct cc_error **err);
/* In the init, after setup: pal_init, then report ready, wait for start and run the payload
 * through the PAL. Never returns; the init exits with the payload's exit status. */
__attribute__((noreturn)) void enc_init_run(struct enc_config *e, const struct init_args *a,
					    bool seccomp_done);

/* ---- rune attest (client.c) ---- */

struct rt_context;
/* The enclave's local report (PAL API v3) for 64 bytes of report data and an optional 512-byte
 * target info, through the container's init. */
CC_MUST_CHECK int enc_container_attest(const struct rt_context *ctx, const char *id,
				       const uint8_t report_data[64], const uint8_t *target_info,
				       uint8_t report[432], struct cc_error **err);
