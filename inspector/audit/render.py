"""The fleet report as text, Markdown or JSON (`inspector audit show`).

Text and Markdown show image-derived strings (names, paths, commands, evidence) through
the one sanitizer (`display.clean`; Markdown also escapes its punctuation, as the CI
report does); JSON keeps exact values, valid UTF-8 (`jsontext`). Secret values are in
none of them: the database never held them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict

from inspector import formatting, jsontext
from inspector.audit.report import FleetReport, RankedImage
from inspector.ci_report import _md
from inspector.display import clean

FORMATS = ("text", "markdown", "json")
COMMAND_WIDTH = 60


def render(report: FleetReport, fmt: str) -> str:
    if fmt == "json":
        return to_json(report)
    if fmt == "markdown":
        return _document(report, _Markdown())
    return _document(report, _Text())


# --- one document, two dialects ------------------------------------------------------------
class _Text:
    def heading(self, text: str) -> list[str]:
        return ["", text, "-" * len(text)]

    def title(self, text: str) -> list[str]:
        return [text, "=" * len(text)]

    def cell(self, text: str) -> str:
        return clean(text)

    def table(self, header: Sequence[str], rows: Sequence[Sequence[str]], right: int) -> list[str]:
        """Columns padded; the first `right` columns are right-aligned numbers."""
        cells = [list(header), *[list(r) for r in rows]]
        widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
        out = []
        for row in cells:
            parts = [
                value.rjust(widths[i]) if i < right else value.ljust(widths[i])
                for i, value in enumerate(row)
            ]
            out.append("  ".join(parts).rstrip())
        return out

    def line(self, text: str) -> str:
        return text


class _Markdown(_Text):
    def heading(self, text: str) -> list[str]:
        return ["", f"### {text}", ""]

    def title(self, text: str) -> list[str]:
        return [f"## {text}"]

    def cell(self, text: str) -> str:
        return _md(text)

    def table(self, header: Sequence[str], rows: Sequence[Sequence[str]], right: int) -> list[str]:
        marks = ["---:" if i < right else "---" for i in range(len(header))]
        return [
            "| " + " | ".join(header) + " |",
            "|" + "|".join(marks) + "|",
            *("| " + " | ".join(row) + " |" for row in rows),
        ]

    def line(self, text: str) -> str:
        return f"* {text}"


def _document(report: FleetReport, d: _Text) -> str:
    size = formatting.size
    totals = report.totals
    lines = d.title(f"Fleet audit: {totals.names} images ({totals.images} distinct)")
    run = report.run
    if run is not None:
        took = f", {run.seconds:.1f} s" if run.seconds is not None else ""
        lines.append(
            d.line(
                f"Last run #{run.id} ({run.status}{took}): {run.new_images} images analysed, "
                f"{run.new_layers} layers indexed, {size(run.fetched_bytes)} fetched, "
                f"{run.failures} failures"
            )
        )
    lines += [
        d.line(
            f"Repositories: {totals.repositories}; layers: {totals.layers}; files: {totals.files}"
        ),
        d.line(f"Stored, each image alone: {size(totals.stored_bytes)} ({totals.stored_bytes} B)"),
        d.line(f"Unique after layer dedup:  {size(totals.unique_bytes)} ({totals.unique_bytes} B)"),
        d.line(f"Saved by sharing layers:   {size(totals.saved_bytes)} ({totals.saved_bytes} B)"),
        d.line(
            f"Duplicate content across layers: {size(report.duplicate_bytes)} "
            "a dedup of file contents would save"
        ),
    ]
    lines += _ranked(d, "Images by exact waste", report.by_waste, waste=True)
    lines += _ranked(d, "Images by findings bytes", report.by_findings, waste=False)

    lines += d.heading("Most shared layer stacks (by ChainID)")
    if report.shared:
        rows = [
            [
                str(s.image_count),
                str(s.layers),
                size(s.bytes),
                d.cell(_short(s.command)),
                d.cell(_names(s.images, s.image_count)),
            ]
            for s in report.shared
        ]
        lines += d.table(["images", "layers", "bytes", "top layer", "images on it"], rows, 3)
    else:
        lines.append(d.line("no layer stack is shared by two images"))

    lines += d.heading("Images on an older base than the newest in use")
    if report.stale_bases:
        rows = [[d.cell(s.image), d.cell(s.base), d.cell(s.newest)] for s in report.stale_bases]
        lines += d.table(["image", "its base", "newest base in use"], rows, 0)
    else:
        lines.append(d.line("none"))

    lines += d.heading("Duplicate content in different layers")
    if report.duplicates:
        rows = [
            [
                size(x.saved_bytes),
                size(x.size),
                str(x.layers),
                x.digest,
                d.cell("/" + x.paths[0] if x.paths else ""),
            ]
            for x in report.duplicates
        ]
        lines += d.table(["dedup saves", "size", "layers", "xxh3", "a path"], rows, 3)
    else:
        lines.append(d.line("none"))

    lines += d.heading("Repositories across tags")
    if report.tags:
        rows = [
            [
                formatting.signed_size(t.stored_delta),
                f"{t.shared_layers}/{t.layers_after}",
                d.cell(f"{t.repository}: {t.before} → {t.after}"),
                "same layers"
                if t.diverges_at is None
                else d.cell(f"layer {t.diverges_at}: {_short(t.command)}"),
            ]
            for t in report.tags
        ]
        lines += d.table(["stored", "shared", "tags", "first divergent layer"], rows, 2)
    else:
        lines.append(d.line("no repository has two tags"))

    lines += d.heading("Secrets (values never shown)")
    if report.secrets:
        for secret in report.secrets:
            names = _names(secret.names, len(secret.names))
            lines.append(d.line(f"{d.cell(names)}: {secret.id}: {d.cell(secret.evidence)}"))
    else:
        lines.append(d.line("none found"))

    lines += d.heading("Failures in the last run")
    if report.failures:
        for failure in report.failures:
            lines.append(
                d.line(f"{d.cell(failure.name)} ({failure.stage}): {d.cell(failure.message)}")
            )
    else:
        lines.append(d.line("none"))
    return "\n".join(lines) + "\n"


def _ranked(d: _Text, title: str, images: Sequence[RankedImage], *, waste: bool) -> list[str]:
    lines = d.heading(title)
    if not images:
        return [*lines, d.line("none")]
    size = formatting.size
    if waste:
        rows = [
            [size(i.wasted_bytes), formatting.percent(i.efficiency), size(i.stored_bytes),
             d.cell(_names(i.names, len(i.names)))]
            for i in images
        ]  # fmt: skip
        return lines + d.table(["wasted", "efficiency", "stored", "image"], rows, 3)
    rows = [
        [size(i.findings_bytes), str(i.findings), size(i.stored_bytes),
         d.cell(_names(i.names, len(i.names)))]
        for i in images
    ]  # fmt: skip
    return lines + d.table(["at stake", "findings", "stored", "image"], rows, 3)


def _names(names: Sequence[str], total: int) -> str:
    shown = ", ".join(names[:3])
    return shown + (f" (+{total - 3})" if total > 3 else "")


def _short(command: str) -> str:
    text = formatting.command(command) or "(no history)"
    return text if len(text) <= COMMAND_WIDTH else text[: COMMAND_WIDTH - 1] + "…"


# --- JSON ------------------------------------------------------------------------------------
def to_json(report: FleetReport) -> str:
    doc = asdict(report)
    doc["totals"]["saved_bytes"] = report.totals.saved_bytes
    return json.dumps(_valid(doc), indent=2, ensure_ascii=False) + "\n"


def _camel(name: str) -> str:
    """`stored_bytes` → `storedBytes`, as in the other JSON reports."""
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _valid(value: object) -> object:
    """Every string as valid UTF-8 (a name that was not UTF-8 shows U+FFFD)."""
    convert: Callable[[object], object] = _valid
    if isinstance(value, str):
        return jsontext.valid(value)
    if isinstance(value, dict):
        return {_camel(k): convert(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [convert(v) for v in value]
    return value
