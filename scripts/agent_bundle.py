#!/usr/bin/python3
"""Build the enclave-agent OCI bundle: a rootfs holding the agent, the shared libraries it
needs, its configuration files and CA certificates, and a config.json that starts it.

    agent_bundle.py [--build DIR | --agent PATH --rune PATH] [--out DIR] [--listen ADDR]
                    [--pal PATH | --no-enclave]
                    [--policy FILE [--registries-d FILE] [--key FILE]...]

`rune run --bundle OUT agent` then starts the agent, by default as an enclave container run
through liberpal-skeleton.so (simulated backend). rune loads a PAL only from a trusted
directory (docs/enclave.md): give --pal the skeleton where it is installed (`meson install`),
or tell rune where the build's copy is with `rune --enclave-runtime-dirs DIR` (a directory that
root owns all the way up). The agent keeps its store under
/var/lib/enclave-agent and lays out pulled images under /images/<container id>, both inside
the bundle's rootfs, so the host finds them at OUT/rootfs/...

With --policy, the agent runs with security_validate on (upstream's default): the policy is
/etc/containers/policy.json in the rootfs, --registries-d (one registries.d YAML file) is
/etc/containers/registries.d/default.yaml and each --key is copied to /etc/containers/keys/
under its own name, where the policy's keyPath must name it. Without, security_validate is off
(and the agent says so in its log).
"""

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

DECRYPT_CONFIG = {"key_provider": "provider:attestation-agent:offline_fs_kbc::null",
                  "security_validate": False}
OCICRYPT_CONFIG = {"key-providers": {"attestation-agent": {"native": "attestation-agent"}}}


def fail(msg):
    sys.exit(f"agent-bundle: {msg}")


def shared_libraries(binary):
    """Absolute paths of every library the dynamic linker loads for binary (ldd's closure)."""
    out = subprocess.run(["ldd", str(binary)], capture_output=True, text=True)
    if out.returncode != 0:
        fail(f"ldd {binary}: {out.stderr.strip() or out.stdout.strip()}")
    libs = []
    for line in out.stdout.splitlines():
        m = re.search(r"(?:=>\s*)?(/\S+)\s+\(0x", line)
        if m:
            libs.append(Path(m.group(1)))
        elif "not found" in line:
            fail(f"{binary}: {line.strip()}")
    return libs


def copy_into(rootfs, path):
    """Copy a host file to the same path under rootfs, following symlinks."""
    dest = rootfs / str(path).lstrip("/")
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(os.path.realpath(path), dest)


def mounts_under(path):
    """Mount points at or below path (never remove a tree with something mounted in it)."""
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4].encode().decode("unicode_escape")
            if point == str(path) or point.startswith(str(path) + "/"):
                found.append(point)
    return found


def set_decrypt_config(rootfs, **changes):
    path = rootfs / "etc/decrypt_config.conf"
    config = dict(json.loads(path.read_text()), **changes)
    path.write_text(json.dumps(config, indent=2) + "\n")


def add_policy(rootfs, policy, registries_d, keys):
    if policy.startswith("kbs://"):
        set_decrypt_config(rootfs, security_validate=True)  # the agent fetches it per pull
        return
    etc = rootfs / "etc/containers"
    (etc / "keys").mkdir(parents=True, exist_ok=True)
    (etc / "registries.d").mkdir(exist_ok=True)
    shutil.copyfile(policy, etc / "policy.json")
    if registries_d:
        shutil.copyfile(registries_d, etc / "registries.d/default.yaml")
    for key in keys:
        shutil.copyfile(key, etc / "keys" / Path(key).name)
    set_decrypt_config(rootfs, security_validate=True)


def make_rootfs(rootfs, agent):
    for d in ("bin", "dev", "proc", "sys", "tmp", "etc/ssl/certs", "images",
              "var/lib/enclave-agent", "run"):
        (rootfs / d).mkdir(parents=True, exist_ok=True)
    (rootfs / "tmp").chmod(0o1777)
    shutil.copy2(agent, rootfs / "bin" / "enclave-agent")
    for lib in shared_libraries(agent):
        copy_into(rootfs, lib)
    # Usr-merged hosts resolve /lib64/ld-linux... through /lib64 -> usr/lib64 and friends.
    for link in ("lib", "lib64"):
        if (Path("/") / link).is_symlink() and not (rootfs / link).exists():
            os.symlink(os.readlink(Path("/") / link), rootfs / link)
    ca = Path("/etc/ssl/certs/ca-certificates.crt")
    if ca.exists():
        shutil.copy2(ca, rootfs / "etc/ssl/certs/ca-certificates.crt")
    (rootfs / "etc/decrypt_config.conf").write_text(json.dumps(DECRYPT_CONFIG, indent=2) + "\n")
    (rootfs / "etc/ocicrypt.conf").write_text(json.dumps(OCICRYPT_CONFIG, indent=2) + "\n")
    (rootfs / "etc/hosts").write_text("127.0.0.1 localhost\n::1 localhost\n")
    (rootfs / "etc/passwd").write_text("root:x:0:0:root:/:/bin/enclave-agent\n")
    (rootfs / "etc/group").write_text("root:x:0:\n")


