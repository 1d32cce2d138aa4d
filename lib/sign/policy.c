// SPDX-License-Identifier: Apache-2.0
/* containers-policy.json(5), strictly. See policy.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "crypt/internal.h"
#include "sign/policy.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/strv.h"

#define POLICY_MAX (4u << 20)
#define KEYDATA_MAX (1u << 20)

static const char *const type_names[] = {
	[SIGN_REQ_INSECURE_ACCEPT_ANYTHING] = "insecureAcceptAnything",
	[SIGN_REQ_REJECT] = "reject",
	[SIGN_REQ_SIGNED_BY] = "signedBy",
	[SIGN_REQ_SIGSTORE_SIGNED] = "sigstoreSigned",
	[SIGN_REQ_SIGNED_BASE_LAYER] = "signedBaseLayer",
};

const char *sign_req_type_name(enum sign_req_type t)
{
	return type_names[t];
}

static const char *const identity_names[] = {
	[SIGN_ID_MATCH_REPO_DIGEST_OR_EXACT] = "matchRepoDigestOrExact",
	[SIGN_ID_MATCH_EXACT] = "matchExact",
	[SIGN_ID_MATCH_REPOSITORY] = "matchRepository",
	[SIGN_ID_EXACT_REFERENCE] = "exactReference",
	[SIGN_ID_EXACT_REPOSITORY] = "exactRepository",
	[SIGN_ID_REMAP_IDENTITY] = "remapIdentity",
};

/* ---- freeing ---- */

static void keysource_clear(struct sign_keysource *k)
{
	cc_strv_free(k->paths);
	for (size_t i = 0; i < k->n_data; i++) {
		explicit_bzero(k->data[i], k->data_len[i]);
		free(k->data[i]);
	}
	free(k->data);
	free(k->data_len);
	*k = (struct sign_keysource){ 0 };
}

static void identity_clear(struct sign_identity *id)
{
	free(id->reference);
	free(id->repository);
	free(id->prefix);
	free(id->signed_prefix);
	*id = (struct sign_identity){ 0 };
}

static void reqs_free(struct sign_requirement *reqs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(reqs[i].where);
		free(reqs[i].key_type);
		keysource_clear(&reqs[i].keys);
		identity_clear(&reqs[i].identity);
	}
	free(reqs);
}

void sign_policy_free(struct sign_policy *p)
{
	if (!p)
		return;
	reqs_free(p->defaults, p->n_defaults);
	for (size_t i = 0; i < p->n_scopes; i++) {
		free(p->scopes[i].transport);
		free(p->scopes[i].scope);
		reqs_free(p->scopes[i].reqs, p->scopes[i].n_reqs);
	}
	free(p->scopes);
	free(p->name);
	free(p);
}

/* ---- signedIdentity ---- */

/* A named reference as policy.json must write it: parses, and with (want_tagged) or without
 * regard to a tag or digest. */
static int check_reference(const struct cc_json_reader *r, const char *path, const char *text,
			   bool want_tagged)
{
	struct img_ref ref;
	struct cc_error *e = NULL;
	if (img_ref_parse_named(text, &ref, &e) < 0) {
		int ret = cc_json_fail(r, path, "%s", e->msg);
		cc_error_free(&e);
		return ret;
	}
	bool tagged = ref.tag || ref.digest;
	img_ref_clear(&ref);
	if (want_tagged && !tagged)
		return cc_json_fail(r, path, "\"%s\" has neither a tag nor a digest", text);
	return 0;
}

/* remapIdentity's prefix and signedPrefix: a host[:port], or a repository name without tag or
 * digest. */
static int check_prefix(const struct cc_json_reader *r, const char *path, const char *text)
{
	if (!strchr(text, '/') && img_domain_valid(text))
		return 0;
	struct img_ref ref;
	struct cc_error *e = NULL;
	bool ok = img_ref_parse_named(text, &ref, &e) == 0;
	cc_error_free(&e);
	if (ok) {
		ok = !ref.tag && !ref.digest;
		img_ref_clear(&ref);
	}
	if (!ok) {
		char shown[CC_SHOWN_BUF];
		cc_shown(text, strlen(text), shown);
		return cc_json_fail(r, path, "\"%s\" is neither a host nor a repository name",
				    shown);
	}
	return 0;
}

