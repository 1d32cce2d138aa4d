// SPDX-License-Identifier: Apache-2.0
/* Unit tests for the enclave configuration (lib/enclave/config.c), the PAL trust rules
 * (lib/enclave/trust.c) and the agent.sock message protocol (lib/enclave/msg.c). */
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include "enclave/msg.h"
#include "enclave/enclave.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/strv.h"

/* A spec with these env entries and annotations (a JSON object text, may be NULL). The PAL
 * path placeholder @PAL@ becomes an existing regular file. */
static struct rt_spec *spec_with(const char *env_json, const char *annotations)
{
	struct cc_error *err = NULL;
	_cleanup_free_ char *text = xasprintf(
	    "{\"ociVersion\":\"1.0.2\",\"root\":{\"path\":\"rootfs\"},"
	    "\"process\":{\"cwd\":\"/\",\"args\":[\"sh\"],\"env\":%s},"
	    "\"linux\":{\"namespaces\":[{\"type\":\"mount\"}]}%s%s}",
	    env_json, annotations ? ",\"annotations\":" : "", annotations ? annotations : "");
	struct rt_spec *s = rt_spec_parse("config.json", text, strlen(text), &err);
	if (!s)
		fail_msg("%s", err->msg);
	return s;
}

/* The system's programs stand in for PALs here: /usr is an allowed directory. */
static char *usr_dirs[] = { (char *)"/usr", NULL };
static const struct enc_trust usr_trust = { .dirs = usr_dirs };

static struct enc_config *config_ok(struct rt_spec *s)
{
	struct cc_error *err = NULL;
	struct enc_config *e = NULL;
	if (enc_config_from_spec(s, &usr_trust, &e, &err) < 0)
		fail_msg("%s", err->msg);
	return e;
}

static char *config_error(const char *env_json, const char *annotations)
{
	struct cc_error *err = NULL;
	struct enc_config *e = NULL;
	struct rt_spec *s = spec_with(env_json, annotations);
	assert_int_equal(enc_config_from_spec(s, &usr_trust, &e, &err), -1);
	assert_null(e);
	rt_spec_free(s);
	char *msg = xstrdup(err->msg);
	cc_error_free(&err);
	return msg;
}

static void test_config_from_env(void **state)
{
	struct rt_spec *s = spec_with("[\"A=1\",\"ENCLAVE_TYPE=simulated\","
				      "\"ENCLAVE_RUNTIME_PATH=/bin/../bin/sh\","
				      "\"ENCLAVE_RUNTIME_ARGS=a,b,,c\",\"B=2\","
				      "\"ENCLAVE_RUNTIME_LOGLEVEL=debug\"]",
				      NULL);
	struct enc_config *e = config_ok(s);
	assert_non_null(e);
	assert_string_equal(e->type, "simulated");
	char real[4096];
	assert_non_null(realpath("/bin/sh", real));
	assert_string_equal(e->path, real); /* resolved on the host */
	assert_string_equal(e->args, "a b  c");
	assert_string_equal(e->loglevel, "debug");
	/* The payload keeps its own variables only. */
	_cleanup_free_ char *env = cc_strv_join(s->process->env, " ");
	assert_string_equal(env, "A=1 B=2");
	enc_config_free(e);
	rt_spec_free(s);
}

static void test_env_wins_and_short_values_fall_back(void **state)
{
	struct rt_spec *s =
	    spec_with("[\"ENCLAVE_TYPE=simulated\",\"ENCLAVE_RUNTIME_ARGS=x\","
		      "\"ENCLAVE_RUNTIME_PATH=/bin/sh\",\"ENCLAVE_RUNTIME_LOGLEVEL=\"]",
		      "{\"enclave.type\":\"intelSgx\",\"enclave.runtime.args\":\"from,ann\","
		      "\"enclave.runtime.path\":\"/nonexistent\","
		      "\"enclave.runtime.loglevel\":\"shouting\"}");
	struct enc_config *e = config_ok(s);
	assert_string_equal(e->type, "simulated");
	assert_string_equal(e->args, "from ann");
	assert_string_equal(e->loglevel, "info"); /* unknown levels become info */
	assert_null(s->process->env[0]);	  /* the short and empty ones are removed too */
	enc_config_free(e);
	rt_spec_free(s);
}

