// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"

static int log_fd = 2;
static enum cc_log_format log_format = CC_LOG_TEXT;
static enum cc_log_level log_level = CC_LOG_WARNING;

static const char *const level_names[] = { "error", "warning", "info", "debug" };

int cc_log_init(const char *path, enum cc_log_format fmt, enum cc_log_level level)
{
	log_format = fmt;
	log_level = level;
	if (path && *path) {
		int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
		if (fd < 0)
			return -1;
		log_fd = fd;
	}
	return 0;
}

void cc_log_set_level(enum cc_log_level level)
{
	log_level = level;
}

enum cc_log_level cc_log_get_level(void)
{
	return log_level;
}

int cc_log_fd(void)
{
	return log_fd;
}

bool cc_log_to_stderr(void)
{
	return log_fd == 2;
}

/* Escape for a JSON string (the message may contain anything a config file held). */
static void json_escape(FILE *out, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':
			fputs("\\\"", out);
			break;
		case '\\':
			fputs("\\\\", out);
			break;
		case '\n':
			fputs("\\n", out);
			break;
		case '\t':
			fputs("\\t", out);
			break;
		case '\r':
			fputs("\\r", out);
			break;
		default:
			if (*p < 0x20)
				fprintf(out, "\\u%04x", *p);
			else
				fputc(*p, out);
		}
	}
}

/* Fields: JSON members after "msg", or key="value" pairs after the text. */
static void put_fields(FILE *out, const struct cc_log_field *f, size_t n, bool json)
{
	for (size_t i = 0; i < n; i++) {
		if (!f[i].key || !f[i].value)
			continue;
		if (json) {
			fputs(",\"", out);
			json_escape(out, f[i].key);
			fputs("\":\"", out);
		} else {
			fprintf(out, " %s=\"", f[i].key);
		}
		json_escape(out, f[i].value);
		fputc('"', out);
	}
}

static void vlog(enum cc_log_level level, const struct cc_log_field *f, size_t n, const char *fmt,
		 va_list ap)
{
	char stamp[64];
	struct timespec ts;
	struct tm tm;
	_cleanup_free_ char *msg = NULL;
	char *line = NULL;
	size_t len = 0;
	FILE *out;

	if (level > log_level)
		return;
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	if (!msg)
		return;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);

	out = open_memstream(&line, &len);
	if (!out)
		return;
	if (log_format == CC_LOG_JSON) {
		fprintf(out, "{\"level\":\"%s\",\"msg\":\"", level_names[level]);
		json_escape(out, msg);
		fputc('"', out);
		put_fields(out, f, n, true);
		fprintf(out, ",\"time\":\"%s.%09ldZ\"}\n", stamp, ts.tv_nsec);
	} else if (log_fd == 2) {
		fputs(msg, out);
		put_fields(out, f, n, false);
		fputc('\n', out);
	} else {
		fprintf(out, "time=\"%s.%09ldZ\" level=%s msg=\"", stamp, ts.tv_nsec,
			level_names[level]);
		json_escape(out, msg);
		fputc('"', out);
		put_fields(out, f, n, false);
		fputc('\n', out);
	}
	fclose(out);
	/* One write per line so that concurrent writers (parent, init) never interleave. A log
	 * that cannot be written has nowhere to report that. */
	int saved = errno; /* logging never changes what the caller's errno says */
	bool lost = cc_write_all(log_fd, line, len) < 0;
	(void)lost;
	errno = saved;
	free(line);
}

void cc_log(enum cc_log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(level, NULL, 0, fmt, ap);
	va_end(ap);
}

void cc_log_fields(enum cc_log_level level, const struct cc_log_field *fields, size_t n,
		   const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(level, fields, n, fmt, ap);
	va_end(ap);
}
