/* SPDX-License-Identifier: Apache-2.0 */
/* Terminals: the container side creates a pty, the runtime side receives or proxies it. */
#pragma once

#include <stdbool.h>
#include "util/error.h"

/* Open a new pty pair through `ptmx_path` ("/dev/ptmx" after the container's devpts is mounted
 * and pivot_root is done). Sets the window size when rows/cols are non-zero. */
CC_MUST_CHECK int rt_terminal_open(const char *ptmx_path, unsigned rows, unsigned cols, int *master,
				   int *slave, struct cc_error **err);
/* In the process that will exec the payload: new session, `slave` becomes the controlling
 * terminal and fds 0, 1, 2. */
CC_MUST_CHECK int rt_terminal_make_controlling(int slave, struct cc_error **err);
/* Send `master` over a connected unix socket with SCM_RIGHTS (runc's console-socket protocol:
 * the message body is the pty name). */
CC_MUST_CHECK int rt_terminal_send_fd(int sock, int fd, const char *name, struct cc_error **err);
/* Receive one fd sent with rt_terminal_send_fd. */
CC_MUST_CHECK int rt_terminal_recv_fd(int sock, struct cc_error **err);
/* Connect to a --console-socket path. */
/* A foreground process with terminal: true shares the caller's terminal: fail unless there
 * is one (/dev/tty opens). */
CC_MUST_CHECK int rt_terminal_require_caller_tty(struct cc_error **err);
CC_MUST_CHECK int rt_console_socket_connect(const char *path, struct cc_error **err);
/* Foreground `run`/`exec` with a terminal and no console socket: put our stdin in raw mode
 * (if it is a tty), copy stdin->master and master->stdout until the master hangs up, forward
 * window size changes (SIGWINCH). Returns when the container side closes. */
CC_MUST_CHECK int rt_terminal_proxy(int master, struct cc_error **err);
