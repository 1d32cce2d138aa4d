"""The enclave agent's encrypted store: layers pulled straight into it under a key sealed to the
agent's (simulated) enclave identity, the app's rootfs served by the agent as a FUSE view that
`agent-ctl mount` mounts on the host, the app run from it by rune.

The agent bundle (scripts/agent_bundle.py) runs under rune as an enclave container (skeleton
PAL, simulated) with --store-key sealed. The host never has the key: agent-ctl opens /dev/fuse,
mounts it on the bundle's rootfs and hands the descriptor to the agent over its view socket.
What is checked: the view is the tree `rune-image mount` shows for the same image from a plain
store; nothing of the image is readable in the agent's store on the host; the key is the
enclave's (the same agent started again opens its store; another agent binary, another
MRENCLAVE, is refused with "wrong store key" unless it seals to MRSIGNER); the writable layer
stays encrypted and goes at umount."""

import base64
import json
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import PAL_DIR, REPO, RUNE_BIN, build_path, is_rune, umount, wait_until
import registry as R
from registry import free_port
from test_agent import AGENT_BIN, CTL_BIN
from test_image_pull import IMAGE_BIN, anon, busybox_layers  # noqa: F401  (fixtures)
from test_store_view import MARKER, fuse_usable, no_plaintext, tree

pytestmark = [
    pytest.mark.skipif(not is_rune(), reason="the agent's enclave container is rune's"),
    pytest.mark.skipif(not os.access(IMAGE_BIN, os.X_OK), reason="rune-image not built"),
]


@pytest.fixture(autouse=True)
def _need():
    why = fuse_usable()
    if why:
        print(why)
        pytest.skip(why)
    missing = [str(p) for p in (AGENT_BIN, CTL_BIN, PAL_DIR / "liberpal-skeleton.so")
               if not os.path.exists(p)]
    if missing:
        pytest.fail(f"not built next to rune: {missing}")


