"""Real registries on loopback for the registry source's tests, and small servers around them.

* `RegistryServer`: Debian's `docker-registry` (distribution 2.8) on 127.0.0.1, no auth,
  htpasswd Basic auth, or token auth; started in the foreground with its own config and
  storage directory, stopped (or killed) by its pid. `push` copies images into it with
  skopeo.
* `TokenServer`: a test token service minting ES256 JWTs the registry verifies (kid = the
  libtrust fingerprint of the key). Anonymous pulls are allowed from `public/…`;
  users with the right password get pull and push everywhere; refresh tokens work with
  the OAuth2 POST grant. It records every request.
* `Front`: a forwarding proxy in front of a registry that can answer blob GETs with a
  307 to a second server on 127.0.0.2 (which records the headers it gets), and can inject
  429/503 answers.
* `ConnectProxy`: an HTTP proxy (CONNECT and absolute-form requests) that sends every
  connection to one loopback port, for HTTPS_PROXY/HTTP_PROXY tests.
* `SlowRegistry`: a registry of its own (no tools needed) serving one image, whose
  manifest, token answer or layer blob it can trickle a few bytes at a time, send its
  headers byte by byte, or go silent, for the deadline and stall tests.

Every wait is bounded; everything listens on loopback only.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
SKOPEO_TIMEOUT = 120.0
USER = "inspector"
PASSWORD = "s3cret-Pa55word"


class Unavailable(Exception):
    """A tool the registry tests need is missing (the text says which)."""


def require_tools() -> None:
    missing = [t for t in ("docker-registry", "skopeo", "htpasswd") if shutil.which(t) is None]
    if missing:
        raise Unavailable(
            f"missing {', '.join(missing)} (apt-get install docker-registry skopeo apache2-utils)"
        )


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


# ------------------------------------------------------------------------- the registry


@dataclass
class RegistryServer:
    """One `docker-registry serve` process with its own directory."""

    directory: Path
    auth: dict[str, Any] | None = None
    creds: str | None = None
    tls: tuple[Path, Path] | None = None
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    pushed: dict[str, str] = field(default_factory=dict)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def storage(self) -> Path:
        return self.directory / "storage"

    def blob_file(self, digest: str) -> Path:
        hex_ = digest.removeprefix("sha256:")
        return self.storage / "docker/registry/v2/blobs/sha256" / hex_[:2] / hex_ / "data"

    def start(self) -> RegistryServer:
        self.directory.mkdir(parents=True, exist_ok=True)
        log = self.directory / "registry.log"
        for _ in range(5):  # a port taken between free_port() and bind: try another
            self.port = free_port()
            config: dict[str, Any] = {
                "version": 0.1,
                "log": {"level": "warn", "accesslog": {"disabled": True}},
                "storage": {
                    "filesystem": {"rootdirectory": str(self.storage)},
                    "delete": {"enabled": True},
                },
                "http": {"addr": self.host, "secret": "inspector-tests"},
            }
            if self.auth:
                config["auth"] = self.auth
            if self.tls:
                config["http"]["tls"] = {
                    "certificate": str(self.tls[0]),
                    "key": str(self.tls[1]),
                }
            path = self.directory / "config.yml"
            path.write_text(json.dumps(config))  # JSON is YAML
            with open(log, "ab") as out:
                self.process = subprocess.Popen(
                    ["docker-registry", "serve", str(path)],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
            if self._wait_ready():
                return self
            self.stop()
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        raise RuntimeError(f"docker-registry did not start:\n{tail}")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                return False
            scheme = "https" if self.tls else "http"
            try:
                httpx.get(f"{scheme}://{self.host}/v2/", timeout=1.0, verify=False)
                return True
            except httpx.HTTPError:
                time.sleep(0.05)
        return False

    def kill(self) -> None:
        """SIGKILL, the way a crashed registry goes."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(STOP_TIMEOUT)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()

    def push(
        self, source: str, repo_tag: str, *, all_images: bool = False, preserve: bool = True
    ) -> str:
        """`skopeo copy` SOURCE to this registry; returns `host/repo:tag`.

        With `preserve` the blobs stay as they are (skopeo would otherwise gzip plain
        layers); without it, skopeo compresses like `docker push`.
        """
        target = f"{self.host}/{repo_tag}"
        key = f"{source} preserve={preserve}"
        if self.pushed.get(target) == key:
            return target
        command = ["skopeo", "copy", "--quiet", "--dest-tls-verify=false"]
        if preserve:
            command.append("--preserve-digests")
        if self.creds:
            command += ["--dest-creds", self.creds]
        if all_images:
            command.append("--all")
        env = {**os.environ, "REGISTRY_AUTH_FILE": str(self.directory / "no-auth.json")}
        result = subprocess.run(
            [*command, source, f"docker://{target}"],
            capture_output=True,
            text=True,
            timeout=SKOPEO_TIMEOUT,
            check=False,
            env=env,
        )
        if result.returncode != 0:
            raise RuntimeError(f"skopeo copy {source} → {target} failed: {result.stderr}")
        self.pushed[target] = key
        return target


