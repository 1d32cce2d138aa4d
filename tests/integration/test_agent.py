"""enclave-agent and agent-ctl against a real registry on loopback: pulls laid out per container
id and mounted like umoci unpacks them, a Go ttrpc client, status codes for every kind of
failure, many concurrent clients sharing the work, hostile frames, deadlines, graceful shutdown,
the Admin service, and start-up refusals. See docs/agent.md."""

import base64
import json
import os
import re
import resource
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import RUNE_BIN, build_path, pid_alive, wait_until
import registry as R
from registry import D, F, S, relay_get
from test_image_pull import busybox_layers
from test_registry_fixtures import LOWER, UPPER, need
from test_ttrpc_interop import go_peer  # noqa: F401  (a session fixture: the Go client)

AGENT_BIN = os.environ.get("ENCLAVE_AGENT_BIN") or str(
    build_path("cmd", "enclave-agent", "enclave-agent"))
CTL_BIN = os.environ.get("AGENT_CTL_BIN") or str(build_path("cmd", "agent-ctl", "agent-ctl"))

pytestmark = pytest.mark.skipif(
    not (os.access(AGENT_BIN, os.X_OK) and os.access(CTL_BIN, os.X_OK)),
    reason=f"enclave-agent / agent-ctl not built ({AGENT_BIN}, {CTL_BIN})")

SIMPLE = [[D("etc"), F("etc/hello", "hello\n"), S("etc/link", "hello")]]
CODES = {"CANCELLED": 1, "INVALID_ARGUMENT": 3, "DEADLINE_EXCEEDED": 4, "NOT_FOUND": 5,
         "PERMISSION_DENIED": 7, "RESOURCE_EXHAUSTED": 8, "FAILED_PRECONDITION": 9,
         "UNIMPLEMENTED": 12, "INTERNAL": 13, "UNAVAILABLE": 14, "DATA_LOSS": 15,
         "UNAUTHENTICATED": 16}


# --------------------------------------------------------------------------------------------
# The agent under test


class Agent:
    """One enclave-agent process with its own store, images directory and log (JSON lines)."""

    def __init__(self, workdir, name="agent", listen=None, extra=(), ocicrypt=True,
                 log_format="json"):
        self.dir = Path(workdir) / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.store, self.images = self.dir / "store", self.dir / "images"
        self.log_path = self.dir / "agent.log"
        self.listen = listen or f"unix://{self.dir}/agent.sock"
        self.ocicrypt = self.dir / "ocicrypt.conf"
        if ocicrypt:
            self.ocicrypt.write_text(
                '{"key-providers":{"attestation-agent":{"native":"attestation-agent"}}}')
        # security_validate defaults to true (upstream): every pull then goes through the
        # signature gate with the machine's /etc/containers/policy.json. Tests run with it off
        # unless they pass a -c (test_signatures.py has the agent's gate).
        self.decrypt_config = self.dir / "decrypt_config.conf"
        self.decrypt_config.write_text('{"security_validate": false}')
        self.argv = [AGENT_BIN, "-l", self.listen, "-o", str(self.ocicrypt), "-c",
                     str(self.decrypt_config), "--root", str(self.store), "--images",
                     str(self.images), "--log-format", log_format, *map(str, extra)]
        self.proc = None
        self.addr = None

    def start(self, timeout=20):
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=log,
                                         start_new_session=True)

        def ready():
            if self.proc.poll() is not None:
                raise AssertionError(f"agent exited {self.proc.returncode}:\n{self.log()}")
            m = re.search(r'listening on (\S+?)"', self.log())
            return m and m.group(1)
        self.addr = wait_until(ready, timeout=timeout, what="the agent to listen")
        return self

    @property
    def pid(self):
        return self.proc.pid

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def records(self):
        """The log's JSON lines."""
        return [json.loads(line) for line in self.log().splitlines() if line.startswith("{")]

    def stop(self, sig=signal.SIGTERM, timeout=30):
        """Signal the agent (by PID) and wait; returns its exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"agent did not exit within {timeout}s of {sig!r}")

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def ctl(self, *args, timeout=120):
        return subprocess.run([CTL_BIN, "-c", self.addr, *map(str, args)], capture_output=True,
                              text=True, timeout=timeout, stdin=subprocess.DEVNULL)

    def ctl_popen(self, *args):
        return subprocess.Popen([CTL_BIN, "-c", self.addr, *map(str, args)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                stdin=subprocess.DEVNULL)

    def status(self):
        res = self.ctl("status", "--json", timeout=30)
        assert res.returncode == 0, res.stderr
        return json.loads(res.stdout)

    def fds(self):
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def rss_kb(self):
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS")

    def idle(self, timeout=30):
        """Wait until no pull is running (cancelled ones included)."""
        wait_until(lambda: self.status()["requests_in_flight"] == 0 and
                   self.status()["pulls_in_flight"] == 0, timeout=timeout, interval=0.1,
                   what="the agent to be idle")

    def layouts(self):
        return sorted(p.name for p in self.images.iterdir() if not p.name.startswith(".")) \
            if self.images.exists() else []

    def image_json(self, cid):
        return json.loads((self.images / cid / "image.json").read_text())

    def store_records(self):
        return [json.loads(p.read_text()) for p in sorted((self.store / "images").glob("*.json"))]

    def layer_dirs(self):
        d = self.store / "layers" / "sha256"
        return sorted(p.name for p in d.iterdir()) if d.exists() else []

    def check_consistent(self):
        """Every record's and layout's layers exist, nothing is left in staging."""
        problems = []
        for rec in self.store_records():
            for layer in rec["layers"]:
                hexd = layer["diff_id"].split(":", 1)[1]
                if not (self.store / "layers" / "sha256" / hexd).is_dir():
                    problems.append(f"record {rec['ref']}: layer {hexd[:12]} missing")
        refs = {rec["ref"] for rec in self.store_records()}
        for cid in self.layouts():
            info = self.image_json(cid)
            if info["reference"] not in refs:
                problems.append(f"layout {cid}: no store record for {info['reference']}")
            for rel in info["layers"]:
                if not (self.store / rel).is_dir():
                    problems.append(f"layout {cid}: {rel} missing")
            if list((self.images / cid / "rootfs").iterdir()):
                problems.append(f"layout {cid}: rootfs/ is not empty")
        for d in (self.store / "tmp", self.images / ".staging"):
            if d.exists() and list(d.iterdir()):
                problems.append(f"left in {d}: {[p.name for p in d.iterdir()]}")
        assert problems == [], problems


@pytest.fixture
def agents(workdir):
    started = []

    def start(**kw):
        a = Agent(workdir, name=f"agent{len(started)}", **kw)
        started.append(a)
        return a.start()

    yield start
    for a in started:
        if a.proc is not None and a.proc.poll() is None:
            assert a.stop() == 0, a.log()[-3000:]
        assert not pid_alive(a.pid)


@pytest.fixture
def agent(agents):
    return agents()


@pytest.fixture
def anon(workdir):
    need("registry")
    with R.Registry("anonymous", tmp_parent=workdir) as r:
        yield r


def expect_error(res, code, *fragments):
    """agent-ctl failed with one line naming the status code and saying why."""
    assert res.returncode == 1, res
    assert res.stderr.count("\n") == 1 and res.stderr.startswith(f"agent-ctl: {code}: "), \
        res.stderr
    for f in fragments:
        assert f in res.stderr, (f, res.stderr)


def blob_gets(reg):
    """{digest: successful blob GETs} from the registry's access log."""
    counts = {}
    for m in re.finditer(r'"GET /v2/\S+/blobs/(sha256:[0-9a-f]{64}) HTTP/[\d.]+" 20[06] ',
                         reg.log_text()):
        counts[m.group(1)] = counts.get(m.group(1), 0) + 1
    return counts