static int parse_identity(const struct cc_json_reader *r, const json_t *o, const char *path,
			  struct sign_identity *id)
{
	_cleanup_free_ char *type = NULL;
	if (cc_json_str(r, o, path, "type", true, &type) < 0)
		return -1;
	size_t t = 0;
	while (t < sizeof(identity_names) / sizeof(*identity_names) &&
	       strcmp(type, identity_names[t]))
		t++;
	if (t == sizeof(identity_names) / sizeof(*identity_names)) {
		_cleanup_free_ char *p = cc_json_key_path(path, "type");
		char shown[CC_SHOWN_BUF];
		cc_shown(type, strlen(type), shown);
		return cc_json_fail(r, p, "unknown signedIdentity type \"%s\"", shown);
	}
	id->type = (enum sign_identity_type)t;
	static const char *const plain[] = { "type", NULL };
	static const char *const reference[] = { "type", "dockerReference", NULL };
	static const char *const repository[] = { "type", "dockerRepository", NULL };
	static const char *const remap[] = { "type", "prefix", "signedPrefix", NULL };
	_cleanup_free_ char *p1 = NULL, *p2 = NULL;
	switch (id->type) {
	case SIGN_ID_EXACT_REFERENCE:
		p1 = cc_json_key_path(path, "dockerReference");
		if (cc_json_known_keys(r, o, path, reference) < 0 ||
		    cc_json_str(r, o, path, "dockerReference", true, &id->reference) < 0)
			return -1;
		return check_reference(r, p1, id->reference, true);
	case SIGN_ID_EXACT_REPOSITORY:
		p1 = cc_json_key_path(path, "dockerRepository");
		if (cc_json_known_keys(r, o, path, repository) < 0 ||
		    cc_json_str(r, o, path, "dockerRepository", true, &id->repository) < 0)
			return -1;
		return check_reference(r, p1, id->repository, false);
	case SIGN_ID_REMAP_IDENTITY:
		p1 = cc_json_key_path(path, "prefix");
		p2 = cc_json_key_path(path, "signedPrefix");
		if (cc_json_known_keys(r, o, path, remap) < 0 ||
		    cc_json_str(r, o, path, "prefix", true, &id->prefix) < 0 ||
		    cc_json_str(r, o, path, "signedPrefix", true, &id->signed_prefix) < 0 ||
		    check_prefix(r, p1, id->prefix) < 0)
			return -1;
		return check_prefix(r, p2, id->signed_prefix);
	default:
		return cc_json_known_keys(r, o, path, plain);
	}
}

/* ---- keys ---- */

static int string_array(const struct cc_json_reader *r, const json_t *a, const char *path,
			char ***out)
{
	if (!json_array_size(a))
		return cc_json_fail(r, path, "must not be empty");
	char **v = xcalloc(json_array_size(a) + 1, sizeof(*v));
	size_t i;
	json_t *s;
	json_array_foreach (a, i, s) {
		_cleanup_free_ char *p = cc_json_index_path(path, i);
		if (!json_is_string(s) || strlen(json_string_value(s)) != json_string_length(s) ||
		    !json_string_length(s)) {
			cc_strv_free(v);
			return cc_json_fail(r, p,
					    json_is_string(s) ? "not a usable path"
							      : "expected string, got %s",
					    cc_json_type_name(s));
		}
		v[i] = xstrdup(json_string_value(s));
	}
	*out = v;
	return 0;
}

static int add_data(const struct cc_json_reader *r, const json_t *s, const char *path,
		    struct sign_keysource *k)
{
	if (!json_is_string(s))
		return cc_json_fail(r, path, "expected string, got %s", cc_json_type_name(s));
	struct crypt_buf b = { 0 };
	if (json_string_length(s) > KEYDATA_MAX / 3 * 4 ||
	    crypt_b64_decode(json_string_value(s), json_string_length(s), CRYPT_B64_STD, &b) < 0)
		return cc_json_fail(r, path, "not valid base64 (of at most %u bytes)", KEYDATA_MAX);
	k->data = xrealloc(k->data, (k->n_data + 1) * sizeof(*k->data));
	k->data_len = xrealloc(k->data_len, (k->n_data + 1) * sizeof(*k->data_len));
	k->data[k->n_data] = b.p;
	k->data_len[k->n_data++] = b.len;
	return 0;
}

