"""CI rules: byte sizes, where thresholds come from, and the verdict over real numbers."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import pytest
from diverun import DiveRuns

from inspector.analysis import ExactWaste
from inspector.bytesize import parse_bytes
from inspector.dive import DiveNumbers
from inspector.errors import UsageError
from inspector.rules import (
    DIVE_RULES,
    EXACT_RULES,
    SHARING_RULES,
    RuleConfig,
    RuleResult,
    Status,
    Verdict,
    evaluate,
    load_rule_config,
)
from inspector.sharing import Sharing

ALL = DIVE_RULES + EXACT_RULES + SHARING_RULES
DIVE_CI = """\
rules:
  lowestEfficiency: 0.95
  highestWastedBytes: 20Mb
  highestUserWastedPercent: 0.5
plugins:
  - plugin1
plugin1/rule1: error
"""


def config(flags: Mapping[str, str | None] | None = None, path: str | None = None) -> RuleConfig:
    return load_rule_config(flags or {}, path)


def write(directory: Path, text: str, name: str = ".dive-ci") -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def exact_waste(stored: int, wasted: int, user: int) -> ExactWaste:
    return ExactWaste(stored, stored - wasted, wasted, user, ())


def dive_numbers(efficiency: float, wasted: int, user_wasted: float) -> DiveNumbers:
    return DiveNumbers(1000, 500, wasted, efficiency, user_wasted, (), (500, 500))


# ------------------------------------------------------------------------- parse_bytes


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1024", 1024),
        ("0", 0),
        ("1B", 1),
        ("1 b", 1),
        ("50kB", 50_000),
        ("50KB", 50_000),
        ("50k", 50_000),
        ("20MB", 20_000_000),
        ("19Mb", 19_000_000),  # go-humanize lowercases units: Mb is megabytes
        ("20 mb", 20_000_000),
        ("1.5 MiB", 1_572_864),
        ("1KiB", 1024),
        ("1ki", 1024),
        ("2GiB", 2 * 2**30),
        ("3GB", 3_000_000_000),
        ("1TB", 10**12),
        ("1,024", 1024),
        ("1.9B", 1),  # fractions of a byte are dropped
        (" 7 kB ", 7000),
    ],
)
def test_parse_bytes(text: str, expected: int) -> None:
    assert parse_bytes(text) == expected


@pytest.mark.parametrize(
    "text", ["", "kB", "-1", "1XB", "abc", "1e3", "1_000", "1.2.3MB", "20 MBs"]
)
def test_parse_bytes_rejects(text: str) -> None:
    with pytest.raises(ValueError, match=r"byte size|size unit"):
        parse_bytes(text)


def test_parse_bytes_rejects_more_than_64_bits() -> None:
    with pytest.raises(ValueError, match="too large"):
        parse_bytes("20EiB")


# ------------------------------------------------------------------- load_rule_config


def test_defaults_without_a_rules_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    loaded = config()
    assert dict(loaded.thresholds) == {
        "lowestEfficiency": 0.9,
        "highestWastedBytes": None,
        "highestUserWastedPercent": 0.1,
        "exactLowestEfficiency": None,
        "exactHighestWastedBytes": None,
        "exactHighestUserWastedPercent": None,
        "highestUniqueBytes": None,
    }
    assert loaded.source == "default CI config"


def test_dive_ci_in_current_directory_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, DIVE_CI)  # dive's own sample, unknown `plugins` keys included
    monkeypatch.chdir(tmp_path)
    loaded = config()
    assert loaded.thresholds["lowestEfficiency"] == 0.95
    assert loaded.thresholds["highestWastedBytes"] == 19_000_000 + 1_000_000
    assert loaded.thresholds["highestUserWastedPercent"] == 0.5
    assert loaded.thresholds["exactLowestEfficiency"] is None
    assert loaded.source == "CI config .dive-ci"


def test_explicit_file_replaces_the_default_lookup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, "rules:\n  lowestEfficiency: 0.3\n")
    other = write(tmp_path, "rules:\n  lowestEfficiency: 0.7\n", name="rules.yaml")
    monkeypatch.chdir(tmp_path)
    loaded = config(path=str(other))
    assert loaded.thresholds["lowestEfficiency"] == 0.7
    assert loaded.source == f"CI config {other}"


def test_flag_beats_file_beats_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "rules:\n  lowestEfficiency: 0.5\n  highestWastedBytes: 1MB\n")
    monkeypatch.chdir(tmp_path)
    loaded = config({"lowestEfficiency": "0.99", "highestWastedBytes": None})
    assert loaded.thresholds["lowestEfficiency"] == 0.99  # flag over file
    assert loaded.thresholds["highestWastedBytes"] == 1_000_000  # file over default
    assert loaded.thresholds["highestUserWastedPercent"] == 0.1  # default


def test_kebab_case_keys_and_camel_case_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(
        tmp_path,
        "rules:\n"
        "  lowest-efficiency: 0.2\n"
        "  lowestEfficiency: 0.4\n"
        "  highest-wasted-bytes: 2kB\n"
        "  exact-highest-user-wasted-percent: 0.25\n",
    )
    monkeypatch.chdir(tmp_path)
    loaded = config()
    assert loaded.thresholds["lowestEfficiency"] == 0.4
    assert loaded.thresholds["highestWastedBytes"] == 2000
    assert loaded.thresholds["exactHighestUserWastedPercent"] == 0.25


def test_exact_rules_from_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    loaded = config(
        {
            "exactLowestEfficiency": "0.8",
            "exactHighestWastedBytes": "1.5 MiB",
            "exact-highest-user-wasted-percent": "0.2",
        }
    )
    assert loaded.thresholds["exactLowestEfficiency"] == 0.8
    assert loaded.thresholds["exactHighestWastedBytes"] == 1_572_864
    assert loaded.thresholds["exactHighestUserWastedPercent"] == 0.2


@pytest.mark.parametrize("word", ["disabled", "DISABLED", "off", "false", "", "  "])
def test_disabled_flag(word: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "rules:\n  lowestEfficiency: 0.5\n")
    monkeypatch.chdir(tmp_path)
    loaded = config({"lowestEfficiency": word, "highestUserWastedPercent": word})
    assert loaded.thresholds["lowestEfficiency"] is None
    assert loaded.thresholds["highestUserWastedPercent"] is None


@pytest.mark.parametrize("value", ["disabled", "off", "false", '""', ""])
def test_disabled_in_file(value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # YAML reads `off` and `false` as booleans and an empty value as null
    write(tmp_path, f"rules:\n  lowestEfficiency: {value}\n  highestUserWastedPercent: {value}\n")
    monkeypatch.chdir(tmp_path)
    loaded = config({"highestWastedBytes": "20MB"})
    assert loaded.thresholds["lowestEfficiency"] is None
    assert loaded.thresholds["highestUserWastedPercent"] is None
    assert loaded.thresholds["highestWastedBytes"] == 20_000_000


@pytest.mark.parametrize(
    "text", ["", "# nothing\n", "rules:\n", "other: 1\n", "rules:\n  unknownRule: 5\n"]
)
def test_files_without_rules_keep_defaults(
    text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, text)
    monkeypatch.chdir(tmp_path)
    loaded = config()
    assert loaded.thresholds["lowestEfficiency"] == 0.9
    assert loaded.thresholds["highestUserWastedPercent"] == 0.1
    assert loaded.source == "CI config .dive-ci"


@pytest.mark.parametrize(
    ("rule", "value", "problem"),
    [
        ("lowestEfficiency", "1.1", "out of range"),
        ("lowestEfficiency", "-0.1", "out of range"),
        ("highestUserWastedPercent", "abc", "not a number"),
        ("highestUserWastedPercent", "nan", "out of range"),
        ("lowestEfficiency", "10%", "not a number"),
        ("highestWastedBytes", "twenty", "not a byte size"),
        ("highestWastedBytes", "-5MB", "not a byte size"),
        ("exactHighestWastedBytes", "5XB", "not a byte size"),
        ("exactLowestEfficiency", "2", "out of range"),
    ],
)
def test_bad_flag_values(
    rule: str, value: str, problem: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError, match=problem) as caught:
        config({rule: value})
    assert caught.value.message.startswith(f"--{rule}: ")
    assert "\n" not in caught.value.message
    assert caught.value.exit_code == 2


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("1.1", "out of range"),
        ("-0.1", "out of range"),
        ("abc", "not a number"),
        ("true", "expected a value"),
    ],
)
def test_bad_file_values(
    value: str, problem: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, f"rules:\n  highest-user-wasted-percent: {value}\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError, match=problem) as caught:
        config()
    assert caught.value.message.startswith(".dive-ci: rules.highest-user-wasted-percent: ")


def test_flag_overrides_a_bad_file_value_only_after_checking_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, "rules:\n  lowestEfficiency: 7\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError, match="out of range"):
        config({"lowestEfficiency": "0.5"})


def test_unknown_flag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError, match="unknown CI rule"):
        config({"lowestEfficency": "0.5"})


def test_missing_explicit_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(UsageError, match="no such file") as caught:
        config(path=str(missing))
    assert str(missing) in caught.value.message


def test_directory_as_explicit_file(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not a regular file"):
        config(path=str(tmp_path))


def test_default_file_that_is_a_directory_is_not_a_rules_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".dive-ci").mkdir()
    monkeypatch.chdir(tmp_path)
    assert config().source == "default CI config"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("rules: [1, 2\n", "invalid YAML"),
        ("rules:\n  a: b\n c: d\n", "invalid YAML"),
        ("rules:\n  - lowestEfficiency\n", "`rules` must be a mapping"),
        ("rules: 0.5\n", "`rules` must be a mapping"),
        ("- rules\n", "top level"),
        ("rules:\n  lowestEfficiency: [0.5]\n", "expected a value"),
    ],
)
def test_malformed_files(text: str, problem: str, tmp_path: Path) -> None:
    path = write(tmp_path, text, name="ci.yaml")
    with pytest.raises(UsageError, match=problem) as caught:
        config(path=str(path))
    assert caught.value.message.startswith(f"{path}: ")
    assert "\n" not in caught.value.message


def test_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "ci.yaml"
    path.write_bytes(b"rules:\n  lowestEfficiency: \xff\xfe\n")
    with pytest.raises(UsageError, match="not UTF-8"):
        config(path=str(path))


def test_thresholds_are_read_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    loaded = config()
    with pytest.raises(TypeError):
        loaded.thresholds["lowestEfficiency"] = 0.1  # type: ignore[index]


# ----------------------------------------------------------------------------- evaluate


def test_strict_comparisons_at_the_threshold() -> None:
    thresholds: dict[str, float | None] = {rule: None for rule in ALL}
    thresholds |= {"lowestEfficiency": 0.5, "highestWastedBytes": 100.0}
    thresholds |= {"highestUserWastedPercent": 0.25}
    verdict = evaluate(
        RuleConfig(thresholds, "test"),
        exact_waste(1000, 0, 500),
        dive_numbers(0.5, 100, 0.25),
    )
    assert [r.status for r in verdict.results[:3]] == [Status.PASS] * 3
    assert verdict.passed


def test_just_past_the_threshold_fails() -> None:
    thresholds: dict[str, float | None] = {rule: None for rule in ALL}
    thresholds |= {"lowestEfficiency": 0.5, "highestWastedBytes": 100.0}
    thresholds |= {"highestUserWastedPercent": 0.25}
    verdict = evaluate(
        RuleConfig(thresholds, "test"),
        exact_waste(1000, 0, 500),
        dive_numbers(0.4999, 101, 0.2501),
    )
    assert [r.status for r in verdict.results[:3]] == [Status.FAIL] * 3
    assert not verdict.passed
    assert verdict.count(Status.FAIL) == 3
    assert verdict.count(Status.SKIP) == 4
    lowest = verdict.results[0]
    assert lowest.message == ("image efficiency is too low (efficiency=0.4999 < threshold=0.5)")
    assert verdict.results[1].message == (
        "too many bytes wasted (wasted-bytes=101 > threshold=100)"
    )
    assert "%-user-wasted-bytes=0.2501 > threshold=0.25" in verdict.results[2].message


def test_nan_user_wasted_percent_passes_and_infinity_fails() -> None:
    thresholds: dict[str, float | None] = {rule: None for rule in ALL}
    thresholds["highestUserWastedPercent"] = 0.0
    one_layer = evaluate(
        RuleConfig(thresholds, "test"), exact_waste(10, 0, 0), dive_numbers(1.0, 0, math.nan)
    )
    result = one_layer.results[DIVE_RULES.index("highestUserWastedPercent")]
    assert result.status is Status.PASS
    assert math.isnan(result.actual)
    assert one_layer.passed
    no_user_bytes = evaluate(
        RuleConfig(thresholds, "test"), exact_waste(10, 5, 0), dive_numbers(0.5, 5, math.inf)
    )
    assert not no_user_bytes.passed


def test_exact_rules_use_the_exact_numbers() -> None:
    thresholds: dict[str, float | None] = {rule: None for rule in ALL}
    thresholds |= {"exactLowestEfficiency": 0.9, "exactHighestWastedBytes": 150.0}
    thresholds |= {"exactHighestUserWastedPercent": 0.5}
    # dive's numbers would all pass; the exact ones (efficiency 0.8, 200 B, 200/300) fail
    verdict = evaluate(
        RuleConfig(thresholds, "test"), exact_waste(1000, 200, 300), dive_numbers(1.0, 0, 0.0)
    )
    by_rule = {r.rule: r for r in verdict.results}
    assert [by_rule[rule].status for rule in EXACT_RULES] == [Status.FAIL] * 3
    assert [by_rule[rule].status for rule in DIVE_RULES] == [Status.SKIP] * 3
    assert by_rule["exactLowestEfficiency"].actual == pytest.approx(0.8)
    assert by_rule["exactHighestWastedBytes"].actual == 200
    assert "exact efficiency=0.8" in by_rule["exactLowestEfficiency"].message
    assert verdict.source == "test"


def test_results_come_in_rule_order_with_skip_message() -> None:
    verdict = evaluate(
        RuleConfig(dict.fromkeys(ALL), "test"), exact_waste(1, 0, 0), dive_numbers(1.0, 0, 0.0)
    )
    assert tuple(r.rule for r in verdict.results) == ALL
    assert all(r.status == "skip" and r.message == "rule disabled" for r in verdict.results)
    assert all(r.threshold is None for r in verdict.results)
    assert verdict.passed


# -------------------------------------- dive's evaluator cases on the sample image, live


@pytest.fixture(scope="module")
def sample_numbers(sample_archives: dict[str, Path]) -> tuple[ExactWaste, DiveNumbers]:
    from inspector.analysis import analyse
    from inspector.dive import dive_numbers as compute_dive_numbers
    from inspector.source import LoadEvents
    from inspector.sources.archive import ArchiveSource

    path = sample_archives["docker"]
    loaded = ArchiveSource(str(path), path.name).load(LoadEvents())
    analysis = analyse(loaded.image, loaded.layers)
    return analysis.exact, compute_dive_numbers(loaded.layers)


@pytest.mark.dive
@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (("0.99", "1B", "0.01"), ("fail", "fail", "fail")),
        (("0.85", "60kB", "0.9"), ("pass", "pass", "pass")),
        (("disabled", "disabled", "disabled"), ("skip", "skip", "skip")),
        (("0.85", "1B", "0.9"), ("pass", "fail", "pass")),
    ],
)
def test_dive_evaluator_cases(
    values: tuple[str, str, str],
    expected: tuple[str, str, str],
    sample_numbers: tuple[ExactWaste, DiveNumbers],
    sample_archives: dict[str, Path],
    dive_runs: DiveRuns,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    exact, dive = sample_numbers
    flags = dict(zip(DIVE_RULES, values, strict=True)) | dict(zip(EXACT_RULES, values, strict=True))
    verdict = evaluate(config(flags), exact, dive)
    statuses = {r.rule: r.status for r in verdict.results}
    assert tuple(statuses[rule] for rule in DIVE_RULES) == expected
    # the real dive, given the same flags, says the same for its rules
    theirs = dive_runs.ci(
        sample_archives["docker"],
        *(
            part
            for rule, value in zip(DIVE_RULES, values, strict=True)
            for part in (f"--{rule}", value)
        ),
    )
    assert {rule: status.lower() for rule, status in theirs.statuses().items()} == {
        rule: statuses[rule] for rule in DIVE_RULES
    }
    # the exact numbers land on the same side of these thresholds
    assert tuple(statuses[rule] for rule in EXACT_RULES) == expected
    assert verdict.passed == ("fail" not in expected)
    assert verdict.count(Status.FAIL) == 2 * expected.count("fail")


@pytest.mark.dive
def test_the_dive_numbers_of_the_sample_image_are_dives(
    sample_numbers: tuple[ExactWaste, DiveNumbers],
    sample_archives: dict[str, Path],
    dive_runs: DiveRuns,
) -> None:
    """The values the cases above judge: what dive prints when every rule fails."""
    _, dive = sample_numbers
    theirs = dive_runs.strictest(sample_archives["docker"])
    assert dive.efficiency == theirs.revealed("lowestEfficiency")
    assert dive.wasted_bytes == theirs.revealed("highestWastedBytes")
    assert dive.user_wasted_percent == theirs.revealed("highestUserWastedPercent")


@pytest.mark.parametrize("value", ["1.1", "-0.1", "not-a-number"])
def test_dive_evaluator_configuration_errors(
    value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for rule in ("lowestEfficiency", "highestUserWastedPercent"):
        with pytest.raises(UsageError, match=f"--{rule}: "):
            config({rule: value})


@pytest.mark.parametrize("value", ["-0.1", "not-a-number"])
def test_dive_evaluator_byte_configuration_errors(
    value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError, match="--highestWastedBytes: "):
        config({"highestWastedBytes": value})


# ------------------------------------------------------------------- highestUniqueBytes


def _unique_rule(verdict: Verdict) -> RuleResult:
    return next(r for r in verdict.results if r.rule == "highestUniqueBytes")


def test_unique_bytes_rule_is_off_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert config().thresholds["highestUniqueBytes"] is None


def test_unique_bytes_rule_reads_dive_byte_sizes_from_flag_and_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".dive-ci").write_text("rules:\n  highestUniqueBytes: 1.5MiB\n")
    assert config().thresholds["highestUniqueBytes"] == 1.5 * 2**20
    flagged = config(flags={"highestUniqueBytes": "20MB"})
    assert flagged.thresholds["highestUniqueBytes"] == 20e6
    assert (
        config(flags={"highest-unique-bytes": "disabled"}).thresholds["highestUniqueBytes"] is None
    )
    with pytest.raises(UsageError, match="--highestUniqueBytes: '12 parsecs' is not a byte size"):
        config(flags={"highestUniqueBytes": "12 parsecs"})


def test_unique_bytes_rule_compares_strictly_against_the_sharing() -> None:
    thresholds: dict[str, float | None] = dict.fromkeys(ALL)
    thresholds["highestUniqueBytes"] = 600.0
    rules = RuleConfig(thresholds, "test")
    exact, dive = exact_waste(1000, 0, 500), dive_numbers(1.0, 0, 0.0)
    shared = Sharing(((), ("other:1",)), shared_bytes=400, unique_bytes=600)
    at = _unique_rule(evaluate(rules, exact, dive, shared))
    assert (at.status, at.actual) == (Status.PASS, 600.0)
    over = Sharing(((), ("other:1",)), shared_bytes=399, unique_bytes=601)
    failed = _unique_rule(evaluate(rules, exact, dive, over))
    assert failed.status is Status.FAIL
    assert failed.message == (
        "too many bytes in layers no other image shares (unique-bytes=601 > threshold=600)"
    )


def test_unique_bytes_without_sharing_counts_every_stored_byte() -> None:
    thresholds: dict[str, float | None] = dict.fromkeys(ALL)
    thresholds["highestUniqueBytes"] = 999.0
    verdict = evaluate(
        RuleConfig(thresholds, "test"), exact_waste(1000, 0, 500), dive_numbers(1.0, 0, 0.0)
    )
    assert _unique_rule(verdict).status is Status.FAIL