static void test_annotations_only(void **state)
{
	struct rt_spec *s = spec_with("[\"X=y\"]", "{\"enclave.type\":\"simulated\","
						   "\"enclave.runtime.path\":\"/bin/sh\"}");
	struct enc_config *e = config_ok(s);
	assert_string_equal(e->path + strlen(e->path) - 2, "sh");
	assert_null(e->args);
	assert_string_equal(e->loglevel, "info");
	assert_string_equal(s->process->env[0], "X=y");
	enc_config_free(e);
	rt_spec_free(s);
}

static void test_no_type_no_enclave(void **state)
{
	struct rt_spec *s = spec_with("[\"ENCLAVE_RUNTIME_PATH=/bin/sh\",\"ENCLAVE_TYPE=s\"]",
				      "{\"enclave.runtime.path\":\"/bin/sh\"}");
	assert_null(config_ok(s));
	/* Not an enclave container: its environment is left alone. */
	assert_int_equal(cc_strv_len(s->process->env), 2);
	rt_spec_free(s);
}

static void test_config_errors(void **state)
{
	_cleanup_free_ char *a = config_error("[\"ENCLAVE_TYPE=simulated\"]", NULL);
	assert_string_equal(a, "enclave runtime path is not configured (set ENCLAVE_RUNTIME_PATH "
			       "or the enclave.runtime.path annotation)");
	_cleanup_free_ char *b =
	    config_error("[\"ENCLAVE_TYPE=simulated\",\"ENCLAVE_RUNTIME_PATH=/no/pal.so\"]", NULL);
	assert_string_equal(b, "enclave runtime path /no/pal.so: No such file or directory");
	_cleanup_free_ char *c =
	    config_error("[\"ENCLAVE_TYPE=simulated\",\"ENCLAVE_RUNTIME_PATH=pal.so\"]", NULL);
	assert_string_equal(c, "enclave runtime path pal.so: must be an absolute host path");
	_cleanup_free_ char *d =
	    config_error("[\"ENCLAVE_TYPE=simulated\",\"ENCLAVE_RUNTIME_PATH=/tmp\"]", NULL);
	assert_string_equal(d, "enclave runtime path /tmp: not a regular file");
	_cleanup_free_ char *f =
	    config_error("[\"ENCLAVE_TYPE=Jailhouse\",\"ENCLAVE_RUNTIME_PATH=/bin/sh\"]", NULL);
	assert_string_equal(f, "enclave type Jailhouse is not supported (rune knows intelSgx and "
			       "simulated)");
	if (!enc_cpu_has_sgx()) {
		_cleanup_free_ char *g = config_error(
		    "[\"ENCLAVE_TYPE=intelSgx\",\"ENCLAVE_RUNTIME_PATH=/bin/sh\"]", NULL);
		assert_non_null(strstr(g, "enclave type intelSgx: this machine has no SGX"));
	}
}

/* ---- the PAL trust rules (trust.c) ---- */

static char *trust_error(const char *path, const struct enc_trust *t)
{
	struct cc_error *err = NULL;
	char *resolved = NULL;
	int fd = enc_trust_open(path, t, &resolved, &err);
	if (fd >= 0)
		fail_msg("%s was accepted", path);
	assert_null(resolved);
	char *msg = xstrdup(err->msg);
	cc_error_free(&err);
	return msg;
}

