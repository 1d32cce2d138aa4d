/* SPDX-License-Identifier: Apache-2.0 */
/* ttrpc addresses: "unix://PATH", "tcp://HOST:PORT", "HOST:PORT". Internal to lib/ttrpc. */
#pragma once

#include <stdint.h>
#include <sys/types.h>
#include "util/error.h"

/* What a listener needs to remember to remove its socket file, and only its own. */
struct tt_listener {
	int fd;
	char *unix_path; /* NULL for TCP and abstract sockets */
	dev_t dev;
	ino_t ino;
};

/* Bind and listen (SOCK_NONBLOCK | SOCK_CLOEXEC). *bound: the effective address (port 0
 * resolved), caller frees; may be NULL. */
CC_MUST_CHECK int tt_net_listen(const char *addr, struct tt_listener *l, char **bound,
				struct cc_error **err);
/* Close, and unlink the socket file if it is still the one we created. */
void tt_net_listener_close(struct tt_listener *l);

/* Connect (blocking descriptor, CLOEXEC); timeout_ns <= 0: the kernel's own. Returns an fd. */
CC_MUST_CHECK int tt_net_connect(const char *addr, int64_t timeout_ns, struct cc_error **err);