def htpasswd_auth(directory: Path, user: str = USER, password: str = PASSWORD) -> dict[str, Any]:
    """An `auth.htpasswd` config with a bcrypt entry made by htpasswd(1)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "htpasswd"
    result = subprocess.run(
        ["htpasswd", "-Bbn", user, password], capture_output=True, text=True, check=True, timeout=30
    )
    path.write_text(result.stdout)
    return {"htpasswd": {"realm": "inspector-tests", "path": str(path)}}


# ---------------------------------------------------------------------- token service


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def libtrust_kid(public_der: bytes) -> str:
    """The key id distribution expects: base32 of 30 bytes of sha256(SPKI), in 4s."""
    digest = base64.b32encode(hashlib.sha256(public_der).digest()[:30]).decode().rstrip("=")
    return ":".join(digest[i : i + 4] for i in range(0, 48, 4))


@dataclass
class TokenRequest:
    method: str
    grant_type: str
    user: str | None
    scopes: list[str]
    status: int


class TokenServer:
    """A token service for distribution's `auth.token`, on 127.0.0.1."""

    SERVICE = "inspector-test-registry"
    ISSUER = "inspector-test-issuer"

    def __init__(self, directory: Path, users: dict[str, str] | None = None) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        self.users = dict(users or {USER: PASSWORD})
        self.refresh_tokens: dict[str, str] = {}
        self.requests: list[TokenRequest] = []
        self.stale_tokens = 0  # the next N tokens are issued already expired
        self.expires_in = 300
        self._key = ec.generate_private_key(ec.SECP256R1())
        public_der = self._key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.kid = libtrust_kid(public_der)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "inspector test tokens")])
        now = time.time()
        import datetime

        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(datetime.datetime.fromtimestamp(now - 3600, datetime.UTC))
            .not_valid_after(datetime.datetime.fromtimestamp(now + 86400, datetime.UTC))
            .sign(self._key, hashes.SHA256())
        )
        directory.mkdir(parents=True, exist_ok=True)
        self.bundle = directory / "token-cert.pem"
        self.bundle.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self._hashes = hashes
        self._ec = ec
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()

    @property
    def realm(self) -> str:
        return f"http://127.0.0.1:{self.port}/token"

    def registry_auth(self) -> dict[str, Any]:
        return {
            "token": {
                "realm": self.realm,
                "service": self.SERVICE,
                "issuer": self.ISSUER,
                "rootcertbundle": str(self.bundle),
            }
        }

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def issue_refresh_token(self, user: str) -> str:
        token = secrets.token_urlsafe(24)
        self.refresh_tokens[token] = user
        return token

    def _sign(self, user: str | None, scopes: list[str]) -> str:
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

        access = []
        for scope in scopes:
            parts = scope.split(":")
            if len(parts) != 3 or parts[0] != "repository":
                continue
            name, wanted = parts[1], parts[2].split(",")
            allowed = (
                {"pull", "push"} if user else ({"pull"} if name.startswith("public/") else set())
            )
            granted = [a for a in wanted if a in allowed]
            if granted:
                access.append({"type": "repository", "name": name, "actions": granted})
        now = int(time.time())
        expires = now + self.expires_in
        if self.stale_tokens > 0:
            self.stale_tokens -= 1
            expires = now - 600  # long past distribution's clock-skew leeway
        header = {"typ": "JWT", "alg": "ES256", "kid": self.kid}
        claims = {
            "iss": self.ISSUER,
            "sub": user or "",
            "aud": self.SERVICE,
            "exp": expires,
            "nbf": now - 900,
            "iat": now - 900,
            "jti": secrets.token_hex(8),
            "access": access,
        }
        signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        der = self._key.sign(signing_input.encode(), self._ec.ECDSA(self._hashes.SHA256()))
        r, s = decode_dss_signature(der)
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return f"{signing_input}.{_b64(signature)}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _answer(self, status: int, doc: dict[str, Any]) -> None:
                body = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _basic_user(self) -> tuple[str | None, bool]:
                header = self.headers.get("Authorization", "")
                if not header.startswith("Basic "):
                    return None, True
                user, _, password = base64.b64decode(header[6:]).decode().partition(":")
                return user, server.users.get(user) == password

            def do_GET(self) -> None:
                query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                scopes = [s for value in query.get("scope", []) for s in value.split(" ")]
                user, ok = self._basic_user()
                record = TokenRequest("GET", "", user, scopes, 200)
                server.requests.append(record)
                if not ok:
                    record.status = 401
                    self._answer(401, {"details": "invalid credentials"})
                    return
                doc: dict[str, Any] = {
                    "token": server._sign(user, scopes),
                    "expires_in": server.expires_in,
                }
                if user and query.get("offline_token") == ["true"]:
                    doc["refresh_token"] = server.issue_refresh_token(user)
                self._answer(200, doc)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = urllib.parse.parse_qs(self.rfile.read(length).decode())
                grant = form.get("grant_type", [""])[0]
                scopes = [s for value in form.get("scope", []) for s in value.split(" ")]
                record = TokenRequest("POST", grant, None, scopes, 200)
                server.requests.append(record)
                if grant != "refresh_token":
                    record.status = 400
                    self._answer(400, {"error": "unsupported_grant_type"})
                    return
                user = server.refresh_tokens.get(form.get("refresh_token", [""])[0])
                record.user = user
                if user is None:
                    record.status = 401
                    self._answer(401, {"error": "invalid_grant"})
                    return
                self._answer(
                    200,
                    {
                        "access_token": server._sign(user, scopes),
                        "expires_in": server.expires_in,
                        "scope": " ".join(scopes),
                    },
                )

        return Handler


