"""What the fuzz targets share: seeding a corpus directory and starting atheris.

A target is `python tests/fuzz/fuzz_NAME.py [libFuzzer flags] CORPUS_DIR` (scripts/fuzz
runs each for a few minutes). The corpus directory, when empty, is first filled with the
target's seeds (well-formed inputs built by tests/imagebuilder.py), so the fuzzer starts
from real images instead of from nothing. Only InspectorError may leave the code under
test: anything else is a finding, and atheris stops with the input that caused it.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Callable, Iterable

import atheris


def run(test_one_input: Callable[[bytes], None], seeds: Callable[[], Iterable[bytes]]) -> None:
    """Seed the corpus directory named on the command line if it is empty, then fuzz."""
    corpus = next((a for a in sys.argv[1:] if not a.startswith("-")), None)
    if corpus is not None:
        os.makedirs(corpus, exist_ok=True)
        if not os.listdir(corpus):
            for data in seeds():
                name = hashlib.sha1(data).hexdigest()  # libFuzzer's own naming
                with open(os.path.join(corpus, name), "wb") as out:
                    out.write(data)
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
