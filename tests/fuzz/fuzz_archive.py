"""Fuzz the archive source end to end: an image archive as arbitrary bytes.

`ArchiveSource` classifies members, indexes layers, reads `manifest.json` or the OCI
graph in `index.json` and binds them into an image, in one pass over a stream. The seeds
are real archives of every shape. Only InspectorError may escape.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterable

import atheris

with atheris.instrument_imports():
    from inspector.errors import InspectorError
    from inspector.source import LoadEvents
    from inspector.sources.archive import ArchiveSource

import fuzzing
from imagebuilder import (
    File,
    Layer,
    Whiteout,
    build_image,
    containerd_save,
    docker25_save,
    docker_save_legacy,
    kaniko_tarball,
    oci_layout,
    pack,
    podman_archive,
)


def test_one_input(data: bytes) -> None:
    source = ArchiveSource(None, "fuzz.tar", stream=io.BytesIO(data))
    with contextlib.suppress(InspectorError):
        source.load(LoadEvents())


def seeds() -> Iterable[bytes]:
    image = build_image(
        Layer([File("etc/a", b"hello"), File("bin/x", 300)]),
        Layer([Whiteout("etc/a"), File("etc/b", b"b")]),
    )
    yield docker_save_legacy(image)
    yield podman_archive(image)
    yield kaniko_tarball(image)
    yield pack(docker25_save(image))
    yield pack(containerd_save(image))
    yield pack(oci_layout(image))


if __name__ == "__main__":
    fuzzing.run(test_one_input, seeds)
