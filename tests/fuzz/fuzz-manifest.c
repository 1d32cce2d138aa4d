// SPDX-License-Identifier: Apache-2.0
/* Manifests, indexes and image configs come from registries: parse arbitrary bytes as each,
 * and select a platform from whatever parses as an index. */
#include <stdint.h>
#include "image/manifest.h"
#include "util/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void must_say_why(struct cc_error **err)
{
	if (!*err || !(*err)->msg || !(*err)->msg[0])
		__builtin_trap();
	cc_error_free(err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cc_error *err = NULL;
	struct img_document *d =
	    img_document_parse("fuzz", (const char *)data, size, IMG_MT_OCI_MANIFEST, &err);
	if (!d)
		must_say_why(&err);
	d = d ? d : img_document_parse("fuzz", (const char *)data, size, NULL, &err);
	if (!d) {
		must_say_why(&err);
	} else {
		if (d->kind == IMG_DOC_INDEX) {
			struct img_platform host;
			img_platform_host(&host);
			if (!img_index_select(d, &host, "fuzz", &err))
				must_say_why(&err);
			img_platform_clear(&host);
		}
		img_document_free(d);
	}
	struct img_config *c = img_config_parse("fuzz", (const char *)data, size, &err);
	if (!c)
		must_say_why(&err);
	img_config_free(c);
	return 0;
}
