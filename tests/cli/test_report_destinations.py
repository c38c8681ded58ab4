"""Where `--json FILE` writes, run as the installed command on a small built image.

Each kind of destination (inspector/output.py): a FIFO or a device is written through and
stays what it was; a symbolic link is followed and kept; a regular file is replaced
atomically with its mode kept; an open descriptor (`/dev/stdout`, `/proc/self/fd/N`) is
written at its offset; a directory or a missing directory is a one-line exit 2 before the
image is read; a failed write leaves the old file and no temporary file.

The tests run as root: devices are private nodes made with mknod in the test's directory,
never the machine's, and `/dev/stdout` is used only once the inspector's own rules call it
a descriptor, so a regression fails a test instead of replacing a file under /dev.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import threading
from pathlib import Path
from typing import Any

import imagebuilder as ib
import pytest
import services

from inspector import output

FILES = 60  # enough file-list entries that the report is well over LIMIT bytes
LIMIT = 4096  # bytes a file may grow to in the failed-write test (`ulimit -f`)


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    built = ib.build_image(
        ib.Layer(
            [ib.Dir("app"), *(ib.File(f"app/file-{n:03}.txt", 100 + n) for n in range(FILES))],
            created_by="COPY app /app",
        ),
        ib.Layer([ib.Whiteout("app/file-000.txt")], created_by="RUN rm /app/file-000.txt"),
        tags=("example/destinations:1",),
    )
    path = tmp_path_factory.mktemp("image") / "image.tar"
    path.write_bytes(ib.docker_save_legacy(built))
    return path


def run(*args: str | os.PathLike[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return services.run_cli(*args, "--no-cache", cwd=cwd, timeout=120)


def report(text: str) -> dict[str, Any]:
    doc = json.loads(text)
    assert isinstance(doc, dict)
    assert doc["image"]["tags"] == ["example/destinations:1"]
    assert len(doc["layer"]) == 2
    return doc


def temporary_files(*directories: Path) -> list[str]:
    return [name for d in directories for name in os.listdir(d) if name.endswith(".tmp")]


def assert_one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> str:
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("inspector: --json ")
    for word in words:
        assert word in lines[0]
    return lines[0]


# ------------------------------------------------------------------ written through


def test_fifo_is_written_through_and_stays_a_fifo(image: Path, tmp_path: Path) -> None:
    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []

    def reader() -> None:
        with fifo.open("rb") as handle:  # blocks until the inspector opens it for writing
            received.append(handle.read())

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    result = run(image, "--json", fifo, cwd=tmp_path)
    thread.join(timeout=60)
    assert result.returncode == 0, result.stderr
    assert not thread.is_alive()
    report(received[0].decode())
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert temporary_files(tmp_path) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="mknod of a character device needs root")
def test_character_device_is_written_through_and_stays_a_device(
    image: Path, tmp_path: Path
) -> None:
    null = tmp_path / "null"
    os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    result = run(image, "--json", null, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    info = os.lstat(null)
    assert stat.S_ISCHR(info.st_mode)
    assert info.st_rdev == os.makedev(1, 3)
    assert temporary_files(tmp_path) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="mknod of a character device needs root")
def test_a_device_that_fails_the_write_is_one_line_exit_2(image: Path, tmp_path: Path) -> None:
    full = tmp_path / "full"  # a private /dev/full: every write fails with ENOSPC
    os.mknod(full, stat.S_IFCHR | 0o666, os.makedev(1, 7))
    result = run(image, "--json", full, cwd=tmp_path)
    assert_one_line_error(result, "cannot write", "No space left")
    assert stat.S_ISCHR(os.lstat(full).st_mode)
    assert temporary_files(tmp_path) == []


# ------------------------------------------------------------------ open descriptors


def written_to_a_descriptor(path: str) -> str:
    """`path`, once the inspector's own rules say it is an open descriptor: a regression
    must fail here, not replace the machine's /dev/stdout (the tests run as root)."""
    assert output.destination(path, "--json").how is output.How.DESCRIPTOR
    return path


