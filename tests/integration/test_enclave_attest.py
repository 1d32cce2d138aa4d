"""Attestation from inside an enclave container (lib/enclave/in-enclave.h, docs/enclave.md).

rune gives every enclave container <state dir>/attestation/attest.sock, bind-mounted read-only
at /run/rune/attestation; the container's init answers report, target_info and evidence
requests there. These tests put runectl (with its shared libraries) into the rootfs and run
`runectl evidence` / `runectl self-report` as the payload, through the skeleton PAL (v3,
simulated), and check what comes out independently of the C code:

  * the evidence is SIMTEE01 (lib/attest/evidence.h), binds the report data asked for, carries
    the skeleton's simulated measurement of runectl (include/enclave/sgx_report.h, computed
    here from the binary's bytes) and is signed by the machine's simulated attestation key
    (/var/lib/rune/sim-attestation-key.pem, read here as root);
  * a self-report for a target carries a MAC that verifies with that target's simulated report
    key (HMAC-SHA256 derivation + AES-128-CMAC, computed here) and not with another's;
  * the container cannot reach the key: not its file, not the init's memory (non-dumpable);
  * attest.sock serves no exec, kill or attest (agent.sock does, as a control), and a flood of
    connections on it does not hold up rune exec;
  * the service's directory, socket and mount (read-only, nosuid, nodev, noexec), and what is
    left after delete (nothing);
  * a plain container has no service and runectl says so in one line;
  * a key that cannot be loaded fails evidence requests, not the container; a rootfs on a
    read-only file system without the mount point runs without the service.
"""

import hashlib
import hmac
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import PAL_DIR, REPO, build_path, is_rune, read_text, wait_until

sys.path.insert(0, str(REPO / "scripts"))
from agent_bundle import copy_into, shared_libraries  # noqa: E402

RUNECTL = Path(os.environ.get("RUNECTL_BIN") or build_path("cmd", "runectl", "runectl"))
SKELETON_V3 = PAL_DIR / "liberpal-skeleton.so"
SKELETON_V2 = PAL_DIR / "liberpal-skeleton-v2.so"
SERVICE = "/run/rune/attestation"
SOCKET = SERVICE + "/attest.sock"
KEY_PATH = Path("/var/lib/rune/sim-attestation-key.pem")
NO_SERVICE = (f"runectl: evidence: enclave attestation service {SOCKET}: No such file or "
              "directory (not running in an enclave container?)")

pytestmark = pytest.mark.skipif(not is_rune(), reason="enclave containers are rune's")


@pytest.fixture(autouse=True)
def _built():
    missing = [str(p) for p in (SKELETON_V3, SKELETON_V2) if not p.exists()]
    if not os.access(RUNECTL, os.X_OK):
        missing.append(str(RUNECTL))
    if missing:
        pytest.fail(f"not built next to the runtime (or PALs not staged): {missing}")


# ---- bundles ------------------------------------------------------------------------------------

def with_runectl(b):
    """runectl at /bin/runectl in b's rootfs, with every library the dynamic linker loads."""
    shutil.copyfile(RUNECTL, b.rootfs / "bin" / "runectl")
    (b.rootfs / "bin" / "runectl").chmod(0o755)
    for lib in shared_libraries(RUNECTL):
        copy_into(b.rootfs, lib)
    for link in ("lib", "lib64"):
        if (Path("/") / link).is_symlink() and not (b.rootfs / link).exists():
            os.symlink(os.readlink(Path("/") / link), b.rootfs / link)
    return b


def with_out(b, workdir, mode=0o755):
    """A host directory bind-mounted at /out, where the payload writes its files."""
    out = workdir / f"out-{b.path.name}"
    out.mkdir()
    out.chmod(mode)
    b.add_mount("/out", out, options=("rbind", "rw"))
    return out


def enclave(b, pal=SKELETON_V3):
    b.add_env("ENCLAVE_TYPE=simulated", f"ENCLAVE_RUNTIME_PATH={pal}",
              "ENCLAVE_RUNTIME_LOGLEVEL=off")
    b.config["root"]["readonly"] = False
    return b


# ---- what the skeleton and lib/attest promise, computed here -------------------------------------

