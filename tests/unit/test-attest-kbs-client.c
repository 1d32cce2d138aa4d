// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for lib/attest's KBS client (kbs-client.h): the URLs it takes and refuses, the
 * resource paths it refuses before sending anything, and its answers to a KBS that misbehaves,
 * played by a forked server on 127.0.0.1 that answers every request with one canned HTTP
 * response: refusals with a problem detail (shown escaped and bounded), no session cookie, an
 * answer that is not JSON, one that is too large, one that never comes. The protocol against a
 * KBS that behaves is tested end to end in tests/integration/test_kbs.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include "attest-helpers.h"
#include "attest/kbs-client.h"
#include "util/cleanup.h"

static int evidence_calls;

static int fake_evidence(void *ctx, const uint8_t report_data[64], uint8_t **evidence, size_t *len,
			 struct cc_error **err)
{
	(void)ctx;
	(void)err;
	evidence_calls++;
	*evidence = malloc(64);
	memcpy(*evidence, report_data, 64);
	*len = 64;
	return 0;
}

static struct attest_kbs *client(const char *url, unsigned timeout_s, struct cc_error **err)
{
	struct attest_kbs_opts o = {
		.url = url, .tee = ATTEST_KBS_SIM, .evidence = fake_evidence, .timeout_s = timeout_s
	};
	return attest_kbs_new(&o, err);
}

static void test_urls(void **state)
{
	(void)state;
	static const char *const good[] = {
		"http://127.0.0.1:8080",    "http://localhost",	     "http://[::1]:80/",
		"https://kbs.example:8443", "https://kbs.example/a", "http://127.1.2.3:1/x/",
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++) {
		struct cc_error *err = NULL;
		struct attest_kbs *k = client(good[i], 0, &err);
		if (!k)
			fail_msg("%s: %s", good[i], err->msg);
		attest_kbs_free(k);
	}
	struct {
		const char *url, *msg;
	} bad[] = {
		{ "ftp://127.0.0.1", "KBS URL \"ftp://127.0.0.1\": not http:// or https://" },
		{ "http://10.0.0.1:8080", "KBS URL \"http://10.0.0.1:8080\": plain HTTP only to a "
					  "loopback address (nothing "
					  "authenticates the KBS without TLS); use https://" },
		{ "http://user:pw@127.0.0.1",
		  "KBS URL \"http://user:pw@127.0.0.1\": credentials, a query or a fragment are "
		  "not allowed" },
		{ "http://127.0.0.1:99999", "KBS URL \"http://127.0.0.1:99999\": bad port" },
		{ "http://127.0.0.1:", "KBS URL \"http://127.0.0.1:\": bad port" },
		{ "https://", "KBS URL \"https://\": no host" },
		{ "http://[::1", "KBS URL \"http://[::1\": bad IPv6 address" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		struct cc_error *err = NULL;
		assert_null(client(bad[i].url, 0, &err));
		expect_err(&err, bad[i].msg);
	}
	/* The insecure exception is named and opens plain HTTP to other hosts. */
	struct cc_error *err = NULL;
	struct attest_kbs_opts o = { .url = "http://10.0.0.1:8080",
				     .tee = ATTEST_KBS_SIM,
				     .evidence = fake_evidence,
				     .insecure_plain_http = true };
	struct attest_kbs *k = attest_kbs_new(&o, &err);
	assert_non_null(k);
	assert_string_equal(attest_kbs_name(k), "KBS http://10.0.0.1:8080");
	attest_kbs_free(k);
}

static void test_paths(void **state)
{
	(void)state;
	struct cc_error *err = NULL;
	struct attest_kbs *k = client("http://127.0.0.1:9", 1, &err);
	assert_non_null(k);
	static const char *const bad[] = { "a/b",  "a/b/c/d", "../b/c",	  "a/./c",  "a/b/",
					   "a//c", "a/b/c?x", "a/b/c%2f", "a b/c/d" };
	evidence_calls = 0;
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		struct crypt_buf out = { 0 };
		assert_int_equal(attest_kbs_get_resource(k, bad[i], &out, &err), -1);
		assert_non_null(strstr(err->msg, "not <repository>/<type>/<tag>"));
		cc_error_free(&err);
	}
	/* Refused before anything was asked of the enclave or sent. */
	assert_int_equal(evidence_calls, 0);
	struct attest_kbs_stats s;
	attest_kbs_get_stats(k, &s);
	assert_int_equal(s.auths, 0);
	attest_kbs_free(k);
}

/* ---- a KBS that answers every request with one canned response ---- */

struct server {
	pid_t pid;
	int port;
};

static void serve(int lfd, const char *response, size_t len, bool silent)
{
	for (;;) {
		int c = accept(lfd, NULL, NULL);
		if (c < 0)
			_exit(0);
		char buf[8192];
		/* One read is the whole request here: small JSON bodies on loopback. */
		if (read(c, buf, sizeof(buf)) <= 0) {
			close(c);
			continue;
		}
		if (silent) {
			pause();
			_exit(0);
		}
		size_t off = 0;
		while (off < len) {
			ssize_t n = write(c, response + off, len - off);
			if (n <= 0)
				break;
			off += (size_t)n;
		}
		close(c);
	}
}

