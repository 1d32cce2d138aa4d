// SPDX-License-Identifier: Apache-2.0
/* The RCAR client of a Key Broker Service. See kbs-client.h. */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include "attest/kbs-bind.h"
#include "attest/kbs-client.h"
#include "attest/ratls.h"
#include "crypt/jwa.h"
#include "crypt/jwe.h"
#include "util/cleanup.h"
#include "util/json.h"

#define PROTOCOL_VERSION "0.4.0"
#define PREFIX "/kbs/v0"
#define COOKIE "kbs-session-id"
#define COOKIE_MAX 1024
#define NONCE_MAX 1024
#define DETAIL_MAX 200

struct attest_kbs {
	char *base;  /* the URL without a trailing '/', PREFIX appended by requests */
	char *shown; /* "KBS <url>" */
	enum attest_kbs_tee tee;
	attest_kbs_evidence_fn evidence;
	void *evidence_ctx;
	char *ca_file;
	long timeout_s;
	pthread_mutex_t lock;
	CURL *curl; /* kept: the connection to the KBS is reused */
	bool ra_tls;
	EVP_PKEY *tls_key; /* RA-TLS: the client certificate's key and the certificate */
	X509 *tls_cert;
	/* The session. */
	EVP_PKEY *tee_key;
	char *cookie; /* "kbs-session-id=..." (wiped) */
	char *token;  /* the attestation token (wiped) */
	bool attested;
	long last_status; /* of the last request, 0 without an answer */
	struct attest_kbs_stats stats;
};

/* ---- the URL ---- */

