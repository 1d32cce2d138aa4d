// SPDX-License-Identifier: Apache-2.0
/* Fuzz the cosign .sig manifest parser: a success gives only valid signature layers, and the
 * manifest built from them parses back to the same layers. The input also goes through what
 * else cosign.c reads from outside: a signature annotation (strict base64, then DER) and a
 * PEM key file. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "image/reference.h"
#include "sign/cosign.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A throwaway ECDSA P-256 test key (tests/unit/data/sign/cosign-ec256-pub.pem). */
static const char pub_pem[] = "-----BEGIN PUBLIC KEY-----\n"
			      "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEV94ySVv5P17VTJenPvI70RyUefO3\n"
			      "DVRPwJnZJFF1sQX9C5uNIa9I3VIll27NwlceQMUVyq26Enq0Ekj46PgQSA==\n"
			      "-----END PUBLIC KEY-----\n";

/* A failure says why, on one line. */
static void failed(struct cc_error **err)
{
	if (!*err || !(*err)->msg || strchr((*err)->msg, '\n'))
		abort();
	cc_error_free(err);
}

static bool same(const struct sign_cosign_layer *a, const struct sign_cosign_layer *b)
{
	return !strcmp(a->digest, b->digest) && a->size == b->size &&
	       !strcmp(a->signature, b->signature) && !b->has_certificate && !b->has_bundle;
}

static void check_round_trip(const struct sign_cosign_layer *l, size_t n)
{
	struct cc_error *err = NULL;
	char *config, *manifest;
	size_t config_len, manifest_len;
	if (sign_cosign_manifest_build(l, n, &config, &config_len, &manifest, &manifest_len, &err) <
	    0)
		abort(); /* what the parser gave is what the builder takes */
	struct sign_cosign_layer *again;
	size_t m;
	if (sign_cosign_manifest_parse("built", manifest, manifest_len, &again, &m, &err) < 0 ||
	    m != n)
		abort();
	for (size_t i = 0; i < n; i++)
		if (!same(&l[i], &again[i]))
			abort();
	sign_cosign_layers_free(again, m);
	free(config);
	free(manifest);
}

static void check_manifest(const uint8_t *data, size_t size)
{
	struct sign_cosign_layer *l;
	size_t n;
	struct cc_error *err = NULL;
	if (sign_cosign_manifest_parse("fuzz.sig", (const char *)data, size, &l, &n, &err) < 0) {
		failed(&err);
		return;
	}
	if (n > SIGN_COSIGN_LAYERS_MAX || (n == 0) != (l == NULL))
		abort();
	bool rebuildable = n > 0;
	for (size_t i = 0; i < n; i++) {
		if (!img_digest_valid(l[i].digest) || l[i].size < 0 ||
		    l[i].size > SIGN_COSIGN_PAYLOAD_MAX || !l[i].signature)
			abort();
		/* the builder keeps only signatures: not an empty one, not a keyless one */
		if (!*l[i].signature || l[i].has_certificate || l[i].has_bundle)
			rebuildable = false;
	}
	if (rebuildable)
		check_round_trip(l, n);
	sign_cosign_layers_free(l, n);
}

static void check_signature(const uint8_t *data, size_t size)
{
	static struct sign_cosign_key *key;
	struct cc_error *err = NULL;
	if (!key && !(key = sign_cosign_key_public(pub_pem, strlen(pub_pem), "fuzz", &err)))
		abort();
	char *sig = malloc(size + 1);
	if (!sig)
		abort();
	memcpy(sig, data, size);
	sig[size] = 0;
	if (sign_cosign_verify(key, "payload", 7, sig, &err) == 0)
		abort(); /* nobody has the private key */
	failed(&err);
	free(sig);
}

static void check_keys(const uint8_t *data, size_t size)
{
	struct cc_error *err = NULL;
	struct sign_cosign_key *k = sign_cosign_key_public(data, size, "fuzz", &err);
	if (!k)
		failed(&err);
	sign_cosign_key_free(k);
	k = sign_cosign_key_private(data, size, "fuzz", &err);
	if (!k)
		failed(&err);
	sign_cosign_key_free(k);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_manifest(data, size);
	check_signature(data, size);
	check_keys(data, size);
	return 0;
}
