"""The Debian package: built from a clean copy of the tree with dpkg-buildpackage, installed with
dpkg on a throwaway root, and used from there as a user would.

The root is an overlayfs over the host's / whose changes go to a tmpfs, mounted in the suite's
private mount namespace, with fresh /proc, /run and /tmp, the host's /dev and /sys, and an empty
/usr/local (nothing installed by hand may stand in for the package). Commands run chrooted in
it; the host's files, its dpkg database and the source tree are never written. The package is
built once per session (the module's fixture), since it is a full build.
"""

import configparser
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import REPO, cap_mask, is_rune, make_rootfs, mount_points, pid_alive, \
    proc_status, umount, wait_until
from registry import CHR, D, F, FIFO, OPQ, WH, Registry, make_oci_image, missing_tools, push

pytestmark = [
    pytest.mark.skipif(not is_rune(), reason="builds and installs rune's own package; the "
                       "runtime under test is another"),
    pytest.mark.slow,
]

PACKAGES = ("rune", "rune-pal-dev", "rune-demo")
PROGRAMS = ["/usr/bin/rune", "/usr/bin/rune-image", "/usr/bin/agent-ctl", "/usr/bin/runectl",
            "/usr/bin/containerd-shim-rune-v2", "/usr/sbin/enclave-agent"]
SECTIONS = {"rune": 8, "enclave-agent": 8, "containerd-shim-rune-v2": 8}  # the others: 1
UNIT = "/lib/systemd/system/enclave-agent.service"
CHROOT_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
              "HOME": "/root", "LANG": "C.UTF-8", "TERM": "dumb"}


def multiarch():
    return subprocess.run(["dpkg-architecture", "-qDEB_HOST_MULTIARCH"], capture_output=True,
                          text=True, check=True).stdout.strip()


# --------------------------------------------------------------------------------------------
# The package build


def copy_source(dst):
    """The tree without what building or testing it leaves (build directories, caches)."""
    def ignore(directory, names):
        top = Path(directory) == REPO
        return [n for n in names
                if n in ("__pycache__", ".git") or n.endswith(".pyc")
                or (top and (n.startswith(("build", "obj-")) or n == ".pytest_cache"))]
    shutil.copytree(REPO, dst, symlinks=True, ignore=ignore)


def build_artifacts():
    """What an in-tree dpkg-buildpackage would leave in or next to the source tree."""
    return sorted([str(p) for p in REPO.parent.glob("rune*_*.deb")]
                  + [str(p) for p in REPO.glob("obj-*")]
                  + [str(REPO / "debian" / p) for p in (*PACKAGES, "tmp", "files")
                     if (REPO / "debian" / p).exists()])


