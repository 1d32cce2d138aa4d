// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <seccomp.h>
#include "commit.h"
#include "config.h"
#include "enclave/enclave.h"
#include "rune.h"
#include "util/cleanup.h"
#include "util/log.h"
#include "util/strv.h"

static const struct rune_cmd *const commands[] = {
	&cmd_attest, &cmd_create, &cmd_delete, &cmd_events, &cmd_exec,	 &cmd_features,
	&cmd_kill,   &cmd_list,	  &cmd_pause,  &cmd_ps,	    &cmd_resume, &cmd_run,
	&cmd_spec,   &cmd_start,  &cmd_state,  &cmd_update,
};

static const char *default_root(void);

static const char *default_pal_dirs(void)
{
	static char *text;
	if (!text)
		text = cc_strv_join((char *const *)enc_default_runtime_dirs, ":");
	return text;
}

static void usage(FILE *out)
{
	fprintf(out, "NAME:\n   rune - OCI runtime for ordinary and enclave containers\n\n"
		     "rune runs containers packaged as OCI bundles, with runc's command line: "
		     "a bundle is a\ndirectory holding config.json and a root filesystem.\n\n"
		     "    # rune run [ -b bundle ] <container-id>\n\n"
		     "USAGE:\n   rune [global options] command [command options] [arguments...]\n\n"
		     "VERSION:\n   " RUNE_VERSION "\n\nCOMMANDS:\n");
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(out, "   %-10s  %s\n", commands[i]->name, commands[i]->summary);
	fprintf(out, "   help, h     Shows a list of commands or help for one command\n");
	fprintf(
	    out,
	    "\nGLOBAL OPTIONS:\n"
	    "   --debug             enable debug logging\n"
	    "   --log value         set the log file to write rune logs to (default is "
	    "'/dev/stderr')\n"
	    "   --log-format value  set the log format ('text' (default), or 'json') (default: "
	    "\"text\")\n"
	    "   --root value        root directory for storage of container state (this should "
	    "be located in tmpfs) (default: \"%s\")\n"
	    "   --criu value        accepted for compatibility; checkpoint/restore is not "
	    "supported\n"
	    "   --systemd-cgroup    not supported: rune has no systemd cgroup driver, so create "
	    "refuses it\n"
	    "                       (the cgroupfs driver is the only one)\n"
	    "   --rootless value    ignore cgroup permission errors ('true', 'false', or "
	    "'auto': when\n"
	    "                       rune runs unprivileged) (default: \"auto\")\n"
	    "   --enclave-runtime-dirs value  the directories enclave runtimes (PALs) may be "
	    "loaded from,\n"
	    "                       colon-separated (default: $RUNE_ENCLAVE_RUNTIME_DIRS, "
	    "else \"%s\")\n"
	    "   --help, -h          show help\n"
	    "   --version, -v       print the version\n",
	    default_root(), default_pal_dirs());
}

static void version(void)
{
	const struct scmp_version *v = seccomp_version();
	printf("rune version %s\ncommit: %s\nspec: %s\nlibseccomp: %u.%u.%u\n", RUNE_VERSION,
	       RUNE_COMMIT, RUNE_OCI_VERSION, v->major, v->minor, v->micro);
}

int cmd_fail(struct cc_error *err)
{
	const char *msg = err && err->msg ? err->msg : "unknown error";
	if (!cc_log_to_stderr())
		cc_log(CC_LOG_ERROR, "%s", msg);
	fprintf(stderr, "rune: %s\n", msg);
	cc_error_free(&err);
	return 1;
}

int cmd_failf(const char *fmt, ...)
{
	struct cc_error *err = NULL;
	va_list ap;
	va_start(ap, fmt);
	cc_error_setv(&err, 0, fmt, ap);
	va_end(ap);
	return cmd_fail(err);
}

static const char *default_root(void)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	static char buf[4096];
	if (geteuid() != 0 && xdg && *xdg) {
		snprintf(buf, sizeof(buf), "%s/rune", xdg);
		return buf;
	}
	return "/run/rune";
}

enum {
	OPT_ROOT = 1000,
	OPT_LOG,
	OPT_LOG_FORMAT,
	OPT_DEBUG,
	OPT_SYSTEMD,
	OPT_ROOTLESS,
	OPT_CRIU,
	OPT_PAL_DIRS
};

struct globals {
	const char *log, *log_format;
	const char *pal_dirs;
	const char *rootless;
	bool debug;
};

