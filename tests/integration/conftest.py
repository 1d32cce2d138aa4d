"""Fixtures for rune's integration suite (see README.md in this directory).

The suite drives a runtime binary chosen by $RUNE_BIN (default: <repo>/build/cmd/rune/rune).
Every test is first validated against runc (RUNE_BIN=$(command -v runc)); where runc and rune
legitimately differ the tests branch on runtime_name().

Isolation and cleanup:
  * the whole pytest process moves into a private mount namespace at start-up, so whatever a
    test (or a buggy runtime) mounts can never reach the host's mount table;
  * every test gets its own work directory, its own --root state directory and unique
    container ids;
  * every runtime command and every container payload carries a per-test environment tag
    (RUNE_IT_TAG=<token>), which is how teardown finds processes left behind;
  * teardown kills every container of the test by PID (SIGKILL), runs `delete --force`, and then
    checks -- and fails the test when it finds any -- leftover state directories, cgroup
    directories, tagged processes and new mounts. It cleans them up either way.
"""

import ctypes
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RUNE_BIN = os.environ.get("RUNE_BIN") or str(REPO / "build" / "cmd" / "rune" / "rune")
BUSYBOX = shutil.which("busybox", path="/bin:/usr/bin:/sbin:/usr/sbin") or "/bin/busybox"
TAG_VAR = "RUNE_IT_TAG"
CGROUP_ROOT = Path("/sys/fs/cgroup")

# Capability names in bit order (linux/capability.h).
CAPS = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK",
    "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
    "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
]


# --------------------------------------------------------------------------------------------
# Which runtime is under test


def runtime_name():
    """Basename of the runtime under test: "rune", "runc", ..."""
    return Path(RUNE_BIN).name


def is_rune():
    return runtime_name() == "rune"


# Tests of behaviour only rune promises (runc may or may not have it). Set RUNE_IT_RUNE_SPECIFIC=1
# to run them against another runtime anyway, e.g. to validate the test itself against runc.
rune_specific = pytest.mark.skipif(
    not is_rune() and not os.environ.get("RUNE_IT_RUNE_SPECIFIC"),
    reason=f"rune-specific test; runtime under test is {runtime_name()}",
)


def cap_mask(names):
    mask = 0
    for name in names:
        mask |= 1 << CAPS.index(name)
    return mask


# --------------------------------------------------------------------------------------------
# Session set-up: root check, private mount namespace

CLONE_NEWNS = 0x00020000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18


def _enter_private_mount_namespace():
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNS) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"unshare(CLONE_NEWNS): {os.strerror(err)}")
    if libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount --make-rprivate /: {os.strerror(err)}")


# --------------------------------------------------------------------------------------------
# Trusted PALs. rune loads a PAL only from an allowed directory that root owns all the way up
# (lib/enclave/trust.c); the build tree and /tmp are neither. The PALs the tests use are copied
# to PAL_DIR: on a tmpfs over /mnt that exists only in the suite's private mount namespace (or,
# with RUNE_IT_NO_UNSHARE, a directory under / removed at the end), and rune is told about it
# through RUNE_ENCLAVE_RUNTIME_DIRS, which every command of the suite inherits.

_PAL_BASE = Path("/mnt") if Path("/mnt").is_dir() and not os.environ.get("RUNE_IT_NO_UNSHARE") \
    else Path("/")
PAL_DIR = _PAL_BASE / f"rune-it-pals-{os.getpid()}"
PAL_DIRS_VAR = "RUNE_ENCLAVE_RUNTIME_DIRS"


def _build_pals():
    """The PALs of the build RUNE_BIN belongs to, by staged name."""
    build = Path(RUNE_BIN).resolve().parents[2]
    pals = {p.name: p for p in (build / "tests" / "pal").glob("libtest-pal-*.so")}
    pals.update({p.name: p for p in (build / "pal" / "skeleton").glob("liberpal-skeleton*.so")})
    return pals


