// SPDX-License-Identifier: Apache-2.0
/*
 * rune-image: the image store from the command line (pull, list, inspect, remove, gc).
 *
 *   rune-image [--root DIR] pull [options] REFERENCE
 *   rune-image [--root DIR] list [--json] | inspect REFERENCE | remove REFERENCE | gc
 *   rune-image encrypt --encryption-key SPEC [options] SRC DST    (encrypt.c)
 *   rune-image sign [--sign-by FPR] [--cosign-key FILE] [options] REFERENCE    (sign.c)
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "commit.h"
#include "config.h"
#include "image/bundle.h"
#include "image/flatten.h"
#include "image/pull.h"
#include "image/reference.h"
#include "image/store.h"
#include "rune-image.h"
#include "runtime/spec.h"
#include "sign/verify.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/log.h"
#include "util/strv.h"
#include "store/fsck.h"
#include "store/store.h"
#include "store/view.h"
#include <sys/wait.h>

static const char *default_root(void)
{
	static char buf[4096];
	const char *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
	if (geteuid() == 0)
		return "/var/lib/rune-image";
	if (xdg && *xdg)
		snprintf(buf, sizeof(buf), "%s/rune-image", xdg);
	else
		snprintf(buf, sizeof(buf), "%s/.local/share/rune-image", home ? home : "/tmp");
	return buf;
}

int rune_image_fail(struct cc_error *err)
{
	fprintf(stderr, "rune-image: %s\n", err && err->msg ? err->msg : "unknown error");
	cc_error_free(&err);
	return 1;
}

static int fail(struct cc_error *err)
{
	return rune_image_fail(err);
}

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "Usage: rune-image [--root DIR] COMMAND [options]\n\n"
	    "Commands:\n"
	    "   pull REFERENCE      fetch, verify and unpack an image into the store\n"
	    "   list                the images in the store\n"
	    "   inspect REFERENCE   an image's record (JSON)\n"
	    "   remove REFERENCE    forget an image (its layers go at the next gc)\n"
	    "   unpack REFERENCE DIR           a flattened copy of the image's rootfs in DIR\n"
	    "                                  (new or empty; made 0700: private to its owner)\n"
	    "   mount REFERENCE DIR            the image as an overlayfs at DIR, writable\n"
	    "   unmount DIR                    unmount it and drop its writable layer\n"
	    "                                  (encrypted store: served by a daemon through\n"
	    "                                  FUSE, its writable layer encrypted in the store;\n"
	    "                                  it logs to /run/rune-image/view-NAME.log)\n"
	    "   bundle [--copy] REFERENCE DIR  an OCI bundle (rootfs + config.json) for rune\n"
	    "   encrypt --encryption-key SPEC SRC DST  copy an image into an OCI layout with\n"
	    "                       encrypted layers (ocicrypt; see rune-image encrypt --help)\n"
	    "   sign REFERENCE      sign an image in its registry: GPG simple signing and/or\n"
	    "                       cosign (see rune-image sign --help)\n"
	    "   gc                  remove layers and blobs no image uses\n"
	    "   fsck                verify every object of an encrypted store (--store-key)\n\n"
	    "Global options:\n"
	    "   --root DIR          the store (default: %s)\n"
	    "   --store-key FILE    the layers are in an encrypted, integrity-protected store\n"
	    "                       under this key (32 bytes or 64 hex digits, mode 0600)\n"
	    "   --version           print the version\n\n"
	    "pull options:\n"
	    "   --platform OS/ARCH[/VARIANT]   from a multi-platform image (default: this host)\n"
	    "   --creds USER[:PASSWORD]        registry credentials (else from auth.json)\n"
	    "   --authfile FILE                credentials file (containers auth.json format)\n"
	    "   --tls-ca FILE                  extra CA certificates for the registry\n"
	    "   --insecure-registry HOST[:PORT]  allow plain HTTP and unchecked TLS (repeatable)\n"
	    "   --jobs N                       layers fetched at once (default 3)\n"
	    "   --stall-timeout SECONDS        a transfer that receives nothing for this long is\n"
	    "                                  dropped and retried (default 30)\n"
	    "   --transfer-timeout SECONDS     the time each manifest or blob may take, retries\n"
	    "                                  included (default 1800, or what its size takes\n"
	    "                                  at 256 KiB/s when that is longer)\n"
	    "   --decryption-key SPEC          for encrypted layers (repeatable): KEY[:PASSWORD],\n"
	    "                                  KEY:pass=|file=|fd=..., a directory of keys, or\n"
	    "                                  provider:NAME[:PARAM] (skopeo's syntax)\n"
	    "   --keyprovider-config FILE      key providers (ocicrypt.conf; default:\n"
	    "                                  $OCICRYPT_KEYPROVIDER_CONFIG)\n"
	    "   --keyprovider-timeout SECONDS  how long a key provider may take (default 60)\n"
	    "   --policy FILE                  the signature policy (containers-policy.json; "
	    "default:\n"
	    "                                  ~/.config/containers/policy.json if it exists, "
	    "else\n"
	    "                                  /etc/containers/policy.json)\n"
	    "   --registries.d DIR             where signatures are (default: as for the policy,\n"
	    "                                  .../containers/registries.d)\n"
	    "   --insecure-policy              INSECURE: no policy, accept every image unchecked\n"
	    "   --rootless                     unpack without device nodes or ownership changes\n"
	    "   --quiet, -q                    print only the image's manifest digest\n"
	    "   --json                         print the image record as JSON\n",
	    default_root());
}

/* ---- progress ---- */

