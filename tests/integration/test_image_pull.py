"""rune-image against a real registry on loopback: pulls in every auth mode, unpacked trees
identical to umoci's, and refusals that leave nothing in the store."""

import json
import os
import stat
import subprocess
import time
from pathlib import Path

import pytest

from conftest import BUSYBOX, RUNE_BIN, pid_alive, umount
import registry as R
from registry import D, F, OPQ, S, WH, relay_get
from test_registry_fixtures import CAP, LOWER, UPPER, need

IMAGE_BIN = os.environ.get("RUNE_IMAGE_BIN") or str(
    Path(RUNE_BIN).resolve().parents[1] / "rune-image" / "rune-image")

pytestmark = pytest.mark.skipif(not os.access(IMAGE_BIN, os.X_OK),
                                reason=f"rune-image not built ({IMAGE_BIN})")

SIMPLE = [[D("etc"), F("etc/hello", "hello\n"), S("etc/link", "hello")]]


class Images:
    def __init__(self, root):
        self.root = root

    def run(self, *args, timeout=120):
        p = subprocess.run([IMAGE_BIN, "--root", str(self.root), *map(str, args)],
                           capture_output=True, text=True, timeout=timeout,
                           stdin=subprocess.DEVNULL)
        return p

    def pull(self, reg, ref, *extra):
        creds = ["--creds", reg.creds] if reg.creds and "--creds" not in extra else []
        return self.run("pull", *creds, *extra, f"{reg.host}/{ref}")

    def records(self):
        return sorted((self.root / "images").glob("*.json")) if self.root.exists() else []

    def layers(self):
        d = self.root / "layers" / "sha256"
        return sorted(d.iterdir()) if d.exists() else []

    def staging(self):
        d = self.root / "tmp"
        return sorted(d.iterdir()) if d.exists() else []


@pytest.fixture
def images(workdir):
    return Images(workdir / "store")


@pytest.fixture(params=["anonymous", "basic", "token"])
def reg(request, workdir):
    need("registry")
    r = R.Registry(request.param, tmp_parent=workdir)
    r.start()
    pid = r.proc.pid
    yield r
    r.stop()
    assert not pid_alive(pid)


@pytest.fixture
def anon(workdir):
    need("registry")
    with R.Registry("anonymous", tmp_parent=workdir) as r:
        yield r


def test_pull_in_every_auth_mode(reg, images, workdir):
    info = R.make_oci_image(workdir / "img", SIMPLE, config={"Cmd": ["/bin/sh"]}, tag="v1")
    R.push(workdir / "img", "v1", reg, repo="lib/simple")
    res = images.pull(reg, "lib/simple:v1", "--json")
    assert res.returncode == 0, res.stderr
    rec = json.loads(res.stdout)
    assert rec["ref"] == f"{reg.host}/lib/simple:v1"
    assert rec["manifest"] == info["manifest_digest"]
    assert rec["config"] == info["config_digest"]
    assert [l["diff_id"] for l in rec["layers"]] == [l["diff_id"] for l in info["layers"]]
    listed = images.run("list")
    assert f"{reg.host}/lib/simple:v1" in listed.stdout
    inspected = json.loads(images.run("inspect", f"{reg.host}/lib/simple:v1").stdout)
    assert inspected == rec
    if reg.mode != "anonymous":
        # No credentials, or wrong ones: refused, and no image record appears.
        other = Images(workdir / "store2")
        for extra in ([], ["--creds", f"{reg.user}:pw-not-this-one"]):
            res = other.pull(reg, "lib/simple:v1", *extra) if extra else \
                other.run("pull", f"{reg.host}/lib/simple:v1")
            assert res.returncode == 1, res
            assert res.stderr.startswith(f"rune-image: pull {reg.host}/lib/simple:v1: "), res
            assert ("access denied" in res.stderr or "refused" in res.stderr
                    or "credentials" in res.stderr), res.stderr
            assert "pw-not-this-one" not in res.stderr  # the password is not echoed
            assert other.records() == []


def test_unpacked_tree_is_umocis(anon, images, workdir):
    need("umoci")
    R.make_oci_image(workdir / "img", [LOWER, UPPER], tag="layers",
                     config={"User": "1000:1000", "WorkingDir": "/home/user"})
    R.push(workdir / "img", "layers", anon, repo="layers/test")
    res = images.pull(anon, "layers/test:layers")
    assert res.returncode == 0, res.stderr
    assert images.run("unpack", f"{anon.host}/layers/test:layers",
                      workdir / "flat").returncode == 0
    ours = R.tree_manifest(workdir / "flat", include_root=False)
    theirs = R.tree_manifest(R.umoci_unpack(workdir / "img", "layers", workdir / "ref"),
                             include_root=False)
    assert R.diff_trees(ours, theirs) == []
    # Pulled again: every layer is already there.
    res = images.pull(anon, "layers/test:layers")
    assert res.returncode == 0 and res.stderr.count("already exists") == 2, res.stderr


def test_zstd_twin_unpacks_like_gzip(anon, images, workdir):
    need("umoci", "zstd")
    R.make_oci_image(workdir / "gz", [LOWER, UPPER], tag="t")
    R.make_oci_image(workdir / "zs", [LOWER, UPPER], tag="t", compression="zstd")
    R.push(workdir / "zs", "t", anon, repo="z/img")
    res = images.pull(anon, "z/img:t")
    assert res.returncode == 0, res.stderr
    assert images.run("unpack", f"{anon.host}/z/img:t", workdir / "flat").returncode == 0
    theirs = R.tree_manifest(R.umoci_unpack(workdir / "gz", "t", workdir / "ref"),
                             include_root=False)
    assert R.diff_trees(R.tree_manifest(workdir / "flat", include_root=False), theirs) == []


