"""The diff of two images on images made byte by byte (imagebuilder), read through the
real pipeline: layer alignment, the first divergent layer and its cause, file changes,
sizes, the pull cost and its reordered twin, and findings new and gone."""

from __future__ import annotations

from pathlib import Path

import imagebuilder as ib
import pytest
from imagebuilder import Dir, File, Layer, Opaque, Symlink, Whiteout

from inspector import pipeline
from inspector.changes import EntryType
from inspector.diff import Cause, FileChange, ImageDiff, LayerStatus, diff
from inspector.inspection import Inspection

SHARED, REBUILT, CHANGED, ADDED, REMOVED = (
    LayerStatus.SHARED,
    LayerStatus.REBUILT_IDENTICAL,
    LayerStatus.CHANGED,
    LayerStatus.ADDED,
    LayerStatus.REMOVED,
)
BASE = Layer(
    [Dir("bin"), File("bin/sh", 20_000, mode=0o755), Dir("etc"), File("etc/os-release", 300)],
    created_by="/bin/sh -c #(nop) ADD file:0123 in / ",
)
REQUIREMENTS = File("app/requirements.txt", b"requests==2.32.3\n")
INSTALL = "RUN /bin/sh -c pip install -r /app/requirements.txt # buildkit"


def app_files(version: int) -> list[File]:
    source = b"import requests\n" * 50 + f"VERSION = {version}\n".encode()
    return [REQUIREMENTS, File("app/app.py", source), File("app/lib/util.py", 2_000)]


def deps(mtime: float) -> Layer:
    """The install's output: the same bytes whenever it runs, a new mtime each time."""
    return Layer(
        [Dir("usr/lib/python"), File("usr/lib/python/requests.py", 40_000, mtime=mtime)],
        created_by=INSTALL,
    )


def bad_order(version: int) -> list[Layer]:
    """COPY . before the install: every source edit rebuilds the install."""
    copy = Layer([Dir("app"), *app_files(version)], created_by="COPY . /app # buildkit")
    return [BASE, copy, deps(ib.MTIME + version), Layer([File("etc/motd", 10)], created_by="RUN x")]


def good_order(version: int) -> list[Layer]:
    """The manifest first, installed, then the sources."""
    manifest = Layer([Dir("app"), REQUIREMENTS], created_by="COPY requirements.txt /app/")
    copy = Layer([*app_files(version)], created_by="COPY . /app # buildkit")
    return [BASE, manifest, deps(ib.MTIME), copy]


def inspect(tmp_path: Path, name: str, layers: list[Layer], shape: str = "legacy") -> Inspection:
    image = ib.build_image(*layers, tags=(f"example/{name}:1",))
    tmp_path.mkdir(parents=True, exist_ok=True)
    if shape == "legacy":
        path = tmp_path / f"{name}.tar"
        path.write_bytes(ib.docker_save_legacy(image))
        return pipeline.inspect(str(path))
    layout = ib.write_tree(tmp_path / name, ib.oci_layout(image, ref_names="none"))
    return pipeline.inspect(f"oci:{layout}")


def run(tmp_path: Path, old: list[Layer], new: list[Layer], shape: str = "legacy") -> ImageDiff:
    return diff(inspect(tmp_path, "old", old, shape), inspect(tmp_path, "new", new, shape))


def statuses(result: ImageDiff) -> list[LayerStatus]:
    return [pair.status for pair in result.layers]


def changed(result: ImageDiff) -> dict[str, tuple[FileChange, int, int | None, tuple[str, ...]]]:
    groups = (result.files.added, result.files.removed, result.files.modified)
    return {c.path: (c.change, c.bytes, c.layer, c.fields) for g in groups for c in g}


def test_the_same_image_has_no_differences(tmp_path: Path) -> None:
    result = run(tmp_path, bad_order(1), bad_order(1))
    assert result.shared_layers == 4
    assert result.divergence is None
    assert statuses(result) == [SHARED] * 4
    assert result.files.count == 0
    assert (result.cost.pull_bytes, result.sizes.growth_bytes) == (0, 0)
    assert result.findings.new == result.findings.gone == ()


