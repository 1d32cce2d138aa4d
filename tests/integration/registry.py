"""Test infrastructure for the image puller: a private OCI registry and hand-built images.

Nothing here touches the network beyond 127.0.0.1, and nothing here uses project code:

  * Registry(mode)      -- runs distribution v2.8 (`docker-registry serve`) on a free loopback
                           port, anonymous, with htpasswd basic auth, or with token auth backed by
                           a small in-process token server (JWT, ES256, x5c header);
  * make_oci_image()    -- writes an OCI image layout by hand (tar layers built with `tarfile`,
                           gzip/zstd/uncompressed), make_multiplatform_image() an image index;
  * make_nested_index() -- an index whose entry is another index (which pullers refuse);
  * HostileRegistry()   -- a front for a Registry that trickles, stalls after a (lying)
                           Content-Length, or serves other bytes for chosen blobs;
  * push()              -- uploads a layout's image to a Registry over plain HTTP, byte-exact
                           (the manifest digest in the registry is the one that was written);
                           skopeo_push() does the same with skopeo for comparison;
  * umoci_unpack()      -- the reference unpacker;
  * tree_manifest()     -- a comparable description of an unpacked tree.

Debian packages: docker-registry skopeo umoci apache2-utils python3-bcrypt python3-cryptography
zstd busybox-static.
"""

import base64
import gzip
import hashlib
import io
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import tarfile
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import namedtuple
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REGISTRY_BIN = shutil.which("docker-registry", path="/usr/bin:/usr/sbin:/bin") or \
    "/usr/bin/docker-registry"
SKOPEO_BIN = shutil.which("skopeo", path="/usr/bin:/usr/local/bin:/bin")
UMOCI_BIN = shutil.which("umoci", path="/usr/bin:/usr/local/bin:/bin")
ZSTD_BIN = shutil.which("zstd", path="/usr/bin:/usr/local/bin:/bin")
HTPASSWD_BIN = shutil.which("htpasswd", path="/usr/bin:/usr/sbin:/bin")

MT_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MT_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER = {
    "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
    "zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
    "none": "application/vnd.oci.image.layer.v1.tar",
}
MT_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MT_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
ACCEPT_ALL = ", ".join([MT_OCI_MANIFEST, MT_OCI_INDEX, MT_DOCKER_MANIFEST, MT_DOCKER_LIST])
REF_NAME = "org.opencontainers.image.ref.name"

USER = "tester"
SERVICE = "rune-test-registry"
ISSUER = "rune-test-token-issuer"


def host_arch():
    """The host's architecture in OCI/Go terms (amd64, arm64, ...)."""
    m = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386",
            "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64"}.get(m, m)


def missing_tools(*names):
    """The names among registry/skopeo/umoci/zstd/htpasswd whose binary is not installed."""
    paths = {"registry": REGISTRY_BIN, "skopeo": SKOPEO_BIN, "umoci": UMOCI_BIN,
             "zstd": ZSTD_BIN, "htpasswd": HTPASSWD_BIN}
    return [n for n in names if not paths[n] or not os.access(paths[n], os.X_OK)]


def sha256_digest(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def free_port():
    """A loopback TCP port that was free a moment ago (bind to port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _kill_pid(proc, timeout=10):
    """Stop one process we started (a Popen), by its PID: SIGTERM, then SIGKILL."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=timeout)
    except ProcessLookupError:
        pass


# --------------------------------------------------------------------------------------------
# Token server (for Registry(mode="token"))


class _Signer:
    """An EC P-256 key with a self-signed certificate; signs ES256 JWTs with an x5c header."""

    def __init__(self):
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        self._hashes, self._ec = hashes, ec
        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ISSUER)])
        now = datetime.now(timezone.utc)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(name).issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True,
                                         crl_sign=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        self.cert_pem = self.cert.public_bytes(serialization.Encoding.PEM)
        self.cert_der = self.cert.public_bytes(serialization.Encoding.DER)

    def jwt(self, claims):
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

        header = {"typ": "JWT", "alg": "ES256",
                  "x5c": [base64.b64encode(self.cert_der).decode()]}
        signing_input = (_b64url(json.dumps(header, separators=(",", ":")).encode()) + "." +
                         _b64url(json.dumps(claims, separators=(",", ":")).encode()))
        der = self.key.sign(signing_input.encode(), self._ec.ECDSA(self._hashes.SHA256()))
        r, s = decode_dss_signature(der)      # JWS wants raw r||s, not DER
        return signing_input + "." + _b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


