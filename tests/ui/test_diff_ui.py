"""`inspector diff OLD NEW` at a terminal: the diff UI, driven headless against real
archives (tests/diffimages.py), on a hostile image, and the console script in tmux."""

from __future__ import annotations

import asyncio
import io
import shlex
import shutil
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path

import diffimages
import hostile
import imagebuilder as ib
import pytest
from rich.console import Console
from test_tmux_e2e import Terminal, console_script
from textual.pilot import Pilot

from inspector import cli, pipeline
from inspector.changes import ChangeKind
from inspector.diff import FileChange, LayerStatus
from inspector.inspection import Inspection
from inspector.source import LoadEvents
from inspector.ui.diffapp import DiffApp, diff_app_for
from inspector.ui.diffrows import Mark
from inspector.ui.screens.diff import DiffScreen
from inspector.ui.screens.error import ErrorScreen
from inspector.ui.screens.help import HelpScreen
from inspector.ui.screens.history import HistoryScreen, SideChoice
from inspector.ui.widgets.details import FileDetails
from inspector.ui.widgets.diff_details import ChangeDetails, DiffSummary, PairDetails
from inspector.ui.widgets.filter_bar import FilterBar

SIZE = (140, 45)
KINDS = {
    FileChange.ADDED: ChangeKind.ADDED,
    FileChange.REMOVED: ChangeKind.REMOVED,
    FileChange.MODIFIED: ChangeKind.MODIFIED,
}
Scenario = Callable[[DiffApp, Pilot[int]], Awaitable[None]]


