"""FileTree: the stacked file system per layer, change kinds per view, sizes, history.

Images are stated in a few lines each with imagebuilder; the expectations are the file
systems a runtime would build, and the change kinds `analysis` computes for the same
layers (the two must never disagree).
"""

from __future__ import annotations

import io
import threading
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest
import sampleimage
from imagebuilder import Dir, File, Hardlink, Layer, Opaque, Raw, Symlink, Whiteout

import inspector.filetree.listings as tree_module
from inspector import indexer, pipeline
from inspector.analysis import analyse
from inspector.changes import ChangeKind, EntryType, Removal
from inspector.digest import Digest
from inspector.indexer import LayerIndex, index_blob
from inspector.model import Image
from inspector.source import LoadEvents
from inspector.tree import (
    ADDED_BIT,
    MODIFIED_BIT,
    REMOVED_BIT,
    FileTree,
    ancestors,
)

ADDED, MODIFIED, REMOVED, UNCHANGED = (
    ChangeKind.ADDED,
    ChangeKind.MODIFIED,
    ChangeKind.REMOVED,
    ChangeKind.UNCHANGED,
)
IMAGE = Image("test", (), Digest.sha256_of(b"{}"), None, (), ())


def indexes(*layers: Layer) -> list[LayerIndex]:
    return [
        index_blob(io.BytesIO(layer.tar()).read, f"layer {i}") for i, layer in enumerate(layers)
    ]


def build(*layers: Layer) -> FileTree:
    return FileTree(indexes(*layers))


def listing(tree: FileTree, path: str, lo: int, hi: int) -> dict[str, ChangeKind]:
    return {n.name: n.kind for n in tree.children(path, lo, hi)}


BASE = Layer(
    [
        Dir("etc"),
        File("etc/passwd", 100),
        File("etc/hosts", 200),
        Dir("usr"),
        Dir("usr/bin"),
        File("usr/bin/tool", 300),
        Symlink("usr/bin/alias", "tool"),
    ]
)


# --- layer views ------------------------------------------------------------------------


def test_layer_zero_is_all_added_against_the_empty_file_system() -> None:
    tree = build(BASE)
    assert listing(tree, "", -1, 0) == {"etc": ADDED, "usr": ADDED}
    assert listing(tree, "usr/bin", -1, 0) == {"alias": ADDED, "tool": ADDED}
    assert tree.layer_count == 1


def test_layer_view_colours_only_that_layers_changes() -> None:
    change = Layer(
        [File("etc/passwd", 150), File("etc/new", 10), Whiteout("etc/hosts"), Dir("etc")]
    )
    tree = build(BASE, change)
    assert listing(tree, "", 0, 1) == {"etc": UNCHANGED, "usr": UNCHANGED}
    assert listing(tree, "etc", 0, 1) == {"hosts": REMOVED, "new": ADDED, "passwd": MODIFIED}
    # the file system as of layer 1 no longer holds the removed file
    assert listing(tree, "etc", 1, 1) == {"new": UNCHANGED, "passwd": UNCHANGED}
    assert tree.masks(0, 1)["etc"] == ADDED_BIT | MODIFIED_BIT | REMOVED_BIT
    assert "usr" not in tree.masks(0, 1)
    assert tree.masks(0, 1)[""] == ADDED_BIT | MODIFIED_BIT | REMOVED_BIT


def test_kinds_agree_with_analysis_on_every_layer() -> None:
    layers = indexes(
        BASE,
        Layer([Whiteout("usr/bin"), File("etc/passwd", 100, mode=0o600)]),
        Layer([Opaque("etc"), File("etc/hosts", 5), Dir("usr/bin"), File("usr/bin/tool", 1)]),
        Layer([File("etc/hosts", 5, seed="etc/hosts")]),  # rewritten with the same bytes
    )
    tree = FileTree(layers)
    result = analyse(IMAGE, layers)
    for i, changes in enumerate(result.changes):
        mine = {p: tree.kind(p, i - 1, i) for p in tree.changed_paths(i)}
        assert {p: k for p, k in mine.items() if k is not None} == changes.kinds, i
        summary, stats = tree.summaries[i], result.layers[i]
        assert (summary.added, summary.modified, summary.removed, summary.unchanged) == (
            stats.added,
            stats.modified,
            stats.removed,
            stats.unchanged,
        )
        assert (summary.contribution, summary.cumulative) == (
            stats.contribution,
            stats.cumulative,
        )


