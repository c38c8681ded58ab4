"""What a diff of two images is: values only (see `inspector.diff.diff`)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from inspector.changes import EntryType
from inspector.digest import Digest
from inspector.findings.model import Finding


class LayerStatus(StrEnum):
    """What became of a layer between OLD and NEW."""

    SHARED = "shared"  # the same ChainID: the same layer on the same stack
    REBUILT_IDENTICAL = "rebuilt-identical"  # same instruction, identical content, new blob
    CHANGED = "changed"  # other content (or another instruction) in its place
    ADDED = "added"  # only NEW has it
    REMOVED = "removed"  # only OLD has it


class Cause(StrEnum):
    """Why the first divergent layer was built again."""

    INSTRUCTION = "instruction"  # its instruction text changed
    INPUTS = "inputs"  # the same instruction over other inputs: a cache miss caused by inputs
    REBUILD = "rebuild"  # the same instruction and identical content: rebuilt for nothing


@dataclass(frozen=True, slots=True)
class Layer:
    """One layer of one image, as the diff shows it."""

    index: int  # position in its image, 0 = base
    command: str  # the history's created_by
    instruction: str  # the Dockerfile instruction behind it (`findings.facts.instruction`)
    diff_id: Digest
    digest: Digest | None  # the stored blob's digest, when the source knows it
    stored_bytes: int  # the blob as the source stores it (compressed or not)
    uncompressed_bytes: int  # the layer's tar


@dataclass(frozen=True, slots=True)
class LayerPair:
    """A layer of OLD aligned with one of NEW (either may be missing).

    `pulled`: NEW's blob is one that OLD lacks, so a host holding OLD downloads it and a
    registry holding OLD stores it anew."""

    status: LayerStatus
    old: Layer | None
    new: Layer | None
    pulled: bool = False


@dataclass(frozen=True, slots=True)
class Divergence:
    """The first layer of NEW whose ChainID OLD lacks, at an index both images have."""

    index: int
    old: Layer
    new: Layer
    cause: Cause


class FileChange(StrEnum):
    ADDED = "added"
    REMOVED = "removed"
    MODIFIED = "modified"


@dataclass(frozen=True, slots=True)
class ChangedPath:
    """A path whose final state differs between OLD and NEW.

    `bytes` is the change of its size (NEW minus OLD: positive when added, negative when
    removed); `layer` is the layer of NEW that brings it (for a removal, the layer whose
    whiteout removes it; None when no layer of NEW ever had it). `fields` says what a
    modification changed: `type`, `content`, `mode`, `owner`, `link`."""

    path: str
    change: FileChange
    type: EntryType
    bytes: int
    old_bytes: int
    new_bytes: int
    layer: int | None
    fields: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DirectoryChange:
    """The changes under one top-level directory (`/` for files at the root)."""

    directory: str
    bytes: int
    added: int
    removed: int
    modified: int


@dataclass(frozen=True, slots=True)
class FileDiff:
    added: tuple[ChangedPath, ...]
    removed: tuple[ChangedPath, ...]
    modified: tuple[ChangedPath, ...]
    by_directory: tuple[DirectoryChange, ...]

    @property
    def count(self) -> int:
        return len(self.added) + len(self.removed) + len(self.modified)

    @property
    def bytes(self) -> int:
        return sum(c.bytes for group in (self.added, self.removed, self.modified) for c in group)


@dataclass(frozen=True, slots=True)
class Measure:
    """One number before (OLD) and after (NEW)."""

    old: float
    new: float

    @property
    def change(self) -> float:
        return self.new - self.old


@dataclass(frozen=True, slots=True)
class Sizes:
    """Sizes of both images. Uncompressed bytes are the layers' tars (the same from every
    source); stored bytes the blobs as each source stores them; unique bytes those of the
    layers the other image does not share (by ChainID); visible, wasted and efficiency are
    the exact accounting (`analysis.ExactWaste`)."""

    uncompressed: Measure
    stored: Measure
    unique: Measure
    visible: Measure
    wasted: Measure
    efficiency: Measure

    @property
    def growth_bytes(self) -> int:
        return int(self.uncompressed.change)

    @property
    def growth_percent(self) -> float:
        """Uncompressed growth as a percentage of OLD (inf when OLD is empty and NEW not)."""
        if self.uncompressed.old:
            return self.uncompressed.change * 100 / self.uncompressed.old
        return 0.0 if not self.uncompressed.new else float("inf")


@dataclass(frozen=True, slots=True)
class Cost:
    """What getting NEW costs where OLD is already present: stored bytes a host holding
    OLD downloads (`pull_bytes`) and a registry holding OLD stores anew (`push_bytes`),
    and which layers of NEW those are."""

    pull_bytes: int
    push_bytes: int
    layers: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Reordered:
    """The cost had NEW's layers been ordered as a `cache-busting-order` finding of NEW
    suggests (manifests first): the layers from the COPY up to the install would have been
    cache hits, when the manifests and those instructions are the same in OLD."""

    finding: Finding
    cost: Cost
    saved_layers: tuple[int, ...]
    reason: str  # why these layers are (or are not) saved


@dataclass(frozen=True, slots=True)
class FindingsDiff:
    """Findings of NEW that OLD does not have, and findings of OLD that NEW no longer has
    (matched by id and paths)."""

    new: tuple[Finding, ...]
    gone: tuple[Finding, ...]


@dataclass(frozen=True, slots=True)
class ImageDiff:
    """Everything that changed from OLD to NEW."""

    old_label: str
    new_label: str
    old_layers: int
    new_layers: int
    shared_layers: int  # the length of the common prefix of ChainIDs
    divergence: Divergence | None  # None when one image is a prefix of the other
    layers: tuple[LayerPair, ...]
    files: FileDiff
    sizes: Sizes
    cost: Cost
    reordered: tuple[Reordered, ...]
    findings: FindingsDiff
    warnings: tuple[str, ...] = ()

    @property
    def first_divergent_layer(self) -> int | None:
        return self.divergence.index if self.divergence is not None else None

    @property
    def rebuilt_identical(self) -> tuple[LayerPair, ...]:
        return tuple(p for p in self.layers if p.status is LayerStatus.REBUILT_IDENTICAL)

    @property
    def rebuilt_identical_bytes(self) -> int:
        """Stored bytes of layers rebuilt with identical content and pushed again (their
        blob differs from OLD's) for nothing."""
        return sum(p.new.stored_bytes for p in self.rebuilt_identical if p.new and p.pulled)
