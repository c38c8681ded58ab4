"""WastedTable: every stored file the final file system never shows, sortable."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.segment import Segment
from textual.binding import Binding, BindingType
from textual.message import Message

from inspector import formatting
from inspector.analysis import WastedFile
from inspector.changes import Removal
from inspector.ui.rows import WastedSort, shown_path, sort_wasted
from inspector.ui.widgets.rowlist import RowList, fit

HOW = {
    Removal.DELETED: "deleted",
    Removal.PARENT_DELETED: "dir deleted",
    Removal.OPAQUE: "opaque dir",
    Removal.REPLACED: "replaced",
}
_COLUMNS: tuple[tuple[WastedSort, str, int, str], ...] = (
    (WastedSort.SIZE, "Size", 8, "right"),
    (WastedSort.STORED, "Stored", 6, "right"),
    (WastedSort.HIDDEN, "Hidden", 6, "right"),
    (WastedSort.HOW, "How", 11, "left"),
)
_ORDER = (WastedSort.SIZE, WastedSort.PATH, WastedSort.STORED, WastedSort.HIDDEN, WastedSort.HOW)


class WastedTable(RowList):
    """Path, bytes, the layer that stored it, the layer that hid it, and how."""

    COMPONENT_CLASSES: ClassVar[set[str]] = RowList.COMPONENT_CLASSES | {"wasted--size"}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "activate", "Show in tree"),
        Binding("o", "jump_hidden", "Show where hidden"),
        Binding("s", "cycle_sort", "Sort"),
        Binding("S", "reverse_sort", "Reverse", show=False),
    ]

    @dataclass
    class Jump(Message):
        """Show `file` in the tree, at the layer that stored it (or that hid it)."""

        file: WastedFile
        hidden: bool = False

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.files: list[WastedFile] = []
        self.sort = WastedSort.SIZE
        self.reverse = False
        self.empty_text = "Waiting for the analysis…"

    @property
    def row_count(self) -> int:
        return len(self.files)

    def set_files(self, files: Sequence[WastedFile]) -> None:
        self.files = sort_wasted(files, self.sort, self.reverse)
        self.empty_text = "No wasted files: every stored byte is visible."
        self.rows_changed(0)

    def set_sort(self, key: WastedSort, reverse: bool | None = None) -> None:
        if reverse is None:
            reverse = not self.reverse if key is self.sort else False
        self.sort, self.reverse = key, reverse
        current = self.files[self.cursor] if self.files else None
        self.files = sort_wasted(self.files, key, reverse)
        self.rows_changed(self.files.index(current) if current is not None else 0)

    def header_clicked(self, key: str) -> None:
        self.set_sort(WastedSort(key))

    def action_cycle_sort(self) -> None:
        following = _ORDER[(_ORDER.index(self.sort) + 1) % len(_ORDER)]
        self.set_sort(following, False)

    def action_reverse_sort(self) -> None:
        self.set_sort(self.sort, not self.reverse)

    def activate(self, index: int) -> None:
        self.post_message(self.Jump(self.files[index]))

    def action_jump_hidden(self) -> None:
        if self.files:
            self.post_message(self.Jump(self.files[self.cursor], hidden=True))

    def render_header(self, width: int) -> str:
        arrow = "▲" if self.reverse else "▼"
        parts = []
        for key, title, size, align in _COLUMNS:
            text = fit(title + (arrow if key is self.sort else ""), size, align)
            parts.append(f"[@click=header('{key}')]{text}[/]")
        path = "Path" + (arrow if self.sort is WastedSort.PATH else "")
        parts.append(f"[@click=header('{WastedSort.PATH}')]{path}[/]")
        return " ".join(parts)

    def render_row(self, index: int, width: int) -> list[Segment]:
        item = self.files[index]
        cells = [
            fit(formatting.size(item.size), 8, "right"),
            fit(str(item.stored_in), 6, "right"),
            fit(str(item.hidden_by), 6, "right"),
            fit(HOW[item.how], 11),
        ]
        head = " ".join(cells) + " "
        size_style = self.get_component_rich_style("wasted--size", partial=True)
        return [
            Segment(head[:9], size_style),
            Segment(head[9:]),
            Segment(fit(shown_path(item.path), max(width - len(head), 1)).rstrip()),
        ]
