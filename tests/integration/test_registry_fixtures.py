"""Validation of the image-puller test infrastructure (registry.py) with real peers only:
distribution's docker-registry, skopeo and umoci. No project code runs here."""

import gzip
import hashlib
import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from conftest import pid_alive
import registry as R
from registry import CHR, D, F, FIFO, H, OPQ, S, WH

MODES = ["anonymous", "basic", "token"]


def need(*tools):
    missing = R.missing_tools(*tools)
    if missing:
        reason = f"missing peer binaries: {', '.join(missing)}"
        print(reason)
        pytest.skip(reason)


@pytest.fixture(params=MODES)
def reg(request, workdir):
    need("registry")
    r = R.Registry(request.param, tmp_parent=workdir)
    r.start()
    pid = r.proc.pid
    yield r
    r.stop()
    assert not pid_alive(pid), f"registry {pid} survived stop()"


SIMPLE = [[D("etc"), F("etc/hello", "hello\n"), F("bin/true", b"\x7fELF", mode=0o755)]]


# --------------------------------------------------------------------------------------------
# Auth modes


def _code(url, headers=None):
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}),
                                    timeout=10) as r:
            return r.status, dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers)


def test_v2_ping_and_challenge(reg):
    code, headers = _code(reg.url + "/v2/")
    if reg.mode == "anonymous":
        assert code == 200
        return
    assert code == 401
    challenge = headers.get("Www-Authenticate") or headers.get("WWW-Authenticate")
    if reg.mode == "basic":
        assert challenge.startswith("Basic ")
    else:
        params = R._parse_challenge(challenge)
        assert challenge.startswith("Bearer ")
        assert params["realm"] == reg.token_server.realm
        assert params["service"] == R.SERVICE
    # the client helper answers the challenge
    status, _, _ = reg.client().request("GET", "/v2/")
    assert status == 200


def test_push_and_inspect(reg, workdir):
    need("skopeo")
    info = R.make_oci_image(workdir / "img", SIMPLE, config={"Cmd": ["/bin/true"]}, tag="v1")
    digest = R.push(workdir / "img", "v1", reg, repo="lib/simple")
    assert digest == info["manifest_digest"]
    assert reg.manifest_digest("lib/simple", "v1") == digest

    ref = f"docker://{reg.host}/lib/simple:v1"
    ok = R.skopeo_inspect(ref, creds=reg.creds)
    assert ok.returncode == 0, ok.stderr
    out = json.loads(ok.stdout)
    assert out["Digest"] == digest
    assert out["Layers"] == [layer["digest"] for layer in info["layers"]]
    assert out["Architecture"] == R.host_arch() and out["Os"] == "linux"

    raw = R.skopeo_inspect(ref, creds=reg.creds, raw=True)
    assert raw.returncode == 0, raw.stderr
    assert R.sha256_digest(raw.stdout.encode()) == digest

    anon = R.skopeo_inspect(ref)
    wrong = R.skopeo_inspect(ref, creds=f"{R.USER}:not-{reg.password}")
    if reg.mode == "anonymous":
        assert anon.returncode == 0, anon.stderr
        return
    assert anon.returncode != 0
    assert "unauthorized" in anon.stderr or "denied" in anon.stderr, anon.stderr
    assert wrong.returncode != 0
    assert "unauthorized" in wrong.stderr or "denied" in wrong.stderr, wrong.stderr

    # Plain HTTP: no credentials and wrong credentials are refused, and so is pushing.
    with pytest.raises(R.HTTPFailure) as e:
        reg.client(anonymous=True).get_manifest("lib/simple", "v1")
    assert e.value.code == 401
    with pytest.raises(R.HTTPFailure) as e:
        reg.client(password="wrong").get_manifest("lib/simple", "v1")
    assert e.value.code == 401
    with pytest.raises(R.HTTPFailure):
        R.push(workdir / "img", "v1", reg.client(anonymous=True), repo="lib/other")

    if reg.mode == "token":
        reqs = reg.token_server.requests
        assert any(q["authorized"] and "repository:lib/simple:pull" in q["scopes"] for q in reqs)
        assert any(q["user"] is None and not q["authorized"] for q in reqs)
        assert any(q["user"] == R.USER and not q["authorized"] for q in reqs)


