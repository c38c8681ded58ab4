"""DiffApp: `inspector diff OLD NEW` at a terminal.

`run_diff_ui(targets, options, cache)` is what the CLI calls; both images come from
`inspector.pipeline.inspect` with one layer cache, run in a thread worker
(`ui/diffloading.py`), then `inspector.diff.diff` compares them.
"""

from __future__ import annotations

from textual import work
from textual.worker import get_current_worker

from inspector.cache import LayerCache
from inspector.display import clean
from inspector.inspection import Inspection
from inspector.pipeline import InspectOptions, Resolved, inspect
from inspector.source import LoadEvents
from inspector.ui.diffloading import DiffReady, load_diff
from inspector.ui.loading import Loader
from inspector.ui.loadingapp import LoadingApp, run_app
from inspector.ui.screens.diff import DiffScreen
from inspector.ui.screens.help import KEYS, Keys

DIFF_KEYS: Keys = (
    (
        "Everywhere",
        (
            ("Tab / Shift+Tab", "switch pane (layers, changed paths, summary)"),
            ("Ctrl+F or /", "filter paths (Esc closes and clears, Enter keeps it)"),
            ("n / N", "next / previous match"),
            ("z", "maximize or restore the focused pane"),
            ("? or F1", "this help"),
            ("q / Ctrl+C", "quit (also while loading)"),
            ("↑↓ j k", "move"),
            ("PgUp PgDn u d", "page"),
            ("Home End g G", "first / last"),
        ),
    ),
    (
        "Layers (OLD │ NEW)",
        (
            ("┃", "the shared prefix: the same layers (ChainID) in both"),
            ("▶", "the first divergent layer, and why (instruction or inputs changed)"),
            ("*", "a blob of NEW that OLD lacks: pulled and pushed"),
            ("Enter", "go to the changed paths"),
        ),
    ),
    (
        "Changed paths",
        (
            ("<", "the path's history in OLD (every layer that stored, changed or removed it)"),
            (">", "the path's history in NEW"),
            ("Enter", "a file: choose OLD (o) or NEW (n) for its history; a directory: open"),
            ("Space", "collapse or expand the directory"),
            ("Ctrl+Space", "collapse all / expand all"),
            ("← h  / → l", "parent (or collapse) / expand and descend"),
            ("Ctrl+A", "hide / show added"),
            ("Ctrl+R", "hide / show removed"),
            ("m", "hide / show modified"),
            ("Ctrl+U", "hide / show unmodified directories"),
            ("Ctrl+B", "hide / show the change, layer and what columns"),
            ("Ctrl+O", "sort by name or by size"),
        ),
    ),
    KEYS[-1],  # the filter bar's
)


class DiffApp(LoadingApp):
    """Compare two images: `loaders` inspect OLD and NEW (in a thread, with progress)."""

    TITLE = "inspector diff"
    HELP_KEYS = DIFF_KEYS

    def __init__(self, loaders: tuple[Loader, Loader], labels: tuple[str, str]) -> None:
        super().__init__()
        self.loaders = loaders
        self.ready: DiffReady | None = None
        self.diff_screen = DiffScreen(labels)
        self.title = f"inspector diff · {clean(labels[0])} → {clean(labels[1])}"

    def on_mount(self) -> None:
        self.push_screen(self.diff_screen)
        self.load()

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def load(self) -> None:
        worker = get_current_worker()
        self.ready = load_diff(
            self.loaders, self.diff_screen.post_message, lambda: worker.is_cancelled
        )


def diff_app_for(
    targets: tuple[str | Resolved, str | Resolved],
    options: InspectOptions | None = None,
    cache: LayerCache | None = None,
) -> DiffApp:
    """The app on OLD and NEW (texts as the CLI takes them, or sources it resolved)."""

    def loader(target: str | Resolved) -> Loader:
        def load(events: LoadEvents) -> Inspection:
            return inspect(target, options, events, cache)

        return load

    old, new = targets
    labels = tuple(t if isinstance(t, str) else t.source.label for t in targets)
    return DiffApp((loader(old), loader(new)), (labels[0], labels[1]))


def run_diff_ui(
    targets: tuple[str | Resolved, str | Resolved],
    options: InspectOptions,
    cache: LayerCache | None,
) -> int:
    """Open the diff UI; the exit code."""
    return run_app(diff_app_for(targets, options, cache))
