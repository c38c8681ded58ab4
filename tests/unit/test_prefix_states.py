"""Prefix states: an image that shares its first layers with one analysed before resumes
from the stored state of that prefix, and gets exactly the result of a run from scratch.

Real archives and cache directories; the stacking functions are only wrapped, to see
which layers they apply.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from imagebuilder import (
    Dir,
    File,
    Hardlink,
    Layer,
    Opaque,
    Symlink,
    Whiteout,
    build_image,
    docker_save_legacy,
)

from inspector import analysis as analysis_module
from inspector import cli, results
from inspector import dive as dive_module
from inspector.analysis import analyse, decode_state, encode_state
from inspector.cache import LayerCache
from inspector.cachecodec import seal
from inspector.dive import dive_numbers, dive_view
from inspector.overlay import Overlay
from inspector.source import LoadedImage, LoadEvents
from inspector.sources.archive import ArchiveSource

BASE = Layer(
    [
        Dir("usr"), Dir("usr/lib"), File("usr/lib/a.so", 4000), File("usr/lib/b.so", 2500),
        Dir("usr/bin"), File("usr/bin/tool", 1200), Hardlink("usr/bin/tool2", "usr/bin/tool"),
        File("etc/conf", 90), File("tmp/big", 9000), File("tmp/big", 7000, seed="dup"),
        Symlink("lib", "usr/lib"), Dir("var"), File("var/cache/x", 300),
    ],
    created_by="ADD rootfs /",
)  # fmt: skip
UPGRADE = Layer(
    [File("usr/lib/a.so", 4100, seed="v2"), File("var/cache/y", 50), Whiteout("tmp/big")],
    created_by="RUN upgrade",
)
OTHER_TOP = Layer([File("app/seen", 10)], created_by="COPY seen /app")
TOPS = {
    "adds": Layer([File("app/main", 800), Dir("app/data"), File("app/data/d", 20)]),
    "whiteout-dir": Layer([Whiteout("usr/lib"), File("usr/lib2/a.so", 4000)]),
    "opaque": Layer([Opaque("usr/bin"), File("usr/bin/new", 5)]),
    "hardlink-into-base": Layer([Hardlink("app/b", "usr/lib/b.so"), File("usr/lib/b.so", 10)]),
    "link-then-whiteout": Layer([Hardlink("app/b", "usr/lib/b.so"), Whiteout("usr/lib/b.so")]),
    "hide-linked-copy": Layer([Whiteout("usr/bin/tool"), Whiteout("usr/bin/tool2")]),
    "file-over-dir": Layer([File("var", 11), File("etc/conf/sub", 3)]),
    "modify-and-repeat": Layer(
        [File("etc/conf", 91), File("usr/lib/a.so", 4100, seed="v2"), File("etc/conf", 92)]
    ),
    "missing-whiteout": Layer([Whiteout("nothing/here"), File("z", 1), Whiteout("etc/conf")]),
    "through-symlink": Layer([File("lib/c.so", 77), Dir("usr/lib", mode=0o700)]),
}


def _archive(path: Path, layers: Sequence[Layer]) -> Path:
    path.write_bytes(docker_save_legacy(build_image(*layers)))
    return path


def _load(path: Path, store: LayerCache | None) -> LoadedImage:
    return ArchiveSource(str(path), path.name, cache=store).load(LoadEvents())


def _load_seen(path: Path, store: LayerCache) -> LoadedImage:
    """`path` loaded with its layers from the cache (opened once before): only such a
    prefix earns a stored state."""
    _load(path, store)
    loaded = _load(path, store)
    assert results.seen_before(loaded.layers, store)
    return loaded


class _Applied:
    """Which layer positions the exact analysis stacks, and how many layers dive stacks."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.exact: list[int] = []
        self.dive = 0
        apply, tree_nodes = analysis_module._apply, dive_module._tree_nodes

        def counting_apply(stack, layer, *rest):  # type: ignore[no-untyped-def]
            self.exact.append(layer)
            return apply(stack, layer, *rest)

        def counting_tree_nodes(index):  # type: ignore[no-untyped-def]
            self.dive += 1
            return tree_nodes(index)

        monkeypatch.setattr(analysis_module, "_apply", counting_apply)
        monkeypatch.setattr(dive_module, "_tree_nodes", counting_tree_nodes)

    def reset(self) -> None:
        self.exact.clear()
        self.dive = 0


