"""Self-tests of scripts/kbs.py, the Key Broker Service for tests and demos.

The client here is written from the protocol alone (nothing of kbs.py is used to build requests
or to read answers): its own P-256 "simulated attestation key", SIMTEE01 evidence assembled byte
by byte from lib/attest/evidence.h around an SGX report body whose REPORT_DATA is the RCAR
binding (SHA-384 of the JCS of {tee-pubkey, nonce, additional-evidence}, zero-padded), and its
own JWE decryption (cryptography's ConcatKDFHash and AES key unwrap, from the private key's
side). It drives auth -> attest -> resource, every refusal the KBS promises, the bearer-token
path, an "sgx" path through a stand-in for `runectl verify-quote`, each misbehaviour knob, the
bounds, and the CLI.
"""

import base64
import hashlib
import http.client
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (decode_dss_signature,
                                                              encode_dss_signature)
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap

REPO = Path(__file__).resolve().parents[2]
KBS_PY = REPO / "scripts" / "kbs.py"
sys.path.insert(0, str(KBS_PY.parent))
import kbs as kbsmod  # noqa: E402

PREFIX = "/kbs/v0"
ERRORS = "https://github.com/confidential-containers/kbs/errors/"
MRENCLAVE = bytes(range(32))
MRSIGNER = bytes([0xA5]) * 32
SECRET = b"the resource: 32 bytes of key!!!"
RESOURCE = "default/key/1"
# simulated evidence needs both: it is simulated, and its TCB status is unknown (no collateral)
SIM_POLICY = {"insecure_allow_simulated": True, "tcb": {"allow_unknown": True}}
FLAG_INIT, FLAG_DEBUG, FLAG_MODE64 = 0x1, 0x2, 0x4
JCS_VECTOR_SHA384 = ("e71ce8e70d814ba6639c3612ebee0ff1f76f650f8dbb5e47157e0f3f525cd22c"
                     "4597480a186427c813ca941da78870c3")