static void test_trust_rules(void **state)
{
	char dir[] = "/tmp/rune-trust-XXXXXX";
	assert_non_null(mkdtemp(dir));
	_cleanup_free_ char *rootfs = cc_path_join(dir, "rootfs");
	_cleanup_free_ char *pal = cc_path_join(rootfs, "x.so");
	_cleanup_free_ char *link = cc_path_join(dir, "link.so");
	_cleanup_free_ char *dotdot = xasprintf("/usr/../%s/rootfs/x.so", dir + 1);
	assert_int_equal(mkdir(rootfs, 0755), 0);
	assert_int_equal(cc_write_file(pal, "x", 1, 0644, NULL), 0);
	assert_int_equal(symlink(pal, link), 0);
	char *tmp_dirs[] = { dir, NULL };
	char *no_dirs[] = { (char *)"/nonexistent", (char *)"/usr/lib", NULL };

	/* Inside the rootfs: by its path, through "..", through a symlink from elsewhere. */
	const struct enc_trust in_rootfs = { .bundle = dir, .rootfs = rootfs, .dirs = tmp_dirs };
	_cleanup_free_ char *a = trust_error(pal, &in_rootfs);
	_cleanup_free_ char *want = xasprintf("enclave runtime path %s: lies inside the "
					      "container's rootfs (%s); a PAL is loaded on the "
					      "host and must come from the host",
					      pal, rootfs);
	assert_string_equal(a, want);
	_cleanup_free_ char *b = trust_error(dotdot, &in_rootfs);
	assert_non_null(strstr(b, "lies inside the container's rootfs"));
	_cleanup_free_ char *c = trust_error(link, &in_rootfs);
	_cleanup_free_ char *resolved = xasprintf("(resolved: %s): lies inside the container's "
						  "rootfs",
						  pal);
	assert_non_null(strstr(c, resolved));
	/* Inside the bundle. */
	const struct enc_trust in_bundle = { .bundle = dir, .dirs = tmp_dirs };
	_cleanup_free_ char *d = trust_error(pal, &in_bundle);
	assert_non_null(strstr(d, "lies inside the bundle"));
	/* Outside the allowed directories (a missing one is no match). */
	const struct enc_trust elsewhere = { .dirs = no_dirs };
	_cleanup_free_ char *e = trust_error(pal, &elsewhere);
	assert_non_null(strstr(e, ": not in an allowed directory (/nonexistent:/usr/lib); rune "
				  "--enclave-runtime-dirs sets them"));
	/* The file's owner and mode, then every directory's: /tmp is writable by all. */
	const struct enc_trust allowed = { .dirs = tmp_dirs };
	_cleanup_free_ char *f = trust_error(pal, &allowed);
	assert_non_null(strstr(f, geteuid() == 0 ? "directory /tmp is writable by group or others "
						   "(mode 1777)"
						 : "the file is owned by uid"));
	assert_int_equal(chmod(pal, 0664), 0);
	_cleanup_free_ char *g = trust_error(pal, &allowed);
	assert_non_null(strstr(g, geteuid() == 0 ? "the file is writable by group or others "
						   "(mode 0664)"
						 : "the file is owned by uid"));
	struct cc_error *err = NULL;
	assert_int_equal(cc_rm_rf(dir, &err), 0);
}

/* A system library passes every rule (root's, in root's directories) and the descriptor
 * returned is that very file, whatever happens to the path later. */
