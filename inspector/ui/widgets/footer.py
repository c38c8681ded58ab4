"""QuietFooter: the keys of the focused pane, drawn by one widget.

Textual's Footer is a container of one `FooterKey` widget per key: every focus change
re-announces the bindings and it recomposes (unmounts and mounts a dozen widgets, then a
layout of the whole screen: tens of milliseconds on every Tab). This footer looks the
same (compact style, the same theme variables) but is one widget it repaints, and only
when the keys it shows changed.

Keys that do not fit in one line wrap, between keys, onto a second one (`MAX_LINES`); a
footer that needed two lines keeps them while the width stays, so Tab between a pane
with few keys and one with many does not move the panes up and down. Keys that do not fit
in two lines either stay on the last line, which the mouse wheel scrolls.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.screen import Screen
from textual.strip import Strip
from textual.widget import Widget


@dataclass(frozen=True, slots=True)
class FooterItem:
    """One key shown: `key_display description`; a click presses `key`."""

    key: str
    key_display: str
    description: str
    enabled: bool
    tooltip: str


MAX_LINES = 2


def wrap(lengths: Sequence[int], width: int, max_lines: int = MAX_LINES) -> list[list[int]]:
    """The items (their indexes) on each line, given each item's length in cells: as many
    as fit with one cell between them, a new line when the next does not fit; the last
    of `max_lines` lines takes all the rest."""
    lines: list[list[int]] = [[]]
    x = 0
    for index, length in enumerate(lengths):
        if lines[-1] and x + 1 + length > width and len(lines) < max_lines:
            lines.append([])
            x = 0
        x += length if not lines[-1] else 1 + length
        lines[-1].append(index)
    return lines


def footer_items(screen: Screen[object]) -> tuple[FooterItem, ...]:
    """The keys of `screen`'s active bindings, one per action: the app's and the screen's
    first (quit, help, switch pane, filter: as dive's footer starts with them, and what
    stays visible in a narrow terminal), then the focused pane's, in binding order."""
    general: list[FooterItem] = []
    pane: list[FooterItem] = []
    actions: set[str] = set()
    app = screen.app
    for node, binding, enabled, tooltip in screen.active_bindings.values():
        if not binding.show or binding.action in actions:
            continue
        actions.add(binding.action)
        item = FooterItem(
            binding.key,
            app.get_key_display(binding),
            binding.description,
            enabled,
            tooltip or binding.tooltip,
        )
        (general if node is app or node is screen else pane).append(item)
    return (*general, *pane)