@pytest.fixture(scope="module")
def archives(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return diffimages.write(tmp_path_factory.mktemp("diff-ui"))


def run(app: DiffApp, scenario: Scenario, size: tuple[int, int] = SIZE) -> None:
    async def main() -> None:
        async with app.run_test(size=size) as pilot:
            await app.workers.wait_for_complete()
            await pilot.pause()
            await pilot.pause()
            await scenario(app, pilot)

    asyncio.run(main())


def value(x: bool) -> bool:
    """`x` itself: keeps mypy from carrying a narrowing across a key press."""
    return x


def screen_of(app: DiffApp) -> DiffScreen:
    return app.diff_screen


def screen_text(app: DiffApp) -> str:
    """The text of a full render of the screen, checked: nothing a terminal acts on."""
    console = Console(width=app.size.width, file=io.StringIO(), color_system=None)
    update = app.screen._compositor.render_update(full=True)
    text = "".join(s.text for s in console.render(update) if not s.control)  # type: ignore[arg-type]
    controls = {char for char in text if not char.isprintable() and char != "\n"}
    assert not controls, f"control characters on screen: {controls!r}"
    assert not hostile.leaks(text), hostile.leaks(text)
    return text


def tree_cells(app: DiffApp) -> dict[str, tuple[ChangeKind, str]]:
    """Every row of the changed-path tree: its colour (kind) and its columns."""
    tree = screen_of(app).changes_tree
    return {
        row.node.path: (row.display, tree.cells(row.node, tree.layout_width).strip())
        for row in tree.rows
    }


async def press(pilot: Pilot[int], *keys: str) -> None:
    """Press `keys`, then wait for the workers they started (a history's tree)."""
    await pilot.press(*keys)
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def expand_all(app: DiffApp, pilot: Pilot[int]) -> None:
    await pilot.press("tab")
    assert screen_of(app).changes_tree.has_focus
    await pilot.press("ctrl+@")
    await pilot.pause()


# --- the layer stacks -----------------------------------------------------------------------


def test_the_stacks_side_by_side_with_the_shared_prefix_and_the_divergent_layer(
    archives: tuple[Path, Path],
) -> None:
    async def scenario(app: DiffApp, pilot: Pilot[int]) -> None:
        screen = screen_of(app)
        rows = screen.pairs.items
        assert [r.status for r in rows] == [
            LayerStatus.SHARED,
            LayerStatus.SHARED,
            LayerStatus.CHANGED,
            LayerStatus.REBUILT_IDENTICAL,
            LayerStatus.REMOVED,
            LayerStatus.CHANGED,
            LayerStatus.ADDED,
        ]
        assert [r.mark for r in rows] == [Mark.PREFIX, Mark.PREFIX, Mark.DIVERGENT] + [
            Mark.AFTER
        ] * 4
        indexes = [(r.pair.old and r.pair.old.index, r.pair.new and r.pair.new.index) for r in rows]
        assert indexes == [(0, 0), (1, 1), (2, 2), (3, 3), (4, None), (5, 4), (None, 5)]
        assert screen.pairs.cursor == 2  # it opens on the first divergent layer
        text = screen_text(app)
        lines = text.splitlines()
        assert "▶ First divergent layer: 2 of NEW (inputs changed)" in text
        divergent = next(line for line in lines if "▶   2" in line)
        assert "COPY . /app" in divergent
        assert "│ changed " in divergent
        assert "2 MB* COPY . /app" in divergent  # NEW's blob, pulled
        assert sum("┃   " in line for line in lines) == 2  # the shared prefix
        removed = next(line for line in lines if "│ removed " in line)
        assert "rm -rf /var/cache/apt" in removed
        assert removed.split("│ removed ")[1].split()[1] == "-"  # NEW has no layer there
        added = next(line for line in lines if "│ added " in line)
        assert "useradd app" in added
        assert "rebuilt-identical" in text
        details = screen.query_one(PairDetails).text(140)
        assert "First divergent layer (inputs changed)" in details
        assert "OLD 2: COPY . /app" in details
        assert "a host holding OLD pulls it" in details

        await pilot.press("home")  # the cursor: the details follow
        details = screen.query_one(PairDetails).text(140)
        assert "In the shared prefix (2 layers)" in details
        assert "First divergent" not in details
        summary = screen.query_one(DiffSummary).text(100)
        assert "Diverges  2 of NEW (inputs changed)" in summary
        assert "Pull      2.1 MB in 4 layers (2, 3, 4, 5)" in summary

    old, new = archives
    run(diff_app_for((str(old), str(new))), scenario)


def test_a_changed_instruction_is_named_as_the_cause(
    archives: tuple[Path, Path], tmp_path: Path
) -> None:
    layers = diffimages.old_layers()
    layers[2] = ib.Layer(diffimages.new_layers()[2].ops, created_by="COPY src/ /app # buildkit")
    new = tmp_path / "other.tar"
    new.write_bytes(ib.docker_save_legacy(ib.build_image(*layers)))

    async def scenario(app: DiffApp, pilot: Pilot[int]) -> None:
        text = screen_text(app)
        assert "▶ First divergent layer: 2 of NEW (instruction changed)" in text
        details = screen_of(app).query_one(PairDetails).text(140)
        assert "First divergent layer (instruction changed): its instruction changed" in details
        assert "NEW 2: COPY src/ /app" in details

    run(diff_app_for((str(archives[0]), str(new))), scenario)


# --- the changed paths ----------------------------------------------------------------------


def test_the_tree_holds_every_changed_path_coloured_by_kind(archives: tuple[Path, Path]) -> None:
    async def scenario(app: DiffApp, pilot: Pilot[int]) -> None:
        await expand_all(app, pilot)
        ready = app.ready
        assert ready is not None
        files = ready.result.files
        cells = tree_cells(app)
        changes = [*files.added, *files.removed, *files.modified]
        assert {c.path for c in files.added} == set(diffimages.ADDED)
        assert {c.path for c in files.removed} == set(diffimages.REMOVED)
        assert {c.path: c.fields for c in files.modified} == diffimages.MODIFIED
        for change in changes:  # every changed path is a row, in its kind's colour
            assert cells[change.path][0] is KINDS[change.change], change.path
        others = set(cells) - {c.path for c in changes}
        assert others == {"app", "app/docs", "etc", "var", "var/cache"}  # dirs above
        assert all(cells[p][0] is ChangeKind.MODIFIED for p in others)  # changes below
        assert cells["app/run.sh"][1].split() == ["0", "B", "L2", "mode"]
        assert cells["app/cache"][1].split() == ["-10", "B", "L2", "type,mode"]
        assert cells["app/config.yaml"][1].split() == ["0", "B", "L4", "link"]
        assert cells["app/docs/README"][1].split() == ["0", "B", "L2", "owner"]
        assert cells["etc/passwd"][1].split() == ["+30", "B", "L5", "content"]
        assert cells["app/old.txt"][1].split() == ["-1.5", "kB", "-", "removed"]
        assert cells["app/data/model.bin"][1].split() == ["+2", "MB", "L2", "added"]
        assert cells["var/cache"][1].split() == ["+50", "kB", "2", "below"]
        text = screen_text(app)
        assert "config.yaml → /etc/app/config-v2.yaml" in text
        assert "Changed paths · +5 ~6 -1" in text

        tree = screen_of(app).changes_tree
        assert tree.reveal("app/config.yaml")
        await pilot.pause()
        details = screen_of(app).query_one(ChangeDetails).text(100)
        assert "Change  modified: link" in details
        assert "Link    /etc/app/config-v1.yaml → /etc/app/config-v2.yaml" in details
        assert "brought by layer 4 of NEW: RUN ln -s /etc/app/config-$VERSION.yaml" in details

    old, new = archives
    run(diff_app_for((str(old), str(new))), scenario)


def test_the_main_trees_keys_filter_hide_and_sort(archives: tuple[Path, Path]) -> None:
    async def scenario(app: DiffApp, pilot: Pilot[int]) -> None:
        screen = screen_of(app)
        tree = screen.changes_tree
        await expand_all(app, pilot)
        assert "app/old.txt" in tree_cells(app)
        await pilot.press("ctrl+r")  # hide removed
        assert "app/old.txt" not in tree_cells(app)
        await pilot.press("m")  # hide modified: only the added and the directories above
        shown = {p for p, (kind, _) in tree_cells(app).items() if kind is not ChangeKind.MODIFIED}
        assert shown == set(diffimages.ADDED)
        assert "app/app.py" not in tree_cells(app)
        await pilot.press("ctrl+r", "m")
        assert "app/old.txt" in tree_cells(app)

        await pilot.press("slash", *"passwd")
        await pilot.pause()
        bar = screen.query_one(FilterBar)
        assert value(bar.display)
        assert tree.match_count == 1
        assert [r.node.path for r in tree.rows if r.matched] == ["etc/passwd"]
        await pilot.press("escape")
        assert not value(bar.display)
        assert tree.match_count == 0

        await pilot.press("slash", *">1MB")  # a size condition: NEW's size of the path
        await pilot.pause()
        assert [r.node.path for r in tree.rows if r.matched] == ["app/data/model.bin"]
        await pilot.press("escape")

        await pilot.press("ctrl+o")  # by size: the 2 MB directory first under /app
        app_rows = [
            r.node.path for r in tree.rows if r.depth == 1 and r.node.path.startswith("app/")
        ]
        assert app_rows[0] == "app/data"
        assert "sort: size" in screen_text(app)

        await pilot.press("ctrl+b")  # the columns off
        assert tree_cells(app)["etc/passwd"][1] == ""
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        help_text = screen_text(app)
        assert "the path's history in OLD" in help_text
        assert "hide / show removed" in help_text

    old, new = archives
    run(diff_app_for((str(old), str(new))), scenario)


# --- a path's history -----------------------------------------------------------------------


def history_text(app: DiffApp) -> str:
    screen = app.screen
    assert isinstance(screen, HistoryScreen)
    return screen.query_one(FileDetails).text(140)


def test_a_key_opens_a_paths_history_in_old_and_in_new(archives: tuple[Path, Path]) -> None:
    async def scenario(app: DiffApp, pilot: Pilot[int]) -> None:
        tree = screen_of(app).changes_tree
        await pilot.press("tab")
        assert tree.reveal("etc/passwd")
        assert screen_of(app).trees == [None, None]  # grown when a history is asked for
        await press(pilot, "less_than_sign")  # in OLD: the base layer stored it, no more
        assert [t is not None for t in screen_of(app).trees] == [True, False]
        screen = app.screen
        assert isinstance(screen, HistoryScreen)
        assert screen.side == "OLD"
        text = history_text(app)
        history = text.split("History")[1].splitlines()[2:]
        assert [line.split()[:2] for line in history if line.strip()] == [["▶0", "added"]]
        assert "ADD file:0123 in /" in text
        assert "/etc/passwd in OLD" in screen_text(app)
        await pilot.press("escape")
        assert isinstance(app.screen, DiffScreen)

        await press(pilot, "greater_than_sign")  # in NEW: added by 0, modified by 5
        assert isinstance(app.screen, HistoryScreen)
        assert app.screen.side == "NEW"
        text = history_text(app)
        history = text.split("History")[1].splitlines()[2:]
        rows = [line.split() for line in history if line.strip()]
        assert [row[:2] for row in rows] == [["0", "added"], ["▶5", "modified"]]
        assert rows[1][-2:] == ["useradd", "app"]
        assert "content" in rows[1]
        await pilot.press("escape")

        assert tree.reveal("app/old.txt")  # Enter asks which image
        await pilot.press("enter")
        assert isinstance(app.screen, SideChoice)
        await pilot.press("o")
        assert isinstance(app.screen, HistoryScreen)
        assert "▶2  added" in history_text(app)
        await pilot.press("escape", "enter")
        await pilot.press("n")  # NEW never had it
        assert isinstance(app.screen, HistoryScreen)
        assert "NEW never has /app/old.txt" in history_text(app)
        await pilot.press("escape", "enter", "escape")  # the choice, declined
        assert isinstance(app.screen, DiffScreen)

    old, new = archives
    run(diff_app_for((str(old), str(new))), scenario)


# --- hostile text and errors ----------------------------------------------------------------


def test_hostile_names_and_commands_stay_inert(tmp_path: Path) -> None:
    """NEW deletes every hostile name OLD holds, with a hostile command and tag."""
    first, _ = hostile.layers()
    old = tmp_path / "old.tar"
    old.write_bytes(ib.docker_save_legacy(ib.build_image(first, tags=(hostile.TAG,))))
    new = hostile.hostile_archive(tmp_path / "new.tar")

    async def scenario(app: DiffApp, pilot: Pilot[int]) -> None:
        await expand_all(app, pilot)
        text = screen_text(app)
        for name, seen in zip(hostile.NAMES, hostile.SHOWN, strict=True):
            assert f"── {seen}" in text, seen  # one row each, the escapes shown
            assert tree_cells(app)[f"hostile/{name}"][0] is ChangeKind.REMOVED
        rows = [line for line in text.splitlines() if "── forged" in line]
        assert len(rows) == 1  # the newline forged no row
        assert "rm -rf /hostile \\x1b]0;LAYER-TITLE\\x07" in text  # NEW's layer, in the stack
        tree = screen_of(app).changes_tree
        for name, seen in zip(hostile.NAMES, hostile.SHOWN, strict=True):
            assert tree.reveal(f"hostile/{name}")
            await pilot.pause()
            assert f"/hostile/{seen}" in screen_of(app).query_one(ChangeDetails).text(200)
            screen_text(app)
        assert tree.reveal(f"hostile/{hostile.CLICK_NAME}")
        await press(pilot, "less_than_sign")  # the history, in a dialog of its own
        assert isinstance(app.screen, HistoryScreen)
        text = screen_text(app)
        assert "/hostile/[@click=app.quit]click in OLD" in text
        await press(pilot, "escape", "greater_than_sign")
        text = screen_text(app)
        assert "rm -rf /hostile \\x1b]0;LAYER-TITLE\\x07" in text  # the deleting command

    run(diff_app_for((str(old), str(new))), scenario, size=(200, 60))


def test_an_unreadable_image_is_one_dialog_and_exit_2(
    archives: tuple[Path, Path], tmp_path: Path
) -> None:
    broken = tmp_path / "broken.tar"
    broken.write_bytes(b"not a tar archive at all" * 100)

    async def scenario(app: DiffApp, pilot: Pilot[int]) -> None:
        assert isinstance(app.screen, ErrorScreen)
        assert "Cannot read NEW" in screen_text(app)
        await pilot.press("q")

    app = diff_app_for((str(archives[0]), str(broken)))
    run(app, scenario)
    assert app.return_code == 2
    assert app.failure is not None


# --- the command line -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "opens"),
    [
        ([], True),
        (["--text"], False),
        (["--format", "markdown"], False),
        (["--json", "x.json"], False),
        (["--ci"], False),
    ],
)
def test_the_ui_opens_only_at_a_terminal_when_no_report_is_asked_for(
    monkeypatch: pytest.MonkeyPatch, extra: list[str], opens: bool
) -> None:
    args = cli.diff_parser().parse_args(["a.tar", "b.tar", *extra])
    for stream in ("stdin", "stdout"):
        monkeypatch.setattr(f"sys.{stream}.isatty", lambda: True)
    assert cli.diff_wants_ui(args, cli.ci_requested(args)) is opens
    monkeypatch.setattr("sys.stdout.isatty", lambda: False)  # a pipe
    assert cli.diff_wants_ui(args, cli.ci_requested(args)) is False
    monkeypatch.setattr("sys.stdout.isatty", lambda: True)
    args = cli.diff_parser().parse_args(["-", "b.tar", *extra])
    assert cli.diff_wants_ui(args, cli.ci_requested(args)) is False  # the keyboard is busy


