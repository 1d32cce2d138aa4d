"""Real clients of an OCI runtime: podman and containerd (ctr) drive the runtime under test.

Both run with private state in the test's work directory. The state they insist on keeping in
fixed host places (/run/containers, /run/containerd, /var/lib/containers, the runtime's default
--root used by podman's exit hook) lands on tmpfs mounts that exist only in the suite's private
mount namespace and are removed at teardown.
"""

import json
import os
import shutil
import tarfile
from pathlib import Path

import pytest

from conftest import PAL_DIR, find_cgroup_dirs, is_rune, pid_alive, remove_cgroup_tree, wait_until
from containerd_env import private_containerd, unmount_under

ULIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]


def hide_host_state(mounts, workdir):
    """tmpfs over /run and /var/lib for this test only (private mount namespace)."""
    for target in ("/run", "/var/lib"):
        mounts.mount("-t", "tmpfs", "-o", "mode=755", "tmpfs", target=target)


# ---------------------------------------------------------------------------------- podman


class Podman:
    def __init__(self, rune, base):
        self.rune = rune
        self.base = base
        self.exe = shutil.which("podman")
        self.parent = f"/rune-it-pm-{rune.tag[:12]}"
        self.globals = [
            "--root", base / "root", "--runroot", base / "runroot", "--tmpdir", base / "libpod",
            "--network-config-dir", base / "networks", "--cgroup-manager", "cgroupfs",
            "--events-backend", "file", "--runtime", rune.binary]
        # conmon does not pass our environment on: the trusted PAL directory goes as a flag.
        if is_rune():
            self.globals += ["--runtime-flag", f"enclave-runtime-dirs={PAL_DIR}"]
        # No --runtime-flag root=...: podman's exit hook (`podman container cleanup`) would not
        # pass it on. The runtime's default root is on the tmpfs over /run instead.
        self.runtime_root = Path("/run") / rune.name

    def __call__(self, *args, timeout=120, **kw):
        return self.rune.cmd(*self.globals, *args, binary=self.exe, root=False, timeout=timeout,
                             env={"TMPDIR": str(self.base / "tmp")}, **kw)

    def run_args(self, *extra):
        return ["run", "--network", "none", "--cgroup-parent", self.parent, *ULIMITS, *extra]


@pytest.fixture
def podman(rune, bundle, workdir, mounts):
    if not shutil.which("podman"):
        pytest.skip("podman is not installed")
    hide_host_state(mounts, workdir)
    base = workdir / "podman"
    (base / "tmp").mkdir(parents=True)
    pm = Podman(rune, base)
    # A local image from a busybox rootfs: no registry, no network.
    rootfs = bundle(name="image").rootfs
    tarball = workdir / "rootfs.tar"
    with tarfile.open(tarball, "w") as tar:
        tar.add(rootfs, arcname=".")
    pm.image = f"localhost/rit-busybox:{rune.tag[:8]}"
    res = pm("import", tarball, pm.image)
    assert res.rc == 0, res
    yield pm
    pm("rm", "--all", "--force", "--time", "0")
    parents = find_cgroup_dirs(pm.parent.lstrip("/"))
    libpod = [os.path.join(path, d) for top in parents for path, dirs, _ in os.walk(top)
              for d in dirs if d.startswith("libpod-")]
    unmount_under(base)
    for d in parents:  # podman's own parent and conmon cgroups
        remove_cgroup_tree(d)
    assert libpod == [], f"container cgroups left behind: {libpod}"


def test_podman_run_echo(podman):
    res = podman(*podman.run_args("--rm"), podman.image, "echo", "hello")
    assert res.rc == 0, res
    assert res.out == "hello\n"


def test_podman_exit_code(podman):
    res = podman(*podman.run_args("--rm"), podman.image, "sh", "-c", "exit 5")
    assert res.rc == 5, res


def test_podman_detached_exec_stop_rm(podman):
    name = podman.rune.new_id("pm")
    res = podman(*podman.run_args("-d", "--name", name), podman.image, "sleep", "3600")
    assert res.rc == 0, res
    ctr_id = res.out.strip()
    assert (podman.runtime_root / ctr_id).is_dir()
    res = podman("exec", name, "sh", "-c", "echo in-exec; cat /proc/1/cmdline")
    assert res.rc == 0, res
    assert res.out.startswith("in-exec\nsleep")
    res = podman("inspect", "--format", "{{.State.Pid}}", name)
    pid = int(res.out)
    assert pid_alive(pid)
    res = podman("kill", name)
    assert res.rc == 0, res
    wait_until(lambda: not pid_alive(pid), what="container to die")
    res = podman("rm", name)
    assert res.rc == 0, res
    assert not (podman.runtime_root / ctr_id).exists()


# ---------------------------------------------------------------------------------- containerd

class Ctr:
    def __init__(self, rune, base):
        self.rune = rune
        self.base = base
        self.exe = shutil.which("ctr")
        self.namespace = f"rit-{rune.tag[:12]}"

    def __call__(self, *args, timeout=120, **kw):
        return self.rune.cmd("-a", self.base / "containerd.sock", "-n", self.namespace, *args,
                             binary=self.exe, root=False, timeout=timeout, **kw)

    def run(self, rootfs, cid, *argv, extra=()):
        return self("run", "--runc-binary", self.rune.binary, "--runc-root",
                    self.base / "runtime-root", "--fifo-dir", self.base / "fifo",
                    "--cgroup", f"/{cid}", *extra, "--rootfs", rootfs, cid, *argv)


@pytest.fixture
def ctr(rune, workdir, mounts):
    for exe in ("containerd", "ctr"):
        if not shutil.which(exe):
            pytest.skip(f"{exe} is not installed")
    hide_host_state(mounts, workdir)
    base = workdir / "containerd"
    with private_containerd(rune, base, Ctr(rune, base)) as c:
        yield c


