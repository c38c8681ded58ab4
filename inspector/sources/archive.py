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

from inspector import documents
from inspector.blobs import (
    HashingReader,
    PeekReader,
    Readable,
    check_blob_size,
    compression_of,
    decompressed,
)
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
    excerpt,
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
    select_manifest,
)
from inspector.model import Image, Platform
from inspector.regularfile import NotRegularFile, open_regular
from inspector.sharing import OtherImage
from inspector.source import LayerOpener, LoadedImage, LoadEvents
from inspector.sources.members import ArchiveMembers
from inspector.tarstream import CHUNK, SYMLINK, TarReader, looks_like_tar

MAX_DOCUMENTS = 256 << 20
"""The most JSON the members of one archive may hold in all (each one within its cap)."""
MAX_LISTED = 5
"""The most image names an error lists."""
_DIGEST_NAMES = ("blobs/sha256/", "sha256:")


@dataclass
class _Members:
    """What one pass over the archive found."""

    layers: dict[str, LayerIndex] = field(default_factory=dict)
    docs: dict[str, bytes] = field(default_factory=dict)
    oversized: dict[str, int] = field(default_factory=dict)  # JSON too large to keep: size
    kept: int = 0  # bytes of JSON kept in `docs`
    aliases: dict[str, str] = field(default_factory=dict)
    other: set[str] = field(default_factory=set)
    spots: dict[str, tuple[int, int]] = field(default_factory=dict)  # layer data offset, size

    def keep(self, name: str, size: int, reader: TarReader, label: str) -> None:
        """Keep a JSON member, unless it is over the largest document cap (then only its
        size is noted, for the error if the metadata names it)."""
        if size > documents.CONFIG.bytes:
            self.oversized[name] = size
            return
        self.kept += size
        if self.kept > MAX_DOCUMENTS:
            raise SourceError(
                f"{label}: holds more than {MAX_DOCUMENTS >> 20} MiB of JSON documents"
            )
        self.docs[name] = b"".join(bytes(c) for c in reader.chunks())

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
        doc = self._top_document(members, "manifest.json")
        if doc is not None:
            doc = self._image_list(doc, label)
            config_name = self._pick_entry(doc, label).get("Config")
            if not isinstance(config_name, str):
                raise ManifestError(f"{label}: manifest.json entry lacks Config")
            config_bytes = self._doc(members, config_name, "manifest.json", documents.CONFIG)
        else:
            index_doc = self._top_document(members, "index.json")
            if index_doc is None:
                raise ManifestError(
                    f"{label}: not an image archive (no manifest.json or index.json)"
                )
            _, manifest, _ = select_manifest(
                index_doc, self._fetcher(members), label, ref=self.ref, platform=self.platform
            )
            config_desc = layer_descriptors(manifest, label)[0]
            config_bytes = self._blob_doc(members, config_desc, documents.CONFIG)
        return OtherImage(self.label, parse_config(config_bytes, f"{label}: config").diff_ids)

    def _read_input(self, events: LoadEvents) -> _Members:
        if self._stream is not None:
            members = self.scan(self._stream.read, events)
        elif self.path == "-":
            members = self.scan(sys.stdin.buffer.read, events)
        else:
            assert self.path is not None
            try:
                handle = open_regular(self.path, self.label, hint=_PIPE_HINT)
            except FileNotFoundError:
                raise SourceNotFound(f"{self.label}: no such file") from None
            except NotRegularFile as exc:
                if exc.kind == "a directory":
                    raise SourceError(
                        f"{self.label}: is a directory without an oci-layout file"
                    ) from None
                raise
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
                elif peek.lstrip()[:1] in (b"{", b"["):
                    members.keep(name, header.size, reader, label)
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
        index = index_blob(
            reader.read_content,
            label,
            progress=events.layer_progress,
            inflated=events.layer_inflated,
        )
        if self.cache is not None:
            self.cache.put(index, hint or "")
        return index

    # --- binding metadata to members -------------------------------------------------
    def bind(self, members: _Members, events: LoadEvents) -> LoadedImage:
        label = self._stream_label
        doc = self._top_document(members, "manifest.json")
        if doc is not None:
            image, names, layers, others = self._bind_docker(members, doc, label)
        else:
            index_doc = self._top_document(members, "index.json")
            if index_doc is None:
                raise ManifestError(
                    f"{label}: not an image archive (no manifest.json or index.json inside)"
                )
            image, names, layers, others = self._bind_oci(members, index_doc, label)
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
                return open_regular(path, self.label)

        if open_file is None:
            return None, (
                "the image was read once from a stream; save it to a file "
                "(docker save -o image.tar IMAGE) to view or extract files"
            )
        spots = [(name, members.spots.get(name)) for name in names]
        return ArchiveMembers(open_file, self._stream_label, spots), ""

    def _top_document(self, members: _Members, name: str) -> Any:
        """`manifest.json` or `index.json` parsed; None when the archive has none."""
        what = f"{self._stream_label}: {name}"
        if name in members.oversized:
            raise documents.MANIFEST.exceeded(what, members.oversized[name])
        data = members.docs.get(name)
        if data is None:
            if name in members.aliases:
                raise ManifestError(f"{what} is a link, not a file")
            return None
        return documents.load(data, what, documents.MANIFEST)

    def _doc(
        self, members: _Members, name: str, what: str, limit: documents.Limit, size: int = -1
    ) -> bytes:
        """The JSON member `what` names as `name`; as long as `size` when it is known."""
        label = self._stream_label
        resolved = members.resolve(name)
        if resolved in members.oversized:
            raise limit.exceeded(f"{label}: {excerpt(resolved)}", members.oversized[resolved])
        data = members.docs.get(resolved)
        if data is None and (resolved in members.other or resolved in members.layers):
            raise ManifestError(f"{label}: {what} names {excerpt(name)}, which is not JSON")
        if data is None:
            raise ManifestError(f"{label}: {what} names missing file {excerpt(name)}")
        if size >= 0:
            check_blob_size(f"{label}: {resolved}", size, len(data))
        claimed = digest_in_name(resolved)
        if claimed is not None and hashlib.sha256(data).hexdigest() != claimed.hex:
            raise DigestMismatch(f"{label}: {resolved} does not match its digest {claimed}")
        return data

    def _blob_doc(self, members: _Members, desc: Descriptor, limit: documents.Limit) -> bytes:
        """The document a descriptor names, checked against the descriptor's size."""
        name = f"blobs/{desc.digest.algorithm}/{desc.digest.hex}"
        return self._doc(members, name, "index", limit, desc.size)

    def _fetcher(self, members: _Members) -> Callable[[Descriptor], bytes]:
        """Manifests and indexes by descriptor, for `select_manifest`."""
        return lambda desc: self._blob_doc(members, desc, documents.MANIFEST)

    @staticmethod
    def _image_list(doc: Any, label: str) -> list[dict[str, Any]]:
        if not isinstance(doc, list) or not doc or not all(isinstance(e, dict) for e in doc):
            raise ManifestError(f"{label}: manifest.json is not a list of images")
        return doc

    def _layer(self, members: _Members, name: str) -> tuple[str, LayerIndex]:
        resolved = members.resolve(name)
        index = members.layers.get(resolved)
        if index is None and resolved in members.other:
            raise LayerFormatError(
                f"{self._stream_label}: layer {excerpt(name)} is not a tar stream "
                "(nor gzip/zstd of one)"
            )
        if index is None:
            raise ManifestError(
                f"{self._stream_label}: manifest names missing layer {excerpt(name)}"
            )
        claimed = digest_in_name(resolved)
        if claimed is not None and index.digest is not None and claimed != index.digest:
            raise DigestMismatch(
                f"{self._stream_label}: layer {resolved} does not match its digest {claimed} "
                f"(computed {index.digest})"
            )
        return resolved, index

    def _bind_docker(
        self, members: _Members, manifest_json: Any, label: str
    ) -> tuple[Image, list[str], list[LayerIndex], tuple[OtherImage, ...]]:
        doc = self._image_list(manifest_json, label)
        entry = self._pick_entry(doc, label)
        config_name = entry.get("Config")
        layer_names = entry.get("Layers")
        if not isinstance(config_name, str) or not isinstance(layer_names, list):
            raise ManifestError(f"{label}: manifest.json entry lacks Config or Layers")
        config_bytes = self._doc(members, config_name, "manifest.json", documents.CONFIG)
        config = parse_config(config_bytes, f"{label}: config {excerpt(config_name)}")
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
        tags = tuple(_repo_tags(entry))
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
            name = ", ".join(_repo_tags(other)) or _short_id(str(other["Config"]))
            try:
                other_config = parse_config(
                    self._doc(members, other["Config"], "manifest.json", documents.CONFIG), label
                )
            except InspectorError:
                continue  # another image's broken metadata does not spoil this one
            others.append(OtherImage(name, other_config.diff_ids))
        return image, [name for name, _ in found], indexes, tuple(others)

    def _pick_entry(self, doc: list[dict[str, Any]], label: str) -> dict[str, Any]:
        if self.ref is not None:
            wanted = normalize_name(self.ref)
            for entry in doc:
                tags = _repo_tags(entry)
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
        self, members: _Members, index_doc: Any, label: str
    ) -> tuple[Image, list[str], list[LayerIndex], tuple[OtherImage, ...]]:
        fetch = self._fetcher(members)
        desc, manifest, tags = select_manifest(
            index_doc, fetch, label, ref=self.ref, platform=self.platform
        )
        config_desc, layer_descs = layer_descriptors(manifest, label)
        config_bytes = self._blob_doc(members, config_desc, documents.CONFIG)
        config = parse_config(config_bytes, f"{label}: config {config_desc.digest}")
        found = [
            self._layer(members, f"blobs/{d.digest.algorithm}/{d.digest.hex}") for d in layer_descs
        ]
        for layer_desc, (name, index) in zip(layer_descs, found, strict=True):
            check_blob_size(f"{label}: layer {name}", layer_desc.size, index.compressed_size)
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
                manifest = documents.load(fetch(desc), label, documents.MANIFEST)
                if not isinstance(manifest, dict):
                    continue
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
    """The first MAX_LISTED image names of `manifest.json`, and how many there are."""
    names: list[str] = []
    for entry in doc:
        names.extend(_repo_tags(entry) or [str(entry.get("Config", "?"))])
    shown = ", ".join(n if len(n) <= 100 else n[:99] + "…" for n in names[:MAX_LISTED])
    return shown + (f", … ({len(names)} names)" if len(names) > MAX_LISTED else "")


def _repo_tags(entry: dict[str, Any]) -> list[str]:
    """An entry's `RepoTags` (null, or anything but a list, reads as none)."""
    tags = entry.get("RepoTags")
    return [str(t) for t in tags] if isinstance(tags, list) else []


_PIPE_HINT = "; to read a stream, pass - and redirect it (inspector - < FILE)"


def _short_id(config_name: str) -> str:
    base = config_name.rsplit("/", 1)[-1].removeprefix("sha256:").removesuffix(".json")
    return base[:12]
