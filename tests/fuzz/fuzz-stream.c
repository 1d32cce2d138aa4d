// SPDX-License-Identifier: Apache-2.0
/* Compressed layer bytes come from registries: run arbitrary bytes through the gzip and zstd
 * stages (and a digest check) to the end. Any refusal must say why. */
#include <stdint.h>
#include "image/stream.h"
#include "util/cleanup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum img_compression kinds[] = { IMG_LAYER_GZIP, IMG_LAYER_ZSTD };
	_cleanup_free_ char *digest = img_digest_buf(data, size);
	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
		struct img_stream *s =
		    img_stream_verify(img_stream_mem(data, size), "blob", digest, (int64_t)size);
		s = img_stream_decompress(s, "layer", kinds[i]);
		if (img_stream_drain(s) < 0) {
			const struct cc_error *e = img_stream_error(s);
			if (!e || !e->msg || !e->msg[0])
				__builtin_trap();
		}
		img_stream_free(s);
	}
	return 0;
}
