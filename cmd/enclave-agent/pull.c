// SPDX-License-Identifier: Apache-2.0
/*
 * grpc.Image/PullImage. Concurrent calls for the same normalised reference share one pull (a
 * "flight"): the first caller runs it, later ones wait for its result, each within its own
 * deadline. The pull is cancelled only when every caller waiting for it has gone (deadline,
 * disconnect, shutdown). Different references that share layers meet in the store, whose
 * per-layer lock makes the second one wait for the first's unpack instead of fetching again.
 *
 * Callers with different credentials never share a result: a later one waits for the running
 * flight to end and then pulls with its own, so that a refused caller cannot ride on somebody
 * else's credentials, and two pulls never write the same image record at once.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/crypto.h>
#include "agent.h"
#include "image.pb-c.h"
#include "image/error.h"
#include "image/reference.h"
#include "image/stream.h"
#include "util/cleanup.h"
#include "util/json.h"
#include "util/log.h"

struct waiter {
	struct waiter *next;
	const struct tt_call *call;
};

struct agent_flight {
	struct agent_flight *next;
	struct agent *agent;
	char *ref;	    /* normalised reference */
	char *creds_digest; /* sha256 of source_creds: compared, never the secret itself */
	struct waiter *waiters;
	unsigned users; /* handlers holding a pointer to the flight */
	bool done, abandoned;
	json_t *record; /* result: the store's image record, or */
	struct cc_error *error;
};

int64_t agent_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* ---- busy references ---- */

struct agent_busy {
	struct agent_busy *next;
	char *ref;
	unsigned n;
};

void agent_busy_add(struct agent *a, const char *ref)
{
	pthread_mutex_lock(&a->lock);
	struct agent_busy *b = a->busy;
	while (b && strcmp(b->ref, ref) != 0)
		b = b->next;
	if (!b) {
		b = xzalloc(sizeof(*b));
		b->ref = xstrdup(ref);
		b->next = a->busy;
		a->busy = b;
	}
	b->n++;
	pthread_mutex_unlock(&a->lock);
}

void agent_busy_del(struct agent *a, const char *ref)
{
	pthread_mutex_lock(&a->lock);
	for (struct agent_busy **pp = &a->busy; *pp; pp = &(*pp)->next) {
		struct agent_busy *b = *pp;
		if (strcmp(b->ref, ref) != 0)
			continue;
		if (--b->n == 0) {
			*pp = b->next;
			free(b->ref);
			free(b);
		}
		break;
	}
	pthread_mutex_unlock(&a->lock);
}

/* Caller holds a->lock. */
bool agent_busy_has(struct agent *a, const char *ref)
{
	for (struct agent_busy *b = a->busy; b; b = b->next)
		if (!strcmp(b->ref, ref))
			return true;
	return false;
}

/* ---- flights ---- */

/* The pull's cancel hook (called from its threads): true once no caller wants the result.
 * Sticky, and the flight is then left to finish alone: newcomers start a fresh one. */
static bool flight_cancelled(void *ctx)
{
	struct agent_flight *f = ctx;
	pthread_mutex_lock(&f->agent->lock);
	bool all = true;
	for (struct waiter *w = f->waiters; w && all; w = w->next)
		all = tt_call_cancelled(w->call);
	if (all)
		f->abandoned = true;
	all = f->abandoned;
	pthread_mutex_unlock(&f->agent->lock);
	return all;
}

static void waiter_add(struct agent_flight *f, struct waiter *w, const struct tt_call *call)
{
	w->call = call;
	w->next = f->waiters;
	f->waiters = w;
	f->users++;
}

static void waiter_del(struct agent_flight *f, struct waiter *w)
{
	for (struct waiter **pp = &f->waiters; *pp; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			break;
		}
}

/* Drop a handler's hold on a finished flight. Caller holds a->lock. */
static void flight_put(struct agent_flight *f)
{
	if (--f->users || !f->done)
		return;
	json_decref(f->record);
	cc_error_free(&f->error);
	free(f->ref);
	free(f->creds_digest);
	free(f);
}

static void flight_unlink(struct agent *a, struct agent_flight *f)
{
	for (struct agent_flight **pp = &a->flights; *pp; pp = &(*pp)->next)
		if (*pp == f) {
			*pp = f->next;
			break;
		}
}

/* Wait (a->lock held) until f is done or the call gives up; false when it gave up. */
static bool wait_done(struct agent *a, struct agent_flight *f, const struct tt_call *call)
{
	while (!f->done) {
		if (tt_call_cancelled(call))
			return false;
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += 50 * 1000000L; /* the call's cancel flag has no wake-up of its own */
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&a->cond, &a->lock, &ts);
	}
	return true;
}