def _stage_trusted_pals():
    if _PAL_BASE == Path("/mnt"):
        subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=755", "rune-it-pals", "/mnt"],
                       check=True)
    PAL_DIR.mkdir(mode=0o755)
    PAL_DIR.chmod(0o755)
    for name, src in _build_pals().items():
        shutil.copyfile(src, PAL_DIR / name)
        (PAL_DIR / name).chmod(0o755)
    os.environ[PAL_DIRS_VAR] = str(PAL_DIR)


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes more than a few seconds")
    if os.geteuid() == 0 and not os.environ.get("RUNE_IT_NO_UNSHARE"):
        _enter_private_mount_namespace()
    if os.geteuid() == 0 and is_rune():
        _stage_trusted_pals()


def pytest_unconfigure(config):
    if PAL_DIR.is_dir():
        shutil.rmtree(PAL_DIR, ignore_errors=True)
        if _PAL_BASE == Path("/mnt"):
            subprocess.run(["umount", "/mnt"], check=False)


def pytest_report_header(config):
    return [f"runtime under test: {RUNE_BIN} (name {runtime_name()!r})", f"busybox: {BUSYBOX}"]


def pytest_collection_modifyitems(config, items):
    if os.geteuid() != 0:
        skip = pytest.mark.skip(reason="integration tests need root")
        for item in items:
            item.add_marker(skip)


# --------------------------------------------------------------------------------------------
# Small helpers


def wait_until(predicate, timeout=20.0, interval=0.02, what="condition"):
    """Poll predicate() until it returns a true value (returned); fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def read_text(path, default=None):
    try:
        return Path(path).read_text()
    except OSError:
        if default is None:
            raise
        return default


def pid_alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"


def proc_status(pid):
    """/proc/<pid>/status as a dict of stripped strings."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        out[key] = value.strip()
    return out


def ns_id(pid, ns):
    """The namespace link of pid, e.g. 'net:[4026531840]'."""
    return os.readlink(f"/proc/{pid}/ns/{ns}")


def proc_environ(pid):
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return []
    return [e.decode(errors="replace") for e in raw.split(b"\0") if e]


def proc_cgroups(pid):
    """Controller -> cgroup path of pid; the cgroup2 entry is keyed 'unified'."""
    out = {}
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if not controllers:
            out["unified"] = path
        for c in controllers.split(","):
            if c:
                out[c] = path
    return out


def _unescape(field):
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def mountinfo(pid="self"):
    """Parsed /proc/<pid>/mountinfo: a list of dicts."""
    entries = []
    for line in Path(f"/proc/{pid}/mountinfo").read_text().splitlines():
        pre, _, post = line.partition(" - ")
        f = pre.split()
        fstype, source, super_opts = (post.split() + ["", "", ""])[:3]
        entries.append({
            "id": int(f[0]), "parent": int(f[1]), "majmin": f[2], "root": _unescape(f[3]),
            "mount_point": _unescape(f[4]), "options": f[5].split(","), "optional": f[6:],
            "fstype": fstype, "source": _unescape(source), "super_options": super_opts.split(","),
        })
    return entries


def cgroup_mounts():
    """Controller -> mount point of the hierarchies visible here ('unified' for cgroup2)."""
    out = {}
    for m in mountinfo():
        if m["fstype"] == "cgroup2":
            out.setdefault("unified", m["mount_point"])
        elif m["fstype"] == "cgroup":
            for opt in m["super_options"]:
                if opt not in ("rw", "ro") and "=" not in opt or opt.startswith("name="):
                    out.setdefault(opt, m["mount_point"])
    return out


def cgroup_dir(pid, controller):
    """Host directory of pid's cgroup in the given controller's hierarchy."""
    path = proc_cgroups(pid)[controller]
    return Path(cgroup_mounts()[controller]) / path.lstrip("/")


def cgroup_file(pid, controller, name):
    return read_text(cgroup_dir(pid, controller) / name).strip()


def find_cgroup_dirs(needle):
    """Every cgroup directory (any hierarchy) whose name contains needle."""
    found = []
    for mp in set(cgroup_mounts().values()):
        for dirpath, dirnames, _ in os.walk(mp):
            for d in dirnames:
                if needle in d:
                    found.append(os.path.join(dirpath, d))
    return found


