"""The Kubernetes path without kubelet: containerd's CRI service (the cri plugin built into
Debian's containerd 1.6) driven by our own CRI v1 client (cri.py), with two runtime handlers:

  runc  runtime_type io.containerd.runc.v2 (containerd's own shim) with BinaryName = $RUNE_BIN:
        the runtime under test behind containerd's runc shim;
  rune  runtime_type io.containerd.rune.v2: our shim, containerd-shim-rune-v2, found on the PATH
        containerd is started with (<build>/cmd/containerd-shim-rune-v2/ first). Where that shim
        is not built, the rune tests are skipped with the reason.

Each test starts a private containerd with the cri plugin: its own root, state, grpc and ttrpc
sockets, in the suite's private mount namespace with tmpfs over /run and /var/lib (what
containerd and its shims keep in fixed places, e.g. the shim sockets under /run/containerd/s,
lands there). Pods use the node's network (NamespaceOption network = NODE), so no CNI plugin is
needed; the CNI directories are empty private ones. The sandbox ("pause") image is built here:
a static C program compiled at session start; the container image is a busybox-static rootfs.
Both are imported from OCI archives with `ctr -n k8s.io images import`: no registry, no network.
Pods get a cgroup parent the test owns (cgroupfs driver), removed at teardown.

Teardown stops and removes every pod through the CRI, stops containerd by PID, and fails the
test if a containerd shim, a process in the test's cgroup parent, a mount under the private
root/state, or a cgroup under the test's cgroup parent is left.
"""

import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

import cri
from conftest import (RUNE_BIN, TAG_VAR, build_path, cgroup_dir, find_cgroup_dirs,
                      kill_and_wait, make_rootfs, mount_points, ns_id, pid_alive, proc_cgroups,
                      remove_cgroup_tree, wait_until)
from registry import F, make_layer_tar, make_oci_image
from containerd_env import (cmdline as _cmdline, config as base_config, shim_pids, stop_daemon,
                            unmount_under)
from test_clients import hide_host_state
from test_shim import pod_dir_name

HANDLERS = ("runc", "rune")
SHIM_BINARY = {"runc": "containerd-shim-runc-v2", "rune": "containerd-shim-rune-v2"}
RUNTIME_TYPE = {"runc": "io.containerd.runc.v2", "rune": "io.containerd.rune.v2"}
K8S_NAMESPACE = "k8s.io"  # the containerd namespace the cri plugin keeps everything in
PAUSE_IMAGE = "localhost/rune-it/pause:1.0"
BUSYBOX_IMAGE = "localhost/rune-it/busybox:1.0"
IMAGE_NAME_ANNOTATION = "io.containerd.image.name"
TASK_STATE = Path("io.containerd.runtime.v2.task") / K8S_NAMESPACE  # bundles under state

# The rune shim's own configuration file, passed as the handler's options.ConfigPath (the
# cri plugin's generic runtime options) when set.
SHIM_CONFIG = os.environ.get("RUNE_IT_SHIM_CONFIG", "")

# A pause program: PID 1 of the sandbox, reaps what it inherits, exits on SIGINT/SIGTERM.
PAUSE_C = r"""
#include <signal.h>
#include <stddef.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_term(int sig)
{
	(void)sig;
	_exit(0);
}

static void on_chld(int sig)
{
	(void)sig;
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

int main(void)
{
	struct sigaction sa = { 0 };

	sa.sa_handler = on_term;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = on_chld;
	sa.sa_flags = SA_NOCLDSTOP | SA_RESTART;
	sigaction(SIGCHLD, &sa, NULL);
	for (;;)
		pause();
}
"""

CRI_CONFIG = """[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{pause_image}"
  disable_apparmor = true
  enable_selinux = false
  # No CAP_SYS_RESOURCE in this machine's bounding set: the sandbox's oom_score_adj -998 could
  # not be written (runc and rune both fail). Clamp to containerd's own score instead.
  restrict_oom_score_adj = true
  systemd_cgroup = false
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{base}/cni/bin"
    conf_dir = "{base}/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "{rune_bin}"
        Root = "{base}/runtime-root/runc"
        SystemdCgroup = false
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.rune]
      runtime_type = "io.containerd.rune.v2"
{rune_options}{cc_runtime}"""

# Confidential pods: the rune shim with settings that give each pod its own enclave-agent.
CC_RUNTIME = """    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.rune-cc]
      runtime_type = "io.containerd.rune.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.rune-cc.options]
        ConfigPath = "{settings}"
"""


def containerd_config(base, cc_settings=None):
    rune_options = ""
    if SHIM_CONFIG:
        rune_options = ('      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.rune'
                        f'.options]\n        ConfigPath = "{SHIM_CONFIG}"\n')
    cc_runtime = CC_RUNTIME.format(settings=cc_settings) if cc_settings else ""
    return base_config(base, cri=True, debug_level="debug") + CRI_CONFIG.format(
        base=base, pause_image=PAUSE_IMAGE, rune_bin=RUNE_BIN, rune_options=rune_options,
        cc_runtime=cc_runtime)


# --------------------------------------------------------------------------------- images


def _tree_tar(root):
    """The uncompressed tar of the directory root, members relative to it, sorted."""
    out = Path(str(root) + ".tar")
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tar:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for name in sorted(dirnames + filenames):
                path = os.path.join(dirpath, name)
                tar.add(path, arcname=os.path.relpath(path, root), recursive=False)
    data = out.read_bytes()
    out.unlink()
    return data


