"""Encrypted images (ocicrypt) against the real peers: skopeo 1.9.3 encrypts (JWE with RSA and
EC keys, PKCS#7, OpenPGP, several recipients at once) into a docker-registry on loopback and
rune-image pulls and decrypts them into the same tree as the plain image; images encrypted by
`rune-image encrypt` are decrypted by skopeo back to the plain image, byte for byte. Every bad
key, tampered layer, broken annotation and misbehaving key provider is refused with one line and
exit status 1, leaving no image record, no layer and no plaintext in the store.

Keys are made at test time with openssl and gpg (a private GnuPG home whose agent is killed at
the end); nothing leaves 127.0.0.1."""

import base64
import json
import os
import shutil
import stat
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest

import registry as R
from registry import D, F
from test_image_pull import IMAGE_BIN, Images
from test_registry_fixtures import LOWER, UPPER, need

pytestmark = pytest.mark.skipif(not os.access(IMAGE_BIN, os.X_OK),
                                reason=f"rune-image not built ({IMAGE_BIN})")

CRYPT_DATA = Path(__file__).resolve().parents[1] / "unit" / "data" / "crypt"
ENC = "org.opencontainers.image.enc."
PUBOPTS = ENC + "pubopts"
KEYS_JWE = ENC + "keys.jwe"
KEYS_PKCS7 = ENC + "keys.pkcs7"
PGP_UID = "enc-test@example.com"
MARKER = f"plaintext-marker-{uuid.uuid4().hex}"
WORLD_PLAIN_TOP = [None]  # diff_id of the layer holding MARKER, once the world is built


def run(*argv, env=None, timeout=120, check=True):
    res = subprocess.run([str(a) for a in argv], capture_output=True, text=True, env=env,
                         timeout=timeout, stdin=subprocess.DEVNULL)
    if check and res.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, argv))}: rc={res.returncode}\n{res.stderr}")
    return res


# --------------------------------------------------------------------------------------------
# Keys, made at test time


