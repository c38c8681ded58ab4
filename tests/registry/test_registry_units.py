"""The registry client's pure parts: references, challenges, the token cache, credential files."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

import inspector.registry.client as client_module
from inspector.digest import Digest
from inspector.errors import AuthenticationError, RegistryError, UsageError
from inspector.registry.auth import Authenticator, Challenge, parse_challenges
from inspector.registry.client import ClientOptions, RegistryClient
from inspector.registry.credentials import Credential, CredentialStore, parse_user_password
from inspector.registry.download import BlobStream
from inspector.registry.reference import ImageReference, parse_reference

DIGEST = "sha256:" + "ab" * 32

# ------------------------------------------------------------------------ references


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag", "digest"),
    [
        ("nginx", "docker.io", "library/nginx", "latest", None),
        ("nginx:1.27", "docker.io", "library/nginx", "1.27", None),
        ("docker://nginx:1.27", "docker.io", "library/nginx", "1.27", None),
        ("//nginx", "docker.io", "library/nginx", "latest", None),
        ("user/app", "docker.io", "user/app", "latest", None),
        ("docker.io/nginx", "docker.io", "library/nginx", "latest", None),
        ("index.docker.io/library/nginx:x", "docker.io", "library/nginx", "x", None),
        ("ghcr.io/org/team/app:v1", "ghcr.io", "org/team/app", "v1", None),
        ("localhost/app", "localhost", "app", "latest", None),
        ("localhost:5000/a/b:c", "localhost:5000", "a/b", "c", None),
        ("127.0.0.1:5000/app", "127.0.0.1:5000", "app", "latest", None),
        ("[::1]:5000/app:t", "[::1]:5000", "app", "t", None),
        (f"nginx@{DIGEST}", "docker.io", "library/nginx", None, DIGEST),
        (f"quay.io/a/b:t@{DIGEST}", "quay.io", "a/b", "t", DIGEST),
        ("a.b/c__d-e.f/g--h:T_1.x-y", "a.b", "c__d-e.f/g--h", "T_1.x-y", None),
    ],
)
def test_parse_reference(
    text: str, registry: str, repository: str, tag: str | None, digest: str | None
) -> None:
    ref = parse_reference(text)
    assert ref == ImageReference(
        registry, repository, tag, Digest.parse(digest) if digest else None
    )


def test_docker_hub_is_served_from_registry_1() -> None:
    ref = parse_reference("nginx:1.27")
    assert ref.api_host == "registry-1.docker.io"
    assert ref.familiar == "nginx:1.27"
    assert str(ref) == "docker.io/library/nginx:1.27"
    assert ref.scope == "repository:library/nginx:pull"
    assert not ref.is_loopback


@pytest.mark.parametrize(
    ("text", "loopback"),
    [("localhost:1/a", True), ("127.0.0.2:1/a", True), ("[::1]:1/a", True), ("10.0.0.1/a", False)],
)
def test_loopback(text: str, loopback: bool) -> None:
    assert parse_reference(text).is_loopback is loopback


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "no image name"),
        ("Nginx", "must be lowercase"),
        ("ghcr.io/Org/app", "must be lowercase"),
        ("a/-b", "is not valid"),
        ("nginx:-bad", "not a valid tag"),
        ("nginx@sha256:abc", "not a valid digest"),
        ("bad_host.io:x:/a", "not a valid"),
    ],
)
def test_bad_references(text: str, problem: str) -> None:
    with pytest.raises(UsageError, match=problem):
        parse_reference(text)


# ------------------------------------------------------------------------ challenges


def test_challenges() -> None:
    header = (
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
        'scope="repository:samalba/my-app:pull,push"'
    )
    assert parse_challenges([header]) == [
        Challenge(
            "bearer",
            {
                "realm": "https://auth.docker.io/token",
                "service": "registry.docker.io",
                "scope": "repository:samalba/my-app:pull,push",
            },
        )
    ]
    several = parse_challenges(['Basic realm="a, b", BEARER realm=x , error="insufficient_scope"'])
    assert several == [
        Challenge("basic", {"realm": "a, b"}),
        Challenge("bearer", {"realm": "x", "error": "insufficient_scope"}),
    ]
    assert parse_challenges(['Basic realm="q\\"uote"']) == [Challenge("basic", {"realm": 'q"uote'})]
    assert parse_challenges(["", ",,", "Negotiate"]) == [Challenge("negotiate", {})]


# ------------------------------------------------------------------------ token cache


@dataclass
class FakeResponse:
    status_code: int
    content: bytes


class FakeTokenService:
    def __init__(self, expires_in: int = 60) -> None:
        self.calls: list[tuple[str, str, dict[str, str]]] = []
        self.expires_in = expires_in

    def __call__(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        data: Mapping[str, str] | None = None,
    ) -> FakeResponse:
        self.calls.append((method, url, dict(headers)))
        body = {"token": f"t{len(self.calls)}", "expires_in": self.expires_in}
        return FakeResponse(200, json.dumps(body).encode())


BEARER = [Challenge("bearer", {"realm": "https://auth.example/token", "service": "reg"})]


def test_tokens_are_cached_per_scope_and_renewed_before_expiry() -> None:
    now = [1000.0]
    service = FakeTokenService(expires_in=60)
    auth = Authenticator("reg.example", None, service, clock=lambda: now[0])
    auth.learn(BEARER)
    assert auth.header("repository:a:pull") == "Bearer t1"
    assert auth.header("repository:a:pull") == "Bearer t1"
    assert auth.header("repository:b:pull") == "Bearer t2"  # another scope, another token
    now[0] += 55  # within the renewal margin (6 s) of a 60 s token
    assert auth.header("repository:a:pull") == "Bearer t3"
    assert len(service.calls) == 3
    method, url, headers = service.calls[0]
    assert method == "GET"
    assert url == "https://auth.example/token?service=reg&scope=repository%3Aa%3Apull"
    assert "Authorization" not in headers


def test_a_refused_cached_token_is_replaced_once() -> None:
    service = FakeTokenService()
    auth = Authenticator("reg.example", None, service)
    auth.learn(BEARER)
    sent = auth.header("repository:a:pull")
    auth.challenged("repository:a:pull", BEARER, sent, retried=False)
    assert auth.header("repository:a:pull") == "Bearer t2"
    with pytest.raises(AuthenticationError, match="needs credentials"):
        auth.challenged("repository:a:pull", BEARER, "Bearer t2", retried=True)


class HostileTokenService(FakeTokenService):
    def __init__(self, body: bytes) -> None:
        super().__init__()
        self.body = body

    def __call__(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        data: Mapping[str, str] | None = None,
    ) -> FakeResponse:
        self.calls.append((method, url, dict(headers)))
        return FakeResponse(200, self.body)


@pytest.mark.parametrize(
    "expires_in", [b"1" + b"0" * 400, b"1e400", b"-5", b"true", b'"60"', b"0.0001"]
)
def test_any_expires_in_gives_a_token_kept_at_most_a_day(expires_in: bytes) -> None:
    now = [1000.0]
    service = HostileTokenService(b'{"token": "t", "expires_in": ' + expires_in + b"}")
    auth = Authenticator("reg.example", None, service, clock=lambda: now[0])
    auth.learn(BEARER)
    assert auth.header("repository:a:pull") == "Bearer t"
    now[0] += 24 * 3600
    auth.header("repository:a:pull")
    assert len(service.calls) == 2  # renewed after a day at the latest


@pytest.mark.parametrize(
    "body",
    [b"[" * 100_000 + b"]" * 100_000, b'{"token": NaN}', b"\xff" * 10, b"[]"],
    ids=["deep", "nan", "not-utf8", "list"],
)
def test_a_hostile_token_answer_is_a_registry_error(body: bytes) -> None:
    auth = Authenticator("reg.example", None, HostileTokenService(body))
    auth.learn(BEARER)
    with pytest.raises(RegistryError, match="the token service sent"):
        auth.header("repository:a:pull")


@pytest.mark.parametrize(
    "body", [b"[" * 100_000, b'{"errors": ' + b"[" * 70 + b"]" * 70 + b"}", b"NaN"]
)
def test_a_hostile_error_body_is_ignored(body: bytes) -> None:
    assert client_module._error_details(body) == ([], "")


def test_credentials_go_to_the_token_service_as_basic() -> None:
    service = FakeTokenService()
    credential = Credential("me", "pw", source="--creds")
    auth = Authenticator("reg.example", credential, service)
    auth.learn(BEARER)
    auth.header("repository:a:pull")
    assert service.calls[0][2]["Authorization"] == "Basic " + base64.b64encode(b"me:pw").decode()


def test_no_credentials_over_plain_http_to_another_host() -> None:
    service = FakeTokenService()
    auth = Authenticator("reg.example", Credential("me", "pw", source="x"), service)
    auth.learn([Challenge("bearer", {"realm": "http://auth.example/token"})])
    with pytest.raises(AuthenticationError, match="plain HTTP"):
        auth.header("repository:a:pull")
    assert service.calls == []


def test_credential_repr_hides_secrets() -> None:
    credential = parse_user_password("alice:hunter2", "--creds")
    assert "hunter2" not in repr(credential)
    assert "alice" not in repr(credential)
    assert "hunter2" not in str(Credential("a", "", "tok-hunter2"))


# ------------------------------------------------------------------------ credential files


def entry(user: str, password: str) -> dict[str, str]:
    return {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}


def write(path: Path, doc: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))


def test_docker_hub_key_and_aliases(tmp_path: Path) -> None:
    write(
        tmp_path / ".docker/config.json",
        {"auths": {"https://index.docker.io/v1/": entry("u", "p")}},
    )
    store = CredentialStore({"HOME": str(tmp_path)})
    found = store.lookup("docker.io", "library/nginx")
    assert found is not None
    assert (found.username, found.password) == ("u", "p")
    assert store.lookup("ghcr.io", "a/b") is None


def test_auth_file_order(tmp_path: Path) -> None:
    runtime = tmp_path / "run"
    write(runtime / "containers/auth.json", {"auths": {"r.io": entry("podman", "1")}})
    write(tmp_path / ".docker/config.json", {"auths": {"r.io": entry("docker", "2")}})
    write(tmp_path / ".dockercfg", {"r.io": entry("legacy", "3")})
    env = {"HOME": str(tmp_path), "XDG_RUNTIME_DIR": str(runtime)}
    assert CredentialStore(env).lookup("r.io", "x") == Credential(
        "podman", "1", source=str(runtime / "containers/auth.json")
    )
    (runtime / "containers/auth.json").unlink()
    found = CredentialStore(env).lookup("r.io", "x")
    assert found is not None
    assert found.username == "docker"
    (tmp_path / ".docker/config.json").unlink()
    found = CredentialStore(env).lookup("r.io", "x")
    assert found is not None
    assert found.username == "legacy"
    # REGISTRY_AUTH_FILE, when set, is the only file read.
    assert (
        CredentialStore({**env, "REGISTRY_AUTH_FILE": str(tmp_path / "none.json")}).lookup(
            "r.io", "x"
        )
        is None
    )


def test_namespaced_keys_longest_match(tmp_path: Path) -> None:
    path = tmp_path / "auth.json"
    write(
        path,
        {
            "auths": {
                "r.io": entry("host", "1"),
                "r.io/org": entry("org", "2"),
                "r.io/org/team": entry("team", "3"),
            }
        },
    )
    store = CredentialStore({"REGISTRY_AUTH_FILE": str(path)})
    names = {
        repo: (found.username if (found := store.lookup("r.io", repo)) else None)
        for repo in ("other/x", "org/x", "org/team/x", "org/teamster")
    }
    assert names == {"other/x": "host", "org/x": "org", "org/team/x": "team", "org/teamster": "org"}


def test_bad_entries_become_notes_without_secrets(tmp_path: Path) -> None:
    path = tmp_path / "auth.json"
    write(path, {"auths": {"r.io": {"auth": "!!!not-base64-secret"}}, "credsStore": "nope-x"})
    store = CredentialStore({"REGISTRY_AUTH_FILE": str(path), "PATH": ""})
    assert store.lookup("r.io", "x") is None
    notes = " ".join(store.notes)
    assert "not valid base64" in notes
    assert "docker-credential-nope-x is not installed" in notes
    assert "secret" not in notes


def test_environment_variable_beats_files(tmp_path: Path) -> None:
    write(tmp_path / ".docker/config.json", {"auths": {"r.io": entry("file", "1")}})
    store = CredentialStore({"HOME": str(tmp_path), "INSPECTOR_REGISTRY_CREDS": "env:2"})
    assert store.lookup("r.io", "x") == Credential("env", "2", source="INSPECTOR_REGISTRY_CREDS")


# ------------------------------------------------------------------------ blob streams


def test_resume_without_range_support_skips_what_it_has() -> None:
    """A server that ignores Range (200 instead of 206) is read past the bytes already got."""
    blob = bytes(range(256)) * 1000
    digest = Digest.sha256_of(blob)
    calls: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v2/":
            return httpx.Response(200)
        calls.append(request.headers.get("range"))
        if len(calls) == 1:  # the first answer breaks off after 1000 bytes
            return httpx.Response(200, stream=_Breaking(blob[:1000]))
        return httpx.Response(200, stream=_Whole(blob))

    ref = parse_reference("127.0.0.1:1/app:1")
    options = ClientOptions(backoff=0.01)
    with RegistryClient(ref, transport=httpx.MockTransport(handler), options=options) as client:
        stream = BlobStream(client, digest, len(blob), "blob")
        got = b"".join(iter(lambda: stream.read(777), b""))
    assert got == blob
    assert calls == [None, "bytes=1000-"]


class _Breaking(httpx.SyncByteStream):
    def __init__(self, data: bytes) -> None:
        self.data = data

    def __iter__(self) -> Iterator[bytes]:
        yield self.data
        raise httpx.ReadError("connection reset")


class _Whole(httpx.SyncByteStream):
    def __init__(self, data: bytes) -> None:
        self.data = data

    def __iter__(self) -> Iterator[bytes]:
        yield self.data