def _state_files(root: Path) -> list[Path]:
    directory = root / "v4" / "states"
    return sorted(directory.iterdir()) if directory.is_dir() else []


def _assert_same_as_fresh(loaded: LoadedImage, store: LayerCache) -> None:
    analysis, dive = results.analyse_image(loaded.image, loaded.layers, store)
    fresh = analyse(loaded.image, loaded.layers)
    fresh_dive = dive_numbers(dive_view(loaded.image, loaded.layers))
    assert analysis == fresh  # stats, wasted files in order, warnings, paths, change kinds
    assert dive == fresh_dive


@pytest.mark.parametrize("top", sorted(TOPS))
@pytest.mark.parametrize("shared", [1, 2])
def test_a_sibling_resumes_from_the_shared_prefix_exactly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, top: str, shared: int
) -> None:
    base = [BASE, UPGRADE][:shared]
    store = LayerCache(str(tmp_path / "cache"))
    seen = _load_seen(_archive(tmp_path / "seen.tar", [*base, OTHER_TOP]), store)
    results.analyse_image(seen.image, seen.layers, store)  # stores the state after `base`
    assert len(_state_files(tmp_path / "cache")) == 1

    new = [Layer([File("mid/m", 5)])] if shared == 1 else []
    sibling = _load(_archive(tmp_path / "sib.tar", [*base, *new, TOPS[top]]), store)
    applied = _Applied(monkeypatch)
    _assert_same_as_fresh(sibling, store)
    count = len(sibling.layers)
    # the resumed run stacked only the layers above the prefix (from scratch: all of them)
    assert applied.exact[: count - shared] == list(range(shared, count))
    assert applied.exact[count - shared : 2 * count - shared] == list(range(count))
    assert applied.dive == (count - shared) + count


