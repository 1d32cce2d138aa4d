/* SPDX-License-Identifier: Apache-2.0 */
/* rune's side of an enclave container's agent.sock (see enclave-msg.h for the protocol). */
#pragma once

#include <stdint.h>
#include <sys/types.h>
#include "enclave/pal_api.h"
#include "runtime/spec.h"
#include "util/error.h"

/* Connect to <dir>/agent.sock (dir: the container's state directory). */
CC_MUST_CHECK int enc_connect(const char *dir, struct cc_error **err);
/* Fork the exec proxy for p (args and env are used; with p->terminal, a pty is made in the
 * devpts of the container whose init is init_pid, and its master sent over console_fd).
 * Returns its pid once the enclave process has started. */
CC_MUST_CHECK pid_t enc_exec_spawn(const char *dir, pid_t init_pid, const struct rt_process *p,
				   int console_fd, struct cc_error **err);
/* The enclave's local report for report_data (and a target info, NULL: zeros). */
CC_MUST_CHECK int enc_attest_dir(const char *dir, const uint8_t report_data[64],
				 const uint8_t target_info[PAL_TARGETINFO_SIZE],
				 uint8_t report[PAL_REPORT_SIZE], struct cc_error **err);
