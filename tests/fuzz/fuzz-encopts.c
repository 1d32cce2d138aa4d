// SPDX-License-Identifier: Apache-2.0
/* Everything ocicrypt-related that is parsed from a registry, a provider or a config file:
 * layer annotations, public and private options, key-provider configs and replies, KBC
 * annotation packets, KBS URIs, base64 and media types. Every refusal must say why. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "crypt/annotations.h"
#include "crypt/cipher.h"
#include "crypt/crypt.h"
#include "crypt/kbc.h"
#include "crypt/keyprovider.h"
#include "util/cleanup.h"
#include "util/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void must_say_why(struct cc_error **err)
{
	if (!*err || !(*err)->msg || !(*err)->msg[0])
		__builtin_trap();
	cc_error_free(err);
}

static void options(const uint8_t *data, size_t size)
{
	struct crypt_opts o = { 0 };
	struct crypt_cipher *c = NULL;
	struct cc_error *err = NULL;

	if (crypt_opts_parse_public(&o, data, size, &err) < 0)
		must_say_why(&err);
	if (crypt_opts_parse_private(&o, data, size, &err) < 0)
		must_say_why(&err);
	/* Whatever parsed must be judged by the cipher without crashing. */
	if (crypt_cipher_new(&o, false, &c, &err) < 0)
		must_say_why(&err);
	crypt_cipher_free(c);
	crypt_opts_clear(&o);
}

static void annotations(const uint8_t *data, size_t size)
{
	struct crypt_annotations a;
	struct cc_error *err = NULL;
	json_t *j = json_loadb((const char *)data, size, 0, NULL);

	if (!j)
		return;
	if (crypt_annotations_parse(j, &a, &err) < 0)
		must_say_why(&err);
	else
		crypt_annotations_clear(&a);
	json_decref(j);
}

static void providers(const uint8_t *data, size_t size)
{
	struct crypt_provider_config c;
	struct crypt_buf b = { 0 };
	struct crypt_kbc_packet p;
	struct cc_error *err = NULL;

	if (crypt_provider_config_parse("fuzz", data, size, &c, &err) < 0)
		must_say_why(&err);
	else
		crypt_provider_config_clear(&c);
	for (int wrap = 0; wrap < 2; wrap++) {
		if (crypt_provider_parse_reply(wrap, data, size, &b, &err) < 0)
			must_say_why(&err);
		crypt_buf_wipe(&b);
	}
	if (crypt_kbc_packet_parse(data, size, &p, &err) < 0)
		must_say_why(&err);
	else
		crypt_kbc_packet_clear(&p);
}

static void strings(const uint8_t *data, size_t size)
{
	struct crypt_buf b = { 0 };
	struct cc_error *err = NULL;
	_cleanup_free_ char *s = xstrndup((const char *)data, size);

	crypt_b64_decode((const char *)data, size, CRYPT_B64_STD, &b);
	crypt_b64_decode((const char *)data, size, CRYPT_B64_URL, &b);
	crypt_buf_wipe(&b);
	char *p = crypt_kbs_resource_path(s, &err);
	if (!p)
		must_say_why(&err);
	free(p);
	p = crypt_media_type_plain(s, &err);
	if (!p)
		must_say_why(&err);
	free(p);
	p = crypt_media_type_encrypted(s, &err);
	if (!p)
		must_say_why(&err);
	free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	options(data, size);
	annotations(data, size);
	providers(data, size);
	strings(data, size);
	return 0;
}
