"""Enclave containers: rune loads an Enclave Runtime PAL and runs the payload through it.

Two kinds of PAL are used, both built with rune:
  * the test PALs (tests/pal: v1, v2, v3 and broken variants) record every call and the values
    they receive in the file named by their "log=<path>" argument (a path in the container);
  * liberpal-skeleton.so, the reference enclave runtime (simulated backend), which really runs,
    signals and measures the payload.
"""

import hashlib
import hmac
import json
import os
import shutil
import signal
import struct
import subprocess
from pathlib import Path

import pytest

from conftest import PAL_DIR, PAL_DIRS_VAR, RUNE_BIN, is_rune, pid_alive, wait_until

pytestmark = pytest.mark.skipif(not is_rune(), reason="enclave containers are rune's")

# The PALs as rune sees them: copies in the suite's trusted directory (conftest.PAL_DIR).
TEST_PAL = {v: PAL_DIR / f"libtest-pal-{v}.so"
            for v in ("v1", "v2", "v3", "v4", "noinit", "initfails", "canary")}
SKELETON = {"v1": PAL_DIR / "liberpal-skeleton-v1.so",
            "v2": PAL_DIR / "liberpal-skeleton-v2.so",
            "v3": PAL_DIR / "liberpal-skeleton.so"}


@pytest.fixture(autouse=True)
def _built():
    missing = [str(p) for p in [*TEST_PAL.values(), *SKELETON.values()] if not p.exists()]
    if missing:
        pytest.fail(f"PALs not built next to {RUNE_BIN} or not staged: {missing}")


def enclave(b, pal, args=None, loglevel=None, type="simulated", via="env"):
    """Configure bundle b as an enclave container (through process.env or annotations)."""
    settings = {"ENCLAVE_TYPE": type, "ENCLAVE_RUNTIME_PATH": str(pal)}
    if args is not None:
        settings["ENCLAVE_RUNTIME_ARGS"] = args
    if loglevel is not None:
        settings["ENCLAVE_RUNTIME_LOGLEVEL"] = loglevel
    if via == "env":
        b.add_env(*(f"{k}={v}" for k, v in settings.items()))
    else:
        ann = b.config.setdefault("annotations", {})
        for k, v in settings.items():
            ann[k.lower().replace("_", ".")] = v
    b.config["root"]["readonly"] = False
    return b


def pal_log(b):
    p = b.rootfs / "pal.log"
    return p.read_text().splitlines() if p.exists() else []


def recorded(b, pal_version, args, **kw):
    return enclave(b, TEST_PAL[pal_version], args=f"log=/pal.log,{args}" if args else
                   "log=/pal.log", **kw)


# ---- running payloads through the skeleton ------------------------------------------------

def test_skeleton_runs_payload_output_and_exit_code(rune, bundle):
    b = enclave(bundle(["sh", "-c", "echo out:$0:$1; echo err >&2; exit 3", "a b", "c"]),
                SKELETON["v3"])
    res = rune.run(rune.new_id(), b)
    assert res.rc == 3, res
    assert res.out == "out:a b:c\n", res
    assert "err\n" in res.err
    # The simulated backend says so, every time.
    assert "SIMULATED enclave (no SGX hardware)" in res.err


@pytest.mark.parametrize("version", ["v1", "v2", "v3"])
def test_skeleton_every_pal_version(rune, bundle, version):
    b = enclave(bundle(["sh", "-c", "read x; echo got:$x; exit 9"]), SKELETON[version])
    res = rune.run(rune.new_id(), b, input="line\n")
    assert (res.rc, res.out) == (9, "got:line\n"), res


