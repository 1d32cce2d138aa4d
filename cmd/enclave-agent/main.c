// SPDX-License-Identifier: Apache-2.0
/*
 * enclave-agent: pulls container images for confidential workloads on request, over ttrpc.
 *
 *   enclave-agent [-l ADDR] [-c DECRYPT_CONFIG] [-o OCICRYPT_CONFIG] [--root DIR] [--images DIR]
 *                 [registry and service options]
 *
 * See docs/agent.md; usage() lists every flag.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "agent.h"
#include "commit.h"
#include "crypt/crypt.h"
#include "config.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/strv.h"

#define DEFAULT_LISTEN "tcp://127.0.0.1:7788"
#define DEFAULT_OCICRYPT "/etc/ocicrypt.conf"
#define DEFAULT_ROOT "/var/lib/enclave-agent"
#define DEFAULT_IMAGES "/images"

struct options {
	const char *listen, *decrypt_config, *ocicrypt_config, *root, *images;
	const char *tls_ca, *auth_file;
	const char *attestation_socket, *kbs_ca; /* cc_kbc's evidence and https:// trust */
	int64_t kbs_timeout_ns;			 /* 0: the KBS client's default */
	bool kbs_ra_tls;
	const char *policy, *registries_d; /* security_validate's policy and signature storage */
	const char *image_config;	   /* image-rs's ImageConfig with the same, as URIs */
	const char *store_key;		   /* --store-key: the encrypted store's key source */
	char **insecure;
	char **keys; /* --decryption-key specs (copies; wiped) */
	unsigned workers;
	int64_t grace_ns;
	int64_t frame_timeout_ns;
	int64_t stall_ns, transfer_ns; /* 0: lib/image's defaults */
	enum cc_log_format log_format;
	enum cc_log_level log_level;
};

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "Usage: enclave-agent [options]\n\n"
	    "Serves grpc.Image/PullImage (enclave-cc) and enclaveagent.Admin over ttrpc.\n\n"
	    "  -l, --listen ADDR           unix://PATH or tcp://HOST:PORT (default %s)\n"
	    "  -c, --decrypt-config FILE   decrypt_config.conf: {\"key_provider\", "
	    "\"security_validate\"}\n"
	    "  -o, --ocicrypt-config FILE  ocicrypt.conf, must exist (default %s)\n"
	    "      --decryption-key SPEC   a local key for encrypted layers (repeatable), as\n"
	    "                              skopeo takes it: KEY[:PASSWORD], DIR, provider:...\n"
	    "      --policy FILE|kbs:///R/T/N  security_validate's signature policy (containers-\n"
	    "                              policy.json; default /etc/containers/policy.json)\n"
	    "      --registries.d PATH|kbs:///R/T/N  where signatures are: a registries.d\n"
	    "                              directory or one YAML file (default\n"
	    "                              /etc/containers/registries.d)\n"
	    "      --attestation-socket PATH  the enclave's attestation service, for cc_kbc's\n"
	    "                              evidence (default /run/rune/attestation/attest.sock)\n"
	    "      --kbs-ca FILE           CA certificates for an https:// KBS\n"
	    "      --kbs-timeout DURATION  the time one KBS request may take (default 30s)\n"
	    "      --kbs-ra-tls            an https:// KBS connection presents an RA-TLS client\n"
	    "                              certificate carrying the enclave's evidence\n"
	    "      --image-config FILE     image-rs's config.json: file_paths.policy_path and\n"
	    "                              file_paths.sigstore_config (the options win)\n"
	    "      --root DIR              the image store (default %s)\n"
	    "      --store-key SOURCE      layers go to an encrypted, integrity-protected store\n"
	    "                              whose key is sealed (sealed, sealed:mrenclave,\n"
	    "                              sealed:mrsigner) or released by the key broker\n"
	    "                              (kbs:///R/T/N); the views of its images are served\n"
	    "                              to agent-ctl mount through <images>/.view.sock\n"
	    "      --images DIR            per-container layouts <DIR>/<cid>/ (default %s)\n"
	    "      --insecure-registry HOST[:PORT]  plain HTTP / unchecked TLS (repeatable)\n"
	    "      --tls-ca FILE           extra CA certificates for registries\n"
	    "      --auth-file FILE|kbs:///R/T/N  registry credentials (containers auth.json)\n"
	    "      --workers N             requests served at once (default 16)\n"
	    "      --shutdown-grace DURATION  time in-flight pulls get on SIGTERM (default 10s)\n"
	    "      --frame-timeout DURATION   time a request may take to arrive once begun,\n"
	    "                              then its connection is closed (default 10s)\n"
	    "      --stall-timeout DURATION   a registry transfer that receives nothing for\n"
	    "                              this long is dropped and resumed (default 30s)\n"
	    "      --transfer-timeout DURATION  the time one manifest or blob may take, retries\n"
	    "                              included (default 30m, or its size at 256 KiB/s)\n"
	    "      --log-format text|json  (default text)\n"
	    "      --log-level LEVEL       error, warning, info or debug (default info)\n"
	    "      --version               print the version\n"
	    "  -h, --help                  this text\n",
	    DEFAULT_LISTEN, DEFAULT_OCICRYPT, DEFAULT_ROOT, DEFAULT_IMAGES);
}

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
	va_list ap;
	fputs("enclave-agent: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -1;
}

