"""Opening image files on disk: regular files only, never a wait on a FIFO, links refused
inside a layout. And blobs held to their descriptor's size (`blobs.ExactReader`)."""

from __future__ import annotations

import io
import os
import socket
import threading
from pathlib import Path

import pytest

from inspector.blobs import ExactReader, check_blob_size
from inspector.errors import DigestMismatch, SourceError
from inspector.regularfile import NotRegularFile, open_regular


def test_a_regular_file_opens_blocking(tmp_path: Path) -> None:
    path = tmp_path / "blob"
    path.write_bytes(b"content")
    with open_regular(str(path), "blob") as handle:
        assert os.get_blocking(handle.fileno())
        assert handle.read() == b"content"


def test_a_missing_file_is_left_to_the_caller(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        open_regular(str(tmp_path / "nope"), "nope")


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    done = threading.Event()
    errors: list[BaseException] = []

    def attempt() -> None:
        try:
            open_regular(str(fifo), "img: layer x")
        except BaseException as exc:
            errors.append(exc)
        done.set()

    threading.Thread(target=attempt, daemon=True).start()
    assert done.wait(5), "opening a FIFO waited for a writer"
    (error,) = errors
    assert isinstance(error, NotRegularFile)
    assert str(error) == "img: layer x: is a FIFO, not a regular file"


@pytest.mark.parametrize(
    ("make", "kind"),
    [
        pytest.param(lambda p: p.mkdir(), "a directory", id="directory"),
        pytest.param(lambda p: p.symlink_to("/dev/null"), "a character device", id="device"),
    ],
)
def test_other_kinds_are_named(tmp_path: Path, make: object, kind: str) -> None:
    path = tmp_path / "thing"
    make(path)  # type: ignore[operator]
    with pytest.raises(NotRegularFile, match=f"^thing: is {kind}, not a regular file; hint$") as e:
        open_regular(str(path), "thing", hint="; hint")
    assert e.value.kind == kind


def test_a_socket_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "sock"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        with pytest.raises(SourceError, match=r"^sock: cannot open \(No such device"):
            open_regular(str(path), "sock")  # (open(2) itself refuses a socket)


def test_links_are_followed_only_when_asked(tmp_path: Path) -> None:
    (tmp_path / "target").write_bytes(b"x")
    (tmp_path / "link").symlink_to("target")
    with open_regular(str(tmp_path / "link"), "link") as handle:
        assert handle.read() == b"x"
    with pytest.raises(SourceError, match=r"^link: is a symbolic link \(links inside an image"):
        open_regular(str(tmp_path / "link"), "link", follow=False)


def test_a_link_loop_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "a").symlink_to("b")
    (tmp_path / "b").symlink_to("a")
    with pytest.raises(SourceError, match=r"^a: symbolic link loop$"):
        open_regular(str(tmp_path / "a"), "a")
    with pytest.raises(SourceError, match="is a symbolic link"):
        open_regular(str(tmp_path / "a"), "a", follow=False)


# --- blob sizes ----------------------------------------------------------------------------------


class Counting(io.BytesIO):
    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.asked = 0

    def read(self, n: int | None = -1, /) -> bytes:
        self.asked = max(self.asked, n if n is not None else -1)
        return super().read(n)


def test_a_blob_of_the_right_size_reads_through() -> None:
    reader = ExactReader(io.BytesIO(b"abcdef").read, 6, "blob")
    assert reader.read(4) + reader.read() + reader.read() == b"abcdef"


def test_a_longer_blob_fails_at_its_first_extra_byte() -> None:
    stream = Counting(b"x" * 100_000)
    reader = ExactReader(stream.read, 10, "img: layer sha256:ab")
    with pytest.raises(DigestMismatch) as caught:
        reader.read(1 << 20)
    assert str(caught.value) == (
        "img: layer sha256:ab: is longer than the 10 bytes its descriptor gives"
    )
    assert stream.asked == 11  # never more than one byte past the size


def test_a_shorter_blob_fails_at_its_end() -> None:
    reader = ExactReader(io.BytesIO(b"abc").read, 5, "blob")
    assert reader.read(10) == b"abc"
    with pytest.raises(DigestMismatch, match=r"^blob: is shorter than the 5 bytes .* \(3 bytes\)$"):
        reader.read(10)


def test_check_blob_size() -> None:
    check_blob_size("b", 3, 3)
    with pytest.raises(DigestMismatch, match=r"^b: is longer than the 3 bytes .* \(4 bytes\)$"):
        check_blob_size("b", 3, 4)
