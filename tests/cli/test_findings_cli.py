"""Findings through the installed command line, on the demo image (deleted-later,
package-cache, build-context-junk: three warnings): the text summary, the JSON, CI mode's
rules on findings and their exit codes, the rules file, and SARIF."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import services
from sarifschema import validate

from inspector.demo import build_demo

DIVE_RULES_OFF = ["--lowestEfficiency", "disabled", "--highestUserWastedPercent", "disabled"]
IDS = ["deleted-later", "package-cache", "build-context-junk"]
KEYS = {"id", "title", "severity", "bytes", "layers", "paths", "pathCount", "evidence", "fix"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "demo.tar"
    path.write_bytes(build_demo())
    return path


def ci(demo: Path, cwd: Path, *args: str) -> Any:
    return services.run_cli(demo, "--ci", *DIVE_RULES_OFF, *args, cwd=cwd)


def test_text_summary_lists_the_findings(demo: Path, tmp_path: Path) -> None:
    result = services.run_cli(demo, "--text", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    start = lines.index("Findings: 3 warnings")
    heads = [line.split()[:3] for line in lines[start + 1 :] if line.startswith("  warning")]
    assert heads == [
        ["warning", "deleted-later", "24"],
        ["warning", "package-cache", "7.1"],
        ["warning", "build-context-junk", "2.6"],
    ]
    assert "                **/.git" in lines  # the fix's .dockerignore line, indented


def test_json_has_the_findings_with_exactly_their_keys(demo: Path) -> None:
    document = services.inspector_json(demo)
    findings = document["findings"]
    assert [f["id"] for f in findings] == IDS
    assert all(set(f) == KEYS for f in findings)
    deleted = findings[0]
    assert deleted["paths"] == [{"path": "/tmp/dataset.tar.gz", "bytes": 24_000_000}]
    assert [layer["index"] for layer in deleted["layers"]] == [4, 5]
    assert deleted["layers"][1]["command"] == "/bin/sh -c rm /tmp/dataset.tar.gz"
    assert set(deleted["fix"]) == {"text", "before", "after"}
    assert deleted["pathCount"] == 1
    assert deleted["severity"] == "warning"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], 0),  # warnings do not fail the build by default (failOn: error)
        (["--fail-on", "warning"], 1),
        (["--fail-on", "info"], 1),
        (["--fail-on", "none", "--finding-severity", "package-cache:error"], 0),
        (["--finding-severity", "package-cache:error"], 1),
        (["--fail-on", "warning", *(f"--disable-finding={i}" for i in IDS)], 0),
        (["--fail-on", "warning", "--disable-finding", "deleted-later"], 1),
        (
            [
                "--fail-on=warning",
                "--finding-min-bytes=deleted-later:25MB",
                "--finding-min-bytes=package-cache:8MB",
                "--allow=build-context-junk:app/.git/*",
            ],
            0,
        ),
    ],
    ids=[
        "default",
        "warning",
        "info",
        "none-beats-error",
        "raised",
        "all-disabled",
        "two-left",
        "sizes-and-allow",
    ],
)
def test_fail_on_exit_codes(args: list[str], expected: int, demo: Path, tmp_path: Path) -> None:
    result = ci(demo, tmp_path, *args)
    assert result.returncode == expected, result.stdout + result.stderr


def test_the_rules_file_sets_the_finding_rules(demo: Path, tmp_path: Path) -> None:
    (tmp_path / ".dive-ci").write_text(
        "rules:\n"
        "  lowestEfficiency: disabled\n"
        "  highestUserWastedPercent: disabled\n"
        "failOn: warning\n"
        "findings:\n"
        "  package-cache: {enabled: false}\n"
        "  deleted-later: {minBytes: 10MB, severity: info}\n"
        "allow:\n"
        "  - {id: build-context-junk, path: app/.git}\n"
    )
    result = services.run_cli(demo, "--ci", cwd=tmp_path)
    assert result.returncode == 0, result.stdout
    assert "  PASS: deleted-later (info, 24 MB): " in result.stdout
    assert "  SKIP: package-cache (warning, 7.1 MB): " in result.stdout
    assert "would keep out: every path allowed" in result.stdout
    # a flag beats the file
    assert services.run_cli(demo, "--ci", "--fail-on", "info", cwd=tmp_path).returncode == 1
    enabled = services.run_cli(demo, "--ci", "--enable-finding", "package-cache", cwd=tmp_path)
    assert enabled.returncode == 1
    assert "  FAIL: package-cache (warning, 7.1 MB): " in enabled.stdout


BAD = {
    "unknown finding id": ("findings:\n  no-such-thing: {enabled: false}\n", "no-such-thing"),
    "bad severity": ("findings:\n  package-cache: {severity: fatal}\n", "'fatal' is not"),
    "bad size": ("findings:\n  duplicate-content: {minBytes: 10XB}\n", "'10XB' is not a byte"),
    "bad failOn": ("failOn: sometimes\n", "failOn: 'sometimes' is not a severity"),
}


@pytest.mark.parametrize("case", BAD)
def test_a_bad_rules_file_is_exit_2_and_one_line(case: str, demo: Path, tmp_path: Path) -> None:
    text, words = BAD[case]
    (tmp_path / "rules.yaml").write_text(text)
    result = services.run_cli(demo, "--ci", "--ci-config", "rules.yaml", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("inspector: rules.yaml: ")
    assert words in line


@pytest.mark.parametrize(
    "args",
    [
        ["--fail-on", "fatal"],
        ["--disable-finding", "nope"],
        ["--finding-min-bytes", "package-cache:12XB"],
        ["--finding-severity", "package-cache"],
        ["--allow", "app/tests/*"],
        ["--allow", "*:/"],
    ],
    ids=["fail-on", "unknown-id", "size", "severity-form", "allow-form", "allow-root"],
)
def test_a_bad_finding_flag_is_exit_2_before_the_image_is_read(
    args: list[str], tmp_path: Path
) -> None:
    result = services.run_cli(tmp_path / "missing.tar", "--ci", *args, cwd=tmp_path)
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"inspector: {args[0]}")  # the flag, not the missing image


def test_sarif_report(demo: Path, tmp_path: Path) -> None:
    result = ci(demo, tmp_path, "--ci-format", "sarif", "--fail-on", "warning")
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        "inspector: CI verdict FAIL: deleted-later, package-cache, build-context-junk"
    )
    document = validate(result.stdout)
    (run,) = document["runs"]
    assert [r["ruleId"] for r in run["results"]] == IDS
    assert all(r["properties"]["failsBuild"] for r in run["results"])
    again = ci(demo, tmp_path, "--ci-format", "sarif", "--fail-on", "warning")
    assert again.stdout == result.stdout  # stable across runs, fingerprints included
    passing = ci(demo, tmp_path, "--ci-format", "sarif")
    assert passing.returncode == 0
    assert passing.stderr == ""


@pytest.mark.parametrize("fmt", ["text", "json", "markdown", "junit", "sarif"])
def test_every_ci_format_carries_the_findings(fmt: str, demo: Path, tmp_path: Path) -> None:
    result = ci(demo, tmp_path, "--ci-format", fmt, "--fail-on", "warning")
    assert result.returncode == 1
    out = result.stdout
    if fmt == "json":
        assert [(f["id"], f["status"]) for f in json.loads(out)["findings"]] == [
            (i, "fail") for i in IDS
        ]
    elif fmt == "junit":
        suite = ET.fromstring(out)
        failed = suite.findall("testcase[@classname='inspector.findings']/failure")
        assert len(failed) == 3
    elif fmt == "sarif":
        assert len(json.loads(out)["runs"][0]["results"]) == 3
    else:
        assert all(f"{i}" in out for i in IDS)
        assert out.count("FAIL") >= 3


def test_the_json_example_in_the_findings_page_is_what_the_demo_gives(demo: Path) -> None:
    page = (Path(__file__).resolve().parents[2] / "docs" / "findings.md").read_text()
    example = page.split("```json\n", 1)[1].split("\n```", 1)[0]
    shown = json.loads(example)
    (found,) = [f for f in services.inspector_json(demo)["findings"] if f["id"] == shown["id"]]
    assert shown == found
