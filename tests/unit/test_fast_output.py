"""The fast paths of the --json output give exactly what the plain ones give."""

from __future__ import annotations

import io
import json

import pytest
from imagebuilder import Dir, File, Hardlink, Layer, Opaque, Symlink, Whiteout

from inspector import report
from inspector.analysis import analyse
from inspector.digest import Digest
from inspector.dive import (
    _dfs_key,
    dfs_order,
    dive_numbers,
    dive_view,
    file_list,
    file_list_chunks,
    file_list_json,
)
from inspector.findings.model import Finding, Fix, LayerRef, PathRef, Severity
from inspector.indexer import LayerIndex, index_blob
from inspector.model import Image

NAMES = ["a", "a-b", "a/b", "a/b/c", "a.b", "a b", "ab", "a/\u00e9", "a/\U0001f600", "a/z~",
         "b/\u00ff/x", "c/\"quote\\", "a/b-", "a/b/c/d/e", "zz", "A", "_", "0"]  # fmt: skip


def test_dfs_order_is_the_order_of_dive_keys() -> None:
    assert dfs_order(NAMES) == sorted(NAMES, key=_dfs_key)


def _layers() -> list[LayerIndex]:
    base = Layer(
        [
            Dir("etc"),
            File("etc/conf", 30, mode=0o4755),
            Symlink("bin", "usr/bin"),
            File('usr/bin/tool "x"\u00e9', 10),
            Hardlink("usr/bin/link", 'usr/bin/tool "x"\u00e9'),
            Dir("tmp", mode=0o1777),
            File("tmp/a/b/c", 5),
            File("usr/caf\udce9\x1b", b"abc"),  # not UTF-8 (and an escape): pathBytes
            Symlink("usr/odd-link", "caf\udce9\x1b"),  # … and linkNameBytes
        ]
    )
    top = Layer(
        [
            Whiteout("etc/conf"),
            Opaque("tmp"),
            File("tmp/new", 7),
            File("deep/x/y", 1),
            Whiteout("usr/caf\udce9\x1b"),
        ]
    )
    return [index_blob(io.BytesIO(layer.tar()).read, "t") for layer in (base, top)]


def test_file_list_json_is_json_dumps_of_file_list() -> None:
    for index in _layers():
        expected = json.dumps(file_list(index), separators=(",", ":"))
        assert file_list_json(index) == expected
    odd = [item for item in file_list(_layers()[0]) if "pathBytes" in item]
    assert odd == [
        {**odd[0], "path": "usr/caf\ufffd\x1b", "pathBytes": "dXNyL2NhZukb"}
    ]  # base64 of b"usr/caf\xe9\x1b"
    links = [item for item in file_list(_layers()[0]) if "linkNameBytes" in item]
    assert [(item["linkName"], item["linkNameBytes"]) for item in links] == [
        ("caf\ufffd\x1b", "Y2Fm6Rs=")
    ]


def test_render_is_dumps_of_document() -> None:
    layers = tuple(_layers())
    image = Image("t", (), Digest.sha256_of(b"{}"), None, (), ())
    from dataclasses import replace

    from inspector.model import LayerInfo

    infos = tuple(
        LayerInfo(i, index.diff_id or Digest.sha256_of(b""), index.digest, "m", 1, None)
        for i, index in enumerate(layers)
    )
    image = replace(image, layers=infos)
    analysis = analyse(image, layers)
    dive = dive_numbers(dive_view(image, layers))
    assert analysis.exact.wasted_files
    assert dive.inefficiencies
    warnings = ("w", "odd \udce9")
    findings = (ODD_FINDING,)
    for lists in (True, False):
        expected = report.dumps(
            report.document(analysis, dive, layers, warnings, file_lists=lists, findings=findings)
        )
        rendered = report.render(
            analysis, dive, layers, warnings, file_lists=lists, findings=findings
        )
        assert rendered == expected
        assert "\\udc" not in rendered  # valid UTF-8 for a strict decoder
        names = ("fileBytes", "pathBytes") + (("linkNameBytes",) if lists else ())
        assert all(f'"{name}":' in rendered for name in names)
        (finding,) = json.loads(rendered)["findings"]
        assert finding == {
            "id": "deleted-later",
            "title": "Files created in one layer and deleted or replaced by a later one",
            "severity": "warning",
            "bytes": 3,
            "layers": [{"index": 0, "command": "ADD \u2026"}, {"index": 1, "command": "rm"}],
            "paths": [{"path": "/usr/caf\ufffd\x1b", "pathBytes": "L3Vzci9jYWbpGw==", "bytes": 3}],
            "pathCount": 1,
            "evidence": "layer 0 stores /usr/caf\ufffd\x1b; layer 1 deletes it",
            "fix": {"text": "Delete it in the same RUN", "before": ["A", "B"], "after": []},
        }


