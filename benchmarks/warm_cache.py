"""Benchmark the layer index cache: the same image again, and a sibling sharing its base.

Targets (from the issue): with the cache warm, the 100,000-file image is ready in under
0.5 s; an image that shares its base is ready in time proportional to its new layers only.

With `INSPECTOR_CACHE_DIR` set to a fresh directory:

1. `inspector IMAGE --json OUT` with the cache empty (cold; it fills the cache);
2. `--reps` times, alternating the order: `inspector IMAGE --json OUT`,
   `inspector IMAGE --json OUT --no-file-lists`, `inspector IMAGE --text`, and a "phases"
   child that runs the CLI's steps in-process, as the CLI does (layer and result caches),
   and times each one (imports, load = cache look-ups, analyse = analysis and dive
   numbers, render = the JSON text, write): "ready" is the time until the analysis and
   dive numbers exist, i.e. what a UI or `--ci` needs;
3. for each sibling (`make_image.py --top-files K`: the same base and upgrade layers, then
   K new files instead of the cleanup layer), with a copy of the warm cache each time:
   `inspector SIBLING --json OUT` and the phases child, plus one cold run for reference;
   then each sibling again after the other sibling ran on that copy of the cache (the
   first sibling of an image stores the analysis state of the shared prefix, later ones
   resume from it: see inspector/results.py);
4. one more warm `--json` run under cProfile (top functions by own and cumulative time).

    /tmp/venv/bin/python benchmarks/warm_cache.py                 # siblings K=1000, 10000
    /tmp/venv/bin/python benchmarks/warm_cache.py --reps 3 --top 1000
"""

from __future__ import annotations

import argparse
import io
import json
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import make_image
import run as bench_run

HERE = Path(__file__).resolve().parent
DEFAULT_RESULTS = HERE / "results"
TARGET_READY_S = 0.5
PROFILE_LINES = 30

PHASES = r"""
import json, sys, time
t0 = time.perf_counter()
from inspector import report
from inspector import pipeline
from inspector.cache import LayerCache
from inspector import output
from inspector.results import file_list_chunks
from inspector.source import LoadEvents
marks = {"imports": time.perf_counter()}
image, out, result = sys.argv[1:4]
cache = LayerCache.default()
options = pipeline.InspectOptions()
loaded = pipeline.load(image, options, LoadEvents(), cache)
marks["load"] = time.perf_counter()
found = pipeline.analyse(loaded, cache)
marks["analyse"] = time.perf_counter()
data = b"".join(report.render_chunks(found.analysis, found.dive, loaded.layers, (),
                                     shared=found.sharing, file_lists=True,
                                     file_list_chunks=lambda index: file_list_chunks(index, cache)))
marks["render"] = time.perf_counter()
output.write_chunks(out, [data], "--json")
marks["write"] = time.perf_counter()
with open(result, "w") as handle:
    json.dump({k: v - t0 for k, v in marks.items()}, handle)
"""
PHASE_NAMES = ("imports", "load", "analyse", "render", "write")


