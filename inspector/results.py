"""Analysis results cached by the layer stack they were computed from.

The exact accounting (`analysis.analyse`) and dive's numbers (`dive.dive_numbers`)
depend on nothing but the layer indexes, in order, and on which layers dive reads as
empty (`LayerInfo.aliased`); a layer index depends on nothing but the layer's diff_id.
So a result is stored in the layer cache (`LayerCache.put_result`) under

    sha256("inspector-result", RESULT_FORMAT, the cache version, the package version,
           a digest of the code that computes results, [(diff_id, aliased) per layer])

and a second run of the same image, or of any image with the same layer stack, reads
it back instead of stacking every layer again. Nothing from the image config is stored:
the `Analysis.image` of a cached result is the image just loaded, so a new config
(history, commands, labels) over the same layers shows its own values. The code digest
makes an edited `analysis.py` or `dive.py` miss rather than return an old result.

The per-path change kinds (`Analysis.changes`, which only tests and library callers read)
are not stored; reading them from a cached result runs the analysis again.

Prefix states. On a miss, the analysis resumes from the deepest stored state of a prefix
of the layer stack (`state_key`: the same digest over the first `depth` layers only),
so an image that shares its first layers with one analysed before only stacks its new
layers. A miss that starts from scratch stores the state after all but the top layer
(`STATE_DEPTHS`: the depth a sibling most often shares), but only when those layers were
in the layer cache before this run, i.e. when this prefix was seen in an earlier run: a
state costs about as much disk as the stack's paths, and encoding one about 0.5 s and
70 MB of memory per 100,000 paths, which the first opening of an image (the common case)
should not pay. So the first sibling of an image stores the state and later ones resume from it.
States are stored in the same cache (`v4/states/`), decoded lazily (see overlay.py) and
give exactly the result of a run from scratch.
"""

from __future__ import annotations

import hashlib
import marshal
import os
from collections.abc import Iterator, Sequence
from itertools import repeat
from typing import Any

from inspector import __version__
from inspector import cache as cache_module
from inspector.analysis import (
    Analysis,
    ExactWaste,
    LayerStats,
    PrefixState,
    RecomputedChanges,
    WastedFile,
    analyse,
    decode_state,
)
from inspector.cache import LayerCache
from inspector.changes import Removal
from inspector.dive import (
    DiveNumbers,
    DivePrefix,
    Inefficiency,
    decode_dive_state,
    dive_numbers,
    dive_view,
)
from inspector.dive import (
    file_list_chunks as file_list_chunks_of,
)
from inspector.gcpause import gc_paused
from inspector.indexer import LayerIndex
from inspector.model import Image

RESULT_FORMAT = 1
FILE_LIST_FORMAT = 2  # 2: names that are not UTF-8 get *Bytes siblings
STATE_FORMAT = 1
STATE_DEPTHS = (1,)  # prefix states stored on a miss: all layers but the top one
_CODE = ("analysis.py", "_stacking.pyx", "dive.py", "indexer.py", "tarstream.py", "changes.py",
         "results.py", "overlay.py", "jsontext.py")  # fmt: skip
__all__ = ["RecomputedChanges"]
_REMOVALS = list(Removal)
_REMOVAL_CODE = {r: i for i, r in enumerate(_REMOVALS)}
_STATS = ("position", "added", "modified", "removed", "unchanged", "added_bytes",
          "modified_bytes", "removed_bytes", "stored_bytes", "wasted_bytes", "contribution",
          "cumulative")  # fmt: skip
_new_tuple = tuple.__new__
_code_digest: str | None = None


def code_digest() -> str:
    """A digest of the modules whose code decides a result (read once per process)."""
    global _code_digest
    if _code_digest is None:
        digest = hashlib.sha256()
        here = os.path.dirname(os.path.abspath(__file__))
        for name in _CODE:
            try:
                with open(os.path.join(here, name), "rb") as handle:
                    digest.update(handle.read())
            except OSError:
                digest.update(f"unreadable {name}".encode())
        _code_digest = digest.hexdigest()
    return _code_digest


def _stack_keys(image: Image, layers: Sequence[LayerIndex], kind: str) -> list[str] | None:
    """The key of every prefix of the layer stack (the first 1, 2, ... layers); None
    when a layer index is not the layer the image names (nothing is cached then)."""
    if len(image.layers) != len(layers):
        return None
    digest = _key_header(kind)
    keys: list[str] = []
    for info, index in zip(image.layers, layers, strict=True):
        if index.diff_id is None or index.diff_id != info.diff_id:
            return None
        digest.update(f"{info.diff_id} {int(info.aliased)}\n".encode())
        keys.append(digest.copy().hexdigest())
    return keys