# --------------------------------------------------------------------------------------------
# The client's own encodings


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64u_dec(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def canon(value):
    """JCS for what the binding holds (ASCII member names, strings): sorted keys, no spaces."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def binding(jwk, nonce, additional=""):
    doc = {"tee-pubkey": jwk, "nonce": nonce, "additional-evidence": additional}
    return hashlib.sha384(canon(doc)).digest() + bytes(16)


def ec_jwk(pub):
    n = pub.public_numbers()
    return {"kty": "EC", "crv": "P-256", "alg": "ECDH-ES+A256KW",
            "x": b64u(n.x.to_bytes(32, "big")), "y": b64u(n.y.to_bytes(32, "big"))}


def pem_public(key):
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


def report_body(report_data, mrenclave=MRENCLAVE, mrsigner=MRSIGNER,
                flags=FLAG_INIT | FLAG_MODE64, prod=1, svn=2):
    """A 384-byte SGX report body (attestation.md 1.2)."""
    body = bytearray(384)
    body[0:16] = bytes([7]) * 16                       # CPUSVN
    struct.pack_into("<QQ", body, 48, flags, 3)        # ATTRIBUTES: flags, xfrm
    body[64:96] = mrenclave
    body[128:160] = mrsigner
    struct.pack_into("<HH", body, 256, prod, svn)      # ISVPRODID, ISVSVN
    body[320:384] = report_data
    return bytes(body)


def simtee01(signer, body, id_key=None):
    """SIMTEE01 v1 as evidence.h lays it out: header, key id (SHA-256 of the DER SPKI), body,
    signature size, ECDSA P-256 raw r||s over SHA-256 of bytes [0, 436)."""
    spki = (id_key or signer).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    signed = (b"SIMTEE01" + struct.pack("<HHI", 1, 0, 384) + hashlib.sha256(spki).digest() +
              body + struct.pack("<I", 64))
    assert len(signed) == 436
    r, s = decode_dss_signature(signer.sign(signed, ec.ECDSA(hashes.SHA256())))
    out = signed + r.to_bytes(32, "big") + s.to_bytes(32, "big")
    assert len(out) == 500
    return out


class Answer:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)

    def problem(self):
        doc = self.json()
        assert set(doc) == {"type", "detail"} and doc["type"].startswith(ERRORS), doc
        return doc["type"][len(ERRORS):], doc["detail"]

    def __repr__(self):
        return f"<{self.status} {self.body[:300]!r}>"


class Client:
    """An RCAR client with its own TEE key and session cookie."""

    def __init__(self, kbs, tee_key=None):
        self.host, self.port = "127.0.0.1", kbs.port
        self.tee_key = tee_key or ec.generate_private_key(ec.SECP256R1())
        self.jwk = ec_jwk(self.tee_key.public_key())
        self.cookie = self.nonce = self.token = None

    def request(self, method, path, body=None, headers=None, cookie=True, timeout=5):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            h = dict(headers or {})
            if cookie and self.cookie:
                h["Cookie"] = self.cookie
            data = None
            if body is not None:
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                h["Content-Type"] = "application/json"
            conn.request(method, PREFIX + path, body=data, headers=h)
            resp = conn.getresponse()
            return Answer(resp.status, resp.headers, resp.read())
        finally:
            conn.close()

    def auth(self, tee="rune-sim", version="0.4.0"):
        a = self.request("POST", "/auth", {
            "version": version, "tee": tee,
            "extra-params": {"supported-hash-algorithms": ["sha256", "sha384", "sha512"]}})
        if a.status == 200:
            self.cookie = a.headers["Set-Cookie"].split(";")[0].strip()
            self.nonce = a.json()["nonce"]
        return a

    def attestation(self, primary, nonce=None, jwk=None, additional=""):
        return {"init-data": None,
                "runtime-data": {"nonce": self.nonce if nonce is None else nonce,
                                 "tee-pubkey": jwk or self.jwk},
                "tee-evidence": {"primary_evidence": primary,
                                 "additional_evidence": additional}}

    def sim_primary(self, signer, nonce=None, bind_jwk=None, additional="", **body_kw):
        rd = binding(bind_jwk or self.jwk, self.nonce if nonce is None else nonce, additional)
        ev = simtee01(signer, report_body(rd, **body_kw))
        return {"evidence": base64.b64encode(ev).decode()}

    def attest(self, body, **kw):
        a = self.request("POST", "/attest", body, **kw)
        if a.status == 200:
            self.token = a.json()["token"]
        return a

    def resource(self, path=RESOURCE, bearer=None, cookie=True):
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
        return self.request("GET", "/resource/" + path, headers=headers, cookie=cookie)

    def decrypt(self, jwe, check_alg=True):
        """RFC 7516/7518 from the recipient's side: ECDH with the epk, Concat KDF, AES key
        unwrap, A256GCM with the protected header's ASCII as AAD."""
        header = json.loads(b64u_dec(jwe["protected"]))
        if header["alg"] != "ECDH-ES+A256KW" and check_alg:
            raise ValueError(f"JWE alg {header['alg']} is not ECDH-ES+A256KW")
        assert header["enc"] == "A256GCM", header
        epk = header["epk"]
        assert (epk["kty"], epk["crv"]) == ("EC", "P-256")
        eph = ec.EllipticCurvePublicNumbers(int.from_bytes(b64u_dec(epk["x"]), "big"),
                                            int.from_bytes(b64u_dec(epk["y"]), "big"),
                                            ec.SECP256R1()).public_key()
        z = self.tee_key.exchange(ec.ECDH(), eph)
        alg = b"ECDH-ES+A256KW"
        other = (struct.pack(">I", len(alg)) + alg + struct.pack(">I", 0) +
                 struct.pack(">I", 0) + struct.pack(">I", 256))
        kek = ConcatKDFHash(hashes.SHA256(), 32, other).derive(z)
        cek = aes_key_unwrap(kek, b64u_dec(jwe["encrypted_key"]))
        return AESGCM(cek).decrypt(b64u_dec(jwe["iv"]),
                                   b64u_dec(jwe["ciphertext"]) + b64u_dec(jwe["tag"]),
                                   jwe["protected"].encode("ascii"))


def jwt_claims(kbs, token):
    """The claims of token after checking its ES256 signature with the KBS's public key."""
    h, c, s = token.split(".")
    header = json.loads(b64u_dec(h))
    assert header["alg"] == "ES256"
    sig = b64u_dec(s)
    kbs.token_public_key.verify(
        encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")),
        f"{h}.{c}".encode(), ec.ECDSA(hashes.SHA256()))
    return json.loads(b64u_dec(c))


# --------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="module")
def sim_key():
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def kbs(sim_key):
    k = kbsmod.KBS(policy=SIM_POLICY, sim_key=pem_public(sim_key))
    k.add_resource(RESOURCE, SECRET)
    yield k
    k.stop()


def attested_client(kbs, sim_key, **kw):
    c = Client(kbs)
    assert c.auth().status == 200
    a = c.attest(c.attestation(c.sim_primary(sim_key, **kw)))
    assert a.status == 200, a
    return c


# --------------------------------------------------------------------------------------------
# JCS and the binding


def test_jcs_test_vector():
    doc = {"b": 1, "a": "test", "c": {"d": "e"}}
    assert kbsmod.jcs(doc) == b'{"a":"test","b":1,"c":{"d":"e"}}'
    assert hashlib.sha384(kbsmod.jcs(doc)).hexdigest() == JCS_VECTOR_SHA384
    assert hashlib.sha384(canon(doc)).hexdigest() == JCS_VECTOR_SHA384


def test_jcs_rules():
    # RFC 8785 3.2.3: member names sorted as UTF-16 code units (U+1F600 before U+FB33)
    doc = {"\u20ac": 1, "\r": 2, "\ufb33": 3, "1": 4, "\U0001F600": 5, "\u0080": 6, "\u00f6": 7}
    out = kbsmod.jcs(doc).decode()
    assert list(json.loads(out)) == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001F600",
                                     "\ufb33"]
    assert out.startswith('{"\\r":2,"1":4,')
    assert kbsmod.jcs("a\"\\\b\t\n\f\r\x1f/é") == '"a\\"\\\\\\b\\t\\n\\f\\r\\u001f/é"'.encode()
    assert kbsmod.jcs([-0.0, 1.0, 2 ** 53, True, None]) == b"[0,1,9007199254740992,true,null]"
    for bad in (2 ** 53 + 1, 1.5, float("nan"), "\ud800"):
        with pytest.raises(ValueError):
            kbsmod.jcs(bad)


