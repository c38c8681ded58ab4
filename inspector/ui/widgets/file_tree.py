"""FileTreeView: the file system of one view, lazily expanded, coloured by change kind."""

from __future__ import annotations

from dataclasses import dataclass
from operator import attrgetter
from typing import ClassVar

from rich.cells import cell_len
from rich.segment import Segment
from textual.binding import Binding, BindingType
from textual.message import Message

from inspector.changes import ChangeKind
from inspector.tree import FileTree, Node, ancestors
from inspector.ui import rows as vm
from inspector.ui.pathfilter import PathQuery
from inspector.ui.widgets.rowlist import RowList, fit

KIND_CLASS = {
    ChangeKind.ADDED: "filetree--added",
    ChangeKind.MODIFIED: "filetree--modified",
    ChangeKind.REMOVED: "filetree--removed",
    ChangeKind.UNCHANGED: "filetree--unchanged",
}
MODE_WIDTH, OWNER_WIDTH, SIZE_WIDTH = 10, 11, 8
EXPAND_ALL_LIMIT = 20_000  # directories "expand all" opens at most
_PATH = attrgetter("node.path")


EMPTY_VIEW = "Nothing to show here: no change, or every one hidden by kind or filter."


class FileTreeView(RowList):
    """The rows of `state` over `tree`; MainScreen sets the view, the keys change the rest."""

    COMPONENT_CLASSES: ClassVar[set[str]] = RowList.COMPONENT_CLASSES | {
        *KIND_CLASS.values(),
        "filetree--match",
        "filetree--guide",
        "filetree--attr",
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "toggle_dir", "Collapse"),
        Binding("ctrl+@,ctrl+space", "toggle_all", "All", key_display="^Space"),
        Binding("enter", "activate", "Open", show=False),
        Binding("left,h", "parent", "Parent", show=False),
        Binding("right,l", "descend", "Expand", show=False),
        Binding("ctrl+a", "toggle_kind('added')", "Added"),
        Binding("ctrl+r", "toggle_kind('removed')", "Removed"),
        Binding("m", "toggle_kind('modified')", "Modified"),
        Binding("ctrl+u", "toggle_kind('unchanged')", "Unmod"),
        Binding("ctrl+b", "toggle_attributes", "Attrs"),
        Binding("ctrl+o", "toggle_sort", "Sort"),
        Binding("n", "next_match", "Next match", show=False),
        Binding("N", "previous_match", "Prev match", show=False),
        Binding("v", "view_file", "View"),
        Binding("x,ctrl+e", "extract", "Extract", key_display="x"),
    ]

    @dataclass
    class Highlighted(Message):
        """The cursor is on `node` (None: the view is empty)."""

        node: Node | None

    @dataclass
    class StateChanged(Message):
        """Hidden kinds, sort order or attribute display changed (for the legend)."""

    @dataclass
    class ContentsRequested(Message):
        """The person asked to view (`extract` False) or extract a path of the view."""

        node: Node
        layer: int
        extract: bool

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.files: FileTree | None = None
        self.state = vm.TreeState()
        self.rows: list[vm.Row] = []
        self.query_: PathQuery | None = None
        self.show_attributes = True
        self.empty_text = "Loading…"

    # ----------------------------------------------------------------- data in
    @property
    def row_count(self) -> int:
        return len(self.rows)

    def show_view(self, tree: FileTree, lo: int, hi: int) -> None:
        """Show the view `(lo, hi)`, keeping the cursor's path where it still exists."""
        keep = self.current_path()
        self.files = tree
        self.empty_text = EMPTY_VIEW  # (not what `clear` said while the image loaded)
        self.state.lo, self.state.hi = lo, hi
        if self.query_ is not None and self.query_.active:
            self._search()
        self.rebuild(keep)

    def clear(self, message: str) -> None:
        self.files = None
        self.empty_text = message
        self.rows = []
        self.rows_changed(0)

    def rebuild(self, keep: str | None = None) -> None:
        """Recompute the rows; the cursor stays on `keep` or its nearest shown ancestor."""
        if self.files is None:
            return
        self.rows = vm.build_rows(self.files, self.state)
        self.rows_changed(self._index_near(keep) if keep is not None else None)

    def _index_near(self, path: str) -> int | None:
        """The row of `path`, else of its nearest shown ancestor (0 if none)."""
        rows = self.rows
        if not rows:
            return 0
        near = min(self.cursor, len(rows) - 1)  # usually the path has not moved far
        for i in range(max(0, near - 2), min(len(rows), near + 3)):
            if rows[i].node.path == path:
                return i
        paths = list(map(_PATH, rows))  # C-level: cheap even for 100,000 rows
        for candidate in (path, *ancestors(path)):
            try:
                return paths.index(candidate)
            except ValueError:
                continue
        return 0

    def current(self) -> vm.Row | None:
        return self.rows[self.cursor] if self.rows else None

    def current_path(self) -> str | None:
        row = self.current()
        return row.node.path if row is not None else None

    # ----------------------------------------------------------------- filtering
    def set_query(self, query: PathQuery | None) -> int:
        """Filter by `query` (None or inactive: no filter). Returns the match count."""
        keep = self.current_path()
        self.query_ = query if query is not None and query.active else None
        if self.query_ is None:
            self.state.set_matches(None)
        elif self.files is not None:
            self._search()
        self.rebuild(keep)
        if self.state.matches and (keep is None or keep not in self.state.matches):
            self.action_next_match()
        return len(self.state.matches or ())

    def _search(self) -> None:
        assert self.files is not None
        query = self.query_
        assert query is not None
        state = self.state
        kinds = None if not state.hidden else state.visible_kinds
        ids = self.files.search_ids(
            query.text_matcher,
            query.size_bounds,
            state.lo,
            state.hi,
            kinds,
            query.fold,
            query.basename,
            query.literal,
        )
        state.set_matches(vm.Matches(self.files, ids))

    @property
    def match_count(self) -> int:
        return len(self.state.matches or ())

    def action_next_match(self) -> None:
        self._jump_match(1)

    def action_previous_match(self) -> None:
        self._jump_match(-1)

    def _jump_match(self, step: int) -> None:
        count = len(self.rows)
        if not count or not self.state.matches:
            return
        index = self.cursor
        for _ in range(count):
            index = (index + step) % count
            if self.rows[index].matched:
                self.move_cursor(index)
                return

    # ----------------------------------------------------------------- actions
    def toggle(self, path: str) -> None:
        expanded = self.state.expanded
        if path in expanded:
            expanded.discard(path)
        else:
            expanded.add(path)
        self.rebuild(path)

    def action_toggle_dir(self) -> None:
        row = self.current()
        if row is not None and row.node.is_dir:
            self.toggle(row.node.path)

    def activate(self, index: int) -> None:
        """Enter (or a second click): open or close a directory, view a file."""
        row = self.rows[index]
        if row.node.is_dir:
            self.toggle(row.node.path)
        else:
            self.post_message(self.ContentsRequested(row.node, row.node.layer, False))

    def action_toggle_all(self) -> None:
        """Collapse everything if anything is open, else expand every directory."""
        if self.files is None:
            return
        keep = self.current_path()
        if self.state.expanded:
            self.state.expanded.clear()
            self.rebuild(keep)
        else:  # one walk opens every directory and builds the rows
            self.rows = vm.build_rows(self.files, self.state, open_all=EXPAND_ALL_LIMIT)
            self.rows_changed(self._index_near(keep) if keep is not None else None)

    def action_parent(self) -> None:
        row = self.current()
        if row is None:
            return
        if row.node.is_dir and row.expanded:
            self.toggle(row.node.path)
            return
        parent = ancestors(row.node.path)[0]
        if parent:
            index = self._index_near(parent)
            if index is not None:
                self.move_cursor(index)

    def action_descend(self) -> None:
        row = self.current()
        if row is None or not row.node.is_dir:
            return
        if not row.expanded:
            self.toggle(row.node.path)
        elif self.cursor + 1 < len(self.rows) and self.rows[self.cursor + 1].depth > row.depth:
            self.move_cursor(self.cursor + 1)

    def action_toggle_kind(self, kind: str) -> None:
        change = ChangeKind(kind)
        hidden = set(self.state.hidden)
        hidden.symmetric_difference_update({change})
        self.state.hidden = frozenset(hidden)
        if self.query_ is not None and self.files is not None:
            self._search()
        self.rebuild(self.current_path())
        self.post_message(self.StateChanged())

    def action_toggle_attributes(self) -> None:
        self.show_attributes = not self.show_attributes
        self.refresh()
        self.refresh_header()
        self.post_message(self.StateChanged())

    def action_toggle_sort(self) -> None:
        self.state.sort = (
            vm.SortOrder.SIZE if self.state.sort is vm.SortOrder.NAME else vm.SortOrder.NAME
        )
        self.rebuild(self.current_path())
        self.post_message(self.StateChanged())

    def action_view_file(self) -> None:
        row = self.current()
        if row is not None:
            self.post_message(self.ContentsRequested(row.node, row.node.layer, False))

    def action_extract(self) -> None:
        """A file as the layer that stored it; a directory as the view's file system."""
        row = self.current()
        if row is None:
            return
        node = row.node
        layer = node.layer
        if node.is_dir:
            layer = self.state.lo if node.kind is ChangeKind.REMOVED else self.state.hi
        self.post_message(self.ContentsRequested(node, layer, True))

    def reveal(self, path: str) -> bool:
        """Open the directories above `path` and put the cursor on it."""
        if self.files is None:
            return False
        self.state.expanded.update(p for p in ancestors(path) if p)
        self.rebuild(path)
        row = self.current()
        return row is not None and row.node.path == path

    def cursor_moved(self, index: int) -> None:
        self.post_message(self.Highlighted(self.rows[index].node if self.rows else None))

    # ----------------------------------------------------------------- drawing
    def columns(self, width: int) -> tuple[bool, bool, bool]:
        """Which attribute columns fit: (mode, owner, size)."""
        if not self.show_attributes:
            return False, False, False
        return width >= 58, width >= 48, width >= 28

    def render_header(self, width: int) -> str:
        show_mode, show_owner, show_size = self.columns(width)
        parts = []
        if show_mode:
            parts.append(fit("Permission", MODE_WIDTH))
        if show_owner:
            parts.append(fit("UID:GID", OWNER_WIDTH, "right"))
        if show_size:
            parts.append(fit("Size", SIZE_WIDTH, "right"))
        parts.append("Name")
        return " ".join(parts)

    def cells(self, node: Node, width: int) -> str:
        """The attribute cells before the name, ending with a space ("" for none): what a
        tree over something else than layers (the diff's) shows instead."""
        show_mode, show_owner, show_size = self.columns(width)
        if not (show_mode or show_owner or show_size):
            return ""
        mode, owner, size = vm.attributes(node)
        cells = []
        if show_mode:
            cells.append(fit(mode, MODE_WIDTH))
        if show_owner:
            cells.append(fit(owner, OWNER_WIDTH, "right"))
        if show_size:
            cells.append(fit(size, SIZE_WIDTH, "right"))
        return " ".join(cells) + " "

    def render_row(self, index: int, width: int) -> list[Segment]:
        row = self.rows[index]
        node = row.node
        kind_style = self.get_component_rich_style(KIND_CLASS[row.display], partial=True)
        attr_style = self.get_component_rich_style("filetree--attr", partial=True) + kind_style
        guide_style = self.get_component_rich_style("filetree--guide", partial=True)
        segments: list[Segment] = []
        used = 0
        text = self.cells(node, self.layout_width)
        if text:
            segments.append(Segment(text, attr_style))
            used += cell_len(text)
        guide = row.guide
        segments.append(Segment(guide, guide_style))
        used += cell_len(guide)
        marker = ("▾ " if row.expanded else "▸ ") if node.is_dir else ""
        name = vm.label(node) + ("/" if node.is_dir else "")
        room = max(width - used - len(marker), 1)
        name = fit(name, room).rstrip() if cell_len(name) > room else name
        if marker:
            segments.append(Segment(marker, kind_style))
        span = self._match_span(row) if row.matched else None
        if span is None:
            segments.append(Segment(name, kind_style))
        else:
            start, end = span
            match_style = kind_style + self.get_component_rich_style(
                "filetree--match", partial=True
            )
            segments.append(Segment(name[:start], kind_style))
            segments.append(Segment(name[start:end], match_style))
            segments.append(Segment(name[end:], kind_style))
        return segments

    def _match_span(self, row: vm.Row) -> tuple[int, int] | None:
        query = self.query_
        if query is None or query.pattern is None:
            return None
        absolute = "/" + row.node.path
        name = row.node.name
        span = query.span(absolute, len(absolute) - len(name))
        if span is None:
            return None
        return vm.label_span(name, span[0], min(span[1], len(name)))
