"""CI reports: each format parses and carries the verdict, the numbers and the files."""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import pytest
import sampleimage
from diverun import CiReport, DiveRuns

from inspector.analysis import Analysis, ExactWaste, WastedFile
from inspector.changes import Removal
from inspector.ci_report import FORMATS, MARKDOWN_ROWS, render
from inspector.digest import Digest
from inspector.dive import DiveNumbers, Inefficiency
from inspector.errors import UsageError
from inspector.finding_rules import Allowance, FindingRules
from inspector.findings.model import Finding, Fix, LayerRef, PathRef, Severity
from inspector.model import Image
from inspector.rules import DIVE_RULES, EXACT_RULES, SHARING_RULES, RuleConfig, Verdict, evaluate

ALL = DIVE_RULES + EXACT_RULES + SHARING_RULES
NASTY = "dir/a&b <c> \"q\" 's' | x`y`*z*.txt"
LABEL = 'docker-archive:odd & <name> "quoted".tar'


def thresholds(**given: float | None) -> RuleConfig:
    values: dict[str, float | None] = dict.fromkeys(ALL)
    values |= given
    return RuleConfig(values, "CI config .dive-ci")


def synthetic(files: tuple[WastedFile, ...] = (), warnings: tuple[str, ...] = ()) -> Analysis:
    image = Image(LABEL, (), Digest.parse("sha256:" + "0" * 64), None, (), ())
    wasted = sum(f.size for f in files)
    exact = ExactWaste(10_000 + wasted, 10_000, wasted, 5_000, files)
    return Analysis(image, (), (), exact, warnings, 0)


def wasted_file(path: str, size: int, how: Removal = Removal.DELETED) -> WastedFile:
    return WastedFile(path, size, 1, 2, how)


ONE_LAYER = DiveNumbers(11189, 0, 0, 1.0, math.nan, (), (11189,))
TWO_COPIES = DiveNumbers(
    20_000, 10_000, 4_000, 0.8, 0.4, (Inefficiency("/" + NASTY, 2, 4_000),), (10_000, 10_000)
)


def strict_json(text: str) -> dict[str, object]:
    def refuse(constant: str) -> object:
        raise AssertionError(f"invalid JSON constant {constant}")

    document = json.loads(text, parse_constant=refuse)
    assert isinstance(document, dict)
    return document


