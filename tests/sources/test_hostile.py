"""The hostile corpus (tests/hostile_corpus.py) through the real command line, in a subprocess.

For every case and both report forms (`--text`, `--json -`): the documented exit code,
exactly the one stderr line the case calls for (or none), no traceback, no control bytes
on stdout or stderr, an end within the case's time bound, and a peak resident set within
its memory bound (the child's rusage; an address-space limit stops a runaway earlier).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import services
from hostile_corpus import CASES, Case, layout_of_blob, zstd_zeros
from imagebuilder import tar_header

ADDRESS_SPACE = 6 << 30  # a runaway fails here instead of taking the machine's memory
CONTROL = re.compile(rb"[\x00-\x08\x0b-\x1f\x7f]")  # any C0 control but \t and \n, and DEL


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: bytes
    stderr: bytes
    seconds: float
    megabytes: float


# Runs the inspector as its own child and writes that child's peak resident set (wait4)
# to a file. Measured from the test process, the peak would include the test process's
# own memory: a forked child counts the pages of its parent until it execs.
LAUNCHER = """
import os, resource, sys
limit, report = int(sys.argv[1]), sys.argv[2]
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[3], sys.argv[3:])
_, status, usage = os.wait4(pid, 0)
with open(report, "w") as out:
    out.write(str(usage.ru_maxrss))
code = os.waitstatus_to_exitcode(status)
sys.exit(code if code >= 0 else 128 - code)
"""


def run_inspector(args: list[str], cwd: Path, seconds: float) -> Run:
    """`python -m inspector ARGS` under an address-space limit, with its peak memory."""
    out, err, peak = cwd / "stdout", cwd / "stderr", cwd / "peak"
    env = services.cli_env(extra={"INSPECTOR_CACHE_DIR": str(cwd / "cache")})
    command = [sys.executable, "-c", LAUNCHER, str(ADDRESS_SPACE), str(peak)]
    command += [sys.executable, "-m", "inspector", *args]
    start = time.monotonic()
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            cwd=cwd,
            env=env,
            start_new_session=True,  # its own process group, to end both on a timeout
        )
        try:
            process.wait(seconds)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            pytest.fail(f"inspector {' '.join(args)} still ran after {seconds} s")
    return Run(
        process.returncode,
        out.read_bytes(),
        err.read_bytes(),
        time.monotonic() - start,
        int(peak.read_text()) / 1024,
    )


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Every case built once: name -> IMAGE argument."""
    root = tmp_path_factory.mktemp("hostile")
    images: dict[str, str] = {}
    for case in CASES:
        directory = root / case.name
        directory.mkdir()
        images[case.name] = case.build(directory)
    return images


@pytest.mark.parametrize("form", [["--text"], ["--json", "-"]], ids=["text", "json"])
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_image(case: Case, form: list[str], corpus: dict[str, str], tmp_path: Path) -> None:
    run = run_inspector([*form, "--no-cache", corpus[case.name]], tmp_path, case.seconds)
    stderr = run.stderr.decode("utf-8", "replace")
    assert run.returncode == case.exit_code, stderr
    assert b"Traceback" not in run.stderr
    assert not CONTROL.search(run.stderr), stderr
    assert not CONTROL.search(run.stdout)
    lines = stderr.splitlines()
    if case.stderr is None:
        assert lines == []
    else:
        (line,) = lines
        assert line.startswith("inspector: ")
        assert case.stderr in line
        assert len(line) <= 400
    if case.exit_code == 0:
        assert run.stdout  # a report was written
    assert run.megabytes < case.megabytes, f"{run.megabytes:.0f} MB"


def test_ctrl_c_stops_a_decompression_bomb_at_once(tmp_path: Path) -> None:
    """64 GiB of zeros in 2 MB of zstd: SIGINT a second in, exit 130 within two seconds
    (the decompression runs on a worker thread; nobody waits for it to finish)."""
    blob = zstd_zeros(tar_header("zeros", size=(64 << 30) - 1024), 64)
    image = layout_of_blob(tmp_path / "layout", blob, "sha256:" + "0" * 64)
    process = subprocess.Popen(
        [sys.executable, "-m", "inspector", "--text", "--no-cache", image],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=services.cli_env(),
    )
    time.sleep(1.5)
    assert process.poll() is None  # still decompressing
    process.send_signal(signal.SIGINT)
    sent = time.monotonic()
    try:
        _, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
    assert time.monotonic() - sent < 2
    assert process.returncode == 130
    assert stderr == b"inspector: interrupted\n"
