"""The encrypted store and its union view, through rune-image against a real registry.

Every image the pipeline tests use is pulled twice, into a plain store and into an encrypted
one; the kernel overlayfs mount of the plain store's layers and the FUSE view of the encrypted
store's must show the same tree (types, modes, owners, sizes, contents, links, xattrs, file
mtimes). The app container runs from the view under rune, plain and as an enclave container.
Then what the host can do to the store: read it (no name or content of the image anywhere),
flip, cut, swap or remove objects (EIO on read and a log line naming the file; fsck names
them), give a wrong key (refused at open, nothing touched), kill a pull (the previous state)."""

import hashlib
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import RUNE_BIN, PAL_DIR, umount, wait_until
import registry as R
from registry import CHR, D, F, FIFO, H, OPQ, S, WH
from test_image_pull import (IMAGE_BIN, TIB, BlobProxy, WH_LOWER, WH_ORDERS, anon,  # noqa: F401
                             bottom_of, busybox_layers, deep_layer, rm_deep, sparse_tar, tmpfs,
                             used_kib)
from test_registry_fixtures import CAP, LOWER, UPPER, need

pytestmark = [
    pytest.mark.skipif(not os.access(IMAGE_BIN, os.X_OK), reason=f"rune-image not built ({IMAGE_BIN})"),
]

SKELETON = PAL_DIR / "liberpal-skeleton.so"
MARKER = "zq-marker-7f3a91c2"
KEY = bytes(range(32))


def fuse_usable():
    if os.geteuid() != 0:
        return "the view mounts FUSE as root"
    if not os.path.exists("/dev/fuse"):
        return "no /dev/fuse on this machine"
    try:
        with open("/proc/filesystems") as f:
            if not any(line.split()[-1] == "fuse" for line in f if line.strip()):
                return "the kernel has no fuse file system"
    except OSError as e:
        return f"cannot read /proc/filesystems: {e}"
    return None


@pytest.fixture(autouse=True)
def _need_fuse():
    why = fuse_usable()
    if why:
        print(why)
        pytest.skip(why)


class Store:
    """rune-image on one root, plain (key None) or encrypted."""

    def __init__(self, root, key_file=None):
        self.root, self.key_file, self.mounted = Path(root), key_file, []

    def run(self, *args, timeout=180):
        key = ["--store-key", str(self.key_file)] if self.key_file else []
        return subprocess.run([IMAGE_BIN, "--root", str(self.root), *key, *map(str, args)],
                              capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)

    def ok(self, *args):
        res = self.run(*args)
        assert res.returncode == 0, (args, res.stderr)
        return res

    def mount(self, ref, target):
        self.ok("mount", ref, target)
        self.mounted.append(Path(target))

    def unmount(self, target):
        self.mounted.remove(Path(target))
        return self.run("unmount", target)

    def cleanup(self):
        for t in reversed(self.mounted):
            self.run("unmount", t)
            umount(str(t))
        self.mounted = []

    def objects(self):
        d = self.root / "encrypted" / "objects"
        return sorted(p for p in d.rglob("*") if p.is_file())


def write_key(path, key=KEY, mode=0o600):
    path.write_bytes(key)
    path.chmod(mode)
    return path


@pytest.fixture
def stores(workdir):
    made = []

    def make(name, encrypted):
        key = write_key(workdir / f"{name}.key") if encrypted else None
        s = Store(workdir / name, key)
        made.append(s)
        return s

    yield make
    for s in made:
        s.cleanup()


def tree(root):
    return R.tree_manifest(root, include_root=False)


def file_mtimes(root):
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            if not os.path.isdir(p) or os.path.islink(p):
                out[os.path.relpath(p, root)] = st.st_mtime_ns
    return out


def push(workdir, reg, layers, repo, tag, **kw):
    R.make_oci_image(workdir / f"img-{repo.replace('/', '-')}", layers, tag=tag, **kw)
    R.push(workdir / f"img-{repo.replace('/', '-')}", tag, reg, repo=repo)
    return f"{reg.host}/{repo}:{tag}"


def compare_views(plain, enc, ref, workdir, name):
    """Mount the image from both stores; the differences ([] when the view is overlayfs's)."""
    pm, em = workdir / f"{name}-overlay", workdir / f"{name}-view"
    plain.mount(ref, pm)
    enc.mount(ref, em)
    try:
        diff = R.diff_trees(tree(em), tree(pm))
        mt_view, mt_overlay = file_mtimes(em), file_mtimes(pm)
        diff += [f"mtime {p}: {mt_view.get(p)} != {mt_overlay.get(p)}"
                 for p in sorted(set(mt_view) | set(mt_overlay))
                 if mt_view.get(p) != mt_overlay.get(p)]
    finally:
        assert enc.unmount(em).returncode == 0
        assert plain.unmount(pm).returncode == 0
    return diff


