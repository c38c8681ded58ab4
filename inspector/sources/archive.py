"""`docker save` / `podman save` / oci-archive tars, read in one forward pass.

Every producer puts its metadata (`manifest.json`, `index.json`) after the layers, and a
pipe cannot seek, so each member is classified by its first bytes as it passes: a layer
blob (tar, gzip or zstd) is indexed on the spot, a JSON document is kept, anything else
is skipped. Symlinked and hardlinked members (repeated layers) are recorded as aliases.
Once the stream ends, the metadata binds the indexed members into an image: from
`manifest.json` when present (all `docker save` shapes, kaniko), else from the OCI graph
in `index.json` (buildx `type=oci`, oci-archive). The same code reads a file, an outer
gzip/zstd, standard input and an engine's save stream.
"""

from __future__ import annotations

import hashlib
import posixpath
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, BinaryIO

from inspector.blobs import HashingReader, PeekReader, Readable, compression_of, decompressed
from inspector.cache import LayerCache, name_hint
from inspector.digest import Digest
from inspector.errors import (
    CorruptStream,
    DigestMismatch,
    ImageNotFound,
    InspectorError,
    LayerFormatError,
    ManifestError,
    SourceError,
    SourceNotFound,
)
from inspector.indexer import LayerIndex, index_blob, normalize
from inspector.manifest import (
    MANIFEST_TYPES,
    REF_NAME,
    Config,
    Descriptor,
    build_layers,
    layer_descriptors,
    media_type_for,
    normalize_name,
    parse_config,
    parse_descriptor,
    parse_json,
    select_manifest,
)
from inspector.model import Image, Platform
from inspector.sharing import OtherImage
from inspector.source import LayerOpener, LoadedImage, LoadEvents
from inspector.sources.members import ArchiveMembers
from inspector.tarstream import CHUNK, SYMLINK, TarReader, looks_like_tar

MAX_JSON = 64 << 20
_DIGEST_NAMES = ("blobs/sha256/", "sha256:")


@dataclass
class _Members:
    """What one pass over the archive found."""

    layers: dict[str, LayerIndex] = field(default_factory=dict)
    docs: dict[str, bytes] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    other: set[str] = field(default_factory=set)
    spots: dict[str, tuple[int, int]] = field(default_factory=dict)  # layer data offset, size

    def resolve(self, name: str) -> str:
        seen: set[str] = set()
        name = normalize(name)[0]
        while name in self.aliases and name not in seen:
            seen.add(name)
            name = self.aliases[name]
        return name


def digest_in_name(name: str) -> Digest | None:
    """The digest a member's name claims for its content, if it claims one."""
    base = name
    for prefix in _DIGEST_NAMES:
        if name.startswith(prefix):
            base = name[len(prefix) :]
            break
    else:
        if name.endswith(".json") and "/" not in name:
            base = name[: -len(".json")]
        else:
            return None
    if Digest.is_valid(f"sha256:{base}"):
        return Digest("sha256", base)
    return None


