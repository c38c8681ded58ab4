"""MainScreen: layers | file tree, details below the layers; the mediator between panes.

Widgets never talk to each other: they post messages here, and this screen sets what the
others show (attributes down, messages up). It also receives the loader's messages.
"""

from __future__ import annotations

import gc
from typing import ClassVar

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.reactive import Reactive
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import TabbedContent, TabPane
from textual.worker import get_current_worker

from inspector.analysis import Analysis
from inspector.display import clean
from inspector.dive import DiveNumbers
from inspector.findings.model import Finding
from inspector.model import Image
from inspector.sharing import Sharing
from inspector.source import LoadedImage
from inspector.tree import FileTree
from inspector.ui import messages
from inspector.ui import rows as vm
from inspector.ui.pathfilter import PathQuery
from inspector.ui.widgets.details import DetailsPanel, FileDetails, ImageDetails, LayerDetails
from inspector.ui.widgets.file_tree import EXPAND_ALL_LIMIT, FileTreeView
from inspector.ui.widgets.filter_bar import FilterBar
from inspector.ui.widgets.findings import FindingDetails, FindingsTable
from inspector.ui.widgets.footer import QuietFooter
from inspector.ui.widgets.layer_stack import LayerStack
from inspector.ui.widgets.legend import Legend
from inspector.ui.widgets.load_status import LoadStatus
from inspector.ui.widgets.rowlist import ListHeader
from inspector.ui.widgets.wasted import WastedTable

FREEZE_PATHS = 20_000  # images this large get their loaded objects frozen (see on_load_finished)
TABS = ("tab-layer", "tab-image", "tab-findings", "tab-wasted", "tab-file")


class Pane(Vertical):
    """A titled pane that `z` can maximize."""

    ALLOW_MAXIMIZE = True


class DetailsTabs(TabbedContent):
    ALLOW_MAXIMIZE = True


