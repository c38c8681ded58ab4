"""ContentsScreen: one file as a layer stored it (text highlighted, binaries as hex).

The core cannot re-read one file of a layer yet, so the app only opens this screen when
it was given a `ContentReader`; otherwise it says the feature is not available.
"""

from __future__ import annotations

from typing import ClassVar, Protocol

from rich.syntax import Syntax
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

MAX_BYTES = 1 << 20


class ContentReader(Protocol):
    """The hook for the core re-read API: the bytes of `path` as layer `layer` stored it."""

    def __call__(self, layer: int, path: str) -> bytes: ...


def hex_dump(data: bytes, limit: int = 64 * 1024) -> str:
    lines = []
    for offset in range(0, min(len(data), limit), 16):
        chunk = data[offset : offset + 16]
        hexes = " ".join(f"{b:02x}" for b in chunk)
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{offset:08x}  {hexes:<47}  {text}")
    if len(data) > limit:
        lines.append(f"… {len(data) - limit:,} more bytes")
    return "\n".join(lines)


def is_text(data: bytes) -> bool:
    if b"\x00" in data[:8192]:
        return False
    try:
        data[:8192].decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start > 8180  # a character cut at the sample's end
    return True


class ContentsScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q", "dismiss", "Close")]

    def __init__(self, path: str, layer: int, data: bytes) -> None:
        super().__init__()
        self.path = path
        self.layer_no = layer
        self.data = data[:MAX_BYTES]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="contents-dialog") as dialog:
            dialog.border_title = f"/{self.path} (layer {self.layer_no})"
            dialog.border_subtitle = "Esc closes"
            if is_text(self.data):
                text = self.data.decode("utf-8", errors="replace")
                lexer = Syntax.guess_lexer(self.path, text)
                yield Static(Syntax(text, lexer, line_numbers=True, word_wrap=False))
            else:
                yield Static(Text(hex_dump(self.data)))
