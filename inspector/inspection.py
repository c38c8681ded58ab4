"""The Inspection: everything known about one image, what every front end shows.

A value, built by `inspector.pipeline.inspect` and read by the CLI's reports, the UI, the
findings and the comparisons; it does no work of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from inspector.analysis import Analysis
from inspector.dive import DiveNumbers
from inspector.indexer import LayerIndex
from inspector.model import Image
from inspector.sharing import Sharing
from inspector.source import LoadedImage

if TYPE_CHECKING:
    from inspector.findings.model import Finding


@dataclass(frozen=True, slots=True)
class Inspection:
    """An image, its layer indexes, its analyses and what they found."""

    loaded: LoadedImage
    analysis: Analysis
    dive: DiveNumbers
    sharing: Sharing
    warnings: tuple[str, ...]
    findings: tuple[Finding, ...] = ()

    @property
    def image(self) -> Image:
        return self.loaded.image

    @property
    def layers(self) -> tuple[LayerIndex, ...]:
        return self.loaded.layers
