"""Subcommands with their own help, and first contact: a wrong IMAGE fails in one line,
before the UI opens, whichever way it is wrong."""

from __future__ import annotations

import os
import pty
import select
import sys
import time
from pathlib import Path

import pytest
import services

CONTROL = {chr(code) for code in range(32)} - {"\n"} | {"\x7f"}
ALTERNATE_SCREEN = b"\x1b[?1049h"  # what Textual writes first when it takes the terminal


def _one_clean_line(stderr: str) -> str:
    assert stderr.endswith("\n")
    assert stderr.count("\n") == 1, stderr
    assert not CONTROL & set(stderr), repr(stderr)
    assert "Traceback" not in stderr
    return stderr


@pytest.mark.parametrize(
    ("argv", "usage"),
    [
        (["--help"], "usage: inspector [-h]"),
        (["inspect", "--help"], "usage: inspector inspect [-h]"),
        (["demo", "--help"], "usage: inspector demo [-h]"),
        (["extract", "--help"], "usage: inspector extract [-h]"),
        (["cache", "--help"], "usage: inspector cache [-h]"),
    ],
)
def test_every_command_has_its_own_help(argv: list[str], usage: str) -> None:
    done = services.run_cli(*argv)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(usage)


def test_the_main_help_lists_the_commands() -> None:
    text = services.run_cli("--help").stdout
    commands = text[text.index("commands:") :]
    for command in ("demo", "extract IMAGE PATH", "cache info|clear", "inspector inspect"):
        assert command in commands


def test_demo_is_a_command_and_takes_the_report_options() -> None:
    done = services.run_cli("demo", "--text")
    assert done.returncode == 0, done.stderr
    assert "demo" in done.stdout
    assert "Efficiency" in done.stdout or "efficiency" in done.stdout
    wrong = services.run_cli("demo", "IMAGE")
    assert wrong.returncode == 2
    assert _one_clean_line(wrong.stderr).startswith("inspector: unrecognized arguments: IMAGE")
    assert "inspector demo --help" in wrong.stderr


def test_a_bad_cache_action_is_a_usage_error() -> None:
    done = services.run_cli("cache", "purge")
    assert done.returncode == 2
    assert _one_clean_line(done.stderr).startswith("inspector: argument action: invalid choice")


def test_an_image_argument_with_a_tab_is_one_visible_line(tmp_path: Path) -> None:
    nowhere = f"unix://{tmp_path / 'no-engine.sock'}"
    done = services.run_cli("a\tb", "--text", env={"DOCKER_HOST": nowhere})
    assert done.returncode == 2
    line = _one_clean_line(done.stderr)
    assert "a\\tb" in line


def test_an_unknown_engine_image_gives_both_causes_in_one_line(
    docker_engine: services.ManagedEngine,
) -> None:
    # the engine lacks it, and its registry (a closed port on loopback) cannot answer
    name = "127.0.0.1:9/inspector-test/no-such-image:1"
    done = services.run_cli(name, "--text", env=docker_engine.env, timeout=120)
    assert done.returncode == 2
    line = _one_clean_line(done.stderr)
    assert "no such image in the Docker engine" in line
    assert f", and docker://{name}: " in line


def _run_in_terminal(argv: list[str], cwd: Path, timeout: float = 60) -> tuple[int, bytes]:
    """Run argv with a pseudo-terminal as stdin, stdout and stderr; exit code and output."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: a person's terminal
        os.chdir(cwd)
        env = services.cli_env(extra={"TERM": "xterm-256color"})
        os.execve(sys.executable, [sys.executable, "-m", "inspector", *argv], env)
    output = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while True:
            if time.monotonic() > deadline:
                os.kill(pid, 9)
                pytest.fail(f"{argv} still running after {timeout} s: {bytes(output)[-300:]!r}")
            ready, _, _ = select.select([fd], [], [], 0.2)
            if not ready:
                continue
            try:
                data = os.read(fd, 65536)
            except OSError:  # EIO: the child has closed the terminal
                break
            if not data:
                break
            output += data
    finally:
        os.close(fd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), bytes(output)


def test_a_missing_file_at_a_terminal_fails_before_the_ui(tmp_path: Path) -> None:
    code, output = _run_in_terminal(["missing.tar"], tmp_path)
    assert code == 2
    assert ALTERNATE_SCREEN not in output
    assert output.decode().strip() == "inspector: missing.tar: no such file"


def test_a_mistyped_engine_image_at_a_terminal_fails_before_the_ui(
    docker_engine: services.ManagedEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in docker_engine.env.items():
        monkeypatch.setenv(key, value)
    code, output = _run_in_terminal(["docker-daemon:inspector-test/nosuch:1"], tmp_path)
    assert code == 2
    assert ALTERNATE_SCREEN not in output
    text = output.decode().strip()
    assert text.startswith("inspector: inspector-test/nosuch:1: no such image in the Docker")
    assert "--pull-from-registry" in text
    assert "\n" not in text
