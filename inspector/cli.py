"""Command line: parse, resolve IMAGE, then report, evaluate CI rules or open the UI.

    inspector [OPTIONS] IMAGE          inspect an image (also `inspector inspect IMAGE`)
    inspector demo [OPTIONS]           the built-in demo image
    inspector extract IMAGE PATH       write a file or directory of an image
    inspector diff OLD NEW             compare two images (and gate a regression)
    inspector cache info|clear         the layer cache
    inspector audit SOURCE...          a registry or fleet, every layer once (inspector.audit)

Everything below the argument parsing is `inspector.pipeline`. Exit codes: 0 success (and
every CI rule passed), 1 a CI rule failed or a finding reached `--fail-on`, 2 the image
could not be read or the arguments are wrong, 3 an internal error (a bug: please report
it), 130 interrupted. Errors are one
line on stderr (`display.one_line`); `--debug` adds the traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, NoReturn

from inspector import __version__, output, pipeline
from inspector.cache import LayerCache
from inspector.display import one_line
from inspector.errors import DestinationExists, InspectorError, UsageError
from inspector.finding_rules import Flags
from inspector.inspection import Inspection
from inspector.model import Platform
from inspector.progress import TerminalProgress
from inspector.transports import DEMO, SourceOptions

if TYPE_CHECKING:
    from inspector.audit.report import FleetReport
    from inspector.rules import Verdict

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
        sys.stderr.write(f"inspector: {one_line(message)} (see {self.prog} --help)\n")
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


def _finding_arguments(parser: argparse.ArgumentParser) -> None:
    """CI rules on findings (docs/ci.md); each is also a key of the rules file."""
    group = parser.add_argument_group("CI rules on findings (see docs/findings.md for the IDs)")
    group.add_argument(
        "--fail-on",
        metavar="SEVERITY",
        help="a finding of this severity or worse fails the build: info, warning, error "
        "(default) or none",
    )
    group.add_argument(
        "--disable-finding",
        metavar="ID",
        action="append",
        default=[],
        help="turn that finding off; repeatable",
    )
    group.add_argument(
        "--enable-finding",
        metavar="ID",
        action="append",
        default=[],
        help="one the rules file disables; repeatable",
    )
    group.add_argument(
        "--finding-min-bytes",
        metavar="ID:SIZE",
        action="append",
        default=[],
        help="drop that finding below SIZE (e.g. duplicate-content:10MB); repeatable",
    )
    group.add_argument(
        "--finding-severity",
        metavar="ID:SEVERITY",
        action="append",
        default=[],
        help="give that finding another severity (info, warning, error); repeatable",
    )
    group.add_argument(
        "--allow",
        metavar="ID:GLOB",
        action="append",
        default=[],
        help="paths kept on purpose (ID '*': any finding; GLOB matches a path or one of "
        "its directories); repeatable",
    )
    group.add_argument(
        "--dockerfile",
        metavar="PATH",
        default="Dockerfile",
        help="where the Dockerfile is in the repository: the SARIF location of findings "
        "that have no path (default: Dockerfile)",
    )


def finding_flags(args: argparse.Namespace) -> Flags:
    return Flags(
        fail_on=args.fail_on,
        disable=tuple(args.disable_finding),
        enable=tuple(args.enable_finding),
        min_bytes=tuple(args.finding_min_bytes),
        severity=tuple(args.finding_severity),
        allow=tuple(args.allow),
    )


COMMANDS_HELP = """commands:
  IMAGE                 inspect an image (the default; also: inspector inspect IMAGE)
  demo                  inspect the built-in demo image
  extract IMAGE PATH    write a file or directory of an image to a local path
  diff OLD NEW          compare two images; with --ci, a regression gate
  cache info|clear      show or empty the layer cache
  audit SOURCE...       audit a registry, the engine or a directory of images (and
                        audit show: the fleet report)

