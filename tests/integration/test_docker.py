"""Docker as a real client of the runtime under test.

Each test starts a private dockerd (Debian's docker.io 20.10) that has the runtime registered as
"rune" through its --config-file and runs every container with `--runtime rune --network none`.
dockerd and the containerd it starts keep everything in the test's work directory: data root,
exec root (containerd's state and socket, the runtime's --root), pid file, API socket. What they
insist on writing to fixed host places (/run/containerd, /run/docker, /var/lib/docker's
neighbours, /etc/docker/key.json) lands on tmpfs mounts that exist only in the suite's private
mount namespace. The image is a busybox rootfs imported over the private socket: no registry,
no network.

Teardown removes every container, stops dockerd by PID (it stops its containerd), and fails the
test if a container init, shim, containerd or dockerd is left, a mount remains under the work
directory, the runtime's state directory is not empty, or a container cgroup remains under the
test's --cgroup-parent.
"""

import json
import os
import shutil
import signal
import subprocess
import tarfile
from pathlib import Path

import pytest

from conftest import (PAL_DIR, find_cgroup_dirs, is_rune, kill_and_wait, mount_points,
                      pid_alive, cgroup_path, remove_cgroup_tree, tagged_pids, umount,
                      wait_until, _describe)
from test_clients import hide_host_state

# Debian's docker.io: the CLI next to the daemon, not another docker that may be on PATH.
SYS_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


def _docker_binaries():
    return shutil.which("dockerd", path=SYS_PATH), shutil.which("docker", path=SYS_PATH)


def _apt_install_docker():
    """apt-get install docker.io with service starts denied (policy-rc.d exit 101): the package
    must not start a host-wide dockerd. Returns an error text, or None."""
    policy = Path("/usr/sbin/policy-rc.d")
    deny = "#!/bin/sh\nexit 101\n"
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    made = False
    if policy.exists():
        # Only in the suite's private mount namespace: a bind mount over the host's policy.
        override = Path(f"/tmp/rune-it-policy-rc.d-{os.getpid()}")
        override.write_text(deny)
        override.chmod(0o755)
        subprocess.run(["mount", "--bind", override, policy], check=True)
    else:
        policy.write_text(deny)
        policy.chmod(0o755)
        made = True
    try:
        out = ""
        for argv in (["apt-get", "update", "-qq"],
                     ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "docker.io"]):
            res = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=900)
            out += res.stdout + res.stderr
            if res.returncode != 0:
                return f"`{' '.join(argv)}` failed ({res.returncode}): {out.strip()[-400:]}"
        return None
    except (OSError, subprocess.SubprocessError) as e:
        return f"apt-get: {e}"
    finally:
        if made:
            policy.unlink()
        else:
            umount(policy)
            override.unlink()


@pytest.fixture(scope="module")
def docker_bins():
    dockerd, docker = _docker_binaries()
    if not (dockerd and docker):
        err = _apt_install_docker()
        dockerd, docker = _docker_binaries()
        if not (dockerd and docker):
            pytest.skip(f"dockerd/docker (docker.io) not available and not installable: {err}")
    return dockerd, docker


class Docker:
    def __init__(self, rune, base, docker):
        self.rune = rune
        self.base = base
        self.exe = docker
        self.sock = base / "docker.sock"
        self.data_root = base / "data"
        self.exec_root = base / "exec"
        self.parent = f"rit-dk-{rune.tag[:12]}"
        self.canary = base / "canary"
        # dockerd 20.10 runs every runtime with --root <exec-root>/runtime-runc/<containerd
        # namespace> ("runc" is the name of its default runtime, not of the one in use).
        self.runtime_root = self.exec_root / "runtime-runc" / "moby"
        self.image = f"rit-busybox:{rune.tag[:8]}"

    def __call__(self, *args, timeout=120, **kw):
        return self.rune.cmd("-H", f"unix://{self.sock}", *args, binary=self.exe, root=False,
                             timeout=timeout, env={"DOCKER_CONFIG": str(self.base / "cli"),
                                                   "DOCKER_HOST": None}, **kw)

    def ok(self, *args, **kw):
        res = self(*args, **kw)
        assert res.rc == 0, res
        return res

    def run_args(self, *extra):
        """`docker run` with the runtime under test, no network, and the test's tag in the
        payload's environment (how teardown finds a payload left behind)."""
        return ["run", "--runtime", "rune", "--network", "none",
                "-e", f"RUNE_IT_TAG={self.rune.tag}", *extra]

    def inspect(self, name, fmt):
        return self.ok("inspect", "-f", fmt, name).out.strip()

    def pid(self, name):
        return int(self.inspect(name, "{{.State.Pid}}"))

    def runtime_state(self, cid):
        """`<runtime> state` of a container, as dockerd's shim left it for the runtime under
        test: it reads only its own state files (rune's and runc's differ)."""
        res = self.rune.cmd("--root", self.runtime_root, "state", cid, root=False)
        assert res.rc == 0, res
        state = res.json()
        return {"status": state["status"], "pid": state["pid"]}

    def full_id(self, name):
        return self.inspect(name, "{{.Id}}")


