#!/usr/bin/python3
"""The end-to-end demo, on an embedded default: a local registry on 127.0.0.1 seeded with an
image built here, encrypted by `rune-image encrypt` for a key that only a key broker (KBS, on
127.0.0.1) holds, and signed by `rune-image sign` (a cosign signature, P-256 key made here); the
enclave-agent started by rune as an enclave container (skeleton PAL, simulated backend) with
security_validate on, a policy that wants that signature, and the cc_kbc key broker client; a
pull through the agent with agent-ctl, for which the agent attests to the KBS (simulated
evidence of its enclave, bound to the KBS's nonce) and gets the image key, and unpacks the
layers straight into its encrypted, integrity-protected store (key sealed to its enclave
identity; nothing of the image readable on the host disk); an unsigned image refused; the
image's view, served by the agent through FUSE, mounted as the app's rootfs; the app run by
rune from it, as an enclave container too; everything cleaned up.

    demo.py [--build DIR | --installed]

scripts/demo.sh builds the tree and runs this on the build (--build, the default in the source
tree). Installed (`meson install`, or the Debian package), it runs from the installed files:
<datadir>/rune/demo/demo.py, with the programs and the skeleton PAL where installed.json next to
it says they are (--installed, the default there); rune then trusts the PAL without being told,
since it is in rune's own PAL directory.

Everything listens on 127.0.0.1 only. Exit status 0 when every step worked.
"""

import argparse
import base64
import dataclasses
import hashlib
import json
import secrets
import struct
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
# Installed, the helpers are next to this file; in the source tree the registry helper is with
# the integration tests. Nothing is cached next to them (an installed copy belongs to dpkg).
sys.dont_write_bytecode = True
sys.path[:0] = [str(HERE), str(REPO / "tests" / "integration")]
from agent_bundle import mounts_under  # noqa: E402
from registry import D, F, Registry, S, free_port, make_oci_image, push  # noqa: E402
import kbs as kbsmod  # noqa: E402

IMAGE_KEY = "default/image-key/hello"  # the KBS resource holding the image's key

BUSYBOX = shutil.which("busybox", path="/bin:/usr/bin") or "/bin/busybox"
HELLO = """#!/bin/sh
echo "$GREETING from $(cat /etc/demo-release), pid $$ in its own namespaces"
echo "rootfs: $(ls / | tr '\\n' ' ')"
"""


def step(text):
    print(f"\n== {text}", flush=True)


def run(*argv, check=True, **kw):
    res = subprocess.run([str(a) for a in argv], text=True, capture_output=True, **kw)
    if check and res.returncode != 0:
        raise SystemExit(f"demo: {' '.join(map(str, argv))} failed ({res.returncode}):\n"
                         f"{res.stdout}{res.stderr}")
    return res


def sample_image(work):
    """demo/hello: busybox in one layer, the app in another; built here, not downloaded."""
    applets = run(BUSYBOX, "--list").stdout.split()
    base = [D("bin"), F("bin/busybox", Path(BUSYBOX).read_bytes(), mode=0o755)]
    base += [S(f"bin/{a}", "busybox") for a in applets if a != "busybox" and "/" not in a]
    base += [D("etc"), D("tmp", mode=0o1777), D("proc"), D("sys"), D("dev")]
    app = [D("app"), F("app/hello.sh", HELLO.encode(), mode=0o755),
           F("etc/demo-release", b"the rune demo image 1.0\n")]
    return make_oci_image(work / "image", [base, app], tag="1", config={
        "Entrypoint": ["/app/hello.sh"], "Env": ["PATH=/bin", "GREETING=hello"],
        "WorkingDir": "/"})


