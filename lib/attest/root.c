// SPDX-License-Identifier: Apache-2.0
/* The trust anchor of quote verification: the Intel SGX Root CA, compiled in (the generated
 * attest/intel-root.h, from tests/unit/data/attest/intel-sgx-root-ca.der, whose SHA-256 the
 * build checks), unless the caller gives another (tests with their own CA). Never the root a
 * quote carries. */
#include <openssl/err.h>
#include <openssl/x509.h>
#include "attest/internal.h"
#include "attest/intel-root.h"

X509 *attest_root_load(const void *der, size_t len, struct cc_error **err)
{
	if (!der) {
		der = attest_intel_root_der;
		len = sizeof(attest_intel_root_der);
	}
	const unsigned char *p = der;
	X509 *x = len <= INT32_MAX ? d2i_X509(NULL, &p, (long)len) : NULL;
	ERR_clear_error();
	if (!x || p != (const unsigned char *)der + len) {
		X509_free(x);
		cc_error_set(err, 0, "trust anchor: not a DER X.509 certificate");
		return NULL;
	}
	return x;
}
