"""containerd-shim-rune-v2 driven by Debian's containerd 1.6: `ctr run --runtime
io.containerd.rune.v2` for plain and enclave containers (lifecycle, exec, kill, exit statuses,
events, logs, pause/resume, terminals), and what it leaves behind (processes, mounts, shims).

containerd runs with private state in the test's directory (test_clients.py's fixture setup) and
finds the shim on its PATH; the shim's settings file names the rune under test and a rune root
of the test's own.
"""

import contextlib
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from conftest import PAL_DIR, is_rune, mount_points, pid_alive, tagged_pids, wait_until
from containerd_env import private_containerd, shim_pids
from test_clients import Ctr, hide_host_state

RUNTIME = "io.containerd.rune.v2"


def shim_binary():
    rune = Path(os.environ.get("RUNE_BIN", "")).resolve()
    shim = rune.parent.parent / "containerd-shim-rune-v2" / "containerd-shim-rune-v2"
    return shim if shim.exists() else None


class ShimCtr(Ctr):
    """ctr against a private containerd whose PATH holds the rune shim."""

    def __init__(self, rune, base):
        super().__init__(rune, base)
        self.settings = base / "shim.json"
        self.rune_root = base / "rune-root"

    def run(self, rootfs, cid, *argv, extra=()):
        return self("run", "--runtime", RUNTIME, "--runtime-config-path", self.settings,
                    "--fifo-dir", self.base / "fifo", "--cgroup", f"/{cid}", *extra,
                    "--rootfs", rootfs, cid, *argv)

    def task_pid(self, cid):
        for line in self("tasks", "list").out.splitlines():
            if line.split()[:1] == [cid]:
                return int(line.split()[1])
        return None

    def shim_pids(self):
        return shim_pids(self.rune.tag, b"containerd-shim-rune")


@pytest.fixture
def sctr(request, rune, workdir, mounts):
    if not is_rune():
        pytest.skip("the rune shim runs rune")
    for exe in ("containerd", "ctr"):
        if not shutil.which(exe):
            pytest.skip(f"{exe} is not installed")
    shim = shim_binary()
    if not shim:
        pytest.skip("containerd-shim-rune-v2 is not built next to RUNE_BIN")
    hide_host_state(mounts, workdir)
    base = workdir / "containerd"
    c = ShimCtr(rune, base)
    path = f"{shim.parent}:{os.environ.get('PATH', '/usr/bin:/bin')}"
    if getattr(request, "param", None) == "publish":
        # containerd always gives its shims TTRPC_ADDRESS; without it the shim must publish
        # its events with `containerd publish`, as the protocol's first shims did.
        wrap = workdir / "shim-wrapper"
        wrap.mkdir()
        (wrap / shim.name).write_text(f"#!/bin/sh\nunset TTRPC_ADDRESS\nexec {shim} \"$@\"\n")
        (wrap / shim.name).chmod(0o755)
        path = f"{wrap}:{path}"
    env = rune.env({"PATH": path})
    c.events = getattr(request, "param", None) or "ttrpc"
    with private_containerd(rune, base, c, env=env):
        c.settings.write_text(json.dumps({"rune": str(rune.binary), "root": str(c.rune_root)}))
        yield c


def no_leftovers(sctr, cid):
    """After a task's delete: no shim, no rune state, no mounts under the state dirs."""
    wait_until(lambda: not sctr.shim_pids(), what="the shim to exit")
    assert not (sctr.rune_root / sctr.namespace / cid).exists()
    assert [m for m in mount_points() if m.startswith(str(sctr.base))] == []


def test_run_echo_and_exit_status(sctr, bundle):
    rootfs = bundle(name="ctr-rootfs").rootfs
    cid = sctr.rune.new_id("shim")
    res = sctr.run(rootfs, cid, "/bin/sh", "-c", "echo hello; echo to-stderr >&2; exit 3",
                   extra=["--rm"])
    assert res.rc == 3, res
    assert res.out == "hello\n", res
    assert "to-stderr" in res.err, res
    assert sctr("containers", "list", "--quiet").out.split() == []
    no_leftovers(sctr, cid)


