/* SPDX-License-Identifier: Apache-2.0 */
/* One log sink for the whole process: text or runc-style JSON lines, to stderr or a file. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

enum cc_log_level { CC_LOG_ERROR = 0, CC_LOG_WARNING, CC_LOG_INFO, CC_LOG_DEBUG };
enum cc_log_format { CC_LOG_TEXT = 0, CC_LOG_JSON };

/* path NULL = stderr. Returns 0 or -1 with errno set. */
int cc_log_init(const char *path, enum cc_log_format fmt, enum cc_log_level level);
void cc_log_set_level(enum cc_log_level level);
enum cc_log_level cc_log_get_level(void);
/* The log fd (for children that keep logging after fork). */
int cc_log_fd(void);
bool cc_log_to_stderr(void);

void cc_log(enum cc_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A structured record: the message plus key/value fields (JSON members, or key="value" after
 * the text); fields with a NULL value are left out. */
struct cc_log_field {
	const char *key, *value;
};
void cc_log_fields(enum cc_log_level level, const struct cc_log_field *fields, size_t n,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#define cc_error_log(...) cc_log(CC_LOG_ERROR, __VA_ARGS__)
#define cc_warn(...) cc_log(CC_LOG_WARNING, __VA_ARGS__)
#define cc_info(...) cc_log(CC_LOG_INFO, __VA_ARGS__)
#define cc_debug(...)                                      \
	do {                                               \
		if (cc_log_get_level() >= CC_LOG_DEBUG)    \
			cc_log(CC_LOG_DEBUG, __VA_ARGS__); \
	} while (0)