class QuietFooter(Widget):
    """The active keys as `^F Filter  Tab Pane …`, wrapped between keys onto at most
    MAX_LINES lines; a click on one presses it."""

    ALLOW_SELECT = False
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "footer--item",
        "footer--key",
        "footer--description",
        "footer--hover",
    }
    DEFAULT_CSS = """
    QuietFooter {
        dock: bottom;
        height: 1;
        color: $footer-foreground;
        background: $footer-background;
    }
    QuietFooter > .footer--item {
        background: $footer-item-background;
    }
    QuietFooter > .footer--key {
        color: $footer-key-foreground;
        background: $footer-key-background;
        text-style: bold;
    }
    QuietFooter > .footer--description {
        color: $footer-description-foreground;
        background: $footer-description-background;
    }
    QuietFooter > .footer--hover {
        color: $footer-key-foreground;
        background: $block-hover-background;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.items: tuple[FooterItem, ...] = ()
        self._pending = False
        self._lines: list[list[int]] = []  # the items on each line, for the width
        self._spans: dict[int, list[tuple[int, int, int]]] = {}  # line: item cells, index
        self._hover: int | None = None  # the item under the mouse
        self._scroll_x = 0  # cells of the last line scrolled off on the left (the wheel)
        self._length = 0  # cells the last line's keys take
        self._reserved = (0, 1)  # (width, lines): the most lines needed at that width

    # ----------------------------------------------------------------- the keys
    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self.bindings_changed)
        self.app.screen_change_signal.subscribe(self, self.screen_changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)
        self.app.screen_change_signal.unsubscribe(self)

    def screen_changed(self, screen: Screen[object]) -> None:
        # under a dialog the keys do not apply, and a line of them would show through the
        # dialog's backdrop above the dialog's own footer: drawn blank until it closes
        self.refresh()

    def bindings_changed(self, screen: Screen[object]) -> None:
        # one deferred check per burst (a focus move announces the bindings twice or
        # more), compared when it runs; like Footer, nothing while the app has no focus
        if not screen.app.app_focus:
            return
        if self.is_attached and screen is self.screen and not self._pending:
            self._pending = True
            self.call_later(self._update_items)

    def _update_items(self) -> None:
        self._pending = False
        if not self.is_attached:
            return
        items = footer_items(self.screen)
        if items != self.items:
            self.items = items
            self._hover = None
            self._scroll_x = 0
            self._wrap()
            self.refresh()

    def on_resize(self) -> None:
        if self.size.width != self._reserved[0]:
            self._wrap()

    def _wrap(self) -> None:
        """Lay the items out in lines for the width; the height grows to the lines needed
        (and stays while the width does)."""
        width = self.size.width
        lengths = [_length(item) for item in self.items]
        self._lines = wrap(lengths, width) if width > 0 else [list(range(len(lengths)))]
        if width <= 0:
            return
        reserved_width, reserved = self._reserved
        lines = max(len(self._lines), reserved if reserved_width == width else 1)
        self._reserved = (width, lines)
        if self.styles.height is None or self.styles.height.value != lines:
            self.styles.height = lines

    @property
    def lines(self) -> list[str]:
        """The keys on each line as drawn, unscrolled (for tests)."""
        return [
            " ".join(_text(self.items[index]) for index in line) for line in self._lines if line
        ]

    def signature(self) -> tuple[tuple[str, str, bool], ...]:
        """What the footer shows (for tests): (key display, description, enabled) each."""
        return tuple((i.key_display, i.description, i.enabled) for i in self.items)

    # ----------------------------------------------------------------- drawing
    def notify_style_update(self) -> None:
        super().notify_style_update()
        self.refresh()

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base = self.rich_style
        if y >= len(self._lines) or width <= 0 or not self.screen.is_active:
            return Strip.blank(width, base)
        item_style = base + self.get_component_rich_style("footer--item")
        key_style = item_style + self.get_component_rich_style("footer--key")
        description_style = item_style + self.get_component_rich_style("footer--description")
        hover = Style(bgcolor=self.get_component_rich_style("footer--hover").bgcolor)
        dim = Style(dim=True)
        # between and after the keys: the background only, as Footer's container drew it
        gap = Style(bgcolor=base.bgcolor)
        segments: list[Segment] = []
        spans: list[tuple[int, int, int]] = []
        x = 0
        for index in self._lines[y]:
            item = self.items[index]
            parts = [Segment(item.key_display, key_style)]
            if item.description:
                parts.append(Segment(" " + item.description, description_style))
            if index == self._hover:
                parts = [Segment(s.text, s.style + hover) for s in parts]  # type: ignore[operator]
            if not item.enabled:
                parts = [Segment(s.text, s.style + dim) for s in parts]  # type: ignore[operator]
            length = _length(item)
            spans.append((x, x + length, index))
            segments.extend(parts)
            segments.append(Segment(" ", gap))
            x += length + 1
        self._spans[y] = spans
        left = 0
        if y == len(self._lines) - 1:  # only the last line can be wider than the footer
            self._length = x
            left = self._scroll_x = min(self._scroll_x, max(0, x - width))  # no blank at the end
        if x < left + width:
            segments.append(Segment(" " * (left + width - x), gap))
        return Strip(segments).crop(left, left + width)

    # ----------------------------------------------------------------- the mouse
    def _item_at(self, x: int, y: int) -> int | None:
        if y == len(self._lines) - 1:
            x += self._scroll_x
        for start, end, index in self._spans.get(y, ()):
            if start <= x < end:
                return index
        return None

    def on_mouse_move(self, event: events.MouseMove) -> None:
        offset = event.get_content_offset(self)
        self._set_hover(None if offset is None else self._item_at(offset.x, offset.y))

    def on_leave(self) -> None:
        self._set_hover(None)

    def _set_hover(self, index: int | None) -> None:
        if index == self._hover:
            return
        self._hover = index
        item = self.items[index] if index is not None else None
        self.tooltip = item.tooltip or None if item is not None else None
        self.refresh()

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        self._scroll_by(2, event)

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        self._scroll_by(-2, event)

    def _scroll_by(self, cells: int, event: events.MouseEvent) -> None:
        limit = max(0, self._length - self.size.width)
        scroll_x = max(0, min(self._scroll_x + cells, limit))
        if scroll_x != self._scroll_x:
            self._scroll_x = scroll_x
            self.refresh()
            event.stop()

    def on_mouse_down(self, event: events.MouseDown) -> None:
        offset = event.get_content_offset(self)
        index = None if offset is None else self._item_at(offset.x, offset.y)
        if index is None:
            return
        item = self.items[index]
        if item.enabled:
            self.app.simulate_key(item.key)
        else:
            self.app.bell()


def _text(item: FooterItem) -> str:
    return f"{item.key_display} {item.description}" if item.description else item.key_display


def _length(item: FooterItem) -> int:
    return cell_len(_text(item))
