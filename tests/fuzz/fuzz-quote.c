// SPDX-License-Identifier: Apache-2.0
/* Fuzz the DCAP quote parser (lengths, PEM chain, the PCK certificate's SGX extension), the
 * verification of what parses (at a fixed time, against the compiled-in root), and the SGX
 * extension's DER parser on its own. A failure says why on one line starting "quote: "; a
 * parsed quote has every byte view inside its own copy. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "attest/quote.h"
#include "attest/verify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void one_line(struct cc_error **err, const char *prefix)
{
	if (!*err || !(*err)->msg || strchr((*err)->msg, '\n') ||
	    strncmp((*err)->msg, prefix, strlen(prefix)))
		abort();
	cc_error_free(err);
}

static void inside(const struct attest_quote *q, const void *p, size_t len)
{
	const uint8_t *b = p;
	if (b < q->raw || b + len > q->raw + q->raw_len)
		abort();
}

static void check_quote(const uint8_t *data, size_t size)
{
	struct cc_error *err = NULL;
	struct attest_quote *q = attest_quote_parse(data, size, &err);
	if (!q) {
		one_line(&err, "quote: ");
		return;
	}
	inside(q, q->signature, 64);
	inside(q, q->attest_key, 64);
	inside(q, q->qe_report_body, 384);
	inside(q, q->qe_report_sig, 64);
	inside(q, q->qe_auth, q->qe_auth_len);
	inside(q, q->pck_pem, q->pck_pem_len);
	if (q->signed_len > q->raw_len || q->trailing > q->raw_len || !q->pck_chain[2])
		abort();
	/* 2025-07-01T00:00:00Z: the real quotes of the corpus verify then. */
	struct attest_verify_opts o = { .now = 1751328000 };
	struct attest_verdict v;
	if (attest_quote_verify(q, &o, &v, &err) < 0)
		one_line(&err, "quote: ");
	attest_verdict_clear(&v);
	attest_quote_free(q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct attest_pck_ext e;
	struct cc_error *err = NULL;
	check_quote(data, size);
	if (attest_pck_ext_parse_der(data, size, &e, &err) < 0)
		one_line(&err, "SGX extension: ");
	return 0;
}