struct layer_view {
	char id[13];
	int64_t size, done;
	const char *state;
};

struct view {
	bool tty, quiet, json;
	struct layer_view *layers;
	size_t n, drawn;
	struct timespec last;
};

static void draw(struct view *v, bool force)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	double dt =
	    (double)(now.tv_sec - v->last.tv_sec) + (double)(now.tv_nsec - v->last.tv_nsec) / 1e9;
	if (!force && dt < 0.1)
		return;
	v->last = now;
	if (v->drawn)
		fprintf(stderr, "\033[%zuA", v->drawn);
	for (size_t i = 0; i < v->n; i++) {
		struct layer_view *l = &v->layers[i];
		char done[32], size[32], bar[32] = "";
		cc_format_bytes((uint64_t)l->done, done, sizeof(done));
		cc_format_bytes((uint64_t)l->size, size, sizeof(size));
		if (!strcmp(l->state, "Downloading") && l->size > 0) {
			int w = (int)(20 * l->done / l->size);
			memset(bar, '=', (size_t)(w > 20 ? 20 : w));
			bar[w > 20 ? 20 : w] = '>';
			fprintf(stderr, "\033[2K%s: %-12s [%-21s] %s/%s\n", l->id, l->state, bar,
				done, size);
		} else {
			fprintf(stderr, "\033[2K%s: %s\n", l->id, l->state);
		}
	}
	v->drawn = v->n;
	fflush(stderr);
}

static void on_progress(void *ctx, size_t i, const struct img_descriptor *d,
			enum img_progress_event ev, int64_t bytes)
{
	struct view *v = ctx;
	if (v->quiet || v->json)
		return;
	if (i >= v->n) {
		v->layers = xreallocarray(v->layers, i + 1, sizeof(*v->layers));
		for (size_t k = v->n; k <= i; k++)
			v->layers[k] = (struct layer_view){ .state = "Waiting" };
		v->n = i + 1;
	}
	struct layer_view *l = &v->layers[i];
	snprintf(l->id, sizeof(l->id), "%.12s", strchr(d->digest, ':') + 1);
	l->size = d->size;
	switch (ev) {
	case IMG_PROGRESS_START:
		l->state = "Downloading";
		if (!v->tty)
			fprintf(stderr, "%s: pulling %lld bytes\n", l->id, (long long)d->size);
		break;
	case IMG_PROGRESS_BYTES:
		l->done += bytes;
		break;
	case IMG_PROGRESS_DONE:
		l->state = "Pull complete";
		if (!v->tty)
			fprintf(stderr, "%s: pull complete\n", l->id);
		break;
	case IMG_PROGRESS_CACHED:
		l->state = "Already exists";
		if (!v->tty)
			fprintf(stderr, "%s: already exists\n", l->id);
		break;
	}
	if (v->tty)
		draw(v, ev != IMG_PROGRESS_BYTES);
}

/* ---- commands ---- */

/* --stall-timeout / --transfer-timeout: seconds (fractions allowed) as milliseconds. */
static bool pull_seconds(const char *opt, const char *arg, uint64_t *ms)
{
	char *end;
	double s = strtod(arg, &end);
	if (end == arg || *end || !(s >= 0.001 && s <= 7 * 86400)) {
		fprintf(stderr, "rune-image: --%s \"%s\": seconds, from 0.001 to 604800\n", opt,
			arg);
		return false;
	}
	*ms = (uint64_t)(s * 1000 + 0.5);
	return true;
}

