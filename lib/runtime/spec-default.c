// SPDX-License-Identifier: Apache-2.0
/* The configuration `rune spec` writes: the same defaults runc uses, hostname "rune". */
#include <string.h>
#include <unistd.h>
#include "runtime/spec.h"
#include "util/cleanup.h"
#include "util/json.h"

static const char default_spec[] =
    "{\n"
    "\t\"ociVersion\": \"1.0.2-dev\",\n"
    "\t\"process\": {\n"
    "\t\t\"terminal\": true,\n"
    "\t\t\"user\": {\n"
    "\t\t\t\"uid\": 0,\n"
    "\t\t\t\"gid\": 0\n"
    "\t\t},\n"
    "\t\t\"args\": [\n"
    "\t\t\t\"sh\"\n"
    "\t\t],\n"
    "\t\t\"env\": [\n"
    "\t\t\t\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\",\n"
    "\t\t\t\"TERM=xterm\"\n"
    "\t\t],\n"
    "\t\t\"cwd\": \"/\",\n"
    "\t\t\"capabilities\": {\n"
    "\t\t\t\"bounding\": [\n"
    "\t\t\t\t\"CAP_AUDIT_WRITE\",\n"
    "\t\t\t\t\"CAP_KILL\",\n"
    "\t\t\t\t\"CAP_NET_BIND_SERVICE\"\n"
    "\t\t\t],\n"
    "\t\t\t\"effective\": [\n"
    "\t\t\t\t\"CAP_AUDIT_WRITE\",\n"
    "\t\t\t\t\"CAP_KILL\",\n"
    "\t\t\t\t\"CAP_NET_BIND_SERVICE\"\n"
    "\t\t\t],\n"
    "\t\t\t\"permitted\": [\n"
    "\t\t\t\t\"CAP_AUDIT_WRITE\",\n"
    "\t\t\t\t\"CAP_KILL\",\n"
    "\t\t\t\t\"CAP_NET_BIND_SERVICE\"\n"
    "\t\t\t],\n"
    "\t\t\t\"ambient\": [\n"
    "\t\t\t\t\"CAP_AUDIT_WRITE\",\n"
    "\t\t\t\t\"CAP_KILL\",\n"
    "\t\t\t\t\"CAP_NET_BIND_SERVICE\"\n"
    "\t\t\t]\n"
    "\t\t},\n"
    "\t\t\"rlimits\": [\n"
    "\t\t\t{\n"
    "\t\t\t\t\"type\": \"RLIMIT_NOFILE\",\n"
    "\t\t\t\t\"hard\": 1024,\n"
    "\t\t\t\t\"soft\": 1024\n"
    "\t\t\t}\n"
    "\t\t],\n"
    "\t\t\"noNewPrivileges\": true\n"
    "\t},\n"
    "\t\"root\": {\n"
    "\t\t\"path\": \"rootfs\",\n"
    "\t\t\"readonly\": true\n"
    "\t},\n"
    "\t\"hostname\": \"rune\",\n"
    "\t\"mounts\": [\n"
    "\t\t{\n"
    "\t\t\t\"destination\": \"/proc\",\n"
    "\t\t\t\"type\": \"proc\",\n"
    "\t\t\t\"source\": \"proc\"\n"
    "\t\t},\n"
    "\t\t{\n"
    "\t\t\t\"destination\": \"/dev\",\n"
    "\t\t\t\"type\": \"tmpfs\",\n"
    "\t\t\t\"source\": \"tmpfs\",\n"
    "\t\t\t\"options\": [\n"
    "\t\t\t\t\"nosuid\",\n"
    "\t\t\t\t\"strictatime\",\n"
    "\t\t\t\t\"mode=755\",\n"
    "\t\t\t\t\"size=65536k\"\n"
    "\t\t\t]\n"
    "\t\t},\n"
    "\t\t{\n"
    "\t\t\t\"destination\": \"/dev/pts\",\n"
    "\t\t\t\"type\": \"devpts\",\n"
    "\t\t\t\"source\": \"devpts\",\n"
    "\t\t\t\"options\": [\n"
    "\t\t\t\t\"nosuid\",\n"
    "\t\t\t\t\"noexec\",\n"
    "\t\t\t\t\"newinstance\",\n"
    "\t\t\t\t\"ptmxmode=0666\",\n"
    "\t\t\t\t\"mode=0620\",\n"
    "\t\t\t\t\"gid=5\"\n"
    "\t\t\t]\n"
    "\t\t},\n"
    "\t\t{\n"
    "\t\t\t\"destination\": \"/dev/shm\",\n"
    "\t\t\t\"type\": \"tmpfs\",\n"
    "\t\t\t\"source\": \"shm\",\n"
    "\t\t\t\"options\": [\n"
    "\t\t\t\t\"nosuid\",\n"
    "\t\t\t\t\"noexec\",\n"
    "\t\t\t\t\"nodev\",\n"
    "\t\t\t\t\"mode=1777\",\n"
    "\t\t\t\t\"size=65536k\"\n"
    "\t\t\t]\n"
    "\t\t},\n"
    "\t\t{\n"
    "\t\t\t\"destination\": \"/dev/mqueue\",\n"
    "\t\t\t\"type\": \"mqueue\",\n"
    "\t\t\t\"source\": \"mqueue\",\n"
    "\t\t\t\"options\": [\n"
    "\t\t\t\t\"nosuid\",\n"
    "\t\t\t\t\"noexec\",\n"
    "\t\t\t\t\"nodev\"\n"
    "\t\t\t]\n"
    "\t\t},\n"
    "\t\t{\n"
    "\t\t\t\"destination\": \"/sys\",\n"
    "\t\t\t\"type\": \"sysfs\",\n"
    "\t\t\t\"source\": \"sysfs\",\n"
    "\t\t\t\"options\": [\n"
    "\t\t\t\t\"nosuid\",\n"
    "\t\t\t\t\"noexec\",\n"
    "\t\t\t\t\"nodev\",\n"
    "\t\t\t\t\"ro\"\n"
    "\t\t\t]\n"
    "\t\t},\n"
    "\t\t{\n"
    "\t\t\t\"destination\": \"/sys/fs/cgroup\",\n"
    "\t\t\t\"type\": \"cgroup\",\n"
    "\t\t\t\"source\": \"cgroup\",\n"
    "\t\t\t\"options\": [\n"
    "\t\t\t\t\"nosuid\",\n"
    "\t\t\t\t\"noexec\",\n"
    "\t\t\t\t\"nodev\",\n"
    "\t\t\t\t\"relatime\",\n"
    "\t\t\t\t\"ro\"\n"
    "\t\t\t]\n"
    "\t\t}\n"
    "\t],\n"
    "\t\"linux\": {\n"
    "\t\t\"resources\": {\n"
    "\t\t\t\"devices\": [\n"
    "\t\t\t\t{\n"
    "\t\t\t\t\t\"allow\": false,\n"
    "\t\t\t\t\t\"access\": \"rwm\"\n"
    "\t\t\t\t}\n"
    "\t\t\t]\n"
    "\t\t},\n"
    "\t\t\"namespaces\": [\n"
    "\t\t\t{\n"
    "\t\t\t\t\"type\": \"pid\"\n"
    "\t\t\t},\n"
    "\t\t\t{\n"
    "\t\t\t\t\"type\": \"network\"\n"
    "\t\t\t},\n"
    "\t\t\t{\n"
    "\t\t\t\t\"type\": \"ipc\"\n"
    "\t\t\t},\n"
    "\t\t\t{\n"
    "\t\t\t\t\"type\": \"uts\"\n"
    "\t\t\t},\n"
    "\t\t\t{\n"
    "\t\t\t\t\"type\": \"mount\"\n"
    "\t\t\t}\n"
    "\t\t],\n"
    "\t\t\"maskedPaths\": [\n"
    "\t\t\t\"/proc/acpi\",\n"
    "\t\t\t\"/proc/asound\",\n"
    "\t\t\t\"/proc/kcore\",\n"
    "\t\t\t\"/proc/keys\",\n"
    "\t\t\t\"/proc/latency_stats\",\n"
    "\t\t\t\"/proc/timer_list\",\n"
    "\t\t\t\"/proc/timer_stats\",\n"
    "\t\t\t\"/proc/sched_debug\",\n"
    "\t\t\t\"/sys/firmware\",\n"
    "\t\t\t\"/proc/scsi\"\n"
    "\t\t],\n"
    "\t\t\"readonlyPaths\": [\n"
    "\t\t\t\"/proc/bus\",\n"
    "\t\t\t\"/proc/fs\",\n"
    "\t\t\t\"/proc/irq\",\n"
    "\t\t\t\"/proc/sys\",\n"
    "\t\t\t\"/proc/sysrq-trigger\"\n"
    "\t\t]\n"
    "\t}\n"
    "}\n";