static int parse_globals(int argc, char **argv, struct rt_context *ctx, struct globals *g)
{
	static const struct option opts[] = {
		{ "root", required_argument, NULL, OPT_ROOT },
		{ "log", required_argument, NULL, OPT_LOG },
		{ "log-format", required_argument, NULL, OPT_LOG_FORMAT },
		{ "debug", no_argument, NULL, OPT_DEBUG },
		{ "systemd-cgroup", no_argument, NULL, OPT_SYSTEMD },
		{ "rootless", required_argument, NULL, OPT_ROOTLESS },
		{ "criu", required_argument, NULL, OPT_CRIU },
		{ "enclave-runtime-dirs", required_argument, NULL, OPT_PAL_DIRS },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'v' },
		{ 0 },
	};
	int c;
	opterr = 0;
	while ((c = getopt_long_only(argc, argv, "+:hv", opts, NULL)) != -1) {
		switch (c) {
		case OPT_ROOT:
			ctx->root = optarg;
			break;
		case OPT_LOG:
			g->log = optarg;
			break;
		case OPT_LOG_FORMAT:
			g->log_format = optarg;
			break;
		case OPT_DEBUG:
			g->debug = true;
			break;
		case OPT_SYSTEMD:
			ctx->systemd_cgroup = true;
			break;
		case OPT_PAL_DIRS:
			g->pal_dirs = optarg;
			break;
		case OPT_ROOTLESS:
			g->rootless = optarg;
			break;
		case OPT_CRIU:
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'v':
			version();
			exit(0);
		default: {
			const char *o = optind > 0 && argv[optind - 1] ? argv[optind - 1] : "";
			while (*o == '-')
				o++;
			const char *why =
			    c == ':' ? "flag needs an argument" : "flag provided but not defined";
			printf("Incorrect Usage. %s: -%.*s\n\n", why, (int)strcspn(o, "="), o);
			usage(stdout);
			fprintf(stderr, "rune: %s: -%.*s\n", why, (int)strcspn(o, "="), o);
			exit(1);
		}
		}
	}
	return optind;
}

/* The operator's PAL directories: --enclave-runtime-dirs, else $RUNE_ENCLAVE_RUNTIME_DIRS (for
 * clients that cannot pass a flag, such as containerd), else the defaults (NULL). */
static int pal_dirs(const char *value, char ***out)
{
	const char *from = value ? "--enclave-runtime-dirs" : "RUNE_ENCLAVE_RUNTIME_DIRS";
	*out = NULL;
	if (!value)
		value = getenv("RUNE_ENCLAVE_RUNTIME_DIRS");
	if (!value)
		return 0;
	_cleanup_strv_ char **parts = cc_strv_split(value, ':');
	for (size_t i = 0; parts && parts[i]; i++) {
		if (!*parts[i])
			continue;
		if (parts[i][0] != '/') {
			cc_strv_free(*out);
			*out = NULL;
			return cmd_failf("%s: %s is not an absolute path", from, parts[i]);
		}
		if (!strcmp(parts[i], "/"))
			cc_warn("%s includes /: a PAL may come from any root-owned directory "
				"outside the container",
				from);
		cc_strv_push(out, parts[i]);
	}
	if (!*out)
		return cmd_failf("%s names no directory", from);
	return 0;
}

int main(int argc, char **argv)
{
	struct rt_context ctx = { .root = NULL };
	struct globals g = { 0 };
	struct cc_error *err = NULL;
	static struct enc_options enclave_options;
	static struct rt_handler enclave;
	static const struct rt_handler *handlers[2];

	int first = parse_globals(argc, argv, &ctx, &g);
	if (!ctx.root)
		ctx.root = default_root();
	if (g.log_format && strcmp(g.log_format, "text") && strcmp(g.log_format, "json"))
		return cmd_failf("invalid log format \"%s\": use text or json", g.log_format);
	if (cc_log_init(g.log,
			g.log_format && !strcmp(g.log_format, "json") ? CC_LOG_JSON : CC_LOG_TEXT,
			g.debug ? CC_LOG_DEBUG : CC_LOG_WARNING) < 0)
		return cmd_failf("open log file %s: %s", g.log, strerror(errno));

	if (g.rootless && !strcmp(g.rootless, "true"))
		ctx.rootless = RT_ROOTLESS_TRUE;
	else if (g.rootless && !strcmp(g.rootless, "false"))
		ctx.rootless = RT_ROOTLESS_FALSE;
	else if (g.rootless && strcmp(g.rootless, "auto"))
		return cmd_failf("invalid --rootless value \"%s\": use true, false or auto",
				 g.rootless);
	if (first >= argc) {
		usage(stdout);
		return 0;
	}
	const char *name = argv[first];
	if (!strcmp(name, "help") || !strcmp(name, "h")) {
		if (first + 1 >= argc) {
			usage(stdout);
			return 0;
		}
		name = argv[first + 1];
		for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
			if (!strcmp(commands[i]->name, name)) {
				cmd_usage(commands[i], stdout);
				return 0;
			}
		}
		fprintf(stderr, "No help topic for '%s'\n", name);
		return 3;
	}
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
		if (strcmp(commands[i]->name, name) != 0)
			continue;
		/* Commands that put a rune process inside a container run from a read-only
		 * view of the binary (CVE-2019-5736); see lib/runtime/selfexe.c. */
		if ((commands[i] == &cmd_exec || commands[i] == &cmd_run ||
		     commands[i] == &cmd_create) &&
		    rt_selfexe_protect(argv, &err) < 0)
			return cmd_fail(err);
		char **dirs = NULL;
		if (pal_dirs(g.pal_dirs, &dirs) != 0)
			return 1;
		enclave_options.runtime_dirs = dirs;
		enclave = enc_handler(&enclave_options);
		handlers[0] = &enclave;
		ctx.handlers = handlers;
		optind = 1;
		return commands[i]->run(&ctx, argc - first, argv + first);
	}
	fprintf(stderr, "No help topic for '%s'\n", name);
	return 3;
}