def make_config(out, rune, listen, pal, policy, extra):
    subprocess.run([rune, "spec"], cwd=out, check=True, capture_output=True)
    path = out / "config.json"
    config = json.loads(path.read_text())
    proc = config["process"]
    proc["terminal"] = False
    proc["cwd"] = "/"
    proc["args"] = ["/bin/enclave-agent", "-l", listen, "-c", "/etc/decrypt_config.conf",
                    "-o", "/etc/ocicrypt.conf", "--root", "/var/lib/enclave-agent",
                    "--images", "/images"]
    if policy and policy.startswith("kbs://"):
        proc["args"] += ["--policy", policy]
    elif policy:
        proc["args"] += ["--policy", "/etc/containers/policy.json",
                         "--registries.d", "/etc/containers/registries.d"]
    proc["args"] += extra
    # Many clients and big images need descriptors (upstream: 65535), within what this host
    # lets a root process without CAP_SYS_RESOURCE have.
    nofile = min(65535, resource.getrlimit(resource.RLIMIT_NOFILE)[1])
    proc["rlimits"] = [{"type": "RLIMIT_NOFILE", "hard": nofile, "soft": nofile}]
    # The agent pulls as root in its own root filesystem; it keeps the default capabilities.
    if pal:
        proc["env"] += ["ENCLAVE_TYPE=simulated", f"ENCLAVE_RUNTIME_PATH={pal}",
                        "ENCLAVE_RUNTIME_LOGLEVEL=warning"]
    config["root"] = {"path": "rootfs", "readonly": False}
    config["hostname"] = "enclave-agent"
    # The host network, as upstream: the agent reaches registries and listens where the
    # host's clients can reach it. Loopback by default, see --listen.
    config["linux"]["namespaces"] = [ns for ns in config["linux"]["namespaces"]
                                     if ns["type"] != "network"]
    path.write_text(json.dumps(config, indent=2) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=str(REPO / "build"), help="the meson build directory")
    ap.add_argument("--out", help="the bundle directory (default BUILD/agent-bundle)")
    ap.add_argument("--listen", default="tcp://127.0.0.1:6661",
                    help="the agent's ttrpc address (default %(default)s; upstream's test "
                         "bundle used tcp://0.0.0.0:6661, which serves every interface)")
    ap.add_argument("--pal", help="the PAL for enclave mode (default: BUILD's "
                                  "liberpal-skeleton.so)")
    ap.add_argument("--no-enclave", action="store_true", help="a plain container")
    ap.add_argument("--agent", help="the agent binary (default: BUILD's)")
    ap.add_argument("--rune", help="the rune that writes the default config.json (default: "
                                   "BUILD's)")
    ap.add_argument("--policy", help="turn security_validate on with this containers "
                                     "policy.json, or a kbs:///R/T/N resource (with "
                                     "--key-provider cc_kbc)")
    ap.add_argument("--registries-d", help="with --policy: a registries.d YAML file")
    ap.add_argument("--key", action="append", default=[],
                    help="with --policy: a key file its keyPath names (repeatable)")
    ap.add_argument("--key-provider", help="decrypt_config.conf's key_provider, e.g. "
                    "provider:attestation-agent:cc_kbc::http://127.0.0.1:8080 (default: "
                    f"{DECRYPT_CONFIG['key_provider']})")
    ap.add_argument("--agent-arg", action="append", default=[],
                    help="one more argument for the agent (repeatable)")
    args = ap.parse_args()

    build = Path(args.build).resolve()
    agent = Path(args.agent) if args.agent else build / "cmd/enclave-agent/enclave-agent"
    rune = Path(args.rune) if args.rune else build / "cmd/rune/rune"
    pal = None if args.no_enclave else Path(
        args.pal or build / "pal/skeleton/liberpal-skeleton.so").resolve()
    for need in [agent, rune] + ([pal] if pal else []):
        if not need.exists():
            hint = f" (run meson compile -C {build} first)" if build in need.parents else ""
            fail(f"{need}: not found{hint}")
    out = Path(args.out or build / "agent-bundle").resolve()
    if out.exists():
        busy = mounts_under(out)
        if busy:
            fail(f"{busy[0]} is mounted; unmount what is under {out} first")
        shutil.rmtree(out)
    out.mkdir(parents=True)
    make_rootfs(out / "rootfs", agent)
    if args.key_provider:
        set_decrypt_config(out / "rootfs", key_provider=args.key_provider)
    if args.policy:
        add_policy(out / "rootfs", args.policy, args.registries_d, args.key)
    make_config(out, str(rune), args.listen, str(pal) if pal else None, args.policy,
                args.agent_arg)
    print(out)


if __name__ == "__main__":
    main()
