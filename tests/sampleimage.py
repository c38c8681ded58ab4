"""The sample image: 14 layers in the spirit of dive's test image, byte for byte the same
on every machine.

It is built in memory with imagebuilder from the kinds of steps of the `dive-like` recipe
in diveimages.py, laid out the way a Docker engine writes them (every layer repeats the
directories above what it changes), with two differences a Docker built image on an
overlay2 engine shows: `rm -rf /srv/bundle && mkdir /srv/bundle` makes the directory
opaque, and a hard link stores its target again. Because its bytes never change, the UI
snapshots show it, and the unit tests read it without a Docker engine; what dive makes of
it still comes from the real dive, run on the same bytes (diverun.py).

`WASTED` is every stored copy the exact accounting must call waste, worked out by hand
from the layers: (path, bytes, stored in, hidden by, how).
"""

from __future__ import annotations

import functools
from pathlib import Path

from imagebuilder import (
    BuiltImage,
    Dir,
    File,
    Hardlink,
    Layer,
    Opaque,
    Symlink,
    Whiteout,
    build_image,
    docker_save_legacy,
    kaniko_tarball,
)

NAME = "sample-image.tar"
TAG = "inspector-test/sample:latest"
NOTES = 6400  # the copied file
APPENDED = NOTES + 9  # `echo appended >> b.txt`
BUSYBOX = 400_000
APPLETS = ("cat", "cp", "echo", "ln", "ls", "mkdir", "mv", "rm", "sh")


def _run(command: str) -> str:
    return f"/bin/sh -c {command}"


def _copy(what: str, to: str) -> str:
    return f"/bin/sh -c #(nop) COPY {what} in {to} "


def _srv(*more: Dir) -> list[Dir]:
    return [Dir("srv"), *more]


def layers() -> list[Layer]:
    notes = "opt/notes.txt"  # every copy of it has the same bytes
    app = "srv/app"
    return [
        Layer(
            [
                Dir("bin"),
                File("bin/busybox", BUSYBOX, mode=0o755),
                *(Symlink(f"bin/{name}", "/bin/busybox") for name in APPLETS),
                Dir("etc"),
                File("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n"),
                Dir("tmp", mode=0o1777),
            ],
            "/bin/sh -c #(nop) ADD file:busybox in / ",
        ),
        Layer([Dir("opt"), File(notes, NOTES)], _copy("file:notes", "/opt/notes.txt")),
        Layer(
            _srv(Dir(app), Dir(f"{app}/conf"), Dir(f"{app}/conf/deep")),
            _run("mkdir -p /srv/app/conf/deep"),
        ),
        Layer(
            [
                *_srv(Dir(app)),
                File(f"{app}/a.txt", NOTES, seed=notes),
                File(f"{app}/b.txt", NOTES, seed=notes),
                File(f"{app}/c.txt", NOTES, seed=notes),
                Dir(f"{app}/conf"),
                Dir(f"{app}/conf/deep"),
                File(f"{app}/conf/deep/d.txt", NOTES, seed=notes),
            ],
            _run("cp /opt/notes.txt /srv/app/a.txt && cp ... b.txt, c.txt, conf/deep/d.txt"),
        ),
        Layer(
            [*_srv(Dir(app)), File(f"{app}/a.txt", NOTES, seed=notes, mode=0o600)],
            _run("chmod 600 /srv/app/a.txt"),
        ),
        Layer(
            [*_srv(Dir(app)), File(f"{app}/b.txt", APPENDED, seed="b.txt, appended to")],
            _run("echo appended >> /srv/app/b.txt"),
        ),
        Layer(
            [*_srv(Dir(app)), Whiteout(f"{app}/c.txt"), File("srv/moved.txt", NOTES, seed=notes)],
            _run("mv /srv/app/c.txt /srv/moved.txt"),
        ),
        Layer([Dir("opt"), Whiteout(notes)], _run("rm /opt/notes.txt")),
        Layer([*_srv(), Whiteout(app)], _run("rm -rf /srv/app")),
        Layer(
            [
                *_srv(Dir("srv/bundle")),
                File("srv/bundle/one.txt", b"1" * 3000),
                Dir("srv/bundle/sub"),
                File("srv/bundle/sub/two.txt", b"2" * 1500),
            ],
            _copy("dir:bundle", "/srv/bundle/"),
        ),
        Layer(
            [*_srv(Dir("srv/bundle")), Opaque("srv/bundle"), File("srv/bundle/fresh", b"new\n")],
            _run("rm -rf /srv/bundle && mkdir /srv/bundle && echo new > /srv/bundle/fresh"),
        ),
        Layer(
            [
                *_srv(),
                File("srv/moved.txt", NOTES, seed=notes),
                Hardlink("srv/moved.hard", "srv/moved.txt"),
                Symlink("srv/moved.link", "/srv/moved.txt"),
            ],
            _run("ln /srv/moved.txt /srv/moved.hard && ln -s /srv/moved.txt /srv/moved.link"),
        ),
        Layer(
            [*_srv(), File("srv/bundle", b"file\n"), Dir("srv/moved.link")],
            _run("rm /srv/moved.link && mkdir /srv/moved.link && rm -rf /srv/bundle && ..."),
        ),
        Layer(
            [Dir("tmp", mode=0o1777), File("tmp/again.txt", NOTES, seed=notes)],
            _run("cp /srv/moved.txt /tmp/again.txt"),
        ),
    ]


WASTED: frozenset[tuple[str, int, int, int, str]] = frozenset(
    {
        ("/opt/notes.txt", NOTES, 1, 7, "deleted"),
        ("/srv/app/a.txt", NOTES, 3, 4, "replaced"),
        ("/srv/app/a.txt", NOTES, 4, 8, "parent-deleted"),
        ("/srv/app/b.txt", NOTES, 3, 5, "replaced"),
        ("/srv/app/b.txt", APPENDED, 5, 8, "parent-deleted"),
        ("/srv/app/c.txt", NOTES, 3, 6, "deleted"),
        ("/srv/app/conf/deep/d.txt", NOTES, 3, 8, "parent-deleted"),
        ("/srv/bundle/one.txt", 3000, 9, 10, "opaque"),
        ("/srv/bundle/sub/two.txt", 1500, 9, 10, "opaque"),
        ("/srv/bundle/fresh", 4, 10, 12, "replaced"),
        ("/srv/moved.txt", NOTES, 6, 11, "replaced"),
    }
)
UNTOUCHED = "/srv/app/conf/deep/d.txt"
"""Copied once, then removed only by `rm -rf /srv/app`: waste dive never reports."""


@functools.cache
def image() -> BuiltImage:
    return build_image(*layers(), tags=(TAG,))


@functools.cache
def docker_archive() -> bytes:
    """The image as Docker ≤ 24's `docker save` writes it."""
    return docker_save_legacy(image())


@functools.cache
def kaniko_archive() -> bytes:
    """The image as kaniko's `--tar-path` writes it (gzip layers)."""
    return kaniko_tarball(image())


SHAPES = {"docker": docker_archive, "kaniko": kaniko_archive}


def write(directory: Path) -> dict[str, Path]:
    """Every shape of the sample image written under `directory`, by shape name."""
    directory.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for shape, make in SHAPES.items():
        path = directory / (NAME if shape == "docker" else f"sample-image-{shape}.tar")
        path.write_bytes(make())
        paths[shape] = path
    return paths
