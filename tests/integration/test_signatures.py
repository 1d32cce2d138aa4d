"""Image signatures against a real registry, with skopeo as the judge.

Images are signed by `skopeo copy --sign-by` (GPG simple signing) into a file:// lookaside and
through the registry signature extension (SignatureProxy adds it in front of docker-registry),
and by `rune-image sign`. For every policy case the verdict of `rune-image pull --policy` must
be the one `skopeo --policy ... copy` reaches on the same registry, registries.d and keys; a
refusal must leave nothing in the store. Debian's skopeo 1.9.3 cannot verify sigstore
(cosign) signatures ("Debian-local change: sigstore disabled"): the cosign cases are checked
against the published format and our own verdicts only, and say so."""

import base64
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

import registry as R
from registry import D, F
from test_image_pull import IMAGE_BIN, Images
from test_registry_fixtures import need

GPG = shutil.which("gpg")

pytestmark = [
    pytest.mark.skipif(not os.access(IMAGE_BIN, os.X_OK), reason=f"rune-image not built ({IMAGE_BIN})"),
    pytest.mark.skipif(GPG is None, reason="gpg is not installed"),
]

LAYERS = [[D("etc"), F("etc/signed", "signed content\n")]]


# --------------------------------------------------------------------------------------------
# GPG keys: made once per session in a throwaway GnuPG home


def gpg(home, *args, stdin=None, check=True):
    p = subprocess.run([GPG, "--homedir", str(home), "--batch", "--yes", "--pinentry-mode",
                        "loopback", "--passphrase", "", *map(str, args)], input=stdin,
                       capture_output=True, timeout=120)
    if check and p.returncode != 0:
        raise AssertionError(f"gpg {' '.join(map(str, args))}: {p.stderr.decode()}")
    return p


def fingerprint(home, uid):
    out = gpg(home, "--with-colons", "--list-keys", uid).stdout.decode()
    return [l.split(":")[9] for l in out.splitlines() if l.startswith("fpr:")]


class Keys:
    """Key A and B (RSA, sign), C (a certification-only primary with a signing subkey),
    EXPIRED (created in the past, expired), REVOKED (revoked after making). pub(name) is the
    path of its exported public key."""

    def __init__(self, base):
        self.home = base / "gnupg"
        self.home.mkdir(mode=0o700)
        self.dir = base / "keys"
        self.dir.mkdir()
        self.fpr = {}
        for name in ("a", "b"):
            gpg(self.home, "--quick-gen-key", f"{name}@rune.test", "rsa2048", "sign", "never")
            self.fpr[name] = fingerprint(self.home, f"{name}@rune.test")[0]
        gpg(self.home, "--quick-gen-key", "c@rune.test", "rsa2048", "cert", "never")
        primary = fingerprint(self.home, "c@rune.test")[0]
        gpg(self.home, "--quick-add-key", primary, "rsa2048", "sign", "never")
        self.fpr["c"] = primary
        self.fpr["c-sub"] = fingerprint(self.home, "c@rune.test")[1]
        gpg(self.home, "--faked-system-time", "20200101T000000", "--quick-gen-key",
            "expired@rune.test", "rsa2048", "sign", "1d")
        self.fpr["expired"] = fingerprint(self.home, "expired@rune.test")[0]
        gpg(self.home, "--faked-system-time", "20200101T000000", "--quick-gen-key",
            "old@rune.test", "rsa2048", "sign", "never")
        self.fpr["old"] = fingerprint(self.home, "old@rune.test")[0]
        gpg(self.home, "--quick-gen-key", "revoked@rune.test", "rsa2048", "sign", "never")
        self.fpr["revoked"] = fingerprint(self.home, "revoked@rune.test")[0]
        for name in self.fpr:
            if name != "c-sub":
                (self.dir / f"{name}.gpg").write_bytes(
                    gpg(self.home, "--export", self.fpr[name]).stdout)

    def pub(self, name):
        return self.dir / f"{name}.gpg"

    def revoke(self):
        """Revoke REVOKED in the home (after signing with it) and re-export it."""
        # gpg wrote a revocation certificate when it made the key, its armor line guarded by
        # a ':' against importing it by mistake.
        rev = (self.home / "openpgp-revocs.d" / f"{self.fpr['revoked']}.rev").read_text()
        cert = rev.replace(":-----BEGIN PGP PUBLIC KEY BLOCK-----",
                           "-----BEGIN PGP PUBLIC KEY BLOCK-----")
        gpg(self.home, "--import", stdin=cert.encode())
        self.pub("revoked").write_bytes(gpg(self.home, "--export", self.fpr["revoked"]).stdout)


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    return Keys(tmp_path_factory.mktemp("sigkeys"))


# --------------------------------------------------------------------------------------------
# The scene: a registry, an image, a lookaside, a registries.d