ODD_FINDING = Finding(
    "deleted-later",
    "Files created in one layer and deleted or replaced by a later one",
    Severity.WARNING,
    3,
    (LayerRef(0, "ADD \u2026"), LayerRef(1, "rm")),
    (PathRef("usr/caf\udce9\x1b", 3),),
    1,
    "layer 0 stores /usr/caf\udce9\x1b; layer 1 deletes it",
    Fix("Delete it in the same RUN", ("A", "B")),
)
"""A finding on a name that is not UTF-8 (and holds an escape): `pathBytes` in the JSON."""


def test_summary_lists_findings_clean_or_says_none() -> None:
    image = Image("t", (), Digest.sha256_of(b"{}"), None, (), ())
    analysis = analyse(image, ())
    dive = dive_numbers(dive_view(image, ()))
    assert "\nFindings: none\n" in report.summary(analysis, dive, ())
    secret = Finding(
        "secret-in-image",
        "A secret is readable in the image",
        Severity.ERROR,
        0,
        (),
        (),
        0,
        "github-token in the config (ENV): <github-token: 40 chars, sha256:0a1b2c3d>",
        Fix("Never put secrets in an image", (), ("RUN --mount=type=secret,id=t cmd",)),
    )
    text = report.summary(analysis, dive, (), findings=(secret, ODD_FINDING))
    lines = text.splitlines()
    start = lines.index("Findings: 1 error, 1 warning")
    assert lines[start + 1 :] == [
        "  error    secret-in-image  0 B  A secret is readable in the image",
        "           github-token in the config (ENV): <github-token: 40 chars, sha256:0a1b2c3d>",
        "           fix: Never put secrets in an image",
        "                RUN --mount=type=secret,id=t cmd",
        "  warning  deleted-later  3 B  Files created in one layer and deleted or replaced by a "
        "later one",
        "           layer 0 stores /usr/caf\\xe9\\x1b; layer 1 deletes it",
        "           fix: Delete it in the same RUN",
    ]


def _random_layer(seed: int) -> LayerIndex:
    """A layer of random paths: deep and shallow, names that share prefixes, sort around
    "/" ("a-b", "a.b", "a b") or hold an escape, a backslash before "ud", or a byte that is
    not UTF-8; whiteouts and an opaque directory; directories only implied."""
    import random

    rng = random.Random(seed)
    names = ["a", "a-b", "a.b", "a b", "ab", "z", "\u00e9", "\U0001f600", "x\\udc", "n\x1b"]
    ops: list[object] = []
    seen: set[str] = set()
    for _ in range(rng.randint(20, 60)):
        path = "/".join(rng.choice(names) for _ in range(rng.randint(1, 5)))
        if path in seen:
            continue
        seen.add(path)
        ops.append(File(path, rng.randint(0, 50)) if rng.random() < 0.7 else Dir(path))
    ops.append(File("odd/caf\udce9", b"abc"))
    ops.append(Symlink("odd/link", "caf\udce9"))
    ops.append(Whiteout("gone/file"))
    ops.append(Opaque("only-opaque"))
    return index_blob(io.BytesIO(Layer(ops).tar()).read, f"random {seed}")  # type: ignore[arg-type]


def test_dfs_order_of_random_trees_is_the_order_of_dive_keys() -> None:
    for seed in range(20):
        paths = list(_random_layer(seed).entries)
        assert dfs_order(paths) == sorted(paths, key=_dfs_key)  # implied parents left out


