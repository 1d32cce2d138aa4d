// SPDX-License-Identifier: Apache-2.0
/*
 * tt-image: the C side of the ttrpc interop tests (tests/integration/test_ttrpc_interop.py).
 *
 *   tt-image serve ADDR [--suffix S] [--delay-ms N]
 *       serve grpc.Image/PullImage; prints "listening <addr>", then one JSON line per call
 *       (what the handler saw: request fields, timeout, metadata, cancellation); SIGINT or
 *       SIGTERM stops it gracefully. image_ref = image + suffix; an image starting with
 *       "fail/" gets INTERNAL, a container_id that is empty or has ':' INVALID_ARGUMENT (as
 *       enclave-agent does).
 *   tt-image call ADDR --image I [--cid C] [--creds U:P] [--timeout-ms N] [--md K=V]...
 *                      [--service S] [--method M]
 *       one call; prints {"image_ref": ...} and exits 0, or {"code", "code_name", "message"}
 *       and exits 1; exits 2 on usage or connection errors.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util/cleanup.h"
#include "util/error.h"
#include "ttrpc/ttrpc.h"
#include "image.pb-c.h"

struct serve_opts {
	const char *suffix;
	long delay_ms;
};

static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

static void print_json(json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);

	pthread_mutex_lock(&out_lock);
	printf("%s\n", s);
	fflush(stdout);
	pthread_mutex_unlock(&out_lock);
	free(s);
	json_decref(j);
}

static json_t *metadata_json(const struct tt_call *call)
{
	size_t n;
	const struct tt_kv *md = tt_call_metadata(call, &n);
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_pack("[ss]", md[i].key, md[i].value));
	return a;
}

static int check_request(const Grpc__PullImageRequest *req, struct cc_error **err)
{
	if (!req->container_id[0] || strchr(req->container_id, ':'))
		return tt_error_status(err, TT_INVALID_ARGUMENT, "invalid container_id \"%s\"",
				       req->container_id);
	if (!strncmp(req->image, "fail/", 5))
		return tt_error_status(err, TT_INTERNAL, "pull %s: simulated failure", req->image);
	return 0;
}

static int pull_image(struct tt_call *call, const uint8_t *buf, size_t len, uint8_t **resp,
		      size_t *resp_len, void *data, struct cc_error **err)
{
	const struct serve_opts *o = data;
	Grpc__PullImageRequest *req = grpc__pull_image_request__unpack(NULL, len, buf);
	Grpc__PullImageResponse out = GRPC__PULL_IMAGE_RESPONSE__INIT;
	int64_t remaining = tt_call_remaining_ns(call);
	bool cancelled = false;
	int r;

	if (!req)
		return tt_error_status(err, TT_INVALID_ARGUMENT, "bad PullImageRequest");
	if (o->delay_ms > 0)
		cancelled = tt_call_wait(call, o->delay_ms * 1000000);
	print_json(json_pack("{ss ss ss ss ss sI sb so sb}", "service", tt_call_service(call),
			     "method", tt_call_method(call), "image", req->image, "container_id",
			     req->container_id, "source_creds", req->source_creds, "timeout_nano",
			     (json_int_t)tt_call_timeout_ns(call), "has_deadline",
			     remaining != INT64_MAX, "metadata", metadata_json(call), "cancelled",
			     cancelled));
	r = cancelled ? tt_error_status(err, TT_CANCELLED, "cancelled") : check_request(req, err);
	if (r == 0) {
		_cleanup_free_ char *ref = xasprintf("%s%s", req->image, o->suffix);
		out.image_ref = ref;
		*resp_len = grpc__pull_image_response__get_packed_size(&out);
		*resp = xmalloc(*resp_len);
		grpc__pull_image_response__pack(&out, *resp);
	}
	grpc__pull_image_request__free_unpacked(req, NULL);
	return r;
}

static int serve(const char *addr, const struct serve_opts *o, struct cc_error **err)
{
	struct tt_server *s = tt_server_new(NULL, err);
	_cleanup_free_ char *bound = NULL;
	sigset_t set;
	int sig, r = -1;

	if (!s)
		return -1;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (tt_server_register(s, "grpc.Image", "PullImage", pull_image, (void *)o, err) < 0 ||
	    tt_server_listen(s, addr, &bound, err) < 0 || tt_server_start(s, err) < 0)
		goto out;
	printf("listening %s\n", bound);
	fflush(stdout);
	sigwait(&set, &sig);
	r = tt_server_shutdown(s, 5 * 1000000000LL, err);
out:
	tt_server_free(s);
	return r;
}

struct call_opts {
	const char *service, *method;
	Grpc__PullImageRequest req;
	long timeout_ms;
	struct tt_kv md[32];
	size_t n_md;
};

static int call(const char *addr, struct call_opts *o)
{
	struct cc_error *err = NULL;
	struct tt_client *c = tt_client_connect(addr, 10 * 1000000000LL, &err);
	_cleanup_free_ uint8_t *reqbuf = NULL, *resp = NULL;
	size_t len, resp_len = 0;
	Grpc__PullImageResponse *out;

	if (!c) {
		fprintf(stderr, "tt-image: %s\n", err->msg);
		cc_error_free(&err);
		return 2;
	}
	len = grpc__pull_image_request__get_packed_size(&o->req);
	reqbuf = xmalloc(len);
	grpc__pull_image_request__pack(&o->req, reqbuf);
	if (tt_client_call(c, o->service, o->method, reqbuf, len, o->timeout_ms * 1000000, o->md,
			   o->n_md, &resp, &resp_len, &err) < 0) {
		print_json(json_pack("{si ss ss}", "code", err->code, "code_name",
				     tt_code_name(err->code), "message", err->msg));
		cc_error_free(&err);
		tt_client_close(c);
		return 1;
	}
	tt_client_close(c);
	out = grpc__pull_image_response__unpack(NULL, resp_len, resp ? resp : (uint8_t *)"");
	if (!out) {
		fprintf(stderr, "tt-image: bad PullImageResponse (%zu bytes)\n", resp_len);
		return 2;
	}
	print_json(json_pack("{ss}", "image_ref", out->image_ref));
	grpc__pull_image_response__free_unpacked(out, NULL);
	return 0;
}

static int parse_call(int argc, char **argv, struct call_opts *o)
{
	static const struct option opts[] = {
		{ "image", required_argument, NULL, 'i' },
		{ "cid", required_argument, NULL, 'c' },
		{ "creds", required_argument, NULL, 'C' },
		{ "timeout-ms", required_argument, NULL, 't' },
		{ "md", required_argument, NULL, 'm' },
		{ "service", required_argument, NULL, 's' },
		{ "method", required_argument, NULL, 'M' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		char *eq;
		switch (ch) {
		case 'i':
			o->req.image = optarg;
			break;
		case 'c':
			o->req.container_id = optarg;
			break;
		case 'C':
			o->req.source_creds = optarg;
			break;
		case 't':
			o->timeout_ms = strtol(optarg, NULL, 10);
			break;
		case 's':
			o->service = optarg;
			break;
		case 'M':
			o->method = optarg;
			break;
		case 'm':
			eq = strchr(optarg, '=');
			if (!eq || o->n_md == ARRAY_SIZE(o->md))
				return -1;
			*eq = '\0';
			o->md[o->n_md++] = (struct tt_kv){ optarg, eq + 1 };
			break;
		default:
			return -1;
		}
	}
	return 0;
}

static int parse_serve(int argc, char **argv, struct serve_opts *o)
{
	static const struct option opts[] = {
		{ "suffix", required_argument, NULL, 's' },
		{ "delay-ms", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch == 's')
			o->suffix = optarg;
		else if (ch == 'd')
			o->delay_ms = strtol(optarg, NULL, 10);
		else
			return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const char usage[] = "usage: tt-image serve ADDR [--suffix S] [--delay-ms N]\n"
				    "       tt-image call ADDR --image I [--cid C] [--creds U:P] "
				    "[--timeout-ms N] [--md K=V]... [--service S] [--method M]\n";

	if (argc < 3) {
		fputs(usage, stderr);
		return 2;
	}
	if (!strcmp(argv[1], "serve")) {
		struct serve_opts o = { .suffix = "" };
		struct cc_error *err = NULL;
		if (parse_serve(argc - 2, argv + 2, &o) < 0) {
			fputs(usage, stderr);
			return 2;
		}
		if (serve(argv[2], &o, &err) < 0) {
			fprintf(stderr, "tt-image: %s\n", err->msg);
			cc_error_free(&err);
			return 1;
		}
		return 0;
	}
	if (!strcmp(argv[1], "call")) {
		struct call_opts o = { .service = "grpc.Image", .method = "PullImage" };
		grpc__pull_image_request__init(&o.req);
		if (parse_call(argc - 2, argv + 2, &o) < 0) {
			fputs(usage, stderr);
			return 2;
		}
		return call(argv[2], &o);
	}
	fputs(usage, stderr);
	return 2;
}
