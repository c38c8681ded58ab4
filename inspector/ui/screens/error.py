"""ErrorScreen: a load error, shown as the one line the CLI prints (`display.one_line`)."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from inspector.display import clean, one_line


class ErrorScreen(ModalScreen[None]):
    """Title, message and a Quit button; any of q, Esc or Enter quits."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q,escape,enter", "dismiss", "Quit"),
    ]

    def __init__(self, title: str, message: str) -> None:
        super().__init__()
        self.title_text = title
        self.message = message

    def compose(self) -> ComposeResult:
        with Vertical(id="error-dialog") as dialog:
            dialog.border_title = Text(clean(self.title_text))
            message = one_line(self.message)
            yield Static(f"inspector: {message}", id="error-message", markup=False)
            yield Button("Quit", id="error-quit", variant="error")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss()