# ---------------------------------------------------------------- servers in front


@dataclass
class Seen:
    """A request a test server received."""

    method: str
    path: str
    host: str
    authorization: str | None


class _Server:
    """A ThreadingHTTPServer on a loopback address, run on a daemon thread."""

    def __init__(self, address: str, handler: type[BaseHTTPRequestHandler]) -> None:
        self.server = ThreadingHTTPServer((address, 0), handler)
        self.server.daemon_threads = True
        self.address = address
        self.port = int(self.server.server_address[1])
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def host(self) -> str:
        return f"{self.address}:{self.port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Front:
    """Forwards requests to `upstream`; can redirect blob GETs to 127.0.0.2 and inject faults.

    `faults` is a list of (path substring, status, Retry-After or None): each matching
    request takes the first matching fault off the list and is answered with it.
    """

    def __init__(self, upstream: RegistryServer, *, redirect_blobs: bool = False) -> None:
        self.upstream = upstream
        self.redirect_blobs = redirect_blobs
        self.faults: list[tuple[str, int, str | None]] = []
        self.seen: list[Seen] = []
        self.blob_seen: list[Seen] = []
        self._lock = threading.Lock()
        self._client = httpx.Client(timeout=30.0)
        self.front = _Server("127.0.0.1", self._front_handler())
        self.blobs = _Server("127.0.0.2", self._blob_handler())

    @property
    def host(self) -> str:
        return self.front.host

    def close(self) -> None:
        self.front.close()
        self.blobs.close()
        self._client.close()

    def _fault(self, path: str) -> tuple[int, str | None] | None:
        with self._lock:
            for i, (part, status, retry_after) in enumerate(self.faults):
                if part in path:
                    del self.faults[i]
                    return status, retry_after
        return None

    def _front_handler(self) -> type[BaseHTTPRequestHandler]:
        front = self

        class Handler(_Forwarder):
            def handle_request(self) -> None:
                front.seen.append(
                    Seen(self.command, self.path, front.host, self.headers.get("Authorization"))
                )
                fault = front._fault(self.path)
                if fault is not None:
                    status, retry_after = fault
                    self.send_response(status)
                    if retry_after is not None:
                        self.send_header("Retry-After", retry_after)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if front.redirect_blobs and "/blobs/sha256:" in self.path:
                    digest = self.path.rsplit("/", 1)[1]
                    name = self.path.split("/v2/", 1)[1].rsplit("/blobs/", 1)[0]
                    target = f"http://{front.blobs.host}/cdn/{digest}?repo={name}&sig=xyz"
                    self.send_response(307)
                    self.send_header("Location", target)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.forward(front._client, f"http://{front.upstream.host}{self.path}")

        return Handler

    def _blob_handler(self) -> type[BaseHTTPRequestHandler]:
        front = self

        class Handler(_Forwarder):
            def handle_request(self) -> None:
                front.blob_seen.append(
                    Seen(
                        self.command, self.path, front.blobs.host, self.headers.get("Authorization")
                    )
                )
                parsed = urllib.parse.urlsplit(self.path)
                digest = parsed.path.rsplit("/", 1)[1]
                repo = urllib.parse.parse_qs(parsed.query)["repo"][0]
                url = f"http://{front.upstream.host}/v2/{repo}/blobs/{digest}"
                headers = {}
                if front.upstream.creds:
                    user, _, password = front.upstream.creds.partition(":")
                    raw = f"{user}:{password}".encode()
                    headers["Authorization"] = "Basic " + base64.b64encode(raw).decode()
                self.forward(front._client, url, extra=headers, keep_auth=False)

        return Handler