def result_key(image: Image, layers: Sequence[LayerIndex]) -> str | None:
    """The cache key of this image's result; None when a layer index is not the layer the
    image names (nothing is cached then)."""
    keys = _stack_keys(image, layers, "result")
    if keys is None:
        return None
    return keys[-1] if keys else _key_header("result").hexdigest()


def _key_header(kind: str) -> Any:
    """The digest every key of `kind` starts from: formats, versions and the code."""
    version = RESULT_FORMAT if kind == "result" else STATE_FORMAT
    return hashlib.sha256(
        f"inspector-{kind} {version} {cache_module.VERSION} {__version__} "
        f"{code_digest()}\n".encode()
    )


def state_keys(image: Image, layers: Sequence[LayerIndex]) -> list[str] | None:
    """`state_keys(...)[depth - 1]`: the key of the state after the first `depth` layers
    (the ChainID of that prefix, with dive's empty layers marked, and the code digest)."""
    return _stack_keys(image, layers, "state")


def _resume(
    cache: LayerCache, keys: Sequence[str]
) -> tuple[PrefixState, DivePrefix] | tuple[None, None]:
    """The deepest stored prefix state below the top layer; a damaged one is forgotten."""
    for depth in range(len(keys) - 1, 0, -1):
        payload = cache.get_result(keys[depth - 1], "states")
        if payload is None:
            continue
        try:
            exact, dive = marshal.loads(payload)
            state = decode_state(exact)
            numbers = decode_dive_state(dive)
            if state.depth != depth or numbers.depth != depth:
                raise ValueError("a state of another depth")
        except Exception:  # a damaged or malformed payload is a miss, never a crash
            cache.forget_result(keys[depth - 1], "states")
            continue
        return state, numbers
    return None, None


def seen_before(layers: Sequence[LayerIndex], cache: LayerCache) -> bool:
    """Whether every one of `layers` was in the layer cache before this run (an earlier
    run indexed it): a prefix worth a stored state, which a first opening does not pay."""
    return all(layer.diff_id is not None and layer.diff_id in cache.seen for layer in layers)


def analyse_image(
    image: Image, layers: Sequence[LayerIndex], cache: LayerCache | None
) -> tuple[Analysis, DiveNumbers]:
    """`analyse` and `dive_numbers` of the image, from the cache when it holds them: the
    whole result, else the deepest stored prefix state and the layers above it."""
    key = result_key(image, layers) if cache is not None else None
    if cache is not None and key is not None:
        payload = cache.get_result(key)
        if payload is not None:
            try:
                return decode_result(payload, image, layers)
            except ValueError:
                cache.forget_result(key)
    keys = state_keys(image, layers) if cache is not None and key is not None else None
    if cache is None or key is None or keys is None:
        return analyse(image, layers), dive_numbers(dive_view(image, layers))
    start, dive_start = _resume(cache, keys)
    wanted: set[int] = set()
    if start is None:  # from scratch: keep the states a sibling may resume from
        wanted = {
            depth
            for depth in (len(keys) - back for back in STATE_DEPTHS)
            if depth > 0 and seen_before(layers[:depth], cache)
        }
    exact_states: dict[int, bytes] = {}
    dive_states: dict[int, bytes] = {}
    analysis = analyse(image, layers, start, exact_states.__setitem__, wanted)
    dive = dive_numbers(dive_view(image, layers), dive_start, dive_states.__setitem__, wanted)
    cache.put_result(key, encode_result(analysis, dive))
    for depth in sorted(wanted):
        if depth in exact_states and depth in dive_states:
            payload = marshal.dumps((exact_states[depth], dive_states[depth]))
            cache.put_result(keys[depth - 1], payload, "states")
    return analysis, dive


def file_list_key(index: LayerIndex) -> str | None:
    """The cache key of a layer's rendered fileList (None: not worth caching)."""
    if index.diff_id is None:
        return None  # a layer dive reads as empty: "[]"
    return hashlib.sha256(
        f"inspector-file-list {FILE_LIST_FORMAT} {cache_module.VERSION} {__version__} "
        f"{code_digest()} {index.diff_id}".encode()
    ).hexdigest()


