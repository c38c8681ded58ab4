"""The file tree's and layer list's view-models, golden-tested as text (no terminal)."""

from __future__ import annotations

import io
from dataclasses import replace
from textwrap import dedent

import hostile
import pytest
from imagebuilder import Dir, File, Layer, Symlink, Whiteout

from inspector import indexer
from inspector.analysis import WastedFile
from inspector.changes import ChangeKind, Removal
from inspector.digest import Digest
from inspector.indexer import index_blob
from inspector.model import HistoryEntry, Image, LayerInfo
from inspector.tree import FileTree
from inspector.ui import rows as vm
from inspector.ui.pathfilter import PatternMode, parse_query

MARK = {
    ChangeKind.ADDED: "+",
    ChangeKind.MODIFIED: "~",
    ChangeKind.REMOVED: "-",
    ChangeKind.UNCHANGED: " ",
}


def build(*layers: Layer) -> FileTree:
    return FileTree(
        index_blob(io.BytesIO(layer.tar()).read, f"layer {i}") for i, layer in enumerate(layers)
    )


def text(rows: list[vm.Row]) -> str:
    """One line per row: the change mark, the guides, ▸/▾ for directories, the label."""
    lines = []
    for row in rows:
        marker = ("▾ " if row.expanded else "▸ ") if row.node.is_dir else ""
        match = " *" if row.matched else ""
        lines.append(f"{MARK[row.display]} {row.guide}{marker}{vm.label(row.node)}{match}")
    return "\n".join(lines)


def golden(block: str) -> str:
    return dedent(block).strip("\n")


IMAGE = (
    Layer(
        [
            Dir("etc"),
            File("etc/passwd", 100),
            File("etc/hosts", 200),
            Dir("usr"),
            Dir("usr/bin"),
            File("usr/bin/tool", 3000),
            Symlink("usr/bin/alias", "tool"),
            Dir("var"),
            File("var/log", 10),
        ]
    ),
    Layer([File("etc/passwd", 150), File("etc/motd", 5), Whiteout("etc/hosts")]),
    Layer([Whiteout("usr/bin"), File("opt/app/run", 7)]),
)


@pytest.fixture
def tree() -> FileTree:
    return build(*IMAGE)


def test_collapsed_tree_shows_top_level_with_derived_directory_kinds(tree: FileTree) -> None:
    state = vm.TreeState(lo=0, hi=1)
    assert text(vm.build_rows(tree, state)) == golden(
        """
        ~ ├── ▸ etc
          ├── ▸ usr
          └── ▸ var
        """
    )


def test_expanded_directories_nest_with_guides(tree: FileTree) -> None:
    state = vm.TreeState(lo=1, hi=2, expanded={"usr", "usr/bin", "opt"})
    assert text(vm.build_rows(tree, state)) == golden(
        """
          ├── ▸ etc
        + ├── ▾ opt
        + │   └── ▸ app
        ~ ├── ▾ usr
        - │   └── ▾ bin
        - │       ├── alias → tool
        - │       └── tool
          └── ▸ var
        """
    )


def test_hiding_unmodified_keeps_only_directories_with_changes(tree: FileTree) -> None:
    state = vm.TreeState(lo=0, hi=1, expanded={"etc"}, hidden=frozenset({ChangeKind.UNCHANGED}))
    assert text(vm.build_rows(tree, state)) == golden(
        """
        ~ └── ▾ etc
        -     ├── hosts
        +     ├── motd
        ~     └── passwd
        """
    )


def test_hiding_added_and_removed(tree: FileTree) -> None:
    hidden = frozenset({ChangeKind.UNCHANGED, ChangeKind.ADDED, ChangeKind.REMOVED})
    state = vm.TreeState(lo=0, hi=1, expanded={"etc"}, hidden=hidden)
    assert text(vm.build_rows(tree, state)) == golden(
        """
        ~ └── ▾ etc
        ~     └── passwd
        """
    )


