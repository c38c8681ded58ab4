"""The dive-compatible numbers and CI verdicts, checked against the real dive 0.13.1.

Every archive goes through `dive --source docker-archive X -j out.json` and through the
inspector, and the values under dive's keys must be dive's, float for float: the
Docker-built scenarios (services.SCENARIOS), the images the suite builds in the spirit of
dive's own test images (diveimages.py: a `docker save`, its kaniko shape, one-file OCI
archives with gzip, zstd, zstd:chunked and uncompressed layers) and the byte-exact sample
image (sampleimage.py). CI verdicts are compared by exit code for several threshold sets,
with CI=true in the environment for both tools, as a CI job runs them.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import diveimages
import diverun
import pytest
import sampleimage
import services

from inspector import cli

pytestmark = pytest.mark.dive


def _archive_params() -> list[Any]:
    params: list[Any] = []
    for name in sorted(services.SCENARIOS):
        params.append(pytest.param(f"docker:{name}", marks=pytest.mark.docker, id=f"docker-{name}"))
    for name in diveimages.ARCHIVES:
        params.append(pytest.param(f"dive-like:{name}", marks=pytest.mark.docker, id=name))
    for shape in sampleimage.SHAPES:
        params.append(pytest.param(f"sample:{shape}", id=f"sample-{shape}"))
    return params


ARCHIVES = _archive_params()


@pytest.fixture
def archive(request: pytest.FixtureRequest) -> Path:
    """The archive a `docker:SCENARIO`, `dive-like:NAME` or `sample:SHAPE` parameter names."""
    kind, _, name = str(request.param).partition(":")
    if kind == "docker":
        scenario_image: Callable[[str], services.BuiltImage] = request.getfixturevalue(
            "scenario_image"
        )
        return scenario_image(name).archive
    if kind == "dive-like":
        dive_like: Callable[[str], Path] = request.getfixturevalue("dive_like")
        return dive_like(name)
    sample_archives: dict[str, Path] = request.getfixturevalue("sample_archives")
    return sample_archives[name]


class DiveDocs:
    """dive's and the inspector's `--json` documents for an archive, each made once."""

    def __init__(self, directory: Path, runs: diverun.DiveRuns) -> None:
        self.directory = directory
        self.runs = runs
        self._ours: dict[Path, dict[str, Any]] = {}

    def dive(self, archive: Path) -> dict[str, Any]:
        return self.runs.document(archive)

    def cache_for(self, archive: Path) -> Path:
        """A layer cache of the archive's own: the first run fills it, later runs (the CI
        verdicts) read from it, and no other archive's copy of a layer is in it."""
        digest = hashlib.sha256(str(archive).encode()).hexdigest()[:16]
        return self.directory / "caches" / digest

    def ours(self, archive: Path) -> dict[str, Any]:
        if archive not in self._ours:
            self._ours[archive] = services.inspector_json(
                "--source",
                "docker-archive",
                archive,
                env={"INSPECTOR_CACHE_DIR": str(self.cache_for(archive))},
            )
        return self._ours[archive]


@pytest.fixture(scope="session")
def dive_docs(dive_runs: diverun.DiveRuns, tmp_path_factory: pytest.TempPathFactory) -> DiveDocs:
    return DiveDocs(tmp_path_factory.mktemp("dive"), dive_runs)


def is_oci_shaped(doc: dict[str, Any]) -> bool:
    """dive names every layer of an OCI-shaped archive `blobs`."""
    return all(layer["id"] == "blobs" for layer in doc["layer"])


@pytest.mark.parametrize("archive", ARCHIVES, indirect=True)
def test_image_numbers_equal_dives(archive: Path, dive_docs: DiveDocs) -> None:
    theirs, ours = dive_docs.dive(archive)["image"], dive_docs.ours(archive)["image"]
    assert ours["sizeBytes"] == theirs["sizeBytes"]
    assert ours["inefficientBytes"] == theirs["inefficientBytes"]
    assert float(ours["efficiencyScore"]) == float(theirs["efficiencyScore"])

    def references(image: dict[str, Any]) -> Counter[tuple[int, int, str]]:
        return Counter((r["count"], r["sizeBytes"], r["file"]) for r in image["fileReference"])

    assert references(ours) == references(theirs)


@pytest.mark.parametrize("archive", ARCHIVES, indirect=True)
def test_layers_equal_dives(archive: Path, dive_docs: DiveDocs) -> None:
    theirs, ours = dive_docs.dive(archive)["layer"], dive_docs.ours(archive)["layer"]
    keys = ["index", "digestId", "sizeBytes", "command"]
    if not is_oci_shaped(dive_docs.dive(archive)):
        keys.append("id")  # the one documented difference: ours is the digest, not "blobs"
    assert [{k: layer[k] for k in keys} for layer in ours] == [
        {k: layer[k] for k in keys} for layer in theirs
    ]


@pytest.mark.parametrize("archive", ARCHIVES, indirect=True)
def test_file_lists_equal_dives(archive: Path, dive_docs: DiveDocs) -> None:
    theirs, ours = dive_docs.dive(archive)["layer"], dive_docs.ours(archive)["layer"]
    assert len(ours) == len(theirs)
    for mine, reference in zip(ours, theirs, strict=True):
        assert mine["fileList"] == reference["fileList"], f"layer {reference['index']}"


# --------------------------------------------------------------------------- CI verdicts

Thresholds = tuple[str, str, str] | None  # lowestEfficiency, highestWastedBytes, ...Percent