def test_dev_stdout_into_a_pipe(image: Path, tmp_path: Path) -> None:
    result = run(image, "--json", written_to_a_descriptor("/dev/stdout"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report(result.stdout)
    assert os.path.islink("/dev/stdout")


def test_dev_stdout_redirected_to_a_file_writes_at_the_shells_offset(
    image: Path, tmp_path: Path
) -> None:
    """`inspector IMG --json /dev/stdout >> log`: appended to log, which is not replaced."""
    log = tmp_path / "log"
    log.write_text("earlier line\n")
    inode = log.stat().st_ino
    with log.open("a") as out:
        completed = subprocess.run(
            services.inspector_command(
                image, "--no-cache", "--json", written_to_a_descriptor("/dev/stdout")
            ),
            stdout=out,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            cwd=tmp_path,
            env=services.cli_env(),
            timeout=120,
            check=False,
        )
    assert completed.returncode == 0, completed.stderr
    assert log.stat().st_ino == inode
    first, rest = log.read_text().split("\n", 1)
    assert first == "earlier line"
    report(rest)


def test_proc_self_fd_writes_to_that_descriptor(image: Path, tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    chunks: list[bytes] = []

    def reader() -> None:
        with os.fdopen(read_end, "rb") as handle:
            chunks.append(handle.read())

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    try:
        completed = subprocess.run(
            services.inspector_command(image, "--no-cache", "--json", f"/proc/self/fd/{write_end}"),
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            pass_fds=(write_end,),
            cwd=tmp_path,
            env=services.cli_env(),
            timeout=120,
            check=False,
        )
    finally:
        os.close(write_end)
    thread.join(timeout=60)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == ""
    report(chunks[0].decode())


def test_a_closed_descriptor_is_exit_2_before_loading(tmp_path: Path) -> None:
    result = run(tmp_path / "missing.tar", "--json", "/proc/self/fd/9", cwd=tmp_path)
    assert_one_line_error(result, "file descriptor 9 is not open")


# ------------------------------------------------------------------ symbolic links


def test_symlink_is_kept_and_its_target_replaced_atomically(image: Path, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    target = reports / "latest.json"
    target.write_text("x" * 100_000)
    target.chmod(0o640)
    os.link(target, tmp_path / "old.json")  # the old inode must stay whole
    link = tmp_path / "out.json"
    link.symlink_to("reports/latest.json")
    result = run(image, "--json", link, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert link.is_symlink()
    assert os.readlink(link) == "reports/latest.json"
    report(target.read_text())
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert (tmp_path / "old.json").read_text() == "x" * 100_000
    assert temporary_files(tmp_path, reports) == []


def test_dangling_symlink_creates_its_target(image: Path, tmp_path: Path) -> None:
    (tmp_path / "reports").mkdir()
    link = tmp_path / "out.json"
    link.symlink_to(tmp_path / "reports" / "new.json")
    chained = tmp_path / "chained.json"
    chained.symlink_to("out.json")  # a link to the link
    result = run(image, "--json", chained, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert chained.is_symlink()
    assert link.is_symlink()
    report((tmp_path / "reports" / "new.json").read_text())


def test_symlink_to_a_directory_is_exit_2(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    (tmp_path / "out.json").symlink_to("dir")
    result = run(tmp_path / "missing.tar", "--json", tmp_path / "out.json", cwd=tmp_path)
    assert_one_line_error(result, "is a directory")
    assert (tmp_path / "out.json").is_symlink()


def test_symlink_loop_is_exit_2(tmp_path: Path) -> None:
    (tmp_path / "a").symlink_to("b")
    (tmp_path / "b").symlink_to("a")
    result = run(tmp_path / "missing.tar", "--json", tmp_path / "a", cwd=tmp_path)
    assert_one_line_error(result, "symbolic links")


# ------------------------------------------------------------------ regular files


@pytest.mark.parametrize("mode", [0o600, 0o754])
def test_regular_file_is_replaced_atomically_keeping_its_mode(
    mode: int, image: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out.json"
    out.write_text("y" * 100_000)  # longer than the report: no tail may survive
    out.chmod(mode)
    os.link(out, tmp_path / "old.json")
    result = run(image, "--json", out, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report(out.read_text())
    assert stat.S_IMODE(out.stat().st_mode) == mode
    assert out.stat().st_ino != (tmp_path / "old.json").stat().st_ino
    assert (tmp_path / "old.json").read_text() == "y" * 100_000
    assert temporary_files(tmp_path) == []


def test_a_failed_write_keeps_the_old_file_and_no_temporary_file(
    image: Path, tmp_path: Path
) -> None:
    """The file size limit (`ulimit -f`) stops the write half way with EFBIG (Python
    ignores SIGXFSZ): the old report stays whole and no temporary file is left."""
    out = tmp_path / "out.json"
    out.write_text("old report\n")
    command = services.inspector_command(image, "--no-cache", "--json", out)
    completed = subprocess.run(
        ["sh", "-c", f'ulimit -f {LIMIT // 512} && exec "$@"', "sh", *command],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        cwd=tmp_path,
        env=services.cli_env(),
        timeout=120,
        check=False,
    )
    assert_one_line_error(completed, "cannot write", "too large")
    assert out.read_text() == "old report\n"
    assert temporary_files(tmp_path) == []
    assert sorted(os.listdir(tmp_path)) == ["out.json"]


# ------------------------------------------------------------------ unwritable, checked first


def test_directory_is_exit_2_before_the_image_is_read(tmp_path: Path) -> None:
    """A missing image would be exit 2 too, but its message would name the image: the
    destination's message proves the destination was checked before any loading."""
    result = run(tmp_path / "missing.tar", "--json", tmp_path, cwd=tmp_path)
    line = assert_one_line_error(result, str(tmp_path), "is a directory")
    assert "missing.tar" not in line


def test_directory_is_exit_2_with_a_readable_image_too(image: Path, tmp_path: Path) -> None:
    result = run(image, "--json", tmp_path, cwd=tmp_path)
    assert_one_line_error(result, "is a directory")
    assert tmp_path.is_dir()
    assert os.listdir(tmp_path) == []


def test_missing_directory_is_exit_2_before_the_image_is_read(tmp_path: Path) -> None:
    out = tmp_path / "no" / "such" / "out.json"
    result = run(tmp_path / "missing.tar", "--json", out, cwd=tmp_path)
    line = assert_one_line_error(result, f"directory {out.parent} does not exist")
    assert "missing.tar" not in line
    assert not (tmp_path / "no").exists()


# ------------------------------------------------------------------ --text together with --json


def test_text_and_json_file_give_both(image: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    result = run(image, "--text", "--json", out, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Image: ")
    assert "/app/file-000.txt" in result.stdout  # the wasted-files table
    report(out.read_text())


@pytest.mark.parametrize("stdout", ["-", "/dev/stdout"])
def test_text_with_json_on_stdout_goes_to_stderr(stdout: str, image: Path, tmp_path: Path) -> None:
    if stdout != "-":
        written_to_a_descriptor(stdout)
    result = run(image, "--text", "--json", stdout, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report(result.stdout)  # nothing but the JSON document
    assert result.stderr.startswith("Image: ")


def test_text_json_and_ci_give_all_three(image: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    rules = ["--lowestEfficiency", "0.1", "--highestUserWastedPercent", "disabled"]
    result = run(image, "--text", "--json", out, "--ci", *rules, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Image: ")
    assert "PASS" in result.stdout
    report(out.read_text())
