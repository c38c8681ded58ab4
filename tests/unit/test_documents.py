"""The one JSON loader for image and registry documents: size caps, depth, strict JSON."""

from __future__ import annotations

import json

import pytest

from inspector import documents
from inspector.errors import ManifestError


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def test_a_document_within_the_limits_loads() -> None:
    assert documents.load(b'{"a": [1, {"b": null}]}', "x", documents.MANIFEST) == {
        "a": [1, {"b": None}]
    }


@pytest.mark.parametrize("depth", [1, documents.MAX_DEPTH])
def test_nesting_up_to_the_limit_loads(depth: int) -> None:
    assert documents.load(nested(depth), "x", documents.MANIFEST) is not None


@pytest.mark.parametrize("depth", [documents.MAX_DEPTH + 1, 900, 100_000])
def test_deeper_nesting_is_refused(depth: int) -> None:
    with pytest.raises(
        ManifestError, match=r"^img: index.json: JSON nested deeper than 64 levels$"
    ):
        documents.load(nested(depth), "img: index.json", documents.MANIFEST)


def alternating(depth: int) -> bytes:
    """Objects and arrays, alternately, `depth` deep: {"a": [{"a": [...]}]}."""
    doc: object = {}
    for level in range(depth - 1):
        doc = [doc] if level % 2 else {"a": doc}
    return json.dumps(doc).encode()


def test_depth_counts_objects_and_arrays_alike() -> None:
    documents.load(alternating(documents.MAX_DEPTH), "x", documents.CONFIG)
    with pytest.raises(ManifestError, match="nested deeper"):
        documents.load(alternating(documents.MAX_DEPTH + 1), "x", documents.CONFIG)


def test_a_document_over_its_cap_is_refused_unparsed() -> None:
    data = b'"' + b"x" * (4 << 20) + b'"'
    with pytest.raises(ManifestError) as caught:
        documents.load(data, "img: manifest.json", documents.MANIFEST)
    message = str(caught.value)
    assert message == (
        "img: manifest.json: larger than 4 MiB (4194306 bytes), the limit for a manifest or index"
    )
    assert documents.load(data, "config", documents.CONFIG) == "x" * (4 << 20)


def test_a_size_known_in_advance_is_checked_against_the_cap() -> None:
    documents.CONFIG.check("c", 32 << 20)
    with pytest.raises(ManifestError, match=r"^c: larger than 32 MiB \(33554433 bytes\)"):
        documents.CONFIG.check("c", (32 << 20) + 1)


@pytest.mark.parametrize("text", [b"NaN", b'{"size": Infinity}', b"[-Infinity]"])
def test_nan_and_infinity_are_not_json(text: bytes) -> None:
    with pytest.raises(ManifestError, match=r"invalid JSON \(-?(NaN|Infinity) is not JSON\)$"):
        documents.load(text, "x", documents.MANIFEST)


@pytest.mark.parametrize(
    "text", [b"", b"{", b'{"a": 1,}', b"\xff\xfe\x00", b"1" * 5000, b"[1] [2]"]
)
def test_invalid_json_names_the_input_not_the_text(text: bytes) -> None:
    with pytest.raises(ManifestError) as caught:
        documents.load(text, "img: config", documents.CONFIG)
    message = str(caught.value)
    assert message.startswith("img: config: invalid JSON (")
    assert len(message) < 200
