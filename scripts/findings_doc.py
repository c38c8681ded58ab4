"""Write docs/findings.md from the detectors (run after changing one)."""

from __future__ import annotations

from pathlib import Path

from inspector.findings.catalog import catalog

if __name__ == "__main__":
    target = Path(__file__).resolve().parents[1] / "docs" / "findings.md"
    target.write_text(catalog())
    print(f"wrote {target}")
