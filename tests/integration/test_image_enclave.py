"""An image never configures an enclave. An image whose Env (ENCLAVE_TYPE, ENCLAVE_RUNTIME_PATH)
or Labels (enclave.type, enclave.runtime.path) name a library planted in its own rootfs would
have rune load that library, as root on the host, from a bundle made of the image. The bundle
writer (lib/image/bundle.c, used by `rune-image bundle` and by enclave-agent's layouts) drops
those settings with a warning naming each, and `agent-ctl mount` drops them again from the
layout config.json it copies out of the agent's root (which the host does not trust).

The planted library is the canary test PAL: loaded by anything, its constructor appends a line
to $RUNE_TEST_CANARY. That variable is set both in the image's Env and in rune's environment,
so a load from either side would show. rune's own trust rules for PAL paths refuse such a path
as well; what these tests show is the bundle writer's part: the generated config carries no
enclave setting, and rune runs the image as a plain container."""

import json
import os
import subprocess
import sys

import pytest

from conftest import build_path
import registry as R
from registry import D, F, S
from test_agent import AGENT_BIN, CTL_BIN, agent, agents  # noqa: F401  (fixtures)
from test_image_pull import IMAGE_BIN, anon, busybox_layers, images  # noqa: F401  (fixtures)

CANARY_PAL = build_path("tests", "pal", "libtest-pal-canary.so")
PLANTED = "/proc/self/cwd/rootfs/lib/x.so"  # the image's lib/x.so, from the bundle as cwd
WHY = "enclave settings come only from the operator"
SECRET = "value-never-logged"

pytestmark = [
    pytest.mark.skipif(not CANARY_PAL.is_file(), reason=f"canary PAL not built ({CANARY_PAL})"),
    pytest.mark.skipif(not os.access(IMAGE_BIN, os.X_OK), reason="rune-image not built"),
]

needs_agent = pytest.mark.skipif(
    not (os.access(AGENT_BIN, os.X_OK) and os.access(CTL_BIN, os.X_OK)),
    reason=f"enclave-agent / agent-ctl not built ({AGENT_BIN}, {CTL_BIN})")

ENV_SETTINGS = {"ENCLAVE_TYPE": "simulated", "ENCLAVE_RUNTIME_PATH": PLANTED,
                "ENCLAVE_RUNTIME_ARGS": SECRET, "ENCLAVE_FOO": "bar"}
LABEL_SETTINGS = {"enclave.type": "simulated", "enclave.runtime.path": PLANTED,
                  "enclave.runtime.args": SECRET, "enclave.runtime.loglevel": "debug"}


def hostile_image(workdir, reg, rune, canary, variant):
    """Push an image whose enclave settings (variant "env": in Env, "labels": in Labels, "none":
    not yet) point at its own lib/x.so, the canary PAL; returns its reference."""
    env = ["PATH=/bin", "GREETING=hello", f"RUNE_TEST_CANARY={canary}",
           f"RUNE_IT_TAG={rune.tag}"]
    labels = {"org.example.label": "yes"}
    if variant == "env":
        env += [f"{k}={v}" for k, v in ENV_SETTINGS.items()]
    elif variant == "labels":
        labels.update(LABEL_SETTINGS)
    planted = [D("lib"), F("lib/x.so", CANARY_PAL.read_bytes(), mode=0o755),
               S("bin/env", "busybox")]
    R.make_oci_image(workdir / "img", busybox_layers() + [planted], tag=variant, config={
        "Entrypoint": ["/bin/sh", "-c"], "Cmd": ['echo "plain container: $GREETING"; env'],
        "Env": env, "Labels": labels})
    R.push(workdir / "img", variant, reg, repo="hostile/img")
    return f"{reg.host}/hostile/img:{variant}"


def dropped_names(variant):
    if variant == "env":
        return [("Env", k) for k in ENV_SETTINGS]
    return [("label", k) for k in LABEL_SETTINGS]


def assert_no_enclave_settings(cfg, canary):
    """A config with no enclave setting that keeps the image's others."""
    env = cfg["process"]["env"]
    assert not [e for e in env if e.startswith("ENCLAVE_")], env
    assert "GREETING=hello" in env and f"RUNE_TEST_CANARY={canary}" in env, env
    annotations = cfg.get("annotations", {})
    assert not [k for k in annotations if k.startswith("enclave.")], annotations
    assert annotations.get("org.example.label") == "yes", annotations