def _oci_archive(layout, name, archive):
    """Name the layout's only image (the io.containerd.image.name annotation `ctr images
    import` reads) and write the layout as a tar: an OCI archive."""
    index_path = layout / "index.json"
    index = json.loads(index_path.read_text())
    assert len(index["manifests"]) == 1
    index["manifests"][0].setdefault("annotations", {})[IMAGE_NAME_ANNOTATION] = name
    index_path.write_text(json.dumps(index))
    with tarfile.open(archive, "w") as tar:
        for entry in sorted(layout.iterdir()):
            tar.add(entry, arcname=entry.name)
    return archive


@pytest.fixture(scope="session")
def cri_images(tmp_path_factory):
    """OCI archives of the pause image (a static pause program built here) and of a
    busybox-static image: {image name: archive path}."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        pytest.skip("no C compiler (cc) to build the sandbox's pause program")
    d = tmp_path_factory.mktemp("cri-images")
    (d / "pause.c").write_text(PAUSE_C)
    res = subprocess.run([cc, "-static", "-Os", "-s", "-o", d / "pause", d / "pause.c"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, f"building pause: {res.stderr}"
    pause_layer = make_layer_tar([F("pause", (d / "pause").read_bytes(), mode=0o755)])
    make_oci_image(d / "pause-layout", [pause_layer],
                   config={"Entrypoint": ["/pause"], "Cmd": None, "Env": []})
    make_rootfs(d / "busybox")
    make_oci_image(d / "busybox-layout", [_tree_tar(d / "busybox")])
    return {PAUSE_IMAGE: _oci_archive(d / "pause-layout", PAUSE_IMAGE, d / "pause.tar"),
            BUSYBOX_IMAGE: _oci_archive(d / "busybox-layout", BUSYBOX_IMAGE, d / "busybox.tar")}


# ------------------------------------------------------------------------------ containerd


def _log_tail(path, n=3000):
    try:
        return Path(path).read_text(errors="replace")[-n:]
    except OSError:
        return ""


class CRI:
    """A private containerd with the cri plugin, our CRI client to it, and helpers for the
    pods and containers of one test (handler: the runtime handler the pods use)."""

    def __init__(self, rune, base, handler):
        self.rune = rune
        self.base = base
        self.handler = handler
        # Every CRI call here takes seconds; a minute means a runtime or shim is stuck.
        self.client = cri.CRIClient(base / "containerd.sock", timeout=60)
        self.cgroup_parent = f"/rit-cri-{rune.tag[:12]}"
        self.logs = base / "pods"
        self._pods = 0

    # ---- ctr, for what the CRI does not do (importing an archive)
    def ctr(self, *args, timeout=120):
        return self.rune.cmd("-a", self.base / "containerd.sock", "-n", K8S_NAMESPACE, *args,
                             binary=shutil.which("ctr"), root=False, timeout=timeout)

    # ---- configs the way kubelet writes them, for a pod on the node's network
    def pod_config(self, name):
        self._pods += 1
        uid = f"{self.rune.tag[:8]}-{self._pods}"
        logdir = self.logs / f"rit_{name}_{uid}"
        logdir.mkdir(parents=True)
        return {
            "metadata": {"name": name, "uid": uid, "namespace": "rit", "attempt": 0},
            "log_directory": str(logdir),
            "labels": {"rune-it": self.rune.tag[:12]},
            "annotations": {"rune-it/test": "yes"},
            "linux": {
                "cgroup_parent": self.cgroup_parent,
                "security_context": {"namespace_options": {
                    "network": cri.NODE, "pid": cri.CONTAINER, "ipc": cri.POD}},
            },
        }

    def run_pod(self, name="pod"):
        """(pod id, its PodSandboxConfig)."""
        return self.run_pod_with_handler(self.handler, name)

    def run_pod_with_handler(self, handler, name="pod"):
        config = self.pod_config(name)
        return self.client.run_pod_sandbox(config, handler), config

    def container_config(self, name, argv, attempt=0, image=BUSYBOX_IMAGE, envs=None):
        return {
            "metadata": {"name": name, "attempt": attempt},
            "image": {"image": image},
            "command": list(argv),
            "envs": [{"key": TAG_VAR, "value": self.rune.tag}, {"key": "RIT_NAME",
                                                                 "value": name}] +
                    [{"key": k, "value": v} for k, v in (envs or {}).items()],
            "labels": {"rune-it": self.rune.tag[:12]},
            "log_path": f"{name}/{attempt}.log",
            "linux": {"security_context": {"namespace_options": {
                "network": cri.NODE, "pid": cri.CONTAINER, "ipc": cri.POD}}},
        }

    def create_container(self, pod_id, pod_config, name, argv, image=BUSYBOX_IMAGE, envs=None):
        config = self.container_config(name, argv, image=image, envs=envs)
        (Path(pod_config["log_directory"]) / name).mkdir(exist_ok=True)  # kubelet's job
        return self.client.create_container(pod_id, config, pod_config)

    def run_container(self, pod_id, pod_config, name, argv, image=BUSYBOX_IMAGE, envs=None):
        cid = self.create_container(pod_id, pod_config, name, argv, image=image, envs=envs)
        self.client.start_container(cid)
        return cid

    # ---- what the tests look at
    def bundle(self, task_id):
        return self.base / "state" / TASK_STATE / task_id

    def spec(self, task_id):
        """The config.json containerd wrote for the shim of a sandbox or container."""
        return json.loads((self.bundle(task_id) / "config.json").read_text())

    def container_pid(self, cid):
        info = self.client.container_status(cid, verbose=True)["info"]
        return int(json.loads(info["info"])["pid"])

    def sandbox_info(self, pod_id):
        return json.loads(self.client.pod_sandbox_status(pod_id, verbose=True)["info"]["info"])

    def shims(self):
        """PIDs of live containerd shims started by this test's containerd."""
        return shim_pids(self.rune.tag)

    def cgroup_parents(self):
        return find_cgroup_dirs(self.cgroup_parent.lstrip("/"))

    def cgroups_below_parent(self):
        return sorted(os.path.join(path, d) for top in self.cgroup_parents()
                      for path, dirs, _ in os.walk(top) for d in dirs)

    def pids_in_parent(self):
        pids = set()
        for top in self.cgroup_parents():
            for path, _, files in os.walk(top):
                if "cgroup.procs" in files:
                    try:
                        text = Path(path, "cgroup.procs").read_text()
                    except OSError:
                        continue
                    pids.update(int(p) for p in text.split())
        return sorted(p for p in pids if pid_alive(p))

    def mounts_under_base(self):
        return [m for m in mount_points() if m.startswith(str(self.base) + "/")]

    def remove_all_pods(self):
        """Stop and remove every pod through the CRI (what kubelet does when pods go)."""
        errors = []
        self.client.timeout = 30  # a stuck shim must not hold teardown for long
        for pod in self.client.list_pod_sandbox():
            for call in (self.client.stop_pod_sandbox, self.client.remove_pod_sandbox):
                try:
                    call(pod["id"])
                except cri.CRIError as e:
                    errors.append(str(e))
        return errors


