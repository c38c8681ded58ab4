"""A CI verdict as a report: dive-like text, JSON, Markdown, JUnit XML or SARIF (pure).

Every format carries the rule results and the findings with their verdicts (fails the
build, reported, or dropped by the configuration); text and JSON also carry dive's
numbers and the exact accounting, Markdown a GitHub step summary with the largest wasted
files, JUnit one test case per rule and per finding, SARIF (`inspector.sarif`) the
findings for code scanning. When other images were looked at, every format also gives the bytes
shared with them, the bytes unique to this image and which layers are shared. Non-finite
numbers (dive's userWastedPercent of a one-layer image) become `null` in JSON and `n/a`
in text. Paths are shown absolute, as dive shows them.

Image-supplied text (the label, paths, image names, warnings) goes through
`display.clean` in text, Markdown and JUnit: one line each, nothing a terminal or a
renderer acts on, nothing XML 1.0 forbids. JSON keeps exact values (`inspector.jsontext`).
"""

from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from inspector import sarif
from inspector.analysis import Analysis, ExactWaste, WastedFile
from inspector.display import clean, one_line
from inspector.dive import DiveNumbers, Inefficiency
from inspector.errors import UsageError
from inspector.formatting import size as human_size
from inspector.jsontext import name_fields, valid_strings
from inspector.report import finding_document
from inspector.rules import BYTE_RULES, FindingResult, RuleResult, Status, Verdict
from inspector.sharing import Sharing

FORMATS = ("text", "json", "markdown", "junit", "sarif")
TEXT_ROWS = 50  # rows of each file table in the text report
MARKDOWN_ROWS = 20  # rows of the wasted-files table in the Markdown report


def render(
    fmt: str,
    verdict: Verdict,
    analysis: Analysis,
    dive: DiveNumbers,
    label: str,
    shared: Sharing | None = None,
    *,
    dockerfile: str = sarif.DOCKERFILE,
) -> str:
    """The report in format `fmt` (one of FORMATS), ending with a newline.

    `shared`: the layers shared with other images, when other images were looked at
    (an engine's images, `--compare`, `--compare-tags`); None leaves the section out.
    `dockerfile`: where SARIF places findings that have no path."""
    if fmt == "sarif":
        return sarif.render(verdict, label, dockerfile)
    renderer = _RENDERERS.get(fmt)
    if renderer is None:
        raise UsageError(f"unknown report format {fmt!r} (choose from {', '.join(FORMATS)})")
    return renderer(Report(verdict, analysis, dive, label, shared))


# ----------------------------------------------------------------------------- helpers


@dataclass(frozen=True, slots=True)
class Report:
    verdict: Verdict
    analysis: Analysis
    dive: DiveNumbers
    label: str
    shared: Sharing | None


def _shared_layers(shared: Sharing) -> list[tuple[int, tuple[str, ...]]]:
    return [(i, names) for i, names in enumerate(shared.shared_with) if names]


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _percent(value: float, digits: int = 4) -> str:
    return f"{value * 100:.{digits}f} %" if math.isfinite(value) else "n/a"


def _shown_path(path: str) -> str:
    return path if path.startswith("/") else f"/{path}"


def _rule_value(rule: str, value: float | None) -> str:
    if value is None:
        return "disabled"
    if rule in BYTE_RULES:
        return f"{human_size(int(value))} ({int(value)} B)" if math.isfinite(value) else "n/a"
    return _percent(value, 2)


def _counts(verdict: Verdict) -> tuple[int, int, int, int]:
    return (
        len(verdict.results) + len(verdict.findings),
        verdict.count(Status.PASS),
        verdict.count(Status.FAIL),
        verdict.count(Status.SKIP),
    )


# -------------------------------------------------------------------------------- text


