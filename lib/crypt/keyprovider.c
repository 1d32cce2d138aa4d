// SPDX-License-Identifier: Apache-2.0
/* ocicrypt key providers: config, protocol JSON, running cmd providers. See keyprovider.h. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "crypt/keyprovider.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/strv.h"

extern char **environ;

#define CONFIG_MAX (1u << 20)
#define ARGS_MAX 64u
#define STDERR_KEEP 512u

/* ---- configuration ---- */

static int parse_cmd(const struct cc_json_reader *r, struct crypt_provider *p, const json_t *cmd,
		     const char *path)
{
	_cleanup_free_ char *prog = NULL;
	_cleanup_strv_ char **args = NULL;

	if (cc_json_expect(r, cmd, path, JSON_OBJECT) < 0 ||
	    cc_json_str(r, cmd, path, "path", true, &prog) < 0)
		return -1;
	if (!*prog) {
		_cleanup_free_ char *pp = cc_json_key_path(path, "path");
		return cc_json_fail(r, pp, "must not be empty");
	}
	if (cc_json_strv(r, cmd, path, "args", ARGS_MAX, &args) < 0)
		return -1;
	size_t n = args ? cc_strv_len(args) : 0;
	p->argv = xcalloc(n + 2, sizeof(char *));
	p->argv[0] = steal_pointer(&prog);
	for (size_t i = 0; i < n; i++)
		p->argv[i + 1] = steal_pointer(&args[i]);
	return 0;
}

/* Precedence as in ocicrypt-rs: cmd, grpc, ttrpc, native. */
static int parse_provider(const struct cc_json_reader *r, struct crypt_provider *p, const json_t *v,
			  const char *path)
{
	static const char *const kinds[] = { "cmd", "grpc", "ttrpc", "native" };

	if (cc_json_expect(r, v, path, JSON_OBJECT) < 0)
		return -1;
	for (size_t k = 0; k < ARRAY_SIZE(kinds); k++) {
		if (!cc_json_has(v, kinds[k]))
			continue;
		p->kind = (enum crypt_provider_kind)k;
		if (k == 0) {
			_cleanup_free_ char *cp = cc_json_key_path(path, kinds[k]);
			return parse_cmd(r, p, json_object_get(v, kinds[k]), cp);
		}
		return cc_json_str(r, v, path, kinds[k], true, &p->address);
	}
	return cc_json_fail(r, path, "has none of cmd, grpc, ttrpc, native");
}

int crypt_provider_config_parse(const char *what, const void *buf, size_t len,
				struct crypt_provider_config *out, struct cc_error **err)
{
	const struct cc_json_reader r = { what, err };
	_cleanup_json_ json_t *j = NULL;
	const char *name;
	json_t *v, *kp;

	memset(out, 0, sizeof(*out));
	if (len > CONFIG_MAX)
		return cc_json_fail(&r, "", "larger than %u bytes", CONFIG_MAX);
	if (!(j = crypt_json_parse(what, buf, len, err)))
		return -1;
	if (cc_json_expect(&r, j, "", JSON_OBJECT) < 0)
		return -1;
	/* Absent is no provider; null, unlike elsewhere, is refused as it always was. */
	kp = json_object_get(j, "key-providers");
	if (kp && cc_json_expect(&r, kp, "key-providers", JSON_OBJECT) < 0)
		return -1;
	out->p = xcalloc(json_object_size(kp) + 1, sizeof(*out->p));
	json_object_foreach (kp, name, v) {
		struct crypt_provider *p = &out->p[out->n++];
		_cleanup_free_ char *path = cc_json_map_path("key-providers", name);
		p->name = xstrdup(name);
		if (parse_provider(&r, p, v, path) < 0) {
			crypt_provider_config_clear(out);
			return -1;
		}
	}
	return 0;
}

int crypt_provider_config_load(const char *path, struct crypt_provider_config *out,
			       struct cc_error **err)
{
	size_t len;

	memset(out, 0, sizeof(*out));
	if (!path)
		path = getenv("OCICRYPT_KEYPROVIDER_CONFIG");
	if (!path || !path[0])
		return 0;
	_cleanup_free_ char *buf = cc_read_file(path, CONFIG_MAX, &len, err);
	if (!buf)
		return cc_error_prefix(err, "key provider config");
	return crypt_provider_config_parse(path, buf, len, out, err);
}