@pytest.fixture
def cri_env(request, rune, workdir, mounts, cri_images):
    """A private containerd with the cri plugin; request.param (parametrize with
    indirect=True) names the runtime handler the test's pods use (default "runc")."""
    handler = getattr(request, "param", "runc")
    for exe in ("containerd", "ctr"):
        if not shutil.which(exe):
            pytest.skip(f"{exe} is not installed")
    if cri.grpc is None:
        pytest.skip("python3-grpcio is not installed (apt-get install python3-grpcio)")
    path = os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
    cc = request.getfixturevalue("cc_setup") if handler == "rune-cc" else None
    if handler in ("rune", "rune-cc"):
        shim = build_path("cmd", "containerd-shim-rune-v2", "containerd-shim-rune-v2")
        if not os.access(shim, os.X_OK):
            pytest.skip(f"the rune shim is not built: {shim} does not exist (runtime handler "
                        f"'rune', runtime_type {RUNTIME_TYPE['rune']})")
        # containerd finds containerd-shim-rune-v2 on its PATH; rune sits next to it.
        path = f"{shim.parent}:{Path(RUNE_BIN).resolve().parent}:{path}"
    hide_host_state(mounts, workdir)
    base = workdir / "containerd"
    for d in ("root", "state", "opt", "cni/bin", "cni/net.d", "pods"):
        (base / d).mkdir(parents=True)
    (base / "config.toml").write_text(containerd_config(base, cc and cc["settings"]))
    log = open(base / "containerd.log", "wb")
    daemon = subprocess.Popen([shutil.which("containerd"), "--config", base / "config.toml"],
                              stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                              env=rune.env({"PATH": path}), start_new_session=True)
    c = CRI(rune, base, handler)
    problems = []

    def answers():
        if daemon.poll() is not None:
            return True
        try:
            return c.client.version()
        except cri.CRIError:
            return False

    try:
        wait_until(answers, timeout=60, interval=0.1, what="containerd's CRI to answer")
        assert daemon.poll() is None, f"containerd exited:\n{_log_tail(base / 'containerd.log')}"
        images = dict(cri_images, **(cc["archives"] if cc else {}))
        for name, archive in images.items():
            res = c.ctr("images", "import", archive)
            assert res.rc == 0, res
        # The cri plugin learns about imported images from containerd's events.
        for name in images:
            wait_until(lambda: c.client.image_status(name)["image"], timeout=30,
                       what=f"the CRI to see {name}")
        yield c
    finally:
        if daemon.poll() is None:
            try:
                problems += [f"CRI cleanup: {e}" for e in c.remove_all_pods()]
            except cri.CRIError as e:
                problems.append(f"CRI cleanup: {e}")
            c.client.close()
            stop_daemon(daemon)
        else:
            c.client.close()
            problems.append(f"containerd died during the test (status {daemon.returncode})")
        log.close()
        problems += _leftovers(c)
    if problems:
        pytest.fail("CRI teardown found leftovers:\n  " + "\n  ".join(problems) +
                    f"\n--- containerd.log (tail) ---\n{_log_tail(base / 'containerd.log')}")


def _kill(pids, what, problems):
    try:
        kill_and_wait(pids)
    except AssertionError as e:
        problems.append(f"cannot stop {what}: {e}")


