"""The findings tab, driven headless: the rows and their order, a finding's details, Enter
moving the layer list and the file tree to it, the keys, and an image without findings.

The demo image has three findings (deleted-later, package-cache, build-context-junk);
images built with imagebuilder give the cases the demo lacks: no findings at all, and
secrets in the config (a layer's command: a layer and no path; an ENV value: neither).
"""

from __future__ import annotations

import io
import threading
from typing import TypeVar

import imagebuilder as ib
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import Input, TabbedContent
from uisupport import demo_app, inspecting, run, settle

from inspector.changes import ChangeKind
from inspector.findings import DETECTORS
from inspector.findings.model import Finding, Severity
from inspector.source import LoadedImage, LoadEvents
from inspector.sources.archive import ArchiveSource
from inspector.ui.app import InspectorApp
from inspector.ui.screens.help import HelpScreen, help_table
from inspector.ui.screens.main import MainScreen
from inspector.ui.widgets.details import ImageDetails
from inspector.ui.widgets.file_tree import FileTreeView
from inspector.ui.widgets.findings import NO_FINDINGS, FindingDetails, FindingsTable
from inspector.ui.widgets.footer import QuietFooter
from inspector.ui.widgets.layer_stack import LayerStack

TOKEN = "s3cr3t-value-0123456789"
PASSWORD = "hunter2-hunter2"
T = TypeVar("T")
CLEAN_IMAGE = ib.build_image(
    ib.Layer(
        [ib.Dir("app"), ib.File("app/main.py", 5000)],
        created_by="/bin/sh -c #(nop) COPY file:ab in /app/",
    ),
    ib.Layer(
        [ib.File("app/config.yaml", 300)], created_by="/bin/sh -c #(nop) COPY file:cd in /app/"
    ),
    tags=("example/clean:1",),
)
SECRET_IMAGE = ib.build_image(
    ib.Layer(
        [ib.Dir("app"), ib.File("app/main.py", 5000)],
        created_by="/bin/sh -c #(nop) COPY file:ab in /app/",
    ),
    ib.Layer(
        [ib.File("app/version", 30)],
        created_by=f"/bin/sh -c echo API_TOKEN={TOKEN} > /dev/null && date > /app/version",
    ),
    tags=("example/secret:1",),
).with_config(lambda doc: doc["config"]["Env"].append(f"DB_PASSWORD={PASSWORD}"))


def app_for(image: ib.BuiltImage) -> InspectorApp:
    archive = ib.docker_save_legacy(image)

    def loader(events: LoadEvents) -> LoadedImage:
        return ArchiveSource(None, "built", stream=io.BytesIO(archive)).load(events)

    return InspectorApp(inspecting(loader), "built")


def main(app: InspectorApp) -> MainScreen:
    return app.main_screen


def table(app: InspectorApp) -> FindingsTable:
    return main(app).query_one(FindingsTable)


def focused(app: InspectorApp) -> Widget | None:
    """The focused widget (a call, so that type narrowing does not outlive a key press)."""
    return app.focused


def value(x: T) -> T:
    """`x` itself: keeps mypy from carrying a narrowing across a key press."""
    return x


def row_texts(app: InspectorApp) -> list[str]:
    findings = table(app)
    width = findings.layout_width
    return [
        "".join(s.text for s in findings.render_row(i, width)) for i in range(findings.row_count)
    ]


def details(app: InspectorApp) -> str:
    return main(app).query_one(FindingDetails).text(120)


def active_tab(app: InspectorApp) -> str | None:
    return main(app).query_one("#details", TabbedContent).active


def demo_findings(app: InspectorApp) -> tuple[Finding, ...]:
    """The findings the pipeline gave the screen (what the rows must show, in order)."""
    found = main(app).findings
    assert found is not None
    return found


# --- the list -------------------------------------------------------------------------------


