// SPDX-License-Identifier: Apache-2.0
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "runtime/sync.h"
#include "util/cleanup.h"

int sync_send(int fd, enum sync_type type, int32_t value)
{
	struct sync_msg m = { .type = type, .value = value };
	ssize_t n;
	do
		n = send(fd, &m, offsetof(struct sync_msg, err), MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -1 : 0;
}

int sync_send_error(int fd, const struct cc_error *e)
{
	struct sync_msg m = { .type = SYNC_ERROR, .value = e ? e->errnum : 0 };
	snprintf(m.err, sizeof(m.err), "%s", e && e->msg ? e->msg : "unknown error");
	size_t len = offsetof(struct sync_msg, err) + strlen(m.err) + 1;
	return send(fd, &m, len, MSG_NOSIGNAL) < 0 ? -1 : 0;
}

int sync_recv(int fd, struct sync_msg *msg, struct cc_error **err)
{
	ssize_t n;
	memset(msg, 0, sizeof(*msg));
	do
		n = recv(fd, msg, sizeof(*msg) - 1, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return cc_error_errno(err, "read from container process");
	if (n < (ssize_t)offsetof(struct sync_msg, err))
		return cc_error_set(err, 0, "container process exited during setup");
	return 0;
}

int sync_expect(int fd, enum sync_type type, int32_t *value, struct cc_error **err)
{
	struct sync_msg m;
	if (sync_recv(fd, &m, err) < 0)
		return -1;
	if (m.type == SYNC_ERROR) {
		cc_error_set(err, 0, "%s", m.err);
		(*err)->errnum = m.value;
		return -1;
	}
	if (m.type != type)
		return cc_error_set(err, 0, "container setup: unexpected message %u (wanted %u)",
				    m.type, (unsigned)type);
	if (value)
		*value = m.value;
	return 0;
}

void sync_fail(int fd, struct cc_error *err)
{
	sync_send_error(fd, err);
	_exit(1);
}
