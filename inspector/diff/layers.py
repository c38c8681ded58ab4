"""Two layer stacks aligned (pure): the shared prefix by ChainID, the first divergent
layer and why it was built again, and what became of every layer after it.

After the shared prefix the remaining layers are matched by their instruction text
(`difflib`'s longest matching blocks), so a layer inserted or dropped in NEW does not
misalign the ones after it. A matched pair is `rebuilt-identical` when its content is
identical (the same entries with the same type, content digest, mode, owner and link
target, the same whiteouts and opaque directories; modification times are ignored,
which is what a rebuild changes), else `changed`; an unmatched instruction is paired
position by position with an unmatched one of OLD as `changed`, and the rest are
`added` or `removed`.
"""

from __future__ import annotations

from collections.abc import Sequence
from difflib import SequenceMatcher

from inspector.diff.model import Cause, Divergence, Layer, LayerPair, LayerStatus
from inspector.digest import chain_ids
from inspector.findings.facts import Facts
from inspector.indexer import LayerIndex
from inspector.inspection import Inspection


def layers_of(inspection: Inspection) -> tuple[Layer, ...]:
    """Each layer of an inspected image as the diff shows it."""
    facts = Facts(inspection)
    return tuple(
        Layer(
            info.position,
            info.created_by,
            step.text,
            info.diff_id,
            info.digest,
            stored,
            index.uncompressed_size,
        )
        for info, index, step, stored in zip(
            inspection.image.layers,
            inspection.layers,
            facts.instructions,
            facts.stored_sizes,
            strict=True,
        )
    )


def shared_prefix(old: Sequence[Layer], new: Sequence[Layer]) -> int:
    """How many layers, from the base, have the same ChainID in both images."""
    count = 0
    old_chain = chain_ids([layer.diff_id for layer in old])
    new_chain = chain_ids([layer.diff_id for layer in new])
    for a, b in zip(old_chain, new_chain, strict=False):
        if a != b:
            break
        count += 1
    return count


def same_content(a: LayerIndex, b: LayerIndex) -> bool:
    """Whether two layers hold the same entries, whiteouts and opaque directories, with
    the same type, content digest, mode, owner and link target (mtimes aside)."""
    if a.diff_id is not None and a.diff_id == b.diff_id:
        return True
    if len(a.entries) != len(b.entries) or a.whiteouts.keys() != b.whiteouts.keys():
        return False
    if set(a.opaque) != set(b.opaque):
        return False
    theirs = b.entries
    for path, entry in a.entries.items():
        other = theirs.get(path)
        if other is None or entry.differences(other):
            return False
    return True


def align(
    old: Inspection, new: Inspection, old_layers: Sequence[Layer], new_layers: Sequence[Layer]
) -> tuple[int, Divergence | None, tuple[LayerPair, ...]]:
    """The shared prefix length, the first divergent layer and every layer's status
    (without `pulled`, which the cost fills in)."""
    prefix = shared_prefix(old_layers, new_layers)
    pairs = [LayerPair(LayerStatus.SHARED, old_layers[i], new_layers[i]) for i in range(prefix)]

    def matched(i: int, j: int) -> LayerPair:
        same = same_content(old.layers[i], new.layers[j])
        status = LayerStatus.REBUILT_IDENTICAL if same else LayerStatus.CHANGED
        return LayerPair(status, old_layers[i], new_layers[j])

    rest_old = [layer.instruction for layer in old_layers[prefix:]]
    rest_new = [layer.instruction for layer in new_layers[prefix:]]
    matcher = SequenceMatcher(None, rest_old, rest_new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        i1, i2, j1, j2 = i1 + prefix, i2 + prefix, j1 + prefix, j2 + prefix
        if tag == "equal":
            pairs += [matched(i, j) for i, j in zip(range(i1, i2), range(j1, j2), strict=True)]
            continue
        common = min(i2 - i1, j2 - j1)
        pairs += [
            LayerPair(LayerStatus.CHANGED, old_layers[i1 + k], new_layers[j1 + k])
            for k in range(common)
        ]
        pairs += [
            LayerPair(LayerStatus.REMOVED, old_layers[i], None) for i in range(i1 + common, i2)
        ]
        pairs += [LayerPair(LayerStatus.ADDED, None, new_layers[j]) for j in range(j1 + common, j2)]

    divergence = None
    if prefix < min(len(old_layers), len(new_layers)):
        before, after = old_layers[prefix], new_layers[prefix]
        if before.instruction != after.instruction:
            cause = Cause.INSTRUCTION
        elif same_content(old.layers[prefix], new.layers[prefix]):
            cause = Cause.REBUILD
        else:
            cause = Cause.INPUTS
        divergence = Divergence(prefix, before, after, cause)
    return prefix, divergence, tuple(pairs)
