"""QuietFooter: Textual's Footer, recomposed only when the keys it shows change."""

from __future__ import annotations

from collections.abc import Hashable

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer


def _signature(screen: Screen[object]) -> tuple[Hashable, ...]:
    return tuple(
        (b.key, b.action, b.description, b.key_display, b.show, b.tooltip, enabled, tooltip)
        for (_, b, enabled, tooltip) in screen.active_bindings.values()
    )


class QuietFooter(Footer):
    """Every focus change re-announces the bindings, and the Footer rebuilds its keys (a
    mount and a layout of the screen, tens of milliseconds) even when they are the same;
    this one skips the rebuild when nothing it shows changed."""

    _shown: tuple[Hashable, ...] | None = None
    _pending = False

    def bindings_changed(self, screen: Screen[object]) -> None:
        # Footer's own logic, but one deferred check per burst of changes (a focus move
        # announces the bindings twice or more), compared when it runs
        self._bindings_ready = True
        if not screen.app.app_focus:
            return
        if self.is_attached and screen is self.screen and not self._pending:
            self._pending = True
            self.call_after_refresh(self._recompose_if_changed)

    async def _recompose_if_changed(self) -> None:
        self._pending = False
        if self.is_attached and _signature(self.screen) != self._shown:
            await self.recompose()

    def compose(self) -> ComposeResult:
        if self._bindings_ready:
            self._shown = _signature(self.screen)
        yield from super().compose()
