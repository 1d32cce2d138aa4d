/* SPDX-License-Identifier: Apache-2.0 */
/*
 * agent-ctl: enclave-agent's client (rpc.c) and the shim-side layout mount (mount.c).
 * See docs/agent.md.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct ctl_options {
	const char *connect; /* agent address */
	const char *image, *cid, *creds;
	int64_t timeout_ns; /* 0: none */
	bool json;
	const char *agent_root; /* mount: the agent's "/" as seen from here */
	const char *images;	/* mount: the agent's --images, as the agent sees it */
};

/* Each returns the process exit status (0, or 1 after printing one line to stderr). */
int ctl_pull(struct ctl_options *o);
int ctl_list(const struct ctl_options *o);
int ctl_remove(const struct ctl_options *o, const char *cid);
int ctl_status(const struct ctl_options *o);
int ctl_mount(const struct ctl_options *o, const char *cid, const char *bundle);
int ctl_umount(const struct ctl_options *o, const char *bundle);

/* "agent-ctl: " + message + newline on stderr; returns 1. */
int ctl_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same for something that does not stop the command. */
void ctl_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