static int parse_level(const char *s, enum cc_log_level *out)
{
	static const char *const names[] = { "error", "warning", "info", "debug" };
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (!strcmp(s, names[i]) || (i == 1 && !strcmp(s, "warn"))) {
			*out = (enum cc_log_level)i;
			return 0;
		}
	return fail("--log-level \"%s\": one of error, warning, info, debug", s);
}

/* --NAME DURATION of at least min_ns (a grace of 0 means "cancel at once"; the timeouts need
 * time to pass). */
static int parse_duration(const char *name, const char *arg, int64_t min_ns, int64_t *ns)
{
	struct cc_error *err = NULL;
	if (agent_parse_duration(arg, ns, &err) < 0) {
		fail("--%s: %s", name, err->msg);
		cc_error_free(&err);
		return -1;
	}
	if (*ns < min_ns)
		return fail("--%s \"%s\": at least 1ms expected", name, arg);
	return 0;
}

static int parse_value(int c, const char *arg, struct options *o)
{
	char *end;
	long n;
	switch (c) {
	case 'W':
		n = strtol(arg, &end, 10);
		if (*end || n < 1 || n > 256)
			return fail("--workers \"%s\": a number from 1 to 256", arg);
		o->workers = (unsigned)n;
		return 0;
	case 'G':
		return parse_duration("shutdown-grace", arg, 0, &o->grace_ns);
	case 'T':
		return parse_duration("frame-timeout", arg, 1000000, &o->frame_timeout_ns);
	case 'S':
		return parse_duration("stall-timeout", arg, 1000000, &o->stall_ns);
	case 'X':
		return parse_duration("transfer-timeout", arg, 1000000, &o->transfer_ns);
	case 'B':
		return parse_duration("kbs-timeout", arg, 1000000, &o->kbs_timeout_ns);
	case 'F':
		if (strcmp(arg, "text") && strcmp(arg, "json"))
			return fail("--log-format \"%s\": text or json", arg);
		o->log_format = strcmp(arg, "json") ? CC_LOG_TEXT : CC_LOG_JSON;
		return 0;
	case 'L':
		return parse_level(arg, &o->log_level);
	}
	return -1;
}

