"""dive 0.13.1's numbers, reproduced rule for rule, including where dive is wrong.

The scenario table is dive-reference §2.6 (base layer = one 10 kB file; kB = 1000 B). The
images the suite builds (diveimages.py, sampleimage.py) are compared with what the real
dive reports for the same archive, in the same run.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from pathlib import Path

import diveimages
import pytest
import sampleimage
from diverun import DiveRuns
from imagebuilder import Dir, File, Hardlink, Layer, Opaque, Symlink, Whiteout

from inspector.dive import DiveNumbers, dive_numbers
from inspector.indexer import LayerIndex, index_blob
from inspector.source import LoadEvents
from inspector.sources.archive import ArchiveSource

KB = 1000
BASE = Layer([File("base.txt", 10 * KB)])


def indexes(*layers: Layer) -> list[LayerIndex]:
    return [
        index_blob(io.BytesIO(layer.tar()).read, f"layer {i}") for i, layer in enumerate(layers)
    ]


def dive(*layers: Layer) -> DiveNumbers:
    return dive_numbers(indexes(*layers))


def paths(numbers: DiveNumbers) -> list[tuple[int, int, str]]:
    return [(i.count, i.cumulative_size, i.path) for i in numbers.inefficiencies]


# (name, layers above the base, inefficient paths, wasted, efficiency)
TABLE: list[tuple[str, list[Layer], list[tuple[int, int, str]], int, float]] = [
    (
        "add-then-rm",
        [Layer([Dir("app"), File("app/big", 100 * KB)]), Layer([Dir("app"), Whiteout("app/big")])],
        [(2, 100 * KB, "/app/big")],
        100 * KB,
        10 / 110,
    ),
    (
        "rm-rf-dir",
        [
            Layer([Dir("data"), File("data/a", 100 * KB), File("data/b", 100 * KB)]),
            Layer([Whiteout("data")]),
        ],
        [],
        0,
        1.0,
    ),
    (
        "rm-rf-dir-without-dir-entries",
        [
            Layer([File("data/a", 100 * KB), File("data/b", 100 * KB)]),
            Layer([Whiteout("data")]),
        ],
        [],
        0,
        1.0,
    ),
    (
        "opaque-dir",
        [
            Layer([Dir("data"), File("data/a", 100 * KB), File("data/b", 100 * KB)]),
            Layer([Dir("data"), Opaque("data"), File("data/c", 1 * KB)]),
        ],
        [],
        0,
        1.0,
    ),
    (
        "overwrite-identical",
        [Layer([Dir("app"), File("app/same", 100 * KB)])] * 2,
        [(2, 200 * KB, "/app/same")],
        200 * KB,
        110 / 210,
    ),
    (
        "overwrite-different",
        [
            Layer([Dir("app"), File("app/diff", 100 * KB)]),
            Layer([Dir("app"), File("app/diff", 50 * KB)]),
        ],
        [(2, 150 * KB, "/app/diff")],
        150 * KB,
        60 / 160,
    ),
    (
        "chmod-only",
        [
            Layer([Dir("app"), File("app/mode", 100 * KB)]),
            Layer([Dir("app"), File("app/mode", 100 * KB, mode=0o755)]),
        ],
        [(2, 200 * KB, "/app/mode")],
        200 * KB,
        110 / 210,
    ),
    (
        "delete-file-still-hard-linked",
        [
            Layer([Dir("app"), File("app/big", 100 * KB), Hardlink("app/link", "app/big")]),
            Layer([Whiteout("app/big")]),
        ],
        [(2, 100 * KB, "/app/big")],
        100 * KB,
        10 / 110,
    ),
    (
        "add-delete-readd",
        [
            Layer([Dir("app"), File("app/f", 100 * KB)]),
            Layer([Whiteout("app/f")]),
            Layer([Dir("app"), File("app/f", 100 * KB)]),
        ],
        [(3, 200 * KB, "/app/f")],
        200 * KB,
        10 / 210,
    ),
    (
        "bogus-whiteout-aborts-the-layer",
        [
            Layer([Dir("app"), File("app/x", 100 * KB)]),
            Layer([Whiteout("nothere"), Dir("app"), File("app/x", 100 * KB, seed="v2")]),
        ],
        [],
        0,
        (110 * KB - 1) / (110 * KB),  # the aborted key keeps a minimum of -1
    ),
]


@pytest.mark.parametrize(
    ("layers", "inefficient", "wasted", "efficiency"),
    [pytest.param(*row[1:], id=row[0]) for row in TABLE],
)
def test_scenario_table_dive_numbers(
    layers: list[Layer],
    inefficient: list[tuple[int, int, str]],
    wasted: int,
    efficiency: float,
) -> None:
    numbers = dive(BASE, *layers)
    assert paths(numbers) == inefficient
    assert numbers.wasted_bytes == wasted
    assert numbers.efficiency == pytest.approx(efficiency, rel=1e-12)
    user = sum(numbers.layer_sizes[1:])
    assert numbers.user_size_bytes == user
    assert numbers.user_wasted_percent == pytest.approx(wasted / user)
    assert numbers.size_bytes == 10 * KB + user


def test_bogus_whiteout_efficiency_is_just_below_one() -> None:
    numbers = dive(BASE, *TABLE[-1][1])
    assert 0.99999 < numbers.efficiency < 1.0
    assert numbers.wasted_bytes == 0


def test_whiteout_sorted_after_the_overwrite_is_not_an_abort() -> None:
    # the visit is in name order (a marker sorts by its `.wh.` name, before `app`): a bogus
    # whiteout inside a directory named after `app` comes too late to hide the overwrite
    numbers = dive(
        BASE,
        Layer([Dir("app"), File("app/x", 100 * KB)]),
        Layer([Dir("app"), File("app/x", 100 * KB, seed="v2"), Whiteout("zzz/gone")]),
    )
    assert paths(numbers) == [(2, 200 * KB, "/app/x")]


def test_base_file_chmod_in_layer_one() -> None:
    numbers = dive(
        Layer([File("base.bin", 100 * KB)]), Layer([File("base.bin", 100 * KB, mode=0o755)])
    )
    assert paths(numbers) == [(2, 200 * KB, "/base.bin")]
    assert numbers.wasted_bytes == 200 * KB
    assert numbers.user_size_bytes == 100 * KB
    assert numbers.user_wasted_percent == 2.0
    assert numbers.efficiency == 0.5


def test_rm_rf_dir_with_dir_entry_counts_the_subtree_once() -> None:
    # the whiteout of a directory that had a real tar entry contributes its whole size,
    # but it is the only occurrence of that key, so nothing is reported
    numbers = dive(BASE, *TABLE[1][1])
    assert numbers.inefficiencies == ()
    assert numbers.efficiency == 1.0
    assert numbers.user_wasted_percent == 0.0
    assert numbers.user_size_bytes == 200 * KB


def test_dive_efficiency_test_trees() -> None:
    """dive's own efficiency test: nginx.conf 2000 → 5000, public 3000, athing 10000,
    then /etc/nginx whited out (its directories are implied, so the whiteout counts 0)."""
    numbers = dive(
        Layer([File("etc/nginx/nginx.conf", 2000), File("etc/nginx/public", 3000)]),
        Layer([File("etc/nginx/nginx.conf", 5000), File("etc/athing", 10000)]),
        Layer([Whiteout("etc/nginx")]),
    )
    assert numbers.efficiency == 0.75
    assert paths(numbers) == [(2, 7000, "/etc/nginx/nginx.conf")]


def test_scratch_image() -> None:
    numbers = dive_numbers([])
    assert (numbers.efficiency, numbers.wasted_bytes, numbers.inefficiencies) == (1.0, 0, ())


def test_one_layer_user_wasted_percent_is_nan() -> None:
    numbers = dive(BASE)
    assert numbers.efficiency == 1.0
    assert math.isnan(numbers.user_wasted_percent)


def test_zero_byte_paths_touched_twice_are_listed() -> None:
    numbers = dive(
        BASE,
        Layer([Dir("root"), Symlink("etc/alias", "x"), File("etc/empty", b"")]),
        Layer([Dir("root"), Symlink("etc/alias", "y"), File("etc/empty", b"")]),
    )
    assert sorted(paths(numbers)) == [(2, 0, "/etc/alias"), (2, 0, "/etc/empty"), (2, 0, "/root")]
    assert numbers.wasted_bytes == 0
    assert numbers.efficiency == 1.0


def test_non_empty_directories_are_not_visited() -> None:
    numbers = dive(
        BASE,
        Layer([Dir("srv"), File("srv/a", 5)]),
        Layer([Dir("srv"), File("srv/b", 5)]),
    )
    assert numbers.inefficiencies == ()


def test_inefficiencies_sorted_by_cumulative_size() -> None:
    numbers = dive(
        Layer([File("a", 10), File("b", 300), File("c", 20)]),
        Layer([File("a", 11), File("b", 301), File("c", 21)]),
    )
    assert paths(numbers) == [(2, 601, "/b"), (2, 41, "/c"), (2, 21, "/a")]


def test_layer_sizes_count_every_header_size() -> None:
    numbers = dive(
        Layer([File("a", 100), File("a", 40), Hardlink("h", "a"), Whiteout("gone")]),
        Layer([Dir("d"), File("d/x", 7), Symlink("s", "d/x")]),
    )
    assert numbers.layer_sizes == (140, 7)
    assert numbers.size_bytes == 147


# --- images the suite builds, against the real dive --------------------------------------------

IMAGES = [
    *(pytest.param(f"dive-like:{name}", marks=pytest.mark.docker, id=name)
      for name in diveimages.ARCHIVES),
    *(pytest.param(f"sample:{shape}", id=f"sample-{shape}") for shape in sampleimage.SHAPES),
]  # fmt: skip


@pytest.fixture
def image_archive(request: pytest.FixtureRequest) -> Path:
    """The archive a `dive-like:NAME` or `sample:SHAPE` parameter names."""
    kind, _, name = str(request.param).partition(":")
    if kind == "dive-like":
        dive_like: Callable[[str], Path] = request.getfixturevalue("dive_like")
        return dive_like(name)
    sample_archives: dict[str, Path] = request.getfixturevalue("sample_archives")
    return sample_archives[name]


def _load(path: Path) -> list[LayerIndex]:
    return list(ArchiveSource(str(path), path.name).load(LoadEvents()).layers)


@pytest.mark.dive
@pytest.mark.parametrize("image_archive", IMAGES, indirect=True)
def test_dive_numbers_are_what_dive_reports(image_archive: Path, dive_runs: DiveRuns) -> None:
    layers = _load(image_archive)
    numbers = dive_numbers(layers)
    doc = dive_runs.document(image_archive)
    image = doc["image"]
    assert len(layers) == len(doc["layer"])
    assert numbers.layer_sizes == tuple(layer["sizeBytes"] for layer in doc["layer"])
    assert numbers.size_bytes == image["sizeBytes"]
    assert numbers.wasted_bytes == image["inefficientBytes"]
    assert numbers.efficiency == image["efficiencyScore"]
    theirs = [(r["count"], r["sizeBytes"], r["file"]) for r in image["fileReference"]]
    assert sorted(paths(numbers)) == sorted(theirs)
    assert [size for _, size, _ in paths(numbers)] == [size for _, size, _ in theirs]


@pytest.mark.dive
@pytest.mark.parametrize("image_archive", IMAGES, indirect=True)
def test_user_wasted_percent_is_what_dive_reports(image_archive: Path, dive_runs: DiveRuns) -> None:
    """dive prints the exact value when its rule fails (threshold 0), else rounds it."""
    numbers = dive_numbers(_load(image_archive))
    strictest = dive_runs.strictest(image_archive)
    revealed = strictest.revealed("highestUserWastedPercent")
    if len(numbers.layer_sizes) == 1:
        assert math.isnan(numbers.user_wasted_percent)
        assert strictest.field("userWastedPercent") == "NaN %"
        assert revealed is None
        return
    assert revealed is not None, "every multi-layer image here wastes bytes in dive's eyes"
    assert numbers.user_wasted_percent == revealed
    assert numbers.user_size_bytes == round(numbers.wasted_bytes / revealed)
    assert strictest.revealed("lowestEfficiency") == numbers.efficiency
    assert strictest.revealed("highestWastedBytes") == numbers.wasted_bytes