const struct crypt_provider *crypt_provider_find(const struct crypt_provider_config *c,
						 const char *name)
{
	for (size_t i = 0; i < c->n; i++)
		if (!strcmp(c->p[i].name, name))
			return &c->p[i];
	return NULL;
}

void crypt_provider_config_clear(struct crypt_provider_config *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->p[i].name);
		for (char **a = c->p[i].argv; a && *a; a++)
			free(*a);
		free(c->p[i].argv);
		free(c->p[i].address);
	}
	free(c->p);
	memset(c, 0, sizeof(*c));
}

/* ---- running a cmd provider ---- */

struct child {
	pid_t pid;
	int in, out, errfd; /* our ends; -1 once closed */
	struct crypt_buf output;
	size_t out_cap;
	char errbuf[STDERR_KEEP + 1];
	size_t err_len;
	bool too_big;
};

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int spawn_child(const struct crypt_provider *p, struct child *c)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, er[2] = { -1, -1 }, r = -1;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, def;

	/* stdin is a socket so that writing to a provider that quit gives EPIPE via
	 * MSG_NOSIGNAL instead of a SIGPIPE for the whole process. */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) < 0 ||
	    pipe2(out, O_CLOEXEC) < 0 || pipe2(er, O_CLOEXEC) < 0)
		goto out;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[1], 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_adddup2(&fa, er[1], 2);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	sigemptyset(&def);
	sigaddset(&def, SIGPIPE);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &def);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	int e = strchr(p->argv[0], '/')
		    ? posix_spawn(&c->pid, p->argv[0], &fa, &attr, p->argv, environ)
		    : posix_spawnp(&c->pid, p->argv[0], &fa, &attr, p->argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (e != 0) {
		errno = e;
		goto out;
	}
	c->in = steal_fd(&in[0]);
	c->out = steal_fd(&out[0]);
	c->errfd = steal_fd(&er[0]);
	fcntl(c->in, F_SETFL, O_NONBLOCK);
	r = 0;
out:
	e = errno;
	for (int i = 0; i < 2; i++) {
		cc_closep(&in[i]);
		cc_closep(&out[i]);
		cc_closep(&er[i]);
	}
	errno = e;
	return r;
}

/* Append to the output, wiping the old buffer (the reply holds the layer key). */
static void out_append(struct child *c, const char *buf, size_t n)
{
	if (c->output.len + n > CRYPT_PROVIDER_OUTPUT_MAX) {
		c->too_big = true;
		return;
	}
	if (c->output.len + n + 1 > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap * 2 : 4096;
		while (cap < c->output.len + n + 1)
			cap *= 2;
		unsigned char *p = xmalloc(cap);
		if (c->output.len)
			memcpy(p, c->output.p, c->output.len);
		size_t len = c->output.len;
		crypt_buf_wipe(&c->output);
		c->output.p = p;
		c->output.len = len;
		c->out_cap = cap;
	}
	memcpy(c->output.p + c->output.len, buf, n);
	c->output.len += n;
	c->output.p[c->output.len] = 0;
}

/* One read from stdout or stderr; closes the fd at EOF. */
static void drain(struct child *c, int *fd, bool is_out)
{
	char buf[16384];
	ssize_t n = read(*fd, buf, sizeof(buf));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		cc_closep(fd);
		*fd = -1;
	} else if (is_out) {
		out_append(c, buf, (size_t)n);
	} else if (c->err_len < STDERR_KEEP) {
		size_t k =
		    (size_t)n < STDERR_KEEP - c->err_len ? (size_t)n : STDERR_KEEP - c->err_len;
		memcpy(c->errbuf + c->err_len, buf, k);
		c->err_len += k;
	}
	explicit_bzero(buf, sizeof(buf));
}

/* Feed the request and collect the output until both pipes close or time runs out.
 * 0: done; -1: timeout. */
static int exchange(struct child *c, const struct crypt_buf *req, long long deadline)
{
	size_t sent = 0;

	while (c->out >= 0 || c->errfd >= 0) {
		struct pollfd pf[3] = { { c->in, POLLOUT, 0 },
					{ c->out, POLLIN, 0 },
					{ c->errfd, POLLIN, 0 } };
		long long left = deadline - now_ms();
		if (left <= 0 || c->too_big)
			return -1;
		int r = poll(pf, 3, (int)(left > 1000 ? 1000 : left));
		if (r < 0 && errno != EINTR)
			return -1;
		if (c->in >= 0 && pf[0].revents) {
			ssize_t n = send(c->in, req->p + sent, req->len - sent, MSG_NOSIGNAL);
			if (n > 0)
				sent += (size_t)n;
			/* Done, or the provider stopped reading: it gets EOF either way. */
			if (sent == req->len || (n < 0 && errno != EAGAIN && errno != EINTR)) {
				cc_closep(&c->in);
				c->in = -1;
			}
		}
		if (c->out >= 0 && pf[1].revents)
			drain(c, &c->out, true);
		if (c->errfd >= 0 && pf[2].revents)
			drain(c, &c->errfd, false);
	}
	return 0;
}

