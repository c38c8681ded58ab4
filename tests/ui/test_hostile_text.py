"""The UI on an image whose text tries to drive the terminal (tests/hostile.py), headless.

Every pane is put on screen and the whole screen rendered as the terminal would get it:
no image-supplied control character may be in its text, the escapes a person reads
(`\\x1b`, `\\u202e`) must be, and markup in names (`[red]`, `[@click=…]`) shows literally.
tests/ui/test_terminal_injection.py checks the real console script's bytes in a pty.
"""

from __future__ import annotations

import functools
import io

import hostile
from rich.console import Console
from textual.pilot import Pilot
from textual.widgets import Input, TabbedContent
from uisupport import inspecting, run, settle

from inspector.errors import SourceNotFound
from inspector.source import LoadedImage, LoadEvents
from inspector.sources.archive import ArchiveSource
from inspector.ui.app import InspectorApp
from inspector.ui.screens.contents import ContentsScreen
from inspector.ui.screens.error import ErrorScreen
from inspector.ui.screens.extract import ExtractScreen
from inspector.ui.widgets.details import FileDetails, ImageDetails, LayerDetails
from inspector.ui.widgets.file_tree import FileTreeView
from inspector.ui.widgets.filter_bar import FilterBar
from inspector.ui.widgets.findings import FindingDetails, FindingsTable

SIZE = (200, 60)  # wide enough for every name in the tree and the wasted table


@functools.cache
def archive() -> bytes:
    return hostile.archive_bytes()


def hostile_app() -> InspectorApp:
    def loader(events: LoadEvents) -> LoadedImage:
        data = archive()
        source = ArchiveSource(
            None, "hostile.tar", stream=io.BytesIO(data), reopen_file=lambda: io.BytesIO(data)
        )
        return source.load(events)

    return InspectorApp(inspecting(loader), "hostile.tar")


def screen_text(app: InspectorApp) -> str:
    """The text of a full render of the screen (what the terminal is sent, less controls),
    checked: nothing in it that a terminal would act on."""
    console = Console(width=app.size.width, file=io.StringIO(), color_system=None)
    update = app.screen._compositor.render_update(full=True)
    text = "".join(s.text for s in console.render(update) if not s.control)  # type: ignore[arg-type]
    controls = {char for char in text if not char.isprintable() and char != "\n"}
    assert not controls, f"control characters on screen: {controls!r}"
    assert not hostile.leaks(text), hostile.leaks(text)
    return text


async def show_tree(app: InspectorApp, pilot: Pilot[int]) -> FileTreeView:
    await pilot.press("tab")
    tree = app.main_screen.file_tree
    assert tree.has_focus
    tree.action_toggle_all()  # every directory open
    await pilot.pause()
    return tree


def test_every_pane_shows_the_images_text_escaped() -> None:
    async def scenario(app: InspectorApp, pilot: Pilot[int]) -> None:
        screen = app.main_screen
        first = screen_text(app)
        assert "Layers · hostile/image:v1\\x1b]0;TAG-TITLE\\x07" in first
        tree = await show_tree(app, pilot)
        shown = screen_text(app)
        for name in hostile.SHOWN:
            assert f"── {name}" in shown, name  # one tree row each
        assert "── link → target\\x1b]52;c;TElOSw==\\x07" in shown
        for name, seen in zip(hostile.NAMES, hostile.SHOWN, strict=True):
            assert tree.reveal(f"hostile/{name}")
            await pilot.pause()
            text = screen.query_one(FileDetails).text(200)
            assert f"Path      /hostile/{seen}" in text, text
            assert f"/hostile/{seen}" in screen_text(app)
        assert tree.reveal("hostile/link")
        await pilot.pause()
        assert "Target    target\\x1b]52;c;TElOSw==\\x07" in screen.query_one(FileDetails).text()

        await pilot.press("shift+tab", "down")  # the layer list: the layer that deletes
        text = screen_text(app)
        assert "rm -rf /hostile \\x1b]0;LAYER-TITLE\\x07 \\x1b]52;c;TEFZRVI=\\x07" in text
        assert "rm -rf /hostile \\x1b]0;LAYER-TITLE" in screen.query_one(LayerDetails).text(200)

        tabs = screen.query_one("#details", TabbedContent)
        tabs.active = "tab-image"
        await pilot.pause()
        text = screen_text(app)
        image = screen.query_one(ImageDetails).text(200)
        for line in (
            "EVIL=env\\x1b]52;c;RU5W\\x07",
            "CLEAR=env\\x1b[2Jenv-clear",
            "label\\x1b]0;LABEL-TITLE\\x07=value\\x1b]52;c;TEFCRUw=\\x07",
            "[bold]markup-label=[@click=app.quit]x",  # not markup: shown as it is
            "zz-ghost\\x1b]0;WARN-TITLE\\x07",  # the warning about it
        ):
            assert line in image, line
            assert line in text, line

        tabs.active = "tab-wasted"
        await pilot.pause()
        text = screen_text(app)
        for name in hostile.SHOWN:
            assert f"deleted     /hostile/{name}" in text, name
        rows = [line for line in text.splitlines() if "deleted     /hostile/" in line]
        assert len(rows) == len(hostile.NAMES)  # no row forged by the newline

    run(hostile_app(), scenario, size=SIZE)


