"""The scaling curve: inspector's time and memory from 10,000 to 1,000,000 tar entries.

For each size N (default 10k, 100k, 300k, 1M), the image of about N tar entries of the
small shape (`make_image.py --shape small --files N`: four layers of mostly <= 512 B files,
so an entry is about 1 KB; `--shape million` is the 1M one) is built or reused, then, in
one session, `--reps` times with the sizes interleaved (a VM that slows down over the
minutes must not bend the curve) and the order reversed from one size and repetition to
the next:

* `inspector IMAGE --json OUT` with an empty layer cache (cold),
* `inspector IMAGE --json OUT` with the layer cache an untimed run filled (warm),
* the floor: sha256 over the archive's bytes (`hashlib`, in a child like the tools), and
  sha256 over each layer's bytes (what checking the diff_ids costs at least),
* `dive --source docker-archive IMAGE -j OUT`, up to `--dive-max` entries (default
  300,000: dive takes minutes and gigabytes beyond that).

Every child runs through run.py's launcher (wall around fork → reap, the child's own peak
RSS and CPU from `os.wait4`) on run.py's snapshot of the inspector package; the 1-, 5- and
15-minute load averages are recorded before and after each child, with the CPU time other
processes used meanwhile ("others' load"): a run that others disturbed by more than
`--max-load` cores is repeated (`--retries`), and the least disturbed one is kept.

Printed: a table, per-entry time and memory at each size, the marginal cost between
sizes, the linearity check (time and memory per entry at the largest size within 1.5× of
those at 100,000), and the issue's targets at 1M entries (cold ≤ 6 s, ≤ 500 MiB, within
8× of hashing the archive). Written: `benchmarks/results/curve-<date>.json` and
`curve-summary.md`.

    .venv/bin/python benchmarks/curve.py                        # 10k 100k 300k 1M
    .venv/bin/python benchmarks/curve.py --sizes 10000 100000 --reps 3 --no-dive
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import io
import itertools
import json
import math
import shutil
import statistics
import tarfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import make_image
import run as bench_run

HERE = Path(__file__).resolve().parent
DEFAULT_SIZES = (10_000, 100_000, 300_000, 1_000_000)
DEFAULT_DIVE_MAX = 300_000
LINEAR_BASE = 100_000  # per-entry cost at the largest size is compared with this size's
LINEAR_TOLERANCE = 1.5
TARGET_ENTRIES = make_image.MILLION_ENTRIES
TARGET_WALL_S = 6.0
TARGET_RSS_MIB = 500.0
TARGET_FLOOR_RATIO = 8.0

COLD = bench_run.COLD
WARM = bench_run.WARM
DIVE = bench_run.DIVE
FLOOR = "sha256 of the archive"
FLOOR_LAYERS = "sha256 of each layer"
SLUGS = {COLD: "cold", WARM: "warm", DIVE: "dive", FLOOR: "floor", FLOOR_LAYERS: "floor-layers"}

# The floor, run like the tools (`python -I -S -c`): sha256 over the whole archive, or over
# each layer the archive's manifest.json lists (found with tarfile; only the layer bytes are
# read). Prints the digests, so the work cannot be skipped.
_FLOOR = """
import hashlib, json, sys, tarfile
path, mode = sys.argv[1], sys.argv[2]
buffer = bytearray(1 << 20)
view = memoryview(buffer)

def digest(handle, size):
    sha = hashlib.sha256()
    while size > 0:
        n = handle.readinto(view[: min(size, len(buffer))])
        if not n:
            raise SystemExit("short read")
        sha.update(view[:n])
        size -= n
    return sha.hexdigest()

with open(path, "rb") as handle:
    if mode == "archive":
        print(hashlib.file_digest(handle, "sha256").hexdigest())
    else:
        with tarfile.open(fileobj=handle) as outer:
            members = {m.name: m for m in outer.getmembers()}
            manifest = json.load(outer.extractfile(members["manifest.json"]))
        for name in manifest[0]["Layers"]:
            handle.seek(members[name].offset_data)
            print(name, members[name].size, digest(handle, members[name].size))