def _leftovers(c):
    """Check for and remove what the test's containerd left behind; a list of problems."""
    problems = []
    try:  # a shim exits once containerd has deleted its last task: give it a moment
        wait_until(lambda: not c.shims(), timeout=10, what="containerd shims to exit")
    except AssertionError:
        shims = c.shims()
        problems.append(f"containerd shims left: {[_cmdline(p) for p in shims]}")
        _kill(shims, "the shims", problems)
    procs = c.pids_in_parent()
    if procs:
        problems.append(f"processes left in {c.cgroup_parent}: "
                        f"{[(p, _cmdline(p)) for p in procs]}")
        _kill(procs, "them", problems)
    mounts = c.mounts_under_base()
    if mounts:
        problems.append(f"mounts left under {c.base}: {mounts}")
        unmount_under(c.base)
    below = c.cgroups_below_parent()
    if below:
        problems.append(f"cgroups left under {c.cgroup_parent}: {below}")
    for d in c.cgroup_parents():
        remove_cgroup_tree(d)
    if c.cgroup_parents():
        problems.append(f"cannot remove the cgroup parent: {c.cgroup_parents()}")
    return problems


handlers = pytest.mark.parametrize("cri_env", HANDLERS, indirect=True)


# ---------------------------------------------------------------------------------- helpers


def parse_cri_log(path):
    """The lines of a CRI container log: (stream, tag, content) from '<time> <stream> <tag>
    <content>' (tag F: a full line, P: a partial one)."""
    out = []
    for line in Path(path).read_text().splitlines():
        when, stream, tag, content = (line.split(" ", 3) + [""])[:4]
        assert when.endswith("Z") and "T" in when, f"bad CRI log time in {line!r}"
        out.append((stream, tag, content))
    return out


def wait_log(path, want, timeout=20):
    """Wait until the CRI log at path holds every (stream, content) of want; its lines."""
    def done():
        try:
            lines = parse_cri_log(path)
        except FileNotFoundError:
            return None
        have = {(s, content) for s, tag, content in lines if tag == "F"}
        return lines if all(w in have for w in want) else None
    return wait_until(done, timeout=timeout, what=f"{want} in {path}")


def wait_container_state(c, cid, state, timeout=20):
    """Wait until the container is in state; its ContainerStatus."""
    def reached():
        status = c.client.container_status(cid)["status"]
        return status if status["state"] == state else None
    return wait_until(reached, timeout=timeout, what=f"container {cid} to reach state {state}")


def parent_exe_name(pid):
    """Basename of the executable of pid's parent (the shim of a container's init)."""
    ppid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    return Path(os.readlink(f"/proc/{ppid}/exe")).name


def cgroup_of(pid, controller="memory"):
    return proc_cgroups(pid).get(controller) or proc_cgroups(pid).get("unified")


# ------------------------------------------------------------------------- the protobuf codec


def test_codec_known_vectors():
    # The protobuf documentation's example: field 1 = 150 is 08 96 01.
    one = cri.Message("One", a=(1, "int32"))
    assert cri.encode(one, {"a": 150}) == b"\x08\x96\x01"
    assert cri.decode(one, b"\x08\x96\x01") == {"a": 150}
    # Negative int32: ten bytes on the wire, back to -1.
    assert cri.encode(one, {"a": -1}) == b"\x08" + b"\xff" * 9 + b"\x01"
    assert cri.decode(one, b"\x08" + b"\xff" * 9 + b"\x01") == {"a": -1}
    # proto3 defaults are not written.
    assert cri.encode(cri.ExecSyncRequest, {"container_id": "", "cmd": [], "timeout": 0}) == b""
    req = cri.encode(cri.ExecSyncRequest, {"container_id": "ab", "cmd": ["sh", "-c"],
                                           "timeout": 3})
    assert req == b"\x0a\x02ab\x12\x02sh\x12\x02-c\x18\x03"
    with pytest.raises(KeyError):
        cri.encode(cri.ExecSyncRequest, {"containerid": "x"})


def test_codec_round_trip_nested_maps_and_packed():
    config = {
        "metadata": {"name": "p", "uid": "u", "namespace": "n", "attempt": 2},
        "labels": {"a": "1", "b": ""},
        "linux": {"cgroup_parent": "/x", "security_context": {
            "namespace_options": {"network": cri.NODE, "pid": cri.CONTAINER},
            "supplemental_groups": [1, 300, -2]}},
    }
    data = cri.encode(cri.PodSandboxConfig, config)
    back = cri.decode(cri.PodSandboxConfig, data)
    assert back["metadata"] == config["metadata"]
    assert back["labels"] == {"a": "1", "b": ""}
    sc = back["linux"]["security_context"]
    assert sc["namespace_options"] == {"network": cri.NODE, "pid": cri.CONTAINER, "ipc": cri.POD,
                                       "target_id": ""}
    assert sc["supplemental_groups"] == [1, 300, -2]
    assert back["hostname"] == "" and back["dns_config"] is None and back["annotations"] == {}
    # Unpacked repeated scalars decode too (both encodings are valid on the wire).
    unpacked = b"\x28\x01\x28\x02"
    assert cri.decode(cri.LinuxSandboxSecurityContext, unpacked)["supplemental_groups"] == [1, 2]


