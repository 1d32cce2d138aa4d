// SPDX-License-Identifier: Apache-2.0
/* runectl's shared helpers: options, failures, small files, hex. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "runectl.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/hex.h"

void rc_usage(const struct rc_cmd *cmd, FILE *out)
{
	fprintf(out,
		"Usage: runectl %s %s\n\n%s.\n\nOptions:\n%s   --help, -h            this help\n",
		cmd->name, cmd->usage, cmd->summary, cmd->options ? cmd->options : "");
}

int rc_getopt(const struct rc_cmd *cmd, int argc, char **argv, const struct option *longopts)
{
	size_t n = 0;
	while (longopts && longopts[n].name)
		n++;
	_cleanup_free_ struct option *all = xcalloc(n + 2, sizeof(*all));
	if (n)
		memcpy(all, longopts, n * sizeof(*all));
	all[n] = (struct option){ "help", no_argument, NULL, 'h' };

	opterr = 0;
	int c = getopt_long(argc, argv, ":h", all, NULL);
	if (c == 'h') {
		rc_usage(cmd, stdout);
		exit(0);
	}
	if (c == '?' || c == ':') {
		const char *arg = argv[optind - 1];
		_cleanup_free_ char *name = xstrdup(arg);
		name[strcspn(name, "=")] = '\0';
		if (c == ':')
			fprintf(stderr, "runectl: %s: option %s needs a value\n", cmd->name, name);
		else if (optopt && !(arg[0] == '-' && arg[1] == '-'))
			fprintf(stderr, "runectl: %s: unknown option -%c\n", cmd->name, optopt);
		else
			fprintf(stderr, "runectl: %s: unknown option %s\n", cmd->name, name);
		exit(1);
	}
	return c;
}

void rc_require_operands(const struct rc_cmd *cmd, int argc, char **argv, int n)
{
	int have = argc - optind;
	if (have > n)
		fprintf(stderr, "runectl: %s: unexpected argument \"%s\" (usage: runectl %s %s)\n",
			cmd->name, argv[optind + n], cmd->name, cmd->usage);
	else if (have < n)
		fprintf(stderr, "runectl: %s: missing argument (usage: runectl %s %s)\n", cmd->name,
			cmd->name, cmd->usage);
	else
		return;
	exit(1);
}

int rc_fail(const struct rc_cmd *cmd, struct cc_error *err)
{
	fprintf(stderr, "runectl: %s: %s\n", cmd->name, err && err->msg ? err->msg : "failed");
	cc_error_free(&err);
	return 1;
}

int rc_failf(const struct rc_cmd *cmd, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "runectl: %s: ", cmd->name);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return 1;
}

void rc_aesm_args_init(struct rc_aesm_args *a, const char *default_output)
{
	*a = (struct rc_aesm_args){
		.conn = { .socket_path = AESM_SOCKET_DEFAULT,
			  .timeout_ms = AESM_TIMEOUT_MS_DEFAULT },
		.output = default_output,
	};
}

int rc_aesm_option(const struct rc_cmd *cmd, int c, const char *arg, struct rc_aesm_args *a)
{
	char *end;
	double s;
	switch (c) {
	case RC_OPT_AESM_SOCKET:
		a->conn.socket_path = arg;
		return 1;
	case RC_OPT_OUTPUT:
		a->output = arg;
		return 1;
	case RC_OPT_TIMEOUT:
		errno = 0;
		s = strtod(arg, &end);
		if (end == arg || *end || errno || !(s >= 0.001 && s <= 3600))
			exit(rc_failf(cmd, "--timeout \"%s\": seconds, from 0.001 to 3600", arg));
		a->conn.timeout_ms = (uint32_t)(s * 1000 + 0.5);
		return 1;
	default:
		return 0;
	}
}

enum rc_quote_type rc_parse_quote_type(const struct rc_cmd *cmd, const char *arg)
{
	if (!strcmp(arg, "ecdsa"))
		return RC_QUOTE_ECDSA;
	if (!strcmp(arg, "epid"))
		return RC_QUOTE_EPID;
	exit(rc_failf(cmd, "--quote-type \"%s\": ecdsa or epid expected", arg));
}

int rc_read_small(const char *path, uint8_t *buf, size_t max, size_t *len, uint64_t *size,
		  struct cc_error **err)
{
	struct stat st;
	uint8_t extra;
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0)
		return cc_error_errno(err, "open %s", path);
	if (S_ISDIR(st.st_mode))
		return cc_error_set(err, EISDIR, "open %s", path);
	ssize_t n = cc_read_all(fd, buf, max);
	if (n < 0)
		return cc_error_errno(err, "read %s", path);
	*len = (size_t)n;
	ssize_t more = (size_t)n == max ? cc_read_all(fd, &extra, 1) : 0;
	if (more < 0)
		return cc_error_errno(err, "read %s", path);
	*size = S_ISREG(st.st_mode) && (uint64_t)st.st_size >= *len ? (uint64_t)st.st_size
								    : *len + (size_t)more;
	return 0;
}

int rc_read_exact(const char *path, uint8_t *buf, size_t size, const char *what,
		  struct cc_error **err)
{
	size_t len;
	uint64_t total;
	if (rc_read_small(path, buf, size, &len, &total, err) < 0)
		return -1;
	if (total != size)
		return cc_error_set(err, 0, "%s: %llu bytes, a%s %s has %zu", path,
				    (unsigned long long)total, strchr("AEIOU", what[0]) ? "n" : "",
				    what, size);
	return 0;
}

int rc_write_output(const char *path, const void *data, size_t len, struct cc_error **err)
{
	if (strcmp(path, "-") != 0)
		return cc_write_file_atomic(path, data, len, 0644, err);
	if (fflush(stdout) != 0 || cc_write_all(STDOUT_FILENO, data, len) < 0)
		return cc_error_errno(err, "write to standard output");
	return 0;
}

char *rc_hex(const uint8_t *b, size_t n)
{
	return cc_hex(b, n);
}

int rc_unhex(const char *text, uint8_t *out, size_t n)
{
	return cc_hex_decode(text, out, n) ? 0 : -1;
}

int rc_parse_u64(const char *text, uint64_t *out)
{
	char *end;
	if (!*text || *text == '-' || *text == '+' || *text == ' ')
		return -1;
	errno = 0;
	unsigned long long v = strtoull(text, &end, 0);
	if (*end || errno)
		return -1;
	*out = v;
	return 0;
}

uint16_t rc_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

uint32_t rc_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint64_t rc_le64(const uint8_t *p)
{
	return (uint64_t)rc_le32(p) | (uint64_t)rc_le32(p + 4) << 32;
}
