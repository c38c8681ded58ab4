"""Turn an analysis into the JSON document (`--json`) and the text summary.

The JSON is a superset of dive's `--json` document: `layer[]` and `image{sizeBytes,
inefficientBytes, efficiencyScore, fileReference[]}` carry dive-compatible values under
dive's keys; everything else (the exact accounting under `image.exact`, digests, sizes,
change counts, warnings) is added beside them. NaN and infinity become null.

Values are exact and the text is valid UTF-8: a name that is not UTF-8 gets a `…Bytes`
sibling with its bytes, and every other string is made valid (`inspector.jsontext`).
The text summary (`summary`) shows image-supplied text `display.clean`ed instead.

Both carry the findings (`inspector.findings`) as detected, most severe then largest
first: the JSON under `findings[]`, the text summary in a "Findings" section.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from inspector import formatting
from inspector.analysis import Analysis, WastedFile
from inspector.changes import Removal
from inspector.display import clean, one_line
from inspector.dive import DiveNumbers, Inefficiency, dive_view, file_list, file_list_chunks
from inspector.findings.model import Finding, Severity
from inspector.indexer import LayerIndex
from inspector.jsontext import name_fields, name_json, valid_strings
from inspector.model import Image
from inspector.sharing import Sharing

SCHEMA_VERSION = 1


def _number(value: float) -> float | None:
    return None if math.isnan(value) or math.isinf(value) else value


def dive_layer_id(source_id: str, diff_id: str) -> str:
    """dive's layer `id`: the first component of the layer's name in the archive.

    For OCI-shaped archives dive reports the literal `blobs` for every layer; we give
    the blob's hex digest there instead (docs/metrics.md).
    """
    head = source_id.split("/", 1)[0] if source_id else ""
    if not head or head == "blobs":
        return diff_id.split(":", 1)[-1]
    return head


def image_config(image: Image) -> dict[str, Any]:
    cfg = image.config
    return {
        "entrypoint": list(cfg.entrypoint) if cfg.entrypoint is not None else None,
        "cmd": list(cfg.cmd) if cfg.cmd is not None else None,
        "env": list(cfg.env),
        "user": cfg.user,
        "workdir": cfg.workdir,
        "exposedPorts": list(cfg.exposed_ports),
        "labels": dict(cfg.labels),
    }


def document(
    analysis: Analysis,
    dive: DiveNumbers,
    layers: tuple[LayerIndex, ...],
    warnings: tuple[str, ...],
    *,
    shared: Sharing | None = None,
    file_lists: bool = True,
    findings: tuple[Finding, ...] = (),
) -> dict[str, Any]:
    return _document(
        analysis, dive, layers, warnings, shared, file_lists=file_lists, findings=findings
    )


def _document(
    analysis: Analysis,
    dive: DiveNumbers,
    layers: tuple[LayerIndex, ...],
    warnings: tuple[str, ...],
    shared: Sharing | None,
    *,
    file_lists: bool,
    lists: bool = True,
    findings: tuple[Finding, ...] = (),
) -> dict[str, Any]:
    """The document; without `lists`, fileReference and wastedFiles are left empty."""
    image = analysis.image
    layer_docs: list[dict[str, Any]] = []
    seen_by_dive = dive_view(image, layers)
    for info, stats, index, dive_index in zip(
        image.layers, analysis.layers, layers, seen_by_dive, strict=True
    ):
        layer_docs.append(
            {
                "index": info.position,
                "id": dive_layer_id(info.source_id, str(info.diff_id)),
                "digestId": str(info.diff_id),
                "sizeBytes": dive_index.tar_bytes,
                "command": formatting.dive_command(info.created_by),
                "fileList": [],  # filled in below, after valid_strings (its names are valid)
                "digest": str(info.digest) if info.digest else None,
                "diffId": str(info.diff_id),
                "mediaType": info.media_type,
                "compressedBytes": index.compressed_size,
                "uncompressedBytes": index.uncompressed_size,
                "createdBy": info.created_by,
                "created": info.history.created if info.history else None,
                "added": stats.added,
                "modified": stats.modified,
                "removed": stats.removed,
                "unchanged": stats.unchanged,
                "addedBytes": stats.added_bytes,
                "modifiedBytes": stats.modified_bytes,
                "removedBytes": stats.removed_bytes,
                "storedBytes": stats.stored_bytes,
                "wastedBytes": stats.wasted_bytes,
                "contributionBytes": stats.contribution,
                "cumulativeBytes": stats.cumulative,
                "sharedWith": list(shared.shared_with[info.position]) if shared else [],
            }
        )
    exact = analysis.exact
    doc: dict[str, Any] = {
        "layer": layer_docs,
        "image": {
            "sizeBytes": dive.size_bytes,
            "inefficientBytes": dive.wasted_bytes,
            "efficiencyScore": _number(dive.efficiency),
            "fileReference": [_file_reference(i) for i in (dive.inefficiencies if lists else ())],
            "userSizeBytes": dive.user_size_bytes,
            "userWastedPercent": _number(dive.user_wasted_percent),
            "name": image.label,
            "tags": list(image.tags),
            "platform": str(image.platform) if image.platform else None,
            "configDigest": str(image.config_digest),
            "manifestDigest": str(image.manifest_digest) if image.manifest_digest else None,
            "created": image.created,
            "config": image_config(image),
            "compressedBytes": sum(index.compressed_size for index in layers),
            "sharedBytes": shared.shared_bytes if shared else 0,
            "uniqueBytes": shared.unique_bytes
            if shared
            else sum(index.uncompressed_size for index in layers),
            "exact": {
                "storedBytes": exact.stored_bytes,
                "visibleBytes": exact.visible_bytes,
                "wastedBytes": exact.wasted_bytes,
                "efficiency": exact.efficiency,
                "userWastedPercent": exact.user_wasted_percent,
                "wastedFiles": [_wasted_file(w) for w in (exact.wasted_files if lists else ())],
            },
        },
        "findings": [finding_document(f) for f in findings],
        "warnings": list(warnings),
        "schemaVersion": SCHEMA_VERSION,
    }
    doc = valid_strings(doc)  # history, labels, tags… from JSON that may hold lone surrogates
    if file_lists:
        for layer_doc, dive_index in zip(doc["layer"], seen_by_dive, strict=True):
            layer_doc["fileList"] = file_list(dive_index)
    return doc


def _file_reference(item: Inefficiency) -> dict[str, Any]:
    return {
        "count": item.count,
        "sizeBytes": item.cumulative_size,
        **name_fields("file", item.path),
    }


def finding_document(finding: Finding) -> dict[str, Any]:
    """A finding as the JSON reports give it (`findings[]`, docs/findings.md): exact
    values, paths absolute, a path that is not UTF-8 with its `pathBytes`."""
    return {
        "id": finding.id,
        "title": finding.title,
        "severity": finding.severity.value,
        "bytes": finding.bytes,
        "layers": [{"index": ref.index, "command": ref.command} for ref in finding.layers],
        "paths": [
            {**name_fields("path", "/" + ref.path), "bytes": ref.bytes} for ref in finding.paths
        ],
        "pathCount": finding.path_count,
        "evidence": finding.evidence,
        "fix": {
            "text": finding.fix.text,
            "before": list(finding.fix.before),
            "after": list(finding.fix.after),
        },
    }


def _wasted_file(wasted: WastedFile) -> dict[str, Any]:
    return {
        **name_fields("path", "/" + wasted.path),
        "bytes": wasted.size,
        "storedIn": wasted.stored_in,
        "hiddenBy": wasted.hidden_by,
        "how": str(wasted.how),
    }


def dumps(doc: dict[str, Any]) -> str:
    return json.dumps(doc, allow_nan=False, separators=(",", ":")) + "\n"


def render_chunks(
    analysis: Analysis,
    dive: DiveNumbers,
    layers: tuple[LayerIndex, ...],
    warnings: tuple[str, ...],
    *,
    shared: Sharing | None = None,
    file_lists: bool = True,
    file_list_chunks: Callable[[LayerIndex], Iterable[bytes]] | None = None,
    findings: tuple[Finding, ...] = (),
) -> Iterator[bytes]:
    """`dumps(document(...))` encoded as UTF-8, byte for byte, in pieces, faster: each
    layer's fileList (most of the document), fileReference and wastedFiles are built as
    JSON text and given where a unique placeholder string was encoded, a few thousand
    entries at a time, so the document is never held whole. `file_list_chunks` gives a
    layer's fileList (`results.file_list_chunks` takes it from the cache; by default
    `dive.file_list_chunks`)."""
    doc = _document(
        analysis, dive, layers, warnings, shared, file_lists=False, lists=False, findings=findings
    )
    token = f"inspector-rendered-{uuid.uuid4().hex}-"
    image = doc["image"]
    image["fileReference"] = f"{token}R"
    image["exact"]["wastedFiles"] = f"{token}W"
    if file_lists:
        for position, layer in enumerate(doc["layer"]):
            layer["fileList"] = f"{token}{position}"
    pieces = dumps(doc).split(f'"{token}')
    seen_by_dive = dive_view(analysis.image, layers)
    lists = file_list_chunks or _file_list_bytes
    yield pieces[0].encode()
    for piece in pieces[1:]:
        name, _, rest = piece.partition('"')
        if name == "R":
            yield from _array(_reference_rows(dive.inefficiencies))
        elif name == "W":
            yield from _array(_wasted_rows(analysis.exact.wasted_files))
        else:
            yield from lists(seen_by_dive[int(name)])
        yield rest.encode()


def render(
    analysis: Analysis,
    dive: DiveNumbers,
    layers: tuple[LayerIndex, ...],
    warnings: tuple[str, ...],
    *,
    shared: Sharing | None = None,
    file_lists: bool = True,
    findings: tuple[Finding, ...] = (),
) -> str:
    """`dumps(document(...))`, byte for byte: `render_chunks` joined."""
    chunks = render_chunks(
        analysis, dive, layers, warnings, shared=shared, file_lists=file_lists, findings=findings
    )
    return b"".join(chunks).decode("utf-8")


def _file_list_bytes(index: LayerIndex) -> Iterator[bytes]:
    for chunk in file_list_chunks(index):
        yield chunk.encode("ascii")


_encode_string: Callable[[str], str] = json.encoder.encode_basestring_ascii  # as json.dumps
_ROWS = 8192  # entries per piece of fileReference and wastedFiles


def _array(texts: Iterator[str]) -> Iterator[bytes]:
    """A JSON array from pieces of rows, each row starting with a comma."""
    first = True
    for text in texts:
        yield ("[" + text[1:] if first else text).encode("ascii")
        first = False
    yield b"[]" if first else b"]"


def _reference_rows(items: Sequence[Inefficiency]) -> Iterator[str]:
    """fileReference's rows; a name that is not UTF-8 with its `fileBytes` (the rare
    piece holding one is built again through `jsontext.name_json`)."""
    enc = _encode_string
    for start in range(0, len(items), _ROWS):
        rows = items[start : start + _ROWS]
        text = "".join(
            [
                f',{{"count":{i.count},"sizeBytes":{i.cumulative_size},"file":{enc(i.path)}}}'
                for i in rows
            ]
        )
        if "\\ud" in text:  # a lone surrogate (or a mere "\ud"): see jsontext
            text = "".join(
                [
                    f',{{"count":{i.count},"sizeBytes":{i.cumulative_size},'
                    f'"file":{name_json(i.path, "fileBytes")}}}'
                    for i in rows
                ]
            )
        yield text


def _wasted_rows(items: Sequence[WastedFile]) -> Iterator[str]:
    """wastedFiles' rows, as `_reference_rows` (`pathBytes`)."""
    enc = _encode_string
    hows = {how: enc(str(how)) for how in Removal}
    for start in range(0, len(items), _ROWS):
        rows = items[start : start + _ROWS]
        text = "".join(
            [
                f',{{"path":{enc("/" + path)},"bytes":{size},"storedIn":{stored_in},'
                f'"hiddenBy":{hidden_by},"how":{hows[how]}}}'
                for path, size, stored_in, hidden_by, how in rows
            ]
        )
        if "\\ud" in text:
            text = "".join(
                [
                    f',{{"path":{name_json("/" + w.path, "pathBytes")},"bytes":{w.size},'
                    f'"storedIn":{w.stored_in},"hiddenBy":{w.hidden_by},"how":{hows[w.how]}}}'
                    for w in rows
                ]
            )
        yield text


