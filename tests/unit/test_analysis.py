"""Exact accounting: change kinds, per-layer stats and wasted bytes over stacked layers.

Images are stated in a few lines each; sizes use kB = 1000 bytes. The base layer of the
scenario table (dive-reference §2.6) holds one 10 kB file.
"""

from __future__ import annotations

import io
import tarfile
from dataclasses import dataclass

import pytest
from imagebuilder import Dir, File, Hardlink, Layer, Op, Opaque, Raw, Symlink, Whiteout

from inspector.analysis import Analysis, WastedFile, analyse
from inspector.changes import ChangeKind, Removal
from inspector.digest import Digest
from inspector.indexer import LayerIndex, index_blob
from inspector.model import Image

KB = 1000
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


def run(*layers: Layer) -> Analysis:
    return analyse(IMAGE, indexes(*layers))


def wasted(result: Analysis) -> set[tuple[str, int, int, int, Removal]]:
    return {(w.path, w.size, w.stored_in, w.hidden_by, w.how) for w in result.exact.wasted_files}


BASE = Layer([File("base.txt", 10 * KB)], created_by="ADD base.txt /")


# --- the OCI spec's examples (image-spec layer.md) -------------------------------------------


def test_spec_example_changeset_with_a_whiteout() -> None:
    """Base: etc/my-app-config, bin/my-app-binary, bin/my-app-tools. The next layer adds
    etc/my-app.d/default.cfg, replaces bin/my-app-tools and whites out the config."""
    base = Layer(
        [
            Raw("./", tarfile.DIRTYPE, mode=0o755),
            Dir("etc"),
            File("etc/my-app-config", 300),
            Dir("bin"),
            File("bin/my-app-binary", 5000),
            File("bin/my-app-tools", 2000),
        ],
        prefix="./",
    )
    change = Layer(
        [
            Dir("etc/my-app.d"),
            File("etc/my-app.d/default.cfg", 120),
            File("bin/my-app-tools", 2100),
            Whiteout("etc/my-app-config"),
        ],
        prefix="./",
    )
    result = run(base, change)
    assert result.changes[1].kinds == {
        "etc/my-app-config": REMOVED,
        "etc/my-app.d": ADDED,
        "etc/my-app.d/default.cfg": ADDED,
        "bin/my-app-tools": MODIFIED,
    }
    assert result.changes[1].reasons == {"bin/my-app-tools": ("content",)}
    assert wasted(result) == {
        ("etc/my-app-config", 300, 0, 1, Removal.DELETED),
        ("bin/my-app-tools", 2000, 0, 1, Removal.REPLACED),
    }
    assert result.exact.wasted_bytes == 2300
    assert result.exact.visible_bytes == 5000 + 2100 + 120
    assert result.final_paths == 6  # etc, etc/my-app.d, its cfg, bin and its two files
    assert result.warnings == ()


OPAQUE_BASE = Layer([Dir("a"), Dir("a/b"), Dir("a/b/c"), File("a/b/c/bar", 40)])


@pytest.mark.parametrize("marker_last", [False, True], ids=["marker-first", "marker-last"])
def test_spec_example_opaque_whiteout_is_applied_first(marker_last: bool) -> None:
    """a/b is deleted and recreated with a/b/c/foo; the marker's position does not matter."""
    ops: list[Op] = [Dir("a"), Dir("a/b"), Dir("a/b/c"), File("a/b/c/foo", 7)]
    ops.insert(len(ops) if marker_last else 1, Opaque("a"))
    result = run(OPAQUE_BASE, Layer(ops))
    kinds = result.changes[1].kinds
    assert kinds["a/b/c/bar"] is REMOVED
    assert kinds["a/b/c/foo"] is ADDED
    # removed by the marker and recreated alike: against the layers below, unchanged
    assert kinds["a/b"] is ChangeKind.UNCHANGED
    assert kinds["a/b/c"] is ChangeKind.UNCHANGED
    assert result.layers[1].removed == 1  # only a/b/c/bar is gone for good
    assert wasted(result) == {("a/b/c/bar", 40, 0, 1, Removal.OPAQUE)}
    assert result.exact.visible_bytes == 7
    assert result.final_paths == 4  # a, a/b, a/b/c, a/b/c/foo


