"""Build a real image for the benchmarks: Debian bookworm (minbase) plus python3.

Unlike `make_image.py`'s generated image (100,000 small files), this is what images look
like: a distribution's root file system, then a layer that installs packages with apt
and cleans up after itself (so the package lists the first layer stored are waste).

1. `debootstrap --variant=minbase bookworm` from deb.debian.org (the Debian mirror is the
   one network these machines reach), downloaded packages removed;
2. layer 1: that root file system, written by `umoci repack` into an OCI layout;
3. layer 2: `apt-get update && apt-get install python3 ca-certificates && apt-get clean
   && rm -rf /var/lib/apt/lists/*` run in a chroot of the unpacked image, repacked by
   umoci (which writes deletions as whiteouts).

The layout (gzip layers, as umoci writes them) goes to `.cache/benchmarks/debian-python/`
with the tag `latest`, and is reused when it exists (`--force` rebuilds). It needs root,
debootstrap and umoci (`apt-get install debootstrap umoci`). Debian's archive changes
over time, so the image differs between machines and dates: the benchmarks print its
size and entry counts with the results.

    python benchmarks/real_image.py            # prints the layout directory
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import make_image

TAG = "latest"
INSTALL = (
    "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "
    "--no-install-recommends python3 ca-certificates >/dev/null && apt-get clean && "
    "rm -rf /var/lib/apt/lists/*"
)


def _run(*argv: str | Path) -> None:
    result = subprocess.run([str(a) for a in argv], capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"real_image: {' '.join(map(str, argv))} failed:\n{result.stderr}")


def build(cache_dir: Path, force: bool = False) -> Path:
    """The layout directory (`oci:DIR:latest`), built unless it exists."""
    layout = cache_dir / "debian-python"
    if (layout / "index.json").exists() and not force:
        return layout
    for tool in ("debootstrap", "umoci", "chroot"):
        if shutil.which(tool) is None:
            raise SystemExit(f"real_image: {tool} is missing (apt-get install debootstrap umoci)")
    shutil.rmtree(layout, ignore_errors=True)
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir) as tmp:
        work = Path(tmp)
        rootfs = work / "rootfs"
        print("real_image: debootstrap bookworm (about a minute)", file=sys.stderr)
        _run("debootstrap", "--variant=minbase", "bookworm", rootfs, "http://deb.debian.org/debian")
        for deb in (rootfs / "var/cache/apt/archives").glob("*.deb"):
            deb.unlink()
        building = work / "layout"
        _run("umoci", "init", "--layout", building)
        _run("umoci", "new", "--image", f"{building}:{TAG}")
        base = work / "base"
        _run("umoci", "unpack", "--image", f"{building}:{TAG}", base)
        _run("cp", "-a", f"{rootfs}/.", base / "rootfs")
        _run("umoci", "repack", "--image", f"{building}:{TAG}", base)
        shutil.rmtree(base)
        top = work / "top"
        _run("umoci", "unpack", "--image", f"{building}:{TAG}", top)
        shutil.copy("/etc/resolv.conf", top / "rootfs/etc/resolv.conf")
        print("real_image: apt-get install python3 in a chroot", file=sys.stderr)
        _run("chroot", top / "rootfs", "/bin/sh", "-c", INSTALL)
        _run("umoci", "repack", "--image", f"{building}:{TAG}", top)
        shutil.move(building, layout)
    return layout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache-dir", type=Path, default=make_image.DEFAULT_CACHE)
    parser.add_argument("--force", action="store_true", help="rebuild even if it exists")
    args = parser.parse_args(argv)
    print(build(args.cache_dir, args.force))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