/* Wait for the exit until the deadline; then kill. Returns the wait status or -1. */
static int reap(struct child *c, long long deadline, bool *killed)
{
	int status;

	*killed = false;
	for (;;) {
		pid_t r = waitpid(c->pid, &status, WNOHANG);
		if (r == c->pid)
			return status;
		if (r < 0 && errno != EINTR)
			return -1;
		if (now_ms() >= deadline)
			break;
		struct timespec ts = { 0, 5 * 1000000 };
		nanosleep(&ts, NULL);
	}
	*killed = true;
	kill(c->pid, SIGKILL);
	while (waitpid(c->pid, &status, 0) < 0 && errno == EINTR)
		;
	return -1;
}

/* First line of the provider's stderr, printable characters only. */
static const char *stderr_line(struct child *c)
{
	size_t n = 0;
	for (; n < c->err_len && c->errbuf[n] != '\n'; n++)
		if ((unsigned char)c->errbuf[n] < ' ' || (unsigned char)c->errbuf[n] > '~')
			c->errbuf[n] = '?';
	c->errbuf[n] = 0;
	return c->errbuf;
}

static int run_provider(const struct crypt_provider *p, const struct crypt_buf *req, int timeout_ms,
			struct crypt_buf *reply, struct cc_error **err)
{
	struct child c = { .in = -1, .out = -1, .errfd = -1 };
	long long deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : CRYPT_PROVIDER_TIMEOUT_MS);
	bool killed;
	int r = -1;

	if (spawn_child(p, &c) < 0)
		return cc_error_errno(err, "key provider %s: cannot run %s", p->name, p->argv[0]);
	int ex = exchange(&c, req, deadline);
	int status = reap(&c, ex < 0 ? 0 : deadline, &killed);
	if (c.too_big)
		cc_error_set(err, 0, "key provider %s: more than %u bytes of output", p->name,
			     CRYPT_PROVIDER_OUTPUT_MAX);
	else if (killed || ex < 0)
		cc_error_set(err, 0, "key provider %s: no answer within %d ms (killed)", p->name,
			     timeout_ms > 0 ? timeout_ms : CRYPT_PROVIDER_TIMEOUT_MS);
	else if (status < 0 || !WIFEXITED(status))
		cc_error_set(err, 0, "key provider %s: killed by signal %d", p->name,
			     status < 0 ? 0 : WTERMSIG(status));
	else if (WEXITSTATUS(status) != 0)
		cc_error_set(err, 0, "key provider %s: exited with status %d%s%s", p->name,
			     WEXITSTATUS(status), c.err_len ? ": " : "", stderr_line(&c));
	else
		r = 0;
	cc_closep(&c.in);
	cc_closep(&c.out);
	cc_closep(&c.errfd);
	if (r == 0) {
		*reply = c.output;
		c.output.p = NULL;
	}
	if (c.output.p)
		explicit_bzero(c.output.p, c.out_cap);
	crypt_buf_wipe(&c.output);
	return r;
}

/* ---- protocol ---- */

/* {"Parameters":{"<name>":["<b64 param>"]}}: Go marshals map[string][][]byte that way. */
static json_t *parameters(const struct crypt_provider *p, const char *param)
{
	const char *v = param ? param : "Enabled";
	_cleanup_wipe_str_ char *b64 = crypt_b64_encode(v, strlen(v), CRYPT_B64_STD);
	return json_pack("{s:{s:[s]}}", "Parameters", p->name, b64);
}

static int bytes_from_array(const json_t *a, size_t max, struct crypt_buf *out)
{
	size_t i, n = json_array_size(a);
	json_t *v;

	if (n > max)
		return -1;
	crypt_buf_wipe(out);
	out->p = xmalloc(n + 1);
	out->len = n;
	json_array_foreach (a, i, v) {
		json_int_t x = json_integer_value(v);
		if (!json_is_integer(v) || x < 0 || x > 255) {
			crypt_buf_wipe(out);
			return -1;
		}
		out->p[i] = (unsigned char)x;
	}
	out->p[n] = 0;
	return 0;
}

