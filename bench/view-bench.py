#!/usr/bin/python3
"""The encrypted store and its FUSE view beside the plain store and kernel overlayfs, on tmpfs.

One local registry serves two images: a 20,000-file tree (small text files in nested
directories, symbolic and hard links) and a single large file of random bytes. Each is pulled
by rune-image into a plain store and into an encrypted one (alternating, a fresh root each
time), then mounted from both: `rune-image mount` (overlayfs over the plain layers) and
`rune-image --store-key K mount` (the union view, FUSE, every chunk decrypted and verified).
Caches are dropped before every cold measurement (drop_caches: the page cache of the FUSE
files, dentries and inodes; tmpfs keeps its own pages, which is the plain side's best case).

Printed, medians of --runs: pull time of each image; sequential read of the large file (1 MiB
reads); random 4 KiB reads of it; a walk that lstats every file of the 20,000-file image; and
ratios (targets: view sequential read >= 500 MB/s; stat walk <= 2x overlayfs; encrypted pull
<= 1.15x plain).

    sudo /usr/bin/python3 bench/view-bench.py [--runs N] [--big-mib M] [--files N]
"""

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "integration"))
from registry import D, F, H, S, Registry, make_oci_image, push  # noqa: E402

MiB = 1 << 20


def run(*argv, **kw):
    res = subprocess.run([str(a) for a in argv], capture_output=True, text=True,
                         stdin=subprocess.DEVNULL, **kw)
    if res.returncode != 0:
        raise SystemExit(f"view-bench: {' '.join(map(str, argv))}: {res.stderr.strip()}")
    return res


def drop_caches():
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