def test_enclave_variables_are_removed_from_the_payload_env(rune, bundle):
    b = enclave(bundle(["env"]), SKELETON["v3"], args="no-epm", loglevel="error")
    b.add_env("KEEP=me", "ENCLAVE_OTHER=stays")
    res = rune.run(rune.new_id(), b)
    assert res.rc == 0, res
    env = res.out.splitlines()
    assert "KEEP=me" in env and "ENCLAVE_OTHER=stays" in env
    assert not [e for e in env if e.split("=")[0] in (
        "ENCLAVE_TYPE", "ENCLAVE_RUNTIME_PATH", "ENCLAVE_RUNTIME_ARGS",
        "ENCLAVE_RUNTIME_LOGLEVEL")], env
    # loglevel error: the PAL stays quiet, so the banner is not printed either.
    assert "SIMULATED" not in res.err


def test_without_enclave_type_rune_is_a_plain_runtime(rune, bundle):
    b = bundle(["env"])
    b.add_env(f"ENCLAVE_RUNTIME_PATH={SKELETON['v3']}", "ENCLAVE_RUNTIME_ARGS=x")
    res = rune.run(rune.new_id(), b)
    assert res.rc == 0, res
    # Nothing enclave happened: the variables are the payload's, untouched.
    assert f"ENCLAVE_RUNTIME_PATH={SKELETON['v3']}" in res.out.splitlines()
    assert "SIMULATED" not in res.err


def test_missing_entrypoint_fails_at_start_with_the_pal_error(rune, bundle):
    # The entrypoint need not exist in the rootfs (a library OS has its own file system), so
    # create succeeds; the skeleton then cannot load it.
    b = enclave(bundle(["/no/such/program"]), SKELETON["v3"], loglevel="error")
    res = rune.run(rune.new_id(), b)
    assert res.rc == 127, res
    assert "pal_create_process failed with -2: No such file or directory" in res.err, res


# ---- configuration sources ------------------------------------------------------------------

def test_configuration_from_annotations(rune, bundle):
    b = recorded(bundle(["true"]), "v3", "x,y", loglevel="debug", via="annotations")
    res = rune.run(rune.new_id(), b)
    assert res.rc == 0, res
    assert "init v3 args=log=/pal.log x y log_level=debug fd=-1 addr=0" in pal_log(b)


def test_env_wins_over_annotations_and_one_character_values_are_ignored(rune, bundle):
    b = bundle(["true"])
    b.config["root"]["readonly"] = False
    b.config["annotations"] = {
        "enclave.type": "simulated",
        "enclave.runtime.path": "/annotation/path/does/not/exist.so",
        "enclave.runtime.args": "log=/pal.log,from-annotation",
        "enclave.runtime.loglevel": "warning"}
    # The env's path wins; its one-character args value is ignored (upstream's rule), so the
    # annotation's args apply; an unknown log level becomes info.
    b.add_env(f"ENCLAVE_RUNTIME_PATH={TEST_PAL['v2']}", "ENCLAVE_RUNTIME_ARGS=z",
              "ENCLAVE_RUNTIME_LOGLEVEL=loud")
    res = rune.run(rune.new_id(), b)
    assert res.rc == 0, res
    assert "init v2 args=log=/pal.log from-annotation log_level=info" in pal_log(b)


# ---- what rune passes, and in which order ---------------------------------------------------

def test_v1_call_order_and_values(rune, bundle):
    b = recorded(bundle(["sh", "-c", "exit 4", "arg with space"]), "v1", "a")
    res = rune.run(rune.new_id(), b)
    assert res.rc == 4, res
    assert pal_log(b) == [
        "get_version calls=1",
        "init v1 args=log=/pal.log a log_level=info",
        "exec v1 path=/usr/bin/sh argv=sh|-c|exit 4|arg with space stdio=0,1,2",
        "destroy"]