def _text(report: Report) -> str:
    verdict, analysis, dive, label = report.verdict, report.analysis, report.dive, report.label
    lines = [f"Image: {clean(label)}"]
    if verdict.source:
        lines.append(f"  Using {clean(verdict.source)}")
    lines += [
        "Analysis (dive-compatible):",
        f"  efficiency: {_percent(dive.efficiency)}",
        f"  wastedBytes: {dive.wasted_bytes} bytes ({human_size(dive.wasted_bytes)})",
        f"  userWastedPercent: {_percent(dive.user_wasted_percent)}",
        "Inefficient Files:",
        *_inefficiency_table(dive.inefficiencies),
        *_exact_section(analysis.exact),
        *(_sharing_section(report.shared) if report.shared is not None else []),
    ]
    if analysis.warnings:
        lines.append("Warnings:")
        lines += [f"  {one_line(w)}" for w in analysis.warnings]
    lines += _findings_section(verdict)
    lines.append("Results:")
    lines += [_text_result(r) for r in verdict.results]
    total, passed, failed, skipped = _counts(verdict)
    outcome = "PASS" if verdict.passed else "FAIL"
    lines.append(
        f"Result:{outcome} [Total:{total}] [Passed:{passed}] [Failed:{failed}] [Skipped:{skipped}]"
    )
    return "\n".join(lines) + "\n"


def _more(shown: int, total: int) -> list[str]:
    return [f"  … and {total - shown} more (the json format lists all)"] if total > shown else []


def _inefficiency_table(rows: tuple[Inefficiency, ...]) -> list[str]:
    if not rows:
        return ["  none"]
    lines = ["Count  Wasted Space  File Path"]
    for row in rows[:TEXT_ROWS]:
        size = human_size(row.cumulative_size)
        lines.append(f"{row.count:>5}  {size:>12}  {clean(row.path)}")
    return lines + _more(min(len(rows), TEXT_ROWS), len(rows))


def _exact_section(exact: ExactWaste) -> list[str]:
    def amount(size: int) -> str:
        return f"{size} bytes ({human_size(size)})"

    lines = [
        "Exact accounting:",
        f"  stored: {amount(exact.stored_bytes)}",
        f"  visible: {amount(exact.visible_bytes)}",
        f"  wastedBytes: {amount(exact.wasted_bytes)}",
        f"  efficiency: {_percent(exact.efficiency)}",
        f"  userWastedPercent: {_percent(exact.user_wasted_percent)}",
        "Wasted Files:",
    ]
    files = exact.wasted_files
    if not files:
        return [*lines, "  none"]
    lines.append("Wasted Space       Bytes  Stored In  Hidden By  How             File Path")
    for f in files[:TEXT_ROWS]:
        lines.append(
            f"{human_size(f.size):>12}  {f.size:>10}  {f'layer {f.stored_in}':>9}  "
            f"{f'layer {f.hidden_by}':>9}  {f.how.value:<14}  {clean(_shown_path(f.path))}"
        )
    return lines + _more(min(len(files), TEXT_ROWS), len(files))


def _sharing_section(shared: Sharing) -> list[str]:
    lines = [
        "Shared with other images:",
        f"  sharedBytes: {shared.shared_bytes} bytes ({human_size(shared.shared_bytes)})",
        f"  uniqueBytes: {shared.unique_bytes} bytes ({human_size(shared.unique_bytes)})",
    ]
    layers = _shared_layers(shared)
    if not layers:
        return [*lines, "  no layer is shared"]
    for i, names in layers[:TEXT_ROWS]:
        lines.append(f"  layer {i}: {clean(', '.join(names))}")
    return lines + _more(min(len(layers), TEXT_ROWS), len(layers))


def _fail_on(verdict: Verdict) -> str:
    return verdict.fail_on.value if verdict.fail_on is not None else "none"


def _finding_head(result: FindingResult) -> str:
    """`secret-in-image (error, 2 kB): A secret is readable in the image`, clean."""
    f = result.finding
    amount = f", {human_size(f.bytes)}" if f.bytes else ""
    return f"{clean(f.id)} ({f.severity.value}{amount}): {clean(f.title)}"