/* Exactly one of the key sources names (NULL-terminated; the path ones first, then the data
 * ones), or none when allow_none (the other sources are checked by the caller). */
static int parse_keys(const struct cc_json_reader *r, const json_t *o, const char *path,
		      struct sign_keysource *k, int *given)
{
	static const char *const names[] = { "keyPath", "keyPaths", "keyData", "keyDatas" };
	for (size_t i = 0; i < 4; i++) {
		json_t *v = json_object_get(o, names[i]);
		if (!v || json_is_null(v))
			continue;
		if (++*given > 1)
			continue; /* the caller refuses more than one source */
		_cleanup_free_ char *p = cc_json_key_path(path, names[i]);
		int ret = 0;
		if (i == 0) {
			char *one = NULL;
			ret = cc_json_str(r, o, path, names[i], true, &one);
			if (ret == 0 && !*one) {
				free(one);
				return cc_json_fail(r, p, "must not be empty");
			}
			if (ret == 0) {
				k->paths = xcalloc(2, sizeof(*k->paths));
				k->paths[0] = one;
			}
		} else if (i == 1) {
			ret = json_is_array(v) ? string_array(r, v, p, &k->paths)
					       : cc_json_fail(r, p, "expected array, got %s",
							      cc_json_type_name(v));
		} else if (i == 2) {
			ret = add_data(r, v, p, k);
		} else if (!json_is_array(v) || !json_array_size(v)) {
			ret = cc_json_fail(
			    r, p, json_is_array(v) ? "must not be empty" : "expected array, got %s",
			    cc_json_type_name(v));
		} else {
			size_t j;
			json_t *s;
			json_array_foreach (v, j, s) {
				_cleanup_free_ char *pj = cc_json_index_path(p, j);
				if ((ret = add_data(r, s, pj, k)) < 0)
					break;
			}
		}
		if (ret < 0)
			return -1;
	}
	return 0;
}

/* An object of string members (fulcio, pki): strictly, each non-empty. */
static int string_object(const struct cc_json_reader *r, const json_t *o, const char *path,
			 const char *key, const char *const *names, bool *present)
{
	int ret;
	json_t *v = cc_json_member(r, o, path, key, JSON_OBJECT, false, &ret);
	if (!v)
		return ret;
	*present = true;
	_cleanup_free_ char *p = cc_json_key_path(path, key);
	if (cc_json_known_keys(r, v, p, names) < 0)
		return -1;
	for (const char *const *n = names; *n; n++) {
		_cleanup_free_ char *s = NULL;
		if (cc_json_str(r, v, p, *n, false, &s) < 0)
			return -1;
	}
	return 0;
}

/* ---- requirements ---- */

static const char *const signed_by_keys[] = { "type",	 "keyType",	   "keyPath", "keyPaths",
					      "keyData", "signedIdentity", NULL };
static const char *const sigstore_keys[] = { "type",
					     "keyPath",
					     "keyPaths",
					     "keyData",
					     "keyDatas",
					     "fulcio",
					     "pki",
					     "rekorPublicKeyPath",
					     "rekorPublicKeyPaths",
					     "rekorPublicKeyData",
					     "rekorPublicKeyDatas",
					     "signedIdentity",
					     NULL };

static int parse_signed_identity(const struct cc_json_reader *r, const json_t *o, const char *path,
				 struct sign_requirement *q)
{
	int ret;
	json_t *id = cc_json_member(r, o, path, "signedIdentity", JSON_OBJECT, false, &ret);
	if (!id)
		return ret; /* absent: matchRepoDigestOrExact (zero) */
	_cleanup_free_ char *p = cc_json_key_path(path, "signedIdentity");
	return parse_identity(r, id, p, &q->identity);
}

