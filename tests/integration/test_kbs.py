"""Keys and settings released by a Key Broker Service after attestation.

The enclave-agent bundle runs under rune as an enclave container (skeleton PAL, simulated), with
key_provider provider:attestation-agent:cc_kbc::http://127.0.0.1:PORT. The KBS is scripts/kbs.py
(the protocol side of trustee's KBS, with its own JWE and JCS code, self-tested in
test_kbs_fixture.py). An image encrypted by `rune-image encrypt` for an offline_fs_kbc key
whose only other copy is the KBS's pulls only once the agent has attested: its evidence is made
inside its container (attest.sock: a REPORT of the agent's enclave, signed as simulated evidence
with this machine's key), bound to the session's nonce and TEE key, appraised by the KBS's
policy, which names the agent binary's simulated MRENCLAVE computed here from its bytes.

Refusals come with no key, PERMISSION_DENIED (or UNAVAILABLE for a KBS that cannot be reached
in time) naming why, and nothing stored: another MRENCLAVE, simulated evidence not allowed,
evidence by another machine's key, a resource policy that denies, a KBS that answers garbage,
a JWE for another key, a KBS that never answers. The signature policy comes from the KBS the
same way (kbs:///...), fetched at each pull under the one attestation. No key, token, nonce or
cookie appears in the agent's log.
"""

import base64
import json
import os
import secrets
import subprocess
import sys

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from conftest import PAL_DIR, REPO, build_path, is_rune, wait_until
import registry as R
from registry import D, F, free_port
from test_agent import AGENT_BIN, CTL_BIN, Agent, expect_error
from test_enclave_attest import KEY_PATH, SIM_SIGNER, machine_public_key, sim_measurement
from test_image_pull import IMAGE_BIN

sys.path.insert(0, str(REPO / "scripts"))
import kbs as kbsmod  # noqa: E402

KEY_PATH_IN_KBS = "default/image-key/app"
POLICY_PATH = "default/security-policy/test"

pytestmark = [
    pytest.mark.skipif(not is_rune(), reason="the agent's enclave container is rune's"),
    pytest.mark.skipif(not os.access(IMAGE_BIN, os.X_OK), reason="rune-image not built"),
]


@pytest.fixture(autouse=True)
def _built():
    missing = [str(p) for p in (AGENT_BIN, CTL_BIN, PAL_DIR / "liberpal-skeleton.so")
               if not os.path.exists(p)]
    if missing:
        pytest.fail(f"not built next to rune: {missing}")


def agent_policy(**enclave):
    """The KBS's attestation policy for the agent: simulated evidence allowed (this machine has
    no SGX), the agent binary's simulated measurement and the skeleton's signer."""
    rules = {"mrenclave": [sim_measurement(AGENT_BIN).hex()], "mrsigner": [SIM_SIGNER.hex()]}
    rules.update(enclave)
    return {"insecure_allow_simulated": True, "tcb": {"allow_unknown": True}, "enclave": rules}


class World:
    """A registry with a plain image and the same image encrypted for a key only the KBS
    (and this test) hold."""

    def __init__(self, workdir, reg):
        self.reg, self.workdir = reg, workdir
        layers = [[D("etc"), F("etc/app.conf", "setting = 1\n"), D("bin")],
                  [F("bin/app", "#!/bin/sh\necho secret app\n", mode=0o755)]]
        self.plain = R.make_oci_image(workdir / "plain", layers, tag="t")
        R.push(workdir / "plain", "t", reg, repo="kbs/plain")
        self.key = secrets.token_bytes(32)
        keys = workdir / "offline-fs-keys.json"
        keys.write_text(json.dumps({KEY_PATH_IN_KBS: base64.b64encode(self.key).decode()}))
        res = subprocess.run([IMAGE_BIN, "encrypt", "--offline-fs-keys", keys,
                              "--encryption-key", "provider:attestation-agent:offline_fs_kbc::"
                              f"kbs:///{KEY_PATH_IN_KBS}",
                              f"oci:{workdir / 'plain'}:t", f"oci:{workdir / 'enc'}:t"],
                             capture_output=True, text=True, timeout=120)
        assert res.returncode == 0, res.stderr
        keys.unlink()
        R.push(workdir / "enc", "t", reg, repo="kbs/enc")
        self.enc_ref = f"{reg.host}/kbs/enc:t"
        self.plain_ref = f"{reg.host}/kbs/plain:t"

    def diff_ids(self):
        return [layer["diff_id"] for layer in self.plain["layers"]]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("kbs-world")
    with R.Registry("anonymous", tmp_parent=workdir) as reg:
        yield World(workdir, reg)


