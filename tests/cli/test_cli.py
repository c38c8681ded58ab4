"""The installed command line, run as a subprocess the way a person or a CI job runs it.

Exit codes: 0 ok, 1 a CI rule failed, 2 bad input or arguments (one line on stderr, never
a traceback), 3 internal error. CI mode is set or cleared explicitly for every run: the
suite itself runs with CI=true in CI, which would otherwise turn CI mode on.
"""

from __future__ import annotations

import gzip
import json
import os
import stat
import tarfile
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import services

from inspector import cli
from inspector.demo import build_demo

PASSING = ["--lowestEfficiency", "0.1", "--highestWastedBytes", "1GB",
           "--highestUserWastedPercent", "disabled"]  # fmt: skip
FAILING = ["--lowestEfficiency", "0.99", "--highestWastedBytes", "1B",
           "--highestUserWastedPercent", "0.01"]  # fmt: skip
ALL_DIVE_RULES_OFF = ["--lowestEfficiency", "disabled", "--highestUserWastedPercent", "off"]


@pytest.fixture(scope="module")
def demo_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "demo.tar"
    path.write_bytes(build_demo())
    return path


@pytest.fixture(scope="module")
def real_archive(dive_like: Callable[[str], Path]) -> Path:
    """A real `docker save` archive: the dive-like image Docker built (14 layers)."""
    return dive_like("dive-like")


def leftovers(directory: Path) -> list[str]:
    """Temporary files a writer left behind."""
    return [name for name in os.listdir(directory) if name.endswith(".tmp")]


def without_name(doc: dict[str, Any]) -> dict[str, Any]:
    image = {key: value for key, value in doc["image"].items() if key != "name"}
    return {**doc, "image": image}


# -------------------------------------------------------------------------------- demo


