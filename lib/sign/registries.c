// SPDX-License-Identifier: Apache-2.0
/*
 * registries.d, read strictly: libyaml's events become a small tree of our own (anchors
 * resolved when their node is complete, so an alias can never make a cycle; depth, node count
 * and the keys visited through aliases and merges bounded), then the schema walks the tree
 * with the path of every value in its messages. See registries.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>
#include "sign/registries.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"

#define MERGE_TAG "tag:yaml.org,2002:merge"

struct sign_ns {
	char *scope; /* the docker: key, or "default-docker" */
	char *file;  /* where it was defined, for messages */
	char *lookaside, *staging;
	bool attachments, has_attachments; /* use-sigstore-attachments, when it was there */
};

struct sign_registries {
	struct sign_ns *scopes;
	size_t n, cap;
	struct sign_ns dflt;
	bool has_dflt;
};

static void ns_clear(struct sign_ns *ns)
{
	free(ns->scope);
	free(ns->file);
	free(ns->lookaside);
	free(ns->staging);
	*ns = (struct sign_ns){ 0 };
}

void sign_registries_free(struct sign_registries *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++)
		ns_clear(&r->scopes[i]);
	free(r->scopes);
	ns_clear(&r->dflt);
	free(r);
}

/* ---- YAML: events to a tree ---- */

enum ykind { Y_SCALAR, Y_MAP, Y_SEQ };

struct ynode {
	enum ykind kind;
	char *text; /* a scalar's value (NUL-terminated; len says whether it holds a NUL) */
	size_t len;
	char *tag;	     /* an explicit tag, or NULL */
	bool plain;	     /* a plain scalar without a tag: its type comes from its text */
	struct ynode **kids; /* a mapping: key, value, key, value...; a sequence: its items */
	size_t n, cap;
	size_t line, col; /* 1-based */
};

struct yanchor {
	char *name;
	struct ynode *node;
};

struct ydoc {
	struct ynode **all; /* every node, owned here (aliases only point) */
	size_t n_all, cap_all;
	struct yanchor *anchors;
	size_t n_anchors, cap_anchors;
	struct ynode *root;
};

static void ydoc_clear(struct ydoc *d)
{
	for (size_t i = 0; i < d->n_all; i++) {
		free(d->all[i]->text);
		free(d->all[i]->tag);
		free(d->all[i]->kids);
		free(d->all[i]);
	}
	free(d->all);
	for (size_t i = 0; i < d->n_anchors; i++)
		free(d->anchors[i].name);
	free(d->anchors);
	*d = (struct ydoc){ 0 };
}

static void *grow(void *v, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return v;
	*cap = *cap ? *cap * 2 : 8;
	if (*cap < need)
		*cap = need;
	return xreallocarray(v, *cap, size);
}

static void anchor_add(struct ydoc *d, const unsigned char *name, struct ynode *node)
{
	if (!name)
		return;
	d->anchors = grow(d->anchors, &d->cap_anchors, d->n_anchors + 1, sizeof(*d->anchors));
	d->anchors[d->n_anchors++] = (struct yanchor){ xstrdup((const char *)name), node };
}

/* The latest complete node of that anchor (YAML lets a name be anchored again). */
static struct ynode *anchor_find(const struct ydoc *d, const unsigned char *name)
{
	for (size_t i = d->n_anchors; i-- > 0;)
		if (!strcmp(d->anchors[i].name, (const char *)name))
			return d->anchors[i].node;
	return NULL;
}

struct yload {
	const char *name;
	struct cc_error **err;
	struct ydoc *d;
	struct ynode *stack[SIGN_REGISTRIES_DEPTH_MAX];
	unsigned char *stack_anchor[SIGN_REGISTRIES_DEPTH_MAX];
	size_t depth;
	unsigned docs;
};

