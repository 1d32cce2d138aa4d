// SPDX-License-Identifier: Apache-2.0
/* Fuzz the agent.sock protocol: the framed stream reader and the request decoders. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "enclave/msg.h"
#include "util/strv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void decode(json_t *msg)
{
	struct cc_error *err = NULL;
	char **argv = NULL, **env = NULL;
	uint8_t buf[512];
	if (enc_msg_exec_decode(msg, &argv, &env, &err) == 0) {
		cc_strv_free(argv);
		cc_strv_free(env);
	}
	cc_error_free(&err);
	/* the error contract: a failure always says why */
	if (enc_msg_hex_field(msg, "target_info", buf, sizeof(buf), true, &err) < 0 && !err)
		abort();
	cc_error_free(&err);
	if (enc_msg_hex_field(msg, "report_data", buf, 64, false, &err) < 0 && !err)
		abort();
	cc_error_free(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cc_error *err = NULL;
	int sv[2];
	if (size > 60000 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return 0;
	/* The whole input is one stream from a peer: read messages until it ends or breaks. */
	if (write(sv[0], data, size) != (ssize_t)size) {
		close(sv[0]);
		close(sv[1]);
		return 0;
	}
	close(sv[0]);
	for (;;) {
		json_t *msg = NULL;
		int fds[ENC_MSG_MAX_FDS];
		size_t nfds = 0;
		int ret = enc_msg_recv(sv[1], &msg, fds, &nfds, &err);
		cc_error_free(&err);
		if (ret <= 0)
			break;
		decode(msg);
		json_decref(msg);
	}
	close(sv[1]);
	/* And the body alone, as the decoders see it. */
	json_t *msg = enc_msg_parse((const char *)data, size, &err);
	cc_error_free(&err);
	if (msg) {
		decode(msg);
		json_decref(msg);
	}
	return 0;
}
