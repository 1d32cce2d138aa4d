// SPDX-License-Identifier: Apache-2.0
/*
 * rune-image encrypt: the mirror of decryption on pull. Copies an image from an OCI layout
 * (or a registry) into an OCI layout, encrypting the chosen layers for the recipients as
 * skopeo copy --encryption-key does: new blobs with "+encrypted" media types and the
 * org.opencontainers.image.enc.* annotations, a new (OCI) manifest, the config unchanged (its
 * diff_ids stay those of the plain layers). Every layer is streamed (source, digest check,
 * encryption, staged blob), and DST changes only at the end: blobs published, index.json last.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "image/ocilayout.h"
#include "image/pull.h"
#include "image/reference.h"
#include "image/registry.h"
#include "rune-image.h"
#include "util/cleanup.h"
#include "util/json.h"
#include "util/strv.h"

/* ---- the source: an OCI layout or a registry ---- */

struct source {
	struct img_oci *oci;
	struct img_registry *reg;
	char *tag; /* what DST is tagged when it names no tag */
	struct img_document *manifest;
	char *config;
	size_t config_len;
};

static void source_close(struct source *s)
{
	img_document_free(s->manifest);
	img_oci_close(s->oci);
	img_registry_close(s->reg);
	free(s->config);
	free(s->tag);
}

/* The registry's manifest for the platform (through an index if need be). */
static struct img_document *registry_manifest(struct img_registry *reg, const struct img_ref *ref,
					      const char *name, const struct img_platform *want,
					      struct cc_error **err)
{
	_cleanup_free_ char *index = NULL, *digest = NULL;
	return img_resolve_manifest(reg, NULL, ref, name, want, NULL, &index, &digest, err);
}

static int open_registry(struct source *s, const char *text, const struct img_registry_opts *ro,
			 const struct img_platform *want, struct cc_error **err)
{
	struct img_ref ref;
	if (img_ref_parse(text, &ref, err) < 0)
		return -1;
	_cleanup_free_ char *name = img_ref_string(&ref);
	s->tag = xstrdup(ref.tag ? ref.tag : IMG_DEFAULT_TAG);
	s->reg = img_registry_open(&ref, ro, err);
	if (s->reg)
		s->manifest = registry_manifest(s->reg, &ref, name, want, err);
	if (s->manifest)
		s->config = img_registry_get_blob(s->reg, s->manifest->config.digest,
						  IMG_CONFIG_MAX, &s->config_len, err);
	img_ref_clear(&ref);
	return s->config ? 0 : -1;
}

static int source_open(struct source *s, const char *text, const struct img_registry_opts *ro,
		       const struct img_platform *want, struct cc_error **err)
{
	_cleanup_free_ char *path = NULL, *tag = NULL, *digest = NULL;
	int r = -1;
	if (!strncmp(text, "docker://", 9))
		r = open_registry(s, text + 9, ro, want, err);
	else if (!img_oci_parse_name(text, &path, &tag))
		cc_error_set(err, 0, "source \"%s\": want oci:PATH[:TAG] or docker://REFERENCE",
			     text);
	else if ((s->oci = img_oci_open(path, err)) &&
		 (s->manifest = img_oci_manifest(s->oci, tag, want, &digest, err)) &&
		 (s->config = img_oci_get_blob(s->oci, s->manifest->config.digest, IMG_CONFIG_MAX,
					       &s->config_len, err)))
		r = 0;
	if (r == 0 && !s->tag)
		s->tag = xstrdup(tag ? tag : IMG_DEFAULT_TAG);
	return r;
}

static struct img_stream *source_blob(struct source *s, const struct img_descriptor *d,
				      struct cc_error **err)
{
	if (s->reg)
		return img_registry_blob_stream(s->reg, d->digest, d->size);
	return img_oci_blob_stream(s->oci, d->digest, err);
}

/* ---- one layer ---- */

/* Docker schema 2 types have no "+encrypted" form: encrypting makes the image OCI (as
 * containers/image does). */