def test_sort_by_size_puts_the_largest_first(tree: FileTree) -> None:
    state = vm.TreeState(lo=-1, hi=0, sort=vm.SortOrder.SIZE)
    names = [row.node.name for row in vm.build_rows(tree, state)]
    assert names == ["usr", "etc", "var"]


def test_aggregated_view_from_base_zero(tree: FileTree) -> None:
    lo, hi = vm.view_range(vm.ViewMode.AGGREGATED, 2, 0)
    state = vm.TreeState(lo=lo, hi=hi, expanded={"etc"})
    assert text(vm.build_rows(tree, state)) == golden(
        """
        ~ ├── ▾ etc
        - │   ├── hosts
        + │   ├── motd
        ~ │   └── passwd
        + ├── ▸ opt
        ~ ├── ▸ usr
          └── ▸ var
        """
    )


def test_filter_shows_matches_and_their_directories(tree: FileTree) -> None:
    state = vm.TreeState(lo=0, hi=1)
    query = parse_query("pass", PatternMode.REGEX)
    ids = tree.search_ids(query.text_matcher, (), 0, 1, None, query.fold)
    state.set_matches(vm.Matches(tree, ids))
    assert text(vm.build_rows(tree, state)) == golden(
        """
        ~ └── ▾ etc
        ~     └── passwd *
        """
    )
    assert "etc/passwd" in state.matches  # type: ignore[operator]
    assert state.matches is not None
    assert state.matches.above("")
    assert not state.matches.above("usr")


def test_view_range() -> None:
    assert vm.view_range(vm.ViewMode.LAYER, 0, 0) == (-1, 0)
    assert vm.view_range(vm.ViewMode.LAYER, 3, 1) == (2, 3)
    assert vm.view_range(vm.ViewMode.AGGREGATED, 3, 1) == (1, 3)
    assert vm.view_range(vm.ViewMode.AGGREGATED, 1, 3) == (1, 1)  # base above: no changes


def test_all_directories_and_row_index(tree: FileTree) -> None:
    state = vm.TreeState(lo=1, hi=2)
    dirs = vm.all_directories(tree, state)
    assert dirs == {"etc", "opt", "opt/app", "usr", "usr/bin", "var"}
    assert len(vm.all_directories(tree, state, limit=2)) == 2
    state.expanded = dirs
    rows = vm.build_rows(tree, state)
    assert vm.row_index(rows, "opt/app/run") is not None
    assert vm.row_index(rows, "nope") is None


def test_attributes_and_labels(tree: FileTree) -> None:
    nodes = {n.name: n for n in tree.children("usr/bin", -1, 0)}
    assert vm.attributes(nodes["tool"]) == ("-rw-r--r--", "0:0", "3 kB")
    assert vm.attributes(nodes["alias"])[0].startswith("l")
    assert vm.label(nodes["alias"]) == "alias → tool"
    implied = tree.node("opt", 1, 2)
    assert implied is not None
    assert implied.implied
    assert vm.attributes(implied)[:2] == ("drwxr-xr-x", "0:0")


def _image(count: int) -> Image:
    layers = tuple(
        LayerInfo(
            i,
            Digest.sha256_of(str(i).encode()),
            None,
            "application/vnd.oci.image.layer.v1.tar",
            1000 * (i + 1),
            HistoryEntry(created_by=f"/bin/sh -c echo {i}" if i else ""),
        )
        for i in range(count)
    )
    return Image("img", ("img:1",), Digest.sha256_of(b"c"), None, layers, ())


def test_layer_rows_fill_in_as_layers_arrive(tree: FileTree) -> None:
    image = _image(3)
    rows = vm.layer_rows(image, tree.summaries[:1], (1000, None, None), None, frozenset({2}))
    assert [r.indexed for r in rows] == [True, False, False]
    assert rows[0].changes == "+9 ~0 -0"
    assert rows[1].changes == "…"
    assert rows[0].command == "FROM (base layer)"
    assert rows[1].command == "echo 1"
    assert rows[2].shared
    assert rows[1].stored is None


