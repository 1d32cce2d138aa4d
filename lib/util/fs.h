/* SPDX-License-Identifier: Apache-2.0 */
/* File helpers. All paths that come from a container or an image go through the *_at helpers. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "util/error.h"

/* Reads a whole file (limit bytes at most, 0 = 64 MiB). Result is NUL-terminated. */
CC_MUST_CHECK char *cc_read_file(const char *path, size_t limit, size_t *len,
				 struct cc_error **err);
CC_MUST_CHECK char *cc_read_file_at(int dirfd, const char *path, size_t limit, size_t *len,
				    struct cc_error **err);
/* Write the whole buffer to path (O_WRONLY|O_TRUNC, no create unless mode != 0). */
CC_MUST_CHECK int cc_write_file(const char *path, const void *buf, size_t len, mode_t mode,
				struct cc_error **err);
CC_MUST_CHECK int cc_write_file_at(int dirfd, const char *path, const void *buf, size_t len,
				   mode_t mode, struct cc_error **err);
/* Write to tmp file then rename: readers see the old or the new content, never a mix. */
CC_MUST_CHECK int cc_write_file_atomic(const char *path, const void *buf, size_t len, mode_t mode,
				       struct cc_error **err);
/* write(2)/read(2) loops; return 0 / -1 with errno. cc_read_all returns bytes read. */
CC_MUST_CHECK int cc_write_all(int fd, const void *buf, size_t len);
CC_MUST_CHECK ssize_t cc_read_all(int fd, void *buf, size_t len);
/* mkdir -p. */
CC_MUST_CHECK int cc_mkdir_p(const char *path, mode_t mode, struct cc_error **err);
/* mkdir -p below dirfd, never following symlinks out of it (openat2 RESOLVE_IN_ROOT).
 * Returns an O_PATH|O_DIRECTORY fd of the final directory or -1. */
CC_MUST_CHECK int cc_mkdir_p_in_root(int rootfd, const char *path, mode_t mode,
				     struct cc_error **err);
/* openat2 with RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS: path is resolved as if rootfd were "/". */
int cc_open_in_root(int rootfd, const char *path, int flags, mode_t mode);
/* Remove `name` below dirfd, a file or a whole tree, never following symlinks; missing is
 * fine. No depth limit (no recursion; a bounded number of open directories). A failure does
 * not stop the removal of the rest: 0, or -1 with the first errno. */
CC_MUST_CHECK int cc_remove_at(int dirfd, const char *name);
/* rm -rf of a directory tree, like cc_remove_at, except that it does not cross mount points:
 * a directory on another filesystem is left, and the removal fails with EBUSY. */
CC_MUST_CHECK int cc_rm_rf(const char *path, struct cc_error **err);
/* pwrite(2) of the whole buffer to a file whose range [off, off + len) reads as zeros already
 * (a new file, or a hole): 4 KiB blocks (by file offset, or the part of one in the buffer) of
 * zeros are not written, so they stay holes. The caller sets the final size (ftruncate) when
 * the file ends with zeros. 0 or -1 with errno. */
CC_MUST_CHECK int cc_pwrite_sparse(int fd, const void *buf, size_t len, off_t off);
/* Copy the first `size` bytes of in into out (new and empty), keeping holes: only in's data
 * extents (SEEK_DATA/SEEK_HOLE) are copied, with copy_file_range where possible (read and
 * cc_pwrite_sparse otherwise); out is then truncated to size. 0 or -1 with errno. */
CC_MUST_CHECK int cc_copy_sparse(int in, int out, off_t size);
bool cc_path_exists(const char *path);
/* Join two path fragments with exactly one '/'. */
char *cc_path_join(const char *a, const char *b);
/* Clean a path lexically: collapse "//", "/./", resolve ".." without going above "/". */
char *cc_path_clean(const char *path);