void rune_image_insecure_warnings(char *const *insecure)
{
	for (char *const *h = insecure; h && *h; h++)
		cc_warn("insecure registry %s (--insecure-registry): its TLS certificates are not "
			"verified and plain HTTP is allowed",
			*h);
}

static int cmd_pull(struct img_store *store, int argc, char **argv)
{
	enum {
		O_PLATFORM = 1000,
		O_CREDS,
		O_AUTHFILE,
		O_CA,
		O_INSECURE,
		O_JOBS,
		O_ROOTLESS,
		O_JSON,
		O_DECRYPTION_KEY,
		O_KPCONF,
		O_KPTIME,
		O_STALL,
		O_DEADLINE,
		O_POLICY,
		O_REGISTRIES_D,
		O_INSECURE_POLICY
	};
	static const struct option opts[] = {
		{ "platform", required_argument, NULL, O_PLATFORM },
		{ "creds", required_argument, NULL, O_CREDS },
		{ "authfile", required_argument, NULL, O_AUTHFILE },
		{ "tls-ca", required_argument, NULL, O_CA },
		{ "insecure-registry", required_argument, NULL, O_INSECURE },
		{ "jobs", required_argument, NULL, O_JOBS },
		{ "rootless", no_argument, NULL, O_ROOTLESS },
		{ "quiet", no_argument, NULL, 'q' },
		{ "json", no_argument, NULL, O_JSON },
		{ "decryption-key", required_argument, NULL, O_DECRYPTION_KEY },
		{ "keyprovider-config", required_argument, NULL, O_KPCONF },
		{ "keyprovider-timeout", required_argument, NULL, O_KPTIME },
		{ "stall-timeout", required_argument, NULL, O_STALL },
		{ "transfer-timeout", required_argument, NULL, O_DEADLINE },
		{ "policy", required_argument, NULL, O_POLICY },
		{ "registries.d", required_argument, NULL, O_REGISTRIES_D },
		{ "insecure-policy", no_argument, NULL, O_INSECURE_POLICY },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct img_pull_opts o = { 0 };
	struct policy_args pa = { 0 };
	struct img_platform platform = { 0 };
	struct view v = { .tty = isatty(2) };
	_cleanup_key_args_ struct key_args ka = { 0 };
	_cleanup_strv_ char **insecure = NULL;
	_cleanup_creds_ struct creds creds = { 0 };
	struct cc_error *err = NULL;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+qh", opts, NULL)) != -1) {
		switch (c) {
		case O_PLATFORM:
			img_platform_clear(&platform);
			if (img_platform_parse(optarg, &platform, &err) < 0)
				return fail(err);
			o.platform = &platform;
			break;
		case O_CREDS:
			creds_take(&creds, &o.registry, optarg);
			break;
		case O_AUTHFILE:
			o.registry.auth_file = optarg;
			break;
		case O_CA:
			o.registry.ca_file = optarg;
			break;
		case O_INSECURE:
			cc_strv_push(&insecure, optarg);
			break;
		case O_JOBS: {
			char *end;
			long n = strtol(optarg, &end, 10);
			if (*end || n < 1 || n > 64) {
				fprintf(stderr,
					"rune-image: --jobs \"%s\": a number from 1 to 64\n",
					optarg);
				return 1;
			}
			o.jobs = (unsigned)n;
			break;
		}
		case O_ROOTLESS:
			o.rootless = true;
			break;
		case O_DECRYPTION_KEY:
			key_args_add_secret(&ka, optarg);
			break;
		case O_KPCONF:
			ka.provider_config = optarg;
			break;
		case O_KPTIME:
			if (!key_args_timeout(&ka, optarg))
				return 1;
			break;
		case O_STALL:
			if (!pull_seconds("stall-timeout", optarg, &o.registry.stall_timeout_ms))
				return 1;
			break;
		case O_DEADLINE:
			if (!pull_seconds("transfer-timeout", optarg,
					  &o.registry.transfer_timeout_ms))
				return 1;
			break;
		case O_POLICY:
			pa.policy = optarg;
			break;
		case O_REGISTRIES_D:
			pa.registries_d = optarg;
			break;
		case O_INSECURE_POLICY:
			pa.insecure_policy = true;
			break;
		case 'q':
			v.quiet = true;
			break;
		case O_JSON:
			v.json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (argc - optind != 1) {
		fprintf(stderr, "rune-image: pull: exactly one image reference expected\n");
		return 1;
	}
	o.registry.insecure = insecure;
	rune_image_insecure_warnings(insecure);
	o.progress = on_progress;
	o.progress_ctx = &v;
	/* The policy and keys are loaded (and a wrong password found) before anything is
	 * fetched. */
	struct sign_verifier *verifier = NULL;
	if (policy_args_verifier(&pa, &verifier, &err) < 0)
		return fail(err);
	struct img_pull_gate gate = { sign_pull_gate, verifier };
	o.gate = verifier ? &gate : NULL;
	struct crypt_keys *keys = NULL;
	if (key_args_keys(&ka, &keys, &err) < 0) {
		sign_verifier_free(verifier);
		return fail(err);
	}
	o.keys = keys;
	json_t *record = img_pull(store, argv[optind], &o, &err);
	crypt_keys_free(keys);
	sign_verifier_free(verifier);
	img_platform_clear(&platform);
	free(v.layers);
	if (!record)
		return fail(err);
	if (v.json) {
		_cleanup_free_ char *s = json_dumps(record, JSON_INDENT(2) | JSON_SORT_KEYS);
		printf("%s\n", s);
	} else if (v.quiet) {
		printf("%s\n", json_string_value(json_object_get(record, "manifest")));
	} else {
		printf("Digest: %s\nStatus: pulled %s\n",
		       json_string_value(json_object_get(record, "manifest")),
		       json_string_value(json_object_get(record, "ref")));
	}
	json_decref(record);
	return 0;
}

/* A reference as the user typed it, in the store's canonical form. */
static char *canonical(const char *text, struct cc_error **err)
{
	struct img_ref r;
	if (img_ref_parse(text, &r, err) < 0)
		return NULL;
	char *s = img_ref_string(&r);
	img_ref_clear(&r);
	return s;
}

static int cmd_list(struct img_store *store, int argc, char **argv)
{
	bool json = argc > 1 && !strcmp(argv[1], "--json");
	struct cc_error *err = NULL;
	_cleanup_json_ json_t *list = img_store_list_images(store, &err);
	if (!list)
		return fail(err);
	if (json) {
		_cleanup_free_ char *s = json_dumps(list, JSON_INDENT(2) | JSON_SORT_KEYS);
		printf("%s\n", s);
		return 0;
	}
	printf("%-60s %-19s %s\n", "IMAGE", "DIGEST", "LAYERS");
	size_t i;
	json_t *img;
	json_array_foreach (list, i, img) {
		const char *d = json_string_value(json_object_get(img, "manifest"));
		printf("%-60s %.19s %zu\n", json_string_value(json_object_get(img, "ref")), d,
		       json_array_size(json_object_get(img, "layers")));
	}
	return 0;
}

static int cmd_inspect(struct img_store *store, int argc, char **argv)
{
	struct cc_error *err = NULL;
	_cleanup_free_ char *ref = canonical(argv[1], &err);
	_cleanup_json_ json_t *rec = ref ? img_store_get_image(store, ref, &err) : NULL;
	if (!rec)
		return fail(err);
	_cleanup_free_ char *s = json_dumps(rec, JSON_INDENT(2) | JSON_SORT_KEYS);
	printf("%s\n", s);
	return 0;
}

static int cmd_remove(struct img_store *store, int argc, char **argv)
{
	struct cc_error *err = NULL;
	_cleanup_free_ char *ref = canonical(argv[1], &err);
	if (!ref || img_store_remove_image(store, ref, &err) < 0)
		return fail(err);
	printf("Untagged: %s\n", ref);
	return 0;
}

/* A flattened copy of the layer directories dirs in dir. */
static int unpack_into(const char *ref, char **dirs, const char *dir, struct cc_error **err)
{
	/* DIR holds the image's tree (setuid files, file capabilities, devices): only its owner
	 * may reach it, as umoci makes its bundles, whether it is made here or was there empty. */
	struct stat st;
	bool made = mkdir(dir, 0700) == 0;
	_cleanup_close_ int fd = made || errno == EEXIST
				     ? open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
				     : -1;
	if (fd < 0 || fstat(fd, &st) < 0 || (!made && fchmod(fd, 0700) < 0))
		return cc_error_set(err, errno == ELOOP ? ENOTDIR : errno, "unpack %s: %s", ref,
				    dir);
	if (img_flatten(dirs, cc_strv_len(dirs), dir, err) < 0) {
		/* img_flatten has removed what it made: DIR is as it was, or goes. */
		if (made)
			rmdir(dir);
		else
			fchmod(fd, st.st_mode & 07777);
		return cc_error_prefix(err, "unpack %s", ref);
	}
	return 0;
}

static char **layer_dirs(struct img_store *store, const char *text, char **ref_out,
			 struct img_config **config_out);

static int cmd_unpack(struct img_store *store, int argc, char **argv)
{
	struct cc_error *err = NULL;
	if (argc != 3) {
		fprintf(stderr,
			"rune-image: unpack: an image reference and a directory expected\n");
		return 1;
	}
	_cleanup_free_ char *ref = NULL;
	_cleanup_strv_ char **dirs = layer_dirs(store, argv[1], &ref, NULL);
	if (!dirs)
		return 1;
	/* An encrypted store's layers are read through a read-only view at a private mount
	 * point, served for the time of the copy. */
	char tmp[] = "/run/rune-image/unpack-XXXXXX";
	pid_t view = 0;
	if (img_store_encrypted(store)) {
		if (cc_mkdir_p("/run/rune-image", 0700, &err) < 0 || !mkdtemp(tmp) ||
		    ri_view_start(store, dirs, tmp, NULL, &view, &err) < 0) {
			if (!err)
				cc_error_errno(&err, "unpack %s: %s", ref, tmp);
			rmdir(tmp);
			return fail(err);
		}
		cc_strv_free(dirs);
		dirs = NULL;
		cc_strv_push(&dirs, tmp);
	}
	int ret = unpack_into(ref, dirs, argv[2], &err);
	if (view > 0) {
		CC_BEST_EFFORT(umount2(tmp, MNT_DETACH)); /* the daemon ends with the mount */
		while (waitpid(view, NULL, 0) < 0 && errno == EINTR)
			;
		CC_BEST_EFFORT(rmdir(tmp)); /* a leftover under /run is harmless */
	}
	return ret < 0 ? fail(err) : 0;
}

/* The image's layer directories, bottom first, or for an encrypted store their diff_ids;
 * NULL after printing why. */
static char **layer_dirs(struct img_store *store, const char *text, char **ref_out,
			 struct img_config **config_out)
{
	struct cc_error *err = NULL;
	_cleanup_free_ char *ref = canonical(text, &err);
	_cleanup_json_ json_t *rec = ref ? img_store_get_image(store, ref, &err) : NULL;
	if (!rec) {
		fail(err);
		return NULL;
	}
	char **dirs = NULL;
	json_t *l;
	size_t i;
	json_array_foreach (json_object_get(rec, "layers"), i, l) {
		const char *id = json_string_value(json_object_get(l, "diff_id"));
		bool enc = img_store_encrypted(store);
		char *p = !enc				   ? img_store_layer_path(store, id)
			  : img_store_has_layer(store, id) ? xstrdup(id)
							   : NULL;
		if (!p || (!enc && access(p, F_OK) != 0)) {
			fprintf(stderr, "rune-image: %s: layer %zu is missing from the store\n",
				ref, i);
			free(p);
			cc_strv_free(dirs);
			return NULL;
		}
		cc_strv_push(&dirs, p);
		free(p);
	}
	if (!dirs)
		dirs = xcalloc(1, sizeof(char *));
	if (config_out) {
		const char *digest = json_string_value(json_object_get(rec, "config"));
		size_t len;
		_cleanup_free_ char *text_cfg =
		    img_store_get_blob(store, digest, IMG_CONFIG_MAX, &len, &err);
		*config_out = text_cfg ? img_config_parse(digest, text_cfg, len, &err) : NULL;
		if (!*config_out) {
			fail(err);
			cc_strv_free(dirs);
			return NULL;
		}
	}
	if (ref_out)
		*ref_out = steal_pointer(&ref);
	return dirs;
}

/* Where a mount's writable layer lives: under the store, keyed by the mount point. */
static char *container_dir(struct img_store *store, const char *target)
{
	char real[4096];
	const char *t = realpath(target, real) ? real : target;
	_cleanup_free_ char *d = img_digest_buf(t, strlen(t));
	return xasprintf("%s/containers/%.24s", img_store_root(store), d + strlen("sha256:"));
}

static int cmd_mount(struct img_store *store, int argc, char **argv)
{
	struct cc_error *err = NULL;
	if (argc != 3) {
		fprintf(stderr, "rune-image: mount: an image reference and a directory expected\n");
		return 1;
	}
	_cleanup_strv_ char **dirs = layer_dirs(store, argv[1], NULL, NULL);
	if (!dirs)
		return 1;
	if (cc_mkdir_p(argv[2], 0755, &err) < 0)
		return fail(err);
	if (img_store_encrypted(store)) {
		_cleanup_free_ char *name = ri_view_upper_name(argv[2]);
		if (ri_view_start(store, dirs, argv[2], name, NULL, &err) < 0)
			return fail(err);
		return 0;
	}
	_cleanup_free_ char *cdir = container_dir(store, argv[2]);
	_cleanup_free_ char *upper = cc_path_join(cdir, "upper");
	_cleanup_free_ char *work = cc_path_join(cdir, "work");
	if (img_mount_overlay(dirs, cc_strv_len(dirs), upper, work, argv[2], &err) < 0)
		return fail(err);
	return 0;
}

static int cmd_unmount(struct img_store *store, int argc, char **argv)
{
	struct cc_error *err = NULL;
	if (argc != 2) {
		fprintf(stderr, "rune-image: unmount: a directory expected\n");
		return 1;
	}
	_cleanup_free_ char *cdir = container_dir(store, argv[1]);
	if (umount2(argv[1], UMOUNT_NOFOLLOW) < 0) {
		fprintf(stderr, "rune-image: unmount %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	if (cc_rm_rf(cdir, &err) < 0)
		return fail(err);
	return 0;
}

static int cmd_bundle(struct img_store *store, int argc, char **argv)
{
	struct cc_error *err = NULL;
	/* The arguments were checked against the synopsis: --copy anywhere, two others. */
	bool copy = false;
	const char *pos[2] = { NULL, NULL };
	for (int j = 1, n = 0; j < argc; j++) {
		if (!strcmp(argv[j], "--copy"))
			copy = true;
		else if (n < 2)
			pos[n++] = argv[j];
	}
	const char *image = pos[0], *bundle = pos[1];
	struct img_config *cfg = NULL;
	_cleanup_free_ char *ref = NULL;
	_cleanup_strv_ char **dirs = layer_dirs(store, image, &ref, &cfg);
	if (!dirs)
		return 1;
	_cleanup_free_ char *rootfs = cc_path_join(bundle, "rootfs");
	_cleanup_free_ char *upper = cc_path_join(bundle, ".layer/upper");
	_cleanup_free_ char *work = cc_path_join(bundle, ".layer/work");
	_cleanup_free_ char *spec = rt_spec_default(false);
	/* The bundle holds an image's tree (setuid binaries, devices): 0700 as umoci makes it,
	 * an existing directory too. */
	int ret = cc_mkdir_p(bundle, 0700, &err);
	if (ret == 0 && chmod(bundle, 0700) < 0)
		ret = cc_error_errno(&err, "bundle %s: chmod", bundle);
	bool enc = img_store_encrypted(store);
	if (ret == 0 && enc && copy)
		ret = cc_error_set(
		    &err, 0,
		    "bundle %s: --copy would write the encrypted store's rootfs in the "
		    "clear; the view serves it",
		    bundle);
	if (ret == 0 && enc) {
		_cleanup_free_ char *name = ri_view_upper_name(rootfs);
		ret = cc_mkdir_p(rootfs, 0755, &err);
		if (ret == 0)
			ret = ri_view_start(store, dirs, rootfs, name, NULL, &err);
	} else if (ret == 0 && !copy &&
		   img_mount_overlay(dirs, cc_strv_len(dirs), upper, work, rootfs, &err) < 0) {
		/* No overlayfs here (or not for us): a flattened copy serves the same purpose. */
		fprintf(stderr, "rune-image: %s; using a flattened copy instead\n", err->msg);
		cc_error_free(&err);
		copy = true;
	}
	if (ret == 0 && copy)
		ret = img_flatten(dirs, cc_strv_len(dirs), rootfs, &err);
	json_t *config = ret == 0 ? img_bundle_config(cfg, spec, rootfs, &err) : NULL;
	img_config_free(cfg);
	if (!config) {
		if (ret == 0 && !copy)
			umount2(rootfs, UMOUNT_NOFOLLOW);
		return fail(err);
	}
	_cleanup_free_ char *path = cc_path_join(bundle, "config.json");
	_cleanup_free_ char *text = json_dumps(config, JSON_INDENT(2));
	json_decref(config);
	if (cc_write_file_atomic(path, text, strlen(text), 0644, &err) < 0)
		return fail(err);
	printf("%s\n", bundle);
	return 0;
}

static int cmd_gc(struct img_store *store, int argc, char **argv)
{
	struct cc_error *err = NULL;
	size_t layers, blobs;
	if (img_store_gc(store, &layers, &blobs, &err) < 0)
		return fail(err);
	printf("removed %zu layers and %zu blobs\n", layers, blobs);
	return 0;
}

static void fsck_line(void *ctx, int severity, const char *text)
{
	printf("%s %s\n", severity == STORE_FSCK_DAMAGE ? "damaged:" : "warning:", text);
}

/* fsck: the encrypted store checked in place, read-only; exit 0 whole, 1 damaged, 2 when it
 * could not be checked. */
static int cmd_fsck(const char *root, const uint8_t *key)
{
	struct cc_error *err = NULL;
	struct store_fsck_report rep = { 0 };
	if (!key) {
		fprintf(stderr, "rune-image: fsck: checks an encrypted store: give --store-key\n");
		return 2;
	}
	_cleanup_free_ char *enc = cc_path_join(root, "encrypted");
	int r = store_fsck(enc, key, fsck_line, NULL, &rep, &err);
	if (r < 0) {
		rune_image_fail(err);
		return 2;
	}
	printf("fsck: %s: %zu layers, %zu objects (%zu bytes) verified; %zu damaged, %zu "
	       "unreferenced, "
	       "%zu leftovers, %zu strays\n",
	       r ? "damaged" : "whole", rep.layers, rep.objects_checked, rep.bytes_checked,
	       rep.damaged, rep.unreferenced, rep.leftovers, rep.strays);
	return r ? 1 : 0;
}

/* unmount over an encrypted store: the daemon serving the view drops the writable layer after
 * its last write to it, asked by the mark left before unmounting; if it is gone (killed), the
 * drop is done here. */
static int cmd_unmount_encrypted(const char *root, const uint8_t *key, int argc, char **argv)
{
	struct cc_error *err = NULL;
	if (argc != 2) {
		fprintf(stderr, "rune-image: unmount: a directory expected\n");
		return 1;
	}
	_cleanup_free_ char *name = ri_view_upper_name(argv[1]);
	_cleanup_free_ char *drop = ri_view_drop_path(argv[1]);
	if (cc_mkdir_p(RI_VIEW_DIR, 0700, &err) < 0 ||
	    cc_write_file_atomic(drop, "", 0, 0600, &err) < 0)
		return fail(err);
	if (umount2(argv[1], UMOUNT_NOFOLLOW) < 0) {
		fprintf(stderr, "rune-image: unmount %s: %s\n", argv[1], strerror(errno));
		CC_BEST_EFFORT(unlink(drop)); /* nothing was unmounted */
		return 1;
	}
	for (int i = 0; i < 200 && access(drop, F_OK) == 0; i++) {
		struct timespec ts = { 0, 50 * 1000000L };
		nanosleep(&ts, NULL);
	}
	if (access(drop, F_OK) != 0)
		return 0;
	struct img_store *store = img_store_open_encrypted(root, key, &err);
	if (!store)
		return fail(err);
	int ret = 0;
	if (store_view_drop(img_store_backend(store), name, &err) < 0 && err->errnum != ENOENT)
		ret = fail(err);
	cc_error_free(&err);
	img_store_close(store);
	CC_BEST_EFFORT(unlink(drop)); /* done either way */
	return ret;
}

/* The store commands' synopses and the only options each takes: checked before the store is
 * opened, so that "--help" or a typo neither runs a command nor makes a store. */
static const struct {
	const char *name, *synopsis, *flag; /* its one option, if any */
	int args;			    /* how many arguments it takes */
} store_commands[] = {
	{ "list", "[--json]", "--json", 0 },
	{ "inspect", "REFERENCE", NULL, 1 },
	{ "remove", "REFERENCE", NULL, 1 },
	{ "gc", "", NULL, 0 },
	{ "fsck", "", NULL, 0 },
	{ "unpack", "REFERENCE DIR", NULL, 2 },
	{ "mount", "REFERENCE DIR", NULL, 2 },
	{ "unmount", "DIR", NULL, 1 },
	{ "bundle", "[--copy] REFERENCE DIR", "--copy", 2 },
};

/* 0: go on; else the exit status (the command's usage was printed, or its options are wrong). */
static int check_store_command(const char *name, int argc, char **argv, int *status)
{
	for (size_t k = 0; k < ARRAY_SIZE(store_commands); k++) {
		if (strcmp(name, store_commands[k].name) != 0)
			continue;
		const char *syn = store_commands[k].synopsis, *flag = store_commands[k].flag;
		int args = 0;
		*status = 1;
		for (int j = 1; j < argc; j++) {
			if (argv[j][0] != '-' || !argv[j][1]) {
				args++;
			} else if (!strcmp(argv[j], "--help") || !strcmp(argv[j], "-h")) {
				printf("Usage: rune-image [--root DIR] [--store-key FILE] %s%s%s\n"
				       "(see rune-image --help)\n",
				       name, *syn ? " " : "", syn);
				*status = 0;
				return 1;
			} else if (!flag || strcmp(argv[j], flag) != 0) {
				fprintf(stderr,
					"rune-image: %s: unknown option \"%s\" (usage: %s%s%s)\n",
					name, argv[j], name, *syn ? " " : "", syn);
				return 1;
			}
		}
		if (args != store_commands[k].args) {
			fprintf(stderr, "rune-image: %s: %s (usage: %s%s%s)\n", name,
				!store_commands[k].args		? "no argument expected"
				: args < store_commands[k].args ? "too few arguments"
								: "too many arguments",
				name, *syn ? " " : "", syn);
			return 1;
		}
		return 0;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(struct img_store *, int, char **);
	} commands[] = {
		{ "pull", cmd_pull },	  { "list", cmd_list },	      { "inspect", cmd_inspect },
		{ "remove", cmd_remove }, { "gc", cmd_gc },	      { "unpack", cmd_unpack },
		{ "mount", cmd_mount },	  { "unmount", cmd_unmount }, { "bundle", cmd_bundle },
	};
	const char *root = default_root();
	const char *key_file = NULL;
	int i = 1;
	while (i < argc && argv[i][0] == '-') {
		if (!strcmp(argv[i], "--store-key") && i + 1 < argc) {
			key_file = argv[i + 1];
			i += 2;
		} else if (!strncmp(argv[i], "--store-key=", 12)) {
			key_file = argv[i] + 12;
			i++;
		} else if (!strcmp(argv[i], "--root") && i + 1 < argc) {
			root = argv[i + 1];
			i += 2;
		} else if (!strncmp(argv[i], "--root=", 7)) {
			root = argv[i] + 7;
			i++;
		} else if (!strcmp(argv[i], "--version")) {
			printf("rune-image version %s\ncommit: %s\n", RUNE_VERSION, RUNE_COMMIT);
			return 0;
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "rune-image: unknown option %s\n", argv[i]);
			usage(stderr);
			return 1;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return 1;
	}
	if (!strcmp(argv[i], "encrypt")) /* works on OCI layouts, not on the store */
		return cmd_encrypt(argc - i, argv + i);
	if (!strcmp(argv[i], "sign")) /* works on a registry, not on the store */
		return cmd_sign(argc - i, argv + i);
	int status;
	if (check_store_command(argv[i], argc - i, argv + i, &status))
		return status;
	uint8_t key[STORE_KEY_LEN];
	struct cc_error *err = NULL;
	if (key_file && ri_read_store_key(key_file, key, &err) < 0)
		return fail(err);
	int ret = -1;
	if (!strcmp(argv[i], "fsck"))
		ret = cmd_fsck(root, key_file ? key : NULL);
	else if (key_file && !strcmp(argv[i], "unmount"))
		ret = cmd_unmount_encrypted(root, key, argc - i, argv + i);
	for (size_t k = 0; ret < 0 && k < ARRAY_SIZE(commands); k++) {
		if (strcmp(argv[i], commands[k].name) != 0)
			continue;
		struct img_store *store = key_file ? img_store_open_encrypted(root, key, &err)
						   : img_store_open(root, &err);
		ret = store ? commands[k].run(store, argc - i, argv + i) : fail(err);
		img_store_close(store);
	}
	explicit_bzero(key, sizeof(key));
	if (ret >= 0)
		return ret;
	fprintf(stderr, "rune-image: unknown command \"%s\"\n", argv[i]);
	return 1;
}
