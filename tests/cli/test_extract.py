"""`inspector extract IMAGE PATH`, run as a subprocess: files, directories, errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import services

from inspector.demo import build_demo


@pytest.fixture(scope="module")
def demo_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "demo.tar"
    path.write_bytes(build_demo())
    return path


def test_a_file_to_standard_output(demo_archive: Path) -> None:
    result = services.run_cli("extract", demo_archive, "/app/config.yaml", "--to", "-")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "log_level: info\nworkers: 4\n"
    older = services.run_cli(
        "extract", demo_archive, "app/config.yaml", "--layer", "3", "--to", "-"
    )
    assert older.stdout == "log_level: debug\nworkers: 4\n"


def test_a_directory_to_the_default_destination(demo_archive: Path, tmp_path: Path) -> None:
    result = services.run_cli("extract", demo_archive, "/app/src", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "extracted 1 file" in result.stderr
    assert (tmp_path / "src" / "main.py").read_bytes().startswith(b"print line 0\n")
    again = services.run_cli("extract", demo_archive, "/app/src", cwd=tmp_path)
    assert again.returncode == 2
    assert again.stderr.strip().endswith("already exists (--overwrite writes into it)")
    forced = services.run_cli("extract", demo_archive, "/app/src", "--overwrite", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr


def test_the_built_in_demo_reads_from_memory(tmp_path: Path) -> None:
    result = services.run_cli("extract", "demo", "etc", "--to", tmp_path / "etc")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "etc" / "os-release").read_text() == 'NAME="Demo Linux"\nVERSION_ID="1"\n'


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["/nope"], "demo.tar: /nope is not in the file system at layer 6"),
        (["/etc", "--layer", "9"], "--layer 9: the image has layers 0 to 6"),
        (
            ["/etc", "--to", "-"],
            "demo.tar: /etc is a dir, not a regular file; a stream takes one regular file "
            "(a directory is extracted to a local directory)",
        ),
        (
            ["/", "--to", "-"],
            "demo.tar: / is the image's root directory; a stream takes one regular file "
            "(a directory is extracted to a local directory)",
        ),
    ],
)
def test_errors_are_one_line(demo_archive: Path, args: list[str], message: str) -> None:
    result = services.run_cli("extract", "demo.tar", *args, cwd=demo_archive.parent)
    assert result.returncode == 2
    assert result.stderr == f"inspector: {message}\n"


def test_standard_input_cannot_be_read_again(demo_archive: Path, tmp_path: Path) -> None:
    result = services.run_cli(
        "extract", "-", "/etc/os-release", "--to", tmp_path / "x", stdin=demo_archive.read_bytes()
    )
    assert result.returncode == 2
    assert "save it to a file" in result.stderr
    assert not (tmp_path / "x").exists()


def test_the_root_extracts_as_a_directory(demo_archive: Path, tmp_path: Path) -> None:
    result = services.run_cli("extract", demo_archive, "/", "--to", tmp_path / "root")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "root" / "etc" / "os-release").is_file()
