"""Build the benchmark image: a large, deterministic `docker save` archive.

Three layers, shaped like a real image that was patched and then trimmed:

1. **base**: `--files` small files (200 B - 20 kB, log-uniform) in a directory tree
   modelled on a distro plus a language runtime: site-packages, deep `node_modules`
   chains, headers, locales, docs. One subtree (`usr/local/lib/legacy-sdk`) holds a tenth
   of the files.
2. **upgrade**: rewrites a third of the base files: most with new bytes, some with the
   very same bytes (pure waste), some only chmod-ed.
3. **cleanup**: deletes the `legacy-sdk` subtree with one directory whiteout
   (`usr/local/lib/.wh.legacy-sdk`) and a few hundred single files with file whiteouts.

Outputs (both written with the stdlib `tarfile`):

* `legacy`: the Docker <= 24 `docker save` shape: `<v1-id>/{VERSION,json,layer.tar}`,
  `<config-sha256>.json`, `repositories`, and `manifest.json` as the very last member.
* `gzip`: a tarred OCI layout with gzip layer blobs plus a `manifest.json`, the shape
  `docker save` gives with the containerd image store, so decompression cost shows.

`--top-files K` builds a sibling image instead: the same base and upgrade layers (same
diff_ids), but its third layer adds K new files under `opt/feature` (no cleanup), for
measuring a warm layer cache on an image that shares its base.

`--shape small --files N` (`--shape million`: N = 1,000,000) builds the images of the
scaling curve instead: about N tar entries in four layers of mostly <= 512 B files (see
`make_small_layers`), so an entry is about 1 KB.

Everything derives from `--seed`: the same parameters give byte-identical archives. An
archive is cached next to a `.params.json` stamp and only rebuilt when the parameters (or
GENERATOR_VERSION) change.

    python benchmarks/make_image.py --files 100000 --gzip
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import math
import random
import shutil
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

GENERATOR_VERSION = 1
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CACHE = REPO_ROOT / ".cache" / "benchmarks"  # `/.cache/` is git-ignored
DEFAULT_FILES = 100_000
DEFAULT_SEED = 20_240_601

MIN_SIZE = 200
MAX_SIZE = 20_000
EPOCH = 1_700_000_000  # base layer mtime; later layers are an hour apart
DOOMED_DIR = "usr/local/lib/legacy-sdk"
DOOMED_SHARE = 0.10  # of all files, under DOOMED_DIR
MODIFIED_SHARE = 1 / 3
SAME_BYTES_SHARE = 0.15  # of the rewritten files: identical content, new mtime
CHMOD_SHARE = 0.10  # of the rewritten files: identical content, mode flipped
FILE_WHITEOUT_SHARE = 0.003  # of all files: single-file whiteouts (300 per 100k)
COPY_CHUNK = 1 << 20

# The shapes: MIXED is the image described above; SMALL is the "1M-file" shape (see
# `make_small_layers`): four layers of small files, where `--files` counts tar entries.
MIXED = "mixed"
SMALL_VERSION = 1  # bump when the small shape's bytes change (GENERATOR_VERSION: the mixed)
SMALL = "small"
MILLION = "million"  # the command line's name for SMALL with MILLION_ENTRIES entries
SHAPES = (MIXED, SMALL)
MILLION_ENTRIES = 1_000_000
SMALL_MIN_SIZE = 24
SMALL_MAX_SIZE = 512  # most files fit one 512-byte block, so an entry is about 1 KB
SMALL_LARGE_SHARE = 0.04  # 513 B - 4 kB
SMALL_EMPTY_SHARE = 0.10  # empty (`__init__.py`, `.keep`, `py.typed`): one header block
SMALL_LARGE_MAX = 4096
SMALL_MODIFIED_SHARE = 0.15  # of the base files, rewritten by the upgrade layer
SMALL_ADDED_SHARE = 0.30  # new files in the third layer, relative to the base files
SMALL_ADDED_DIR = "opt/vendor"
SMALL_SLICE_FILES = 6_000  # base files per slice of the tree (see build_small_tree)
SMALL_ENTRIES_PER_FILE = 1.69  # tar entries per base file over the four layers (measured)

# (root, share of the remaining files, deepest level below the root, file extensions)
ROOTS: tuple[tuple[str, float, int, tuple[str, ...]], ...] = (
    ("opt/app/node_modules", 0.30, 12, (".js", ".js", ".js", ".d.ts", ".json", ".map", ".md")),
    ("usr/lib/python3.11/site-packages", 0.24, 6, (".py", ".py", ".py", ".pyi", ".txt")),
    ("usr/include", 0.08, 4, (".h", ".h", ".hpp")),
    ("usr/share/doc", 0.08, 3, (".gz", "", ".txt", ".html")),
    ("usr/share/locale", 0.07, 3, (".mo",)),
    ("usr/lib/x86_64-linux-gnu", 0.07, 3, (".so", ".a", ".pc")),
    ("var/lib/dpkg/info", 0.05, 0, (".list", ".md5sums", ".postinst", ".conffiles")),
    ("srv/www/static", 0.07, 5, (".css", ".js", ".svg", ".png", ".woff2")),
    ("etc", 0.04, 3, (".conf", "", ".d", ".cfg")),
)
COMMON_DIRS = ("lib", "src", "dist", "test", "internal", "utils", "core", "cjs", "esm", "types")
SYLLABLES = (
    *("ka", "lo", "mi", "ra", "ve", "tu", "no", "sa", "pe", "di", "fo", "gu", "ha", "ji"),
    *("ke", "li", "ma", "ne", "po", "qu", "ri", "se", "ta", "vi", "wa", "xo", "ya", "ze"),
    *("bar", "baz", "cor", "dex", "fin", "gal", "hex", "ion", "jet", "kin", "lex", "mon"),
    *("nox", "orb", "pix", "quo", "rex", "syn", "tor", "umb", "vox"),
)

BASE_CMD = "/bin/sh -c #(nop) ADD file:4b0ad3c6e4aa7bd2b5f0c8fb3b0e0d4e7a2f0c9d1e8b7a6f in / "
UPGRADE_CMD = (
    "RUN /bin/sh -c apt-get update && apt-get -y upgrade && pip install -U -r requirements.txt "
    "&& npm ci # buildkit"
)
CLEANUP_CMD = (
    "RUN /bin/sh -c rm -rf /usr/local/lib/legacy-sdk && xargs rm -f < /tmp/unused.txt # buildkit"
)
FEATURE_DIR = "opt/feature"
FEATURE_CMD = "COPY feature/ /opt/feature/ # buildkit"
SMALL_ADDED_CMD = "COPY vendor/ /opt/vendor/ # buildkit"
ENV_CMD = "ENV PATH=/opt/app/node_modules/.bin:/usr/local/bin:/usr/bin:/bin"


@dataclass(frozen=True, slots=True)
class Params:
    """Everything the archive's bytes depend on."""

    files: int = DEFAULT_FILES
    seed: int = DEFAULT_SEED
    variant: str = "legacy"  # or "gzip"
    generator: int = GENERATOR_VERSION
    top_files: int = 0  # > 0: a third layer of this many new files replaces the cleanup
    shape: str = MIXED  # or SMALL: `files` is then the number of tar entries (make_small_layers)

    @property
    def tag(self) -> str:
        tag = f"{self.files}" if self.variant == "legacy" else f"{self.files}-{self.variant}"
        tag = f"{tag}-top{self.top_files}" if self.top_files else tag
        return tag if self.shape == MIXED else f"{self.shape}-{tag}"

    def stamp(self) -> dict[str, Any]:
        """The stamp's parameters (without `top_files` when 0 and `shape` when mixed, as
        before they existed, so the images built before keep their cache key)."""
        params = asdict(self)
        if not self.top_files:
            del params["top_files"]
        if self.shape == MIXED:
            del params["shape"]
        else:
            params["shape_version"] = SMALL_VERSION
        return params


