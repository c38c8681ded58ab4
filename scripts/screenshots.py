"""Regenerate `screenshots/`: SVGs of the UI from the same headless app the tests use.

    python scripts/screenshots.py            # every scene
    python scripts/screenshots.py main help  # some of them

Each SVG is also converted to PNG with `rsvg-convert` (or `cairosvg` when installed).
The `sample-image` scene shows the tests' byte-exact sample image (tests/sampleimage.py),
the `diff` scenes `inspector diff` on the two app images of tests/diffimages.py.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

from textual.app import App
from textual.pilot import Pilot

from inspector.ui.app import app_for
from inspector.ui.diffapp import diff_app_for

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "screenshots"
SAMPLE = "sample"  # the scene image that is the tests' sample image, not a CLI argument
DIFF = "diff"  # the scene images that are tests/diffimages.py's OLD and NEW
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "ui")]

import diffimages  # noqa: E402  (found through the sys.path line above)
from uisupport import sample_app  # noqa: E402

Steps = Callable[[Pilot[int]], Awaitable[None]]


async def settle(pilot: Pilot[int]) -> None:
    """Wait until the image is loaded and analysed and the screen has caught up."""
    app = pilot.app
    await app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.pause()


async def nothing(pilot: Pilot[int]) -> None:
    return None


async def layer_view(pilot: Pilot[int]) -> None:
    await pilot.press("down", "down", "down", "down", "tab")
    await pilot.press("space", "down", "space")


async def aggregated(pilot: Pilot[int]) -> None:
    await pilot.press("end", "ctrl+a", "tab", "ctrl+u")
    await pilot.press("ctrl+@")


async def filtered(pilot: Pilot[int]) -> None:
    await pilot.press("end", "tab", "ctrl+f")
    await pilot.press(*"apt")
    await pilot.press("enter")


async def wasted(pilot: Pilot[int]) -> None:
    await pilot.press("right", "right", "right")


async def findings(pilot: Pilot[int]) -> None:
    await pilot.press("f", "enter")  # deleted-later: layer 5 deletes /tmp/dataset.tar.gz


async def help_screen(pilot: Pilot[int]) -> None:
    await pilot.press("question_mark")


async def file_history(pilot: Pilot[int]) -> None:
    await pilot.press("end", "tab")
    await pilot.press("home", "space", "down", "down")  # /app/config.yaml: added in 3, edited in 6


async def viewer(pilot: Pilot[int]) -> None:
    await file_history(pilot)
    await pilot.press("v")  # the file as layer 6 stores it, highlighted
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def hex_viewer(pilot: Pilot[int]) -> None:
    await pilot.press("tab", "ctrl+f", *"libc", "enter")
    await pilot.press("v")  # a binary: its type and a hex view
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def extract_dialog(pilot: Pilot[int]) -> None:
    await pilot.press("end", "tab", "home", "space", "x")


async def diff_tree(pilot: Pilot[int]) -> None:
    await pilot.press("tab", "ctrl+@", "down", "down", "down")  # /app/config.yaml: its link


async def diff_history(pilot: Pilot[int]) -> None:
    await pilot.press("tab", "ctrl+@", "end", "up", "up", "up", "up")  # /etc/passwd
    await pilot.press("greater_than_sign")  # its history in NEW
    await pilot.pause()


SCENES: dict[str, tuple[str, tuple[int, int], Steps]] = {
    "main": ("demo", (120, 36), layer_view),
    "aggregated": ("demo", (120, 36), aggregated),
    "filter": ("demo", (120, 36), filtered),
    "wasted": ("demo", (120, 36), wasted),
    "findings": ("demo", (120, 40), findings),
    "file-history": ("demo", (120, 36), file_history),
    "help": ("demo", (120, 36), help_screen),
    "viewer": ("demo", (120, 36), viewer),
    "hex-viewer": ("demo", (120, 36), hex_viewer),
    "extract": ("demo", (120, 36), extract_dialog),
    "small-80x24": ("demo", (80, 24), layer_view),
    "sample-image": (SAMPLE, (120, 36), nothing),
    "diff": (DIFF, (140, 45), diff_tree),
    "diff-history": (DIFF, (140, 45), diff_history),
}


def make_app(image: str) -> App[int]:
    if image == SAMPLE:
        return sample_app()
    if image == DIFF:  # short names on screen: the archives in the working directory
        directory = tempfile.mkdtemp(prefix="inspector-screenshots-")
        atexit.register(shutil.rmtree, directory, True)
        old, new = diffimages.write(Path(directory))
        os.chdir(directory)
        return diff_app_for((old.name, new.name))
    return app_for(image)


async def shoot(name: str, image: str, size: tuple[int, int], steps: Steps) -> Path:
    app = make_app(image)
    path = OUT / f"{name}.svg"
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await steps(pilot)
        await pilot.pause()
        app.save_screenshot(filename=path.name, path=str(OUT))
    return path


def to_png(svg: Path) -> None:
    png = svg.with_suffix(".png")
    if shutil.which("rsvg-convert"):
        # rsvg drops the no-break spaces Textual pads cells with: give it plain spaces
        # in a whitespace-preserving document instead
        text = svg.read_text(encoding="utf-8")
        text = text.replace("<svg ", '<svg xml:space="preserve" ', 1).replace("&#160;", " ")
        subprocess.run(["rsvg-convert", "-o", str(png)], input=text.encode(), check=True)
        return
    try:
        import cairosvg  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        print(f"screenshots: no rsvg-convert or cairosvg; {png.name} not written", file=sys.stderr)
        return
    cairosvg.svg2png(url=str(svg), write_to=str(png))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenes", nargs="*", choices=[[], *SCENES], help="default: all")
    args = parser.parse_args(argv)
    OUT.mkdir(exist_ok=True)
    for name in args.scenes or list(SCENES):
        image, size, steps = SCENES[name]
        svg = asyncio.run(shoot(name, image, size, steps))
        to_png(svg)
        print(f"screenshots: wrote {svg.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
