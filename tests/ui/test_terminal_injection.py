"""The installed console script on a hostile image (tests/hostile.py), in real terminals.

* In a pseudo-terminal: every byte the UI writes is read back while a person's keys put
  the hostile files, their details, the file viewer, the layer command, the image config
  and the wasted-files table on screen. None of the image's own sequences (`ESC[2J` with
  its marker, `OSC 0`, `OSC 52`, a C1 CSI, a bidi override, a forged row) may be among
  them; Textual's own escape sequences are fine. The visible escapes must be.
* In tmux: the screen a person sees, and what tmux would have obeyed: the pane's title
  (`OSC 0`) and tmux's paste buffers (`OSC 52`, with `set-clipboard on`) stay untouched.
"""

from __future__ import annotations

import fcntl
import os
import select
import shlex
import shutil
import signal
import struct
import subprocess
import sys
import termios
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import hostile
import pytest

WIDTH, HEIGHT = 160, 50
DOWN, SHIFT_TAB, CTRL_SPACE = b"\x1b[B", b"\x1b[Z", b"\x00"


def console_script() -> str:
    beside = Path(sys.executable).with_name("inspector")
    found = str(beside) if beside.exists() else shutil.which("inspector")
    if found is None:
        pytest.skip("the inspector console script is not installed")
    return found


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return hostile.hostile_archive(tmp_path_factory.mktemp("hostile") / "hostile.tar")


def environment() -> dict[str, str]:
    # COLUMNS and LINES (set in pytest-xdist's workers) would win over the pty's size
    drop = ("CI", "NO_COLOR", "COLUMNS", "LINES")
    env = {key: value for key, value in os.environ.items() if key not in drop}
    env["TERM"] = "xterm-256color"
    return env