@dataclass(slots=True)
class FileSpec:
    """One base-layer file; its bytes are a function of (index, revision, size, offset)."""

    index: int
    path: str
    size: int
    offset: int
    mode: int


@dataclass(slots=True)
class Tree:
    """The base layer's content."""

    files: list[FileSpec] = field(default_factory=list)
    dirs: set[str] = field(default_factory=set)


@dataclass(slots=True)
class Entry:
    """One member of a layer tar."""

    path: str
    kind: str  # "dir", "file" or "whiteout"
    mode: int = 0o755
    data: bytes = b""


@dataclass(slots=True)
class LayerFile:
    """A finished layer tar on disk."""

    path: Path
    diff_id: str
    size: int
    created_by: str
    created: str
    entries: int


class Content:
    """Compressible, text-like file contents: a unique header plus a slice of a shared pool."""

    def __init__(self, rng: random.Random) -> None:
        words = ["".join(rng.choices(SYLLABLES, k=rng.randint(1, 4))) for _ in range(3000)]
        text: list[str] = []
        length = 0
        while length < (1 << 20) + MAX_SIZE:
            line = " ".join(rng.choices(words, k=rng.randint(3, 14))) + "\n"
            text.append(line)
            length += len(line)
        self.pool = "".join(text).encode()
        self.limit = len(self.pool) - MAX_SIZE

    def bytes_for(self, spec: FileSpec, revision: int, size: int, offset: int) -> bytes:
        head = f"#{spec.index:x}.{revision}\n".encode()
        return head + self.pool[offset : offset + size - len(head)]


