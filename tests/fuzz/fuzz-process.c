// SPDX-License-Identifier: Apache-2.0
/* process.json (`rune exec --process`) comes from the caller: parse arbitrary bytes. */
#include <stddef.h>
#include <stdint.h>
#include "runtime/spec.h"
#include "util/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cc_error *err = NULL;
	struct rt_process *p = rt_process_parse("process.json", (const char *)data, size, &err);
	if (!p) {
		if (!err || !err->msg || !err->msg[0])
			__builtin_trap();
		cc_error_free(&err);
		return 0;
	}
	rt_process_free(p);
	return 0;
}
