// SPDX-License-Identifier: Apache-2.0
/*
 * Protected objects (lib/store, docs/store.md) beside a plain file of the same bytes, on tmpfs
 * so that the figures are the store's CPU cost, not a disk's:
 *
 *   store-bench [--size-mib N] [--runs R] [--chunk-log2 L] [--dir DIR] [--random-reads K]
 *
 * defaults: 1024 MiB, 5 runs, 64 KiB chunks (16), /dev/shm, 100000 random reads. Each run
 * measures, the plain file and the object interleaved: writing N MiB in 1 MiB writes (writer
 * through commit, against write(2) into a new file); reading it all sequentially in 128 KiB
 * and 1 MiB reads (open included; every chunk authenticated and decrypted, against read(2));
 * K reads of 4 KiB at random 4 KiB-aligned offsets (the same offsets for both, against
 * pread(2)). It prints the median of the runs and the ratio protected / plain; it never fails
 * on time. Both files are removed at the end.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <openssl/rand.h>
#include "store/pf.h"
#include "util/cleanup.h"
#include "util/fs.h"

#define MIB (1024 * 1024)
#define SOURCE_MIB 16 /* the plaintext written, repeated: random bytes */
#define RUNS_MAX 64

enum { W_WRITE, W_SEQ128K, W_SEQ1M, W_RANDOM, N_WORK };
static const char *const work_names[N_WORK] = { "write, 1 MiB writes", "sequential read, 128 KiB",
						"sequential read, 1 MiB", "random read, 4 KiB" };

static struct {
	uint64_t size;
	unsigned runs, chunk_log2;
	const char *dir;
	size_t random_reads;
	char *plain_path, *obj_path;
	uint8_t *source, *buf;
	uint64_t *offsets;
	struct store_pf_key *key;
	uint8_t mac[STORE_PF_MAC_LEN];
} b = { .size = (uint64_t)1024 * MIB,
	.runs = 5,
	.chunk_log2 = 16,
	.dir = "/dev/shm",
	.random_reads = 100000 };

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, struct cc_error **err)
{
	if (err && *err)
		fprintf(stderr, "store-bench: %s: %s\n", what, (*err)->msg);
	else
		fprintf(stderr, "store-bench: %s: %s\n", what, strerror(errno));
	unlink(b.plain_path);
	unlink(b.obj_path);
	exit(1);
}

static int open_new(const char *path)
{
	int fd;
	unlink(path);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		die(path, NULL);
	return fd;
}

/* ---- the plain file ---- */

static double plain_write(void)
{
	double t0 = now_s();
	_cleanup_close_ int fd = open_new(b.plain_path);
	for (uint64_t off = 0; off < b.size; off += MIB) {
		size_t n = b.size - off < MIB ? (size_t)(b.size - off) : MIB;
		if (cc_write_all(fd, b.source + off % (SOURCE_MIB * MIB), n) < 0)
			die("write plain file", NULL);
	}
	return now_s() - t0;
}

static double plain_seq(size_t step)
{
	double t0 = now_s();
	_cleanup_close_ int fd = open(b.plain_path, O_RDONLY | O_CLOEXEC);
	uint64_t total = 0;
	ssize_t n;
	if (fd < 0)
		die(b.plain_path, NULL);
	while ((n = read(fd, b.buf, step)) > 0)
		total += (uint64_t)n;
	if (n < 0 || total != b.size)
		die("read plain file", NULL);
	return now_s() - t0;
}

static double plain_random(void)
{
	_cleanup_close_ int fd = open(b.plain_path, O_RDONLY | O_CLOEXEC);
	double t0;
	if (fd < 0)
		die(b.plain_path, NULL);
	t0 = now_s();
	for (size_t i = 0; i < b.random_reads; i++)
		if (pread(fd, b.buf, 4096, (off_t)b.offsets[i]) != 4096)
			die("pread plain file", NULL);
	return now_s() - t0;
}

/* ---- the protected object ---- */

