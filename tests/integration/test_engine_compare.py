"""`--compare docker-daemon:NAME` against a real Docker engine: the layer chain comes from
image inspect (nothing is saved), and an engine that does not answer is one line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import services


def test_archive_compared_with_an_engine_image(
    scenario_image: Callable[[str], services.BuiltImage],
    image_factory: services.ImageFactory,
    docker_engine: services.ManagedEngine,
) -> None:
    image = scenario_image("deletions")
    base = image_factory.base
    ref = f"docker-daemon:{base}"
    doc = services.inspector_json(image.archive, "--compare", ref, env=docker_engine.env)
    shared = [layer["sharedWith"] for layer in doc["layer"]]
    assert shared[0] == [ref]
    assert all(names == [] for names in shared[1:])
    assert len(shared) > 1
    assert doc["image"]["sharedBytes"] > 0
    assert doc["image"]["uniqueBytes"] > 200_000  # the deletions scenario's /big alone


def test_compare_with_an_engine_that_does_not_answer(
    scenario_image: Callable[[str], services.BuiltImage], tmp_path: Path
) -> None:
    image = scenario_image("single")
    host = f"unix://{tmp_path / 'no-docker.sock'}"
    done = services.run_cli(
        image.archive, "--compare", "docker-daemon:busybox", "--text", env={"DOCKER_HOST": host}
    )
    assert done.returncode == 2
    assert done.stderr.startswith(
        f"inspector: --compare docker-daemon:busybox: cannot reach the Docker engine at {host}"
    )
    assert "DOCKER_HOST" in done.stderr
    assert len(done.stderr.splitlines()) == 1