def test_stdin_reaches_the_process(sctr, bundle):
    rootfs = bundle(name="ctr-rootfs").rootfs
    cid = sctr.rune.new_id("shim")
    res = sctr.rune.cmd("-a", sctr.base / "containerd.sock", "-n", sctr.namespace, "run",
                        "--runtime", RUNTIME, "--runtime-config-path", sctr.settings,
                        "--fifo-dir", sctr.base / "fifo", "--cgroup", f"/{cid}", "--rm",
                        "--rootfs", rootfs, cid, "/bin/sh", "-c", "tr a-z A-Z; echo done",
                        binary=sctr.exe, root=False, input="hello shim\n", timeout=60)
    assert (res.rc, res.out) == (0, "HELLO SHIM\ndone\n"), res


def test_detached_lifecycle_exec_ps_pause_metrics_kill(sctr, bundle):
    rootfs = bundle(name="ctr-rootfs").rootfs
    cid = sctr.rune.new_id("shim")
    res = sctr.run(rootfs, cid, "/bin/sh", "-c",
                   "trap 'exit 7' TERM; while :; do sleep 0.1; done",
                   extra=["--detach", "--null-io"])
    assert res.rc == 0, res
    pid = sctr.task_pid(cid)
    assert pid and pid_alive(pid)
    assert "RUNNING" in sctr("tasks", "list").out
    # exec: output, exit status, stdin
    res = sctr("tasks", "exec", "--exec-id", "e1", cid, "/bin/sh", "-c",
               "echo from-exec; echo err-exec >&2; exit 5")
    assert (res.rc, res.out) == (5, "from-exec\n"), res
    assert "err-exec" in res.err
    res = sctr("tasks", "exec", "--exec-id", "e2", cid, "/bin/sh", "-c", "cat; echo end",
               input="piped\n")
    assert (res.rc, res.out) == (0, "piped\nend\n"), res
    # the same exec id again, once the first is gone
    res = sctr("tasks", "exec", "--exec-id", "e1", cid, "/bin/true")
    assert res.rc == 0, res
    # ps: the init's host pid is listed
    res = sctr("tasks", "ps", cid)
    assert res.rc == 0 and str(pid) in res.out.split(), res
    # pause and resume: the state and the processes' freezer follow
    assert sctr("tasks", "pause", cid).rc == 0
    assert "PAUSED" in sctr("tasks", "list").out
    wait_until(lambda: "T" in open(f"/proc/{pid}/stat").read().split()[2]
               or "D" in open(f"/proc/{pid}/stat").read().split()[2],
               what="the init to be frozen")
    assert sctr("tasks", "resume", cid).rc == 0
    assert "RUNNING" in sctr("tasks", "list").out
    # metrics come from rune's cgroup stats
    res = sctr("tasks", "metrics", "--format", "json", cid)
    assert res.rc == 0, res
    metrics = json.loads(res.out)
    assert metrics["pids"]["current"] >= 1, metrics
    assert metrics["memory"]["usage"]["usage"] > 0, metrics
    # kill: SIGTERM reaches the payload, which exits 7
    assert sctr("tasks", "kill", cid).rc == 0
    wait_until(lambda: not pid_alive(pid), what="the task to stop")
    wait_until(lambda: "STOPPED" in sctr("tasks", "list").out, what="STOPPED")
    res = sctr("tasks", "delete", cid)
    assert res.rc == 0, res
    assert "non-zero exit code 7" in res.err, res  # ctr's report of the deleted task
    assert sctr("containers", "delete", cid).rc == 0
    no_leftovers(sctr, cid)
    assert [p for p in tagged_pids(sctr.rune.tag) if p != sctr.daemon_pid] == [], \
        "a container process outlived its task"