def test_directory_whiteout_removes_the_subtree_and_shows_it_removed() -> None:
    tree = build(BASE, Layer([Whiteout("usr/bin")]))
    assert listing(tree, "usr", 0, 1) == {"bin": REMOVED}
    assert listing(tree, "usr/bin", 0, 1) == {"alias": REMOVED, "tool": REMOVED}
    assert listing(tree, "usr", 1, 1) == {}
    history = tree.history("usr/bin/tool")
    assert [(h.layer, h.kind, h.how) for h in history] == [
        (0, ADDED, None),
        (1, REMOVED, Removal.PARENT_DELETED),
    ]
    assert history[1].size == 300
    assert tree.history("usr/bin")[1].how is Removal.DELETED


def test_opaque_directory_hides_lower_children_but_keeps_its_own() -> None:
    tree = build(BASE, Layer([Opaque("etc"), File("etc/hosts", 20)]))
    assert listing(tree, "etc", 0, 1) == {"hosts": MODIFIED, "passwd": REMOVED}
    assert tree.history("etc/passwd")[-1].how is Removal.OPAQUE
    assert tree.dir_size("etc", 1) == 20


def test_file_replacing_a_directory_and_back() -> None:
    tree = build(BASE, Layer([File("usr/bin", 7)]), Layer([Dir("usr/bin"), File("usr/bin/x", 1)]))
    assert listing(tree, "usr", 0, 1) == {"bin": MODIFIED}
    assert listing(tree, "usr/bin", 0, 1) == {"alias": REMOVED, "tool": REMOVED}
    node = tree.node("usr/bin", 0, 1)
    assert node is not None
    assert node.entry.type is EntryType.FILE
    assert listing(tree, "usr/bin", 1, 2) == {"x": ADDED}
    assert tree.dir_size("usr", 1) == 7
    assert tree.dir_size("usr", 2) == 1


def test_implied_directories_are_added_and_flagged() -> None:
    tree = build(Layer([File("a/b/c.txt", 3)]))
    node = tree.node("a/b", -1, 0)
    assert node is not None
    assert node.implied
    assert node.kind is ADDED
    assert node.is_dir
    assert tree.history("a")[0].implied


# --- aggregated views -----------------------------------------------------------------------


def test_aggregated_view_is_the_net_change_since_the_base() -> None:
    tree = build(
        BASE,
        Layer([File("tmp/big", 1000)]),  # added, then removed: not part of the net change
        Layer([Whiteout("tmp/big"), File("etc/passwd", 101)]),
        Layer([File("etc/passwd", 100, seed="etc/passwd")]),  # back to the base bytes
        Layer([File("etc/motd", 5)]),
    )
    assert listing(tree, "", 0, 4) == {"etc": UNCHANGED, "tmp": ADDED, "usr": UNCHANGED}
    assert listing(tree, "tmp", 0, 4) == {}
    assert listing(tree, "etc", 0, 4) == {"hosts": UNCHANGED, "motd": ADDED, "passwd": UNCHANGED}
    assert listing(tree, "etc", 0, 2) == {
        "hosts": UNCHANGED,
        "passwd": MODIFIED,
    }
    assert listing(tree, "tmp", 0, 1) == {"big": ADDED}
    assert listing(tree, "tmp", 1, 2) == {"big": REMOVED}
    masks = tree.masks(0, 4)
    assert masks["etc"] == ADDED_BIT
    assert "tmp" not in masks  # its only file came and went: no net change below it
    assert masks[""] & ADDED_BIT
    assert tree.masks(0, 2)["etc"] == MODIFIED_BIT