def _log_tail(path, n=4000):
    try:
        return Path(path).read_text(errors="replace")[-n:]
    except OSError:
        return ""


def _cmdline(pid):
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@pytest.fixture
def docker(docker_bins, rune, bundle, workdir, mounts):
    dockerd, docker_cli = docker_bins
    hide_host_state(mounts, workdir)
    if Path("/etc/docker").is_dir():  # dockerd 20.10 writes /etc/docker/key.json
        mounts.mount("-t", "tmpfs", "-o", "mode=755", "tmpfs", target="/etc/docker")
    base = workdir / "d"
    (base / "cli").mkdir(parents=True)
    d = Docker(rune, base, docker_cli)
    runtime = {"path": rune.binary}
    if is_rune():  # the shim does not pass every environment variable on: the flag does
        runtime["runtimeArgs"] = [f"--enclave-runtime-dirs={PAL_DIR}"]
    (base / "daemon.json").write_text(json.dumps({
        "runtimes": {"rune": runtime}, "storage-driver": "overlay2"}, indent=2))
    argv = [dockerd, "--config-file", base / "daemon.json", "--data-root", d.data_root,
            "--exec-root", d.exec_root, "--pidfile", base / "docker.pid",
            "-H", f"unix://{d.sock}", "--iptables=false", "--bridge=none",
            "--cgroup-parent", f"/{d.parent}", "--exec-opt", "native.cgroupdriver=cgroupfs"]
    help_text = subprocess.run([dockerd, "--help"], capture_output=True, text=True).stdout
    if "--ip6tables" in help_text:
        argv.append("--ip6tables=false")
    log = open(base / "dockerd.log", "wb")
    daemon = subprocess.Popen(argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                              env=rune.env({"RUNE_TEST_CANARY": str(d.canary)}),
                              start_new_session=True)
    problems = []
    try:
        wait_until(lambda: daemon.poll() is not None or d("version").rc == 0, timeout=60,
                   interval=0.1, what="dockerd to answer")
        assert daemon.poll() is None, f"dockerd exited: {_log_tail(base / 'dockerd.log')}"
        assert d("info", "-f", "{{json .Runtimes}}").out.count('"rune"') == 1
        # A local image: the busybox rootfs plus the canary PAL at /lib/x.so (the attack tests).
        rootfs = bundle(name="image").rootfs
        canary_pal = PAL_DIR / "libtest-pal-canary.so"
        if canary_pal.exists():
            (rootfs / "lib").mkdir()
            shutil.copyfile(canary_pal, rootfs / "lib" / "x.so")
            (rootfs / "lib" / "x.so").chmod(0o755)
        with tarfile.open(base / "rootfs.tar", "w") as tar:
            tar.add(rootfs, arcname=".")
        d.ok("import", base / "rootfs.tar", d.image)
        yield d
    finally:
        problems += _stop_docker(d, daemon, base)
        log.close()
    if problems:
        pytest.fail("docker teardown found leftovers:\n  " + "\n  ".join(problems) +
                    f"\n--- dockerd.log (tail) ---\n{_log_tail(base / 'dockerd.log', 2000)}")