class TokenServer:
    """A docker token server (GET /token?service=..&scope=..) on a loopback port, in a thread.

    A request with the right HTTP basic credentials gets every scope it asks for; a request
    without credentials gets a token with an empty access list (so the registry refuses it);
    a request with wrong credentials gets 401. Every request is recorded in self.requests as
    a dict {"user", "authorized", "service", "scopes"}."""

    def __init__(self, user, password, lifetime=300):
        self.user, self.password, self.lifetime = user, password, lifetime
        self.signer = _Signer()
        self.requests = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server._handle(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.realm = f"http://127.0.0.1:{self.port}/token"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True,
                                        name="token-server")
        self._thread.start()

    def _handle(self, h):
        url = urllib.parse.urlsplit(h.path)
        if url.path != "/token":
            h.send_error(404)
            return
        q = urllib.parse.parse_qs(url.query)
        scopes = [s for v in q.get("scope", []) for s in v.split(" ") if s]
        user, authorized = None, False
        auth = h.headers.get("Authorization", "")
        if auth.lower().startswith("basic "):
            try:
                user, _, pw = base64.b64decode(auth[6:].strip()).decode().partition(":")
            except Exception:
                user, pw = "?", None
            authorized = (user == self.user and pw == self.password)
            if not authorized:
                with self._lock:
                    self.requests.append({"user": user, "authorized": False,
                                          "service": q.get("service", [None])[0],
                                          "scopes": scopes})
                body = b'{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}'
                h.send_response(401)
                h.send_header("Content-Type", "application/json")
                h.send_header("WWW-Authenticate", 'Basic realm="rune-test"')
                h.send_header("Content-Length", str(len(body)))
                h.end_headers()
                h.wfile.write(body)
                return
        with self._lock:
            self.requests.append({"user": user, "authorized": authorized,
                                  "service": q.get("service", [None])[0], "scopes": scopes})
        access = []
        if authorized:
            for scope in scopes:
                # "<type>:<name>:<actions>"; the name may hold a colon (host:port/repo)
                typ, _, rest = scope.partition(":")
                name, _, actions = rest.rpartition(":")
                access.append({"type": typ, "name": name,
                               "actions": [a for a in actions.split(",") if a]})
        now = int(time.time())
        claims = {"iss": ISSUER, "sub": user or "", "aud": q.get("service", [SERVICE])[0],
                  "exp": now + self.lifetime, "nbf": now - 10, "iat": now,
                  "jti": uuid.uuid4().hex, "access": access}
        token = self.signer.jwt(claims)
        body = json.dumps({"token": token, "access_token": token, "expires_in": self.lifetime,
                           "issued_at": datetime.fromtimestamp(now, timezone.utc)
                           .strftime("%Y-%m-%dT%H:%M:%SZ")}).encode()
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=10)


# --------------------------------------------------------------------------------------------
# The registry


def make_tls_cert(directory):
    """A self-signed certificate for 127.0.0.1 (and localhost): (cert path, key path)."""
    import ipaddress
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rune test registry")])
    now = datetime.now(timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = Path(directory) / "tls.crt", Path(directory) / "tls.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


class Registry:
    """distribution v2.8 on 127.0.0.1:<free port>, storage in a temp dir.

    mode: "anonymous" (anyone may push and pull), "basic" (htpasswd, user `tester` with a
    generated password) or "token" (bearer tokens from a TokenServer that checks the same
    user/password). Use as a context manager, or call start()/stop().

    Attributes: host ("127.0.0.1:PORT"), url ("http://127.0.0.1:PORT"), user, password (None for
    anonymous), token_server (token mode), dir (temp dir), log_path."""

    MODES = ("anonymous", "basic", "token")

    def __init__(self, mode="anonymous", tmp_parent=None, tls=False):
        if mode not in self.MODES:
            raise ValueError(f"mode must be one of {self.MODES}")
        self.mode = mode
        self.tmp_parent = tmp_parent
        self.user = USER if mode != "anonymous" else None
        self.password = secrets.token_urlsafe(12) if mode != "anonymous" else None
        self.proc = None
        self.token_server = None
        self.dir = None
        self.port = None
        self.tls = tls
        self.cert = None  # the TLS certificate (PEM path) when tls
        self._old_opener = None

    # ---- identity
    @property
    def host(self):
        return f"127.0.0.1:{self.port}"

    @property
    def url(self):
        return f"{'https' if self.tls else 'http'}://{self.host}"

    @property
    def creds(self):
        """"user:password" for skopeo --creds (None for anonymous)."""
        return f"{self.user}:{self.password}" if self.user else None

    @property
    def log_path(self):
        return self.dir / "registry.log"

    def log_text(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def client(self, user=None, password=None, anonymous=False):
        """A RegistryClient for this registry, with its credentials unless told otherwise."""
        if anonymous:
            return RegistryClient(self.url)
        return RegistryClient(self.url, user or self.user, password or self.password)

    # ---- lifecycle
    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self, timeout=20):
        self.dir = Path(tempfile.mkdtemp(prefix="rune-registry-", dir=self.tmp_parent))
        try:
            (self.dir / "storage").mkdir()
            if self.tls:
                import ssl
                self.cert, self._key = make_tls_cert(self.dir)
                # This process's own HTTP helpers (push, readiness) trust the certificate.
                ctx = ssl.create_default_context(cafile=str(self.cert))
                self._old_opener = urllib.request._opener
                urllib.request.install_opener(urllib.request.build_opener(
                    urllib.request.HTTPSHandler(context=ctx)))
            auth = {}
            if self.mode == "basic":
                htpasswd = self.dir / "htpasswd"
                htpasswd.write_text(_htpasswd_line(self.user, self.password))
                auth = {"htpasswd": {"realm": "rune-test", "path": str(htpasswd)}}
            elif self.mode == "token":
                self.token_server = TokenServer(self.user, self.password)
                bundle = self.dir / "token-ca.pem"
                bundle.write_bytes(self.token_server.signer.cert_pem)
                auth = {"token": {"realm": self.token_server.realm, "service": SERVICE,
                                  "issuer": ISSUER, "rootcertbundle": str(bundle)}}
            last = None
            for _ in range(5):      # the free port may be taken between probe and bind
                self.port = free_port()
                self._write_config(auth)
                try:
                    self._launch(timeout)
                    return self
                except _PortTaken as e:
                    last = e
            raise RuntimeError(f"registry could not bind a port: {last}")
        except BaseException:
            self.stop()
            raise

    def _write_config(self, auth):
        config = {
            "version": 0.1,
            "log": {"level": "info", "formatter": "text", "accesslog": {"disabled": False}},
            "storage": {"filesystem": {"rootdirectory": str(self.dir / "storage")},
                        "delete": {"enabled": True},
                        "maintenance": {"uploadpurging": {"enabled": False}}},
            "http": {"addr": self.host, "secret": secrets.token_hex(16),
                     "headers": {"X-Content-Type-Options": ["nosniff"]}},
            "health": {"storagedriver": {"enabled": False}},
        }
        if auth:
            config["auth"] = auth
        if self.tls:
            config["http"]["tls"] = {"certificate": str(self.cert), "key": str(self._key)}
        # JSON is YAML: the registry's parser reads it as is.
        (self.dir / "config.yml").write_text(json.dumps(config, indent=2))

    def _launch(self, timeout):
        env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
        if self.proc is not None:
            _kill_pid(self.proc)
        logf = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen([REGISTRY_BIN, "serve", str(self.dir / "config.yml")],
                                         stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                                         env=env, cwd=self.dir, start_new_session=True)
        finally:
            logf.close()
        want = 200 if self.mode == "anonymous" else 401
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                log = self.log_text()
                if "address already in use" in log:
                    raise _PortTaken(log[-500:])
                raise RuntimeError(f"docker-registry exited with {self.proc.returncode}:\n"
                                   f"{log[-3000:]}")
            try:
                with urllib.request.urlopen(self.url + "/v2/", timeout=2) as r:
                    code = r.status
            except urllib.error.HTTPError as e:
                code = e.code
            except (urllib.error.URLError, OSError):
                code = None
            if code == want:
                return
            if code is not None:
                raise RuntimeError(f"GET /v2/ answered {code}, expected {want}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"registry did not answer within {timeout}s:\n"
                                   f"{self.log_text()[-3000:]}")
            time.sleep(0.05)

    def stop(self):
        """Stop the registry process (by PID) and the token server; remove the temp dir."""
        _kill_pid(self.proc)
        self.proc = None
        if self.tls:
            urllib.request.install_opener(self._old_opener)
        if self.token_server is not None:
            self.token_server.stop()
            self.token_server = None
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)

    # ---- conveniences
    def manifest_digest(self, repo, ref, accept=ACCEPT_ALL):
        """Docker-Content-Digest of GET /v2/<repo>/manifests/<ref>."""
        _, headers, _ = self.client().request("GET", f"/v2/{repo}/manifests/{ref}", repo=repo,
                                              headers={"Accept": accept})
        return headers.get("Docker-Content-Digest")