def test_skopeo_copy_roundtrips_digest(reg, workdir):
    need("skopeo")
    info = R.make_oci_image(workdir / "img", SIMPLE + [[F("etc/second", "2\n")]], tag="v2")
    digest = R.push(workdir / "img", "v2", reg, repo="rt/image")
    R.skopeo_pull(reg, "rt/image", "v2", workdir / "pulled")
    desc = R._resolve_tag(workdir / "pulled", "v2")
    assert desc["digest"] == digest
    for layer in info["layers"]:
        assert R._read_blob(workdir / "pulled", layer["digest"]) == \
            R._read_blob(workdir / "img", layer["digest"])

    # skopeo as the pushing client keeps the digest too (--preserve-digests)
    R.skopeo_push(workdir / "img", "v2", reg, repo="rt/by-skopeo")
    assert reg.manifest_digest("rt/by-skopeo", "v2") == digest


# --------------------------------------------------------------------------------------------
# Image content and the reference unpacker

LONG = "deep/" + "long-name-" * 20 + "end"
CAP = bytes.fromhex("0100000200200000000000000000000000000000")   # cap_net_bind_service
LOWER = [
    D("etc"), F("etc/passwd", "root:x:0:0::/root:/bin/sh\n"),
    F("etc/shadow", "secret\n", mode=0o600, uid=0, gid=42),
    F("etc/removed", "gone soon\n"),
    D("var"), D("var/cache"), F("var/cache/old1", "1"), F("var/cache/old2", "2"),
    D("var/cache/sub"), F("var/cache/sub/old3", "3"),
    D("home/user", mode=0o750, uid=1000, gid=1000),
    F("home/user/data", "data\n", uid=1000, gid=1000, mode=0o640),
    F("bin/ping", b"\x7fELF-ping", mode=0o4755,
      xattrs={"security.capability": CAP, "trusted.rune-test": "value"}),
    H("bin/ping-hard", "bin/ping"),
    S("bin/sh", "busybox"), S("usr/bin", "../bin"),
    FIFO("run/fifo"), CHR("dev/null", 1, 3), CHR("dev/zero", 1, 5, mode=0o620),
    F(LONG, "long\n"), F("ünicode/fïlé ✓", "utf-8\n"),
    D("tmp", mode=0o1777),
]
UPPER = [
    WH("etc/removed"), OPQ("var/cache"), F("var/cache/new", "new\n"),
    F("etc/passwd", "root:x:0:0::/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n"),
    H("etc/passwd-hard", "etc/passwd"),
]


def _expect_layers(tree):
    assert "etc/removed" not in tree                      # whiteout applied
    assert ".wh.removed" not in str(tree.keys())          # markers are not materialised
    assert {p for p in tree if p.startswith("var/cache/")} == {"var/cache/new"}   # opaque
    assert tree["var/cache"].type == "dir"
    assert tree["etc/shadow"][:4] == ("file", 0o600, 0, 42)
    assert tree["home/user"][:4] == ("dir", 0o750, 1000, 1000)
    assert tree["tmp"].mode == 0o1777
    ping = tree["bin/ping"]
    assert ping.mode == 0o4755 and ping.link == "bin/ping"
    assert tree["bin/ping-hard"].link == "bin/ping"
    assert dict(ping.xattrs) == {"security.capability": CAP, "trusted.rune-test": b"value"}
    assert tree["etc/passwd"].link == "etc/passwd" == tree["etc/passwd-hard"].link
    assert tree["etc/passwd"].size == len(UPPER[3]["content"])
    assert tree["bin/sh"].target == "busybox" and tree["usr/bin"].target == "../bin"
    assert tree["run/fifo"].type == "fifo"
    assert tree["dev/null"][:2] == ("char", 0o666) and tree["dev/null"].rdev == (1, 3)
    assert tree["dev/zero"].rdev == (1, 5) and tree["dev/zero"].mode == 0o620
    assert tree[LONG].type == "file" and tree["ünicode/fïlé ✓"].size == 6