static const char *oci_type(const char *mt)
{
	static const char *const map[][2] = {
		{ "application/vnd.docker.image.rootfs.diff.tar.gzip",
		  "application/vnd.oci.image.layer.v1.tar+gzip" },
		{ "application/vnd.docker.image.rootfs.diff.tar",
		  "application/vnd.oci.image.layer.v1.tar" },
		{ "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
		  "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip" },
		{ IMG_MT_DOCKER_CONFIG, IMG_MT_OCI_CONFIG },
	};
	for (size_t i = 0; i < ARRAY_SIZE(map); i++)
		if (!strcmp(mt, map[i][0]))
			return map[i][1];
	return mt;
}

struct job {
	struct source src;
	struct img_oci_writer *w;
	const struct crypt_recipients *r;
	bool *selected;
	size_t encrypted, already; /* layers encrypted now; chosen ones that already were */
};

/* Stream layer i (checked against its digest, encrypted when selected) into DST; *out is its
 * new descriptor. */
static int copy_layer(struct job *j, size_t i, json_t **out, struct cc_error **err)
{
	const struct img_descriptor *d = &j->src.manifest->layers[i];
	json_t *raw = json_array_get(json_object_get(j->src.manifest->raw, "layers"), i);
	bool enc = j->selected[i] && !d->encrypted; /* encrypted ones are copied as they are */
	j->already += j->selected[i] && d->encrypted;
	const char *mt = oci_type(d->media_type);
	_cleanup_free_ char *what = xasprintf("blob %s", d->digest);
	struct crypt_layer *l = NULL;
	if (enc && crypt_layer_encrypt_begin(j->r, mt, d->digest, &l, err) < 0)
		return cc_error_prefix(err, "layer %zu (%s)", i, d->digest);
	_cleanup_free_ char *new_mt = xstrdup(l ? crypt_layer_media_type(l) : mt);
	struct img_stream *s = source_blob(&j->src, d, err);
	if (!s) {
		crypt_layer_free(l);
		return -1;
	}
	s = img_stream_verify(s, what, d->digest, d->size);
	if (l)
		s = img_stream_encrypt(s, what, l);
	_cleanup_free_ char *digest = NULL;
	int64_t size = 0;
	json_t *ann = NULL;
	int r = img_oci_writer_put_stream(j->w, s, &digest, &size, err);
	img_stream_free(s);
	if (r == 0 && l)
		r = crypt_layer_final(l, &ann, err);
	crypt_layer_free(l);
	if (r < 0)
		return -1;
	json_t *desc = json_deep_copy(raw);
	json_object_set_new(desc, "mediaType", json_string(new_mt));
	json_object_set_new(desc, "digest", json_string(digest));
	json_object_set_new(desc, "size", json_integer(size));
	if (ann) {
		json_t *old = json_object_get(desc, "annotations");
		if (json_is_object(old))
			json_object_update(old, ann);
		else
			json_object_set(desc, "annotations", ann);
		json_decref(ann);
		j->encrypted++;
	}
	*out = desc;
	return 0;
}

/* ---- the image ---- */

/* skopeo's --encrypt-layer: 0-based indices, negative ones counted from the end; none given:
 * every layer. */
static int select_layers(struct job *j, char **indices, struct cc_error **err)
{
	size_t n = j->src.manifest->n_layers;
	j->selected = xcalloc(n + 1, sizeof(bool));
	for (size_t i = 0; !indices && i < n; i++)
		j->selected[i] = true;
	for (char **s = indices; s && *s; s++) {
		char *end;
		long v = strtol(*s, &end, 10);
		long k = v < 0 ? (long)n + v : v;
		if (end == *s || *end || k < 0 || k >= (long)n)
			return cc_error_set(err, 0,
					    "--layer %s: the image has %zu layers (0..%zu, or "
					    "-1..-%zu from the end)",
					    *s, n, n ? n - 1 : 0, n);
		j->selected[k] = true;
	}
	return 0;
}