class _Forwarder(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "host", "content-length"})

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def handle_request(self) -> None:
        raise NotImplementedError

    def do_GET(self) -> None:
        self.handle_request()

    def do_HEAD(self) -> None:
        self.handle_request()

    def forward(
        self,
        client: httpx.Client,
        url: str,
        *,
        extra: dict[str, str] | None = None,
        keep_auth: bool = True,
    ) -> None:
        headers = {
            k: v
            for k, v in self.headers.items()
            if k.lower() not in self.HOP and (keep_auth or k.lower() != "authorization")
        }
        headers.update(extra or {})
        with client.stream(self.command, url, headers=headers) as response:
            self.send_response(response.status_code)
            for key, value in response.headers.multi_items():
                if key.lower() not in self.HOP:
                    self.send_header(key, value)
            body = b"" if self.command == "HEAD" else response.read()
            length = response.headers.get("content-length", str(len(body)))
            self.send_header("Content-Length", length if self.command == "HEAD" else str(len(body)))
            self.end_headers()
            if body:
                self.wfile.write(body)


class ConnectProxy:
    """An HTTP proxy that sends every connection (CONNECT or plain) to 127.0.0.1:`port`."""

    def __init__(self, port: int) -> None:
        self.target_port = port
        self.seen: list[tuple[str, str]] = []
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self.port = int(self._sock.getsockname()[1])
        self._stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self._stop.set()
        self._sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        conn.settimeout(10)
        with contextlib.suppress(OSError), conn:
            head = b""
            while b"\r\n\r\n" not in head and len(head) < 65536:
                data = conn.recv(4096)
                if not data:
                    return
                head += data
            method, target = head.split(b" ", 2)[:2]
            self.seen.append((method.decode(), target.decode()))
            upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=10)
            with upstream:
                if method == b"CONNECT":
                    conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                else:
                    upstream.sendall(head)
                _pipe(conn, upstream)


def _pipe(a: socket.socket, b: socket.socket) -> None:
    def copy(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)

    other = threading.Thread(target=copy, args=(b, a), daemon=True)
    other.start()
    copy(a, b)
    other.join(15)


# ------------------------------------------------------------------- small helpers


