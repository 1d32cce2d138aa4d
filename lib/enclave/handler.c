// SPDX-License-Identifier: Apache-2.0
/* Enclave containers as a container handler of the runtime (runtime/handler.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/un.h>
#include <unistd.h>
#include "enclave/client.h"
#include "enclave/enclave.h"
#include "enclave/in-enclave.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"

/* What rune create keeps between configure and prepare: the configuration, and the spec that
 * prepare still adds the attestation mount to (the state directory, its source, does not
 * exist at configure). */
struct handler_data {
	struct enc_config *e;
	struct rt_spec *spec; /* not owned */
	char *rootfs;	      /* resolved */
};

static int configure(const struct rt_handler *h, struct rt_spec *spec, const char *bundle,
		     const char *rootfs, void **data, struct cc_error **err)
{
	const struct enc_options *o = h->options;
	const struct enc_trust t = { .bundle = bundle,
				     .rootfs = rootfs,
				     .dirs = o ? o->runtime_dirs : NULL };
	struct enc_config *e = NULL;
	if (enc_config_from_spec(spec, &t, &e, err) < 0)
		return -1;
	if (!e)
		return 0;
	struct handler_data *d = xzalloc(sizeof(*d));
	d->e = e;
	d->spec = spec;
	d->rootfs = xstrdup(rootfs);
	*data = d;
	return 1;
}

/* A listening socket bound at <dirfd>/name, through /proc/self/fd so that a long --root cannot
 * overflow sun_path. */
static int listen_at(int dirfd, const char *dir, const char *name, mode_t mode,
		     struct cc_error **err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%s", dirfd, name);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return cc_error_errno(err, "socket for %s/%s", dir, name);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    fchmodat(dirfd, name, mode, 0) < 0 || listen(fd, 64) < 0) {
		cc_error_errno(err, "socket %s/%s", dir, name);
		close(fd);
		return -1;
	}
	return fd;
}

/* Whether the init can make the mount point: it exists in the rootfs, a mount of the config
 * covers /run or /run/rune (it is made in there), or the rootfs is writable. A rootfs on a
 * read-only file system that has none ran before the service existed, and still runs. */
static bool mount_point_possible(const struct handler_data *d)
{
	_cleanup_free_ char *point = cc_path_join(d->rootfs, ENC_ATTEST_DIR);
	struct statvfs sv;
	struct stat st;
	if (stat(point, &st) == 0 && S_ISDIR(st.st_mode))
		return true;
	for (size_t i = 0; i < d->spec->n_mounts; i++) {
		const char *dest = d->spec->mounts[i].destination;
		if (!strcmp(dest, "/run") || !strcmp(dest, "/run/rune"))
			return true;
	}
	return statvfs(d->rootfs, &sv) < 0 || !(sv.f_flag & ST_RDONLY);
}

/*
 * The container's attestation service: <dir>/attestation (0755, rune's) holding attest.sock,
 * which any uid of the container may connect to (0666), bind-mounted read-only at
 * ENC_ATTEST_DIR. The mount source is absolute: the init binds it from the bundle directory.
 */
static int prepare_attestation(struct handler_data *d, int dirfd, const char *dir,
			       struct cc_error **err)
{
	char resolved[PATH_MAX];
	if (mkdirat(dirfd, "attestation", 0755) < 0 || fchmodat(dirfd, "attestation", 0755, 0) < 0)
		return cc_error_errno(err, "mkdir %s/attestation", dir);
	_cleanup_close_ int adfd =
	    openat(dirfd, "attestation", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (adfd < 0)
		return cc_error_errno(err, "open %s/attestation", dir);
	_cleanup_free_ char *sub = cc_path_join(dir, "attestation");
	d->e->attest_fd = listen_at(adfd, sub, "attest.sock", 0666, err);
	if (d->e->attest_fd < 0)
		return -1;
	if (!realpath(sub, resolved))
		return cc_error_errno(err, "%s", sub);
	if (mount_point_possible(d))
		enc_add_attest_mount(d->spec, resolved);
	else
		cc_warn("the rootfs %s is read-only and has no %s: the enclave's attestation "
			"service is not mounted in the container",
			d->rootfs, ENC_ATTEST_DIR);
	return 0;
}

/* agent.sock, for rune exec and rune attest: only the owner may connect. */
static int prepare(void *data, int dirfd, const char *dir, struct cc_error **err)
{
	struct handler_data *d = data;
	d->e->agent_fd = listen_at(dirfd, dir, "agent.sock", 0600, err);
	if (d->e->agent_fd < 0)
		return -1;
	return prepare_attestation(d, dirfd, dir, err);
}

static json_t *save(const void *data)
{
	const struct handler_data *d = data;
	return enc_config_to_json(d->e);
}

static int before_pivot(void *data, const struct init_args *a, struct cc_error **err)
{
	struct handler_data *d = data;
	return enc_init_load(d->e, a, err);
}

static __attribute__((noreturn)) void run(void *data, const struct init_args *a, bool seccomp_done)
{
	struct handler_data *d = data;
	enc_init_run(d->e, a, seccomp_done);
}

static pid_t exec_spawn(json_t *saved, const char *dir, pid_t init_pid, struct rt_process *p,
			int console_fd, struct cc_error **err)
{
	(void)saved;
	enc_strip_env(p->env);
	return enc_exec_spawn(dir, init_pid, p, console_fd, err);
}

static void free_data(void *data)
{
	struct handler_data *d = data;
	if (!d)
		return;
	enc_config_free(d->e);
	free(d->rootfs);
	free(d);
}

struct rt_handler enc_handler(const struct enc_options *o)
{
	return (struct rt_handler){
		.name = "enclave",
		.options = o,
		.configure = configure,
		.prepare = prepare,
		.save = save,
		.before_pivot = before_pivot,
		.run = run,
		.exec_spawn = exec_spawn,
		.free = free_data,
	};
}