def tree_layers(n_files):
    rnd = random.Random(11)
    words = [bytes(rnd.choices(b"etaoinshrdlcumwfgypbvkjxqz ", k=rnd.randint(2, 9)))
             for _ in range(4000)]
    members, dirs = [], set()
    for i in range(n_files):
        d = f"usr/share/b/p{i // 1000:03d}/s{(i // 100) % 10}"
        for k in range(1, len(d.split("/")) + 1):
            p = "/".join(d.split("/")[:k])
            if p not in dirs:
                dirs.add(p)
                members.append(D(p))
        size = rnd.randint(512, 6144)
        body = b" ".join(rnd.choices(words, k=size // 5))[:size]
        members.append(F(f"{d}/f{i:06d}", body))
        if i % 300 == 299:
            members.append(S(f"{d}/l{i:06d}", f"f{i:06d}"))
        if i % 700 == 699:
            members.append(H(f"{d}/h{i:06d}", f"{d}/f{i:06d}"))
    return [members]


class Side:
    def __init__(self, name, image, root, key):
        self.name, self.image, self.root, self.key = name, image, root, key

    def cmd(self, *args):
        key = ["--store-key", self.key] if self.key else []
        return [self.image, "--root", self.root, *key, *args]

    def reset(self):
        if self.root.exists():
            shutil.rmtree(self.root)

    def pull(self, ref):
        t = time.perf_counter()
        run(*self.cmd("pull", "-q", ref))
        return time.perf_counter() - t

    def mount(self, ref, mnt):
        mnt.mkdir(parents=True, exist_ok=True)
        run(*self.cmd("mount", ref, mnt))

    def unmount(self, mnt):
        run(*self.cmd("unmount", mnt))


def seq_read(path):
    drop_caches()
    buf = bytearray(MiB)
    t = time.perf_counter()
    n = 0
    with open(path, "rb", buffering=0) as f:
        while True:
            k = f.readinto(buf)
            if not k:
                break
            n += k
    return n / (time.perf_counter() - t) / 1e6


def random_reads(path, count=4000):
    size = os.path.getsize(path)
    rnd = random.Random(3)
    offs = [rnd.randrange(0, size // 4096) * 4096 for _ in range(count)]
    drop_caches()
    fd = os.open(path, os.O_RDONLY)
    try:
        t = time.perf_counter()
        for o in offs:
            os.pread(fd, 4096, o)
        return count / (time.perf_counter() - t)
    finally:
        os.close(fd)


def stat_walk(root):
    drop_caches()
    t = time.perf_counter()
    n = 0
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            os.lstat(os.path.join(dirpath, name))
            n += 1
    return time.perf_counter() - t, n


def med(xs):
    return statistics.median(xs)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--big-mib", type=int, default=256)
    ap.add_argument("--files", type=int, default=20000)
    ap.add_argument("--build", default=str(REPO / "build"))
    a = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("view-bench: run as root (mounts, drop_caches)")
    image = Path(a.build) / "cmd/rune-image/rune-image"
    work = Path(tempfile.mkdtemp(prefix="view-bench-", dir="/tmp"))
    run("mount", "-t", "tmpfs", "-o", f"size={3 * a.big_mib + 2048}m", "tmpfs", work)
    mounted = []
    try:
        key = work / "store.key"
        key.write_bytes(os.urandom(32))
        key.chmod(0o600)
        plain = Side("plain", image, work / "plain", None)
        enc = Side("encrypted", image, work / "enc", key)
        with Registry("anonymous", tmp_parent=work) as reg:
            print(f"view-bench: making the images ({a.files} files; {a.big_mib} MiB file)")
            make_oci_image(work / "img-tree", tree_layers(a.files), tag="t")
            push(work / "img-tree", "t", reg, repo="bench/tree")
            make_oci_image(work / "img-big", [[F("big", os.urandom(a.big_mib * MiB))]],
                           tag="t", compression="none")
            push(work / "img-big", "t", reg, repo="bench/big")
            tree_ref, big_ref = f"{reg.host}/bench/tree:t", f"{reg.host}/bench/big:t"
            pulls = {(s.name, r): [] for s in (plain, enc) for r in ("tree", "big")}
            for i in range(a.runs):
                for side in ((plain, enc) if i % 2 == 0 else (enc, plain)):
                    side.reset()
                    pulls[(side.name, "tree")].append(side.pull(tree_ref))
                    pulls[(side.name, "big")].append(side.pull(big_ref))
            # the last pulls stay: both stores hold both images
            res = {}
            for side in (plain, enc):
                mt, mb = work / f"mnt-{side.name}-tree", work / f"mnt-{side.name}-big"
                side.mount(tree_ref, mt)
                mounted.append((side, mt))
                side.mount(big_ref, mb)
                mounted.append((side, mb))
                res[side.name] = {
                    "seq": med([seq_read(mb / "big") for _ in range(a.runs)]),
                    "rand": med([random_reads(mb / "big") for _ in range(a.runs)]),
                    "walk": med([stat_walk(mt)[0] for _ in range(a.runs)]),
                    "entries": stat_walk(mt)[1],
                }
        p, e = res["plain"], res["encrypted"]
        print(f"\n{'':34}{'overlayfs (plain)':>20}{'view (encrypted)':>20}{'ratio':>9}")
        for what in ("tree", "big"):
            pp, pe = med(pulls[("plain", what)]), med(pulls[("encrypted", what)])
            print(f"{'pull ' + what + ' image (s)':34}{pp:20.3f}{pe:20.3f}{pe / pp:9.2f}")
        print(f"{'sequential read (MB/s)':34}{p['seq']:20.0f}{e['seq']:20.0f}"
              f"{e['seq'] / p['seq']:9.2f}")
        print(f"{'random 4 KiB reads (ops/s)':34}{p['rand']:20.0f}{e['rand']:20.0f}"
              f"{e['rand'] / p['rand']:9.2f}")
        print(f"{'stat walk, %d entries (s)' % p['entries']:34}{p['walk']:20.3f}"
              f"{e['walk']:20.3f}{e['walk'] / p['walk']:9.2f}")
        print(f"\ntargets: view sequential read >= 500 MB/s ({e['seq']:.0f}); stat walk <= 2x "
              f"overlayfs ({e['walk'] / p['walk']:.2f}x); encrypted pull <= 1.15x plain "
              f"(tree {med(pulls[('encrypted', 'tree')]) / med(pulls[('plain', 'tree')]):.2f}x,"
              f" big {med(pulls[('encrypted', 'big')]) / med(pulls[('plain', 'big')]):.2f}x)")
        if p["entries"] != e["entries"]:
            raise SystemExit(f"view-bench: the walks differ: {p['entries']} entries in the "
                             f"overlay, {e['entries']} in the view")
    finally:
        for side, m in reversed(mounted):
            subprocess.run([str(x) for x in side.cmd("unmount", m)], capture_output=True)
        subprocess.run(["umount", "-l", str(work)], check=False)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