@pytest.fixture
def tmux() -> str:
    found = shutil.which("tmux")
    if found is None:
        pytest.skip("tmux is not installed")
    return found


def test_the_console_script_opens_the_ui_and_q_quits_with_0(
    tmux: str, archives: tuple[Path, Path], tmp_path: Path
) -> None:
    script = console_script()
    if script is None:
        pytest.skip("the inspector console script is not installed")
    old, new = (shlex.quote(str(p)) for p in archives)
    env = f"INSPECTOR_CACHE_DIR={shlex.quote(str(tmp_path / 'cache'))}"
    term = Terminal(tmux, f"{env} {shlex.quote(script)} diff {old} {new}")
    try:
        screen = term.wait_for("First divergent layer: 2 of NEW (inputs changed)")
        assert "Changed paths · +5 ~6 -1" in screen
        term.keys("Tab", "C-Space")
        term.wait_for("model.bin")
        term.keys("q")
        screen = term.wait_for("EXITED")
        assert "EXITED 0" in screen
    finally:
        term.close()

    term = Terminal(tmux, f"{env} {shlex.quote(script)} diff {old} {new} --text")
    try:  # at a terminal, --text still prints the report
        screen = term.wait_for("EXITED")
        assert "EXITED 0" in screen
        assert "Findings: 0 new, 0 gone" in screen  # the end of the text report
    finally:
        term.close()


def test_loading_names_the_image_it_reads(archives: tuple[Path, Path]) -> None:
    """While OLD loads, the status line and the stacks say so: no silent screen."""
    gate = threading.Event()
    old, new = (str(p) for p in archives)

    def slow_old(events: LoadEvents) -> Inspection:
        gate.wait(30)
        return pipeline.inspect(old, events=events)

    def quick_new(events: LoadEvents) -> Inspection:
        return pipeline.inspect(new, events=events)

    async def main() -> tuple[str, str, bool]:
        app = DiffApp((slow_old, quick_new), (old, new))
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await pilot.pause()
            status = screen_text(app)
            pairs = app.diff_screen.pairs.empty_text
            gate.set()
            await app.workers.wait_for_complete()
            await pilot.pause()
            return status, pairs, app.ready is not None

    status, pairs, ready = asyncio.run(main())
    assert "OLD: Reading the image…" in status
    assert pairs == "Reading OLD…"
    assert ready
