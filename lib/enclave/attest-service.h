/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The enclave init's attestation service: what its thread answers on attest.sock, the socket
 * the container's own processes reach at ENC_ATTEST_SOCKET (in-enclave.h has the client and
 * the protocol). Only reports and evidence are served there: never exec, kill or attest.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include "enclave/pal.h"
#include "enclave/pal_api.h"
#include "enclave/service.h"
#include "util/error.h"

/*
 * In the init, as root and before pivot_root: remember the PAL and the enclave type, and for
 * type simulated load the machine's simulated attestation key (attest_sim_key_open(NULL),
 * created on first use). A key that cannot be loaded (rootless rune cannot write /var/lib/rune)
 * does not fail the container: its error is the answer to evidence requests.
 */
void enc_attest_service_prepare(struct enc_pal *pal, const char *type);

/* attest.sock's request handler (an enc_serve_fn). */
void enc_attest_service_serve(struct enc_session *s, json_t *req, int fds[ENC_MSG_MAX_FDS],
			      size_t nfds);

/* The PAL's REPORT for a request's "target_info" (optional: zeros) and "report_data" (64
 * bytes in hex; optional unless need_data: zeros), shared by agent.sock's attest op and
 * attest.sock's report op. */
CC_MUST_CHECK int enc_attest_report_for(struct enc_pal *pal, json_t *req, bool need_data,
					uint8_t report[PAL_REPORT_SIZE], struct cc_error **err);
