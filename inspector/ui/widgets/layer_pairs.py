"""LayerPairs: OLD's and NEW's layer stacks side by side, aligned as the diff aligns them.

Each row is one `LayerPair`: OLD's index, stored size and command, the status, NEW's
index, stored size (`*`: a blob OLD lacks, pulled and pushed) and command. The shared
prefix has a bar in the gutter and the first divergent layer an arrow.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding, BindingType
from textual.message import Message

from inspector import formatting
from inspector.diff import Layer, LayerStatus
from inspector.ui.diffrows import Mark, PairRow
from inspector.ui.widgets.rowlist import RowList, fit

STATUS_CLASS = {
    LayerStatus.SHARED: "pairs--shared",
    LayerStatus.REBUILT_IDENTICAL: "pairs--rebuilt",
    LayerStatus.CHANGED: "pairs--changed",
    LayerStatus.ADDED: "pairs--added",
    LayerStatus.REMOVED: "pairs--removed",
}
GUTTER = {Mark.PREFIX: "┃ ", Mark.DIVERGENT: "▶ ", Mark.AFTER: "  "}
INDEX_WIDTH, STORED_WIDTH, STATUS_WIDTH = 3, 8, len("rebuilt-identical")
SEPARATOR = " │ "
_MIN_COMMAND = 12


@dataclass(frozen=True, slots=True)
class PairLayout:
    """Column widths for a width: the stored sizes only when the commands keep room."""

    stored: bool
    command: int  # cells of each side's command


def pair_layout(width: int) -> PairLayout:
    fixed = 2 + len(SEPARATOR) * 2 + STATUS_WIDTH
    side = INDEX_WIDTH + 1 + STORED_WIDTH + 2  # index, space, size, pulled mark, space
    if width - fixed - 2 * side >= 2 * _MIN_COMMAND:
        return PairLayout(True, (width - fixed - 2 * side) // 2)
    side = INDEX_WIDTH + 3
    return PairLayout(False, max((width - fixed - 2 * side) // 2, 1))


class LayerPairs(RowList):
    """The aligned layers; posts `Selected` when the cursor moves."""

    COMPONENT_CLASSES: ClassVar[set[str]] = RowList.COMPONENT_CLASSES | {
        *STATUS_CLASS.values(),
        "pairs--prefix",
        "pairs--divergent",
        "pairs--pulled",
        "pairs--absent",
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "activate", "Files", show=False),
    ]

    @dataclass
    class Selected(Message):
        """The cursor is on row `index` (`row` is what it shows)."""

        index: int
        row: PairRow

    @dataclass
    class Activated(Message):
        """Enter (or a second click) on a row."""

        index: int

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.items: list[PairRow] = []
        self.empty_text = "Reading OLD…"

    @property
    def row_count(self) -> int:
        return len(self.items)

    def set_rows(self, rows: Sequence[PairRow], cursor: int = 0) -> None:
        self.items = list(rows)
        self.rows_changed(cursor)

    def cursor_moved(self, index: int) -> None:
        if self.items:
            self.post_message(self.Selected(index, self.items[index]))

    def activate(self, index: int) -> None:
        self.post_message(self.Activated(index))

    def render_header(self, width: int) -> str:
        if not self.items:
            return ""
        shape = pair_layout(width)

        def side(name: str) -> str:
            stored = fit("Stored", STORED_WIDTH, "right") if shape.stored else ""
            command = fit("Command", shape.command)
            return f"{fit(name, INDEX_WIDTH, 'right')} {stored}  {command}"

        status = fit("Status", STATUS_WIDTH)
        return f"  {side('Old')}{SEPARATOR}{status}{SEPARATOR}{side('New')}".rstrip()

    def render_row(self, index: int, width: int) -> list[Segment]:
        row = self.items[index]
        shape = pair_layout(self.layout_width)

        def style(name: str) -> Style:
            return self.get_component_rich_style(name, partial=True)

        gutter_style = {
            Mark.PREFIX: style("pairs--prefix"),
            Mark.DIVERGENT: style("pairs--divergent"),
            Mark.AFTER: Style(),
        }[row.mark]
        status_style = style(STATUS_CLASS[row.status])
        strong = style("pairs--divergent") if row.mark is Mark.DIVERGENT else Style()
        segments = [Segment(GUTTER[row.mark], gutter_style)]
        segments += self._side(row.pair.old, row.old_command, False, shape, style)
        segments.append(Segment(SEPARATOR, style("pairs--absent")))
        segments.append(Segment(fit(row.status.value, STATUS_WIDTH), status_style + strong))
        segments.append(Segment(SEPARATOR, style("pairs--absent")))
        segments += self._side(row.pair.new, row.new_command, row.pair.pulled, shape, style)
        return segments

    def _side(
        self,
        layer: Layer | None,
        command: str,
        pulled: bool,
        shape: PairLayout,
        style: Callable[[str], Style],
    ) -> list[Segment]:
        if layer is None:
            blank = INDEX_WIDTH + 3 + (STORED_WIDTH if shape.stored else 0) + shape.command
            return [Segment(fit(fit("-", INDEX_WIDTH, "right"), blank), style("pairs--absent"))]
        segments = [Segment(fit(str(layer.index), INDEX_WIDTH, "right") + " ")]
        if shape.stored:
            segments.append(
                Segment(fit(formatting.size(layer.stored_bytes), STORED_WIDTH, "right"))
            )
        segments.append(Segment("*" if pulled else " ", style("pairs--pulled")))
        segments.append(Segment(" "))
        segments.append(Segment(fit(command, shape.command)))
        return segments