def test_precompute_fills_the_base_zero_masks() -> None:
    tree = build(BASE, Layer([File("x", 1)]), Layer([File("y", 1)]), Layer([Whiteout("x")]))
    tree.precompute(0)
    assert tree.masks(0, 3) == tree._range_masks(0, 3)
    assert tree.masks(0, 3)[""] == ADDED_BIT
    assert tree.masks(1, 3)[""] == ADDED_BIT | REMOVED_BIT
    assert tree.masks(2, 2) == {}


# --- sizes and history -------------------------------------------------------------------


def test_directory_size_is_the_sum_below_it_without_removed_files() -> None:
    tree = build(
        Layer([File("d/a", 100), File("d/b", 200), File("d/e/c", 300)]),
        Layer([Whiteout("d/b")]),
    )
    assert tree.dir_size("d", 0) == 600  # dive's TestDirSize
    assert tree.dir_size("d", 1) == 400
    assert tree.dir_size("", 1) == 400
    root = {n.name: n.size for n in tree.children("", 0, 1)}
    assert root == {"d": 400}
    removed = tree.node("d/b", 0, 1)
    assert removed is not None
    assert (removed.kind, removed.size) == (REMOVED, 200)
    # a removed directory shows what it held
    tree2 = build(Layer([File("d/a", 100), File("d/e/c", 300)]), Layer([Whiteout("d")]))
    node = tree2.node("d", 0, 1)
    assert node is not None
    assert (node.kind, node.size) == (REMOVED, 400)


def test_history_lists_every_layer_that_touched_a_path() -> None:
    tree = build(
        BASE,
        Layer([File("etc/passwd", 100, mode=0o600)]),
        Layer([File("etc/passwd", 100, mode=0o600)]),
        Layer([Whiteout("etc/passwd")]),
        Layer([File("etc/passwd", 9)]),
    )
    items = tree.history("etc/passwd")
    assert [(h.layer, h.kind, h.size) for h in items] == [
        (0, ADDED, 100),
        (1, MODIFIED, 100),
        (2, UNCHANGED, 100),
        (3, REMOVED, 100),
        (4, ADDED, 9),
    ]
    assert items[1].reasons == ("mode",)
    assert items[3].how is Removal.DELETED
    assert tree.history("never/there") == []


def test_links_keep_their_targets() -> None:
    tree = build(Layer([File("bin/busybox", 10), Hardlink("bin/sh", "bin/busybox")]), BASE)
    names = {n.name: n for n in tree.children("bin", 0, 0)}
    assert names["sh"].entry.type is EntryType.HARDLINK
    assert names["sh"].entry.link == "bin/busybox"
    assert names["sh"].size == 0
    alias = tree.node("usr/bin/alias", 0, 1)
    assert alias is not None
    assert alias.entry.link == "tool"


# --- search --------------------------------------------------------------------------------


def test_search_matches_absolute_paths_in_the_view() -> None:
    tree = build(BASE, Layer([Whiteout("etc/hosts"), File("etc/big", 5000)]))
    assert tree.search(lambda p: "hosts" in p, (), 0, 1) == ["etc/hosts"]  # removed: shown
    assert tree.search(lambda p: "hosts" in p, (), 1, 1) == []
    assert tree.search(lambda p: p.startswith("/usr"), (), 0, 1) == [
        "usr",
        "usr/bin",
        "usr/bin/tool",
        "usr/bin/alias",
    ]
    assert tree.search(None, ((">", 1000),), 0, 1) == ["etc/big"]
    assert tree.search(None, (), 0, 1, frozenset({ADDED, REMOVED})) == ["etc/hosts", "etc/big"]
    assert tree.search(None, (), 0, 1, frozenset({MODIFIED})) == []
    unchanged_only = tree.search(None, (), 0, 1, frozenset({UNCHANGED}))
    assert "etc/hosts" not in unchanged_only
    assert "etc/passwd" in unchanged_only
    assert tree.search(lambda p: "etc" in p, (), 0, 1, fold=True)[0] == "etc"


def test_ancestor_ids_reach_the_root() -> None:
    tree = build(BASE)
    ids = tree.search_ids(lambda p: p.endswith("tool"), (), -1, 0)
    paths = tree.all_paths()
    assert {paths[i] if i >= 0 else "" for i in tree.ancestor_ids(ids)} == {"", "usr", "usr/bin"}
    assert tree.id_of("") == -1