def test_binding_is_the_clients():
    jwk = ec_jwk(ec.generate_private_key(ec.SECP256R1()).public_key())
    nonce = base64.b64encode(os.urandom(32)).decode()
    assert kbsmod.kbs_report_data(jwk, nonce, "") == binding(jwk, nonce)
    assert kbsmod.kbs_report_data(jwk, nonce, "x") == binding(jwk, nonce, "x")
    assert kbsmod.kbs_report_data(jwk, nonce, "") != binding(jwk, nonce, "x")


# --------------------------------------------------------------------------------------------
# auth -> attest -> resource


def test_full_flow(kbs, sim_key):
    c = Client(kbs)
    a = c.auth()
    assert a.status == 200, a
    challenge = a.json()
    assert set(challenge) == {"nonce", "extra-params"} and challenge["extra-params"] == ""
    assert len(base64.b64decode(challenge["nonce"], validate=True)) == 32
    set_cookie = a.headers["Set-Cookie"]
    name, _, sid = c.cookie.partition("=")
    assert name == "kbs-session-id" and len(sid) >= 16 and "Path=/kbs/v0" in set_cookie

    a = c.attest(c.attestation(c.sim_primary(sim_key)))
    assert a.status == 200, a
    assert set(a.json()) == {"token"}
    claims = jwt_claims(kbs, c.token)
    assert claims["tee"] == "rune-sim" and claims["simulated"] is True
    cpu0 = claims["submods"]["cpu0"]
    assert cpu0["ear.status"] == "warning"
    assert (cpu0["mr_enclave"], cpu0["mr_signer"]) == (MRENCLAVE.hex(), MRSIGNER.hex())
    assert claims["tee-pubkey"] == c.jwk
    assert claims["iat"] <= time.time() + 1 < claims["exp"]

    r = c.resource()
    assert r.status == 200, r
    jwe = r.json()
    assert set(jwe) == {"protected", "encrypted_key", "iv", "ciphertext", "tag"}
    protected = b64u_dec(jwe["protected"])
    header = json.loads(protected)
    assert protected == json.dumps(
        {"alg": "ECDH-ES+A256KW", "enc": "A256GCM",
         "epk": {"crv": "P-256", "kty": "EC", "x": header["epk"]["x"],
                 "y": header["epk"]["y"]}}, separators=(",", ":")).encode()
    assert len(b64u_dec(jwe["encrypted_key"])) == 40
    assert len(b64u_dec(jwe["iv"])) == 12 and len(b64u_dec(jwe["tag"])) == 16
    assert c.decrypt(jwe) == SECRET
    # the same resource again: a fresh ephemeral key and CEK each time
    jwe2 = c.resource().json()
    assert jwe2["encrypted_key"] != jwe["encrypted_key"] and c.decrypt(jwe2) == SECRET
    # a key that is not the session's cannot read it
    with pytest.raises((InvalidUnwrap, InvalidTag)):
        Client(kbs).decrypt(jwe)

    # an attested session answers the same token again
    token = c.token
    again = c.attest(c.attestation(c.sim_primary(sim_key)))
    assert again.status == 200 and again.json()["token"] == token
    assert kbs.counters == {"auth": 1, "attest": 2, "resource": 2, "attested": 1, "ra_tls": 0}
    (s,) = kbs.sessions()
    assert s["id"] == sid and s["attested"] and s["mr_enclave"] == MRENCLAVE.hex()

    # the log: one line per request, no secret in it
    log = "\n".join(kbs.log_lines)
    assert len(kbs.log_lines) == 5
    for secret in (c.nonce, c.token, sid, SECRET.decode(), jwe["encrypted_key"]):
        assert secret not in log


def test_two_sessions_have_their_own_nonce(kbs):
    a, b = Client(kbs), Client(kbs)
    assert a.auth().status == 200 and b.auth().status == 200
    assert a.nonce != b.nonce and a.cookie != b.cookie
    assert len(kbs.sessions()) == 2


@pytest.mark.parametrize("tee", ["sample", "sgx", "tdx", "SGX", "", 5, None])
def test_auth_refuses_unsupported_tees(kbs, tee):
    a = Client(kbs).auth(tee=tee)
    assert a.status == 401, a
    kind, detail = a.problem()
    assert kind == "AttestationError" and "tee" in detail
    assert "Set-Cookie" not in a.headers and kbs.sessions() == []