def remove_cgroup_tree(path):
    for dirpath, _, _ in sorted(os.walk(path), key=lambda t: -t[0].count("/")):
        try:
            os.rmdir(dirpath)
        except OSError:
            pass


def tagged_pids(tag):
    """Live processes whose environment carries RUNE_IT_TAG=tag."""
    want = f"{TAG_VAR}={tag}"
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid() and want in proc_environ(entry):
            if pid_alive(int(entry)):
                pids.append(int(entry))
    return pids


def kill_and_wait(pids, timeout=10):
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    wait_until(lambda: not any(pid_alive(p) for p in pids), timeout=timeout,
               what=f"processes {pids} to die")


def thaw_and_kill(pids):
    """SIGKILL pids, first thawing any v1 freezer cgroup they are frozen in (a frozen
    process cannot die); a failure to stop them is reported, not raised."""
    for pid in pids:
        try:
            rel = proc_cgroups(pid).get("freezer")
        except OSError:
            continue
        if rel and rel != "/":
            try:
                Path(f"/sys/fs/cgroup/freezer{rel}/freezer.state").write_text("THAWED")
            except OSError:
                pass
    try:
        kill_and_wait(pids)
    except AssertionError as e:
        print(f"teardown: {e}", file=sys.stderr)


def umount(path, lazy=True):
    subprocess.run(["umount", "-l" if lazy else "-R", path], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=False)


def mount_points():
    return [m["mount_point"] for m in mountinfo()]


# cgroups by meaning, in whichever mode the host has. Where a v1 controller is mounted (legacy
# and hybrid hosts) the runtime puts the resource there, under v1 names; on a unified host
# everything is in the container's one cgroup2 directory, under v2 names and scales. A check the
# host cannot answer (no such controller, no swap accounting, no devices.list on cgroup2) skips
# the test naming what is missing; a file missing where the host offers its controller fails.


def cgroup_mode():
    """The host's cgroup layout, from /proc/self/mountinfo: "unified" (cgroup2 at
    /sys/fs/cgroup), "hybrid" (v1 controllers plus a cgroup2 mount, /sys/fs/cgroup/unified) or
    "legacy" (v1 only); None if no cgroup is mounted."""
    types = {(m["fstype"], m["mount_point"]) for m in mountinfo()}
    v2 = any(t == "cgroup2" for t, _ in types)
    if ("cgroup2", str(CGROUP_ROOT)) in types or (v2 and not any(t == "cgroup" for t, _ in types)):
        return "unified"
    if any(t == "cgroup" for t, _ in types):
        return "hybrid" if v2 else "legacy"
    return None


def cgroup_controllers():
    """Controller -> 1 or 2: the hierarchy the runtime uses for it on this host. v1 mounts
    (including name=systemd) win, as they do for the runtime on a hybrid host; cgroup2 adds the
    controllers its root offers (cgroup.controllers)."""
    mounts = cgroup_mounts()
    out = {c: 1 for c in mounts if c != "unified"}
    if "unified" in mounts:
        offered = read_text(Path(mounts["unified"]) / "cgroup.controllers", "").split()
        for c in offered:
            out.setdefault(c, 2)
    return out


def cgroup_files(pid, controller):
    """Names of the files in pid's cgroup directory for controller (see cgroup_path)."""
    return {p.name for p in _cgroup_where(pid, controller)[1].iterdir() if p.is_file()}


def cgroup_path(pid, controller):
    """pid's cgroup (as /proc/<pid>/cgroup names it) in the hierarchy holding controller; on a
    unified host the one cgroup2 path, which also holds the freezer and the device program."""
    mode = cgroup_mode()
    if mode == "unified":
        return proc_cgroups(pid)["unified"]
    if mode is None or controller not in cgroup_mounts():
        pytest.skip(f"no cgroup v1 {controller} hierarchy is mounted on this {mode} host")
    return proc_cgroups(pid)[controller]