def test_presence_bitmaps_are_derived_from_a_lower_layer() -> None:
    tree = build(BASE, Layer([Whiteout("etc")]), Layer([File("etc/x", 1)]))
    index = {p: i for i, p in enumerate(tree.all_paths())}
    flags = tree.present_flags(2)
    assert flags[index["etc/x"]] == 1
    assert flags[index["etc/passwd"]] == 0
    assert tree.present_flags(0)[index["etc/passwd"]] == 1
    assert tree.present_flags(-1) == b""


# --- scale and safety ------------------------------------------------------------------------


def test_children_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tree_module, "_CACHE_NODES", 10)
    tree = build(Layer([File(f"d{i}/f{j}", 1) for i in range(10) for j in range(5)]))
    for i in range(10):
        assert len(tree.children(f"d{i}", -1, 0)) == 5
    assert tree._cached_nodes <= 12
    assert len(tree.children("d0", -1, 0)) == 5  # recomputed after eviction


def test_views_from_the_start_pick_the_version_as_of_their_top_layer() -> None:
    tree = build(
        Layer([File("a", 1), File("b", 1)]),
        Layer([File("a", 2), File("c", 2)]),
        Layer([File("a", 3), File("b", 3), File("c", 3), Whiteout("d")]),
        Layer([File("a", 4), File("d", 4)]),
    )
    for hi, expected in [
        (0, {"a": 1, "b": 1}),
        (1, {"a": 2, "b": 1, "c": 2}),
        (2, {"a": 3, "b": 3, "c": 3}),
        (3, {"a": 4, "b": 3, "c": 3, "d": 4}),
    ]:
        nodes = tree.children("", -1, hi)
        assert {n.name: n.size for n in nodes} == expected
        assert {n.kind for n in nodes} == {ADDED}
        assert all(n.layer == n.size - 1 for n in nodes)  # each size says its layer


def test_first_version_views_build_the_same_nodes_as_the_general_rule() -> None:
    tree = build(
        BASE,
        Layer([File("etc/passwd", 150), File("etc/new", 10), Whiteout("etc/hosts")]),
        Layer([File("usr/lib/a.so", 5), File("usr/lib/b.so", 6), Dir("usr/bin", mode=0o700)]),
        Layer([Opaque("etc"), File("etc/hosts", 20), File("new/deep/file", 1)]),
        Layer([Whiteout("usr/lib"), File("usr/lib", 9), Symlink("etc/link", "hosts")]),
    )
    directories = ["", "etc", "usr", "usr/bin", "usr/lib", "new", "new/deep"]
    fast = 0
    for lo in range(-1, tree.layer_count):
        for hi in range(max(lo, 0), tree.layer_count):
            for path in directories:
                tree._children_cache.clear()
                listing = tree._listing(path)
                general = tree._children_of(listing, lo, hi)
                assert tree.children(path, lo, hi) == general, (path, lo, hi)
                fast += lo <= hi < listing.second
    assert fast > 20  # the first-version path was taken, and agreed


def test_prepared_listings_follow_the_layers_added_later() -> None:
    tree = build(Layer([File("x/one", 1)]))
    tree.prepare_listings()
    assert [n.name for n in tree.children("x", -1, 0)] == ["one"]
    tree.add_layer(indexes(Layer([]), Layer([File("x/two", 2), File("x/a", 3)]))[1])
    assert [n.name for n in tree.children("x", 0, 1)] == ["a", "one", "two"]
    assert [n.name for n in tree.children("x", -1, 0)] == ["one"]


def test_deep_paths_do_not_recurse(monkeypatch: pytest.MonkeyPatch) -> None:
    # deeper than the indexer lets a path be (hardening.md): lifted, the tree must not recurse
    monkeypatch.setattr(indexer, "MAX_PATH_BYTES", 1 << 20)
    monkeypatch.setattr(indexer, "MAX_PATH_DEPTH", 1 << 20)
    deep = "/".join(f"d{i}" for i in range(1500))
    tree = build(Layer([File(deep + "/leaf", 1)]), Layer([Whiteout("d0")]))
    assert tree.dir_size("d0", 0) == 1
    assert len(ancestors(deep)) == 1500
    assert tree.history(deep + "/leaf")[-1].how is Removal.PARENT_DELETED


