// SPDX-License-Identifier: Apache-2.0
/*
 * Fuzz registries.d parsing (libyaml events, aliases and merges, the schema, scope checks)
 * and the lookups on what it accepts. A failure says why on one line and leaves the
 * configuration it was merged into as it was; a lookup always gives a read and a write URL.
 * The input is read as one file, then again as a second file of the same directory (which
 * must fail as soon as the first defined anything).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "sign/registries.h"
#include "util/cleanup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HEX "47de6ac7a37b3ad8c0a3e3e4bc1f5d3c2be7c1e9c0f1a2b3c4d5e6f708192a0e"

static const char *const refs[] = {
	"registry.example.com/ns/img:v1",
	("registry.example.com:5000/ns/img@sha256:" HEX),
	"busybox",
	"a.b.example.com/x/y/z:t",
	"127.0.0.1:5000/ns/img:v1",
	"[::1]:5000/img:v1",
};

static void lookups(const struct sign_registries *r)
{
	for (size_t i = 0; i < ARRAY_SIZE(refs); i++) {
		struct img_ref ref;
		struct sign_registry_config cfg;
		if (img_ref_parse(refs[i], &ref, NULL) < 0)
			abort();
		sign_registries_lookup(r, &ref, &cfg);
		if (!cfg.lookaside || !cfg.lookaside_staging)
			abort();
		if (!cfg.scope &&
		    (strcmp(cfg.lookaside, SIGN_LOOKASIDE_DEFAULT) || cfg.use_sigstore_attachments))
			abort();
		img_ref_clear(&ref);
	}
}

static void one_line(struct cc_error **err)
{
	if (!*err || !(*err)->msg[0] || strchr((*err)->msg, '\n'))
		abort();
	cc_error_free(err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cc_error *err = NULL;
	struct sign_registries *r =
	    sign_registries_parse(NULL, "registries-fuzz.yaml", (const char *)data, size, &err);
	if (!r) {
		one_line(&err);
		return 0;
	}
	lookups(r);
	struct sign_registries *again =
	    sign_registries_parse(r, "registries-again.yaml", (const char *)data, size, &err);
	if (again) {
		if (again != r)
			abort();
	} else {
		one_line(&err);
	}
	lookups(r);
	sign_registries_free(r);
	return 0;
}