def sim_measurement(path):
    exe = Path(path).read_bytes()
    return hashlib.sha256(b"rune-skeleton-sim-enclave\0" + struct.pack("<Q", len(exe)) +
                          exe).digest()


SIM_SIGNER = hashlib.sha256(b"rune-skeleton-sim-signer").digest()
SIM_KEYID = b"RUNE-SKELETON-SIMULATED-REPORT".ljust(32, b"\0")


def sim_mac(body, target_mrenclave, keyid):
    from cryptography.hazmat.primitives import cmac
    from cryptography.hazmat.primitives.ciphers import algorithms
    key = hmac.new(b"rune-skeleton-simulated-root-key",
                   b"report-key" + target_mrenclave + keyid, hashlib.sha256).digest()[:16]
    c = cmac.CMAC(algorithms.AES(key))
    c.update(body)
    return c.finalize()


def target_info(mrenclave, flags=0b101, xfrm=3):
    """A TARGETINFO: MRENCLAVE, ATTRIBUTES (flags, xfrm), the rest zero."""
    ti = mrenclave + struct.pack("<QQ", flags, xfrm)
    return ti.ljust(512, b"\0")


def machine_public_key():
    from cryptography.hazmat.primitives import serialization
    pem = KEY_PATH.read_bytes()
    return serialization.load_pem_private_key(pem, password=None).public_key()


def parse_simtee(ev):
    """SIMTEE01 field by field (lib/attest/evidence.h), with its layout checked."""
    assert len(ev) == 500, len(ev)
    magic, version, reserved, body_size = struct.unpack_from("<8sHHI", ev, 0)
    assert (magic, version, reserved, body_size) == (b"SIMTEE01", 1, 0, 384)
    (sig_size,) = struct.unpack_from("<I", ev, 432)
    assert sig_size == 64
    return {"key_id": ev[16:48], "body": ev[48:432], "signature": ev[436:500],
            "signed": ev[:436]}