static int yfail(struct yload *l, const yaml_mark_t *m, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int yfail(struct yload *l, const yaml_mark_t *m, const char *fmt, ...)
{
	va_list ap;
	_cleanup_free_ char *msg = NULL;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		abort();
	va_end(ap);
	return cc_error_set(l->err, 0, "%s: line %zu column %zu: %s", l->name, m->line + 1,
			    m->column + 1, msg);
}

static int yattach(struct yload *l, struct ynode *node)
{
	if (!l->depth) {
		l->d->root = node;
		return 0;
	}
	struct ynode *parent = l->stack[l->depth - 1];
	parent->kids = grow(parent->kids, &parent->cap, parent->n + 1, sizeof(*parent->kids));
	parent->kids[parent->n++] = node;
	return 0;
}

static struct ynode *ynew(struct yload *l, enum ykind kind, const yaml_event_t *ev)
{
	struct ydoc *d = l->d;
	if (d->n_all >= SIGN_REGISTRIES_NODES_MAX) {
		yfail(l, &ev->start_mark, "more than %u YAML nodes", SIGN_REGISTRIES_NODES_MAX);
		return NULL;
	}
	struct ynode *node = xzalloc(sizeof(*node));
	node->kind = kind;
	node->line = ev->start_mark.line + 1;
	node->col = ev->start_mark.column + 1;
	d->all = grow(d->all, &d->cap_all, d->n_all + 1, sizeof(*d->all));
	d->all[d->n_all++] = node;
	return node;
}

static int yparse_error(struct yload *l, const yaml_parser_t *p)
{
	if (p->error == YAML_MEMORY_ERROR)
		abort(); /* as xmalloc does */
	const char *problem = p->problem ? p->problem : "invalid YAML";
	if (p->error == YAML_READER_ERROR)
		return cc_error_set(l->err, 0, "%s: byte offset %zu: %s", l->name,
				    p->problem_offset, problem);
	if (p->context)
		return yfail(l, &p->problem_mark, "%s (%s at line %zu column %zu)", problem,
			     p->context, p->context_mark.line + 1, p->context_mark.column + 1);
	return yfail(l, &p->problem_mark, "%s", problem);
}

/* One event into the tree: 1 at the end of the stream, 0 to go on, -1 on error. */
static int yevent(struct yload *l, const yaml_event_t *ev)
{
	struct ynode *node;
	switch (ev->type) {
	case YAML_STREAM_END_EVENT:
		return 1;
	case YAML_DOCUMENT_START_EVENT:
		if (++l->docs > 1)
			return yfail(l, &ev->start_mark, "more than one YAML document");
		return 0;
	case YAML_ALIAS_EVENT:
		node = anchor_find(l->d, ev->data.alias.anchor);
		if (!node) {
			char shown[CC_SHOWN_BUF];
			const char *a = (const char *)ev->data.alias.anchor;
			cc_shown(a, strlen(a), shown);
			return yfail(l, &ev->start_mark, "alias \"%s\" names no complete anchor",
				     shown);
		}
		return yattach(l, node);
	case YAML_SCALAR_EVENT:
		if (!(node = ynew(l, Y_SCALAR, ev)))
			return -1;
		node->len = ev->data.scalar.length;
		node->text = xmalloc(node->len + 1);
		memcpy(node->text, ev->data.scalar.value, node->len);
		node->text[node->len] = '\0';
		node->plain = ev->data.scalar.plain_implicit && !ev->data.scalar.tag;
		if (ev->data.scalar.tag && strcmp((const char *)ev->data.scalar.tag, "!"))
			node->tag = xstrdup((const char *)ev->data.scalar.tag);
		anchor_add(l->d, ev->data.scalar.anchor, node);
		return yattach(l, node);
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT: {
		bool map = ev->type == YAML_MAPPING_START_EVENT;
		const yaml_char_t *tag =
		    map ? ev->data.mapping_start.tag : ev->data.sequence_start.tag;
		const yaml_char_t *anchor =
		    map ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor;
		if (l->depth == SIGN_REGISTRIES_DEPTH_MAX)
			return yfail(l, &ev->start_mark, "nested deeper than %u levels",
				     SIGN_REGISTRIES_DEPTH_MAX);
		if (!(node = ynew(l, map ? Y_MAP : Y_SEQ, ev)))
			return -1;
		if (tag && strcmp((const char *)tag, "!"))
			node->tag = xstrdup((const char *)tag);
		if (yattach(l, node) < 0)
			return -1;
		l->stack_anchor[l->depth] =
		    anchor ? (unsigned char *)xstrdup((const char *)anchor) : NULL;
		l->stack[l->depth++] = node;
		return 0;
	}
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		/* Complete now: from here on an alias may name it. */
		l->depth--;
		anchor_add(l->d, l->stack_anchor[l->depth], l->stack[l->depth]);
		free(l->stack_anchor[l->depth]);
		l->stack_anchor[l->depth] = NULL;
		return 0;
	default:
		return 0;
	}
}

static int yaml_load(const char *name, const char *buf, size_t len, struct ydoc *d,
		     struct cc_error **err)
{
	yaml_parser_t p;
	if (!yaml_parser_initialize(&p))
		abort();
	yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
	struct yload l = { .name = name, .err = err, .d = d };
	int ret;
	do {
		yaml_event_t ev;
		if (!yaml_parser_parse(&p, &ev)) {
			ret = yparse_error(&l, &p);
			break;
		}
		ret = yevent(&l, &ev);
		yaml_event_delete(&ev);
	} while (ret == 0);
	for (size_t i = 0; i < l.depth; i++)
		free(l.stack_anchor[i]);
	yaml_parser_delete(&p);
	return ret < 0 ? -1 : 0;
}

/* ---- YAML: scalars typed as go-yaml (YAML 1.1) types them ---- */

enum ytype { T_NULL, T_BOOL, T_INT, T_FLOAT, T_STR, T_MAP, T_SEQ, T_OTHER };

static bool one_of(const char *s, const char *const *words)
{
	for (; *words; words++)
		if (!strcmp(s, *words))
			return true;
	return false;
}

static const char *const null_words[] = { "", "~", "null", "Null", "NULL", NULL };
static const char *const true_words[] = { "y",	"Y",  "yes",  "Yes",  "YES",  "on",
					  "On", "ON", "true", "True", "TRUE", NULL };
static const char *const false_words[] = { "n",	  "N",	 "no",	  "No",	   "NO",    "off",
					   "Off", "OFF", "false", "False", "FALSE", NULL };

static bool looks_int(const char *s)
{
	if (*s == '-' || *s == '+')
		s++;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'b' || s[1] == 'o') && s[2])
		return strspn(s + 2, "0123456789abcdefABCDEF_") == strlen(s + 2);
	return *s >= '0' && *s <= '9' && strspn(s, "0123456789_") == strlen(s);
}