def test_umoci_unpack_layers(workdir):
    need("umoci")
    R.make_oci_image(workdir / "img", [LOWER, UPPER], tag="layers",
                     config={"User": "1000:1000", "WorkingDir": "/home/user"})
    rootfs = R.umoci_unpack(workdir / "img", "layers", workdir / "bundle")
    tree = R.tree_manifest(rootfs)
    _expect_layers(tree)
    cfg = json.loads((workdir / "bundle" / "config.json").read_text())
    assert cfg["process"]["cwd"] == "/home/user"
    assert cfg["process"]["user"]["uid"] == 1000

    # Same image through a registry and back with skopeo: umoci gives the identical tree.
    need("registry", "skopeo")
    with R.Registry("basic", tmp_parent=workdir) as reg:
        R.push(workdir / "img", "layers", reg, repo="layers/test")
        R.skopeo_pull(reg, "layers/test", "layers", workdir / "pulled")
    rootfs2 = R.umoci_unpack(workdir / "pulled", "layers", workdir / "bundle2")
    assert R.diff_trees(tree, R.tree_manifest(rootfs2)) == []


def test_tree_manifest_detects_differences(workdir):
    need("umoci")
    R.make_oci_image(workdir / "img", [LOWER], tag="a")
    a = R.tree_manifest(R.umoci_unpack(workdir / "img", "a", workdir / "a"))
    b_root = R.umoci_unpack(workdir / "img", "a", workdir / "b")
    assert R.diff_trees(a, R.tree_manifest(b_root)) == []
    os.chmod(b_root / "etc/passwd", 0o600)
    (b_root / "bin/ping-hard").unlink()
    (b_root / "bin/ping-hard").write_bytes(b"\x7fELF-ping")
    os.setxattr(b_root / "etc/shadow", "trusted.extra", b"1")
    diff = R.diff_trees(a, R.tree_manifest(b_root))
    assert len(diff) == 4, diff     # passwd mode, ping + ping-hard link group, shadow xattr


# --------------------------------------------------------------------------------------------
# Compression variants and multi-platform


@pytest.mark.parametrize("compression", ["zstd", "none"])
def test_other_compressions_layout(workdir, compression):
    need("skopeo", "zstd")
    info = R.make_oci_image(workdir / "img", SIMPLE + [[F("etc/more", "more\n")]],
                            compression=compression, tag="c")
    index = json.loads((workdir / "img" / "index.json").read_text())
    assert json.loads((workdir / "img" / "oci-layout").read_text()) == \
        {"imageLayoutVersion": "1.0.0"}
    assert index["manifests"][0]["annotations"][R.REF_NAME] == "c"
    manifest = json.loads(R._read_blob(workdir / "img", info["manifest_digest"]))
    assert [m["mediaType"] for m in manifest["layers"]] == [R.MT_LAYER[compression]] * 2
    for layer in info["layers"]:
        blob = R._read_blob(workdir / "img", layer["digest"])
        assert R.sha256_digest(blob) == layer["digest"]
        if compression == "zstd":
            assert blob[:4] == b"\x28\xb5\x2f\xfd"
            tar = subprocess.run(["zstd", "-d", "-c"], input=blob, capture_output=True,
                                 check=True).stdout
        else:
            tar = blob
        assert R.sha256_digest(tar) == layer["diff_id"]
    res = R.skopeo_inspect(f"oci:{workdir / 'img'}:c", check=True)
    assert json.loads(res.stdout)["Digest"] == info["manifest_digest"]
    # skopeo reads the layers too (copying recomputes and checks every digest). Without
    # --preserve-digests skopeo would gzip the uncompressed layers (new manifest digest).
    R.skopeo("copy", "--preserve-digests", f"oci:{workdir / 'img'}:c",
             f"oci:{workdir / 'copy'}:c", check=True)
    assert R._resolve_tag(workdir / "copy", "c")["digest"] == info["manifest_digest"]

    need("registry")
    with R.Registry("anonymous", tmp_parent=workdir) as reg:
        assert R.push(workdir / "img", "c", reg, repo="comp/img") == info["manifest_digest"]
        res = R.skopeo_inspect(f"docker://{reg.host}/comp/img:c", check=True)
        assert json.loads(res.stdout)["Layers"] == [x["digest"] for x in info["layers"]]