def verify_simtee(ev, public_key):
    """The signature (ECDSA P-256, SHA-256 over bytes 0..435, raw r||s) and the key id."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
    f = parse_simtee(ev)
    spki = public_key.public_bytes(serialization.Encoding.DER,
                                   serialization.PublicFormat.SubjectPublicKeyInfo)
    assert f["key_id"] == hashlib.sha256(spki).digest()
    r = int.from_bytes(f["signature"][:32], "big")
    s = int.from_bytes(f["signature"][32:], "big")
    public_key.verify(encode_dss_signature(r, s), f["signed"], ec.ECDSA(hashes.SHA256()))
    return f


# ---- the frames of agent.sock / attest.sock, spoken from the host -----------------------------

def exchange(path, msg, fds=()):
    """One request on a unix socket of the enclave init and its one answer."""
    body = json.dumps(msg).encode()
    frame = struct.pack("<I", len(body)) + body
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(20)
        s.connect(str(path))
        if fds:
            socket.send_fds(s, [frame], list(fds))
        else:
            s.sendall(frame)
        return read_frame(s)


def read_frame(s):
    def exactly(n):
        buf = b""
        while len(buf) < n:
            chunk = s.recv(n - len(buf))
            if not chunk:
                raise AssertionError(f"connection closed after {len(buf)} of {n} bytes")
            buf += chunk
        return buf
    (n,) = struct.unpack("<I", exactly(4))
    assert n < 1 << 20, n
    return json.loads(exactly(n))


def detached(rune, b):
    cid = rune.new_id()
    rune.run_detached(cid, b, stdin=subprocess.DEVNULL)
    wait_until(lambda: rune.status(cid) == "running", what="running")
    return cid


# ---- evidence and reports from inside ---------------------------------------------------------

def test_evidence_from_inside_is_signed_simulated_evidence_of_the_payload(rune, bundle, workdir):
    data = bytes(range(64))
    b = enclave(with_runectl(bundle(["/bin/runectl", "evidence", "--report-data", data.hex(),
                                     "--output", "/out/evidence.bin"])))
    out = with_out(b, workdir)
    cid = rune.new_id()
    res = rune.run(cid, b)
    assert res.rc == 0, res
    assert res.out == ("evidence (500 bytes, simulated: not hardware evidence) written to "
                       "/out/evidence.bin\n"), res
    f = verify_simtee((out / "evidence.bin").read_bytes(), machine_public_key())
    body = f["body"]
    assert body[320:384] == data
    # The enclave is the payload the skeleton measured: runectl itself.
    assert body[64:96] == sim_measurement(b.rootfs / "bin" / "runectl")
    assert body[64:96] == sim_measurement(RUNECTL)
    assert body[128:160] == SIM_SIGNER
    flags, xfrm = struct.unpack_from("<QQ", body, 48)
    assert (flags, xfrm) == (0b101, 3)  # INIT | MODE64BIT, no DEBUG without the "debug" arg
    # The key stays root's: 0600, never handed to the container.
    assert KEY_PATH.stat().st_mode & 0o777 == 0o600 and KEY_PATH.stat().st_uid == 0
    # Deleted: nothing of the container is left, the attestation directory included.
    assert not (rune.root / cid).exists()


def test_a_flipped_bit_breaks_the_signature(rune, bundle, workdir):
    """The verification above can fail: the same checks refuse altered evidence."""
    from cryptography.exceptions import InvalidSignature
    b = enclave(with_runectl(bundle(["/bin/runectl", "evidence", "--report-data", "ab" * 64,
                                     "--output", "/out/evidence.bin"])))
    out = with_out(b, workdir)
    res = rune.run(rune.new_id(), b)
    assert res.rc == 0, res
    ev = bytearray((out / "evidence.bin").read_bytes())
    assert parse_simtee(bytes(ev))["body"][320:384] == b"\xab" * 64
    ev[48 + 320] ^= 1  # the first byte of the report data
    with pytest.raises(InvalidSignature):
        verify_simtee(bytes(ev), machine_public_key())


def test_report_data_is_zero_padded_and_checked(rune, bundle, workdir):
    b = enclave(with_runectl(bundle(["sh", "-c",
                                     "runectl evidence --report-data c0ffee --output "
                                     "/out/e.bin && runectl evidence --report-data xyz "
                                     "--output /out/bad.bin 2>/out/err; echo rc=$?"])))
    out = with_out(b, workdir)
    res = rune.run(rune.new_id(), b)
    assert res.rc == 0, res
    assert res.out.splitlines()[-1] == "rc=1", res
    assert (out / "err").read_text() == (
        "runectl: evidence: --report-data: at most 64 bytes in hex expected\n")
    assert not (out / "bad.bin").exists()
    f = verify_simtee((out / "e.bin").read_bytes(), machine_public_key())
    assert f["body"][320:384] == bytes.fromhex("c0ffee").ljust(64, b"\0")
    # The enclave is the first process the PAL created: the shell (busybox), not runectl.
    assert f["body"][64:96] == sim_measurement(b.rootfs / "bin" / "busybox")


def test_self_report_for_a_target_verifies_with_that_targets_key(rune, bundle, workdir):
    data = hashlib.sha512(b"nonce").digest()
    target_mr = hashlib.sha256(b"some verifying enclave").digest()
    b = enclave(with_runectl(bundle(["/bin/runectl", "self-report", "--target-info",
                                     "/out/ti.bin", "--report-data", data.hex(), "--output",
                                     "/out/report.bin"])))
    out = with_out(b, workdir)
    (out / "ti.bin").write_bytes(target_info(target_mr))
    res = rune.run(rune.new_id(), b)
    assert res.rc == 0, res
    assert res.out == "REPORT (432 bytes, simulated) written to /out/report.bin\n", res
    raw = (out / "report.bin").read_bytes()
    assert len(raw) == 432
    body, keyid, mac = raw[:384], raw[384:416], raw[416:]
    assert keyid == SIM_KEYID
    assert body[320:384] == data
    assert body[64:96] == sim_measurement(RUNECTL)
    assert mac == sim_mac(body, target_mr, keyid)
    # Made for that target only: another target's key gives another MAC.
    assert mac != sim_mac(body, bytes(32), keyid)


def test_self_report_refuses_a_target_info_of_the_wrong_size(rune, bundle, workdir):
    b = enclave(with_runectl(bundle(["/bin/runectl", "self-report", "--target-info",
                                     "/out/ti.bin", "--output", "/out/report.bin"])))
    out = with_out(b, workdir)
    (out / "ti.bin").write_bytes(bytes(511))
    res = rune.run(rune.new_id(), b)
    assert res.rc == 1, res
    assert res.err.endswith(
        "runectl: self-report: /out/ti.bin: 511 bytes, a TARGETINFO has 512\n"), res
    assert not (out / "report.bin").exists()


def test_any_uid_of_the_container_may_ask(rune, bundle, workdir):
    b = enclave(with_runectl(bundle(["/bin/runectl", "evidence", "--report-data", "01",
                                     "--output", "/out/evidence.bin"])))
    b.process["user"] = {"uid": 1000, "gid": 1000}
    out = with_out(b, workdir, mode=0o777)
    res = rune.run(rune.new_id(), b)
    assert res.rc == 0, res
    ev = (out / "evidence.bin").read_bytes()
    assert verify_simtee(ev, machine_public_key())["body"][320] == 1
    assert (out / "evidence.bin").stat().st_uid == 1000


# ---- the service's surroundings ---------------------------------------------------------------

def test_service_directory_socket_and_mount(rune, bundle, workdir):
    b = enclave(with_runectl(bundle(["sh", "-c",
                                     "grep ' /run/rune/attestation ' /proc/self/mountinfo "
                                     ">/out/mountinfo; touch /run/rune/attestation/x "
                                     "2>/dev/null; echo touch=$? >/out/touch; "
                                     "ls /run/rune/attestation >/out/ls; "
                                     "echo done >/out/done; sleep 1000"])))
    out = with_out(b, workdir)
    cid = detached(rune, b)
    # the last file, once written whole (a redirection creates a file before it is written)
    wait_until(lambda: read_text(out / "done", "") == "done\n", what="the payload")
    # On the host: rune's directory, and a socket anyone (in the container) may connect to.
    d = rune.root / cid / "attestation"
    st = d.stat()
    assert (oct(st.st_mode & 0o7777), st.st_uid) == ("0o755", 0)
    sock = (d / "attest.sock").stat()
    assert oct(sock.st_mode & 0o7777) == "0o666"
    assert sorted(os.listdir(d)) == ["attest.sock"]
    # In the container: read-only, nosuid, nodev, noexec; only the socket there.
    lines = (out / "mountinfo").read_text().splitlines()
    assert len(lines) == 1, lines
    opts = lines[0].split()[5].split(",")
    assert {"ro", "nosuid", "nodev", "noexec"} <= set(opts), opts
    assert (out / "touch").read_text() == "touch=1\n"
    assert (out / "ls").read_text() == "attest.sock\n"
    rune.ok("delete", "--force", cid)
    assert not (rune.root / cid).exists()


def test_a_config_mount_at_the_service_path_wins(rune, bundle, workdir):
    mine = workdir / "mine"
    mine.mkdir()
    (mine / "marker").write_text("the operator's\n")
    b = enclave(with_runectl(bundle(["sh", "-c", "cat /run/rune/attestation/marker; "
                                     "runectl evidence --output /tmp/e.bin 2>&1; echo rc=$?"])))
    b.add_mount(SERVICE, mine, options=("rbind", "ro"))
    res = rune.run(rune.new_id(), b)
    assert res.rc == 0, res
    assert res.out.splitlines() == ["the operator's", NO_SERVICE, "rc=1"], res


# /proc/1 of the container as its processes see it: maps and environ are ptrace-read checks,
# mem an attach check (its open is what is refused).
PROC1_PROBE = ("for f in maps environ; do "
               "  if cat /proc/1/$f >/dev/null 2>&1; then echo $f=readable; "
               "  else echo $f=denied; fi; "
               "done; "
               "if (exec 3</proc/1/mem) 2>/dev/null; then echo mem=open; else echo mem=denied; fi")


@pytest.mark.parametrize("has_point", [False, True])
def test_a_read_only_rootfs(rune, bundle, workdir, mounts, has_point):
    """A rootfs on a read-only file system gets the service only where its mount point
    already exists; without one the container still runs (as before the service), warned."""
    b = enclave(with_runectl(bundle(["/bin/runectl", "evidence", "--output", "-"])))
    if has_point:
        (b.rootfs / SERVICE.lstrip("/")).mkdir(parents=True)
    mounts.mount("--bind", b.rootfs, target=b.rootfs)
    mounts.mount("-o", "remount,bind,ro", b.rootfs, target=b.rootfs)
    res = rune.run(rune.new_id(), b)
    warning = (f"the rootfs {b.rootfs} is read-only and has no {SERVICE}: the enclave's "
               "attestation service is not mounted in the container")
    if has_point:
        assert res.rc == 0, res
        assert res.out.startswith("SIMTEE01"), res  # the evidence, on standard output
        assert warning not in res.err, res
    else:
        assert res.rc == 1, res
        assert warning in res.err, res
        assert NO_SERVICE in res.err, res


def test_the_key_is_out_of_the_containers_reach(rune, bundle, workdir):
    # The init (PID 1 in the container) holds the key in memory: not dumpable, so a process of
    # the container, even root with the same uid and capabilities, cannot read its memory.
    script = (PROC1_PROBE + "; ls /var/lib/rune 2>/dev/null || echo no-var-lib-rune; "
              "runectl evidence --output /out/e.bin >/dev/null && echo evidence=ok")
    b = enclave(with_runectl(bundle(["sh", "-c", script])))
    out = with_out(b, workdir)
    res = rune.run(rune.new_id(), b)
    assert res.rc == 0, res
    assert res.out.splitlines() == ["maps=denied", "environ=denied", "mem=denied",
                                    "no-var-lib-rune", "evidence=ok"], res
    # The key really is loaded in there: the evidence is signed with it.
    verify_simtee((out / "e.bin").read_bytes(), machine_public_key())


def test_plain_containers_pid_1_is_readable(rune, bundle):
    """The control for the test above: in a plain container PID 1 (the payload, same uid and
    capabilities) is readable, so "denied" there comes from the init being non-dumpable."""
    res = rune.run(rune.new_id(), bundle(["sh", "-c", PROC1_PROBE]))
    assert res.rc == 0, res
    assert res.out.splitlines()[:2] == ["maps=readable", "environ=readable"], res


# ---- what attest.sock refuses -----------------------------------------------------------------

def test_attest_sock_serves_no_exec_kill_or_attest(rune, bundle, workdir):
    b = enclave(with_runectl(bundle(["sleep", "1000"])))
    out = with_out(b, workdir, mode=0o777)
    cid = detached(rune, b)
    state = rune.root / cid
    attest_sock = state / "attestation" / "attest.sock"
    exec_req = {"op": "exec", "argv": ["/bin/touch", "/out/pwned"], "env": ["PATH=/bin"]}
    with open(os.devnull, "rb") as i, open(os.devnull, "wb") as o:
        stdio = (i.fileno(), o.fileno(), o.fileno())
        answer = exchange(attest_sock, exec_req, fds=stdio)
        assert answer["op"] == "error", answer
        assert answer["message"] == ('attest.sock: unknown request "exec" (this socket '
                                     'answers report, target_info, evidence and seal_key)'), answer
        for req in ({"op": "kill", "signal": 9}, {"op": "attest", "report_data": "00" * 64}):
            answer = exchange(attest_sock, req)
            assert answer["op"] == "error" and \
                f'unknown request "{req["op"]}"' in answer["message"], answer
        time.sleep(0.5)
        assert not (out / "pwned").exists()
        assert rune.status(cid) == "running"
        # The control: the very same exec request on agent.sock (rune's) runs the process,
        # so the refusal above is attest.sock's choice, not a malformed request.
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(20)
            s.connect(str(state / "agent.sock"))
            body = json.dumps(exec_req).encode()
            socket.send_fds(s, [struct.pack("<I", len(body)) + body], list(stdio))
            assert read_frame(s)["op"] == "started"
            assert read_frame(s) == {"op": "exit", "status": 0}
    assert (out / "pwned").exists()


def test_a_flood_on_attest_sock_does_not_hold_up_rune_exec(rune, bundle):
    """attest.sock has its own sessions: 128 silent connections (the cap; each is cut 10 s
    after it connects) leave agent.sock free, so rune exec answers while they are all still
    open, not once they are cut."""
    cid = detached(rune, enclave(bundle(["sleep", "1000"])))
    sock = str(rune.root / cid / "attestation" / "attest.sock")
    conns = []
    try:
        for _ in range(128):
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            c.connect(sock)
            conns.append(c)
        res = rune.exec(cid, "sh", "-c", "echo exec-ok", timeout=60)
        assert (res.rc, res.out) == (0, "exec-ok\n"), res
        # Every silent connection is still open, so exec did not wait for their cut (with a
        # pool shared with agent.sock it would have: their 10 s, then its turn).
        for c in conns:
            try:
                assert c.recv(1, socket.MSG_DONTWAIT) != b"", "cut before exec answered"
            except BlockingIOError:
                pass
    finally:
        for c in conns:
            c.close()


def test_attest_sock_answers_report_target_info_and_bad_requests(rune, bundle):
    b = enclave(bundle(["sleep", "1000"]))
    cid = detached(rune, b)
    sock = rune.root / cid / "attestation" / "attest.sock"
    mr = sim_measurement(b.rootfs / "bin" / "busybox")
    # target_info: the enclave's own, from a report of itself.
    answer = exchange(sock, {"op": "target_info"})
    assert answer["op"] == "target_info", answer
    ti = bytes.fromhex(answer["target_info"])
    assert ti == target_info(mr, flags=0b101, xfrm=3)
    # report: with the enclave's own target info, the MAC is the enclave's own to check.
    data = "5a" * 64
    answer = exchange(sock, {"op": "report", "report_data": data, "target_info": ti.hex()})
    raw = bytes.fromhex(answer["report"])
    assert raw[320:384].hex() == data and raw[64:96] == mr
    assert raw[416:] == sim_mac(raw[:384], mr, raw[384:416])
    # report_data is required on attest.sock; fields are checked.
    answer = exchange(sock, {"op": "report"})
    assert answer == {"op": "error",
                      "message": 'agent message: "report_data": 128 hex digits expected'}
    answer = exchange(sock, {"op": "evidence", "report_data": "zz" * 64})
    assert answer == {"op": "error", "message": 'agent message: "report_data": not hex'}
    # evidence answers with its kind.
    answer = exchange(sock, {"op": "evidence", "report_data": data})
    assert answer["op"] == "evidence" and answer["kind"] == "simulated", answer
    f = verify_simtee(bytes.fromhex(answer["evidence"]), machine_public_key())
    assert f["body"][64:96] == mr and f["body"][320:384].hex() == data


# ---- without the service, or without a key ------------------------------------------------------

def test_plain_container_has_no_service(rune, bundle):
    b = with_runectl(bundle(["sh", "-c", "test -e /run/rune/attestation && echo present; "
                             "runectl evidence --output /tmp/e.bin; echo rc=$?"]))
    res = rune.run(rune.new_id(), b)
    assert res.rc == 0, res
    assert res.out == "rc=1\n", res
    assert res.err == NO_SERVICE + "\n", res


def test_a_v2_pal_makes_no_reports(rune, bundle):
    b = enclave(with_runectl(bundle(["/bin/runectl", "evidence", "--output", "/tmp/e.bin"])),
                pal=SKELETON_V2)
    res = rune.run(rune.new_id(), b)
    assert res.rc == 1, res
    assert res.err.count("\n") == 1, res
    assert res.err.startswith(f"runectl: evidence: enclave attestation service {SOCKET}: "
                              f"enclave runtime {SKELETON_V2}: no pal_get_local_report "
                              "(PAL API v2; reports need v3)"), res


def test_a_key_that_cannot_be_loaded_fails_evidence_not_the_container(rune, bundle, mounts):
    # In the suite's private mount namespace, an empty read-only /var/lib/rune: the init finds
    # no key and cannot create one, as rootless rune cannot.
    KEY_PATH.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    mounts.mount("-t", "tmpfs", "-o", "ro,mode=700", "rune-it-nokey", target=KEY_PATH.parent)
    b = enclave(with_runectl(bundle(["sh", "-c",
                                     "runectl evidence --output /tmp/e.bin; echo rc=$?; "
                                     "runectl self-report --output /tmp/r.bin; echo rc=$?"])))
    res = rune.run(rune.new_id(), b)
    assert res.rc == 0, res
    assert res.out.splitlines() == ["rc=1", "REPORT (432 bytes, simulated) written to /tmp/r.bin",
                                    "rc=0"], res
    line = res.err.strip()
    assert "\n" not in line, res
    assert line.startswith(f"runectl: evidence: enclave attestation service {SOCKET}: "
                           f"no simulated evidence: simulated attestation key {KEY_PATH}: "), res
    assert "Read-only file system" in line, res


# ---- sealing keys (simulated EGETKEY) ----------------------------------------------------------

def expected_seal_key(mrenclave, policy, key_id=bytes(32)):
    """seal.h's formula, computed here: the machine secret from the simulated attestation key's
    private scalar, then the key for runectl seal-key's request (flags mask all ones, xfrm
    mask 0, misc mask all ones) by an enclave with the skeleton's simulated identity."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF
    priv = serialization.load_pem_private_key(KEY_PATH.read_bytes(), password=None)
    scalar = priv.private_numbers().private_value.to_bytes(32, "big")
    secret = HKDF(hashes.SHA256(), 32, None, b"rune-sim-seal-secret-v1").derive(scalar)
    flags = 0b101  # INIT | MODE64BIT; the mask keeps every flag, the xfrm mask none (x87|SSE)
    info = (struct.pack("<HH", 4, policy) +  # SEAL, the policy
            (mrenclave if policy & 1 else bytes(32)) + (SIM_SIGNER if policy & 2 else bytes(32)) +
            struct.pack("<HH", 0, 0) +  # ISVPRODID 0, requested ISVSVN 0
            bytes(16) + struct.pack("<H", 0) +  # CPUSVN, CONFIGSVN
            struct.pack("<QQI", flags, 0, 0) + key_id)  # flags, xfrm, MISCSELECT 0
    return HKDF(hashes.SHA256(), 16, b"sim-sgx-egetkey-v1", info).derive(secret)


