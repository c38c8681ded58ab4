"""The findings the pipeline hands out quote no secret value: the detectors read the config
as it is, then the commands, evidence and fix lines they quote are hidden as the config is."""

from __future__ import annotations

import io

import imagebuilder as ib

from inspector import pipeline
from inspector.inspection import Inspection
from inspector.sources.archive import ArchiveSource

TOKEN = "s3cr3t-value-0123456789"
PASSWORD = "hunter2-hunter2"


def inspect(image: ib.BuiltImage) -> Inspection:
    source = ArchiveSource(None, "redacted", stream=io.BytesIO(ib.docker_save_legacy(image)))
    return pipeline.inspect(pipeline.Resolved(source))


def finding_text(inspection: Inspection) -> str:
    return repr(inspection.findings)


def test_a_secret_in_a_command_is_hidden_in_every_finding_that_quotes_it() -> None:
    image = ib.build_image(
        ib.Layer(
            [ib.Dir("app"), ib.File("app/big.bin", 3_000_000)],
            created_by=f"/bin/sh -c echo API_TOKEN={TOKEN} > /dev/null && fetch big.bin",
        ),
        ib.Layer([ib.Whiteout("app/big.bin")], created_by="/bin/sh -c rm /app/big.bin"),
    ).with_config(lambda doc: doc["config"]["Env"].append(f"DB_PASSWORD={PASSWORD}"))
    inspection = inspect(image)
    ids = sorted(finding.id for finding in inspection.findings)
    assert ids == ["deleted-later", "secret-in-image", "secret-in-image"]
    deleted = next(f for f in inspection.findings if f.id == "deleted-later")
    # the command is quoted by the layer, the evidence and the fix lines: all hidden
    assert "API_TOKEN=<secret-variable: 23 chars" in deleted.layers[0].command
    assert "API_TOKEN=<secret-variable" in deleted.evidence
    assert any("API_TOKEN=<secret-variable" in line for line in deleted.fix.before)
    assert any("API_TOKEN=<secret-variable" in line for line in deleted.fix.after)
    text = finding_text(inspection)
    assert TOKEN not in text
    assert PASSWORD not in text
    # the layer list shows the same hidden command
    assert deleted.layers[0].command == inspection.image.layers[0].created_by


def test_findings_without_secrets_are_unchanged() -> None:
    command = "/bin/sh -c curl -o /tmp/x https://example.org/x"
    image = ib.build_image(
        ib.Layer([ib.Dir("tmp"), ib.File("tmp/x", 2_000_000)], created_by=command),
        ib.Layer([ib.Whiteout("tmp/x")], created_by="/bin/sh -c rm /tmp/x"),
    )
    (found,) = inspect(image).findings
    assert found.layers[0].command == command
    assert found.fix.before == ("RUN curl -o /tmp/x https://example.org/x", "RUN rm /tmp/x")
