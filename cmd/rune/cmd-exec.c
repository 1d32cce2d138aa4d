// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "rune.h"
#include "runtime/names.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/strv.h"

enum {
	O_CONSOLE = 1000,
	O_CWD,
	O_PID_FILE,
	O_LABEL,
	O_APPARMOR,
	O_NNP,
	O_PRESERVE,
	O_IGNORE_PAUSED,
	O_CGROUP
};

static const struct option opts[] = {
	{ "console-socket", required_argument, NULL, O_CONSOLE },
	{ "cwd", required_argument, NULL, O_CWD },
	{ "env", required_argument, NULL, 'e' },
	{ "tty", no_argument, NULL, 't' },
	{ "user", required_argument, NULL, 'u' },
	{ "additional-gids", required_argument, NULL, 'g' },
	{ "process", required_argument, NULL, 'p' },
	{ "detach", no_argument, NULL, 'd' },
	{ "pid-file", required_argument, NULL, O_PID_FILE },
	{ "process-label", required_argument, NULL, O_LABEL },
	{ "apparmor", required_argument, NULL, O_APPARMOR },
	{ "no-new-privs", no_argument, NULL, O_NNP },
	{ "cap", required_argument, NULL, 'c' },
	{ "preserve-fds", required_argument, NULL, O_PRESERVE },
	{ "ignore-paused", no_argument, NULL, O_IGNORE_PAUSED },
	{ "cgroup", required_argument, NULL, O_CGROUP },
	{ 0 },
};

struct exec_flags {
	const char *process_file, *cwd, *user;
	char **env, **caps, **gids;
	bool tty, nnp;
};

/* Replace or append NAME=value in env. */
static void env_set(char ***env, const char *kv)
{
	const char *eq = strchr(kv, '=');
	size_t klen = eq ? (size_t)(eq - kv) : strlen(kv);
	for (size_t i = 0; *env && (*env)[i]; i++)
		if (!strncmp((*env)[i], kv, klen) && (*env)[i][klen] == '=') {
			free((*env)[i]);
			(*env)[i] = xstrdup(kv);
			return;
		}
	cc_strv_push(env, kv);
}

static int apply_user(struct rt_process *p, const char *user)
{
	char *end;
	unsigned long uid = strtoul(user, &end, 10);
	if (end == user || (*end && *end != ':'))
		return cmd_failf("exec: --user \"%s\": expected uid[:gid]", user);
	p->user.uid = (uid_t)uid;
	if (*end == ':') {
		const char *g = end + 1;
		unsigned long gid = strtoul(g, &end, 10);
		if (end == g || *end)
			return cmd_failf("exec: --user \"%s\": expected uid[:gid]", user);
		p->user.gid = (gid_t)gid;
	}
	return 0;
}

static int apply_flags(struct rt_process *p, const struct exec_flags *f, char **args)
{
	if (args && args[0]) {
		cc_strv_free(p->args);
		p->args = cc_strv_dup(args);
	}
	for (size_t i = 0; f->env && f->env[i]; i++)
		env_set(&p->env, f->env[i]);
	if (f->cwd) {
		free(p->cwd);
		p->cwd = xstrdup(f->cwd);
	}
	if (f->tty)
		p->terminal = true;
	if (f->nnp)
		p->no_new_privileges = true;
	if (f->user && apply_user(p, f->user))
		return 1;
	for (size_t i = 0; f->caps && f->caps[i]; i++) {
		int cap = rt_cap_from_name(f->caps[i]);
		if (cap < 0)
			return cmd_failf("exec: unknown capability \"%s\"", f->caps[i]);
		uint64_t bit = 1ULL << cap;
		p->caps.present = true;
		p->caps.bounding |= bit;
		p->caps.effective |= bit;
		p->caps.permitted |= bit;
		/* Never inheritable (CVE-2022-29162); ambient only where the config already
		 * makes room for it with inheritable bits, as runc does. */
		if (p->caps.inheritable)
			p->caps.ambient |= bit;
	}
	if (f->gids) {
		size_t n = cc_strv_len(f->gids);
		free(p->user.additional_gids);
		p->user.additional_gids = xcalloc(n, sizeof(gid_t));
		p->user.n_additional_gids = n;
		for (size_t i = 0; i < n; i++) {
			char *end;
			errno = 0;
			unsigned long g = strtoul(f->gids[i], &end, 10);
			if (errno || end == f->gids[i] || *end || g > UINT32_MAX ||
			    f->gids[i][0] == '-')
				return cmd_failf("exec: --additional-gids \"%s\": not a gid",
						 f->gids[i]);
			p->user.additional_gids[i] = (gid_t)g;
		}
	}
	return 0;
}