def test_gzip_layer_is_deterministic(workdir):
    a = R.make_oci_image(workdir / "a", [LOWER, UPPER])
    b = R.make_oci_image(workdir / "b", [LOWER, UPPER])
    assert a["manifest_digest"] == b["manifest_digest"]
    blob = R._read_blob(workdir / "a", a["layers"][0]["digest"])
    assert gzip.decompress(blob) == a["layers"][0]["tar"]


def test_multiplatform_index(reg, workdir):
    need("skopeo")
    info = R.make_multiplatform_image(workdir / "img", tag="multi")
    digest = R.push(workdir / "img", "multi", reg, repo="multi/arch")
    assert digest == info["index_digest"]
    body, ctype, dig = reg.client().get_manifest("multi/arch", "multi")
    assert ctype == R.MT_OCI_INDEX and dig == digest
    plats = [(m["platform"]["os"], m["platform"]["architecture"])
             for m in json.loads(body)["manifests"]]
    assert plats == [("linux", "amd64"), ("linux", "arm64")]

    for arch in ("amd64", "arm64"):
        res = R.skopeo_inspect(f"docker://{reg.host}/multi/arch:multi", creds=reg.creds,
                               extra=["--override-arch", arch, "--override-os", "linux"])
        assert res.returncode == 0, res.stderr
        out = json.loads(res.stdout)
        assert out["Architecture"] == arch
        # skopeo's "Digest" is the digest of the tag's top-level manifest (the index); the
        # instance chosen shows in its layers.
        assert out["Digest"] == info["index_digest"]
        assert out["Layers"] == [x["digest"] for x in info["images"][arch]["layers"]]

    R.skopeo_pull(reg, "multi/arch", "multi", workdir / "arm", extra=["--override-arch", "arm64"])
    desc = R._resolve_tag(workdir / "arm", "multi")
    assert desc["digest"] == info["images"]["arm64"]["manifest_digest"]
    if not R.missing_tools("umoci"):
        tree = R.tree_manifest(R.umoci_unpack(workdir / "arm", "multi", workdir / "b"))
        assert tree["platform"].sha256 == hashlib.sha256(b"linux/arm64\n").hexdigest()


def test_nested_index_refused_by_skopeo(workdir):
    """An index whose entry is an index: the registry takes it, skopeo inspect follows it, and
    skopeo copy (a pull) refuses it, with or without a platform on the entry. rune-image and
    the agent refuse it as skopeo copy does (test_pull_hostile.py)."""
    need("registry", "skopeo")
    with R.Registry("anonymous", tmp_parent=workdir) as reg:
        R.make_multiplatform_image(workdir / "img", tag="inner")
        for tag, plat in (("plat", {"os": "linux", "architecture": R.host_arch()}),
                          ("noplat", None)):
            nested = R.make_nested_index(workdir / "img", tag, "inner", plat)
            assert R.push(workdir / "img", tag, reg, repo="nest/img") == nested["index_digest"]
            body, ctype, _ = reg.client().get_manifest("nest/img", tag)
            entry = json.loads(body)["manifests"][0]
            assert ctype == R.MT_OCI_INDEX and entry["mediaType"] == R.MT_OCI_INDEX
            assert entry["digest"] == nested["entry_digest"]
            res = R.skopeo_inspect(f"docker://{reg.host}/nest/img:{tag}")
            assert res.returncode == 0, res.stderr
            res = R.skopeo_pull(reg, "nest/img", tag, workdir / f"out-{tag}", check=False)
            assert res.returncode != 0
            assert "Unexpectedly received a manifest list instead of a manifest for a single " \
                   "image" in res.stderr, res.stderr


