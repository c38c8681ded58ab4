"""What both terminal apps share: the app-wide keys, a load error shown in a dialog and
then in the exit code, and running the app to an exit code."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import ClassVar

from textual.app import App
from textual.binding import Binding, BindingType

from inspector.display import one_line
from inspector.ui.messages import LoadFailed
from inspector.ui.screens.error import ErrorScreen
from inspector.ui.screens.help import KEYS, HelpScreen, Keys

EXIT_ERROR = 2


class LoadingApp(App[int]):
    """An app that loads in a worker: `failure` holds a load error's message, which
    closes the app with EXIT_ERROR once its dialog is dismissed."""

    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute: subclasses work too
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
        Binding("question_mark,f1", "help", "Help", key_display="?"),
    ]
    HELP_KEYS: ClassVar[Keys] = KEYS

    def __init__(self) -> None:
        super().__init__()
        self.failure: str | None = None

    def on_load_failed(self, message: LoadFailed) -> None:
        self.failure = message.message
        self.push_screen(
            ErrorScreen(message.title, message.message), lambda _: self.exit(return_code=EXIT_ERROR)
        )

    async def action_quit(self) -> None:
        """Quit; after a load error the exit code says so (2, like the CLI)."""
        self.exit(return_code=EXIT_ERROR if self.failure is not None else 0)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.HELP_KEYS))


def run_app(app: LoadingApp) -> int:
    """Run `app` to its exit code; a load error is one line on stderr, exit 2."""
    code = app.run()
    if app.failure is not None:
        sys.stderr.write(f"inspector: {one_line(app.failure)}\n")
        return EXIT_ERROR
    return code or 0
