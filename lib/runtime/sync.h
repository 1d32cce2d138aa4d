/* SPDX-License-Identifier: Apache-2.0 */
/* The message protocol between rune and the processes it forks (init, exec children), over a
 * SOCK_SEQPACKET socketpair: one message per write, so a short read means a dead peer. */
#pragma once

#include <stdint.h>
#include <sys/socket.h>
#include "util/error.h"

enum sync_type {
	SYNC_GO = 1,	   /* parent → child: cgroup joined, id maps written */
	SYNC_USERNS,	   /* child → parent: new user namespace made, write my maps */
	SYNC_USERNS_ACK,   /* parent → child */
	SYNC_PID,	   /* intermediate → parent: value = pid of the real child */
	SYNC_HOOKS,	   /* init → parent: run prestart/createRuntime hooks now */
	SYNC_HOOKS_DONE,   /* parent → init: value = init's pid in the runtime namespace */
	SYNC_READY,	   /* init → parent: set up, waiting for start */
	SYNC_COMMIT,	   /* parent → init: state written, carry on */
	SYNC_SECCOMP,	   /* init → parent: a seccomp notify listener fd follows (SCM_RIGHTS) */
	SYNC_SECCOMP_DONE, /* parent → init: the listener was handed to listenerPath */
	SYNC_ERROR,	   /* either way: a struct cc_error follows */
};

struct sync_msg {
	uint32_t type;
	int32_t value;
	char err[2040]; /* message text for SYNC_ERROR */
};

int sync_send(int fd, enum sync_type type, int32_t value);
int sync_send_error(int fd, const struct cc_error *e);
/* Waits for a message. Returns 0 and fills *msg, or -1 with *err set (peer gone). */
CC_MUST_CHECK int sync_recv(int fd, struct sync_msg *msg, struct cc_error **err);
/* Receive and require `type`; a SYNC_ERROR from the peer becomes *err. */
CC_MUST_CHECK int sync_expect(int fd, enum sync_type type, int32_t *value, struct cc_error **err);
/* In a child: report err to the parent and exit. */
__attribute__((noreturn)) void sync_fail(int fd, struct cc_error *err);