static int gave_up(const struct tt_call *call, struct cc_error **err)
{
	bool late = tt_call_remaining_ns(call) <= 0;
	return tt_error_status(err, late ? TT_DEADLINE_EXCEEDED : TT_CANCELLED, "%s",
			       late ? "deadline exceeded while waiting for the pull"
				    : "cancelled while waiting for the pull");
}

/* The result of a finished flight, copied for one handler. */
static json_t *flight_result(const struct agent_flight *f, struct cc_error **err)
{
	if (f->record)
		return json_deep_copy(f->record);
	cc_error_set(err, 0, "%s", f->error ? f->error->msg : "pull failed");
	(*err)->code = f->error ? f->error->code : 0;
	return NULL;
}

struct pull_args {
	const char *ref;
	const char *user, *password; /* NULL: anonymous / auth file */
	const char *creds_digest;
};

/* Run the pull of a new flight (its leader, waiter me) and publish the result. */
static json_t *lead(struct agent *a, struct agent_flight *f, struct waiter *me,
		    const struct pull_args *p, struct cc_error **err)
{
	struct img_pull_opts o = { .registry = a->registry,
				   .jobs = a->jobs,
				   .keys = a->keys,
				   .gate = a->gate.check ? &a->gate : NULL };
	o.registry.username = p->user;
	o.registry.password = p->password;
	o.cancelled = flight_cancelled;
	o.cancel_ctx = f;
	struct cc_error *e = NULL;
	json_t *record = NULL;
	/* Registry credentials from the key broker: fetched for each pull, wiped after it. */
	_cleanup_wipe_ struct crypt_buf auth = { 0 };
	if (a->kbs_auth && !p->user && agent_kbs_resource(a->kbs_auth, &auth, &e) < 0) {
		cc_error_prefix(&e, "registry credentials");
	} else {
		o.registry.auth_json = a->kbs_auth && !p->user ? (const char *)auth.p : NULL;
		o.registry.auth_json_len = auth.len;
		record = img_pull(a->store, p->ref, &o, &e);
	}
	pthread_mutex_lock(&a->lock);
	f->done = true;
	f->record = record;
	f->error = e;
	waiter_del(f, me);
	flight_unlink(a, f);
	a->pulls--;
	pthread_cond_broadcast(&a->cond);
	json_t *out = flight_result(f, err);
	flight_put(f);
	pthread_mutex_unlock(&a->lock);
	return out;
}

/* The image record for p->ref: from a flight already running for it, or from a new one. */
static json_t *pull_once(struct agent *a, const struct pull_args *p, const struct tt_call *call,
			 struct cc_error **err)
{
	struct waiter me;
	pthread_mutex_lock(&a->lock);
	for (;;) {
		struct agent_flight *f = a->flights;
		while (f && (f->abandoned || strcmp(f->ref, p->ref) != 0))
			f = f->next;
		if (!f)
			break;
		/* Only a caller that wants the result keeps the flight from being abandoned. */
		bool same = !strcmp(f->creds_digest, p->creds_digest);
		if (same)
			waiter_add(f, &me, call);
		else
			f->users++;
		bool ok = wait_done(a, f, call);
		if (same)
			waiter_del(f, &me);
		json_t *out = ok && same ? flight_result(f, err) : NULL;
		flight_put(f);
		if (!ok) {
			pthread_mutex_unlock(&a->lock);
			gave_up(call, err);
			return NULL;
		}
		if (same) {
			pthread_mutex_unlock(&a->lock);
			return out;
		}
		/* Other credentials: that flight is over, look again. */
	}
	struct agent_flight *f = xzalloc(sizeof(*f));
	f->agent = a;
	f->ref = xstrdup(p->ref);
	f->creds_digest = xstrdup(p->creds_digest);
	waiter_add(f, &me, call);
	f->next = a->flights;
	a->flights = f;
	a->pulls++;
	pthread_mutex_unlock(&a->lock);
	return lead(a, f, &me, p, err);
}

/* ---- the handler ---- */

/* Status code for a failure of this call: lib/image classes are mapped, ttrpc codes kept. */
static void finish_error(const struct tt_call *call, struct cc_error **err)
{
	int code = (*err)->code;
	if (code >= IMG_ERR_REFERENCE || code == 0)
		code = agent_status_code(code, tt_call_remaining_ns(call) <= 0);
	(*err)->code = code;
}

