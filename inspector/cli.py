"""Command line: pick a source, load, analyse, then report, evaluate CI rules or open the UI.

Exit codes: 0 success (and every CI rule passed), 1 a CI rule failed, 2 the image could
not be read or the arguments are wrong, 3 an internal error (a bug: please report it),
130 interrupted. Errors are one line on stderr; `--debug` adds the traceback.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import traceback
from collections.abc import Sequence
from dataclasses import replace
from typing import NoReturn

from inspector import __version__, reference
from inspector.cache import LayerCache
from inspector.errors import (
    DestinationExists,
    EngineUnavailable,
    ImageNotFound,
    InspectorError,
    UsageError,
)
from inspector.model import Platform
from inspector.progress import TerminalProgress
from inspector.sharing import OtherImage
from inspector.source import ImageSource, LoadedImage, LoadEvents

EXIT_OK = 0
EXIT_RULE_FAILED = 1
EXIT_ERROR = 2
EXIT_BUG = 3
EXIT_INTERRUPTED = 130
_TRUE = frozenset({"1", "t", "true", "yes", "y", "on"})
DEFAULT_COMPARE_TAGS = 20
MAX_COMPARE_TAGS = 100


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"inspector: {message} (see inspector --help)\n")
        raise SystemExit(EXIT_ERROR)


def _boolean(text: str) -> bool:
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in ("0", "f", "false", "no", "n", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, not {text!r}")


def _source_arguments(parser: argparse.ArgumentParser) -> None:
    """Where IMAGE lives: --source, --platform and the registry options."""
    parser.add_argument(
        "--source",
        choices=("docker", "podman", "docker-archive"),
        help="dive's way to say where IMAGE lives",
    )
    parser.add_argument("--platform", help="os/arch[/variant] to pick from a multi-platform image")
    registry = parser.add_argument_group("registry (docker://REGISTRY/REPO:TAG)")
    registry.add_argument(
        "--creds",
        metavar="USER:PASSWORD",
        help="registry credentials (else INSPECTOR_REGISTRY_CREDS, docker/podman auth files)",
    )
    registry.add_argument(
        "--tls-verify",
        metavar="BOOL",
        nargs="?",
        const=True,
        default=True,
        type=_boolean,
        help="verify the registry's TLS certificate (default true; --tls-verify=false)",
    )
    registry.add_argument(
        "--pull-from-registry",
        action="store_true",
        help="read an engine image name that the engine does not hold from its registry",
    )
    registry.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=float,
        help="most a registry request may take, and a blob download may stall "
        "(else INSPECTOR_TIMEOUT; default 60)",
    )


def _compare_tags(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of tags, not {text!r}") from None
    if not 1 <= value <= MAX_COMPARE_TAGS:
        raise argparse.ArgumentTypeError(f"expected 1 to {MAX_COMPARE_TAGS} tags, not {value}")
    return value


def _sharing_arguments(parser: argparse.ArgumentParser) -> None:
    """Other images to find shared layers with (the engine's own images always count)."""
    group = parser.add_argument_group("shared layers")
    group.add_argument(
        "--compare",
        metavar="REF",
        action="append",
        default=[],
        help="another image (any IMAGE form) whose layers count as shared; repeatable",
    )
    group.add_argument(
        "--compare-tags",
        metavar="N",
        nargs="?",
        const=DEFAULT_COMPARE_TAGS,
        default=0,
        type=_compare_tags,
        help=f"registry image: compare with up to N other tags of its repository "
        f"(default {DEFAULT_COMPARE_TAGS}, at most {MAX_COMPARE_TAGS})",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="inspector",
        description="Look inside a container image: every layer's changes, the bytes it "
        "wastes, and a CI verdict.",
        epilog="IMAGE: docker-archive:PATH[:NAME:TAG], oci:DIR[:REF], oci-archive:PATH[:REF], "
        "docker-daemon:NAME, podman:NAME, docker://REF, a path to an archive (- for standard "
        "input), an OCI layout "
        "directory, an engine image name, or 'demo' for the built-in demo image. "
        "Exit codes: 0 ok, 1 a CI rule failed, 2 bad input or arguments, 3 internal error.",
    )
    parser.add_argument("image", metavar="IMAGE", help="the image to inspect")
    parser.add_argument("--version", action="version", version=f"inspector {__version__}")
    _source_arguments(parser)
    _sharing_arguments(parser)
    parser.add_argument(
        "-j", "--json", metavar="FILE", help="write the analysis as JSON to FILE (- = stdout)"
    )
    parser.add_argument(
        "--no-file-lists",
        action="store_true",
        help="leave each layer's fileList out of the JSON (smaller output)",
    )
    parser.add_argument("--ci", action="store_true", help="evaluate CI rules (also CI=true)")
    parser.add_argument("--ci-config", metavar="FILE", help="rules file (default: ./.dive-ci)")
    parser.add_argument(
        "--ci-format",
        choices=("text", "json", "markdown", "junit"),
        default="text",
        help="CI report format (default: text)",
    )
    rules = parser.add_argument_group("CI rules (dive's names; 'disabled' turns one off)")
    for name in ("lowestEfficiency", "highestWastedBytes", "highestUserWastedPercent"):
        rules.add_argument(f"--{name}", dest=name, metavar="VALUE")
    for name in (
        "exactLowestEfficiency",
        "exactHighestWastedBytes",
        "exactHighestUserWastedPercent",
        "highestUniqueBytes",
    ):
        rules.add_argument(f"--{name}", dest=name, metavar="VALUE")
    parser.add_argument(
        "--text", action="store_true", help="print the text summary instead of opening the UI"
    )
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="neither read nor write the cache of layer indexes and results (INSPECTOR_CACHE_DIR)",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    return parser


def ci_requested(args: argparse.Namespace) -> bool:
    """--ci, or CI=true in the environment as dive reads it.

    As in dive, `--json` wins over CI=true from the environment (a plain JSON export in a
    CI job exits 0); `--ci` given explicitly evaluates the rules together with `--json`.
    """
    if args.ci:
        return True
    return not args.json and os.environ.get("CI", "").strip().lower() in _TRUE


def wants_ui(args: argparse.Namespace, ci: bool) -> bool:
    """The UI opens when a person is at a terminal and no report was asked for.

    `--json`, `--ci` (or CI=true), `--text`, a pipe on stdout, or an image read from
    standard input (the keyboard must be free) print or write the report instead.
    """
    if args.json or ci or args.text or args.image == "-":
        return False
    return sys.stdin.isatty() and sys.stdout.isatty()


def open_source(
    spec: reference.SourceSpec,
    label: str,
    platform: Platform | None,
    cache: LayerCache | None = None,
    args: argparse.Namespace | None = None,
) -> ImageSource:
    """The source object for a parsed IMAGE argument."""
    if spec.transport == reference.REGISTRY:
        from inspector.sources.registry import RegistrySource

        return RegistrySource(
            spec.location,
            label,
            platform=platform,
            creds=getattr(args, "creds", None),
            tls_verify=getattr(args, "tls_verify", True),
            cache=cache,
            compare_tags=getattr(args, "compare_tags", 0),
            timeout=getattr(args, "timeout", None),
        )
    if spec.transport in (reference.ARCHIVE, reference.OCI_ARCHIVE):
        from inspector.sources.archive import ArchiveSource

        return ArchiveSource(spec.location, label, ref=spec.ref, platform=platform, cache=cache)
    if spec.transport == reference.OCI:
        from inspector.sources.oci_layout import OciLayoutSource

        return OciLayoutSource(spec.location, label, ref=spec.ref, platform=platform, cache=cache)
    if spec.transport == reference.DAEMON:
        from inspector.sources.daemon import DaemonSource

        return DaemonSource(spec.location, label, platform=platform, cache=cache)
    if spec.transport == reference.PODMAN:
        from inspector.sources.podman import PodmanSource

        return PodmanSource(spec.location, label, platform=platform, cache=cache)
    raise UsageError(f"{label}: the {spec.transport} transport is not supported yet")


def layer_cache(args: argparse.Namespace) -> LayerCache | None:
    return None if getattr(args, "no_cache", False) else LayerCache.default()


def load(args: argparse.Namespace, events: LoadEvents) -> LoadedImage:
    """IMAGE, with the layer chains of the `--compare` images among its other images.

    The compared images are read first: they are cheap (no layer blob), and a wrong one
    fails before a long pull.
    """
    compared = compared_images(args)
    loaded = _load_image(args, events)
    return replace(loaded, others=loaded.others + compared) if compared else loaded


def compared_images(args: argparse.Namespace) -> tuple[OtherImage, ...]:
    """`--compare REF…` as layer chains; `--compare-tags` checked against IMAGE."""
    if getattr(args, "compare_tags", 0) and args.image != "demo":
        transport = reference.parse(args.image, args.source).transport
        if transport not in (reference.REGISTRY, reference.DAEMON):
            raise UsageError(
                f"--compare-tags: {args.image} is not a registry image (docker://…); "
                "name other images with --compare REF"
            )
    texts = getattr(args, "compare", None) or []
    if not texts:
        return ()
    from inspector.compare import CompareOptions, chains_of

    options = CompareOptions(
        platform=Platform.parse(args.platform) if args.platform else None,
        creds=getattr(args, "creds", None),
        tls_verify=getattr(args, "tls_verify", True),
        pull_from_registry=getattr(args, "pull_from_registry", False),
    )
    return chains_of(texts, options)


def _load_image(args: argparse.Namespace, events: LoadEvents) -> LoadedImage:
    platform = Platform.parse(args.platform) if args.platform else None
    cache = layer_cache(args)
    if args.image == "demo" and args.source is None and not os.path.exists("demo"):
        from inspector.demo import build_demo
        from inspector.sources.archive import ArchiveSource

        data = build_demo()
        with tempfile.TemporaryDirectory(prefix="inspector-demo-") as tmp:
            path = os.path.join(tmp, "demo.tar")
            with open(path, "wb") as handle:
                handle.write(data)
            demo = ArchiveSource(
                path, "demo", platform=platform, cache=cache, reopen_file=lambda: io.BytesIO(data)
            )
            return demo.load(events)
    spec = reference.parse(args.image, args.source)
    source = open_source(spec, args.image, platform, cache, args)
    if spec.transport != reference.DAEMON:
        return _reopenable(source, source.load(events))
    try:
        return source.load(events)
    except (ImageNotFound, EngineUnavailable) as exc:
        explicit = args.source is not None or args.image.startswith("docker-daemon:")
        if explicit and not args.pull_from_registry:
            raise type(exc)(
                f"{exc.message}; to read it from its registry instead, use "
                f"docker://{spec.location} or --pull-from-registry"
            ) from None
        sys.stderr.write(
            f"inspector: {exc.message}; reading docker://{spec.location} from its registry\n"
        )
        registry = reference.SourceSpec(reference.REGISTRY, spec.location)
        source = open_source(registry, args.image, platform, cache, args)
        return _reopenable(source, source.load(events))


def _reopenable(source: ImageSource, loaded: LoadedImage) -> LoadedImage:
    """`loaded` able to read its layers again, for file contents (registry sources)."""
    if loaded.reopen is not None:
        return loaded  # (and the registry code, httpx included, is not imported)
    from inspector.sources.registry import RegistrySource

    if isinstance(source, RegistrySource) and loaded.reopen is None:
        from inspector.sources.registry_blobs import with_reopen

        return with_reopen(source, loaded)
    return loaded


def cache_command(argv: Sequence[str]) -> int:
    """`inspector cache info` / `inspector cache clear`."""
    from inspector import formatting

    if len(argv) != 1 or argv[0] not in ("info", "clear"):
        raise UsageError("usage: inspector cache info|clear")
    cache = LayerCache.default()
    if argv[0] == "clear":
        freed = cache.clear()
        sys.stdout.write(f"cleared {cache.root} ({formatting.size(freed)})\n")
        return EXIT_OK
    info = cache.info()
    sys.stdout.write(
        f"path:    {info.path}\nlayers:  {info.entries}\nresults: {info.results}\n"
        f"size:    {formatting.size(info.bytes)} of {formatting.size(info.max_bytes)}\n"
    )
    return EXIT_OK


def extract_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="inspector extract",
        description="Write a file or directory of an image, as the file system shows it at "
        "a layer, to a local path (reads only the layers that store it).",
    )
    parser.add_argument("image", metavar="IMAGE", help="the image (same forms as inspector)")
    parser.add_argument("path", metavar="PATH", help="the file or directory in the image")
    parser.add_argument(
        "--layer",
        type=int,
        metavar="N",
        default=-1,
        help="the file system at layer N (0 = base, negative from the top; default -1, "
        "the final image)",
    )
    parser.add_argument(
        "--to",
        metavar="DEST",
        help="where to write it (default ./BASENAME; - writes a file to standard output)",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace existing files, write into DEST"
    )
    _source_arguments(parser)
    parser.add_argument("--no-cache", action="store_true", help="do not use the layer cache")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    return parser