@pytest.mark.parametrize("version", ["v2", "v3"])
def test_v2_v3_call_order_and_values(rune, bundle, version):
    b = recorded(bundle(["sh", "-c", "exit 5"]), version, "a,b", loglevel="trace")
    b.add_env("FOO=bar baz")
    res = rune.run(rune.new_id(), b)
    assert res.rc == 5, res
    env = "|".join(e for e in b.process["env"] if not e.startswith("ENCLAVE_"))
    init = ("init v3 args=log=/pal.log a b log_level=trace fd=-1 addr=0" if version == "v3"
            else "init v2 args=log=/pal.log a b log_level=trace")
    assert pal_log(b) == [
        "get_version calls=1",
        init,
        f"create_process path=/usr/bin/sh argv=sh|-c|exit 5 env={env} stdio=0,1,2",
        "exec pid=4242",
        "destroy"]


def test_init_at_create_payload_at_start(rune, bundle):
    b = recorded(bundle(["sleep", "1000"]), "v3", "")
    cid = rune.new_id()
    rune.create(cid, b, stdin=subprocess.DEVNULL)
    assert [l.split(" ")[0] for l in pal_log(b)] == ["get_version", "init"]
    assert rune.status(cid) == "created"
    rune.start(cid)
    wait_until(lambda: any(l.startswith("exec pid=") for l in pal_log(b)), what="pal_exec")
    assert [l.split(" ")[0] for l in pal_log(b)] == [
        "get_version", "init", "create_process", "exec"]
    assert rune.status(cid) == "running"
    # A signal to the container goes to the PAL: pal_kill(payload pid, signal), in that order.
    rune.ok("kill", cid, "USR1")
    wait_until(lambda: "kill pid=4242 sig=10" in pal_log(b), what="pal_kill")
    rune.ok("delete", "--force", cid)


# ---- kill, exec, delete with the skeleton ----------------------------------------------------

def detached(rune, b):
    cid = rune.new_id()
    rune.run_detached(cid, b, stdin=subprocess.DEVNULL)
    wait_until(lambda: rune.status(cid) == "running", what="running")
    return cid


def test_kill_reaches_the_payload(rune, bundle):
    b = enclave(bundle(["sh", "-c", "trap 'echo got-usr1; exit 7' USR1; "
                        "while :; do sleep 0.05; done"]), SKELETON["v3"], loglevel="off")
    cid = detached(rune, b)
    out = rune.workdir / f"{cid}.out"
    pid = rune.pid(cid)
    rune.ok("kill", cid, "USR1")
    wait_until(lambda: not pid_alive(pid), what="the init to exit")
    assert out.read_text() == "got-usr1\n"
    assert rune.status(cid) == "stopped"
    rune.ok("delete", cid)


def test_term_stops_the_container(rune, bundle):
    b = enclave(bundle(["sleep", "1000"]), SKELETON["v3"], loglevel="off")
    cid = detached(rune, b)
    pid = rune.pid(cid)
    rune.ok("kill", cid)
    wait_until(lambda: not pid_alive(pid), what="the init to exit")
    rune.ok("delete", cid)
    assert not (rune.root / cid).exists()


def test_exec_argv_env_stdio_and_status(rune, bundle):
    b = enclave(bundle(["sleep", "1000"]), SKELETON["v3"], loglevel="off")
    cid = detached(rune, b)
    # Arguments survive exactly: spaces, quotes, newlines, empty strings.
    args = ["two  spaces", "quote\"s", "new\nline", ""]
    res = rune.exec(cid, "sh", "-c", 'for a in "$@"; do printf "[%s]" "$a"; done; '
                    'read x; echo; echo "in:$x env:$FOO"; exit 6', "sh", *args,
                    opts=["--env", "FOO=a b", "--env", "ENCLAVE_TYPE=leak"], input="hello\n")
    assert res.rc == 6, res
    assert res.out == "[two  spaces][quote\"s][new\nline][]\nin:hello env:a b\n", res
    # The enclave variables never reach exec'd processes either.
    res = rune.exec(cid, "env", opts=["--env", "ENCLAVE_TYPE=leak"])
    assert res.rc == 0 and "ENCLAVE_TYPE" not in res.out, res


