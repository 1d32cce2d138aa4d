#!/usr/bin/python3
"""A Key Broker Service for tests and demos: the protocol side of the CoCo KBS ("RCAR").

Written from the protocol (docs of the CoCo KBS attestation protocol, kbs-types' JSON shapes,
RFC 7516/7518/8785/7807), not from trustee's code. Python 3.11 stdlib + python3-cryptography.

    POST /kbs/v0/auth     {"version":"0.4.0","tee":T,"extra-params":{...}}
                          -> {"nonce":"<std base64 of 32 random bytes>","extra-params":""}
                             and Set-Cookie: kbs-session-id=<id>; Expires=...; Path=/kbs/v0
    POST /kbs/v0/attest   {"init-data":null,
                           "runtime-data":{"nonce":N,"tee-pubkey":JWK},
                           "tee-evidence":{"primary_evidence":E,"additional_evidence":"..."}}
                          -> {"token":"<ES256 JWT>"}
    GET  /kbs/v0/resource/<repository>/<type>/<tag>      (session cookie or Bearer token)
                          -> JWE flattened JSON, ECDH-ES+A256KW + A256GCM, to the TEE key

tee values: "sgx" (E = {"quote": std base64 of a DCAP quote}, verified by an external
`runectl verify-quote`, only when one is configured) and "rune-sim" (E = {"evidence": std
base64 of the 500 bytes of SIMTEE01 simulated evidence, lib/attest/evidence.h}). "sample" and
every other name are refused. "tee-evidence" must be kbs-types' CompositeEvidence (the object
with primary_evidence and additional_evidence) as the current attestation-agent sends it; the
older form (the TEE evidence itself in "tee-evidence") is refused with a message saying so.

Importable (class KBS, a context manager serving in a thread) and a CLI:

    kbs.py --listen 127.0.0.1:0 --resource repo/type/tag=FILE ... --policy POLICY.json
           --sim-key PUB.pem [--runectl PATH] [--port-file FILE]

Refusals are RFC 7807 problems {"type": ".../kbs/errors/<Kind>", "detail": "<one line>"}.
Each request is logged in one line (method, path, status, why) -- never a key, a nonce, a
cookie, a token or a resource.

SIMULATED evidence proves nothing about hardware: it is accepted only when the attestation
policy says "insecure_allow_simulated": true, and every token made from it says
"simulated": true and "ear.status": "warning".
"""

import argparse
import base64
import collections
import email.utils
import hashlib
import hmac
import io
import json
import os
import re
import secrets
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (decode_dss_signature,
                                                              encode_dss_signature)
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import aes_key_wrap

PREFIX = "/kbs/v0"
ERROR_TYPE = "https://github.com/confidential-containers/kbs/errors/"
COOKIE_NAME = "kbs-session-id"
PROTOCOL_VERSION = (0, 4, 0)  # the newest client protocol version understood
TEES = ("sgx", "rune-sim")

SESSION_TIMEOUT = 300  # s, as trustee's default of 5 minutes
TOKEN_LIFETIME = 300
MAX_SESSIONS = 1024
MAX_BODY = 1 << 20
READ_TIMEOUT = 10.0
MAX_TOKEN = 16 << 10
HUGE_SIZE = 100 << 20
RUNECTL_TIMEOUT = 30

JWE_ALG = "ECDH-ES+A256KW"
JWE_ENC = "A256GCM"

# SIMTEE01 (lib/attest/evidence.h), integers little-endian
SIM_MAGIC = b"SIMTEE01"
SIM_VERSION = 1
SIM_BODY_SIZE = 384
SIM_SIGNED_SIZE = 436
SIM_EVIDENCE_SIZE = 500
SIM_REFUSED = ("evidence: simulated evidence (SIMTEE01) is not accepted; allow it explicitly "
               "for tests and development")

SGX_FLAG_DEBUG = 0x2
TCB_UNKNOWN = "unknown: no collateral"
TCB_STATUSES = ("UpToDate", "SWHardeningNeeded", "ConfigurationNeeded",
                "ConfigurationAndSWHardeningNeeded", "OutOfDate",
                "OutOfDateConfigurationNeeded", "Revoked", "TDRelaunchAdvised",
                "TDRelaunchAdvisedConfigurationNeeded")
TCB_DEFAULT = ("UpToDate", "SWHardeningNeeded")

KNOBS = {
    "auth": ("garbage", "stall", "huge", "close"),
    "attest": ("garbage", "stall", "huge", "close"),
    "resource": ("garbage", "stall", "huge", "close", "wrong-key", "tamper", "bad-alg"),
}
_SEGMENT = re.compile(r"[A-Za-z0-9._-]+")
_B64URL = re.compile(r"[A-Za-z0-9_-]*")


# --------------------------------------------------------------------------------------------
# Encodings


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text):
    """Unpadded base64url (RFC 7515), strictly: only its alphabet, canonical trailing bits."""
    if not isinstance(text, str) or not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise ValueError("not base64url")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if b64url(data) != text:
        raise ValueError("not canonical base64url")
    return data


def b64std_decode(text):
    """Standard base64 with padding (RFC 4648 section 4), strictly."""
    if not isinstance(text, str):
        raise ValueError("not a string")
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError) as e:
        raise ValueError("not base64") from e
    if base64.b64encode(data).decode("ascii") != text:
        raise ValueError("not canonical base64")
    return data