static bool loopback_host(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;
	if (!strcasecmp(host, "localhost"))
		return true;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	return inet_pton(AF_INET6, host, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

/* http(s)://HOST[:PORT][/prefix]: no credentials, query or fragment. */
static int parse_url(struct attest_kbs *k, const struct attest_kbs_opts *o, struct cc_error **err)
{
	const char *url = o->url ? o->url : "";
	char shown[CC_SHOWN_BUF];
	cc_shown(url, strlen(url), shown);
	bool https = !strncmp(url, "https://", 8);
	if (!https && strncmp(url, "http://", 7) != 0)
		return cc_error_set(err, 0, "KBS URL \"%s\": not http:// or https://", shown);
	const char *h = url + (https ? 8 : 7);
	if (strpbrk(h, "@?#") || strlen(url) > 1024)
		return cc_error_set(err, 0,
				    "KBS URL \"%s\": credentials, a query or a fragment are not "
				    "allowed",
				    shown);
	size_t hlen = strcspn(h, "/");
	_cleanup_free_ char *authority = xstrndup(h, hlen);
	_cleanup_free_ char *host = NULL;
	const char *port = NULL;
	if (authority[0] == '[') {
		char *close = strchr(authority, ']');
		if (!close || (close[1] && close[1] != ':'))
			return cc_error_set(err, 0, "KBS URL \"%s\": bad IPv6 address", shown);
		host = xstrndup(authority + 1, (size_t)(close - authority - 1));
		port = close[1] ? close + 2 : NULL;
	} else {
		char *colon = strchr(authority, ':');
		host =
		    colon ? xstrndup(authority, (size_t)(colon - authority)) : xstrdup(authority);
		port = colon ? colon + 1 : NULL;
	}
	if (!host[0])
		return cc_error_set(err, 0, "KBS URL \"%s\": no host", shown);
	if (port && (!port[0] || strspn(port, "0123456789") != strlen(port) || strlen(port) > 5 ||
		     atoi(port) < 1 || atoi(port) > 65535))
		return cc_error_set(err, 0, "KBS URL \"%s\": bad port", shown);
	if (!https && !o->insecure_plain_http && !loopback_host(host))
		return cc_error_set(
		    err, 0,
		    "KBS URL \"%s\": plain HTTP only to a loopback address (nothing "
		    "authenticates the KBS without TLS); use https://",
		    shown);
	size_t len = strlen(url);
	while (len > 0 && url[len - 1] == '/')
		len--;
	k->base = xstrndup(url, len);
	k->shown = xasprintf("KBS %s", k->base);
	return 0;
}

/* ---- one HTTP exchange ---- */

struct answer {
	long status;
	struct crypt_buf body; /* wiped: it may be a token or a resource */
	size_t cap;
	bool too_big;
	char *cookie; /* from Set-Cookie, wiped */
};

static void answer_clear(struct answer *a)
{
	crypt_buf_wipe(&a->body);
	crypt_str_wipe(&a->cookie);
	memset(a, 0, sizeof(*a));
}

/* The body grows in a buffer sized ahead (never realloc'ed: a secret must not be left behind in
 * freed memory), up to ATTEST_KBS_ANSWER_MAX. */
static size_t body_cb(char *p, size_t size, size_t n, void *arg)
{
	struct answer *a = arg;
	size_t len = size * n;
	if (len > ATTEST_KBS_ANSWER_MAX - a->body.len) {
		a->too_big = true;
		return 0;
	}
	if (a->body.len + len + 1 > a->cap) {
		size_t cap = a->cap ? a->cap : 4096, have = a->body.len;
		while (cap < have + len + 1)
			cap *= 2;
		unsigned char *q = xmalloc(cap);
		if (have)
			memcpy(q, a->body.p, have);
		crypt_buf_wipe(&a->body);
		a->body.p = q;
		a->body.len = have;
		a->cap = cap;
	}
	memcpy(a->body.p + a->body.len, p, len);
	a->body.len += len;
	a->body.p[a->body.len] = '\0';
	return len;
}

static size_t header_cb(char *p, size_t size, size_t n, void *arg)
{
	struct answer *a = arg;
	size_t len = size * n;
	static const char name[] = "set-cookie:";
	if (len < sizeof(name) || strncasecmp(p, name, sizeof(name) - 1) != 0)
		return len;
	const char *v = p + sizeof(name) - 1, *end = p + len;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	size_t vlen = (size_t)(end - v);
	if (vlen > sizeof(COOKIE) && !strncmp(v, COOKIE "=", sizeof(COOKIE))) {
		size_t n_value = 0;
		while (sizeof(COOKIE) + n_value < vlen && v[sizeof(COOKIE) + n_value] != ';' &&
		       v[sizeof(COOKIE) + n_value] != '\r' && v[sizeof(COOKIE) + n_value] != '\n')
			n_value++;
		crypt_str_wipe(&a->cookie);
		if (n_value > 0 && n_value <= COOKIE_MAX)
			a->cookie = xstrndup(v, sizeof(COOKIE) + n_value);
	}
	return len;
}

/* A problem (RFC 7807) detail from the KBS, shown as untrusted text: "AttestationError: ..". */
static char *problem_text(const struct answer *a)
{
	_cleanup_json_ json_t *j = json_loadb((const char *)a->body.p, a->body.len, 0, NULL);
	const char *type = json_string_value(json_object_get(j, "type"));
	const char *detail = json_string_value(json_object_get(j, "detail"));
	char t[CC_SHOWN_BUF], d[CC_SHOWN_BUF];
	if (!detail)
		return xstrdup("");
	const char *kind = type ? strrchr(type, '/') : NULL;
	kind = kind ? kind + 1 : type;
	cc_shown(kind ? kind : "", kind ? strnlen(kind, DETAIL_MAX) : 0, t);
	cc_shown(detail, strnlen(detail, DETAIL_MAX), d);
	return xasprintf(": %s%s%s", t, t[0] ? ": " : "", d);
}

/* ---- RA-TLS ---- */

/* libcurl calls this with each new connection's SSL_CTX (OpenSSL backend). */
static CURLcode ssl_ctx_cb(CURL *c, void *ssl_ctx, void *arg)
{
	struct attest_kbs *k = arg;
	(void)c;
	if (SSL_CTX_use_certificate(ssl_ctx, k->tls_cert) != 1 ||
	    SSL_CTX_use_PrivateKey(ssl_ctx, k->tls_key) != 1)
		return CURLE_SSL_CERTPROBLEM;
	return CURLE_OK;
}

/* The client certificate, made once: its evidence binds its key (ratls.h). */
static int ra_tls_cert(struct attest_kbs *k, struct cc_error **err)
{
	if (k->tls_cert)
		return 0;
	time_t now = time(NULL);
	struct attest_ratls_make_opts o = { .subject_cn = "rune enclave-agent",
					    .not_before = now - 60,
					    .not_after = now + 24 * 3600,
					    .evidence = k->evidence,
					    .evidence_ctx = k->evidence_ctx };
	if (!(k->tls_key = o.key = attest_ratls_key_new(err)) ||
	    !(k->tls_cert = attest_ratls_make(&o, err))) {
		cc_error_prefix(err, "%s: RA-TLS client certificate", k->shown);
		(*err)->code = ATTEST_KBS_ERR_EVIDENCE;
		return -1;
	}
	return 0;
}

/*
 * One request to PREFIX + path: a POST of body (JSON) when body is not NULL, else a GET. 0 with
 * a 2xx answer in *a, or -1 naming what went wrong (a failed status is an error too).
 */
static int request(struct attest_kbs *k, const char *path, const char *body, struct answer *a,
		   struct cc_error **err)
{
	_cleanup_free_ char *url = xasprintf("%s" PREFIX "%s", k->base, path);
	struct curl_slist *h = NULL;
	CURL *c = k->curl;

	memset(a, 0, sizeof(*a));
	if (k->ra_tls && ra_tls_cert(k, err) < 0)
		return -1;
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, k->timeout_s);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, k->timeout_s < 10 ? k->timeout_s : 10L);
	if (k->ca_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, k->ca_file);
	if (k->ra_tls) {
		curl_easy_setopt(c, CURLOPT_SSL_CTX_FUNCTION, ssl_ctx_cb);
		curl_easy_setopt(c, CURLOPT_SSL_CTX_DATA, k);
	}
	h = curl_slist_append(h, "Accept: application/json");
	h = curl_slist_append(h, "Expect:");
	if (body) {
		h = curl_slist_append(h, "Content-Type: application/json");
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	/* The cookie goes through CURLOPT_COOKIE: libcurl copies it and its cookie engine stays
	 * off (nothing is kept across requests but what this code keeps). */
	if (k->cookie)
		curl_easy_setopt(c, CURLOPT_COOKIE, k->cookie);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, body_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, a);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, a);
	CURLcode cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a->status);
	k->last_status = a->status;
	curl_easy_setopt(c, CURLOPT_COOKIE, NULL);
	curl_slist_free_all(h);

	int code = ATTEST_KBS_ERR_UNAVAILABLE;
	if (a->too_big) {
		code = ATTEST_KBS_ERR_PROTOCOL;
		cc_error_set(err, 0, "%s: %s: the answer is larger than %u bytes", k->shown, path,
			     ATTEST_KBS_ANSWER_MAX);
	} else if (cc == CURLE_OPERATION_TIMEDOUT) {
		cc_error_set(err, 0, "%s: %s: no answer within %ld s", k->shown, path,
			     k->timeout_s);
	} else if (cc != CURLE_OK) {
		cc_error_set(err, 0, "%s: %s: %s", k->shown, path, curl_easy_strerror(cc));
	} else if (a->status >= 200 && a->status < 300) {
		return 0;
	} else {
		_cleanup_free_ char *why = problem_text(a);
		if (a->status == 401 || a->status == 403)
			code = ATTEST_KBS_ERR_REFUSED;
		else if (a->status == 404)
			code = ATTEST_KBS_ERR_NOT_FOUND;
		else if (a->status < 500)
			code = ATTEST_KBS_ERR_PROTOCOL;
		cc_error_set(err, 0, "%s: %s %s (HTTP %ld)%s", k->shown, path,
			     code == ATTEST_KBS_ERR_REFUSED ? "refused" : "failed", a->status, why);
	}
	(*err)->code = code;
	answer_clear(a);
	return -1;
}

