"""Two versions of an app image, made byte by byte (imagebuilder), whose diff has a bit of
everything: a shared prefix, a first divergent layer whose inputs changed (the same
`COPY . /app`), a layer rebuilt with identical content (a new mtime), one whose
instruction changed, a layer only NEW has and one only OLD has; and files added, removed
and modified in content, mode, owner, link target and type.

    OLD                                  NEW                                  status
    0 ADD rootfs /                       0 the same                           shared
    1 RUN apt-get install curl           1 the same                           shared
    2 COPY . /app  (app.py v1, …)        2 COPY . /app  (app.py v2, …)        changed: inputs
    3 RUN pip install (mtime 1)          3 RUN pip install (mtime 2)          rebuilt-identical
    4 RUN rm -rf /var/cache/apt          -                                    removed
    5 RUN ln -s …config-$V.yaml (v1)     4 the same instruction (v2)          changed
    -                                    5 RUN useradd app                    added
"""

from __future__ import annotations

from pathlib import Path

import imagebuilder as ib
from imagebuilder import Dir, File, Layer, Symlink

OLD_TAG, NEW_TAG = "example/app:1", "example/app:2"
BASE = Layer(
    [
        Dir("bin"),
        File("bin/sh", 30_000, mode=0o755),
        Dir("etc"),
        File("etc/os-release", 300),
        File("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n"),
    ],
    created_by="/bin/sh -c #(nop) ADD file:0123 in / ",
)
CURL = Layer(
    [Dir("usr/bin"), File("usr/bin/curl", 200_000, mode=0o755), File("var/cache/apt/pkg", 50_000)],
    created_by="/bin/sh -c apt-get update && apt-get install -y curl",
)
INSTALL = "RUN /bin/sh -c pip install -r /app/requirements.txt # buildkit"
# the paths the diff changes, and how (tests read them from here)
ADDED = ("app/data", "app/data/model.bin", "app/new.txt", "var/cache/apt", "var/cache/apt/pkg")
REMOVED = ("app/old.txt",)
MODIFIED = {
    "app/app.py": ("content",),
    "app/run.sh": ("mode",),
    "app/docs/README": ("owner",),
    "app/config.yaml": ("link",),
    "app/cache": ("type", "mode"),
    "etc/passwd": ("content",),
}
LINK = "/bin/sh -c ln -s /etc/app/config-$VERSION.yaml /app/config.yaml"


def _copy(version: int) -> Layer:
    files: list[File | Dir] = [
        Dir("app"),
        File("app/requirements.txt", b"flask==3.0.3\n"),
        File("app/app.py", f"VERSION = {version}\n".encode() * 40),
        File(
            "app/run.sh",
            b"#!/bin/sh\nexec python /app/app.py\n",
            mode=0o644 | (version - 1) * 0o111,
        ),
        Dir("app/docs"),
        File("app/docs/README", b"read me\n", uid=1000 * (version - 1)),
    ]
    if version == 1:
        files += [File("app/old.txt", 1_500), File("app/cache", 10)]
    else:
        files += [
            File("app/new.txt", 700),
            Dir("app/data"),
            File("app/data/model.bin", 2_000_000),
            Dir("app/cache"),
        ]
    return Layer(files, created_by="COPY . /app # buildkit")


def _deps(version: int) -> Layer:
    """The install's output: the same bytes each time, a new mtime."""
    return Layer(
        [Dir("usr/lib/python"), File("usr/lib/python/flask.py", 40_000, mtime=ib.MTIME + version)],
        created_by=INSTALL,
    )


def _config(version: int) -> Layer:
    return Layer(
        [Symlink("app/config.yaml", f"/etc/app/config-v{version}.yaml")],
        created_by=LINK,
    )


def old_layers() -> list[Layer]:
    clean = Layer([ib.Whiteout("var/cache/apt")], created_by="/bin/sh -c rm -rf /var/cache/apt")
    return [BASE, CURL, _copy(1), _deps(1), clean, _config(1)]


def new_layers() -> list[Layer]:
    user = Layer(
        [File("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/app:/bin/sh\n")],
        created_by="/bin/sh -c useradd app",
    )
    return [BASE, CURL, _copy(2), _deps(2), _config(2), user]


def write(directory: Path) -> tuple[Path, Path]:
    """OLD and NEW as `docker save` archives in `directory`."""
    old = directory / "app-1.tar"
    new = directory / "app-2.tar"
    old.write_bytes(ib.docker_save_legacy(ib.build_image(*old_layers(), tags=(OLD_TAG,))))
    new.write_bytes(ib.docker_save_legacy(ib.build_image(*new_layers(), tags=(NEW_TAG,))))
    return old, new
