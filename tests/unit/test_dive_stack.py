"""dive's numbers from the bulk tally and the sorted-range stack equal a literal replay of
dive's rules (one tree per layer, leaves visited in order, a stack with a children index)
on random layers: whiteouts of files, directories, missing paths and paths below a
directory named like a whiteout, files over directories, opaque directories."""

from __future__ import annotations

import io
import random

import pytest
from imagebuilder import Dir, File, Layer, Opaque, Whiteout

from inspector import dive as dive_module
from inspector.changes import EntryType, FileEntry
from inspector.dive import dive_numbers
from inspector.indexer import WHITEOUT, LayerIndex, index_blob


def _named_like_whiteout(path: str) -> bool:
    return path.rpartition("/")[2].startswith(WHITEOUT)


def _key(marker: str) -> str:
    head, _, name = marker.rpartition("/")
    name = name[len(WHITEOUT) :]
    return f"{head}/{name}" if head else name


def _tree(index: LayerIndex) -> dict[str, FileEntry | None]:
    """One layer's tree, spelled out: entries, markers, opaque directories, and every
    directory a deeper path implies (None: no record)."""
    nodes: dict[str, FileEntry | None] = dict(index.entries)
    for marker in index.whiteouts.values():
        nodes[marker.path] = marker
    for directory in index.opaque:
        if directory:
            nodes.setdefault(directory, None)
    for path in list(nodes):
        parts = path.split("/")
        for depth in range(1, len(parts)):
            nodes.setdefault("/".join(parts[:depth]), None)
    return nodes


def reference(layers: list[LayerIndex]) -> tuple[list[tuple[str, int, int]], int, int]:
    """(inefficient paths, cumulative sum, minimum sum) by dive's rules, one path at a time."""
    records: dict[str, FileEntry | None] = {}
    children: dict[str, set[str]] = {}
    tally: dict[str, list[int]] = {}
    STOPPED.clear()

    def below(path: str) -> list[str]:
        found, pending = [], [path]
        while pending:
            current = pending.pop()
            found.append(current)
            pending.extend(children.get(current, ()))
        return found

    for position, index in enumerate(layers):
        nodes = _tree(index)
        parents = {path.rpartition("/")[0] for path in nodes}
        leaves = sorted((p for p in nodes if p not in parents), key=dive_module._dfs_key)
        for path in leaves:
            size: int | None
            if _named_like_whiteout(path):
                key = _key(path)
                if key not in records:
                    size = None
                else:
                    record = records[key]
                    is_dir = record is not None and record.type is EntryType.DIR
                    size = sum(
                        r.size for p in below(key) if (r := records.get(p)) is not None
                    ) if is_dir else 0  # fmt: skip
            else:
                key, record = path, nodes[path]
                size = record.size if record is not None else 0
            counted = tally.setdefault(key, [0, 0, -1])
            if size is None:
                STOPPED.append(key)
                break  # dive stops visiting this layer
            counted[0] += 1
            counted[1] += size
            counted[2] = size if counted[2] < 0 else min(counted[2], size)
        if position + 1 == len(layers):
            break
        for path in nodes:
            if _named_like_whiteout(path) and _key(path) in records:
                key = _key(path)
                children.get(key.rpartition("/")[0], set()).discard(key)
                for gone in below(key):
                    records.pop(gone, None)
                    children.pop(gone, None)
        for path, record in nodes.items():
            if not _named_like_whiteout(path):
                records[path] = record
                children.setdefault(path.rpartition("/")[0], set()).add(path)
    inefficient = sorted(
        ("/" + key, count, cumulative)
        for key, (count, cumulative, _) in tally.items()
        if count >= 2
    )
    return (
        inefficient,
        sum(c[1] for c in tally.values()),
        sum(c[2] for c in tally.values()),
    )


NAMES = ["a", "b", "a-b", "a.b", ".wh.z", "c"]
STOPPED: list[str] = []
"""The keys of the whiteouts of missing paths the last `reference` stopped at."""


def _random_layers(seed: int) -> list[LayerIndex]:
    rng = random.Random(seed)
    layers = []
    for _ in range(rng.randint(2, 6)):
        ops: list[object] = []
        seen: set[str] = set()
        for _ in range(rng.randint(3, 25)):
            path = "/".join(rng.choice(NAMES) for _ in range(rng.randint(1, 4)))
            if path in seen or path.rpartition("/")[2].startswith(WHITEOUT):
                continue
            seen.add(path)
            roll = rng.random()
            if roll < 0.55:
                ops.append(File(path, rng.randint(0, 40)))
            elif roll < 0.75:
                ops.append(Dir(path))
            elif roll < 0.95:
                ops.append(Whiteout(path))
            else:
                ops.append(Opaque(path))
        layer = Layer(ops)  # type: ignore[arg-type]
        layers.append(index_blob(io.BytesIO(layer.tar()).read, f"random {seed}"))
    return layers


@pytest.mark.parametrize("lazy", [8, 1])
def test_dive_numbers_equal_a_literal_replay_of_dive_rules(
    monkeypatch: pytest.MonkeyPatch, lazy: int
) -> None:
    """(With `lazy` 1, every layer but the last's leaves are written to `once` when the
    next one is counted.)"""
    monkeypatch.setattr(dive_module, "_LAZY_LAYERS", lazy)
    differing_kinds = set()
    for seed in range(400):
        layers = _random_layers(seed)
        numbers = dive_numbers(layers)
        inefficient, cumulative, minimum = reference(layers)
        got = sorted((i.path, i.count, i.cumulative_size) for i in numbers.inefficiencies)
        assert got == inefficient, seed
        expected = minimum / cumulative if cumulative else 1.0
        assert numbers.efficiency == expected, seed
        if inefficient:
            differing_kinds.add("inefficient")
        if any(index.whiteouts for index in layers[:-1]):
            differing_kinds.add("stacked whiteouts")
        if STOPPED:
            differing_kinds.add("stopped visit")
    # the cases are reached
    assert differing_kinds == {"inefficient", "stacked whiteouts", "stopped visit"}


def test_a_path_below_a_directory_named_like_a_whiteout_is_outside_its_ancestors() -> None:
    """dive's tree drops a node named `.wh.NAME`, not what lies below it: removing or
    sizing an ancestor leaves that out, and a whiteout of the path itself still finds it."""
    layers = [
        Layer([Dir("app"), File("app/.wh.x/kept", 50), File("app/f", 7)]),
        Layer([Whiteout("app")]),
        Layer([Whiteout("app/.wh.x/kept"), File("app/.wh.x/kept", 3)]),
    ]
    indexes = [index_blob(io.BytesIO(layer.tar()).read, "t") for layer in layers]
    numbers = dive_numbers(indexes)
    inefficient, cumulative, minimum = reference(indexes)
    assert sorted((i.path, i.count, i.cumulative_size) for i in numbers.inefficiencies) == (
        inefficient
    )
    assert numbers.efficiency == minimum / cumulative
    assert ("/app/.wh.x/kept", 3, 53) in inefficient  # found after the ancestor's removal