class EnclaveAgent:
    """The agent bundle (scripts/agent_bundle.py) run by rune as an enclave container."""

    def __init__(self, rune, workdir, name, kbs_url, policy=None, extra=()):
        self.rune, self.name = rune, name
        self.listen = f"tcp://127.0.0.1:{free_port()}"
        self.bundle = workdir / name
        self.log_path = workdir / f"{name}.log"
        argv = [sys.executable, REPO / "scripts/agent_bundle.py", "--build", build_path(),
                "--out", self.bundle, "--listen", self.listen,
                "--pal", PAL_DIR / "liberpal-skeleton.so",
                "--key-provider", f"provider:attestation-agent:cc_kbc::{kbs_url}",
                "--agent-arg=--log-level=debug"]
        if policy:
            argv += ["--policy", policy]
        argv += [f"--agent-arg={a}" for a in extra]
        res = subprocess.run([str(a) for a in argv], capture_output=True, text=True,
                             timeout=120)
        assert res.returncode == 0, res.stderr
        self.cid = rune.new_id(name[:6])

    def start(self):
        # The agent logs on stderr: both go to the log file (rune's own messages too).
        with open(self.log_path, "wb") as log:
            rc = subprocess.run([str(self.rune.binary), "--root", str(self.rune.root), "run",
                                 "--detach", "--bundle", str(self.bundle), self.cid],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                env=self.rune.env(None), timeout=60).returncode
        assert rc == 0, self.log()
        wait_until(lambda: self.ctl("status").returncode == 0, timeout=30,
                   what="the enclave agent to answer")
        return self

    def ctl(self, *args, timeout=120):
        return subprocess.run([CTL_BIN, "-c", self.listen, *map(str, args)],
                              capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)

    def pull(self, ref, cid):
        return self.ctl("-i", ref, "--cid", cid)

    def stop(self):
        self.rune.cmd("delete", "--force", self.cid)

    def log(self):
        return self.log_path.read_text(errors="replace")

    @property
    def store(self):
        return self.bundle / "rootfs/var/lib/enclave-agent"

    def image_json(self, cid):
        return json.loads((self.bundle / "rootfs/images" / cid / "image.json").read_text())

    def stored(self):
        """Image records and layers in the store, and layouts."""
        records = sorted(p.name for p in (self.store / "images").glob("*.json"))
        d = self.store / "layers/sha256"
        layers = sorted(p.name for p in d.iterdir()) if d.exists() else []
        layouts = sorted(p.name for p in (self.bundle / "rootfs/images").iterdir()
                         if not p.name.startswith("."))
        return records + layers + layouts


@pytest.fixture
def kbs():
    with kbsmod.KBS() as k:
        yield k


def started(rune, workdir, kbs, name="agent", files=None, **kw):
    """An enclave agent for kbs, with files ({path in its rootfs: bytes}) added, started."""
    agent = EnclaveAgent(rune, workdir, name, kbs.url, **kw)
    for path, data in (files or {}).items():
        (agent.bundle / "rootfs" / path.lstrip("/")).write_bytes(data)
    agent.start()
    # The machine's simulated attestation key exists once an enclave container was created.
    assert KEY_PATH.exists()
    kbs.set_sim_key(machine_public_key())
    return agent


def assert_no_secrets(agent, world, kbs):
    """Neither the key (in any encoding), nor a session cookie, nor a JWT (its header always
    starts "eyJ") in the agent's log, which is at debug level."""
    log = agent.log()
    assert "cc_kbc" in log or "key broker" in log, log[-2000:]  # the log is the agent's
    assert base64.b64encode(world.key).decode() not in log
    assert world.key.hex() not in log
    for s in kbs.sessions():
        assert s["id"] not in log
    assert "eyJ" not in log


