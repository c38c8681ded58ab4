"""SQLite against DuckDB for the audit's file table: insert a few million rows, then run the
report's GROUP BY queries.

The table is the audit's `files` table (layer, path, size, content digest). The rows are
made to look like a fleet: `--layers` layers of `--files-per-layer` files each, where a
`--dup` share of the files carries content that also sits in other layers (the same
library vendored into many apps), so the duplicate-content query has real groups.

Each engine gets a fresh database file and the same rows, inserted the way the audit
inserts them (batches of `--batch` rows through the driver's `executemany` in one
transaction per layer). Then each query runs `--reps` times (median kept):

* duplicate content: content digests stored in more than one layer, with the bytes a
  dedup would save, the 50 largest;
* files per layer: count and bytes per layer (the layers table's totals);
* largest files: the 50 biggest files of the fleet.

    .venv/bin/python benchmarks/audit_db.py                   # 3,000,000 rows
    .venv/bin/python benchmarks/audit_db.py --layers 2000 --files-per-layer 2500

DuckDB is optional (`pip install duckdb`); without it only SQLite runs. The summary is
printed and written to `benchmarks/results/audit-db-summary.md`.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"

SCHEMA = "CREATE TABLE files (layer INTEGER, path TEXT, size BIGINT, digest BIGINT)"
QUERIES = {
    "duplicate content": """
        SELECT digest, size, COUNT(DISTINCT layer) AS layers, (COUNT(DISTINCT layer) - 1) * size
        FROM files WHERE size > 0
        GROUP BY digest, size HAVING COUNT(DISTINCT layer) > 1
        ORDER BY 4 DESC LIMIT 50""",
    "files per layer": "SELECT layer, COUNT(*), SUM(size) FROM files GROUP BY layer",
    "largest files": "SELECT layer, path, size FROM files ORDER BY size DESC LIMIT 50",
}

Row = tuple[int, str, int, int]


def rows(layers: int, per_layer: int, dup: float, seed: int) -> Iterator[list[Row]]:
    """Each layer's rows; a `dup` share of the digests come from a shared pool."""
    rng = random.Random(seed)
    pool = [(rng.getrandbits(63), int(rng.lognormvariate(8, 2))) for _ in range(20_000)]
    for layer in range(layers):
        batch: list[Row] = []
        for n in range(per_layer):
            if rng.random() < dup:
                digest, size = pool[rng.randrange(len(pool))]
            else:
                digest, size = rng.getrandbits(63), int(rng.lognormvariate(8, 2))
            batch.append((layer, f"usr/lib/pkg{n % 97}/file{n}.so", size, digest))
        yield batch


class Engine:
    name = ""

    def __init__(self, path: str) -> None:
        self.path = path

    def insert(self, batch: Sequence[Row]) -> None:
        raise NotImplementedError

    def query(self, sql: str) -> list[Any]:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class Sqlite(Engine):
    name = "SQLite " + sqlite3.sqlite_version

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.db = sqlite3.connect(path)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute(SCHEMA)

    def insert(self, batch: Sequence[Row]) -> None:
        with self.db:
            self.db.executemany("INSERT INTO files VALUES (?, ?, ?, ?)", batch)

    def query(self, sql: str) -> list[Any]:
        rows: list[Any] = self.db.execute(sql).fetchall()
        return rows

    def close(self) -> None:
        self.db.close()


class Duck(Engine):
    def __init__(self, path: str) -> None:
        import duckdb

        super().__init__(path)
        self.name = "DuckDB " + duckdb.__version__
        self.db = duckdb.connect(path)
        self.db.execute(SCHEMA)

    def insert(self, batch: Sequence[Row]) -> None:
        self.db.execute("BEGIN")
        self.db.executemany("INSERT INTO files VALUES (?, ?, ?, ?)", batch)
        self.db.execute("COMMIT")

    def query(self, sql: str) -> list[Any]:
        rows: list[Any] = self.db.execute(sql).fetchall()
        return rows

    def close(self) -> None:
        self.db.close()


class DuckColumns(Duck):
    """DuckDB fed column lists through a relation (no per-row driver call)."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.name += " (columns)"

    def insert(self, batch: Sequence[Row]) -> None:
        layer, path, size, digest = (list(c) for c in zip(*batch, strict=True))
        self.db.execute(
            "INSERT INTO files SELECT * FROM (SELECT UNNEST($1), UNNEST($2), UNNEST($3), "
            "UNNEST($4))",
            [layer, path, size, digest],
        )

    def close(self) -> None:
        self.db.close()


def measure(
    make: Callable[[str], Engine], args: argparse.Namespace, directory: str
) -> dict[str, Any]:
    path = os.path.join(directory, f"{make.__name__}.db")
    engine = make(path)
    started = time.perf_counter()
    count = 0
    for batch in rows(args.layers, args.files_per_layer, args.dup, args.seed):
        for start in range(0, len(batch), args.batch):
            engine.insert(batch[start : start + args.batch])
        count += len(batch)
    inserted = time.perf_counter() - started
    timings: dict[str, float] = {}
    for name, sql in QUERIES.items():
        samples = []
        for _ in range(args.reps):
            begin = time.perf_counter()
            engine.query(sql)
            samples.append(time.perf_counter() - begin)
        timings[name] = statistics.median(samples)
    engine.close()
    size = sum(
        os.path.getsize(os.path.join(directory, f))
        for f in os.listdir(directory)
        if f.startswith(make.__name__)
    )
    return {"engine": engine.name, "rows": count, "insert": inserted, "size": size, **timings}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layers", type=int, default=1200)
    parser.add_argument("--files-per-layer", type=int, default=2500)
    parser.add_argument("--dup", type=float, default=0.3)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--engines", default="sqlite,duckdb,duckdb-columns")
    args = parser.parse_args(argv)
    makers: dict[str, Callable[[str], Engine]] = {
        "sqlite": Sqlite,
        "duckdb": Duck,
        "duckdb-columns": DuckColumns,
    }
    results = []
    for name in args.engines.split(","):
        if name.startswith("duckdb"):
            try:
                import duckdb  # noqa: F401
            except ImportError:
                print(f"{name}: duckdb is not installed, skipped")
                continue
        with tempfile.TemporaryDirectory(prefix="audit-db-") as directory:
            print(f"{name}: inserting {args.layers * args.files_per_layer:,} rows…", flush=True)
            results.append(measure(makers[name], args, directory))
    lines = [
        f"{platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{time.strftime('%Y-%m-%d')}",
        "",
        "| engine | rows | insert s | rows/s | file MB | "
        + " | ".join(f"{q} s" for q in QUERIES)
        + " |",
        "|---|---:|---:|---:|---:|" + "---:|" * len(QUERIES),
    ]
    for r in results:
        lines.append(
            f"| {r['engine']} | {r['rows']:,} | {r['insert']:.1f} | "
            f"{r['rows'] / r['insert']:,.0f} | {r['size'] / 1e6:.0f} | "
            + " | ".join(f"{r[q]:.2f}" for q in QUERIES)
            + " |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / ".gitignore").write_text("*\n")
    (RESULTS / "audit-db-summary.md").write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
