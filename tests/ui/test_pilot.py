"""Behaviour of every binding and pane, driven headless against real images."""

from __future__ import annotations

import gc
import io
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import pytest
from diverun import DiveRuns
from rich.console import Console, RenderableType
from rich.segment import ControlType
from rich.style import Style
from textual import events
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Input, TabbedContent
from uisupport import demo_app, demo_bytes, demo_loader, inspecting, run, sample_app, settle

from inspector.changes import ChangeKind
from inspector.errors import SourceNotFound
from inspector.indexer import LayerIndex
from inspector.source import LoadedImage, LoadEvents
from inspector.sources.archive import ArchiveSource
from inspector.ui.app import InspectorApp
from inspector.ui.screens.contents import ContentsScreen
from inspector.ui.screens.error import ErrorScreen
from inspector.ui.screens.extract import ExtractScreen
from inspector.ui.screens.help import HelpScreen
from inspector.ui.screens.main import MainScreen
from inspector.ui.widgets.details import FileDetails, LayerDetails
from inspector.ui.widgets.file_tree import FileTreeView
from inspector.ui.widgets.filter_bar import FilterBar
from inspector.ui.widgets.footer import QuietFooter, wrap
from inspector.ui.widgets.layer_stack import LayerStack
from inspector.ui.widgets.legend import Legend
from inspector.ui.widgets.wasted import WastedTable

DEMO_LAYERS = 7
T = TypeVar("T")


def main(app: InspectorApp) -> MainScreen:
    return app.main_screen


def focused(app: InspectorApp) -> Widget | None:
    """The focused widget (a call, so that type narrowing does not outlive a key press)."""
    return app.focused


def focused_id(app: InspectorApp) -> str | None:
    return app.focused.id if app.focused is not None else None


def maximized_id(app: InspectorApp) -> str | None:
    widget = app.screen.maximized
    return widget.id if widget is not None else None


def value(x: T) -> T:
    """`x` itself: keeps mypy from carrying a narrowing across a key press."""
    return x


def paths(app: InspectorApp) -> list[str]:
    return [row.node.path for row in main(app).file_tree.rows]


def cursor_path(app: InspectorApp) -> str | None:
    return main(app).file_tree.current_path()


def details_text(app: InspectorApp, widget: type[FileDetails] | type[LayerDetails]) -> str:
    return main(app).query_one(widget).text()


async def to_tree(pilot: Pilot[int]) -> None:
    await pilot.press("tab")
    assert isinstance(pilot.app.focused, FileTreeView)


async def reveal(app: InspectorApp, pilot: Pilot[int], path: str) -> None:
    assert main(app).file_tree.reveal(path)
    await pilot.pause()


# --- loading --------------------------------------------------------------------------------


def test_opens_on_layer_zero_with_every_layer_listed() -> None:
    async def scenario(app: InspectorApp, pilot: Pilot[int]) -> None:
        screen = main(app)
        assert len(screen.layer_stack.items) == DEMO_LAYERS
        assert all(row.indexed for row in screen.layer_stack.items)
        assert screen.analysis is not None
        assert screen.shown == (-1, 0)
        assert paths(app) == ["bin", "etc", "tmp", "usr", "var"]
        assert {row.node.kind for row in screen.file_tree.rows} == {ChangeKind.ADDED}
        assert isinstance(focused(app), LayerStack)
        assert not screen.query_one("#load-status").display
        assert str(screen.query_one("#tree-pane").border_title) == "Layer 0 changes"

    run(demo_app(), scenario)


class _Gated(LoadEvents):
    pass


def test_layers_fill_in_as_they_are_indexed_and_q_quits_mid_load() -> None:
    """The manifest first (an OCI layout's order), then one layer per step."""
    loaded = demo_loader(LoadEvents())
    step = threading.Semaphore(0)

    def loader(events: LoadEvents) -> LoadedImage:
        events.image_known(loaded.image)
        for i, index in enumerate(loaded.layers):
            events.layer_started(f"layer{i}", index.compressed_size)
            while not step.acquire(timeout=0.05):
                events.layer_progress(0)  # lets the worker notice a cancellation
            events.layer_progress(index.compressed_size)
            events.layer_done(f"layer{i}", index)
        return loaded

    app = InspectorApp(inspecting(loader), "gated")

    async def scenario(app: InspectorApp, pilot: Pilot[int]) -> None:
        screen = main(app)
        for _ in range(20):
            await pilot.pause(0.05)
            if screen.layer_stack.items:
                break
        assert len(screen.layer_stack.items) == DEMO_LAYERS
        assert not any(row.indexed for row in screen.layer_stack.items)
        assert screen.query_one("#load-status").display
        assert "still being indexed" in screen.file_tree.empty_text
        step.release()
        for _ in range(40):
            await pilot.pause(0.05)
            if screen.layer_stack.items[0].indexed:
                break
        assert [row.indexed for row in screen.layer_stack.items[:2]] == [True, False]
        assert screen.shown == (-1, 0)
        assert paths(app)  # layer 0 is browsable while the others load
        await pilot.press("down")
        assert "still being indexed" in screen.file_tree.empty_text
        await pilot.press("q")  # quits at once although the loader waits for more steps
        await pilot.pause(0.2)
        assert not app.is_running

    run(app, scenario, wait=False)
    assert app.failure is None


