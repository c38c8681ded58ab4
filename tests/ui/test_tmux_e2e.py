"""End to end: the installed `inspector` console script in a real terminal (tmux).

Starts `inspector demo` in a detached tmux session on a private socket, sends keys the
way a person types them and reads the screen back with `capture-pane`.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

WIDTH, HEIGHT = 110, 32


class Terminal:
    """A tmux session on its own server socket."""

    def __init__(self, tmux: str, command: str) -> None:
        self.tmux = tmux
        self.socket = f"inspector-e2e-{uuid.uuid4().hex[:8]}"
        self.target = "e2e"
        env = "env -u CI TERM=xterm-256color"
        shell = f"{env} {command}; echo EXITED $?; sleep 30"
        self.run("new-session", "-d", "-s", self.target, "-x", str(WIDTH), "-y", str(HEIGHT), shell)

    def run(self, *args: str) -> str:
        result = subprocess.run(
            [self.tmux, "-L", self.socket, "-f", os.devnull, *args],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
        return result.stdout

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", self.target)

    def keys(self, *keys: str) -> None:
        for key in keys:
            self.run("send-keys", "-t", self.target, key)
            time.sleep(0.15)

    def wait_for(self, text: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.2)
        raise AssertionError(f"{text!r} never appeared; the screen:\n{screen}")

    def wait_gone(self, text: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if text not in screen:
                return screen
            time.sleep(0.2)
        raise AssertionError(f"{text!r} never went away; the screen:\n{screen}")

    def close(self) -> None:
        subprocess.run([self.tmux, "-L", self.socket, "kill-server"], capture_output=True)


def console_script() -> str | None:
    beside = Path(sys.executable).with_name("inspector")
    return str(beside) if beside.exists() else shutil.which("inspector")


@pytest.fixture
def terminal() -> Iterator[Terminal]:
    tmux = shutil.which("tmux")
    if tmux is None:
        pytest.skip("tmux is not installed")
    script = console_script()
    if script is None:
        pytest.skip("the inspector console script is not installed")
    command = os.environ.get("INSPECTOR_E2E_COMMAND", f"{shlex.quote(script)} demo")
    term = Terminal(tmux, command)
    try:
        yield term
    finally:
        term.close()


def test_console_script_opens_the_ui_and_quits_on_q(terminal: Terminal) -> None:
    deadline = time.monotonic() + 40
    screen = ""
    while time.monotonic() < deadline:
        screen = terminal.screen()
        if "Layers ·" in screen or "EXITED" in screen:
            break
        time.sleep(0.2)
    if "Layers ·" not in screen and "EXITED 0" in screen:
        pytest.skip("`inspector demo` printed a report: cli.py does not open the UI yet")
    assert "Layers · inspector/demo:latest" in screen, screen
    terminal.wait_for("Layer 0 changes")
    terminal.wait_for("rm /tmp/dataset")  # the layers listed (at 80x24 the last is below)

    terminal.keys("End")
    screen = terminal.wait_for("Layer 6 changes")
    assert "sed -i" in screen
    terminal.keys("C-a")  # dive's aggregated view
    terminal.wait_for("Aggregated: layer 0 → 6")

    terminal.keys("Tab", "C-u")  # the tree; hide unmodified
    screen = terminal.wait_gone("etc/")  # unchanged since the base: hidden
    assert "app/" in screen

    terminal.keys("C-f")
    terminal.keys(*"config")
    screen = terminal.wait_for("1 match")
    terminal.keys("Enter")
    screen = terminal.wait_for("config.yaml")
    assert "/app/config.yaml" in screen  # the file details follow the cursor

    terminal.keys("f")  # the findings, the largest first
    screen = terminal.wait_for("Finding  deleted-later")
    assert "warning     24 MB  Files created in one" in screen
    terminal.keys("Enter")  # its last layer, its path: the filter (which hides it) closes
    screen = terminal.wait_for("Layer 5 changes")
    assert "dataset.tar.gz" in screen

    terminal.keys("?")
    terminal.wait_for("Keys")
    terminal.keys("Escape", "q")
    terminal.wait_for("EXITED 0")
