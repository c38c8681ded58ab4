"""Secrets in the config are hidden from every front end, from the first event on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import imagebuilder as ib

from inspector import pipeline
from inspector.model import Image
from inspector.source import LoadEvents

TOKEN = "glpat" + "-" + "Ab3" * 8  # GitLab's format, built from parts


def _config(doc: dict[str, Any]) -> None:
    doc["config"]["Env"] = [*doc["config"]["Env"], f"CI_JOB_TOKEN={TOKEN}", "HOME=/root"]
    doc["config"]["Labels"] = {"org.example.deploy-password": "hunter2", "version": "1.0"}


class Seen(LoadEvents):
    def __init__(self) -> None:
        self.images: list[Image] = []

    def image_known(self, image: Image) -> None:
        self.images.append(image)


def test_env_labels_and_commands_are_redacted_everywhere(tmp_path: Path) -> None:
    layer = ib.Layer([ib.File("app/x", 10)], created_by=f"/bin/sh -c echo {TOKEN} > /app/x")
    archive = tmp_path / "image.tar"
    archive.write_bytes(ib.docker_save_legacy(ib.build_image(layer).with_config(_config)))
    seen = Seen()
    found = pipeline.inspect(str(archive), events=seen)
    assert seen.images  # the UI draws the layer stack from this one
    for image in (*seen.images, found.image, found.analysis.image):
        text = repr(image)
        assert TOKEN not in text
        assert "hunter2" not in text
        assert "HOME=/root" in image.config.env
        assert ("version", "1.0") in image.config.labels
    assert {f.id for f in found.findings} >= {"secret-in-image"}
    assert all(TOKEN not in repr(f) and "hunter2" not in repr(f) for f in found.findings)
