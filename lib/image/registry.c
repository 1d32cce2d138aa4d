// SPDX-License-Identifier: Apache-2.0
/* OCI distribution client over libcurl. See registry.h. */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include "image/error.h"
#include "image/manifest.h"
#include "image/registry.h"
#include "image/stream-internal.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"

#define USER_AGENT "rune-image/" RUNE_IMAGE_VERSION
#ifndef RUNE_IMAGE_VERSION
#define RUNE_IMAGE_VERSION "0.1"
#endif
#define BLOB_BUF (256u << 10)
#define TOKEN_MAX (64u << 10)
/* What a registry may say to a ping or in answer to a write: a short JSON document at most. */
#define ANSWER_MAX (64u << 10)
#define STALL_DEFAULT_MS 30000u
/* The default deadline of a transfer: 30 min, or the declared size at 256 KiB/s if longer. */
#define DEADLINE_MIN_MS (30u * 60 * 1000)
#define DEADLINE_RATE (256 << 10)

struct img_registry {
	char *host; /* where requests go: docker.io is registry-1.docker.io */
	char *repo;
	const char *scheme;
	bool insecure, loopback, scheme_fixed;
	char *user, *pass;
	char *auth; /* "Authorization: ..." or NULL */
	char *ca_file;
	unsigned retries;
	uint64_t stall_ms, transfer_ms; /* transfer_ms 0: scaled with the size */
	bool (*cancelled)(void *ctx);
	void *cancel_ctx;
	bool push;		 /* a token asked for now must cover push too */
	bool pinged, signatures; /* GET /v2/ answered; X-Registry-Supports-Signatures */
};

static void wipe_free(char *s)
{
	if (s) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

void img_registry_close(struct img_registry *r)
{
	if (!r)
		return;
	free(r->host);
	free(r->repo);
	wipe_free(r->user);
	wipe_free(r->pass);
	wipe_free(r->auth);
	free(r->ca_file);
	free(r);
}

/* ---- credentials ---- */

static char *b64_encode(const char *s)
{
	size_t n = strlen(s);
	char *out = xmalloc(4 * ((n + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s, (int)n);
	return out;
}

/* "user:pass" from a base64 "auth" field; false if malformed. */
static bool b64_credentials(const char *b64, char **user, char **pass)
{
	size_t n = strlen(b64);
	if (n == 0 || n % 4 || n > 8192)
		return false;
	_cleanup_free_ unsigned char *raw = xmalloc(n);
	int len = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)n);
	if (len < 0)
		return false;
	while (len > 0 && b64[n - 1] == '=' && raw[len - 1] == '\0') /* padding */
		len--, n--;
	char *colon = memchr(raw, ':', (size_t)len);
	bool ok = colon && !memchr(raw, '\0', (size_t)len);
	if (ok) {
		*user = xstrndup((char *)raw, (size_t)(colon - (char *)raw));
		*pass = xstrndup(colon + 1, (size_t)len - (size_t)(colon + 1 - (char *)raw));
	}
	OPENSSL_cleanse(raw, n);
	return ok;
}

static char *default_auth_file(void)
{
	const char *env = getenv("REGISTRY_AUTH_FILE");
	if (env && *env)
		return xstrdup(env);
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	if (xdg && *xdg) {
		char *p = xasprintf("%s/containers/auth.json", xdg);
		if (cc_path_exists(p))
			return p;
		free(p);
	}
	const char *home = getenv("HOME");
	return home ? xasprintf("%s/.docker/config.json", home) : NULL;
}

static void load_credentials(struct img_registry *r, const char *domain,
			     const struct img_registry_opts *o)
{
	struct cc_error *err = NULL;
	_cleanup_json_ json_t *j = NULL;
	if (o && o->auth_json) {
		j = cc_json_load_buf("auth.json", o->auth_json, o->auth_json_len, &err);
	} else {
		_cleanup_free_ char *path =
		    o && o->auth_file ? xstrdup(o->auth_file) : default_auth_file();
		if (!path || !cc_path_exists(path))
			return;
		j = cc_json_load_file(path, &err);
	}
	cc_error_free(&err);
	json_t *auths = json_object_get(j, "auths");
	_cleanup_free_ char *https = xasprintf("https://%s", domain);
	const char *keys[] = { domain, https,
			       !strcmp(domain, "docker.io") ? "https://index.docker.io/v1/" : NULL,
			       !strcmp(domain, "docker.io") ? "index.docker.io" : NULL };
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		const char *b64 = keys[i] ? json_string_value(json_object_get(
						json_object_get(auths, keys[i]), "auth"))
					  : NULL;
		if (b64 && b64_credentials(b64, &r->user, &r->pass))
			return;
	}
}

/* ---- requests ---- */

struct response {
	long status;
	char *body;
	size_t len, max;
	int64_t size; /* what the descriptor gives (max is then at most that), or -1 */
	bool too_big;
	char *content_type, *www_auth;
	char *location;	 /* of the last response (a redirect's is dropped) */
	bool signatures; /* X-Registry-Supports-Signatures: 1, likewise */
};

static void response_clear(struct response *resp)
{
	free(resp->body);
	free(resp->content_type);
	free(resp->www_auth);
	free(resp->location);
	size_t max = resp->max;
	int64_t size = resp->size;
	*resp = (struct response){ .max = max, .size = size };
}

static size_t body_cb(char *p, size_t size, size_t n, void *ctx)
{
	struct response *resp = ctx;
	size_t len = size * n;
	if (resp->len + len > resp->max) {
		resp->too_big = true;
		return 0;
	}
	resp->body = xrealloc(resp->body, resp->len + len + 1);
	memcpy(resp->body + resp->len, p, len);
	resp->len += len;
	resp->body[resp->len] = '\0';
	return len;
}

/* "Name: value\r\n" -> value, for the headers we need. A redirect's headers are replaced by
 * the final response's (the same name set again). */
static char *header_value(const char *line, size_t len, const char *name)
{
	size_t n = strlen(name);
	if (len <= n + 1 || strncasecmp(line, name, n) != 0 || line[n] != ':')
		return NULL;
	const char *v = line + n + 1, *end = line + len;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
		end--;
	return xstrndup(v, (size_t)(end - v));
}

static size_t header_cb(char *p, size_t size, size_t n, void *ctx)
{
	struct response *resp = ctx;
	size_t len = size * n;
	char *v;
	if (len > 5 && !strncmp(p, "HTTP/", 5)) { /* the status line of the next response */
		free(resp->location);
		resp->location = NULL;
		resp->signatures = false;
	}
	if ((v = header_value(p, len, "Location"))) {
		free(resp->location);
		resp->location = v;
	} else if ((v = header_value(p, len, "X-Registry-Supports-Signatures"))) {
		resp->signatures = !strcmp(v, "1");
		free(v);
	} else if ((v = header_value(p, len, "Content-Type"))) {
		free(resp->content_type);
		resp->content_type = v;
	} else if ((v = header_value(p, len, "WWW-Authenticate"))) {
		free(resp->www_auth);
		resp->www_auth = v;
	}
	return len;
}