def test_exec_failure_is_an_exec_error(rune, bundle):
    b = enclave(bundle(["sleep", "1000"]), SKELETON["v3"], loglevel="off")
    cid = detached(rune, b)
    res = rune.exec(cid, "/no/such/tool")
    assert res.rc == 255, res
    assert "pal_create_process failed with -2: No such file or directory" in res.err, res


def test_exec_detached_pid_file_and_sigkill_of_the_proxy(rune, bundle):
    b = enclave(bundle(["sleep", "1000"]), SKELETON["v3"], loglevel="off")
    cid = detached(rune, b)
    pidfile = rune.workdir / "exec.pid"
    rune.ok("exec", "--detach", "--pid-file", pidfile, cid, "sh", "-c",
            "echo $$ > /exec.pid; exec sleep 1001")
    proxy = int(pidfile.read_text())
    assert pid_alive(proxy)
    wait_until(lambda: (b.rootfs / "exec.pid").exists() and
               (b.rootfs / "exec.pid").read_text().strip(), what="exec'd process")
    before = rune.ok("ps", "--format", "json", cid).json()
    assert len(before) == 3, before  # init, the payload and the exec'd process
    # SIGKILL cannot be relayed: the init sees the proxy go and kills the enclave process.
    os.kill(proxy, signal.SIGKILL)
    wait_until(lambda: len(rune.ok("ps", "--format", "json", cid).json()) == 2,
               what="the exec'd process to be killed")
    assert rune.status(cid) == "running"


def test_delete_force_of_a_running_enclave_container(rune, bundle):
    b = enclave(bundle(["sleep", "1000"]), SKELETON["v3"], loglevel="off")
    cid = detached(rune, b)
    pids = rune.ok("ps", "--format", "json", cid).json()
    rune.ok("delete", "--force", cid)
    assert not (rune.root / cid).exists()
    wait_until(lambda: not any(pid_alive(p) for p in pids), what="every process to go")


# ---- attestation ------------------------------------------------------------------------------

def simulated_mac(body, target_mrenclave, keyid):
    from cryptography.hazmat.primitives import cmac
    from cryptography.hazmat.primitives.ciphers import algorithms
    key = hmac.new(b"rune-skeleton-simulated-root-key",
                   b"report-key" + target_mrenclave + keyid, hashlib.sha256).digest()[:16]
    c = cmac.CMAC(algorithms.AES(key))
    c.update(body)
    return c.finalize()


def test_attest_returns_a_simulated_report_of_the_payload(rune, bundle):
    b = enclave(bundle(["sleep", "1000"]), SKELETON["v3"], args="debug", loglevel="off")
    cid = detached(rune, b)
    report_file = rune.workdir / "report.bin"
    res = rune.ok("attest", "--report-data", "00ff" * 32, "--report-file", report_file, cid)
    info = res.json()
    raw = report_file.read_bytes()
    assert len(raw) == 432 and info["report"] == raw.hex()
    assert info["simulated"] is True and info["type"].startswith("simulated")
    # The measurement covers the executable the enclave loaded (busybox, via /bin/sleep).
    exe = (b.rootfs / "bin" / "busybox").read_bytes()
    want = hashlib.sha256(b"rune-skeleton-sim-enclave\0" + struct.pack("<Q", len(exe)) +
                          exe).digest()
    assert raw[64:96] == want and info["mr_enclave"] == want.hex()
    assert raw[320:384] == bytes.fromhex("00ff" * 32)
    flags, xfrm = struct.unpack_from("<QQ", raw, 48)
    assert flags & 0b111 == 0b111 and info["attributes"]["debug"] is True  # INIT|DEBUG|64
    keyid = raw[384:416]
    assert keyid == b"RUNE-SKELETON-SIMULATED-REPORT".ljust(32, b"\0")
    assert raw[416:432] == simulated_mac(raw[:384], bytes(32), keyid)


