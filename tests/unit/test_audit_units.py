"""The audit's pure parts: filters and tag order, layer summaries through the database, and
image text in the rendered report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from inspector.audit import render
from inspector.audit.report import build
from inspector.audit.sources import WalkOptions, kind_of, newest_tags, split_tag, wanted
from inspector.audit.store import AuditStore
from inspector.audit.tasks import FindingRow, ImageResult, summarize
from inspector.changes import EntryType, FileEntry
from inspector.digest import Digest
from inspector.errors import UsageError
from inspector.indexer import LayerIndex
from inspector.model import HistoryEntry, Image, LayerInfo
from inspector.secrets import SecretHit


def test_globs_match_repositories_or_repository_and_tag() -> None:
    options = WalkOptions(include=("team/*", "base:3.*"), exclude=("team/legacy", "*:*-rc*"))
    assert wanted(options, "team/app")
    assert not wanted(options, "other/app")
    assert not wanted(options, "team/legacy")
    assert wanted(options, "base")  # base:3.* may match a tag
    assert wanted(options, "base", "3.19")
    assert not wanted(options, "base", "2.0")
    assert not wanted(options, "team/app", "1.0-rc1")
    assert wanted(options, "team/app", "1.0")
    assert wanted(WalkOptions(), "anything", "at-all")


def test_max_tags_keeps_the_newest_in_version_order() -> None:
    tags = ["v1.9", "v1.10", "v1.2", "latest", "v2.0"]
    assert newest_tags(tags, 2) == ["v1.10", "v2.0"]
    assert newest_tags(tags, None) == ["latest", "v1.2", "v1.9", "v1.10", "v2.0"]
    assert newest_tags(tags, 10) == newest_tags(tags, None)


def test_engine_names_split_at_the_tag() -> None:
    assert split_tag("localhost:5000/org/app:1.2") == ("localhost:5000/org/app", "1.2")
    assert split_tag("busybox") == ("busybox", "latest")


def test_a_source_is_a_registry_the_engine_or_a_directory(tmp_path: Path) -> None:
    assert kind_of("docker://reg.example") == "registry"
    assert kind_of(str(tmp_path)) == "archive"
    (tmp_path / "oci-layout").write_text("{}")
    assert kind_of(str(tmp_path)) == "oci"
    with pytest.raises(UsageError):
        kind_of(str(tmp_path / "missing"))


def _layer(path: str, payload_digest: int) -> LayerIndex:
    index = LayerIndex()
    index.entries[path] = FileEntry(path, EntryType.FILE, 120, 0o644, 0, 0, 0, "", payload_digest)
    index.entries["etc"] = FileEntry("etc", EntryType.DIR, 0, 0o755, 0, 0, 0)
    index.digest = Digest("sha256", "a" * 64)
    index.diff_id = Digest("sha256", "b" * 64)
    index.compressed_size, index.uncompressed_size = 300, 2048
    index.secrets = [SecretHit("npm-token", path, 1, 36, "0123abcd")]
    return index


def test_a_layer_summary_survives_the_database(tmp_path: Path) -> None:
    high = (1 << 128) - 5  # an xxh3-128 digest: far above SQLite's 64-bit integers
    index = _layer("etc/\udcffodd", high)
    store = AuditStore(str(tmp_path / "a.db"))
    try:
        assert store.add_layer(summarize(index), run=1)
        assert not store.add_layer(summarize(index), run=1)  # once per diff_id
        back = store.layer_summary(str(index.diff_id)).index()
        rows = store.db.execute("SELECT path, size, digest FROM files").fetchall()
    finally:
        store.close()
    assert back.entries == index.entries
    assert back.secrets == index.secrets
    assert rows == [
        ("etc/\udcffodd".encode("utf-8", "surrogateescape"), 120, high.to_bytes(16, "big"))
    ]


def test_image_text_is_cleaned_in_text_and_markdown(tmp_path: Path) -> None:
    hostile = "\x1b[2J[red]evil\n|row"
    index = _layer("app/x", 7)
    diff_id = index.diff_id
    assert diff_id is not None
    info = LayerInfo(0, diff_id, index.digest, "tar", 300, HistoryEntry(created_by=hostile))
    image = Image("x", (), Digest("sha256", "c" * 64), None, (info,), (info.history,))  # type: ignore[arg-type]
    result = ImageResult(
        2048, 1000, 500, 1, 0.5, 0.5, 500,
        (FindingRow("secret-in-image", "error", "t", 9, f"in {hostile}", (), 0, (0,)),), (),
    )  # fmt: skip
    store = AuditStore(str(tmp_path / "a.db"))
    try:
        store.add_layer(summarize(index), run=1)
        store.add_image(hostile, "repo", "1", "registry", "k", image, result, {}, run=1)
        report = build(store)
    finally:
        store.close()
    for fmt in ("text", "markdown"):
        text = render.render(report, fmt)
        assert "\x1b" not in text
        assert "\n|row" not in text
        assert "x1b" in text
    doc = json.loads(render.render(report, "json"))
    assert doc["byWaste"][0]["names"] == [hostile]  # JSON keeps the exact value