int crypt_provider_parse_reply(bool wrap, const void *json, size_t len, struct crypt_buf *out,
			       struct cc_error **err)
{
	const struct cc_json_reader r = { "reply", err };
	const char *res = wrap ? "keywrapresults" : "keyunwrapresults";
	const char *field = wrap ? "annotation" : "optsdata";
	size_t max = wrap ? CRYPT_ANNOTATION_MAX : CRYPT_OPTS_MAX;
	_cleanup_json_wipe_ json_t *j = crypt_json_parse("reply", json, len, err);
	int ret;

	if (!j || cc_json_expect(&r, j, "", JSON_OBJECT) < 0)
		return -1;
	json_t *o = cc_json_member(&r, j, "", res, JSON_OBJECT, true, &ret);
	if (!o)
		return ret;
	_cleanup_free_ char *p = cc_json_key_path(res, field);
	/* Go's providers send base64, Rust's an array of bytes. */
	json_t *v = json_object_get(o, field);
	if (json_is_string(v)) {
		if (json_string_length(v) > max * 2 ||
		    crypt_b64_decode(json_string_value(v), json_string_length(v), CRYPT_B64_STD,
				     out) < 0)
			return cc_json_fail(&r, p, "not valid base64");
	} else if (json_is_array(v)) {
		if (bytes_from_array(v, max, out) < 0)
			return cc_json_fail(&r, p, "not an array of bytes");
	} else if (!cc_json_has(o, field)) {
		return cc_json_fail(&r, p, "required");
	} else {
		return cc_json_fail(&r, p, "expected base64 string or array of bytes, got %s",
				    cc_json_type_name(v));
	}
	if (out->len == 0 || out->len > max) {
		crypt_buf_wipe(out);
		return cc_json_fail(&r, p, "empty or too large");
	}
	return 0;
}

static int call(const struct crypt_provider *p, json_t *req, bool wrap, int timeout_ms,
		struct crypt_buf *out, struct cc_error **err)
{
	_cleanup_wipe_ struct crypt_buf in = { 0 }, reply = { 0 };

	if (p->kind != CRYPT_PROVIDER_CMD)
		return cc_error_set(err, 0,
				    "key provider %s: %s providers are not supported (only "
				    "cmd)",
				    p->name,
				    p->kind == CRYPT_PROVIDER_GRPC    ? "grpc"
				    : p->kind == CRYPT_PROVIDER_TTRPC ? "ttrpc"
								      : "native");
	crypt_json_dump_secret(req, &in);
	if (run_provider(p, &in, timeout_ms, &reply, err) < 0)
		return -1;
	if (crypt_provider_parse_reply(wrap, reply.p, reply.len, out, err) < 0)
		return cc_error_prefix(err, "key provider %s", p->name);
	return 0;
}

int crypt_provider_unwrap(const struct crypt_provider *p, const char *param,
			  const unsigned char *blob, size_t len, int timeout_ms,
			  struct crypt_buf *opts, struct cc_error **err)
{
	_cleanup_free_ char *ann = crypt_b64_encode(blob, len, CRYPT_B64_STD);
	_cleanup_json_wipe_ json_t *req =
	    json_pack("{s:s, s:{s:n, s:n}, s:{s:o, s:s}}", "op", "keyunwrap", "keywrapparams", "ec",
		      "optsdata", "keyunwrapparams", "dc", parameters(p, param), "annotation", ann);

	if (!req)
		abort();
	return call(p, req, false, timeout_ms, opts, err);
}

int crypt_provider_wrap(const struct crypt_provider *p, const char *param,
			const unsigned char *opts, size_t len, int timeout_ms,
			struct crypt_buf *blob, struct cc_error **err)
{
	_cleanup_wipe_str_ char *data = crypt_b64_encode(opts, len, CRYPT_B64_STD);
	json_t *ec = parameters(p, param);
	json_object_set_new(ec, "DecryptConfig", json_pack("{s:{}}", "Parameters"));
	_cleanup_json_wipe_ json_t *req =
	    json_pack("{s:s, s:{s:o, s:s}, s:{s:n, s:n}}", "op", "keywrap", "keywrapparams", "ec",
		      ec, "optsdata", data, "keyunwrapparams", "dc", "annotation");

	if (!req)
		abort();
	return call(p, req, true, timeout_ms, blob, err);
}
