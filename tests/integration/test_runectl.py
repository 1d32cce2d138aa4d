"""runectl, the SGX tool (cmd/runectl, docs/runectl.md), as a user runs it.

  * without aesmd, every command that needs it says so in one line and exits 1;
  * against a fake aesmd written here (its own framing and protobuf decoding, independent of
    the C code), gen-token and gen-qe-target-info send what messages.proto defines and write
    what aesmd answers;
  * `report` decodes a REPORT made by `rune attest` (the skeleton PAL, simulated) and files
    crafted here field by field, and refuses files of any other size;
  * `verify-quote` verifies a real quote with its collateral (tests/unit/data/attest) to its
    documented facts, and names the step a flipped bit breaks.
"""

import json
import os
import socket
import struct
import subprocess
import threading
from pathlib import Path

import pytest

from conftest import build_path, is_rune

RUNECTL = os.environ.get("RUNECTL_BIN") or str(build_path("cmd", "runectl", "runectl"))
AESM_SOCKET = "/var/run/aesmd/aesm.socket"
NO_AESMD_HINT = "(is the SGX PSW (aesmd) installed and running?)"

pytestmark = pytest.mark.skipif(not os.access(RUNECTL, os.X_OK),
                                reason=f"runectl not built ({RUNECTL})")


def runectl(*args, cwd=None, timeout=60):
    return subprocess.run([RUNECTL, *map(str, args)], cwd=cwd, capture_output=True,
                          timeout=timeout)


def one_line_error(res, prefix):
    """Exit 1, nothing on stdout, exactly one line on stderr starting with prefix."""
    err = res.stderr.decode()
    assert res.returncode == 1, res
    assert res.stdout == b"", res
    assert err.count("\n") == 1 and err.startswith(prefix), err
    return err.rstrip("\n")


# ---- without aesmd ----------------------------------------------------------------------------

@pytest.mark.skipif(os.path.exists(AESM_SOCKET), reason=f"aesmd is here ({AESM_SOCKET})")
@pytest.mark.parametrize("command", ["gen-quote", "gen-qe-target-info", "gen-token"])
def test_without_aesmd_one_line_and_exit_1(tmp_path, command):
    report = tmp_path / "report.bin"
    report.write_bytes(bytes(432))
    sig = tmp_path / "enclave.sig"
    sig.write_bytes(sigstruct())
    args = {"gen-quote": ["--report", report], "gen-qe-target-info": [],
            "gen-token": ["--signature", sig]}[command]
    res = runectl(command, *args, cwd=tmp_path)
    line = one_line_error(res, f"runectl: {command}: ")
    assert line == (f"runectl: {command}: cannot reach aesmd at {AESM_SOCKET}: No such file "
                    f"or directory {NO_AESMD_HINT}")
    # nothing written: no quote.bin, qe_targetinfo.bin or enclave.token
    assert sorted(p.name for p in tmp_path.iterdir()) == ["enclave.sig", "report.bin"]


def test_aesm_socket_that_is_not_a_socket(tmp_path):
    not_a_socket = tmp_path / "aesm.socket"
    not_a_socket.write_text("")
    res = runectl("gen-qe-target-info", "--aesm-socket", not_a_socket, cwd=tmp_path)
    assert one_line_error(res, "runectl: gen-qe-target-info: ") == (
        f"runectl: gen-qe-target-info: cannot reach aesmd at {not_a_socket}: Connection "
        f"refused {NO_AESMD_HINT}")


# ---- a fake aesmd -----------------------------------------------------------------------------

def varint(v):
    out = bytearray()
    while True:
        b, v = v & 0x7F, v >> 7
        out.append(b | (0x80 if v else 0))
        if not v:
            return bytes(out)


def field(number, value):
    """A protobuf field: bytes are length-delimited, ints are varints."""
    if isinstance(value, int):
        return varint(number << 3) + varint(value)
    return varint(number << 3 | 2) + varint(len(value)) + value