def test_attest_needs_a_v3_pal_and_an_enclave_container(rune, bundle):
    cid = detached(rune, enclave(bundle(["sleep", "1000"]), SKELETON["v2"], loglevel="off"))
    res = rune.cmd("attest", cid)
    assert res.rc == 1 and "reports need v3" in res.err, res
    plain = rune.new_id()
    rune.run_detached(plain, bundle(["sleep", "1000"]), stdin=subprocess.DEVNULL)
    res = rune.cmd("attest", plain)
    assert res.rc == 1, res
    assert res.err == f"rune: container {plain} is not an enclave container\n", res
    res = rune.cmd("attest", "--report-data", "xyz", cid)
    assert res.rc == 1 and "--report-data" in res.err, res


# ---- errors at create: a clear message, and nothing left behind --------------------------------

BAD_CONFIGS = [
    ("missing-pal", dict(pal="/no/such/liberpal.so"),
     "enclave runtime path /no/such/liberpal.so: No such file or directory"),
    ("relative-path", dict(pal="liberpal.so"),
     "enclave runtime path liberpal.so: must be an absolute host path"),
    ("not-a-library", dict(pal=PAL_DIR / "not-a-library.so"),
     f"enclave runtime {PAL_DIR}/not-a-library.so: cannot load: "),
    ("missing-symbol", dict(pal=TEST_PAL["noinit"]), "PAL API v3 needs the symbol pal_init"),
    ("unsupported-version", dict(pal=TEST_PAL["v4"]),
     "unsupported PAL API version 4 (rune supports 1 to 3)"),
    ("init-fails", dict(pal=TEST_PAL["initfails"]),
     "pal_init failed with -1: Operation not permitted"),
    ("pal-stderr", dict(pal=SKELETON["v3"], args="bogus"),
     "pal_init failed with -22: Invalid argument; PAL stderr: "
     "liberpal-skeleton: unknown argument 'bogus'"),
    ("unknown-type", dict(pal=SKELETON["v3"], type="tdx"),
     "enclave type tdx is not supported (rune knows intelSgx and simulated)"),
]


@pytest.fixture
def not_a_library():
    path = PAL_DIR / "not-a-library.so"
    path.write_text("not an ELF file\n")
    path.chmod(0o755)
    yield path
    path.unlink()


@pytest.mark.parametrize("name,cfg,message", BAD_CONFIGS, ids=[c[0] for c in BAD_CONFIGS])
def test_bad_enclave_configuration(rune, bundle, not_a_library, name, cfg, message):
    b = enclave(bundle(["true"]), cfg["pal"], args=cfg.get("args"), type=cfg.get("type",
                                                                                 "simulated"))
    cid = rune.new_id()
    res = rune.create(cid, b, check=False, stdin=subprocess.DEVNULL)
    assert res.rc == 1, res
    assert res.err.startswith("rune: ") and message in res.err, res
    assert res.err.count("\n") == 1, res
    assert not (rune.root / cid).exists()
    assert rune.cmd("state", cid).rc == 1


def test_no_runtime_path(rune, bundle):
    b = bundle(["true"])
    b.add_env("ENCLAVE_TYPE=simulated")
    res = rune.create(rune.new_id(), b, check=False, stdin=subprocess.DEVNULL)
    assert res.rc == 1 and "enclave runtime path is not configured" in res.err, res


def test_intel_sgx_without_hardware_is_refused(rune, bundle):
    cpuinfo = Path("/proc/cpuinfo").read_text()
    if " sgx " in cpuinfo or " sgx\n" in cpuinfo:
        pytest.skip("this machine has SGX: the refusal cannot be shown")
    b = enclave(bundle(["true"]), SKELETON["v3"], type="intelSgx")
    cid = rune.new_id()
    res = rune.create(cid, b, check=False, stdin=subprocess.DEVNULL)
    assert res.rc == 1, res
    assert "enclave type intelSgx: this machine has no SGX" in res.err, res
    assert "ENCLAVE_TYPE=simulated" in res.err
    assert not (rune.root / cid).exists()