static bool looks_float(const char *s)
{
	static const char *const special[] = {
		".inf", ".Inf", ".INF", ".nan", ".NaN", ".NAN", NULL
	};
	if (*s == '-' || *s == '+')
		s++;
	if (one_of(s, special))
		return true;
	size_t digits = strspn(s, "0123456789_");
	if (s[digits] != '.')
		return false;
	const char *frac = s + digits + 1;
	size_t fd = strspn(frac, "0123456789_");
	if (!digits && !fd)
		return false;
	const char *e = frac + fd;
	if (*e == 'e' || *e == 'E') {
		e++;
		if (*e == '-' || *e == '+')
			e++;
		if (!*e || strspn(e, "0123456789") != strlen(e))
			return false;
		return true;
	}
	return !*e;
}

static enum ytype ytype_of(const struct ynode *n)
{
	if (n->kind == Y_MAP)
		return n->tag && strcmp(n->tag, YAML_MAP_TAG) ? T_OTHER : T_MAP;
	if (n->kind == Y_SEQ)
		return n->tag && strcmp(n->tag, YAML_SEQ_TAG) ? T_OTHER : T_SEQ;
	if (n->tag) {
		static const struct {
			const char *tag;
			enum ytype t;
		} tags[] = { { YAML_STR_TAG, T_STR },
			     { YAML_NULL_TAG, T_NULL },
			     { YAML_BOOL_TAG, T_BOOL },
			     { YAML_INT_TAG, T_INT },
			     { YAML_FLOAT_TAG, T_FLOAT } };
		for (size_t i = 0; i < ARRAY_SIZE(tags); i++)
			if (!strcmp(n->tag, tags[i].tag))
				return tags[i].t;
		return T_OTHER;
	}
	if (!n->plain)
		return T_STR;
	if (one_of(n->text, null_words))
		return T_NULL;
	if (one_of(n->text, true_words) || one_of(n->text, false_words))
		return T_BOOL;
	if (looks_int(n->text))
		return T_INT;
	if (looks_float(n->text))
		return T_FLOAT;
	return T_STR;
}

static const char *ytype_name(enum ytype t)
{
	static const char *const names[] = { "null",   "boolean", "integer", "number",
					     "string", "mapping", "sequence" };
	return t < ARRAY_SIZE(names) ? names[t] : "tagged value";
}

/* ---- the schema ---- */

struct rd_ctx {
	struct cc_json_reader jr; /* name and err: messages "NAME: PATH: what" */
	size_t visits;		  /* keys looked at, through aliases and merges too */
};

#define fail(c, path, ...) cc_json_fail(&(c)->jr, path, __VA_ARGS__)

static int type_fail(struct rd_ctx *c, const char *path, const char *want, const struct ynode *n)
{
	enum ytype t = ytype_of(n);
	if (t == T_OTHER) {
		char shown[CC_SHOWN_BUF];
		cc_shown(n->tag, strlen(n->tag), shown);
		return fail(c, path, "unsupported tag \"%s\" (line %zu column %zu)", shown, n->line,
			    n->col);
	}
	return fail(c, path, "expected %s, got %s", want, ytype_name(t));
}

struct yentry {
	const char *key;
	const struct ynode *value;
	size_t order;
	bool dropped;
};

struct yentries {
	struct yentry *v;
	size_t n, cap;
};

static bool is_merge_key(const struct ynode *k)
{
	return k->kind == Y_SCALAR &&
	       ((k->plain && !strcmp(k->text, "<<")) || (k->tag && !strcmp(k->tag, MERGE_TAG)));
}

static int collect(struct rd_ctx *c, const struct ynode *m, const char *path, unsigned depth,
		   struct yentries *out);

