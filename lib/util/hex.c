// SPDX-License-Identifier: Apache-2.0
/* Hex encoding. See hex.h. */
#include <stdint.h>
#include <string.h>
#include "util/cleanup.h"
#include "util/hex.h"

void cc_hex_encode(const void *buf, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	const uint8_t *b = buf;
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * len] = '\0';
}

char *cc_hex(const void *buf, size_t len)
{
	char *s = xmalloc(2 * len + 1);
	cc_hex_encode(buf, len, s);
	return s;
}

int cc_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool cc_hex_decode(const char *s, void *out, size_t len)
{
	uint8_t *o = out;
	if (strlen(s) != 2 * len)
		return false;
	for (size_t i = 0; i < len; i++) {
		int hi = cc_hex_digit(s[2 * i]), lo = cc_hex_digit(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		o[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}
