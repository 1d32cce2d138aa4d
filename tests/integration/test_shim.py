"""containerd-shim-rune-v2 driven by Debian's containerd 1.6: `ctr run --runtime
io.containerd.rune.v2` for plain and enclave containers (lifecycle, exec, kill, exit statuses,
events, logs, pause/resume, terminals), and what it leaves behind (processes, mounts, shims).

containerd runs with private state in the test's directory (test_clients.py's fixture setup) and
finds the shim on its PATH; the shim's settings file names the rune under test and a rune root
of the test's own.
"""

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import (PAL_DIR, find_cgroup_dirs, is_rune, kill_and_wait, mount_points, pid_alive,
                      remove_cgroup_tree, tagged_pids, wait_until)
from test_clients import CONTAINERD_CONFIG, Ctr, _cmdline, hide_host_state, unmount_under

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
        return [p for p in tagged_pids(self.rune.tag) if b"containerd-shim-rune" in _cmdline(p)]


@pytest.fixture
def sctr(rune, workdir, mounts):
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
    base.mkdir()
    (base / "config.toml").write_text(CONTAINERD_CONFIG.format(base=base))
    c = ShimCtr(rune, base)
    c.settings.write_text(json.dumps({"rune": str(rune.binary), "root": str(c.rune_root)}))
    log = open(base / "containerd.log", "wb")
    env = rune.env({"PATH": f"{shim.parent}:{os.environ.get('PATH', '/usr/bin:/bin')}"})
    daemon = subprocess.Popen([shutil.which("containerd"), "--config", base / "config.toml"],
                              stdout=log, stderr=log, stdin=subprocess.DEVNULL, env=env,
                              start_new_session=True)
    try:
        wait_until(lambda: daemon.poll() is not None or c("version").rc == 0, timeout=60,
                   interval=0.1, what="containerd to answer")
        assert daemon.poll() is None, (base / "containerd.log").read_text()
        yield c
    finally:
        res = c("containers", "list", "--quiet", timeout=30) if daemon.poll() is None else None
        for cid in (res.out.split() if res and res.rc == 0 else []):
            c("tasks", "kill", "--signal", "SIGKILL", cid, timeout=30)
            c("tasks", "delete", "--force", cid, timeout=30)
            c("containers", "delete", cid, timeout=30)
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(30)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
        log.close()
        shims = c.shim_pids()
        if shims:
            kill_and_wait(shims)
        unmount_under(base)
        for d in find_cgroup_dirs(c.namespace):
            remove_cgroup_tree(d)


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