/* The value of "<<": a mapping, or a sequence of mappings (the first ones win). */
static int collect_merge(struct rd_ctx *c, const struct ynode *v, const char *path, unsigned depth,
			 struct yentries *out)
{
	if (depth >= SIGN_REGISTRIES_DEPTH_MAX)
		return fail(c, path, "merges (<<) nested deeper than %u levels",
			    SIGN_REGISTRIES_DEPTH_MAX);
	if (v->kind == Y_MAP)
		return collect(c, v, path, depth + 1, out);
	if (v->kind == Y_SEQ) {
		for (size_t i = 0; i < v->n; i++) {
			if (v->kids[i]->kind != Y_MAP)
				return fail(c, path,
					    "<<: expected a mapping or a sequence of mappings");
			if (collect(c, v->kids[i], path, depth + 1, out) < 0)
				return -1;
		}
		return 0;
	}
	return fail(c, path, "<<: expected a mapping or a sequence of mappings");
}

static int entry_cmp(const void *a, const void *b)
{
	const struct yentry *x = *(const struct yentry *const *)a;
	const struct yentry *y = *(const struct yentry *const *)b;
	int d = strcmp(x->key, y->key);
	return d ? d : (x->order > y->order) - (x->order < y->order);
}

/* v sorted by key, then by document order (a key's first entry comes first). */
static struct yentry **sorted_entries(struct yentry *v, size_t n)
{
	struct yentry **sorted = xcalloc(n ? n : 1, sizeof(*sorted));
	for (size_t i = 0; i < n; i++)
		sorted[i] = &v[i];
	qsort(sorted, n, sizeof(*sorted), entry_cmp);
	return sorted;
}

/* The first key (in document order) that one mapping has twice, or NULL. */
static const struct yentry *first_duplicate(struct yentry *v, size_t n)
{
	_cleanup_free_ struct yentry **sorted = sorted_entries(v, n);
	const struct yentry *dup = NULL;
	for (size_t i = 1; i < n; i++)
		if (!strcmp(sorted[i]->key, sorted[i - 1]->key) &&
		    (!dup || sorted[i]->order < dup->order))
			dup = sorted[i];
	return dup;
}

/* A mapping's own keys (each once), then what its "<<" merges in. */
static int collect(struct rd_ctx *c, const struct ynode *m, const char *path, unsigned depth,
		   struct yentries *out)
{
	const struct ynode *merge = NULL;
	size_t first = out->n;
	for (size_t i = 0; i + 1 < m->n; i += 2) {
		const struct ynode *k = m->kids[i];
		if (++c->visits > SIGN_REGISTRIES_VISITS_MAX)
			return fail(c, path, "more than %u keys through aliases and merges",
				    SIGN_REGISTRIES_VISITS_MAX);
		if (k->kind != Y_SCALAR)
			return fail(c, path, "the key at line %zu column %zu is not a string",
				    k->line, k->col);
		if (strlen(k->text) != k->len)
			return fail(c, path, "the key at line %zu column %zu contains a NUL byte",
				    k->line, k->col);
		if (is_merge_key(k)) {
			if (merge)
				return fail(c, path, "duplicate key \"<<\"");
			merge = m->kids[i + 1];
			continue;
		}
		out->v = grow(out->v, &out->cap, out->n + 1, sizeof(*out->v));
		out->v[out->n] = (struct yentry){ k->text, m->kids[i + 1], out->n, false };
		out->n++;
	}
	const struct yentry *dup = first_duplicate(out->v + first, out->n - first);
	if (dup) {
		char shown[CC_SHOWN_BUF];
		cc_shown(dup->key, strlen(dup->key), shown);
		return fail(c, path, "duplicate key \"%s\"", shown);
	}
	return merge ? collect_merge(c, merge, path, depth, out) : 0;
}

/* The entries of mapping m (at path): its keys in order, then those merged in that it does
 * not have itself (the first merged one wins). A key twice in one mapping is an error; max
 * bounds the result. */
static int map_entries(struct rd_ctx *c, const struct ynode *m, const char *path, size_t max,
		       const char *noun, struct yentries *out)
{
	*out = (struct yentries){ 0 };
	if (collect(c, m, path, 0, out) < 0)
		return -1;
	_cleanup_free_ struct yentry **sorted = sorted_entries(out->v, out->n);
	for (size_t i = 1; i < out->n; i++)
		if (!strcmp(sorted[i]->key, sorted[i - 1]->key))
			sorted[i]->dropped = true;
	size_t kept = 0;
	for (size_t i = 0; i < out->n; i++)
		if (!out->v[i].dropped)
			out->v[kept++] = out->v[i];
	out->n = kept;
	if (out->n > max)
		return fail(c, path, "more than %zu %s", max, noun);
	return 0;
}

static int unknown_key(struct rd_ctx *c, const char *path, const char *key)
{
	char shown[CC_SHOWN_BUF];
	cc_shown(key, strlen(key), shown);
	return fail(c, path, "unknown key \"%s\"", shown);
}

