/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Loading and driving an Enclave Runtime PAL (include/enclave/pal_api.h): dlopen from a host
 * path, version negotiation (1 to 3), and the calls rune makes, with PAL failures turned into
 * messages that say which call failed and with what.
 */
#pragma once

#include <stdbool.h>
#include "util/error.h"

struct enc_pal;

/* The calls may come from several threads at once (payload, rune exec sessions, signal
 * forwarding); the PAL is expected to cope, as rune's have always been called this way. */

/* dlopen (RTLD_NOW) and look up the symbols the PAL's version needs. */
CC_MUST_CHECK struct enc_pal *enc_pal_load(const char *path, struct cc_error **err);
/* The same for the file open at fd (an enc_trust_open descriptor), loaded through
 * /proc/self/fd so that the path is never resolved again; path names it in messages. */
CC_MUST_CHECK struct enc_pal *enc_pal_load_fd(int fd, const char *path, struct cc_error **err);
void enc_pal_unload(struct enc_pal *p);
int enc_pal_version(const struct enc_pal *p);

/* pal_init with args (space-separated) and a log level; v3 gets fd -1 and addr 0. */
CC_MUST_CHECK int enc_pal_init(struct enc_pal *p, const char *args, const char *log_level,
			       struct cc_error **err);
/* Run argv (argv[0] is the program, path the executable) with env (ignored by v1 PALs) and the
 * given stdio fds; *exit_value is the PAL's report of the payload's exit status. */
CC_MUST_CHECK int enc_pal_run(struct enc_pal *p, const char *path, char *const argv[],
			      char *const env[], const int stdio[3], int *exit_value,
			      struct cc_error **err);
/* The two halves of enc_pal_run for v2/v3 PALs, for callers that need the PAL's pid (to signal
 * it) before the payload ends. */
CC_MUST_CHECK int enc_pal_create_process(struct enc_pal *p, const char *path, char *const argv[],
					 char *const env[], const int stdio[3], int *pid,
					 struct cc_error **err);
CC_MUST_CHECK int enc_pal_exec(struct enc_pal *p, int pid, int *exit_value, struct cc_error **err);
/* v3: the enclave's local REPORT (PAL_REPORT_SIZE bytes into report) for a PAL_TARGETINFO_SIZE
 * target info. report's REPORTDATA field (bytes 320..383) carries the caller's report data in. */
CC_MUST_CHECK int enc_pal_local_report(struct enc_pal *p, const void *target_info, void *report,
				       struct cc_error **err);
/* Forward a signal (v2/v3; pid -1: every process of the PAL). */
CC_MUST_CHECK int enc_pal_kill(struct enc_pal *p, int pid, int sig, struct cc_error **err);
CC_MUST_CHECK int enc_pal_destroy(struct enc_pal *p, struct cc_error **err);
