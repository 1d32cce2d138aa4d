// SPDX-License-Identifier: Apache-2.0
/*
 * Quote verifications per second with lib/attest, beside the cost of the one operation that
 * dominates them: an ECDSA P-256 signature check by the same OpenSSL. A DCAP quote's
 * verification checks four certificate signatures (PCK chain and, with collateral, more), the
 * QE report signature and the quote signature, plus parsing, so "quote / ECDSA" says how much
 * is spent beyond the signatures themselves.
 *
 *   attest-bench DATA_DIR [SECONDS]     (bench/README.md; DATA_DIR: tests/unit/data/attest)
 *
 * Each case runs in batches of 64 for at least SECONDS (default 1), and prints the median time
 * of one verification over the batches and the rate.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include "attest/collateral.h"
#include "attest/quote.h"
#include "attest/verify.h"
#include "util/fs.h"

#define BATCH 64
#define BATCHES_MAX 4096

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Median seconds per call of fn over batches for at least secs. */
static double measure(int (*fn)(void *), void *ctx, double secs, double *rate)
{
	static double per_call[BATCHES_MAX];
	size_t n = 0, calls = 0;
	double start = now_s(), end = start;
	while ((end - start < secs || n < 5) && n < BATCHES_MAX) {
		double t0 = now_s();
		for (int i = 0; i < BATCH; i++)
			if (fn(ctx) < 0)
				exit(1);
		end = now_s();
		per_call[n++] = (end - t0) / BATCH;
		calls += BATCH;
	}
	*rate = (double)calls / (end - start);
	qsort(per_call, n, sizeof(*per_call), cmp_double);
	return per_call[n / 2];
}

/* ---- quotes ---- */

struct quote_case {
	const char *name, *quote, *collateral, *at;
	char *buf;
	size_t len;
	struct attest_collateral *c;
	struct attest_verify_opts o;
};

static int verify_quote(void *arg)
{
	struct quote_case *qc = arg;
	struct cc_error *err = NULL;
	struct attest_verdict v;
	struct attest_quote *q = attest_quote_parse(qc->buf, qc->len, &err);
	int r = q ? attest_quote_verify(q, &qc->o, &v, &err) : -1;
	if (q)
		attest_verdict_clear(&v);
	attest_quote_free(q);
	if (r < 0) {
		fprintf(stderr, "attest-bench: %s: %s\n", qc->name, err->msg);
		cc_error_free(&err);
	}
	return r;
}

static char *read_data(const char *dir, const char *name, size_t *len)
{
	char path[4096];
	struct cc_error *err = NULL;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	char *buf = cc_read_file(path, 1 << 20, len, &err);
	if (!buf) {
		fprintf(stderr, "attest-bench: %s\n", err->msg);
		exit(1);
	}
	return buf;
}

static time_t at(const char *iso)
{
	struct tm tm = { 0 };
	strptime(iso, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return timegm(&tm);
}

/* ---- the ECDSA P-256 baseline ---- */

struct ecdsa_case {
	EVP_PKEY *key;
	unsigned char sig[80], msg[64];
	size_t sig_len;
};

static int verify_ecdsa(void *arg)
{
	struct ecdsa_case *e = arg;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int ok = EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, e->key) == 1 &&
		 EVP_DigestVerify(md, e->sig, e->sig_len, e->msg, sizeof(e->msg)) == 1;
	EVP_MD_CTX_free(md);
	return ok ? 0 : -1;
}

static void ecdsa_setup(struct ecdsa_case *e)
{
	e->key = EVP_EC_gen("P-256");
	memset(e->msg, 0x5a, sizeof(e->msg));
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	e->sig_len = sizeof(e->sig);
	if (!e->key || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, e->key) != 1 ||
	    EVP_DigestSign(md, e->sig, &e->sig_len, e->msg, sizeof(e->msg)) != 1) {
		fprintf(stderr, "attest-bench: cannot make the ECDSA baseline\n");
		exit(1);
	}
	EVP_MD_CTX_free(md);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: attest-bench DATA_DIR [SECONDS]\n");
		return 2;
	}
	const char *dir = argv[1];
	double secs = argc > 2 ? atof(argv[2]) : 1.0;
	struct quote_case cases[] = {
		{ "SGX v3 (Occlum), chain and signatures", "trustee-occlum-quote.bin", NULL,
		  "2024-01-01T00:00:00Z" },
		{ "SGX v3 + collateral (TCB, QE identity)", "dcap-qvl-sgx-quote.bin",
		  "dcap-qvl-sgx-quote-collateral.json", "2025-07-01T00:00:00Z" },
		{ "TDX v4 + collateral", "dcap-qvl-tdx-quote.bin",
		  "dcap-qvl-tdx-quote-collateral.json", "2025-07-01T00:00:00Z" },
	};
	struct ecdsa_case ec;
	ecdsa_setup(&ec);
	double ecdsa_rate, ecdsa_median = measure(verify_ecdsa, &ec, secs, &ecdsa_rate);

	printf("%-42s %12s %12s %10s\n", "case", "median", "per second", "x ECDSA");
	printf("%-42s %10.1f us %12.0f %10.2f\n", "ECDSA P-256 verify (OpenSSL, baseline)",
	       ecdsa_median * 1e6, ecdsa_rate, 1.0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct quote_case *qc = &cases[i];
		qc->buf = read_data(dir, qc->quote, &qc->len);
		qc->o.now = at(qc->at);
		if (qc->collateral) {
			size_t len;
			struct cc_error *err = NULL;
			char *text = read_data(dir, qc->collateral, &len);
			qc->c = attest_collateral_parse_json(text, len, &err);
			free(text);
			if (!qc->c) {
				fprintf(stderr, "attest-bench: %s: %s\n", qc->collateral, err->msg);
				return 1;
			}
			qc->o.collateral = qc->c;
		}
		double rate, median = measure(verify_quote, qc, secs, &rate);
		printf("%-42s %10.1f us %12.0f %10.2f\n", qc->name, median * 1e6, rate,
		       median / ecdsa_median);
		attest_collateral_free(qc->c);
		free(qc->buf);
	}
	EVP_PKEY_free(ec.key);
	return 0;
}