/* ---- cancellation and transfer limits ---- */

static bool is_cancelled(const struct img_registry *r)
{
	return r->cancelled && r->cancelled(r->cancel_ctx);
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* How long a transfer of size bytes (-1: unknown) may take, retries included. */
static int64_t transfer_budget(const struct img_registry *r, int64_t size)
{
	uint64_t ms = r->transfer_ms;
	if (!ms) {
		ms = DEADLINE_MIN_MS;
		if (size > 0 && (uint64_t)(size / DEADLINE_RATE) * 1000 > ms)
			ms = (uint64_t)(size / DEADLINE_RATE) * 1000;
	}
	return (int64_t)(ms > INT64_MAX / 4 ? INT64_MAX / 4 : ms);
}

/* "30 s", "0.5 s", "30 min" */
static const char *duration(uint64_t ms, char *buf, size_t n)
{
	if (ms >= 120000 && ms % 60000 == 0)
		snprintf(buf, n, "%llu min", (unsigned long long)(ms / 60000));
	else
		snprintf(buf, n, "%g s", (double)ms / 1000);
	return buf;
}

/* " of 456 bytes" when the whole is known. */
static const char *of_total(int64_t total, char *buf, size_t n)
{
	if (total >= 0)
		snprintf(buf, n, " of %lld", (long long)total);
	else
		buf[0] = '\0';
	return buf;
}

enum limit { LIMIT_NONE, LIMIT_STALL, LIMIT_DEADLINE };

/* Why a transfer was given up: "no data for 30 s (stalled at 123 of 456 bytes)" or "transfer
 * not complete after 30 min (got 123 of 456 bytes)" (budget_ms: the deadline's length). */
static int limit_error(struct cc_error **err, const struct img_registry *r, enum limit why,
		       int64_t budget_ms, const char *what, int64_t got, int64_t total)
{
	char d[32], t[48];
	of_total(total, t, sizeof(t));
	if (why == LIMIT_STALL)
		cc_error_set(err, 0, "%s%sno data for %s (stalled at %lld%s bytes)",
			     what ? what : "", what ? ": " : "",
			     duration(r->stall_ms, d, sizeof(d)), (long long)got, t);
	else
		cc_error_set(err, 0, "%s%stransfer not complete after %s (got %lld%s bytes)",
			     what ? what : "", what ? ": " : "",
			     duration((uint64_t)budget_ms, d, sizeof(d)), (long long)got, t);
	return img_error_code(err, IMG_ERR_UNAVAILABLE);
}

/* The progress of one attempt of a transfer, as xferinfo sees it. */
struct watch {
	struct img_registry *r;
	bool timed;	  /* enforce the stall timeout and the deadline (easy transfers) */
	int64_t budget;	  /* ms the whole transfer may take */
	int64_t deadline; /* when that is over, CLOCK_MONOTONIC ms */
	int64_t last;	  /* when a byte last moved, or the attempt started */
	curl_off_t seen, total;
	curl_off_t sent; /* of a request body: its progress is not a stall either */
	enum limit why;
};

static void watch_start(struct watch *w, struct img_registry *r, bool timed, int64_t size)
{
	*w = (struct watch){ .r = r, .timed = timed, .budget = transfer_budget(r, size) };
	w->deadline = now_ms() + w->budget;
}

static void watch_attempt(struct watch *w)
{
	w->last = now_ms();
	w->seen = w->sent = 0;
	w->total = -1;
	w->why = LIMIT_NONE;
}

/* libcurl calls this about once a second and whenever data moves; non-zero aborts the transfer
 * with CURLE_ABORTED_BY_CALLBACK (w->why says whether a limit did it). Blob streams check
 * their limits themselves, where the time their reader spends elsewhere does not count. */
static int xferinfo(void *ctx, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		    curl_off_t ulnow)
{
	struct watch *w = ctx;
	if (is_cancelled(w->r))
		return 1;
	if (!w->timed)
		return 0;
	int64_t now = now_ms();
	if (dlnow != w->seen || ulnow != w->sent) {
		w->seen = dlnow;
		w->sent = ulnow;
		w->last = now;
	}
	if (dltotal > 0)
		w->total = dltotal;
	if (now >= w->deadline)
		w->why = LIMIT_DEADLINE;
	else if ((uint64_t)(now - w->last) >= w->r->stall_ms)
		w->why = LIMIT_STALL;
	return w->why != LIMIT_NONE;
}

/* The class of a libcurl failure. */
static int curl_class(CURLcode cc)
{
	return cc == CURLE_ABORTED_BY_CALLBACK ? IMG_ERR_CANCELLED : IMG_ERR_UNAVAILABLE;
}

static void common_options(struct img_registry *r, CURL *c, struct curl_slist *headers,
			   struct watch *w)
{
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, USER_AGENT);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	/* Never from HTTPS down to plain HTTP; a registry already reached over HTTP (insecure or
	 * loopback) may send blob downloads to another HTTP address. */
	bool plain = r->insecure || !strcmp(r->scheme, "http");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, plain ? "http,https" : "https");
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
	/* A stall and the deadline are watched by xferinfo and blob_read; this floor only ends
	 * a trickle early (under 1 byte/s for 60 s, a transport failure that is retried). It
	 * never comes before the stall timeout, which names what happened. */
	long floor_s = (long)((r->stall_ms + 999) / 1000) + 1;
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, floor_s > 60 ? floor_s : 60L);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	if (r->ca_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, r->ca_file);
	if (r->insecure) {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, xferinfo);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, w);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
}

static struct curl_slist *make_headers(struct img_registry *r, const char *accept,
				       int64_t range_from)
{
	struct curl_slist *h = NULL;
	if (accept) {
		_cleanup_free_ char *a = xasprintf("Accept: %s", accept);
		h = curl_slist_append(h, a);
	}
	if (r->auth)
		h = curl_slist_append(h, r->auth);
	if (range_from > 0) {
		char range[64];
		snprintf(range, sizeof(range), "Range: bytes=%lld-", (long long)range_from);
		h = curl_slist_append(h, range);
	}
	return h;
}

