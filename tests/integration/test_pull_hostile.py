"""Pulls from hostile registries (HostileRegistry in registry.py): blobs that stall after a true
or an oversized Content-Length, trickled blobs, bodies of the wrong size or the wrong bytes,
nested indexes; and the start-up warnings of options that turn a check off.

Every refusal is one line, exit status 1 (the agent: a status code), retried only when it is a
transport failure, over in bounded time, and leaves no image record, layer or staging entry."""

import os
import re
import subprocess
import time

import pytest

import registry as R
from registry import F
from test_agent import AGENT_BIN, CTL_BIN, Agent, agents, expect_error  # noqa: F401
from test_image_pull import IMAGE_BIN, Images, anon  # noqa: F401  (fixtures)
from test_registry_fixtures import need

pytestmark = pytest.mark.skipif(not os.access(IMAGE_BIN, os.X_OK),
                                reason=f"rune-image not built ({IMAGE_BIN})")
needs_agent = pytest.mark.skipif(
    not (os.access(AGENT_BIN, os.X_OK) and os.access(CTL_BIN, os.X_OK)),
    reason="enclave-agent / agent-ctl not built")

INSECURE = "insecure registry {} (--insecure-registry): its TLS certificates are not verified " \
           "and plain HTTP is allowed"


@pytest.fixture
def images(workdir):
    return Images(workdir / "store")


@pytest.fixture
def image(anon, workdir):
    """One layer of incompressible bytes (about 200 KB), pushed as h/img:t."""
    info = R.make_oci_image(workdir / "img", [[F("big", os.urandom(200000))]], tag="t")
    R.push(workdir / "img", "t", anon, repo="h/img")
    info["layer"] = info["layers"][0]
    info["config_size"] = len(R._read_blob(workdir / "img", info["config_digest"]))
    return info


@pytest.fixture
def hostile(anon):
    with R.HostileRegistry(anon.url) as h:
        yield h


def pull(images, host, *extra, ref="h/img:t"):
    """rune-image pull -q: (result, seconds)."""
    start = time.monotonic()
    res = images.run("pull", "-q", *extra, f"{host}/{ref}")
    return res, time.monotonic() - start


def refused(images, res, host, line, ref="h/img:t"):
    """Exit status 1, exactly one line, and nothing of the image in the store."""
    assert res.returncode == 1, res
    assert res.stderr == f"rune-image: pull {host}/{ref}: {line}\n", res.stderr
    assert images.records() == [] and images.layers() == [] and images.staging() == []


# --------------------------------------------------------------------------------------------
# Stalls and trickles


