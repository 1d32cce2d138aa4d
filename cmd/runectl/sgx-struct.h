/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SGX structures as runectl shows them: a REPORT (432 bytes) or a TARGETINFO (512 bytes), laid
 * out as include/enclave/sgx_report.h defines them, told apart by their size.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <jansson.h>
#include "util/error.h"

/*
 * The fields of a REPORT or a TARGETINFO as JSON (the caller owns it): byte arrays in lower-case
 * hex, 16- and 32-bit numbers as numbers, ATTRIBUTES as {"flags": "0x%016x", "xfrm": "0x%016x",
 * "flag_names": [...], "debug": bool}; "structure" says which, and a REPORT has "type" ("sgx",
 * or "simulated (not hardware evidence)" for the skeleton PAL's marker KEYID) and "simulated".
 * Another size: NULL with "NAME: N bytes: neither a REPORT (432 bytes) nor a TARGETINFO (512
 * bytes)".
 */
CC_MUST_CHECK json_t *rc_sgx_struct_json(const char *name, const uint8_t *buf, size_t len,
					 struct cc_error **err);
/* ATTRIBUTES (FLAGS u64, XFRM u64, little-endian) as above; the caller owns it. */
json_t *rc_sgx_attributes_json(const uint8_t p[16]);
/* The same as aligned "field  value" lines, after a first line naming the structure. */
void rc_sgx_struct_print(FILE *out, const json_t *j);