def relay_get(handler, upstream):
    """For test proxies: forward an http.server handler's GET to the registry at upstream, send
    the registry's status and the headers clients need, and return (status, body) for the
    caller to write (whole, cut short or held back)."""
    headers = {k: v for k, v in handler.headers.items()
               if k.lower() in ("accept", "authorization", "range")}
    req = urllib.request.Request(upstream + handler.path, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as up:
            status, body, hdrs = up.status, up.read(), dict(up.headers)
    except urllib.error.HTTPError as e:
        status, body, hdrs = e.code, e.read(), dict(e.headers)
    handler.send_response(status)
    for k, v in hdrs.items():
        if k.lower() in ("content-type", "docker-content-digest", "content-range",
                         "www-authenticate"):
            handler.send_header(k, v)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    return status, body


class _LoopbackServer:
    """A threaded HTTP server on 127.0.0.1 (a free port) for test fronts; a context manager."""

    def _serve(self, handler):
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        self.url = f"http://{self.host}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class HostileRegistry(_LoopbackServer):
    """A registry front on 127.0.0.1 (plain HTTP) that relays every request to a real registry
    (`upstream`, its URL) except GETs of the blobs it is told to misbehave on, by digest:

      trickle(digest, interval, chunk=1)  the real blob, `chunk` bytes every `interval` s
      stall(digest, after, length=None)   Content-Length `length` (default: the real size), the
                                          first `after` bytes, then nothing: the connection is
                                          held open until close()
      replace(digest, data, length=None)  other bytes (shorter, longer or wrong) with
                                          Content-Length `length` (default: len(data))

    A rule answers Range requests the same way (200, from the start), as a server that ignores
    Range does. `requests` counts the GETs of each ruled blob, so that a test can tell whether
    the client retried. A context manager; close() releases held connections and stops."""

    def __init__(self, upstream):
        self.upstream = upstream
        self.rules = {}
        self.requests = {}
        self._closing = threading.Event()
        hostile = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                digest = self.path.rsplit("/", 1)[-1] if "/blobs/" in self.path else None
                rule = hostile.rules.get(digest)
                if rule is None:
                    _, body = relay_get(self, hostile.upstream)
                    self.wfile.write(body)
                    return
                hostile.requests[digest] = hostile.requests.get(digest, 0) + 1
                try:
                    hostile._misbehave(self, digest, *rule)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up, as it should
                self.close_connection = True

        self._serve(Handler)

    def _real(self, digest, path):
        with urllib.request.urlopen(self.upstream + path, timeout=30) as up:
            data = up.read()
        if sha256_digest(data) != digest:
            raise AssertionError(f"upstream blob {digest} does not match its digest")
        return data

    def _head(self, handler, length):
        handler.send_response(200)
        handler.send_header("Content-Type", "application/octet-stream")
        if length is not None:
            handler.send_header("Content-Length", str(length))
        handler.end_headers()
        handler.wfile.flush()

    def _misbehave(self, handler, digest, kind, arg, length):
        if kind == "replace":
            self._head(handler, len(arg) if length is None else length)
            handler.wfile.write(arg)
            handler.wfile.flush()
            return
        data = self._real(digest, handler.path)
        if kind == "stall":
            self._head(handler, len(data) if length is None else length)
            handler.wfile.write(data[:arg])
            handler.wfile.flush()
            self._closing.wait(600)
            return
        interval, chunk = arg
        self._head(handler, len(data))
        for off in range(0, len(data), chunk):
            handler.wfile.write(data[off:off + chunk])
            handler.wfile.flush()
            if self._closing.wait(interval):
                return

    def trickle(self, digest, interval, chunk=1):
        self.rules[digest] = ("trickle", (interval, chunk), None)

    def stall(self, digest, after, length=None):
        self.rules[digest] = ("stall", after, length)

    def replace(self, digest, data, length=None):
        self.rules[digest] = ("replace", data, length)

    def close(self):
        self._closing.set()
        super().close()


class SignatureProxy(_LoopbackServer):
    """A front on 127.0.0.1 for a real registry (`upstream`, its URL) that adds the registry
    signature extension docker-registry lacks: GET /v2/ answers with
    X-Registry-Supports-Signatures: 1, and /extensions/v2/<repo>/signatures/<digest> is served
    from `signatures` ({(repo, digest): [entry objects]}): GET lists them, PUT appends one and
    answers 201. Every other request is relayed as it is (body and auth included). `puts`
    records the (repo, digest) of each PUT. A context manager."""

    EXT = "/extensions/v2/"

    def __init__(self, upstream, advertise=True):
        self.upstream = upstream
        self.advertise = advertise
        self.signatures = {}
        self.puts = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _ext_key(self):
                rest = self.path[len(proxy.EXT):]
                repo, _, digest = rest.rpartition("/signatures/")
                return (repo, digest) if repo and digest else None

            def _answer(self, status, body=b"", headers=()):
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _relay(self):
                n = int(self.headers.get("Content-Length") or 0)
                data = self.rfile.read(n) if n else None
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() in ("authorization", "range", "content-type")}
                accept = self.headers.get_all("Accept")  # skopeo sends one line per type
                if accept:
                    headers["Accept"] = ", ".join(accept)
                req = urllib.request.Request(proxy.upstream + self.path, data=data,
                                             headers=headers, method=self.command)
                try:
                    with urllib.request.urlopen(req, timeout=30) as up:
                        status, body, hdrs = up.status, up.read(), dict(up.headers)
                except urllib.error.HTTPError as e:
                    status, body, hdrs = e.code, e.read(), dict(e.headers)
                keep = [(k, v) for k, v in hdrs.items()
                        if k.lower() in ("content-type", "docker-content-digest", "location",
                                         "range", "docker-upload-uuid", "www-authenticate")]
                if self.command == "GET" and self.path.rstrip("/") == "/v2" and proxy.advertise:
                    keep.append(("X-Registry-Supports-Signatures", "1"))
                self._answer(status, b"" if self.command == "HEAD" else body, keep)

            def do_GET(self):
                key = self._ext_key() if self.path.startswith(proxy.EXT) else None
                if key is None:
                    return self._relay()
                sigs = proxy.signatures.get(key, [])
                self._answer(200, json.dumps({"signatures": sigs}).encode(),
                             [("Content-Type", "application/json")])

            def do_PUT(self):
                key = self._ext_key() if self.path.startswith(proxy.EXT) else None
                if key is None:
                    return self._relay()
                n = int(self.headers.get("Content-Length") or 0)
                proxy.signatures.setdefault(key, []).append(json.loads(self.rfile.read(n)))
                proxy.puts.append(key)
                self._answer(201)

            do_HEAD = do_POST = do_PATCH = do_DELETE = _relay

        self._serve(Handler)



