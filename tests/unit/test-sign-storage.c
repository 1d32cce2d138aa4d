// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for lib/sign/registries.c (registries.d: every key, aliases and merges, every
 * error with its message, scope specificity) and lib/sign/storage.c (file:// lookaside read
 * and write; the registry extension, an http:// lookaside and cosign attachments against a
 * loopback server forked here, which answers from a table and logs what it was asked).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include "image/error.h"
#include "image/stream.h"
#include "sign/cosign.h"
#include "sign/registries.h"
#include "sign/storage.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "tmproot.h"

#define HEX "47de6ac7a37b3ad8c0a3e3e4bc1f5d3c2be7c1e9c0f1a2b3c4d5e6f708192a0e"
#define DIGEST "sha256:" HEX
#define NAME "registries-t.yaml"

/* ---- registries.d ---- */

static struct sign_registries *parse_ok(const char *yaml)
{
	struct cc_error *err = NULL;
	struct sign_registries *r = sign_registries_parse(NULL, NAME, yaml, strlen(yaml), &err);
	if (!r)
		fail_msg("%s", err->msg);
	return r;
}

static void expect_error(const char *yaml, const char *want)
{
	struct cc_error *err = NULL;
	struct sign_registries *r = sign_registries_parse(NULL, NAME, yaml, strlen(yaml), &err);
	if (r)
		fail_msg("accepted: %s", yaml);
	if (strcmp(err->msg, want))
		fail_msg("got  \"%s\"\nwant \"%s\"", err->msg, want);
	cc_error_free(&err);
}

static void lookup(const struct sign_registries *r, const char *text,
		   struct sign_registry_config *cfg)
{
	struct img_ref ref;
	assert_int_equal(img_ref_parse(text, &ref, NULL), 0);
	sign_registries_lookup(r, &ref, cfg);
	img_ref_clear(&ref);
}

/* The section chosen for text: its scope (NULL: none), read and write URL, attachments. */
static void expect_config(const struct sign_registries *r, const char *text, const char *scope,
			  const char *read, const char *write, bool attachments)
{
	struct sign_registry_config cfg;
	lookup(r, text, &cfg);
	if (scope)
		assert_non_null(cfg.scope);
	if (scope && strcmp(cfg.scope, scope))
		fail_msg("%s: scope \"%s\", want \"%s\"", text, cfg.scope, scope);
	if (!scope && cfg.scope)
		fail_msg("%s: scope \"%s\", want none", text, cfg.scope);
	assert_string_equal(cfg.lookaside, read);
	assert_string_equal(cfg.lookaside_staging, write);
	assert_int_equal(cfg.use_sigstore_attachments, attachments);
}

static void test_every_key(void **state)
{
	struct sign_registries *r =
	    parse_ok("# comment\n"
		     "default-docker:\n"
		     "  lookaside: https://sigs.example.org/default\n"
		     "  lookaside-staging: file:///var/staging/default\n"
		     "  use-sigstore-attachments: false\n"
		     "docker:\n"
		     "  new.example.com:\n"
		     "    lookaside: file:///srv/new\n"
		     "    lookaside-staging: file:///srv/new-staging\n"
		     "    use-sigstore-attachments: true\n"
		     "  old.example.com:\n"
		     "    sigstore: http://old.example.com/sigstore\n"
		     "    sigstore-staging: file:///srv/old-staging\n"
		     "  mixed.example.com:\n"
		     "    sigstore: https://mixed.example.com/s\n"
		     "    lookaside-staging: file:///srv/mixed\n"
		     "  readonly.example.com: {lookaside: 'https://ro.example.com/s'}\n"
		     "  empty.example.com:\n"
		     "  nulls.example.com: {lookaside: ~, use-sigstore-attachments: null}\n"
		     "  yes.example.com: {use-sigstore-attachments: yes}\n"
		     "  on.example.com: {use-sigstore-attachments: On}\n"
		     "  tagged.example.com: {lookaside: !!str file:///t, "
		     "use-sigstore-attachments: !!bool TRUE}\n");
	expect_config(r, "new.example.com/a:1", "new.example.com", "file:///srv/new",
		      "file:///srv/new-staging", true);
	expect_config(r, "old.example.com/a:1", "old.example.com",
		      "http://old.example.com/sigstore", "file:///srv/old-staging", false);
	expect_config(r, "mixed.example.com/a:1", "mixed.example.com",
		      "https://mixed.example.com/s", "file:///srv/mixed", false);
	/* Without staging, the read URL is the write URL too (writing it then fails). */
	expect_config(r, "readonly.example.com/a:1", "readonly.example.com",
		      "https://ro.example.com/s", "https://ro.example.com/s", false);
	/* A scope that is there but says nothing: each setting from default-docker, as
	 * containers/image takes it (its own attachments setting still wins). */
	expect_config(r, "empty.example.com/a:1", "empty.example.com",
		      "https://sigs.example.org/default", "file:///var/staging/default", false);
	expect_config(r, "nulls.example.com/a:1", "nulls.example.com",
		      "https://sigs.example.org/default", "file:///var/staging/default", false);
	expect_config(r, "yes.example.com/a:1", "yes.example.com",
		      "https://sigs.example.org/default", "file:///var/staging/default", true);
	expect_config(r, "on.example.com/a:1", "on.example.com", "https://sigs.example.org/default",
		      "file:///var/staging/default", true);
	expect_config(r, "tagged.example.com/a:1", "tagged.example.com", "file:///t", "file:///t",
		      true);
	expect_config(r, "quay.io/a/b:1", "default-docker", "https://sigs.example.org/default",
		      "file:///var/staging/default", false);
	sign_registries_free(r);

	/* Empty files, comments only, an explicit null document: nothing configured. */
	static const char *const empties[] = {
		"", "# nothing\n", "~\n", "---\n", "{}\n", "docker:\ndefault-docker:\n"
	};
	for (size_t i = 0; i < ARRAY_SIZE(empties); i++) {
		r = parse_ok(empties[i]);
		expect_config(r, "busybox", i == 5 ? "default-docker" : NULL,
			      SIGN_LOOKASIDE_DEFAULT, SIGN_LOOKASIDE_DEFAULT, false);
		sign_registries_free(r);
	}
}

static void test_aliases(void **state)
{
	struct sign_registries *r =
	    parse_ok("default-docker: &common\n"
		     "  lookaside: https://sigs.example.com/la\n"
		     "  use-sigstore-attachments: true\n"
		     "docker:\n"
		     "  a.example.com: *common\n"
		     "  b.example.com:\n"
		     "    <<: *common\n"
		     "    lookaside-staging: file:///staging/b\n"
		     "  c.example.com:\n"
		     "    <<: [{lookaside: 'file:///first'}, *common]\n"
		     "    use-sigstore-attachments: false\n"
		     "  d.example.com: {lookaside: &url file:///shared}\n"
		     "  e.example.com: {lookaside: *url}\n"
		     "  f.example.com: &f {<<: *common, sigstore-staging: file:///f}\n"
		     "  g.example.com: {<<: *f}\n");
	expect_config(r, "a.example.com/x:1", "a.example.com", "https://sigs.example.com/la",
		      "https://sigs.example.com/la", true);
	expect_config(r, "b.example.com/x:1", "b.example.com", "https://sigs.example.com/la",
		      "file:///staging/b", true);
	/* The mapping's own key wins over a merged one, the first merged over a later one. */
	expect_config(r, "c.example.com/x:1", "c.example.com", "file:///first", "file:///first",
		      false);
	/* e sets no use-sigstore-attachments: default-docker's true applies. */
	expect_config(r, "e.example.com/x:1", "e.example.com", "file:///shared", "file:///shared",
		      true);
	/* Merges of merges. */
	expect_config(r, "g.example.com/x:1", "g.example.com", "https://sigs.example.com/la",
		      "file:///f", true);
	sign_registries_free(r);
}

