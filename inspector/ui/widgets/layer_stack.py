"""LayerStack: one row per layer with its sizes, change counts, waste and command."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding, BindingType
from textual.message import Message

from inspector import formatting
from inspector.ui.rows import LayerRow
from inspector.ui.widgets.rowlist import RowList, fit


@dataclass(frozen=True, slots=True)
class _Column:
    key: str
    title: str
    align: str = "right"


_NUMBER = _Column("index", "#")
_STORED = _Column("stored", "Stored")
_SIZE = _Column("size", "Size")
_TOTAL = _Column("total", "Total")
_CHANGES = _Column("changes", "+Add ~Mod -Del", "left")
_WASTED = _Column("wasted", "Wasted")
# most useful first; the command takes what is left (at least _MIN_COMMAND cells)
_PRIORITY = (_NUMBER, _SIZE, _CHANGES, _WASTED, _STORED, _TOTAL)
_ORDER = (_NUMBER, _STORED, _SIZE, _TOTAL, _CHANGES, _WASTED)
_MIN_COMMAND = 12


def size_cell(n: int | None) -> str:
    """A size as everywhere else (`formatting.size`: `24.5 MB`); `…` while not known."""
    return "…" if n is None else formatting.size(n)


def cell_text(row: LayerRow, key: str) -> str:
    if key == "index":
        return str(row.position)
    if key == "stored":
        return size_cell(row.stored)
    if key == "size":
        return size_cell(row.contribution)
    if key == "total":
        return size_cell(row.cumulative)
    if key == "wasted":
        return size_cell(row.wasted)
    if key == "changes":
        if row.added is None or row.modified is None or row.removed is None:
            return "…"
        return f"+{row.added} ~{row.modified} -{row.removed}"
    return ""


def layout(rows: Sequence[LayerRow], width: int) -> list[tuple[_Column, int]]:
    """The columns that fit in `width` cells with their widths, in display order."""
    widths = {
        column.key: max([len(column.title)] + [len(cell_text(r, column.key)) for r in rows])
        for column in _PRIORITY
    }
    if len(_CHANGES.title) > widths["changes"]:
        widths["changes"] = len(_CHANGES.title)
    used = 2 + 2  # the bar and the shared marker
    chosen: set[str] = set()
    for column in _PRIORITY:
        need = widths[column.key] + 1
        if used + need + _MIN_COMMAND <= width or column is _NUMBER:
            chosen.add(column.key)
            used += need
    return [(c, widths[c.key]) for c in _ORDER if c.key in chosen]


class LayerStack(RowList):
    """The layers, base first; posts `Selected` when the cursor moves."""

    COMPONENT_CLASSES: ClassVar[set[str]] = RowList.COMPONENT_CLASSES | {
        "layers--base",
        "layers--shown",
        "layers--added",
        "layers--modified",
        "layers--removed",
        "layers--wasted",
        "layers--pending",
        "layers--shared",
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+l", "screen.layer_mode", "Layer changes"),
        Binding("ctrl+a", "screen.aggregated_mode", "Aggregated"),
        Binding("b", "screen.set_base", "Set base"),
        Binding("left,h", "screen.details_tab(-1)", "Prev details", show=False),
        Binding("right,l", "screen.details_tab(1)", "Next details", show=False),
        Binding("enter", "activate", "Files", show=False),
    ]

    @dataclass
    class Selected(Message):
        """The cursor is on layer `position`."""

        position: int

    @dataclass
    class Activated(Message):
        """Enter (or a second click) on layer `position`."""

        position: int

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.items: list[LayerRow] = []
        self.shown: tuple[int, int] = (-1, 0)  # the view's (lo, hi)
        self.empty_text = "Reading the image…"
        self._layout: tuple[int, list[tuple[_Column, int]]] | None = None

    @property
    def row_count(self) -> int:
        return len(self.items)

    def set_layers(self, layers: Sequence[LayerRow]) -> None:
        self.items = list(layers)
        self._layout = None
        self.rows_changed(self.cursor)

    def set_shown(self, lo: int, hi: int) -> None:
        self.shown = (lo, hi)
        self.refresh()

    def cursor_moved(self, index: int) -> None:
        if self.items:
            self.post_message(self.Selected(index))

    def activate(self, index: int) -> None:
        self.post_message(self.Activated(index))

    def columns_for(self, width: int) -> list[tuple[_Column, int]]:
        if self._layout is None or self._layout[0] != width:
            self._layout = (width, layout(self.items, width))
        return self._layout[1]

    def render_header(self, width: int) -> str:
        if not self.items:
            return ""
        parts = [" "]
        for column, size in self.columns_for(width):
            title = column.title if column is not _CHANGES or size >= len(column.title) else "Chg"
            parts.append(fit(title, size, column.align))
        parts.append(" Command")
        return " ".join(parts)

    def render_row(self, index: int, width: int) -> list[Segment]:
        row = self.items[index]

        def style(name: str) -> Style:
            return self.get_component_rich_style(name, partial=True)

        lo, hi = self.shown
        if lo < index <= hi:
            bar = Segment("▌", style("layers--shown"))
        elif index <= lo:
            bar = Segment("▌", style("layers--base"))
        else:
            bar = Segment(" ")
        pending = style("layers--pending") if not row.indexed else Style()
        segments = [bar, Segment(" ")]
        used = 2
        for column, size in self.columns_for(self.layout_width):
            if column is _CHANGES and row.added is not None:
                segments.extend(self._changes(row, size, style))
            else:
                text = fit(cell_text(row, column.key), size, column.align)
                extra = style("layers--wasted") if column is _WASTED and row.wasted else Style()
                segments.append(Segment(text, pending + extra))
            segments.append(Segment(" "))
            used += size + 1
        marker = Segment("◆ ", style("layers--shared")) if row.shared else Segment("  ")
        segments.append(marker)
        used += 2
        segments.append(Segment(fit(row.command, max(width - used, 1)).rstrip(), pending))
        return segments

    def _changes(self, row: LayerRow, width: int, style: Callable[[str], Style]) -> list[Segment]:
        parts = [
            (f"+{row.added}", "layers--added"),
            (f"~{row.modified}", "layers--modified"),
            (f"-{row.removed}", "layers--removed"),
        ]
        text = " ".join(p for p, _ in parts)
        if len(text) > width:
            return [Segment(fit(text, width))]
        segments: list[Segment] = []
        for i, (part, name) in enumerate(parts):
            if i:
                segments.append(Segment(" "))
            zero = part[1:] == "0"
            segments.append(Segment(part, style("layers--pending" if zero else name)))
        segments.append(Segment(" " * (width - len(text))))
        return segments