class Scene:
    def __init__(self, workdir, reg, keys):
        self.workdir, self.reg, self.keys = workdir, reg, keys
        self.lookaside = workdir / "lookaside"
        self.rd = workdir / "registries.d"
        self.rd.mkdir()
        self.set_registries({reg.host: {"lookaside": f"file://{self.lookaside}"}})
        self.images = Images(workdir / "store")
        self.n = 0

    def set_registries(self, docker, default=None):
        doc = {"docker": docker}
        if default:
            doc["default-docker"] = default
        # JSON is YAML: registries.d takes it as it is.
        (self.rd / "test.yaml").write_text(json.dumps(doc))

    def image(self, repo, tag="v1", layers=LAYERS):
        self.n += 1
        info = R.make_oci_image(self.workdir / f"img{self.n}", layers, tag=tag)
        R.push(self.workdir / f"img{self.n}", tag, self.reg, repo=repo)
        return info

    def skopeo_sign(self, repo, tag, key, identity=None, host=None):
        """Sign docker://HOST/repo:tag in place with skopeo (the manifest is unchanged)."""
        host = host or self.reg.host
        args = ["--registries.d", self.rd, "--insecure-policy", "copy", "--src-tls-verify=false",
                "--dest-tls-verify=false", "--sign-by", self.keys.fpr[key]]
        if identity:
            args += ["--sign-identity", identity]
        args += [f"docker://{host}/{repo}:{tag}", f"docker://{host}/{repo}:{tag}"]
        return R.skopeo(*args, check=True, env_extra={"GNUPGHOME": str(self.keys.home)})

    def policy(self, doc, name=None):
        self.n += 1
        p = self.workdir / (name or f"policy{self.n}.json")
        p.write_text(doc if isinstance(doc, str) else json.dumps(doc))
        return p

    def skopeo_verdict(self, policy, ref, host=None):
        self.n += 1
        dest = self.workdir / f"skopeo-out{self.n}"
        r = R.skopeo("--policy", policy, "--registries.d", self.rd, "copy",
                     "--src-tls-verify=false", f"docker://{host or self.reg.host}/{ref}",
                     f"dir:{dest}")
        shutil.rmtree(dest, ignore_errors=True)
        return r

    def pull(self, policy, ref, host=None):
        return self.images.run("pull", "--policy", policy, "--registries.d", self.rd,
                               f"{host or self.reg.host}/{ref}")

    def verdicts(self, policy, ref, host=None):
        """Both tools' verdicts; asserts that they agree and that a refusal stored nothing."""
        ours = self.pull(policy, ref, host)
        theirs = self.skopeo_verdict(policy, ref, host)
        assert (ours.returncode == 0) == (theirs.returncode == 0), \
            f"rune-image: {ours.returncode} {ours.stderr}\nskopeo: {theirs.returncode} {theirs.stderr}"
        if ours.returncode != 0:
            assert_nothing_stored(self.images)
        return ours

    def clean_store(self):
        shutil.rmtree(self.images.root, ignore_errors=True)


def assert_nothing_stored(images):
    root = images.root
    assert images.records() == []
    assert images.layers() == []
    blobs = root / "blobs" / "sha256"
    assert not blobs.exists() or list(blobs.iterdir()) == [], list(blobs.iterdir())


@pytest.fixture
def scene(workdir, keys):
    need("registry")
    need("skopeo")
    with R.Registry("anonymous", tmp_parent=workdir) as reg:
        yield Scene(workdir, reg, keys)


def signed_by(keys, name, identity=None, **extra):
    req = {"type": "signedBy", "keyType": "GPGKeys", "keyPath": str(keys.pub(name)), **extra}
    if identity:
        req["signedIdentity"] = identity
    return req


def for_host(scene, reqs, scope=None):
    return {"default": [{"type": "reject"}],
            "transports": {"docker": {scope or scene.reg.host: reqs}}}


def accepted(res):
    assert res.returncode == 0, res.stderr
    return res


def refused(res, *needles):
    assert res.returncode == 1, res.stdout + res.stderr
    line = res.stderr.strip()
    assert "\n" not in line, line
    for n in needles:
        assert n in line, line
    return line


# --------------------------------------------------------------------------------------------
# Requirement types


def test_accept_anything_and_reject(scene):
    scene.image("ns/plain")
    p = scene.policy({"default": [{"type": "insecureAcceptAnything"}]})
    accepted(scene.verdicts(p, "ns/plain:v1"))
    scene.clean_store()
    p = scene.policy(for_host(scene, [{"type": "reject"}]))
    line = refused(scene.verdicts(p, "ns/plain:v1"))
    assert line.endswith(f"policy {p}: transports.docker[\"{scene.reg.host}\"][0] (reject): "
                         f"{scene.reg.host}/ns/plain:v1 is rejected"), line


