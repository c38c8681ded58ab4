"""FilterBar: the path filter input, its pattern mode and the match count."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from rich.cells import cell_len
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Input, Static

from inspector.ui.pathfilter import PathQuery, PatternMode, parse_query


class FilterBar(Horizontal):
    """`Filter regex: <input>  12 matches`; posts `Changed`, `Accepted` and `Closed`.

    The label names what the typed filter tests (`PathQuery.kind`): `regex` or `glob` for
    a path pattern, `size` for size conditions alone, `glob + size` for both."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close filter"),
        Binding("enter", "accept", "Keep filter"),
        Binding("ctrl+t", "toggle_mode", "Regex/glob"),
    ]

    @dataclass
    class Changed(Message):
        query: PathQuery | None

    @dataclass
    class Accepted(Message):
        query: PathQuery | None

    @dataclass
    class Closed(Message):
        pass

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.mode = PatternMode.REGEX
        self.query_: PathQuery | None = None
        self._status = ""  # the text of #filter-status
        self._label = self._mode_label()  # the text of #filter-mode

    def compose(self) -> ComposeResult:
        yield Static(self._label, id="filter-mode")
        yield Input(placeholder="path pattern, >10MB …", id="filter-input", compact=True)
        yield Static("", id="filter-status")

    def _mode_label(self) -> str:
        kind = self.query_.kind if self.query_ is not None else str(self.mode)
        return f"[@click=toggle_mode]Filter [b]{kind}[/b][/]: "

    def _show_kind(self) -> None:
        label = self._mode_label()
        if label != self._label:  # a new width lays the bar out again: only when it changed
            self._label = label
            self.query_one("#filter-mode", Static).update(label)

    @property
    def input(self) -> Input:
        return self.query_one("#filter-input", Input)

    def open(self) -> None:
        self.display = True
        self.input.focus()

    def set_status(self, text: str, error: bool = False) -> None:
        status = self.query_one("#filter-status", Static)
        if text == self._status:
            status.set_class(error, "-error")
            return
        # the status is as wide as its text: only a new width needs a layout of the screen
        plain = "[" not in text and "[" not in self._status  # no markup: width = cell length
        status.update(text, layout=not plain or cell_len(text) != cell_len(self._status))
        self._status = text
        status.set_class(error, "-error")

    def apply(self, query: PathQuery | None, set_query: Callable[[PathQuery | None], int]) -> bool:
        """Give `query` to a tree (`set_query` returns its count of matches) and show the
        outcome: the count, or the query's error (the tree then keeps its query; False)."""
        if query is not None and query.error is not None:
            self.set_status(query.error, error=True)
            return False
        count = set_query(query)
        if query is None or not query.active:
            self.set_status("")
        else:
            self.set_status(f"{count:,} match{'es' if count != 1 else ''}  n/N next/prev")
        return True

    def parse(self) -> PathQuery | None:
        text = self.input.value
        if not text.strip():
            return None
        return parse_query(text, self.mode)

    @on(Input.Changed, "#filter-input")
    def _changed(self, event: Input.Changed) -> None:
        event.stop()
        self.query_ = self.parse()
        self._show_kind()
        self.post_message(self.Changed(self.query_))

    @on(Input.Submitted, "#filter-input")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_accept()

    def action_accept(self) -> None:
        self.post_message(self.Accepted(self.query_))

    def action_close(self) -> None:
        self.input.value = ""
        self.query_ = None
        self._show_kind()
        self.display = False
        self.post_message(self.Closed())

    def action_toggle_mode(self) -> None:
        self.mode = PatternMode.GLOB if self.mode is PatternMode.REGEX else PatternMode.REGEX
        self.query_ = self.parse()
        self._show_kind()
        self.post_message(self.Changed(self.query_))
