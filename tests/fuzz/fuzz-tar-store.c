// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for lib/image/unpack-store.c: the input is a tar stream, unpacked into a
 * layer writer of an encrypted store under /tmp/fuzz-tar-store-XXXXXX (a fixed test key). A
 * layer that unpacks is committed, then read back whole through the layer reader (every
 * directory listed, every file read to its end, every link target read): what the writer made
 * must read back without an error. Then it is removed, and garbage collection must leave the
 * store as it was (nothing of a failed or removed layer may stay); tmp/ must be empty.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "image/unpack.h"
#include "store/layer.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/fs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define DIFF_ID "sha256:fuzz"

static char base[64];
static struct store *store;
static size_t objects_at_start;

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

/* Files under base/sub (one level of subdirectories, as objects/ has). */
static size_t count_files(const char *sub)
{
	_cleanup_free_ char *dir = xasprintf("%s/%s", base, sub);
	_cleanup_closedir_ DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		_cleanup_free_ char *p = xasprintf("%s/%s", sub, de->d_name);
		if (de->d_type == DT_DIR)
			n += count_files(p);
		else
			n++;
	}
	return n;
}

static void cleanup(void)
{
	store_close(store);
	if (base[0] && cc_rm_rf(base, NULL) < 0)
		perror(base);
}

static void init(void)
{
	uint8_t key[STORE_KEY_LEN];
	struct cc_error *err = NULL;
	memset(key, 0x5a, sizeof(key));
	strcpy(base, "/tmp/fuzz-tar-store-XXXXXX");
	if (!mkdtemp(base) || store_open(base, key, true, &store, &err) < 0)
		abort();
	objects_at_start = count_files("objects");
	atexit(cleanup);
}

/* Read directory dir of r whole, and everything below it. */
static void read_back(struct store_layer_reader *r, struct store_inode *dir, int depth)
{
	struct store_dirent de;
	struct cc_error *err = NULL;
	char buf[65536];
	int k;

	if (depth > 64)
		__builtin_trap(); /* paths are at most 4095 bytes: no deeper tree can be made */
	for (size_t pos = 0; (k = store_layer_readdir(r, dir, pos, &de, &err)) == 1; pos++) {
		struct store_inode *ino = NULL;
		if (de.kind == STORE_ENTRY_WHITEOUT)
			continue;
		if (store_layer_lookup(r, dir, de.name, &ino, &err) != STORE_FOUND)
			__builtin_trap();
		const struct store_attr *a = store_layer_getattr(ino);
		if (a->type != de.type)
			__builtin_trap();
		if (a->type == STORE_TYPE_DIR) {
			read_back(r, ino, depth + 1);
		} else if (a->type == STORE_TYPE_REG) {
			uint64_t off = 0;
			ssize_t n;
			while ((n = store_layer_read(r, ino, buf, sizeof(buf), off, &err)) > 0)
				off += (uint64_t)n;
			if (n < 0 || off != store_layer_size(ino))
				__builtin_trap();
		} else if (a->type == STORE_TYPE_SYMLINK) {
			char *t = store_layer_readlink(r, ino, &err);
			if (!t)
				__builtin_trap();
			free(t);
		}
	}
	if (k < 0)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct img_unpack_opts o = { .mode = IMG_UNPACK_OVERLAY, .rootless = size & 1 };
	struct store_layer_writer *w = NULL;
	struct cc_error *err = NULL;
	struct src s = { .p = data, .len = size };

	if (!base[0])
		init();
	if (store_layer_begin(store, DIFF_ID, &w, &err) < 0)
		abort();
	int r = img_unpack_store(w, src_read, &s, &o, NULL, &err);
	/* The contract: -1 comes with one line, 0 without. */
	if ((r < 0) != (err != NULL) || (err && (!err->msg || strchr(err->msg, '\n'))))
		__builtin_trap();
	cc_error_free(&err);
	if (r < 0) {
		store_layer_abort(w);
	} else {
		struct store_layer_reader *lr = NULL;
		if (store_layer_commit(w, &err) < 0) {
			/* Only what the format cannot hold (a directory over 64 MiB) may fail here.
			 */
			if (!err || !err->msg)
				__builtin_trap();
			cc_error_free(&err);
		} else {
			if (store_layer_open(store, DIFF_ID, &lr, &err) < 0)
				__builtin_trap();
			read_back(lr, store_layer_root(lr), 0);
			store_layer_close(lr);
			if (store_remove_layer(store, DIFF_ID, &err) < 0)
				__builtin_trap();
		}
	}
	if (store_gc(store, NULL, &err) < 0)
		__builtin_trap();
	/* The index object is replaced on every change: its count stays 1. */
	if (count_files("objects") != objects_at_start || count_files("tmp") != 0)
		__builtin_trap();
	return 0;
}
