// SPDX-License-Identifier: Apache-2.0
/* Enclave configuration: where it comes from, how it is checked, what intelSgx adds. */
#include <cpuid.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include "enclave/enclave.h"
#include "enclave/in-enclave.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/strv.h"

/* Setting: its process.env variable and its annotation. */
static const struct {
	const char *env, *annotation;
} settings[] = {
	{ "ENCLAVE_TYPE", "enclave.type" },
	{ "ENCLAVE_RUNTIME_PATH", "enclave.runtime.path" },
	{ "ENCLAVE_RUNTIME_ARGS", "enclave.runtime.args" },
	{ "ENCLAVE_RUNTIME_LOGLEVEL", "enclave.runtime.loglevel" },
};

static const char *const log_levels[] = { "trace", "debug", "info",  "warning",
					  "error", "fatal", "panic", "off" };

static const char *env_value(char **env, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; env && env[i]; i++)
		if (!strncmp(env[i], name, n) && env[i][n] == '=')
			return env[i] + n + 1;
	return NULL;
}

static const char *annotation(const struct rt_spec *spec, const char *key)
{
	for (size_t i = 0; i < spec->n_annotations; i++)
		if (!strcmp(spec->annotations[i].key, key))
			return spec->annotations[i].value;
	return NULL;
}

/* A setting: the environment wins when it holds more than one character. */
static char *setting(const struct rt_spec *spec, size_t which)
{
	const char *v = spec->process ? env_value(spec->process->env, settings[which].env) : NULL;
	if (!v || strlen(v) <= 1)
		v = annotation(spec, settings[which].annotation);
	return v && *v ? xstrdup(v) : NULL;
}

void enc_strip_env(char **env)
{
	size_t out = 0;
	for (size_t i = 0; env && env[i]; i++) {
		bool drop = false;
		for (size_t k = 0; k < ARRAY_SIZE(settings) && !drop; k++) {
			size_t n = strlen(settings[k].env);
			drop = !strncmp(env[i], settings[k].env, n) && env[i][n] == '=';
		}
		if (drop)
			free(env[i]);
		else
			env[out++] = env[i];
	}
	if (env)
		env[out] = NULL;
}

void enc_config_free(struct enc_config *e)
{
	if (!e)
		return;
	free(e->type);
	free(e->path);
	free(e->args);
	free(e->loglevel);
	if (e->pal_fd >= 0)
		close(e->pal_fd);
	if (e->agent_fd >= 0)
		close(e->agent_fd);
	if (e->attest_fd >= 0)
		close(e->attest_fd);
	free(e);
}

static struct enc_config *config_new(void)
{
	struct enc_config *e = xzalloc(sizeof(*e));
	e->pal_fd = e->agent_fd = e->attest_fd = -1;
	return e;
}

bool enc_cpu_has_sgx(void)
{
	unsigned a, b, c, d;
	return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & (1u << 2));
}

static int check_path(struct enc_config *e, const struct enc_trust *t, struct cc_error **err)
{
	if (!e->path)
		return cc_error_set(err, 0,
				    "enclave runtime path is not configured (set "
				    "ENCLAVE_RUNTIME_PATH or the enclave.runtime.path annotation)");
	char *resolved = NULL;
	e->pal_fd = enc_trust_open(e->path, t, &resolved, err);
	if (e->pal_fd < 0)
		return -1;
	free(e->path);
	e->path = resolved;
	return 0;
}

static int check_type(struct rt_spec *spec, const struct enc_config *e, struct cc_error **err)
{
	if (!strcmp(e->type, ENC_TYPE_SIMULATED)) {
		cc_debug("enclave type %s: no hardware isolation", e->type);
		return 0;
	}
	if (!strcmp(e->type, ENC_TYPE_SGX)) {
		if (!enc_cpu_has_sgx())
			return cc_error_set(err, ENODEV,
					    "enclave type %s: this machine has no SGX (CPUID leaf "
					    "7 EBX bit 2 is clear); ENCLAVE_TYPE=%s runs the PAL "
					    "without hardware",
					    e->type, ENC_TYPE_SIMULATED);
		return enc_add_sgx(spec, "/dev", "/var/run/aesmd", err);
	}
	return cc_error_set(err, 0, "enclave type %s is not supported (rune knows %s and %s)",
			    e->type, ENC_TYPE_SGX, ENC_TYPE_SIMULATED);
}

int enc_config_from_spec(struct rt_spec *spec, const struct enc_trust *t, struct enc_config **out,
			 struct cc_error **err)
{
	*out = NULL;
	_cleanup_free_ char *type = setting(spec, 0);
	if (!type)
		return 0;
	struct enc_config *e = config_new();
	e->type = steal_pointer(&type);
	e->path = setting(spec, 1);
	e->args = setting(spec, 2);
	e->loglevel = setting(spec, 3);
	if (e->args)
		for (char *c = e->args; *c; c++)
			if (*c == ',')
				*c = ' ';
	bool known = false;
	for (size_t i = 0; e->loglevel && i < ARRAY_SIZE(log_levels); i++)
		known |= !strcmp(e->loglevel, log_levels[i]);
	if (!known) {
		free(e->loglevel);
		e->loglevel = xstrdup("info");
	}
	if (spec->process)
		enc_strip_env(spec->process->env);
	if (check_path(e, t, err) < 0 || check_type(spec, e, err) < 0) {
		enc_config_free(e);
		return -1;
	}
	*out = e;
	return 0;
}