def test_codec_skips_unknown_fields_of_every_wire_type():
    known = cri.encode(cri.ExecSyncResponse, {"stdout": b"out", "stderr": b"err",
                                              "exit_code": 7})
    unknown = (b"\xa0\x06\xac\x02"                      # field 100, varint 300
               b"\xa9\x06" + b"\x01" * 8 +              # field 101, fixed64
               b"\xb2\x06\x03\x0a\x01x" +               # field 102, bytes (a message inside)
               b"\xbd\x06" + b"\x02" * 4)               # field 103, fixed32
    for data in (unknown + known, known + unknown, known[:5] + unknown + known[5:]):
        assert cri.decode(cri.ExecSyncResponse, data) == \
            {"stdout": b"out", "stderr": b"err", "exit_code": 7}
    fields = list(cri.iter_fields(unknown))
    assert [(n, wt) for n, wt, _ in fields] == [(100, 0), (101, 1), (102, 2), (103, 5)]
    assert fields[0][2] == 300 and cri.fixed64(fields[1][2]) == 0x0101010101010101


def test_codec_rejects_malformed_input():
    for bad in (b"\x0a\x05abc",          # length past the end
                b"\x08\x96",             # truncated varint
                b"\x08" + b"\xff" * 10,  # varint longer than 10 bytes
                b"\x0b",                 # wire type 3 (group)
                b"\x0d\x01\x02",         # truncated fixed32
                b"\x00\x01"):            # field number 0
        with pytest.raises(cri.ProtoError):
            cri.decode(cri.ExecSyncResponse, bad)
    with pytest.raises(cri.ProtoError):  # a known field with the wrong wire type
        cri.decode(cri.ExecSyncResponse, b"\x1d\x01\x02\x03\x04")  # exit_code as fixed32


# ------------------------------------------------------------------------------ through the CRI


def test_cri_version_status_and_images(cri_env):
    c = cri_env
    v = c.client.version()
    assert v["runtime_name"] == "containerd" and v["runtime_api_version"] == "v1", v
    assert v["version"] == "0.1.0" and v["runtime_version"], v
    conditions = {x["type"]: x for x in c.client.status()["status"]["conditions"]}
    assert conditions["RuntimeReady"]["status"] is True, conditions
    # No CNI configuration: the network is not ready, which host-network pods do not need.
    assert conditions["NetworkReady"]["status"] is False, conditions
    names = {t for img in c.client.list_images() for t in img["repo_tags"]}
    assert {PAUSE_IMAGE, BUSYBOX_IMAGE} <= names, names
    img = c.client.image_status(BUSYBOX_IMAGE)["image"]
    assert img["id"].startswith("sha256:") and img["size"] > 0 and BUSYBOX_IMAGE in img["repo_tags"]
    assert c.client.image_status("localhost/rune-it/missing:1")["image"] is None
    with pytest.raises(cri.CRIError) as e:
        c.client.container_status("no-such-container")
    assert e.value.code == "NOT_FOUND", e.value
    # A handler containerd has no runtime table for: refused, nothing left.
    with pytest.raises(cri.CRIError) as e:
        c.run_pod_with_handler("no-such-handler")
    assert "no-such-handler" in e.value.details, e.value
    assert c.client.list_pod_sandbox() == []


@handlers
def test_pod_sandbox_runs(cri_env):
    c = cri_env
    pod, config = c.run_pod("sandbox")
    resp = c.client.pod_sandbox_status(pod, verbose=True)
    status = resp["status"]
    assert (status["id"], status["state"], status["runtime_handler"]) == \
        (pod, cri.SANDBOX_READY, c.handler), status
    assert status["metadata"] == config["metadata"]
    assert (status["labels"], status["annotations"]) == (config["labels"], config["annotations"])
    assert status["linux"]["namespaces"]["options"]["network"] == cri.NODE
    info = json.loads(resp["info"]["info"])
    assert info["runtimeType"] == RUNTIME_TYPE[c.handler], info
    if c.handler == "runc":
        assert info["runtimeOptions"]["binary_name"] == RUNE_BIN, info["runtimeOptions"]
    # The pause process: run by the handler's shim, on the node's network, in a PID namespace
    # and a cgroup of its own under the pod's cgroup parent.
    pid = info["pid"]
    assert pid_alive(pid) and Path(f"/proc/{pid}/comm").read_text() == "pause\n"
    assert parent_exe_name(pid) == SHIM_BINARY[c.handler]
    assert ns_id(pid, "net") == ns_id(os.getpid(), "net")
    assert ns_id(pid, "pid") != ns_id(os.getpid(), "pid")
    assert cgroup_of(pid) == f"{c.cgroup_parent}/{pod}"
    # What the shim was given: the sandbox's annotations in its bundle's config.json.
    spec = c.spec(pod)
    assert spec["process"]["args"] == ["/pause"] and spec["root"]["readonly"] is True
    assert spec["linux"]["cgroupsPath"] == f"{c.cgroup_parent}/{pod}"
    ann = spec["annotations"]
    assert ann["io.kubernetes.cri.container-type"] == "sandbox", ann
    assert ann["io.kubernetes.cri.sandbox-id"] == pod
    assert (ann["io.kubernetes.cri.sandbox-name"], ann["io.kubernetes.cri.sandbox-namespace"],
            ann["io.kubernetes.cri.sandbox-uid"]) == ("sandbox", "rit", config["metadata"]["uid"])
    assert ann["io.kubernetes.cri.sandbox-log-directory"] == config["log_directory"]
    listed = c.client.list_pod_sandbox()
    assert [(p["id"], p["state"], p["runtime_handler"]) for p in listed] == \
        [(pod, cri.SANDBOX_READY, c.handler)]
    assert c.client.list_pod_sandbox({"state": {"state": cri.SANDBOX_NOTREADY}}) == []
    assert c.client.list_pod_sandbox({"label_selector": {"rune-it": "other"}}) == []

    c.client.stop_pod_sandbox(pod)
    wait_until(lambda: not pid_alive(pid), what="the pause process to stop")
    assert c.client.pod_sandbox_status(pod)["status"]["state"] == cri.SANDBOX_NOTREADY
    c.client.stop_pod_sandbox(pod)  # idempotent, as kubelet expects
    c.client.remove_pod_sandbox(pod)
    assert c.client.list_pod_sandbox() == []
    with pytest.raises(cri.CRIError) as e:
        c.client.pod_sandbox_status(pod)
    assert e.value.code == "NOT_FOUND", e.value