CI_ARCHIVES = [
    pytest.param("dive-like:dive-like", marks=pytest.mark.docker, id="dive-like"),
    pytest.param("dive-like:one-file-oci-gzip", marks=pytest.mark.docker, id="one-file-oci-gzip"),
    pytest.param("sample:docker", id="sample-docker"),
    pytest.param("docker:deletions", marks=pytest.mark.docker, id="docker-deletions"),
    pytest.param("docker:rewrites", marks=pytest.mark.docker, id="docker-rewrites"),
    pytest.param("docker:single", marks=pytest.mark.docker, id="docker-single"),
]
FIXED_THRESHOLDS: dict[str, Thresholds] = {
    "defaults": None,
    "all-strict": ("0.99", "1B", "0.01"),
    "all-loose": ("0.5", "20Mb", "0.9"),
    "all-disabled": ("disabled", "disabled", "disabled"),
    "bytes-only": ("disabled", "100kB", "disabled"),
}


def at_the_boundary(doc: dict[str, Any], *, just_over: bool) -> Thresholds:
    """Thresholds equal to the image's own values (dive's comparisons are strict, so every
    rule passes), or just past them (every rule that can fail, fails)."""
    image = doc["image"]
    efficiency = float(image["efficiencyScore"])
    wasted = int(image["inefficientBytes"])
    user = image.get("userWastedPercent")
    if just_over:
        efficiency = math.nextafter(efficiency, math.inf) if efficiency < 1 else efficiency
        wasted = max(wasted - 1, 0)
    user_threshold = "disabled"
    if isinstance(user, float) and 0 < user <= 1:
        user_threshold = repr(math.nextafter(user, 0) if just_over else user)
    return (repr(efficiency), f"{wasted}B", user_threshold)


def rule_flags(thresholds: Thresholds) -> list[str]:
    if thresholds is None:
        return []
    names = ("lowestEfficiency", "highestWastedBytes", "highestUserWastedPercent")
    pairs = zip(names, thresholds, strict=True)
    return [part for name, value in pairs for part in (f"--{name}", value)]


def our_ci_exit(archive: Path, flags: list[str], cache: Path) -> int:
    """The inspector run in process exactly as dive is: CI=true, no --ci flag."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CI", "true")
        patch.setenv("INSPECTOR_CACHE_DIR", str(cache))
        return cli.main(["--source", "docker-archive", str(archive), *flags])


@pytest.mark.parametrize("archive", CI_ARCHIVES, indirect=True)
@pytest.mark.parametrize("thresholds", [*FIXED_THRESHOLDS, "boundary", "just-over"])
def test_ci_verdict_equals_dives(
    archive: Path,
    thresholds: str,
    dive_docs: DiveDocs,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if thresholds in FIXED_THRESHOLDS:
        values = FIXED_THRESHOLDS[thresholds]
    else:
        values = at_the_boundary(dive_docs.ours(archive), just_over=thresholds == "just-over")
    flags = rule_flags(values)
    monkeypatch.chdir(tmp_path)  # no .dive-ci here, for either tool
    dive = services.run_dive("--source", "docker-archive", archive, *flags, ci=True, cwd=tmp_path)
    assert dive.returncode in (0, 1), dive.stdout + dive.stderr
    assert "CI Misconfigured" not in dive.stdout, f"dive rejected {values}"
    ours = our_ci_exit(archive, flags, dive_docs.cache_for(archive))
    capsys.readouterr()
    assert ours == dive.returncode, f"thresholds {values}: dive said\n{dive.stdout}"
    if thresholds == "boundary":
        assert ours == 0
    if thresholds == "all-disabled":
        assert ours == 0


@pytest.mark.docker
def test_json_export_wins_over_ci_environment_like_dive(
    dive_like: Callable[[str], Path], tmp_path: Path
) -> None:
    archive = dive_like("dive-like")
    dive = services.run_dive(
        "--source", "docker-archive", archive, "-j", tmp_path / "dive.json", ci=True, cwd=tmp_path
    )
    assert dive.returncode == 0  # the premise, verified on dive 0.13.1
    assert "Results:" not in dive.stdout  # dive exported instead of judging
    judged = services.run_dive("--source", "docker-archive", archive, ci=True, cwd=tmp_path)
    assert judged.returncode == 1  # dive's default rules fail this image
    ours = services.run_cli(
        "--source", "docker-archive", archive, "-j", tmp_path / "ours.json", ci=True, cwd=tmp_path
    )
    assert json.loads((tmp_path / "ours.json").read_text())["image"]["sizeBytes"] > 0
    assert ours.returncode == dive.returncode


def test_the_dive_like_images_give_dive_something_to_find(
    dive_like: Callable[[str], Path], dive_runs: diverun.DiveRuns
) -> None:
    """Premises of the comparisons above: the multi-layer images waste bytes in dive's
    eyes, dive misses the file `rm -rf` removed, and a one-file OCI archive has one layer."""
    for archive in (dive_like("dive-like"), dive_like("dive-like-kaniko")):
        doc = dive_runs.document(archive)
        assert len(doc["layer"]) == 14
        assert doc["image"]["inefficientBytes"] > 0
        paths = {ref["file"] for ref in doc["image"]["fileReference"]}
        assert "/srv/app/a.txt" in paths
        assert diveimages.DIVE_LIKE_UNTOUCHED not in paths
    for name in diveimages.OCI_ARCHIVES:
        doc = dive_runs.document(dive_like(name))
        assert [layer["sizeBytes"] for layer in doc["layer"]] == [11_000]
        assert is_oci_shaped(doc)