@pytest.mark.parametrize("top", ["whiteout-dir", "hardlink-into-base", "file-over-dir"])
def test_the_json_document_is_byte_for_byte_the_one_from_scratch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, top: str
) -> None:
    monkeypatch.setenv("INSPECTOR_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("CI", raising=False)
    seen = _archive(tmp_path / "seen.tar", [BASE, UPGRADE, OTHER_TOP])
    first = _archive(tmp_path / "first.tar", [BASE, UPGRADE, Layer([File("app/first", 3)])])
    sibling = _archive(tmp_path / "sib.tar", [BASE, UPGRADE, TOPS[top]])
    assert cli.main([str(seen), "--json", str(tmp_path / "seen.json")]) == 0
    assert _state_files(tmp_path / "cache") == []  # a first opening stores no state
    assert cli.main([str(first), "--json", str(tmp_path / "first.json")]) == 0
    assert len(_state_files(tmp_path / "cache")) == 1  # the first sibling does
    applied = _Applied(monkeypatch)
    assert cli.main([str(sibling), "--json", str(tmp_path / "resumed.json")]) == 0
    assert applied.exact == [2]
    fresh = tmp_path / "fresh.json"
    assert cli.main([str(sibling), "--json", str(fresh), "--no-cache"]) == 0
    assert (tmp_path / "resumed.json").read_bytes() == fresh.read_bytes()


@pytest.mark.parametrize("damage", ["flipped byte", "sealed garbage", "wrong depth"])
def test_a_damaged_state_is_rebuilt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    store = LayerCache(str(tmp_path / "cache"))
    seen = _load_seen(_archive(tmp_path / "seen.tar", [BASE, UPGRADE, OTHER_TOP]), store)
    results.analyse_image(seen.image, seen.layers, store)
    (state,) = _state_files(tmp_path / "cache")
    data = state.read_bytes()
    if damage == "flipped byte":
        state.write_bytes(data[:-10] + bytes([data[-10] ^ 1]) + data[-9:])
    elif damage == "sealed garbage":
        state.write_bytes(seal(b"not a state"))
    else:  # a well-formed state of the first layer only, under the key of two
        one = _load_seen(_archive(tmp_path / "one.tar", [BASE, OTHER_TOP]), store)
        results.analyse_image(one.image, one.layers, store)
        keys = results.state_keys(one.image, one.layers)
        assert keys is not None
        shallow = tmp_path / "cache" / "v4" / "states" / keys[0]
        state.write_bytes(shallow.read_bytes())
        shallow.unlink()

    sibling = _load(_archive(tmp_path / "sib.tar", [BASE, UPGRADE, TOPS["adds"]]), store)
    applied = _Applied(monkeypatch)
    _assert_same_as_fresh(sibling, store)
    assert applied.exact[:3] == [0, 1, 2]  # nothing resumed: stacked from scratch
    assert state.exists()  # and the state stored again, intact
    applied.reset()
    again = _load(_archive(tmp_path / "sib2.tar", [BASE, UPGRADE, TOPS["opaque"]]), store)
    _assert_same_as_fresh(again, store)
    assert applied.exact[0] == 2  # the rebuilt state is used


def test_a_first_opening_stores_no_state_and_its_first_sibling_does(tmp_path: Path) -> None:
    store = LayerCache(str(tmp_path / "cache"))
    seen = _load(_archive(tmp_path / "seen.tar", [BASE, UPGRADE, OTHER_TOP]), store)
    assert not results.seen_before(seen.layers, store)  # indexed by this run
    _assert_same_as_fresh(seen, store)
    assert _state_files(tmp_path / "cache") == []
    sibling = _load(_archive(tmp_path / "sib.tar", [BASE, UPGRADE, TOPS["adds"]]), store)
    assert results.seen_before(sibling.layers[:2], store)
    assert not results.seen_before(sibling.layers, store)
    _assert_same_as_fresh(sibling, store)
    assert len(_state_files(tmp_path / "cache")) == 1


def test_no_state_without_a_cache_or_for_a_single_layer(tmp_path: Path) -> None:
    store = LayerCache(str(tmp_path / "cache"))
    one = _load(_archive(tmp_path / "one.tar", [BASE]), store)
    results.analyse_image(one.image, one.layers, store)
    assert _state_files(tmp_path / "cache") == []
    assert store.info().bytes > 0


def test_a_state_decodes_to_the_same_stack_and_is_used_once(tmp_path: Path) -> None:
    loaded = _load(_archive(tmp_path / "img.tar", [BASE, UPGRADE, TOPS["whiteout-dir"]]), None)
    kept: dict[int, bytes] = {}
    fresh = analyse(loaded.image, loaded.layers, None, kept.__setitem__, {1, 2, 3})
    assert sorted(kept) == [1, 2]  # never the whole stack (that is the result cache)
    for depth, payload in kept.items():
        state = decode_state(payload)
        assert state.depth == depth
        assert analyse(loaded.image, loaded.layers, state) == fresh
        with pytest.raises(ValueError, match="used up"):
            analyse(loaded.image, loaded.layers, state)
        # a resumed stack is not stored again (its base is not iterable)
        resumed = decode_state(payload).stack
        assert resumed is not None
        assert encode_state(resumed, [], []) is None


def test_overlay_reads_through_and_hides_removed_keys() -> None:
    made: list[str] = []

    def make(key: str, row: int) -> int:
        made.append(key)
        return row * 10

    overlay: Overlay[int] = Overlay({"a": 1, "b": 2, "c": 3}, make)
    assert len(overlay) == 3
    assert made == []
    assert overlay.get("b") == 20
    assert "b" in overlay
    assert overlay["b"] == 20
    assert made == ["b"]  # built once, on the first read
    assert overlay.get("zz", -1) == -1
    assert "zz" not in overlay
    assert overlay.pop("a") == 10
    assert "a" not in overlay
    assert len(overlay) == 2
    assert overlay.pop("a", None) is None
    overlay.update({"c": 99})  # written without a read: shadows the base
    assert overlay["c"] == 99
    assert overlay.pop("c") == 99
    assert "c" not in overlay
    overlay["d"] = 4
    assert len(overlay) == 2  # b, d
    with pytest.raises(KeyError):
        overlay["a"]