def _stop_docker(d, daemon, base):
    problems = []
    containerd_pid = 0
    try:
        containerd_pid = int((d.exec_root / "containerd" / "containerd.pid").read_text())
    except (OSError, ValueError):
        pass
    if daemon.poll() is None:
        res = d("ps", "-aq", "--no-trunc", timeout=60)
        ids = res.out.split() if res.rc == 0 else []
        if ids:
            res = d("rm", "-f", *ids, timeout=120)
            if res.rc != 0:
                problems.append(f"`docker rm -f` failed: {res!r}")
        daemon.send_signal(signal.SIGTERM)
    try:
        daemon.wait(60)
    except subprocess.TimeoutExpired:
        problems.append(f"dockerd {daemon.pid} ignored SIGTERM for 60 s")
        daemon.kill()
        daemon.wait()
    if containerd_pid and pid_alive(containerd_pid) and str(base) in _cmdline(containerd_pid):
        problems.append(f"containerd {containerd_pid} outlived dockerd")
        kill_and_wait([containerd_pid])
    # Shims exit once their container is deleted; give them a moment, then they are leftovers.
    try:
        wait_until(lambda: not tagged_pids(d.rune.tag), timeout=15, interval=0.1,
                   what="the shims and payloads to exit")
    except AssertionError:
        left = tagged_pids(d.rune.tag)
        if left:
            problems.append(f"processes left behind: {_describe(left)}")
            kill_and_wait(left)
    if d.runtime_root.is_dir() and os.listdir(d.runtime_root):
        problems.append(f"runtime state left in {d.runtime_root}: {os.listdir(d.runtime_root)}")
    stray = sorted((m for m in mount_points() if m.startswith(str(base) + "/")), key=len,
                   reverse=True)
    if stray:
        problems.append(f"mounts left under {base}: {stray}")
        for m in stray:
            umount(m)
    parents = find_cgroup_dirs(d.parent)
    left = sorted({os.path.join(path, x) for top in parents for path, dirs, _ in os.walk(top)
                   for x in dirs})
    if left:
        problems.append(f"container cgroups left behind: {left}")
    for top in parents:
        remove_cgroup_tree(top)
    return problems


# ---------------------------------------------------------------------------------- plain runs


def test_docker_run_echo(docker):
    res = docker(*docker.run_args("--rm"), docker.image, "echo", "hello")
    assert (res.rc, res.out) == (0, "hello\n"), res
    assert docker.ok("ps", "-aq").out == ""


def test_docker_exit_code(docker):
    res = docker(*docker.run_args("--rm"), docker.image, "sh", "-c", "exit 7")
    assert res.rc == 7, res
    assert docker.ok("ps", "-aq").out == ""


def test_docker_detached_exec_logs_kill(docker):
    name = docker.rune.new_id("dk")
    res = docker(*docker.run_args("-d", "--name", name), docker.image, "sh", "-c",
                 "echo to-stdout; echo to-stderr >&2; exec sleep 3600")
    assert res.rc == 0, res
    cid = res.out.strip()
    assert docker.full_id(name) == cid
    assert docker.inspect(name, "{{.HostConfig.Runtime}}") == "rune"
    pid = docker.pid(name)
    assert pid_alive(pid)
    # The runtime under test made it (its state in dockerd's --root for "rune"), in the cgroup
    # below dockerd's --cgroup-parent.
    assert docker.runtime_state(cid) == {"status": "running", "pid": pid}
    assert cgroup_path(pid, "memory") == f"/{docker.parent}/{cid}"
    res = docker("exec", name, "sh", "-c", "echo in-exec; cat /proc/1/cmdline; exit 3")
    assert (res.rc, res.out) == (3, "in-exec\nsleep\x003600\x00"), res
    res = wait_until(lambda: (lambda r: r if r.out and r.err else None)(docker("logs", name)),
                     what="docker logs to show both streams")
    assert (res.rc, res.out, res.err) == (0, "to-stdout\n", "to-stderr\n"), res
    res = docker("kill", name)
    assert res.rc == 0, res
    wait_until(lambda: not pid_alive(pid), what="the container to die")
    assert docker.ok("wait", name).out.strip() == "137"
    assert docker.inspect(name, "{{.State.Status}} {{.State.ExitCode}}") == "exited 137"
    assert not (docker.runtime_root / cid).exists()
    docker.ok("rm", name)
    assert docker.ok("ps", "-aq").out == ""


