/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What kind of failure a lib/image error is, carried in cc_error.code, so that a caller can
 * react (report a status code, retry) without parsing messages; the messages are not changed
 * by it. 0 means "not classified". The values sit above the gRPC status range (0..16) so that
 * the two are never mistaken for each other when an error crosses into ttrpc.
 */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include "util/error.h"

enum img_errc {
	IMG_ERR_REFERENCE = 1001, /* the reference does not parse */
	IMG_ERR_NOT_FOUND,	  /* no such repository, tag, manifest, blob or platform */
	IMG_ERR_UNAUTHENTICATED,  /* credentials missing or refused (HTTP 401, token server) */
	IMG_ERR_DENIED,		  /* authenticated, but not allowed (HTTP 403) */
	IMG_ERR_UNAVAILABLE,	  /* registry unreachable, TLS failure, 5xx/429, transfer failed */
	IMG_ERR_INTEGRITY,	  /* digest, size or diff_id mismatch, corrupt compressed data */
	IMG_ERR_INVALID,   /* documents or layers that cannot be used (malformed, unsupported) */
	IMG_ERR_CANCELLED, /* the caller's cancel hook asked to stop */
	IMG_ERR_IO,	   /* the local store: disk full, I/O errors */
	IMG_ERR_POLICY,	   /* the signature policy refused the image */
	IMG_ERR_POLICY_CONFIG, /* the policy or its keys cannot be used (malformed, unreadable) */
};

/* Classify *err unless it already is (the lowest layer knows best). Returns -1, so that
 * `return img_error_code(err, IMG_ERR_IO);` reads naturally. */
static inline int img_error_code(struct cc_error **err, int code)
{
	if (err && *err && !(*err)->code)
		(*err)->code = code;
	return -1;
}

/* Whether a failed system call says something about the machine (IMG_ERR_IO) rather than
 * about the data being written. */
static inline bool img_errno_is_io(int errnum)
{
	return errnum == ENOSPC || errnum == EDQUOT || errnum == EIO || errnum == EROFS ||
	       errnum == EMFILE || errnum == ENFILE || errnum == ENOMEM;
}
