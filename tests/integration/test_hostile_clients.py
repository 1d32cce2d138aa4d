"""Clients that never finish what they start: many connections each announcing a 4 MiB message
and sending part of it, to the enclave-agent (ttrpc) and to an enclave container's agent.sock.
Memory stays bounded by the budget for partly received messages, other clients are still
served, and the unfinished ones are cut off at the deadline. Also: strings with a NUL byte in a
request are refused whole (a container id "a\\0b" must not lay out "a").
See docs/ttrpc.md (limits), docs/agent.md and docs/enclave.md (agent.sock)."""

import resource
import select
import socket
import struct
import time

import pytest

from conftest import is_rune, wait_until
import registry as R
from test_agent import (CODES, SIMPLE, agent, agents, anon, closed, connect, envelope,  # noqa: F401
                        field, frame, read_response)

FOUR_MIB = 4 << 20
TT_DECLARED = FOUR_MIB - 64  # under ttrpc's 4 MiB limit: a frame the agent would take
HOGS = 100
MIB = 1024


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def feed(socks, prefix, total, quiet=1.0):
    """Send each socket prefix then zeros, up to total bytes each, without blocking, until the
    peer takes nothing more for `quiet` seconds. Returns the bytes each one sent; sockets the
    peer closed are left out."""
    zeros = memoryview(bytes(256 << 10))
    for s in socks:
        s.setblocking(False)  # a socket with a timeout would wait for room despite DONTWAIT
    sent = {s: 0 for s in socks}
    last = time.monotonic()
    while time.monotonic() - last < quiet:
        progress = False
        for s in list(sent):
            n = sent[s]
            if n >= total:
                continue
            chunk = prefix[n:] if n < len(prefix) else zeros[:min(len(zeros), total - n)]
            try:
                k = s.send(chunk, socket.MSG_DONTWAIT)
            except BlockingIOError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                del sent[s]
                continue
            sent[s] = n + k
            progress = True
        if progress:
            last = time.monotonic()
        elif all(n >= total for n in sent.values()):
            break
        else:
            time.sleep(0.02)
    return sent


def still_open(s):
    """The peer has not closed s (nothing to read, no EOF)."""
    r, _, _ = select.select([s], [], [], 0)
    if not r:
        return True
    try:
        return s.recv(1, socket.MSG_DONTWAIT | socket.MSG_PEEK) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False


@pytest.fixture
def nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


# --------------------------------------------------------------------------------------------
# enclave-agent (ttrpc)


def test_agent_unfinished_frames_stay_within_the_budget(agents, nofile):  # noqa: F811
    # Long enough that a loaded machine sets everything up well within it.
    timeout = 20
    srv = agents(extra=["--frame-timeout", f"{timeout}s"])
    fds = srv.fds()
    srv.status()
    idle = srv.rss_kb()
    hogs = [connect(srv) for _ in range(HOGS)]
    try:
        start = time.monotonic()
        header = frame(1, 1, b"", length=TT_DECLARED)
        sent = feed(hogs, header, len(header) + TT_DECLARED - 1)
        assert len(sent) == HOGS, "hogs were cut off before their deadline"
        held = srv.rss_kb() - idle
        # Without a budget the agent read ~400 MiB here; the agent's is 16 MiB.
        assert held < 64 * MIB, f"RSS grew by {held // MIB} MiB"
        assert sum(sent.values()) < HOGS * TT_DECLARED // 2, "the agent read everything"

        # Meanwhile, while every hog still holds its frame, another client is served.
        res = srv.ctl("status", timeout=30)
        assert res.returncode == 0, res.stderr
        assert time.monotonic() - start < timeout, "too slow to check before the deadline"
        assert all(still_open(s) for s in hogs)

        # At the deadline every unfinished frame's connection is closed.
        for s in hogs:
            assert closed(s, timeout=timeout + 20), "an unfinished frame outlived its deadline"
        assert time.monotonic() - start >= timeout - 1
        assert srv.ctl("status").returncode == 0
    finally:
        for s in hogs:
            s.close()
    wait_until(lambda: srv.fds() <= fds + 2, timeout=30, what="descriptors to be released")


