"""Benchmark `inspector audit` on a fleet pushed to a loopback registry.

The fleet (built byte-exactly with tests/imagebuilder.py, pushed with skopeo to Debian's
`docker-registry` on 127.0.0.1): `--bases` base images of two layers (a few hundred small
files), `--apps` applications with `--tags` tags each; an app's tags 1-2 share one
dependencies layer and later tags another, every tag adds an app layer, and every
dependencies layer vendors the same 200 kB library (duplicate content). With the
defaults: 4 bases + 50 apps × 4 tags = 204 images.

Requests go through a recording proxy (tests/registry/servers.py `Front`), which counts
the blob GETs of each run. Each audit runs in a child process (`--child`), whose wall
time, peak RSS (the coordinator) and the workers' peak RSS (from the workers themselves)
are kept:

1. cold, local worker processes (`LocalCluster`, `--workers`, default 2);
2. the same database again, nothing changed (every tag answered by one HEAD);
3. incremental: `--new` apps get a new tag (a new app layer), audited into the same db;
4. cold on a Dask cluster: a `dask scheduler` and two `dask worker` processes started
   here on 127.0.0.1, a new database.

    .venv/bin/python benchmarks/audit_fleet.py               # 204 images
    .venv/bin/python benchmarks/audit_fleet.py --apps 10      # a quick run

Prints a summary and writes `benchmarks/results/audit-fleet-summary.md` and
`audit-fleet-latest.json`. Needs docker-registry and skopeo (Debian packages) and
`dask[distributed]`.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests"))

import imagebuilder as ib  # noqa: E402  (from tests/, put on sys.path above)
from registry.servers import Front, RegistryServer, free_port  # noqa: E402

RESULTS = HERE / "results"
MIB = 1 << 20


# --------------------------------------------------------------------------- the fleet
def _files(prefix: str, count: int, size: int, seed: str) -> list[ib.Op]:
    return [
        ib.File(f"{prefix}/f{i:04d}", size + (i * 37) % size, seed=f"{seed}{i}")
        for i in range(count)
    ]


def base_layers(n: int) -> list[ib.Layer]:
    return [
        ib.Layer([ib.Dir("usr/lib"), *_files("usr/lib", 400, 1500, f"os{n}")], f"ADD rootfs{n} /"),
        ib.Layer(_files("usr/share", 200, 2500, f"pkgs{n}"), f"RUN apt-get install pkgs{n}"),
    ]


def app_image(app: int, tag: int, bases: int) -> ib.BuiltImage:
    deps = 1 if tag <= 2 else 2
    layers = base_layers(app % bases)
    layers.append(
        ib.Layer(
            [
                *_files(f"app/node_modules{deps}", 120, 1200, f"deps{app}-{deps}"),
                ib.File("app/vendor/libvendored.so", 200_000, seed="vendored"),
            ],
            f"RUN npm ci  # deps {deps}",
        )
    )
    layers.append(
        ib.Layer(_files("app/src", 60, 900, f"src{app}-{tag}"), f"COPY . /app  # tag {tag}")
    )
    return ib.build_image(*layers, tags=(f"bench/app{app:03d}:{tag}",))


def push_all(registry: RegistryServer, images: dict[str, ib.BuiltImage], work: Path) -> None:
    def push(item: tuple[str, ib.BuiltImage]) -> None:
        name, image = item
        layout = ib.write_tree(
            work / name.replace("/", "_").replace(":", "-"),
            ib.oci_layout(image, compression="gzip", ref_names="none"),
        )
        for attempt in range(3):  # the registry answers a concurrent push with a 500 now and then
            try:
                registry.push(f"oci:{layout}", name)
                break
            except RuntimeError:
                if attempt == 2:
                    raise
                time.sleep(1)
        shutil.rmtree(layout)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(push, images.items()))


# --------------------------------------------------------------------------- children
def child(args: argparse.Namespace) -> int:
    """One audit in this process; a JSON line with its summary on stdout."""
    from inspector.audit.runner import AuditEvents, AuditOptions, peak_rss, run_audit
    from inspector.audit.sources import WalkOptions

    options = AuditOptions(
        db=args.db,
        walk=WalkOptions(include=("bench/*",)),
        scheduler=args.scheduler,
        workers=args.workers,
    )
    summary = run_audit([args.source], options, AuditEvents())
    doc = {
        "analysed": summary.analysed,
        "unchanged": summary.unchanged,
        "layers_indexed": summary.layers_indexed,
        "layers_reused": summary.layers_reused,
        "fetched_bytes": summary.fetched_bytes,
        "failures": summary.failures,
        "seconds": summary.seconds,
        "workers": dict(summary.worker_peak_rss),
        "coordinator_rss": peak_rss(),  # VmHWM: ru_maxrss would carry this script's
    }
    print(json.dumps(doc))
    return 0


def run_child(source: str, db: Path, workers: int, scheduler: str | None) -> dict[str, Any]:
    argv = [sys.executable, __file__, "--child", "--db", str(db), "--source", source,
            "--workers", str(workers)]  # fmt: skip
    if scheduler:
        argv += ["--scheduler", scheduler]
    started = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = process.communicate(timeout=3600)
    wall = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"audit child failed:\n{err.decode()[-3000:]}")
    doc: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    doc["wall"] = wall
    return doc


@contextlib.contextmanager
def dask_cluster(logs: Path) -> Iterator[str]:
    dask = str(Path(sys.executable).with_name("dask"))
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    processes: list[subprocess.Popen[bytes]] = []

    def start(name: str, *args: str) -> None:
        with open(logs / f"{name}.log", "wb") as log:
            processes.append(
                subprocess.Popen([dask, *args], stdout=log, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, cwd=logs, start_new_session=True)
            )  # fmt: skip

    try:
        start("scheduler", "scheduler", "--host", "127.0.0.1", "--port", str(port),
              "--no-dashboard", "--no-show")  # fmt: skip
        for n in (1, 2):
            start(f"worker{n}", "worker", address, "--host", "127.0.0.1", "--nthreads", "1",
                  "--nworkers", "1", "--no-dashboard",
                  "--local-directory", str(logs / f"w{n}"))  # fmt: skip
        from dask.distributed import Client

        deadline = time.monotonic() + 90
        while True:
            with (
                contextlib.suppress(OSError),
                Client(address, timeout=5) as client,  # type: ignore[no-untyped-call]
            ):
                if len(client.scheduler_info()["workers"]) == 2:
                    break
            if time.monotonic() > deadline:
                raise SystemExit("the Dask cluster did not start")
            time.sleep(0.5)
        yield address
    finally:
        for process in processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)


def blob_counts(front: Front, layer_digests: set[str]) -> dict[str, int]:
    gets = collections.Counter(
        s.path.rsplit("/", 1)[1] for s in front.seen if s.method == "GET" and "/blobs/" in s.path
    )
    layers = {d: n for d, n in gets.items() if d in layer_digests}
    return {
        "layer_gets": sum(layers.values()),
        "distinct_layers_fetched": len(layers),
        "max_gets_per_layer": max(layers.values(), default=0),
        "other_blob_gets": sum(n for d, n in gets.items() if d not in layer_digests),
    }


# --------------------------------------------------------------------------------- main
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bases", type=int, default=4)
    parser.add_argument("--apps", type=int, default=50)
    parser.add_argument("--tags", type=int, default=4)
    parser.add_argument("--new", type=int, default=20, help="apps that get a new tag")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--source", help=argparse.SUPPRESS)
    parser.add_argument("--scheduler", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args)

    work = Path(tempfile.mkdtemp(prefix="audit-fleet-"))
    registry = RegistryServer(work / "registry").start()
    front = Front(registry)
    try:
        images = {f"bench/base{b}:1": ib.build_image(*base_layers(b), tags=(f"bench/base{b}:1",))
                  for b in range(args.bases)}  # fmt: skip
        for app in range(args.apps):
            for tag in range(1, args.tags + 1):
                images[f"bench/app{app:03d}:{tag}"] = app_image(app, tag, args.bases)
        started = time.perf_counter()
        push_all(registry, images, work / "layouts")
        pushed = time.perf_counter() - started
        print(f"pushed {len(images)} images in {pushed:.0f} s", flush=True)

        def digests(built: dict[str, ib.BuiltImage]) -> set[str]:
            return {ib.sha256(layer.blob("gzip")) for i in built.values() for layer in i.layers}

        layer_digests = digests(images)
        source = f"docker://{front.host}"
        rows: list[dict[str, Any]] = []

        def measure(name: str, db: Path, scheduler: str | None = None) -> None:
            front.seen.clear()
            doc = run_child(source, db, args.workers, scheduler)
            doc.update(blob_counts(front, layer_digests))
            doc["mode"] = name
            rows.append(doc)
            print(json.dumps(doc), flush=True)

        local_db = work / "local.db"
        measure("cold, local workers", local_db)
        measure("again, nothing new", local_db)
        new = {f"bench/app{app:03d}:{args.tags + 1}": app_image(app, args.tags + 1, args.bases)
               for app in range(args.new)}  # fmt: skip
        push_all(registry, new, work / "layouts-new")
        layer_digests |= digests(new)
        measure(f"incremental, {len(new)} new tags", local_db)
        with dask_cluster(work) as address:
            measure("cold, Dask cluster (2 workers)", work / "dask.db", address)
        text = render(rows, len(images), len(layer_digests), args)
        print(text)
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / ".gitignore").write_text("*\n")
        (RESULTS / "audit-fleet-summary.md").write_text(text)
        (RESULTS / "audit-fleet-latest.json").write_text(json.dumps(rows, indent=2))
    finally:
        front.close()
        registry.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


def render(rows: list[dict[str, Any]], images: int, layers: int, args: argparse.Namespace) -> str:
    lines = [
        f"{platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{time.strftime('%Y-%m-%d')}; fleet: {images} images "
        f"({args.bases} bases, {args.apps} apps × {args.tags} tags), then {args.new} new tags",
        "",
        "| run | images analysed | layers indexed | wall s | s / image | s / layer | "
        "layer blob GETs (distinct, max per blob) | other blob GETs | worker peak RSS MiB | "
        "coordinator peak RSS MiB |",
        "|---|---:|---:|---:|---:|---:|---|---:|---|---:|",
    ]
    for r in rows:
        per_image = r["wall"] / r["analysed"] if r["analysed"] else 0.0
        per_layer = r["wall"] / r["layers_indexed"] if r["layers_indexed"] else 0.0
        workers = ", ".join(f"{v / MIB:.0f}" for v in r["workers"].values()) or "-"
        lines.append(
            f"| {r['mode']} | {r['analysed']} | {r['layers_indexed']} | {r['wall']:.1f} | "
            f"{per_image:.3f} | {per_layer:.3f} | {r['layer_gets']} "
            f"({r['distinct_layers_fetched']}, {r['max_gets_per_layer']}) | "
            f"{r['other_blob_gets']} | {workers} | {r['coordinator_rss'] / MIB:.0f} |"
        )
    lines.append(f"\n{layers} distinct layer blobs in the registry at the end.")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