@dataclasses.dataclass
class Programs:
    """The programs the demo runs and the skeleton PAL: a meson build's, or the installed ones."""
    rune: Path
    rune_image: Path
    agent: Path
    agent_ctl: Path
    skeleton: Path
    pal_trusted: bool  # in a directory rune trusts by default

    @classmethod
    def build_tree(cls, build):
        return cls(rune=build / "cmd/rune/rune", rune_image=build / "cmd/rune-image/rune-image",
                   agent=build / "cmd/enclave-agent/enclave-agent",
                   agent_ctl=build / "cmd/agent-ctl/agent-ctl",
                   skeleton=build / "pal/skeleton/liberpal-skeleton.so", pal_trusted=False)

    @classmethod
    def installed(cls, paths):
        """Where installed.json (written by meson install) says the programs are."""
        where = {k: Path(v) for k, v in json.loads(paths.read_text()).items()}
        return cls(rune=where["bindir"] / "rune", rune_image=where["bindir"] / "rune-image",
                   agent=where["sbindir"] / "enclave-agent",
                   agent_ctl=where["bindir"] / "agent-ctl",
                   skeleton=where["paldir"] / "liberpal-skeleton.so", pal_trusted=True)

    def check(self):
        for field in dataclasses.fields(self):
            path = getattr(self, field.name)
            if isinstance(path, Path) and not os.access(path, os.R_OK):
                raise SystemExit(f"demo: {path}: not found")


