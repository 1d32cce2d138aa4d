// SPDX-License-Identifier: Apache-2.0
/* The client of attest.sock, for processes inside an enclave container. See in-enclave.h. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>
#include "enclave/in-enclave.h"
#include "enclave/msg.h"
#include "util/cleanup.h"
#include "util/hex.h"
#include "util/json.h"

#define PREFIX "enclave attestation service %s"

static const char *path_or_default(const char *socket)
{
	return socket ? socket : ENC_ATTEST_SOCKET;
}

static int connect_service(const char *path, struct cc_error **err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const struct timeval tv = { .tv_sec = ENC_SELF_TIMEOUT_MS / 1000,
				    .tv_usec = (ENC_SELF_TIMEOUT_MS % 1000) * 1000 };
	if (strlen(path) >= sizeof(sa.sun_path))
		return cc_error_set(err, ENAMETOOLONG, PREFIX, path);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return cc_error_errno(err, PREFIX ": socket", path);
	/* A unix connect waits while the listen backlog is full; SO_SNDTIMEO bounds that wait
	 * and every send. */
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		close(fd);
		if (e == EAGAIN)
			return cc_error_set(err, ETIMEDOUT, PREFIX ": no connection within %d ms",
					    path, ENC_SELF_TIMEOUT_MS);
		cc_error_set(err, 0, PREFIX ": %s%s", path, strerror(e),
			     e == ENOENT ? " (not running in an enclave container?)" : "");
		(*err)->errnum = e;
		return -1;
	}
	return fd;
}

/* One request, one answer of op `want`; the service's error answer is the error. */
static json_t *exchange(const char *path, json_t *req, const char *want, struct cc_error **err)
{
	static const struct enc_msg_limits lim = {
		.wait_ns = ENC_SELF_TIMEOUT_MS * 1000000LL,
		.timeout_ns = ENC_SELF_TIMEOUT_MS * 1000000LL,
	};
	_cleanup_close_ int fd = connect_service(path, err);
	if (fd < 0)
		return NULL;
	if (enc_msg_send(fd, req, NULL, 0, err) < 0) {
		cc_error_prefix(err, PREFIX, path);
		return NULL;
	}
	json_t *answer = enc_msg_expect(fd, &lim, want, err);
	if (!answer)
		cc_error_prefix(err, PREFIX, path);
	return answer;
}

static json_t *request(const char *op, const uint8_t *report_data)
{
	json_t *req = json_pack("{s:s}", "op", op);
	if (report_data)
		enc_msg_set_hex(req, "report_data", report_data, 64);
	return req;
}

/* A fixed-size hex field of an answer. */
static int answer_field(const char *path, json_t *msg, const char *key, void *out, size_t len,
			struct cc_error **err)
{
	if (enc_msg_hex_field(msg, key, out, len, false, err) < 0)
		return cc_error_prefix(err, PREFIX, path);
	return 0;
}

int enc_self_evidence(const char *socket, const uint8_t report_data[64], uint8_t **evidence,
		      size_t *len, struct cc_error **err)
{
	const char *path = path_or_default(socket);
	_cleanup_json_ json_t *req = request(ENC_SELF_OP_EVIDENCE, report_data);
	_cleanup_json_ json_t *msg = exchange(path, req, ENC_SELF_OP_EVIDENCE, err);
	if (!msg)
		return -1;
	json_t *v = json_object_get(msg, "evidence");
	const char *hex = json_string_value(v);
	size_t n = hex ? json_string_length(v) : 0;
	if (!hex || n == 0 || n % 2 || n / 2 > ENC_SELF_EVIDENCE_MAX ||
	    !json_is_string(json_object_get(msg, "kind")))
		return cc_error_set(err, 0,
				    PREFIX ": an evidence answer needs \"kind\" and \"evidence\" "
					   "(at most %u bytes in hex)",
				    path, ENC_SELF_EVIDENCE_MAX);
	_cleanup_free_ uint8_t *buf = xmalloc(n / 2);
	if (!cc_hex_decode(hex, buf, n / 2))
		return cc_error_set(err, 0, PREFIX ": \"evidence\": not hex", path);
	*len = n / 2;
	*evidence = steal_pointer(&buf);
	return 0;
}

int enc_self_report(const char *socket, const uint8_t *target_info, const uint8_t report_data[64],
		    uint8_t report[432], struct cc_error **err)
{
	const char *path = path_or_default(socket);
	_cleanup_json_ json_t *req = request(ENC_SELF_OP_REPORT, report_data);
	if (target_info)
		enc_msg_set_hex(req, "target_info", target_info, 512);
	_cleanup_json_ json_t *msg = exchange(path, req, ENC_SELF_OP_REPORT, err);
	if (!msg)
		return -1;
	return answer_field(path, msg, "report", report, 432, err);
}

int enc_self_target_info(const char *socket, uint8_t ti[512], struct cc_error **err)
{
	const char *path = path_or_default(socket);
	_cleanup_json_ json_t *req = request(ENC_SELF_OP_TARGET_INFO, NULL);
	_cleanup_json_ json_t *msg = exchange(path, req, ENC_SELF_OP_TARGET_INFO, err);
	if (!msg)
		return -1;
	return answer_field(path, msg, "target_info", ti, 512, err);
}

int enc_self_seal_key(const char *socket, const uint8_t key_request[512], uint8_t key[16],
		      struct cc_error **err)
{
	const char *path = path_or_default(socket);
	_cleanup_json_ json_t *req = request(ENC_SELF_OP_SEAL_KEY, NULL);
	enc_msg_set_hex(req, "key_request", key_request, 512);
	_cleanup_json_ json_t *msg = exchange(path, req, ENC_SELF_OP_SEAL_KEY, err);
	if (!msg)
		return -1;
	int r = answer_field(path, msg, "key", key, 16, err);
	/* The answer held the key in hex: wipe it before it is freed. */
	json_t *hex = json_object_get(msg, "key");
	if (json_is_string(hex))
		explicit_bzero((char *)json_string_value(hex), json_string_length(hex));
	return r;
}

int enc_report_data_from_hex(const char *hex, uint8_t out[64])
{
	size_t n = strlen(hex);
	memset(out, 0, 64);
	if (n % 2 || n > 128 || !cc_hex_decode(hex, out, n / 2))
		return -1;
	return 0;
}