def _cgroup_where(pid, controller):
    """(1 or 2, directory) of pid's cgroup for controller; skips if the host lacks it."""
    mode = cgroup_mode()
    if mode is None:
        pytest.skip("no cgroup hierarchy is mounted")
    if mode != "unified":
        if controller not in cgroup_mounts():
            pytest.skip(f"no cgroup v1 {controller} hierarchy is mounted on this {mode} host")
        return 1, cgroup_dir(pid, controller)
    if controller not in ("freezer", "devices") and cgroup_controllers().get(controller) != 2:
        pytest.skip(f"the cgroup2 root does not offer the {controller} controller "
                    f"(cgroup.controllers)")
    return 2, cgroup_dir(pid, "unified")


def _cgroup_read(directory, name, controller):
    try:
        return (Path(directory) / name).read_text().strip()
    except FileNotFoundError:
        raise AssertionError(f"{directory}/{name} is missing although the host has the "
                             f"{controller} controller") from None


# Meaning -> (controller, v1 file, v2 file).
_CGROUP_LIMITS = {
    "memory": ("memory", "memory.limit_in_bytes", "memory.max"),
    "memory.reservation": ("memory", "memory.soft_limit_in_bytes", "memory.low"),
    "memory.swap": ("memory", "memory.memsw.limit_in_bytes", "memory.swap.max"),
    "cpu.shares": ("cpu", "cpu.shares", "cpu.weight"),
    "cpu.quota": ("cpu", "cpu.cfs_quota_us", "cpu.max"),
    "cpu.period": ("cpu", "cpu.cfs_period_us", "cpu.max"),
    "cpuset.cpus": ("cpuset", "cpuset.cpus", "cpuset.cpus"),
    "cpuset.mems": ("cpuset", "cpuset.mems", "cpuset.mems"),
    "pids": ("pids", "pids.max", "pids.max"),
}


def cgroup_limit(pid, what):
    """A resource of pid's cgroup by its linux.resources meaning, as a string in OCI/v1 terms:
    "memory" (limit), "memory.reservation", "memory.swap" (memory+swap), "cpu.quota",
    "cpu.period", "cpuset.cpus", "cpuset.mems", "pids"; "max" when unlimited (v1's -1 and
    page-rounded LONG_MAX included). "cpu.shares" has no inverse on cgroup2: it reads
    cpu.weight there; compare it with cgroup_shares(n)."""
    controller, v1, v2 = _CGROUP_LIMITS[what]
    version, d = _cgroup_where(pid, controller)
    if what == "memory.swap":
        name = v1 if version == 1 else v2
        if not (Path(d) / name).exists():
            pytest.skip(f"no {name} in {d}: this kernel does not account swap "
                        "(swapaccount=0 or no CONFIG_MEMCG_SWAP)")
        if version == 1:
            return _cgroup_unlimited(_cgroup_read(d, v1, controller))
        swap, mem = _cgroup_read(d, v2, controller), _cgroup_read(d, "memory.max", controller)
        return "max" if "max" in (swap, mem) else str(int(swap) + int(mem))
    value = _cgroup_read(d, v1 if version == 1 else v2, controller)
    if version == 2 and what in ("cpu.quota", "cpu.period"):
        quota, period = value.split()
        value = quota if what == "cpu.quota" else period
    return _cgroup_unlimited(value)


