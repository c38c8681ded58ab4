"""The diff's changed paths as a two-layer FileTree (inspector/ui/changedtree.py): its one
view shows exactly the diff's paths, each as the diff classifies it, below directories
that are unchanged unless the diff says otherwise."""

from __future__ import annotations

from pathlib import Path

import imagebuilder as ib
from imagebuilder import Dir, File, Layer, Symlink

from inspector import pipeline
from inspector.analysis import final_file_system
from inspector.changes import ChangeKind, EntryType
from inspector.diff import FileChange, diff
from inspector.ui.changedtree import VIEW, ChangedTree, changed_tree

KINDS = {
    FileChange.ADDED: ChangeKind.ADDED,
    FileChange.REMOVED: ChangeKind.REMOVED,
    FileChange.MODIFIED: ChangeKind.MODIFIED,
}


def tree_of(
    tmp_path: Path, old: list[Layer], new: list[Layer]
) -> tuple[ChangedTree, dict[str, FileChange]]:
    found = []
    for name, layers in (("old", old), ("new", new)):
        path = tmp_path / f"{name}.tar"
        path.write_bytes(ib.docker_save_legacy(ib.build_image(*layers)))
        found.append(pipeline.inspect(str(path)))
    systems = final_file_system(found[0].layers), final_file_system(found[1].layers)
    files = diff(found[0], found[1], systems).files
    expected = {
        c.path: c.change for group in (files.added, files.removed, files.modified) for c in group
    }
    return changed_tree(files, *systems), expected


def kinds(changed: ChangedTree) -> dict[str, ChangeKind]:
    tree = changed.tree
    found = {}
    for path in tree.all_paths():
        kind = tree.kind(path, *VIEW)
        assert kind is not None, path
        found[path] = kind
    return found


def test_the_view_shows_the_diffs_paths_and_the_directories_above_them(tmp_path: Path) -> None:
    base = Layer([Dir("etc"), File("etc/keep", 10), File("etc/hosts", 20)])
    old = [base, Layer([File("srv/deep/er/file", 100), Dir("x"), File("x/a", 5), File("x/b/c", 6),
                        Symlink("ln", "/etc/keep")])]  # fmt: skip
    new = [base, Layer([File("srv/deep/er/file", 150), File("x", 7), Symlink("ln", "/etc/hosts"),
                        File("etc/new", 1)])]  # fmt: skip
    changed, expected = tree_of(tmp_path, old, new)
    assert expected == {
        "srv/deep/er/file": FileChange.MODIFIED,
        "x": FileChange.MODIFIED,  # a directory became a file
        "x/a": FileChange.REMOVED,
        "x/b": FileChange.REMOVED,
        "x/b/c": FileChange.REMOVED,
        "ln": FileChange.MODIFIED,
        "etc/new": FileChange.ADDED,
    }
    shown = kinds(changed)
    for path, change in expected.items():
        assert shown[path] is KINDS[change], path
    rest = {path: kind for path, kind in shown.items() if path not in expected}
    # implied directories (no tar entry) and real ones alike: unchanged
    assert rest == dict.fromkeys(("etc", "srv", "srv/deep", "srv/deep/er"), ChangeKind.UNCHANGED)
    assert "etc/keep" not in shown  # unchanged files are not in the tree at all

    before, after = changed.old_entry("x"), changed.new_entry("x")
    assert before is not None
    assert after is not None
    assert (before.type, after.type) == (EntryType.DIR, EntryType.FILE)
    assert changed.new_entry("x/a") is None
    assert changed.old_entry("etc/new") is None
    assert changed.below["srv"].paths == 1
    assert changed.below["srv"].bytes == 50
    assert changed.below[""].paths == len(expected)
    assert changed.below["x"].paths == 3
    assert changed.below["x"].bytes == -11


def test_identical_images_give_an_empty_tree(tmp_path: Path) -> None:
    layers = [Layer([Dir("etc"), File("etc/keep", 10)])]
    changed, expected = tree_of(tmp_path, layers, layers)
    assert expected == {}
    assert list(changed.tree.all_paths()) == []
    assert changed.tree.children("", *VIEW) == ()