def test_encrypted_image_pulls_with_its_key_from_the_kbs(rune, workdir, world, kbs):
    kbs.set_policy(agent_policy())
    kbs.add_resource(KEY_PATH_IN_KBS, world.key)
    agent = started(rune, workdir, kbs)
    try:
        res = agent.pull(world.enc_ref, "app1")
        assert res.returncode == 0, res.stderr + agent.log()[-3000:]
        assert agent.image_json("app1")["diff_ids"] == world.diff_ids()
        c = kbs.counters
        assert (c["auth"], c["attest"], c["attested"]) == (1, 1, 1), c
        assert c["resource"] >= 1
        # One attestation per agent: more pulls, more layers, no new session.
        for cid in ("app2", "app3"):
            res = agent.pull(world.enc_ref, cid)
            assert res.returncode == 0, res.stderr
        c = kbs.counters
        assert (c["auth"], c["attest"]) == (1, 1), c
        # The session the KBS holds is the agent's enclave: its simulated measurement.
        (session,) = kbs.sessions()
        assert session["attested"] and session["tee"] == "rune-sim"
        assert session["mr_enclave"] == sim_measurement(AGENT_BIN).hex()
        assert_no_secrets(agent, world, kbs)
    finally:
        agent.stop()


def test_without_the_kbs_key_the_image_does_not_pull(rune, workdir, world, kbs):
    """The control: the same agent and KBS, the resource missing: the image stays locked."""
    kbs.set_policy(agent_policy())
    agent = started(rune, workdir, kbs)
    try:
        expect_error(agent.pull(world.enc_ref, "x"), "PERMISSION_DENIED",
                     "no key could unwrap the layer key",
                     f"/resource/{KEY_PATH_IN_KBS} failed (HTTP 404)")
        assert agent.stored() == []
    finally:
        agent.stop()


REFUSALS = {
    "another-mrenclave": (lambda kbs: kbs.set_policy(agent_policy(mrenclave=["ab" * 32])),
                          "/attest refused (HTTP 401)", "MRENCLAVE"),
    "simulated-not-allowed": (
        lambda kbs: kbs.set_policy({"tcb": {"allow_unknown": True}}),
        "/attest refused (HTTP 401)", "simulated evidence"),
    "another-machine-key": (
        lambda kbs: kbs.set_sim_key(ec.generate_private_key(ec.SECP256R1()).public_key()),
        "/attest refused (HTTP 401)", "key id"),
    "resource-policy": (
        lambda kbs: kbs.add_resource(KEY_PATH_IN_KBS, b"\0" * 32, allow_mrenclave=["cd" * 32]),
        f"/resource/{KEY_PATH_IN_KBS} refused (HTTP 403)", "PolicyDeny"),
    "garbage": (lambda kbs: kbs.misbehave("resource", "garbage"),
                f"/resource/{KEY_PATH_IN_KBS}: the answer is not a JWE", None),
    "wrong-key": (lambda kbs: kbs.misbehave("resource", "wrong-key"),
                  "the answer does not decrypt with this session's TEE key", None),
    "tampered": (lambda kbs: kbs.misbehave("resource", "tamper"),
                 "the answer does not decrypt with this session's TEE key", None),
    "auth-500": (lambda kbs: kbs.misbehave("auth", "status:500"), "/auth failed (HTTP 500)",
                 None),
    "stall": (lambda kbs: kbs.misbehave("attest", "stall"), "/attest: no answer within 2 s",
              None),
    "auth-403": (lambda kbs: kbs.misbehave("auth", "status:403"), "/auth refused (HTTP 403)",
                 None),
}
# A KBS that cannot be reached in time may answer later: UNAVAILABLE, which a client retries.
UNAVAILABLE = {"auth-500", "stall"}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_kbs_refusals_release_no_key(rune, workdir, world, kbs, case):
    kbs.set_policy(agent_policy())
    kbs.add_resource(KEY_PATH_IN_KBS, world.key)
    agent = started(rune, workdir, kbs, extra=["--kbs-timeout=2s"])
    try:
        change, fragment, why = REFUSALS[case]
        change(kbs)
        res = agent.pull(world.enc_ref, "x")
        expect_error(res, "UNAVAILABLE" if case in UNAVAILABLE else "PERMISSION_DENIED",
                     "no key could unwrap the layer key", fragment, *([why] if why else []))
        assert agent.stored() == [], agent.stored()
        assert kbs.counters["attested"] == (1 if case in (
            "resource-policy", "garbage", "wrong-key", "tampered") else 0)
        assert_no_secrets(agent, world, kbs)
    finally:
        agent.stop()