@handlers
def test_container_runs_and_logs(cri_env):
    c = cri_env
    pod, pconf = c.run_pod("logs")
    cid = c.run_container(pod, pconf, "talker",
                          ["sh", "-c", "echo out-line; echo err-line >&2; exec sleep 3600"])
    status = c.client.container_status(cid)["status"]
    assert (status["id"], status["state"], status["metadata"]["name"]) == \
        (cid, cri.CONTAINER_RUNNING, "talker"), status
    assert status["image"]["image"] == BUSYBOX_IMAGE and status["image_ref"].startswith("sha256:")
    assert status["started_at"] > 0 and status["finished_at"] == 0
    log = Path(pconf["log_directory"]) / "talker" / "0.log"
    assert status["log_path"] == str(log)
    lines = wait_log(log, [("stdout", "out-line"), ("stderr", "err-line")])
    assert sorted(lines) == [("stderr", "F", "err-line"), ("stdout", "F", "out-line")], lines

    pid = c.container_pid(cid)
    assert Path(f"/proc/{pid}/cmdline").read_bytes() == b"sleep\x003600\x00"
    assert parent_exe_name(pid) == SHIM_BINARY[c.handler]
    assert cgroup_of(pid) == f"{c.cgroup_parent}/{cid}"
    # pid CONTAINER, network NODE, ipc POD: the sandbox's IPC namespace, a PID one of its own.
    sandbox_pid = c.sandbox_info(pod)["pid"]
    assert ns_id(pid, "pid") not in (ns_id(sandbox_pid, "pid"), ns_id(os.getpid(), "pid"))
    assert ns_id(pid, "ipc") == ns_id(sandbox_pid, "ipc")
    assert ns_id(pid, "net") == ns_id(os.getpid(), "net")
    ann = c.spec(cid)["annotations"]
    assert ann["io.kubernetes.cri.container-type"] == "container", ann
    assert ann["io.kubernetes.cri.sandbox-id"] == pod
    assert ann["io.kubernetes.cri.container-name"] == "talker"
    assert ann["io.kubernetes.cri.image-name"] == BUSYBOX_IMAGE

    # A container that ends by itself: its status, exit code and log.
    quitter = c.run_container(pod, pconf, "quitter", ["sh", "-c", "echo bye; exit 3"])
    done = wait_container_state(c, quitter, cri.CONTAINER_EXITED)
    assert done["exit_code"] == 3 and done["reason"] == "Error", done
    # Both times are set; their order is not checked: containerd stamps started_at after the
    # task's Start returns, which can be after a quick payload's exit (seen with runc).
    assert done["finished_at"] > 0 and done["started_at"] > 0
    assert wait_log(done["log_path"], [("stdout", "bye")]) == [("stdout", "F", "bye")]

    listed = {x["id"]: (x["pod_sandbox_id"], x["state"], x["metadata"]["name"])
              for x in c.client.list_containers()}
    assert listed == {cid: (pod, cri.CONTAINER_RUNNING, "talker"),
                      quitter: (pod, cri.CONTAINER_EXITED, "quitter")}
    running = c.client.list_containers({"state": {"state": cri.CONTAINER_RUNNING}})
    assert [x["id"] for x in running] == [cid]
    assert c.client.list_containers({"pod_sandbox_id": "nope"}) == []
    # The fixture's teardown removes the pod with its containers (StopPodSandbox first).


@handlers
def test_exec_sync(cri_env):
    c = cri_env
    pod, pconf = c.run_pod("exec")
    cid = c.run_container(pod, pconf, "sleeper", ["sleep", "3600"])
    res = c.client.exec_sync(cid, ["sh", "-c", "echo to-out; echo to-err >&2; exit 7"])
    assert res == {"stdout": b"to-out\n", "stderr": b"to-err\n", "exit_code": 7}
    # In the container: its PID 1, its environment.
    res = c.client.exec_sync(cid, ["cat", "/proc/1/cmdline"])
    assert res == {"stdout": b"sleep\x003600\x00", "stderr": b"", "exit_code": 0}
    res = c.client.exec_sync(cid, ["sh", "-c", 'echo "$RIT_NAME"'])
    assert (res["stdout"], res["exit_code"]) == (b"sleeper\n", 0)
    # More output than a pipe holds, intact.
    res = c.client.exec_sync(cid, ["sh", "-c", "yes 0123456789abcdef | head -c 300000"])
    assert res["exit_code"] == 0 and res["stdout"] == (b"0123456789abcdef\n" * 20000)[:300000]
    # The exec'd processes are gone; the container runs on with only its init.
    pid = c.container_pid(cid)
    controller = "pids" if "pids" in proc_cgroups(pid) else "unified"
    procs = (cgroup_dir(pid, controller) / "cgroup.procs").read_text().split()
    assert procs == [str(pid)], [_cmdline(int(p)) for p in procs]
    assert c.client.container_status(cid)["status"]["state"] == cri.CONTAINER_RUNNING
    with pytest.raises(cri.CRIError) as e:
        c.client.exec_sync("no-such-container", ["true"])
    assert e.value.code == "NOT_FOUND", e.value


