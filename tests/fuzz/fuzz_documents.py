"""Fuzz the parsers of manifests, indexes and configs on arbitrary bytes.

The same bytes are read as a config (`parse_config`), as an index (`select_manifest`,
whose fetches return the same bytes again, so nested indexes and the manifest are fuzzed
too, then `layer_descriptors`), and as one descriptor. Only InspectorError may escape.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable
from typing import Any

import atheris

with atheris.instrument_imports():
    from inspector import documents
    from inspector.errors import InspectorError
    from inspector.manifest import (
        Descriptor,
        layer_descriptors,
        parse_config,
        parse_descriptor,
        select_manifest,
    )
    from inspector.model import Platform

import fuzzing
from imagebuilder import File, Layer, build_image, multi_platform, oci_layout


def test_one_input(data: bytes) -> None:
    with contextlib.suppress(InspectorError):
        parse_config(data, "fuzz: config")

    def fetch(desc: Descriptor) -> bytes:
        return data

    for platform in (None, Platform("linux", "arm64", "v8")):
        try:
            index = documents.load(data, "fuzz: index.json", documents.MANIFEST)
            _, manifest, _ = select_manifest(index, fetch, "fuzz", ref=None, platform=platform)
            layer_descriptors(manifest, "fuzz")
        except InspectorError:
            pass
    with contextlib.suppress(InspectorError):
        parse_descriptor(documents.load(data, "fuzz", documents.SMALL), "fuzz: descriptor")


def seeds() -> Iterable[bytes]:
    image = build_image(
        Layer([File("a", b"1")]), Layer([File("b", b"2")]), platform="linux/arm64/v8"
    )
    yield image.config
    documents_in: list[Any] = [*oci_layout(image), *multi_platform(image)]
    for member in documents_in:
        if member.data[:1] in (b"{", b"["):
            yield member.data
    yield json.dumps({"manifests": [{"digest": "sha256:" + "a" * 64, "size": 3}]}).encode()


if __name__ == "__main__":
    fuzzing.run(test_one_input, seeds)
