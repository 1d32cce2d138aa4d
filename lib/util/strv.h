/* SPDX-License-Identifier: Apache-2.0 */
/* NULL-terminated string vectors, and small string formatting. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

size_t cc_strv_len(char *const *v);
void cc_strv_free(char **v);
/* Appends a copy of s; *v may be NULL. */
void cc_strv_push(char ***v, const char *s);
char **cc_strv_dup(char *const *v);
bool cc_strv_contains(char *const *v, const char *s);
/* Split on a separator character; empty fields are kept. */
char **cc_strv_split(const char *s, char sep);
char *cc_strv_join(char *const *v, const char *sep);

/* A byte count for people: "512B", "12.3kB", "4.5MB" (decimal units, as docker prints). */
void cc_format_bytes(uint64_t v, char *buf, size_t len);
