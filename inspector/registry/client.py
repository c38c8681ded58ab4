"""A small OCI Distribution API client on httpx: manifests, blobs, auth, retries, redirects.

* The first request probes `GET /v2/` over HTTPS. Plain HTTP is tried after it only for a
  registry on this machine (`localhost`, 127.0.0.0/8, ::1), the way Docker treats them, or
  when TLS verification is switched off (skopeo's `--tls-verify=false`). An untrusted
  certificate is an error, never a reason to fall back to HTTP.
* Every request carries what `Authenticator` knows for the registry, and a 401 is answered
  by its challenge (see `auth.py`).
* Redirects are followed by hand, at most `MAX_REDIRECTS`: a hop to another origin (a CDN,
  a pre-signed storage URL) goes without the Authorization header.
* Connection errors, timeouts, 429 and 5xx are retried with exponential backoff and
  jitter, honouring `Retry-After` (capped), a bounded number of times. A blob download
  that breaks off is resumed with `Range` from the byte it got to.
* Every request for a document (a manifest, an index, a config, a token, the tag list),
  its retries, redirects and token requests included, ends within `timeout` seconds
  (`--timeout`), however slowly the server answers (`deadline.py`); a blob download fails
  when it receives less than `stall_bytes` in `timeout` seconds of waiting.
* `HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY` and `SSL_CERT_FILE` are honoured (httpx's
  environment support); registries on this machine are never proxied, as in Docker.
"""

from __future__ import annotations

import email.utils
import hashlib
import os
import random
import re
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from inspector import __version__, documents
from inspector.digest import Digest
from inspector.errors import (
    AuthenticationError,
    DigestMismatch,
    ImageNotFound,
    InspectorError,
    ManifestError,
    RegistryError,
    SourceNotFound,
)
from inspector.manifest import INDEX_TYPES, MANIFEST_TYPES
from inspector.registry import deadline
from inspector.registry.auth import Authenticator, parse_challenges
from inspector.registry.credentials import Credential
from inspector.registry.reference import ImageReference, is_loopback_host

ACCEPT = ", ".join(
    (
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    )
)
SCHEMA1_TYPES = frozenset(
    {
        "application/vnd.docker.distribution.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v1+prettyjws",
    }
)
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 10
MAX_ERROR_BODY = 64 << 10
MAX_LISTED_TAGS = 10
MAX_TAG_PAGES = 20
MAX_CATALOG_PAGES = 1000
CATALOG_SCOPE = "registry:catalog:*"
DOCKER_CERTS_D = "/etc/docker/certs.d"
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")


@dataclass(frozen=True, slots=True)
class ClientOptions:
    """Timeouts, retries and parallelism; every wait is bounded.

    `timeout`: the most a document request may take in all, and the longest a blob
    download may wait to receive `stall_bytes` (see `deadline.py`).
    """

    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    timeout: float = deadline.DEFAULT
    stall_bytes: int = 64 << 10
    attempts: int = 4
    backoff: float = 0.5
    max_backoff: float = 8.0
    max_retry_after: float = 60.0
    parallel: int = 3


@dataclass(frozen=True, slots=True)
class Manifest:
    """A manifest or index as the registry sent it, verified against its digest."""

    media_type: str
    digest: Digest
    data: bytes


@dataclass(frozen=True, slots=True)
class TokenAnswer:
    """A token service's answer: its status and (for a 200) its body, read within a cap."""

    status_code: int
    content: bytes


class Cancelled(Exception):
    """Another part of the pull failed; this download stops (never shown to a person)."""


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port


def describe(exc: Exception) -> str:
    """An httpx error as a short phrase for a message."""
    text = str(exc).strip()
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out ({text})" if text and text != "timed out" else "timed out"
    return text or type(exc).__name__


def ssl_context(host: str, env: Mapping[str, str] | None = None) -> ssl.SSLContext:
    """Verification against the system's CAs and certifi's, like Docker's daemon.

    `SSL_CERT_FILE` / `SSL_CERT_DIR` replace both; Docker's per-registry
    `/etc/docker/certs.d/HOST[:PORT]/ca.crt` is trusted too when it exists.
    """
    env = os.environ if env is None else env
    cafile, capath = env.get("SSL_CERT_FILE"), env.get("SSL_CERT_DIR")
    if cafile or capath:
        context = ssl.create_default_context(cafile=cafile or None, capath=capath or None)
    else:
        import certifi

        context = ssl.create_default_context()
        context.load_verify_locations(cafile=certifi.where())
    extra = os.path.join(DOCKER_CERTS_D, host, "ca.crt")
    if os.path.isfile(extra):
        context.load_verify_locations(cafile=extra)
    return context