def test_signature_policy_from_the_kbs(rune, workdir, world, kbs):
    """security_validate with --policy kbs:///...: fetched at each pull, so the KBS's current
    policy decides; one attestation for the policy and the keys."""
    kbs.set_policy(agent_policy())
    kbs.add_resource(KEY_PATH_IN_KBS, world.key)
    accept = {"default": [{"type": "reject"}],
              "transports": {"docker": {world.reg.host: [{"type": "insecureAcceptAnything"}]}}}
    kbs.add_resource(POLICY_PATH, json.dumps(accept).encode())
    agent = started(rune, workdir, kbs, policy=f"kbs:///{POLICY_PATH}")
    try:
        res = agent.pull(world.plain_ref, "plain")
        assert res.returncode == 0, res.stderr + agent.log()[-3000:]
        res = agent.pull(world.enc_ref, "enc")
        assert res.returncode == 0, res.stderr
        assert (kbs.counters["auth"], kbs.counters["attest"]) == (1, 1)
        # The KBS changes its policy: the next pull is refused by it, nothing stored anew.
        kbs.add_resource(POLICY_PATH, json.dumps({"default": [{"type": "reject"}]}).encode())
        before = agent.stored()
        expect_error(agent.pull(world.plain_ref, "again"), "PERMISSION_DENIED",
                     f"kbs:///{POLICY_PATH}")
        assert agent.stored() == before
        # A policy the KBS does not have: the agent cannot check, so it does not pull.
        kbs.remove_resource(POLICY_PATH)
        expect_error(agent.pull(world.plain_ref, "gone"), "FAILED_PRECONDITION",
                     f"/resource/{POLICY_PATH} failed (HTTP 404)")
        # A policy that is not one.
        kbs.add_resource(POLICY_PATH, b"{not json")
        expect_error(agent.pull(world.plain_ref, "bad"), "FAILED_PRECONDITION",
                     f"kbs:///{POLICY_PATH}")
        assert agent.stored() == before
    finally:
        agent.stop()


def test_agent_outside_an_enclave_has_no_evidence(workdir, world, kbs):
    """The agent run on the host: no attestation service, so no evidence and no key; the KBS
    saw sessions begin (one per layer that needed a key) and no attestation."""
    kbs.set_policy(agent_policy())
    kbs.add_resource(KEY_PATH_IN_KBS, world.key)
    conf = workdir / "decrypt.conf"
    conf.write_text(json.dumps({"key_provider":
                                f"provider:attestation-agent:cc_kbc::{kbs.url}",
                                "security_validate": False}))
    agent = Agent(workdir, name="host", extra=["-c", conf, "--attestation-socket",
                                                workdir / "none.sock"]).start()
    try:
        expect_error(agent.ctl("-i", world.enc_ref, "--cid", "x"), "PERMISSION_DENIED",
                     "evidence: enclave attestation service", "not running in an enclave "
                     "container?")
        assert agent.store_records() == [] and agent.layer_dirs() == []
        c = kbs.counters
        assert c["auth"] >= 1 and (c["attest"], c["resource"]) == (0, 0), c
    finally:
        assert agent.stop() == 0, agent.log()[-3000:]


def test_kbs_settings_need_a_kbs(workdir):
    """kbs:// settings without a cc_kbc key provider: the agent does not start, and says why."""
    conf = workdir / "decrypt.conf"
    conf.write_text(json.dumps({"security_validate": True}))
    a = Agent(workdir, name="nokbs", extra=["-c", conf, "--policy", f"kbs:///{POLICY_PATH}"])
    p = subprocess.run(a.argv, capture_output=True, text=True, timeout=60,
                       stdin=subprocess.DEVNULL)
    assert p.returncode == 1, p
    assert p.stderr.strip().splitlines()[-1] == (
        f"enclave-agent: signature policy kbs:///{POLICY_PATH}: kbs:// resources come from "
        "the key broker: set key_provider to provider:attestation-agent:cc_kbc::<KBS URL>")
    a = Agent(workdir, name="badkbs", extra=["-c", conf, "--policy", "kbs:///a/../b"])
    p = subprocess.run(a.argv, capture_output=True, text=True, timeout=60,
                       stdin=subprocess.DEVNULL)
    assert p.returncode == 1 and "the path must be <repository>/<type>/<tag>" in p.stderr, p


