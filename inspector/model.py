"""The image model: frozen values every source produces and every consumer reads."""

from __future__ import annotations

import platform as _platform
from dataclasses import dataclass, field

from inspector.digest import Digest
from inspector.errors import UsageError

_ARCH_ALIASES = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}


@dataclass(frozen=True, slots=True)
class Platform:
    """An image platform: `os/architecture[/variant]`."""

    os: str
    architecture: str
    variant: str | None = None

    @classmethod
    def parse(cls, text: str) -> Platform:
        parts = text.strip().split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise UsageError(f"--platform {text!r}: expected os/arch[/variant], e.g. linux/amd64")
        return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else None)

    @classmethod
    def host(cls) -> Platform:
        machine = _platform.machine().lower()
        arch = _ARCH_ALIASES.get(machine, machine)
        variant = "v7" if machine == "armv7l" else None
        return cls("linux", arch, variant)

    def matches(self, other: Platform) -> bool:
        """True if `other` satisfies this (requested) platform."""
        if (self.os, self.architecture) != (other.os, other.architecture):
            return False
        if self.variant is None or other.variant is None:
            return True
        return self.variant == other.variant

    def __str__(self) -> str:
        base = f"{self.os}/{self.architecture}"
        return f"{base}/{self.variant}" if self.variant else base


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One entry of the config's `history`."""

    created: str | None = None
    created_by: str = ""
    author: str | None = None
    comment: str | None = None
    empty_layer: bool = False


@dataclass(frozen=True, slots=True)
class ImageConfig:
    """The runtime fields of an image config."""

    entrypoint: tuple[str, ...] | None = None
    cmd: tuple[str, ...] | None = None
    env: tuple[str, ...] = ()
    user: str = ""
    workdir: str = ""
    exposed_ports: tuple[str, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class LayerInfo:
    """One layer of an image, as its manifest and config describe it."""

    position: int
    diff_id: Digest
    digest: Digest | None
    media_type: str
    size: int | None
    history: HistoryEntry | None
    source_id: str = ""  # the layer's name in its source (an archive member path)
    aliased: bool = False  # named through a link in the archive (dive reads it as empty)

    @property
    def created_by(self) -> str:
        return self.history.created_by if self.history else ""


@dataclass(frozen=True, slots=True)
class Image:
    """An image: its layers base-first, its config and where it came from."""

    label: str
    tags: tuple[str, ...]
    config_digest: Digest
    platform: Platform | None
    layers: tuple[LayerInfo, ...]
    history: tuple[HistoryEntry, ...]
    config: ImageConfig = field(default_factory=ImageConfig)
    created: str | None = None
    manifest_digest: Digest | None = None