def test_a_load_error_shows_the_cli_message_and_exits_2() -> None:
    def loader(events: LoadEvents) -> LoadedImage:
        raise SourceNotFound("missing.tar: no such file")

    app = InspectorApp(inspecting(loader), "missing.tar")

    async def scenario(app: InspectorApp, pilot: Pilot[int]) -> None:
        assert isinstance(app.screen, ErrorScreen)
        assert "inspector: missing.tar: no such file" in str(
            app.screen.query_one("#error-message").render()
        )
        await pilot.press("q")
        await pilot.pause()

    run(app, scenario)
    assert app.failure == "missing.tar: no such file"
    assert app.return_code == 2


def test_an_internal_error_is_reported_like_the_cli() -> None:
    def loader(events: LoadEvents) -> LoadedImage:
        raise RuntimeError("boom")

    app = InspectorApp(inspecting(loader), "x")

    async def scenario(app: InspectorApp, pilot: Pilot[int]) -> None:
        assert isinstance(app.screen, ErrorScreen)
        await pilot.click("#error-quit")
        await pilot.pause()

    run(app, scenario)
    assert app.failure is not None
    assert app.failure.startswith("internal error: RuntimeError: boom")
    assert app.return_code == 2


# --- the layer list ----------------------------------------------------------------------


def test_layer_navigation_keys_update_tree_and_details() -> None:
    async def scenario(app: InspectorApp, pilot: Pilot[int]) -> None:
        screen = main(app)
        await pilot.press("down")
        assert screen.selected == 1
        assert screen.shown == (0, 1)
        assert "Layer 1 of 7" in details_text(app, LayerDetails)
        await pilot.press("j", "j")
        assert screen.selected == 3
        await pilot.press("k")
        assert screen.selected == 2
        await pilot.press("up")
        assert screen.selected == 1
        await pilot.press("end")
        assert screen.selected == DEMO_LAYERS - 1
        await pilot.press("home")
        assert screen.selected == 0
        await pilot.press("G")
        assert screen.selected == DEMO_LAYERS - 1
        await pilot.press("g")
        assert screen.selected == 0

    run(demo_app(), scenario)


def test_page_down_at_the_last_layer_does_not_crash() -> None:
    """dive 0.13.1 panics here (index out of range)."""

    async def scenario(app: InspectorApp, pilot: Pilot[int]) -> None:
        screen = main(app)
        count = len(screen.layer_stack.items)
        await pilot.press("pagedown")
        assert 0 < screen.selected < count - 1  # a page of a 20-line terminal
        for key in ("end", "pagedown", "d", "pagedown", "down", "j", "G"):
            await pilot.press(key)
            assert screen.selected == count - 1
        for key in ("pageup", "u", "pageup", "up"):
            await pilot.press(key)
        assert screen.selected == 0
        await pilot.press("up", "pageup", "home")
        assert screen.selected == 0

    run(sample_app(), scenario, size=(100, 20))


def test_layer_and_aggregated_modes_and_the_base_layer() -> None:
    async def scenario(app: InspectorApp, pilot: Pilot[int]) -> None:
        screen = main(app)
        await pilot.press("end")
        assert screen.shown == (5, 6)
        await pilot.press("ctrl+a")
        assert screen.shown == (0, 6)
        assert "Aggregated: layer 0 → 6" in str(screen.query_one("#tree-pane").border_title)
        await pilot.press("up", "up")
        assert screen.shown == (0, 4)
        await pilot.press("b")  # the layer under the cursor becomes the base
        assert screen.base == 4
        assert screen.shown == (4, 4)
        await pilot.press("end")
        assert screen.shown == (4, 6)
        assert [row.node.path for row in screen.file_tree.rows if row.display != "unchanged"]
        await pilot.press("ctrl+l")
        assert screen.shown == (5, 6)
        assert screen.layer_stack.shown == (5, 6)

    run(demo_app(), scenario)


def test_left_and_right_cycle_the_details_tabs_and_enter_goes_to_the_tree() -> None:
    async def scenario(app: InspectorApp, pilot: Pilot[int]) -> None:
        tabs = main(app).query_one("#details", TabbedContent)
        assert tabs.active == "tab-layer"
        await pilot.press("right")
        assert tabs.active == "tab-image"
        await pilot.press("l")
        assert tabs.active == "tab-findings"
        await pilot.press("l")
        assert tabs.active == "tab-wasted"
        await pilot.press("h", "left", "left")
        assert tabs.active == "tab-layer"
        await pilot.press("left")
        assert tabs.active == "tab-file"
        await pilot.press("enter")
        assert isinstance(focused(app), FileTreeView)

    run(demo_app(), scenario)


def test_clicking_a_layer_selects_it() -> None:
    async def scenario(app: InspectorApp, pilot: Pilot[int]) -> None:
        await pilot.click(LayerStack, offset=(5, 3))
        assert main(app).selected == 3
        await pilot.click(LayerStack, offset=(5, 3))  # again: opens its files
        assert isinstance(focused(app), FileTreeView)

    run(demo_app(), scenario)


# --- panes ------------------------------------------------------------------------------------


def test_tab_cycles_layers_tree_details() -> None:
    async def scenario(app: InspectorApp, pilot: Pilot[int]) -> None:
        await pilot.press("tab")
        assert isinstance(focused(app), FileTreeView)
        tabs = main(app).query_one("#details", TabbedContent)
        assert tabs.active == "tab-file"  # the file under the cursor
        await pilot.press("tab")
        assert focused_id(app) == "file-scroll"
        await pilot.press("tab")
        assert isinstance(focused(app), LayerStack)
        assert tabs.active == "tab-layer"
        await pilot.press("shift+tab")
        assert focused_id(app) == "layer-scroll"
        await pilot.press("shift+tab")
        assert isinstance(focused(app), FileTreeView)

    run(demo_app(), scenario)


