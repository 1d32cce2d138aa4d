// SPDX-License-Identifier: Apache-2.0
/*
 * agent-ctl: talk to enclave-agent (pull, list, remove, status) and mount what it laid out.
 *
 *   agent-ctl [-c ADDR] [--timeout D] -i REF [--cid CID] [--creds USER[:PASS]]    (pull)
 *   agent-ctl [-c ADDR] list | remove CID | status                               [--json]
 *   agent-ctl mount [--agent-root DIR] [--images DIR] CID BUNDLE
 *   agent-ctl umount BUNDLE
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include "agent-ctl.h"
#include "agent.h"
#include "commit.h"
#include "config.h"
#include "util/cleanup.h"

static void __attribute__((format(printf, 1, 0))) vreport(const char *fmt, va_list ap)
{
	fputs("agent-ctl: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

int ctl_fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport(fmt, ap);
	va_end(ap);
	return 1;
}

void ctl_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport(fmt, ap);
	va_end(ap);
}

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "Usage: agent-ctl [options] [COMMAND [ARGS]]\n\n"
	    "Commands:\n"
	    "   pull                 pull the image given by -i (the default with -i)\n"
	    "   list                 images the agent has laid out, per container id\n"
	    "   remove CID           remove a container id's layout (and unused layers)\n"
	    "   status               the agent's version, health and load\n"
	    "   mount CID BUNDLE     mount a layout as BUNDLE/rootfs + BUNDLE/config.json "
	    "(local)\n"
	    "   umount BUNDLE        undo mount (also: unmount)\n\n"
	    "Options:\n"
	    "  -c, --connect ADDR     the agent: tcp://HOST:PORT or unix://PATH\n"
	    "                         (default tcp://127.0.0.1:7788)\n"
	    "  -i, --image REF        the image to pull\n"
	    "      --cid CID          container id (default: from REF, like upstream: the last\n"
	    "                         path segment, ':' and '@' turned into '_')\n"
	    "      --creds USER[:PASSWORD]  registry credentials for the agent to use\n"
	    "      --timeout DURATION       deadline of the call (e.g. 30s, 2m; default none)\n"
	    "      --json             machine-readable output\n"
	    "      --agent-root DIR   mount: the agent's root as seen from here (default /)\n"
	    "      --images DIR       mount: the agent's --images directory (default /images)\n"
	    "      --version          print the version\n"
	    "  -h, --help             this text\n");
}

/* Keep the password out of /proc/<pid>/cmdline as soon as possible. */
static char *take_creds(char *arg)
{
	char *copy = xstrdup(arg);
	char *colon = strchr(arg, ':');
	if (colon)
		explicit_bzero(colon + 1, strlen(colon + 1));
	return copy;
}

/* 0 to go on, 1/2 to exit with (after --help/--version, or a usage error). */
static int parse_args(int argc, char **argv, struct ctl_options *o, char **creds)
{
	static const struct option opts[] = {
		{ "connect", required_argument, NULL, 'c' },
		{ "image", required_argument, NULL, 'i' },
		{ "cid", required_argument, NULL, 'C' },
		{ "creds", required_argument, NULL, 'P' },
		{ "timeout", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "agent-root", required_argument, NULL, 'r' },
		{ "images", required_argument, NULL, 'I' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct cc_error *err = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "c:i:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->connect = optarg;
			break;
		case 'i':
			o->image = optarg;
			break;
		case 'C':
			o->cid = optarg;
			break;
		case 'P':
			free(*creds);
			*creds = take_creds(optarg);
			o->creds = *creds;
			break;
		case 't':
			if (agent_parse_duration(optarg, &o->timeout_ns, &err) < 0) {
				ctl_fail("--timeout: %s", err->msg);
				cc_error_free(&err);
				return 2;
			}
			break;
		case 'j':
			o->json = true;
			break;
		case 'r':
			o->agent_root = optarg;
			break;
		case 'I':
			o->images = optarg;
			break;
		case 'V':
			printf("agent-ctl version %s\ncommit: %s\n", RUNE_VERSION, RUNE_COMMIT);
			return 1;
		case 'h':
			usage(stdout);
			return 1;
		default:
			usage(stderr);
			return 2;
		}
	}
	return 0;
}

static int want_args(const char *cmd, int have, int want, const char *what)
{
	if (have == want)
		return 0;
	ctl_fail("%s: %s expected (see --help)", cmd, what);
	return -1;
}

static int run(struct ctl_options *o, int argc, char **argv)
{
	const char *cmd = argc > 0 ? argv[0] : (o->image ? "pull" : NULL);
	int n = argc > 0 ? argc - 1 : 0;
	if (!cmd) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(cmd, "pull")) {
		if (!o->image && n == 1) /* "pull REF" reads naturally too */
			o->image = argv[1];
		else if (want_args(cmd, n, 0, "-i REF") < 0)
			return 2;
		if (!o->image)
			return ctl_fail("pull: which image? (-i REF)") + 1;
		return ctl_pull(o);
	}
	if (!strcmp(cmd, "list") || !strcmp(cmd, "status"))
		return want_args(cmd, n, 0, "no arguments") < 0 ? 2
		       : !strcmp(cmd, "list")			? ctl_list(o)
								: ctl_status(o);
	if (!strcmp(cmd, "remove"))
		return want_args(cmd, n, 1, "a container id") < 0 ? 2 : ctl_remove(o, argv[1]);
	if (!strcmp(cmd, "mount"))
		return want_args(cmd, n, 2, "a container id and a bundle directory") < 0
			   ? 2
			   : ctl_mount(o, argv[1], argv[2]);
	if (!strcmp(cmd, "umount") || !strcmp(cmd, "unmount"))
		return want_args(cmd, n, 1, "a bundle directory") < 0 ? 2 : ctl_umount(o, argv[1]);
	ctl_fail("unknown command \"%s\" (see --help)", cmd);
	return 2;
}

int main(int argc, char **argv)
{
	struct ctl_options o = {
		.connect = "tcp://127.0.0.1:7788",
		.agent_root = "/",
		.images = "/images",
	};
	char *creds = NULL;
	int r = parse_args(argc, argv, &o, &creds);
	if (r == 0)
		r = run(&o, argc - optind, argv + optind);
	else
		r = r == 1 ? 0 : 2;
	if (creds) {
		OPENSSL_cleanse(creds, strlen(creds));
		free(creds);
	}
	return r;
}
