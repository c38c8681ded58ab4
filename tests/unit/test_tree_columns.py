"""The layer columns (filetree/columns.py) answer what the version chains answer.

Presence, sizes, kind filters and the masks of the directories above the changes are
array scatters of each layer's columns; a path touched by several layers of a range is
compared by its versions. Random layer stacks (files, directories, links, whiteouts,
opaque directories over a small set of names, so that layers collide) check every view
against the rule stated on the chains directly.
"""

from __future__ import annotations

import io
from itertools import combinations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from imagebuilder import Dir, File, Layer, Op, Opaque, Symlink, Whiteout

from inspector.changes import ChangeKind
from inspector.filetree.versions import _at, compare
from inspector.indexer import index_blob
from inspector.tree import KIND_BITS, FileTree

NAMES = ("a", "a/b", "a/b/c", "a/d", "e", "e/f")
KINDS = tuple(ChangeKind)


Entry = File | Dir | Symlink | Whiteout | Opaque


def ops() -> st.SearchStrategy[Entry]:
    name = st.sampled_from(NAMES)
    return st.one_of(
        st.builds(File, name, st.integers(0, 3)),
        st.builds(File, name, st.just(1), st.sampled_from([0o644, 0o600])),
        st.builds(Dir, name),
        st.builds(Symlink, name, st.sampled_from(["x", "y"])),
        st.builds(Whiteout, name),
        st.builds(Opaque, st.sampled_from(["a", "a/b", "e"])),
    )


def stacks() -> st.SearchStrategy[list[list[Entry]]]:
    return st.lists(st.lists(ops(), max_size=6), min_size=1, max_size=4)


def build(layers: list[list[Entry]]) -> FileTree:
    tree = FileTree()
    for i, layer_ops in enumerate(layers):
        seen: dict[str, Op] = {}  # one entry per path and layer, as in a layer's tar
        for op in layer_ops:
            seen[op.dir + "/.wh..wh..opq" if isinstance(op, Opaque) else op.path] = op
        tar = Layer(list(seen.values())).tar()
        tree.add_layer(index_blob(io.BytesIO(tar).read, f"layer {i}"))
    return tree


def changed(tree: FileTree, lo: int, hi: int) -> dict[str, ChangeKind | None]:
    """What the chains say: every path a layer in `(lo, hi]` touched, and its change."""
    found: dict[str, ChangeKind | None] = {}
    for j in range(max(lo + 1, 0), hi + 1):
        for path in tree.changed_paths(j):
            chain = tree._versions[path]
            low = _at(chain, lo) if lo >= 0 else None
            found[path] = compare(low, _at(chain, hi))
    return found


def masks(tree: FileTree, lo: int, hi: int) -> dict[str, int]:
    result: dict[str, int] = {}
    for path, kind in changed(tree, lo, hi).items():
        bit = KIND_BITS[kind] if kind is not None else 0
        node = path
        while bit and node:
            node = node.rpartition("/")[0]
            result[node] = result.get(node, 0) | bit
    return result


def shown(tree: FileTree, lo: int, hi: int, kinds: frozenset[ChangeKind] | None) -> list[int]:
    changes = changed(tree, lo, hi) if lo != hi else {}
    ids = []
    for i, path in enumerate(tree.all_paths()):
        if not (tree.exists(path, lo) or tree.exists(path, hi)):
            continue
        kind = changes.get(path, ChangeKind.UNCHANGED) or ChangeKind.UNCHANGED
        if kinds is None or kind in kinds or (lo == hi and ChangeKind.UNCHANGED in kinds):
            ids.append(i)
    return ids


def size_in(tree: FileTree, path: str, layer: int) -> int:
    version = tree.version(path, layer)
    if version is None or version.entry is None or version.is_dir:
        return -1
    return version.entry.size


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stacks(), st.sampled_from([None, *map(frozenset, combinations(KINDS, 1)),
                                  *map(frozenset, combinations(KINDS, 2)),
                                  *map(frozenset, combinations(KINDS, 3))]))  # fmt: skip
def test_columns_answer_what_the_chains_answer(
    layers: list[list[Entry]], kinds: frozenset[ChangeKind] | None
) -> None:
    tree = build(layers)
    paths = tree.all_paths()
    count = tree.layer_count
    for layer in range(count):
        present = tree.present_flags(layer)
        sizes = tree.size_array(layer)
        for i, path in enumerate(paths[: len(present)]):
            assert present[i] == tree.exists(path, layer), (path, layer)
            assert sizes[i] == size_in(tree, path, layer), (path, layer)
    for lo in range(-1, count):
        for hi in range(max(lo, 0), count):
            assert tree.masks(lo, hi) == (masks(tree, lo, hi) if lo < hi else {}), (lo, hi)
            flags = tree.view_flags(lo, hi, kinds)
            assert [i for i, f in enumerate(flags) if f] == shown(tree, lo, hi, kinds)
            view_sizes = tree.view_sizes(lo, hi)
            for i, path in enumerate(paths):
                up = size_in(tree, path, hi)
                expected = up if tree.exists(path, hi) else size_in(tree, path, lo)
                assert view_sizes[i] == expected, (path, lo, hi)


def test_a_path_touched_by_two_layers_of_a_range_is_compared_by_its_versions() -> None:
    """Added in layer 1 and removed in layer 2: in neither file system of the view (0, 2),
    although each layer on its own changed it (the shortcut taken for a path touched
    once must not be taken here)."""
    tree = build([[File("a", 1)], [File("e", 1)], [Whiteout("e")], [File("a", 2)]])
    assert tree.masks(0, 2) == {}
    index = {p: i for i, p in enumerate(tree.all_paths())}
    assert tree.change_codes(0, 2)[index["e"]] != tree.change_codes(1, 2)[index["e"]]
    added = frozenset({ChangeKind.ADDED})
    assert tree.view_flags(0, 2, added)[index["e"]] == 0
    assert tree.view_flags(0, 1, added)[index["e"]] == 1
    assert tree.masks(0, 3) == {"": KIND_BITS[ChangeKind.MODIFIED]}