def test_auth_refuses_bad_requests(kbs):
    c = Client(kbs)
    assert c.auth(version="0.5.0").problem()[1].startswith("protocol version 0.5.0")
    a = c.request("POST", "/auth", b"{not json")
    assert a.status == 401 and "not JSON" in a.problem()[1]
    a = c.request("GET", "/auth")
    assert a.status == 405 and a.headers["Allow"] == "POST"
    assert c.request("POST", "/nowhere", {}).status == 404
    assert kbs.sessions() == []


# --------------------------------------------------------------------------------------------
# Attestation refusals: each case differs from the full flow by one thing


def _other_nonce(c, kbs, sim_key):
    other = base64.b64encode(os.urandom(32)).decode()
    return c.attestation(c.sim_primary(sim_key, nonce=other), nonce=other)


def _expired(c, kbs, sim_key):
    body = c.attestation(c.sim_primary(sim_key))
    later = time.time() + 301
    kbs.clock = lambda: later
    return body


def _sim_not_allowed(c, kbs, sim_key):
    kbs.set_policy({"tcb": {"allow_unknown": True}})
    return c.attestation(c.sim_primary(sim_key))


def _unknown_tcb(c, kbs, sim_key):
    kbs.set_policy({"insecure_allow_simulated": True})
    return c.attestation(c.sim_primary(sim_key))


def _wrong_mrenclave(c, kbs, sim_key):
    kbs.set_policy({**SIM_POLICY, "enclave": {"mrenclave": ["ab" * 32, "cd" * 32]}})
    return c.attestation(c.sim_primary(sim_key))


def _wrong_mrsigner(c, kbs, sim_key):
    kbs.set_policy({**SIM_POLICY, "enclave": {"mrsigner": ["ab" * 32]}})
    return c.attestation(c.sim_primary(sim_key))


def _low_svn(c, kbs, sim_key):
    kbs.set_policy({**SIM_POLICY, "enclave": {"min_isv_svn": 3}})
    return c.attestation(c.sim_primary(sim_key))


def _debug(c, kbs, sim_key):
    return c.attestation(c.sim_primary(sim_key, flags=FLAG_INIT | FLAG_MODE64 | FLAG_DEBUG))


def _other_signer(c, kbs, sim_key):
    other = ec.generate_private_key(ec.SECP256R1())
    ev = simtee01(other, report_body(binding(c.jwk, c.nonce)), id_key=sim_key)
    return c.attestation({"evidence": base64.b64encode(ev).decode()})


def _other_key_id(c, kbs, sim_key):
    other = ec.generate_private_key(ec.SECP256R1())
    ev = simtee01(other, report_body(binding(c.jwk, c.nonce)))
    return c.attestation({"evidence": base64.b64encode(ev).decode()})


def _body_changed(c, kbs, sim_key):
    ev = bytearray(simtee01(sim_key, report_body(binding(c.jwk, c.nonce))))
    ev[48 + 64] ^= 1  # MRENCLAVE after signing
    return c.attestation({"evidence": base64.b64encode(bytes(ev)).decode()})


def _unbound_key(c, kbs, sim_key):
    other_jwk = ec_jwk(ec.generate_private_key(ec.SECP256R1()).public_key())
    return c.attestation(c.sim_primary(sim_key, bind_jwk=other_jwk))


def _unbound_additional(c, kbs, sim_key):
    return c.attestation(c.sim_primary(sim_key, additional="x"), additional="")


def _off_curve_key(c, kbs, sim_key):
    jwk = dict(c.jwk, y=b64u((int.from_bytes(b64u_dec(c.jwk["y"]), "big") ^ 1).to_bytes(32,
                                                                                       "big")))
    return c.attestation(c.sim_primary(sim_key, bind_jwk=jwk), jwk=jwk)


def _rsa_key(c, kbs, sim_key):
    jwk = {"kty": "RSA", "alg": "RSA-OAEP-256", "n": "AQAB", "e": "AQAB"}
    return c.attestation(c.sim_primary(sim_key, bind_jwk=jwk), jwk=jwk)


def _direct_evidence(c, kbs, sim_key):
    body = c.attestation(None)
    body["tee-evidence"] = c.sim_primary(sim_key)
    return body


def _truncated(c, kbs, sim_key):
    ev = simtee01(sim_key, report_body(binding(c.jwk, c.nonce)))[:499]
    return c.attestation({"evidence": base64.b64encode(ev).decode()})


