// SPDX-License-Identifier: Apache-2.0
/* Enclave Runtime PAL loader and calls. See pal.h. */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "enclave/pal_api.h"
#include "enclave/pal.h"
#include "util/cleanup.h"

struct enc_pal {
	void *handle;
	char *path;
	int version;
	pal_init_v1_fn init_v1;
	pal_init_v3_fn init_v3;
	pal_exec_v1_fn exec_v1;
	pal_create_process_fn create_process;
	pal_exec_v2_fn exec_v2;
	pal_kill_fn kill;
	pal_destroy_fn destroy;
	pal_get_local_report_fn get_local_report;
};

int enc_pal_version(const struct enc_pal *p)
{
	return p->version;
}

void enc_pal_unload(struct enc_pal *p)
{
	if (!p)
		return;
	if (p->handle)
		dlclose(p->handle);
	free(p->path);
	free(p);
}

/* A PAL call's negative result as a message: -errno values are named. */
static int pal_failed(struct enc_pal *p, const char *call, int ret, struct cc_error **err)
{
	if (ret < 0 && ret > -4096)
		return cc_error_set(err, -ret, "enclave runtime %s: %s failed with %d", p->path,
				    call, ret);
	return cc_error_set(err, 0, "enclave runtime %s: %s failed with %d", p->path, call, ret);
}

static void *need(struct enc_pal *p, const char *name, struct cc_error **err)
{
	void *f = dlsym(p->handle, name);
	if (!f)
		cc_error_set(err, 0, "enclave runtime %s: PAL API v%d needs the symbol %s", p->path,
			     p->version, name);
	return f;
}

/* dlopen file; messages name the PAL by path. */
static struct enc_pal *load(const char *file, const char *path, struct cc_error **err)
{
	struct enc_pal *p = xzalloc(sizeof(*p));
	p->path = xstrdup(path);
	p->handle = dlopen(file, RTLD_NOW | RTLD_LOCAL);
	if (!p->handle) {
		const char *why = dlerror();
		cc_error_set(err, 0, "enclave runtime %s: cannot load: %s", path,
			     why ? why : "unknown error");
		enc_pal_unload(p);
		return NULL;
	}
	pal_get_version_fn get_version = (pal_get_version_fn)dlsym(p->handle, "pal_get_version");
	p->version = get_version ? get_version() : 1; /* v1 PALs may not have it */
	if (p->version < 1 || p->version > PAL_API_VERSION_MAX) {
		cc_error_set(err, 0,
			     "enclave runtime %s: unsupported PAL API version %d (rune supports 1 "
			     "to %d)",
			     path, p->version, PAL_API_VERSION_MAX);
		enc_pal_unload(p);
		return NULL;
	}
	void *init = need(p, "pal_init", err);
	void *exec = init ? need(p, "pal_exec", err) : NULL;
	void *destroy = exec ? need(p, "pal_destroy", err) : NULL;
	void *create = destroy && p->version >= 2 ? need(p, "pal_create_process", err) : NULL;
	if (!destroy || (p->version >= 2 && !create)) {
		enc_pal_unload(p);
		return NULL;
	}
	if (p->version >= 3)
		p->init_v3 = (pal_init_v3_fn)init;
	else
		p->init_v1 = (pal_init_v1_fn)init;
	if (p->version == 1) {
		p->exec_v1 = (pal_exec_v1_fn)exec;
	} else {
		p->exec_v2 = (pal_exec_v2_fn)exec;
		p->create_process = (pal_create_process_fn)create;
		p->kill = (pal_kill_fn)dlsym(p->handle, "pal_kill"); /* optional */
	}
	if (p->version >= 3)
		p->get_local_report =
		    (pal_get_local_report_fn)dlsym(p->handle, "pal_get_local_report");
	p->destroy = (pal_destroy_fn)destroy;
	return p;
}

struct enc_pal *enc_pal_load(const char *path, struct cc_error **err)
{
	return load(path, path, err);
}

struct enc_pal *enc_pal_load_fd(int fd, const char *path, struct cc_error **err)
{
	char file[64];
	snprintf(file, sizeof(file), "/proc/self/fd/%d", fd);
	return load(file, path, err);
}

