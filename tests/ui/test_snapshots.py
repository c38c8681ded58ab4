"""Snapshot SVGs of the main screens (pytest-textual-snapshot).

Every app is built on the in-memory demo image (or the sample image), loaded before the
screenshot, at a fixed terminal size. Review `snapshot_report.html` before updating:

    pytest tests/ui/test_snapshots.py --snapshot-update
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from textual.pilot import Pilot
from textual.widgets import Input
from uisupport import demo_app, inspecting, sample_app, settle

from inspector.errors import ManifestError
from inspector.source import LoadedImage, LoadEvents
from inspector.ui.app import InspectorApp

SnapCompare = Callable[..., bool]
WIDE = (120, 36)
TALL = (120, 40)
SMALL = (80, 24)


def before(*keys: str) -> Callable[[Pilot[int]], object]:
    """Wait for the load, then press `keys` (an Input's cursor stops blinking first)."""

    async def run_before(pilot: Pilot[int]) -> None:
        await settle(pilot)
        for widget in pilot.app.query(Input):
            widget.cursor_blink = False
        await pilot.press(*keys)
        await pilot.pause()

    return run_before


def shoot(
    snap_compare: SnapCompare, app: InspectorApp, keys: Iterable[str], size: tuple[int, int]
) -> bool:
    return snap_compare(app, terminal_size=size, run_before=before(*keys))


class TestMainScreen:
    """The main screen: layers, details and the file tree."""

    def test_start(self, snap_compare: SnapCompare) -> None:
        """Layer 0 selected, focus on the layers."""
        assert shoot(snap_compare, demo_app(), (), WIDE)

    def test_layer_view(self, snap_compare: SnapCompare) -> None:
        """Layer 4's changes with a directory open, the tree focused, its file's history."""
        keys = ("down", "down", "down", "down", "tab", "down", "down", "down", "down", "space")
        assert shoot(snap_compare, demo_app(), keys, WIDE)

    def test_aggregated_changes_only(self, snap_compare: SnapCompare) -> None:
        """Aggregated view of every layer over the base, unmodified hidden, all expanded."""
        keys = ("end", "ctrl+a", "tab", "ctrl+u", "ctrl+@")
        assert shoot(snap_compare, demo_app(), keys, WIDE)

    def test_small_terminal(self, snap_compare: SnapCompare) -> None:
        """80×24: the columns that fit, attributes reduced to the size."""
        assert shoot(snap_compare, demo_app(), ("end", "tab", "space"), SMALL)

    def test_sample_image(self, snap_compare: SnapCompare) -> None:
        """The 14-layer sample image (sampleimage.py), last layer, sorted by size."""
        assert shoot(snap_compare, sample_app(), ("end", "tab", "ctrl+o"), WIDE)


class TestDetails:
    """The details tabs below the layers."""

    def test_image_details(self, snap_compare: SnapCompare) -> None:
        """Totals, waste, dive score and the runtime config."""
        assert shoot(snap_compare, demo_app(), ("right", "tab", "tab", "z"), WIDE)

    def test_wasted_space(self, snap_compare: SnapCompare) -> None:
        """Every hidden stored file with the layers that stored and hid it."""
        assert shoot(snap_compare, demo_app(), ("right", "right", "right"), WIDE)


class TestFindings:
    """The findings tab: the list, and the selected finding's details."""

    def test_findings(self, snap_compare: SnapCompare) -> None:
        """`f`: the demo's three findings, the first one's evidence, layers, path and fix."""
        assert shoot(snap_compare, demo_app(), ("f",), TALL)

    def test_findings_small_terminal(self, snap_compare: SnapCompare) -> None:
        """80×24: titles cut to the column, the details scroll below the list."""
        assert shoot(snap_compare, demo_app(), ("f", "down"), SMALL)


class TestFilter:
    """The path filter bar."""

    def test_regex_filter(self, snap_compare: SnapCompare) -> None:
        """`apt` on the last layer: matches highlighted, their directories open."""
        keys = ("end", "ctrl+f", "a", "p", "t", "enter")
        assert shoot(snap_compare, demo_app(), keys, WIDE)

    def test_invalid_pattern(self, snap_compare: SnapCompare) -> None:
        """An invalid regex is reported in the bar, the tree keeps its rows."""
        assert shoot(snap_compare, demo_app(), ("ctrl+f", "asterisk"), SMALL)


class TestDialogs:
    """Modal screens."""

    def test_help(self, snap_compare: SnapCompare) -> None:
        """The key reference."""
        assert shoot(snap_compare, demo_app(), ("question_mark",), WIDE)

    def test_load_error(self, snap_compare: SnapCompare) -> None:
        """The one-line message the CLI prints, in a dialog."""

        def loader(events: LoadEvents) -> LoadedImage:
            raise ManifestError("broken.tar: not an image archive (no manifest.json inside)")

        assert shoot(snap_compare, InspectorApp(inspecting(loader), "broken.tar"), (), SMALL)