/* The new manifest (OCI, with the new layer descriptors), staged; *desc describes it. */
static int write_manifest(struct job *j, json_t *layers, json_t **desc, struct cc_error **err)
{
	_cleanup_json_ json_t *m = json_deep_copy(j->src.manifest->raw);
	_cleanup_free_ char *cdigest = NULL;
	json_object_set_new(m, "mediaType", json_string(IMG_MT_OCI_MANIFEST));
	json_t *cfg = json_object_get(m, "config");
	json_object_set_new(cfg, "mediaType",
			    json_string(oci_type(j->src.manifest->config.media_type)));
	json_object_set(m, "layers", layers);
	if (img_oci_writer_put_blob(j->w, j->src.config, j->src.config_len, &cdigest, err) < 0)
		return -1;
	_cleanup_free_ char *text = json_dumps(m, JSON_COMPACT);
	_cleanup_free_ char *digest = NULL;
	if (img_oci_writer_put_blob(j->w, text, strlen(text), &digest, err) < 0)
		return -1;
	*desc = json_pack("{s:s,s:s,s:I}", "mediaType", IMG_MT_OCI_MANIFEST, "digest", digest,
			  "size", (json_int_t)strlen(text));
	return 0;
}

/* Every layer, the config and the manifest into DST, tagged tag; *digest: the manifest's. */
static int run(struct job *j, const char *dst, const char *tag, char **digest,
	       struct cc_error **err)
{
	_cleanup_json_ json_t *layers = json_array();
	_cleanup_json_ json_t *desc = NULL;
	j->w = img_oci_writer_begin(dst, err);
	if (!j->w)
		return -1;
	for (size_t i = 0; i < j->src.manifest->n_layers; i++) {
		json_t *d = NULL;
		if (copy_layer(j, i, &d, err) < 0)
			goto fail;
		json_array_append_new(layers, d);
	}
	if (write_manifest(j, layers, &desc, err) < 0)
		goto fail;
	*digest = xstrdup(json_string_value(json_object_get(desc, "digest")));
	int r = img_oci_writer_commit(j->w, desc, tag, err);
	j->w = NULL;
	return r;
fail:
	img_oci_writer_abort(j->w);
	j->w = NULL;
	return -1;
}

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "Usage: rune-image encrypt --encryption-key SPEC [options] SRC DST\n\n"
	    "Copy the image SRC (oci:PATH[:TAG] or docker://REFERENCE) into the OCI layout\n"
	    "DST (oci:PATH[:TAG]; the tag defaults to SRC's, else latest), encrypting its\n"
	    "layers for every recipient (ocicrypt, as skopeo copy --encryption-key).\n\n"
	    "   --encryption-key SPEC          jwe:PUBKEY.pem, pkcs7:CERT.pem, pgp:USER-ID or\n"
	    "                                  provider:NAME[:PARAM] (repeatable)\n"
	    "   --layer N                      encrypt only layer N (0-based, negative from the\n"
	    "                                  end; repeatable; default: all)\n"
	    "   --keyprovider-config FILE      key providers (ocicrypt.conf; default:\n"
	    "                                  $OCICRYPT_KEYPROVIDER_CONFIG)\n"
	    "   --keyprovider-timeout SECONDS  how long a key provider may take (default 60)\n"
	    "   --offline-fs-keys FILE         the keys of provider:attestation-agent:\n"
	    "                                  offline_fs_kbc::kbs:///R/T/N recipients, as\n"
	    "                                  {\"R/T/N\": base64 of 32 bytes} (default\n"
	    "                                  /etc/aa-offline_fs_kbc-keys.json); give the same\n"
	    "                                  key to a KBS to release it to attested agents\n"
	    "   --platform OS/ARCH[/VARIANT]   from a multi-platform SRC (default: this host)\n"
	    "   --creds USER[:PASSWORD], --authfile FILE, --tls-ca FILE,\n"
	    "   --insecure-registry HOST[:PORT]  for a docker:// SRC, as for pull\n"
	    "   --quiet, -q                    print only the new manifest's digest\n");
}

struct enc_args {
	struct key_args keys;
	char **layers;
	char **insecure;
	struct creds creds; /* --creds */
	struct img_platform platform;
	struct img_registry_opts ro;
	bool has_platform, quiet;
};

static void enc_args_clear(struct enc_args *a)
{
	key_args_clear(&a->keys);
	cc_strv_free(a->layers);
	cc_strv_free(a->insecure);
	creds_clear(&a->creds);
	img_platform_clear(&a->platform);
}

