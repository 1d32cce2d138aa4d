#!/usr/bin/python3
"""rune-image beside skopeo+umoci and containerd (ctr) pulling one large multi-layer image from
a local registry: wall time and peak memory. With skopeo installed, the same image encrypted
with skopeo (ocicrypt, JWE) is pulled by rune-image with the key too, and the cost of decryption
is printed as a ratio to the plain pull of the same run. The gzip image is also signed by
rune-image sign (GPG simple signing into a file lookaside, and cosign), and pulled by rune-image
under a policy that requires each signature: the signature gate's cost is printed as a ratio to
the plain pull (which runs under the default accept-anything policy). Prints figures, medians
and ratios; never passes or fails on time.

    sudo /usr/bin/python3 bench/pull-bench.py [--size-mb 300] [--runs 3] [--tools rune,skopeo,ctr]

See bench/README.md for what is measured and how to read it. Exit status: 0, or 1 if a tool
that is installed fails.
"""

import argparse
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "integration"))
import registry as R  # noqa: E402  (the integration tests' registry/image helpers)
from containerd_env import config as containerd_config  # noqa: E402

TIME = "/usr/bin/time"
MiB = 1 << 20
REPO_NAME = "bench/pull"
VARIANTS = ("gzip", "zstd")
# The plain variants encrypted by skopeo for one RSA key (JWE), pulled by rune-image only
# (skopeo+umoci would need a copy with --decryption-key first; containerd needs imgcrypt).
ENCRYPTED = {"gzip+jwe": "gzip", "zstd+jwe": "zstd"}
# The gzip image signed (same manifest, same tag), pulled by rune-image under a policy that
# requires the signature.
SIGNED = {"gzip+gpg": "gzip", "gzip+cosign": "gzip"}


class ToolFailed(Exception):
    pass


# ------------------------------------------------------------------------------ the image


class TextGen:
    """Text-like, compressible bytes: words from a fixed pseudo-vocabulary with Zipf-like
    frequencies, spaces and newlines (gzip -6 gets roughly 2.5-3x on it)."""

    def __init__(self, seed=42):
        self.rnd = random.Random(seed)
        letters = "etaoinshrdlcumwfgypbvkjxqz"
        lw = [12, 9, 8, 7.5, 7, 6.7, 6.3, 6, 4.3, 4, 2.8, 2.8, 2.4, 2.4, 2.2, 2, 2, 2, 1.5, 1,
              1, .8, .2, .15, .1, .07]
        words = set()
        while len(words) < 8000:
            n = self.rnd.choice((2, 3, 3, 4, 4, 5, 5, 6, 7, 8, 9, 11))
            words.add("".join(self.rnd.choices(letters, lw, k=n)))
        self.words = sorted(words) + ["\n"] * 1 + ["=", "{", "}", "();", "0", "1", "#"]
        weights = [1 / (i + 1) for i in range(len(self.words))]
        weights[len(words)] = 0.6            # a newline every ~12 words
        acc, self.cum = 0.0, []
        for w in weights:
            acc += w
            self.cum.append(acc)

    def text(self, nbytes):
        out, have = [], 0
        while have < nbytes:
            chunk = " ".join(self.rnd.choices(self.words, cum_weights=self.cum, k=200_000))
            b = chunk.replace(" \n ", "\n").encode()
            out.append(b)
            have += len(b)
        return b"".join(out)[:nbytes]