def parse(buf):
    """Protobuf fields as {number: [values]} (varints as ints, length-delimited as bytes)."""
    fields, i = {}, 0

    def get_varint():
        nonlocal i
        v = shift = 0
        while True:
            b = buf[i]
            i += 1
            v |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return v

    while i < len(buf):
        key = get_varint()
        number, wire = key >> 3, key & 7
        if wire == 0:
            value = get_varint()
        elif wire == 2:
            n = get_varint()
            value, i = bytes(buf[i:i + n]), i + n
        else:
            raise AssertionError(f"unexpected wire type {wire}")
        fields.setdefault(number, []).append(value)
    return fields


class FakeAesmd:
    """A unix socket answering each connection with the next canned response; keeps the
    requests it received, decoded."""

    def __init__(self, path, responses):
        self.path, self.responses, self.requests = str(path), list(responses), []
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(4)
        self.sock.settimeout(30)
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def recv(self, conn, n):
        data = b""
        while len(data) < n:
            chunk = conn.recv(n - len(data))
            if not chunk:
                raise EOFError
            data += chunk
        return data

    def serve(self):
        for response in self.responses:
            conn, _ = self.sock.accept()
            with conn:
                (n,) = struct.unpack("<I", self.recv(conn, 4))
                self.requests.append(parse(self.recv(conn, n)))
                conn.sendall(struct.pack("<I", len(response)) + response)

    def close(self):
        self.thread.join(timeout=30)
        self.sock.close()


def sigstruct(flags=0x7, xfrm=0x3):
    """A SIGSTRUCT: SGX's headers, MODULUS 384 x 22, ATTRIBUTES, ENCLAVEHASH 32 x 11."""
    s = bytearray(b"\xee" * 1808)
    s[0:12] = bytes.fromhex("06000000e100000000000100")
    s[24:40] = bytes.fromhex("01010000600000006000000001000000")
    s[128:512] = b"\x22" * 384
    s[928:944] = struct.pack("<QQ", flags, xfrm)
    s[960:992] = b"\x11" * 32
    return bytes(s)


def test_gen_token_against_a_fake_aesmd(tmp_path):
    token = bytes(range(256)) + bytes(48)
    aesmd = FakeAesmd(tmp_path / "aesm.sock",
                      [field(3, field(1, 0) + field(2, token)), field(3, field(1, 6))])
    sig = tmp_path / "enclave.sig"
    sig.write_bytes(sigstruct())
    res = runectl("gen-token", "--signature", sig, "--aesm-socket", aesmd.path, cwd=tmp_path)
    assert res.returncode == 0, res
    assert res.stdout.decode() == f"launch token (304 bytes) written to {tmp_path}/enclave.token\n"
    assert (tmp_path / "enclave.token").read_bytes() == token
    # aesmd's launch enclave refuses: its error by name, no token
    (tmp_path / "enclave.token").unlink()
    res = runectl("gen-token", "--signature", sig, "--aesm-socket", aesmd.path, cwd=tmp_path)
    assert one_line_error(res, "runectl: gen-token: ") == (
        "runectl: gen-token: aesmd: GetLaunchToken failed with AESM_GET_LICENSETOKEN_ERROR (6)")
    assert not (tmp_path / "enclave.token").exists()
    aesmd.close()
    # Request{ 3: GetLaunchTokenRequest{ 1: mr_enclave, 2: the modulus, 3: se_attributes,
    # 9: timeout } }
    for request in aesmd.requests:
        assert list(request) == [3]
        inner = parse(request[3][0])
        assert inner == {1: [b"\x11" * 32], 2: [b"\x22" * 384],
                         3: [struct.pack("<QQ", 7, 3)], 9: [60000]}