int enc_pal_init(struct enc_pal *p, const char *args, const char *log_level, struct cc_error **err)
{
	struct pal_attr_v3 attr = { .attr_v1 = { .args = args ? args : "",
						 .log_level = log_level ? log_level : "info" },
				    .fd = -1,
				    .addr = 0 };
	int ret = p->init_v3 ? p->init_v3(&attr) : p->init_v1(&attr.attr_v1);
	return ret < 0 ? pal_failed(p, "pal_init", ret, err) : 0;
}

int enc_pal_create_process(struct enc_pal *p, const char *path, char *const argv[],
			   char *const env[], const int stdio[3], int *pid, struct cc_error **err)
{
	struct pal_stdio_fds fds = { stdio[0], stdio[1], stdio[2] };
	*pid = -1;
	if (p->version == 1)
		return cc_error_set(err, ENOSYS,
				    "enclave runtime %s: PAL API v1 has no pal_create_process",
				    p->path);
	struct pal_create_process_args cargs = { .path = path,
						 .argv = (const char **)argv,
						 .env = (const char **)env,
						 .stdio = &fds,
						 .pid = pid };
	int ret = p->create_process(&cargs);
	return ret < 0 ? pal_failed(p, "pal_create_process", ret, err) : 0;
}

int enc_pal_exec(struct enc_pal *p, int pid, int *exit_value, struct cc_error **err)
{
	struct pal_exec_args eargs = { .pid = pid, .exit_value = exit_value };
	*exit_value = 0;
	int ret = p->exec_v2(&eargs);
	return ret < 0 ? pal_failed(p, "pal_exec", ret, err) : 0;
}

int enc_pal_run(struct enc_pal *p, const char *path, char *const argv[], char *const env[],
		const int stdio[3], int *exit_value, struct cc_error **err)
{
	*exit_value = 0;
	if (p->version == 1) {
		struct pal_stdio_fds fds = { stdio[0], stdio[1], stdio[2] };
		int ret = p->exec_v1(path, (const char *const *)argv, &fds, exit_value);
		return ret < 0 ? pal_failed(p, "pal_exec", ret, err) : 0;
	}
	int pid;
	if (enc_pal_create_process(p, path, argv, env, stdio, &pid, err) < 0)
		return -1;
	return enc_pal_exec(p, pid, exit_value, err);
}

int enc_pal_local_report(struct enc_pal *p, const void *target_info, void *report,
			 struct cc_error **err)
{
	if (!p->get_local_report)
		return cc_error_set(err, ENOSYS,
				    "enclave runtime %s: no pal_get_local_report (PAL API v%d; "
				    "reports need v3)",
				    p->path, p->version);
	uint8_t ti[PAL_TARGETINFO_SIZE];
	memcpy(ti, target_info, sizeof(ti));
	int len = PAL_REPORT_SIZE;
	int ret = p->get_local_report(ti, (int)sizeof(ti), report, &len);
	if (ret < 0)
		return pal_failed(p, "pal_get_local_report", ret, err);
	if (len != PAL_REPORT_SIZE)
		return cc_error_set(err, 0,
				    "enclave runtime %s: pal_get_local_report returned %d bytes, "
				    "not %d",
				    p->path, len, PAL_REPORT_SIZE);
	return 0;
}

int enc_pal_kill(struct enc_pal *p, int pid, int sig, struct cc_error **err)
{
	if (!p->kill)
		return cc_error_set(err, ENOSYS,
				    "enclave runtime %s: the PAL exports no pal_kill%s", p->path,
				    p->version == 1 ? " (PAL API v1 has none)" : "");
	int ret = p->kill(pid, sig);
	return ret < 0 ? pal_failed(p, "pal_kill", ret, err) : 0;
}

int enc_pal_destroy(struct enc_pal *p, struct cc_error **err)
{
	int ret = p->destroy();
	return ret < 0 && ret != -ENOSYS ? pal_failed(p, "pal_destroy", ret, err) : 0;
}
