/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The binding of a KBS session into evidence, as the CoCo KBS attestation protocol (RCAR) has
 * it: the attester serialises {"tee-pubkey": <JWK>, "nonce": <challenge nonce>,
 * "additional-evidence": <string>} with the JSON Canonicalization Scheme (RFC 8785), hashes it
 * with the negotiated algorithm (SHA-384 unless the KBS chose another) and puts the digest,
 * zero-padded to 64 bytes, in the enclave's REPORT_DATA. The KBS recomputes the same bytes from
 * the session's nonce and the key it received, and compares.
 *
 * JCS as implemented here (RFC 8785 section 3.2):
 *  - no whitespace; object members sorted by their names compared as arrays of UTF-16 code
 *    units (so U+1F600, a surrogate pair D83D DE00, sorts before U+FB33);
 *  - strings: '"' and '\\' escaped with a backslash, U+0008, U+0009, U+000A, U+000C, U+000D as
 *    \b \t \n \f \r, the other code points below U+0020 as \u00xx (lower-case hex), everything
 *    else as its UTF-8 bytes (no \/, no \u escapes above U+001F); a string or member name that
 *    is not valid UTF-8 is refused;
 *  - numbers: integers (and reals with an integer value) in [-2^53, 2^53] as their decimal
 *    digits, -0 as 0, which is what ECMAScript's Number.prototype.toString gives them; other
 *    numbers are refused (the KBS binding holds none, and their shortest-round-trip form is not
 *    implemented);
 *  - literals true, false, null as they are.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "util/error.h"

#define ATTEST_JCS_DEPTH_MAX 64		      /* arrays and objects nested in one another */
#define ATTEST_JCS_INT_MAX 9007199254740992LL /* 2^53: every integer up to it is a double */

/*
 * The RFC 8785 canonical form of v, NUL-terminated (*len, which may be NULL, gets its length
 * without the NUL; a string holding U+0000 comes out escaped, so the result holds no NUL).
 * Errors start "JCS: " ("JCS: integer 9007199254740993 is beyond 2^53: not exactly an IEEE 754
 * double"). The caller frees the result.
 */
CC_MUST_CHECK char *attest_jcs(const json_t *v, size_t *len, struct cc_error **err);

/* The hash algorithms a KBS negotiates, with kbs-types' names. */
enum attest_hash_alg {
	ATTEST_HASH_SHA256 = 1,
	ATTEST_HASH_SHA384, /* the default */
	ATTEST_HASH_SHA512,
};

/* "sha256", "sha384", "sha512" to the algorithm; another name is refused ("KBS binding: hash
 * algorithm \"sm3\" is not supported (sha256, sha384, sha512 are)"). */
CC_MUST_CHECK int attest_hash_alg_parse(const char *name, enum attest_hash_alg *out,
					struct cc_error **err);
const char *attest_hash_alg_name(enum attest_hash_alg a);
/* The digest size in bytes (32, 48, 64); 0 for an invalid value. */
size_t attest_hash_alg_size(enum attest_hash_alg a);

/* The digest of len bytes with alg, zero-padded to 64 bytes (SGX REPORT_DATA). -1 with an
 * error for an invalid alg. */
CC_MUST_CHECK int attest_hash_padded(enum attest_hash_alg alg, const void *data, size_t len,
				     uint8_t out[64], struct cc_error **err);

/*
 * The report data binding a KBS session: the alg digest of the JCS of {"tee-pubkey":
 * tee_pubkey, "nonce": nonce, "additional-evidence": additional_evidence} zero-padded to 64
 * bytes. tee_pubkey is the JWK the attester sends (an object, copied as it is: the caller
 * builds it); additional_evidence is "" when there is none. Errors start "KBS binding: ".
 */
CC_MUST_CHECK int attest_kbs_report_data(const json_t *tee_pubkey, const char *nonce,
					 const char *additional_evidence, enum attest_hash_alg alg,
					 uint8_t report_data[64], struct cc_error **err);