class PseudoTerminal:
    """A program on the slave side of a pty of its own; everything it writes is kept."""

    def __init__(self, argv: list[str], cwd: Path) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", HEIGHT, WIDTH, 0, 0))
        self.process = subprocess.Popen(
            argv,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            cwd=cwd,
            env=environment(),
            start_new_session=True,
        )
        os.close(slave)
        self.master = master
        self.output = bytearray()
        self.mark = 0  # where the output of the last keys sent begins

    def pump(self, seconds: float) -> None:
        """Read what the program writes for `seconds` (less if it closes the terminal)."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([self.master], [], [], min(left, 0.05))
            if not ready:
                continue
            try:
                data = os.read(self.master, 65536)
            except OSError:  # EIO: the program is gone and the slave side closed
                return
            if not data:
                return
            self.output.extend(data)

    def wait_for(self, text: bytes, timeout: float = 30.0) -> None:
        """Read until `text` was written (since the last keys were sent); fail at once
        when one of the image's own sequences was written."""
        deadline = time.monotonic() + timeout
        while text not in self.output[self.mark :]:
            leaked = hostile.leaks(bytes(self.output))
            assert not leaked, f"the image's own {leaked} reached the terminal"
            if time.monotonic() > deadline or self.process.poll() is not None:
                tail = bytes(self.output[-2000:])
                raise AssertionError(f"{text!r} was never written; the last bytes: {tail!r}")
            self.pump(0.1)

    def send(self, *keys: bytes) -> None:
        self.mark = len(self.output)
        for key in keys:
            os.write(self.master, key)
            self.pump(0.15)

    def close(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        os.close(self.master)


@pytest.fixture
def pty_ui(archive: Path, tmp_path: Path) -> Iterator[PseudoTerminal]:
    terminal = PseudoTerminal([console_script(), str(archive), "--no-cache"], tmp_path)
    try:
        yield terminal
    finally:
        terminal.close()


def test_no_image_sequence_reaches_the_terminal(pty_ui: PseudoTerminal) -> None:
    term = pty_ui
    term.wait_for(b"rm -rf /hostile")  # both layers listed
    term.send(b"\t", CTRL_SPACE)  # the tree, every directory open
    term.wait_for(b"clear\\x1b[2Jscreen")
    term.send(DOWN, DOWN, DOWN)  # hostile/, [@click…, [red]markup, clear…
    term.wait_for(b"/hostile/clear\\x1b[2Jscreen")  # the file's details
    term.send(DOWN, DOWN, b"v")  # clip…, contents.txt: the viewer
    term.wait_for(b"\\x1b[2Jcontent-clear")
    term.send(b"q", SHIFT_TAB, DOWN)  # close it; the layer list, the layer that deletes
    term.wait_for(b"\\x1b]52;c;TEFZRVI=\\x07")  # its command in the layer details
    term.send(b"l")  # the image details: labels, env, warnings
    term.wait_for(b"CLEAR=env\\x1b[2Jenv-clear")
    term.send(b"l")  # the findings: the deleting layer's command, the paths it hides
    term.wait_for(b"deleted-later")
    term.send(b"l")  # the wasted files
    term.wait_for(b"/hostile/invoice\\u202etxt.exe")
    term.send(b"q")
    term.process.wait(timeout=20)
    term.pump(0.5)
    output = bytes(term.output)

    assert not hostile.leaks(output), hostile.leaks(output)
    for shown in (
        *hostile.SHOWN,
        "Layers · hostile/image:v1\\x1b]0;TAG-TITLE\\x07",
        "link → target\\x1b]52;c;TElOSw==\\x07",
        "\\x1b]0;CONTENT-TITLE\\x07",
        "label\\x1b]0;LABEL-TITLE\\x07=value\\x1b]52;c;TEFCRUw=\\x07",
        "EVIL=env\\x1b]52;c;RU5W\\x07",
        "[bold]markup-label=[@click=app.quit]x",
    ):
        assert shown.encode() in output, shown


# --------------------------------------------------------------------------------- tmux


class Tmux:
    """A tmux server of its own, with tmux obeying OSC 52 (`set-clipboard on`)."""

    def __init__(self, command: str) -> None:
        tmux = shutil.which("tmux")
        if tmux is None:
            pytest.skip("tmux is not installed")
        self.tmux = tmux
        self.socket = f"inspector-hostile-{uuid.uuid4().hex[:8]}"
        env = "env -u CI -u NO_COLOR TERM=xterm-256color"
        shell = f"sleep 0.5; {env} {command}; echo EXITED $?; sleep 30"
        self.run("new-session", "-d", "-s", "t", "-x", str(WIDTH), "-y", str(HEIGHT), shell,
                 ";", "set-option", "-g", "set-clipboard", "on")  # fmt: skip

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
        return self.run("capture-pane", "-p", "-t", "t")

    def keys(self, *keys: str) -> None:
        for key in keys:
            self.run("send-keys", "-t", "t", key)
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

    def obeyed(self) -> list[str]:
        """What tmux did on the image's behalf: a pane title set, a paste buffer written."""
        done = []
        title = self.run("display-message", "-p", "-t", "t", "#{pane_title}").strip()
        if "TITLE" in title:  # every OSC 0 of the image sets a title ending in -TITLE
            done.append(f"pane title {title!r}")
        buffers = self.run("list-buffers").strip()
        if buffers:
            done.append(f"paste buffers {buffers!r}")
        return done

    def close(self) -> None:
        subprocess.run([self.tmux, "-L", self.socket, "kill-server"], capture_output=True)


@pytest.fixture
def tmux_ui(archive: Path) -> Iterator[Tmux]:
    command = f"{shlex.quote(console_script())} {shlex.quote(str(archive))} --no-cache"
    terminal = Tmux(command)
    try:
        yield terminal
    finally:
        terminal.close()


def test_a_person_sees_the_escapes_and_tmux_obeys_nothing(tmux_ui: Tmux) -> None:
    term = tmux_ui
    screen = term.wait_for("rm -rf /hostile")
    assert not term.obeyed()
    assert "Layers · hostile/image:v1\\x1b]0;TAG-TITLE\\x07" in screen
    term.keys("Tab", "C-Space")
    screen = term.wait_for("clear\\x1b[2Jscreen")
    for name in hostile.SHOWN:
        assert f"── {name}" in screen, screen  # one tree row each, none forged
    term.keys("Down", "Down", "Down")
    screen = term.wait_for("/hostile/clear\\x1b[2Jscreen")
    assert "Path      /hostile/clear\\x1b[2Jscreen" in screen
    term.keys("BTab", "Down", "f")  # the findings: a layer's command, the paths it hides
    screen = term.wait_for("deleted-later")
    assert "1 rm -rf /hostile \\x1b]0;LAYER-TITLE\\x07" in screen, screen
    assert not term.obeyed()
    term.keys("Tab", "Tab", "l")  # the details, the layer list; its next tab: wasted files
    screen = term.wait_for("deleted     /hostile/invoice\\u202etxt.exe")
    rows = [line for line in screen.splitlines() if "deleted     /hostile/" in line]
    assert len(rows) == len(hostile.NAMES), screen
    assert not term.obeyed()
    term.keys("q")
    term.wait_for("EXITED 0")
    assert not term.obeyed()
