/* SPDX-License-Identifier: Apache-2.0 */
/* NULL-terminated string vectors. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

size_t cc_strv_len(char *const *v);
void cc_strv_free(char **v);
/* Appends a copy of s; *v may be NULL. */
void cc_strv_push(char ***v, const char *s);
char **cc_strv_dup(char *const *v);
bool cc_strv_contains(char *const *v, const char *s);
/* Split on a separator character; empty fields are kept. */
char **cc_strv_split(const char *s, char sep);
char *cc_strv_join(char *const *v, const char *sep);