class MainScreen(Screen[None]):
    ALLOW_IN_MAXIMIZED_VIEW: ClassVar[str | None] = "QuietFooter"  # `z` keeps the keys shown
    # Screen's own repaints the whole screen when the focus moves; the widgets whose look
    # changes (focus, blur, :focus-within) repaint themselves, so that is redundant
    focused: Reactive[Widget | None] = Reactive(None, repaint=False)
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("tab", "switch_pane(1)", "Pane", priority=True),
        Binding("shift+tab", "switch_pane(-1)", "Pane", show=False, priority=True),
        Binding("ctrl+f,slash,ctrl+underscore", "filter", "Filter", key_display="^F"),
        Binding("f", "findings", "Findings"),
        Binding("z", "maximize_pane", "Zoom", show=False),
        Binding("escape", "escape", "Close", show=False),
    ]

    def __init__(self, label: str, files: FileTree) -> None:
        super().__init__()
        self.label = label
        self.files = files
        self.image: Image | None = None
        self.loaded: LoadedImage | None = None
        self.analysis: Analysis | None = None
        self.dive: DiveNumbers | None = None
        self.stored: tuple[int | None, ...] = ()
        self.sharing: Sharing | None = None
        self.warnings: tuple[str, ...] = ()
        self.findings: tuple[Finding, ...] | None = None  # None: not analysed yet
        self.selected = 0
        self.mode = vm.ViewMode.LAYER
        self.base = 0
        self.query_: PathQuery | None = None
        self.shown: tuple[int, int] | None = None
        self._file_shown: tuple[object, ...] | None = None  # what FileDetails shows

    # ----------------------------------------------------------------- layout
    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            with Vertical(id="left"):
                with Pane(id="layers-pane", classes="pane") as layers_pane:
                    layers_pane.border_title = "Layers"
                    layers = LayerStack(id="layers")
                    yield ListHeader(layers, id="layers-header")
                    yield layers
                with DetailsTabs(id="details", initial="tab-layer"):
                    with TabPane("Layer", id="tab-layer"):
                        yield LayerDetails("Waiting for the manifest…", id="layer-scroll")
                    with TabPane("Image", id="tab-image"):
                        yield ImageDetails("Waiting for the manifest…", id="image-scroll")
                    with TabPane("Findings", id="tab-findings"):
                        findings = FindingsTable(id="findings")
                        yield ListHeader(findings, id="findings-header")
                        yield findings
                        yield FindingDetails("", id="finding-scroll")
                    with TabPane("Wasted", id="tab-wasted"):
                        wasted = WastedTable(id="wasted")
                        yield ListHeader(wasted, id="wasted-header")
                        yield wasted
                    with TabPane("File", id="tab-file"):
                        yield FileDetails("No file selected.", id="file-scroll")
            with Pane(id="tree-pane", classes="pane") as tree_pane:
                tree_pane.border_title = "Layer contents"
                yield Legend(id="legend")
                tree = FileTreeView(id="tree")
                yield ListHeader(tree, id="tree-header")
                yield tree
        filter_bar = FilterBar(id="filter-bar")
        filter_bar.display = False
        yield filter_bar
        yield LoadStatus(id="load-status")
        yield QuietFooter()

    def on_mount(self) -> None:
        self.query_one("#details", TabbedContent).query_one("Tabs").can_focus = False
        self.query_one(LayerStack).focus()
        self._update_legend()

    # ----------------------------------------------------------------- widgets
    @property
    def layer_stack(self) -> LayerStack:
        return self.query_one(LayerStack)

    @property
    def file_tree(self) -> FileTreeView:
        return self.query_one(FileTreeView)

    @property
    def tabs(self) -> TabbedContent:
        return self.query_one("#details", TabbedContent)

    @property
    def filter_bar(self) -> FilterBar:
        return self.query_one(FilterBar)

    # ----------------------------------------------------------------- loader messages
    def on_image_known(self, message: messages.ImageKnown) -> None:
        self.image = message.image
        name = message.image.tags[0] if message.image.tags else message.image.label
        # Text: a title string would be read as markup
        self.query_one("#layers-pane").border_title = Text(f"Layers · {clean(name)}")
        self._refresh_layers()
        self._refresh_image()
        self._show_layer_details()
        self._show_view()

    def on_layer_started(self, message: messages.LayerStarted) -> None:
        count = len(self.image.layers) if self.image is not None else None
        self.query_one(LoadStatus).started(message.name, message.total, message.count, count)

    def on_load_progress(self, message: messages.LoadProgress) -> None:
        self.query_one(LoadStatus).progress(message.done, message.total)

    def on_layers_applied(self, message: messages.LayersApplied) -> None:
        self.stored = message.stored
        self._refresh_layers()
        if self.image is not None and message.count >= len(self.image.layers):
            self.query_one(LoadStatus).analysing()
        if self.selected < message.count and self.shown is None:
            self._show_view()
            self._show_layer_details()
        elif self.selected == message.count - 1:
            self._show_layer_details()

    def on_load_finished(self, message: messages.LoadFinished) -> None:
        inspection = message.inspection
        big = len(self.files.all_paths()) >= FREEZE_PATHS
        if big:  # before the rows below are made: else a full collection may walk it all
            gc.freeze()
        self.loaded = inspection.loaded
        self.analysis = inspection.analysis
        self.dive = inspection.dive
        self.image = inspection.image
        self.warnings = inspection.warnings
        if inspection.loaded.others:
            self.sharing = inspection.sharing
        self.query_one(LoadStatus).display = False
        self.query_one(WastedTable).set_files(inspection.analysis.exact.wasted_files)
        self.findings = inspection.findings
        self.query_one(FindingsTable).set_findings(inspection.findings)
        self._refresh_layers()
        self._refresh_image()
        self._show_layer_details()
        if self.shown is None:
            self._show_view()
        # the image's indexes, tree and analysis live as long as the app: move them out
        # of the collector's sight, or every full collection walks them all (a pause of
        # 100-500 ms in the middle of a key on a 100,000-file image). Small images skip
        # it: nothing to gain, and frozen objects are never collected (tests run many apps)
        if big:
            gc.freeze()  # and the rows just made
        # the aggregated views' masks, the filter's search strings and the directory
        # listings "expand all" opens, built while the person looks, not on the first key
        # (after the first paint: a worker thread would slow it down, sharing the GIL)
        self.call_after_refresh(self._prepare_search)

    def _prepare_search(self) -> None:
        self.run_worker(self._prepare, thread=True, group="search", exit_on_error=False)

    def _prepare(self) -> None:
        files = self.files
        worker = get_current_worker()
        files.precompute(0, lambda: worker.is_cancelled)  # the aggregated views from layer 0
        files.prepare_search()
        files.prepare_listings(EXPAND_ALL_LIMIT)
        if len(files.all_paths()) >= FREEZE_PATHS:
            gc.freeze()  # the listings live as long as the tree: out of the collector's sight

    def on_load_failed(self, message: messages.LoadFailed) -> None:
        # the app shows the dialog (the message bubbles on to it)
        self.query_one(LoadStatus).display = False
        self.layer_stack.empty_text = "The image could not be read."
        self.layer_stack.refresh()
        self.file_tree.clear("")

    # ----------------------------------------------------------------- pane messages
    @on(LayerStack.Selected)
    def _layer_selected(self, message: LayerStack.Selected) -> None:
        if message.position == self.selected and self.shown is not None:
            return
        self.selected = message.position
        self._show_layer_details()
        self._show_view()

    @on(LayerStack.Activated)
    def _layer_activated(self, message: LayerStack.Activated) -> None:
        self.file_tree.focus()

    @on(FileTreeView.Highlighted)
    def _file_highlighted(self, message: FileTreeView.Highlighted) -> None:
        node = message.node
        details = self.query_one(FileDetails)
        lo, hi = self.shown or (-1, 0)
        key = (node, lo, hi, self.files.layer_count)
        if key == self._file_shown:
            return  # the rows changed around the same node (expand, collapse, filter)
        self._file_shown = key
        if node is None:
            details.show(None, (), lo, hi)
        else:
            details.show(node, self.files.history(node.path), lo, hi)

    @on(FileTreeView.StateChanged)
    def _tree_state_changed(self) -> None:
        self._update_legend()
        self._update_tree_title()

    @on(WastedTable.Jump)
    def _wasted_jump(self, message: WastedTable.Jump) -> None:
        item = message.file
        self.mode = vm.ViewMode.LAYER
        self.jump_to(item.hidden_by if message.hidden else item.stored_in, item.path)

    @on(FindingsTable.Highlighted)
    def _finding_highlighted(self, message: FindingsTable.Highlighted) -> None:
        self.query_one(FindingDetails).show(message.finding)

    @on(FindingsTable.Jump)
    def _finding_jump(self, message: FindingsTable.Jump) -> None:
        """The finding's last layer, and its first path there (the last of its layers
        that changed the path); a finding without layers has only its details."""
        finding = message.finding
        if not finding.layers:
            return
        layer = finding.layers[-1].index
        path = finding.paths[0].path if finding.paths else None
        if path is not None:
            touched = {item.layer for item in self.files.history(path)}
            layer = next((r.index for r in reversed(finding.layers) if r.index in touched), layer)
        self.mode = vm.ViewMode.LAYER
        self.jump_to(layer, path)

    def jump_to(self, layer: int, path: str | None) -> bool:
        """Show `path` in the tree at `layer` (layer view) and focus the tree; without a
        path, show the layer and focus the layer list."""
        if self.image is None or not 0 <= layer < len(self.image.layers):
            return False
        self.selected = layer
        self.layer_stack.move_cursor(layer)
        self._show_layer_details()
        self._show_view()
        if path is None:
            self.layer_stack.focus()
            return True
        tree = self.file_tree
        if self.query_ is not None and path not in (tree.state.matches or ()):
            self._close_filter()
        for kind in list(tree.state.hidden):
            tree.action_toggle_kind(kind.value)
        found = tree.reveal(path)
        tree.focus()
        if not found:
            shown = vm.shown_path(path)
            self.notify(f"{shown} is not in layer {layer}'s view", severity="warning", markup=False)
        return found

    # ----------------------------------------------------------------- filter
    @on(FilterBar.Changed)
    def _filter_changed(self, message: FilterBar.Changed) -> None:
        self._apply_query(message.query)

    @on(FilterBar.Accepted)
    def _filter_accepted(self, message: FilterBar.Accepted) -> None:
        self.file_tree.focus()

    @on(FilterBar.Closed)
    def _filter_closed(self) -> None:
        self._apply_query(None)
        self.file_tree.focus()

    def _apply_query(self, query: PathQuery | None) -> None:
        self.query_ = query
        if self.filter_bar.apply(query, self.file_tree.set_query):
            self._update_tree_title()

    def _close_filter(self) -> None:
        bar = self.filter_bar
        bar.input.value = ""
        bar.display = False
        self._apply_query(None)

    def action_filter(self) -> None:
        self.filter_bar.open()

    def action_escape(self) -> None:
        if self.filter_bar.display:
            self._close_filter()
            self.file_tree.focus()
        elif self.maximized is not None:
            self.minimize()

    # ----------------------------------------------------------------- modes
    def action_layer_mode(self) -> None:
        self.mode = vm.ViewMode.LAYER
        self._show_view()

    def action_aggregated_mode(self) -> None:
        self.mode = vm.ViewMode.AGGREGATED
        self._show_view()

    def action_set_base(self) -> None:
        self.base = self.layer_stack.cursor
        self.mode = vm.ViewMode.AGGREGATED
        self.notify(f"Aggregated view: changes since layer {self.base}", timeout=3)
        self._show_view()

    def action_details_tab(self, step: int) -> None:
        tabs = self.tabs
        current = tabs.active if tabs.active in TABS else TABS[0]
        tabs.active = TABS[(TABS.index(current) + step) % len(TABS)]

    def action_switch_pane(self, step: int) -> None:
        panes = self._panes()
        focused = self.focused
        index = 0
        for i, pane in enumerate(panes):
            if focused is not None and (focused is pane or pane in focused.ancestors):
                index = i
                break
        else:
            index = -1 if step > 0 else 0
        target = panes[(index + step) % len(panes)]
        if self.maximized is not None:
            self.minimize()
        target.focus()

    def _panes(self) -> list[Widget]:
        tabs = self.tabs
        active = tabs.active or TABS[0]
        if active == "tab-findings":  # the list, then the selected finding's details
            findings = [self.query_one(FindingsTable), self.query_one(FindingDetails)]
            return [self.layer_stack, self.file_tree, *findings]
        detail: Widget = (
            self.query_one(WastedTable)
            if active == "tab-wasted"
            else tabs.query_one(f"#{active}").query_one(DetailsPanel)
        )
        return [self.layer_stack, self.file_tree, detail]

    def action_maximize_pane(self) -> None:
        if self.maximized is not None:
            self.minimize()
            return
        focused = self.focused
        if focused is None:
            return
        for pane_id in ("#layers-pane", "#tree-pane", "#details"):
            pane = self.query_one(pane_id)
            if focused is pane or pane in focused.ancestors:
                self.maximize(pane, container=False)
                return

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        focused = self.focused
        if focused is self.file_tree and self.tabs.active == "tab-layer":
            self.tabs.active = "tab-file"
        elif focused is self.layer_stack and self.tabs.active == "tab-file":
            self.tabs.active = "tab-layer"

    # ----------------------------------------------------------------- drawing
    def _refresh_layers(self) -> None:
        if self.image is None:
            return
        count = self.files.layer_count
        shared = frozenset(
            i for i in range(len(self.image.layers)) if self.sharing and self.sharing.is_shared(i)
        )
        rows = vm.layer_rows(
            self.image, self.files.summaries[:count], self.stored, self.analysis, shared
        )
        self.layer_stack.set_layers(rows)

    def _refresh_image(self) -> None:
        if self.image is None:
            return
        warnings: tuple[str, ...] = ()
        if self.loaded is not None and self.analysis is not None:
            warnings = self.warnings
        self.query_one(ImageDetails).show(
            self.image, self.analysis, self.dive, self.stored, warnings, self.sharing, self.findings
        )

    def _show_layer_details(self) -> None:
        image = self.image
        if image is None or not 0 <= self.selected < len(image.layers):
            return
        i = self.selected
        index = self.loaded.layers[i] if self.loaded is not None else None
        stats = self.analysis.layers[i] if self.analysis is not None else None
        count = self.files.layer_count
        summary = self.files.summaries[i] if i < count else None
        shared = self.sharing.shared_with[i] if self.sharing is not None else ()
        self.query_one(LayerDetails).show(
            image.layers[i], len(image.layers), index, stats, summary, shared
        )

    def _show_view(self) -> None:
        image = self.image
        tree_view = self.file_tree
        if image is None:
            return
        if not image.layers:
            tree_view.clear("This image has no layers.")
            return
        i = self.selected
        if i >= self.files.layer_count:
            self.shown = None
            tree_view.clear(f"Layer {i} is still being indexed…")
            self._update_tree_title()
            return
        lo, hi = vm.view_range(self.mode, i, self.base)
        self.shown = (lo, hi)
        tree_view.show_view(self.files, lo, hi)
        self.layer_stack.set_shown(lo, hi)
        if self.query_ is not None and self.query_.active:
            count = tree_view.match_count
            self.filter_bar.set_status(f"{count:,} match{'es' if count != 1 else ''}")
        self._update_tree_title()

    def _update_tree_title(self) -> None:
        pane = self.query_one("#tree-pane")
        if self.shown is None:
            pane.border_title = "Layer contents"
            return
        lo, hi = self.shown
        if self.mode is vm.ViewMode.LAYER:
            title = f"Layer {hi} changes"
        elif lo == hi:
            title = f"Aggregated: layer {hi} is the base"
        else:
            title = f"Aggregated: layer {lo} → {hi}"
        pane.border_title = title
        state = self.file_tree.state
        notes = [f"sort: {state.sort}"]
        if self.query_ is not None and self.query_.active:
            notes.append(f"filter: {self.query_.text}")
        pane.border_subtitle = " · ".join(notes)

    def _update_legend(self) -> None:
        self.query_one(Legend).set_hidden(self.file_tree.state.hidden)

    @on(Legend.Toggled)
    def _legend_toggled(self, message: Legend.Toggled) -> None:
        self.file_tree.action_toggle_kind(message.kind.value)

    def action_toggle_kind(self, kind: str) -> None:
        self.file_tree.action_toggle_kind(kind)

    async def action_tree_action(self, name: str) -> None:
        await self.file_tree.run_action(name)

    def action_show_tab(self, tab: str) -> None:
        if tab in TABS:
            self.tabs.active = tab

    def action_findings(self) -> None:
        """The findings tab, its list focused."""
        if self.maximized is not None:
            self.minimize()
        self.tabs.active = "tab-findings"
        self.query_one(FindingsTable).focus()