def _findings_section(verdict: Verdict) -> list[str]:
    head = f"Findings (failOn: {_fail_on(verdict)}):"
    if not verdict.findings:
        return [f"{head} none"]
    lines = [head]
    for result in verdict.findings:
        status = result.status.value.upper()
        if result.status is Status.SKIP:
            lines.append(f"  {status}: {_finding_head(result)}: {clean(result.message)}")
            continue
        f = result.finding
        lines.append(f"  {status}: {_finding_head(result)}")
        lines.append(f"    {clean(f.evidence)}")
        lines.append(f"    fix: {clean(f.fix.text)}")
        if result.status is Status.FAIL:
            lines += [f"      {clean(line)}" for line in f.fix.after]
    return lines


def _text_result(result: RuleResult) -> str:
    head = f"  {result.status.value.upper()}: {result.rule}"
    return head if result.status is Status.PASS else f"{head}: {result.message}"


# -------------------------------------------------------------------------------- json


def _json(report: Report) -> str:
    verdict, analysis, dive, label = report.verdict, report.analysis, report.dive, report.label
    total, passed, failed, skipped = _counts(verdict)
    document = {
        "image": label,
        "passed": verdict.passed,
        "config": verdict.source,
        "summary": {"total": total, "passed": passed, "failed": failed, "skipped": skipped},
        "rules": [_json_rule(r) for r in verdict.results],
        "dive": _json_dive(dive),
        "exact": _json_exact(analysis.exact),
        "sharing": _json_sharing(report.shared) if report.shared is not None else None,
        "failOn": _fail_on(verdict),
        "findings": [
            {**finding_document(r.finding), "status": r.status.value, "message": r.message}
            for r in verdict.findings
        ],
        "warnings": list(analysis.warnings),
    }
    return json.dumps(valid_strings(document), indent=2, allow_nan=False) + "\n"


def _json_number(rule: str, value: float | None) -> float | int | None:
    if value is None or not math.isfinite(value):
        return None
    return int(value) if rule in BYTE_RULES else value


def _json_rule(result: RuleResult) -> dict[str, object]:
    return {
        "rule": result.rule,
        "status": result.status.value,
        "actual": _json_number(result.rule, result.actual),
        "threshold": _json_number(result.rule, result.threshold),
        "message": result.message,
    }


def _json_dive(dive: DiveNumbers) -> dict[str, object]:
    return {
        "efficiency": _finite(dive.efficiency),
        "wastedBytes": dive.wasted_bytes,
        "userWastedPercent": _finite(dive.user_wasted_percent),
        "sizeBytes": dive.size_bytes,
        "userSizeBytes": dive.user_size_bytes,
        "inefficientFiles": [
            {**name_fields("path", i.path), "count": i.count, "cumulativeBytes": i.cumulative_size}
            for i in dive.inefficiencies
        ],
    }


def _json_exact(exact: ExactWaste) -> dict[str, object]:
    return {
        "efficiency": _finite(exact.efficiency),
        "storedBytes": exact.stored_bytes,
        "visibleBytes": exact.visible_bytes,
        "wastedBytes": exact.wasted_bytes,
        "userStoredBytes": exact.user_stored_bytes,
        "userWastedPercent": _finite(exact.user_wasted_percent),
        "wastedFiles": [_json_wasted(f) for f in exact.wasted_files],
    }


def _json_sharing(shared: Sharing) -> dict[str, object]:
    return {
        "sharedBytes": shared.shared_bytes,
        "uniqueBytes": shared.unique_bytes,
        "layers": [{"index": i, "sharedWith": list(n)} for i, n in _shared_layers(shared)],
    }


def _json_wasted(wasted: WastedFile) -> dict[str, object]:
    return {
        **name_fields("path", _shown_path(wasted.path)),
        "size": wasted.size,
        "storedIn": wasted.stored_in,
        "hiddenBy": wasted.hidden_by,
        "how": wasted.how.value,
    }