def summary(
    analysis: Analysis,
    dive: DiveNumbers,
    warnings: tuple[str, ...],
    shared: Sharing | None = None,
    findings: tuple[Finding, ...] = (),
) -> str:
    """The plain-text summary `inspector IMAGE` prints when no terminal UI is wanted.

    Every image-supplied string in it is `display.clean`ed: one line each, nothing a
    terminal acts on."""
    image = analysis.image
    exact = analysis.exact
    lines = [f"Image: {clean(image.label)}"]
    if image.tags:
        lines.append(f"Tags: {', '.join(map(clean, image.tags))}")
    if image.platform:
        lines.append(f"Platform: {clean(str(image.platform))}")
    lines.append("")
    lines.append(f"{'#':>3}  {'Stored':>9}  {'Adds':>9}  {'+':>6} {'~':>6} {'-':>6}  "
                 f"{'Wasted':>9}  Command")  # fmt: skip
    for info, stats in zip(image.layers, analysis.layers, strict=True):
        marker = "*" if shared is not None and shared.is_shared(info.position) else " "
        lines.append(
            f"{info.position:>3}{marker} {formatting.size(info.size):>9}  "
            f"{formatting.signed_size(stats.contribution):>9}  "
            f"{stats.added:>6} {stats.modified:>6} {stats.removed:>6}  "
            f"{formatting.size(stats.wasted_bytes):>9}  "
            f"{clean(formatting.command(info.created_by)[:80])}"
        )
    lines.append("")
    lines.append(f"Stored in layers:   {formatting.size(exact.stored_bytes)}")
    lines.append(f"Visible at the end: {formatting.size(exact.visible_bytes)}")
    lines.append(
        f"Wasted (exact):     {formatting.size(exact.wasted_bytes)} "
        f"({exact.wasted_bytes} bytes), efficiency {formatting.percent(exact.efficiency)}"
    )
    lines.append(
        f"dive-compatible:    efficiency {formatting.percent(dive.efficiency)}, "
        f"wastedBytes {dive.wasted_bytes}, userWastedPercent "
        f"{formatting.percent(dive.user_wasted_percent)}"
    )
    if shared is not None and shared.shared_bytes:
        lines.append(
            f"Shared with other images: {formatting.size(shared.shared_bytes)} "
            f"(layers marked *), unique: {formatting.size(shared.unique_bytes)}"
        )
    if exact.wasted_files:
        lines.append("")
        lines.append(f"{'Wasted':>9}  {'Stored':>6}  {'Hidden':>6}  {'How':<15} Path")
        for wasted in exact.wasted_files[:20]:
            lines.append(
                f"{formatting.size(wasted.size):>9}  {wasted.stored_in:>6}  "
                f"{wasted.hidden_by:>6}  {wasted.how:<15} {clean('/' + wasted.path)}"
            )
        more = len(exact.wasted_files) - 20
        if more > 0:
            lines.append(f"... and {more} more (see --json)")
    lines.append("")
    lines += finding_lines(findings)
    for warning in warnings:
        lines.append(f"warning: {one_line(warning)}")
    return "\n".join(lines) + "\n"


def finding_lines(findings: tuple[Finding, ...]) -> list[str]:
    """The summary's "Findings" section: per finding its severity, id, bytes and title,
    the evidence, the fix and its Dockerfile lines (indented). Every text `clean`."""
    if not findings:
        return ["Findings: none"]
    counts = [
        formatting.count(n, str(severity))
        for severity in (Severity.ERROR, Severity.WARNING, Severity.INFO)
        if (n := sum(1 for f in findings if f.severity is severity))
    ]
    lines = [f"Findings: {', '.join(counts)}"]
    for finding in findings:
        lines.append(
            f"  {finding.severity.value:<7}  {clean(finding.id)}  "
            f"{formatting.size(finding.bytes)}  {clean(finding.title)}"
        )
        lines.append(f"           {clean(finding.evidence)}")
        lines.append(f"           fix: {clean(finding.fix.text)}")
        lines += [f"                {clean(line)}" for line in finding.fix.after]
    return lines
