"""The report destination rules in process (the subprocess runs are tests/cli/
test_report_destinations.py): which names are open descriptors, and what `checked` hands
back. Nothing here writes outside the test's own directory."""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from inspector import output
from inspector.errors import OutputError, UsageError


@pytest.mark.parametrize(
    "name", ["/dev/stdout", "/proc/self/fd/1", "/dev/fd/1", "/proc/{pid}/fd/1"]
)
def test_names_of_standard_output_become_a_dash(name: str) -> None:
    assert output.checked(name.format(pid=os.getpid()), "--json") == "-"


def test_dev_stderr_is_descriptor_2() -> None:
    target = output.destination("/dev/stderr", "--json")
    assert (target.how, target.fd) == (output.How.DESCRIPTOR, 2)
    assert output.checked("/dev/stderr", "--json") == "/dev/stderr"


def test_a_link_to_dev_stdout_is_standard_output(tmp_path: Path) -> None:
    (tmp_path / "out").symlink_to("/dev/stdout")
    assert output.checked(str(tmp_path / "out"), "--json") == "-"


def test_a_descriptor_open_for_reading_only_is_refused(tmp_path: Path) -> None:
    (tmp_path / "in").write_text("")
    with (tmp_path / "in").open() as handle, pytest.raises(UsageError, match="for writing"):
        output.checked(f"/dev/fd/{handle.fileno()}", "--json")


def test_new_and_regular_files_are_replaced(tmp_path: Path) -> None:
    new = output.destination(str(tmp_path / "new.json"), "--json")
    assert (new.how, new.path) == (output.How.REPLACE, str(tmp_path / "new.json"))
    (tmp_path / "old.json").write_text("{}")
    assert output.destination(str(tmp_path / "old.json"), "--json").how is output.How.REPLACE


def test_a_relative_link_is_resolved_from_its_own_directory(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "link").symlink_to("../b/report.json")
    (tmp_path / "b").mkdir()
    target = output.destination(str(tmp_path / "a" / "link"), "--json")
    assert os.path.realpath(target.path) == str(tmp_path / "b" / "report.json")


def test_a_file_as_parent_directory_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(UsageError, match="--json"):
        output.checked(str(tmp_path / "file" / "out.json"), "--json")


def test_write_replaces_a_file_and_standard_output_is_a_dash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.json"
    out.write_text("old, and longer than the new text\n")
    output.write(str(out), "{}\n", "--json")
    assert out.read_text() == "{}\n"
    output.write("-", "[]\n", "--json")
    assert capsys.readouterr().out == "[]\n"


def test_a_directory_is_refused_by_write_too(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="is a directory"):
        output.write(str(tmp_path), "{}", "--json")


def _pieces(total: int) -> list[bytes]:
    """Small pieces, then one larger than a write, then small ones again."""
    small = [f"{i:05d}\u00e9,".encode() for i in range(total)]
    return [*small[: total // 2], b"x" * (output._GATHER + 3), *small[total // 2 :]]


def test_pieces_replace_a_file_keeping_its_mode(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    out.write_text("old")
    out.chmod(0o640)
    pieces = _pieces(5000)
    output.write_chunks(str(out), iter(pieces), "--json")
    assert out.read_bytes() == b"".join(pieces)
    assert out.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_a_failure_while_pieces_are_made_leaves_the_old_file(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    out.write_text("old report")

    def pieces() -> Iterator[bytes]:
        yield b"x" * (3 * output._GATHER)  # written to the temporary file already
        raise RuntimeError("the renderer failed")

    with pytest.raises(RuntimeError, match="renderer"):
        output.write_chunks(str(out), pieces(), "--json")
    assert out.read_text() == "old report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_pieces_go_through_a_fifo_as_they_come(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    pieces = _pieces(300)
    output.write_chunks(str(fifo), pieces, "--json")
    reader.join(10)
    assert received == [b"".join(pieces)]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_pieces_to_standard_output_split_no_character(capsys: pytest.CaptureFixture[str]) -> None:
    text = '{"caf\u00e9": "\U0001f600"}\n'.encode()
    output.write_chunks("-", [text[i : i + 1] for i in range(len(text))], "--json")
    assert capsys.readouterr().out == text.decode()


def test_a_full_device_is_an_output_error() -> None:
    with pytest.raises(OutputError, match="--json /dev/full: cannot write"):
        output.write_chunks("/dev/full", [b"{}"], "--json")
