// SPDX-License-Identifier: Apache-2.0
/*
 * Sequential reads through the union view (lib/store/view.h) beside the same layer read with
 * the layer reader directly (no FUSE) and a plain file of the same bytes, all on tmpfs:
 *
 *   view-bench [--size-mib N] [--runs R] [--dir DIR] [--dd]
 *
 * defaults: 256 MiB, 5 runs, /dev/shm. Each run mounts a fresh read-only view in a child
 * process (a fresh mount: nothing of the file in the page cache), reads the file in 1 MiB
 * reads (every chunk authenticated and decrypted), and unmounts. It prints the median MB/s of
 * each and the ratios; it never fails on time. Needs root and /dev/fuse. Everything it made is
 * removed at the end. With --dd, each view run also drops the kernel's caches and runs
 * dd(1) (bs=1M) on the file first, printing what dd says.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "store/layer.h"
#include "store/view.h"
#include "util/cleanup.h"
#include "util/fs.h"

#define MIB (1024 * 1024)
#define RUNS_MAX 64
#define DIFF "sha256:beec000000000000000000000000000000000000000000000000000000000000"

static const uint8_t key[32] = "view-bench-key-0123456789abcdef";

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, struct cc_error *err)
{
	fprintf(stderr, "view-bench: %s: %s\n", what, err ? err->msg : strerror(errno));
	exit(1);
}

static void fill(uint8_t *buf, size_t len, uint64_t *x)
{
	for (size_t i = 0; i + 8 <= len; i += 8) {
		*x ^= *x << 13;
		*x ^= *x >> 7;
		*x ^= *x << 17;
		memcpy(buf + i, x, 8);
	}
}

static void make_store(const char *dir, const char *plain, uint64_t size)
{
	struct store *s = NULL;
	struct store_layer_writer *w = NULL;
	struct cc_error *err = NULL;
	struct store_attr a = { .type = STORE_TYPE_REG, .mode = 0644 };
	_cleanup_free_ uint8_t *buf = xmalloc(MIB);
	uint64_t x = 88172645463325252ull;
	int fd = open(plain, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0)
		die(plain, NULL);
	if (store_open(dir, key, true, &s, &err) < 0 || store_layer_begin(s, DIFF, &w, &err) < 0 ||
	    store_layer_file_begin(w, "file", &a, &err) < 0)
		die("store", err);
	for (uint64_t off = 0; off < size; off += MIB) {
		fill(buf, MIB, &x);
		if (store_layer_file_write(w, buf, MIB, &err) < 0)
			die("write", err);
		if (write(fd, buf, MIB) != MIB)
			die(plain, NULL);
	}
	if (store_layer_file_end(w, &err) < 0 || store_layer_commit(w, &err) < 0)
		die("commit", err);
	close(fd);
	store_close(s);
}

/* Read path in 1 MiB reads: MB/s. */
static double read_file(const char *path, uint64_t size)
{
	_cleanup_free_ uint8_t *buf = xmalloc(MIB);
	uint64_t total = 0;
	double t0 = now_s();
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		die(path, NULL);
	while ((n = read(fd, buf, MIB)) > 0)
		total += (uint64_t)n;
	if (n < 0 || total != size)
		die(path, NULL);
	close(fd);
	return (double)size / 1e6 / (now_s() - t0);
}

static double read_direct(const char *dir, uint64_t size)
{
	struct store *s = NULL;
	struct store_layer_reader *r = NULL;
	struct store_inode *ino = NULL;
	struct cc_error *err = NULL;
	_cleanup_free_ uint8_t *buf = xmalloc(MIB);
	double t0;

	if (store_open(dir, key, false, &s, &err) < 0 || store_layer_open(s, DIFF, &r, &err) < 0 ||
	    store_layer_lookup_path(r, "file", &ino, &err) != STORE_FOUND)
		die("open", err);
	t0 = now_s();
	for (uint64_t off = 0; off < size; off += MIB)
		if (store_layer_read(r, ino, buf, MIB, off, &err) != MIB)
			die("read", err);
	t0 = now_s() - t0;
	store_layer_close(r);
	store_close(s);
	return (double)size / 1e6 / t0;
}

static bool with_dd;