def test_z_maximizes_the_focused_pane() -> None:
    async def scenario(app: InspectorApp, pilot: Pilot[int]) -> None:
        await pilot.press("z")
        assert maximized_id(app) == "layers-pane"
        await pilot.press("z")
        assert maximized_id(app) is None
        await pilot.press("tab", "z")
        assert maximized_id(app) == "tree-pane"
        await pilot.press("escape")
        assert maximized_id(app) is None

    run(demo_app(), scenario)


def footer_keys(app: InspectorApp) -> list[str]:
    """The footer's keys as drawn: `key description` each."""
    footer = main(app).query_one(QuietFooter)
    return [f"{key} {description}".strip() for key, description, _ in footer.signature()]


def footer_line(app: InspectorApp) -> str:
    return main(app).query_one(QuietFooter).render_line(0).text


def test_the_footer_shows_the_focused_panes_keys() -> None:
    async def scenario(app: InspectorApp, pilot: Pilot[int]) -> None:
        layer_keys = footer_keys(app)
        assert "^a Aggregated" in layer_keys
        assert "tab Pane" in layer_keys
        assert "space Collapse" not in layer_keys
        assert footer_line(app).startswith(" ".join(layer_keys[:3]) + " ")
        await pilot.press("tab")
        tree_keys = footer_keys(app)
        assert "space Collapse" in tree_keys
        assert "^Space All" in tree_keys
        assert "^a Aggregated" not in tree_keys
        line = footer_line(app)  # one cell between keys, like Footer's compact style
        assert line.startswith(" ".join(tree_keys[:8]) + " ")
        await pilot.press("slash")
        assert "esc Close filter" in footer_keys(app)
        await pilot.press("escape")
        assert footer_keys(app) == tree_keys
        await pilot.press("shift+tab")
        assert footer_keys(app) == layer_keys

    run(demo_app(), scenario)


def test_the_footer_repaints_only_when_its_keys_change() -> None:
    async def scenario(app: InspectorApp, pilot: Pilot[int]) -> None:
        footer = main(app).query_one(QuietFooter)
        await pilot.press("tab")
        shown = footer.items
        main(app).refresh_bindings()  # announced again, the same keys
        await pilot.pause()
        assert footer.items is shown
        await pilot.press("shift+tab")
        assert footer.items is not shown

    run(demo_app(), scenario)


def test_clicking_a_footer_key_presses_it() -> None:
    async def scenario(app: InspectorApp, pilot: Pilot[int]) -> None:
        x = footer_line(app).index("^F Filter")
        await pilot.click(QuietFooter, offset=(x + 3, 0))
        await pilot.pause()
        assert main(app).filter_bar.display
        assert isinstance(focused(app), Input)
        await pilot.press("escape")
        x = footer_line(app).index("^Space All")
        await pilot.click(QuietFooter, offset=(x, 0))
        await pilot.pause()
        assert main(app).file_tree.state.expanded  # every directory opened

    run(demo_app(), scenario)


def test_the_tree_panes_keys_all_show_at_120_columns_on_two_lines_that_stay() -> None:
    async def scenario(app: InspectorApp, pilot: Pilot[int]) -> None:
        footer = main(app).query_one(QuietFooter)
        assert footer.region.height == 1  # the layer list's keys fit in one line
        await pilot.press("tab")
        await pilot.pause()
        drawn = [footer.render_line(y).text.rstrip() for y in range(footer.region.height)]
        assert footer.region.height == 2
        assert footer.region.bottom == app.size.height
        assert drawn == footer.lines  # nothing cut or scrolled away
        assert " ".join(drawn).split(" ") == " ".join(footer_keys(app)).split(" ")
        assert drawn[1].endswith("v View x Extract")
        assert all(len(line) <= app.size.width for line in drawn)
        x = drawn[1].index("x Extract")
        await pilot.click(QuietFooter, offset=(x, 1))  # a key on the second line
        await pilot.pause()
        assert isinstance(app.screen, ExtractScreen)
        # under the dialog, no line of keys that do not apply shows through its backdrop
        assert footer.render_line(0).text.strip() == ""
        await pilot.press("escape", "shift+tab")
        await pilot.pause()
        assert isinstance(focused(app), LayerStack)
        assert footer.render_line(0).text.startswith("tab Pane")
        assert footer.region.height == 2  # kept: Tab does not move the panes up and down
        assert footer.render_line(1).text.strip() == ""

    run(demo_app(), scenario, size=(120, 40))


def test_footer_lines_wrap_between_keys() -> None:
    assert wrap([5, 5, 5], 11) == [[0, 1], [2]]  # "aaaaa bbbbb" is 11 cells
    assert wrap([5, 5, 5], 10) == [[0], [1, 2]]
    assert wrap([5, 5, 5, 5, 5], 5) == [[0], [1, 2, 3, 4]]  # the last line takes the rest
    assert wrap([30], 10) == [[0]]
    assert wrap([], 10) == [[]]


def test_the_mouse_wheel_scrolls_a_footer_wider_than_two_lines() -> None:
    async def scenario(app: InspectorApp, pilot: Pilot[int]) -> None:
        await pilot.press("tab")  # the tree has the most keys
        footer = main(app).query_one(QuietFooter)
        assert footer.region.height == 2
        # the general keys come first, as in dive's footer, so a narrow terminal shows them
        assert footer_line(app).startswith("tab Pane ^F Filter f Findings q Quit ? Help")
        line = footer.render_line(1).text
        last = footer.items[-1]
        last_text = f"{last.key_display} {last.description}"
        assert last_text not in line
        for _ in range(40):
            await pilot._post_mouse_events([events.MouseScrollDown], footer, (5, 1))
        await pilot.pause()
        line = footer.render_line(1).text
        assert line.rstrip().endswith(last_text)
        assert footer_line(app).startswith("tab Pane")  # the first line does not scroll
        x = line.index(last_text)
        await pilot.click(QuietFooter, offset=(x, 1))
        await pilot.pause()
        assert isinstance(app.screen, ExtractScreen)  # the last key: x Extract

    run(demo_app(), scenario, size=(50, 24))