@pytest.mark.parametrize("length", ["true", "oversized"])
def test_blob_stalls_after_content_length(image, hostile, images, length):
    """Half the layer after its true Content-Length, then nothing (the connection held open):
    dropped after --stall-timeout, resumed three times, then refused naming the stall (it used
    to hang until curl's 1 byte/s floor, four times over). A Content-Length beyond the
    descriptor's size is a size mismatch at once, without waiting for the body at all."""
    d, size = image["layer"]["digest"], image["layer"]["size"]
    if length == "true":
        hostile.stall(d, size // 2)
        res, took = pull(images, hostile.host, "--stall-timeout", "1")
        refused(images, res, hostile.host,
                f"blob {d}: no data for 1 s (stalled at {size // 2} of {size} bytes)")
        assert hostile.requests[d] == 4  # a stall is a transport failure: retried
        assert 4 <= took < 20, took
    else:
        hostile.stall(d, size, length=2 * size)
        res, took = pull(images, hostile.host)  # the default stall timeout (30 s)
        refused(images, res, hostile.host,
                f"blob {d}: size mismatch: the registry announces {2 * size} bytes, its "
                f"descriptor gives {size}")
        assert hostile.requests[d] == 1
        assert took < 10, took


def test_trickled_blob_meets_the_deadline(image, hostile, images):
    """A byte every 0.2 s never stalls; --transfer-timeout ends it, once, without retries."""
    d, size = image["layer"]["digest"], image["layer"]["size"]
    hostile.trickle(d, 0.2)
    res, took = pull(images, hostile.host, "--transfer-timeout", "2")
    m = re.fullmatch(rf"rune-image: pull {re.escape(hostile.host)}/h/img:t: blob {d}: transfer "
                     rf"not complete after 2 s \(got (\d+) of {size} bytes\)\n", res.stderr)
    assert m and 1 <= int(m.group(1)) <= 20, res.stderr
    refused(images, res, hostile.host, res.stderr.split(": ", 2)[2].rstrip("\n"))
    assert hostile.requests[d] == 1
    assert 2 <= took < 10, took


def test_retries_do_not_stretch_the_deadline(image, hostile, images):
    """Four 1 s stalls and their back-off would take 5.4 s: the 2.5 s deadline of the whole
    transfer ends them, whichever attempt is running."""
    d, size = image["layer"]["digest"], image["layer"]["size"]
    hostile.stall(d, 1000)
    res, took = pull(images, hostile.host, "--stall-timeout", "1", "--transfer-timeout", "2.5")
    refused(images, res, hostile.host,
            f"blob {d}: transfer not complete after 2.5 s (got 1000 of {size} bytes)")
    assert 2 <= hostile.requests[d] <= 3
    assert 2.5 <= took < 5, took


def test_config_stalls(image, hostile, images):
    """Documents are watched too (the config here): the same stall, the same message."""
    c, size = image["config_digest"], image["config_size"]
    hostile.stall(c, 10)
    res, took = pull(images, hostile.host, "--stall-timeout", "1")
    refused(images, res, hostile.host,
            f"blob {c}: no data for 1 s (stalled at 10 of {size} bytes)")
    assert hostile.requests[c] == 4
    assert took < 20, took


@pytest.mark.parametrize("arg", ["0", "-1", "abc", "1s", "700000"])
def test_timeout_options_are_checked(images, arg):
    for opt in ("--stall-timeout", "--transfer-timeout"):
        res = images.run("pull", opt, arg, "127.0.0.1:1/x:1")
        assert res.returncode == 1
        assert res.stderr == f'rune-image: {opt} "{arg}": seconds, from 0.001 to 604800\n'


# --------------------------------------------------------------------------------------------
# Wrong sizes, wrong bytes


@pytest.mark.parametrize("blob", ["layer", "config"])
def test_shorter_bytes_are_a_size_mismatch(image, hostile, images, blob):
    """100 other bytes, honestly announced: a size mismatch at the first answer. It used to be
    resumed three times and then read "transfer failed after 4 attempts (No error)"."""
    d = image["layer"]["digest"] if blob == "layer" else image["config_digest"]
    size = image["layer"]["size"] if blob == "layer" else image["config_size"]
    hostile.replace(d, b"x" * 100)
    res, took = pull(images, hostile.host)
    refused(images, res, hostile.host, f"blob {d}: size mismatch: got 100 of {size} bytes")
    assert hostile.requests[d] == 1
    assert took < 10, took


def test_longer_bytes_are_a_size_mismatch(image, hostile, images):
    d, size = image["layer"]["digest"], image["layer"]["size"]
    real = R._read_blob(image["path"], d)
    hostile.replace(d, real + b"more")
    res, _ = pull(images, hostile.host)
    refused(images, res, hostile.host,
            f"blob {d}: size mismatch: the registry announces {size + 4} bytes, its descriptor "
            f"gives {size}")
    assert hostile.requests[d] == 1


@pytest.mark.parametrize("blob", ["layer", "config"])
def test_other_bytes_are_a_digest_mismatch(image, hostile, images, blob):
    d = image["layer"]["digest"] if blob == "layer" else image["config_digest"]
    size = image["layer"]["size"] if blob == "layer" else image["config_size"]
    other = os.urandom(size)
    hostile.replace(d, other)
    res, _ = pull(images, hostile.host)
    refused(images, res, hostile.host,
            f"blob {d}: digest mismatch: the bytes hash to {R.sha256_digest(other)}")
    assert hostile.requests[d] == 1


# --------------------------------------------------------------------------------------------
# Nested indexes: refused by name, as skopeo copy refuses them


def push_nested(anon, workdir):
    """Three tags of nest/img: an index whose entry is an index, with the host's platform on
    the entry ("plat"), with none ("noplat"), and one whose entry says it is a manifest
    ("lying"). Returns {tag: (index digest, entry digest)}."""
    R.make_multiplatform_image(workdir / "img", tag="inner")
    out = {}
    for tag, plat in (("plat", {"os": "linux", "architecture": R.host_arch()}),
                      ("noplat", None)):
        n = R.make_nested_index(workdir / "img", tag, "inner", plat)
        R.push(workdir / "img", tag, anon, repo="nest/img")
        out[tag] = (n["index_digest"], n["entry_digest"])
    inner = R._resolve_tag(workdir / "img", "inner")
    lying = {"schemaVersion": 2, "mediaType": R.MT_OCI_INDEX, "manifests": [
        {"mediaType": R.MT_OCI_MANIFEST, "digest": inner["digest"], "size": inner["size"],
         "platform": {"os": "linux", "architecture": R.host_arch()}}]}
    body = R._canonical(lying)
    assert anon.client().put_manifest("nest/img", "lying", body, R.MT_OCI_INDEX) == \
        R.sha256_digest(body)
    out["lying"] = (R.sha256_digest(body), inner["digest"])
    return out


def nested_line(index, entry):
    return f"index {index}: entry {entry} is itself an index (nested indexes are not supported)"


def test_nested_index_is_refused(anon, images, workdir):
    """It used to read "no image for platform linux/amd64 (the index has: none)"."""
    for tag, (index, entry) in push_nested(anon, workdir).items():
        res, _ = pull(images, anon.host, ref=f"nest/img:{tag}")
        refused(images, res, anon.host, nested_line(index, entry), ref=f"nest/img:{tag}")


# --------------------------------------------------------------------------------------------
# Start-up warnings


def test_insecure_registry_is_warned_about(image, anon, images):
    res = images.run("pull", "-q", "--insecure-registry", anon.host, "--insecure-registry",
                     "other.example:5000", f"{anon.host}/h/img:t")
    assert res.returncode == 0, res.stderr
    assert res.stderr.splitlines() == [INSECURE.format(anon.host),
                                       INSECURE.format("other.example:5000")]
    # Without the option: not a word.
    res = Images(images.root.parent / "store2").run("pull", "-q", f"{anon.host}/h/img:t")
    assert res.returncode == 0 and res.stderr == "", res.stderr


@needs_agent
def test_agent_warns_at_start(workdir):
    """security_validate false and every --insecure-registry: one warning line each in the
    agent's log, before it listens; security_validate true says nothing of the kind."""
    weak = Agent(workdir, name="weak", extra=["--insecure-registry", "a.example:5000",
                                              "--insecure-registry", "b.example"])
    strict = Agent(workdir, name="strict")
    strict.decrypt_config.write_text('{"security_validate": true}')
    try:
        weak.start()
        strict.start()
        msgs = [(r["level"], r["msg"]) for r in weak.records()]
        want = [("warning", INSECURE.format("a.example:5000")),
                ("warning", INSECURE.format("b.example")),
                ("warning", f"decrypt config {weak.decrypt_config}: security_validate is false: "
                            "image signatures are not verified")]
        for w in want:
            assert msgs.count(w) == 1, (w, weak.log())
        listening = next(i for i, (_, m) in enumerate(msgs) if "listening on" in m)
        assert all(msgs.index(w) < listening for w in want), msgs
        assert not [r for r in strict.records() if "security_validate is false" in r["msg"]
                    or "insecure registry" in r["msg"]], strict.log()
    finally:
        for a in (weak, strict):
            if a.proc is not None:
                assert a.stop() == 0, a.log()[-3000:]


@needs_agent
def test_agent_status_codes(image, hostile, anon, agents, workdir):
    """Through the agent: a size mismatch is DATA_LOSS, a nested index FAILED_PRECONDITION;
    nothing is stored or laid out."""
    agent = agents()
    d, size = image["layer"]["digest"], image["layer"]["size"]
    hostile.replace(d, b"x" * 100)
    ref = f"{hostile.host}/h/img:t"
    expect_error(agent.ctl("-i", ref, "--cid", "short"), "DATA_LOSS",
                 f"pull {ref}: blob {d}: size mismatch: got 100 of {size} bytes")
    assert hostile.requests[d] == 1
    index, entry = push_nested(anon, workdir)["plat"]
    expect_error(agent.ctl("-i", f"{anon.host}/nest/img:plat", "--cid", "nested"),
                 "FAILED_PRECONDITION", nested_line(index, entry))
    assert agent.store_records() == [] and agent.layouts() == [] and agent.layer_dirs() == []
    agent.check_consistent()


@needs_agent
def test_agent_stall_timeout(image, hostile, agents):
    """The agent's --stall-timeout reaches its pulls: a stalled blob is dropped after 1 s,
    resumed three times, then refused naming the stall; nothing is stored or laid out."""
    agent = agents(extra=["--stall-timeout", "1s", "--transfer-timeout", "1m"])
    d, size = image["layer"]["digest"], image["layer"]["size"]
    hostile.stall(d, size // 2)
    ref = f"{hostile.host}/h/img:t"
    expect_error(agent.ctl("-i", ref, "--cid", "stalled"), "UNAVAILABLE",
                 f"pull {ref}: blob {d}: no data for 1 s (stalled at {size // 2} of {size} "
                 "bytes)")
    assert hostile.requests[d] == 4
    assert agent.store_records() == [] and agent.layouts() == [] and agent.layer_dirs() == []
    agent.check_consistent()


@needs_agent
@pytest.mark.parametrize("opt", ["--stall-timeout", "--transfer-timeout", "--frame-timeout"])
@pytest.mark.parametrize("arg,why", [("0", "at least 1ms expected"),
                                     ("500us", "at least 1ms expected")])
def test_agent_timeout_options_are_checked(workdir, opt, arg, why):
    res = subprocess.run([AGENT_BIN, "--listen", f"unix://{workdir}/a.sock", opt, arg],
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 1
    assert res.stderr == f'enclave-agent: {opt} "{arg}": {why}\n'
    assert not (workdir / "a.sock").exists()
