// SPDX-License-Identifier: Apache-2.0
/* Simulated sealing keys (EGETKEY). See seal.h. */
#include <string.h>
#include "attest/internal.h"
#include "attest/seal.h"
#include "enclave/sgx_report.h"
#include "util/hex.h"
#include "util/le.h"
#include "util/hkdf.h"

#define SALT "sim-sgx-egetkey-v1"
#define SECRET_LABEL "rune-sim-seal-secret-v1"
#define KNOWN_POLICY \
	(ATTEST_KEYPOLICY_MRENCLAVE | ATTEST_KEYPOLICY_MRSIGNER | ATTEST_KEYPOLICY_NOISVPRODID)
#define FLAGS_ALWAYS (SGX_FLAGS_INIT | SGX_FLAGS_DEBUG)

/* KEYREQUEST offsets (SDM EGETKEY; attestation.md 5.1). */
enum {
	KR_NAME = 0,
	KR_POLICY = 2,
	KR_ISVSVN = 4,
	KR_RESERVED1 = 6,
	KR_CPUSVN = 8,
	KR_FLAGS_MASK = 24,
	KR_XFRM_MASK = 32,
	KR_KEYID = 40,
	KR_MISC_MASK = 72,
	KR_CONFIGSVN = 76,
	KR_RESERVED2 = 78,
};

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

int attest_keyrequest_decode(const uint8_t *b, size_t len, struct attest_keyrequest *r,
			     struct cc_error **err)
{
	if (len != ATTEST_KEYREQUEST_SIZE)
		return cc_error_set(err, 0, "key request: %zu bytes, not %d", len,
				    ATTEST_KEYREQUEST_SIZE);
	*r = (struct attest_keyrequest){
		.key_name = cc_le16(b + KR_NAME),
		.key_policy = cc_le16(b + KR_POLICY),
		.isv_svn = cc_le16(b + KR_ISVSVN),
		.flags_mask = cc_le64(b + KR_FLAGS_MASK),
		.xfrm_mask = cc_le64(b + KR_XFRM_MASK),
		.misc_mask = cc_le32(b + KR_MISC_MASK),
		.config_svn = cc_le16(b + KR_CONFIGSVN),
	};
	memcpy(r->cpu_svn, b + KR_CPUSVN, sizeof(r->cpu_svn));
	memcpy(r->key_id, b + KR_KEYID, sizeof(r->key_id));
	if (r->key_name != ATTEST_KEYNAME_SEAL)
		return cc_error_set(
		    err, 0, "key request: key name %u is not simulated here (only SEAL, %d)",
		    r->key_name, ATTEST_KEYNAME_SEAL);
	if (r->key_policy & ~KNOWN_POLICY)
		return cc_error_set(
		    err, 0,
		    "key request: key policy 0x%x has bits this simulation does not "
		    "know (MRENCLAVE 0x1, MRSIGNER 0x2, NOISVPRODID 0x4)",
		    r->key_policy);
	if (!all_zero(b + KR_RESERVED1, 2) ||
	    !all_zero(b + KR_RESERVED2, ATTEST_KEYREQUEST_SIZE - KR_RESERVED2))
		return cc_error_set(err, 0, "key request: reserved bytes are not zero");
	return 0;
}

void attest_keyrequest_encode(const struct attest_keyrequest *r,
			      uint8_t out[ATTEST_KEYREQUEST_SIZE])
{
	memset(out, 0, ATTEST_KEYREQUEST_SIZE);
	cc_put_le16(out + KR_NAME, r->key_name);
	cc_put_le16(out + KR_POLICY, r->key_policy);
	cc_put_le16(out + KR_ISVSVN, r->isv_svn);
	memcpy(out + KR_CPUSVN, r->cpu_svn, sizeof(r->cpu_svn));
	cc_put_le64(out + KR_FLAGS_MASK, r->flags_mask);
	cc_put_le64(out + KR_XFRM_MASK, r->xfrm_mask);
	memcpy(out + KR_KEYID, r->key_id, sizeof(r->key_id));
	cc_put_le32(out + KR_MISC_MASK, r->misc_mask);
	cc_put_le16(out + KR_CONFIGSVN, r->config_svn);
}

