#!/usr/bin/python3
"""What key release by a KBS adds to an encrypted pull.

Two enclave agents (the agent bundle run by rune as enclave containers, skeleton PAL) pull the
same encrypted images from a local registry, interleaved image by image: one gets the image key
from the KBS (cc_kbc: attestation with simulated evidence, then one resource request per layer),
the other from a local key file (offline_fs_kbc, the same key). Printed: the first pull of each
(the KBS one includes the attestation), the median of the others, their ratio, and the KBS
requests per pull (target: one attestation per agent, not one per layer or image).

    sudo /usr/bin/python3 bench/kbs-bench.py [-n IMAGES] [--layers N] [--layer-mib M]
"""

import argparse
import base64
import hashlib
import json
import os
import secrets
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "integration"))
sys.path.insert(0, str(REPO / "scripts"))
import kbs as kbsmod  # noqa: E402
from registry import D, F, Registry, free_port, make_oci_image, push  # noqa: E402

KEY_PATH = "default/image-key/bench"


def run(*argv, **kw):
    res = subprocess.run([str(a) for a in argv], capture_output=True, text=True, **kw)
    if res.returncode != 0:
        raise SystemExit(f"kbs-bench: {' '.join(map(str, argv))}: {res.stderr.strip()}")
    return res


class Bench:
    def __init__(self, build, work):
        self.build, self.work = build, work
        self.rune = build / "cmd/rune/rune"
        self.ctl = build / "cmd/agent-ctl/agent-ctl"
        self.root = work / "rune-state"
        self.pal_dir = Path(tempfile.mkdtemp(prefix="rune-bench-pal-", dir="/run"))
        self.pal_dir.chmod(0o755)
        self.pal = self.pal_dir / "liberpal-skeleton.so"
        shutil.copyfile(build / "pal/skeleton/liberpal-skeleton.so", self.pal)
        self.pal.chmod(0o755)
        self.containers = []

    def rune_cmd(self, *args, **kw):
        return run(self.rune, "--root", self.root, "--enclave-runtime-dirs", self.pal_dir,
                   *args, **kw)

    def agent(self, name, key_provider, keys=None):
        listen = f"tcp://127.0.0.1:{free_port()}"
        bundle = self.work / name
        run(sys.executable, REPO / "scripts/agent_bundle.py", "--build", self.build, "--out",
            bundle, "--listen", listen, "--pal", self.pal, "--key-provider", key_provider)
        if keys:
            (bundle / "rootfs/etc/aa-offline_fs_kbc-keys.json").write_text(keys)
        with open(self.work / f"{name}.log", "wb") as log:
            subprocess.run([self.rune, "--root", self.root, "--enclave-runtime-dirs",
                            self.pal_dir, "run", "--detach", "--bundle", bundle, name],
                           stdin=subprocess.DEVNULL, stdout=log, stderr=log, check=True)
        self.containers.append(name)
        deadline = time.monotonic() + 30
        while subprocess.run([self.ctl, "-c", listen, "status"],
                             capture_output=True).returncode != 0:
            if time.monotonic() > deadline:
                raise SystemExit(f"kbs-bench: agent {name} did not answer")
            time.sleep(0.05)
        return listen

    def pull(self, listen, ref, cid):
        t0 = time.monotonic()
        run(self.ctl, "-c", listen, "-i", ref, "--cid", cid)
        return time.monotonic() - t0

    def cleanup(self):
        for name in self.containers:
            subprocess.run([self.rune, "--root", self.root, "delete", "--force", name],
                           capture_output=True)
        shutil.rmtree(self.pal_dir, ignore_errors=True)