static void test_trust_accepts_a_system_library(void **state)
{
	static const char *const candidates[] = { "/usr/lib/x86_64-linux-gnu/libc.so.6",
						  "/usr/lib/aarch64-linux-gnu/libc.so.6",
						  "/usr/lib64/libc.so.6", "/lib/libc.so.6" };
	const char *lib = NULL;
	struct stat st, fst;
	for (size_t i = 0; i < ARRAY_SIZE(candidates) && !lib; i++)
		if (stat(candidates[i], &st) == 0)
			lib = candidates[i];
	if (!lib)
		skip();
	char *usr[] = { (char *)"/usr", (char *)"/lib", NULL };
	const struct enc_trust t = { .bundle = "/tmp", .rootfs = "/nonexistent", .dirs = usr };
	struct cc_error *err = NULL;
	_cleanup_free_ char *resolved = NULL;
	int fd = enc_trust_open(lib, &t, &resolved, &err);
	if (fd < 0)
		fail_msg("%s", err->msg);
	char real[4096];
	assert_non_null(realpath(lib, real));
	assert_string_equal(resolved, real);
	assert_int_equal(fstat(fd, &fst), 0);
	assert_true(fst.st_ino == st.st_ino && fst.st_dev == st.st_dev);
	assert_int_equal(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	assert_int_equal(fcntl(fd, F_GETFL) & O_PATH, O_PATH);
	close(fd);
}

static void test_json_round_trip(void **state)
{
	struct cc_error *err = NULL;
	struct enc_config e = { (char *)"simulated", (char *)"/p.so", (char *)"a b",
				(char *)"warning" };
	_cleanup_json_ json_t *j = enc_config_to_json(&e);
	struct enc_config *back = enc_config_from_json(j, &err);
	assert_non_null(back);
	assert_string_equal(back->type, "simulated");
	assert_string_equal(back->path, "/p.so");
	assert_string_equal(back->args, "a b");
	assert_string_equal(back->loglevel, "warning");
	enc_config_free(back);
	_cleanup_json_ json_t *bad = json_pack("{s:s}", "type", "x");
	assert_null(enc_config_from_json(bad, &err));
	assert_string_equal(err->msg, "state: malformed enclave configuration");
	cc_error_free(&err);
}

/* ---- intelSgx devices: a fake /dev with nodes made by mknod (root only) ---- */

static void test_sgx_devices_and_aesmd(void **state)
{
	struct cc_error *err = NULL;
	if (geteuid() != 0) {
		printf("# skipped: making device nodes needs root\n");
		return;
	}
	char dev[] = "/tmp/rune-sgx-dev-XXXXXX";
	assert_non_null(mkdtemp(dev));
	_cleanup_free_ char *d1 = cc_path_join(dev, "sgx_enclave");
	_cleanup_free_ char *d2 = cc_path_join(dev, "sgx_provision");
	_cleanup_free_ char *d3 = cc_path_join(dev, "isgx");
	_cleanup_free_ char *sub = cc_path_join(dev, "sgx");
	_cleanup_free_ char *link = cc_path_join(dev, "sgx/provision");
	_cleanup_free_ char *aesmd = cc_path_join(dev, "aesmd");
	assert_int_equal(mknod(d1, S_IFCHR | 0600, makedev(10, 125)), 0);
	assert_int_equal(mknod(d2, S_IFCHR | 0660, makedev(10, 126)), 0);
	assert_int_equal(chmod(d2, 0660), 0);				/* whatever the umask */
	assert_int_equal(mknod(d3, S_IFCHR | 0600, makedev(11, 1)), 0); /* not major 10 */
	assert_int_equal(mkdir(sub, 0755), 0);
	assert_int_equal(symlink("../sgx_provision", link), 0);
	assert_int_equal(mkdir(aesmd, 0755), 0);

	/* The config already lists /dev/sgx_enclave: it is not added twice. */
	struct rt_spec *s = spec_with("[]", NULL);
	_cleanup_free_ char *text = xstrdup(
	    "{\"ociVersion\":\"1.0.2\",\"root\":{\"path\":\"r\"},\"process\":{\"cwd\":\"/\","
	    "\"args\":[\"sh\"]},\"linux\":{\"namespaces\":[{\"type\":\"mount\"}],\"devices\":"
	    "[{\"path\":\"/dev/sgx_enclave\",\"type\":\"c\",\"major\":10,\"minor\":125}]}}");
	rt_spec_free(s);
	s = rt_spec_parse("config.json", text, strlen(text), &err);
	assert_non_null(s);
	assert_int_equal(enc_add_sgx(s, dev, aesmd, &err), 0);
	assert_int_equal(s->linux.n_devices, 3);
	assert_string_equal(s->linux.devices[1].path, "/dev/sgx_provision");
	assert_string_equal(s->linux.devices[2].path, "/dev/sgx/provision"); /* at the link */
	assert_int_equal(s->linux.devices[2].major, 10);
	assert_int_equal(s->linux.devices[2].minor, 126);
	assert_int_equal(s->linux.devices[2].file_mode, 0660);
	assert_int_equal(s->linux.resources.n_devices, 2);
	assert_true(s->linux.resources.devices[0].allow);
	assert_string_equal(s->linux.resources.devices[0].access, "rwm");
	assert_int_equal(s->n_mounts, 1);
	assert_string_equal(s->mounts[0].destination, "/var/run/aesmd");
	assert_string_equal(s->mounts[0].source, aesmd);
	/* A second pass adds nothing: the devices and the mount are there now. */
	assert_int_equal(enc_add_sgx(s, dev, aesmd, &err), 0);
	assert_int_equal(s->linux.n_devices, 3);
	assert_int_equal(s->n_mounts, 1);
	rt_spec_free(s);
	assert_int_equal(cc_rm_rf(dev, &err), 0);
}

/* ---- the agent.sock protocol ---- */

static void test_message_decoding(void **state)
{
	struct cc_error *err = NULL;
	char **argv, **env;
	static const char ok[] = "{\"op\":\"exec\",\"argv\":[\"a b\",\"\\n\",\"\"],\"env\":"
				 "[\"K=v w\"]}";
	_cleanup_json_ json_t *m = enc_msg_parse(ok, strlen(ok), &err);
	assert_non_null(m);
	assert_int_equal(enc_msg_exec_decode(m, &argv, &env, &err), 0);
	assert_int_equal(cc_strv_len(argv), 3);
	assert_string_equal(argv[0], "a b");
	assert_string_equal(argv[1], "\n");
	assert_string_equal(argv[2], "");
	assert_string_equal(env[0], "K=v w");
	cc_strv_free(argv);
	cc_strv_free(env);

	static const struct {
		const char *text, *error;
	} bad[] = {
		{ "[1]", "agent message: not an object with an \"op\"" },
		{ "{\"op\":1}", "agent message: not an object with an \"op\"" },
		{ "{\"op\":\"exec\"", NULL },
		{ "{\"op\":\"exec\",\"op\":\"x\"}", NULL },
		{ "{\"op\":\"exec\",\"argv\":[],\"env\":[]}",
		  "agent message: \"argv\": a non-empty array of strings expected" },
		{ "{\"op\":\"exec\",\"argv\":[1],\"env\":[]}",
		  "agent message: \"argv\"[0]: invalid" },
		{ "{\"op\":\"exec\",\"argv\":[\"a\\u0000b\"],\"env\":[]}", NULL },
		{ "{\"op\":\"exec\",\"argv\":[\"\"],\"env\":[]}",
		  "agent message: \"argv\"[0]: empty program" },
		{ "{\"op\":\"exec\",\"argv\":[\"sh\"],\"env\":[\"NOEQUALS\"]}",
		  "agent message: \"env\"[0]: invalid" },
		{ "{\"op\":\"exec\",\"argv\":[\"sh\"],\"env\":[\"=x\"]}",
		  "agent message: \"env\"[0]: invalid" },
		{ "{\"op\":\"exec\",\"argv\":[\"sh\"]}",
		  "agent message: \"env\": a array of strings expected" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		json_t *j = enc_msg_parse(bad[i].text, strlen(bad[i].text), &err);
		if (j) {
			assert_int_equal(enc_msg_exec_decode(j, &argv, &env, &err), -1);
			assert_null(argv);
			json_decref(j);
		}
		assert_non_null(err);
		if (bad[i].error)
			assert_string_equal(err->msg, bad[i].error);
		cc_error_free(&err);
	}
}

static void test_hex_fields(void **state)
{
	struct cc_error *err = NULL;
	uint8_t in[4] = { 0x00, 0xab, 0x10, 0xff }, out[4];
	_cleanup_json_ json_t *m = json_pack("{s:s}", "op", "attest");
	enc_msg_set_hex(m, "x", in, sizeof(in));
	assert_string_equal(json_string_value(json_object_get(m, "x")), "00ab10ff");
	assert_int_equal(enc_msg_hex_field(m, "x", out, sizeof(out), false, &err), 0);
	assert_memory_equal(in, out, sizeof(in));
	assert_int_equal(enc_msg_hex_field(m, "missing", out, sizeof(out), true, &err), 0);
	assert_int_equal(enc_msg_hex_field(m, "x", out, 3, false, &err), -1);
	assert_string_equal(err->msg, "agent message: \"x\": 6 hex digits expected");
	cc_error_free(&err);
	json_object_set_new(m, "y", json_string("0g"));
	assert_int_equal(enc_msg_hex_field(m, "y", out, 1, false, &err), -1);
	assert_string_equal(err->msg, "agent message: \"y\": not hex");
	cc_error_free(&err);
}

static void test_send_receive(void **state)
{
	struct cc_error *err = NULL;
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	/* A big message with descriptors: they arrive with it, the body in several reads. */
	_cleanup_free_ char *big = xmalloc(3 << 20);
	memset(big, 'x', (3 << 20) - 1);
	big[(3 << 20) - 1] = '\0';
	_cleanup_json_ json_t *m = json_pack("{s:s,s:[s],s:[]}", "op", "exec", "argv", big, "env");
	int fds[3] = { 0, 1, 2 };
	pid_t pid = fork();
	if (pid == 0) {
		_exit(enc_msg_send(sv[0], m, fds, 3, &err) == 0 ? 0 : 1);
	}
	json_t *got = NULL;
	int rfds[ENC_MSG_MAX_FDS];
	size_t n = 0;
	assert_int_equal(enc_msg_recv(sv[1], &got, rfds, &n, &err), 1);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++)
		close(rfds[i]);
	assert_true(json_equal(got, m));
	json_decref(got);
	int status;
	waitpid(pid, &status, 0);
	assert_int_equal(status, 0);

	/* A length over the limit is refused before anything is allocated. */
	uint8_t huge[4] = { 0xff, 0xff, 0xff, 0x7f };
	assert_int_equal(write(sv[0], huge, 4), 4);
	assert_int_equal(enc_msg_recv(sv[1], &got, rfds, &n, &err), -1);
	assert_non_null(strstr(err->msg, "over the 4194304-byte limit"));
	cc_error_free(&err);

	/* A body cut short, then end of stream. */
	uint8_t cut[6] = { 10, 0, 0, 0, '{', '"' };
	assert_int_equal(write(sv[0], cut, sizeof(cut)), (ssize_t)sizeof(cut));
	close(sv[0]);
	assert_int_equal(enc_msg_recv(sv[1], &got, rfds, &n, &err), -1);
	assert_string_equal(err->msg, "agent message: truncated body");
	cc_error_free(&err);
	assert_int_equal(enc_msg_recv(sv[1], &got, rfds, &n, &err), 0);
	close(sv[1]);
}

/* ---- agent.sock receiving within limits (msg.c): growth, deadlines, the shared budget ---- */

#define MSG_MS 1000000LL

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* {"op":"pad","pad":"xxx..."}: a body of exactly len bytes (len > 21). */
static json_t *msg_of_size(size_t len)
{
	_cleanup_free_ char *pad = xmalloc(len - 20);
	memset(pad, 'x', len - 21);
	pad[len - 21] = '\0';
	return json_pack("{s:s,s:s}", "op", "pad", "pad", pad);
}

struct msg_writer {
	int sock;
	json_t *msg;
	int delay_ms;	 /* before sending */
	const char *raw; /* or these bytes, in pieces of piece bytes with pause_ms between */
	size_t raw_len, piece;
	int pause_ms;
};

static void *msg_writer_main(void *p)
{
	struct msg_writer *w = p;
	struct cc_error *err = NULL;
	usleep((useconds_t)w->delay_ms * 1000);
	if (w->msg && enc_msg_send(w->sock, w->msg, NULL, 0, &err) < 0)
		cc_error_free(&err);
	for (size_t off = 0; w->raw && off < w->raw_len; off += w->piece) {
		size_t n = w->raw_len - off < w->piece ? w->raw_len - off : w->piece;
		if (off)
			usleep((useconds_t)w->pause_ms * 1000);
		if (send(w->sock, w->raw + off, n, MSG_NOSIGNAL) < 0)
			break;
	}
	return NULL;
}

/* Receive on sv[1] what the writer sends on sv[0]; the result and how long it took. */
static int recv_from(struct msg_writer *w, int sock, const struct enc_msg_limits *lim, json_t **msg,
		     struct cc_error **err, int64_t *took_ms)
{
	pthread_t t;
	int fds[ENC_MSG_MAX_FDS];
	size_t n = 0;
	int64_t start = mono_ms();
	pthread_create(&t, NULL, msg_writer_main, w);
	int ret = enc_msg_recv_limited(sock, lim, msg, fds, &n, err);
	if (took_ms)
		*took_ms = mono_ms() - start;
	/* Unblock a writer the receiver stopped reading. */
	shutdown(sock, SHUT_RD);
	pthread_join(t, NULL);
	return ret;
}

struct stuck_recv {
	int sock;
	const struct enc_msg_limits *lim;
	int ret;
	struct cc_error *err;
	int64_t took_ms;
};

static void *stuck_recv_main(void *p)
{
	struct stuck_recv *r = p;
	json_t *msg = NULL;
	int fds[ENC_MSG_MAX_FDS];
	size_t n = 0;
	int64_t start = mono_ms();
	r->ret = enc_msg_recv_limited(r->sock, r->lim, &msg, fds, &n, &r->err);
	r->took_ms = mono_ms() - start;
	json_decref(msg);
	return NULL;
}

static size_t heap_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();
	return mi.uordblks + mi.hblkhd;
}

