"""Rootless operation: rune run by an unprivileged user, in a user namespace of its own.

The runtime is started as uid/gid 65534 (nobody) with `setpriv`; the bundle comes from its own
`spec --rootless`, so the container's root is that user. Without the privilege to mount, the
binary protection falls back to a sealed copy, and no cgroup is created.
"""

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import BUSYBOX, RUNE_BIN, pid_alive, wait_until

NOBODY = 65534


def userns_allowed():
    for path, bad in (("/proc/sys/kernel/unprivileged_userns_clone", "0"),
                      ("/proc/sys/user/max_user_namespaces", "0")):
        try:
            if Path(path).read_text().strip() == bad:
                return False
        except OSError:
            pass
    return True


pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch to an unprivileged user"),
    pytest.mark.skipif(shutil.which("setpriv") is None, reason="setpriv (util-linux) missing"),
    pytest.mark.skipif(not userns_allowed(),
                       reason="unprivileged user namespaces are disabled on this kernel"),
]


class Rootless:
    def __init__(self, workdir):
        self.dir = workdir / "rootless"
        self.bundle = self.dir / "bundle"
        (self.bundle / "rootfs" / "bin").mkdir(parents=True)
        shutil.copy2(BUSYBOX, self.bundle / "rootfs" / "bin" / "busybox")
        for applet in ("sh", "id", "cat", "sleep", "echo"):
            os.symlink("busybox", self.bundle / "rootfs" / "bin" / applet)
        # A private copy: the unprivileged user must be able to execute it wherever the
        # build tree lives.
        self.binary = self.dir / "rune"
        shutil.copy2(RUNE_BIN, self.binary)
        self.root = self.dir / "state"
        for p in [self.dir, *self.dir.rglob("*")]:
            os.lchown(p, NOBODY, NOBODY)

    def cmd(self, *args, cwd=None, timeout=30):
        argv = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                "env", f"XDG_RUNTIME_DIR={self.dir}", str(self.binary), "--root",
                str(self.root), *map(str, args)]
        # Files, not pipes: a detached container keeps its stdio open after we return.
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            proc = subprocess.run(argv, cwd=cwd or self.bundle, stdout=out, stderr=err,
                                  timeout=timeout, stdin=subprocess.DEVNULL)
            out.seek(0)
            err.seek(0)
            return subprocess.CompletedProcess(argv, proc.returncode, out.read(), err.read())

    def config(self, args):
        res = self.cmd("spec", "--rootless")
        assert res.returncode == 0, res
        path = self.bundle / "config.json"
        cfg = json.loads(path.read_text())
        cfg["process"]["terminal"] = False
        cfg["process"]["args"] = args
        path.write_text(json.dumps(cfg))
        return cfg


@pytest.fixture
def rootless(workdir):
    r = Rootless(workdir)
    yield r
    if r.root.is_dir():
        for cid in os.listdir(r.root):
            r.cmd("delete", "--force", cid)
        leftovers = os.listdir(r.root)
        assert not leftovers, f"state left under --root: {leftovers}"


def test_rootless_run(rootless):
    cfg = rootless.config(["sh", "-c", "id -u; cat /proc/self/uid_map; echo done"])
    assert cfg["linux"]["uidMappings"] == [{"containerID": 0, "hostID": NOBODY, "size": 1}]
    res = rootless.cmd("run", "r1")
    assert res.returncode == 0, res
    lines = res.stdout.split("\n")
    assert lines[0] == "0", res
    assert lines[1].split() == ["0", str(NOBODY), "1"], res
    assert lines[2] == "done", res
    assert not (rootless.root / "r1").exists()


def test_rootless_lifecycle(rootless):
    rootless.config(["sleep", "600"])
    assert rootless.cmd("create", "r2").returncode == 0
    state = json.loads(rootless.cmd("state", "r2").stdout)
    assert state["status"] == "created"
    pid = state["pid"]
    # The init runs as the unprivileged user on the host.
    assert Path(f"/proc/{pid}").stat().st_uid == NOBODY
    assert rootless.cmd("start", "r2").returncode == 0
    wait_until(lambda: json.loads(rootless.cmd("state", "r2").stdout)["status"] == "running",
               what="running")
    res = rootless.cmd("kill", "r2", "KILL")
    assert res.returncode == 0, res
    wait_until(lambda: not pid_alive(pid), what="the init to die")
    res = rootless.cmd("delete", "r2")
    assert res.returncode == 0, res
    assert not (rootless.root / "r2").exists()


def test_rootless_limits_without_a_cgroup_are_refused(rootless):
    """Skipping the cgroup is only right when nothing depends on it: asked-for limits that
    cannot be applied are an error, and nothing is left behind."""
    cfg = rootless.config(["true"])
    cfg["linux"]["resources"] = {"pids": {"limit": 10}}
    (rootless.bundle / "config.json").write_text(json.dumps(cfg))
    res = rootless.cmd("run", "r3")
    assert res.returncode == 1, res
    assert "cgroup" in res.stderr and "ermission denied" in res.stderr, res
    assert not (rootless.root / "r3").exists()


def test_rootless_false_makes_cgroup_permission_errors_fatal(rootless):
    """--rootless=false: no skipping, the cgroup rune may not create is an error."""
    rootless.config(["echo", "ran"])
    res = rootless.cmd("--rootless", "false", "run", "r4")
    assert res.returncode == 1, res
    assert "cgroup" in res.stderr and "ermission denied" in res.stderr, res
    assert not (rootless.root / "r4").exists()
    # auto (the default) and true skip it, as runc does.
    for value in ("auto", "true"):
        res = rootless.cmd("--rootless", value, "run", f"r5{value}")
        assert (res.returncode, res.stdout) == (0, "ran\n"), res