/* One request: a GET of /v2/<repo>/... unless said otherwise. */
struct call {
	const char *method; /* NULL: GET; "HEAD", "POST", "PUT" */
	const char *path;   /* below the host: "/v2/ns/img/manifests/v1", "/v2/", or */
	const char *url;    /* an absolute URL: an upload location, a signature lookaside */
	const char *shown;  /* what messages call the target */
	const char *accept, *content_type;
	const void *body; /* POST, PUT */
	size_t len;
	bool push;	/* a token asked for on the way must cover push */
	bool anonymous; /* no credentials, and a 401 is an answer (a ping, a lookaside) */
	bool foreign;	/* url is not on the registry: no credentials, TLS always checked */
};

static struct curl_slist *call_headers(struct img_registry *r, const struct call *call)
{
	struct curl_slist *h = NULL;
	if (call->accept) {
		_cleanup_free_ char *a = xasprintf("Accept: %s", call->accept);
		h = curl_slist_append(h, a);
	}
	if (r->auth && !call->anonymous && !call->foreign)
		h = curl_slist_append(h, r->auth);
	if (call->method && strcmp(call->method, "HEAD")) {
		if (call->body) {
			_cleanup_free_ char *ct = xasprintf("Content-Type: %s", call->content_type);
			h = curl_slist_append(h, ct);
		}
		h = curl_slist_append(h, "Expect:"); /* no 100-continue round trip */
	}
	return h;
}

/* What a call changes in common_options: the method and body; a write is never redirected;
 * a URL outside the registry gets no TLS exception and no downgrade to HTTP. */
static void call_options(struct img_registry *r, CURL *c, const struct call *call)
{
	if (call->method && !strcmp(call->method, "HEAD")) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	} else if (call->method) {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, call->method);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, call->body ? call->body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)call->len);
		curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	}
	if (call->foreign) {
		bool https = !strncasecmp(call->url, "https:", 6);
		curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, https ? "https" : "http,https");
		if (r->insecure) {
			curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
			curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
		}
	}
}

static CURLcode perform(struct img_registry *r, const char *url, const struct call *call,
			struct response *resp, struct watch *w)
{
	CURL *c = curl_easy_init();
	if (!c)
		return CURLE_OUT_OF_MEMORY;
	struct curl_slist *h = call_headers(r, call);
	watch_attempt(w);
	common_options(r, c, h, w);
	call_options(r, c, call);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, body_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, resp);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, resp);
	CURLcode cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
	return cc;
}

/* The TLS handshake failed against something that may speak plain HTTP. */
static bool tls_refused(CURLcode cc)
{
	return cc == CURLE_SSL_CONNECT_ERROR || cc == CURLE_UNSUPPORTED_PROTOCOL ||
	       cc == CURLE_WEIRD_SERVER_REPLY || cc == CURLE_RECV_ERROR;
}

static bool transient(CURLcode cc, long status)
{
	if (cc != CURLE_OK)
		return cc == CURLE_COULDNT_CONNECT || cc == CURLE_OPERATION_TIMEDOUT ||
		       cc == CURLE_RECV_ERROR || cc == CURLE_SEND_ERROR ||
		       cc == CURLE_GOT_NOTHING || cc == CURLE_PARTIAL_FILE || cc == CURLE_HTTP2 ||
		       cc == CURLE_HTTP2_STREAM;
	return status == 429 || status >= 500;
}

/* Sleeps before a retry, at most until the deadline; false when cancelled meanwhile (checked
 * every 50 ms). */
static bool backoff(struct img_registry *r, unsigned attempt, int64_t deadline)
{
	int64_t ms = 200L << (attempt < 4 ? attempt : 4); /* 0.2, 0.4, 0.8, 1.6, 3.2 s */
	if (ms > deadline - now_ms())
		ms = deadline - now_ms();
	for (; ms > 0 && !is_cancelled(r); ms -= 50) {
		long slice = ms < 50 ? ms : 50;
		struct timespec ts = { 0, slice * 1000000L };
		nanosleep(&ts, NULL);
	}
	return !is_cancelled(r);
}

/* key="value" from a WWW-Authenticate challenge. */
static char *challenge_param(const char *ch, const char *key)
{
	size_t klen = strlen(key);
	for (const char *p = ch; (p = strstr(p, key)); p += klen) {
		bool start = p == ch || p[-1] == ' ' || p[-1] == ',';
		if (!start || p[klen] != '=')
			continue;
		const char *v = p + klen + 1;
		if (*v == '"') {
			const char *end = strchr(v + 1, '"');
			return end ? xstrndup(v + 1, (size_t)(end - v - 1)) : NULL;
		}
		return xstrndup(v, strcspn(v, ", "));
	}
	return NULL;
}

static int fetch_token(struct img_registry *r, const char *challenge, struct cc_error **err)
{
	_cleanup_free_ char *realm = challenge_param(challenge, "realm");
	_cleanup_free_ char *service = challenge_param(challenge, "service");
	_cleanup_free_ char *scope = challenge_param(challenge, "scope");
	if (!realm || (strncmp(realm, "https://", 8) && strncmp(realm, "http://", 7))) {
		cc_error_set(err, 0, "registry %s: bad token realm in its challenge", r->host);
		return img_error_code(err, IMG_ERR_UNAUTHENTICATED);
	}
	if (!scope)
		scope = xasprintf("repository:%s:%s", r->repo, r->push ? "pull,push" : "pull");
	CURL *c = curl_easy_init();
	char *es = curl_easy_escape(c, service ? service : "", 0);
	char *esc = curl_easy_escape(c, scope, 0);
	_cleanup_free_ char *url =
	    xasprintf("%s%sservice=%s&scope=%s", realm, strchr(realm, '?') ? "&" : "?", es, esc);
	curl_free(es);
	curl_free(esc);
	struct response resp = { .max = TOKEN_MAX, .size = -1 };
	struct curl_slist *h = NULL;
	struct watch w;
	watch_start(&w, r, true, -1);
	watch_attempt(&w);
	common_options(r, c, h, &w);
	curl_easy_setopt(c, CURLOPT_URL, url);
	if (r->user) {
		curl_easy_setopt(c, CURLOPT_USERNAME, r->user);
		curl_easy_setopt(c, CURLOPT_PASSWORD, r->pass ? r->pass : "");
	}
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, body_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp);
	CURLcode cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp.status);
	curl_easy_cleanup(c);
	int ret = 0;
	if (cc != CURLE_OK && w.why != LIMIT_NONE) {
		_cleanup_free_ char *what = xasprintf("registry %s: token server", r->host);
		ret = limit_error(err, r, w.why, w.budget, what, w.seen, w.total);
	} else if (cc != CURLE_OK) {
		cc_error_set(err, 0, "registry %s: token server: %s", r->host,
			     curl_easy_strerror(cc));
		ret = img_error_code(err, curl_class(cc));
	} else if (resp.status != 200) {
		ret =
		    cc_error_set(err, 0, "registry %s: token server refused%s (HTTP %ld)", r->host,
				 r->user ? " the credentials" : " anonymous access", resp.status);
	} else {
		struct cc_error *jerr = NULL;
		_cleanup_json_ json_t *j = cc_json_load_buf("token", resp.body, resp.len, &jerr);
		const char *tok = json_string_value(json_object_get(j, "token"));
		if (!tok)
			tok = json_string_value(json_object_get(j, "access_token"));
		if (!tok || !*tok || strpbrk(tok, "\r\n"))
			ret = cc_error_set(
			    err, 0, "registry %s: token server: no token in its answer", r->host);
		else {
			wipe_free(r->auth);
			r->auth = xasprintf("Authorization: Bearer %s", tok);
		}
		cc_error_free(&jerr);
	}
	if (resp.body)
		OPENSSL_cleanse(resp.body, resp.len);
	response_clear(&resp);
	if (ret < 0)
		img_error_code(err, IMG_ERR_UNAUTHENTICATED);
	return ret;
}

