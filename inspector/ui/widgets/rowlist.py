"""RowList: a virtual list with a row cursor, the shared base of every list pane.

Only the lines on screen are rendered (Textual's line API), so a list of 100,000 rows
costs what its visible rows cost. The cursor is clamped on every move: no key, page
or click can point it past the last row (dive panics on page-down at the last layer).
"""

from __future__ import annotations

from typing import ClassVar

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Static


def fit(text: str, width: int, align: str = "left") -> str:
    """`text` in exactly `width` cells: padded, or cut with an ellipsis."""
    if width <= 0:
        return ""
    length = cell_len(text)
    if length > width:
        return set_cell_size(text, width - 1) + "…" if width > 1 else "…"
    pad = " " * (width - length)
    return pad + text if align == "right" else text + pad


def set_virtual_size(view: ScrollView, size: Size) -> None:
    """Set `view.virtual_size` without laying out the screen unless the scrollbars change.

    `virtual_size` is a layout reactive: assigning it re-arranges the whole screen (tens of
    milliseconds), although a line-API view only needs its scrollbars updated and a
    repaint. Showing or hiding a scrollbar still lays out (its reactive asks for it).
    """
    if size == view.virtual_size:
        return
    view.set_reactive(Widget.virtual_size, size)
    if view.is_mounted:
        view._scroll_update(size)  # scrollbar visibility, sizes, clamped scroll offsets
    view.refresh()


class RowList(ScrollView, can_focus=True):
    """Rows drawn by `render_row`; the cursor is `cursor` (0 when empty)."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "rowlist--cursor",
        "rowlist--cursor-blurred",
        "rowlist--dim",
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor_up", "Up", show=False),
        Binding("down,j", "cursor_down", "Down", show=False),
        Binding("pageup,u", "page_up", "Page up", show=False),
        Binding("pagedown,d", "page_down", "Page down", show=False),
        Binding("home,g", "first", "First", show=False),
        Binding("end,G", "last", "Last", show=False),
    ]

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.cursor = 0
        self.header: ListHeader | None = None
        self.empty_text = ""
        self._base_style: Style | None = None

    # ----------------------------------------------------------------- for subclasses
    @property
    def row_count(self) -> int:
        return 0

    def render_row(self, index: int, width: int) -> list[Segment]:
        """The segments of row `index` (styles without the cursor highlight)."""
        return []

    def render_header(self, width: int) -> str:
        """The column titles shown by `header` (markup allowed)."""
        return ""

    def cursor_moved(self, index: int) -> None:
        """Called after the cursor moved (or the rows under it changed)."""

    def activate(self, index: int) -> None:
        """Enter on a row, or a click on the row under the cursor."""

    def header_clicked(self, key: str) -> None:
        """A column title was clicked."""

    # ----------------------------------------------------------------- the cursor
    def rows_changed(self, keep: int | None = None) -> None:
        """The rows were rebuilt; put the cursor on `keep` (clamped) and redraw."""
        count = self.row_count
        set_virtual_size(self, Size(self.size.width, count))
        target = self.cursor if keep is None else keep
        self.cursor = max(0, min(target, count - 1))
        self._scroll_to_cursor()
        self.refresh()
        self.refresh_header()
        self.cursor_moved(self.cursor)

    def refresh_header(self) -> None:
        if self.header is not None:
            self.header.show(self.render_header(self.layout_width))

    def move_cursor(self, index: int) -> None:
        count = self.row_count
        index = max(0, min(index, count - 1))
        if index == self.cursor:
            return
        self.refresh_row(self.cursor)
        self.cursor = index
        self.refresh_row(index)
        self._scroll_to_cursor()
        self.cursor_moved(index)

    def refresh_row(self, index: int) -> None:
        y = index - self.scroll_offset.y
        if 0 <= y < self.size.height:
            self.refresh_line(y)

    @property
    def layout_width(self) -> int:
        """The width column layouts are decided for: the whole widget, so that the rows
        (narrower by a scrollbar once they overflow) and the header always agree."""
        return max(self.size.width, 1)

    @property
    def page(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def _scroll_to_cursor(self) -> None:
        height = self.scrollable_content_region.height
        if height <= 0:
            return
        top = self.scroll_offset.y
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + height:
            self.scroll_to(y=self.cursor - height + 1, animate=False, immediate=True)

    def action_cursor_up(self) -> None:
        self.move_cursor(self.cursor - 1)

    def action_cursor_down(self) -> None:
        self.move_cursor(self.cursor + 1)

    def action_page_up(self) -> None:
        self.move_cursor(self.cursor - self.page)

    def action_page_down(self) -> None:
        self.move_cursor(self.cursor + self.page)

    def action_first(self) -> None:
        self.move_cursor(0)

    def action_last(self) -> None:
        self.move_cursor(self.row_count - 1)

    def action_activate(self) -> None:
        if self.row_count:
            self.activate(self.cursor)

    # ----------------------------------------------------------------- events
    def on_resize(self, event: events.Resize) -> None:
        set_virtual_size(self, Size(event.size.width, self.row_count))
        self._scroll_to_cursor()
        self.refresh_header()

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        index = offset.y + self.scroll_offset.y
        if not 0 <= index < self.row_count:
            return
        if index == self.cursor:
            self.activate(index)
        else:
            self.move_cursor(index)

    def on_focus(self) -> None:
        self._base_style = None
        self.refresh()

    def on_blur(self) -> None:
        self._base_style = None
        self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._base_style = None

    @property
    def base_style(self) -> Style:
        """`rich_style`, kept: it walks every ancestor, and `render_line` wants it per line."""
        if self._base_style is None:
            self._base_style = self.rich_style
        return self._base_style

    # ----------------------------------------------------------------- drawing
    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        index = y + self.scroll_offset.y
        base = self.base_style
        if width <= 0:
            return Strip.blank(0, base)
        if index >= self.row_count:
            if index == 0 and self.empty_text:
                dim = self.get_component_rich_style("rowlist--dim", partial=True)
                return Strip([Segment(fit(self.empty_text, width), base + dim)])
            return Strip.blank(width, base)
        segments = self.render_row(index, width)
        if index == self.cursor:
            used = sum(cell_len(s.text) for s in segments)
            if used < width:
                segments.append(Segment(" " * (width - used)))
            name = "rowlist--cursor" if self.has_focus else "rowlist--cursor-blurred"
            highlight = self.get_component_rich_style(name, partial=True)
            segments = [Segment(s.text, _over(s.style, highlight)) for s in segments]
        # one Strip per line (each Strip builds seven small caches): the base style and
        # the exact width applied here instead of by `apply_style` and `crop_extend`
        line = Segment.adjust_line_length(segments, width)
        return Strip([Segment(s.text, base + s.style if s.style else base) for s in line], width)


def _over(style: Style | None, top: Style) -> Style:
    return top if style is None else style + top


class ListHeader(Static):
    """The column titles above a RowList; `@click=header('key')` links call the list."""

    def __init__(self, owner: RowList, *, id: str | None = None) -> None:
        super().__init__("", id=id, markup=True)
        self.owner = owner
        owner.header = self
        self._shown = ""

    def show(self, markup: str) -> None:
        """Show `markup`; no layout (the header is one line as wide as its list)."""
        if markup != self._shown:
            self._shown = markup
            self.update(markup, layout=False)

    def action_header(self, key: str) -> None:
        self.owner.header_clicked(key)