@pytest.mark.parametrize("sctr", ["ttrpc", "publish"], indirect=True)
def test_events_in_order(sctr, bundle):
    """Events reach containerd in the order they happen: through containerd's ttrpc Forward,
    or, when the shim has no ttrpc address, through `containerd publish`."""
    rootfs = bundle(name="ctr-rootfs").rootfs
    cid = sctr.rune.new_id("shim")
    events = subprocess.Popen([sctr.exe, "-a", sctr.base / "containerd.sock", "events"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              env=sctr.rune.env(), start_new_session=True)
    try:
        time.sleep(0.5)  # subscribed
        assert sctr.run(rootfs, cid, "/bin/sleep", "3600",
                        extra=["--detach", "--null-io"]).rc == 0
        shims = sctr.shim_pids()
        assert len(shims) == 1, shims
        environ = Path(f"/proc/{shims[0]}/environ").read_bytes().split(b"\0")
        has_ttrpc = any(v.startswith(b"TTRPC_ADDRESS=") for v in environ)
        assert has_ttrpc == (sctr.events == "ttrpc"), environ
        assert sctr("tasks", "exec", "--exec-id", "x1", cid, "/bin/sh", "-c",
                    "exit 4").rc == 4
        assert sctr("tasks", "pause", cid).rc == 0
        assert sctr("tasks", "resume", cid).rc == 0
        assert sctr("tasks", "kill", "--signal", "SIGKILL", cid).rc == 0
        wait_until(lambda: "STOPPED" in sctr("tasks", "list").out, what="STOPPED")
        assert sctr("tasks", "delete", cid).rc == 0
        time.sleep(1)
    finally:
        events.terminate()
        out = events.communicate(timeout=10)[0].decode()
    mine = [line for line in out.splitlines() if sctr.namespace in line and "/tasks/" in line]
    topics = [next(w for w in line.split() if w.startswith("/tasks/")) for line in mine]
    assert topics == ["/tasks/create", "/tasks/start", "/tasks/exec-added",
                      "/tasks/exec-started", "/tasks/exit", "/tasks/paused", "/tasks/resumed",
                      "/tasks/exit", "/tasks/delete"], out
    exits = [json.loads(line[line.index("{"):]) for line in mine if "/tasks/exit" in line]
    assert exits[0]["exit_status"] == 4 and exits[0]["id"] == "x1", exits
    assert exits[1]["exit_status"] == 137 and exits[1]["id"] == cid, exits


def wait_stopped(sctr, cid):
    wait_until(lambda: any(line.split()[:1] == [cid] and "STOPPED" in line
                           for line in sctr("tasks", "list").out.splitlines()),
               what=f"{cid} to stop")


def test_log_uri_file_and_binary(sctr, bundle, workdir):
    rootfs = bundle(name="ctr-rootfs").rootfs
    cid = sctr.rune.new_id("shim")
    log = workdir / "logs" / "out.log"
    res = sctr.run(rootfs, cid, "/bin/sh", "-c", "echo to-file; echo err-file >&2",
                   extra=["--detach", "--log-uri", f"file://{log}"])
    assert res.rc == 0, res
    wait_stopped(sctr, cid)
    assert sorted(log.read_text().splitlines()) == ["err-file", "to-file"]
    assert sctr("tasks", "delete", cid).rc == 0
    assert sctr("containers", "delete", cid).rc == 0

    # A logging binary: stdout on its fd 3, stderr on 4, ready when fd 5 closes; it gets the
    # container's id and namespace in its environment and its query as arguments.
    logger = workdir / "logger.sh"
    logger.write_text("#!/bin/sh\nexec 5>&-\n"
                      "echo \"$CONTAINER_ID $CONTAINER_NAMESPACE $*\" > \"$2.meta\"\n"
                      "cat <&3 > \"$2.out\" & cat <&4 > \"$2.err\"; wait\n")
    logger.chmod(0o755)
    dest = workdir / "logs" / "bin"
    cid = sctr.rune.new_id("shim")
    res = sctr.run(rootfs, cid, "/bin/sh", "-c", "echo to-logger; echo err-logger >&2",
                   extra=["--detach", "--log-uri", f"binary://{logger}?path={dest}"])
    assert res.rc == 0, res
    wait_stopped(sctr, cid)
    wait_until(lambda: Path(f"{dest}.err").exists() and Path(f"{dest}.err").read_text(),
               what="the logger's output")
    assert Path(f"{dest}.out").read_text() == "to-logger\n"
    assert Path(f"{dest}.err").read_text() == "err-logger\n"
    assert Path(f"{dest}.meta").read_text() == f"{cid} {sctr.namespace} path {dest}\n"
    assert sctr("tasks", "delete", cid).rc == 0


def test_terminal_and_its_size(sctr, bundle):
    import pty
    import fcntl
    import struct
    import termios
    rootfs = bundle(name="ctr-rootfs").rootfs
    cid = sctr.rune.new_id("shim")
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 77, 0, 0))
    argv = [sctr.exe, "-a", sctr.base / "containerd.sock", "-n", sctr.namespace, "run",
            "--runtime", RUNTIME, "--runtime-config-path", sctr.settings, "--fifo-dir",
            sctr.base / "fifo", "--cgroup", f"/{cid}", "--rm", "-t", "--rootfs", rootfs, cid,
            "/bin/sh", "-c",
            # ctr resizes the terminal after the start: wait for its size to arrive (busybox's
            # stty fails on a terminal of size 0x0)
            "tty; i=0; while [ $i -lt 200 ]; do s=$(stty size 2>/dev/null); "
            "[ -n \"$s\" ] && [ \"$s\" != '0 0' ] && break; sleep 0.05; i=$((i+1)); done; "
            "stty size; exit 6"]
    p = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=sctr.rune.env(),
                         start_new_session=True)
    os.close(slave)
    out = b""
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    rc = p.wait(30)
    os.close(master)
    text = out.decode(errors="replace").replace("\r", "")
    assert rc == 6, text
    assert "/dev/pts/" in text, text
    assert "33 77" in text, text