class Keys:
    """RSA, EC P-256 and P-384 key pairs (PKCS#8 PEM), an RSA key with a certificate for
    PKCS#7, an unrelated RSA key, an encrypted copy of the RSA key, and a GnuPG home with an
    RSA key (skopeo 1.9.3 cannot encrypt to ECC OpenPGP keys) exported as a secret keyring."""

    PASSWORD = "enc-test-pw-" + uuid.uuid4().hex[:8]

    def __init__(self, d):
        self.dir = d
        for name, alg in (("rsa", ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]),
                          ("wrong", ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]),
                          ("ec256", ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]),
                          ("ec384", ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"]),
                          ("p7", ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"])):
            run("openssl", "genpkey", *alg, "-out", d / f"{name}.pem")
            run("openssl", "pkey", "-in", d / f"{name}.pem", "-pubout", "-out",
                d / f"{name}-pub.pem")
        run("openssl", "req", "-x509", "-new", "-key", d / "p7.pem", "-subj", "/CN=enc-test",
            "-days", "30", "-out", d / "p7-cert.pem")
        run("openssl", "pkcs8", "-topk8", "-in", d / "rsa.pem", "-v2", "aes-256-cbc",
            "-passout", f"pass:{self.PASSWORD}", "-out", d / "rsa-enc.pem")
        self.gnupg = d / "gnupg"
        self.gnupg.mkdir(mode=0o700)
        spec = ("Key-Type: RSA\nKey-Length: 2048\nSubkey-Type: RSA\nSubkey-Length: 2048\n"
                f"Name-Real: enc test\nName-Email: {PGP_UID}\nExpire-Date: 0\n"
                "%no-protection\n%commit\n")
        subprocess.run(["gpg", "--batch", "--gen-key"], input=spec, text=True, check=True,
                       capture_output=True, env=self.gpg_env(), timeout=120)
        with open(d / "pgp-secring.gpg", "wb") as f:
            subprocess.run(["gpg", "--batch", "--export-secret-keys", PGP_UID], stdout=f,
                           check=True, env=self.gpg_env(), timeout=60)

    def gpg_env(self):
        return {**os.environ, "GNUPGHOME": str(self.gnupg)}

    def __getattr__(self, name):
        """keys.rsa_pub is <dir>/rsa-pub.pem, and so on."""
        if name.startswith("_"):
            raise AttributeError(name)
        return self.dir / (name.replace("_", "-") + ".pem")

    @property
    def secring(self):
        return self.dir / "pgp-secring.gpg"

    def close(self):
        subprocess.run(["gpgconf", "--homedir", str(self.gnupg), "--kill", "all"],
                       capture_output=True, timeout=30)


def skopeo(keys, *args, check=True):
    """skopeo with a fresh HOME (no user config) and the test GnuPG home."""
    home = tempfile.mkdtemp(prefix="rune-skopeo-")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home,
           "XDG_RUNTIME_DIR": home, "XDG_CONFIG_HOME": home,
           "REGISTRY_AUTH_FILE": os.path.join(home, "auth.json"), "GNUPGHOME": str(keys.gnupg)}
    try:
        res = subprocess.run([R.SKOPEO_BIN, *map(str, args)], capture_output=True, text=True,
                             env=env, timeout=180)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    if check and res.returncode != 0:
        raise AssertionError(f"skopeo {' '.join(map(str, args))}: rc={res.returncode}\n"
                             f"{res.stderr}")
    return res


# --------------------------------------------------------------------------------------------
# One registry, one plain image and its encrypted variants for the whole module


# The recipients of every skopeo-encrypted variant, and the keys that decrypt it.
VARIANTS = {
    "jwe-rsa": (["jwe:{rsa_pub}"], [["{rsa}"]]),
    "jwe-ec256": (["jwe:{ec256_pub}"], [["{ec256}"]]),
    "jwe-ec384": (["jwe:{ec384_pub}"], [["{ec384}"]]),
    "pkcs7": (["pkcs7:{p7_cert}"], [["{p7}", "{p7_cert}"]]),
    "pgp": ([f"pgp:{PGP_UID}"], [["{secring}"]]),
    # One JWE with two recipients, a PKCS#7 and an OpenPGP message: every key alone opens it.
    "several": (["jwe:{rsa_pub}", "jwe:{ec256_pub}", "pkcs7:{p7_cert}", f"pgp:{PGP_UID}"],
                [["{rsa}"], ["{ec256}"], ["{p7}", "{p7_cert}"], ["{secring}"]]),
}


class World:
    def __init__(self, base, keys, reg):
        self.base, self.keys, self.reg = base, keys, reg
        # Three layers: a tree with every kind of entry, an upper layer with whiteouts, and
        # 300 KB that gzip cannot shrink (several stream buffers) plus the plaintext marker.
        self.layers = [LOWER, UPPER, [D("secret"), F("secret/marker", MARKER),
                                      F("secret/noise", os.urandom(300_000))]]
        self.plain = R.make_oci_image(base / "plain", self.layers, tag="t")
        WORLD_PLAIN_TOP[:] = [self.plain["layers"][-1]["diff_id"]]
        R.push(base / "plain", "t", reg, repo="plain/img")
        self.repos = {}
        ref_store = Images(base / "ref-store")
        assert ref_store.pull(reg, "plain/img:t").returncode == 0
        assert ref_store.run("unpack", f"{reg.host}/plain/img:t", base / "ref").returncode == 0
        self.tree = R.tree_manifest(base / "ref", include_root=False)

    def fmt(self, spec):
        return spec.format(**{k: getattr(self.keys, k) for k in (
            "rsa", "rsa_pub", "ec256", "ec256_pub", "ec384", "ec384_pub", "p7", "p7_cert",
            "secring", "wrong")})

    def encrypted(self, variant):
        """Repository holding the plain image encrypted by skopeo for variant's recipients."""
        if variant not in self.repos:
            repo = f"enc/{variant}"
            recips = VARIANTS[variant][0]
            args = [a for r in recips for a in ("--encryption-key", self.fmt(r))]
            skopeo(self.keys, "copy", "--dest-tls-verify=false", *args,
                   f"oci:{self.base / 'plain'}:t", f"docker://{self.reg.host}/{repo}:t")
            self.repos[variant] = repo
        return self.repos[variant]

    def manifest(self, repo, tag="t"):
        body, _, digest = self.reg.client().get_manifest(repo, tag)
        return json.loads(body), digest


@pytest.fixture(scope="module")
def world():
    need("registry", "skopeo")
    for tool in ("openssl", "gpg", "gpgconf"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} not installed")
    base = Path(tempfile.mkdtemp(prefix="rune-it-enc-"))
    keys = reg = None
    try:
        keys = Keys(base)
        reg = R.Registry("anonymous", tmp_parent=base)
        reg.start()
        yield World(base, keys, reg)
    finally:
        if reg is not None:
            reg.stop()
        if keys is not None:
            keys.close()
        shutil.rmtree(base, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# Checks


def key_args(world, specs):
    return [a for s in specs for a in ("--decryption-key", world.fmt(s))]


def marker_files(root):
    """Files under root whose bytes contain the plaintext marker."""
    found = []
    for dirpath, _, files in os.walk(root):
        for name in files:
            p = os.path.join(dirpath, name)
            try:
                # Regular files only: layers hold device nodes (reading dev/zero never ends).
                if stat.S_ISREG(os.lstat(p).st_mode) and MARKER.encode() in Path(p).read_bytes():
                    found.append(p)
            except OSError:
                pass
    return found


def tmp_marker_files():
    """Top-level files of the temp directories a process could have used for a copy."""
    found = []
    for d in {tempfile.gettempdir(), "/dev/shm"}:
        for entry in os.scandir(d):
            try:
                if entry.is_file(follow_symlinks=False) and entry.stat().st_size < (64 << 20) \
                        and MARKER.encode() in Path(entry.path).read_bytes():
                    found.append(entry.path)
            except OSError:
                pass
    return found


def assert_refused(res, images, want, allowed_layers=()):
    """A one-line refusal with exit status 1 that left no image record, no staging, no layer
    but the allowed ones (diff_ids of layers that were complete and verified) and the
    plaintext marker nowhere in the store or the temp directories."""
    assert res.returncode == 1, res
    # Progress lines ("<id>: pulling N bytes") may come first; the error is the last line.
    errors = [line for line in res.stderr.splitlines() if line.startswith("rune-image: ")]
    assert len(errors) == 1 and res.stderr.endswith(errors[0] + "\n"), res.stderr
    assert want in errors[0], res.stderr
    assert images.records() == []
    assert images.staging() == []
    allowed = {d.split(":", 1)[1] for d in allowed_layers}
    assert {p.name for p in images.layers()} <= allowed
    # The marker is in the top layer: unless that one was verified, its plaintext is nowhere.
    marker_layer = WORLD_PLAIN_TOP[0]
    if images.root.exists() and marker_layer not in allowed_layers:
        assert marker_files(images.root) == []
    assert tmp_marker_files() == []
    listing = images.run("list", "--json")
    assert listing.returncode == 0 and json.loads(listing.stdout) == [], listing.stdout


def pull_ok(world, images, repo, specs, *extra):
    res = images.pull(world.reg, f"{repo}:t", *key_args(world, specs), *extra)
    assert res.returncode == 0, res.stderr
    rec = json.loads(images.run("inspect", f"{world.reg.host}/{repo}:t").stdout)
    assert [l["diff_id"] for l in rec["layers"]] == [l["diff_id"] for l in world.plain["layers"]]
    assert rec["config"] == world.plain["config_digest"]   # the config is not encrypted
    flat = images.root.parent / f"flat-{uuid.uuid4().hex[:8]}"
    assert images.run("unpack", f"{world.reg.host}/{repo}:t", flat).returncode == 0
    assert R.diff_trees(R.tree_manifest(flat, include_root=False), world.tree) == []
    shutil.rmtree(flat)
    return rec


def republish(world, variant, new_repo, layer=-1, blob=None, annotations=None):
    """Copy the skopeo-encrypted variant into new_repo under a manifest we write, with layer's
    blob bytes passed through blob() (digest and size follow them, so only the layer's own
    checks can object) and its annotations through annotations(). Returns the layer's new
    descriptor."""
    src_repo = world.encrypted(variant)
    manifest, _ = world.manifest(src_repo)
    client = world.reg.client()
    desc = manifest["layers"][layer]
    if blob is not None:
        data = blob(bytearray(client.get_blob(src_repo, desc["digest"])))
        desc["digest"] = client.push_blob(new_repo, bytes(data))
        desc["size"] = len(data)
    if annotations is not None:
        annotations(desc["annotations"])
    for d in [manifest["config"], *manifest["layers"]]:
        if not client.blob_exists(new_repo, d["digest"]):
            client.push_blob(new_repo, client.get_blob(src_repo, d["digest"]), d["digest"])
    client.put_manifest(new_repo, "t", json.dumps(manifest).encode(), manifest["mediaType"])
    return desc


def flip(pos):
    def f(data):
        data[pos if pos >= 0 else len(data) + pos] ^= 0x01
        return data
    return f


def b64(data):
    return base64.b64encode(data if isinstance(data, bytes) else data.encode()).decode()


def set_pubopts(**changes):
    def f(ann):
        opts = json.loads(base64.b64decode(ann[PUBOPTS]))
        opts.update(changes)
        ann[PUBOPTS] = b64(json.dumps(opts))
    return f


def drop(key):
    return lambda ann: ann.pop(key)


def put(key, value):
    return lambda ann: ann.__setitem__(key, value)


def other_hmac(ann):
    opts = json.loads(base64.b64decode(ann[PUBOPTS]))
    mac = bytearray(base64.b64decode(opts["hmac"]))
    mac[0] ^= 0x80
    opts["hmac"] = b64(bytes(mac))
    ann[PUBOPTS] = b64(json.dumps(opts))


def tampered_jwe(ann):
    jwe = json.loads(base64.b64decode(ann[KEYS_JWE]))
    ct = jwe["ciphertext"]
    jwe["ciphertext"] = ("B" if ct[0] != "B" else "C") + ct[1:]
    ann[KEYS_JWE] = b64(json.dumps(jwe))


# --------------------------------------------------------------------------------------------
# skopeo encrypts, rune-image decrypts


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_skopeo_encrypted_image_pulls(world, workdir, variant):
    repo = world.encrypted(variant)
    manifest, _ = world.manifest(repo)
    assert all(l["mediaType"].endswith("+gzip+encrypted") and PUBOPTS in l["annotations"]
               for l in manifest["layers"])
    assert manifest["config"]["digest"] == world.plain["config_digest"]
    # Every key alone opens the image (for PKCS#7: the private key with its certificate).
    for i, specs in enumerate(VARIANTS[variant][1]):
        pull_ok(world, Images(workdir / f"store{i}"), repo, specs)


def test_key_forms(world, workdir):
    """An encrypted key with its password (pass=, file=), a directory of keys; a wrong password
    is refused when the key is loaded, before anything is fetched, and never echoed."""
    repo = world.encrypted("jwe-rsa")
    pwfile = workdir / "pw"
    pwfile.write_text(Keys.PASSWORD)
    pull_ok(world, Images(workdir / "s1"), repo, [f"{world.keys.rsa_enc}:pass={Keys.PASSWORD}"])
    pull_ok(world, Images(workdir / "s2"), repo, [f"{world.keys.rsa_enc}:file={pwfile}"])
    keydir = workdir / "keydir"
    keydir.mkdir()
    for name in ("wrong", "ec256", "rsa"):
        shutil.copy(getattr(world.keys, name), keydir / f"{name}.pem")
    pull_ok(world, Images(workdir / "s3"), repo, [str(keydir)])
    images = Images(workdir / "s4")
    res = images.pull(world.reg, f"{repo}:t", "--decryption-key",
                      f"{world.keys.rsa_enc}:pass=not-the-password-42")
    assert res.returncode == 1 and res.stderr.count("\n") == 1, res.stderr
    assert "--decryption-key" in res.stderr and "not-the-password-42" not in res.stderr, \
        res.stderr
    assert not images.records() and not images.layers()


def test_cached_layers_still_need_the_key(world, workdir):
    """Layers in the store from a pull with the key do not open the image to pulls without
    one (or with a wrong one), as containerd's imgcrypt checks."""
    repo = world.encrypted("jwe-ec256")
    images = Images(workdir / "store")
    pull_ok(world, images, repo, ["{ec256}"])
    layers = images.layers()
    assert images.run("remove", f"{world.reg.host}/{repo}:t").returncode == 0
    for args, want in (([], "is encrypted and no decryption key was given"),
                       (key_args(world, ["{wrong}"]), "no key could unwrap the layer key")):
        res = images.pull(world.reg, f"{repo}:t", *args)
        assert res.returncode == 1 and want in res.stderr, res.stderr
        assert images.records() == [] and images.layers() == layers


# --------------------------------------------------------------------------------------------
# Refusals: nothing left behind


KEY_CASES = {
    "no-key": ("jwe-rsa", [], "is encrypted and no decryption key was given"),
    "wrong-key": ("jwe-rsa", ["{wrong}"],
                  "org.opencontainers.image.enc.keys.jwe: no key matches any of the 1 JWE "
                  "recipient"),
    "no-match-of-2": ("several", ["{wrong}"], "no key matches any of the 2 JWE recipients"),
    "ec-for-rsa": ("jwe-rsa", ["{ec384}"], "no key could unwrap the layer key"),
    "pkcs7-without-cert": ("pkcs7", ["{p7}"], "org.opencontainers.image.enc.keys.pkcs7"),
}


@pytest.mark.parametrize("case", list(KEY_CASES))
def test_key_refusals(world, workdir, case):
    variant, specs, want = KEY_CASES[case]
    images = Images(workdir / "store")
    repo = world.encrypted(variant)
    res = images.pull(world.reg, f"{repo}:t", *key_args(world, specs))
    assert_refused(res, images, want)
    assert f"rune-image: pull {world.reg.host}/{repo}:t: layer sha256:" in res.stderr


TAMPER_CASES = {
    # Only the HMAC over the whole ciphertext can tell: the manifest names the tampered blob.
    "last-block": (dict(blob=flip(-1)), "layer HMAC mismatch: ciphertext or annotations "
                   "tampered"),
    "first-block": (dict(layer=0, blob=flip(40)), "layer HMAC mismatch"),
    "other-hmac": (dict(annotations=other_hmac), "layer HMAC mismatch"),
    "unknown-cipher": (dict(annotations=set_pubopts(cipher="AES_256_GCM_HMAC")),
                       'unsupported layer cipher "AES_256_GCM_HMAC"'),
    "no-hmac": (dict(annotations=set_pubopts(hmac="")), "HMAC"),
    "no-pubopts": (dict(annotations=drop(PUBOPTS)), "no " + PUBOPTS + " annotation"),
    "no-wrapped-key": (dict(annotations=drop(KEYS_JWE)), "nothing holds the layer key"),
    "no-annotations": (dict(annotations=dict.clear), "no " + PUBOPTS + " annotation"),
    "jwe-not-base64": (dict(annotations=put(KEYS_JWE, "%%not base64%%")), KEYS_JWE),
    "jwe-not-json": (dict(annotations=put(KEYS_JWE, b64("not a JWE at all"))), KEYS_JWE),
    "jwe-tampered": (dict(annotations=tampered_jwe), KEYS_JWE),
}


@pytest.mark.parametrize("case", list(TAMPER_CASES))
def test_tampered_layers(world, workdir, case):
    kw, want = TAMPER_CASES[case]
    layer = kw.get("layer", -1)
    repo = f"tamper/{case}"
    desc = republish(world, "jwe-rsa", repo, **kw)
    images = Images(workdir / "store")
    res = images.pull(world.reg, f"{repo}:t", *key_args(world, ["{rsa}"]))
    others = [l["diff_id"] for i, l in enumerate(world.plain["layers"])
              if i != layer % len(world.plain["layers"])]
    assert_refused(res, images, want, allowed_layers=others)
    assert f"layer {desc['digest']}" in res.stderr, res.stderr
    assert "gzip" not in res.stderr, res.stderr


def test_malformed_cms(world, workdir):
    repo = "tamper/cms"
    desc = republish(world, "pkcs7", repo,
                     annotations=put(KEYS_PKCS7, b64(b"\x30\x03\x02\x01\x00")))
    images = Images(workdir / "store")
    res = images.pull(world.reg, f"{repo}:t", *key_args(world, ["{p7}", "{p7_cert}"]))
    assert_refused(res, images, KEYS_PKCS7,
                   allowed_layers=[l["diff_id"] for l in world.plain["layers"][:-1]])
    assert f"layer {desc['digest']}" in res.stderr


def test_blob_digest_ranks_first(world, workdir):
    """Bytes that do not match the descriptor's digest are reported as such, before the HMAC
    (which they also break) and gzip (which may object first)."""
    repo = world.encrypted("jwe-ec384")
    manifest, _ = world.manifest(repo)
    target = manifest["layers"][0]
    hexd = target["digest"].split(":", 1)[1]
    blob = (world.reg.dir / "storage" / "docker" / "registry" / "v2" / "blobs" / "sha256" /
            hexd[:2] / hexd / "data")
    original = blob.read_bytes()
    data = bytearray(original)
    data[len(data) // 2] ^= 0xFF
    blob.write_bytes(bytes(data))
    try:
        images = Images(workdir / "store")
        res = images.pull(world.reg, f"{repo}:t", *key_args(world, ["{ec384}"]))
        others = [l["diff_id"] for l in world.plain["layers"][1:]]
        assert_refused(res, images, f"blob {target['digest']}: digest mismatch",
                       allowed_layers=others)
        assert "HMAC" not in res.stderr and "gzip" not in res.stderr
    finally:
        blob.write_bytes(original)


# --------------------------------------------------------------------------------------------
# Key providers (ocicrypt's keyprovider protocol; skopeo 1.9.3 has none, so rune-image encrypts)


def provider_config(workdir, script, name="echo"):
    """An ocicrypt.conf naming script (copied to a path of this test) as provider name."""
    path = workdir / f"provider-{Path(script).name}"
    shutil.copy(CRYPT_DATA / script if (CRYPT_DATA / script).exists() else script, path)
    path.chmod(0o755)
    conf = workdir / f"ocicrypt-{path.name}.json"
    conf.write_text(json.dumps({"key-providers": {name: {"cmd": {"path": str(path),
                                                                 "args": [name]}}}}))
    return conf, path


def provider_image(world, workdir, repo):
    """The plain image encrypted by rune-image for provider:echo, pushed byte for byte."""
    conf, _ = provider_config(workdir, "provider-echo.sh")
    res = run(IMAGE_BIN, "encrypt", "--keyprovider-config", conf, "--encryption-key",
              "provider:echo:enc-test-param", f"oci:{world.base / 'plain'}:t",
              f"oci:{workdir / 'enc'}:t")
    assert "Encrypted 3 of 3 layers" in res.stdout, res.stdout
    R.push(workdir / "enc", "t", world.reg, repo=repo)
    return conf


def processes_running(path):
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if str(path).encode() in Path(f"/proc/{entry}/cmdline").read_bytes():
                    pids.append(int(entry))
            except OSError:
                pass
    return pids


def test_key_provider(world, workdir):
    repo = "prov/echo"
    conf = provider_image(world, workdir, repo)
    manifest, _ = world.manifest(repo)
    assert all(ENC + "keys.provider.echo" in l["annotations"] for l in manifest["layers"])
    pull_ok(world, Images(workdir / "store"), repo, ["provider:echo:enc-test-param"],
            "--keyprovider-config", conf)
    # $OCICRYPT_KEYPROVIDER_CONFIG is the default, as for skopeo.
    images = Images(workdir / "store2")
    res = subprocess.run([IMAGE_BIN, "--root", images.root, "pull", "--decryption-key",
                          "provider:echo:enc-test-param", f"{world.reg.host}/{repo}:t"],
                         capture_output=True, text=True, timeout=120,
                         env={**os.environ, "OCICRYPT_KEYPROVIDER_CONFIG": str(conf)})
    assert res.returncode == 0, res.stderr


@pytest.mark.parametrize("case", ["hang", "garbage", "fails", "unknown"])
def test_bad_key_providers(world, workdir, case):
    repo = f"prov/{case}"
    provider_image(world, workdir, repo)
    if case == "hang":
        script = workdir / "hang.sh"
        script.write_text("#!/bin/sh\nwhile :; do sleep 1; done\n")
        conf, path = provider_config(workdir, script)
        want = "no answer within 1000 ms (killed)"
    elif case == "garbage":
        conf, path = provider_config(workdir, "provider-garbage.sh")
        want = "key provider echo: reply: invalid JSON"
    elif case == "fails":
        conf, path = provider_config(workdir, "provider-fail.sh")
        want = "key provider echo: exited with status 3"
    else:
        conf, path = provider_config(workdir, "provider-echo.sh", name="other")
        want = 'no key provider "echo" given'
    images = Images(workdir / "store")
    t0 = time.monotonic()
    res = images.pull(world.reg, f"{repo}:t", "--keyprovider-config", conf,
                      "--keyprovider-timeout", "1", "--decryption-key",
                      "provider:other:x" if case == "unknown" else "provider:echo:x")
    assert time.monotonic() - t0 < 30
    assert_refused(res, images, want)
    assert processes_running(path) == []


# --------------------------------------------------------------------------------------------
# rune-image encrypts, skopeo decrypts


OUR_CASES = {
    "jwe-rsa": (["jwe:{rsa_pub}"], ["{rsa}"], None),
    "jwe-ec256": (["jwe:{ec256_pub}"], ["{ec256}"], None),
    "jwe-ec384-cert": (["jwe:{ec384_pub}"], ["{ec384}"], None),
    "pkcs7": (["pkcs7:{p7_cert}"], ["{p7}", "{p7_cert}"], None),
    "pgp": ([f"pgp:{PGP_UID}"], ["{secring}"], None),
    "several": (["jwe:{rsa_pub}", "jwe:{ec256_pub}", "pkcs7:{p7_cert}", f"pgp:{PGP_UID}"],
                ["{ec256}"], None),
    "layers-0-and-last": (["jwe:{rsa_pub}"], ["{rsa}"], ["0", "-1"]),
}


@pytest.mark.parametrize("case", list(OUR_CASES))
def test_our_encryption_decrypts_with_skopeo(world, workdir, case):
    recips, keys, layers = OUR_CASES[case]
    enc = workdir / "enc"
    args = [a for r in recips for a in ("--encryption-key", world.fmt(r))]
    args += [a for n in layers or () for a in ("--layer", n)]
    res = run(IMAGE_BIN, "encrypt", *args, f"oci:{world.base / 'plain'}:t", f"oci:{enc}:t",
              env=world.keys.gpg_env())
    chosen = [0, 2] if layers else [0, 1, 2]
    assert f"Encrypted {len(chosen)} of 3 layers" in res.stdout, res.stdout
    index = json.loads((enc / "index.json").read_text())
    [entry] = index["manifests"]
    assert entry["annotations"][R.REF_NAME] == "t"
    manifest = json.loads(R._read_blob(enc, entry["digest"]))
    assert manifest["config"] == world.plain["manifest"]["config"]   # config untouched
    for i, (l, plain) in enumerate(zip(manifest["layers"], world.plain["manifest"]["layers"])):
        if i in chosen:
            assert l["mediaType"] == plain["mediaType"] + "+encrypted"
            assert PUBOPTS in l["annotations"] and l["digest"] != plain["digest"]
            assert MARKER.encode() not in R._read_blob(enc, l["digest"])
        else:
            assert l == plain
    assert not [p for p in enc.iterdir() if p.name.startswith(".")]   # no staging left
    # skopeo decrypts it back to the plain image, byte for byte (manifest digest included).
    dec = workdir / "dec"
    skopeo(world.keys, "copy", *key_args(world, keys), f"oci:{enc}:t", f"oci:{dec}:t")
    assert R._resolve_tag(dec, "t")["digest"] == world.plain["manifest_digest"]
    # And rune-image pulls it from a registry.
    R.push(enc, "t", world.reg, repo=f"ours/{case}")
    pull_ok(world, Images(workdir / "store"), f"ours/{case}", keys)


def test_encrypt_from_registry_into_existing_layout(world, workdir):
    """docker:// as the source; a new tag next to the existing ones of the destination."""
    dst = workdir / "layout"
    R.make_oci_image(dst, [[F("other", "x")]], tag="keep")
    before = R._resolve_tag(dst, "keep")
    res = run(IMAGE_BIN, "encrypt", "-q", "--encryption-key", f"jwe:{world.keys.ec256_pub}",
              f"docker://{world.reg.host}/plain/img:t", f"oci:{dst}:enc")
    digest = res.stdout.strip()
    assert R._resolve_tag(dst, "keep") == before
    assert R._resolve_tag(dst, "enc")["digest"] == digest
    assert res.stderr == "", res.stderr
    # --insecure-registry turns TLS checks off: said at start, one line, as pull says it.
    res = run(IMAGE_BIN, "encrypt", "-q", "--insecure-registry", world.reg.host,
              "--encryption-key", f"jwe:{world.keys.ec256_pub}",
              f"docker://{world.reg.host}/plain/img:t", f"oci:{dst}:enc2")
    assert res.stderr == (f"insecure registry {world.reg.host} (--insecure-registry): its TLS "
                          "certificates are not verified and plain HTTP is allowed\n"), res.stderr
    dec = workdir / "dec"
    skopeo(world.keys, "copy", "--decryption-key", world.keys.ec256, f"oci:{dst}:enc",
           f"oci:{dec}:t")
    assert R._resolve_tag(dec, "t")["digest"] == world.plain["manifest_digest"]


def snapshot(path):
    """Every path under path with its bytes (files) -- to prove nothing changed."""
    out = {}
    for dirpath, dirs, files in os.walk(path):
        for name in dirs + files:
            p = Path(dirpath) / name
            out[str(p.relative_to(path))] = p.read_bytes() if p.is_file() else None
    return out


def test_encrypt_refusals(world, workdir):
    plain = f"oci:{world.base / 'plain'}:t"
    run("openssl", "genpkey", "-algorithm", "ED25519", "-out", workdir / "ed.pem")
    run("openssl", "pkey", "-in", workdir / "ed.pem", "-pubout", "-out", workdir / "ed-pub.pem")
    bad_src = workdir / "bad-src"
    shutil.copytree(world.base / "plain", bad_src)
    blob = bad_src / "blobs" / "sha256" / world.plain["layers"][1]["digest"].split(":")[1]
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0x10
    blob.write_bytes(bytes(data))
    existing = workdir / "existing"
    R.make_oci_image(existing, [[F("other", "x")]], tag="keep")
    not_layout = workdir / "not-layout"
    not_layout.mkdir()
    (not_layout / "file").write_text("mine")
    rsa = f"jwe:{world.keys.rsa_pub}"
    cases = [
        ([f"jwe:{workdir / 'missing.pem'}"], plain, "missing.pem"),
        ([f"jwe:{workdir / 'ed-pub.pem'}"], plain, "JWE recipients need an RSA or EC"),
        ([f"pkcs7:{world.keys.rsa_pub}"], plain, "pkcs7"),
        (["rot13:x"], plain, "protocol not recognised"),
        ([rsa], f"oci:{workdir / 'nowhere'}:t", "nowhere"),
        ([rsa], f"oci:{world.base / 'plain'}:nope", 'no image tagged "nope" (tags: t)'),
        ([rsa], "plain/img:t", "want oci:PATH[:TAG] or docker://REFERENCE"),
        ([rsa], f"oci:{bad_src}:t", "digest mismatch"),
        ([], plain, "no --encryption-key given"),
    ]
    for recips, src, want in cases:
        for dst in (workdir / "new", existing, not_layout):
            before = snapshot(dst) if dst.exists() else None
            args = [a for r in recips for a in ("--encryption-key", r)]
            res = run(IMAGE_BIN, "encrypt", *args, src, f"oci:{dst}:enc", check=False)
            assert res.returncode == 1, (recips, src, res.stdout)
            assert res.stderr.startswith("rune-image: encrypt: "), res.stderr
            assert res.stderr.count("\n") == 1, res.stderr
            # DST is looked at once the recipients and the source have passed.
            if dst == not_layout and recips == [rsa] and src in (plain, f"oci:{bad_src}:t"):
                want_here = "exists and is not an OCI layout"
            else:
                want_here = want
            assert want_here in res.stderr, (want_here, res.stderr)
            assert (snapshot(dst) if dst.exists() else None) == before, dst
    res = run(IMAGE_BIN, "encrypt", "--encryption-key", rsa, "--layer", "3", plain,
              f"oci:{workdir / 'new'}:t", check=False)
    assert res.returncode == 1 and "--layer 3: the image has 3 layers" in res.stderr
    assert not (workdir / "new").exists()


# --------------------------------------------------------------------------------------------
# Through enclave-agent (ttrpc): decrypt_config's key_provider, --decryption-key, status codes


def agent_bins():
    from test_agent import AGENT_BIN, CTL_BIN
    if not (os.access(AGENT_BIN, os.X_OK) and os.access(CTL_BIN, os.X_OK)):
        pytest.skip(f"enclave-agent / agent-ctl not built ({AGENT_BIN}, {CTL_BIN})")
    return AGENT_BIN, CTL_BIN


def mounted_tree(ctl, agent, cid, bundle):
    res = subprocess.run([ctl, "mount", "--images", agent.images, cid, bundle],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    try:
        return R.tree_manifest(bundle / "rootfs", include_root=False)
    finally:
        res = subprocess.run([ctl, "umount", bundle], capture_output=True, text=True)
        assert res.returncode == 0, res.stderr


def test_agent_pulls_encrypted_images(world, workdir):
    _, ctl = agent_bins()
    from test_agent import Agent, expect_error
    host = world.reg.host
    # sample_kbc (upstream's test KBC, a fixed public key: what enclave-cc's SIM CI uses) as
    # the agent's key_provider; the image encrypted for it by rune-image.
    res = run(IMAGE_BIN, "encrypt", "--encryption-key",
              "provider:attestation-agent:sample_kbc::kbs:///default/key/1",
              f"oci:{world.base / 'plain'}:t", f"oci:{workdir / 'kbc'}:t")
    R.push(workdir / "kbc", "t", world.reg, repo="agent/kbc")
    conf = workdir / "decrypt.conf"
    conf.write_text(json.dumps({"key_provider": "provider:attestation-agent:sample_kbc::null",
                                "security_validate": False}))
    started = []
    try:
        agent = Agent(workdir, name="kbc", extra=["-c", conf]).start()
        started.append(agent)
        res = agent.ctl("-i", f"{host}/agent/kbc:t", "--cid", "kbc")
        assert res.returncode == 0, res.stderr
        assert agent.image_json("kbc")["diff_ids"] == [l["diff_id"]
                                                       for l in world.plain["layers"]]
        assert R.diff_trees(mounted_tree(ctl, agent, "kbc", workdir / "b1"), world.tree) == []
        # An image whose key only a JWE private key unwraps: the KBC has no key for it.
        expect_error(agent.ctl("-i", f"{host}/{world.encrypted('jwe-rsa')}:t", "--cid", "r"),
                     "PERMISSION_DENIED", "no key could unwrap the layer key")

        # Local keys: --decryption-key (the password of an encrypted key scrubbed from argv).
        keyed = Agent(workdir, name="keyed", extra=[
            "--decryption-key", f"{world.keys.rsa_enc}:pass={Keys.PASSWORD}"]).start()
        started.append(keyed)
        assert Keys.PASSWORD.encode() not in Path(f"/proc/{keyed.pid}/cmdline").read_bytes()
        # First a copy with a byte flipped in the last block of the top layer (before the good
        # image has put that layer in the store: a layer already there is not fetched again).
        republish(world, "jwe-rsa", "agent/tampered", blob=flip(-1))
        expect_error(keyed.ctl("-i", f"{host}/agent/tampered:t", "--cid", "bad"), "DATA_LOSS",
                     "layer HMAC mismatch: ciphertext or annotations tampered")
        assert keyed.layouts() == [] and keyed.store_records() == []
        assert world.plain["layers"][-1]["diff_id"].split(":")[1] not in keyed.layer_dirs()
        assert marker_files(keyed.store) == []
        keyed.check_consistent()
        res = keyed.ctl("-i", f"{host}/{world.encrypted('jwe-rsa')}:t", "--cid", "rsa")
        assert res.returncode == 0, res.stderr
        assert R.diff_trees(mounted_tree(ctl, keyed, "rsa", workdir / "b2"), world.tree) == []

        # No key at all: FAILED_PRECONDITION, nothing stored.
        bare = Agent(workdir, name="bare").start()
        started.append(bare)
        expect_error(bare.ctl("-i", f"{host}/{world.encrypted('jwe-rsa')}:t", "--cid", "x"),
                     "FAILED_PRECONDITION", "is encrypted and no decryption key was given")
        assert bare.store_records() == [] and bare.layouts() == [] and bare.layer_dirs() == []
        bare.check_consistent()

        # security_validate on with a policy that wants a signature: the unsigned image is
        # PERMISSION_DENIED and nothing of it is stored.
        strict_conf = workdir / "strict.conf"
        strict_conf.write_text('{"security_validate": true}')
        policy = workdir / "strict-policy.json"
        policy.write_text(json.dumps({"default": [{"type": "signedBy", "keyType": "GPGKeys",
                                                   "keyPath": "/nonexistent.gpg"}]}))
        strict = Agent(workdir, name="strict", extra=["-c", strict_conf, "--policy", policy,
                                                      "--registries.d", workdir / "no-rd"])
        strict.start()
        started.append(strict)
        expect_error(strict.ctl("-i", f"{host}/plain/img:t", "--cid", "p"),
                     "FAILED_PRECONDITION", "key file /nonexistent.gpg")
        assert strict.store_records() == [] and strict.layer_dirs() == []
    finally:
        for a in started:
            assert a.stop() == 0, a.log()[-3000:]


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_agent_pulls_skopeo_encrypted_images(world, workdir, variant):
    """Through the agent too: every skopeo-encrypted variant, each key (set) alone given with
    --decryption-key, unpacks to the plain image's tree with the plain diff_ids."""
    _, ctl = agent_bins()
    from test_agent import Agent
    repo = world.encrypted(variant)
    for i, specs in enumerate(VARIANTS[variant][1]):
        keys = [a for spec in specs for a in ("--decryption-key", world.fmt(spec))]
        agent = Agent(workdir, name=f"{variant}{i}", extra=keys).start()
        try:
            cid = f"{variant}-{i}"
            res = agent.ctl("-i", f"{world.reg.host}/{repo}:t", "--cid", cid)
            assert res.returncode == 0, res.stderr
            assert agent.image_json(cid)["diff_ids"] == [l["diff_id"]
                                                         for l in world.plain["layers"]]
            tree = mounted_tree(ctl, agent, cid, workdir / f"bundle-{cid}")
            assert R.diff_trees(tree, world.tree) == []
            agent.check_consistent()
        finally:
            assert agent.stop() == 0, agent.log()[-3000:]


def test_agent_refuses_a_bad_decryption_key(world, workdir):
    agent_bin, _ = agent_bins()
    ocicrypt = workdir / "ocicrypt.conf"
    ocicrypt.write_text("{}")
    res = subprocess.run([agent_bin, "--root", str(workdir / "s"), "--images",
                          str(workdir / "i"), "-l", f"unix://{workdir}/x.sock", "-o", ocicrypt,
                          "--decryption-key", f"{world.keys.rsa_enc}:pass=wrong-pw-9"],
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 1, res
    # The log (text, on stderr) may come first; the refusal is the last line.
    assert res.stderr.splitlines()[-1].startswith(
        "enclave-agent: --decryption-key: ") and "wrong password" in res.stderr, res.stderr
    assert "wrong-pw-9" not in res.stderr
