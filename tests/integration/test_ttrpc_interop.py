"""lib/ttrpc against a real peer: containerd/ttrpc in Go (Debian's
golang-github-containerd-ttrpc-dev 1.1.1), built offline in GOPATH mode from
tests/interop/ttrpc-go.

Both directions of grpc.Image/PullImage: the Go client calls our C server (tests/interop/tt-image
serve) and our C client (tt-image call) calls the Go server; answers, metadata, timeouts, error
statuses and deadlines must come through the same way they do between two Go peers.
"""

import json
import os
import select
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import REPO

GO_SRC = REPO / "tests" / "interop" / "ttrpc-go"
GOPATH_SYSTEM = Path("/usr/share/gocode")
TTRPC_GO = GOPATH_SYSTEM / "src" / "github.com" / "containerd" / "ttrpc"
IMAGE = "docker.io/library/busybox:latest"
CID = "busybox_latest"


def go_env(tmp):
    """GOPATH mode (Debian ships sources, not modules), no network, caches in tmp."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GO")}
    env.update({
        "GO111MODULE": "off",
        "GOPATH": f"{GOPATH_SYSTEM}:{tmp / 'gopath'}",
        "GOCACHE": str(tmp / "gocache"),
        "GOENV": "off",
        "GOFLAGS": "",
        "GOPROXY": "off",
        "CGO_ENABLED": "0",
    })
    return env


@pytest.fixture(scope="session")
def go_peer(tmp_path_factory):
    """The Go program, built once per session."""
    go = shutil.which("go")
    if not go:
        pytest.skip("go not installed (apt-get install golang-go)")
    if not (TTRPC_GO / "server.go").is_file():
        pytest.skip(f"containerd/ttrpc Go sources missing at {TTRPC_GO} "
                    "(apt-get install golang-github-containerd-ttrpc-dev)")
    tmp = tmp_path_factory.mktemp("ttrpc-go")
    out = tmp / "ttrpc-go-image"
    res = subprocess.run([go, "build", "-o", str(out), "."], cwd=GO_SRC, env=go_env(tmp),
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, f"go build failed:\n{res.stdout}\n{res.stderr}"
    return out


class Server:
    """A peer server process: started, its address read from the first line, stopped by PID."""

    def __init__(self, argv):
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, start_new_session=True)
        line = self._readline(10)
        assert line.startswith("listening "), f"{argv}: {line!r} {self._stderr()}"
        self.addr = line.split(" ", 1)[1].strip()

    def _readline(self, timeout):
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            self.kill()
            raise AssertionError(f"server printed nothing in {timeout}s: {self._stderr()}")
        return self.proc.stdout.readline()

    def _stderr(self):
        if self.proc.poll() is None:
            return ""
        return self.proc.stderr.read()

    def stop(self):
        """SIGTERM (graceful shutdown), then the JSON lines it printed, one per call."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            out, err = self.proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("server did not stop on SIGTERM")
        assert self.proc.returncode == 0, f"server exit {self.proc.returncode}: {err}"
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def kill(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


@pytest.fixture
def servers():
    started = []

    def start(argv):
        s = Server([str(a) for a in argv])
        started.append(s)
        return s

    yield start
    for s in started:
        s.kill()


def run_client(argv, timeout=30):
    """Run a client; returns (exit code, parsed JSON stdout, seconds taken)."""
    start = time.monotonic()
    res = subprocess.run([str(a) for a in argv], capture_output=True, text=True,
                         timeout=timeout)
    took = time.monotonic() - start
    assert res.returncode in (0, 1), f"{argv}: exit {res.returncode}: {res.stderr}"
    return res.returncode, json.loads(res.stdout), took


def has_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def listen_addr(kind, workdir):
    if kind == "unix":
        return f"unix://{workdir}/agent.sock"
    if kind == "tcp6":
        if not has_ipv6_loopback():
            pytest.skip("no IPv6 loopback on this machine")
        return "tcp://[::1]:0"
    return "tcp://127.0.0.1:0"


# --------------------------------------------------------------------------------------------
# Go client -> C server


@pytest.mark.parametrize("kind", ["unix", "tcp", "tcp6"])
def test_go_client_pulls_from_c_server(go_peer, tt_image_bin, servers, workdir, kind):
    srv = servers([tt_image_bin, "serve", listen_addr(kind, workdir), "--suffix", "@c"])
    rc, out, _ = run_client([go_peer, "-addr", srv.addr, "-image", IMAGE, "-cid", CID,
                             "-creds", "user:pw", "-timeout", "30s", "-md", "key-1=a",
                             "-md", "key-1=b", "-md", "key-2=c"])
    assert rc == 0, out
    assert out == {"image_ref": IMAGE + "@c"}
    calls = srv.stop()
    assert len(calls) == 1
    seen = calls[0]
    assert (seen["service"], seen["method"]) == ("grpc.Image", "PullImage")
    assert (seen["image"], seen["container_id"], seen["source_creds"]) == (IMAGE, CID, "user:pw")
    # Go derives timeout_nano from the context deadline just before sending.
    assert 25e9 < seen["timeout_nano"] <= 30e9, seen
    assert seen["has_deadline"] and not seen["cancelled"]
    # Go keeps metadata in a map: the keys come in any order, a key's values in order.
    md = seen["metadata"]
    assert sorted(map(tuple, md)) == [("key-1", "a"), ("key-1", "b"), ("key-2", "c")]
    assert [v for k, v in md if k == "key-1"] == ["a", "b"]
    if kind == "unix":
        assert not Path(workdir, "agent.sock").exists(), "socket file left after shutdown"


def test_go_client_sees_c_server_errors(go_peer, tt_image_bin, servers, workdir):
    srv = servers([tt_image_bin, "serve", listen_addr("unix", workdir)])
    base = [go_peer, "-addr", srv.addr, "-image", IMAGE, "-cid", CID]

    rc, out, _ = run_client(base + ["-method", "Nope"])
    assert (rc, out) == (1, {"code": 12, "code_name": "Unimplemented", "message": "method Nope"})
    rc, out, _ = run_client(base + ["-service", "nope.Image"])
    assert (rc, out) == (1, {"code": 12, "code_name": "Unimplemented",
                             "message": "service nope.Image"})
    rc, out, _ = run_client([go_peer, "-addr", srv.addr, "-image", "fail/x", "-cid", CID])
    assert (rc, out) == (1, {"code": 13, "code_name": "Internal",
                             "message": "pull fail/x: simulated failure"})
    rc, out, _ = run_client([go_peer, "-addr", srv.addr, "-image", IMAGE, "-cid", "a:b"])
    assert (rc, out["code"], out["code_name"]) == (1, 3, "InvalidArgument")
    # No deadline sent, none seen.
    rc, out, _ = run_client(base)
    assert rc == 0
    calls = srv.stop()
    assert [c["container_id"] for c in calls] == [CID, "a:b", CID]
    assert calls[-1]["timeout_nano"] == 0 and not calls[-1]["has_deadline"]


def test_go_client_deadline_on_c_server(go_peer, tt_image_bin, servers, workdir):
    srv = servers([tt_image_bin, "serve", listen_addr("unix", workdir), "--delay-ms", "20000"])
    rc, out, took = run_client([go_peer, "-addr", srv.addr, "-image", IMAGE, "-cid", CID,
                                "-timeout", "300ms"])
    assert (rc, out["code"], out["code_name"]) == (1, 4, "DeadlineExceeded"), out
    assert took < 10
    calls = srv.stop()
    # The handler was cancelled at the deadline instead of running its 20 s.
    assert len(calls) == 1 and calls[0]["cancelled"], calls
    assert 0 < calls[0]["timeout_nano"] <= 300_000_000


def test_go_clients_in_parallel(go_peer, tt_image_bin, servers, workdir):
    srv = servers([tt_image_bin, "serve", listen_addr("tcp", workdir), "--delay-ms", "200"])
    procs = [subprocess.Popen([str(go_peer), "-addr", srv.addr, "-image", f"img/{i}",
                               "-cid", f"c{i}", "-timeout", "20s"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(12)]
    for i, p in enumerate(procs):
        out, err = p.communicate(timeout=30)
        assert p.returncode == 0, err
        assert json.loads(out) == {"image_ref": f"img/{i}"}
    assert sorted(c["image"] for c in srv.stop()) == sorted(f"img/{i}" for i in range(12))


# --------------------------------------------------------------------------------------------
# C client -> Go server


@pytest.mark.parametrize("kind", ["unix", "tcp", "tcp6"])
def test_c_client_pulls_from_go_server(go_peer, tt_image_bin, servers, workdir, kind):
    srv = servers([go_peer, "-mode", "server", "-addr", listen_addr(kind, workdir),
                   "-suffix", "@go"])
    rc, out, _ = run_client([tt_image_bin, "call", srv.addr, "--image", IMAGE, "--cid", CID,
                             "--creds", "u:p", "--timeout-ms", "30000", "--md", "key-1=a",
                             "--md", "key-1=b", "--md", "key-2=c"])
    assert rc == 0, out
    assert out == {"image_ref": IMAGE + "@go"}
    calls = srv.stop()
    assert len(calls) == 1
    seen = calls[0]
    assert (seen["image"], seen["container_id"], seen["source_creds"]) == (IMAGE, CID, "u:p")
    assert seen["metadata"] == {"key-1": ["a", "b"], "key-2": ["c"]}
    assert seen["has_deadline"] and 25_000 < seen["deadline_in_ms"] <= 30_000, seen


def test_c_client_sees_go_server_errors(go_peer, tt_image_bin, servers, workdir):
    srv = servers([go_peer, "-mode", "server", "-addr", listen_addr("unix", workdir),
                   "-fail-code", "9", "-fail-message", "layer store is full"])
    call = [tt_image_bin, "call", srv.addr, "--image", IMAGE, "--cid", CID]
    rc, out, _ = run_client(call)
    assert (rc, out) == (1, {"code": 9, "code_name": "FAILED_PRECONDITION",
                             "message": "layer store is full"})
    rc, out, _ = run_client(call + ["--method", "Nope"])
    assert (rc, out) == (1, {"code": 12, "code_name": "UNIMPLEMENTED", "message": "method Nope"})
    rc, out, _ = run_client(call + ["--service", "grpc.Nope"])
    assert (rc, out) == (1, {"code": 12, "code_name": "UNIMPLEMENTED",
                             "message": "service grpc.Nope"})
    calls = srv.stop()
    assert len(calls) == 1 and calls[0]["metadata"] is None and not calls[0]["has_deadline"]


def test_c_client_deadline_on_go_server(go_peer, tt_image_bin, servers, workdir):
    srv = servers([go_peer, "-mode", "server", "-addr", listen_addr("tcp", workdir),
                   "-delay", "20s"])
    rc, out, took = run_client([tt_image_bin, "call", srv.addr, "--image", IMAGE, "--cid", CID,
                                "--timeout-ms", "300"])
    assert (rc, out["code"], out["code_name"]) == (1, 4, "DEADLINE_EXCEEDED"), out
    assert took < 10
    calls = srv.stop()
    assert len(calls) == 1 and 0 < calls[0]["deadline_in_ms"] <= 300