static int parse_signed_by(const struct cc_json_reader *r, const json_t *o, const char *path,
			   struct sign_requirement *q)
{
	static const char *const key_types[] = { "GPGKeys", "signedByGPGKeys", "X509Certificates",
						 "signedByX509CAs", NULL };
	if (cc_json_known_keys(r, o, path, signed_by_keys) < 0 ||
	    cc_json_str(r, o, path, "keyType", true, &q->key_type) < 0)
		return -1;
	const char *const *t = key_types;
	while (*t && strcmp(*t, q->key_type))
		t++;
	if (!*t) {
		_cleanup_free_ char *p = cc_json_key_path(path, "keyType");
		char shown[CC_SHOWN_BUF];
		cc_shown(q->key_type, strlen(q->key_type), shown);
		return cc_json_fail(r, p, "unknown keyType \"%s\"", shown);
	}
	int given = 0;
	if (parse_keys(r, o, path, &q->keys, &given) < 0)
		return -1;
	if (given != 1)
		return cc_json_fail(r, path,
				    "exactly one of keyPath, keyPaths and keyData is needed");
	return parse_signed_identity(r, o, path, q);
}

static int parse_sigstore(const struct cc_json_reader *r, const json_t *o, const char *path,
			  struct sign_requirement *q)
{
	static const char *const fulcio[] = { "caPath", "caData", "oidcIssuer", "subjectEmail",
					      NULL };
	static const char *const pki[] = { "caRootsPath",
					   "caRootsData",
					   "caIntermediatesPath",
					   "caIntermediatesData",
					   "subjectEmail",
					   "subjectHostname",
					   NULL };
	if (cc_json_known_keys(r, o, path, sigstore_keys) < 0)
		return -1;
	int given = 0;
	if (parse_keys(r, o, path, &q->keys, &given) < 0 ||
	    string_object(r, o, path, "fulcio", fulcio, &q->fulcio) < 0 ||
	    string_object(r, o, path, "pki", pki, &q->pki) < 0)
		return -1;
	given += q->fulcio + q->pki;
	if (given != 1)
		return cc_json_fail(r, path,
				    "exactly one of keyPath, keyPaths, keyData, keyDatas, fulcio "
				    "and pki is needed");
	/* Rekor keys: strings or arrays of strings, checked for shape only. */
	static const char *const rekor[] = { "rekorPublicKeyPath", "rekorPublicKeyPaths",
					     "rekorPublicKeyData", "rekorPublicKeyDatas" };
	for (size_t i = 0; i < 4; i++) {
		json_t *v = json_object_get(o, rekor[i]);
		if (!v || json_is_null(v))
			continue;
		q->rekor = true;
		_cleanup_free_ char *p = cc_json_key_path(path, rekor[i]);
		bool many = i % 2 == 1;
		if (many ? !json_is_array(v) : !json_is_string(v))
			return cc_json_fail(r, p, "expected %s, got %s", many ? "array" : "string",
					    cc_json_type_name(v));
	}
	return parse_signed_identity(r, o, path, q);
}

static int parse_requirement(const struct cc_json_reader *r, const json_t *o, const char *path,
			     struct sign_requirement *q)
{
	_cleanup_free_ char *type = NULL;
	if (!json_is_object(o))
		return cc_json_fail(r, path, "expected object, got %s", cc_json_type_name(o));
	if (cc_json_str(r, o, path, "type", true, &type) < 0)
		return -1;
	size_t t = 0;
	while (t < sizeof(type_names) / sizeof(*type_names) && strcmp(type, type_names[t]))
		t++;
	if (t == sizeof(type_names) / sizeof(*type_names)) {
		_cleanup_free_ char *p = cc_json_key_path(path, "type");
		char shown[CC_SHOWN_BUF];
		cc_shown(type, strlen(type), shown);
		return cc_json_fail(r, p, "unknown requirement type \"%s\"", shown);
	}
	q->type = (enum sign_req_type)t;
	q->where = xstrdup(path);
	static const char *const plain[] = { "type", NULL };
	static const char *const base_layer[] = { "type", "baseLayerIdentity", NULL };
	int ret;
	switch (q->type) {
	case SIGN_REQ_SIGNED_BY:
		return parse_signed_by(r, o, path, q);
	case SIGN_REQ_SIGSTORE_SIGNED:
		return parse_sigstore(r, o, path, q);
	case SIGN_REQ_SIGNED_BASE_LAYER: {
		if (cc_json_known_keys(r, o, path, base_layer) < 0)
			return -1;
		json_t *id =
		    cc_json_member(r, o, path, "baseLayerIdentity", JSON_OBJECT, true, &ret);
		if (!id)
			return ret;
		_cleanup_free_ char *p = cc_json_key_path(path, "baseLayerIdentity");
		return parse_identity(r, id, p, &q->identity);
	}
	default:
		return cc_json_known_keys(r, o, path, plain);
	}
}