class Demo:
    def __init__(self, programs, work):
        self.work = work
        self.rune, self.rune_image = programs.rune, programs.rune_image
        self.agent, self.agent_ctl = programs.agent, programs.agent_ctl
        self.root = work / "rune-state"
        self.containers, self.mounted = [], []
        if programs.pal_trusted:
            self.pal_dir, self.pal = None, programs.skeleton
        else:
            # rune loads a PAL only from a root-owned directory it trusts (by default where
            # `meson install` puts the skeleton, and the system library directories): the
            # build's skeleton goes to a directory of the demo's own under /run, which rune is
            # told to trust.
            self.pal_dir = Path(tempfile.mkdtemp(prefix="rune-demo-pal-", dir="/run"))
            self.pal_dir.chmod(0o755)
            self.pal = self.pal_dir / "liberpal-skeleton.so"
            shutil.copyfile(programs.skeleton, self.pal)
            self.pal.chmod(0o755)

    def rune_argv(self):
        trust = ["--enclave-runtime-dirs", self.pal_dir] if self.pal_dir else []
        return [self.rune, "--root", self.root, *trust]

    def rune_cmd(self, *args, **kw):
        return run(*self.rune_argv(), *args, **kw)

    def sign(self, ref):
        """A P-256 key pair made here; ref signed with it in its registry (cosign format)."""
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        key = ec.generate_private_key(ec.SECP256R1())
        self.key = self.work / "cosign.key"
        self.pub = self.work / "cosign.pub"
        self.key.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                               serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        self.key.chmod(0o600)
        self.pub.write_bytes(key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
        return run(self.rune_image, "sign", "--cosign-key", self.key, ref).stdout.strip()

    def policy(self, host):
        """The agent's policy: images from this registry need a cosign signature by the demo's
        key; everything else is refused. Its registries.d reads .sig attachments there."""
        self.policy_file = self.work / "policy.json"
        self.policy_file.write_text(json.dumps({
            "default": [{"type": "reject"}],
            "transports": {"docker": {host: [{
                "type": "sigstoreSigned", "keyPath": "/etc/containers/keys/cosign.pub",
                "signedIdentity": {"type": "matchRepository"}}]}}}, indent=2))
        self.registries_d = self.work / "registries.yaml"
        self.registries_d.write_text(json.dumps(
            {"docker": {host: {"use-sigstore-attachments": True}}}))

    def encrypt(self, image):
        """The image encrypted for a fresh 32-byte key named kbs:///IMAGE_KEY; the key file is
        removed once the KBS has the key."""
        self.image_key = secrets.token_bytes(32)
        keys = self.work / "offline-fs-keys.json"
        keys.write_text(json.dumps({IMAGE_KEY: base64.b64encode(self.image_key).decode()}))
        out = self.work / "image-encrypted"
        run(self.rune_image, "encrypt", "--offline-fs-keys", keys,
            "--encryption-key",
            f"provider:attestation-agent:offline_fs_kbc::kbs:///{IMAGE_KEY}",
            f"oci:{image['path']}:1", f"oci:{out}:1")
        keys.unlink()
        return out

    def start_kbs(self):
        """The KBS: the image key, released only to an enclave that attests as the agent
        binary (its simulated measurement, computed from its bytes as the skeleton does)."""
        agent = self.agent.read_bytes()
        mrenclave = hashlib.sha256(b"rune-skeleton-sim-enclave\0" +
                                   struct.pack("<Q", len(agent)) + agent).hexdigest()
        self.kbs = kbsmod.KBS(policy={
            "insecure_allow_simulated": True, "tcb": {"allow_unknown": True},
            "enclave": {"mrenclave": [mrenclave]}})
        self.kbs.add_resource(IMAGE_KEY, self.image_key)
        return mrenclave

    def trust_machine_key(self):
        """The KBS verifies simulated evidence with this machine's simulated attestation key
        (its public half), which exists once an enclave container was created."""
        from cryptography.hazmat.primitives import serialization
        pem = Path("/var/lib/rune/sim-attestation-key.pem").read_bytes()
        self.kbs.set_sim_key(serialization.load_pem_private_key(pem, None).public_key())

    def start_agent(self, listen):
        bundle = self.work / "agent-bundle"
        run(sys.executable, HERE / "agent_bundle.py", "--rune", self.rune, "--agent", self.agent,
            "--out", bundle, "--listen", listen, "--pal", self.pal,
            "--policy", self.policy_file, "--registries-d", self.registries_d,
            "--key", self.pub,
            "--key-provider", f"provider:attestation-agent:cc_kbc::{self.kbs.url}",
            "--agent-arg=--store-key=sealed")
        log = open(self.work / "agent.log", "wb")
        self.containers.append("demo-agent")
        subprocess.run([*self.rune_argv(), "run", "--detach", "--bundle", bundle,
                        "demo-agent"], stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                       check=True)
        deadline = time.monotonic() + 30
        while run(self.agent_ctl, "-c", listen, "status", check=False).returncode != 0:
            if time.monotonic() > deadline:
                raise SystemExit("demo: the agent did not answer within 30 s:\n" +
                                 (self.work / "agent.log").read_text(errors="replace"))
            time.sleep(0.1)
        return bundle

    def cleanup(self):
        if getattr(self, "kbs", None):
            self.kbs.stop()
        # the views first, while the agent that serves them runs (it drops their writable
        # layers), then the containers
        for target, agent_root in reversed(self.mounted):
            run(self.agent_ctl, "umount", "--agent-root", agent_root, target, check=False)
        for cid in reversed(self.containers):
            self.rune_cmd("delete", "--force", cid, check=False)
        if self.pal_dir:
            shutil.rmtree(self.pal_dir, ignore_errors=True)


def demo(programs, work):
    d = Demo(programs, work)
    try:
        step("a local registry on 127.0.0.1, seeded with demo/hello:1 built here")
        with Registry(tmp_parent=work) as reg:
            image = sample_image(work)
            step(f"rune-image encrypt for kbs:///{IMAGE_KEY}, a key only the KBS keeps")
            encrypted = d.encrypt(image)
            push(encrypted, "1", reg, repo="demo/hello")
            ref = f"{reg.host}/demo/hello:1"
            print(f"pushed {ref} ({len(image['layers'])} layers, encrypted)")
            step(f"rune-image sign --cosign-key cosign.key {ref}")
            print(d.sign(ref))
            push(encrypted, "1", reg, repo="demo/unsigned")  # the same image, unsigned
            d.policy(reg.host)
            mrenclave = d.start_kbs()
            print(f"KBS on {d.kbs.url}: releases {IMAGE_KEY} to the enclave "
                  f"MRENCLAVE {mrenclave[:16]}… (simulated evidence allowed: no SGX here)")
            print(f"enclave runtime: {d.pal} " + (
                f"(trusted with rune --enclave-runtime-dirs {d.pal_dir})" if d.pal_dir else
                "(where rune trusts PALs by default)"))

            listen = f"tcp://127.0.0.1:{free_port()}"
            step(f"enclave-agent started by rune as an enclave container, serving {listen}, "
                 "security_validate on, its store encrypted (key sealed to its enclave)")
            agent_bundle = d.start_agent(listen)
            d.trust_machine_key()
            state = json.loads(d.rune_cmd("state", "demo-agent").stdout)
            print(f"agent: {state['status']}, pid {state['pid']}, bundle {agent_bundle}")
            report = json.loads(d.rune_cmd("attest", "demo-agent").stdout)
            print(f"rune attest demo-agent: {report['type']}, "
                  f"MRENCLAVE {report['mr_enclave'][:16]}… (the agent binary), "
                  f"\"simulated\": {json.dumps(report['simulated'])}")

            step(f"agent-ctl -c {listen} -i {ref}")
            out = run(d.agent_ctl, "-c", listen, "-i", ref).stdout
            print(out.strip())
            c = d.kbs.counters
            (session,) = d.kbs.sessions()
            print(f"KBS: {c['attested']} attestation ({session['tee']}, MRENCLAVE "
                  f"{session['mr_enclave'][:16]}…), {c['resource']} key releases")
            if c["attested"] != 1:
                raise SystemExit("demo: the agent did not attest to the KBS")
            store = agent_bundle / "rootfs/var/lib/enclave-agent/encrypted"
            objects = [p for p in store.rglob("*") if p.is_file()]
            leaked = [p for p in objects if b"rune demo image" in p.read_bytes()]
            print(f"encrypted store: {len(objects)} files, "
                  f"{sum(p.stat().st_size for p in objects) >> 10} KiB; the image's text in "
                  f"none of them" if not leaked else f"demo: plaintext in {leaked[0]}")
            if leaked or not objects:
                raise SystemExit("demo: the layers are not in the encrypted store")
            cid = "hello_1"
            bad = f"{reg.host}/demo/unsigned:1"
            step(f"agent-ctl -c {listen} -i {bad} (not signed: refused)")
            res = run(d.agent_ctl, "-c", listen, "-i", bad, check=False)
            print((res.stdout + res.stderr).strip())
            if res.returncode == 0 or "PERMISSION_DENIED" not in res.stdout + res.stderr:
                raise SystemExit("demo: the agent did not refuse the unsigned image")

            step("the image's view, served by the agent (FUSE), mounted as the app's rootfs")
            app = work / "app"
            run(d.agent_ctl, "mount", "--agent-root", agent_bundle / "rootfs", cid, app)
            print(run("findmnt", "-n", "-o", "SOURCE,FSTYPE", app / "rootfs",
                      check=False).stdout.strip())
            d.mounted.append((app, agent_bundle / "rootfs"))
            print(f"{app}/rootfs: {' '.join(sorted(os.listdir(app / 'rootfs')))}")

            step("the app, run by rune as an enclave container")
            cfg = json.loads((app / "config.json").read_text())
            cfg["process"]["terminal"] = False
            cfg["process"]["env"] += [
                "ENCLAVE_TYPE=simulated", "ENCLAVE_RUNTIME_LOGLEVEL=error",
                f"ENCLAVE_RUNTIME_PATH={d.pal}"]
            (app / "config.json").write_text(json.dumps(cfg, indent=2))
            d.containers.append("demo-app")
            res = d.rune_cmd("run", "--bundle", app, "demo-app", check=False)
            d.containers.remove("demo-app")
            print(res.stdout + res.stderr, end="")
            if res.returncode != 0 or "hello from the rune demo image" not in res.stdout:
                raise SystemExit(f"demo: the app failed (exit {res.returncode})")
            print(f"app exited with status {res.returncode}")

            step("agent log")
            print(run("grep", "-m3", "pulling", work / "agent.log", check=False).stdout
                  .strip())
    finally:
        step("cleanup")
        d.cleanup()
    print("done")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", help="the meson build directory (default in the source tree: "
                                    "build/)")
    ap.add_argument("--installed", action="store_true",
                    help="the installed programs (the default of the installed copy)")
    args = ap.parse_args()
    installed = HERE / "installed.json"
    if args.build and args.installed:
        ap.error("--build or --installed, not both")
    if args.installed or (not args.build and installed.exists()):
        if not installed.exists():
            sys.exit(f"demo: --installed: no {installed}; run the installed demo.py "
                     "(<datadir>/rune/demo/demo.py)")
        programs = Programs.installed(installed)
    else:
        programs = Programs.build_tree(Path(args.build or REPO / "build").resolve())
    programs.check()
    if os.geteuid() != 0:
        sys.exit("demo: run as root (containers and mounts)")
    work = Path(tempfile.mkdtemp(prefix="rune-demo-"))
    try:
        demo(programs, work)
    finally:
        busy = mounts_under(work)
        if busy:
            print(f"demo: {busy[0]} is still mounted; leaving {work} in place")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