def test_platform_selection(anon, images, workdir):
    R.make_multiplatform_image(workdir / "mp", tag="multi")
    R.push(workdir / "mp", "multi", anon, repo="mp/img")
    for arch in ("amd64", "arm64"):
        store = Images(workdir / f"store-{arch}")
        res = store.pull(anon, "mp/img:multi", "--platform", f"linux/{arch}")
        assert res.returncode == 0, res.stderr
        assert store.run("unpack", f"{anon.host}/mp/img:multi", workdir / arch).returncode == 0
        assert (workdir / arch / "platform").read_text() == f"linux/{arch}\n"
    res = images.pull(anon, "mp/img:multi", "--platform", "linux/s390x")
    assert res.returncode == 1
    assert "no image for platform linux/s390x (the index has: linux/amd64, linux/arm64/v8)" \
        in res.stderr, res.stderr
    assert images.records() == []


def _blob_file(reg, digest):
    hexd = digest.split(":", 1)[1]
    return (reg.dir / "storage" / "docker" / "registry" / "v2" / "blobs" / "sha256" /
            hexd[:2] / hexd / "data")


def test_refusals_leave_nothing(anon, images, workdir):
    info = R.make_oci_image(workdir / "img", SIMPLE + [[F("etc/second", "2\n")]], tag="t")
    R.push(workdir / "img", "t", anon, repo="bad/img")

    res = images.pull(anon, "bad/img:nope")
    assert res.returncode == 1
    assert res.stderr == f"rune-image: pull {anon.host}/bad/img:nope: manifest nope: not " \
                         f"found in {anon.host}/bad/img\n", res.stderr

    # The registry serves other bytes than the digest promises for the second layer.
    second = info["layers"][1]
    blob = _blob_file(anon, second["digest"])
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0xFF
    blob.write_bytes(bytes(data))
    res = images.pull(anon, "bad/img:t")
    assert res.returncode == 1
    assert f"blob {second['digest']}: digest mismatch" in res.stderr, res.stderr
    assert images.records() == []
    assert images.staging() == []
    # The good first layer was verified completely and may stay cached; the bad one is absent.
    names = [p.name for p in images.layers()]
    assert second["diff_id"].split(":")[1] not in names

    res = images.run("pull", "Not/A Reference")
    assert res.returncode == 1
    assert "invalid reference" in res.stderr


def test_layer_escaping_its_root_is_refused(anon, images, workdir):
    canary = workdir / "canary"
    canary.mkdir()
    evil = [[F("../../../../../../../../" + str(canary.relative_to("/")) + "/owned", "x")]]
    R.make_oci_image(workdir / "img", evil, tag="evil")
    R.push(workdir / "img", "evil", anon, repo="evil/img")
    res = images.pull(anon, "evil/img:evil")
    assert res.returncode == 1
    assert "escapes the layer root" in res.stderr, res.stderr
    assert list(canary.iterdir()) == []
    assert images.records() == [] and images.layers() == [] and images.staging() == []


def test_remove_and_gc(anon, images, workdir):
    R.make_oci_image(workdir / "img", SIMPLE, tag="t")
    R.push(workdir / "img", "t", anon, repo="gc/img")
    assert images.pull(anon, "gc/img:t").returncode == 0
    assert len(images.layers()) == 1
    res = images.run("remove", f"{anon.host}/gc/img:t")
    assert res.returncode == 0 and images.records() == []
    res = images.run("gc")
    assert res.returncode == 0 and res.stdout.startswith("removed 1 layers"), res.stdout
    assert images.layers() == []
    res = images.run("remove", f"{anon.host}/gc/img:t")
    assert res.returncode == 1 and "not in the store" in res.stderr


def busybox_layers():
    busybox = Path(BUSYBOX).read_bytes()
    return [[D("bin"), F("bin/busybox", busybox, mode=0o755), S("bin/sh", "busybox"),
             S("bin/id", "busybox"), S("bin/cat", "busybox"), S("bin/echo", "busybox"),
             D("etc"), F("etc/passwd", "root:x:0:0::/root:/bin/sh\n"
                                       "app:x:1234:1234::/home/app:/bin/sh\n"),
             F("etc/group", "root:x:0:\napp:x:1234:\nextra:x:777:app\n"),
             D("proc"), D("sys"), D("dev"), D("tmp", mode=0o1777)],
            [F("etc/motd", "from the upper layer\n")]]