static int parse_list(const struct cc_json_reader *r, const json_t *a, const char *path,
		      struct sign_requirement **out, size_t *n)
{
	if (!json_is_array(a))
		return cc_json_fail(r, path, "expected array, got %s", cc_json_type_name(a));
	if (!json_array_size(a))
		return cc_json_fail(r, path, "an empty list of requirements is not allowed");
	*n = json_array_size(a);
	*out = xcalloc(*n, sizeof(**out));
	for (size_t i = 0; i < *n; i++) {
		_cleanup_free_ char *p = cc_json_index_path(path, i);
		if (parse_requirement(r, json_array_get(a, i), p, &(*out)[i]) < 0)
			return -1;
	}
	return 0;
}

/* ---- scopes ---- */

/* atomic: host[:port][/namespace[/stream[:tag]]]. */
static bool atomic_scope_valid(const char *s)
{
	_cleanup_free_ char *copy = xstrdup(s);
	char *slash = strchr(copy, '/');
	if (slash)
		*slash = '\0';
	if (!img_domain_valid(copy))
		return false;
	if (!slash)
		return true;
	char *ns = slash + 1, *stream = strchr(ns, '/');
	if (stream)
		*stream++ = '\0';
	char *tag = stream ? strchr(stream, ':') : NULL;
	if (tag)
		*tag++ = '\0';
	const char *name_chars = "abcdefghijklmnopqrstuvwxyz0123456789._-";
	if (!*ns || strspn(ns, name_chars) != strlen(ns))
		return false;
	if (stream &&
	    (!*stream || strspn(stream, name_chars) != strlen(stream) || strchr(stream, '/')))
		return false;
	if (tag && (!*tag || strspn(tag, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
					 "0123456789_.-") != strlen(tag)))
		return false;
	return true;
}

/* The transport's own check of a scope ("" is always allowed; unknown transports are not
 * checked, as containers/image does not know their rules). */
static const char *scope_problem(const char *transport, const char *scope)
{
	if (!*scope)
		return NULL;
	if (!strcmp(transport, "atomic") && !atomic_scope_valid(scope))
		return "is not host[:port][/namespace[/stream[:tag]]]";
	if (!strcmp(transport, "docker-daemon") && img_digest_valid(scope))
		return "is an image ID, which cannot be a scope";
	if ((!strcmp(transport, "dir") || !strcmp(transport, "oci")) &&
	    (scope[0] != '/' || !strcmp(scope, "/")))
		return "is not an absolute directory other than \"/\"";
	return NULL;
}

static char *scope_path(const char *transport, const char *scope)
{
	char t[CC_SHOWN_BUF], s[CC_SHOWN_BUF];
	cc_shown(transport, strlen(transport), t);
	cc_shown(scope, strlen(scope), s);
	return xasprintf("transports.%s[\"%s\"]", t, s);
}