def images(work, reg, n, layers, layer_mib, key):
    keys = work / "keys.json"
    keys.write_text(json.dumps({KEY_PATH: base64.b64encode(key).decode()}))
    refs = []
    for i in range(n):
        content = [[D(f"l{j}"), F(f"l{j}/data", os.urandom(layer_mib << 20))]
                   for j in range(layers)]
        plain = work / f"plain{i}"
        make_oci_image(plain, content, tag="t")
        run(REPO / "build/cmd/rune-image/rune-image", "encrypt", "--offline-fs-keys", keys,
            "--encryption-key", f"provider:attestation-agent:offline_fs_kbc::kbs:///{KEY_PATH}",
            f"oci:{plain}:t", f"oci:{work / f'enc{i}'}:t")
        push(work / f"enc{i}", "t", reg, repo=f"bench/enc{i}")
        refs.append(f"{reg.host}/bench/enc{i}:t")
    return refs, keys.read_text()


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=str(REPO / "build"))
    ap.add_argument("-n", type=int, default=10, help="images (default 10)")
    ap.add_argument("--layers", type=int, default=3, help="layers per image (default 3)")
    ap.add_argument("--layer-mib", type=int, default=4, help="MiB per layer (default 4)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("kbs-bench: run as root (containers)")
    build = Path(args.build).resolve()
    work = Path(tempfile.mkdtemp(prefix="rune-kbs-bench-", dir="/dev/shm"))
    b = Bench(build, work)
    try:
        with Registry(tmp_parent=work) as reg:
            key = secrets.token_bytes(32)
            refs, keys = images(work, reg, args.n, args.layers, args.layer_mib, key)
            agent_bin = (build / "cmd/enclave-agent/enclave-agent").read_bytes()
            mrenclave = hashlib.sha256(b"rune-skeleton-sim-enclave\0" +
                                       struct.pack("<Q", len(agent_bin)) + agent_bin).hexdigest()
            with kbsmod.KBS(policy={"insecure_allow_simulated": True,
                                    "tcb": {"allow_unknown": True},
                                    "enclave": {"mrenclave": [mrenclave]}}) as kbs:
                kbs.add_resource(KEY_PATH, key)
                via_kbs = b.agent("bench-kbs", f"provider:attestation-agent:cc_kbc::{kbs.url}")
                local = b.agent("bench-local",
                                "provider:attestation-agent:offline_fs_kbc::null", keys)
                from cryptography.hazmat.primitives import serialization
                pem = Path("/var/lib/rune/sim-attestation-key.pem").read_bytes()
                kbs.set_sim_key(serialization.load_pem_private_key(pem, None).public_key())
                times = {"kbs": [], "local": []}
                for i, ref in enumerate(refs):
                    order = [("kbs", via_kbs), ("local", local)]
                    for name, listen in order if i % 2 == 0 else reversed(order):
                        times[name].append(b.pull(listen, ref, f"c{i}"))
                c = kbs.counters
    finally:
        b.cleanup()
        shutil.rmtree(work, ignore_errors=True)

    mib = args.layers * args.layer_mib
    print(f"{args.n} encrypted images of {args.layers} layers x {args.layer_mib} MiB "
          f"({mib} MiB each), pulled by two enclave agents, interleaved\n")
    print(f"{'key from':<28} {'first pull':>12} {'median of the rest':>20}")
    for name, label in (("kbs", "KBS (cc_kbc, attested)"),
                        ("local", "local file (offline_fs_kbc)")):
        t = times[name]
        print(f"{label:<28} {t[0] * 1e3:>9.1f} ms {statistics.median(t[1:]) * 1e3:>17.1f} ms")
    print(f"\nratio kbs/local: first {times['kbs'][0] / times['local'][0]:.2f}, "
          f"rest {statistics.median(times['kbs'][1:]) / statistics.median(times['local'][1:]):.2f}")
    print(f"KBS requests for {args.n} pulls ({args.n * args.layers} layers): "
          f"auth {c['auth']}, attest {c['attest']}, resource {c['resource']} "
          f"({c['resource'] / args.n:.1f} per pull)")


if __name__ == "__main__":
    main()