def extract_command(argv: Sequence[str]) -> int:
    """`inspector extract IMAGE PATH [--layer N] [--to DEST] [--overwrite]`."""
    from inspector import contents

    args = extract_parser().parse_args(argv)
    if args.to == "-" and args.image == "-":
        raise UsageError("extract: standard input cannot be both the image and the output")
    progress = TerminalProgress.for_stderr()
    try:
        loaded = load(args, progress)
    finally:
        progress.close()
    count = len(loaded.layers)
    layer = args.layer + count if args.layer < 0 else args.layer
    if not 0 <= layer < count:
        raise UsageError(f"--layer {args.layer}: the image has layers 0 to {count - 1}")
    if args.to == "-":
        contents.stream_file(loaded, args.path, layer, sys.stdout.buffer.write)
        sys.stdout.buffer.flush()
        return EXIT_OK
    destination = args.to or contents.default_destination(args.path)
    try:
        result = contents.extract(loaded, args.path, layer, destination, overwrite=args.overwrite)
    except DestinationExists as exc:
        raise DestinationExists(f"{exc.message} (--overwrite writes into it)") from None
    for note in result.notes:
        sys.stderr.write(f"inspector: skipped {note}\n")
    sys.stderr.write(f"inspector: extracted {result.summary()}\n")
    return EXIT_OK


