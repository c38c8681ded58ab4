"""Which images an audit reads: a registry's catalog or a repository's tags, the local engine,
a directory of `docker save` archives and OCI layouts.

`walk` turns the SOURCE arguments into `Target`s (nothing but listings is read: the
catalog, tag lists, `docker image ls`, directory entries and `index.json` files), and
`describe_all` reads each registry target's manifest and config (never a layer blob),
which names its layers by blob digest and diff_id. What cannot be listed or described
becomes a `Problem`, recorded in the audit's failures; the walk goes on.

Filters: `--include` / `--exclude` globs match `REPOSITORY` or, when the pattern has a
`:`, `REPOSITORY:TAG`; `--max-tags N` keeps the N tags of a repository that sort last in
version order (`v1.10` after `v1.9`), which are usually the newest.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from inspector.errors import InspectorError, UsageError
from inspector.model import Image, Platform
from inspector.registry.client import RegistryClient
from inspector.registry.credentials import Credential
from inspector.registry.reference import ImageReference, parse_reference

REGISTRY = "registry"
ENGINE = "engine"
ARCHIVE = "archive"
OCI = "oci"
ENGINE_SOURCE = "docker-daemon:"
MAX_REPOSITORIES = 100_000
MAX_TAGS = 20_000
TAG_PAGE = 1000
DESCRIBE_THREADS = 8
_EXPLICIT = re.compile(r"[:@][^/]*$")  # the last component names a tag or digest
_NUMBER = re.compile(r"(\d+)")


@dataclass(frozen=True, slots=True)
class Target:
    """One image to audit.

    `name` is what reports show (`host/repo:tag`, an engine tag, a path); `text` is what
    the pipeline reads; `key` is the image's identity: the digest its tag points at (a
    registry: the manifest's or the multi-platform index's; an OCI layout's index entry),
    the engine's image id, or an archive's path, size and mtime.
    """

    name: str
    kind: str
    repository: str
    tag: str
    text: str
    key: str = ""
    registry: str = ""
    chain: tuple[str, ...] = ()  # diff_ids, when the listing tells them (engine)


@dataclass(frozen=True, slots=True)
class Problem:
    """Something the walk could not read: recorded, reported, never fatal."""

    name: str
    stage: str
    message: str


@dataclass(frozen=True, slots=True)
class WalkOptions:
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    max_tags: int | None = None
    creds: str | None = None
    tls_verify: bool = True
    platform: Platform | None = None


@dataclass
class Walk:
    targets: list[Target] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    credentials: dict[tuple[str, str], Credential | None] = field(default_factory=dict)


def kind_of(text: str) -> str:
    """The kind of a SOURCE argument; UsageError for one that is none."""
    if text.startswith("docker://"):
        return REGISTRY
    if os.path.isdir(text):
        return OCI if os.path.isfile(os.path.join(text, "oci-layout")) else ARCHIVE
    raise UsageError(
        f"{text}: not an audit source (docker://REGISTRY[/REPOSITORY], --engine, or a "
        "directory of archives and OCI layouts)"
    )


def walk(sources: Sequence[str], options: WalkOptions, *, engine: bool = False) -> Walk:
    """Every image the sources name, filtered; duplicates (same name) once."""
    found = Walk()
    for text in sources:
        kind = kind_of(text)
        if kind == REGISTRY:
            _walk_registry(text.removeprefix("docker://"), options, found)
        else:
            _walk_directory(text, options, found)
    if engine:
        _walk_engine(options, found)
    seen: set[str] = set()
    unique = []
    for target in found.targets:
        if target.name not in seen:
            seen.add(target.name)
            unique.append(target)
    found.targets = unique
    return found


# --- filters ----------------------------------------------------------------------------
def _matches(pattern: str, repository: str, tag: str | None) -> bool:
    if ":" in pattern:
        if tag is None:  # a repository could still have a matching tag
            return fnmatch.fnmatchcase(repository, pattern.split(":", 1)[0])
        return fnmatch.fnmatchcase(f"{repository}:{tag}", pattern)
    return fnmatch.fnmatchcase(repository, pattern)


def wanted(options: WalkOptions, repository: str, tag: str | None = None) -> bool:
    """Whether `repository` (or `repository:tag`) passes the include and exclude globs."""
    if options.include and not any(_matches(p, repository, tag) for p in options.include):
        return False
    excludes = options.exclude if tag is not None else [p for p in options.exclude if ":" not in p]
    return not any(_matches(p, repository, tag) for p in excludes)


def version_key(tag: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key putting `v1.10` after `v1.9` (numbers compare as numbers)."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part) for part in _NUMBER.split(tag) if part
    )


def newest_tags(tags: Sequence[str], limit: int | None) -> list[str]:
    ordered = sorted(tags, key=version_key)
    return ordered if limit is None else ordered[-limit:] if limit > 0 else []


# --- registry ---------------------------------------------------------------------------
def credential(
    walk_: Walk, options: WalkOptions, registry: str, repository: str
) -> Credential | None:
    """--creds, else the environment, else the auth files (looked up once per repository)."""
    key = (registry, repository)
    if key not in walk_.credentials:
        from inspector.sources.registry import RegistrySource

        source = RegistrySource(f"{registry}/{repository}", registry, creds=options.creds)
        walk_.credentials[key] = source.credential(ImageReference(registry, repository))
    return walk_.credentials[key]


def client_for(walk_: Walk, options: WalkOptions, registry: str, repository: str) -> RegistryClient:
    return RegistryClient(
        ImageReference(registry, repository),
        label=f"{registry}/{repository}",
        credential=credential(walk_, options, registry, repository),
        tls_verify=options.tls_verify,
    )


def _walk_registry(text: str, options: WalkOptions, found: Walk) -> None:
    if "/" not in text.rstrip("/"):
        registry = text.rstrip("/")
        if not registry:
            raise UsageError("docker://: needs a registry host")
        catalog_ref = ImageReference(registry, "catalog")
        with RegistryClient(
            catalog_ref,
            label=registry,
            credential=credential(found, options, registry, ""),
            tls_verify=options.tls_verify,
        ) as client:
            try:
                repositories = client.catalog(MAX_REPOSITORIES)
            except InspectorError as exc:
                found.problems.append(Problem(f"docker://{registry}", "catalog", exc.message))
                return
        for repository in repositories:
            if wanted(options, repository):
                _walk_repository(registry, repository, options, found)
        return
    ref = parse_reference(text, f"docker://{text}")
    if _EXPLICIT.search(text.rsplit("/", 1)[-1]):
        tag = ref.tag or str(ref.digest)
        name = f"{ref.registry}/{ref.repository}{':' if ref.tag else '@'}{tag}"
        found.targets.append(
            Target(name, REGISTRY, ref.repository, tag, f"docker://{name}", registry=ref.registry)
        )
        return
    _walk_repository(ref.registry, ref.repository, options, found)


def _walk_repository(registry: str, repository: str, options: WalkOptions, found: Walk) -> None:
    with client_for(found, options, registry, repository) as client:
        try:
            tags = client.tags(MAX_TAGS, page=TAG_PAGE)
        except InspectorError as exc:
            found.problems.append(Problem(f"{registry}/{repository}", "tags", exc.message))
            return
    kept = newest_tags([t for t in tags if wanted(options, repository, t)], options.max_tags)
    for tag in kept:
        name = f"{registry}/{repository}:{tag}"
        found.targets.append(
            Target(name, REGISTRY, repository, tag, f"docker://{name}", registry=registry)
        )


def describe_all(
    targets: Sequence[Target],
    options: WalkOptions,
    found: Walk,
    known: Callable[[str, str], bool] = lambda name, key: False,
) -> Iterator[tuple[Target, Image | Problem | None]]:
    """Each registry target with its identity (`key`: the digest its tag points at, from a
    HEAD request) and, unless `known(name, key)` says the audit holds it already (None
    then), its manifest and config as an Image whose layers name their blobs. A few
    targets are read at a time."""
    from inspector.sources.registry import RegistrySource

    clients: dict[tuple[str, str], RegistryClient] = {}
    for target in targets:
        pair = (target.registry, target.repository)
        if pair not in clients:
            clients[pair] = client_for(found, options, *pair)

    def one(target: Target) -> tuple[Target, Image | Problem | None]:
        client = clients[target.registry, target.repository]
        reference = target.text.removeprefix("docker://")
        try:
            ref = parse_reference(reference, target.name)
            top = ref.digest or client.head_manifest(ref.reference)
            if top is not None and known(target.name, str(top)):
                return replace(target, key=str(top)), None
            source = RegistrySource(
                reference, target.name, platform=options.platform, tls_verify=options.tls_verify
            )
            image = source.describe(client)
        except InspectorError as exc:
            return target, Problem(target.name, "manifest", exc.message)
        key = str(top or image.manifest_digest or image.config_digest)
        return replace(target, key=key), image

    try:
        with ThreadPoolExecutor(DESCRIBE_THREADS, thread_name_prefix="audit-describe") as pool:
            yield from pool.map(one, targets)
    finally:
        for client in clients.values():
            client.close()


# --- the engine ---------------------------------------------------------------------------
def _walk_engine(options: WalkOptions, found: Walk) -> None:
    from inspector.sources.daemon import DOCKER, connect_any, layer_chain

    client, host = connect_any(DOCKER.hosts(), DOCKER)
    try:
        images: list[Any] = client.images.list()
    except Exception as exc:  # the SDK's errors: one problem, the walk goes on
        found.problems.append(Problem(f"engine {host}", "list", str(exc)[:300]))
        return
    finally:
        client.close()
    for image in images:
        image_id = str(image.id)
        try:
            chain = tuple(str(d) for d in layer_chain(image.attrs))
        except InspectorError:
            chain = ()
        tags = [str(t) for t in image.tags] or [image_id]
        for tag_name in tags:
            repository, tag = split_tag(tag_name) if tag_name != image_id else ("", "")
            if repository and not wanted(options, repository, tag):
                continue
            if not repository and options.include:
                continue
            found.targets.append(
                Target(
                    tag_name if repository else image_id[7:19],
                    ENGINE,
                    repository,
                    tag,
                    f"{ENGINE_SOURCE}{image_id}",
                    key=image_id,
                    chain=chain,
                )
            )


def split_tag(name: str) -> tuple[str, str]:
    """`host:5000/org/app:1` → (`host:5000/org/app`, `1`)."""
    head, _, last = name.rpartition("/")
    if ":" in last:
        repo, _, tag = last.partition(":")
        return (f"{head}/{repo}" if head else repo), tag
    return name, "latest"


# --- a directory ----------------------------------------------------------------------------
def _walk_directory(root: str, options: WalkOptions, found: Walk) -> None:
    if os.path.isfile(os.path.join(root, "oci-layout")):
        _add_layout(root, found)
        return
    for directory, subdirs, files in os.walk(root):
        subdirs.sort()
        for sub in list(subdirs):
            path = os.path.join(directory, sub)
            if os.path.isfile(os.path.join(path, "oci-layout")):
                subdirs.remove(sub)
                _add_layout(path, found)
        for name in sorted(files):
            path = os.path.join(directory, name)
            if _looks_like_archive(path):
                stat = os.stat(path)
                key = f"file:{os.path.abspath(path)}:{stat.st_size}:{stat.st_mtime_ns}"
                found.targets.append(Target(path, ARCHIVE, "", "", f"docker-archive:{path}", key))


def _looks_like_archive(path: str) -> bool:
    try:
        with open(path, "rb") as handle:
            head = handle.read(512)
    except OSError:
        return False
    if head[:2] == b"\x1f\x8b" or head[:4] == b"\x28\xb5\x2f\xfd":
        return True
    return len(head) == 512 and head[257:262] == b"ustar"


def _add_layout(path: str, found: Walk) -> None:
    try:
        with open(os.path.join(path, "index.json"), "rb") as handle:
            doc = json.loads(handle.read(4 << 20))
        manifests = doc.get("manifests") if isinstance(doc, dict) else None
        if not isinstance(manifests, list):
            raise ValueError("index.json has no manifests list")
    except (OSError, ValueError) as exc:
        found.problems.append(Problem(path, "index", f"{path}: {exc}"))
        return
    refs = []
    for desc in manifests:
        if not isinstance(desc, dict):
            continue
        annotations = desc.get("annotations") or {}
        ref = annotations.get("org.opencontainers.image.ref.name") if annotations else None
        refs.append((str(ref) if ref else "", str(desc.get("digest", ""))))
    named = [(ref, digest) for ref, digest in refs if ref]
    if not named:
        digest = refs[0][1] if len(refs) == 1 else ""
        found.targets.append(Target(path, OCI, "", "", f"oci:{path}", digest or f"oci:{path}"))
        return
    for ref, digest in named:
        if ":" in ref or "/" in ref:
            repository, tag = split_tag(ref)
        else:
            repository, tag = os.path.basename(os.path.abspath(path)), ref
        found.targets.append(
            Target(f"{path}:{ref}", OCI, repository, tag, f"oci:{path}:{ref}", digest)
        )