@handlers
def test_enclave_container(cri_env):
    """An enclave container through the CRI, asked for as a pod spec asks (the container's env,
    the skeleton PAL in a directory rune trusts): its init is rune's enclave init, the payload
    runs and exec answers without the ENCLAVE_ variables, and a stop ends it."""
    from conftest import PAL_DIR, is_rune
    pal = PAL_DIR / "liberpal-skeleton.so"
    if not is_rune() or not pal.exists():
        pytest.skip(f"enclave containers need rune and its skeleton PAL ({pal})")
    c = cri_env
    pod, pconf = c.run_pod("enclave")
    cid = c.run_container(pod, pconf, "enc", ["sleep", "3600"], envs={
        "ENCLAVE_TYPE": "simulated", "ENCLAVE_RUNTIME_PATH": str(pal),
        "ENCLAVE_RUNTIME_LOGLEVEL": "off"})
    pid = c.container_pid(cid)
    assert Path(f"/proc/{pid}/comm").read_text().strip() == "enclave-init"
    res = c.client.exec_sync(cid, ["sh", "-c", "echo in-enclave; env | grep -c ^ENCLAVE_; exit 3"])
    assert res == {"stdout": b"in-enclave\n0\n", "stderr": b"", "exit_code": 3}, res
    c.client.stop_container(cid, timeout=10)
    status = c.client.container_status(cid)["status"]
    assert status["state"] == cri.CONTAINER_EXITED, status
    assert not pid_alive(pid)


@handlers
def test_stop_and_remove_leave_nothing(cri_env):
    c = cri_env
    pod, pconf = c.run_pod("teardown")
    trapper = c.run_container(pod, pconf, "trapper", [
        "sh", "-c", "trap 'echo got-term; exit 42' TERM; echo ready; sleep 3600 & wait"])
    sleeper = c.run_container(pod, pconf, "sleeper", ["sleep", "3600"])
    wait_log(Path(pconf["log_directory"]) / "trapper" / "0.log", [("stdout", "ready")])
    pids = [c.sandbox_info(pod)["pid"], c.container_pid(trapper), c.container_pid(sleeper)]
    assert all(pid_alive(p) for p in pids)
    assert c.shims(), "no containerd shim runs the pod"
    mounts = c.mounts_under_base()
    assert any(m.endswith(f"/{pod}/shm") for m in mounts), mounts
    assert any(m.endswith(f"/{trapper}/rootfs") for m in mounts), mounts
    assert sorted(c.cgroups_below_parent()) != []
    if c.handler == "runc":  # the runtime under test keeps its state where the shim said
        assert (c.base / "runtime-root" / "runc" / K8S_NAMESPACE / trapper).is_dir()

    # StopContainer: SIGTERM first; a payload that traps it ends on its own.
    c.client.stop_container(trapper, timeout=30)
    status = c.client.container_status(trapper)["status"]
    assert (status["state"], status["exit_code"]) == (cri.CONTAINER_EXITED, 42), status
    assert ("stdout", "F", "got-term") in parse_cri_log(status["log_path"])
    # sleep as PID 1 ignores SIGTERM: SIGKILL once the timeout has passed.
    c.client.stop_container(sleeper, timeout=2)
    status = c.client.container_status(sleeper)["status"]
    assert (status["state"], status["exit_code"]) == (cri.CONTAINER_EXITED, 137), status
    assert status["finished_at"] - status["started_at"] >= 2 * 10**9
    assert not pid_alive(pids[1]) and not pid_alive(pids[2])
    c.client.stop_container(sleeper, timeout=0)  # idempotent
    for cid in (trapper, sleeper):
        c.client.remove_container(cid)
        assert not c.bundle(cid).exists()
    assert c.client.list_containers() == []
    with pytest.raises(cri.CRIError) as e:
        c.client.container_status(sleeper)
    assert e.value.code == "NOT_FOUND", e.value
    c.client.remove_container(sleeper)  # idempotent

    c.client.stop_pod_sandbox(pod)
    c.client.remove_pod_sandbox(pod)
    assert c.client.list_pod_sandbox() == []
    assert not any(pid_alive(p) for p in pids)
    wait_until(lambda: not c.shims(), what="the pod's containerd shim to exit")
    assert c.mounts_under_base() == []
    assert c.cgroups_below_parent() == []
    assert c.pids_in_parent() == []
    task_state = c.base / "state" / TASK_STATE
    assert not task_state.exists() or os.listdir(task_state) == []
    for top in ("root", "state"):
        for kind in ("sandboxes", "containers"):
            d = c.base / top / "io.containerd.grpc.v1.cri" / kind
            assert not d.exists() or os.listdir(d) == [], (d, os.listdir(d))
    if c.handler == "runc":
        d = c.base / "runtime-root" / "runc" / K8S_NAMESPACE
        assert not d.exists() or os.listdir(d) == []