def test_f_opens_the_findings_with_one_row_each_most_bytes_first() -> None:
    async def scenario(app: InspectorApp, pilot: Pilot[int]) -> None:
        assert active_tab(app) == "tab-layer"
        await pilot.press("f")
        assert active_tab(app) == "tab-findings"
        findings = table(app)
        assert focused(app) is findings
        assert [f.id for f in findings.findings] == [
            "deleted-later",
            "package-cache",
            "build-context-junk",
        ]
        assert findings.findings == list(demo_findings(app))  # the pipeline's order
        sizes = [f.bytes for f in findings.findings]
        assert sizes == sorted(sizes, reverse=True)
        rows = row_texts(app)
        assert rows[0].startswith("warning     24 MB  Files created in one layer and deleted")
        assert rows[1].startswith("warning    7.1 MB  Package-manager cache in the image (apt)")
        assert rows[2].startswith("warning    2.6 MB  Build-context files a .dockerignore")
        # the severity word carries the severity's colour (and reads without it)
        first = findings.render_row(0, findings.layout_width)[0]
        assert first.text.strip() == "warning"
        warning = findings.get_component_rich_style("findings--warning", partial=True)
        assert first.style == warning
        assert warning.color != findings.get_component_rich_style("findings--error").color
        header = main(app).query_one("#findings-header")
        assert str(header.render()).split() == ["Severity", "Bytes", "Finding"]
        assert findings.size.height == 3  # as tall as its rows

    run(demo_app(), scenario)


def test_the_selected_findings_details_evidence_layers_paths_and_fix() -> None:
    async def scenario(app: InspectorApp, pilot: Pilot[int]) -> None:
        await pilot.press("f")
        text = details(app)
        lines = [line.rstrip() for line in text.splitlines()]
        assert lines[0] == "Files created in one layer and deleted or replaced by a later one"
        assert "Severity warning" in lines
        assert "Finding  deleted-later" in lines
        assert "Bytes    24 MB (24,000,000 bytes)" in lines
        assert "Evidence layer 4 (RUN curl -o /tmp/dataset.tar.gz" in text
        assert "Layers   4 curl -o /tmp/dataset.tar.gz https://data.example.org/ds.tgz" in text
        assert "         5 rm /tmp/dataset.tar.gz" in lines
        assert "Paths    24 MB /tmp/dataset.tar.gz" in lines
        assert "1 path in all" in text
        assert "Fix      Create and remove the files in the same RUN" in text
        assert "         - RUN rm /tmp/dataset.tar.gz" in lines
        assert "         +     && rm /tmp/dataset.tar.gz" in lines  # the line as it is written

        await pilot.press("down")
        text = details(app)
        assert text.startswith("Package-manager cache in the image (apt)")
        paths = [
            line.split()[-1] for line in text.splitlines() if "_Packages" in line or ".bin" in line
        ]
        assert paths == [
            "/var/lib/apt/lists/deb.example.org_dists_main_Packages",
            "/var/lib/apt/lists/deb.example.org_dists_updates_Packages",
            "/var/lib/apt/lists/deb.example.org_dists_contrib_Packages",
            "/var/cache/apt/pkgcache.bin",
        ]
        assert "4 paths in all" in text
        assert "Layers   1 apt-get update && apt-get install -y curl" in text

        await pilot.press("down")
        text = details(app)
        assert "+ **/.git" in text  # a .dockerignore line to add, nothing to remove
        assert "\n         - " not in text
        assert "Layers   3 COPY dir:9c0e1a in /app" in text

    run(demo_app(), scenario)


# --- moving the view ------------------------------------------------------------------------


def test_enter_moves_the_layer_list_and_the_tree_to_the_finding() -> None:
    async def scenario(app: InspectorApp, pilot: Pilot[int]) -> None:
        screen = main(app)
        await pilot.press("f", "enter")  # deleted-later: stored in 4, deleted by 5
        assert screen.selected == 5
        assert screen.layer_stack.cursor == 5
        assert screen.shown == (4, 5)
        assert isinstance(focused(app), FileTreeView)
        row = screen.file_tree.current()
        assert row is not None
        assert (row.node.path, row.node.kind) == ("tmp/dataset.tar.gz", ChangeKind.REMOVED)
        assert active_tab(app) == "tab-findings"  # the details stay beside the tree

        await pilot.press("f")  # back to the list, its cursor where it was
        assert focused(app) is table(app)
        assert table(app).cursor == 0
        await pilot.press("down", "enter")  # package-cache: its largest path, removed in 2
        assert screen.selected == 2
        row = screen.file_tree.current()
        assert row is not None
        assert row.node.path == "var/lib/apt/lists/deb.example.org_dists_main_Packages"
        assert row.node.kind is ChangeKind.REMOVED

        await pilot.press("ctrl+a")  # the tree hides added paths: revealing shows them again
        assert ChangeKind.ADDED in screen.file_tree.state.hidden
        await pilot.press("f", "down", "enter")  # build-context-junk: added by the COPY, 3
        assert screen.selected == 3
        assert screen.shown == (2, 3)
        row = screen.file_tree.current()
        assert row is not None
        assert (row.node.path, row.node.kind) == ("app/.git/objects/pack-1.pack", ChangeKind.ADDED)
        assert not screen.file_tree.state.hidden

    run(demo_app(), scenario)


