"""DiffTreeView: the changed paths of a diff in the main tree's widget, with its keys.

The tree is `changedtree.ChangedTree` (a two-layer `FileTree`), so collapse, expand,
the filter, hiding a kind, size conditions and sort are `FileTreeView`'s own. The
attribute columns become the size change, the layer of NEW that brings the change and
what changed; a file opens its history in OLD or NEW instead of the viewer (a diff has
no single layer to read a file from).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.message import Message

from inspector import formatting
from inspector.tree import Node
from inspector.ui.changedtree import VIEW, ChangedTree
from inspector.ui.diffrows import brought_by, what_changed
from inspector.ui.widgets.file_tree import FileTreeView
from inspector.ui.widgets.rowlist import fit

CHANGE_WIDTH, LAYER_WIDTH, WHAT_WIDTH = 9, 4, 14
OLD_SIDE, NEW_SIDE = "old", "new"
_NO_VIEWER = frozenset({"view_file", "extract"})


class DiffTreeView(FileTreeView):
    """The tree of changed paths; `<` / `>` (or Enter on a file, with a choice) post
    `HistoryRequested`."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("less_than_sign", "history('old')", "OLD history", key_display="<"),
        Binding("greater_than_sign", "history('new')", "NEW history", key_display=">"),
    ]

    @dataclass
    class HistoryRequested(Message):
        """The history of `path` in OLD or NEW (`side`), or in one to be chosen (None)."""

        path: str
        side: str | None

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.changed: ChangedTree | None = None
        self.empty_text = "Reading the images…"

    def show_changes(self, changed: ChangedTree) -> None:
        self.changed = changed
        self.empty_text = "No path differs: the final file systems are the same."
        self.show_view(changed.tree, *VIEW)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in _NO_VIEWER:
            return False  # no viewer or extraction here: hidden, and the key does nothing
        return super().check_action(action, parameters)

    def activate(self, index: int) -> None:
        row = self.rows[index]
        if row.node.is_dir:
            self.toggle(row.node.path)
        else:
            self.post_message(self.HistoryRequested(row.node.path, None))

    def action_history(self, side: str) -> None:
        row = self.current()
        if row is not None:
            self.post_message(self.HistoryRequested(row.node.path, side))

    # ----------------------------------------------------------------- drawing
    def columns(self, width: int) -> tuple[bool, bool, bool]:
        """Which columns fit: (what changed, layer, size change)."""
        if not self.show_attributes:
            return False, False, False
        return width >= 56, width >= 40, width >= 26

    def render_header(self, width: int) -> str:
        show_what, show_layer, show_change = self.columns(width)
        parts = []
        if show_change:
            parts.append(fit("Change", CHANGE_WIDTH, "right"))
        if show_layer:
            parts.append(fit("NEW", LAYER_WIDTH, "right"))
        if show_what:
            parts.append(fit("What", WHAT_WIDTH))
        parts.append("Name")
        return " ".join(parts)

    def cells(self, node: Node, width: int) -> str:
        show_what, show_layer, show_change = self.columns(width)
        changed = self.changed
        if changed is None or not (show_what or show_layer or show_change):
            return ""
        change = changed.change(node.path)
        below = changed.below.get(node.path)
        net = (change.bytes if change is not None else 0) + (below.bytes if below else 0)
        if change is not None:
            layer, what = brought_by(change), what_changed(change)
        else:
            layer, what = "", f"{below.paths} below" if below is not None else ""
        cells = []
        if show_change:
            cells.append(fit(formatting.signed_size(net), CHANGE_WIDTH, "right"))
        if show_layer:
            cells.append(fit(layer, LAYER_WIDTH, "right"))
        if show_what:
            cells.append(fit(what, WHAT_WIDTH))
        return " ".join(cells) + " "