def test_registry_credentials_from_the_kbs(rune, workdir, world, kbs):
    """--auth-file kbs:///...: the auth.json for a registry that wants a password comes from the
    KBS at each pull (and never shows in the log); without it the registry refuses."""
    with R.Registry("basic", tmp_parent=workdir) as reg:
        R.push(world.workdir / "plain", "t", reg, repo="kbs/private")
        ref = f"{reg.host}/kbs/private:t"
        auth = base64.b64encode(f"{reg.user}:{reg.password}".encode()).decode()
        creds = json.dumps({"auths": {reg.host: {"auth": auth}}}).encode()
        kbs.set_policy(agent_policy())
        agent = started(rune, workdir, kbs,
                        extra=["--auth-file=kbs:///default/credential/registry"])
        try:
            expect_error(agent.pull(ref, "nocreds"), "FAILED_PRECONDITION",
                         "registry credentials",
                         "/resource/default/credential/registry failed (HTTP 404)")
            kbs.add_resource("default/credential/registry", creds)
            res = agent.pull(ref, "private")
            assert res.returncode == 0, res.stderr + agent.log()[-3000:]
            assert agent.image_json("private")["diff_ids"] == world.diff_ids()
            # Wrong credentials from the KBS: the registry's refusal, as with a file.
            bad = base64.b64encode(f"{reg.user}:wrong".encode()).decode()
            kbs.add_resource("default/credential/registry",
                             json.dumps({"auths": {reg.host: {"auth": bad}}}).encode())
            expect_error(agent.ctl("-i", f"{reg.host}/kbs/private:t", "--cid", "bad"),
                         "UNAUTHENTICATED")
            log = agent.log()
            assert reg.password not in log and auth not in log
            assert kbs.counters["attested"] == 1
        finally:
            agent.stop()