REFUSALS = {
    "wrong nonce": (_other_nonce, "nonce does not match the session's challenge"),
    "expired session": (_expired, "session expired"),
    "simulated not allowed": (_sim_not_allowed, "simulated evidence (SIMTEE01) is not accepted"),
    "unknown TCB": (_unknown_tcb, 'TCB status "unknown: no collateral" is not accepted'),
    "wrong MRENCLAVE": (_wrong_mrenclave,
                        f"MRENCLAVE {MRENCLAVE.hex()} is not among the 2 expected"),
    "wrong MRSIGNER": (_wrong_mrsigner, f"MRSIGNER {MRSIGNER.hex()} is not among the 1"),
    "ISVSVN too low": (_low_svn, "ISVSVN 2 is below the minimum 3"),
    "debug enclave": (_debug, "debug enclave refused"),
    "signed by another key": (_other_signer, "signature does not verify"),
    "another key id": (_other_key_id, "signed by another key"),
    "body changed after signing": (_body_changed, "signature does not verify"),
    "report_data binds another key": (_unbound_key, "report_data does not bind this session"),
    "additional evidence not bound": (_unbound_additional,
                                      "report_data does not bind this session"),
    "tee-pubkey off the curve": (_off_curve_key, "not a point on P-256"),
    "tee-pubkey RSA": (_rsa_key, 'kty "RSA" is not supported'),
    "tee-evidence not composite": (_direct_evidence, "CompositeEvidence"),
    "truncated evidence": (_truncated, "evidence: truncated"),
}


@pytest.mark.parametrize("case", REFUSALS)
def test_attest_refusals(kbs, sim_key, case):
    make, why = REFUSALS[case]
    c = Client(kbs)
    assert c.auth().status == 200
    a = c.attest(make(c, kbs, sim_key))
    assert a.status == 401, a
    kind, detail = a.problem()
    assert kind == "AttestationError" and why in detail, detail
    assert "\n" not in detail
    assert kbs.counters["attested"] == 0 and c.token is None
    assert c.resource().status == 401
    assert any(why in line for line in kbs.log_lines)


def test_attest_without_cookie(kbs, sim_key):
    c = Client(kbs)
    assert c.auth().status == 200
    a = c.attest(c.attestation(c.sim_primary(sim_key)), cookie=False)
    assert a.status == 401 and "no kbs-session-id cookie" in a.problem()[1]
    c.cookie = "kbs-session-id=" + "0" * 32
    a = c.attest(c.attestation(c.sim_primary(sim_key)))
    assert a.status == 401 and "unknown session" in a.problem()[1]
    assert kbs.counters["attested"] == 0


def test_policy_is_read_strictly():
    kbsmod.Policy(SIM_POLICY)
    for bad, why in [({"enclave": {"mrenclve": []}}, 'enclave: unknown key "mrenclve"'),
                     ({"enclave": {"mrenclave": ["00"]}}, "enclave.mrenclave[0]: expected 64"),
                     ({"tcb": {"accepted": ["Fine"]}}, 'tcb.accepted[0]: unknown TCB status'),
                     ({"insecure_allow_simulated": 1}, "insecure_allow_simulated: expected"),
                     ({"nope": 1}, 'unknown key "nope"')]:
        with pytest.raises(ValueError, match=None) as e:
            kbsmod.Policy(bad)
        assert why in str(e.value), e.value


# --------------------------------------------------------------------------------------------
# Resources


def test_resource_unauthenticated(kbs, sim_key):
    c = Client(kbs)
    r = c.resource()
    assert r.status == 401 and r.problem()[0] == "TokenNotFound"
    assert c.auth().status == 200
    r = c.resource()
    assert r.status == 401 and "not attested" in r.problem()[1]
    assert c.resource(bearer="not.a.token").status == 401
    assert kbs.counters["resource"] == 3


def test_resource_expired_session(kbs, sim_key):
    c = attested_client(kbs, sim_key)
    assert c.resource().status == 200
    later = time.time() + 301
    kbs.clock = lambda: later
    r = c.resource()
    assert r.status == 401 and "session expired" in r.problem()[1]


def test_resource_missing_and_bad_paths(kbs, sim_key):
    c = attested_client(kbs, sim_key)
    r = c.resource("default/key/2")
    assert r.status == 404 and r.problem()[0] == "ResourceNotFound"
    for bad in ("default/key", "default/key/1/2", "default/../1", "a/%2e%2e/b"):
        assert c.resource(bad).status == 404, bad


def test_resource_policy(kbs, sim_key):
    kbs.add_resource("default/key/locked", b"locked", allow_mrenclave=["ee" * 32])
    kbs.add_resource("default/key/ours", b"ours", allow_mrenclave=["ee" * 32, MRENCLAVE.hex()])
    c = attested_client(kbs, sim_key)
    r = c.resource("default/key/locked")
    assert r.status == 403 and r.problem()[0] == "PolicyDeny"
    r = c.resource("default/key/ours")
    assert r.status == 200 and c.decrypt(r.json()) == b"ours"
    # the same holds with a bearer token
    assert c.resource("default/key/locked", bearer=c.token, cookie=False).status == 403