/* The JSON object of a 2xx answer. */
static json_t *answer_json(struct attest_kbs *k, const char *path, const struct answer *a,
			   struct cc_error **err)
{
	json_t *j = json_loadb((const char *)a->body.p, a->body.len, JSON_REJECT_DUPLICATES, NULL);
	if (json_is_object(j))
		return j;
	json_decref(j);
	cc_error_set(err, 0, "%s: %s: the answer is not a JSON object", k->shown, path);
	(*err)->code = ATTEST_KBS_ERR_PROTOCOL;
	return NULL;
}

static int protocol_error(struct attest_kbs *k, struct cc_error **err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int protocol_error(struct attest_kbs *k, struct cc_error **err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cc_error_setv(err, 0, fmt, ap);
	va_end(ap);
	cc_error_prefix(err, "%s", k->shown);
	(*err)->code = ATTEST_KBS_ERR_PROTOCOL;
	return -1;
}

/* ---- the session ---- */

static void session_end(struct attest_kbs *k)
{
	EVP_PKEY_free(k->tee_key);
	k->tee_key = NULL;
	crypt_str_wipe(&k->cookie);
	crypt_str_wipe(&k->token);
	k->attested = false;
}

/* POST /auth: a new session (its cookie) and the challenge's nonce and hash algorithm. */
static int auth(struct attest_kbs *k, char **nonce, enum attest_hash_alg *alg,
		struct cc_error **err)
{
	const char *tee = k->tee == ATTEST_KBS_SGX ? "sgx" : ATTEST_KBS_TEE_SIM;
	_cleanup_json_ json_t *req =
	    json_pack("{s:s, s:s, s:{s:[s,s,s]}}", "version", PROTOCOL_VERSION, "tee", tee,
		      "extra-params", "supported-hash-algorithms", "sha384", "sha256", "sha512");
	_cleanup_free_ char *body = json_dumps(req, JSON_COMPACT);
	struct answer a;
	k->stats.auths++;
	if (request(k, "/auth", body, &a, err) < 0)
		return -1;
	_cleanup_json_ json_t *j = answer_json(k, "/auth", &a, err);
	_cleanup_free_ char *cookie = a.cookie;
	a.cookie = NULL;
	answer_clear(&a);
	if (!j) {
		crypt_str_wipe(&cookie);
		return -1;
	}
	const char *n = json_string_value(json_object_get(j, "nonce"));
	if (!n || !n[0] || strlen(n) > NONCE_MAX) {
		crypt_str_wipe(&cookie);
		return protocol_error(k, err,
				      "/auth: the challenge has no nonce (a string of 1 to "
				      "%d bytes)",
				      NONCE_MAX);
	}
	if (!cookie)
		return protocol_error(k, err, "/auth: no " COOKIE " cookie in the answer");
	*alg = ATTEST_HASH_SHA384;
	const char *chosen =
	    json_string_value(json_object_get(json_object_get(j, "extra-params"), "selected-hash-"
										  "algorithm"));
	if (chosen && attest_hash_alg_parse(chosen, alg, err) < 0) {
		crypt_str_wipe(&cookie);
		cc_error_prefix(err, "%s: /auth", k->shown);
		(*err)->code = ATTEST_KBS_ERR_PROTOCOL;
		return -1;
	}
	crypt_str_wipe(&k->cookie);
	k->cookie = cookie;
	cookie = NULL;
	*nonce = xstrdup(n);
	return 0;
}

/* The TEE key's public JWK as the KBS wants it (the alg it will wrap with). */
static json_t *tee_pubkey(EVP_PKEY *key)
{
	json_t *jwk = crypt_jwa_ec_to_jwk(key);
	json_object_set_new(jwk, "alg", json_string("ECDH-ES+A256KW"));
	return jwk;
}

static json_t *primary_evidence(enum attest_kbs_tee tee, const uint8_t *ev, size_t len)
{
	_cleanup_free_ char *b64 = crypt_b64_encode(ev, len, CRYPT_B64_STD);
	return json_pack("{s:s}", tee == ATTEST_KBS_SGX ? "quote" : "evidence", b64);
}

static int attest_locked(struct attest_kbs *k, struct cc_error **err)
{
	_cleanup_free_ char *nonce = NULL;
	enum attest_hash_alg alg;
	uint8_t report_data[64];

	session_end(k);
	if (auth(k, &nonce, &alg, err) < 0)
		return -1;
	k->tee_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (!k->tee_key)
		return cc_error_set(err, 0, "%s: cannot make the TEE key", k->shown);
	_cleanup_json_ json_t *jwk = tee_pubkey(k->tee_key);
	if (attest_kbs_report_data(jwk, nonce, "", alg, report_data, err) < 0)
		return cc_error_prefix(err, "%s", k->shown);

	_cleanup_free_ uint8_t *ev = NULL;
	size_t ev_len = 0;
	if (k->evidence(k->evidence_ctx, report_data, &ev, &ev_len, err) < 0) {
		cc_error_prefix(err, "%s: evidence", k->shown);
		(*err)->code = ATTEST_KBS_ERR_EVIDENCE;
		return -1;
	}
	_cleanup_json_ json_t *req =
	    json_pack("{s:n, s:{s:s, s:O}, s:{s:o, s:s}}", "init-data", "runtime-data", "nonce",
		      nonce, "tee-pubkey", jwk, "tee-evidence", "primary_evidence",
		      primary_evidence(k->tee, ev, ev_len), "additional_evidence", "");
	_cleanup_free_ char *body = json_dumps(req, JSON_COMPACT);
	struct answer a;
	if (request(k, "/attest", body, &a, err) < 0)
		return -1;
	_cleanup_json_ json_t *j = answer_json(k, "/attest", &a, err);
	answer_clear(&a);
	if (!j)
		return -1;
	const char *token = json_string_value(json_object_get(j, "token"));
	if (!token || !token[0])
		return protocol_error(k, err, "/attest: the answer has no token");
	k->token = xstrdup(token);
	k->attested = true;
	k->stats.attestations++;
	return 0;
}

/* ---- resources ---- */

static bool valid_part(const char *s, size_t n)
{
	if (n == 0 || n > 255 || (n == 1 && s[0] == '.') || (n == 2 && !strncmp(s, "..", 2)))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-",
			    s[i]))
			return false;
	return true;
}

