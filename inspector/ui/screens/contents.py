"""ContentsScreen: one file as a layer stored it (text highlighted, binaries as hex).

The app reads the file in a worker (`inspector.contents.read_file`) and opens this screen
with the result; nothing here does I/O. What it shows of the file (its name, its link
target, its text) is `display.clean`ed: a file's escape sequences are shown, never obeyed.
"""

from __future__ import annotations

from typing import ClassVar

from rich.syntax import Syntax
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from inspector import formatting
from inspector.changes import EntryType
from inspector.contents import FileContents
from inspector.display import clean, clean_text
from inspector.filetype import describe, is_text
from inspector.ui.rows import shown_path
from inspector.ui.widgets.footer import QuietFooter

TEXT_LIMIT = 1 << 20  # characters of text highlighted at most
HEX_LIMIT = 64 * 1024  # bytes of a binary shown as hex


def hex_dump(data: bytes, limit: int = HEX_LIMIT) -> str:
    lines = []
    for offset in range(0, min(len(data), limit), 16):
        chunk = data[offset : offset + 16]
        hexes = " ".join(f"{b:02x}" for b in chunk)
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{offset:08x}  {hexes:<47}  {text}")
    if len(data) > limit:
        lines.append(f"… {len(data) - limit:,} more bytes read, not shown")
    return "\n".join(lines)


def kind_of(contents: FileContents) -> str:
    """What the viewer says the file is: `ELF 64-bit executable x86-64`, `text`, …
    (`clean`ed: a link target or a script's first line comes from the image)."""
    entry = contents.entry
    if entry.type is EntryType.SYMLINK:
        return f"symbolic link to {clean(entry.link)}"
    if entry.type not in (EntryType.FILE, EntryType.HARDLINK):
        return str(entry.type)
    return clean(describe(contents.data))


def subtitle(contents: FileContents) -> str:
    parts = [kind_of(contents)]
    if contents.entry.type in (EntryType.FILE, EntryType.HARDLINK):
        parts.append(formatting.size(contents.size))
        if contents.entry.type is EntryType.HARDLINK:
            parts.append(f"hard link to {shown_path(contents.entry.link)}")
        if contents.truncated:
            parts.append(f"first {formatting.size(len(contents.data))} read")
    parts.append("Esc closes")
    return " · ".join(parts)


class ContentsScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q", "dismiss", "Close")]

    def __init__(self, contents: FileContents) -> None:
        super().__init__()
        self.contents = contents

    @property
    def text(self) -> str:
        """What the screen shows, as plain text (the body), `clean_text`ed."""
        data = self.contents.data
        if self.contents.entry.type not in (EntryType.FILE, EntryType.HARDLINK):
            return kind_of(self.contents)
        if is_text(data):
            return clean_text(data[:TEXT_LIMIT].decode("utf-8", errors="replace"))
        return hex_dump(data)

    def compose(self) -> ComposeResult:
        contents = self.contents
        with VerticalScroll(id="contents-dialog") as dialog:
            # Text: a title string would be read as markup
            dialog.border_title = Text(f"{shown_path(contents.path)} (layer {contents.layer})")
            dialog.border_subtitle = Text(subtitle(contents))
            text = self.text.removesuffix("\n")  # it ends the last line: no empty line after
            if contents.entry.type in (EntryType.FILE, EntryType.HARDLINK) and is_text(
                contents.data
            ):
                lexer = Syntax.guess_lexer(contents.path, text)
                yield Static(Syntax(text, lexer, line_numbers=True, word_wrap=False))
            else:
                yield Static(Text(text))
        yield QuietFooter()  # this dialog's keys, not those of the screen below
