// SPDX-License-Identifier: Apache-2.0
/* Unit tests for the in-enclave attestation client (lib/enclave/in-enclave.c) against a fake
 * attest.sock served from a thread: what it sends, what it accepts, and its one-line errors. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>
#include "enclave/in-enclave.h"
#include "enclave/msg.h"
#include "util/cleanup.h"
#include "util/hex.h"
#include "util/json.h"

/* The fake service: one connection, one request kept, one scripted answer (or none). */
struct fake {
	char dir[64], path[128];
	int listen_fd;
	pthread_t thread;
	json_t *answer; /* sent as is; NULL: hang up without answering */
	json_t *request;
};

static void *serve_one(void *arg)
{
	struct fake *f = arg;
	struct cc_error *err = NULL;
	int fds[ENC_MSG_MAX_FDS];
	size_t nfds = 0;
	int conn = accept4(f->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (conn < 0)
		return NULL;
	if (enc_msg_recv(conn, &f->request, fds, &nfds, &err) <= 0)
		cc_error_free(&err);
	if (f->answer && enc_msg_send(conn, f->answer, NULL, 0, &err) < 0)
		cc_error_free(&err);
	close(conn);
	return NULL;
}

static struct fake *fake_start(json_t *answer)
{
	struct fake *f = xzalloc(sizeof(*f));
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(f->dir, sizeof(f->dir), "/tmp/test-enclave-client.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/attest.sock", f->dir);
	assert_true(strlen(f->path) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, f->path, strlen(f->path) + 1);
	f->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(f->listen_fd >= 0);
	assert_int_equal(bind(f->listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(f->listen_fd, 4), 0);
	f->answer = answer;
	assert_int_equal(pthread_create(&f->thread, NULL, serve_one, f), 0);
	return f;
}

/* Joins the server and returns the request it received (the caller decrefs). */
static json_t *fake_stop(struct fake *f)
{
	pthread_join(f->thread, NULL);
	close(f->listen_fd);
	unlink(f->path);
	rmdir(f->dir);
	json_decref(f->answer);
	json_t *req = f->request;
	free(f);
	return req;
}

static json_t *hex_answer(const char *op, const char *key, const void *data, size_t len)
{
	json_t *msg = json_pack("{s:s}", "op", op);
	enc_msg_set_hex(msg, key, data, len);
	return msg;
}

static void assert_hex_member(json_t *req, const char *key, const void *want, size_t len)
{
	_cleanup_free_ char *hex = cc_hex(want, len);
	assert_string_equal(json_string_value(json_object_get(req, key)), hex);
}

static void test_evidence_request_and_answer(void **state)
{
	struct cc_error *err = NULL;
	uint8_t data[64], ev[500];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 3);
	for (size_t i = 0; i < sizeof(ev); i++)
		ev[i] = (uint8_t)(255 - i);
	json_t *answer = hex_answer("evidence", "evidence", ev, sizeof(ev));
	json_object_set_new(answer, "kind", json_string("simulated"));
	struct fake *f = fake_start(answer);
	_cleanup_free_ uint8_t *got = NULL;
	size_t len = 0;
	int ret = enc_self_evidence(f->path, data, &got, &len, &err);
	_cleanup_json_ json_t *req = fake_stop(f);
	assert_int_equal(ret, 0);
	assert_int_equal(len, sizeof(ev));
	assert_memory_equal(got, ev, sizeof(ev));
	assert_string_equal(json_string_value(json_object_get(req, "op")), "evidence");
	assert_hex_member(req, "report_data", data, sizeof(data));
	assert_int_equal(json_object_size(req), 2);
}

static void test_report_with_and_without_target_info(void **state)
{
	struct cc_error *err = NULL;
	uint8_t data[64] = { 1 }, ti[512], report[432], want[432];
	memset(ti, 0x5a, sizeof(ti));
	memset(want, 0xc3, sizeof(want));
	struct fake *f = fake_start(hex_answer("report", "report", want, sizeof(want)));
	int ret = enc_self_report(f->path, ti, data, report, &err);
	json_t *req = fake_stop(f);
	assert_int_equal(ret, 0);
	assert_memory_equal(report, want, sizeof(want));
	assert_string_equal(json_string_value(json_object_get(req, "op")), "report");
	assert_hex_member(req, "target_info", ti, sizeof(ti));
	assert_hex_member(req, "report_data", data, sizeof(data));
	json_decref(req);

	f = fake_start(hex_answer("report", "report", want, sizeof(want)));
	ret = enc_self_report(f->path, NULL, data, report, &err);
	req = fake_stop(f);
	assert_int_equal(ret, 0);
	assert_null(json_object_get(req, "target_info"));
	json_decref(req);
}

static void test_target_info(void **state)
{
	struct cc_error *err = NULL;
	uint8_t ti[512], want[512];
	for (size_t i = 0; i < sizeof(want); i++)
		want[i] = (uint8_t)i;
	struct fake *f = fake_start(hex_answer("target_info", "target_info", want, sizeof(want)));
	int ret = enc_self_target_info(f->path, ti, &err);
	_cleanup_json_ json_t *req = fake_stop(f);
	assert_int_equal(ret, 0);
	assert_memory_equal(ti, want, sizeof(want));
	assert_string_equal(json_string_value(json_object_get(req, "op")), "target_info");
	assert_int_equal(json_object_size(req), 1);
}

/* The client's error for answer, to a request for a REPORT. */
static char *report_error(json_t *answer, char *path_out, size_t path_len)
{
	struct cc_error *err = NULL;
	uint8_t data[64] = { 0 }, report[432];
	struct fake *f = fake_start(answer);
	snprintf(path_out, path_len, "%s", f->path);
	int ret = enc_self_report(f->path, NULL, data, report, &err);
	json_decref(fake_stop(f));
	assert_int_equal(ret, -1);
	char *msg = xstrdup(err->msg);
	cc_error_free(&err);
	return msg;
}

static void test_answers_that_are_errors(void **state)
{
	char path[128];
	/* The service's error, as one line. */
	_cleanup_free_ char *a = report_error(
	    json_pack("{s:s,s:s}", "op", "error", "message", "no\nway\there"), path, sizeof(path));
	_cleanup_free_ char *want_a =
	    xasprintf("enclave attestation service %s: no way here", path);
	assert_string_equal(a, want_a);
	/* Another op than asked for. */
	_cleanup_free_ char *b =
	    report_error(json_pack("{s:s}", "op", "evidence"), path, sizeof(path));
	_cleanup_free_ char *want_b = xasprintf(
	    "enclave attestation service %s: answered \"evidence\", not \"report\"", path);
	assert_string_equal(b, want_b);
	/* A REPORT of the wrong size. */
	uint8_t short_report[431] = { 0 };
	_cleanup_free_ char *c = report_error(
	    hex_answer("report", "report", short_report, sizeof(short_report)), path, sizeof(path));
	_cleanup_free_ char *want_c = xasprintf(
	    "enclave attestation service %s: agent message: \"report\": 864 hex digits expected",
	    path);
	assert_string_equal(c, want_c);
	/* No answer at all. */
	_cleanup_free_ char *d = report_error(NULL, path, sizeof(path));
	_cleanup_free_ char *want_d = xasprintf(
	    "enclave attestation service %s: the connection closed without an answer", path);
	assert_string_equal(d, want_d);
}

static void test_evidence_answers_are_bounded(void **state)
{
	struct cc_error *err = NULL;
	uint8_t data[64] = { 0 };
	size_t big = ENC_SELF_EVIDENCE_MAX + 1;
	_cleanup_free_ uint8_t *blob = xzalloc(big);
	json_t *answer = hex_answer("evidence", "evidence", blob, big);
	json_object_set_new(answer, "kind", json_string("simulated"));
	struct fake *f = fake_start(answer);
	uint8_t *ev = NULL;
	size_t len = 0;
	int ret = enc_self_evidence(f->path, data, &ev, &len, &err);
	json_decref(fake_stop(f));
	assert_int_equal(ret, -1);
	assert_null(ev);
	assert_non_null(strstr(err->msg, "at most 65536 bytes in hex"));
	cc_error_free(&err);
	/* An answer without its kind is refused too. */
	f = fake_start(hex_answer("evidence", "evidence", blob, 16));
	ret = enc_self_evidence(f->path, data, &ev, &len, &err);
	json_decref(fake_stop(f));
	assert_int_equal(ret, -1);
	assert_null(ev);
	cc_error_free(&err);
}

static void test_no_service(void **state)
{
	struct cc_error *err = NULL;
	uint8_t data[64] = { 0 }, ti[512];
	uint8_t *ev = NULL;
	size_t len = 0;
	assert_int_equal(enc_self_evidence("/nonexistent/attest.sock", data, &ev, &len, &err), -1);
	assert_string_equal(err->msg, "enclave attestation service /nonexistent/attest.sock: No "
				      "such file or directory (not running in an enclave "
				      "container?)");
	assert_int_equal(err->errnum, ENOENT);
	cc_error_free(&err);
	/* The default is ENC_ATTEST_SOCKET, which a unit test runs without. */
	if (access(ENC_ATTEST_SOCKET, F_OK) != 0) {
		assert_int_equal(enc_self_target_info(NULL, ti, &err), -1);
		assert_non_null(strstr(err->msg, ENC_ATTEST_SOCKET ": No such file"));
		cc_error_free(&err);
	}
	char long_path[200];
	memset(long_path, 'a', sizeof(long_path) - 1);
	long_path[0] = '/';
	long_path[sizeof(long_path) - 1] = '\0';
	assert_int_equal(enc_self_target_info(long_path, ti, &err), -1);
	assert_int_equal(err->errnum, ENAMETOOLONG);
	cc_error_free(&err);
}

static void test_report_data_from_hex(void **state)
{
	uint8_t out[64], want[64] = { 0xc0, 0xff, 0xee };
	assert_int_equal(enc_report_data_from_hex("c0FFee", out), 0);
	assert_memory_equal(out, want, sizeof(want));
	assert_int_equal(enc_report_data_from_hex("", out), 0);
	assert_memory_equal(out, (uint8_t[64]){ 0 }, 64);
	char full[129];
	memset(full, 'f', 128);
	full[128] = '\0';
	assert_int_equal(enc_report_data_from_hex(full, out), 0);
	assert_int_equal(out[63], 0xff);
	char over[131];
	memset(over, 'f', 130);
	over[130] = '\0';
	assert_int_equal(enc_report_data_from_hex(over, out), -1);
	assert_int_equal(enc_report_data_from_hex("abc", out), -1);
	assert_int_equal(enc_report_data_from_hex("zz", out), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_evidence_request_and_answer),
		cmocka_unit_test(test_report_with_and_without_target_info),
		cmocka_unit_test(test_target_info),
		cmocka_unit_test(test_answers_that_are_errors),
		cmocka_unit_test(test_evidence_answers_are_bounded),
		cmocka_unit_test(test_no_service),
		cmocka_unit_test(test_report_data_from_hex),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