@pytest.mark.parametrize("copy", [False, True], ids=["overlay", "copy"])
def test_bundle_runs_with_rune(anon, images, workdir, copy):
    """The end of the pipeline: a bundle from the image config that rune runs."""
    R.make_oci_image(workdir / "img", busybox_layers(), tag="app", config={
        "Entrypoint": ["/bin/sh", "-c"],
        "Cmd": ["echo \"$GREETING $(id -u):$(id -g) $(id -G) $(pwd)\"; cat /etc/motd"],
        "Env": ["GREETING=hello", "PATH=/bin"], "WorkingDir": "/tmp", "User": "app",
        "Labels": {"org.example.label": "yes"}})
    R.push(workdir / "img", "app", anon, repo="app/img")
    assert images.pull(anon, "app/img:app").returncode == 0
    bundle = workdir / "bundle"
    args = ["bundle", *(["--copy"] if copy else []), f"{anon.host}/app/img:app", bundle]
    res = images.run(*args)
    assert res.returncode == 0, res.stderr
    try:
        # The bundle holds the image's tree: private, as an unpacked DIR is.
        assert stat.S_IMODE(bundle.stat().st_mode) == 0o700
        res = as_nobody("stat", bundle / "rootfs" / "bin")
        assert res.returncode != 0 and "Permission denied" in res.stderr, res
        cfg = json.loads((bundle / "config.json").read_text())
        assert cfg["process"]["user"] == {"uid": 1234, "gid": 1234, "additionalGids": [777]}
        assert cfg["annotations"] == {"org.example.label": "yes"}
        run = subprocess.run([RUNE_BIN, "--root", str(workdir / "state"), "run", "--bundle",
                              str(bundle), "imgtest"], capture_output=True, text=True,
                             timeout=60, stdin=subprocess.DEVNULL)
        assert run.returncode == 0, run.stderr
        assert run.stdout == "hello 1234:1234 1234 777 /tmp\nfrom the upper layer\n", run.stdout
        if not copy:
            # The container's writes land in its own layer, never in the shared ones.
            (bundle / "rootfs" / "etc" / "written").write_text("x")
            assert all(not (layer / "etc" / "written").exists() for layer in images.layers())
            assert (bundle / ".layer" / "upper" / "etc" / "written").exists()
    finally:
        if not copy:
            subprocess.run(["umount", str(bundle / "rootfs")], check=False)


def test_mount_and_unmount(anon, images, workdir):
    R.make_oci_image(workdir / "img", [LOWER, UPPER], tag="m")
    R.push(workdir / "img", "m", anon, repo="m/img")
    assert images.pull(anon, "m/img:m").returncode == 0
    target = workdir / "mnt"
    res = images.run("mount", f"{anon.host}/m/img:m", target)
    assert res.returncode == 0, res.stderr
    try:
        # What overlayfs shows is the flattened image.
        assert images.run("unpack", f"{anon.host}/m/img:m", workdir / "flat").returncode == 0
        assert R.diff_trees(R.tree_manifest(target, include_root=False),
                            R.tree_manifest(workdir / "flat", include_root=False)) == []
        (target / "new-file").write_text("mine")
    finally:
        res = images.run("unmount", target)
    assert res.returncode == 0, res.stderr
    assert not (target / "new-file").exists()
    assert not list((images.root / "containers").iterdir())