"""


@dataclass(frozen=True, slots=True)
class Sample:
    """One measured child."""

    size: int  # the size asked for (entries)
    tool: str
    rep: int
    attempt: int
    wall_s: float
    cpu_s: float
    max_rss_kib: int
    exit_code: int
    others_cores: float
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]
    disturbed: bool
    kept: bool
    json_bytes: int
    at: str  # when it started (UTC)


@dataclass(slots=True)
class Point:
    """One size of the curve."""

    size: int
    image: str
    image_bytes: int
    layer_bytes: int
    entries: int
    layer_entries: list[int]
    tools: dict[str, dict[str, float]] = field(default_factory=dict)  # medians of kept samples
    checks: list[str] = field(default_factory=list)
    dive_skipped: bool = False


# ---------------------------------------------------------------------------- measuring


def load_average() -> tuple[float, float, float]:
    """The 1-, 5- and 15-minute load averages (as `uptime` shows them), else NaN."""
    try:
        with open("/proc/loadavg", encoding="ascii") as handle:
            one, five, fifteen = (float(x) for x in handle.read().split()[:3])
    except (OSError, ValueError):
        return (math.nan, math.nan, math.nan)
    return (one, five, fifteen)


def _argv(bench: bench_run.Bench, tool: str, image: Path, out: Path) -> list[str]:
    if tool in (FLOOR, FLOOR_LAYERS):
        mode = "archive" if tool == FLOOR else "layers"
        return [bench.args.python, "-I", "-S", "-c", _FLOOR, str(image), mode]
    return bench_run._argv(bench, tool, image, out)


def _env(bench: bench_run.Bench, tool: str, cold: Path, warm: Path) -> dict[str, str]:
    if tool in (COLD, WARM):
        return bench_run.inspector_env(bench, warm if tool == WARM else bench_run._fresh(cold))
    return bench_run._base_env()


def measure_tool(
    bench: bench_run.Bench, size: int, tool: str, rep: int, image: Path, caches: tuple[Path, Path]
) -> list[Sample]:
    """Run one tool (again when others disturbed it); every attempt, the kept one marked."""
    args, results = bench.args, bench.results
    out = results / "out" / f"curve-{size}-{SLUGS[tool]}.json"
    attempts: list[Sample] = []
    for attempt in range(1 + args.retries):
        out.unlink(missing_ok=True)  # dive writes without truncating
        log = results / "logs" / f"curve-{size}-{SLUGS[tool]}-{rep}-{attempt}.log"
        if args.quiet > 0:
            bench_run.wait_for_quiet(args.quiet, args.quiet_wait)
        before = load_average()
        at = datetime.datetime.now(datetime.UTC).strftime("%H:%M:%S")
        u = bench_run.measure(
            _argv(bench, tool, image, out),
            _env(bench, tool, *caches),
            log,
            args.timeout,
            bench.snapshot,
        )
        after = load_average()
        disturbed = not u.others_cores <= args.max_load
        json_bytes = out.stat().st_size if out.exists() else 0
        sample = Sample(
            size,
            tool,
            rep,
            attempt,
            u.wall,
            u.cpu,
            u.max_rss_kib,
            u.exit_code,
            u.others_cores,
            before,
            after,
            disturbed,
            False,
            json_bytes,
            at,
        )
        attempts.append(sample)
        print(
            f"  [{size:>9,} {rep + 1}/{args.reps}{'' if attempt == 0 else f' again {attempt}'}] "
            f"{tool:<22} {u.wall:8.2f} s {u.max_rss_kib / 1024:8.1f} MiB  cpu {u.cpu:7.2f} s  "
            f"others {u.others_cores:4.2f}  load {before[0]:.2f}→{after[0]:.2f}  "
            f"exit {u.exit_code}",
            flush=True,
        )
        if u.exit_code != 0:
            if tool == DIVE:
                break  # a dive that ran out of time is recorded, not fatal
            raise SystemExit(f"{tool} failed with exit {u.exit_code}:\n{bench_run._tail(log)}")
        if not disturbed:
            break
    best = min(range(len(attempts)), key=lambda i: attempts[i].others_cores)
    attempts[best] = _kept(attempts[best])
    return attempts


def _kept(sample: Sample) -> Sample:
    values = asdict(sample)
    values["kept"] = True
    return Sample(**values)


def _digest(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _checks(bench: bench_run.Bench, size: int, tools: list[str]) -> list[str]:
    """Cold and warm documents identical; dive's numbers equal inspector's where it ran."""
    out = bench.results / "out"
    cold, warm = out / f"curve-{size}-cold.json", out / f"curve-{size}-warm.json"
    checks = []
    same = cold.exists() and warm.exists() and _digest(cold) == _digest(warm)
    checks.append(f"cold and warm JSON documents {'identical' if same else 'DIFFER'}")
    dive = out / f"curve-{size}-dive.json"
    if DIVE in tools and dive.exists() and dive.stat().st_size > 0:
        ours, theirs = bench_run._doc(cold), bench_run._doc(dive)
        agree = bench_run._same_numbers(ours, theirs)
        numbers = ", ".join(f"{k} {ours['image'].get(k)}" for k in bench_run.DIVE_NUMBERS)
        checks.append(
            f"dive's {', '.join(bench_run.DIVE_NUMBERS)} "
            + (f"equal inspector's ({numbers})" if agree else "DIFFER from inspector's")
        )
    return checks


@dataclass(slots=True)
class Prepared:
    """A size ready to measure: its image, its tools and its filled layer cache."""

    point: Point
    image: Path
    tools: list[str]
    warm: Path


def prepare(bench: bench_run.Bench, size: int) -> Prepared:
    args = bench.args
    params = make_image.Params(size, args.seed, "legacy", shape=make_image.SMALL)
    image = make_image.default_path(params, args.cache_dir).resolve()
    layer_entries = make_image.stamped_entries(image) or []
    point = Point(
        size,
        image.name,
        image.stat().st_size,
        _layer_bytes(image),
        sum(layer_entries),
        layer_entries,
    )
    tools = [COLD, WARM, FLOOR, FLOOR_LAYERS]
    if args.dive and size <= args.dive_max:
        tools.append(DIVE)
    else:
        point.dive_skipped = bool(args.dive)
    warm = bench_run._fresh(bench.work / "cache" / f"curve-warm-{size}")
    bench_run._warm_page_cache(image)
    # untimed: fills the warm cache and compiles the copied package's bytecode
    prime_log = bench.results / "logs" / f"curve-{size}-prime.log"
    prime_out = bench.results / "out" / f"curve-{size}-prime.json"
    prime = bench_run._argv(bench, COLD, image, prime_out)
    env = bench_run.inspector_env(bench, warm)
    if bench_run.measure(prime, env, prime_log, args.timeout, bench.snapshot).exit_code != 0:
        raise SystemExit(f"inspector failed on {image}:\n{bench_run._tail(prime_log)}")
    prime_out.unlink(missing_ok=True)
    print(
        f"{size:,} entries asked, {point.entries:,} in {image.name} "
        f"({point.image_bytes / 1e6:.0f} MB)",
        flush=True,
    )
    return Prepared(point, image, tools, warm)


def measure_all(bench: bench_run.Bench, prepared: list[Prepared]) -> list[Sample]:
    """Every tool on every size, `--reps` times: the sizes interleaved within a repetition
    (so a machine that slows down over the minutes does not bend the curve), their order
    and the tools' order reversed from one repetition (and size) to the next."""
    cold = bench.work / "cache" / "curve-cold"
    samples: list[Sample] = []
    for rep in range(bench.args.reps):
        sizes = prepared if rep % 2 == 0 else list(reversed(prepared))
        for index, p in enumerate(sizes):
            bench_run._warm_page_cache(p.image)
            tools = p.tools if (index + rep) % 2 == 0 else list(reversed(p.tools))
            for tool in tools:
                samples += measure_tool(bench, p.point.size, tool, rep, p.image, (cold, p.warm))
    shutil.rmtree(cold, ignore_errors=True)
    return samples