def test_signed_by_lookaside(scene, keys):
    scene.image("ns/img")
    scene.skopeo_sign("ns/img", "v1", "a")
    sigs = list((scene.lookaside / "ns").glob("img@sha256=*/signature-1"))
    assert len(sigs) == 1
    accepted(scene.verdicts(scene.policy(for_host(scene, [signed_by(keys, "a")])), "ns/img:v1"))
    scene.clean_store()
    # keyPaths with the right key second, keyData of the right key
    req = {"type": "signedBy", "keyType": "GPGKeys",
           "keyPaths": [str(keys.pub("b")), str(keys.pub("a"))]}
    accepted(scene.verdicts(scene.policy(for_host(scene, [req])), "ns/img:v1"))
    scene.clean_store()
    data = base64.b64encode(keys.pub("a").read_bytes()).decode()
    req = {"type": "signedBy", "keyType": "GPGKeys", "keyData": data}
    accepted(scene.verdicts(scene.policy(for_host(scene, [req])), "ns/img:v1"))
    scene.clean_store()
    # another key
    line = refused(scene.verdicts(scene.policy(for_host(scene, [signed_by(keys, "b")])),
                                  "ns/img:v1"), "(signedBy)", "signature-1",
                   f"signed by key {keys.fpr['a']}, which is not trusted")
    assert "no GPG signature of" in line


def test_registries_d_settings_fall_back_per_setting(scene, keys):
    """A repository scope that sets only use-sigstore-attachments: the lookaside comes from
    the host's scope, for skopeo's write and both tools' reads."""
    host = scene.reg.host
    scene.set_registries({host: {"lookaside": f"file://{scene.lookaside}"},
                          f"{host}/ns/img": {"use-sigstore-attachments": True}})
    scene.image("ns/img")
    scene.skopeo_sign("ns/img", "v1", "a")
    assert list((scene.lookaside / "ns").glob("img@sha256=*/signature-1"))
    accepted(scene.verdicts(scene.policy(for_host(scene, [signed_by(keys, "a")])), "ns/img:v1"))


def test_unsigned_image_under_signed_by(scene, keys):
    scene.image("ns/unsigned")
    line = refused(scene.verdicts(scene.policy(for_host(scene, [signed_by(keys, "a")])),
                                  "ns/unsigned:v1"))
    assert line.endswith(f"(signedBy): a GPG signature is required, but "
                         f"{scene.reg.host}/ns/unsigned:v1 has none"), line


def test_all_requirements_must_allow(scene, keys):
    scene.image("ns/img")
    scene.skopeo_sign("ns/img", "v1", "a")
    p = scene.policy(for_host(scene, [signed_by(keys, "a"), signed_by(keys, "b")]))
    refused(scene.verdicts(p, "ns/img:v1"), "[1] (signedBy)")
    p = scene.policy(for_host(scene, [{"type": "insecureAcceptAnything"}, signed_by(keys, "a")]))
    accepted(scene.verdicts(p, "ns/img:v1"))


def test_signed_base_layer_is_refused(scene, keys):
    scene.image("ns/img")
    req = {"type": "signedBaseLayer", "baseLayerIdentity": {"type": "matchRepository"}}
    refused(scene.verdicts(scene.policy(for_host(scene, [req])), "ns/img:v1"),
            "(signedBaseLayer): signedBaseLayer is not implemented")


# --------------------------------------------------------------------------------------------
# Scopes: only the most specific applies


def test_scope_specificity(scene, keys):
    scene.image("ns/sub/img")
    host = scene.reg.host
    cases = [
        ({host: [{"type": "reject"}], f"{host}/ns": [{"type": "insecureAcceptAnything"}]}, True),
        ({f"{host}/ns": [{"type": "reject"}], f"{host}/ns/sub/img": [{"type": "insecureAcceptAnything"}]}, True),
        ({f"{host}/ns/sub/img": [{"type": "reject"}], host: [{"type": "insecureAcceptAnything"}]}, False),
        ({f"{host}/ns/sub/img:v1": [{"type": "insecureAcceptAnything"}],
          f"{host}/ns/sub/img": [{"type": "reject"}]}, True),
        ({"*.0.0.1": [{"type": "insecureAcceptAnything"}]}, True),
        ({"*.1": [{"type": "reject"}], "*.0.1": [{"type": "insecureAcceptAnything"}]}, True),
        ({"": [{"type": "insecureAcceptAnything"}]}, True),
        ({f"{host}/ns/sub/img:v2": [{"type": "insecureAcceptAnything"}]}, False),  # default
    ]
    for scopes, ok in cases:
        scene.clean_store()
        p = scene.policy({"default": [{"type": "reject"}], "transports": {"docker": scopes}})
        res = scene.verdicts(p, "ns/sub/img:v1")
        assert (res.returncode == 0) == ok, (scopes, res.stderr)