static int authenticate(struct img_registry *r, const char *challenge, struct cc_error **err)
{
	if (!challenge) {
		cc_error_set(err, 0, "registry %s: access denied (HTTP 401)", r->host);
		return img_error_code(err, IMG_ERR_UNAUTHENTICATED);
	}
	if (!strncasecmp(challenge, "Bearer ", 7))
		return fetch_token(r, challenge, err);
	if (!strncasecmp(challenge, "Basic", 5)) {
		if (!r->user) {
			cc_error_set(err, 0, "registry %s: credentials required", r->host);
			return img_error_code(err, IMG_ERR_UNAUTHENTICATED);
		}
		_cleanup_free_ char *up = xasprintf("%s:%s", r->user, r->pass ? r->pass : "");
		char *b64 = b64_encode(up);
		OPENSSL_cleanse(up, strlen(up));
		wipe_free(r->auth);
		r->auth = xasprintf("Authorization: Basic %s", b64);
		wipe_free(b64);
		return 0;
	}
	cc_error_set(err, 0, "registry %s: unsupported authentication scheme", r->host);
	return img_error_code(err, IMG_ERR_UNAUTHENTICATED);
}

/* An answer longer than allowed: for a blob of known size, a size mismatch. */
static int too_big_error(struct img_registry *r, const struct call *call,
			 const struct response *resp, struct cc_error **err)
{
	if (resp->size >= 0 && resp->status == 200) {
		cc_error_set(err, 0, "size mismatch: more than the %lld bytes its descriptor gives",
			     (long long)resp->size);
		return img_error_code(err, IMG_ERR_INTEGRITY);
	}
	if (call->foreign)
		cc_error_set(err, 0, "%s: answer larger than %zu bytes", call->shown, resp->max);
	else
		cc_error_set(err, 0, "registry %s: %s: answer larger than %zu bytes", r->host,
			     call->shown, resp->max);
	return img_error_code(err, IMG_ERR_INVALID);
}

/* A transfer that failed for libcurl, named by where it went. */
static int transfer_error(struct img_registry *r, const struct call *call, CURLcode cc,
			  struct cc_error **err)
{
	if (call->foreign)
		cc_error_set(err, 0, "%s: %s", call->shown, curl_easy_strerror(cc));
	else
		cc_error_set(err, 0, "registry %s: %s", r->host, curl_easy_strerror(cc));
	return img_error_code(err, curl_class(cc));
}

/* The call with auth, scheme fallback and retries of transport failures and stalls, all
 * within one deadline (from resp->size). Returns the HTTP status (resp filled) or -1. */
static long request_call(struct img_registry *r, const struct call *call, struct response *resp,
			 struct cc_error **err)
{
	bool auth_tried = false;
	struct watch w;
	/* The caller names the manifest or blob; a URL elsewhere is named here. */
	const char *what = call->foreign ? call->shown : NULL;
	watch_start(&w, r, true, resp->size);
	for (unsigned attempt = 0;;) {
		if (is_cancelled(r)) {
			cc_error_set(err, 0, "registry %s: cancelled", r->host);
			return img_error_code(err, IMG_ERR_CANCELLED);
		}
		if (now_ms() >= w.deadline)
			return limit_error(err, r, LIMIT_DEADLINE, w.budget, what, w.seen, w.total);
		_cleanup_free_ char *url =
		    call->url ? xstrdup(call->url)
			      : xasprintf("%s://%s%s", r->scheme, r->host, call->path);
		response_clear(resp);
		CURLcode cc = perform(r, url, call, resp, &w);
		enum limit limit = cc == CURLE_ABORTED_BY_CALLBACK ? w.why : LIMIT_NONE;
		if (cc != CURLE_OK && tls_refused(cc) && !call->url && !r->scheme_fixed &&
		    !strcmp(r->scheme, "https") && (r->insecure || r->loopback)) {
			r->scheme = "http"; /* allowed for this host: it does not speak TLS */
			continue;
		}
		if (resp->too_big)
			return too_big_error(r, call, resp, err);
		if (cc == CURLE_OK && !call->url)
			r->scheme_fixed = true;
		if (cc == CURLE_OK && resp->status == 401 && !auth_tried && !call->anonymous &&
		    !call->foreign) {
			auth_tried = true;
			r->push = call->push;
			int ret = authenticate(r, resp->www_auth, err);
			r->push = false;
			if (ret < 0)
				return -1;
			continue;
		}
		bool retry = limit == LIMIT_STALL || (!limit && transient(cc, resp->status));
		if (retry && attempt < r->retries && backoff(r, attempt++, w.deadline))
			continue;
		if (is_cancelled(r)) {
			cc_error_set(err, 0, "registry %s: cancelled", r->host);
			return img_error_code(err, IMG_ERR_CANCELLED);
		}
		if (limit)
			return limit_error(err, r, limit, w.budget, what, w.seen, w.total);
		if (cc != CURLE_OK)
			return transfer_error(r, call, cc, err);
		return resp->status;
	}
}

/* GET /v2/<repo>/<path> (the caller names what it is in messages). */
static long request(struct img_registry *r, const char *path, const char *accept,
		    struct response *resp, struct cc_error **err)
{
	_cleanup_free_ char *full = xasprintf("/v2/%s/%s", r->repo, path);
	struct call call = { .path = full, .shown = path, .accept = accept };
	return request_call(r, &call, resp, err);
}