def test_deep_paths_cost_their_directories_once() -> None:
    """A directory implied by deep paths is keyed by one string object in the tree (its
    own path), not by a fresh slice of each deeper path: 40 distinct paths at the
    indexer's limits cost less than twice the bytes of their directories' paths."""
    deep = "/".join(["d" * 14] * (indexer.MAX_PATH_DEPTH - 2))
    (index,) = indexes(Layer([Raw(f"t{i:02d}/{deep}/f", data=b"x") for i in range(40)]))
    names = sum(len(p[:i]) for p in index.entries for i in range(len(p)) if p[i] == "/")
    tracemalloc.start()
    try:
        tree = FileTree([index])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert tree.exists(f"t39/{deep}/f", 0)
    assert names > 15 << 20
    assert peak < 2.5 * names


def test_readers_see_only_published_layers_while_a_thread_adds() -> None:
    layers = indexes(*(Layer([File(f"l{i}/f{j}", j) for j in range(200)]) for i in range(30)))
    tree = FileTree()
    done = threading.Event()

    def grow() -> None:
        for index in layers:
            tree.add_layer(index)
        done.set()

    worker = threading.Thread(target=grow)
    worker.start()
    while not done.is_set():
        count = tree.layer_count
        if count:
            top = count - 1
            names = {n.name for n in tree.children("", top - 1, top)}
            assert f"l{top}" in names
            assert tree.dir_size(f"l{top}", top) == sum(range(200))
    worker.join()
    assert tree.layer_count == 30


# --- real images ---------------------------------------------------------------------------


def _load(image: str) -> tuple[list[LayerIndex], FileTree]:
    loaded = pipeline.load(image, pipeline.InspectOptions(), LoadEvents())
    return list(loaded.layers), FileTree(loaded.layers)


@pytest.mark.parametrize("image", ["demo", *sampleimage.SHAPES])
def test_summaries_match_the_analysis_on_real_images(
    image: str, sample_archives: dict[str, Path]
) -> None:
    if image != "demo":
        image = str(sample_archives[image])
    layers, tree = _load(image)
    result = analyse(IMAGE, layers)
    for i, stats in enumerate(result.layers):
        summary = tree.summaries[i]
        assert (summary.added, summary.modified, summary.removed, summary.cumulative) == (
            stats.added,
            stats.modified,
            stats.removed,
            stats.cumulative,
        )
        kinds = {p: tree.kind(p, i - 1, i) for p in tree.changed_paths(i)}
        assert {p: k for p, k in kinds.items() if k is not None} == result.changes[i].kinds
    assert tree.dir_size("", len(layers) - 1) == result.exact.visible_bytes


def test_size_conditions_use_the_size_the_view_shows() -> None:
    tree = build(
        Layer([File("a", 10), File("b", 2000), Dir("d"), File("d/c", 5000)]),
        Layer([Whiteout("b"), File("a", 3000)]),
    )
    assert tree.search(None, ((">", 1000),), 0, 1) == ["a", "b", "d/c"]  # b: its old size
    assert tree.search(None, ((">", 1000),), 1, 1) == ["a", "d/c"]
    assert tree.search(None, (("<", 100),), 0, 0) == ["a"]  # never a directory
    assert tree.search(None, ((">=", 2000), ("<=", 3000)), 0, 1) == ["a", "b"]
    sizes = tree.size_array(1)
    index = {p: i for i, p in enumerate(tree.all_paths())}
    assert (sizes[index["a"]], sizes[index["b"]], sizes[index["d"]]) == (3000, -1, -1)