def _raw_get(host, path, timeout):
    """A GET on a raw socket: (socket, status line and headers as a dict, first body bytes)."""
    hostname, port = host.rsplit(":", 1)
    sock = socket.create_connection((hostname, int(port)), timeout=timeout)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed in the headers: {data!r}"
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:])}
    return sock, lines[0], headers, body


def _recv_exactly(sock, have, n):
    while len(have) < n:
        chunk = sock.recv(n - len(have))
        assert chunk, f"closed after {len(have)} of {n} bytes"
        have += chunk
    return have


def test_hostile_registry(workdir):
    """HostileRegistry relays what it has no rule for byte for byte, and misbehaves exactly as
    told on the blobs it has one for: checked with urllib and raw sockets only."""
    need("registry")
    with R.Registry("anonymous", tmp_parent=workdir) as reg:
        info = R.make_oci_image(workdir / "img", [[F("big", os.urandom(4096))]], tag="t")
        R.push(workdir / "img", "t", reg, repo="h/img")
        layer, config = info["layers"][0], info["config_digest"]
        real_config = R._read_blob(workdir / "img", config)
        real_layer = R._read_blob(workdir / "img", layer["digest"])
        with R.HostileRegistry(reg.url) as h:
            # No rule: the registry's answers.
            client = R.RegistryClient(h.url)
            _, _, digest = client.get_manifest("h/img", "t")
            assert digest == info["manifest_digest"]
            assert client.get_blob("h/img", config) == real_config
            assert h.requests == {}

            # Other bytes, with their own length or a lying one.
            h.replace(config, b"{}")
            assert client.get_blob("h/img", config) == b"{}"
            h.replace(config, b"{}", length=100)
            sock, status, headers, body = _raw_get(h.host, f"/v2/h/img/blobs/{config}", 5)
            assert status.endswith(" 200 OK") and headers["content-length"] == "100"
            # The body may come in its own segments: read to the end, which the server makes.
            while chunk := sock.recv(65536):
                body += chunk
            assert body == b"{}"  # then the connection ends, short of the 100 announced
            sock.close()
            assert h.requests == {config: 2}

            # Trickle: the real bytes, 512 at a time every 0.1 s.
            h.trickle(layer["digest"], 0.1, chunk=512)
            start = time.monotonic()
            assert client.get_blob("h/img", layer["digest"]) == real_layer
            chunks = -(-len(real_layer) // 512)
            assert time.monotonic() - start >= 0.1 * (chunks - 1) * 0.9

            # Stall: the Content-Length (true, then a lie), 100 bytes, then nothing, until close.
            for length in (None, 2 * len(real_layer)):
                h.stall(layer["digest"], 100, length=length)
                sock, status, headers, body = _raw_get(h.host,
                                                       f"/v2/h/img/blobs/{layer['digest']}", 5)
                assert headers["content-length"] == str(length or len(real_layer))
                assert _recv_exactly(sock, body, 100) == real_layer[:100]
                sock.settimeout(1.0)
                with pytest.raises(socket.timeout):
                    sock.recv(1)
                sock.close()
            assert h.requests[layer["digest"]] == 3
            # A held connection is let go at close().
            sock, _, _, body = _raw_get(h.host, f"/v2/h/img/blobs/{layer['digest']}", 5)
            _recv_exactly(sock, body, 100)
        sock.settimeout(10)
        assert sock.recv(10) == b""
        sock.close()


# --------------------------------------------------------------------------------------------
# Lifecycle


def test_registry_stop_cleans_up(workdir):
    need("registry")
    with R.Registry("token", tmp_parent=workdir) as reg:
        pid, d, port = reg.proc.pid, reg.dir, reg.port
        realm = reg.token_server.realm
        assert d.is_dir() and pid_alive(pid)
    assert not pid_alive(pid)
    assert not d.exists()
    for url in (f"http://127.0.0.1:{port}/v2/", realm):
        with pytest.raises(urllib.error.URLError):
            urllib.request.urlopen(url, timeout=2)