def _cgroup_unlimited(value):
    page = os.sysconf("SC_PAGE_SIZE")
    return "max" if value in ("-1", str((2**63 - 1) // page * page)) else value


def cpu_shares_to_weight(shares):
    """runc's cgroup2 conversion of cpu.shares [2, 262144] to cpu.weight [1, 10000]."""
    return 1 + ((shares - 2) * 9999) // 262142


def cgroup_shares(shares):
    """What cgroup_limit(pid, "cpu.shares") shows on this host for an OCI cpu.shares value:
    the shares on v1, runc's cpu.weight for them on cgroup2."""
    return str(shares if cgroup_controllers().get("cpu", 1) == 1 else cpu_shares_to_weight(shares))


def cgroup_swap_accounting():
    """Whether the kernel limits swap per cgroup (v1: memory.memsw.*, v2: memory.swap.*), None
    if this host cannot tell (no memory controller, or no non-root cgroup2 group using it)."""
    mounts = cgroup_mounts()
    if cgroup_mode() != "unified":
        if "memory" not in mounts:
            return None
        return (Path(mounts["memory"]) / "memory.memsw.limit_in_bytes").exists()
    # The cgroup2 root has no memory.* limits: ask a group that has the controller.
    for d in Path(mounts["unified"]).iterdir():
        if (d / "memory.current").exists():
            return (d / "memory.swap.current").exists()
    return None


def cgroup_freezer_state(pid):
    """pid's freezer state in v1 terms: "THAWED", "FREEZING" or "FROZEN" (cgroup2: from
    cgroup.freeze and the "frozen" line of cgroup.events)."""
    version, d = _cgroup_where(pid, "freezer")
    if version == 1:
        return _cgroup_read(d, "freezer.state", "freezer")
    if not (Path(d) / "cgroup.freeze").exists():
        pytest.skip(f"no cgroup.freeze in {d}: the kernel has no cgroup2 freezer (before 5.2)")
    if _cgroup_read(d, "cgroup.freeze", "freezer") == "0":
        return "THAWED"
    events = _cgroup_read(d, "cgroup.events", "freezer").splitlines()
    return "FROZEN" if "frozen 1" in events else "FREEZING"


def cgroup_device_rules(pid):
    """The lines of pid's devices.list (cgroup v1). cgroup2 has no list to read: device rules
    are an eBPF program there, and the test is skipped."""
    if cgroup_mode() == "unified":
        pytest.skip("cgroup2 has no devices.list: device rules are an eBPF program attached to "
                    "the container's cgroup")
    _, d = _cgroup_where(pid, "devices")
    return _cgroup_read(d, "devices.list", "devices").splitlines()


# --------------------------------------------------------------------------------------------
# Running the runtime


class Result:
    def __init__(self, argv, rc, out, err):
        self.argv, self.rc, self.out, self.err = argv, rc, out, err

    @property
    def output(self):
        return self.out + self.err

    def json(self):
        return json.loads(self.out)

    def __repr__(self):
        return (f"<{' '.join(map(str, self.argv))}: rc={self.rc}\n"
                f"--- stdout ---\n{self.out[-3000:]}\n--- stderr ---\n{self.err[-3000:]}>")


class Runtime:
    """Runs RUNE_BIN with a private --root. Output goes through files, never pipes: a container
    that inherits the runtime's stdout must not keep a reader waiting."""

    def __init__(self, binary, workdir, tag, label):
        self.binary = str(binary)
        self.workdir = Path(workdir)
        self.root = self.workdir / "state"
        self.tag = tag
        self.label = label
        self.ids = []
        self._n = 0

    # ---- identity
    @property
    def name(self):
        return Path(self.binary).name

    def new_id(self, hint=""):
        """A container id unique across tests and parallel runs; remembered for teardown."""
        self._n += 1
        cid = f"rit-{self.label}{hint}-{self.tag[:8]}{self._n}"
        self.ids.append(cid)
        return cid

    def env(self, extra=None):
        """The environment of a command: ours, the test's tag, then extra (None removes)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("LISTEN_")}
        env[TAG_VAR] = self.tag
        env.update(extra or {})
        return {k: v for k, v in env.items() if v is not None}

    # ---- raw invocation
    def cmd(self, *args, timeout=60, stdin=None, input=None, env=None, pass_fds=(), cwd=None,
            global_args=(), stdout=None, root=True, wrapper=(), binary=None):
        """Run `<runtime> --root <root> <global_args> <args>` and return a Result.

        stdin: a path or file object; input: bytes/str fed on stdin; stdout: a path that
        keeps the output (for detached containers whose payload writes to it)."""
        argv = [*wrapper, str(binary or self.binary)]
        if root:
            argv += ["--root", str(self.root)]
        argv += [*global_args, *map(str, args)]
        with tempfile.TemporaryFile(dir=self.workdir) as errf, \
                _open_out(stdout, self.workdir) as outf, \
                _open_in(stdin, input, self.workdir) as inf:
            proc = subprocess.Popen(argv, stdin=inf, stdout=outf, stderr=errf,
                                    env=self.env(env), pass_fds=pass_fds, cwd=cwd,
                                    start_new_session=True)
            try:
                rc = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait()
                rc = None
            outf.seek(0)
            errf.seek(0)
            res = Result(argv, rc, outf.read().decode(errors="replace"),
                         errf.read().decode(errors="replace"))
        if rc is None:
            raise AssertionError(f"timed out after {timeout}s: {res!r}")
        return res

    def ok(self, *args, **kw):
        """cmd() that must exit 0."""
        res = self.cmd(*args, **kw)
        assert res.rc == 0, res
        return res

    # ---- lifecycle helpers (bundles are saved before use)
    def create(self, cid, bundle, *extra, check=True, **kw):
        bundle.save()
        res = self.cmd("create", "--bundle", bundle.path, *extra, cid, **kw)
        if check:
            assert res.rc == 0, res
        return res

    def start(self, cid, check=True):
        res = self.cmd("start", cid)
        if check:
            assert res.rc == 0, res
        return res

    def run(self, cid, bundle, *extra, **kw):
        """Foreground `run`: returns when the container has exited (Result.rc = its status)."""
        bundle.save()
        return self.cmd("run", "--bundle", bundle.path, *extra, cid, **kw)

    def run_detached(self, cid, bundle, *extra, **kw):
        bundle.save()
        kw.setdefault("stdout", self.workdir / f"{cid}.out")
        res = self.cmd("run", "--detach", "--bundle", bundle.path, *extra, cid, **kw)
        assert res.rc == 0, res
        return res

    def state(self, cid):
        res = self.cmd("state", cid)
        assert res.rc == 0, res
        return res.json()

    def pid(self, cid):
        return self.state(cid)["pid"]

    def status(self, cid):
        res = self.cmd("state", cid)
        return res.json()["status"] if res.rc == 0 else None

    def wait_status(self, cid, status, timeout=20):
        wait_until(lambda: self.status(cid) == status, timeout=timeout,
                   what=f"container {cid} to be {status}")

    def exec(self, cid, *argv, opts=(), **kw):
        return self.cmd("exec", *opts, cid, *argv, **kw)

    def delete(self, cid, force=False):
        return self.cmd("delete", *(["--force"] if force else []), cid)

    def simple(self, bundle, args, cid=None, **kw):
        """Run args in bundle in the foreground and return the Result."""
        bundle.config["process"]["args"] = list(args)
        return self.run(cid or self.new_id(), bundle, **kw)

    # ---- teardown
    def cleanup(self):
        """Stop and delete every container of this test; return a list of leftovers found."""
        problems = []
        ids = list(self.ids)
        if self.root.is_dir():
            ids += [d for d in os.listdir(self.root) if d not in ids]
        for cid in ids:
            res = self.cmd("state", cid, timeout=30)
            pid = 0
            if res.rc == 0:
                try:
                    pid = int(json.loads(res.out).get("pid") or 0)
                except ValueError:
                    pid = 0
            # The runtime's own forced delete first: it must also cope with a paused
            # container, whose processes a plain SIGKILL cannot stop.
            self.cmd("delete", "--force", cid, timeout=30)
            if pid > 0 and pid_alive(pid) and self._owns(pid, cid):
                problems.append(f"{cid}: init {pid} survived `delete --force`")
                thaw_and_kill([pid])
        leftover = tagged_pids(self.tag)
        if leftover:
            problems.append(f"processes left behind: {_describe(leftover)}")
            thaw_and_kill(leftover)
        if self.root.is_dir() and os.listdir(self.root):
            problems.append(f"state left under --root: {sorted(os.listdir(self.root))}")
        for cid in ids:
            dirs = find_cgroup_dirs(cid)
            if dirs:
                problems.append(f"cgroups left behind: {dirs}")
                for d in sorted(dirs, key=len, reverse=True):
                    remove_cgroup_tree(d)
        return problems

    def _owns(self, pid, cid):
        """Guard against PID reuse: only kill processes that are demonstrably ours."""
        if f"{TAG_VAR}={self.tag}" in proc_environ(pid):
            return True
        try:
            return any(cid in p for p in proc_cgroups(pid).values())
        except OSError:
            return False


def _describe(pids):
    out = []
    for pid in pids:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            cmdline = "?"
        out.append(f"{pid}:{cmdline.strip()}")
    return ", ".join(out)


class _open_out:
    def __init__(self, path, workdir):
        self.path, self.workdir = path, workdir

    def __enter__(self):
        if self.path is None:
            self.f = tempfile.TemporaryFile(dir=self.workdir)
        else:
            self.f = open(self.path, "w+b")
        return self.f

    def __exit__(self, *exc):
        self.f.close()


class _open_in:
    def __init__(self, stdin, data, workdir):
        self.stdin, self.data, self.workdir, self.f = stdin, data, workdir, None

    def __enter__(self):
        if self.data is not None:
            self.f = tempfile.TemporaryFile(dir=self.workdir)
            self.f.write(self.data.encode() if isinstance(self.data, str) else self.data)
            self.f.seek(0)
            return self.f
        if isinstance(self.stdin, (str, Path)):
            self.f = open(self.stdin, "rb")
            return self.f
        return self.stdin if self.stdin is not None else subprocess.DEVNULL

    def __exit__(self, *exc):
        if self.f is not None:
            self.f.close()


# --------------------------------------------------------------------------------------------
# Bundles


class Bundle:
    """A bundle directory: rootfs/ (busybox) plus config.json kept in self.config."""

    def __init__(self, path, config):
        self.path = Path(path)
        self.rootfs = self.path / "rootfs"
        self.config = config

    @property
    def process(self):
        return self.config["process"]

    @property
    def linux(self):
        return self.config.setdefault("linux", {})

    def save(self):
        (self.path / "config.json").write_text(json.dumps(self.config, indent=2))

    def add_mount(self, destination, source, type="bind", options=("rbind", "rw")):
        self.config.setdefault("mounts", []).append(
            {"destination": destination, "type": type, "source": str(source),
             "options": list(options)})

    def add_env(self, *pairs):
        self.process.setdefault("env", []).extend(pairs)

    def set_namespace(self, ns, path=None):
        nss = [n for n in self.linux.setdefault("namespaces", []) if n["type"] != ns]
        nss.append({"type": ns, **({"path": str(path)} if path else {})})
        self.linux["namespaces"] = nss

    def remove_namespace(self, ns):
        self.linux["namespaces"] = [n for n in self.linux.get("namespaces", []) if n["type"] != ns]

    def write_script(self, rel, text, mode=0o755):
        """A file inside the rootfs (e.g. a shell script for the payload)."""
        p = self.rootfs / rel.lstrip("/")
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
        p.chmod(mode)
        return p


_APPLETS = None


def busybox_applets():
    global _APPLETS
    if _APPLETS is None:
        out = subprocess.run([BUSYBOX, "--list"], check=True, capture_output=True, text=True)
        _APPLETS = [a for a in out.stdout.split() if a and "/" not in a and a != "busybox"]
    return _APPLETS


def make_rootfs(rootfs):
    """A self-contained busybox-static userland."""
    bindir = rootfs / "bin"
    bindir.mkdir(parents=True)
    shutil.copy2(BUSYBOX, bindir / "busybox")
    for applet in busybox_applets():
        os.symlink("busybox", bindir / applet)
    for d in ("proc", "sys", "dev", "etc", "root", "mnt", "run"):
        (rootfs / d).mkdir()
    (rootfs / "tmp").mkdir(mode=0o1777)
    (rootfs / "tmp").chmod(0o1777)
    os.symlink("bin", rootfs / "sbin")
    (rootfs / "usr").mkdir()
    os.symlink("../bin", rootfs / "usr" / "bin")
    (rootfs / "etc" / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/tmp:/bin/sh\n"
        "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
    (rootfs / "etc" / "group").write_text("root:x:0:\nuser:x:1000:\nnogroup:x:65534:\n")


# --------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="session")
def spec_template(tmp_path_factory):
    """The runtime's own `spec` output, produced once per session."""
    if not os.access(RUNE_BIN, os.X_OK):
        pytest.fail(f"runtime binary {RUNE_BIN} not found or not executable (set RUNE_BIN)")
    d = tmp_path_factory.mktemp("spec")
    res = subprocess.run([RUNE_BIN, "spec"], cwd=d, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, f"`{RUNE_BIN} spec` failed: {res.stderr}"
    return json.loads((d / "config.json").read_text())


@pytest.fixture
def workdir(request):
    """A private, world-traversable work directory (user-namespace tests need o+x)."""
    base = os.environ.get("RUNE_IT_TMPDIR", "/tmp")
    d = Path(tempfile.mkdtemp(prefix="rune-it-", dir=base))
    d.chmod(0o755)
    yield d
    # Never rm -rf across a mount point: unmount first (deepest first), then remove.
    stray = sorted((m for m in mount_points() if m == str(d) or m.startswith(str(d) + "/")),
                   key=len, reverse=True)
    for m in stray:
        umount(m)
    if any(m.startswith(str(d) + "/") for m in mount_points()):
        pytest.fail(f"cannot unmount everything under {d}; leaving it in place")
    shutil.rmtree(d, ignore_errors=True)
    if stray:
        pytest.fail(f"mounts left under the work directory: {stray}")


@pytest.fixture
def rune(request, workdir):
    """The runtime under test with a private --root; cleans up and checks for leftovers."""
    label = re.sub(r"[^a-z0-9]", "", request.node.name.lower().replace("test_", ""))[:12]
    tag = uuid.uuid4().hex
    rt = Runtime(RUNE_BIN, workdir, tag, label)
    if not os.access(rt.binary, os.X_OK):
        pytest.fail(f"runtime binary {rt.binary} not found or not executable (set RUNE_BIN)")
    mounts_before = set(mount_points())
    yield rt
    problems = rt.cleanup()
    new_mounts = [m for m in mount_points() if m not in mounts_before]
    if new_mounts:
        problems.append(f"new mounts after the test: {new_mounts}")
        for m in sorted(new_mounts, key=len, reverse=True):
            umount(m)
    if problems:
        pytest.fail("teardown found leftovers:\n  " + "\n  ".join(problems))


@pytest.fixture
def bundle(workdir, spec_template, rune):
    """Factory: bundle(args=[...]) -> Bundle built from the runtime's `spec`, terminal off,
    the test's tag in the payload environment, not yet written (runtime helpers save it)."""
    counter = [0]

    def make(args=("sleep", "3600"), name=None):
        counter[0] += 1
        path = workdir / (name or f"bundle{counter[0]}")
        path.mkdir()
        make_rootfs(path / "rootfs")
        config = json.loads(json.dumps(spec_template))
        config["process"]["terminal"] = False
        config["process"]["args"] = list(args)
        config["process"].setdefault("env", []).append(f"{TAG_VAR}={rune.tag}")
        b = Bundle(path, config)
        b.save()
        return b

    return make


class Mounts:
    """Mounts a test makes on purpose (in the suite's private mount namespace); undone at
    teardown, before the leak checks."""

    def __init__(self):
        self.points = []

    def mount(self, *argv, target):
        subprocess.run(["mount", *map(str, argv), str(target)], check=True)
        self.points.append(str(target))

    def add(self, target):
        self.points.append(str(target))

    def cleanup(self):
        for p in reversed(self.points):
            umount(p)


@pytest.fixture
def mounts(rune):
    m = Mounts()
    yield m
    m.cleanup()


# --------------------------------------------------------------------------------------------
# Other programs of the build RUNE_BIN comes from (<build>/cmd/rune/rune)


def build_path(*parts):
    """A path in the meson build directory that RUNE_BIN belongs to."""
    return Path(RUNE_BIN).resolve().parents[2].joinpath(*parts)


@pytest.fixture(scope="session")
def tt_image_bin():
    """tests/interop/tt-image: a C ttrpc server/client of grpc.Image/PullImage (lib/ttrpc)."""
    path = build_path("tests", "interop", "tt-image")
    if not os.access(path, os.X_OK):
        pytest.skip(f"tt-image not built ({path}); RUNE_BIN must point into a build with tests")
    return path