def test_image_rootfs_from_the_snapshotter(sctr, bundle, workdir):
    """Without --rootfs containerd sends an overlay snapshot the shim mounts as the rootfs."""
    import io
    import tarfile
    from registry import make_oci_image
    if not shutil.which("skopeo"):
        pytest.skip("skopeo is not installed")
    rootfs = bundle(name="ctr-rootfs").rootfs
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        t.add(rootfs, arcname=".")
    make_oci_image(workdir / "img", [buf.getvalue()])
    archive = workdir / "img.tar"
    res = sctr.rune.cmd("copy", "oci:" + str(workdir / "img") + ":latest",
                        f"docker-archive:{archive}:localhost/shim-test:latest",
                        binary=shutil.which("skopeo"), root=False, timeout=120)
    assert res.rc == 0, res
    assert sctr("images", "import", archive).rc == 0
    cid = sctr.rune.new_id("shim")
    res = sctr("run", "--runtime", RUNTIME, "--runtime-config-path", sctr.settings,
               "--fifo-dir", sctr.base / "fifo", "--cgroup", f"/{cid}", "--rm",
               "localhost/shim-test:latest", cid, "/bin/sh", "-c",
               "grep ' / ' /proc/mounts | cut -d' ' -f3; echo from-image")
    assert res.rc == 0, res
    assert res.out.split() == ["overlay", "from-image"], res
    no_leftovers(sctr, cid)


def test_errors_are_one_line_and_leave_nothing(sctr, bundle, workdir):
    rootfs = bundle(name="ctr-rootfs").rootfs
    cid = sctr.rune.new_id("shim")
    res = sctr.run(rootfs, cid, "/no/such/program", extra=["--rm"])
    assert res.rc != 0
    assert "/no/such/program" in res.err, res
    # a settings file that is not there, and one that is not JSON
    cid2 = sctr.rune.new_id("shim")
    res = sctr("run", "--runtime", RUNTIME, "--runtime-config-path", workdir / "absent.json",
               "--fifo-dir", sctr.base / "fifo", "--rm", "--rootfs", rootfs, cid2, "/bin/true")
    assert res.rc != 0 and "absent.json" in res.err, res
    bad = workdir / "bad.json"
    bad.write_text("{\"rune\": 3}")
    res = sctr("run", "--runtime", RUNTIME, "--runtime-config-path", bad,
               "--fifo-dir", sctr.base / "fifo", "--rm", "--rootfs", rootfs, cid2, "/bin/true")
    assert res.rc != 0 and "bad.json" in res.err and "rune" in res.err, res
    for c in (cid, cid2):
        sctr("containers", "delete", c)
    wait_until(lambda: not sctr.shim_pids(), what="the shims to exit")
    assert [m for m in mount_points() if m.startswith(str(sctr.base))] == []