def test_bad_order_one_source_line_rebuilds_the_install(tmp_path: Path) -> None:
    old, new = inspect(tmp_path, "old", bad_order(1)), inspect(tmp_path, "new", bad_order(2))
    result = diff(old, new)
    assert result.shared_layers == 1
    assert result.divergence is not None
    assert result.divergence.index == 1
    assert result.divergence.cause is Cause.INPUTS
    assert result.divergence.old.instruction == result.divergence.new.instruction == "COPY . /app"
    # the install ran again and made the same files (a new mtime only); so did `RUN x`
    assert statuses(result) == [SHARED, CHANGED, REBUILT, REBUILT]
    assert changed(result) == {"app/app.py": (FileChange.MODIFIED, 0, 1, ("content",))}
    sizes = [layer.size or 0 for layer in new.image.layers]
    assert sizes[2] > 40_000
    # every layer from the COPY up is downloaded again, but `RUN x` made the same blob
    assert new.image.layers[3].diff_id == old.image.layers[3].diff_id
    assert result.cost.layers == (1, 2)
    assert result.cost.pull_bytes == result.cost.push_bytes == sizes[1] + sizes[2]
    assert result.rebuilt_identical_bytes == sizes[2]
    assert [p.pulled for p in result.layers] == [False, True, True, False]


def test_good_order_rebuilds_only_the_sources(tmp_path: Path) -> None:
    new = inspect(tmp_path, "new", good_order(2))
    result = diff(inspect(tmp_path, "old", good_order(1)), new)
    assert result.shared_layers == 3
    assert result.divergence is not None
    assert (result.divergence.index, result.divergence.cause) == (3, Cause.INPUTS)
    assert statuses(result) == [SHARED, SHARED, SHARED, CHANGED]
    assert changed(result) == {"app/app.py": (FileChange.MODIFIED, 0, 3, ("content",))}
    assert result.cost.layers == (3,)
    assert result.cost.pull_bytes == new.image.layers[3].size
    assert result.rebuilt_identical_bytes == 0
    assert result.reordered == ()  # no cache-busting-order finding in NEW


def test_the_reordered_cost_takes_the_install_out(tmp_path: Path) -> None:
    new = inspect(tmp_path, "new", bad_order(2))
    result = diff(inspect(tmp_path, "old", bad_order(1)), new)
    (reordered,) = result.reordered
    assert reordered.finding.id == "cache-busting-order"
    assert reordered.saved_layers == (2,)
    assert reordered.cost.layers == (1,)
    assert reordered.cost.pull_bytes == new.image.layers[1].size
    assert reordered.cost.pull_bytes < result.cost.pull_bytes
    assert "would come from the build cache" in reordered.reason


def test_a_changed_manifest_saves_nothing_in_either_order(tmp_path: Path) -> None:
    def with_new_requirements(version: int) -> list[Layer]:
        layers = bad_order(version)
        files = [File("app/requirements.txt", b"requests==2.33.0\n"), *app_files(version)[1:]]
        return [layers[0], Layer([Dir("app"), *files], created_by="COPY . /app"), *layers[2:]]

    result = run(tmp_path, bad_order(1), with_new_requirements(1))
    (reordered,) = result.reordered
    assert reordered.saved_layers == ()
    assert reordered.cost == result.cost
    assert "manifests changed" in reordered.reason


def test_an_edited_instruction_is_the_cause(tmp_path: Path) -> None:
    new = bad_order(2)
    new[1] = Layer(new[1].ops, created_by="COPY . /srv/app")
    result = run(tmp_path, bad_order(1), new)
    assert result.divergence is not None
    assert result.divergence.cause is Cause.INSTRUCTION
    assert result.divergence.new.instruction == "COPY . /srv/app"
    assert statuses(result) == [SHARED, CHANGED, REBUILT, REBUILT]


def test_another_history_over_the_same_layer_is_shared(tmp_path: Path) -> None:
    """The layer is its content: a new history text over the same tar is the same layer."""
    new = bad_order(1)
    new[1] = Layer(new[1].ops, created_by="COPY . /srv/app")
    result = run(tmp_path, bad_order(1), new)
    assert result.divergence is None
    assert statuses(result) == [SHARED] * 4