static double obj_write(void)
{
	struct cc_error *err = NULL;
	double t0 = now_s();
	_cleanup_close_ int fd = open_new(b.obj_path);
	struct store_pf_io io = store_pf_io_fd(fd);
	struct store_pf_writer *w =
	    store_pf_writer_new(b.key, &io, NULL, b.chunk_log2, NULL, 0, &err);
	if (!w)
		die("writer", &err);
	for (uint64_t off = 0; off < b.size; off += MIB) {
		size_t n = b.size - off < MIB ? (size_t)(b.size - off) : MIB;
		if (store_pf_write(w, b.source + off % (SOURCE_MIB * MIB), n, &err) < 0)
			die("write object", &err);
	}
	if (store_pf_commit(w, b.mac, &err) < 0)
		die("commit", &err);
	store_pf_writer_free(w);
	return now_s() - t0;
}

static struct store_pf_reader *obj_open(int *fd)
{
	struct cc_error *err = NULL;
	struct store_pf_reader *r = NULL;
	struct store_pf_io io;
	*fd = open(b.obj_path, O_RDONLY | O_CLOEXEC);
	if (*fd < 0)
		die(b.obj_path, NULL);
	io = store_pf_io_fd(*fd);
	if (store_pf_open(b.key, &io, NULL, b.mac, &r, &err) < 0)
		die("open object", &err);
	return r;
}

static double obj_seq(size_t step)
{
	struct cc_error *err = NULL;
	double t0 = now_s();
	_cleanup_close_ int fd = -1;
	struct store_pf_reader *r = obj_open(&fd);
	uint64_t off = 0;
	ssize_t n;
	while ((n = store_pf_pread(r, b.buf, step, off, &err)) > 0)
		off += (uint64_t)n;
	if (n < 0 || off != b.size)
		die("read object", &err);
	store_pf_reader_free(r);
	return now_s() - t0;
}

static double obj_random(void)
{
	struct cc_error *err = NULL;
	_cleanup_close_ int fd = -1;
	struct store_pf_reader *r = obj_open(&fd);
	double t0 = now_s();
	for (size_t i = 0; i < b.random_reads; i++)
		if (store_pf_pread(r, b.buf, 4096, b.offsets[i], &err) != 4096)
			die("read object", &err);
	t0 = now_s() - t0;
	store_pf_reader_free(r);
	return t0;
}

/* The object reads back as the plain file, once, untimed. */
static void verify(void)
{
	struct cc_error *err = NULL;
	_cleanup_close_ int fd = -1, pfd = open(b.plain_path, O_RDONLY | O_CLOEXEC);
	_cleanup_free_ uint8_t *plain = xmalloc(MIB);
	struct store_pf_reader *r = obj_open(&fd);
	for (uint64_t off = 0; off < b.size; off += MIB) {
		ssize_t n = store_pf_pread(r, b.buf, MIB, off, &err);
		if (n < 0)
			die("verify", &err);
		if (cc_read_all(pfd, plain, (size_t)n) != n || memcmp(plain, b.buf, (size_t)n)) {
			fprintf(stderr, "store-bench: the object does not read back as written\n");
			errno = EIO;
			die("verify", NULL);
		}
	}
	store_pf_reader_free(r);
}

/* ---- the report ---- */

static int cmp_double(const void *x, const void *y)
{
	double p = *(const double *)x, q = *(const double *)y;
	return (p > q) - (p < q);
}

static double median(double *v, unsigned n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void usage(void)
{
	fprintf(stderr, "usage: store-bench [--size-mib N] [--runs R] [--chunk-log2 L] "
			"[--dir DIR] [--random-reads K]\n");
	exit(2);
}

static void parse_args(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "size-mib", required_argument, NULL, 's' },
		{ "runs", required_argument, NULL, 'r' },
		{ "chunk-log2", required_argument, NULL, 'c' },
		{ "dir", required_argument, NULL, 'd' },
		{ "random-reads", required_argument, NULL, 'k' },
		{ 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			b.size = strtoull(optarg, NULL, 10) * MIB;
			break;
		case 'r':
			b.runs = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'c':
			b.chunk_log2 = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'd':
			b.dir = optarg;
			break;
		case 'k':
			b.random_reads = strtoull(optarg, NULL, 10);
			break;
		default:
			usage();
		}
	}
	if (optind != argc || b.size < 4096 || !b.runs || b.runs > RUNS_MAX || !b.random_reads)
		usage();
}

