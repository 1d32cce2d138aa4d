#!/usr/bin/python3
"""rune beside crun and runc on one busybox bundle: start-up latency, lifecycle throughput and
peak memory. Prints figures, medians and ratios; never passes or fails on time.

    sudo /usr/bin/python3 bench/runtime-bench.py [-n 50] [--loops 100]
                                                 [--runtimes rune,rune-enclave,crun,runc]

A runtime given as name=path is that binary under that name (to compare two builds of rune).
rune-enclave is rune running the same payload as an enclave container through
liberpal-skeleton.so (simulated backend): what the PAL path costs beside a plain container.

See bench/README.md for what is measured and how to read it. Exit status: 0, or 1 if a runtime
that is installed fails to run the bundle.
"""

import argparse
import ctypes
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
CLONE_NEWNS = 0x00020000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
MNT_DETACH = 2
HYBRID_MSG = "cgroups in hybrid mode not supported"
TIME = "/usr/bin/time"

libc = ctypes.CDLL(None, use_errno=True)


# ------------------------------------------------------------------------------ launching


def hide_cgroup2():
    """Move into a new mount namespace in which /sys/fs/cgroup/unified is not mounted (the host
    is not touched): crun 1.8.1 then sees plain cgroup v1 instead of refusing hybrid mode."""
    return (libc.unshare(CLONE_NEWNS) == 0
            and libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) == 0
            and libc.umount2(b"/sys/fs/cgroup/unified", MNT_DETACH) == 0)


def timed_run(argv, stdout):
    """Start argv (posix_spawn path: no pre-exec hook), wait, return its status and wall time."""
    with tempfile.TemporaryFile() as err, \
            open(stdout, "wb") if stdout else open(os.devnull, "wb") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        proc.wait()
        wall = time.perf_counter() - t0
        err.seek(0)
        return {"rc": proc.returncode, "wall": wall,
                "err": err.read().decode(errors="replace").strip()}


class Launcher:
    """A forked helper that starts and times one runtime's commands.

    Every runtime gets one, so all are started the same way; crun's lives in a mount namespace
    without the cgroup2 mount. Timing happens in the helper around a plain Popen: a pre-exec
    hook (needed to setns per command) would force a full fork of Python, ~7 ms per spawn."""

    def __init__(self, hide_unified=False):
        req_r, req_w = os.pipe()
        res_r, res_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                # Hold no other launcher's pipe ends: a sibling's request pipe kept open
                # here would stop it from ever seeing EOF, and its close() would hang.
                for fd in [int(f) for f in os.listdir("/proc/self/fd")]:
                    if fd > 2 and fd not in (req_r, res_w):
                        try:
                            os.close(fd)
                        except OSError:
                            pass
                with os.fdopen(req_r) as req, os.fdopen(res_w, "w") as res:
                    ok = hide_cgroup2() if hide_unified else True
                    res.write(json.dumps({"ok": ok}) + "\n")
                    res.flush()
                    for line in req:
                        cmd = json.loads(line)
                        res.write(json.dumps(timed_run(cmd["argv"], cmd["stdout"])) + "\n")
                        res.flush()
            finally:
                os._exit(0)
        os.close(req_r)
        os.close(res_w)
        self.pid = pid
        self.req = os.fdopen(req_w, "w")
        self.res = os.fdopen(res_r)
        self.ok = json.loads(self.res.readline())["ok"]

    def run(self, argv, stdout=None):
        self.req.write(json.dumps({"argv": [str(a) for a in argv],
                                   "stdout": str(stdout) if stdout else None}) + "\n")
        self.req.flush()
        return json.loads(self.res.readline())

    def close(self):
        self.req.close()
        self.res.close()
        os.waitpid(self.pid, 0)


# ------------------------------------------------------------------------------ runtimes