class _PortTaken(Exception):
    pass


def _htpasswd_line(user, password):
    """A bcrypt htpasswd line (python bcrypt, else `htpasswd -Bbn`)."""
    try:
        import bcrypt
        return f"{user}:{bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=5)).decode()}\n"
    except ImportError:
        out = subprocess.run([HTPASSWD_BIN or "htpasswd", "-Bbn", user, password], check=True,
                             capture_output=True, text=True).stdout
        return out.strip() + "\n"


# --------------------------------------------------------------------------------------------
# A minimal registry HTTP client (urllib) with basic and bearer auth


class HTTPFailure(Exception):
    def __init__(self, method, url, code, body):
        super().__init__(f"{method} {url}: HTTP {code}: {body[:500]!r}")
        self.code, self.body = code, body


class RegistryClient:
    """Talks the distribution API; answers a 401 challenge (Basic or Bearer) with its creds.

    Bearer tokens are fetched per scope with `repository:<repo>:pull,push`."""

    def __init__(self, base_url, user=None, password=None):
        self.base = base_url.rstrip("/")
        self.user, self.password = user, password
        self._tokens = {}

    def _basic(self):
        raw = f"{self.user}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode()

    def _token(self, challenge, repo, actions):
        params = _parse_challenge(challenge)
        scope = params.get("scope") or (f"repository:{repo}:{actions}" if repo else None)
        key = (params.get("realm"), scope)
        if key in self._tokens:
            return self._tokens[key]
        q = {"service": params.get("service", "")}
        if scope:
            q["scope"] = scope
        req = urllib.request.Request(params["realm"] + "?" + urllib.parse.urlencode(q))
        if self.user:
            req.add_header("Authorization", self._basic())
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                body = json.loads(r.read())
        except urllib.error.HTTPError as e:
            raise HTTPFailure("GET", req.full_url, e.code, e.read()) from None
        token = body.get("token") or body.get("access_token")
        self._tokens[key] = token
        return token

    def request(self, method, path_or_url, data=None, headers=None, repo=None,
                actions="pull,push", ok=(200, 201, 202, 204)):
        """Return (status, headers, body); raise HTTPFailure for a status not in ok."""
        url = path_or_url if "://" in path_or_url else self.base + path_or_url
        auth = None
        for attempt in range(2):
            req = urllib.request.Request(url, data=data, method=method,
                                         headers=dict(headers or {}))
            if auth:
                req.add_header("Authorization", auth)
            try:
                with urllib.request.urlopen(req, timeout=60) as r:
                    status, hdrs, body = r.status, r.headers, r.read()
            except urllib.error.HTTPError as e:
                status, hdrs, body = e.code, e.headers, e.read()
            if status == 401 and attempt == 0:
                challenge = hdrs.get("WWW-Authenticate", "")
                if challenge.lower().startswith("bearer"):
                    auth = "Bearer " + self._token(challenge, repo, actions)
                    continue
                if challenge.lower().startswith("basic") and self.user:
                    auth = self._basic()
                    continue
            break
        if status not in ok:
            raise HTTPFailure(method, url, status, body)
        return status, hdrs, body

    def blob_exists(self, repo, digest):
        status, _, _ = self.request("HEAD", f"/v2/{repo}/blobs/{digest}", repo=repo,
                                    ok=(200, 404))
        return status == 200

    def push_blob(self, repo, data, digest=None):
        digest = digest or sha256_digest(data)
        if self.blob_exists(repo, digest):
            return digest
        _, hdrs, _ = self.request("POST", f"/v2/{repo}/blobs/uploads/", data=b"", repo=repo,
                                  headers={"Content-Length": "0"})
        loc = urllib.parse.urljoin(self.base + "/", hdrs["Location"])
        loc += ("&" if "?" in loc else "?") + "digest=" + urllib.parse.quote(digest)
        self.request("PUT", loc, data=data, repo=repo,
                     headers={"Content-Type": "application/octet-stream",
                              "Content-Length": str(len(data))})
        return digest

    def put_manifest(self, repo, ref, data, media_type):
        _, hdrs, _ = self.request("PUT", f"/v2/{repo}/manifests/{ref}", data=data, repo=repo,
                                  headers={"Content-Type": media_type})
        return hdrs.get("Docker-Content-Digest")

    def get_manifest(self, repo, ref, accept=ACCEPT_ALL):
        """(body bytes, Content-Type, Docker-Content-Digest)."""
        _, hdrs, body = self.request("GET", f"/v2/{repo}/manifests/{ref}", repo=repo,
                                     actions="pull", headers={"Accept": accept})
        return body, hdrs.get("Content-Type"), hdrs.get("Docker-Content-Digest")

    def get_blob(self, repo, digest):
        _, _, body = self.request("GET", f"/v2/{repo}/blobs/{digest}", repo=repo,
                                  actions="pull")
        return body


