"""Images the suite builds in the spirit of dive's own test images, and their archives.

dive tests itself on a `docker save` of a busybox image whose Dockerfile adds, copies,
modifies, moves and deletes files, on the same image built by kaniko, and on one-file OCI
archives with gzip, zstd and uncompressed layers. The suite makes its own counterparts
from the recipes below with the real tools (nothing is taken from dive), and the tests ask
the real dive what it makes of them (see diverun.py):

* `dive-like`: the busybox base and 13 Dockerfile steps (14 layers), built by the Docker
  engine and written by `docker save`: files added, copied, chmod-ed, appended to, moved,
  deleted, a directory removed with `rm -rf` (one file in it is never touched otherwise:
  dive never counts it), a directory replaced by a new one, then by a file, a symlink
  replaced by a directory, a hard link;
* `dive-like-kaniko`: the same layers and config in kaniko's tarball shape (gzip layers
  named `<digest>.tar.gz`, the config named `sha256:<hex>`), written by imagebuilder;
* `one-file`: `FROM scratch` and one 11 kB file, built by Docker and saved;
* `one-file-oci-{gzip,zstd,zstd-chunked,uncompressed}`: that image copied by skopeo into an
  OCI archive with that layer compression (uncompressed: an `oci:` layout, tarred here).
  One layer on purpose: dive 0.13.1 reads the layers of a multi-layer OCI archive (no
  manifest.json) in a random order from run to run, so only a one-layer OCI archive has a
  stable dive verdict.

Every archive is cached in `services.cache_dir()/images` under a key of everything that
went into it (the Dockerfile and context; for a converted archive also the source image's
ID, the tool's version and arguments and this module's source), behind a file lock, so a
second run costs a lookup and a changed recipe is rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import imagebuilder
import services

SKOPEO_COMPRESSIONS: Mapping[str, tuple[str, ...]] = {
    "gzip": ("--dest-compress-format", "gzip"),
    "zstd": ("--dest-compress-format", "zstd"),
    "zstd-chunked": ("--dest-compress-format", "zstd:chunked"),
    "uncompressed": ("--dest-oci-accept-uncompressed-layers",),
}
OCI_ARCHIVES = tuple(f"one-file-oci-{kind}" for kind in SKOPEO_COMPRESSIONS)
ARCHIVES = ("dive-like", "dive-like-kaniko", "one-file", *OCI_ARCHIVES)
"""Every archive `DiveImages.archive` makes, by name."""


@dataclass(frozen=True, slots=True)
class Recipe:
    """A Dockerfile (after its FROM line) and the files of its build context."""

    name: str
    steps: str
    files: Mapping[str, bytes]
    scratch: bool = False  # FROM scratch instead of the busybox base


def _notes() -> bytes:
    lines = [
        f"note {i:03d}: a line of text the dive-like image copies around\n" for i in range(110)
    ]
    return "".join(lines).encode()


def _payload() -> bytes:
    """11,000 bytes of hex digests: text that does not compress to nothing."""
    lines = [hashlib.sha256(str(i).encode()).hexdigest() + "\n" for i in range(170)]
    return "".join(lines).encode()[:11_000]


DIVE_LIKE = Recipe(
    "dive-like",
    """
    COPY notes.txt /opt/notes.txt
    RUN mkdir -p /srv/app/conf/deep
    RUN cp /opt/notes.txt /srv/app/a.txt && cp /opt/notes.txt /srv/app/b.txt \\
        && cp /opt/notes.txt /srv/app/c.txt && cp /opt/notes.txt /srv/app/conf/deep/d.txt
    RUN chmod 600 /srv/app/a.txt
    RUN echo appended >> /srv/app/b.txt
    RUN mv /srv/app/c.txt /srv/moved.txt
    RUN rm /opt/notes.txt
    RUN rm -rf /srv/app
    COPY bundle/ /srv/bundle/
    RUN rm -rf /srv/bundle && mkdir /srv/bundle && echo new > /srv/bundle/fresh
    RUN ln /srv/moved.txt /srv/moved.hard && ln -s /srv/moved.txt /srv/moved.link
    RUN rm /srv/moved.link && mkdir /srv/moved.link && rm -rf /srv/bundle \\
        && echo file > /srv/bundle
    RUN cp /srv/moved.txt /tmp/again.txt
    """,
    {
        "notes.txt": _notes(),
        "bundle/one.txt": b"1" * 3000,
        "bundle/sub/two.txt": b"2" * 1500,
    },
)
DIVE_LIKE_UNTOUCHED = "/srv/app/conf/deep/d.txt"
"""Copied once, then removed only by `rm -rf /srv/app`: waste dive never reports."""

ONE_FILE = Recipe("one-file", "COPY payload.txt /payload.txt", {"payload.txt": _payload()}, True)


class DiveImages:
    """The archives of ARCHIVES, built or found in the cache on first use."""

    def __init__(self, factory: services.ImageFactory, directory: Path | None = None) -> None:
        self.factory = factory
        self.directory = directory or factory.directory
        self._built: dict[str, services.BuiltImage] = {}
        self._archives: dict[str, Path] = {}

    def image(self, recipe: Recipe) -> services.BuiltImage:
        """The recipe's image, in the engine, and its `docker save` archive."""
        if recipe.name not in self._built:
            self._built[recipe.name] = self.factory.build(
                recipe.name, recipe.steps, recipe.files, scratch=recipe.scratch
            )
        return self._built[recipe.name]

    def archive(self, name: str) -> Path:
        """The archive called `name` (one of ARCHIVES)."""
        if name not in self._archives:
            self._archives[name] = self._make(name)
        return self._archives[name]

    def _make(self, name: str) -> Path:
        if name == "dive-like":
            return self.image(DIVE_LIKE).archive
        if name == "one-file":
            return self.image(ONE_FILE).archive
        if name == "dive-like-kaniko":
            source = self.image(DIVE_LIKE)
            return self._converted(name, source, ["kaniko"], lambda out: kaniko(source, out))
        kind = name.removeprefix("one-file-oci-")
        if kind not in SKOPEO_COMPRESSIONS:
            raise KeyError(f"no dive-like archive called {name!r}")
        source = self.image(ONE_FILE)
        flags = SKOPEO_COMPRESSIONS[kind]
        recipe = [skopeo_version(), *flags]
        return self._converted(name, source, recipe, lambda out: oci_archive(source, flags, out))

    def _converted(
        self,
        name: str,
        source: services.BuiltImage,
        recipe: Sequence[str],
        make: Callable[[Path], None],
    ) -> Path:
        """`make(path)` writes the archive; it runs only when the cache lacks this key."""
        parts = [services.CACHE_VERSION, source.image_id, *recipe, _module_digest()]
        key = hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]
        path = self.directory / f"{name}-{key}.tar"
        with services.file_lock(self.directory / f"{name}-{key}.lock"):
            if not path.is_file():
                with tempfile.TemporaryDirectory(prefix=f".{name}-", dir=self.directory) as tmp:
                    made = Path(tmp) / "archive.tar"
                    make(made)
                    os.replace(made, path)
        return path


