"""The fast paths of the --json output give exactly what the plain ones give."""

from __future__ import annotations

import io
import json

from imagebuilder import Dir, File, Hardlink, Layer, Opaque, Symlink, Whiteout

from inspector import report
from inspector.analysis import analyse
from inspector.compat import _dfs_key, dfs_order, dive_numbers, dive_view, file_list, file_list_json
from inspector.digest import Digest
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
    for lists in (True, False):
        expected = report.dumps(report.document(analysis, dive, layers, warnings, file_lists=lists))
        rendered = report.render(analysis, dive, layers, warnings, file_lists=lists)
        assert rendered == expected
        assert "\\udc" not in rendered  # valid UTF-8 for a strict decoder
        names = ("fileBytes", "pathBytes") + (("linkNameBytes",) if lists else ())
        assert all(f'"{name}":' in rendered for name in names)
