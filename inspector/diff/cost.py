"""What NEW costs where OLD is already present (pure): the pull and the push.

A host that already holds OLD downloads the blobs of NEW's layers that OLD lacks, and a
registry that already holds OLD stores those blobs anew; both are counted in stored
bytes (the blob sizes NEW's source gives), each blob once. OLD "has" a blob when one of
its layers has the same digest or the same diff_id: the diff_id (the uncompressed tar)
is what makes a layer the same whatever source each image was read from (an archive
stores layers plain, a registry compressed), and a blob with the same diff_id but other
compression is the one case where a real pull would download it again.

`reordered` applies the `cache-busting-order` finding of NEW: had the dependency
manifests been copied first, the layers after the COPY up to and including the install
would have been cache hits, so neither pulled nor pushed, provided that OLD and NEW
differ only above that COPY, that the manifests are the same in both, and that OLD ran
the same instructions there. The whole-source COPY (moved after the install) and the
layers above the install are built again in either order.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from inspector.diff.model import Cost, FileDiff, Layer, LayerPair, LayerStatus, Reordered
from inspector.findings import cache_busting_order
from inspector.findings.model import Finding
from inspector.formatting import count


def pulled_layers(old: Sequence[Layer], new: Sequence[Layer]) -> tuple[int, ...]:
    """Positions of NEW whose blob OLD lacks; a blob NEW repeats is counted at its first."""
    diff_ids = {layer.diff_id for layer in old}
    digests = {layer.digest for layer in old if layer.digest is not None}
    seen = set()
    found = []
    for layer in new:
        if layer.diff_id in diff_ids or (layer.digest is not None and layer.digest in digests):
            continue
        if layer.diff_id in seen:
            continue
        seen.add(layer.diff_id)
        found.append(layer.index)
    return tuple(found)


def cost_of(new: Sequence[Layer], pulled: Iterable[int]) -> Cost:
    positions = tuple(pulled)
    total = sum(new[i].stored_bytes for i in positions)
    return Cost(total, total, positions)


def reordered(
    finding: Finding,
    cost: Cost,
    new: Sequence[Layer],
    pairs: Sequence[LayerPair],
    prefix: int,
    files: FileDiff,
) -> Reordered:
    """The cost of NEW had it followed `finding`'s fix (see the module docstring)."""
    copy, install = finding.layers[0].index, finding.layers[-1].index
    unchanged = cost.layers
    saved: tuple[int, ...] = ()
    changed = {c.path for group in (files.added, files.removed, files.modified) for c in group}
    manifests = [p.path for p in finding.paths]
    same_steps = {
        pair.new.index
        for pair in pairs
        if pair.new is not None and pair.old is not None
        and pair.old.instruction == pair.new.instruction
        and pair.status is not LayerStatus.ADDED
    }  # fmt: skip
    between = range(copy + 1, install + 1)
    if prefix > copy:
        reason = f"layer {copy} is shared: nothing from it up was built again"
    elif prefix < copy:
        reason = f"the images differ from layer {prefix}, below the COPY: every order rebuilds it"
    elif any(path in changed for path in manifests):
        reason = "the dependency manifests changed: the install runs again in either order"
    elif not all(j in same_steps for j in between):
        reason = "OLD ran other instructions between the COPY and the install"
    else:
        saved = tuple(j for j in between if j in cost.layers)
        unchanged = tuple(j for j in cost.layers if j not in saved)
        span = f"layer {install}" if copy + 1 == install else f"layers {copy + 1}-{install}"
        reason = (
            f"with the manifests copied first, the {count(len(between), 'layer')} after the "
            f"COPY up to the install ({span}) would come from the build cache"
        )
    return Reordered(finding, cost_of(new, unchanged), saved, reason)


def all_reordered(
    findings: Iterable[Finding],
    cost: Cost,
    new: Sequence[Layer],
    pairs: Sequence[LayerPair],
    prefix: int,
    files: FileDiff,
) -> tuple[Reordered, ...]:
    """`reordered` for each cache-busting-order finding of NEW."""
    return tuple(
        reordered(f, cost, new, pairs, prefix, files)
        for f in findings
        if f.id == cache_busting_order.ID and len(f.layers) >= 2
    )
