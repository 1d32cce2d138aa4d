// SPDX-License-Identifier: Apache-2.0
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "rune.h"
#include "util/cleanup.h"

/* Help in the layout runc's command-line library prints, so that tools and people used to
 * runc find the same sections (NAME, USAGE, OPTIONS). */
void cmd_usage(const struct rune_cmd *cmd, FILE *out)
{
	fprintf(out, "NAME:\n   rune %s - %s\n\nUSAGE:\n   rune %s%s %s\n", cmd->name, cmd->summary,
		cmd->name, cmd->options ? " [command options]" : "", cmd->usage);
	fprintf(out, "\nOPTIONS:\n%s   --help, -h               show help\n",
		cmd->options ? cmd->options : "");
}

/* A usage error: "Incorrect Usage" and the help on stdout, the reason on stderr, exit 1. */
static __attribute__((noreturn)) void usage_error(const struct rune_cmd *cmd, const char *why)
{
	if (why)
		printf("Incorrect Usage: %s\n\n", why);
	else
		printf("Incorrect Usage.\n\n");
	cmd_usage(cmd, stdout);
	fflush(stdout);
	exit(1);
}

/* The option as the user spelled it, without dashes, for "-name" in messages. */
static const char *bare_option(const char *arg)
{
	while (*arg == '-')
		arg++;
	return arg;
}

int cmd_getopt(const struct rune_cmd *cmd, int argc, char **argv, const char *shortopts,
	       const struct option *longopts)
{
	_cleanup_free_ char *opts = xasprintf("+:h%s", shortopts);
	static const struct option help = { "help", no_argument, NULL, 'h' };
	size_t n = 0;
	while (longopts && longopts[n].name)
		n++;
	_cleanup_free_ struct option *all = xcalloc(n + 2, sizeof(*all));
	memcpy(all, longopts, n * sizeof(*all));
	all[n] = help;

	opterr = 0;
	int c = getopt_long_only(argc, argv, opts, all, NULL);
	if (c == 'h') {
		cmd_usage(cmd, stdout);
		exit(0);
	}
	if (c == '?' || c == ':') {
		_cleanup_free_ char *name = xstrdup(bare_option(argv[optind - 1]));
		name[strcspn(name, "=")] = '\0';
		_cleanup_free_ char *why = xasprintf(
		    "%s: -%s",
		    c == '?' ? "flag provided but not defined" : "flag needs an argument", name);
		fprintf(stderr, "rune: %s\n", why);
		usage_error(cmd, why);
	}
	return c;
}

void cmd_require_args(const struct rune_cmd *cmd, int argc, int n)
{
	int have = argc - optind;
	if ((n >= 0 && have != n) || (n < 0 && have < -n)) {
		fprintf(stderr, "rune: \"%s\" requires %s %d argument(s)\n", cmd->name,
			n >= 0 ? "exactly" : "a minimum of", n >= 0 ? n : -n);
		usage_error(cmd, NULL);
	}
}

void cmd_print_json(const void *json, int indent)
{
	char *s = json_dumps(json, JSON_INDENT(indent) | JSON_PRESERVE_ORDER);
	if (s)
		printf("%s\n", s);
	free(s);
}

static const struct {
	const char *name;
	int sig;
} signals[] = {
	{ "ABRT", SIGABRT }, { "ALRM", SIGALRM }, { "BUS", SIGBUS },	   { "CHLD", SIGCHLD },
	{ "CLD", SIGCHLD },  { "CONT", SIGCONT }, { "FPE", SIGFPE },	   { "HUP", SIGHUP },
	{ "ILL", SIGILL },   { "INT", SIGINT },	  { "IO", SIGIO },	   { "IOT", SIGIOT },
	{ "KILL", SIGKILL }, { "PIPE", SIGPIPE }, { "POLL", SIGPOLL },	   { "PROF", SIGPROF },
	{ "PWR", SIGPWR },   { "QUIT", SIGQUIT }, { "SEGV", SIGSEGV },	   { "STKFLT", SIGSTKFLT },
	{ "STOP", SIGSTOP }, { "SYS", SIGSYS },	  { "TERM", SIGTERM },	   { "TRAP", SIGTRAP },
	{ "TSTP", SIGTSTP }, { "TTIN", SIGTTIN }, { "TTOU", SIGTTOU },	   { "URG", SIGURG },
	{ "USR1", SIGUSR1 }, { "USR2", SIGUSR2 }, { "VTALRM", SIGVTALRM }, { "WINCH", SIGWINCH },
	{ "XCPU", SIGXCPU }, { "XFSZ", SIGXFSZ },
};

int cmd_parse_signal(const char *s)
{
	char *end;
	if (isdigit((unsigned char)s[0])) {
		long v = strtol(s, &end, 10);
		return (*end || v <= 0 || v >= NSIG) ? -1 : (int)v;
	}
	const char *name = strncasecmp(s, "SIG", 3) == 0 ? s + 3 : s;
	for (size_t i = 0; i < ARRAY_SIZE(signals); i++)
		if (strcasecmp(name, signals[i].name) == 0)
			return signals[i].sig;
	if (strncasecmp(name, "RTMIN", 5) == 0 || strncasecmp(name, "RTMAX", 5) == 0) {
		long off = name[5] ? strtol(name + 5, &end, 10) : 0;
		if (name[5] && *end)
			return -1;
		int sig =
		    toupper((unsigned char)name[2]) == 'M' && toupper((unsigned char)name[3]) == 'I'
			? SIGRTMIN + (int)off
			: SIGRTMAX + (int)off;
		return sig >= SIGRTMIN && sig <= SIGRTMAX ? sig : -1;
	}
	return -1;
}

int cmd_parse_size(const char *s, int64_t *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || errno || !isfinite(v))
		return -1;
	if (v == -1 && !*end) {
		*out = -1;
		return 0;
	}
	int64_t mult = 1;
	switch (tolower((unsigned char)*end)) {
	case '\0':
		break;
	case 'b':
		break;
	case 'k':
		mult = 1LL << 10;
		break;
	case 'm':
		mult = 1LL << 20;
		break;
	case 'g':
		mult = 1LL << 30;
		break;
	case 't':
		mult = 1LL << 40;
		break;
	case 'p':
		mult = 1LL << 50;
		break;
	default:
		return -1;
	}
	if (*end) {
		end++;
		if (tolower((unsigned char)*end) == 'i')
			end++;
		if (tolower((unsigned char)*end) == 'b')
			end++;
		if (*end)
			return -1;
	}
	if (v < 0 || v * (double)mult > 9.2e18)
		return -1;
	*out = (int64_t)(v * (double)mult);
	return 0;
}
