"""The fleet report as text, Markdown or JSON (`inspector audit show`).

Text and Markdown show image-derived strings (names, paths, commands, evidence) through
the one sanitizer (`display.clean`; Markdown also escapes its punctuation, as the CI
report does); JSON keeps exact values, valid UTF-8 (`jsontext`). Secret values are in
none of them: the database never held them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

from inspector import formatting, jsontext
from inspector.audit.report import FleetReport
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


@dataclass(frozen=True, slots=True)
class Table:
    """One section of the report: its title, columns and rows (cells already escaped by
    the `cell` function given to `tables`), the first `right` columns right-aligned, and
    what to say when it has no row."""

    title: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    right: int
    empty: str
    short: str  # a word for a tab


def summary(report: FleetReport) -> list[str]:
    """The totals, a line each (no image text in them)."""
    size = formatting.size
    totals = report.totals
    lines = []
    run = report.run
    if run is not None:
        took = f", {run.seconds:.1f} s" if run.seconds is not None else ""
        lines.append(
            f"Last run #{run.id} ({run.status}{took}): {run.new_images} images analysed, "
            f"{run.new_layers} layers indexed, {size(run.fetched_bytes)} fetched, "
            f"{run.failures} failures"
        )
    return [
        *lines,
        f"Repositories: {totals.repositories}; layers: {totals.layers}; files: {totals.files}",
        f"Stored, each image alone: {size(totals.stored_bytes)} ({totals.stored_bytes} B)",
        f"Unique after layer dedup:  {size(totals.unique_bytes)} ({totals.unique_bytes} B)",
        f"Saved by sharing layers:   {size(totals.saved_bytes)} ({totals.saved_bytes} B)",
        f"Duplicate content across layers: {size(report.duplicate_bytes)} "
        "a dedup of file contents would save",
    ]


def title(report: FleetReport) -> str:
    return f"Fleet audit: {report.totals.names} images ({report.totals.images} distinct)"


def tables(report: FleetReport, cell: Callable[[str], str] = clean) -> list[Table]:
    """Every section as a table; image text goes through `cell`."""
    size = formatting.size

    def names(found: Sequence[str], total: int | None = None) -> str:
        return cell(_names(found, len(found) if total is None else total))

    return [
        Table(
            "Images by exact waste",
            ("wasted", "efficiency", "stored", "image"),
            tuple(
                (
                    size(i.wasted_bytes),
                    formatting.percent(i.efficiency),
                    size(i.stored_bytes),
                    names(i.names),
                )
                for i in report.by_waste
            ),
            3,
            "none",
            "Waste",
        ),
        Table(
            "Images by findings bytes",
            ("at stake", "findings", "stored", "image"),
            tuple(
                (size(i.findings_bytes), str(i.findings), size(i.stored_bytes), names(i.names))
                for i in report.by_findings
            ),
            3,
            "none",
            "Findings",
        ),
        Table(
            "Most shared layer stacks (by ChainID)",
            ("images", "layers", "bytes", "top layer", "images on it"),
            tuple(
                (
                    str(s.image_count),
                    str(s.layers),
                    size(s.bytes),
                    cell(_short(s.command)),
                    names(s.images, s.image_count),
                )
                for s in report.shared
            ),
            3,
            "no layer stack is shared by two images",
            "Shared",
        ),
        Table(
            "Images on an older base than the newest in use",
            ("image", "its base", "newest base in use"),
            tuple((cell(s.image), cell(s.base), cell(s.newest)) for s in report.stale_bases),
            0,
            "none",
            "Old bases",
        ),
        Table(
            "Duplicate content in different layers",
            ("dedup saves", "size", "layers", "xxh3", "a path"),
            tuple(
                (
                    size(x.saved_bytes),
                    size(x.size),
                    str(x.layers),
                    x.digest,
                    cell("/" + x.paths[0] if x.paths else ""),
                )
                for x in report.duplicates
            ),
            3,
            "none",
            "Duplicates",
        ),
        Table(
            "Repositories across tags",
            ("stored", "shared", "tags", "first divergent layer"),
            tuple(
                (
                    formatting.signed_size(t.stored_delta),
                    f"{t.shared_layers}/{t.layers_after}",
                    cell(f"{t.repository}: {t.before} → {t.after}"),
                    "same layers"
                    if t.diverges_at is None
                    else cell(f"layer {t.diverges_at}: {_short(t.command)}"),
                )
                for t in report.tags
            ),
            2,
            "no repository has two tags",
            "Tags",
        ),
        Table(
            "Secrets (values never shown)",
            ("image", "finding", "evidence"),
            tuple((names(x.names), x.id, cell(x.evidence)) for x in report.secrets),
            0,
            "none found",
            "Secrets",
        ),
        Table(
            "Failures in the last run",
            ("image", "stage", "message"),
            tuple((cell(f.name), f.stage, cell(f.message)) for f in report.failures),
            0,
            "none",
            "Failures",
        ),
    ]


def _document(report: FleetReport, d: _Text) -> str:
    lines = d.title(title(report))
    lines += [d.line(line) for line in summary(report)]
    for table in tables(report, d.cell):
        lines += d.heading(table.title)
        if table.rows:
            lines += d.table(table.header, table.rows, table.right)
        else:
            lines.append(d.line(table.empty))
    return "\n".join(lines) + "\n"


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