def _parse_challenge(value):
    """'Bearer realm="..",service="..",scope=".."' -> dict."""
    _, _, rest = value.partition(" ")
    out = {}
    i = 0
    while i < len(rest):
        eq = rest.find("=", i)
        if eq < 0:
            break
        key = rest[i:eq].strip().strip(",").strip()
        if eq + 1 < len(rest) and rest[eq + 1] == '"':
            end = rest.find('"', eq + 2)
            out[key] = rest[eq + 2:end]
            i = end + 1
        else:
            end = rest.find(",", eq + 1)
            end = len(rest) if end < 0 else end
            out[key] = rest[eq + 1:end]
            i = end
        while i < len(rest) and rest[i] in ", ":
            i += 1
    return out


# --------------------------------------------------------------------------------------------
# Building images by hand
#
# A layer is a list of member specs (dicts). Every spec has "path" (relative, may be UTF-8 and
# longer than 100 bytes) and "type"; optional mode, uid, gid, mtime, uname, gname, xattrs
# ({name: str|bytes}, written as PAX SCHILY.xattr.<name>). Types:
#   file      content (bytes|str)            dir
#   symlink   target                          hardlink  target (path of an earlier member)
#   fifo                                      char / block   major, minor
#   whiteout  -> "<dir>/.wh.<name>"           opaque    -> "<path>/.wh..wh..opq"
# The helpers F, D, S, H, FIFO, CHR, BLK, WH, OPQ build these dicts.


def F(path, content=b"", mode=0o644, **kw):
    return {"type": "file", "path": path, "content": content, "mode": mode, **kw}


def D(path, mode=0o755, **kw):
    return {"type": "dir", "path": path, "mode": mode, **kw}


def S(path, target, **kw):
    return {"type": "symlink", "path": path, "target": target, **kw}


def H(path, target, **kw):
    return {"type": "hardlink", "path": path, "target": target, **kw}


def FIFO(path, mode=0o644, **kw):
    return {"type": "fifo", "path": path, "mode": mode, **kw}


def CHR(path, major, minor, mode=0o666, **kw):
    return {"type": "char", "path": path, "major": major, "minor": minor, "mode": mode, **kw}


def BLK(path, major, minor, mode=0o660, **kw):
    return {"type": "block", "path": path, "major": major, "minor": minor, "mode": mode, **kw}


def WH(path):
    """Whiteout of path (the lower layers' entry disappears)."""
    return {"type": "whiteout", "path": path}


def OPQ(path):
    """Opaque marker: the lower layers' entries under directory path disappear."""
    return {"type": "opaque", "path": path}


DEFAULT_MTIME = 1700000000

_TAR_TYPES = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE,
              "hardlink": tarfile.LNKTYPE, "fifo": tarfile.FIFOTYPE, "char": tarfile.CHRTYPE,
              "block": tarfile.BLKTYPE}


