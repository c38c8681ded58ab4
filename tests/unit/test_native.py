"""The compiled hot loops and their Python versions agree (inspector/native.py).

Hypothesis writes random layer tars (ustar, GNU and PAX headers, long names, prefixes,
names that are not UTF-8, whiteouts, opaque directories, hard links, repeated paths,
hand-made headers with odd numbers) and random stacks of them; each is indexed and
analysed with the compiled walk and with the Python one, read in buffers of several
sizes, then damaged at one byte and read again. The two must give the same index, the
same analysis, or the same error.
"""

from __future__ import annotations

import io
import os
import tarfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from imagebuilder import (
    Dir,
    File,
    Hardlink,
    Layer,
    Op,
    Opaque,
    Raw,
    RawBytes,
    Symlink,
    Whiteout,
    tar_entry,
)

from inspector import headerwalk, native, secrets
from inspector.analysis import analyse
from inspector.digest import Digest
from inspector.errors import InspectorError
from inspector.indexer import LayerIndex, index_tar
from inspector.model import Image
from inspector.tarstream import TarReader

COMPILED = native.compiled_walk()


def test_the_compiled_walk_is_built_where_it_must_be() -> None:
    """CI builds the extension; only INSPECTOR_PURE_PYTHON may turn it off."""
    pure = os.environ.get(native.PURE_ENV, "") not in ("", "0")
    if pure:
        assert native.IMPLEMENTATION == "python"
        assert native.walk is headerwalk.walk
    elif os.environ.get("CI"):
        assert COMPILED is not None, "the compiled header walk was not built"
        assert native.IMPLEMENTATION == "compiled"
    else:
        assert ("python" if COMPILED is None else "compiled") == native.IMPLEMENTATION


needs_compiled = pytest.mark.skipif(
    COMPILED is None and not os.environ.get("CI"), reason="the extension is not built here"
)

# --- what a layer can hold -------------------------------------------------------------

_PLAIN = ["a", "b", "etc", "usr", "lib", "node_modules", ".env", "id_rsa", "c.txt", "é"]
_ODD = ["", ".", "..", "\udcff", "x" * 60, "y" * 99, ".wh.a", ".wh..wh..opq", ".wh..wh.plnk",
        "stargz.index.json"]  # fmt: skip
_COMPONENTS = st.sampled_from(_PLAIN * 3 + _ODD)  # mostly plain names, each odd one now and then
_PATHS = st.one_of(
    st.lists(_COMPONENTS, min_size=1, max_size=5).map("/".join),
    st.sampled_from(  # names each rule of the plain-name test is about
        ["stargz.index.json", ".prefetch.landmark", ".no.prefetch.landmark", "a//b", "a/./b",
         "a/.", "a/..", "..a", "a/.wh.b", ".wh..wh..opq", "a/", "a///", "/a"]
    ),
)  # fmt: skip
_NAMES = st.builds(lambda lead, path: lead + path, st.sampled_from(["", "", "./", "/"]), _PATHS)
_DATA = st.one_of(
    st.binary(max_size=1200),
    st.sampled_from([b"", b"AKIAIOSFODNN7EXAMPLE\n", b"password=hunter2secret\n"]),
)


def _op() -> st.SearchStrategy[Op]:
    return st.one_of(
        st.builds(File, _PATHS, _DATA, mode=st.integers(0, 0o7777), uid=st.integers(0, 70000)),
        st.builds(Dir, _PATHS),
        st.builds(Symlink, _PATHS, _PATHS),
        st.builds(Hardlink, _PATHS, _PATHS),
        st.builds(Whiteout, _PATHS),
        st.builds(Opaque, _PATHS),
        st.builds(
            lambda name, flag, data, link: Raw(
                name, flag, data if flag in (b"0", b"\0") else b"", linkname=link
            ),
            _NAMES,
            st.sampled_from([b"0", b"1", b"2", b"5", b"\0", b"3", b"4", b"6"]),
            _DATA,
            _NAMES,
        ),
        st.builds(RawBytes, st.builds(_odd_header, _NAMES, _DATA, st.integers(0, 5))),
    )


def _odd_header(name: str, data: bytes, style: int) -> bytes:
    """A header with numbers written the unusual ways tar readers must accept."""
    raw = name.encode("utf-8", "surrogateescape")[:100]
    size = b"%011o " % len(data)
    styles: dict[int, dict[str, Any]] = {
        0: {"size": b"  %09o " % len(data)},  # leading spaces
        1: {"size": b"+%010o\0" % len(data)},  # a sign
        2: {"mode": b"0000644 "},  # a space where the NUL goes
        3: {"size": b"\x80" + len(data).to_bytes(11, "big")},  # base-256
        4: {"uid": b"\x80" + (2**40).to_bytes(7, "big"), "size": size},
        5: {"mtime": b"%011o\0" % (2**33 - 1), "size": size, "checksum_delta": 65521},
    }
    fields = styles[style]
    fields.setdefault("size", size)
    return tar_entry(raw, data, **fields)


_LAYERS = st.builds(
    Layer,
    st.lists(_op(), max_size=14),
    format=st.sampled_from([tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT]),
    prefix=st.sampled_from(["", "", "./", "/"]),
    end_marker=st.booleans(),
)


def _tar(layer: Layer) -> bytes | None:
    try:
        return layer.tar()
    except (ValueError, UnicodeEncodeError):  # a name ustar cannot hold
        return None