def image_layers(size_mb):
    """Four layers of member specs (tests/integration/registry.py) totalling about size_mb MiB
    of file content, and a description of each."""
    gen = TextGen()
    rnd = random.Random(7)
    total = size_mb * MiB
    layers, about = [], []

    # 1. many small text files (1-8 KiB) in nested dirs, some symlinks and hardlinks: ~30 %
    small_budget = int(total * 0.30)
    pool = gen.text(max(small_budget // 4, 8 * MiB))
    members, dirs, size, n, links = [], set(), 0, 0, 0

    def add_dir(path):
        parts = path.split("/")
        for i in range(1, len(parts) + 1):
            p = "/".join(parts[:i])
            if p not in dirs:
                dirs.add(p)
                members.append(R.D(p))

    while size < small_budget:
        d = f"usr/share/bench/p{n // 1000:03d}/s{(n // 100) % 10}/t{(n // 20) % 5}"
        add_dir(d)
        length = rnd.randint(1024, 8192)
        off = rnd.randrange(0, len(pool) - length)
        path = f"{d}/f{n:06d}.txt"
        members.append(R.F(path, pool[off:off + length], mode=0o755 if n % 17 == 0 else 0o644))
        if n % 200 == 199:
            members.append(R.S(f"{d}/l{n:06d}", f"f{n:06d}.txt"))
            links += 1
        if n % 500 == 499:
            members.append(R.H(f"{d}/h{n:06d}.txt", path))
            links += 1
        size += length
        n += 1
    add_dir("usr/bin")
    members.append(R.S("usr/bin/bench-top", "../share/bench/p000/s0/t0/f000000.txt"))
    layers.append(members)
    about.append(f"{n} small text files (1-8 KiB) in {len(dirs)} dirs, {links + 1} "
                 f"symlinks/hardlinks: {size / MiB:.0f} MiB")

    # 2. large compressible text files: ~40 % in two files
    big = int(total * 0.20)
    layers.append([R.D("opt"), R.D("opt/data"),
                   R.F("opt/data/text-a.log", gen.text(big)),
                   R.F("opt/data/text-b.log", gen.text(big)),
                   R.H("opt/data/text-a.hardlink", "opt/data/text-a.log"),
                   R.S("opt/data/current.log", "text-b.log")])
    about.append(f"2 large text files of {big / MiB:.0f} MiB (+1 hardlink, 1 symlink)")

    # 3. large incompressible files: ~20 %
    rnd_size = int(total * 0.20)
    layers.append([R.D("opt"), R.D("opt/blob"),
                   R.F("opt/blob/random.bin", os.urandom(rnd_size)),
                   R.S("opt/blob/latest", "random.bin")])
    about.append(f"1 incompressible file (os.urandom) of {rnd_size / MiB:.0f} MiB")

    # 4. medium files, overrides and whiteouts of layer-1 paths, more links: ~10 %
    med_budget = int(total * 0.10)
    members = [R.D("srv"), R.D("srv/app"), R.D("usr"), R.D("usr/share"),
               R.D("usr/share/bench"), R.D("usr/share/bench/p000"),
               R.D("usr/share/bench/p000/s0"), R.D("usr/share/bench/p000/s0/t0")]
    count = max(8, med_budget // (128 * 1024))
    each = med_budget // count
    for i in range(count):
        members.append(R.F(f"srv/app/m{i:04d}.dat", gen.text(each)))
        if i % 10 == 0:
            members.append(R.S(f"srv/app/m{i:04d}.lnk", f"m{i:04d}.dat"))
    members += [R.H("srv/app/m0000.hard", "srv/app/m0000.dat"),
                R.F("usr/share/bench/p000/s0/t0/f000001.txt", b"replaced in layer 4\n"),
                R.WH("usr/share/bench/p000/s0/t0/f000002.txt"),
                R.WH("usr/share/bench/p000/s1")]
    layers.append(members)
    about.append(f"{count} text files of {each / 1024:.0f} KiB, symlinks/hardlinks, "
                 f"1 overwritten file and 2 whiteouts (a file, a dir) of layer 1")
    return layers, about


def build_images(workdir, size_mb):
    """OCI layouts for both variants (one set of layer tars, compressed twice)."""
    t0 = time.perf_counter()
    specs, about = image_layers(size_mb)
    tars = [R.make_layer_tar(m) for m in specs]
    del specs
    t1 = time.perf_counter()
    images = {}
    for comp in VARIANTS:
        images[comp] = R.make_oci_image(workdir / f"oci-{comp}", tars, compression=comp,
                                        tag=comp)
    t2 = time.perf_counter()
    for info in images.values():
        for layer in info["layers"]:
            layer.pop("tar", None)           # keep sizes only
    tars = [len(t) for t in tars]         # and of the tars
    print(f"image built in {t1 - t0:.1f} s (tars), {t2 - t1:.1f} s (gzip -6 + zstd -3)")
    return images, about, tars


def encrypt_images(workdir):
    """The plain layouts encrypted by skopeo for a fresh RSA key (JWE, every layer), as
    oci-<variant with - for +>; returns the private key's path, or None (with a note) when
    skopeo or openssl is missing."""
    missing = R.missing_tools("skopeo") + ([] if shutil.which("openssl") else ["openssl"])
    if missing:
        print(f"encrypted variants: {', '.join(missing)} not installed, skipped")
        return None
    key, pub = workdir / "bench-key.pem", workdir / "bench-key-pub.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                    "rsa_keygen_bits:2048", "-out", key], check=True, capture_output=True)
    subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-out", pub], check=True,
                   capture_output=True)
    t0 = time.perf_counter()
    for enc, plain in ENCRYPTED.items():
        tag = enc.replace("+", "-")
        R.skopeo("copy", "--encryption-key", f"jwe:{pub}", f"oci:{workdir}/oci-{plain}:{plain}",
                 f"oci:{workdir}/oci-{tag}:{tag}", check=True, timeout=1800)
    print(f"encrypted with skopeo (jwe:, RSA-OAEP, AES-256-CTR + HMAC-SHA256) in "
          f"{time.perf_counter() - t0:.1f} s")
    return key


def sign_images(workdir, registry, rune_bin):
    """Sign REPO_NAME:gzip with a fresh GPG key (into a file lookaside) and a fresh P-256 key
    (cosign, .sig attachment); return {variant: the pull options of its policy}, or {} with a
    note when gpg or openssl is missing."""
    missing = [t for t in ("gpg", "openssl") if not shutil.which(t)]
    if missing:
        print(f"signed variants: {', '.join(missing)} not installed, skipped")
        return {}
    home = workdir / "gnupg"
    home.mkdir(mode=0o700)
    gpg = ["gpg", "--homedir", str(home), "--batch", "--pinentry-mode", "loopback",
           "--passphrase", ""]
    subprocess.run(gpg + ["--quick-gen-key", "bench@rune.test", "rsa2048", "sign", "never"],
                   check=True, capture_output=True)
    fpr = [l.split(":")[9] for l in subprocess.run(
        gpg + ["--with-colons", "--list-keys", "bench@rune.test"], check=True,
        capture_output=True, text=True).stdout.splitlines() if l.startswith("fpr:")][0]
    (workdir / "bench.gpg").write_bytes(subprocess.run(gpg + ["--export", fpr], check=True,
                                                       capture_output=True).stdout)
    key, pub = workdir / "cosign.key", workdir / "cosign.pub"
    subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-out", key], check=True, capture_output=True)
    subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-out", pub], check=True,
                   capture_output=True)
    rd = workdir / "registries.d"
    rd.mkdir()
    (rd / "bench.yaml").write_text(
        f'docker:\n  "{registry.host}":\n    lookaside: file://{workdir}/lookaside\n'
        f'    use-sigstore-attachments: true\n')
    ref = f"{registry.host}/{REPO_NAME}:gzip"
    must("rune-image sign", [rune_bin, "sign", "--insecure-registry", registry.host,
                             "--registries.d", rd, "--gpg-home", home, "--sign-by", fpr,
                             "--cosign-key", key, ref])
    reqs = {"gzip+gpg": {"type": "signedBy", "keyType": "GPGKeys",
                         "keyPath": str(workdir / "bench.gpg")},
            "gzip+cosign": {"type": "sigstoreSigned", "keyPath": str(pub)}}
    out = {}
    for variant, req in reqs.items():
        policy = workdir / f"policy-{variant.replace('+', '-')}.json"
        policy.write_text(json.dumps({"default": [{"type": "reject"}],
                                      "transports": {"docker": {registry.host: [req]}}}))
        out[variant] = ["--policy", str(policy), "--registries.d", str(rd)]
    print(f"signed {ref} with rune-image sign: GPG {fpr[-16:]} (file lookaside) and cosign "
          f"(P-256, .sig attachment)")
    return out


# ------------------------------------------------------------------------------ running


def timed(argv, env=None, stdout=None):
    """Run argv under /usr/bin/time; return (exit status, wall seconds, peak RSS KiB, stderr).

    The RSS is ru_maxrss of the command as reported by /usr/bin/time (the command and the
    children it reaped), not Python's own wait4(): a child forked from Python starts with
    Python's resident set and ru_maxrss keeps that high-water mark across execve."""
    with tempfile.NamedTemporaryFile(mode="r") as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.run([TIME, "-f", "%M", "-o", out.name, *map(str, argv)],
                              stdin=subprocess.DEVNULL, stdout=stdout or subprocess.DEVNULL,
                              stderr=err, env=env)
        wall = time.perf_counter() - t0
        err.seek(0)
        msg = err.read().decode(errors="replace").strip()
        try:
            rss = int(out.read().split()[-1])
        except (ValueError, IndexError):
            rss = 0
    return proc.returncode, wall, rss, msg


def must(name, argv, env=None):
    rc, wall, rss, msg = timed(argv, env)
    if rc != 0:
        raise ToolFailed(f"{name}: {' '.join(map(str, argv))}: exit {rc}: {msg[-2000:]}")
    return wall, rss


def version_of(argv):
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        lines = (out.stdout or out.stderr).strip().splitlines()
        return lines[0] if lines else "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


def mounts_under(path):
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = line.split()[4].replace("\\040", " ")
            if mp == str(path) or mp.startswith(str(path) + "/"):
                out.append(mp)
    return out


def unmount_under(path):
    for mp in sorted(mounts_under(path), key=len, reverse=True):
        subprocess.run(["umount", "-l", mp], capture_output=True)


def rm(path):
    shutil.rmtree(path, ignore_errors=True)


class RuneImage:
    name = "rune-image"

    def __init__(self, binary, host, jobs, label="rune-image"):
        self.binary, self.host, self.jobs = binary, host, jobs
        self.label = label + (f" --jobs {jobs}" if jobs else "")
        built = time.strftime("%Y-%m-%d %H:%M", time.localtime(os.stat(binary).st_mtime))
        self.version = f"{version_of([binary, '--version'])}, binary built {built}"

    def run(self, ref, dest, extra=()):
        store, flat = dest / "store", dest / "rootfs"
        jobs = ["--jobs", str(self.jobs)] if self.jobs else []
        w1, r1 = must(self.label, [self.binary, "--root", store, "pull", "--insecure-registry",
                                   self.host, *jobs, *extra, "-q", ref])
        w2, r2 = must(self.label, [self.binary, "--root", store, "unpack", ref, flat])
        return {"fetch": w1, "total": w1 + w2, "rss": max(r1, r2), "rss_fetch": r1,
                "rootfs": flat}


class SkopeoUmoci:
    name = "skopeo+umoci"
    label = "skopeo+umoci"

    def __init__(self, workdir):
        self.home = workdir / "skopeo-home"
        self.home.mkdir()
        self.env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
                    "HOME": str(self.home), "REGISTRY_AUTH_FILE": str(self.home / "auth.json"),
                    "XDG_RUNTIME_DIR": str(self.home), "XDG_CONFIG_HOME": str(self.home)}
        self.version = (version_of([R.SKOPEO_BIN, "--version"]) + "; " +
                        version_of([R.UMOCI_BIN, "--version"]))

    def run(self, ref, dest):
        layout, bundle = dest / "oci", dest / "bundle"
        w1, r1 = must("skopeo", [R.SKOPEO_BIN, "copy", "--src-tls-verify=false",
                                 f"docker://{ref}", f"oci:{layout}:bench"], env=self.env)
        w2, r2 = must("umoci", [R.UMOCI_BIN, "unpack", "--image", f"{layout}:bench", bundle])
        return {"fetch": w1, "total": w1 + w2, "rss": max(r1, r2), "rss_fetch": r1,
                "rootfs": bundle / "rootfs"}