static bool valid_path(const char *path)
{
	const char *s = path;
	for (int part = 0; part < 3; part++) {
		size_t n = strcspn(s, "/");
		if (!valid_part(s, n) || (part < 2 && s[n] != '/') || (part == 2 && s[n]))
			return false;
		s += n + 1;
	}
	return true;
}

/* The JWE answer of a resource: ECDH-ES+A256KW to our TEE key, A256GCM. */
static int open_resource(struct attest_kbs *k, const char *what, const struct answer *a,
			 struct crypt_buf *out, struct cc_error **err)
{
	struct crypt_jwe *jwe = NULL;
	if (crypt_jwe_parse(a->body.p, a->body.len, &jwe, err) < 0) {
		cc_error_prefix(err, "%s: %s: the answer is not a JWE", k->shown, what);
		(*err)->code = ATTEST_KBS_ERR_PROTOCOL;
		return -1;
	}
	EVP_PKEY *keys[1] = { k->tee_key };
	int r = crypt_jwe_decrypt(jwe, keys, 1, out, err);
	crypt_jwe_free(jwe);
	if (r < 0) {
		cc_error_prefix(err,
				"%s: %s: the answer does not decrypt with this session's TEE "
				"key",
				k->shown, what);
		(*err)->code = ATTEST_KBS_ERR_PROTOCOL;
	}
	return r;
}