def test_the_footer_stays_when_a_pane_is_maximized() -> None:
    async def scenario(app: InspectorApp, pilot: Pilot[int]) -> None:
        await pilot.press("tab", "z")
        assert maximized_id(app) == "tree-pane"
        footer = main(app).query_one(QuietFooter)
        assert footer.display
        assert footer.region.bottom == app.size.height
        assert "space Collapse" in footer_keys(app)

    run(demo_app(), scenario)


def test_a_large_images_listings_are_frozen_out_of_the_collectors_sight(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import inspector.ui.screens.main as main_module

    listed_when_frozen: list[int] = []
    app = demo_app()
    monkeypatch.setattr(main_module, "FREEZE_PATHS", 1)  # the demo image counts as large
    monkeypatch.setattr(gc, "freeze", lambda: listed_when_frozen.append(len(app.files._listings)))

    async def scenario(app: InspectorApp, pilot: Pilot[int]) -> None:
        await app.workers.wait_for_complete()
        directories = {p for p in app.files.all_paths() if app.files.has_children(p)} | {""}
        assert listed_when_frozen[-1] >= len(directories)  # frozen after the listings

    run(app, scenario)


def test_a_large_image_is_frozen_before_the_screen_makes_its_rows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Freezing only after the wasted table's and findings' rows are made left a window in
    which one full collection walked every object of a 1M-file image: a first paint of
    1.1 s instead of 0.07 s, in one session of two (benchmarks/ui.py)."""
    import inspector.ui.screens.main as main_module
    from inspector.ui.widgets.wasted import WastedTable

    events: list[str] = []
    monkeypatch.setattr(main_module, "FREEZE_PATHS", 1)  # the demo image counts as large
    monkeypatch.setattr(gc, "freeze", lambda: events.append("freeze"))
    fill = WastedTable.set_files

    def set_files(table: WastedTable, files: Any) -> None:
        events.append("rows")
        fill(table, files)

    monkeypatch.setattr(WastedTable, "set_files", set_files)

    async def scenario(app: InspectorApp, pilot: Pilot[int]) -> None:
        await app.workers.wait_for_complete()
        assert "rows" in events
        assert events.index("freeze") < events.index("rows")

    run(demo_app(), scenario)


def test_a_view_left_empty_by_hidden_kinds_says_so_not_loading() -> None:
    from inspector.ui.widgets.file_tree import EMPTY_VIEW

    async def scenario(app: InspectorApp, pilot: Pilot[int]) -> None:
        await app.workers.wait_for_complete()
        tree = main(app).file_tree
        assert tree.rows
        await pilot.press("tab", "ctrl+a")  # layer 0 only adds: hide what it added
        await settle(pilot)
        assert not tree.rows
        assert tree.empty_text == EMPTY_VIEW

    run(demo_app(), scenario)


def test_directory_listings_are_sorted_in_the_background_after_the_load() -> None:
    async def scenario(app: InspectorApp, pilot: Pilot[int]) -> None:
        await app.workers.wait_for_complete()
        files = main(app).files
        directories = {p for p in files.all_paths() if files.has_children(p)} | {""}
        assert directories
        assert directories <= set(files._listings)  # expand all has none left to sort
        names = [n.name for n in files.children("", -1, 0)]
        assert names == sorted(names)

    run(demo_app(), scenario)


class TerminalGrid:
    """What a terminal shows: the app's updates (full or partial) applied cell by cell."""

    def __init__(self, app: InspectorApp) -> None:
        self.console = Console(width=app.size.width, file=io.StringIO(), color_system=None)
        self.cells: dict[tuple[int, int], tuple[str, Style | None]] = {}

    def apply(self, update: object) -> None:
        x = y = 0
        for segment in self.console.render(update):  # type: ignore[arg-type]
            if segment.control:
                for control in segment.control:
                    if control[0] is ControlType.CURSOR_MOVE_TO:
                        x, y = int(control[1]), int(control[2])  # type: ignore[misc]
                continue
            for char in segment.text:
                if char == "\n":
                    x, y = 0, y + 1
                    continue
                self.cells[x, y] = (char, segment.style)
                x += 1

    def rows(self) -> list[str]:
        height = 1 + max(y for _, y in self.cells)
        return [
            "".join(f"{self.cells.get((x, y), (' ', None))[0]}" for x in range(self.console.width))
            for y in range(height)
        ]


def test_what_the_terminal_shows_after_focus_moves_is_a_full_render() -> None:
    """The focus moving repaints only the widgets it changes (not the whole screen): what
    those partial updates leave on the terminal must be what a full render shows."""

    async def scenario(app: InspectorApp, pilot: Pilot[int]) -> None:
        screen = main(app)
        terminal = TerminalGrid(app)
        terminal.apply(screen._compositor.render_update(full=True))
        shown: list[object] = []
        display = app._display

        def record(screen_: Screen[object], renderable: RenderableType | None) -> None:
            if renderable is not None:
                shown.append(renderable)
            display(screen_, renderable)

        app._display = record  # type: ignore[method-assign,assignment]
        for keys in (("tab",), ("tab",), ("tab",), ("shift+tab",), ("slash", "e"), ("escape",)):
            await pilot.press(*keys)
            await pilot.pause()
            for update in shown:
                terminal.apply(update)
            shown.clear()
            for widget in screen.query(Widget):
                widget.notify_style_update()  # no cached lines or styles: drawn afresh
                widget._set_dirty()
            full = TerminalGrid(app)
            full.apply(screen._compositor.render_update(full=True))
            assert terminal.rows() == full.rows(), keys
            assert terminal.cells == full.cells, keys  # the styles too (cursor, borders)
            terminal.cells = dict(full.cells)

    run(demo_app(), scenario)


# --- the file tree ---------------------------------------------------------------------------


def test_expand_collapse_and_move_in_the_tree() -> None:
    async def scenario(app: InspectorApp, pilot: Pilot[int]) -> None:
        tree = main(app).file_tree
        await to_tree(pilot)
        assert cursor_path(app) == "bin"
        await pilot.press("space")
        assert paths(app)[:2] == ["bin", "bin/busybox"]
        await pilot.press("space")
        assert "bin/busybox" not in paths(app)
        await pilot.press("enter")
        assert "bin/busybox" in paths(app)
        await pilot.press("j")
        assert cursor_path(app) == "bin/busybox"
        await pilot.press("left")  # to the parent
        assert cursor_path(app) == "bin"
        await pilot.press("h")  # collapses it
        assert "bin/busybox" not in paths(app)
        await pilot.press("l")  # expands
        assert "bin/busybox" in paths(app)
        await pilot.press("right")  # descends
        assert cursor_path(app) == "bin/busybox"
        await pilot.press("end")
        assert tree.cursor == len(tree.rows) - 1
        await pilot.press("home", "down", "k")
        assert tree.cursor == 0
        await pilot.press("pagedown", "pagedown", "pageup", "pageup")
        assert tree.cursor == 0

    run(demo_app(), scenario)


def test_collapse_all_and_expand_all() -> None:
    async def scenario(app: InspectorApp, pilot: Pilot[int]) -> None:
        await pilot.press("end")
        await to_tree(pilot)
        before = len(paths(app))
        await pilot.press("ctrl+@")  # Ctrl+Space in a terminal
        assert "app/.git/objects/pack-1.pack" in paths(app)
        assert len(paths(app)) > before
        await pilot.press("ctrl+@")
        assert len(paths(app)) == before

    run(demo_app(), scenario)


def test_hiding_each_kind_and_the_legend() -> None:
    async def scenario(app: InspectorApp, pilot: Pilot[int]) -> None:
        screen = main(app)
        await pilot.press("down", "down")  # layer 2 removes the apt lists
        await to_tree(pilot)
        tree = screen.file_tree
        tree.state.expanded.update({"var", "var/lib", "var/lib/apt", "var/lib/apt/lists"})
        tree.rebuild()
        await pilot.pause()
        removed = [r.node.path for r in tree.rows if r.node.kind is ChangeKind.REMOVED]
        assert len(removed) == 3
        await pilot.press("ctrl+u")  # hide unmodified: only the changes and their dirs
        assert ChangeKind.UNCHANGED in tree.state.hidden
        assert screen.query_one(Legend).hidden == {ChangeKind.UNCHANGED}
        assert all(p.startswith("var") for p in paths(app))
        await pilot.press("ctrl+r")  # hide removed too: nothing left to show
        assert paths(app) == [] or all(
            r.node.kind is not ChangeKind.REMOVED for r in tree.rows if not r.node.is_dir
        )
        await pilot.press("ctrl+r", "ctrl+u")
        assert tree.state.hidden == frozenset()
        await pilot.press("m")  # Ctrl+M is Enter in terminals: m hides modified
        assert tree.state.hidden == {ChangeKind.MODIFIED}
        await pilot.press("m", "ctrl+a")
        assert tree.state.hidden == {ChangeKind.ADDED}
        await pilot.press("ctrl+a")
        await pilot.click(Legend, offset=(2, 0))  # "■ added"
        assert tree.state.hidden == {ChangeKind.ADDED}
        await pilot.click(Legend, offset=(2, 0))
        assert tree.state.hidden == frozenset()

    run(demo_app(), scenario)


def test_the_legend_shows_every_kind_in_a_narrow_pane() -> None:
    async def scenario(app: InspectorApp, pilot: Pilot[int]) -> None:
        legend = main(app).query_one(Legend)
        line = legend.render_line(0).text.rstrip()
        assert line == "■ added ■ modified ■ removed ■ unmod"
        assert len(line) <= legend.size.width
        await pilot.click(Legend, offset=(line.index("unmod"), 0))
        assert main(app).file_tree.state.hidden == {ChangeKind.UNCHANGED}

    run(demo_app(), scenario, size=(80, 24))

    async def wide(app: InspectorApp, pilot: Pilot[int]) -> None:
        line = main(app).query_one(Legend).render_line(0).text.rstrip()
        assert line == "■ added  ■ modified  ■ removed  ■ unmodified"

    run(demo_app(), wide)


def test_attributes_and_sort_order() -> None:
    async def scenario(app: InspectorApp, pilot: Pilot[int]) -> None:
        tree = main(app).file_tree
        await pilot.press("end")
        await to_tree(pilot)
        assert "Permission" in str(main(app).query_one("#tree-header").render())
        await pilot.press("ctrl+b")
        assert not value(tree.show_attributes)
        assert "Permission" not in str(main(app).query_one("#tree-header").render())
        await pilot.press("ctrl+b")
        assert value(tree.show_attributes)
        names = paths(app)
        assert names == sorted(names)
        await pilot.press("ctrl+o")
        sizes = [row.node.size for row in tree.rows]
        assert sizes == sorted(sizes, reverse=True)
        assert "sort: size" in str(main(app).query_one("#tree-pane").border_subtitle)
        await pilot.press("ctrl+o")
        assert paths(app) == names

    run(demo_app(), scenario)


def test_file_details_show_the_history() -> None:
    async def scenario(app: InspectorApp, pilot: Pilot[int]) -> None:
        await pilot.press("end")
        await to_tree(pilot)
        await reveal(app, pilot, "app/config.yaml")
        text = details_text(app, FileDetails)
        assert "/app/config.yaml" in text
        assert "rewritten" not in text
        history = main(app).files.history("app/config.yaml")
        assert [(h.layer, h.kind) for h in history] == [
            (3, ChangeKind.ADDED),
            (6, ChangeKind.MODIFIED),
        ]

    run(demo_app(), scenario)


def test_clicks_select_and_toggle_directories() -> None:
    async def scenario(app: InspectorApp, pilot: Pilot[int]) -> None:
        await to_tree(pilot)
        await pilot.click(FileTreeView, offset=(40, 1))
        assert cursor_path(app) == "etc"
        await pilot.click(FileTreeView, offset=(40, 1))
        assert "etc/os-release" in paths(app)

    run(demo_app(), scenario)


def notifications(app: InspectorApp) -> list[str]:
    return [n.message for n in app._notifications]


def test_enter_on_a_file_shows_its_text_as_stored() -> None:
    async def scenario(app: InspectorApp, pilot: Pilot[int]) -> None:
        await to_tree(pilot)
        await reveal(app, pilot, "etc/os-release")
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ContentsScreen)
        assert screen.text == 'NAME="Demo Linux"\nVERSION_ID="1"\n'
        assert screen.contents.layer == 0
        footer = screen.query_one(QuietFooter).render_line(0).text.strip()
        assert footer == "esc Close"  # the viewer's keys, not the tree's under it
        await pilot.press("q")  # closes the viewer, not the app
        assert isinstance(app.screen, MainScreen)

    run(demo_app(), scenario)