class ArchiveSource:
    """An image archive on disk (`path`) or arriving on a stream (`stream`)."""

    _skip_layers = False  # chain(): skip layer blobs unread

    def __init__(
        self,
        path: str | None,
        label: str,
        *,
        ref: str | None = None,
        platform: Platform | None = None,
        stream: Readable | None = None,
        stream_label: str | None = None,
        cache: LayerCache | None = None,
        reopen_file: Callable[[], BinaryIO] | None = None,
    ) -> None:
        """`reopen_file` gives the archive again for file contents when `path` cannot
        (an archive held in memory); without it a stream cannot be read again."""
        self.cache = cache
        self._reopen_file = reopen_file
        self.path = path
        self.label = label
        self.ref = ref
        self.platform = platform
        self._stream = stream
        self._stream_label = stream_label or label

    def load(self, events: LoadEvents) -> LoadedImage:
        return self.bind(self._read_input(events), events)

    def chain(self) -> OtherImage:
        """Only the image's layer chain: one pass that skips over every layer blob (seeking
        past it in a file, reading through it in a stream), then the manifest and config."""
        self._skip_layers = True
        members = self._read_input(LoadEvents())
        label = self._stream_label
        if "manifest.json" in members.docs:
            doc = parse_json(members.docs["manifest.json"], f"{label}: manifest.json")
            if not isinstance(doc, list) or not doc or not all(isinstance(e, dict) for e in doc):
                raise ManifestError(f"{label}: manifest.json is not a list of images")
            config_name = self._pick_entry(doc, label).get("Config")
            if not isinstance(config_name, str):
                raise ManifestError(f"{label}: manifest.json entry lacks Config")
            config_bytes = self._doc(members, config_name, "manifest.json")
        elif "index.json" in members.docs:

            def fetch(desc: Descriptor) -> bytes:
                return self._doc(
                    members, f"blobs/{desc.digest.algorithm}/{desc.digest.hex}", "index"
                )

            index_doc = parse_json(members.docs["index.json"], f"{label}: index.json")
            _, manifest, _ = select_manifest(
                index_doc, fetch, label, ref=self.ref, platform=self.platform
            )
            config_bytes = fetch(layer_descriptors(manifest, label)[0])
        else:
            raise ManifestError(f"{label}: not an image archive (no manifest.json or index.json)")
        return OtherImage(self.label, parse_config(config_bytes, f"{label}: config").diff_ids)

    def _read_input(self, events: LoadEvents) -> _Members:
        if self._stream is not None:
            members = self.scan(self._stream.read, events)
        elif self.path == "-":
            members = self.scan(sys.stdin.buffer.read, events)
        else:
            assert self.path is not None
            try:
                handle = open(self.path, "rb")  # noqa: SIM115 - closed below
            except FileNotFoundError:
                raise SourceNotFound(f"{self.label}: no such file") from None
            except IsADirectoryError:
                raise SourceError(
                    f"{self.label}: is a directory without an oci-layout file"
                ) from None
            except OSError as exc:
                raise SourceError(f"{self.label}: cannot open ({exc.strerror})") from None
            with handle:
                members = self.scan(handle.read, events, seek=lambda n: handle.seek(n, 1))
        return members

    # --- the pass -----------------------------------------------------------------
    def scan(
        self,
        read: Callable[[int], bytes],
        events: LoadEvents,
        *,
        seek: Callable[[int], object] | None = None,
    ) -> _Members:
        label = self._stream_label
        try:
            inner, outer_compression = decompressed(read, label)
        except OSError as exc:
            raise SourceError(f"{label}: cannot read ({exc})") from None
        first = PeekReader(inner)
        head = first.peek(1024)
        if not head:
            raise SourceError(f"{label}: empty input, not an image archive")
        if not looks_like_tar(head):
            raise SourceError(f"{label}: not a tar archive, so not an image archive")
        members = _Members()
        plain = outer_compression == "none"
        position = _Position(first.read, seek if plain else None)
        reader = TarReader(position.read, label, seek=position.seek if seek and plain else None)
        try:
            for header in reader:
                name, _ = normalize(header.name)
                if header.type == SYMLINK:
                    target = posixpath.normpath(
                        posixpath.join(posixpath.dirname(name), header.linkname)
                    )
                    members.aliases[name] = target.lstrip("/")
                    continue
                if header.type == "1":
                    members.aliases[name] = normalize(header.linkname)[0]
                    continue
                if header.type != "0" or header.size == 0:
                    continue
                peek = reader.peek_content(1024)
                if compression_of(peek) != "none" or looks_like_tar(peek):
                    if self._skip_layers:
                        continue  # only the layer chain is wanted (chain): not read
                    events.layer_started(name, header.size)
                    if plain:
                        members.spots[name] = (position.count - reader.buffered, header.size)
                    index = self._layer_member(
                        reader, name, seekable=seek is not None, events=events
                    )
                    members.layers[name] = index
                    events.layer_done(name, index)
                elif peek.lstrip()[:1] in (b"{", b"[") and header.size <= MAX_JSON:
                    members.docs[name] = b"".join(bytes(c) for c in reader.chunks())
                else:
                    members.other.add(name)
        except CorruptStream as exc:
            if "truncated" in exc.message and label not in exc.message:
                raise CorruptStream(f"{label}: truncated archive") from None
            raise
        return members

    def _layer_member(
        self, reader: TarReader, name: str, *, seekable: bool, events: LoadEvents
    ) -> LayerIndex:
        """Index one layer member, or take it from the cache by the digest in its name.

        A cached layer is skipped unparsed: seeked over in a file, or only hashed (and
        checked against what the cache recorded for that name) in a stream.
        """
        label = f"{self._stream_label}: layer {name}"
        hint = name_hint(name) if self.cache is not None else None
        cached = self.cache.lookup(hint) if self.cache is not None and hint else None
        if (
            self.cache is not None
            and hint is not None
            and cached is not None
            and cached.compressed_size == reader.remaining
        ):
            size = reader.remaining
            if seekable:
                reader.skip_content()
            else:
                check = HashingReader(reader.read_content)
                while check.read(CHUNK):
                    pass
                if check.hexdigest() != str(cached.digest).split(":", 1)[-1]:
                    self.cache.forget_hint(hint)
                    raise DigestMismatch(
                        f"{label}: differs from the layer cached under that name; "
                        "run again (or use --no-cache)"
                    )
            events.layer_progress(size)
            return cached
        index = index_blob(reader.read_content, label, progress=events.layer_progress)
        if self.cache is not None:
            self.cache.put(index, hint or "")
        return index

    # --- binding metadata to members -------------------------------------------------
    def bind(self, members: _Members, events: LoadEvents) -> LoadedImage:
        label = self._stream_label
        if "manifest.json" in members.docs:
            image, names, layers, others = self._bind_docker(members, label)
        elif "index.json" in members.docs:
            image, names, layers, others = self._bind_oci(members, label)
        else:
            raise ManifestError(
                f"{label}: not an image archive (no manifest.json or index.json inside)"
            )
        events.image_known(image)
        warnings = tuple(
            f"layer {i}: {w}" if not w.startswith(label) else w
            for i, index in enumerate(layers)
            for w in index.warnings
        )
        reopen, note = self._reopener(members, names)
        return LoadedImage(image, tuple(layers), warnings, others, reopen, note)

    def _reopener(self, members: _Members, names: list[str]) -> tuple[LayerOpener | None, str]:
        """How to read a layer again: seek to its member in the file (or rescan it)."""
        open_file = self._reopen_file
        if open_file is None and self._stream is None and self.path not in (None, "-"):
            path = self.path
            assert path is not None

            def open_file() -> BinaryIO:
                return open(path, "rb")

        if open_file is None:
            return None, (
                "the image was read once from a stream; save it to a file "
                "(docker save -o image.tar IMAGE) to view or extract files"
            )
        spots = [(name, members.spots.get(name)) for name in names]
        return ArchiveMembers(open_file, self._stream_label, spots), ""

    def _doc(self, members: _Members, name: str, what: str) -> bytes:
        resolved = members.resolve(name)
        data = members.docs.get(resolved)
        if data is None and (resolved in members.other or resolved in members.layers):
            raise ManifestError(f"{self._stream_label}: {what} names {name!r}, which is not JSON")
        if data is None:
            raise ManifestError(f"{self._stream_label}: {what} names missing file {name!r}")
        claimed = digest_in_name(resolved)
        if claimed is not None and hashlib.sha256(data).hexdigest() != claimed.hex:
            raise DigestMismatch(
                f"{self._stream_label}: {resolved} does not match its digest {claimed}"
            )
        return data

    def _layer(self, members: _Members, name: str) -> tuple[str, LayerIndex]:
        resolved = members.resolve(name)
        index = members.layers.get(resolved)
        if index is None and resolved in members.other:
            raise LayerFormatError(
                f"{self._stream_label}: layer {name!r} is not a tar stream (nor gzip/zstd of one)"
            )
        if index is None:
            raise ManifestError(f"{self._stream_label}: manifest names missing layer {name!r}")
        claimed = digest_in_name(resolved)
        if claimed is not None and index.digest is not None and claimed != index.digest:
            raise DigestMismatch(
                f"{self._stream_label}: layer {resolved} does not match its digest {claimed} "
                f"(computed {index.digest})"
            )
        return resolved, index

    def _bind_docker(
        self, members: _Members, label: str
    ) -> tuple[Image, list[str], list[LayerIndex], tuple[OtherImage, ...]]:
        doc = parse_json(members.docs["manifest.json"], f"{label}: manifest.json")
        if not isinstance(doc, list) or not doc or not all(isinstance(e, dict) for e in doc):
            raise ManifestError(f"{label}: manifest.json is not a list of images")
        entry = self._pick_entry(doc, label)
        config_name = entry.get("Config")
        layer_names = entry.get("Layers")
        if not isinstance(config_name, str) or not isinstance(layer_names, list):
            raise ManifestError(f"{label}: manifest.json entry lacks Config or Layers")
        config_bytes = self._doc(members, config_name, "manifest.json")
        config = parse_config(config_bytes, f"{label}: config {config_name}")
        found = [self._layer(members, str(n)) for n in layer_names]
        indexes = [index for _, index in found]
        self._check_diff_ids(config, indexes, label)
        infos = build_layers(
            config,
            [
                (i.digest, media_type_for(i.compression), i.compressed_size, normalize(str(n))[0])
                for n, (_, i) in zip(layer_names, found, strict=True)
            ],
        )
        # a layer the manifest names through a link (a repeated layer in a legacy save)
        infos = tuple(
            replace(info, aliased=True) if normalize(str(n))[0] in members.aliases else info
            for n, info in zip(layer_names, infos, strict=True)
        )
        tags = tuple(str(t) for t in (entry.get("RepoTags") or []))
        image = Image(
            label=self.label,
            tags=tags,
            config_digest=Digest.sha256_of(config_bytes),
            platform=config.platform,
            layers=infos,
            history=config.history,
            config=config.runtime,
            created=config.created,
        )
        others: list[OtherImage] = []
        for other in doc:
            if other is entry or not isinstance(other.get("Config"), str):
                continue
            name = ", ".join(str(t) for t in other.get("RepoTags") or []) or _short_id(
                str(other["Config"])
            )
            try:
                other_config = parse_config(
                    self._doc(members, other["Config"], "manifest.json"), label
                )
            except InspectorError:
                continue  # another image's broken metadata does not spoil this one
            others.append(OtherImage(name, other_config.diff_ids))
        return image, [name for name, _ in found], indexes, tuple(others)

    def _pick_entry(self, doc: list[dict[str, Any]], label: str) -> dict[str, Any]:
        if self.ref is not None:
            wanted = normalize_name(self.ref)
            for entry in doc:
                tags = [str(t) for t in entry.get("RepoTags") or []]
                if self.ref in tags or any(normalize_name(t) == wanted for t in tags):
                    return entry
                config = str(entry.get("Config", ""))
                if len(self.ref) >= 12 and self.ref.removeprefix("sha256:") in config:
                    return entry
            raise ImageNotFound(
                f"{label}: no image tagged {self.ref!r} (available: {_listing(doc)})"
            )
        if len(doc) > 1:
            raise ImageNotFound(
                f"{label}: holds {len(doc)} images; pick one with NAME:TAG after the path "
                f"(available: {_listing(doc)})"
            )
        return doc[0]

    def _bind_oci(
        self, members: _Members, label: str
    ) -> tuple[Image, list[str], list[LayerIndex], tuple[OtherImage, ...]]:
        index_doc = parse_json(members.docs["index.json"], f"{label}: index.json")

        def fetch(desc: Descriptor) -> bytes:
            return self._doc(members, f"blobs/{desc.digest.algorithm}/{desc.digest.hex}", "index")

        desc, manifest, tags = select_manifest(
            index_doc, fetch, label, ref=self.ref, platform=self.platform
        )
        config_desc, layer_descs = layer_descriptors(manifest, label)
        config_bytes = fetch(config_desc)
        config = parse_config(config_bytes, f"{label}: config {config_desc.digest}")
        found = [
            self._layer(members, f"blobs/{d.digest.algorithm}/{d.digest.hex}") for d in layer_descs
        ]
        indexes = [index for _, index in found]
        self._check_diff_ids(config, indexes, label)
        infos = build_layers(
            config,
            [
                (i.digest, d.media_type or media_type_for(i.compression), i.compressed_size, n)
                for d, (n, i) in zip(layer_descs, found, strict=True)
            ],
        )
        image = Image(
            label=self.label,
            tags=tags,
            config_digest=config_desc.digest,
            platform=config.platform or desc.platform,
            layers=infos,
            history=config.history,
            config=config.runtime,
            created=config.created,
            manifest_digest=desc.digest,
        )
        others = self._other_oci_images(index_doc, desc, fetch, label)
        return image, [name for name, _ in found], indexes, others

    def _other_oci_images(
        self, index_doc: Any, chosen: Descriptor, fetch: Callable[[Descriptor], bytes], label: str
    ) -> tuple[OtherImage, ...]:
        others: list[OtherImage] = []
        entries = index_doc.get("manifests") if isinstance(index_doc, dict) else None
        for raw in entries or []:
            try:
                desc = parse_descriptor(raw, label)
                if desc.digest == chosen.digest or desc.media_type not in MANIFEST_TYPES:
                    continue
                manifest = parse_json(fetch(desc), label)
                config_desc, _ = layer_descriptors(manifest, label)
                config = parse_config(fetch(config_desc), label)
            except InspectorError:
                continue
            name = desc.annotations.get(REF_NAME) or desc.digest.short
            others.append(OtherImage(name, config.diff_ids))
        return tuple(others)

    def _check_diff_ids(self, config: Config, indexes: list[LayerIndex], label: str) -> None:
        if len(config.diff_ids) != len(indexes):
            raise ManifestError(
                f"{label}: config lists {len(config.diff_ids)} diff_ids but the manifest "
                f"{len(indexes)} layers"
            )
        for position, (expected, index) in enumerate(zip(config.diff_ids, indexes, strict=True)):
            if index.diff_id != expected:
                raise DigestMismatch(
                    f"{label}: layer {position} uncompresses to {index.diff_id}, "
                    f"but the config says {expected}"
                )


class _Position:
    """Counts the archive bytes the tar reader has taken (read or seeked over)."""

    def __init__(self, read: Callable[[int], bytes], seek: Callable[[int], object] | None):
        self._read = read
        self._seek = seek
        self.count = 0

    def read(self, n: int) -> bytes:
        data = self._read(n)
        self.count += len(data)
        return data

    def seek(self, n: int) -> None:
        assert self._seek is not None
        self._seek(n)
        self.count += n


def _listing(doc: list[dict[str, Any]]) -> str:
    names: list[str] = []
    for entry in doc:
        tags = [str(t) for t in entry.get("RepoTags") or []]
        names.extend(tags or [str(entry.get("Config", "?"))])
    return ", ".join(names)


def _short_id(config_name: str) -> str:
    base = config_name.rsplit("/", 1)[-1].removeprefix("sha256:").removesuffix(".json")
    return base[:12]