@pytest.fixture(scope="module")
def debs():
    missing = [t for t in ("dpkg-buildpackage", "dh", "dpkg-architecture")
               if not shutil.which(t, path=CHROOT_ENV["PATH"])]
    if missing:
        pytest.skip(f"cannot build the package: {', '.join(missing)} not installed "
                    "(scripts/setup.sh installs debhelper and dpkg-dev)")
    before = build_artifacts()
    work = Path(tempfile.mkdtemp(prefix="rune-pkg-build-",
                                 dir=os.environ.get("RUNE_IT_TMPDIR", "/tmp")))
    try:
        src = work / "rune"
        copy_source(src)
        (work / "home").mkdir()
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(work / "home"),
               "LANG": "C.UTF-8", "DEB_BUILD_OPTIONS": "nocheck parallel=2"}
        start = time.monotonic()
        with open(work / "build.log", "w+") as log:
            res = subprocess.run(["dpkg-buildpackage", "-us", "-uc", "-b"], cwd=src, env=env,
                                 stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                 timeout=3600)
            log.seek(0)
            tail = log.read()[-6000:]
        assert res.returncode == 0, f"dpkg-buildpackage failed ({res.returncode}):\n{tail}"
        print(f"package build: {time.monotonic() - start:.0f} s")
        found = {}
        for pkg in PACKAGES:
            (deb,) = work.glob(f"{pkg}_*.deb")
            found[pkg] = deb
        assert build_artifacts() == before, "the build left files in or next to the tree"
        yield found
    finally:
        shutil.rmtree(work, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# The throwaway root


class Root:
    """An overlay of the host's / with its changes on a tmpfs; see the module's docstring."""

    def __init__(self, base):
        self.base, self.path = base, base / "root"
        self.mounted = []

    def _mount(self, target, *argv):
        subprocess.run(["mount", *map(str, argv), str(target)], check=True)
        self.mounted.append(str(target))

    def setup(self):
        changes = self.base / "changes"
        changes.mkdir()
        self.path.mkdir()
        self._mount(changes, "-t", "tmpfs", "-o", "mode=0755", "rune-pkg-changes")
        (changes / "upper").mkdir()
        (changes / "work").mkdir()
        self._mount(self.path, "-t", "overlay", "-o",
                    f"lowerdir=/,upperdir={changes}/upper,workdir={changes}/work",
                    "rune-pkg-root")
        self._mount(self.file("/proc"), "-t", "proc", "proc")
        self._mount(self.file("/dev"), "--rbind", "/dev")
        self._mount(self.file("/sys"), "--rbind", "/sys")
        self._mount(self.file("/run"), "-t", "tmpfs", "-o", "mode=0755", "rune-pkg-run")
        self._mount(self.file("/tmp"), "-t", "tmpfs", "-o", "mode=1777", "rune-pkg-tmp")
        self._mount(self.file("/usr/local"), "-t", "tmpfs", "-o", "mode=0755", "rune-pkg-local")
        # Nothing mounted in the root propagates anywhere, whatever namespace the suite is in.
        subprocess.run(["mount", "--make-rprivate", str(self.path)], check=True)

    def mount_tmpfs(self, path, mode):
        """A file system of its own at path, for what overlayfs cannot hold (it refuses to
        create whiteouts, the character devices 0/0 of image layers)."""
        self._mount(self.file(path), "-t", "tmpfs", "-o", f"mode={mode:o}", "rune-pkg-tmpfs")

    def file(self, path):
        """The host path of path inside the root."""
        return self.path / str(path).lstrip("/")

    def command(self, argv):
        return ["chroot", str(self.path), *map(str, argv)]

    def run(self, *argv, check=True, env=None, timeout=120, **kw):
        res = subprocess.run(self.command(argv), env={**CHROOT_ENV, **(env or {})},
                             capture_output=True, text=True, timeout=timeout, **kw)
        if check:
            assert res.returncode == 0, \
                f"{shlex.join(map(str, argv))}: exit {res.returncode}\n{res.stdout}{res.stderr}"
        return res

    def processes(self):
        """Live processes whose root is this root (or below it)."""
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                root = os.readlink(f"/proc/{entry}/root")
            except OSError:
                continue
            if (root == str(self.path) or root.startswith(f"{self.path}/")) and \
                    pid_alive(int(entry)):
                found.append(int(entry))
        return found

    def cleanup(self):
        """Stops what still runs in the root and unmounts it; returns what was left over."""
        problems = []
        stray = self.processes()
        if stray:
            problems.append(f"processes left in the root: {stray}")
            for pid in stray:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            wait_until(lambda: not any(pid_alive(p) for p in stray), what="stray processes")
        # what the root's own /dev and /sys bring along is not a leftover
        bound = [f"{self.file(d)}/" for d in ("/dev", "/sys", "/proc")]
        inside = [m for m in mount_points() if m.startswith(f"{self.path}/")
                  and m not in self.mounted and not m.startswith(tuple(bound))]
        if inside:
            problems.append(f"mounts left in the root: {inside}")
        for m in sorted(inside, key=len, reverse=True) + list(reversed(self.mounted)):
            umount(m)
        if any(m.startswith(str(self.base)) for m in mount_points()):
            problems.append(f"cannot unmount everything under {self.base}; left in place")
        else:
            shutil.rmtree(self.base, ignore_errors=True)
        return problems


@pytest.fixture(scope="module")
def installed(debs):
    """The root, with the three packages installed by dpkg."""
    root = Root(Path(tempfile.mkdtemp(prefix="rune-pkg-root-",
                                      dir=os.environ.get("RUNE_IT_TMPDIR", "/tmp"))))
    try:
        root.setup()
        for deb in debs.values():
            shutil.copy(deb, root.file("/tmp"))
        res = root.run("dpkg", "-i", *[f"/tmp/{deb.name}" for deb in debs.values()],
                       timeout=600, check=False)
        assert res.returncode == 0, f"dpkg -i failed:\n{res.stdout}{res.stderr}"
        yield root
    finally:
        problems = root.cleanup()
    assert not problems, "\n".join(problems)


def package_files(root, *packages):
    out = set()
    for pkg in packages:
        out |= set(root.run("dpkg", "-L", pkg).stdout.split("\n")) - {"", "/."}
    return out


# --------------------------------------------------------------------------------------------
# What is installed where


def test_files_in_standard_places(installed):
    ma = multiarch()
    files = package_files(installed, *PACKAGES)
    expected = PROGRAMS + [
        f"/usr/lib/{ma}/rune/liberpal-skeleton.so",
        f"/usr/lib/{ma}/rune/liberpal-skeleton-v1.so",
        f"/usr/lib/{ma}/rune/liberpal-skeleton-v2.so",
        "/usr/include/rune/enclave/pal_api.h",
        "/usr/include/rune/enclave/sgx_report.h",
        f"/usr/lib/{ma}/pkgconfig/rune-pal.pc",
        UNIT,
        "/etc/default/enclave-agent",
        "/etc/enclave-agent/ocicrypt.conf",
        "/etc/enclave-agent/decrypt_config.conf",
        "/usr/share/bash-completion/completions/rune",
        "/usr/share/rune/demo/demo.py",
        "/usr/share/rune/demo/installed.json",
    ]
    assert not [p for p in expected if p not in files], sorted(files)
    assert not [p for p in files if p.startswith(("/usr/local", "/opt", "/home"))]
    assert not [p for p in files if not os.path.lexists(installed.file(p))]
    for program in PROGRAMS:
        assert os.access(installed.file(program), os.X_OK), program
    # The programs on PATH are the package's, and rune trusts the PAL directory by default.
    assert installed.run("sh", "-c", "command -v rune").stdout.strip() == "/usr/bin/rune"
    usage = installed.run("rune", "--help").stdout
    assert f'else "/usr/lib/{ma}/rune:' in usage, usage
    # The conffiles are dpkg's to keep across upgrades.
    conffiles = installed.file("/var/lib/dpkg/info/rune.conffiles").read_text().split()
    assert sorted(conffiles) == ["/etc/default/enclave-agent",
                                 "/etc/enclave-agent/decrypt_config.conf",
                                 "/etc/enclave-agent/ocicrypt.conf"]
    demo = json.loads(installed.file("/usr/share/rune/demo/installed.json").read_text())
    assert demo == {"bindir": "/usr/bin", "sbindir": "/usr/sbin", "paldir": f"/usr/lib/{ma}/rune"}


def test_man_pages(installed):
    programs = [p for p in package_files(installed, *PACKAGES)
                if p.startswith(("/usr/bin/", "/usr/sbin/"))]
    assert sorted(programs) == sorted(PROGRAMS)
    for program in programs:
        name = Path(program).name
        section = SECTIONS.get(name, 1)
        page = installed.run("man", "-w", name).stdout.strip()
        assert page == f"/usr/share/man/man{section}/{name}.{section}.gz", (name, page)
        # groff has nothing to say about the page, and it renders with content
        res = installed.run("man", "--warnings", "-l", page, env={"MANPAGER": "cat"})
        assert res.stderr == "", (name, res.stderr)
        assert "SYNOPSIS" in res.stdout and "DESCRIPTION" in res.stdout, (name, res.stdout)
        for markdown in ("`", "**", "](", "\\-"):
            assert markdown not in res.stdout, (name, markdown)
    rune = installed.run("man", "rune", env={"MANPAGER": "cat", "MANWIDTH": "100"}).stdout
    ma = multiarch()
    for text in ("rune - OCI runtime for ordinary and enclave containers",
                 "ENCLAVE_RUNTIME_PATH", "--enclave-runtime-dirs dir[:dir...]",
                 f"/usr/lib/{ma}/rune/liberpal-skeleton.so",
                 "/usr/share/rune/demo/demo.py", "rune-image(1), enclave-agent(8)"):
        assert text in rune, f"{text!r} not in man rune:\n{rune}"
    # The NAME line is what mandb indexes (apropos, whatis).
    whatis = installed.run("whatis", "enclave-agent").stdout
    assert whatis.startswith("enclave-agent (8)") and "image service" in whatis, whatis


# --------------------------------------------------------------------------------------------
# PAL authors: rune-pal-dev

TINY_PAL = r"""
#include <stdio.h>
#include <enclave/pal_api.h>
#include <enclave/sgx_report.h>

/* PAL API v1: the payload "runs" by printing what it was asked to run. */
int pal_get_version(void)
{
	return 1;
}

int pal_init(struct pal_attr_v1 *attr)
{
	return attr ? 0 : -22;
}

int pal_exec(const char *path, const char *const argv[], const struct pal_stdio_fds *stdio,
	     int *exit_code)
{
	dprintf(stdio->stdout_fd, "tiny PAL: exec %s", path);
	for (int i = 1; argv[i]; i++)
		dprintf(stdio->stdout_fd, " %s", argv[i]);
	dprintf(stdio->stdout_fd, "\n");
	*exit_code = 7;
	return 0;
}

int pal_destroy(void)
{
	return 0;
}
"""


def test_pal_built_against_the_installed_headers_runs(installed):
    ma = multiarch()
    paldir = installed.run("pkg-config", "--variable=paldir", "rune-pal").stdout.strip()
    assert paldir == f"/usr/lib/{ma}/rune"
    cflags = installed.run("pkg-config", "--cflags", "rune-pal").stdout.split()
    assert cflags == ["-I/usr/include/rune"]
    installed.file("/tmp/tiny-pal.c").write_text(TINY_PAL)
    installed.run("cc", "-shared", "-fPIC", "-Wall", "-Wextra", "-Werror", *cflags,
                  "-o", "/tmp/libtiny-pal.so", "/tmp/tiny-pal.c")
    # Put in the directory pkg-config names, the PAL loads without rune being told to trust it.
    installed.run("install", "-m", "0755", "/tmp/libtiny-pal.so", paldir)
    try:
        run_tiny_pal(installed, paldir)
    finally:
        installed.file(f"{paldir}/libtiny-pal.so").unlink()


def run_tiny_pal(installed, paldir):
    bundle = installed.file("/tmp/tiny-bundle")
    make_rootfs(bundle / "rootfs")
    installed.run("rune", "spec", "--bundle", "/tmp/tiny-bundle")
    config = json.loads((bundle / "config.json").read_text())
    config["process"]["terminal"] = False
    config["process"]["args"] = ["/bin/echo", "hello"]
    config["process"]["env"] += ["ENCLAVE_TYPE=simulated",
                                 f"ENCLAVE_RUNTIME_PATH={paldir}/libtiny-pal.so"]
    (bundle / "config.json").write_text(json.dumps(config))
    cid = f"rune-pkg-pal-{os.getpid()}"
    res = installed.run("rune", "--root", "/run/rune-pkg", "run", "--bundle", "/tmp/tiny-bundle",
                        cid, check=False, stdin=subprocess.DEVNULL)
    assert (res.returncode, res.stdout) == (7, "tiny PAL: exec /bin/echo hello\n"), res
    assert installed.run("rune", "--root", "/run/rune-pkg", "list", "-q").stdout == ""


# --------------------------------------------------------------------------------------------
# enclave-agent.service


def read_unit(root):
    unit = configparser.ConfigParser(interpolation=None, strict=False)
    unit.optionxform = str
    unit.read_string(root.file(UNIT).read_text())
    return unit["Service"]


def environment_file(path):
    """KEY=VALUE lines as systemd reads them (comments, blank lines, quotes)."""
    env = {}
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";")):
            key, _, value = line.partition("=")
            env[key.strip()] = shlex.split(value)[0] if value.strip() else ""
    return env