/* 0 to run, 1 after --help/--version, -1 on a usage error (printed). */
static int parse_args(int argc, char **argv, struct options *o)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "decrypt-config", required_argument, NULL, 'c' },
		{ "ocicrypt-config", required_argument, NULL, 'o' },
		{ "root", required_argument, NULL, 'R' },
		{ "store-key", required_argument, NULL, 'Y' },
		{ "images", required_argument, NULL, 'I' },
		{ "insecure-registry", required_argument, NULL, 'K' },
		{ "tls-ca", required_argument, NULL, 'C' },
		{ "auth-file", required_argument, NULL, 'A' },
		{ "decryption-key", required_argument, NULL, 'D' },
		{ "policy", required_argument, NULL, 'P' },
		{ "image-config", required_argument, NULL, 'i' },
		{ "registries.d", required_argument, NULL, 'r' },
		{ "attestation-socket", required_argument, NULL, 'a' },
		{ "kbs-ca", required_argument, NULL, 'k' },
		{ "kbs-timeout", required_argument, NULL, 'B' },
		{ "kbs-ra-tls", no_argument, NULL, 'E' },
		{ "workers", required_argument, NULL, 'W' },
		{ "shutdown-grace", required_argument, NULL, 'G' },
		{ "frame-timeout", required_argument, NULL, 'T' },
		{ "stall-timeout", required_argument, NULL, 'S' },
		{ "transfer-timeout", required_argument, NULL, 'X' },
		{ "log-format", required_argument, NULL, 'F' },
		{ "log-level", required_argument, NULL, 'L' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "l:c:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			o->listen = optarg;
			break;
		case 'c':
			o->decrypt_config = optarg;
			break;
		case 'o':
			o->ocicrypt_config = optarg;
			break;
		case 'R':
			o->root = optarg;
			break;
		case 'Y':
			o->store_key = optarg;
			break;
		case 'I':
			o->images = optarg;
			break;
		case 'K':
			cc_strv_push(&o->insecure, optarg);
			break;
		case 'C':
			o->tls_ca = optarg;
			break;
		case 'A':
			o->auth_file = optarg;
			break;
		case 'P':
			o->policy = optarg;
			break;
		case 'i':
			o->image_config = optarg;
			break;
		case 'r':
			o->registries_d = optarg;
			break;
		case 'a':
			o->attestation_socket = optarg;
			break;
		case 'k':
			o->kbs_ca = optarg;
			break;
		case 'E':
			o->kbs_ra_tls = true;
			break;
		case 'D':
			cc_strv_push(&o->keys, optarg);
			agent_scrub_key_arg(optarg);
			break;
		case 'V':
			printf("enclave-agent version %s\ncommit: %s\n", RUNE_VERSION, RUNE_COMMIT);
			return 1;
		case 'h':
			usage(stdout);
			return 1;
		case '?':
			usage(stderr);
			return -1;
		default:
			if (parse_value(c, optarg, o) < 0)
				return -1;
		}
	}
	if (optind < argc)
		return fail("unexpected argument \"%s\" (see --help)", argv[optind]);
	return 0;
}

/* ---- configuration files ---- */

/* Upstream refuses to start without it and hands its path to the key providers. */
static int check_ocicrypt(const char *path)
{
	struct stat st;
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail("ocicrypt config %s: %s (see -o/--ocicrypt-config)", path,
			    strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return fail("ocicrypt config %s: not a regular file", path);
	setenv("OCICRYPT_KEYPROVIDER_CONFIG", path, 1);
	return 0;
}

/* A file that cannot be read means the defaults (as upstream); one that does not parse is an
 * error, since running with settings nobody wrote is worse than not starting. */
static int load_decrypt_config(const char *path, struct agent_decrypt_config *out)
{
	struct cc_error *err = NULL;
	size_t len;
	*out = (struct agent_decrypt_config){ .security_validate = true };
	if (!path) {
		cc_info("no decrypt config (-c): key_provider unset, security_validate true");
		return 0;
	}
	_cleanup_free_ char *text = cc_read_file(path, 1 << 20, &len, &err);
	if (!text) {
		cc_warn("decrypt config: %s; using the defaults", err->msg);
		cc_error_free(&err);
		return 0;
	}
	if (agent_decrypt_config_parse(path, text, len, out, &err) < 0) {
		fail("decrypt config %s", err->msg);
		cc_error_free(&err);
		return -1;
	}
	cc_info("decrypt config %s: key_provider %s, security_validate %s", path,
		out->key_provider ? out->key_provider : "unset",
		out->security_validate ? "true" : "false");
	return 0;
}

/* Every setting that turns a check off is said at start, one line each, in the log: an agent
 * that pulls without checking must not look like one that checks. */
static void startup_warnings(const struct options *o, const struct agent_decrypt_config *dc)
{
	for (char **h = o->insecure; h && *h; h++)
		cc_warn("insecure registry %s (--insecure-registry): its TLS certificates are not "
			"verified and plain HTTP is allowed",
			*h);
	if (!dc->security_validate)
		cc_warn("decrypt config %s: security_validate is false: image signatures are not "
			"verified",
			o->decrypt_config ? o->decrypt_config : "(none)");
}

/* The signature gate's files: the options, else image-rs's config keys, else the defaults. */
static int policy_init(struct agent *a, const struct options *o, struct cc_error **err)
{
	struct agent_image_config ic = { 0 };
	if (o->image_config) {
		size_t len;
		_cleanup_free_ char *text = cc_read_file(o->image_config, 1 << 20, &len, err);
		if (!text) {
			cc_error_prefix(err, "image config %s", o->image_config);
			return -1;
		}
		if (agent_image_config_parse(o->image_config, text, len, &ic, err) < 0)
			return cc_error_prefix(err, "image config");
	}
	int r = agent_policy_init(a, o->policy ? o->policy : ic.policy,
				  o->registries_d ? o->registries_d : ic.registries, err);
	agent_image_config_clear(&ic);
	return r;
}

/* Many layers of many files, and many clients: the hard limit is there to be used. */
static void raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* The full record format (time, level) even on stderr: this is a daemon's log. */
static void init_log(const struct options *o)
{
	if (o->log_format == CC_LOG_JSON ||
	    cc_log_init("/proc/self/fd/2", o->log_format, o->log_level) < 0)
		cc_log_init(NULL, o->log_format, o->log_level);
}

/* ---- the agent's state ---- */

/* path made absolute (it exists by now), replacing *path. */
static int make_absolute(char **path, struct cc_error **err)
{
	char real[PATH_MAX];
	if (!realpath(*path, real))
		return cc_error_errno(err, "%s", *path);
	free(*path);
	*path = xstrdup(real);
	return 0;
}

int agent_init(struct agent *a, const uint8_t *store_key, struct cc_error **err)
{
	_cleanup_free_ char *staging = cc_path_join(a->images_root, AGENT_STAGING);
	a->store = store_key ? img_store_open_encrypted(a->store_root, store_key, err)
			     : img_store_open(a->store_root, err);
	if (!a->store || make_absolute(&a->store_root, err) < 0 ||
	    cc_mkdir_p(staging, 0755, err) < 0 || make_absolute(&a->images_root, err) < 0)
		return -1;
	agent_layout_clean_staging(a);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&a->cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&a->lock, NULL);
	pthread_mutex_init(&a->layout_lock, NULL);
	pthread_rwlock_init(&a->gc_lock, NULL);
	a->started_ns = agent_now_ns();
	return 0;
}