def test_one_shim_serves_a_group(sctr, bundle):
    """Containers sharing a group annotation (as the CRI's sandbox id does) share one shim."""
    rootfs = bundle(name="ctr-rootfs").rootfs
    ids = [sctr.rune.new_id("grp") for _ in range(2)]
    for cid in ids:
        res = sctr.run(rootfs, cid, "/bin/sleep", "3600",
                       extra=["--detach", "--null-io", "--annotation",
                              f"io.containerd.rune.v2.group={ids[0]}"])
        assert res.rc == 0, res
    assert len(sctr.shim_pids()) == 1
    for cid in ids:
        assert sctr("tasks", "kill", "--signal", "SIGKILL", cid).rc == 0
    for cid in ids:
        wait_stopped(sctr, cid)
        assert sctr("tasks", "delete", cid).rc == 0
        assert sctr("containers", "delete", cid).rc == 0
    wait_until(lambda: not sctr.shim_pids(), what="the group's shim to exit")


def skeleton_flags(sctr):
    pal = PAL_DIR / "liberpal-skeleton.so"
    if not pal.exists():
        pytest.skip(f"enclave containers need the skeleton PAL ({pal})")
    return ["--env", "ENCLAVE_TYPE=simulated", "--env", f"ENCLAVE_RUNTIME_PATH={pal}",
            "--env", "ENCLAVE_RUNTIME_LOGLEVEL=off"]


def test_enclave_container(sctr, bundle):
    env = skeleton_flags(sctr)
    rootfs = bundle(name="ctr-rootfs").rootfs
    res = sctr.run(rootfs, sctr.rune.new_id("enc"), "/bin/sh", "-c",
                   "echo in-enclave; env | grep -c ^ENCLAVE_; exit 4", extra=["--rm", *env])
    assert (res.rc, res.out) == (4, "in-enclave\n0\n"), res
    cid = sctr.rune.new_id("enc")
    res = sctr.run(rootfs, cid, "/bin/sleep", "3600", extra=["--detach", "--null-io", *env])
    assert res.rc == 0, res
    res = sctr("tasks", "exec", "--exec-id", "e1", cid, "/bin/sh", "-c",
               "echo from-exec; exit 2")
    assert (res.rc, res.out) == (2, "from-exec\n"), res
    pid = sctr.task_pid(cid)
    assert Path(f"/proc/{pid}/comm").read_text().strip() == "enclave-init"
    assert sctr("tasks", "kill", cid).rc == 0  # SIGTERM, through pal_kill to the payload
    wait_until(lambda: not pid_alive(pid), what="the enclave task to stop")
    wait_stopped(sctr, cid)
    assert sctr("tasks", "delete", cid).rc == 0
    assert sctr("containers", "delete", cid).rc == 0
    no_leftovers(sctr, cid)


# ------------------------------------------------------------------------ confidential pods

CRI_TYPE = "io.kubernetes.cri.container-type"


def pod_dir_name(sandbox_id):
    """A pod's directory under pod.agent_root: 16 hex digits of its sandbox id's SHA-256."""
    import hashlib
    return hashlib.sha256(sandbox_id.encode()).hexdigest()[:16]


CRI_SANDBOX = "io.kubernetes.cri.sandbox-id"
CRI_IMAGE = "io.kubernetes.cri.image-name"


@pytest.fixture
def pod_settings(sctr, workdir):
    """Shim settings with a pod section: the agent bundle (an enclave container through the
    skeleton, its store encrypted), a pods directory of the test's own, agent-ctl."""
    from test_agent import CTL_BIN
    with pod_agent_bundle(workdir) as (reg, bundle):
        settings = workdir / "pod-shim.json"
        pods = workdir / "pods"
        settings.write_text(json.dumps({
            "rune": str(sctr.rune.binary), "root": str(sctr.rune_root),
            "pod": {"agent_bundle": str(bundle), "agent_root": str(pods),
                    "agent_ctl": str(CTL_BIN), "start_timeout_s": 60}}))
        yield {"settings": settings, "pods": pods, "registry": reg, "ctl": CTL_BIN}