def tls_files(workdir):
    """A CA and its certificate for 127.0.0.1 (the KBS's), made here: (cert, key, CA PEM)."""
    import datetime
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID
    import ipaddress
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test KBS CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    (workdir / "kbs-cert.pem").write_bytes(cert.public_bytes(pem))
    (workdir / "kbs-key.pem").write_bytes(key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return workdir / "kbs-cert.pem", workdir / "kbs-key.pem", ca.public_bytes(pem)


def test_the_kbs_connection_over_ra_tls(rune, workdir, world):
    """A KBS that wants RA-TLS (scripts/kbs.py checks the client certificate with its own
    CBOR and SIMTEE01 reading): the agent's connection presents a certificate whose evidence
    binds its key, made inside the enclave; without it, or from an enclave the policy does not
    name, no key."""
    pytest.importorskip("OpenSSL", reason="the test KBS serves TLS with pyOpenSSL "
                                          "(python3-openssl)")
    cert, key, ca = tls_files(workdir)
    files = {"/etc/kbs-ca.pem": ca}
    with kbsmod.KBS(tls=(cert, key), ra_tls=True) as kbs:
        assert kbs.url.startswith("https://127.0.0.1:")
        kbs.set_policy(agent_policy())
        kbs.add_resource(KEY_PATH_IN_KBS, world.key)
        plain_tls = started(rune, workdir, kbs, name="tls", files=files,
                            extra=["--kbs-ca=/etc/kbs-ca.pem"])
        try:
            expect_error(plain_tls.pull(world.enc_ref, "x"), "PERMISSION_DENIED",
                         "refused (HTTP 401)", "RA-TLS client certificate required")
            assert plain_tls.stored() == []
        finally:
            plain_tls.stop()
        agent = started(rune, workdir, kbs, name="ratls", files=files,
                        extra=["--kbs-ca=/etc/kbs-ca.pem", "--kbs-ra-tls"])
        try:
            res = agent.pull(world.enc_ref, "app")
            assert res.returncode == 0, res.stderr + agent.log()[-3000:]
            assert agent.image_json("app")["diff_ids"] == world.diff_ids()
            c = kbs.counters
            assert c["ra_tls"] >= 1 and c["attested"] == 1, c
            assert "over RA-TLS" in agent.log()
        finally:
            agent.stop()
        # The KBS's policy names another enclave: refused on the certificate already.
        kbs.set_policy(agent_policy(mrenclave=["ab" * 32]))
        other = started(rune, workdir, kbs, name="other", files=files,
                        extra=["--kbs-ca=/etc/kbs-ca.pem", "--kbs-ra-tls"])
        try:
            expect_error(other.pull(world.enc_ref, "y"), "PERMISSION_DENIED",
                         "refused (HTTP 401)", "appraisal: MRENCLAVE")
            assert other.stored() == []
        finally:
            other.stop()
        # Every connection got as far as its answer: no handshake failed on the way (the
        # agent's second layer reconnects and resumes its TLS session).
        assert not [line for line in kbs.log_lines if "handshake failed" in line], \
            list(kbs.log_lines)


def test_ra_tls_needs_https(workdir):
    conf = workdir / "decrypt.conf"
    conf.write_text(json.dumps({"key_provider":
                                "provider:attestation-agent:cc_kbc::http://127.0.0.1:9",
                                "security_validate": False}))
    agent = Agent(workdir, name="ratlshttp", extra=["-c", conf, "--kbs-ra-tls"]).start()
    try:
        # The key provider is said unusable at start, as any that cannot be set up.
        assert "KBS http://127.0.0.1:9: RA-TLS needs an https:// KBS" in agent.log()
    finally:
        assert agent.stop() == 0


def test_registries_d_from_the_kbs(rune, workdir, world, kbs):
    """--registries.d kbs:///...: where signatures are comes from the KBS too. The policy asks
    for a cosign signature, which the image has as a .sig attachment: with the KBS's
    registries.d turning attachments on the pull passes, with one that does not it is refused
    for want of a signature, and one that is not YAML is FAILED_PRECONDITION naming it."""
    from cryptography.hazmat.primitives import serialization
    key = ec.generate_private_key(ec.SECP256R1())
    key_file = workdir / "cosign.key"
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_file.chmod(0o600)
    pub = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    with R.Registry("anonymous", tmp_parent=workdir) as reg:
        R.push(world.workdir / "plain", "t", reg, repo="kbs/signed")
        ref = f"{reg.host}/kbs/signed:t"
        res = subprocess.run([IMAGE_BIN, "sign", "--cosign-key", key_file, ref],
                             capture_output=True, text=True, timeout=60)
        assert res.returncode == 0, res.stderr
        policy = {"default": [{"type": "reject"}], "transports": {"docker": {reg.host: [{
            "type": "sigstoreSigned", "keyPath": "/etc/cosign.pub",
            "signedIdentity": {"type": "matchRepository"}}]}}}
        attachments = json.dumps({"docker": {reg.host: {"use-sigstore-attachments": True}}})
        kbs.set_policy(agent_policy())
        kbs.add_resource(POLICY_PATH, json.dumps(policy).encode())
        kbs.add_resource("default/registries/test", attachments.encode())
        agent = started(rune, workdir, kbs, files={"/etc/cosign.pub": pub},
                        policy=f"kbs:///{POLICY_PATH}",
                        extra=["--registries.d=kbs:///default/registries/test"])
        try:
            res = agent.pull(ref, "signed")
            assert res.returncode == 0, res.stderr + agent.log()[-3000:]
            kbs.add_resource("default/registries/test", b"docker: {}")
            expect_error(agent.pull(ref, "noattach"), "PERMISSION_DENIED",
                         "a sigstore signature is required")
            kbs.add_resource("default/registries/test", b"docker: [unclosed")
            expect_error(agent.pull(ref, "bad"), "FAILED_PRECONDITION",
                         "kbs:///default/registries/test")
            assert kbs.counters["attested"] == 1
        finally:
            agent.stop()
