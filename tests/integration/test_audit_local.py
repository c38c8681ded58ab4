"""`inspector audit` on local images: a directory of `docker save` archives and OCI layouts,
and the Docker engine (local worker processes, a layer cache of the audit's own)."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import Any

import imagebuilder as ib
import pytest
import services

from inspector import pipeline
from inspector.audit.runner import AuditEvents, AuditOptions, run_audit
from inspector.audit.sources import WalkOptions

BASE = [
    ib.Layer([ib.Dir("etc"), ib.File("etc/os-release", 300, seed="os")], created_by="ADD os"),
    ib.Layer([ib.File("usr/lib/libc.so", 40_000, seed="libc")], created_by="RUN libc"),
]


def _app(name: str) -> ib.BuiltImage:
    return ib.build_image(
        *BASE,
        ib.Layer([ib.File(f"app/{name}", 3_000, seed=name), ib.File("tmp/x", 9_000)], "COPY"),
        ib.Layer([ib.Whiteout("tmp/x")], created_by="RUN rm /tmp/x"),
        tags=(f"local/{name}:1",),
    )


def _rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return sorted(conn.execute(sql).fetchall())


def test_a_directory_of_archives_and_layouts(tmp_path: Path) -> None:
    images = tmp_path / "images"
    images.mkdir()
    (images / "one.tar").write_bytes(ib.docker_save_legacy(_app("one")))
    (images / "nested").mkdir()
    (images / "nested" / "two.tar").write_bytes(ib.docker_save_legacy(_app("two")))
    ib.write_tree(images / "three", ib.oci_layout(_app("three"), ref_names="tag"))
    (images / "notes.txt").write_text("not an image")
    db = tmp_path / "audit.db"
    options = AuditOptions(db=str(db), workers=1, cache_root=str(tmp_path / "cache"))
    summary = run_audit([str(images)], options, AuditEvents())
    assert (summary.analysed, summary.failures) == (3, 0)
    found = _rows(db, "SELECT name, repository, tag, wasted_bytes FROM images")
    names = [row[0] for row in found]
    assert names == [
        f"{images}/nested/two.tar",
        f"{images}/one.tar",
        f"{images}/three:1",
    ]
    # the archives' own tags name their repository; the layout's directory does
    assert [(row[1], row[2]) for row in found] == [
        ("local/two", "1"), ("local/one", "1"), ("three", "1"),
    ]  # fmt: skip
    alone = pipeline.inspect(str(images / "one.tar")).analysis.exact.wasted_bytes
    assert found[1][3] == alone == 9_000
    layers = {d for name in ("one", "two", "three") for d in _app(name).diff_ids}
    assert {row[0] for row in _rows(db, "SELECT diff_id FROM layers")} == layers
    again = run_audit([str(images)], options, AuditEvents())
    assert (again.analysed, again.unchanged, again.layers_indexed) == (0, 3, 0)


@pytest.mark.docker
def test_the_engine(
    docker_engine: services.ManagedEngine,
    image_factory: services.ImageFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key, value in docker_engine.env.items():
        monkeypatch.setenv(key, value)  # (the local workers inherit it)
    built = [
        image_factory.build(
            "audit-a", "RUN echo a > /a && dd if=/dev/zero of=/tmp/z bs=1k count=20 && rm /tmp/z"
        ),
        image_factory.build("audit-b", "RUN echo b > /b"),
    ]
    db = tmp_path / "audit.db"
    options = AuditOptions(
        db=str(db),
        walk=WalkOptions(include=("inspector-test/audit-*",)),
        engine=True,
        workers=2,
        cache_root=str(tmp_path / "cache"),
    )
    summary = run_audit([], options, AuditEvents())
    assert (summary.analysed, summary.failures) == (2, 0)
    rows = dict(_rows(db, "SELECT name, key FROM images"))
    assert rows == {b.name: b.image_id for b in built}
    base = built[0].diff_ids[0]
    assert base == built[1].diff_ids[0]
    assert _rows(db, f"SELECT COUNT(*) FROM layers WHERE diff_id = '{base}'") == [(1,)]
    wasted = dict(_rows(db, "SELECT name, wasted_bytes FROM images"))
    alone = pipeline.inspect(built[0].daemon_ref).analysis.exact.wasted_bytes
    assert wasted[built[0].name] == alone
