"""`inspector audit` against a real loopback registry, on local worker processes and on a real
Dask cluster (a `dask scheduler` and two `dask worker` processes started here).

The fleet under `fleet/` (pushed with skopeo to the session's `plain_registry`):

* `fleet/base:1` and `fleet/base:2`: two bases of two layers each;
* `fleet/app-a:1`, `:2` on base 1 and `:3` on base 2; `fleet/app-b:1`, `:2` on base 2.
  Every app layer vendors the same 30 kB library (duplicate content across layers);
  app-a stores a 20 kB tarball and deletes it in the next layer (exact waste); app-b:2 was
  built with a GitHub token as a build argument, which its history shows;
* `fleet/broken:1` on base 2, whose top layer blob is damaged in the registry's storage.

Requests go through a `Front` proxy that records them, so the tests can count the blob
GETs of each run.
"""

from __future__ import annotations

import collections
import contextlib
import io
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import imagebuilder as ib
import pytest
import services

from inspector import pipeline
from inspector.audit import render
from inspector.audit.report import build
from inspector.audit.runner import AuditEvents, AuditOptions, AuditSummary, run_audit
from inspector.audit.sources import WalkOptions
from inspector.audit.store import AuditStore
from inspector.audit.tasks import Fetch, LayerJob
from inspector.registry.credentials import parse_user_password
from registry.conftest import write_sample
from registry.servers import Front, RegistryServer, free_port

TOKEN = "ghp_" + "Zq7" * 12
GOOD = 7  # images that must audit
INCLUDE = ("fleet/*",)


def _base(version: int) -> list[ib.Layer]:
    return [
        ib.Layer(
            [ib.Dir("etc"), ib.File("etc/os-release", 300 + version, seed=f"os{version}")],
            created_by=f"/bin/sh -c #(nop) ADD rootfs-{version}.tar /",
        ),
        ib.Layer(
            [ib.Dir("usr/lib"), ib.File("usr/lib/libc.so", 50_000, seed=f"libc{version}")],
            created_by="/bin/sh -c apt-get install -y libc",
        ),
    ]


def _app(name: str, tag: int, base: int) -> ib.BuiltImage:
    layers = _base(base)
    files: list[ib.Op] = [
        ib.Dir("app"),
        ib.File(f"app/{name}", 4_000 + tag, seed=f"{name}{tag}"),
        ib.File("opt/vendor/libv.so", 30_000, seed="vendored"),
    ]
    if name == "app-a":
        files.append(ib.File("tmp/cache.tar", 20_000, seed=f"cache{tag}"))
    layers.append(ib.Layer(files, created_by=f"/bin/sh -c #(nop) COPY {name} /app"))
    if name == "app-a":
        layers.append(ib.Layer([ib.Whiteout("tmp/cache.tar")], created_by="RUN rm /tmp/cache.tar"))
    if name == "app-b" and tag == 2:
        layers.append(
            ib.Layer(
                [ib.File("app/built", 10, seed="built")],
                created_by=f"|1 GITHUB_TOKEN={TOKEN} /bin/sh -c make",
            )
        )
    return ib.build_image(*layers, tags=(f"fleet/{name}:{tag}",))


IMAGES: dict[str, ib.BuiltImage] = {
    "fleet/base:1": ib.build_image(*_base(1), tags=("fleet/base:1",)),
    "fleet/base:2": ib.build_image(*_base(2), tags=("fleet/base:2",)),
    "fleet/app-a:1": _app("app-a", 1, 1),
    "fleet/app-a:2": _app("app-a", 2, 1),
    "fleet/app-a:3": _app("app-a", 3, 2),
    "fleet/app-b:1": _app("app-b", 1, 2),
    "fleet/app-b:2": _app("app-b", 2, 2),
    "fleet/broken:1": ib.build_image(
        *_base(2),
        ib.Layer([ib.File("app/broken", 9_000, seed="broken")], created_by="COPY broken /"),
        tags=("fleet/broken:1",),
    ),
}


@dataclass
class Fleet:
    front: Front
    registry: RegistryServer
    broken_blob: str

    @property
    def source(self) -> str:
        return f"docker://{self.front.host}"

    def blob_gets(self) -> collections.Counter[str]:
        return collections.Counter(
            seen.path.rsplit("/", 1)[1]
            for seen in self.front.seen
            if seen.method == "GET" and "/blobs/" in seen.path
        )