def agent_state_dir(root, service):
    """The service's state directory. The store holds layers with whiteouts, which overlayfs
    refuses to create: it gets a file system of its own, as on a host."""
    path = f"/var/lib/{service['StateDirectory']}"
    if str(root.file(path)) not in root.mounted:
        root.file(path).mkdir(exist_ok=True)
        root.mount_tmpfs(path, int(service["StateDirectoryMode"], 8))
    return path


def agent_options(root, service, options):
    """Sets ENCLAVE_AGENT_OPTS in the unit's environment file (a conffile: purged later)."""
    env_file = service["EnvironmentFile"].lstrip("-")
    root.file(env_file).write_text(f'ENCLAVE_AGENT_OPTS="{options}"\n')
    return environment_file(root.file(env_file))


def test_service_unit_verifies(installed):
    if not installed.file("/usr/bin/systemd-analyze").exists():
        pytest.skip("systemd-analyze is not installed (package systemd)")
    res = installed.run("systemd-analyze", "verify", UNIT, check=False)
    ours = [line for line in (res.stdout + res.stderr).splitlines() if "enclave-agent" in line]
    assert res.returncode == 0 and not ours, res.stdout + res.stderr
    # The sandbox stays what it is: systemd's own rating of it (3.6 "OK" when written; the
    # capabilities unpacking needs cost the rest).
    res = installed.run("systemd-analyze", "security", "--offline=true", UNIT, check=False)
    m = re.search(r"Overall exposure level for enclave-agent.service: ([0-9.]+)", res.stdout)
    assert m and float(m.group(1)) <= 4.0, res.stdout + res.stderr


