"""Benchmark `inspector diff` on two large images that share a base.

The images are the benchmark image (`make_image.py --files N`: base, upgrade, cleanup) and
its sibling (`--top-files K`: the same base and upgrade layers, then K new files instead
of the cleanup), both `docker save` archives. Per repetition, alternating the order:

* `inspector diff BASE SIBLING --json OUT` with an empty layer cache (cold) and with the
  cache filled by an untimed run before (warm);
* two separate runs, `inspector BASE --text` then `inspector SIBLING --text`, the way one
  would compare two reports, cold (empty cache before the first) and warm;
* container-diff-style full extraction: the outer archives and then every layer tar of
  both images unpacked to disk with GNU tar (whiteouts not even applied: a lower bound of
  what a tool that compares extracted file systems pays before comparing anything).

    /tmp/venv/bin/python benchmarks/diff.py                   # 100,000 files, K=1000
    /tmp/venv/bin/python benchmarks/diff.py --files 20000 --reps 1
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import make_image
import run as bench_run

HERE = Path(__file__).resolve().parent
DEFAULT_RESULTS = HERE / "results"

LAYERS = 'import json, sys; print(" ".join(json.load(open(sys.argv[1]))[0]["Layers"]))'
EXTRACT = r"""
set -eu
out=$1; shift
for archive in "$@"; do
    name=$(basename "$archive" .tar)
    outer="$out/$name.outer"; root="$out/$name.rootfs"
    mkdir -p "$outer" "$root"
    tar -xf "$archive" -C "$outer"
    layers=$(python3 -c "$LAYERS" "$outer/manifest.json")
    for layer in $layers; do
        tar -xf "$outer/$layer" -C "$root"
    done
done
"""


class Runner:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.results: Path = args.results_dir.resolve()
        self.work: Path = args.cache_dir.resolve() / "diff-bench"
        (self.results / "logs").mkdir(parents=True, exist_ok=True)
        (self.results / "out").mkdir(exist_ok=True)
        self.inspector: str = args.inspector or bench_run._tool_path("inspector") or "inspector"
        self.rows: list[dict[str, Any]] = []

    def env(self, cache: Path) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("CI", None)
        env["INSPECTOR_CACHE_DIR"] = str(cache)
        return env

    def measure(self, label: str, argv: list[str], cache: Path) -> float:
        if self.args.quiet > 0:
            bench_run.wait_for_quiet(self.args.quiet, self.args.quiet_wait)
        slug = "".join(c if c.isalnum() else "-" for c in label)[:60]
        log = self.results / "logs" / f"diff-{slug}.log"
        u = bench_run.measure(argv, self.env(cache), log, self.args.timeout, HERE.parent)
        if u.exit_code != 0:
            raise SystemExit(f"{' '.join(argv)} failed ({u.exit_code}):\n{log.read_text()}")
        self.rows.append(
            {"label": label, "wall": u.wall, "cpu": u.cpu, "rss_kib": u.max_rss_kib,
             "others": u.others_cores}
        )  # fmt: skip
        print(
            f"  {label:<44} {u.wall:7.3f} s {u.max_rss_kib / 1024:7.1f} MiB "
            f"cpu {u.cpu:6.2f} s others {u.others_cores:.2f}",
            flush=True,
        )
        return u.wall

    def fresh(self, name: str) -> Path:
        path = self.work / name
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
        return path

    def diff(self, label: str, old: Path, new: Path, cache: Path) -> None:
        out = self.results / "out" / "diff.json"
        self.measure(label, [self.inspector, "diff", str(old), str(new), "--json", str(out)], cache)

    def two_runs(self, label: str, old: Path, new: Path, cache: Path) -> None:
        first = self.measure(f"{label}: OLD", [self.inspector, str(old), "--text"], cache)
        second = self.measure(f"{label}: NEW", [self.inspector, str(new), "--text"], cache)
        self.rows.append({"label": label, "wall": first + second, "cpu": 0.0, "rss_kib": 0})

    def extract(self, old: Path, new: Path) -> None:
        target = self.fresh("extract")
        argv = ["env", f"LAYERS={LAYERS}", "sh", "-c", EXTRACT, "extract"]
        argv += [str(target), str(old), str(new)]
        self.measure("full extraction of both (GNU tar)", argv, self.work)
        shutil.rmtree(target, ignore_errors=True)


def _med(rows: list[dict[str, Any]], label: str, key: str = "wall") -> str:
    values = [r[key] for r in rows if r["label"] == label]
    if not values or (key != "wall" and not any(values)):
        return "-"
    if key == "rss_kib":
        return f"{statistics.median(values) / 1024:.0f}"
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Time inspector diff on two large images.")
    parser.add_argument("--files", type=int, default=make_image.DEFAULT_FILES)
    parser.add_argument("--seed", type=int, default=make_image.DEFAULT_SEED)
    parser.add_argument("--top", type=int, default=1000, metavar="K")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=1800.0)
    parser.add_argument("--quiet", type=float, default=0.5, metavar="CORES")
    parser.add_argument("--quiet-wait", type=float, default=60.0, metavar="SECONDS")
    parser.add_argument("--cache-dir", type=Path, default=make_image.DEFAULT_CACHE)
    parser.add_argument("--results-dir", type=Path, default=DEFAULT_RESULTS)
    parser.add_argument("--inspector", help="the inspector console script")
    args = parser.parse_args(argv)
    r = Runner(args)

    def image_for(top: int) -> Path:
        params = make_image.Params(args.files, args.seed, "legacy", top_files=top)
        path = make_image.default_path(params, args.cache_dir)
        return make_image.ensure(args.files, args.seed, {"legacy": path}, top_files=top)["legacy"]

    old, new = image_for(0), image_for(args.top)
    for path in (old, new):
        bench_run._warm_page_cache(path)
    for rep in range(args.reps):
        steps = ["diff", "two", "extract"]
        for step in steps if rep % 2 == 0 else reversed(steps):
            if step == "diff":
                r.diff("diff: cold", old, new, r.fresh("cache"))
                r.diff("diff: warm", old, new, r.work / "cache")
            elif step == "two":
                r.two_runs("two inspector runs: cold", old, new, r.fresh("cache"))
                r.two_runs("two inspector runs: warm", old, new, r.work / "cache")
            else:
                r.extract(old, new)
    shutil.rmtree(r.work, ignore_errors=True)

    out = io.StringIO()
    out.write(
        f"Commit {bench_run._output(['git', '-C', str(HERE.parent), 'describe', '--always'])}, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, Python {sys.version.split()[0]}"
        f"\nOLD {old.name} ({old.stat().st_size / 1e6:.0f} MB), NEW {new.name} "
        f"({new.stat().st_size / 1e6:.0f} MB); {args.reps} repetitions; median (min-max)\n\n"
    )
    out.write("| run | wall s | peak RSS MiB | CPU s |\n|---|---:|---:|---:|\n")
    seen: list[str] = []
    for row in r.rows:
        if row["label"] not in seen:
            seen.append(row["label"])
    for label in seen:
        out.write(
            f"| {label} | {_med(r.rows, label)} | {_med(r.rows, label, 'rss_kib')} "
            f"| {_med(r.rows, label, 'cpu')} |\n"
        )
    others = [row["others"] for row in r.rows if "others" in row]
    out.write(
        f"\nOthers' load (cores): median {statistics.median(others):.2f}, max {max(others):.2f}\n"
    )
    report = out.getvalue()
    print()
    print(report)
    (r.results / "diff-summary.md").write_text(report)
    (r.results / "diff-latest.json").write_text(json.dumps(r.rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