static void test_errors(void **state)
{
	static const struct {
		const char *yaml, *msg;
	} cases[] = {
		/* keys */
		{ "foo: 1\n", NAME ": unknown key \"foo\"" },
		{ "docker:\n  example.com:\n    lookasid: file:///x\n",
		  NAME ": docker[\"example.com\"]: unknown key \"lookasid\"" },
		{ "default-docker: {use-cosign-attachments: true}\n",
		  NAME ": default-docker: unknown key \"use-cosign-attachments\"" },
		{ "docker:\n  example.com:\n    lookaside: file:///a\n    lookaside: file:///b\n",
		  NAME ": docker[\"example.com\"]: duplicate key \"lookaside\"" },
		{ "docker:\n  example.com: {}\n  example.com: {}\n",
		  NAME ": docker: duplicate key \"example.com\"" },
		{ "docker: {}\ndocker: {}\n", NAME ": duplicate key \"docker\"" },
		{ "docker:\n  \"a\\tb\\u00e9.com\": {}\n",
		  NAME ": docker[\"a\\x09b\\xc3\\xa9.com\"]: is not "
		       "host[:port][/namespace...][/repository[:tag|@digest]] or *.domain" },
		{ "docker: {[a]: {}}\n",
		  NAME ": docker: the key at line 1 column 10 is not a string" },
		{ "docker: {\"a\\0.com\": {}}\n",
		  NAME ": docker: the key at line 1 column 10 contains a NUL byte" },
		/* types */
		{ "hello\n", NAME ": expected mapping, got string" },
		{ "[]\n", NAME ": expected mapping, got sequence" },
		{ "docker: []\n", NAME ": docker: expected mapping, got sequence" },
		{ "docker: 1\n", NAME ": docker: expected mapping, got integer" },
		{ "default-docker: true\n",
		  NAME ": default-docker: expected mapping, got boolean" },
		{ "docker: {example.com: x}\n",
		  NAME ": docker[\"example.com\"]: expected mapping, got string" },
		{ "docker: {example.com: {lookaside: [a]}}\n",
		  NAME ": docker[\"example.com\"].lookaside: expected string, got sequence" },
		{ "docker: {example.com: {sigstore: {a: b}}}\n",
		  NAME ": docker[\"example.com\"].sigstore: expected string, got mapping" },
		{ "docker: {example.com: {use-sigstore-attachments: \"true\"}}\n",
		  NAME ": docker[\"example.com\"].use-sigstore-attachments: expected boolean, got "
		       "string" },
		{ "docker: {example.com: {use-sigstore-attachments: 1}}\n",
		  NAME ": docker[\"example.com\"].use-sigstore-attachments: expected boolean, got "
		       "integer" },
		{ "docker: {example.com: {use-sigstore-attachments: 1.5}}\n",
		  NAME ": docker[\"example.com\"].use-sigstore-attachments: expected boolean, got "
		       "number" },
		{ "docker: {example.com: {use-sigstore-attachments: !!bool maybe}}\n",
		  NAME ": docker[\"example.com\"].use-sigstore-attachments: \"maybe\" is not a "
		       "boolean" },
		{ "docker: {example.com: {lookaside: !foo x}}\n",
		  NAME ": docker[\"example.com\"].lookaside: unsupported tag \"!foo\" (line 1 "
		       "column 35)" },
		{ "docker: {example.com: {lookaside: \"file:///a\\0b\"}}\n",
		  NAME ": docker[\"example.com\"].lookaside: contains a NUL byte" },
		/* old and new names */
		{ "docker:\n  example.com:\n    lookaside: file:///a\n    sigstore: file:///b\n",
		  NAME
		  ": docker[\"example.com\"]: both \"lookaside\" and its old name \"sigstore\"" },
		{ "default-docker:\n  sigstore-staging: file:///a\n  lookaside-staging: "
		  "file:///b\n",
		  NAME ": default-docker: both \"lookaside-staging\" and its old name "
		       "\"sigstore-staging\"" },
		/* URLs */
		{ "docker: {example.com: {lookaside: ftp://x}}\n", NAME
		  ": docker[\"example.com\"].lookaside: \"ftp://x\" is not a file:///, http:// "
		  "or https:// URL" },
		{ "docker: {example.com: {lookaside: /var/sigs}}\n",
		  NAME ": docker[\"example.com\"].lookaside: \"/var/sigs\" is not a file:///, "
		       "http:// or https:// URL" },
		{ "docker: {example.com: {lookaside-staging: https://x/y}}\n",
		  NAME ": docker[\"example.com\"].lookaside-staging: \"https://x/y\" is not a "
		       "file:/// URL (only those can be written)" },
		{ "docker: {example.com: {sigstore-staging: http://x/y}}\n",
		  NAME ": docker[\"example.com\"].sigstore-staging: \"http://x/y\" is not a "
		       "file:/// URL (only those can be written)" },
		{ "docker: {example.com: {lookaside: file://host/x}}\n",
		  NAME ": docker[\"example.com\"].lookaside: \"file://host/x\": a file URL is "
		       "file:///path" },
		{ "docker: {example.com: {lookaside: https:///x}}\n",
		  NAME ": docker[\"example.com\"].lookaside: \"https:///x\": no host" },
		{ "docker: {example.com: {lookaside: \"https://u:secret@h/x\"}}\n", NAME
		  ": docker[\"example.com\"].lookaside: credentials in a lookaside URL are not "
		  "supported" },
		{ "docker: {example.com: {lookaside: \"file:///a b\"}}\n",
		  NAME ": docker[\"example.com\"].lookaside: \"file:///a b\": not a URL (spaces or "
		       "non-ASCII)" },
		/* scopes */
		{ "docker: {example: {}}\n",
		  NAME ": docker[\"example\"]: is not "
		       "host[:port][/namespace...][/repository[:tag|@digest]] or *.domain" },
		{ "docker: {example.com:99999: {}}\n",
		  NAME ": docker[\"example.com:99999\"]: is not "
		       "host[:port][/namespace...][/repository[:tag|@digest]] or *.domain" },
		{ "docker: {index.docker.io/library/busybox: {}}\n",
		  NAME ": docker[\"index.docker.io/library/busybox\"]: is not "
		       "host[:port][/namespace...][/repository[:tag|@digest]] or *.domain" },
		{ "docker: {example.com/NS/img: {}}\n",
		  NAME ": docker[\"example.com/NS/img\"]: is not "
		       "host[:port][/namespace...][/repository[:tag|@digest]] or *.domain" },
		{ "docker: {example.com/: {}}\n",
		  NAME ": docker[\"example.com/\"]: is not "
		       "host[:port][/namespace...][/repository[:tag|@digest]] or *.domain" },
		{ "docker: {\"*.\": {}}\n",
		  NAME ": docker[\"*.\"]: is not "
		       "host[:port][/namespace...][/repository[:tag|@digest]] or *.domain" },
		{ "docker: {\"*.example.com:5000\": {}}\n",
		  NAME ": docker[\"*.example.com:5000\"]: is not "
		       "host[:port][/namespace...][/repository[:tag|@digest]] or *.domain" },
		{ "docker: {\"*example.com\": {}}\n",
		  NAME ": docker[\"*example.com\"]: is not "
		       "host[:port][/namespace...][/repository[:tag|@digest]] or *.domain" },
		{ "docker: {docker.io/busybox:latest: {}}\n",
		  NAME ": docker[\"docker.io/busybox:latest\"]: is not in the fully expanded form "
		       "(\"docker.io/library/busybox:latest\")" },
		{ "docker: {\"example.com/img:v1@" DIGEST "\": {}}\n",
		  NAME ": docker[\"example.com/img:v1@" DIGEST "\"]: has both a tag and a digest" },
		{ "docker: {\"example.com/img@sha256:abc\": {}}\n",
		  NAME ": docker[\"example.com/img@sha256:abc\"]: is not "
		       "host[:port][/namespace...][/repository[:tag|@digest]] or *.domain" },
		/* YAML itself */
		{ "docker: [\n",
		  NAME ": line 2 column 1: did not find expected node content (while "
		       "parsing a flow node at line 2 column 1)" },
		{ "docker:\n  a: b\n c: d\n", NAME
		  ": line 3 column 2: did not find expected key (while parsing a block mapping "
		  "at line 1 column 1)" },
		{ "a: \"\\xff\"\n\xff", NAME ": byte offset 10: invalid leading UTF-8 octet" },
		{ "---\ndocker: {}\n---\ndefault-docker: {}\n",
		  NAME ": line 3 column 1: more than one YAML document" },
		{ "docker: *x\n", NAME ": line 1 column 9: alias \"x\" names no complete anchor" },
		{ "docker: &a {x.com: *a}\n",
		  NAME ": line 1 column 20: alias \"a\" names no complete anchor" },
		{ "docker: {x.com: {<<: 1}}\n",
		  NAME ": docker[\"x.com\"]: <<: expected a mapping or a sequence of mappings" },
		{ "docker: {x.com: {<<: [a]}}\n",
		  NAME ": docker[\"x.com\"]: <<: expected a mapping or a sequence of mappings" },
		{ "docker: {x.com: {<<: {}, <<: {}}}\n",
		  NAME ": docker[\"x.com\"]: duplicate key \"<<\"" },
		{ "docker: {x.com: {<<: {bad: 1}}}\n",
		  NAME ": docker[\"x.com\"]: unknown key \"bad\"" },
		/* a mapping used only through a merge is checked too */
		{ "docker:\n  x.com: {<<: {lookaside: 'file:///a', lookaside: 'file:///b'}}\n",
		  NAME ": docker[\"x.com\"]: duplicate key \"lookaside\"" },
		{ "a: &a {k: 1, k: 2}\n", NAME ": unknown key \"a\"" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		expect_error(cases[i].yaml, cases[i].msg);
}

static char *repeat(const char *s, size_t n)
{
	size_t len = strlen(s);
	char *out = xmalloc(len * n + 1);
	for (size_t i = 0; i < n; i++)
		memcpy(out + i * len, s, len);
	out[len * n] = '\0';
	return out;
}

static void test_bounds(void **state)
{
	/* The file */
	_cleanup_free_ char *big = xmalloc(SIGN_REGISTRIES_FILE_MAX + 2);
	memset(big, '#', SIGN_REGISTRIES_FILE_MAX + 1);
	big[SIGN_REGISTRIES_FILE_MAX + 1] = '\0';
	expect_error(big, NAME ": larger than 1048576 bytes");
	big[SIGN_REGISTRIES_FILE_MAX] = '\0'; /* a comment of exactly the limit is fine */
	sign_registries_free(parse_ok(big));

	/* Nesting */
	_cleanup_free_ char *deep = repeat("[", SIGN_REGISTRIES_DEPTH_MAX + 1);
	expect_error(deep, NAME ": line 1 column 33: nested deeper than 32 levels");

	/* Nodes */
	_cleanup_free_ char *items = repeat("a,", SIGN_REGISTRIES_NODES_MAX);
	_cleanup_free_ char *many = xasprintf("x: [%s]\n", items);
	expect_error(many, NAME ": line 1 column 131071: more than 65536 YAML nodes");

	/* Scopes: in one file, then across files */
	size_t n = SIGN_REGISTRIES_SCOPES_MAX + 1;
	char *text = xstrdup("docker:\n");
	for (size_t i = 0; i < n; i++) {
		char *next = xasprintf("%s  h%zu.example.com: {}\n", text, i);
		free(text);
		text = next;
	}
	expect_error(text, NAME ": docker: more than 4096 scopes");
	*strstr(text, "  h4096.example.com") = '\0';
	struct sign_registries *r = parse_ok(text);
	struct cc_error *err = NULL;
	static const char one[] = "docker: {extra.example.com: {}}\n";
	assert_null(sign_registries_parse(r, "registries-u.yaml", one, strlen(one), &err));
	assert_string_equal(
	    err->msg, "registries-u.yaml: docker: more than 4096 scopes in all files together");
	cc_error_free(&err);
	expect_config(r, "h4095.example.com/x:1", "h4095.example.com", SIGN_LOOKASIDE_DEFAULT,
		      SIGN_LOOKASIDE_DEFAULT, false);
	sign_registries_free(r);
	free(text);

	/* Keys through aliases and merges: each level merges the one before ten times. */
	text = xstrdup("default-docker: &a0 {lookaside: file:///x}\ndocker:\n");
	for (int level = 1; level <= 7; level++) {
		char *next =
		    xasprintf("%s  l%d.example.com: &a%d {<<: [*a%d, *a%d, *a%d, *a%d, "
			      "*a%d, *a%d, *a%d, *a%d, *a%d, *a%d]}\n",
			      text, level, level, level - 1, level - 1, level - 1, level - 1,
			      level - 1, level - 1, level - 1, level - 1, level - 1, level - 1);
		free(text);
		text = next;
	}
	expect_error(text, NAME ": docker[\"l6.example.com\"]: more than 1048576 keys through "
				"aliases and merges");
	free(text);
}

static void test_files(void **state)
{
	struct cc_error *err = NULL;
	static const char a[] = "default-docker: {lookaside: file:///a}\n"
				"docker: {example.com: {}}\n";
	static const char b1[] = "docker: {example.com: {lookaside: file:///b}}\n";
	static const char b2[] = "default-docker: {}\n";
	static const char b3[] = "docker: {other.example.com: {}}\n";
	struct sign_registries *r = sign_registries_parse(NULL, "a.yaml", a, strlen(a), &err);
	assert_non_null(r);
	/* A scope or default-docker defined again, in another file: refused, r unchanged. */
	assert_null(sign_registries_parse(r, "b.yaml", b1, strlen(b1), &err));
	assert_string_equal(err->msg, "b.yaml: docker[\"example.com\"]: already defined in a.yaml");
	cc_error_free(&err);
	assert_null(sign_registries_parse(r, "b.yaml", b2, strlen(b2), &err));
	assert_string_equal(err->msg, "b.yaml: default-docker: already defined in a.yaml");
	cc_error_free(&err);
	/* example.com's section sets nothing: a.yaml's default-docker lookaside applies. */
	expect_config(r, "example.com/x:1", "example.com", "file:///a", "file:///a", false);
	assert_ptr_equal(sign_registries_parse(r, "b.yaml", b3, strlen(b3), &err), r);
	expect_config(r, "other.example.com/x:1", "other.example.com", "file:///a", "file:///a",
		      false);
	expect_config(r, "quay.io/x:1", "default-docker", "file:///a", "file:///a", false);
	sign_registries_free(r);
}

static void write_text(const char *dir, const char *name, const char *text)
{
	_cleanup_free_ char *path = cc_path_join(dir, name);
	struct cc_error *err = NULL;
	if (cc_write_file(path, text, strlen(text), 0644, &err) < 0)
		fail_msg("%s", err->msg);
}

static void test_load(void **state)
{
	struct cc_error *err = NULL;
	/* The shipped example directory: every .yaml file, the .yml one ignored. */
	_cleanup_free_ char *data =
	    xasprintf("%s/registries-d",
		      getenv("SIGN_TEST_DATA") ? getenv("SIGN_TEST_DATA") : "tests/unit/data/sign");
	struct sign_registries *r = sign_registries_load(data, &err);
	if (!r)
		fail_msg("%s", err->msg);
	expect_config(r, "registry.example.com/mydepartment/x:1",
		      "registry.example.com/mydepartment",
		      "https://sigstore.mydepartment.example.com",
		      "file:///mnt/mydepartment/sigstore-staging", false);
	expect_config(r, "registry.example.com/mydepartment/myproject:mybranch",
		      "registry.example.com/mydepartment/myproject:mybranch",
		      "http://localhost:4242/sigstore", "file:///home/useraccount/webroot/sigstore",
		      false);
	expect_config(r, "quay.io/x/y:1", "default-docker", SIGN_LOOKASIDE_DEFAULT,
		      "file:///mnt/company/common-sigstore-staging", false);
	/* ghcr.io sets only attachments: default-docker's staging is where it is written. */
	expect_config(r, "ghcr.io/x/y:1", "ghcr.io", SIGN_LOOKASIDE_DEFAULT,
		      "file:///mnt/company/common-sigstore-staging", true);
	expect_config(r, "ignored.example.com/x:1", "default-docker", SIGN_LOOKASIDE_DEFAULT,
		      "file:///mnt/company/common-sigstore-staging", false);
	sign_registries_free(r);

	/* A directory that does not exist is an empty configuration. */
	_cleanup_free_ char *none = xasprintf("%s/no-such-dir", root);
	r = sign_registries_load(none, &err);
	assert_non_null(r);
	expect_config(r, "busybox", NULL, SIGN_LOOKASIDE_DEFAULT, SIGN_LOOKASIDE_DEFAULT, false);
	sign_registries_free(r);

	/* Files in name order: the second definition is the one refused. */
	_cleanup_free_ char *dir = xasprintf("%s/rd", root);
	assert_int_equal(mkdir(dir, 0755), 0);
	write_text(dir, "b.yaml", "docker: {example.com: {}}\n");
	write_text(dir, "a.yaml", "docker: {example.com: {}}\n");
	assert_null(sign_registries_load(dir, &err));
	_cleanup_free_ char *want =
	    xasprintf("%s/b.yaml: docker[\"example.com\"]: already defined in %s/a.yaml", dir, dir);
	assert_string_equal(err->msg, want);
	cc_error_free(&err);

	/* A .yaml that is not a regular file, a file that is not .yaml, a path that is not a
	 * directory. */
	_cleanup_free_ char *b = cc_path_join(dir, "b.yaml");
	assert_int_equal(unlink(b), 0);
	write_text(dir, "c.yml", "not: [yaml\n");
	_cleanup_free_ char *sub = cc_path_join(dir, "sub.yaml");
	assert_int_equal(mkdir(sub, 0755), 0);
	assert_null(sign_registries_load(dir, &err));
	_cleanup_free_ char *want2 = xasprintf("%s/sub.yaml: not a regular file", dir);
	assert_string_equal(err->msg, want2);
	cc_error_free(&err);
	assert_int_equal(rmdir(sub), 0);
	r = sign_registries_load(dir, &err);
	assert_non_null(r);
	sign_registries_free(r);
	_cleanup_free_ char *a = cc_path_join(dir, "a.yaml");
	assert_null(sign_registries_load(a, &err));
	_cleanup_free_ char *want3 = xasprintf("%s: Not a directory", a);
	assert_string_equal(err->msg, want3);
	cc_error_free(&err);
}

static void test_lookup(void **state)
{
	struct sign_registries *r =
	    parse_ok("default-docker: {lookaside: https://default.example/s}\n"
		     "docker:\n"
		     "  registry.example.com: {lookaside: https://host/s}\n"
		     "  registry.example.com:5000: {lookaside: https://port/s}\n"
		     "  registry.example.com/ns: {lookaside: https://ns/s}\n"
		     "  registry.example.com/ns/img:\n"
		     "    lookaside: https://repo/s\n"
		     "    lookaside-staging: file:///staging/repo\n"
		     "  registry.example.com/ns/img:v1: {lookaside: https://tag/s}\n"
		     "  registry.example.com/ns/img@" DIGEST ": {sigstore: https://digest/s}\n"
		     "  registry.example.com/ns/attach: {use-sigstore-attachments: true}\n"
		     "  \"*.example.com\": {lookaside: https://wild/s}\n"
		     "  \"*.com\": {lookaside: https://com/s}\n"
		     "  docker.io/library: {lookaside: https://library/s}\n"
		     "  docker.io/busybox: {lookaside: https://busybox-ns/s}\n"
		     "  \"*.0.0.1\": {lookaside: https://loop/s}\n"
		     "  \"[::1]:5000\": {lookaside: https://v6/s}\n");
	struct {
		const char *ref, *scope, *read, *write;
	} cases[] = {
		{ "registry.example.com/ns/img:v1", "registry.example.com/ns/img:v1",
		  "https://tag/s", "https://tag/s" },
		{ "registry.example.com/ns/img@" DIGEST, "registry.example.com/ns/img@" DIGEST,
		  "https://digest/s", "https://digest/s" },
		/* with both, the digest first, then the tag */
		{ "registry.example.com/ns/img:v1@" DIGEST, "registry.example.com/ns/img@" DIGEST,
		  "https://digest/s", "https://digest/s" },
		{ "registry.example.com/ns/img:v2", "registry.example.com/ns/img", "https://repo/s",
		  "file:///staging/repo" },
		{ "registry.example.com/ns/other:v1", "registry.example.com/ns", "https://ns/s",
		  "https://ns/s" },
		{ "registry.example.com/ns/img/deeper:v1", "registry.example.com/ns/img",
		  "https://repo/s", "file:///staging/repo" },
		{ "registry.example.com/other/x:v1", "registry.example.com", "https://host/s",
		  "https://host/s" },
		/* a port is part of the host: without a scope of its own, no port-less parent */
		{ "registry.example.com:5000/ns/img:v1", "registry.example.com:5000",
		  "https://port/s", "https://port/s" },
		{ "registry.example.com:5001/ns/img:v1", "*.example.com", "https://wild/s",
		  "https://wild/s" },
		{ "a.b.example.com/x:1", "*.example.com", "https://wild/s", "https://wild/s" },
		{ "other.com/x:1", "*.com", "https://com/s", "https://com/s" },
		{ "busybox", "docker.io/library", "https://library/s", "https://library/s" },
		{ "busybox/tool:1", "docker.io/busybox", "https://busybox-ns/s",
		  "https://busybox-ns/s" },
		{ "127.0.0.1:5000/x:1", "*.0.0.1", "https://loop/s", "https://loop/s" },
		{ "[::1]:5000/x:1", "[::1]:5000", "https://v6/s", "https://v6/s" },
		{ "[::1]:5001/x:1", "default-docker", "https://default.example/s",
		  "https://default.example/s" },
		{ "quay.io/x:1", "default-docker", "https://default.example/s",
		  "https://default.example/s" },
		{ "localhost/x:1", "default-docker", "https://default.example/s",
		  "https://default.example/s" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		expect_config(r, cases[i].ref, cases[i].scope, cases[i].read, cases[i].write,
			      false);
	/* Each setting from the most specific scope that has it, as containers/image takes
	 * them: the repository's section sets only attachments, its namespace's lookaside is
	 * read and written. */
	expect_config(r, "registry.example.com/ns/attach:v1", "registry.example.com/ns/attach",
		      "https://ns/s", "https://ns/s", true);
	sign_registries_free(r);

	/* No registries.d at all, or one without default-docker: the built-in default. */
	expect_config(NULL, "quay.io/x:1", NULL, SIGN_LOOKASIDE_DEFAULT, SIGN_LOOKASIDE_DEFAULT,
		      false);
	r = parse_ok("docker: {example.com: {}}\n");
	expect_config(r, "quay.io/x:1", NULL, SIGN_LOOKASIDE_DEFAULT, SIGN_LOOKASIDE_DEFAULT,
		      false);
	sign_registries_free(r);
}

/* ---- file:// lookaside ---- */

static struct img_ref ref_of(const char *text)
{
	struct img_ref ref;
	assert_int_equal(img_ref_parse(text, &ref, NULL), 0);
	return ref;
}

static struct sign_registries *lookaside_config(const char *read, const char *write)
{
	_cleanup_free_ char *yaml = xasprintf(
	    "docker:\n  registry.example.com:\n    lookaside: %s\n%s%s%s", read,
	    write ? "    lookaside-staging: " : "", write ? write : "", write ? "\n" : "");
	return parse_ok(yaml);
}

static char *sigdir(const char *base)
{
	return xasprintf("%s/ns/img@sha256=" HEX, base);
}

static void put_file(const char *dir, unsigned n, const char *text)
{
	struct cc_error *err = NULL;
	assert_int_equal(cc_mkdir_p(dir, 0755, &err), 0);
	_cleanup_free_ char *name = xasprintf("signature-%u", n);
	write_text(dir, name, text);
}

static void expect_fetch_error(const struct sign_registries *rd, const struct img_ref *ref,
			       const char *want)
{
	struct sign_found found;
	struct cc_error *err = NULL;
	assert_int_equal(sign_storage_fetch(NULL, rd, ref, DIGEST, &found, &err), -1);
	if (strcmp(err->msg, want))
		fail_msg("got  \"%s\"\nwant \"%s\"", err->msg, want);
	assert_int_equal(found.n_simple, 0);
	assert_null(found.simple);
	cc_error_free(&err);
}

static void test_file_read(void **state)
{
	_cleanup_free_ char *base = xasprintf("%s/la-read", root);
	_cleanup_free_ char *url = xasprintf("file://%s", base);
	_cleanup_free_ char *dir = sigdir(base);
	struct sign_registries *rd = lookaside_config(url, NULL);
	struct img_ref ref = ref_of("registry.example.com/ns/img:v1");
	struct sign_found found;
	struct cc_error *err = NULL;

	/* Nothing there yet: no signatures, not an error. */
	assert_int_equal(sign_storage_fetch(NULL, rd, &ref, DIGEST, &found, &err), 0);
	assert_int_equal(found.n_simple, 0);
	sign_found_clear(&found);

	/* 1, 2, then a gap: 4 is never read. */
	put_file(dir, 1, "first");
	put_file(dir, 2, "second");
	put_file(dir, 4, "fourth");
	assert_int_equal(sign_storage_fetch(NULL, rd, &ref, DIGEST, &found, &err), 0);
	assert_int_equal(found.n_simple, 2);
	assert_int_equal(found.n_cosign, 0);
	assert_int_equal(found.simple[0].len, 5);
	assert_memory_equal(found.simple[0].data, "first", 5);
	assert_memory_equal(found.simple[1].data, "second", 6);
	_cleanup_free_ char *o2 = xasprintf("%s/ns/img@sha256=" HEX "/signature-2", url);
	assert_string_equal(found.simple[1].origin, o2);
	assert_null(found.simple[1].signature);
	sign_found_clear(&found);

	/* An empty signature file is read as it is. */
	put_file(dir, 3, "");
	assert_int_equal(sign_storage_fetch(NULL, rd, &ref, DIGEST, &found, &err), 0);
	assert_int_equal(found.n_simple, 4);
	assert_int_equal(found.simple[2].len, 0);
	sign_found_clear(&found);

	/* What cannot be read is an error, never "no signatures". */
	_cleanup_free_ char *s1 = xasprintf("%s/signature-1", dir);
	_cleanup_free_ char *o1 = xasprintf("%s/ns/img@sha256=" HEX "/signature-1", url);
	assert_int_equal(unlink(s1), 0);
	assert_int_equal(mkdir(s1, 0755), 0);
	_cleanup_free_ char *want = xasprintf("%s: not a regular file", o1);
	expect_fetch_error(rd, &ref, want);
	assert_int_equal(rmdir(s1), 0);
	assert_int_equal(symlink("signature-2", s1), 0);
	_cleanup_free_ char *want_link = xasprintf("%s: Too many levels of symbolic links", o1);
	expect_fetch_error(rd, &ref, want_link);
	assert_int_equal(unlink(s1), 0);

	/* Larger than the bound. */
	_cleanup_free_ char *huge = xmalloc(SIGN_STORAGE_BLOB_MAX + 2);
	memset(huge, 'x', SIGN_STORAGE_BLOB_MAX + 1);
	huge[SIGN_STORAGE_BLOB_MAX + 1] = '\0';
	put_file(dir, 1, huge);
	_cleanup_free_ char *want_big = xasprintf("%s: larger than 4194304 bytes", o1);
	expect_fetch_error(rd, &ref, want_big);
	huge[SIGN_STORAGE_BLOB_MAX] = '\0';
	put_file(dir, 1, huge);
	assert_int_equal(sign_storage_fetch(NULL, rd, &ref, DIGEST, &found, &err), 0);
	assert_int_equal(found.simple[0].len, SIGN_STORAGE_BLOB_MAX);
	sign_found_clear(&found);

	/* More signatures than the bound. */
	for (unsigned i = 1; i <= SIGN_STORAGE_MAX + 1; i++)
		put_file(dir, i, "s");
	_cleanup_free_ char *want_many =
	    xasprintf("%s/ns/img@sha256=" HEX ": more than 64 signatures", url);
	expect_fetch_error(rd, &ref, want_many);
	_cleanup_free_ char *last = xasprintf("%s/signature-%d", dir, SIGN_STORAGE_MAX + 1);
	assert_int_equal(unlink(last), 0);
	assert_int_equal(sign_storage_fetch(NULL, rd, &ref, DIGEST, &found, &err), 0);
	assert_int_equal(found.n_simple, SIGN_STORAGE_MAX);
	sign_found_clear(&found);

	/* A digest that is not one. */
	assert_int_equal(sign_storage_fetch(NULL, rd, &ref, "sha256:abc", &found, &err), -1);
	assert_string_equal(err->msg, "signatures: \"sha256:abc\" is not a valid manifest digest");
	cc_error_free(&err);
	img_ref_clear(&ref);
	sign_registries_free(rd);
}

static void expect_file(const char *path, const char *text)
{
	struct stat st;
	size_t len;
	struct cc_error *err = NULL;
	_cleanup_free_ char *got = cc_read_file(path, 0, &len, &err);
	if (!got)
		fail_msg("%s", err->msg);
	assert_int_equal(len, strlen(text));
	assert_memory_equal(got, text, len);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0644);
}

static size_t count_entries(const char *dir)
{
	_cleanup_closedir_ DIR *d = opendir(dir);
	size_t n = 0;
	assert_non_null(d);
	for (struct dirent *de; (de = readdir(d));)
		n += de->d_name[0] != '.' || strncmp(de->d_name, ".signature", 10) == 0;
	return n;
}

static void test_file_write(void **state)
{
	_cleanup_free_ char *base = xasprintf("%s/la-write", root);
	_cleanup_free_ char *staging = xasprintf("%s/la-staging", root);
	_cleanup_free_ char *url = xasprintf("file://%s", base);
	_cleanup_free_ char *surl = xasprintf("file://%s", staging);
	_cleanup_free_ char *dir = sigdir(base);
	struct sign_registries *rd = lookaside_config(url, NULL);
	struct img_ref ref = ref_of("registry.example.com/ns/img:v1");
	struct cc_error *err = NULL;
	char *where = NULL;
	mode_t old = umask(077); /* the files are 0644 whatever the umask */

	/* Into a lookaside that does not exist yet: the directories are made. */
	assert_int_equal(sign_storage_put_simple(NULL, rd, &ref, DIGEST, "one", 3, &where, &err),
			 0);
	_cleanup_free_ char *w1 = xasprintf("%s/ns/img@sha256=" HEX "/signature-1", url);
	assert_string_equal(where, w1);
	free(where);
	_cleanup_free_ char *p1 = xasprintf("%s/signature-1", dir);
	expect_file(p1, "one");

	/* Never over an existing one: the first free number, a gap filled first. */
	put_file(dir, 2, "two");
	put_file(dir, 4, "four");
	assert_int_equal(sign_storage_put_simple(NULL, rd, &ref, DIGEST, "three", 5, &where, &err),
			 0);
	_cleanup_free_ char *w3 = xasprintf("%s/ns/img@sha256=" HEX "/signature-3", url);
	assert_string_equal(where, w3);
	free(where);
	assert_int_equal(sign_storage_put_simple(NULL, rd, &ref, DIGEST, "five", 4, NULL, &err), 0);
	_cleanup_free_ char *p2 = xasprintf("%s/signature-2", dir);
	_cleanup_free_ char *p3 = xasprintf("%s/signature-3", dir);
	_cleanup_free_ char *p5 = xasprintf("%s/signature-5", dir);
	expect_file(p1, "one");
	expect_file(p3, "three");
	expect_file(p5, "five");
	struct stat st;
	_cleanup_free_ char *p4 = xasprintf("%s/signature-4", dir);
	assert_int_equal(stat(p4, &st), 0);
	/* No temporary file left behind. */
	assert_int_equal(count_entries(dir), 5);

	/* What was written reads back, in order. */
	struct sign_found found;
	assert_int_equal(sign_storage_fetch(NULL, rd, &ref, DIGEST, &found, &err), 0);
	assert_int_equal(found.n_simple, 5);
	assert_memory_equal(found.simple[4].data, "five", 4);
	sign_found_clear(&found);
	umask(old);

	/* Staging is where writes go. */
	sign_registries_free(rd);
	rd = lookaside_config(url, surl);
	assert_int_equal(sign_storage_put_simple(NULL, rd, &ref, DIGEST, "staged", 6, &where, &err),
			 0);
	_cleanup_free_ char *ws = xasprintf("%s/ns/img@sha256=" HEX "/signature-1", surl);
	assert_string_equal(where, ws);
	free(where);
	_cleanup_free_ char *sdir = sigdir(staging);
	_cleanup_free_ char *sp1 = xasprintf("%s/signature-1", sdir);
	expect_file(sp1, "staged");
	assert_int_equal(count_entries(dir), 5);

	/* A URL's path is %-decoded. */
	sign_registries_free(rd);
	_cleanup_free_ char *spaced = xasprintf("file://%s/la%%20spaced", root);
	rd = lookaside_config(spaced, NULL);
	assert_int_equal(sign_storage_put_simple(NULL, rd, &ref, DIGEST, "sp", 2, NULL, &err), 0);
	_cleanup_free_ char *spath =
	    xasprintf("%s/la spaced/ns/img@sha256=" HEX "/signature-1", root);
	expect_file(spath, "sp");
	sign_registries_free(rd);
	rd = lookaside_config(url, surl);

	/* Full: no 65th. */
	for (unsigned i = 1; i <= SIGN_STORAGE_MAX; i++)
		put_file(sdir, i, "s");
	assert_int_equal(sign_storage_put_simple(NULL, rd, &ref, DIGEST, "more", 4, &where, &err),
			 -1);
	_cleanup_free_ char *wfull =
	    xasprintf("%s/ns/img@sha256=" HEX ": already 64 signatures", surl);
	assert_string_equal(err->msg, wfull);
	cc_error_free(&err);
	assert_int_equal(count_entries(sdir), SIGN_STORAGE_MAX);

	/* An http(s) lookaside cannot be written. */
	sign_registries_free(rd);
	rd = lookaside_config("https://sigs.example.com/la", NULL);
	assert_int_equal(sign_storage_put_simple(NULL, rd, &ref, DIGEST, "x", 1, &where, &err), -1);
	assert_string_equal(err->msg, "writing signatures to https://sigs.example.com/la is not "
				      "supported: only a file:// lookaside can be written");
	cc_error_free(&err);
	assert_int_equal(sign_storage_put_simple(NULL, rd, &ref, DIGEST, "", 0, NULL, &err), -1);
	assert_string_equal(err->msg, "signature: 0 bytes, not 1 to 4194304");
	cc_error_free(&err);
	img_ref_clear(&ref);
	sign_registries_free(rd);
}

/* ---- a loopback HTTP server ---- */

struct route {
	const char *method, *path; /* path: the target without its query; a final '*' matches
				      any rest */
	int status;		   /* 0: no answer at all for 2 s */
	const char *headers;	   /* extra header lines, each ending in \r\n */
	const char *body;
	size_t len; /* 0: strlen(body) */
};

struct server {
	pid_t pid;
	int port;
	char *log;
};

/* Servers still running: a failed assertion leaves its test early, teardown stops them. */
static pid_t running[8];

static bool route_matches(const struct route *r, const char *method, const char *path)
{
	size_t n = strlen(r->path);
	if (strcmp(r->method, method))
		return false;
	if (n && r->path[n - 1] == '*')
		return !strncmp(r->path, path, n - 1);
	return !strcmp(r->path, path);
}

/* One request: logged as "METHOD TARGET LEN\n" + body + "\n", answered from the table (404
 * when no route matches; "{PORT}" in its headers is the server's port). A TLS hello is not
 * answered: the client then speaks plain HTTP. */
static void serve_one(int c, const struct route *routes, size_t n, int logfd, int port)
{
	static char buf[1 << 20];
	size_t got = 0;
	char *end = NULL;
	while (!end) {
		ssize_t k = read(c, buf + got, sizeof(buf) - 1 - got);
		if (k <= 0)
			return;
		got += (size_t)k;
		buf[got] = '\0';
		if (buf[0] < 'A' || buf[0] > 'Z')
			return;
		end = strstr(buf, "\r\n\r\n");
	}
	char method[16], target[4096];
	if (sscanf(buf, "%15s %4095s", method, target) != 2)
		return;
	size_t clen = 0;
	for (char *line = strstr(buf, "\r\n"); line && line < end; line = strstr(line + 2, "\r\n"))
		if (!strncasecmp(line + 2, "Content-Length:", 15))
			clen = strtoul(line + 17, NULL, 10);
	char *body = end + 4;
	while ((size_t)(buf + got - body) < clen) {
		ssize_t k = read(c, buf + got, sizeof(buf) - 1 - got);
		if (k <= 0)
			return;
		got += (size_t)k;
	}
	dprintf(logfd, "%s %s %zu\n", method, target, clen);
	CC_BEST_EFFORT(cc_write_all(logfd, body, clen)); /* the test reads what is there */
	CC_BEST_EFFORT(cc_write_all(logfd, "\n", 1));
	target[strcspn(target, "?")] = '\0';
	const struct route *r = NULL;
	for (size_t i = 0; i < n && !r; i++)
		if (route_matches(&routes[i], method, target))
			r = &routes[i];
	if (r && !r->status) { /* a server that hangs: nothing, then the connection closes */
		sleep(2);
		return;
	}
	const char *rbody = r && r->body ? r->body : "";
	size_t rlen = r && r->len ? r->len : strlen(rbody);
	const char *h = r && r->headers ? r->headers : "", *mark = strstr(h, "{PORT}");
	dprintf(c, "HTTP/1.1 %d Canned\r\nContent-Length: %zu\r\nConnection: close\r\n",
		r ? r->status : 404, rlen);
	if (mark) /* where the server is, for an absolute Location */
		dprintf(c, "%.*s%d%s\r\n", (int)(mark - h), h, port, mark + 6);
	else
		dprintf(c, "%s\r\n", h);
	if (strcmp(method, "HEAD"))
		CC_BEST_EFFORT(cc_write_all(c, rbody, rlen)); /* the client sees what it gets */
}

static void server_start(struct server *s, const struct route *routes, size_t n)
{
	static int count;
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	assert_true(l >= 0);
	assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(l, 16), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&a, &alen), 0);
	s->port = ntohs(a.sin_port);
	s->log = xasprintf("%s/http-%d.log", root, count++);
	int logfd = open(s->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	assert_true(logfd >= 0);
	s->pid = fork();
	assert_true(s->pid >= 0);
	if (s->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;) {
			int c = accept(l, NULL, NULL);
			if (c < 0)
				continue;
			serve_one(c, routes, n, logfd, s->port);
			close(c);
		}
	}
	close(l);
	close(logfd);
	for (size_t i = 0; i < ARRAY_SIZE(running); i++)
		if (!running[i]) {
			running[i] = s->pid;
			break;
		}
}

static void stop_pid(pid_t pid)
{
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	for (size_t i = 0; i < ARRAY_SIZE(running); i++)
		if (running[i] == pid)
			running[i] = 0;
}

static void server_stop(struct server *s)
{
	stop_pid(s->pid);
	free(s->log);
}

static int teardown(void **state)
{
	for (size_t i = 0; i < ARRAY_SIZE(running); i++)
		if (running[i])
			stop_pid(running[i]);
	return tmproot_teardown(state);
}

static char *server_log(const struct server *s)
{
	struct cc_error *err = NULL;
	char *log = cc_read_file(s->log, 0, NULL, &err);
	if (!log)
		fail_msg("%s", err->msg);
	return log;
}

static size_t count_of(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static struct img_registry *client_stall(const struct server *s, const char *repo,
					 struct img_ref *ref, uint64_t stall_ms)
{
	_cleanup_free_ char *text = xasprintf("127.0.0.1:%d/%s:v1", s->port, repo);
	struct img_registry_opts o = { .retries = 1,
				       .stall_timeout_ms = stall_ms,
				       .auth_file = "/nonexistent/auth.json" };
	struct cc_error *err = NULL;
	*ref = ref_of(text);
	struct img_registry *reg = img_registry_open(ref, &o, &err);
	if (!reg)
		fail_msg("%s", err->msg);
	return reg;
}

static struct img_registry *client(const struct server *s, const char *repo, struct img_ref *ref)
{
	return client_stall(s, repo, ref, 5000);
}

#define SIGS_PATH "/extensions/v2/ns/img/signatures/" DIGEST
#define PING_YES                                                                     \
	{                                                                            \
		"GET", "/v2/", 200, "X-Registry-Supports-Signatures: 1\r\n", "{}", 0 \
	}

static void test_extension_read(void **state)
{
	static const char list[] =
	    "{\"signatures\":["
	    "{\"schemaVersion\":2,\"name\":\"" DIGEST "@a\",\"type\":\"atomic\","
	    "\"content\":\"c2lnLWE=\"},"
	    "{\"schemaVersion\":1,\"type\":\"atomic\",\"content\":\"eA==\"},"
	    "{\"schemaVersion\":2,\"type\":\"sigstore\",\"content\":\"eA==\"},"
	    "{\"schemaVersion\":2,\"type\":\"atomic\"},"
	    "{\"schemaVersion\":2,\"name\":\"" DIGEST "@b\",\"type\":\"atomic\","
	    "\"content\":\"c2lnLWI=\",\"future\":true}],\"extra\":1}";
	static const struct route routes[] = { PING_YES, { "GET", SIGS_PATH, 200, NULL, list, 0 } };
	struct server s;
	server_start(&s, routes, ARRAY_SIZE(routes));
	struct img_ref ref;
	struct img_registry *reg = client(&s, "ns/img", &ref);
	/* The lookaside has a signature too: with the extension it is not consulted. */
	_cleanup_free_ char *base = xasprintf("%s/la-ext", root);
	_cleanup_free_ char *dir = sigdir(base);
	put_file(dir, 1, "from-lookaside");
	_cleanup_free_ char *url = xasprintf("file://%s", base);
	_cleanup_free_ char *yaml =
	    xasprintf("docker: {127.0.0.1:%d: {lookaside: \"%s\"}}\n", s.port, url);
	struct sign_registries *rd = parse_ok(yaml);
	struct sign_found found;
	struct cc_error *err = NULL;
	if (sign_storage_fetch(reg, rd, &ref, DIGEST, &found, &err) < 0)
		fail_msg("%s", err->msg);
	assert_int_equal(found.n_simple, 2);
	assert_int_equal(found.simple[0].len, 5);
	assert_memory_equal(found.simple[0].data, "sig-a", 5);
	assert_memory_equal(found.simple[1].data, "sig-b", 5);
	_cleanup_free_ char *o1 = xasprintf("registry extension 127.0.0.1:%d #1", s.port);
	_cleanup_free_ char *o5 = xasprintf("registry extension 127.0.0.1:%d #5", s.port);
	assert_string_equal(found.simple[0].origin, o1);
	assert_string_equal(found.simple[1].origin, o5);
	assert_int_equal(found.n_cosign, 0);
	sign_found_clear(&found);
	_cleanup_free_ char *log = server_log(&s);
	assert_int_equal(count_of(log, "GET /v2/ 0"), 1); /* pinged once */
	assert_int_equal(count_of(log, "GET " SIGS_PATH " 0"), 1);
	/* Asked again: the client remembers the ping. */
	assert_int_equal(sign_storage_fetch(reg, rd, &ref, DIGEST, &found, &err), 0);
	sign_found_clear(&found);
	free(log);
	log = server_log(&s);
	assert_int_equal(count_of(log, "GET /v2/ 0"), 1);
	img_registry_close(reg);
	img_ref_clear(&ref);
	sign_registries_free(rd);
	server_stop(&s);
}

static void expect_extension_error(const char *answer, int status, const char *want_fmt)
{
	const struct route routes[] = { PING_YES, { "GET", SIGS_PATH, status, NULL, answer, 0 } };
	struct server s;
	server_start(&s, routes, ARRAY_SIZE(routes));
	struct img_ref ref;
	struct img_registry *reg = client(&s, "ns/img", &ref);
	struct sign_found found;
	struct cc_error *err = NULL;
	assert_int_equal(sign_storage_fetch(reg, NULL, &ref, DIGEST, &found, &err), -1);
	char want[1024];
	snprintf(want, sizeof(want), want_fmt, s.port, s.port);
	if (strncmp(err->msg, want, strlen(want)))
		fail_msg("got  \"%s\"\nwant \"%s\"", err->msg, want);
	assert_int_equal(found.n_simple, 0);
	cc_error_free(&err);
	img_registry_close(reg);
	img_ref_clear(&ref);
	server_stop(&s);
}

static void test_extension_errors(void **state)
{
	expect_extension_error("{\"signatures\":\"x\"}", 200,
			       "registry extension 127.0.0.1:%d: signatures: expected array, got "
			       "string");
	expect_extension_error("[]", 200,
			       "registry extension 127.0.0.1:%d: expected object, got array");
	expect_extension_error("{\"signatures\":[{\"schemaVersion\":2,\"type\":\"atomic\","
			       "\"content\":\"not base64!\"}]}",
			       200,
			       "registry extension 127.0.0.1:%d: signatures[0].content: not "
			       "valid base64");
	expect_extension_error("{\"signatures\":[{\"schemaVersion\":\"2\"}]}", 200,
			       "registry extension 127.0.0.1:%d: signatures[0].schemaVersion: "
			       "expected integer, got string");
	expect_extension_error("{\"signatures\":[", 200, "registry extension 127.0.0.1:%d:");
	expect_extension_error("", 404, SIGS_PATH ": not found in 127.0.0.1:%d/ns/img");
	expect_extension_error("", 500, SIGS_PATH ": registry 127.0.0.1:%d answered HTTP 500");
}

static void test_extension_write(void **state)
{
	static const char list[] = "{\"signatures\":[{\"schemaVersion\":2,\"name\":\"" DIGEST
				   "@00000000000000000000000000000000\",\"type\":\"atomic\","
				   "\"content\":\"c2lnLWE=\"}]}";
	static const struct route routes[] = { PING_YES,
					       { "GET", SIGS_PATH, 200, NULL, list, 0 },
					       { "PUT", SIGS_PATH, 201, NULL, NULL, 0 } };
	struct server s;
	server_start(&s, routes, ARRAY_SIZE(routes));
	struct img_ref ref;
	struct img_registry *reg = client(&s, "ns/img", &ref);
	struct cc_error *err = NULL;
	char *where = NULL;
	if (sign_storage_put_simple(reg, NULL, &ref, DIGEST, "new-sig", 7, &where, &err) < 0)
		fail_msg("%s", err->msg);
	_cleanup_free_ char *log = server_log(&s);
	/* The list first, then one PUT of the new entry under a fresh name. */
	const char *get = strstr(log, "GET " SIGS_PATH " 0\n");
	const char *put = strstr(log, "PUT " SIGS_PATH " ");
	assert_non_null(get);
	assert_non_null(put);
	assert_true(get < put);
	const char *body = strchr(put, '\n') + 1;
	static const char head[] = "{\"schemaVersion\":2,\"name\":\"" DIGEST "@";
	static const char tail[] = "\",\"type\":\"atomic\",\"content\":\"bmV3LXNpZw==\"}\n";
	assert_int_equal(strncmp(body, head, strlen(head)), 0);
	const char *hex = body + strlen(head);
	assert_int_equal(strspn(hex, "0123456789abcdef"), 32);
	assert_string_equal(hex + 32, tail);
	_cleanup_free_ char *wname = xstrndup(body + 27, strlen(DIGEST) + 33);
	_cleanup_free_ char *want =
	    xasprintf("registry extension 127.0.0.1:%d (%s)", s.port, wname);
	assert_string_equal(where, want);
	free(where);

	/* The same signature again: nothing is written. */
	assert_int_equal(sign_storage_put_simple(reg, NULL, &ref, DIGEST, "sig-a", 5, &where, &err),
			 0);
	_cleanup_free_ char *w1 = xasprintf("registry extension 127.0.0.1:%d #1", s.port);
	assert_string_equal(where, w1);
	free(where);
	_cleanup_free_ char *log2 = server_log(&s);
	assert_int_equal(count_of(log2, "PUT "), 1);
	img_registry_close(reg);
	img_ref_clear(&ref);
	server_stop(&s);

	/* A registry that does not answer 201. */
	static const struct route ok200[] = { PING_YES,
					      { "GET", SIGS_PATH, 200, NULL, "{}", 0 },
					      { "PUT", SIGS_PATH, 200, NULL, NULL, 0 } };
	server_start(&s, ok200, ARRAY_SIZE(ok200));
	reg = client(&s, "ns/img", &ref);
	assert_int_equal(sign_storage_put_simple(reg, NULL, &ref, DIGEST, "x", 1, NULL, &err), -1);
	_cleanup_free_ char *want200 =
	    xasprintf(SIGS_PATH ": registry 127.0.0.1:%d answered HTTP 200, not 201", s.port);
	assert_string_equal(err->msg, want200);
	cc_error_free(&err);
	img_registry_close(reg);
	img_ref_clear(&ref);
	server_stop(&s);
}

static void test_no_extension(void **state)
{
	/* No header (or not "1"): the lookaside, read and written. A 401 ping counts too. */
	static const struct route plain[] = { { "GET", "/v2/", 200, NULL, "{}", 0 } };
	static const struct route other[] = {
		{ "GET", "/v2/", 200, "X-Registry-Supports-Signatures: 0\r\n", "{}", 0 }
	};
	static const struct route denied[] = {
		{ "GET", "/v2/", 401,
		  "WWW-Authenticate: Bearer realm=\"http://127.0.0.1:9/token\"\r\n"
		  "X-Registry-Supports-Signatures: 1\r\n",
		  "{}", 0 },
		{ "GET", SIGS_PATH, 200, NULL, "{\"signatures\":[]}", 0 }
	};
	const struct route *tables[] = { plain, other, denied };
	for (size_t t = 0; t < ARRAY_SIZE(tables); t++) {
		struct server s;
		server_start(&s, tables[t], t == 2 ? 2 : 1);
		struct img_ref ref;
		struct img_registry *reg = client(&s, "ns/img", &ref);
		_cleanup_free_ char *base = xasprintf("%s/la-noext-%zu", root, t);
		_cleanup_free_ char *url = xasprintf("file://%s", base);
		_cleanup_free_ char *yaml =
		    xasprintf("docker: {127.0.0.1:%d: {lookaside: \"%s\"}}\n", s.port, url);
		struct sign_registries *rd = parse_ok(yaml);
		_cleanup_free_ char *dir = sigdir(base);
		put_file(dir, 1, "from-lookaside");
		struct sign_found found;
		struct cc_error *err = NULL;
		if (sign_storage_fetch(reg, rd, &ref, DIGEST, &found, &err) < 0)
			fail_msg("%s", err->msg);
		_cleanup_free_ char *log = server_log(&s);
		if (t < 2) {
			assert_int_equal(found.n_simple, 1);
			assert_memory_equal(found.simple[0].data, "from-lookaside", 14);
			assert_null(strstr(log, "/extensions/"));
			assert_int_equal(
			    sign_storage_put_simple(reg, rd, &ref, DIGEST, "w", 1, NULL, &err), 0);
			_cleanup_free_ char *p2 = xasprintf("%s/signature-2", dir);
			expect_file(p2, "w");
		} else {
			assert_int_equal(found.n_simple, 0);
			assert_non_null(strstr(log, "GET " SIGS_PATH));
		}
		sign_found_clear(&found);
		sign_registries_free(rd);
		img_registry_close(reg);
		img_ref_clear(&ref);
		server_stop(&s);
	}

	/* A ping that fails is an error. */
	static const struct route broken[] = { { "GET", "/v2/", 500, NULL, "", 0 } };
	struct server s;
	server_start(&s, broken, 1);
	struct img_ref ref;
	struct img_registry *reg = client(&s, "ns/img", &ref);
	struct sign_found found;
	struct cc_error *err = NULL;
	assert_int_equal(sign_storage_fetch(reg, NULL, &ref, DIGEST, &found, &err), -1);
	_cleanup_free_ char *want =
	    xasprintf("GET /v2/: registry 127.0.0.1:%d answered HTTP 500", s.port);
	assert_string_equal(err->msg, want);
	cc_error_free(&err);
	img_registry_close(reg);
	img_ref_clear(&ref);
	server_stop(&s);
}

#define LA_PATH "/sigs/ns/img@sha256=" HEX "/signature-"

static void test_http_lookaside(void **state)
{
	static const struct route routes[] = {
		{ "GET", "/v2/", 200, NULL, "{}", 0 },
		{ "GET", LA_PATH "1", 200, NULL, "one", 0 },
		{ "GET", LA_PATH "2", 200, NULL, "two", 0 },
		{ "GET", LA_PATH "3", 404, NULL, "", 0 },
		{ "GET", LA_PATH "4", 200, NULL, "never", 0 },
		{ "GET", "/bad" LA_PATH "1", 500, NULL, "", 0 },
		{ "GET", "/big" LA_PATH "1", 200, NULL, NULL, 0 }, /* filled below */
		{ "GET", "/slow" LA_PATH "1", 0, NULL, NULL, 0 },
	};
	struct route table[ARRAY_SIZE(routes)];
	memcpy(table, routes, sizeof(routes));
	_cleanup_free_ char *big = xmalloc(SIGN_STORAGE_BLOB_MAX + 2);
	memset(big, 'b', SIGN_STORAGE_BLOB_MAX + 1);
	big[SIGN_STORAGE_BLOB_MAX + 1] = '\0';
	table[6].body = big;
	struct server s;
	server_start(&s, table, ARRAY_SIZE(table));
	struct img_ref ref;
	struct img_registry *reg = client(&s, "ns/img", &ref);
	struct cc_error *err = NULL;
	struct sign_found found;

	/* 200, 200, 404: two signatures, with the registry's client or one of its own. */
	char *yaml = xasprintf(
	    "docker: {127.0.0.1:%d: {lookaside: \"http://127.0.0.1:%d/sigs\"}}\n", s.port, s.port);
	struct sign_registries *rd = parse_ok(yaml);
	for (int own = 0; own < 2; own++) {
		if (sign_storage_fetch(own ? NULL : reg, rd, &ref, DIGEST, &found, &err) < 0)
			fail_msg("%s", err->msg);
		assert_int_equal(found.n_simple, 2);
		assert_memory_equal(found.simple[0].data, "one", 3);
		assert_memory_equal(found.simple[1].data, "two", 3);
		_cleanup_free_ char *o2 = xasprintf("http://127.0.0.1:%d" LA_PATH "2", s.port);
		assert_string_equal(found.simple[1].origin, o2);
		sign_found_clear(&found);
	}
	_cleanup_free_ char *log = server_log(&s);
	assert_int_equal(count_of(log, "GET " LA_PATH "3"), 2);
	assert_null(strstr(log, "GET " LA_PATH "4"));

	/* 500 (retried once): an error naming the URL. */
	sign_registries_free(rd);
	free(yaml);
	yaml = xasprintf("docker: {127.0.0.1:%d: {lookaside: \"http://127.0.0.1:%d/bad/sigs\"}}\n",
			 s.port, s.port);
	rd = parse_ok(yaml);
	assert_int_equal(sign_storage_fetch(reg, rd, &ref, DIGEST, &found, &err), -1);
	_cleanup_free_ char *want500 =
	    xasprintf("http://127.0.0.1:%d/bad" LA_PATH "1: the server answered HTTP 500", s.port);
	assert_string_equal(err->msg, want500);
	cc_error_free(&err);
	sign_registries_free(rd);

	/* Larger than the bound. */
	free(yaml);
	yaml = xasprintf("docker: {127.0.0.1:%d: {lookaside: \"http://127.0.0.1:%d/big/sigs\"}}\n",
			 s.port, s.port);
	rd = parse_ok(yaml);
	assert_int_equal(sign_storage_fetch(reg, rd, &ref, DIGEST, &found, &err), -1);
	_cleanup_free_ char *wantbig = xasprintf(
	    "http://127.0.0.1:%d/big" LA_PATH "1: answer larger than 4194304 bytes", s.port);
	assert_string_equal(err->msg, wantbig);
	cc_error_free(&err);
	sign_registries_free(rd);

	/* A lookaside that stalls: the registry client's stall timeout (retried once). */
	free(yaml);
	yaml = xasprintf("docker: {127.0.0.1:%d: {lookaside: \"http://127.0.0.1:%d/slow/sigs\"}}\n",
			 s.port, s.port);
	rd = parse_ok(yaml);
	struct img_ref sref;
	struct img_registry *sreg = client_stall(&s, "ns/img", &sref, 300);
	assert_int_equal(sign_storage_fetch(sreg, rd, &sref, DIGEST, &found, &err), -1);
	_cleanup_free_ char *wantslow = xasprintf(
	    "http://127.0.0.1:%d/slow" LA_PATH "1: no data for 0.3 s (stalled at 0 bytes)", s.port);
	assert_string_equal(err->msg, wantslow);
	cc_error_free(&err);
	img_registry_close(sreg);
	img_ref_clear(&sref);
	sign_registries_free(rd);

	/* Nobody listening. */
	free(yaml);
	yaml =
	    xasprintf("docker: {127.0.0.1:%d: {lookaside: \"http://127.0.0.1:1/sigs\"}}\n", s.port);
	rd = parse_ok(yaml);
	assert_int_equal(sign_storage_fetch(reg, rd, &ref, DIGEST, &found, &err), -1);
	assert_string_equal(err->msg, "http://127.0.0.1:1" LA_PATH "1: Couldn't connect to server");
	cc_error_free(&err);
	sign_registries_free(rd);
	free(yaml);
	img_registry_close(reg);
	img_ref_clear(&ref);
	server_stop(&s);
}

/* ---- cosign attachments ---- */

#define SIG_TAG "sha256-" HEX ".sig"
#define SIG_MANIFEST "/v2/ns/img/manifests/" SIG_TAG

static char *sig_manifest(const char *const *payloads, const char *const *sigs, size_t n)
{
	struct sign_cosign_layer *layers = xcalloc(n, sizeof(*layers));
	for (size_t i = 0; i < n; i++)
		layers[i] =
		    (struct sign_cosign_layer){ img_digest_buf(payloads[i], strlen(payloads[i])),
						(int64_t)strlen(payloads[i]), (char *)sigs[i] };
	char *config, *manifest;
	size_t clen, mlen;
	struct cc_error *err = NULL;
	if (sign_cosign_manifest_build(layers, n, &config, &clen, &manifest, &mlen, &err) < 0)
		fail_msg("%s", err->msg);
	for (size_t i = 0; i < n; i++)
		free(layers[i].digest);
	free(layers);
	free(config);
	return manifest;
}

static void test_cosign_read(void **state)
{
	static const char *const payloads[] = { "{\"p\":1}", "{\"p\":2}" };
	static const char *const sigs[] = { "MEUCIQ1", "MEUCIQ2" };
	_cleanup_free_ char *manifest = sig_manifest(payloads, sigs, 2);
	_cleanup_free_ char *d1 = img_digest_buf(payloads[0], strlen(payloads[0]));
	_cleanup_free_ char *d2 = img_digest_buf(payloads[1], strlen(payloads[1]));
	_cleanup_free_ char *b1 = xasprintf("/v2/ns/img/blobs/%s", d1);
	_cleanup_free_ char *b2 = xasprintf("/v2/ns/img/blobs/%s", d2);
	const struct route routes[] = {
		{ "GET", "/v2/", 200, NULL, "{}", 0 },
		{ "GET", SIG_MANIFEST, 200,
		  "Content-Type: application/vnd.oci.image.manifest.v1+json\r\n", manifest, 0 },
		{ "GET", b1, 200, NULL, payloads[0], 0 },
		{ "GET", b2, 200, NULL, "{\"p\":3}", 0 }, /* not what its digest says */
	};
	struct server s;
	server_start(&s, routes, ARRAY_SIZE(routes));
	struct img_ref ref;
	struct img_registry *reg = client(&s, "ns/img", &ref);
	struct cc_error *err = NULL;
	struct sign_found found;
	_cleanup_free_ char *base = xasprintf("%s/la-cosign", root);
	_cleanup_free_ char *yaml = xasprintf(
	    "docker:\n  127.0.0.1:%d/ns/img: {lookaside: \"file://%s\", "
	    "use-sigstore-attachments: true}\n  127.0.0.1:%d/ns/off: {lookaside: \"file://%s\"}\n",
	    s.port, base, s.port, base);
	struct sign_registries *rd = parse_ok(yaml);

	/* A payload that does not match its layer digest fails the whole fetch. */
	assert_int_equal(sign_storage_fetch(reg, rd, &ref, DIGEST, &found, &err), -1);
	_cleanup_free_ char *want =
	    xasprintf("ns/img:" SIG_TAG " layer 2: blob %s: digest mismatch", d2);
	if (strncmp(err->msg, want, strlen(want)))
		fail_msg("got \"%s\"", err->msg);
	cc_error_free(&err);
	assert_int_equal(found.n_cosign, 0);
	assert_null(found.cosign);
	server_stop(&s);

	/* Both payloads right. */
	struct route fixed[ARRAY_SIZE(routes)];
	memcpy(fixed, routes, sizeof(routes));
	fixed[3].body = payloads[1];
	server_start(&s, fixed, ARRAY_SIZE(fixed));
	img_registry_close(reg);
	img_ref_clear(&ref);
	reg = client(&s, "ns/img", &ref);
	sign_registries_free(rd);
	free(yaml);
	yaml = xasprintf("docker:\n  127.0.0.1:%d/ns/img: {lookaside: \"file://%s\", "
			 "use-sigstore-attachments: true}\n  127.0.0.1:%d/ns/off: {lookaside: "
			 "\"file://%s\"}\n",
			 s.port, base, s.port, base);
	rd = parse_ok(yaml);
	_cleanup_free_ char *dir = sigdir(base);
	put_file(dir, 1, "simple");
	if (sign_storage_fetch(reg, rd, &ref, DIGEST, &found, &err) < 0)
		fail_msg("%s", err->msg);
	assert_int_equal(found.n_simple, 1);
	assert_int_equal(found.n_cosign, 2);
	assert_memory_equal(found.cosign[0].data, payloads[0], strlen(payloads[0]));
	assert_memory_equal(found.cosign[1].data, payloads[1], strlen(payloads[1]));
	assert_string_equal(found.cosign[0].signature, "MEUCIQ1");
	assert_string_equal(found.cosign[1].signature, "MEUCIQ2");
	assert_string_equal(found.cosign[1].origin, "ns/img:" SIG_TAG " layer 2");
	sign_found_clear(&found);

	/* Where attachments are off, the .sig tag is not even asked for; a missing tag is no
	 * signature. */
	struct img_ref off = ref_of("127.0.0.1:1/ns/off:v1");
	free(off.domain);
	off.domain = xasprintf("127.0.0.1:%d", s.port);
	_cleanup_free_ char *before = server_log(&s);
	assert_int_equal(sign_storage_fetch(reg, rd, &off, DIGEST, &found, &err), 0);
	assert_int_equal(found.n_cosign, 0);
	sign_found_clear(&found);
	_cleanup_free_ char *after = server_log(&s);
	assert_int_equal(count_of(after, SIG_TAG), count_of(before, SIG_TAG));
	img_ref_clear(&off);
	static const char other[] =
	    "sha256:0000000000000000000000000000000000000000000000000000000000000000";
	assert_int_equal(sign_storage_fetch(reg, rd, &ref, other, &found, &err), 0);
	assert_int_equal(found.n_cosign, 0);
	sign_found_clear(&found);

	sign_registries_free(rd);
	img_registry_close(reg);
	img_ref_clear(&ref);
	server_stop(&s);
}

static void test_cosign_write(void **state)
{
	static const char *const payloads[] = { "{\"p\":1}", "{\"p\":2}" };
	static const char *const sigs[] = { "MEUCIQ1", "MEUCIQ2" };
	_cleanup_free_ char *one = sig_manifest(payloads, sigs, 1);
	_cleanup_free_ char *two = sig_manifest(payloads, sigs, 2);
	_cleanup_free_ char *d1 = img_digest_buf(payloads[0], strlen(payloads[0]));
	_cleanup_free_ char *d2 = img_digest_buf(payloads[1], strlen(payloads[1]));
	struct cc_error *err = NULL;
	char *where = NULL;

	/* No .sig yet: payload and config uploaded (relative Location with a query), the
	 * manifest put by the tag. */
	const struct route fresh[] = {
		{ "GET", "/v2/", 200, NULL, "{}", 0 },
		{ "GET", SIG_MANIFEST, 404, NULL, "", 0 },
		{ "HEAD", "/v2/ns/img/blobs/*", 404, NULL, "", 0 },
		{ "POST", "/v2/ns/img/blobs/uploads/", 202,
		  "Location: /v2/ns/img/blobs/uploads/u1?_state=abc\r\n", "", 0 },
		{ "PUT", "/v2/ns/img/blobs/uploads/u1", 201, NULL, "", 0 },
		{ "PUT", SIG_MANIFEST, 201, NULL, "", 0 },
	};
	struct server s;
	server_start(&s, fresh, ARRAY_SIZE(fresh));
	struct img_ref ref;
	struct img_registry *reg = client(&s, "ns/img", &ref);
	if (sign_storage_put_cosign(reg, &ref, DIGEST, payloads[0], strlen(payloads[0]), sigs[0],
				    &where, &err) < 0)
		fail_msg("%s", err->msg);
	_cleanup_free_ char *want = xasprintf("127.0.0.1:%d/ns/img:" SIG_TAG " layer 1", s.port);
	assert_string_equal(where, want);
	free(where);
	_cleanup_free_ char *log = server_log(&s);
	assert_int_equal(count_of(log, "POST /v2/ns/img/blobs/uploads/ 0"), 2);
	_cleanup_free_ char *put1 = xasprintf("PUT /v2/ns/img/blobs/uploads/u1?_state=abc&digest="
					      "sha256%%3A%s %zu\n%s\n",
					      d1 + 7, strlen(payloads[0]), payloads[0]);
	if (!strcasestr(log, put1)) /* curl writes %3a */
		fail_msg("no \"%s\" in\n%s", put1, log);
	_cleanup_free_ char *putm = xasprintf("PUT " SIG_MANIFEST " %zu\n%s\n", strlen(one), one);
	assert_non_null(strstr(log, putm));
	/* the config the manifest names went up too */
	const char *cfg = strstr(one, "\"config\":");
	assert_non_null(cfg);
	const char *cd = strstr(cfg, "sha256:");
	_cleanup_free_ char *cput = xasprintf("digest=sha256%%3A%.64s ", cd + 7);
	assert_non_null(strcasestr(log, cput));
	img_registry_close(reg);
	img_ref_clear(&ref);
	server_stop(&s);

	/* One signature there: the new one is added after it. The registry has the payload
	 * already (HEAD 200: not uploaded) and answers with an absolute Location. */
	_cleanup_free_ char *head2 = xasprintf("/v2/ns/img/blobs/%s", d2);
	struct route more[] = {
		{ "GET", "/v2/", 200, NULL, "{}", 0 },
		{ "GET", SIG_MANIFEST, 200, NULL, one, 0 },
		{ "HEAD", head2, 200, NULL, "", 0 },
		{ "HEAD", "/v2/ns/img/blobs/*", 404, NULL, "", 0 },
		{ "POST", "/v2/ns/img/blobs/uploads/", 202,
		  "Location: http://127.0.0.1:{PORT}/v2/ns/img/blobs/uploads/u2\r\n", "", 0 },
		{ "PUT", "/v2/ns/img/blobs/uploads/u2", 201, NULL, "", 0 },
		{ "PUT", SIG_MANIFEST, 201, NULL, "", 0 },
	};
	server_start(&s, more, ARRAY_SIZE(more));
	reg = client(&s, "ns/img", &ref);
	int r = sign_storage_put_cosign(reg, &ref, DIGEST, payloads[1], strlen(payloads[1]),
					sigs[1], &where, &err);
	if (r < 0)
		fail_msg("%s", err->msg);
	_cleanup_free_ char *want2 = xasprintf("127.0.0.1:%d/ns/img:" SIG_TAG " layer 2", s.port);
	assert_string_equal(where, want2);
	free(where);
	free(log);
	log = server_log(&s);
	assert_int_equal(count_of(log, "POST "), 1);
	_cleanup_free_ char *cfg2 = xstrndup(strstr(strstr(two, "\"config\":"), "sha256:") + 7, 64);
	_cleanup_free_ char *put2 =
	    xasprintf("PUT /v2/ns/img/blobs/uploads/u2?digest=sha256%%3A%s ", cfg2);
	if (!strcasestr(log, put2))
		fail_msg("no \"%s\" in\n%s", put2, log);
	_cleanup_free_ char *putm2 = xasprintf("PUT " SIG_MANIFEST " %zu\n%s\n", strlen(two), two);
	assert_non_null(strstr(log, putm2));

	/* The same signature again: nothing is written. */
	img_registry_close(reg);
	img_ref_clear(&ref);
	server_stop(&s);
	more[1].body = two;
	server_start(&s, more, ARRAY_SIZE(more));
	reg = client(&s, "ns/img", &ref);
	assert_int_equal(sign_storage_put_cosign(reg, &ref, DIGEST, payloads[0],
						 strlen(payloads[0]), sigs[0], &where, &err),
			 0);
	_cleanup_free_ char *want1 = xasprintf("127.0.0.1:%d/ns/img:" SIG_TAG " layer 1", s.port);
	assert_string_equal(where, want1);
	free(where);
	free(log);
	log = server_log(&s);
	assert_null(strstr(log, "PUT "));
	assert_null(strstr(log, "POST "));
	img_registry_close(reg);
	img_ref_clear(&ref);
	server_stop(&s);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_key),
		cmocka_unit_test(test_aliases),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_files),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_file_read),
		cmocka_unit_test(test_file_write),
		cmocka_unit_test(test_extension_read),
		cmocka_unit_test(test_extension_errors),
		cmocka_unit_test(test_extension_write),
		cmocka_unit_test(test_no_extension),
		cmocka_unit_test(test_http_lookaside),
		cmocka_unit_test(test_cosign_read),
		cmocka_unit_test(test_cosign_write),
	};
	return cmocka_run_group_tests(tests, tmproot_setup, teardown);
}
