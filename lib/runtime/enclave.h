/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Enclave containers. A config asks for one with ENCLAVE_TYPE in process.env or the annotation
 * enclave.type; without it rune is a plain OCI runtime. The container's init then loads the
 * Enclave Runtime PAL (include/enclave/pal_api.h) from the host before pivot_root, calls
 * pal_init at create, runs process.args through the PAL at start, forwards signals with
 * pal_kill and serves `rune exec` / `rune attest` on <state dir>/agent.sock.
 */
#pragma once

#include <stdbool.h>
#include <jansson.h>
#include "runtime/pal.h"
#include "runtime/spec.h"
#include "util/error.h"

/* Enclave types: intelSgx needs the hardware; simulated is the labelled no-hardware backend
 * (PALs such as liberpal-skeleton.so run the payload without hardware isolation). */
#define RT_ENCLAVE_SGX "intelSgx"
#define RT_ENCLAVE_SIMULATED "simulated"

struct rt_enclave {
	char *type;
	char *path;	/* the PAL, an absolute host path */
	char *args;	/* enclave.runtime.args with its commas turned into spaces */
	char *loglevel; /* trace, debug, info, warning, error, fatal, panic or off */
};

/*
 * The enclave configuration of a spec: each setting from process.env when set there (values of
 * one character or less are ignored, as upstream does), else from the annotation. *out is NULL
 * when no enclave type is configured. When one is, the ENCLAVE_* variables are removed from
 * process.env (the payload never sees them) and the settings are checked: a known type, a PAL
 * that exists as a regular file, the hardware for intelSgx (whose devices and aesmd socket are
 * then added to the spec).
 */
int rt_enclave_from_spec(struct rt_spec *spec, struct rt_enclave **out, struct cc_error **err);
void rt_enclave_free(struct rt_enclave *e);
/* Remove the ENCLAVE_* configuration variables from an environment (NULL-terminated, owned). */
void rt_enclave_strip_env(char **env);

json_t *rt_enclave_to_json(const struct rt_enclave *e);
struct rt_enclave *rt_enclave_from_json(json_t *j, struct cc_error **err);

/* Add the SGX device nodes found under devroot ("/dev" normally) and the aesmd socket mount
 * (when aesmd_dir exists) to the spec, skipping what the config already has. */
int rt_enclave_add_sgx(struct rt_spec *spec, const char *devroot, const char *aesmd_dir,
		       struct cc_error **err);
/* CPUID.(EAX=7,ECX=0):EBX bit 2. */
bool rt_enclave_cpu_has_sgx(void);

/* ---- the init side (enclave-init.c) ---- */

struct init_args;
/* In the init, before pivot_root: dlopen the PAL from the host. Errors go to the parent. */
struct rt_pal *rt_enclave_load(const struct init_args *a);
/* In the init, after setup: pal_init, then report ready, wait for start and run the payload
 * through the PAL. Never returns; the init exits with the payload's exit status. */
__attribute__((noreturn)) void rt_enclave_init_main(const struct init_args *a, struct rt_pal *pal,
						    bool seccomp_done);