/* "file:///path", or "http(s)://host/..." when http is allowed: no credentials, no spaces. */
static int check_url(struct rd_ctx *c, const char *path, const char *url, bool http)
{
	char shown[CC_SHOWN_BUF];
	cc_shown(url, strlen(url), shown);
	for (const char *p = url; *p; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
			return fail(c, path, "\"%s\": not a URL (spaces or non-ASCII)", shown);
	if (!strncasecmp(url, "file://", 7)) {
		if (url[7] != '/')
			return fail(c, path, "\"%s\": a file URL is file:///path", shown);
		return 0;
	}
	bool https = !strncasecmp(url, "https://", 8);
	if (!http || (!https && strncasecmp(url, "http://", 7))) {
		if (http)
			return fail(c, path, "\"%s\" is not a file:///, http:// or https:// URL",
				    shown);
		return fail(c, path, "\"%s\" is not a file:/// URL (only those can be written)",
			    shown);
	}
	const char *host = url + (https ? 8 : 7);
	size_t hlen = strcspn(host, "/?#");
	if (!hlen)
		return fail(c, path, "\"%s\": no host", shown);
	if (memchr(host, '@', hlen))
		return fail(c, path, "credentials in a lookaside URL are not supported");
	return 0;
}

static int section_string(struct rd_ctx *c, const char *path, const struct ynode *v, char **out)
{
	enum ytype t = ytype_of(v);
	if (t == T_NULL)
		return 0; /* as if absent */
	if (v->kind != Y_SCALAR || t == T_OTHER)
		return type_fail(c, path, "string", v);
	if (strlen(v->text) != v->len)
		return fail(c, path, "contains a NUL byte");
	if (v->len > 4096)
		return fail(c, path, "longer than 4096 bytes");
	*out = xstrdup(v->text);
	return 0;
}

static int section_bool(struct rd_ctx *c, const char *path, const struct ynode *v, bool *out)
{
	enum ytype t = ytype_of(v);
	if (t == T_NULL)
		return 0;
	if (t != T_BOOL)
		return type_fail(c, path, "boolean", v);
	if (one_of(v->text, true_words))
		*out = true;
	else if (one_of(v->text, false_words))
		*out = false;
	else {
		char shown[CC_SHOWN_BUF];
		cc_shown(v->text, v->len, shown);
		return fail(c, path, "\"%s\" is not a boolean", shown);
	}
	return 0;
}

/* A URL key of a section: the read URL (file, http, https) or the write one (file only). */
static int section_url(struct rd_ctx *c, const char *path, const struct ynode *v, bool read,
		       char **out)
{
	if (section_string(c, path, v, out) < 0)
		return -1;
	return *out ? check_url(c, path, *out, read) : 0;
}

/* One configuration section: default-docker, or a docker: scope. */
static int parse_section(struct rd_ctx *c, const char *path, const struct ynode *v,
			 struct sign_ns *ns)
{
	if (ytype_of(v) == T_NULL)
		return 0; /* defined, and empty */
	if (ytype_of(v) != T_MAP)
		return type_fail(c, path, "mapping", v);
	struct yentries e;
	int ret = map_entries(c, v, path, SIZE_MAX, "keys", &e);
	_cleanup_free_ char *lookaside = NULL, *staging = NULL, *old = NULL, *old_staging = NULL;
	for (size_t i = 0; ret == 0 && i < e.n; i++) {
		const char *k = e.v[i].key;
		const struct ynode *val = e.v[i].value;
		_cleanup_free_ char *p = cc_json_key_path(path, k);
		if (!strcmp(k, "lookaside"))
			ret = section_url(c, p, val, true, &lookaside);
		else if (!strcmp(k, "lookaside-staging"))
			ret = section_url(c, p, val, false, &staging);
		else if (!strcmp(k, "sigstore"))
			ret = section_url(c, p, val, true, &old);
		else if (!strcmp(k, "sigstore-staging"))
			ret = section_url(c, p, val, false, &old_staging);
		else if (!strcmp(k, "use-sigstore-attachments")) {
			ret = section_bool(c, p, val, &ns->attachments);
			ns->has_attachments = true;
		} else
			ret = unknown_key(c, path, k);
	}
	free(e.v);
	if (ret < 0)
		return -1;
	/* containers/image reads the new name first; two spellings of one setting are a
	 * configuration mistake. */
	if (lookaside && old)
		return fail(c, path, "both \"lookaside\" and its old name \"sigstore\"");
	if (staging && old_staging)
		return fail(c, path,
			    "both \"lookaside-staging\" and its old name \"sigstore-staging\"");
	ns->lookaside = lookaside ? steal_pointer(&lookaside) : steal_pointer(&old);
	ns->staging = staging ? steal_pointer(&staging) : steal_pointer(&old_staging);
	return 0;
}

/* host[:port] as a reference has it: parsed in front of a path, it must come back as the
 * domain (a lone "name" would be a docker.io repository, "index.docker.io" is docker.io). */
static bool host_valid(const char *host)
{
	if (!*host || strchr(host, '/') || strchr(host, '@'))
		return false;
	_cleanup_free_ char *text = xasprintf("%s/x", host);
	struct img_ref ref;
	struct cc_error *e = NULL;
	if (img_ref_parse_named(text, &ref, &e) < 0) {
		cc_error_free(&e);
		return false;
	}
	bool ok = !strcmp(ref.domain, host) && !ref.tag && !ref.digest;
	img_ref_clear(&ref);
	return ok;
}

/* "*.example.com": DNS labels, no port. */
static bool wildcard_valid(const char *s)
{
	const char *d = s + 2;
	if (!*d)
		return false;
	for (;;) {
		size_t n = strcspn(d, ".");
		if (!n || n > 63 || d[0] == '-' || d[n - 1] == '-')
			return false;
		for (size_t i = 0; i < n; i++)
			if (!((d[i] >= 'a' && d[i] <= 'z') || (d[i] >= 'A' && d[i] <= 'Z') ||
			      (d[i] >= '0' && d[i] <= '9') || d[i] == '-'))
				return false;
		if (!d[n])
			return true;
		d += n + 1;
	}
}

/* A docker: scope: what a lookup can produce (registries.h), or why not. */
static const char *scope_problem(const char *s, char **canonical)
{
	static const char *form = "is not host[:port][/namespace...][/repository[:tag|@digest]] "
				  "or *.domain";
	if (!strncmp(s, "*.", 2))
		return wildcard_valid(s) ? NULL : form;
	const char *slash = strchr(s, '/');
	_cleanup_free_ char *host = slash ? xstrndup(s, (size_t)(slash - s)) : xstrdup(s);
	if (!host_valid(host))
		return form;
	if (!slash)
		return NULL;
	struct img_ref ref;
	struct cc_error *e = NULL;
	if (img_ref_parse_named(s, &ref, &e) < 0) {
		cc_error_free(&e);
		return form;
	}
	const char *problem = NULL;
	if (strcmp(ref.domain, host))
		problem = form;
	else if (ref.tag && ref.digest)
		problem = "has both a tag and a digest";
	else if (ref.tag || ref.digest) {
		/* An image's identity is compared as a whole: only the expanded form matches. */
		char *full = img_ref_string(&ref);
		if (strcmp(full, s)) {
			*canonical = full;
			problem = "is not in the fully expanded form";
		} else {
			free(full);
		}
	} else {
		/* A namespace is a prefix of names: "docker.io/busybox" is one of
		 * "docker.io/busybox/x", although as a repository it is docker.io/library/busybox.
		 */
		const char *written = slash + 1;
		bool same = !strcmp(ref.path, written) ||
			    (!strcmp(ref.domain, IMG_DEFAULT_DOMAIN) &&
			     !strncmp(ref.path, "library/", 8) && !strcmp(ref.path + 8, written));
		if (!same)
			problem = form;
	}
	img_ref_clear(&ref);
	return problem;
}

static int parse_docker(struct rd_ctx *c, const struct ynode *v, struct sign_registries *file)
{
	if (ytype_of(v) == T_NULL)
		return 0;
	if (ytype_of(v) != T_MAP)
		return type_fail(c, "docker", "mapping", v);
	struct yentries e;
	int ret = map_entries(c, v, "docker", SIGN_REGISTRIES_SCOPES_MAX, "scopes", &e);
	for (size_t i = 0; ret == 0 && i < e.n; i++) {
		const char *scope = e.v[i].key;
		char shown[CC_SHOWN_BUF];
		cc_shown(scope, strlen(scope), shown);
		_cleanup_free_ char *path = xasprintf("docker[\"%s\"]", shown);
		_cleanup_free_ char *canonical = NULL;
		const char *problem = scope_problem(scope, &canonical);
		if (problem && canonical) {
			cc_shown(canonical, strlen(canonical), shown);
			ret = fail(c, path, "%s (\"%s\")", problem, shown);
			break;
		}
		if (problem) {
			ret = fail(c, path, "%s", problem);
			break;
		}
		struct sign_ns ns = { .scope = xstrdup(scope), .file = xstrdup(c->jr.name) };
		ret = parse_section(c, path, e.v[i].value, &ns);
		if (ret < 0) {
			ns_clear(&ns);
			break;
		}
		file->scopes = grow(file->scopes, &file->cap, file->n + 1, sizeof(*file->scopes));
		file->scopes[file->n++] = ns;
	}
	free(e.v);
	return ret;
}

/* One file's configuration, on its own. */
static int parse_file(struct rd_ctx *c, const struct ynode *root, struct sign_registries *file)
{
	if (!root || ytype_of(root) == T_NULL)
		return 0; /* an empty file */
	if (ytype_of(root) != T_MAP)
		return type_fail(c, "", "mapping", root);
	struct yentries e;
	int ret = map_entries(c, root, "", SIZE_MAX, "keys", &e);
	for (size_t i = 0; ret == 0 && i < e.n; i++) {
		const char *k = e.v[i].key;
		if (!strcmp(k, "default-docker")) {
			file->has_dflt = true;
			file->dflt.scope = xstrdup("default-docker");
			file->dflt.file = xstrdup(c->jr.name);
			ret = parse_section(c, "default-docker", e.v[i].value, &file->dflt);
		} else if (!strcmp(k, "docker")) {
			ret = parse_docker(c, e.v[i].value, file);
		} else {
			ret = unknown_key(c, "", k);
		}
	}
	free(e.v);
	return ret;
}

static const struct sign_ns *scope_find(const struct sign_registries *r, const char *scope)
{
	for (size_t i = 0; i < r->n; i++)
		if (!strcmp(r->scopes[i].scope, scope))
			return &r->scopes[i];
	return NULL;
}

/* A namespace may be configured in one file only, default-docker too (as containers/image
 * has it): file's sections join r, or nothing does. */
static int merge_into(struct rd_ctx *c, struct sign_registries *r, struct sign_registries *file)
{
	if (file->has_dflt && r->has_dflt)
		return fail(c, "default-docker", "already defined in %s", r->dflt.file);
	if (r->n + file->n > SIGN_REGISTRIES_SCOPES_MAX)
		return fail(c, "docker", "more than %u scopes in all files together",
			    SIGN_REGISTRIES_SCOPES_MAX);
	for (size_t i = 0; i < file->n; i++) {
		const struct sign_ns *other = scope_find(r, file->scopes[i].scope);
		if (other) {
			char shown[CC_SHOWN_BUF];
			cc_shown(other->scope, strlen(other->scope), shown);
			_cleanup_free_ char *path = xasprintf("docker[\"%s\"]", shown);
			return fail(c, path, "already defined in %s", other->file);
		}
	}
	if (file->n) {
		r->scopes = grow(r->scopes, &r->cap, r->n + file->n, sizeof(*r->scopes));
		memcpy(r->scopes + r->n, file->scopes, file->n * sizeof(*file->scopes));
		r->n += file->n;
		file->n = 0;
	}
	if (file->has_dflt) {
		r->dflt = file->dflt;
		r->has_dflt = true;
		file->dflt = (struct sign_ns){ 0 };
		file->has_dflt = false;
	}
	return 0;
}

struct sign_registries *sign_registries_parse(struct sign_registries *r, const char *name,
					      const char *buf, size_t len, struct cc_error **err)
{
	struct rd_ctx c = { .jr = { .name = name, .err = err } };
	if (len > SIGN_REGISTRIES_FILE_MAX) {
		fail(&c, "", "larger than %u bytes", SIGN_REGISTRIES_FILE_MAX);
		return NULL;
	}
	struct ydoc d = { 0 };
	struct sign_registries *file = xzalloc(sizeof(*file));
	int ret = yaml_load(name, buf, len, &d, err);
	if (ret == 0)
		ret = parse_file(&c, d.root, file);
	ydoc_clear(&d);
	struct sign_registries *out = r ? r : xzalloc(sizeof(*out));
	if (ret == 0)
		ret = merge_into(&c, out, file);
	sign_registries_free(file);
	if (ret < 0) {
		if (out != r)
			sign_registries_free(out);
		return NULL;
	}
	return out;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A regular file of at most SIGN_REGISTRIES_FILE_MAX bytes (the limit is checked on what is
 * read, not on what stat says). */
static char *read_config(int dirfd, const char *name, const char *path, size_t *len,
			 struct cc_error **err)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		cc_error_errno(err, "%s", path);
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		cc_error_set(err, 0, "%s: not a regular file", path);
		return NULL;
	}
	_cleanup_free_ char *buf = xmalloc(SIGN_REGISTRIES_FILE_MAX + 2);
	ssize_t n = cc_read_all(fd, buf, SIGN_REGISTRIES_FILE_MAX + 1);
	if (n < 0) {
		cc_error_errno(err, "%s", path);
		return NULL;
	}
	if ((size_t)n > SIGN_REGISTRIES_FILE_MAX) {
		cc_error_set(err, 0, "%s: larger than %u bytes", path, SIGN_REGISTRIES_FILE_MAX);
		return NULL;
	}
	buf[n] = '\0';
	*len = (size_t)n;
	return steal_pointer(&buf);
}

