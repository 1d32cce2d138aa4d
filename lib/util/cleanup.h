/* SPDX-License-Identifier: Apache-2.0 */
/* Scope-bound cleanup for locals (GNU C cleanup attribute) and explicit ownership transfer. */
#pragma once

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <errno.h>

static inline void cc_freep(void *p)
{
	free(*(void **)p);
}

static inline void cc_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}

static inline void cc_fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

static inline void cc_closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
}

void cc_strv_freep(char ***v);

#define _cleanup_free_ __attribute__((cleanup(cc_freep)))
#define _cleanup_close_ __attribute__((cleanup(cc_closep)))
#define _cleanup_fclose_ __attribute__((cleanup(cc_fclosep)))
#define _cleanup_closedir_ __attribute__((cleanup(cc_closedirp)))
#define _cleanup_strv_ __attribute__((cleanup(cc_strv_freep)))

/* Hand a cleanup-managed local to someone else: returns it and leaves the local empty. */
#define steal_pointer(pp)                       \
	({                                      \
		__typeof__(*(pp)) _tmp = *(pp); \
		*(pp) = NULL;                   \
		_tmp;                           \
	})

#define steal_fd(fdp)              \
	({                         \
		int _tmp = *(fdp); \
		*(fdp) = -1;       \
		_tmp;              \
	})

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define UNUSED __attribute__((unused))

/* Allocation failure is not recoverable in a short-lived runtime: these abort on OOM. */
void *xmalloc(size_t size);
void *xzalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t size);
void *xreallocarray(void *p, size_t n, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