void agent_destroy(struct agent *a)
{
	if (a->started_ns) {
		pthread_cond_destroy(&a->cond);
		pthread_mutex_destroy(&a->lock);
		pthread_mutex_destroy(&a->layout_lock);
		pthread_rwlock_destroy(&a->gc_lock);
	}
	img_store_close(a->store);
	crypt_keys_free(a->keys);
	agent_kbs_destroy();
	sign_verifier_free(a->verifier);
	free(a->kbs_policy);
	free(a->kbs_auth);
	free(a->kbs_registries);
	free(a->no_policy);
	free(a->store_root);
	free(a->images_root);
	agent_decrypt_config_clear(&a->decrypt);
	*a = (struct agent){ 0 };
}

/* ---- running ---- */

static struct tt_server *start_server(struct agent *a, const struct options *o,
				      struct cc_error **err)
{
	static const struct {
		const char *service, *method;
		tt_handler_fn fn;
	} routes[] = {
		{ "grpc.Image", "PullImage", agent_pull_image },
		{ "enclaveagent.Admin", "ListImages", agent_list_images },
		{ "enclaveagent.Admin", "RemoveImage", agent_remove_image },
		{ "enclaveagent.Admin", "Status", agent_status },
	};
	/* The agent's requests are a few hundred bytes and arrive whole: 16 MiB for frames in
	 * pieces is room to spare for honest clients and little for a flood of unfinished ones. */
	struct tt_server_config cfg = { .workers = o->workers,
					.max_partial_bytes = 16u << 20,
					.frame_timeout_ns = o->frame_timeout_ns };
	struct tt_server *s = tt_server_new(&cfg, err);
	_cleanup_free_ char *bound = NULL;
	for (size_t i = 0; s && i < ARRAY_SIZE(routes); i++)
		if (tt_server_register(s, routes[i].service, routes[i].method, routes[i].fn, a,
				       err) < 0)
			goto fail;
	if (!s || tt_server_listen(s, o->listen, &bound, err) < 0 || tt_server_start(s, err) < 0)
		goto fail;
	struct cc_log_field f[] = { { "address", bound } };
	cc_log_fields(CC_LOG_INFO, f, ARRAY_SIZE(f), "enclave-agent %s listening on %s",
		      RUNE_VERSION, bound);
	return s;
fail:
	cc_error_prefix(err, "listen %s", o->listen);
	tt_server_free(s);
	return NULL;
}