class Runtime:
    def __init__(self, name, binary, workdir):
        self.name = name
        self.binary = binary
        self.root = workdir / f"root-{name}"
        self.launcher = Launcher()
        self.note = ""
        self.version = ""
        self.twin = ""  # "-enclave": use the enclave twins of the bundles

    def spawn(self, *args, prefix=(), stdout=None):
        """Run one command; return (exit status, wall seconds, stderr)."""
        r = self.launcher.run([*prefix, self.binary, "--root", self.root, *args], stdout)
        return r["rc"], r["wall"], r["err"]

    def must(self, *args):
        rc, wall, msg = self.spawn(*args)
        if rc != 0:
            raise RuntimeError(f"{self.name} {' '.join(args)}: exit {rc}: {msg}")
        return wall

    def peak_rss(self, *args):
        """ru_maxrss (KiB) of the command as reported by /usr/bin/time -- the largest of the
        runtime process and the descendants it reaped. Not measured from Python directly: a
        child forked (or vforked) from Python starts with Python's resident set, and ru_maxrss
        keeps the high-water mark across execve."""
        with tempfile.NamedTemporaryFile(mode="r") as out:
            rc, _, msg = self.spawn(*args, prefix=(TIME, "-f", "%M", "-o", out.name))
            if rc != 0:
                raise RuntimeError(f"{self.name} {' '.join(args)}: exit {rc}: {msg}")
            return int(out.read().split()[-1])

    def cleanup(self):
        if self.root.is_dir():
            for cid in os.listdir(self.root):
                self.spawn("delete", "--force", cid)
        self.launcher.close()


def version_of(binary):
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30)
        return out.stdout.splitlines()[0] if out.stdout else "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


# ------------------------------------------------------------------------------ bundle


def enclave_twin(path, config, pal):
    """The same container as an enclave container run through the skeleton PAL."""
    twin = Path(str(path) + "-enclave")
    twin.mkdir()
    c = json.loads(json.dumps(config))
    c["root"]["path"] = str(workdir_rootfs(path))
    c["process"]["env"] = c["process"].get("env", []) + [
        "ENCLAVE_TYPE=simulated", f"ENCLAVE_RUNTIME_PATH={pal}", "ENCLAVE_RUNTIME_LOGLEVEL=off"]
    (twin / "config.json").write_text(json.dumps(c, indent=2))


def workdir_rootfs(path):
    return path.parent / "bundle" / "rootfs"


def make_bundle(workdir, spec_source, pal=None):
    bundle = workdir / "bundle"
    bindir = bundle / "rootfs" / "bin"
    bindir.mkdir(parents=True)
    busybox = shutil.which("busybox", path="/bin:/usr/bin") or "/bin/busybox"
    shutil.copy2(busybox, bindir / "busybox")
    for applet in ("sh", "true"):
        os.symlink("busybox", bindir / applet)
    for d in ("proc", "sys", "dev", "tmp"):
        (bundle / "rootfs" / d).mkdir()
    subprocess.run([spec_source, "spec"], cwd=bundle, check=True, capture_output=True)
    config = json.loads((bundle / "config.json").read_text())
    config["process"]["terminal"] = False
    config["process"]["args"] = ["/bin/true"]
    (bundle / "config.json").write_text(json.dumps(config, indent=2))
    if pal:
        enclave_twin(bundle, config, pal)
    # A twin bundle on the same rootfs whose payload proves that it ran.
    probe = workdir / "probe"
    probe.mkdir()
    config["root"]["path"] = str(bundle / "rootfs")
    config["process"]["args"] = ["sh", "-c", "echo bench-probe-ok"]
    (probe / "config.json").write_text(json.dumps(config, indent=2))
    if pal:
        enclave_twin(probe, config, pal)
    return bundle


# ------------------------------------------------------------------------------ measuring


def check_run(rt, bundle, cid):
    """A run of the probe bundle: (exit status, message); the payload's output must show."""
    with tempfile.NamedTemporaryFile() as out:
        probe_dir = Path(str(bundle.parent / "probe") + rt.twin)
        rc, _, msg = rt.spawn("run", "--bundle", probe_dir, cid, stdout=out.name)
        if rc == 0 and out.read() != b"bench-probe-ok\n":
            return 1, "the container's payload did not run (no output)"
    return rc, msg


