"""The header walk alone: the compiled one against the Python one, and the floor.

Reads the layers of a `docker save` archive into memory (by default the generated
100,000-file image, `make_image.py`), then indexes each layer in-process with
`indexer.index_tar` through each walk, `--reps` times, with the garbage collector paused
as the pipeline pauses it. The same run times the floor: sha256 over the same bytes (what
the diff_id costs), xxh3-128 over them (the content digests) and a plain buffered read.
Prints CPU seconds (the best of the repetitions) and microseconds per tar entry.

    .venv/bin/python benchmarks/header_walk.py [--image ARCHIVE] [--reps 5] [--no-scan]

`--no-scan` replaces the secret scan's content checks with nothing, to see the walk and
the indexing alone.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import io
import sys
import tarfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import xxhash

sys.path.insert(0, str(Path(__file__).resolve().parent))

import make_image

from inspector import headerwalk, indexer, native
from inspector.tarstream import TarReader


def _layers(archive: Path) -> list[bytes]:
    with tarfile.open(archive) as tar:
        members = [m for m in tar.getmembers() if m.name.endswith("layer.tar")]
        return [tar.extractfile(m).read() for m in members]  # type: ignore[union-attr]


class _NoScan:
    hits: list[Any] = []  # noqa: RUF012

    def wanted(self, path: str, size: int) -> int:
        return 0

    def check(self, path: str, head: object) -> None:
        return None


def _best(reps: int, work: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(reps):
        gc.collect()
        gc.disable()
        started = time.process_time()
        work()
        best = min(best, time.process_time() - started)
        gc.enable()
    return best


def _index_all(layers: list[bytes], walk: Callable[..., tuple[int, int]]) -> int:
    saved = native.walk
    native.walk = walk
    try:
        entries = 0
        for data in layers:
            index = indexer.index_tar(TarReader(io.BytesIO(data).read, "bench"), "bench")
            entries += len(index.entries) + len(index.shadowed) + len(index.whiteouts)
        return entries
    finally:
        native.walk = saved


def _read_all(layers: list[bytes]) -> None:
    for data in layers:
        read = io.BytesIO(data).read
        while read(1 << 20):
            pass


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--image", type=Path, help="a docker-archive (default: generated)")
    parser.add_argument("--files", type=int, default=make_image.DEFAULT_FILES)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--no-scan", action="store_true", help="no secret scan content checks")
    args = parser.parse_args(argv)
    image = args.image
    if image is None:
        params = make_image.Params(args.files, make_image.DEFAULT_SEED, "legacy")
        path = make_image.default_path(params)
        image = make_image.ensure(args.files, make_image.DEFAULT_SEED, {"legacy": path})["legacy"]
    layers = _layers(image)
    size = sum(map(len, layers))
    if args.no_scan:
        setattr(indexer, "LayerScanner", _NoScan)  # noqa: B010 (a stand-in, for this run)
    entries = sum(1 for data in layers for _ in TarReader(io.BytesIO(data).read, "count"))
    compiled = native.compiled_walk()
    rows: list[tuple[str, float]] = []
    if compiled is not None:
        rows.append(
            ("index, compiled walk", _best(args.reps, lambda: _index_all(layers, compiled)))
        )
    rows.append(
        ("index, Python walk", _best(args.reps, lambda: _index_all(layers, headerwalk.walk)))
    )
    rows.append(("floor: sha256", _best(args.reps, lambda: [hashlib.sha256(d) for d in layers])))
    rows.append(("xxh3-128", _best(args.reps, lambda: [xxhash.xxh3_128(d) for d in layers])))
    rows.append(("buffered read", _best(args.reps, lambda: _read_all(layers))))
    print(f"{image.name}: {len(layers)} layers, {size / 1e6:.0f} MB, {entries:,} tar entries")
    print(f"secret scan: {'off' if args.no_scan else 'on'}; best of {args.reps}, CPU seconds")
    for name, seconds in rows:
        print(f"  {name:24s} {seconds:7.3f} s  {seconds / entries * 1e6:6.2f} µs/entry")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