def test_spec_example_opaque_equals_explicit_whiteouts() -> None:
    base = Layer(
        [
            Dir("etc"),
            File("etc/my-app-config", 10),
            Dir("bin"),
            File("bin/my-app-binary", 200),
            File("bin/my-app-tools", 30),
            Dir("bin/tools"),
            File("bin/tools/my-app-tool-one", 4),
        ]
    )
    opaque = run(base, Layer([Dir("bin"), Opaque("bin")]))
    explicit = run(
        base,
        Layer(
            [
                Dir("bin"),
                Whiteout("bin/my-app-binary"),
                Whiteout("bin/my-app-tools"),
                Whiteout("bin/tools"),
            ]
        ),
    )
    for result in (opaque, explicit):
        assert result.final_paths == 3  # etc, etc/my-app-config, bin
        assert result.exact.wasted_bytes == 234
        assert result.exact.visible_bytes == 10
        assert {p for p, k in result.changes[1].kinds.items() if k is REMOVED} == {
            "bin/my-app-binary",
            "bin/my-app-tools",
            "bin/tools",
            "bin/tools/my-app-tool-one",
        }
    assert {w.how for w in opaque.exact.wasted_files} == {Removal.OPAQUE}
    assert {(w.path, w.how) for w in explicit.exact.wasted_files} == {
        ("bin/my-app-binary", Removal.DELETED),
        ("bin/my-app-tools", Removal.DELETED),
        ("bin/tools/my-app-tool-one", Removal.PARENT_DELETED),
    }


def test_whiteout_does_not_hide_its_own_layer() -> None:
    result = run(Layer([File("a", 100)]), Layer([Whiteout("a"), File("a", 60, seed="new")]))
    assert result.exact.visible_bytes == 60
    assert wasted(result) == {("a", 100, 0, 1, Removal.DELETED)}
    assert result.warnings == ()


# --- the scenario table of dive-reference §2.6, with the exact answers -------------------------


@dataclass(frozen=True)
class Scenario:
    name: str
    layers: tuple[Layer, ...]
    wasted: set[tuple[str, int, int, int, Removal]]
    kinds: dict[str, ChangeKind]  # of the last layer
    reasons: dict[str, tuple[str, ...]]


def _s(
    name: str,
    layers: list[Layer],
    wasted: set[tuple[str, int, int, int, Removal]],
    kinds: dict[str, ChangeKind],
    reasons: dict[str, tuple[str, ...]] | None = None,
) -> Scenario:
    return Scenario(name, (BASE, *layers), wasted, kinds, reasons or {})