Each command has its own --help. An image named like a command is given with its
transport (docker-daemon:demo, ./extract) or as inspector inspect NAME."""

IMAGE_FORMS = """IMAGE: docker-archive:PATH[:NAME:TAG], oci:DIR[:REF], oci-archive:PATH[:REF],
docker-daemon:NAME, podman:NAME, docker://REF, a path to an archive (- for standard
input), an OCI layout directory, or an engine image name (read from its registry when
the engine does not hold it)."""
EXIT_CODES = (
    "Exit codes: 0 ok, 1 a CI rule failed or a finding reached --fail-on,\n"
    "2 bad input or arguments, 3 internal error."
)


def build_parser(prog: str = "inspector", *, image: bool = True) -> argparse.ArgumentParser:
    """The parser of `inspector IMAGE` (`image=False`: of `inspector demo`)."""
    if image:
        description = (
            "Look inside a container image: every layer's changes, the bytes it wastes, "
            "and a CI verdict."
        )
        epilog = f"{COMMANDS_HELP}\n\n{IMAGE_FORMS}\n{EXIT_CODES}"
    else:
        description = (
            "Inspect the built-in demo image (made in memory: no engine, file or network "
            "needed); it takes every report option that inspector IMAGE takes."
        )
        epilog = EXIT_CODES
    parser = _Parser(
        prog=prog,
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    if image:
        parser.add_argument("image", metavar="IMAGE", help="the image to inspect")
    else:
        parser.set_defaults(image=DEMO)
    parser.add_argument("--version", action="version", version=_version())
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
        choices=("text", "json", "markdown", "junit", "sarif"),
        default="text",
        help="CI report format (default: text; sarif: SARIF 2.1.0 for code scanning)",
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
    _finding_arguments(parser)
    parser.add_argument(
        "--text",
        action="store_true",
        help="print the text summary instead of opening the UI (also with --json FILE; "
        "to stderr with --json -)",
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


def options_from(args: argparse.Namespace) -> pipeline.InspectOptions:
    """The pipeline's options from any command's parsed arguments."""
    return pipeline.InspectOptions(
        source=getattr(args, "source", None),
        sources=SourceOptions(
            platform=Platform.parse(args.platform) if getattr(args, "platform", None) else None,
            creds=getattr(args, "creds", None),
            tls_verify=getattr(args, "tls_verify", True),
            compare_tags=getattr(args, "compare_tags", 0),
            timeout=getattr(args, "timeout", None),
        ),
        pull_from_registry=getattr(args, "pull_from_registry", False),
        compare=tuple(getattr(args, "compare", None) or ()),
    )


def layer_cache(args: argparse.Namespace) -> LayerCache | None:
    return None if getattr(args, "no_cache", False) else LayerCache.default()


def resolve(
    args: argparse.Namespace, cache: LayerCache | None, *, verify: bool = False
) -> pipeline.Resolved:
    """IMAGE resolved before any long work; its notes printed on stderr."""
    resolved = pipeline.resolve(args.image, options_from(args), cache, verify=verify)
    for note in resolved.notes:
        sys.stderr.write(f"inspector: {one_line(note)}\n")
    return resolved


def inspect(args: argparse.Namespace, cache: LayerCache | None) -> Inspection:
    """Resolve, then inspect IMAGE with a progress line on stderr."""
    resolved = resolve(args, cache)
    progress = TerminalProgress.for_stderr()
    try:
        return pipeline.inspect(resolved, options_from(args), progress, cache)
    finally:
        progress.close()


def cache_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="inspector cache",
        description="Show or empty the cache of layer indexes and results "
        "(INSPECTOR_CACHE_DIR, else the user's cache directory).",
    )
    parser.add_argument(
        "action",
        choices=("info", "clear"),
        help="info: where it is and what it holds; clear: empty it",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    return parser


def cache_command(argv: Sequence[str]) -> int:
    """`inspector cache info` / `inspector cache clear`."""
    from inspector import formatting

    args = cache_parser().parse_args(argv)
    cache = LayerCache.default()
    if args.action == "clear":
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
        epilog=f"{IMAGE_FORMS}\n{EXIT_CODES}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
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
    loaded = inspect(args, layer_cache(args)).loaded
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
        sys.stderr.write(f"inspector: skipped {one_line(note)}\n")
    sys.stderr.write(f"inspector: extracted {one_line(result.summary())}\n")
    return EXIT_OK


def inspect_command(argv: Sequence[str], prog: str = "inspector", *, image: bool = True) -> int:
    """`inspector IMAGE`, `inspector inspect IMAGE` and `inspector demo`."""
    args = build_parser(prog, image=image).parse_args(argv)
    ci = ci_requested(args)
    rule_config = None
    if ci:
        from inspector import rules

        flags = {name: getattr(args, name) for name in rules.ALL_RULES}
        rule_config = rules.load_rule_config(flags, args.ci_config, finding_flags(args))
    if args.json:  # before loading; /dev/stdout and its aliases become "-"
        args.json = output.checked(args.json, "--json")

    cache = layer_cache(args)
    if wants_ui(args, ci):
        from inspector.ui.app import run_ui

        return run_ui(resolve(args, cache, verify=True), options_from(args), cache)

    found = inspect(args, cache)
    from inspector import report
    from inspector.results import file_list_chunks

    for warning in found.warnings:
        sys.stderr.write(f"inspector: warning: {one_line(warning)}\n")

    if args.json:
        chunks = report.render_chunks(
            found.analysis,
            found.dive,
            found.layers,
            found.warnings,
            shared=found.sharing,
            file_lists=not args.no_file_lists,
            file_list_chunks=lambda index: file_list_chunks(index, cache),
            findings=found.findings,
        )
        output.write_chunks(args.json, chunks, "--json")

    if args.text or not (args.json or ci):  # with `--json -`, the text goes to stderr
        out = sys.stderr if args.json == "-" else sys.stdout
        out.write(
            report.summary(
                found.analysis, found.dive, found.warnings, found.sharing, found.findings
            )
        )

    if ci:
        from inspector import ci_report, rules

        assert rule_config is not None
        verdict = rules.evaluate(
            rule_config, found.analysis.exact, found.dive, found.sharing, found.findings
        )
        out = sys.stderr if args.json == "-" else sys.stdout
        shown = found.sharing if found.loaded.others else None
        label = found.image.label
        out.write(
            ci_report.render(
                args.ci_format,
                verdict,
                found.analysis,
                found.dive,
                label,
                shown,
                dockerfile=args.dockerfile,
            )
        )
        _sarif_verdict(args.ci_format, verdict)
        return EXIT_OK if verdict.passed else EXIT_RULE_FAILED
    return EXIT_OK


def _sarif_verdict(fmt: str, verdict: Verdict) -> None:
    """A SARIF log holds findings only: a failed verdict is also named on stderr."""
    from inspector import sarif

    line = sarif.failed(verdict) if fmt == "sarif" else None
    if line is not None:
        sys.stderr.write(f"inspector: {line}\n")


def diff_parser() -> argparse.ArgumentParser:
    from inspector.diff_report import FORMATS

    parser = _Parser(
        prog="inspector diff",
        description="Compare two images: the layers they share, the first layer that diverged\n"
        "and why, the layers rebuilt for nothing, the files added, removed and modified,\n"
        "the sizes, what pulling NEW costs a host that holds OLD, and the findings new\n"
        "and gone; with --ci, a regression gate. Shared layers are read once (the layer\n"
        "cache; --no-cache uses a private one for the run). At a terminal it opens the UI;\n"
        "--text, --format, --json, --ci or a pipe print the report. See docs/diff.md.",
        epilog=f"{IMAGE_FORMS}\n{EXIT_CODES}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("old", metavar="OLD", help="the image before (any IMAGE form)")
    parser.add_argument("new", metavar="NEW", help="the image after (any IMAGE form)")
    _source_arguments(parser)
    parser.add_argument(
        "-j", "--json", metavar="FILE", help="write the diff as JSON to FILE (- = stdout)"
    )
    parser.add_argument(
        "--format",
        "--ci-format",
        dest="format",
        choices=FORMATS,
        help="the report on stdout: text (default), json, markdown (a pull-request "
        "comment), junit (the rules, with --ci), sarif (the new findings, for code scanning)",
    )
    parser.add_argument(
        "--dockerfile",
        metavar="PATH",
        default="Dockerfile",
        help="the SARIF location of new findings that have no path (default: Dockerfile)",
    )
    parser.add_argument(
        "--text",
        action="store_true",
        help="print the text report (at a terminal, instead of the UI; also with --json FILE)",
    )
    parser.add_argument(
        "--ci", action="store_true", help="evaluate the gate's rules (also CI=true)"
    )
    parser.add_argument("--ci-config", metavar="FILE", help="rules file (default: ./.dive-ci)")
    rules = parser.add_argument_group("gate rules (each off unless given here or in the file)")
    rules.add_argument("--maxGrowthBytes", metavar="SIZE", help="e.g. 10MB: uncompressed growth")
    rules.add_argument("--maxGrowthPercent", metavar="PCT", help="e.g. 5: growth in %% of OLD")
    rules.add_argument("--maxPullBytes", metavar="SIZE", help="bytes a host holding OLD pulls")
    rules.add_argument(
        "--noNewFindings",
        metavar="SEVERITY",
        nargs="?",
        const="info",
        help="no finding new in NEW (at SEVERITY or above: info, warning, error; "
        "write --noNewFindings=SEVERITY before OLD NEW)",
    )
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="neither read nor write the layer cache (a private one holds the run's layers)",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    return parser


@contextlib.contextmanager
def _run_cache(args: argparse.Namespace) -> Iterator[LayerCache]:
    """The layer cache, or with --no-cache a private one removed afterwards: the two
    images' shared layers are still read once."""
    if not args.no_cache:
        yield LayerCache.default()
        return
    with tempfile.TemporaryDirectory(prefix="inspector-diff-") as directory:
        yield LayerCache(directory)