/* Rootless: a user namespace mapping the caller to root, no network namespace (it could not be
 * configured), sysfs bound from the host, no device cgroup rules, no devpts gid. */
static void make_rootless(json_t *cfg)
{
	json_t *lx = json_object_get(cfg, "linux");
	json_t *ns = json_object_get(lx, "namespaces"), *e;
	size_t i;
	json_array_foreach (ns, i, e)
		if (!strcmp(json_string_value(json_object_get(e, "type")), "network")) {
			json_array_remove(ns, i);
			break;
		}
	json_array_append_new(ns, json_pack("{s:s}", "type", "user"));
	json_object_set_new(
	    lx, "uidMappings",
	    json_pack("[{s:i,s:i,s:i}]", "containerID", 0, "hostID", (int)geteuid(), "size", 1));
	json_object_set_new(
	    lx, "gidMappings",
	    json_pack("[{s:i,s:i,s:i}]", "containerID", 0, "hostID", (int)getegid(), "size", 1));
	json_object_del(lx, "resources");
	json_t *mounts = json_object_get(cfg, "mounts"), *m;
	json_array_foreach (mounts, i, m) {
		const char *dest = json_string_value(json_object_get(m, "destination"));
		json_t *opts = json_object_get(m, "options"), *o;
		size_t k;
		if (!strcmp(dest, "/dev/pts"))
			json_array_foreach (opts, k, o)
				if (!strcmp(json_string_value(o), "gid=5")) {
					json_array_remove(opts, k);
					break;
				}
		if (!strcmp(dest, "/sys")) {
			json_object_set_new(m, "type", json_string("none"));
			json_object_set_new(m, "source", json_string("/sys"));
			json_array_insert_new(opts, 0, json_string("rbind"));
		}
	}
}

char *rt_spec_default(bool rootless)
{
	if (!rootless)
		return xstrdup(default_spec);
	_cleanup_json_ json_t *cfg = json_loads(default_spec, 0, NULL);
	make_rootless(cfg);
	char *s = json_dumps(cfg, JSON_INDENT(8) | JSON_PRESERVE_ORDER);
	if (!s)
		abort();
	char *r = xasprintf("%s\n", s);
	free(s);
	return r;
}