def test_v_shows_the_version_of_the_layer_under_the_cursor() -> None:
    """The demo's last layer rewrites /app/config.yaml: each layer shows its own bytes."""

    async def scenario(app: InspectorApp, pilot: Pilot[int]) -> None:
        shown: list[str] = []
        for layer in (DEMO_LAYERS - 1, 3):
            main(app).layer_stack.move_cursor(layer)
            await pilot.pause()
            await to_tree(pilot)
            await reveal(app, pilot, "app/config.yaml")
            await pilot.press("v")
            await settle(pilot)
            screen = app.screen
            assert isinstance(screen, ContentsScreen)
            shown.append(screen.text)
            await pilot.press("escape")
            await pilot.press("shift+tab")
        assert "log_level: info" in shown[0]
        assert "log_level: debug" in shown[1]

    run(demo_app(), scenario)


def test_a_binary_is_shown_as_hex_with_its_type() -> None:
    async def scenario(app: InspectorApp, pilot: Pilot[int]) -> None:
        await to_tree(pilot)
        await reveal(app, pilot, "bin/busybox")
        await pilot.press("v")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ContentsScreen)
        first = screen.text.splitlines()[0]
        data = screen.contents.data
        assert first.startswith("00000000  " + " ".join(f"{b:02x}" for b in data[:8]))
        assert screen.contents.size == 1_100_000
        subtitle = str(screen.query_one("#contents-dialog").border_subtitle)
        assert subtitle.startswith("data · ")

    run(demo_app(), scenario)


