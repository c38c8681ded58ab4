"""Benchmark inspector against dive on the generated image(s).

For each archive, runs in one session, reversing the order every other repetition:

* `inspector IMAGE --json OUT`                    with an empty layer cache (first run)
* `inspector IMAGE --json OUT --no-file-lists`    with an empty layer cache
* `inspector IMAGE --json OUT`                    with the layer cache already filled
* `dive --source docker-archive IMAGE -j OUT`

Each child's wall time is taken around fork → reap, its peak RSS and CPU time come from
the rusage `os.wait4` returns for it (`ru_maxrss`, KiB on Linux). `CI` is removed from the
children's environment so neither tool switches to CI mode. The inspector package is
copied next to the images first (`.cache/benchmarks/snapshot`) and every inspector run
imports that copy, so edits to the working tree during a long run cannot mix versions;
each run gets its own `INSPECTOR_CACHE_DIR`, so the user's layer cache is neither read nor
written. After the runs the dive-compatible numbers of the JSON documents are compared, and
one more cold inspector run under cProfile gives the hot spots.

    /tmp/venv/bin/python benchmarks/run.py                # 100,000 files, 3 repetitions
    /tmp/venv/bin/python benchmarks/run.py --gzip --reps 5

Results go to benchmarks/results/ (git-ignored by a `.gitignore` the script writes there):
`summary.md` (the tables), `latest.json` (every sample), `profile-*.txt`, child logs and
the JSON outputs of the last repetition.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import io
import json
import math
import os
import platform
import pstats
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import make_image

HERE = Path(__file__).resolve().parent
DEFAULT_RESULTS = HERE / "results"
TARGET_SPEEDUP = 20.0
PROFILE_LINES = 30
READ_CHUNK = 8 << 20
DIVE_NUMBERS = ("sizeBytes", "inefficientBytes", "efficiencyScore")

COLD = "inspector"
LEAN = "inspector --no-file-lists"
WARM = "inspector, warm cache"
DIVE = "dive"
SLUGS = {COLD: "inspector", LEAN: "inspector-lean", WARM: "inspector-warm", DIVE: "dive"}


@dataclass(frozen=True, slots=True)
class Sample:
    """One measured child process."""

    variant: str
    tool: str
    rep: int
    wall_s: float
    cpu_s: float
    max_rss_kib: int
    exit_code: int
    others_cores: float  # CPU other processes used meanwhile, in cores (0 = quiet machine)


@dataclass(slots=True)
class Summary:
    """Medians of one tool on one archive."""

    variant: str
    tool: str
    runs: int
    wall_s: float
    wall_min_s: float
    wall_max_s: float
    cpu_s: float
    max_rss_mib: float
    json_bytes: int
    others_cores: float


@dataclass(slots=True)
class Check:
    name: str
    inspector: Any
    dive: Any
    ok: bool


@dataclass(slots=True)
class VariantResult:
    variant: str
    image: str
    image_bytes: int
    summaries: list[Summary] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    cache_written: bool = False
    profile_file: str | None = None
    profile_wall_s: float | None = None


@dataclass(slots=True)
class Bench:
    """Paths and settings shared by every run."""

    args: argparse.Namespace
    results: Path
    work: Path  # the copied package and the layer caches (git-ignored, beside the images)
    snapshot: Path
    fingerprint: str
    source_dir: Path


# ---------------------------------------------------------------------------- machine


def _read_first(path: str, key: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                if line.startswith(key):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def _output(argv: Sequence[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=60, check=False, env=env, cwd=cwd
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unavailable ({exc})"
    return (done.stdout or done.stderr).strip()


def machine_info(bench: Bench) -> dict[str, Any]:
    args = bench.args
    mem = _read_first("/proc/meminfo", "MemTotal")
    mem_gib = int(mem.split()[0]) / (1 << 20) if mem[:1].isdigit() else math.nan
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count() or 0
    env = inspector_env(bench, bench.work / "cache" / "cold")
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": usable,
        "cpu": _read_first("/proc/cpuinfo", "model name"),
        "ram_gib": round(mem_gib, 1),
        "kernel": platform.platform(),
        "python": _output([args.python, "-c", "import sys; print(sys.version.split()[0])"]),
        "inspector": _output([args.inspector, "--version"], env, bench.snapshot),
        "dive": _output([args.dive, "--version"]) if args.dive else "not run",
        "commit": _output(["git", "-C", str(bench.source_dir.parent), "describe", "--always"]),
        "fingerprint": bench.fingerprint,
    }


# -------------------------------------------------------------------- inspector copy


def _tool_path(name: str) -> str | None:
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else shutil.which(name)


def _interpreter_of(script: str) -> str:
    """The Python a console script runs under (its shebang), else this interpreter."""
    try:
        with open(script, "rb") as handle:
            first = handle.readline().decode("utf-8", "replace").strip()
    except OSError:
        return sys.executable
    if first.startswith("#!") and "python" in first:
        return first[2:].strip().split()[0]
    return sys.executable


def fingerprint(package: Path) -> str:
    """sha256 over the package's Python sources (names and bytes), first 12 hex digits."""
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(path.relative_to(package).as_posix().encode() + b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def snapshot_inspector(python: str, work: Path) -> tuple[Path, Path, str]:
    """Copy the installed inspector package; return (copy root, source dir, fingerprint)."""
    where = _output(
        [python, "-c", "import inspector, os; print(os.path.dirname(inspector.__file__))"]
    )
    source = Path(where)
    if not (source / "__init__.py").exists():
        raise SystemExit(f"cannot locate the inspector package with {python}: {where}")
    root = work / "snapshot"
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(source, root / "inspector", ignore=shutil.ignore_patterns("__pycache__"))
    return root, source, fingerprint(root / "inspector")


def _base_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("CI", None)
    return env


def inspector_env(bench: Bench, cache: Path) -> dict[str, str]:
    env = _base_env()
    path = env.get("PYTHONPATH")
    env["PYTHONPATH"] = f"{bench.snapshot}{os.pathsep}{path}" if path else str(bench.snapshot)
    env["INSPECTOR_CACHE_DIR"] = str(cache)
    return env


def _check_snapshot(bench: Bench) -> None:
    env = inspector_env(bench, bench.work / "cache" / "cold")
    code = "import inspector, os; print(os.path.dirname(inspector.__file__))"
    where = _output([bench.args.python, "-c", code], env, bench.snapshot)
    if Path(where) != bench.snapshot / "inspector":
        raise SystemExit(f"the inspector copy is not the one imported (got {where})")


# ------------------------------------------------------------------------ measuring

# Why a launcher: on Linux, exec() folds the high-water RSS of the address space it replaces
# into the process's ru_maxrss, so a child forked straight from this (large) Python process
# would report at least this process's peak. The launcher is a bare `python -I -S` (about
# 8 MiB); it forks the tool from its own small address space, reaps it with os.wait4 and
# writes the tool's rusage to a file. Peaks under ~10 MiB would be floored; none are.
_LAUNCHER = """
import json, os, signal, sys, time
result, timeout, argv = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(argv[0], argv)
    except OSError as exc:
        os.write(2, f"launcher: {argv[0]}: {exc}\\\\n".encode())
    os._exit(127)
signal.signal(signal.SIGALRM, lambda *_: os.kill(pid, signal.SIGKILL))
signal.alarm(timeout)
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - start
signal.alarm(0)
with open(result, "w") as handle:
    json.dump({"wall": wall, "cpu": usage.ru_utime + usage.ru_stime,
               "maxrss": usage.ru_maxrss, "exit": os.waitstatus_to_exitcode(status)}, handle)
"""


def busy_seconds() -> float:
    """CPU time all processes have used since boot (Linux /proc/stat), else NaN."""
    try:
        with open("/proc/stat", encoding="ascii") as handle:
            fields = [int(x) for x in handle.readline().split()[1:]]
    except (OSError, ValueError):
        return math.nan
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def wait_for_quiet(cores: float, patience: float, window: float = 2.0) -> float:
    """Wait (at most `patience` s) until other processes use less than `cores` CPUs.

    Returns the load seen in the last window. On a shared machine this keeps samples from
    starting in the middle of someone else's test run; it cannot stop load that starts later
    (the `others_cores` of each sample records that).
    """
    deadline = time.monotonic() + patience
    while True:
        before = busy_seconds()
        time.sleep(window)
        load = (busy_seconds() - before) / window
        if math.isnan(load) or load < cores or time.monotonic() >= deadline:
            return load


@dataclass(frozen=True, slots=True)
class Usage:
    wall: float
    cpu: float
    max_rss_kib: int
    exit_code: int
    others_cores: float


def measure(
    argv: Sequence[str], env: dict[str, str], log: Path, timeout: float, cwd: Path
) -> Usage:
    """Run argv to completion: wall and CPU seconds, peak RSS (KiB), exit code.

    Wall time is taken around fork → reap inside the launcher, so its own start-up is not
    counted; CPU time and peak RSS are the tool's own rusage from os.wait4. The working
    directory matters: `python -m` puts it first on sys.path, so in the repository root it
    would shadow the copied package. `others_cores` is the CPU time every other process on
    the machine used meanwhile, divided by the wall time: on a shared machine it says how
    much a sample was disturbed.
    """
    result = log.with_suffix(".rusage.json")
    result.unlink(missing_ok=True)
    launcher = [sys.executable, "-I", "-S", "-c", _LAUNCHER, str(result), str(int(timeout))]
    busy = busy_seconds()
    with log.open("wb") as sink:
        done = subprocess.run(
            [*launcher, *argv], stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT,
            env=env, cwd=cwd, check=False,
        )  # fmt: skip
    busy = busy_seconds() - busy
    if done.returncode != 0 or not result.exists():
        raise SystemExit(f"launcher failed ({done.returncode}) for {' '.join(argv)}:\n{_tail(log)}")
    usage = json.loads(result.read_text())
    result.unlink()
    wall, cpu = float(usage["wall"]), float(usage["cpu"])
    others = max(0.0, busy - cpu) / wall if wall > 0 else math.nan
    return Usage(wall, cpu, int(usage["maxrss"]), int(usage["exit"]), others)


def _warm_page_cache(path: Path) -> None:
    """Read the archive once so every run starts with it in the page cache."""
    with path.open("rb") as handle:
        while handle.read(READ_CHUNK):
            pass


def _tail(path: Path, lines: int = 15) -> str:
    text = path.read_text(errors="replace").splitlines()
    return "\n".join(text[-lines:])


def _fresh(directory: Path) -> Path:
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    return directory


def _has_files(directory: Path) -> bool:
    return any(p.is_file() for p in directory.rglob("*"))


def _argv(bench: Bench, tool: str, image: Path, out: Path) -> list[str]:
    if tool == DIVE:
        return [bench.args.dive, "--source", "docker-archive", str(image), "-j", str(out)]
    argv = [bench.args.inspector, str(image), "--json", str(out)]
    return [*argv, "--no-file-lists"] if tool == LEAN else argv


# ------------------------------------------------------------------------ comparing


def _doc(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        doc: dict[str, Any] = json.load(handle)
    return doc


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            return a is b
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    return bool(a == b)


def _same_numbers(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return all(_close(a["image"].get(k), b["image"].get(k)) for k in DIVE_NUMBERS)


def compare(docs: dict[str, dict[str, Any]]) -> list[Check]:
    """The numbers inspector promises to report exactly as dive does."""
    ours, theirs = docs[COLD], docs[DIVE]
    checks: list[Check] = []
    for key in DIVE_NUMBERS:
        a, b = ours["image"].get(key), theirs["image"].get(key)
        checks.append(Check(f"image.{key}", a, b, _close(a, b)))
    a_refs, b_refs = ours["image"]["fileReference"], theirs["image"]["fileReference"]
    checks.append(
        Check("fileReference count", len(a_refs), len(b_refs), len(a_refs) == len(b_refs))
    )
    a_set = {(r["file"], r["count"], r["sizeBytes"]) for r in a_refs}
    b_set = {(r["file"], r["count"], r["sizeBytes"]) for r in b_refs}
    checks.append(
        Check(
            "fileReference entries only in one",
            len(a_set - b_set),
            len(b_set - a_set),
            a_set == b_set,
        )
    )
    a_sizes = [layer["sizeBytes"] for layer in ours["layer"]]
    b_sizes = [layer["sizeBytes"] for layer in theirs["layer"]]
    checks.append(Check("layer[].sizeBytes", a_sizes, b_sizes, a_sizes == b_sizes))
    a_files = [len(layer["fileList"]) for layer in ours["layer"]]
    b_files = [len(layer["fileList"]) for layer in theirs["layer"]]
    checks.append(Check("layer[].fileList length", a_files, b_files, a_files == b_files))
    for tool in (LEAN, WARM):
        same = _same_numbers(ours, docs[tool])
        checks.append(
            Check(f"`{tool}` numbers = cold run", "same" if same else "differ", "-", same)
        )
    return checks


# ------------------------------------------------------------------------ profiling


def profile(bench: Bench, image: Path, variant: str) -> tuple[Path, float]:
    """One cold inspector run under cProfile; keep the top lines by cumulative and own time."""
    results = bench.results
    raw = results / f"profile-{variant}.pstats"
    out = results / "out" / f"profile-{variant}.json"
    log = results / "logs" / f"profile-{variant}.log"
    argv = [bench.args.python, "-m", "cProfile", "-o", str(raw), "-m", "inspector"]
    argv += [str(image), "--json", str(out)]
    env = inspector_env(bench, _fresh(bench.work / "cache" / "cold"))
    if bench.args.quiet > 0:
        wait_for_quiet(bench.args.quiet, bench.args.quiet_wait)
    usage = measure(argv, env, log, bench.args.timeout, bench.snapshot)
    wall = usage.wall
    if usage.exit_code != 0:
        raise SystemExit(f"profiled inspector run failed ({usage.exit_code}):\n{_tail(log)}")
    text = io.StringIO()
    text.write(f"$ {' '.join(argv)}\n# wall under the profiler: {wall:.2f} s (main thread only)\n")
    for order in ("cumulative", "tottime"):
        stats = pstats.Stats(str(raw), stream=text)
        stats.strip_dirs().sort_stats(order).print_stats(PROFILE_LINES)
    target = results / f"profile-{variant}.txt"
    target.write_text(text.getvalue())
    raw.unlink()
    return target, wall


# -------------------------------------------------------------------------- running


def summarise(samples: list[Sample], variant: str, tool: str, json_bytes: int) -> Summary:
    mine = [s for s in samples if s.variant == variant and s.tool == tool]
    walls = [s.wall_s for s in mine]
    return Summary(
        variant=variant,
        tool=tool,
        runs=len(mine),
        wall_s=statistics.median(walls),
        wall_min_s=min(walls),
        wall_max_s=max(walls),
        cpu_s=statistics.median(s.cpu_s for s in mine),
        max_rss_mib=statistics.median(s.max_rss_kib for s in mine) / 1024,
        json_bytes=json_bytes,
        others_cores=statistics.median(s.others_cores for s in mine),
    )


def run_variant(bench: Bench, variant: str, image: Path, samples: list[Sample]) -> VariantResult:
    args, results = bench.args, bench.results
    result = VariantResult(variant, image.name, image.stat().st_size)
    tools = [COLD, LEAN, WARM] + ([DIVE] if args.dive else [])
    cold = bench.work / "cache" / "cold"
    warm = _fresh(bench.work / "cache" / f"warm-{variant}")
    _warm_page_cache(image)
    # untimed: fills the warm cache and compiles the copied package's bytecode
    prime_log = results / "logs" / f"prime-{variant}.log"
    prime = _argv(bench, COLD, image, results / "out" / f"prime-{variant}.json")
    prime_env = inspector_env(bench, warm)
    if measure(prime, prime_env, prime_log, args.timeout, bench.snapshot).exit_code != 0:
        raise SystemExit(f"inspector failed on {image}:\n{_tail(prime_log)}")
    result.cache_written = _has_files(warm)
    json_bytes: dict[str, int] = {}
    for rep in range(args.reps):
        for tool in tools if rep % 2 == 0 else reversed(tools):
            out = results / "out" / f"{SLUGS[tool]}-{variant}.json"
            out.unlink(missing_ok=True)  # dive writes without truncating
            log = results / "logs" / f"{SLUGS[tool]}-{variant}-{rep}.log"
            argv = _argv(bench, tool, image, out)
            if args.quiet > 0:
                wait_for_quiet(args.quiet, args.quiet_wait)
            env = (
                _base_env()
                if tool == DIVE
                else inspector_env(bench, warm if tool == WARM else _fresh(cold))
            )
            u = measure(argv, env, log, args.timeout, bench.snapshot)
            print(
                f"  [{variant} {rep + 1}/{args.reps}] {tool:<26} {u.wall:8.2f} s "
                f"{u.max_rss_kib / 1024:8.1f} MiB  cpu {u.cpu:7.2f} s  "
                f"others {u.others_cores:4.2f} cores  exit {u.exit_code}",
                flush=True,
            )
            if u.exit_code != 0:
                raise SystemExit(f"{' '.join(argv)} failed with exit {u.exit_code}:\n{_tail(log)}")
            samples.append(
                Sample(
                    variant, tool, rep, u.wall, u.cpu, u.max_rss_kib, u.exit_code, u.others_cores
                )
            )
            json_bytes[tool] = out.stat().st_size
    shutil.rmtree(cold, ignore_errors=True)
    result.summaries = [summarise(samples, variant, t, json_bytes[t]) for t in tools]
    if args.dive:
        docs = {t: _doc(results / "out" / f"{SLUGS[t]}-{variant}.json") for t in tools}
        result.checks = compare(docs)
    if args.profile:
        path, wall = profile(bench, image, variant)
        result.profile_file, result.profile_wall_s = path.name, wall
    shutil.rmtree(bench.work / "cache", ignore_errors=True)
    return result


# ------------------------------------------------------------------------ reporting


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.1f}×" if b > 0 else "-"


def render(
    machine: dict[str, Any],
    variants: list[VariantResult],
    args: argparse.Namespace,
    notes: list[str],
) -> str:
    out = io.StringIO()
    out.write(
        f"Machine: {machine['nproc']} CPUs ({machine['cpu']}), {machine['ram_gib']} GiB RAM, "
        f"{machine['kernel']}\n"
        f"Python {machine['python']}, {machine['inspector']} (commit {machine['commit']}, "
        f"sources {machine['fingerprint']}), {machine['dive']}, {machine['date']}\n"
        f"Image: {args.files} files (seed {args.seed}); {args.reps} repetitions; "
        f"median (min-max)\n\n"
    )
    out.write("| archive | tool | wall s | peak RSS MiB | CPU s | JSON MB | others' load |\n")
    out.write("|---|---|---:|---:|---:|---:|---:|\n")
    for v in variants:
        label = f"{v.variant} ({v.image_bytes / 1e6:.0f} MB)"
        for s in v.summaries:
            out.write(
                f"| {label} | {s.tool} | {s.wall_s:.2f} ({s.wall_min_s:.2f}-{s.wall_max_s:.2f}) "
                f"| {s.max_rss_mib:.0f} | {s.cpu_s:.2f} | {s.json_bytes / 1e6:.1f} "
                f"| {s.others_cores:.2f} |\n"
            )
        by_tool = {s.tool: s for s in v.summaries}
        if DIVE in by_tool:
            d = by_tool[DIVE]
            for tool in (COLD, LEAN, WARM):
                i = by_tool[tool]
                wall, rss = _ratio(d.wall_s, i.wall_s), _ratio(d.max_rss_mib, i.max_rss_mib)
                out.write(
                    f"| {label} | **dive / {tool}** | **{wall}** | **{rss}** "
                    f"| {_ratio(d.cpu_s, i.cpu_s)} | | |\n"
                )
    out.write("\n")
    for v in variants:
        by_tool = {s.tool: s for s in v.summaries}
        if DIVE in by_tool:
            d, i = by_tool[DIVE], by_tool[COLD]
            speed = d.wall_s / i.wall_s
            fast = "met" if speed >= TARGET_SPEEDUP else "NOT met"
            small = "met" if i.max_rss_mib < d.max_rss_mib else "NOT met"
            out.write(
                f"Target on {v.variant} (first run, empty cache): ≥{TARGET_SPEEDUP:.0f}× faster "
                f"than dive: {speed:.1f}× ({fast}); less peak memory: {i.max_rss_mib:.0f} vs "
                f"{d.max_rss_mib:.0f} MiB ({small})\n"
            )
        if not v.cache_written:
            out.write(f"Note: inspector wrote no layer cache on {v.variant}; warm = cold.\n")
        if v.checks:
            bad = [c for c in v.checks if not c.ok]
            out.write(f"dive-compatible numbers on {v.variant}: ")
            out.write("all agree\n" if not bad else f"{len(bad)} DIFFER\n")
            for c in v.checks:
                mark = "ok " if c.ok else "BAD"
                out.write(f"  {mark} {c.name}: inspector={c.inspector} dive={c.dive}\n")
        if v.profile_file:
            out.write(
                f"Profile of one cold inspector run on {v.variant} (cProfile, "
                f"{v.profile_wall_s:.1f} s under the profiler): {v.profile_file}\n"
            )
    for note in notes:
        out.write(f"Note: {note}\n")
    return out.getvalue()


# ----------------------------------------------------------------------------- main


def _prepare_results(results: Path) -> None:
    (results / "logs").mkdir(parents=True, exist_ok=True)
    (results / "out").mkdir(exist_ok=True)
    ignore = results / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# written by benchmarks/run.py: results stay out of git\n*\n")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Time inspector against dive.")
    parser.add_argument("--files", type=int, default=make_image.DEFAULT_FILES)
    parser.add_argument("--seed", type=int, default=make_image.DEFAULT_SEED)
    parser.add_argument("--reps", type=int, default=3, help="repetitions per tool (default 3)")
    parser.add_argument("--gzip", action="store_true", help="also run the gzip OCI variant")
    parser.add_argument("--image", type=Path, help="benchmark this archive instead")
    parser.add_argument("--no-dive", dest="dive_enabled", action="store_false")
    parser.add_argument("--no-profile", dest="profile", action="store_false")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per child")
    parser.add_argument(
        "--quiet",
        type=float,
        default=0.5,
        metavar="CORES",
        help="before each run, wait until other processes use fewer CPUs than this "
        "(default 0.5; 0 = do not wait)",
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="longest wait for a quiet machine before each run (default 300)",
    )
    parser.add_argument("--cache-dir", type=Path, default=make_image.DEFAULT_CACHE)
    parser.add_argument("--results-dir", type=Path, default=DEFAULT_RESULTS)
    parser.add_argument("--inspector", default=_tool_path("inspector"))
    parser.add_argument("--dive", default=_tool_path("dive"))
    parser.add_argument("--python", help="inspector's interpreter (default: its shebang)")
    args = parser.parse_args(argv)
    if args.reps < 1:
        parser.error("--reps must be at least 1")
    if not args.inspector:
        parser.error("inspector not found; pass --inspector")
    if args.dive_enabled and not args.dive:
        parser.error("dive not found; pass --dive or --no-dive")
    if not args.dive_enabled:
        args.dive = None
    args.python = args.python or _interpreter_of(args.inspector)
    args.results_dir = args.results_dir.resolve()
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    results: Path = args.results_dir
    _prepare_results(results)
    if args.image:
        images = {"custom": args.image.resolve()}
    else:
        wanted = ["legacy", "gzip"] if args.gzip else ["legacy"]
        outputs = {
            v: make_image.default_path(make_image.Params(args.files, args.seed, v), args.cache_dir)
            for v in wanted
        }
        images = make_image.ensure(args.files, args.seed, outputs)
    work: Path = args.cache_dir.resolve()
    snapshot, source, sources_hash = snapshot_inspector(args.python, work)
    bench = Bench(args, results, work, snapshot, sources_hash, source)
    _check_snapshot(bench)
    machine = machine_info(bench)
    samples: list[Sample] = []
    variants = [run_variant(bench, v, path, samples) for v, path in images.items()]
    notes = []
    if fingerprint(source) != bench.fingerprint:
        notes.append(
            f"the inspector sources in {source} changed during the run; every run used the "
            f"copy taken at the start (sources {bench.fingerprint})"
        )
    report = render(machine, variants, args, notes)
    print()
    print(report)
    (results / "summary.md").write_text(report)
    latest = {
        "machine": machine,
        "args": {k: str(v) for k, v in vars(args).items()},
        "samples": [asdict(s) for s in samples],
        "variants": [asdict(v) for v in variants],
        "notes": notes,
    }
    (results / "latest.json").write_text(json.dumps(latest, indent=2) + "\n")
    failed = any(not c.ok for v in variants for c in v.checks)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