@pytest.mark.parametrize("needle", ["etc", "Etc", "ool", "tool", "/usr/bin", "zzz", "s/p"])
@pytest.mark.parametrize("names", [False, True])
def test_literal_search_finds_what_the_pattern_finds(needle: str, names: bool) -> None:
    tree = build(BASE, Layer([File("Etc/Passwd", 1), Whiteout("usr/bin/tool")]))
    fold = needle.islower()
    subject = needle.lower() if fold else needle
    by_pattern = tree.search_ids(lambda s: subject in s, (), 0, 1, None, fold, names)
    by_literal = tree.search_ids(None, (), 0, 1, None, fold, names, literal=needle)
    assert by_literal == by_pattern


def test_literal_search_typed_on_equals_a_fresh_search() -> None:
    """Typing on re-checks only the last hits; the result is what a fresh search finds."""
    tree = build(BASE, Layer([File("Etc/Passwd", 1), Whiteout("usr/bin/tool")]))
    tree.prepare_search()  # what the UI does in a worker after the load
    typed = [tree.search_ids(None, (), 0, 1, None, True, False, "/usr/bin/tool"[:k])
             for k in range(1, 14)]  # fmt: skip
    for k, hits in enumerate(typed, start=1):
        fresh = build(BASE, Layer([File("Etc/Passwd", 1), Whiteout("usr/bin/tool")]))
        needle = "/usr/bin/tool"[:k]
        assert hits == fresh.search_ids(_within(needle), (), 0, 1, None, True, False)
    # a needle that does not extend the last one starts over
    assert tree.search_ids(None, (), 0, 1, None, True, False, "etc") == tree.search_ids(
        lambda s: "etc" in s, (), 0, 1, None, True, False
    )


def _within(needle: str) -> Callable[[str], bool]:
    return lambda s: needle in s


def test_typing_on_narrows_the_last_matches_and_only_then(monkeypatch: pytest.MonkeyPatch) -> None:
    """A needle that contains the last one, in the same view with the same conditions,
    re-checks the last matches only; anything else searches afresh. Either way the result
    is what a fresh tree finds."""
    layers = (BASE, Layer([File("etc/tool.conf", 5000), Whiteout("usr/bin/tool")]))
    tree = build(*layers)
    fresh_calls: list[str] = []
    find = tree._find_literal

    def counting(needle: str, strings: list[str], key: tuple[bool, bool]) -> list[int]:
        fresh_calls.append(needle)
        return find(needle, strings, key)

    monkeypatch.setattr(tree, "_find_literal", counting)
    steps: list[tuple[str, int, int, tuple[tuple[str, int], ...], bool]] = [
        ("t", 0, 1, (), False),  # fresh
        ("to", 0, 1, (), True),  # typing on
        ("tool", 0, 1, (), True),
        ("too", 0, 1, (), False),  # backspace: not an extension of "tool"
        ("tool", 1, 1, (), False),  # another view
        ("tool.", 1, 1, ((">", 10),), False),  # a size condition added
        ("tool.c", 1, 1, ((">", 10),), True),
        ("Tool.c", 1, 1, ((">", 10),), False),  # a capital: exact case, other strings
    ]
    for needle, lo, hi, sizes, narrowed in steps:
        fresh_calls.clear()
        fold = needle.islower()
        found = tree.search_ids(None, sizes, lo, hi, None, fold, False, needle)
        assert (not fresh_calls) is narrowed, needle
        subject = needle.lower() if fold else needle
        expected = build(*layers).search_ids(_within(subject), sizes, lo, hi, None, fold)
        assert found == expected, needle
    # a pattern that is not a plain substring forgets the last matches
    tree.search_ids(_within("tool"), (), 0, 1, None, True)
    fresh_calls.clear()
    tree.search_ids(None, (), 0, 1, None, True, False, "tool.")
    assert fresh_calls == ["tool."]


def test_prepared_listings_are_the_first_directories_in_display_order() -> None:
    tree = build(Layer([File("b/y/f", 1), File("a/x/f", 1), File("a/w", 1), File("c", 1)]))
    tree.prepare_listings(0)
    assert tree._listings == {}  # only the first-version columns
    tree.prepare_listings(3)
    assert set(tree._listings) == {"", "a", "a/x"}  # what "expand all" opens first
    assert [n.name for n in tree.children("b", -1, 0)] == ["y"]  # the others on demand
