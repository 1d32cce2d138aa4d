// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for lib/image/unpack.c: the input is a tar stream. Each input is unpacked
 * (APPLY or OVERLAY mode, rootless so no device nodes) into /tmp/fuzz-tar-XXXXXX/root, which is
 * then removed; the sibling directory /tmp/fuzz-tar-XXXXXX/outside must stay empty and nothing
 * else may appear next to root: any escape traps.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "image/unpack.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/fs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char base[64], root[96], outside[96];

struct src {
	const uint8_t *p;
	size_t len, off;
};

static ssize_t src_read(void *ctx, void *buf, size_t len)
{
	struct src *s = ctx;
	size_t n = s->len - s->off;
	if (n > len)
		n = len;
	memcpy(buf, s->p + s->off, n);
	s->off += n;
	return (ssize_t)n;
}

static void cleanup_base(void)
{
	if (base[0] && cc_rm_rf(base, NULL) < 0)
		perror(base);
}

static void init(void)
{
	strcpy(base, "/tmp/fuzz-tar-XXXXXX");
	if (!mkdtemp(base))
		abort();
	snprintf(root, sizeof(root), "%s/root", base);
	snprintf(outside, sizeof(outside), "%s/outside", base);
	if (mkdir(outside, 0755) < 0)
		abort();
	atexit(cleanup_base);
}

/* Number of entries in dir besides "." and "..". */
static int count_entries(const char *dir)
{
	_cleanup_closedir_ DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;
	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct img_unpack_opts o = {
		.mode = size & 1 ? IMG_UNPACK_OVERLAY : IMG_UNPACK_APPLY,
		.rootless = true,
	};
	struct img_unpack_stats stats = { 0 };
	struct cc_error *err = NULL;
	struct src s = { .p = data, .len = size };

	if (!base[0])
		init();
	if (mkdir(root, 0755) < 0)
		abort();
	int rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		abort();
	int r = img_unpack(rootfd, src_read, &s, &o, &stats, &err);
	/* The contract: -1 comes with an error, 0 without. */
	if ((r < 0) != (err != NULL))
		__builtin_trap();
	if (err && (!err->msg || strchr(err->msg, '\n')))
		__builtin_trap();
	cc_error_free(&err);
	close(rootfd);
	if (cc_rm_rf(root, NULL) < 0)
		abort();
	/* Nothing may have escaped the root. */
	if (count_entries(outside) != 0 || count_entries(base) != 1)
		__builtin_trap();
	return 0;
}
