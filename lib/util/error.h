/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The error contract (see docs/errors.md):
 *  - a fallible function returns int (0 on success, -1 on failure) or a pointer (NULL on
 *    failure) and takes a trailing `struct cc_error **err`;
 *  - on failure it allocates *err (errno value + one-line message); on success *err is untouched;
 *  - callers add context on the way up with cc_error_prefix(); the top level prints once.
 */
#pragma once

#include <stdarg.h>
#include <stdbool.h>

struct cc_error {
	int errnum; /* errno value, 0 if none */
	int code;   /* component-specific code (e.g. a ttrpc status), 0 if none */
	char *msg;  /* one line, no trailing newline */
};

/* Set *err; `errnum` (0 for none) is appended as ": strerror" to the message. Returns -1. */
int cc_error_set(struct cc_error **err, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int cc_error_setv(struct cc_error **err, int errnum, const char *fmt, va_list ap);

/* Like cc_error_set() with errnum = errno. */
#define cc_error_errno(err, ...) cc_error_set(err, errno, __VA_ARGS__)

/* Prepend "context: " to an existing error. Returns -1. */
int cc_error_prefix(struct cc_error **err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

void cc_error_free(struct cc_error **err);

/* Encode/decode an error for passing across a pipe between processes (fork children). */
int cc_error_send(int fd, const struct cc_error *e);
/* Reads an error sent by cc_error_send; returns 0 and sets *err, or -1 on read failure. */
int cc_error_recv(int fd, struct cc_error **err);