def test_gen_qe_target_info_epid_against_a_fake_aesmd(tmp_path):
    ti = bytes((i * 7) & 0xFF for i in range(512))
    aesmd = FakeAesmd(tmp_path / "aesm.sock",
                      [field(1, field(1, 0) + field(2, ti) + field(3, b"\x01\x02\x03\x04"))])
    res = runectl("gen-qe-target-info", "--quote-type", "epid", "--aesm-socket", aesmd.path,
                  "--timeout", "5", cwd=tmp_path)
    assert res.returncode == 0, res
    assert res.stderr.decode() == "EPID group id: 01020304\n"
    assert (tmp_path / "qe_targetinfo.bin").read_bytes() == ti
    aesmd.close()
    assert aesmd.requests == [{1: [field(9, 5000)]}]
    # and runectl report reads it back as a TARGETINFO
    res = runectl("report", "--json", tmp_path / "qe_targetinfo.bin")
    assert res.returncode == 0, res
    info = json.loads(res.stdout)
    assert info["structure"] == "TARGETINFO" and info["mr_enclave"] == ti[:32].hex()


# ---- report -----------------------------------------------------------------------------------

def crafted_report():
    r = bytearray(432)
    r[0:16] = b"\xc1" * 16                       # CPUSVN
    r[16:20] = struct.pack("<I", 0x12345678)     # MISCSELECT
    r[48:64] = struct.pack("<QQ", 0x5, 0xE7)     # FLAGS INIT|MODE64BIT, XFRM
    r[64:96] = bytes(range(32))                  # MRENCLAVE
    r[128:160] = bytes(range(32, 64))            # MRSIGNER
    r[256:262] = struct.pack("<HHH", 7, 9, 2)    # ISVPRODID, ISVSVN, CONFIGSVN
    r[320:384] = bytes(range(64, 128))           # REPORTDATA
    r[384:416] = b"\x4b" * 32                    # KEYID
    r[416:432] = b"\x3c" * 16                    # MAC
    return bytes(r)


def test_report_of_a_crafted_report(tmp_path):
    path = tmp_path / "report.bin"
    path.write_bytes(crafted_report())
    res = runectl("report", "--json", path)
    assert res.returncode == 0, res
    info = json.loads(res.stdout)
    assert info == {
        "structure": "REPORT", "type": "sgx", "simulated": False,
        "cpu_svn": "c1" * 16, "misc_select": 0x12345678, "isv_ext_prod_id": "00" * 16,
        "attributes": {"flags": "0x0000000000000005", "xfrm": "0x00000000000000e7",
                       "flag_names": ["INIT", "MODE64BIT"], "debug": False},
        "mr_enclave": bytes(range(32)).hex(), "mr_signer": bytes(range(32, 64)).hex(),
        "config_id": "00" * 64, "isv_prod_id": 7, "isv_svn": 9, "config_svn": 2,
        "isv_family_id": "00" * 16, "report_data": bytes(range(64, 128)).hex(),
        "key_id": "4b" * 32, "mac": "3c" * 16,
    }
    text = runectl("report", path)
    assert text.returncode == 0, text
    lines = text.stdout.decode().splitlines()
    assert lines[0] == "REPORT (432 bytes)"
    assert "attributes       flags 0x0000000000000005 (INIT MODE64BIT), xfrm 0x00000000000000e7" \
        in lines
    assert f"mr_enclave       {bytes(range(32)).hex()}" in lines


@pytest.mark.parametrize("size", [0, 1, 431, 433, 511, 513, 100000])
def test_report_refuses_other_sizes(tmp_path, size):
    path = tmp_path / "blob.bin"
    path.write_bytes(bytes(size))
    res = runectl("report", path)
    assert one_line_error(res, "runectl: report: ") == (
        f"runectl: report: {path}: {size} bytes: neither a REPORT (432 bytes) nor a "
        f"TARGETINFO (512 bytes)")


def test_report_of_a_directory_or_nothing(tmp_path):
    assert one_line_error(runectl("report", tmp_path), "runectl: report: ") == \
        f"runectl: report: open {tmp_path}: Is a directory"
    assert one_line_error(runectl("report", tmp_path / "none"), "runectl: report: ") == \
        f"runectl: report: open {tmp_path}/none: No such file or directory"
    assert one_line_error(runectl("report"), "runectl: report: ") == \
        "runectl: report: missing argument (usage: runectl report [--json] FILE)"