@pytest.fixture(scope="module")
def fleet(
    plain_registry: RegistryServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Fleet]:
    root = tmp_path_factory.mktemp("fleet")
    for name, image in IMAGES.items():
        sample = write_sample(
            root / name.replace("/", "_").replace(":", "-"), image, compression="gzip"
        )
        plain_registry.push(sample.oci, name)
    broken = IMAGES["fleet/broken:1"].layers[-1]
    digest = ib.sha256(broken.blob("gzip"))
    path = plain_registry.blob_file(digest)
    data = path.read_bytes()
    path.write_bytes(data[:20] + bytes(len(data) - 20))  # same size, wrong bytes
    front = Front(plain_registry)
    try:
        yield Fleet(front, plain_registry, digest)
    finally:
        front.close()


def _audit(
    fleet: Fleet, db: Path, *, scheduler: str | None = None, events: AuditEvents | None = None,
    include: tuple[str, ...] = INCLUDE,
) -> AuditSummary:  # fmt: skip
    options = AuditOptions(
        db=str(db), walk=WalkOptions(include=include), scheduler=scheduler, workers=2
    )
    return run_audit([fleet.source], options, events or AuditEvents())


@dataclass
class Run:
    db: Path
    summary: AuditSummary
    gets: collections.Counter[str]


@pytest.fixture(scope="module")
def local_run(fleet: Fleet, tmp_path_factory: pytest.TempPathFactory) -> Run:
    db = tmp_path_factory.mktemp("audit-local") / "audit.db"
    fleet.front.seen.clear()
    summary = _audit(fleet, db)
    return Run(db, summary, fleet.blob_gets())


# ------------------------------------------------------------------------ the Dask cluster
_LOGS: dict[str, Path] = {}


def dask_logs(address: str) -> str:
    """Everything the scheduler and the workers at `address` have logged so far."""
    return "".join(p.read_text(errors="replace") for p in sorted(_LOGS[address].glob("*.log")))


def _dask() -> str:
    path = Path(sys.executable).with_name("dask")
    if not path.exists():
        pytest.skip("the dask command is not installed (pip install 'inspector[audit]')")
    return str(path)