def test_exec_with_a_terminal(rune, bundle, workdir):
    from test_config import ConsoleSocket
    b = enclave(bundle(["sleep", "1000"]), SKELETON["v3"], loglevel="off")
    cid = detached(rune, b)
    console = ConsoleSocket(workdir / "console.sock")
    pidfile = workdir / "exec.pid"
    rune.ok("exec", "--tty", "--detach", "--console-socket", console.path, "--pid-file",
            pidfile, cid, "sh", "-c", "test -t 0 && test -t 1 && echo is-a-tty; tty; read x; "
            "echo got:$x")
    assert console.got_fd.wait(30) and console.error is None, console.error
    console.write(b"typed\n")
    proxy = int(pidfile.read_text())
    wait_until(lambda: not pid_alive(proxy), what="the exec proxy to exit")
    out = console.finish()
    assert "is-a-tty\r\n" in out and "got:typed\r\n" in out, out
    # The terminal is the container's: its name exists in the container's /dev/pts.
    assert "/dev/pts/0\r\n" in out, out


# ---- the PAL trust rules: nothing from the bundle or the image chooses what rune loads -------
#
# Each attack plants the canary PAL (tests/pal, TEST_PAL_CANARY), whose constructor appends to
# $RUNE_TEST_CANARY the moment anything loads it; rune's own environment and the container's
# both name the file, so a load in either environment would show.

def plant(b):
    """The canary as the image would carry it: /lib/x.so in the bundle's rootfs."""
    lib = b.rootfs / "lib"
    lib.mkdir(exist_ok=True)
    shutil.copyfile(TEST_PAL["canary"], lib / "x.so")
    (lib / "x.so").chmod(0o755)
    return lib / "x.so"


@pytest.fixture
def trial(rune, bundle, workdir):
    """trial(pal or callable(b) -> pal) runs a bundle configured with that PAL the way the docs
    show (`rune run` in the bundle directory) and returns (result, canary path, bundle)."""
    made = []

    def run(pal):
        b = bundle(["sh", "-c", "echo payload-ran"])
        planted = plant(b)
        path = pal(b, planted) if callable(pal) else pal
        canary = workdir / f"canary-{len(made)}"
        enclave(b, path, args="log=/pal.log")
        b.add_env(f"RUNE_TEST_CANARY={canary}")
        b.save()
        cid = rune.new_id()
        res = rune.cmd("run", cid, cwd=b.path, stdin=subprocess.DEVNULL,
                       env={"RUNE_TEST_CANARY": str(canary)})
        made.append(cid)
        return res, canary, b, cid

    return run


@pytest.fixture
def trusted_spot(request):
    """Files and directories made next to the staged PALs for one test, removed after it."""
    made = []

    def make(name, kind="file", mode=0o755, owner=0):
        path = PAL_DIR.parent / f"rune-it-{request.node.name[:40]}-{name}" if kind == "outside" \
            else PAL_DIR / f"{request.node.name[:40]}-{name}"
        made.append(path)
        if kind == "dir":
            path.mkdir()
            path.chmod(mode)
            os.chown(path, owner, owner)
        elif kind == "outside":
            path.mkdir(mode=0o755)
        return path

    yield make
    for p in reversed(made):
        if p.is_symlink() or p.is_file():
            p.unlink()
        elif p.is_dir():
            shutil.rmtree(p)


def installed_copy(path, mode=0o755, owner=0):
    shutil.copyfile(TEST_PAL["canary"], path)
    os.chown(path, owner, owner)
    path.chmod(mode)
    return path


def assert_refused(rune, res, canary, cid, pal, rule):
    assert res.rc == 1, res
    assert res.err.startswith(f"rune: enclave runtime path {pal}"), res
    assert rule in res.err, res
    assert res.err.count("\n") == 1, res
    assert "payload-ran" not in res.out
    assert not canary.exists(), f"the planted library was loaded: {canary.read_text()}"
    assert not (rune.root / cid).exists()


INSIDE_ROOTFS = "lies inside the container's rootfs"

