"""The built-in demo image: a small `docker save` archive with the classic mistakes.

Generated on the spot (no Docker, no network), byte for byte what `docker save` writes
for an image built from this Dockerfile:

    FROM debian-slim-ish                 # base layer
    RUN apt-get update && apt-get install -y curl
    RUN rm -rf /var/lib/apt/lists/*      # too late: the lists are stored in the layer above
    COPY . /app                          # the whole build context, .git included
    RUN curl -o /tmp/dataset.tar.gz … && tar -xzf /tmp/dataset.tar.gz -C /app/data
    RUN rm /tmp/dataset.tar.gz           # 24 MB stored, never seen
    RUN sed -i s/debug/info/ /app/config.yaml && chmod +x /app/run.sh   # rewritten files
"""

from __future__ import annotations

import hashlib
import io
import json
import random
import tarfile
from dataclasses import dataclass, field

MB = 1_000_000
CREATED = "2026-11-01T12:00:00Z"


@dataclass
class _Layer:
    command: str
    files: list[tuple[str, bytes, int]] = field(default_factory=list)  # path, data, mode
    dirs: list[str] = field(default_factory=list)
    whiteouts: list[str] = field(default_factory=list)

    def tar(self) -> bytes:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for directory in self.dirs:
                info = tarfile.TarInfo(directory)
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                info.mtime = 1_761_998_400
                tar.addfile(info)
            for path in self.whiteouts:
                head, _, name = path.rpartition("/")
                info = tarfile.TarInfo(f"{head}/.wh.{name}" if head else f".wh.{name}")
                info.mode = 0
                tar.addfile(info, io.BytesIO(b""))
            for path, data, mode in self.files:
                info = tarfile.TarInfo(path)
                info.size = len(data)
                info.mode = mode
                info.mtime = 1_761_998_400
                tar.addfile(info, io.BytesIO(data))
        return buffer.getvalue()


def _blob(rng: random.Random, size: int) -> bytes:
    return rng.randbytes(size)


def _text(lines: int, word: str) -> bytes:
    return "".join(f"{word} line {i}\n" for i in range(lines)).encode()


def _layers() -> list[_Layer]:
    rng = random.Random(20261122)
    base = _Layer("/bin/sh -c #(nop) ADD file:3b1f0c in / ")
    base.dirs = ["bin", "etc", "usr", "usr/lib", "var", "var/lib", "tmp"]
    base.files = [
        ("bin/busybox", _blob(rng, 1_100_000), 0o755),
        ("usr/lib/libc.so.6", _blob(rng, 1_900_000), 0o755),
        ("etc/os-release", b'NAME="Demo Linux"\nVERSION_ID="1"\n', 0o644),
        ("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n", 0o644),
    ]
    apt = _Layer("/bin/sh -c apt-get update && apt-get install -y curl")
    apt.dirs = ["var/lib/apt", "var/lib/apt/lists", "usr/bin", "var/cache/apt"]
    apt.files = [
        (f"var/lib/apt/lists/deb.example.org_dists_{name}_Packages", _blob(rng, size), 0o644)
        for name, size in (("main", 4_200_000), ("contrib", 900_000), ("updates", 1_300_000))
    ]
    apt.files += [
        ("usr/bin/curl", _blob(rng, 320_000), 0o755),
        ("var/cache/apt/pkgcache.bin", _blob(rng, 700_000), 0o644),
    ]
    cleanup = _Layer("/bin/sh -c rm -rf /var/lib/apt/lists/*")
    cleanup.dirs = ["var/lib/apt/lists"]
    cleanup.whiteouts = [path for path, _, _ in apt.files if path.startswith("var/lib/apt/lists/")]
    context = _Layer("/bin/sh -c #(nop) COPY dir:9c0e1a in /app ")
    context.dirs = ["app", "app/src", "app/.git", "app/.git/objects", "app/tests"]
    context.files = [
        ("app/src/main.py", _text(400, "print"), 0o644),
        ("app/config.yaml", b"log_level: debug\nworkers: 4\n", 0o644),
        ("app/run.sh", b"#!/bin/sh\nexec python /app/src/main.py\n", 0o644),
        ("app/.git/objects/pack-1.pack", _blob(rng, 2_600_000), 0o444),
        ("app/tests/fixture.bin", _blob(rng, 800_000), 0o644),
    ]
    fetch = _Layer(
        "/bin/sh -c curl -o /tmp/dataset.tar.gz https://data.example.org/ds.tgz "
        "&& tar -xzf /tmp/dataset.tar.gz -C /app/data"
    )
    fetch.dirs = ["tmp", "app/data"]
    fetch.files = [
        ("tmp/dataset.tar.gz", _blob(rng, 24 * MB), 0o644),
        ("app/data/train.csv", _text(30_000, "sample"), 0o644),
    ]
    remove = _Layer("/bin/sh -c rm /tmp/dataset.tar.gz")
    remove.dirs = ["tmp"]
    remove.whiteouts = ["tmp/dataset.tar.gz"]
    tweak = _Layer("/bin/sh -c sed -i s/debug/info/ /app/config.yaml && chmod +x /app/run.sh")
    tweak.dirs = ["app"]
    tweak.files = [
        ("app/config.yaml", b"log_level: info\nworkers: 4\n", 0o644),
        ("app/run.sh", b"#!/bin/sh\nexec python /app/src/main.py\n", 0o755),
    ]
    return [base, apt, cleanup, context, fetch, remove, tweak]


def build_demo() -> bytes:
    """The demo image as the bytes of a legacy `docker save` archive."""
    layers = _layers()
    blobs = [layer.tar() for layer in layers]
    diff_ids = [f"sha256:{hashlib.sha256(b).hexdigest()}" for b in blobs]
    history: list[dict[str, object]] = []
    for layer in layers:
        history.append({"created": CREATED, "created_by": layer.command})
        if layer is layers[0]:
            history.append(
                {"created": CREATED, "created_by": '/bin/sh -c #(nop)  CMD ["sh"]',
                 "empty_layer": True}
            )  # fmt: skip
    history.append(
        {"created": CREATED, "created_by": "/bin/sh -c #(nop) WORKDIR /app", "empty_layer": True}
    )
    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": CREATED,
        "config": {
            "Env": ["PATH=/usr/local/bin:/usr/bin:/bin", "APP_ENV=demo"],
            "Entrypoint": ["/app/run.sh"],
            "Cmd": ["--serve"],
            "WorkingDir": "/app",
            "User": "1000:1000",
            "ExposedPorts": {"8080/tcp": {}},
            "Labels": {"org.opencontainers.image.title": "inspector demo"},
        },
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history,
    }
    config_bytes = json.dumps(config, sort_keys=True).encode()
    config_name = f"{hashlib.sha256(config_bytes).hexdigest()}.json"
    layer_names = [f"{d.split(':')[1]}/layer.tar" for d in diff_ids]
    manifest = [
        {"Config": config_name, "RepoTags": ["inspector/demo:latest"], "Layers": layer_names}
    ]
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:

        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            info.mtime = 1_761_998_400
            tar.addfile(info, io.BytesIO(data))

        for name, blob in sorted(zip(layer_names, blobs, strict=True)):
            add(name, blob)
        add(config_name, config_bytes)
        add("manifest.json", json.dumps(manifest).encode())
        add("repositories", json.dumps({"inspector/demo": {"latest": diff_ids[-1][7:]}}).encode())
    return out.getvalue()