class Ctr:
    """ctr against a containerd daemon started here with a private config."""
    name = "ctr"
    label = "ctr (containerd)"

    def __init__(self, workdir):
        self.base = workdir / "containerd"
        self.base.mkdir()
        self.sock = self.base / "containerd.sock"
        self.ctr = shutil.which("ctr")
        self.daemon = None
        self.log = None
        self.version = (version_of([shutil.which("containerd"), "--version"]) + "; " +
                        version_of([self.ctr, "--version"]))

    def start(self):
        (self.base / "config.toml").write_text(containerd_config(self.base))
        self.log = open(self.base / "containerd.log", "wb")
        self.daemon = subprocess.Popen([shutil.which("containerd"), "--config",
                                        str(self.base / "config.toml")],
                                       stdin=subprocess.DEVNULL, stdout=self.log,
                                       stderr=self.log, start_new_session=True)
        deadline = time.monotonic() + 60
        while True:
            if self.daemon.poll() is not None:
                return "containerd exited with %d: %s" % (
                    self.daemon.returncode,
                    (self.base / "containerd.log").read_text(errors="replace")[-1500:])
            if self.sock.exists() and self.cmd("version").returncode == 0:
                return None
            if time.monotonic() > deadline:
                return "containerd did not answer within 60 s"
            time.sleep(0.1)

    def cmd(self, *args, timeout=300):
        return subprocess.run([self.ctr, "--address", str(self.sock), "--namespace", "bench",
                               *map(str, args)], capture_output=True, text=True,
                              timeout=timeout)

    def _status(self, key):
        with open(f"/proc/{self.daemon.pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
        return 0

    def run(self, ref, dest):
        # Reset the daemon's peak RSS (VmHWM) to its current RSS, so that its high-water mark
        # after the pull is the peak during this pull.
        with open(f"/proc/{self.daemon.pid}/clear_refs", "w") as f:
            f.write("5")
        before = self._status("VmRSS")
        wall, rss = must("ctr", [self.ctr, "--address", self.sock, "--namespace", "bench",
                                 "images", "pull", "--plain-http", ref])
        hwm = self._status("VmHWM")
        self.clean(ref)
        return {"fetch": wall, "total": wall, "rss": rss, "rss_fetch": rss,
                "daemon_before": before, "daemon_peak": hwm, "rootfs": None}

    def clean(self, ref):
        """Make the next pull cold: remove the image and let GC take content and snapshots;
        then remove whatever is left."""
        self.cmd("images", "rm", "--sync", ref)
        for line in self.cmd("content", "ls", "-q").stdout.split():
            self.cmd("content", "rm", line)
        snaps = self.cmd("snapshots", "ls").stdout.splitlines()[1:]
        for _ in range(10):             # children before parents
            if not snaps:
                break
            for line in snaps:
                self.cmd("snapshots", "rm", line.split()[0])
            snaps = self.cmd("snapshots", "ls").stdout.splitlines()[1:]
        left = self.cmd("content", "ls", "-q").stdout.split() + snaps
        if left:
            raise ToolFailed(f"ctr: could not empty containerd between runs: {left[:5]}")

    def stop(self):
        if self.daemon is not None and self.daemon.poll() is None:
            os.kill(self.daemon.pid, signal.SIGTERM)
            try:
                self.daemon.wait(30)
            except subprocess.TimeoutExpired:
                os.kill(self.daemon.pid, signal.SIGKILL)
                self.daemon.wait()
        if self.log:
            self.log.close()
        unmount_under(self.base)


# ------------------------------------------------------------------------------ measuring


def tool_rotation(tools, i):
    return [tools[(i + j) % len(tools)] for j in range(len(tools))]


def verify(rune_root, umoci_root, label):
    a = R.tree_manifest(rune_root, include_root=False)
    b = R.tree_manifest(umoci_root, include_root=False)
    diff = R.diff_trees(a, b)
    if not diff:
        print(f"  {label}: trees identical ({len(a)} paths: type, mode, owner, size, sha256, "
              f"symlink target, hardlink group, xattrs)")
    else:
        print(f"  {label}: trees DIFFER ({len(diff)} paths):")
        for line in diff[:20]:
            print("    " + line)
    return b, not diff


def bench(tools, images, registry, workdir, runs, enc_key=None):
    results = {}
    checks = []
    ref_manifest = None
    # Each encrypted variant right after its plain twin, so that drift hits both alike.
    order = [v for c in VARIANTS for v in (c, *(e for e, p in ENCRYPTED.items()
                                               if p == c and enc_key))]
    for comp in order:
        ref = f"{registry.host}/{REPO_NAME}:{comp.replace('+', '-')}"
        extra = ["--decryption-key", str(enc_key)] if comp in ENCRYPTED else []
        active = [t for t in tools if not (comp == "zstd" and t.name == "skopeo+umoci") and
                  (t.name == "rune-image" or comp not in ENCRYPTED)]
        results[comp] = {t.label: [] for t in active}
        for i in range(runs):
            print(f"{comp} run {i + 1}/{runs}: " + ", ".join(t.label for t in
                                                           tool_rotation(active, i)), flush=True)
            kept = {}
            for t in tool_rotation(active, i):
                dest = workdir / f"run-{comp}-{i}-{tools.index(t)}"
                dest.mkdir()
                r = t.run(ref, dest, extra) if extra else t.run(ref, dest)
                results[comp][t.label].append(r)
                if i == 0 and r["rootfs"] is not None and t.name not in kept:
                    kept[t.name] = (r["rootfs"], dest)
                else:
                    rm(dest)
            if i == 0:
                rune_root = kept.get("rune-image")
                if rune_root and "skopeo+umoci" in kept:
                    ref_manifest, ok = verify(rune_root[0], kept["skopeo+umoci"][0],
                                              f"{comp}: rune-image unpack vs umoci unpack")
                    checks.append(ok)
                elif rune_root and ref_manifest is not None:
                    diff = R.diff_trees(R.tree_manifest(rune_root[0], include_root=False),
                                        ref_manifest)
                    print(f"  {comp}: rune-image tree " +
                          ("identical to the gzip variant's umoci tree" if not diff else
                           f"DIFFERS from the gzip variant's umoci tree: {diff[:5]}"))
                    checks.append(not diff)
                for _, dest in kept.values():
                    rm(dest)
    return results, checks


def gate_bench(tool, registry, workdir, runs, signed):
    """The signed variants and their plain twin pulled in turn within each round (the gate is
    small beside a pull's own spread, so only interleaving shows it): {variant: [fetch s]}."""
    variants = [SIGNED[next(iter(signed))]] + list(signed)
    times = {v: [] for v in variants}
    for i in range(runs):
        print(f"gate run {i + 1}/{runs}: " + ", ".join(tool_rotation(variants, i)), flush=True)
        for v in tool_rotation(variants, i):
            dest = workdir / f"gate-{i}-{v.replace('+', '-')}"
            dest.mkdir()
            store = dest / "store"
            wall, _ = must(tool.label, [tool.binary, "--root", store, "pull", "-q",
                                        *signed.get(v, []), f"{registry.host}/{REPO_NAME}:gzip"])
            times[v].append(wall)
            rm(dest)
    return times


def gate_report(times):
    plain = next(iter(times))
    b = statistics.median(times[plain])
    print(f"\nsignature gate: rune-image pull of the {plain} image, plain and under a policy "
          f"requiring each signature, {len(times[plain])} rounds interleaved (median fetch)")
    for v, ts in times.items():
        a = statistics.median(ts)
        extra = "" if v == plain else (f", {a / b:.3f}x ({(a - b) * 1000:+.0f} ms, "
                                       f"{(a / b - 1) * 100:+.1f}%)")
        print(f"  {v:<12} {fmt_s(a):>9}{extra}")


# ------------------------------------------------------------------------------ report


def fmt_s(v):
    return f"{v:.2f} s"


def report(tools, results, images, about, tars, runs, ctr_note):
    uncompressed = sum(tars)
    print(f"\nimage: {len(tars)} layers, {uncompressed / MiB:.1f} MiB uncompressed (tar)")
    for i, (line, tar) in enumerate(zip(about, tars)):
        sizes = ", ".join(f"{c} {images[c]['layers'][i]['size'] / MiB:.1f} MiB"
                          for c in VARIANTS)
        print(f"  layer {i + 1}: {line}; tar {tar / MiB:.1f} MiB -> {sizes}")
    for c in VARIANTS:
        comp = sum(l["size"] for l in images[c]["layers"])
        print(f"  {c}: {comp / MiB:.1f} MiB compressed ({uncompressed / comp:.2f}x)")
    for enc, plain in ENCRYPTED.items():
        if enc in results:
            print(f"  {enc}: the {plain} blobs encrypted by skopeo (same sizes; AES-256-CTR + "
                  f"HMAC-SHA256, key wrapped for one RSA key with RSA-OAEP)")

    print(f"\nwall: median of {runs} cold runs, interleaved | fetch: rune-image pull (fetch, "
          f"verify, unpack each layer into the store), skopeo copy (to an OCI layout), ctr "
          f"images pull (fetch + unpack into the overlayfs snapshotter) | total: + rune-image "
          f"unpack (flattened rootfs) / umoci unpack | RSS: median of the peak RSS "
          f"(/usr/bin/time %M), the larger of the two commands for a two-step tool; for ctr "
          f"the client only, the daemon's peak is in its own column\n")
    hdr = (f"{'variant':<8} {'tool':<22} {'fetch':>9} {'total':>9} {'MiB/s':>7} "
           f"{'RSS median':>11} {'RSS fetch':>10} {'daemon peak':>12}")
    print(hdr)
    print("-" * len(hdr))
    med = {}
    for comp in results:
        for t in tools:
            rs = results.get(comp, {}).get(t.label)
            if not rs:
                continue
            m = {"fetch": statistics.median(r["fetch"] for r in rs),
                 "total": statistics.median(r["total"] for r in rs),
                 "rss": statistics.median(r["rss"] for r in rs) / 1024,
                 "rss_fetch": statistics.median(r["rss_fetch"] for r in rs) / 1024}
            daemon = ""
            if "daemon_peak" in rs[0]:
                peak = statistics.median(r["daemon_peak"] for r in rs) / 1024
                growth = statistics.median(r["daemon_peak"] - r["daemon_before"]
                                           for r in rs) / 1024
                m["daemon_peak"], m["daemon_growth"] = peak, growth
                daemon = f"{peak:.0f} MiB (+{growth:.0f})"
            med[(comp, t.label)] = m
            print(f"{comp:<8} {t.label:<22} {fmt_s(m['fetch']):>9} {fmt_s(m['total']):>9} "
                  f"{uncompressed / MiB / m['total']:>7.0f} {m['rss']:>7.1f} MiB "
                  f"{m['rss_fetch']:>6.1f} MiB {daemon:>12}")
    print()
    rune = [t for t in tools if t.name == "rune-image"]
    for comp in VARIANTS:
        for rt in rune:
            a = med.get((comp, rt.label))
            if not a:
                continue
            for peer in ("skopeo+umoci", "ctr (containerd)"):
                b = med.get((comp, peer))
                if not b:
                    continue
                if peer == "skopeo+umoci":
                    print(f"{comp}: {rt.label} / skopeo+umoci: total (pull+unpack vs copy+"
                          f"unpack) {a['total'] / b['total']:.2f}x, fetch (pull vs copy) "
                          f"{a['fetch'] / b['fetch']:.2f}x, RSS {a['rss'] / b['rss']:.2f}x")
                else:
                    print(f"{comp}: {rt.label} / ctr: pull vs ctr pull "
                          f"{a['fetch'] / b['fetch']:.2f}x, pull+unpack vs ctr pull "
                          f"{a['total'] / b['total']:.2f}x, RSS (client) "
                          f"{a['rss'] / b['rss']:.2f}x, RSS vs containerd peak "
                          f"{a['rss'] / b['daemon_peak']:.2f}x")
    # Another build of rune-image (--tools rune,NAME=PATH): the same pull, this build / that.
    for comp in VARIANTS:
        a = med.get((comp, rune[0].label)) if rune else None
        for other in rune[1:]:
            b = med.get((comp, other.label))
            if a and b and other.jobs is None and other.binary != rune[0].binary:
                print(f"{comp}: {rune[0].label} / {other.label}: pull {a['fetch'] / b['fetch']:.2f}x"
                      f", pull+unpack {a['total'] / b['total']:.2f}x, RSS {a['rss'] / b['rss']:.2f}x")
    for enc, plain in ENCRYPTED.items():
        for rt in rune:
            a, b = med.get((enc, rt.label)), med.get((plain, rt.label))
            if a and b:
                print(f"{enc}: {rt.label} decryption overhead (encrypted / plain {plain}, "
                      f"same run): pull {a['fetch'] / b['fetch']:.2f}x "
                      f"({(a['fetch'] / b['fetch'] - 1) * 100:+.0f}%), pull+unpack "
                      f"{a['total'] / b['total']:.2f}x "
                      f"({(a['total'] / b['total'] - 1) * 100:+.0f}%), RSS "
                      f"{a['rss'] / b['rss']:.2f}x")
    if any(t.name == "skopeo+umoci" for t in tools):
        print("\nzstd: skopeo+umoci not measured (umoci 0.4 cannot unpack zstd layers); "
              "rune-image and ctr only")
    if ctr_note:
        print(ctr_note)
    print("\nversions: " + "; ".join(f"{t.label} = {t.version}" for t in tools))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mb", type=int, default=300, help="uncompressed image size (MiB)")
    ap.add_argument("--runs", type=int, default=3, help="cold runs per tool and variant")
    ap.add_argument("--workdir", default="/dev/shm", help="where everything lives (tmpfs)")
    ap.add_argument("--tools", default="rune,skopeo,ctr",
                    help="comma-separated, in order; NAME=PATH adds another rune-image build")
    ap.add_argument("--rune-jobs", default="default",
                    help="rune-image --jobs values, one row each (default: its default, 3)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--no-signed", action="store_true",
                    help="skip the signed variants (gzip+gpg, gzip+cosign)")
    ap.add_argument("--no-encrypted", action="store_true",
                    help="skip the encrypted variants (gzip+jwe, zstd+jwe)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("pull-bench: needs root")
    if not os.access(TIME, os.X_OK):
        sys.exit(f"pull-bench: needs {TIME} (apt-get install time) for peak RSS")
    missing = R.missing_tools("registry", "zstd")
    if missing:
        sys.exit(f"pull-bench: needs {', '.join(missing)} (docker-registry, zstd)")

    workdir = Path(tempfile.mkdtemp(prefix="rune-pull-bench-", dir=args.workdir))
    registry = None
    tools, failed, ctr_tool, ctr_note = [], [], None, ""
    print(f"workdir: {workdir} ({args.size_mb} MiB image, {args.runs} runs, "
          f"{os.cpu_count()} CPUs)")
    try:
        rune_bin = os.environ.get("RUNE_IMAGE_BIN") or str(REPO /
                                                           "build/cmd/rune-image/rune-image")
        registry = R.Registry("anonymous", tmp_parent=workdir)
        registry.start()
        for name in args.tools.split(","):
            if name == "rune":
                if not os.access(rune_bin, os.X_OK):
                    print(f"rune-image: not built ({rune_bin}), skipped")
                    continue
                for j in args.rune_jobs.split(","):
                    tools.append(RuneImage(rune_bin, registry.host,
                                           None if j == "default" else int(j)))
            elif name == "skopeo":
                gone = R.missing_tools("skopeo", "umoci")
                if gone:
                    print(f"skopeo+umoci: {', '.join(gone)} not installed, skipped")
                    continue
                tools.append(SkopeoUmoci(workdir))
            elif name == "ctr":
                if not shutil.which("ctr") or not shutil.which("containerd"):
                    print("ctr: containerd/ctr not installed, skipped")
                    continue
                ctr_tool = Ctr(workdir)
                why = ctr_tool.start()
                if why:
                    print(f"ctr: containerd could not be started, skipped: {why}")
                    ctr_tool.stop()
                    continue
                tools.append(ctr_tool)
            elif "=" in name:
                label, binary = name.split("=", 1)
                if not os.access(binary, os.X_OK):
                    print(f"{label}: {binary} is not an executable, skipped")
                    continue
                tools.append(RuneImage(binary, registry.host, None, label=label))
            else:
                print(f"{name}: unknown tool (rune, skopeo, ctr, NAME=PATH), skipped")
        if not tools:
            sys.exit("pull-bench: no tool to measure")
        if ctr_tool in tools:
            ctr_note = ("ctr: `ctr images pull --plain-http` against a containerd started here "
                        "(own root/state/socket under the workdir, overlayfs snapshotter); "
                        "RSS median is the ctr client; 'daemon peak' is containerd's VmHWM "
                        "during the pull (reset via clear_refs before each pull) with its "
                        "growth over the RSS it had before the pull in brackets; image, "
                        "content and snapshots are removed between runs")

        images, about, tars = build_images(workdir, args.size_mb)
        enc_key = None
        if any(t.name == "rune-image" for t in tools) and not args.no_encrypted:
            enc_key = encrypt_images(workdir)
        t0 = time.perf_counter()
        tags = [c.replace("+", "-") for c in VARIANTS + (tuple(ENCRYPTED) if enc_key else ())]
        for tag in tags:
            R.push(workdir / f"oci-{tag}", tag, registry, repo=REPO_NAME)
            rm(workdir / f"oci-{tag}")
        print(f"pushed {REPO_NAME}:{', :'.join(tags)} to {registry.host} in "
              f"{time.perf_counter() - t0:.1f} s")
        signed = {}
        if any(t.name == "rune-image" for t in tools) and not args.no_signed:
            signed = sign_images(workdir, registry, rune_bin)
        results, checks = bench(tools, images, registry, workdir, args.runs, enc_key)
        gate = None
        if signed:
            rune = next(t for t in tools if t.name == "rune-image")
            gate = gate_bench(rune, registry, workdir, max(args.runs, 7), signed)
        report(tools, results, images, about, tars, args.runs, ctr_note)
        if gate:
            gate_report(gate)
        if not all(checks):
            print("\nnote: the unpacked trees differ (see above)")
    except ToolFailed as e:
        print(f"error: {e}")
        failed.append("measurement")
    finally:
        if ctr_tool is not None:
            ctr_tool.stop()
        if registry is not None:
            registry.stop()
        unmount_under(workdir)
        if args.keep:
            print(f"kept {workdir}")
        else:
            rm(workdir)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
        sys.exit(1)


if __name__ == "__main__":
    main()
