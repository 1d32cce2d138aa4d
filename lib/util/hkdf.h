/* SPDX-License-Identifier: Apache-2.0 */
/* HKDF-SHA-256 (RFC 5869), through OpenSSL's KDF. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* out_len bytes of HKDF-SHA-256(ikm, salt, info) into out; false only if OpenSSL fails. */
bool cc_hkdf_sha256(const void *ikm, size_t ikm_len, const void *salt, size_t salt_len,
		    const void *info, size_t info_len, void *out, size_t out_len);
