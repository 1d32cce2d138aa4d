/* SPDX-License-Identifier: Apache-2.0 */
/* OCI hooks: each runs with the container state JSON on stdin, its own args and env, and an
 * optional timeout after which it is killed. A hook that does not read stdin must not hurt the
 * runtime (SIGPIPE/EPIPE ignored). */
#pragma once

#include "runtime/spec.h"
#include "util/error.h"

/* Run hooks of one kind in order; stop at the first failure with an error naming the hook
 * kind, index and path and the exit status or signal (or the timeout). */
CC_MUST_CHECK int rt_hooks_run(const struct rt_hooks *hooks, enum rt_hook_kind kind,
			       const char *state_json, struct cc_error **err);
const char *rt_hook_kind_name(enum rt_hook_kind kind); /* "prestart", "createRuntime", ... */