PLACES = [
    ("rootfs-absolute", lambda b, x: x, INSIDE_ROOTFS),
    ("proc-self-cwd", lambda b, x: "/proc/self/cwd/rootfs/lib/x.so", INSIDE_ROOTFS),
    ("dotdot", lambda b, x: f"{PAL_DIR}/../..{x}", INSIDE_ROOTFS),
    ("bundle", lambda b, x: shutil.copy(x, b.path / "pal.so") and b.path / "pal.so",
     "lies inside the bundle"),
]


@pytest.mark.parametrize("name,where,rule", PLACES, ids=[p[0] for p in PLACES])
def test_pal_from_the_bundle_is_refused(rune, trial, name, where, rule):
    res, canary, b, cid = trial(where)
    assert_refused(rune, res, canary, cid, where(b, b.rootfs / "lib/x.so"), rule)


def test_pal_symlinked_into_the_rootfs_is_refused(rune, trial, trusted_spot):
    link = trusted_spot("link.so")
    res, canary, b, cid = trial(lambda b, planted: (link.symlink_to(planted), link)[1])
    assert_refused(rune, res, canary, cid, link, f"(resolved: {b.rootfs}/lib/x.so): "
                   f"{INSIDE_ROOTFS}")


@pytest.mark.parametrize("mode", [0o775, 0o757], ids=["group", "others"])
def test_writable_pal_is_refused(rune, trial, trusted_spot, mode):
    pal = installed_copy(trusted_spot("writable.so"), mode=mode)
    res, canary, _, cid = trial(pal)
    assert_refused(rune, res, canary, cid, pal,
                   f"the file is writable by group or others (mode 0{mode:o})")


def test_pal_owned_by_another_user_is_refused(rune, trial, trusted_spot):
    pal = installed_copy(trusted_spot("owned.so"), owner=1000)
    res, canary, _, cid = trial(pal)
    assert_refused(rune, res, canary, cid, pal, "the file is owned by uid 1000, not by root")


@pytest.mark.parametrize("mode,owner,rule", [
    (0o777, 0, "is writable by group or others (mode 0777)"),
    (0o1777, 0, "is writable by group or others (mode 1777)"),
    (0o755, 1000, "is owned by uid 1000, not by root")], ids=["writable", "sticky", "owner"])
def test_pal_in_an_untrusted_directory_is_refused(rune, trial, trusted_spot, mode, owner, rule):
    d = trusted_spot("dir", kind="dir", mode=mode, owner=owner)
    pal = installed_copy(d / "x.so")
    res, canary, _, cid = trial(pal)
    assert_refused(rune, res, canary, cid, pal, f"directory {d} {rule}")


def test_pal_outside_the_allowed_directories_is_refused(rune, trial, trusted_spot):
    # Root-owned all the way up, outside the container, but not a directory rune was told of.
    pal = installed_copy(trusted_spot("elsewhere", kind="outside") / "x.so")
    res, canary, _, cid = trial(pal)
    assert_refused(rune, res, canary, cid, pal,
                   f"not in an allowed directory ({PAL_DIR}); rune --enclave-runtime-dirs")


def test_trusted_canary_loads(rune, trial, trusted_spot):
    """The control: the same library, installed where rune trusts it, is loaded (so the
    refusals above are the rules at work, not a canary that cannot sing)."""
    pal = installed_copy(trusted_spot("ok.so"))
    res, canary, b, cid = trial(pal)
    assert (res.rc, res.out) == (0, "payload-ran\n"), res
    assert canary.read_text().startswith("loaded pid="), res
    assert pal_log(b)[1].startswith("init v3 args=log=/pal.log")