# ---------------------------------------------------------------------------- markdown

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&!#])")
_BADGES = {Status.PASS: "✅ PASS", Status.FAIL: "❌ FAIL", Status.SKIP: "➖ SKIP"}


def _md(text: str) -> str:
    """Text safe inside a GFM table cell: `clean`ed (one line), punctuation escaped."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", clean(text))


def _md_row(cells: Iterable[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _markdown(report: Report) -> str:
    verdict, analysis, label = report.verdict, report.analysis, report.label
    _, passed, failed, skipped = _counts(verdict)
    outcome = "PASS" if verdict.passed else "FAIL"
    checks = f"{len(verdict.results)} rules" + (
        f" and {len(verdict.findings)} findings" if verdict.findings else ""
    )
    lines = [
        f"## inspector: {_md(label)} — {outcome}",
        "",
        f"{checks}: {passed} passed, {failed} failed, {skipped} skipped"
        + (f" ({_md(verdict.source)})" if verdict.source else "")
        + ".",
        "",
        _md_row(("Rule", "Status", "Value", "Threshold")),
        _md_row(("---", "---", "---:", "---:")),
    ]
    for r in verdict.results:
        lines.append(
            _md_row(
                (
                    f"`{r.rule}`",
                    _BADGES[r.status],
                    _rule_value(r.rule, r.actual),
                    _rule_value(r.rule, r.threshold),
                )
            )
        )
    failures = verdict.failures
    if failures:
        lines += ["", *(f"- **{r.rule}**: {_md(r.message)}" for r in failures)]
    lines += ["", *_markdown_findings(verdict)]
    lines += ["", *_markdown_wasted(analysis.exact)]
    if report.shared is not None:
        lines += ["", *_markdown_sharing(report.shared)]
    return "\n".join(lines) + "\n"


def _markdown_findings(verdict: Verdict) -> list[str]:
    heading = f"### Findings (failOn: {_fail_on(verdict)})"
    if not verdict.findings:
        return [heading, "", "No findings."]
    lines = [
        heading,
        "",
        _md_row(("Finding", "Status", "Severity", "Bytes", "Evidence")),
        _md_row(("---", "---", "---", "---:", "---")),
    ]
    for r in verdict.findings:
        f = r.finding
        why = r.message if r.status is Status.SKIP else f.evidence
        lines.append(
            _md_row(
                (
                    f"`{f.id}` {_md(f.title)}",
                    _BADGES[r.status],
                    f.severity.value,
                    human_size(f.bytes),
                    _md(why),
                )
            )
        )
    failing = [r.finding for r in verdict.findings if r.status is Status.FAIL]
    if failing:
        lines += ["", *(f"- **{_md(f.id)}**: {_md(f.fix.text)}" for f in failing)]
    return lines


def _markdown_sharing(shared: Sharing) -> list[str]:
    lines = [
        f"### Shared with other images: {human_size(shared.shared_bytes)} "
        f"({shared.shared_bytes} B); unique: {human_size(shared.unique_bytes)} "
        f"({shared.unique_bytes} B)",
        "",
    ]
    layers = _shared_layers(shared)
    if not layers:
        return [*lines, "No layer is shared."]
    lines += [_md_row(("Layer", "Shared with")), _md_row(("---:", "---"))]
    lines += [_md_row((str(i), _md(", ".join(names)))) for i, names in layers[:MARKDOWN_ROWS]]
    if len(layers) > MARKDOWN_ROWS:
        lines += ["", f"… and {len(layers) - MARKDOWN_ROWS} more shared layers."]
    return lines


def _markdown_wasted(exact: ExactWaste) -> list[str]:
    files = exact.wasted_files
    heading = (
        f"### Wasted files: {human_size(exact.wasted_bytes)} "
        f"({exact.wasted_bytes} B, efficiency {_percent(exact.efficiency, 2)})"
    )
    if not files:
        return [heading, "", "No wasted files."]
    lines = [
        heading,
        "",
        _md_row(("File", "Size", "Stored in layer", "Hidden by layer", "How")),
        _md_row(("---", "---:", "---:", "---:", "---")),
    ]
    for f in files[:MARKDOWN_ROWS]:
        lines.append(
            _md_row(
                (
                    _md(_shown_path(f.path)),
                    human_size(f.size),
                    str(f.stored_in),
                    str(f.hidden_by),
                    f.how.value,
                )
            )
        )
    if len(files) > MARKDOWN_ROWS:
        lines += ["", f"… and {len(files) - MARKDOWN_ROWS} more wasted files."]
    return lines


# ------------------------------------------------------------------------------- junit


def _junit(report: Report) -> str:
    return junit_suite(report.verdict, report.label, _text(report))


def junit_suite(verdict: Verdict, label: str, system_out: str, name: str = "inspector") -> str:
    """A verdict as a JUnit test suite: one test case per rule, `system_out` (clean text)
    as its output; `label` is the image."""
    total, _, failed, skipped = _counts(verdict)
    suite = ET.Element(
        "testsuite",
        {
            "name": name,
            "tests": str(total),
            "failures": str(failed),
            "errors": "0",
            "skipped": str(skipped),
        },
    )
    properties = ET.SubElement(suite, "properties")
    ET.SubElement(properties, "property", {"name": "image", "value": clean(label)})
    if verdict.source:
        ET.SubElement(properties, "property", {"name": "config", "value": clean(verdict.source)})
    for result in verdict.results:
        case = ET.SubElement(
            suite, "testcase", {"classname": "inspector.rules", "name": result.rule}
        )
        if result.status is Status.FAIL:
            failure = ET.SubElement(
                case, "failure", {"message": clean(result.message), "type": "RuleFailed"}
            )
            failure.text = clean(result.message)
        elif result.status is Status.SKIP:
            ET.SubElement(case, "skipped", {"message": clean(result.message)})
    for case_name, judged in _finding_cases(verdict.findings):
        case = ET.SubElement(
            suite, "testcase", {"classname": "inspector.findings", "name": case_name}
        )
        f = judged.finding
        details = "\n".join(
            [clean(f.evidence), f"fix: {clean(f.fix.text)}", *(clean(x) for x in f.fix.after)]
        )
        if judged.status is Status.FAIL:
            failure = ET.SubElement(
                case, "failure", {"message": clean(f.evidence), "type": "FindingFailed"}
            )
            failure.text = details
        elif judged.status is Status.SKIP:
            ET.SubElement(case, "skipped", {"message": clean(judged.message)})
        else:
            ET.SubElement(case, "system-out").text = details
    out = ET.SubElement(suite, "system-out")
    out.text = system_out  # its image-supplied text is clean: valid XML
    ET.indent(suite)
    body = ET.tostring(suite, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{body}\n'


def _finding_cases(results: tuple[FindingResult, ...]) -> list[tuple[str, FindingResult]]:
    """Each finding's test case name, `id: title`, numbered when one repeats."""
    names = [f"{clean(r.finding.id)}: {clean(r.finding.title)}" for r in results]
    seen: dict[str, int] = {}
    cases = []
    for name, result in zip(names, results, strict=True):
        seen[name] = seen.get(name, 0) + 1
        shown = name if names.count(name) == 1 else f"{name} ({seen[name]})"
        cases.append((shown, result))
    return cases


# shared with the diff report (diff_report.py)
markdown_cell, markdown_row, text_result, counts = _md, _md_row, _text_result, _counts
BADGES = _BADGES

_RENDERERS: dict[str, Callable[[Report], str]] = {
    "text": _text,
    "json": _json,
    "markdown": _markdown,
    "junit": _junit,
}
