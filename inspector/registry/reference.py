"""Image references for registries: `[REGISTRY/]REPOSITORY[:TAG][@DIGEST]`.

Docker's normalisation rules (distribution/reference): the first path component is a
registry host only if it has a `.` or a `:` or is `localhost`; otherwise the image is on
Docker Hub (`docker.io`), where one-component names live under `library/`. Docker Hub's
API is served from `registry-1.docker.io`. Without a tag or digest the tag is `latest`.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from inspector.digest import Digest
from inspector.errors import UsageError
from inspector.manifest import normalize_name

DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"
DOCKER_HUB_AUTH_KEY = "https://index.docker.io/v1/"
_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_HOST = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
    r"|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?"
)
MAX_NAME = 255


@dataclass(frozen=True, slots=True)
class ImageReference:
    """A fully qualified reference: `registry` (host[:port]), `repository`, tag and/or digest."""

    registry: str
    repository: str
    tag: str | None = None
    digest: Digest | None = None

    @property
    def api_host(self) -> str:
        """The host[:port] that serves the registry API."""
        return DOCKER_HUB_API if self.registry == DOCKER_HUB else self.registry

    @property
    def hostname(self) -> str:
        """The registry's host name without port or IPv6 brackets."""
        host = self.api_host
        if host.startswith("["):
            return host[1 : host.index("]")]
        return host.rsplit(":", 1)[0] if ":" in host else host

    @property
    def is_loopback(self) -> bool:
        """A registry on this machine, which Docker talks to over plain HTTP too."""
        return is_loopback_host(self.hostname)

    @property
    def reference(self) -> str:
        """What goes after `/manifests/`: the digest when there is one, else the tag."""
        if self.digest is not None:
            return str(self.digest)
        return self.tag or "latest"

    @property
    def scope(self) -> str:
        """The token scope for pulling from this repository."""
        return f"repository:{self.repository}:pull"

    @property
    def familiar(self) -> str:
        """The short name people type: `nginx:1.27` for `docker.io/library/nginx:1.27`."""
        name = f"{self.registry}/{self.repository}"
        if self.registry == DOCKER_HUB:
            name = self.repository.removeprefix("library/")
        if self.tag:
            name += f":{self.tag}"
        if self.digest:
            name += f"@{self.digest}"
        return name

    def __str__(self) -> str:
        text = f"{self.registry}/{self.repository}"
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def is_loopback_host(host: str) -> bool:
    """`localhost`, 127.0.0.0/8 or ::1."""
    if host.lower() == "localhost" or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def canonical_registry(host: str) -> str:
    """Docker Hub's several names as `docker.io`; any other host as given (lowercased)."""
    host = host.lower()
    return DOCKER_HUB if host in _HUB_ALIASES else host


def parse_reference(text: str, label: str | None = None) -> ImageReference:
    """Parse and normalise what the user typed after `docker://`; errors start with `label`."""
    original = label or text
    text = text.strip().removeprefix("docker://").removeprefix("//")
    if not text:
        raise UsageError(f"{original or text!r}: no image name")
    digest: Digest | None = None
    if "@" in text:
        text, _, digest_text = text.partition("@")
        if not Digest.is_valid(digest_text):
            raise UsageError(f"{original}: {digest_text!r} is not a valid digest")
        digest = Digest.parse(digest_text)
    tag: str | None = None
    slash = text.rfind("/")
    if ":" in text[slash + 1 :]:
        text, _, tag = text.rpartition(":")
        if not _TAG.fullmatch(tag):
            raise UsageError(f"{original}: {tag!r} is not a valid tag")
    if not text:
        raise UsageError(f"{original}: no repository name")
    first, sep, _ = text.partition("/")
    explicit_host = bool(sep) and ("." in first or ":" in first or first == "localhost")
    if explicit_host and not _HOST.fullmatch(first):
        raise UsageError(f"{original}: {first!r} is not a valid registry host")
    # Docker Hub's rules (library/, docker.io) are the ones the archive sources use too.
    qualified = normalize_name(f"{text}:latest").removesuffix(":latest")
    registry, _, repository = qualified.partition("/")
    registry = canonical_registry(registry)
    if registry == DOCKER_HUB and "/" not in repository:
        repository = f"library/{repository}"
    for component in repository.split("/"):
        if not _COMPONENT.fullmatch(component):
            problem = "must be lowercase" if component.lower() != component else "is not valid"
            raise UsageError(f"{original}: repository name {repository!r} {problem}")
    if len(f"{registry}/{repository}") > MAX_NAME:
        raise UsageError(f"{original}: repository name is longer than {MAX_NAME} characters")
    if tag is None and digest is None:
        tag = "latest"
    return ImageReference(registry, repository, tag, digest)
