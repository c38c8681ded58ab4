"""A path's history in one image of a diff, and the choice of the image.

`HistoryScreen` is the main UI's file history (`FileDetails`: the path's attributes and
every layer that stored, changed or removed it) read from that image's own `FileTree`,
with each layer's command beside it. `SideChoice` asks OLD or NEW.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from inspector.display import clean
from inspector.inspection import Inspection
from inspector.tree import FileTree, Node
from inspector.ui.rows import layer_command, shown_path
from inspector.ui.widgets.details import FileDetails
from inspector.ui.widgets.footer import QuietFooter


def last_state(tree: FileTree, path: str) -> tuple[Node, int, int] | None:
    """The node of the last layer that stored, changed or removed `path`, as that layer's
    view shows it (None: no layer ever had it)."""
    history = tree.history(path)
    if not history:
        return None
    layer = history[-1].layer
    node = tree.node(path, layer - 1, layer)
    return (node, layer - 1, layer) if node is not None else None


class HistoryScreen(ModalScreen[None]):
    """`path` through the layers of one image (`side` is `OLD` or `NEW`)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q", "dismiss", "Close")]

    def __init__(self, path: str, side: str, tree: FileTree, inspection: Inspection) -> None:
        super().__init__()
        self.path = path
        self.side = side
        self.files = tree
        self.inspection = inspection

    def compose(self) -> ComposeResult:
        with Vertical(id="history-dialog") as dialog:
            label = clean(self.inspection.image.label)
            # Text: a title string would be read as markup
            dialog.border_title = Text(f"{shown_path(self.path)} in {self.side} · {label}")
            dialog.border_subtitle = "Esc closes"
            yield FileDetails("", id="history-details")
        yield QuietFooter()

    def on_mount(self) -> None:
        details = self.query_one(FileDetails)
        state = last_state(self.files, self.path)
        if state is None:
            message = f"{self.side} never has {shown_path(self.path)}: no layer of it stores it."
            details.set_content(Text(message))
        else:
            node, lo, hi = state
            commands = [layer_command(info) for info in self.inspection.image.layers]
            details.show(node, self.files.history(self.path), lo, hi, commands)
        details.focus()
        # the dialog is as tall as the lines (up to its max-height); they are laid out once
        # the panel has its width, without a layout of the screen: ask for one then
        self.call_after_refresh(details.refresh, layout=True)


class SideChoice(ModalScreen[str | None]):
    """OLD or NEW: `o` / `n`, the buttons, or Esc for neither."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("o,left", "choose('old')", "OLD"),
        Binding("n,right", "choose('new')", "NEW"),
        Binding("escape,q", "dismiss", "Cancel"),
    ]

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path

    def compose(self) -> ComposeResult:
        with Vertical(id="side-dialog") as dialog:
            dialog.border_title = "History"
            yield Static(Text(f"The history of {shown_path(self.path)} in:"))
            with Horizontal(id="side-buttons"):
                yield Button("OLD (o)", id="side-old", variant="primary")
                yield Button("NEW (n)", id="side-new", variant="primary")

    def action_choose(self, side: str) -> None:
        self.dismiss(side)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss("old" if event.button.id == "side-old" else "new")
