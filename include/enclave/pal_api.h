/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Enclave Runtime PAL API, versions 1 to 3: the binary contract between rune and an
 * enclave runtime's PAL library (Occlum's libocclum-pal.so, the skeleton, ...).
 *
 * A PAL is a shared library exporting up to seven unprefixed symbols. rune dlopen()s it from a
 * HOST path before pivot_root; every call happens later in the container's PID 1, after
 * pivot_root. Structures use natural alignment (x86-64 offsets noted below); no member is
 * packed, whatever older documents say. Every function returns 0 on success and a negative
 * value (typically -errno) on failure.
 *
 * Call order, by rune action:
 *   create    pal_get_version, then pal_init (v3: with the fd/addr attributes)
 *   start     v1: pal_exec(path, argv, stdio, &exit_code)
 *             v2/v3: pal_create_process, then pal_exec(&exec_args)
 *   signals   v2/v3: the container's PID 1 forwards them with pal_kill(pid, sig)
 *   end       pal_destroy, once the payload has returned
 *   exec      v2/v3: pal_create_process + pal_exec for the new process
 *   attest    v3: pal_get_local_report
 * pal_get_version may be missing in a v1 PAL (version 1 is then assumed). The exit status of
 * the payload is what pal_exec stores in exit_value / exit_code, taken as is.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define PAL_API_VERSION_MAX 3

/* pal_init's argument for v1 and v2. args: the runtime's own argument string (rune joins the
 * comma-separated enclave.runtime.args with spaces); log_level: "trace", "debug", "info",
 * "warning", "error", "fatal", "panic" or "off". */
struct pal_attr_v1 {
	const char *args;      /* offset 0 */
	const char *log_level; /* offset 8 */
};			       /* size 16 */

/* pal_init's argument for v3: v1's, plus an enclave handed over by an enclave pool manager. */
struct pal_attr_v3 {
	struct pal_attr_v1 attr_v1; /* offset 0 */
	int fd;			    /* offset 16: the enclave's fd, or -1 */
	uint64_t addr;		    /* offset 24: the enclave's base address, or 0 */
};				    /* size 32 */

/* The payload's standard streams, as file descriptors valid in the calling process. */
struct pal_stdio_fds {
	int stdin_fd, stdout_fd, stderr_fd; /* offsets 0, 4, 8; size 12 */
};

/* v2/v3 pal_create_process: creates the process inside the enclave without running it. */
struct pal_create_process_args {
	const char *path;	     /* offset 0: the executable, inside the enclave */
	const char **argv;	     /* offset 8: NULL-terminated, argv[0] included */
	const char **env;	     /* offset 16: NULL-terminated "KEY=VALUE" */
	struct pal_stdio_fds *stdio; /* offset 24 */
	int *pid;		     /* offset 32: OUT, the PAL's id for the process */
};				     /* size 40 */

/* v2/v3 pal_exec: runs the created process and returns when it has ended. */
struct pal_exec_args {
	int pid;	 /* offset 0 */
	int *exit_value; /* offset 8 (not 4): OUT, the payload's exit status */
};			 /* size 16 */

/* Sizes of pal_get_local_report's buffers (SGX TARGETINFO and REPORT). */
#define PAL_TARGETINFO_SIZE 512
#define PAL_REPORT_SIZE 432

/*
 * The seven symbols (a PAL defines those of its version; rune looks them up with dlsym):
 *
 *   int pal_get_version(void);                         v1 (optional), v2, v3
 *   int pal_init(struct pal_attr_v1 *attr);            v1, v2
 *   int pal_init(struct pal_attr_v3 *attr);            v3
 *   int pal_exec(const char *path, const char *const argv[],
 *                const struct pal_stdio_fds *stdio, int *exit_code);    v1 (no environment)
 *   int pal_create_process(struct pal_create_process_args *args);       v2, v3
 *   int pal_exec(struct pal_exec_args *args);                            v2, v3
 *   int pal_kill(int pid, int sig);       v2, v3; pid -1: every process, 0: the current one
 *   int pal_destroy(void);                -ENOSYS is accepted
 *   int pal_get_local_report(void *targetinfo, int targetinfo_len,
 *                            void *report, int *report_len);             v3
 *
 * The function pointer types below are what a loader casts dlsym's results to.
 */
typedef int (*pal_get_version_fn)(void);
typedef int (*pal_init_v1_fn)(struct pal_attr_v1 *attr);
typedef int (*pal_init_v3_fn)(struct pal_attr_v3 *attr);
typedef int (*pal_exec_v1_fn)(const char *path, const char *const argv[],
			      const struct pal_stdio_fds *stdio, int *exit_code);
typedef int (*pal_create_process_fn)(struct pal_create_process_args *args);
typedef int (*pal_exec_v2_fn)(struct pal_exec_args *args);
typedef int (*pal_kill_fn)(int pid, int sig);
typedef int (*pal_destroy_fn)(void);
typedef int (*pal_get_local_report_fn)(void *targetinfo, int targetinfo_len, void *report,
				       int *report_len);

/* The layout is part of the ABI: a change here breaks every PAL built against it. */
_Static_assert(sizeof(struct pal_attr_v1) == 16, "pal_attr_v1 size");
_Static_assert(offsetof(struct pal_attr_v1, log_level) == 8, "pal_attr_v1.log_level");
_Static_assert(sizeof(struct pal_attr_v3) == 32, "pal_attr_v3 size");
_Static_assert(offsetof(struct pal_attr_v3, fd) == 16, "pal_attr_v3.fd");
_Static_assert(offsetof(struct pal_attr_v3, addr) == 24, "pal_attr_v3.addr");
_Static_assert(sizeof(struct pal_stdio_fds) == 12, "pal_stdio_fds size");
_Static_assert(sizeof(struct pal_create_process_args) == 40, "pal_create_process_args size");
_Static_assert(offsetof(struct pal_create_process_args, stdio) == 24, "create_process.stdio");
_Static_assert(offsetof(struct pal_create_process_args, pid) == 32, "create_process.pid");
_Static_assert(sizeof(struct pal_exec_args) == 16, "pal_exec_args size");
_Static_assert(offsetof(struct pal_exec_args, exit_value) == 8, "pal_exec_args.exit_value");
