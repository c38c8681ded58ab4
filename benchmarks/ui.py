"""Benchmark the terminal UI on the large generated image, headless (Textual's Pilot).

Targets (from the issues): the UI is ready within 1 s after the analysis finishes, and
complete (the background precompute of the aggregated views done) within 2 s; moving
the cursor, expanding a directory, switching layer or typing into the filter each
re-render within 50 ms; the UI's peak memory is at most twice that of `inspector --json`
on the same image; quitting is immediate (timed from posting `q` until the app has closed,
and until the process has exited, which includes freeing everything it held).

The parent process runs, `--runs` times each, alternating:

* a UI session in a child process (this script with `--child`): it opens `InspectorApp`
  exactly as `inspector IMAGE` does (`inspector.pipeline.inspect`, `--no-cache`) in a headless
  160×50 terminal, times "analysis finished → main screen refreshed", then presses keys
  and times each one until the screen has handled every message and re-rendered;
* `inspector IMAGE --json OUT --no-cache` (the memory reference).

Both are started through run.py's launcher, so peak RSS is the child's own `ru_maxrss`.

Why not `pilot.press`: it sleeps in `wait_for_idle` (at least 2 × 20 ms per key), which
would swamp a 50 ms budget. Here a key is posted to the app the way the driver does, then
the script awaits until every message queue of the app and of the screen's widgets is
empty and calls the screen's update (layout + compositor render, which is all a real
terminal adds except the write). That is the latency a person sees, minus terminal I/O.

    /tmp/venv/bin/python benchmarks/ui.py                   # 100,000 files, 2 runs
    /tmp/venv/bin/python benchmarks/ui.py --reps 10 --runs 1 --profile
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import json
import os
import pstats
import shutil
import statistics
import sys
import tempfile
import time
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import make_image
import run as bench_run

HERE = Path(__file__).resolve().parent
DEFAULT_RESULTS = HERE / "results"
TARGET_READY_S = 1.0
TARGET_COMPLETE_S = 2.0
TARGET_ACTION_S = 0.050
TARGET_RSS_RATIO = 2.0
DPKG_INFO = "var/lib/dpkg/info"
FILTER_TEXT = "node_modules"
PROFILE_LINES = 25


# ------------------------------------------------------------------------ the child


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


async def child_session(image: str, reps: int, size: tuple[int, int], profile: bool) -> Any:
    """One UI session; returns the timings (seconds) as a JSON-able dict."""
    from textual import events
    from textual.app import App
    from textual.keys import REPLACED_KEYS, _character_to_key, _get_unicode_name_from_key
    from textual.pilot import Pilot

    from inspector.ui.app import app_for
    from inspector.ui.messages import LoadFinished
    from inspector.ui.screens.main import MainScreen
    from inspector.ui.widgets.file_tree import FileTreeView
    from inspector.ui.widgets.rowlist import RowList

    marks: dict[str, float] = {}
    counts: dict[str, int] = {}

    class TimedMainScreen(MainScreen):
        """MainScreen that notes when the analysis is posted, handled and painted."""

        def post_message(self, message: Any) -> bool:
            if isinstance(message, LoadFinished):
                marks["posted"] = time.perf_counter()
            return super().post_message(message)

        def on_load_finished(self, message: LoadFinished) -> None:
            # runs before MainScreen's own handler (Textual walks the MRO)
            marks["handling"] = time.perf_counter()
            self.call_after_refresh(self._painted)

        def _painted(self) -> None:
            marks["painted"] = time.perf_counter()
            counts["layer_rows"] = len(self.layer_stack.items)
            counts["tree_rows"] = len(self.file_tree.rows)
            counts["analysis"] = int(self.analysis is not None)

    app = app_for(image)  # as `inspector IMAGE --no-cache` opens it
    _KEEP.append(app)
    app.main_screen = TimedMainScreen(app.label, app.files)
    samples: dict[str, list[float]] = {}
    profiler = cProfile.Profile() if profile else None
    profiled: dict[str, pstats.Stats] = {}

    def key_event(app_: App[int], key: str) -> events.Key:
        if len(key) == 1 and not key.isalnum():
            key = _character_to_key(key)
        original = REPLACED_KEYS.get(key, key)
        char: str | None
        try:
            char = unicodedata.lookup(_get_unicode_name_from_key(original))
        except KeyError:
            char = key if len(key) == 1 else None
        event = events.Key(key, char)
        event.set_sender(app_)
        return event

    async def settled(pilot: Pilot[int]) -> None:
        """Until nothing is runnable and every queue is empty, then lay out and render.

        Cheap on purpose (no message per widget, no sleeps): the event loop's ready queue
        and the message queues of the app and the screen's widgets are looked at after
        each turn of the loop; when both are empty the screen's update runs (layout and
        compositor render, as the update timer would do), and that is checked once more.
        """
        app_ = pilot.app
        loop = asyncio.get_running_loop()
        ready: Sequence[object] = getattr(loop, "_ready", ())
        idle = 0
        for _ in range(100_000):
            await asyncio.sleep(0)
            pumps = [app_, *app_.screen.walk_children(with_self=True)]
            if ready or not all(p._message_queue.empty() for p in pumps):
                idle = 0
                continue
            app_.screen._on_timer_update()
            idle += 1
            if idle >= 2:
                return
        raise RuntimeError("the app never went idle")

    async def press(pilot: Pilot[int], name: str, key: str) -> float:
        event = key_event(pilot.app, key)
        if profiler is not None:
            profiler.enable()
        start = time.perf_counter()
        await pilot.app._post_message(event)
        await settled(pilot)
        took = time.perf_counter() - start
        if profiler is not None:
            profiler.disable()
        samples.setdefault(name, []).append(took)
        return took

    def snapshot_profile(name: str) -> None:
        nonlocal profiler
        if profiler is not None:
            with contextlib.suppress(TypeError):  # TypeError: nothing profiled since the last
                profiled[name] = pstats.Stats(profiler)
            profiler = cProfile.Profile()

    async def scenario(pilot: Pilot[int]) -> None:
        screen = app.main_screen
        while "painted" not in marks:
            await asyncio.sleep(0.001)
        await app.workers.wait_for_complete()  # the precompute of aggregated views
        marks["precomputed"] = time.perf_counter()
        await settled(pilot)
        tree = screen.file_tree
        layers = len(screen.layer_stack.items)
        counts["layers"] = layers

        # switching layer: cursor down / up in the layer list (every layer, both ways)
        for _ in range(reps):
            for _ in range(layers - 1):
                await press(pilot, "layer list: down (switch layer)", "down")
            for _ in range(layers - 1):
                await press(pilot, "layer list: up (switch layer)", "up")
        snapshot_profile("switch layer")
        # aggregated view on the top layer and back
        for _ in range(layers - 1):
            await press(pilot, "-", "down")
        for _ in range(reps):
            await press(pilot, "aggregated view on (ctrl+a)", "ctrl+a")
            await press(pilot, "aggregated view off (ctrl+l)", "ctrl+l")
        snapshot_profile("aggregated")
        for _ in range(layers - 1):
            await press(pilot, "-", "up")
        # the tree of layer 0 (every base file added)
        snapshot_profile("aggregated: moving back")
        await press(pilot, "tab to the tree", "tab")
        snapshot_profile("tab to the tree")
        assert isinstance(app.focused, FileTreeView)
        for _ in range(reps):
            for _ in range(5):
                await press(pilot, "tree: cursor down", "down")
            for _ in range(5):
                await press(pilot, "tree: cursor up", "up")
        snapshot_profile("tree cursor")
        # expand / collapse the largest flat directory
        assert tree.reveal(DPKG_INFO)
        await settled(pilot)
        if DPKG_INFO in tree.state.expanded:
            await press(pilot, "-", "space")
        assert tree.files is not None
        counts["dpkg_info_children"] = len(tree.files.children(DPKG_INFO, -1, 0))
        for _ in range(reps):
            await press(pilot, f"expand {DPKG_INFO} (space)", "space")
            counts["rows_dpkg_open"] = len(tree.rows)
            for _ in range(3):
                await press(pilot, "tree: cursor down, dir open", "down")
            for _ in range(3):
                await press(pilot, "-", "up")
            await press(pilot, f"collapse {DPKG_INFO} (space)", "space")
        snapshot_profile("expand dir")
        # expand all / collapse all (from everything collapsed: the key collapses first)
        while tree.state.expanded:
            await press(pilot, "-", "ctrl+@")
        for _ in range(max(1, reps // 4)):
            await press(pilot, "expand all (ctrl+space)", "ctrl+@")
            counts["rows_all_open"] = len(tree.rows)
            await press(pilot, "tree: cursor down, all open", "down")
            await press(pilot, "collapse all (ctrl+space)", "ctrl+@")
        snapshot_profile("expand all")
        # the filter, typed char by char (on the collapsed tree), then closed
        for _ in range(max(1, reps // 4)):
            snapshot_profile("before the filter")
            await press(pilot, "open filter (/)", "slash")
            snapshot_profile("open filter")
            for i, char in enumerate(FILTER_TEXT):
                await press(pilot, f"filter: type char {1 if i == 0 else '2+'}", char)
            counts["filter_matches"] = tree.match_count
            counts["rows_filtered"] = len(tree.rows)
            snapshot_profile("filter typed")
            await press(pilot, "close filter (escape)", "escape")
            snapshot_profile("close filter")
        # the findings: open the tab, move in the list, show one in the layers and the tree
        counts["findings"] = screen.query_one("#findings", RowList).row_count
        for _ in range(reps):
            await press(pilot, "open findings (f)", "f")
            await press(pilot, "findings: cursor down", "down")
            await press(pilot, "findings: cursor up", "up")
            await press(pilot, "findings: show in tree (enter)", "enter")
        snapshot_profile("findings")
        samples.pop("-", None)

    async with app.run_test(size=size) as pilot:
        await scenario(pilot)
        quit_event = key_event(pilot.app, "q")
        marks["quit"] = time.perf_counter()
        marks["quit_epoch"] = time.time()
        await pilot.app._post_message(quit_event)
        while pilot.app.return_code is None:  # the key handled: App.exit ran
            await asyncio.sleep(0.001)
        marks["exit_called"] = time.perf_counter()
    marks["closed"] = time.perf_counter()  # run_test shut the app down
    result: dict[str, Any] = {
        "ready_s": marks["painted"] - marks["posted"],
        "handled_s": marks["handling"] - marks["posted"],
        "precompute_s": marks["precomputed"] - marks["posted"],
        "quit_handled_s": marks["exit_called"] - marks["quit"],
        "quit_closed_s": marks["closed"] - marks["quit"],
        "quit_epoch": marks["quit_epoch"],
        "counts": counts,
        "samples": samples,
    }
    if profiled:
        result["profiles"] = {}
        for name, stats in profiled.items():
            text = io.StringIO()
            stats.stream = text  # type: ignore[attr-defined]
            stats.sort_stats("cumulative").print_stats(PROFILE_LINES)
            stats.sort_stats("tottime").print_stats(PROFILE_LINES)
            result["profiles"][name] = text.getvalue()
    return result


_KEEP: list[object] = []  # the app, alive until the process leaves (as in the CLI)


def child_main(args: argparse.Namespace) -> int:
    """The session; then leave the way the `inspector` command does (`cli.entry`: streams
    flushed, `os._exit`, the heap not torn down), so the quit time is the one people see."""
    width, height = (int(x) for x in args.size.split("x"))
    result = asyncio.run(child_session(args.child_image, args.reps, (width, height), args.profile))
    Path(args.child_out).write_text(json.dumps(result))
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


# ------------------------------------------------------------------------ the parent


def summarise(values: Sequence[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "median": statistics.median(values),
        "p95": _percentile(values, 0.95),
        "max": max(values),
    }


def render(
    machine: dict[str, Any], image: Path, sessions: list[dict[str, Any]], rss: dict[str, Any]
) -> str:
    out = io.StringIO()
    out.write(
        f"Machine: {machine['nproc']} CPUs ({machine['cpu']}), {machine['ram_gib']} GiB RAM; "
        f"Python {machine['python']}; commit {machine['commit']}; {machine['date']}\n"
        f"Image: {image.name} ({image.stat().st_size / 1e6:.0f} MB); {len(sessions)} UI "
        f"session(s); headless {sessions[0]['size']}\n\n"
    )
    readies = [s["ready_s"] for s in sessions]
    out.write(
        "Ready after the analysis (LoadFinished posted → main screen refreshed): "
        + ", ".join(f"{r * 1000:.0f} ms" for r in readies)
        + f" (target < {TARGET_READY_S:.0f} s: "
        + ("met" if max(readies) < TARGET_READY_S else "NOT met")
        + ")\n"
    )
    completes = [s["precompute_s"] for s in sessions]
    out.write(
        "Complete after the analysis (background precompute of the aggregated views done): "
        + ", ".join(f"{c:.2f} s" for c in completes)
        + f" (target ≤ {TARGET_COMPLETE_S:.0f} s: "
        + ("met" if max(completes) <= TARGET_COMPLETE_S else "NOT met")
        + ")\n"
    )
    out.write(
        "Quit (q posted → key handled / app closed / process exited): "
        + "; ".join(
            f"{s['quit_handled_s'] * 1000:.0f} / {s['quit_closed_s'] * 1000:.0f} / "
            f"{s['quit_exit_s'] * 1000:.0f} ms"
            for s in sessions
        )
        + "\n"
    )
    out.write(f"Counts: {json.dumps(sessions[0]['counts'])}\n\n")
    pooled: dict[str, list[float]] = {}
    for s in sessions:
        for name, values in s["samples"].items():
            pooled.setdefault(name, []).extend(values)
    out.write("| action | n | median ms | p95 ms | max ms | ≤ 50 ms (median) |\n")
    out.write("|---|---:|---:|---:|---:|---|\n")
    for name, values in pooled.items():
        s = summarise(values)
        ok = "yes" if s["median"] <= TARGET_ACTION_S else "**no**"
        out.write(
            f"| {name} | {s['n']:.0f} | {s['median'] * 1000:.1f} | {s['p95'] * 1000:.1f} "
            f"| {s['max'] * 1000:.1f} | {ok} |\n"
        )
    ui_rss = statistics.median(rss["ui_kib"]) / 1024
    json_rss = statistics.median(rss["json_kib"]) / 1024
    ratio = ui_rss / json_rss
    out.write(
        f"\nPeak RSS: UI session {ui_rss:.0f} MiB (runs: "
        + ", ".join(f"{k / 1024:.0f}" for k in rss["ui_kib"])
        + f"), `inspector --json --no-cache` {json_rss:.0f} MiB (runs: "
        + ", ".join(f"{k / 1024:.0f}" for k in rss["json_kib"])
        + f"); ratio {ratio:.2f} (target ≤ {TARGET_RSS_RATIO:.0f}: "
        + ("met" if ratio <= TARGET_RSS_RATIO else "NOT met")
        + ")\n"
        + "UI session wall (load + all actions): "
        + ", ".join(f"{w:.1f} s" for w in rss["ui_wall"])
        + "; `inspector --json` wall: "
        + ", ".join(f"{w:.1f} s" for w in rss["json_wall"])
        + "; others' load (cores): "
        + ", ".join(f"{o:.2f}" for o in rss["others"])
        + "\n"
    )
    return out.getvalue()


def parent_main(args: argparse.Namespace) -> int:
    results: Path = args.results_dir.resolve()
    (results / "logs").mkdir(parents=True, exist_ok=True)
    (results / "out").mkdir(exist_ok=True)
    if args.image:
        image = args.image.resolve()
    else:
        params = make_image.Params(args.files, args.seed, "legacy")
        path = make_image.default_path(params, args.cache_dir)
        image = make_image.ensure(args.files, args.seed, {"legacy": path})["legacy"]
    inspector: str = args.inspector or bench_run._tool_path("inspector") or "inspector"
    python = bench_run._interpreter_of(inspector)
    machine = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": bench_run._read_first("/proc/cpuinfo", "model name"),
        "ram_gib": round(
            int(bench_run._read_first("/proc/meminfo", "MemTotal").split()[0]) / (1 << 20), 1
        ),
        "python": sys.version.split()[0],
        "commit": bench_run._output(["git", "-C", str(HERE.parent), "describe", "--always"]),
    }
    bench_run._warm_page_cache(image)
    cache = Path(tempfile.mkdtemp(prefix="ui-bench-cache-"))
    env = dict(os.environ)
    env.pop("CI", None)
    env["INSPECTOR_CACHE_DIR"] = str(cache)
    sessions: list[dict[str, Any]] = []
    rss: dict[str, list[Any]] = {"ui_kib": [], "json_kib": [], "ui_wall": [], "json_wall": []}
    rss["others"] = []
    profiles: dict[str, str] = {}
    try:
        for n in range(args.runs):
            order = ["ui", "json"] if n % 2 == 0 else ["json", "ui"]
            for what in order:
                if args.quiet > 0:
                    bench_run.wait_for_quiet(args.quiet, args.quiet_wait)
                log = results / "logs" / f"ui-{what}-{n}.log"
                if what == "ui":
                    out = results / "out" / f"ui-session-{n}.json"
                    argv = [python, str(Path(__file__).resolve()), "--child-image", str(image)]
                    argv += ["--child-out", str(out), "--reps", str(args.reps)]
                    argv += ["--size", args.size] + (["--profile"] if args.profile else [])
                else:
                    out = results / "out" / "ui-reference.json"
                    argv = [inspector, str(image), "--json", str(out), "--no-cache"]
                u = bench_run.measure(argv, env, log, args.timeout, HERE.parent)
                ended = time.time()  # after the launcher reaped the child (a few ms late)
                if u.exit_code != 0:
                    raise SystemExit(f"{' '.join(argv)} failed ({u.exit_code}):\n{log.read_text()}")
                print(
                    f"  [{n + 1}/{args.runs}] {what:<4} {u.wall:7.2f} s "
                    f"{u.max_rss_kib / 1024:7.1f} MiB  others {u.others_cores:.2f} cores",
                    flush=True,
                )
                rss[f"{what}_kib"].append(u.max_rss_kib)
                rss[f"{what}_wall"].append(u.wall)
                rss["others"].append(u.others_cores)
                if what == "ui":
                    session = json.loads(out.read_text())
                    session["size"] = args.size
                    session["quit_exit_s"] = ended - session.pop("quit_epoch")
                    profiles.update(session.pop("profiles", {}))
                    sessions.append(session)
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    report = render(machine, image, sessions, rss)
    print()
    print(report)
    (results / "ui-summary.md").write_text(report)
    (results / "ui-latest.json").write_text(
        json.dumps({"machine": machine, "sessions": sessions, "rss": rss}, indent=1) + "\n"
    )
    if profiles:
        text = "".join(f"==== {name}\n{body}\n" for name, body in profiles.items())
        (results / "ui-profile.txt").write_text(text)
        print(f"profiles: {results / 'ui-profile.txt'}")
    return 0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Time the terminal UI on a large image.")
    parser.add_argument("--files", type=int, default=make_image.DEFAULT_FILES)
    parser.add_argument("--seed", type=int, default=make_image.DEFAULT_SEED)
    parser.add_argument("--image", type=Path, help="a docker-archive instead of the generated")
    parser.add_argument("--reps", type=int, default=10, help="repetitions of each action")
    parser.add_argument("--runs", type=int, default=2, help="UI sessions (and --json runs)")
    parser.add_argument("--size", default="160x50", help="terminal size (default 160x50)")
    parser.add_argument("--profile", action="store_true", help="cProfile the actions")
    parser.add_argument("--timeout", type=float, default=1800.0)
    parser.add_argument("--quiet", type=float, default=0.5, metavar="CORES")
    parser.add_argument("--quiet-wait", type=float, default=60.0, metavar="SECONDS")
    parser.add_argument("--cache-dir", type=Path, default=make_image.DEFAULT_CACHE)
    parser.add_argument("--results-dir", type=Path, default=DEFAULT_RESULTS)
    parser.add_argument("--inspector", help="the inspector console script")
    parser.add_argument("--child-image", help=argparse.SUPPRESS)
    parser.add_argument("--child-out", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child_image:
        return child_main(args)
    return parent_main(args)


if __name__ == "__main__":
    raise SystemExit(main())