def seal_key_in(rune, bundle, workdir, policy, exe_suffix=b""):
    """runectl seal-key run as an enclave container's payload; exe_suffix makes it another
    enclave (the skeleton measures the executable's bytes). Its key, and the payload's bytes."""
    b = enclave(with_runectl(bundle(["/bin/runectl", "seal-key", "--policy", policy,
                                     "--output", "/out/key.bin"])))
    exe = b.rootfs / "bin" / "runectl"
    if exe_suffix:
        with open(exe, "ab") as f:
            f.write(exe_suffix)
    out = with_out(b, workdir)
    res = rune.run(rune.new_id(), b)
    assert res.rc == 0, res
    return (out / "key.bin").read_bytes(), exe.read_bytes()


def test_seal_keys_follow_the_enclave_identity(rune, bundle, workdir):
    key, exe = seal_key_in(rune, bundle, workdir, "mrenclave")
    mr = hashlib.sha256(b"rune-skeleton-sim-enclave\0" + struct.pack("<Q", len(exe)) +
                        exe).digest()
    assert key == expected_seal_key(mr, 1)
    assert seal_key_in(rune, bundle, workdir, "mrenclave")[0] == key  # the same enclave
    other, other_exe = seal_key_in(rune, bundle, workdir, "mrenclave", exe_suffix=b"\0v2")
    assert other != key  # another enclave (measurement), another MRENCLAVE-bound key
    signer, _ = seal_key_in(rune, bundle, workdir, "mrsigner")
    signer_other, _ = seal_key_in(rune, bundle, workdir, "mrsigner", exe_suffix=b"\0v2")
    assert signer == signer_other == expected_seal_key(mr, 2)  # the same signer: shared


def test_seal_key_refusals(rune, bundle, workdir):
    b = enclave(with_runectl(bundle(["/bin/runectl", "seal-key", "--isv-svn", "1"])))
    res = rune.run(rune.new_id(), b)
    assert res.rc == 1, res
    assert res.err.strip().endswith("seal key: requested ISVSVN 1 is above the enclave's 0"), res
    # A plain container has no service: the one-line message.
    b = with_runectl(bundle(["/bin/runectl", "seal-key"]))
    res = rune.run(rune.new_id(), b)
    assert res.rc == 1 and res.err.strip().startswith(
        f"runectl: seal-key: enclave attestation service {SOCKET}:"), res