static bool ends_with_yaml(const char *name)
{
	size_t n = strlen(name);
	return n >= 5 && !strcmp(name + n - 5, ".yaml");
}

struct sign_registries *sign_registries_load(const char *dir, struct cc_error **err)
{
	_cleanup_closedir_ DIR *d = opendir(dir);
	if (!d && errno == ENOENT)
		return xzalloc(sizeof(struct sign_registries));
	if (!d) {
		cc_error_errno(err, "%s", dir);
		return NULL;
	}
	_cleanup_strv_ char **names = NULL;
	size_t n = 0;
	struct dirent *de;
	errno = 0;
	while ((de = readdir(d))) {
		if (!ends_with_yaml(de->d_name))
			continue;
		if (n == SIGN_REGISTRIES_FILES_MAX) {
			cc_error_set(err, 0, "%s: more than %u .yaml files", dir,
				     SIGN_REGISTRIES_FILES_MAX);
			return NULL;
		}
		names = xreallocarray(names, n + 2, sizeof(*names));
		names[n++] = xstrdup(de->d_name);
		names[n] = NULL;
	}
	if (errno) {
		cc_error_errno(err, "%s", dir);
		return NULL;
	}
	if (n)
		qsort(names, n, sizeof(*names), name_cmp);
	struct sign_registries *r = xzalloc(sizeof(*r));
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *path = cc_path_join(dir, names[i]);
		size_t len;
		_cleanup_free_ char *buf = read_config(dirfd(d), names[i], path, &len, err);
		if (!buf || !sign_registries_parse(r, path, buf, len, err)) {
			sign_registries_free(r);
			return NULL;
		}
	}
	return r;
}

