"""The fleet report in the terminal: `inspector audit show --ui` (and `inspector audit --ui`).

One tab per section of the report (render.tables: the same rows as the text report, image
text already through `display.clean`), the totals above them. Cells are `rich.text.Text`,
never markup. Keys: Tab / Shift+Tab or the arrows move between the tab bar and a table,
1–8 open a section, q quits.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Footer, Static, TabbedContent, TabPane

from inspector.audit.render import summary, tables, title
from inspector.audit.report import FleetReport


class AuditApp(App[None]):
    """Browse a FleetReport."""

    CSS = """
    #totals { height: auto; padding: 0 1; border-bottom: solid $primary; }
    TabbedContent { height: 1fr; }
    TabPane { height: 1fr; padding: 0; }
    DataTable { height: 1fr; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit"),
        *(Binding(str(n), f"section({n})", show=False) for n in range(1, 9)),
    ]

    def __init__(self, report: FleetReport) -> None:
        super().__init__()
        self.report = report
        self.sections = tables(report)

    def compose(self) -> ComposeResult:
        yield Static(Text("\n".join([title(self.report), *summary(self.report)])), id="totals")
        with TabbedContent():
            for n, table in enumerate(self.sections, start=1):
                label = f"{n} {table.short} ({len(table.rows)})"
                with TabPane(label, id=f"section-{n}"):  # (our own words only)
                    yield DataTable(id=f"table-{n}", zebra_stripes=True, cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "inspector audit"
        for n, table in enumerate(self.sections, start=1):
            widget = self.query_one(f"#table-{n}", DataTable)
            widget.add_columns(*(Text(h) for h in table.header))
            if not table.rows:
                widget.add_row(Text(table.empty), *([Text("")] * (len(table.header) - 1)))
            for row in table.rows:
                widget.add_row(
                    *(
                        Text(value, justify="right" if i < table.right else "left")
                        for i, value in enumerate(row)
                    )
                )

    def action_section(self, n: int) -> None:
        if 1 <= n <= len(self.sections):
            self.query_one(TabbedContent).active = f"section-{n}"
            self.query_one(f"#table-{n}", DataTable).focus()


def run_audit_ui(report: FleetReport) -> int:
    AuditApp(report).run()
    return 0