def _size(rng: random.Random) -> int:
    return int(math.exp(rng.uniform(math.log(MIN_SIZE), math.log(MAX_SIZE))))


def _word(rng: random.Random) -> str:
    return "".join(rng.choices(SYLLABLES, k=rng.randint(1, 3)))


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{name}{n}"
    taken.add(candidate)
    return candidate


def _add_dirs(tree: Tree, path: str) -> None:
    while path and path not in tree.dirs:
        tree.dirs.add(path)
        path = path.rpartition("/")[0]


def _fill(
    rng: random.Random,
    tree: Tree,
    content: Content,
    directory: str,
    count: int,
    depth: int,
    root_exts: tuple[str, ...],
    node_modules: bool,
    size_of: Callable[[random.Random], int] = _size,
    names: set[str] | None = None,
) -> None:
    """Put `count` files in and below `directory`, splitting into subdirectories.

    `names`: the names already used in `directory` (by an earlier call), to fill it again.
    """
    _add_dirs(tree, directory)
    taken: set[str] = set() if names is None else names
    here = count if depth <= 0 or count <= rng.randint(8, 60) else rng.randint(0, min(count, 12))
    for _ in range(here):
        name = _unique(_word(rng) + rng.choice(root_exts), taken)
        mode = 0o755 if rng.random() < 0.04 else 0o644
        tree.files.append(
            FileSpec(
                index=len(tree.files),
                path=f"{directory}/{name}",
                size=size_of(rng),
                offset=rng.randrange(content.limit),
                mode=mode,
            )
        )
    rest = count - here
    if rest <= 0:
        return
    fan = max(1, min(rest // 4, rng.randint(2, 9)))
    weights = [rng.random() + 0.1 for _ in range(fan)]
    total = sum(weights)
    shares = [int(rest * w / total) for w in weights]
    shares[0] += rest - sum(shares)
    packages: set[str] = set()
    for share in shares:
        if share <= 0:
            continue
        nested = node_modules and depth > 1 and not directory.endswith("node_modules")
        if nested and rng.random() < 0.35:
            taken.add("node_modules")
            child = f"{directory}/node_modules/{_unique(_word(rng), packages)}"
        else:
            common = rng.random() < 0.3 and not directory.endswith(("node_modules", "packages"))
            child = (
                f"{directory}/{_unique(rng.choice(COMMON_DIRS) if common else _word(rng), taken)}"
            )
        _fill(rng, tree, content, child, share, depth - 1, root_exts, node_modules, size_of)


def build_tree(files: int, rng: random.Random, content: Content) -> Tree:
    """The base layer's files and directories (deterministic for a given rng state)."""
    tree = Tree()
    doomed = round(files * DOOMED_SHARE)
    _fill(rng, tree, content, DOOMED_DIR, doomed, 5, (".py", ".so", ".json", ".txt"), False)
    remaining = files - doomed
    total_share = sum(share for _, share, _, _ in ROOTS)
    counts = [int(remaining * share / total_share) for _, share, _, _ in ROOTS]
    counts[0] += remaining - sum(counts)
    for (root, _, depth, exts), count in zip(ROOTS, counts, strict=True):
        _fill(rng, tree, content, root, count, depth, exts, root.endswith("node_modules"))
    return tree


def _walk_order(entries: Iterable[Entry]) -> list[Entry]:
    """Parents before children, siblings by name: the order `filepath.Walk` exports."""
    return sorted(entries, key=lambda e: e.path.split("/"))


def _with_parents(entries: list[Entry], mode_of: dict[str, int]) -> list[Entry]:
    have = {e.path for e in entries}
    parents: set[str] = set()
    for e in entries:
        parent = e.path.rpartition("/")[0]
        while parent and parent not in parents and parent not in have:
            parents.add(parent)
            parent = parent.rpartition("/")[0]
    dirs = [Entry(p, "dir", mode_of.get(p, 0o755)) for p in parents]
    return _walk_order(entries + dirs)


class _HashingWriter(io.RawIOBase):
    """A write-only file that hashes and counts what passes through."""

    def __init__(self, target: IO[bytes]) -> None:
        super().__init__()
        self.target = target
        self.sha = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data)
        self.target.write(view)
        self.sha.update(view)
        self.size += len(view)
        return len(view)


def write_layer(path: Path, entries: Iterable[Entry], mtime: int) -> tuple[str, int]:
    """Write one layer tar; return its diff_id (sha256 of the tar) and size."""
    with path.open("wb") as raw:
        sink = _HashingWriter(raw)
        with tarfile.open(fileobj=sink, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            for entry in entries:
                info = tarfile.TarInfo(entry.path)
                info.mtime = mtime
                info.uname = info.gname = "root"
                if entry.kind == "dir":
                    info.type = tarfile.DIRTYPE
                    info.mode = entry.mode
                    tar.addfile(info)
                elif entry.kind == "whiteout":
                    info.mode = 0o644
                    tar.addfile(info, io.BytesIO(b""))
                else:
                    info.mode = entry.mode
                    info.size = len(entry.data)
                    tar.addfile(info, io.BytesIO(entry.data))
    return "sha256:" + sink.sha.hexdigest(), sink.size


def _iso(ts: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def make_layers(files: int, seed: int, workdir: Path, top_files: int = 0) -> list[LayerFile]:
    """Generate the three layer tars in `workdir` (the third: see `feature_entries`)."""
    rng = random.Random(seed)
    content = Content(rng)
    tree = build_tree(files, rng, content)
    dir_modes = dict.fromkeys(tree.dirs, 0o755)
    layers: list[LayerFile] = []

    def done(name: str, entries: list[Entry], step: int, cmd: str) -> None:
        path = workdir / f"{name}.tar"
        mtime = EPOCH + 3600 * step
        diff_id, size = write_layer(path, entries, mtime)
        layers.append(LayerFile(path, diff_id, size, cmd, _iso(mtime), len(entries)))

    # 1. base: every directory and file
    base = [Entry(d, "dir", 0o755) for d in tree.dirs]
    base += [
        Entry(f.path, "file", f.mode, content.bytes_for(f, 0, f.size, f.offset)) for f in tree.files
    ]
    done("base", _walk_order(base), 0, BASE_CMD)
    del base

    # 2. upgrade: a third of the files, rewritten
    upgrade: list[Entry] = []
    for spec in rng.sample(tree.files, round(len(tree.files) * MODIFIED_SHARE)):
        roll = rng.random()
        if roll < SAME_BYTES_SHARE:
            data = content.bytes_for(spec, 0, spec.size, spec.offset)
            upgrade.append(Entry(spec.path, "file", spec.mode, data))
        elif roll < SAME_BYTES_SHARE + CHMOD_SHARE:
            data = content.bytes_for(spec, 0, spec.size, spec.offset)
            mode = 0o755 if spec.mode == 0o644 else 0o644
            upgrade.append(Entry(spec.path, "file", mode, data))
        else:
            size = spec.size if rng.random() < 0.3 else _size(rng)
            data = content.bytes_for(spec, 1, size, rng.randrange(content.limit))
            upgrade.append(Entry(spec.path, "file", spec.mode, data))
    done("upgrade", _with_parents(upgrade, dir_modes), 1, UPGRADE_CMD)
    del upgrade

    if top_files:
        feature = feature_entries(top_files, seed, content)
        done("feature", _with_parents(feature, dir_modes), 2, FEATURE_CMD)
        return layers

    # 3. cleanup: one directory whiteout over the doomed subtree, plus single files
    parent, _, leaf = DOOMED_DIR.rpartition("/")
    cleanup = [Entry(f"{parent}/.wh.{leaf}", "whiteout")]
    survivors = [f for f in tree.files if not f.path.startswith(DOOMED_DIR + "/")]
    for spec in rng.sample(survivors, max(1, round(len(tree.files) * FILE_WHITEOUT_SHARE))):
        head, _, name = spec.path.rpartition("/")
        cleanup.append(Entry(f"{head}/.wh.{name}", "whiteout"))
    done("cleanup", _with_parents(cleanup, dir_modes), 2, CLEANUP_CMD)
    return layers


def feature_entries(count: int, seed: int, content: Content) -> list[Entry]:
    """`count` new files under FEATURE_DIR, from their own random stream."""
    rng = random.Random(f"{seed}-feature-{count}")
    tree = Tree()
    _fill(rng, tree, content, FEATURE_DIR, count, 4, (".js", ".py", ".json", ".txt"), False)
    return [
        Entry(f.path, "file", f.mode, content.bytes_for(f, 2, f.size, f.offset)) for f in tree.files
    ]


@dataclass(slots=True)
class Planned:
    """A member of a SMALL layer whose bytes are made only when it is written."""

    path: str
    kind: str  # "dir", "file" or "whiteout"
    mode: int = 0o755
    spec: FileSpec | None = None
    revision: int = 0
    size: int = 0
    offset: int = 0


def _small_size(rng: random.Random) -> int:
    low, high = SMALL_MIN_SIZE, SMALL_MAX_SIZE
    roll = rng.random()
    if roll < SMALL_EMPTY_SHARE:
        return 0
    if roll < SMALL_EMPTY_SHARE + SMALL_LARGE_SHARE:
        low, high = SMALL_MAX_SIZE + 1, SMALL_LARGE_MAX
    return int(math.exp(rng.uniform(math.log(low), math.log(high))))


def _slices(files: int) -> list[int]:
    """`files` cut into slices of about SMALL_SLICE_FILES each."""
    slices = max(1, round(files / SMALL_SLICE_FILES))
    return [files // slices + (1 if i < files % slices else 0) for i in range(slices)]


def build_small_tree(files: int, rng: random.Random, content: Content) -> Tree:
    """The SMALL base layer: `build_tree`'s layout, grown a slice at a time.

    Each slice of about SMALL_SLICE_FILES files is spread over the same roots as the mixed
    shape, into the directories the earlier slices filled (names kept unique), so the tree
    is as deep, and its paths as long, at 10,000 entries as at a million: only the
    number of subtrees and of names per root directory grows.
    """
    tree = Tree()
    names: dict[str, set[str]] = {}
    doomed_exts = (".py", ".so", ".json", ".txt")
    total_share = sum(share for _, share, _, _ in ROOTS)
    for files_in_slice in _slices(files):
        doomed = round(files_in_slice * DOOMED_SHARE)
        taken = names.setdefault(DOOMED_DIR, set())
        _fill(rng, tree, content, DOOMED_DIR, doomed, 5, doomed_exts, False, _small_size, taken)
        remaining = files_in_slice - doomed
        counts = [int(remaining * share / total_share) for _, share, _, _ in ROOTS]
        counts[0] += remaining - sum(counts)
        for (root, _, depth, exts), count in zip(ROOTS, counts, strict=True):
            modules = root.endswith("node_modules")
            taken = names.setdefault(root, set())
            _fill(rng, tree, content, root, count, depth, exts, modules, _small_size, taken)
    return tree


def _tar_order(planned: list[Planned]) -> list[Planned]:
    """`_walk_order` for many members: "/" becomes NUL, which sorts before every name
    character, so the order is the same without a list of components per member."""
    planned.sort(key=lambda p: p.path.replace("/", "\0"))
    return planned


def _planned_with_parents(planned: list[Planned]) -> list[Planned]:
    """Add the parent directories a layer needs (all mode 0755, as in the base)."""
    have = {p.path for p in planned}
    parents: set[str] = set()
    for p in planned:
        parent = p.path.rpartition("/")[0]
        while parent and parent not in parents and parent not in have:
            parents.add(parent)
            parent = parent.rpartition("/")[0]
    del have
    planned.extend(Planned(d, "dir") for d in parents)
    return _tar_order(planned)


def _made(planned: Iterable[Planned], content: Content) -> Iterable[Entry]:
    for p in planned:
        data = b""
        if p.spec is not None and p.size > 0:
            data = content.bytes_for(p.spec, p.revision, p.size, p.offset)
        yield Entry(p.path, p.kind, p.mode, data)


def make_small_layers(entries: int, seed: int, workdir: Path) -> list[LayerFile]:
    """The SMALL shape: about `entries` tar entries over four layers of small files.

    1. base: files of 24-512 B (6 % up to 4 kB) in the tree of the mixed shape;
    2. upgrade: rewrites 15 % of them (new bytes, the same bytes, or a chmod);
    3. vendor: adds 30 % more files under `opt/vendor`;
    4. cleanup: the directory whiteout over `legacy-sdk` and 0.3 % single-file whiteouts.

    Each member's bytes are made when it is written, so memory stays at a few hundred
    bytes per entry (420 MiB for a million entries).
    """
    rng = random.Random(f"{seed}-small")
    content = Content(rng)
    base_files = max(10, round(entries / SMALL_ENTRIES_PER_FILE))
    tree = build_small_tree(base_files, rng, content)
    layers: list[LayerFile] = []

    def done(name: str, planned: Iterable[Planned], count: int, step: int, cmd: str) -> None:
        path = workdir / f"{name}.tar"
        mtime = EPOCH + 3600 * step
        diff_id, size = write_layer(path, _made(planned, content), mtime)
        layers.append(LayerFile(path, diff_id, size, cmd, _iso(mtime), count))

    # 1. base: every directory and file
    base = [Planned(d, "dir") for d in tree.dirs]
    base += [Planned(f.path, "file", f.mode, f, 0, f.size, f.offset) for f in tree.files]
    done("base", _tar_order(base), len(base), 0, BASE_CMD)
    del base

    # 2. upgrade: some files rewritten
    upgrade: list[Planned] = []
    for spec in rng.sample(tree.files, round(len(tree.files) * SMALL_MODIFIED_SHARE)):
        roll = rng.random()
        if roll < SAME_BYTES_SHARE:
            upgrade.append(Planned(spec.path, "file", spec.mode, spec, 0, spec.size, spec.offset))
        elif roll < SAME_BYTES_SHARE + CHMOD_SHARE:
            mode = 0o755 if spec.mode == 0o644 else 0o644
            upgrade.append(Planned(spec.path, "file", mode, spec, 0, spec.size, spec.offset))
        else:
            size = spec.size if rng.random() < 0.3 else _small_size(rng)
            offset = rng.randrange(content.limit)
            upgrade.append(Planned(spec.path, "file", spec.mode, spec, 1, size, offset))
    upgrade = _planned_with_parents(upgrade)
    done("upgrade", upgrade, len(upgrade), 1, UPGRADE_CMD)
    del upgrade

    # 3. vendor: new files in a new subtree (revision 2: bytes unlike the base's)
    added = Tree()
    exts = (".js", ".js", ".json", ".d.ts", ".py", ".txt")
    taken: set[str] = set()
    for count in _slices(round(len(tree.files) * SMALL_ADDED_SHARE)):
        _fill(rng, added, content, SMALL_ADDED_DIR, count, 8, exts, True, _small_size, taken)
    vendor = [Planned(d, "dir") for d in added.dirs]
    vendor += [Planned(f.path, "file", f.mode, f, 2, f.size, f.offset) for f in added.files]
    vendor = _planned_with_parents(vendor)
    done("vendor", vendor, len(vendor), 2, SMALL_ADDED_CMD)
    del vendor, added

    # 4. cleanup: one directory whiteout over the doomed subtree, plus single files
    parent, _, leaf = DOOMED_DIR.rpartition("/")
    cleanup = [Planned(f"{parent}/.wh.{leaf}", "whiteout")]
    survivors = [f for f in tree.files if not f.path.startswith(DOOMED_DIR + "/")]
    for spec in rng.sample(survivors, max(1, round(len(tree.files) * FILE_WHITEOUT_SHARE))):
        head, _, name = spec.path.rpartition("/")
        cleanup.append(Planned(f"{head}/.wh.{name}", "whiteout"))
    cleanup = _planned_with_parents(cleanup)
    done("cleanup", cleanup, len(cleanup), 3, CLEANUP_CMD)
    return layers


def _sha256_text(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _json(doc: Any) -> bytes:
    return json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()


def image_config(layers: list[LayerFile]) -> bytes:
    history: list[dict[str, Any]] = []
    for i, layer in enumerate(layers):
        history.append({"created": layer.created, "created_by": layer.created_by})
        if i == 0:
            history.append({"created": layer.created, "created_by": ENV_CMD, "empty_layer": True})
    return _json(
        {
            "architecture": "amd64",
            "os": "linux",
            "created": layers[-1].created,
            "config": {
                "Env": ["PATH=/opt/app/node_modules/.bin:/usr/local/bin:/usr/bin:/bin"],
                "Cmd": ["node", "/opt/app/server.js"],
                "WorkingDir": "/opt/app",
            },
            "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
            "history": history,
        }
    )


def _info(name: str, size: int = 0, *, directory: bool = False) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mtime = EPOCH
    info.mode = 0o755 if directory else 0o644
    info.size = size
    if directory:
        info.type = tarfile.DIRTYPE
    return info


def _add(tar: tarfile.TarFile, name: str, value: bytes | Path | None) -> None:
    """Add a directory (None), an in-memory member (bytes) or a file on disk (Path)."""
    if value is None:
        tar.addfile(_info(name, directory=True))
    elif isinstance(value, bytes):
        tar.addfile(_info(name, len(value)), io.BytesIO(value))
    else:
        with value.open("rb") as handle:
            tar.addfile(_info(name, value.stat().st_size), handle)


def _outer(path: Path) -> tarfile.TarFile:
    return tarfile.open(path, "w", format=tarfile.PAX_FORMAT)


def write_legacy(path: Path, layers: list[LayerFile], tag: str) -> None:
    """Docker <= 24 `docker save` layout; `manifest.json` is the last member."""
    config = image_config(layers)
    config_name = _sha256_text(config) + ".json"
    v1_ids: list[str] = []
    members: dict[str, bytes | Path | None] = {config_name: config}
    parent = ""
    for i, layer in enumerate(layers):
        v1 = _sha256_text(f"{parent}\n{layer.diff_id}\n{i}".encode())
        legacy: dict[str, Any] = {"id": v1, "created": layer.created, "os": "linux"}
        if parent:
            legacy["parent"] = parent
        legacy["container_config"] = {"Cmd": [layer.created_by]}
        members[v1] = None
        members[f"{v1}/VERSION"] = b"1.0"
        members[f"{v1}/json"] = _json(legacy)
        members[f"{v1}/layer.tar"] = layer.path
        v1_ids.append(v1)
        parent = v1
    repo = "inspector-bench"
    members["repositories"] = _json({repo: {tag: v1_ids[-1]}})
    manifest = [
        {
            "Config": config_name,
            "RepoTags": [f"{repo}:{tag}"],
            "Layers": [f"{v1}/layer.tar" for v1 in v1_ids],
        }
    ]
    with _outer(path) as tar:
        for name in sorted(members):
            _add(tar, name, members[name])
        _add(tar, "manifest.json", _json(manifest))


def _gzip_blob(layer: LayerFile, blobs: Path) -> tuple[str, int]:
    """Compress a layer like `docker push` does (gzip -6, no name, mtime 0)."""
    tmp = blobs / (layer.path.name + ".gz")
    with layer.path.open("rb") as src, tmp.open("wb") as raw:
        sink = _HashingWriter(raw)
        with gzip.GzipFile(filename="", mode="wb", compresslevel=6, fileobj=sink, mtime=0) as gz:
            shutil.copyfileobj(src, gz, COPY_CHUNK)
    digest = sink.sha.hexdigest()
    tmp.rename(blobs / digest)
    return digest, sink.size


def write_gzip_oci(path: Path, layers: list[LayerFile], tag: str, workdir: Path) -> None:
    """Tarred OCI layout with gzip layers, plus Docker's `manifest.json` (containerd store)."""
    blobs = workdir / "blobs"
    blobs.mkdir(exist_ok=True)
    layer_blobs = [_gzip_blob(layer, blobs) for layer in layers]
    config = image_config(layers)
    config_hex = _sha256_text(config)
    manifest = _json(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": "sha256:" + config_hex,
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": "sha256:" + digest,
                    "size": size,
                }
                for digest, size in layer_blobs
            ],
        }
    )
    manifest_hex = _sha256_text(manifest)
    name = f"docker.io/library/inspector-bench:{tag}"
    index = _json(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [
                {
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": "sha256:" + manifest_hex,
                    "size": len(manifest),
                    "annotations": {
                        "io.containerd.image.name": name,
                        "org.opencontainers.image.ref.name": tag,
                    },
                }
            ],
        }
    )
    docker_manifest = _json(
        [
            {
                "Config": f"blobs/sha256/{config_hex}",
                "RepoTags": [f"inspector-bench:{tag}"],
                "Layers": [f"blobs/sha256/{digest}" for digest, _ in layer_blobs],
            }
        ]
    )
    members: dict[str, bytes | Path | None] = {
        "blobs": None,
        "blobs/sha256": None,
        f"blobs/sha256/{config_hex}": config,
        f"blobs/sha256/{manifest_hex}": manifest,
        "index.json": index,
        "manifest.json": docker_manifest,
        "oci-layout": _json({"imageLayoutVersion": "1.0.0"}),
    }
    for digest, _ in layer_blobs:
        members[f"blobs/sha256/{digest}"] = blobs / digest
    with _outer(path) as tar:
        for name in sorted(members):
            _add(tar, name, members[name])


def default_path(params: Params, cache_dir: Path = DEFAULT_CACHE) -> Path:
    return cache_dir / f"bench-{params.tag}-s{params.seed}.tar"


def _stamp(path: Path) -> Path:
    return path.with_name(path.name + ".params.json")


def is_cached(params: Params, path: Path) -> bool:
    """True if `path` was built from exactly these parameters and is complete."""
    try:
        stamp = json.loads(_stamp(path).read_text())
        return bool(stamp["params"] == params.stamp() and stamp["bytes"] == path.stat().st_size)
    except (OSError, ValueError, KeyError, TypeError):
        return False


def stamped_entries(path: Path) -> list[int] | None:
    """Each layer's number of tar entries, as the stamp recorded them (None: not recorded)."""
    try:
        counts = json.loads(_stamp(path).read_text())["layer_entries"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if isinstance(counts, list) and all(isinstance(c, int) for c in counts):
        return counts
    return None


def ensure(
    files: int,
    seed: int,
    outputs: dict[str, Path],
    *,
    force: bool = False,
    log: IO[str] = sys.stderr,
    top_files: int = 0,
    shape: str = MIXED,
) -> dict[str, Path]:
    """Build each requested variant ("legacy", "gzip") at its path unless already cached.

    With `shape=SMALL`, `files` is the number of tar entries wanted (about; see
    `make_small_layers`) and `top_files` must be 0.

    The layer tars are generated once and shared by every variant built in one call.
    Archives are written to a temporary name and renamed, so an interrupted build never
    leaves a file that looks finished.
    """
    stale = {
        variant: path
        for variant, path in outputs.items()
        if force
        or not is_cached(Params(files, seed, variant, top_files=top_files, shape=shape), path)
    }
    for variant, path in outputs.items():
        if variant not in stale:
            log.write(f"make_image: cached {path}\n")
    if not stale:
        return outputs
    started = time.perf_counter()
    first = next(iter(stale.values()))
    first.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-layers-", dir=first.parent) as tmp:
        workdir = Path(tmp)
        if shape == SMALL:
            if top_files:
                raise ValueError("the small shape has no --top-files sibling")
            log.write(f"make_image: generating about {files} small entries (seed {seed}) ...\n")
            layers = make_small_layers(files, seed, workdir)
        else:
            log.write(f"make_image: generating {files} files (seed {seed}) ...\n")
            layers = make_layers(files, seed, workdir, top_files)
        for layer in layers:
            log.write(
                f"make_image:   layer {layer.path.stem}: {layer.entries} entries, "
                f"{layer.size / 1e6:.1f} MB, {layer.diff_id[:19]}\n"
            )
        for variant, path in stale.items():
            params = Params(files, seed, variant, top_files=top_files, shape=shape)
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(path.name + ".partial")
            if variant == "legacy":
                write_legacy(partial, layers, params.tag)
            elif variant == "gzip":
                write_gzip_oci(partial, layers, params.tag, workdir)
            else:
                raise ValueError(f"unknown variant {variant!r}")
            partial.replace(path)
            stamp = {
                "params": params.stamp(),
                "bytes": path.stat().st_size,
                "layer_entries": [layer.entries for layer in layers],
            }
            _stamp(path).write_text(json.dumps(stamp, indent=2) + "\n")
            log.write(f"make_image: wrote {path} ({path.stat().st_size / 1e6:.1f} MB)\n")
    log.write(f"make_image: done in {time.perf_counter() - started:.1f} s\n")
    return outputs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--files",
        type=int,
        help=f"base layer files (default {DEFAULT_FILES}); with --shape small: tar entries",
    )
    parser.add_argument(
        "--shape",
        choices=(*SHAPES, MILLION),
        default=MIXED,
        help="mixed: 200 B - 20 kB files, 3 layers (default); small: 4 layers of mostly "
        f"<= 512 B files; million: small with {MILLION_ENTRIES:,} entries",
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--out", type=Path, help="legacy archive path (default: in the cache)")
    parser.add_argument("--gzip", action="store_true", help="also build the gzip OCI variant")
    parser.add_argument("--gzip-out", type=Path, help="gzip variant path (implies --gzip)")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--force", action="store_true", help="rebuild even if cached")
    parser.add_argument(
        "--top-files",
        type=int,
        default=0,
        metavar="K",
        help="build the sibling image: same base and upgrade layers, then K new files",
    )
    args = parser.parse_args(argv)
    shape, files = args.shape, args.files
    if shape == MILLION:
        if files not in (None, MILLION_ENTRIES):
            parser.error("--shape million is --shape small --files 1000000")
        shape, files = SMALL, MILLION_ENTRIES
    files = DEFAULT_FILES if files is None else files
    if files < 100:
        parser.error("--files must be at least 100")
    if args.top_files < 0:
        parser.error("--top-files must not be negative")
    if args.top_files and shape == SMALL:
        parser.error("--top-files needs the mixed shape")
    top = args.top_files
    legacy = Params(files, args.seed, "legacy", top_files=top, shape=shape)
    outputs = {"legacy": args.out or default_path(legacy, args.cache_dir)}
    if args.gzip or args.gzip_out:
        gz = Params(files, args.seed, "gzip", top_files=top, shape=shape)
        outputs["gzip"] = args.gzip_out or default_path(gz, args.cache_dir)
    built = ensure(files, args.seed, outputs, force=args.force, top_files=top, shape=shape)
    for path in built.values():
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