@pytest.mark.skipif(not is_rune(), reason="rune attest is rune's")
def test_report_of_rune_attest(rune, bundle):
    """A REPORT made by `rune attest` through the skeleton PAL (simulated), decoded."""
    from test_enclave import SKELETON, detached, enclave
    b = enclave(bundle(["sleep", "1000"]), SKELETON["v3"], args="debug", loglevel="off")
    cid = detached(rune, b)
    report_file = rune.workdir / "report.bin"
    attested = rune.ok("attest", "--report-data", "a5" * 64, "--report-file", report_file,
                       cid).json()
    res = runectl("report", "--json", report_file)
    assert res.returncode == 0, res
    info = json.loads(res.stdout)
    assert info["structure"] == "REPORT"
    assert info["simulated"] is True and info["type"] == "simulated (not hardware evidence)"
    for key in ("mr_enclave", "mr_signer", "report_data"):
        assert info[key] == attested[key], key
    assert info["report_data"] == "a5" * 64
    assert info["attributes"]["debug"] is True
    assert info["attributes"]["flag_names"][:3] == ["INIT", "DEBUG", "MODE64BIT"]
    assert info["key_id"] == b"RUNE-SKELETON-SIMULATED-REPORT".ljust(32, b"\0").hex()
    assert info["isv_prod_id"] == attested["isv_prod_id"]
    text = runectl("report", report_file).stdout.decode()
    assert text.splitlines()[0] == \
        "REPORT (432 bytes): SIMULATED by the skeleton PAL, not hardware evidence"
    # and gen-quote will not send it to a quoting enclave
    res = runectl("gen-quote", "--report", report_file, "--aesm-socket",
                  rune.workdir / "none.sock")
    assert one_line_error(res, "runectl: gen-quote: ") == (
        f"runectl: gen-quote: {report_file}: a simulated REPORT (the skeleton PAL's): no "
        f"quoting enclave can verify it")


# ---- verify-quote -----------------------------------------------------------------------------

ATTEST_DATA = Path(__file__).resolve().parents[1] / "unit" / "data" / "attest"


def test_verify_quote_of_a_real_quote_with_its_collateral(tmp_path):
    quote = ATTEST_DATA / "dcap-qvl-sgx-quote.bin"
    collateral = ATTEST_DATA / "dcap-qvl-sgx-quote-collateral.json"
    res = runectl("verify-quote", "--collateral", collateral, "--at", "2025-07-01T00:00:00Z",
                  quote)
    assert res.returncode == 0 and res.stderr == b"", res
    out = json.loads(res.stdout)
    assert out["verified"] is True
    assert out["identity"]["mr_enclave"] == \
        "33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb"
    assert bytes.fromhex(out["report_data"]) == b"Hello, world!".ljust(64, b"\0")
    assert out["tcb"]["status"] == "ConfigurationAndSWHardeningNeeded"
    assert out["tcb"]["advisory_ids"] == ["INTEL-SA-00289", "INTEL-SA-00615"]
    assert [s["result"] for s in out["steps"]] == ["ok"] * 6

    # one bit of MRENCLAVE flipped: the quote signature step fails, in one line and in the JSON
    bad = bytearray(quote.read_bytes())
    bad[64] ^= 1
    (tmp_path / "bad.bin").write_bytes(bad)
    res = runectl("verify-quote", "--at", "2025-07-01T00:00:00Z", tmp_path / "bad.bin")
    assert res.returncode == 1, res
    assert res.stderr.decode() == \
        "runectl: verify-quote: quote: signature does not verify with the attestation key\n"
    out = json.loads(res.stdout)
    assert out["verified"] is False
    assert [(s["step"], s["result"]) for s in out["steps"]] == [
        ("parse", "ok"), ("pck_chain", "ok"), ("qe_report_signature", "ok"),
        ("qe_report_data", "ok"), ("quote_signature", "failed"), ("collateral", "not reached")]