def test_kubernetes_files_agree():
    """dist/kubernetes/runtimeclass.yaml, the containerd tables in docs/kubernetes.md and the
    configuration the tests run name the same handler and runtime type."""
    yaml = pytest.importorskip("yaml", reason="python3-yaml is not installed")
    import tomllib
    repo = Path(__file__).resolve().parents[2]
    rc = yaml.safe_load((repo / "dist" / "kubernetes" / "runtimeclass.yaml").read_text())
    assert (rc["apiVersion"], rc["kind"], rc["metadata"]["name"], rc["handler"]) == \
        ("node.k8s.io/v1", "RuntimeClass", "rune", "rune"), rc
    doc = (repo / "docs" / "kubernetes.md").read_text()
    blocks = [b.split("```", 1)[0] for b in doc.split("```toml\n")[1:]]
    assert blocks, "no toml block in docs/kubernetes.md"
    tables = []
    for block in blocks + [containerd_config(Path("/x"))]:
        runtimes = tomllib.loads(block)["plugins"]["io.containerd.grpc.v1.cri"]["containerd"][
            "runtimes"]
        tables.append(runtimes)
    with_rune = [t for t in tables if rc["handler"] in t]
    assert len(with_rune) >= 2, tables  # the doc's main example and the tests' configuration
    for t in with_rune:
        assert t[rc["handler"]]["runtime_type"] == RUNTIME_TYPE["rune"]
    pod = yaml.safe_load(doc.split("```yaml\n")[2].split("```", 1)[0])
    assert (pod["kind"], pod["spec"]["runtimeClassName"]) == ("Pod", rc["metadata"]["name"])


# ------------------------------------------------------------------------ confidential pods


@pytest.fixture
def cc_setup(rune, workdir):
    """For the rune-cc handler: a registry on loopback with one image per pod (busybox and a
    marker file), the same images as OCI archives for the host's containerd (the CRI needs the
    image it creates a container from), the agent bundle (simulated enclave, encrypted store)
    and the shim's settings with a pod section."""
    import registry as R
    from test_agent import CTL_BIN
    from test_image_pull import busybox_layers
    from test_shim import pod_agent_bundle
    with pod_agent_bundle(workdir) as (reg, bundle):
        refs, archives = {}, {}
        for p in ("a", "b"):
            layout = workdir / f"cc-img-{p}"
            R.make_oci_image(layout, busybox_layers() + [[F("etc/pod-image", f"marker-{p}\n")]],
                             tag="v1")
            R.push(layout, "v1", reg, repo=f"cc/{p}")
            refs[p] = f"{reg.host}/cc/{p}:v1"
            archives[refs[p]] = _oci_archive(layout, refs[p], workdir / f"cc-{p}.tar")
        pods = workdir / "cc-pods"
        settings = workdir / "cc-shim.json"
        settings.write_text(json.dumps({"rune": str(RUNE_BIN), "pod": {
            "agent_bundle": str(bundle), "agent_root": str(pods), "agent_ctl": str(CTL_BIN)}}))
        yield {"settings": settings, "refs": refs, "archives": archives, "pods": pods,
               "ctl": CTL_BIN}


@pytest.mark.parametrize("cri_env", ["rune-cc"], indirect=True)
def test_confidential_pods_through_the_cri(cri_env, cc_setup):
    """Two pods with the rune-cc handler at once: each sandbox brings its own enclave-agent,
    each container runs on its image as its pod's agent pulled it (the agent's view), and the
    pods' agents know only their own pod's images."""
    c = cri_env
    pods, apps = {}, {}
    for p in ("a", "b"):
        pods[p] = c.run_pod(f"cc-{p}")
    for p, (pod_id, pconf) in pods.items():
        apps[p] = c.run_container(pod_id, pconf, f"app-{p}", ["/bin/busybox", "sleep", "3600"],
                                  image=cc_setup["refs"][p])
    for p in ("a", "b"):
        res = c.client.exec_sync(apps[p], ["/bin/sh", "-c",
                                           "cat /etc/pod-image; busybox grep ' / ' /proc/mounts"
                                           " | busybox cut -d' ' -f3"])
        assert res == {"stdout": f"marker-{p}\nfuse.store\n".encode(), "stderr": b"",
                       "exit_code": 0}, res
    for p, q in (("a", "b"), ("b", "a")):
        sock = cc_setup["pods"] / pod_dir_name(pods[p][0]) / "agent/rootfs/run/enclave-agent.sock"
        res = subprocess.run([str(cc_setup["ctl"]), "-c", f"unix://{sock}", "list", "--json"],
                             capture_output=True, text=True, timeout=60)
        assert res.returncode == 0, res.stderr
        assert apps[p] in res.stdout and apps[q] not in res.stdout, res.stdout
    for p in ("a", "b"):
        c.client.stop_container(apps[p])
        c.client.remove_container(apps[p])
        c.client.stop_pod_sandbox(pods[p][0])
        c.client.remove_pod_sandbox(pods[p][0])
    # the pods' agents and their directories go with their sandboxes
    assert list(cc_setup["pods"].iterdir()) == []