def test_the_findings_show_the_images_paths_and_commands_escaped() -> None:
    async def scenario(app: InspectorApp, pilot: Pilot[int]) -> None:
        screen = app.main_screen
        await pilot.press("f")
        (finding,) = screen.query_one(FindingsTable).findings  # the layer deleting /hostile
        assert finding.id == "deleted-later"
        details = screen.query_one(FindingDetails)
        listed = {ref.path for ref in finding.paths}
        seen = [shown for name, shown in zip(hostile.NAMES, hostile.SHOWN, strict=True)
                if f"hostile/{name}" in listed]  # fmt: skip
        assert len(seen) >= 5
        command = "rm -rf /hostile \\x1b]0;LAYER-TITLE\\x07 \\x1b]52;c;TEFZRVI=\\x07"
        text = details.text(300)
        assert f"1 {command}" in text  # the layer list of the finding
        assert f"RUN {command}" in text  # quoted by the evidence and the fix
        for shown in seen:
            assert f"/hostile/{shown}" in text, shown
        await pilot.press("tab")
        assert details.has_focus
        on_screen = ""
        while True:  # every line of the details on screen, checked
            on_screen += screen_text(app)
            before = details.scroll_offset.y
            await pilot.press("pagedown")
            await pilot.pause()
            if details.scroll_offset.y == before:
                break
        assert "/hostile/[@click=app.quit]click" in on_screen  # shown as it is: not a link
        assert "/hostile/[red]markup" in on_screen

    run(hostile_app(), scenario, size=SIZE)


def test_a_filter_match_is_highlighted_in_the_clean_name() -> None:
    async def scenario(app: InspectorApp, pilot: Pilot[int]) -> None:
        tree = await show_tree(app, pilot)
        await pilot.press("slash", *"screen")
        await pilot.pause()
        assert app.main_screen.query_one(FilterBar).display
        index = next(i for i, row in enumerate(tree.rows) if row.matched)
        segments = tree.render_row(index, 120)
        names = [s.text for s in segments[-3:]]
        assert names == ["clear\\x1b[2J", "screen", ""]  # the match, after the escape
        screen_text(app)

    run(hostile_app(), scenario, size=SIZE)


def test_the_viewer_shows_a_files_escape_sequences_as_text() -> None:
    async def scenario(app: InspectorApp, pilot: Pilot[int]) -> None:
        tree = await show_tree(app, pilot)
        assert tree.reveal(f"hostile/{hostile.CONTENTS_NAME}")
        await pilot.press("v")
        await settle(pilot)
        viewer = app.screen
        assert isinstance(viewer, ContentsScreen)
        assert viewer.text.splitlines() == [
            "line one",
            "\\x1b[2Jcontent-clear",
            "\\x1b]52;c;Q09OVEVOVA==\\x07",
            "\\x1b]0;CONTENT-TITLE\\x07",
            "last line",
        ]
        text = screen_text(app)
        assert "\\x1b]52;c;Q09OVEVOVA==\\x07" in text
        assert "/hostile/contents.txt (layer 0)" in text
        await pilot.press("escape")

        assert tree.reveal("hostile/link")
        await pilot.press("v")
        await settle(pilot)
        viewer = app.screen
        assert isinstance(viewer, ContentsScreen)
        assert viewer.text == "symbolic link to target\\x1b]52;c;TElOSw==\\x07"
        screen_text(app)

    run(hostile_app(), scenario, size=SIZE)


def test_the_extract_dialog_shows_the_name_escaped() -> None:
    async def scenario(app: InspectorApp, pilot: Pilot[int]) -> None:
        tree = await show_tree(app, pilot)
        assert tree.reveal(f"hostile/{hostile.TITLE_NAME}")
        await pilot.press("x")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, ExtractScreen)
        destination = dialog.query_one("#extract-destination", Input).value
        assert destination == "./title\\x1b]0;PWNED-TITLE\\x07"  # a local name, escaped too
        text = screen_text(app)
        assert "Extract /hostile/title\\x1b]0;PWNED-TITLE\\x07 (layer 0)" in text
        await pilot.press("escape")
        assert tree.reveal(f"hostile/{hostile.CLICK_NAME}")
        await pilot.press("x")
        await pilot.pause()
        assert "Extract /hostile/[@click=app.quit]click (layer 0)" in screen_text(app)
        await pilot.press("escape")
        assert app.is_running  # the name was never a link that quits

    run(hostile_app(), scenario, size=SIZE)


def test_an_error_quoting_the_image_is_one_clean_line() -> None:
    """A source's error can quote what a registry or an archive said."""
    said = f"registry said: {hostile.TITLE_NAME}\n{hostile.CLICK_NAME} {hostile.BIDI_NAME}"

    def loader(events: LoadEvents) -> LoadedImage:
        raise SourceNotFound(said)

    async def scenario(app: InspectorApp, pilot: Pilot[int]) -> None:
        assert isinstance(app.screen, ErrorScreen)
        message = str(app.screen.query_one("#error-message").render())
        assert message == (
            "inspector: registry said: title\\x1b]0;PWNED-TITLE\\x07\\n"
            "[@click=app.quit]click invoice\\u202etxt.exe"
        )
        assert "registry said: title" in screen_text(app)  # (the dialog wraps the rest)
        await pilot.press("q")

    app = InspectorApp(inspecting(loader), "hostile")
    run(app, scenario)
    assert app.failure == said  # kept exact; shown clean (and clean on stderr: run_ui)
