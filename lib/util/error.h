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
#include <stddef.h>

/* On every fallible function: a result that is dropped is a compile error under -Werror. A
 * caller that really means to ignore one says so with (void) and a comment why. */
#define CC_MUST_CHECK __attribute__((warn_unused_result))
/* A fallible call whose failure changes nothing for its caller: cleanup on a path that is
 * already failing, or a step whose effect is checked right after. A comment says why. */
#define CC_BEST_EFFORT(call) ((void)!(call))

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

/* What an untrusted peer chose (a name, a key), fit for a one-line message: printable ASCII
 * as it is, other bytes and '\\' as \xNN, at most CC_SHOWN_MAX bytes of it, then "...". */
#define CC_SHOWN_MAX 128
#define CC_SHOWN_BUF (CC_SHOWN_MAX * 4 + 4)
void cc_shown(const char *s, size_t len, char out[static CC_SHOWN_BUF]);

/* Encode/decode an error for passing across a pipe between processes (fork children). */
CC_MUST_CHECK int cc_error_send(int fd, const struct cc_error *e);
/* Reads an error sent by cc_error_send; returns 0 and sets *err, or -1 on read failure. */
CC_MUST_CHECK int cc_error_recv(int fd, struct cc_error **err);