def load_json(body):
    """A JSON document from a request body (bytes); ValueError for anything else."""
    try:
        return json.loads(body)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def compact_json(value):
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _jcs_string(s):
    try:
        s.encode("utf-8")  # lone surrogates cannot be serialised
    except UnicodeEncodeError as e:
        raise ValueError("JCS: a string is not valid Unicode") from e
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch in "\b\t\n\f\r":
            out.append({"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}[ch])
        elif o < 0x20:
            out.append(f"\\u{o:04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _jcs(value, depth):
    if depth > 64:
        raise ValueError("JCS: nested too deeply")
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")) or value != int(value):
            raise ValueError(f"JCS: number {value!r} is not an integer (the KBS binding holds "
                             "integers only, as lib/attest's JCS)")
        value = int(value)
    if isinstance(value, int):
        if abs(value) > 2 ** 53:
            raise ValueError(f"JCS: integer {value} is beyond 2^53: not exactly an IEEE 754 "
                             "double")
        return str(value)
    if isinstance(value, str):
        return _jcs_string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_jcs(v, depth + 1) for v in value) + "]"
    if isinstance(value, dict):
        for k in value:
            if not isinstance(k, str):
                raise ValueError("JCS: an object member name is not a string")
        # RFC 8785 3.2.3: names compared as arrays of UTF-16 code units
        keys = sorted(value, key=lambda k: k.encode("utf-16-be", "surrogatepass"))
        return "{" + ",".join(_jcs_string(k) + ":" + _jcs(value[k], depth + 1)
                              for k in keys) + "}"
    raise ValueError(f"JCS: cannot serialise a {type(value).__name__}")


def jcs(value):
    """RFC 8785 canonical JSON (UTF-8 bytes) of value; numbers: integers up to 2^53 only."""
    return _jcs(value, 0).encode("utf-8")


def kbs_report_data(tee_pubkey, nonce, additional_evidence=""):
    """The 64-byte REPORT_DATA that binds a session: SHA-384 of the JCS of {"tee-pubkey",
    "nonce", "additional-evidence"}, zero-padded."""
    doc = {"tee-pubkey": tee_pubkey, "nonce": nonce, "additional-evidence": additional_evidence}
    return hashlib.sha384(jcs(doc)).digest().ljust(64, b"\0")


# --------------------------------------------------------------------------------------------
# Keys, JWK, JWT, JWE


def ec_public_jwk(pub, alg=None):
    n = pub.public_numbers()
    jwk = {"crv": "P-256", "kty": "EC", "x": b64url(n.x.to_bytes(32, "big")),
           "y": b64url(n.y.to_bytes(32, "big"))}
    if alg:
        jwk = {"alg": alg, **jwk}
    return jwk


class Refusal(Exception):
    """A refused request: HTTP status, RFC 7807 kind, one-line detail."""

    def __init__(self, detail, status=401, kind="AttestationError"):
        super().__init__(detail)
        self.detail, self.status, self.kind = detail, status, kind


def parse_tee_pubkey(jwk):
    """The TEE's public key from its JWK: EC P-256, alg ECDH-ES+A256KW, exactly kty/crv/alg/x/y
    (kbs-types' TeePubKey::EC), a point on the curve. Raises Refusal."""
    where = "runtime-data.tee-pubkey"
    if not isinstance(jwk, dict):
        raise Refusal(f"{where}: expected a JWK object")
    if jwk.get("kty") != "EC":
        raise Refusal(f"{where}: kty {json.dumps(jwk.get('kty'))[:40]} is not supported "
                      "(EC P-256 with ECDH-ES+A256KW only)")
    for k in jwk:
        if k not in ("kty", "crv", "alg", "x", "y"):
            raise Refusal(f"{where}: unexpected member {json.dumps(k)[:40]} (an EC TeePubKey "
                          "has kty, crv, alg, x, y)")
    if jwk.get("crv") != "P-256":
        raise Refusal(f"{where}: crv {json.dumps(jwk.get('crv'))[:40]} is not supported "
                      "(P-256 only)")
    if jwk.get("alg") != JWE_ALG:
        raise Refusal(f"{where}: alg {json.dumps(jwk.get('alg'))[:40]} is not supported "
                      f"({JWE_ALG} only)")
    coords = []
    for c in ("x", "y"):
        try:
            v = b64url_decode(jwk.get(c))
        except ValueError:
            raise Refusal(f"{where}.{c}: not unpadded base64url") from None
        if len(v) != 32:
            raise Refusal(f"{where}.{c}: {len(v)} bytes, expected 32")
        coords.append(int.from_bytes(v, "big"))
    try:
        return ec.EllipticCurvePublicNumbers(coords[0], coords[1], ec.SECP256R1()).public_key()
    except ValueError:
        raise Refusal(f"{where}: not a point on P-256") from None


def concat_kdf_sha256(z, alg, keybits):
    """NIST SP 800-56A Concat KDF as RFC 7518 4.6.2 uses it: empty PartyUInfo/PartyVInfo."""
    def lp(b):
        return struct.pack(">I", len(b)) + b
    other = lp(alg.encode("ascii")) + lp(b"") + lp(b"") + struct.pack(">I", keybits)
    out, counter = b"", 1
    while len(out) * 8 < keybits:
        out += hashlib.sha256(struct.pack(">I", counter) + z + other).digest()
        counter += 1
    return out[:keybits // 8]


def jwe_encrypt(plaintext, recipient, alg_in_header=JWE_ALG):
    """Flattened JSON JWE of plaintext for recipient (an EC P-256 public key): ECDH-ES+A256KW
    with an ephemeral key, A256GCM, AAD = the ASCII of the protected header's base64url.
    alg_in_header only changes what the header claims (for a misbehaving KBS)."""
    eph = ec.generate_private_key(ec.SECP256R1())
    kek = concat_kdf_sha256(eph.exchange(ec.ECDH(), recipient), JWE_ALG, 256)
    cek = os.urandom(32)
    header = {"alg": alg_in_header, "enc": JWE_ENC, "epk": ec_public_jwk(eph.public_key())}
    protected = b64url(compact_json(header))
    iv = os.urandom(12)
    sealed = AESGCM(cek).encrypt(iv, plaintext, protected.encode("ascii"))
    return {"protected": protected, "encrypted_key": b64url(aes_key_wrap(kek, cek)),
            "iv": b64url(iv), "ciphertext": b64url(sealed[:-16]), "tag": b64url(sealed[-16:])}


def load_sim_public_key(key):
    """The simulated attestation public key from a key object, PEM bytes/str (public or
    private) or a file path. None stays None."""
    if key is None:
        return None
    if isinstance(key, ec.EllipticCurvePrivateKey):
        key = key.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey):
        pub = key
    else:
        if isinstance(key, Path) or (isinstance(key, str) and "-----BEGIN" not in key):
            key = Path(key).read_bytes()
        if isinstance(key, str):
            key = key.encode()
        if b"PRIVATE KEY" in key:
            pub = serialization.load_pem_private_key(key, password=None).public_key()
        else:
            pub = serialization.load_pem_public_key(key)
    if not isinstance(pub, ec.EllipticCurvePublicKey) or pub.curve.name != "secp256r1":
        raise ValueError("simulated attestation key: not a P-256 key")
    return pub


def spki_der(pub):
    return pub.public_bytes(serialization.Encoding.DER,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


# --------------------------------------------------------------------------------------------
# Evidence


def parse_report_body(body):
    """The claims of a 384-byte SGX report body (attestation.md 1.2)."""
    if len(body) != SIM_BODY_SIZE:
        raise ValueError(f"report body of {len(body)} bytes, expected 384")
    flags, xfrm = struct.unpack_from("<QQ", body, 48)
    prod, svn, config_svn = struct.unpack_from("<HHH", body, 256)
    return {
        "cpu_svn": body[0:16].hex(),
        "misc_select": struct.unpack_from("<I", body, 16)[0],
        "isv_ext_prod_id": body[32:48].hex(),
        "flags": flags, "xfrm": xfrm,
        "mr_enclave": body[64:96].hex(),
        "mr_signer": body[128:160].hex(),
        "config_id": body[192:256].hex(),
        "isv_prod_id": prod, "isv_svn": svn, "config_svn": config_svn,
        "isv_family_id": body[304:320].hex(),
        "report_data": bytes(body[320:384]),
        "debug": bool(flags & SGX_FLAG_DEBUG),
    }


def verify_sim_evidence(raw, pub):
    """Parse and verify SIMTEE01 evidence (evidence.h) signed by pub; its claims or
    Refusal("evidence: ...")."""
    if len(raw) < 16:
        raise Refusal(f"evidence: truncated: {len(raw)} bytes, less than the 16-byte header")
    if raw[:8] != SIM_MAGIC:
        raise Refusal("evidence: not simulated evidence (the magic is not SIMTEE01)")
    version, reserved, body_size = struct.unpack_from("<HHI", raw, 8)
    if version != SIM_VERSION:
        raise Refusal(f"evidence: simulated evidence version {version} is not supported "
                      "(only 1)")
    if reserved != 0:
        raise Refusal("evidence: reserved header bytes are not zero")
    if body_size != SIM_BODY_SIZE:
        raise Refusal(f"evidence: body size {body_size}, expected 384")
    if len(raw) < SIM_EVIDENCE_SIZE:
        raise Refusal(f"evidence: truncated: {len(raw)} bytes, expected 500")
    if len(raw) > SIM_EVIDENCE_SIZE:
        raise Refusal(f"evidence: {len(raw) - SIM_EVIDENCE_SIZE} bytes after the signature")
    (sig_size,) = struct.unpack_from("<I", raw, 432)
    if sig_size != 64:
        raise Refusal(f"evidence: signature size {sig_size}, expected 64")
    if pub is None:
        raise Refusal("evidence: this KBS has no simulated attestation public key configured")
    key_id = hashlib.sha256(spki_der(pub)).digest()
    if not hmac.compare_digest(raw[16:48], key_id):
        raise Refusal(f"evidence: signed by another key (key id {raw[16:48].hex()[:16]}..., "
                      f"expected {key_id.hex()[:16]}...)")
    r = int.from_bytes(raw[436:468], "big")
    s = int.from_bytes(raw[468:500], "big")
    try:
        pub.verify(encode_dss_signature(r, s), raw[:SIM_SIGNED_SIZE],
                   ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise Refusal("evidence: signature does not verify with the simulated attestation "
                      "key") from None
    claims = parse_report_body(raw[48:432])
    claims.update(simulated=True, tcb_status=TCB_UNKNOWN)
    return claims


def verify_sgx_quote(quote, runectl, at, collateral=None, crls=()):
    """Verify a DCAP quote with `runectl verify-quote` (docs/runectl.md); its claims or
    Refusal."""
    with tempfile.NamedTemporaryFile(prefix="kbs-quote-", suffix=".bin") as f:
        f.write(quote)
        f.flush()
        argv = [str(runectl), "verify-quote", "--at", at]
        if collateral:
            argv += ["--collateral", str(collateral)]
        for c in crls:
            argv += ["--crl", str(c)]
        argv.append(f.name)
        try:
            res = subprocess.run(argv, capture_output=True, timeout=RUNECTL_TIMEOUT,
                                 stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise Refusal(f"quote: the verifier gave no answer within {RUNECTL_TIMEOUT} s",
                          status=500, kind="InternalError") from None
        except OSError as e:
            raise Refusal(f"quote: cannot run the verifier: {e.strerror}", status=500,
                          kind="InternalError") from None
    first = res.stderr.decode("utf-8", "replace").strip().splitlines()
    first = first[0][:300] if first else ""
    try:
        out = json.loads(res.stdout[:MAX_BODY])
        if not isinstance(out, dict):
            raise ValueError
    except ValueError:
        why = first or f"exit status {res.returncode}"
        raise Refusal(f"quote: the verifier's output is not JSON ({why})", status=500,
                      kind="InternalError") from None
    if out.get("verified") is not True or res.returncode != 0:
        why = out.get("error") if isinstance(out.get("error"), str) else first
        why = (why or "not verified").replace("\n", " ")[:300]
        raise Refusal(why if why.startswith("quote") else f"quote: {why}")
    q = out.get("quote") or {}
    if isinstance(q, dict) and q.get("tee", "SGX") != "SGX":
        raise Refusal(f"quote: a {str(q.get('tee'))[:10]} quote, not an SGX enclave's")
    ident = out.get("identity")
    try:
        claims = {
            "mr_enclave": _hex_field(ident["mr_enclave"], 32),
            "mr_signer": _hex_field(ident["mr_signer"], 32),
            "isv_prod_id": _int_field(ident["isv_prod_id"]),
            "isv_svn": _int_field(ident["isv_svn"]),
            "debug": out["debug"] if isinstance(out["debug"], bool) else None,
            "report_data": bytes.fromhex(_hex_field(out["report_data"], 64)),
        }
        if claims["debug"] is None:
            raise ValueError
    except (KeyError, TypeError, ValueError):
        raise Refusal("quote: the verifier's JSON lacks identity, debug or report_data",
                      status=500, kind="InternalError") from None
    tcb = out.get("tcb") if isinstance(out.get("tcb"), dict) else {}
    claims.update(simulated=False, tcb_status=str(tcb.get("status", TCB_UNKNOWN))[:80])
    return claims


def _hex_field(v, n):
    if not isinstance(v, str) or len(v) != 2 * n:
        raise ValueError
    bytes.fromhex(v)
    return v.lower()


def _int_field(v):
    if isinstance(v, bool) or not isinstance(v, int):
        raise ValueError
    return v


# --------------------------------------------------------------------------------------------
# Appraisal policy (lib/attest/appraise.h's JSON, same defaults)


# --------------------------------------------------------------------------------------------
# RA-TLS client certificates (docs/ratls.md), read here independently of lib/attest

TCG_EVIDENCE_OID = "2.23.133.5.4.9"
CBOR_TAG_QUOTE = 60000  # an Intel TEE quote
CBOR_TAG_SIMULATED = 0x72756E65  # "rune": SIMTEE01 evidence, a private tag no real verifier knows
CBOR_DEPTH_MAX = 16


def cbor_decode(buf, i=0, depth=0):
    """One CBOR item of the kinds RA-TLS uses (uint, bstr, tstr, array, map, tag) at buf[i:]:
    (value, next index); a tag comes back as ("tag", number, value). ValueError otherwise."""
    if depth > CBOR_DEPTH_MAX:
        raise ValueError("nested too deep")
    if i >= len(buf):
        raise ValueError("truncated")
    major, info = buf[i] >> 5, buf[i] & 0x1F
    i += 1
    if info < 24:
        arg = info
    elif info in (24, 25, 26, 27):
        n = 1 << (info - 24)
        if i + n > len(buf):
            raise ValueError("truncated")
        arg = int.from_bytes(buf[i:i + n], "big")
        i += n
    else:
        raise ValueError(f"additional information {info} is not supported")
    if major == 0:
        return arg, i
    if major in (2, 3):
        if i + arg > len(buf):
            raise ValueError("a string runs past the end")
        data = bytes(buf[i:i + arg])
        return (data if major == 2 else data.decode("utf-8")), i + arg
    if major in (4, 5):
        if arg > len(buf):
            raise ValueError("more items announced than bytes left")
        items = []
        for _ in range(arg * (2 if major == 5 else 1)):
            v, i = cbor_decode(buf, i, depth + 1)
            items.append(v)
        if major == 4:
            return items, i
        return dict(zip(items[0::2], items[1::2])), i
    if major == 6:
        v, i = cbor_decode(buf, i, depth + 1)
        return ("tag", arg, v), i
    raise ValueError(f"major type {major} is not supported")


def verify_ra_tls_cert(cert, sim_key, now, quote_verifier=None):
    """The claims of the enclave behind an RA-TLS certificate (a cryptography x509 object), or
    Refusal("RA-TLS client certificate: ..."): its self-signature and validity, the evidence in
    its 2.23.133.5.4.9 extension (SIMTEE01 under the private tag, verified with sim_key; a quote
    under 60000, by quote_verifier), report_data[0:32] = SHA-256(claims) with the rest zero, and
    the claims' pubkey-hash = SHA-256 of the certificate's SubjectPublicKeyInfo."""
    def refuse(why):
        return Refusal(f"RA-TLS client certificate: {why}")
    pub = cert.public_key()
    try:
        if not isinstance(pub, ec.EllipticCurvePublicKey):
            raise InvalidSignature
        pub.verify(cert.signature, cert.tbs_certificate_bytes,
                   ec.ECDSA(cert.signature_hash_algorithm))
    except (InvalidSignature, TypeError, ValueError):
        raise refuse("its self-signature does not verify (an EC key is expected)") from None
    def utc(t):
        return t if t.tzinfo else t.replace(tzinfo=timezone.utc)
    before = getattr(cert, "not_valid_before_utc", None) or utc(cert.not_valid_before)
    after = getattr(cert, "not_valid_after_utc", None) or utc(cert.not_valid_after)
    if not before.timestamp() <= now <= after.timestamp():
        raise refuse("outside its validity")
    try:
        ext = cert.extensions.get_extension_for_oid(x509.ObjectIdentifier(TCG_EVIDENCE_OID))
        raw = ext.value.value
    except x509.ExtensionNotFound:
        raise refuse(f"no evidence extension ({TCG_EVIDENCE_OID})") from None
    try:
        item, end = cbor_decode(raw)
        if end != len(raw) or item[0] != "tag" or not isinstance(item[2], list) or \
                len(item[2]) != 2 or not all(isinstance(x, bytes) for x in item[2]):
            raise ValueError("not a tag over [bstr evidence, bstr claims]")
        tag, (evidence, claims_buf) = item[1], item[2]
        claims_map, end = cbor_decode(claims_buf)
        if end != len(claims_buf) or not isinstance(claims_map, dict):
            raise ValueError("the claims are not a map")
        ph = claims_map.get("pubkey-hash")
        if isinstance(ph, bytes):
            ph, _ = cbor_decode(ph)
        if not (isinstance(ph, list) and len(ph) == 2 and ph[0] == 1 and
                isinstance(ph[1], bytes)):
            raise ValueError("no sha-256 pubkey-hash claim")
    except (ValueError, TypeError, IndexError, UnicodeDecodeError) as e:
        raise refuse(f"evidence extension: {e}") from None
    if tag == CBOR_TAG_SIMULATED:
        claims = verify_sim_evidence(evidence, sim_key)
    elif tag == CBOR_TAG_QUOTE and quote_verifier:
        claims = quote_verifier(evidence)
    else:
        raise refuse(f"evidence under CBOR tag {tag} is not accepted here")
    want = hashlib.sha256(claims_buf).digest() + bytes(32)
    if not hmac.compare_digest(claims["report_data"], want):
        raise refuse("report_data does not bind the claims")
    if not hmac.compare_digest(ph[1], hashlib.sha256(spki_der(pub)).digest()):
        raise refuse("pubkey-hash does not match the certificate's key")
    return claims


def _tls_retry(conn, fn, deadline):
    """fn() on a pyOpenSSL connection over a socket with a timeout (non-blocking underneath),
    waiting while it wants to read or write, until deadline."""
    import select
    from OpenSSL import SSL
    while True:
        try:
            return fn()
        except (SSL.WantReadError, SSL.WantWriteError) as e:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("TLS: timed out") from None
            r, w = ([conn], []) if isinstance(e, SSL.WantReadError) else ([], [conn])
            select.select(r, w, [], left)


class _TLSRaw(io.RawIOBase):
    """The read side of a pyOpenSSL connection as a raw stream (http.server reads rfile)."""

    def __init__(self, conn, timeout):
        self.conn, self.timeout = conn, timeout

    def readable(self):
        return True

    def readinto(self, b):
        from OpenSSL import SSL
        try:
            data = _tls_retry(self.conn, lambda: self.conn.recv(len(b)),
                              time.monotonic() + self.timeout)
        except (SSL.ZeroReturnError, SSL.SysCallError):
            return 0
        b[:len(data)] = data
        return len(data)


class _TLSWriter:
    """The write side (http.server writes wfile, then flushes and closes it)."""

    closed = False

    def __init__(self, conn, timeout):
        self.conn, self.timeout = conn, timeout

    def write(self, data):
        data = bytes(data)
        deadline = time.monotonic() + self.timeout
        while data:
            n = _tls_retry(self.conn, lambda: self.conn.send(data[:16384]), deadline)
            data = data[n:]

    def flush(self):
        pass

    def close(self):
        if not self.closed:
            self.closed = True
            try:
                self.conn.shutdown()
            except Exception:  # the peer went away first: nothing to say goodbye to
                pass



class Policy:
    """An appraisal policy in appraise.h's JSON shape, read strictly (unknown keys refused):

        {"insecure_allow_simulated": false,
         "enclave": {"mrenclave": [hex64...], "mrsigner": [hex64...], "isv_prod_id": 1,
                     "min_isv_svn": 2, "allow_debug": false},
         "tcb": {"accepted": ["UpToDate", "SWHardeningNeeded"], "allow_unknown": false},
         "report_data": "<hex, 1 to 64 bytes>"}

    Defaults: no simulated evidence, no debug enclave, TCB UpToDate or SWHardeningNeeded, an
    unknown TCB status (no collateral; every simulated evidence) refused. ValueError names the
    path: 'appraisal policy: enclave: unknown key "mrenclve"'."""

    def __init__(self, doc=None):
        if isinstance(doc, (str, bytes)):
            if len(doc) > MAX_BODY:
                raise ValueError(f"appraisal policy: {len(doc)} bytes, more than {MAX_BODY}")
            try:
                doc = json.loads(doc)
            except ValueError as e:
                raise ValueError(f"appraisal policy: not JSON: {e}") from None
        doc = {} if doc is None else doc
        self.doc = json.loads(json.dumps(doc))
        self.insecure_allow_simulated = False
        self.mrenclave = self.mrsigner = None
        self.isv_prod_id = None
        self.min_isv_svn = 0
        self.allow_debug = False
        self.tcb_accepted = list(TCB_DEFAULT)
        self.allow_unknown_tcb = False
        self.report_data = None
        self._read(doc)

    @staticmethod
    def _fail(path, why):
        raise ValueError(f"appraisal policy: {path}: {why}" if path else
                         f"appraisal policy: {why}")

    def _obj(self, v, path, keys):
        if not isinstance(v, dict):
            self._fail(path, "expected an object")
        for k in v:
            if k not in keys:
                self._fail(path, f"unknown key {json.dumps(k)}")
        return v

    def _bool(self, o, path, key, default):
        if key not in o:
            return default
        if not isinstance(o[key], bool):
            self._fail(f"{path}.{key}" if path else key, "expected true or false")
        return o[key]

    def _int(self, o, path, key):
        v = o.get(key)
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 0xFFFF:
            self._fail(f"{path}.{key}", "expected an integer from 0 to 65535")
        return v

    def _ids(self, o, path, key):
        a = o[key]
        p = f"{path}.{key}"
        if not isinstance(a, list):
            self._fail(p, "expected an array")
        if not a:
            self._fail(p, "empty: no enclave would match")
        if len(a) > 64:
            self._fail(p, f"{len(a)} entries, more than 64")
        out = []
        for i, e in enumerate(a):
            if not isinstance(e, str) or not re.fullmatch(r"[0-9a-fA-F]{64}", e):
                self._fail(f"{p}[{i}]", "expected 64 hex digits")
            out.append(e.lower())
        return out

    def _read(self, doc):
        self._obj(doc, "", ("insecure_allow_simulated", "enclave", "tcb", "report_data"))
        self.insecure_allow_simulated = self._bool(doc, "", "insecure_allow_simulated", False)
        if "enclave" in doc:
            e = self._obj(doc["enclave"], "enclave", ("mrenclave", "mrsigner", "isv_prod_id",
                                                      "min_isv_svn", "allow_debug"))
            if "mrenclave" in e:
                self.mrenclave = self._ids(e, "enclave", "mrenclave")
            if "mrsigner" in e:
                self.mrsigner = self._ids(e, "enclave", "mrsigner")
            if "isv_prod_id" in e:
                self.isv_prod_id = self._int(e, "enclave", "isv_prod_id")
            if "min_isv_svn" in e:
                self.min_isv_svn = self._int(e, "enclave", "min_isv_svn")
            self.allow_debug = self._bool(e, "enclave", "allow_debug", False)
        if "tcb" in doc:
            t = self._obj(doc["tcb"], "tcb", ("accepted", "allow_unknown"))
            self.allow_unknown_tcb = self._bool(t, "tcb", "allow_unknown", False)
            if "accepted" in t:
                a = t["accepted"]
                if not isinstance(a, list):
                    self._fail("tcb.accepted", "expected an array")
                if not a:
                    self._fail("tcb.accepted", "empty: no TCB status would be accepted")
                for i, s in enumerate(a):
                    if s not in TCB_STATUSES:
                        self._fail(f"tcb.accepted[{i}]", f"unknown TCB status {json.dumps(s)}")
                self.tcb_accepted = [s for s in TCB_STATUSES if s in a]
        if "report_data" in doc:
            rd = doc["report_data"]
            if not isinstance(rd, str) or not re.fullmatch(r"([0-9a-fA-F]{2}){1,64}", rd):
                self._fail("report_data", "expected 2 to 128 hex digits (1 to 64 bytes, "
                           "zero-padded)")
            self.report_data = bytes.fromhex(rd).ljust(64, b"\0")

    def appraise(self, c):
        """Refusal (one line naming the claim, appraise.h's messages) unless claims c pass."""
        if c["simulated"] and not self.insecure_allow_simulated:
            raise Refusal("appraisal: simulated evidence refused (insecure_allow_simulated is "
                          "not set)")
        if c["debug"] and not self.allow_debug:
            raise Refusal("appraisal: debug enclave refused (attributes.flags DEBUG set)")
        if self.mrenclave is not None and c["mr_enclave"] not in self.mrenclave:
            raise Refusal(f"appraisal: MRENCLAVE {c['mr_enclave']} is not among the "
                          f"{len(self.mrenclave)} expected")
        if self.mrsigner is not None and c["mr_signer"] not in self.mrsigner:
            raise Refusal(f"appraisal: MRSIGNER {c['mr_signer']} is not among the "
                          f"{len(self.mrsigner)} expected")
        if self.isv_prod_id is not None and c["isv_prod_id"] != self.isv_prod_id:
            raise Refusal(f"appraisal: ISVPRODID {c['isv_prod_id']}, expected "
                          f"{self.isv_prod_id}")
        if c["isv_svn"] < self.min_isv_svn:
            raise Refusal(f"appraisal: ISVSVN {c['isv_svn']} is below the minimum "
                          f"{self.min_isv_svn}")
        s = c["tcb_status"]
        if s == TCB_UNKNOWN:
            if not self.allow_unknown_tcb:
                raise Refusal(f'appraisal: TCB status "{s}" is not accepted (tcb.allow_unknown '
                              "is not set)")
        elif s not in self.tcb_accepted:
            raise Refusal(f'appraisal: TCB status "{s}" is not accepted (accepted: '
                          f'{", ".join(self.tcb_accepted)})')
        if self.report_data is not None and c["report_data"] != self.report_data:
            raise Refusal(f"appraisal: report_data {c['report_data'].hex()} is not the expected "
                          f"{self.report_data.hex()}")


# --------------------------------------------------------------------------------------------
# The server


class _Session:
    __slots__ = ("id", "tee", "nonce", "created", "expires", "token", "tee_pubkey", "claims")

    def __init__(self, sid, tee, nonce, created, expires):
        self.id, self.tee, self.nonce = sid, tee, nonce
        self.created, self.expires = created, expires
        self.token = self.tee_pubkey = self.claims = None


class _Resource:
    __slots__ = ("data", "allow_mrenclave")

    def __init__(self, data, allow_mrenclave):
        self.data, self.allow_mrenclave = data, allow_mrenclave


def _resource_path(path):
    parts = path.split("/")
    if len(parts) != 3 or any(not _SEGMENT.fullmatch(p) or p in (".", "..") for p in parts):
        raise ValueError(f"resource path {path[:100]!r}: expected <repository>/<type>/<tag>, "
                         "each letters, digits, '.', '_' or '-' (not '.' or '..')")
    return path


def _printable(text, limit=200):
    return "".join(c if " " <= c < "\x7f" else "?" for c in text[:limit])


class KBS:
    """A KBS on host:port (port 0: a free one), serving in a daemon thread from construction.

    KBS(host="127.0.0.1", port=0, *, policy=None, sim_key=None, runectl=None,
        runectl_at=None, collateral=None, crls=(), session_timeout=300, token_lifetime=300,
        max_sessions=1024, max_body=1 MiB, read_timeout=10, log=None)

      policy        appraisal policy (dict, JSON text, Policy or None = the defaults)
      sim_key       the simulated attestation public key (PEM, path or key object), to verify
                    rune-sim evidence
      runectl       path of runectl: enables tee "sgx" (`runectl verify-quote --at TIME FILE`,
                    TIME = runectl_at or the KBS clock's now; --collateral/--crl when given)
      log           a callable(line) or a file (lines also kept in .log_lines, the last 1000)
      tls           (certificate PEM path, key PEM path): serve HTTPS (pyOpenSSL)
      ra_tls        with tls: every connection must present an RA-TLS client certificate
                    (docs/ratls.md) whose evidence verifies and passes the policy; others get
                    401 AttestationError naming why. Counted in counters["ra_tls"].

    Attributes: url ("http://127.0.0.1:PORT"), base_url (url + "/kbs/v0"), port, clock (a
    callable returning the time in seconds: assign to move time), log_lines.
    Admin: add_resource(), remove_resource(), set_policy(), set_sim_key(), misbehave(),
    counters, sessions(), token_public_key, token_jwk, verify_token(), stop().
    A context manager (stop() on exit)."""

    def __init__(self, host="127.0.0.1", port=0, *, policy=None, sim_key=None, runectl=None,
                 runectl_at=None, collateral=None, crls=(), session_timeout=SESSION_TIMEOUT,
                 token_lifetime=TOKEN_LIFETIME, max_sessions=MAX_SESSIONS, max_body=MAX_BODY,
                 read_timeout=READ_TIMEOUT, log=None, tls=None, ra_tls=False):
        self.clock = time.time
        self.tls_ctx = self._tls_context(tls, ra_tls) if tls else None
        self.ra_tls = ra_tls
        self.session_timeout, self.token_lifetime = session_timeout, token_lifetime
        self.max_sessions, self.max_body, self.read_timeout = max_sessions, max_body, read_timeout
        self.runectl, self.runectl_at = runectl, runectl_at
        self.collateral, self.crls = collateral, tuple(crls)
        self.log_lines = collections.deque(maxlen=1000)
        self._log_sink = log
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._conns = set()
        self._sessions = {}
        self._resources = {}
        self._knobs = {}
        self._counters = {"auth": 0, "attest": 0, "resource": 0, "attested": 0, "ra_tls": 0}
        self._policy = policy if isinstance(policy, Policy) else Policy(policy)
        self._sim_key = load_sim_public_key(sim_key)
        self._token_key = ec.generate_private_key(ec.SECP256R1())
        self.token_public_key = self._token_key.public_key()
        self.token_jwk = ec_public_jwk(self.token_public_key, alg="ES256")

        kbs = self

        class Handler(_Handler):
            timeout = read_timeout

        Handler.kbs = kbs
        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self.host = host
        self.port = self._server.server_address[1]
        self.url = f"{'https' if tls else 'http'}://{host}:{self.port}"
        self.base_url = self.url + PREFIX
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        daemon=True, name="kbs")
        self._thread.start()

    # ---- admin API
    def add_resource(self, path, data, allow_mrenclave=None):
        """Serve data (bytes) at repository/type/tag; allow_mrenclave: only to sessions whose
        MRENCLAVE (hex) is listed (None: to every attested session)."""
        _resource_path(path)
        allow = None
        if allow_mrenclave is not None:
            allow = set()
            for m in allow_mrenclave:
                if not re.fullmatch(r"[0-9a-fA-F]{64}", m):
                    raise ValueError(f"allow_mrenclave: {m!r} is not 64 hex digits")
                allow.add(m.lower())
        with self._lock:
            self._resources[path] = _Resource(bytes(data), allow)

    def remove_resource(self, path):
        with self._lock:
            self._resources.pop(path, None)

    def set_policy(self, policy):
        p = policy if isinstance(policy, Policy) else Policy(policy)
        with self._lock:
            self._policy = p

    def set_sim_key(self, key):
        k = load_sim_public_key(key)
        with self._lock:
            self._sim_key = k

    def misbehave(self, endpoint, knob, times=None):
        """Make endpoint ("auth", "attest", "resource") misbehave: "status:<code>" (that status
        with a problem JSON), "garbage" (200, not JSON), "stall" (read the request, never
        answer until stop()), "huge" (200 with a 100 MiB body, streamed), "close" (close
        without answering); for "resource" also "wrong-key" (a valid JWE for another key),
        "tamper" (one ciphertext bit flipped), "bad-alg" (header alg RSA1_5). knob None
        clears; times: only for the next n requests (None: until cleared)."""
        if endpoint not in KNOBS:
            raise ValueError(f"unknown endpoint {endpoint!r} (auth, attest, resource)")
        if knob is not None:
            m = re.fullmatch(r"status:(\d{3})", knob)
            if not (m and 100 <= int(m.group(1)) <= 599) and knob not in KNOBS[endpoint]:
                raise ValueError(f"unknown misbehaviour {knob!r} for {endpoint}")
        with self._lock:
            if knob is None:
                self._knobs.pop(endpoint, None)
            else:
                self._knobs[endpoint] = [knob, times]

    @property
    def counters(self):
        """Requests to /auth, /attest, /resource, and successful attestations ("attested")."""
        with self._lock:
            return dict(self._counters)

    def sessions(self):
        """The sessions, oldest first: id, tee, created, expires, attested, mr_enclave."""
        with self._lock:
            return [{"id": s.id, "tee": s.tee, "created": s.created, "expires": s.expires,
                     "attested": s.token is not None,
                     "mr_enclave": s.claims["mr_enclave"] if s.claims else None}
                    for s in sorted(self._sessions.values(), key=lambda s: s.created)]

    def stop(self):
        """Stop serving: stalled answers are released, open connections closed."""
        if self._closing.is_set():
            return
        self._closing.set()
        self._server.shutdown()
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._server.server_close()
        self._thread.join(timeout=10)

    close = stop

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    # ---- TLS
    @staticmethod
    def _tls_context(tls, ra_tls):
        from OpenSSL import SSL
        ctx = SSL.Context(SSL.TLS_SERVER_METHOD)
        ctx.set_min_proto_version(SSL.TLS1_2_VERSION)
        ctx.use_certificate_file(str(tls[0]))
        ctx.use_privatekey_file(str(tls[1]))
        # Any client certificate passes the handshake: an RA-TLS one is self-signed, and what
        # makes it worth anything (its evidence) is checked after it, with a clear answer.
        ctx.set_verify(SSL.VERIFY_PEER if ra_tls else SSL.VERIFY_NONE, lambda *a: True)
        # A server that asks for client certificates must name its session context, or
        # OpenSSL fails every resumed handshake (clients resume: libcurl does).
        ctx.set_session_id(b"rune-test-kbs")
        return ctx

    def _tls_accept(self, h):
        """Handshake on h's connection; its rfile/wfile then speak TLS. With ra_tls, the client
        certificate's verdict is kept on h (h.ra_tls_claims or h.ra_tls_refusal)."""
        from OpenSSL import SSL
        conn = SSL.Connection(self.tls_ctx, h.connection)
        conn.set_accept_state()
        _tls_retry(conn, conn.do_handshake, time.monotonic() + self.read_timeout)
        h.tls = conn
        h.rfile = io.BufferedReader(_TLSRaw(conn, self.read_timeout))
        h.wfile = _TLSWriter(conn, self.read_timeout)
        h.ra_tls_claims = h.ra_tls_refusal = None
        if not self.ra_tls:
            return
        peer = conn.get_peer_certificate()
        try:
            if peer is None:
                raise Refusal("RA-TLS client certificate required (none was presented)")
            claims = verify_ra_tls_cert(peer.to_cryptography(), self._sim_key, self.clock(),
                                        self._quote_verifier())
            self._policy.appraise(claims)
        except Refusal as r:
            h.ra_tls_refusal = r
            return
        h.ra_tls_claims = claims
        with self._lock:
            self._counters["ra_tls"] += 1

    def _quote_verifier(self):
        if not self.runectl:
            return None
        at = self.runectl_at or datetime.fromtimestamp(self.clock(), timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%SZ")
        return lambda q: verify_sgx_quote(q, self.runectl, at, self.collateral, self.crls)

    # ---- tokens
    def _sign_token(self, claims):
        header = {"alg": "ES256", "typ": "JWT", "jwk": self.token_jwk}
        signing_input = b64url(compact_json(header)) + "." + b64url(compact_json(claims))
        r, s = decode_dss_signature(self._token_key.sign(signing_input.encode("ascii"),
                                                         ec.ECDSA(hashes.SHA256())))
        return signing_input + "." + b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))

    def verify_token(self, token):
        """The claims of a token this KBS issued, signature and exp checked; else Refusal."""
        def bad(why):
            return Refusal(f"bearer token: {why}", kind="TokenVerificationFailed")
        if not isinstance(token, str) or len(token) > MAX_TOKEN or token.count(".") != 2:
            raise bad("not a JWT")
        h, c, s = token.split(".")
        try:
            header = json.loads(b64url_decode(h))
            claims = json.loads(b64url_decode(c))
            sig = b64url_decode(s)
        except ValueError:
            raise bad("not a JWT") from None
        if not isinstance(header, dict) or header.get("alg") != "ES256" or len(sig) != 64:
            raise bad("not ES256")
        try:
            self.token_public_key.verify(
                encode_dss_signature(int.from_bytes(sig[:32], "big"),
                                     int.from_bytes(sig[32:], "big")),
                f"{h}.{c}".encode("ascii"), ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            raise bad("signature does not verify with this KBS's key") from None
        if not isinstance(claims, dict):
            raise bad("claims are not an object")
        exp = claims.get("exp")
        if isinstance(exp, bool) or not isinstance(exp, int) or exp <= self.clock():
            raise bad("expired")
        return claims

    # ---- logging
    def _log(self, line):
        line = "kbs: " + line
        self.log_lines.append(line)
        sink = self._log_sink
        if sink is None:
            return
        try:
            if callable(sink):
                sink(line)
            else:
                sink.write(line + "\n")
                sink.flush()
        except (OSError, ValueError):
            pass

    # ---- connections
    def _track(self, conn, add):
        with self._lock:
            if add:
                self._conns.add(conn)
            else:
                self._conns.discard(conn)

    def _take_knob(self, endpoint):
        with self._lock:
            k = self._knobs.get(endpoint)
            if not k:
                return None
            if k[1] is not None:
                k[1] -= 1
                if k[1] <= 0:
                    del self._knobs[endpoint]
            return k[0]

    # ---- requests
    def _handle(self, h, method):
        path = urllib.parse.urlsplit(h.path).path
        shown = _printable(path)
        if getattr(h, "ra_tls_refusal", None):
            return self._problem(h, method, shown, h.ra_tls_refusal, close=True)
        routes = {PREFIX + "/auth": ("auth", "POST"), PREFIX + "/attest": ("attest", "POST")}
        if path in routes:
            endpoint, allowed = routes[path]
        elif path.startswith(PREFIX + "/resource/"):
            endpoint, allowed = "resource", "GET"
        else:
            return self._problem(h, method, shown, Refusal(
                f"no such endpoint {shown}", 404, "InvalidRequestPath"))
        if method != allowed:
            return self._problem(h, method, shown, Refusal(
                f"{method} is not allowed here ({allowed} is)", 405, "MethodNotAllowed"),
                headers=[("Allow", allowed)])
        with self._lock:
            self._counters[endpoint] += 1
        body = self._read_body(h, method, shown)
        if body is None:
            return
        knob = self._take_knob(endpoint)
        if knob and self._misbehave(h, method, shown, knob):
            return
        try:
            if endpoint == "auth":
                status, answer, headers, why = self._auth(body)
            elif endpoint == "attest":
                status, answer, headers, why = self._attest(h, body)
            else:
                status, answer, headers, why = self._resource(h, path, knob)
        except Refusal as r:
            return self._problem(h, method, shown, r)
        except Exception as e:  # a bug: answer 500, log its type only
            return self._problem(h, method, shown, Refusal(
                f"internal error ({type(e).__name__})", 500, "InternalError"))
        # logged before the answer goes out, so a client that has its answer sees the line
        self._log(f"{method} {shown} {status}" + (f" {why}" if why else ""))
        self._send(h, status, compact_json(answer), headers)

    def _read_body(self, h, method, shown):
        if h.headers.get("Transfer-Encoding"):
            self._problem(h, method, shown, Refusal("chunked request bodies are not supported "
                                                    "(send Content-Length)", 411,
                                                    "LengthRequired"), close=True)
            return None
        cl = h.headers.get("Content-Length")
        if cl is None:
            return b""
        if not cl.strip().isdigit():
            self._problem(h, method, shown, Refusal("bad Content-Length", 400, "BadRequest"),
                          close=True)
            return None
        n = int(cl)
        if n > self.max_body:
            self._problem(h, method, shown, Refusal(
                f"request body of {n} bytes, more than {self.max_body}", 413,
                "PayloadTooLarge"), close=True)
            return None
        try:
            body = h.rfile.read(n)
        except (TimeoutError, OSError):
            h.close_connection = True
            self._log(f"{method} {shown} - request body not received within "
                      f"{self.read_timeout:g} s")
            return None
        if len(body) != n:
            h.close_connection = True
            self._log(f"{method} {shown} - the client closed before sending its body")
            return None
        return body

    def _send(self, h, status, body, headers=(), ctype="application/json", close=False):
        try:
            h.send_response(status)
            h.send_header("Content-Type", ctype)
            h.send_header("Content-Length", str(len(body)))
            for k, v in headers:
                h.send_header(k, v)
            if close:
                h.send_header("Connection", "close")
                h.close_connection = True
            h.end_headers()
            h.wfile.write(body)
            h.wfile.flush()
        except OSError:
            h.close_connection = True

    def _problem(self, h, method, shown, r, headers=(), close=False):
        doc = {"type": ERROR_TYPE + r.kind, "detail": r.detail}
        self._log(f"{method} {shown} {r.status} {r.kind}: {r.detail}")
        self._send(h, r.status, compact_json(doc), headers, close=close)

    def _misbehave(self, h, method, shown, knob):
        """Do what the knob says; False for the resource knobs, which the handler applies."""
        if knob.startswith("status:"):
            code = int(knob[7:])
            self._problem(h, method, shown, Refusal(
                f"injected status {code} (misbehaving on purpose)", code, "InjectedFault"))
            return True
        if knob == "garbage":
            self._log(f"{method} {shown} 200 misbehaving: garbage")
            self._send(h, 200, b"\x00\xff<html>not json{{" + os.urandom(16),
                       ctype="application/json")
            return True
        if knob == "close":
            h.close_connection = True
            self._log(f"{method} {shown} - misbehaving: closed without answering")
            return True
        if knob == "stall":
            self._log(f"{method} {shown} - misbehaving: stalling until stopped")
            self._closing.wait()
            h.close_connection = True
            return True
        if knob == "huge":
            self._log(f"{method} {shown} 200 misbehaving: a {HUGE_SIZE >> 20} MiB body")
            h.close_connection = True
            try:
                h.send_response(200)
                h.send_header("Content-Type", "application/json")
                h.send_header("Content-Length", str(HUGE_SIZE))
                h.end_headers()
                chunk = b'{"token":"' + b"A" * ((64 << 10) - 10)
                sent = 0
                while sent < HUGE_SIZE and not self._closing.is_set():
                    part = chunk[:HUGE_SIZE - sent]
                    h.wfile.write(part)
                    sent += len(part)
                    chunk = b"A" * len(chunk)
                h.wfile.flush()
            except OSError:
                pass
            return True
        return False

    def _auth(self, body):
        try:
            req = load_json(body)
        except ValueError:
            raise Refusal("request body is not JSON") from None
        if not isinstance(req, dict):
            raise Refusal("request body is not a JSON object")
        version = req.get("version")
        m = re.fullmatch(r"(\d{1,6})\.(\d{1,6})\.(\d{1,6})", version) \
            if isinstance(version, str) else None
        if not m:
            raise Refusal("version: expected a protocol version like \"0.4.0\"")
        if tuple(map(int, m.groups())) > PROTOCOL_VERSION:
            raise Refusal(f"protocol version {version} is not supported (at most "
                          f"{'.'.join(map(str, PROTOCOL_VERSION))})")
        tee = req.get("tee")
        if not isinstance(tee, str):
            raise Refusal("tee: expected a string")
        if tee not in TEES:
            raise Refusal(f"tee {json.dumps(tee)[:40]} is not supported by this KBS "
                          f"(supported: {', '.join(TEES)})")
        if tee == "sgx" and not self.runectl:
            raise Refusal("tee \"sgx\" is not supported by this KBS: no quote verifier is "
                          "configured (--runectl)")
        extra = req.get("extra-params", "")
        if isinstance(extra, dict) and "supported-hash-algorithms" in extra:
            algs = extra["supported-hash-algorithms"]
            if not isinstance(algs, list) or not any(
                    isinstance(a, str) and a.lower() == "sha384" for a in algs):
                raise Refusal("extra-params.supported-hash-algorithms: sha384 is not among "
                              "them (this KBS binds with sha384)")
        elif not isinstance(extra, (dict, str)) and extra is not None:
            raise Refusal("extra-params: expected an object or a string")
        now = self.clock()
        nonce = base64.b64encode(secrets.token_bytes(32)).decode("ascii")
        sid = secrets.token_hex(16)
        with self._lock:
            if len(self._sessions) >= self.max_sessions:
                for k in [k for k, s in self._sessions.items() if s.expires <= now]:
                    del self._sessions[k]
            while len(self._sessions) >= self.max_sessions:
                oldest = min(self._sessions.values(), key=lambda s: s.created)
                del self._sessions[oldest.id]
            self._sessions[sid] = _Session(sid, tee, nonce, now, now + self.session_timeout)
        expires = email.utils.formatdate(now + self.session_timeout, usegmt=True)
        cookie = f"{COOKIE_NAME}={sid}; Expires={expires}; Path={PREFIX}"
        return 200, {"nonce": nonce, "extra-params": ""}, [("Set-Cookie", cookie)], \
            f"tee {tee}"

    def _session(self, h):
        """The session the request's cookie names, or Refusal; None without a cookie."""
        sid = None
        for line in h.headers.get_all("Cookie") or []:
            for part in line.split(";"):
                name, _, value = part.strip().partition("=")
                if name == COOKIE_NAME:
                    sid = value.strip().strip('"')
        if sid is None:
            return None
        now = self.clock()
        with self._lock:
            s = self._sessions.get(sid)
            if s is None:
                raise Refusal("unknown session (kbs-session-id): POST /auth first")
            if s.expires <= now:
                del self._sessions[sid]
                raise Refusal("session expired: POST /auth again")
            return s

    def _attest(self, h, body):
        s = self._session(h)
        if s is None:
            raise Refusal("no kbs-session-id cookie: POST /auth first")
        with self._lock:
            if s.token is not None:
                return 200, {"token": s.token}, [], "already attested: the same token"
        try:
            req = load_json(body)
        except ValueError:
            raise Refusal("request body is not JSON") from None
        if not isinstance(req, dict):
            raise Refusal("request body is not a JSON object")
        if req.get("init-data") is not None:
            raise Refusal("init-data is not supported by this KBS (send null)")
        rt = req.get("runtime-data")
        if not isinstance(rt, dict):
            raise Refusal("runtime-data: expected an object with nonce and tee-pubkey")
        nonce = rt.get("nonce")
        if not isinstance(nonce, str):
            raise Refusal("runtime-data.nonce: expected a string")
        if not hmac.compare_digest(nonce.encode("utf-8", "replace"), s.nonce.encode("ascii")):
            raise Refusal("runtime-data.nonce does not match the session's challenge")
        jwk = rt.get("tee-pubkey")
        tee_key = parse_tee_pubkey(jwk)
        ev = req.get("tee-evidence")
        if not isinstance(ev, dict) or "primary_evidence" not in ev:
            raise Refusal("tee-evidence: expected {\"primary_evidence\": ..., "
                          "\"additional_evidence\": \"...\"} (kbs-types CompositeEvidence)")
        additional = ev.get("additional_evidence", "")
        if not isinstance(additional, str):
            raise Refusal("tee-evidence.additional_evidence: expected a string")
        primary = ev["primary_evidence"]
        if not isinstance(primary, dict):
            raise Refusal("tee-evidence.primary_evidence: expected an object")
        with self._lock:
            policy, sim_key = self._policy, self._sim_key
        if s.tee == "rune-sim":
            if not policy.insecure_allow_simulated:
                raise Refusal(SIM_REFUSED)
            if set(primary) != {"evidence"}:
                raise Refusal("tee-evidence.primary_evidence: expected {\"evidence\": "
                              "\"<base64 of SIMTEE01>\"}")
            try:
                raw = b64std_decode(primary["evidence"])
            except ValueError:
                raise Refusal("tee-evidence.primary_evidence.evidence: not standard "
                              "base64") from None
            claims = verify_sim_evidence(raw, sim_key)
        else:
            if not self.runectl:
                raise Refusal("sgx evidence cannot be verified: no quote verifier configured")
            try:
                quote = b64std_decode(primary.get("quote"))
            except ValueError:
                raise Refusal("tee-evidence.primary_evidence.quote: not standard base64") \
                    from None
            at = self.runectl_at or datetime.fromtimestamp(
                int(self.clock()), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            claims = verify_sgx_quote(quote, self.runectl, at, self.collateral, self.crls)
        expected = kbs_report_data(jwk, nonce, additional)
        if not hmac.compare_digest(claims["report_data"], expected):
            raise Refusal("report_data does not bind this session: it is not the SHA-384 of "
                          "the JCS of {tee-pubkey, nonce, additional-evidence}, zero-padded")
        policy.appraise(claims)
        now = int(self.clock())
        token = self._sign_token({
            "iss": "rune-test-kbs", "iat": now, "exp": now + int(self.token_lifetime),
            "tee": s.tee, "simulated": claims["simulated"],
            "submods": {"cpu0": {
                "ear.status": "warning" if claims["simulated"] else "affirming",
                "mr_enclave": claims["mr_enclave"], "mr_signer": claims["mr_signer"],
                "isv_prod_id": claims["isv_prod_id"], "isv_svn": claims["isv_svn"],
                "debug": claims["debug"], "tcb_status": claims["tcb_status"]}},
            "tee-pubkey": jwk,
        })
        with self._lock:
            if s.token is None:
                s.token, s.tee_pubkey, s.claims = token, tee_key, claims
                self._counters["attested"] += 1
            token = s.token
        return 200, {"token": token}, [], \
            f"attested {s.tee}{' (SIMULATED)' if claims['simulated'] else ''} " \
            f"mr_enclave {claims['mr_enclave'][:16]}..."

    def _resource(self, h, path, knob):
        auth = h.headers.get("Authorization")
        if auth is not None:
            scheme, _, token = auth.strip().partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Refusal("Authorization: expected \"Bearer <token>\"",
                              kind="TokenNotFound")
            claims = self.verify_token(token.strip())
            try:
                tee_key = parse_tee_pubkey(claims.get("tee-pubkey"))
                mr_enclave = claims["submods"]["cpu0"]["mr_enclave"]
            except (Refusal, KeyError, TypeError):
                raise Refusal("bearer token: no usable tee-pubkey or submods",
                              kind="TokenVerificationFailed") from None
        else:
            s = self._session(h)
            if s is None:
                raise Refusal("no kbs-session-id cookie and no bearer token: attest first",
                              kind="TokenNotFound")
            with self._lock:
                if s.token is None:
                    raise Refusal("session not attested: POST /attest first",
                                  kind="TokenNotFound")
                tee_key, mr_enclave = s.tee_pubkey, s.claims["mr_enclave"]
        name = path[len(PREFIX + "/resource/"):]
        try:
            _resource_path(name)
        except ValueError as e:
            raise Refusal(str(e), 404, "InvalidRequestPath") from None
        with self._lock:
            res = self._resources.get(name)
        if res is None:
            raise Refusal(f"resource {name} not found", 404, "ResourceNotFound")
        if res.allow_mrenclave is not None and mr_enclave not in res.allow_mrenclave:
            raise Refusal(f"resource policy: MRENCLAVE {str(mr_enclave)[:64]} may not read "
                          f"{name}", 403, "PolicyDeny")
        why = ""
        if knob == "wrong-key":
            tee_key = ec.generate_private_key(ec.SECP256R1()).public_key()
            why = "misbehaving: wrapped to another key"
        jwe = jwe_encrypt(res.data, tee_key, "RSA1_5" if knob == "bad-alg" else JWE_ALG)
        if knob == "tamper":
            ct = bytearray(b64url_decode(jwe["ciphertext"]) or b"\0")
            ct[0] ^= 1
            jwe["ciphertext"] = b64url(bytes(ct))
            why = "misbehaving: a ciphertext bit flipped"
        elif knob == "bad-alg":
            why = "misbehaving: header alg RSA1_5"
        return 200, jwe, [], why


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "rune-test-kbs/1"
    kbs = None

    def setup(self):
        super().setup()
        # Headers and body go out in separate writes: without this, Nagle's algorithm holds
        # the body until the client's delayed ACK of the headers (some 40 ms per answer).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.kbs._track(self.connection, True)
        if self.kbs.tls_ctx:
            try:
                self.kbs._tls_accept(self)
            except Exception as e:  # a failed handshake: no HTTP on this connection
                self.kbs._log(f"TLS handshake failed: {type(e).__name__}")
                self.close_connection = True
                self.rfile = io.BytesIO(b"")

    def finish(self):
        try:
            super().finish()
        finally:
            self.kbs._track(self.connection, False)

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.kbs._handle(self, "GET")

    def do_POST(self):
        self.kbs._handle(self, "POST")

    def do_PUT(self):
        self.kbs._handle(self, "PUT")

    def do_DELETE(self):
        self.kbs._handle(self, "DELETE")


# --------------------------------------------------------------------------------------------
# CLI


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="kbs.py", description="A CoCo KBS (RCAR protocol) for tests and demos.")
    ap.add_argument("--listen", default="127.0.0.1:0", metavar="HOST:PORT",
                    help="address to listen on (default 127.0.0.1:0, a free port)")
    ap.add_argument("--resource", action="append", default=[], metavar="REPO/TYPE/TAG=FILE",
                    help="serve FILE's bytes at that resource path (repeatable)")
    ap.add_argument("--allow-mrenclave", action="append", default=[],
                    metavar="REPO/TYPE/TAG=HEX[,HEX...]",
                    help="only enclaves with these MRENCLAVEs may read that resource")
    ap.add_argument("--policy", metavar="POLICY.json",
                    help="attestation (appraisal) policy, lib/attest/appraise.h's JSON")
    ap.add_argument("--sim-key", metavar="PUB.pem",
                    help="the simulated attestation public key (for tee rune-sim)")
    ap.add_argument("--runectl", metavar="PATH", help="runectl, to verify sgx quotes")
    ap.add_argument("--runectl-at", metavar="TIME",
                    help="verify quotes at this RFC 3339 time (default: now)")
    ap.add_argument("--collateral", metavar="PATH", help="collateral for verify-quote")
    ap.add_argument("--crl", action="append", default=[], metavar="FILE",
                    help="a CRL for verify-quote (repeatable)")
    ap.add_argument("--session-timeout", type=float, default=SESSION_TIMEOUT, metavar="S")
    ap.add_argument("--token-lifetime", type=int, default=TOKEN_LIFETIME, metavar="S")
    ap.add_argument("--misbehave", action="append", default=[], metavar="ENDPOINT=KNOB",
                    help="make an endpoint misbehave (tests)")
    ap.add_argument("--tls-cert", metavar="PEM", help="serve HTTPS with this certificate")
    ap.add_argument("--tls-key", metavar="PEM", help="and this private key")
    ap.add_argument("--ra-tls", action="store_true",
                    help="with --tls-*: require an RA-TLS client certificate that verifies "
                         "and passes --policy")
    ap.add_argument("--port-file", metavar="FILE", help="write the port number there")
    a = ap.parse_args(argv)

    def die(msg):
        print(f"kbs: {msg}", file=sys.stderr, flush=True)
        return 1

    if bool(a.tls_cert) != bool(a.tls_key):
        return die("--tls-cert and --tls-key go together")
    if a.ra_tls and not a.tls_cert:
        return die("--ra-tls needs --tls-cert and --tls-key")
    host, _, port = a.listen.rpartition(":")
    if not host or not port.isdigit():
        return die(f"--listen {a.listen}: expected HOST:PORT")
    resources, allows = [], {}
    try:
        for spec in a.allow_mrenclave:
            path, _, ids = spec.partition("=")
            allows[path] = [i for i in ids.split(",") if i]
        for spec in a.resource:
            path, eq, file = spec.partition("=")
            if not eq:
                return die(f"--resource {spec}: expected REPO/TYPE/TAG=FILE")
            resources.append((path, Path(file).read_bytes()))
        policy = Policy(Path(a.policy).read_bytes()) if a.policy else Policy()
        sim_key = load_sim_public_key(Path(a.sim_key)) if a.sim_key else None
        kbs = KBS(host, int(port), policy=policy, sim_key=sim_key, runectl=a.runectl,
                  runectl_at=a.runectl_at, collateral=a.collateral, crls=a.crl,
                  session_timeout=a.session_timeout, token_lifetime=a.token_lifetime,
                  log=sys.stderr, tls=(a.tls_cert, a.tls_key) if a.tls_cert else None,
                  ra_tls=a.ra_tls)
    except (OSError, ValueError) as e:
        return die(str(e))
    try:
        for path, data in resources:
            kbs.add_resource(path, data, allow_mrenclave=allows.pop(path, None))
        if allows:
            raise ValueError(f"--allow-mrenclave {next(iter(allows))}: no such --resource")
        for spec in a.misbehave:
            ep, _, knob = spec.partition("=")
            kbs.misbehave(ep, knob)
    except ValueError as e:
        kbs.stop()
        return die(str(e))
    if host not in ("127.0.0.1", "::1", "localhost"):
        print(f"kbs: WARNING: plain HTTP on {host}, not loopback", file=sys.stderr)
    if policy.insecure_allow_simulated:
        print("kbs: WARNING: the policy accepts SIMULATED evidence (insecure_allow_simulated)",
              file=sys.stderr)
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    print(f"kbs listening on {kbs.url}", file=sys.stderr, flush=True)
    if a.port_file:
        tmp = Path(a.port_file + ".tmp")
        tmp.write_text(f"{kbs.port}\n")
        os.replace(tmp, a.port_file)
    while not done.wait(1):
        pass
    kbs.stop()
    print("kbs: stopped", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