# --------------------------------------------------------------------------------------------
# A registry front that holds chosen blobs back (deterministic slow pulls) and counts requests


class HoldingProxy:
    """Forwards to a registry. A GET of a blob in `hold` sends its headers and half of its body,
    then waits until release() (or close()) before sending the rest."""

    def __init__(self, upstream, hold=()):
        self.upstream, self.hold = upstream, set(hold)
        self.released = threading.Event()
        self.holding = threading.Event()  # a held blob is being served
        self.requests = []
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                with proxy.lock:
                    proxy.requests.append(self.path)
                status, body = relay_get(self, proxy.upstream)
                held = any(self.path.endswith("/blobs/" + d) for d in proxy.hold)
                try:
                    if held:
                        self.wfile.write(body[:len(body) // 2])
                        self.wfile.flush()
                        proxy.holding.set()
                        proxy.released.wait(120)
                        body = body[len(body) // 2:]
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def count(self, fragment):
        with self.lock:
            return sum(1 for p in self.requests if fragment in p)

    def release(self):
        self.released.set()

    def close(self):
        self.release()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@pytest.fixture
def held(anon, workdir):
    """An image (repo slow/img:t) whose big layer the proxy holds back until released."""
    info = R.make_oci_image(workdir / "slow", [SIMPLE[0], [F("big", os.urandom(300000))]],
                            tag="t")
    R.push(workdir / "slow", "t", anon, repo="slow/img")
    proxy = HoldingProxy(anon.url, hold=[info["layers"][1]["digest"]])
    proxy.ref = f"{proxy.host}/slow/img:t"
    proxy.info = info
    yield proxy
    proxy.close()


# --------------------------------------------------------------------------------------------
# Pull, layout, mount


def test_pull_layout_and_mount_match_umoci(agent, anon, workdir):
    need("umoci")
    info = R.make_oci_image(workdir / "img", [LOWER, UPPER], tag="layers")
    R.push(workdir / "img", "layers", anon, repo="layers/test")
    ref = f"{anon.host}/layers/test:layers"
    res = agent.ctl("-i", ref)
    assert res.returncode == 0, res.stderr
    assert res.stdout == (f"image_ref: {ref}\ncontainer_id: test_layers\n"
                          f"layout: {agent.images}/test_layers\n"), res.stdout

    # The layout: image.json, config.json, an empty rootfs/.
    layout = agent.images / "test_layers"
    assert sorted(p.name for p in layout.iterdir()) == ["config.json", "image.json", "rootfs"]
    assert list((layout / "rootfs").iterdir()) == []
    meta = agent.image_json("test_layers")
    assert meta["container_id"] == "test_layers" and meta["image"] == ref
    assert meta["reference"] == ref and meta["store"] == str(agent.store)
    assert meta["manifest"] == info["manifest_digest"]
    assert meta["config"] == info["config_digest"]
    assert meta["diff_ids"] == [l["diff_id"] for l in info["layers"]]
    assert meta["layers"] == ["layers/sha256/" + l["diff_id"].split(":")[1]
                              for l in info["layers"]]
    assert meta["size"] == sum(l["size"] for l in info["layers"])
    config = json.loads((layout / "config.json").read_text())
    assert config["root"]["path"] == "rootfs" and config["process"]["args"] == ["/bin/sh"]

    # The log: the seed's success line, with structured fields.
    line = [r for r in agent.records() if r["msg"] == f"pulling {ref} successful"]
    assert len(line) == 1, agent.log()
    assert line[0]["cid"] == "test_layers" and line[0]["image"] == ref
    assert line[0]["digest"] == info["manifest_digest"] and line[0]["duration"].endswith("s")

    # Mounted the way the shim would: the same tree as umoci's.
    bundle = workdir / "bundle"
    res = subprocess.run([CTL_BIN, "mount", "--images", agent.images, "test_layers", bundle],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    try:
        theirs = R.tree_manifest(R.umoci_unpack(workdir / "img", "layers", workdir / "ref"),
                                 include_root=False)
        assert R.diff_trees(R.tree_manifest(bundle / "rootfs", include_root=False),
                            theirs) == []
        assert json.loads((bundle / "config.json").read_text()) == config
        # Writes go to the bundle's own layer, never into the shared store.
        (bundle / "rootfs" / "written").write_text("x")
        assert (bundle / ".layer" / "upper" / "written").exists()
        assert not any((agent.store / rel / "written").exists() for rel in meta["layers"])
        res = subprocess.run([CTL_BIN, "mount", "--images", agent.images, "test_layers",
                              bundle], capture_output=True, text=True, timeout=60)
        assert res.returncode == 1 and "mounted already" in res.stderr, res.stderr
    finally:
        res = subprocess.run([CTL_BIN, "umount", bundle], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert not bundle.exists()
    agent.check_consistent()


def test_mount_through_an_agent_root(agent, anon, workdir):
    """--agent-root: the agent's paths are taken inside another root (its bundle's rootfs),
    and a symlink planted there cannot lead out of it."""
    R.make_oci_image(workdir / "img", SIMPLE, tag="t")
    R.push(workdir / "img", "t", anon, repo="root/img")
    assert agent.ctl("-i", f"{anon.host}/root/img:t", "--cid", "c1").returncode == 0
    aroot = workdir / "aroot"
    binds = []
    try:
        for d in (agent.store, agent.images):
            inside = aroot / str(d).lstrip("/")
            inside.mkdir(parents=True)
            subprocess.run(["mount", "--bind", str(d), str(inside)], check=True)
            binds.append(inside)
        bundle = workdir / "b"
        res = subprocess.run([CTL_BIN, "mount", "--agent-root", aroot, "--images",
                              agent.images, "c1", bundle], capture_output=True, text=True)
        assert res.returncode == 0, res.stderr
        try:
            assert (bundle / "rootfs" / "etc" / "hello").read_text() == "hello\n"
            lower = [m for m in open("/proc/self/mountinfo") if f" {bundle}/rootfs " in m]
            assert lower and str(aroot) in lower[0], lower
        finally:
            assert subprocess.run([CTL_BIN, "umount", bundle]).returncode == 0
        # A layout whose store is reached through a symlink to an absolute host path, where
        # the layer does exist on the host: resolved inside the agent's root, it is not there.
        evil = binds[1] / "evil"
        evil.mkdir()
        meta = agent.image_json("c1")
        (workdir / "outside" / meta["layers"][0]).mkdir(parents=True)
        os.symlink(str(workdir / "outside"), aroot / "escape")
        meta["store"] = "/escape"
        (evil / "image.json").write_text(json.dumps(meta))
        (evil / "config.json").write_text("{}")

        def mount_evil():
            return subprocess.run([CTL_BIN, "mount", "--agent-root", aroot, "--images",
                                   agent.images, "evil", workdir / "b2"],
                                  capture_output=True, text=True)
        res = mount_evil()
        assert res.returncode == 1, res.stderr
        assert "layer 0 (/escape/layers/sha256/" in res.stderr, res.stderr
        assert "No such file or directory" in res.stderr, res.stderr
        # Layer paths are checked against their digests, not taken as given.
        meta["store"], meta["layers"][0] = str(agent.store), "../../../../etc"
        (evil / "image.json").write_text(json.dumps(meta))
        res = mount_evil()
        assert res.returncode == 1 and "not a store path of its diff_id" in res.stderr
        assert not (workdir / "b2").exists()
        shutil.rmtree(evil)
    finally:
        for b in reversed(binds):
            subprocess.run(["umount", str(b)], check=False)


def test_bundle_runs_with_rune(agent, anon, workdir):
    """The user is resolved in the unmerged layers: the generated config runs under rune."""
    R.make_oci_image(workdir / "img", busybox_layers(), tag="app", config={
        "Entrypoint": ["/bin/sh", "-c"],
        "Cmd": ["echo \"$GREETING $(id -u):$(id -g) $(id -G) $(pwd)\"; cat /etc/motd"],
        "Env": ["GREETING=hello", "PATH=/bin"], "WorkingDir": "/tmp", "User": "app"})
    R.push(workdir / "img", "app", anon, repo="app/img")
    assert agent.ctl("-i", f"{anon.host}/app/img:app").returncode == 0
    config = json.loads((agent.images / "img_app" / "config.json").read_text())
    assert config["process"]["user"] == {"uid": 1234, "gid": 1234, "additionalGids": [777]}
    bundle = workdir / "bundle"
    res = subprocess.run([CTL_BIN, "mount", "--images", agent.images, "img_app", bundle],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    try:
        run = subprocess.run([RUNE_BIN, "--root", str(workdir / "state"), "run", "--bundle",
                              str(bundle), f"agent-{os.getpid()}-{time.monotonic_ns()}"],
                             capture_output=True, text=True,
                             timeout=60, stdin=subprocess.DEVNULL)
        assert run.returncode == 0, run.stderr
        assert run.stdout == "hello 1234:1234 1234 777 /tmp\nfrom the upper layer\n"
    finally:
        assert subprocess.run([CTL_BIN, "umount", bundle]).returncode == 0


def test_repull_replaces_the_layout(agent, anon, workdir):
    R.make_oci_image(workdir / "a", SIMPLE, tag="t")
    R.make_oci_image(workdir / "b", [[F("other", "b\n")]], tag="t")
    R.push(workdir / "a", "t", anon, repo="re/a")
    R.push(workdir / "b", "t", anon, repo="re/b")
    assert agent.ctl("-i", f"{anon.host}/re/a:t", "--cid", "same").returncode == 0
    first = agent.image_json("same")
    assert agent.ctl("-i", f"{anon.host}/re/b:t", "--cid", "same").returncode == 0
    second = agent.image_json("same")
    assert first["reference"].endswith("/re/a:t") and second["reference"].endswith("/re/b:t")
    assert agent.layouts() == ["same"]
    agent.check_consistent()


# --------------------------------------------------------------------------------------------
# The Go ttrpc client


def test_go_client(go_peer, agents, anon, workdir):  # noqa: F811
    agent = agents(listen="tcp://127.0.0.1:0")
    R.make_oci_image(workdir / "img", SIMPLE, tag="v1")
    R.push(workdir / "img", "v1", anon, repo="go/img")
    ref = f"{anon.host}/go/img:v1"

    def go(*args):
        res = subprocess.run([str(go_peer), "-addr", agent.addr, *args], capture_output=True,
                             text=True, timeout=120)
        assert res.returncode in (0, 1), res.stderr
        return res.returncode, json.loads(res.stdout)

    assert go("-image", ref, "-cid", "go_v1", "-timeout", "60s") == (0, {"image_ref": ref})
    assert agent.image_json("go_v1")["reference"] == ref
    rc, out = go("-image", f"{anon.host}/go/img:nope", "-cid", "go_nope", "-timeout", "60s")
    assert (rc, out["code"], out["code_name"]) == (1, 5, "NotFound"), out
    assert "manifest nope: not found" in out["message"]
    rc, out = go("-image", ref, "-cid", "a/b")
    assert (rc, out["code"]) == (1, 3), out
    rc, out = go("-image", ref, "-cid", "x", "-service", "enclaveagent.Admin", "-method", "Nope")
    assert (rc, out["code"], out["message"]) == (1, 12, "method Nope"), out


# --------------------------------------------------------------------------------------------
# Failures and their status codes


def test_errors_have_the_right_codes(agent, anon, workdir):
    info = R.make_oci_image(workdir / "img", SIMPLE + [[F("etc/second", "2\n")]], tag="t")
    R.push(workdir / "img", "t", anon, repo="err/img")
    host = anon.host

    expect_error(agent.ctl("-i", f"{host}/err/img:nope"), "NOT_FOUND",
                 f"manifest nope: not found in {host}/err/img")
    expect_error(agent.ctl("-i", f"{host}/err/missing:t"), "NOT_FOUND", "not found")
    port = R.free_port()
    expect_error(agent.ctl("-i", f"127.0.0.1:{port}/down/img:t"), "UNAVAILABLE",
                 f"registry 127.0.0.1:{port}: Couldn't connect to server")
    expect_error(agent.ctl("-i", "Not/A Reference", "--cid", "x"), "INVALID_ARGUMENT",
                 "invalid reference")
    for cid, why in (("a:b", "':' not allowed"), ("a/b", "'/' not allowed"),
                     ("-x", "not allowed first"), ("x" * 129, "longer than 128"),
                     ("ok\x01", "\\x01 not allowed")):
        expect_error(agent.ctl("-i", f"{host}/err/img:t", "--cid", cid), "INVALID_ARGUMENT",
                     "container_id", why)
    # An empty container id only comes from raw clients: agent-ctl always derives one.
    code, msg, _ = raw_call(agent, "grpc.Image", "PullImage",
                            pull_request(f"{host}/err/img:t", ""))
    assert (code, msg) == (CODES["INVALID_ARGUMENT"], "container_id is empty")

    # Bytes that do not match the digest: DATA_LOSS, and nothing of that layer is kept.
    second = info["layers"][1]
    hexd = second["digest"].split(":")[1]
    blob = (anon.dir / "storage" / "docker" / "registry" / "v2" / "blobs" / "sha256" /
            hexd[:2] / hexd / "data")
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0xFF
    blob.write_bytes(bytes(data))
    expect_error(agent.ctl("-i", f"{host}/err/img:t"), "DATA_LOSS",
                 f"blob {second['digest']}: digest mismatch")
    assert second["diff_id"].split(":")[1] not in agent.layer_dirs()
    assert agent.store_records() == [] and agent.layouts() == []
    agent.check_consistent()
    # Every failure was logged with its code; none as a bare INTERNAL.
    codes = [r.get("code") for r in agent.records() if "failed" in r["msg"]]
    assert "INTERNAL" not in codes and len(codes) == 11, codes


@pytest.mark.parametrize("mode", ["basic", "token"])
def test_auth(agents, workdir, mode):
    need("registry")
    R.make_oci_image(workdir / "img", SIMPLE, tag="t")
    with R.Registry(mode, tmp_parent=workdir) as reg:
        R.push(workdir / "img", "t", reg, repo="auth/img")
        agent = agents()
        ref = f"{reg.host}/auth/img:t"
        expect_error(agent.ctl("-i", ref, "--cid", "none"), "UNAUTHENTICATED")
        expect_error(agent.ctl("-i", ref, "--cid", "bad", "--creds", f"{reg.user}:wrong-pw-x"),
                     "UNAUTHENTICATED")
        assert agent.layouts() == []
        res = agent.ctl("-i", ref, "--cid", "good", "--creds", reg.creds)
        assert res.returncode == 0, res.stderr
        assert agent.layouts() == ["good"]
        # An auth file given to the agent serves callers without credentials.
        auth = workdir / "auth.json"
        auth.write_text(json.dumps({"auths": {reg.host: {"auth": base64.b64encode(
            reg.creds.encode()).decode()}}}))
        other = agents(extra=["--auth-file", auth])
        assert other.ctl("-i", ref, "--cid", "byfile").returncode == 0
    for a in (agent, other):
        assert reg.password not in a.log() and "wrong-pw-x" not in a.log()
        assert reg.password not in json.dumps(a.store_records())


# --------------------------------------------------------------------------------------------
# Concurrency


def three_images(workdir, registry):
    """Three images sharing a base layer (and two of them a second one); the refs, and the
    digests of every distinct layer blob."""
    base = [D("base"), F("base/data", os.urandom(100000))]
    mid = [D("mid"), F("mid/data", os.urandom(50000))]
    layers = {"one": [base, [F("one", "1\n")]], "two": [base, mid, [F("two", "2\n")]],
              "three": [base, mid, [F("three", "3\n")]]}
    refs, digests = {}, set()
    for name, ls in layers.items():
        info = R.make_oci_image(workdir / f"img-{name}", ls, tag="t")
        R.push(workdir / f"img-{name}", "t", registry, repo=f"cc/{name}")
        refs[name] = info
        digests |= {l["digest"] for l in info["layers"]}
    assert len(digests) == 5
    return refs, digests


def test_many_clients_share_the_work(agent, anon, workdir, go_peer):  # noqa: F811
    refs, digests = three_images(workdir, anon)
    names = list(refs)

    for name in names:
        R.push(workdir / f"img-{name}", "t", anon, repo=f"cc/{name}", dest_tag="latest")

    def ref_of(i):
        # Two spellings of one reference share a pull (normalised: no tag means latest).
        return f"{anon.host}/cc/{names[i % 3]}" + (":latest" if i % 4 < 2 else "")

    def one_round(rnd):
        procs = []
        for i in range(24):
            cid = f"r{rnd}c{i}"
            if i % 2:
                procs.append((i, cid, subprocess.Popen(
                    [str(go_peer), "-addr", agent.addr, "-image", ref_of(i), "-cid", cid,
                     "-timeout", "120s"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                    text=True)))
            else:
                procs.append((i, cid, agent.ctl_popen("-i", ref_of(i), "--cid", cid,
                                                      "--json")))
        for i, cid, p in procs:
            out, err = p.communicate(timeout=300)
            assert p.returncode == 0, (cid, err)
            assert json.loads(out)["image_ref"] == ref_of(i)
            meta = agent.image_json(cid)
            info = refs[names[i % 3]]
            assert meta["manifest"] == info["manifest_digest"], cid
            assert meta["diff_ids"] == [l["diff_id"] for l in info["layers"]], cid

    # Two rounds warm the allocator up (arenas, thread stacks); then neither the descriptors
    # nor the memory may grow beyond a fixed slack, however many rounds follow.
    one_round(0)
    one_round(1)
    wait_until(lambda: agent.status()["requests_in_flight"] == 0, what="quiet")
    time.sleep(0.5)
    fds0, rss0 = agent.fds(), agent.rss_kb()
    for rnd in (2, 3, 4, 5):
        one_round(rnd)
    wait_until(lambda: agent.fds() <= fds0 + 4, timeout=20, what="descriptors to settle")
    # ASan keeps freed memory in quarantine and TSan has shadow memory: RSS says nothing
    # there (ASan's leak check at exit does, and the fixture wants exit status 0).
    maps = Path(f"/proc/{agent.pid}/maps").read_text()
    if "libasan" not in maps and "libtsan" not in maps:
        assert agent.rss_kb() <= rss0 + 16 * 1024, (rss0, agent.rss_kb())
    # Every layer blob crossed the network once, however many pulls wanted it.
    gets = blob_gets(anon)
    assert {d: gets.get(d, 0) for d in digests} == {d: 1 for d in digests}, gets
    assert len(agent.layouts()) == 6 * 24 and len(agent.store_records()) == 3
    agent.check_consistent()


def test_single_flight(agent, held):
    """Callers of one reference that come while its pull runs share it: one manifest request,
    one blob transfer; each caller gets its own layout."""
    first = agent.ctl_popen("-i", held.ref, "--cid", "first")
    assert held.holding.wait(30), "the pull never reached the held blob"
    others = [agent.ctl_popen("-i", held.ref, "--cid", f"o{i}") for i in range(5)]
    wait_until(lambda: agent.status()["requests_in_flight"] == 6, what="all callers waiting")
    assert agent.status()["pulls_in_flight"] == 1
    held.release()
    for p in [first] + others:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
    assert held.count("/manifests/") == 1
    assert held.count("/blobs/" + held.info["layers"][1]["digest"]) == 1
    assert agent.layouts() == ["first"] + [f"o{i}" for i in range(5)]
    agent.check_consistent()


# --------------------------------------------------------------------------------------------
# Deadlines, disconnects, shutdown


def test_deadline_exceeded(agent, held):
    start = time.monotonic()
    res = agent.ctl("-i", held.ref, "--cid", "late", "--timeout", "1s")
    expect_error(res, "DEADLINE_EXCEEDED")
    assert time.monotonic() - start < 15
    # Nobody waits for the pull any more: it is cancelled without the blob ever finishing.
    agent.idle()
    assert not held.released.is_set()
    assert agent.store_records() == [] and agent.layouts() == []
    assert held.info["layers"][1]["diff_id"].split(":")[1] not in agent.layer_dirs()
    agent.check_consistent()
    assert agent.status()["health"] == "SERVING"


def test_deadline_of_one_caller_leaves_the_pull_to_the_others(agent, held):
    patient = agent.ctl_popen("-i", held.ref, "--cid", "patient", "--timeout", "2m")
    assert held.holding.wait(30)
    expect_error(agent.ctl("-i", held.ref, "--cid", "hasty", "--timeout", "500ms"),
                 "DEADLINE_EXCEEDED")
    assert agent.status()["pulls_in_flight"] == 1
    held.release()
    out, err = patient.communicate(timeout=60)
    assert patient.returncode == 0, err
    assert agent.layouts() == ["patient"]
    agent.check_consistent()


def test_deadline_while_another_image_unpacks_a_shared_layer(agent, held, anon, workdir):
    """Another image with the held layer waits for the first pull's unpack in the store; its
    own deadline still ends that wait, and the layer is fetched once in the end."""
    big = held.info["layers"][1]
    other = R.Layout(workdir / "other")
    # The same big layer blob, byte for byte, on top of a layer of its own.
    blob = (workdir / "slow" / "blobs" / "sha256" / big["digest"].split(":")[1]).read_bytes()
    base = R.make_layer_tar([F("other", "o\n")])
    descs = [other.blob(R.compress(base, "gzip"), R.MT_LAYER["gzip"]),
             other.blob(blob, R.MT_LAYER["gzip"])]
    cfg = {"architecture": R.host_arch(), "os": "linux", "config": {"Cmd": ["/bin/sh"]},
           "rootfs": {"type": "layers", "diff_ids": [R.sha256_digest(base), big["diff_id"]]}}
    cdesc = other.blob(R._canonical(cfg), R.MT_OCI_CONFIG)
    mdesc = other.blob(R._canonical({"schemaVersion": 2, "mediaType": R.MT_OCI_MANIFEST,
                                     "config": cdesc, "layers": descs}), R.MT_OCI_MANIFEST)
    other.tag(mdesc, "u")
    R.push(workdir / "other", "u", anon, repo="other/img")

    first = agent.ctl_popen("-i", held.ref, "--cid", "first")
    assert held.holding.wait(30)
    expect_error(agent.ctl("-i", f"{held.host}/other/img:u", "--cid", "second", "--timeout",
                           "1s"), "DEADLINE_EXCEEDED")
    wait_until(lambda: agent.status()["requests_in_flight"] == 1, what="the second to give up")
    assert agent.status()["pulls_in_flight"] == 1
    held.release()
    out, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    assert agent.ctl("-i", f"{held.host}/other/img:u", "--cid", "second").returncode == 0
    assert held.count("/blobs/" + big["digest"]) == 1
    assert agent.layouts() == ["first", "second"]
    agent.check_consistent()


def test_client_disconnecting_mid_pull(agent, held):
    fds = agent.fds()
    s = connect(agent)
    s.sendall(frame(1, 1, envelope("grpc.Image", "PullImage",
                                   pull_request(held.ref, "gone"))))
    assert held.holding.wait(30)
    wait_until(lambda: agent.status()["pulls_in_flight"] == 1, what="the pull")
    s.close()
    agent.idle()
    assert agent.store_records() == [] and agent.layouts() == []
    agent.check_consistent()
    wait_until(lambda: agent.fds() <= fds, what="the connection's descriptor to go")


def test_sigterm_cancels_pulls_after_the_grace(agents, held):
    agent = agents(extra=["--shutdown-grace", "1s"])
    client = agent.ctl_popen("-i", held.ref, "--cid", "c")
    assert held.holding.wait(30)
    start = time.monotonic()
    assert agent.stop(signal.SIGTERM, timeout=30) == 0, agent.log()
    assert time.monotonic() - start < 15
    out, err = client.communicate(timeout=30)
    assert client.returncode == 1 and "agent-ctl: " in err, err
    assert any("shutting down" in r["msg"] for r in agent.records())
    assert agent.store_records() == [] and agent.layouts() == []
    agent.check_consistent()


def test_sigterm_lets_pulls_finish_within_the_grace(agents, held):
    agent = agents(extra=["--shutdown-grace", "60s"])
    client = agent.ctl_popen("-i", held.ref, "--cid", "c")
    assert held.holding.wait(30)
    os.kill(agent.pid, signal.SIGTERM)
    # New connections are refused at once; the pull in flight goes on.
    wait_until(lambda: refused(agent), what="the listener to close")
    held.release()
    out, err = client.communicate(timeout=60)
    assert client.returncode == 0, err
    assert agent.stop(timeout=30) == 0
    assert agent.layouts() == ["c"]
    agent.check_consistent()


# --------------------------------------------------------------------------------------------
# Hostile frames (raw sockets)


def varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def field(num, data):
    data = data.encode() if isinstance(data, str) else data
    return varint(num << 3 | 2) + varint(len(data)) + data


def envelope(service, method, payload=b"", timeout_ns=0):
    body = field(1, service) + field(2, method) + field(3, payload)
    return body + (varint(4 << 3) + varint(timeout_ns) if timeout_ns else b"")


def pull_request(image, cid, creds=""):
    return field(1, image) + field(2, cid) + (field(3, creds) if creds else b"")


def frame(stream, typ, body, flags=0, length=None):
    return struct.pack(">IIBB", len(body) if length is None else length, stream, typ,
                       flags) + body


def parse(buf):
    """protobuf fields: {number: [bytes or int]}."""
    out, i = {}, 0
    while i < len(buf):
        key, i = _varint(buf, i)
        if key & 7 == 0:
            v, i = _varint(buf, i)
        else:
            n, i = _varint(buf, i)
            v, i = buf[i:i + n], i + n
        out.setdefault(key >> 3, []).append(v)
    return out


def _varint(buf, i):
    v = shift = 0
    while True:
        b = buf[i]
        i += 1
        v |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return v, i


def connect(agent):
    if agent.addr.startswith("unix://"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(agent.addr[len("unix://"):])
    else:
        host, port = agent.addr[len("tcp://"):].rsplit(":", 1)
        s = socket.create_connection((host, int(port)))
    s.settimeout(30)
    return s


def read_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def read_response(s):
    """(stream, code, message, payload), or None when the connection was closed."""
    hdr = read_exact(s, 10)
    if hdr is None:
        return None
    length, stream, typ, _ = struct.unpack(">IIBB", hdr)
    assert typ == 2, typ
    resp = parse(read_exact(s, length) or b"")
    status = parse(resp.get(1, [b""])[0])
    return (stream, status.get(1, [0])[0], status.get(2, [b""])[0].decode(),
            resp.get(2, [b""])[0])


def raw_call(agent, service, method, payload, timeout_ns=0):
    with connect(agent) as s:
        s.sendall(frame(1, 1, envelope(service, method, payload, timeout_ns)))
        _, code, msg, body = read_response(s)
        return code, msg, body


def refused(agent):
    try:
        connect(agent).close()
        return False
    except OSError:
        return True


def closed(s, timeout=20):
    """Read (and drop) what the peer sends until it closes: True, or False after timeout."""
    s.settimeout(timeout)
    try:
        while s.recv(65536):
            pass
        return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def test_hostile_frames(agent, anon, workdir):
    R.make_oci_image(workdir / "img", SIMPLE, tag="t")
    R.push(workdir / "img", "t", anon, repo="raw/img")
    ref = f"{anon.host}/raw/img:t"
    fds = agent.fds()

    # Garbage where the envelope should be, and a garbage PullImageRequest.
    with connect(agent) as s:
        s.sendall(frame(1, 1, b"\xff\xff\xff\xff garbage"))
        assert read_response(s)[1] == CODES["INVALID_ARGUMENT"]
        s.sendall(frame(3, 1, envelope("grpc.Image", "PullImage", b"\x0a\xff\x01")))
        stream, code, msg, _ = read_response(s)
        assert (stream, code) == (3, CODES["INVALID_ARGUMENT"]), msg
        assert "PullImageRequest" in msg
        # An unknown frame type is ignored; the connection still serves.
        s.sendall(frame(5, 9, b"whatever"))
        s.sendall(frame(7, 1, envelope("grpc.Image", "Nope")))
        assert read_response(s)[1:3] == (CODES["UNIMPLEMENTED"], "method Nope")
        s.sendall(frame(9, 1, envelope("no.Such", "PullImage")))
        assert read_response(s)[1:3] == (CODES["UNIMPLEMENTED"], "service no.Such")
        s.sendall(frame(11, 1, envelope("grpc.Image", "PullImage", pull_request(ref, "raw"))))
        stream, code, msg, payload = read_response(s)
        assert (stream, code) == (11, 0), msg
        assert parse(payload)[1] == [ref.encode()]

    # A frame claiming more than 4 MiB: refused on its stream (the body is skipped).
    with connect(agent) as s:
        s.sendall(frame(1, 1, b"\0" * (5 << 20)))
        code = read_response(s)[1]
        assert code == CODES["RESOURCE_EXHAUSTED"], code

    # A truncated frame, then the peer goes: only that connection ends.
    with connect(agent) as s:
        s.sendall(frame(1, 1, b"", length=100) + b"0123456789")
    # A connection that sends nothing but garbage headers is closed.
    with connect(agent) as s:
        for i in range(40):
            try:
                s.sendall(frame(2 * i + 2, 1, b"x"))  # even stream ids are refused
            except (BrokenPipeError, ConnectionResetError):
                break
        assert closed(s), "the garbage connection was not closed"

    # 1000 idle connections: the agent keeps serving.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
    idle = []
    try:
        for _ in range(1000):
            idle.append(connect(agent))
        assert agent.status()["health"] == "SERVING"
        res = agent.ctl("-i", ref, "--cid", "busy")
        assert res.returncode == 0, res.stderr
    finally:
        for s in idle:
            s.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    wait_until(lambda: agent.fds() <= fds + 2, timeout=30, what="descriptors to be released")
    assert agent.layouts() == ["busy", "raw"]
    agent.check_consistent()


# --------------------------------------------------------------------------------------------
# The Admin service


def test_list_remove_status(agent, anon, workdir):
    refs, _ = three_images(workdir, anon)
    one, two = f"{anon.host}/cc/one:t", f"{anon.host}/cc/two:t"
    for ref, cid in ((one, "a"), (one, "b"), (two, "c")):
        assert agent.ctl("-i", ref, "--cid", cid).returncode == 0
    st = agent.status()
    assert st["health"] == "SERVING" and st["version"]
    assert (st["images"], st["containers"], st["pulls_in_flight"]) == (2, 3, 0)
    assert st["store_root"] == str(agent.store) and st["images_root"] == str(agent.images)
    assert st["store_bytes"] > 150000

    listed = json.loads(agent.ctl("list", "--json").stdout)
    assert [(i["container_id"], i["image"], i["digest"]) for i in listed] == [
        ("a", one, refs["one"]["manifest_digest"]), ("b", one, refs["one"]["manifest_digest"]),
        ("c", two, refs["two"]["manifest_digest"])]
    assert listed[2]["layers"] == 3
    assert listed[2]["size"] == sum(l["size"] for l in refs["two"]["layers"])
    table = agent.ctl("list").stdout.splitlines()
    assert table[0].split()[:3] == ["CONTAINER", "ID", "IMAGE"] and len(table) == 4

    # "a" goes; "b" still uses the image, so the record and its layers stay.
    out = json.loads(agent.ctl("remove", "a", "--json").stdout)
    assert out == {"container_id": "a", "image_removed": False, "layers_removed": 0,
                   "blobs_removed": 0, "gc_deferred": False}
    assert len(agent.layer_dirs()) == 4
    # "b" goes: the record, and the one layer only that image had; the base stays for "c".
    out = json.loads(agent.ctl("remove", "b", "--json").stdout)
    assert (out["image_removed"], out["layers_removed"]) == (True, 1), out
    assert len(agent.layer_dirs()) == 3
    res = agent.ctl("remove", "c")
    assert res.returncode == 0 and res.stdout.startswith("removed c (image record removed; "
                                                         "3 layers"), res.stdout
    assert agent.layer_dirs() == [] and agent.layouts() == []
    expect_error(agent.ctl("remove", "c"), "NOT_FOUND", "container_id c: no image")
    expect_error(agent.ctl("remove", "x:y"), "INVALID_ARGUMENT")
    st = agent.status()
    assert (st["images"], st["containers"]) == (0, 0)
    agent.check_consistent()


def test_remove_refuses_a_mounted_layout(agent, anon, workdir):
    R.make_oci_image(workdir / "img", SIMPLE, tag="t")
    R.push(workdir / "img", "t", anon, repo="m/img")
    assert agent.ctl("-i", f"{anon.host}/m/img:t", "--cid", "m").returncode == 0
    rootfs = agent.images / "m" / "rootfs"
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(rootfs)], check=True)
    try:
        expect_error(agent.ctl("remove", "m"), "FAILED_PRECONDITION", "mounted")
        expect_error(agent.ctl("-i", f"{anon.host}/m/img:t", "--cid", "m"),
                     "FAILED_PRECONDITION", "mounted")
    finally:
        subprocess.run(["umount", str(rootfs)], check=True)
    assert agent.ctl("remove", "m").returncode == 0


# --------------------------------------------------------------------------------------------
# Start-up, configuration, logs


def start_fails(workdir, *args):
    res = subprocess.run([AGENT_BIN, "--root", str(workdir / "s"), "--images",
                          str(workdir / "i"), "-l", f"unix://{workdir}/x.sock", *map(str, args)],
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 1, res
    assert res.stderr.startswith("enclave-agent: ") and res.stderr.count("\n") == 1, res.stderr
    return res.stderr


def test_startup_refusals(workdir):
    ocicrypt = workdir / "ocicrypt.conf"
    ocicrypt.write_text("{}")
    err = start_fails(workdir, "-o", workdir / "missing.conf")
    assert f"ocicrypt config {workdir}/missing.conf: No such file or directory" in err
    bad = workdir / "decrypt.conf"
    bad.write_text('{"key_provider": "x",')
    err = start_fails(workdir, "-o", ocicrypt, "-c", bad)
    assert f"decrypt config {bad}: line" in err, err
    bad.write_text('{"security_validate": "yes"}')
    err = start_fails(workdir, "-o", ocicrypt, "-c", bad)
    assert "security_validate: expected boolean, got string" in err, err
    err = start_fails(workdir, "-o", ocicrypt, "--log-format", "xml")
    assert "--log-format" in err
    err = start_fails(workdir, "-o", ocicrypt, "--shutdown-grace", "soon")
    assert "--shutdown-grace" in err
    # The default location is /etc/ocicrypt.conf, as upstream.
    if not os.path.exists("/etc/ocicrypt.conf"):
        assert "ocicrypt config /etc/ocicrypt.conf" in start_fails(workdir)
    res = subprocess.run([AGENT_BIN, "--version"], capture_output=True, text=True)
    assert res.returncode == 0 and res.stdout.startswith("enclave-agent version ")
    res = subprocess.run([AGENT_BIN, "--help"], capture_output=True, text=True)
    assert res.returncode == 0 and "--decrypt-config" in res.stdout


def test_decrypt_config_and_text_logs(agents, workdir):
    conf = workdir / "decrypt.conf"
    conf.write_text('{"key_provider": "provider:attestation-agent:sample_kbc::127.0.0.1:50000",'
                    ' "security_validate": false, "unknown": 1}')
    agent = agents(extra=["-c", conf], log_format="text")
    log = agent.log()
    assert "key_provider provider:attestation-agent:sample_kbc::127.0.0.1:50000" in log
    assert "security_validate false" in log and "level=info" in log
    # An unreadable file means the defaults, with a warning (as upstream).
    other = agents(extra=["-c", workdir / "nope.conf"])
    warn = [r for r in other.records() if r["level"] == "warning"]
    assert warn and "using the defaults" in warn[0]["msg"], other.log()
    # Two agents cannot share a socket.
    a2 = Agent(workdir, name="dup", listen=agent.addr)
    a2.ocicrypt.write_text("{}")
    res = subprocess.run(a2.argv, capture_output=True, text=True, timeout=30)
    assert res.returncode == 1 and "listen" in res.stderr, res.stderr


def test_agent_ctl_usage(workdir):
    res = subprocess.run([CTL_BIN], capture_output=True, text=True)
    assert res.returncode == 2 and "Usage" in res.stderr
    res = subprocess.run([CTL_BIN, "frobnicate"], capture_output=True, text=True)
    assert res.returncode == 2 and "unknown command" in res.stderr
    res = subprocess.run([CTL_BIN, "--timeout", "soon", "status"], capture_output=True,
                         text=True)
    assert res.returncode == 2 and "--timeout" in res.stderr
    res = subprocess.run([CTL_BIN, "-c", f"unix://{workdir}/none.sock", "status"],
                         capture_output=True, text=True)
    assert res.returncode == 1
    assert res.stderr.startswith("agent-ctl: UNAVAILABLE: connect unix://"), res.stderr
    (workdir / "b" / "rootfs").mkdir(parents=True)
    res = subprocess.run([CTL_BIN, "umount", workdir / "b"], capture_output=True, text=True)
    assert res.returncode == 1 and "not a mount point" in res.stderr, res.stderr
    assert (workdir / "b" / "rootfs").is_dir()  # nothing removed
