// SPDX-License-Identifier: Apache-2.0
/*
 * Fuzz RA-TLS certificates (lib/attest/ratls.h) and the CBOR under them (cbor.h). Every input
 * goes to each:
 *  - a certificate (PEM or DER), verified at 2024-01-01T00:00:00Z (when the real certificates
 *    of the corpus verify) with simulated evidence allowed for the key below; what verifies
 *    has at least one extension, each bound, and a simulated one is refused with the exact line
 *    when simulated evidence is not allowed; what fails leaves an empty result;
 *  - the value of a 2.23.133.5.4.9 extension: its views lie inside the input, and its claims
 *    are parsed in turn;
 *  - a claims-buffer: what parses is written back with the CBOR writer and reads back the same;
 *  - any CBOR: what is well-formed is stepped over whole.
 * A failure says why on one line with its prefix. The key is a test key, public by design (the
 * one of fuzz-evidence.c); the seed simulated-cert.der carries evidence signed with it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "attest/cbor.h"
#include "attest/evidence.h"
#include "attest/ratls.h"

#include "attest-fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define JAN_2024 1704067200

static struct attest_sim_key *key;

static void inside(const uint8_t *data, size_t size, const uint8_t *p, size_t len)
{
	if (len && (p < data || len > size || p > data + size - len))
		abort();
}

static void check_cert(const uint8_t *data, size_t size)
{
	struct cc_error *err = NULL;
	struct attest_evidence_opts o = { .insecure_allow_simulated = true,
					  .sim_key = key,
					  .quote = { .now = JAN_2024 } };
	struct attest_ratls_result r;
	if (attest_ratls_verify(data, size, &o, &r, &err) < 0) {
		one_line(&err, "RA-TLS certificate: ");
		if (r.n_ext || r.owned) /* a failure leaves nothing half-verified */
			abort();
		return;
	}
	if (!r.n_ext || r.n_ext > ATTEST_RATLS_EXT_MAX || r.n_claims > ATTEST_RATLS_CLAIMS_MAX)
		abort();
	for (size_t i = 0; i < r.n_ext; i++)
		if (!r.ext[i].format || !r.ext[i].binding ||
		    r.ext[i].evidence.simulated != (r.ext[i].format == ATTEST_RATLS_TCG_SIMULATED))
			abort();
	bool simulated = r.simulated;
	attest_ratls_result_clear(&r);
	if (!simulated)
		return;
	o.insecure_allow_simulated = false;
	if (attest_ratls_verify(data, size, &o, &r, &err) == 0 ||
	    strcmp(err->msg, "RA-TLS certificate: extension 2.23.133.5.4.9: " ATTEST_SIM_REFUSED))
		abort();
	cc_error_free(&err);
	attest_ratls_result_clear(&r);
}

/* The claims written back: the same bytes need not come out (encodings may be longer than the
 * shortest), the same claims must. */
static void rewrite_claims(const struct attest_ratls_claims *c)
{
	struct attest_cbor_writer w = { 0 }, hash = { 0 };
	struct attest_ratls_claims back;
	struct cc_error *err = NULL;
	attest_cbor_put_head(&hash, ATTEST_CBOR_ARRAY, 2);
	attest_cbor_put_head(&hash, ATTEST_CBOR_UINT, (uint64_t)c->pubkey_hash_alg);
	attest_cbor_put_string(&hash, ATTEST_CBOR_BSTR, c->pubkey_hash, c->pubkey_hash_len);
	attest_cbor_put_head(&w, ATTEST_CBOR_MAP, 1 + c->n_claims);
	attest_cbor_put_string(&w, ATTEST_CBOR_TSTR, "pubkey-hash", 11);
	attest_cbor_put_string(&w, ATTEST_CBOR_BSTR, hash.buf, hash.len);
	for (size_t i = 0; i < c->n_claims; i++) {
		attest_cbor_put_string(&w, ATTEST_CBOR_TSTR, c->claim[i].name,
				       c->claim[i].name_len);
		attest_cbor_put_string(&w, ATTEST_CBOR_BSTR, c->claim[i].value, c->claim[i].len);
	}
	if (attest_ratls_claims_parse(w.buf, w.len, &back, &err) < 0 ||
	    back.pubkey_hash_alg != c->pubkey_hash_alg || back.n_claims != c->n_claims ||
	    back.pubkey_hash_len != c->pubkey_hash_len ||
	    memcmp(back.pubkey_hash, c->pubkey_hash, c->pubkey_hash_len))
		abort();
	for (size_t i = 0; i < c->n_claims; i++)
		if (back.claim[i].name_len != c->claim[i].name_len ||
		    back.claim[i].len != c->claim[i].len ||
		    memcmp(back.claim[i].name, c->claim[i].name, c->claim[i].name_len) ||
		    (c->claim[i].len &&
		     memcmp(back.claim[i].value, c->claim[i].value, c->claim[i].len)))
			abort();
	free(w.buf);
	free(hash.buf);
}

static void check_claims(const uint8_t *data, size_t size)
{
	struct cc_error *err = NULL;
	struct attest_ratls_claims c;
	if (attest_ratls_claims_parse(data, size, &c, &err) < 0) {
		one_line(&err, "claims: ");
		return;
	}
	inside(data, size, c.pubkey_hash, c.pubkey_hash_len);
	for (size_t i = 0; i < c.n_claims; i++) {
		inside(data, size, c.claim[i].name, c.claim[i].name_len);
		inside(data, size, c.claim[i].value, c.claim[i].len);
		if (c.claim[i].name_len > ATTEST_RATLS_CLAIM_NAME_MAX)
			abort();
	}
	rewrite_claims(&c);
}

static void check_tcg(const uint8_t *data, size_t size)
{
	struct cc_error *err = NULL;
	struct attest_ratls_tcg t;
	if (attest_ratls_tcg_parse(data, size, &t, &err) < 0) {
		one_line(&err, "extension 2.23.133.5.4.9: ");
		return;
	}
	inside(data, size, t.evidence, t.evidence_len);
	inside(data, size, t.claims, t.claims_len);
	check_claims(t.claims, t.claims_len);
}

static void check_cbor(const uint8_t *data, size_t size)
{
	struct cc_error *err = NULL;
	struct attest_cbor_reader r;
	if (attest_cbor_check(data, size, &err) < 0) {
		one_line(&err, "CBOR: offset ");
		return;
	}
	attest_cbor_reader_init(&r, data, size);
	if (attest_cbor_skip(&r, ATTEST_CBOR_DEPTH_MAX, &err) < 0 || !attest_cbor_at_end(&r))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cc_error *err = NULL;
	if (!key &&
	    !(key = attest_sim_key_from_pem(fuzz_sim_key_pem, sizeof(fuzz_sim_key_pem) - 1, &err)))
		abort();
	check_cert(data, size);
	check_tcg(data, size);
	check_claims(data, size);
	check_cbor(data, size);
	return 0;
}