static struct server start(const char *response, size_t len, bool silent)
{
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 8), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &sl), 0);
	struct server s = { .port = ntohs(sa.sin_port) };
	s.pid = fork();
	assert_true(s.pid >= 0);
	if (s.pid == 0)
		serve(lfd, response, len, silent);
	close(lfd);
	return s;
}

static void stop(struct server *s)
{
	kill(s->pid, SIGKILL);
	waitpid(s->pid, NULL, 0);
}

/* get_resource against a server answering response fails with want (%d: the port). */
static void misbehaves(const char *response, size_t len, bool silent, const char *want,
		       int want_code)
{
	struct server s = start(response, len, silent);
	char url[64], msg[1024];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", s.port);
	snprintf(msg, sizeof(msg), want, s.port);
	struct cc_error *err = NULL;
	struct attest_kbs *k = client(url, 1, &err);
	assert_non_null(k);
	struct crypt_buf out = { 0 };
	assert_int_equal(attest_kbs_get_resource(k, "default/key/1", &out, &err), -1);
	assert_null(out.p);
	assert_int_equal(err->code, want_code);
	expect_err(&err, msg);
	attest_kbs_free(k);
	stop(&s);
}

/* An HTTP/1.1 response with its Content-Length. */
static char *canned(const char *status, const char *headers, const char *body)
{
	return xasprintf("HTTP/1.1 %s\r\nContent-Length: %zu\r\nConnection: close\r\n%s\r\n%s",
			 status, strlen(body), headers, body);
}

static void canned_misbehaves(const char *status, const char *headers, const char *body,
			      const char *want, int want_code)
{
	_cleanup_free_ char *r = canned(status, headers, body);
	misbehaves(r, strlen(r), false, want, want_code);
}

static void test_misbehaving_kbs(void **state)
{
	(void)state;
	evidence_calls = 0;
	canned_misbehaves(
	    "401 Unauthorized", "",
	    "{\"type\":\"https://github.com/confidential-containers/kbs/errors/AttestationError\","
	    "\"detail\":\"no\\u0007 way\"}",
	    "KBS http://127.0.0.1:%d: /auth refused (HTTP 401): AttestationError: no\\x07 way",
	    ATTEST_KBS_ERR_REFUSED);
	canned_misbehaves("200 OK", "", "{\"nonce\":\"abcd\",\"extra-params\":\"\"}",
			  "KBS http://127.0.0.1:%d: /auth: no kbs-session-id cookie in the answer",
			  ATTEST_KBS_ERR_PROTOCOL);
	canned_misbehaves("200 OK", "Set-Cookie: kbs-session-id=1\r\n", "\x01\x02garbage",
			  "KBS http://127.0.0.1:%d: /auth: the answer is not a JSON object",
			  ATTEST_KBS_ERR_PROTOCOL);
	canned_misbehaves("200 OK", "Set-Cookie: kbs-session-id=1; Path=/kbs/v0\r\n", "{}",
			  "KBS http://127.0.0.1:%d: /auth: the challenge has no nonce (a string of "
			  "1 to 1024 bytes)",
			  ATTEST_KBS_ERR_PROTOCOL);
	canned_misbehaves("503 Busy", "", "", "KBS http://127.0.0.1:%d: /auth failed (HTTP 503)",
			  ATTEST_KBS_ERR_UNAVAILABLE);
	canned_misbehaves("404 Not Found", "", "not json",
			  "KBS http://127.0.0.1:%d: /auth failed (HTTP 404)",
			  ATTEST_KBS_ERR_NOT_FOUND);

	/* 2 MiB of body: cut at 1 MiB. */
	size_t big = 2u << 20;
	_cleanup_free_ char *body = malloc(big + 1);
	memset(body, ' ', big);
	body[big] = '\0';
	canned_misbehaves("200 OK", "", body,
			  "KBS http://127.0.0.1:%d: /auth: the answer is larger than 1048576 bytes",
			  ATTEST_KBS_ERR_PROTOCOL);

	misbehaves("", 0, true, "KBS http://127.0.0.1:%d: /auth: no answer within 1 s",
		   ATTEST_KBS_ERR_UNAVAILABLE);
	/* Nothing of the session was asked of the enclave: every failure came before /attest. */
	assert_int_equal(evidence_calls, 0);
}

static void test_unreachable(void **state)
{
	(void)state;
	/* A port nobody listens on: bind one, close it, use it. */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	close(fd);
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", ntohs(sa.sin_port));
	struct cc_error *err = NULL;
	struct attest_kbs *k = client(url, 2, &err);
	assert_non_null(k);
	assert_int_equal(attest_kbs_attest(k, &err), -1);
	assert_int_equal(err->code, ATTEST_KBS_ERR_UNAVAILABLE);
	assert_non_null(strstr(err->msg, ": /auth: Couldn't connect to server"));
	cc_error_free(&err);
	attest_kbs_free(k);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_urls),
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_misbehaving_kbs),
		cmocka_unit_test(test_unreachable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