def make_layer_tar(members):
    """The uncompressed tar (PAX format) of a layer given as member specs."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT,
                      encoding="utf-8") as tar:
        for spec in members:
            typ = spec["type"]
            path = spec["path"].strip("/")
            if typ == "whiteout":
                d, _, base = path.rpartition("/")
                ti = tarfile.TarInfo((d + "/" if d else "") + ".wh." + base)
                ti.type, ti.mode = tarfile.REGTYPE, 0o644
            elif typ == "opaque":
                ti = tarfile.TarInfo(path + "/.wh..wh..opq")
                ti.type, ti.mode = tarfile.REGTYPE, 0o644
            else:
                ti = tarfile.TarInfo(path + ("/" if typ == "dir" else ""))
                ti.type = _TAR_TYPES[typ]
                ti.mode = spec.get("mode", 0o755 if typ == "dir" else 0o777
                                   if typ == "symlink" else 0o644)
            ti.uid, ti.gid = spec.get("uid", 0), spec.get("gid", 0)
            ti.uname, ti.gname = spec.get("uname", ""), spec.get("gname", "")
            ti.mtime = spec.get("mtime", DEFAULT_MTIME)
            if typ in ("symlink", "hardlink"):
                ti.linkname = spec["target"]
            if typ in ("char", "block"):
                ti.devmajor, ti.devminor = spec["major"], spec["minor"]
            xattrs = spec.get("xattrs") or {}
            if xattrs:
                ti.pax_headers = {
                    "SCHILY.xattr." + name:
                        (v.decode("utf-8", "surrogateescape") if isinstance(v, bytes) else v)
                    for name, v in xattrs.items()}
            data = None
            if typ == "file":
                data = spec.get("content", b"")
                data = data.encode() if isinstance(data, str) else data
                ti.size = len(data)
            tar.addfile(ti, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def compress(data, compression):
    if compression == "gzip":
        return gzip.compress(data, compresslevel=6, mtime=0)
    if compression == "zstd":
        return subprocess.run([ZSTD_BIN or "zstd", "-q", "-c", "-3"], input=data,
                              capture_output=True, check=True).stdout
    if compression == "none":
        return data
    raise ValueError(f"unknown compression {compression!r}")


class Layout:
    """An OCI image layout directory being written."""

    def __init__(self, path):
        self.path = Path(path)
        (self.path / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        (self.path / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
        idx = self.path / "index.json"
        self.index = json.loads(idx.read_text()) if idx.exists() else \
            {"schemaVersion": 2, "mediaType": MT_OCI_INDEX, "manifests": []}

    def blob(self, data, media_type, **extra):
        """Store data as a blob; return its descriptor."""
        digest = sha256_digest(data)
        (self.path / "blobs" / "sha256" / digest.split(":", 1)[1]).write_bytes(data)
        return {"mediaType": media_type, "digest": digest, "size": len(data), **extra}

    def tag(self, desc, tag):
        desc = dict(desc)
        desc["annotations"] = {**desc.get("annotations", {}), REF_NAME: tag}
        self.index["manifests"] = [m for m in self.index["manifests"]
                                   if m.get("annotations", {}).get(REF_NAME) != tag]
        self.index["manifests"].append(desc)
        (self.path / "index.json").write_text(json.dumps(self.index, indent=2))


def _canonical(obj):
    return json.dumps(obj, separators=(",", ":"), sort_keys=False).encode()


def _write_image(layout, layers, config, compression, arch, os_name, variant=None):
    """Layers + config + manifest into layout; return (manifest descriptor, info dict)."""
    layer_descs, diff_ids, layer_info = [], [], []
    comps = compression if isinstance(compression, (list, tuple)) else \
        [compression] * len(layers)
    for members, comp in zip(layers, comps):
        tar = members if isinstance(members, bytes) else make_layer_tar(members)
        blob = compress(tar, comp)
        desc = layout.blob(blob, MT_LAYER[comp])
        layer_descs.append(desc)
        diff_ids.append(sha256_digest(tar))
        layer_info.append({"digest": desc["digest"], "diff_id": diff_ids[-1], "tar": tar,
                           "compression": comp, "size": len(blob)})
    cfg = {
        "architecture": arch, "os": os_name,
        "created": "2024-01-01T00:00:00Z",
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                   "Cmd": ["/bin/sh"], "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": "2024-01-01T00:00:00Z", "created_by": f"layer {i}"}
                    for i in range(len(layers))],
    }
    if variant:
        cfg["variant"] = variant
    for key, value in (config or {}).items():
        if key in ("Env", "Cmd", "Entrypoint", "WorkingDir", "User", "Labels", "ExposedPorts",
                   "Volumes", "StopSignal"):
            cfg["config"][key] = value
        else:
            cfg[key] = value
    cfg_desc = layout.blob(_canonical(cfg), MT_OCI_CONFIG)
    manifest = {"schemaVersion": 2, "mediaType": MT_OCI_MANIFEST, "config": cfg_desc,
                "layers": layer_descs}
    platform_ = {"architecture": arch, "os": os_name, **({"variant": variant} if variant else {})}
    man_desc = layout.blob(_canonical(manifest), MT_OCI_MANIFEST, platform=platform_)
    return man_desc, {"manifest_digest": man_desc["digest"], "config_digest": cfg_desc["digest"],
                      "config": cfg, "manifest": manifest, "layers": layer_info}


def make_oci_image(workdir, layers, config=None, compression="gzip", tag="latest",
                   arch=None, os_name="linux"):
    """Write an OCI image layout at workdir (created; may already hold other tags).

    layers: list of layers, each a list of member specs (see F/D/S/H/...) or raw tar bytes.
    config: keys Env/Cmd/Entrypoint/WorkingDir/User/Labels go to config.config, others to the
    top level (e.g. {"architecture": "arm64"}). compression: "gzip"|"zstd"|"none", or a list
    (one per layer). Returns an info dict: path, tag, manifest_digest, config_digest, config,
    manifest, layers [{digest, diff_id, tar, compression, size}]."""
    layout = Layout(workdir)
    man_desc, info = _write_image(layout, layers, config, compression, arch or host_arch(),
                                  os_name)
    layout.tag({k: v for k, v in man_desc.items() if k != "platform"}, tag)
    info.update(path=Path(workdir), tag=tag)
    return info


def make_multiplatform_image(workdir, per_platform=None, compression="gzip", tag="latest",
                             platforms=(("linux", "amd64", None), ("linux", "arm64", "v8"))):
    """An OCI layout whose tag names an image index with one manifest per platform.

    per_platform: {arch: layers}; by default each platform gets one layer with the file
    /platform containing "<os>/<arch>". Returns {path, tag, index_digest, index,
    images: {arch: info}}."""
    layout = Layout(workdir)
    images, descs = {}, []
    for os_name, arch, variant in platforms:
        layers = (per_platform or {}).get(arch) or [[F("platform", f"{os_name}/{arch}\n")]]
        desc, info = _write_image(layout, layers, None, compression, arch, os_name, variant)
        descs.append(desc)
        images[arch] = info
    index = {"schemaVersion": 2, "mediaType": MT_OCI_INDEX, "manifests": descs}
    idx_desc = layout.blob(_canonical(index), MT_OCI_INDEX)
    layout.tag(idx_desc, tag)
    return {"path": Path(workdir), "tag": tag, "index_digest": idx_desc["digest"],
            "index": index, "images": images}


def make_nested_index(workdir, tag, inner_tag, platform=None):
    """Tag an index in the OCI layout at workdir whose only entry is the index inner_tag names
    (an index of indexes; with platform, e.g. {"os": "linux", "architecture": "amd64"}, on the
    entry). Returns {index_digest, entry_digest}."""
    layout = Layout(workdir)
    inner = {k: v for k, v in _resolve_tag(workdir, inner_tag).items() if k != "annotations"}
    if platform:
        inner["platform"] = platform
    outer = {"schemaVersion": 2, "mediaType": MT_OCI_INDEX, "manifests": [inner]}
    desc = layout.blob(_canonical(outer), MT_OCI_INDEX)
    layout.tag(desc, tag)
    return {"index_digest": desc["digest"], "entry_digest": inner["digest"]}


# --------------------------------------------------------------------------------------------
# Pushing


def _read_blob(layout_dir, digest):
    return (Path(layout_dir) / "blobs" / "sha256" / digest.split(":", 1)[1]).read_bytes()


def _resolve_tag(layout_dir, tag):
    index = json.loads((Path(layout_dir) / "index.json").read_text())
    for desc in index["manifests"]:
        if desc.get("annotations", {}).get(REF_NAME) == tag:
            return desc
    raise KeyError(f"tag {tag!r} not in {layout_dir}/index.json")


def push(image_dir, tag, registry, repo="test/image", dest_tag=None, user=None,
         password=None):
    """Upload tag of the OCI layout image_dir to registry as <repo>:<dest_tag or tag> over
    HTTP, byte for byte (blobs, then manifests, then the index if the tag names one).

    Uses the registry's credentials unless user/password are given. Returns the digest of
    the pushed top-level manifest (checked against the registry's Docker-Content-Digest)."""
    client = registry.client(user, password) if not isinstance(registry, RegistryClient) \
        else registry
    desc = _resolve_tag(image_dir, tag)

    def push_manifest(desc, ref):
        data = _read_blob(image_dir, desc["digest"])
        doc = json.loads(data)
        if desc["mediaType"] in (MT_OCI_INDEX, MT_DOCKER_LIST):
            for child in doc["manifests"]:
                push_manifest(child, child["digest"])
        else:
            for blob in [doc["config"], *doc["layers"]]:
                client.push_blob(repo, _read_blob(image_dir, blob["digest"]), blob["digest"])
        got = client.put_manifest(repo, ref, data, desc["mediaType"])
        if got != desc["digest"]:
            raise AssertionError(f"registry stored {desc['digest']} as {got}")
        return got

    digest = push_manifest(desc, dest_tag or tag)
    _, _, remote = client.get_manifest(repo, dest_tag or tag)
    if remote != digest:
        raise AssertionError(f"pushed {digest}, registry serves {remote}")
    return digest


# --------------------------------------------------------------------------------------------
# skopeo and umoci


def skopeo(*args, check=False, timeout=120, env_extra=None):
    """Run skopeo with an isolated environment: a fresh HOME/XDG dirs (so no user auth file
    or registries config is picked up), removed afterwards, plus env_extra (GNUPGHOME for
    signing). Returns CompletedProcess (text)."""
    if not SKOPEO_BIN:
        raise FileNotFoundError("skopeo is not installed")
    home = tempfile.mkdtemp(prefix="rune-skopeo-")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home,
           "REGISTRY_AUTH_FILE": os.path.join(home, "auth.json"),
           "XDG_RUNTIME_DIR": home, "XDG_CONFIG_HOME": home, **(env_extra or {})}
    argv = [SKOPEO_BIN, *map(str, args)]
    try:
        res = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    if check and res.returncode != 0:
        raise AssertionError(f"{' '.join(argv)}: rc={res.returncode}\n{res.stderr}")
    return res


