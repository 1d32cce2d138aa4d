// SPDX-License-Identifier: Apache-2.0
/* Local attestation with the skeleton's simulated report key (see local.h). The MAC formula is
 * the skeleton's own (pal/skeleton/sim-report.c), so both sides compute the same value. */
#include <string.h>
#include <openssl/crypto.h>
#include "attest/internal.h"
#include "attest/local.h"
#include "pal/skeleton/sim-report.h"

int attest_local_verify(const struct sgx_target_info *self, const void *report, size_t len,
			bool insecure_allow_simulated, struct attest_local_peer *peer,
			struct cc_error **err)
{
	struct sgx_report r;
	uint8_t mac[SGX_MAC_SIZE];
	if (len != SGX_REPORT_SIZE)
		return cc_error_set(err, 0, "local attestation: REPORT is %zu bytes, not %d", len,
				    SGX_REPORT_SIZE);
	memcpy(&r, report, sizeof(r));
	if (!sgx_report_is_simulated(&r))
		return cc_error_set(err, 0,
				    "local attestation: not a simulated REPORT (KEYID is not the "
				    "skeleton's marker): a hardware report key exists only in its "
				    "CPU, this REPORT cannot be checked here");
	if (!insecure_allow_simulated)
		return cc_error_set(err, 0,
				    "local attestation: simulated REPORT is not accepted; allow it "
				    "explicitly for tests and development");
	if (skel_sim_report_mac(&r.body, self->mr_enclave, mac) < 0)
		return cc_error_set(
		    err, 0, "local attestation: the simulated report key cannot be derived");
	bool ok = CRYPTO_memcmp(mac, r.mac, sizeof(mac)) == 0;
	explicit_bzero(mac, sizeof(mac));
	if (!ok)
		return cc_error_set(err, 0,
				    "local attestation: REPORT MAC does not verify with this "
				    "enclave's simulated report key (made for another target, or "
				    "altered)");
	memset(peer, 0, sizeof(*peer));
	attest_sgx_report_decode((const uint8_t *)report, &peer->enclave);
	peer->simulated = true;
	peer->debug = (peer->enclave.flags & ATTEST_SGX_FLAG_DEBUG) != 0;
	return 0;
}

void attest_target_info_from_report(const void *report, struct sgx_target_info *ti)
{
	struct sgx_report_body b;
	memcpy(&b, report, sizeof(b));
	memset(ti, 0, sizeof(*ti));
	memcpy(ti->mr_enclave, b.mr_enclave, sizeof(ti->mr_enclave));
	ti->attributes = b.attributes;
	ti->config_svn = b.config_svn;
	ti->misc_select = b.misc_select;
	memcpy(ti->config_id, b.config_id, sizeof(ti->config_id));
}