def assert_canary_would_show(bundle, workdir):
    """Control: the planted library is the canary, reachable by the planted path from the
    bundle directory, and loading it is seen."""
    control = workdir / "canary-control"
    res = subprocess.run([sys.executable, "-c", f"import ctypes; ctypes.CDLL({PLANTED!r})"],
                         cwd=bundle, env={**os.environ, "RUNE_TEST_CANARY": str(control)},
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert control.read_text().startswith("loaded pid="), control
    control.unlink()


def run_plain(rune, bundle, canary):
    """`cd bundle && rune run ID`: a plain container, and nothing loaded the canary."""
    res = rune.cmd("run", rune.new_id(), cwd=bundle, env={"RUNE_TEST_CANARY": str(canary)})
    assert res.rc == 0, res
    lines = res.out.splitlines()
    assert lines[0] == "plain container: hello", res
    assert not [l for l in lines if l.startswith("ENCLAVE_")], res
    assert not canary.exists(), f"the image's library was loaded: {canary.read_text()}"


def warned(text, names):
    """Each name has its line in text; no value appears."""
    for field, name in names:
        line = f"image config: {field} {name} dropped: {WHY}"
        assert line in text.splitlines(), (line, text)
    assert SECRET not in text and PLANTED not in text, text


# --------------------------------------------------------------------------------------------
# rune-image pull + bundle


@pytest.mark.parametrize("variant", ["env", "labels"])
def test_rune_image_bundle_drops_enclave_settings(anon, images, rune, workdir, variant):
    canary = workdir / "canary"
    ref = hostile_image(workdir, anon, rune, canary, variant)
    res = images.run("pull", ref)
    assert res.returncode == 0, res.stderr
    bundle = workdir / "bundle"
    res = images.run("bundle", ref, bundle)
    assert res.returncode == 0, res.stderr
    try:
        warned(res.stderr, dropped_names(variant))
        cfg = json.loads((bundle / "config.json").read_text())
        assert_no_enclave_settings(cfg, canary)
        assert_canary_would_show(bundle, workdir)
        run_plain(rune, bundle, canary)
    finally:
        subprocess.run(["umount", str(bundle / "rootfs")], check=False)


# --------------------------------------------------------------------------------------------
# enclave-agent pull + agent-ctl mount


def ctl_mount(agent, cid, bundle):
    return subprocess.run([CTL_BIN, "mount", "--images", agent.images, cid, bundle],
                          capture_output=True, text=True, timeout=60)


@needs_agent
@pytest.mark.parametrize("variant", ["env", "labels"])
def test_agent_layout_drops_enclave_settings(agent, anon, rune, workdir, variant):
    canary = workdir / "canary"
    ref = hostile_image(workdir, anon, rune, canary, variant)
    res = agent.ctl("-i", ref, "--cid", "hostile")
    assert res.returncode == 0, res.stderr
    # The agent's own writer dropped them, and said so in its log.
    layout_cfg = json.loads((agent.images / "hostile" / "config.json").read_text())
    assert_no_enclave_settings(layout_cfg, canary)
    warnings = "\n".join(r["msg"] for r in agent.records() if r["level"] == "warning")
    warned(warnings, dropped_names(variant))
    assert SECRET not in agent.log()
    bundle = workdir / "bundle"
    res = ctl_mount(agent, "hostile", bundle)
    assert res.returncode == 0, res.stderr
    try:
        assert "dropped" not in res.stderr, res.stderr  # nothing left for agent-ctl to drop
        cfg = json.loads((bundle / "config.json").read_text())
        assert cfg == layout_cfg
        assert_canary_would_show(bundle, workdir)
        run_plain(rune, bundle, canary)
    finally:
        res = subprocess.run([CTL_BIN, "umount", bundle], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


@needs_agent
def test_agent_ctl_mount_drops_enclave_settings_of_a_tampered_layout(agent, anon, rune,
                                                                      workdir):
    """The layout's config.json is the agent's root's, which the host does not trust: settings
    written into it after the agent's writer (by whoever controls that root) are dropped too.
    The image has none, so this is agent-ctl's filter alone."""
    canary = workdir / "canary"
    ref = hostile_image(workdir, anon, rune, canary, "none")
    assert agent.ctl("-i", ref, "--cid", "tampered").returncode == 0
    layout = agent.images / "tampered" / "config.json"
    cfg = json.loads(layout.read_text())
    cfg["process"]["env"] += [f"{k}={v}" for k, v in ENV_SETTINGS.items()]
    cfg["annotations"].update(LABEL_SETTINGS)
    layout.write_text(json.dumps(cfg))
    bundle = workdir / "bundle"
    res = ctl_mount(agent, "tampered", bundle)
    assert res.returncode == 0, res.stderr
    try:
        path = f"{agent.images}/tampered/config.json"
        want = [f"agent-ctl: mount tampered: {path}: process.env {k} dropped: {WHY}"
                for k in ENV_SETTINGS]
        want += [f"agent-ctl: mount tampered: {path}: annotation {k} dropped: {WHY}"
                 for k in LABEL_SETTINGS]
        assert sorted(res.stderr.splitlines()) == sorted(want), res.stderr
        assert SECRET not in res.stderr and PLANTED not in res.stderr
        out = json.loads((bundle / "config.json").read_text())
        assert_no_enclave_settings(out, canary)
        # Only those went: the rest is the layout's config as it was.
        cfg["process"]["env"] = [e for e in cfg["process"]["env"]
                                 if not e.startswith("ENCLAVE_")]
        cfg["annotations"] = {k: v for k, v in cfg["annotations"].items()
                              if not k.startswith("enclave.")}
        assert out == cfg
        assert_canary_would_show(bundle, workdir)
        run_plain(rune, bundle, canary)
    finally:
        res = subprocess.run([CTL_BIN, "umount", bundle], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


@needs_agent
def test_agent_ctl_mount_refuses_a_layout_config_that_is_not_json(agent, anon, workdir):
    """It is parsed now, not copied: what cannot be parsed is not passed on to rune."""
    R.make_oci_image(workdir / "img", [[D("etc"), F("etc/hello", "hello\n")]], tag="t",
                     config={"Cmd": ["/bin/sh"]})
    R.push(workdir / "img", "t", anon, repo="plain/img")
    assert agent.ctl("-i", f"{anon.host}/plain/img:t", "--cid", "broken").returncode == 0
    (agent.images / "broken" / "config.json").write_text('{"process": ')
    bundle = workdir / "bundle"
    res = ctl_mount(agent, "broken", bundle)
    assert res.returncode == 1, res.stderr
    assert res.stderr.startswith(f"agent-ctl: mount: {agent.images}/broken/config.json"), \
        res.stderr
    assert res.stderr.count("\n") == 1, res.stderr
    assert not bundle.exists()