int attest_kbs_get_resource(struct attest_kbs *k, const char *path, struct crypt_buf *out,
			    struct cc_error **err)
{
	char shown[CC_SHOWN_BUF];
	if (!valid_path(path)) {
		cc_shown(path, strlen(path), shown);
		return cc_error_set(err, 0,
				    "%s: resource \"%s\": not <repository>/<type>/<tag> (letters, "
				    "digits, '.', '_', '-')",
				    k->shown, shown);
	}
	_cleanup_free_ char *what = xasprintf("/resource/%s", path);
	int ret = -1;
	pthread_mutex_lock(&k->lock);
	/* A session attested earlier may have expired on the KBS: attest once more, once. */
	bool fresh = !k->attested;
	for (int attempt = 0; attempt < 2; attempt++) {
		if (!k->attested) {
			fresh = true;
			if (attest_locked(k, err) < 0)
				break;
		}
		struct answer a;
		k->stats.resources++;
		if (request(k, what, NULL, &a, err) < 0) {
			if (!fresh && k->last_status == 401) {
				cc_error_free(err);
				session_end(k);
				continue;
			}
			break;
		}
		ret = open_resource(k, what, &a, out, err);
		answer_clear(&a);
		break;
	}
	pthread_mutex_unlock(&k->lock);
	return ret;
}