def diff_wants_ui(args: argparse.Namespace, ci: bool) -> bool:
    """As `wants_ui`: the diff UI opens when a person is at a terminal and asked for no
    report (`--json`, `--text`, `--format`, `--ci`), and neither image is standard input."""
    if args.json or ci or args.text or args.format or "-" in (args.old, args.new):
        return False
    return sys.stdin.isatty() and sys.stdout.isatty()


def _diff_ui(
    resolved: list[pipeline.Resolved], options: pipeline.InspectOptions, cache: LayerCache
) -> int:
    """Open the diff UI on both images (their notes printed first)."""
    from inspector.ui.diffapp import run_diff_ui

    for which, target in zip(("OLD", "NEW"), resolved, strict=True):
        for note in target.notes:
            sys.stderr.write(f"inspector: {which}: {one_line(note)}\n")
    return run_diff_ui((resolved[0], resolved[1]), options, cache)


def diff_command(argv: Sequence[str]) -> int:
    """`inspector diff OLD NEW`: the report, and with --ci the gate's verdict."""
    from inspector import diff_report
    from inspector.diff import diff
    from inspector.diff.gate import GATE_RULES, evaluate, load_gate_config

    args = diff_parser().parse_args(argv)
    if args.old == "-" and args.new == "-":
        raise UsageError("diff: standard input can be OLD or NEW, not both")
    ci = ci_requested(args)
    fmt = args.format or "text"
    if fmt == "junit" and not ci:
        raise UsageError("--format junit reports the gate's rules: add --ci")
    gate = None
    if ci:
        gate = load_gate_config({rule: getattr(args, rule) for rule in GATE_RULES}, args.ci_config)
    if args.json:
        args.json = output.checked(args.json, "--json")
    options = options_from(args)
    ui = diff_wants_ui(args, ci)
    with _run_cache(args) as cache:
        resolved = [pipeline.resolve(t, options, cache, verify=ui) for t in (args.old, args.new)]
        if ui:
            return _diff_ui(resolved, options, cache)
        found: list[Inspection] = []
        for which, target in zip(("OLD", "NEW"), resolved, strict=True):
            for note in target.notes:
                sys.stderr.write(f"inspector: {which}: {one_line(note)}\n")
            progress = TerminalProgress.for_stderr()
            try:
                found.append(pipeline.inspect(target, options, progress, cache))
            finally:
                progress.close()
        result = diff(found[0], found[1])  # (a lazy layer index may still read its cache)
    for warning in result.warnings:
        sys.stderr.write(f"inspector: warning: {one_line(warning)}\n")
    verdict = evaluate(gate, result) if gate is not None else None
    if args.json:
        output.write(args.json, diff_report.render("json", result, verdict), "--json")
    if ci or args.text or args.format or not args.json:
        out = sys.stderr if args.json == "-" else sys.stdout
        out.write(diff_report.render(fmt, result, verdict, args.dockerfile))
        if verdict is not None:
            _sarif_verdict(fmt, verdict)
    return EXIT_OK if verdict is None or verdict.passed else EXIT_RULE_FAILED