# --- running both ------------------------------------------------------------------------


@contextmanager
def _walking(walk: Callable[..., tuple[int, int]]) -> Iterator[None]:
    saved = native.walk
    native.walk = walk
    try:
        yield
    finally:
        native.walk = saved


def _index(data: bytes, chunk: int) -> LayerIndex | str:
    reader = TarReader(io.BytesIO(data).read, "layer", chunk=chunk)
    try:
        return index_tar(reader, "layer")
    except InspectorError as error:
        return f"{type(error).__name__}: {error}"


def _both(data: bytes, chunk: int) -> tuple[LayerIndex | str, LayerIndex | str]:
    assert COMPILED is not None
    with _walking(headerwalk.walk):
        python = _index(data, chunk)
    with _walking(COMPILED):
        compiled = _index(data, chunk)
    return python, compiled


_CHUNKS = st.sampled_from([512, 1024, 1536, 4096, 1 << 20])


@needs_compiled
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layer=_LAYERS, chunk=_CHUNKS, damage=st.tuples(st.integers(0, 1 << 30), st.integers(1, 255)))
def test_both_walks_index_a_layer_alike(layer: Layer, chunk: int, damage: tuple[int, int]) -> None:
    data = _tar(layer)
    if data is None:
        return
    python, compiled = _both(data, chunk)
    assert python == compiled
    if data:  # one byte changed anywhere: the same index or the same error
        where, xor = damage
        where %= len(data)
        broken = bytearray(data)
        broken[where] ^= xor
        python, compiled = _both(bytes(broken), chunk)
        assert python == compiled


IMAGE = Image("test", (), Digest.sha256_of(b"{}"), None, (), ())


@needs_compiled
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stack=st.lists(_LAYERS, min_size=1, max_size=4), chunk=_CHUNKS)
def test_both_walks_give_one_analysis_of_a_stack(stack: list[Layer], chunk: int) -> None:
    tars = [_tar(layer) for layer in stack]
    if any(data is None for data in tars):
        return
    results: list[object] = []
    for walk in (headerwalk.walk, COMPILED):
        assert walk is not None
        with _walking(walk):
            indexes = [_index(data, chunk) for data in tars if data is not None]
        if any(isinstance(index, str) for index in indexes):
            results.append(indexes)
            continue
        found = [index for index in indexes if isinstance(index, LayerIndex)]
        result = analyse(IMAGE, found)
        results.append([result.layers, result.exact, list(result.changes), result.warnings])
    assert results[0] == results[1]


def test_the_version_names_the_loops_that_run() -> None:
    import subprocess
    import sys

    walk = "python" if COMPILED is None else "compiled"
    stacking = "python" if native.compiled_stacking() is None else "compiled"
    for pure, expected in (
        ("1", "python header walk, python stacking"),
        ("", f"{walk} header walk, {stacking} stacking"),
    ):
        env = {**os.environ, native.PURE_ENV: pure}
        shown = subprocess.run(
            [sys.executable, "-m", "inspector", "--version"],
            capture_output=True, text=True, env=env, check=True, timeout=60,
        ).stdout  # fmt: skip
        assert shown.strip().endswith(f"({expected})"), shown


# --- the content checks' first test, made in the walk -------------------------------------

_CANDIDATES = ["etc/app.json", "srv/.env.production", "home/u/.npmrc", "k/server.key",
               "opt/.env.d/x.bin", "a/config.yaml", "é/\udcff.toml"]  # fmt: skip
_OTHERS = ["usr/bin/tool", "lib/x.so", "a/json", "b.jsonx", "c.envy", "srv/env.production"]


def _asked(walk: Callable[..., tuple[int, int]], data: bytes) -> list[str]:
    """The paths a walk asks `wanted` about when it reads `data` in one buffer."""
    asked: list[str] = []

    def wanted(path: str, size: int) -> int:
        asked.append(path)
        return 0

    def odd(*entry: object) -> bool:
        raise AssertionError(f"an odd entry: {entry[0]!r}")

    pos, _ = walk(data, 0, 1 << 40, {}, False, odd, odd, wanted, odd)
    assert pos == len(data) - 1024  # every entry taken, up to the end-of-archive blocks
    return asked


@pytest.mark.parametrize("which", ["python", "compiled"])
def test_the_walk_asks_wanted_only_about_candidate_paths(which: str) -> None:
    walk = headerwalk.walk if which == "python" else COMPILED
    if walk is None:
        pytest.skip("the extension is not built here")
    names = [*_CANDIDATES, *_OTHERS, "empty.json"]
    files = [File(name, b"" if name == "empty.json" else b"x = 1\n") for name in names]
    assert _asked(walk, Layer(files, format=tarfile.GNU_FORMAT).tar()) == _CANDIDATES


@settings(max_examples=300, deadline=None)
@given(
    path=st.lists(st.sampled_from([*_PLAIN, ".npmrc", "a.json", ".env.x", "k.pem", "b.conf"]),
                  min_size=1, max_size=4).map("/".join),
    size=st.integers(1, 1 << 21),
)  # fmt: skip
def test_the_walks_first_test_never_skips_a_file_the_scan_wants(path: str, size: int) -> None:
    if secrets.LayerScanner().wanted(path, size):
        assert path.endswith(secrets.CANDIDATE_SUFFIXES) or secrets.CANDIDATE_INFIX in path