def finish(bench: bench_run.Bench, prepared: Prepared, samples: list[Sample]) -> Point:
    """The medians of the kept samples, the checks; the documents and caches removed."""
    point, tools = prepared.point, prepared.tools
    mine = [s for s in samples if s.size == point.size]
    for tool in tools:
        kept = [s for s in mine if s.tool == tool and s.kept and s.exit_code == 0]
        if kept:
            point.tools[tool] = {
                "wall_s": statistics.median(s.wall_s for s in kept),
                "wall_min_s": min(s.wall_s for s in kept),
                "wall_max_s": max(s.wall_s for s in kept),
                "cpu_s": statistics.median(s.cpu_s for s in kept),
                "max_rss_mib": statistics.median(s.max_rss_kib for s in kept) / 1024,
                "others_cores": max(s.others_cores for s in kept),
                "json_bytes": max(s.json_bytes for s in kept),
                "runs": len(kept),
            }
    point.checks = _checks(bench, point.size, tools)
    if DIVE in tools and DIVE not in point.tools:
        point.checks.append(f"dive did not finish within {bench.args.timeout:.0f} s")
    if not bench.args.keep_out:
        for path in (bench.results / "out").glob(f"curve-{point.size}-*.json"):
            path.unlink()
    shutil.rmtree(prepared.warm, ignore_errors=True)
    return point