def probe(rt, bundle):
    """One checked run; for crun, fall back to a mount namespace without the cgroup2 mount."""
    rc, msg = check_run(rt, bundle, f"probe-{os.getpid()}")
    if rc == 0:
        return None
    if rt.name == "crun" and HYBRID_MSG in msg:
        rt.launcher.close()
        rt.launcher = Launcher(hide_unified=True)
        if rt.launcher.ok:
            rc, msg2 = check_run(rt, bundle, f"probe2-{os.getpid()}")
            if rc == 0:
                rt.note = ("crun 1.8.1 refuses hybrid cgroups (\"" + msg.splitlines()[-1] +
                           "\"); measured in a private mount namespace where "
                           "/sys/fs/cgroup/unified is unmounted, so crun runs in plain v1 "
                           "mode (no cgroup2 membership, unlike rune and runc)")
                return None
            msg = msg2
    return msg


def percentile(values, p):
    values = sorted(values)
    k = (len(values) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def interleaved(runtimes, count):
    """(iteration, runtime) pairs, the starting runtime rotating each iteration."""
    for i in range(count):
        for j in range(len(runtimes)):
            yield i, runtimes[(i + j) % len(runtimes)]


def bench(runtimes, bundle, n, loops, warmup, rss_runs):
    results = {rt.name: {"run": [], "rss": [], "cycle": []} for rt in runtimes}
    tag = os.getpid()
    b = {rt.name: str(bundle) + rt.twin for rt in runtimes}
    for i, rt in interleaved(runtimes, warmup):
        rt.must("run", "--bundle", b[rt.name], f"warm-{tag}-{i}")
    for i, rt in interleaved(runtimes, n):
        results[rt.name]["run"].append(rt.must("run", "--bundle", b[rt.name], f"run-{tag}-{i}"))
    for i, rt in interleaved(runtimes, rss_runs):
        results[rt.name]["rss"].append(rt.peak_rss("run", "--bundle", b[rt.name],
                                                   f"rss-{tag}-{i}"))
    for i, rt in interleaved(runtimes, loops):
        cid = f"cyc-{tag}-{i}"
        t0 = time.perf_counter()
        rt.must("create", "--bundle", b[rt.name], cid)
        rt.must("start", cid)
        rt.must("delete", "--force", cid)
        results[rt.name]["cycle"].append(time.perf_counter() - t0)
    return results


# ------------------------------------------------------------------------------ report


def report(runtimes, results, n, loops, rss_runs):
    rows = []
    for rt in runtimes:
        r = results[rt.name]
        rows.append({
            "name": rt.name + (" *" if rt.note else ""),
            "run_med": statistics.median(r["run"]) * 1e3,
            "run_p90": percentile(r["run"], 90) * 1e3,
            "cycle_total": sum(r["cycle"]),
            "cycle_med": statistics.median(r["cycle"]) * 1e3,
            "rss_med": statistics.median(r["rss"]) / 1024,
            "rss_max": max(r["rss"]) / 1024,
        })
    print(f"\nrun: `run` of /bin/true, x{n} | cycle: create+start+delete --force, x{loops} | "
          f"RSS: peak RSS during `run` from /usr/bin/time %M (ru_maxrss: the largest of the "
          f"runtime process and the descendants it reaped), x{rss_runs}\n")
    hdr = (f"{'runtime':<14} {'run median':>11} {'run p90':>9} {'cycle total':>12} "
           f"{'cycle median':>13} {'RSS median':>11} {'RSS max':>9}")
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        print(f"{r['name']:<14} {r['run_med']:>8.1f} ms {r['run_p90']:>6.1f} ms "
              f"{r['cycle_total']:>10.2f} s {r['cycle_med']:>10.1f} ms "
              f"{r['rss_med']:>7.1f} MiB {r['rss_max']:>5.1f} MiB")
    by_name = {rt.name: row for rt, row in zip(runtimes, rows)}
    if "rune" in by_name:
        print()
        for name in [n for n in by_name if n.startswith("rune-")]:
            a, b = by_name[name], by_name["rune"]
            print(f"{name}/rune: run median {a['run_med'] / b['run_med']:.2f}x, "
                  f"cycle total {a['cycle_total'] / b['cycle_total']:.2f}x, "
                  f"RSS median {a['rss_med'] / b['rss_med']:.2f}x")
        for peer in ("crun", "runc"):
            if peer in by_name:
                a, b = by_name["rune"], by_name[peer]
                print(f"rune/{peer}: run median {a['run_med'] / b['run_med']:.2f}x, "
                      f"cycle total {a['cycle_total'] / b['cycle_total']:.2f}x, "
                      f"RSS median {a['rss_med'] / b['rss_med']:.2f}x")
    for rt in runtimes:
        if rt.note:
            print(f"\n* {rt.note}")
    print("\nversions: " + "; ".join(f"{rt.name} = {rt.version}" for rt in runtimes))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", "--runs", type=int, default=50, help="`run` repetitions per runtime")
    ap.add_argument("--loops", type=int, default=100, help="create+start+delete cycles")
    ap.add_argument("--warmup", type=int, default=3, help="untimed runs per runtime first")
    ap.add_argument("--rss-runs", type=int, default=10, help="`run`s measured for peak RSS")
    ap.add_argument("--runtimes", default="rune,rune-enclave,crun,runc",
                    help="comma-separated, in order")
    ap.add_argument("--workdir", default="/dev/shm", help="where the bundle and state live")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("runtime-bench: needs root")
    if not os.access(TIME, os.X_OK):
        sys.exit(f"runtime-bench: needs {TIME} (apt-get install time) for peak RSS")

    workdir = Path(tempfile.mkdtemp(prefix="rune-bench-", dir=args.workdir))
    binaries = {"rune": os.environ.get("RUNE_BIN") or str(REPO / "build/cmd/rune/rune"),
                "crun": shutil.which("crun"), "runc": shutil.which("runc")}
    binaries["rune-enclave"] = binaries["rune"]
    built_pal = Path(binaries["rune"]).resolve().parents[2] / "pal/skeleton/liberpal-skeleton.so"
    # rune loads PALs only from trusted directories: the skeleton is installed in one under
    # /run for the run, and rune learns it from RUNE_ENCLAVE_RUNTIME_DIRS.
    pal_dir = Path(tempfile.mkdtemp(prefix="rune-bench-pal-", dir="/run"))
    pal_dir.chmod(0o755)
    pal = pal_dir / built_pal.name
    if built_pal.exists():
        shutil.copyfile(built_pal, pal)
        pal.chmod(0o755)
    os.environ["RUNE_ENCLAVE_RUNTIME_DIRS"] = str(pal_dir)
    runtimes, failed, dropped = [], [], []
    try:
        for name in args.runtimes.split(","):
            # name=path measures another build, e.g. rune-before=/tmp/old/build/cmd/rune/rune
            name, _, path = name.partition("=")
            binary = path or binaries.get(name) or shutil.which(name)
            if not binary or not os.access(binary, os.X_OK):
                print(f"{name}: not installed ({binary or 'not on PATH'}), skipped")
                continue
            if name == "rune-enclave" and not pal.exists():
                print(f"{name}: no skeleton PAL at {built_pal}, skipped")
                continue
            rt = Runtime(name, binary, workdir)
            rt.twin = "-enclave" if name == "rune-enclave" else ""
            rt.version = version_of(binary)
            runtimes.append(rt)
        if not runtimes:
            sys.exit("runtime-bench: no runtime to measure")
        # One config for everyone, from a reference runtime's `spec` when available.
        spec_source = binaries["runc"] or runtimes[0].binary
        bundle = make_bundle(workdir, spec_source, pal if pal.exists() else None)
        print(f"bundle: {bundle} (busybox, args [/bin/true], terminal false, config from "
              f"`{Path(spec_source).name} spec`: pid/net/ipc/uts/mount namespaces)")
        for rt in list(runtimes):
            err = probe(rt, bundle)
            if err:
                print(f"{rt.name}: cannot run the bundle: {err}")
                failed.append(rt.name)
                runtimes.remove(rt)
                dropped.append(rt)
        if runtimes:
            results = bench(runtimes, bundle, args.runs, args.loops, args.warmup, args.rss_runs)
            report(runtimes, results, args.runs, args.loops, args.rss_runs)
    except RuntimeError as e:
        print(f"error: {e}")
        failed.append("measurement")
    finally:
        for rt in runtimes + dropped:
            rt.cleanup()
        shutil.rmtree(workdir, ignore_errors=True)
        shutil.rmtree(pal_dir, ignore_errors=True)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
        sys.exit(1)


if __name__ == "__main__":
    main()