class BlobProxy:
    """An HTTP front for a registry that misbehaves on blob downloads: "drop" cuts the first
    transfer of every blob half-way (the client must resume with a Range request), "redirect"
    sends blob downloads to the registry's own address (as registries do with object stores),
    "stall" sends half of every blob over 1 MiB and then holds the connection until release
    is set (stalled is set then): a pull caught in the middle of a layer."""

    def __init__(self, upstream, mode, manifest=None):
        import http.server
        import socketserver
        import threading

        proxy = self
        self.stalled, self.release = threading.Event(), threading.Event()
        self.mode, self.upstream = mode, upstream
        self.ranges, self.dropped, self.redirected = [], set(), 0
        self.manifest = manifest  # (content type, body) served for every manifest request

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                blob = "/blobs/" in self.path
                if "/manifests/" in self.path and proxy.manifest:
                    ctype, body = proxy.manifest
                    self.send_response(200)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                if blob and proxy.mode == "redirect":
                    proxy.redirected += 1
                    self.send_response(307)
                    self.send_header("Location", proxy.upstream + self.path)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if "Range" in self.headers:
                    proxy.ranges.append(self.headers["Range"])
                status, body = relay_get(self, proxy.upstream)
                if proxy.mode == "stall" and blob and status == 200 and len(body) > (1 << 20):
                    self.wfile.write(body[:len(body) // 2])
                    self.wfile.flush()
                    proxy.stalled.set()
                    proxy.release.wait(120)
                    self.close_connection = True
                    return
                cut = (blob and status in (200, 206) and len(body) > 64 and
                       (proxy.mode == "truncate" or
                        (proxy.mode == "drop" and self.path not in proxy.dropped)))
                if cut:
                    proxy.dropped.add(self.path)
                    self.wfile.write(body[:len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                self.wfile.write(body)

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@pytest.mark.parametrize("mode", ["drop", "redirect"])
def test_dropped_and_redirected_blob_downloads(anon, images, workdir, mode):
    R.make_oci_image(workdir / "img", [LOWER, UPPER], tag="t")
    R.push(workdir / "img", "t", anon, repo="p/img")
    proxy = BlobProxy(anon.url, mode)
    try:
        res = images.run("pull", f"{proxy.host}/p/img:t")
        assert res.returncode == 0, res.stderr
        if mode == "drop":
            # Every blob was cut once; the layers (streamed) resumed where they broke rather
            # than starting over (the small config is simply fetched again).
            assert len(proxy.dropped) == 3 and len(proxy.ranges) >= 2, proxy.ranges
            assert all(r.startswith("bytes=") and not r.startswith("bytes=0-")
                       for r in proxy.ranges), proxy.ranges
        else:
            assert proxy.redirected >= 3  # config + two layers
    finally:
        proxy.close()
    assert images.run("unpack", f"{proxy.host}/p/img:t", workdir / "flat").returncode == 0
    theirs = R.tree_manifest(R.umoci_unpack(workdir / "img", "t", workdir / "ref"),
                             include_root=False)
    assert R.diff_trees(R.tree_manifest(workdir / "flat", include_root=False), theirs) == []


MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


@pytest.mark.parametrize("case", ["not-json", "huge", "artifact", "schema1"])
def test_bad_manifests(anon, images, workdir, case):
    bodies = {
        "not-json": (MT_MANIFEST, b"<html>not a manifest</html>", "not valid JSON"),
        "huge": (MT_MANIFEST, b" " * (5 << 20), "larger than 4194304 bytes"),
        "artifact": ("application/vnd.oci.artifact.manifest.v1+json",
                     b'{"schemaVersion": 2, "mediaType": '
                     b'"application/vnd.oci.artifact.manifest.v1+json"}',
                     'unsupported media type "application/vnd.oci.artifact.manifest.v1+json"'),
        "schema1": ("application/vnd.docker.distribution.manifest.v1+prettyjws",
                    b'{"schemaVersion": 1, "fsLayers": []}', "schemaVersion: 1 is not supported"),
    }
    ctype, body, want = bodies[case]
    proxy = BlobProxy(anon.url, "pass", manifest=(ctype, body))
    try:
        res = images.run("pull", f"{proxy.host}/x/img:t")
    finally:
        proxy.close()
    assert res.returncode == 1
    assert res.stderr.startswith(f"rune-image: pull {proxy.host}/x/img:t: "), res.stderr
    assert want in res.stderr, res.stderr
    assert res.stderr.count("\n") == 1  # one line
    assert images.records() == [] and images.layers() == [] and images.staging() == []


@pytest.mark.parametrize("case", ["diff-id", "count"])
def test_config_that_lies_about_layers(anon, images, workdir, case):
    bogus = "sha256:" + "0" * 64
    ids = [bogus] if case == "diff-id" else [bogus, bogus]
    info = R.make_oci_image(workdir / "img", SIMPLE, tag="t",
                            config={"rootfs": {"type": "layers", "diff_ids": ids}})
    R.push(workdir / "img", "t", anon, repo="lie/img")
    res = images.pull(anon, "lie/img:t")
    assert res.returncode == 1
    if case == "diff-id":
        assert f"layer {info['layers'][0]['digest']}: diff_id: digest mismatch" in res.stderr
    else:
        assert "2 diff_ids for 1 layers" in res.stderr, res.stderr
    assert images.records() == [] and images.layers() == [] and images.staging() == []


def test_disk_full(anon, images, workdir):
    big = os.urandom(1 << 20)
    R.make_oci_image(workdir / "img", [[F("big", big)]], tag="t")
    R.push(workdir / "img", "t", anon, repo="full/img")
    images.root.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(images.root)],
                   check=True)
    try:
        res = images.pull(anon, "full/img:t")
        assert res.returncode == 1
        assert "No space left on device" in res.stderr, res.stderr
        assert images.records() == [] and images.layers() == [] and images.staging() == []
    finally:
        subprocess.run(["umount", str(images.root)], check=False)


def test_registry_down(images):
    port = R.free_port()
    res = images.run("pull", f"127.0.0.1:{port}/down/img:t")
    assert res.returncode == 1
    assert res.stderr == (f"rune-image: pull 127.0.0.1:{port}/down/img:t: manifest t: registry "
                          f"127.0.0.1:{port}: Couldn't connect to server\n"), res.stderr
    assert images.records() == []


@pytest.mark.parametrize("mode", ["basic", "token"])
def test_credentials_from_auth_file(images, workdir, mode):
    import base64
    need("registry")
    R.make_oci_image(workdir / "img", SIMPLE, tag="t")
    with R.Registry(mode, tmp_parent=workdir) as reg:
        R.push(workdir / "img", "t", reg, repo="auth/img")
        auth = workdir / "auth.json"
        token = base64.b64encode(f"{reg.user}:{reg.password}".encode()).decode()
        auth.write_text(json.dumps({"auths": {reg.host: {"auth": token}}}))
        res = images.run("pull", "--authfile", auth, f"{reg.host}/auth/img:t")
        assert res.returncode == 0, res.stderr
        # The environment variable containers tools use works the same way.
        other = Images(workdir / "store2")
        env_res = subprocess.run([IMAGE_BIN, "--root", str(other.root), "pull",
                                  f"{reg.host}/auth/img:t"], capture_output=True, text=True,
                                 env={**os.environ, "REGISTRY_AUTH_FILE": str(auth)},
                                 timeout=120)
        assert env_res.returncode == 0, env_res.stderr


def test_same_layer_order_cases_match_umoci(anon, images, workdir):
    """A whiteout only hides lower layers (image-spec): an entry re-created in the same layer
    stays whether it comes before or after the whiteout; files and directories replace each
    other."""
    need("umoci")
    lower = [D("a"), F("a/x", "1"), F("b", "2"), D("c"), F("c/y", "3"), F("d", "4")]
    upper = [F("a/x", "new"), WH("a/x"),          # re-created, then whited out: stays
             WH("b"), F("b", "back"),             # whited out, then re-created: stays
             F("c", "now a file"),                # a directory replaced by a file
             D("d"), F("d/z", "5")]               # a file replaced by a directory
    R.make_oci_image(workdir / "img", [lower, upper], tag="o")
    R.push(workdir / "img", "o", anon, repo="order/img")
    assert images.pull(anon, "order/img:o").returncode == 0
    assert images.run("unpack", f"{anon.host}/order/img:o", workdir / "flat").returncode == 0
    ours = R.tree_manifest(workdir / "flat", include_root=False)
    theirs = R.tree_manifest(R.umoci_unpack(workdir / "img", "o", workdir / "ref"),
                             include_root=False)
    assert R.diff_trees(ours, theirs) == []
    assert (workdir / "flat" / "a" / "x").read_text() == "new"
    assert (workdir / "flat" / "b").read_text() == "back"
    assert ours["c"].type == "file" and ours["d/z"].type == "file"


def test_tls_registry(images, workdir):
    """HTTPS: the registry's own CA is needed (--tls-ca), there is no silent fallback to plain
    HTTP for a registry that speaks TLS, and --insecure-registry skips the certificate check."""
    need("registry")
    R.make_oci_image(workdir / "img", SIMPLE, tag="t")
    with R.Registry("basic", tmp_parent=workdir, tls=True) as reg:
        R.push(workdir / "img", "t", reg, repo="tls/img")
        ref = f"{reg.host}/tls/img:t"
        res = images.run("pull", "--creds", reg.creds, ref)
        assert res.returncode == 1
        assert "certificate" in res.stderr.lower(), res.stderr
        assert images.records() == []
        res = images.run("pull", "--creds", reg.creds, "--tls-ca", reg.cert, ref)
        assert res.returncode == 0, res.stderr
        other = Images(workdir / "store2")
        res = other.run("pull", "--creds", reg.creds, "--insecure-registry", reg.host, ref)
        assert res.returncode == 0, res.stderr


def test_truncated_blob(anon, images, workdir):
    """A registry that never delivers a whole layer: retried, then refused, nothing kept."""
    R.make_oci_image(workdir / "img", [[F("big", os.urandom(200000))]], tag="t")
    R.push(workdir / "img", "t", anon, repo="trunc/img")
    proxy = BlobProxy(anon.url, "truncate")
    try:
        res = images.run("pull", f"{proxy.host}/trunc/img:t")
    finally:
        proxy.close()
    assert res.returncode == 1
    assert res.stderr.startswith(f"rune-image: pull {proxy.host}/trunc/img:t: "), res.stderr
    assert "blob sha256:" in res.stderr, res.stderr
    assert images.records() == [] and images.layers() == [] and images.staging() == []


@pytest.mark.parametrize("case", ["not-json", "huge"])
def test_bad_config(anon, images, workdir, case):
    """The image config is fetched and checked before any layer: a config that is not JSON, or
    one too big, is refused with nothing stored."""
    layout = R.Layout(workdir / "img")
    layer = R.make_layer_tar([F("x", "1")])
    ldesc = layout.blob(layer, R.MT_LAYER["none"])
    body = b"this is not json" if case == "not-json" else b" " * (9 << 20)
    cdesc = layout.blob(body, R.MT_OCI_CONFIG)
    manifest = {"schemaVersion": 2, "mediaType": R.MT_OCI_MANIFEST, "config": cdesc,
                "layers": [ldesc]}
    mdesc = layout.blob(R._canonical(manifest), R.MT_OCI_MANIFEST)
    layout.tag(mdesc, "t")
    R.push(workdir / "img", "t", anon, repo="cfg/img")
    res = images.pull(anon, "cfg/img:t")
    assert res.returncode == 1
    want = "not valid JSON" if case == "not-json" else "more than 8388608"
    assert want in res.stderr and res.stderr.count("\n") == 1, res.stderr
    assert images.records() == [] and images.layers() == [] and images.staging() == []


# --------------------------------------------------------------------------------------------
# Whiteouts in every tar order

WH_LOWER = [D("a"), F("a/lower", "L"), D("a/sub"), F("a/sub/deep", "L2"), F("f", "lower f"),
            D("n"), D("n/m"), F("n/m/lower", "L3"), F("n/keep", "K")]
# A whiteout hides only what lower layers have (image-spec), wherever it is in the tar: before
# or after the layer's own entries of that name; plain or opaque; for files and directories;
# for directories the layer makes explicitly or only as the parent of an entry; nested.
WH_ORDERS = {
    "dir, then its whiteout": [D("a"), F("a/new", "N"), WH("a")],
    "whiteout, then dir": [WH("a"), D("a"), F("a/new", "N")],
    "implicit dir, then whiteout": [F("a/new", "N"), WH("a")],
    "whiteout, then implicit dir": [WH("a"), F("a/new", "N")],
    "entries, dir entry, whiteout": [F("a/new", "N"), D("a", mode=0o700), WH("a")],
    "whiteout, entries, dir entry": [WH("a"), F("a/new", "N"), D("a", mode=0o700)],
    "dir, then opaque": [D("a"), F("a/new", "N"), OPQ("a")],
    "implicit dir, then opaque": [F("a/new", "N"), OPQ("a")],
    "opaque, then entries": [OPQ("a"), F("a/new", "N")],
    "opaque, dir entry, entries": [OPQ("a"), D("a"), F("a/new", "N")],
    "whiteout and opaque": [F("a/new", "N"), OPQ("a"), WH("a")],
    "file, then its whiteout": [F("f", "upper"), WH("f")],
    "whiteout, then file": [WH("f"), F("f", "upper")],
    "file for dir, whiteout after": [F("a", "file"), WH("a")],
    "dir for file, whiteout before": [WH("f"), D("f"), F("f/x", "X")],
    "nested: dir then its whiteout": [D("n"), D("n/m"), F("n/m/new", "N"), WH("n/m")],
    "nested: implicit, whiteout after": [F("n/m/new", "N"), WH("n/m")],
    "nested: parent whited out after": [F("n/m/new", "N"), WH("n")],
    "nested: opaque after": [F("n/m/new", "N"), OPQ("n/m")],
    "nested: parent opaque after": [F("n/m/new", "N"), OPQ("n")],
    "nested: whiteouts inside and of dir": [D("a"), WH("a/sub"), F("a/sub/x", "X"), WH("a")],
    "nested: whiteout below whited out": [WH("a"), WH("a/sub"), F("a/sub/y", "Y")],
    "nested: deep entry, two whiteouts": [F("a/sub/z/new", "N"), WH("a/sub"), WH("a")],
    "root opaque after entries": [F("new", "N"), D("a"), F("a/x", "X"), OPQ(".")],
    # Whiteouts are not entries: a directory the layer has only for them goes whole.
    "whiteout below, then dir's": [WH("n/m"), WH("n")],
    "dir's whiteout, then below": [WH("n"), WH("n/m")],
    "whiteout below, entry, dir's": [WH("n/m"), F("n/z", "Z"), WH("n")],
    "whiteout, then opaque": [WH("n"), OPQ("n")],
    "opaque, then whiteout": [OPQ("n"), WH("n")],
    "opaque, whiteout below, entry": [OPQ("n"), WH("n/m"), F("n/z", "Z")],
    "whiteout below, then opaque": [WH("n/m"), OPQ("n")],
    "whiteout below a file": [F("f", "F"), WH("f/x")],
}
# overlayfs ignores the opaque mark of a lower layer's root: only the flattened copy hides.
ROOT_OPAQUE = {"root opaque after entries"}


def test_whiteout_orders_match_umoci(anon, images, workdir):
    """Every order of whiteouts and entries: `rune-image unpack` (flattened from the
    overlay-format store) and the overlayfs mount of the store's layers give umoci's tree
    (names, types, contents, modes, owners, xattrs), in which the lower layers' content under a
    whited out or opaque name is gone and the layer's own entries are kept."""
    need("umoci")
    wrong = {}
    for i, (case, upper) in enumerate(WH_ORDERS.items()):
        tag = f"o{i}"
        R.make_oci_image(workdir / "img", [WH_LOWER, upper], tag=tag)
        R.push(workdir / "img", tag, anon, repo="wh/img")
        ref = f"{anon.host}/wh/img:{tag}"
        res = images.pull(anon, f"wh/img:{tag}")
        assert res.returncode == 0, (case, res.stderr)
        flat, mnt = workdir / f"flat{i}", workdir / f"mnt{i}"
        res = images.run("unpack", ref, flat)
        assert res.returncode == 0, (case, res.stderr)
        theirs = R.tree_manifest(R.umoci_unpack(workdir / "img", tag, workdir / f"ref{i}"),
                                 include_root=False)
        diff = R.diff_trees(R.tree_manifest(flat, include_root=False), theirs)
        if diff:
            wrong[f"{case}: unpack"] = diff
        if case in ROOT_OPAQUE:
            continue
        res = images.run("mount", ref, mnt)
        assert res.returncode == 0, (case, res.stderr)
        try:
            diff = R.diff_trees(R.tree_manifest(mnt, include_root=False), theirs)
        finally:
            assert images.run("unmount", mnt).returncode == 0
        if diff:
            wrong[f"{case}: overlay mount"] = diff
    assert wrong == {}


# --------------------------------------------------------------------------------------------
# What an unpacked image exposes

NOBODY = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"]


def as_nobody(*cmd):
    return subprocess.run([*NOBODY, *map(str, cmd)], capture_output=True, text=True, timeout=30)


def test_unpacked_images_are_private(anon, images, workdir):
    """An image's setuid-root binaries, file capabilities and world-writable devices are out
    of reach of other local users: `rune-image unpack DIR` makes DIR 0700 (an existing empty
    DIR too, as umoci does with its bundle), the store keeps layers, staging and mounts'
    writable layers below 0700 directories; a DIR that is not empty is refused as it is."""
    R.make_oci_image(workdir / "img", [LOWER], tag="t")
    R.push(workdir / "img", "t", anon, repo="priv/img")
    ref = f"{anon.host}/priv/img:t"
    assert images.pull(anon, "priv/img:t").returncode == 0
    made, existing = workdir / "made", workdir / "existing"
    existing.mkdir(mode=0o755)
    existing.chmod(0o755)
    for target in (made, existing):
        res = images.run("unpack", ref, target)
        assert res.returncode == 0, res.stderr
        assert stat.S_IMODE(target.stat().st_mode) == 0o700
        # The image's tree is intact (root sees it) ...
        ping = target / "bin" / "ping"
        assert stat.S_IMODE(ping.stat().st_mode) == 0o4755 and ping.stat().st_uid == 0
        assert os.getxattr(ping, "security.capability") == CAP
        assert stat.S_IMODE((target / "dev" / "null").lstat().st_mode) == 0o666
        # ... and nobody else reaches any of it.
        for path in (ping, target / "dev" / "null", target / "bin"):
            res = as_nobody("stat", path)
            assert res.returncode != 0 and "Permission denied" in res.stderr, res
    for layer in images.layers():
        res = as_nobody("stat", layer / "bin" / "ping")
        assert res.returncode != 0 and "Permission denied" in res.stderr, res
    for d in ("", "layers", "layers/sha256", "tmp", "containers"):
        assert stat.S_IMODE((images.root / d).stat().st_mode) == 0o700, d

    # A DIR that holds something: refused, one line, left as it was.
    full = workdir / "full"
    full.mkdir()
    full.chmod(0o755)
    (full / "mine").write_text("keep")
    res = images.run("unpack", ref, full)
    assert res.returncode == 1
    assert res.stderr == f"rune-image: unpack {ref}: flatten: {full} is not empty\n", res.stderr
    assert [p.name for p in full.iterdir()] == ["mine"]
    assert (full / "mine").read_text() == "keep"
    assert stat.S_IMODE(full.stat().st_mode) == 0o755


# --------------------------------------------------------------------------------------------
# Sparse files

TIB = 1 << 40


def sparse_tar(workdir, fmt):
    """A layer tar written by GNU tar --sparse (fmt posix: pax 1.0; gnu: old GNU headers)
    holding big, a 1 TiB file with data at its start, middle and end."""
    src = workdir / f"sparse-src-{fmt}"
    src.mkdir()
    with open(src / "big", "wb") as f:
        f.truncate(TIB)
        for off, data in ((0, b"HEAD"), (TIB // 2 + 12345, b"MIDDLE"), (TIB - 4, b"TAIL")):
            f.seek(off)
            f.write(data)
    out = workdir / f"sparse-{fmt}.tar"
    subprocess.run(["tar", "--sparse", f"--format={fmt}", "-C", src, "-cf", out, "big"],
                   check=True, timeout=60)
    os.unlink(src / "big")
    return out.read_bytes()


def tmpfs(path, opts):
    path.mkdir(exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path)], check=True)


def used_kib(path):
    st = os.statvfs(path)
    return (st.f_blocks - st.f_bfree) * st.f_frsize // 1024


@pytest.mark.parametrize("fmt", ["posix", "gnu"])
def test_sparse_file_stays_sparse(anon, workdir, fmt):
    """A small layer declaring a 1 TiB sparse file: pulled and unpacked on a 64 MiB tmpfs (the
    test cannot use more), it keeps its holes in the store and in the flattened copy, with the
    data at the right offsets."""
    layer = sparse_tar(workdir, fmt)
    assert len(layer) < 64 << 10
    R.make_oci_image(workdir / "img", [layer], tag="t")
    R.push(workdir / "img", "t", anon, repo="sparse/img")
    disk = workdir / "disk"
    tmpfs(disk, "size=64m")
    try:
        images = Images(disk / "store")
        t0 = time.monotonic()
        res = images.pull(anon, "sparse/img:t")
        assert res.returncode == 0, res.stderr
        t1 = time.monotonic()
        res = images.run("unpack", f"{anon.host}/sparse/img:t", disk / "flat", timeout=300)
        t2 = time.monotonic()
        assert res.returncode == 0, res.stderr
        used = used_kib(disk)
        print(f"1 TiB sparse ({fmt}): pull {t1 - t0:.2f} s, unpack {t2 - t1:.2f} s, "
              f"tmpfs used {used} KiB")
        for big in (images.layers()[0] / "big", disk / "flat" / "big"):
            st = big.stat()
            assert st.st_size == TIB
            assert st.st_blocks * 512 <= 1 << 20, (big, st.st_blocks)
            with open(big, "rb") as f:
                for off, data in ((0, b"HEAD"), (TIB // 2 + 12345, b"MIDDLE"),
                                  (TIB - 4, b"TAIL"), (4096, b"\0" * 4096),
                                  (TIB // 2, b"\0" * 12345)):
                    f.seek(off)
                    assert f.read(len(data)) == data, (big, off)
                # The data is where the file says it is, and nowhere else.
                assert os.lseek(f.fileno(), 0, os.SEEK_DATA) == 0
                assert os.lseek(f.fileno(), 4096, os.SEEK_DATA) // 4096 == \
                    (TIB // 2 + 12345) // 4096
        assert used <= 4 << 10
    finally:
        umount(disk)


# --------------------------------------------------------------------------------------------
# Deep trees

DEPTH = 1000


def deep_layer():
    return [F("d/" * DEPTH + "bottom", "deep\n")]


def rm_deep(*paths):
    """Python's shutil.rmtree recurses (and stops near 1000 levels): rm -rf does not."""
    for p in paths:
        subprocess.run(["rm", "-rf", "--one-file-system", str(p)], check=False, timeout=60)


def bottom_of(root):
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(DEPTH):
            nxt = os.open("d", os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = nxt
        with open(os.open("bottom", os.O_RDONLY, dir_fd=fd), "rb", closefd=True) as f:
            return f.read()
    finally:
        os.close(fd)


def test_deep_tree_unpacked_and_collected(anon, images, workdir):
    """A layer 1000 directories deep: pulled, unpacked whole, and once the image is removed,
    collected by gc with nothing left in the store."""
    R.make_oci_image(workdir / "img", [deep_layer()], tag="t")
    R.push(workdir / "img", "t", anon, repo="deep/img")
    ref = f"{anon.host}/deep/img:t"
    flat = workdir / "flat"
    try:
        res = images.pull(anon, "deep/img:t")
        assert res.returncode == 0, res.stderr
        assert bottom_of(images.layers()[0]) == b"deep\n"
        res = images.run("unpack", ref, flat)
        assert res.returncode == 0, res.stderr
        assert bottom_of(flat) == b"deep\n"
        assert images.run("remove", ref).returncode == 0
        res = images.run("gc")
        assert res.returncode == 0, res.stderr
        assert res.stdout.startswith("removed 1 layers"), res.stdout
        assert images.layers() == [] and images.staging() == [] and images.records() == []
    finally:
        rm_deep(flat, images.root)


def test_deep_tree_failures_leave_nothing(anon, images, workdir):
    """A deep tree that cannot be written whole (a filesystem out of inodes past level 256):
    the pull fails leaving no staging, record or layer; the unpack fails leaving no DIR; each
    says why in one line and exits 1."""
    R.make_oci_image(workdir / "img", [deep_layer()], tag="t")
    R.push(workdir / "img", "t", anon, repo="deep/img")
    ref = f"{anon.host}/deep/img:t"
    small = workdir / "small"
    tmpfs(small, "size=16m,nr_inodes=600")
    try:
        other = Images(small / "store")
        res = other.pull(anon, "deep/img:t", "-q")
        assert res.returncode == 1
        assert res.stderr.startswith(f"rune-image: pull {ref}: ") and \
            res.stderr.count("\n") == 1, res.stderr
        assert "No space left on device" in res.stderr, res.stderr
        assert other.staging() == [] and other.layers() == [] and other.records() == []
        rm_deep(other.root)

        assert images.pull(anon, "deep/img:t").returncode == 0
        flat = small / "flat"
        res = images.run("unpack", ref, flat)
        assert res.returncode == 1
        assert res.stderr.startswith(f"rune-image: unpack {ref}: flatten: ") and \
            res.stderr.count("\n") == 1, res.stderr
        assert "No space left on device" in res.stderr, res.stderr
        assert not flat.exists() and list(small.iterdir()) == []
        assert images.staging() == [] and len(images.layers()) == 1
    finally:
        rm_deep(*small.iterdir())
        umount(small)
        rm_deep(images.root)


# --------------------------------------------------------------------------------------------
# gc and records it cannot read


def test_gc_refuses_unreadable_record(anon, images, workdir):
    """A record that does not parse could be using any layer: gc names it, exits 1 and removes
    nothing; with the record gone, gc collects what only it used."""
    R.make_oci_image(workdir / "img", SIMPLE, tag="a")
    R.make_oci_image(workdir / "img", [[F("only-b", "b")]], tag="b")
    R.push(workdir / "img", "a", anon, repo="gc/img")
    R.push(workdir / "img", "b", anon, repo="gc/img")
    assert images.pull(anon, "gc/img:a").returncode == 0
    assert images.pull(anon, "gc/img:b").returncode == 0
    rec_b = json.loads(images.run("inspect", f"{anon.host}/gc/img:b").stdout)
    bad = next(p for p in images.records() if json.loads(p.read_text())["ref"] == rec_b["ref"])
    bad.write_text('{"ref": "' + rec_b["ref"] + '", "layers": [')
    before = sorted(p.name for p in images.layers())
    blobs = sorted(p.name for p in (images.root / "blobs" / "sha256").iterdir())
    res = images.run("gc")
    assert res.returncode == 1
    assert res.stdout == ""
    assert res.stderr.startswith(f"rune-image: image store: image record {bad}: "), res.stderr
    assert "garbage collection refused" in res.stderr and res.stderr.count("\n") == 1, \
        res.stderr
    assert sorted(p.name for p in images.layers()) == before and len(before) == 2
    assert sorted(p.name for p in (images.root / "blobs" / "sha256").iterdir()) == blobs
    assert images.staging() == []
    bad.unlink()
    res = images.run("gc")
    assert res.returncode == 0 and res.stdout.startswith("removed 1 layers"), res
    assert [p.name for p in images.layers()] != before and len(images.layers()) == 1


@pytest.mark.parametrize("command,synopsis,nargs", [
    ("list", "[--json]", 0), ("inspect", "REFERENCE", 1), ("remove", "REFERENCE", 1),
    ("gc", "", 0), ("fsck", "", 0), ("unpack", "REFERENCE DIR", 2),
    ("mount", "REFERENCE DIR", 2), ("unmount", "DIR", 1),
    ("bundle", "[--copy] REFERENCE DIR", 2)])
def test_store_command_usage(images, workdir, command, synopsis, nargs):
    """--help, an unknown option or a wrong count of arguments never runs the command: not
    even the store is made (gc --help used to collect garbage, inspect --help looked for an
    image named --help)."""
    usage = f"usage: {command}{' ' if synopsis else ''}{synopsis})"
    args = [f"{workdir}/a{i}" for i in range(nargs)]
    for helpflag in ("--help", "-h"):
        res = images.run(command, *args, helpflag)
        assert res.returncode == 0 and res.stderr == "", res
        first = res.stdout.splitlines()[0]
        assert first.startswith("Usage: rune-image") and first.endswith(
            f" {command}{' ' if synopsis else ''}{synopsis}"), res.stdout
    cases = [([*args, "--bogus"], f'unknown option "--bogus"'),
             ([*args, "-json"], 'unknown option "-json"'),
             ([*args, "extra"], "no argument expected" if nargs == 0 else "too many arguments")]
    if nargs:
        cases.append((args[:-1], "too few arguments"))
    for argv, reason in cases:
        res = images.run(command, *argv)
        assert res.returncode == 1 and res.stdout == "", (argv, res)
        assert res.stderr == f"rune-image: {command}: {reason} ({usage}\n", (argv, res)
    assert not images.root.exists()
    assert not any(workdir.glob("a*"))