def _layer_bytes(image: Path) -> int:
    with tarfile.open(image) as outer:
        members = {m.name: m.size for m in outer.getmembers()}
        manifest = outer.extractfile("manifest.json")
        layers = json.load(manifest)[0]["Layers"] if manifest else []
    return sum(members[name] for name in layers)


# ---------------------------------------------------------------------------- the curve


@dataclass(frozen=True, slots=True)
class Linearity:
    """Cost per entry at the largest size against the base size's.

    `per entry` divides the whole cost by the entries (start-up included, which flatters
    the large sizes); `marginal` compares the cost of the further entries of the last step
    (e.g. 300k → 1M) with that of the step up to the base size (10k → 100k).
    """

    tool: str
    what: str  # "time" or "memory"
    kind: str  # "per entry" or "marginal"
    base_size: int
    top_size: int
    base_per_entry: float
    top_per_entry: float
    ratios: tuple[float, ...] = ()  # one per repetition (the ratio is their median)

    @property
    def ratio(self) -> float:
        if self.ratios:
            return statistics.median(self.ratios)
        return self.top_per_entry / self.base_per_entry if self.base_per_entry else math.nan

    @property
    def linear(self) -> bool:
        return self.ratio <= LINEAR_TOLERANCE


def per_entry(point: Point, tool: str, key: str) -> float:
    """µs (time) or bytes (memory) per tar entry at this size."""
    value = point.tools[tool][key]
    scale = 1e6 if key.endswith("_s") else float(1 << 20)
    return value * scale / point.entries if point.entries else math.nan


def linearity(points: list[Point], samples: list[Sample], base_size: int) -> list[Linearity]:
    """The checks within each repetition, then their median.

    Within a repetition the sizes ran a minute or two apart; across repetitions the VM's
    speed can drift by a third, so medians per size taken over all repetitions can mix a
    slow minute at one size with a fast one at another.
    """
    per_rep = [_linearity_once(rep_points, base_size) for rep_points in _by_rep(points, samples)]
    merged = []
    for i, first in enumerate(per_rep[0] if per_rep else []):
        same = [checks[i] for checks in per_rep if len(checks) > i and checks[i].what == first.what]
        merged.append(
            Linearity(
                first.tool,
                first.what,
                first.kind,
                first.base_size,
                first.top_size,
                statistics.median(c.base_per_entry for c in same),
                statistics.median(c.top_per_entry for c in same),
                tuple(c.ratio for c in same),
            )
        )
    return merged


def _by_rep(points: list[Point], samples: list[Sample]) -> list[list[Point]]:
    """The points again, once per repetition, each with that repetition's kept samples."""
    reps = sorted({s.rep for s in samples})
    out = []
    for rep in reps:
        mine = []
        for p in points:
            q = Point(p.size, p.image, p.image_bytes, p.layer_bytes, p.entries, p.layer_entries)
            for s in samples:
                if s.size == p.size and s.rep == rep and s.kept and s.exit_code == 0:
                    q.tools[s.tool] = {"wall_s": s.wall_s, "max_rss_mib": s.max_rss_kib / 1024}
            mine.append(q)
        out.append(mine)
    return out


def _linearity_once(points: list[Point], base_size: int) -> list[Linearity]:
    base = next((p for p in points if p.size == base_size), None)
    top = max(points, key=lambda p: p.size)
    if base is None or base is top:
        return []
    checks = []
    for tool in (COLD, WARM, DIVE):
        if tool in base.tools and tool in top.tools:
            for what, key in (("time", "wall_s"), ("memory", "max_rss_mib")):
                checks.append(
                    Linearity(
                        tool,
                        what,
                        "per entry",
                        base.size,
                        top.size,
                        per_entry(base, tool, key),
                        per_entry(top, tool, key),
                    )
                )
                slopes = {b: slope for _, b, slope in marginal(points, tool, key)}
                if base.size in slopes and top.size in slopes and len(slopes) > 1:
                    checks.append(
                        Linearity(
                            tool,
                            what,
                            "marginal",
                            base.size,
                            top.size,
                            slopes[base.size],
                            slopes[top.size],
                        )
                    )
    return checks