def _fresh(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def _du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


class Runner:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.results: Path = args.results_dir.resolve()
        self.work: Path = args.cache_dir.resolve() / "warm-cache-bench"
        (self.results / "logs").mkdir(parents=True, exist_ok=True)
        (self.results / "out").mkdir(exist_ok=True)
        self.inspector: str = args.inspector or bench_run._tool_path("inspector") or "inspector"
        self.python = bench_run._interpreter_of(self.inspector)
        self.rows: list[dict[str, Any]] = []

    def env(self, cache: Path) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("CI", None)
        env["INSPECTOR_CACHE_DIR"] = str(cache)
        return env

    def measure(self, label: str, argv: list[str], cache: Path, **extra: Any) -> dict[str, Any]:
        if self.args.quiet > 0:
            bench_run.wait_for_quiet(self.args.quiet, self.args.quiet_wait)
        slug = "".join(c if c.isalnum() else "-" for c in label)[:60]
        log = self.results / "logs" / f"warm-{slug}.log"
        u = bench_run.measure(argv, self.env(cache), log, self.args.timeout, HERE.parent)
        if u.exit_code != 0:
            raise SystemExit(f"{' '.join(argv)} failed ({u.exit_code}):\n{log.read_text()}")
        row = {"label": label, "wall": u.wall, "cpu": u.cpu, "rss_kib": u.max_rss_kib}
        row |= {"others": u.others_cores, **extra}
        self.rows.append(row)
        print(
            f"  {label:<52} {u.wall:7.3f} s {u.max_rss_kib / 1024:7.1f} MiB "
            f"cpu {u.cpu:6.2f} s others {u.others_cores:.2f}",
            flush=True,
        )
        return row

    def inspector_run(self, label: str, image: Path, cache: Path, *flags: str) -> dict[str, Any]:
        out = self.results / "out" / "warm-cache.json"
        argv = [self.inspector, str(image)]
        argv += ["--text"] if "--text" in flags else ["--json", str(out)]
        argv += [f for f in flags if f != "--text"]
        return self.measure(label, argv, cache)

    def phases_run(self, label: str, image: Path, cache: Path) -> dict[str, Any]:
        out = self.results / "out" / "warm-cache-phases.json"
        result = self.results / "out" / "warm-cache-phases-times.json"
        argv = [self.python, "-c", PHASES, str(image), str(out), str(result)]
        row = self.measure(label, argv, cache)
        row["phases"] = json.loads(result.read_text())
        return row

    def profile(self, image: Path, cache: Path) -> str:
        raw = self.results / "warm-cache.pstats"
        out = self.results / "out" / "warm-cache-profile.json"
        argv = [self.python, "-m", "cProfile", "-o", str(raw), "-m", "inspector"]
        argv += [str(image), "--json", str(out)]
        row = self.measure("profile: warm --json under cProfile", argv, cache)
        text = io.StringIO()
        text.write(f"$ {' '.join(argv)}\n# wall under the profiler: {row['wall']:.2f} s\n")
        for order in ("cumulative", "tottime"):
            stats = pstats.Stats(str(raw), stream=text)
            stats.sort_stats(order).print_stats(PROFILE_LINES)
        raw.unlink()
        return text.getvalue()


def _layer_info(doc_path: Path) -> tuple[int, int]:
    """The top layer's size and file-list length in a --json document."""
    doc = json.loads(doc_path.read_text())
    top = doc["layer"][-1]
    return int(top["sizeBytes"]), len(top.get("fileList") or ())


def _med(rows: list[dict[str, Any]], label: str, key: str = "wall") -> str:
    values = [r[key] for r in rows if r["label"] == label]
    if not values:
        return "-"
    if key == "rss_kib":
        return f"{statistics.median(values) / 1024:.0f}"
    med = statistics.median(values)
    return f"{med:.3f} ({min(values):.3f}-{max(values):.3f})"


def _phase_table(rows: list[dict[str, Any]], label: str) -> str:
    mine = [r["phases"] for r in rows if r["label"] == label and "phases" in r]
    if not mine:
        return ""
    cells = []
    prev = 0.0
    for name in PHASE_NAMES:
        at = statistics.median(p[name] for p in mine)
        cells.append(f"{name} {at - prev:.3f}")
        prev = at
    ready = statistics.median(p["analyse"] for p in mine)
    return f"| {label} | {ready:.3f} | " + ", ".join(cells) + " |\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Time inspector with a warm layer cache.")
    parser.add_argument("--files", type=int, default=make_image.DEFAULT_FILES)
    parser.add_argument("--seed", type=int, default=make_image.DEFAULT_SEED)
    parser.add_argument("--top", type=int, nargs="*", default=[1000, 10000], metavar="K")
    parser.add_argument("--reps", type=int, default=5, help="warm repetitions (default 5)")
    parser.add_argument("--no-profile", dest="profile", action="store_false")
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

    base = image_for(0)
    siblings = {k: image_for(k) for k in args.top}
    for path in (base, *siblings.values()):
        bench_run._warm_page_cache(path)
    warm = _fresh(r.work / "base")
    r.inspector_run("cold: IMAGE --json (fills the cache)", base, warm)
    cache_bytes = _du(warm)
    labels = [
        ("warm: IMAGE --json", ()),
        ("warm: IMAGE --json --no-file-lists", ("--no-file-lists",)),
        ("warm: IMAGE --text", ("--text",)),
    ]
    for rep in range(args.reps):
        steps = [*labels, ("warm: phases", ("phases",))]
        for label, flags in steps if rep % 2 == 0 else reversed(steps):
            if flags == ("phases",):
                r.phases_run(label, base, warm)
            else:
                r.inspector_run(label, base, warm, *flags)
    sibling_info: dict[int, tuple[int, int]] = {}
    for k, image in siblings.items():
        cold = _fresh(r.work / "sibling-cold")
        r.inspector_run(f"sibling K={k}: cold --json", image, cold)
        sibling_info[k] = _layer_info(r.results / "out" / "warm-cache.json")
        for rep in range(args.reps):
            order = ["json", "phases"] if rep % 2 == 0 else ["phases", "json"]
            for step in order:
                copy = r.work / "sibling"
                shutil.rmtree(copy, ignore_errors=True)
                shutil.copytree(warm, copy)
                if step == "json":
                    r.inspector_run(f"sibling K={k}: base cached, --json", image, copy)
                else:
                    r.phases_run(f"sibling K={k}: base cached, phases", image, copy)
    # A second sibling: the first one stored the state of the shared prefix (a prefix
    # state is stored only for layers an earlier run indexed), the second resumes from it.
    ks = list(siblings)
    for k, other in zip(ks, ks[1:] + ks[:1], strict=True) if len(ks) > 1 else ():
        label = f"sibling K={k}: after sibling K={other} (prefix state stored)"
        for rep in range(args.reps):
            for step in ["json", "phases"] if rep % 2 == 0 else ["phases", "json"]:
                copy = r.work / "sibling"
                shutil.rmtree(copy, ignore_errors=True)
                shutil.copytree(warm, copy)
                subprocess.run(
                    [r.inspector, str(siblings[other]), "--text"],
                    env=r.env(copy), stdout=subprocess.DEVNULL, check=True,
                )  # fmt: skip
                if step == "json":
                    r.inspector_run(f"{label}, --json", siblings[k], copy)
                else:
                    r.phases_run(f"{label}, phases", siblings[k], copy)
    profile_text = r.profile(base, warm) if args.profile else ""
    shutil.rmtree(r.work, ignore_errors=True)

    out = io.StringIO()
    out.write(
        f"Commit {bench_run._output(['git', '-C', str(HERE.parent), 'describe', '--always'])}, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, Python {sys.version.split()[0]}"
        f"\nImage {base.name} ({base.stat().st_size / 1e6:.0f} MB); cache after the cold run: "
        f"{cache_bytes / 1e6:.1f} MB; {args.reps} warm repetitions; median (min-max)\n\n"
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
    out.write(
        "\nIn-process phases (medians, seconds; ready = until the analysis and dive numbers "
        "exist)\n\n"
    )
    out.write("| run | ready s | phase durations s |\n|---|---:|---|\n")
    for label in seen:
        out.write(_phase_table(r.rows, label))
    phases = [row["phases"]["analyse"] for row in r.rows if row["label"] == "warm: phases"]
    if phases:
        ready = statistics.median(phases)
        verdict = "met" if ready < TARGET_READY_S else "NOT met"
        out.write(f"\nTarget: warm image ready < {TARGET_READY_S} s: {ready:.3f} s ({verdict})\n")
    for k, (size, files) in sibling_info.items():
        out.write(f"Sibling K={k}: new top layer {size / 1e6:.1f} MB, {files} file-list entries\n")
    others = [row["others"] for row in r.rows]
    out.write(
        f"Others' load (cores): median {statistics.median(others):.2f}, max {max(others):.2f}\n"
    )
    report = out.getvalue()
    print()
    print(report)
    (r.results / "warm-cache-summary.md").write_text(report)
    (r.results / "warm-cache-latest.json").write_text(json.dumps(r.rows, indent=1) + "\n")
    if profile_text:
        (r.results / "warm-cache-profile.txt").write_text(profile_text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