class StoreAgent:
    def __init__(self, rune, workdir, name, store_key="sealed", agent_bin=None, enclave=True,
                 key_provider=None):
        self.rune, self.name = rune, name
        self.listen = f"tcp://127.0.0.1:{free_port()}"
        self.bundle = workdir / name
        self.log_path = workdir / f"{name}.log"
        argv = [sys.executable, REPO / "scripts/agent_bundle.py", "--build", build_path(),
                "--out", self.bundle, "--listen", self.listen,
                f"--agent-arg=--store-key={store_key}", "--agent-arg=--log-level=debug"]
        argv += ["--pal", PAL_DIR / "liberpal-skeleton.so"] if enclave else ["--no-enclave"]
        if agent_bin:
            argv += ["--agent", agent_bin]
        if key_provider:
            argv += ["--key-provider", key_provider]
        res = subprocess.run([str(a) for a in argv], capture_output=True, text=True,
                             timeout=120)
        assert res.returncode == 0, res.stderr
        self.cid = None
        self.mounted = []

    @property
    def root(self):
        return self.bundle / "rootfs"

    def start(self, expect_ok=True):
        self.cid = self.rune.new_id(self.name[:6])
        with open(self.log_path, "ab") as log:
            rc = subprocess.run([str(self.rune.binary), "--root", str(self.rune.root), "run",
                                 "--detach", "--bundle", str(self.bundle), self.cid],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                env=self.rune.env(None), timeout=60).returncode
        assert rc == 0, self.log()
        if expect_ok:
            wait_until(lambda: self.ctl("status").returncode == 0, timeout=30,
                       what="the enclave agent to answer")
        return self

    def stop(self):
        for b in reversed(self.mounted):
            self.ctl("umount", b)
            umount(str(b / "rootfs"))
        self.mounted = []
        if self.cid:
            self.rune.cmd("delete", "--force", self.cid)
            self.cid = None

    def ctl(self, *args, timeout=120):
        return subprocess.run([CTL_BIN, "-c", self.listen, "--agent-root", str(self.root),
                               "--images", "/images", *map(str, args)],
                              capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)

    def mount(self, cid, bundle):
        res = self.ctl("mount", cid, bundle)
        assert res.returncode == 0, res.stderr + self.log()[-3000:]
        self.mounted.append(bundle)

    def umount(self, bundle):
        self.mounted.remove(bundle)
        return self.ctl("umount", bundle)

    def log(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@pytest.fixture
def agents(rune, workdir):
    made = []

    def make(name="agent", **kw):
        a = StoreAgent(rune, workdir, name, **kw)
        made.append(a)
        return a

    yield make
    for a in made:
        a.stop()


APP_CONFIG = {"Entrypoint": ["/bin/sh", "-c"],
              "Cmd": ["echo \"$GREETING $(id -u):$(id -g) $(pwd)\"; cat /etc/motd; "
                      "echo written > /tmp/out"],
              "Env": ["GREETING=hello", "PATH=/bin"], "WorkingDir": "/tmp", "User": "app"}


def app_image(workdir, reg):
    layers = busybox_layers() + [[R.F(f"etc/{MARKER}", f"secret {MARKER}\n")]]
    R.make_oci_image(workdir / "app", layers, tag="t", config=APP_CONFIG)
    R.push(workdir / "app", "t", reg, repo="store/app")
    return f"{reg.host}/store/app:t"


def run_app(rune, workdir, bundle, name, enclave):
    cfg = json.loads((bundle / "config.json").read_text())
    if enclave:
        cfg["process"]["env"] += ["ENCLAVE_TYPE=simulated",
                                  f"ENCLAVE_RUNTIME_PATH={PAL_DIR / 'liberpal-skeleton.so'}"]
    (bundle / "config.json").write_text(json.dumps(cfg))
    return subprocess.run([RUNE_BIN, "--root", str(rune.root), "run", "--bundle", str(bundle),
                           rune.new_id(name)], capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL, env=rune.env(None))


def test_agent_pulls_into_its_encrypted_store_and_serves_the_view(rune, workdir, agents, anon):
    ref = app_image(workdir, anon)
    agent = agents().start()
    res = agent.ctl("-i", ref, "--cid", "app1")
    assert res.returncode == 0, res.stderr + agent.log()[-3000:]
    info = json.loads((agent.root / "images/app1/image.json").read_text())
    assert info["encrypted"] is True and "layers" not in info and len(info["diff_ids"]) == 3
    # the user of the image config was found in the encrypted layers' /etc/passwd
    cfg = json.loads((agent.root / "images/app1/config.json").read_text())
    assert cfg["process"]["user"]["uid"] == 1234
    store = agent.root / "var/lib/enclave-agent"
    assert not list((store / "layers").rglob("*")), "plain layers in an encrypted store"
    assert no_plaintext(store, [MARKER, "root:x:0:0"]) == []

    # the view is what a plain store's overlayfs mount shows
    plain = workdir / "plain-store"
    assert subprocess.run([IMAGE_BIN, "--root", plain, "pull", "-q", ref],
                          capture_output=True).returncode == 0
    assert subprocess.run([IMAGE_BIN, "--root", plain, "mount", ref, workdir / "overlay"],
                          capture_output=True).returncode == 0
    try:
        bundle = workdir / "app-bundle"
        agent.mount("app1", bundle)
        assert R.diff_trees(tree(bundle / "rootfs"), tree(workdir / "overlay")) == []
    finally:
        subprocess.run([IMAGE_BIN, "--root", plain, "unmount", workdir / "overlay"])

    for kind in ("plain", "enclave"):
        run = run_app(rune, workdir, bundle, f"app-{kind}", kind == "enclave")
        assert run.returncode == 0, run.stderr
        assert run.stdout == "hello 1234:1234 /tmp\nfrom the upper layer\n", run.stdout
    assert (bundle / "rootfs/tmp/out").read_text() == "written\n"
    assert no_plaintext(store, ["written\n"]) == []
    assert "view of app1: serving 3 layers" in agent.log()

    # umount: the view ends, its writable layer goes; mounted again, the write is gone
    res = agent.umount(bundle)
    assert res.returncode == 0, res.stderr + agent.log()[-2000:]
    assert not (bundle / "rootfs").exists() and not bundle.exists()
    wait_until(lambda: "writable layer dropped" in agent.log(), what="the drop")
    agent.mount("app1", bundle)
    assert not (bundle / "rootfs/tmp/out").exists()
    assert (bundle / "rootfs/etc/motd").read_text() == "from the upper layer\n"


def copy_state(src, dst, rel):
    """The store (or images) of agent src, copied into agent dst's rootfs."""
    shutil.rmtree(dst.root / rel)
    shutil.copytree(src.root / rel, dst.root / rel, symlinks=True,
                    ignore=shutil.ignore_patterns(".view.sock"))


def view_request(agent, payload, fd=None):
    """One request on the agent's view socket (as agent-ctl sends them): its JSON answer."""
    import socket
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
        c.settimeout(30)
        c.connect(str(agent.root / "images" / ".view.sock"))
        if fd is None:
            c.sendall(payload)
        else:
            socket.send_fds(c, [payload], [fd])
        answer = b""
        while chunk := c.recv(4096):
            answer += chunk
    return json.loads(answer)


def test_view_socket_refuses_what_is_not_a_view_request(rune, workdir, agents, anon):
    ref = app_image(workdir, anon)
    agent = agents().start()
    assert agent.ctl("-i", ref, "--cid", "app1").returncode == 0
    with open("/dev/null", "rb") as null:
        cases = [
            (b'{"op": "serve", "cid": "app1"}', None, "no FUSE descriptor came with"),
            (b'{"op": "serve", "cid": "app1"}', null.fileno(), "the descriptor is not /dev/fuse"),
            (b'{"op": "serve", "cid": "nope"}', None, "nope"),
            (b'{"op": "serve", "cid": "../x"}', None, "request"),
            (b'{"op": "format", "cid": "app1"}', None, 'unknown op "format"'),
            (b'{"cid": "app1"}', None, '"op" and "cid" expected'),
            (b'not json', None, "request"),
            (b"x" * 5000, None, "larger than 4096 bytes"),
        ]
        for payload, fd, why in cases:
            answer = view_request(agent, payload, fd)
            assert set(answer) == {"error"} and why in answer["error"], (payload[:40], answer)
            assert "\n" not in answer["error"]
    # and it still serves a real request
    bundle = workdir / "b"
    agent.mount("app1", bundle)
    assert (bundle / "rootfs/etc/motd").read_text() == "from the upper layer\n"


def test_the_store_key_is_the_enclaves(rune, workdir, agents, anon):
    ref = app_image(workdir, anon)
    agent = agents("agent1").start()
    assert agent.ctl("-i", ref, "--cid", "app1").returncode == 0
    agent.stop()
    # the same agent again: its sealed key opens the store, the layout is there
    agent.start()
    res = agent.ctl("list")
    assert res.returncode == 0 and "app1" in res.stdout, res
    bundle = workdir / "b"
    agent.mount("app1", bundle)
    assert (bundle / "rootfs/etc/motd").read_text() == "from the upper layer\n"
    agent.stop()

    # another agent binary (one byte more: another MRENCLAVE, the same signer) on that store
    other_bin = workdir / "enclave-agent-other"
    other_bin.write_bytes(Path(AGENT_BIN).read_bytes() + b"\0")
    other_bin.chmod(0o755)
    for policy, opens in (("sealed", False), ("sealed:mrenclave", False)):
        other = agents(f"other-{policy.replace(':', '-')}", store_key=policy,
                       agent_bin=other_bin)
        copy_state(agent, other, "var/lib/enclave-agent")
        other.start(expect_ok=opens)
        wait_until(lambda: "wrong store key" in other.log(), timeout=30,
                   what="the other agent to refuse the store")
        assert other.ctl("status").returncode != 0
        other.stop()


def test_mrsigner_sealing_survives_an_agent_upgrade(rune, workdir, agents, anon):
    ref = app_image(workdir, anon)
    agent = agents("agent1", store_key="sealed:mrsigner").start()
    assert agent.ctl("-i", ref, "--cid", "app1").returncode == 0
    agent.stop()
    other_bin = workdir / "enclave-agent-upgraded"
    other_bin.write_bytes(Path(AGENT_BIN).read_bytes() + b"\0")
    other_bin.chmod(0o755)
    up = agents("agent2", store_key="sealed:mrsigner", agent_bin=other_bin)
    copy_state(agent, up, "var/lib/enclave-agent")
    copy_state(agent, up, "images")
    up.start()
    res = up.ctl("list")
    assert res.returncode == 0 and "app1" in res.stdout, res.stderr + up.log()[-2000:]


def bare_agent(workdir, *args):
    """The agent outside a container, its ocicrypt.conf given."""
    conf = workdir / "ocicrypt.conf"
    conf.write_text(json.dumps({"key-providers": {
        "attestation-agent": {"native": "attestation-agent"}}}))
    return subprocess.run([AGENT_BIN, "-o", conf, *args], capture_output=True, text=True,
                          timeout=30, stdin=subprocess.DEVNULL)


def test_store_key_from_the_kbs(rune, workdir, agents, anon):
    """--store-key kbs:///R/T/N: the store key is a resource the KBS releases to the attested
    agent (one attestation, at start); never in the agent's log; a KBS that refuses it keeps
    the agent from starting, saying why."""
    sys.path.insert(0, str(REPO / "scripts"))
    import kbs as kbsmod
    from test_enclave_attest import machine_public_key
    from test_kbs import agent_policy

    ref = app_image(workdir, anon)
    # the machine's simulated attestation key exists once an enclave container was made
    agents("warmup").start().stop()
    store_key = secrets.token_bytes(32)
    with kbsmod.KBS() as kbs:
        kbs.set_sim_key(machine_public_key())
        kbs.set_policy(agent_policy())
        kbs.add_resource("default/store-key/agent", store_key)
        provider = f"provider:attestation-agent:cc_kbc::{kbs.url}"
        agent = agents("agent", store_key="kbs:///default/store-key/agent",
                       key_provider=provider).start()
        res = agent.ctl("-i", ref, "--cid", "app1")
        assert res.returncode == 0, res.stderr + agent.log()[-3000:]
        assert kbs.counters["attested"] == 1
        store = agent.root / "var/lib/enclave-agent"
        assert no_plaintext(store, [MARKER]) == []
        log = agent.log()
        assert "encrypted (key: kbs:///default/store-key/agent)" in log
        assert store_key.hex() not in log and base64.b64encode(store_key).decode() not in log
        bundle = workdir / "b"
        agent.mount("app1", bundle)
        assert (bundle / "rootfs/etc/motd").read_text() == "from the upper layer\n"
        agent.stop()

        # released only to another enclave now: this agent does not get its store key
        kbs.add_resource("default/store-key/agent", store_key, allow_mrenclave=["00" * 32])
        agent.start(expect_ok=False)
        def refused():
            return [x for x in agent.log().splitlines()
                    if x.startswith("enclave-agent:") and "store" in x]
        try:
            wait_until(refused, timeout=30, what="the agent to refuse to start")
        except AssertionError:
            pytest.fail("no refusal in the agent's log:\n" + agent.log()[-3000:])
        line = refused()[-1]
        assert "kbs:///default/store-key/agent" in line, line
        assert agent.ctl("status").returncode != 0


def test_sealed_store_key_needs_an_enclave(workdir):
    res = bare_agent(workdir, "--store-key", "sealed", "--root", workdir / "s",
                          "--images", workdir / "i", "-l", f"tcp://127.0.0.1:{free_port()}",
                     "--attestation-socket", workdir / "none.sock")
    assert res.returncode == 1, res
    lines = [x for x in res.stderr.splitlines() if x.startswith("enclave-agent:")]
    assert len(lines) == 1 and "--store-key sealed: the enclave's sealing key" in lines[0], res
    assert not (workdir / "s").exists()


@pytest.mark.parametrize("source,why", [
    ("plain", "sealed, sealed:mrenclave, sealed:mrsigner or kbs:///REPOSITORY/TYPE/TAG"),
    ("kbs:///a/b/c", "cc_kbc"),
])
def test_store_key_source_errors(workdir, source, why):
    res = bare_agent(workdir, "--store-key", source, "--root", workdir / "s",
                     "--images", workdir / "i", "-l", f"tcp://127.0.0.1:{free_port()}")
    assert res.returncode == 1 and why in res.stderr, res
    assert not (workdir / "s").exists()
