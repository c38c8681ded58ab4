"""Findings: named problems of an image, with the bytes at stake and the fix.

One module per finding, each with `ID`, `TITLE`, `SEVERITY`, a docstring that
docs/findings.md is written from, and a pure `detect(inspection, facts)`. `detect_all`
runs them in `DETECTORS` order and sorts what they find: errors first, then by bytes.
"""

from __future__ import annotations

from types import ModuleType

from inspector.findings import (
    build_context_junk,
    build_tools,
    cache_busting_order,
    deleted_later,
    duplicate_content,
    metadata_only_rewrite,
    package_cache,
    secret_in_image,
    secret_recoverable,
)
from inspector.findings.facts import Facts
from inspector.findings.model import Finding, Severity
from inspector.gcpause import gc_paused
from inspector.inspection import Inspection
from inspector.model import Image

DETECTORS: tuple[ModuleType, ...] = (
    secret_recoverable,
    secret_in_image,
    deleted_later,
    package_cache,
    cache_busting_order,
    build_context_junk,
    build_tools,
    metadata_only_rewrite,
    duplicate_content,
)


@gc_paused  # (the detectors' passes build large acyclic maps and lists)
def detect_all(inspection: Inspection, config: Image | None = None) -> tuple[Finding, ...]:
    """Every finding of `inspection`, the most severe and then the largest first.

    `config` is the image as its source gave it, secrets in its config text included
    (the inspection's own image has them hidden); only the secret detectors read it.
    """
    facts = Facts(inspection, config)
    found: list[Finding] = []
    for detector in DETECTORS:
        found.extend(detector.detect(inspection, facts))
    return tuple(sorted(found, key=lambda f: (-f.severity.rank, -f.bytes, f.id, f.title)))


__all__ = ["DETECTORS", "Finding", "Severity", "detect_all"]
