// SPDX-License-Identifier: Apache-2.0
/*
 * config.json is written by whoever prepared the bundle: parse arbitrary bytes, and when they
 * parse, compile the seccomp profile too (the other consumer of config input that does real
 * work before anything is created).
 */
#include <stddef.h>
#include <stdint.h>
#include "runtime/seccomp.h"
#include "runtime/spec.h"
#include "util/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cc_error *err = NULL;
	struct rt_spec *spec = rt_spec_parse("config.json", (const char *)data, size, &err);
	if (!spec) {
		/* A refusal must always say why. */
		if (!err || !err->msg || !err->msg[0])
			__builtin_trap();
		cc_error_free(&err);
		return 0;
	}
	if (spec->linux.seccomp) {
		struct rt_seccomp_prog *prog = rt_seccomp_compile(spec->linux.seccomp, &err);
		rt_seccomp_prog_free(prog);
		cc_error_free(&err);
	}
	rt_spec_free(spec);
	return 0;
}