@contextlib.contextmanager
def pod_agent_bundle(workdir):
    """For confidential pods: a registry on loopback and an agent bundle (the agent in a
    simulated enclave through the skeleton PAL, its store encrypted under a sealed key) that
    may pull from it; skips when FUSE, docker-registry or the PAL is missing."""
    import sys
    import registry as R
    from conftest import REPO, build_path
    from test_registry_fixtures import need
    from test_store_view import fuse_usable
    why = fuse_usable()
    if why:
        pytest.skip(why)
    need("registry")
    pal = PAL_DIR / "liberpal-skeleton.so"
    if not pal.exists():
        pytest.skip(f"a pod's agent runs in an enclave through the skeleton PAL ({pal})")
    reg = R.Registry("anonymous", tmp_parent=workdir)
    reg.start()
    try:
        bundle = workdir / "agent-bundle"
        res = subprocess.run([sys.executable, str(REPO / "scripts/agent_bundle.py"), "--build",
                              str(build_path()), "--out", str(bundle), "--pal", str(pal),
                              f"--agent-arg=--insecure-registry={reg.host}",
                              "--agent-arg=--store-key=sealed"],
                             capture_output=True, text=True, timeout=120)
        assert res.returncode == 0, res.stderr
        yield reg, bundle
    finally:
        reg.stop()


def push_image(workdir, reg, name, marker):
    import registry as R
    from registry import F
    from test_image_pull import busybox_layers
    layers = busybox_layers()
    layers.append([F("etc/pod-image", marker + "\n")])
    R.make_oci_image(workdir / f"img-{name}", layers, tag="v1")
    R.push(workdir / f"img-{name}", "v1", reg, repo=f"pods/{name}")
    return f"{reg.host}/pods/{name}:v1"


def pod_run(sctr, settings, rootfs, cid, annotations, *argv, detach=False):
    flags = ["--runtime", RUNTIME, "--runtime-config-path", settings, "--fifo-dir",
             sctr.base / "fifo", "--cgroup", f"/{cid}"]
    for k, v in annotations.items():
        flags += ["--annotation", f"{k}={v}"]
    flags += ["--detach", "--null-io"] if detach else ["--rm"]
    return sctr("run", *flags, "--rootfs", rootfs, cid, *argv)