# --------------------------------------------------------------------------------------------
# signedIdentity, every rule both ways


def identity_cases(host):
    repo = f"{host}/ns/img"
    return [
        # (rule, signed identity (None: the image's own), pull ref, accepted)
        ({"type": "matchExact"}, None, "ns/img:v1", True),
        ({"type": "matchExact"}, f"{repo}:other", "ns/img:v1", False),
        ({"type": "matchRepoDigestOrExact"}, None, "ns/img:v1", True),
        ({"type": "matchRepoDigestOrExact"}, f"{repo}:other", "ns/img:v1", False),
        ({"type": "matchRepository"}, f"{repo}:other", "ns/img:v1", True),
        ({"type": "matchRepository"}, f"{host}/ns/else:v1", "ns/img:v1", False),
        ({"type": "exactReference", "dockerReference": "example.com/x/y:1"},
         "example.com/x/y:1", "ns/img:v1", True),
        ({"type": "exactReference", "dockerReference": "example.com/x/y:2"},
         "example.com/x/y:1", "ns/img:v1", False),
        ({"type": "exactRepository", "dockerRepository": "example.com/x/y"},
         "example.com/x/y:7", "ns/img:v1", True),
        ({"type": "exactRepository", "dockerRepository": "example.com/x/z"},
         "example.com/x/y:7", "ns/img:v1", False),
        ({"type": "remapIdentity", "prefix": f"{host}/ns", "signedPrefix": "example.com/pub"},
         "example.com/pub/img:v1", "ns/img:v1", True),
        ({"type": "remapIdentity", "prefix": f"{host}/ns", "signedPrefix": "example.com/other"},
         "example.com/pub/img:v1", "ns/img:v1", False),
        ({"type": "remapIdentity", "prefix": "example.com/unrelated", "signedPrefix": "x.io/y"},
         None, "ns/img:v1", True),
    ]


def test_signed_identity_rules(scene, keys):
    info = scene.image("ns/img")
    host = scene.reg.host
    for rule, identity, ref, ok in identity_cases(host):
        # A fresh signature each time: the lookaside holds only this case's.
        shutil.rmtree(scene.lookaside, ignore_errors=True)
        scene.skopeo_sign("ns/img", "v1", "a", identity=identity)
        scene.clean_store()
        p = scene.policy(for_host(scene, [signed_by(keys, "a", identity=rule)]))
        res = scene.verdicts(p, ref)
        assert (res.returncode == 0) == ok, (rule, identity, res.stderr)
        if not ok:
            assert "is not accepted for" in res.stderr, res.stderr
    # By digest: matchRepoDigestOrExact takes any tag of the repository.
    shutil.rmtree(scene.lookaside, ignore_errors=True)
    scene.skopeo_sign("ns/img", "v1", "a", identity=f"{host}/ns/img:whatever")
    scene.clean_store()
    p = scene.policy(for_host(scene, [signed_by(keys, "a")]))
    accepted(scene.verdicts(p, f"ns/img@{info['manifest_digest']}"))


# --------------------------------------------------------------------------------------------
# Bad signatures


def test_signature_for_another_digest(scene, keys):
    scene.image("ns/one")
    scene.image("ns/two", layers=[[F("other", "x\n")]])
    scene.skopeo_sign("ns/one", "v1", "a", identity=f"{scene.reg.host}/ns/two:v1")
    # Move ns/one's signature to where ns/two's would be.
    one = next((scene.lookaside / "ns").glob("one@*"))
    two_digest = scene.reg.manifest_digest("ns/two", "v1")
    two = scene.lookaside / "ns" / f"two@{two_digest.replace(':', '=')}"
    two.mkdir(parents=True)
    shutil.copy(one / "signature-1", two / "signature-1")
    line = refused(scene.verdicts(scene.policy(for_host(scene, [signed_by(keys, "a")])),
                                  "ns/two:v1"), "it is for manifest sha256:")