@pytest.fixture(scope="module")
def dask_scheduler(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A `dask scheduler` and two `dask worker` processes on 127.0.0.1, stopped at the end;
    their logs go to `<address's directory>/*.log` (see `dask_logs`)."""
    from dask.distributed import Client

    dask = _dask()
    logs = tmp_path_factory.mktemp("dask")
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    _LOGS[address] = logs
    processes: list[subprocess.Popen[bytes]] = []

    def start(name: str, *args: str) -> None:
        with open(logs / f"{name}.log", "wb") as log:
            processes.append(
                subprocess.Popen(
                    [dask, *args],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    cwd=logs,
                    start_new_session=True,
                )
            )

    try:
        start("scheduler", "scheduler", "--host", "127.0.0.1", "--port", str(port),
              "--no-dashboard", "--no-show")  # fmt: skip
        for n in (1, 2):
            start(f"worker{n}", "worker", address, "--host", "127.0.0.1", "--nthreads", "1",
                  "--nworkers", "1", "--no-dashboard", "--memory-limit", "1GiB",
                  "--local-directory", str(logs / f"w{n}"))  # fmt: skip
        deadline = time.monotonic() + 90
        while True:
            try:
                with Client(address, timeout=5) as client:  # type: ignore[no-untyped-call]
                    if len(client.scheduler_info()["workers"]) == 2:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                tails = "\n".join(p.read_text()[-1500:] for p in sorted(logs.glob("*.log")))
                raise RuntimeError(f"the Dask cluster did not start:\n{tails}")
            time.sleep(0.5)
        yield address
    finally:
        for process in reversed(processes):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)


# ------------------------------------------------------------------------------ contents
def contents(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows without run numbers, row ids or times, sorted."""
    with contextlib.closing(sqlite3.connect(db)) as conn:
        queries = {
            "images": "SELECT name, repository, tag, key, manifest_digest, config_digest, "
            "layer_count, stored_bytes, uncompressed_bytes, content_bytes, visible_bytes, "
            "wasted_bytes, wasted_files, efficiency, dive_efficiency, findings_bytes, "
            "findings, current FROM images",
            "layers": "SELECT diff_id, digest, compressed_size, uncompressed_size, compression, "
            "files, file_bytes FROM layers",
            "image_layers": "SELECT i.name, il.position, il.diff_id, il.chain_id, il.digest, "
            "il.size, il.uncompressed_size, il.command FROM image_layers il "
            "JOIN images i ON i.id = il.image",
            "files": "SELECT l.diff_id, f.path, f.size, f.digest FROM files f "
            "JOIN layers l ON l.id = f.layer",
            "findings": "SELECT i.name, f.rank, f.id, f.severity, f.bytes, f.evidence, f.paths, "
            "f.path_count, f.layers FROM findings f JOIN images i ON i.id = f.image",
            "failures": "SELECT name, stage, message FROM failures",
        }
        return {name: sorted(conn.execute(sql).fetchall()) for name, sql in queries.items()}


def _layer_digests(db: Path) -> set[str]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return {row[0] for row in conn.execute("SELECT DISTINCT digest FROM image_layers")}


# --------------------------------------------------------------------------------- tests
def test_a_local_audit_indexes_every_layer_blob_once(fleet: Fleet, local_run: Run) -> None:
    summary = local_run.summary
    assert summary.status == "done"
    assert summary.analysed == GOOD
    assert summary.failures == 1
    found = contents(local_run.db)
    names = {row[0].split("/", 1)[1] for row in found["images"]}
    assert names == set(IMAGES) - {"fleet/broken:1"}
    layers = {
        layer.diff_id: layer
        for name, image in IMAGES.items()
        if name != "fleet/broken:1"
        for layer in image.layers
    }
    assert {row[0] for row in found["layers"]} == set(layers)
    digests = _layer_digests(local_run.db)
    gets = local_run.gets
    layer_gets = {d: gets[d] for d in digests}
    assert len(layer_gets) == len(layers)
    assert set(layer_gets.values()) == {1}, layer_gets
    assert gets[fleet.broken_blob] >= 1
    # every regular file of every layer, once per layer
    files = collections.Counter(row[0] for row in found["files"])
    expected = {diff_id: _regular_files(layer.tar) for diff_id, layer in layers.items()}
    assert files == {diff_id: n for diff_id, n in expected.items() if n}


def _regular_files(tar: bytes) -> int:
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        return sum(
            1 for m in archive if m.isreg() and not m.name.rsplit("/", 1)[-1].startswith(".wh.")
        )


def test_the_numbers_are_the_pipelines_own(fleet: Fleet, local_run: Run) -> None:
    """The audit's per-image numbers equal `inspector IMAGE` on the same image."""
    name = "fleet/app-a:2"
    alone = pipeline.inspect(f"docker://{fleet.front.host}/{name}")
    with contextlib.closing(sqlite3.connect(local_run.db)) as conn:
        wasted, visible, findings = conn.execute(
            "SELECT wasted_bytes, visible_bytes, findings FROM images WHERE name = ?",
            (f"{fleet.front.host}/{name}",),
        ).fetchone()
    assert wasted == alone.analysis.exact.wasted_bytes > 0
    assert visible == alone.analysis.exact.visible_bytes
    assert findings == len(alone.findings)


def test_the_report_covers_the_fleet(fleet: Fleet, local_run: Run) -> None:
    store = AuditStore(str(local_run.db), create=False)
    try:
        report = build(store)
    finally:
        store.close()
    host = fleet.front.host
    assert report.totals.names == GOOD
    assert report.totals.repositories == 3
    assert report.totals.unique_bytes < report.totals.stored_bytes
    assert report.by_waste[0].names[0].startswith(f"{host}/fleet/app-a:")
    # the most shared stack: base 2's two layers under base:2, app-a:3, app-b:1 and app-b:2
    top = report.shared[0]
    assert (top.image_count, top.layers) == (4, 2)
    # app-a:1 and :2 are on base 1 while base 2 is in use
    stale = {(s.image, s.newest) for s in report.stale_bases}
    assert stale == {
        (f"{host}/fleet/app-a:1", f"{host}/fleet/base:2"),
        (f"{host}/fleet/app-a:2", f"{host}/fleet/base:2"),
    }
    vendored = next(d for d in report.duplicates if d.paths == ("opt/vendor/libv.so",))
    assert vendored.layers == 5
    assert vendored.saved_bytes == 4 * 30_000
    steps = {(t.repository, t.before, t.after): t for t in report.tags}
    assert steps["fleet/app-a", "2", "3"].diverges_at == 0  # a new base
    assert steps["fleet/app-a", "1", "2"].diverges_at == 2  # same base, new app layer
    assert {(s.names, s.id) for s in report.secrets} == {
        ((f"{host}/fleet/app-b:2",), "secret-in-image")
    }
    assert [f.name for f in report.failures] == [f"{host}/fleet/broken:1"]
    assert "digest" in report.failures[0].message


def test_secret_values_are_never_stored_or_shown(local_run: Run) -> None:
    raw = b"".join(p.read_bytes() for p in local_run.db.parent.iterdir() if p.is_file())
    assert TOKEN.encode() not in raw
    store = AuditStore(str(local_run.db), create=False)
    try:
        report = build(store)
    finally:
        store.close()
    for fmt in render.FORMATS:
        text = render.render(report, fmt)
        assert "secret-in-image" in text
        assert TOKEN not in text
        assert "github-token" in text


def test_a_dask_cluster_writes_the_same_database(
    fleet: Fleet, local_run: Run, dask_scheduler: str, tmp_path: Path
) -> None:
    fleet.front.seen.clear()
    summary = _audit(fleet, tmp_path / "audit.db", scheduler=dask_scheduler)
    assert summary.analysed == GOOD
    assert len(summary.worker_peak_rss) == 2
    assert contents(tmp_path / "audit.db") == contents(local_run.db)
    gets = fleet.blob_gets()
    layer_gets = {d: gets[d] for d in _layer_digests(tmp_path / "audit.db")}
    assert set(layer_gets.values()) == {1}, layer_gets


def test_a_second_audit_reads_nothing_new(fleet: Fleet, local_run: Run, tmp_path: Path) -> None:
    db = tmp_path / "audit.db"
    shutil.copy(local_run.db, db)
    fleet.front.seen.clear()
    summary = _audit(fleet, db)
    assert (summary.analysed, summary.unchanged) == (0, GOOD)
    assert summary.layers_indexed == 0
    gets = fleet.blob_gets()
    # only the image that failed is read again: its config, and its damaged layer
    assert set(gets) == {fleet.broken_blob, IMAGES["fleet/broken:1"].config_digest}
    assert contents(db)["images"] == contents(local_run.db)["images"]


class _Interrupt(AuditEvents):
    def __init__(self, after: int) -> None:
        self.after = after
        self.done = 0

    def image_done(self, name: str) -> None:
        self.done += 1
        if self.done == self.after:
            raise KeyboardInterrupt


def test_an_interrupted_audit_resumes(fleet: Fleet, local_run: Run, tmp_path: Path) -> None:
    db = tmp_path / "audit.db"
    fleet.front.seen.clear()
    with pytest.raises(KeyboardInterrupt):
        _audit(fleet, db, events=_Interrupt(after=3))
    first = fleet.blob_gets()
    with contextlib.closing(sqlite3.connect(db)) as conn:
        status = conn.execute("SELECT status FROM runs").fetchone()[0]
        kept = {row[0] for row in conn.execute("SELECT digest FROM layers")}
        images = conn.execute("SELECT COUNT(*) FROM images").fetchone()[0]
    assert status == "interrupted"
    assert images == 3
    fleet.front.seen.clear()
    summary = _audit(fleet, db)
    assert (summary.analysed, summary.unchanged) == (GOOD - 3, 3)
    again = fleet.blob_gets()
    assert not kept & set(again), "a layer stored before the interruption was fetched again"
    assert set(first) | set(again) >= _layer_digests(db)
    assert contents(db)["images"] == contents(local_run.db)["images"]


def test_the_command_writes_the_report(fleet: Fleet, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    done = services.run_cli(
        "audit", fleet.source, "--include", "fleet/app-*", "--max-tags", "1",
        "--db", tmp_path / "audit.db", "--workers", "1", "--json", "-o", out,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    doc = json.loads(out.read_text())
    names = sorted(name for image in doc["byWaste"] for name in image["names"])
    assert names == [f"{fleet.front.host}/fleet/app-a:3"]  # app-b stores no waste
    assert doc["totals"]["names"] == 2  # app-a:3 and app-b:2, the newest tags
    assert "audit run 1: 2 images analysed" in done.stderr
    shown = services.run_cli("audit", "show", "--db", tmp_path / "audit.db", "--markdown")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("## Fleet audit: 2 images")
    assert TOKEN not in shown.stdout


def test_credentials_reach_the_workers_unlogged(
    basic_registry: RegistryServer,
    dask_scheduler: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A registry behind Basic auth, audited on the cluster with --creds: the workers fetch
    the blobs themselves, and the password is in no log, key or database."""
    sample = write_sample(tmp_path / "image", IMAGES["fleet/app-a:1"], compression="gzip")
    basic_registry.push(sample.oci, "private/app:1")
    assert basic_registry.creds is not None
    password = basic_registry.creds.split(":", 1)[1]
    options = AuditOptions(
        db=str(tmp_path / "audit.db"),
        walk=WalkOptions(include=("private/*",), creds=basic_registry.creds),
        scheduler=dask_scheduler,
    )
    summary = run_audit([f"docker://{basic_registry.host}"], options, AuditEvents())
    assert (summary.analysed, summary.failures) == (1, 0)
    assert summary.layers_indexed == len(IMAGES["fleet/app-a:1"].layers)
    time.sleep(1)  # (the workers' log lines are written as they come)
    logs = dask_logs(dask_scheduler)
    assert "Register worker" in logs  # (the scheduler's log is there to search)
    assert password not in logs
    assert password.encode() not in (tmp_path / "audit.db").read_bytes()
    job = LayerJob(
        Fetch("reg", True, parse_user_password(basic_registry.creds, "--creds")),
        "private/app", "sha256:" + "0" * 64, "sha256:" + "1" * 64, 1,
    )  # fmt: skip
    assert password not in repr(job)
    assert password not in job.key