static void test_recv_grows_with_the_bytes(void **state)
{
	const struct enc_msg_limits lim = { .timeout_ns = 600 * MSG_MS };
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	struct stuck_recv r = { .sock = sv[1], .lim = &lim };
	/* 4 MiB announced, ten bytes sent: the receiver holds about what came. */
	uint8_t hdr[14] = { 0, 0, 0x40, 0, '{', '"', 'o', 'p', '"', ':', '"', 'x', '"', ',' };
	size_t before = heap_in_use();
	assert_int_equal(write(sv[0], hdr, sizeof(hdr)), (ssize_t)sizeof(hdr));
	pthread_t t;
	pthread_create(&t, NULL, stuck_recv_main, &r);
	usleep(250 * 1000);
	size_t during = heap_in_use();
	pthread_join(t, NULL);
	assert_true(during < before + (1u << 20));
	/* And it does not wait for the rest for ever. */
	assert_int_equal(r.ret, -1);
	assert_string_equal(r.err->msg, "agent message: not complete within 600 ms");
	assert_true(r.took_ms >= 550 && r.took_ms < 5000);
	cc_error_free(&r.err);
	close(sv[0]);
	close(sv[1]);
}

static void test_recv_deadlines(void **state)
{
	const struct enc_msg_limits lim = { .wait_ns = 200 * MSG_MS, .timeout_ns = 300 * MSG_MS };
	const struct enc_msg_limits later = { .timeout_ns = 300 * MSG_MS };
	struct cc_error *err = NULL;
	json_t *msg = NULL;
	int64_t took;
	int sv[2];

	/* Nothing comes: a request that must come soon after connecting. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	struct msg_writer quiet = { .sock = sv[0] };
	assert_int_equal(recv_from(&quiet, sv[1], &lim, &msg, &err, &took), -1);
	assert_string_equal(err->msg, "agent socket: no message within 200 ms");
	assert_true(took >= 150);
	cc_error_free(&err);
	close(sv[0]);
	close(sv[1]);

	/* Half a header, then nothing. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	struct msg_writer half = { .sock = sv[0], .raw = "\x10\x00", .raw_len = 2, .piece = 2 };
	assert_int_equal(recv_from(&half, sv[1], &lim, &msg, &err, &took), -1);
	assert_string_equal(err->msg, "agent message: not complete within 300 ms");
	cc_error_free(&err);
	close(sv[0]);
	close(sv[1]);

	/* A message in slow pieces that still makes it in time. */
	static const char slow[] = "\x0a\x00\x00\x00{\"op\":\"x\"}";
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	struct msg_writer pieces = {
		.sock = sv[0], .raw = slow, .raw_len = sizeof(slow) - 1, .piece = 5, .pause_ms = 60
	};
	assert_int_equal(recv_from(&pieces, sv[1], &lim, &msg, &err, NULL), 1);
	assert_string_equal(json_string_value(json_object_get(msg, "op")), "x");
	json_decref(msg);
	close(sv[0]);
	close(sv[1]);

	/* Without a wait limit a message may be long in coming (a kill during an exec). */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	struct msg_writer late = { .sock = sv[0],
				   .raw = slow,
				   .raw_len = sizeof(slow) - 1,
				   .piece = sizeof(slow),
				   .delay_ms = 500 };
	assert_int_equal(recv_from(&late, sv[1], &later, &msg, &err, &took), 1);
	assert_true(took >= 450);
	json_decref(msg);
	close(sv[0]);
	close(sv[1]);
}