def service_image(work):
    """An image with what unpacking needs privileges for: owners, a set-uid file, a device
    node, a fifo, a whiteout and an opaque directory."""
    base = [D("bin"), F("bin/sh", b"#!/bin/true\n", mode=0o755),
            F("bin/su", b"set-uid\n", mode=0o4755), D("dev"), CHR("dev/null", 1, 3),
            FIFO("run-fifo"), D("home"), D("home/user", uid=1000, gid=1000),
            F("home/user/notes", b"mine\n", uid=1000, gid=1000), D("etc"),
            F("etc/gone", b"removed by the next layer\n"), D("etc/conf.d"),
            F("etc/conf.d/old", b"hidden by the opaque directory\n")]
    top = [WH("etc/gone"), OPQ("etc/conf.d"), F("etc/conf.d/new", b"the only one\n")]
    return make_oci_image(work / "image", [base, top], tag="1", config={"Cmd": ["/bin/sh"]})


def test_service_starts_the_agent(installed, workdir):
    """The unit's ExecStart, run by hand as systemd would (environment file, runtime and state
    directories, capability bounding set, no_new_privs), serves on its socket and pulls."""
    if missing_tools("registry"):
        pytest.skip("docker-registry is not installed")
    service = read_unit(installed)
    policy = installed.file("/etc/enclave-agent/test-policy.json")
    policy.write_text(json.dumps({"default": [{"type": "insecureAcceptAnything"}]}))
    env = agent_options(installed, service,
                        "--policy /etc/enclave-agent/test-policy.json --log-level debug")
    argv = []
    for word in shlex.split(service["ExecStart"]):
        argv += env.get(word[1:], "").split() if word.startswith("$") else [word]
    assert argv[0] == "/usr/sbin/enclave-agent"
    installed.file(f"/run/{service['RuntimeDirectory']}").mkdir(
        mode=int(service["RuntimeDirectoryMode"], 8))
    agent_state_dir(installed, service)
    caps = ",".join("+" + c.lower().removeprefix("cap_")
                    for c in service["CapabilityBoundingSet"].split())
    assert service["NoNewPrivileges"] == "yes"
    setpriv = ["setpriv", "--no-new-privs", "--bounding-set", f"-all,{caps}"]
    log = open(workdir / "agent.log", "w+")
    agent = subprocess.Popen(installed.command(setpriv + argv), env=CHROOT_ENV,
                             stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    bundle = "/tmp/service-app"
    try:
        listen = argv[argv.index("-l") + 1]
        assert listen == "unix:///run/enclave-agent/agent.sock"

        def status():
            if agent.poll() is not None:
                log.seek(0)
                raise AssertionError(f"the agent exited ({agent.returncode}):\n{log.read()}")
            res = installed.run("agent-ctl", "-c", listen, "status", "--json", check=False)
            return res.returncode == 0 and json.loads(res.stdout)
        answer = wait_until(status, timeout=30, what="the agent to answer on its socket")
        assert answer["health"] == "SERVING", answer
        assert answer["store_root"] == "/var/lib/enclave-agent/store", answer
        assert answer["images_root"] == "/var/lib/enclave-agent/images", answer
        assert oct(installed.file("/run/enclave-agent").stat().st_mode & 0o777) == "0o700"

        with Registry(tmp_parent=workdir) as reg:
            push(service_image(workdir)["path"], "1", reg, repo="svc/app")
            installed.run("agent-ctl", "-c", listen, "-i", f"{reg.host}/svc/app:1",
                          timeout=120)
        installed.run("agent-ctl", "mount", "--images", "/var/lib/enclave-agent/images",
                      "app_1", bundle)
        rootfs = installed.file(bundle) / "rootfs"
        assert (rootfs / "bin/su").stat().st_mode & 0o7777 == 0o4755
        assert (rootfs / "home/user/notes").stat().st_uid == 1000
        assert (rootfs / "dev/null").is_char_device()
        assert (rootfs / "run-fifo").is_fifo()
        assert not (rootfs / "etc/gone").exists()
        assert sorted(os.listdir(rootfs / "etc/conf.d")) == ["new"]
    finally:
        installed.run("agent-ctl", "umount", bundle, check=False)
        policy.unlink()
        agent.send_signal(signal.SIGTERM)
        try:
            rc = agent.wait(timeout=30)
        except subprocess.TimeoutExpired:
            agent.kill()
            rc = agent.wait()
        log.seek(0)
        output = log.read()
        log.close()
    assert rc == 0, f"the agent's exit status on SIGTERM: {rc}\n{output}"
    assert "pulling " in output and "successful" in output, output


def is_agent(pid):
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"/usr/sbin/enclave-agent\0")
    except OSError:  # gone meanwhile
        return False