/* ---- lookup ---- */

static const struct sign_ns *match(const struct sign_registries *r, const char *candidate)
{
	return r ? scope_find(r, candidate) : NULL;
}

/* The scopes that contain ref, most specific first, as containers/image orders them: the
 * identity (with the digest, else the tag; with both, each), the repository, each parent
 * namespace up to host[:port], then *.domain wildcards made from the host name without its
 * port; then default-docker. Each is passed to fn until it returns true. */
static void each_scope(const struct sign_registries *r, const struct img_ref *ref,
		       bool (*fn)(const struct sign_ns *ns, void *ctx), void *ctx)
{
	const struct sign_ns *ns;
	_cleanup_free_ char *name = img_ref_name(ref);
	if (ref->digest) {
		_cleanup_free_ char *id = xasprintf("%s@%s", name, ref->digest);
		if ((ns = match(r, id)) && fn(ns, ctx))
			return;
	}
	if (ref->tag) {
		_cleanup_free_ char *id = xasprintf("%s:%s", name, ref->tag);
		if ((ns = match(r, id)) && fn(ns, ctx))
			return;
	}
	for (char *slash;;) {
		if ((ns = match(r, name)) && fn(ns, ctx))
			return;
		if (!(slash = strrchr(name, '/')))
			break;
		*slash = '\0';
	}
	/* name is now host[:port]; "[::1]:5000" has no dotted name to wildcard */
	name[strcspn(name, ":")] = '\0';
	for (const char *dot = strchr(name, '.'); dot; dot = strchr(dot + 1, '.')) {
		_cleanup_free_ char *wild = xasprintf("*%s", dot);
		if ((ns = match(r, wild)) && fn(ns, ctx))
			return;
	}
	if (r && r->has_dflt)
		fn(&r->dflt, ctx);
}