def _run_skopeo(args, check):
    return skopeo(*args, check=check)


def skopeo_push(image_dir, tag, registry, repo="test/image", dest_tag=None, creds="registry",
                check=True):
    """`skopeo copy --preserve-digests oci:<dir>:<tag> docker://<host>/<repo>:<tag>`.
    creds: "registry" (the registry's own), None (none), or "user:pass"."""
    creds = registry.creds if creds == "registry" else creds
    args = ["copy", "--dest-tls-verify=false", "--preserve-digests"]
    if creds:
        args += ["--dest-creds", creds]
    args += [f"oci:{image_dir}:{tag}", f"docker://{registry.host}/{repo}:{dest_tag or tag}"]
    return _run_skopeo(args, check)


def skopeo_pull(registry, repo, tag, dest_dir, dest_tag=None, creds="registry", check=True,
                extra=()):
    """`skopeo copy docker://<host>/<repo>:<tag> oci:<dest_dir>:<dest_tag or tag>`."""
    creds = registry.creds if creds == "registry" else creds
    args = ["copy", "--src-tls-verify=false", *extra]
    if creds:
        args += ["--src-creds", creds]
    args += [f"docker://{registry.host}/{repo}:{tag}", f"oci:{dest_dir}:{dest_tag or tag}"]
    return _run_skopeo(args, check)