def test_tampered_signature(scene, keys):
    scene.image("ns/img")
    scene.skopeo_sign("ns/img", "v1", "a")
    sig = next((scene.lookaside / "ns").glob("img@*")) / "signature-1"
    data = bytearray(sig.read_bytes())
    data[len(data) // 2] ^= 0x01
    sig.write_bytes(bytes(data))
    refused(scene.verdicts(scene.policy(for_host(scene, [signed_by(keys, "a")])), "ns/img:v1"),
            "signature-1")


def test_tampered_payload(scene, keys):
    """A payload changed after signing: re-wrapped unsigned data does not verify."""
    scene.image("ns/img")
    scene.skopeo_sign("ns/img", "v1", "a")
    sig = next((scene.lookaside / "ns").glob("img@*")) / "signature-1"
    payload = gpg(keys.home, "--decrypt", sig).stdout
    changed = payload.replace(b"ns/img:v1", b"ns/img:v2")
    assert changed != payload
    # The same signature packet around other data: gpg's own --store makes a literal packet.
    literal = gpg(keys.home, "--store", stdin=changed).stdout
    sig.write_bytes(literal)
    refused(scene.verdicts(scene.policy(for_host(scene, [signed_by(keys, "a")])), "ns/img:v1"),
            "signature-1")


def test_subkey_signature(scene, keys):
    """A signature by a signing subkey of a trusted key counts (current containers/image;
    Debian's skopeo 1.9.3 (containers/image 5.23) compares the subkey's fingerprint with the
    primary's and refuses: here only our verdict is checked)."""
    scene.image("ns/img")
    scene.skopeo_sign("ns/img", "v1", "c")
    res = scene.pull(scene.policy(for_host(scene, [signed_by(keys, "c")])), "ns/img:v1")
    accepted(res)


def sign_in_the_past(scene, keys, key, *gpg_args):
    """A signature of ns/img:v1 made by gpg itself on 2020-01-01 (skopeo refuses to sign with
    an expired key), put where the lookaside has it."""
    digest = scene.reg.manifest_digest("ns/img", "v1")
    payload = json.dumps({"critical": {"identity": {"docker-reference": f"{scene.reg.host}/ns/img:v1"},
                                       "image": {"docker-manifest-digest": digest},
                                       "type": "atomic container signature"},
                          "optional": {}}).encode()
    blob = gpg(keys.home, "--faked-system-time", "20200101T120000", "--local-user",
               keys.fpr[key], *gpg_args, "--sign", stdin=payload).stdout
    d = scene.lookaside / "ns" / f"img@{digest.replace(':', '=')}"
    d.mkdir(parents=True)
    (d / "signature-1").write_bytes(blob)


def test_expired_key(scene, keys):
    scene.image("ns/img")
    sign_in_the_past(scene, keys, "expired")
    refused(scene.verdicts(scene.policy(for_host(scene, [signed_by(keys, "expired")])),
                           "ns/img:v1"), "which has expired")


def test_expired_signature(scene, keys):
    """A valid key, a signature that expired a day after it was made."""
    scene.image("ns/img")
    sign_in_the_past(scene, keys, "old", "--default-sig-expire", "1d")
    refused(scene.verdicts(scene.policy(for_host(scene, [signed_by(keys, "old")])),
                           "ns/img:v1"), f"the signature by key {keys.fpr['old']} has expired")
    # The same key's signature without an expiry date is accepted by both.
    shutil.rmtree(scene.lookaside)
    sign_in_the_past(scene, keys, "old")
    accepted(scene.verdicts(scene.policy(for_host(scene, [signed_by(keys, "old")])),
                            "ns/img:v1"))


def test_revoked_key(scene, keys):
    scene.image("ns/img")
    scene.skopeo_sign("ns/img", "v1", "revoked")
    keys.revoke()
    refused(scene.verdicts(scene.policy(for_host(scene, [signed_by(keys, "revoked")])),
                           "ns/img:v1"), "revoked")


def test_unreachable_lookaside(scene, keys):
    scene.image("ns/img")
    port = R.free_port()
    scene.set_registries({scene.reg.host: {"lookaside": f"http://127.0.0.1:{port}/sigs"}})
    line = refused(scene.verdicts(scene.policy(for_host(scene, [signed_by(keys, "a")])),
                                  "ns/img:v1"), f"127.0.0.1:{port}")
    assert "reading the signatures of" in line


# --------------------------------------------------------------------------------------------
# Malformed policies: refused before anything is fetched


@pytest.mark.parametrize("doc,needle", [
    ({"default": [{"type": "insecureAcceptAnything"}], "extra": 1}, 'unknown key "extra"'),
    ({"default": []}, "default: an empty list of requirements is not allowed"),
    ({"default": [{"type": "signedBy", "keyType": "GPGKeys"}]},
     "default[0]: exactly one of keyPath, keyPaths and keyData is needed"),
    ({"default": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": 3}]},
     "default[0].keyPath: expected string, got integer"),
    ({"default": [{"type": "insecureAcceptAnything", "keyPath": "/x"}]},
     'default[0]: unknown key "keyPath"'),
    ({"default": [{"type": "sometimes"}]}, 'default[0].type: unknown requirement type "sometimes"'),
    ({"default": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/k",
                   "signedIdentity": {"type": "exactReference", "dockerReference": "a/b"}}]},
     "has neither a tag nor a digest"),
    ({"transports": {"docker": {"x": [{"type": "reject"}]}}}, "default: required"),
    ('{"default": [{"type": "reject"}], "default": [{"type": "reject"}]}', "duplicate"),
])
def test_malformed_policy(scene, doc, needle):
    scene.image("ns/img")
    p = scene.policy(doc)
    res = scene.pull(p, "ns/img:v1")
    line = refused(res, needle)
    assert str(p) in line
    assert R.skopeo("--policy", p, "copy", "--src-tls-verify=false",
                    f"docker://{scene.reg.host}/ns/img:v1", f"dir:{scene.workdir}/x").returncode != 0
    assert_nothing_stored(scene.images)


