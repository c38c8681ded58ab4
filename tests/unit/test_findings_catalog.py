"""docs/findings.md is what the detectors say about themselves."""

from __future__ import annotations

from pathlib import Path

from inspector.findings import DETECTORS
from inspector.findings.catalog import catalog

DOC = Path(__file__).resolve().parents[2] / "docs" / "findings.md"


def test_the_page_is_up_to_date() -> None:
    assert DOC.read_text() == catalog(), "run: python scripts/findings_doc.py"


def test_every_detector_has_a_kebab_case_id_a_docstring_and_an_example() -> None:
    ids = [detector.ID for detector in DETECTORS]
    assert len(set(ids)) == len(ids)
    for detector in DETECTORS:
        assert detector.ID.lower() == detector.ID
        assert " " not in detector.ID
        assert detector.__doc__ is not None
        assert detector.__doc__.startswith(f"`{detector.ID}`: ")
        assert "Fix" in detector.__doc__
        assert detector.EXAMPLE.strip()
        assert f"## `{detector.ID}`" in catalog()
