"""What the detectors share (`findings.facts.Facts`), on an image made byte by byte
(imagebuilder) and read through the real pipeline: the final file system's regular files
for the paths a first test picks, and the copies a later layer stored again unchanged."""

from __future__ import annotations

from functools import partial
from itertools import compress, repeat
from pathlib import Path

import imagebuilder as ib
import pytest
from imagebuilder import Dir, File, Layer, Opaque, Symlink, Whiteout

from inspector import pipeline
from inspector.analysis import WastedFile
from inspector.changes import Removal
from inspector.findings.facts import Facts
from inspector.inspection import Inspection

LAYERS = (
    Layer(
        [
            Dir("etc"),
            File("etc/keep", 100),
            File("etc/gone", 200),
            File("etc/linked", 300),
            Dir("app"),
            File("app/a", 400),
            File("app/b", 500),
            Dir("opt"),
            File("opt/x", 600),
        ],
        created_by="ADD rootfs.tar /",
    ),
    Layer(
        [
            Whiteout("etc/gone"),
            Symlink("etc/linked", "keep"),
            File("app/a", 400, mode=0o600),  # the same bytes: a rewrite
            File("app/b", 501),  # other bytes: a real change
            Opaque("opt"),
            File("opt/y", 700),
            File("new", 800),
        ],
        created_by="RUN chmod 600 /app/a",
    ),
    Layer([File("etc/gone", 900), File("app/a", 400, mode=0o640)], created_by="RUN touch x"),
)


@pytest.fixture(scope="module")
def facts(tmp_path_factory: pytest.TempPathFactory) -> Facts:
    archive: Path = tmp_path_factory.mktemp("facts") / "image.tar"
    archive.write_bytes(ib.docker_save_legacy(ib.build_image(*LAYERS)))
    inspection: Inspection = pipeline.inspect(str(archive))
    return Facts(inspection)


def test_visible_files_are_the_last_shown_copy_of_each_path(facts: Facts) -> None:
    shown = facts.visible_where(iter)
    assert list(shown.items()) == [  # in the order a walk up the layers meets them
        ("etc/keep", 0),
        ("app/b", 1),
        ("opt/y", 1),
        ("new", 1),
        ("etc/gone", 2),  # deleted by layer 1, stored again by layer 2
        ("app/a", 2),  # rewritten twice: layer 2's copy shows
    ]  # not etc/linked (a symlink now) nor opt/x (under an opaque directory)


def test_visible_files_of_the_picked_paths_only(facts: Facts) -> None:
    def under_app_or_opt(paths: list[str]) -> compress[str]:
        return compress(paths, map(str.startswith, paths, repeat(("app/", "opt/"))))

    assert facts.visible_where(under_app_or_opt) == {"app/a": 2, "app/b": 1, "opt/y": 1}
    assert facts.visible_where(partial(filter, "nothing".__eq__)) == {}


def test_rewrites_are_copies_stored_again_with_the_same_content(facts: Facts) -> None:
    assert facts.rewrites == {("app/a", 0), ("app/a", 1)}
    assert facts.rewritten() == [
        WastedFile("app/a", 400, 0, 1, Removal.REPLACED),
        WastedFile("app/a", 400, 1, 2, Removal.REPLACED),
    ]
    others = {(w.path, w.stored_in) for w in facts.inspection.analysis.exact.wasted_files}
    assert others - facts.rewrites == {("etc/gone", 0), ("etc/linked", 0), ("app/b", 0),
                                       ("opt/x", 0)}  # fmt: skip
