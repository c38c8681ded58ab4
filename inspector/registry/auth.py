"""Challenge-driven registry authentication: Basic, Bearer tokens, identity (refresh) tokens.

Nothing is configured per registry. A request goes out with what is known for its host
(nothing, Basic, or a cached Bearer token for its scope); a 401 carries a
`WWW-Authenticate` challenge that says what to do next:

* `Basic realm=…` → send the credential as Basic (only if there is one);
* `Bearer realm=…,service=…,scope=…` → get a token from the realm: with an identity
  token by the OAuth2 refresh-token grant (POST), else by GET with the credential as
  Basic, or anonymously when there is none (public images on Docker Hub, ghcr.io, quay.io).

Tokens are cached per (realm, service, scope) until shortly before they expire; a cached
token the registry refuses (it expired mid-pull) is dropped and fetched again once.
Errors name where a credential came from, never the credential.
"""

from __future__ import annotations

import math
import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from inspector import documents
from inspector.errors import AuthenticationError, ManifestError, RegistryError
from inspector.registry.credentials import Credential
from inspector.registry.reference import is_loopback_host

DEFAULT_EXPIRES_IN = 60
MAX_EXPIRES_IN = 24 * 3600  # a token is kept at most a day, whatever it claims
CLIENT_ID = "inspector"
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_SPACE = re.compile(r"[ \t]*")


@dataclass(frozen=True, slots=True)
class Challenge:
    """One `WWW-Authenticate` challenge: a lowercased scheme and its parameters."""

    scheme: str
    params: Mapping[str, str] = field(default_factory=dict)


def parse_challenges(values: list[str]) -> list[Challenge]:
    """Parse `WWW-Authenticate` header values (RFC 9110 §11.6.1).

    Quoted values may hold commas and escaped quotes (`scope="repository:a/b:pull,push"`),
    and one header may hold several challenges. Anything unparsable is skipped.
    """
    found: list[tuple[str, dict[str, str]]] = []
    for value in values:
        pos = 0
        while True:
            while pos < len(value) and value[pos] in " \t,":
                pos += 1
            if pos >= len(value):
                break
            match = _TOKEN.match(value, pos)
            if match is None:
                pos += 1
                continue
            name = match.group(0)
            after = _SPACE.match(value, match.end())
            equals = after.end() if after else match.end()
            if found and equals < len(value) and value[equals] == "=":
                found[-1][1][name.lower()], pos = _param_value(value, equals + 1)
            else:
                found.append((name.lower(), {}))
                pos = match.end()
    return [Challenge(scheme, params) for scheme, params in found]


def _param_value(value: str, pos: int) -> tuple[str, int]:
    pos = _SPACE.match(value, pos).end()  # type: ignore[union-attr]
    if pos < len(value) and value[pos] == '"':
        out: list[str] = []
        pos += 1
        while pos < len(value):
            char = value[pos]
            if char == "\\" and pos + 1 < len(value):
                out.append(value[pos + 1])
                pos += 2
                continue
            if char == '"':
                return "".join(out), pos + 1
            out.append(char)
            pos += 1
        return "".join(out), pos
    match = _TOKEN.match(value, pos)
    if match is None:
        return "", pos
    return match.group(0), match.end()


class TokenResponse(Protocol):
    """What the auth code needs of an HTTP response."""

    @property
    def status_code(self) -> int: ...

    @property
    def content(self) -> bytes: ...


class TokenTransport(Protocol):
    """Sends a request to a token realm (with the client's retries and TLS settings)."""

    def __call__(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        data: Mapping[str, str] | None = None,
    ) -> TokenResponse: ...


@dataclass(slots=True)
class _Token:
    value: str
    expires_at: float