static double read_view(const char *dir, const char *mnt, uint64_t size)
{
	int p[2], st;
	char c;
	pid_t pid;
	double mbs;
	_cleanup_free_ char *file = xasprintf("%s/file", mnt);

	if (pipe2(p, O_CLOEXEC) < 0)
		die("pipe", NULL);
	pid = fork();
	if (pid < 0)
		die("fork", NULL);
	if (pid == 0) {
		const char *layers[] = { DIFF };
		struct store_view_opts o = { .layers = layers, .n_layers = 1, .ready_fd = p[1] };
		struct store *s = NULL;
		struct cc_error *err = NULL;
		close(p[0]);
		if (store_open(dir, key, false, &s, &err) < 0 ||
		    store_view_serve(s, mnt, &o, &err) < 0)
			die("serve", err);
		store_close(s);
		_exit(0);
	}
	close(p[1]);
	if (read(p[0], &c, 1) != 1)
		die("the view did not mount", NULL);
	close(p[0]);
	if (with_dd) {
		_cleanup_free_ char *cmd = xasprintf(
		    "sync; echo 3 > /proc/sys/vm/drop_caches; dd if=%s of=/dev/null bs=1M 2>&1 | "
		    "tail -1",
		    file);
		CC_BEST_EFFORT(system(cmd)); /* a figure for the eye only */
		/* A fresh mount for the measurement below. */
		if (umount2(mnt, 0) < 0)
			CC_BEST_EFFORT(umount2(mnt, MNT_DETACH));
		waitpid(pid, &st, 0);
		with_dd = false;
		mbs = read_view(dir, mnt, size);
		with_dd = true;
		return mbs;
	}
	mbs = read_file(file, size);
	if (umount2(mnt, 0) < 0)
		CC_BEST_EFFORT(umount2(mnt, MNT_DETACH));
	waitpid(pid, &st, 0);
	return mbs;
}

static int dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, unsigned n)
{
	qsort(v, n, sizeof(*v), dbl_cmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = { { "size-mib", required_argument, NULL, 's' },
						  { "runs", required_argument, NULL, 'r' },
						  { "dir", required_argument, NULL, 'd' },
						  { "dd", no_argument, NULL, 'D' },
						  { 0 } };
	uint64_t size = 256ull * MIB;
	unsigned runs = 5;
	const char *base = "/dev/shm";
	double view[RUNS_MAX], direct[RUNS_MAX], plain[RUNS_MAX];
	struct cc_error *err = NULL;
	int opt;

	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (opt == 's')
			size = strtoull(optarg, NULL, 10) * MIB;
		else if (opt == 'r')
			runs = (unsigned)strtoul(optarg, NULL, 10);
		else if (opt == 'd')
			base = optarg;
		else if (opt == 'D')
			with_dd = true;
		else
			return 2;
	}
	if (!size || !runs || runs > RUNS_MAX)
		return 2;
	if (geteuid() != 0 || access("/dev/fuse", R_OK | W_OK) != 0) {
		fprintf(stderr, "view-bench: needs root and /dev/fuse\n");
		return 77;
	}
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		die("a mount namespace of its own", NULL);
	_cleanup_free_ char *top = xasprintf("%s/view-bench-XXXXXX", base);
	if (!mkdtemp(top))
		die(top, NULL);
	_cleanup_free_ char *dir = xasprintf("%s/store", top);
	_cleanup_free_ char *mnt = xasprintf("%s/mnt", top);
	_cleanup_free_ char *plainf = xasprintf("%s/plain", top);
	if (mkdir(mnt, 0755) < 0)
		die(mnt, NULL);
	make_store(dir, plainf, size);
	for (unsigned i = 0; i < runs; i++) {
		view[i] = read_view(dir, mnt, size);
		direct[i] = read_direct(dir, size);
		plain[i] = read_file(plainf, size);
	}
	double mv = median(view, runs), md = median(direct, runs), mp = median(plain, runs);
	printf("sequential read of %llu MiB, 1 MiB reads, median of %u runs (tmpfs)\n",
	       (unsigned long long)(size / MIB), runs);
	printf("  view (FUSE, fresh mount)   %8.0f MB/s\n", mv);
	printf("  layer reader (no FUSE)     %8.0f MB/s   view / reader %.2f\n", md, mv / md);
	printf("  plain file                 %8.0f MB/s   view / plain  %.2f\n", mp, mv / mp);
	if (cc_rm_rf(top, &err) < 0)
		die("cleanup", err);
	return 0;
}