@pytest.mark.parametrize("extra", [[], ["--text"]], ids=["plain", "text"])
def test_demo_shows_the_deleted_dataset(extra: list[str], tmp_path: Path) -> None:
    result = services.run_cli("demo", *extra, cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any("/tmp/dataset.tar.gz" in line and "deleted" in line for line in lines), result.stdout
    assert "Traceback" not in result.stderr


# ---------------------------------------------------------------------------------- JSON


def test_json_file_is_complete_and_replaced_atomically(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    out.write_text("x" * 1_000_000)  # larger than the report: no tail may survive
    os.link(out, tmp_path / "old.json")  # an atomic replace leaves the old inode alone
    result = services.run_cli("demo", "--json", out, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    doc = json.loads(out.read_text())
    assert (tmp_path / "old.json").read_text() == "x" * 1_000_000
    assert leftovers(tmp_path) == []
    layer = doc["layer"][0]
    for key in ("index", "id", "digestId", "sizeBytes", "command", "fileList"):
        assert key in layer
    image = doc["image"]
    for key in ("sizeBytes", "inefficientBytes", "efficiencyScore", "fileReference"):
        assert key in image
    exact = image["exact"]
    assert set(exact) >= {"storedBytes", "visibleBytes", "wastedBytes", "efficiency"}
    assert exact["storedBytes"] - exact["visibleBytes"] == exact["wastedBytes"]
    for wasted in exact["wastedFiles"]:
        assert set(wasted) >= {"path", "bytes", "storedIn", "hiddenBy", "how"}
    assert any(w["path"] == "/tmp/dataset.tar.gz" for w in exact["wastedFiles"])


def test_json_file_gets_ordinary_permissions(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    os.umask(umask)
    out = tmp_path / "out.json"
    result = services.run_cli("demo", "--json", out, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~umask


def test_json_to_stdout_equals_the_file(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    assert services.run_cli("demo", "--json", out, cwd=tmp_path).returncode == 0
    result = services.run_cli("demo", "--json", "-", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == json.loads(out.read_text())


# -------------------------------------------------------------------------------- errors


def _corrupt(data: bytes, start: int, length: int = 64) -> bytes:
    damaged = bytearray(data)
    for i in range(start, start + length):
        damaged[i] ^= 0x5A
    return bytes(damaged)


def _layer_blob_offset(archive: Path) -> int:
    """Where the first gzip blob's bytes start inside an OCI-shaped archive."""
    with tarfile.open(archive) as tar, archive.open("rb") as raw:
        for member in tar.getmembers():
            raw.seek(member.offset_data)
            if member.isfile() and raw.read(2) == b"\x1f\x8b":
                return member.offset_data
    raise AssertionError(f"no gzip blob in {archive}")


def _bad_input(
    kind: str, tmp: Path, real: Callable[[], Path], dive_like: Callable[[], Callable[[str], Path]]
) -> tuple[list[str], bytes | None]:
    """(arguments, standard input) for one kind of bad input; `real` and `dive_like` give
    the archives the damaged kinds start from (built only for those kinds)."""
    if kind == "missing-file":
        return [str(tmp / "missing.tar")], None
    if kind == "missing-oci-dir":
        return [f"oci:{tmp / 'no-layout'}"], None
    if kind == "directory-not-oci":
        (tmp / "plain-dir").mkdir()
        return [str(tmp / "plain-dir")], None
    if kind == "text-file":
        (tmp / "notes.tar").write_text("hello, not an image\n")
        return [str(tmp / "notes.tar")], None
    if kind == "tar-without-manifest":
        (tmp / "file.txt").write_text("just a file\n")
        with tarfile.open(tmp / "plain.tar", "w") as tar:
            tar.add(tmp / "file.txt", arcname="file.txt")
        return [str(tmp / "plain.tar")], None
    if kind == "empty-stdin":
        return ["-"], b""
    if kind == "garbage-stdin":
        return ["-"], os.urandom(100_000)
    data = real().read_bytes()
    if kind == "truncated-archive":
        (tmp / "half.tar").write_bytes(data[: len(data) // 2])
        return [str(tmp / "half.tar")], None
    if kind == "truncated-before-manifest":
        (tmp / "cut.tar").write_bytes(data[: len(data) - 4096])
        return [str(tmp / "cut.tar")], None
    if kind == "truncated-stdin":
        return ["-"], data[: len(data) // 2]
    if kind == "corrupt-gzip":
        packed = gzip.compress(data, mtime=0)
        (tmp / "bad.tar.gz").write_bytes(_corrupt(packed, len(packed) // 2))
        return [str(tmp / "bad.tar.gz")], None
    if kind == "truncated-gzip":
        packed = gzip.compress(data, mtime=0)
        (tmp / "cut.tar.gz").write_bytes(packed[: len(packed) // 2])
        return [str(tmp / "cut.tar.gz")], None
    if kind == "corrupt-gzip-layer":
        oci = dive_like()("one-file-oci-gzip")
        raw = oci.read_bytes()
        (tmp / "oci.tar").write_bytes(_corrupt(raw, _layer_blob_offset(oci) + 200, 32))
        return [str(tmp / "oci.tar")], None
    raise AssertionError(kind)


BAD_ARGUMENTS: dict[str, list[str]] = {
    "unknown-flag": ["demo", "--bogus"],
    "no-image": [],
    "bad-ci-format": ["demo", "--ci", "--ci-format", "xml"],
    "bad-source": ["demo", "--source", "registry"],
    "bad-platform": ["demo", "--platform", "bogus"],
    "efficiency-out-of-range": ["demo", "--ci", "--lowestEfficiency", "1.5"],
    "efficiency-not-a-number": ["demo", "--ci", "--lowestEfficiency", "high"],
    "bad-byte-size": ["demo", "--ci", "--highestWastedBytes", "12XB"],
    "missing-ci-config": ["demo", "--ci", "--ci-config", "no-such-rules.yaml"],
    "unknown-transport": ["nosuch://image"],
}
BAD_INPUTS = [
    "missing-file",
    "missing-oci-dir",
    "directory-not-oci",
    "text-file",
    "tar-without-manifest",
    "empty-stdin",
    "garbage-stdin",
    "truncated-archive",
    "truncated-before-manifest",
    "truncated-stdin",
    "corrupt-gzip",
    "truncated-gzip",
    "corrupt-gzip-layer",
]


def assert_one_line_error(result: Any) -> None:
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("inspector: ")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("kind", [*BAD_ARGUMENTS, *BAD_INPUTS])
def test_bad_input_is_one_line_exit_2_and_writes_no_json(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    stdin: bytes | None = None
    if kind in BAD_ARGUMENTS:
        args = BAD_ARGUMENTS[kind]
    else:
        args, stdin = _bad_input(
            kind,
            tmp_path,
            lambda: request.getfixturevalue("real_archive"),
            lambda: request.getfixturevalue("dive_like"),
        )
    out = tmp_path / "out.json"
    result = services.run_cli(*args, "--json", out, stdin=stdin, cwd=tmp_path, timeout=120)
    assert_one_line_error(result)
    assert not out.exists()
    assert leftovers(tmp_path) == []


def test_json_into_a_missing_directory_is_exit_2(tmp_path: Path) -> None:
    out = tmp_path / "no" / "such" / "dir" / "out.json"
    result = services.run_cli("demo", "--json", out, cwd=tmp_path)
    assert_one_line_error(result)
    assert str(out.parent) in result.stderr


# --------------------------------------------------------------------------------- stdin


@pytest.mark.parametrize("packing", ["plain", "gzip"])
def test_stdin_equals_the_file(packing: str, real_archive: Path) -> None:
    data = real_archive.read_bytes()
    if packing == "gzip":
        data = gzip.compress(data, compresslevel=1, mtime=0)
    from_file = services.inspector_json(real_archive)
    from_stdin = services.inspector_json("-", stdin=data)
    assert from_stdin["image"]["name"] == "-"
    assert without_name(from_stdin) == without_name(from_file)


# ---------------------------------------------------------------------------- layer cache


@pytest.mark.parametrize("name", ["dive-like", "one-file-oci-gzip"])
def test_cached_reads_equal_uncached_ones(
    name: str, dive_like: Callable[[str], Path], tmp_path: Path
) -> None:
    archive = dive_like(name)
    cache = {"INSPECTOR_CACHE_DIR": str(tmp_path / "cache")}
    uncached = services.inspector_json(archive, "--no-cache", env=cache)
    assert not (tmp_path / "cache").exists()
    filling = services.inspector_json(archive, env=cache)
    from_cache = services.inspector_json(archive, env=cache)
    from_stdin = services.inspector_json("-", stdin=archive.read_bytes(), env=cache)
    assert filling == uncached
    assert from_cache == uncached
    assert without_name(from_stdin) == without_name(uncached)


def test_one_layer_in_two_compressions_shares_the_cache(
    dive_like: Callable[[str], Path], tmp_path: Path
) -> None:
    archives = [dive_like(f"one-file-oci-{kind}") for kind in ("zstd", "gzip")]
    cache = {"INSPECTOR_CACHE_DIR": str(tmp_path / "cache")}
    for archive in [*archives, *archives]:
        result = services.run_cli(archive, "--json", tmp_path / "out.json", env=cache)
        assert result.returncode == 0, result.stderr


# ------------------------------------------------------------------------------ CI mode


@pytest.mark.parametrize(
    ("args", "ci_env", "expected"),
    [
        (["--ci", *PASSING], False, 0),
        (["--ci", *FAILING], False, 1),
        (["--ci"], False, 1),  # dive's defaults: 0.9 efficiency, 10 % user waste
        ([], True, 1),  # CI=true alone turns CI mode on, as in dive
        ([*PASSING], True, 0),
        ([], False, 0),  # no CI mode, no verdict
        (["--ci", *ALL_DIVE_RULES_OFF], False, 0),
        (["--ci", *ALL_DIVE_RULES_OFF, "--exactLowestEfficiency", "0.5"], False, 1),
    ],
    ids=["pass", "fail", "defaults", "env", "env-pass", "no-ci", "disabled", "exact-rule"],
)
def test_ci_exit_codes(
    args: list[str], ci_env: bool, expected: int, demo_archive: Path, tmp_path: Path
) -> None:
    result = services.run_cli(demo_archive, *args, ci=ci_env, cwd=tmp_path)
    assert result.returncode == expected, result.stdout + result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(("thresholds", "expected"), [(PASSING, 0), (FAILING, 1)])
def test_ci_exit_codes_on_a_real_archive(
    thresholds: list[str], expected: int, real_archive: Path, tmp_path: Path
) -> None:
    result = services.run_cli(real_archive, "--ci", *thresholds, cwd=tmp_path)
    assert result.returncode == expected, result.stdout + result.stderr


def test_ci_reads_the_dive_ci_file_in_the_working_directory(
    demo_archive: Path, tmp_path: Path
) -> None:
    rules = "rules:\n  lowestEfficiency: 0.1\n  highestUserWastedPercent: disabled\n"
    (tmp_path / ".dive-ci").write_text(rules)
    assert services.run_cli(demo_archive, "--ci", cwd=tmp_path).returncode == 0
    # a flag beats the file (dive 0.13.1's precedence)
    failing = services.run_cli(demo_archive, "--ci", "--lowestEfficiency", "0.9", cwd=tmp_path)
    assert failing.returncode == 1


def check_report(fmt: str, text: str, failed: bool) -> None:
    """The report parses as `fmt`, and says what the exit code says."""
    assert text.strip(), "empty report"
    if fmt == "json":
        doc = json.loads(text)
        assert doc["passed"] is not failed
    elif fmt == "junit":
        root = ET.fromstring(text)
        assert root.tag in ("testsuite", "testsuites")
        assert len(root.findall(".//testcase")) >= 3
        assert bool(root.findall(".//testcase/failure")) is failed
    elif fmt == "markdown":
        lines = text.splitlines()
        assert any(line.startswith("|") and "---" in line for line in lines), text
        assert ("FAIL" in text) is failed
    else:
        assert ("FAIL" in text) is failed
        assert "Traceback" not in text


@pytest.mark.parametrize("fmt", ["text", "json", "markdown", "junit"])
@pytest.mark.parametrize("outcome", ["pass", "fail"])
def test_each_ci_format_parses(fmt: str, outcome: str, demo_archive: Path, tmp_path: Path) -> None:
    thresholds = PASSING if outcome == "pass" else FAILING
    result = services.run_cli(demo_archive, "--ci", "--ci-format", fmt, *thresholds, cwd=tmp_path)
    assert result.returncode == (0 if outcome == "pass" else 1), result.stderr
    check_report(fmt, result.stdout, failed=outcome == "fail")


@pytest.mark.parametrize("fmt", ["json", "junit"])
def test_ci_report_moves_to_stderr_when_json_goes_to_stdout(
    fmt: str, demo_archive: Path, tmp_path: Path
) -> None:
    result = services.run_cli(
        demo_archive, "--ci", "--ci-format", fmt, *FAILING, "--json", "-", cwd=tmp_path
    )
    assert result.returncode == 1
    assert json.loads(result.stdout)["image"]["sizeBytes"] > 0
    check_report(fmt, result.stderr, failed=True)


# ------------------------------------------------------------------------- in process


def test_in_process_main_is_not_in_ci_mode_because_the_suite_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # conftest removes CI from os.environ for every test, so this holds in CI too
    monkeypatch.chdir(tmp_path)
    assert cli.main(["demo", "--json", str(tmp_path / "out.json")]) == 0
    monkeypatch.setenv("CI", "true")
    assert cli.main(["demo"]) == 1  # dive's default rules fail the demo
    capsys.readouterr()
