"""The analysis result cache: hits, misses, damage, --no-cache and format versions.

Real archives in temporary directories, real cache directories; nothing is mocked.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from imagebuilder import BuiltImage, Dir, File, Layer, Whiteout, build_image, docker_save_legacy

from inspector import cli, results
from inspector.analysis import Analysis, analyse
from inspector.cache import LayerCache
from inspector.cachecodec import LazyLayerIndex
from inspector.dive import DiveNumbers, dive_numbers, dive_view
from inspector.source import LoadedImage, LoadEvents
from inspector.sources.archive import ArchiveSource

BASE = Layer(
    [Dir("app"), File("app/a.bin", 5000), File("app/b.bin", 3000), File("tmp/big", 9000)],
    created_by="COPY app /app",
)
CLEANUP = Layer([Whiteout("tmp/big"), File("app/a.bin", 6000, seed="v2")], created_by="RUN rm")
OTHER = Layer([File("app/c.bin", 700)], created_by="RUN add c")


def _write(path: Path, image: BuiltImage) -> Path:
    path.write_bytes(docker_save_legacy(image))
    return path


def _load(path: Path, store: LayerCache | None) -> LoadedImage:
    return ArchiveSource(str(path), path.name, cache=store).load(LoadEvents())


def _numbers(analysis: Analysis, dive: DiveNumbers) -> tuple[Any, ...]:
    exact = analysis.exact
    return (
        [tuple(getattr(s, n) for n in s.__slots__) for s in analysis.layers],
        (exact.stored_bytes, exact.visible_bytes, exact.wasted_bytes, exact.user_stored_bytes),
        [tuple(w) for w in exact.wasted_files],
        analysis.warnings,
        analysis.final_paths,
        (dive.size_bytes, dive.user_size_bytes, dive.wasted_bytes, dive.layer_sizes),
        (round(dive.efficiency, 12), dive.user_wasted_percent),
        [(i.path, i.count, i.cumulative_size) for i in dive.inefficiencies],
    )


def _fresh(loaded: LoadedImage) -> tuple[Any, ...]:
    analysis = analyse(loaded.image, loaded.layers)
    return _numbers(analysis, dive_numbers(dive_view(loaded.image, loaded.layers)))


def _result_files(root: Path) -> list[Path]:
    directory = root / "v4" / "results"
    return sorted(directory.iterdir()) if directory.is_dir() else []


def test_a_second_run_reads_the_result_and_decodes_no_layer(tmp_path: Path) -> None:
    archive = _write(tmp_path / "img.tar", build_image(BASE, CLEANUP))
    store = LayerCache(str(tmp_path / "cache"))
    first = _load(archive, store)
    expected = _fresh(first)
    assert _numbers(*results.analyse_image(first.image, first.layers, store)) == expected
    assert len(_result_files(tmp_path / "cache")) == 1
    assert store.info().results == 1

    second = _load(archive, store)
    assert all(isinstance(index, LazyLayerIndex) for index in second.layers)
    analysis, dive = results.analyse_image(second.image, second.layers, store)
    assert not any(index.decoded for index in second.layers)  # type: ignore[attr-defined]
    assert _numbers(analysis, dive) == expected
    assert analysis.image is second.image
    # the change kinds are not stored: reading them analyses the layers again, exactly
    again = analyse(second.image, second.layers)
    assert list(analysis.changes) == list(again.changes)
    assert len(analysis.changes) == 2


def test_a_changed_layer_is_a_miss(tmp_path: Path) -> None:
    store = LayerCache(str(tmp_path / "cache"))
    one = _load(_write(tmp_path / "one.tar", build_image(BASE, CLEANUP)), store)
    two = _load(_write(tmp_path / "two.tar", build_image(BASE, OTHER)), store)
    assert results.result_key(one.image, one.layers) != results.result_key(two.image, two.layers)
    results.analyse_image(one.image, one.layers, store)
    analysis, dive = results.analyse_image(two.image, two.layers, store)
    assert _numbers(analysis, dive) == _fresh(two)
    assert len(_result_files(tmp_path / "cache")) == 2


def test_a_changed_config_shows_its_own_values(tmp_path: Path) -> None:
    """Nothing from the config is stored: the same layers under another config share the
    numbers, and the analysis carries the new image (history, commands)."""
    store = LayerCache(str(tmp_path / "cache"))
    image = build_image(BASE, CLEANUP)
    renamed = image.with_config(
        lambda doc: doc["history"][0].update(created_by="COPY elsewhere /app")
    )
    one = _load(_write(tmp_path / "one.tar", image), store)
    two = _load(_write(tmp_path / "two.tar", renamed), store)
    assert one.image.config_digest != two.image.config_digest
    results.analyse_image(one.image, one.layers, store)
    analysis, dive = results.analyse_image(two.image, two.layers, store)
    assert analysis.image is two.image
    assert analysis.image.layers[0].created_by == "COPY elsewhere /app"
    assert _numbers(analysis, dive) == _fresh(two)


def test_a_layer_dive_reads_as_empty_changes_the_key(tmp_path: Path) -> None:
    store = LayerCache(str(tmp_path / "cache"))
    loaded = _load(_write(tmp_path / "img.tar", build_image(BASE, CLEANUP)), store)
    from dataclasses import replace

    infos = (loaded.image.layers[0], replace(loaded.image.layers[1], aliased=True))
    aliased = replace(loaded.image, layers=infos)
    assert results.result_key(aliased, loaded.layers) != results.result_key(
        loaded.image, loaded.layers
    )
    results.analyse_image(loaded.image, loaded.layers, store)
    _, dive = results.analyse_image(aliased, loaded.layers, store)
    assert dive.layer_sizes[1] == 0


def test_a_layer_index_that_is_not_the_named_layer_is_not_cached(tmp_path: Path) -> None:
    store = LayerCache(str(tmp_path / "cache"))
    one = _load(_write(tmp_path / "one.tar", build_image(BASE, CLEANUP)), store)
    two = _load(_write(tmp_path / "two.tar", build_image(BASE, OTHER)), store)
    swapped = (one.layers[0], two.layers[1])
    assert results.result_key(one.image, swapped) is None
    results.analyse_image(one.image, swapped, store)
    assert _result_files(tmp_path / "cache") == []


@pytest.mark.parametrize("damage", ["flip", "truncate", "garbage"])
def test_a_damaged_result_is_rebuilt(tmp_path: Path, damage: str) -> None:
    store = LayerCache(str(tmp_path / "cache"))
    loaded = _load(_write(tmp_path / "img.tar", build_image(BASE, CLEANUP)), store)
    expected = _fresh(loaded)
    results.analyse_image(loaded.image, loaded.layers, store)
    (entry,) = _result_files(tmp_path / "cache")
    good = entry.read_bytes()
    if damage == "flip":
        data = bytearray(good)
        data[-5] ^= 0xFF
        entry.write_bytes(bytes(data))
    elif damage == "truncate":
        entry.write_bytes(good[:30])
    else:
        entry.write_bytes(b"not a result at all")
    assert _numbers(*results.analyse_image(loaded.image, loaded.layers, store)) == expected
    assert entry.read_bytes() == good  # written again, whole


def test_a_well_formed_but_wrong_payload_is_a_miss(tmp_path: Path) -> None:
    store = LayerCache(str(tmp_path / "cache"))
    loaded = _load(_write(tmp_path / "img.tar", build_image(BASE, CLEANUP)), store)
    key = results.result_key(loaded.image, loaded.layers)
    assert key is not None
    import marshal

    store.put_result(key, marshal.dumps((results.RESULT_FORMAT, [], "nonsense")))
    assert _numbers(*results.analyse_image(loaded.image, loaded.layers, store)) == _fresh(loaded)
    payload = store.get_result(key)
    assert payload is not None
    assert _numbers(*results.decode_result(payload, loaded.image, loaded.layers)) == _fresh(loaded)


def test_another_format_version_is_a_miss(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = LayerCache(str(tmp_path / "cache"))
    loaded = _load(_write(tmp_path / "img.tar", build_image(BASE, CLEANUP)), store)
    results.analyse_image(loaded.image, loaded.layers, store)
    old_key = results.result_key(loaded.image, loaded.layers)
    assert old_key is not None
    payload = store.get_result(old_key)
    assert payload is not None
    monkeypatch.setattr(results, "RESULT_FORMAT", results.RESULT_FORMAT + 1)
    assert results.result_key(loaded.image, loaded.layers) != old_key
    with pytest.raises(ValueError, match="format"):
        results.decode_result(payload, loaded.image, loaded.layers)
    results.analyse_image(loaded.image, loaded.layers, store)
    assert len(_result_files(tmp_path / "cache")) == 2


def test_the_cli_uses_counts_clears_and_bypasses_the_result_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = _write(tmp_path / "img.tar", build_image(BASE, CLEANUP))
    root = tmp_path / "cache"
    monkeypatch.setenv("INSPECTOR_CACHE_DIR", str(root))
    out = tmp_path / "out.json"

    assert cli.main([str(archive), "--json", str(out), "--no-cache"]) == 0
    assert not root.exists()
    uncached = json.loads(out.read_text())

    for _ in range(2):  # fills the cache, then reads the result from it
        assert cli.main([str(archive), "--json", str(out)]) == 0
        assert json.loads(out.read_text()) == uncached
        assert len(_result_files(root)) == 1
    text = cli.main([str(archive), "--text"])
    assert text == 0
    assert "Wasted (exact)" in capsys.readouterr().out

    assert cli.main(["cache", "info"]) == 0
    assert "results: 1" in capsys.readouterr().out
    assert cli.main(["cache", "clear"]) == 0
    assert _result_files(root) == []


def test_nan_and_infinity_survive_the_cache(tmp_path: Path) -> None:
    """One layer: no user bytes, so dive's userWastedPercent is NaN."""
    store = LayerCache(str(tmp_path / "cache"))
    loaded = _load(_write(tmp_path / "img.tar", build_image(BASE)), store)
    _, fresh = results.analyse_image(loaded.image, loaded.layers, store)
    again = _load(tmp_path / "img.tar", store)
    _, cached = results.analyse_image(again.image, again.layers, store)
    assert math.isnan(fresh.user_wasted_percent) == math.isnan(cached.user_wasted_percent)
    assert cached.efficiency == fresh.efficiency


def test_rendered_file_lists_are_cached_per_layer(tmp_path: Path) -> None:
    from inspector.dive import file_list_json
    from inspector.indexer import LayerIndex

    store = LayerCache(str(tmp_path / "cache"))
    loaded = _load(_write(tmp_path / "img.tar", build_image(BASE, CLEANUP)), store)
    expected = [file_list_json(index) for index in loaded.layers]
    assert [results.file_list_text(i, store) for i in loaded.layers] == expected
    directory = tmp_path / "cache" / "v4" / "filelists"
    entries = sorted(directory.iterdir())
    assert len(entries) == 2

    again = _load(tmp_path / "img.tar", store)
    assert [results.file_list_text(i, store) for i in again.layers] == expected
    assert not any(index.decoded for index in again.layers)  # type: ignore[attr-defined]

    entries[0].write_bytes(entries[0].read_bytes()[:-3] + b"xyz")  # damaged: rebuilt
    assert [results.file_list_text(i, store) for i in again.layers] == expected
    assert results.file_list_text(LayerIndex(), store) == "[]"  # dive's empty layer
    assert len(sorted(directory.iterdir())) == 2
    assert results.file_list_text(loaded.layers[0], None) == expected[0]
