"""The diff's detail panels: the summary, the layer pair under the cursor and the changed
path under the tree cursor.

Image text (labels, commands, paths, finding titles, link targets) is `clean`ed and
shown as `rich.text.Text` (`CleanTable` cells), never as markup.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from inspector import formatting
from inspector.changes import EntryType, FileEntry
from inspector.diff import ChangedPath, FileChange, ImageDiff, Layer, Measure
from inspector.display import clean, one_line
from inspector.findings.model import Finding
from inspector.ui.changedtree import ChangedTree
from inspector.ui.diffrows import (
    CAUSE_SENTENCES,
    CAUSE_WORDS,
    STATUS_MEANING,
    Mark,
    PairRow,
    divergence,
    growth,
    layer_text,
)
from inspector.ui.rows import shown_path
from inspector.ui.widgets.details import SEVERITY_STYLE, CleanTable, DetailsPanel, grid_table

CHANGE_STYLE = {FileChange.ADDED: "green", FileChange.REMOVED: "red", FileChange.MODIFIED: "yellow"}
FINDINGS_SHOWN = 12  # new and gone findings listed each (the count says how many)
HISTORY_KEYS = "< in OLD · > in NEW · Enter: choose"
DIR_KEYS = "< in OLD · > in NEW"


def _indexes(positions: Sequence[int]) -> str:
    return ", ".join(map(str, positions))


def _measure_cells(name: str, m: Measure) -> tuple[str, str, str, str]:
    if name == "efficiency":
        return name, f"{m.old * 100:.2f} %", f"{m.new * 100:.2f} %", f"{m.change * 100:+.2f} pts"
    old, new = int(m.old), int(m.new)
    return name, formatting.size(old), formatting.size(new), formatting.signed_size(new - old)


def _finding_line(sign: str, finding: Finding) -> Text:
    line = Text(f"{sign} ")
    line.append(f"{finding.severity.value:<8}", SEVERITY_STYLE[finding.severity])
    line.append(clean(finding.title))
    if finding.bytes:
        line.append(f" ({formatting.size(finding.bytes)})", "dim")
    return line


class DiffSummary(DetailsPanel):
    """Both images, where they diverge, the sizes, the pull, the files and the findings."""

    def show(self, result: ImageDiff) -> None:
        grid = grid_table()
        grid.add_row("OLD", f"{result.old_label} ({formatting.count(result.old_layers, 'layer')})")
        grid.add_row("NEW", f"{result.new_label} ({formatting.count(result.new_layers, 'layer')})")
        grid.add_row("Shared", f"{formatting.count(result.shared_layers, 'layer')} (same ChainID)")
        grid.add_row("Diverges", divergence(result))
        grid.add_row("Growth", f"{growth(result)} uncompressed")
        cost = result.cost
        layers = f" ({_indexes(cost.layers)})" if cost.layers else ""
        count = formatting.count(len(cost.layers), "layer")
        grid.add_row("Pull", f"{formatting.size(cost.pull_bytes)} in {count}{layers}")
        grid.add_row("Push", f"{formatting.size(cost.push_bytes)} (a registry holding OLD)")
        rebuilt = [p.new.index for p in result.rebuilt_identical if p.new is not None]
        if rebuilt:
            grid.add_row(
                "Rebuilt",
                Text(
                    f"{formatting.count(len(rebuilt), 'layer')} ({_indexes(rebuilt)}) with "
                    f"identical content: {formatting.size(result.rebuilt_identical_bytes)} "
                    "pushed and pulled for nothing",
                    "magenta",
                ),
            )
        for item in result.reordered:
            grid.add_row(
                "Reordered",
                f"pull {formatting.size(item.cost.pull_bytes)} in "
                f"{formatting.count(len(item.cost.layers), 'layer')}: {item.reason}",
            )
        files = result.files
        changes = Text.assemble(
            (f"+{len(files.added)} added", "green"),
            "  ",
            (f"~{len(files.modified)} modified", "yellow"),
            "  ",
            (f"-{len(files.removed)} removed", "red"),
            f"  net {formatting.signed_size(files.bytes)}",
        )
        grid.add_row("Files", changes)
        sizes = CleanTable(box=None, padding=(0, 1), show_edge=False)
        for title in ("", "OLD", "NEW", "Change"):
            sizes.add_column(title, justify="right" if title else "left")
        s = result.sizes
        for name, m in (
            ("uncompressed", s.uncompressed),
            ("stored", s.stored),
            ("unique", s.unique),
            ("visible", s.visible),
            ("wasted", s.wasted),
            ("efficiency", s.efficiency),
        ):
            sizes.add_row(*_measure_cells(name, m))
        fresh, gone = result.findings.new, result.findings.gone
        parts: list[RenderableType] = [grid, Text("Sizes", "bold"), sizes]
        parts.append(Text.assemble(("Findings ", "bold"), f"{len(fresh)} new, {len(gone)} gone"))
        parts += [_finding_line("+", f) for f in fresh[:FINDINGS_SHOWN]]
        parts += [_finding_line("-", f) for f in gone[:FINDINGS_SHOWN]]
        if len(fresh) > FINDINGS_SHOWN or len(gone) > FINDINGS_SHOWN:
            parts.append(Text("… (inspector diff --text lists them all)", "dim"))
        if result.warnings:
            parts.append(Text(f"Warnings ({len(result.warnings)})", "bold yellow"))
            parts += [Text(one_line(w), "yellow") for w in result.warnings[:20]]
        self.set_content(Group(*parts))


def _layer_line(side: str, layer: Layer | None, pulled: bool = False) -> Text:
    if layer is None:
        return Text(f"{side}: no layer here", "dim")
    line = Text(f"{side} {layer.index}: ", "bold")
    line.append(layer_text(layer))
    sizes = (
        f"  ({formatting.size(layer.stored_bytes)} stored, "
        f"{formatting.size(layer.uncompressed_bytes)} uncompressed"
        + ("; a host holding OLD pulls it" if pulled else "")
        + ")"
    )
    line.append(sizes, "dim")
    return line


class PairDetails(DetailsPanel):
    """The layer pair under the cursor: its status, what it means, both full commands."""

    def show(self, row: PairRow | None, result: ImageDiff | None) -> None:
        if row is None or result is None:
            self.set_content(Text(""))
            return
        head = Text(row.status.value, "bold")
        head.append(f": {STATUS_MEANING[row.status]}")
        parts: list[RenderableType] = [head]
        d = result.divergence
        if row.mark is Mark.DIVERGENT and d is not None:
            line = Text(f"▶ First divergent layer ({CAUSE_WORDS[d.cause]}): ", "bold yellow")
            line.append(CAUSE_SENTENCES[d.cause])
            parts.append(line)
        elif row.mark is Mark.PREFIX:
            parts.append(Text(f"┃ In the shared prefix ({result.shared_layers} layers)", "cyan"))
        parts.append(_layer_line("OLD", row.pair.old))
        parts.append(_layer_line("NEW", row.pair.new, row.pair.pulled))
        self.set_content(Group(*parts))


def _attributes(entry: FileEntry | None) -> tuple[str, str, str]:
    """mode, owner, link of an entry ("" for a side that lacks the path)."""
    if entry is None:
        return "", "", ""
    mode = formatting.mode_string(entry.mode, entry.type is EntryType.DIR)
    link = entry.link if entry.type in (EntryType.SYMLINK, EntryType.HARDLINK) else ""
    return mode, f"{entry.uid}:{entry.gid}", link


def _before_after(before: str, after: str) -> str:
    if not before:
        return after
    if not after or before == after:
        return before
    return f"{before} → {after}"


class ChangeDetails(DetailsPanel):
    """The path under the tree cursor: its change, both sides, the layer that brings it."""

    def show(self, path: str | None, changed: ChangedTree | None, result: ImageDiff | None) -> None:
        if path is None or changed is None or result is None:
            self.set_content(Text("No path selected.", "dim"))
            return
        grid = grid_table()
        grid.add_row("Path", shown_path(path))
        change = changed.change(path)
        below = changed.below.get(path)
        old, new = changed.old_entry(path), changed.new_entry(path)
        if change is not None:
            self._change_rows(grid, change, old, new, result)
        else:
            grid.add_row("Change", "unchanged directory")
        if below is not None:
            grid.add_row(
                "Below",
                f"{formatting.count(below.paths, 'changed path')}, net "
                f"{formatting.signed_size(below.bytes)}",
            )
        shown = new or old
        keys = HISTORY_KEYS if shown is None or shown.type is not EntryType.DIR else DIR_KEYS
        grid.add_row("History", Text(keys, "dim"))
        self.set_content(grid)

    @staticmethod
    def _change_rows(
        grid: Table,
        change: ChangedPath,
        old: FileEntry | None,
        new: FileEntry | None,
        result: ImageDiff,
    ) -> None:
        word = Text(change.change.value, CHANGE_STYLE[change.change])
        if change.fields:
            word.append(": " + ", ".join(change.fields))
        grid.add_row("Change", word)
        types = _before_after(old.type.value if old else "", new.type.value if new else "")
        grid.add_row("Type", types)
        if EntryType.FILE in (old and old.type, new and new.type):  # (a size to show)
            grid.add_row(
                "Size",
                _before_after(
                    formatting.size(change.old_bytes) if old else "",
                    formatting.size(change.new_bytes) if new else "",
                )
                + f"  ({formatting.signed_size(change.bytes)})",
            )
        (old_mode, old_owner, old_link), (new_mode, new_owner, new_link) = (
            _attributes(old),
            _attributes(new),
        )
        grid.add_row("Mode", _before_after(old_mode, new_mode))
        grid.add_row("Owner", _before_after(old_owner, new_owner))
        if old_link or new_link:
            grid.add_row("Link", _before_after(old_link, new_link))
        if change.layer is None:
            grid.add_row("Layer", "no layer of NEW ever had it")
        else:
            layer = next(
                (p.new for p in result.layers if p.new is not None and p.new.index == change.layer),
                None,
            )
            verb = "removed by" if change.change is FileChange.REMOVED else "brought by"
            line = Text(f"{verb} layer {change.layer} of NEW")
            if layer is not None:
                line.append(": " + layer_text(layer), "dim")
            grid.add_row("Layer", line)