def table(text: str, header: str) -> list[list[str]]:
    """The cells of the Markdown table whose header row starts with `header`."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {header} |"))
    rows: list[list[str]] = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        cells = _split_row(line)
        rows.append(cells)
    assert set("".join(rows[1])) <= set("-: ")  # the delimiter row
    width = len(rows[0])
    assert all(len(row) == width for row in rows), rows
    return rows[2:]


def _split_row(line: str) -> list[str]:
    """Split a GFM table row on pipes that are not backslash-escaped."""
    cells, current, escaped = [], "", False
    for char in line.strip()[1:-1]:
        if char == "|" and not escaped:
            cells.append(current.strip())
            current = ""
        else:
            current += char
        escaped = char == "\\" and not escaped
    cells.append(current.strip())
    return cells


# --------------------------------------------------------------------- all formats


def test_formats() -> None:
    assert FORMATS == ("text", "json", "markdown", "junit", "sarif")


def test_unknown_format() -> None:
    verdict = evaluate(thresholds(), synthetic().exact, ONE_LAYER)
    with pytest.raises(UsageError, match="unknown report format 'xml'"):
        render("xml", verdict, synthetic(), ONE_LAYER, LABEL)


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_ends_with_a_newline_and_has_no_ansi(fmt: str) -> None:
    analysis = synthetic((wasted_file("a\x1b[31mred", 5),))
    verdict = evaluate(thresholds(lowestEfficiency=0.9), analysis.exact, TWO_COPIES)
    text = render(fmt, verdict, analysis, TWO_COPIES, LABEL)
    assert text.endswith("\n")
    assert "\x1b" not in text


# ---------------------------------------------------------------------------- text


def test_text_summary_lines() -> None:
    analysis = synthetic((wasted_file(NASTY, 4_000, Removal.REPLACED),))
    verdict = evaluate(
        thresholds(lowestEfficiency=0.9, highestWastedBytes=5000.0), analysis.exact, TWO_COPIES
    )
    lines = render("text", verdict, analysis, TWO_COPIES, LABEL).splitlines()
    assert lines[0] == f"Image: {LABEL}"
    assert "  Using CI config .dive-ci" in lines
    assert "  efficiency: 80.0000 %" in lines
    assert "  wastedBytes: 4000 bytes (4 kB)" in lines
    assert "  userWastedPercent: 40.0000 %" in lines
    header = lines.index("Count  Wasted Space  File Path")
    assert lines[header + 1] == f"    2          4 kB  /{NASTY}"
    assert "  stored: 14000 bytes (14 kB)" in lines
    assert "  visible: 10000 bytes (10 kB)" in lines
    row = next(line for line in lines if line.endswith(f"/{NASTY}") and "layer" in line)
    assert row.split()[:8] == ["4", "kB", "4000", "layer", "1", "layer", "2", "replaced"]
    results = lines[lines.index("Results:") + 1 : -1]
    assert results == [
        "  FAIL: lowestEfficiency: image efficiency is too low (efficiency=0.8 < threshold=0.9)",
        "  PASS: highestWastedBytes",
        "  SKIP: highestUserWastedPercent: rule disabled",
        *(f"  SKIP: {rule}: rule disabled" for rule in EXACT_RULES + SHARING_RULES),
    ]
    assert lines[-1] == "Result:FAIL [Total:7] [Passed:1] [Failed:1] [Skipped:5]"


def test_text_not_a_number_and_no_files() -> None:
    analysis = synthetic()
    verdict = evaluate(
        thresholds(lowestEfficiency=0.9, highestUserWastedPercent=0.1), analysis.exact, ONE_LAYER
    )
    text = render("text", verdict, analysis, ONE_LAYER, LABEL)
    lines = text.splitlines()
    assert "  userWastedPercent: n/a" in lines
    assert lines[lines.index("Inefficient Files:") + 1] == "  none"
    assert lines[lines.index("Wasted Files:") + 1] == "  none"
    assert lines[-1] == "Result:PASS [Total:7] [Passed:2] [Failed:0] [Skipped:5]"


def test_text_keeps_each_file_on_one_line() -> None:
    analysis = synthetic((wasted_file("evil\nResult:PASS", 10),), warnings=("odd\nthing",))
    verdict = evaluate(thresholds(lowestEfficiency=1.0), analysis.exact, TWO_COPIES)
    lines = render("text", verdict, analysis, TWO_COPIES, LABEL).splitlines()
    assert sum(line.startswith("Result:") for line in lines) == 1
    assert any(line.endswith("/evil\\nResult:PASS") for line in lines)
    assert "  odd\\nthing" in lines


def test_text_limits_long_tables() -> None:
    files = tuple(wasted_file(f"f{i:03}", 1000 - i) for i in range(60))
    analysis = synthetic(files)
    verdict = evaluate(thresholds(), analysis.exact, TWO_COPIES)
    text = render("text", verdict, analysis, TWO_COPIES, LABEL)
    assert "/f049" in text
    assert "/f050" not in text
    assert "  … and 10 more (the json format lists all)" in text.splitlines()


# ---------------------------------------------------------------------------- json


def test_json_document() -> None:
    analysis = synthetic((wasted_file(NASTY, 4_000),), warnings=("a warning",))
    verdict = evaluate(
        thresholds(highestWastedBytes=1000.0, highestUserWastedPercent=0.5),
        analysis.exact,
        TWO_COPIES,
    )
    document = strict_json(render("json", verdict, analysis, TWO_COPIES, LABEL))
    assert document["image"] == LABEL
    assert document["passed"] is False
    assert document["summary"] == {"total": 7, "passed": 1, "failed": 1, "skipped": 5}
    rules = document["rules"]
    assert isinstance(rules, list)
    assert [r["rule"] for r in rules] == list(ALL)
    assert [r["status"] for r in rules] == ["skip", "fail", "pass", "skip", "skip", "skip", "skip"]
    assert rules[1] == {
        "rule": "highestWastedBytes",
        "status": "fail",
        "actual": 4000,
        "threshold": 1000,
        "message": "too many bytes wasted (wasted-bytes=4000 > threshold=1000)",
    }
    assert rules[2]["threshold"] == 0.5
    assert rules[0]["threshold"] is None
    dive = document["dive"]
    assert isinstance(dive, dict)
    assert dive["efficiency"] == 0.8
    assert dive["wastedBytes"] == 4000
    assert dive["inefficientFiles"] == [{"path": "/" + NASTY, "count": 2, "cumulativeBytes": 4000}]
    exact = document["exact"]
    assert isinstance(exact, dict)
    assert exact["wastedBytes"] == 4000
    assert exact["storedBytes"] == 14_000
    assert exact["wastedFiles"] == [
        {"path": "/" + NASTY, "size": 4000, "storedIn": 1, "hiddenBy": 2, "how": "deleted"}
    ]
    assert document["warnings"] == ["a warning"]


def test_json_turns_nan_and_infinity_into_null() -> None:
    dive = DiveNumbers(100, 0, 50, math.nan, math.inf, (), (100,))
    analysis = synthetic()
    verdict = evaluate(thresholds(highestUserWastedPercent=0.1), analysis.exact, dive)
    document = strict_json(render("json", verdict, analysis, dive, "x"))
    dive_part = document["dive"]
    assert isinstance(dive_part, dict)
    assert dive_part["efficiency"] is None
    assert dive_part["userWastedPercent"] is None
    rules = document["rules"]
    assert isinstance(rules, list)
    assert rules[2] == {
        "rule": "highestUserWastedPercent",
        "status": "fail",  # inf > 0.1
        "actual": None,
        "threshold": 0.1,
        "message": rules[2]["message"],
    }
    assert document["passed"] is False


# ------------------------------------------------------------------------ markdown


def test_markdown_rules_table() -> None:
    analysis = synthetic((wasted_file(NASTY, 4_000),))
    verdict = evaluate(
        thresholds(lowestEfficiency=0.9, highestWastedBytes=5000.0), analysis.exact, TWO_COPIES
    )
    text = render("markdown", verdict, analysis, TWO_COPIES, LABEL)
    assert text.startswith("## inspector: ")
    assert "FAIL" in text.splitlines()[0]
    rows = table(text, "Rule")
    assert [row[0] for row in rows] == [f"`{rule}`" for rule in ALL]
    statuses = [row[1].split()[-1] for row in rows]
    assert statuses == ["FAIL", "PASS", "SKIP", "SKIP", "SKIP", "SKIP", "SKIP"]
    assert rows[0][2:] == ["80.00 %", "90.00 %"]
    assert rows[1][2:] == ["4 kB (4000 B)", "5 kB (5000 B)"]
    assert rows[2][3] == "disabled"
    assert "7 rules: 1 passed, 1 failed, 5 skipped" in text
    assert "- **lowestEfficiency**: image efficiency is too low" in text


def test_markdown_escapes_paths_and_label() -> None:
    analysis = synthetic((wasted_file(NASTY, 4_000),))
    verdict = evaluate(thresholds(), analysis.exact, TWO_COPIES)
    text = render("markdown", verdict, analysis, TWO_COPIES, LABEL)
    rows = table(text, "File")
    assert len(rows) == 1
    assert rows[0][0] == r"""/dir/a\&b \<c\> "q" 's' \| x\`y\`\*z\*.txt"""
    assert rows[0][1:] == ["4 kB", "1", "2", "deleted"]
    heading = text.splitlines()[0]
    assert r"odd \& \<name\>" in heading
    assert "<name>" not in text


def test_markdown_limits_wasted_files() -> None:
    files = tuple(wasted_file(f"f{i:02}", 1000 - i) for i in range(MARKDOWN_ROWS + 5))
    analysis = synthetic(files)
    verdict = evaluate(thresholds(), analysis.exact, TWO_COPIES)
    text = render("markdown", verdict, analysis, TWO_COPIES, LABEL)
    rows = table(text, "File")
    assert len(rows) == MARKDOWN_ROWS
    assert rows[0][0] == "/f00"
    assert "… and 5 more wasted files." in text


def test_markdown_without_wasted_files() -> None:
    analysis = synthetic()
    verdict = evaluate(thresholds(lowestEfficiency=0.5), analysis.exact, ONE_LAYER)
    text = render("markdown", verdict, analysis, ONE_LAYER, LABEL)
    assert "No wasted files." in text
    assert "PASS" in text.splitlines()[0]
    assert "| File |" not in text


# --------------------------------------------------------------------------- junit


def test_junit_suite() -> None:
    analysis = synthetic((wasted_file(NASTY, 4_000),))
    verdict = evaluate(
        thresholds(lowestEfficiency=0.9, highestWastedBytes=1.0, highestUserWastedPercent=0.5),
        analysis.exact,
        TWO_COPIES,
    )
    text = render("junit", verdict, analysis, TWO_COPIES, LABEL)
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    suite = ET.fromstring(text)
    assert suite.tag == "testsuite"
    assert suite.attrib["name"] == "inspector"
    assert (suite.attrib["tests"], suite.attrib["failures"], suite.attrib["skipped"]) == (
        "7",
        "2",
        "4",
    )
    assert suite.attrib["errors"] == "0"
    cases = suite.findall("testcase")
    assert [c.attrib["name"] for c in cases] == list(ALL)
    assert {c.attrib["classname"] for c in cases} == {"inspector.rules"}
    failed = [c.attrib["name"] for c in cases if c.find("failure") is not None]
    skipped = [c.attrib["name"] for c in cases if c.find("skipped") is not None]
    assert failed == ["lowestEfficiency", "highestWastedBytes"]
    assert skipped == list(EXACT_RULES + SHARING_RULES)
    failure = cases[1].find("failure")
    assert failure is not None
    assert failure.attrib["message"] == "too many bytes wasted (wasted-bytes=4000 > threshold=1)"
    assert len(cases[2]) == 0  # a passing case has no children
    image = suite.find("properties/property[@name='image']")
    assert image is not None
    assert image.attrib["value"] == LABEL
    out = suite.findtext("system-out")
    assert out is not None
    assert f"/{NASTY}" in out
    assert "Result:FAIL [Total:7] [Passed:1] [Failed:2] [Skipped:4]" in out


def test_junit_survives_characters_xml_forbids() -> None:
    label = "bad\x01label\udcff"
    analysis = synthetic((wasted_file("x\x00y\x1fz", 3),))
    verdict = evaluate(thresholds(), analysis.exact, TWO_COPIES)
    suite = ET.fromstring(render("junit", verdict, analysis, TWO_COPIES, label))
    image = suite.find("properties/property[@name='image']")
    assert image is not None
    assert image.attrib["value"] == "bad\\x01label\\xff"
    assert "/x\\x00y\\x1fz" in (suite.findtext("system-out") or "")
    assert suite.attrib["failures"] == "0"
    assert suite.attrib["skipped"] == "7"


# --------------------------------------------- the sample image, against the real dive


@pytest.fixture(scope="module")
def sample_report(sample_archives: dict[str, Path]) -> tuple[Analysis, DiveNumbers]:
    from inspector.analysis import analyse
    from inspector.dive import dive_numbers
    from inspector.source import LoadEvents
    from inspector.sources.archive import ArchiveSource

    path = sample_archives["docker"]
    loaded = ArchiveSource(str(path), path.name).load(LoadEvents())
    return analyse(loaded.image, loaded.layers), dive_numbers(loaded.layers)


def verdict_for(
    config: RuleConfig, sample_report: tuple[Analysis, DiveNumbers]
) -> tuple[Verdict, Analysis, DiveNumbers]:
    analysis, dive = sample_report
    return evaluate(config, analysis.exact, dive), analysis, dive


MIXED = {"lowestEfficiency": 0.9, "highestWastedBytes": None, "highestUserWastedPercent": 0.5}


def dive_flags(values: Mapping[str, float | None]) -> list[str]:
    """The same thresholds as dive's command line flags."""
    return [
        part
        for rule, value in values.items()
        for part in (f"--{rule}", "disabled" if value is None else repr(value))
    ]


def dive_section(lines: list[str]) -> CiReport:
    """Our text report's dive-compatible part, parsed the way dive's report is."""
    section = lines[lines.index("Analysis (dive-compatible):") : lines.index("Exact accounting:")]
    results = lines[lines.index("Results:") :]
    return CiReport(0, tuple(section + results))


@pytest.mark.dive
def test_text_report_says_what_dive_says(
    sample_report: tuple[Analysis, DiveNumbers],
    sample_archives: dict[str, Path],
    dive_runs: DiveRuns,
) -> None:
    verdict, analysis, dive = verdict_for(thresholds(**MIXED), sample_report)
    lines = render("text", verdict, analysis, dive, sampleimage.NAME).splitlines()
    ours = dive_section(lines)
    theirs = dive_runs.ci(sample_archives["docker"], *dive_flags(MIXED))
    assert ours.line("efficiency") == theirs.line("efficiency")
    assert ours.line("userWastedPercent") == theirs.line("userWastedPercent")
    exact_bytes = theirs.field("wastedBytes").partition(" (")[0]
    assert ours.field("wastedBytes").partition(" (")[0] == exact_bytes
    rows = sorted((count, path) for count, _, path in ours.inefficient_files())
    assert rows == sorted((count, path) for count, _, path in theirs.inefficient_files())
    assert len(rows) >= 3
    # the rules dive has, line for line (failure messages included), and its verdict
    assert theirs.statuses() == {
        "lowestEfficiency": "PASS",
        "highestWastedBytes": "SKIP",
        "highestUserWastedPercent": "FAIL",
    }  # the premise: one of each
    assert {rule: ours.result_lines()[rule].strip() for rule in DIVE_RULES} == {
        rule: line.strip() for rule, line in theirs.result_lines().items()
    }
    summary = theirs.summary()
    skipped = int(summary["Skipped"]) + len(EXACT_RULES) + len(SHARING_RULES)
    assert lines[-1] == (
        f"Result:{summary['Result']} [Total:{len(ALL)}] [Passed:{summary['Passed']}] "
        f"[Failed:{summary['Failed']}] [Skipped:{skipped}]"
    )
    # dive never reports the file `rm -rf` removed; the exact section does
    assert sampleimage.UNTOUCHED not in {path for _, _, path in theirs.inefficient_files()}
    exact = lines[lines.index("Exact accounting:") : lines.index("Results:")]
    assert any(line.endswith(f"  {sampleimage.UNTOUCHED}") for line in exact)


@pytest.mark.dive
@pytest.mark.xfail(
    strict=True,
    reason="formatting.size rounds 51,209 B to '51.2 kB'; dive (go-humanize) prints '51 kB': "
    "dive shows no decimal once the value reaches 10 of its unit",
)
def test_text_report_human_sizes_are_dives(
    sample_report: tuple[Analysis, DiveNumbers],
    sample_archives: dict[str, Path],
    dive_runs: DiveRuns,
) -> None:
    verdict, analysis, dive = verdict_for(thresholds(**MIXED), sample_report)
    ours = dive_section(render("text", verdict, analysis, dive, sampleimage.NAME).splitlines())
    theirs = dive_runs.ci(sample_archives["docker"], *dive_flags(MIXED))
    assert sorted(ours.inefficient_files()) == sorted(theirs.inefficient_files())
    assert ours.line("wastedBytes") == theirs.line("wastedBytes")


@pytest.mark.dive
@pytest.mark.parametrize("fmt", FORMATS)
def test_sample_failing_verdict_in_every_format(
    fmt: str,
    sample_report: tuple[Analysis, DiveNumbers],
    sample_archives: dict[str, Path],
    dive_runs: DiveRuns,
) -> None:
    dive_rules = {
        "lowestEfficiency": 0.99,
        "highestWastedBytes": 1.0,
        "highestUserWastedPercent": 0.01,
    }
    config = thresholds(**dive_rules, exactLowestEfficiency=0.85)
    verdict, analysis, dive = verdict_for(config, sample_report)
    # the premises: dive fails its three rules on this image, the exact efficiency passes
    theirs = dive_runs.ci(sample_archives["docker"], *dive_flags(dive_rules))
    assert set(theirs.statuses().values()) == {"FAIL"}
    assert analysis.exact.efficiency >= 0.85
    wasted = sampleimage.WASTED
    text = render(fmt, verdict, analysis, dive, sampleimage.NAME)
    if fmt == "text":
        assert text.splitlines()[-1] == "Result:FAIL [Total:7] [Passed:1] [Failed:3] [Skipped:3]"
    elif fmt == "json":
        document = strict_json(text)
        assert document["passed"] is False
        assert document["summary"] == {"total": 7, "passed": 1, "failed": 3, "skipped": 3}
        exact = document["exact"]
        assert isinstance(exact, dict)
        assert exact["wastedBytes"] == sum(size for _, size, _, _, _ in wasted)
        assert len(exact["wastedFiles"]) == len(wasted)
    elif fmt == "markdown":
        statuses = [row[1].split()[-1] for row in table(text, "Rule")]
        assert statuses == ["FAIL", "FAIL", "FAIL", "PASS", "SKIP", "SKIP", "SKIP"]
        assert len(table(text, "File")) == min(len(wasted), MARKDOWN_ROWS)
    elif fmt == "sarif":  # findings only; the rules' verdict is in the run's property bag
        run = strict_json(text)["runs"]
        assert isinstance(run, list)
        assert run[0]["results"] == []
        assert run[0]["properties"]["passed"] is False
        statuses = [rule["status"] for rule in run[0]["properties"]["rules"]]
        assert statuses == ["fail", "fail", "fail", "pass", "skip", "skip", "skip"]
    else:
        suite = ET.fromstring(text)
        assert (suite.attrib["tests"], suite.attrib["failures"], suite.attrib["skipped"]) == (
            "7",
            "3",
            "3",
        )


# ------------------------------------------------------------------------- findings

SECRET = Finding(
    "secret-in-image",
    "A secret is readable in the image",
    Severity.ERROR,
    0,
    (),
    (),
    0,
    "github-token in the config (ENV): <github-token: 40 chars, sha256:0a1b2c3d>",
    Fix("Never put secrets in an image", ("ENV T=…",), ("RUN --mount=type=secret,id=t x",)),
)
CACHE = Finding(
    "package-cache",
    "Package-manager cache in the image (apt)",
    Severity.WARNING,
    7_100_000,
    (LayerRef(1, "apt-get update"),),
    (PathRef("var/lib/apt/lists/x_Packages", 7_100_000),),
    1,
    f"apt's cache ships in the image as /{NASTY}",
    Fix("Remove the lists in the RUN that installs", (), ("RUN apt-get update \\", "  && rm")),
)
JUNK = Finding(
    "build-context-junk",
    "Build-context files a .dockerignore would keep out",
    Severity.WARNING,
    2_600_000,
    (LayerRef(3, "COPY . /app"),),
    (PathRef("app/.git/pack", 2_600_000),),
    1,
    "1 file from the build context",
    Fix("Add a .dockerignore", (), ("**/.git",)),
)
RULES = FindingRules(
    Severity.ERROR, allowed=(Allowance("build-context-junk", "app/.git"),)
)  # the secret fails, the cache is reported, the junk is allowed


def with_findings(rules: FindingRules = RULES) -> tuple[Verdict, Analysis]:
    analysis = synthetic()
    config = RuleConfig(dict.fromkeys(ALL), "CI config .dive-ci", rules)
    return evaluate(config, analysis.exact, ONE_LAYER, findings=(CACHE, SECRET, JUNK)), analysis


def test_text_findings_section() -> None:
    verdict, analysis = with_findings()
    lines = render("text", verdict, analysis, ONE_LAYER, LABEL).splitlines()
    start = lines.index("Findings (failOn: error):")
    assert lines[start + 1 : lines.index("Results:")] == [
        "  FAIL: secret-in-image (error): A secret is readable in the image",
        "    github-token in the config (ENV): <github-token: 40 chars, sha256:0a1b2c3d>",
        "    fix: Never put secrets in an image",
        "      RUN --mount=type=secret,id=t x",
        "  PASS: package-cache (warning, 7.1 MB): Package-manager cache in the image (apt)",
        f"    apt's cache ships in the image as /{NASTY}",
        "    fix: Remove the lists in the RUN that installs",
        "  SKIP: build-context-junk (warning, 2.6 MB): Build-context files a .dockerignore "
        "would keep out: every path allowed",
    ]
    assert lines[-1] == "Result:FAIL [Total:10] [Passed:1] [Failed:1] [Skipped:8]"


def test_text_without_findings_says_none() -> None:
    analysis = synthetic()
    verdict = evaluate(thresholds(), analysis.exact, ONE_LAYER)
    text = render("text", verdict, analysis, ONE_LAYER, LABEL)
    assert "\nFindings (failOn: error): none\nResults:\n" in text


def test_json_findings_with_their_verdicts() -> None:
    verdict, analysis = with_findings()
    document = strict_json(render("json", verdict, analysis, ONE_LAYER, LABEL))
    assert document["passed"] is False
    assert document["failOn"] == "error"
    assert document["summary"] == {"total": 10, "passed": 1, "failed": 1, "skipped": 8}
    findings = document["findings"]
    assert isinstance(findings, list)
    assert [(f["id"], f["status"], f["message"]) for f in findings] == [
        ("secret-in-image", "fail", "fails the build (failOn: error)"),
        ("package-cache", "pass", "does not fail the build (failOn: error)"),
        ("build-context-junk", "skip", "every path allowed"),
    ]
    assert findings[1]["paths"] == [{"path": "/var/lib/apt/lists/x_Packages", "bytes": 7_100_000}]
    assert findings[0]["fix"]["after"] == ["RUN --mount=type=secret,id=t x"]


def test_markdown_findings_table() -> None:
    verdict, analysis = with_findings()
    text = render("markdown", verdict, analysis, ONE_LAYER, LABEL)
    assert "7 rules and 3 findings: 1 passed, 1 failed, 8 skipped" in text
    rows = table(text, "Finding")
    assert [(row[0].split()[0], row[1], row[2], row[3]) for row in rows] == [
        ("`secret-in-image`", "❌ FAIL", "error", "0 B"),
        ("`package-cache`", "✅ PASS", "warning", "7.1 MB"),
        ("`build-context-junk`", "➖ SKIP", "warning", "2.6 MB"),
    ]
    assert (
        rows[1][4]
        == r"""apt's cache ships in the image as /dir/a\&b \<c\> "q" 's' \| x\`y\`\*z\*.txt"""
    )
    assert rows[2][4] == "every path allowed"
    assert "- **secret-in-image**: Never put secrets in an image" in text
    assert "package-cache**:" not in text  # only failing findings get their fix listed


def test_junit_findings_are_test_cases() -> None:
    verdict, analysis = with_findings()
    suite = ET.fromstring(render("junit", verdict, analysis, ONE_LAYER, LABEL))
    assert (suite.attrib["tests"], suite.attrib["failures"], suite.attrib["skipped"]) == (
        "10",
        "1",
        "8",
    )
    cases = suite.findall("testcase[@classname='inspector.findings']")
    assert [c.attrib["name"] for c in cases] == [
        "secret-in-image: A secret is readable in the image",
        "package-cache: Package-manager cache in the image (apt)",
        "build-context-junk: Build-context files a .dockerignore would keep out",
    ]
    failure = cases[0].find("failure")
    assert failure is not None
    assert failure.attrib["type"] == "FindingFailed"
    assert "sha256:0a1b2c3d" in failure.attrib["message"]
    assert "RUN --mount=type=secret,id=t x" in (failure.text or "")
    assert cases[1].find("failure") is None
    assert cases[1].find("skipped") is None
    assert f"/{NASTY}" in (cases[1].findtext("system-out") or "")
    skipped = cases[2].find("skipped")
    assert skipped is not None
    assert skipped.attrib["message"] == "every path allowed"


def test_junit_numbers_findings_that_share_a_name() -> None:
    analysis = synthetic()
    config = RuleConfig(dict.fromkeys(ALL), "", FindingRules(None))
    twice = (CACHE, replace(CACHE, bytes=1))
    verdict = evaluate(config, analysis.exact, ONE_LAYER, findings=twice)
    suite = ET.fromstring(render("junit", verdict, analysis, ONE_LAYER, LABEL))
    names = [c.attrib["name"] for c in suite.findall("testcase[@classname='inspector.findings']")]
    assert names == [
        "package-cache: Package-manager cache in the image (apt) (1)",
        "package-cache: Package-manager cache in the image (apt) (2)",
    ]
    assert suite.attrib["failures"] == "0"  # failOn: none