static void setup(void)
{
	uint8_t key[STORE_PF_KEY_LEN];
	uint64_t pages = b.size / 4096, x = 0x9e3779b97f4a7c15ull;

	b.plain_path = xasprintf("%s/store-bench-plain.%d", b.dir, (int)getpid());
	b.obj_path = xasprintf("%s/store-bench-object.%d", b.dir, (int)getpid());
	b.source = xmalloc((size_t)SOURCE_MIB * MIB);
	b.buf = xmalloc(MIB);
	if (RAND_bytes(b.source, SOURCE_MIB * MIB) != 1 || RAND_bytes(key, sizeof(key)) != 1) {
		errno = EIO;
		die("random bytes", NULL);
	}
	b.key = store_pf_key_new(key);
	explicit_bzero(key, sizeof(key));
	b.offsets = xcalloc(b.random_reads, sizeof(*b.offsets));
	for (size_t i = 0; i < b.random_reads; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		b.offsets[i] = (x % pages) * 4096;
	}
}

int main(int argc, char **argv)
{
	static double t[N_WORK][2][RUNS_MAX];
	double med[N_WORK][2];

	parse_args(argc, argv);
	setup();
	for (unsigned run = 0; run < b.runs; run++) {
		/* Plain first on even runs, protected first on odd ones. */
		for (int k = 0; k < 2; k++) {
			int obj = (int)((run + (unsigned)k) % 2);
			t[W_WRITE][obj][run] = obj ? obj_write() : plain_write();
		}
		if (run == 0)
			verify();
		for (int k = 0; k < 2; k++) {
			int obj = (int)((run + (unsigned)k) % 2);
			t[W_SEQ128K][obj][run] = obj ? obj_seq(128 * 1024) : plain_seq(128 * 1024);
			t[W_SEQ1M][obj][run] = obj ? obj_seq(MIB) : plain_seq(MIB);
			t[W_RANDOM][obj][run] = obj ? obj_random() : plain_random();
		}
		fprintf(stderr, "store-bench: run %u of %u done\n", run + 1, b.runs);
	}
	for (int w = 0; w < N_WORK; w++)
		for (int obj = 0; obj < 2; obj++)
			med[w][obj] = median(t[w][obj], b.runs);

	printf("store-bench: %llu MiB on %s, %u KiB chunks, median of %u runs\n",
	       (unsigned long long)(b.size / MIB), b.dir, (1u << b.chunk_log2) / 1024, b.runs);
	printf("%-28s %14s %14s %8s\n", "operation", "protected", "plain", "ratio");
	for (int w = 0; w < N_WORK; w++) {
		/* Rates: reads per second, or MB/s (10^6 bytes). */
		double amount = w == W_RANDOM ? (double)b.random_reads : (double)b.size / 1e6;
		double prot = amount / med[w][1], plain = amount / med[w][0];
		const char *unit = w == W_RANDOM ? "/s" : "MB/s";
		printf("%-28s %9.0f %-4s %9.0f %-4s %8.2f\n", work_names[w], prot, unit, plain,
		       unit, prot / plain);
	}
	printf("(ratio: protected / plain; random reads: %zu per run, 4 KiB each)\n",
	       b.random_reads);
	unlink(b.plain_path);
	unlink(b.obj_path);
	store_pf_key_free(b.key);
	free(b.source);
	free(b.buf);
	free(b.offsets);
	free(b.plain_path);
	free(b.obj_path);
	return 0;
}