def run(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["cache"] and not os.path.exists("cache"):
        return cache_command(argv[1:])
    if argv[:1] == ["extract"] and not os.path.exists("extract"):
        return extract_command(argv[1:])
    args = build_parser().parse_args(argv)
    ci = ci_requested(args)
    rule_config = None
    if ci:
        from inspector import rules

        flags = {name: getattr(args, name) for name in rules.ALL_RULES}
        rule_config = rules.load_rule_config(flags, args.ci_config)
    if args.json and args.json != "-":
        directory = os.path.dirname(os.path.abspath(args.json))
        if not os.path.isdir(directory):
            raise UsageError(f"--json {args.json}: directory {directory} does not exist")

    if wants_ui(args, ci):
        from inspector.ui.app import run_ui

        return run_ui(args)

    progress = TerminalProgress.for_stderr()
    try:
        loaded = load(args, progress)
    finally:
        progress.close()

    from inspector import report
    from inspector.results import analyse_image, file_list_text
    from inspector.sharing import sharing

    cache = layer_cache(args)
    analysis, dive = analyse_image(loaded.image, loaded.layers, cache)
    shared = sharing(
        [info.diff_id for info in loaded.image.layers],
        [index.uncompressed_size for index in loaded.layers],
        loaded.others,
    )
    warnings = loaded.warnings + analysis.warnings
    for warning in warnings:
        sys.stderr.write(f"inspector: warning: {warning}\n")

    if args.json:
        text = report.render(
            analysis,
            dive,
            loaded.layers,
            warnings,
            shared=shared,
            file_lists=not args.no_file_lists,
            file_list_text=lambda index: file_list_text(index, cache),
        )
        if args.json == "-":
            sys.stdout.write(text)
        else:
            report.write_atomically(args.json, text)

    if ci:
        from inspector import ci_report, rules

        assert rule_config is not None
        verdict = rules.evaluate(rule_config, analysis.exact, dive, shared)
        out = sys.stderr if args.json == "-" else sys.stdout
        shown = shared if loaded.others else None
        label = loaded.image.label
        out.write(ci_report.render(args.ci_format, verdict, analysis, dive, label, shown))
        return EXIT_OK if verdict.passed else EXIT_RULE_FAILED
    if not args.json:
        sys.stdout.write(report.summary(analysis, dive, warnings, shared))
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    debug = "--debug" in (sys.argv[1:] if argv is None else argv)
    try:
        return run(argv)
    except InspectorError as exc:
        if debug:
            traceback.print_exc()
        sys.stderr.write(f"inspector: {exc.message}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("inspector: interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:
        if debug:
            traceback.print_exc()
        sys.stderr.write(
            f"inspector: internal error: {type(exc).__name__}: {exc} "
            "(run with --debug for a traceback, and please report it)\n"
        )
        return EXIT_BUG