int attest_kbs_attest(struct attest_kbs *k, struct cc_error **err)
{
	pthread_mutex_lock(&k->lock);
	int r = k->attested ? 0 : attest_locked(k, err);
	pthread_mutex_unlock(&k->lock);
	return r;
}

/* ---- the client ---- */

struct attest_kbs *attest_kbs_new(const struct attest_kbs_opts *o, struct cc_error **err)
{
	struct attest_kbs *k = xzalloc(sizeof(*k));
	pthread_mutex_init(&k->lock, NULL);
	if (parse_url(k, o, err) < 0) {
		attest_kbs_free(k);
		return NULL;
	}
	if (o->tee != ATTEST_KBS_SGX && o->tee != ATTEST_KBS_SIM) {
		cc_error_set(err, 0, "%s: unknown TEE type %d", k->shown, (int)o->tee);
		attest_kbs_free(k);
		return NULL;
	}
	if (!o->evidence) {
		cc_error_set(err, 0, "%s: no evidence source", k->shown);
		attest_kbs_free(k);
		return NULL;
	}
	if (o->ra_tls && strncmp(k->base, "https://", 8) != 0) {
		cc_error_set(err, 0, "%s: RA-TLS needs an https:// KBS", k->shown);
		attest_kbs_free(k);
		return NULL;
	}
	k->ra_tls = o->ra_tls;
	k->tee = o->tee;
	k->evidence = o->evidence;
	k->evidence_ctx = o->evidence_ctx;
	k->ca_file = o->ca_file ? xstrdup(o->ca_file) : NULL;
	k->timeout_s = o->timeout_s ? (long)o->timeout_s : ATTEST_KBS_TIMEOUT_S;
	k->curl = curl_easy_init();
	if (!k->curl) {
		cc_error_set(err, 0, "%s: cannot set up an HTTP client", k->shown);
		attest_kbs_free(k);
		return NULL;
	}
	return k;
}

void attest_kbs_get_stats(struct attest_kbs *k, struct attest_kbs_stats *s)
{
	pthread_mutex_lock(&k->lock);
	*s = k->stats;
	pthread_mutex_unlock(&k->lock);
}

const char *attest_kbs_name(const struct attest_kbs *k)
{
	return k->shown;
}

void attest_kbs_free(struct attest_kbs *k)
{
	if (!k)
		return;
	session_end(k);
	if (k->curl)
		curl_easy_cleanup(k->curl);
	X509_free(k->tls_cert);
	EVP_PKEY_free(k->tls_key);
	pthread_mutex_destroy(&k->lock);
	free(k->base);
	free(k->shown);
	free(k->ca_file);
	free(k);
}