def marginal(points: list[Point], tool: str, key: str) -> list[tuple[int, int, float]]:
    """The cost of each further entry between neighbouring sizes (µs or bytes per entry)."""
    have = [p for p in sorted(points, key=lambda p: p.size) if tool in p.tools]
    scale = 1e6 if key.endswith("_s") else float(1 << 20)
    slopes = []
    for a, b in itertools.pairwise(have):
        delta = (b.tools[tool][key] - a.tools[tool][key]) * scale
        slopes.append((a.size, b.size, delta / (b.entries - a.entries)))
    return slopes


# ---------------------------------------------------------------------------- reporting


def render(
    machine: dict[str, Any], points: list[Point], samples: list[Sample], args: argparse.Namespace
) -> str:
    out = io.StringIO()
    out.write(
        f"Machine: {machine['nproc']} CPUs ({machine['cpu']}), {machine['ram_gib']} GiB RAM, "
        f"{machine['kernel']}\nPython {machine['python']}, {machine['inspector']} "
        f"({_walk(machine)}commit {machine['commit']}, sources "
        f"{machine['fingerprint']}), {machine['dive']}, {machine['date']}\n"
        f"Images: make_image.py --shape small (seed {args.seed}); {args.reps} repetition(s), "
        f"median; load averages {machine['load_start']} at the start, "
        f"{machine.get('load_end', '?')} at the end\n\n"
    )
    out.write(
        "| entries | archive MB | tool | wall s | CPU s | peak RSS MiB | µs / entry "
        "| peak bytes / entry | others' load |\n|---:|---:|---|---:|---:|---:|---:|---:|---:|\n"
    )
    for p in points:
        for tool, t in p.tools.items():
            out.write(
                f"| {p.entries:,} | {p.image_bytes / 1e6:.0f} | {tool} | {_wall(t)} "
                f"| {t['cpu_s']:.2f} | {t['max_rss_mib']:.0f} "
                f"| {per_entry(p, tool, 'wall_s'):.2f} | {per_entry(p, tool, 'max_rss_mib'):.0f} "
                f"| {t['others_cores']:.2f} |\n"
            )
        if p.dive_skipped:
            out.write(
                f"| {p.entries:,} | | dive | not run (> --dive-max {args.dive_max:,}) | | | | | |\n"
            )
    out.write("\n")
    for tool in (COLD, WARM, FLOOR, DIVE):
        for key, unit in (("wall_s", "µs"), ("max_rss_mib", "bytes")):
            slopes = marginal(points, tool, key)
            if slopes:
                what = "time" if key == "wall_s" else "peak RSS"
                text = ", ".join(f"{a:,}→{b:,}: {s:.2f}" for a, b, s in slopes)
                out.write(f"Marginal {what} of {tool}, {unit} per further entry: {text}\n")
    out.write("\n")
    for check in linearity(points, samples, args.linear_base):
        unit = "µs" if check.what == "time" else "bytes"
        verdict = "linear" if check.linear else "NOT linear"
        step = "the last step up to " if check.kind == "marginal" else ""
        out.write(
            f"Linearity, {check.tool} {check.what} {check.kind}: {check.top_per_entry:.2f} "
            f"{unit}/entry at {step}{check.top_size:,} vs {check.base_per_entry:.2f} at "
            f"{step}{check.base_size:,}: {check.ratio:.2f}×{_each(check.ratios)} "
            f"(≤ {LINEAR_TOLERANCE}×: {verdict})\n"
        )
    top = max(points, key=lambda p: p.size)
    if top.size >= TARGET_ENTRIES and COLD in top.tools:
        cold = top.tools[COLD]
        floor = top.tools.get(FLOOR, {"wall_s": math.nan, "cpu_s": math.nan})
        ratio = cold["wall_s"] / floor["wall_s"] if floor["wall_s"] else math.nan
        cpu_ratio = cold["cpu_s"] / floor["cpu_s"] if floor["cpu_s"] else math.nan
        out.write(
            f"\nTargets at {top.entries:,} entries (cold `--json`): wall ≤ {TARGET_WALL_S:.0f} s: "
            f"{cold['wall_s']:.2f} s, CPU {cold['cpu_s']:.2f} s "
            f"({_met(cold['wall_s'] <= TARGET_WALL_S)}); peak ≤ "
            f"{TARGET_RSS_MIB:.0f} MiB: {cold['max_rss_mib']:.0f} MiB "
            f"({_met(cold['max_rss_mib'] <= TARGET_RSS_MIB)}); ≤ {TARGET_FLOOR_RATIO:.0f}× the "
            f"archive's sha256 ({floor['wall_s']:.2f} s): {ratio:.1f}× "
            f"({_met(ratio <= TARGET_FLOOR_RATIO)}; CPU time against CPU time {cpu_ratio:.1f}×)\n"
        )
    for p in points:
        if DIVE in p.tools and COLD in p.tools:
            d, i = p.tools[DIVE], p.tools[COLD]
            out.write(
                f"{p.entries:,} entries: dive / cold inspector: wall "
                f"{d['wall_s'] / i['wall_s']:.1f}×, CPU {d['cpu_s'] / i['cpu_s']:.1f}×, "
                f"peak RSS {d['max_rss_mib'] / i['max_rss_mib']:.1f}×\n"
            )
    for p in points:
        for line in p.checks:
            out.write(f"{p.entries:,} entries: {line}\n")
    if any(p.dive_skipped for p in points):
        out.write(f"dive ran up to {args.dive_max:,} entries only (--dive-max)\n")
    return out.getvalue()