def test_a_finding_in_the_aggregated_view_goes_back_to_the_layer_view() -> None:
    async def scenario(app: InspectorApp, pilot: Pilot[int]) -> None:
        screen = main(app)
        await pilot.press("end", "ctrl+a")
        assert screen.shown == (0, 6)
        await pilot.press("f", "enter")
        assert screen.shown == (4, 5)
        assert screen.file_tree.current_path() == "tmp/dataset.tar.gz"

    run(demo_app(), scenario)


def test_a_config_secret_moves_to_its_layer_only_and_an_env_secret_nowhere() -> None:
    async def scenario(app: InspectorApp, pilot: Pilot[int]) -> None:
        screen = main(app)
        await pilot.press("f")
        findings = table(app).findings
        assert [(f.id, f.severity, [r.index for r in f.layers], f.paths) for f in findings] == [
            ("secret-in-image", Severity.ERROR, [], ()),  # the ENV value
            ("secret-in-image", Severity.ERROR, [1], ()),  # the layer's command
        ]
        assert row_texts(app)[0].startswith("error           —  A secret is readable in the image")
        text = details(app)
        assert "Evidence secret-variable in the config (ENV): <secret-variable: 15 chars" in text
        assert "Layers" not in text
        assert "Paths" not in text
        assert "Bytes" not in text  # a secret is not about bytes
        tree_rows = list(screen.file_tree.rows)
        await pilot.press("enter")  # no layer: nothing moves, the details stay
        assert screen.selected == 0
        assert focused(app) is table(app)
        assert screen.file_tree.rows == tree_rows

        await pilot.press("down")
        text = details(app)
        assert "Layers   1 echo API_TOKEN=<secret-variable: 23 chars" in text
        await pilot.press("enter")  # the layer, and no path to reveal
        assert screen.selected == 1
        assert screen.layer_stack.cursor == 1
        assert screen.shown == (0, 1)
        assert isinstance(focused(app), LayerStack)
        assert active_tab(app) == "tab-findings"
        for shown in (details(app), *row_texts(app)):
            assert TOKEN not in shown
            assert PASSWORD not in shown
        image = main(app).query_one(ImageDetails).text(200)
        assert "Findings   2 errors, 0 warnings, 0 info" in image

    run(app_for(SECRET_IMAGE), scenario)


# --- an image without findings -------------------------------------------------------------


def test_an_image_without_findings_says_so() -> None:
    async def scenario(app: InspectorApp, pilot: Pilot[int]) -> None:
        screen = main(app)
        await pilot.press("f")
        findings = table(app)
        assert findings.row_count == 0
        assert findings.render_line(0).text.rstrip() == NO_FINDINGS
        assert str(screen.query_one("#findings-header").render()) == ""
        text = details(app)
        assert text.startswith("Looked for: ")
        for detector in DETECTORS:
            assert detector.ID in text
        await pilot.press("enter", "down")  # nothing to show, nothing breaks
        assert screen.selected == 0
        assert focused(app) is findings
        image = screen.query_one(ImageDetails).text(200)
        assert "Findings   0 errors, 0 warnings, 0 info" in image

    run(app_for(CLEAN_IMAGE), scenario)


