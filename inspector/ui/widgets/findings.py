"""The findings tab: the list of what to fix, and the selected finding's details.

`FindingsTable` lists the image's findings in the order the detectors give them (errors
first, then by bytes): severity as a coloured word (readable without colour), the bytes
at stake and the title. Its rows are built once, when the analysis arrives. Enter posts
`Jump`: the screen moves the layer list and the file tree to the finding.

`FindingDetails` shows one finding: evidence, layers, top paths, and the fix with its
before / after lines. Every string a finding carries comes from the image (paths,
commands, evidence quoting them, fix lines built from them), so each is `clean`ed and put
in a `rich.text.Text`, never read as markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.console import Group, RenderableType
from rich.segment import Segment
from rich.table import Table
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.message import Message

from inspector import formatting
from inspector.display import clean
from inspector.findings import DETECTORS
from inspector.findings.model import Finding
from inspector.ui.rows import shown_path
from inspector.ui.widgets.details import SEVERITY_STYLE, DetailsPanel
from inspector.ui.widgets.rowlist import RowList, fit

SEVERITY_WIDTH = len("Severity")
BYTES_WIDTH = 8
MAX_LAYERS = 20  # layers a finding's details list (the rest are counted)
NO_FINDINGS = "No findings: the detectors found nothing to fix."


def bytes_cell(finding: Finding) -> str:
    """The bytes at stake, or a dash when a finding is not about bytes (a config secret)."""
    return formatting.size(finding.bytes) if finding.bytes else "—"


@dataclass(frozen=True, slots=True)
class FindingRow:
    """One finding as the list shows it: its cells, built (and `clean`ed) once."""

    finding: Finding
    severity: str
    size: str
    title: str


def finding_rows(findings: Sequence[Finding]) -> list[FindingRow]:
    return [
        FindingRow(
            finding,
            fit(finding.severity.value, SEVERITY_WIDTH),
            fit(bytes_cell(finding), BYTES_WIDTH, "right"),
            clean(finding.title),
        )
        for finding in findings
    ]


class FindingsTable(RowList):
    """Severity, bytes and title of each finding; Enter shows it in the layers and tree."""

    COMPONENT_CLASSES: ClassVar[set[str]] = RowList.COMPONENT_CLASSES | {
        "findings--error",
        "findings--warning",
        "findings--info",
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "activate", "Show in tree"),
    ]

    @dataclass
    class Highlighted(Message):
        """The cursor is on `finding` (None: there are none)."""

        finding: Finding | None

    @dataclass
    class Jump(Message):
        """Show `finding`: its layer in the layer list, its first path in the tree."""

        finding: Finding

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rows: list[FindingRow] = []
        self.empty_text = "Waiting for the analysis…"

    @property
    def row_count(self) -> int:
        return len(self.rows)

    @property
    def findings(self) -> list[Finding]:
        return [row.finding for row in self.rows]

    def set_findings(self, findings: Sequence[Finding]) -> None:
        """The image's findings, in the order given; the list is as tall as its rows."""
        self.rows = finding_rows(findings)
        self.empty_text = NO_FINDINGS
        self.styles.height = max(1, len(self.rows))  # once, when the analysis arrives
        self.rows_changed(0)

    def cursor_moved(self, index: int) -> None:
        self.post_message(self.Highlighted(self.rows[index].finding if self.rows else None))

    def activate(self, index: int) -> None:
        self.post_message(self.Jump(self.rows[index].finding))

    def render_header(self, width: int) -> str:
        if not self.rows:
            return ""
        return f"{fit('Severity', SEVERITY_WIDTH)} {fit('Bytes', BYTES_WIDTH, 'right')}  Finding"

    def render_row(self, index: int, width: int) -> list[Segment]:
        row = self.rows[index]
        style = self.get_component_rich_style(f"findings--{row.finding.severity}", partial=True)
        used = SEVERITY_WIDTH + 1 + BYTES_WIDTH + 2
        return [
            Segment(row.severity, style),
            Segment(f" {row.size}  "),
            Segment(fit(row.title, max(width - used, 1)).rstrip()),
        ]


def _grid() -> Table:
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    return grid


def _command(created_by: str) -> str:
    return clean(formatting.command(created_by)) or "(no history entry)"


class FindingDetails(DetailsPanel):
    """One finding: what it is, the proof, where, and what to change."""

    def show(self, finding: Finding | None) -> None:
        """`finding`; None (an image without findings): what the detectors look for."""
        if finding is None:
            checked = ", ".join(detector.ID for detector in DETECTORS)
            self.set_content(Text(f"Looked for: {checked}.", "dim"))
            return
        grid = _grid()
        grid.add_row(
            Text("Severity"), Text(finding.severity.value, SEVERITY_STYLE[finding.severity])
        )
        grid.add_row(Text("Finding"), Text(clean(finding.id)))
        if finding.bytes:
            grid.add_row(
                Text("Bytes"), Text(f"{formatting.size(finding.bytes)} ({finding.bytes:,} bytes)")
            )
        grid.add_row(Text("Evidence"), Text(clean(finding.evidence)))
        if finding.layers:
            grid.add_row(Text("Layers"), _layers(finding))
        if finding.paths:
            grid.add_row(Text("Paths"), _paths(finding))
        grid.add_row(Text("Fix"), _fix(finding))
        self.set_content(Group(Text(clean(finding.title), "bold"), grid))
        self.scroll_home(animate=False, immediate=True)  # a new finding reads from its title


def _layers(finding: Finding) -> RenderableType:
    table = Table.grid(padding=(0, 1))
    table.add_column(justify="right", no_wrap=True)
    table.add_column(overflow="fold")
    for ref in finding.layers[:MAX_LAYERS]:
        table.add_row(Text(str(ref.index)), Text(_command(ref.command)))
    more = len(finding.layers) - MAX_LAYERS
    if more > 0:
        table.add_row(Text(""), Text(f"and {more} more", "dim"))
    return table


def _paths(finding: Finding) -> RenderableType:
    table = Table.grid(padding=(0, 1))
    table.add_column(justify="right", no_wrap=True)
    table.add_column(overflow="fold")
    for ref in finding.paths:
        table.add_row(Text(formatting.size(ref.bytes)), Text(shown_path(ref.path)))
    shown = len(finding.paths)
    if finding.path_count > shown:
        note = f"the {shown} largest of {finding.path_count:,} paths"
    else:
        note = f"{finding.path_count:,} path{'s' if finding.path_count != 1 else ''} in all"
    table.add_row(Text(""), Text(note, "dim"))
    return table


def _fix(finding: Finding) -> RenderableType:
    """The fix's sentence, then its lines as a small diff: `-` before, `+` after."""
    fix = finding.fix
    parts: list[RenderableType] = [Text(clean(fix.text))]
    if fix.before or fix.after:
        block = Table.grid(padding=(0, 1))
        block.add_column(no_wrap=True)
        block.add_column(overflow="fold")
        for line in fix.before:
            block.add_row(Text("-", "red"), Text(clean(line), "red"))
        for line in fix.after:
            block.add_row(Text("+", "green"), Text(clean(line), "green"))
        parts.append(block)
    return Group(*parts)
