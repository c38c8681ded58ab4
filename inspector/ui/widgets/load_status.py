"""LoadStatus: which layer is being indexed, with a progress bar."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import ProgressBar, Static

from inspector import formatting
from inspector.display import clean


class LoadStatus(Horizontal):
    prefix = ""  # which image is being read (`OLD: ` in the diff), before every label

    def compose(self) -> ComposeResult:
        yield Static("Reading the image…", id="load-label")
        yield ProgressBar(total=None, show_eta=False, show_percentage=True, id="load-bar")
        yield Static("", id="load-amount")

    def started(self, name: str, total: int | None, count: int, layers: int | None) -> None:
        short = clean(name.removeprefix("sha256:").removeprefix("blobs/sha256/")[:12])
        of = f"/{layers}" if layers else ""
        # (the name: never markup)
        label = Text(f"{self.prefix}Indexing layer {count}{of} {short} ")
        self.query_one("#load-label", Static).update(label)
        self.progress(0, total)

    def progress(self, done: int, total: int | None) -> None:
        bar = self.query_one("#load-bar", ProgressBar)
        bar.update(total=total, progress=done)
        amount = formatting.size(done) + (f" / {formatting.size(total)}" if total else "")
        self.query_one("#load-amount", Static).update(" " + amount)

    def analysing(self) -> None:
        self.say("Analysing…")

    def say(self, text: str) -> None:
        """A step without a byte count (our own words: `text` is never the image's)."""
        self.query_one("#load-label", Static).update(Text(f"{self.prefix}{text} "))
        self.query_one("#load-bar", ProgressBar).update(total=None)
        self.query_one("#load-amount", Static).update("")