def descendants(pid):
    """The live processes below pid."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                children.setdefault(int(proc_status(entry)["PPid"]), []).append(int(entry))
            except (OSError, KeyError):
                pass
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def test_service_runs_under_systemd(installed, workdir):
    """enclave-agent.service started by systemd itself, its sandbox and all: the root booted
    in a container (systemd-nspawn, with a /run of its own) into a target that wants only the
    service, which then serves and pulls."""
    if not shutil.which("systemd-nspawn"):
        pytest.skip("systemd-nspawn is not installed (package systemd-container)")
    if missing_tools("registry"):
        pytest.skip("docker-registry is not installed")
    service = read_unit(installed)
    installed.file("/etc/systemd/system/rune-pkg-test.target").write_text(
        "[Unit]\nDescription=rune package test\nRequires=basic.target enclave-agent.service\n"
        "After=basic.target enclave-agent.service\n")
    policy = installed.file("/etc/enclave-agent/test-policy.json")
    policy.write_text(json.dumps({"default": [{"type": "insecureAcceptAnything"}]}))
    agent_options(installed, service, "--policy /etc/enclave-agent/test-policy.json")
    agent_state_dir(installed, service)
    # In a mount namespace of its own: the root without the suite's /dev, /sys, /proc and /run
    # (systemd-nspawn makes its own), and a /run of its own for systemd-nspawn's files.
    script = ('root=$1; shift; umount -R "$root/dev" "$root/sys" "$root/proc" "$root/run" && '
              'mount -t tmpfs -o mode=0755 rune-pkg-nspawn /run && exec systemd-nspawn "$@"')
    log = open(workdir / "nspawn.log", "w+")
    boot = subprocess.Popen(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh",
         installed.path, "--quiet", "--directory", installed.path, "--register=no",
         "--keep-unit", "--boot", "--", "systemd.unit=rune-pkg-test.target"],
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)

    def booted():
        if boot.poll() is not None:
            log.seek(0)
            raise AssertionError(f"systemd-nspawn exited ({boot.returncode}):\n{log.read()}")
        return [p for p in descendants(boot.pid) if is_agent(p)]
    try:
        (agent,) = wait_until(booted, timeout=120, what="systemd to start enclave-agent.service")
        status = proc_status(agent)
        caps = service["CapabilityBoundingSet"].split()
        assert int(status["CapBnd"], 16) == cap_mask(caps), status
        assert (status["NoNewPrivs"], status["Seccomp"]) == ("1", "2"), status
        mounts = {m.split()[4]: m.split()[5] for m in
                  Path(f"/proc/{agent}/mountinfo").read_text().splitlines()}
        assert mounts["/"].startswith("ro,") and mounts["/var/lib/enclave-agent"].startswith("rw,")
        listen = f"unix:///proc/{agent}/root/run/enclave-agent/agent.sock"
        answer = wait_until(lambda: installed.run("agent-ctl", "-c", listen, "status",
                                                  check=False).stdout, timeout=30,
                            what="the service to answer")
        assert "SERVING" in answer, answer
        with Registry(tmp_parent=workdir) as reg:
            push(service_image(workdir)["path"], "1", reg, repo="svc/app")
            res = installed.run("agent-ctl", "-c", listen, "-i", f"{reg.host}/svc/app:1",
                                "--cid", "under-systemd", timeout=120)
        assert "layout: /var/lib/enclave-agent/images/under-systemd" in res.stdout, res.stdout
    finally:
        boot.send_signal(signal.SIGTERM)  # systemd-nspawn powers the container off
        try:
            rc = boot.wait(timeout=120)
        except subprocess.TimeoutExpired:
            stuck = descendants(boot.pid)
            for pid in [boot.pid] + stuck:
                os.kill(pid, signal.SIGKILL)
            rc = boot.wait()
            wait_until(lambda: not any(pid_alive(p) for p in stuck), what="the container to end")
        log.seek(0)
        console = log.read()
        log.close()
        policy.unlink()
        installed.file("/etc/systemd/system/rune-pkg-test.target").unlink()
    assert rc == 0, console
    console = re.sub(r"\x1b\[[0-9;]*m", "", console)  # systemd's status lines are coloured
    assert re.search(r"Started enclave-agent\.ser", console), console


# --------------------------------------------------------------------------------------------
# Bash completion


def complete(root, line):
    """The candidates bash completion offers for the last word of line, with the completion
    loaded as bash-completion loads it: by the command's name."""
    script = r"""
source /usr/share/bash-completion/bash_completion
line=$1
read -ra COMP_WORDS <<<"$line"
[[ $line == *" " ]] && COMP_WORDS+=("")
COMP_LINE=$line COMP_POINT=${#line} COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
__load_completion "${COMP_WORDS[0]}" || { echo "no completion for ${COMP_WORDS[0]}" >&2; exit 3; }
spec=$(complete -p "${COMP_WORDS[0]}")
func=${spec#*-F }
func=${func%% *}
"$func" "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
printf '%s\n' "${COMPREPLY[@]}"
"""
    res = root.run("bash", "-c", script, "complete", line)
    return set(res.stdout.split())