static int parse_transports(const struct cc_json_reader *r, const json_t *ts, struct sign_policy *p)
{
	const char *transport, *scope;
	json_t *scopes, *list;
	json_object_foreach ((json_t *)ts, transport, scopes) {
		_cleanup_free_ char *tp = cc_json_key_path("transports", transport);
		if (!json_is_object(scopes))
			return cc_json_fail(r, tp, "expected object, got %s",
					    cc_json_type_name(scopes));
		json_object_foreach (scopes, scope, list) {
			_cleanup_free_ char *sp = scope_path(transport, scope);
			const char *why = scope_problem(transport, scope);
			if (why)
				return cc_json_fail(r, sp, "scope %s", why);
			p->scopes = xrealloc(p->scopes, (p->n_scopes + 1) * sizeof(*p->scopes));
			struct sign_scope *s = &p->scopes[p->n_scopes++];
			*s = (struct sign_scope){ .transport = xstrdup(transport),
						  .scope = xstrdup(scope) };
			if (parse_list(r, list, sp, &s->reqs, &s->n_reqs) < 0)
				return -1;
		}
	}
	return 0;
}

struct sign_policy *sign_policy_parse(const char *name, const char *buf, size_t len,
				      struct cc_error **err)
{
	_cleanup_json_ json_t *j = cc_json_load_buf(name, buf, len, err);
	if (!j)
		return NULL;
	struct cc_json_reader r = { name, err };
	static const char *const top[] = { "default", "transports", NULL };
	if (cc_json_known_keys(&r, j, "", top) < 0)
		return NULL;
	struct sign_policy *p = xzalloc(sizeof(*p));
	p->name = xstrdup(name);
	int ret;
	json_t *def = json_object_get(j, "default");
	json_t *ts = cc_json_member(&r, j, "", "transports", JSON_OBJECT, false, &ret);
	if (!def)
		ret = cc_json_fail(&r, "default", "required");
	else if (ret == 0)
		ret = parse_list(&r, def, "default", &p->defaults, &p->n_defaults);
	if (ret == 0 && ts)
		ret = parse_transports(&r, ts, p);
	if (ret < 0) {
		sign_policy_free(p);
		return NULL;
	}
	return p;
}

struct sign_policy *sign_policy_load(const char *path, struct cc_error **err)
{
	size_t len;
	_cleanup_free_ char *buf = cc_read_file(path, POLICY_MAX, &len, err);
	if (!buf) {
		cc_error_prefix(err, "policy %s", path);
		return NULL;
	}
	_cleanup_free_ char *name = xasprintf("policy %s", path);
	struct sign_policy *p = sign_policy_parse(name, buf, len, err);
	if (p) {
		free(p->name);
		p->name = xstrdup(path);
	}
	return p;
}

/* ---- scope lookup ---- */

static const struct sign_scope *find_scope(const struct sign_policy *p, const char *transport,
					   const char *scope)
{
	for (size_t i = 0; i < p->n_scopes; i++)
		if (!strcmp(p->scopes[i].transport, transport) &&
		    !strcmp(p->scopes[i].scope, scope))
			return &p->scopes[i];
	return NULL;
}

static const struct sign_requirement *hit(const struct sign_scope *s, size_t *n, char **scope)
{
	*n = s->n_reqs;
	*scope = scope_path(s->transport, s->scope);
	return s->reqs;
}

const struct sign_requirement *sign_policy_for_docker(const struct sign_policy *p,
						      const struct img_ref *ref, size_t *n,
						      char **scope)
{
	const struct sign_scope *s;
	_cleanup_free_ char *identity = img_ref_string(ref);
	if ((s = find_scope(p, "docker", identity)))
		return hit(s, n, scope);
	/* The repository, then each parent namespace, then the host[:port]. */
	_cleanup_free_ char *name = img_ref_name(ref);
	for (char *slash; (s = find_scope(p, "docker", name)) == NULL;) {
		if (!(slash = strrchr(name, '/')))
			break;
		*slash = '\0';
	}
	if (s)
		return hit(s, n, scope);
	/* *.b.example.com, *.example.com, *.com from the host without its port. */
	_cleanup_free_ char *host = xstrndup(ref->domain, strcspn(ref->domain, ":"));
	for (const char *dot = strchr(host, '.'); dot; dot = strchr(dot + 1, '.')) {
		_cleanup_free_ char *wild = xasprintf("*%s", dot);
		if ((s = find_scope(p, "docker", wild)))
			return hit(s, n, scope);
	}
	if ((s = find_scope(p, "docker", "")))
		return hit(s, n, scope);
	*n = p->n_defaults;
	*scope = xstrdup("default");
	return p->defaults;
}
