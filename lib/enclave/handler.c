// SPDX-License-Identifier: Apache-2.0
/* Enclave containers as a container handler of the runtime (runtime/handler.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include "enclave/client.h"
#include "enclave/enclave.h"

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
	*data = e;
	return e != NULL;
}

/* agent.sock, for rune exec and rune attest, is bound through /proc/self/fd so that a long
 * --root cannot overflow sun_path. Only the owner may connect. */
static int prepare(void *data, int dirfd, const char *dir, struct cc_error **err)
{
	struct enc_config *e = data;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/agent.sock", dirfd);
	e->agent_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (e->agent_fd < 0)
		return cc_error_errno(err, "agent socket");
	if (bind(e->agent_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    fchmodat(dirfd, "agent.sock", 0600, 0) < 0 || listen(e->agent_fd, 64) < 0)
		return cc_error_errno(err, "agent socket %s/agent.sock", dir);
	return 0;
}

static json_t *save(const void *data)
{
	return enc_config_to_json(data);
}

static int before_pivot(void *data, const struct init_args *a, struct cc_error **err)
{
	return enc_init_load(data, a, err);
}

static __attribute__((noreturn)) void run(void *data, const struct init_args *a, bool seccomp_done)
{
	enc_init_run(data, a, seccomp_done);
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
	enc_config_free(data);
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
