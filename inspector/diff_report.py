"""A diff of two images as a report: text, JSON, Markdown (a pull-request comment),
SARIF (the new findings, `inspector.sarif`) or, with the gate's verdict, JUnit XML (pure:
no I/O).

Every format carries the gate's rule results when a verdict is given. Image-supplied text
(labels, commands, paths, finding titles) goes through `display.clean` in text, Markdown
and JUnit; JSON keeps exact values (`inspector.jsontext`). The JSON schema is in
docs/diff.md.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Sequence

from inspector import sarif
from inspector.ci_report import (
    BADGES,
    counts,
    junit_suite,
    markdown_cell,
    markdown_row,
    text_result,
)
from inspector.diff import (
    Cause,
    ChangedPath,
    Cost,
    ImageDiff,
    Layer,
    LayerPair,
    LayerStatus,
    Measure,
    Reordered,
)
from inspector.diff.gate import BYTE_RULES, severity_of
from inspector.display import clean, one_line
from inspector.errors import UsageError
from inspector.findings.model import Finding
from inspector.formatting import count, signed_size, size
from inspector.jsontext import name_fields, valid_strings
from inspector.rules import RuleResult, Verdict

FORMATS = ("text", "json", "markdown", "junit", "sarif")
TEXT_ROWS = 30  # rows of each list in the text report (the JSON lists everything)
MARKDOWN_ROWS = 20
COMMAND_WIDTH = 70
SCHEMA_VERSION = 1

_CAUSES = {
    Cause.INSTRUCTION: "its instruction changed",
    Cause.INPUTS: "the same instruction over other inputs (a cache miss caused by its inputs)",
    Cause.REBUILD: "the same instruction and identical content: rebuilt without a cause "
    "(no build cache?)",
}


def render(
    fmt: str,
    result: ImageDiff,
    verdict: Verdict | None = None,
    dockerfile: str = sarif.DOCKERFILE,
) -> str:
    """The report in format `fmt` (one of FORMATS), ending with a newline. `dockerfile`
    places the SARIF results of findings that have no path."""
    if fmt == "sarif":
        return sarif.render_diff(result, verdict, dockerfile)
    if fmt == "junit":
        if verdict is None:
            raise UsageError("the junit format reports the gate's rules: add --ci")
        return junit_suite(verdict, _labels(result), _text(result, verdict), "inspector diff")
    renderer = _RENDERERS.get(fmt)
    if renderer is None:
        raise UsageError(f"unknown report format {fmt!r} (choose from {', '.join(FORMATS)})")
    return renderer(result, verdict)


# ------------------------------------------------------------------------------ helpers


def _labels(result: ImageDiff) -> str:
    return f"{result.old_label} → {result.new_label}"


def _shown_path(path: str) -> str:
    return path if path.startswith("/") else f"/{path}"


def _command(layer: Layer | None, width: int = COMMAND_WIDTH) -> str:
    if layer is None:
        return ""
    text = clean(layer.instruction or layer.command) or "(no history)"
    return text if len(text) <= width else f"{text[: width - 1]}…"


def _index(layer: Layer | None) -> str:
    return "-" if layer is None else str(layer.index)


def _indexes(positions: Sequence[int]) -> str:
    return ", ".join(map(str, positions)) if positions else "none"


def _bytes(n: int) -> str:
    return f"{size(n)} ({n} B)"


def _pct(value: float) -> str:
    return f"{value * 100:.4f} %" if math.isfinite(value) else "n/a"


def _measure(name: str, m: Measure) -> tuple[str, str, str, str]:
    if name == "efficiency":
        change = m.change * 100
        return name, _pct(m.old), _pct(m.new), f"{change:+.4f} pts"
    return name, size(int(m.old)), size(int(m.new)), signed_size(int(m.change))


def _measures(result: ImageDiff) -> list[tuple[str, Measure]]:
    s = result.sizes
    return [
        ("uncompressed", s.uncompressed),
        ("stored", s.stored),
        ("unique", s.unique),  # not shared with the other image
        ("visible", s.visible),
        ("wasted (exact)", s.wasted),
        ("efficiency", s.efficiency),
    ]


def _growth(result: ImageDiff) -> str:
    percent = result.sizes.growth_percent
    shown = f"{percent:+.2f} %" if math.isfinite(percent) else "from nothing"
    return f"{signed_size(result.sizes.growth_bytes)} ({shown})"


def _changes(result: ImageDiff) -> list[ChangedPath]:
    """Every changed path, the largest size change first."""
    files = result.files
    every = [*files.added, *files.removed, *files.modified]
    every.sort(key=lambda c: (-abs(c.bytes), c.path))
    return every


def _what(change: ChangedPath) -> str:
    return ",".join(change.fields) if change.fields else change.type.value


def _layer_of(change: ChangedPath) -> str:
    return "-" if change.layer is None else str(change.layer)


def _cost_line(cost: Cost) -> str:
    return f"{_bytes(cost.pull_bytes)} in {count(len(cost.layers), 'layer')}" + (
        f" ({_indexes(cost.layers)})" if cost.layers else ""
    )


# --------------------------------------------------------------------------------- text


def _text(result: ImageDiff, verdict: Verdict | None) -> str:
    lines = [
        f"OLD: {clean(result.old_label)}",
        f"NEW: {clean(result.new_label)}",
        "",
        f"Layers: OLD has {result.old_layers}, NEW has {result.new_layers}, "
        f"{result.shared_layers} shared (the same ChainID)",
        "  Old  New  Status                 Stored     Command",
    ]
    for pair in result.layers:
        layer = pair.new or pair.old
        stored = size(pair.new.stored_bytes) if pair.new else "-"
        mark = "*" if pair.pulled else " "
        lines.append(
            f"  {_index(pair.old):>3}  {_index(pair.new):>3}  {pair.status.value:<17}  "
            f"{stored:>10} {mark}  {_command(layer)}"
        )
    lines.append("  (* NEW's blob that OLD lacks: pulled and pushed)")
    lines += ["", *_divergence_text(result)]
    lines += ["", "Sizes:              OLD           NEW        Change"]
    for name, m in _measures(result):
        label, old, new, change = _measure(name, m)
        lines.append(f"  {label:<15} {old:>12}  {new:>12}  {change:>12}")
    lines.append(f"  growth: {_growth(result)} uncompressed")
    lines += ["", *_cost_text(result), "", *_files_text(result), "", *_findings_text(result)]
    if result.warnings:
        lines += ["", "Warnings:", *(f"  {one_line(w)}" for w in result.warnings)]
    if verdict is not None:
        lines += ["", *_verdict_text(verdict)]
    return "\n".join(lines) + "\n"


def _divergence_text(result: ImageDiff) -> list[str]:
    d = result.divergence
    if d is None:
        if result.old_layers == result.new_layers == result.shared_layers:
            return ["First divergent layer: none (the same layers)"]
        longer = "NEW" if result.new_layers > result.old_layers else "OLD"
        return [f"First divergent layer: none ({longer} extends the other)"]
    lines = [
        f"First divergent layer: {d.index} of NEW: {_CAUSES[d.cause]}",
        f"  OLD {d.old.index}: {_command(d.old, 100)}",
        f"  NEW {d.new.index}: {_command(d.new, 100)}",
    ]
    rebuilt = [p.new.index for p in result.rebuilt_identical if p.new is not None]
    if rebuilt:
        lines.append(
            f"Rebuilt with identical content: {count(len(rebuilt), 'layer')} of NEW "
            f"({_indexes(rebuilt)}); {_bytes(result.rebuilt_identical_bytes)} pushed and "
            "pulled again for nothing"
        )
    return lines


def _cost_text(result: ImageDiff) -> list[str]:
    cost = result.cost
    lines = [
        f"Pull: a host holding OLD downloads {_cost_line(cost)}",
        f"Push: a registry holding OLD stores {_bytes(cost.push_bytes)} anew",
    ]
    for r in result.reordered:
        lines += [
            f"Had the manifests been copied first ({r.finding.id}, layers "
            f"{', '.join(str(x.index) for x in r.finding.layers)}):",
            f"  pull {_cost_line(r.cost)}, push {_bytes(r.cost.push_bytes)}",
            f"  {clean(r.reason)}",
        ]
    return lines


def _files_text(result: ImageDiff) -> list[str]:
    files = result.files
    lines = [
        f"Files: {len(files.added)} added, {len(files.removed)} removed, "
        f"{len(files.modified)} modified ({signed_size(files.bytes)})"
    ]
    if not files.count:
        return lines
    lines += ["  By top-level directory:", "        Bytes  Added  Removed  Modified  Directory"]
    for d in files.by_directory[:TEXT_ROWS]:
        lines.append(
            f"  {signed_size(d.bytes):>11}  {d.added:>5}  {d.removed:>7}  {d.modified:>8}  "
            f"{clean(d.directory)}"
        )
    lines += _more(min(len(files.by_directory), TEXT_ROWS), len(files.by_directory))
    lines += ["  Largest changes:", "    Change           Bytes  Layer  What        Path"]
    changes = _changes(result)
    for c in changes[:TEXT_ROWS]:
        lines.append(
            f"    {c.change.value:<8}  {signed_size(c.bytes):>11}  {_layer_of(c):>5}  "
            f"{_what(c):<10}  {clean(_shown_path(c.path))}"
        )
    return lines + _more(min(len(changes), TEXT_ROWS), len(changes))


def _more(shown: int, total: int) -> list[str]:
    return [f"    … and {total - shown} more (--json lists all)"] if total > shown else []


def _findings_text(result: ImageDiff) -> list[str]:
    new, gone = result.findings.new, result.findings.gone
    lines = [f"Findings: {len(new)} new, {len(gone)} gone"]
    for label, group in (("new", new), ("gone", gone)):
        for f in group:
            lines.append(
                f"  {label:<4}  {f.severity.value:<7}  {f.id}: {clean(f.title)} ({size(f.bytes)})"
            )
    return lines


def _verdict_text(verdict: Verdict) -> list[str]:
    lines = ["Rules:"]
    if verdict.source:
        lines.append(f"  Using {clean(verdict.source)}")
    lines += [text_result(r) for r in verdict.results]
    total, passed, failed, skipped = counts(verdict)
    outcome = "PASS" if verdict.passed else "FAIL"
    lines.append(
        f"Result:{outcome} [Total:{total}] [Passed:{passed}] [Failed:{failed}] [Skipped:{skipped}]"
    )
    return lines


# --------------------------------------------------------------------------------- json


def _json(result: ImageDiff, verdict: Verdict | None) -> str:
    return json.dumps(valid_strings(document(result, verdict)), indent=2, allow_nan=False) + "\n"


def document(result: ImageDiff, verdict: Verdict | None = None) -> dict[str, object]:
    """The diff as the JSON document docs/diff.md describes."""
    files = result.files
    d = result.divergence
    return {
        "schemaVersion": SCHEMA_VERSION,
        "old": {"image": result.old_label, "layers": result.old_layers},
        "new": {"image": result.new_label, "layers": result.new_layers},
        "sharedLayers": result.shared_layers,
        "firstDivergentLayer": d.index if d is not None else None,
        "divergence": None
        if d is None
        else {
            "index": d.index,
            "cause": d.cause.value,
            "old": _json_layer(d.old),
            "new": _json_layer(d.new),
        },
        "layers": [_json_pair(p) for p in result.layers],
        "rebuiltIdenticalBytes": result.rebuilt_identical_bytes,
        "files": {
            "added": [_json_change(c) for c in files.added],
            "removed": [_json_change(c) for c in files.removed],
            "modified": [_json_change(c) for c in files.modified],
            "byDirectory": [
                {
                    "directory": x.directory,
                    "bytes": x.bytes,
                    "added": x.added,
                    "removed": x.removed,
                    "modified": x.modified,
                }
                for x in files.by_directory
            ],
            "bytes": files.bytes,
        },
        "growthBytes": result.sizes.growth_bytes,
        "growthPercent": _finite(result.sizes.growth_percent),
        "sizes": {
            "uncompressedBytes": _json_measure(result.sizes.uncompressed),
            "storedBytes": _json_measure(result.sizes.stored),
            "uniqueBytes": _json_measure(result.sizes.unique),
            "visibleBytes": _json_measure(result.sizes.visible),
            "wastedBytes": _json_measure(result.sizes.wasted),
            "efficiency": _json_measure(result.sizes.efficiency, whole=False),
        },
        "pullBytes": result.cost.pull_bytes,
        "pushBytes": result.cost.push_bytes,
        "pullLayers": list(result.cost.layers),
        "reordered": [_json_reordered(r) for r in result.reordered],
        "findings": {
            "new": [_json_finding(f) for f in result.findings.new],
            "gone": [_json_finding(f) for f in result.findings.gone],
        },
        "ci": _json_verdict(verdict) if verdict is not None else None,
        "warnings": list(result.warnings),
    }


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _json_measure(m: Measure, whole: bool = True) -> dict[str, object]:
    if whole:
        return {"old": int(m.old), "new": int(m.new), "change": int(m.change)}
    return {"old": _finite(m.old), "new": _finite(m.new), "change": _finite(m.change)}


def _json_layer(layer: Layer | None) -> dict[str, object] | None:
    if layer is None:
        return None
    return {
        "index": layer.index,
        "command": layer.command,
        "instruction": layer.instruction,
        "diffId": str(layer.diff_id),
        "digest": str(layer.digest) if layer.digest is not None else None,
        "storedBytes": layer.stored_bytes,
        "uncompressedBytes": layer.uncompressed_bytes,
    }


def _json_pair(pair: LayerPair) -> dict[str, object]:
    return {
        "status": pair.status.value,
        "pulled": pair.pulled,
        "old": _json_layer(pair.old),
        "new": _json_layer(pair.new),
    }


def _json_change(change: ChangedPath) -> dict[str, object]:
    return {
        **name_fields("path", _shown_path(change.path)),
        "type": change.type.value,
        "bytes": change.bytes,
        "oldBytes": change.old_bytes,
        "newBytes": change.new_bytes,
        "layer": change.layer,
        "fields": list(change.fields),
    }


def _json_reordered(r: Reordered) -> dict[str, object]:
    return {
        "finding": r.finding.title,
        "pullBytes": r.cost.pull_bytes,
        "pushBytes": r.cost.push_bytes,
        "pullLayers": list(r.cost.layers),
        "savedLayers": list(r.saved_layers),
        "reason": r.reason,
    }


def _json_finding(f: Finding) -> dict[str, object]:
    return {
        "id": f.id,
        "title": f.title,
        "severity": f.severity.value,
        "bytes": f.bytes,
        "layers": [{"index": x.index, "command": x.command} for x in f.layers],
        "paths": [{**name_fields("path", _shown_path(p.path)), "bytes": p.bytes} for p in f.paths],
        "pathCount": f.path_count,
        "evidence": f.evidence,
    }


def _json_value(rule: str, value: float | None) -> float | int | str | None:
    if value is None or not math.isfinite(value):
        return None
    if rule == "noNewFindings":
        return value  # the count (a threshold is shown by `_json_threshold`)
    return int(value) if rule in BYTE_RULES else value


def _json_threshold(rule: str, value: float | None) -> float | int | str | None:
    if rule == "noNewFindings" and value is not None:
        return severity_of(value).value
    return _json_value(rule, value)


def _json_rule(result: RuleResult) -> dict[str, object]:
    actual = _json_value(result.rule, result.actual)
    return {
        "rule": result.rule,
        "status": result.status.value,
        "actual": int(actual) if result.rule == "noNewFindings" and actual is not None else actual,
        "threshold": _json_threshold(result.rule, result.threshold),
        "message": result.message,
    }


def _json_verdict(verdict: Verdict) -> dict[str, object]:
    total, passed, failed, skipped = counts(verdict)
    return {
        "passed": verdict.passed,
        "config": verdict.source,
        "summary": {"total": total, "passed": passed, "failed": failed, "skipped": skipped},
        "rules": [_json_rule(r) for r in verdict.results],
    }


# ----------------------------------------------------------------------------- markdown


def _md(text: str) -> str:
    return markdown_cell(text)


def _rule_value(rule: str, value: float | None, *, bound: bool) -> str:
    if value is None:
        return "disabled"
    if rule == "noNewFindings":
        return f"{severity_of(value).value} or above" if bound else str(int(value))
    if rule in BYTE_RULES:
        return _bytes(int(value))
    return f"{value:+.2f} %" if math.isfinite(value) else "n/a"


def _markdown(result: ImageDiff, verdict: Verdict | None) -> str:
    outcome = ""
    if verdict is not None:
        outcome = " — PASS" if verdict.passed else " — FAIL"
    d = result.divergence
    divergent = "none" if d is None else f"layer {d.index} ({d.cause.value})"
    new, gone = result.findings.new, result.findings.gone
    lines = [
        f"## inspector diff: {_md(result.old_label)} → {_md(result.new_label)}{outcome}",
        "",
        markdown_row(("", "OLD", "NEW", "Change")),
        markdown_row(("---", "---:", "---:", "---:")),
        markdown_row(
            (
                "Layers",
                str(result.old_layers),
                str(result.new_layers),
                f"{result.shared_layers} shared",
            )
        ),
    ]
    for name, m in _measures(result):
        lines.append(markdown_row(_measure(name, m)))
    lines += [
        markdown_row(("Pull from OLD", "", size(result.cost.pull_bytes), "")),
        markdown_row(("Findings", "", f"{len(new)} new", f"{len(gone)} gone")),
        "",
        f"**First divergent layer:** {_md(divergent)}"
        + ("" if d is None else f": {_md(_command(d.new, 100))} — {_md(_CAUSES[d.cause])}"),
    ]
    if result.rebuilt_identical:
        lines += [
            "",
            f"**Rebuilt for nothing:** {count(len(result.rebuilt_identical), 'layer')} "
            f"with identical content, {_md(size(result.rebuilt_identical_bytes))} pushed "
            "and pulled again.",
        ]
    for r in result.reordered:
        lines += [
            "",
            f"**With the manifests copied first** the pull would be "
            f"{_md(size(r.cost.pull_bytes))}: {_md(r.reason)}.",
        ]
    if verdict is not None:
        lines += ["", *_markdown_verdict(verdict)]
    if new:
        lines += ["", "**New findings:**"]
        lines += [f"- {f.severity.value}: {_md(f.title)} ({size(f.bytes)})" for f in new]
    lines += ["", *_markdown_details(result)]
    return "\n".join(lines) + "\n"


def _markdown_verdict(verdict: Verdict) -> list[str]:
    lines = [
        markdown_row(("Rule", "Status", "Value", "Threshold")),
        markdown_row(("---", "---", "---:", "---:")),
    ]
    for r in verdict.results:
        lines.append(
            markdown_row(
                (
                    f"`{r.rule}`",
                    BADGES[r.status],
                    _rule_value(r.rule, r.actual, bound=False),
                    _rule_value(r.rule, r.threshold, bound=True),
                )
            )
        )
    lines += [f"- **{r.rule}**: {_md(r.message)}" for r in verdict.failures]
    return lines


def _markdown_details(result: ImageDiff) -> list[str]:
    files = result.files
    changes = _changes(result)
    lines = [
        "<details>",
        f"<summary>Top changes: {len(files.added)} added, {len(files.removed)} removed, "
        f"{len(files.modified)} modified paths ({_md(signed_size(files.bytes))})</summary>",
        "",
    ]
    if changes:
        lines += [
            markdown_row(("Directory", "Bytes", "Added", "Removed", "Modified")),
            markdown_row(("---", "---:", "---:", "---:", "---:")),
        ]
        lines += [
            markdown_row(
                (
                    _md(x.directory),
                    signed_size(x.bytes),
                    str(x.added),
                    str(x.removed),
                    str(x.modified),
                )
            )
            for x in files.by_directory[:MARKDOWN_ROWS]
        ]
        lines += [
            "",
            markdown_row(("Path", "Change", "Bytes", "Layer", "What")),
            markdown_row(("---", "---", "---:", "---:", "---")),
        ]
        lines += [
            markdown_row(
                (
                    _md(_shown_path(c.path)),
                    c.change.value,
                    signed_size(c.bytes),
                    _layer_of(c),
                    _md(_what(c)),
                )
            )
            for c in changes[:MARKDOWN_ROWS]
        ]
        if len(changes) > MARKDOWN_ROWS:
            lines += ["", f"… and {len(changes) - MARKDOWN_ROWS} more paths."]
    else:
        lines.append("No path changed.")
    lines += [
        "",
        markdown_row(("Old", "New", "Status", "Stored", "Pulled", "Command")),
        markdown_row(("---:", "---:", "---", "---:", "---", "---")),
    ]
    lines += [
        markdown_row(
            (
                _index(p.old),
                _index(p.new),
                p.status.value,
                size(p.new.stored_bytes) if p.new else "",
                "yes" if p.pulled else "",
                _md(_command(p.new or p.old)),
            )
        )
        for p in _layer_rows(result.layers)
    ]
    return [*lines, "", "</details>"]


def _layer_rows(pairs: Iterable[LayerPair]) -> list[LayerPair]:
    """The layers worth a row: the shared prefix is summed up in the table above."""
    rows = [p for p in pairs if p.status is not LayerStatus.SHARED]
    return rows[:MARKDOWN_ROWS]


_RENDERERS: dict[str, Callable[[ImageDiff, Verdict | None], str]] = {
    "text": _text,
    "json": _json,
    "markdown": _markdown,
}