def test_confidential_pods_each_with_its_own_agent(sctr, bundle, workdir, pod_settings):
    """Two pods at once: each sandbox's shim starts the pod's own agent; each container's image
    is pulled by its pod's agent into that agent's encrypted store and served as its rootfs;
    neither pod's agent knows the other's images, nor is reachable from the other pod."""
    settings, reg = pod_settings["settings"], pod_settings["registry"]
    rootfs = bundle(name="ctr-rootfs").rootfs
    refs = {p: push_image(workdir, reg, p, f"marker-of-{p}") for p in ("a", "b")}
    sandboxes = {p: sctr.rune.new_id(f"sb{p}") for p in ("a", "b")}
    apps = {p: sctr.rune.new_id(f"app{p}") for p in ("a", "b")}
    for p, sid in sandboxes.items():
        res = pod_run(sctr, settings, rootfs, sid, {CRI_TYPE: "sandbox", CRI_SANDBOX: sid},
                      "/bin/sleep", "3600", detach=True)
        assert res.rc == 0, res
    socks = {p: pod_settings["pods"] / pod_dir_name(sid) / "agent/rootfs/run/enclave-agent.sock"
             for p, sid in sandboxes.items()}
    assert all(s.is_socket() for s in socks.values()), socks
    for p, sid in sandboxes.items():
        res = pod_run(sctr, settings, rootfs, apps[p],
                      {CRI_TYPE: "container", CRI_SANDBOX: sid, CRI_IMAGE: refs[p]},
                      "/bin/busybox", "sleep", "3600", detach=True)
        assert res.rc == 0, res
    # Both pods run at once, each app on its own image, served by its own agent.
    for p in ("a", "b"):
        res = sctr("tasks", "exec", "--exec-id", "look", apps[p], "/bin/sh", "-c",
                   "cat /etc/pod-image; busybox find / -xdev -type s | busybox wc -l; "
                   "busybox grep ' / ' /proc/mounts | busybox cut -d' ' -f3")
        assert res.rc == 0, res
        lines = res.out.split()
        assert lines[0] == f"marker-of-{p}", res
        assert lines[1] == "0", res  # no socket at all in the app's root: no agent to reach
        assert lines[-1].startswith("fuse"), res  # the agent's view, not the host snapshot
    for p, q in (("a", "b"), ("b", "a")):
        res = subprocess.run([str(pod_settings["ctl"]), "-c", f"unix://{socks[p]}", "list",
                              "--json"], capture_output=True, text=True, timeout=60)
        assert res.returncode == 0, res.stderr
        assert apps[p] in res.stdout and apps[q] not in res.stdout, res.stdout
    # Each pod's directory is root's alone; the agents listen on their own sockets only.
    for p, sid in sandboxes.items():
        assert (pod_settings["pods"] / pod_dir_name(sid)).stat().st_mode & 0o077 == 0
    assert socks["a"] != socks["b"]
    # The store is encrypted: the image's marker is nowhere on the host in the clear.
    for p, sid in sandboxes.items():
        upper = pod_settings["pods"] / pod_dir_name(sid) / "agent/upper"
        hits = subprocess.run(["grep", "-rl", f"marker-of-{p}", str(upper)],
                              capture_output=True, text=True)
        assert hits.stdout == "", hits.stdout
    # Tear down as the CRI does: containers, then sandboxes.
    for group in (apps, sandboxes):
        for cid in group.values():
            assert sctr("tasks", "kill", "--signal", "SIGKILL", cid).rc == 0
            wait_stopped(sctr, cid)
            assert sctr("tasks", "delete", cid).rc == 0
            assert sctr("containers", "delete", cid).rc == 0
    wait_until(lambda: not sctr.shim_pids(), what="the pods' shims to exit")
    assert not any(pod_settings["pods"].iterdir()), list(pod_settings["pods"].iterdir())
    assert [m for m in mount_points() if m.startswith(str(workdir))] == []
    listed = sctr.rune.cmd("--root", sctr.rune_root / sctr.namespace, "list", "-q", root=False)
    assert listed.out.split() == [], listed


def test_confidential_pod_errors(sctr, bundle, workdir, pod_settings):
    """A pull the agent refuses fails the container's create with the agent's reason, and
    leaves the pod working; a container without the CRI's annotations is refused."""
    settings, reg = pod_settings["settings"], pod_settings["registry"]
    rootfs = bundle(name="ctr-rootfs").rootfs
    sid = sctr.rune.new_id("sbe")
    res = pod_run(sctr, settings, rootfs, sid, {CRI_TYPE: "sandbox", CRI_SANDBOX: sid},
                  "/bin/sleep", "3600", detach=True)
    assert res.rc == 0, res
    app = sctr.rune.new_id("appe")
    res = pod_run(sctr, settings, rootfs, app,
                  {CRI_TYPE: "container", CRI_SANDBOX: sid,
                   CRI_IMAGE: f"{reg.host}/pods/absent:v1"}, "/bin/true")
    assert res.rc != 0, res
    assert "pods/absent" in res.err and "NOT_FOUND" in res.err, res
    sctr("containers", "delete", app)
    ref = push_image(workdir, reg, "ok", "marker-ok")
    app2 = sctr.rune.new_id("appf")
    res = pod_run(sctr, settings, rootfs, app2,
                  {CRI_TYPE: "container", CRI_SANDBOX: sid, CRI_IMAGE: ref},
                  "/bin/cat", "/etc/pod-image")
    assert (res.rc, res.out) == (0, "marker-ok\n"), res
    res = pod_run(sctr, settings, rootfs, sctr.rune.new_id("bare"), {}, "/bin/true")
    assert res.rc != 0 and CRI_TYPE in res.err, res

    # upstream's forwarding: containerd.task.v2.Image/PullImage on the pod's shim pulls the
    # image through the pod's agent, under upstream's container id (<last segment>_<tag>)
    from test_agent import field, raw_call
    shim = type("Shim", (), {})()
    shim.addr = (sctr.base / "state/io.containerd.runtime.v2.task" / sctr.namespace / sid /
                 "address").read_text()
    code, msg, body = raw_call(shim, "containerd.task.v2.Image", "PullImage", field(1, ref))
    assert (code, msg, body) == (0, "", field(1, ref)), (code, msg)
    sock = pod_settings["pods"] / pod_dir_name(sid) / "agent/rootfs/run/enclave-agent.sock"
    res = subprocess.run([str(pod_settings["ctl"]), "-c", f"unix://{sock}", "list", "--json"],
                         capture_output=True, text=True, timeout=60)
    assert "ok_v1" in res.stdout, res
    code, msg, _ = raw_call(shim, "containerd.task.v2.Image", "PullImage", b"\x0a\x05ab")
    assert code == 3, (code, msg)  # INVALID_ARGUMENT: a length past the end
    code, msg, _ = raw_call(shim, "containerd.task.v2.Image", "PullImage",
                            field(1, f"{reg.host}/pods/absent:v1"))
    assert code != 0 and "pods/absent" in msg, (code, msg)
    assert sctr("tasks", "kill", "--signal", "SIGKILL", sid).rc == 0
    wait_stopped(sctr, sid)
    assert sctr("tasks", "delete", sid).rc == 0