def help_section(text, start, end=None):
    """The lines of text from the heading start up to the heading end (or the end)."""
    body = text.split(start, 1)[1]
    return body.split(end, 1)[0] if end and end in body else body


def commands_in(text):
    """Command names listed at three spaces' indentation (their descriptions are further in)."""
    return {m.group(1) for m in re.finditer(r"^ {3}([a-z][\w-]*)[ ,]", text, re.M)}


def options_in(text):
    return set(re.findall(r"(?<![\w-])(--[a-z][\w.-]*\w|-[a-zA-Z])(?![\w-])", text))


def test_bash_completion(installed):
    if not installed.file("/usr/share/bash-completion/bash_completion").exists():
        pytest.skip("bash-completion is not installed")
    assert complete(installed, "rune st") == {"start", "state"}
    assert complete(installed, "rune --log-format ") == {"text", "json"}
    assert complete(installed, "rune list --format ") == {"table", "json"}
    assert "TERM" in complete(installed, "rune kill c1 T")

    def check(line, expected):
        offered = complete(installed, line)
        assert expected and expected <= offered, (line, expected - offered)

    def usage(*argv):
        res = installed.run(*argv, check=False)  # some print usage with status 1 or 2
        return res.stdout + res.stderr

    # Everything each program's --help lists is offered.
    rune = usage("rune", "--help")
    check("rune ", commands_in(help_section(rune, "COMMANDS:", "GLOBAL OPTIONS:")))
    check("rune -", options_in(help_section(rune, "GLOBAL OPTIONS:")))
    for command in commands_in(help_section(rune, "COMMANDS:", "GLOBAL OPTIONS:")) - {"help"}:
        check(f"rune {command} -", options_in(help_section(usage("rune", command, "--help"),
                                                           "OPTIONS:")))
    image = usage("rune-image", "--help")
    check("rune-image ", commands_in(help_section(image, "Commands:", "Global options:")))
    check("rune-image -", options_in(help_section(image, "Global options:", "pull options:")))
    check("rune-image pull -", options_in(help_section(image, "pull options:")))
    for command in ("encrypt", "sign"):  # the commands with a --help of their own
        text = usage("rune-image", command, "--help")
        check(f"rune-image {command} -", options_in(text.split("\n", 1)[1]) - {"--help"})
    runectl = usage("runectl", "--help")
    check("runectl ", commands_in(help_section(runectl, "Commands:", "Options:")))
    for command in commands_in(help_section(runectl, "Commands:", "Options:")):
        check(f"runectl {command} -",
              options_in(help_section(usage("runectl", command, "--help"), "Options:")))
    ctl = usage("agent-ctl", "--help")
    check("agent-ctl ", commands_in(help_section(ctl, "Commands:", "Options:")))
    check("agent-ctl -", options_in(help_section(ctl, "Options:")))
    check("enclave-agent -", options_in(usage("enclave-agent", "--help")))


