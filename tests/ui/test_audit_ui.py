"""The fleet report in the terminal (`inspector audit show --ui`), driven headless."""

from __future__ import annotations

import asyncio
from pathlib import Path

import services
from rich.text import Text
from textual.widgets import DataTable, TabbedContent

from inspector.audit.report import FleetReport, build
from inspector.audit.store import AuditStore
from inspector.audit.tasks import FindingRow, ImageResult, summarize
from inspector.changes import EntryType, FileEntry
from inspector.digest import Digest
from inspector.indexer import LayerIndex
from inspector.model import HistoryEntry, Image, LayerInfo
from inspector.ui.audit import AuditApp

HOSTILE = "\x1b]52;c;SGVsbG8=\x07evil[red]name"


def _report(tmp_path: Path) -> FleetReport:
    index = LayerIndex()
    index.entries["app/x"] = FileEntry("app/x", EntryType.FILE, 10, 0o644, 0, 0, 0, "", 5)
    index.digest, index.diff_id = Digest("sha256", "a" * 64), Digest("sha256", "b" * 64)
    index.compressed_size = index.uncompressed_size = 10
    info = LayerInfo(0, index.diff_id, index.digest, "tar", 10, HistoryEntry(created_by="ADD"))
    image = Image("x", (), Digest("sha256", "c" * 64), None, (info,), (HistoryEntry(),))
    result = ImageResult(10, 5, 5, 1, 0.5, 0.5, 5, (
        FindingRow("secret-in-image", "error", "t", 0, "github-token <16 chars>", (), 0, ()),
    ), ())  # fmt: skip
    store = AuditStore(str(tmp_path / "a.db"))
    try:
        store.add_layer(summarize(index), run=1)
        store.add_image(HOSTILE, "repo", "1", "registry", "k", image, result, {}, run=1)
        return build(store)
    finally:
        store.close()


def test_every_section_is_a_tab_and_image_text_is_clean(tmp_path: Path) -> None:
    report = _report(tmp_path)

    async def drive() -> tuple[str, list[str], str]:
        app = AuditApp(report)
        async with app.run_test(size=(120, 30)) as pilot:
            await pilot.press("7")  # the secrets
            await pilot.pause()
            active = app.query_one(TabbedContent).active
            table = app.query_one("#table-7", DataTable)
            cells = [
                cell.plain if isinstance(cell, Text) else str(cell) for cell in table.get_row_at(0)
            ]
            await pilot.press("1")
            await pilot.pause()
            return active, cells, app.query_one(TabbedContent).active

    active, cells, back = asyncio.run(drive())
    assert active == "section-7"
    assert back == "section-1"
    assert cells[1] == "secret-in-image"
    assert "\x1b" not in cells[0]
    assert cells[0].startswith("\\x1b]52;c;SGVsbG8=\\x07evil[red]name")  # shown, not obeyed


def test_ui_needs_a_terminal(tmp_path: Path) -> None:
    _report(tmp_path)
    done = services.run_cli("audit", "show", "--db", tmp_path / "a.db", "--ui")
    assert done.returncode == 2
    assert "--ui: needs a terminal" in done.stderr
