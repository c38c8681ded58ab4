"""The compiled layer stacking (inspector/_stacking.pyx) and the Python one agree.

Hypothesis writes stacks of layers over a few short names, so that layers keep meeting
each other's paths: whiteouts of files and directories, opaque directories, a file
replacing a directory and a directory a file, hard links (also to missing targets and
to themselves), symlinked parents, paths repeated in one layer, a path removed and
created again by one layer. Each stack is indexed once and analysed with both
stackings; the analysis (statistics, change kinds and reasons, waste and the wasted
files in order, warnings, path count), the final file system and the prefix states
must be the same, and a prefix state written by either must resume in the other to the
result of a run from scratch.
"""

from __future__ import annotations

import io
import marshal
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import ModuleType

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from imagebuilder import Dir, File, Hardlink, Layer, Op, Opaque, Symlink, Whiteout

from inspector import analysis, native
from inspector.analysis import analyse, decode_state, encode_state, final_file_system
from inspector.changes import EntryType, FileEntry
from inspector.digest import Digest
from inspector.indexer import LayerIndex, index_tar
from inspector.model import Image
from inspector.tarstream import TarReader

COMPILED = native.compiled_stacking()
IMAGE = Image("test", (), Digest.sha256_of(b"{}"), None, (), ())

needs_compiled = pytest.mark.skipif(
    COMPILED is None and not os.environ.get("CI"), reason="the extension is not built here"
)


def test_the_compiled_stacking_is_built_where_it_must_be() -> None:
    """CI builds the extension; only INSPECTOR_PURE_PYTHON may turn it off."""
    if os.environ.get(native.PURE_ENV, "") not in ("", "0"):
        assert native.stacking is None
    elif os.environ.get("CI"):
        assert COMPILED is not None, "the compiled layer stacking was not built"
        assert native.stacking is COMPILED
    else:
        assert native.stacking is COMPILED


@contextmanager
def _stacking(module: ModuleType | None) -> Iterator[None]:
    saved = native.stacking
    native.stacking = module
    try:
        yield
    finally:
        native.stacking = saved


# --- stacks that keep meeting their own paths ------------------------------------------

_NAMES = st.sampled_from(["a", "b", "c"])
_PATHS = st.lists(_NAMES, min_size=1, max_size=3).map("/".join)
_DATA = st.sampled_from([b"", b"x", b"xx", b"yy", b"z" * 40])


def _op() -> st.SearchStrategy[Op]:
    return st.one_of(
        st.builds(
            File, _PATHS, _DATA, mode=st.sampled_from([0o644, 0o600]), uid=st.sampled_from([0, 1])
        ),
        st.builds(Dir, _PATHS, mode=st.sampled_from([0o755, 0o700])),
        st.builds(Symlink, _PATHS, st.one_of(_PATHS, st.just("/elsewhere"))),
        st.builds(Hardlink, _PATHS, _PATHS),
        st.builds(Whiteout, _PATHS),
        st.builds(Opaque, st.one_of(_PATHS, st.just(""))),
    )


_LAYERS = st.lists(st.builds(Layer, st.lists(_op(), max_size=12)), min_size=1, max_size=5)


def _indexes(layers: Sequence[Layer]) -> list[LayerIndex] | None:
    found: list[LayerIndex] = []
    for layer in layers:
        try:
            data = layer.tar()
        except ValueError:
            return None
        found.append(index_tar(TarReader(io.BytesIO(data).read, "layer"), "layer"))
    return found


def _everything(indexes: Sequence[LayerIndex]) -> tuple[object, ...]:
    result = analyse(IMAGE, indexes)
    return (
        result.layers,
        [(dict(c.kinds), dict(c.reasons)) for c in result.changes],
        result.exact,
        result.warnings,
        result.final_paths,
        final_file_system(indexes),
    )


def _both(indexes: Sequence[LayerIndex]) -> tuple[object, object]:
    with _stacking(None):
        python = _everything(indexes)
    with _stacking(COMPILED):
        compiled = _everything(indexes)
    return python, compiled


@needs_compiled
@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layers=_LAYERS)
def test_both_stackings_give_one_analysis(layers: list[Layer]) -> None:
    indexes = _indexes(layers)
    if indexes is None:
        return
    python, compiled = _both(indexes)
    assert python == compiled