def test_x_extracts_a_directory_to_the_path_typed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    async def scenario(app: InspectorApp, pilot: Pilot[int]) -> None:
        main(app).layer_stack.move_cursor(3)  # COPY . /app
        await pilot.pause()
        await to_tree(pilot)
        await reveal(app, pilot, "app/src")
        await pilot.press("x")
        await pilot.pause()
        assert isinstance(app.screen, ExtractScreen)
        assert app.screen.query_one(QuietFooter).render_line(0).text.strip() == "esc Cancel"
        field = app.screen.query_one(Input)
        assert field.value == os.path.join(".", "src")
        field.value = "out/src"
        await pilot.press("enter")  # out/ does not exist: refused
        await settle(pilot)
        assert any("does not exist" in m for m in notifications(app))
        (tmp_path / "out").mkdir()
        await pilot.press("x")
        await pilot.pause()
        app.screen.query_one(Input).value = "out/src"
        await pilot.press("enter")
        await settle(pilot)
        assert any(m.startswith("/app/src: 1 file") for m in notifications(app))

    run(demo_app(), scenario)
    assert (tmp_path / "out" / "src" / "main.py").read_bytes().startswith(b"print line 0\n")


def test_escape_cancels_an_extraction(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)

    async def scenario(app: InspectorApp, pilot: Pilot[int]) -> None:
        await to_tree(pilot)
        await reveal(app, pilot, "etc/os-release")
        await pilot.press("ctrl+e")
        await pilot.pause()
        assert isinstance(app.screen, ExtractScreen)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)

    run(demo_app(), scenario)
    assert os.listdir(tmp_path) == []


def test_a_source_that_cannot_read_again_says_why() -> None:
    def loader(events: LoadEvents) -> LoadedImage:
        return ArchiveSource(None, "demo", stream=io.BytesIO(demo_bytes())).load(events)

    async def scenario(app: InspectorApp, pilot: Pilot[int]) -> None:
        await to_tree(pilot)
        await reveal(app, pilot, "etc/os-release")
        await pilot.press("v")
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
        assert any("save it to a file" in m for m in notifications(app))

    run(InspectorApp(inspecting(loader), "demo"), scenario)


