"""Details panels: the selected layer, the image, and the file under the tree cursor.

Image-supplied text is shown literally and `display.clean`ed: every string cell of a
panel's tables goes through `CleanTable` (`Text`, never markup), and the other pieces
are built as `Text` from `clean`ed strings.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from rich.console import Console, Group, RenderableType
from rich.style import Style, StyleType
from rich.table import Table
from rich.text import Text
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from inspector import formatting
from inspector.analysis import Analysis, LayerStats
from inspector.changes import ChangeKind, EntryType
from inspector.display import clean, one_line
from inspector.dive import DiveNumbers
from inspector.findings.model import Finding, Severity
from inspector.indexer import LayerIndex
from inspector.model import Image, LayerInfo
from inspector.sharing import Sharing
from inspector.tree import HistoryItem, LayerSummary, Node
from inspector.ui.rows import attributes, shown_path
from inspector.ui.widgets.rowlist import set_virtual_size

KIND_STYLE = {
    ChangeKind.ADDED: "green",
    ChangeKind.MODIFIED: "yellow",
    ChangeKind.REMOVED: "red",
    ChangeKind.UNCHANGED: "",
}
SEVERITY_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}
KIND_WORD = {
    ChangeKind.ADDED: "added",
    ChangeKind.MODIFIED: "modified",
    ChangeKind.REMOVED: "removed",
    ChangeKind.UNCHANGED: "unchanged",
}


class CleanTable(Table):
    """A table whose string cells are shown as they are, `clean`ed: never as markup."""

    def add_row(
        self,
        *renderables: RenderableType | None,
        style: StyleType | None = None,
        end_section: bool = False,
    ) -> None:
        cells = [Text(clean(cell)) if isinstance(cell, str) else cell for cell in renderables]
        super().add_row(*cells, style=style, end_section=end_section)


def _lines(values: Sequence[str]) -> Text:
    """One `clean`ed value per line (env, labels)."""
    return Text("\n".join(map(clean, values)))


def grid_table() -> Table:
    grid = CleanTable.grid(padding=(0, 1))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    return grid


def severity_counts(findings: Sequence[Finding]) -> Text:
    """`1 error, 3 warnings, 0 info`: every severity, those found in their colour."""
    text = Text()
    for severity in (Severity.ERROR, Severity.WARNING, Severity.INFO):
        count = sum(1 for finding in findings if finding.severity is severity)
        word = f"{severity}s" if count != 1 and severity is not Severity.INFO else severity.value
        text.append(", " if text else "")
        text.append(f"{count} {word}", SEVERITY_STYLE[severity] if count else "")
    return text


def _digest(value: object | None) -> str:
    return str(value) if value is not None else "(unknown)"


class DetailsPanel(ScrollView, can_focus=True):
    """A details panel: a scrollable renderable, kept so tests and copy can read it as text.

    Drawn through the line API from lines rendered once per update (and per width): an
    update repaints this panel only, where a `Static` in a scroll container re-measured
    its content and laid out the whole screen on every tree cursor move.
    """

    DEFAULT_CSS = """
    DetailsPanel {
        overflow-x: hidden;
        overflow-y: auto;
    }
    """

    shown: RenderableType = ""

    def __init__(self, renderable: RenderableType = "", *, id: str | None = None) -> None:
        super().__init__(id=id, classes="details-scroll")
        self.shown = renderable
        self._strips: list[Strip] = []
        self._width = -1  # the width `_strips` were rendered for (-1: not yet)
        self._base_style: Style | None = None  # rich_style, kept (see render_line)

    def set_content(self, renderable: RenderableType) -> None:
        self.shown = renderable
        self._width = -1
        self.refresh()
        if self.is_mounted:
            self._layout_lines(self.scrollable_content_region.width)

    def text(self, width: int = 100) -> str:
        console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
        console.print(self.shown)
        return console.export_text()

    def _layout_lines(self, width: int) -> None:
        if width <= 0 or width == self._width:
            return
        self._width = width
        console = self.app.console
        # (markup=False: a string renderable is shown as it is, never as markup)
        options = console.options.update(width=width, height=None, highlight=False, markup=False)
        lines = console.render_lines(self.shown, options, pad=False)
        self._strips = [Strip(line) for line in lines]
        set_virtual_size(self, Size(width, len(self._strips)))

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._base_style = None

    def on_focus(self) -> None:
        self._base_style = None
        self.refresh()

    def on_blur(self) -> None:
        self._base_style = None
        self.refresh()

    def on_resize(self) -> None:
        self._layout_lines(self.scrollable_content_region.width)

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self._base_style
        if base is None:
            base = self._base_style = self.rich_style  # it walks every ancestor: once
        if width <= 0:
            return Strip.blank(0, base)
        self._layout_lines(width)  # a scrollbar came or went: wrap for the new width
        index = y + self.scroll_offset.y
        if not 0 <= index < len(self._strips):
            return Strip.blank(width, base)
        return self._strips[index].apply_style(base).crop_extend(0, width, base)


def blob_sizes(stored: int | None, index: LayerIndex | None) -> str:
    """A layer blob's size in words: `3 MB, an uncompressed tar` or `1.1 MB
    gzip-compressed, 3 MB uncompressed` (`3 MB stored` before the layer was read)."""
    if index is None:
        return f"{formatting.size(stored)} stored"
    if index.compression == "none":
        return f"{formatting.size(stored)}, an uncompressed tar"
    return (
        f"{formatting.size(stored)} {index.compression}-compressed, "
        f"{formatting.size(index.uncompressed_size)} uncompressed"
    )


class LayerDetails(DetailsPanel):
    """Digest, diff_id, media type, sizes, time and the full command of one layer."""

    def show(
        self,
        info: LayerInfo,
        count: int,
        index: LayerIndex | None,
        stats: LayerStats | None,
        summary: LayerSummary | None,
        shared: Sequence[str] = (),
    ) -> None:
        grid = grid_table()
        title = f"Layer {info.position} of {count}"
        grid.add_row("Digest", _digest(info.digest or (index.digest if index else None)))
        grid.add_row("Diff ID", _digest(info.diff_id))
        grid.add_row("Media type", info.media_type or "(unknown)")
        stored = info.size if info.size is not None else (index.compressed_size if index else None)
        grid.add_row("Blob", blob_sizes(stored, index))
        if stats is not None:
            grid.add_row(
                "Size",
                f"{formatting.signed_size(stats.contribution)} to the file system, "
                f"{formatting.size(stats.cumulative)} in total",
            )
            grid.add_row("Files", f"{formatting.size(stats.stored_bytes)} of file content stored")
            changes = Text.assemble(
                (f"+{stats.added} added", "green"),
                "  ",
                (f"~{stats.modified} modified", "yellow"),
                "  ",
                (f"-{stats.removed} removed", "red"),
                f"  ({stats.unchanged} rewritten unchanged)",
            )
            grid.add_row("Changes", changes)
            wasted = Text(formatting.size(stats.wasted_bytes), "red" if stats.wasted_bytes else "")
            wasted.append(" stored here but hidden by later layers")
            grid.add_row("Wasted", wasted)
        elif summary is not None:
            grid.add_row(
                "Size",
                f"{formatting.signed_size(summary.contribution)} to the file system, "
                f"{formatting.size(summary.cumulative)} in total",
            )
            grid.add_row(
                "Changes",
                f"+{summary.added} added  ~{summary.modified} modified  -{summary.removed} removed",
            )
        else:
            grid.add_row("Status", "indexing…")
        if shared:
            grid.add_row("Shared", Text("◆ with " + clean(", ".join(shared)), "magenta"))
        history = info.history
        grid.add_row("Created", (history.created if history else None) or "(unknown)")
        if history is not None and history.comment:
            grid.add_row("Comment", history.comment)
        command = Text(clean(formatting.command(info.created_by)) or "(no history entry)")
        parts: list[RenderableType] = [Text(title, "bold"), grid, Text("Command", "bold"), command]
        if index is not None and index.warnings:
            parts.append(Text("Warnings", "bold yellow"))
            parts.extend(Text(one_line(w), "yellow") for w in index.warnings[:20])
        self.set_content(Group(*parts))


class ImageDetails(DetailsPanel):
    """Name, tags, platform, totals, waste, the dive score and the runtime config."""

    def show(
        self,
        image: Image,
        analysis: Analysis | None,
        dive: DiveNumbers | None,
        stored: Sequence[int | None],
        warnings: Sequence[str] = (),
        shared: Sharing | None = None,
        findings: Sequence[Finding] | None = None,
    ) -> None:
        grid = grid_table()
        grid.add_row("Image", image.label)
        grid.add_row("Tags", ", ".join(image.tags) or "(none)")
        grid.add_row("Platform", str(image.platform) if image.platform else "(unknown)")
        grid.add_row("Config", str(image.config_digest))
        if image.manifest_digest is not None:
            grid.add_row("Manifest", str(image.manifest_digest))
        grid.add_row("Created", image.created or "(unknown)")
        grid.add_row("Layers", str(len(image.layers)))
        known = [s for s in stored if s is not None]
        if known:
            blob = formatting.size(sum(known))
            grid.add_row("Stored", blob + (" (some unknown)" if len(known) < len(stored) else ""))
        if shared is not None:
            grid.add_row(
                "Shared",
                f"{formatting.size(shared.shared_bytes)} in layers other images also have, "
                f"{formatting.size(shared.unique_bytes)} unique",
            )
        if analysis is not None:
            exact = analysis.exact
            grid.add_row("File bytes", f"{formatting.size(exact.stored_bytes)} stored in layers")
            grid.add_row("Visible", f"{formatting.size(exact.visible_bytes)} in the final FS")
            wasted = Text(formatting.size(exact.wasted_bytes), "red" if exact.wasted_bytes else "")
            wasted.append(f" in {len(exact.wasted_files)} files ({exact.wasted_bytes:,} bytes)")
            grid.add_row("Wasted", wasted)
            grid.add_row("Efficiency", f"{exact.efficiency * 100:.2f} %")
        else:
            grid.add_row("Analysis", "waiting for every layer…")
        if dive is not None:
            grid.add_row(
                "dive score",
                f"{int(dive.efficiency * 100)} % (efficiency {dive.efficiency:.4f}, "
                f"wasted {formatting.size(dive.wasted_bytes)})",
            )
        if findings is not None:
            grid.add_row("Findings", severity_counts(findings))
        config = image.config
        runtime = grid_table()
        runtime.add_row("Entrypoint", _argv(config.entrypoint))
        runtime.add_row("Cmd", _argv(config.cmd))
        runtime.add_row("User", config.user or "(root)")
        runtime.add_row("Workdir", config.workdir or "/")
        runtime.add_row("Ports", ", ".join(config.exposed_ports) or "(none)")
        runtime.add_row("Env", _lines(config.env) or "(none)")
        runtime.add_row("Labels", _lines([f"{k}={v}" for k, v in config.labels]) or "(none)")
        parts: list[RenderableType] = [grid, Text("Config", "bold"), runtime]
        if warnings:
            parts.append(Text(f"Warnings ({len(warnings)})", "bold yellow"))
            parts.extend(Text(one_line(w), "yellow") for w in warnings[:50])
        self.set_content(Group(*parts))


def _argv(value: tuple[str, ...] | None) -> str:
    if value is None:
        return "(none)"
    return " ".join(value)


class FileDetails(DetailsPanel):
    """The path under the tree cursor: attributes and its history across the layers."""

    def show(
        self,
        node: Node | None,
        history: Sequence[HistoryItem],
        lo: int,
        hi: int,
        commands: Sequence[str] | None = None,
    ) -> None:
        """`commands` (each layer's, `clean`ed) adds a column with the command of each
        layer of the history (the diff's history of a path in one image)."""
        if node is None:
            self.set_content(Text("No file selected.", "dim"))
            return
        entry = node.entry
        mode, owner, size = attributes(node)
        grid = grid_table()
        grid.add_row("Path", shown_path(node.path))
        kind = entry.type.value + (" (implied by deeper paths)" if node.implied else "")
        grid.add_row("Type", kind)
        if entry.type in (EntryType.SYMLINK, EntryType.HARDLINK):
            grid.add_row(
                "Target", entry.link if entry.type is EntryType.SYMLINK else "/" + entry.link
            )
        grid.add_row("Mode", f"{mode}  ({entry.mode & 0o7777:04o})")
        grid.add_row("Owner", owner)
        if node.is_dir:
            grid.add_row("Size", f"{size} below it")
        else:
            grid.add_row("Size", size if node.size < 1000 else f"{size} ({node.size:,} B)")
        change = Text(KIND_WORD[node.kind], KIND_STYLE[node.kind])
        change.append(f" in this view (layer {max(lo, -1) + 1}…{hi})" if hi - lo > 1 else " here")
        grid.add_row("Change", change)
        grid.add_row("Stored in", f"layer {node.layer}")
        table = CleanTable(box=None, padding=(0, 1), show_edge=False, expand=False)
        keep = commands is not None  # the command wraps, the other columns keep their width
        table.add_column("Layer", justify="right", no_wrap=keep)
        table.add_column("Change", no_wrap=keep)
        table.add_column("Size", justify="right", no_wrap=keep)
        table.add_column("Detail", no_wrap=keep)
        if commands is not None:
            table.add_column("Command")
        for item in history:
            detail = ", ".join(item.reasons) if item.reasons else (item.how or "")
            if item.implied:
                detail = "implied directory"
            marker = "▶" if item.layer == node.layer else " "
            word = "rewritten, same" if item.kind is ChangeKind.UNCHANGED else KIND_WORD[item.kind]
            cells: list[RenderableType] = [
                f"{marker}{item.layer}",
                Text(word, KIND_STYLE[item.kind]),
                formatting.size(item.size),
                str(detail),
            ]
            if commands is not None:
                cells.append(Text(commands[item.layer] if item.layer < len(commands) else ""))
            table.add_row(*cells)
        self.set_content(Group(grid, Text("History", "bold"), table))