def test_missing_default_policy_names_the_way_out(workdir):
    images = Images(workdir / "store")
    env_home = workdir / "home"
    env_home.mkdir()
    res = subprocess.run([IMAGE_BIN, "--root", str(images.root), "pull", "--policy",
                          str(workdir / "nope.json"), "127.0.0.1:1/x:y"],
                         capture_output=True, text=True, timeout=60)
    refused(res, f"policy {workdir}/nope.json")


# --------------------------------------------------------------------------------------------
# The registry signature extension


def test_registry_extension(scene, keys):
    scene.image("ns/img")
    with R.SignatureProxy(scene.reg.url) as proxy:
        # skopeo writes through the extension, not into the lookaside.
        scene.skopeo_sign("ns/img", "v1", "a", host=proxy.host)
        assert len(proxy.puts) == 1 and proxy.puts[0][0] == "ns/img"
        assert not scene.lookaside.exists()
        p = scene.policy(for_host(scene, [signed_by(keys, "a")], scope=proxy.host))
        accepted(scene.verdicts(p, "ns/img:v1", host=proxy.host))
        # With the extension advertised, a lookaside signature is not read.
        scene.clean_store()
        scene.image("ns/other")
        scene.skopeo_sign("ns/other", "v1", "a")  # into the lookaside, directly
        assert scene.lookaside.exists()
        refused(scene.verdicts(p, "ns/other:v1", host=proxy.host),
                "a GPG signature is required")


def test_rune_image_sign_gpg_is_accepted_by_skopeo(scene, keys):
    scene.image("ns/img")
    res = scene.images.run("sign", "--sign-by", keys.fpr["a"], "--gpg-home", keys.home,
                           "--registries.d", scene.rd, f"{scene.reg.host}/ns/img:v1")
    assert res.returncode == 0, res.stderr
    sig = next((scene.lookaside / "ns").glob("img@*")) / "signature-1"
    assert sig.read_bytes()[0] in (0xA3, 0x90, 0x91, 0x92, 0xC4, 0x88, 0x89, 0x8A, 0x8B,
                                   0xA0, 0xA1, 0xA2, 0xC8, 0xC2)  # binary OpenPGP
    p = scene.policy(for_host(scene, [signed_by(keys, "a")]))
    accepted(scene.verdicts(p, "ns/img:v1"))
    # A second signature goes next to the first.
    res = scene.images.run("sign", "--sign-by", keys.fpr["b"], "--gpg-home", keys.home,
                           "--registries.d", scene.rd, f"{scene.reg.host}/ns/img:v1")
    assert res.returncode == 0, res.stderr
    assert (sig.parent / "signature-2").exists()
    scene.clean_store()
    accepted(scene.verdicts(scene.policy(for_host(scene, [signed_by(keys, "b")])), "ns/img:v1"))


def test_rune_image_sign_through_the_extension(scene, keys):
    scene.image("ns/img")
    with R.SignatureProxy(scene.reg.url) as proxy:
        res = scene.images.run("sign", "--sign-by", keys.fpr["a"], "--gpg-home", keys.home,
                               "--registries.d", scene.rd, f"{proxy.host}/ns/img:v1")
        assert res.returncode == 0, res.stderr
        assert proxy.puts == [("ns/img", scene.reg.manifest_digest("ns/img", "v1"))]
        entry = proxy.signatures[proxy.puts[0]][0]
        assert entry["schemaVersion"] == 2 and entry["type"] == "atomic"
        assert entry["name"].startswith(proxy.puts[0][1] + "@")
        assert len(entry["name"].split("@")[1]) == 32
        p = scene.policy(for_host(scene, [signed_by(keys, "a")], scope=proxy.host))
        accepted(scene.verdicts(p, "ns/img:v1", host=proxy.host))


# --------------------------------------------------------------------------------------------
# cosign signatures (Debian's skopeo cannot verify these: our verdicts and the format only)


def cosign_keys(workdir, name="cosign"):
    workdir = workdir / name
    workdir.mkdir()
    key, pub = workdir / "cosign.key", workdir / "cosign.pub"
    subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out",
                    str(workdir / "sec1.pem")], check=True)
    subprocess.run(["openssl", "pkcs8", "-topk8", "-nocrypt", "-in", str(workdir / "sec1.pem"),
                    "-out", str(key)], check=True)
    subprocess.run(["openssl", "ec", "-in", str(key), "-pubout", "-out", str(pub)],
                   check=True, capture_output=True)
    return key, pub