static int status_class(long status)
{
	if (status == 404)
		return IMG_ERR_NOT_FOUND;
	if (status == 401)
		return IMG_ERR_UNAUTHENTICATED;
	if (status == 403)
		return IMG_ERR_DENIED;
	return transient(CURLE_OK, status) ? IMG_ERR_UNAVAILABLE : IMG_ERR_INVALID;
}

static int status_error(struct img_registry *r, const char *what, long status,
			struct cc_error **err)
{
	if (status == 404)
		cc_error_set(err, 0, "%s: not found in %s/%s", what, r->host, r->repo);
	else if (status == 401 || status == 403)
		cc_error_set(err, 0, "%s: access denied by %s (HTTP %ld)%s", what, r->host, status,
			     r->user ? ": wrong credentials?" : "");
	else
		cc_error_set(err, 0, "%s: registry %s answered HTTP %ld", what, r->host, status);
	return img_error_code(err, status_class(status));
}

static bool is_loopback(const char *host)
{
	return !strncmp(host, "127.", 4) || !strncmp(host, "localhost", 9) ||
	       !strncmp(host, "[::1]", 5);
}

static CURLcode curl_init_result = CURLE_FAILED_INIT;

static void curl_init_once(void)
{
	curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct img_registry *img_registry_open(const struct img_ref *ref, const struct img_registry_opts *o,
				       struct cc_error **err)
{
	/* Once per process, whichever thread comes first (pullers run concurrently). */
	static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
	pthread_once(&curl_once, curl_init_once);
	if (curl_init_result != CURLE_OK) {
		cc_error_set(err, 0, "libcurl: initialisation failed");
		return NULL;
	}
	struct img_registry *r = xzalloc(sizeof(*r));
	r->host = xstrdup(!strcmp(ref->domain, "docker.io") ? "registry-1.docker.io" : ref->domain);
	r->repo = xstrdup(ref->path);
	r->loopback = is_loopback(ref->domain);
	for (size_t i = 0; o && o->insecure && o->insecure[i]; i++)
		if (!strcmp(o->insecure[i], ref->domain))
			r->insecure = true;
	r->scheme = "https";
	r->retries = o && o->retries ? o->retries : 3;
	r->stall_ms = o && o->stall_timeout_ms ? o->stall_timeout_ms : STALL_DEFAULT_MS;
	r->transfer_ms = o ? o->transfer_timeout_ms : 0;
	r->ca_file = o && o->ca_file ? xstrdup(o->ca_file) : NULL;
	r->cancelled = o ? o->cancelled : NULL;
	r->cancel_ctx = o ? o->cancel_ctx : NULL;
	if (o && o->username) {
		r->user = xstrdup(o->username);
		r->pass = xstrdup(o->password ? o->password : "");
	} else {
		load_credentials(r, ref->domain, o);
	}
	return r;
}

int img_registry_get_manifest(struct img_registry *r, const char *reference, char **body,
			      size_t *len, char **content_type, char **digest,
			      struct cc_error **err)
{
	_cleanup_free_ char *path = xasprintf("manifests/%s", reference);
	_cleanup_free_ char *what = xasprintf("manifest %s", reference);
	struct response resp = { .max = IMG_MANIFEST_MAX, .size = -1 };
	long status = request(r, path, IMG_MANIFEST_ACCEPT, &resp, err);
	int ret = -1;
	if (status < 0)
		cc_error_prefix(err, "%s", what);
	if (status == 200) {
		char *d = img_digest_buf(resp.body ? resp.body : "", resp.len);
		if (img_digest_valid(reference) && strcmp(d, reference) != 0) {
			cc_error_set(err, 0,
				     "%s: digest mismatch: the registry sent bytes hashing to %s",
				     what, d);
			img_error_code(err, IMG_ERR_INTEGRITY);
			free(d);
		} else {
			*body = resp.body ? steal_pointer(&resp.body) : xstrdup("");
			*len = resp.len;
			*content_type =
			    resp.content_type ? steal_pointer(&resp.content_type) : NULL;
			*digest = d;
			ret = 0;
		}
	} else if (status > 0) {
		status_error(r, what, status, err);
	}
	response_clear(&resp);
	return ret;
}

char *img_registry_get_blob_sized(struct img_registry *r, const char *digest, int64_t size,
				  size_t max, size_t *len, struct cc_error **err)
{
	_cleanup_free_ char *path = xasprintf("blobs/%s", digest);
	_cleanup_free_ char *what = xasprintf("blob %s", digest);
	/* A byte more than the descriptor gives is a mismatch already. */
	struct response resp = { .max = size >= 0 && (uint64_t)size < max ? (size_t)size : max,
				 .size = size };
	long status = request(r, path, NULL, &resp, err);
	char *out = NULL;
	if (status < 0)
		cc_error_prefix(err, "%s", what);
	if (status == 200) {
		_cleanup_free_ char *d = img_digest_buf(resp.body ? resp.body : "", resp.len);
		if (size >= 0 && (int64_t)resp.len != size) {
			cc_error_set(err, 0, "%s: size mismatch: got %zu of %lld bytes", what,
				     resp.len, (long long)size);
			img_error_code(err, IMG_ERR_INTEGRITY);
		} else if (strcmp(d, digest) != 0) {
			cc_error_set(err, 0, "%s: digest mismatch: the bytes hash to %s", what, d);
			img_error_code(err, IMG_ERR_INTEGRITY);
		} else {
			out = resp.body ? steal_pointer(&resp.body) : xstrdup("");
			*len = resp.len;
		}
	} else if (status > 0) {
		status_error(r, what, status, err);
	}
	response_clear(&resp);
	return out;
}

char *img_registry_get_blob(struct img_registry *r, const char *digest, size_t max, size_t *len,
			    struct cc_error **err)
{
	return img_registry_get_blob_sized(r, digest, -1, max, len, err);
}

/* ---- writes and the signature extension ---- */

/* A write answered with another status than want. */
static int write_status_error(struct img_registry *r, const char *what, long status, long want,
			      struct cc_error **err)
{
	if (status >= 200 && status < 300) {
		cc_error_set(err, 0, "%s: registry %s answered HTTP %ld, not %ld", what, r->host,
			     status, want);
		return img_error_code(err, IMG_ERR_INVALID);
	}
	return status_error(r, what, status, err);
}

int img_registry_supports_signatures(struct img_registry *r, bool *yes, struct cc_error **err)
{
	if (!r->pinged) {
		/* As containers/image pings: a 401 answers too, and its headers count. */
		struct response resp = { .max = ANSWER_MAX, .size = -1 };
		struct call call = { .path = "/v2/", .shown = "/v2/", .anonymous = true };
		long status = request_call(r, &call, &resp, err);
		bool signatures = resp.signatures;
		response_clear(&resp);
		if (status < 0)
			return cc_error_prefix(err, "GET /v2/");
		if (status != 200 && status != 401)
			return status_error(r, "GET /v2/", status, err);
		r->pinged = true;
		r->signatures = signatures;
	}
	*yes = r->signatures;
	return 0;
}

char *img_registry_get_extension(struct img_registry *r, const char *path, size_t max, size_t *len,
				 struct cc_error **err)
{
	_cleanup_free_ char *full = xasprintf("/extensions/v2/%s/%s", r->repo, path);
	struct response resp = { .max = max, .size = -1 };
	struct call call = { .path = full, .shown = full };
	long status = request_call(r, &call, &resp, err);
	char *out = NULL;
	if (status < 0)
		cc_error_prefix(err, "GET %s", full);
	else if (status != 200)
		status_error(r, full, status, err);
	else {
		out = resp.body ? steal_pointer(&resp.body) : xstrdup("");
		*len = resp.len;
	}
	response_clear(&resp);
	return out;
}

/* PUT body to path (what names it in messages), expecting 201 Created. */
static int put_created(struct img_registry *r, const char *path, const char *what,
		       const char *content_type, const void *body, size_t len,
		       struct cc_error **err)
{
	struct response resp = { .max = ANSWER_MAX, .size = -1 };
	struct call call = { .method = "PUT",
			     .path = path,
			     .shown = path,
			     .content_type = content_type,
			     .body = body,
			     .len = len,
			     .push = true };
	long status = request_call(r, &call, &resp, err);
	response_clear(&resp);
	if (status < 0)
		return cc_error_prefix(err, "PUT %s", what);
	if (status != 201)
		return write_status_error(r, what, status, 201, err);
	return 0;
}

int img_registry_put_extension(struct img_registry *r, const char *path, const char *content_type,
			       const void *body, size_t len, struct cc_error **err)
{
	_cleanup_free_ char *full = xasprintf("/extensions/v2/%s/%s", r->repo, path);
	return put_created(r, full, full, content_type, body, len, err);
}

int img_registry_has_blob(struct img_registry *r, const char *digest, struct cc_error **err)
{
	_cleanup_free_ char *path = xasprintf("/v2/%s/blobs/%s", r->repo, digest);
	_cleanup_free_ char *what = xasprintf("blob %s", digest);
	struct response resp = { .max = ANSWER_MAX, .size = -1 };
	struct call call = { .method = "HEAD", .path = path, .shown = path, .push = true };
	long status = request_call(r, &call, &resp, err);
	response_clear(&resp);
	if (status < 0)
		return cc_error_prefix(err, "%s", what);
	if (status == 200)
		return 1;
	if (status == 404)
		return 0;
	return status_error(r, what, status, err);
}

/* Where the monolithic PUT of an upload goes: the Location of the POST's answer (absolute, or
 * relative to the POST's URL), with digest= added to whatever query it carries. */
static char *upload_url(struct img_registry *r, const char *post_url, const char *location,
			const char *digest, bool *foreign, struct cc_error **err)
{
	CURLU *u = curl_url();
	char *url = NULL, *scheme = NULL, *host = NULL, *port = NULL;
	_cleanup_free_ char *q = xasprintf("digest=%s", digest);
	char shown[CC_SHOWN_BUF]; /* the registry chose it */
	cc_shown(location, strlen(location), shown);
	if (!u || curl_url_set(u, CURLUPART_URL, post_url, 0) != CURLUE_OK ||
	    curl_url_set(u, CURLUPART_URL, location, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_set(u, CURLUPART_QUERY, q, CURLU_APPENDQUERY | CURLU_URLENCODE) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_URL, &url, 0) != CURLUE_OK) {
		cc_error_set(err, 0, "upload location \"%s\": not a URL", shown);
	} else if (strcmp(scheme, "https") &&
		   (strcmp(scheme, "http") || !strcmp(r->scheme, "https"))) {
		cc_error_set(err, 0, "upload location \"%s\": not %s", shown,
			     !strcmp(r->scheme, "https") ? "HTTPS" : "HTTP or HTTPS");
		curl_free(url);
		url = NULL;
	} else {
		/* Credentials go only where the registry is. */
		_cleanup_free_ char *origin = NULL;
		if (curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK)
			origin = xasprintf("%s://%s:%s", scheme, host, port);
		else
			origin = xasprintf("%s://%s", scheme, host);
		_cleanup_free_ char *ours = xasprintf("%s://%s", r->scheme, r->host);
		*foreign = strcasecmp(origin, ours) != 0;
	}
	char *out = url ? xstrdup(url) : NULL;
	curl_free(url);
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	if (!out)
		img_error_code(err, IMG_ERR_INVALID);
	return out;
}

/* POST /v2/<repo>/blobs/uploads/, then the whole blob in one PUT to where it says. */
static int upload_blob(struct img_registry *r, const char *digest, const void *data, size_t len,
		       struct cc_error **err)
{
	_cleanup_free_ char *path = xasprintf("/v2/%s/blobs/uploads/", r->repo);
	_cleanup_free_ char *what = xasprintf("blob %s: upload", digest);
	struct response resp = { .max = ANSWER_MAX, .size = -1 };
	struct call post = { .method = "POST", .path = path, .shown = path, .push = true };
	long status = request_call(r, &post, &resp, err);
	if (status < 0 || status != 202 || !resp.location) {
		if (status < 0)
			cc_error_prefix(err, "%s", what);
		else if (status != 202)
			write_status_error(r, what, status, 202, err);
		else
			cc_error_set(err, 0, "%s: registry %s gave no Location", what, r->host);
		response_clear(&resp);
		return img_error_code(err, IMG_ERR_INVALID);
	}
	_cleanup_free_ char *post_url = xasprintf("%s://%s%s", r->scheme, r->host, path);
	bool foreign = false;
	_cleanup_free_ char *url = upload_url(r, post_url, resp.location, digest, &foreign, err);
	response_clear(&resp);
	if (!url)
		return cc_error_prefix(err, "%s", what);
	struct call put = { .method = "PUT",
			    .url = url,
			    .shown = url,
			    .body = data,
			    .len = len,
			    .content_type = "application/octet-stream",
			    .push = true,
			    .foreign = foreign };
	status = request_call(r, &put, &resp, err);
	response_clear(&resp);
	if (status < 0)
		return cc_error_prefix(err, "%s", what);
	if (status != 201)
		return write_status_error(r, what, status, 201, err);
	return 0;
}

int img_registry_put_blob(struct img_registry *r, const void *data, size_t len, char **digest,
			  struct cc_error **err)
{
	_cleanup_free_ char *d = img_digest_buf(data, len);
	int has = img_registry_has_blob(r, d, err);
	if (has < 0 || (!has && upload_blob(r, d, data, len, err) < 0))
		return -1;
	if (digest)
		*digest = steal_pointer(&d);
	return 0;
}

int img_registry_put_manifest(struct img_registry *r, const char *reference,
			      const char *content_type, const void *body, size_t len,
			      struct cc_error **err)
{
	_cleanup_free_ char *path = xasprintf("/v2/%s/manifests/%s", r->repo, reference);
	_cleanup_free_ char *what = xasprintf("manifest %s", reference);
	return put_created(r, path, what, content_type, body, len, err);
}

char *img_registry_get_url(struct img_registry *r, const char *url, size_t max, size_t *len,
			   struct cc_error **err)
{
	if (strncasecmp(url, "https://", 8) && strncasecmp(url, "http://", 7)) {
		cc_error_set(err, 0, "%s: not an http:// or https:// URL", url);
		img_error_code(err, IMG_ERR_INVALID);
		return NULL;
	}
	struct response resp = { .max = max, .size = -1 };
	struct call call = { .url = url, .shown = url, .anonymous = true, .foreign = true };
	long status = request_call(r, &call, &resp, err);
	char *out = NULL;
	if (status == 200) {
		out = resp.body ? steal_pointer(&resp.body) : xstrdup("");
		*len = resp.len;
	} else if (status > 0) {
		cc_error_set(err, 0, "%s: the server answered HTTP %ld", url, status);
		img_error_code(err, status_class(status));
	}
	response_clear(&resp);
	return out;
}

/* ---- blob streams ---- */

struct blob_stream {
	struct img_stream s;
	struct img_registry *r;
	char *digest, *what;
	int64_t size; /* the descriptor's, or -1 */
	CURLM *multi;
	CURL *easy;
	struct curl_slist *hdrs;
	unsigned char *buf;
	size_t off, len;
	bool paused, running, checked, done;
	bool overflow;	   /* the registry sent more than the descriptor gives */
	bool stalled;	   /* blob_read dropped the transfer: no byte for the stall timeout */
	int64_t announced; /* a Content-Length beyond the descriptor's size, or -1 */
	long status;
	int64_t received, skip;
	unsigned attempts;
	CURLcode result;
	struct watch w; /* the deadline; xferinfo polls only the cancellation */
	int64_t last;	/* when a byte last arrived or the attempt started (ms) */
};

static size_t blob_write(char *p, size_t size, size_t n, void *ctx)
{
	struct blob_stream *b = ctx;
	size_t len = size * n;
	if (!b->checked) {
		curl_easy_getinfo(b->easy, CURLINFO_RESPONSE_CODE, &b->status);
		b->checked = true;
		if (b->status != 200 && b->status != 206)
			return 0;
		if (b->status == 200 && b->received > 0)
			b->skip = b->received; /* the server ignored our Range */
		/* What the registry says it sends must fit in the descriptor's size: a body
		 * announced longer is refused before it is waited for. */
		curl_off_t cl = -1;
		curl_easy_getinfo(b->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
		int64_t from = b->status == 206 ? b->received : 0;
		if (b->size >= 0 && cl >= 0 && cl > b->size - from) {
			b->announced = from + cl;
			return 0;
		}
	}
	b->last = now_ms();
	size_t drop = b->skip < (int64_t)len ? (size_t)b->skip : len;
	b->skip -= (int64_t)drop;
	if (drop == len)
		return len;
	if (b->size >= 0 && (int64_t)(len - drop) > b->size - b->received) {
		b->overflow = true;
		return 0;
	}
	if (b->off + b->len + (len - drop) > BLOB_BUF) {
		memmove(b->buf, b->buf + b->off, b->len);
		b->off = 0;
		if (b->len + (len - drop) > BLOB_BUF) {
			b->skip += (int64_t)drop; /* curl hands the same bytes again on resume */
			b->paused = true;
			return CURL_WRITEFUNC_PAUSE;
		}
	}
	memcpy(b->buf + b->off + b->len, p + drop, len - drop);
	b->len += len - drop;
	b->received += (int64_t)(len - drop);
	return len;
}

static void blob_stop(struct blob_stream *b)
{
	if (b->easy) {
		curl_multi_remove_handle(b->multi, b->easy);
		curl_easy_cleanup(b->easy);
		b->easy = NULL;
	}
	curl_slist_free_all(b->hdrs);
	b->hdrs = NULL;
	b->running = false;
}

static int blob_start(struct blob_stream *b)
{
	_cleanup_free_ char *url =
	    xasprintf("%s://%s/v2/%s/blobs/%s", b->r->scheme, b->r->host, b->r->repo, b->digest);
	b->easy = curl_easy_init();
	if (!b->easy)
		return -1;
	b->hdrs = make_headers(b->r, NULL, b->received);
	common_options(b->r, b->easy, b->hdrs, &b->w);
	curl_easy_setopt(b->easy, CURLOPT_URL, url);
	curl_easy_setopt(b->easy, CURLOPT_WRITEFUNCTION, blob_write);
	curl_easy_setopt(b->easy, CURLOPT_WRITEDATA, b);
	b->checked = false;
	b->status = 0;
	b->result = CURLE_OK;
	b->running = true;
	b->last = now_ms();
	return curl_multi_add_handle(b->multi, b->easy) == CURLM_OK ? 0 : -1;
}

/* The stream stops for good with e (consumed), keeping its class. */
static ssize_t blob_fail(struct blob_stream *b, struct cc_error *e)
{
	blob_stop(b);
	img_stage_fail(&b->s, e->errnum, "%s", e->msg);
	b->s.err->code = e->code;
	cc_error_free(&e);
	return -1;
}

static ssize_t blob_cancelled(struct blob_stream *b)
{
	struct cc_error *e = NULL;
	cc_error_set(&e, 0, "%s: cancelled", b->what);
	return blob_fail(b, (img_error_code(&e, IMG_ERR_CANCELLED), e));
}

static ssize_t blob_limit(struct blob_stream *b, enum limit why)
{
	struct cc_error *e = NULL;
	limit_error(&e, b->r, why, b->w.budget, b->what, b->received, b->size);
	return blob_fail(b, e);
}

/* Deterministic: the registry's blob is not the descriptor's, and asking again cannot help. */
static ssize_t blob_size_mismatch(struct blob_stream *b)
{
	struct cc_error *e = NULL;
	if (b->announced >= 0)
		cc_error_set(&e, 0,
			     "%s: size mismatch: the registry announces %lld bytes, its descriptor "
			     "gives %lld",
			     b->what, (long long)b->announced, (long long)b->size);
	else if (b->overflow)
		cc_error_set(&e, 0,
			     "%s: size mismatch: more than the %lld bytes its descriptor gives",
			     b->what, (long long)b->size);
	else
		cc_error_set(&e, 0, "%s: size mismatch: got %lld of %lld bytes", b->what,
			     (long long)b->received, (long long)b->size);
	return blob_fail(b, (img_error_code(&e, IMG_ERR_INTEGRITY), e));
}

/* Retries are used up (or the failure is not a transport one). */
static ssize_t blob_gave_up(struct blob_stream *b, CURLcode cc, bool http_error, bool stalled)
{
	struct cc_error *e = NULL;
	char t[48];
	if (stalled)
		return blob_limit(b, LIMIT_STALL);
	if (http_error)
		status_error(b->r, b->what, b->status, &e);
	else if (b->attempts)
		cc_error_set(&e, 0, "%s: transfer failed after %u attempts: %s (got %lld%s bytes)",
			     b->what, b->attempts + 1, curl_easy_strerror(cc),
			     (long long)b->received, of_total(b->size, t, sizeof(t)));
	else
		cc_error_set(&e, 0, "%s: transfer failed: %s (got %lld%s bytes)", b->what,
			     curl_easy_strerror(cc), (long long)b->received,
			     of_total(b->size, t, sizeof(t)));
	return blob_fail(b, (img_error_code(&e, IMG_ERR_UNAVAILABLE), e));
}

/* The transfer ended: the end of the blob, a retry from where it broke, or an error. Only
 * transport failures (a broken or stalled connection, 5xx, 429) are retried, within the
 * deadline of the whole blob. */
static ssize_t blob_ended(struct blob_stream *b)
{
	CURLcode cc = b->result;
	bool stalled = b->stalled;
	bool body = !stalled && cc == CURLE_OK && (b->status == 200 || b->status == 206);
	b->stalled = false;
	blob_stop(b);
	if (b->announced >= 0 || b->overflow)
		return blob_size_mismatch(b);
	if (body && (b->size < 0 || b->received == b->size))
		return 0;
	if (body) /* the registry ended its body early */
		return blob_size_mismatch(b);
	bool http_error = !stalled && (cc == CURLE_OK || cc == CURLE_WRITE_ERROR) &&
			  b->status != 200 && b->status != 206;
	if (cc == CURLE_ABORTED_BY_CALLBACK || is_cancelled(b->r))
		return blob_cancelled(b);
	bool retry = stalled || (http_error ? transient(CURLE_OK, b->status) : transient(cc, 0));
	if (!retry || b->attempts >= b->r->retries)
		return blob_gave_up(b, cc, http_error, stalled);
	if (!backoff(b->r, b->attempts++, b->w.deadline))
		return blob_cancelled(b);
	if (now_ms() >= b->w.deadline)
		return blob_limit(b, LIMIT_DEADLINE);
	if (blob_start(b) < 0) {
		struct cc_error *e = NULL;
		cc_error_set(&e, 0, "%s: cannot restart the transfer", b->what);
		return blob_fail(b, (img_error_code(&e, IMG_ERR_UNAVAILABLE), e));
	}
	return 1;
}

/* Bytes as they arrive. The stall timeout counts only time spent waiting here: a reader busy
 * elsewhere leaves the bytes in the socket, and that is not the registry's stall. */
static ssize_t blob_read(struct img_stream *s, void *buf, size_t want)
{
	struct blob_stream *b = (struct blob_stream *)s;
	int64_t entered = now_ms();
	for (;;) {
		if (b->len) {
			size_t n = want < b->len ? want : b->len;
			memcpy(buf, b->buf + b->off, n);
			b->off += n;
			b->len -= n;
			if (!b->len)
				b->off = 0;
			if (b->paused) {
				b->paused = false;
				curl_easy_pause(b->easy, CURLPAUSE_CONT);
			}
			return (ssize_t)n;
		}
		if (b->done) { /* everything buffered has been delivered */
			b->done = false;
			ssize_t r = blob_ended(b);
			if (r <= 0)
				return r;
			continue;
		}
		if (!b->running)
			return 0;
		if (is_cancelled(b->r))
			return blob_cancelled(b);
		int still = 0;
		if (curl_multi_perform(b->multi, &still) != CURLM_OK)
			return img_stage_fail(s, 0, "%s: transfer failed", b->what);
		CURLMsg *m;
		int left;
		while ((m = curl_multi_info_read(b->multi, &left)))
			if (m->msg == CURLMSG_DONE) {
				b->result = m->data.result;
				b->done = true;
				if (!b->checked) /* no body: the status is all there is */
					curl_easy_getinfo(b->easy, CURLINFO_RESPONSE_CODE,
							  &b->status);
			}
		if (b->len || b->done || !still)
			continue;
		int64_t now = now_ms();
		int64_t quiet = now - (b->last > entered ? b->last : entered);
		if (now >= b->w.deadline)
			return blob_limit(b, LIMIT_DEADLINE);
		if (quiet >= (int64_t)b->r->stall_ms) {
			b->stalled = b->done = true;
			continue;
		}
		/* A cancellable transfer wakes up often enough to notice promptly. */
		int64_t wait = b->r->cancelled ? 100 : 1000;
		if (wait > (int64_t)b->r->stall_ms - quiet)
			wait = (int64_t)b->r->stall_ms - quiet;
		if (wait > b->w.deadline - now)
			wait = b->w.deadline - now;
		curl_multi_poll(b->multi, NULL, 0, (int)(wait > 0 ? wait : 1), NULL);
	}
}

static void blob_free(struct img_stream *s)
{
	struct blob_stream *b = (struct blob_stream *)s;
	blob_stop(b);
	curl_multi_cleanup(b->multi);
	free(b->buf);
	free(b->digest);
	free(b->what);
}

struct img_stream *img_registry_blob_stream(struct img_registry *r, const char *digest,
					    int64_t size)
{
	struct blob_stream *b = xzalloc(sizeof(*b));
	b->s.read = blob_read;
	b->s.free = blob_free;
	b->r = r;
	b->digest = xstrdup(digest);
	b->what = xasprintf("blob %s", digest);
	b->size = size;
	b->announced = -1;
	b->buf = xmalloc(BLOB_BUF);
	b->multi = curl_multi_init();
	watch_start(&b->w, r, false, size);
	if (!img_digest_valid(digest))
		img_stage_fail(&b->s, 0, "blob \"%s\": invalid digest", digest);
	else if (!b->multi || blob_start(b) < 0)
		img_stage_fail(&b->s, 0, "blob %s: cannot start the transfer", digest);
	return &b->s;
}