def test_file_list_pieces_join_to_json_dumps_whatever_their_size() -> None:
    for seed in range(10):
        index = _random_layer(seed)
        expected = json.dumps(file_list(index), separators=(",", ":"))
        items = file_list(index)
        tree = [str(item["path"]) for item in items if item["path"]]
        assert tree == sorted(tree, key=_dfs_key)  # every node, children first
        assert {"path": "", "typeFlag": 0, "linkName": "", "size": 0, "fileMode": 0,
                "uid": 0, "gid": 0, "isDir": False} in items  # an implied directory  # fmt: skip
        for per_chunk in (1, 2, 7, 1000):
            pieces = list(file_list_chunks(index, per_chunk))
            assert "".join(pieces) == expected
            assert len(pieces) == -(-len(items) // per_chunk) + 1  # the last: "]"
    assert list(file_list_chunks(LayerIndex())) == ["[]"]


def test_render_pieces_of_one_row_join_to_dumps_of_document(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every array built in pieces: a name that is not UTF-8 in a later piece still gets
    its *Bytes sibling, and the pieces are bytes of the same document."""
    from dataclasses import replace

    from inspector.model import LayerInfo

    layers = tuple(_layers())
    image = Image("t", (), Digest.sha256_of(b"{}"), None, (), ())
    infos = tuple(
        LayerInfo(i, index.diff_id or Digest.sha256_of(b""), index.digest, "m", 1, None)
        for i, index in enumerate(layers)
    )
    image = replace(image, layers=infos)
    analysis = analyse(image, layers)
    dive = dive_numbers(dive_view(image, layers))
    assert len(analysis.exact.wasted_files) >= 2
    assert len(dive.inefficiencies) >= 2
    expected = report.dumps(report.document(analysis, dive, layers, ()))
    monkeypatch.setattr(report, "_ROWS", 1)
    pieces = list(
        report.render_chunks(
            analysis,
            dive,
            layers,
            (),
            file_list_chunks=lambda index: (c.encode() for c in file_list_chunks(index, 1)),
        )
    )
    assert all(isinstance(piece, bytes) for piece in pieces)
    assert len(pieces) > 20
    assert b"".join(pieces).decode() == expected


def test_a_piece_of_plain_names_is_escaped_once_and_others_per_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A piece whose names need no escaping calls no `encode_basestring_ascii`; a piece
    with a name to escape (a quote, a control character, a character that
    is not ASCII, a byte that is not UTF-8, a backslash, DEL) is escaped name by name.
    Either way the pieces are the text json.dumps gives."""
    from inspector import dive as dive_module

    plain = [File(f"srv/app/f{i}.py", i) for i in range(20)] + [Symlink("srv/ln", "app/f1.py")]
    odd = ['say "hi"', "tab\there", "caf\u00e9", "raw\udce9", "back\\slash", "del\x7f"]
    calls: list[str] = []

    def counting(text: str) -> str:
        calls.append(text)
        return json.encoder.encode_basestring_ascii(text)

    monkeypatch.setattr(dive_module, "_encode_string", counting)
    for names in ([], odd):
        layer = Layer([*plain, *(File(name, b"x") for name in names)])
        index = index_blob(io.BytesIO(layer.tar()).read, "t")
        expected = json.dumps(file_list(index), separators=(",", ":"))
        for per_chunk in (1, 4, 1000):
            calls.clear()
            assert "".join(file_list_chunks(index, per_chunk)) == expected
            pieces = -(-len(file_list(index)) // per_chunk)
            if not names:
                assert calls == []  # plain names go between quotes as they are
            else:
                assert set(odd) <= set(calls)  # each odd name escaped in its piece
                assert len(calls) < 2 * pieces * per_chunk  # … the plain pieces are not


def test_plain_names_are_those_json_writes_as_they_are() -> None:
    from inspector.dive import _plain

    characters = [chr(c) for c in (*range(0x300), *range(0xD7F0, 0xE010), 0xFFFD, 0x1F600)]
    for character in characters:
        text = f"a/{character}b"
        written = json.encoder.encode_basestring_ascii(text)
        assert _plain(text) == (written == f'"{text}"'), repr(character)
