"""Benchmark pulling and indexing an image from a real registry on loopback.

Target (from the issue): streaming inspection (`inspector docker://…`) finishes faster
than `skopeo copy` of the same image alone, and within 1.5× of the time gzip
decompression alone (isal) takes for the same blobs.

Setup: Debian's `docker-registry` (distribution 2.8) on 127.0.0.1 with its own config and
storage under `.cache/benchmarks/registry-bench/`; the gzip variant of the benchmark image
(`make_image.py --gzip`: gzip -6 layer blobs) pushed with `skopeo copy --preserve-digests`.
Then, `--reps` times, alternating the order (every child through run.py's launcher, so
peak RSS is the child's own):

* `inspector docker://127.0.0.1:PORT/bench:latest --json OUT --no-cache`;
* `skopeo copy --src-tls-verify=false docker://… dir:DIR` (the copy alone);
* `skopeo copy … oci:DIR:latest`, then `inspector oci:DIR:latest --json OUT --no-cache`
  (timed separately; the sum is "copy, then inspect");
* isal gzip decompression alone of the same layer blobs, read from the registry's storage
  (page cache warm), read and discarded: one thread, and the blobs spread over 2 threads
  (inspector fetches layers in parallel).

    /tmp/venv/bin/python benchmarks/registry_pull.py            # 100,000 files, 5 repetitions
    /tmp/venv/bin/python benchmarks/registry_pull.py --real     # Debian + python3 (real_image.py)
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import make_image
import real_image
import run as bench_run

HERE = Path(__file__).resolve().parent
DEFAULT_RESULTS = HERE / "results"
TARGET_DECOMPRESS_RATIO = 1.5
REPO_TAG = "bench:latest"

ISAL = r"""
import sys, time
from concurrent.futures import ThreadPoolExecutor
from isal import igzip
threads, paths = int(sys.argv[1]), sys.argv[2:]
def inflate(path):
    n = 0
    with igzip.open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            n += len(chunk)
    return n
start = time.perf_counter()
if threads == 1:
    total = sum(inflate(p) for p in paths)
else:
    with ThreadPoolExecutor(threads) as pool:
        total = sum(pool.map(inflate, paths))