def test_cosign_sign_and_verify(scene):
    info = scene.image("ns/img")
    key, pub = cosign_keys(scene.workdir)
    _, other_pub = cosign_keys(scene.workdir, "other")
    scene.set_registries({scene.reg.host: {"lookaside": f"file://{scene.lookaside}",
                                           "use-sigstore-attachments": True}})
    res = scene.images.run("sign", "--cosign-key", key, f"{scene.reg.host}/ns/img:v1")
    assert res.returncode == 0, res.stderr
    # The attachment, field by field, as the cosign format publishes it.
    digest = info["manifest_digest"]
    tag = digest.replace(":", "-") + ".sig"
    client = scene.reg.client()
    body, _, _ = client.get_manifest("ns/img", tag)
    m = json.loads(body)
    assert m["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert m["config"]["mediaType"] == "application/vnd.oci.image.config.v1+json"
    [layer] = m["layers"]
    assert layer["mediaType"] == "application/vnd.dev.cosign.simplesigning.v1+json"
    payload = client.get_blob("ns/img", layer["digest"])
    p = json.loads(payload)
    assert p["critical"]["type"] == "cosign container image signature"
    assert p["critical"]["image"]["docker-manifest-digest"] == digest
    assert p["critical"]["identity"]["docker-reference"] == f"{scene.reg.host}/ns/img:v1"
    sig = base64.b64decode(layer["annotations"]["dev.cosignproject.cosign/signature"])
    (scene.workdir / "payload").write_bytes(payload)
    (scene.workdir / "sig.der").write_bytes(sig)
    v = subprocess.run(["openssl", "dgst", "-sha256", "-verify", str(pub), "-signature",
                        str(scene.workdir / "sig.der"), str(scene.workdir / "payload")],
                       capture_output=True, text=True)
    assert v.returncode == 0 and "Verified OK" in v.stdout, v.stdout + v.stderr
    config = json.loads(client.get_blob("ns/img", m["config"]["digest"]))
    assert config["rootfs"]["diff_ids"] == [layer["digest"]]

    req = {"type": "sigstoreSigned", "keyPath": str(pub)}
    accepted(scene.pull(scene.policy(for_host(scene, [req])), "ns/img:v1"))
    scene.clean_store()
    req_other = {"type": "sigstoreSigned", "keyPath": str(other_pub)}
    refused(scene.pull(scene.policy(for_host(scene, [req_other])), "ns/img:v1"),
            "(sigstoreSigned)", "does not verify")
    assert_nothing_stored(scene.images)
    # Unsupported parts are refused by name.
    req_fulcio = {"type": "sigstoreSigned", "fulcio": {"caPath": "/x", "oidcIssuer": "https://o",
                                                       "subjectEmail": "a@b"}}
    refused(scene.pull(scene.policy(for_host(scene, [req_fulcio])), "ns/img:v1"),
            "fulcio (certificates from a Fulcio CA) is not supported")


def test_cosign_tampered_payload(scene):
    scene.image("ns/img")
    key, pub = cosign_keys(scene.workdir)
    scene.set_registries({scene.reg.host: {"use-sigstore-attachments": True}})
    assert scene.images.run("sign", "--cosign-key", key,
                            f"{scene.reg.host}/ns/img:v1").returncode == 0
    digest = scene.reg.manifest_digest("ns/img", "v1")
    tag = digest.replace(":", "-") + ".sig"
    client = scene.reg.client()
    body, _, _ = client.get_manifest("ns/img", tag)
    m = json.loads(body)
    payload = client.get_blob("ns/img", m["layers"][0]["digest"])
    changed = payload.replace(b"ns/img:v1", b"ns/img:v2")
    d = client.push_blob("ns/img", changed)
    m["layers"][0]["digest"], m["layers"][0]["size"] = d, len(changed)
    client.put_manifest("ns/img", tag, json.dumps(m).encode(), m["mediaType"])
    req = {"type": "sigstoreSigned", "keyPath": str(pub),
           "signedIdentity": {"type": "matchRepository"}}
    refused(scene.pull(scene.policy(for_host(scene, [req])), "ns/img:v1"), "does not verify")
    assert_nothing_stored(scene.images)


# --------------------------------------------------------------------------------------------
# Through the agent: security_validate with a policy


def test_agent_security_validate(scene, keys, workdir):
    from test_agent import AGENT_BIN, Agent, expect_error
    if not os.access(AGENT_BIN, os.X_OK):
        pytest.skip(f"enclave-agent not built ({AGENT_BIN})")
    scene.image("ns/signed")
    scene.image("ns/unsigned", layers=[[F("other", "x\n")]])
    scene.skopeo_sign("ns/signed", "v1", "a")
    policy = scene.policy(for_host(scene, [signed_by(keys, "a")]))
    conf = workdir / "validate.conf"
    conf.write_text('{"security_validate": true}')
    agent = Agent(workdir, name="validate", extra=["-c", conf, "--policy", policy,
                                                   "--registries.d", scene.rd]).start()
    try:
        host = scene.reg.host
        res = agent.ctl("-i", f"{host}/ns/signed:v1", "--cid", "good")
        assert res.returncode == 0, res.stderr
        assert agent.layouts() == ["good"]
        expect_error(agent.ctl("-i", f"{host}/ns/unsigned:v1", "--cid", "bad"),
                     "PERMISSION_DENIED", f"policy {policy}",
                     f"a GPG signature is required, but {host}/ns/unsigned:v1 has none")
        # Nothing of the refused image: one image record, one layout, the signed one's layer.
        assert len(agent.store_records()) == 1
        assert agent.layouts() == ["good"]
        assert len(agent.layer_dirs()) == 1
    finally:
        assert agent.stop() == 0, agent.log()[-3000:]


def test_agent_image_config_and_bad_policy(scene, keys, workdir):
    """image-rs's config keys name the policy and registries.d; a policy that does not parse
    stops the agent at start with one line."""
    from test_agent import AGENT_BIN, Agent, expect_error
    if not os.access(AGENT_BIN, os.X_OK):
        pytest.skip(f"enclave-agent not built ({AGENT_BIN})")
    scene.image("ns/unsigned")
    policy = scene.policy(for_host(scene, [signed_by(keys, "a")]))
    conf = workdir / "validate.conf"
    conf.write_text('{"security_validate": true}')
    image_config = workdir / "image-config.json"
    image_config.write_text(json.dumps({"file_paths": {"policy_path": f"file://{policy}",
                                                       "sigstore_config": str(scene.rd)},
                                        "work_dir": "/run/image-rs/"}))
    agent = Agent(workdir, name="ic", extra=["-c", conf, "--image-config", image_config]).start()
    try:
        expect_error(agent.ctl("-i", f"{scene.reg.host}/ns/unsigned:v1", "--cid", "bad"),
                     "PERMISSION_DENIED", f"policy {policy}")
        assert agent.store_records() == [] and agent.layer_dirs() == []
    finally:
        assert agent.stop() == 0, agent.log()[-3000:]
    for bad, needle in [
        (scene.policy({"default": [{"type": "reject"}], "extra": 1}), 'unknown key "extra"'),
        (workdir / "missing.json", "missing.json"),
    ]:
        a = Agent(workdir, name=f"bad{bad.stem}", extra=["-c", conf, "--policy", bad])
        p = subprocess.run(a.argv, capture_output=True, text=True, timeout=60,
                           stdin=subprocess.DEVNULL)
        assert p.returncode == 1, p
        last = p.stderr.strip().splitlines()[-1]  # after the log's info lines
        assert last.startswith("enclave-agent: policy ") and needle in last, p.stderr
    kbs = workdir / "kbs-config.json"
    kbs.write_text(json.dumps({"file_paths": {"policy_path": "kbs:///default/security-policy/test"}}))
    a = Agent(workdir, name="kbs", extra=["-c", conf, "--image-config", kbs])
    p = subprocess.run(a.argv, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert p.returncode == 1 and "kbs:// resources come from the key broker" in p.stderr, p.stderr


def test_agent_without_a_policy_refuses_every_pull(scene, workdir):
    """security_validate on, no --policy and no /etc/containers/policy.json (hidden by a tmpfs
    in a mount namespace of the agent's own): a warning at start, every pull
    FAILED_PRECONDITION, nothing stored."""
    from test_agent import AGENT_BIN, Agent, expect_error
    if not os.access(AGENT_BIN, os.X_OK):
        pytest.skip(f"enclave-agent not built ({AGENT_BIN})")
    if not shutil.which("unshare"):
        pytest.skip("unshare is not installed")
    scene.image("ns/img")
    conf = workdir / "validate.conf"
    conf.write_text('{"security_validate": true}')
    agent = Agent(workdir, name="nopolicy", extra=["-c", conf])
    agent.argv = ["unshare", "-m", "--propagation", "private", "sh", "-c",
                  'mkdir -p /etc/containers && mount -t tmpfs tmpfs /etc/containers && '
                  'exec "$@"', "sh", *agent.argv]
    agent.start()
    try:
        warn = [r["msg"] for r in agent.records() if r["level"] == "warning"]
        assert any("security_validate is on but there is no signature policy" in w
                   for w in warn), agent.log()
        expect_error(agent.ctl("-i", f"{scene.reg.host}/ns/img:v1", "--cid", "x"),
                     "FAILED_PRECONDITION",
                     "security_validate is on but there is no signature policy "
                     "(/etc/containers/policy.json does not exist; give one with --policy)")
        assert agent.store_records() == [] and agent.layer_dirs() == []
    finally:
        assert agent.stop() == 0, agent.log()[-3000:]