# --- the filter -------------------------------------------------------------------------------


def test_filter_live_matches_next_previous_and_close() -> None:
    async def scenario(app: InspectorApp, pilot: Pilot[int]) -> None:
        screen = main(app)
        await pilot.press("end", "ctrl+f")
        bar = screen.query_one(FilterBar)
        assert value(bar.display)
        assert isinstance(focused(app), Input)
        await pilot.press(*"apt")
        tree = screen.file_tree
        # var/cache/apt, its pkgcache.bin, var/lib/apt and the (emptied) lists directory
        assert tree.match_count == 4
        assert paths(app) == [
            "var",
            "var/cache",
            "var/cache/apt",
            "var/cache/apt/pkgcache.bin",
            "var/lib",
            "var/lib/apt",
            "var/lib/apt/lists",
        ]
        assert "4 matches" in str(bar.query_one("#filter-status").render())
        assert "filter: apt" in str(screen.query_one("#tree-pane").border_subtitle)
        await pilot.press("enter")
        assert isinstance(focused(app), FileTreeView)
        first = cursor_path(app)
        await pilot.press("n")
        second = cursor_path(app)
        assert second != first
        await pilot.press("N")
        assert cursor_path(app) == first
        await pilot.press("slash")  # vi's / opens it again, with the text kept
        assert value(bar.input.value) == "apt"
        await pilot.press("escape")  # closes and clears (dive)
        assert not value(bar.display)
        assert value(tree.state.matches) is None
        assert value(bar.input.value) == ""

    run(demo_app(), scenario)


def test_filter_modes_errors_sizes_and_q_typed_in_the_input() -> None:
    async def scenario(app: InspectorApp, pilot: Pilot[int]) -> None:
        screen = main(app)
        bar = screen.query_one(FilterBar)
        tree = screen.file_tree
        await pilot.press("ctrl+f", "asterisk")
        assert "invalid regex" in str(bar.query_one("#filter-status").render())
        await pilot.press("ctrl+t")  # glob mode: *.so… is fine now
        assert bar.mode == "glob"
        assert "glob" in str(bar.query_one("#filter-mode").render())
        await pilot.press("backspace", *"busy*")
        assert tree.match_count == 1
        await pilot.press("ctrl+a", "ctrl+k")  # Input editing keys still work
        await pilot.press(*">1MB")
        assert {tree.files.all_paths()[i] for i in tree.state.matches.ids} == {  # type: ignore[union-attr]
            "bin/busybox",
            "usr/lib/libc.so.6",
        }
        await pilot.press("space", "q")  # q is text here, not quit
        assert app.is_running
        assert bar.input.value.endswith("q")

    run(demo_app(), scenario)


def test_the_filter_label_names_a_size_condition_as_a_size_filter() -> None:
    async def scenario(app: InspectorApp, pilot: Pilot[int]) -> None:
        bar = main(app).query_one(FilterBar)

        def label() -> str:
            return str(bar.query_one("#filter-mode").render())

        await pilot.press("ctrl+f")
        assert label() == "Filter regex: "  # nothing typed yet: the pattern mode
        await pilot.press(*">1MB")
        assert label() == "Filter size: "
        assert main(app).file_tree.match_count == 2
        await pilot.press(*" lib")
        assert label() == "Filter regex + size: "
        await pilot.press("ctrl+t")
        assert label() == "Filter glob + size: "
        await pilot.press("ctrl+a", "ctrl+k")
        assert label() == "Filter glob: "
        await pilot.press("ctrl+t", *"<10")
        assert label() == "Filter size: "
        await pilot.press("escape", "slash")
        assert label() == "Filter regex: "

    run(demo_app(), scenario)


# --- wasted space ---------------------------------------------------------------------------


def test_wasted_table_sorts_and_jumps_to_the_tree() -> None:
    async def scenario(app: InspectorApp, pilot: Pilot[int]) -> None:
        screen = main(app)
        await pilot.press("right", "right", "right", "tab", "tab")
        table = screen.query_one(WastedTable)
        assert focused(app) is table
        assert table.files[0].path == "tmp/dataset.tar.gz"
        await pilot.press("s")  # path
        assert table.files[0].path == "app/config.yaml"
        await pilot.press("S")
        assert table.files[0].path == "var/lib/apt/lists/deb.example.org_dists_updates_Packages"
        await pilot.click("#wasted-header", offset=(3, 0))  # Size
        assert table.sort == "size"
        assert table.files[0].path == "tmp/dataset.tar.gz"
        await pilot.press("enter")
        assert screen.selected == 4
        assert screen.shown == (3, 4)
        assert cursor_path(app) == "tmp/dataset.tar.gz"
        assert isinstance(focused(app), FileTreeView)
        row = screen.file_tree.current()
        assert row is not None
        assert row.node.kind is ChangeKind.ADDED
        await pilot.press("tab", "o")  # where it was hidden: shown removed
        assert screen.selected == 5
        row = screen.file_tree.current()
        assert row is not None
        assert row.node.path == "tmp/dataset.tar.gz"
        assert row.node.kind is ChangeKind.REMOVED

    run(demo_app(), scenario)


# --- global keys ------------------------------------------------------------------------------


def test_help_screen() -> None:
    async def scenario(app: InspectorApp, pilot: Pilot[int]) -> None:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("question_mark")
        assert isinstance(app.screen, MainScreen)

    run(demo_app(), scenario)