# --------------------------------------------------------------------------------------------
# The demo, from the installed files


def test_installed_demo(installed):
    if missing_tools("registry"):
        pytest.skip("docker-registry is not installed")
    res = installed.run("/usr/share/rune/demo/demo.py", env={"TMPDIR": "/tmp"}, timeout=600,
                        check=False, stdin=subprocess.DEVNULL)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out
    # The installed programs, and the installed skeleton trusted where it is.
    pal = f"/usr/lib/{multiarch()}/rune/liberpal-skeleton.so"
    for marker in ("pushed 127.0.0.1:", "enclave-agent started by rune as an enclave container",
                   f"enclave runtime: {pal} (where rune trusts PALs by default)",
                   "\"simulated\": true", "KBS: 1 attestation (rune-sim, MRENCLAVE",
                   "agent-ctl: PERMISSION_DENIED: pull 127.0.0.1:",
                   "hello from the rune demo image 1.0", "app exited with status 0",
                   "successful", "done"):
        assert marker in out, f"{marker!r} missing from the demo's output:\n{out}"
    assert not list(installed.file("/tmp").glob("rune-demo-*"))  # it removed what it made
    # Nothing was written next to the installed files (no bytecode caches).
    demo_dir = installed.file("/usr/share/rune/demo")
    assert sorted(os.listdir(demo_dir)) == sorted(
        Path(p).name for p in package_files(installed, "rune", "rune-demo")
        if p.startswith("/usr/share/rune/demo/"))


def test_purge(installed):
    """Last: the packages go again, their configuration too."""
    installed.run("dpkg", "--purge", *reversed(PACKAGES), timeout=300)
    for path in PROGRAMS + [UNIT, "/etc/enclave-agent", "/etc/default/enclave-agent",
                            "/usr/share/rune", "/usr/include/rune"]:
        assert not os.path.lexists(installed.file(path)), path
