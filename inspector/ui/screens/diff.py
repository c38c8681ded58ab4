"""DiffScreen: the two layer stacks side by side above the tree of changed paths, the
summary and the selected path beside it; the mediator between its panes.

As in `MainScreen`, widgets post messages here and this screen sets what the others
show. It also receives the load worker's messages (`ui/diffloading.py`).
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Static

from inspector.diff import ImageDiff
from inspector.display import clean, one_line
from inspector.inspection import Inspection
from inspector.tree import FileTree
from inspector.ui import messages
from inspector.ui.changedtree import ChangedTree
from inspector.ui.diffloading import COMPARING, NEW, OLD, DiffReady, DiffStage
from inspector.ui.diffrows import Mark, PairRow, divergence_line, pair_rows
from inspector.ui.loading import failure
from inspector.ui.pathfilter import PathQuery
from inspector.ui.screens.history import HistoryScreen, SideChoice
from inspector.ui.screens.main import Pane
from inspector.ui.widgets.diff_details import ChangeDetails, DiffSummary, PairDetails
from inspector.ui.widgets.diff_tree import NEW_SIDE, DiffTreeView
from inspector.ui.widgets.file_tree import FileTreeView
from inspector.ui.widgets.filter_bar import FilterBar
from inspector.ui.widgets.footer import QuietFooter
from inspector.ui.widgets.layer_pairs import LayerPairs
from inspector.ui.widgets.legend import Legend
from inspector.ui.widgets.load_status import LoadStatus
from inspector.ui.widgets.rowlist import ListHeader

PANES = ("#pairs", "#changes", "#summary")  # what Tab visits


class DiffScreen(Screen[None]):
    ALLOW_IN_MAXIMIZED_VIEW: ClassVar[str | None] = "QuietFooter"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("tab", "switch_pane(1)", "Pane", priority=True),
        Binding("shift+tab", "switch_pane(-1)", "Pane", show=False, priority=True),
        Binding("ctrl+f,slash,ctrl+underscore", "filter", "Filter", key_display="^F"),
        Binding("z", "maximize_pane", "Zoom", show=False),
        Binding("escape", "escape", "Close", show=False),
    ]

    def __init__(self, labels: tuple[str, str]) -> None:
        super().__init__()
        self.labels = labels
        # each image's FileTree, grown from its layers when a history is first asked for
        self.trees: list[FileTree | None] = [None, None]
        self.growing: set[int] = set()
        self.result: ImageDiff | None = None
        self.inspections: tuple[Inspection, Inspection] | None = None
        self.changed: ChangedTree | None = None
        self.query_: PathQuery | None = None
        self.layer_total: int | None = None

    # ----------------------------------------------------------------- layout
    def compose(self) -> ComposeResult:
        with Pane(id="pairs-pane", classes="pane") as pairs_pane:
            old, new = (clean(label) for label in self.labels)
            pairs_pane.border_title = Text(f"Layers · OLD {old} │ NEW {new}")
            yield Static("", id="pairs-legend")
            pairs = LayerPairs(id="pairs")
            yield ListHeader(pairs, id="pairs-header")
            yield pairs
            yield PairDetails("", id="pair-details")
        with Horizontal(id="diff-bottom"):
            with Pane(id="changes-pane", classes="pane") as changes_pane:
                changes_pane.border_title = "Changed paths"
                yield Legend(id="legend")
                tree = DiffTreeView(id="changes")
                yield ListHeader(tree, id="changes-header")
                yield tree
            with Vertical(id="diff-side"):
                with Pane(id="summary-pane", classes="pane") as summary_pane:
                    summary_pane.border_title = "Summary"
                    yield DiffSummary(Text("Reading the images…", "dim"), id="summary")
                with Pane(id="change-pane", classes="pane") as change_pane:
                    change_pane.border_title = "Path"
                    yield ChangeDetails(Text("No path selected.", "dim"), id="change-details")
        filter_bar = FilterBar(id="filter-bar")
        filter_bar.display = False
        yield filter_bar
        yield LoadStatus(id="load-status")
        yield QuietFooter()

    def on_mount(self) -> None:
        self.pairs.focus()
        self._update_legend()

    @property
    def pairs(self) -> LayerPairs:
        return self.query_one(LayerPairs)

    @property
    def changes_tree(self) -> DiffTreeView:
        return self.query_one(DiffTreeView)

    @property
    def filter_bar(self) -> FilterBar:
        return self.query_one(FilterBar)

    # ----------------------------------------------------------------- loader messages
    def on_diff_stage(self, message: DiffStage) -> None:
        status = self.query_one(LoadStatus)
        if message.analysing:
            status.analysing()
            return
        if message.which == COMPARING:
            status.prefix = ""
            status.say("Comparing OLD and NEW…")
            self.pairs.empty_text = "Comparing…"
        else:
            self.layer_total = None
            status.prefix = f"{message.which}: "
            status.say("Reading the image…")
            self.pairs.empty_text = f"Reading {message.which}…"
        self.pairs.refresh()

    def on_image_known(self, message: messages.ImageKnown) -> None:
        self.layer_total = len(message.image.layers)

    def on_layer_started(self, message: messages.LayerStarted) -> None:
        status = self.query_one(LoadStatus)
        status.started(message.name, message.total, message.count, self.layer_total)

    def on_load_progress(self, message: messages.LoadProgress) -> None:
        self.query_one(LoadStatus).progress(message.done, message.total)

    def on_load_failed(self, message: messages.LoadFailed) -> None:
        # the app shows the dialog (the message bubbles on to it)
        self.query_one(LoadStatus).display = False
        self.pairs.empty_text = "The images could not be compared."
        self.pairs.refresh()
        self.changes_tree.clear("")

    def on_diff_ready(self, message: DiffReady) -> None:
        result = message.result
        self.result = result
        self.inspections = (message.old, message.new)
        self.changed = message.changed
        self.query_one(LoadStatus).display = False
        rows = pair_rows(result)
        start = next((i for i, r in enumerate(rows) if r.mark is Mark.DIVERGENT), None)
        if start is None:
            start = min(result.shared_layers, max(len(rows) - 1, 0))
        self.query_one("#pairs-legend", Static).update(self._pairs_legend(result))
        self.pairs.empty_text = "Neither image has a layer."
        self.pairs.set_rows(rows, start)
        self.query_one(DiffSummary).show(result)
        self.changes_tree.show_changes(message.changed)
        self._update_tree_title()

    @staticmethod
    def _pairs_legend(result: ImageDiff) -> Text:
        text = Text()
        text.append("┃", "cyan")
        text.append(f" shared prefix: {result.shared_layers}   ")
        text.append("▶", "bold yellow")
        text.append(f" {divergence_line(result)}   ")
        text.append("*", "magenta")
        text.append(" pulled by a host holding OLD")
        return text

    # ----------------------------------------------------------------- pane messages
    @on(LayerPairs.Selected)
    def _pair_selected(self, message: LayerPairs.Selected) -> None:
        self._show_pair(message.row)

    def _show_pair(self, row: PairRow | None) -> None:
        self.query_one(PairDetails).show(row, self.result)

    @on(LayerPairs.Activated)
    def _pair_activated(self) -> None:
        self.changes_tree.focus()

    @on(FileTreeView.Highlighted)
    def _path_highlighted(self, message: FileTreeView.Highlighted) -> None:
        node = message.node
        path = node.path if node is not None else None
        self.query_one(ChangeDetails).show(path, self.changed, self.result)

    @on(FileTreeView.StateChanged)
    def _tree_state_changed(self) -> None:
        self._update_legend()
        self._update_tree_title()

    @on(Legend.Toggled)
    def _legend_toggled(self, message: Legend.Toggled) -> None:
        self.changes_tree.action_toggle_kind(message.kind.value)

    @on(DiffTreeView.HistoryRequested)
    def _history_requested(self, message: DiffTreeView.HistoryRequested) -> None:
        path = message.path
        if message.side is not None:
            self.open_history(path, message.side)
            return

        def chosen(side: str | None) -> None:
            if side is not None:
                self.open_history(path, side)

        self.app.push_screen(SideChoice(path), chosen)

    def open_history(self, path: str, side: str) -> None:
        """The history of `path` in OLD (`old`) or NEW (`new`)."""
        if self.inspections is None:
            self.notify("The images are still loading.", severity="warning")
            return
        i = 1 if side == NEW_SIDE else 0
        tree = self.trees[i]
        if tree is not None:
            self.app.push_screen(HistoryScreen(path, (OLD, NEW)[i], tree, self.inspections[i]))
        elif i not in self.growing:
            self.growing.add(i)
            self.notify(f"Reading {(OLD, NEW)[i]}'s layers for the history…", timeout=2)
            self._grow_tree(i, path, self.inspections[i])

    @work(thread=True, group="history", exit_on_error=False)
    def _grow_tree(self, i: int, path: str, inspection: Inspection) -> None:
        try:
            tree = FileTree(inspection.layers)
        except Exception as exc:  # a damaged cache entry read late, or a bug
            self.app.call_from_thread(self._grow_failed, i, exc)
            return
        self.app.call_from_thread(self._tree_grown, i, tree, path)

    def _tree_grown(self, i: int, tree: FileTree, path: str) -> None:
        self.trees[i] = tree
        self.growing.discard(i)
        self.open_history(path, NEW_SIDE if i else "old")

    def _grow_failed(self, i: int, exc: Exception) -> None:
        self.growing.discard(i)
        message = failure(f"Cannot read {(OLD, NEW)[i]}'s layers", exc)
        text = one_line(message.message)
        self.notify(text, title=message.title, severity="error", markup=False)

    # ----------------------------------------------------------------- filter
    @on(FilterBar.Changed)
    def _filter_changed(self, message: FilterBar.Changed) -> None:
        self._apply_query(message.query)

    @on(FilterBar.Accepted)
    def _filter_accepted(self) -> None:
        self.changes_tree.focus()

    @on(FilterBar.Closed)
    def _filter_closed(self) -> None:
        self._apply_query(None)
        self.changes_tree.focus()

    def _apply_query(self, query: PathQuery | None) -> None:
        self.query_ = query
        if self.filter_bar.apply(query, self.changes_tree.set_query):
            self._update_tree_title()

    def action_filter(self) -> None:
        self.filter_bar.open()

    def action_escape(self) -> None:
        if self.filter_bar.display:
            bar = self.filter_bar
            bar.input.value = ""
            bar.display = False
            self._apply_query(None)
            self.changes_tree.focus()
        elif self.maximized is not None:
            self.minimize()

    # ----------------------------------------------------------------- panes
    def _panes(self) -> list[Widget]:
        return [self.query_one(selector) for selector in PANES]

    def action_switch_pane(self, step: int) -> None:
        panes = self._panes()
        focused = self.focused
        index = next((i for i, pane in enumerate(panes) if pane is focused), -1)
        if index < 0 and step < 0:
            index = 0
        if self.maximized is not None:
            self.minimize()
        panes[(index + step) % len(panes)].focus()

    def action_maximize_pane(self) -> None:
        if self.maximized is not None:
            self.minimize()
            return
        focused = self.focused
        if focused is None:
            return
        for pane in self.query(Pane):
            if focused in pane.walk_children():
                self.maximize(pane, container=False)
                return

    # ----------------------------------------------------------------- drawing
    def _update_legend(self) -> None:
        self.query_one(Legend).set_hidden(self.changes_tree.state.hidden)

    def _update_tree_title(self) -> None:
        pane = self.query_one("#changes-pane")
        result = self.result
        if result is None:
            return
        files = result.files
        pane.border_title = (
            f"Changed paths · +{len(files.added)} ~{len(files.modified)} -{len(files.removed)}"
        )
        notes = [f"sort: {self.changes_tree.state.sort}"]
        if self.query_ is not None and self.query_.active:
            notes.append(f"filter: {self.query_.text}")
        pane.border_subtitle = Text(" · ".join(notes))