int attest_sim_seal_secret(const struct attest_sim_key *k, uint8_t secret[ATTEST_SEAL_SECRET_SIZE],
			   struct cc_error **err)
{
	uint8_t scalar[32];
	if (attest_sim_key_private(k, scalar, err) < 0)
		return cc_error_prefix(err, "seal secret");
	bool ok = cc_hkdf_sha256(scalar, sizeof(scalar), NULL, 0, SECRET_LABEL,
				 sizeof(SECRET_LABEL) - 1, secret, ATTEST_SEAL_SECRET_SIZE);
	explicit_bzero(scalar, sizeof(scalar));
	return ok ? 0 : cc_error_set(err, 0, "seal secret: cannot derive it");
}

/* CPUSVN compares as SGX's: byte by byte, each requested byte at most the current one. */
static bool cpusvn_above(const uint8_t want[16], const uint8_t have[16])
{
	for (int i = 0; i < 16; i++)
		if (want[i] > have[i])
			return true;
	return false;
}

int attest_sim_egetkey(const uint8_t secret[ATTEST_SEAL_SECRET_SIZE],
		       const struct attest_sgx_report *self, const struct attest_keyrequest *r,
		       uint8_t key[ATTEST_SEAL_KEY_SIZE], struct cc_error **err)
{
	char want[33], have[33];
	if (r->isv_svn > self->isvsvn)
		return cc_error_set(err, 0,
				    "seal key: requested ISVSVN %u is above the enclave's %u",
				    r->isv_svn, self->isvsvn);
	cc_hex_encode(r->cpu_svn, 16, want);
	cc_hex_encode(self->cpusvn, 16, have);
	if (cpusvn_above(r->cpu_svn, self->cpusvn))
		return cc_error_set(
		    err, 0, "seal key: requested CPUSVN %s is above the platform's %s", want, have);
	if (r->config_svn > self->configsvn)
		return cc_error_set(err, 0,
				    "seal key: requested CONFIGSVN %u is above the enclave's %u",
				    r->config_svn, self->configsvn);

	uint8_t info[2 + 2 + 32 + 32 + 2 + 2 + 16 + 2 + 8 + 8 + 4 + 32] = { 0 }, *p = info;
	cc_put_le16(p, r->key_name), p += 2;
	cc_put_le16(p, r->key_policy), p += 2;
	if (r->key_policy & ATTEST_KEYPOLICY_MRENCLAVE)
		memcpy(p, self->mrenclave, 32);
	p += 32;
	if (r->key_policy & ATTEST_KEYPOLICY_MRSIGNER)
		memcpy(p, self->mrsigner, 32);
	p += 32;
	cc_put_le16(p, r->key_policy & ATTEST_KEYPOLICY_NOISVPRODID ? 0 : self->isvprodid), p += 2;
	cc_put_le16(p, r->isv_svn), p += 2;
	memcpy(p, r->cpu_svn, 16), p += 16;
	cc_put_le16(p, r->config_svn), p += 2;
	cc_put_le64(p, self->flags & (r->flags_mask | FLAGS_ALWAYS)), p += 8;
	cc_put_le64(p, self->xfrm & r->xfrm_mask), p += 8;
	cc_put_le32(p, self->miscselect & r->misc_mask), p += 4;
	memcpy(p, r->key_id, 32);
	if (!cc_hkdf_sha256(secret, ATTEST_SEAL_SECRET_SIZE, SALT, sizeof(SALT) - 1, info,
			    sizeof(info), key, ATTEST_SEAL_KEY_SIZE))
		return cc_error_set(err, 0, "seal key: cannot derive it");
	return 0;
}
