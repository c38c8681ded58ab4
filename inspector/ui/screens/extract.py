"""ExtractScreen: ask where to write a file or directory of the image (Enter, or Esc)."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from inspector.ui.rows import shown_path
from inspector.ui.widgets.footer import QuietFooter


class ExtractScreen(ModalScreen[str | None]):
    """Dismisses with the destination typed, or None when cancelled."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, path: str, layer: int, default: str) -> None:
        super().__init__()
        self.path = path
        self.layer_no = layer
        self.default = default

    def compose(self) -> ComposeResult:
        with Vertical(id="extract-dialog") as dialog:
            # Text, not a string: a title string would be read as markup
            dialog.border_title = Text(f"Extract {shown_path(self.path)} (layer {self.layer_no})")
            dialog.border_subtitle = "Enter extracts · Esc cancels"
            yield Static("Write it to (a new path; an existing one is never overwritten):")
            yield Input(self.default, id="extract-destination", select_on_focus=False)
        yield QuietFooter()  # this dialog's keys, not those of the screen below

    @on(Input.Submitted)
    def submitted(self, event: Input.Submitted) -> None:
        destination = event.value.strip()
        self.dismiss(destination or None)

    def action_cancel(self) -> None:
        self.dismiss(None)
