"""The enclave-agent bundle under rune (plain and as an enclave container through the skeleton)
and the README's main command, scripts/demo.py, end to end."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import PAL_DIR, REPO, build_path, is_rune, mount_points, pid_alive, wait_until
from registry import free_port, missing_tools

pytestmark = pytest.mark.skipif(not is_rune(), reason="the agent bundle is run by rune")

AGENT = build_path("cmd", "enclave-agent", "enclave-agent")
AGENT_CTL = build_path("cmd", "agent-ctl", "agent-ctl")


@pytest.fixture(autouse=True)
def _built():
    missing = [str(p) for p in (AGENT, AGENT_CTL) if not os.access(p, os.X_OK)]
    if missing:
        pytest.fail(f"not built next to rune: {missing}")


def make_bundle(out, listen, enclave):
    argv = [sys.executable, REPO / "scripts/agent_bundle.py", "--build", build_path(),
            "--out", out, "--listen", listen]
    if enclave:
        argv += ["--pal", PAL_DIR / "liberpal-skeleton.so"]  # installed where rune trusts it
    else:
        argv.append("--no-enclave")
    res = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    return Path(out)


def agent_answers(listen):
    res = subprocess.run([AGENT_CTL, "-c", listen, "status"], capture_output=True, text=True,
                         timeout=30)
    return res.returncode == 0 and res.stdout


@pytest.mark.parametrize("enclave", [False, True], ids=["plain", "enclave"])
def test_agent_bundle_runs_under_rune(rune, workdir, enclave):
    listen = f"tcp://127.0.0.1:{free_port()}"
    bundle = make_bundle(workdir / "agent", listen, enclave)
    config = json.loads((bundle / "config.json").read_text())
    assert config["process"]["args"][:3] == ["/bin/enclave-agent", "-l", listen]
    assert ("ENCLAVE_TYPE=simulated" in config["process"]["env"]) == enclave
    cid = rune.new_id()
    res = rune.cmd("run", "--detach", "--bundle", bundle, cid, stdin=subprocess.DEVNULL,
                   stdout=workdir / "agent.log")
    assert res.rc == 0, res
    status = wait_until(lambda: agent_answers(listen), timeout=30, what="the agent to answer")
    assert "SERVING" in status, status
    init = rune.pid(cid)
    comm = Path(f"/proc/{init}/comm").read_text().strip()
    if enclave:
        # The init stays (enclave-init) and the agent runs as the PAL's child.
        assert comm == "enclave-init", comm
        pids = rune.ok("ps", "--format", "json", cid).json()
        agent = [p for p in pids if p != init]
        assert len(agent) == 1, pids
        assert Path(f"/proc/{agent[0]}/comm").read_text().strip() == "enclave-agent"
        report = rune.ok("attest", cid).json()
        assert report["simulated"] is True
    else:
        assert comm == "enclave-agent", comm
    rune.ok("kill", cid, "TERM")
    wait_until(lambda: not pid_alive(init), what="the agent to stop on SIGTERM")
    rune.ok("delete", cid)


def test_demo_end_to_end(workdir):
    missing = missing_tools("registry")
    if missing:
        pytest.skip(f"missing peers: {missing}")
    before = set(mount_points())
    env = {k: v for k, v in os.environ.items()}
    env["TMPDIR"] = str(workdir)
    res = subprocess.run([sys.executable, REPO / "scripts/demo.py", "--build", build_path()],
                         capture_output=True, text=True, timeout=600, env=env)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out
    for marker in ("pushed 127.0.0.1:", "enclave-agent started by rune as an enclave container",
                   "\"simulated\": true", "hello from the rune demo image 1.0",
                   "app exited with status 0", "successful", "done",
                   "cosign signature: 127.0.0.1:", "security_validate on",
                   "agent-ctl: PERMISSION_DENIED: pull 127.0.0.1:",
                   "(sigstoreSigned): a sigstore signature is required",
                   "pushed 127.0.0.1:", "layers, encrypted)",
                   "KBS: 1 attestation (rune-sim, MRENCLAVE"):
        assert marker in out, f"{marker!r} missing from the demo's output:\n{out}"
    assert set(mount_points()) <= before, set(mount_points()) - before
    # Everything the demo made was under its temporary directory, and it removed it.
    assert not [p for p in workdir.iterdir() if p.name.startswith("rune-demo-")], \
        list(workdir.iterdir())