def test_a_rebuild_without_changes_is_named(tmp_path: Path) -> None:
    """`--no-cache`: the same instructions, the same files, new mtimes everywhere."""
    old = [BASE, deps(ib.MTIME)]
    result = run(tmp_path, old, [BASE, deps(ib.MTIME + 60)])
    assert result.divergence is not None
    assert result.divergence.cause is Cause.REBUILD
    assert statuses(result) == [SHARED, REBUILT]
    assert result.files.count == 0


def test_a_prefix_has_no_divergent_layer(tmp_path: Path) -> None:
    longer = [*bad_order(1), Layer([File("extra", 500)], created_by="COPY extra /")]
    grown = run(tmp_path, bad_order(1), longer)
    assert grown.divergence is None
    assert statuses(grown) == [SHARED] * 4 + [ADDED]
    assert changed(grown) == {"extra": (FileChange.ADDED, 500, 4, ())}
    assert grown.cost.layers == (4,)
    shrunk = run(tmp_path, longer, bad_order(1))
    assert shrunk.divergence is None
    assert statuses(shrunk) == [SHARED] * 4 + [REMOVED]
    assert changed(shrunk) == {"extra": (FileChange.REMOVED, -500, None, ())}
    assert shrunk.cost.pull_bytes == 0


def test_an_inserted_layer_does_not_misalign_the_rest(tmp_path: Path) -> None:
    old = bad_order(1)
    new = [*old[:2], Layer([File("etc/extra", 10)], created_by="RUN touch /etc/extra"), *old[2:]]
    new[3] = deps(ib.MTIME + 5)
    result = run(tmp_path, old, new)
    pairs = [(p.status, p.old and p.old.index, p.new and p.new.index) for p in result.layers]
    assert pairs == [(SHARED, 0, 0), (SHARED, 1, 1), (ADDED, None, 2), (REBUILT, 2, 3),
                     (REBUILT, 3, 4)]  # fmt: skip
    assert result.divergence is not None
    assert result.divergence.cause is Cause.INSTRUCTION


def test_file_changes_say_which_field(tmp_path: Path) -> None:
    old = [
        BASE,
        Layer(
            [
                Dir("srv"),
                File("srv/data", 1_000),
                File("srv/script", 100, mode=0o644),
                File("srv/owned", 100),
                Symlink("srv/current", "data"),
                File("srv/same", 700),
                File("srv/gone", 5_000),
                Dir("opt/tool"),
                File("opt/tool/bin", 3_000),
            ],
            created_by="COPY srv /srv",
        ),
    ]
    new = [
        BASE,
        Layer(
            [
                Dir("srv"),
                File("srv/data", 1_500, seed="other"),
                File("srv/script", 100, mode=0o755),
                File("srv/owned", 100, uid=1000, gid=1000),
                Symlink("srv/current", "script"),
                File("srv/same", 700, mtime=ib.MTIME + 3600),  # rewritten, same bytes
                File("srv/gone", 5_000),
                Dir("opt/tool"),
                File("opt/tool/bin", 3_000),
                File("new.txt", 42),
            ],
            created_by="COPY srv /srv",
        ),
        Layer([Whiteout("srv/gone"), Whiteout("opt/tool")], created_by="RUN rm -rf /srv/gone"),
    ]
    result = run(tmp_path, old, new)
    assert changed(result) == {
        "srv/data": (FileChange.MODIFIED, 500, 1, ("content",)),
        "srv/script": (FileChange.MODIFIED, 0, 1, ("mode",)),
        "srv/owned": (FileChange.MODIFIED, 0, 1, ("owner",)),
        "srv/current": (FileChange.MODIFIED, 0, 1, ("link",)),
        "srv/gone": (FileChange.REMOVED, -5_000, 2, ()),
        "opt/tool": (FileChange.REMOVED, 0, 2, ()),
        "opt/tool/bin": (FileChange.REMOVED, -3_000, 2, ()),
        "new.txt": (FileChange.ADDED, 42, 1, ()),
    }
    kinds = {c.path: c.type for c in result.files.removed}
    assert kinds["opt/tool"] is EntryType.DIR
    rows = {
        d.directory: (d.bytes, d.added, d.removed, d.modified) for d in result.files.by_directory
    }
    assert rows == {"/srv": (-4_500, 0, 1, 4), "/opt": (-3_000, 0, 2, 0), "/": (42, 1, 0, 0)}
    assert [d.directory for d in result.files.by_directory] == ["/srv", "/opt", "/"]
    assert result.files.bytes == -7_458