# ---- the view is what overlayfs shows --------------------------------------------------------

BIG = os.urandom(3 << 20) + b"tail"

IMAGES = {
    "layers": [LOWER, UPPER],
    "busybox": busybox_layers(),
    "same-layer order": [
        [D("a"), F("a/x", "1"), F("b", "2"), D("c"), F("c/y", "3"), F("d", "4")],
        [F("a/x", "new"), WH("a/x"), WH("b"), F("b", "back"), F("c", "now a file"),
         D("d"), F("d/z", "5")]],
    "kinds": [[D("d", mode=0o2775, uid=12, gid=34), F("d/big", BIG, mode=0o640),
               F("d/empty", b""), F("d/suid", b"x", mode=0o4755),
               H("d/big-link", "d/big"), S("d/abs", "/etc/passwd"), S("d/dangling", "nope"),
               FIFO("d/fifo"), CHR("d/tty", 5, 0, mode=0o620),
               F("d/xattrs", "x", xattrs={"user.a": "1", "trusted.b": b"\x00\x01",
                                          "security.capability": CAP}),
               D("deep/er/and/deeper"), F("deep/er/and/deeper/leaf", "leaf", mtime=12345)],
              [F("d/big", "replaced"), OPQ("deep/er"), F("deep/er/new", "n")]],
}


@pytest.mark.parametrize("case", list(IMAGES))
def test_view_is_what_overlayfs_shows(anon, stores, workdir, case):
    plain, enc = stores("plain", False), stores("enc", True)
    ref = push(workdir, anon, IMAGES[case], "view/img", "t")
    plain.ok("pull", ref)
    enc.ok("pull", ref)
    assert compare_views(plain, enc, ref, workdir, "v") == []


def test_view_matches_overlayfs_in_every_whiteout_order(anon, stores, workdir):
    plain, enc = stores("plain", False), stores("enc", True)
    wrong = {}
    for i, (case, upper) in enumerate(WH_ORDERS.items()):
        # ROOT_OPAQUE too: overlayfs ignores a lower root's opaque mark, and so does the view
        ref = push(workdir, anon, [WH_LOWER, upper], "wh/img", f"o{i}")
        plain.ok("pull", ref)
        enc.ok("pull", ref)
        diff = compare_views(plain, enc, ref, workdir, f"o{i}")
        if diff:
            wrong[case] = diff
    assert wrong == {}


def test_zstd_layers_view(anon, stores, workdir):
    need("zstd")
    plain, enc = stores("plain", False), stores("enc", True)
    ref = push(workdir, anon, [LOWER, UPPER], "z/img", "t", compression="zstd")
    plain.ok("pull", ref)
    enc.ok("pull", ref)
    assert compare_views(plain, enc, ref, workdir, "z") == []


def test_unpack_from_the_encrypted_store_is_umocis(anon, stores, workdir):
    need("umoci")
    enc = stores("enc", True)
    R.make_oci_image(workdir / "img", [LOWER, UPPER], tag="u")
    R.push(workdir / "img", "u", anon, repo="u/img")
    enc.ok("pull", f"{anon.host}/u/img:u")
    enc.ok("unpack", f"{anon.host}/u/img:u", workdir / "flat")
    theirs = tree(R.umoci_unpack(workdir / "img", "u", workdir / "ref"))
    assert R.diff_trees(tree(workdir / "flat"), theirs) == []


