#!/usr/bin/python3
"""Container start latency through containerd, with the rune shim beside containerd's runc shim,
and each shim's resident memory per container.

A private containerd (its own root, state and sockets, in a private mount namespace with a tmpfs
over /run/containerd) runs `ctr run --rm --rootfs BUSYBOX ID /bin/true` --runs times for each of:

  runc-shim+runc   io.containerd.runc.v2 driving runc (containerd's default)
  runc-shim+rune   io.containerd.runc.v2 driving rune (--runc-binary)
  rune-shim+rune   io.containerd.rune.v2 (containerd-shim-rune-v2) driving rune

interleaved, and prints the medians and the ratio of each to runc-shim+runc and of the rune
shim to the runc shim driving the same rune (target: at or below 1.0). Then it starts --idle
detached containers (`sleep`) per shim, and prints the shims' summed resident memory (VmRSS)
divided by the containers, and the shims' process count (containerd starts one shim per
container unless they share a group).

    sudo /usr/bin/python3 bench/shim-bench.py [--build DIR] [--runs N] [--idle N]
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "integration"))
from containerd_env import config as containerd_config  # noqa: E402


def reexec_private():
    """Run again in a private mount namespace, with a tmpfs over /run/containerd (shim
    sockets and FIFOs), so that nothing lands in the host's."""
    if os.environ.get("SHIM_BENCH_PRIVATE") == "1":
        subprocess.run(["mount", "--make-rprivate", "/"], check=True)
        os.makedirs("/run/containerd", exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "tmpfs", "/run/containerd"], check=True)
        return
    env = dict(os.environ, SHIM_BENCH_PRIVATE="1")
    os.execvpe("unshare", ["unshare", "-m", sys.executable, *sys.argv], env)


def busybox_rootfs(path):
    (path / "bin").mkdir(parents=True)
    shutil.copy2(shutil.which("busybox") or "/bin/busybox", path / "bin/busybox")
    for applet in ("sh", "true", "sleep"):
        os.symlink("busybox", path / "bin" / applet)
    for d in ("proc", "sys", "dev", "tmp", "etc"):
        (path / d).mkdir()


def rss_kib(pid):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def shim_pids(name, ns="shimbench"):
    """This run's shim daemons of program name (comm cuts both names to 15 bytes)."""
    pids = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                argv = (p / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            # the daemons only: not a start or delete action passing by
            if os.path.basename(argv[0].decode(errors="replace")) == name and \
                    ns.encode() in argv and b"start" not in argv and b"delete" not in argv:
                pids.append(int(p.name))
    return pids


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=str(REPO / "build"))
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--idle", type=int, default=10)
    args = ap.parse_args()
    build = Path(args.build).resolve()
    rune = build / "cmd/rune/rune"
    shim_dir = build / "cmd/containerd-shim-rune-v2"
    for need in (rune, shim_dir / "containerd-shim-rune-v2"):
        if not need.exists():
            sys.exit(f"shim-bench: {need} not built")
    for tool in ("containerd", "ctr", "runc", "busybox"):
        if not shutil.which(tool):
            sys.exit(f"shim-bench: {tool} is not installed")
    reexec_private()

    base = Path(tempfile.mkdtemp(prefix="shim-bench-", dir="/dev/shm"))
    daemon = None
    ns = "shimbench"
    try:
        (base / "config.toml").write_text(containerd_config(base))
        settings = base / "shim.json"
        settings.write_text(json.dumps({"rune": str(rune), "root": str(base / "rune-root")}))
        rootfs = base / "rootfs"
        busybox_rootfs(rootfs)
        env = dict(os.environ, PATH=f"{shim_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}")
        log = open(base / "containerd.log", "wb")
        daemon = subprocess.Popen(["containerd", "--config", str(base / "config.toml")],
                                  stdout=log, stderr=log, env=env, start_new_session=True)
        ctr = ["ctr", "-a", str(base / "containerd.sock"), "-n", ns]
        for _ in range(600):
            if subprocess.run(ctr + ["version"], capture_output=True).returncode == 0:
                break
            time.sleep(0.1)
        else:
            sys.exit("shim-bench: containerd did not answer")

        variants = {
            "runc-shim+runc": ["--runtime", "io.containerd.runc.v2", "--runc-root",
                               str(base / "runc-root")],
            "runc-shim+rune": ["--runtime", "io.containerd.runc.v2", "--runc-binary",
                               str(rune), "--runc-root", str(base / "rune-root2")],
            "rune-shim+rune": ["--runtime", "io.containerd.rune.v2",
                               "--runtime-config-path", str(settings)],
        }
        times = {k: [] for k in variants}
        n = 0
        for i in range(args.runs + 1):  # the first round warms caches and is dropped
            for name, flags in variants.items():
                n += 1
                argv = ctr + ["run", "--rm", *flags, "--rootfs", str(rootfs), f"b{n}",
                              "/bin/true"]
                t = time.perf_counter()
                res = subprocess.run(argv, capture_output=True, text=True)
                dt = time.perf_counter() - t
                if res.returncode != 0:
                    sys.exit(f"shim-bench: {name}: {res.stderr.strip()}")
                if i:
                    times[name].append(dt)
        base_med = statistics.median(times["runc-shim+runc"])
        print(f"ctr run --rm /bin/true, medians of {args.runs}:")
        for name, ts in times.items():
            med = statistics.median(ts)
            print(f"  {name:16} {med * 1000:7.1f} ms   {med / base_med:5.2f}x runc-shim+runc")
        ratio = statistics.median(times["rune-shim+rune"]) / statistics.median(
            times["runc-shim+rune"])
        print(f"  rune shim / runc shim, both driving rune: {ratio:.2f} (target <= 1.0)")

        print(f"\nresident memory of the shims, {args.idle} idle containers each:")
        for name, shim_name in (("runc-shim+runc", "containerd-shim-runc-v2"),
                                ("rune-shim+rune", "containerd-shim-rune-v2")):
            ids = [f"idle-{name.replace('+', '-')}-{k}" for k in range(args.idle)]
            for cid in ids:
                res = subprocess.run(ctr + ["run", "-d", "--null-io", *variants[name],
                                            "--rootfs", str(rootfs), cid, "/bin/sleep",
                                            "3600"], capture_output=True, text=True)
                if res.returncode != 0:
                    sys.exit(f"shim-bench: {name}: {res.stderr.strip()}")
            time.sleep(1)
            pids = shim_pids(shim_name)
            total = sum(rss_kib(p) for p in pids)
            print(f"  {name:16} {total / args.idle:8.0f} KiB per container "
                  f"({len(pids)} shim processes, {total} KiB in all)")
            for cid in ids:
                subprocess.run(ctr + ["tasks", "kill", "-s", "SIGKILL", cid],
                               capture_output=True)
            for cid in ids:
                for _ in range(100):
                    if subprocess.run(ctr + ["tasks", "delete", cid],
                                      capture_output=True).returncode == 0:
                        break
                    time.sleep(0.05)
                subprocess.run(ctr + ["containers", "delete", cid], capture_output=True)
    finally:
        if daemon:
            daemon.terminate()
            daemon.wait(30)
        for name in ("containerd-shim-runc-v2", "containerd-shim-rune-v2"):
            for pid in shim_pids(name, ns):
                try:
                    os.kill(pid, 9)
                except OSError:
                    pass
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