def _each(ratios: tuple[float, ...]) -> str:
    if len(ratios) < 2:
        return ""
    return " (median of the repetitions: " + ", ".join(f"{r:.2f}" for r in ratios) + ")"


def _walk(machine: dict[str, Any]) -> str:
    """Which header walk ran, unless `inspector --version` already says."""
    walk = f"{machine['implementation']} header walk"
    return "" if walk in machine["inspector"] else f"{walk}; "


def _wall(t: dict[str, float]) -> str:
    if t.get("runs", 1) > 1 and "wall_min_s" in t:
        return f"{t['wall_s']:.2f} ({t['wall_min_s']:.2f}-{t['wall_max_s']:.2f})"
    return f"{t['wall_s']:.2f}"


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def _machine(bench: bench_run.Bench) -> dict[str, Any]:
    machine = bench_run.machine_info(bench)
    env = bench_run.inspector_env(bench, bench.work / "cache" / "curve-cold")
    code = "import inspector.native as n; print(n.IMPLEMENTATION)"
    machine["implementation"] = bench_run._output(
        [bench.args.python, "-c", code], env, bench.snapshot
    )
    repo = str(bench.source_dir.parent)
    machine["commit_full"] = bench_run._output(["git", "-C", repo, "rev-parse", "HEAD"])
    status = bench_run._output(["git", "-C", repo, "status", "--porcelain", "--untracked=no"])
    machine["worktree_clean"] = status == ""
    machine["lscpu"] = bench_run._output(["lscpu"])
    machine["free_g"] = bench_run._output(["free", "-g"])
    machine["load_start"] = " ".join(f"{x:.2f}" for x in load_average())
    return machine


