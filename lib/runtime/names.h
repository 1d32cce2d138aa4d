/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Name tables shared by the config parser, `rune features` and the tests. The namespace and
 * capability lookups are declared in spec.h (they predate this header); these are the others.
 */
#pragma once

#include <stdint.h>
#include "runtime/spec.h"

/* "pid" -> RT_NS_PID, ...; -1 if unknown. */
int rt_ns_type_from_name(const char *name);

/* Every mount option the parser recognises as a flag (anything else is passed to the
 * filesystem as data), sorted, NULL-terminated. Static storage. */
const char *const *rt_mount_option_names(void);

/* "RLIMIT_NOFILE" -> RLIMIT_NOFILE; -1 if unknown. */
int rt_rlimit_from_name(const char *name);
/* RLIMIT_NOFILE -> "RLIMIT_NOFILE"; NULL if unknown. */
const char *rt_rlimit_name(int resource);

/* Seccomp names as written in config.json ("SCMP_ACT_ERRNO", "SCMP_CMP_EQ"); -1 / NULL if
 * unknown. */
int rt_seccomp_action_from_name(const char *name);
const char *rt_seccomp_action_name(enum rt_seccomp_action a);
int rt_seccomp_op_from_name(const char *name);
const char *rt_seccomp_op_name(enum rt_seccomp_op op);

/* "rprivate" -> MS_PRIVATE|MS_REC and so on (root and mount propagation); false if unknown. */
bool rt_propagation_from_name(const char *name, unsigned long *flags);