/* 0: go on; 1 or 2: exit with status (r - 1) after usage or an error already printed. */
static int parse_args(struct enc_args *a, int argc, char **argv)
{
	enum {
		O_KEY = 1000,
		O_LAYER,
		O_KPCONF,
		O_KPTIME,
		O_OFFLINE,
		O_PLATFORM,
		O_CREDS,
		O_AUTH,
		O_CA,
		O_INS
	};
	static const struct option opts[] = {
		{ "encryption-key", required_argument, NULL, O_KEY },
		{ "layer", required_argument, NULL, O_LAYER },
		{ "keyprovider-config", required_argument, NULL, O_KPCONF },
		{ "keyprovider-timeout", required_argument, NULL, O_KPTIME },
		{ "offline-fs-keys", required_argument, NULL, O_OFFLINE },
		{ "platform", required_argument, NULL, O_PLATFORM },
		{ "creds", required_argument, NULL, O_CREDS },
		{ "authfile", required_argument, NULL, O_AUTH },
		{ "tls-ca", required_argument, NULL, O_CA },
		{ "insecure-registry", required_argument, NULL, O_INS },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct cc_error *err = NULL;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+qh", opts, NULL)) != -1) {
		switch (c) {
		case O_KEY:
			key_args_add(&a->keys, optarg);
			break;
		case O_LAYER:
			cc_strv_push(&a->layers, optarg);
			break;
		case O_KPCONF:
			a->keys.provider_config = optarg;
			break;
		case O_KPTIME:
			if (!key_args_timeout(&a->keys, optarg))
				return 2;
			break;
		case O_OFFLINE:
			a->keys.offline_fs_keys = optarg;
			break;
		case O_PLATFORM:
			img_platform_clear(&a->platform);
			if (img_platform_parse(optarg, &a->platform, &err) < 0)
				return rune_image_fail(err) + 1;
			a->has_platform = true;
			break;
		case O_CREDS:
			creds_take(&a->creds, &a->ro, optarg);
			break;
		case O_AUTH:
			a->ro.auth_file = optarg;
			break;
		case O_CA:
			a->ro.ca_file = optarg;
			break;
		case O_INS:
			cc_strv_push(&a->insecure, optarg);
			break;
		case 'q':
			a->quiet = true;
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			usage(stderr);
			return 2;
		}
	}
	a->ro.insecure = a->insecure;
	rune_image_insecure_warnings(a->insecure);
	return 0;
}

int cmd_encrypt(int argc, char **argv)
{
	struct enc_args a = { 0 };
	struct job j = { 0 };
	struct cc_error *err = NULL;
	_cleanup_free_ char *dst = NULL, *tag = NULL, *digest = NULL;
	struct crypt_recipients *r = NULL;
	int status = parse_args(&a, argc, argv);
	if (status) {
		enc_args_clear(&a);
		return status - 1;
	}
	if (argc - optind != 2)
		cc_error_set(&err, 0, "a source and a destination expected (SRC DST)");
	else if (!a.keys.specs)
		cc_error_set(&err, 0, "no --encryption-key given");
	else if (!img_oci_parse_name(argv[optind + 1], &dst, &tag))
		cc_error_set(&err, 0, "destination \"%s\": want oci:PATH[:TAG]", argv[optind + 1]);
	/* Everything that can be checked before DST is touched: recipients, source, layers. */
	else if ((r = key_args_recipients(&a.keys, &err)) &&
		 source_open(&j.src, argv[optind], &a.ro, a.has_platform ? &a.platform : NULL,
			     &err) == 0 &&
		 select_layers(&j, a.layers, &err) == 0) {
		j.r = r;
		if (run(&j, dst, tag ? tag : j.src.tag, &digest, &err) == 0) {
			if (a.quiet)
				printf("%s\n", digest);
			else
				printf("Encrypted %zu of %zu layers%s\nDigest: %s\n", j.encrypted,
				       j.src.manifest->n_layers,
				       j.already ? " (the others chosen were encrypted already)"
						 : "",
				       digest);
		}
	}
	if (err)
		cc_error_prefix(&err, "encrypt");
	status = err ? rune_image_fail(err) : 0;
	crypt_recipients_free(r);
	source_close(&j.src);
	free(j.selected);
	enc_args_clear(&a);
	return status;
}