def test_the_rows_come_with_the_analysis() -> None:
    """Before the analysis the list waits and the image details say nothing of findings;
    the rows are built when it arrives."""
    archive = ib.docker_save_legacy(SECRET_IMAGE)
    release = threading.Event()

    def loader(events: LoadEvents) -> LoadedImage:
        loaded = ArchiveSource(None, "built", stream=io.BytesIO(archive)).load(events)
        release.wait(10)
        return loaded

    async def scenario(app: InspectorApp, pilot: Pilot[int]) -> None:
        screen = main(app)
        for _ in range(40):
            await pilot.pause(0.05)
            if screen.layer_stack.items:
                break
        await pilot.press("f")
        assert table(app).row_count == 0
        assert table(app).render_line(0).text.rstrip() == "Waiting for the analysis…"
        assert value(screen.findings) is None
        assert "Findings" not in screen.query_one(ImageDetails).text(200)
        release.set()
        await settle(pilot)
        assert table(app).row_count == 2
        assert screen.findings is not None
        assert "Findings   2 errors" in screen.query_one(ImageDetails).text(200)

    run(InspectorApp(inspecting(loader), "gated"), scenario, wait=False)


# --- keys, palette, help, image details -----------------------------------------------------


def test_the_image_details_count_the_findings_of_each_severity() -> None:
    async def scenario(app: InspectorApp, pilot: Pilot[int]) -> None:
        text = main(app).query_one(ImageDetails).text(200)
        assert "Findings   0 errors, 3 warnings, 0 info" in text

    run(demo_app(), scenario)


def footer_keys(app: InspectorApp) -> list[str]:
    footer = main(app).query_one(QuietFooter)
    return [f"{key} {description}".strip() for key, description, _ in footer.signature()]


def test_f_is_in_every_panes_footer_and_enter_in_the_lists() -> None:
    async def scenario(app: InspectorApp, pilot: Pilot[int]) -> None:
        assert footer_keys(app)[:3] == ["tab Pane", "^F Filter", "f Findings"]
        await pilot.press("tab")
        assert "f Findings" in footer_keys(app)
        await pilot.press("f")
        await pilot.pause()
        keys = footer_keys(app)
        assert "f Findings" in keys
        assert keys[-1] == "⏎ Show in tree"

    run(demo_app(), scenario)


def test_tab_goes_from_the_list_to_the_details_and_on_to_the_layers() -> None:
    async def scenario(app: InspectorApp, pilot: Pilot[int]) -> None:
        await pilot.press("f", "tab")
        assert focused(app) is main(app).query_one(FindingDetails)
        await pilot.press("tab")
        assert isinstance(focused(app), LayerStack)
        await pilot.press("shift+tab")
        assert focused(app) is main(app).query_one(FindingDetails)
        await pilot.press("shift+tab")
        assert focused(app) is table(app)
        await pilot.press("z")  # maximized, then f again: back to the usual layout
        assert app.screen.maximized is not None
        await pilot.press("f")
        assert app.screen.maximized is None

    run(demo_app(), scenario)


def test_left_and_right_reach_the_findings_tab_between_image_and_wasted() -> None:
    async def scenario(app: InspectorApp, pilot: Pilot[int]) -> None:
        await pilot.press("right", "right")
        assert active_tab(app) == "tab-findings"
        await pilot.press("right")
        assert active_tab(app) == "tab-wasted"

    run(demo_app(), scenario)


def test_f_typed_in_the_filter_is_text() -> None:
    async def scenario(app: InspectorApp, pilot: Pilot[int]) -> None:
        await pilot.press("slash", "f")
        bar = main(app).filter_bar
        assert isinstance(focused(app), Input)
        assert bar.input.value == "f"
        assert active_tab(app) == "tab-layer"

    run(demo_app(), scenario)


def test_the_command_palette_opens_the_findings() -> None:
    async def scenario(app: InspectorApp, pilot: Pilot[int]) -> None:
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"findings")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        assert active_tab(app) == "tab-findings"
        assert focused(app) is table(app)

    run(demo_app(), scenario)


def test_the_help_lists_the_findings_keys() -> None:
    async def scenario(app: InspectorApp, pilot: Pilot[int]) -> None:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        rows = [[str(cell) for cell in column.cells] for column in help_table().columns]
        keys = dict(zip(rows[0], rows[1], strict=True))
        assert keys["f"].startswith("findings")
        assert "Findings" in rows[0]
        assert "show it: its last layer, and its largest path in the tree" in rows[1]

    run(demo_app(), scenario)