def stop_runs_the_trap(docker, env=()):
    """`docker stop` sends SIGTERM and waits 30 s before SIGKILL: the trap's status (3, not
    137) and its output show the SIGTERM reached the payload."""
    name = docker.rune.new_id("dk")
    docker.ok(*docker.run_args("-d", "--name", name, *env), docker.image, "sh", "-c",
              "trap 'echo got-term; exit 3' TERM; echo ready; sleep 3600 & wait")
    pid = docker.pid(name)
    wait_until(lambda: docker("logs", name).out == "ready\n", what="the trap to be set")
    res = docker("stop", "-t", "30", name)
    assert (res.rc, res.out) == (0, f"{name}\n"), res
    assert not pid_alive(pid)
    assert docker.inspect(name, "{{.State.Status}} {{.State.ExitCode}}") == "exited 3"
    assert docker.ok("logs", name).out == "ready\ngot-term\n"


def test_docker_stop_runs_the_sigterm_trap(docker):
    stop_runs_the_trap(docker)


def test_docker_restart_and_rm_force(docker):
    name = docker.rune.new_id("dk")
    cid = docker.ok(*docker.run_args("-d", "--name", name), docker.image,
                    "sleep", "3600").out.strip()
    pid1 = docker.pid(name)
    res = docker("restart", "-t", "1", name)
    assert (res.rc, res.out) == (0, f"{name}\n"), res
    pid2 = docker.pid(name)
    assert pid2 != pid1 and pid2 > 0
    assert not pid_alive(pid1)
    assert pid_alive(pid2)
    assert docker.inspect(name, "{{.State.Status}} {{.RestartCount}}") == "running 0"
    assert docker.runtime_state(cid) == {"status": "running", "pid": pid2}
    res = docker("exec", name, "echo", "after-restart")
    assert (res.rc, res.out) == (0, "after-restart\n"), res
    res = docker("rm", "-f", name)
    assert (res.rc, res.out) == (0, f"{name}\n"), res
    wait_until(lambda: not pid_alive(pid2), what="the container to die")
    assert docker.ok("ps", "-aq").out == ""
    assert not (docker.runtime_root / cid).exists()
    assert find_cgroup_dirs(cid) == []


# ------------------------------------------------------------------------- enclave containers


def skeleton_env(docker):
    pal = PAL_DIR / "liberpal-skeleton.so"
    if not is_rune() or not pal.exists():
        pytest.skip(f"enclave containers need rune and its skeleton PAL ({pal})")
    return ["-e", "ENCLAVE_TYPE=simulated", "-e", f"ENCLAVE_RUNTIME_PATH={pal}",
            "-e", "ENCLAVE_RUNTIME_LOGLEVEL=off"]


def test_docker_enclave_run(docker):
    env = skeleton_env(docker)
    res = docker(*docker.run_args("--rm", *env), docker.image, "sh", "-c",
                 "echo in-enclave; env | grep -c ^ENCLAVE_; exit 4")
    assert (res.rc, res.out) == (4, "in-enclave\n0\n"), res
    assert docker.ok("ps", "-aq").out == ""


def test_docker_enclave_exec_and_kill(docker):
    env = skeleton_env(docker)
    name = docker.rune.new_id("dke")
    cid = docker.ok(*docker.run_args("-d", "--name", name, *env), docker.image,
                    "sleep", "3600").out.strip()
    pid = docker.pid(name)
    assert Path(f"/proc/{pid}/comm").read_text().strip() == "enclave-init"
    res = docker("exec", name, "sh", "-c", "echo \"in exec: $1\"; exit 2", "sh", "a  b")
    assert (res.rc, res.out) == (2, "in exec: a  b\n"), res
    res = docker("kill", name)
    assert res.rc == 0, res
    wait_until(lambda: not pid_alive(pid), what="the enclave container to stop")
    assert docker.ok("wait", name).out.strip() == "137"
    assert not (docker.runtime_root / cid).exists()
    docker.ok("rm", name)


def test_docker_enclave_stop_relays_sigterm(docker):
    """The init relays SIGTERM to the payload through pal_kill."""
    stop_runs_the_trap(docker, skeleton_env(docker))