def test_bearer_token(kbs, sim_key):
    c = attested_client(kbs, sim_key)
    # another connection, no cookie: the token alone, and the CEK wrapped to its tee-pubkey
    holder = Client(kbs, tee_key=c.tee_key)
    r = holder.resource(bearer=c.token)
    assert r.status == 200, r
    assert holder.decrypt(r.json()) == SECRET
    with pytest.raises((InvalidUnwrap, InvalidTag)):
        Client(kbs).decrypt(r.json())

    h, claims, s = c.token.split(".")
    forged = json.loads(b64u_dec(claims))
    forged["submods"]["cpu0"]["mr_enclave"] = "ee" * 32
    r = holder.resource(bearer=f"{h}.{b64u(json.dumps(forged).encode())}.{s}")
    assert r.status == 401 and "signature does not verify" in r.problem()[1]
    sig = bytearray(b64u_dec(s))
    sig[5] ^= 1
    assert holder.resource(bearer=f"{h}.{claims}.{b64u(bytes(sig))}").status == 401

    with kbsmod.KBS(policy=SIM_POLICY, sim_key=pem_public(sim_key)) as other:
        other.add_resource(RESOURCE, SECRET)
        stranger = attested_client(other, sim_key)
    r = holder.resource(bearer=stranger.token)
    assert r.status == 401 and "signature does not verify" in r.problem()[1]

    later = time.time() + kbs.token_lifetime + 1
    kbs.clock = lambda: later
    r = holder.resource(bearer=c.token)
    assert r.status == 401 and "expired" in r.problem()[1]


# --------------------------------------------------------------------------------------------
# tee "sgx" through a stand-in for `runectl verify-quote`

FAKE_RUNECTL = """#!/usr/bin/python3
import json, sys
args = sys.argv[1:]
with open(sys.argv[0] + ".args", "w") as f:
    json.dump(args, f)
doc = json.load(open(args[-1]))
print(json.dumps(doc["out"]))
if doc["out"].get("error"):
    print("runectl: verify-quote: " + doc["out"]["error"], file=sys.stderr)
sys.exit(0 if doc["out"]["verified"] else 1)
"""


def sgx_out(report_data, verified=True, debug=False, tcb="UpToDate"):
    out = {"verified": verified, "quote": {"version": 3, "tee": "SGX"},
           "identity": {"mr_enclave": MRENCLAVE.hex(), "mr_signer": MRSIGNER.hex(),
                        "isv_prod_id": 1, "isv_svn": 2},
           "debug": debug, "report_data": report_data.hex(), "tcb": {"status": tcb}}
    if not verified:
        out["error"] = "quote: signature does not verify with the attestation key"
        del out["tcb"]
    return out


@pytest.fixture
def sgx_kbs(tmp_path):
    runectl = tmp_path / "runectl"
    runectl.write_text(FAKE_RUNECTL)
    runectl.chmod(0o755)
    with kbsmod.KBS(runectl=runectl, runectl_at="2025-07-01T00:00:00Z") as k:
        k.add_resource(RESOURCE, SECRET)
        k.fake_args = tmp_path / "runectl.args"
        yield k


def sgx_attest(kbs, **kw):
    c = Client(kbs)
    assert c.auth(tee="sgx").status == 200
    quote = json.dumps({"out": sgx_out(binding(c.jwk, c.nonce), **kw)}).encode()
    return c, c.attest(c.attestation({"quote": base64.b64encode(quote).decode()}))


def test_sgx_quote_verified(sgx_kbs):
    c, a = sgx_attest(sgx_kbs)
    assert a.status == 200, a
    args = json.loads(sgx_kbs.fake_args.read_text())
    assert args[:3] == ["verify-quote", "--at", "2025-07-01T00:00:00Z"] and len(args) == 4
    claims = jwt_claims(sgx_kbs, c.token)
    assert claims["tee"] == "sgx" and claims["simulated"] is False
    assert claims["submods"]["cpu0"]["ear.status"] == "affirming"
    assert claims["submods"]["cpu0"]["mr_enclave"] == MRENCLAVE.hex()
    assert c.decrypt(c.resource().json()) == SECRET


@pytest.mark.parametrize("kw, why", [
    ({"verified": False}, "quote: signature does not verify with the attestation key"),
    ({"debug": True}, "debug enclave refused"),
    ({"tcb": "OutOfDate"}, 'TCB status "OutOfDate" is not accepted'),
])
def test_sgx_quote_refused(sgx_kbs, kw, why):
    c, a = sgx_attest(sgx_kbs, **kw)
    assert a.status == 401, a
    assert why in a.problem()[1]
    assert sgx_kbs.counters["attested"] == 0


def test_sgx_quote_binding(sgx_kbs):
    c = Client(sgx_kbs)
    assert c.auth(tee="sgx").status == 200
    other = base64.b64encode(os.urandom(32)).decode()
    quote = json.dumps({"out": sgx_out(binding(c.jwk, other))}).encode()
    a = c.attest(c.attestation({"quote": base64.b64encode(quote).decode()}))
    assert a.status == 401 and "report_data does not bind" in a.problem()[1]


def test_sgx_needs_a_verifier(kbs):
    a = Client(kbs).auth(tee="sgx")
    assert a.status == 401 and "no quote verifier" in a.problem()[1]


# --------------------------------------------------------------------------------------------
# Misbehaviour knobs


def endpoint_request(c, endpoint):
    if endpoint == "auth":
        return "POST", "/auth", json.dumps({"version": "0.4.0", "tee": "rune-sim",
                                            "extra-params": ""}).encode()
    if endpoint == "attest":
        return "POST", "/attest", json.dumps(c.attestation({"evidence": ""})).encode()
    return "GET", "/resource/" + RESOURCE, None