SCENARIOS = [
    _s(
        "add-then-rm",
        [Layer([Dir("app"), File("app/big", 100 * KB)]), Layer([Dir("app"), Whiteout("app/big")])],
        {("app/big", 100 * KB, 1, 2, Removal.DELETED)},
        {"app/big": REMOVED, "app": UNCHANGED},
    ),
    _s(
        "rm-rf-dir",
        [
            Layer([Dir("data"), File("data/a", 100 * KB), File("data/b", 100 * KB)]),
            Layer([Whiteout("data")]),
        ],
        {
            ("data/a", 100 * KB, 1, 2, Removal.PARENT_DELETED),
            ("data/b", 100 * KB, 1, 2, Removal.PARENT_DELETED),
        },
        {"data": REMOVED, "data/a": REMOVED, "data/b": REMOVED},
    ),
    _s(
        "rm-rf-dir-without-dir-entries",
        [
            Layer([File("data/a", 100 * KB), File("data/b", 100 * KB)]),
            Layer([Whiteout("data")]),
        ],
        {
            ("data/a", 100 * KB, 1, 2, Removal.PARENT_DELETED),
            ("data/b", 100 * KB, 1, 2, Removal.PARENT_DELETED),
        },
        {"data": REMOVED, "data/a": REMOVED, "data/b": REMOVED},
    ),
    _s(
        "opaque-dir",
        [
            Layer([Dir("data"), File("data/a", 100 * KB), File("data/b", 100 * KB)]),
            Layer([Dir("data"), Opaque("data"), File("data/c", 1 * KB)]),
        ],
        {
            ("data/a", 100 * KB, 1, 2, Removal.OPAQUE),
            ("data/b", 100 * KB, 1, 2, Removal.OPAQUE),
        },
        {"data": UNCHANGED, "data/a": REMOVED, "data/b": REMOVED, "data/c": ADDED},
    ),
    _s(
        "overwrite-identical",
        [Layer([Dir("app"), File("app/same", 100 * KB)])] * 2,
        {("app/same", 100 * KB, 1, 2, Removal.REPLACED)},
        {"app": UNCHANGED, "app/same": UNCHANGED},
    ),
    _s(
        "overwrite-different",
        [
            Layer([Dir("app"), File("app/diff", 100 * KB)]),
            Layer([Dir("app"), File("app/diff", 50 * KB)]),
        ],
        {("app/diff", 100 * KB, 1, 2, Removal.REPLACED)},
        {"app": UNCHANGED, "app/diff": MODIFIED},
        {"app/diff": ("content",)},
    ),
    _s(
        "chmod-only",
        [
            Layer([Dir("app"), File("app/mode", 100 * KB)]),
            Layer([Dir("app"), File("app/mode", 100 * KB, mode=0o755)]),
        ],
        {("app/mode", 100 * KB, 1, 2, Removal.REPLACED)},
        {"app": UNCHANGED, "app/mode": MODIFIED},
        {"app/mode": ("mode",)},
    ),
    _s(
        "delete-file-still-hard-linked",
        [
            Layer([Dir("app"), File("app/big", 100 * KB), Hardlink("app/link", "app/big")]),
            Layer([Whiteout("app/big")]),
        ],
        set(),
        {"app/big": REMOVED},
    ),
    _s(
        "add-delete-readd",
        [
            Layer([Dir("app"), File("app/f", 100 * KB)]),
            Layer([Whiteout("app/f")]),
            Layer([Dir("app"), File("app/f", 100 * KB)]),
        ],
        {("app/f", 100 * KB, 1, 2, Removal.DELETED)},
        {"app": UNCHANGED, "app/f": ADDED},
    ),
    _s(
        "bogus-whiteout-and-overwrite",
        [
            Layer([Dir("app"), File("app/x", 100 * KB)]),
            Layer([Whiteout("nothere"), Dir("app"), File("app/x", 100 * KB, seed="v2")]),
        ],
        {("app/x", 100 * KB, 1, 2, Removal.REPLACED)},
        {"app": UNCHANGED, "app/x": MODIFIED},
        {"app/x": ("content",)},
    ),
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_scenario_table_exact(scenario: Scenario) -> None:
    result = run(*scenario.layers)
    expected_waste = sum(w[1] for w in scenario.wasted)
    stored = sum(
        e.size
        for idx in indexes(*scenario.layers)
        for e in [*idx.entries.values(), *idx.shadowed]
        if e.type == "file"
    )
    assert wasted(result) == scenario.wasted
    assert result.exact.wasted_bytes == expected_waste
    assert result.exact.stored_bytes == stored
    assert result.exact.visible_bytes == stored - expected_waste
    assert result.changes[-1].kinds == scenario.kinds
    assert result.changes[-1].reasons == scenario.reasons
    assert result.exact.efficiency == pytest.approx((stored - expected_waste) / stored)


def test_rm_rf_dir_wastes_200_kb() -> None:
    result = run(*SCENARIOS[1].layers)
    assert result.exact.wasted_bytes == 200 * KB
    assert {w.how for w in result.exact.wasted_files} == {Removal.PARENT_DELETED}
    assert result.layers[2].removed == 3
    assert result.layers[2].removed_bytes == 200 * KB


def test_bogus_whiteout_is_a_warning() -> None:
    result = run(*SCENARIOS[-1].layers)
    assert result.warnings == ("layer 2: whiteout for 'nothere', which no lower layer has",)
    assert result.exact.wasted_bytes == 100 * KB


def test_base_file_chmod_in_layer_one() -> None:
    result = run(
        Layer([File("base.bin", 100 * KB)]), Layer([File("base.bin", 100 * KB, mode=0o755)])
    )
    assert wasted(result) == {("base.bin", 100 * KB, 0, 1, Removal.REPLACED)}
    assert result.exact.wasted_bytes == 100 * KB
    assert result.exact.user_stored_bytes == 100 * KB
    assert result.exact.user_wasted_percent == 1.0
    assert result.exact.efficiency == 0.5
    assert result.changes[1].kinds == {"base.bin": MODIFIED}
    assert result.changes[1].reasons == {"base.bin": ("mode",)}
    assert result.layers[0].wasted_bytes == 100 * KB
    assert result.layers[1].wasted_bytes == 0


def test_single_layer_image() -> None:
    result = run(BASE)
    assert result.exact.wasted_bytes == 0
    assert result.exact.efficiency == 1.0
    assert result.exact.user_wasted_percent == 0.0
    assert result.changes[0].kinds == {"base.txt": ADDED}


def test_empty_image() -> None:
    result = analyse(IMAGE, [])
    assert (result.exact.stored_bytes, result.exact.efficiency, result.final_paths) == (0, 1.0, 0)


# --- per-layer stats -------------------------------------------------------------------------


def test_per_layer_stats() -> None:
    result = run(
        BASE,
        Layer([Dir("app"), File("app/a", 100 * KB), File("app/b", 20 * KB)]),
        Layer([Dir("app"), File("app/a", 30 * KB), Whiteout("app/b"), File("app/c", 5 * KB)]),
    )
    s0, s1, s2 = result.layers
    assert (s0.position, s0.added, s0.added_bytes, s0.stored_bytes) == (0, 1, 10 * KB, 10 * KB)
    assert (s0.contribution, s0.cumulative, s0.wasted_bytes) == (10 * KB, 10 * KB, 0)
    assert (s1.added, s1.added_bytes, s1.stored_bytes) == (3, 120 * KB, 120 * KB)
    assert (s1.contribution, s1.cumulative) == (120 * KB, 130 * KB)
    assert s1.wasted_bytes == 120 * KB  # both of its files are hidden by layer 2
    assert (s2.added, s2.modified, s2.removed, s2.unchanged) == (1, 1, 1, 1)
    assert (s2.added_bytes, s2.modified_bytes, s2.removed_bytes) == (5 * KB, 30 * KB, 20 * KB)
    assert s2.stored_bytes == 35 * KB
    assert (s2.contribution, s2.cumulative) == (35 * KB - 120 * KB, 45 * KB)
    assert result.exact.visible_bytes == s2.cumulative
    assert result.exact.user_stored_bytes == 155 * KB
    assert result.exact.user_wasted_percent == pytest.approx(120 / 155)
    assert result.final_paths == 4  # base.txt, app, app/a, app/c


def test_wasted_files_sorted_largest_first() -> None:
    result = run(
        Layer([File("small", 10), File("large", 500), File("mid", 100), File("mid2", 100)]),
        Layer([Whiteout("small"), Whiteout("large"), Whiteout("mid2"), Whiteout("mid")]),
    )
    assert [w.path for w in result.exact.wasted_files] == ["large", "mid", "mid2", "small"]
    assert all(isinstance(w, WastedFile) for w in result.exact.wasted_files)


# --- kinds and reasons ---------------------------------------------------------------------


def test_modification_reasons() -> None:
    result = run(
        Layer(
            [
                File("own", b"x"),
                Symlink("sym", "a"),
                File("typ", b"t"),
                File("all", b"1"),
                Dir("d", mode=0o755),
            ]
        ),
        Layer(
            [
                File("own", b"x", uid=1000, gid=1000),
                Symlink("sym", "b"),
                Symlink("typ", "elsewhere"),
                File("all", b"22", mode=0o600, uid=5),
                Dir("d", mode=0o700),
            ]
        ),
    )
    assert result.changes[1].reasons == {
        "own": ("owner",),
        "sym": ("link",),
        "typ": ("type", "mode", "link"),
        "all": ("content", "mode", "owner"),
        "d": ("mode",),
    }
    assert set(result.changes[1].kinds.values()) == {MODIFIED}


def test_new_directories_are_added_and_implied_parents_too() -> None:
    result = run(BASE, Layer([File("opt/tool/bin/run", 5)]))
    assert result.changes[1].kinds == {
        "opt": ADDED,
        "opt/tool": ADDED,
        "opt/tool/bin": ADDED,
        "opt/tool/bin/run": ADDED,
    }
    assert result.layers[1].added == 4


def test_directory_entry_after_its_children_is_added() -> None:
    result = run(BASE, Layer([File("new/a", 5), Dir("new")]))
    assert result.changes[1].kinds == {"new": ADDED, "new/a": ADDED}
    assert (result.layers[1].added, result.layers[1].unchanged) == (2, 0)


def test_file_replacing_a_directory_hides_its_subtree() -> None:
    result = run(
        Layer([Dir("d"), File("d/a", 100), Dir("d/sub"), File("d/sub/b", 7)]),
        Layer([File("d", 3)]),
    )
    assert wasted(result) == {
        ("d/a", 100, 0, 1, Removal.REPLACED),
        ("d/sub/b", 7, 0, 1, Removal.REPLACED),
    }
    kinds = result.changes[1].kinds
    assert kinds["d"] is MODIFIED
    assert result.changes[1].reasons["d"][0] == "type"
    assert {kinds[p] for p in ("d/a", "d/sub", "d/sub/b")} == {REMOVED}
    assert result.final_paths == 1


def test_directory_replacing_a_file() -> None:
    result = run(Layer([File("d", 100)]), Layer([Dir("d"), File("d/x", 3)]))
    assert wasted(result) == {("d", 100, 0, 1, Removal.REPLACED)}
    assert result.changes[1].kinds == {"d": MODIFIED, "d/x": ADDED}
    assert result.final_paths == 2


def test_write_through_a_symlinked_directory_keeps_the_link() -> None:
    result = run(Layer([Dir("real"), Symlink("lnk", "real")]), Layer([File("lnk/f", 10)]))
    assert result.changes[1].kinds == {"lnk/f": ADDED}
    assert result.exact.wasted_bytes == 0


# --- hard links -----------------------------------------------------------------------------


def test_cross_layer_hardlink_keeps_content_alive() -> None:
    result = run(
        Layer([File("a", 100)]),
        Layer([Hardlink("b", "a")]),
        Layer([Whiteout("a")]),
    )
    assert result.exact.wasted_bytes == 0
    assert result.exact.visible_bytes == 100
    assert result.changes[2].kinds == {"a": REMOVED}
    assert result.layers[2].removed_bytes == 100


def test_removing_every_name_of_a_hardlinked_file_wastes_it_once() -> None:
    result = run(
        Layer([File("a", 100), Hardlink("b", "a"), Hardlink("c", "a")]),
        Layer([Whiteout("a"), Whiteout("b")]),
        Layer([Whiteout("c")]),
    )
    assert wasted(result) == {("a", 100, 0, 2, Removal.DELETED)}
    assert result.layers[1].contribution == 0
    assert result.layers[2].contribution == -100


def test_hardlink_to_a_missing_file_is_a_warning() -> None:
    result = run(Layer([Hardlink("b", "nowhere")]))
    assert result.warnings == ("layer 0: hard link 'b' names missing 'nowhere'",)


# --- duplicates within one layer ----------------------------------------------------------------


def test_duplicate_entry_in_one_layer_is_waste_hidden_by_that_layer() -> None:
    result = run(BASE, Layer([File("app/x", 100 * KB, seed="1"), File("app/x", 40 * KB)]))
    assert wasted(result) == {("app/x", 100 * KB, 1, 1, Removal.REPLACED)}
    assert result.layers[1].stored_bytes == 140 * KB
    assert result.layers[1].wasted_bytes == 100 * KB
    assert result.changes[1].kinds["app/x"] is ADDED


def test_hardlink_to_a_file_that_is_later_duplicated() -> None:
    result = run(Layer([File("a", 100, seed="old"), Hardlink("b", "a"), File("a", 50)]))
    assert result.warnings == ()
    assert result.exact.wasted_bytes == 0
    assert result.exact.visible_bytes == 150