print(f"{total} bytes in {time.perf_counter() - start:.3f} s")
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Registry:
    """One `docker-registry serve` on loopback, stopped by its pid."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        storage = self.directory / "storage"
        storage.mkdir(parents=True, exist_ok=True)
        config = {
            "version": 0.1,
            "log": {"level": "warn", "accesslog": {"disabled": True}},
            "storage": {"filesystem": {"rootdirectory": str(storage)}},
            "http": {"addr": self.host, "secret": "inspector-bench"},
        }
        path = self.directory / "config.yml"
        path.write_text(json.dumps(config))  # JSON is YAML
        with open(self.directory / "registry.log", "ab") as log:
            self.process = subprocess.Popen(
                ["docker-registry", "serve", str(path)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit("docker-registry exited; see " + str(log.name))
            try:
                httpx.get(f"http://{self.host}/v2/", timeout=1.0)
                return
            except httpx.HTTPError:
                time.sleep(0.05)
        raise SystemExit("docker-registry did not answer within 20 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def blob(self, digest: str) -> Path:
        hex_ = digest.removeprefix("sha256:")
        return self.directory / "storage/docker/registry/v2/blobs/sha256" / hex_[:2] / hex_ / "data"

    def layers(self, repo: str, tag: str) -> list[dict[str, Any]]:
        accept = ", ".join(
            (
                "application/vnd.oci.image.manifest.v1+json",
                "application/vnd.docker.distribution.manifest.v2+json",
            )
        )
        answer = httpx.get(
            f"http://{self.host}/v2/{repo}/manifests/{tag}", headers={"Accept": accept}
        )
        answer.raise_for_status()
        layers: list[dict[str, Any]] = answer.json()["layers"]
        return layers


def summarise(rows: list[dict[str, Any]], label: str) -> dict[str, float]:
    mine = [r for r in rows if r["label"] == label]
    walls = [r["wall"] for r in mine]
    return {
        "n": len(mine),
        "wall": statistics.median(walls),
        "min": min(walls),
        "max": max(walls),
        "rss_mib": statistics.median(r["rss_kib"] for r in mine) / 1024,
        "cpu": statistics.median(r["cpu"] for r in mine),
        "others": statistics.median(r["others"] for r in mine),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Time inspector against skopeo and isal.")
    parser.add_argument("--files", type=int, default=make_image.DEFAULT_FILES)
    parser.add_argument("--seed", type=int, default=make_image.DEFAULT_SEED)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=1800.0)
    parser.add_argument("--quiet", type=float, default=0.5, metavar="CORES")
    parser.add_argument("--quiet-wait", type=float, default=60.0, metavar="SECONDS")
    parser.add_argument("--cache-dir", type=Path, default=make_image.DEFAULT_CACHE)
    parser.add_argument("--results-dir", type=Path, default=DEFAULT_RESULTS)
    parser.add_argument("--inspector", help="the inspector console script")
    parser.add_argument(
        "--real",
        action="store_true",
        help="the real image of real_image.py (Debian + python3) instead of the generated one",
    )
    args = parser.parse_args(argv)
    for tool in ("docker-registry", "skopeo"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is missing (apt-get install docker-registry skopeo)")
    results: Path = args.results_dir.resolve()
    (results / "logs").mkdir(parents=True, exist_ok=True)
    (results / "out").mkdir(exist_ok=True)
    inspector: str = args.inspector or bench_run._tool_path("inspector") or "inspector"
    python = bench_run._interpreter_of(inspector)
    if args.real:
        image = real_image.build(args.cache_dir)
        source = f"oci:{image}:{real_image.TAG}"
    else:
        params = make_image.Params(args.files, args.seed, "gzip")
        image = make_image.ensure(
            args.files, args.seed, {"gzip": make_image.default_path(params, args.cache_dir)}
        )["gzip"]
        source = f"oci-archive:{image}"
    slug = "registry-real" if args.real else "registry"
    work = args.cache_dir.resolve() / "registry-bench"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    env = dict(os.environ)
    env.pop("CI", None)
    env["INSPECTOR_CACHE_DIR"] = str(work / "inspector-cache")  # never read: --no-cache
    env["REGISTRY_AUTH_FILE"] = str(work / "no-auth.json")
    rows: list[dict[str, Any]] = []

    def measure(label: str, argv: list[str]) -> dict[str, Any]:
        if args.quiet > 0:
            bench_run.wait_for_quiet(args.quiet, args.quiet_wait)
        label_slug = "".join(c if c.isalnum() else "-" for c in label)[:60]
        log = results / "logs" / f"registry-{label_slug}.log"
        u = bench_run.measure(argv, env, log, args.timeout, HERE.parent)
        if u.exit_code != 0:
            raise SystemExit(f"{' '.join(argv)} failed ({u.exit_code}):\n{log.read_text()}")
        row = {"label": label, "wall": u.wall, "cpu": u.cpu, "rss_kib": u.max_rss_kib}
        row["others"] = u.others_cores
        row["output"] = log.read_text(errors="replace").strip()[-200:]
        rows.append(row)
        print(
            f"  {label:<40} {u.wall:7.2f} s {u.max_rss_kib / 1024:7.1f} MiB "
            f"cpu {u.cpu:6.2f} s others {u.others_cores:.2f}",
            flush=True,
        )
        return row

    registry = Registry(work / "registry")
    registry.start()
    try:
        ref = f"{registry.host}/{REPO_TAG}"
        started = time.perf_counter()
        subprocess.run(
            ["skopeo", "copy", "--quiet", "--dest-tls-verify=false", "--preserve-digests",
             source, f"docker://{ref}"],
            check=True, env=env, timeout=args.timeout,
        )  # fmt: skip
        print(f"pushed {image.name} to {ref} in {time.perf_counter() - started:.1f} s")
        repo, tag = REPO_TAG.split(":")
        layers = registry.layers(repo, tag)
        blobs = [registry.blob(layer["digest"]) for layer in layers]
        compressed = sum(layer["size"] for layer in layers)
        for blob in blobs:
            bench_run._warm_page_cache(blob)
        out = results / "out" / "registry.json"
        steps = ["inspector", "skopeo dir", "skopeo oci + inspector", "isal 1", "isal 2"]
        for rep in range(args.reps):
            for step in steps if rep % 2 == 0 else reversed(steps):
                if step == "inspector":
                    measure(
                        "inspector docker:// --no-cache",
                        [inspector, f"docker://{ref}", "--json", str(out), "--no-cache"],
                    )
                elif step == "skopeo dir":
                    target = work / "dir"
                    shutil.rmtree(target, ignore_errors=True)
                    measure(
                        "skopeo copy → dir:",
                        ["skopeo", "copy", "--quiet", "--src-tls-verify=false",
                         f"docker://{ref}", f"dir:{target}"],
                    )  # fmt: skip
                elif step == "skopeo oci + inspector":
                    target = work / "oci"
                    shutil.rmtree(target, ignore_errors=True)
                    measure(
                        "skopeo copy → oci:",
                        ["skopeo", "copy", "--quiet", "--src-tls-verify=false",
                         f"docker://{ref}", f"oci:{target}:latest"],
                    )  # fmt: skip
                    measure(
                        "inspector oci: --no-cache",
                        [inspector, f"oci:{target}:latest", "--json", str(out), "--no-cache"],
                    )
                else:
                    threads = step.split()[1]
                    measure(
                        f"isal decompression, {threads} thread(s)",
                        [python, "-c", ISAL, threads, *map(str, blobs)],
                    )
    finally:
        registry.stop()
        shutil.rmtree(work, ignore_errors=True)

    labels: list[str] = []
    for row in rows:
        if row["label"] not in labels:
            labels.append(row["label"])
    s = {label: summarise(rows, label) for label in labels}
    copy_then = [
        a["wall"] + b["wall"]
        for a, b in zip(
            [r for r in rows if r["label"] == "skopeo copy → oci:"],
            [r for r in rows if r["label"] == "inspector oci: --no-cache"],
            strict=True,
        )
    ]
    text = io.StringIO()
    commit = bench_run._output(["git", "-C", str(HERE.parent), "describe", "--always"])
    text.write(
        f"Commit {commit}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"Python {sys.version.split()[0]}\n"
        f"Image {image.name}: {len(layers)} gzip layers, {compressed / 1e6:.1f} MB compressed; "
        f"{args.reps} repetitions; median (min-max)\n\n"
        "| run | wall s | peak RSS MiB | CPU s | others' load |\n|---|---:|---:|---:|---:|\n"
    )
    for label, v in s.items():
        text.write(
            f"| {label} | {v['wall']:.2f} ({v['min']:.2f}-{v['max']:.2f}) | {v['rss_mib']:.0f} "
            f"| {v['cpu']:.2f} | {v['others']:.2f} |\n"
        )
    text.write(
        f"| skopeo copy → oci:, then inspector oci: | {statistics.median(copy_then):.2f} "
        f"({min(copy_then):.2f}-{max(copy_then):.2f}) | | | |\n\n"
    )
    ours = s["inspector docker:// --no-cache"]["wall"]
    skopeo = s["skopeo copy → dir:"]["wall"]
    isal1 = s["isal decompression, 1 thread(s)"]["wall"]
    isal2 = s["isal decompression, 2 thread(s)"]["wall"]
    text.write(
        f"Target 1: inspector ({ours:.2f} s) faster than skopeo's copy alone ({skopeo:.2f} s): "
        f"{'met' if ours < skopeo else 'NOT met'} ({skopeo / ours:.2f}×)\n"
        f"Target 2: inspector within {TARGET_DECOMPRESS_RATIO}× of isal decompression alone: "
        f"{ours / isal1:.2f}× of 1 thread ({isal1:.2f} s) "
        f"{'met' if ours <= TARGET_DECOMPRESS_RATIO * isal1 else 'NOT met'}, "
        f"{ours / isal2:.2f}× of 2 threads ({isal2:.2f} s) "
        f"{'met' if ours <= TARGET_DECOMPRESS_RATIO * isal2 else 'NOT met'}\n"
    )
    report = text.getvalue()
    print()
    print(report)
    (results / f"{slug}-summary.md").write_text(report)
    (results / f"{slug}-latest.json").write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