def _module_digest() -> str:
    """This module's and imagebuilder's source: a changed conversion rebuilds."""
    digest = hashlib.sha256()
    for module in (__file__, imagebuilder.__file__):
        digest.update(Path(module).read_bytes())
    return digest.hexdigest()


# ------------------------------------------------------------------------------ conversions


def skopeo_binary() -> str:
    binary = shutil.which("skopeo")
    if binary is None:
        raise services.ServiceUnavailable("skopeo is not installed (apt-get install skopeo)")
    return binary


def skopeo_version() -> str:
    return subprocess.run(
        [skopeo_binary(), "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()


def oci_archive(source: services.BuiltImage, flags: Sequence[str], target: Path) -> None:
    """`skopeo copy docker-archive:SOURCE` into an OCI archive at `target`.

    Uncompressed layers are accepted only by skopeo's `oci:` (directory) transport: that
    layout is copied to a directory and tarred here the way `oci-archive:` tars one.
    """
    skopeo = skopeo_binary()
    origin = f"docker-archive:{source.archive}"
    if "--dest-oci-accept-uncompressed-layers" not in flags:
        _run([skopeo, "copy", "--quiet", *flags, origin, f"oci-archive:{target}"])
        return
    layout = target.parent / "layout"
    _run([skopeo, "copy", "--quiet", *flags, origin, f"oci:{layout}"])
    services.write_atomically(target, [imagebuilder.pack(_tree(layout))])


def _tree(root: Path) -> list[imagebuilder.Member]:
    """Every directory and file under `root`, parents first, names in sorted order."""
    members: list[imagebuilder.Member] = []
    for directory, subdirs, files in os.walk(root):
        subdirs.sort()
        here = Path(directory)
        if here != root:
            members.append(imagebuilder.Member(str(here.relative_to(root)), directory=True))
        for name in sorted(files):
            path = here / name
            members.append(imagebuilder.Member(str(path.relative_to(root)), path.read_bytes()))
    return members


def kaniko(source: services.BuiltImage, target: Path) -> None:
    """The `docker save` archive's config and layers repacked as kaniko writes them."""
    with tarfile.open(source.archive) as tar:
        manifest = json.loads(_member(tar, "manifest.json"))[0]
        config = _member(tar, manifest["Config"])
        layers = tuple(
            imagebuilder.BuiltLayer(_member(tar, name), "") for name in manifest["Layers"]
        )
    doc = json.loads(config)
    image = imagebuilder.BuiltImage(
        layers, config, tuple(manifest["RepoTags"] or ()), doc["os"], doc["architecture"]
    )
    services.write_atomically(target, [imagebuilder.kaniko_tarball(image)])


def _member(tar: tarfile.TarFile, name: str) -> bytes:
    handle = tar.extractfile(name)  # follows docker save's layer symlinks
    if handle is None:
        raise ValueError(f"{name} is not a file in the archive")
    return handle.read()


def _run(argv: list[str]) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {result.returncode}: {result.stderr}")