def skopeo_inspect(ref, creds=None, raw=False, check=False, extra=()):
    """`skopeo inspect [--raw] --tls-verify=false [--creds] <ref>` (docker://... or oci:...)."""
    args = ["inspect"]
    if raw:
        args.append("--raw")
    if ref.startswith("docker://"):
        args.append("--tls-verify=false")
        if creds:
            args += ["--creds", creds]
    args += [*extra, ref]
    return _run_skopeo(args, check)


def umoci_unpack(image_dir, tag, dest):
    """`umoci unpack --image <dir>:<tag> <dest>` (as root); return the rootfs path.

    dest must not exist yet; umoci writes dest/config.json, dest/rootfs, and its metadata."""
    if not UMOCI_BIN:
        raise FileNotFoundError("umoci is not installed")
    res = subprocess.run([UMOCI_BIN, "unpack", "--image", f"{image_dir}:{tag}", str(dest)],
                         capture_output=True, text=True, timeout=120)
    if res.returncode != 0:
        raise AssertionError(f"umoci unpack failed: rc={res.returncode}\n{res.stderr}")
    return Path(dest) / "rootfs"


# --------------------------------------------------------------------------------------------
# Comparing trees

Entry = namedtuple("Entry", "type mode uid gid size sha256 target link rdev xattrs")
Entry.__doc__ = """One path of tree_manifest(): type is file/dir/symlink/fifo/char/block/socket;
mode the permission bits (incl. setuid/setgid/sticky); size and sha256 for regular files only;
target for symlinks; link the first path (in sorted order) of the file's hardlink group when
it has more than one link inside the tree, else None; rdev (major, minor) for devices; xattrs
a sorted tuple of (name, value bytes)."""


def _ftype(st):
    m = st.st_mode
    for test, name in ((stat.S_ISREG, "file"), (stat.S_ISDIR, "dir"), (stat.S_ISLNK, "symlink"),
                       (stat.S_ISFIFO, "fifo"), (stat.S_ISCHR, "char"), (stat.S_ISBLK, "block"),
                       (stat.S_ISSOCK, "socket")):
        if test(m):
            return name
    return "?"


def tree_manifest(root, include_root=True, ignore_xattrs=("security.selinux",), with_mtime=False):
    """Describe every path under root: {relative path ("." for root): Entry}.

    Hardlink groups are keyed by inode within the tree and named by their first path in
    sorted order, so two trees with the same link structure compare equal. with_mtime adds
    a trailing mtime (integer seconds) to each entry (as a plain tuple)."""
    root = Path(root)
    stats = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            p = os.path.join(dirpath, name)
            stats[os.path.relpath(p, root)] = os.lstat(p)
    if include_root:
        stats["."] = os.lstat(root)
    groups = {}
    for rel in sorted(stats):
        st = stats[rel]
        if stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
            groups.setdefault((st.st_dev, st.st_ino), []).append(rel)
    out = {}
    for rel in sorted(stats):
        st = stats[rel]
        typ = _ftype(st)
        p = root / rel if rel != "." else root
        size = sha = target = link = rdev = None
        if typ == "file":
            size = st.st_size
            h = hashlib.sha256()
            with open(p, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
            sha = h.hexdigest()
            group = groups.get((st.st_dev, st.st_ino))
            if group and len(group) > 1:
                link = group[0]
        elif typ == "symlink":
            target = os.readlink(p)
        elif typ in ("char", "block"):
            rdev = (os.major(st.st_rdev), os.minor(st.st_rdev))
        xattrs = []
        try:
            for name in os.listxattr(p, follow_symlinks=False):
                if name not in ignore_xattrs:
                    xattrs.append((name, os.getxattr(p, name, follow_symlinks=False)))
        except OSError:
            pass
        e = Entry(typ, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, size, sha, target, link,
                  rdev, tuple(sorted(xattrs)))
        out[rel] = tuple(e) + (int(st.st_mtime),) if with_mtime else e
    return out


def diff_trees(a, b):
    """Human-readable differences between two tree_manifest() results ([] when equal)."""
    lines = []
    for path in sorted(set(a) | set(b)):
        if path not in a:
            lines.append(f"+ {path}: {b[path]}")
        elif path not in b:
            lines.append(f"- {path}: {a[path]}")
        elif a[path] != b[path]:
            lines.append(f"! {path}: {a[path]} != {b[path]}")
    return lines