static struct rt_process *load_process(struct rt_context *ctx, const char *id,
				       const struct exec_flags *f, char **args)
{
	struct cc_error *err = NULL;
	struct rt_process *p;
	if (f->process_file) {
		size_t len;
		_cleanup_free_ char *buf = cc_read_file(f->process_file, 0, &len, &err);
		p = buf ? rt_process_parse(f->process_file, buf, len, &err) : NULL;
	} else {
		if (!args || !args[0]) {
			cmd_failf("exec: arguments: the command to run is missing");
			return NULL;
		}
		p = rt_exec_default_process(ctx, id, &err);
		if (p) {
			/* runc does not carry the container's terminal setting into exec. */
			p->terminal = false;
		}
	}
	if (!p) {
		cmd_fail(err);
		return NULL;
	}
	if (apply_flags(p, f, f->process_file ? NULL : args)) {
		rt_process_free(p);
		return NULL;
	}
	return p;
}

static int exec_main(struct rt_context *ctx, int argc, char **argv)
{
	struct rt_exec_opts o = { 0 };
	struct exec_flags f = { 0 };
	struct cc_error *err = NULL;
	char *end;
	int c, status = 0;
	while ((c = cmd_getopt(&cmd_exec, argc, argv, "e:tu:g:p:dc:", opts)) != -1) {
		switch (c) {
		case O_CONSOLE:
			o.console_socket = optarg;
			break;
		case O_CWD:
			f.cwd = optarg;
			break;
		case 'e':
			cc_strv_push(&f.env, optarg);
			break;
		case 't':
			f.tty = true;
			break;
		case 'u':
			f.user = optarg;
			break;
		case 'g':
			cc_strv_push(&f.gids, optarg);
			break;
		case 'p':
			f.process_file = optarg;
			break;
		case 'd':
			o.detach = true;
			break;
		case O_PID_FILE:
			o.pid_file = optarg;
			break;
		case O_NNP:
			f.nnp = true;
			break;
		case 'c':
			cc_strv_push(&f.caps, optarg);
			break;
		case O_IGNORE_PAUSED:
			o.ignore_paused = true;
			break;
		case O_PRESERVE:
			o.preserve_fds = (unsigned)strtoul(optarg, &end, 10);
			if (*end || o.preserve_fds > 4096)
				return cmd_failf("--preserve-fds: invalid number \"%s\"", optarg);
			break;
		default:
			break;
		}
	}
	cmd_require_args(&cmd_exec, argc, -1);
	o.id = argv[optind];
	o.process = load_process(ctx, o.id, &f, argv + optind + 1);
	cc_strv_free(f.env);
	cc_strv_free(f.caps);
	cc_strv_free(f.gids);
	if (!o.process)
		return 255;
	int ret = rt_container_exec(ctx, &o, &status, &err);
	rt_process_free(o.process);
	if (ret < 0) {
		/* runc's contract: 255 when the exec itself failed, so callers can tell it from
		 * the process's own exit status. */
		cmd_fail(err);
		return 255;
	}
	return status;
}

const struct rune_cmd cmd_exec = {
	"exec", "execute new process inside the container",
	"[options] <container-id> <command> [command options]",
	"   --console-socket value   AF_UNIX socket that receives the pty master\n"
	"   --cwd value              current working directory in the container\n"
	"   --env value, -e value    set an environment variable (repeatable)\n"
	"   --tty, -t                allocate a pseudo-TTY\n"
	"   --user value, -u value   UID[:GID]\n"
	"   --additional-gids value, -g value  additional gids (repeatable)\n"
	"   --process value, -p value  path to a process.json\n"
	"   --detach, -d             detach from the process\n"
	"   --pid-file value         file to write the process id to\n"
	"   --no-new-privs           set no_new_privs\n"
	"   --cap value, -c value    add a capability (repeatable)\n"
	"   --preserve-fds value     pass N extra fds (from 3)\n"
	"   --ignore-paused          allow exec in a paused container\n",
	exec_main
};