def raw_request(port, method, path, body=None, cookie=None):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    head = f"{method} {PREFIX}{path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    if cookie:
        head += f"Cookie: {cookie}\r\n"
    if body is not None:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    s.sendall(head.encode() + b"\r\n" + (body or b""))
    return s


ENDPOINTS = ["auth", "attest", "resource"]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_knob_status(kbs, sim_key, endpoint):
    c = attested_client(kbs, sim_key)
    kbs.misbehave(endpoint, "status:503", times=1)
    method, path, body = endpoint_request(c, endpoint)
    a = c.request(method, path, body)
    assert a.status == 503 and a.problem()[0] == "InjectedFault"
    a = c.request(method, path, body)  # once only
    assert a.status == 200, a


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_knob_garbage(kbs, sim_key, endpoint):
    c = attested_client(kbs, sim_key)
    kbs.misbehave(endpoint, "garbage")
    a = c.request(*endpoint_request(c, endpoint))
    assert a.status == 200
    with pytest.raises(ValueError):
        json.loads(a.body)
    assert c.request(*endpoint_request(c, endpoint)).status == 200  # until cleared
    kbs.misbehave(endpoint, None)
    a = c.request(*endpoint_request(c, endpoint))
    assert a.status == 200 and isinstance(json.loads(a.body), dict)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_knob_close(kbs, sim_key, endpoint):
    c = attested_client(kbs, sim_key)
    kbs.misbehave(endpoint, "close")
    with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError)):
        c.request(*endpoint_request(c, endpoint))


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_knob_stall(kbs, sim_key, endpoint):
    c = attested_client(kbs, sim_key)
    kbs.misbehave(endpoint, "stall")
    s = raw_request(kbs.port, *endpoint_request(c, endpoint), cookie=c.cookie)
    s.settimeout(0.5)
    with pytest.raises(TimeoutError):
        s.recv(1)
    t0 = time.monotonic()
    kbs.stop()  # releases the stalled answer: the connection closes without one
    s.settimeout(5)
    assert s.recv(1) == b"" and time.monotonic() - t0 < 3
    s.close()


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_knob_huge(kbs, sim_key, endpoint):
    c = attested_client(kbs, sim_key)
    kbs.misbehave(endpoint, "huge")
    conn = http.client.HTTPConnection("127.0.0.1", kbs.port, timeout=5)
    method, path, body = endpoint_request(c, endpoint)
    conn.request(method, PREFIX + path, body=body, headers={"Cookie": c.cookie})
    resp = conn.getresponse()
    assert resp.status == 200 and int(resp.headers["Content-Length"]) == 100 << 20
    got = resp.read(2 << 20)
    assert len(got) == 2 << 20 and got.startswith(b'{"token":"AAAA')
    conn.close()


def test_knob_wrong_key(kbs, sim_key):
    c = attested_client(kbs, sim_key)
    kbs.misbehave("resource", "wrong-key")
    jwe = c.resource().json()
    assert json.loads(b64u_dec(jwe["protected"]))["alg"] == "ECDH-ES+A256KW"
    assert len(b64u_dec(jwe["encrypted_key"])) == 40
    with pytest.raises(InvalidUnwrap):
        c.decrypt(jwe)
    kbs.misbehave("resource", None)
    assert c.decrypt(c.resource().json()) == SECRET


def test_knob_tamper(kbs, sim_key):
    c = attested_client(kbs, sim_key)
    kbs.misbehave("resource", "tamper")
    jwe = c.resource().json()
    with pytest.raises(InvalidTag):
        c.decrypt(jwe)
    ct = bytearray(b64u_dec(jwe["ciphertext"]))
    ct[0] ^= 1  # flipping the bit back makes it whole: exactly one bit was changed
    assert c.decrypt(dict(jwe, ciphertext=b64u(bytes(ct)))) == SECRET


def test_knob_bad_alg(kbs, sim_key):
    c = attested_client(kbs, sim_key)
    kbs.misbehave("resource", "bad-alg")
    jwe = c.resource().json()
    header = json.loads(b64u_dec(jwe["protected"]))
    assert header["alg"] == "RSA1_5"
    with pytest.raises(ValueError, match="RSA1_5"):
        c.decrypt(jwe)
    # only the header's claim is wrong (and it is authenticated as AAD, as it should be)
    assert c.decrypt(jwe, check_alg=False) == SECRET


def test_knob_names_are_checked(kbs):
    for ep, knob in [("auth", "tamper"), ("nowhere", "stall"), ("resource", "status:42")]:
        with pytest.raises(ValueError):
            kbs.misbehave(ep, knob)


# --------------------------------------------------------------------------------------------
# Bounds


