"""A private containerd for the tests and the benchmarks: its config.toml, and (for tests) the
daemon started with every piece of state in one directory and everything it and its shims made
removed again.

The benchmarks import only config(): this module imports the suite's helpers when a test starts
a daemon, not before.
"""

import contextlib
import json
import shutil
import signal
import subprocess
from pathlib import Path

# Snapshotters this machine's kernel or filesystems do not offer, and tracing, which would
# only log about its missing collector.
_DISABLED = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
             "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs",
             "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]


def config(base, cri=False, debug_level=None):
    """containerd 1.6's config.toml: root, state, sockets and opt directory under base, the
    cri plugin off unless cri (its section is the caller's to add)."""
    disabled = ([] if cri else ["io.containerd.grpc.v1.cri"]) + _DISABLED
    level = f'  level = "{debug_level}"\n' if debug_level else ""
    return (f'version = 2\nroot = "{base}/root"\nstate = "{base}/state"\n'
            f"disabled_plugins = {json.dumps(disabled)}\n" +
            f'[grpc]\n  address = "{base}/containerd.sock"\n'
            f'[ttrpc]\n  address = "{base}/containerd.sock.ttrpc"\n'
            f'[debug]\n  address = "{base}/debug.sock"\n{level}'
            '[metrics]\n  address = ""\n'
            f'[plugins."io.containerd.internal.v1.opt"]\n  path = "{base}/opt"\n')


def cmdline(pid):
    """A process's argv, [] when it is gone."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return []


def shim_pids(tag, prefix=b"containerd-shim"):
    """Live processes of this test (its tag in their environment) whose program's name starts
    with prefix: containerd's shims."""
    from conftest import tagged_pids
    return [p for p in tagged_pids(tag)
            if Path((cmdline(p) or [b""])[0].decode(errors="replace")).name.encode()
            .startswith(prefix)]


def unmount_under(path):
    from conftest import mount_points, umount
    for m in sorted((m for m in mount_points() if m.startswith(str(path) + "/")), key=len,
                    reverse=True):
        umount(m)


def stop_daemon(proc):
    """SIGTERM to a daemon we started, SIGKILL if it is still there 30 s later."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def private_containerd(rune, base, client, env=None):
    """containerd on config(base) with the environment env (default: the rune under test's),
    until it answers `client("version")`; yields client. At the end: every container of the
    client's namespace killed and deleted, containerd stopped by its PID, the shims that
    outlived it killed (once their containers are gone they must go too), the mounts under base
    and the namespace's cgroups removed."""
    from conftest import find_cgroup_dirs, kill_and_wait, remove_cgroup_tree, wait_until
    base.mkdir(exist_ok=True)
    (base / "config.toml").write_text(config(base))
    log = open(base / "containerd.log", "wb")
    daemon = subprocess.Popen([shutil.which("containerd"), "--config", base / "config.toml"],
                              stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                              env=env or rune.env(), start_new_session=True)
    client.daemon_pid = daemon.pid
    try:
        wait_until(lambda: daemon.poll() is not None or client("version").rc == 0, timeout=60,
                   interval=0.1, what="containerd to answer")
        assert daemon.poll() is None, (base / "containerd.log").read_text()
        yield client
    finally:
        res = client("containers", "list", "--quiet", timeout=30) \
            if daemon.poll() is None else None
        for cid in (res.out.split() if res and res.rc == 0 else []):
            client("tasks", "kill", "--signal", "SIGKILL", cid, timeout=30)
            client("tasks", "delete", "--force", cid, timeout=30)
            client("containers", "delete", cid, timeout=30)
        stop_daemon(daemon)
        log.close()
        shims = shim_pids(rune.tag)
        if shims:
            kill_and_wait(shims)
        unmount_under(base)
        for d in find_cgroup_dirs(client.namespace):
            remove_cgroup_tree(d)