def _states(indexes: Sequence[LayerIndex]) -> dict[int, bytes]:
    kept: dict[int, bytes] = {}
    analyse(IMAGE, indexes, None, kept.__setitem__, range(1, len(indexes)))
    return kept


@needs_compiled
@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layers=_LAYERS.filter(lambda layers: len(layers) > 1))
def test_a_prefix_state_of_either_resumes_in_either(layers: list[Layer]) -> None:
    indexes = _indexes(layers)
    if indexes is None:
        return
    with _stacking(None):
        fresh = analyse(IMAGE, indexes)
        python_states = _states(indexes)
    with _stacking(COMPILED):
        compiled_states = _states(indexes)
    assert sorted(python_states) == sorted(compiled_states) == list(range(1, len(indexes)))
    for written in (python_states, compiled_states):
        for depth, payload in written.items():
            for reader in (None, COMPILED):
                with _stacking(reader):
                    state = decode_state(payload)
                    assert state.depth == depth
                    resumed = analyse(IMAGE, indexes, state)
                assert resumed == fresh  # changes recomputed from scratch, compared too
                assert resumed.exact.wasted_files == fresh.exact.wasted_files  # in order


# --- fixed cases: each rule of the stacking, with the compiled one on its own -------------


def _entry(path: str, kind: EntryType, size: int = 0, link: str = "", digest: int = 0) -> FileEntry:
    return FileEntry(path, kind, size, 0o644, 0, 0, 0, link, digest)


def _layer(
    *entries: FileEntry, whiteouts: Sequence[str] = (), opaque: Sequence[str] = ()
) -> LayerIndex:
    paths = [entry.path for entry in entries]
    repeated = len(set(paths)) != len(paths)
    return LayerIndex(
        entries={entry.path: entry for entry in entries},
        whiteouts={path: _entry(path, EntryType.FILE) for path in whiteouts},
        opaque=list(opaque),
        sequence=list(entries) if repeated else None,
    )


FILE, DIR, LINK, SYMLINK = EntryType.FILE, EntryType.DIR, EntryType.HARDLINK, EntryType.SYMLINK
CASES = {
    "whiteout of a directory": [
        _layer(_entry("d/x", FILE, 10, digest=1), _entry("d/y/z", FILE, 5, digest=2)),
        _layer(whiteouts=["d"]),
    ],
    "opaque directory": [
        _layer(_entry("d/x", FILE, 10, digest=1), _entry("e", FILE, 3, digest=3)),
        _layer(_entry("d/n", FILE, 1, digest=4), opaque=["d"]),
    ],
    "file over directory and back": [
        _layer(_entry("d/x", FILE, 10, digest=1)),
        _layer(_entry("d", FILE, 7, digest=2)),
        _layer(_entry("d/x", FILE, 10, digest=1)),
    ],
    "hard link keeps a copy": [
        _layer(_entry("a", FILE, 100, digest=1), _entry("b", LINK, 0, "a")),
        _layer(whiteouts=["a"]),
        _layer(whiteouts=["b"]),
    ],
    "hard link to a missing target": [_layer(_entry("b", LINK, 0, "nowhere"))],
    "hard link to itself, then deleted": [
        _layer(_entry("a", FILE, 100, digest=1)),
        _layer(_entry("a", LINK, 0, "a")),
        _layer(whiteouts=["a"]),
    ],
    "through a symlinked parent": [
        _layer(_entry("lib", SYMLINK, 0, "usr/lib")),
        _layer(_entry("lib/c.so", FILE, 9, digest=5)),
    ],
    "removed and created again in one layer": [
        _layer(_entry("d/x", FILE, 10, digest=1)),
        _layer(_entry("d/x", FILE, 10, digest=1), whiteouts=["d"]),
    ],
    "repeated in one layer": [
        _layer(_entry("a", FILE, 10, digest=1), _entry("a", FILE, 12, digest=2)),
    ],
    "whiteout of nothing": [_layer(_entry("a", FILE, 1, digest=1), whiteouts=["zz"])],
    "thousands of paths": [  # beyond the first arrays' sizes, and the cached small ints
        _layer(*(_entry(f"d{i % 40}/e{i % 7}/f{i}", FILE, i, digest=i) for i in range(3000))),
        _layer(
            *(_entry(f"d{i % 40}/e{i % 7}/f{i}", FILE, i, digest=i % 3) for i in range(0, 3000, 5)),
            _entry("d7", FILE, 1, digest=1),
            whiteouts=[f"d{i}" for i in range(5)],
            opaque=["d5", "d6/e1"],
        ),
        _layer(
            *(_entry(f"d{i % 40}/g/h{i}", LINK, 0, f"d{i % 40}/e{i % 7}/f{i}") for i in range(2000))
        ),
        _layer(whiteouts=[f"d{i}" for i in range(10, 30)]),
    ],
}