def test_allowed_directories_flag_wins_over_the_environment(rune, bundle, trusted_spot):
    b = enclave(bundle(["true"]), TEST_PAL["v3"])
    res = rune.cmd("--enclave-runtime-dirs", "/usr/lib:/opt/nothing", "run", rune.new_id(),
                   cwd=b.path, stdin=subprocess.DEVNULL) if b.save() is None else None
    assert res.rc == 1, res
    assert "not in an allowed directory (/usr/lib:/opt/nothing)" in res.err, res
    res = rune.cmd("--enclave-runtime-dirs", "usr/lib", "state", "x")
    assert (res.rc, res.err) == (1, "rune: --enclave-runtime-dirs: usr/lib is not an absolute "
                                    "path\n"), res
    res = rune.cmd("state", "x", env={PAL_DIRS_VAR: "::"})
    assert (res.rc, res.err) == (1, f"rune: {PAL_DIRS_VAR} names no directory\n"), res


def rune_default_dirs(rune):
    out = rune.ok("--help", root=False).out
    start = out.index("else \"", out.index("--enclave-runtime-dirs")) + len("else \"")
    return out[start:out.index("\"", start)].split(":")


def test_default_directories_refuse_the_suite_staging(rune, bundle):
    b = enclave(bundle(["true"]), TEST_PAL["v3"])
    res = rune.run(rune.new_id(), b, env={PAL_DIRS_VAR: None})
    assert res.rc == 1, res
    assert f"not in an allowed directory ({':'.join(rune_default_dirs(rune))})" in res.err


def test_skeleton_installed_in_the_default_place_runs(rune, bundle):
    """Installed where `meson install` puts it (the first default directory), with no option:
    shown in a mount namespace of its own with a tmpfs over that place, so the host's
    directories are untouched."""
    place = Path(rune_default_dirs(rune)[0])
    top = place
    while not top.exists():
        top = top.parent
    b = enclave(bundle(["sh", "-c", "echo from-the-installed-skeleton"]),
                place / "liberpal-skeleton.so", loglevel="off")
    b.save()
    script = (f"mount -t tmpfs -o mode=755 rune-it-installed {top} && mkdir -p {place} && "
              f"cp {SKELETON['v3']} {place}/ && exec \"$@\"")
    res = rune.cmd("run", "--bundle", b.path, rune.new_id(), stdin=subprocess.DEVNULL,
                   env={PAL_DIRS_VAR: None},
                   wrapper=["unshare", "-m", "--propagation", "private", "sh", "-c", script,
                            "sh"])
    assert (res.rc, res.out) == (0, "from-the-installed-skeleton\n"), res


# ---- the PAL's environment: the container's process.env, never rune's ----------------------

@pytest.mark.parametrize("version", ["v1", "v2", "v3"])
def test_pal_and_payload_get_the_container_env_only(rune, bundle, version):
    b = recorded(bundle(["env"]), version, "")
    b.add_env("RUNE_TEST_CONTAINER_MARK=from-config")
    res = rune.run(rune.new_id(), b, env={"RUNE_TEST_HOST_MARK": "from-rune",
                                          "RUNE_TEST_CONTAINER_MARK": "from-rune"})
    assert res.rc == 0, res
    want = sorted(e for e in b.process["env"] if not e.startswith("ENCLAVE_"))
    assert sorted(res.out.splitlines()) == want, res
    log = pal_log(b)
    assert "environ at init: container=from-config host=-" in log, log
    assert "environ at exec: container=from-config host=-" in log, log


def test_errors_after_start_reach_the_log_file(rune, bundle, workdir):
    b = enclave(bundle(["/no/such/program"]), SKELETON["v3"], loglevel="error")
    log = workdir / "rune.log"
    res = rune.cmd("--log", log, "--log-format", "json", "run", "--bundle", b.path,
                   rune.new_id(), stdin=subprocess.DEVNULL) if b.save() is None else None
    assert res.rc == 127, res
    assert "pal_create_process failed with -2" in res.err, res
    lines = [json.loads(l) for l in log.read_text().splitlines()]
    errors = [l for l in lines if l["level"] == "error"]
    assert any("pal_create_process failed with -2: No such file or directory" in l["msg"]
               for l in errors), lines
