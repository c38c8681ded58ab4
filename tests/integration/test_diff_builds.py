"""The diff on app v1 and v2 built by the real Docker engine in the bad order (`COPY . .`
before the dependency install) and in the good one (the manifest first): where the build
cache broke, the layers rebuilt for nothing, the one modified path, and a pull that is
small in the good order and large in the bad one."""

from __future__ import annotations

import appbuilds
import pytest
import services

from inspector import pipeline
from inspector.diff import Cause, FileChange, ImageDiff, LayerStatus, diff
from inspector.inspection import Inspection

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def builds(image_factory: services.ImageFactory) -> appbuilds.AppBuilds:
    return appbuilds.build(image_factory)


def inspect(image: services.BuiltImage) -> Inspection:
    return pipeline.inspect(str(image.archive))


def only_change(result: ImageDiff) -> tuple[str, FileChange, tuple[str, ...], int | None]:
    (change,) = [*result.files.added, *result.files.removed, *result.files.modified]
    return change.path, change.change, change.fields, change.layer


def test_bad_order(builds: appbuilds.AppBuilds) -> None:
    old, new = inspect(builds.bad_v1), inspect(builds.bad_v2)
    result = diff(old, new)
    assert result.shared_layers == 1  # the base only
    assert result.divergence is not None
    assert result.divergence.index == 1
    assert result.divergence.cause is Cause.INPUTS  # the same COPY over a changed context
    assert result.divergence.new.instruction == "COPY <dir> /app"
    assert [p.status for p in result.layers] == [
        LayerStatus.SHARED,
        LayerStatus.CHANGED,
        LayerStatus.REBUILT_IDENTICAL,  # the install: same bytes, new mtime
        LayerStatus.REBUILT_IDENTICAL,  # mkdir: same directories, new mtimes
    ]
    assert only_change(result) == (appbuilds.CHANGED_PATH, FileChange.MODIFIED, ("content",), 1)
    stored = [layer.stored_bytes for layer in (p.new for p in result.layers) if layer]
    assert result.cost.layers == (1, 2, 3)
    assert result.cost.pull_bytes == sum(stored[1:]) > appbuilds.INSTALL_BYTES
    assert result.rebuilt_identical_bytes == stored[2] + stored[3]
    # had the manifest been copied first, the install would have been a cache hit
    (reordered,) = result.reordered
    assert reordered.saved_layers == (2,)
    assert reordered.cost.pull_bytes == stored[1] + stored[3] < appbuilds.INSTALL_BYTES


def test_good_order(builds: appbuilds.AppBuilds) -> None:
    result = diff(inspect(builds.good_v1), inspect(builds.good_v2))
    assert result.shared_layers == 4  # base, manifest, install, mkdir: all reused
    assert result.divergence is not None
    assert (result.divergence.index, result.divergence.cause) == (4, Cause.INPUTS)
    assert [p.status for p in result.layers] == [LayerStatus.SHARED] * 4 + [LayerStatus.CHANGED]
    assert result.rebuilt_identical == ()
    assert only_change(result) == (appbuilds.CHANGED_PATH, FileChange.MODIFIED, ("content",), 4)
    assert result.cost.layers == (4,)
    assert result.cost.pull_bytes < 20_000  # the sources only
    assert result.reordered == ()
    assert result.findings.new == result.findings.gone == ()


def test_the_good_order_pulls_a_fraction_of_the_bad(builds: appbuilds.AppBuilds) -> None:
    bad = diff(inspect(builds.bad_v1), inspect(builds.bad_v2))
    good = diff(inspect(builds.good_v1), inspect(builds.good_v2))
    assert good.cost.pull_bytes * 10 < bad.cost.pull_bytes
    # the same source edit, the same file change
    assert only_change(good)[:3] == only_change(bad)[:3]


def test_fixing_the_order_makes_the_finding_go(builds: appbuilds.AppBuilds) -> None:
    result = diff(inspect(builds.bad_v2), inspect(builds.good_v2))
    assert [f.id for f in result.findings.gone] == ["cache-busting-order"]
    assert result.findings.new == ()
    # the same files in another layer order; `COPY . /app` also copies the Dockerfile
    assert only_change(result)[:3] == ("app/Dockerfile", FileChange.MODIFIED, ("content",))