def file_list_chunks(index: LayerIndex, cache: LayerCache | None) -> Iterator[bytes]:
    """`dive.file_list_json(index)` as ASCII bytes in pieces, from the cache when it holds
    it (a layer's file list depends only on its diff_id; reading it back needs no layer
    entry decoded, and is checked whole before the first piece). On a miss, the pieces
    are stored as they pass, once the last has passed."""
    key = file_list_key(index) if cache is not None else None
    if cache is None or key is None:
        return _encoded(file_list_chunks_of(index))
    stored = cache.result_chunks(key, "filelists")
    if stored is not None:
        return stored
    return cache.stream_result(key, _encoded(file_list_chunks_of(index)), "filelists")


def _encoded(chunks: Iterator[str]) -> Iterator[bytes]:
    for chunk in chunks:
        yield chunk.encode("ascii")


def file_list_text(index: LayerIndex, cache: LayerCache | None) -> str:
    """`dive.file_list_json(index)`, through the cache (`file_list_chunks`)."""
    return b"".join(file_list_chunks(index, cache)).decode("ascii")


# --- the payload ------------------------------------------------------------------------
def _columns(rows: Sequence[tuple[Any, ...]], width: int) -> tuple[tuple[Any, ...], ...]:
    """Rows of `width` fields as columns, transposed at C speed."""
    return tuple(zip(*rows, strict=True)) or ((),) * width


@gc_paused
def encode_result(analysis: Analysis, dive: DiveNumbers) -> bytes:
    exact = analysis.exact
    paths, sizes, stored_in, hidden_by, hows = _columns(exact.wasted_files, 5)
    ineff_paths, counts, cumulative = _columns(dive.inefficiencies, 3)
    return marshal.dumps(
        (
            RESULT_FORMAT,
            [tuple(getattr(s, name) for name in _STATS) for s in analysis.layers],
            (exact.stored_bytes, exact.visible_bytes, exact.wasted_bytes, exact.user_stored_bytes),
            (paths, sizes, stored_in, hidden_by, bytes(map(_REMOVAL_CODE.__getitem__, hows))),
            list(analysis.warnings),
            analysis.final_paths,
            (
                dive.size_bytes,
                dive.user_size_bytes,
                dive.wasted_bytes,
                dive.efficiency,
                dive.user_wasted_percent,
            ),
            (ineff_paths, counts, cumulative),
            list(dive.layer_sizes),
        )
    )


@gc_paused
def decode_result(
    payload: bytes, image: Image, layers: Sequence[LayerIndex]
) -> tuple[Analysis, DiveNumbers]:
    """The stored result, bound to `image`; ValueError for anything damaged."""
    try:
        (version, stats, exact, wasted, warnings, final_paths, dive, ineff,
         layer_sizes) = marshal.loads(payload)  # fmt: skip
        if version != RESULT_FORMAT:
            raise ValueError(f"format {version}")
        if len(stats) != len(image.layers) or len(layer_sizes) != len(image.layers):
            raise ValueError("another number of layers")
        paths, sizes, stored_in, hidden_by, hows = wasted
        rows: Any = zip(
            paths, sizes, stored_in, hidden_by, map(_REMOVALS.__getitem__, hows), strict=True
        )
        wasted_files = tuple(map(_new_tuple, repeat(WastedFile), rows))
        ineff_paths, counts, cumulative = ineff
        if not len(ineff_paths) == len(counts) == len(cumulative):
            raise ValueError("inefficiency columns differ in length")
        rows = zip(ineff_paths, counts, cumulative, strict=True)
        inefficiencies = tuple(map(_new_tuple, repeat(Inefficiency), rows))
        analysis = Analysis(
            image,
            tuple(LayerStats(*row) for row in stats),
            RecomputedChanges(image, layers),
            ExactWaste(exact[0], exact[1], exact[2], exact[3], wasted_files),
            tuple(str(w) for w in warnings),
            int(final_paths),
        )
        size, user, wasted_bytes, efficiency, user_wasted = dive
        numbers = DiveNumbers(
            size, user, wasted_bytes, efficiency, user_wasted, inefficiencies, tuple(layer_sizes)
        )
    except ValueError:
        raise
    except Exception as exc:  # any malformed payload is a miss, never a crash
        raise ValueError(f"malformed result ({exc})") from None
    return analysis, numbers