/* Each setting comes from the most specific scope that has it, as containers/image takes them
 * (its registries_d.go; containers-registries.d(5) reads as if a section stood alone). */
struct found {
	const char *read, *write, *scope;
	bool attachments, has_attachments;
};

static bool take_scope(const struct sign_ns *ns, void *ctx)
{
	((struct found *)ctx)->scope = ns->scope;
	return true;
}

static bool take_read(const struct sign_ns *ns, void *ctx)
{
	struct found *f = ctx;
	f->read = ns->lookaside;
	return f->read != NULL;
}

static bool take_write(const struct sign_ns *ns, void *ctx)
{
	struct found *f = ctx;
	f->write = ns->staging ? ns->staging : ns->lookaside;
	return f->write != NULL;
}

static bool take_attachments(const struct sign_ns *ns, void *ctx)
{
	struct found *f = ctx;
	if (ns->has_attachments) {
		f->attachments = ns->attachments;
		f->has_attachments = true;
	}
	return f->has_attachments;
}

void sign_registries_lookup(const struct sign_registries *r, const struct img_ref *ref,
			    struct sign_registry_config *out)
{
	struct found f = { 0 };
	each_scope(r, ref, take_scope, &f);
	each_scope(r, ref, take_read, &f);
	each_scope(r, ref, take_write, &f);
	each_scope(r, ref, take_attachments, &f);
	*out = (struct sign_registry_config){
		.scope = f.scope,
		.lookaside = f.read ? f.read : SIGN_LOOKASIDE_DEFAULT,
		.lookaside_staging = f.write ? f.write : SIGN_LOOKASIDE_DEFAULT,
		.use_sigstore_attachments = f.attachments,
	};
}