def credential_helper(
    directory: Path, name: str, secrets_by_server: dict[str, tuple[str, str]]
) -> Path:
    """A `docker-credential-NAME` program (Python) that knows `secrets_by_server`.

    It also appends each server URL it is asked about to `NAME.log` beside itself.
    """
    directory.mkdir(parents=True, exist_ok=True)
    program = directory / f"docker-credential-{name}"
    log = directory / f"{name}.log"
    table = json.dumps({k: {"Username": u, "Secret": s} for k, (u, s) in secrets_by_server.items()})
    import sys

    program.write_text(
        f"#!{sys.executable}\n"
        "import json, sys\n"
        f"table = json.loads({table!r})\n"
        "server = sys.stdin.read().strip()\n"
        f"open({str(log)!r}, 'a').write(sys.argv[1] + ' ' + server + '\\n')\n"
        "if sys.argv[1] != 'get' or server not in table:\n"
        "    print('credentials not found in native keychain')\n"
        "    sys.exit(1)\n"
        "print(json.dumps(dict(ServerURL=server, **table[server])))\n"
    )
    program.chmod(0o755)
    return program


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def self_signed_tls(directory: Path, host: str = "127.0.0.1") -> tuple[Path, Path]:
    """A certificate (and its key) for `host`, signed by itself: (cert.pem, key.pem)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_path = directory / "tls-cert.pem"
    key_path = directory / "tls-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


# ---------------------------------------------------------------- a slow registry


@dataclass
class Slowness:
    """How `SlowRegistry` answers the requests whose path contains `part`.

    `headers`: the status line and headers go out one byte per `interval`; else they go
    at once and the body goes `step` bytes per `interval` (`silent`: not at all).
    """

    part: str
    interval: float = 0.2
    step: int = 1
    headers: bool = False
    silent: bool = False


class SlowRegistry:
    """An OCI registry on 127.0.0.1 serving `blobs` and one manifest under `repo:tag`.

    With `token` set, `/v2/` asks for a Bearer token from this same server's `/token`.
    `slow` lists the answers to slow down (see `Slowness`); every other answer is sent
    at once. Trickling stops when the client hangs up or the server is closed.
    """

    def __init__(
        self,
        manifest: bytes,
        blobs: dict[str, bytes],
        *,
        repo: str = "slow/app",
        tag: str = "v1",
        token: bool = False,
    ) -> None:
        self.manifest = manifest
        self.blobs = blobs
        self.repo = repo
        self.tag = tag
        self.token = token
        self.slow: list[Slowness] = []
        self.closed = threading.Event()
        self.server = _Server("127.0.0.1", self._handler())

    @property
    def host(self) -> str:
        return self.server.host

    @property
    def reference(self) -> str:
        return f"{self.host}/{self.repo}:{self.tag}"

    def close(self) -> None:
        self.closed.set()
        self.server.close()

    def _answer(self, path: str, authorized: bool) -> tuple[int, dict[str, str], bytes]:
        prefix = f"/v2/{self.repo}"
        if path.startswith("/token"):
            return 200, {"Content-Type": "application/json"}, b'{"token": "t0ken"}'
        if self.token and not authorized:
            realm = f'Bearer realm="http://{self.host}/token",service="slow"'
            return 401, {"WWW-Authenticate": realm}, b""
        if path == "/v2/":
            return 200, {}, b"{}"
        if path == f"{prefix}/manifests/{self.tag}" or path.endswith(
            "/manifests/" + "sha256:" + hashlib.sha256(self.manifest).hexdigest()
        ):
            digest = "sha256:" + hashlib.sha256(self.manifest).hexdigest()
            media = json.loads(self.manifest).get("mediaType", "")
            return 200, {"Content-Type": media, "Docker-Content-Digest": digest}, self.manifest
        if path.startswith(f"{prefix}/blobs/"):
            digest = path.rsplit("/", 1)[1]
            data = self.blobs.get(digest)
            if data is not None:
                return 200, {"Docker-Content-Digest": digest}, data
        return 404, {"Content-Type": "application/json"}, b'{"errors":[{"code":"NOT_FOUND"}]}'

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        registry = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_HEAD(self) -> None:
                self._serve(body=False)

            def do_GET(self) -> None:
                self._serve(body=True)

            def _serve(self, *, body: bool) -> None:
                status, headers, data = registry._answer(
                    self.path, self.headers.get("Authorization") == "Bearer t0ken"
                )
                slow = next((s for s in registry.slow if s.part in self.path), None)
                head = [f"HTTP/1.1 {status} X\r\n", f"Content-Length: {len(data)}\r\n"]
                head += [f"{k}: {v}\r\n" for k, v in headers.items()]
                raw = "".join([*head, "\r\n"]).encode("latin-1")
                try:
                    if slow is not None and slow.headers:
                        self._trickle(raw, 1, slow.interval)
                    else:
                        self.wfile.write(raw)
                        self.wfile.flush()
                    if not body:
                        return
                    if slow is None:
                        self.wfile.write(data)
                    elif slow.silent:
                        registry.closed.wait(120)
                    else:
                        self._trickle(data, slow.step, slow.interval)
                except OSError:
                    self.close_connection = True  # the client hung up

            def _trickle(self, data: bytes, step: int, interval: float) -> None:
                for start in range(0, len(data), step):
                    if registry.closed.is_set():
                        return
                    self.wfile.write(data[start : start + step])
                    self.wfile.flush()
                    registry.closed.wait(interval)

        return Handler
