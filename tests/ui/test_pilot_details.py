"""What the UI writes in its details, driven headless on images built with imagebuilder:
the layer list's sizes, the file viewer's last line and the layer blob's wording."""

from __future__ import annotations

import io
import re

import imagebuilder as ib
from rich.cells import cell_len
from textual.pilot import Pilot
from textual.widgets import Static
from uisupport import inspecting, run, settle

from inspector import formatting
from inspector.source import LoadedImage, LoadEvents
from inspector.sources.archive import ArchiveSource
from inspector.ui.app import InspectorApp
from inspector.ui.screens.contents import ContentsScreen
from inspector.ui.screens.main import MainScreen
from inspector.ui.widgets.details import LayerDetails
from inspector.ui.widgets.file_tree import FileTreeView
from inspector.ui.widgets.layer_stack import LayerStack

TEXTS = {
    "etc/motd": b"hello\nworld\n",  # a final newline
    "etc/no-newline": b"just one line",
    "etc/blank-last": b"first\n\n",  # a real empty second line
}
IMAGE = ib.build_image(
    ib.Layer([ib.Dir("bin"), ib.File("bin/tool", 3_000_000)], created_by="COPY tool /bin/"),
    ib.Layer(
        [ib.Dir("etc"), *(ib.File(path, data) for path, data in TEXTS.items())],
        created_by="COPY etc /etc",
    ),
    ib.Layer([ib.Whiteout("bin/tool")], created_by="RUN rm /bin/tool"),
    tags=("example/details:1",),
)


def app_for(archive: bytes) -> InspectorApp:
    def loader(events: LoadEvents) -> LoadedImage:
        source = ArchiveSource(
            None,
            "details",
            stream=io.BytesIO(archive),
            reopen_file=lambda: io.BytesIO(archive),
        )
        return source.load(events)

    return InspectorApp(inspecting(loader), "details")


def uncompressed_app() -> InspectorApp:
    return app_for(ib.docker_save_legacy(IMAGE))


def gzip_app() -> InspectorApp:
    return app_for(ib.pack(ib.oci_layout(IMAGE, compression="gzip")))


def main(app: InspectorApp) -> MainScreen:
    return app.main_screen


# --- the layer list: the one size format, aligned ----------------------------------------


def test_layer_sizes_are_written_as_everywhere_else_and_aligned() -> None:
    async def scenario(app: InspectorApp, pilot: Pilot[int]) -> None:
        stack = main(app).query_one(LayerStack)
        width = stack.layout_width
        columns = stack.columns_for(width)
        header = stack.render_header(width)
        values = {
            "stored": [row.stored for row in stack.items],
            "size": [row.contribution for row in stack.items],
            "total": [row.cumulative for row in stack.items],
            "wasted": [row.wasted for row in stack.items],
        }
        shown = [column.key for column, _ in columns]
        assert {"size", "wasted", "stored"} <= set(shown)
        rows = ["".join(s.text for s in stack.render_row(i, width)) for i in range(3)]
        for row in rows:
            assert not re.search(r"\d[kMGT]\b", row)  # no `3M`, `10.2k`
        x = 2  # the bar and a space
        for column, size in columns:
            if column.key in values:
                cells = [formatting.size(value) for value in values[column.key]]
                # as narrow as its widest cell or title, every cell right-aligned in it
                assert size == max(cell_len(text) for text in [*cells, column.title])
                for row, text in zip(rows, cells, strict=True):
                    assert row[x : x + size] == text.rjust(size)
                assert header[x : x + size] == column.title.rjust(size)
            x += size + 1
        assert "3 MB" in rows[0]
        assert "-3 MB" in rows[2]  # the removal frees what layer 0 stored

    run(uncompressed_app(), scenario)


# --- the file viewer: no empty line after a final newline --------------------------------


async def view(app: InspectorApp, pilot: Pilot[int], path: str) -> ContentsScreen:
    main(app).layer_stack.move_cursor(1)
    await pilot.pause()
    await pilot.press("tab")
    assert isinstance(app.focused, FileTreeView)
    assert main(app).file_tree.reveal(path)
    await pilot.pause()
    await pilot.press("v")
    await settle(pilot)
    screen = app.screen
    assert isinstance(screen, ContentsScreen)
    return screen


def test_the_viewer_shows_as_many_lines_as_the_file_has() -> None:
    lines = {"etc/motd": 2, "etc/no-newline": 1, "etc/blank-last": 2}

    async def scenario(app: InspectorApp, pilot: Pilot[int]) -> None:
        for path, count in lines.items():
            screen = await view(app, pilot, path)
            assert screen.contents.data == TEXTS[path]
            body = screen.query_one("#contents-dialog").query_one(Static)
            assert body.size.height == count, path
            await pilot.press("escape")
            await pilot.press("shift+tab")

    run(uncompressed_app(), scenario)


# --- the layer details: the blob in plain words ------------------------------------------


def layer_text(app: InspectorApp) -> str:
    return main(app).query_one(LayerDetails).text(200)


def test_an_uncompressed_layer_blob_is_said_to_be_one() -> None:
    async def scenario(app: InspectorApp, pilot: Pilot[int]) -> None:
        text = layer_text(app)
        blob = next(line.strip() for line in text.splitlines() if line.startswith("Blob"))
        stored = main(app).layer_stack.items[0].stored
        assert blob.split(None, 1)[1] == f"{formatting.size(stored)}, an uncompressed tar"
        assert "(none)" not in text

    run(uncompressed_app(), scenario)


def test_a_gzip_layer_blob_gives_both_sizes_in_words() -> None:
    async def scenario(app: InspectorApp, pilot: Pilot[int]) -> None:
        text = layer_text(app)
        blob = next(line.strip() for line in text.splitlines() if line.startswith("Blob"))
        loaded = main(app).loaded
        assert loaded is not None
        index = loaded.layers[0]
        assert blob.split(None, 1)[1] == (
            f"{formatting.size(index.compressed_size)} gzip-compressed, "
            f"{formatting.size(index.uncompressed_size)} uncompressed"
        )

    run(gzip_app(), scenario)
