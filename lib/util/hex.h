/* SPDX-License-Identifier: Apache-2.0 */
/* Lower-case hex, both ways, for digests, measurements and wire fields. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* len bytes as 2*len lower-case hex digits and a NUL into out (2*len+1 bytes). */
void cc_hex_encode(const void *buf, size_t len, char *out);
/* The same in a new string; the caller frees. */
char *cc_hex(const void *buf, size_t len);
/* The value of one hex digit (either case), or -1. */
int cc_hex_digit(char c);
/* Exactly 2*len hex digits (either case) into len bytes; false (out unspecified) otherwise. */
bool cc_hex_decode(const char *s, void *out, size_t len);