@pytest.mark.parametrize("key", ["q", "ctrl+c"])
def test_quit_keys(key: str) -> None:
    async def scenario(app: InspectorApp, pilot: Pilot[int]) -> None:
        await pilot.press("tab", key)
        await pilot.pause()
        assert not app.is_running

    app = demo_app()
    run(app, scenario)
    assert app.return_code in (None, 0)


def test_command_palette_runs_inspector_commands() -> None:
    async def scenario(app: InspectorApp, pilot: Pilot[int]) -> None:
        await pilot.press("end", "ctrl+p")
        await pilot.pause()
        await pilot.press(*"aggregated")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        assert main(app).shown == (0, 6)

    run(demo_app(), scenario)


@pytest.mark.parametrize("size", [(80, 24), (40, 12), (20, 6), (10, 3), (200, 60)])
def test_every_size_and_cursor_position_renders(size: tuple[int, int]) -> None:
    async def scenario(app: InspectorApp, pilot: Pilot[int]) -> None:
        for keys in (("end",), ("tab", "ctrl+@", "end"), ("pagedown",), ("home",)):
            await pilot.press(*keys)
            app.screen._compositor.render_update(full=True)  # draws every line
        await pilot.resize_terminal(size[0] + 7, size[1] + 3)
        await pilot.pause()
        await pilot.resize_terminal(*size)
        await pilot.pause()
        await pilot.press("up", "shift+tab", "end", "pagedown", "z", "z")

    run(demo_app(), scenario, size=size)


@pytest.mark.dive
def test_sample_image_loads_with_dives_layers_and_score(
    sample_archives: dict[str, Path], dive_runs: DiveRuns
) -> None:
    theirs = dive_runs.document(sample_archives["docker"])

    async def scenario(app: InspectorApp, pilot: Pilot[int]) -> None:
        screen = main(app)
        assert len(screen.layer_stack.items) == len(theirs["layer"]) == 14
        assert screen.analysis is not None
        assert screen.dive is not None
        assert screen.dive.efficiency == theirs["image"]["efficiencyScore"]
        assert screen.dive.wasted_bytes == theirs["image"]["inefficientBytes"]

    run(sample_app(), scenario)


def test_settle_helper_waits_for_the_worker() -> None:
    async def scenario(app: InspectorApp, pilot: Pilot[int]) -> None:
        await settle(pilot)
        assert main(app).loaded is not None

    run(demo_app(), scenario, wait=False)
    assert demo_bytes()
    assert isinstance(LayerIndex(), LayerIndex)


def test_the_analysis_goes_to_and_comes_from_the_result_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from inspector import results
    from inspector.cache import LayerCache

    cache = LayerCache(str(tmp_path / "cache"))
    seen: list[MainScreen] = []

    async def analysed(app: InspectorApp, pilot: Pilot[int]) -> None:
        assert isinstance(app.screen, MainScreen)
        seen.append(app.screen)

    run(InspectorApp(inspecting(demo_loader, cache), "demo"), analysed)
    first = seen[0]
    assert first.loaded is not None
    assert first.analysis is not None
    key = results.result_key(first.loaded.image, first.loaded.layers)
    assert key is not None
    assert cache.get_result(key) is not None

    calls: list[int] = []
    from inspector.analysis import Analysis, analyse
    from inspector.model import Image

    real = analyse

    def counting(image: Image, layers: Sequence[LayerIndex]) -> Analysis:
        calls.append(1)
        return real(image, layers)

    monkeypatch.setattr(results, "analyse", counting)
    run(InspectorApp(inspecting(demo_loader, cache), "demo"), analysed)
    assert calls == []  # the second app read the cached result
    again = seen[1].analysis
    assert again is not None
    assert again.exact == first.analysis.exact
    assert again.exact.wasted_files  # the demo wastes bytes: the comparison means something


def test_layers_shared_with_other_images_are_marked_and_listed() -> None:
    """Another image with the demo's first two layers (the same ChainIDs): those rows
    carry the marker, layer details name the image, image details split the bytes."""
    from dataclasses import replace

    from inspector import formatting
    from inspector.sharing import OtherImage
    from inspector.ui.widgets.details import ImageDetails

    def loader(events: LoadEvents) -> LoadedImage:
        loaded = demo_loader(events)
        base = tuple(layer.diff_id for layer in loaded.image.layers[:2])
        # the same diff_ids in another order share nothing (a ChainID is the whole prefix)
        reordered = tuple(reversed([layer.diff_id for layer in loaded.image.layers[:3]]))
        others = (OtherImage("base:1", base), OtherImage("other:2", reordered))
        return replace(loaded, others=others)

    async def scenario(app: InspectorApp, pilot: Pilot[int]) -> None:
        screen = main(app)
        stack = screen.layer_stack
        rows = ["".join(s.text for s in stack.render_row(i, 160)) for i in range(DEMO_LAYERS)]
        assert ["◆" in row for row in rows] == [True, True] + [False] * (DEMO_LAYERS - 2)
        assert "base:1" in details_text(app, LayerDetails)
        assert "other:2" not in details_text(app, LayerDetails)
        await pilot.press("down", "down")
        assert "Layer 2 of 7" in details_text(app, LayerDetails)  # positions count from 0
        assert "base:1" not in details_text(app, LayerDetails)
        tars = [index.uncompressed_size for index in screen.loaded.layers] if screen.loaded else []
        image_text = screen.query_one(ImageDetails).text(200)
        shared, unique = formatting.size(sum(tars[:2])), formatting.size(sum(tars[2:]))
        assert f"{shared} in layers other images also have, {unique} unique" in image_text

    run(InspectorApp(inspecting(loader), "demo"), scenario, size=(160, 50))
