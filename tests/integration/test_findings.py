"""Each finding on a real image built by the Docker engine that triggers it, and on its
fixed twin, where it must stay quiet."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import services

from inspector import pipeline
from inspector.findings.model import Finding, Severity
from inspector.inspection import Inspection

pytestmark = pytest.mark.docker

Build = Callable[..., Inspection]
KB = 1000


@pytest.fixture(scope="module")
def build(image_factory: services.ImageFactory) -> Build:
    """`build(name, steps, files)`: the image built, saved and inspected from its archive."""

    def run(name: str, steps: str, files: dict[str, bytes] | None = None) -> Inspection:
        built = image_factory.build(f"findings-{name}", steps, files)
        return pipeline.inspect(str(built.archive))

    return run


def of(inspection: Inspection, finding: str) -> list[Finding]:
    return [f for f in inspection.findings if f.id == finding]


def test_a_plain_image_has_no_findings(build: Build) -> None:
    clean = build("clean", "COPY app.py /app/app.py", {"app.py": b"print('hello')\n" * 200})
    assert clean.findings == ()


def test_deleted_later(build: Build) -> None:
    bad = build("deleted", "RUN dd if=/dev/zero of=/big bs=1k count=50\nRUN rm /big")
    fixed = build("deleted-fixed", "RUN dd if=/dev/zero of=/big bs=1k count=50 && rm /big")
    (found,) = of(bad, "deleted-later")
    assert found.bytes == 51_200
    assert [layer.index for layer in found.layers] == [1, 2]
    assert [(p.path, p.bytes) for p in found.paths] == [("big", 51_200)]
    assert found.severity is Severity.WARNING
    assert "rm /big" in found.evidence
    assert found.fix.after == ("RUN dd if=/dev/zero of=/big bs=1k count=50 \\", "    && rm /big")
    assert of(fixed, "deleted-later") == []


def test_package_cache(build: Build) -> None:
    apt = (
        "mkdir -p /var/lib/apt/lists"
        " && dd if=/dev/zero of=/var/lib/apt/lists/x_Packages bs=1k count=20"
    )
    pip = "mkdir -p /root/.cache/pip && dd if=/dev/zero of=/root/.cache/pip/w bs=1k count=10"
    bad = build("caches", f"RUN {apt}\nRUN rm -rf /var/lib/apt/lists/*\nRUN {pip}")
    fixed = build(
        "caches-fixed",
        f"RUN {apt} && rm -rf /var/lib/apt/lists/*\nRUN {pip} && rm -rf /root/.cache",
    )
    found = {f.title: f for f in of(bad, "package-cache")}
    assert set(found) == {
        "Package-manager cache in the image (apt)",
        "Package-manager cache in the image (pip)",
    }
    apt_finding = found["Package-manager cache in the image (apt)"]
    assert apt_finding.bytes == 20_480
    assert "deleted only by a later layer" in apt_finding.evidence
    assert any("rm -rf /var/lib/apt/lists/*" in line for line in apt_finding.fix.after)
    pip_finding = found["Package-manager cache in the image (pip)"]
    assert pip_finding.bytes == 10_240
    assert "ships in the image" in pip_finding.evidence
    assert of(bad, "deleted-later") == []  # the caches are not counted twice
    assert of(fixed, "package-cache") == []


SOURCES = {
    "requirements.txt": b"requests==2.32.3\n",
    "app.py": b"import requests\n" * 100,
    "lib/util.py": b"def f():\n    return 1\n" * 50,
}
INSTALL = (
    'RUN echo "pip install -r /app/requirements.txt" && dd if=/dev/zero of=/deps bs=1k count=100'
)


def test_cache_busting_order(build: Build) -> None:
    bad = build("order", f"COPY . /app\n{INSTALL}", SOURCES)
    fixed = build("order-fixed", f"COPY requirements.txt /app/\n{INSTALL}\nCOPY . /app", SOURCES)
    (found,) = of(bad, "cache-busting-order")
    assert found.title.endswith("(Python)")
    assert [layer.index for layer in found.layers] == [1, 2]
    sizes = [
        info.size or index.uncompressed_size
        for info, index in zip(bad.image.layers, bad.layers, strict=True)
    ]
    assert found.bytes == sum(sizes[1:])
    assert found.fix.after[0] == "COPY requirements.txt ./"
    assert of(fixed, "cache-busting-order") == []


JUNK = {
    "app.py": b"print(1)\n",
    ".git/HEAD": b"ref: refs/heads/main\n",
    ".git/objects/ab/cdef": b"x" * 3000,
    "__pycache__/app.cpython-311.pyc": b"\0" * 500,
    ".env": b"DEBUG=1\n",
}


def test_build_context_junk_and_its_dockerignore(build: Build) -> None:
    bad = build("junk", "COPY . /app", JUNK)
    (found,) = of(bad, "build-context-junk")
    paths = {p.path for p in found.paths}
    assert {"app/.git/HEAD", "app/.git/objects/ab/cdef", "app/.env"} <= paths
    assert "app/app.py" not in paths
    assert {"**/.git", "**/__pycache__", "**/.env*", "Dockerfile"} <= set(found.fix.after)
    # the twin: the same context with the .dockerignore the finding wrote
    ignore = "\n".join(found.fix.after).encode() + b"\n"
    fixed = build("junk-fixed", "COPY . /app", {**JUNK, ".dockerignore": ignore})
    assert of(fixed, "build-context-junk") == []
    assert "app/app.py" in fixed.layers[1].entries


TOOLS = (
    "mkdir -p /usr/lib/gcc/x86_64-linux-gnu/12 /usr/include/foo"
    " && dd if=/dev/zero of=/usr/lib/gcc/x86_64-linux-gnu/12/cc1 bs=1k count=150"
    " && dd if=/dev/zero of=/usr/include/foo/foo.h bs=1k count=10"
    " && echo built > /artefact"
)


def test_build_tools(build: Build, image_factory: services.ImageFactory) -> None:
    bad = build("tools", f"RUN {TOOLS}")
    fixed = build(
        "tools-fixed", f"RUN {TOOLS}\nFROM {image_factory.base}\nCOPY --from=0 /artefact /artefact"
    )
    (found,) = of(bad, "build-tools")
    assert found.bytes == 160 * 1024
    assert "gcc" in found.evidence
    assert "headers" in found.evidence
    assert of(fixed, "build-tools") == []


def test_metadata_only_rewrite(build: Build) -> None:
    files = {"app.bin": b"\x7fELF" + bytes(range(256)) * 80}
    bad = build("chown", "COPY app.bin /app/app.bin\nRUN chown 1000:1000 /app/app.bin", files)
    fixed = build("chown-fixed", "COPY --chown=1000:1000 app.bin /app/app.bin", files)
    (found,) = of(bad, "metadata-only-rewrite")
    assert found.bytes == len(files["app.bin"])
    assert "owner" in found.evidence
    assert found.fix.after == ("COPY --chown=1000:1000 <file> /app/app.bin",)
    assert of(bad, "deleted-later") == []  # the rewrite is not also a deletion
    assert of(fixed, "metadata-only-rewrite") == []


def test_duplicate_content(build: Build) -> None:
    files = {"blob.bin": bytes(range(256)) * 400}
    bad = build("dupes", "COPY blob.bin /a/blob.bin\nCOPY blob.bin /b/blob.bin", files)
    fixed = build(
        "dupes-fixed",
        "COPY blob.bin /a/blob.bin\nRUN mkdir -p /b && ln -s /a/blob.bin /b/blob.bin",
        files,
    )
    (found,) = of(bad, "duplicate-content")
    assert found.bytes == len(files["blob.bin"])
    assert {p.path for p in found.paths} == {"a/blob.bin", "b/blob.bin"}
    assert found.fix.after == ("RUN ln -sf /a/blob.bin /b/blob.bin",)
    assert of(fixed, "duplicate-content") == []


# a token in GitHub's format, built from parts so that scanners do not flag this file
TOKEN = "ghp" + "_" + "Zx9" * 12


def test_secret_in_the_config_is_found_and_never_shown(build: Build, tmp_path: Path) -> None:
    bad = build("env-secret", f"ENV GITHUB_TOKEN={TOKEN}\nLABEL com.example.api-token={TOKEN}")
    fixed = build("env-secret-fixed", "ENV GITHUB_TOKEN_FILE=/run/secrets/github\nLABEL a=b")
    found = of(bad, "secret-in-image")
    assert {f.evidence.split(" (")[0] for f in found} >= {"github-token in the config"}
    assert all(f.severity is Severity.ERROR for f in found)
    assert all(TOKEN not in repr(f) for f in found)
    assert all(TOKEN not in value for value in bad.image.config.env)
    assert all(TOKEN not in value for _, value in bad.image.config.labels)
    assert of(fixed, "secret-in-image") == []
    archive = bad.image.label
    for args in (["--text"], ["--json", "-"], ["--ci", "--ci-format", "json"]):
        done = services.run_cli(archive, *args)
        assert TOKEN not in done.stdout + done.stderr, args
        assert TOKEN[:12] not in done.stdout + done.stderr, args