static void test_recv_budget(void **state)
{
	struct enc_msg_budget b = { .max = 100u << 10 };
	const struct enc_msg_limits lim = { .timeout_ns = 5000 * MSG_MS, .budget = &b };
	struct cc_error *err = NULL;
	json_t *msg = NULL;
	int sv[2];

	/* 200 KiB would hold more than the free part plus the budget: refused, budget back. */
	_cleanup_json_ json_t *big = msg_of_size(200u << 10);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	struct msg_writer w = { .sock = sv[0], .msg = big };
	assert_int_equal(recv_from(&w, sv[1], &lim, &msg, &err, NULL), -1);
	assert_string_equal(
	    err->msg, "agent message: 204800 bytes: the agent is busy receiving other messages");
	cc_error_free(&err);
	assert_int_equal(atomic_load(&b.held), 0);
	close(sv[0]);
	close(sv[1]);

	/* 150 KiB fits; what it held is given back. */
	_cleanup_json_ json_t *mid = msg_of_size(150u << 10);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	w = (struct msg_writer){ .sock = sv[0], .msg = mid };
	assert_int_equal(recv_from(&w, sv[1], &lim, &msg, &err, NULL), 1);
	assert_true(json_equal(msg, mid));
	json_decref(msg);
	assert_int_equal(atomic_load(&b.held), 0);
	close(sv[0]);
	close(sv[1]);

	/* While others hold the whole budget, a request of ordinary size still passes: it
	 * stays within the free part. A bigger one does not. */
	atomic_store(&b.held, b.max);
	_cleanup_json_ json_t *small = msg_of_size(60u << 10);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	w = (struct msg_writer){ .sock = sv[0], .msg = small };
	assert_int_equal(recv_from(&w, sv[1], &lim, &msg, &err, NULL), 1);
	json_decref(msg);
	close(sv[0]);
	close(sv[1]);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	w = (struct msg_writer){ .sock = sv[0], .msg = mid };
	assert_int_equal(recv_from(&w, sv[1], &lim, &msg, &err, NULL), -1);
	assert_non_null(strstr(err->msg, "busy"));
	cc_error_free(&err);
	assert_int_equal(atomic_load(&b.held), b.max);
	close(sv[0]);
	close(sv[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_from_env),
		cmocka_unit_test(test_env_wins_and_short_values_fall_back),
		cmocka_unit_test(test_annotations_only),
		cmocka_unit_test(test_no_type_no_enclave),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_trust_rules),
		cmocka_unit_test(test_trust_accepts_a_system_library),
		cmocka_unit_test(test_json_round_trip),
		cmocka_unit_test(test_sgx_devices_and_aesmd),
		cmocka_unit_test(test_message_decoding),
		cmocka_unit_test(test_hex_fields),
		cmocka_unit_test(test_send_receive),
		/* agent.sock receiving within limits */
		cmocka_unit_test(test_recv_grows_with_the_bytes),
		cmocka_unit_test(test_recv_deadlines),
		cmocka_unit_test(test_recv_budget),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