def test_body_bound(kbs):
    s = socket.create_connection(("127.0.0.1", kbs.port), timeout=5)
    s.sendall(f"POST {PREFIX}/auth HTTP/1.1\r\nHost: x\r\nContent-Length: {(1 << 20) + 1}\r\n"
              "\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        assert chunk, data
        data += chunk
    assert data.startswith(b"HTTP/1.1 413 ")
    s.close()
    c = Client(kbs)
    assert c.request("POST", "/auth", b" " * (1 << 20)).status == 401  # at the bound: read


def test_read_timeout(sim_key):
    with kbsmod.KBS(read_timeout=0.3) as k:
        for partial in (b"POST /kbs/v0/auth HTTP/1.1\r\nHost: x\r\n",
                        b"POST /kbs/v0/auth HTTP/1.1\r\nContent-Length: 10\r\n\r\n{\"v"):
            s = socket.create_connection(("127.0.0.1", k.port), timeout=5)
            s.sendall(partial)
            t0 = time.monotonic()
            assert s.recv(100) == b""
            assert 0.2 < time.monotonic() - t0 < 3
            s.close()


def test_session_bound(sim_key):
    with kbsmod.KBS(max_sessions=4, session_timeout=100) as k:
        t = [1000.0]
        k.clock = lambda: t[0]
        first = [Client(k) for _ in range(2)]
        for c in first:
            assert c.auth().status == 200
        t[0] = 1050
        middle = [Client(k) for _ in range(2)]
        for c in middle:
            assert c.auth().status == 200
        t[0] = 1120  # the first two have expired: both go, the live ones stay
        last = Client(k)
        assert last.auth().status == 200
        ids = [s["id"] for s in k.sessions()]
        assert ids == [c.cookie.partition("=")[2] for c in middle + [last]]
        # full of live sessions: the oldest goes
        extra = [Client(k) for _ in range(2)]
        for c in extra:
            assert c.auth().status == 200
        ids = [s["id"] for s in k.sessions()]
        assert ids == [c.cookie.partition("=")[2] for c in middle[1:] + [last] + extra]
        assert k.counters["auth"] == 7
        assert middle[0].attest({}).problem()[1].startswith("unknown session")


# --------------------------------------------------------------------------------------------
# CLI


def test_cli(tmp_path, sim_key):
    (tmp_path / "sim.pem").write_bytes(pem_public(sim_key))
    (tmp_path / "policy.json").write_text(json.dumps(SIM_POLICY))
    (tmp_path / "secret").write_bytes(SECRET)
    port_file = tmp_path / "port"
    proc = subprocess.Popen(
        [sys.executable, str(KBS_PY), "--listen", "127.0.0.1:0",
         "--resource", f"{RESOURCE}={tmp_path / 'secret'}",
         "--resource", f"default/key/locked={tmp_path / 'secret'}",
         "--allow-mrenclave", f"default/key/locked={'ee' * 32}",
         "--policy", str(tmp_path / "policy.json"), "--sim-key", str(tmp_path / "sim.pem"),
         "--port-file", str(port_file)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 15
        while not port_file.exists():
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
            time.sleep(0.05)
        port = int(port_file.read_text())

        where = types.SimpleNamespace(port=port)
        c = Client(where)
        assert c.auth().status == 200
        a = c.attest(c.attestation(c.sim_primary(sim_key)))
        assert a.status == 200, a
        assert c.decrypt(c.resource().json()) == SECRET
        assert c.resource("default/key/locked").status == 403
        assert Client(where).auth(tee="sample").status == 401
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            rc = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
    err = proc.stderr.read().decode()
    assert rc == 0, err
    lines = err.splitlines()
    assert f"kbs listening on http://127.0.0.1:{port}" in lines
    assert any(ln.startswith("kbs: POST /kbs/v0/attest 200") for ln in lines), err
    assert any(ln.startswith(f"kbs: GET /kbs/v0/resource/{RESOURCE} 200") for ln in lines)
    assert any("GET /kbs/v0/resource/default/key/locked 403 PolicyDeny" in ln for ln in lines)
    assert any("POST /kbs/v0/auth 401" in ln and "sample" in ln for ln in lines)
    for secret in (c.nonce, c.token, c.cookie.partition("=")[2], SECRET.decode()):
        assert secret not in err


def test_cli_refuses_bad_arguments(tmp_path):
    res = subprocess.run([sys.executable, str(KBS_PY), "--resource",
                          f"a/b/c={tmp_path / 'nofile'}"], capture_output=True, timeout=30)
    assert res.returncode == 1 and res.stderr.decode().startswith("kbs: ")
    assert "nofile" in res.stderr.decode()
    (tmp_path / "file").write_bytes(b"x")
    res = subprocess.run([sys.executable, str(KBS_PY), "--resource",
                          f"a/../c={tmp_path / 'file'}"], capture_output=True, timeout=30)
    assert res.returncode == 1 and "expected <repository>/<type>/<tag>" in res.stderr.decode()
    (tmp_path / "p.json").write_text('{"enclave": {"mrenclve": []}}')
    res = subprocess.run([sys.executable, str(KBS_PY), "--policy", str(tmp_path / "p.json")],
                         capture_output=True, timeout=30)
    assert res.returncode == 1
    assert 'enclave: unknown key "mrenclve"' in res.stderr.decode()