def test_processes_of_a_container_without_its_own_pid_namespace_die_with_it(sctr, bundle):
    """With the host's PID namespace the init's exit does not take the container's other
    processes down: the shim kills them, as containerd's runc shim does."""
    rootfs = bundle(name="ctr-rootfs").rootfs
    cid = sctr.rune.new_id("nopidns")
    res = sctr.run(rootfs, cid, "/bin/sh", "-c", "sleep 1000 & echo $! > /tmp/bg; exit 3",
                   extra=["--detach", "--null-io", "--with-ns",
                          f"pid:/proc/{sctr.daemon_pid}/ns/pid"])
    assert res.rc == 0, res
    wait_stopped(sctr, cid)
    bg = int((rootfs / "tmp/bg").read_text())
    wait_until(lambda: not pid_alive(bg), what="the init's background process to be killed")
    assert sctr("tasks", "delete", cid).rc == 0
    assert sctr("containers", "delete", cid).rc == 0
    no_leftovers(sctr, cid)


def test_a_link_in_the_agents_root_leads_nowhere(sctr, bundle, workdir, pod_settings):
    """The shim finds the pod agent's socket inside the agent's root: a symbolic link planted
    there (by a compromised agent, here by its bundle) to a socket of the host is not followed
    out; the sandbox's create fails instead of talking to that socket."""
    import socket
    decoy_path = workdir / "decoy.sock"
    decoy = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    decoy.bind(str(decoy_path))
    decoy.listen(8)
    decoy.settimeout(0.2)
    agent_run = workdir / "agent-bundle/rootfs/run"
    agent_run.mkdir(exist_ok=True)
    os.symlink(decoy_path, agent_run / "enclave-agent.sock")
    settings = json.loads(pod_settings["settings"].read_text())
    settings["pod"]["start_timeout_s"] = 5
    pod_settings["settings"].write_text(json.dumps(settings))
    rootfs = bundle(name="ctr-rootfs").rootfs
    sid = sctr.rune.new_id("sbl")
    res = pod_run(sctr, pod_settings["settings"], rootfs, sid,
                  {CRI_TYPE: "sandbox", CRI_SANDBOX: sid}, "/bin/sleep", "3600", detach=True)
    assert res.rc != 0 and "the agent" in res.err, res
    try:
        conn, _ = decoy.accept()
        conn.close()
        raise AssertionError("the shim connected to a socket outside the agent's root")
    except socket.timeout:
        pass
    finally:
        decoy.close()
    sctr("containers", "delete", sid)
    wait_until(lambda: not sctr.shim_pids(), what="the shim to exit")
    assert not any(pod_settings["pods"].iterdir())