class Authenticator:
    """Per-registry authentication state, shared by the threads that pull from it."""

    def __init__(
        self,
        registry: str,
        credential: Credential | None,
        transport: TokenTransport,
        *,
        label: str = "",
        allow_insecure_realm: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.registry = registry
        # Messages start with what the user typed, like every other error.
        self._who = f"{label}: {registry}" if label else registry
        self.credential = credential
        self._transport = transport
        self._allow_insecure_realm = allow_insecure_realm
        self._clock = clock
        self._lock = threading.Lock()
        self._scheme: str | None = None
        self._bearer: Mapping[str, str] = {}
        self._tokens: dict[tuple[str, str, str], _Token] = {}
        self.token_requests = 0

    # --- what to send --------------------------------------------------------------
    def header(self, scope: str) -> str | None:
        """The Authorization header for a request needing `scope`, or None (anonymous)."""
        with self._lock:
            scheme = self._scheme
        if scheme == "basic" and self.credential is not None:
            return self.credential.basic()
        if scheme == "bearer":
            return "Bearer " + self._token(scope, fresh=False)
        return None

    def learn(self, challenges: list[Challenge]) -> None:
        """Remember how the registry wants to be addressed (from the `/v2/` probe)."""
        bearer = _find(challenges, "bearer")
        basic = _find(challenges, "basic")
        with self._lock:
            if bearer is not None and bearer.params.get("realm"):
                self._scheme, self._bearer = "bearer", dict(bearer.params)
            elif basic is not None and self.credential is not None:
                self._scheme = "basic"

    def challenged(
        self, scope: str, challenges: list[Challenge], sent: str | None, *, retried: bool
    ) -> None:
        """A request was answered 401: get ready to send it again, or raise if that can't help.

        `sent` is the Authorization header the refused request carried; `retried` says the
        request was already sent again once after a 401.
        """
        bearer = _find(challenges, "bearer")
        basic = _find(challenges, "basic")
        if bearer is not None and bearer.params.get("realm"):
            with self._lock:
                self._scheme, self._bearer = "bearer", dict(bearer.params)
            if sent is not None and sent.startswith("Bearer "):
                if retried or bearer.params.get("error") == "insufficient_scope":
                    raise self._denied(scope)
                rejected = sent.removeprefix("Bearer ")
                with self._lock:
                    key = self._key(scope)
                    cached = self._tokens.get(key)
                    if cached is not None and cached.value == rejected:
                        del self._tokens[key]  # it expired mid-pull (or was revoked)
            self._token(scope, fresh=False)
            return
        if basic is not None:
            if self.credential is None or not self.credential.has_password:
                raise AuthenticationError(
                    f"{self._who} requires a user name and password and none were found "
                    "(use --creds USER:PASSWORD, INSPECTOR_REGISTRY_CREDS, `docker login` "
                    "or `podman login`)"
                )
            if sent is not None and sent.startswith("Basic "):
                raise AuthenticationError(
                    f"{self._who} rejected the user name and password from "
                    f"{self.credential.source}: wrong user name or password"
                )
            with self._lock:
                self._scheme = "basic"
            return
        schemes = ", ".join(sorted({c.scheme for c in challenges})) or "none given"
        raise AuthenticationError(
            f"{self._who} asks for an authentication scheme inspector does not support ({schemes})"
        )

    def _denied(self, scope: str) -> AuthenticationError:
        repository = scope.split(":")[1] if scope.count(":") >= 2 else scope
        if self.credential is None:
            return AuthenticationError(
                f"{self._who}: access to {repository} denied: the repository does not "
                "exist or needs credentials (use --creds USER:PASSWORD, "
                "INSPECTOR_REGISTRY_CREDS, `docker login` or `podman login`)"
            )
        return AuthenticationError(
            f"{self._who}: access to {repository} denied for the credentials from "
            f"{self.credential.source}: the repository does not exist or they may not pull it"
        )

    # --- tokens ----------------------------------------------------------------------
    def _key(self, scope: str) -> tuple[str, str, str]:
        return self._bearer.get("realm", ""), self._bearer.get("service", ""), scope

    def _token(self, scope: str, *, fresh: bool) -> str:
        with self._lock:
            key = self._key(scope)
            cached = self._tokens.get(key)
            if cached is not None and not fresh and self._clock() < cached.expires_at:
                return cached.value
            params = dict(self._bearer)
        # Fetched outside the lock: another thread may fetch the same token meanwhile,
        # which costs one request and no harm.
        token = self._fetch(params, scope)
        with self._lock:
            self._tokens[key] = token
        return token.value

    def _fetch(self, params: Mapping[str, str], scope: str) -> _Token:
        realm = params["realm"]
        parsed = urllib.parse.urlsplit(realm)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise AuthenticationError(f"{self._who}: token realm {realm!r} is not a URL")
        credential = self.credential
        if (
            parsed.scheme == "http"
            and credential is not None
            and not is_loopback_host(parsed.hostname)
            and not self._allow_insecure_realm
        ):
            raise AuthenticationError(
                f"{self._who}: the token service {parsed.hostname} uses plain HTTP; "
                "refusing to send credentials there (--tls-verify=false allows it)"
            )
        service = params.get("service", "")
        scopes = [scope]
        offered = params.get("scope", "")
        if offered and offered != scope:
            scopes.append(offered)
        self.token_requests += 1
        if credential is not None and credential.identity_token:
            form = {
                "grant_type": "refresh_token",
                "refresh_token": credential.identity_token,
                "service": service,
                "client_id": CLIENT_ID,
                "scope": " ".join(scopes),
            }
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
            response = self._transport("POST", realm, headers=headers, data=form)
            if response.status_code not in (404, 405):
                return self._parse(response, credential, scope)
            # A token server without the OAuth2 endpoint: fall back to the GET flow.
        query: list[tuple[str, str]] = []
        if service:
            query.append(("service", service))
        query.extend(("scope", s) for s in scopes)
        headers = {}
        if credential is not None and credential.has_password:
            headers["Authorization"] = credential.basic()
        url = _with_query(realm, query)
        response = self._transport("GET", url, headers=headers)
        return self._parse(response, credential, scope)

    def _parse(self, response: TokenResponse, credential: Credential | None, scope: str) -> _Token:
        status = response.status_code
        if status in (401, 403):
            if credential is None:
                raise self._denied(scope)
            raise AuthenticationError(
                f"{self._who}: the token service rejected the credentials from "
                f"{credential.source}: wrong user name, password or token"
            )
        if status != 200:
            raise RegistryError(f"{self._who}: the token service answered HTTP {status}")
        try:
            doc: Any = documents.load(response.content, "token", documents.SMALL)
        except ManifestError:
            raise RegistryError(f"{self._who}: the token service sent invalid JSON") from None
        if not isinstance(doc, dict):
            raise RegistryError(f"{self._who}: the token service sent no token")
        value = doc.get("token") or doc.get("access_token")
        if not isinstance(value, str) or not value:
            raise RegistryError(f"{self._who}: the token service sent no token")
        expires_in = doc.get("expires_in")
        if not isinstance(expires_in, int | float) or not 0 < expires_in < math.inf:
            expires_in = DEFAULT_EXPIRES_IN
        expires_in = min(expires_in, MAX_EXPIRES_IN)
        # Renew a little early, so a token does not run out between check and use.
        margin = min(10.0, expires_in / 10)
        return _Token(value, self._clock() + expires_in - margin)


def _find(challenges: list[Challenge], scheme: str) -> Challenge | None:
    for challenge in challenges:
        if challenge.scheme == scheme:
            return challenge
    return None


def _with_query(url: str, query: list[tuple[str, str]]) -> str:
    parts = urllib.parse.urlsplit(url)
    existing = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    encoded = urllib.parse.urlencode(existing + query)
    return urllib.parse.urlunsplit(parts._replace(query=encoded))