class RegistryClient:
    """Pulls from one repository of one registry. Safe to use from several threads."""

    def __init__(
        self,
        ref: ImageReference,
        *,
        label: str | None = None,
        credential: Credential | None = None,
        tls_verify: bool = True,
        options: ClientOptions | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.ref = ref
        self.label = label or str(ref)
        self.options = options or ClientOptions()
        self.tls_verify = tls_verify
        self.cancelled = threading.Event()
        opts = self.options
        # Registries on this machine are never proxied (Docker does the same).
        direct: dict[str, httpx.BaseTransport | None] = {
            f"all://{name}": None for name in (*LOOPBACK_NAMES, ref.api_host) if ref.is_loopback
        }
        self._http = httpx.Client(
            verify=ssl_context(ref.api_host) if tls_verify else False,
            timeout=httpx.Timeout(opts.read_timeout, connect=opts.connect_timeout),
            follow_redirects=False,
            trust_env=True,
            transport=transport,
            mounts=direct or None,
            limits=httpx.Limits(max_connections=opts.parallel + 4),
            headers={"User-Agent": f"inspector/{__version__}"},
        )
        deadline.install(self._http)
        self.auth = Authenticator(
            ref.registry,
            credential,
            self._token_request,
            label=self.label,
            allow_insecure_realm=not tls_verify,
        )
        self._base: str | None = None
        self._base_lock = threading.Lock()

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- low level: one request with retries ---------------------------------------
    def check_cancelled(self) -> None:
        if self.cancelled.is_set():
            raise Cancelled

    def pause(self, seconds: float) -> None:
        """Sleep, unless the pull is cancelled meanwhile (never past the deadline)."""
        found = deadline.current()
        if found is not None:
            seconds = min(seconds, found.left())
        if self.cancelled.wait(max(0.0, seconds)):
            raise Cancelled

    def timed_out(self, host: str, found: deadline.Deadline) -> RegistryError:
        """The error for a request that ran past its deadline."""
        return RegistryError(
            f"{self.label}: {host} did not answer within {found.seconds:g} s "
            f"(--timeout, {deadline.ENV})"
        )

    def backoff(self, attempt: int) -> float:
        opts = self.options
        delay: float = min(opts.max_backoff, opts.backoff * 2.0 ** (attempt - 1))
        return delay * random.uniform(0.75, 1.25)

    def _retry_after(self, response: httpx.Response) -> float | None:
        value = response.headers.get("retry-after", "").strip()
        if not value:
            return None
        if value.isdigit():
            delay = float(value)
        else:
            try:
                when = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError):
                return None
            delay = float(when.timestamp()) - time.time()
        return min(max(delay, 0.0), self.options.max_retry_after)

    def send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        *,
        stream: bool = False,
        data: Mapping[str, str] | None = None,
        attempts: int | None = None,
    ) -> httpx.Response:
        """One request, retried on connection errors, timeouts, 429 and 5xx."""
        attempts = attempts or self.options.attempts
        host = httpx.URL(url).netloc.decode("ascii", "replace")
        for attempt in range(1, attempts + 1):
            self.check_cancelled()
            found = deadline.passed()
            if found is not None:
                raise self.timed_out(host, found)
            request = self._http.build_request(method, url, headers=headers, data=data)
            try:
                response = self._http.send(request, stream=stream)
            except httpx.UnsupportedProtocol as exc:
                raise RegistryError(f"{self.label}: cannot fetch {url}: {exc}") from exc
            except httpx.TransportError as exc:
                found = deadline.passed()
                if found is not None:
                    raise self.timed_out(host, found) from None
                if "CERTIFICATE_VERIFY_FAILED" in str(exc):  # retrying cannot help
                    raise RegistryError(
                        f"{self.label}: the TLS certificate of {host} is not trusted "
                        f"({describe(exc)}); --tls-verify=false skips the check"
                    ) from exc
                if attempt == attempts:
                    tries = f" (gave up after {attempts} attempts)" if attempts > 1 else ""
                    raise RegistryError(
                        f"{self.label}: cannot reach {host}: {describe(exc)}{tries}"
                    ) from exc
                self.pause(self.backoff(attempt))
                continue
            if response.status_code in RETRY_STATUSES and attempt < attempts:
                delay = self._retry_after(response)
                response.close()
                self.pause(self.backoff(attempt) if delay is None else delay)
                continue
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    def _follow(
        self, response: httpx.Response, method: str, headers: Mapping[str, str], *, stream: bool
    ) -> httpx.Response:
        """Follow redirects; a hop to another origin does not get the Authorization header."""
        origin = _origin(response.request.url)
        hops = 0
        while response.status_code in REDIRECT_STATUSES and "location" in response.headers:
            hops += 1
            target = response.url.join(response.headers["location"])
            response.close()
            if hops > MAX_REDIRECTS:
                raise RegistryError(f"{self.label}: more than {MAX_REDIRECTS} redirects")
            if target.scheme not in ("http", "https"):
                raise RegistryError(f"{self.label}: redirected to a non-HTTP URL")
            if (
                target.scheme == "http"
                and self.tls_verify
                and not is_loopback_host(target.host)
                and origin[0] == "https"
            ):
                raise RegistryError(
                    f"{self.label}: redirected from HTTPS to plain HTTP ({target.host}); "
                    "refusing (--tls-verify=false allows it)"
                )
            hop_headers = dict(headers)
            if _origin(target) != origin:
                hop_headers.pop("Authorization", None)
            if response.status_code == 303:
                method = "GET"
            response = self.send(method, str(target), hop_headers, stream=stream)
        return response

    def _token_request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        data: Mapping[str, str] | None = None,
    ) -> TokenAnswer:
        response = self.send(method, url, headers, data=data, stream=True)
        response = self._follow(response, method, headers, stream=True)
        try:
            body = b""
            if response.status_code == 200:
                body = self._read_limited(response, documents.SMALL, "the token answer")
        finally:
            response.close()
        return TokenAnswer(response.status_code, body)

    # --- the registry API ----------------------------------------------------------
    def base_url(self) -> str:
        with self._base_lock:
            if self._base is None:
                self._base = self._probe()
            return self._base

    def _probe(self) -> str:
        host = self.ref.api_host
        if not (self.ref.is_loopback or not self.tls_verify):
            response = self.send("GET", f"https://{host}/v2/", {})
            self._learn(response)
            return f"https://{host}"
        try:
            # One try: a plain-HTTP registry fails the TLS handshake at once.
            response = self.send("GET", f"https://{host}/v2/", {}, attempts=1)
        except RegistryError as exc:
            if "not trusted" in exc.message:
                raise  # an untrusted certificate is an error, never a reason to drop TLS
            response = self.send("GET", f"http://{host}/v2/", {})
            self._learn(response)
            return f"http://{host}"
        self._learn(response)
        return f"https://{host}"

    def _learn(self, response: httpx.Response) -> None:
        response.close()
        if response.status_code == 401:
            self.auth.learn(parse_challenges(response.headers.get_list("www-authenticate")))

    def request(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        stream: bool = False,
        scope: str | None = None,
    ) -> httpx.Response:
        """A request to `path` on the registry, authenticated (for `scope`, by default
        pulling from the repository), redirects followed."""
        base = self.base_url()
        url = base + path
        scope = scope or self.ref.scope
        for retried in (False, True):
            hop_headers = dict(headers or {})
            authorization = self.auth.header(scope)
            if authorization:
                hop_headers["Authorization"] = authorization
            response = self.send(method, url, hop_headers, stream=stream)
            response = self._follow(response, method, hop_headers, stream=stream)
            if response.status_code == 401 and _origin(response.url) == _origin(httpx.URL(base)):
                challenges = parse_challenges(response.headers.get_list("www-authenticate"))
                response.close()
                self.auth.challenged(scope, challenges, authorization, retried=retried)
                continue
            return response
        raise AuthenticationError(f"{self.label}: {self.ref.registry} keeps refusing access")

    def error(self, response: httpx.Response, what: str) -> InspectorError:
        """The error for a response that is not the success `what` needed."""
        body = b""
        try:
            if response.is_stream_consumed:
                body = response.content
            else:
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > MAX_ERROR_BODY:
                        break
        except httpx.HTTPError:
            pass
        finally:
            response.close()
        codes, message = _error_details(body)
        status = response.status_code
        detail = f"HTTP {status}" + (f" {', '.join(codes)}" if codes else "")
        if message:
            detail += f": {message}"
        registry = self.ref.registry
        repository = self.ref.repository
        if status == 404 and "NAME_UNKNOWN" in codes:
            return SourceNotFound(f"{self.label}: repository {repository} not found on {registry}")
        if status == 404:
            return ImageNotFound(f"{self.label}: {what} not found in {registry}/{repository}")
        if status in (401, 403):
            return AuthenticationError(f"{self.label}: access to {what} denied ({detail})")
        if status == 429:
            return RegistryError(f"{self.label}: {registry} is rate limiting requests ({detail})")
        return RegistryError(f"{self.label}: cannot fetch {what} from {registry} ({detail})")

    def head_manifest(self, reference: str) -> Digest | None:
        """The digest a tag points at, from a HEAD request (which rate limits don't count)."""
        path = f"/v2/{self.ref.repository}/manifests/{reference}"
        with deadline.within(self.options.timeout):
            response = self.request("HEAD", path, headers={"Accept": ACCEPT})
        response.close()
        if response.status_code in RETRY_STATUSES:
            raise self.error(response, f"tag {reference!r}")
        if response.status_code != 200:
            return None  # the GET that follows reports the error with its body
        value = response.headers.get("docker-content-digest", "")
        return Digest.parse(value) if Digest.is_valid(value) else None

    def get_manifest(self, reference: str, expected: Digest | None = None) -> Manifest:
        """GET a manifest or index; verify it against `expected` and the header digest."""
        path = f"/v2/{self.ref.repository}/manifests/{reference}"
        what = f"manifest {reference}" if Digest.is_valid(reference) else f"tag {reference!r}"
        with deadline.within(self.options.timeout):
            response = self.request("GET", path, headers={"Accept": ACCEPT}, stream=True)
            if response.status_code != 200:
                error = self.error(response, what)
                if isinstance(error, ImageNotFound):
                    error = self._missing(what)
                raise error
            try:
                data = self._read_limited(response, documents.MANIFEST, what)
            finally:
                response.close()
        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        header = response.headers.get("docker-content-digest", "")
        algorithm = expected.algorithm if expected else "sha256"
        digest = Digest(algorithm, hashlib.new(algorithm, data).hexdigest())
        if expected is not None and digest != expected:
            raise DigestMismatch(f"{self.label}: {what} does not match its digest (got {digest})")
        if Digest.is_valid(header):
            claimed = Digest.parse(header)
            if claimed.algorithm == digest.algorithm and claimed != digest:
                raise DigestMismatch(
                    f"{self.label}: {what} does not match the digest the registry gives "
                    f"({claimed}; got {digest})"
                )
        return Manifest(self._media_type(data, content_type, what), digest, data)

    def _missing(self, what: str) -> InspectorError:
        """A manifest 404: a missing repository looks the same, so ask for its tags."""
        where = f"{self.ref.registry}/{self.ref.repository}"
        try:
            tags = self.tags(limit=MAX_LISTED_TAGS + 1)
        except SourceNotFound as exc:
            return exc
        except InspectorError:
            return ImageNotFound(f"{self.label}: {what} not found in {where}")
        if not tags:
            return ImageNotFound(f"{self.label}: {what} not found in {where} (it has no tags)")
        listing = ", ".join(tags[:MAX_LISTED_TAGS]) + (", …" if len(tags) > MAX_LISTED_TAGS else "")
        return ImageNotFound(f"{self.label}: {what} not found in {where} (tags: {listing})")

    def tags(self, limit: int, page: int | None = None) -> list[str]:
        """The first `limit` tags of the repository, in the order the registry lists them.

        `page` tags are asked for at a time (default `limit`); further pages are followed
        through the `Link: <…>; rel="next"` header, at most `MAX_TAG_PAGES` of them, so a
        registry that pages by fewer tags than asked for still gives `limit`.
        """
        path = f"/v2/{self.ref.repository}/tags/list?n={page or limit}"
        return self._listing(path, "tags", "the tag list", limit, MAX_TAG_PAGES)

    def catalog(self, limit: int, page: int = 100) -> list[str]:
        """The first `limit` repositories of the registry (`GET /v2/_catalog`), `page` at a
        time, following `Link` pages (at most `MAX_CATALOG_PAGES`); a registry that does
        not offer the catalog answers with an error (404 or 401/403)."""
        path = f"/v2/_catalog?n={page}"
        what = "the repository catalog"
        return self._listing(path, "repositories", what, limit, MAX_CATALOG_PAGES, CATALOG_SCOPE)

    def _listing(
        self, path: str, key: str, what: str, limit: int, pages: int, scope: str | None = None
    ) -> list[str]:
        """A paged list (`{key: [...]}` documents linked by `Link: <…>; rel="next"`)."""
        next_path: str | None = path
        found: list[str] = []
        for _ in range(pages):
            if next_path is None or len(found) >= limit:
                break
            with deadline.within(self.options.timeout):
                response = self.request("GET", next_path, stream=True, scope=scope)
                if response.status_code != 200:
                    raise self.error(response, what)
                try:
                    data = self._read_limited(response, documents.MANIFEST, what)
                finally:
                    response.close()
            try:
                doc = documents.load(data, f"{self.label}: {what}", documents.MANIFEST)
            except ManifestError:
                break
            page = doc.get(key) if isinstance(doc, dict) else None
            if not isinstance(page, list) or not page:
                break
            found.extend(str(t) for t in page)
            next_path = _next_page(response.headers.get("link", ""))
        return found[:limit]

    def _media_type(self, data: bytes, content_type: str, what: str) -> str:
        if content_type in SCHEMA1_TYPES:
            raise ManifestError(
                f"{self.label}: {what} is a Docker schema 1 manifest (deprecated, not supported)"
            )
        doc: Any = documents.load(data, f"{self.label}: {what}", documents.MANIFEST)
        if not isinstance(doc, dict):
            raise ManifestError(f"{self.label}: {what} is not a JSON object")
        declared = doc.get("mediaType")
        if doc.get("schemaVersion") == 1:
            raise ManifestError(
                f"{self.label}: {what} is a Docker schema 1 manifest (deprecated, not supported)"
            )
        known = INDEX_TYPES | MANIFEST_TYPES
        if isinstance(declared, str) and declared:
            if content_type in known and declared != content_type:
                raise ManifestError(
                    f"{self.label}: {what} says it is {declared} but was served as {content_type}"
                )
            return declared
        if content_type in known:
            return content_type
        if "manifests" in doc:
            return "application/vnd.oci.image.index.v1+json"
        if "config" in doc:
            return "application/vnd.oci.image.manifest.v1+json"
        raise ManifestError(f"{self.label}: {what} is neither an image manifest nor an index")

    def _read_limited(self, response: httpx.Response, limit: documents.Limit, what: str) -> bytes:
        """The body of a document, refused as soon as it passes `limit`."""
        parts: list[bytes] = []
        total = 0
        length = response.headers.get("content-length", "")
        if length.isdigit():
            limit.check(f"{self.label}: {what}", int(length))
        try:
            for chunk in response.iter_bytes():
                total += len(chunk)
                if total > limit.bytes:
                    raise limit.exceeded(f"{self.label}: {what}")
                parts.append(chunk)
        except httpx.TransportError as exc:
            found = deadline.passed()
            if found is not None:
                host = response.url.netloc.decode("ascii", "replace")
                raise self.timed_out(host, found) from None
            raise RegistryError(
                f"{self.label}: lost the connection while reading {what}: {describe(exc)}"
            ) from exc
        return b"".join(parts)

    def get_blob(self, digest: Digest, *, limit: documents.Limit, what: str) -> bytes:
        """A small blob (a config) read whole and checked against its digest."""
        path = f"/v2/{self.ref.repository}/blobs/{digest}"
        with deadline.within(self.options.timeout):
            response = self.request("GET", path, stream=True)
            if response.status_code != 200:
                raise self.error(response, what)
            try:
                data = self._read_limited(response, limit, what)
            finally:
                response.close()
        if hashlib.new(digest.algorithm, data).hexdigest() != digest.hex:
            raise DigestMismatch(f"{self.label}: {what} does not match its digest")
        return data


def _next_page(link: str) -> str | None:
    """The path of the next page from a `Link: </v2/…?last=x&n=y>; rel="next"` header."""
    match = _NEXT_LINK.search(link)
    if match is None:
        return None
    url = httpx.URL(match.group(1))
    if url.is_absolute_url:
        return None  # another origin: not followed with our credentials
    return url.raw_path.decode("ascii", "replace")


_NEXT_LINK = re.compile(r'<([^>]*)>\s*;[^,]*\brel="?next"?')


def _error_details(body: bytes) -> tuple[list[str], str]:
    try:
        doc = documents.load(body, "an error body", documents.SMALL)
    except ManifestError:
        return [], ""
    errors = doc.get("errors") if isinstance(doc, dict) else None
    if not isinstance(errors, list):
        return [], ""
    codes = [str(e.get("code")) for e in errors if isinstance(e, dict) and e.get("code")]
    messages = [str(e.get("message")) for e in errors if isinstance(e, dict) and e.get("message")]
    return codes, "; ".join(messages)[:300]
