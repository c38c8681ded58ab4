"""HelpScreen: every key, grouped by the pane it works in."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    (
        "Everywhere",
        (
            ("Tab / Shift+Tab", "switch pane (layers, file tree, details)"),
            ("Ctrl+F or /", "filter paths (Esc closes and clears, Enter keeps it)"),
            ("n / N", "next / previous match"),
            ("f", "findings: what to fix, with the evidence and the fix"),
            ("z", "maximize or restore the focused pane"),
            ("? or F1", "this help"),
            ("Ctrl+P", "command palette"),
            ("q / Ctrl+C", "quit (also while loading)"),
            ("↑↓ j k", "move"),
            ("PgUp PgDn u d", "page"),
            ("Home End g G", "first / last"),
        ),
    ),
    (
        "Layers",
        (
            ("Ctrl+L", "file tree shows this layer's changes"),
            ("Ctrl+A", "file tree shows aggregated changes since the base layer"),
            ("b", "make the layer under the cursor the base of the aggregated view"),
            ("← → h l", "previous / next details tab"),
            ("Enter", "go to the file tree"),
        ),
    ),
    (
        "File tree",
        (
            ("Space / Enter", "collapse or expand the directory"),
            ("Ctrl+Space", "collapse all / expand all"),
            ("← h  / → l", "parent (or collapse) / expand and descend"),
            ("Ctrl+A", "hide / show added"),
            ("Ctrl+R", "hide / show removed"),
            ("m", "hide / show modified (dive's Ctrl+M is Enter in terminals)"),
            ("Ctrl+U", "hide / show unmodified"),
            ("Ctrl+B", "hide / show the attribute columns"),
            ("Ctrl+O", "sort by name or by size"),
            ("Enter / v", "view the file as its layer stored it (text, or hex with its type)"),
            ("x / Ctrl+E", "extract the file, or the directory as the view shows it, to disk"),
            ("click", "select; click again to open or close a directory"),
        ),
    ),
    (
        "Findings",
        (
            ("↑↓ j k", "select a finding: its details show below the list"),
            ("Enter", "show it: its last layer, and its largest path in the tree"),
            ("Tab", "the selected finding's details (scroll them)"),
        ),
    ),
    (
        "Wasted space",
        (
            ("Enter", "show the file in the tree, at the layer that stored it"),
            ("o", "show it at the layer that hid it"),
            ("s / S", "next sort column / reverse (or click a column title)"),
        ),
    ),
    (
        "Filter bar",
        (
            ("Ctrl+T", "switch between regex (dive's) and glob patterns"),
            ("<10MB >1k", "size conditions, alone or after a pattern"),
            ("lowercase", "ignores case; any capital makes it exact"),
        ),
    ),
)


Keys = tuple[tuple[str, tuple[tuple[str, str], ...]], ...]


def help_table(keys: Keys = KEYS) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for section, rows in keys:
        table.add_row(Text(section, "bold underline"), "")
        for key, action in rows:
            table.add_row(key, action)
        table.add_row("", "")
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark,f1", "dismiss", "Close"),
    ]

    def __init__(self, keys: Keys = KEYS) -> None:
        super().__init__()
        self.keys = keys

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-dialog") as dialog:
            dialog.border_title = "Keys"
            dialog.border_subtitle = "Esc closes"
            yield Static(help_table(self.keys))