static void log_result(const Grpc__PullImageRequest *r, const json_t *rec, int64_t start,
		       const struct cc_error *err)
{
	char took[32];
	snprintf(took, sizeof(took), "%.3fs", (double)(agent_now_ns() - start) / 1e9);
	const char *digest = json_string_value(json_object_get(rec, "manifest"));
	struct cc_log_field f[] = {
		{ "image", r->image },
		{ "cid", r->container_id },
		{ "digest", digest },
		{ "duration", took },
		{ "code", err ? tt_code_name(err->code) : NULL },
	};
	if (err)
		cc_log_fields(CC_LOG_WARNING, f, ARRAY_SIZE(f), "pulling %s failed: %s", r->image,
			      err->msg);
	else
		cc_log_fields(CC_LOG_INFO, f, ARRAY_SIZE(f), "pulling %s successful", r->image);
}

/* source_creds "user[:password]" split in place; the caller wipes the request's copy. */
static void split_creds(char *creds, struct pull_args *p)
{
	if (!*creds)
		return;
	char *colon = strchr(creds, ':');
	if (colon)
		*colon = '\0';
	p->user = creds;
	p->password = colon ? colon + 1 : "";
}

/* Checks, pull (shared), layout; the record on success. */
static json_t *serve(struct agent *a, struct tt_call *call, Grpc__PullImageRequest *r,
		     struct cc_error **err)
{
	struct img_ref ref;
	if (agent_cid_check(r->container_id, err) < 0) {
		(*err)->code = TT_INVALID_ARGUMENT;
		return NULL;
	}
	if (img_ref_parse(r->image, &ref, err) < 0) {
		(*err)->code = TT_INVALID_ARGUMENT;
		return NULL;
	}

	_cleanup_free_ char *name = img_ref_string(&ref);
	img_ref_clear(&ref);
	if (agent_security_check(a, err) < 0)
		return NULL;
	_cleanup_free_ char *creds_digest =
	    img_digest_buf(r->source_creds, strlen(r->source_creds));
	struct pull_args p = { .ref = name, .creds_digest = creds_digest };
	split_creds(r->source_creds, &p);
	agent_busy_add(a, name);
	pthread_rwlock_rdlock(&a->gc_lock);
	json_t *rec = pull_once(a, &p, call, err);
	OPENSSL_cleanse(r->source_creds, strlen(r->source_creds));
	if (p.password)
		OPENSSL_cleanse((char *)p.password, strlen(p.password));
	/* A caller that has gone gets no layout: it was told the pull failed. */
	if (rec && tt_call_cancelled(call)) {
		gave_up(call, err);
		json_decref(rec);
		rec = NULL;
	}
	if (rec && agent_layout_write(a, r->container_id, r->image, rec, err) < 0) {
		json_decref(rec);
		rec = NULL;
	}
	pthread_rwlock_unlock(&a->gc_lock);
	agent_busy_del(a, name);
	return rec;
}

int agent_pull_image(struct tt_call *call, const uint8_t *req, size_t len, uint8_t **resp,
		     size_t *resp_len, void *data, struct cc_error **err)
{
	struct agent *a = data;
	/* Strings with a NUL byte are refused whole: a cid "a\0b" must not lay out "a". */
	Grpc__PullImageRequest *r = tt_unpack(&grpc__pull_image_request__descriptor, req, len, err);
	if (!r)
		return -1;
	int64_t start = agent_now_ns();
	pthread_mutex_lock(&a->lock);
	a->requests++;
	pthread_mutex_unlock(&a->lock);
	json_t *rec = serve(a, call, r, err);
	pthread_mutex_lock(&a->lock);
	a->requests--;
	pthread_mutex_unlock(&a->lock);
	agent_gc_if_due(a);
	if (!rec)
		finish_error(call, err);
	log_result(r, rec, start, rec ? NULL : *err);
	if (rec) {
		Grpc__PullImageResponse out = GRPC__PULL_IMAGE_RESPONSE__INIT;
		out.image_ref = r->image; /* upstream echoes the request */
		*resp_len = grpc__pull_image_response__get_packed_size(&out);
		*resp = xmalloc(*resp_len);
		grpc__pull_image_response__pack(&out, *resp);
	}
	OPENSSL_cleanse(r->source_creds, strlen(r->source_creds));
	grpc__pull_image_request__free_unpacked(r, NULL);
	json_decref(rec);
	return rec ? 0 : -1;
}