static int serve(struct agent *a, const struct options *o, const sigset_t *signals)
{
	struct cc_error *err = NULL;
	struct tt_server *s = agent_views_start(a, &err) < 0 ? NULL : start_server(a, o, &err);
	int sig;
	if (!s) {
		fail("%s", err->msg);
		cc_error_free(&err);
		return -1;
	}
	while (sigwait(signals, &sig) != 0)
		;
	pthread_mutex_lock(&a->lock);
	a->stopping = true;
	unsigned pulls = a->requests;
	pthread_mutex_unlock(&a->lock);
	cc_info("%s: shutting down (%u pulls in flight, %.1fs grace)",
		sig == SIGINT ? "SIGINT" : "SIGTERM", pulls, (double)o->grace_ns / 1e9);
	if (tt_server_shutdown(s, o->grace_ns, &err) < 0) {
		cc_warn("shutdown: %s: calls still running after the grace period were cancelled",
			err->msg);
		cc_error_free(&err);
	}
	tt_server_free(s);
	cc_info("stopped");
	return 0;
}

/* Key specs may hold passwords: wiped before they go. */
static void free_options(struct options *o)
{
	cc_strv_free(o->insecure);
	for (char **k = o->keys; k && *k; k++)
		explicit_bzero(*k, strlen(*k));
	cc_strv_free(o->keys);
}

int main(int argc, char **argv)
{
	struct options o = {
		.listen = DEFAULT_LISTEN,
		.ocicrypt_config = DEFAULT_OCICRYPT,
		.root = DEFAULT_ROOT,
		.images = DEFAULT_IMAGES,
		.workers = 16,
		.grace_ns = 10 * 1000000000LL,
		.log_level = CC_LOG_INFO,
	};
	struct agent a = { 0 };
	struct cc_error *err = NULL;
	sigset_t signals;
	int r = parse_args(argc, argv, &o);
	if (r != 0) {
		free_options(&o);
		return r < 0 ? 1 : 0;
	}
	init_log(&o);
	if (check_ocicrypt(o.ocicrypt_config) < 0 ||
	    load_decrypt_config(o.decrypt_config, &a.decrypt) < 0) {
		free_options(&o);
		return 1;
	}
	startup_warnings(&o, &a.decrypt);
	raise_nofile();
	/* Every thread inherits this mask: the signals are taken by sigwait() alone. */
	sigemptyset(&signals);
	sigaddset(&signals, SIGINT);
	sigaddset(&signals, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &signals, NULL);
	signal(SIGPIPE, SIG_IGN);
	a.store_root = xstrdup(o.root);
	a.images_root = xstrdup(o.images);
	bool kbs_auth = agent_is_kbs_uri(o.auth_file);
	a.registry =
	    (struct img_registry_opts){ .ca_file = o.tls_ca,
					.auth_file = kbs_auth ? NULL : o.auth_file,
					.insecure = o.insecure,
					.stall_timeout_ms = (uint64_t)o.stall_ns / 1000000,
					.transfer_timeout_ms = (uint64_t)o.transfer_ns / 1000000 };
	a.jobs = 3;
	/* The store last: its key may come from the key broker. */
	uint8_t store_key[32];
	if (agent_kbs_init(o.attestation_socket, o.kbs_ca,
			   (unsigned)((o.kbs_timeout_ns + 999999999) / 1000000000), o.kbs_ra_tls,
			   &err) < 0 ||
	    agent_decrypt_init(&a, o.keys, o.ocicrypt_config, &err) < 0 ||
	    (kbs_auth && agent_kbs_auth_init(&a, o.auth_file, &err) < 0) ||
	    policy_init(&a, &o, &err) < 0 ||
	    (o.store_key &&
	     agent_store_key(o.store_key, o.attestation_socket, store_key, &err) < 0) ||
	    agent_init(&a, o.store_key ? store_key : NULL, &err) < 0) {
		fail("%s", err->msg);
		cc_error_free(&err);
		r = -1;
	} else {
		explicit_bzero(store_key, sizeof(store_key));
		if (o.store_key)
			cc_info("store %s: encrypted (key: %s)", a.store_root, o.store_key);
		r = serve(&a, &o, &signals);
	}
	explicit_bzero(store_key, sizeof(store_key));
	agent_destroy(&a);
	free_options(&o);
	return r < 0 ? 1 : 0;
}
