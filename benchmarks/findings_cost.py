"""Time the findings and the secret scan alone on an image archive, without the rest of a run.

    .venv/bin/python benchmarks/findings_cost.py .cache/benchmarks/bench-100000-s20240601.tar
    .venv/bin/python benchmarks/findings_cost.py IMAGE.tar --reps 7 --profile

The archive is loaded and analysed once, untimed, with no layer cache (as a cold run
does). Then, `--reps` times each, median and min-max of the process's CPU seconds:

* `detect_all`: every detector over the inspection, as the pipeline runs them on a
  findings-cache miss (a new `Facts` each time, so nothing is reused between repetitions);
* the secret scan: each layer's regular files read again from the archive beforehand
  (the first bytes the scan may want, held in memory), then for every regular file of
  every layer the calls the indexer makes while a layer streams, `LayerScanner.wanted`
  and, for the files it wants, `check`.

It prints a digest of the findings and of the scan's hits: two versions of the code that
print the same digests report the same findings and secrets. `--profile` adds a
cProfile of one more repetition of each (the top functions by cumulative time).
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import gc
import hashlib
import io
import json
import pstats
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

from inspector import pipeline
from inspector.contents.reading import layer_tar, opener
from inspector.findings import Finding, detect_all
from inspector.indexer import normalize
from inspector.inspection import Inspection
from inspector.model import Image
from inspector.secrets import MAX_NAMED_BYTES, LayerScanner, SecretHit
from inspector.source import LoadedImage, LoadEvents

# one layer's regular files as the indexer meets them: (path, size, first bytes or None)
LayerFiles = list[tuple[str, int, bytes | None]]
T = TypeVar("T")


def layer_files(loaded: LoadedImage) -> list[LayerFiles]:
    """Every regular file of every layer, with the head of each one the scan may want."""
    reopen = opener(loaded)
    layers: list[LayerFiles] = []
    for position in range(len(loaded.layers)):
        files: LayerFiles = []
        with layer_tar(reopen, position, f"layer {position}") as reader:
            for header in reader:
                if not header.is_regular or not header.size:
                    continue
                path = normalize(header.name)[0]
                # a scanner of its own per file: its budget never says no here
                keep = LayerScanner().wanted(path, header.size)
                head = reader.peek_content(min(header.size, MAX_NAMED_BYTES)) if keep else None
                files.append((path, header.size, head))
        layers.append(files)
    return layers


def scan_layers(layers: list[LayerFiles]) -> list[list[SecretHit]]:
    """What the indexer's content checks find in each layer."""
    found = []
    for files in layers:
        scanner = LayerScanner()
        wanted, check = scanner.wanted, scanner.check
        for path, size, head in files:
            keep = wanted(path, size)
            if keep and head is not None:
                check(path, memoryview(head)[:keep])
        found.append(scanner.hits)
    return found


def timed(work: Callable[[], T], reps: int) -> tuple[list[float], T]:
    """CPU seconds of `reps` calls of `work` (at least one), and what the last returned."""
    samples = []
    results = []
    for _ in range(max(reps, 1)):
        gc.collect()
        start = time.process_time()
        results.append(work())
        samples.append(time.process_time() - start)
        del results[:-1]
    return samples, results[-1]


def digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]


def findings_rows(findings: Sequence[Finding]) -> list[dict[str, object]]:
    return [dataclasses.asdict(finding) for finding in findings]


def profile(work: Callable[[], object], lines: int) -> str:
    profiler = cProfile.Profile()
    profiler.runcall(work)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(lines)
    return out.getvalue()


def shown(samples: list[float]) -> str:
    return f"{statistics.median(samples):.3f} s ({min(samples):.3f}-{max(samples):.3f})"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("archive", help="an image archive (docker save, OCI layout tar)")
    parser.add_argument("--reps", type=int, default=5, help="repetitions of each (default 5)")
    parser.add_argument("--profile", action="store_true", help="add a cProfile of each")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    loaded = pipeline.load(args.archive, pipeline.InspectOptions(), LoadEvents())
    inspection: Inspection = pipeline.analyse(loaded)
    config: Image = loaded.image  # as the source gave it, secrets included
    layers = layer_files(loaded)
    print(f"loaded and read again in {time.perf_counter() - start:.1f} s: {args.archive}")
    files = sum(len(files) for files in layers)
    heads = sum(head is not None for files in layers for head in (f[2] for f in files))
    print(f"{len(layers)} layers, {files:,} regular files, {heads:,} the scan may read")

    def findings() -> tuple[Finding, ...]:
        return detect_all(inspection, config)

    def scan() -> list[list[SecretHit]]:
        return scan_layers(layers)

    found_times, found = timed(findings, args.reps)
    scan_times, hits = timed(scan, args.reps)
    rows = findings_rows(found)
    print(f"detect_all  CPU {shown(found_times)}, {len(found)} findings, digest {digest(rows)}")
    hit_rows = [[dataclasses.astuple(hit) for hit in layer] for layer in hits]
    count = sum(len(layer) for layer in hits)
    print(f"secret scan CPU {shown(scan_times)}, {count} hits, digest {digest(hit_rows)}")
    if args.profile:
        print(profile(findings, 30))
        print(profile(scan, 20))
    return 0


if __name__ == "__main__":
    sys.exit(main())
