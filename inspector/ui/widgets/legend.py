"""Legend: the change-kind colours; a hidden kind is struck through, a click toggles it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import events
from textual.message import Message
from textual.widget import Widget

from inspector.changes import ChangeKind

ITEMS: tuple[tuple[ChangeKind, str], ...] = (
    (ChangeKind.ADDED, "added"),
    (ChangeKind.MODIFIED, "modified"),
    (ChangeKind.REMOVED, "removed"),
    (ChangeKind.UNCHANGED, "unmodified"),
)
SHORT_ITEMS = (*ITEMS[:3], (ChangeKind.UNCHANGED, "unmod"))


class Legend(Widget):
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "legend--added",
        "legend--modified",
        "legend--removed",
        "legend--unchanged",
        "legend--hidden",
    }

    @dataclass
    class Toggled(Message):
        kind: ChangeKind

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.hidden: frozenset[ChangeKind] = frozenset()
        self._spans: list[tuple[int, int, ChangeKind]] = []

    def set_hidden(self, hidden: Iterable[ChangeKind]) -> None:
        self.hidden = frozenset(hidden)
        self.refresh()

    def render(self) -> Text:
        text = Text()
        self._spans = []
        items, gap = ITEMS, "  "
        if sum(len(word) + 4 for _, word in ITEMS) - 2 > self.size.width:
            items, gap = SHORT_ITEMS, " "  # a narrow pane: every kind still shown
        for kind, word in items:
            if text:
                text.append(gap)
            start = len(text)
            if kind in self.hidden:
                style = self.get_component_rich_style("legend--hidden")
                text.append(f"■ {word}", style)
            else:
                text.append("■", self.get_component_rich_style(f"legend--{kind.value}"))
                text.append(f" {word}")
            self._spans.append((start, len(text), kind))
        return text

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        for start, end, kind in self._spans:
            if start <= offset.x < end:
                self.post_message(self.Toggled(kind))
                return