@pytest.mark.parametrize("fmt", ["posix", "gnu"])
def test_sparse_file_stays_sparse_in_the_encrypted_store(anon, stores, workdir, fmt):
    """The 1 TiB sparse file of the pipeline tests: pulled into the encrypted store on a
    64 MiB tmpfs, its holes stay holes of its object; the view shows the file with its data at
    the right offsets and its holes to SEEK_DATA/SEEK_HOLE, so the flattened copy made through
    the view is as sparse."""
    layer = sparse_tar(workdir, fmt)
    R.make_oci_image(workdir / "img", [layer], tag="t")
    R.push(workdir / "img", "t", anon, repo="sparse/img")
    ref = f"{anon.host}/sparse/img:t"
    disk = workdir / "disk"
    tmpfs(disk, "size=64m")
    key = write_key(workdir / "sparse.key")
    enc = Store(disk / "store", key)
    try:
        enc.ok("pull", ref)
        assert used_kib(disk) <= 4 << 10
        mnt = workdir / "mnt"
        enc.mount(ref, mnt)
        big = mnt / "big"
        assert big.stat().st_size == TIB
        with open(big, "rb") as f:
            for off, data in ((0, b"HEAD"), (TIB // 2 + 12345, b"MIDDLE"), (TIB - 4, b"TAIL"),
                              (4096, b"\0" * 4096), (TIB // 2, b"\0" * 12345)):
                f.seek(off)
                assert f.read(len(data)) == data, off
            assert os.lseek(f.fileno(), 0, os.SEEK_DATA) == 0
            assert os.lseek(f.fileno(), 0, os.SEEK_HOLE) == 65536
            assert os.lseek(f.fileno(), 65536, os.SEEK_DATA) // 65536 == \
                (TIB // 2 + 12345) // 65536
        assert enc.unmount(mnt).returncode == 0
        res = enc.run("unpack", ref, disk / "flat", timeout=300)
        assert res.returncode == 0, res.stderr
        st = (disk / "flat" / "big").stat()
        assert st.st_size == TIB and st.st_blocks * 512 <= 1 << 20
        with open(disk / "flat" / "big", "rb") as f:
            f.seek(TIB // 2 + 12345)
            assert f.read(6) == b"MIDDLE"
        res = enc.run("fsck")
        assert res.returncode == 0, res
    finally:
        enc.cleanup()
        umount(str(disk))


def test_deep_tree_in_the_encrypted_store(anon, stores, workdir):
    """The pipeline tests' layer 1000 directories deep: pulled, seen at the bottom of the
    view as through overlayfs, collected by gc once removed."""
    plain, enc = stores("plain", False), stores("enc", True)
    ref = push(workdir, anon, [deep_layer()], "deep/img", "t")
    try:
        plain.ok("pull", ref)
        enc.ok("pull", ref)
        plain.mount(ref, workdir / "overlay")
        enc.mount(ref, workdir / "view")
        assert bottom_of(workdir / "view") == bottom_of(workdir / "overlay") == b"deep\n"
        assert enc.unmount(workdir / "view").returncode == 0
        assert plain.unmount(workdir / "overlay").returncode == 0
        enc.ok("remove", ref)
        res = enc.ok("gc")
        assert res.stdout.startswith("removed 1 layers"), res.stdout
        assert enc.objects() and len(enc.objects()) == 1  # the index alone
    finally:
        enc.cleanup()
        plain.cleanup()
        rm_deep(plain.root, enc.root)


# ---- the app runs from the view ----------------------------------------------------------------

APP_OUT = "hello 1234:1234 1234 777 /tmp\nfrom the upper layer\n"


def app_image(workdir, reg):
    return push(workdir, reg, busybox_layers(), "app/img", "app", config={
        "Entrypoint": ["/bin/sh", "-c"],
        "Cmd": ["echo \"$GREETING $(id -u):$(id -g) $(id -G) $(pwd)\"; cat /etc/motd; "
                "echo written > /tmp/out"],
        "Env": ["GREETING=hello", "PATH=/bin"], "WorkingDir": "/tmp", "User": "app"})


@pytest.mark.parametrize("kind", ["plain", "enclave"])
def test_app_runs_from_the_view(anon, stores, workdir, kind):
    import json
    enc = stores("enc", True)
    ref = app_image(workdir, anon)
    enc.ok("pull", ref)
    bundle = workdir / "bundle"
    enc.ok("bundle", ref, bundle)
    enc.mounted.append(bundle / "rootfs")
    cfg = json.loads((bundle / "config.json").read_text())
    if kind == "enclave":
        if not SKELETON.exists():
            pytest.fail(f"the skeleton PAL is not staged at {SKELETON}")
        cfg["process"]["env"] += ["ENCLAVE_TYPE=simulated", f"ENCLAVE_RUNTIME_PATH={SKELETON}"]
    (bundle / "config.json").write_text(json.dumps(cfg))
    run = subprocess.run([RUNE_BIN, "--root", str(workdir / "state"), "run", "--bundle",
                          str(bundle), f"view-{kind}"], capture_output=True, text=True,
                         timeout=120, stdin=subprocess.DEVNULL)
    assert run.returncode == 0, run.stderr
    assert run.stdout == APP_OUT, run.stdout
    if kind == "enclave":
        assert "SIMULATED enclave" in run.stderr
    # The container's write is in its writable layer: seen in the view, in the clear nowhere.
    assert (bundle / "rootfs" / "tmp" / "out").read_text() == "written\n"
    assert enc.unmount(bundle / "rootfs").returncode == 0
    assert not (bundle / "rootfs" / "tmp").exists()


def test_writable_layer_persists_until_unmount(anon, stores, workdir):
    enc = stores("enc", True)
    ref = push(workdir, anon, [LOWER, UPPER], "w/img", "t")
    enc.ok("pull", ref)
    mnt = workdir / "mnt"
    enc.mount(ref, mnt)
    (mnt / "etc" / "added").write_text(MARKER)
    (mnt / "etc" / "passwd").unlink()
    os.sync()
    # unmounting the view without `rune-image unmount` keeps its writable layer: mounted again
    # at the same place, the changes are there
    subprocess.run(["umount", str(mnt)], check=True)
    enc.mounted.remove(mnt)
    wait_until(lambda: enc.run("list").returncode == 0, what="the view's daemon to end")
    # the writable layer is a layer of the store like the image's: fsck verifies it
    res = enc.run("fsck")
    assert res.returncode == 0 and "fsck: whole: 3 layers," in res.stdout, res
    enc.mount(ref, mnt)
    assert (mnt / "etc" / "added").read_text() == MARKER
    assert not (mnt / "etc" / "passwd").exists()
    assert no_plaintext(enc.root, [MARKER]) == []
    # `rune-image unmount` drops it
    assert enc.unmount(mnt).returncode == 0
    enc.mount(ref, mnt)
    assert not (mnt / "etc" / "added").exists() and (mnt / "etc" / "passwd").exists()


# ---- what the host sees ----------------------------------------------------------------------

def no_plaintext(root, needles):
    found = []
    for p in Path(root).rglob("*"):
        for n in needles:
            if n in p.name:
                found.append(f"name {p}")
        if p.is_file() and not p.is_symlink():
            data = p.read_bytes()
            for n in needles:
                if n.encode() in data:
                    found.append(f"content {p} holds {n}")
    return found


def test_no_name_or_content_on_disk(anon, stores, workdir):
    enc = stores("enc", True)
    layers = [[D(f"{MARKER}-dir"), F(f"{MARKER}-dir/{MARKER}-file", f"content {MARKER}\n" * 100),
               S(f"{MARKER}-link", f"/{MARKER}-target"),
               F("x", "y", xattrs={f"user.{MARKER}": MARKER})]]
    ref = push(workdir, anon, layers, "secret/img", "t")
    enc.ok("pull", ref)
    assert no_plaintext(enc.root, [MARKER]) == []
    mnt = workdir / "mnt"
    enc.mount(ref, mnt)
    assert (mnt / f"{MARKER}-dir" / f"{MARKER}-file").read_text().startswith("content")


# ---- tampering --------------------------------------------------------------------------------

def largest_objects(enc, n):
    return sorted(enc.objects(), key=lambda p: p.stat().st_size, reverse=True)[:n]


def view_log(mnt):
    name = hashlib.sha256(str(Path(mnt).resolve()).encode()).hexdigest()[:24]
    p = Path(f"/run/rune-image/view-{name}.log")
    return p.read_text() if p.exists() else ""


def read_errno(path):
    try:
        Path(path).read_bytes()
    except OSError as e:
        return e.errno
    return 0


TAMPER_LAYERS = [[D("etc"), F("etc/big", os.urandom(1 << 20)), F("etc/big2", os.urandom(1 << 20)),
                  F("etc/small", "small\n")]]


@pytest.mark.parametrize("how", ["flip", "truncate", "swap", "remove"])
def test_tampered_object_reads_eio_and_fsck_names_it(anon, stores, workdir, how):
    import errno
    enc = stores("enc", True)
    ref = push(workdir, anon, TAMPER_LAYERS, "t/img", "t")
    enc.ok("pull", ref)
    res = enc.run("fsck")
    assert res.returncode == 0 and res.stdout.startswith("fsck: whole: 1 layers,"), res
    a, b = largest_objects(enc, 2)   # etc/big and etc/big2's objects, in some order
    if how == "flip":
        data = bytearray(a.read_bytes())
        data[len(data) // 2] ^= 0x10
        a.write_bytes(bytes(data))
    elif how == "truncate":
        os.truncate(a, a.stat().st_size - 100)
    elif how == "swap":
        ta = a.read_bytes()
        a.write_bytes(b.read_bytes())
        b.write_bytes(ta)
    else:
        a.unlink()
    res = enc.run("fsck")
    assert res.returncode == 1 and "\nfsck: damaged: 1 layers," in res.stdout, res
    damaged = [line for line in res.stdout.splitlines() if line.startswith("damaged:")]
    assert damaged and all("etc/big" in line for line in damaged), res.stdout
    mnt = workdir / "mnt"
    enc.mount(ref, mnt)
    bad = [n for n in ("big", "big2") if read_errno(mnt / "etc" / n)]
    assert bad, "a tampered file read without error"
    assert all(read_errno(mnt / "etc" / n) == errno.EIO for n in bad)
    assert (mnt / "etc" / "small").read_text() == "small\n"
    log = view_log(mnt)
    assert any(f"etc/{n}" in log for n in bad), log
    assert len(bad) == (2 if how == "swap" else 1)


def test_wrong_or_missing_key(anon, stores, workdir):
    enc = stores("enc", True)
    ref = push(workdir, anon, TAMPER_LAYERS, "k/img", "t")
    enc.ok("pull", ref)

    def snapshot():
        return {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in enc.root.rglob("*")
                if p.is_file()}

    before = snapshot()
    other = Store(enc.root, write_key(workdir / "other.key", bytes(32)))
    for args in (["list"], ["pull", ref], ["mount", ref, workdir / "m"], ["fsck"]):
        res = other.run(*args)
        assert res.returncode != 0 and "wrong store key" in res.stderr, (args, res)
        assert res.stderr.count("\n") == 1
    res = Store(enc.root).run("list")
    assert res.returncode != 0 and "encrypted store; its key is needed" in res.stderr, res
    assert snapshot() == before


@pytest.mark.parametrize("case", ["mode", "short", "hex"])
def test_bad_key_files(stores, workdir, case):
    p = workdir / "bad.key"
    if case == "mode":
        write_key(p, mode=0o644)
        why = "readable or writable by others"
    elif case == "short":
        write_key(p, KEY[:31])
        why = "31 bytes; 32 bytes or 64 hex digits expected"
    else:
        write_key(p, b"g" * 64)
        why = "not hexadecimal"
    res = Store(workdir / "s", p).run("list")
    assert res.returncode == 1 and why in res.stderr and res.stderr.count("\n") == 1, res
    assert not (workdir / "s").exists()


def test_hex_key_and_mixed_roots_refused(anon, stores, workdir):
    plain = stores("plain", False)
    ref = push(workdir, anon, TAMPER_LAYERS, "m/img", "t")
    plain.ok("pull", ref)
    hexkey = workdir / "hex.key"
    hexkey.write_text(KEY.hex() + "\n")
    hexkey.chmod(0o600)
    res = Store(plain.root, hexkey).run("list")
    assert res.returncode == 1 and "holds plain layers" in res.stderr, res


def test_killed_pull_leaves_the_previous_state(anon, stores, workdir):
    enc = stores("enc", True)
    first = push(workdir, anon, TAMPER_LAYERS, "c/one", "t")
    enc.ok("pull", first)
    push(workdir, anon, [[F("huge", os.urandom(8 << 20))]], "c/two", "t", compression="none")
    proxy = BlobProxy(anon.url, "stall")
    big = f"{proxy.host}/c/two:t"
    try:
        p = subprocess.Popen([IMAGE_BIN, "--root", str(enc.root), "--store-key",
                              str(enc.key_file), "pull", big],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            assert proxy.stalled.wait(60), "the pull never reached the layer"
            # the half that came is in the layer's file object, being written under tmp/
            tmp = enc.root / "encrypted" / "tmp"
            wait_until(lambda: any(f.stat().st_size > (1 << 20) for f in tmp.iterdir()),
                       timeout=30, what="the layer to be half written")
        finally:
            p.send_signal(signal.SIGKILL)
            p.wait()
    finally:
        proxy.close()
    res = enc.run("fsck")
    assert res.returncode == 0, res
    assert any(line.startswith("warning: tmp/") for line in res.stdout.splitlines()), res.stdout
    mnt = workdir / "mnt"
    enc.mount(first, mnt)
    assert (mnt / "etc" / "small").read_text() == "small\n"
    assert enc.unmount(mnt).returncode == 0
    big = f"{anon.host}/c/two:t"
    assert enc.run("mount", big, workdir / "m2").returncode != 0
    enc.ok("pull", big)
    enc.mount(big, workdir / "m2")
    assert (workdir / "m2" / "huge").stat().st_size == 8 << 20
    assert enc.unmount(workdir / "m2").returncode == 0
    # the leftover went when the store was opened again
    res = enc.run("fsck")
    assert res.returncode == 0 and "warning: tmp/" not in res.stdout, res
