"""Parse what the user typed into a SourceSpec: skopeo-style transports, dive's
`--source`, or a plain value that is detected (a file, an OCI layout, an engine image)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from inspector.errors import UsageError

ARCHIVE = "docker-archive"
OCI = "oci"
OCI_ARCHIVE = "oci-archive"
DAEMON = "docker-daemon"
PODMAN = "podman"
REGISTRY = "docker"

_TRANSPORTS = {
    "docker-archive": ARCHIVE,
    "docker-tar": ARCHIVE,
    "oci": OCI,
    "oci-archive": OCI_ARCHIVE,
    "docker-daemon": DAEMON,
    "podman": PODMAN,
    "docker": REGISTRY,
}
_ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.zst", ".tar.zstd", ".oci")
_PATH_PREFIXES = ("/", "./", "../", "~")
_DIVE_SOURCES = {"docker": DAEMON, "podman": PODMAN, "docker-archive": ARCHIVE}


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """Where an image lives: a transport, a location and an optional image reference."""

    transport: str
    location: str
    ref: str | None = None

    def __str__(self) -> str:
        return f"{self.transport}:{self.location}" + (f":{self.ref}" if self.ref else "")


def _split_path_ref(rest: str) -> tuple[str, str | None]:
    """`PATH[:REF]`, preferring the longest prefix that exists on disk."""
    if os.path.exists(rest) or ":" not in rest:
        return rest, None
    path, _, ref = rest.partition(":")
    return path, ref or None


def parse(text: str, source: str | None = None) -> SourceSpec:
    """Turn the IMAGE argument (and dive's --source) into a SourceSpec."""
    if not text:
        raise UsageError("no image given")
    if source is not None:
        transport = _DIVE_SOURCES.get(source)
        if transport is None:
            choices = ", ".join(sorted(_DIVE_SOURCES))
            raise UsageError(f"--source {source!r}: expected one of {choices}")
        text = text.split("://", 1)[1] if "://" in text else text
        return SourceSpec(transport, text)
    if "://" in text:
        scheme, _, rest = text.partition("://")
        if scheme == "docker-archive":
            return SourceSpec(ARCHIVE, *_split_path_ref(rest))
        if scheme in ("docker", "podman"):
            return SourceSpec(REGISTRY if scheme == "docker" else PODMAN, rest)
        raise UsageError(f"{text}: unknown transport {scheme!r}")
    head, sep, rest = text.partition(":")
    if sep and head in _TRANSPORTS and not os.path.exists(text):
        transport = _TRANSPORTS[head]
        if transport in (ARCHIVE, OCI, OCI_ARCHIVE):
            path, ref = _split_path_ref(rest)
            if not path:
                raise UsageError(f"{text}: {head}: needs a path")
            return SourceSpec(transport, path, ref)
        if not rest:
            raise UsageError(f"{text}: {head}: needs an image name")
        return SourceSpec(transport, rest.removeprefix("//"))
    if text == "-":
        return SourceSpec(ARCHIVE, "-")
    if os.path.isdir(text):
        return SourceSpec(OCI, text)
    if os.path.exists(text):
        return SourceSpec(ARCHIVE, text)
    if text.endswith(_ARCHIVE_SUFFIXES) or text.startswith(_PATH_PREFIXES):
        return SourceSpec(ARCHIVE, text)  # a path that does not exist: say so, don't guess
    return SourceSpec(DAEMON, text)  # `app:1`, `org/app:1`, `host:5000/org/app@sha256:…`
