"""Differential fuzzing of the compiled header walk (inspector/_headerwalk.pyx).

Each input is indexed as a layer twice, through the compiled walk and through the Python
one, in buffers of a size the input picks (so headers and contents land across buffer
ends); the two must give the same index or the same error, and only InspectorError may
escape.

Two modes (scripts/fuzz-native runs both):

* `fuzz_headerwalk.py [libFuzzer flags] CORPUS`: atheris, guided by the coverage of the
  Python code the walk hands entries to, grows CORPUS.
* `fuzz_headerwalk.py --mutate SECONDS CORPUS`: with the extension built under
  AddressSanitizer (`INSPECTOR_ASAN_WALK` names that build; gcc's sanitizer runtime is
  preloaded, and it would break atheris's coverage), every corpus input and random
  mutations of them (bit flips, byte runs, splices, truncations) for SECONDS, so a read
  or write outside a buffer stops the run at once.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import io
import os
import random
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

if "--mutate" not in sys.argv:
    import atheris

    with atheris.instrument_imports():
        from inspector import headerwalk, native
        from inspector.errors import InspectorError
        from inspector.indexer import LayerIndex, index_tar
        from inspector.tarstream import TarReader
else:
    from inspector import headerwalk, native
    from inspector.errors import InspectorError
    from inspector.indexer import LayerIndex, index_tar
    from inspector.tarstream import TarReader


def _compiled() -> Callable[..., tuple[int, int]]:
    path = os.environ.get("INSPECTOR_ASAN_WALK")
    if path is None:
        built = native.compiled_walk()
        if built is None:
            raise SystemExit("fuzz_headerwalk: the compiled header walk is not built")
        return built
    loader = importlib.machinery.ExtensionFileLoader("inspector._headerwalk", path)
    spec = importlib.util.spec_from_file_location("inspector._headerwalk", path, loader=loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    walk: Callable[..., tuple[int, int]] = module.walk
    return walk


COMPILED = _compiled()
CHUNKS = (512, 1024, 1536, 4096, 65536)


def _index(data: bytes, chunk: int) -> LayerIndex | str:
    try:
        return index_tar(TarReader(io.BytesIO(data).read, "fuzz", chunk=chunk), "fuzz")
    except InspectorError as error:
        return f"{type(error).__name__}: {error}"


def test_one_input(data: bytes) -> None:
    if not data:
        return
    chunk = CHUNKS[data[0] % len(CHUNKS)]
    layer = data[1:]
    native.walk = headerwalk.walk
    python = _index(layer, chunk)
    native.walk = COMPILED
    compiled = _index(layer, chunk)
    if python != compiled:
        raise AssertionError(f"the walks disagree:\npython:   {python}\ncompiled: {compiled}")


def seeds() -> Iterable[bytes]:
    import fuzz_tarstream

    for seed in fuzz_tarstream.seeds():
        if seed[:2] != b"\x1f\x8b" and seed[:4] != b"\x28\xb5\x2f\xfd":  # plain tars only
            for first in range(len(CHUNKS)):
                yield bytes([first]) + seed


def _mutated(data: bytes, corpus: list[bytes], rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        how = rng.randrange(5)
        where = rng.randrange(len(out) + 1)
        if how == 0 and out:  # flip bits
            out[where % len(out)] ^= 1 << rng.randrange(8)
        elif how == 1:  # a run of one byte (often a digit, a NUL, a space or 0xff)
            byte = rng.choice(b"0127 \x00\xff/.")
            out[where:where] = bytes([byte]) * rng.randint(1, 16)
        elif how == 2:  # splice another input in
            other = rng.choice(corpus)
            start = rng.randrange(len(other) + 1)
            out[where:] = other[start:]
        elif how == 3:  # cut
            del out[where : where + rng.randint(1, 600)]
        else:  # overwrite a header field with digits
            out[where : where + 12] = b"%011o" % rng.randrange(1 << 33) + b"\0"
    return bytes(out)


def mutate(seconds: float, directory: str) -> None:
    corpus = [p.read_bytes() for p in sorted(Path(directory).iterdir()) if p.is_file()]
    if not corpus:
        raise SystemExit(f"fuzz_headerwalk: no inputs in {directory}")
    rng = random.Random(int(os.environ.get("FUZZ_SEED", "0")) or None)
    runs = 0
    for data in corpus:
        test_one_input(data)
        runs += 1
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        data = _mutated(rng.choice(corpus), corpus, rng)
        try:
            test_one_input(data)
        except BaseException:
            crash = Path(".fuzz") / f"crash-headerwalk-{runs}"
            crash.write_bytes(data)
            print(f"fuzz_headerwalk: input written to {crash}", file=sys.stderr)
            raise
        runs += 1
    print(f"Done {runs} runs in {int(seconds)} second(s) (mutations of {len(corpus)} inputs)")


if __name__ == "__main__":
    if "--mutate" in sys.argv:
        mutate(float(sys.argv[sys.argv.index("--mutate") + 1]), sys.argv[-1])
        sys.exit(0)
    import fuzzing

    fuzzing.run(test_one_input, seeds)