def test_docker_enclave_exec_tty(docker):
    env = skeleton_env(docker)
    name = docker.rune.new_id("dke")
    docker.ok(*docker.run_args("-d", "--name", name, *env), docker.image, "sleep", "3600")
    res = docker("exec", "-t", name, "sh", "-c", "[ -t 0 ] && echo is-a-tty; tty")
    assert (res.rc, res.out) == (0, "is-a-tty\r\n/dev/pts/0\r\n"), res


# The PAL trust rules under Docker: the image carries the canary PAL at /lib/x.so; its
# constructor appends to $RUNE_TEST_CANARY (set in dockerd's environment, which the shim and the
# runtime inherit, and with -e in the container's) the moment anything loads it.

@pytest.fixture
def trusted_link(docker):
    """A symlink in the trusted PAL directory, removed after the test."""
    link = PAL_DIR / f"docker-{docker.rune.tag[:12]}.so"
    yield link
    if link.is_symlink() or link.exists():
        link.unlink()


def _attack(docker, name, pal):
    return ["create", "--runtime", "rune", "--network", "none", "--name", name,
            "-e", f"RUNE_IT_TAG={docker.rune.tag}", "-e", "ENCLAVE_TYPE=simulated",
            "-e", f"ENCLAVE_RUNTIME_PATH={pal}", "-e", f"RUNE_TEST_CANARY={docker.canary}",
            docker.image, "sh", "-c", "echo payload-ran"]


@pytest.mark.parametrize("how", ["symlink-into-rootfs", "image-layer"])
def test_docker_enclave_pal_from_the_image_is_refused(docker, trusted_link, how):
    if not is_rune() or not (PAL_DIR / "libtest-pal-canary.so").exists():
        pytest.skip("the PAL trust rules are rune's (needs the canary test PAL)")
    name = docker.rune.new_id("dka")
    if how == "symlink-into-rootfs":
        # A trusted-looking name that resolves into this very container's rootfs (dockerd
        # mounts it at the MergedDir it reports, before the runtime runs).
        pal, rule = trusted_link, "lies inside the container's rootfs"
        cid = docker.ok(*_attack(docker, name, pal)).out.strip()
        merged = docker.inspect(name, "{{.GraphDriver.Data.MergedDir}}")
        assert merged.startswith(str(docker.data_root)), merged
        trusted_link.symlink_to(f"{merged}/lib/x.so")
    else:
        # The image's own layer on the host, by its absolute path.
        layer = docker.ok("image", "inspect", "-f", "{{.GraphDriver.Data.UpperDir}}",
                          docker.image).out.strip()
        pal, rule = f"{layer}/lib/x.so", "not in an allowed directory"
        assert Path(pal).is_file()
        cid = docker.ok(*_attack(docker, name, pal)).out.strip()
    res = docker("start", "-a", name)
    assert res.rc != 0, res
    assert "payload-ran" not in res.out, res
    msg = [line for line in res.err.splitlines() if "enclave runtime path" in line]
    assert len(msg) == 1 and f"enclave runtime path {pal}" in msg[0] and rule in msg[0], res
    assert not docker.canary.exists(), f"the planted PAL was loaded: {docker.canary.read_text()}"
    assert docker.inspect(name, "{{.State.Running}}") == "false"
    assert not (docker.runtime_root / cid).exists()
    docker.ok("rm", name)


def test_docker_enclave_trusted_canary_loads(docker):
    """The control: the same library, installed in the trusted directory, is loaded through
    Docker (so the refusals above are the rules at work, not a canary that cannot sing)."""
    pal = PAL_DIR / "libtest-pal-canary.so"
    if not is_rune() or not pal.exists():
        pytest.skip("the PAL trust rules are rune's (needs the canary test PAL)")
    res = docker(*docker.run_args("--rm", "-e", "ENCLAVE_TYPE=simulated",
                                  "-e", f"ENCLAVE_RUNTIME_PATH={pal}",
                                  "-e", f"RUNE_TEST_CANARY={docker.canary}"),
                 docker.image, "sh", "-c", "echo payload-ran")
    assert (res.rc, res.out) == (0, "payload-ran\n"), res
    assert docker.canary.read_text().startswith("loaded pid="), res