json_t *enc_config_to_json(const struct enc_config *e)
{
	return json_pack("{s:s,s:s,s:s,s:s}", "type", e->type, "path", e->path, "args",
			 e->args ? e->args : "", "loglevel", e->loglevel);
}

struct enc_config *enc_config_from_json(json_t *j, struct cc_error **err)
{
	const char *type, *path, *args, *level;
	if (json_unpack(j, "{s:s,s:s,s:s,s:s}", "type", &type, "path", &path, "args", &args,
			"loglevel", &level) < 0) {
		cc_error_set(err, 0, "state: malformed enclave configuration");
		return NULL;
	}
	struct enc_config *e = config_new();
	e->type = xstrdup(type);
	e->path = xstrdup(path);
	e->args = xstrdup(args);
	e->loglevel = xstrdup(level);
	return e;
}

/* ---- intelSgx: devices and the aesmd socket ---- */

/* The SGX device nodes of the in-tree driver, the DCAP and the legacy out-of-tree drivers. */
static const char *const sgx_devices[] = { "sgx_enclave",   "sgx/enclave", "sgx_provision",
					   "sgx/provision", "isgx",	   "gsgx" };

static bool spec_has_device(const struct rt_spec *spec, const char *path)
{
	for (size_t i = 0; i < spec->linux.n_devices; i++)
		if (!strcmp(spec->linux.devices[i].path, path))
			return true;
	return false;
}

static void add_device(struct rt_spec *spec, const char *path, const struct stat *st)
{
	struct rt_linux *l = &spec->linux;
	l->devices = xrealloc(l->devices, (l->n_devices + 1) * sizeof(*l->devices));
	l->devices[l->n_devices++] = (struct rt_device){
		.type = 'c',
		.path = xstrdup(path),
		.major = major(st->st_rdev),
		.minor = minor(st->st_rdev),
		.has_file_mode = true,
		.file_mode = st->st_mode & 07777,
		.has_uid = true,
		.has_gid = true,
	};
	struct rt_resources *r = &l->resources;
	r->devices = xrealloc(r->devices, (r->n_devices + 1) * sizeof(*r->devices));
	r->devices[r->n_devices++] = (struct rt_device_rule){
		.allow = true,
		.type = 'c',
		.major = major(st->st_rdev),
		.minor = minor(st->st_rdev),
		.access = "rwm",
	};
}

static bool spec_mounts(const struct rt_spec *spec, const char *dest)
{
	for (size_t i = 0; i < spec->n_mounts; i++)
		if (!strcmp(spec->mounts[i].destination, dest))
			return true;
	return false;
}

static void add_aesmd_mount(struct rt_spec *spec, const char *dir)
{
	spec->mounts = xrealloc(spec->mounts, (spec->n_mounts + 1) * sizeof(*spec->mounts));
	char **options = NULL;
	cc_strv_push(&options, "rbind");
	cc_strv_push(&options, "rprivate");
	spec->mounts[spec->n_mounts++] = (struct rt_mount){
		.destination = xstrdup("/var/run/aesmd"),
		.type = xstrdup("bind"),
		.source = xstrdup(dir),
		.options = options,
		.flags = MS_BIND | MS_REC,
		.propagation = MS_PRIVATE | MS_REC,
		.bind = true,
	};
}

int enc_add_sgx(struct rt_spec *spec, const char *devroot, const char *aesmd_dir,
		struct cc_error **err)
{
	for (size_t i = 0; i < ARRAY_SIZE(sgx_devices); i++) {
		_cleanup_free_ char *host = cc_path_join(devroot, sgx_devices[i]);
		_cleanup_free_ char *dest = cc_path_join("/dev", sgx_devices[i]);
		struct stat st;
		/* The /dev/sgx entries may be symlinks to the real nodes; the node goes where the
		 * link is. */
		if (stat(host, &st) < 0 || !S_ISCHR(st.st_mode) || major(st.st_rdev) != 10 ||
		    spec_has_device(spec, dest))
			continue;
		add_device(spec, dest, &st);
	}
	struct stat st;
	if (aesmd_dir && stat(aesmd_dir, &st) == 0 && S_ISDIR(st.st_mode) &&
	    !spec_mounts(spec, "/var/run/aesmd") && !spec_mounts(spec, "/run/aesmd"))
		add_aesmd_mount(spec, aesmd_dir);
	(void)err;
	return 0;
}

/* ---- every enclave container: the attestation service ---- */

void enc_add_attest_mount(struct rt_spec *spec, const char *source)
{
	static const char *const opts[] = { "bind", "ro", "nosuid", "nodev", "noexec" };
	if (spec_mounts(spec, ENC_ATTEST_DIR))
		return;
	char **options = NULL;
	for (size_t i = 0; i < ARRAY_SIZE(opts); i++)
		cc_strv_push(&options, opts[i]);
	spec->mounts = xrealloc(spec->mounts, (spec->n_mounts + 1) * sizeof(*spec->mounts));
	spec->mounts[spec->n_mounts++] = (struct rt_mount){
		.destination = xstrdup(ENC_ATTEST_DIR),
		.type = xstrdup("bind"),
		.source = xstrdup(source),
		.options = options,
		.flags = MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
		.propagation = MS_PRIVATE,
		.bind = true,
	};
}
