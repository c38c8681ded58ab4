"""Pure view-models of the diff UI: the aligned layer stacks and the words for a diff.

Every string taken from the images (commands, labels) is `display.clean`ed here, where
it becomes display text; the widgets draw it as it is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from inspector import formatting
from inspector.diff import Cause, ChangedPath, ImageDiff, Layer, LayerPair, LayerStatus
from inspector.display import clean

# what a person reads for the cause of the first divergent layer (the model's `Cause`)
CAUSE_WORDS = {
    Cause.INSTRUCTION: "instruction changed",
    Cause.INPUTS: "inputs changed",
    Cause.REBUILD: "rebuilt identical",
}
CAUSE_SENTENCES = {
    Cause.INSTRUCTION: "its instruction changed",
    Cause.INPUTS: "the same instruction over other inputs: a cache miss caused by its inputs",
    Cause.REBUILD: "the same instruction and identical content: rebuilt without a cause "
    "(no build cache?)",
}
STATUS_MEANING = {
    LayerStatus.SHARED: "the same layer on the same stack (the same ChainID): stored once",
    LayerStatus.REBUILT_IDENTICAL: "the same instruction and identical content in a new "
    "blob: built, pushed and pulled again for nothing",
    LayerStatus.CHANGED: "other content, or another instruction, in its place",
    LayerStatus.ADDED: "only NEW has this layer",
    LayerStatus.REMOVED: "only OLD has this layer",
}


class Mark(StrEnum):
    """Where a row stands in the alignment."""

    PREFIX = "prefix"  # in the shared prefix
    DIVERGENT = "divergent"  # the first divergent layer
    AFTER = "after"


@dataclass(frozen=True, slots=True)
class PairRow:
    """One row of the stacks side by side: OLD's layer, the status, NEW's layer."""

    pair: LayerPair
    mark: Mark
    old_command: str  # `clean`ed; "" when OLD has no layer here
    new_command: str

    @property
    def status(self) -> LayerStatus:
        return self.pair.status


def layer_text(layer: Layer | None) -> str:
    """A layer's command as a row shows it (its instruction, else its history), `clean`ed."""
    if layer is None:
        return ""
    return clean(formatting.command(layer.instruction or layer.command)) or "(no history)"


def pair_rows(result: ImageDiff) -> list[PairRow]:
    """The aligned layers, the shared prefix and the first divergent layer marked."""
    divergence = result.divergence
    rows = []
    for i, pair in enumerate(result.layers):
        if i < result.shared_layers:
            mark = Mark.PREFIX
        elif (
            divergence is not None
            and pair.new is not None
            and pair.new.index == divergence.index
            and pair.old is not None
            and pair.old.index == divergence.old.index
        ):
            mark = Mark.DIVERGENT
        else:
            mark = Mark.AFTER
        rows.append(PairRow(pair, mark, layer_text(pair.old), layer_text(pair.new)))
    return rows


def divergence(result: ImageDiff) -> str:
    """`2 of NEW (inputs changed)`, or why no layer diverges."""
    d = result.divergence
    if d is not None:
        return f"{d.index} of NEW ({CAUSE_WORDS[d.cause]})"
    if result.old_layers == result.new_layers == result.shared_layers:
        return "none (the same layers)"
    longer = "NEW" if result.new_layers > result.old_layers else "OLD"
    return f"none ({longer} adds layers on top of the other)"


def divergence_line(result: ImageDiff) -> str:
    """`First divergent layer: 2 of NEW (inputs changed)`, or why there is none."""
    return f"First divergent layer: {divergence(result)}"


def growth(result: ImageDiff) -> str:
    """`+3 MB (+2.10 %)`: NEW's uncompressed growth over OLD."""
    percent = result.sizes.growth_percent
    shown = f"{percent:+.2f} %" if math.isfinite(percent) else "from nothing"
    return f"{formatting.signed_size(result.sizes.growth_bytes)} ({shown})"


def what_changed(change: ChangedPath) -> str:
    """The fields a modification changed (`content,mode`), else the change's word."""
    return ",".join(change.fields) if change.fields else change.change.value


def brought_by(change: ChangedPath) -> str:
    """`L3`: the layer of NEW that brings the change (`-` when none does)."""
    return "-" if change.layer is None else f"L{change.layer}"
