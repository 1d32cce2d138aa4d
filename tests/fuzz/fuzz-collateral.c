// SPDX-License-Identifier: Apache-2.0
/* Fuzz the collateral parsers. The first byte chooses what the rest is: 0, a whole collateral
 * JSON as dcap-qvl stores it; 1, a TCB Info; 2, a QE Identity (each with a valid partner, so
 * that both schema readers are reached; the other pieces are absent, so a parse that succeeds
 * stops at the first of them). A failure says why on one line. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "attest/collateral.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char tcb_info[] =
    "{\"id\":\"SGX\",\"version\":3,\"issueDate\":\"2025-06-19T10:56:11Z\",\"nextUpdate\":"
    "\"2025-07-19T10:56:11Z\",\"fmspc\":\"00A067110000\",\"pceId\":\"0000\",\"tcbType\":0,"
    "\"tcbEvaluationDataNumber\":17,\"tcbLevels\":[{\"tcb\":{\"sgxtcbcomponents\":[{\"svn\":11},"
    "{\"svn\":11},{\"svn\":2},{\"svn\":2},{\"svn\":255},{\"svn\":1},{\"svn\":0},{\"svn\":0},"
    "{\"svn\":0},{\"svn\":0},{\"svn\":0},{\"svn\":0},{\"svn\":0},{\"svn\":0},{\"svn\":0},"
    "{\"svn\":0}],\"pcesvn\":13},\"tcbDate\":\"2024-03-13T00:00:00Z\",\"tcbStatus\":"
    "\"ConfigurationAndSWHardeningNeeded\",\"advisoryIDs\":[\"INTEL-SA-00289\"]}]}";

static const char qe_identity[] =
    "{\"id\":\"QE\",\"version\":2,\"issueDate\":\"2025-06-19T10:01:18Z\",\"nextUpdate\":"
    "\"2025-07-19T10:01:18Z\",\"tcbEvaluationDataNumber\":17,\"miscselect\":\"00000000\","
    "\"miscselectMask\":\"FFFFFFFF\",\"attributes\":\"11000000000000000000000000000000\","
    "\"attributesMask\":\"FBFFFFFFFFFFFFFF0000000000000000\",\"mrsigner\":"
    "\"8C4F5775D796503E96137F77C68A829A0056AC8DED70140B081B094490C57BFF\",\"isvprodid\":1,"
    "\"tcbLevels\":[{\"tcb\":{\"isvsvn\":8},\"tcbDate\":\"2024-03-13T00:00:00Z\","
    "\"tcbStatus\":\"UpToDate\"}]}";

static void one_line(struct cc_error **err)
{
	if (!*err || !(*err)->msg || strchr((*err)->msg, '\n'))
		abort();
	cc_error_free(err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cc_error *err = NULL;
	struct attest_collateral *c = NULL;
	if (!size)
		return 0;
	const char *rest = (const char *)data + 1;
	size_t len = size - 1;
	if (data[0] == 0) {
		c = attest_collateral_parse_json(rest, len, &err);
	} else {
		struct attest_collateral_parts p = { 0 };
		p.tcb_info = data[0] == 1 ? rest : tcb_info;
		p.tcb_info_len = data[0] == 1 ? len : strlen(tcb_info);
		p.qe_identity = data[0] == 1 ? qe_identity : rest;
		p.qe_identity_len = data[0] == 1 ? strlen(qe_identity) : len;
		c = attest_collateral_new(&p, &err);
	}
	if (c) {
		/* Without signatures, chains and CRLs, pieces alone never pass whole. */
		if (data[0] != 0)
			abort();
		attest_collateral_free(c);
		return 0;
	}
	one_line(&err);
	return 0;
}
