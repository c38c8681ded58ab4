"""Two inspected images compared (pure: no I/O): `diff(old, new) -> ImageDiff`.

Both images come from `pipeline.inspect`, so they are compared on what every front end
sees. The layers are aligned by ChainID and then by instruction (`diff.layers`), the final
file systems compared path by path (`diff.files`), the pull and push costs counted by
blob (`diff.cost`), and the findings matched by id and paths. docs/diff.md defines every
number.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from inspector.analysis import FinalFileSystem, final_file_system
from inspector.diff.cost import all_reordered, cost_of, pulled_layers
from inspector.diff.files import compare
from inspector.diff.layers import align, layers_of
from inspector.diff.model import (
    Cause,
    ChangedPath,
    Cost,
    DirectoryChange,
    Divergence,
    FileChange,
    FileDiff,
    FindingsDiff,
    ImageDiff,
    Layer,
    LayerPair,
    LayerStatus,
    Measure,
    Reordered,
    Sizes,
)
from inspector.digest import Digest
from inspector.findings.model import Finding
from inspector.inspection import Inspection
from inspector.sharing import OtherImage, sharing


def diff(
    old: Inspection,
    new: Inspection,
    systems: tuple[FinalFileSystem, FinalFileSystem] | None = None,
) -> ImageDiff:
    """Everything that changed from `old` to `new`; `systems` are their final file
    systems when the caller already stacked them (the UI keeps them for the tree)."""
    old_layers, new_layers = layers_of(old), layers_of(new)
    prefix, divergence, pairs = align(old, new, old_layers, new_layers)
    if systems is None:
        systems = final_file_system(old.layers), final_file_system(new.layers)
    files = compare(*systems)
    pulled = pulled_layers(old_layers, new_layers)
    cost = cost_of(new_layers, pulled)
    marked = set(pulled)
    pairs = tuple(
        LayerPair(p.status, p.old, p.new, p.new is not None and p.new.index in marked)
        for p in pairs
    )
    return ImageDiff(
        old.image.label,
        new.image.label,
        len(old_layers),
        len(new_layers),
        prefix,
        divergence,
        pairs,
        files,
        sizes(old, new, old_layers, new_layers),
        cost,
        all_reordered(new.findings, cost, new_layers, pairs, prefix, files),
        findings_diff(old.findings, new.findings),
        tuple(f"OLD: {w}" for w in old.warnings) + tuple(f"NEW: {w}" for w in new.warnings),
    )


def _unique(mine: Sequence[Layer], theirs: Sequence[Layer]) -> int:
    """Uncompressed bytes of the layers of `mine` that `theirs` does not share (ChainID)."""
    other = OtherImage("other", tuple(layer.diff_id for layer in theirs))
    ids: list[Digest] = [layer.diff_id for layer in mine]
    return sharing(ids, [layer.uncompressed_bytes for layer in mine], [other]).unique_bytes


def sizes(
    old: Inspection, new: Inspection, old_layers: Sequence[Layer], new_layers: Sequence[Layer]
) -> Sizes:
    def total(layers: Sequence[Layer], stored: bool) -> int:
        return sum(x.stored_bytes if stored else x.uncompressed_bytes for x in layers)

    a, b = old.analysis.exact, new.analysis.exact
    return Sizes(
        uncompressed=Measure(total(old_layers, False), total(new_layers, False)),
        stored=Measure(total(old_layers, True), total(new_layers, True)),
        unique=Measure(_unique(old_layers, new_layers), _unique(new_layers, old_layers)),
        visible=Measure(a.visible_bytes, b.visible_bytes),
        wasted=Measure(a.wasted_bytes, b.wasted_bytes),
        efficiency=Measure(a.efficiency, b.efficiency),
    )


def finding_key(finding: Finding) -> tuple[str, tuple[str, ...]]:
    """What identifies a finding across two images: its id and its paths (its title when
    it names no path)."""
    paths = tuple(p.path for p in finding.paths)
    return finding.id, paths or (finding.title,)


def findings_diff(old: Sequence[Finding], new: Sequence[Finding]) -> FindingsDiff:
    """NEW's findings OLD lacks and OLD's that NEW lacks, each key counted as often as it
    occurs."""
    old_keys = Counter(map(finding_key, old))
    new_keys = Counter(map(finding_key, new))
    fresh: list[Finding] = []
    for finding in new:
        key = finding_key(finding)
        if old_keys[key] > 0:
            old_keys[key] -= 1
        else:
            fresh.append(finding)
    gone: list[Finding] = []
    for finding in old:
        key = finding_key(finding)
        if new_keys[key] > 0:
            new_keys[key] -= 1
        else:
            gone.append(finding)
    return FindingsDiff(tuple(fresh), tuple(gone))


__all__ = [
    "Cause",
    "ChangedPath",
    "Cost",
    "DirectoryChange",
    "Divergence",
    "FileChange",
    "FileDiff",
    "FindingsDiff",
    "ImageDiff",
    "Layer",
    "LayerPair",
    "LayerStatus",
    "Measure",
    "Reordered",
    "Sizes",
    "diff",
]