# --------------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="inspector's time and memory against size.")
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=list(DEFAULT_SIZES),
        metavar="N",
        help="tar entries per image (default 10k 100k 300k 1M)",
    )
    parser.add_argument("--seed", type=int, default=make_image.DEFAULT_SEED)
    parser.add_argument("--reps", type=int, default=1, help="repetitions per tool (default 1)")
    parser.add_argument(
        "--dive-max",
        type=int,
        default=DEFAULT_DIVE_MAX,
        metavar="N",
        help="run dive only on images up to N entries (default 300000)",
    )
    parser.add_argument("--no-dive", dest="dive_enabled", action="store_false")
    parser.add_argument(
        "--linear-base",
        type=int,
        default=LINEAR_BASE,
        metavar="N",
        help="the size the largest one's per-entry cost is compared with",
    )
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per child")
    parser.add_argument(
        "--quiet",
        type=float,
        default=0.5,
        metavar="CORES",
        help="wait before each child until others use fewer CPUs (0: never)",
    )
    parser.add_argument("--quiet-wait", type=float, default=120.0, metavar="SECONDS")
    parser.add_argument(
        "--max-load",
        type=float,
        default=1.0,
        metavar="CORES",
        help="repeat a run during which others used more CPUs than this",
    )
    parser.add_argument("--retries", type=int, default=1, help="repeats of a disturbed run")
    parser.add_argument("--keep-out", action="store_true", help="keep the JSON documents")
    parser.add_argument("--cache-dir", type=Path, default=make_image.DEFAULT_CACHE)
    parser.add_argument("--results-dir", type=Path, default=bench_run.DEFAULT_RESULTS)
    parser.add_argument("--inspector", default=bench_run._tool_path("inspector"))
    parser.add_argument("--dive", default=bench_run._tool_path("dive"))
    parser.add_argument("--python", help="inspector's interpreter (default: its shebang)")
    parser.add_argument("--render", type=Path, metavar="JSON", help="print a results file again")
    args = parser.parse_args(argv)
    if args.render:
        return args
    if args.reps < 1 or args.retries < 0:
        parser.error("--reps must be at least 1 and --retries not negative")
    if any(n < 100 for n in args.sizes):
        parser.error("--sizes must be at least 100")
    if not args.inspector:
        parser.error("inspector not found; pass --inspector")
    if args.dive_enabled and not args.dive:
        parser.error("dive not found; pass --dive or --no-dive")
    if not args.dive_enabled:
        args.dive = None
    args.sizes = sorted(set(args.sizes))
    args.python = args.python or bench_run._interpreter_of(args.inspector)
    args.results_dir = args.results_dir.resolve()
    return args


def rerender(path: Path) -> str:
    """The summary of a `curve-<date>.json` (after a change to the report's layout)."""
    document = json.loads(path.read_text())
    saved = document["args"]
    args = argparse.Namespace(
        seed=int(saved["seed"]),
        reps=int(saved["reps"]),
        dive_max=int(saved["dive_max"]),
        linear_base=int(saved["linear_base"]),
    )
    points = [Point(**p) for p in document["points"]]
    samples = []
    for values in document["samples"]:
        values = {**values, "at": values.get("at", "")}
        values["load_before"], values["load_after"] = (
            tuple(values["load_before"]),
            tuple(values["load_after"]),
        )
        samples.append(Sample(**values))
    return render(document["machine"], points, samples, args)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.render:
        print(rerender(args.render))
        return 0
    results: Path = args.results_dir
    bench_run._prepare_results(results)
    for size in args.sizes:
        params = make_image.Params(size, args.seed, "legacy", shape=make_image.SMALL)
        path = make_image.default_path(params, args.cache_dir)
        make_image.ensure(size, args.seed, {"legacy": path}, shape=make_image.SMALL)
    work: Path = args.cache_dir.resolve()
    snapshot, source, sources_hash = bench_run.snapshot_inspector(args.python, work)
    bench = bench_run.Bench(args, results, work, snapshot, sources_hash, source)
    bench_run._check_snapshot(bench)
    machine = _machine(bench)
    if machine["implementation"] != "compiled":
        print(f"warning: inspector's header walk is {machine['implementation']!r}, not compiled")
    started = time.monotonic()
    prepared = [prepare(bench, size) for size in args.sizes]
    samples = measure_all(bench, prepared)
    points = [finish(bench, p, samples) for p in prepared]
    machine["load_end"] = " ".join(f"{x:.2f}" for x in load_average())
    machine["minutes"] = round((time.monotonic() - started) / 60, 1)
    if bench_run.fingerprint(source) != bench.fingerprint:
        machine["note"] = "the inspector sources changed during the run; the copy was measured"
    report = render(machine, points, samples, args)
    print()
    print(report)
    (results / "curve-summary.md").write_text(report)
    day = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d")
    document = {
        "machine": machine,
        "args": {k: str(v) for k, v in vars(args).items()},
        "points": [asdict(p) for p in points],
        "linearity": [
            {**asdict(c), "ratio": c.ratio, "linear": c.linear}
            for c in linearity(points, samples, args.linear_base)
        ],
        "samples": [asdict(s) for s in samples],
    }
    target = results / f"curve-{day}.json"
    for n in itertools.count(2):  # an earlier run of the day is kept
        if not target.exists():
            break
        target = results / f"curve-{day}-{n}.json"
    target.write_text(json.dumps(document, indent=1) + "\n")
    print(f"results: {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
