"""Helpers for the UI tests: apps on real images, and waiting for them to settle."""

from __future__ import annotations

import asyncio
import functools
import io
from collections.abc import Awaitable, Callable

import sampleimage
from textual.pilot import Pilot

from inspector import pipeline
from inspector.cache import LayerCache
from inspector.demo import build_demo
from inspector.sharing import OtherImage
from inspector.source import LoadedImage, LoadEvents
from inspector.sources.archive import ArchiveSource
from inspector.ui.app import InspectorApp
from inspector.ui.loading import Loader


@functools.cache
def demo_bytes() -> bytes:
    return build_demo()


def demo_loader(events: LoadEvents) -> LoadedImage:
    data = demo_bytes()
    source = ArchiveSource(
        None, "demo", stream=io.BytesIO(data), reopen_file=lambda: io.BytesIO(data)
    )
    return source.load(events)


class _Loading:
    """An ImageSource over a test's own load function."""

    label = "test"

    def __init__(self, load: Callable[[LoadEvents], LoadedImage]) -> None:
        self._load = load

    def load(self, events: LoadEvents) -> LoadedImage:
        return self._load(events)

    def chain(self) -> OtherImage:
        raise NotImplementedError


def inspecting(
    load: Callable[[LoadEvents], LoadedImage], cache: LayerCache | None = None
) -> Loader:
    """The UI's loader over `load`, through the pipeline as `inspector IMAGE` goes."""
    resolved = pipeline.Resolved(_Loading(load))
    return lambda events: pipeline.inspect(resolved, events=events, cache=cache)


def demo_app() -> InspectorApp:
    return InspectorApp(inspecting(demo_loader), "demo")


def sample_loader(events: LoadEvents) -> LoadedImage:
    """The sample image (sampleimage.py, 14 layers) as its `docker save` archive."""
    data = sampleimage.docker_archive()
    source = ArchiveSource(
        None, sampleimage.NAME, stream=io.BytesIO(data), reopen_file=lambda: io.BytesIO(data)
    )
    return source.load(events)


def sample_app() -> InspectorApp:
    return InspectorApp(inspecting(sample_loader), sampleimage.NAME)


async def settle(pilot: Pilot[int]) -> None:
    """Wait for the load worker and for the messages it posted to be handled."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.pause()


Scenario = Callable[[InspectorApp, Pilot[int]], Awaitable[None]]


def run(
    app: InspectorApp, scenario: Scenario, size: tuple[int, int] = (120, 40), wait: bool = True
) -> None:
    """Run `scenario` against `app` headless (the tests are plain functions)."""

    async def main() -> None:
        async with app.run_test(size=size) as pilot:
            if wait:
                await settle(pilot)
            await scenario(app, pilot)

    asyncio.run(main())