def test_sizes_before_and_after(tmp_path: Path) -> None:
    old = [BASE, Layer([File("big", 10_000)], created_by="RUN a")]
    new = [BASE, Layer([File("big", 10_000)], created_by="RUN a"),
           Layer([Whiteout("big"), File("small", 1_000)], created_by="RUN b")]  # fmt: skip
    old_i, new_i = inspect(tmp_path, "old", old), inspect(tmp_path, "new", new)
    result = diff(old_i, new_i)
    tars = [index.uncompressed_size for index in new_i.layers]
    sizes = result.sizes
    assert sizes.uncompressed.old == sum(tars[:2])
    assert sizes.uncompressed.new == sum(tars)
    assert result.sizes.growth_bytes == tars[2]
    assert sizes.growth_percent == pytest.approx(tars[2] * 100 / sum(tars[:2]))
    assert (sizes.unique.old, sizes.unique.new) == (0, tars[2])
    assert (sizes.wasted.old, sizes.wasted.new) == (0, 10_000)
    assert sizes.visible.change == -9_000
    assert sizes.efficiency.old == 1.0
    assert sizes.efficiency.new == new_i.analysis.exact.efficiency < 1.0


def test_findings_new_and_gone(tmp_path: Path) -> None:
    good, bad = good_order(1), bad_order(1)
    fixed = diff(inspect(tmp_path, "bad", bad), inspect(tmp_path, "good", good))
    assert [f.id for f in fixed.findings.gone] == ["cache-busting-order"]
    assert fixed.findings.new == ()
    broken = diff(inspect(tmp_path, "good2", good), inspect(tmp_path, "bad2", bad))
    assert [f.id for f in broken.findings.new] == ["cache-busting-order"]
    assert broken.findings.gone == ()
    assert (
        diff(inspect(tmp_path, "b1", bad), inspect(tmp_path, "b2", bad_order(2))).findings.new == ()
    )


def test_the_same_diff_from_another_source(tmp_path: Path) -> None:
    """A legacy `docker save` (plain layers) and a gzip OCI layout of the same images give
    the same layers, files and sizes; only the stored sizes follow the source."""
    archive = run(tmp_path / "a", bad_order(1), bad_order(2), "legacy")
    layout = run(tmp_path / "b", bad_order(1), bad_order(2), "oci")
    assert statuses(archive) == statuses(layout)
    assert archive.divergence is not None
    assert layout.divergence is not None
    assert archive.divergence.index == layout.divergence.index
    assert archive.files == layout.files
    assert archive.cost.layers == layout.cost.layers
    assert archive.sizes.uncompressed == layout.sizes.uncompressed
    assert layout.sizes.stored.new < archive.sizes.stored.new  # gzip


def test_an_opaque_directory_and_a_replaced_parent(tmp_path: Path) -> None:
    cache = Layer([Dir("var/cache"), File("var/cache/a", 300), File("var/cache/b", 200)])
    old = [BASE, cache]
    new = [
        BASE,
        cache,
        Layer([Opaque("var/cache"), File("var/cache/b", 200)], created_by="RUN clean"),
        Layer([File("etc", 5)], created_by="RUN replace /etc with a file"),
    ]
    assert changed(run(tmp_path, old, new)) == {
        "var/cache/a": (FileChange.REMOVED, -300, 2, ()),
        "etc": (FileChange.MODIFIED, 5, 3, ("type", "mode")),
        "etc/os-release": (FileChange.REMOVED, -300, 3, ()),
    }