def pull_frame(stream, image, cid, creds=b""):
    body = field(1, image) + field(2, cid) + (field(3, creds) if creds else b"")
    return frame(stream, 1, envelope("grpc.Image", "PullImage", body))


def test_agent_refuses_strings_with_a_nul_byte(agent, anon, workdir):  # noqa: F811
    R.make_oci_image(workdir / "img", SIMPLE, tag="t")
    R.push(workdir / "img", "t", anon, repo="nul/img")
    ref = f"{anon.host}/nul/img:t"
    cases = [
        (pull_frame(1, ref, b"a\0b"), "PullImageRequest.container_id: contains a NUL byte at "
         "offset 1"),
        (pull_frame(3, ref.encode() + b"\0:evil", b"c"), "PullImageRequest.image: contains a "
         f"NUL byte at offset {len(ref)}"),
        (pull_frame(5, ref, b"d", b"user\0:pw"), "PullImageRequest.source_creds: contains a "
         "NUL byte at offset 4"),
        (frame(7, 1, envelope("enclaveagent.Admin", "RemoveImage", field(1, b"a\0b"))),
         "RemoveImageRequest.container_id: contains a NUL byte at offset 1"),
        (frame(9, 1, envelope("grpc.Image\0x", "PullImage", field(1, ref) + field(2, "e"))),
         "unmarshal request error: Request.service: contains a NUL byte at offset 10"),
    ]
    with connect(agent) as s:
        for req, message in cases:
            s.sendall(req)
            stream, code, msg, _ = read_response(s)
            assert (stream, code, msg) == (struct.unpack(">I", req[4:8])[0],
                                           CODES["INVALID_ARGUMENT"], message)
        # Nothing was laid out for the ids and references cut short.
        assert agent.layouts() == []
        # The same connection still pulls, with a proper id.
        s.sendall(pull_frame(11, ref, b"a"))
        stream, code, msg, _ = read_response(s)
        assert (stream, code) == (11, 0), msg
    assert agent.layouts() == ["a"]
    agent.check_consistent()


# --------------------------------------------------------------------------------------------
# An enclave container's agent.sock (the init serves it, one thread per connection)


@pytest.mark.skipif(not is_rune(), reason="enclave containers are rune's")
def test_agent_sock_unfinished_messages_stay_bounded(rune, bundle, nofile):
    from test_enclave import SKELETON, detached, enclave
    b = enclave(bundle(["sleep", "1000"]), SKELETON["v3"], loglevel="off")
    cid = detached(rune, b)
    pid = rune.pid(cid)
    path = str(rune.root / cid / "agent.sock")
    res = rune.exec(cid, "true")
    assert res.rc == 0, res
    idle = rss_kb(pid)

    hogs = []
    for _ in range(HOGS):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(path)
        hogs.append(s)
    silent = [socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) for _ in range(3)]
    for s in silent:
        s.connect(path)
    try:
        start = time.monotonic()
        header = struct.pack("<I", FOUR_MIB)
        sent = feed(hogs, header, len(header) + FOUR_MIB - 1)
        held = rss_kb(pid) - idle
        # Without limits the init read all of it (~400 MiB); now 64 KiB per message and a
        # 16 MiB budget for more, with the thread stacks of a hundred sessions on top.
        assert held < 64 * MIB, f"the init's RSS grew by {held // MIB} MiB"
        assert sum(sent.values()) < HOGS * FOUR_MIB // 2, "the init read everything"

        # rune exec still works meanwhile.
        res = rune.exec(cid, "sh", "-c", "echo served", timeout=30)
        assert res.rc == 0 and res.out == "served\n", res
        assert time.monotonic() - start < 10

        # Unfinished messages and silent sessions end at the deadline (10 s).
        for s in hogs + silent:
            assert closed(s, timeout=30), "a session outlived the receive deadline"
        assert time.monotonic() - start >= 8
    finally:
        for s in hogs + silent:
            s.close()
    res = rune.exec(cid, "true")
    assert res.rc == 0, res
    rune.ok("delete", "--force", cid)