@needs_compiled
@pytest.mark.parametrize("name", sorted(CASES))
def test_each_rule_alike(name: str) -> None:
    python, compiled = _both(CASES[name])
    assert python == compiled


@needs_compiled
def test_the_compiled_stacking_on_its_own() -> None:
    """Numbers worked out by hand, not only by the Python version."""
    layers = CASES["hard link keeps a copy"] + [_layer(_entry("c", FILE, 5, digest=9))]
    with _stacking(COMPILED):
        result = analyse(IMAGE, layers)
        system = final_file_system(layers)
    assert [(s.added, s.removed, s.contribution, s.wasted_bytes) for s in result.layers] == [
        (2, 0, 100, 100), (0, 1, 0, 0), (0, 1, -100, 0), (1, 0, 5, 0),
    ]  # fmt: skip
    assert [(w.path, w.stored_in, w.hidden_by, w.how) for w in result.exact.wasted_files] == [
        ("a", 0, 2, "deleted")
    ]
    assert (result.exact.stored_bytes, result.exact.visible_bytes, result.final_paths) == (
        105,
        5,
        1,
    )
    assert set(system.shown) == {"c"}
    assert system.removed_by == {"a": 1, "b": 2}


@needs_compiled
def test_a_resumed_compiled_stack_is_not_stored_again() -> None:
    layers = CASES["whiteout of a directory"]
    with _stacking(COMPILED):
        kept = _states(layers)
        state = decode_state(kept[1])
        assert state.stack is not None
        assert encode_state(state.stack, [], []) is None


@needs_compiled
def test_sizes_beyond_64_bits_fall_back_to_python() -> None:
    huge = 1 << 70
    layers = [_layer(_entry("a", FILE, huge, digest=1)), _layer(whiteouts=["a"])]
    with _stacking(COMPILED):
        result = analyse(IMAGE, layers)
        system = final_file_system(layers)
    assert result.exact.wasted_bytes == huge
    assert system.removed_by == {"a": 1}


def _tampered(payload: bytes, column: int, value: object) -> bytes:
    version, depth, stats, warnings, body = marshal.loads(payload)
    columns = list(marshal.loads(body))
    columns[column] = value
    return marshal.dumps((version, depth, stats, warnings, marshal.dumps(tuple(columns))))


@needs_compiled
@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        (12, [99, 99], "copy is out of range"),  # each node's copy
        (1, ["", "zz"], "children index does not match"),  # the parents of the groups
        (17, [5], "hidden copy is out of range"),  # the hidden copies
        (3, b"\x09\x09", "an unknown entry type"),  # an entry type that does not exist
    ],
)
def test_a_damaged_state_is_a_value_error_in_the_compiled_stack(
    column: int, value: object, message: str
) -> None:
    layers = [_layer(_entry("d/x", FILE, 10, digest=1)), _layer(_entry("e", FILE, 1, digest=2))]
    with _stacking(COMPILED):
        payload = _states(layers)[1]
        assert decode_state(payload).depth == 1
        if column == 17:
            payload = _tampered(payload, 18, [1])  # (as long as the column it goes with)
            payload = _tampered(payload, 19, b"\x00")
            payload = _tampered(payload, 20, ["d/x"])
        with pytest.raises(ValueError, match=message):
            decode_state(_tampered(payload, column, value))


def test_the_python_stack_is_the_reference() -> None:
    """`analysis._Stack` stays: it is what runs without the extension."""
    with _stacking(None):
        state = decode_state(_states(CASES["whiteout of a directory"])[1])
    assert type(state.stack) is analysis._Stack