def test_sort_wasted() -> None:
    files = [
        WastedFile("b", 10, 1, 2, Removal.DELETED),
        WastedFile("a", 30, 2, 3, Removal.REPLACED),
        WastedFile("c", 20, 0, 4, Removal.OPAQUE),
    ]
    assert [w.path for w in vm.sort_wasted(files, vm.WastedSort.SIZE, False)] == ["a", "c", "b"]
    assert [w.path for w in vm.sort_wasted(files, vm.WastedSort.PATH, False)] == ["a", "b", "c"]
    assert [w.path for w in vm.sort_wasted(files, vm.WastedSort.STORED, True)] == ["a", "b", "c"]
    assert [w.path for w in vm.sort_wasted(files, vm.WastedSort.HIDDEN, False)] == ["b", "a", "c"]
    assert vm.sort_wasted(files, vm.WastedSort.HOW, False)[0].path == "b"


def test_deep_trees_build_without_recursion(monkeypatch: pytest.MonkeyPatch) -> None:
    # deeper than the indexer lets a path be (hardening.md): lifted, the tree must not recurse
    monkeypatch.setattr(indexer, "MAX_PATH_BYTES", 1 << 20)
    monkeypatch.setattr(indexer, "MAX_PATH_DEPTH", 1 << 20)
    deep = "/".join(f"d{i}" for i in range(1200))
    tree = build(Layer([File(deep + "/leaf", 1)]))
    state = vm.TreeState(lo=-1, hi=0)
    state.expanded = vm.all_directories(tree, state)
    rows = vm.build_rows(tree, state)
    assert len(rows) == 1201
    assert rows[-1].depth == 1200


def test_expand_all_in_one_walk_matches_expanding_every_directory(tree: FileTree) -> None:
    for lo, hi in ((-1, 0), (0, 1), (1, 2), (0, 2)):
        opened = vm.TreeState(lo=lo, hi=hi)
        rows = vm.build_rows(tree, opened, open_all=1000)
        reference = vm.TreeState(lo=lo, hi=hi)
        reference.expanded = vm.all_directories(tree, reference)
        assert text(rows) == text(vm.build_rows(tree, reference))
        assert opened.expanded == reference.expanded
    limited = vm.TreeState(lo=1, hi=2)
    vm.build_rows(tree, limited, open_all=2)
    assert len(limited.expanded) == 2


def test_labels_paths_and_commands_are_shown_clean() -> None:
    files = build(
        Layer(
            [
                File(hostile.CLEAR_NAME, 1),
                File(hostile.BIDI_NAME, 1),
                Symlink("link", hostile.LINK_TARGET),
            ]
        )
    )
    labels = sorted(vm.label(node) for node in files.children("", -1, 0))
    assert labels == [
        "clear\\x1b[2Jscreen",
        "invoice\\u202etxt.exe",
        "link → target\\x1b]52;c;TElOSw==\\x07",
    ]
    assert vm.shown_path("d/" + hostile.NOT_UTF8_NAME) == "/d/latin\\xe9-\\x9b-name"
    info = replace(_image(2).layers[1], history=HistoryEntry(created_by=hostile.COMMAND))
    assert vm.layer_command(info) == (
        "rm -rf /hostile \\x1b]0;LAYER-TITLE\\x07 \\x1b]52;c;TEFZRVI=\\x07"
    )


def test_a_match_in_a_name_is_highlighted_where_the_clean_label_shows_it() -> None:
    name = hostile.CLEAR_NAME  # clear ESC [2J screen
    label = "clear\\x1b[2Jscreen"
    for raw, shown in (("screen", "screen"), ("\x1b[2J", "\\x1b[2J"), ("clear", "clear")):
        start = name.index(raw)
        begin, end = vm.label_span(name, start, start + len(raw))
        assert label[begin:end] == shown


def test_sorted_ids_answer_membership_like_a_set() -> None:
    ids = vm.SortedIds([9, 2, 5, 7])  # sorted on the way in
    assert [i for i in range(11) if i in ids] == [2, 5, 7, 9]
    assert list(ids) == [2, 5, 7, 9]
    assert len(ids) == 4
    assert "5" not in ids
    assert -1 not in ids
    assert 0 not in vm.SortedIds([])