def test_ctr_run_echo(ctr, bundle):
    rootfs = bundle(name="ctr-rootfs").rootfs
    cid = ctr.rune.new_id("ctr")
    res = ctr.run(rootfs, cid, "/bin/sh", "-c", "echo hello; cat /proc/self/cgroup",
                  extra=["--rm"])
    assert res.rc == 0, res
    lines = res.out.splitlines()
    assert lines[0] == "hello"
    assert any(line.endswith(f":/{cid}") for line in lines[1:]), res
    assert ctr("containers", "list", "--quiet").out.split() == []


def test_ctr_exit_code(ctr, bundle):
    rootfs = bundle(name="ctr-rootfs").rootfs
    res = ctr.run(rootfs, ctr.rune.new_id("ctr"), "/bin/sh", "-c", "exit 3", extra=["--rm"])
    assert res.rc == 3, res


def test_ctr_detached_exec_kill(ctr, bundle):
    rootfs = bundle(name="ctr-rootfs").rootfs
    cid = ctr.rune.new_id("ctr")
    res = ctr.run(rootfs, cid, "/bin/sleep", "3600", extra=["--detach", "--null-io"])
    assert res.rc == 0, res
    res = ctr("tasks", "list")
    assert cid in res.out and "RUNNING" in res.out, res
    res = ctr("tasks", "exec", "--exec-id", "e1", cid, "/bin/sh", "-c", "echo from-exec")
    assert res.rc == 0 and res.out == "from-exec\n", res
    pid = int([line.split()[1] for line in ctr("tasks", "list").out.splitlines()
               if line.startswith(cid)][0])
    assert pid_alive(pid)
    assert ctr("tasks", "kill", "--signal", "SIGKILL", cid).rc == 0
    wait_until(lambda: not pid_alive(pid), what="task to die")
    assert ctr("tasks", "delete", cid).rc == 0
    assert ctr("containers", "delete", cid).rc == 0
    assert not (ctr.base / "runtime-root" / ctr.namespace / cid).exists()


# ----------------------------------------------------- enclave containers, podman and containerd

def skeleton_env(client, flag="-e"):
    # The skeleton installed in a directory rune trusts (conftest.PAL_DIR): podman passes it
    # with --runtime-flag, containerd's shims inherit RUNE_ENCLAVE_RUNTIME_DIRS.
    pal = PAL_DIR / "liberpal-skeleton.so"
    if not client.rune.name == "rune" or not pal.exists():
        pytest.skip(f"enclave containers need rune and its skeleton PAL ({pal})")
    return [flag, "ENCLAVE_TYPE=simulated", flag, f"ENCLAVE_RUNTIME_PATH={pal}",
            flag, "ENCLAVE_RUNTIME_LOGLEVEL=off"]


def test_podman_enclave_run(podman):
    """The upstream user's way in: `-e ENCLAVE_TYPE=... -e ENCLAVE_RUNTIME_PATH=...`."""
    env = skeleton_env(podman)
    res = podman(*podman.run_args("--rm", *env), podman.image, "sh", "-c",
                 "echo in-enclave; env | grep -c ^ENCLAVE_; exit 7")
    assert res.rc == 7, res
    assert res.out == "in-enclave\n0\n", res


def test_podman_enclave_exec_and_kill(podman):
    env = skeleton_env(podman)
    name = podman.rune.new_id("pe")
    res = podman(*podman.run_args("-d", "--name", name, *env), podman.image, "sleep", "3600")
    assert res.rc == 0, res
    ctr_id = res.out.strip()
    state = json.loads(podman.rune.cmd("--root", podman.runtime_root, "state", ctr_id,
                                       root=False).out)
    assert Path(f"/proc/{state['pid']}/comm").read_text().strip() == "enclave-init"
    res = podman("exec", name, "sh", "-c", "echo \"in exec: $1\"; exit 3", "sh", "a  b")
    assert (res.rc, res.out) == (3, "in exec: a  b\n"), res
    res = podman("kill", name)
    assert res.rc == 0, res
    wait_until(lambda: not pid_alive(state["pid"]), what="the enclave container to stop")
    res = podman("rm", name)
    assert res.rc == 0, res


def test_ctr_enclave_run_exec_kill(ctr, bundle):
    env = skeleton_env(ctr, flag="--env")
    rootfs = bundle(name="ctr-rootfs").rootfs
    res = ctr.run(rootfs, ctr.rune.new_id("ctr"), "/bin/sh", "-c",
                  "echo in-enclave; env | grep -c ^ENCLAVE_; exit 4", extra=["--rm", *env])
    assert (res.rc, res.out) == (4, "in-enclave\n0\n"), res
    cid = ctr.rune.new_id("ctr")
    res = ctr.run(rootfs, cid, "/bin/sleep", "3600", extra=["--detach", "--null-io", *env])
    assert res.rc == 0, res
    res = ctr("tasks", "exec", "--exec-id", "e1", cid, "/bin/sh", "-c", "echo from-exec; exit 2")
    assert (res.rc, res.out) == (2, "from-exec\n"), res
    pid = int([line.split()[1] for line in ctr("tasks", "list").out.splitlines()
               if line.startswith(cid)][0])
    assert Path(f"/proc/{pid}/comm").read_text().strip() == "enclave-init"
    assert ctr("tasks", "kill", cid).rc == 0  # SIGTERM, through pal_kill to the payload
    wait_until(lambda: not pid_alive(pid), what="the enclave task to stop")
    assert ctr("tasks", "delete", cid).rc == 0
    assert ctr("containers", "delete", cid).rc == 0
