// SPDX-License-Identifier: Apache-2.0
/* Unit tests for the enclave configuration (lib/enclave/config.c), the PAL trust rules
 * (lib/enclave/trust.c) and the agent.sock message protocol (lib/enclave/msg.c). */
#include <fcntl.h>
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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
