"""QuietFooter: the keys of the focused pane in one line, drawn by one widget.

Textual's Footer is a container of one `FooterKey` widget per key: every focus change
re-announces the bindings and it recomposes (unmounts and mounts a dozen widgets, then a
layout of the whole screen: tens of milliseconds on every Tab). This footer looks the
same (compact style, the same theme variables) but is a single line it repaints, and only
when the keys it shows changed.
"""

from __future__ import annotations

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
    """The active keys as `^F Filter  Tab Pane …`; a click on one presses it."""

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
        self._spans: list[tuple[int, int, FooterItem]] = []  # cells of each item
        self._hover: int | None = None  # the item under the mouse
        self._scroll_x = 0  # cells scrolled off on the left (the wheel scrolls long footers)
        self._length = 0  # cells the keys take

    # ----------------------------------------------------------------- the keys
    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self.bindings_changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

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
            self.refresh()

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
        if y != 0 or width <= 0:
            return Strip.blank(width, base)
        item_style = base + self.get_component_rich_style("footer--item")
        key_style = item_style + self.get_component_rich_style("footer--key")
        description_style = item_style + self.get_component_rich_style("footer--description")
        hover = Style(bgcolor=self.get_component_rich_style("footer--hover").bgcolor)
        dim = Style(dim=True)
        # between and after the keys: the background only, as Footer's container drew it
        gap = Style(bgcolor=base.bgcolor)
        segments: list[Segment] = []
        self._spans = []
        x = 0
        for index, item in enumerate(self.items):
            parts = [Segment(item.key_display, key_style)]
            if item.description:
                parts.append(Segment(" " + item.description, description_style))
            if index == self._hover:
                parts = [Segment(s.text, s.style + hover) for s in parts]  # type: ignore[operator]
            if not item.enabled:
                parts = [Segment(s.text, s.style + dim) for s in parts]  # type: ignore[operator]
            length = sum(cell_len(s.text) for s in parts)
            self._spans.append((x, x + length, item))
            segments.extend(parts)
            segments.append(Segment(" ", gap))
            x += length + 1
        self._length = x
        left = self._scroll_x = min(self._scroll_x, max(0, x - width))  # no blank at the end
        if x < left + width:
            segments.append(Segment(" " * (left + width - x), gap))
        return Strip(segments).crop(left, left + width)

    # ----------------------------------------------------------------- the mouse
    def _item_at(self, x: int) -> int | None:
        x += self._scroll_x
        for index, (start, end, _) in enumerate(self._spans):
            if start <= x < end:
                return index
        return None

    def on_mouse_move(self, event: events.MouseMove) -> None:
        offset = event.get_content_offset(self)
        self._set_hover(None if offset is None else self._item_at(offset.x))

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
        index = None if offset is None else self._item_at(offset.x)
        if index is None:
            return
        item = self.items[index]
        if item.enabled:
            self.app.simulate_key(item.key)
        else:
            self.app.bell()
