"""InspectorApp: stylesheet, global keys, the load worker and the error dialog.

`run_ui(resolved, options, cache)` is what the CLI calls for an interactive session;
everything it shows comes from `inspector.pipeline.inspect` run in a thread worker
(ui/loading.py).
"""

from __future__ import annotations

from functools import partial

from textual import work
from textual.app import App
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.worker import get_current_worker

from inspector import contents
from inspector.cache import LayerCache
from inspector.display import clean, one_line
from inspector.errors import InspectorError
from inspector.inspection import Inspection
from inspector.pipeline import InspectOptions, Resolved, inspect
from inspector.source import LoadedImage, LoadEvents
from inspector.tree import FileTree, Node
from inspector.ui.loading import Loader, load_into
from inspector.ui.loadingapp import LoadingApp, run_app
from inspector.ui.rows import shown_path
from inspector.ui.screens.contents import ContentsScreen
from inspector.ui.screens.extract import ExtractScreen
from inspector.ui.screens.main import MainScreen
from inspector.ui.widgets.file_tree import FileTreeView

# (title, action, help) for the command palette; actions run on the main screen
PALETTE: tuple[tuple[str, str, str], ...] = (
    ("Show layer changes", "screen.layer_mode", "The tree shows the selected layer's changes"),
    ("Show aggregated changes", "screen.aggregated_mode", "Changes since the base layer"),
    ("Set base layer", "screen.set_base", "Aggregate from the layer under the layer cursor"),
    ("Filter paths", "screen.filter", "Type a regex or glob, and size conditions"),
    ("Hide/show added", "screen.toggle_kind('added')", "Toggle added files in the tree"),
    ("Hide/show modified", "screen.toggle_kind('modified')", "Toggle modified files"),
    ("Hide/show removed", "screen.toggle_kind('removed')", "Toggle removed files"),
    ("Hide/show unmodified", "screen.toggle_kind('unchanged')", "Toggle unmodified files"),
    ("Toggle attributes", "screen.tree_action('toggle_attributes')", "Permission, UID:GID, size"),
    ("Sort by name/size", "screen.tree_action('toggle_sort')", "The tree's sort order"),
    ("Collapse/expand all", "screen.tree_action('toggle_all')", "Every directory"),
    ("View file", "screen.tree_action('view_file')", "The file under the cursor"),
    ("Extract", "screen.tree_action('extract')", "The file or directory under the cursor"),
    ("Findings", "screen.findings", "What to fix: evidence, bytes at stake, the fix"),
    ("Wasted space", "screen.show_tab('tab-wasted')", "Files stored but never visible"),
    ("Image details", "screen.show_tab('tab-image')", "Totals, score and config"),
    ("Layer details", "screen.show_tab('tab-layer')", "Digests, sizes and command"),
    ("Help", "app.help", "Every key"),
)


class InspectorCommands(Provider):
    """The inspector's actions in the command palette."""

    async def discover(self) -> Hits:
        for title, action, text in PALETTE:
            yield DiscoveryHit(title, partial(self.app.run_action, action), help=text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, action, text in PALETTE:
            score = matcher.match(title)
            if score > 0:
                yield Hit(
                    score, matcher.highlight(title), partial(self.app.run_action, action), help=text
                )


class InspectorApp(LoadingApp):
    """Inspect one image: `load` reads it (called in a thread with progress callbacks)."""

    TITLE = "inspector"
    COMMANDS = App.COMMANDS | {InspectorCommands}

    def __init__(self, load: Loader, label: str) -> None:
        super().__init__()
        self.load = load
        self.label = label
        self.files = FileTree()
        self.loaded: LoadedImage | None = None
        self.main_screen = MainScreen(label, self.files)
        self.title = f"inspector · {clean(label)}"

    def on_mount(self) -> None:
        self.push_screen(self.main_screen)
        self.load_image()

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def load_image(self) -> None:
        worker = get_current_worker()
        screen = self.main_screen
        inspection = load_into(
            self.load, self.files, screen.post_message, lambda: worker.is_cancelled
        )
        self.loaded = inspection.loaded if inspection is not None else None

    def on_file_tree_view_contents_requested(self, message: FileTreeView.ContentsRequested) -> None:
        self.open_contents(message.node, message.layer, message.extract)

    def open_contents(self, node: Node, layer: int, extract: bool) -> None:
        """View a file (read in a worker), or ask where to extract a file or directory."""
        if self.loaded is None:
            self.notify("The image is still loading.", severity="warning")
            return
        if extract:
            # cleaned: the input shows it (and a local name is better without escapes too)
            default = clean(contents.default_destination(node.path))

            def chosen(destination: str | None) -> None:
                if destination:
                    self.extract_path(node.path, layer, destination)

            self.push_screen(ExtractScreen(node.path, layer, default), chosen)
        elif node.is_dir:
            self.notify(f"{shown_path(node.path)} is a directory: x extracts it.", markup=False)
        else:
            self.read_file(node.path, layer)

    @work(thread=True, group="contents", exit_on_error=False)
    def read_file(self, path: str, layer: int) -> None:
        loaded = self.loaded
        assert loaded is not None
        try:
            found = contents.read_file(loaded, path, layer)
        except Exception as exc:
            self.call_from_thread(self._failed, f"Cannot read {shown_path(path)}", exc)
            return
        self.call_from_thread(self.push_screen, ContentsScreen(found))

    @work(thread=True, group="contents", exit_on_error=False)
    def extract_path(self, path: str, layer: int, destination: str) -> None:
        loaded = self.loaded
        assert loaded is not None
        try:
            result = contents.extract(loaded, path, layer, destination)
        except Exception as exc:
            self.call_from_thread(self._failed, f"Cannot extract {shown_path(path)}", exc)
            return
        notes = f" Skipped: {'; '.join(map(one_line, result.notes[:3]))}" if result.notes else ""
        message = f"{shown_path(path)}: {clean(result.summary())}.{notes}"
        self.call_from_thread(self.notify, message, title="Extracted", markup=False)

    def _failed(self, what: str, exc: Exception) -> None:
        text = exc.message if isinstance(exc, InspectorError) else f"{type(exc).__name__}: {exc}"
        self.notify(one_line(text), title=what, severity="error", markup=False)


def app_for(
    target: str | Resolved, options: InspectOptions | None = None, cache: LayerCache | None = None
) -> InspectorApp:
    """The app on IMAGE (a text as the CLI takes it, or a source the CLI resolved)."""

    def loader(events: LoadEvents) -> Inspection:
        return inspect(target, options, events, cache)

    label = target if isinstance(target, str) else target.source.label
    return InspectorApp(loader, label)


def run_ui(target: str | Resolved, options: InspectOptions, cache: LayerCache | None) -> int:
    """Open the UI on IMAGE; the exit code."""
    return run_app(app_for(target, options, cache))