def audit_command(argv: Sequence[str]) -> int:
    """`inspector audit SOURCE...` and `inspector audit show` (inspector/audit/command.py)."""
    from inspector.audit import command

    return command.main(argv, _Parser, _boolean, _audit_ui)


def _audit_ui(report: FleetReport) -> int:
    from inspector.ui.audit import run_audit_ui

    return run_audit_ui(report)


_COMMANDS: dict[str, Callable[[Sequence[str]], int]] = {
    "inspect": lambda argv: inspect_command(argv, "inspector inspect"),
    "demo": lambda argv: inspect_command(argv, "inspector demo", image=False),
    "extract": extract_command,
    "diff": diff_command,
    "cache": cache_command,
    "audit": audit_command,
}


def run(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = _COMMANDS.get(argv[0]) if argv else None
    if command is not None:
        return command(argv[1:])
    return inspect_command(argv)


def _version() -> str:
    from inspector import native

    return f"inspector {__version__} ({native.describe()})"


def entry() -> NoReturn:
    """The `inspector` command: `main`, then exit without tearing the heap down.

    Everything the run promised is done when `main` returns (reports written and synced,
    temporary files removed, the terminal restored), so the process leaves at once rather
    than freeing millions of index objects one by one: on a 1M-file image that took
    seconds after the last output. Only the standard streams still need flushing.
    """
    code = main()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing can reach it
            stream.flush()
    os._exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    debug = "--debug" in (sys.argv[1:] if argv is None else argv)
    try:
        return run(argv)
    except InspectorError as exc:
        if debug:
            traceback.print_exc()
        sys.stderr.write(f"inspector: {one_line(exc.message)}\n")
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
            f"inspector: internal error: {type(exc).__name__}: {one_line(str(exc))} "
            "(run with --debug for a traceback, and please report it)\n"
        )
        return EXIT_BUG
